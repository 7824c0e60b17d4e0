//! A create sent again with the same client token (after a failure or a crash) returns the
//! object the first one made, on the simulator and on the real services: Neutron objects
//! carry the token as a tag, servers as a Nova tag, volumes in their metadata.

mod common;

use std::sync::Arc;

use futures::TryStreamExt;
use iac_core::provider::{ClientToken, CreateRequest, PhysicalId, Properties, Registry};
use iac_openstack::client::Client;
use iac_openstack::resources::registry;
use iac_openstack::services::fields;
use serde_json::{Value, json};

use common::{Target, real, real_full, sim, unique};

async fn create_twice(
    registry: &Registry,
    type_name: &str,
    props: Value,
) -> (PhysicalId, PhysicalId) {
    let handler = registry.get(type_name).unwrap();
    let properties: Arc<Properties> = Arc::new(props.as_object().cloned().unwrap());
    let token = ClientToken::derive_salted(&unique("salt"), "idem", type_name, 1);
    let request = || CreateRequest {
        stack: "idem",
        logical_id: "X",
        properties: &properties,
        client_token: &token,
    };
    let first = handler
        .create(request())
        .await
        .unwrap_or_else(|e| panic!("{type_name}: {e}"));
    let again = handler
        .create(request())
        .await
        .unwrap_or_else(|e| panic!("{type_name}: {e}"));
    (first.physical_id, again.physical_id)
}

async fn scenario(t: &Target, compute: bool) {
    let client = Client::new(t.admin.clone()).unwrap();
    let registry = registry(&client);
    // Decoys: were a token filter ignored, the lookup would return one of these.
    let decoy_net = client
        .network()
        .create_network(fields([("name", json!(unique("decoy")))]))
        .await
        .unwrap();
    let name = unique("idem-net");
    let (a, b) = create_twice(&registry, "OS::Neutron::Net", json!({"name": name})).await;
    assert_eq!(
        a, b,
        "{}: the second create found the first network",
        t.name
    );
    assert_ne!(a.as_str(), decoy_net.id, "{}", t.name);
    client
        .network()
        .delete_network(&decoy_net.id)
        .await
        .unwrap();
    let named: Vec<_> = client
        .network()
        .list_networks(&[("name", &name)])
        .try_collect()
        .await
        .unwrap();
    assert_eq!(named.len(), 1, "{}: one network", t.name);
    let (sa, sb) = create_twice(&registry, "OS::Neutron::SecurityGroup", json!({"name": unique("idem-sg"), "rules": [{"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]})).await;
    assert_eq!(sa, sb, "{}", t.name);
    let (ra, rb) = create_twice(&registry, "OS::Neutron::SecurityGroupRule", json!({"security_group": sa.as_str(), "protocol": "udp", "port_range_min": 53, "port_range_max": 53})).await;
    assert_eq!(ra, rb, "{}: the rule Neutron names in its refusal", t.name);
    client
        .network()
        .delete_security_group(sa.as_str())
        .await
        .unwrap();
    client.network().delete_network(a.as_str()).await.unwrap();
    if !compute {
        return;
    }
    let image = client
        .image()
        .create_image(fields([
            ("name", json!(unique("idem-img"))),
            ("disk_format", json!("raw")),
            ("container_format", json!("bare")),
        ]))
        .await
        .unwrap();
    client
        .image()
        .upload_image(&image.id, vec![0; 1 << 16])
        .await
        .unwrap();
    let decoy_volume = client
        .volume()
        .create_volume(fields([("size", json!(1))]))
        .await
        .unwrap();
    let decoy_server = client
        .compute()
        .create_server(
            fields([
                ("name", json!("decoy")),
                ("flavorRef", json!("1")),
                ("imageRef", json!(image.id)),
                ("networks", json!("none")),
            ]),
            None,
        )
        .await
        .unwrap();
    let (va, vb) = create_twice(&registry, "OS::Cinder::Volume", json!({"size": 1})).await;
    assert_eq!(va, vb, "{}: one volume", t.name);
    assert_ne!(va.as_str(), decoy_volume.id, "{}", t.name);
    let (xa, xb) = create_twice(
        &registry,
        "OS::Nova::Server",
        json!({"image": image.id, "flavor": "m1.tiny", "networks": [{"allocate_network": "none"}]}),
    )
    .await;
    assert_eq!(xa, xb, "{}: one server", t.name);
    assert_ne!(xa.as_str(), decoy_server, "{}", t.name);
    client.compute().delete_server(&decoy_server).await.unwrap();
    client.compute().delete_server(xa.as_str()).await.unwrap();
    let wait = iac_openstack::services::Wait {
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(120),
    };
    client
        .volume()
        .wait_volume_status(va.as_str(), "available", wait)
        .await
        .unwrap();
    client.volume().delete_volume(va.as_str()).await.unwrap();
    client
        .volume()
        .wait_volume_status(&decoy_volume.id, "available", wait)
        .await
        .unwrap();
    client
        .volume()
        .delete_volume(&decoy_volume.id)
        .await
        .unwrap();
    client.image().delete_image(&image.id).await.unwrap();
}

#[tokio::test]
async fn a_repeated_create_returns_the_first_object() {
    let s = sim().await;
    scenario(&s, true).await;
    if let Some(t) = real() {
        scenario(&t, real_full()).await;
    }
}
