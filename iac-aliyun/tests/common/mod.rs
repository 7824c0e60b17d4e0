//! What the reliability tests share: the 60-resource stack, the engine on the simulator and
//! the one-to-one accounting of the simulated cloud against the state.

#![allow(dead_code)] // Each test binary uses part of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::types::{
    BackendServerAttachment, Bucket, FileSystem, Instance, Listener, LoadBalancer, MountTarget,
    SecurityGroup, SecurityGroupIngress, VSwitch, Vpc,
};
use iac_aliyun::resources::{LOGICAL_ID_TAG, STACK_TAG, registry};
use iac_aliyun::sign::AccessKey;
use iac_aliyun::sim::{Inventory, Simulator};
use iac_core::engine::{Engine, EngineOptions, StackInput};
use iac_core::stack::{Param, Prop, Stack};
use iac_core::state::{StackState, StateStore};

/// Resources in [`stack`].
pub const STACK_RESOURCES: usize = 60;

/// The instance password parameter of [`stack`] (`NoEcho`).
pub const PASSWORD_PARAM: &str = "InstancePassword";

/// A number of runs from the environment variable `name`, else `default`.
pub fn runs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A stack of exactly [`STACK_RESOURCES`] resources over every kind of object the simulator
/// keeps: 1 VPC, 4 VSwitches, 4 security groups, 8 ingress rules, 28 instances, 3 load
/// balancers with a listener and a backend attachment each, 2 file systems with a mount
/// target each, 2 buckets. The instances take their password from a `NoEcho` parameter.
pub fn stack(name: &str, user_data: &str) -> StackInput {
    let mut s = Stack::new(name);
    let password = s.parameter(PASSWORD_PARAM, Param::string().no_echo());
    let vpc = s.add(
        "Vpc",
        Vpc {
            cidr_block: "10.0.0.0/8".into(),
            vpc_name: "soak".into(),
            ..Default::default()
        },
    );
    let zones = [
        "cn-hangzhou-h",
        "cn-hangzhou-i",
        "cn-hangzhou-j",
        "cn-hangzhou-h",
    ];
    let mut vswitches = Vec::new();
    let mut groups = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let vsw = s.add(
            format!("VSwitch{i}"),
            VSwitch {
                vpc_id: vpc.vpc_id(),
                zone_id: (*zone).into(),
                cidr_block: format!("10.{i}.0.0/16").into(),
                ..Default::default()
            },
        );
        let sg = s.add(
            format!("Sg{i}"),
            SecurityGroup {
                vpc_id: vpc.vpc_id(),
                ..Default::default()
            },
        );
        for (j, port) in ["22/22", "443/443"].iter().enumerate() {
            s.add(
                format!("Ingress{i}x{j}"),
                SecurityGroupIngress {
                    security_group_id: sg.security_group_id(),
                    ip_protocol: "tcp".into(),
                    port_range: (*port).into(),
                    source_cidr_ip: "10.0.0.0/8".into(),
                    ..Default::default()
                },
            );
        }
        vswitches.push(vsw);
        groups.push(sg);
    }
    let mut servers = Vec::new();
    for i in 0..28 {
        let server = s.add(
            format!("Server{i}"),
            Instance {
                instance_type: "ecs.g7.large".into(),
                image_id: "image-a".into(),
                vswitch_id: vswitches[i % 4].vswitch_id(),
                security_group_id: groups[i % 4].security_group_id(),
                instance_name: format!("server-{i}").into(),
                password: password.clone(),
                user_data: if user_data.is_empty() {
                    Prop::default()
                } else {
                    user_data.into()
                },
                ..Default::default()
            },
        );
        servers.push(server);
    }
    for i in 0..3 {
        let lb = s.add(
            format!("Lb{i}"),
            LoadBalancer {
                load_balancer_name: format!("lb-{i}").into(),
                address_type: "intranet".into(),
                load_balancer_spec: "slb.s1.small".into(),
                vpc_id: vpc.vpc_id(),
                vswitch_id: vswitches[i].vswitch_id(),
                ..Default::default()
            },
        );
        s.add(
            format!("Listener{i}"),
            Listener {
                load_balancer_id: lb.load_balancer_id(),
                listener_port: 80.into(),
                backend_server_port: 8080.into(),
                protocol: "tcp".into(),
                bandwidth: (-1).into(),
                ..Default::default()
            },
        );
        s.add(
            format!("Backends{i}"),
            BackendServerAttachment {
                load_balancer_id: lb.load_balancer_id(),
                backend_server_list: Prop::list([
                    servers[i * 2].instance_id(),
                    servers[i * 2 + 1].instance_id(),
                ]),
                backend_server_weight_list: vec![100, 50].into(),
            },
        );
    }
    for (i, vsw) in vswitches.iter().take(2).enumerate() {
        let fs = s.add(
            format!("Fs{i}"),
            FileSystem {
                protocol_type: "NFS".into(),
                storage_type: "Performance".into(),
                ..Default::default()
            },
        );
        s.add(
            format!("Mount{i}"),
            MountTarget {
                file_system_id: fs.file_system_id(),
                network_type: "VPC".into(),
                vpc_id: vpc.vpc_id(),
                vswitch_id: vsw.vswitch_id(),
                access_group_name: "DEFAULT_VPC_GROUP_NAME".into(),
            },
        );
    }
    for i in 0..2 {
        s.add(
            format!("Bucket{i}"),
            Bucket {
                bucket_name: format!("{name}-bucket-{i}").to_lowercase().into(),
                access_control: "private".into(),
                ..Default::default()
            },
        );
    }
    let template = s.template().expect("the reliability stack is valid");
    assert_eq!(template.resources.len(), STACK_RESOURCES);
    StackInput::new(name, template)
}

/// A client of `sim` with `key`, no connection pool (paused time), and retries of its own.
pub fn client(sim: &Simulator, key: AccessKey) -> Client {
    Client::new(
        ClientConfig::new(sim.region(), key)
            .with_endpoint(sim.endpoint())
            .with_connection_pool(false)
            .with_timeout(Duration::from_secs(30)),
    )
    .expect("a client of the simulator")
}

/// An engine of `client` over `store`, with a fixed jitter seed.
pub fn engine(client: &Client, store: impl StateStore + 'static, seed: u64) -> Engine {
    Engine::builder()
        .provider(registry(client))
        .state(store)
        .options(EngineOptions {
            seed: Some(seed),
            ..EngineOptions::default()
        })
        .build()
}

/// Every object of the simulated cloud that a resource of [`stack`] stands for, as the
/// physical id its handler records, with `stack/logical id` from its tags where it has tags.
/// Security group rules and backend registrations carry no tags and no id of their own:
/// they are named as their handlers name them.
pub fn cloud_objects(inv: &Inventory) -> BTreeMap<String, Option<String>> {
    let tag = |tags: &[(String, String)]| {
        let get = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        Some(format!("{}/{}", get(STACK_TAG)?, get(LOGICAL_ID_TAG)?))
    };
    let mut out = BTreeMap::new();
    let mut put = |id: String, logical: Option<String>| {
        // A second object under one physical id would be a simulator bug, not a duplicate
        // the engine made; make it visible anyway.
        let key = if out.contains_key(&id) {
            format!("{id}#dup")
        } else {
            id
        };
        out.insert(key, logical);
    };
    for v in &inv.vpcs {
        put(v.id.clone(), tag(&v.tags));
    }
    for v in &inv.vswitches {
        put(v.id.clone(), tag(&v.tags));
    }
    for g in &inv.security_groups {
        put(g.id.clone(), tag(&g.tags));
        for r in g.rules.iter().filter(|r| r.direction == "ingress") {
            put(
                format!(
                    "{}:{}:{}:{}",
                    g.id, r.ip_protocol, r.port_range, r.source_cidr_ip
                ),
                None,
            );
        }
    }
    for i in &inv.instances {
        put(i.id.clone(), tag(&i.tags));
    }
    for lb in &inv.load_balancers {
        put(lb.id.clone(), tag(&lb.tags));
        for l in &lb.listeners {
            put(format!("{}:{}:{}", lb.id, l.port, l.protocol), None);
        }
        if !lb.backend_servers.is_empty() {
            put(format!("{}#backends", lb.id), None);
        }
    }
    for fs in &inv.file_systems {
        put(fs.id.clone(), tag(&fs.tags));
        for m in &fs.mount_targets {
            put(m.domain.clone(), None);
        }
    }
    for b in &inv.buckets {
        put(b.name.clone(), tag(&b.tags));
    }
    out
}

/// Every physical id the state names (current and deposed), the backend attachments as
/// `<lb>#backends` to match [`cloud_objects`].
pub fn state_objects(state: Option<&StackState>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for r in state.iter().flat_map(|s| s.resources.values()) {
        let name = |id: &str| {
            if &*r.type_name == "ALIYUN::SLB::BackendServerAttachment" {
                format!("{id}#backends")
            } else {
                id.to_owned()
            }
        };
        ids.extend(r.physical_id.iter().map(|p| name(p.as_str())));
        ids.extend(r.deposed.iter().map(|d| name(d.physical_id.as_str())));
    }
    ids
}

/// How the cloud and the state compare.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accounting {
    /// Objects in the cloud.
    pub cloud: usize,
    /// Physical ids in the state.
    pub state: usize,
    /// Logical ids (`stack/id`) with more than one tagged object, and those objects.
    pub duplicates: Vec<String>,
    /// Objects in the cloud the state does not name.
    pub leaks: Vec<String>,
    /// Ids in the state with no object in the cloud.
    pub missing: Vec<String>,
}

impl Accounting {
    /// True when the cloud and the state match one to one.
    pub fn is_exact(&self) -> bool {
        self.duplicates.is_empty() && self.leaks.is_empty() && self.missing.is_empty()
    }
}

/// Compares the cloud with the state.
pub fn account(inv: &Inventory, state: Option<&StackState>) -> Accounting {
    let cloud = cloud_objects(inv);
    let named = state_objects(state);
    let mut per_logical: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, logical) in &cloud {
        if let Some(l) = logical {
            per_logical.entry(l).or_default().push(id);
        }
    }
    Accounting {
        cloud: cloud.len(),
        state: named.len(),
        duplicates: per_logical
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(l, ids)| format!("{l}: {}", ids.join(", ")))
            .collect(),
        leaks: cloud
            .keys()
            .filter(|id| !named.contains(*id))
            .cloned()
            .collect(),
        missing: named
            .iter()
            .filter(|id| !cloud.contains_key(*id))
            .cloned()
            .collect(),
    }
}
