//! A HOT template with `deletion_policy: Snapshot` on a Cinder volume and `external_id` on a
//! Neutron network, run through the engine on the simulator: the volume is backed up
//! (Cinder's backup API) before its delete, the network is adopted and never deleted.
//!
//! On the real services this needs Cinder's backup service (`cinder-backup`), which the
//! `--full` set of `openstack.sh` does not start: the real run is enabled by
//! `IAC_OS_CINDER_BACKUP=1` next to a full openrc, and skipped otherwise.

mod common;

use iac_core::engine::{Action, Engine, EngineError, RunOptions, StackInput, Status, events};
use iac_core::state::MemoryStateStore;
use iac_openstack::client::Client;
use iac_openstack::hot;
use iac_openstack::resources::registry;
use iac_openstack::services::fields;
use serde_json::json;

use common::{Target, real, real_full, sim, unique};

const TEMPLATE: &str = r#"
heat_template_version: 2018-08-31
parameters:
  net_id: {type: string}
resources:
  net:
    type: OS::Neutron::Net
    external_id: {get_param: net_id}
    properties: {name: ignored-for-an-adopted-network}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: 10.9.0.0/24}
  data:
    type: OS::Cinder::Volume
    deletion_policy: Snapshot
    properties: {size: 1, description: {get_attr: [net, name]}}
outputs:
  net_name: {value: {get_attr: [net, name]}}
"#;

async fn scenario(t: &Target) {
    let client = Client::new(t.admin.clone()).unwrap();
    let net_name = unique("adopted");
    let net = client
        .network()
        .create_network(fields([("name", json!(net_name))]))
        .await
        .unwrap();
    let template = hot::load_str(TEMPLATE).unwrap();
    template
        .validate(&|ty| hot::SUPPORTED_RESOURCE_TYPES.contains(&ty))
        .unwrap();
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let stack = unique("snap");
    let input = StackInput::new(stack.clone(), template.into_template())
        .with_parameter("net_id", net.id.as_str());

    let plan = engine.plan(&input).await.unwrap();
    assert_eq!(plan.resource("net").unwrap().action, Action::Import);
    let report = engine
        .apply(&input, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(report.outputs["net_name"], json!(net_name), "{}", t.name);
    let volume_id = report
        .resources
        .iter()
        .find(|r| r.logical_id == "data")
        .and_then(|r| r.physical_id.clone())
        .unwrap();
    let volume = client
        .volume()
        .get_volume(volume_id.as_str())
        .await
        .unwrap();
    assert_eq!(volume.extra["description"], json!(net_name), "{}", t.name);
    assert!(engine.plan(&input).await.unwrap().is_empty());

    let (tx, mut rx) = events::channel();
    let done = engine
        .destroy(&stack, RunOptions::default().with_events(tx))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(done.snapshots.len(), 1, "{}", t.name);
    let kept = &done.snapshots[0];
    assert_eq!(
        (kept.logical_id.as_str(), &kept.physical_id),
        ("data", &volume_id)
    );
    let backup = client
        .volume()
        .get_backup(kept.snapshot_id.as_str())
        .await
        .unwrap();
    assert_eq!(backup.status, "available", "{}", t.name);
    assert_eq!(backup.volume_id.as_deref(), Some(volume_id.as_str()));
    assert!(
        client
            .volume()
            .get_volume(volume_id.as_str())
            .await
            .is_err_and(|e| e.is_not_found()),
        "{}: the volume is deleted once its backup is available",
        t.name
    );
    // The adopted network is still there; the subnet the stack made is gone.
    assert_eq!(
        client.network().get_network(&net.id).await.unwrap().name,
        net_name
    );
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let deleted = events
        .iter()
        .find(|e| &*e.logical_id == "data" && e.status == Status::DeleteComplete)
        .unwrap();
    assert!(
        deleted
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(&backup.id)),
        "{deleted:?}"
    );
    assert!(events.iter().any(|e| {
        &*e.logical_id == "net"
            && e.status == Status::DeleteSkipped
            && e.reason
                .as_deref()
                .is_some_and(|r| r.contains("never deleted"))
    }));

    client.volume().delete_backup(&backup.id).await.unwrap();
    assert!(
        client
            .volume()
            .get_backup(&backup.id)
            .await
            .is_err_and(|e| e.is_not_found()),
        "{}",
        t.name
    );
    client.network().delete_network(&net.id).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn snapshot_and_external_id_on_the_simulator() {
    let t = sim().await;
    scenario(&t).await;
    let sim = t.sim.as_ref().unwrap();
    assert!(sim.inventory().of("volumes").is_empty());
    assert!(sim.inventory().of("backups").is_empty());
}

#[tokio::test]
async fn snapshot_and_external_id_on_real_cinder_with_backups() {
    let backups = std::env::var("IAC_OS_CINDER_BACKUP").is_ok_and(|v| v == "1");
    match real() {
        Some(t) if real_full() && backups => scenario(&t).await,
        _ => eprintln!("skipped: needs the full real services with cinder-backup"),
    }
}

#[tokio::test(start_paused = true)]
async fn adopting_a_network_that_does_not_exist_fails_naming_it() {
    let t = sim().await;
    let client = Client::new(t.admin.clone()).unwrap();
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let missing = "00000000-0000-4000-8000-00000000dead";
    let input = StackInput::new("missing", hot::load_str(TEMPLATE).unwrap().into_template())
        .with_parameter("net_id", missing);
    let err = engine
        .apply(&input, RunOptions::default())
        .await
        .unwrap_err();
    let EngineError::Failed(report) = err else {
        panic!("{err}")
    };
    let failure = report
        .failures
        .iter()
        .find(|f| f.logical_id == "net")
        .unwrap();
    assert_eq!(failure.status, Status::CreateFailed);
    assert!(
        failure.message.contains(missing) && failure.message.contains("OS::Neutron::Net"),
        "{}",
        failure.message
    );
}

/// The HOT validation's list of types that take snapshots is what the handlers declare.
#[tokio::test]
async fn the_hot_list_of_snapshot_types_is_what_the_handlers_declare() {
    let t = sim().await;
    let registry = registry(&Client::new(t.admin.clone()).unwrap());
    for ty in registry.type_names() {
        let declared = registry.get(ty).unwrap().schema().snapshots;
        assert_eq!(declared, hot::SNAPSHOT_RESOURCE_TYPES.contains(&ty), "{ty}");
    }
    assert!(
        hot::SNAPSHOT_RESOURCE_TYPES
            .iter()
            .all(|ty| registry.contains(ty))
    );
}

/// The corpus template `hot/external_resource.yaml` (an `OS::Nova::Server` adopted through
/// `external_id`, its address an output) runs as written: the server is read, its address
/// given, and the destroy leaves it.
#[tokio::test(start_paused = true)]
async fn the_corpus_external_server_template_runs_on_the_simulator() {
    let t = sim().await;
    let client = Client::new(t.admin.clone()).unwrap();
    let net = client
        .network()
        .create_network(fields([("name", json!("private"))]))
        .await
        .unwrap();
    client
        .network()
        .create_subnet(fields([
            ("network_id", json!(net.id)),
            ("cidr", json!("10.0.0.0/24")),
            ("ip_version", json!(4)),
        ]))
        .await
        .unwrap();
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
        .upload_image(&image.id, vec![0; 1024])
        .await
        .unwrap();
    let server = client
        .compute()
        .create_server(
            fields([
                ("name", json!("made-elsewhere")),
                ("imageRef", json!(image.id)),
                ("flavorRef", json!("1")),
                ("networks", json!([{"uuid": net.id}])),
            ]),
            None,
        )
        .await
        .unwrap();

    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/templates/hot/openstack-heat-templates/hot/external_resource.yaml");
    let template = hot::load_path(&path).unwrap();
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let input = StackInput::new("external", template.into_template())
        .with_parameter("external_server_id", server.as_str());
    let report = engine.apply(&input, RunOptions::default()).await.unwrap();
    let address = report.outputs["server_address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(address.starts_with("10.0.0."), "{address}");
    engine
        .destroy("external", RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        client.compute().get_server(&server).await.unwrap().name,
        "made-elsewhere"
    );
}
