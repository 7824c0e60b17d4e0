//! Nova (`compute`, API v2.1 with microversions): servers (with user data), flavors and
//! volume attachments. Every call carries the negotiated microversion
//! ([`Client::compute_microversion`]).

use base64::Engine as _;
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Fields, Wait, wait_until};
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// A server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `BUILD`, `ACTIVE`, `ERROR`, `SHUTOFF`, `DELETED`, ...
    #[serde(default)]
    pub status: String,
    /// Addresses per network name.
    #[serde(default)]
    pub addresses: Value,
    /// Why it failed, when `ERROR`.
    #[serde(default)]
    pub fault: Option<Value>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Fields,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// vCPUs.
    #[serde(default)]
    pub vcpus: u32,
    /// RAM in MiB.
    #[serde(default)]
    pub ram: u64,
    /// Root disk in GiB.
    #[serde(default)]
    pub disk: u64,
}

/// A volume attached to a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeAttachment {
    /// The volume id, as Nova names the attachment before microversion 2.89.
    #[serde(default)]
    pub id: Option<String>,
    /// Cinder's attachment id (from microversion 2.89; `id` is gone then).
    #[serde(default, rename = "attachment_id")]
    pub attachment_id: Option<String>,
    /// The server.
    pub server_id: String,
    /// The volume.
    pub volume_id: String,
    /// The device (`/dev/vdb`), when known.
    #[serde(default)]
    pub device: Option<String>,
}

/// The compute service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct ComputeApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The compute service (Nova).
    pub fn compute(&self) -> ComputeApi<'_> {
        ComputeApi { client: self }
    }
}

impl ComputeApi<'_> {
    /// Reads a server.
    pub async fn get_server(&self, id: &str) -> Result<Server, ApiError> {
        self.client
            .call(
                Service::Compute,
                Method::GET,
                &format!("/servers/{id}"),
                Body::Empty,
                Some("server"),
            )
            .await
    }

    /// Lists servers with details matching `query` (`name` regex, `status`, `limit`).
    pub fn list_servers(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Server, ApiError>> {
        self.client
            .list(Service::Compute, "/servers/detail", "servers", query)
    }

    /// Creates a server from the API's fields (`name`, `flavorRef`, `imageRef`,
    /// `networks`, `security_groups`, `metadata`, `key_name`, ...); `user_data` is the
    /// plain text, sent base64-encoded as the API wants. Returns the new server's id.
    pub async fn create_server(
        &self,
        mut fields: Fields,
        user_data: Option<&str>,
    ) -> Result<String, ApiError> {
        if let Some(data) = user_data {
            fields.insert(
                "user_data".to_owned(),
                json!(base64::engine::general_purpose::STANDARD.encode(data)),
            );
        }
        let created: super::NewId = self
            .client
            .call(
                Service::Compute,
                Method::POST,
                "/servers",
                Body::Json(json!({ "server": fields })),
                Some("server"),
            )
            .await?;
        Ok(created.id)
    }

    /// Changes a server's name or metadata-free fields (`name`, `description`).
    pub async fn update_server(&self, id: &str, fields: Fields) -> Result<Server, ApiError> {
        self.client
            .call(
                Service::Compute,
                Method::PUT,
                &format!("/servers/{id}"),
                Body::Json(json!({ "server": fields })),
                Some("server"),
            )
            .await
    }

    /// Deletes a server (it goes away asynchronously); one already gone is deleted.
    pub async fn delete_server(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Compute, &format!("/servers/{id}"))
            .await
    }

    /// Waits until the server is `ACTIVE`; `ERROR` fails with Nova's fault message.
    pub async fn wait_server_active(&self, id: &str, wait: Wait) -> Result<Server, ApiError> {
        wait_until(wait, &format!("server {id} ACTIVE"), || async {
            let server = self.get_server(id).await?;
            match server.status.as_str() {
                "ACTIVE" => Ok(Ok(server)),
                "ERROR" => Err(ApiError::local(
                    "compute",
                    id,
                    "Failed",
                    server_fault(&server),
                )),
                other => Ok(Err(other.to_owned())),
            }
        })
        .await
    }

    /// Lists flavors with details.
    pub fn list_flavors(&self) -> BoxStream<'static, Result<Flavor, ApiError>> {
        self.client
            .list(Service::Compute, "/flavors/detail", "flavors", &[])
    }

    /// Reads a flavor by id.
    pub async fn get_flavor(&self, id: &str) -> Result<Flavor, ApiError> {
        self.client
            .call(
                Service::Compute,
                Method::GET,
                &format!("/flavors/{id}"),
                Body::Empty,
                Some("flavor"),
            )
            .await
    }

    /// Attaches a volume to a server.
    pub async fn attach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
        device: Option<&str>,
    ) -> Result<VolumeAttachment, ApiError> {
        let mut body = json!({ "volumeAttachment": { "volumeId": volume_id } });
        if let Some(device) = device {
            body["volumeAttachment"]["device"] = json!(device);
        }
        self.client
            .call(
                Service::Compute,
                Method::POST,
                &format!("/servers/{server_id}/os-volume_attachments"),
                Body::Json(body),
                Some("volumeAttachment"),
            )
            .await
    }

    /// Reads a server's attachment of a volume.
    pub async fn get_volume_attachment(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<VolumeAttachment, ApiError> {
        self.client
            .call(
                Service::Compute,
                Method::GET,
                &format!("/servers/{server_id}/os-volume_attachments/{volume_id}"),
                Body::Empty,
                Some("volumeAttachment"),
            )
            .await
    }

    /// Detaches a volume; an attachment already gone is detached.
    pub async fn detach_volume(&self, server_id: &str, volume_id: &str) -> Result<(), ApiError> {
        self.client
            .delete(
                Service::Compute,
                &format!("/servers/{server_id}/os-volume_attachments/{volume_id}"),
            )
            .await
    }
}

/// Nova's reason for an `ERROR` server.
pub fn server_fault(server: &Server) -> String {
    server
        .fault
        .as_ref()
        .and_then(|f| f.get("message"))
        .and_then(Value::as_str)
        .map_or_else(
            || format!("server {} is ERROR", server.id),
            |m| format!("server {} is ERROR: {m}", server.id),
        )
}
