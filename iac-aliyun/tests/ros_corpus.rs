//! The ROS template corpus (`../shared/templates/ros`, templates written by others): every
//! file loads (but the one that is not a template); every valid one passes `ros::check`
//! or fails only on what this SDK does not support (resource types, functions, sections),
//! each named; every `negative/` one fails with the error it was written for; every
//! template whose types are all supported deploys on the simulator, through the local
//! engine and through ROS, and is destroyed cleanly. Prints the figures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::ros::{self, Deployer, RosDeployer, check, pseudo_parameters, unknown_types};
use iac_aliyun::sim::{Delays, SimConfig, Simulator};
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::{ParamType, Template};
use iac_core::validate::{ProblemKind, ValidationError, ValidationErrors};
use indexmap::IndexMap;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/templates/ros")
}

/// Every template of the corpus (paths relative to its folder), from `MANIFEST.json`.
fn corpus() -> Vec<String> {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.json"))
        .unwrap_or_else(|e| panic!("the ROS corpus must be at {}: {e}", dir.display()));
    let manifest: Vec<Value> = serde_json::from_str(&manifest).unwrap();
    let mut files: Vec<String> = manifest
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_owned())
        .collect();
    files.sort();
    files
}

/// The file that is not a template: JSON with `//` comments (only a YAML parser reads it,
/// and then its comment lines are keys with null values).
const NOT_A_TEMPLATE: &str = "alibabaclouddocs-ros-mit/Template-structure__1.yaml";

/// Documentation snippets that ROS itself would refuse, with the problem that shows it
/// (a property ROS requires, per its CDK definitions).
const INVALID_AS_WRITTEN: &[(&str, &str)] = &[
    (
        "alibabaclouddocs-ros-mit/Resources__1.json",
        "Resources.WebServer.Properties: property 'InstanceType' is required by ALIYUN::ECS::Instance",
    ),
    (
        // Its properties are elided with `...`, as in the next two.
        "alibabaclouddocs-ros-mit/Resources__2.yaml",
        "Resources.Servers.Properties: property 'InstanceType' is required by ALIYUN::ECS::InstanceGroup",
    ),
    (
        "alibabaclouddocs-ros-mit/Resources__3.yaml",
        "Resources.Servers.Properties: property 'InstanceType' is required by ALIYUN::ECS::InstanceGroup",
    ),
    (
        "alibabaclouddocs-ros-mit/Use-the-Count-feature-to-deploy-large-amounts-of-resources__1.json",
        "Resources.Servers.Properties: property 'InstanceType' is required by ALIYUN::ECS::InstanceGroup",
    ),
    (
        // An extract: the EIPs it binds are declared in another part of the page.
        "alibabaclouddocs-ros-mit/Use-the-Count-feature-to-deploy-large-amounts-of-resources__5.json",
        "Resources.CommonBandwidthPackage-ChinaTelecom-IpBinder.Properties.Eips.Fn::Select[1]: \
         Ref to unknown resource or parameter 'Eip-ChinaTelecom'",
    ),
];

/// Problem kinds a valid template may fail on: what this SDK does not support.
const UNSUPPORTED: &[ProblemKind] = &[
    ProblemKind::UnknownResourceType,
    ProblemKind::UnsupportedFunction,
    ProblemKind::Unsupported,
    ProblemKind::UnknownAttribute,
];

/// Values for the parameters of a template, as a user would give them on the simulator:
/// the objects made first for those that name one (a VSwitch, a security group; also over
/// a default naming the docs' own), and for those without `Default` the first allowed
/// value, else one that fits the name and type.
fn parameter_values(t: &Template, base: &IndexMap<String, Value>) -> IndexMap<String, Value> {
    let mut values = IndexMap::new();
    for (name, decl) in &t.parameters {
        let names_an_object = ["VSwitchId", "VpcId", "SecurityGroupId", "ZoneId"]
            .iter()
            .any(|suffix| name.to_lowercase().ends_with(&suffix.to_lowercase()));
        if decl.default.is_some() && !(names_an_object && decl.param_type == ParamType::String) {
            continue;
        }
        let allowed = decl.allowed_values.as_ref().and_then(|v| v.first());
        let value = if let Some(first) = allowed.filter(|_| decl.default.is_none()) {
            first.clone()
        } else if let Some(value) = base.get(name).filter(|v| match decl.param_type {
            ParamType::Json => !v.is_string(),
            ParamType::Number => v.is_number(),
            _ => v.is_string(),
        }) {
            value.clone()
        } else if let Some((_, value)) = base.iter().find(|(key, _)| {
            decl.param_type == ParamType::String
                && name.to_lowercase().contains(&key.to_lowercase())
        }) {
            value.clone()
        } else if name.contains("Password") {
            Value::from("Corpus-Pa55word")
        } else {
            // A text the length constraints accept (for a list: each item and the count).
            let bound = |v: &Option<Value>| {
                v.as_ref().and_then(|v| match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                })
            };
            let len = (6u64)
                .max(bound(&decl.min_length).unwrap_or(1))
                .min(bound(&decl.max_length).unwrap_or(u64::MAX))
                .max(1) as usize;
            match decl.param_type {
                ParamType::Number => decl.min_value.clone().unwrap_or(Value::from(2)),
                ParamType::Boolean => Value::from(true),
                // An optional JSON value left empty.
                ParamType::Json => Value::from("null"),
                ParamType::CommaDelimitedList => Value::from(vec!["x".repeat(len); len].join(",")),
                // An optional text left empty, as a user would (handlers leave out empty
                // optional properties, as ROS does); a constrained one filled.
                _ if decl.min_length.is_none() && decl.allowed_patterns.is_empty() => {
                    Value::from("")
                }
                _ => Value::from("x".repeat(len)),
            }
        };
        values.insert(name.clone(), value);
    }
    values
}

/// The properties ROS itself requires, by type (from the ROS CDK's type definitions).
fn ros_required() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/ros_resource_types_from_ros_cdk_1.15.0.json");
    let types: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    types
        .into_iter()
        .map(|(name, t)| {
            let required = t["properties"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["required"] == Value::Bool(true))
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            (name, required)
        })
        .collect()
}

/// True for a problem that is a limit of this SDK rather than of the template: an
/// unsupported type, function, section or attribute, or a property the handler requires
/// where ROS does not.
fn is_sdk_limit(e: &ValidationError, ros_required: &BTreeMap<String, BTreeSet<String>>) -> bool {
    if UNSUPPORTED.contains(&e.kind) {
        return true;
    }
    if e.kind != ProblemKind::MissingProperty {
        return false;
    }
    let property = e.message.split('\'').nth(1).unwrap_or("");
    let type_name = e.message.rsplit(' ').next().unwrap_or("");
    ros_required
        .get(type_name)
        .is_some_and(|required| !required.contains(property))
}

struct Figures {
    files: usize,
    loaded: usize,
    validated: usize,
    deployed: usize,
    unsupported_only: Vec<String>,
    /// Type → files using it.
    types: BTreeMap<String, BTreeSet<String>>,
    /// Function → files using it.
    functions: BTreeMap<String, BTreeSet<String>>,
    /// `Type.Attribute` → files reading it.
    attributes: BTreeMap<String, BTreeSet<String>>,
    /// `Type.Property` our handler requires and ROS does not → files leaving it out.
    handler_requires: BTreeMap<String, BTreeSet<String>>,
    /// Templates ROS would refuse too.
    invalid: Vec<String>,
    /// Valid templates that name objects of their author's account.
    account_bound: Vec<String>,
    /// Sections and keys not supported.
    other: BTreeSet<String>,
}

/// Valid templates that fail when deployed, as they would in the cloud, with the reason.
const DEPLOY_FAILS: &[(&str, &str)] = &[(
    // Converted from Terraform with `SecurityGroupId: null`: an instance in a VPC needs a
    // security group.
    "apache-2.0/alibabacloud-ros-tool-transformer/tests/providers/terraform/template.yml",
    "alicloud_instance.myinstance CREATE_FAILED: property SecurityGroupId (or SecurityGroupIds) is required",
)];

const ACCOUNT: &str = "1234567890123456";

/// A simulated region with an engine and a ROS deployer on it.
struct Cloud {
    sim: Simulator,
    client: Client,
    engine: Engine,
    via_ros: RosDeployer,
}

impl Cloud {
    /// A simulator serving the region of `zone`, with that zone among its zones.
    async fn start(zone: &str) -> Cloud {
        let region = zone.rsplit_once('-').map_or(zone, |(r, _)| r).to_owned();
        let mut zones: Vec<String> = ["h", "i", "j"]
            .iter()
            .map(|z| format!("{region}-{z}"))
            .collect();
        if !zones.iter().any(|z| z == zone) {
            zones.push(zone.to_owned());
        }
        let sim = Simulator::start(SimConfig {
            region,
            zones,
            delays: Delays::none(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let client = Client::new(
            ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()),
        )
        .unwrap();
        let engine = Engine::builder()
            .provider(registry(&client))
            .pseudo_parameters(pseudo_parameters(sim.region(), ACCOUNT))
            .build();
        let via_ros = RosDeployer::new(&client).with_poll_interval(Duration::from_secs(1));
        Cloud {
            sim,
            client,
            engine,
            via_ros,
        }
    }

    /// What exists before a template is deployed (the home region's base objects).
    fn baseline(&self) -> usize {
        self.sim.inventory().len()
    }
}

/// A zone the template names literally that is not in `region`, if any.
fn foreign_zone(t: &Template, region: &str) -> Option<String> {
    fn find(v: &Value, region: &str) -> Option<String> {
        match v {
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k == "ZoneId"
                    && let Value::String(zone) = v
                    && zone
                        .rsplit_once('-')
                        .is_some_and(|(r, _)| r != region && r.contains('-'))
                {
                    return Some(zone.clone());
                }
                find(v, region)
            }),
            Value::Array(items) => items.iter().find_map(|v| find(v, region)),
            _ => None,
        }
    }
    find(&serde_json::to_value(&t.resources).unwrap(), region)
}

/// Run options whose events drive what the machines of a real deployment would do: each
/// wait condition handle made gets signals (ten, more than any `Count` of the corpus).
fn machines(cloud: &Cloud) -> RunOptions {
    let (tx, mut rx) = iac_core::engine::events::channel();
    let endpoint = cloud.sim.endpoint();
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while let Some(event) = rx.recv().await {
            if &*event.type_name == "ALIYUN::ROS::WaitConditionHandle"
                && event.status == iac_core::engine::Status::CreateComplete
                && let Some(id) = &event.physical_id
            {
                for n in 0..10 {
                    let signal = serde_json::json!({"id": format!("machine-{n}"), "data": "ready"});
                    http.post(format!("{endpoint}/waitcondition/{id}"))
                        .json(&signal)
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    });
    RunOptions::default().with_events(tx)
}

enum Deployed {
    Yes,
    /// The template names objects of its author's account, or fails as listed in
    /// [`DEPLOY_FAILS`].
    AccountBound,
}

/// Deploys `checked` through the engine and `t` through ROS on `cloud`, destroys both, and
/// checks that the cloud is back to what it was.
async fn deploy(
    rel: &str,
    name: &str,
    t: &Template,
    checked: &Template,
    given: &IndexMap<String, Value>,
    cloud: &Cloud,
) -> Deployed {
    let baseline = cloud.baseline();
    let mut input = StackInput::new(name, checked.clone());
    input.parameters = given.clone();
    let report = match cloud.engine.apply(&input, machines(cloud)).await {
        Ok(report) => report,
        Err(e) => {
            // The documentation's examples that name objects of their author's account by
            // (masked) id fail here as in any other account: the cloud says the object
            // does not exist, and the create rolls back.
            let masked = serde_json::to_string(t).unwrap().contains("****");
            let text = e.to_string();
            let expected = DEPLOY_FAILS
                .iter()
                .any(|(file, reason)| *file == rel && text.contains(reason));
            assert!(
                expected || (masked && text.contains("does not exist") && text.contains("****")),
                "{rel}: local apply: {e}"
            );
            assert_eq!(cloud.baseline(), baseline, "{rel}: rolled back");
            cloud
                .engine
                .destroy(name, RunOptions::default())
                .await
                .unwrap();
            return Deployed::AccountBound;
        }
    };
    assert_eq!(report.resources.len(), checked.resources.len(), "{rel}");
    Deployer::destroy(&cloud.engine, name, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{rel}: local destroy: {e}"));
    assert_eq!(
        cloud.baseline(),
        baseline,
        "{rel}: {:?}",
        cloud.sim.inventory()
    );

    let mut input = StackInput::new(format!("{name}-ros"), t.clone());
    input.parameters = given.clone();
    let remote = cloud
        .via_ros
        .apply(&input, machines(cloud))
        .await
        .unwrap_or_else(|e| panic!("{rel}: ROS apply: {e}"));
    assert_eq!(
        remote.outputs.keys().collect::<Vec<_>>(),
        report.outputs.keys().collect::<Vec<_>>(),
        "{rel}"
    );
    cloud
        .via_ros
        .destroy(&input.name, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{rel}: ROS destroy: {e}"));
    assert_eq!(
        cloud.baseline(),
        baseline,
        "{rel}: {:?}",
        cloud.sim.inventory()
    );
    Deployed::Yes
}

#[tokio::test(start_paused = true)]
async fn the_corpus_loads_validates_deploys_and_fails_where_it_should() {
    let home = Cloud::start("cn-hangzhou-h").await;
    let (sim, engine) = (&home.sim, &home.engine);
    let registry = registry(&home.client);
    // Checked as ROS checks them: the service gives every stack an id (`ALIYUN::StackId`).
    let pseudo = ros::with_stack_id(pseudo_parameters(sim.region(), ACCOUNT), "any");
    // What templates take as parameters (an existing VSwitch, security group, ...) is made
    // first, as a user would have it.
    let base_template = ros::load_text(
        "Resources:
  Vpc: {Type: ALIYUN::ECS::VPC, Properties: {CidrBlock: 192.168.0.0/16}}
  VSwitch:
    Type: ALIYUN::ECS::VSwitch
    Properties: {VpcId: !Ref Vpc, ZoneId: cn-hangzhou-h, CidrBlock: 192.168.0.0/24}
  Sg: {Type: ALIYUN::ECS::SecurityGroup, Properties: {VpcId: !Ref Vpc}}
  Nas: {Type: ALIYUN::NAS::FileSystem, Properties: {ProtocolType: NFS, StorageType: Performance}}
  Slb:
    Type: ALIYUN::SLB::LoadBalancer
    Properties: {VSwitchId: !Ref VSwitch, AddressType: intranet, LoadBalancerSpec: slb.s1.small}
  Vm:
    Type: ALIYUN::ECS::Instance
    Properties:
      VSwitchId: !Ref VSwitch
      SecurityGroupId: !Ref Sg
      InstanceType: ecs.g7.large
      ImageId: ubuntu_22_04
Outputs:
  LoadBalancerId: {Value: !Ref Slb}
  InstanceId: {Value: !Ref Vm}
  FileSystemId: {Value: !Ref Nas}
  VSwitch: {Value: !Ref VSwitch}
  Vpc: {Value: !Ref Vpc}
  SecurityGroup: {Value: !Ref Sg}
",
    )
    .unwrap();
    let made = engine
        .apply(
            &StackInput::new("corpus-base", base_template),
            RunOptions::default(),
        )
        .await
        .unwrap();
    let mut base = made.outputs.clone();
    base.insert("Zone".to_owned(), Value::from("cn-hangzhou-h"));
    base.insert("Image".to_owned(), Value::from("ubuntu_22_04"));
    base.insert("InstanceType".to_owned(), Value::from("ecs.g7.large"));
    base.insert("PortRange".to_owned(), Value::from("22/22"));
    base.insert("LoadBalancerSpec".to_owned(), Value::from("slb.s1.small"));
    let vm = made.outputs["InstanceId"].clone();
    base.insert("BackendServerList".to_owned(), serde_json::json!([vm]));
    base.insert("BackendServerWeightList".to_owned(), Value::from("100"));
    base.insert("ListenerPort".to_owned(), Value::from(8080));
    base.insert("BackendServerPort".to_owned(), Value::from(80));
    base.insert("Bandwidth".to_owned(), Value::from(10));
    base.insert("BucketName".to_owned(), Value::from("corpus-bucket"));
    base.insert(
        "AccessGroupName".to_owned(),
        Value::from("DEFAULT_VPC_GROUP_NAME"),
    );
    base.insert("CidrIp".to_owned(), Value::from("10.0.0.0/8"));
    let baseline = sim.inventory().len();
    assert_eq!(baseline, home.baseline());

    let mut f = Figures {
        files: 0,
        loaded: 0,
        validated: 0,
        deployed: 0,
        unsupported_only: Vec::new(),
        types: BTreeMap::new(),
        functions: BTreeMap::new(),
        attributes: BTreeMap::new(),
        other: BTreeSet::new(),
        account_bound: Vec::new(),
        handler_requires: BTreeMap::new(),
        invalid: Vec::new(),
    };
    let ros_required = ros_required();
    let mut wrong: Vec<String> = Vec::new();
    let mut negative_checked = 0;
    for rel in corpus() {
        f.files += 1;
        let path = corpus_dir().join(&rel);
        let loaded = ros::load(path.to_str().unwrap(), None).await;
        if rel == NOT_A_TEMPLATE {
            let err = loaded.expect_err("the commented skeleton is not a template");
            assert!(
                err.to_string().contains(
                    "Parameters[\"// The parameters you can specify when you create a stack.\"]"
                ),
                "{err}"
            );
            continue;
        }
        let t = loaded.unwrap_or_else(|e| panic!("{rel}: {e}"));
        f.loaded += 1;
        let given = parameter_values(&t, &base);
        let result = check(&t, &given, &registry, &pseudo);

        if rel.starts_with("negative/") {
            negative_checked += 1;
            negative(&rel, &t, result, engine, sim, baseline).await;
            continue;
        }
        let checked = match result {
            Ok(checked) => checked,
            Err(errors) => {
                if let Some((_, expected)) =
                    INVALID_AS_WRITTEN.iter().find(|(file, _)| *file == rel)
                {
                    assert!(
                        errors.errors().iter().any(|e| e.to_string() == *expected),
                        "{rel}: {expected} in\n{errors}"
                    );
                    f.invalid.push(rel.clone());
                    continue;
                }
                // Only what this SDK does not support, each named.
                if !errors
                    .errors()
                    .iter()
                    .all(|e| is_sdk_limit(e, &ros_required))
                {
                    wrong.push(format!(
                        "{rel}: fails on more than unsupported features:\n{errors}"
                    ));
                    continue;
                }
                for (type_name, ids) in unknown_types(&t, &registry) {
                    assert!(
                        ids.iter().all(|id| errors.errors().iter().any(|e| {
                            e.kind == ProblemKind::UnknownResourceType
                                && e.message.contains(&type_name)
                                && e.path.contains(id.as_str())
                        })),
                        "{rel}: {type_name} is reported for each of {ids:?}"
                    );
                    f.types.entry(type_name).or_default().insert(rel.clone());
                }
                for e in errors.errors() {
                    let name = e.message.split('\'').nth(1).unwrap_or("").to_owned();
                    match e.kind {
                        ProblemKind::UnsupportedFunction => {
                            f.functions.entry(name).or_default().insert(rel.clone());
                        }
                        ProblemKind::UnknownAttribute => {
                            let type_name = e.message.split(' ').next().unwrap_or("");
                            f.attributes
                                .entry(format!("{type_name}.{name}"))
                                .or_default()
                                .insert(rel.clone());
                        }
                        ProblemKind::MissingProperty => {
                            let type_name = e.message.rsplit(' ').next().unwrap_or("");
                            f.handler_requires
                                .entry(format!("{type_name}.{name}"))
                                .or_default()
                                .insert(rel.clone());
                        }
                        ProblemKind::Unsupported => {
                            f.other.insert(format!("{}: {}", e.path, e.message));
                        }
                        _ => {}
                    }
                }
                f.unsupported_only.push(rel.clone());
                continue;
            }
        };
        f.validated += 1;

        // Deploy through the engine, then through ROS, and destroy both: in the region
        // the template names zones of, as its author would.
        let name = format!("corpus{}", f.files);
        let elsewhere;
        let cloud = match foreign_zone(&t, sim.region()) {
            Some(zone) => {
                elsewhere = Cloud::start(&zone).await;
                &elsewhere
            }
            None => &home,
        };
        match deploy(&rel, &name, &t, &checked.template, &given, cloud).await {
            Deployed::Yes => {
                f.deployed += 1;
                println!("deployed and destroyed: {rel}");
            }
            Deployed::AccountBound => f.account_bound.push(rel.clone()),
        }
    }

    let mut ranked: Vec<(&String, usize)> =
        f.types.iter().map(|(t, files)| (t, files.len())).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!(
        "ROS corpus: {} files, {} loaded, {} validated, {} deployed (and destroyed) locally and through ROS; \
         {} fail only on unsupported features; {negative_checked} negative ones fail as expected",
        f.files,
        f.loaded,
        f.validated,
        f.deployed,
        f.unsupported_only.len()
    );
    println!("unsupported resource types, by templates using them:");
    for (type_name, n) in &ranked {
        println!("  {n:>3}  {type_name}");
    }
    for (title, found) in [
        ("unsupported functions", &f.functions),
        ("attributes the handlers do not give", &f.attributes),
        (
            "properties the handlers require and ROS does not",
            &f.handler_requires,
        ),
    ] {
        println!("{title}, by templates using them:");
        for (name, files) in found {
            println!("  {:>3}  {name}", files.len());
        }
    }
    println!(
        "valid, but deploys fail as they should (objects of the author's account, or listed):"
    );
    for rel in &f.account_bound {
        println!("  {rel}");
    }
    println!("unsupported sections and keys:");
    for problem in &f.other {
        println!("  {problem}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    engine
        .destroy("corpus-base", RunOptions::default())
        .await
        .unwrap();
    assert!(sim.inventory().is_empty());
    assert_eq!(f.files, 52);
    assert_eq!(f.loaded, 51);
    assert_eq!(negative_checked, 4);
    assert_eq!(f.invalid.len(), INVALID_AS_WRITTEN.len());
    assert_eq!(
        f.validated + f.unsupported_only.len() + negative_checked + f.invalid.len(),
        f.loaded
    );
    assert_eq!(f.deployed + f.account_bound.len(), f.validated);
    assert!(f.deployed > 0);
}

/// A `negative/` template fails with the error it was written for.
async fn negative(
    rel: &str,
    t: &Template,
    result: Result<ros::Checked, ValidationErrors>,
    engine: &Engine,
    sim: &Simulator,
    baseline: usize,
) {
    let file = rel.rsplit('/').next().unwrap();
    match file {
        "failed_validate_template.yml" => {
            // The reference it was written to break, besides the types this SDK lacks.
            let errors = result.expect_err(rel);
            let problems: Vec<(&str, ProblemKind)> = errors
                .errors()
                .iter()
                .filter(|e| e.kind != ProblemKind::UnknownResourceType)
                .map(|e| (e.path.as_str(), e.kind))
                .collect();
            assert_eq!(
                problems,
                [(
                    "Resources.VSwitch.Properties.ZoneId",
                    ProblemKind::UnknownReference
                )],
                "{errors}"
            );
        }
        "invalid_template.yml" => {
            let errors = result.expect_err(rel);
            let e = errors
                .errors()
                .iter()
                .find(|e| e.path == "Outputs.NatGatewayId.Value")
                .expect("the output's reference is reported");
            assert_eq!(e.kind, ProblemKind::UnknownReference);
            assert_eq!(e.message, "Fn::GetAtt to unknown resource 'NatGateway'");
        }
        "failed_template.yaml" => {
            // Valid; the cloud refuses the /32 block when it is deployed, and the create
            // rolls back.
            let checked = result.unwrap_or_else(|e| panic!("{rel}: {e}"));
            let input = StackInput::new("negative-failed", checked.template);
            let err = engine
                .apply(&input, RunOptions::default())
                .await
                .expect_err("a /32 VPC is refused");
            let report = err.report().expect("a report");
            assert_eq!(report.failures.len(), 1, "{err}");
            assert_eq!(report.failures[0].logical_id, "vpc");
            assert!(report.failures[0].message.contains("CidrBlock"), "{err}");
            assert_eq!(sim.inventory().len(), baseline);
            let _ = engine
                .destroy("negative-failed", RunOptions::default())
                .await;
        }
        "timeout_template.yml" => {
            // Written to time out creating an RDS instance: this SDK has no RDS handler,
            // so it is refused up front, naming the type and the resource.
            let errors = result.expect_err(rel);
            let unknown: Vec<&str> = errors
                .errors()
                .iter()
                .filter(|e| e.kind == ProblemKind::UnknownResourceType)
                .map(|e| e.path.as_str())
                .collect();
            assert_eq!(unknown, ["Resources.RdsDBInstance.Type"], "{errors}");
            assert!(t.resources.contains_key("RdsDBInstance"));
        }
        other => panic!("a negative template this test does not know: {other}"),
    }
}
