//! `OS::Cinder::Volume` and `OS::Cinder::VolumeAttachment`. Volumes are polled in batches
//! (one paginated `GET /volumes/detail`); an attachment is ready when the volume is
//! `in-use`, and it exists as long as Nova has it.
//!
//! `deletion_policy: Snapshot` on a volume makes a Cinder **backup** before the delete, as
//! Heat does (`handle_snapshot_delete`): `POST /backups` (not forced: the volume's
//! attachments are deleted before it), then the engine polls `GET /backups/{id}` until it
//! is `available` (`creating` is still pending; any other status fails the delete and
//! keeps the volume). The backup is named after the engine's token, so a call sent again
//! after a lost answer finds it instead of making a second one. It needs a Cinder with the
//! backup service (`cinder-backup`) running.

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    Attributes, CreateRequest, Created, Deleted, HandlerError, PhysicalId, PollTarget, Properties,
    Readiness, ResourceHandler, Schema, SnapshotRequest, SnapshotStarted,
    UpdateBehavior::{ForcesReplacement as F, Mutable as M},
    Updated,
};
use serde_json::{Value, json};

use super::{api, found, integer, map, poll_listed, required, resolve, text};
use crate::client::{Client, Service};
use crate::services::Fields;
use crate::services::volume::{Backup, Volume};

/// The metadata key that holds the engine's client token of a volume.
pub const CLIENT_TOKEN_KEY: &str = "iac:client-token";

/// `OS::Cinder::Volume`.
pub struct VolumeHandler {
    client: Client,
    schema: Schema,
}

impl VolumeHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let mut schema = Schema::new("OS::Cinder::Volume")
            .with_attributes(&[
                "size",
                "status",
                "attachments",
                "attachments_list",
                "created_at",
                "bootable",
                "display_name",
                "display_description",
                "volume_type",
                "metadata",
                "availability_zone",
                "encrypted",
                "show",
            ])
            .with_readiness_hint(Duration::from_secs(3))
            .with_snapshots()
            .strict();
        for (name, update) in [
            ("size", M),
            ("name", M),
            ("description", M),
            ("volume_type", F),
            ("image", F),
            ("availability_zone", F),
            ("metadata", M),
            ("source_volid", F),
            ("snapshot_id", F),
            ("multiattach", F),
        ] {
            schema = schema.with_property(name, false, update);
        }
        VolumeHandler { client, schema }
    }
}

fn volume_readiness(volume: Volume) -> Readiness {
    match volume.status.as_str() {
        "available" | "in-use" => Readiness::Ready(volume_attributes(&volume)),
        s if s.starts_with("error") => Readiness::Failed {
            reason: format!("volume {} is {s}", volume.id),
        },
        "deleted" => Readiness::Gone,
        s => Readiness::Pending {
            status: s.to_owned(),
        },
    }
}

/// A backup's progress as Heat reads it: `creating` is pending, `available` complete,
/// anything else a failure.
fn backup_readiness(backup: Backup) -> Readiness {
    match backup.status.as_str() {
        "available" => Readiness::Ready(super::attrs([
            ("id", json!(backup.id)),
            ("volume_id", json!(backup.volume_id)),
            ("status", json!(backup.status)),
        ])),
        // The answer to a create has no status yet.
        "creating" | "" => Readiness::Pending {
            status: "creating".into(),
        },
        other => Readiness::Failed {
            reason: match backup.fail_reason {
                Some(why) if !why.is_empty() => {
                    format!("backup {} is {other}: {why}", backup.id)
                }
                _ => format!("backup {} is {other}", backup.id),
            },
        },
    }
}

fn volume_attributes(v: &Volume) -> Attributes {
    let extra = |k: &str| v.extra.get(k).cloned().unwrap_or(Value::Null);
    let list: Vec<Value> = v
        .attachments
        .iter()
        .filter_map(|a| a.get("attachment_id").or_else(|| a.get("id")).cloned())
        .collect();
    super::attrs([
        ("size", json!(v.size)),
        ("status", json!(v.status)),
        ("attachments", json!(v.attachments)),
        ("attachments_list", Value::Array(list)),
        ("created_at", extra("created_at")),
        ("bootable", extra("bootable")),
        ("display_name", json!(v.name)),
        ("display_description", extra("description")),
        ("volume_type", json!(v.volume_type)),
        ("metadata", extra("metadata")),
        ("availability_zone", json!(v.availability_zone)),
        ("encrypted", extra("encrypted")),
        ("show", serde_json::to_value(v).unwrap_or(Value::Null)),
    ])
}

#[async_trait]
impl ResourceHandler for VolumeHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "volume"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties.as_ref();
        let size = integer(props, "size")?;
        let source = ["source_volid", "snapshot_id", "image"]
            .iter()
            .any(|p| text(props, p).is_some_and(|v| !v.is_empty()));
        if size.is_none() && !source {
            return Err(HandlerError::invalid(
                "property size is required (or image, source_volid, snapshot_id)",
            ));
        }
        if let Some(size) = size.filter(|s| *s < 1) {
            return Err(HandlerError::invalid(format!(
                "property size must be at least 1 (GiB), not {size}"
            )));
        }
        // The engine's token is kept in the volume's metadata: a create sent again after a
        // failure or a crash finds the volume the first one made.
        let token = request.client_token.as_str();
        let filter = json!({ CLIENT_TOKEN_KEY: token }).to_string();
        let mut made = self
            .client
            .volume()
            .list_volumes(&[("metadata", filter.as_str())]);
        if let Some(existing) = futures::TryStreamExt::try_next(&mut made)
            .await
            .map_err(api)?
        {
            return Ok(Created {
                physical_id: PhysicalId::new(&existing.id),
                readiness: volume_readiness(existing),
            });
        }
        let mut body = Fields::new();
        if let Some(size) = size {
            body.insert("size".into(), json!(size));
        }
        body.insert(
            "name".into(),
            json!(
                text(props, "name")
                    .unwrap_or_else(|| format!("{}-{}", request.stack, request.logical_id))
            ),
        );
        for (name, api_name) in [
            ("description", "description"),
            ("volume_type", "volume_type"),
            ("availability_zone", "availability_zone"),
            ("source_volid", "source_volid"),
            ("snapshot_id", "snapshot_id"),
        ] {
            if let Some(v) = text(props, name).filter(|v| !v.is_empty()) {
                body.insert(api_name.into(), json!(v));
            }
        }
        if let Some(image) = text(props, "image").filter(|v| !v.is_empty()) {
            let client = self.client.clone();
            let id = resolve("image", &image, "image", |name| {
                client.list::<Value>(Service::Image, "/images", "images", &[("name", name)])
            })
            .await?;
            body.insert("imageRef".into(), json!(id));
        }
        if let Some(m) = props.get("multiattach").filter(|v| !v.is_null()) {
            body.insert("multiattach".into(), m.clone());
        }
        let mut metadata = map(props, "metadata")?;
        metadata.insert(CLIENT_TOKEN_KEY.into(), json!(token));
        body.insert("metadata".into(), Value::Object(metadata));
        let volume = self
            .client
            .volume()
            .create_volume(body)
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(&volume.id),
            readiness: volume_readiness(volume),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        found(
            self.client.volume().get_volume(physical_id.as_str()).await,
            volume_readiness,
        )
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        if targets.len() == 1 {
            return Ok(vec![
                self.read(targets[0].physical_id, targets[0].properties)
                    .await?,
            ]);
        }
        let volumes = self.client.volume().list_volumes(&[("limit", "1000")]);
        poll_listed(targets, volumes, |v: &Volume| &v.id, volume_readiness).await
    }

    fn poll_batch_size(&self) -> usize {
        1000
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let id = physical_id.as_str();
        let (old_size, new_size) = (integer(old, "size")?, integer(new, "size")?);
        if let (Some(o), Some(n)) = (old_size, new_size)
            && n != o
        {
            if n < o {
                return Err(HandlerError::invalid(format!(
                    "property size: a volume cannot shrink ({o} -> {n} GiB)"
                )));
            }
            self.client
                .volume()
                .extend_volume(id, n as u64)
                .await
                .map_err(api)?;
        }
        let mut fields = Fields::new();
        for name in ["name", "description"] {
            if old.get(name) != new.get(name) {
                fields.insert(name.into(), json!(text(new, name).unwrap_or_default()));
            }
        }
        if old.get("metadata") != new.get("metadata") {
            fields.insert("metadata".into(), Value::Object(map(new, "metadata")?));
        }
        if !fields.is_empty() {
            self.client
                .volume()
                .update_volume(id, fields)
                .await
                .map_err(api)?;
        }
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn snapshot(
        &self,
        request: SnapshotRequest<'_>,
    ) -> Result<SnapshotStarted, HandlerError> {
        // Cinder takes no idempotency token: the backup is named after the engine's, and a
        // call sent again finds the backup the first one started.
        let name = request.client_token.as_str();
        let mut made = self.client.volume().list_backups(&[("name", name)]);
        if let Some(existing) = futures::TryStreamExt::try_next(&mut made)
            .await
            .map_err(api)?
        {
            return Ok(SnapshotStarted {
                snapshot_id: PhysicalId::new(&existing.id),
                readiness: backup_readiness(existing),
            });
        }
        let description = format!(
            "backup of {} ({}/{}) before its delete (deletion_policy Snapshot)",
            request.physical_id, request.stack, request.logical_id
        );
        let backup = self
            .client
            .volume()
            .create_backup(request.physical_id.as_str(), name, &description, false)
            .await
            .map_err(api)?;
        Ok(SnapshotStarted {
            snapshot_id: PhysicalId::new(&backup.id),
            readiness: backup_readiness(backup),
        })
    }

    async fn read_snapshot(&self, snapshot_id: &PhysicalId) -> Result<Readiness, HandlerError> {
        found(
            self.client.volume().get_backup(snapshot_id.as_str()).await,
            backup_readiness,
        )
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Deleted, HandlerError> {
        match self.client.volume().get_volume(physical_id.as_str()).await {
            Err(e) if e.is_not_found() => return Ok(Deleted::Done),
            Ok(v) if v.status == "deleting" => return Ok(Deleted::InProgress),
            // Cinder refuses to delete a volume that is creating, attaching or detaching.
            Ok(v)
                if v.status != "available"
                    && !v.status.starts_with("error")
                    && v.status != "in-use" =>
            {
                return Err(HandlerError::new(
                    iac_core::provider::ErrorKind::NotReady,
                    format!(
                        "volume {physical_id} is {}: deleted once it settles",
                        v.status
                    ),
                ));
            }
            _ => {}
        }
        self.client
            .volume()
            .delete_volume(physical_id.as_str())
            .await
            .map_err(api)?;
        Ok(Deleted::InProgress)
    }
}

/// `OS::Cinder::VolumeAttachment`: the physical id is the volume's id, as in Heat.
pub struct VolumeAttachmentHandler {
    client: Client,
    schema: Schema,
}

impl VolumeAttachmentHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("OS::Cinder::VolumeAttachment")
            .with_property("instance_uuid", true, F)
            .with_property("volume_id", true, F)
            .with_property("mountpoint", false, F)
            .with_attributes(&["show"])
            .with_readiness_hint(Duration::from_secs(3))
            .strict();
        VolumeAttachmentHandler { client, schema }
    }
}

#[async_trait]
impl ResourceHandler for VolumeAttachmentHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "compute"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties.as_ref();
        let server = required(props, "instance_uuid")?;
        let volume = required(props, "volume_id")?;
        let mountpoint = text(props, "mountpoint").filter(|m| !m.is_empty());
        match self
            .client
            .compute()
            .attach_volume(&server, &volume, mountpoint.as_deref())
            .await
        {
            Ok(_) => {}
            // A volume still `creating`, or a server still building: not yet.
            Err(e) if e.http_status == 400 || e.http_status == 409 => {
                return Err(HandlerError::new(
                    iac_core::provider::ErrorKind::NotReady,
                    e.to_string(),
                ));
            }
            Err(e) => return Err(api(e)),
        }
        Ok(Created {
            physical_id: PhysicalId::new(volume),
            readiness: Readiness::Pending {
                status: "attaching".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let server = required(props, "instance_uuid")?;
        let attachment = match self
            .client
            .compute()
            .get_volume_attachment(&server, physical_id.as_str())
            .await
        {
            Ok(a) => a,
            Err(e) if e.is_not_found() => return Ok(Readiness::Gone),
            Err(e) => return Err(api(e)),
        };
        let volume = self
            .client
            .volume()
            .get_volume(physical_id.as_str())
            .await
            .map_err(api)?;
        Ok(match volume.status.as_str() {
            "in-use" => Readiness::Ready(super::attrs([(
                "show",
                serde_json::to_value(&attachment).unwrap_or(Value::Null),
            )])),
            s if s.starts_with("error") => Readiness::Failed {
                reason: format!("volume {} is {s}", volume.id),
            },
            s => Readiness::Pending {
                status: s.to_owned(),
            },
        })
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let server = required(props, "instance_uuid")?;
        match self
            .client
            .compute()
            .get_volume_attachment(&server, physical_id.as_str())
            .await
        {
            Err(e) if e.is_not_found() => return Ok(Deleted::Done),
            Err(e) => return Err(api(e)),
            Ok(_) => {}
        }
        if let Ok(v) = self.client.volume().get_volume(physical_id.as_str()).await
            && v.status == "detaching"
        {
            return Ok(Deleted::InProgress);
        }
        self.client
            .compute()
            .detach_volume(&server, physical_id.as_str())
            .await
            .map_err(api)?;
        Ok(Deleted::InProgress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{client, create_error};

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        let h = VolumeHandler::new(client());
        assert!(
            create_error(&h, json!({"name": "v"}))
                .await
                .message
                .contains("property size is required")
        );
        assert!(
            create_error(&h, json!({"size": 0}))
                .await
                .message
                .contains("at least 1")
        );
        let h = VolumeAttachmentHandler::new(client());
        assert_eq!(
            create_error(&h, json!({"volume_id": "v"})).await.message,
            "property instance_uuid is required"
        );
    }
}
