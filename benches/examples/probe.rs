//! Temporary probe (not committed).
#![allow(missing_docs)]
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let n = 2000usize;
    let input = StackInput::new("b", iac_benches::tree_template(n));
    let cloud = MemoryCloud::new(MemoryConfig {
        enforce_references: false,
        ..Default::default()
    });
    let engine = Engine::builder()
        .provider(cloud.registry(&[iac_benches::BENCH_TYPE]))
        .concurrency(64)
        .build();
    rt.block_on(async {
        engine.apply(&input, RunOptions::default()).await.unwrap();
    });
}
