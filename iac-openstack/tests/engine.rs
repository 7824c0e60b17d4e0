//! Neutron and Keystone resources through the iac-core engine: create, update in place,
//! replace and destroy, on the simulator and (openrc sourced) on the real services. The
//! same scenario runs on both, and what the engine reports is checked against what the
//! cloud's own API says.

mod common;

use futures::TryStreamExt;
use iac_core::engine::{Action, Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use iac_openstack::client::Client;
use iac_openstack::resources::registry;
use serde_json::json;

use common::{targets, unique};

struct Knobs {
    net_name: String,
    ssh_cidr: &'static str,
    vxlan_port: u16,
    project_description: &'static str,
}

fn template(k: &Knobs, ext_name: &str, project_name: &str) -> Template {
    let t = json!({
        "Resources": {
            "Ext": {"Type": "OS::Neutron::Net", "Properties": {"name": ext_name, "value_specs": {"router:external": true}}},
            "ExtSubnet": {"Type": "OS::Neutron::Subnet", "Properties": {"network": {"Ref": "Ext"}, "cidr": "203.0.113.0/24", "enable_dhcp": false}},
            "Net": {"Type": "OS::Neutron::Net", "Properties": {"name": k.net_name}},
            "Subnet": {"Type": "OS::Neutron::Subnet", "Properties": {
                "network": {"Ref": "Net"}, "cidr": "10.20.0.0/24", "ip_version": 4,
                "dns_nameservers": ["192.0.2.53"]}},
            "Router": {"Type": "OS::Neutron::Router", "Properties": {
                "external_gateway_info": {"network": {"Ref": "Ext"}}},
                "DependsOn": ["ExtSubnet"]},
            "RouterIf": {"Type": "OS::Neutron::RouterInterface", "Properties": {"router": {"Ref": "Router"}, "subnet": {"Ref": "Subnet"}}},
            "Sg": {"Type": "OS::Neutron::SecurityGroup", "Properties": {"description": "k8s nodes", "rules": [
                {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": k.ssh_cidr},
                {"protocol": "tcp", "port_range_min": 6443, "port_range_max": 6443, "remote_mode": "remote_group_id"}]}},
            "Rule": {"Type": "OS::Neutron::SecurityGroupRule", "Properties": {"security_group": {"Ref": "Sg"}, "protocol": "udp", "port_range_min": k.vxlan_port, "port_range_max": k.vxlan_port}},
            "Port": {"Type": "OS::Neutron::Port", "Properties": {
                "network": {"Ref": "Net"}, "fixed_ips": [{"subnet": {"Ref": "Subnet"}}],
                "security_groups": [{"Ref": "Sg"}]}},
            "Fip": {"Type": "OS::Neutron::FloatingIP", "Properties": {"floating_network": {"Ref": "Ext"}, "port_id": {"Ref": "Port"}},
                "DependsOn": ["RouterIf"]},
            "Project": {"Type": "OS::Keystone::Project", "Properties": {"name": project_name, "description": k.project_description}}
        },
        "Outputs": {
            "net_status": {"Value": {"Fn::GetAtt": ["Net", "status"]}},
            "port_ip": {"Value": {"Fn::GetAtt": ["Port", "fixed_ips"]}},
            "fip": {"Value": {"Fn::GetAtt": ["Fip", "floating_ip_address"]}},
            "gateway": {"Value": {"Fn::GetAtt": ["Subnet", "gateway_ip"]}},
            "project_domain": {"Value": {"Fn::GetAtt": ["Project", "domain_id"]}}
        }
    });
    serde_json::from_value(t).expect("a template")
}

async fn plan_actions(engine: &Engine, input: &StackInput) -> Vec<(String, Action)> {
    let plan = engine.plan(input).await.expect("plan");
    let mut out: Vec<_> = plan
        .resources
        .iter()
        .filter(|r| r.action != Action::NoOp)
        .map(|r| (r.logical_id.clone(), r.action))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn apply(engine: &Engine, input: &StackInput, target: &str) -> iac_core::engine::Report {
    let report = engine
        .apply(input, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    assert!(report.is_success(), "{target}: {:?}", report.failures);
    assert!(
        engine.plan(input).await.unwrap().is_empty(),
        "{target}: a second plan is empty"
    );
    report
}

fn physical(report: &iac_core::engine::Report, id: &str) -> String {
    let r = report
        .resources
        .iter()
        .find(|r| r.logical_id == id)
        .unwrap_or_else(|| panic!("{id} in the report"));
    r.physical_id
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_else(|| panic!("{id} has a physical id"))
}

#[tokio::test]
async fn neutron_and_keystone_life_cycle_through_the_engine() {
    for t in targets().await {
        let client = Client::new(t.admin.clone()).unwrap();
        let engine = Engine::builder()
            .provider(registry(&client))
            .state(MemoryStateStore::new())
            .build();
        let stack = unique("life");
        let (ext_name, project_name) = (unique("ext"), unique("proj"));
        let mut k = Knobs {
            net_name: unique("net"),
            ssh_cidr: "10.0.0.0/8",
            vxlan_port: 8472,
            project_description: "one",
        };
        let input =
            |k: &Knobs| StackInput::new(stack.clone(), template(k, &ext_name, &project_name));

        let report = apply(&engine, &input(&k), t.name).await;
        let net_id = physical(&report, "Net");
        let subnet_id = physical(&report, "Subnet");
        assert_eq!(report.outputs["net_status"], json!("ACTIVE"), "{}", t.name);
        assert_eq!(report.outputs["gateway"], json!("10.20.0.1"));
        assert_eq!(report.outputs["project_domain"], json!("default"));
        let fip = report.outputs["fip"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: fip {:?}", t.name, report.outputs));
        assert!(fip.starts_with("203.0.113."), "{fip}");
        let port_ips = &report.outputs["port_ip"];
        assert_eq!(port_ips[0]["subnet_id"], json!(subnet_id), "{}", t.name);

        // What the cloud says.
        let net = client.network().get_network(&net_id).await.unwrap();
        assert_eq!(net.name, k.net_name);
        // What Neutron gives a new group (the peers' Neutron has no default rule templates).
        let plain = client
            .network()
            .create_security_group(iac_openstack::services::fields([(
                "name",
                json!(unique("plain")),
            )]))
            .await
            .unwrap();
        client
            .network()
            .delete_security_group(&plain.id)
            .await
            .unwrap();
        let defaults = plain
            .security_group_rules
            .iter()
            .filter(|r| r.direction == "egress")
            .count();
        let sg = client
            .network()
            .get_security_group(&physical(&report, "Sg"))
            .await
            .unwrap();
        let ingress: Vec<_> = sg
            .security_group_rules
            .iter()
            .filter(|r| r.direction == "ingress")
            .collect();
        assert_eq!(ingress.len(), 3, "{}: {ingress:?}", t.name);
        assert!(ingress.iter().any(|r| r.port_range_min == Some(6443)
            && r.remote_group_id.as_deref() == Some(sg.id.as_str())));
        assert_eq!(
            sg.security_group_rules
                .iter()
                .filter(|r| r.direction == "egress")
                .count(),
            defaults,
            "{}: the default egress rules Neutron makes are kept, none added",
            t.name
        );
        let router_id = physical(&report, "Router");
        let router_ports: Vec<_> = client
            .network()
            .list_ports(&[("device_id", &router_id)])
            .try_collect()
            .await
            .unwrap();
        assert!(
            router_ports
                .iter()
                .any(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id)),
            "{}",
            t.name
        );
        let port = client
            .network()
            .get_port(&physical(&report, "Port"))
            .await
            .unwrap();
        assert_eq!(port.security_groups, vec![sg.id.clone()]);

        // In place: names, rules and the project's description.
        k.net_name = unique("net2");
        k.ssh_cidr = "192.168.0.0/16";
        k.project_description = "two";
        assert_eq!(
            plan_actions(&engine, &input(&k)).await,
            [
                ("Net".into(), Action::Update),
                ("Project".into(), Action::Update),
                ("Sg".into(), Action::Update)
            ]
        );
        let report = apply(&engine, &input(&k), t.name).await;
        assert_eq!(physical(&report, "Net"), net_id, "updated in place");
        assert_eq!(
            client.network().get_network(&net_id).await.unwrap().name,
            k.net_name
        );
        let sg = client
            .network()
            .get_security_group(&physical(&report, "Sg"))
            .await
            .unwrap();
        let prefixes: Vec<_> = sg
            .security_group_rules
            .iter()
            .filter_map(|r| r.remote_ip_prefix.clone())
            .collect();
        assert!(
            prefixes.contains(&"192.168.0.0/16".to_owned())
                && !prefixes.contains(&"10.0.0.0/8".to_owned()),
            "{}: {prefixes:?}",
            t.name
        );
        assert!(
            sg.security_group_rules
                .iter()
                .any(|r| r.port_range_min == Some(8472)),
            "the separate rule is kept"
        );
        let project = client
            .identity()
            .get_project(&physical(&report, "Project"))
            .await
            .unwrap();
        assert_eq!(project.description, "two");

        // A new port replaces the separate rule (a rule cannot change); the group keeps
        // its own rules.
        let old_rule = physical(&report, "Rule");
        k.vxlan_port = 4789;
        assert_eq!(
            plan_actions(&engine, &input(&k)).await,
            [("Rule".into(), Action::Replace)],
            "{}",
            t.name
        );
        let report = apply(&engine, &input(&k), t.name).await;
        assert_ne!(physical(&report, "Rule"), old_rule);
        assert!(
            client
                .network()
                .get_security_group_rule(&old_rule)
                .await
                .unwrap_err()
                .is_not_found(),
            "{}: the old rule is gone",
            t.name
        );
        let sg = client
            .network()
            .get_security_group(&physical(&report, "Sg"))
            .await
            .unwrap();
        let ports: Vec<_> = sg
            .security_group_rules
            .iter()
            .filter_map(|r| r.port_range_min)
            .collect();
        assert!(
            ports.contains(&4789)
                && !ports.contains(&8472)
                && ports.contains(&22)
                && ports.contains(&6443),
            "{}: {ports:?}",
            t.name
        );

        // Destroy: nothing of the stack is left.
        let ids: Vec<(String, String)> = report
            .resources
            .iter()
            .filter_map(|r| {
                r.physical_id
                    .as_ref()
                    .map(|p| (r.logical_id.clone(), p.to_string()))
            })
            .collect();
        let done = engine
            .destroy(&stack, RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert!(
            done.is_success() && done.left_behind.is_empty(),
            "{}: {:?} {:?}",
            t.name,
            done.failures,
            done.left_behind
        );
        for (logical, id) in ids {
            let gone = match logical.as_str() {
                "Net" | "Ext" => client.network().get_network(&id).await.map(|_| ()),
                "Subnet" | "ExtSubnet" => client.network().get_subnet(&id).await.map(|_| ()),
                "Router" => client.network().get_router(&id).await.map(|_| ()),
                "Port" => client.network().get_port(&id).await.map(|_| ()),
                "Sg" => client.network().get_security_group(&id).await.map(|_| ()),
                "Fip" => client.network().get_floating_ip(&id).await.map(|_| ()),
                "Project" => client.identity().get_project(&id).await.map(|_| ()),
                _ => continue,
            };
            assert!(
                gone.unwrap_err().is_not_found(),
                "{}: {logical} {id} is gone",
                t.name
            );
        }
    }
}
