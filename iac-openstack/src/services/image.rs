//! Glance (`image`, API v2): create, upload (direct or through the `glance-direct` import
//! flow), status, list, delete. Glance inspects uploads: declare `raw` for plain bytes.

use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Fields, Wait, wait_until};
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// An image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `queued`, `saving`, `uploading`, `importing`, `active`, `killed`, `deleted`, ...
    pub status: String,
    /// `raw`, `qcow2`, ...
    #[serde(default)]
    pub disk_format: Option<String>,
    /// `bare`, ...
    #[serde(default)]
    pub container_format: Option<String>,
    /// Size in bytes, once uploaded.
    #[serde(default)]
    pub size: Option<u64>,
    /// MD5 of the data, once uploaded.
    #[serde(default)]
    pub checksum: Option<String>,
    /// `public`, `private`, `shared`, `community`.
    #[serde(default)]
    pub visibility: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// The image service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct ImageApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The image service (Glance).
    pub fn image(&self) -> ImageApi<'_> {
        ImageApi { client: self }
    }
}

impl ImageApi<'_> {
    /// Reads an image.
    pub async fn get_image(&self, id: &str) -> Result<Image, ApiError> {
        self.client
            .call(
                Service::Image,
                Method::GET,
                &format!("/images/{id}"),
                Body::Empty,
                None,
            )
            .await
    }

    /// Lists images matching `query` (`name`, `status`, `visibility`, `limit`), page by page.
    pub fn list_images(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Image, ApiError>> {
        self.client.list(Service::Image, "/images", "images", query)
    }

    /// Creates an image record (`name`, `disk_format`, `container_format`, `visibility`,
    /// `min_disk`, `min_ram`, properties); it is `queued` until data is uploaded.
    pub async fn create_image(&self, fields: Fields) -> Result<Image, ApiError> {
        self.client
            .call(
                Service::Image,
                Method::POST,
                "/images",
                Body::Json(serde_json::Value::Object(fields)),
                None,
            )
            .await
    }

    /// Uploads the image's data (`PUT /images/{id}/file`); the image is `active` after.
    pub async fn upload_image(&self, id: &str, data: Vec<u8>) -> Result<(), ApiError> {
        self.client
            .send(
                Service::Image,
                Method::PUT,
                &format!("/images/{id}/file"),
                Body::Bytes(data, "application/octet-stream"),
            )
            .await
            .map(drop)
    }

    /// Stages data and starts the `glance-direct` import; poll the status until `active`.
    pub async fn import_image(&self, id: &str, data: Vec<u8>) -> Result<(), ApiError> {
        self.client
            .send(
                Service::Image,
                Method::PUT,
                &format!("/images/{id}/stage"),
                Body::Bytes(data, "application/octet-stream"),
            )
            .await?;
        self.client
            .send(
                Service::Image,
                Method::POST,
                &format!("/images/{id}/import"),
                Body::Json(json!({ "method": { "name": "glance-direct" } })),
            )
            .await
            .map(drop)
    }

    /// Downloads the image's data.
    pub async fn download_image(&self, id: &str) -> Result<Vec<u8>, ApiError> {
        Ok(self
            .client
            .send(
                Service::Image,
                Method::GET,
                &format!("/images/{id}/file"),
                Body::Empty,
            )
            .await?
            .body)
    }

    /// Deletes an image; one already gone is deleted.
    pub async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Image, &format!("/images/{id}"))
            .await
    }

    /// Waits until the image is `active`; `killed` or `deleted` fail at once.
    pub async fn wait_image_active(&self, id: &str, wait: Wait) -> Result<Image, ApiError> {
        wait_until(wait, &format!("image {id} active"), || async {
            let image = self.get_image(id).await?;
            match image.status.as_str() {
                "active" => Ok(Ok(image)),
                "killed" | "deleted" => Err(ApiError::local(
                    "image",
                    id,
                    "Failed",
                    format!("image is {}", image.status),
                )),
                other => Ok(Err(other.to_owned())),
            }
        })
        .await
    }
}
