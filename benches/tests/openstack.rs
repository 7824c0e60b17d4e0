//! The template of figure 7 (no services needed): its size and shape, and that our HOT
//! import reads it and validates it against the iac-openstack handlers.

use std::collections::BTreeMap;

use iac_benches::openstack::{networks_for, neutron_template, resources_for};
use iac_openstack::config::{CloudConfig, MapSource};
use serde_json::Value;

fn types(hot: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in hot["resources"].as_object().unwrap().values() {
        *out.entry(r["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    out
}

#[test]
fn the_full_and_quick_templates_have_150_and_30_resources_of_the_planned_shape() {
    for (total, networks) in [(150, 27), (30, 3)] {
        assert_eq!(networks_for(total), networks);
        assert_eq!(resources_for(total), total);
        let hot = neutron_template("t", total);
        let t = types(&hot);
        assert_eq!(t.values().sum::<usize>(), total);
        assert_eq!(t["OS::Neutron::Net"], networks);
        assert_eq!(t["OS::Neutron::Subnet"], networks);
        assert_eq!(t["OS::Neutron::RouterInterface"], networks);
        assert_eq!(t["OS::Neutron::Port"], 2 * networks);
        assert_eq!(t["OS::Neutron::Router"], 3);
        assert_eq!(t["OS::Neutron::SecurityGroup"], 4);
        assert_eq!(t["OS::Neutron::SecurityGroupRule"], 8);
    }
    // Below the shared part there is still one network.
    assert_eq!(networks_for(3), 1);
    assert_eq!(resources_for(3), 20);
}

#[test]
fn the_template_imports_and_validates_with_our_handlers() {
    let hot = neutron_template("t", 150);
    let imported = iac_openstack::hot::load_str(&hot.to_string()).expect("imports");
    let config = CloudConfig::from_source(
        &MapSource::default()
            .var("OS_AUTH_URL", "http://127.0.0.1:1/v3")
            .var("OS_TOKEN", "unused"),
    )
    .expect("a configuration");
    let client = iac_openstack::client::Client::new(config).expect("a client");
    let registry = iac_openstack::resources::registry(&client);
    imported
        .validate(&|t| registry.contains(t))
        .expect("validates");
    let template = imported.into_template();
    assert_eq!(template.resources.len(), 150);
    // Every port depends on its subnet and its two groups (through get_resource).
    let port = serde_json::to_value(&template.resources["port_26_b"]).unwrap();
    let text = port.to_string();
    for needed in ["subnet_26", "net_26", "sg_db", "sg_admin"] {
        assert!(text.contains(needed), "{needed} in {text}");
    }
}
