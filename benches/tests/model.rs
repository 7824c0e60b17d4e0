//! The pure parts of the report on tiny graphs, against answers computed by hand: the
//! critical-path bound, the StateChangeConf polling schedule (the reference's table) and
//! the Terraform scheduler model.

use std::time::Duration;

use iac_benches::cloud::{LATENCY, bound_cost, cluster_delays, cluster_stack};
use iac_benches::model::{
    ModelError, ModelResource, StateChangeConf, TerraformModel, Workload, critical_path,
};

/// Seconds, exact to the millisecond.
fn s(secs: f64) -> Duration {
    Duration::from_millis((secs * 1000.0).round() as u64)
}

#[test]
fn the_bound_is_the_costliest_chain_not_the_longest() {
    // 0 → 1 → 3 costs 1 + 5 + 1; 0 → 2 → 3 costs 1 + 2 + 1; 4 alone costs 6.
    let deps = vec![vec![], vec![0], vec![0], vec![1, 2], vec![]];
    let cost = [1, 5, 2, 1, 6];
    assert_eq!(
        critical_path(&deps, |n| Duration::from_secs(cost[n])).unwrap(),
        s(7.0)
    );
    let cost = [1, 5, 2, 1, 8];
    assert_eq!(
        critical_path(&deps, |n| Duration::from_secs(cost[n])).unwrap(),
        s(8.0)
    );
    assert_eq!(critical_path(&[], |_| s(1.0)).unwrap(), Duration::ZERO);
}

#[test]
fn cycles_and_unknown_dependencies_are_errors_not_bounds() {
    let err = critical_path(&[vec![1], vec![0], vec![]], |_| s(1.0)).unwrap_err();
    assert_eq!(err, ModelError::Cycle(vec![0, 1]));
    let err = critical_path(&[vec![], vec![7]], |_| s(1.0)).unwrap_err();
    assert_eq!(err, ModelError::UnknownDependency { node: 1, dep: 7 });
    assert!(err.to_string().contains("depends on 7"), "{err}");
}

#[test]
fn the_cluster_workload_is_six_deep_and_its_bound_runs_through_both_instance_tiers() {
    let template = cluster_stack(2, 3, 13).template().unwrap();
    let workload = Workload::from_template(&template).unwrap();
    assert_eq!(workload.len(), 50);
    assert_eq!(workload.depth().unwrap(), 6);
    let delays = cluster_delays();
    let bound = workload
        .critical_path(|i| bound_cost(&workload.types[i], &delays, LATENCY))
        .unwrap();
    // VPC 3 s, VSwitch 3 s, master 30 s, API backends, worker 30 s, ingress backends: six
    // calls of 50 ms and 66 s of provisioning.
    assert_eq!(bound, s(66.3));
}

#[test]
fn the_waiter_polls_as_the_reference_table_says() {
    let zero = Duration::ZERO;
    // alicloud ECS (Delay 10 s, MinTimeout 3 s): refreshes at 10, 13, 19, 29, 39 ... s.
    let ecs = StateChangeConf::ALICLOUD_ECS;
    assert_eq!(ecs.wait(zero, s(15.0), zero).refreshes, 3);
    assert_eq!(ecs.wait(zero, s(15.0), zero).done, s(19.0));
    assert_eq!(ecs.wait(zero, s(30.0), zero).refreshes, 5);
    assert_eq!(ecs.wait(zero, s(120.0), zero).refreshes, 14);
    assert_eq!(ecs.wait(zero, s(300.0), zero).refreshes, 32);
    // SDK defaults: refreshes at 0, 0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 22.6 s.
    let sdk = StateChangeConf::SDK_DEFAULT;
    let waited = sdk.wait(zero, s(15.0), zero);
    assert_eq!(waited.refreshes, 8);
    assert_eq!(waited.done, s(22.6));
    assert_eq!(sdk.wait(zero, s(60.0), zero).refreshes, 12);
    // OpenStack compute (no delay, MinTimeout 3 s): 0, 3, 9, 19, 29, 39 s for 30 s.
    let openstack = StateChangeConf {
        delay: zero,
        min_timeout: s(3.0),
        poll_interval: zero,
    };
    assert_eq!(openstack.wait(zero, s(30.0), zero).refreshes, 6);
    // A fixed PollInterval replaces the backoff.
    let fixed = StateChangeConf {
        poll_interval: s(5.0),
        ..openstack
    };
    assert_eq!(fixed.wait(zero, s(12.0), zero).done, s(15.0));
}

#[test]
fn each_refresh_takes_the_call_latency_and_sees_the_object_as_it_was_when_sent() {
    // The create returned at 1 s; the object is ready at 15 s; each call takes 1 s.
    // Refresh sent at 11 s (not ready) returns at 12 s; 3 s later one sent at 15 s sees it.
    let waited = StateChangeConf::ALICLOUD_ECS.wait(s(1.0), s(15.0), s(1.0));
    assert_eq!(waited.refreshes, 2);
    assert_eq!(waited.done, s(16.0));
}

fn instance(deps: Vec<usize>, ready_after: f64) -> ModelResource {
    ModelResource {
        deps,
        ready_after: s(ready_after),
        waiter: Some(StateChangeConf::ALICLOUD_ECS),
    }
}

fn immediate(deps: Vec<usize>) -> ModelResource {
    ModelResource {
        deps,
        ready_after: Duration::ZERO,
        waiter: None,
    }
}

#[test]
fn a_slot_is_held_through_the_wait() {
    // Two slots, three instances ready after 15 s, free calls: two finish at 19 s (refreshes
    // at 10, 13, 19), the third takes a slot then and finishes at 38 s.
    let model = TerraformModel {
        parallelism: 2,
        latency: Duration::ZERO,
    };
    let schedule = model
        .run(&[
            instance(vec![], 15.0),
            instance(vec![], 15.0),
            instance(vec![], 15.0),
        ])
        .unwrap();
    assert_eq!(schedule.start, vec![s(0.0), s(0.0), s(19.0)]);
    assert_eq!(schedule.finish, vec![s(19.0), s(19.0), s(38.0)]);
    assert_eq!(schedule.wall, s(38.0));
    assert_eq!(schedule.calls, vec![4, 4, 4]);
    assert_eq!(schedule.total_calls(), 12);

    // Terraform's default of 10 slots: the 11th instance waits for the first ten.
    let eleven: Vec<_> = (0..11).map(|_| instance(vec![], 15.0)).collect();
    let schedule = TerraformModel::new(Duration::ZERO).run(&eleven).unwrap();
    assert_eq!(schedule.wall, s(38.0));
}

#[test]
fn a_dependant_starts_when_its_dependency_is_done_and_calls_take_their_latency() {
    // A (ready at once) then B (an instance ready 15 s after its create), 1 s per call:
    // A 0 → 1 s; B created at 1 s (answer at 2 s, ready at 16 s), refreshes sent at 12 s
    // (not ready) and 16 s (ready), done at 17 s.
    let schedule = TerraformModel::new(s(1.0))
        .run(&[immediate(vec![]), instance(vec![0], 15.0)])
        .unwrap();
    assert_eq!(schedule.start, vec![s(0.0), s(1.0)]);
    assert_eq!(schedule.finish, vec![s(1.0), s(17.0)]);
    assert_eq!(schedule.calls, vec![1, 3]);
    assert_eq!(schedule.wall, s(17.0));
}

#[test]
fn eligible_resources_take_slots_in_order() {
    // One slot: 0 and 2 are eligible at once, 1 after 0; 2 was waiting first, so it goes
    // before 1 even though 1 has the lower index.
    let model = TerraformModel {
        parallelism: 1,
        latency: s(1.0),
    };
    let schedule = model
        .run(&[immediate(vec![]), immediate(vec![0]), immediate(vec![])])
        .unwrap();
    assert_eq!(schedule.start, vec![s(0.0), s(2.0), s(1.0)]);
    assert_eq!(schedule.wall, s(3.0));
}

#[test]
fn the_model_refuses_what_it_cannot_schedule() {
    let model = TerraformModel {
        parallelism: 0,
        latency: s(1.0),
    };
    assert_eq!(model.run(&[immediate(vec![])]), Err(ModelError::NoSlots));
    let model = TerraformModel::new(s(1.0));
    assert_eq!(
        model.run(&[immediate(vec![1]), immediate(vec![0])]),
        Err(ModelError::Cycle(vec![0, 1]))
    );
}
