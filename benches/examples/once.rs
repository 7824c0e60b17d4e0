//! One plan + apply (of that plan) of the engine bench's workload, for profilers (valgrind's
//! callgrind or dhat) and quick timings:
//! `cargo run --release -p iac-benches --example once -- 10000 [plan|apply|both] [runs]`.
//!
//! It does the same work as one iteration of `benches/engine.rs`, with no harness around it
//! and the system allocator. With `runs` above 1 the same work is done that many times, on
//! a fresh cloud and engine each, and the last is timed: the heap is warm then, as in the
//! report's fastest-of-5 (the first run of a process pays the kernel's first touch of
//! every page).

use iac_benches::{fresh_engine, plan_then_apply, runtime, tree_template};
use iac_core::engine::{RunOptions, StackInput};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("the first argument is a number of resources, not '{a}'"))?,
        None => 10_000,
    };
    let what = args.next().unwrap_or_else(|| "both".to_owned());
    let runs: usize = match args.next() {
        Some(a) => a.parse().ok().filter(|&r| r > 0).ok_or(format!(
            "the third argument is a number of runs (1 or more), not '{a}'"
        ))?,
        None => 1,
    };
    let input = StackInput::new("bench", tree_template(n));
    let rt = runtime();
    for _ in 1..runs {
        let (cloud, engine) = fresh_engine();
        plan_then_apply(&rt, &engine, &input);
        drop((cloud, engine));
    }
    let (cloud, engine) = fresh_engine();
    let start = std::time::Instant::now();
    match what.as_str() {
        "both" => {
            plan_then_apply(&rt, &engine, &input);
        }
        "plan" => assert_eq!(rt.block_on(engine.plan(&input))?.resources.len(), n),
        "apply" => {
            rt.block_on(engine.apply(&input, RunOptions::default()))?;
        }
        other => {
            return Err(
                format!("the second argument is plan, apply or both, not '{other}'").into(),
            );
        }
    }
    if what != "plan" {
        assert_eq!(cloud.len(), n);
    }
    eprintln!(
        "{what} at {n}: {:.2} µs per resource",
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    // The figure does not count the teardown (neither does the bench), so a profile of this
    // program should not either: the cloud and the engine are left to the process exit.
    std::mem::forget((cloud, engine));
    Ok(())
}
