//! Deploying through the ROS service: `CreateStack`, `UpdateStack`, `DeleteStack`,
//! `GetStack`, `ListStacks` and `ListStackEvents`, and [`Deployer`], the one interface the
//! local engine and [`RosDeployer`] share, so that a program switches between "run locally"
//! and "run in ROS" with one line.
//!
//! [`RosDeployer::apply`] creates the stack (or updates it when one of that name exists),
//! then follows it: it reads the events page by page as they appear, hands each one on as an
//! `iac_core` [`Event`] (the stack's own events carry [`STACK_TYPE`], as the engine's do),
//! and when the stack is stable reads its outputs from `GetStack` into the same [`Report`]
//! the engine returns.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use iac_core::engine::{
    Engine, EngineError, Event, Report, ResourceFailure, ResourceSummary, RunOptions, STACK_TYPE,
    StackInput, Status,
};
use iac_core::model::Template;
use iac_core::provider::{ErrorKind, PhysicalId};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;

/// The type ROS gives a stack's own events.
const ROS_STACK_TYPE: &str = "ALIYUN::ROS::Stack";

/// Why a deployment did not complete.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeployError {
    /// The local engine failed (its error carries the report when resources failed).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A ROS call failed (the template refused by validation, a throttled call that ran out
    /// of retries, ...).
    #[error("ROS {0}")]
    Api(#[from] ApiError),
    /// The template could not be written for ROS.
    #[error("the template cannot be sent to ROS: {0}")]
    Template(String),
    /// The ROS stack ended in a failed status; the report says which resources failed.
    #[error("stack '{}' {}: {reason}", .report.stack, .ros_status)]
    Failed {
        /// The report built from the stack's events.
        report: Box<Report>,
        /// The stack's ROS status (`CREATE_FAILED`, `CREATE_ROLLBACK_COMPLETE`, ...).
        ros_status: String,
        /// The stack's `StatusReason`.
        reason: String,
    },
    /// Following the stack was cancelled; the ROS operation goes on in the cloud.
    #[error("stack '{}': stopped following it (the ROS operation goes on)", .0.stack)]
    Cancelled(Box<Report>),
}

impl DeployError {
    /// The report of a failed or cancelled deployment.
    pub fn report(&self) -> Option<&Report> {
        match self {
            DeployError::Engine(e) => e.report(),
            DeployError::Failed { report, .. } | DeployError::Cancelled(report) => Some(report),
            DeployError::Api(_) | DeployError::Template(_) => None,
        }
    }

    /// The kind of failure, as the engine classifies its own.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeployError::Engine(e) => e.kind(),
            DeployError::Api(e) => e.kind(),
            DeployError::Template(_) => ErrorKind::Invalid,
            DeployError::Failed { .. } => ErrorKind::Permanent,
            DeployError::Cancelled(_) => ErrorKind::Transient,
        }
    }
}

/// What deploys a stack: the local [`Engine`] or the ROS service ([`RosDeployer`]).
#[async_trait]
pub trait Deployer: Send + Sync {
    /// Creates or updates the stack to match `input`; events go to `options.events`.
    async fn apply(&self, input: &StackInput, options: RunOptions) -> Result<Report, DeployError>;
    /// Deletes the stack and everything it made.
    async fn destroy(&self, stack: &str, options: RunOptions) -> Result<Report, DeployError>;
}

#[async_trait]
impl Deployer for Engine {
    async fn apply(&self, input: &StackInput, options: RunOptions) -> Result<Report, DeployError> {
        Ok(Engine::apply(self, input, options).await?)
    }

    async fn destroy(&self, stack: &str, options: RunOptions) -> Result<Report, DeployError> {
        Ok(Engine::destroy(self, stack, options).await?)
    }
}

/// Where `CreateStack` and `UpdateStack` take the template from.
#[derive(Debug, Clone, Copy)]
pub enum TemplateSource<'a> {
    /// Sent as `TemplateBody` (JSON).
    Body(&'a Template),
    /// Sent as `TemplateURL`: `http(s)://…` or `oss://bucket/key`.
    Url(&'a str),
}

/// A stack as `GetStack` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RosStackStatus {
    /// `StackId`.
    pub id: String,
    /// `StackName`.
    pub name: String,
    /// `Status`: `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, ...
    pub status: String,
    /// `StatusReason`.
    pub reason: String,
    /// `Outputs`, by key.
    pub outputs: IndexMap<String, Value>,
    /// `Parameters` (secret ones as ROS shows them: `****`), pseudo parameters included.
    pub parameters: IndexMap<String, Value>,
}

impl RosStackStatus {
    /// True while an operation runs (`*_IN_PROGRESS`).
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }

    /// True when the last operation ended well (`CREATE_COMPLETE`, `UPDATE_COMPLETE`, ...;
    /// not a rollback).
    pub fn succeeded(&self) -> bool {
        self.status.ends_with("_COMPLETE") && !self.status.contains("ROLLBACK")
    }
}

/// A page of `ListStackEvents`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events of the page, each with its `EventId`.
    pub events: Vec<(String, Event)>,
    /// Events in all pages.
    pub total: usize,
}

/// Deploys stacks through the ROS service with one client (see the module docs).
#[derive(Debug, Clone)]
pub struct RosDeployer {
    client: Client,
    poll_interval: Duration,
    page_size: u32,
    disable_rollback: bool,
    timeout_minutes: Option<u32>,
    template_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEvent {
    event_id: String,
    create_time: String,
    logical_resource_id: String,
    #[serde(default)]
    physical_resource_id: Option<String>,
    resource_type: String,
    status: String,
    #[serde(default)]
    status_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEvents {
    #[serde(default)]
    events: Vec<RawEvent>,
    #[serde(default)]
    total_count: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawKeyValue {
    #[serde(alias = "ParameterKey")]
    output_key: String,
    #[serde(default, alias = "ParameterValue")]
    output_value: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawStack {
    stack_id: String,
    #[serde(default)]
    stack_name: String,
    status: String,
    #[serde(default)]
    status_reason: Option<String>,
    #[serde(default)]
    outputs: Vec<RawKeyValue>,
    #[serde(default)]
    parameters: Vec<RawKeyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawStacks {
    #[serde(default)]
    stacks: Vec<RawStack>,
}

impl RosDeployer {
    /// A deployer calling ROS through `client`, polling every 2 s, rollback on failure,
    /// ROS's default timeout.
    pub fn new(client: &Client) -> Self {
        RosDeployer {
            client: client.clone(),
            poll_interval: Duration::from_secs(2),
            page_size: 50,
            disable_rollback: false,
            timeout_minutes: None,
            template_url: None,
        }
    }

    /// How often the stack and its events are read while an operation runs.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// `ListStackEvents` page size (1 to 50).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, 50);
        self
    }

    /// `DisableRollback`: a failed create leaves what it made.
    pub fn with_disable_rollback(mut self, disable: bool) -> Self {
        self.disable_rollback = disable;
        self
    }

    /// `TimeoutInMinutes` (10 to 1440).
    pub fn with_timeout_minutes(mut self, minutes: u32) -> Self {
        self.timeout_minutes = Some(minutes);
        self
    }

    /// Sends `TemplateURL` instead of the input's template in [`Deployer::apply`]: the
    /// template shared at that URL is deployed.
    pub fn with_template_url(mut self, url: impl Into<String>) -> Self {
        self.template_url = Some(url.into());
        self
    }

    fn stack_params(
        &self,
        mut params: Params,
        source: TemplateSource<'_>,
        parameters: &IndexMap<String, Value>,
    ) -> Result<Params, DeployError> {
        params = match source {
            TemplateSource::Body(template) => {
                let body = ros_body(template)?;
                params.with("TemplateBody", body)
            }
            TemplateSource::Url(url) => params.with("TemplateURL", url),
        };
        for (n, (key, value)) in parameters.iter().enumerate() {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params = params
                .with(format!("Parameters.{}.ParameterKey", n + 1), key.clone())
                .with(format!("Parameters.{}.ParameterValue", n + 1), text);
        }
        params = params.with("DisableRollback", self.disable_rollback.to_string());
        if let Some(minutes) = self.timeout_minutes {
            params = params.with("TimeoutInMinutes", minutes.to_string());
        }
        Ok(params)
    }

    /// `CreateStack`; returns the stack id. A `client_token` makes a retried create return
    /// the first one's stack.
    pub async fn create_stack(
        &self,
        name: &str,
        source: TemplateSource<'_>,
        parameters: &IndexMap<String, Value>,
        client_token: Option<&str>,
    ) -> Result<String, DeployError> {
        let params = self
            .stack_params(Params::new().with("StackName", name), source, parameters)?
            .with_opt("ClientToken", client_token);
        let answer = self.client.rpc(Product::Ros, "CreateStack", params).await?;
        stack_id_of(&answer, "CreateStack")
    }

    /// `UpdateStack`: the new template and parameter values (those not given keep theirs).
    pub async fn update_stack(
        &self,
        stack_id: &str,
        source: TemplateSource<'_>,
        parameters: &IndexMap<String, Value>,
    ) -> Result<(), DeployError> {
        let params =
            self.stack_params(Params::new().with("StackId", stack_id), source, parameters)?;
        self.client.rpc(Product::Ros, "UpdateStack", params).await?;
        Ok(())
    }

    /// `DeleteStack`.
    pub async fn delete_stack(&self, stack_id: &str) -> Result<(), DeployError> {
        let params = Params::new().with("StackId", stack_id);
        self.client.rpc(Product::Ros, "DeleteStack", params).await?;
        Ok(())
    }

    /// `GetStack`.
    pub async fn get_stack(&self, stack_id: &str) -> Result<RosStackStatus, DeployError> {
        let params = Params::new().with("StackId", stack_id);
        let raw: RawStack = self.client.call(Product::Ros, "GetStack", params).await?;
        let pairs = |items: Vec<RawKeyValue>| {
            items
                .into_iter()
                .map(|kv| (kv.output_key, kv.output_value))
                .collect()
        };
        Ok(RosStackStatus {
            id: raw.stack_id,
            name: raw.stack_name,
            status: raw.status,
            reason: raw.status_reason.unwrap_or_default(),
            outputs: pairs(raw.outputs),
            parameters: pairs(raw.parameters),
        })
    }

    /// The id of the live stack named `name` (`ListStacks`), if there is one.
    pub async fn find_stack(&self, name: &str) -> Result<Option<String>, DeployError> {
        let params = Params::new().with("StackName.1", name);
        let raw: RawStacks = self.client.call(Product::Ros, "ListStacks", params).await?;
        Ok(raw
            .stacks
            .into_iter()
            .find(|s| s.stack_name == name)
            .map(|s| s.stack_id))
    }

    /// One page of `ListStackEvents` (pages count from 1), as `iac_core` events of stack
    /// `stack_name`.
    pub async fn list_stack_events(
        &self,
        stack_id: &str,
        stack_name: &str,
        page_number: usize,
    ) -> Result<EventPage, DeployError> {
        let params = Params::new()
            .with("StackId", stack_id)
            .with("PageNumber", page_number.to_string())
            .with("PageSize", self.page_size.to_string());
        let raw: RawEvents = self
            .client
            .call(Product::Ros, "ListStackEvents", params)
            .await?;
        let stack: Arc<str> = Arc::from(stack_name);
        let events = raw
            .events
            .into_iter()
            .filter_map(|e| {
                let id = e.event_id.clone();
                to_event(e, &stack).map(|event| (id, event))
            })
            .collect();
        Ok(EventPage {
            events,
            total: raw.total_count,
        })
    }

    /// Reads every page of the stack's events: the ids of those there, and the events not
    /// in `seen` (which gets their ids), oldest first. The listing's order does not matter.
    async fn read_events(
        &self,
        stack_id: &str,
        stack_name: &str,
        seen: &mut HashSet<String>,
    ) -> Result<Vec<Event>, DeployError> {
        let size = self.page_size as usize;
        let mut fresh = Vec::new();
        let mut page = 1;
        loop {
            let found = self.list_stack_events(stack_id, stack_name, page).await?;
            let in_page = found.events.len();
            fresh.extend(
                found
                    .events
                    .into_iter()
                    .filter(|(id, _)| seen.insert(id.clone()))
                    .map(|(_, e)| e),
            );
            if in_page < size || page * size >= found.total {
                break;
            }
            page += 1;
        }
        // A stable sort: events of the same second keep the listing's order.
        fresh.sort_by_key(|e| e.time);
        Ok(fresh)
    }

    /// The ids of the events the stack has now: the next operation's events are the others.
    pub async fn event_ids(&self, stack_id: &str) -> Result<HashSet<String>, DeployError> {
        let mut seen = HashSet::new();
        self.read_events(stack_id, "", &mut seen).await?;
        Ok(seen)
    }

    /// Follows a stack until no operation runs: events whose ids are not in `seen` (see
    /// [`RosDeployer::event_ids`]) go to `options.events` as they appear, oldest first.
    /// Returns the final status (`None` once the stack is deleted) and every event seen.
    pub async fn watch(
        &self,
        stack_id: &str,
        stack_name: &str,
        mut seen: HashSet<String>,
        options: &RunOptions,
    ) -> Result<(Option<RosStackStatus>, Vec<Event>), DeployError> {
        let mut all: Vec<Event> = Vec::new();
        loop {
            let status = match self.get_stack(stack_id).await {
                Ok(status) => Some(status),
                Err(DeployError::Api(e)) if e.code == "StackNotFound" => None,
                Err(e) => return Err(e),
            };
            // Read the events after the status, so that a stable status has all of its
            // events behind it.
            let fresh = match self.read_events(stack_id, stack_name, &mut seen).await {
                Ok(fresh) => fresh,
                // A deleted stack's events may be gone with it.
                Err(DeployError::Api(e)) if status.is_none() && e.code == "StackNotFound" => {
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            for event in fresh {
                if let Some(tx) = &options.events {
                    let _ = tx.send(event.clone());
                }
                all.push(event);
            }
            match &status {
                Some(s) if s.in_progress() => {}
                _ => return Ok((status, all)),
            }
            if options.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                let report = report_of(stack_name, Status::CreateInProgress, &all, None);
                return Err(DeployError::Cancelled(Box::new(report)));
            }
            match &options.cancel {
                Some(cancel) => {
                    tokio::select! {
                        () = tokio::time::sleep(self.poll_interval) => {}
                        () = cancel.cancelled() => {}
                    }
                }
                None => tokio::time::sleep(self.poll_interval).await,
            }
        }
    }
}

fn stack_id_of(answer: &Value, action: &str) -> Result<String, DeployError> {
    answer["StackId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            DeployError::Api(ApiError::transport(
                Some(action),
                format!("{action} answered without a StackId"),
            ))
        })
}

/// A ROS time: `2019-08-01T04:07:39` (UTC, no zone; fractions allowed) or RFC 3339.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

/// A ROS status as the engine names it; ROS-only stack statuses map to the nearest.
fn status_of(text: &str) -> Option<Status> {
    if let Ok(status) = serde_json::from_value::<Status>(Value::from(text)) {
        return Some(status);
    }
    Some(match text {
        "CREATE_ROLLBACK_IN_PROGRESS" => Status::RollbackInProgress,
        "CREATE_ROLLBACK_COMPLETE" => Status::RollbackComplete,
        "CREATE_ROLLBACK_FAILED" => Status::RollbackFailed,
        "UPDATE_SKIPPED" => Status::UpdateComplete,
        _ => return None,
    })
}

/// A ROS event as an `iac_core` event; events of statuses the engine has no name for
/// (`CHECK_*`, `IMPORT_*`) are left out.
fn to_event(raw: RawEvent, stack: &Arc<str>) -> Option<Event> {
    let status = status_of(&raw.status)?;
    let is_stack = raw.resource_type == ROS_STACK_TYPE && *raw.logical_resource_id == **stack;
    Some(Event {
        time: parse_time(&raw.create_time).unwrap_or_else(Utc::now),
        stack: Arc::clone(stack),
        logical_id: Arc::from(raw.logical_resource_id),
        type_name: Arc::from(if is_stack {
            STACK_TYPE
        } else {
            raw.resource_type.as_str()
        }),
        physical_id: if is_stack {
            None
        } else {
            raw.physical_resource_id.filter(|p| !p.is_empty())
        },
        status,
        reason: raw.status_reason.filter(|r| !r.is_empty()),
    })
}

/// The report of an operation from its events: each resource's last status, the failed
/// and the skipped ones.
fn report_of(
    stack: &str,
    status: Status,
    events: &[Event],
    outputs: Option<IndexMap<String, Value>>,
) -> Report {
    let mut last: IndexMap<&str, &Event> = IndexMap::new();
    for event in events.iter().filter(|e| !e.is_stack_event()) {
        last.insert(&event.logical_id, event);
    }
    let resources = last
        .values()
        .map(|e| ResourceSummary {
            logical_id: e.logical_id.to_string(),
            type_name: e.type_name.to_string(),
            physical_id: e.physical_id.clone().map(PhysicalId::from),
            status: e.status,
        })
        .collect();
    let failures = events
        .iter()
        .filter(|e| !e.is_stack_event() && e.status.is_failure())
        .map(|e| ResourceFailure {
            logical_id: e.logical_id.to_string(),
            status: e.status,
            message: e.reason.clone().unwrap_or_default(),
        })
        .collect();
    let skipped = last
        .values()
        .filter(|e| e.status == Status::CreateSkipped)
        .map(|e| e.logical_id.to_string())
        .collect();
    Report {
        stack: stack.to_owned(),
        status,
        outputs: outputs.unwrap_or_default(),
        output_errors: IndexMap::new(),
        resources,
        failures,
        skipped,
        left_behind: Vec::new(),
        // ROS has no Snapshot deletion policy (such templates are refused before a call).
        snapshots: Vec::new(),
        cancelled: false,
    }
}

#[async_trait]
impl Deployer for RosDeployer {
    async fn apply(&self, input: &StackInput, options: RunOptions) -> Result<Report, DeployError> {
        let source = match &self.template_url {
            Some(url) => TemplateSource::Url(url),
            None => TemplateSource::Body(&input.template),
        };
        let (stack_id, updating, before) = match self.find_stack(&input.name).await? {
            Some(id) => {
                let before = self.event_ids(&id).await?;
                self.update_stack(&id, source, &input.parameters).await?;
                (id, true, before)
            }
            None => {
                let token = client_token(&input.name);
                let id = self
                    .create_stack(&input.name, source, &input.parameters, Some(&token))
                    .await?;
                (id, false, HashSet::new())
            }
        };
        let (status, events) = self.watch(&stack_id, &input.name, before, &options).await?;
        let status = status.ok_or_else(|| {
            DeployError::Api(ApiError::transport(
                Some("GetStack"),
                format!("stack '{}' disappeared while it was deployed", input.name),
            ))
        })?;
        let done = if updating {
            Status::UpdateComplete
        } else {
            Status::CreateComplete
        };
        let engine_status = status_of(&status.status).unwrap_or(done);
        if status.succeeded() {
            let outputs = Some(status.outputs);
            Ok(report_of(&input.name, engine_status, &events, outputs))
        } else {
            Err(DeployError::Failed {
                report: Box::new(report_of(&input.name, engine_status, &events, None)),
                ros_status: status.status,
                reason: status.reason,
            })
        }
    }

    async fn destroy(&self, stack: &str, options: RunOptions) -> Result<Report, DeployError> {
        let stack_id = self
            .find_stack(stack)
            .await?
            .ok_or_else(|| DeployError::Engine(EngineError::UnknownStack(stack.to_owned())))?;
        let before = self.event_ids(&stack_id).await?;
        self.delete_stack(&stack_id).await?;
        let (status, events) = self.watch(&stack_id, stack, before, &options).await?;
        match status {
            None => Ok(report_of(stack, Status::DeleteComplete, &events, None)),
            Some(s) if s.status == "DELETE_COMPLETE" => {
                Ok(report_of(stack, Status::DeleteComplete, &events, None))
            }
            Some(s) => Err(DeployError::Failed {
                report: Box::new(report_of(stack, Status::DeleteFailed, &events, None)),
                ros_status: s.status,
                reason: s.reason,
            }),
        }
    }
}

/// A `ClientToken` for creating stack `name` now: a retried call (the client keeps the
/// token across its retries) finds the stack the first one made.
fn client_token(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(name.as_bytes());
    hash.update(Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
    hex::encode(&hash.finalize()[..16])
}

/// The template as ROS JSON. A parameter with several `AllowedPattern`s (HOT has them;
/// ROS takes one text) or a pattern with its own description is refused, naming the
/// parameter: sending it would drop a constraint ROS cannot hold.
fn ros_body(template: &Template) -> Result<String, DeployError> {
    // What ROS has no equivalent for (Heat's Snapshot policy, an adopted object, several
    // patterns for one parameter) is refused here, naming where it is, rather than sent.
    if let Some((path, message)) = iac_core::loader::ros_incompatibility(template) {
        return Err(DeployError::Template(format!("{path}: {message}")));
    }
    for (name, decl) in &template.parameters {
        let problem = match decl.allowed_patterns.as_slice() {
            [] => continue,
            [only] if only.description.is_none() => continue,
            [_] => "its pattern has a description of its own, which ROS cannot carry (use \
                    ConstraintDescription)"
                .to_owned(),
            many => format!(
                "it has {} patterns that must all match, and ROS takes one AllowedPattern text",
                many.len()
            ),
        };
        return Err(DeployError::Template(format!(
            "Parameters.{name}.AllowedPattern: {problem}"
        )));
    }
    serde_json::to_string(template).map_err(|e| DeployError::Template(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_allowed_patterns_are_refused_not_dropped() {
        use iac_core::model::{AllowedPattern, ParamType, ParameterDecl};
        let mut template = Template::default();
        let mut decl = ParameterDecl::new(ParamType::String);
        decl.allowed_patterns = vec![AllowedPattern::new("[a-z]+")];
        template.parameters.insert("Name".into(), decl.clone());
        let body = ros_body(&template).unwrap();
        assert!(body.contains(r#""AllowedPattern":"[a-z]+""#), "{body}");

        decl.allowed_patterns.push(AllowedPattern::new("[a-c].*"));
        template.parameters.insert("Pass".into(), decl.clone());
        assert_eq!(
            ros_body(&template).unwrap_err().to_string(),
            "the template cannot be sent to ROS: Parameters.Pass.AllowedPattern: it has 2 \
             patterns that must all match, and ROS takes one AllowedPattern text"
        );
        decl.allowed_patterns = vec![AllowedPattern::new("x").with_description("an x")];
        template.parameters.insert("Pass".into(), decl);
        assert!(
            ros_body(&template)
                .unwrap_err()
                .to_string()
                .contains("Parameters.Pass.AllowedPattern: its pattern has a description")
        );
    }

    #[test]
    fn ros_times_and_statuses_are_read() {
        let t = parse_time("2019-08-01T04:07:39").unwrap();
        assert_eq!(t.to_rfc3339(), "2019-08-01T04:07:39+00:00");
        assert!(parse_time("2019-08-01T04:07:39.250").unwrap() > t);
        assert_eq!(parse_time("2019-08-01T04:07:39Z"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(status_of("CREATE_COMPLETE"), Some(Status::CreateComplete));
        assert_eq!(
            status_of("CREATE_ROLLBACK_COMPLETE"),
            Some(Status::RollbackComplete)
        );
        assert_eq!(status_of("CHECK_COMPLETE"), None);
    }

    #[test]
    fn the_stack_own_events_are_told_from_a_nested_stack() {
        let stack: Arc<str> = Arc::from("app");
        let raw = |id: &str, kind: &str| RawEvent {
            event_id: "e".into(),
            create_time: "2019-08-01T04:07:39".into(),
            logical_resource_id: id.into(),
            physical_resource_id: Some("4a6c9851-3b0f-4f5f-b4ca-a14bf691****".into()),
            resource_type: kind.into(),
            status: "CREATE_COMPLETE".into(),
            status_reason: Some(String::new()),
        };
        let own = to_event(raw("app", ROS_STACK_TYPE), &stack).unwrap();
        assert!(own.is_stack_event());
        assert_eq!((own.physical_id, own.reason), (None, None));
        let nested = to_event(raw("Network", ROS_STACK_TYPE), &stack).unwrap();
        assert!(!nested.is_stack_event());
        assert!(nested.physical_id.is_some());
        let mut check = raw("Vm", "ALIYUN::ECS::Instance");
        check.status = "CHECK_COMPLETE".into();
        assert!(to_event(check, &stack).is_none());
    }
}
