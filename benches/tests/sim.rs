//! The report's virtual-time figures on small sizes: the bound really is a lower bound of
//! our apply, a run gives the same time twice, and the Terraform model's waiter driven
//! against the simulator makes exactly the calls the pure model computes.

use std::time::Duration;

use iac_aliyun::sim::{Delays, Faults};
use iac_benches::cloud::{
    Fixture, LATENCY, bound_cost, cluster_delays, cluster_stack, failures, fleet_stack,
    terraform_fleet, terraform_resources,
};
use iac_benches::model::{StateChangeConf, TerraformModel, Workload};

fn latency() -> Faults {
    Faults {
        latency: LATENCY,
        ..Faults::default()
    }
}

async fn apply_clusters() -> Duration {
    let f = Fixture::start(cluster_delays(), latency()).await.unwrap();
    let (report, took) = f.apply(&cluster_stack(1, 2, 3)).await.unwrap();
    assert!(failures(&report).is_empty(), "{:?}", failures(&report));
    took
}

#[tokio::test(start_paused = true)]
async fn the_bound_is_below_our_apply_and_a_run_repeats_exactly() {
    let stack = cluster_stack(1, 2, 3);
    let workload = Workload::from_template(&stack.template().unwrap()).unwrap();
    let delays = cluster_delays();
    let bound = workload
        .critical_path(|i| bound_cost(&workload.types[i], &delays, LATENCY))
        .unwrap();
    let first = apply_clusters().await;
    let second = apply_clusters().await;
    println!(
        "{} resources: {first:?} for a bound of {bound:?}",
        workload.len()
    );
    assert_eq!(first, second, "virtual time repeats");
    assert!(first >= bound, "{first:?} beat the lower bound {bound:?}");
}

#[tokio::test(start_paused = true)]
async fn the_terraform_waiter_on_the_simulator_makes_the_calls_the_model_computes() {
    let delays = Delays {
        instance_pending: Duration::from_secs(10),
        instance_starting: Duration::from_secs(10),
        ..Delays::default()
    };
    let f = Fixture::start(delays.clone(), latency()).await.unwrap();
    let (report, _) = f.apply(&fleet_stack(0)).await.unwrap();
    let physical = |id: &str| {
        report
            .resources
            .iter()
            .find(|r| r.logical_id == id)
            .and_then(|r| r.physical_id.as_ref())
            .unwrap()
            .to_string()
    };
    f.sim.reset_counts();
    let started = tokio::time::Instant::now();
    // 12 instances on 10 slots: two waves.
    terraform_fleet(
        &f.sim,
        &physical("VSwitch"),
        &physical("Sg"),
        12,
        10,
        StateChangeConf::ALICLOUD_ECS,
    )
    .await
    .unwrap();
    let took = started.elapsed();

    // The same 12 instances alone in the model.
    let workload = Workload::from_template(&fleet_stack(12).template().unwrap()).unwrap();
    let resources: Vec<_> = terraform_resources(&workload, &delays)
        .into_iter()
        .zip(&workload.types)
        .filter(|(_, t)| *t == "ALIYUN::ECS::Instance")
        .map(|(mut r, _)| {
            r.deps.clear();
            r
        })
        .collect();
    let schedule = TerraformModel::new(LATENCY).run(&resources).unwrap();
    // Ready 20 s after the create: refreshes sent at 10.05, 13.1 and 19.15 s see it
    // pending, the one at 29.2 s sees it running; 5 calls per instance.
    assert_eq!(schedule.calls, vec![5; 12]);
    assert_eq!(f.sim.calls("RunInstances"), 12);
    assert_eq!(f.sim.calls("DescribeInstances"), 48);
    assert_eq!(schedule.wall, Duration::from_millis(2 * 29_250));
    assert_eq!(took, schedule.wall);
}
