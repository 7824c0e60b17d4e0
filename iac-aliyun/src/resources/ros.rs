//! `ALIYUN::ROS::WaitConditionHandle` and `ALIYUN::ROS::WaitCondition`: a stack waits for
//! machines to report back (the `kubeadm join` command of a first master, a boot script that
//! finished).
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
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema, UpdateBehavior::ForcesReplacement, UpdateBehavior::Mutable, Updated,
};
use serde_json::{Value, json};

use super::{api, attrs, endpoint_key, integer, required};
use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;

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
