//! `ALIYUN::OSS::Bucket` (OSS REST API).
//!
//! Creating a bucket this account owns already succeeds, so a retried create is safe
//! without a token. A bucket's name is global across all accounts: a name another account
//! holds is a property error, not a conflict to wait out.

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement, Mutable},
    Updated,
};
use serde_json::json;

use super::{api, boolean, changed, endpoint_key, required, tags, text};
use crate::client::{BucketAcl, Client};
use crate::endpoints::Product;

/// Checks a bucket name as OSS does: 3–63 characters of `a-z`, `0-9` and `-`, neither
/// starting nor ending with `-`.
fn bucket_name(props: &Properties) -> Result<String, HandlerError> {
    let name = required(props, "BucketName")?;
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(name)
    } else {
        Err(HandlerError::invalid(format!(
            "property BucketName must be 3–63 characters of a-z, 0-9 and -, not starting or ending with -, not {name:?}"
        )))
    }
}

fn access_control(props: &Properties) -> Result<BucketAcl, HandlerError> {
    match text(props, "AccessControl") {
        None => Ok(BucketAcl::Private),
        Some(acl) => BucketAcl::parse(&acl).ok_or_else(|| {
            HandlerError::invalid(format!("property AccessControl must be private, public-read or public-read-write, not {acl:?}"))
        }),
    }
}

fn storage_class(props: &Properties) -> Result<(), HandlerError> {
    match text(props, "StorageClass").as_deref() {
        None | Some("Standard") => Ok(()),
        Some(other) => Err(HandlerError::invalid(format!(
            "property StorageClass {other:?} is not supported: this crate creates Standard buckets only"
        ))),
    }
}

/// `ALIYUN::OSS::Bucket`: `PutBucket`, ready at once. Its physical id is the bucket name.
pub struct BucketHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl BucketHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::OSS::Bucket")
            .with_property("BucketName", true, ForcesReplacement)
            .with_property("AccessControl", false, Mutable)
            .with_property("DeletionForce", false, Mutable)
            .with_property("StorageClass", false, ForcesReplacement)
            .with_attributes(&["Name", "DomainName", "InternalDomainName", "Arn"])
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Oss);
        BucketHandler {
            client,
            schema,
            endpoint,
        }
    }

    /// The attributes of a bucket in the client's region.
    fn ready(&self, bucket: &str) -> Readiness {
        let region = self.client.region();
        Readiness::Ready(super::attrs([
            ("Name", json!(bucket)),
            (
                "DomainName",
                json!(format!("{bucket}.oss-{region}.aliyuncs.com")),
            ),
            (
                "InternalDomainName",
                json!(format!("{bucket}.oss-{region}-internal.aliyuncs.com")),
            ),
            ("Arn", json!(format!("acs:oss:*:*:{bucket}"))),
        ]))
    }

    /// Deletes every object of a bucket, listing again until the listing is empty.
    async fn empty(&self, bucket: &str) -> Result<(), HandlerError> {
        let oss = self.client.oss();
        let mut previous: Vec<String> = Vec::new();
        loop {
            let keys = match oss.list_objects(bucket).await {
                Ok(keys) => keys,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(api(e)),
            };
            if keys.is_empty() {
                return Ok(());
            }
            if keys == previous {
                return Err(HandlerError::transient(format!(
                    "bucket {bucket}: deleted objects are still listed ({} of them); deleting again later",
                    keys.len()
                )));
            }
            for key in &keys {
                oss.delete_object(bucket, key).await.map_err(api)?;
            }
            previous = keys;
        }
    }
}

#[async_trait]
impl ResourceHandler for BucketHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let bucket = bucket_name(props)?;
        let acl = access_control(props)?;
        storage_class(props)?;
        boolean(props, "DeletionForce")?;
        match self.client.oss().put_bucket(&bucket, acl).await {
            Ok(()) => {}
            Err(e) if e.code == "BucketAlreadyExists" => {
                return Err(HandlerError::invalid(format!(
                    "property BucketName: bucket {bucket} belongs to another account (bucket names are global): {e}"
                )));
            }
            Err(e) => return Err(api(e)),
        }
        // Tagged like every created object, so it can be found again.
        self.client
            .oss()
            .put_bucket_tags(&bucket, &tags(request.stack, request.logical_id))
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(bucket.as_str()),
            readiness: self.ready(&bucket),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        match self.client.oss().bucket_info(physical_id.as_str()).await {
            Ok(info) => Ok(self.ready(if info.name.is_empty() {
                physical_id.as_str()
            } else {
                &info.name
            })),
            Err(e) if e.is_not_found() => Ok(Readiness::Gone),
            Err(e) => Err(api(e)),
        }
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let acl = access_control(new)?;
        boolean(new, "DeletionForce")?;
        if changed(old, new, "AccessControl") {
            self.client
                .oss()
                .put_bucket_acl(physical_id.as_str(), acl)
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
        props: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let bucket = physical_id.as_str();
        if boolean(props, "DeletionForce")?.unwrap_or(false) {
            self.empty(bucket).await?;
        }
        match self.client.oss().delete_bucket(bucket).await {
            Ok(()) => Ok(Deleted::Done),
            Err(e) if e.is_not_found() => Ok(Deleted::Done),
            Err(e) if e.code == "BucketNotEmpty" => Err(HandlerError::permanent(format!(
                "bucket {bucket} still holds objects; set DeletionForce: true to delete them with it"
            ))),
            Err(e) => Err(api(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;
    use crate::sign::AccessKey;
    use iac_core::provider::{ClientToken, ErrorKind};
    use serde_json::Value;

    fn client() -> Client {
        Client::new(
            ClientConfig::new("cn-hangzhou", AccessKey::new("id", "secret"))
                .with_endpoint("http://127.0.0.1:9"),
        )
        .expect("a client")
    }

    fn props(value: Value) -> Properties {
        value.as_object().cloned().expect("an object")
    }

    async fn create_error(properties: Value) -> HandlerError {
        let handler = BucketHandler::new(client());
        let properties = props(properties);
        let token = ClientToken::derive("s", "L", 1);
        let request = CreateRequest {
            stack: "s",
            logical_id: "L",
            properties: &std::sync::Arc::new(properties.clone()),
            client_token: &token,
        };
        handler
            .create(request)
            .await
            .expect_err("the properties are refused")
    }

    #[test]
    fn the_schema_names_the_getatt_attributes_and_is_strict() {
        let handler = BucketHandler::new(client());
        assert_eq!(
            handler.schema().attributes,
            ["Name", "DomainName", "InternalDomainName", "Arn"]
        );
        assert!(handler.schema().strict_properties);
        assert_eq!(handler.endpoint(), "oss.cn-hangzhou");
        assert!(handler.schema().forces_replacement("BucketName"));
        assert!(!handler.schema().forces_replacement("AccessControl"));
    }

    #[test]
    fn attributes_follow_the_region() {
        let Readiness::Ready(attrs) = BucketHandler::new(client()).ready("logs-1") else {
            panic!("a bucket is ready at once");
        };
        assert_eq!(attrs["DomainName"], "logs-1.oss-cn-hangzhou.aliyuncs.com");
        assert_eq!(
            attrs["InternalDomainName"],
            "logs-1.oss-cn-hangzhou-internal.aliyuncs.com"
        );
        assert_eq!(attrs["Arn"], "acs:oss:*:*:logs-1");
        assert_eq!(attrs["Name"], "logs-1");
    }

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        for name in ["ab", "Logs", "-logs", "logs-", "logs_1", &"a".repeat(64)] {
            let e = create_error(json!({ "BucketName": name })).await;
            assert_eq!(e.kind, ErrorKind::Invalid, "{name}");
            assert!(e.message.contains("BucketName"), "{name}: {}", e.message);
        }
        let e = create_error(json!({"BucketName": "logs-1", "AccessControl": "public"})).await;
        assert!(e.message.contains("AccessControl"), "{}", e.message);
        let e = create_error(json!({"BucketName": "logs-1", "StorageClass": "Archive"})).await;
        assert!(e.message.contains("StorageClass"), "{}", e.message);
        let e = create_error(json!({"BucketName": "logs-1", "DeletionForce": "maybe"})).await;
        assert!(e.message.contains("DeletionForce"), "{}", e.message);
        let e = create_error(json!({})).await;
        assert!(
            e.message.contains("BucketName is required"),
            "{}",
            e.message
        );
    }
}
