//! Engine overhead: plan + apply of 10,000 and 100,000 resources on a zero-latency
//! in-memory cloud, as time and peak heap per resource.
//!
//! Targets (issue: iac-core): ≤ 5 µs and ≤ 2 KiB per resource at 100,000.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iac_benches::{fresh_engine, plan_and_apply_fresh, plan_then_apply, runtime, tree_template};
use iac_core::engine::StackInput;
use peak_alloc::PeakAlloc;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// Heap use of one plan + apply, in bytes.
struct Memory {
    /// Peak above the heap in use before (the template is already built).
    peak: usize,
    /// What the in-memory cloud still holds at the end (its inventory).
    provider: usize,
    /// What the memory state store still holds at the end (the saved state).
    store: usize,
}

fn measure_memory(rt: &tokio::runtime::Runtime, input: &StackInput) -> (Duration, Memory) {
    PEAK.reset_peak_usage();
    let base = PEAK.current_usage();
    let (cloud, engine) = fresh_engine();
    let took = plan_then_apply(rt, &engine, input);
    let peak = PEAK.peak_usage().saturating_sub(base);
    let with_both = PEAK.current_usage();
    drop(engine);
    let with_cloud = PEAK.current_usage();
    drop(cloud);
    let after = PEAK.current_usage();
    let memory = Memory {
        peak,
        provider: with_cloud.saturating_sub(after),
        store: with_both.saturating_sub(with_cloud),
    };
    (took, memory)
}

fn engine_overhead(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("plan_and_apply");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for n in [10_000usize, 100_000] {
        let input = StackInput::new("bench", tree_template(n));
        // Peak heap above what the template itself holds, once, outside the timing, and how
        // much of it the in-memory cloud (the provider) and the memory state store keep.
        let (took, memory) = measure_memory(&rt, &input);
        println!(
            "engine overhead at {n} resources: {:.2} µs per resource (one run: {took:?}); peak heap {} B per resource, \
             of which the in-memory cloud keeps {} B and the memory state store {} B, leaving {} B for the engine",
            took.as_secs_f64() * 1e6 / n as f64,
            memory.peak / n,
            memory.provider / n,
            memory.store / n,
            memory.peak.saturating_sub(memory.provider + memory.store) / n,
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter_custom(|iters| (0..iters).map(|_| plan_and_apply_fresh(&rt, input)).sum());
        });
    }
    group.finish();
}

criterion_group!(benches, engine_overhead);
criterion_main!(benches);
