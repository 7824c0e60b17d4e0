//! Shared fixtures of the engine tests: a memory cloud with a few typed resource kinds.

#![allow(dead_code)]

use std::time::Duration;

use iac_core::Template;
use iac_core::engine::{Engine, Event, FailurePolicy};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::provider::PhysicalId;
use iac_core::provider::{Registry, ReplaceOrder, Schema, UpdateBehavior::*};
use iac_core::state::{JournalEntry, MemoryStateStore, ResourcePhase, ResourceState};
use tokio::sync::mpsc::UnboundedReceiver;

/// The resource types of the test cloud.
pub fn registry(cloud: &MemoryCloud) -> Registry {
    let hint = cloud_hint(cloud);
    let mut r = Registry::new();
    r.register(
        cloud.handler_with_schema(
            Schema::new("Test::Network")
                .with_property("Cidr", false, ForcesReplacement)
                .with_property("Name", false, Mutable)
                .with_attributes(&["Id", "Cidr"])
                .with_readiness_hint(hint),
        ),
    );
    r.register(
        cloud.handler_with_schema(
            Schema::new("Test::Subnet")
                .with_property("NetworkId", true, ForcesReplacement)
                .with_property("Cidr", true, ForcesReplacement)
                .with_property("Name", false, Mutable)
                .with_attributes(&["Id"])
                .with_readiness_hint(hint),
        ),
    );
    r.register(
        cloud.handler_with_schema(
            Schema::new("Test::Server")
                .with_property("SubnetId", true, ForcesReplacement)
                .with_property("Image", false, ForcesReplacement)
                .with_property("Size", false, Mutable)
                .with_property("UserData", false, Mutable)
                .with_attributes(&["Id", "Size"])
                .with_readiness_hint(hint),
        ),
    );
    r.register(
        cloud.handler_with_schema(
            Schema::new("Test::Bucket")
                .with_property("BucketName", true, ForcesReplacement)
                .with_attributes(&["Id"])
                .with_replace_order(ReplaceOrder::DeleteBeforeCreate)
                .with_readiness_hint(hint),
        ),
    );
    r.register(cloud.handler("Test::Thing"));
    r
}

fn cloud_hint(_cloud: &MemoryCloud) -> Duration {
    Duration::from_millis(500)
}

/// An engine over a fresh memory cloud and memory state.
pub fn setup(
    config: MemoryConfig,
    policy: FailurePolicy,
) -> (MemoryCloud, Engine, MemoryStateStore) {
    let cloud = MemoryCloud::new(config);
    let store = MemoryStateStore::new();
    let engine = Engine::builder()
        .provider(registry(&cloud))
        .state(store.clone())
        .failure_policy(policy)
        .seed(7)
        .build();
    (cloud, engine, store)
}

/// Reads a template from JSON.
pub fn template(json: serde_json::Value) -> Template {
    serde_json::from_value(json).expect("a valid template")
}

/// A network, a subnet and two servers, with a secret parameter.
pub fn small_stack() -> Template {
    template(serde_json::json!({
        "Parameters": {
            "Size": {"Type": "String", "Default": "small", "AllowedValues": ["small", "large"]},
            "Password": {"Type": "String", "NoEcho": true, "MinLength": 8}
        },
        "Resources": {
            "Net": {"Type": "Test::Network", "Properties": {"Cidr": "10.0.0.0/16", "Name": "net"}},
            "Subnet": {"Type": "Test::Subnet", "Properties": {
                "NetworkId": {"Ref": "Net"}, "Cidr": "10.0.1.0/24"}},
            "Web": {"Type": "Test::Server", "Properties": {
                "SubnetId": {"Fn::GetAtt": ["Subnet", "Id"]}, "Size": {"Ref": "Size"},
                "UserData": {"Fn::Sub": "echo ${Password} > /etc/pw"}}},
            "Db": {"Type": "Test::Server", "DependsOn": "Subnet", "Properties": {
                "SubnetId": {"Ref": "Subnet"}, "Size": "large"}}
        },
        "Outputs": {
            "WebId": {"Value": {"Ref": "Web"}},
            "WebSize": {"Value": {"Fn::GetAtt": ["Web", "Size"]}}
        }
    }))
}

/// Everything received so far.
pub fn drain(rx: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

/// A ready `Test::Thing` record with physical id `id`, for state store tests.
pub fn record(id: &str) -> ResourceState {
    ResourceState {
        type_name: "Test::Thing".into(),
        physical_id: Some(PhysicalId::new(id)),
        phase: ResourcePhase::Ready,
        properties: Default::default(),
        attributes: Default::default(),
        depends_on: Default::default(),
        generation: 1,
        deletion_policy: Default::default(),
        pending: None,
        deposed: Default::default(),
        failure: None,
        external: false,
        snapshots: Default::default(),
    }
}

/// A journal entry that sets `id`'s record to a ready object `physical`.
pub fn put(id: &str, physical: &str) -> JournalEntry {
    JournalEntry::Put {
        logical_id: id.into(),
        resource: Box::new(record(physical)),
    }
}
