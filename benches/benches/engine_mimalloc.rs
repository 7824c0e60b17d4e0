//! Engine overhead as in `engine.rs`, in a program that links mimalloc as its global
//! allocator, as a service embedding the SDK may. The engine allocates a few dozen small
//! blocks per resource, so the allocator is a large part of its time: `engine.rs` gives
//! the figure with the system allocator (and the memory), this one with mimalloc.
//!
//! Target (issue: iac-core): ≤ 5 µs per resource at 100,000.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iac_benches::{plan_and_apply_fresh, runtime, tree_template};
use iac_core::engine::StackInput;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn engine_overhead(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("plan_and_apply_mimalloc");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for n in [10_000usize, 100_000] {
        let input = StackInput::new("bench", tree_template(n));
        let took = plan_and_apply_fresh(&rt, &input);
        println!(
            "engine overhead at {n} resources with mimalloc: {:.2} µs per resource (one run: {took:?})",
            took.as_secs_f64() * 1e6 / n as f64,
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
