//! ROS (`2019-09-10`): stacks run by our own engine against the simulator's inventory.
//!
//! `CreateStack` and `UpdateStack` check the template the way [`crate::ros::check`] does
//! (an invalid one is refused at once with `StackValidationFailed`, as ROS does), then run
//! it with the crate's handlers through a client aimed at the simulator itself; the engine's
//! events become the stack's events and its report the stack's status and outputs.
//! `DeleteStack` runs the engine's destroy. Stacks are kept in memory only (not in the
//! [`super::SimConfig::persist`] file).
//!
//! Choices where the reference leaves a gap: `ListStackEvents` lists events oldest first;
//! a deleted stack leaves `ListStacks` and `GetStack` (`StackNotFound`) but its events stay
//! readable by id; `DisableRollback=true` leaves a failed stack as it is (the engine's
//! `Stop` policy), otherwise failures roll back (`CREATE_ROLLBACK_COMPLETE`);
//! `TimeoutInMinutes` cancels the run when it is over and the stack is `CREATE_FAILED`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use iac_core::engine::{
    Engine, EngineError, EngineOptions, Event, FailurePolicy, Report, RunOptions, STACK_TYPE,
    StackInput, Status, events,
};
use iac_core::model::Template;
use iac_core::state::MemoryStateStore;
use indexmap::IndexMap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::params::{CloudError, Params, Res, new_request_id};
use crate::client::{Client, ClientConfig};
use crate::resources::registry;
use crate::ros::{self, pseudo_parameters, with_stack_id};
use crate::sign::AccessKey;

/// The API version.
pub(crate) const VERSION: &str = "2019-09-10";

/// The type ROS gives a stack's own events.
pub(crate) const ROS_STACK_TYPE: &str = "ALIYUN::ROS::Stack";

/// The account id the simulator reports (`ALIYUN::AccountId`).
pub(crate) const ACCOUNT_ID: &str = "1234567890123456";

/// The ROS service: its stacks, and how it reaches the simulator it runs in.
#[derive(Default)]
pub(crate) struct RosService {
    stacks: Mutex<Stacks>,
    waits: Mutex<Waits>,
    /// Set once the simulator listens: a client to itself, for the handlers.
    client: OnceLock<Client>,
    /// `http://127.0.0.1:PORT`, for wait condition handle URLs.
    endpoint: OnceLock<String>,
    store: Arc<MemoryStateStore>,
}

#[derive(Default)]
struct Stacks {
    by_id: IndexMap<String, StackRecord>,
    /// `ClientToken` → stack id, for `CreateStack` replays.
    tokens: HashMap<String, String>,
}

struct StackRecord {
    id: String,
    name: String,
    status: String,
    reason: String,
    template: Template,
    parameters: IndexMap<String, Value>,
    disable_rollback: bool,
    timeout_minutes: u64,
    outputs: IndexMap<String, Value>,
    created: DateTime<Utc>,
    updated: Option<DateTime<Utc>>,
    deleted: bool,
    events: Vec<(String, Event)>,
}

impl RosService {
    /// Aims the service at the simulator's own endpoint.
    pub(crate) fn connect(&self, endpoint: &str, region: &str, key: AccessKey) {
        let config = ClientConfig::new(region, key).with_endpoint(endpoint);
        if let Ok(client) = Client::new(config) {
            let _ = self.client.set(client);
        }
        let _ = self.endpoint.set(endpoint.to_owned());
    }

    fn waits(&self) -> MutexGuard<'_, Waits> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Stacks> {
        self.stacks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> Res<Client> {
        self.client.get().cloned().ok_or_else(|| {
            CloudError::new(503, "ServiceUnavailable", "The ROS service is not ready.")
        })
    }
}

/// Performs a ROS action.
pub(crate) async fn call(service: &Arc<RosService>, action: &str, params: &Params) -> Res<Value> {
    match action {
        "CreateStack" => create_stack(service, params).await,
        "UpdateStack" => update_stack(service, params).await,
        "DeleteStack" => delete_stack(service, params),
        "GetStack" => get_stack(service, params),
        "ListStacks" => list_stacks(service, params),
        "ListStackEvents" => list_stack_events(service, params),
        "CreateWaitConditionHandle" => create_handle(service, params),
        "DeleteWaitConditionHandle" => delete_handle(service, params),
        "GetWaitConditionHandle" => get_handle(service, params),
        "CreateWaitCondition" => create_wait(service, params),
        "GetWaitCondition" => get_wait(service, params),
        "DeleteWaitCondition" => delete_wait(service, params),
        _ => Err(CloudError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api \"{action}\" is not found for version \"{VERSION}\"."),
        )),
    }
}

fn stack_not_found(id: &str) -> CloudError {
    CloudError::new(
        404,
        "StackNotFound",
        format!("The Stack ({id}) could not be found."),
    )
}

/// The template of a create or update: `TemplateBody` or `TemplateURL`, exactly one.
async fn template_of(service: &RosService, params: &Params) -> Res<Template> {
    let invalid = |message: String| CloudError::new(400, "InvalidTemplate", message);
    match (params.get("TemplateBody"), params.get("TemplateURL")) {
        (Some(body), None) => {
            if body.len() > 524_288 {
                return Err(CloudError::invalid(
                    "TemplateBody",
                    "it is longer than 524288 bytes",
                ));
            }
            ros::load_text(body).map_err(|e| invalid(format!("The template is not valid: {e}")))
        }
        (None, Some(url)) => {
            let client = service.client()?;
            ros::load(url, Some(&client))
                .await
                .map_err(|e| invalid(e.to_string()))
        }
        (Some(_), Some(_)) => Err(CloudError::new(
            400,
            "InvalidParameter",
            "Only one of TemplateBody and TemplateURL may be given.",
        )),
        (None, None) => Err(CloudError::missing("TemplateBody")),
    }
}

/// `Parameters.N.ParameterKey` / `ParameterValue`, as strings (ROS sends every value as
/// text; the parameter types convert them).
fn parameters_of(params: &Params) -> Res<IndexMap<String, Value>> {
    let mut out = IndexMap::new();
    for (n, fields) in params.objects("Parameters") {
        let key = fields
            .get("ParameterKey")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| CloudError::missing(&format!("Parameters.{n}.ParameterKey")))?;
        let value = fields.get("ParameterValue").cloned().unwrap_or_default();
        out.insert(key.clone(), Value::String(value));
    }
    Ok(out)
}

fn valid_stack_name(name: &str) -> bool {
    name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks the template with the parameters; the answer ROS gives an invalid one.
fn checked(
    service: &RosService,
    template: &Template,
    parameters: &IndexMap<String, Value>,
) -> Res<Template> {
    let client = service.client()?;
    let pseudo = pseudo_parameters(client.region(), ACCOUNT_ID);
    ros::check(template, parameters, &registry(&client), &pseudo)
        .map(|c| c.template)
        .map_err(|e| {
            CloudError::new(
                400,
                "StackValidationFailed",
                format!("Stack validation failed: {e}"),
            )
        })
}

async fn create_stack(service: &Arc<RosService>, params: &Params) -> Res<Value> {
    let name = params.required("StackName")?.to_owned();
    if !valid_stack_name(&name) {
        return Err(CloudError::invalid(
            "StackName",
            "it must start with a letter and hold at most 255 letters, digits, '-' or '_'",
        ));
    }
    let token = params.get("ClientToken").map(str::to_owned);
    if let Some(token) = &token
        && let Some(id) = service.lock().tokens.get(token)
    {
        return Ok(json!({"StackId": id}));
    }
    let disable_rollback = params.boolean("DisableRollback")?.unwrap_or(false);
    let timeout_minutes = params.int_in("TimeoutInMinutes", 60, 10, 1440)? as u64;
    let parameters = parameters_of(params)?;
    let template = template_of(service, params).await?;
    let expanded = checked(service, &template, &parameters)?;
    let id = new_request_id().to_ascii_lowercase();
    {
        let mut stacks = service.lock();
        if stacks.by_id.values().any(|s| s.name == name && !s.deleted) {
            return Err(CloudError::new(
                409,
                "StackExists",
                format!("The Stack ({name}) already exists."),
            ));
        }
        stacks.by_id.insert(
            id.clone(),
            StackRecord {
                id: id.clone(),
                name: name.clone(),
                status: "CREATE_IN_PROGRESS".to_owned(),
                reason: "Stack CREATE started".to_owned(),
                template,
                parameters: parameters.clone(),
                disable_rollback,
                timeout_minutes,
                outputs: IndexMap::new(),
                created: Utc::now(),
                updated: None,
                deleted: false,
                events: Vec::new(),
            },
        );
        if let Some(token) = token {
            stacks.tokens.insert(token, id.clone());
        }
    }
    spawn_apply(service, &id, &name, expanded, parameters, "CREATE")?;
    Ok(json!({"StackId": id}))
}

async fn update_stack(service: &Arc<RosService>, params: &Params) -> Res<Value> {
    let id = params.required("StackId")?.to_owned();
    let (name, current_parameters) = {
        let stacks = service.lock();
        let stack = stacks
            .by_id
            .get(&id)
            .filter(|s| !s.deleted)
            .ok_or_else(|| stack_not_found(&id))?;
        if stack.status.ends_with("_IN_PROGRESS") {
            return Err(CloudError::new(
                409,
                "StackNotStable",
                format!(
                    "The Stack ({}) is in {} and cannot be updated now.",
                    stack.name, stack.status
                ),
            ));
        }
        (stack.name.clone(), stack.parameters.clone())
    };
    let template = match (params.get("TemplateBody"), params.get("TemplateURL")) {
        (None, None) => service.lock().by_id[&id].template.clone(),
        _ => template_of(service, params).await?,
    };
    // Parameters not given again keep their values.
    let mut parameters = current_parameters;
    parameters.extend(parameters_of(params)?);
    parameters.retain(|k, _| template.parameters.contains_key(k));
    let expanded = checked(service, &template, &parameters)?;
    {
        let mut stacks = service.lock();
        let stack = stacks
            .by_id
            .get_mut(&id)
            .ok_or_else(|| stack_not_found(&id))?;
        if let Some(disable) = params.boolean("DisableRollback")? {
            stack.disable_rollback = disable;
        }
        if params.get("TimeoutInMinutes").is_some() {
            stack.timeout_minutes = params.int_in("TimeoutInMinutes", 60, 10, 1440)? as u64;
        }
        stack.status = "UPDATE_IN_PROGRESS".to_owned();
        stack.reason = "Stack UPDATE started".to_owned();
        stack.template = template;
        stack.parameters = parameters.clone();
        stack.updated = Some(Utc::now());
    }
    spawn_apply(service, &id, &name, expanded, parameters, "UPDATE")?;
    Ok(json!({"StackId": id}))
}

/// An engine for one run: the service's state store, the crate's handlers, the policy the
/// stack asks for.
fn engine_for(service: &RosService, stack_id: &str, disable_rollback: bool) -> Res<Engine> {
    let client = service.client()?;
    let pseudo = with_stack_id(pseudo_parameters(client.region(), ACCOUNT_ID), stack_id);
    let options = EngineOptions {
        failure_policy: if disable_rollback {
            FailurePolicy::Stop
        } else {
            FailurePolicy::Rollback
        },
        ..EngineOptions::default()
    };
    Ok(Engine::builder()
        .provider(registry(&client))
        .state_arc(service.store.clone())
        .options(options)
        .pseudo_parameters(pseudo)
        .build())
}

/// Forwards the engine's events into the stack's record until the sender is dropped.
fn record_events(
    service: &Arc<RosService>,
    stack_id: &str,
) -> (iac_core::engine::EventSender, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = events::channel();
    let service = Arc::clone(service);
    let id = stack_id.to_owned();
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let mut stacks = service.lock();
            if let Some(stack) = stacks.by_id.get_mut(&id) {
                stack
                    .events
                    .push((new_request_id().to_ascii_lowercase(), event));
            }
        }
    });
    (tx, task)
}

fn spawn_apply(
    service: &Arc<RosService>,
    id: &str,
    name: &str,
    template: Template,
    parameters: IndexMap<String, Value>,
    operation: &'static str,
) -> Res<()> {
    let (disable_rollback, timeout_minutes) = {
        let stacks = service.lock();
        let stack = &stacks.by_id[id];
        (stack.disable_rollback, stack.timeout_minutes)
    };
    let engine = engine_for(service, id, disable_rollback)?;
    let mut input = StackInput::new(name, template);
    input.parameters = parameters;
    let service = Arc::clone(service);
    let id = id.to_owned();
    tokio::spawn(async move {
        let (tx, recorder) = record_events(&service, &id);
        let cancel = CancellationToken::new();
        let options = RunOptions::default()
            .with_events(tx)
            .with_cancel(cancel.clone());
        let run = engine.apply(&input, options);
        tokio::pin!(run);
        let limit = Duration::from_secs(timeout_minutes * 60);
        let (result, timed_out) = tokio::select! {
            result = &mut run => (result, false),
            () = tokio::time::sleep(limit) => {
                cancel.cancel();
                (run.await, true)
            }
        };
        // Every event is in the record before the status changes.
        let _ = recorder.await;
        let (status, reason, outputs) = if timed_out {
            (
                format!("{operation}_FAILED"),
                format!("Stack {operation} timed out after {timeout_minutes} minutes"),
                None,
            )
        } else {
            outcome(operation, result)
        };
        let mut stacks = service.lock();
        if let Some(stack) = stacks.by_id.get_mut(&id) {
            stack.status = status;
            stack.reason = reason;
            if let Some(outputs) = outputs {
                stack.outputs = outputs;
            }
        }
    });
    Ok(())
}

/// The stack's status, reason and outputs after a create or update.
fn outcome(
    operation: &str,
    result: Result<Report, EngineError>,
) -> (String, String, Option<IndexMap<String, Value>>) {
    match result {
        Ok(report) => (
            format!("{operation}_COMPLETE"),
            format!("Stack {operation} completed successfully"),
            Some(report.outputs),
        ),
        Err(err) => {
            let status = match err.report().map(|r| r.status) {
                Some(Status::RollbackComplete) if operation == "CREATE" => {
                    "CREATE_ROLLBACK_COMPLETE".to_owned()
                }
                Some(Status::RollbackFailed) if operation == "CREATE" => {
                    "CREATE_ROLLBACK_FAILED".to_owned()
                }
                Some(Status::RollbackComplete) => "ROLLBACK_COMPLETE".to_owned(),
                Some(Status::RollbackFailed) => "ROLLBACK_FAILED".to_owned(),
                _ => format!("{operation}_FAILED"),
            };
            (status, err.to_string(), None)
        }
    }
}

fn delete_stack(service: &Arc<RosService>, params: &Params) -> Res<Value> {
    let id = params.required("StackId")?.to_owned();
    let (name, disable_rollback) = {
        let mut stacks = service.lock();
        let stack = stacks
            .by_id
            .get_mut(&id)
            .filter(|s| !s.deleted)
            .ok_or_else(|| stack_not_found(&id))?;
        if stack.status == "DELETE_IN_PROGRESS" {
            return Ok(json!({}));
        }
        if stack.status.ends_with("_IN_PROGRESS") {
            return Err(CloudError::new(
                409,
                "StackNotStable",
                format!(
                    "The Stack ({}) is in {} and cannot be deleted now.",
                    stack.name, stack.status
                ),
            ));
        }
        stack.status = "DELETE_IN_PROGRESS".to_owned();
        stack.reason = "Stack DELETE started".to_owned();
        (stack.name.clone(), stack.disable_rollback)
    };
    let engine = engine_for(service, &id, disable_rollback)?;
    let service = Arc::clone(service);
    tokio::spawn(async move {
        let (tx, recorder) = record_events(&service, &id);
        let result = engine
            .destroy(&name, RunOptions::default().with_events(tx))
            .await;
        let _ = recorder.await;
        let mut stacks = service.lock();
        if let Some(stack) = stacks.by_id.get_mut(&id) {
            match result {
                // A stack whose create failed before any state was saved has nothing to
                // delete.
                Ok(_) | Err(EngineError::UnknownStack(_)) => {
                    stack.status = "DELETE_COMPLETE".to_owned();
                    stack.reason = "Stack DELETE completed successfully".to_owned();
                    stack.deleted = true;
                }
                Err(err) => {
                    stack.status = "DELETE_FAILED".to_owned();
                    stack.reason = err.to_string();
                }
            }
        }
    });
    Ok(json!({}))
}

fn ros_time(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn get_stack(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("StackId")?;
    let stacks = service.lock();
    let stack = stacks
        .by_id
        .get(id)
        .filter(|s| !s.deleted)
        .ok_or_else(|| stack_not_found(id))?;
    let outputs: Vec<Value> = stack
        .outputs
        .iter()
        .map(|(key, value)| {
            let description = stack
                .template
                .outputs
                .get(key)
                .and_then(|o| o.description.as_ref())
                .map(|d| d.get("en").to_owned());
            json!({"OutputKey": key, "OutputValue": value, "Description": description})
        })
        .collect();
    let parameters: Vec<Value> = stack
        .template
        .parameters
        .iter()
        .map(|(key, decl)| {
            let value = if decl.is_secret() {
                Value::from("****")
            } else {
                stack
                    .parameters
                    .get(key)
                    .cloned()
                    .or_else(|| decl.default.clone())
                    .unwrap_or(Value::Null)
            };
            json!({"ParameterKey": key, "ParameterValue": value})
        })
        .collect();
    let mut answer = json!({
        "StackId": stack.id,
        "StackName": stack.name,
        "Status": stack.status,
        "StatusReason": stack.reason,
        "DisableRollback": stack.disable_rollback,
        "TimeoutInMinutes": stack.timeout_minutes,
        "CreateTime": ros_time(&stack.created),
        "Outputs": outputs,
        "Parameters": parameters,
    });
    if let Some(updated) = &stack.updated {
        answer["UpdateTime"] = Value::from(ros_time(updated));
    }
    Ok(answer)
}

fn page_of(params: &Params) -> Res<(usize, usize)> {
    let number = params.int_in("PageNumber", 1, 1, i64::from(u32::MAX))? as usize;
    let size = params.int_in("PageSize", 10, 1, 50)? as usize;
    Ok((number, size))
}

fn list_stacks(service: &RosService, params: &Params) -> Res<Value> {
    let names = params.list("StackName");
    let (number, size) = page_of(params)?;
    let stacks = service.lock();
    let matching: Vec<&StackRecord> = stacks
        .by_id
        .values()
        .filter(|s| !s.deleted && (names.is_empty() || names.contains(&s.name)))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .map(|s| {
            json!({"StackId": s.id, "StackName": s.name, "Status": s.status,
                   "StatusReason": s.reason, "CreateTime": ros_time(&s.created)})
        })
        .collect();
    Ok(json!({
        "Stacks": page,
        "TotalCount": matching.len(),
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn list_stack_events(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("StackId")?;
    let (number, size) = page_of(params)?;
    let statuses = params.list("Status");
    let types = params.list("ResourceType");
    let ids = params.list("LogicalResourceId");
    let stacks = service.lock();
    let stack = stacks.by_id.get(id).ok_or_else(|| stack_not_found(id))?;
    let matching: Vec<Value> = stack
        .events
        .iter()
        .map(|(event_id, event)| ros_event(&stack.id, &stack.name, event_id, event))
        .filter(|e| {
            let has = |list: &[String], key: &str| {
                list.is_empty() || list.iter().any(|v| e[key].as_str() == Some(v))
            };
            has(&statuses, "Status")
                && has(&types, "ResourceType")
                && has(&ids, "LogicalResourceId")
        })
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    Ok(json!({
        "Events": page,
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

/// An engine event as ROS shows it; the stack's own events carry the stack's type and id.
fn ros_event(stack_id: &str, stack_name: &str, event_id: &str, event: &Event) -> Value {
    let is_stack = &*event.type_name == STACK_TYPE;
    json!({
        "EventId": event_id,
        "StackId": stack_id,
        "StackName": stack_name,
        "CreateTime": event.time.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        "LogicalResourceId": &*event.logical_id,
        "PhysicalResourceId": if is_stack { Some(stack_id) } else { event.physical_id.as_deref() },
        "ResourceType": if is_stack { ROS_STACK_TYPE } else { &*event.type_name },
        "Status": event.status.as_str(),
        "StatusReason": event.reason.as_deref().unwrap_or(""),
    })
}

// ---------------------------------------------------------------------------------------
// Wait conditions. ROS keeps these inside stacks; the simulator also serves them as actions
// of its own (`CreateWaitConditionHandle`, `GetWaitConditionHandle`, `CreateWaitCondition`,
// `GetWaitCondition`, and their deletes; simulator-only: the cloud has no such API) so that the local engine's
// `ALIYUN::ROS::*` handlers run them too. A handle's URL takes signals without a
// signature: the URL, with its random id, is the credential, as in ROS.

/// The path signals are posted to: `/waitcondition/<handle id>`.
pub(crate) const SIGNAL_PATH: &str = "/waitcondition/";

#[derive(Default)]
struct Waits {
    handles: HashMap<String, Handle>,
    conditions: HashMap<String, Condition>,
    /// `ClientToken` → id, for creates retried.
    tokens: HashMap<String, String>,
}

#[derive(Default)]
struct Handle {
    /// Signals by id, in arrival order: (status, data, reason).
    signals: IndexMap<String, (String, Value, String)>,
}

struct Condition {
    handle: String,
    count: usize,
    deadline: tokio::time::Instant,
    timeout_seconds: u64,
}

fn wait_not_found(what: &str, id: &str) -> CloudError {
    CloudError::not_found("InvalidWaitCondition.NotFound", what, id)
}

fn replayed(service: &RosService, params: &Params) -> Option<Value> {
    let token = params.get("ClientToken")?;
    let waits = service.waits();
    let id = waits.tokens.get(token)?;
    Some(json!({"Id": id}))
}

fn remember_token(waits: &mut Waits, params: &Params, id: &str) {
    if let Some(token) = params.get("ClientToken") {
        waits.tokens.insert(token.to_owned(), id.to_owned());
    }
}

fn create_handle(service: &RosService, params: &Params) -> Res<Value> {
    if let Some(answer) = replayed(service, params) {
        return handle_answer(service, answer["Id"].as_str().unwrap_or_default());
    }
    let id = format!(
        "wch-{}",
        new_request_id().to_ascii_lowercase().replace('-', "")
    );
    let mut waits = service.waits();
    waits.handles.insert(id.clone(), Handle::default());
    remember_token(&mut waits, params, &id);
    drop(waits);
    handle_answer(service, &id)
}

fn handle_answer(service: &RosService, id: &str) -> Res<Value> {
    let endpoint = service.endpoint.get().cloned().unwrap_or_default();
    Ok(json!({"HandleId": id, "Url": format!("{endpoint}{SIGNAL_PATH}{id}")}))
}

fn get_handle(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("HandleId")?;
    if !service.waits().handles.contains_key(id) {
        return Err(wait_not_found("wait condition handle", id));
    }
    handle_answer(service, id)
}

fn delete_handle(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("HandleId")?;
    let mut waits = service.waits();
    if waits.handles.remove(id).is_none() {
        return Err(wait_not_found("wait condition handle", id));
    }
    waits.conditions.retain(|_, c| c.handle != id);
    Ok(json!({}))
}

fn create_wait(service: &RosService, params: &Params) -> Res<Value> {
    if let Some(answer) = replayed(service, params) {
        return Ok(json!({"WaitConditionId": answer["Id"]}));
    }
    let handle = params.required("HandleId")?.to_owned();
    let timeout = params.int_in("Timeout", 0, 1, 43_200)? as u64;
    if params.get("Timeout").is_none() {
        return Err(CloudError::missing("Timeout"));
    }
    let count = params.int_in("Count", 1, 1, 1000)? as usize;
    let mut waits = service.waits();
    if !waits.handles.contains_key(&handle) {
        return Err(wait_not_found("wait condition handle", &handle));
    }
    let id = format!(
        "wc-{}",
        new_request_id().to_ascii_lowercase().replace('-', "")
    );
    waits.conditions.insert(
        id.clone(),
        Condition {
            handle,
            count,
            deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
            timeout_seconds: timeout,
        },
    );
    remember_token(&mut waits, params, &id);
    Ok(json!({"WaitConditionId": id}))
}

/// A condition's status, computed on read: `Waiting`, `Complete` (`Count` successes),
/// `Failed` (a `FAILURE` signal) or `TimedOut`; with `Data` (id → data of the successes,
/// as a JSON text), `ErrorData` (id → reason of the failures) and `JoinedErrorData`.
fn get_wait(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("WaitConditionId")?;
    let waits = service.waits();
    let condition = waits
        .conditions
        .get(id)
        .ok_or_else(|| wait_not_found("wait condition", id))?;
    let handle = waits
        .handles
        .get(&condition.handle)
        .ok_or_else(|| wait_not_found("wait condition handle", &condition.handle))?;
    let mut data = serde_json::Map::new();
    let mut errors = serde_json::Map::new();
    for (signal_id, (status, value, reason)) in &handle.signals {
        if status == "FAILURE" {
            let text = if reason.is_empty() {
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            } else {
                reason.clone()
            };
            errors.insert(signal_id.clone(), Value::from(text));
        } else {
            data.insert(signal_id.clone(), value.clone());
        }
    }
    let status = if !errors.is_empty() {
        "Failed"
    } else if data.len() >= condition.count {
        "Complete"
    } else if tokio::time::Instant::now() >= condition.deadline {
        "TimedOut"
    } else {
        "Waiting"
    };
    let joined = errors
        .values()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(json!({
        "WaitConditionId": id,
        "Status": status,
        "Count": condition.count,
        "Received": data.len(),
        "TimeoutSeconds": condition.timeout_seconds,
        "Data": Value::Object(data).to_string(),
        "ErrorData": Value::Object(errors).to_string(),
        "JoinedErrorData": joined,
    }))
}

fn delete_wait(service: &RosService, params: &Params) -> Res<Value> {
    let id = params.required("WaitConditionId")?;
    match service.waits().conditions.remove(id) {
        Some(_) => Ok(json!({})),
        None => Err(wait_not_found("wait condition", id)),
    }
}

/// A signal posted to a handle's URL: `{"status": "SUCCESS" | "FAILURE", "id": ..., "data":
/// ..., "reason": ...}`, every field optional (`SUCCESS`; the next number as id). A signal
/// with an id already received replaces it. Answers 200 with an empty JSON object, or 404
/// for an unknown handle and 400 for a body that is not such an object.
pub(crate) fn signal(service: &RosService, handle_id: &str, body: &[u8]) -> Res<Value> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            CloudError::new(
                400,
                "InvalidSignal",
                format!("The signal is not JSON: {e}."),
            )
        })?
    };
    let Value::Object(fields) = value else {
        return Err(CloudError::new(
            400,
            "InvalidSignal",
            "The signal must be a JSON object.",
        ));
    };
    let status = match fields.get("status").and_then(Value::as_str) {
        None => "SUCCESS".to_owned(),
        Some(s) if s.eq_ignore_ascii_case("success") => "SUCCESS".to_owned(),
        Some(s) if s.eq_ignore_ascii_case("failure") => "FAILURE".to_owned(),
        Some(other) => {
            return Err(CloudError::new(
                400,
                "InvalidSignal",
                format!("The signal status \"{other}\" is not SUCCESS or FAILURE."),
            ));
        }
    };
    let mut waits = service.waits();
    let handle = waits
        .handles
        .get_mut(handle_id)
        .ok_or_else(|| wait_not_found("wait condition handle", handle_id))?;
    let id = match fields.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => (handle.signals.len() + 1).to_string(),
    };
    let data = fields.get("data").cloned().unwrap_or(Value::Null);
    let reason = fields
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    handle.signals.insert(id, (status, data, reason));
    Ok(json!({}))
}
