//! Servers, volumes and attachments through the engine: on the simulator always, and on the
//! real Nova and Cinder when the services run with `openstack.sh --full`. Also the client's
//! reading of throttling (simulator only: the real services do not rate-limit).

mod common;

use base64::Engine as _;
use futures::TryStreamExt;
use iac_core::engine::{Action, Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::provider::ErrorKind;
use iac_core::state::MemoryStateStore;
use iac_openstack::client::{Client, ClientOptions};
use iac_openstack::resources::registry;
use iac_openstack::services::fields;
use serde_json::json;

use common::{Target, real_full_target, sim, unique};

const USER_DATA: &str =
    "#cloud-config\nhostname: node-1\nruncmd:\n  - [sh, -c, 'echo ready > /tmp/ready']\n";

fn template(image: &str, server_name: &str, description: &str) -> Template {
    serde_json::from_value(json!({
        "Resources": {
            "Node1": {"Type": "OS::Nova::Server", "Properties": {
                "name": server_name, "image": image, "flavor": "m1.tiny", "user_data": USER_DATA,
                "user_data_format": "RAW", "networks": [{"allocate_network": "none"}],
                "metadata": {"role": "node"}}},
            "Node2": {"Type": "OS::Nova::Server", "Properties": {
                "image": image, "flavor": "1", "networks": [{"allocate_network": "none"}]}},
            "Data": {"Type": "OS::Cinder::Volume", "Properties": {"size": 1, "description": description}},
            "Attach": {"Type": "OS::Cinder::VolumeAttachment", "Properties": {
                "instance_uuid": {"Ref": "Node1"}, "volume_id": {"Ref": "Data"}}}
        },
        "Outputs": {
            "status": {"Value": {"Fn::GetAtt": ["Data", "status"]}},
            "size": {"Value": {"Fn::GetAtt": ["Data", "size"]}},
            "name": {"Value": {"Fn::GetAtt": ["Node1", "name"]}}
        }
    }))
    .expect("a template")
}

async fn scenario(t: &Target, pool_connections: bool) {
    let options = ClientOptions {
        pool_connections,
        ..ClientOptions::default()
    };
    let client = Client::with_options(t.admin.clone(), options).unwrap();
    // An image to boot: 1 MiB of raw zeros, as the real services' tiny-raw.
    let image = client
        .image()
        .create_image(fields([
            ("name", json!(unique("boot"))),
            ("disk_format", json!("raw")),
            ("container_format", json!("bare")),
        ]))
        .await
        .unwrap();
    client
        .image()
        .upload_image(&image.id, vec![0; 1 << 20])
        .await
        .unwrap();

    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let stack = unique("compute");
    let name = unique("node");
    let input = |server_name: &str, description: &str| {
        StackInput::new(stack.clone(), template(&image.id, server_name, description))
    };
    let report = engine
        .apply(&input(&name, "one"), RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert!(report.is_success(), "{}: {:?}", t.name, report.failures);
    assert_eq!(report.outputs["size"], json!(1));
    assert_eq!(report.outputs["name"], json!(name));
    let id = |logical: &str| {
        report
            .resources
            .iter()
            .find(|r| r.logical_id == logical)
            .and_then(|r| r.physical_id.clone())
            .unwrap()
            .to_string()
    };
    let server = client.compute().get_server(&id("Node1")).await.unwrap();
    assert_eq!(server.status, "ACTIVE", "{}", t.name);
    assert_eq!(server.metadata.get("role"), Some(&json!("node")));
    let sent = server
        .extra
        .get("OS-EXT-SRV-ATTR:user_data")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{}: user data shown to the admin", t.name));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(sent)
            .unwrap(),
        USER_DATA.as_bytes()
    );
    let volume = client.volume().get_volume(&id("Data")).await.unwrap();
    assert_eq!(volume.status, "in-use", "{}", t.name);
    assert!(
        volume
            .attachments
            .iter()
            .any(|a| a["server_id"] == json!(server.id)),
        "{}: {:?}",
        t.name,
        volume.attachments
    );
    assert!(engine.plan(&input(&name, "one")).await.unwrap().is_empty());

    // In place: the server's name and the volume's description.
    let renamed = unique("node-b");
    let plan = engine.plan(&input(&renamed, "two")).await.unwrap();
    let mut changes: Vec<_> = plan
        .resources
        .iter()
        .filter(|r| r.action != Action::NoOp)
        .map(|r| (r.logical_id.clone(), r.action))
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        [
            ("Data".to_owned(), Action::Update),
            ("Node1".to_owned(), Action::Update)
        ]
    );
    let report = engine
        .apply(&input(&renamed, "two"), RunOptions::default())
        .await
        .unwrap();
    assert!(report.is_success(), "{}: {:?}", t.name, report.failures);
    assert_eq!(
        client.compute().get_server(&server.id).await.unwrap().name,
        renamed
    );
    assert_eq!(
        client.volume().get_volume(&volume.id).await.unwrap().extra["description"],
        json!("two")
    );

    // Destroy: detached, deleted, gone.
    let done = engine
        .destroy(&stack, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert!(
        done.is_success() && done.left_behind.is_empty(),
        "{}: {:?}",
        t.name,
        done.failures
    );
    assert!(
        client
            .compute()
            .get_server(&server.id)
            .await
            .is_err_and(|e| e.is_not_found()),
        "{}",
        t.name
    );
    assert!(
        client
            .volume()
            .get_volume(&volume.id)
            .await
            .is_err_and(|e| e.is_not_found()),
        "{}",
        t.name
    );
    client.image().delete_image(&image.id).await.unwrap();
}

// Paused time: the engine's readiness polls (5 s for a server) pass at once.
#[tokio::test(start_paused = true)]
async fn servers_volumes_and_attachments_on_the_simulator() {
    let t = sim().await;
    scenario(&t, false).await;
    let sim = t.sim.as_ref().unwrap();
    assert!(
        sim.calls("GET /compute/v2.1/servers/detail") >= 1,
        "two servers are polled with one list call"
    );
    assert!(sim.inventory().of("servers").is_empty() && sim.inventory().of("volumes").is_empty());
}

#[tokio::test]
async fn servers_volumes_and_attachments_on_real_nova_and_cinder() {
    let Some(t) = real_full_target("real Nova and Cinder").await else {
        return;
    };
    // The real Nova announces 2.104: asking for more negotiates down, no 406.
    let eager = Client::with_options(
        t.demo.clone(),
        ClientOptions {
            compute_microversion: (2, 999),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let version = eager.compute_microversion().await.unwrap();
    assert!(version.starts_with("2.1") && version != "2.1", "{version}");
    let flavors: Vec<_> = eager.compute().list_flavors().try_collect().await.unwrap();
    assert!(flavors.iter().any(|f| f.name == "m1.tiny"));
    scenario(&t, true).await
}

#[tokio::test]
async fn throttling_carries_retry_after_and_microversions_are_negotiated() {
    let t = sim().await;
    let client = t.client(&t.demo);
    assert_eq!(client.compute_microversion().await.unwrap(), "2.100");
    let _: Vec<_> = client.compute().list_flavors().try_collect().await.unwrap();
    // Asking for more than the server has gets the server's highest.
    let eager = Client::with_options(
        t.demo.clone(),
        ClientOptions {
            compute_microversion: (2, 999),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    assert_eq!(eager.compute_microversion().await.unwrap(), "2.100");
    let _: Vec<_> = eager.compute().list_flavors().try_collect().await.unwrap();
    t.sim.as_ref().unwrap().throttle_next(1, 7);
    let e = client
        .network()
        .list_networks(&[])
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Throttled {
            retry_after: Some(std::time::Duration::from_secs(7))
        },
        "{e}"
    );
    let handler: iac_core::provider::HandlerError = e.into();
    assert!(handler.kind.is_retryable());
    let _: Vec<_> = client
        .network()
        .list_networks(&[])
        .try_collect()
        .await
        .unwrap();
}

// The client's own waits, for programs that use it without the engine (paused time: the
// polls pass at once).
#[tokio::test(start_paused = true)]
async fn client_waits_for_servers_and_volumes() {
    let t = sim().await;
    let options = ClientOptions {
        pool_connections: false,
        ..ClientOptions::default()
    };
    let client = Client::with_options(t.admin.clone(), options).unwrap();
    let image = client
        .image()
        .create_image(fields([
            ("name", json!("boot")),
            ("disk_format", json!("raw")),
            ("container_format", json!("bare")),
        ]))
        .await
        .unwrap();
    client
        .image()
        .upload_image(&image.id, vec![0; 512])
        .await
        .unwrap();
    let wait = iac_openstack::services::Wait::default();
    let server = client
        .compute()
        .create_server(
            fields([
                ("name", json!("w")),
                ("flavorRef", json!("1")),
                ("imageRef", json!(image.id)),
                ("networks", json!("none")),
            ]),
            Some(USER_DATA),
        )
        .await
        .unwrap();
    assert_eq!(
        client.compute().get_server(&server).await.unwrap().status,
        "BUILD"
    );
    assert_eq!(
        client
            .compute()
            .wait_server_active(&server, wait)
            .await
            .unwrap()
            .status,
        "ACTIVE"
    );
    let volume = client
        .volume()
        .create_volume(fields([("size", json!(2))]))
        .await
        .unwrap();
    assert_eq!(volume.status, "creating");
    let ready = client
        .volume()
        .wait_volume_status(&volume.id, "available", wait)
        .await
        .unwrap();
    assert_eq!(ready.size, 2);
    client.volume().extend_volume(&volume.id, 3).await.unwrap();
    assert_eq!(
        client.volume().get_volume(&volume.id).await.unwrap().size,
        3
    );
    // A status that never comes: the wait gives up and says what it saw.
    let short = iac_openstack::services::Wait {
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(5),
    };
    let e = client
        .volume()
        .wait_volume_status(&volume.id, "in-use", short)
        .await
        .unwrap_err();
    assert!(e.message.contains("still available after 5 s"), "{e}");
    client.compute().delete_server(&server).await.unwrap();
    client.volume().delete_volume(&volume.id).await.unwrap();
    assert!(
        client
            .compute()
            .get_server(&server)
            .await
            .unwrap_err()
            .is_not_found()
    );
}
