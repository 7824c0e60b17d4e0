//! Performance harness of the iac SDK.
//!
//! The criterion benches live in `benches/benches/`; `cargo bench -p iac-benches` runs them.
//! This library holds the workloads they share, so that a bench and a test measure the same
//! thing.
//!
//! ```
//! let template = iac_benches::tree_template(100);
//! assert_eq!(template.resources.len(), 100);
//! ```

use std::time::{Duration, Instant};

pub mod cloud;
pub mod model;
pub mod openstack;

use iac_aliyun::sign::rpc;
use iac_core::Expr;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::expr::ExprMap;
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::model::{ResourceSpec, Template};
use iac_core::state::MemoryStateStore;

/// The resource type every bench workload uses.
pub const BENCH_TYPE: &str = "Bench::Thing";

/// A stack of `n` resources shaped as a binary tree: resource `i` references resource
/// `(i - 1) / 2` through `Ref`, so the graph has `n - 1` edges and depth `log2 n`.
pub fn tree_template(n: usize) -> Template {
    let mut template = Template::default();
    for i in 0..n {
        let mut spec = ResourceSpec::new(BENCH_TYPE);
        let mut props = ExprMap::new();
        props.insert("Index".into(), Expr::from(i as i64));
        props.insert("Name".into(), Expr::String(format!("thing-{i}")));
        if i > 0 {
            props.insert(
                "Parent".into(),
                Expr::reference(format!("R{}", (i - 1) / 2)),
            );
        }
        spec.properties = props;
        template.resources.insert(format!("R{i}"), spec);
    }
    template
}

/// The runtime the engine benches run on: one thread, with timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

/// A zero-latency in-memory cloud serving [`BENCH_TYPE`], and an engine over it with a
/// memory state store.
pub fn fresh_engine() -> (MemoryCloud, Engine) {
    let cloud = MemoryCloud::new(MemoryConfig {
        enforce_references: false,
        ..Default::default()
    });
    let engine = Engine::builder()
        .provider(cloud.registry(&[BENCH_TYPE]))
        .state(MemoryStateStore::new())
        .concurrency(64)
        .seed(1)
        .build();
    (cloud, engine)
}

/// Plans `input`, then applies that plan (as a caller who reviewed it would); returns the
/// time both took.
///
/// ```
/// let rt = iac_benches::runtime();
/// let (cloud, engine) = iac_benches::fresh_engine();
/// let input = iac_core::engine::StackInput::new("doc", iac_benches::tree_template(10));
/// iac_benches::plan_then_apply(&rt, &engine, &input);
/// assert_eq!(cloud.len(), 10);
/// ```
pub fn plan_then_apply(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    input: &StackInput,
) -> Duration {
    let start = Instant::now();
    rt.block_on(async {
        let plan = engine.plan(input).await.expect("plan");
        assert_eq!(plan.resources.len(), input.template.resources.len());
        engine
            .apply_plan(plan, RunOptions::default())
            .await
            .expect("apply");
    });
    start.elapsed()
}

/// One plan + apply of `input` on a fresh cloud and state; returns the time taken (the
/// set-up and the teardown are not counted).
pub fn plan_and_apply_fresh(rt: &tokio::runtime::Runtime, input: &StackInput) -> Duration {
    let (cloud, engine) = fresh_engine();
    let took = plan_then_apply(rt, &engine, input);
    assert_eq!(cloud.len(), input.template.resources.len());
    took
}

/// A typical `RunInstances` call (about 25 parameters with tags and a base64 user-data
/// script), the request the signing figures sign.
pub fn run_instances_call() -> rpc::RpcCall<'static> {
    let mut params: Vec<(String, String)> = [
        ("ImageId", "ubuntu_22_04_x64_20G_alibase_20240926.vhd"),
        ("InstanceType", "ecs.g7.large"),
        ("SecurityGroupId", "sg-bp1fg655nh68xyz9i3f9"),
        ("VSwitchId", "vsw-bp1s5fnvk4gn2tws03624"),
        ("InstanceName", "k8s-node-[1,3]"),
        ("HostName", "k8s-node-[1,3]"),
        ("Amount", "3"),
        ("SystemDisk.Category", "cloud_essd"),
        ("SystemDisk.Size", "40"),
        ("InternetMaxBandwidthOut", "0"),
        ("ClientToken", "iac-k8s-demo-K8sNodes-1-8f3a9c2e4b7d6a10"),
        ("UserData", "IyEvYmluL2Jhc2gKc2V0IC1ldW8gcGlwZWZhaWwKa3ViZWFkbSBqb2luIDE5Mi4xNjguMS4xMDo2NDQzIC0tdG9rZW4gYWJjZGVmLjAxMjM0NTY3ODlhYmNkZWYK"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    params.extend(rpc::flatten_objects(
        "Tag",
        &[
            vec![("Key", "iac:stack".into()), ("Value", "k8s-demo".into())],
            vec![
                ("Key", "iac:logical-id".into()),
                ("Value", "K8sNodes".into()),
            ],
        ],
    ));
    rpc::RpcCall {
        method: "POST",
        action: "RunInstances",
        version: "2014-05-26",
        region: Some("cn-hangzhou"),
        params,
    }
}
