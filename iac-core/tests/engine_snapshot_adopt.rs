//! `DeletionPolicy: Snapshot` and `ExternalId` through the engine, on the memory cloud:
//! snapshots before destroy, replacement and rollback deletes, failures and crashes while a
//! snapshot is pending; adopting, reading, re-importing and forgetting existing objects.

use std::sync::Arc;
use std::time::Duration;

use iac_core::Template;
use iac_core::engine::{
    Action, Engine, EngineError, FailurePolicy, RunOptions, StackInput, Status, events,
};
use iac_core::memory::{Faults, MemoryCloud, MemoryConfig};
use iac_core::provider::{
    ClientToken, CreateRequest, PhysicalId, Readiness, Registry, ResourceHandler, Schema,
    SnapshotRequest, UpdateBehavior,
};
use iac_core::state::{MemoryStateStore, SnapshotState, StateStore};
use serde_json::json;

/// `Test::Volume` takes snapshots (its `Size` forces a replacement); `Test::Thing` does not.
fn setup(config: MemoryConfig) -> (MemoryCloud, Engine, MemoryStateStore) {
    let cloud = MemoryCloud::new(config);
    let mut registry = Registry::new();
    registry.register(
        cloud.handler_with_schema(
            Schema::new("Test::Volume")
                .with_property("Size", true, UpdateBehavior::ForcesReplacement)
                .with_property("Name", false, UpdateBehavior::Mutable)
                .with_attributes(&["Id", "Size"])
                .with_readiness_hint(Duration::from_secs(1))
                .with_snapshots(),
        ),
    );
    registry.register(cloud.handler("Test::Thing"));
    let store = MemoryStateStore::new();
    let engine = Engine::builder()
        .provider(registry)
        .state(store.clone())
        .failure_policy(FailurePolicy::Rollback)
        .seed(3)
        .build();
    (cloud, engine, store)
}

fn template(json: serde_json::Value) -> Template {
    serde_json::from_value(json).expect("a valid template")
}

fn volume_stack(size: u64) -> StackInput {
    StackInput::new(
        "vols",
        template(json!({"Resources": {
            "Net": {"Type": "Test::Thing", "Properties": {"Name": "net"}},
            "Vol": {"Type": "Test::Volume", "DeletionPolicy": "Snapshot",
                    "Properties": {"Size": size, "Net": {"Ref": "Net"}}}
        }})),
    )
}

fn slow() -> MemoryConfig {
    MemoryConfig {
        ready_after: Duration::from_secs(20),
        ..MemoryConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn destroy_snapshots_the_volume_waits_for_it_then_deletes_the_volume() {
    let (cloud, engine, store) = setup(slow());
    engine
        .apply(&volume_stack(10), RunOptions::default())
        .await
        .unwrap();
    let vol = store.load("vols").await.unwrap().unwrap().resources["Vol"]
        .physical_id
        .clone()
        .unwrap();
    let (tx, mut rx) = events::channel();
    let report = engine
        .destroy("vols", RunOptions::default().with_events(tx))
        .await
        .unwrap();
    assert!(cloud.is_empty(), "{:?}", cloud.inventory());
    let snapshots = cloud.snapshots();
    assert_eq!(snapshots.len(), 1);
    let (snapshot_id, snapshot) = snapshots.into_iter().next().unwrap();
    assert_eq!(snapshot.of, vol);
    // Polled until complete (it took 20 s), then the delete went on.
    assert!(cloud.calls()["read_snapshot"] >= 1);
    let handler = cloud.handler_with_schema(Schema::new("Test::Volume").with_snapshots());
    assert!(matches!(
        handler.read_snapshot(&snapshot_id).await.unwrap(),
        Readiness::Ready(_)
    ));
    assert_eq!(report.snapshots.len(), 1);
    assert_eq!(report.snapshots[0].logical_id, "Vol");
    assert_eq!(report.snapshots[0].physical_id, vol);
    assert_eq!(report.snapshots[0].snapshot_id, snapshot_id);
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let done = events
        .iter()
        .find(|e| &*e.logical_id == "Vol" && e.status == Status::DeleteComplete)
        .unwrap();
    let reason = done.reason.as_deref().unwrap();
    assert!(
        reason.contains(snapshot_id.as_str()) && reason.contains(vol.as_str()),
        "{reason}"
    );
    // The Thing has no snapshot policy: deleted without one.
    assert!(report.snapshots.iter().all(|s| s.logical_id != "Net"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_snapshot_stops_the_delete_and_keeps_the_volume() {
    let (cloud, engine, store) = setup(MemoryConfig {
        faults: Faults {
            fail_snapshot: ["Vol".to_owned()].into(),
            ..Faults::default()
        },
        ..slow()
    });
    engine
        .apply(&volume_stack(10), RunOptions::default())
        .await
        .unwrap();
    let err = engine
        .destroy("vols", RunOptions::default())
        .await
        .unwrap_err();
    let EngineError::Failed(report) = err else {
        panic!("{err}")
    };
    assert_eq!(report.status, Status::DeleteFailed);
    let failure = &report.failures[0];
    assert_eq!(
        (failure.logical_id.as_str(), failure.status),
        ("Vol", Status::DeleteFailed)
    );
    assert!(
        failure.message.contains("snapshot") && failure.message.contains("kept, not deleted"),
        "{}",
        failure.message
    );
    assert!(report.snapshots.is_empty());
    // The volume and what it depends on are still there, and still in the state.
    assert_eq!(cloud.len(), 2);
    let state = store.load("vols").await.unwrap().unwrap();
    assert!(state.resources["Vol"].physical_id.is_some());
    assert!(
        state.resources["Vol"].snapshots.is_empty(),
        "a failed snapshot is not kept as if it were pending"
    );
}

#[tokio::test]
async fn snapshot_is_refused_for_a_type_that_takes_none() {
    let (cloud, engine, _) = setup(MemoryConfig::default());
    let input = StackInput::new(
        "bad",
        template(json!({"Resources": {
            "Box": {"Type": "Test::Thing", "DeletionPolicy": "Snapshot"}
        }})),
    );
    let err = engine
        .apply(&input, RunOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Resources.Box.DeletionPolicy")
            && text.contains("\"Snapshot\" deletion policy not supported")
            && text.contains("'Box'")
            && text.contains("Test::Thing"),
        "{text}"
    );
    assert!(engine.plan(&input).await.is_err());
    assert!(cloud.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_crash_while_the_snapshot_is_pending_resumes_it_without_a_second_one() {
    let (cloud, engine, store) = setup(slow());
    engine
        .apply(&volume_stack(10), RunOptions::default())
        .await
        .unwrap();
    // Killed 5 s into the destroy: the snapshot was started, it takes 20 s.
    let killed = tokio::time::timeout(
        Duration::from_secs(5),
        engine.destroy("vols", RunOptions::default()),
    )
    .await;
    assert!(killed.is_err(), "the destroy must still be running");
    let state = store.load("vols").await.unwrap().unwrap();
    let rec = &state.resources["Vol"];
    let recorded = rec
        .snapshots
        .first()
        .expect("the journal knows the snapshot");
    assert!(recorded.snapshot_id.is_some() && !recorded.complete);
    assert_eq!(cloud.snapshots().len(), 1);
    assert!(
        cloud
            .inventory()
            .contains_key(rec.physical_id.as_ref().unwrap())
    );

    let report = engine.destroy("vols", RunOptions::default()).await.unwrap();
    assert_eq!(cloud.snapshots().len(), 1, "no second snapshot");
    assert!(cloud.is_empty());
    assert_eq!(
        Some(&report.snapshots[0].snapshot_id),
        recorded.snapshot_id.as_ref()
    );
}

#[tokio::test]
async fn a_snapshot_call_whose_answer_was_lost_is_found_again_by_its_token() {
    let (cloud, engine, store) = setup(MemoryConfig::default());
    engine
        .apply(&volume_stack(10), RunOptions::default())
        .await
        .unwrap();
    // What a run killed during the snapshot call leaves: the snapshot, made by the cloud,
    // and a record of the call with its token but without the answer.
    let mut state = store.load("vols").await.unwrap().unwrap();
    let rec = state.resources.get_mut("Vol").unwrap();
    let vol = rec.physical_id.clone().unwrap();
    let token = ClientToken::derive("vols", "Vol/snapshot", 1);
    let handler = cloud.handler_with_schema(Schema::new("Test::Volume").with_snapshots());
    let made = handler
        .snapshot(SnapshotRequest {
            stack: "vols",
            logical_id: "Vol",
            physical_id: &vol,
            properties: &rec.properties,
            client_token: &token,
        })
        .await
        .unwrap()
        .snapshot_id;
    rec.snapshots.push(SnapshotState {
        of: vol.clone(),
        client_token: token,
        snapshot_id: None,
        complete: false,
    });
    state.bump_serial();
    store.save(&state).await.unwrap();

    let report = engine.destroy("vols", RunOptions::default()).await.unwrap();
    assert_eq!(cloud.snapshots().len(), 1);
    assert_eq!(report.snapshots[0].snapshot_id, made);
    assert!(cloud.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replacement_snapshots_the_old_volume_before_deleting_it() {
    let (cloud, engine, store) = setup(slow());
    engine
        .apply(&volume_stack(10), RunOptions::default())
        .await
        .unwrap();
    let old = store.load("vols").await.unwrap().unwrap().resources["Vol"]
        .physical_id
        .clone()
        .unwrap();
    let report = engine
        .apply(&volume_stack(20), RunOptions::default())
        .await
        .unwrap();
    assert!(!cloud.inventory().contains_key(&old));
    assert_eq!(report.snapshots.len(), 1);
    assert_eq!(report.snapshots[0].physical_id, old);
    assert_eq!(cloud.snapshots()[&report.snapshots[0].snapshot_id].of, old);
    // Removing the resource from the template takes a snapshot too.
    let input = StackInput::new(
        "vols",
        template(json!({"Resources": {
            "Net": {"Type": "Test::Thing", "Properties": {"Name": "net"}}
        }})),
    );
    let plan = engine.plan(&input).await.unwrap();
    let vol = plan.resource("Vol").unwrap();
    assert_eq!(vol.action, Action::Delete);
    assert!(vol.reason.as_deref().unwrap().contains("snapshot"));
    let report = engine.apply(&input, RunOptions::default()).await.unwrap();
    assert_eq!(report.snapshots.len(), 1);
    assert_eq!(cloud.snapshots().len(), 2);
    assert_eq!(cloud.len(), 1);
}

#[tokio::test]
async fn a_rollback_deletes_what_the_failed_apply_created_without_a_snapshot() {
    let (cloud, engine, store) = setup(MemoryConfig {
        faults: Faults {
            fail_create: ["Bad".to_owned()].into(),
            ..Faults::default()
        },
        ..MemoryConfig::default()
    });
    let input = StackInput::new(
        "vols",
        template(json!({"Resources": {
            "Vol": {"Type": "Test::Volume", "DeletionPolicy": "Snapshot",
                    "Properties": {"Size": 1}},
            "Bad": {"Type": "Test::Thing", "Properties": {"V": {"Ref": "Vol"}}}
        }})),
    );
    let err = engine
        .apply(&input, RunOptions::default())
        .await
        .unwrap_err();
    let EngineError::Failed(report) = err else {
        panic!("{err}")
    };
    assert_eq!(report.status, Status::RollbackComplete);
    assert!(cloud.is_empty());
    assert!(cloud.snapshots().is_empty());
    assert!(report.snapshots.is_empty());
    let state = store.load("vols").await.unwrap();
    assert!(state.is_none_or(|s| s.resources.is_empty()));
}

// ---- ExternalId ------------------------------------------------------------------------

/// Makes an object outside any stack, as someone else would have.
async fn existing(cloud: &MemoryCloud, name: &str, size: u64) -> PhysicalId {
    let handler =
        cloud.handler_with_schema(Schema::new("Test::Volume").with_attributes(&["Id", "Size"]));
    let props = Arc::new(
        json!({"Size": size, "Name": name})
            .as_object()
            .cloned()
            .unwrap(),
    );
    handler
        .create(CreateRequest {
            stack: "elsewhere",
            logical_id: name,
            properties: &props,
            client_token: &ClientToken::derive("elsewhere", name, 1),
        })
        .await
        .unwrap()
        .physical_id
}

fn adopting(id: &str) -> StackInput {
    StackInput::new(
        "adopt",
        template(json!({
            "Parameters": {"VolumeId": {"Type": "String"}},
            "Resources": {
                "Vol": {"Type": "Test::Volume", "ExternalId": {"Ref": "VolumeId"},
                        "Properties": {"Size": 999}},
                "User": {"Type": "Test::Thing", "Properties": {
                    "VolumeSize": {"Fn::GetAtt": ["Vol", "Size"]},
                    "VolumeId": {"Ref": "Vol"}}}
            }
        })),
    )
    .with_parameter("VolumeId", id)
}

#[tokio::test]
async fn an_adopted_object_serves_its_dependents_and_survives_the_destroy() {
    let (cloud, engine, store) = setup(MemoryConfig::default());
    let vol = existing(&cloud, "data", 40).await;
    let input = adopting(vol.as_str());
    let plan = engine.plan(&input).await.unwrap();
    let planned = plan.resource("Vol").unwrap();
    assert_eq!(planned.action, Action::Import);
    assert_eq!(planned.physical_id.as_ref(), Some(&vol));
    let shown = plan.to_string();
    assert!(
        shown.contains("<= Vol (Test::Volume)") && shown.contains("1 to import"),
        "{shown}"
    );

    let (tx, mut rx) = events::channel();
    engine
        .apply(&input, RunOptions::default().with_events(tx))
        .await
        .unwrap();
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let adopted = events
        .iter()
        .find(|e| &*e.logical_id == "Vol" && e.status == Status::CreateComplete)
        .unwrap();
    assert!(adopted.reason.as_deref().unwrap().contains("adopted"));
    // Read, never created nor updated: its size is its own, not the template's 999.
    assert_eq!(
        cloud.calls().get("create"),
        Some(&2),
        "the pre-made one and User"
    );
    assert!(!cloud.calls().contains_key("update"));
    let state = store.load("adopt").await.unwrap().unwrap();
    assert!(state.resources["Vol"].external);
    let user = cloud
        .inventory()
        .into_values()
        .find(|o| &*o.logical_id == "User")
        .unwrap();
    assert_eq!(user.properties["VolumeSize"], json!(40));
    assert_eq!(user.properties["VolumeId"], json!(vol.as_str()));
    assert!(engine.plan(&input).await.unwrap().is_empty());

    let (tx, mut rx) = events::channel();
    engine
        .destroy("adopt", RunOptions::default().with_events(tx))
        .await
        .unwrap();
    assert_eq!(cloud.len(), 1);
    assert!(cloud.inventory().contains_key(&vol));
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let forgotten = events
        .iter()
        .find(|e| &*e.logical_id == "Vol" && e.status == Status::DeleteSkipped)
        .unwrap();
    assert!(
        forgotten
            .reason
            .as_deref()
            .unwrap()
            .contains("never deleted")
    );
}

#[tokio::test]
async fn adopting_a_missing_object_fails_naming_the_resource_and_the_id() {
    let (cloud, engine, _) = setup(MemoryConfig::default());
    let err = engine
        .apply(&adopting("mem-404"), RunOptions::default())
        .await
        .unwrap_err();
    let EngineError::Failed(report) = err else {
        panic!("{err}")
    };
    let failure = &report.failures[0];
    assert_eq!(
        (failure.logical_id.as_str(), failure.status),
        ("Vol", Status::CreateFailed)
    );
    assert!(
        failure.message.contains("'Vol'") && failure.message.contains("mem-404"),
        "{}",
        failure.message
    );
    assert!(report.skipped.contains(&"User".to_owned()) || cloud.is_empty());
    assert!(cloud.is_empty());
}

#[tokio::test]
async fn a_changed_external_id_re_imports_and_forgets_the_first_object() {
    let (cloud, engine, store) = setup(MemoryConfig::default());
    let first = existing(&cloud, "first", 10).await;
    let second = existing(&cloud, "second", 20).await;
    engine
        .apply(&adopting(first.as_str()), RunOptions::default())
        .await
        .unwrap();
    let input = adopting(second.as_str());
    let plan = engine.plan(&input).await.unwrap();
    let vol = plan.resource("Vol").unwrap();
    assert_eq!(vol.action, Action::Import);
    let reason = vol.reason.as_deref().unwrap();
    assert!(
        reason.contains(first.as_str()) && reason.contains(second.as_str()),
        "{reason}"
    );
    engine.apply(&input, RunOptions::default()).await.unwrap();
    let state = store.load("adopt").await.unwrap().unwrap();
    assert_eq!(state.resources["Vol"].physical_id.as_ref(), Some(&second));
    assert!(cloud.inventory().contains_key(&first) && cloud.inventory().contains_key(&second));
    let user = cloud
        .inventory()
        .into_values()
        .find(|o| &*o.logical_id == "User")
        .unwrap();
    assert_eq!(user.properties["VolumeSize"], json!(20));
}

#[tokio::test]
async fn an_external_id_uses_parameters_only_and_cannot_switch_a_created_resource() {
    let (cloud, engine, _) = setup(MemoryConfig::default());
    let from_resource = StackInput::new(
        "adopt",
        template(json!({"Resources": {
            "A": {"Type": "Test::Thing"},
            "B": {"Type": "Test::Thing", "ExternalId": {"Ref": "A"}}
        }})),
    );
    let err = engine.plan(&from_resource).await.unwrap_err().to_string();
    assert!(
        err.contains("Resources.B.ExternalId") && err.contains("can only use parameters"),
        "{err}"
    );

    let created = StackInput::new(
        "switch",
        template(
            json!({"Resources": {"Vol": {"Type": "Test::Volume", "Properties": {"Size": 1}}}}),
        ),
    );
    engine.apply(&created, RunOptions::default()).await.unwrap();
    let other = existing(&cloud, "other", 5).await;
    let switched = StackInput::new(
        "switch",
        template(json!({"Resources": {"Vol": {"Type": "Test::Volume",
            "ExternalId": other.as_str(), "Properties": {"Size": 1}}}})),
    );
    let err = engine.plan(&switched).await.unwrap_err().to_string();
    assert!(
        err.contains("Resources.Vol.ExternalId") && err.contains("cannot become an adopted"),
        "{err}"
    );
    let err = engine
        .apply(&switched, RunOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot become an adopted"), "{err}");
    assert_eq!(cloud.len(), 2, "nothing deleted, nothing adopted");
}

#[tokio::test(start_paused = true)]
async fn an_adopt_cut_short_by_a_crash_is_read_again_by_the_next_apply() {
    let (cloud, engine, store) = setup(MemoryConfig {
        call_latency: Duration::from_secs(10),
        ..MemoryConfig::default()
    });
    let vol = existing(&cloud, "data", 40).await;
    let input = adopting(vol.as_str());
    let killed = tokio::time::timeout(
        Duration::from_secs(5),
        engine.apply(&input, RunOptions::default()),
    )
    .await;
    assert!(killed.is_err(), "the apply must still be reading");
    let state = store.load("adopt").await.unwrap().unwrap();
    let rec = &state.resources["Vol"];
    assert!(
        rec.external && rec.physical_id.as_ref() == Some(&vol),
        "{rec:?}"
    );
    let plan = engine.plan(&input).await.unwrap();
    assert_eq!(plan.resource("Vol").unwrap().action, Action::Import);
    engine.apply(&input, RunOptions::default()).await.unwrap();
    assert!(engine.plan(&input).await.unwrap().is_empty());
    assert_eq!(cloud.creates().get("Vol"), None, "adopted, never created");
}

#[tokio::test]
async fn a_rollback_forgets_what_the_failed_apply_adopted_and_deletes_nothing_of_it() {
    let (cloud, engine, store) = setup(MemoryConfig {
        faults: Faults {
            fail_create: ["User".to_owned()].into(),
            ..Faults::default()
        },
        ..MemoryConfig::default()
    });
    let vol = existing(&cloud, "data", 40).await;
    let (tx, mut rx) = events::channel();
    let err = engine
        .apply(
            &adopting(vol.as_str()),
            RunOptions::default().with_events(tx),
        )
        .await
        .unwrap_err();
    let EngineError::Failed(report) = err else {
        panic!("{err}")
    };
    assert_eq!(report.status, Status::RollbackComplete);
    assert!(cloud.inventory().contains_key(&vol));
    let state = store.load("adopt").await.unwrap();
    assert!(state.is_none_or(|s| !s.resources.contains_key("Vol")));
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert!(events.iter().any(|e| {
        &*e.logical_id == "Vol"
            && e.status == Status::DeleteSkipped
            && e.reason
                .as_deref()
                .is_some_and(|r| r.contains("never deleted"))
    }));
}

#[tokio::test(start_paused = true)]
async fn a_delete_before_create_replacement_snapshots_the_old_object_first() {
    let cloud = MemoryCloud::new(slow());
    let mut registry = Registry::new();
    registry.register(
        cloud.handler_with_schema(
            Schema::new("Test::Disk")
                .with_property("Name", true, UpdateBehavior::ForcesReplacement)
                .with_replace_order(iac_core::provider::ReplaceOrder::DeleteBeforeCreate)
                .with_snapshots(),
        ),
    );
    let engine = Engine::builder()
        .provider(registry)
        .state(MemoryStateStore::new())
        .build();
    let input = |name: &str| {
        StackInput::new(
            "disk",
            template(json!({"Resources": {"Disk": {"Type": "Test::Disk",
                "DeletionPolicy": "Snapshot", "Properties": {"Name": name}}}})),
        )
    };
    let first = engine
        .apply(&input("a"), RunOptions::default())
        .await
        .unwrap();
    let old = first.resources[0].physical_id.clone().unwrap();
    let (tx, mut rx) = events::channel();
    let report = engine
        .apply(&input("b"), RunOptions::default().with_events(tx))
        .await
        .unwrap();
    assert_eq!(report.snapshots.len(), 1);
    assert_eq!(cloud.snapshots()[&report.snapshots[0].snapshot_id].of, old);
    assert!(!cloud.inventory().contains_key(&old));
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let deleted = events
        .iter()
        .position(|e| e.status == Status::DeleteComplete && !e.is_stack_event())
        .expect("the old disk's delete is told, with its snapshot");
    assert!(
        events[deleted]
            .reason
            .as_deref()
            .unwrap()
            .contains(old.as_str())
    );
    let created = events
        .iter()
        .rposition(|e| e.status == Status::CreateComplete && !e.is_stack_event())
        .unwrap();
    assert!(
        deleted < created,
        "deleted (after its snapshot) before the new one is made"
    );
}

/// Destroys of random graphs of snapshotted volumes, killed at random points (lost answers
/// and transient faults too), then finished: every volume has exactly one snapshot, and
/// none was deleted before its snapshot was complete.
#[test]
fn destroys_killed_at_random_points_snapshot_each_volume_once_and_before_its_delete() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut total_crashes = 0;
    for seed in 0..30u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        total_crashes += rt.block_on(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = rng.gen_range(2..12);
            let (cloud, engine, store) = setup(MemoryConfig {
                faults: Faults {
                    seed,
                    timeout_after_success: 0.1,
                    transient: 0.05,
                    ..Faults::default()
                },
                call_latency: Duration::from_millis(rng.gen_range(10..200)),
                ready_after: Duration::from_millis(rng.gen_range(0..3000)),
                ..MemoryConfig::default()
            });
            let mut resources = serde_json::Map::new();
            for i in 0..n {
                let uses: Vec<_> = (0..i)
                    .filter(|_| rng.gen_bool(0.3))
                    .map(|j| json!({"Ref": format!("V{j}")}))
                    .collect();
                resources.insert(
                    format!("V{i}"),
                    json!({"Type": "Test::Volume", "DeletionPolicy": "Snapshot",
                           "Properties": {"Size": i, "Uses": uses}}),
                );
            }
            let input = StackInput::new("vols", template(json!({ "Resources": resources })));
            engine.apply(&input, RunOptions::default()).await.unwrap();
            let objects: std::collections::BTreeSet<PhysicalId> =
                cloud.inventory().into_keys().collect();
            assert_eq!(objects.len(), n);
            let mut crashes = 0;
            for _ in 0..3 {
                let after = Duration::from_millis(rng.gen_range(0..4000));
                match tokio::time::timeout(after, engine.destroy("vols", RunOptions::default()))
                    .await
                {
                    Ok(result) => {
                        result.unwrap();
                        break;
                    }
                    Err(_) => crashes += 1,
                }
            }
            if store.load("vols").await.unwrap().is_some() {
                engine.destroy("vols", RunOptions::default()).await.unwrap();
            }
            assert!(cloud.is_empty(), "seed {seed}");
            let snapshots = cloud.snapshots();
            let of: std::collections::BTreeSet<PhysicalId> =
                snapshots.values().map(|s| s.of.clone()).collect();
            assert_eq!(snapshots.len(), n, "seed {seed}: one snapshot per volume");
            assert_eq!(of, objects, "seed {seed}");
            for (object, deleted_at) in cloud.deletions() {
                let snapshot = snapshots.values().find(|s| s.of == object).unwrap();
                assert!(
                    snapshot.ready_at() <= deleted_at,
                    "seed {seed}: {object} deleted before its snapshot was complete"
                );
            }
            crashes
        });
    }
    assert!(
        total_crashes >= 20,
        "the random points must interrupt destroys: {total_crashes} crashes"
    );
}

/// Snapshot calls that wait for their rate limit's slot are sent when the slot comes: with
/// one snapshot call a second allowed, six volumes destroyed at once queue five of them.
#[tokio::test(start_paused = true)]
async fn snapshots_queued_behind_their_rate_limit_are_all_taken() {
    let cloud = MemoryCloud::new(slow());
    let mut registry = Registry::new();
    registry.register(
        cloud.handler_with_schema(
            Schema::new("Test::Volume")
                .with_property("Size", true, UpdateBehavior::ForcesReplacement)
                .with_attributes(&["Id"])
                .with_snapshots(),
        ),
    );
    let mut options = iac_core::engine::EngineOptions::default();
    options.rate_limit.initial_rate = Some(1.0);
    options.rate_limit.increase_step = 0.0;
    let engine = Engine::builder()
        .provider(registry)
        .state(MemoryStateStore::new())
        .options(options)
        .seed(5)
        .build();
    let resources: serde_json::Map<String, serde_json::Value> = (0..6)
        .map(|i| {
            (
                format!("Vol{i}"),
                json!({"Type": "Test::Volume", "DeletionPolicy": "Snapshot",
                       "Properties": {"Size": i}}),
            )
        })
        .collect();
    let input = StackInput::new("queued", template(json!({ "Resources": resources })));
    engine.apply(&input, RunOptions::default()).await.unwrap();
    let started = tokio::time::Instant::now();
    let report = engine
        .destroy("queued", RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.snapshots.len(), 6, "{:?}", report.snapshots);
    assert_eq!(cloud.snapshots().len(), 6);
    assert_eq!(cloud.len(), 0, "every volume is deleted after its snapshot");
    // Six snapshot calls at one a second: the last is sent five seconds after the first.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
