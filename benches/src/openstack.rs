//! Figure 7: one HOT template of Neutron resources created and deleted by the real Heat
//! engine (through the Orchestration API) and by our engine (HOT import, iac-core engine,
//! iac-openstack handlers) against the same real Neutron, on the services that
//! `../shared/peers/openstack.sh start --full` runs.
//!
//! [`neutron_template`] generates the template: shared routers and security groups (with
//! inline rules and separate rule resources, some rules naming another group), then tenant
//! networks, each with its subnet, an interface on one of the routers and two ports with
//! fixed addresses in two groups each. [`run`] deploys it with both tools one after the
//! other, compares the two deployments object by object through Neutron
//! ([`iac_openstack::compare`]), deletes both and checks that Neutron holds nothing either
//! left behind.
//!
//! ```
//! let hot = iac_benches::openstack::neutron_template("demo", 30);
//! assert_eq!(hot["resources"].as_object().unwrap().len(), 30);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::state::MemoryStateStore;
use iac_openstack::client::{Body, Client, Service};
use iac_openstack::compare::{self, Deployed};
use iac_openstack::config::{CloudConfig, MapSource};
use iac_openstack::resources::registry;
use iac_openstack::services::{Fields, Wait};
use serde_json::{Map, Value, json};

/// Routers shared by the tenant networks.
const ROUTERS: usize = 3;
/// Security groups shared by the ports: name, two inline rules, two rule resources.
const GROUPS: [&str; 4] = ["web", "app", "db", "admin"];
/// Resources outside the tenant networks: routers, groups, two rule resources per group.
const SHARED: usize = ROUTERS + GROUPS.len() * 3;
/// Resources of one tenant network: network, subnet, router interface, two ports.
const PER_NETWORK: usize = 5;

/// How often Heat's stack status is read while it works.
pub const HEAT_POLL: Duration = Duration::from_secs(1);

/// Tenant networks of a template of about `total` resources (at least one).
pub fn networks_for(total: usize) -> usize {
    (total.saturating_sub(SHARED) / PER_NETWORK).max(1)
}

/// Resources of the template [`neutron_template`] makes for `total`: `total` itself when
/// `total - 15` is a multiple of 5 (30, 150, ...).
pub fn resources_for(total: usize) -> usize {
    SHARED + PER_NETWORK * networks_for(total)
}

fn inline_rules(group: &str) -> Value {
    let tcp = |port: u32, remote: Value| {
        let mut rule = json!({"protocol": "tcp", "port_range_min": port, "port_range_max": port});
        if let (Some(rule), Some(remote)) = (rule.as_object_mut(), remote.as_object()) {
            rule.extend(remote.clone());
        }
        rule
    };
    let cidr = |c: &str| json!({"remote_ip_prefix": c});
    let from = |g: &str| json!({"remote_mode": "remote_group_id", "remote_group_id": {"get_resource": format!("sg_{g}")}});
    match group {
        "web" => json!([tcp(80, cidr("0.0.0.0/0")), tcp(443, cidr("0.0.0.0/0"))]),
        "app" => json!([
            tcp(8080, from("web")),
            tcp(8443, json!({"remote_mode": "remote_group_id"}))
        ]),
        "db" => json!([tcp(5432, from("app")), tcp(3306, from("app"))]),
        _ => {
            json!([tcp(22, cidr("192.0.2.0/24")), {"protocol": "udp", "port_range_min": 161, "port_range_max": 161, "remote_ip_prefix": "192.0.2.0/24"}])
        }
    }
}

/// A HOT template (as JSON, which HOT accepts) of about `total` Neutron resources whose
/// names start with `prefix`: 3 routers and 4 security groups (web, app, db, admin; each
/// with 2 inline rules, some naming another group, and 2 `OS::Neutron::SecurityGroupRule`
/// resources: SSH and ICMP from 10.0.0.0/8), then `(total - 15) / 5` tenant networks
/// `net_<k>` with subnet `subnet_<k>` (10.x.y.0/24), interface `if_<k>` on router
/// `router_<k mod 3>`, and ports `port_<k>_a` (.10, groups web and app) and `port_<k>_b`
/// (.11, groups db and admin).
pub fn neutron_template(prefix: &str, total: usize) -> Value {
    let mut resources = Map::new();
    for r in 0..ROUTERS {
        resources.insert(
            format!("router_{r}"),
            json!({"type": "OS::Neutron::Router", "properties": {"name": format!("{prefix}-router-{r}")}}),
        );
    }
    for g in GROUPS {
        resources.insert(
            format!("sg_{g}"),
            json!({"type": "OS::Neutron::SecurityGroup", "properties": {
                "name": format!("{prefix}-{g}"), "description": format!("{g} tier"),
                "rules": inline_rules(g)}}),
        );
        for (name, protocol, port) in [("ssh", "tcp", Some(22)), ("icmp", "icmp", None)] {
            let mut props = json!({"security_group": {"get_resource": format!("sg_{g}")},
                "protocol": protocol, "remote_ip_prefix": "10.0.0.0/8"});
            if let Some(port) = port {
                props["port_range_min"] = json!(port);
                props["port_range_max"] = json!(port);
            }
            resources.insert(
                format!("sg_{g}_{name}"),
                json!({"type": "OS::Neutron::SecurityGroupRule", "properties": props}),
            );
        }
    }
    for k in 0..networks_for(total) {
        let net = format!("net_{k}");
        let subnet = format!("subnet_{k}");
        let (hi, lo) = (k / 250, k % 250);
        resources.insert(
            net.clone(),
            json!({"type": "OS::Neutron::Net", "properties": {"name": format!("{prefix}-net-{k}")}}),
        );
        resources.insert(
            subnet.clone(),
            json!({"type": "OS::Neutron::Subnet", "properties": {
                "network": {"get_resource": net}, "cidr": format!("10.{}.{lo}.0/24", 100 + hi),
                "ip_version": 4, "dns_nameservers": ["192.0.2.53"]}}),
        );
        resources.insert(
            format!("if_{k}"),
            json!({"type": "OS::Neutron::RouterInterface", "properties": {
                "router": {"get_resource": format!("router_{}", k % ROUTERS)},
                "subnet": {"get_resource": subnet}}}),
        );
        for (suffix, host, groups) in [("a", 10, ["web", "app"]), ("b", 11, ["db", "admin"])] {
            resources.insert(
                format!("port_{k}_{suffix}"),
                json!({"type": "OS::Neutron::Port", "properties": {
                    "name": format!("{prefix}-port-{k}-{suffix}"),
                    "network": {"get_resource": net},
                    "fixed_ips": [{"subnet": {"get_resource": subnet},
                                   "ip_address": format!("10.{}.{lo}.{host}", 100 + hi)}],
                    "security_groups": groups.map(|g| json!({"get_resource": format!("sg_{g}")}))}}),
            );
        }
    }
    json!({
        "heat_template_version": "2018-08-31",
        "description": format!("{} Neutron resources for the Heat vs ours benchmark", resources.len()),
        "resources": resources,
    })
}

/// Why figure 7 cannot run here (no services, or not the full set): `Err(Unavailable)`
/// from [`Services::find`]. Any other failure is an error of the measurement.
#[derive(Debug)]
pub enum Problem {
    /// The services are not there; the reason.
    Unavailable(String),
    /// The measurement failed.
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for Problem {
    fn from(e: E) -> Problem {
        Problem::Failed(e.to_string())
    }
}

/// The real services the figure runs on.
pub struct Services {
    /// The admin (quotas).
    pub admin: Client,
    /// The non-admin user `demo`, who owns both deployments.
    pub demo: Client,
    /// The state directory of `openstack.sh` (where its `openrc` is).
    pub state_dir: PathBuf,
}

/// The `export K=V` lines of an openrc file.
fn openrc(path: &Path) -> Result<MapSource, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut source = MapSource::default();
    for (k, v) in text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
    {
        source = source.var(k, v.trim_matches(|c| c == '\'' || c == '"'));
    }
    Ok(source)
}

impl Services {
    /// The services `IAC_OS_OPENRC` names (the admin openrc of `openstack.sh`; the demo
    /// user's `openrc-demo` beside it), if they run and their catalog has Heat.
    pub async fn find() -> Result<Services, Problem> {
        let Some(path) = std::env::var_os("IAC_OS_OPENRC").map(PathBuf::from) else {
            return Err(Problem::Unavailable(
                "IAC_OS_OPENRC is not set (needs the full OpenStack set: ../shared/peers/openstack.sh start --full, then IAC_OS_OPENRC=<state>/openstack/openrc)".into(),
            ));
        };
        if !path.exists() {
            return Err(Problem::Unavailable(format!(
                "IAC_OS_OPENRC names {}, which does not exist (the services are stopped)",
                path.display()
            )));
        }
        let state_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let config = |file: &Path| -> Result<Client, Problem> {
            let source = openrc(file).map_err(Problem::Failed)?;
            let config = CloudConfig::from_source(&source)
                .map_err(|e| Problem::Failed(format!("{}: {e}", file.display())))?;
            Ok(Client::new(config)?)
        };
        let admin = config(&path)?;
        let demo = config(&state_dir.join("openrc-demo"))?;
        let token = demo.token().await.map_err(|e| {
            Problem::Failed(format!(
                "IAC_OS_OPENRC is set but Keystone does not answer: {e}"
            ))
        })?;
        if !token
            .catalog
            .services
            .iter()
            .any(|s| s.service_type == "orchestration")
        {
            return Err(Problem::Unavailable(
                "Heat is not in the catalog (the light set runs; start openstack.sh with --full)"
                    .into(),
            ));
        }
        Ok(Services {
            admin,
            demo,
            state_dir,
        })
    }

    /// Heat's settings that bound its concurrency, from the `heat.conf` openstack.sh wrote
    /// (keys it does not set keep Heat's defaults).
    pub fn heat_settings(&self) -> String {
        let path = self.state_dir.join("run/heat/heat.conf");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return format!("{} not readable", path.display());
        };
        let keys = [
            "convergence_engine",
            "num_engine_workers",
            "workers",
            "max_resources_per_stack",
            "action_retry_limit",
        ];
        let set: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| keys.contains(k))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!("heat.conf: {} (Heat's defaults otherwise)", set.join(", "))
    }
}

/// The Neutron objects the demo project sees, by collection (`networks`, `ports`, ...):
/// id → name (for a rule, its group's id).
type Inventory = BTreeMap<&'static str, BTreeMap<String, String>>;

const COLLECTIONS: [(&str, &str); 6] = [
    ("/networks", "networks"),
    ("/subnets", "subnets"),
    ("/ports", "ports"),
    ("/routers", "routers"),
    ("/security-groups", "security_groups"),
    ("/security-group-rules", "security_group_rules"),
];

async fn inventory(client: &Client) -> Result<Inventory, Problem> {
    let mut out = Inventory::new();
    for (path, key) in COLLECTIONS {
        let items: Vec<Value> = client
            .list(Service::Network, path, key, &[])
            .try_collect()
            .await?;
        out.insert(
            key,
            items
                .iter()
                .map(|i| {
                    let id = i["id"].as_str().unwrap_or_default().to_owned();
                    // A rule has no name: its group's id stands for it.
                    let name = i["name"].as_str().or(i["security_group_id"].as_str());
                    (id, name.unwrap_or_default().to_owned())
                })
                .collect(),
        );
    }
    Ok(out)
}

/// What is in `after` and not in `before`: (collection, id, name).
fn leaked<'a>(
    before: &'a Inventory,
    after: &'a Inventory,
) -> Vec<(&'static str, &'a String, &'a String)> {
    after
        .iter()
        .flat_map(|(key, items)| {
            let old = before.get(key);
            items
                .iter()
                .filter(move |(id, _)| !old.is_some_and(|o| o.contains_key(*id)))
                .map(move |(id, name)| (*key, id, name))
        })
        .collect()
}

/// The Neutron quotas of the demo project, raised where two deployments of `total`
/// resources on top of what exists (`existing`) would not fit; says what it did.
async fn ensure_quotas(
    services: &Services,
    total: usize,
    existing: &Inventory,
) -> Result<String, Problem> {
    let token = services.demo.token().await?;
    let project = token
        .project
        .as_ref()
        .map(|(id, _)| id.clone())
        .ok_or_else(|| Problem::Failed("the demo token has no project".into()))?;
    let n = networks_for(total);
    let groups = GROUPS.len();
    // Per deployment; a group starts with 2 egress rules; router interfaces are ports.
    let per_deployment = [
        ("network", "networks", n),
        ("subnet", "subnets", n),
        ("port", "ports", 3 * n),
        ("router", "routers", ROUTERS),
        ("security_group", "security_groups", groups),
        ("security_group_rule", "security_group_rules", groups * 6),
    ];
    let path = format!("/quotas/{project}");
    let quotas = |method: reqwest::Method, body: Body| {
        services
            .admin
            .call::<Value>(Service::Network, method, &path, body, Some("quota"))
    };
    let current = quotas(reqwest::Method::GET, Body::Empty).await?;
    let mut raise = Map::new();
    let mut said = Vec::new();
    // Neutron creates the project's default group (4 rules) on first use, if not yet.
    let no_default = !existing
        .get("security_groups")
        .is_some_and(|g| g.values().any(|name| name == "default"));
    for (quota, collection, per) in per_deployment {
        let default = match quota {
            "security_group" if no_default => 1,
            "security_group_rule" if no_default => 4,
            _ => 0,
        };
        // Both deployments exist at once, while they are compared.
        let need = existing.get(collection).map_or(0, BTreeMap::len) + 2 * per + default;
        let limit = current[quota].as_i64().unwrap_or(-1);
        if limit >= 0 && (limit as usize) < need {
            raise.insert(quota.into(), json!(need));
            said.push(format!("{quota} {limit} -> {need}"));
        }
    }
    if raise.is_empty() {
        return Ok("Neutron's default quotas suffice (not raised)".into());
    }
    quotas(reqwest::Method::PUT, Body::Json(json!({ "quota": raise }))).await?;
    Ok(format!(
        "demo project's Neutron quotas raised by the admin: {}",
        said.join(", ")
    ))
}

/// One side's times and calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Side {
    /// Create wall time.
    pub create: Duration,
    /// Delete wall time.
    pub delete: Duration,
    /// Calls sent while creating (authentication included).
    pub create_calls: u64,
    /// Calls sent while deleting (authentication included).
    pub delete_calls: u64,
}

/// The measurement.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Resources of the template.
    pub resources: usize,
    /// Heat's side: wall time from the create (delete) call to the stack seen
    /// `CREATE_COMPLETE` (`DELETE_COMPLETE` or gone), polled every [`HEAT_POLL`]; its calls
    /// are ours to the Orchestration API (its own calls to Neutron are not counted).
    pub heat: Side,
    /// Our engine's side (calls counted by the client).
    pub ours: Side,
    /// Calls in flight of our engine.
    pub concurrency: usize,
    /// What was done about quotas.
    pub quotas: String,
    /// Heat's concurrency settings.
    pub heat_settings: String,
}

/// Calls a client sent so far, authentication included.
fn calls(client: &Client) -> u64 {
    client.call_count() + client.auth_count()
}

/// Creates and deletes a `total`-resource template with Heat, then with our engine (one
/// after the other, Heat first: while ours works Heat's deployment exists, and while Heat
/// deletes ours still exists), compares the two deployments through Neutron and checks that
/// Neutron holds nothing new afterwards. Whatever fails, both deployments are deleted.
pub async fn run(services: &Services, total: usize) -> Result<Measured, Problem> {
    let demo = &services.demo;
    let before = inventory(demo).await?;
    let quotas = ensure_quotas(services, total, &before).await?;
    let unique = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            & 0xff_ffff
    );
    let (heat_name, our_name) = (format!("f7heat-{unique}"), format!("f7iac-{unique}"));
    let heat_template = neutron_template(&heat_name, total);
    let resources = heat_template["resources"].as_object().map_or(0, Map::len);

    let hot = iac_openstack::hot::load_str(&heat_template.to_string())?;
    let registry = registry(demo);
    hot.validate(&|t| registry.contains(t))?;
    let ours_template = {
        let mut t = neutron_template(&our_name, total);
        t["description"] = heat_template["description"].clone();
        iac_openstack::hot::load_str(&t.to_string())?.into_template()
    };
    let engine = Engine::builder()
        .provider(registry)
        .state(MemoryStateStore::new())
        .build();
    let concurrency = engine.options().concurrency;

    let mut heat = Side::default();
    let mut ours = Side::default();
    let orchestration = demo.orchestration();
    let wait = Wait {
        interval: HEAT_POLL,
        timeout: Duration::from_secs(1800),
    };

    let c0 = calls(demo);
    let t0 = Instant::now();
    let id = orchestration
        .create_stack(&heat_name, heat_template, Fields::new())
        .await?;
    let stack_ref = format!("{heat_name}/{id}");
    let outcome = async {
        let stack = orchestration.wait_stack(&stack_ref, wait).await?;
        heat.create = t0.elapsed();
        heat.create_calls = calls(demo) - c0;
        if stack.stack_status != "CREATE_COMPLETE" {
            return Err(Problem::Failed(format!(
                "Heat: {} {}",
                stack.stack_status,
                stack.stack_status_reason.unwrap_or_default()
            )));
        }

        let c1 = calls(demo);
        let t1 = Instant::now();
        let report = engine
            .apply(
                &StackInput::new(our_name.clone(), ours_template),
                RunOptions::default(),
            )
            .await?;
        ours.create = t1.elapsed();
        ours.create_calls = calls(demo) - c1;
        if !report.is_success() {
            return Err(Problem::Failed(format!("ours: {:?}", report.failures)));
        }

        let theirs: Vec<Deployed> = orchestration
            .list_stack_resources(&stack_ref)
            .try_collect::<Vec<_>>()
            .await?
            .iter()
            .map(Deployed::from)
            .collect();
        let mine: Vec<Deployed> = report.resources.iter().map(Deployed::from).collect();
        if theirs.len() != resources || mine.len() != resources {
            return Err(Problem::Failed(format!(
                "{resources} resources in the template, {} in Heat's stack, {} in ours",
                theirs.len(),
                mine.len()
            )));
        }
        let differences = compare::differences(demo, ("Heat", &theirs), ("ours", &mine)).await?;
        if !differences.is_empty() {
            return Err(Problem::Failed(format!(
                "Heat's and our deployments differ: {}",
                differences.join("; ")
            )));
        }
        Ok::<(), Problem>(())
    }
    .await;

    // Delete both, measured only when everything before succeeded.
    let c2 = calls(demo);
    let t2 = Instant::now();
    let heat_gone = async {
        orchestration.delete_stack(&stack_ref).await?;
        match orchestration.wait_stack(&stack_ref, wait).await {
            Ok(s) if s.stack_status == "DELETE_COMPLETE" => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Ok(s) => Err(Problem::Failed(format!(
                "Heat's delete: {} {}",
                s.stack_status,
                s.stack_status_reason.unwrap_or_default()
            ))),
            Err(e) => Err(e.into()),
        }
    }
    .await;
    heat.delete = t2.elapsed();
    heat.delete_calls = calls(demo) - c2;
    let c3 = calls(demo);
    let t3 = Instant::now();
    let ours_gone = engine.destroy(&our_name, RunOptions::default()).await;
    ours.delete = t3.elapsed();
    ours.delete_calls = calls(demo) - c3;
    outcome?;
    heat_gone?;
    let done = ours_gone?;
    if !done.is_success() {
        return Err(Problem::Failed(format!("our delete: {:?}", done.failures)));
    }

    let after = inventory(demo).await?;
    // Neutron creates the project's default group (and its rules) on first use.
    let defaults: BTreeSet<&String> = after
        .get("security_groups")
        .into_iter()
        .flatten()
        .filter(|(_, name)| name.as_str() == "default")
        .map(|(id, _)| id)
        .collect();
    let left: Vec<String> = leaked(&before, &after)
        .into_iter()
        .filter(|(key, id, name)| {
            !(*key == "security_groups" && name.as_str() == "default"
                || *key == "security_group_rules" && defaults.contains(name)
                || *key == "security_groups" && defaults.contains(id))
        })
        .map(|(key, id, name)| format!("{key} {name}({id})"))
        .collect();
    if !left.is_empty() {
        return Err(Problem::Failed(format!(
            "left in Neutron after both deletes: {}",
            left.join(", ")
        )));
    }
    Ok(Measured {
        resources,
        heat,
        ours,
        concurrency,
        quotas,
        heat_settings: services.heat_settings(),
    })
}
