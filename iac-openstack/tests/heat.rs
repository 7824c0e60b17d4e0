//! One stack deployed both by Heat (the real orchestration service, full set only) and by
//! our engine, then compared resource by resource through the services' own APIs: the
//! same types, and the same networks, subnets, security-group rules, ports, volumes,
//! servers and attachments (`iac_openstack::compare`). Skipped unless `openstack.sh --full`
//! runs (a failure instead when CI said it started it: `IAC_OS_CI_SET=full`).

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use iac_openstack::compare::{self, Deployed};
use iac_openstack::resources::registry;
use iac_openstack::services::{Fields, Wait};
use serde_json::json;

use common::{real_full_target, unique};

const USER_DATA: &str = "#cloud-config\nhostname: compared\n";

/// The stack as HOT, for Heat.
fn hot(prefix: &str) -> String {
    format!(
        r#"heat_template_version: 2018-08-31
resources:
  net: {{type: OS::Neutron::Net, properties: {{name: {prefix}-net}}}}
  subnet:
    type: OS::Neutron::Subnet
    properties: {{network: {{get_resource: net}}, cidr: 10.42.0.0/24, dns_nameservers: [192.0.2.53]}}
  sg:
    type: OS::Neutron::SecurityGroup
    properties:
      name: {prefix}-sg
      rules:
        - {{protocol: tcp, port_range_min: 22, port_range_max: 22, remote_ip_prefix: 10.0.0.0/8}}
        - {{protocol: udp, port_range_min: 8472, port_range_max: 8472, remote_mode: remote_group_id}}
  port:
    type: OS::Neutron::Port
    properties:
      network: {{get_resource: net}}
      fixed_ips: [{{subnet: {{get_resource: subnet}}, ip_address: 10.42.0.10}}]
      security_groups: [{{get_resource: sg}}]
  vol: {{type: OS::Cinder::Volume, properties: {{size: 1, name: {prefix}-vol}}}}
  server:
    type: OS::Nova::Server
    properties:
      name: {prefix}-server
      image: tiny-raw
      flavor: m1.tiny
      user_data_format: RAW
      user_data: {user_data:?}
      networks: [{{allocate_network: none}}]
  attach:
    type: OS::Cinder::VolumeAttachment
    properties: {{instance_uuid: {{get_resource: server}}, volume_id: {{get_resource: vol}}}}
"#,
        user_data = USER_DATA
    )
}

/// The same stack in the engine's template form.
fn ours(prefix: &str) -> Template {
    serde_json::from_value(json!({"Resources": {
        "net": {"Type": "OS::Neutron::Net", "Properties": {"name": format!("{prefix}-net")}},
        "subnet": {"Type": "OS::Neutron::Subnet", "Properties": {"network": {"Ref": "net"}, "cidr": "10.42.0.0/24", "dns_nameservers": ["192.0.2.53"]}},
        "sg": {"Type": "OS::Neutron::SecurityGroup", "Properties": {"name": format!("{prefix}-sg"), "rules": [
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"},
            {"protocol": "udp", "port_range_min": 8472, "port_range_max": 8472, "remote_mode": "remote_group_id"}]}},
        "port": {"Type": "OS::Neutron::Port", "Properties": {"network": {"Ref": "net"},
            "fixed_ips": [{"subnet": {"Ref": "subnet"}, "ip_address": "10.42.0.10"}], "security_groups": [{"Ref": "sg"}]}},
        "vol": {"Type": "OS::Cinder::Volume", "Properties": {"size": 1, "name": format!("{prefix}-vol")}},
        "server": {"Type": "OS::Nova::Server", "Properties": {"name": format!("{prefix}-server"), "image": "tiny-raw", "flavor": "m1.tiny",
            "user_data_format": "RAW", "user_data": USER_DATA, "networks": [{"allocate_network": "none"}]}},
        "attach": {"Type": "OS::Cinder::VolumeAttachment", "Properties": {"instance_uuid": {"Ref": "server"}, "volume_id": {"Ref": "vol"}}}
    }}))
    .expect("a template")
}

#[tokio::test]
async fn a_stack_deployed_by_heat_and_by_the_engine_is_the_same() {
    let Some(t) = real_full_target("Heat comparison").await else {
        return;
    };
    let client = t.client(&t.demo);
    let heat = client.orchestration();
    let (heat_prefix, our_prefix) = (unique("heat"), unique("iac"));

    // Heat's deployment.
    let id = heat
        .create_stack(&heat_prefix, json!(hot(&heat_prefix)), Fields::new())
        .await
        .unwrap();
    let stack_ref = format!("{heat_prefix}/{id}");
    let wait = Wait {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(300),
    };
    let stack = heat.wait_stack(&stack_ref, wait).await.unwrap();
    assert_eq!(
        stack.stack_status, "CREATE_COMPLETE",
        "{:?}",
        stack.stack_status_reason
    );
    let heat_resources: Vec<_> = heat
        .list_stack_resources(&stack_ref)
        .try_collect()
        .await
        .unwrap();
    let events: Vec<_> = heat
        .list_stack_events(&stack_ref)
        .try_collect()
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.resource_name == "server" && e.resource_status == "CREATE_COMPLETE")
    );

    // Ours.
    let engine = Engine::builder()
        .provider(registry(&client))
        .state(MemoryStateStore::new())
        .build();
    let report = engine
        .apply(
            &StackInput::new(our_prefix.clone(), ours(&our_prefix)),
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failures);

    let theirs: Vec<Deployed> = heat_resources.iter().map(Deployed::from).collect();
    let mine: Vec<Deployed> = report.resources.iter().map(Deployed::from).collect();
    assert_eq!(theirs.len(), 7, "{theirs:?}");
    let differences = compare::differences(&client, ("Heat", &theirs), ("ours", &mine))
        .await
        .unwrap();
    assert!(differences.is_empty(), "{differences:#?}");

    // Both go away.
    heat.delete_stack(&stack_ref).await.unwrap();
    let done = engine
        .destroy(&our_prefix, RunOptions::default())
        .await
        .unwrap();
    assert!(done.is_success(), "{:?}", done.failures);
    let gone = heat.wait_stack(&stack_ref, wait).await;
    assert!(
        gone.as_ref().map_or_else(
            |e| e.is_not_found(),
            |s| s.stack_status == "DELETE_COMPLETE"
        ),
        "{gone:?}"
    );
}
