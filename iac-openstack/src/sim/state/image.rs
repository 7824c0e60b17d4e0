//! Glance's API in the simulator.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use md5::Digest;
use serde_json::{Value, json};

use super::{Answer, World, error, field_text, ok, status};

fn not_found(id: &str) -> Answer {
    error(
        "image",
        StatusCode::NOT_FOUND,
        "Not Found",
        &format!("No image found with ID {id}"),
    )
}

impl World {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn image(
        &mut self,
        method: &Method,
        rest: &[&str],
        q: &[(String, String)],
        headers: &HeaderMap,
        raw: &Bytes,
        body: Value,
        project: &str,
    ) -> Answer {
        match (method.clone(), rest) {
            (Method::GET, ["images"]) => {
                let (items, last) = Self::page(self.list("images").to_vec(), q);
                let mut answer =
                    json!({"images": items, "first": "/v2/images", "schema": "/v2/schemas/images"});
                if let Some(marker) = last {
                    answer["next"] = json!(format!("/v2/images?{}", Self::next_query(q, &marker)));
                }
                ok(answer)
            }
            (Method::POST, ["images"]) => {
                let mut f = body.as_object().cloned().unwrap_or_default();
                if f.get("visibility").map(field_text).as_deref() == Some("public")
                    && project != "admin-project"
                {
                    return error(
                        "image",
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        "You are not authorized to complete publicize_image action.",
                    );
                }
                let id = f.get("id").map(field_text).unwrap_or_else(|| self.id());
                f.insert("id".into(), json!(id));
                f.insert("status".into(), json!("queued"));
                f.insert("owner".into(), json!(project));
                f.entry("visibility").or_insert(json!("shared"));
                f.entry("protected").or_insert(json!(false));
                f.entry("tags").or_insert(json!([]));
                for k in ["size", "checksum", "os_hash_value"] {
                    f.insert(k.into(), Value::Null);
                }
                let image = Value::Object(f);
                self.list_mut("images").push(image.clone());
                status(StatusCode::CREATED, image)
            }
            (Method::GET, ["images", id]) => match self.find("images", id) {
                Some(i) => ok(i.clone()),
                None => not_found(id),
            },
            (Method::PATCH, ["images", id]) => {
                let ops: Vec<Value> = serde_json::from_slice(raw).unwrap_or_default();
                let Some(image) = self.find_mut("images", id) else {
                    return not_found(id);
                };
                for op in ops {
                    if let Some(path) = op["path"].as_str() {
                        image[path.trim_start_matches('/')] = op["value"].clone();
                    }
                }
                ok(image.clone())
            }
            (Method::DELETE, ["images", id]) => {
                if self
                    .find("images", id)
                    .is_some_and(|i| i["protected"] == json!(true))
                {
                    return error(
                        "image",
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        &format!("Image {id} is protected and cannot be deleted."),
                    );
                }
                match self.remove("images", id) {
                    Some(_) => {
                        self.image_data.remove(*id);
                        status(StatusCode::NO_CONTENT, Value::Null)
                    }
                    None => not_found(id),
                }
            }
            (Method::PUT, ["images", id, target @ ("file" | "stage")]) => {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if content_type != "application/octet-stream" {
                    return error(
                        "image",
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "Unsupported Media Type",
                        "The request has an unsupported media type.",
                    );
                }
                let Some(image) = self.find("images", id) else {
                    return not_found(id);
                };
                if image["status"] != "queued" {
                    return error(
                        "image",
                        StatusCode::CONFLICT,
                        "Conflict",
                        &format!(
                            "Image status transition from {} to saving is not allowed",
                            field_text(&image["status"])
                        ),
                    );
                }
                if *target == "stage" {
                    self.image_data.insert((*id).to_owned(), raw.to_vec());
                    if let Some(i) = self.find_mut("images", id) {
                        i["status"] = json!("uploading");
                    }
                } else {
                    self.store_image(id, raw.to_vec());
                }
                status(StatusCode::NO_CONTENT, Value::Null)
            }
            (Method::GET, ["images", id, "file"]) => {
                match (self.find("images", id), self.image_data.get(*id)) {
                    (Some(i), Some(data)) if i["status"] == "active" => {
                        let mut r =
                            axum::response::Response::new(axum::body::Body::from(data.clone()));
                        r.headers_mut().insert(
                            "content-type",
                            "application/octet-stream".parse().expect("header"),
                        );
                        (r, None)
                    }
                    (Some(_), _) => status(StatusCode::NO_CONTENT, Value::Null),
                    (None, _) => not_found(id),
                }
            }
            (Method::POST, ["images", id, "import"]) => {
                let Some(image) = self.find("images", id).cloned() else {
                    return not_found(id);
                };
                match body["method"]["name"].as_str() {
                    Some("glance-direct") if image["status"] == "uploading" => {
                        let data = self.image_data.remove(*id).unwrap_or_default();
                        self.store_image(id, data);
                        status(StatusCode::ACCEPTED, Value::Null)
                    }
                    Some("web-download") if image["status"] == "queued" => {
                        let uri = field_text(&body["method"]["uri"]);
                        if let Some(i) = self.find_mut("images", id) {
                            i["status"] = json!("importing");
                        }
                        (
                            super::respond(StatusCode::ACCEPTED, Value::Null),
                            Some(((*id).to_owned(), uri)),
                        )
                    }
                    _ => error(
                        "image",
                        StatusCode::CONFLICT,
                        "Conflict",
                        &format!("Image {id} is not in a state for this import method."),
                    ),
                }
            }
            _ => error(
                "image",
                StatusCode::NOT_FOUND,
                "Not Found",
                "The resource could not be found.",
            ),
        }
    }

    fn store_image(&mut self, id: &str, data: Vec<u8>) {
        let checksum = hex::encode(md5::Md5::digest(&data));
        let hash = hex::encode(sha2::Sha512::digest(&data));
        if let Some(i) = self.find_mut("images", id) {
            i["status"] = json!("active");
            i["size"] = json!(data.len());
            i["checksum"] = json!(checksum);
            i["os_hash_algo"] = json!("sha512");
            i["os_hash_value"] = json!(hash);
        }
        self.image_data.insert(id.to_owned(), data);
    }

    /// Records the outcome of a `web-download`: active with the data, or `killed`.
    pub(crate) fn finish_import(&mut self, id: &str, data: Option<Vec<u8>>) {
        match data {
            Some(data) => self.store_image(id, data),
            None => {
                if let Some(i) = self.find_mut("images", id) {
                    i["status"] = json!("killed");
                }
            }
        }
    }
}
