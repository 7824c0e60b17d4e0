//! `cargo run --example k8s_cluster [-- --nodes N]`
//!
//! The shape of a one-step Kubernetes cluster (a VPC, a switch, a security group, a master
//! and a node group) written as typed Rust, planned, applied with live events, planned
//! again, scaled and destroyed.
//!
//! Today this runs on the in-memory cloud of `iac-core`: the Alibaba Cloud resources, their
//! simulator and the kubeadm bootstrap are not written yet, so the resource types here are
//! stand-ins (`Demo::*`) and nothing is installed on the "machines". The engine, the plan,
//! the events, the state and the life cycle are the real ones.

use std::process::ExitCode;
use std::time::Duration;

use iac_core::engine::{
    Action, Engine, EngineError, Report, RunOptions, StackInput, Status, events,
};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::provider::{Registry, Schema, UpdateBehavior};
use iac_core::stack::{Param, Prop, Resource, ResourceRef, Stack};
use iac_core::state::MemoryStateStore;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

/// A private network (stand-in for `ALIYUN::ECS::VPC`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Vpc {
    #[serde(skip_serializing_if = "Prop::is_unset")]
    cidr_block: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    vpc_name: Prop<String>,
}

/// Attributes of a [`Vpc`].
#[derive(Clone)]
struct VpcAttrs(ResourceRef);

impl From<ResourceRef> for VpcAttrs {
    fn from(r: ResourceRef) -> Self {
        VpcAttrs(r)
    }
}

impl VpcAttrs {
    fn vpc_id(&self) -> Prop<String> {
        self.0.id()
    }
}

impl Resource for Vpc {
    const TYPE_NAME: &'static str = "Demo::VPC";
    type Attrs = VpcAttrs;
}

/// A switch in one zone (stand-in for `ALIYUN::ECS::VSwitch`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct VSwitch {
    vpc_id: Prop<String>,
    zone_id: Prop<String>,
    cidr_block: Prop<String>,
}

/// Declares an attributes type whose one method returns the resource's id (its `Ref`).
macro_rules! id_attrs {
    ($name:ident, $method:ident, $what:literal) => {
        #[doc = concat!("Attributes of ", $what, ".")]
        #[derive(Clone)]
        struct $name(ResourceRef);

        impl From<ResourceRef> for $name {
            fn from(r: ResourceRef) -> Self {
                $name(r)
            }
        }

        impl $name {
            #[doc = concat!("The id of ", $what, ".")]
            fn $method(&self) -> Prop<String> {
                self.0.id()
            }
        }
    };
}

id_attrs!(VSwitchAttrs, vswitch_id, "a VSwitch");
id_attrs!(SecurityGroupAttrs, security_group_id, "a security group");
id_attrs!(InstanceAttrs, instance_id, "an instance");
id_attrs!(InstanceGroupAttrs, group_id, "an instance group");

impl Resource for VSwitch {
    const TYPE_NAME: &'static str = "Demo::VSwitch";
    type Attrs = VSwitchAttrs;
}

/// A security group with its ingress rules (stand-in for `ALIYUN::ECS::SecurityGroup`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroup {
    vpc_id: Prop<String>,
    security_group_ingress: Prop<Value>,
}

impl Resource for SecurityGroup {
    const TYPE_NAME: &'static str = "Demo::SecurityGroup";
    type Attrs = SecurityGroupAttrs;
}

/// One machine (stand-in for `ALIYUN::ECS::Instance`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Instance {
    v_switch_id: Prop<String>,
    security_group_id: Prop<String>,
    instance_type: Prop<String>,
    host_name: Prop<String>,
    user_data: Prop<String>,
}

impl Resource for Instance {
    const TYPE_NAME: &'static str = "Demo::Instance";
    type Attrs = InstanceAttrs;
}

/// A group of identical machines (stand-in for `ALIYUN::ECS::InstanceGroup`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InstanceGroup {
    v_switch_id: Prop<String>,
    security_group_id: Prop<String>,
    instance_type: Prop<String>,
    max_amount: Prop<i64>,
    user_data: Prop<String>,
}

impl Resource for InstanceGroup {
    const TYPE_NAME: &'static str = "Demo::InstanceGroup";
    type Attrs = InstanceGroupAttrs;
}

/// The cluster's stack: parameters, network, security group, master, nodes, outputs.
fn cluster_stack() -> Stack {
    let mut stack = Stack::new("k8s-demo");
    stack.description("A Kubernetes cluster: one master and a group of nodes in a VPC");
    let zone = stack.parameter(
        "ZoneId",
        Param::string()
            .default("cn-hangzhou-h")
            .description("Zone of the VSwitch"),
    );
    let instance_type = stack.parameter("InstanceType", Param::string().default("ecs.g7.large"));
    let nodes = stack.parameter(
        "NodeCount",
        Param::integer()
            .default(2)
            .min_value(1)
            .max_value(100)
            .description("Number of worker nodes"),
    );

    let vpc = stack.add(
        "Vpc",
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            vpc_name: "k8s-vpc".into(),
        },
    );
    let vsw = stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: zone,
            cidr_block: "192.168.1.0/24".into(),
        },
    );
    let rules = json!([
        {"IpProtocol": "tcp", "PortRange": "6443/6443", "SourceCidrIp": "192.168.0.0/16"},
        {"IpProtocol": "tcp", "PortRange": "10250/10250", "SourceCidrIp": "192.168.0.0/16"},
        {"IpProtocol": "tcp", "PortRange": "30000/32767", "SourceCidrIp": "0.0.0.0/0"}
    ]);
    let sg = stack.add(
        "SecurityGroup",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            security_group_ingress: rules.into(),
        },
    );
    let master = stack.add(
        "K8sMaster",
        Instance {
            v_switch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            instance_type: instance_type.clone(),
            host_name: "k8s-master".into(),
            user_data: "#!/bin/bash\n# kubeadm init (generated by iac-k8s once it lands)\n".into(),
        },
    );
    let group = stack.add(
        "K8sNodes",
        InstanceGroup {
            v_switch_id: vsw.vswitch_id(),
            security_group_id: sg.security_group_id(),
            instance_type,
            max_amount: nodes,
            user_data: Prop::sub(
                "#!/bin/bash\n# kubeadm join ${K8sMaster} (generated by iac-k8s once it lands)\n",
            ),
        },
    );
    stack.output("MasterId", master.instance_id());
    stack.output("NodeGroupId", group.group_id());
    stack.output("VpcId", vpc.vpc_id());
    stack
}

fn registry(cloud: &MemoryCloud) -> Registry {
    let mut registry = Registry::new();
    let replace = UpdateBehavior::ForcesReplacement;
    let mutable = UpdateBehavior::Mutable;
    for schema in [
        Schema::new(Vpc::TYPE_NAME)
            .with_property("CidrBlock", false, replace)
            .with_property("VpcName", false, mutable),
        Schema::new(VSwitch::TYPE_NAME)
            .with_property("VpcId", true, replace)
            .with_property("ZoneId", true, replace)
            .with_property("CidrBlock", true, replace),
        Schema::new(SecurityGroup::TYPE_NAME)
            .with_property("VpcId", false, replace)
            .with_property("SecurityGroupIngress", false, mutable),
        Schema::new(Instance::TYPE_NAME)
            .with_property("VSwitchId", false, replace)
            .with_property("InstanceType", true, mutable)
            .with_property("UserData", false, mutable),
        Schema::new(InstanceGroup::TYPE_NAME)
            .with_property("VSwitchId", false, replace)
            .with_property("MaxAmount", true, mutable)
            .with_property("UserData", false, mutable),
    ] {
        registry.register(
            cloud.handler_with_schema(schema.with_readiness_hint(Duration::from_millis(300))),
        );
    }
    registry
}

/// Applies with a live view: a progress bar with counts per status, and the event list of
/// the ROS console above it.
async fn apply_live(
    engine: &Engine,
    input: &StackInput,
    changes: usize,
) -> Result<Report, EngineError> {
    let (tx, mut rx) = events::channel();
    let bar = ProgressBar::new(changes as u64);
    bar.set_style(
        ProgressStyle::with_template("  [{bar:30}] {pos}/{len} resources  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let view = bar.clone();
    let printer = tokio::spawn(async move {
        let (mut running, mut done, mut failed) = (0u32, 0u32, 0u32);
        while let Some(event) = rx.recv().await {
            if view.is_hidden() {
                // Not a terminal (a pipe, a CI log): plain lines, no bar.
                println!("  {event}");
            } else {
                view.println(format!("  {event}"));
            }
            if event.is_stack_event() {
                continue;
            }
            match event.status {
                Status::CreateInProgress | Status::UpdateInProgress | Status::DeleteInProgress => {
                    running += 1
                }
                Status::CreateComplete
                | Status::UpdateComplete
                | Status::DeleteComplete
                | Status::DeleteSkipped => {
                    running = running.saturating_sub(1);
                    done += 1;
                    view.inc(1);
                }
                s if s.is_failure() => {
                    running = running.saturating_sub(1);
                    failed += 1;
                }
                _ => {}
            }
            view.set_message(format!(
                "{running} in progress, {done} complete, {failed} failed"
            ));
        }
    });
    let result = engine
        .apply(input, RunOptions::default().with_events(tx))
        .await;
    // The sender is dropped with the apply: the printer ends after the last event.
    let _ = printer.await;
    bar.finish_and_clear();
    result
}

fn print_report(report: &Report) {
    println!("\nResources:");
    for r in &report.resources {
        let id = r.physical_id.as_ref().map(|p| p.as_str()).unwrap_or("-");
        println!(
            "  {:<14} {:<22} {:<10} {}",
            r.logical_id, r.type_name, id, r.status
        );
    }
    println!("Outputs:");
    for (name, value) in &report.outputs {
        println!("  {name} = {value}");
    }
}

fn parse_nodes() -> Result<i64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(2),
        [flag, n] if flag == "--nodes" => n
            .parse()
            .map_err(|_| format!("--nodes takes a whole number, not '{n}'")),
        _ => Err(format!(
            "usage: cargo run --example k8s_cluster [-- --nodes N]; got {args:?}"
        )),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "k8s_cluster: running on the built-in in-memory cloud. No account is used, nothing is created \
         anywhere and Kubernetes is not installed: the Alibaba Cloud simulator and the kubeadm \
         bootstrap are not written yet."
    );
    let nodes = parse_nodes()?;
    let cloud = MemoryCloud::new(MemoryConfig {
        call_latency: Duration::from_millis(40),
        ready_after: Duration::from_millis(300),
        ..Default::default()
    });
    let engine = Engine::builder()
        .provider(registry(&cloud))
        .state(MemoryStateStore::new())
        .build();
    let template = cluster_stack().template()?;
    let input = StackInput::new("k8s-demo", template).with_parameter("NodeCount", nodes);

    println!("\n$ plan");
    let plan = engine.plan(&input).await?;
    print!("{plan}");

    println!("\n$ apply");
    let report = apply_live(
        &engine,
        &input,
        plan.resources.len() - plan.count(Action::NoOp),
    )
    .await?;
    print_report(&report);

    println!("\n$ plan (again)");
    print!("{}", engine.plan(&input).await?);

    let scaled = input.clone().with_parameter("NodeCount", nodes + 1);
    println!("\n$ scale --nodes {}", nodes + 1);
    let plan = engine.plan(&scaled).await?;
    print!("{plan}");
    apply_live(
        &engine,
        &scaled,
        plan.resources.len() - plan.count(Action::NoOp),
    )
    .await?;

    println!("\n$ destroy");
    let (tx, mut rx) = events::channel();
    engine
        .destroy("k8s-demo", RunOptions::default().with_events(tx))
        .await?;
    while let Ok(event) = rx.try_recv() {
        println!("  {event}");
    }
    println!("\nObjects left in the in-memory cloud: {}", cloud.len());
    if !cloud.is_empty() {
        return Err("destroy left objects behind".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
