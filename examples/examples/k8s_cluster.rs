//! `cargo run --example k8s_cluster [-- COMMAND] [OPTIONS]`
//!
//! A one-step Kubernetes cluster on Alibaba Cloud, written as typed Rust: a VPC, a VSwitch
//! (two in two zones with `--ha`), a security group with the cluster's rules, the master
//! (or three behind an internal SLB with `--ha`), a group of nodes, and their kubeadm
//! user-data from `iac-k8s` (the CA and the bootstrap token are made here, up front, so
//! nodes join with a pinned CA and no round trip).
//!
//! With no command it runs the whole life cycle once on the built-in simulator of Alibaba
//! Cloud: plan, apply with live events, plan again (no changes), scale by one node, export
//! the stack as a ROS template, destroy, and count what is left. Commands for one step at a
//! time: `plan`, `apply`, `scale --nodes N`, `destroy`, `export-ros FILE`; the state lives
//! in `--state DIR` (default `.iac/`), and so does the simulated cloud between runs.
//! `history` lists the kept versions of the state, and `force-unlock` breaks the lock a
//! killed run left in a state directory.
//!
//! `--state postgres://USER:PASSWORD@HOST/DB` keeps the state in PostgreSQL instead, shared by
//! a team (`--state postgres` reads that URL from `IAC_STATE_URL`, which keeps the password
//! out of the command line; `IAC_STATE_CA` names a private CA's PEM file for TLS); the
//! simulated cloud and the cluster's secrets stay in `.iac/`.
//!
//! The simulator is a local HTTP server that speaks the Alibaba Cloud API (signatures,
//! statuses, client tokens, dependency rules): every call goes through the real client and
//! the real `ALIYUN::*` handlers. Nothing installs Kubernetes on a simulated machine, of
//! course. `--real` uses the account of the environment or the aliyun CLI profile instead,
//! after showing the plan and asking (unless `--yes`).

#[path = "live/mod.rs"]
mod live;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::resources::types::{
    BackendServerAttachment, Instance, InstanceGroup, Listener, LoadBalancer, Rule, SecurityGroup,
    VSwitch, Vpc,
};
use iac_aliyun::sim::{Delays, SimConfig, Simulator};
use iac_core::engine::{Action, Engine, EngineError, Plan, Report, RunOptions, StackInput, events};
use iac_core::loader;
use iac_core::secret::Secret;
use iac_core::stack::{Param, Prop, Stack};
use iac_core::state::{FileStateStore, PgStateStore, StateStore};
use iac_k8s::bootstrap::{
    BootstrapToken, CaAlgorithm, CertificateKey, ClusterBootstrap, ClusterCa, ClusterSecrets,
    ClusterSpec, ControlPlane, FirewallRule, Protocol, cluster_firewall_rules, render_cluster,
};

const STACK: &str = "k8s-demo";
const KUBERNETES_VERSION: &str = "v1.33.2";
const VPC_CIDR: &str = "192.168.0.0/16";
const VSWITCH_CIDRS: [&str; 2] = ["192.168.1.0/24", "192.168.2.0/24"];
/// Fixed addresses, so the user-data (which names the API endpoint) is known before any
/// machine exists.
const MASTER_IPS: [&str; 3] = ["192.168.1.10", "192.168.2.10", "192.168.1.11"];
const API_SLB_IP: &str = "192.168.1.100";

// ---------------------------------------------------------------------------------------
// The stack

/// The cluster's stack, in the shape of the seeds' ROS template.
fn cluster_stack(ha: bool, rules: &[FirewallRule]) -> Stack {
    let mut stack = Stack::new(STACK);
    stack
        .description("A Kubernetes cluster made by kubeadm: masters and a group of nodes in a VPC");
    let zone = stack.parameter(
        "ZoneId",
        Param::string()
            .default("cn-hangzhou-h")
            .description("Zone of the first VSwitch"),
    );
    let zone2 = stack.parameter(
        "ZoneId2",
        Param::string()
            .default("cn-hangzhou-i")
            .description("Zone of the second VSwitch (HA)"),
    );
    let instance_type = stack.parameter("InstanceType", Param::string().default("ecs.g7.large"));
    let image = stack.parameter(
        "ImageId",
        Param::string().default("ubuntu_22_04_x64_20G_alibase_20240926.vhd"),
    );
    let nodes = stack.parameter(
        "NodeCount",
        Param::integer()
            .default(2)
            .min_value(1)
            .max_value(100)
            .description("Number of worker nodes"),
    );
    let key_pair = stack.parameter(
        "KeyPairName",
        Param::string()
            .default("")
            .description("SSH key pair (optional)"),
    );
    let password = stack.parameter(
        "Password",
        Param::string()
            .no_echo()
            .default("")
            .description("Login password of the machines (optional; a key pair is better)"),
    );
    // The user-data holds the cluster CA key and the bootstrap token: NoEcho parameters, so
    // plans, events and the state file only ever show a digest of them.
    let first_master_data = stack.parameter("FirstMasterUserData", Param::string().no_echo());
    let master_data = stack.parameter("MasterUserData", Param::string().no_echo().default(""));
    let node_data = stack.parameter("NodeUserData", Param::string().no_echo());

    let vpc = stack.add(
        "Vpc",
        Vpc {
            cidr_block: VPC_CIDR.into(),
            vpc_name: "k8s-vpc".into(),
            ..Default::default()
        },
    );
    let mut vswitches = vec![stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: zone,
            cidr_block: VSWITCH_CIDRS[0].into(),
            ..Default::default()
        },
    )];
    if ha {
        vswitches.push(stack.add(
            "VSwitch2",
            VSwitch {
                vpc_id: vpc.vpc_id(),
                zone_id: zone2,
                cidr_block: VSWITCH_CIDRS[1].into(),
                ..Default::default()
            },
        ));
    }
    let sg = stack.add(
        "SecurityGroup",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            security_group_name: "k8s-cluster".into(),
            security_group_ingress: rules
                .iter()
                .map(security_group_rule)
                .collect::<Vec<_>>()
                .into(),
            ..Default::default()
        },
    );

    let masters: Vec<_> = (0..if ha { 3 } else { 1 })
        .map(|i| {
            let vsw = &vswitches[i % vswitches.len()];
            stack.add(
                if ha {
                    format!("K8sMaster{i}")
                } else {
                    "K8sMaster".to_owned()
                },
                Instance {
                    vswitch_id: vsw.vswitch_id(),
                    security_group_id: sg.security_group_id(),
                    instance_type: instance_type.clone(),
                    image_id: image.clone(),
                    private_ip_address: MASTER_IPS[i].into(),
                    host_name: format!("k8s-master-{i}").into(),
                    key_pair_name: key_pair.clone(),
                    password: password.clone(),
                    user_data: if i == 0 {
                        first_master_data.clone()
                    } else {
                        master_data.clone()
                    },
                    ..Default::default()
                },
            )
        })
        .collect();
    if ha {
        let slb = stack.add(
            "ApiServerSlb",
            LoadBalancer {
                address_type: "intranet".into(),
                load_balancer_spec: "slb.s1.small".into(),
                vpc_id: vpc.vpc_id(),
                vswitch_id: vswitches[0].vswitch_id(),
                address: API_SLB_IP.into(),
                ..Default::default()
            },
        );
        stack.add(
            "ApiServerListener",
            Listener {
                load_balancer_id: slb.load_balancer_id(),
                listener_port: 6443.into(),
                backend_server_port: 6443.into(),
                protocol: "tcp".into(),
                bandwidth: (-1).into(),
                ..Default::default()
            },
        );
        stack.add(
            "ApiServerBackends",
            BackendServerAttachment {
                load_balancer_id: slb.load_balancer_id(),
                backend_server_list: Prop::list(masters.iter().map(|m| m.instance_id())),
                ..Default::default()
            },
        );
    }
    let group = stack.add(
        "K8sNodes",
        InstanceGroup {
            vswitch_id: vswitches[0].vswitch_id(),
            security_group_id: sg.security_group_id(),
            instance_type,
            image_id: image,
            max_amount: nodes,
            host_name: "k8s-node".into(),
            key_pair_name: key_pair,
            password,
            user_data: node_data,
            ..Default::default()
        },
    );
    stack.output(
        "ApiServerEndpoint",
        Prop::from(format!(
            "https://{}:6443",
            if ha { API_SLB_IP } else { MASTER_IPS[0] }
        )),
    );
    stack.output(
        "MasterIps",
        Prop::list(masters.iter().map(|m| m.private_ip())),
    );
    stack.output("NodeIps", group.private_ips());
    stack.output("NodeHostNames", group.host_names());
    stack
}

/// A rule of the cluster as the security group takes it (Alibaba Cloud has no IP-in-IP
/// protocol: Calico's encapsulation is allowed as "all" from the same source).
fn security_group_rule(rule: &FirewallRule) -> Rule {
    let (protocol, ports) = match rule.protocol {
        Protocol::Tcp => ("tcp", rule.port_range.as_str()),
        Protocol::Udp => ("udp", rule.port_range.as_str()),
        _ => ("all", "-1/-1"),
    };
    Rule::ingress(protocol, ports, &rule.source_cidr)
}

/// The kubeadm side: the spec, and the user-data of every role from the cluster's secrets.
fn bootstrap(
    ha: bool,
    nodes: i64,
    secrets: &ClusterSecrets,
) -> Result<(ClusterSpec, ClusterBootstrap), Box<dyn std::error::Error>> {
    let control_plane = if ha {
        ControlPlane::highly_available(API_SLB_IP, 3)
    } else {
        ControlPlane::single(MASTER_IPS[0])
    };
    let spec = ClusterSpec::new(
        KUBERNETES_VERSION,
        VPC_CIDR,
        control_plane,
        u32::try_from(nodes)?,
    );
    let rendered = render_cluster(&spec, secrets)?;
    Ok((spec, rendered))
}

fn input(
    ha: bool,
    nodes: i64,
    spec: &ClusterSpec,
    rendered: &ClusterBootstrap,
) -> Result<StackInput, Box<dyn std::error::Error>> {
    let template = cluster_stack(ha, &cluster_firewall_rules(spec)).template()?;
    let mut input = StackInput::new(STACK, template)
        .with_parameter("NodeCount", nodes)
        .with_parameter(
            "FirstMasterUserData",
            rendered.first_master.user_data.expose(),
        )
        .with_parameter("NodeUserData", rendered.node.user_data.expose());
    if let Some(masters) = &rendered.other_masters {
        input = input.with_parameter("MasterUserData", masters.user_data.expose());
    }
    Ok(input)
}

// ---------------------------------------------------------------------------------------
// The cluster's secrets, kept beside the state (mode 0600) so that every run renders the
// same user-data: a new CA would replace every machine.

fn load_or_make_secrets(dir: &Path) -> Result<ClusterSecrets, Box<dyn std::error::Error>> {
    let path = dir.join(format!("{STACK}.cluster-secrets.json"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let field = |name: &str| {
            v[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: missing {name}", path.display()))
        };
        return Ok(ClusterSecrets {
            ca: ClusterCa::from_pem(&field("ca_cert")?, &field("ca_key")?)?,
            token: BootstrapToken::parse(&field("token")?)?,
            certificate_key: CertificateKey::parse(&field("certificate_key")?)?,
        });
    }
    let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256)?;
    let doc = serde_json::json!({
        "ca_cert": secrets.ca.cert_pem(),
        "ca_key": secrets.ca.key_pem().expose(),
        "token": secrets.token.secret().expose(),
        "certificate_key": secrets.certificate_key.secret().expose(),
    });
    write_private(&path, &serde_json::to_string_pretty(&doc)?)?;
    Ok(secrets)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// The generated files, for the user to read: `target/k8s_cluster/`.
fn write_generated(rendered: &ClusterBootstrap) -> std::io::Result<PathBuf> {
    let dir = PathBuf::from("target/k8s_cluster");
    let mut roles = vec![
        ("first-master", &rendered.first_master),
        ("node", &rendered.node),
    ];
    if let Some(masters) = &rendered.other_masters {
        roles.push(("master", masters));
    }
    for (name, data) in roles {
        write_private(
            &dir.join(format!("{name}.user-data.yaml")),
            data.user_data.expose(),
        )?;
        write_private(
            &dir.join(format!("{name}.kubeadm.yaml")),
            data.kubeadm_yaml.expose(),
        )?;
        write_private(&dir.join(format!("{name}.bootstrap.sh")), &data.script)?;
    }
    write_private(&dir.join("remove-node.sh"), &rendered.remove_node_script)?;
    Ok(dir)
}

// ---------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone, PartialEq)]
enum Command {
    Tour,
    Plan,
    Apply,
    Scale,
    Destroy,
    ExportRos(PathBuf),
    History,
    ForceUnlock,
}

#[derive(Debug, Clone)]
struct Options {
    command: Command,
    nodes: i64,
    ha: bool,
    /// The state directory, or with `state_url` the directory of the local files only
    /// (the simulated cloud, the cluster's secrets).
    state: PathBuf,
    /// `--state postgres://...`: the state database.
    state_url: Option<Secret>,
    real: bool,
    yes: bool,
    show_secrets: bool,
    /// The region; `None`: the credentials' region (`--real`) or `cn-hangzhou`.
    region: Option<String>,
    /// The zones of the two VSwitches.
    zones: [String; 2],
}

const USAGE: &str = "usage: cargo run --example k8s_cluster -- \
[plan | apply | scale | destroy | export-ros FILE | history | force-unlock] \
[--nodes N] [--ha] [--region R] [--zones Z1,Z2] [--state DIR | --state postgres://URL | --state postgres] \
[--real] [--yes] [--show-secrets]";

/// The environment variable `--state postgres` reads the database's URL from.
const STATE_URL_ENV: &str = "IAC_STATE_URL";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        command: Command::Tour,
        nodes: 2,
        ha: false,
        state: PathBuf::from(".iac"),
        state_url: None,
        real: false,
        yes: false,
        show_secrets: false,
        region: None,
        zones: ["cn-hangzhou-h".to_owned(), "cn-hangzhou-i".to_owned()],
    };
    let mut zones_given = false;
    let mut state_given = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "plan" => options.command = Command::Plan,
            "apply" => options.command = Command::Apply,
            "scale" => options.command = Command::Scale,
            "destroy" => options.command = Command::Destroy,
            "history" => options.command = Command::History,
            "force-unlock" => options.command = Command::ForceUnlock,
            "export-ros" => {
                let file = it
                    .next()
                    .ok_or("export-ros needs a FILE to write the ROS template to")?;
                options.command = Command::ExportRos(PathBuf::from(file));
            }
            "--nodes" => {
                let n = it.next().ok_or("--nodes needs a number")?;
                options.nodes = n
                    .parse()
                    .map_err(|_| format!("--nodes takes a whole number, not '{n}'"))?;
                if !(1..=100).contains(&options.nodes) {
                    return Err(format!("--nodes must be 1 to 100, not {n}"));
                }
            }
            "--state" => {
                let value = it
                    .next()
                    .ok_or("--state needs a directory or a postgres:// URL")?;
                if value == "postgres" {
                    let url = std::env::var(STATE_URL_ENV).map_err(|_| {
                        format!("--state postgres reads the database URL from {STATE_URL_ENV}, which is not set")
                    })?;
                    options.state_url = Some(Secret::new(url));
                } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
                    options.state_url = Some(Secret::new(value.clone()));
                } else {
                    options.state = PathBuf::from(value);
                    options.state_url = None;
                }
                state_given = true;
            }
            "--ha" => options.ha = true,
            "--real" => options.real = true,
            "--yes" => options.yes = true,
            "--show-secrets" => options.show_secrets = true,
            "--region" => {
                options.region = Some(
                    it.next()
                        .ok_or("--region needs a region id (cn-hangzhou)")?
                        .clone(),
                )
            }
            "--zones" => {
                let list = it.next().ok_or("--zones needs two zone ids: Z1,Z2")?;
                let zones: Vec<&str> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|z| !z.is_empty())
                    .collect();
                let [a, b] = zones.as_slice() else {
                    return Err(format!(
                        "--zones takes two zone ids separated by a comma, not '{list}'"
                    ));
                };
                options.zones = [(*a).to_owned(), (*b).to_owned()];
                zones_given = true;
            }
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    if let Some(region) = &options.region
        && !zones_given
    {
        return Err(format!(
            "--region {region} needs --zones Z1,Z2: zone ids of that region"
        ));
    }
    if options.command == Command::Tour {
        if options.real {
            return Err("--real needs a command (plan, apply, scale, destroy): the tour is for the simulator".into());
        }
        if !state_given || options.state_url.is_some() {
            // The tour starts from nothing every time (its local files, with a database).
            options.state = PathBuf::from("target/k8s_cluster/tour-state");
        }
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------
// Running

/// Applies with a live view: a progress bar with counts per status, and the event list of
/// the ROS console above it.
/// Applies exactly the plan shown (refused if the stack changed since), with a live view.
async fn apply_live(engine: &Engine, plan: Plan) -> Result<Report, EngineError> {
    live::live(changes(&plan), |options| engine.apply_plan(plan, options)).await
}

async fn destroy_live(engine: &Engine) -> Result<Report, EngineError> {
    let (tx, mut rx) = events::channel();
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            println!("  {event}");
        }
    });
    let result = engine
        .destroy(STACK, RunOptions::default().with_events(tx))
        .await;
    let _ = printer.await;
    result
}

fn print_report(report: &Report, secrets: &ClusterSecrets, show_secrets: bool) {
    println!("\nResources:");
    for r in &report.resources {
        let id = r.physical_id.as_ref().map(|p| p.as_str()).unwrap_or("-");
        println!(
            "  {:<18} {:<34} {:<28} {}",
            r.logical_id, r.type_name, id, r.status
        );
    }
    println!("Outputs:");
    for (name, value) in &report.outputs {
        println!("  {name} = {value}");
    }
    let endpoint = report
        .outputs
        .get("ApiServerEndpoint")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let token = if show_secrets {
        secrets.token.secret().expose().to_owned()
    } else {
        format!("{}.<secret: --show-secrets>", secrets.token.id())
    };
    println!(
        "  JoinCommand = kubeadm join {} --token {token} --discovery-token-ca-cert-hash {}",
        endpoint.trim_start_matches("https://"),
        secrets.ca.ca_cert_hash()
    );
}

fn changes(plan: &Plan) -> usize {
    plan.resources.len() - plan.count(Action::NoOp)
}

fn confirm(question: &str) -> bool {
    print!("{question} [type yes] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    if options.command == Command::Tour {
        let _ = std::fs::remove_dir_all(&options.state);
    }
    std::fs::create_dir_all(&options.state)?;
    // The cloud: the simulator unless --real.
    let (client, sim) = if options.real {
        let mut client = Client::from_env().map_err(|e| format!("--real: {e}"))?;
        if let Some(region) = &options.region {
            let mut config = client.config().clone();
            config.region = region.clone();
            client = Client::new(config)?;
        }
        println!(
            "k8s_cluster: using the REAL Alibaba Cloud account of your environment, region {}.",
            client.region()
        );
        (client, None)
    } else {
        let delays = Delays {
            instance_pending: Duration::from_millis(800),
            instance_starting: Duration::from_millis(1200),
            vpc_pending: Duration::from_millis(400),
            vswitch_pending: Duration::from_millis(400),
            listener_starting: Duration::from_millis(300),
            mount_target_pending: Duration::from_millis(500),
        };
        let persist = Some(options.state.join("simulated-cloud.json"));
        let mut config = SimConfig {
            delays,
            persist,
            ..SimConfig::default()
        };
        if let Some(region) = &options.region {
            config.region = region.clone();
            config.zones = options.zones.to_vec();
        }
        let sim = Simulator::start(config).await?;
        println!(
            "k8s_cluster: no Alibaba Cloud account is used. Every call goes to the built-in simulator of the \
             Alibaba Cloud API at {} (signed requests, real statuses), kept in {}. Nothing installs Kubernetes \
             on a simulated machine; the user-data it would run is in target/k8s_cluster/.",
            sim.endpoint(),
            options.state.join("simulated-cloud.json").display()
        );
        let client = Client::new(
            ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()),
        )?;
        (client, Some(sim))
    };
    let store: std::sync::Arc<dyn StateStore> = match &options.state_url {
        Some(url) => {
            // IAC_STATE_CA: a PEM file of the private CA of the database's certificate.
            let store = PgStateStore::builder(url.expose())
                .roots_from_env()
                .build()?;
            println!("k8s_cluster: the state is in {}", store.target());
            std::sync::Arc::new(store)
        }
        None => std::sync::Arc::new(FileStateStore::new(&options.state)),
    };
    let engine = Engine::builder()
        .provider(registry(&client))
        .state_arc(store.clone())
        .build();
    let secrets = load_or_make_secrets(&options.state)?;
    // The node count lives in the state between runs: a plain `apply` keeps what `scale` set.
    let nodes = if options.command == Command::Scale || options.command == Command::Tour {
        options.nodes
    } else {
        current_nodes(&engine).await.unwrap_or(options.nodes)
    };
    let (spec, rendered) = bootstrap(options.ha, nodes, &secrets)?;
    let generated = write_generated(&rendered)?;
    let input = input(options.ha, nodes, &spec, &rendered)?
        .with_parameter("ZoneId", options.zones[0].clone())
        .with_parameter("ZoneId2", options.zones[1].clone());

    match &options.command {
        Command::Tour => tour(&engine, &input, &options, &secrets, &generated).await?,
        Command::Plan => print!("{}", engine.plan(&input).await?),
        Command::Apply | Command::Scale => {
            let plan = engine.plan(&input).await?;
            print!("{plan}");
            if plan.is_empty() {
                return Ok(());
            }
            if options.real
                && !options.yes
                && !confirm("Apply this plan to your Alibaba Cloud account?")
            {
                return Err("not applied: the answer was not 'yes'".into());
            }
            let report = apply_live(&engine, plan).await?;
            print_report(&report, &secrets, options.show_secrets);
        }
        Command::Destroy => {
            if options.real
                && !options.yes
                && !confirm(&format!(
                    "Destroy stack {STACK} in your Alibaba Cloud account?"
                ))
            {
                return Err("not destroyed: the answer was not 'yes'".into());
            }
            destroy_live(&engine).await?;
        }
        Command::ExportRos(file) => {
            std::fs::write(file, export_ros(options.ha, &spec)?)?;
            println!("wrote the stack as a ROS template to {}", file.display());
        }
        Command::History => {
            let versions = store.history(STACK).await?;
            if versions.is_empty() {
                println!("no saved versions of stack {STACK}");
            }
            for v in versions {
                let by = v.saved_by.map(|b| format!(" by {b}")).unwrap_or_default();
                let resources = store
                    .show(STACK, v.serial)
                    .await?
                    .map_or(0, |s| s.resources.len());
                println!(
                    "serial {:>4}  {}  {:>8} bytes  {resources} resources{by}",
                    v.serial,
                    v.saved.format("%Y-%m-%d %H:%M:%S UTC"),
                    v.bytes
                );
            }
        }
        Command::ForceUnlock => {
            if options.state_url.is_some() {
                println!(
                    "nothing to do: a PostgreSQL state lock ends with the session of the run that holds it"
                );
            } else {
                FileStateStore::new(&options.state).force_unlock(STACK)?;
                println!(
                    "removed the lock of stack {STACK} in {}",
                    options.state.display()
                );
            }
        }
    }
    if let Some(sim) = sim {
        sim.save()?;
        if options.command == Command::Destroy || options.command == Command::Tour {
            let left = sim.inventory();
            println!("Objects left in the simulated cloud: {}", left.len());
            if !left.is_empty() {
                return Err(format!("destroy left objects behind: {left:?}").into());
            }
        }
    }
    Ok(())
}

async fn current_nodes(engine: &Engine) -> Option<i64> {
    let state = engine.state(STACK).await.ok()??;
    state
        .resources
        .get("K8sNodes")?
        .properties
        .get("MaxAmount")?
        .as_i64()
}

/// The stack as a ROS template (JSON), with the format version ROS wants.
fn export_ros(ha: bool, spec: &ClusterSpec) -> Result<String, Box<dyn std::error::Error>> {
    let mut template = cluster_stack(ha, &cluster_firewall_rules(spec)).template()?;
    template.format_version = Some(iac_core::model::ROS_FORMAT_VERSION.to_owned());
    Ok(loader::to_json_string_pretty(&template)?)
}

async fn tour(
    engine: &Engine,
    input: &StackInput,
    options: &Options,
    secrets: &ClusterSecrets,
    generated: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "The kubeadm configuration and user-data of every role are in {}/ (mode 0600: they hold the CA key).",
        generated.display()
    );
    println!("\n$ plan");
    let plan = engine.plan(input).await?;
    print!("{plan}");

    println!("\n$ apply");
    let report = apply_live(engine, plan).await?;
    print_report(&report, secrets, options.show_secrets);

    println!("\n$ plan (again)");
    print!("{}", engine.plan(input).await?);

    let scaled = input.clone().with_parameter("NodeCount", options.nodes + 1);
    println!("\n$ scale --nodes {}", options.nodes + 1);
    let plan = engine.plan(&scaled).await?;
    print!("{plan}");
    let report = apply_live(engine, plan).await?;
    println!("  NodeHostNames = {}", report.outputs["NodeHostNames"]);

    let file = Path::new("target/k8s_cluster/k8s-demo.ros.json");
    let spec = bootstrap(options.ha, options.nodes, secrets)?.0;
    std::fs::write(file, export_ros(options.ha, &spec)?)?;
    println!(
        "\n$ export-ros {}\n  wrote the same stack as a ROS template",
        file.display()
    );

    println!("\n$ destroy");
    destroy_live(engine).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iac_core::memory::{MemoryCloud, MemoryConfig};

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_state_can_be_a_postgres_url_which_never_prints() {
        let o = parse_args(&args("apply --state postgres://iac:pw-4711@db:5432/iac")).unwrap();
        assert_eq!(
            o.state_url.as_ref().map(Secret::expose),
            Some("postgres://iac:pw-4711@db:5432/iac")
        );
        assert_eq!(o.state, PathBuf::from(".iac"), "local files stay in .iac/");
        assert!(!format!("{o:?}").contains("pw-4711"), "{o:?}");
        let tour = parse_args(&args("--state postgresql://iac@db/iac")).unwrap();
        assert_eq!(
            tour.state,
            PathBuf::from("target/k8s_cluster/tour-state"),
            "the tour's local files start from nothing"
        );
        let back = parse_args(&args("plan --state postgres://x@y/z --state /tmp/s")).unwrap();
        assert!(back.state_url.is_none() && back.state == Path::new("/tmp/s"));
        assert_eq!(
            parse_args(&args("history")).unwrap().command,
            Command::History
        );
        assert_eq!(
            parse_args(&args("force-unlock --state /tmp/s"))
                .unwrap()
                .command,
            Command::ForceUnlock
        );
    }

    #[test]
    fn the_command_line_is_checked() {
        assert_eq!(parse_args(&args("")).unwrap().command, Command::Tour);
        let o = parse_args(&args("scale --nodes 5 --state /tmp/x")).unwrap();
        assert_eq!(
            (o.command, o.nodes, o.state),
            (Command::Scale, 5, PathBuf::from("/tmp/x"))
        );
        assert!(
            parse_args(&args("--nodes 0"))
                .unwrap_err()
                .contains("--nodes must be 1 to 100")
        );
        assert!(
            parse_args(&args("--nodes two"))
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse_args(&args("export-ros"))
                .unwrap_err()
                .contains("FILE")
        );
        assert!(
            parse_args(&args("--real"))
                .unwrap_err()
                .contains("needs a command")
        );
        assert!(
            parse_args(&args("bogus"))
                .unwrap_err()
                .contains("unknown argument 'bogus'")
        );
        assert!(
            parse_args(&args("--region eu-central-1"))
                .unwrap_err()
                .contains("--zones")
        );
        assert!(
            parse_args(&args("--region eu-central-1 --zones a"))
                .unwrap_err()
                .contains("two zone ids")
        );
        let o = parse_args(&args(
            "--region eu-central-1 --zones eu-central-1a,eu-central-1b",
        ))
        .unwrap();
        assert_eq!(
            o.zones,
            ["eu-central-1a".to_owned(), "eu-central-1b".to_owned()]
        );
    }

    /// The exported ROS template, read back by the template loader, plans exactly like the
    /// stack built in Rust.
    #[tokio::test]
    async fn the_exported_ros_template_plans_like_the_rust_stack() {
        for ha in [false, true] {
            let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256).unwrap();
            let (spec, rendered) = bootstrap(ha, 3, &secrets).unwrap();
            let rust = input(ha, 3, &spec, &rendered).unwrap();
            let exported = loader::load_json(&export_ros(ha, &spec).unwrap())
                .expect("the loader reads our export");
            let mut from_ros = StackInput::new(STACK, exported);
            for (name, value) in &rust.parameters {
                from_ros = from_ros.with_parameter(name.clone(), value.clone());
            }
            let types = cluster_stack(ha, &[]).template().unwrap();
            let type_names: Vec<&str> = types
                .resources
                .values()
                .map(|r| r.type_name.as_str())
                .collect();
            let cloud = MemoryCloud::new(MemoryConfig::default());
            let engine = Engine::builder()
                .provider(cloud.registry(&type_names))
                .build();
            let a = engine.plan(&rust).await.unwrap();
            let b = engine.plan(&from_ros).await.unwrap();
            // Secrets show as salted digests, and each plan without a state has its own salt.
            let masked = |text: String| {
                text.split("***sha256:")
                    .enumerate()
                    .map(|(i, part)| {
                        if i == 0 {
                            part
                        } else {
                            part.trim_start_matches(|c: char| c.is_ascii_hexdigit())
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("***")
            };
            assert_eq!(masked(a.to_string()), masked(b.to_string()), "ha={ha}");
            assert_eq!(a.count(Action::Create), if ha { 11 } else { 5 });
        }
    }

    /// The cluster stack, built in Rust, exports to ROS JSON and YAML that read back to the
    /// same template.
    #[test]
    fn the_cluster_stack_round_trips_through_ros_json_and_yaml() {
        let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256).unwrap();
        for ha in [false, true] {
            let (spec, _) = bootstrap(ha, 3, &secrets).unwrap();
            let mut t = cluster_stack(ha, &cluster_firewall_rules(&spec))
                .template()
                .unwrap();
            t.format_version = Some(iac_core::model::ROS_FORMAT_VERSION.to_owned());
            let json = loader::to_json_string_pretty(&t).unwrap();
            assert_eq!(loader::load_json(&json).unwrap(), t, "ha={ha}: JSON");
            assert_eq!(json, export_ros(ha, &spec).unwrap());
            let yaml = loader::to_yaml_string(&t).unwrap();
            assert_eq!(loader::load_yaml(&yaml).unwrap(), t, "ha={ha}: YAML");
        }
    }

    #[test]
    fn secrets_never_reach_the_exported_template() {
        let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256).unwrap();
        let (spec, _) = bootstrap(true, 2, &secrets).unwrap();
        let exported = export_ros(true, &spec).unwrap();
        assert!(!exported.contains(secrets.token.secret().expose()));
        assert!(!exported.contains("PRIVATE KEY"));
        assert!(exported.contains("\"NoEcho\": true"));
    }
}
