//! Cinder (`block-storage` or `volumev3`, API v3 with microversions): volumes and their
//! backups. Attaching goes through Nova ([`super::compute::ComputeApi::attach_volume`]).

use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Fields, Wait, wait_until};
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// A volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, `attaching`, `in-use`, `deleting`, `error`, ...
    pub status: String,
    /// Size in GiB.
    pub size: u64,
    /// Its type.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Its availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Its attachments.
    #[serde(default)]
    pub attachments: Vec<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A volume backup (Cinder's backup service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, `error`, `deleting`, `restoring`, ...; empty in the answer
    /// to a create (which gives only the id, the name and links).
    #[serde(default)]
    pub status: String,
    /// The volume it was made of.
    #[serde(default)]
    pub volume_id: Option<String>,
    /// Why it failed, when it did.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// The block-storage service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct VolumeApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The block-storage service (Cinder).
    pub fn volume(&self) -> VolumeApi<'_> {
        VolumeApi { client: self }
    }
}

impl VolumeApi<'_> {
    /// Reads a volume.
    pub async fn get_volume(&self, id: &str) -> Result<Volume, ApiError> {
        self.client
            .call(
                Service::BlockStorage,
                Method::GET,
                &format!("/volumes/{id}"),
                Body::Empty,
                Some("volume"),
            )
            .await
    }

    /// Lists volumes with details matching `query`, page by page.
    pub fn list_volumes(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Volume, ApiError>> {
        self.client
            .list(Service::BlockStorage, "/volumes/detail", "volumes", query)
    }

    /// Creates a volume (`size`, `name`, `description`, `volume_type`, `imageRef`,
    /// `availability_zone`, `metadata`); it is `creating` at first.
    pub async fn create_volume(&self, fields: Fields) -> Result<Volume, ApiError> {
        self.client
            .call(
                Service::BlockStorage,
                Method::POST,
                "/volumes",
                Body::Json(json!({ "volume": fields })),
                Some("volume"),
            )
            .await
    }

    /// Changes a volume's `name`, `description` or `metadata`.
    pub async fn update_volume(&self, id: &str, fields: Fields) -> Result<Volume, ApiError> {
        self.client
            .call(
                Service::BlockStorage,
                Method::PUT,
                &format!("/volumes/{id}"),
                Body::Json(json!({ "volume": fields })),
                Some("volume"),
            )
            .await
    }

    /// Grows a volume (`os-extend`).
    pub async fn extend_volume(&self, id: &str, new_size: u64) -> Result<(), ApiError> {
        self.client
            .send(
                Service::BlockStorage,
                Method::POST,
                &format!("/volumes/{id}/action"),
                Body::Json(json!({ "os-extend": { "new_size": new_size } })),
            )
            .await
            .map(drop)
    }

    /// Deletes a volume (asynchronously); one already gone is deleted.
    pub async fn delete_volume(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::BlockStorage, &format!("/volumes/{id}"))
            .await
    }

    /// Starts a backup of a volume (`POST /backups`); the answer holds its id and name, and
    /// the backup is `creating` until the backup service is done. `force` backs up an
    /// `in-use` volume.
    pub async fn create_backup(
        &self,
        volume_id: &str,
        name: &str,
        description: &str,
        force: bool,
    ) -> Result<Backup, ApiError> {
        let body = json!({"backup": {
            "volume_id": volume_id, "name": name, "description": description, "force": force
        }});
        self.client
            .call(
                Service::BlockStorage,
                Method::POST,
                "/backups",
                Body::Json(body),
                Some("backup"),
            )
            .await
    }

    /// Reads a backup.
    pub async fn get_backup(&self, id: &str) -> Result<Backup, ApiError> {
        self.client
            .call(
                Service::BlockStorage,
                Method::GET,
                &format!("/backups/{id}"),
                Body::Empty,
                Some("backup"),
            )
            .await
    }

    /// Lists backups with details matching `query` (`name`, `volume_id`, `status`), page by
    /// page.
    pub fn list_backups(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Backup, ApiError>> {
        self.client
            .list(Service::BlockStorage, "/backups/detail", "backups", query)
    }

    /// Deletes a backup (asynchronously); one already gone is deleted.
    pub async fn delete_backup(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::BlockStorage, &format!("/backups/{id}"))
            .await
    }

    /// Waits until the volume has `status`; `error*` fails at once.
    pub async fn wait_volume_status(
        &self,
        id: &str,
        status: &str,
        wait: Wait,
    ) -> Result<Volume, ApiError> {
        wait_until(wait, &format!("volume {id} {status}"), || async {
            let volume = self.get_volume(id).await?;
            if volume.status == status {
                Ok(Ok(volume))
            } else if volume.status.starts_with("error") {
                Err(ApiError::local(
                    "volume",
                    id,
                    "Failed",
                    format!("volume is {}", volume.status),
                ))
            } else {
                Ok(Err(volume.status))
            }
        })
        .await
    }
}
