//! The `OS::*` resource handlers the engine drives, with Heat's property and attribute
//! names.
//!
//! Each handler turns a resource's evaluated properties (as in a HOT template) into API
//! calls through a [`Client`]. Handlers never sleep or loop: a create that has to settle (a
//! server building, a volume creating) answers `Pending`, and the engine polls; servers and
//! volumes are polled in batches (one list call for many ids). Properties that name another
//! object accept a name or an id, as Heat does (`network: private`); a name must match
//! exactly one object.
//!
//! OpenStack has no client tokens, so the engine's token is kept on the object: Neutron
//! objects get it as a tag (set right after the create: Neutron takes no tags in a POST),
//! servers as a Nova tag (its first 60 characters), volumes in their metadata
//! ([`CLIENT_TOKEN_KEY`]). A create sent again after a failure or a crash first looks for
//! that token and returns what the first call made. A security group rule is its own
//! identity: Neutron refuses a second one and names the first. A crash between a Neutron
//! create and its tagging can still leave a second object on resume; projects, images and
//! router interfaces (which Neutron refuses twice) carry no token.
//!
//! [`registry`] gives every handler of this crate.

mod cinder;
mod glance;
mod keystone;
mod neutron;
mod nova;

use std::sync::Arc;

use futures::TryStreamExt;
use iac_core::provider::{Attributes, HandlerError, Properties, Registry, ResourceHandler};
use serde_json::Value;

use crate::client::Client;
use crate::error::ApiError;

pub use cinder::{CLIENT_TOKEN_KEY, VolumeAttachmentHandler, VolumeHandler};
pub use glance::WebImageHandler;
pub use keystone::ProjectHandler;
pub use neutron::{NeutronHandler, NeutronKind};
pub use nova::ServerHandler;

/// Every `OS::*` handler of this crate, calling through `client`.
pub fn registry(client: &Client) -> Registry {
    let mut registry = Registry::new();
    let mut handlers: Vec<Arc<dyn ResourceHandler>> = NeutronKind::ALL
        .iter()
        .map(|kind| {
            Arc::new(NeutronHandler::new(client.clone(), *kind)) as Arc<dyn ResourceHandler>
        })
        .collect();
    handlers.extend([
        Arc::new(ServerHandler::new(client.clone())) as Arc<dyn ResourceHandler>,
        Arc::new(VolumeHandler::new(client.clone())),
        Arc::new(VolumeAttachmentHandler::new(client.clone())),
        Arc::new(WebImageHandler::new(client.clone())),
        Arc::new(ProjectHandler::new(client.clone())),
    ]);
    for handler in handlers {
        registry.register(handler);
    }
    registry
}

/// A property as text: strings as they are, numbers and booleans written out.
pub(crate) fn text(props: &Properties, name: &str) -> Option<String> {
    match props.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A property that must be there, as text; the error names it.
pub(crate) fn required(props: &Properties, name: &str) -> Result<String, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Err(HandlerError::invalid(format!(
            "property {name} is required"
        ))),
        Some(Value::String(s)) if s.is_empty() => Err(HandlerError::invalid(format!(
            "property {name} is required"
        ))),
        Some(_) => text(props, name)
            .ok_or_else(|| HandlerError::invalid(format!("property {name} must be a string"))),
    }
}

/// A boolean property (`true`, `"true"`, `"True"`, `"false"`).
pub(crate) fn boolean(props: &Properties, name: &str) -> Result<Option<bool>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be true or false, not {other}"
        ))),
    }
}

/// A whole-number property (numbers or numeric strings).
pub(crate) fn integer(props: &Properties, name: &str) -> Result<Option<i64>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            HandlerError::invalid(format!("property {name} must be a whole number, not {n}"))
        }),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            HandlerError::invalid(format!("property {name} must be a whole number, not {s:?}"))
        }),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be a whole number, not {other}"
        ))),
    }
}

/// A list-of-strings property; a single string is a list of one.
pub(crate) fn string_list(props: &Properties, name: &str) -> Result<Vec<String>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(HandlerError::invalid(format!(
                    "property {name}[{i}] must be a string, not {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be a list of strings, not {other}"
        ))),
    }
}

/// A map property (`value_specs`, `metadata`).
pub(crate) fn map(props: &Properties, name: &str) -> Result<Properties, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(Properties::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be a map, not {other}"
        ))),
    }
}

/// Turns an API error into the handler's error.
pub(crate) fn api(e: ApiError) -> HandlerError {
    HandlerError::from(e)
}

/// Whether a string is shaped like an OpenStack UUID (with or without dashes).
pub(crate) fn is_uuid(s: &str) -> bool {
    let hex: Vec<char> = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.iter().all(char::is_ascii_hexdigit) && (s.len() == 32 || s.len() == 36)
}

/// The id of the object a property names by name or id: an id is used as it is; a name
/// is looked up with `list` and must match exactly one object.
pub(crate) async fn resolve<F, S>(
    property: &str,
    value: &str,
    kind: &str,
    list: F,
) -> Result<String, HandlerError>
where
    F: FnOnce(&str) -> S,
    S: futures::Stream<Item = Result<Value, ApiError>>,
{
    if is_uuid(value) {
        return Ok(value.to_owned());
    }
    let found: Vec<Value> = list(value).try_collect().await.map_err(api)?;
    let ids: Vec<&str> = found
        .iter()
        .filter(|o| {
            o.get("name").and_then(Value::as_str) == Some(value)
                || o.get("id").and_then(Value::as_str) == Some(value)
        })
        .filter_map(|o| o.get("id").and_then(Value::as_str))
        .collect();
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(HandlerError::invalid(format!(
            "property {property}: no {kind} named '{value}'"
        ))),
        many => Err(HandlerError::invalid(format!(
            "property {property}: {} {kind}s are named '{value}' ({}); use an id",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// The readiness of an object read by id: `Gone` when the service says it does not exist.
pub(crate) fn found<T>(
    read: Result<T, ApiError>,
    readiness: impl FnOnce(T) -> iac_core::provider::Readiness,
) -> Result<iac_core::provider::Readiness, HandlerError> {
    match read {
        Ok(object) => Ok(readiness(object)),
        Err(e) if e.is_not_found() => Ok(iac_core::provider::Readiness::Gone),
        Err(e) => Err(api(e)),
    }
}

/// The readiness of many objects from one listing: the objects of `list` matched to the
/// targets by id; a target that is not listed is gone.
pub(crate) async fn poll_listed<T>(
    targets: &[iac_core::provider::PollTarget<'_>],
    list: futures::stream::BoxStream<'static, Result<T, ApiError>>,
    id: fn(&T) -> &str,
    readiness: fn(T) -> iac_core::provider::Readiness,
) -> Result<Vec<iac_core::provider::Readiness>, HandlerError> {
    let mut listed: std::collections::HashMap<String, T> = list
        .map_ok(|o| (id(&o).to_owned(), o))
        .try_collect()
        .await
        .map_err(api)?;
    Ok(targets
        .iter()
        .map(|t| {
            listed
                .remove(t.physical_id.as_str())
                .map_or(iac_core::provider::Readiness::Gone, readiness)
        })
        .collect())
}

/// Builds attribute maps.
pub(crate) fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attributes {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What the handlers' unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use iac_core::provider::{
        ClientToken, CreateRequest, HandlerError, Properties, ResourceHandler,
    };
    use serde_json::Value;

    use crate::client::Client;
    use crate::config::{AuthMethod, CloudConfig, Interface, Named, Scope};

    /// A client aimed at a closed port: a test that reaches the network fails.
    pub(crate) fn client() -> Client {
        Client::new(CloudConfig {
            auth_url: "http://127.0.0.1:9/v3".into(),
            auth: AuthMethod::Password {
                user: Named::Id("u".into()),
                password: "p".into(),
                scope: Scope::Unscoped,
            },
            region: None,
            interface: Interface::Public,
            origin: "test".into(),
        })
        .expect("a client")
    }

    pub(crate) fn props(value: Value) -> Properties {
        value.as_object().cloned().expect("an object")
    }

    pub(crate) async fn create_error(
        handler: &dyn ResourceHandler,
        properties: Value,
    ) -> HandlerError {
        let properties = std::sync::Arc::new(props(properties));
        let token = ClientToken::derive("s", "L", 1);
        let request = CreateRequest {
            stack: "s",
            logical_id: "L",
            properties: &properties,
            client_token: &token,
        };
        handler
            .create(request)
            .await
            .expect_err("the properties are refused")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_readers_name_the_property_that_is_wrong() {
        let p = test_support::props(
            json!({"size": "3", "n": 4, "bad": "x", "flag": "True", "list": ["a", 1], "empty": ""}),
        );
        assert_eq!(integer(&p, "size").unwrap(), Some(3));
        assert!(integer(&p, "bad").unwrap_err().message.contains("bad"));
        assert_eq!(boolean(&p, "flag").unwrap(), Some(true));
        assert!(
            string_list(&p, "list")
                .unwrap_err()
                .message
                .contains("list[1]")
        );
        assert!(
            required(&p, "empty")
                .unwrap_err()
                .message
                .contains("empty is required")
        );
        assert!(
            map(&p, "n")
                .unwrap_err()
                .message
                .contains("property n must be a map")
        );
        assert!(is_uuid("0b6a2bd4-0d7f-4c57-9f1e-0f3f1c2b7a10"));
        assert!(is_uuid("0b6a2bd40d7f4c579f1e0f3f1c2b7a10"));
        assert!(!is_uuid("private"));
    }

    #[test]
    fn the_registry_serves_every_heat_type() {
        let r = registry(&test_support::client());
        for t in [
            "OS::Neutron::Net",
            "OS::Neutron::Subnet",
            "OS::Neutron::Router",
            "OS::Neutron::RouterInterface",
            "OS::Neutron::Port",
            "OS::Neutron::SecurityGroup",
            "OS::Neutron::SecurityGroupRule",
            "OS::Neutron::FloatingIP",
            "OS::Nova::Server",
            "OS::Cinder::Volume",
            "OS::Cinder::VolumeAttachment",
            "OS::Glance::WebImage",
            "OS::Keystone::Project",
        ] {
            assert!(r.contains(t), "{t}");
        }
    }
}
