//! The life cycle of each `ALIYUN::*` type through the engine on the simulator: every type
//! is created, then each change the cloud allows in place is planned as an update and seen
//! in the cloud, and each change that needs a new object is planned as a replacement that
//! leaves exactly the new object; finally everything is destroyed.

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::resources::types::{
    BackendServerAttachment, Bucket, FileSystem, Instance, InstanceGroup, Listener, LoadBalancer,
    MountTarget, Rule, SecurityGroup, SecurityGroupIngress, VSwitch, Vpc,
};
use iac_aliyun::sim::{Inventory, SimConfig, Simulator};
use iac_core::engine::{Action, Engine, RunOptions, StackInput};
use iac_core::stack::Stack;
use iac_core::state::MemoryStateStore;

/// Every knob a step of the test turns.
#[derive(Clone)]
struct Knobs {
    vpc_name: &'static str,
    vpc_cidr: &'static str,
    vsw_name: &'static str,
    vsw_cidr: &'static str,
    vsw_zone: &'static str,
    sg_rules: Vec<Rule>,
    ingress_ports: &'static str,
    instance_name: &'static str,
    image: &'static str,
    group_type: &'static str,
    lb_name: &'static str,
    lb_spec: &'static str,
    listener_port: i64,
    backend_port: i64,
    weight: i64,
    fs_description: &'static str,
    fs_storage: &'static str,
    access_group: &'static str,
    bucket: &'static str,
    acl: &'static str,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            vpc_name: "v1",
            vpc_cidr: "192.168.0.0/16",
            vsw_name: "s1",
            vsw_cidr: "192.168.1.0/24",
            vsw_zone: "cn-hangzhou-h",
            sg_rules: vec![Rule::ingress("tcp", "22/22", "0.0.0.0/0")],
            ingress_ports: "443/443",
            instance_name: "i1",
            image: "image-a",
            group_type: "ecs.g7.large",
            lb_name: "lb1",
            lb_spec: "slb.s1.small",
            listener_port: 80,
            backend_port: 8080,
            weight: 100,
            fs_description: "d1",
            fs_storage: "Performance",
            access_group: "DEFAULT_VPC_GROUP_NAME",
            bucket: "iac-lifecycle-a",
            acl: "private",
        }
    }
}

fn stack(k: &Knobs) -> StackInput {
    let mut s = Stack::new("life");
    let vpc = s.add(
        "Vpc",
        Vpc {
            cidr_block: k.vpc_cidr.into(),
            vpc_name: k.vpc_name.into(),
            ..Default::default()
        },
    );
    let vsw = s.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: k.vsw_zone.into(),
            cidr_block: k.vsw_cidr.into(),
            vswitch_name: k.vsw_name.into(),
            ..Default::default()
        },
    );
    let sg = s.add(
        "Sg",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            security_group_ingress: k.sg_rules.clone().into(),
            ..Default::default()
        },
    );
    s.add(
        "Ingress",
        SecurityGroupIngress {
            security_group_id: sg.security_group_id(),
            ip_protocol: "tcp".into(),
            port_range: k.ingress_ports.into(),
            source_cidr_ip: "10.0.0.0/8".into(),
            ..Default::default()
        },
    );
    let server = s.add(
        "Server",
        Instance {
            instance_type: "ecs.g7.large".into(),
            image_id: k.image.into(),
            vswitch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            instance_name: k.instance_name.into(),
            ..Default::default()
        },
    );
    s.add(
        "Group",
        InstanceGroup {
            max_amount: 2.into(),
            instance_type: k.group_type.into(),
            image_id: "image-a".into(),
            vswitch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            ..Default::default()
        },
    );
    let lb = s.add(
        "Lb",
        LoadBalancer {
            load_balancer_name: k.lb_name.into(),
            address_type: "intranet".into(),
            load_balancer_spec: k.lb_spec.into(),
            vpc_id: vpc.vpc_id(),
            vswitch_id: vsw.vswitch_id(),
            ..Default::default()
        },
    );
    s.add(
        "Listener",
        Listener {
            load_balancer_id: lb.load_balancer_id(),
            listener_port: k.listener_port.into(),
            backend_server_port: k.backend_port.into(),
            protocol: "tcp".into(),
            bandwidth: (-1).into(),
            ..Default::default()
        },
    );
    s.add(
        "Backends",
        BackendServerAttachment {
            load_balancer_id: lb.load_balancer_id(),
            backend_server_list: iac_core::stack::Prop::list([server.instance_id()]),
            backend_server_weight_list: vec![k.weight].into(),
        },
    );
    let fs = s.add(
        "Fs",
        FileSystem {
            protocol_type: "NFS".into(),
            storage_type: k.fs_storage.into(),
            description: k.fs_description.into(),
            ..Default::default()
        },
    );
    s.add(
        "Mount",
        MountTarget {
            file_system_id: fs.file_system_id(),
            network_type: "VPC".into(),
            vpc_id: vpc.vpc_id(),
            vswitch_id: vsw.vswitch_id(),
            access_group_name: k.access_group.into(),
        },
    );
    s.add(
        "Bucket",
        Bucket {
            bucket_name: k.bucket.into(),
            access_control: k.acl.into(),
            ..Default::default()
        },
    );
    StackInput::new("life", s.template().expect("valid"))
}

/// Plans `knobs`, expects exactly `expected` (logical id, action) changes, applies, and
/// returns the inventory before and after.
async fn step(
    engine: &Engine,
    sim: &Simulator,
    knobs: &Knobs,
    expected: &[(&str, Action)],
) -> (Inventory, Inventory) {
    let before = sim.inventory();
    let input = stack(knobs);
    let plan = engine.plan(&input).await.expect("plan");
    let changes: Vec<(String, Action)> = plan
        .resources
        .iter()
        .filter(|r| r.action != Action::NoOp)
        .map(|r| (r.logical_id.clone(), r.action))
        .collect();
    let wanted: Vec<(String, Action)> = expected
        .iter()
        .map(|(id, a)| ((*id).to_owned(), *a))
        .collect();
    let (mut changes, mut wanted) = (changes, wanted);
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(changes, wanted, "plan:\n{plan}");
    let report = engine
        .apply(&input, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("apply of {expected:?}: {e}"));
    assert!(report.is_success());
    let again = engine.plan(&input).await.expect("plan");
    assert!(
        again.is_empty(),
        "after applying {expected:?} the cloud matches:\n{again}"
    );
    (before, sim.inventory())
}

#[tokio::test(start_paused = true)]
async fn every_type_is_created_updated_in_place_replaced_and_deleted() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let client = Client::new(
        ClientConfig::new(sim.region(), sim.access_key())
            .with_endpoint(sim.endpoint())
            .with_connection_pool(false),
    )
    .unwrap();
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let mut k = Knobs::default();
    let created: Vec<(&str, Action)> = [
        "Vpc", "VSwitch", "Sg", "Fs", "Bucket", "Ingress", "Server", "Group", "Lb", "Mount",
        "Listener", "Backends",
    ]
    .into_iter()
    .map(|id| (id, Action::Create))
    .collect();
    let input = stack(&k);
    let plan = engine.plan(&input).await.unwrap();
    assert_eq!(plan.count(Action::Create), created.len(), "{plan}");
    engine
        .apply(&input, RunOptions::default())
        .await
        .expect("create");

    // In place.
    k.vpc_name = "v2";
    let (_, inv) = step(&engine, &sim, &k, &[("Vpc", Action::Update)]).await;
    assert_eq!(inv.vpcs[0].name, "v2");
    k.vsw_name = "s2";
    let (_, inv) = step(&engine, &sim, &k, &[("VSwitch", Action::Update)]).await;
    assert_eq!(inv.vswitches[0].name, "s2");
    k.sg_rules.push(Rule::ingress("udp", "53/53", "10.0.0.0/8"));
    let (_, inv) = step(&engine, &sim, &k, &[("Sg", Action::Update)]).await;
    assert!(
        inv.security_groups[0]
            .rules
            .iter()
            .any(|r| r.ip_protocol == "udp" && r.port_range == "53/53"),
        "{:?}",
        inv.security_groups[0].rules
    );
    k.instance_name = "i2";
    let (_, inv) = step(&engine, &sim, &k, &[("Server", Action::Update)]).await;
    assert!(inv.instances.iter().any(|i| i.name == "i2"));
    k.lb_name = "lb2";
    let (_, inv) = step(&engine, &sim, &k, &[("Lb", Action::Update)]).await;
    assert_eq!(inv.load_balancers[0].name, "lb2");
    k.backend_port = 9090;
    let (_, inv) = step(&engine, &sim, &k, &[("Listener", Action::Update)]).await;
    assert_eq!(inv.load_balancers[0].listeners[0].backend_server_port, 9090);
    k.weight = 50;
    let (_, inv) = step(&engine, &sim, &k, &[("Backends", Action::Update)]).await;
    assert_eq!(inv.load_balancers[0].backend_servers[0].weight, 50);
    k.fs_description = "d2";
    let (_, inv) = step(&engine, &sim, &k, &[("Fs", Action::Update)]).await;
    assert_eq!(inv.file_systems[0].description, "d2");
    k.access_group = "k8s-group";
    let (_, inv) = step(&engine, &sim, &k, &[("Mount", Action::Update)]).await;
    assert_eq!(
        inv.file_systems[0].mount_targets[0].access_group,
        "k8s-group"
    );
    k.acl = "public-read";
    let (_, inv) = step(&engine, &sim, &k, &[("Bucket", Action::Update)]).await;
    assert_eq!(inv.buckets[0].acl, "public-read");

    // Replacements: the new object exists, the old one is gone.
    k.ingress_ports = "8443/8443";
    let (_, inv) = step(&engine, &sim, &k, &[("Ingress", Action::Replace)]).await;
    let ports: Vec<&str> = inv.security_groups[0]
        .rules
        .iter()
        .map(|r| r.port_range.as_str())
        .collect();
    assert!(
        ports.contains(&"8443/8443") && !ports.contains(&"443/443"),
        "{ports:?}"
    );
    k.image = "image-b";
    let (before, inv) = step(
        &engine,
        &sim,
        &k,
        &[("Server", Action::Replace), ("Backends", Action::Update)],
    )
    .await;
    assert_eq!(inv.instances.len(), before.instances.len());
    assert!(inv.instances.iter().any(|i| i.image_id == "image-b"));
    assert!(
        inv.instances
            .iter()
            .all(|i| i.image_id != "image-a" || i.instance_type == "ecs.g7.large")
    );
    assert_eq!(
        inv.load_balancers[0].backend_servers.len(),
        1,
        "the backend follows the new instance"
    );
    let new_server = inv
        .instances
        .iter()
        .find(|i| i.image_id == "image-b")
        .unwrap();
    assert_eq!(
        inv.load_balancers[0].backend_servers[0].server_id,
        new_server.id
    );
    k.group_type = "ecs.g7.xlarge";
    let (before, inv) = step(&engine, &sim, &k, &[("Group", Action::Replace)]).await;
    let old: Vec<&str> = before
        .instances
        .iter()
        .filter(|i| i.instance_type == "ecs.g7.large" && i.image_id == "image-a")
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(old.len(), 2);
    assert!(
        inv.instances.iter().all(|i| !old.contains(&i.id.as_str())),
        "the old group is gone"
    );
    assert_eq!(
        inv.instances
            .iter()
            .filter(|i| i.instance_type == "ecs.g7.xlarge")
            .count(),
        2
    );
    k.listener_port = 81;
    let (_, inv) = step(&engine, &sim, &k, &[("Listener", Action::Replace)]).await;
    let ports: Vec<u16> = inv.load_balancers[0]
        .listeners
        .iter()
        .map(|l| l.port)
        .collect();
    assert_eq!(ports, [81]);
    k.lb_spec = "slb.s2.small";
    let (before, inv) = step(
        &engine,
        &sim,
        &k,
        &[
            ("Lb", Action::Replace),
            ("Listener", Action::Replace),
            ("Backends", Action::Replace),
        ],
    )
    .await;
    assert_eq!(inv.load_balancers.len(), 1);
    assert_ne!(inv.load_balancers[0].id, before.load_balancers[0].id);
    assert_eq!(inv.load_balancers[0].listeners.len(), 1);
    assert_eq!(inv.load_balancers[0].backend_servers.len(), 1);
    k.fs_storage = "Capacity";
    let (before, inv) = step(
        &engine,
        &sim,
        &k,
        &[("Fs", Action::Replace), ("Mount", Action::Replace)],
    )
    .await;
    assert_eq!(inv.file_systems.len(), 1);
    assert_ne!(inv.file_systems[0].id, before.file_systems[0].id);
    assert_eq!(inv.file_systems[0].mount_targets.len(), 1);
    k.bucket = "iac-lifecycle-b";
    let (_, inv) = step(&engine, &sim, &k, &[("Bucket", Action::Replace)]).await;
    let names: Vec<&str> = inv.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["iac-lifecycle-b"]);
    k.vsw_cidr = "192.168.2.0/24";
    let (before, inv) = step(
        &engine,
        &sim,
        &k,
        &[
            ("VSwitch", Action::Replace),
            ("Server", Action::Replace),
            ("Group", Action::Replace),
            ("Lb", Action::Replace),
            ("Mount", Action::Replace),
            ("Listener", Action::Replace),
            ("Backends", Action::Replace),
        ],
    )
    .await;
    assert_eq!(inv.vswitches.len(), 1);
    assert_ne!(inv.vswitches[0].id, before.vswitches[0].id);
    assert_eq!(inv.vswitches[0].cidr_block, "192.168.2.0/24");

    let report = engine
        .destroy("life", RunOptions::default())
        .await
        .expect("destroy");
    assert!(report.is_success());
    assert!(sim.inventory().is_empty(), "{:?}", sim.inventory());
}
