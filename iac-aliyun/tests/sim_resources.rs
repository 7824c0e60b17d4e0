//! Every `ALIYUN::*` resource through the engine, the client and the simulator's wire
//! protocol: created, planned again, updated, scaled, replaced and destroyed; under injected
//! faults and throttling; and the API cost of a 200-instance fleet.

use std::collections::BTreeMap;
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::resources::types::{
    BackendServerAttachment, Bucket, FileSystem, Instance, InstanceGroup, Listener, LoadBalancer,
    MountTarget, Rule, SecurityGroup, SecurityGroupIngress, VSwitch, Vpc,
};
use iac_aliyun::sim::{Delays, Faults, SimConfig, Simulator};
use iac_core::engine::{Action, Engine, RunOptions, StackInput};
use iac_core::stack::{Param, Prop, Stack};
use iac_core::state::MemoryStateStore;

struct Fixture {
    sim: Simulator,
    engine: Engine,
}

async fn fixture(delays: Delays) -> Fixture {
    let sim = Simulator::start(SimConfig {
        delays,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts");
    let client = Client::new(
        ClientConfig::new(sim.region(), sim.access_key())
            .with_endpoint(sim.endpoint())
            .with_connection_pool(false),
    )
    .unwrap();
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .seed(11)
        .build();
    Fixture { sim, engine }
}

/// A network, a master, a node group behind a load balancer, NAS and a bucket: one of each
/// type. `NodeCount` sizes the group.
fn full_stack(vpc_name: &str) -> Stack {
    let mut stack = Stack::new("all-types");
    let nodes = stack.parameter("NodeCount", Param::integer().default(2).min_value(1));
    let vpc = stack.add(
        "Vpc",
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            vpc_name: vpc_name.into(),
            ..Default::default()
        },
    );
    let vsw = stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: "cn-hangzhou-h".into(),
            cidr_block: "192.168.1.0/24".into(),
            ..Default::default()
        },
    );
    let sg = stack.add(
        "SecurityGroup",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            security_group_ingress: vec![Rule::ingress("tcp", "22/22", "0.0.0.0/0")].into(),
            ..Default::default()
        },
    );
    stack.add(
        "ApiIngress",
        SecurityGroupIngress {
            security_group_id: sg.security_group_id(),
            ip_protocol: "tcp".into(),
            port_range: "6443/6443".into(),
            source_cidr_ip: "0.0.0.0/0".into(),
            ..Default::default()
        },
    );
    let master = stack.add(
        "Master",
        Instance {
            instance_type: "ecs.g7.large".into(),
            image_id: "ubuntu_22_04_x64_20G_alibase_20240926.vhd".into(),
            vswitch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            host_name: "k8s-master".into(),
            user_data: "#!/bin/bash\necho master\n".into(),
            ..Default::default()
        },
    );
    let group = stack.add(
        "Nodes",
        InstanceGroup {
            max_amount: nodes,
            instance_type: "ecs.g7.large".into(),
            image_id: "ubuntu_22_04_x64_20G_alibase_20240926.vhd".into(),
            vswitch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            host_name: "k8s-node".into(),
            user_data: Prop::sub("#!/bin/bash\necho join ${Master.PrivateIp}\n"),
            ..Default::default()
        },
    );
    let lb = stack.add(
        "Slb",
        LoadBalancer {
            address_type: "intranet".into(),
            load_balancer_spec: "slb.s1.small".into(),
            vpc_id: vpc.vpc_id(),
            vswitch_id: vsw.vswitch_id(),
            ..Default::default()
        },
    );
    stack.add(
        "ApiListener",
        Listener {
            load_balancer_id: lb.load_balancer_id(),
            listener_port: 6443.into(),
            backend_server_port: 6443.into(),
            protocol: "tcp".into(),
            bandwidth: (-1).into(),
            ..Default::default()
        },
    );
    stack.add(
        "Backends",
        BackendServerAttachment {
            load_balancer_id: lb.load_balancer_id(),
            backend_server_list: group.instance_ids(),
            backend_server_weight_list: vec![100].into(),
        },
    );
    let fs = stack.add(
        "Nas",
        FileSystem {
            protocol_type: "NFS".into(),
            storage_type: "Performance".into(),
            ..Default::default()
        },
    );
    let mount = stack.add(
        "Mount",
        MountTarget {
            file_system_id: fs.file_system_id(),
            network_type: "VPC".into(),
            vpc_id: vpc.vpc_id(),
            vswitch_id: vsw.vswitch_id(),
            access_group_name: "DEFAULT_VPC_GROUP_NAME".into(),
        },
    );
    let bucket = stack.add(
        "Bucket",
        Bucket {
            bucket_name: "iac-all-types-test".into(),
            access_control: "private".into(),
            deletion_force: true.into(),
        },
    );
    stack.output("MasterIp", master.private_ip());
    stack.output("NodeNames", group.host_names());
    stack.output("NfsServer", mount.mount_target_domain());
    stack.output("BucketDomain", bucket.domain_name());
    stack
}

fn input(stack: &Stack, nodes: i64) -> StackInput {
    StackInput::new("all-types", stack.template().expect("the stack is valid"))
        .with_parameter("NodeCount", nodes)
}

/// Objects of each kind in the simulator.
fn counts(sim: &Simulator) -> BTreeMap<&'static str, usize> {
    let inv = sim.inventory();
    BTreeMap::from([
        ("vpcs", inv.vpcs.len()),
        ("vswitches", inv.vswitches.len()),
        ("security_groups", inv.security_groups.len()),
        ("instances", inv.instances.len()),
        ("load_balancers", inv.load_balancers.len()),
        (
            "listeners",
            inv.load_balancers.iter().map(|lb| lb.listeners.len()).sum(),
        ),
        ("file_systems", inv.file_systems.len()),
        (
            "mount_targets",
            inv.file_systems
                .iter()
                .map(|fs| fs.mount_targets.len())
                .sum(),
        ),
        ("buckets", inv.buckets.len()),
    ])
}

fn expected(instances: usize) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpcs", 1),
        ("vswitches", 1),
        ("security_groups", 1),
        ("instances", instances),
        ("load_balancers", 1),
        ("listeners", 1),
        ("file_systems", 1),
        ("mount_targets", 1),
        ("buckets", 1),
    ])
}

#[tokio::test(start_paused = true)]
async fn a_stack_of_every_type_applies_replans_to_nothing_scales_updates_and_destroys_to_an_empty_cloud()
 {
    let f = fixture(Delays::default()).await;
    let stack = full_stack("demo");

    let report = f
        .engine
        .apply(&input(&stack, 2), RunOptions::default())
        .await
        .expect("the stack applies");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(counts(&f.sim), expected(3));
    let inv = f.sim.inventory();
    assert!(
        inv.instances.iter().all(|i| i.status == "Running"),
        "every instance runs: {:?}",
        inv.instances
    );
    let master = inv
        .instances
        .iter()
        .find(|i| i.host_name == "k8s-master")
        .expect("the master");
    assert!(
        master
            .tags
            .contains(&("iac:stack".to_owned(), "all-types".to_owned())),
        "{:?}",
        master.tags
    );
    assert!(
        master
            .tags
            .contains(&("iac:logical-id".to_owned(), "Master".to_owned()))
    );
    assert_eq!(report.outputs["MasterIp"], master.private_ip.as_str());
    assert_eq!(
        report.outputs["NodeNames"],
        serde_json::json!(["k8s-node001", "k8s-node002"])
    );
    let node = inv
        .instances
        .iter()
        .find(|i| i.host_name == "k8s-node001")
        .unwrap();
    let script = String::from_utf8(base64_decode(&node.user_data)).unwrap();
    assert_eq!(
        script,
        format!("#!/bin/bash\necho join {}\n", master.private_ip),
        "user data is the text, base64-encoded once"
    );
    let lb = &inv.load_balancers[0];
    assert_eq!(
        lb.listeners[0].status, "running",
        "listeners are created and started"
    );
    assert_eq!(
        lb.backend_servers.len(),
        2,
        "both nodes are behind the load balancer"
    );
    assert!(
        inv.security_groups[0].rules.len() >= 2,
        "the inline rule and the SecurityGroupIngress resource"
    );
    assert!(
        inv.buckets[0]
            .tags
            .contains(&("iac:stack".to_owned(), "all-types".to_owned())),
        "the bucket is tagged: {:?}",
        inv.buckets[0].tags
    );
    let fs = &inv.file_systems[0];
    assert!(
        fs.tags
            .contains(&("iac:logical-id".to_owned(), "Nas".to_owned())),
        "the file system is tagged: {:?}",
        fs.tags
    );
    assert!(
        report.outputs["NfsServer"]
            .as_str()
            .unwrap()
            .ends_with(".nas.aliyuncs.com")
    );
    assert_eq!(
        report.outputs["BucketDomain"],
        "iac-all-types-test.oss-cn-hangzhou.aliyuncs.com"
    );

    // Planned again with nothing changed: nothing to do, and nothing is called but reads.
    let plan = f.engine.plan(&input(&stack, 2)).await.unwrap();
    assert!(plan.is_empty(), "{plan}");

    // Scale 2 → 5 → 1 in place: the group keeps its physical id, the backends follow.
    for nodes in [5usize, 1] {
        let plan = f.engine.plan(&input(&stack, nodes as i64)).await.unwrap();
        assert_eq!(plan.count(Action::Replace), 0, "{plan}");
        let report = f
            .engine
            .apply(&input(&stack, nodes as i64), RunOptions::default())
            .await
            .expect("scaling applies");
        assert!(report.is_success());
        assert_eq!(
            counts(&f.sim),
            expected(nodes + 1),
            "after scaling to {nodes}"
        );
        assert_eq!(
            f.sim.inventory().load_balancers[0].backend_servers.len(),
            nodes
        );
        assert_eq!(report.outputs["NodeNames"].as_array().unwrap().len(), nodes);
    }
    assert_eq!(
        f.sim
            .inventory()
            .instances
            .iter()
            .filter(|i| i.host_name.starts_with("k8s-node"))
            .map(|i| i.host_name.as_str())
            .collect::<Vec<_>>(),
        ["k8s-node001"]
    );

    // An in-place update (a name) and a replacement (the VPC CIDR would be; use the bucket).
    let renamed = full_stack("renamed");
    let plan = f.engine.plan(&input(&renamed, 1)).await.unwrap();
    assert_eq!(plan.count(Action::Update), 1, "{plan}");
    f.engine
        .apply(&input(&renamed, 1), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(f.sim.inventory().vpcs[0].name, "renamed");

    let report = f
        .engine
        .destroy("all-types", RunOptions::default())
        .await
        .expect("destroy");
    assert!(report.is_success(), "{report:?}");
    assert!(
        f.sim.inventory().is_empty(),
        "the cloud is empty: {:?}",
        f.sim.inventory()
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 user data")
}

#[tokio::test(start_paused = true)]
async fn a_replacement_makes_the_new_object_and_deletes_the_old_one() {
    let f = fixture(Delays::default()).await;
    let make = |image: &str| {
        let mut stack = Stack::new("replace");
        let vpc = stack.add(
            "Vpc",
            Vpc {
                cidr_block: "10.0.0.0/8".into(),
                ..Default::default()
            },
        );
        let vsw = stack.add(
            "VSwitch",
            VSwitch {
                vpc_id: vpc.vpc_id(),
                zone_id: "cn-hangzhou-i".into(),
                cidr_block: "10.1.0.0/16".into(),
                ..Default::default()
            },
        );
        let sg = stack.add(
            "Sg",
            SecurityGroup {
                vpc_id: vpc.vpc_id(),
                ..Default::default()
            },
        );
        stack.add(
            "Server",
            Instance {
                instance_type: "ecs.g7.large".into(),
                image_id: image.into(),
                vswitch_id: vsw.vswitch_id(),
                security_group_id: sg.security_group_id(),
                ..Default::default()
            },
        );
        StackInput::new("replace", stack.template().unwrap())
    };
    f.engine
        .apply(&make("image-a"), RunOptions::default())
        .await
        .unwrap();
    let before = f.sim.inventory().instances;
    assert_eq!(before.len(), 1);
    let plan = f.engine.plan(&make("image-b")).await.unwrap();
    assert_eq!(plan.count(Action::Replace), 1, "{plan}");
    f.engine
        .apply(&make("image-b"), RunOptions::default())
        .await
        .unwrap();
    let after = f.sim.inventory().instances;
    assert_eq!(after.len(), 1, "the old instance is gone");
    assert_ne!(after[0].id, before[0].id);
    assert_eq!(after[0].image_id, "image-b");
    f.engine
        .destroy("replace", RunOptions::default())
        .await
        .unwrap();
    assert!(f.sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn bad_properties_fail_with_the_property_named_and_nothing_left_behind() {
    let f = fixture(Delays::none()).await;
    let mut stack = Stack::new("bad");
    let vpc = stack.add(
        "Vpc",
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            ..Default::default()
        },
    );
    stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: "cn-hangzhou-h".into(),
            cidr_block: "10.9.0.0/24".into(),
            ..Default::default()
        },
    );
    let err = f
        .engine
        .apply(
            &StackInput::new("bad", stack.template().unwrap()),
            RunOptions::default(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("VSwitch") && text.contains("CidrBlock"),
        "{text}"
    );
    assert!(
        f.sim.inventory().is_empty(),
        "the rollback removed the VPC: {:?}",
        f.sim.inventory()
    );
}

#[tokio::test(start_paused = true)]
async fn twenty_percent_transient_faults_still_converge_to_exactly_one_object_per_resource() {
    let mut all = iac_aliyun::sim::InjectedFaults::default();
    for seed in 1..=6u64 {
        let f = fixture(Delays::default()).await;
        f.sim.set_faults(Faults {
            seed,
            server_error_rate: 0.08,
            drop_rate: 0.06,
            timeout_after_success_rate: 0.06,
            ..Faults::default()
        });
        let stack = full_stack("faulty");
        let report = f
            .engine
            .apply(&input(&stack, 3), RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: apply converges despite faults: {e}"));
        assert!(report.is_success());
        assert_eq!(
            counts(&f.sim),
            expected(4),
            "seed {seed}: no object was made twice"
        );
        f.engine
            .apply(&input(&stack, 5), RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: scaling converges despite faults: {e}"));
        assert_eq!(
            counts(&f.sim),
            expected(6),
            "seed {seed}: no instance was started twice"
        );
        f.engine
            .destroy("all-types", RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: destroy converges despite faults: {e}"));
        assert!(
            f.sim.inventory().is_empty(),
            "seed {seed}: {:?}",
            f.sim.inventory()
        );
        let injected = f.sim.injected_faults();
        let rate = injected.total() as f64 / f.sim.total_calls() as f64;
        println!(
            "seed {seed}: {injected:?} over {} calls ({:.0}%)",
            f.sim.total_calls(),
            rate * 100.0
        );
        all.server_errors += injected.server_errors;
        all.dropped += injected.dropped;
        all.lost_answers += injected.lost_answers;
    }
    assert!(
        all.server_errors > 0 && all.dropped > 0 && all.lost_answers > 0,
        "every kind of fault was met: {all:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttling_quota_slows_the_apply_down_but_never_fails_it() {
    let f = fixture(Delays::default()).await;
    let quota = [("RunInstances", 3), ("DescribeInstances", 1)]
        .into_iter()
        .map(|(a, n)| (a.to_owned(), n))
        .collect();
    f.sim.set_faults(Faults {
        seed: 1,
        quota_per_second: quota,
        ..Faults::default()
    });
    let input = StackInput::new("fleet", fleet(40).template().unwrap());
    let report = f
        .engine
        .apply(&input, RunOptions::default())
        .await
        .expect("no throttling error surfaces");
    assert!(report.is_success());
    let injected = f.sim.injected_faults();
    println!(
        "throttled {} times over {} calls ({} RunInstances)",
        injected.throttled,
        f.sim.total_calls(),
        f.sim.calls("RunInstances")
    );
    assert!(injected.throttled > 0, "the quota was hit");
    assert_eq!(
        f.sim.inventory().instances.len(),
        40,
        "one instance per resource"
    );
}

/// A VPC, a VSwitch, a security group and `n` instances.
fn fleet(n: usize) -> Stack {
    let mut stack = Stack::new("fleet");
    let vpc = stack.add(
        "Vpc",
        Vpc {
            cidr_block: "10.0.0.0/8".into(),
            ..Default::default()
        },
    );
    let vsw = stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: "cn-hangzhou-h".into(),
            cidr_block: "10.1.0.0/16".into(),
            ..Default::default()
        },
    );
    let sg = stack.add(
        "Sg",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            ..Default::default()
        },
    );
    for i in 0..n {
        stack.add(
            format!("Server{i}"),
            Instance {
                instance_type: "ecs.g7.large".into(),
                image_id: "img".into(),
                vswitch_id: vsw.vswitch_id(),
                security_group_id: sg.security_group_id(),
                ..Default::default()
            },
        );
    }
    stack
}

#[tokio::test(start_paused = true)]
async fn a_fleet_of_200_instances_costs_at_most_1_3_calls_per_instance() {
    let delays = Delays {
        instance_pending: Duration::from_secs(30),
        instance_starting: Duration::from_secs(30),
        ..Delays::default()
    };
    let f = fixture(delays).await;
    let stack = fleet(200);
    let input = StackInput::new("fleet", stack.template().unwrap());
    f.sim.reset_counts();
    let started = tokio::time::Instant::now();
    f.engine
        .apply(&input, RunOptions::default())
        .await
        .expect("the fleet applies");
    let took = started.elapsed();
    let instance_calls = f.sim.calls("RunInstances") + f.sim.calls("DescribeInstances");
    let per_instance = instance_calls as f64 / 200.0;
    println!(
        "fleet of 200: {} RunInstances + {} DescribeInstances = {per_instance:.3} calls per instance; {} calls in all; {took:?} virtual",
        f.sim.calls("RunInstances"),
        f.sim.calls("DescribeInstances"),
        f.sim.total_calls()
    );
    assert_eq!(f.sim.calls("RunInstances"), 200);
    assert!(per_instance <= 1.3, "{per_instance:.3} calls per instance");
    assert_eq!(
        f.sim
            .inventory()
            .instances
            .iter()
            .filter(|i| i.status == "Running")
            .count(),
        200
    );
}
