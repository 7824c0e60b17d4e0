//! Temporary probe (not committed).
#![allow(missing_docs)]
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::provider::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
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
        let plan = engine.plan(&input).await.unwrap();
        println!("plan allocs/res {}", reg.change().allocations / n);
        drop(plan);
        let reg = Region::new(GLOBAL);
        engine.apply(&input, RunOptions::default()).await.unwrap();
        println!("apply allocs/res {}", reg.change().allocations / n);
        let c2 = MemoryCloud::new(MemoryConfig {
            enforce_references: false,
            ..Default::default()
        });
        let h = c2.handler(iac_benches::BENCH_TYPE);
        let props: Properties = serde_json::from_value(
            serde_json::json!({"Index": 1, "Name": "thing-1", "Parent": "R0"}),
        )
        .unwrap();
        let tokens: Vec<ClientToken> = (0..n)
            .map(|i| ClientToken::derive("b", &format!("R{i}"), 1))
            .collect();
        let ids: Vec<String> = (0..n).map(|i| format!("R{i}")).collect();
        let reg = Region::new(GLOBAL);
        for i in 0..n {
            h.create(CreateRequest {
                stack: "b",
                logical_id: &ids[i],
                properties: &props,
                client_token: &tokens[i],
            })
            .await
            .unwrap();
        }
        println!(
            "provider create allocs/res {}",
            reg.change().allocations / n
        );
        let reg = Region::new(GLOBAL);
        for i in 0..n {
            let _ = ClientToken::derive("b", &ids[i], 1);
        }
        println!("token allocs/res {}", reg.change().allocations / n);
    });
}
