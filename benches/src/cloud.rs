//! Workloads on the Alibaba Cloud simulator (`iac_aliyun::sim`), run in virtual time: a
//! current-thread tokio runtime with a paused clock, so that 50 ms latencies and 30 s
//! boot times cost no real time and every figure is the same on every run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig, Params};
use iac_aliyun::endpoints::Product;
use iac_aliyun::resources::registry;
use iac_aliyun::resources::types::{
    BackendServerAttachment, Instance, Listener, LoadBalancer, SecurityGroup, VSwitch, Vpc,
};
use iac_aliyun::sim::{Delays, Faults, SimConfig, Simulator};
use iac_core::engine::{Engine, Report, RunOptions, StackInput};
use iac_core::stack::{Prop, ResourceOptions, Stack};
use iac_core::state::MemoryStateStore;

use crate::model::{ModelResource, StateChangeConf, Workload};

/// The call latency the simulator adds to every answer in the critical-path figures.
pub const LATENCY: Duration = Duration::from_millis(50);

/// A runtime whose clock only moves when every task waits on a timer.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// Per-type provisioning delays of the critical-path workload: VPC and VSwitch 3 s, an
/// instance 10 s `Pending` then 20 s `Starting`, a listener 2 s.
pub fn cluster_delays() -> Delays {
    Delays {
        instance_pending: Duration::from_secs(10),
        instance_starting: Duration::from_secs(20),
        vpc_pending: Duration::from_secs(3),
        vswitch_pending: Duration::from_secs(3),
        listener_starting: Duration::from_secs(2),
        mount_target_pending: Duration::from_secs(2),
    }
}

/// How long after its create call an object of `type_name` is ready on a simulator with
/// `delays` (zero for types that are ready at once).
pub fn provisioning_delay(type_name: &str, delays: &Delays) -> Duration {
    match type_name {
        "ALIYUN::ECS::VPC" => delays.vpc_pending,
        "ALIYUN::ECS::VSwitch" => delays.vswitch_pending,
        "ALIYUN::ECS::Instance" => delays.instance_pending + delays.instance_starting,
        "ALIYUN::SLB::Listener" => delays.listener_starting,
        "ALIYUN::NAS::MountTarget" => delays.mount_target_pending,
        _ => Duration::ZERO,
    }
}

/// The waiter the alicloud provider runs after creating `type_name`, in the Terraform model:
/// the ECS one for instances, the generic `BuildStateConf` one for the other types that have
/// a transitional status, none for the rest.
pub fn terraform_waiter(type_name: &str) -> Option<StateChangeConf> {
    match type_name {
        "ALIYUN::ECS::Instance" => Some(StateChangeConf::ALICLOUD_ECS),
        "ALIYUN::ECS::VPC"
        | "ALIYUN::ECS::VSwitch"
        | "ALIYUN::SLB::Listener"
        | "ALIYUN::NAS::MountTarget" => Some(StateChangeConf::ALICLOUD_OTHER),
        _ => None,
    }
}

/// The lower bound's cost of one resource: its create call's round trip and its
/// provisioning delay. (The delay runs from when the cloud takes the call, so a reader that
/// asks at the very moment the object is ready gets the answer one latency later: latency +
/// delay in all, never less.)
pub fn bound_cost(type_name: &str, delays: &Delays, latency: Duration) -> Duration {
    latency + provisioning_delay(type_name, delays)
}

/// `workload` as the Terraform model sees it on a simulator with `delays`.
pub fn terraform_resources(workload: &Workload, delays: &Delays) -> Vec<ModelResource> {
    workload
        .types
        .iter()
        .zip(&workload.deps)
        .map(|(t, deps)| ModelResource {
            deps: deps.clone(),
            ready_after: provisioning_delay(t, delays),
            waiter: terraform_waiter(t),
        })
        .collect()
}

/// `units` Kubernetes-like clusters of `9 + masters + workers` resources each, 6 deep:
/// VPC → VSwitch and security group → masters and an API load balancer → its listener and
/// the masters behind it → workers (their user data joins through the API load balancer's
/// address, after its backends are attached) → an ingress load balancer's backends.
pub fn cluster_stack(units: usize, masters: usize, workers: usize) -> Stack {
    let mut stack = Stack::new("clusters");
    for u in 0..units {
        let vpc = stack.add(
            format!("Vpc{u}"),
            Vpc {
                cidr_block: "10.0.0.0/8".into(),
                vpc_name: format!("cluster-{u}").into(),
                ..Default::default()
            },
        );
        let vsw = stack.add(
            format!("VSwitch{u}"),
            VSwitch {
                vpc_id: vpc.vpc_id(),
                zone_id: "cn-hangzhou-h".into(),
                cidr_block: "10.1.0.0/16".into(),
                ..Default::default()
            },
        );
        let sg = stack.add(
            format!("Sg{u}"),
            SecurityGroup {
                vpc_id: vpc.vpc_id(),
                ..Default::default()
            },
        );
        let node = |host: String, user_data: Prop<String>| Instance {
            instance_type: "ecs.g7.large".into(),
            image_id: "ubuntu_22_04_x64_20G_alibase_20240926.vhd".into(),
            vswitch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            host_name: host.into(),
            user_data,
            ..Default::default()
        };
        let master_ids: Vec<_> = (0..masters)
            .map(|m| {
                stack
                    .add(
                        format!("Master{u}x{m}"),
                        node(
                            format!("master-{u}-{m}"),
                            "#!/bin/bash\nkubeadm init\n".into(),
                        ),
                    )
                    .instance_id()
            })
            .collect();
        let balancer = |stack: &mut Stack, name: String| {
            let lb = stack.add(
                name.clone(),
                LoadBalancer {
                    address_type: "intranet".into(),
                    load_balancer_spec: "slb.s1.small".into(),
                    vpc_id: vpc.vpc_id(),
                    vswitch_id: vsw.vswitch_id(),
                    ..Default::default()
                },
            );
            stack.add(
                format!("{name}Listener"),
                Listener {
                    load_balancer_id: lb.load_balancer_id(),
                    listener_port: 6443.into(),
                    backend_server_port: 6443.into(),
                    protocol: "tcp".into(),
                    bandwidth: (-1).into(),
                    ..Default::default()
                },
            );
            lb
        };
        let api = balancer(&mut stack, format!("ApiLb{u}"));
        let api_backends = stack.add(
            format!("ApiBackends{u}"),
            BackendServerAttachment {
                load_balancer_id: api.load_balancer_id(),
                backend_server_weight_list: vec![100; masters].into(),
                backend_server_list: Prop::list(master_ids),
            },
        );
        let join = Prop::sub(format!(
            "#!/bin/bash\nkubeadm join ${{ApiLb{u}.IpAddress}}:6443\n"
        ));
        let worker_ids: Vec<_> = (0..workers)
            .map(|w| {
                stack
                    .add_with(
                        format!("Worker{u}x{w}"),
                        node(format!("worker-{u}-{w}"), join.clone()),
                        ResourceOptions::new().depends_on(&api_backends),
                    )
                    .instance_id()
            })
            .collect();
        let ingress = balancer(&mut stack, format!("IngressLb{u}"));
        stack.add(
            format!("IngressBackends{u}"),
            BackendServerAttachment {
                load_balancer_id: ingress.load_balancer_id(),
                backend_server_weight_list: vec![100; workers].into(),
                backend_server_list: Prop::list(worker_ids),
            },
        );
    }
    stack
}

/// A VPC, a VSwitch, a security group and `n` instances.
pub fn fleet_stack(n: usize) -> Stack {
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

/// A simulator and our engine over it (default options, a fixed jitter seed).
pub struct Fixture {
    /// The simulated cloud.
    pub sim: Simulator,
    /// The engine, with every `ALIYUN::*` handler and a memory state store.
    pub engine: Engine,
}

impl Fixture {
    /// Starts a simulator with `delays` and `faults` on the current runtime.
    pub async fn start(delays: Delays, faults: Faults) -> Result<Fixture, String> {
        let sim = Simulator::start(SimConfig {
            delays,
            faults,
            ..SimConfig::default()
        })
        .await
        .map_err(|e| format!("the simulator does not start: {e}"))?;
        let client = client_for(&sim)?;
        let engine = Engine::builder()
            .provider(registry(&client))
            .state(MemoryStateStore::new())
            .seed(1)
            .build();
        Ok(Fixture { sim, engine })
    }

    /// Applies `stack`; returns the report and the virtual time it took. An apply that
    /// does not succeed is an error naming the failures.
    pub async fn apply(&self, stack: &Stack) -> Result<(Report, Duration), String> {
        let template = stack
            .template()
            .map_err(|e| format!("the stack is not valid: {e}"))?;
        let input = StackInput::new(stack.name(), template);
        let started = tokio::time::Instant::now();
        let report = self
            .engine
            .apply(&input, RunOptions::default())
            .await
            .map_err(|e| format!("the apply failed: {e}"))?;
        Ok((report, started.elapsed()))
    }

    /// Calls made so far, by action.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.sim.call_counts()
    }
}

/// The failures of `report`, one line each (empty when it succeeded).
pub fn failures(report: &Report) -> Vec<String> {
    let mut lines: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.logical_id, f.message))
        .collect();
    lines.extend(report.skipped.iter().map(|s| format!("{s}: skipped")));
    if report.cancelled {
        lines.push("cancelled".into());
    }
    lines
}

/// A client of `sim` (no connection pool, as the simulator tests use it).
pub fn client_for(sim: &Simulator) -> Result<Client, String> {
    Client::new(
        ClientConfig::new(sim.region(), sim.access_key())
            .with_endpoint(sim.endpoint())
            .with_connection_pool(false),
    )
    .map_err(|e| format!("no client for the simulator: {e}"))
}

/// The Terraform model's waiter driven against the simulator: `n` instances created with
/// `RunInstances` in `vswitch_id` and `security_group_id`, each holding one of
/// `parallelism` slots from its create until a `DescribeInstances` with its one id (as the
/// alicloud provider sends it) shows it `Running`, sleeping as `conf` says in between.
pub async fn terraform_fleet(
    sim: &Simulator,
    vswitch_id: &str,
    security_group_id: &str,
    n: usize,
    parallelism: usize,
    conf: StateChangeConf,
) -> Result<(), String> {
    let client = client_for(sim)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(parallelism));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, slots) = (client.clone(), Arc::clone(&slots));
        let params = Params::new()
            .with("ImageId", "img")
            .with("InstanceType", "ecs.g7.large")
            .with("VSwitchId", vswitch_id)
            .with("SecurityGroupId", security_group_id)
            .with("ClientToken", format!("tf-model-{i}"));
        tasks.spawn(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|e| format!("the slots closed: {e}"))?;
            let created = client
                .rpc(Product::Ecs, "RunInstances", params)
                .await
                .map_err(|e| format!("RunInstances: {e}"))?;
            let id = created["InstanceIdSets"]["InstanceIdSet"][0]
                .as_str()
                .ok_or("RunInstances answered no InstanceIdSets.InstanceIdSet[0]")?
                .to_owned();
            tokio::time::sleep(conf.delay).await;
            let mut wait = Duration::from_millis(100);
            loop {
                let ids = Params::new().with("InstanceIds", format!("[\"{id}\"]"));
                let answer = client
                    .rpc(Product::Ecs, "DescribeInstances", ids)
                    .await
                    .map_err(|e| format!("DescribeInstances {id}: {e}"))?;
                if answer["Instances"]["Instance"][0]["Status"] == "Running" {
                    return Ok::<(), String>(());
                }
                wait = conf.next_wait(wait);
                tokio::time::sleep(wait).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| format!("a waiter task failed: {e}"))??;
    }
    Ok(())
}
