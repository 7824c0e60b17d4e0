//! A ROS template written by someone else, deployed on the built-in Alibaba Cloud simulator:
//! loaded (JSON or YAML, short tags), checked against this SDK's handlers (every problem at
//! once, warnings for properties they do not send), applied with a live event view, then
//! destroyed. By default the template goes through the local engine; with `--ros` it is
//! submitted to the simulator's ROS service (`CreateStack`) and followed through its events,
//! the same view and the same report: one line switches between the two.
//!
//! ```sh
//! cargo run --example ros_template                       # a template of ../shared/templates/ros
//! cargo run --example ros_template -- --ros              # the same, through ROS CreateStack
//! cargo run --example ros_template -- my.yaml -p InstanceType=ecs.g7.large
//! cargo run --example ros_template -- https://example.com/t.json --ros
//! ```
//!
//! Parameters without a default are given with `-p Name=Value`; for the bundled template the
//! example gives them itself (the password is made up on the spot and never printed).

#[path = "live/mod.rs"]
mod live;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::ros::{self, Deployer, RosDeployer, check, pseudo_parameters};
use iac_aliyun::sim::{SimConfig, Simulator};
use iac_core::engine::{Engine, Report, StackInput};
use indexmap::IndexMap;
use serde_json::Value;

/// The template deployed when none is named: a VPC, a VSwitch, a security group, an
/// instance and an instance group, in YAML with short tags and a localized label.
const DEFAULT_TEMPLATE: &str =
    "apache-2.0/alibabacloud-ros-tool-transformer/templates/ros/simple.yml";

const STACK: &str = "ros-template";

/// The account id the simulator answers for.
const ACCOUNT: &str = "1234567890123456";

#[derive(Debug, PartialEq)]
struct Options {
    location: String,
    via_ros: bool,
    parameters: IndexMap<String, Value>,
    bundled: bool,
}

const USAGE: &str = "usage: cargo run --example ros_template -- [PATH | http(s)://URL | oss://bucket/key] \
                     [--ros] [-p Name=Value]...";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut location = None;
    let mut via_ros = false;
    let mut parameters = IndexMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--ros" => via_ros = true,
            "-p" | "--parameter" => {
                let pair = it.next().ok_or("-p needs Name=Value")?;
                let (name, value) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("-p {pair}: expected Name=Value"))?;
                parameters.insert(name.to_owned(), Value::from(value));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if location.is_none() => location = Some(other.to_owned()),
            other => return Err(format!("one template only (got a second: {other})")),
        }
    }
    let bundled = location.is_none();
    let location = match location {
        Some(location) => location,
        None => corpus_dir().join(DEFAULT_TEMPLATE).display().to_string(),
    };
    Ok(Options {
        location,
        via_ros,
        parameters,
        bundled,
    })
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/templates/ros")
}

/// Values for the bundled template's parameters that have no default.
fn bundled_parameters(zone: &str) -> IndexMap<String, Value> {
    let password: String = format!(
        "Sim-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    IndexMap::from([
        ("AvailabilityZoneId".to_owned(), Value::from(zone)),
        ("InstanceType".to_owned(), Value::from("ecs.g7.large")),
        ("Category".to_owned(), Value::from("cloud_essd")),
        ("Password".to_owned(), Value::from(password)),
        (
            "Tags".to_owned(),
            Value::from("[{\"Key\": \"app\", \"Value\": \"demo\"}]"),
        ),
    ])
}

fn print_report(report: &Report) {
    println!("\nResources:");
    for r in &report.resources {
        let id = r.physical_id.as_ref().map(|p| p.as_str()).unwrap_or("-");
        println!(
            "  {:<16} {:<28} {:<16} {}",
            r.logical_id, r.type_name, r.status, id
        );
    }
    if !report.outputs.is_empty() {
        println!("Outputs:");
        for (name, value) in &report.outputs {
            println!("  {name} = {value}");
        }
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let client = Client::new(
        ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()),
    )?;
    println!(
        "Simulated Alibaba Cloud at {} ({})",
        sim.endpoint(),
        sim.region()
    );

    let template = ros::load(&options.location, Some(&client)).await?;
    println!("Loaded {}", options.location);
    if let Some(description) = &template.description {
        println!("  {}", description.get("en"));
    }
    for (name, decl) in &template.parameters {
        let label = decl.label.as_ref().map(|l| l.get("en")).unwrap_or("");
        println!("  parameter {name}: {} {label}", decl.param_type.as_str());
    }

    let mut parameters = if options.bundled {
        bundled_parameters(&format!("{}-h", sim.region()))
    } else {
        IndexMap::new()
    };
    parameters.extend(options.parameters);

    // Every problem at once; warnings do not stop the deployment.
    let pseudo = pseudo_parameters(sim.region(), ACCOUNT);
    let checked = check(&template, &parameters, &registry(&client), &pseudo)
        .map_err(|e| format!("the template is not valid here:\n{e}"))?;
    for warning in &checked.warnings {
        println!("  warning: {warning}");
    }

    // One line decides where the stack runs.
    let deployer: Box<dyn Deployer> = if options.via_ros {
        Box::new(RosDeployer::new(&client).with_poll_interval(Duration::from_millis(500)))
    } else {
        Box::new(
            Engine::builder()
                .provider(registry(&client))
                .pseudo_parameters(pseudo)
                .build(),
        )
    };
    let where_ = if options.via_ros {
        "through ROS CreateStack"
    } else {
        "with the local engine"
    };
    // ROS takes the template as written (it expands Count itself); the engine the expanded one.
    let mut input = if options.via_ros {
        StackInput::new(STACK, template)
    } else {
        StackInput::new(STACK, checked.template.clone())
    };
    input.parameters = parameters;

    println!("\n$ apply {where_}");
    let total = checked.template.resources.len();
    let report = live::live(total, |o| deployer.apply(&input, o)).await?;
    print_report(&report);
    println!("Simulator now holds {} objects.", sim.inventory().len());

    println!("\n$ destroy");
    let report = live::live(total, |o| deployer.destroy(STACK, o)).await?;
    println!("{} ({} resources)", report.status, report.resources.len());
    let left = sim.inventory().len();
    sim.shutdown().await;
    if left > 0 {
        return Err(format!("{left} objects are left on the simulator").into());
    }
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

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_command_line_is_checked() {
        let o = parse_args(&[]).unwrap();
        assert!(o.bundled && !o.via_ros && o.location.ends_with(DEFAULT_TEMPLATE));
        let o = parse_args(&args("t.yaml --ros -p A=1 -p B=x=y")).unwrap();
        assert_eq!(o.location, "t.yaml");
        assert!(o.via_ros && !o.bundled);
        assert_eq!(o.parameters["A"], Value::from("1"));
        assert_eq!(o.parameters["B"], Value::from("x=y"));
        assert_eq!(parse_args(&args("-p")).unwrap_err(), "-p needs Name=Value");
        assert_eq!(
            parse_args(&args("-p A")).unwrap_err(),
            "-p A: expected Name=Value"
        );
        assert_eq!(
            parse_args(&args("--nope")).unwrap_err(),
            "unknown option --nope"
        );
        assert!(
            parse_args(&args("a b"))
                .unwrap_err()
                .starts_with("one template only")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_bundled_template_deploys_and_is_destroyed_both_ways() {
        for via_ros in [false, true] {
            let mut o = parse_args(&[]).unwrap();
            o.via_ros = via_ros;
            run(o).await.unwrap();
        }
    }
}
