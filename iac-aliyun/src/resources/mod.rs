//! The `ALIYUN::*` resource handlers the engine drives, and their typed property structs.
//!
//! Each handler turns a resource's evaluated properties (vendor property names, as in a ROS
//! template) into API calls through a [`Client`]. Handlers never sleep or loop: a create
//! that has to settle (an instance starting) answers `Pending`, and the engine polls,
//! many resources per call (`DescribeInstances` takes 100 ids). Every created object is
//! tagged `iac:stack` and `iac:logical-id`, so it can be found again; every create that the
//! API lets carry a `ClientToken` carries the engine's token, so a retried or resumed create
//! returns the object the first call made instead of a second one. Creates without a token
//! (`CreateMountTarget`, listeners, OSS buckets) first look for the object they would make.
//!
//! [`registry`] gives every handler of this crate, ready for `Engine::builder().registry(..)`.

mod ecs;
mod nas;
mod oss;
mod ros;
mod slb;
pub mod types;
mod vpc;

use std::sync::Arc;

use iac_core::provider::{HandlerError, Properties, Registry, ResourceHandler};
use serde_json::Value;

use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;

pub use ecs::{
    InstanceGroupHandler, InstanceHandler, SecurityGroupHandler, SecurityGroupIngressHandler,
};
pub use nas::{FileSystemHandler, MountTargetHandler};
pub use oss::BucketHandler;
pub use ros::{StackHandler, WaitConditionHandleHandler, WaitConditionHandler};
pub use slb::{BackendServerAttachmentHandler, ListenerHandler, LoadBalancerHandler};
pub use vpc::{VSwitchHandler, VpcHandler};

/// The tag naming the stack an object belongs to.
pub const STACK_TAG: &str = "iac:stack";
/// The tag naming the logical id an object was made for.
pub const LOGICAL_ID_TAG: &str = "iac:logical-id";

/// Every `ALIYUN::*` handler of this crate, calling through `client` (with its retries
/// turned off: the engine retries, backs off and adapts its rate to throttling itself).
pub fn registry(client: &Client) -> Registry {
    let client = &client.with_retry(crate::client::RetryPolicy::none());
    let mut registry = Registry::new();
    let handlers: Vec<Arc<dyn ResourceHandler>> = vec![
        Arc::new(VpcHandler::new(client.clone())),
        Arc::new(VSwitchHandler::new(client.clone())),
        Arc::new(SecurityGroupHandler::new(client.clone())),
        Arc::new(SecurityGroupIngressHandler::new(client.clone())),
        Arc::new(InstanceHandler::new(client.clone())),
        Arc::new(InstanceGroupHandler::new(client.clone())),
        Arc::new(LoadBalancerHandler::new(client.clone())),
        Arc::new(ListenerHandler::new(client.clone())),
        Arc::new(BackendServerAttachmentHandler::new(client.clone())),
        Arc::new(FileSystemHandler::new(client.clone())),
        Arc::new(MountTargetHandler::new(client.clone())),
        Arc::new(BucketHandler::new(client.clone())),
        Arc::new(StackHandler::new(client.clone())),
        Arc::new(WaitConditionHandleHandler::new(client.clone())),
        Arc::new(WaitConditionHandler::new(client.clone())),
    ];
    for handler in handlers {
        registry.register(handler);
    }
    registry
}

/// The rate-limit key of a product in the client's region (`ecs.cn-hangzhou`).
pub(crate) fn endpoint_key(client: &Client, product: Product) -> String {
    format!("{}.{}", product.prefix(), client.region())
}

/// The tags every created object carries.
pub(crate) fn tags(stack: &str, logical_id: &str) -> Vec<(String, String)> {
    vec![
        (STACK_TAG.to_owned(), stack.to_owned()),
        (LOGICAL_ID_TAG.to_owned(), logical_id.to_owned()),
    ]
}

/// A property as the wire wants it: strings as they are, numbers and booleans as text.
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
        Some(_) => text(props, name).ok_or_else(|| {
            HandlerError::invalid(format!("property {name} must be a string or a number"))
        }),
    }
}

/// A whole-number property (numbers or numeric strings, as ROS accepts both); an empty
/// string is no value, as for every optional property.
pub(crate) fn integer(props: &Properties, name: &str) -> Result<Option<i64>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
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

/// A boolean property (`true`, `"true"`, `"True"`); an empty string is no value.
pub(crate) fn boolean(props: &Properties, name: &str) -> Result<Option<bool>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be true or false, not {other}"
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

/// Adds optional properties to the parameters under the same names; an empty string is
/// left out, as ROS does for optional properties.
pub(crate) fn pass(mut params: Params, props: &Properties, names: &[&str]) -> Params {
    for name in names {
        if let Some(value) = text(props, name).filter(|v| !v.is_empty()) {
            params = params.with(*name, value);
        }
    }
    params
}

/// Whether a property differs between two property sets.
pub(crate) fn changed(old: &Properties, new: &Properties, name: &str) -> bool {
    old.get(name) != new.get(name)
}

/// Turns an API error into the handler's error, naming the action.
pub(crate) fn api(e: ApiError) -> HandlerError {
    HandlerError::from(e)
}

/// Deletes an object with one call that names it by `param`; an object that is gone
/// already is deleted.
pub(crate) async fn delete_call(
    client: &Client,
    product: Product,
    action: &str,
    param: &str,
    physical_id: &iac_core::provider::PhysicalId,
) -> Result<iac_core::provider::Deleted, HandlerError> {
    let params = Params::new().with(param, physical_id.as_str());
    match client.rpc(product, action, params).await {
        Ok(_) => Ok(iac_core::provider::Deleted::Done),
        Err(e) if e.is_not_found() => Ok(iac_core::provider::Deleted::Done),
        Err(e) => Err(api(e)),
    }
}

/// Builds attribute maps.
pub(crate) fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> iac_core::provider::Attributes {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What the handlers' unit tests share: a client aimed at a closed port (so a test that
/// reaches the network fails), property maps from JSON, and a create that must be refused.
#[cfg(test)]
pub(crate) mod test_support {
    use iac_core::provider::{
        ClientToken, CreateRequest, HandlerError, Properties, ResourceHandler,
    };
    use serde_json::Value;

    use crate::client::{Client, ClientConfig};
    use crate::sign::AccessKey;

    pub(crate) fn client() -> Client {
        Client::new(
            ClientConfig::new("cn-hangzhou", AccessKey::new("id", "secret"))
                .with_endpoint("http://127.0.0.1:9"),
        )
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

    fn props(value: Value) -> Properties {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn property_readers_name_the_property_that_is_wrong() {
        let p = props(
            json!({"Amount": "3", "Max": 4, "Bad": "x", "Flag": "True", "List": ["a", 1], "Empty": ""}),
        );
        assert_eq!(integer(&p, "Amount").unwrap(), Some(3));
        assert_eq!(integer(&p, "Max").unwrap(), Some(4));
        assert_eq!(integer(&p, "Absent").unwrap(), None);
        assert!(integer(&p, "Bad").unwrap_err().message.contains("Bad"));
        assert_eq!(boolean(&p, "Flag").unwrap(), Some(true));
        assert_eq!(boolean(&p, "Empty").unwrap(), None);
        assert_eq!(integer(&p, "Empty").unwrap(), None);
        assert!(
            string_list(&p, "List")
                .unwrap_err()
                .message
                .contains("List[1]")
        );
        assert!(
            required(&p, "Empty")
                .unwrap_err()
                .message
                .contains("Empty is required")
        );
        assert_eq!(required(&p, "Max").unwrap(), "4");
    }
}
