//! Engine invariants over random graphs, crash-and-resume at random points, and the
//! schedule's efficiency in virtual time.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use common::*;
use iac_core::engine::{Engine, EngineError, FailurePolicy, RunOptions, StackInput, Status};
use iac_core::memory::{Faults, MemoryCloud, MemoryConfig};
use iac_core::provider::{Registry, Schema};
use iac_core::state::{MemoryStateStore, StateStore};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// A random DAG: node `i` depends on some nodes `j < i`.
fn random_dag(rng: &mut StdRng, n: usize, p: f64) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| (0..i).filter(|_| rng.gen_bool(p)).collect())
        .collect()
}

/// A template of `Test::Thing` resources whose properties reference their dependencies, so
/// the memory cloud refuses a create before its dependencies exist and a delete before its
/// dependents are gone.
fn dag_template(deps: &[Vec<usize>]) -> iac_core::Template {
    let mut resources = serde_json::Map::new();
    for (i, d) in deps.iter().enumerate() {
        let refs: Vec<Value> = d.iter().map(|j| json!({"Ref": format!("R{j}")})).collect();
        resources.insert(
            format!("R{i}"),
            json!({"Type": "Test::Thing", "Properties": {"Index": i, "Uses": refs}}),
        );
    }
    template(json!({ "Resources": resources }))
}

fn transitive_dependents(deps: &[Vec<usize>], roots: &HashSet<usize>) -> HashSet<usize> {
    let mut out = HashSet::new();
    for (i, d) in deps.iter().enumerate() {
        if d.iter().any(|d| roots.contains(d) || out.contains(d)) {
            out.insert(i);
        }
    }
    out
}

fn physical_ids_in_state(state: &iac_core::state::StackState) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for r in state.resources.values() {
        ids.extend(r.physical_id.iter().map(ToString::to_string));
        ids.extend(r.deposed.iter().map(|d| d.physical_id.to_string()));
    }
    ids
}

fn engine_for(cloud: &MemoryCloud, policy: FailurePolicy, store: &MemoryStateStore) -> Engine {
    Engine::builder()
        .provider(registry(cloud))
        .state(store.clone())
        .failure_policy(policy)
        .seed(3)
        .build()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn keep_going_creates_each_once_and_skips_exactly_the_dependents(seed in 0u64..10_000, n in 1usize..28, p in 0.0f64..0.4) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let deps = random_dag(&mut rng, n, p);
            let failing: HashSet<usize> = (0..n).filter(|_| rng.gen_bool(0.15)).collect();
            let faults = Faults {
                seed,
                transient: 0.1,
                throttle: 0.1,
                timeout_after_success: 0.05,
                fail_create: failing.iter().map(|i| format!("R{i}")).collect(),
                ..Default::default()
            };
            let cloud = MemoryCloud::new(MemoryConfig { faults, call_latency: Duration::from_millis(10), ready_after: Duration::from_millis(300), ..Default::default() });
            let store = MemoryStateStore::new();
            let engine = engine_for(&cloud, FailurePolicy::KeepGoing, &store);
            let result = engine.apply(&StackInput::new("p", dag_template(&deps)), RunOptions::default()).await;
            let skipped_expected = transitive_dependents(&deps, &failing);
            let report = match result {
                Ok(r) => { assert!(failing.is_empty()); r }
                Err(EngineError::Failed(r)) => *r,
                Err(e) => panic!("{e}"),
            };
            let failed: HashSet<usize> = report.failures.iter().map(|f| f.logical_id[1..].parse().unwrap()).collect();
            let expected_failed: HashSet<usize> = failing.difference(&skipped_expected).copied().collect();
            assert_eq!(failed, expected_failed, "only injected failures fail");
            let skipped: HashSet<usize> = report.skipped.iter().map(|s| s[1..].parse().unwrap()).collect();
            assert_eq!(skipped, skipped_expected, "a failure skips exactly its dependents");
            let creates = cloud.creates();
            for i in 0..n {
                let expected = u64::from(!failing.contains(&i) && !skipped_expected.contains(&i));
                assert_eq!(creates.get(&format!("R{i}")).copied().unwrap_or(0), expected, "R{i} objects");
            }
            let state = store.load("p").await.unwrap().unwrap();
            let inventory: BTreeSet<String> = cloud.inventory().keys().map(ToString::to_string).collect();
            assert_eq!(physical_ids_in_state(&state), inventory, "state and cloud agree");
            engine.destroy("p", RunOptions::default()).await.unwrap();
            assert!(cloud.is_empty(), "destroy leaves nothing");
        });
    }

    #[test]
    fn rollback_deletes_exactly_what_was_created(seed in 0u64..10_000, n in 2usize..24, p in 0.0f64..0.4) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let deps = random_dag(&mut rng, n, p);
            let keep = rng.gen_range(0..n);
            let victim = rng.gen_range(keep..n);
            // A first apply of part of the graph (without the victim): the rollback of the
            // second apply must keep all of it.
            let base: Vec<Vec<usize>> = deps[..keep].to_vec();
            let faults = Faults { seed, transient: 0.1, fail_create: HashSet::from([format!("R{victim}")]), ..Default::default() };
            let cloud = MemoryCloud::new(MemoryConfig { call_latency: Duration::from_millis(5), faults, ..Default::default() });
            let store = MemoryStateStore::new();
            let engine = engine_for(&cloud, FailurePolicy::Rollback, &store);
            engine.apply(&StackInput::new("p", dag_template(&base)), RunOptions::default()).await.unwrap();
            let before: BTreeSet<String> = cloud.inventory().keys().map(ToString::to_string).collect();
            let err = engine.apply(&StackInput::new("p", dag_template(&deps)), RunOptions::default()).await.unwrap_err();
            let report = err.report().unwrap();
            assert_eq!(report.status, Status::RollbackComplete, "{err}");
            let after: BTreeSet<String> = cloud.inventory().keys().map(ToString::to_string).collect();
            assert_eq!(after, before, "rollback deletes exactly what the failed apply created");
            let state = store.load("p").await.unwrap().unwrap();
            assert_eq!(physical_ids_in_state(&state), after);
        });
    }

    #[test]
    fn cycles_are_always_rejected(seed in 0u64..10_000, n in 2usize..20) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut deps = random_dag(&mut rng, n, 0.3);
            let a = rng.gen_range(0..n - 1);
            let b = rng.gen_range(a + 1..n);
            // b depends on a (directly); a depending on b closes a cycle.
            if !deps[b].contains(&a) { deps[b].push(a); }
            deps[a].push(b);
            let cloud = MemoryCloud::new(MemoryConfig::default());
            let engine = engine_for(&cloud, FailurePolicy::Rollback, &MemoryStateStore::new());
            let err = engine.apply(&StackInput::new("c", dag_template(&deps)), RunOptions::default()).await.unwrap_err();
            let text = err.to_string();
            assert!(text.contains(" -> "), "{text}");
            assert!(cloud.is_empty());
        });
    }
}

/// Aborts the apply future at random points (as a killed process would stop), then applies
/// again: the journal makes the second apply finish the first without duplicates or leaks.
#[test]
fn crash_at_random_points_then_resume() {
    let mut total_crashes = 0;
    for seed in 0..40u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        total_crashes += rt.block_on(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = rng.gen_range(3..25);
            let deps = random_dag(&mut rng, n, 0.25);
            let faults = Faults {
                seed,
                timeout_after_success: 0.1,
                transient: 0.05,
                ..Default::default()
            };
            let cloud = MemoryCloud::new(MemoryConfig {
                faults,
                call_latency: Duration::from_millis(rng.gen_range(10..200)),
                ready_after: Duration::from_millis(rng.gen_range(0..1500)),
                ..Default::default()
            });
            let store = MemoryStateStore::new();
            let engine = engine_for(&cloud, FailurePolicy::Rollback, &store);
            let input = StackInput::new("crash", dag_template(&deps));
            let mut crashes = 0;
            // Several crashes in a row, each at a random point.
            for _ in 0..3 {
                let after = Duration::from_millis(rng.gen_range(0..3000));
                match tokio::time::timeout(after, engine.apply(&input, RunOptions::default())).await
                {
                    Ok(result) => {
                        result.unwrap();
                        break;
                    }
                    Err(_) => crashes += 1,
                }
            }
            // Half the seeds finish with `resume` (the template recorded in the state), the
            // others by applying the same template again.
            if seed % 2 == 0 && store.load("crash").await.unwrap().is_some() {
                engine
                    .resume("crash", Default::default(), RunOptions::default())
                    .await
                    .unwrap();
            } else {
                engine.apply(&input, RunOptions::default()).await.unwrap();
            }
            let state = store.load("crash").await.unwrap().unwrap();
            let inventory: BTreeSet<String> =
                cloud.inventory().keys().map(ToString::to_string).collect();
            assert_eq!(
                physical_ids_in_state(&state),
                inventory,
                "seed {seed}: state and cloud differ"
            );
            assert_eq!(inventory.len(), n, "seed {seed}: one object per resource");
            assert!(
                cloud.creates().values().all(|&c| c == 1),
                "seed {seed}: duplicates {:?}",
                cloud.creates()
            );
            assert!(engine.plan(&input).await.unwrap().is_empty(), "seed {seed}");
            engine
                .destroy("crash", RunOptions::default())
                .await
                .unwrap();
            assert!(cloud.is_empty(), "seed {seed}");
            crashes
        });
    }
    assert!(
        total_crashes >= 30,
        "the random points must actually interrupt applies: {total_crashes} crashes"
    );
}

/// 1,000 resources in 10 levels, 100 ms per call, 2 s to become ready, 16 calls at once:
/// the apply finishes within 1.10 × the critical-path bound.
#[tokio::test(start_paused = true)]
async fn thousand_resources_finish_near_the_critical_path_bound() {
    let mut rng = StdRng::seed_from_u64(2024);
    let (levels, width) = (10usize, 100usize);
    let mut deps: Vec<Vec<usize>> = Vec::new();
    for level in 0..levels {
        for _ in 0..width {
            if level == 0 {
                deps.push(Vec::new());
            } else {
                let k = rng.gen_range(1..=3);
                let prev = (level - 1) * width;
                let mut d: Vec<usize> = (0..k).map(|_| prev + rng.gen_range(0..width)).collect();
                d.sort_unstable();
                d.dedup();
                deps.push(d);
            }
        }
    }
    let call = Duration::from_millis(100);
    let ready = Duration::from_secs(2);
    let cloud = MemoryCloud::new(MemoryConfig {
        call_latency: call,
        ready_after: ready,
        ..Default::default()
    });
    let mut registry = Registry::new();
    registry
        .register(cloud.handler_with_schema(Schema::new("Test::Thing").with_readiness_hint(ready)));
    let engine = Engine::builder()
        .provider(registry)
        .concurrency(16)
        .seed(1)
        .build();

    // The bound: along the longest path, each resource costs its create call, its time to
    // become ready and the one read that observes it ready.
    let per_node = call + ready + call;
    let mut depth: Vec<u32> = Vec::with_capacity(deps.len());
    for d in &deps {
        let level = 1 + d.iter().map(|&j| depth[j]).max().unwrap_or(0);
        depth.push(level);
    }
    let bound = per_node * *depth.iter().max().unwrap();
    assert_eq!(bound, Duration::from_millis(22_000));

    let start = tokio::time::Instant::now();
    engine
        .apply(
            &StackInput::new("big", dag_template(&deps)),
            RunOptions::default(),
        )
        .await
        .unwrap();
    let took = start.elapsed();
    let ratio = took.as_secs_f64() / bound.as_secs_f64();
    let calls = cloud.calls();
    println!(
        "1000 resources: {took:?} for a bound of {bound:?} (ratio {ratio:.3}); calls {calls:?}"
    );
    assert_eq!(cloud.len(), 1000);
    assert!(
        ratio <= 1.10,
        "took {took:?}, bound {bound:?}, ratio {ratio:.3}"
    );
    let polls = calls.get("poll").copied().unwrap_or(0);
    assert!(polls < 200, "readiness is polled in batches: {polls} polls");
}
