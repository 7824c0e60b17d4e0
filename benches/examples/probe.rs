//! Temporary probe (not committed).
#![allow(missing_docs)]
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::time::Instant;
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let n = 20000usize;
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
        let reg = Region::new(GLOBAL);
        let t = Instant::now();
        let plan = engine.plan(&input).await.unwrap();
        let p = t.elapsed();
        let s = reg.change();
        println!("plan: {:?}, allocs/res {}", p, s.allocations / n);
        drop(plan);
        let reg = Region::new(GLOBAL);
        let t = Instant::now();
        engine.apply(&input, RunOptions::default()).await.unwrap();
        let a = t.elapsed();
        let s = reg.change();
        println!(
            "apply: {:?}, allocs/res {} reallocs/res {}",
            a,
            s.allocations / n,
            s.reallocations / n
        );
    });
    let reg = Region::new(GLOBAL);
    let c = cloud.clone();
    drop(c);
    let _ = reg;
}
