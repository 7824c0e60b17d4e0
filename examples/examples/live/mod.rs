//! The live event view shared by the examples: each event as a line (as the ROS console
//! lists them) under a progress bar with counts per status, or plain lines when the output
//! is not a terminal. Included with `#[path]` by the examples that apply stacks.

use iac_core::engine::{RunOptions, Status, events};
use indicatif::{ProgressBar, ProgressStyle};

/// Runs `deploy` with a live view: the event list of the ROS console, and a progress line
/// with counts per status (plain lines when not on a terminal).
pub async fn live<F, Fut>(total: usize, deploy: F) -> Fut::Output
where
    F: FnOnce(RunOptions) -> Fut,
    Fut: std::future::Future,
{
    let (tx, mut rx) = events::channel();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("  [{bar:30}] {pos}/{len} resources  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let view = bar.clone();
    let printer = tokio::spawn(async move {
        let (mut running, mut done, mut failed) = (0u32, 0u32, 0u32);
        while let Some(event) = rx.recv().await {
            if view.is_hidden() {
                println!("  {event}");
            } else {
                view.println(format!("  {event}"));
            }
            if event.is_stack_event() {
                continue;
            }
            match event.status {
                Status::CreateInProgress | Status::UpdateInProgress | Status::DeleteInProgress => {
                    running += 1
                }
                Status::CreateComplete
                | Status::UpdateComplete
                | Status::DeleteComplete
                | Status::DeleteSkipped => {
                    running = running.saturating_sub(1);
                    done += 1;
                    view.inc(1);
                }
                s if s.is_failure() => {
                    running = running.saturating_sub(1);
                    failed += 1;
                }
                _ => {}
            }
            view.set_message(format!(
                "{running} in progress, {done} complete, {failed} failed"
            ));
        }
    });
    let result = deploy(RunOptions::default().with_events(tx)).await;
    let _ = printer.await;
    bar.finish_and_clear();
    result
}
