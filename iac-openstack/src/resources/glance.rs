//! `OS::Glance::WebImage`: an image Glance downloads from `location` with the
//! `web-download` import method; ready when `active`.

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    Attributes, CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement as F, Mutable as M},
    Updated,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::{api, boolean, found, integer, required, string_list, text};
use crate::client::{Body, Client, Service};
use crate::services::Fields;
use crate::services::image::Image;

/// `OS::Glance::WebImage`.
pub struct WebImageHandler {
    client: Client,
    schema: Schema,
}

impl WebImageHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let mut schema = Schema::new("OS::Glance::WebImage")
            .with_attributes(&["status", "size", "checksum", "show"])
            .with_readiness_hint(Duration::from_secs(2))
            .strict();
        for (name, required, update) in [
            ("location", true, F),
            ("disk_format", true, F),
            ("container_format", true, F),
            ("name", false, M),
            ("min_disk", false, F),
            ("min_ram", false, F),
            ("protected", false, M),
            ("visibility", false, M),
            ("tags", false, M),
            ("os_distro", false, F),
            ("architecture", false, F),
            ("id", false, F),
        ] {
            schema = schema.with_property(name, required, update);
        }
        WebImageHandler { client, schema }
    }
}

fn image_readiness(image: Image) -> Readiness {
    match image.status.as_str() {
        "active" => {
            let mut a = Attributes::new();
            a.insert("status".into(), json!(image.status));
            a.insert("size".into(), json!(image.size));
            a.insert("checksum".into(), json!(image.checksum));
            a.insert(
                "show".into(),
                serde_json::to_value(&image).unwrap_or(Value::Null),
            );
            Readiness::Ready(a)
        }
        "killed" => Readiness::Failed {
            reason: format!("image {} import failed (killed)", image.id),
        },
        "deleted" | "pending_delete" => Readiness::Gone,
        s => Readiness::Pending {
            status: s.to_owned(),
        },
    }
}

#[async_trait]
impl ResourceHandler for WebImageHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "image"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties.as_ref();
        let location = required(props, "location")?;
        if !(location.starts_with("http://") || location.starts_with("https://")) {
            return Err(HandlerError::invalid(format!(
                "property location must be an http(s) URL, not '{location}'"
            )));
        }
        let mut body = Fields::new();
        body.insert(
            "name".into(),
            json!(
                text(props, "name")
                    .unwrap_or_else(|| format!("{}-{}", request.stack, request.logical_id))
            ),
        );
        body.insert("disk_format".into(), json!(required(props, "disk_format")?));
        body.insert(
            "container_format".into(),
            json!(required(props, "container_format")?),
        );
        for name in ["min_disk", "min_ram"] {
            if let Some(n) = integer(props, name)? {
                body.insert(name.into(), json!(n));
            }
        }
        if let Some(p) = boolean(props, "protected")? {
            body.insert("protected".into(), json!(p));
        }
        for name in ["visibility", "os_distro", "architecture", "id"] {
            if let Some(v) = text(props, name).filter(|v| !v.is_empty()) {
                body.insert(name.into(), json!(v));
            }
        }
        let tags = string_list(props, "tags")?;
        if !tags.is_empty() {
            body.insert("tags".into(), json!(tags));
        }
        let image = self.client.image().create_image(body).await.map_err(api)?;
        self.client
            .send(
                Service::Image,
                Method::POST,
                &format!("/images/{}/import", image.id),
                Body::Json(json!({ "method": { "name": "web-download", "uri": location } })),
            )
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(image.id),
            readiness: Readiness::Pending {
                status: "importing".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        found(
            self.client.image().get_image(physical_id.as_str()).await,
            image_readiness,
        )
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let mut patch = Vec::new();
        for name in ["name", "visibility", "protected", "tags"] {
            if old.get(name) != new.get(name) {
                let value = match name {
                    "protected" => json!(boolean(new, name)?.unwrap_or(false)),
                    "tags" => json!(string_list(new, name)?),
                    _ => json!(text(new, name).unwrap_or_default()),
                };
                patch.push(json!({ "op": "replace", "path": format!("/{name}"), "value": value }));
            }
        }
        if !patch.is_empty() {
            let bytes =
                serde_json::to_vec(&patch).map_err(|e| HandlerError::permanent(e.to_string()))?;
            self.client
                .send(
                    Service::Image,
                    Method::PATCH,
                    &format!("/images/{physical_id}"),
                    Body::Bytes(bytes, "application/openstack-images-v2.1-json-patch"),
                )
                .await
                .map_err(api)?;
        }
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Deleted, HandlerError> {
        self.client
            .image()
            .delete_image(physical_id.as_str())
            .await
            .map_err(api)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{client, create_error};

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        let h = WebImageHandler::new(client());
        let e = create_error(&h, json!({"location": "file:///etc/passwd", "disk_format": "raw", "container_format": "bare"})).await;
        assert!(
            e.message.contains("location must be an http(s) URL"),
            "{}",
            e.message
        );
        assert_eq!(
            create_error(&h, json!({"disk_format": "raw"}))
                .await
                .message,
            "property location is required"
        );
    }
}
