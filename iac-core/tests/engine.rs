//! Engine behaviour on the memory cloud: apply, re-plan, update, replace, failure
//! policies, rollback, destroy, locking, secrets and cancellation.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use iac_core::engine::{
    Action, EngineError, FailurePolicy, RunOptions, StackInput, Status, events,
};
use iac_core::memory::{Faults, MemoryConfig};
use iac_core::state::{StateError, StateStore};
use serde_json::json;

fn input(template: iac_core::Template) -> StackInput {
    StackInput::new("demo", template).with_parameter("Password", "s3cret-pw")
}

#[tokio::test]
async fn apply_creates_everything_in_order_and_a_second_plan_is_empty() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let (tx, mut rx) = events::channel();
    let report = engine
        .apply(&input(small_stack()), RunOptions::default().with_events(tx))
        .await
        .unwrap();
    assert_eq!(report.status, Status::CreateComplete);
    assert_eq!(cloud.len(), 4);
    let events = drain(&mut rx);
    let complete_at = |id: &str| {
        events
            .iter()
            .position(|e| &*e.logical_id == id && e.status == Status::CreateComplete)
            .unwrap()
    };
    let started_at = |id: &str| {
        events
            .iter()
            .position(|e| &*e.logical_id == id && e.status == Status::CreateInProgress)
            .unwrap()
    };
    assert!(complete_at("Net") < started_at("Subnet"));
    assert!(complete_at("Subnet") < started_at("Web"));
    assert!(complete_at("Subnet") < started_at("Db"));
    assert_eq!(events.first().unwrap().status, Status::CreateInProgress);
    assert!(events.first().unwrap().is_stack_event());
    assert_eq!(events.last().unwrap().status, Status::CreateComplete);
    assert_eq!(report.outputs["WebSize"], json!("small"));
    let web = report
        .resources
        .iter()
        .find(|r| r.logical_id == "Web")
        .unwrap();
    assert_eq!(
        report.outputs["WebId"],
        json!(web.physical_id.as_ref().unwrap().as_str())
    );

    let plan = engine.plan(&input(small_stack())).await.unwrap();
    assert!(plan.is_empty(), "{plan}");
    assert!(plan.to_string().contains("no changes"));
    let again = engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(again.status, Status::UpdateComplete);
    assert_eq!(
        cloud.calls().get("create"),
        Some(&4),
        "a second apply creates nothing"
    );
}

#[tokio::test]
async fn a_mutable_change_updates_in_place_and_a_forcing_change_replaces() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    let before = cloud.inventory();

    let bigger = input(small_stack()).with_parameter("Size", "large");
    let plan = engine.plan(&bigger).await.unwrap();
    assert_eq!(plan.resource("Web").unwrap().action, Action::Update);
    assert_eq!(plan.count(Action::Update), 1);
    engine.apply(&bigger, RunOptions::default()).await.unwrap();
    assert_eq!(
        cloud.inventory().keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );

    let mut moved = small_stack();
    moved.resources["Subnet"].properties["Cidr"] = "10.0.2.0/24".into();
    let moved = input(moved).with_parameter("Size", "large");
    let plan = engine.plan(&moved).await.unwrap();
    assert_eq!(plan.resource("Subnet").unwrap().action, Action::Replace);
    assert_eq!(
        plan.resource("Web").unwrap().action,
        Action::Replace,
        "its SubnetId is known only after apply"
    );
    assert_eq!(plan.resource("Net").unwrap().action, Action::NoOp);
    insta::assert_snapshot!("replace_plan", plan.to_string());
    let form = serde_json::to_value(&plan).unwrap();
    let subnet = form["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["logical_id"] == "Subnet")
        .unwrap();
    assert_eq!(subnet["action"], "replace");
    assert_eq!(subnet["diffs"][0]["forces_replacement"], true);
    assert_eq!(
        serde_json::from_value::<iac_core::engine::Plan>(form).unwrap(),
        plan,
        "the serde form round-trips"
    );
    engine.apply(&moved, RunOptions::default()).await.unwrap();
    let after = cloud.inventory();
    assert_eq!(
        after.len(),
        4,
        "old objects are deleted after the new ones exist"
    );
    let subnet = after.values().find(|o| &*o.logical_id == "Subnet").unwrap();
    assert_eq!(subnet.properties["Cidr"], "10.0.2.0/24");
    assert!(engine.plan(&moved).await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_before_create_replacement_for_unique_names() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let t = |name: &str| {
        template(
            json!({"Resources": {"B": {"Type": "Test::Bucket", "Properties": {"BucketName": name}}}}),
        )
    };
    engine
        .apply(&StackInput::new("b", t("one")), RunOptions::default())
        .await
        .unwrap();
    let (tx, mut rx) = events::channel();
    engine
        .apply(
            &StackInput::new("b", t("two")),
            RunOptions::default().with_events(tx),
        )
        .await
        .unwrap();
    let statuses: Vec<Status> = drain(&mut rx)
        .into_iter()
        .filter(|e| !e.is_stack_event())
        .map(|e| e.status)
        .collect();
    assert_eq!(
        statuses,
        vec![Status::CreateInProgress, Status::CreateComplete]
    );
    let inv = cloud.inventory();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv.values().next().unwrap().properties["BucketName"], "two");
    // The state records the new object's properties: planning again changes nothing.
    let again = engine.plan(&StackInput::new("b", t("two"))).await.unwrap();
    assert!(again.is_empty(), "{again}");
}

#[tokio::test]
async fn removing_a_resource_deletes_it_and_retain_only_forgets() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let mut t = small_stack();
    t.resources["Db"].deletion_policy = iac_core::model::DeletionPolicy::Retain;
    engine
        .apply(&input(t.clone()), RunOptions::default())
        .await
        .unwrap();
    t.resources.shift_remove("Web");
    t.resources.shift_remove("Db");
    t.outputs.clear();
    let plan = engine.plan(&input(t.clone())).await.unwrap();
    assert_eq!(plan.resource("Web").unwrap().action, Action::Delete);
    assert_eq!(plan.resource("Db").unwrap().action, Action::Forget);
    engine
        .apply(&input(t), RunOptions::default())
        .await
        .unwrap();
    let left: HashSet<String> = cloud
        .inventory()
        .values()
        .map(|o| String::from(&*o.logical_id))
        .collect();
    assert_eq!(
        left,
        HashSet::from(["Net".into(), "Subnet".into(), "Db".into()])
    );
    let state = engine.state("demo").await.unwrap().unwrap();
    assert!(
        !state.resources.contains_key("Db"),
        "a retained object is forgotten"
    );
}

#[tokio::test]
async fn rollback_deletes_exactly_what_this_apply_created() {
    let faults = Faults {
        fail_create: HashSet::from(["Db".to_owned()]),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::Rollback,
    );
    let (tx, mut rx) = events::channel();
    let err = engine
        .apply(&input(small_stack()), RunOptions::default().with_events(tx))
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.status, Status::RollbackComplete);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].logical_id, "Db");
    assert!(report.failures[0].message.contains("QuotaExceeded"));
    assert!(cloud.is_empty(), "rollback left {:?}", cloud.inventory());
    let events = drain(&mut rx);
    let stack_statuses: Vec<Status> = events
        .iter()
        .filter(|e| e.is_stack_event())
        .map(|e| e.status)
        .collect();
    assert_eq!(
        stack_statuses,
        vec![
            Status::CreateInProgress,
            Status::RollbackInProgress,
            Status::RollbackComplete
        ]
    );
    let state = engine.state("demo").await.unwrap().unwrap();
    assert!(state.resources.is_empty(), "{:?}", state.resources.keys());
    assert!(err.to_string().contains("Db CREATE_FAILED"), "{err}");
}

#[tokio::test]
async fn keep_going_skips_exactly_the_dependents_of_a_failure() {
    let faults = Faults {
        fail_create: HashSet::from(["Subnet".to_owned()]),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::KeepGoing,
    );
    let mut t = small_stack();
    t.resources.insert(
        "Other".into(),
        serde_json::from_value(
            json!({"Type": "Test::Network", "Properties": {"Cidr": "10.9.0.0/16"}}),
        )
        .unwrap(),
    );
    let err = engine
        .apply(&input(t), RunOptions::default())
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    let mut skipped = report.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, vec!["Db", "Web"]);
    let alive: HashSet<String> = cloud
        .inventory()
        .values()
        .map(|o| String::from(&*o.logical_id))
        .collect();
    assert_eq!(alive, HashSet::from(["Net".into(), "Other".into()]));
}

#[tokio::test]
async fn stop_policy_leaves_what_exists() {
    let faults = Faults {
        fail_create: HashSet::from(["Web".to_owned()]),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::Stop,
    );
    let err = engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.report().unwrap().status, Status::CreateFailed);
    assert!(cloud.len() >= 2);
    let state = engine.state("demo").await.unwrap().unwrap();
    for obj in cloud.inventory().keys() {
        assert!(
            state
                .resources
                .values()
                .any(|r| r.physical_id.as_ref() == Some(obj)),
            "{obj} is not in the state"
        );
    }
}

#[tokio::test]
async fn destroy_deletes_in_reverse_order_and_removes_the_state() {
    let (cloud, engine, store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    let (tx, mut rx) = events::channel();
    let report = engine
        .destroy("demo", RunOptions::default().with_events(tx))
        .await
        .unwrap();
    assert_eq!(report.status, Status::DeleteComplete);
    assert!(cloud.is_empty());
    assert!(store.load("demo").await.unwrap().is_none());
    let events = drain(&mut rx);
    let done = |id: &str| {
        events
            .iter()
            .position(|e| &*e.logical_id == id && e.status == Status::DeleteComplete)
            .unwrap()
    };
    assert!(
        done("Web") < done("Subnet") && done("Db") < done("Subnet") && done("Subnet") < done("Net")
    );
    assert!(matches!(
        engine.destroy("demo", RunOptions::default()).await,
        Err(EngineError::UnknownStack(_))
    ));
}

#[tokio::test]
async fn a_failed_delete_is_reported_with_what_is_left() {
    let faults = Faults {
        fail_delete: HashSet::from(["Subnet".to_owned()]),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::Rollback,
    );
    engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    let err = engine
        .destroy("demo", RunOptions::default())
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.status, Status::DeleteFailed);
    let left: Vec<&str> = report
        .left_behind
        .iter()
        .map(|s| s.split(':').next().unwrap())
        .collect();
    assert_eq!(
        left,
        vec!["Subnet", "Net"],
        "the subnet failed and the network under it is kept"
    );
    assert_eq!(cloud.len(), 2);
    assert_eq!(
        engine.state("demo").await.unwrap().unwrap().resources.len(),
        2
    );
}

#[tokio::test]
async fn a_second_concurrent_apply_is_refused() {
    let (_, engine, store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let _held = store.lock("demo", "apply").await.unwrap();
    let err = engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::State(StateError::Locked { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_state_events_errors_and_reports() {
    let faults = Faults {
        fail_create: HashSet::from(["Web".to_owned()]),
        ..Default::default()
    };
    let (_, engine, store) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::Stop,
    );
    let mut t = small_stack();
    t.outputs.insert(
        "Leak".into(),
        serde_json::from_value(json!({"Value": {"Fn::Sub": "pw=${Password}"}})).unwrap(),
    );
    let (tx, mut rx) = events::channel();
    let err = engine
        .apply(&input(t.clone()), RunOptions::default().with_events(tx))
        .await
        .unwrap_err();
    let state = store.load("demo").await.unwrap().unwrap();
    let everything = format!(
        "{}\n{:?}\n{err}\n{err:?}\n{:?}",
        serde_json::to_string(&state).unwrap(),
        drain(&mut rx),
        err.report()
    );
    assert!(!everything.contains("s3cret-pw"), "a secret leaked");
    // The stored value changes when the secret changes, so a new password is an update.
    let ok_engine = setup(MemoryConfig::default(), FailurePolicy::Rollback).1;
    let report = ok_engine
        .apply(&input(t.clone()), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.outputs["Leak"], json!("pw=***"));
    let changed = StackInput::new("demo", t).with_parameter("Password", "another-secret");
    let plan = ok_engine.plan(&changed).await.unwrap();
    assert_eq!(plan.resource("Web").unwrap().action, Action::Update);
    assert!(
        !plan.to_string().contains("another-secret") && !plan.to_string().contains("s3cret-pw")
    );
}

#[tokio::test]
async fn bad_parameters_and_bad_templates_are_refused_before_anything_happens() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let bad = input(small_stack()).with_parameter("Size", "huge");
    let err = engine.apply(&bad, RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, EngineError::Parameters(_)), "{err}");
    assert!(err.to_string().contains("Size"), "{err}");
    let mut t = small_stack();
    t.resources["Web"].properties["SubnetId"] =
        serde_json::from_value(json!({"Ref": "Subnett"})).unwrap();
    t.resources["Db"].type_name = "Test::Nope".into();
    let err = engine
        .apply(&input(t), RunOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Resources.Web.Properties.SubnetId"), "{text}");
    assert!(text.contains("Test::Nope"), "{text}");
    assert!(cloud.is_empty());
    assert!(engine.state("demo").await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn throttling_and_transient_faults_converge_without_duplicates() {
    let faults = Faults {
        seed: 42,
        throttle: 0.2,
        transient: 0.1,
        timeout_after_success: 0.1,
        ..Default::default()
    };
    let config = MemoryConfig {
        faults,
        call_latency: Duration::from_millis(50),
        ready_after: Duration::from_secs(1),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(config, FailurePolicy::Rollback);
    let report = engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.status, Status::CreateComplete);
    assert_eq!(cloud.len(), 4);
    assert!(
        cloud.creates().values().all(|&n| n == 1),
        "{:?}",
        cloud.creates()
    );
    engine.destroy("demo", RunOptions::default()).await.unwrap();
    assert!(cloud.is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_new_work_and_the_next_apply_resumes() {
    let config = MemoryConfig {
        call_latency: Duration::from_millis(100),
        ready_after: Duration::from_secs(2),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(config, FailurePolicy::Rollback);
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        trigger.cancel();
    });
    let err = engine
        .apply(
            &input(small_stack()),
            RunOptions::default().with_cancel(cancel),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Cancelled(_)), "{err}");
    let state = engine.state("demo").await.unwrap().unwrap();
    for obj in cloud.inventory().keys() {
        assert!(
            state
                .resources
                .values()
                .any(|r| r.physical_id.as_ref() == Some(obj)),
            "{obj} leaked"
        );
    }
    assert!(cloud.len() < 4);
    let plan = engine.plan(&input(small_stack())).await.unwrap();
    assert!(!plan.is_empty());
    engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(cloud.len(), 4);
    assert!(cloud.creates().values().all(|&n| n == 1));
}

#[tokio::test]
async fn a_rollback_that_fails_says_what_it_left_behind() {
    let faults = Faults {
        fail_create: HashSet::from(["Db".to_owned()]),
        fail_delete: HashSet::from(["Subnet".to_owned()]),
        ..Default::default()
    };
    let (cloud, engine, _) = setup(
        MemoryConfig {
            faults,
            ..Default::default()
        },
        FailurePolicy::Rollback,
    );
    let (tx, mut rx) = events::channel();
    let err = engine
        .apply(&input(small_stack()), RunOptions::default().with_events(tx))
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.status, Status::RollbackFailed);
    let left: Vec<&str> = report
        .left_behind
        .iter()
        .map(|s| s.split(':').next().unwrap())
        .collect();
    assert_eq!(left, vec!["Subnet", "Net"]);
    let alive: HashSet<String> = cloud
        .inventory()
        .values()
        .map(|o| String::from(&*o.logical_id))
        .collect();
    assert_eq!(
        alive,
        HashSet::from(["Net".into(), "Subnet".into()]),
        "Web was rolled back"
    );
    let last = drain(&mut rx)
        .into_iter()
        .filter(|e| e.is_stack_event())
        .last()
        .unwrap();
    assert_eq!(last.status, Status::RollbackFailed);
    assert!(
        last.reason.as_deref().unwrap_or("").contains("Subnet"),
        "{last}"
    );
    let text = err.to_string();
    assert!(
        text.contains("left behind") && text.contains("Subnet"),
        "{text}"
    );
    // The state still names what is left, so a destroy or a later apply can finish the job.
    let state = engine.state("demo").await.unwrap().unwrap();
    let mut kept: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    kept.sort_unstable();
    assert_eq!(kept, vec!["Net", "Subnet"]);
}

#[tokio::test]
async fn destroy_forgets_retained_objects_instead_of_deleting_them() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let mut t = small_stack();
    t.resources["Net"].deletion_policy = iac_core::model::DeletionPolicy::Retain;
    t.resources["Subnet"].deletion_policy = iac_core::model::DeletionPolicy::Retain;
    engine
        .apply(&input(t), RunOptions::default())
        .await
        .unwrap();
    let (tx, mut rx) = events::channel();
    engine
        .destroy("demo", RunOptions::default().with_events(tx))
        .await
        .unwrap();
    let left: HashSet<String> = cloud
        .inventory()
        .values()
        .map(|o| String::from(&*o.logical_id))
        .collect();
    assert_eq!(left, HashSet::from(["Net".into(), "Subnet".into()]));
    let skipped: Vec<String> = drain(&mut rx)
        .into_iter()
        .filter(|e| e.status == Status::DeleteSkipped)
        .map(|e| e.logical_id.to_string())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        engine.state("demo").await.unwrap().is_none(),
        "the stack is forgotten"
    );
}

/// A cloud that allows 20 calls per second: the adaptive rate limit learns it, so far
/// fewer calls are refused than with the limit switched off, the calls still go at more
/// than 85 % of the quota, and the throttling never reaches the caller.
#[tokio::test(start_paused = true)]
async fn the_rate_limit_adapts_to_a_quota() {
    use iac_core::engine::{Engine, EngineOptions, RateLimitOptions};
    let resources: serde_json::Map<String, serde_json::Value> = (0..120)
        .map(|i| {
            (
                format!("R{i}"),
                json!({"Type": "Test::Thing", "Properties": {"Index": i}}),
            )
        })
        .collect();
    let stack = template(json!({ "Resources": resources }));
    let run = |limit: RateLimitOptions| {
        let stack = stack.clone();
        async move {
            let faults = Faults {
                quota_per_second: Some(20),
                ..Default::default()
            };
            let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig {
                faults,
                call_latency: Duration::from_millis(10),
                ..Default::default()
            });
            let options = EngineOptions {
                rate_limit: limit,
                seed: Some(5),
                ..Default::default()
            };
            let engine = Engine::builder()
                .provider(registry(&cloud))
                .options(options)
                .build();
            let started = tokio::time::Instant::now();
            engine
                .apply(&StackInput::new("q", stack), RunOptions::default())
                .await
                .unwrap();
            assert_eq!(cloud.len(), 120);
            (cloud.throttled(), started.elapsed())
        }
    };
    let (adaptive, adaptive_took) = run(RateLimitOptions::default()).await;
    let off = RateLimitOptions {
        min_rate: 1e9,
        max_rate: 1e9,
        ..Default::default()
    };
    let (without, without_took) = run(off).await;
    println!(
        "throttled calls: {adaptive} adaptive ({adaptive_took:?}), {without} without a limit ({without_took:?})"
    );
    assert!(
        adaptive * 4 < without,
        "adaptive {adaptive}, without {without}"
    );
    // Hammering fills each one-second window in its first milliseconds; the limit paces
    // its calls and must still get close to the quota: 120 calls at 20/s take 6 s.
    let floor = 120.0 / 20.0;
    assert!(
        adaptive_took.as_secs_f64() <= floor / 0.85,
        "at least 85 % of the quota: {adaptive_took:?} (hammering: {without_took:?})"
    );
}

/// Waiting for readiness holds no concurrency slot: with one slot, ten resources that take
/// ten seconds each to become ready finish in about ten seconds, not a hundred.
#[tokio::test(start_paused = true)]
async fn waiting_for_readiness_holds_no_slot() {
    use iac_core::provider::{Registry, Schema};
    let ready = Duration::from_secs(10);
    let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig {
        call_latency: Duration::from_millis(100),
        ready_after: ready,
        ..Default::default()
    });
    let mut registry = Registry::new();
    registry
        .register(cloud.handler_with_schema(Schema::new("Test::Slow").with_readiness_hint(ready)));
    let engine = iac_core::engine::Engine::builder()
        .provider(registry)
        .concurrency(1)
        .build();
    let resources: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|i| {
            (
                format!("R{i}"),
                json!({"Type": "Test::Slow", "Properties": {"Index": i}}),
            )
        })
        .collect();
    let started = tokio::time::Instant::now();
    engine
        .apply(
            &StackInput::new("slow", template(json!({ "Resources": resources }))),
            RunOptions::default(),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "took {took:?}");
    let calls = cloud.calls();
    assert!(
        calls["poll"] < 10,
        "each read covers every resource still waiting: {calls:?}"
    );
}

/// A fleet whose creates answer over more than a second (200 creates, 16 in flight, 100 ms
/// each) is polled as one cohort: every round is two full batches of 100, not one call per
/// creation wave; and once the first objects were seen ready, the type's learned time to
/// ready brings the later ones in close to it.
#[tokio::test(start_paused = true)]
async fn a_fleet_created_in_waves_is_polled_as_one_cohort() {
    use iac_core::provider::{Registry, Schema};
    let ready = Duration::from_secs(60);
    let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig {
        call_latency: Duration::from_millis(100),
        ready_after: ready,
        ..Default::default()
    });
    let mut registry = Registry::new();
    registry.register(cloud.handler_with_schema(
        Schema::new("Test::Server").with_readiness_hint(Duration::from_secs(5)),
    ));
    let engine = iac_core::engine::Engine::builder()
        .provider(registry)
        .seed(3)
        .build();
    let resources: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|i| {
            (
                format!("S{i}"),
                json!({"Type": "Test::Server", "Properties": {"Index": i}}),
            )
        })
        .collect();
    let started = tokio::time::Instant::now();
    engine
        .apply(
            &StackInput::new("fleet", template(json!({ "Resources": resources }))),
            RunOptions::default(),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    let polls = cloud.calls()["poll"];
    // From the 5 s hint to 60 s at an eighth of the wait: 22 rounds before the fleet is
    // ready and one after, of two batches each.
    assert!(polls <= 2 * 23 + 2, "{polls} polls");
    // The creates take 200 / 16 × 100 ms; the last is seen ready within an eighth of 60 s.
    assert!(
        took < ready + Duration::from_millis(1_300 + 7_500),
        "took {took:?}"
    );
}

/// A memory-cloud handler whose `Spec` property holds the object's identity in its `name`.
struct IdentityHandler(std::sync::Arc<iac_core::memory::MemoryHandler>);

#[async_trait::async_trait]
impl iac_core::provider::ResourceHandler for IdentityHandler {
    fn schema(&self) -> &iac_core::provider::Schema {
        self.0.schema()
    }
    fn replacement_reason(
        &self,
        old: &iac_core::provider::Properties,
        new: &iac_core::provider::Properties,
    ) -> Option<String> {
        let name =
            |p: &iac_core::provider::Properties| p.get("Spec").and_then(|s| s.get("name")).cloned();
        (name(old) != name(new)).then(|| "Spec.name names another object".to_owned())
    }
    async fn create(
        &self,
        request: iac_core::provider::CreateRequest<'_>,
    ) -> Result<iac_core::provider::Created, iac_core::provider::HandlerError> {
        self.0.create(request).await
    }
    async fn read(
        &self,
        id: &iac_core::provider::PhysicalId,
        props: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Readiness, iac_core::provider::HandlerError> {
        self.0.read(id, props).await
    }
    async fn update(
        &self,
        id: &iac_core::provider::PhysicalId,
        old: &iac_core::provider::Properties,
        new: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Updated, iac_core::provider::HandlerError> {
        self.0.update(id, old, new).await
    }
    async fn delete(
        &self,
        id: &iac_core::provider::PhysicalId,
        props: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Deleted, iac_core::provider::HandlerError> {
        self.0.delete(id, props).await
    }
}

#[tokio::test]
async fn a_handler_can_ask_for_replacement_when_an_identity_inside_a_property_changes() {
    let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig::default());
    let mut registry = iac_core::provider::Registry::new();
    registry.register(std::sync::Arc::new(IdentityHandler(
        cloud.handler("Test::Object"),
    )));
    let engine = iac_core::engine::Engine::builder()
        .provider(registry)
        .build();
    let t = |name: &str, image: &str| {
        template(json!({"Resources": {"O": {"Type": "Test::Object",
            "Properties": {"Spec": {"name": name, "image": image}}}}}))
    };
    let run = |t| StackInput::new("ids", t);
    engine
        .apply(&run(t("web", "v1")), RunOptions::default())
        .await
        .unwrap();
    let first = cloud.inventory().keys().cloned().collect::<Vec<_>>();

    let plan = engine.plan(&run(t("web", "v2"))).await.unwrap();
    assert_eq!(
        plan.count(Action::Update),
        1,
        "another image is the same object: {plan}"
    );
    engine
        .apply(&run(t("web", "v2")), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(cloud.inventory().keys().cloned().collect::<Vec<_>>(), first);

    let plan = engine.plan(&run(t("api", "v2"))).await.unwrap();
    assert_eq!(plan.count(Action::Replace), 1, "{plan}");
    assert!(
        plan.to_string().contains("Spec.name names another object"),
        "{plan}"
    );
    engine
        .apply(&run(t("api", "v2")), RunOptions::default())
        .await
        .unwrap();
    let after: Vec<_> = cloud.inventory().keys().cloned().collect();
    assert_eq!(after.len(), 1);
    assert_ne!(after, first, "a new object replaced the old one");
    assert!(engine.plan(&run(t("api", "v2"))).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reviewed_plan_applies_exactly_and_refuses_once_the_state_moved() {
    let (cloud, engine, store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);

    // A plan of a new stack applies what it shows.
    let plan = engine.plan(&input(small_stack())).await.unwrap();
    assert_eq!(plan.count(Action::Create), 4);
    let debug = format!("{plan:?}");
    assert!(!debug.contains("s3cret-pw"), "{debug}");
    let report = engine
        .apply_plan(plan.clone(), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.status, Status::CreateComplete);
    assert_eq!(cloud.len(), 4);
    let state = store.load("demo").await.unwrap().unwrap();
    let user_data = serde_json::to_string(&state.resources["Web"].properties).unwrap();
    assert!(!user_data.contains("s3cret-pw"), "{user_data}");

    // The same plan again: the state moved on since (this very apply), so it is stale.
    let err = engine
        .apply_plan(plan.clone(), RunOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::StalePlan { reason, .. } if reason.contains("changed")),
        "{err}"
    );
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Conflict);

    // A plan, then another apply of a change, then the first plan: refused, nothing done.
    let mut changed = small_stack();
    changed.resources["Web"]
        .properties
        .insert("Size".into(), iac_core::Expr::String("large".into()));
    let plan = engine.plan(&input(changed.clone())).await.unwrap();
    assert_eq!(plan.count(Action::Update), 1, "{plan}");
    engine
        .apply(&input(small_stack()), RunOptions::default())
        .await
        .unwrap();
    let calls = cloud.calls();
    assert!(matches!(
        engine.apply_plan(plan.clone(), RunOptions::default()).await,
        Err(EngineError::StalePlan { .. })
    ));
    assert_eq!(cloud.calls(), calls, "a stale plan makes no call");

    // A plan read back from JSON keeps no parameter values: it cannot be applied.
    let plan = engine.plan(&input(changed.clone())).await.unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains("s3cret-pw"));
    let read_back: iac_core::engine::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(read_back, plan);
    let err = engine
        .apply_plan(read_back, RunOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("serialized"), "{err}");

    // Another engine (another registry) does not apply this engine's plan.
    let (_, other, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let err = other
        .apply_plan(plan.clone(), RunOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another engine"), "{err}");

    // The fresh plan itself still applies: one update.
    engine
        .apply_plan(plan, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(cloud.calls().get("update"), Some(&1));
}

/// A run killed after it sent a delete (a rollback cut short) leaves a record with a pending
/// delete whose object is gone. The next apply of a template that still has the resource
/// finishes the delete and creates it anew; it used to wait for the old object to become
/// ready and fail with "the object disappeared before it was ready".
#[tokio::test]
async fn an_apply_after_a_crash_between_a_delete_and_its_record_creates_the_resource_again() {
    use iac_core::provider::ResourceHandler;
    use iac_core::state::{MemoryStateStore, Operation, PendingOperation, ResourcePhase};

    let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig::default());
    let store = MemoryStateStore::new();
    let engine = iac_core::engine::Engine::builder()
        .provider(cloud.registry(&["Test::Object"]))
        .state(store.clone())
        .build();
    let input = StackInput::new(
        "cut",
        template(json!({"Resources": {
            "A": {"Type": "Test::Object", "Properties": {"Name": "a"}},
            "B": {"Type": "Test::Object", "Properties": {"Name": "b"}}
        }})),
    );
    engine.apply(&input, RunOptions::default()).await.unwrap();

    // What the killed run left: the delete of A was journaled, then sent and done.
    let mut state = store.load("cut").await.unwrap().unwrap();
    let rec = state.resources.get_mut("A").unwrap();
    let gone = rec.physical_id.clone().unwrap();
    rec.pending = Some(std::sync::Arc::new(PendingOperation {
        operation: Operation::Delete,
        client_token: None,
        started: chrono::Utc::now(),
    }));
    rec.phase = ResourcePhase::Deleting;
    cloud
        .handler("Test::Object")
        .delete(&gone, &rec.properties)
        .await
        .unwrap();
    state.bump_serial();
    store.save(&state).await.unwrap();
    assert_eq!(cloud.len(), 1);

    let report = engine.apply(&input, RunOptions::default()).await.unwrap();
    assert!(report.is_success());
    let state = store.load("cut").await.unwrap().unwrap();
    let a = &state.resources["A"];
    assert!(
        a.pending.is_none() && a.phase == ResourcePhase::Ready,
        "{a:?}"
    );
    let now = a.physical_id.clone().unwrap();
    assert_ne!(now, gone);
    assert_eq!(cloud.len(), 2);
    assert!(cloud.inventory().contains_key(&now));
    assert!(engine.plan(&input).await.unwrap().is_empty());
}

/// A rollback forgets the records of what it deleted, so the next create of the same
/// logical id starts at generation 1 again. Its client token must still be new: the cloud
/// remembers tokens and would answer with the object the rollback deleted.
#[tokio::test]
async fn an_apply_after_a_rollback_creates_new_objects_not_replays_of_the_deleted_ones() {
    let (cloud, engine, _store) = setup(
        MemoryConfig {
            faults: Faults {
                fail_create: ["B".to_owned()].into(),
                ..Faults::default()
            },
            ..MemoryConfig::default()
        },
        FailurePolicy::Rollback,
    );
    let a = json!({"Type": "Test::Thing", "Properties": {"Name": "a"}});
    let with_b = StackInput::new(
        "again",
        template(json!({"Resources": {
            "A": a,
            "B": {"Type": "Test::Thing", "Properties": {"Uses": {"Ref": "A"}}}
        }})),
    );
    let err = engine
        .apply(&with_b, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.report().unwrap().status, Status::RollbackComplete);
    assert!(cloud.is_empty());

    let only_a = StackInput::new("again", template(json!({"Resources": {"A": a}})));
    let report = engine
        .apply(&only_a, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_success());
    assert_eq!(cloud.len(), 1);
    assert!(engine.plan(&only_a).await.unwrap().is_empty());
}

#[test]
fn the_debug_of_a_stack_input_hides_no_echo_values() {
    let input = StackInput::new("dbg", small_stack())
        .with_parameter("Password", "hunter2-secret")
        .with_parameter("Size", "large");
    let shown = format!("{input:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains(r#""Password": String("***")"#), "{shown}");
    assert!(shown.contains(r#""Size": String("large")"#), "{shown}");
}

/// A delete refused with conflicts while its dependents go (`DependencyViolation`), then
/// once with a transient error.
struct ConflictThenTransient {
    inner: std::sync::Arc<iac_core::memory::MemoryHandler>,
    answers: std::sync::Mutex<Vec<iac_core::provider::ErrorKind>>,
}

#[async_trait::async_trait]
impl iac_core::provider::ResourceHandler for ConflictThenTransient {
    fn schema(&self) -> &iac_core::provider::Schema {
        self.inner.schema()
    }
    async fn create(
        &self,
        request: iac_core::provider::CreateRequest<'_>,
    ) -> Result<iac_core::provider::Created, iac_core::provider::HandlerError> {
        self.inner.create(request).await
    }
    async fn read(
        &self,
        id: &iac_core::provider::PhysicalId,
        props: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Readiness, iac_core::provider::HandlerError> {
        self.inner.read(id, props).await
    }
    async fn update(
        &self,
        id: &iac_core::provider::PhysicalId,
        old: &iac_core::provider::Properties,
        new: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Updated, iac_core::provider::HandlerError> {
        self.inner.update(id, old, new).await
    }
    async fn delete(
        &self,
        id: &iac_core::provider::PhysicalId,
        props: &iac_core::provider::Properties,
    ) -> Result<iac_core::provider::Deleted, iac_core::provider::HandlerError> {
        let next = self.answers.lock().unwrap().pop();
        match next {
            Some(kind) => Err(iac_core::provider::HandlerError::new(kind, "not yet")),
            None => self.inner.delete(id, props).await,
        }
    }
}

/// Only transient failures count against `max_transient_attempts`: a delete that waited out
/// more conflicts than that budget still survives one 503.
#[tokio::test(start_paused = true)]
async fn conflicts_do_not_use_up_the_transient_retry_budget() {
    use iac_core::provider::ErrorKind;
    let cloud = iac_core::memory::MemoryCloud::new(MemoryConfig::default());
    let mut answers = vec![ErrorKind::Transient];
    answers.extend(std::iter::repeat_n(ErrorKind::Conflict, 10));
    let mut registry = iac_core::provider::Registry::new();
    registry.register(std::sync::Arc::new(ConflictThenTransient {
        inner: cloud.handler("Test::Object"),
        answers: std::sync::Mutex::new(answers),
    }));
    let engine = iac_core::engine::Engine::builder()
        .provider(registry)
        .build();
    let input = StackInput::new(
        "budget",
        template(json!({"Resources": {"A": {"Type": "Test::Object", "Properties": {}}}})),
    );
    engine.apply(&input, RunOptions::default()).await.unwrap();
    assert_eq!(engine.options().retry.max_transient_attempts, 8);
    let report = engine
        .destroy("budget", RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_success());
    assert!(cloud.is_empty());
}

/// An output whose value is `Fn::Error` carries its error in the report; the stack
/// completes and the other outputs are evaluated. Any other output that cannot be evaluated
/// still fails the stack (the ROS behaviour).
#[tokio::test]
async fn an_fn_error_output_carries_its_error_and_the_stack_completes() {
    let (cloud, engine, _) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let mut t = small_stack();
    t.outputs.insert(
        "Broken".to_owned(),
        serde_json::from_value(json!({"Value": {"Fn::Join": ["-", [
            {"Ref": "Size"}, {"Fn::Error": "get_param names unknown parameter 'foo'"}]]}}))
        .unwrap(),
    );
    let report = engine
        .apply(&input(t.clone()), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.status, Status::CreateComplete);
    assert!(report.is_success());
    assert_eq!(cloud.len(), 4);
    assert_eq!(report.outputs["WebSize"], json!("small"));
    assert!(!report.outputs.contains_key("Broken"));
    assert_eq!(
        report.output_errors["Broken"],
        "Outputs.Broken.Value.Fn::Join[1][1].Fn::Error: get_param names unknown parameter 'foo'"
    );

    t.outputs.insert(
        "BadAttribute".to_owned(),
        serde_json::from_value(json!({"Value": {"Fn::GetAtt": ["Web", "Colour"]}})).unwrap(),
    );
    let err = engine
        .apply(&input(t), RunOptions::default())
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.status, Status::UpdateFailed);
    assert_eq!(
        report
            .failures
            .iter()
            .map(|f| f.logical_id.as_str())
            .collect::<Vec<_>>(),
        ["Outputs.BadAttribute"]
    );
    assert!(report.output_errors.contains_key("Broken"));
}
