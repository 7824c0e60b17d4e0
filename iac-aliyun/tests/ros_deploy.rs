//! Deploying through ROS on the simulator: `RosDeployer` gives the same events and outputs
//! as the local engine, follows creates, updates and deletes page by page, and the
//! simulator's ROS answers as the service does (validation, rollback, `DisableRollback`,
//! `TimeoutInMinutes`, `ClientToken`, `TemplateURL` on OSS).

use std::collections::BTreeMap;
use std::time::Duration;

use iac_aliyun::client::{BucketAcl, Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::ros::{
    DeployError, Deployer, RosDeployer, TemplateSource, load_text, pseudo_parameters,
};
use iac_aliyun::sim::{Delays, SimConfig, Simulator};
use iac_core::engine::{Engine, Event, RunOptions, StackInput, Status, events};
use indexmap::IndexMap;
use serde_json::{Value, json};

const TEMPLATE: &str = r#"
ROSTemplateFormatVersion: '2015-09-01'
Parameters:
  Cidr: {Type: String, Default: 192.168.0.0/16}
  Name: {Type: String, Default: web}
  Password: {Type: String, NoEcho: true, Default: Secret-Pa55}
Resources:
  Vpc:
    Type: ALIYUN::ECS::VPC
    Properties: {CidrBlock: !Ref Cidr, VpcName: !Sub '${Name}-vpc'}
  VSwitch:
    Type: ALIYUN::ECS::VSwitch
    Properties: {VpcId: !Ref Vpc, ZoneId: cn-hangzhou-h, CidrBlock: 192.168.1.0/24}
  Sg:
    Type: ALIYUN::ECS::SecurityGroup
    Properties: {VpcId: !Ref Vpc}
  Server:
    Type: ALIYUN::ECS::Instance
    Properties:
      VSwitchId: !Ref VSwitch
      SecurityGroupId: !Ref Sg
      InstanceType: ecs.g7.large
      ImageId: ubuntu_22_04
      InstanceName: !Ref Name
      Password: !Ref Password
Outputs:
  VpcId: {Value: !Ref Vpc}
  ServerIp: {Value: !GetAtt Server.PrivateIp}
  Region: {Value: !Ref ALIYUN::Region}
"#;

struct Fixture {
    sim: Simulator,
    client: Client,
}

async fn fixture(delays: Delays) -> Fixture {
    let sim = Simulator::start(SimConfig {
        delays,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::new(
        ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()),
    )
    .unwrap();
    Fixture { sim, client }
}

fn ros(f: &Fixture) -> RosDeployer {
    RosDeployer::new(&f.client).with_poll_interval(Duration::from_secs(1))
}

fn engine(f: &Fixture) -> Engine {
    Engine::builder()
        .provider(registry(&f.client))
        .pseudo_parameters(pseudo_parameters(f.sim.region(), "1234567890123456"))
        .build()
}

/// Runs `deploy` with an event channel; returns its result and the events in order.
async fn with_events<T>(run: impl AsyncFnOnce(RunOptions) -> T) -> (T, Vec<Event>) {
    let (tx, mut rx) = events::channel();
    let result = run(RunOptions::default().with_events(tx)).await;
    let mut seen = Vec::new();
    while let Ok(event) = rx.try_recv() {
        seen.push(event);
    }
    (result, seen)
}

/// Each event as (logical id, type, status), counted: the same multiset whatever the
/// interleaving of parallel work; the stack's own events under a common name.
fn shape(events: &[Event]) -> BTreeMap<(String, String, String), usize> {
    let mut out = BTreeMap::new();
    for e in events {
        let id = if e.is_stack_event() {
            "<stack>".to_owned()
        } else {
            e.logical_id.to_string()
        };
        *out.entry((id, e.type_name.to_string(), e.status.to_string()))
            .or_insert(0) += 1;
    }
    out
}

#[tokio::test(start_paused = true)]
async fn ros_and_the_local_engine_give_the_same_events_and_outputs() {
    let f = fixture(Delays::default()).await;
    let template = load_text(TEMPLATE).unwrap();
    let local: Box<dyn Deployer> = Box::new(engine(&f));
    let remote: Box<dyn Deployer> = Box::new(ros(&f).with_page_size(4));

    let local_input = StackInput::new("local", template.clone());
    let remote_input = StackInput::new("remote", template);
    let (local_report, local_events) =
        with_events(async |o| local.apply(&local_input, o).await.unwrap()).await;
    let (remote_report, remote_events) =
        with_events(async |o| remote.apply(&remote_input, o).await.unwrap()).await;

    assert_eq!(shape(&local_events), shape(&remote_events));
    assert_eq!(
        remote_events.first().unwrap().status,
        Status::CreateInProgress
    );
    assert!(remote_events.first().unwrap().is_stack_event());
    let last = remote_events.last().unwrap();
    assert!(last.is_stack_event() && last.status == Status::CreateComplete);
    // Streamed in the order they happened, each once.
    assert!(remote_events.windows(2).all(|w| w[0].time <= w[1].time));
    // The secret never shows in the events.
    assert!(
        remote_events
            .iter()
            .all(|e| !e.reason.as_deref().unwrap_or("").contains("Secret-Pa55"))
    );

    assert_eq!(remote_report.status, Status::CreateComplete);
    assert_eq!(local_report.status, remote_report.status);
    assert_eq!(
        local_report.outputs.keys().collect::<Vec<_>>(),
        remote_report.outputs.keys().collect::<Vec<_>>()
    );
    assert_eq!(remote_report.outputs["Region"], json!("cn-hangzhou"));
    assert!(
        remote_report.outputs["ServerIp"]
            .as_str()
            .unwrap()
            .starts_with("192.168.1.")
    );
    let vpc_id = remote_report.outputs["VpcId"].as_str().unwrap();
    assert!(f.sim.inventory().vpcs.iter().any(|v| v.id == vpc_id));
    assert_eq!(remote_report.resources.len(), 4);
    assert!(
        remote_report
            .resources
            .iter()
            .all(|r| r.status == Status::CreateComplete && r.physical_id.is_some())
    );
    assert_eq!(f.sim.inventory().instances.len(), 2);

    // GetStack shows the outputs, and the secret parameter masked.
    let deployer = ros(&f);
    let id = deployer.find_stack("remote").await.unwrap().unwrap();
    let status = deployer.get_stack(&id).await.unwrap();
    assert_eq!(status.status, "CREATE_COMPLETE");
    assert_eq!(status.parameters["Password"], json!("****"));
    assert_eq!(status.outputs["VpcId"], json!(vpc_id));

    let (local_gone, local_events) =
        with_events(async |o| local.destroy("local", o).await.unwrap()).await;
    let (remote_gone, remote_events) =
        with_events(async |o| remote.destroy("remote", o).await.unwrap()).await;
    assert_eq!(shape(&local_events), shape(&remote_events));
    assert_eq!(local_gone.status, Status::DeleteComplete);
    assert_eq!(remote_gone.status, Status::DeleteComplete);
    assert!(f.sim.inventory().is_empty(), "{:?}", f.sim.inventory());
    assert_eq!(deployer.find_stack("remote").await.unwrap(), None);
    let err = deployer.get_stack(&id).await.unwrap_err();
    assert!(
        matches!(&err, DeployError::Api(e) if e.code == "StackNotFound"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_update_changes_what_changed() {
    let f = fixture(Delays::none()).await;
    let d = ros(&f);
    let input = StackInput::new("upd", load_text(TEMPLATE).unwrap());
    let created = d.apply(&input, RunOptions::default()).await.unwrap();
    let input = input.with_parameter("Name", "api");
    let (report, seen) = with_events(async |o| d.apply(&input, o).await.unwrap()).await;
    assert_eq!(report.status, Status::UpdateComplete);
    assert_eq!(report.outputs["VpcId"], created.outputs["VpcId"]);
    let vpc = &f.sim.inventory().vpcs[0];
    assert_eq!(vpc.name, "api-vpc");
    assert!(
        seen.iter()
            .any(|e| &*e.logical_id == "Vpc" && e.status == Status::UpdateComplete)
    );
    assert!(
        seen.iter()
            .all(|e| &*e.logical_id != "Sg" || e.is_stack_event()),
        "the security group did not change"
    );
    d.destroy("upd", RunOptions::default()).await.unwrap();
    assert!(f.sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_invalid_template_is_refused_at_create_with_every_problem() {
    let f = fixture(Delays::none()).await;
    let d = ros(&f);
    let bad = load_text(
        r#"{"ROSTemplateFormatVersion": "2015-09-01",
            "Resources": {"Vsw": {"Type": "ALIYUN::ECS::VSwitch", "Properties": {"VpcId": {"Ref": "Nope"}}},
                          "Eip": {"Type": "ALIYUN::VPC::EIP"}}}"#,
    )
    .unwrap();
    let err = d
        .create_stack("bad", TemplateSource::Body(&bad), &IndexMap::new(), None)
        .await
        .unwrap_err();
    let DeployError::Api(api) = &err else {
        panic!("an API error: {err}")
    };
    assert_eq!(api.code, "StackValidationFailed");
    for problem in [
        "Resources.Eip.Type: unknown resource type 'ALIYUN::VPC::EIP'",
        "Resources.Vsw.Properties.VpcId: Ref to unknown resource or parameter 'Nope'",
        "Resources.Vsw.Properties: property 'CidrBlock' is required by ALIYUN::ECS::VSwitch",
    ] {
        assert!(
            api.message.contains(problem),
            "{problem} in {}",
            api.message
        );
    }
    assert_eq!(d.find_stack("bad").await.unwrap(), None);
}

/// Heat's `DeletionPolicy: Snapshot` and `ExternalId` have no ROS equivalent: a template
/// made with them (from a Heat template, or in Rust) is refused before any call, naming the
/// resource; the ROS loader refuses them too.
#[tokio::test(start_paused = true)]
async fn what_ros_has_no_equivalent_for_is_refused_naming_the_resource() {
    let f = fixture(Delays::none()).await;
    let d = ros(&f);
    let mut t = load_text(TEMPLATE).unwrap();
    t.resources["Vpc"].deletion_policy = iac_core::model::DeletionPolicy::Snapshot;
    let err = d
        .create_stack("snap", TemplateSource::Body(&t), &IndexMap::new(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::Template(_)), "{err}");
    assert!(
        err.to_string()
            .contains("Resources.Vpc.DeletionPolicy: resource 'Vpc' (ALIYUN::ECS::VPC) has DeletionPolicy Snapshot"),
        "{err}"
    );
    t.resources["Vpc"].deletion_policy = iac_core::model::DeletionPolicy::Retain;
    t.resources["Sg"].external_id = Some(iac_core::Expr::String("sg-123".into()));
    let err = d
        .create_stack("adopt", TemplateSource::Body(&t), &IndexMap::new(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Resources.Sg.ExternalId: resource 'Sg'"),
        "{err}"
    );
    assert_eq!(d.find_stack("snap").await.unwrap(), None);
    assert_eq!(d.find_stack("adopt").await.unwrap(), None);
    let err = load_text(&TEMPLATE.replace(
        "  Vpc:\n    Type: ALIYUN::ECS::VPC\n",
        "  Vpc:\n    Type: ALIYUN::ECS::VPC\n    DeletionPolicy: Snapshot\n",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("Resources.Vpc.DeletionPolicy"),
        "{err}"
    );
}

/// A VSwitch block outside its VPC: the cloud refuses it after the VPC exists.
const FAILING: &str = r#"
ROSTemplateFormatVersion: '2015-09-01'
Resources:
  Vpc: {Type: ALIYUN::ECS::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  VSwitch:
    Type: ALIYUN::ECS::VSwitch
    Properties: {VpcId: !Ref Vpc, ZoneId: cn-hangzhou-h, CidrBlock: 172.16.1.0/24}
"#;

#[tokio::test(start_paused = true)]
async fn a_failed_create_rolls_back_unless_rollback_is_disabled() {
    let f = fixture(Delays::none()).await;
    let input = StackInput::new("fails", load_text(FAILING).unwrap());
    let err = ros(&f)
        .apply(&input, RunOptions::default())
        .await
        .unwrap_err();
    let DeployError::Failed {
        report, ros_status, ..
    } = &err
    else {
        panic!("a failed stack: {err}")
    };
    assert_eq!(ros_status, "CREATE_ROLLBACK_COMPLETE");
    assert_eq!(report.status, Status::RollbackComplete);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].logical_id, "VSwitch");
    assert_eq!(report.failures[0].status, Status::CreateFailed);
    assert!(f.sim.inventory().is_empty());
    ros(&f)
        .destroy("fails", RunOptions::default())
        .await
        .unwrap();

    let keep = ros(&f).with_disable_rollback(true);
    let err = keep.apply(&input, RunOptions::default()).await.unwrap_err();
    let DeployError::Failed { ros_status, .. } = &err else {
        panic!("a failed stack: {err}")
    };
    assert_eq!(ros_status, "CREATE_FAILED");
    assert_eq!(f.sim.inventory().vpcs.len(), 1, "the VPC is left");
    keep.destroy("fails", RunOptions::default()).await.unwrap();
    assert!(f.sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_create_that_outlasts_its_timeout_fails() {
    let f = fixture(Delays {
        instance_pending: Duration::from_secs(30 * 60),
        ..Delays::none()
    })
    .await;
    let d = ros(&f).with_timeout_minutes(10);
    let input = StackInput::new("slow", load_text(TEMPLATE).unwrap());
    let err = d.apply(&input, RunOptions::default()).await.unwrap_err();
    let DeployError::Failed {
        ros_status, reason, ..
    } = &err
    else {
        panic!("a failed stack: {err}")
    };
    assert_eq!(ros_status, "CREATE_FAILED");
    assert_eq!(reason, "Stack CREATE timed out after 10 minutes");
    d.destroy("slow", RunOptions::default()).await.unwrap();
    assert!(f.sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn client_tokens_templates_on_oss_and_paged_events() {
    let f = fixture(Delays::none()).await;
    let d = ros(&f).with_page_size(2);
    let template = load_text(TEMPLATE).unwrap();
    let params = IndexMap::from([("Name".to_owned(), Value::from("tok"))]);
    let first = d
        .create_stack(
            "tok",
            TemplateSource::Body(&template),
            &params,
            Some("token-1"),
        )
        .await
        .unwrap();
    let again = d
        .create_stack(
            "tok",
            TemplateSource::Body(&template),
            &params,
            Some("token-1"),
        )
        .await
        .unwrap();
    assert_eq!(first, again);
    let err = d
        .create_stack(
            "tok",
            TemplateSource::Body(&template),
            &params,
            Some("token-2"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeployError::Api(e) if e.code == "StackExists"),
        "{err}"
    );
    let (status, _) = d
        .watch(&first, "tok", Default::default(), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(status.unwrap().status, "CREATE_COMPLETE");

    // A template shared on OSS, deployed by URL.
    let oss = f.client.oss();
    oss.put_bucket("templates", BucketAcl::Private)
        .await
        .unwrap();
    oss.put_object(
        "templates",
        "net.yaml",
        FAILING.replace("172.16", "10.0").into_bytes(),
        "text/yaml",
    )
    .await
    .unwrap();
    let by_url = ros(&f).with_template_url("oss://templates/net.yaml?RegionId=cn-hangzhou");
    let input = StackInput::new("from-oss", iac_core::Template::default());
    let report = by_url.apply(&input, RunOptions::default()).await.unwrap();
    assert_eq!(report.resources.len(), 2);

    // Events read page by page (2 a page) add up to the whole list.
    let mut pages = Vec::new();
    let mut n = 1;
    loop {
        let page = d.list_stack_events(&first, "tok", n).await.unwrap();
        assert!(page.events.len() <= 2);
        let total = page.total;
        pages.extend(page.events);
        if n * 2 >= total {
            assert_eq!(pages.len(), total);
            break;
        }
        n += 1;
    }
    assert!(pages.len() > 4);
    for name in ["tok", "from-oss"] {
        d.destroy(name, RunOptions::default()).await.unwrap();
    }
    oss.delete_object("templates", "net.yaml").await.unwrap();
    oss.delete_bucket("templates").await.unwrap();
    assert!(f.sim.inventory().is_empty());
}

const CHILD: &str = r#"
ROSTemplateFormatVersion: '2015-09-01'
Parameters:
  Cidr: {Type: String}
Resources:
  Vpc: {Type: ALIYUN::ECS::VPC, Properties: {CidrBlock: !Ref Cidr}}
Outputs:
  VpcId: {Value: !Ref Vpc}
  Cidr: {Value: !GetAtt Vpc.CidrBlock}
"#;

const PARENT: &str = r#"
ROSTemplateFormatVersion: '2015-09-01'
Resources:
  Network:
    Type: ALIYUN::ROS::Stack
    Properties:
      TemplateURL: oss://shared-templates/child.yaml
      Parameters: {Cidr: 10.8.0.0/16}
      TimeoutMins: 30
  VSwitch:
    Type: ALIYUN::ECS::VSwitch
    Properties:
      VpcId: !GetAtt Network.Outputs.VpcId
      ZoneId: cn-hangzhou-h
      CidrBlock: 10.8.1.0/24
Outputs:
  VpcId: {Value: !GetAtt Network.Outputs.VpcId}
  Cidr: {Value: !GetAtt Network.Outputs.Cidr}
"#;

#[tokio::test(start_paused = true)]
async fn nested_stacks_come_from_a_template_url_and_give_their_outputs() {
    let f = fixture(Delays::none()).await;
    let oss = f.client.oss();
    oss.put_bucket("shared-templates", BucketAcl::Private)
        .await
        .unwrap();
    oss.put_object(
        "shared-templates",
        "child.yaml",
        CHILD.as_bytes().to_vec(),
        "text/yaml",
    )
    .await
    .unwrap();
    let template = load_text(PARENT).unwrap();
    let checked = iac_aliyun::ros::check(
        &template,
        &IndexMap::new(),
        &registry(&f.client),
        &pseudo_parameters("cn-hangzhou", "1"),
    )
    .unwrap();
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);

    for (name, deployer) in [
        ("local", Box::new(engine(&f)) as Box<dyn Deployer>),
        ("remote", Box::new(ros(&f))),
    ] {
        let input = StackInput::new(name, template.clone());
        let report = deployer.apply(&input, RunOptions::default()).await.unwrap();
        let vpc_id = report.outputs["VpcId"].as_str().unwrap().to_owned();
        assert_eq!(report.outputs["Cidr"], json!("10.8.0.0/16"), "{name}");
        let inventory = f.sim.inventory();
        assert_eq!(inventory.vpcs.len(), 1, "{name}");
        assert_eq!(inventory.vpcs[0].id, vpc_id);
        assert_eq!(inventory.vswitches[0].vpc_id, vpc_id);
        // The nested stack is a ROS stack of its own, named after its parent.
        let nested = ros(&f)
            .find_stack(&format!("{name}-Network"))
            .await
            .unwrap()
            .expect("the nested stack");
        let physical = report
            .resources
            .iter()
            .find(|r| r.logical_id == "Network")
            .and_then(|r| r.physical_id.clone())
            .unwrap();
        assert_eq!(physical.as_str(), nested);

        deployer.destroy(name, RunOptions::default()).await.unwrap();
        assert_eq!(
            f.sim.inventory().len(),
            2,
            "{name}: only the bucket and its object"
        );
        assert_eq!(
            ros(&f)
                .find_stack(&format!("{name}-Network"))
                .await
                .unwrap(),
            None
        );
    }
}
