//! Kubernetes on OpenStack, the seeds' Yahoo Japan setup: a network, subnet, router and
//! security group, a master and nodes (`OS::Nova::Server` with the iac-k8s cloud-init
//! user-data and the external OpenStack cloud provider), a Cinder volume for a
//! PersistentVolume and a Cinder StorageClass, and, from the Keystone projects and role
//! assignments, one Namespace per project, the ABAC policy file and the k8s-keystone-auth
//! policy and sync ConfigMaps.
//!
//! ```text
//! cargo run --example openstack_k8s                  # on the simulator (the default)
//! OS_CLOUD=mycloud cargo run --example openstack_k8s -- --image ubuntu-24.04 \
//!     --flavor m1.large --external-network public --keep
//! ```
//!
//! With `OS_CLOUD` or `OS_AUTH_URL` set it runs against that cloud (the credentials need
//! the Keystone admin API to read role assignments). Options: `--nodes N` (2),
//! `--image NAME` (`ubuntu-22.04`), `--flavor NAME` (`m1.small`), `--external-network
//! NAME` (a router gateway; none by default), `--no-server-network` (boot servers without
//! ports, for clouds whose Neutron cannot bind ports, like the CI's), `--out DIR`
//! (`target/openstack_k8s`), `--keep` (do not destroy at the end).
//!
//! The generated files (user-data is secret: written 0600) go to the output directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use futures::TryStreamExt;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use iac_k8s::bootstrap::{
    CaAlgorithm, CloudProvider, ClusterSecrets, ClusterSpec, ControlPlane, FirewallRule, Protocol,
    cluster_firewall_rules, render_cluster,
};
use iac_k8s::manifests::keystone::{
    KeystoneAccess, Project, RoleAssignment, Subject, SyncConfig, User,
};
use iac_k8s::manifests::volumes::{CinderVolume, VolumeClaim};
use iac_k8s::manifests::{Manifest, render_yaml};
use iac_openstack::client::Client;
use iac_openstack::config::{CloudConfig, MapSource};
use iac_openstack::resources::registry;
use iac_openstack::services::fields;
use iac_openstack::sim::{SimConfig, Simulator};
use serde_json::{Value, json};

const STACK: &str = "k8s-openstack";
const KUBERNETES_VERSION: &str = "v1.33.2";
const SUBNET_CIDR: &str = "10.0.0.0/24";
/// The master's fixed address: the user-data names the API endpoint before it exists.
const MASTER_IP: &str = "10.0.0.10";

struct Options {
    nodes: u32,
    image: String,
    flavor: String,
    external_network: Option<String>,
    server_network: bool,
    out: PathBuf,
    keep: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        nodes: 2,
        image: "ubuntu-22.04".into(),
        flavor: "m1.small".into(),
        external_network: None,
        server_network: true,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openstack_k8s"),
        keep: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--nodes" => {
                o.nodes = value("--nodes")?
                    .parse()
                    .map_err(|_| "--nodes needs a number".to_owned())?
            }
            "--image" => o.image = value("--image")?,
            "--flavor" => o.flavor = value("--flavor")?,
            "--external-network" => o.external_network = Some(value("--external-network")?),
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--no-server-network" => o.server_network = false,
            "--keep" => o.keep = true,
            other => {
                return Err(format!(
                    "unknown argument '{other}' (see the example's docs)"
                ));
            }
        }
    }
    Ok(o)
}

/// The cloud: the one the environment names, or a simulator seeded like a small cloud.
async fn cloud(o: &Options) -> Result<(Client, Option<Simulator>), Box<dyn std::error::Error>> {
    if std::env::var_os("OS_CLOUD").is_some() || std::env::var_os("OS_AUTH_URL").is_some() {
        let config = CloudConfig::from_env()?;
        println!("cloud: {}", config.origin);
        return Ok((Client::new(config)?, None));
    }
    let sim = Simulator::start(SimConfig::default()).await?;
    let source = MapSource::default()
        .var("OS_AUTH_URL", &sim.auth_url())
        .var("OS_USERNAME", "admin")
        .var("OS_PASSWORD", "admin-secret")
        .var("OS_PROJECT_NAME", "admin")
        .var("OS_USER_DOMAIN_NAME", "Default")
        .var("OS_PROJECT_DOMAIN_NAME", "Default");
    let client = Client::new(CloudConfig::from_source(&source)?)?;
    println!("cloud: the simulator at {}", sim.base_url());
    seed(&client, o).await?;
    Ok((client, Some(sim)))
}

/// What a small cloud has before the cluster: a boot image, two teams and their people.
async fn seed(client: &Client, o: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let image = client
        .image()
        .create_image(fields([
            ("name", json!(o.image)),
            ("disk_format", json!("raw")),
            ("container_format", json!("bare")),
        ]))
        .await?;
    client
        .image()
        .upload_image(&image.id, vec![0; 4096])
        .await?;
    let identity = client.identity();
    let roles: Vec<_> = identity.list_roles(&[]).try_collect().await?;
    let role = |name: &str| roles.iter().find(|r| r.name == name).map(|r| r.id.clone());
    for (team, people) in [
        ("team-a", [("alice", "member"), ("bob", "reader")]),
        ("Team B", [("carol", "member"), ("dave", "admin")]),
    ] {
        let project = identity
            .create_project(fields([
                ("name", json!(team)),
                ("domain_id", json!("default")),
            ]))
            .await?;
        for (name, role_name) in people {
            let user = identity
                .create_user(
                    fields([("name", json!(name)), ("domain_id", json!("default"))]),
                    None,
                )
                .await?;
            let role_id = role(role_name).ok_or(format!("no role {role_name}"))?;
            identity
                .grant_project_role(&project.id, &user.id, &role_id)
                .await?;
        }
    }
    Ok(())
}

/// Keystone's projects, users and user role assignments (the `service` project left out).
async fn keystone_access(client: &Client) -> Result<KeystoneAccess, Box<dyn std::error::Error>> {
    let identity = client.identity();
    let projects: Vec<Project> = identity
        .list_projects(&[])
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .filter(|p| p.name != "service")
        .map(|p| Project {
            id: p.id,
            name: p.name,
        })
        .collect();
    let users: Vec<User> = identity
        .list_users(&[])
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .map(|u| User {
            id: u.id,
            name: u.name,
        })
        .collect();
    let assignments: Vec<RoleAssignment> = identity
        .list_role_assignments(&[("include_names", "true")])
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .filter_map(|a| {
            let project = a.scope.project?;
            projects.iter().any(|p| p.id == project.id).then_some(())?;
            Some(RoleAssignment {
                subject: match (a.user, a.group) {
                    (Some(u), _) => Subject::User(u.id),
                    (None, Some(g)) => Subject::Group(g.name.unwrap_or(g.id)),
                    (None, None) => return None,
                },
                project_id: project.id,
                role: a.role.name.unwrap_or(a.role.id),
            })
        })
        .collect();
    Ok(KeystoneAccess::new(projects, users, assignments))
}

/// Heat's rule properties for one iac-k8s firewall rule.
fn heat_rule(rule: &FirewallRule) -> Value {
    let protocol = match rule.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        // IP-in-IP is IP protocol 4 (Neutron takes the number).
        _ => "4",
    };
    let mut out = json!({"protocol": protocol, "remote_ip_prefix": rule.source_cidr});
    if let Some((from, to)) = rule.port_range.split_once('/')
        && from != "-1"
    {
        out["port_range_min"] = json!(from.parse::<u16>().unwrap_or(0));
        out["port_range_max"] = json!(to.parse::<u16>().unwrap_or(0));
    }
    out
}

/// The cluster's stack, with Heat's resource types and property names.
fn template(o: &Options, rules: &[FirewallRule]) -> Result<Template, serde_json::Error> {
    let networks = |port: Option<&str>| match (o.server_network, port) {
        (false, _) => json!([{"allocate_network": "none"}]),
        (true, Some(port)) => json!([{"port": {"Ref": port}}]),
        (true, None) => json!([{"network": {"Ref": "Net"}}]),
    };
    let mut resources = json!({
        "Net": {"Type": "OS::Neutron::Net", "Properties": {"name": "k8s-net"}},
        "Subnet": {"Type": "OS::Neutron::Subnet", "Properties": {
            "network": {"Ref": "Net"}, "cidr": SUBNET_CIDR, "ip_version": 4,
            "dns_nameservers": ["8.8.8.8"],
            "allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.250"}]}},
        "Router": {"Type": "OS::Neutron::Router", "Properties": {"name": "k8s-router"}},
        "RouterInterface": {"Type": "OS::Neutron::RouterInterface", "Properties": {
            "router": {"Ref": "Router"}, "subnet": {"Ref": "Subnet"}}},
        "SecGroup": {"Type": "OS::Neutron::SecurityGroup", "Properties": {
            "name": "k8s-nodes", "description": "Kubernetes masters and nodes",
            "rules": rules.iter().map(heat_rule).collect::<Vec<_>>()}},
        "MasterPort": {"Type": "OS::Neutron::Port", "Properties": {
            "network": {"Ref": "Net"}, "fixed_ips": [{"subnet": {"Ref": "Subnet"}, "ip_address": MASTER_IP}],
            "security_groups": [{"Ref": "SecGroup"}]}},
        "Master": {"Type": "OS::Nova::Server", "Properties": {
            "name": "k8s-master-0", "image": o.image, "flavor": o.flavor,
            "user_data_format": "RAW", "user_data": {"Ref": "MasterUserData"},
            "networks": networks(Some("MasterPort")),
            "metadata": {"k8s-role": "master"}}},
        "DataVolume": {"Type": "OS::Cinder::Volume", "Properties": {
            "name": "k8s-data", "size": 10, "description": "PersistentVolume data"}}
    });
    if let Some(ext) = &o.external_network {
        resources["Router"]["Properties"]["external_gateway_info"] = json!({"network": ext});
    }
    for i in 0..o.nodes {
        resources[format!("Node{i}")] = json!({"Type": "OS::Nova::Server", "Properties": {
            "name": format!("k8s-node-{i}"), "image": o.image, "flavor": o.flavor,
            "user_data_format": "RAW", "user_data": {"Ref": "NodeUserData"},
            "networks": networks(None), "security_groups": [{"Ref": "SecGroup"}],
            "metadata": {"k8s-role": "node"}},
            "DependsOn": ["Master"]});
    }
    serde_json::from_value(json!({
        "Parameters": {
            "MasterUserData": {"Type": "String", "NoEcho": true},
            "NodeUserData": {"Type": "String", "NoEcho": true}
        },
        "Resources": resources,
        "Outputs": {
            "network_id": {"Value": {"Ref": "Net"}},
            "master_address": {"Value": {"Fn::GetAtt": ["MasterPort", "fixed_ips"]}},
            "data_volume_id": {"Value": {"Ref": "DataVolume"}}
        }
    }))
}

fn write(dir: &Path, name: &str, text: &str, secret: bool) -> std::io::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let _ = secret;
    println!("  wrote {} ({} bytes)", path.display(), text.len());
    Ok(())
}

async fn run(o: Options) -> Result<(), Box<dyn std::error::Error>> {
    let (client, sim) = cloud(&o).await?;

    // Kubernetes access from Keystone.
    let access = keystone_access(&client).await?;
    let namespaces = access.namespace_names()?;
    println!(
        "keystone: {} projects -> namespaces {:?}",
        access.projects.len(),
        namespaces.values().collect::<Vec<_>>()
    );

    // The machines' user-data.
    let mut spec = ClusterSpec::new(
        KUBERNETES_VERSION,
        SUBNET_CIDR,
        ControlPlane::single(MASTER_IP),
        o.nodes,
    );
    spec.cloud_provider = CloudProvider::OpenStack;
    let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256)?;
    let rendered = render_cluster(&spec, &secrets)?;

    // The stack, through the engine.
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let input = StackInput::new(STACK, template(&o, &cluster_firewall_rules(&spec))?)
        .with_parameter("MasterUserData", rendered.first_master.user_data.expose())
        .with_parameter("NodeUserData", rendered.node.user_data.expose());
    print!("{}", engine.plan(&input).await?);
    let report = engine.apply(&input, RunOptions::default()).await?;
    if !report.is_success() {
        return Err(format!("apply failed: {:?}", report.failures).into());
    }
    println!(
        "applied {} resources: {}",
        report.resources.len(),
        report.status.as_str()
    );
    for (k, v) in &report.outputs {
        println!("  output {k} = {v}");
    }
    let volume_id = report.outputs["data_volume_id"]
        .as_str()
        .ok_or("no volume id")?
        .to_owned();

    // Manifests: Keystone access, a PV on the Cinder volume, a Cinder StorageClass.
    let first_namespace = namespaces.values().next().cloned().ok_or("no project")?;
    let pv = VolumeClaim::new(
        "data",
        &first_namespace,
        "10Gi",
        CinderVolume::Existing {
            volume_id,
            fs_type: None,
        },
    )
    .build()?;
    let dynamic = VolumeClaim::new(
        "scratch",
        &first_namespace,
        "5Gi",
        CinderVolume::Dynamic {
            volume_type: None,
            availability: None,
            allow_volume_expansion: true,
        },
    )
    .with_storage_class_name("cinder-standard")
    .build()?;
    let mut manifests: Vec<Manifest> = access
        .namespaces()?
        .into_iter()
        .map(Manifest::Namespace)
        .collect();
    manifests.push(Manifest::ConfigMap(
        access.keystone_policy_config_map("k8s-keystone-auth-policy")?,
    ));
    manifests.push(Manifest::ConfigMap(
        SyncConfig::default().config_map("k8s-keystone-auth-sync")?,
    ));
    manifests.extend(pv.objects());
    manifests.extend(dynamic.objects());

    std::fs::create_dir_all(&o.out)?;
    println!("files:");
    write(&o.out, "manifests.yaml", &render_yaml(&manifests), false)?;
    write(&o.out, "abac-policy.jsonl", &access.abac_policy()?, false)?;
    write(
        &o.out,
        "user-data-master.yaml",
        rendered.first_master.user_data.expose(),
        true,
    )?;
    write(
        &o.out,
        "user-data-node.yaml",
        rendered.node.user_data.expose(),
        true,
    )?;

    if o.keep {
        println!("kept the stack (--keep)");
    } else {
        let done = engine.destroy(STACK, RunOptions::default()).await?;
        if !done.is_success() {
            return Err(format!(
                "destroy failed: {:?} left {:?}",
                done.failures, done.left_behind
            )
            .into());
        }
        println!("destroyed the stack");
    }
    if let Some(sim) = sim {
        let inventory = sim.inventory();
        let left: usize = [
            "networks",
            "subnets",
            "routers",
            "ports",
            "security_groups",
            "servers",
            "volumes",
        ]
        .iter()
        .map(|c| inventory.of(c).len())
        .sum();
        println!("Objects of the stack left in the simulated cloud: {left}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openstack_k8s: {e}");
            ExitCode::FAILURE
        }
    }
}
