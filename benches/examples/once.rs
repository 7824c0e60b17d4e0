//! One plan + apply of the engine bench's workload, for profilers (valgrind's callgrind or
//! dhat): `cargo run --release -p iac-benches --example once -- 10000 [plan|apply|both]`.
//!
//! It does the same work as one iteration of `benches/engine.rs`, with no harness around it.

use iac_benches::{BENCH_TYPE, tree_template};
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::state::MemoryStateStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("the first argument is a number of resources, not '{a}'"))?,
        None => 10_000,
    };
    let what = args.next().unwrap_or_else(|| "both".to_owned());
    if !matches!(what.as_str(), "plan" | "apply" | "both") {
        return Err(format!("the second argument is plan, apply or both, not '{what}'").into());
    }
    let input = StackInput::new("bench", tree_template(n));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let cloud = MemoryCloud::new(MemoryConfig {
        enforce_references: false,
        ..Default::default()
    });
    let engine = Engine::builder()
        .provider(cloud.registry(&[BENCH_TYPE]))
        .state(MemoryStateStore::new())
        .concurrency(64)
        .seed(1)
        .build();
    let start = std::time::Instant::now();
    rt.block_on(async {
        if what != "apply" {
            let plan = engine.plan(&input).await?;
            assert_eq!(plan.resources.len(), n);
        }
        if what != "plan" {
            engine.apply(&input, RunOptions::default()).await?;
            assert_eq!(cloud.len(), n);
        }
        Ok::<(), iac_core::engine::EngineError>(())
    })?;
    eprintln!(
        "{what} at {n}: {:.2} µs per resource",
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    Ok(())
}
