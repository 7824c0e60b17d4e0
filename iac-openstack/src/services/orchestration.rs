//! Heat (`orchestration`, API v1): stacks, their resources and events, for deploying a
//! template through Heat itself.

use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Fields, Wait, wait_until};
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// A stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// Its id.
    pub id: String,
    /// Its name.
    pub stack_name: String,
    /// `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `CREATE_FAILED`, ...
    #[serde(default)]
    pub stack_status: String,
    /// Why it has that status.
    #[serde(default)]
    pub stack_status_reason: Option<String>,
    /// Its outputs (`output_key`, `output_value`), when read one by one.
    #[serde(default)]
    pub outputs: Vec<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A stack event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackEvent {
    /// Its id.
    pub id: String,
    /// The resource's logical id.
    #[serde(default)]
    pub resource_name: String,
    /// The resource's physical id.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// `CREATE_IN_PROGRESS`, ...
    #[serde(default)]
    pub resource_status: String,
    /// Why.
    #[serde(default)]
    pub resource_status_reason: Option<String>,
    /// When.
    #[serde(default)]
    pub event_time: String,
}

/// A resource of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackResource {
    /// The logical id.
    pub resource_name: String,
    /// The physical id.
    #[serde(default)]
    pub physical_resource_id: String,
    /// The type (`OS::Neutron::Net`).
    pub resource_type: String,
    /// Its status.
    #[serde(default)]
    pub resource_status: String,
}

/// The orchestration service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct OrchestrationApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The orchestration service (Heat).
    pub fn orchestration(&self) -> OrchestrationApi<'_> {
        OrchestrationApi { client: self }
    }
}

impl OrchestrationApi<'_> {
    /// Validates a template (a YAML string or a JSON value) with its parameters.
    pub async fn validate_template(
        &self,
        template: Value,
        parameters: Fields,
    ) -> Result<Value, ApiError> {
        let body = json!({ "template": template, "parameters": parameters });
        self.client
            .call(
                Service::Orchestration,
                Method::POST,
                "/validate",
                Body::Json(body),
                None,
            )
            .await
    }

    /// Creates a stack; returns its id. It is `CREATE_IN_PROGRESS` at first.
    pub async fn create_stack(
        &self,
        name: &str,
        template: Value,
        parameters: Fields,
    ) -> Result<String, ApiError> {
        let body = json!({ "stack_name": name, "template": template, "parameters": parameters, "disable_rollback": true });
        let created: super::NewId = self
            .client
            .call(
                Service::Orchestration,
                Method::POST,
                "/stacks",
                Body::Json(body),
                Some("stack"),
            )
            .await?;
        Ok(created.id)
    }

    /// Reads a stack by `name/id`, or by name or id alone (Heat redirects).
    pub async fn get_stack(&self, name_or_id: &str) -> Result<Stack, ApiError> {
        self.client
            .call(
                Service::Orchestration,
                Method::GET,
                &format!("/stacks/{name_or_id}"),
                Body::Empty,
                Some("stack"),
            )
            .await
    }

    /// Lists stacks, page by page.
    pub fn list_stacks(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Stack, ApiError>> {
        self.client
            .list(Service::Orchestration, "/stacks", "stacks", query)
    }

    /// Lists the resources of a stack (`name/id`).
    pub fn list_stack_resources(
        &self,
        stack: &str,
    ) -> BoxStream<'static, Result<StackResource, ApiError>> {
        self.client.list(
            Service::Orchestration,
            &format!("/stacks/{stack}/resources"),
            "resources",
            &[],
        )
    }

    /// Lists the events of a stack (`name/id`), oldest first.
    pub fn list_stack_events(
        &self,
        stack: &str,
    ) -> BoxStream<'static, Result<StackEvent, ApiError>> {
        self.client.list(
            Service::Orchestration,
            &format!("/stacks/{stack}/events"),
            "events",
            &[("sort_dir", "asc")],
        )
    }

    /// Deletes a stack (`name/id`); one already gone is deleted.
    pub async fn delete_stack(&self, stack: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Orchestration, &format!("/stacks/{stack}"))
            .await
    }

    /// Waits until the stack's status is no longer `*_IN_PROGRESS` and returns it.
    pub async fn wait_stack(&self, stack: &str, wait: Wait) -> Result<Stack, ApiError> {
        wait_until(wait, &format!("stack {stack} settled"), || async {
            let s = self.get_stack(stack).await?;
            if s.stack_status.ends_with("_IN_PROGRESS") {
                Ok(Err(s.stack_status))
            } else {
                Ok(Ok(s))
            }
        })
        .await
    }
}
