//! Temporary probe (not committed).
#![allow(missing_docs)]
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use std::time::Instant;
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for n in [20000usize, 20000] {
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
            let t = Instant::now();
            engine.plan(&input).await.unwrap();
            let p = t.elapsed();
            let t = Instant::now();
            engine.apply(&input, RunOptions::default()).await.unwrap();
            println!("n={n} plan {p:?} apply {:?}", t.elapsed());
        });
    }
}
