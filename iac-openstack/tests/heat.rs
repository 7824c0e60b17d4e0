//! One stack deployed both by Heat (the real orchestration service, full set only) and by
//! our engine, then compared resource by resource through the services' own APIs: the
//! same types, and the same networks, subnets, security-group rules, ports, volumes,
//! servers and attachments. Skipped unless `openstack.sh --full` runs.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::TryStreamExt;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use iac_openstack::client::Client;
use iac_openstack::resources::registry;
use iac_openstack::services::{Fields, Wait};
use serde_json::{Value, json};

use common::{real, real_full, unique};

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

/// What a resource looks like through its service's API, without ids and names.
async fn facts(client: &Client, kind: &str, id: &str, own: &BTreeSet<String>) -> Value {
    match kind {
        "OS::Neutron::Net" => {
            let n = client.network().get_network(id).await.unwrap();
            json!({"status": n.status, "admin_state_up": n.admin_state_up, "subnets": n.subnets.len()})
        }
        "OS::Neutron::Subnet" => {
            let s = client.network().get_subnet(id).await.unwrap();
            json!({"cidr": s.cidr, "gateway": s.gateway_ip, "dhcp": s.enable_dhcp, "ip_version": s.ip_version,
                   "dns": s.extra["dns_nameservers"], "pools": s.extra["allocation_pools"]})
        }
        "OS::Neutron::SecurityGroup" => {
            let g = client.network().get_security_group(id).await.unwrap();
            let rules: BTreeSet<String> = g
                .security_group_rules
                .iter()
                .map(|r| {
                    let remote = match &r.remote_group_id {
                        Some(g) if g == id => "self".to_owned(),
                        Some(_) => "other".to_owned(),
                        None => String::new(),
                    };
                    format!(
                        "{} {} {:?} {:?}-{:?} {:?} {remote}",
                        r.direction,
                        r.ethertype,
                        r.protocol,
                        r.port_range_min,
                        r.port_range_max,
                        r.remote_ip_prefix
                    )
                })
                .collect();
            json!({"rules": rules})
        }
        "OS::Neutron::Port" => {
            let p = client.network().get_port(id).await.unwrap();
            let ips: Vec<&str> = p
                .fixed_ips
                .iter()
                .map(|ip| ip.ip_address.as_str())
                .collect();
            json!({"ips": ips, "groups": p.security_groups.len(), "status": p.status, "owner": p.device_owner})
        }
        "OS::Cinder::Volume" => {
            let v = client.volume().get_volume(id).await.unwrap();
            let attached_to_own = v
                .attachments
                .iter()
                .all(|a| a["server_id"].as_str().is_some_and(|s| own.contains(s)));
            json!({"size": v.size, "status": v.status, "attachments": v.attachments.len(), "attached_in_stack": attached_to_own})
        }
        "OS::Nova::Server" => {
            let s = client.compute().get_server(id).await.unwrap();
            json!({"status": s.status, "flavor": s.extra["flavor"]["original_name"], "image": s.extra["image"]["id"],
                   "volumes": s.extra["os-extended-volumes:volumes_attached"].as_array().map(Vec::len)})
        }
        "OS::Cinder::VolumeAttachment" => json!("attachment"),
        other => panic!("unexpected type {other}"),
    }
}

#[tokio::test]
async fn a_stack_deployed_by_heat_and_by_the_engine_is_the_same() {
    let Some(t) = real().filter(|_| real_full()) else {
        eprintln!("Heat comparison: skipped (start openstack.sh with --full)");
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

    let heat_ids: BTreeSet<String> = heat_resources
        .iter()
        .map(|r| r.physical_resource_id.clone())
        .collect();
    let our_ids: BTreeSet<String> = report
        .resources
        .iter()
        .filter_map(|r| r.physical_id.as_ref().map(|p| p.to_string()))
        .collect();
    assert_eq!(heat_resources.len(), report.resources.len());
    for theirs in &heat_resources {
        let mine = report
            .resources
            .iter()
            .find(|r| r.logical_id == theirs.resource_name)
            .unwrap_or_else(|| panic!("{} in ours", theirs.resource_name));
        assert_eq!(
            mine.type_name, theirs.resource_type,
            "{}",
            theirs.resource_name
        );
        let mine_id = mine.physical_id.as_ref().unwrap().to_string();
        let a = facts(
            &client,
            &theirs.resource_type,
            &theirs.physical_resource_id,
            &heat_ids,
        )
        .await;
        let b = facts(&client, &theirs.resource_type, &mine_id, &our_ids).await;
        assert_eq!(
            a, b,
            "{} ({}): Heat's vs ours",
            theirs.resource_name, theirs.resource_type
        );
    }

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
