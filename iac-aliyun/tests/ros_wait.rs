//! `ALIYUN::ROS::WaitConditionHandle` and `ALIYUN::ROS::WaitCondition` on the simulator:
//! signals posted to the handle's URL complete the condition at `Count`, a failure or the
//! `Timeout` fails it, and `Data` holds what was signalled; locally and through ROS.

use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::ros::{DeployError, Deployer, RosDeployer, load_text, pseudo_parameters};
use iac_aliyun::sim::{Delays, SimConfig, Simulator};
use iac_core::engine::{Engine, EngineError, Report, RunOptions, StackInput, Status, events};
use serde_json::{Value, json};

const TEMPLATE: &str = r#"
ROSTemplateFormatVersion: '2015-09-01'
Parameters:
  Count: {Type: Number, Default: 2}
  Timeout: {Type: Number, Default: 600}
Resources:
  Handle:
    Type: ALIYUN::ROS::WaitConditionHandle
  Wait:
    Type: ALIYUN::ROS::WaitCondition
    Properties:
      Handle: !Ref Handle
      Count: !Ref Count
      Timeout: !Ref Timeout
Outputs:
  Data: {Value: !GetAtt Wait.Data}
  Notify: {Value: !GetAtt Handle.CurlCli}
  Url: {Value: !GetAtt Handle.Url}
"#;

async fn start() -> (Simulator, Client) {
    let sim = Simulator::start(SimConfig {
        delays: Delays::none(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::new(
        ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()),
    )
    .unwrap();
    (sim, client)
}

fn engine(client: &Client) -> Engine {
    Engine::builder()
        .provider(registry(client))
        .pseudo_parameters(pseudo_parameters("cn-hangzhou", "1"))
        .build()
}

/// Deploys with `deployer` and, once the handle exists, posts `signals` to its URL (built
/// from the simulator's endpoint and the handle's id, as its `Url` attribute says).
async fn deploy_and_signal(
    deployer: &dyn Deployer,
    sim: &Simulator,
    input: &StackInput,
    signals: &[Value],
) -> Result<Report, DeployError> {
    let (tx, mut rx) = events::channel();
    let endpoint = sim.endpoint();
    let signals = signals.to_vec();
    let signaller = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if &*event.logical_id == "Handle" && event.status == Status::CreateComplete {
                let id = event.physical_id.expect("the handle's id");
                let url = format!("{endpoint}/waitcondition/{id}");
                let http = reqwest::Client::new();
                for signal in &signals {
                    let answer = http.post(&url).json(signal).send().await.unwrap();
                    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
                }
                return Some(url);
            }
        }
        None
    });
    let result = deployer
        .apply(input, RunOptions::default().with_events(tx))
        .await;
    let url = signaller.await.unwrap();
    if let Ok(report) = &result {
        let url = url.expect("the handle was made");
        assert_eq!(report.outputs["Url"], json!(url));
        assert_eq!(
            report.outputs["Notify"],
            json!(format!(
                "curl -i -X POST -H 'Content-Type: application/json' {url}"
            ))
        );
    }
    result
}

#[tokio::test(start_paused = true)]
async fn count_signals_complete_the_condition_with_their_data() {
    let (sim, client) = start().await;
    let engine = engine(&client);
    let input = StackInput::new("wait", load_text(TEMPLATE).unwrap());
    let signals = [
        json!({"status": "SUCCESS", "id": "master", "data": "kubeadm join 10.0.0.1:6443"}),
        json!({"data": "second"}),
    ];
    let report = deploy_and_signal(&engine, &sim, &input, &signals)
        .await
        .unwrap();
    let data: Value = serde_json::from_str(report.outputs["Data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"master": "kubeadm join 10.0.0.1:6443", "2": "second"})
    );
    assert!(sim.calls("SignalWaitCondition") == 2);
    engine.destroy("wait", RunOptions::default()).await.unwrap();
    // The handle is gone: its URL takes no more signals.
    let handle = report
        .resources
        .iter()
        .find(|r| r.logical_id == "Handle")
        .unwrap();
    let url = format!(
        "{}/waitcondition/{}",
        sim.endpoint(),
        handle.physical_id.as_ref().unwrap().as_str()
    );
    let answer = reqwest::Client::new()
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
}

#[tokio::test(start_paused = true)]
async fn too_few_signals_time_out_and_a_failure_fails() {
    let (sim, client) = start().await;
    let engine = engine(&client);
    let input = StackInput::new("late", load_text(TEMPLATE).unwrap()).with_parameter("Timeout", 60);
    let err = deploy_and_signal(&engine, &sim, &input, &[json!({"data": "only one"})])
        .await
        .unwrap_err();
    let DeployError::Engine(EngineError::Failed(report)) = &err else {
        panic!("a failed apply: {err}")
    };
    assert_eq!(report.failures[0].logical_id, "Wait");
    assert!(
        report.failures[0]
            .message
            .contains("timed out after 60 s with 1 of 2 signals"),
        "{err}"
    );

    let input = StackInput::new("failing", load_text(TEMPLATE).unwrap());
    let err = deploy_and_signal(
        &engine,
        &sim,
        &input,
        &[json!({"status": "FAILURE", "reason": "disk full"})],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("a failure was signalled: disk full"),
        "{err}"
    );
    // Both rolled back.
    assert!(sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn through_ros_the_same_template_waits_for_the_same_signals() {
    let (sim, client) = start().await;
    let ros = RosDeployer::new(&client).with_poll_interval(std::time::Duration::from_secs(1));
    let input =
        StackInput::new("wait-ros", load_text(TEMPLATE).unwrap()).with_parameter("Count", 1);
    let report = deploy_and_signal(&ros, &sim, &input, &[json!({"id": "a", "data": 42})])
        .await
        .unwrap();
    assert_eq!(report.outputs["Data"], json!(r#"{"a":42}"#));
    ros.destroy("wait-ros", RunOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn signals_are_checked() {
    let (sim, _) = start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/waitcondition/wch-nope", sim.endpoint());
    let answer = http.post(&url).body("{}").send().await.unwrap();
    assert_eq!(answer.status(), 404);
    let answer = http.post(&url).body("not json").send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let answer = http.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 405);
}
