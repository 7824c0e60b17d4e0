//! `ALIYUN::ROS::Stack`, a nested stack made through the ROS API from a template URL, and
//! `ALIYUN::ROS::WaitConditionHandle` and `ALIYUN::ROS::WaitCondition`: a stack waits for
//! machines to report back (the `kubeadm join` command of a first master, a boot script that
//! finished).
//!
//! A nested stack is `CreateStack` with `TemplateURL` (`http(s)://` or `oss://`), its
//! `Parameters` and `TimeoutMins`; it is ready when ROS says `CREATE_COMPLETE`, and its
//! outputs are the attributes `Outputs.<Name>`. A change of `TemplateURL` or `Parameters`
//! is an `UpdateStack`; deleting it is a `DeleteStack` polled until the stack is gone.
//!
//! In the cloud these live inside ROS stacks only (deploy through
//! [`crate::ros::RosDeployer`]). The simulator also serves them as actions of its own
//! (`CreateWaitConditionHandle`, `CreateWaitCondition`, `GetWaitCondition` and their
//! deletes), which these handlers call, so that the local engine runs them against it; the
//! real cloud answers those actions `InvalidAction.NotFound`, which the handlers report as
//! such. The protocol is ROS's: the handle's `CurlCli` (or `Url`) takes
//! `{"status": "SUCCESS" | "FAILURE", "id": ..., "data": ...}`; the condition completes when
//! `Count` successes arrived, fails on a failure or when `Timeout` seconds passed, and gives
//! `Data` (the successes' data by id, a JSON text), `ErrorData` and `JoinedErrorData`.

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, ErrorKind, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema, UpdateBehavior::ForcesReplacement, UpdateBehavior::Mutable, Updated,
};
use serde_json::{Value, json};

use super::{api, attrs, endpoint_key, integer, required};
use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;
use crate::ros::{DeployError, RosDeployer, TemplateSource};

/// `ALIYUN::ROS::Stack`: a nested stack. Its physical id is the ROS stack id.
pub struct StackHandler {
    ros: RosDeployer,
    schema: Schema,
    endpoint: String,
}

impl StackHandler {
    /// The handler, calling ROS through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ROS::Stack")
            .with_property("TemplateURL", true, Mutable)
            .with_property("Parameters", false, Mutable)
            .with_property("TimeoutMins", false, Mutable)
            .with_property("ResourceGroupId", false, Mutable)
            .with_attributes(&["Outputs.*"])
            .with_readiness_hint(Duration::from_secs(5))
            .with_ready_timeout(Duration::from_secs(24 * 3600))
            .strict();
        let endpoint = endpoint_key(&client, Product::Ros);
        StackHandler {
            ros: RosDeployer::new(&client),
            schema,
            endpoint,
        }
    }
}

/// `Parameters` as ROS takes them: every value as text.
fn stack_parameters(props: &Properties) -> Result<indexmap::IndexMap<String, Value>, HandlerError> {
    match props.get("Parameters") {
        None | Some(Value::Null) => Ok(indexmap::IndexMap::new()),
        Some(Value::Object(map)) => Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Some(other) => Err(HandlerError::invalid(format!(
            "property Parameters must be a map of names to values, not {other}"
        ))),
    }
}

/// A nested stack's name: the parent's and the logical id, as ROS allows stack names.
fn nested_name(stack: &str, logical_id: &str) -> String {
    let mut name: String = format!("{stack}-{logical_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(255)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 's');
        name.truncate(255);
    }
    name
}

fn deploy_error(e: DeployError) -> HandlerError {
    match e {
        DeployError::Api(e) => wait_api(e),
        other => HandlerError::new(other.kind(), other.to_string()),
    }
}

#[async_trait]
impl ResourceHandler for StackHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let url = required(props, "TemplateURL")?;
        let parameters = stack_parameters(props)?;
        let mut ros = self.ros.clone();
        if let Some(minutes) = integer(props, "TimeoutMins")? {
            ros = ros.with_timeout_minutes(u32::try_from(minutes).unwrap_or(u32::MAX));
        }
        let id = ros
            .create_stack(
                &nested_name(request.stack, request.logical_id),
                TemplateSource::Url(&url),
                &parameters,
                Some(request.client_token.as_str()),
            )
            .await
            .map_err(deploy_error)?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Pending {
                status: "CREATE_IN_PROGRESS".to_owned(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let stack = match self.ros.get_stack(physical_id.as_str()).await {
            Ok(stack) => stack,
            Err(DeployError::Api(e)) if e.code == "StackNotFound" || e.is_not_found() => {
                return Ok(Readiness::Gone);
            }
            Err(e) => return Err(deploy_error(e)),
        };
        Ok(if stack.in_progress() {
            Readiness::Pending {
                status: stack.status,
            }
        } else if stack.succeeded() {
            Readiness::Ready(
                stack
                    .outputs
                    .into_iter()
                    .map(|(name, value)| (format!("Outputs.{name}"), value))
                    .collect(),
            )
        } else {
            Readiness::Failed {
                reason: format!("nested stack {}: {}", stack.status, stack.reason),
            }
        })
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let url = required(new, "TemplateURL")?;
        let parameters = stack_parameters(new)?;
        self.ros
            .update_stack(physical_id.as_str(), TemplateSource::Url(&url), &parameters)
            .await
            .map_err(deploy_error)?;
        Ok(Updated {
            readiness: Readiness::Pending {
                status: "UPDATE_IN_PROGRESS".to_owned(),
            },
        })
    }

    /// Deletes the nested stack and answers `Done` once ROS no longer knows it; while it is
    /// being deleted the answer is a not-ready error, which the engine retries with backoff
    /// until its operation deadline.
    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let id = physical_id.as_str();
        let gone = |e: &DeployError| matches!(e, DeployError::Api(e) if e.code == "StackNotFound" || e.is_not_found());
        let stack = match self.ros.get_stack(id).await {
            Ok(stack) => stack,
            Err(e) if gone(&e) => return Ok(Deleted::Done),
            Err(e) => return Err(deploy_error(e)),
        };
        match stack.status.as_str() {
            "DELETE_COMPLETE" => return Ok(Deleted::Done),
            "DELETE_IN_PROGRESS" => {}
            _ => match self.ros.delete_stack(id).await {
                Ok(()) => {}
                Err(e) if gone(&e) => return Ok(Deleted::Done),
                Err(e) => return Err(deploy_error(e)),
            },
        }
        Err(HandlerError::new(
            ErrorKind::NotReady,
            format!("nested stack {} is being deleted", stack.name),
        ))
    }
}

/// Says what a missing wait-condition action means.
fn wait_api(e: ApiError) -> HandlerError {
    if e.code == "InvalidAction.NotFound" {
        HandlerError::invalid(format!(
            "{}: wait conditions run inside ROS stacks (deploy with RosDeployer) or on the simulator",
            e.action.as_deref().unwrap_or("ROS")
        ))
    } else {
        api(e)
    }
}

/// `ALIYUN::ROS::WaitConditionHandle`: a URL machines signal. Its physical id is the
/// handle's id.
pub struct WaitConditionHandleHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl WaitConditionHandleHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ROS::WaitConditionHandle")
            .with_property("Count", false, Mutable)
            .with_property("Mode", false, Mutable)
            .with_attributes(&[
                "CurlCli",
                "WindowsCurlCli",
                "PowerShellCurlCli",
                "Headers",
                "Url",
            ])
            .with_readiness_hint(Duration::from_millis(200))
            .strict();
        let endpoint = endpoint_key(&client, Product::Ros);
        WaitConditionHandleHandler {
            client,
            schema,
            endpoint,
        }
    }
}

/// The attributes of a handle whose signal URL is `url`.
fn handle_attributes(url: &str) -> Readiness {
    let header = "Content-Type: application/json";
    Readiness::Ready(attrs([
        ("Url", json!(url)),
        ("Headers", json!({"Content-Type": "application/json"})),
        (
            "CurlCli",
            json!(format!("curl -i -X POST -H '{header}' {url}")),
        ),
        (
            "WindowsCurlCli",
            json!(format!("curl.exe -i -X POST -H \"{header}\" {url}")),
        ),
        (
            "PowerShellCurlCli",
            json!(format!(
                "Invoke-WebRequest -Method POST -ContentType application/json -Uri {url} -Body"
            )),
        ),
    ]))
}

#[async_trait]
impl ResourceHandler for WaitConditionHandleHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let params = Params::new().with("ClientToken", request.client_token.as_str());
        let answer = self
            .client
            .rpc(Product::Ros, "CreateWaitConditionHandle", params)
            .await
            .map_err(wait_api)?;
        let (Some(id), Some(url)) = (answer["HandleId"].as_str(), answer["Url"].as_str()) else {
            return Err(HandlerError::permanent(
                "CreateWaitConditionHandle answered without HandleId and Url",
            ));
        };
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: handle_attributes(url),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let params = Params::new().with("HandleId", physical_id.as_str());
        match self
            .client
            .rpc(Product::Ros, "GetWaitConditionHandle", params)
            .await
        {
            Ok(answer) => Ok(handle_attributes(
                answer["Url"].as_str().unwrap_or_default(),
            )),
            Err(e) if e.is_not_found() => Ok(Readiness::Gone),
            Err(e) => Err(wait_api(e)),
        }
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        _new: &Properties,
    ) -> Result<Updated, HandlerError> {
        Ok(Updated {
            readiness: self.read(physical_id, old).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let params = Params::new().with("HandleId", physical_id.as_str());
        match self
            .client
            .rpc(Product::Ros, "DeleteWaitConditionHandle", params)
            .await
        {
            Ok(_) => Ok(Deleted::Done),
            Err(e) if e.is_not_found() => Ok(Deleted::Done),
            Err(e) => Err(wait_api(e)),
        }
    }
}

/// `ALIYUN::ROS::WaitCondition`: pending until its handle got `Count` signals. Its
/// physical id is the condition's id.
pub struct WaitConditionHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl WaitConditionHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ROS::WaitCondition")
            .with_property("Handle", true, ForcesReplacement)
            .with_property("Timeout", true, ForcesReplacement)
            .with_property("Count", false, ForcesReplacement)
            .with_property("ShowProgressEvent", false, Mutable)
            .with_attributes(&["Data", "ErrorData", "JoinedErrorData"])
            .with_readiness_hint(Duration::from_secs(1))
            // The condition's own Timeout (at most 12 h) ends the wait.
            .with_ready_timeout(Duration::from_secs(43_200 + 60))
            .strict();
        let endpoint = endpoint_key(&client, Product::Ros);
        WaitConditionHandler {
            client,
            schema,
            endpoint,
        }
    }
}

#[async_trait]
impl ResourceHandler for WaitConditionHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let handle = required(props, "Handle")?;
        let timeout = integer(props, "Timeout")?
            .ok_or_else(|| HandlerError::invalid("property Timeout is required"))?;
        if !(1..=43_200).contains(&timeout) {
            return Err(HandlerError::invalid(format!(
                "property Timeout must be from 1 to 43200 seconds, not {timeout}"
            )));
        }
        let count = integer(props, "Count")?.unwrap_or(1);
        if count < 1 {
            return Err(HandlerError::invalid(format!(
                "property Count must be at least 1, not {count}"
            )));
        }
        let params = Params::new()
            .with("HandleId", handle)
            .with("Timeout", timeout.to_string())
            .with("Count", count.to_string())
            .with("ClientToken", request.client_token.as_str());
        let answer = self
            .client
            .rpc(Product::Ros, "CreateWaitCondition", params)
            .await
            .map_err(wait_api)?;
        let id = answer["WaitConditionId"].as_str().ok_or_else(|| {
            HandlerError::permanent("CreateWaitCondition answered without WaitConditionId")
        })?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Pending {
                status: "Waiting".to_owned(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let params = Params::new().with("WaitConditionId", physical_id.as_str());
        let answer = match self
            .client
            .rpc(Product::Ros, "GetWaitCondition", params)
            .await
        {
            Ok(answer) => answer,
            Err(e) if e.is_not_found() => return Ok(Readiness::Gone),
            Err(e) => return Err(wait_api(e)),
        };
        let text = |key: &str| answer[key].as_str().unwrap_or_default().to_owned();
        Ok(match answer["Status"].as_str().unwrap_or_default() {
            "Complete" => Readiness::Ready(attrs([
                ("Data", Value::from(text("Data"))),
                ("ErrorData", Value::from(text("ErrorData"))),
                ("JoinedErrorData", Value::from(text("JoinedErrorData"))),
            ])),
            "Failed" => Readiness::Failed {
                reason: format!("a failure was signalled: {}", text("JoinedErrorData")),
            },
            "TimedOut" => Readiness::Failed {
                reason: format!(
                    "timed out after {} s with {} of {} signals",
                    answer["TimeoutSeconds"], answer["Received"], answer["Count"]
                ),
            },
            other => Readiness::Pending {
                status: format!(
                    "{other} ({} of {} signals)",
                    answer["Received"], answer["Count"]
                ),
            },
        })
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        _new: &Properties,
    ) -> Result<Updated, HandlerError> {
        // Only ShowProgressEvent changes in place, and it changes nothing here.
        Ok(Updated {
            readiness: self.read(physical_id, old).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let params = Params::new().with("WaitConditionId", physical_id.as_str());
        match self
            .client
            .rpc(Product::Ros, "DeleteWaitCondition", params)
            .await
        {
            Ok(_) => Ok(Deleted::Done),
            Err(e) if e.is_not_found() => Ok(Deleted::Done),
            Err(e) => Err(wait_api(e)),
        }
    }
}
