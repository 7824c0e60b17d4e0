//! `iac_openstack::compare` on its own: one template deployed twice by the engine compares
//! equal; a deployment where one port has another address, or one resource is missing,
//! compares different, naming the resource. On the simulator, and on the real services
//! when enabled.

mod common;

use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use iac_openstack::client::Client;
use iac_openstack::compare::{Deployed, differences};
use iac_openstack::resources::registry;
use serde_json::json;

use common::{targets, unique};

fn template(prefix: &str, port_host: u8) -> Template {
    serde_json::from_value(json!({"Resources": {
        "net": {"Type": "OS::Neutron::Net", "Properties": {"name": format!("{prefix}-net")}},
        "subnet": {"Type": "OS::Neutron::Subnet", "Properties": {"network": {"Ref": "net"}, "cidr": "10.43.0.0/24"}},
        "router": {"Type": "OS::Neutron::Router", "Properties": {"name": format!("{prefix}-router")}},
        "if": {"Type": "OS::Neutron::RouterInterface", "Properties": {"router": {"Ref": "router"}, "subnet": {"Ref": "subnet"}}},
        "web": {"Type": "OS::Neutron::SecurityGroup", "Properties": {"name": format!("{prefix}-web"), "description": "web",
            "rules": [{"protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}]}},
        "app": {"Type": "OS::Neutron::SecurityGroup", "Properties": {"name": format!("{prefix}-app"), "description": "app",
            "rules": [{"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080,
                       "remote_mode": "remote_group_id", "remote_group_id": {"Ref": "web"}}]}},
        "ssh": {"Type": "OS::Neutron::SecurityGroupRule", "Properties": {"security_group": {"Ref": "app"}, "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}},
        "port": {"Type": "OS::Neutron::Port", "Properties": {"network": {"Ref": "net"},
            "fixed_ips": [{"subnet": {"Ref": "subnet"}, "ip_address": format!("10.43.0.{port_host}")}],
            "security_groups": [{"Ref": "web"}, {"Ref": "app"}]}}
    }}))
    .expect("a template")
}

#[tokio::test]
async fn the_same_template_twice_compares_equal_and_a_changed_port_does_not() {
    for t in targets().await {
        let client = Client::new(t.demo.clone()).unwrap();
        let engine = Engine::builder()
            .provider(registry(&client))
            .state(MemoryStateStore::new())
            .build();
        let mut deployed = Vec::new();
        let mut names = Vec::new();
        for host in [10, 10, 11] {
            let name = unique("cmp");
            let report = engine
                .apply(
                    &StackInput::new(name.clone(), template(&name, host)),
                    RunOptions::default(),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert!(report.is_success(), "{}: {:?}", t.name, report.failures);
            deployed.push(
                report
                    .resources
                    .iter()
                    .map(Deployed::from)
                    .collect::<Vec<_>>(),
            );
            names.push(name);
        }
        let (a, b, c) = (&deployed[0], &deployed[1], &deployed[2]);
        let same = differences(&client, ("a", a), ("b", b)).await.unwrap();
        assert!(same.is_empty(), "{}: {same:#?}", t.name);

        let changed = differences(&client, ("a", a), ("c", c)).await.unwrap();
        assert_eq!(changed.len(), 1, "{}: {changed:#?}", t.name);
        assert!(
            changed[0].starts_with("port (OS::Neutron::Port)") && changed[0].contains("10.43.0.11"),
            "{}: {}",
            t.name,
            changed[0]
        );

        let fewer: Vec<Deployed> = b
            .iter()
            .filter(|d| d.logical_id != "ssh")
            .cloned()
            .collect();
        let missing = differences(&client, ("a", a), ("b", &fewer)).await.unwrap();
        // The rule still exists (in b's group too), so only the list differs.
        assert_eq!(missing, vec!["ssh: only in a".to_owned()], "{}", t.name);

        for name in names {
            let done = engine
                .destroy(&name, RunOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert!(done.is_success(), "{}: {:?}", t.name, done.failures);
        }
    }
}
