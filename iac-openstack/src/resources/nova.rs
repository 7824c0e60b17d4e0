//! `OS::Nova::Server`: a server with `user_data` (sent base64-encoded), networks and
//! security groups. Creation answers `Pending`; readiness is polled for many servers with
//! one paginated `GET /servers/detail` instead of one read per server.

use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use iac_core::provider::{
    Attributes, CreateRequest, Created, Deleted, HandlerError, PhysicalId, PollTarget, Properties,
    Readiness, ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement as F, Mutable as M},
    Updated,
};
use serde_json::{Value, json};

use super::{api, found, map, poll_listed, resolve, string_list, text};
use crate::client::{Client, Service};
use crate::services::Fields;
use crate::services::compute::{Server, server_fault};

/// `OS::Nova::Server`.
pub struct ServerHandler {
    client: Client,
    schema: Schema,
}

impl ServerHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let mut schema = Schema::new("OS::Nova::Server")
            .with_attributes(&[
                "name",
                "first_address",
                "addresses",
                "networks",
                "accessIPv4",
                "accessIPv6",
                "instance_name",
                "show",
            ])
            .with_readiness_hint(Duration::from_secs(5))
            .with_ready_timeout(Duration::from_secs(30 * 60))
            .strict();
        for (name, update) in [
            ("name", M),
            ("image", F),
            ("flavor", F),
            ("key_name", F),
            ("user_data", F),
            ("user_data_format", F),
            ("networks", F),
            ("security_groups", F),
            ("metadata", M),
            ("availability_zone", F),
            ("config_drive", F),
            ("scheduler_hints", F),
            ("block_device_mapping_v2", F),
            ("admin_pass", F),
        ] {
            schema = schema.with_property(name, false, update);
        }
        ServerHandler { client, schema }
    }

    async fn flavor_id(&self, value: &str) -> Result<String, HandlerError> {
        let flavors: Vec<_> = self
            .client
            .compute()
            .list_flavors()
            .try_collect()
            .await
            .map_err(api)?;
        flavors
            .iter()
            .find(|f| f.id == value)
            .or_else(|| flavors.iter().find(|f| f.name == value))
            .map(|f| f.id.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = flavors.iter().map(|f| f.name.as_str()).collect();
                HandlerError::invalid(format!(
                    "property flavor: no flavor '{value}' (flavors: {})",
                    names.join(", ")
                ))
            })
    }

    async fn networks(&self, props: &Properties) -> Result<Value, HandlerError> {
        let Some(nets) = props.get("networks").filter(|v| !v.is_null()) else {
            return Ok(json!("auto"));
        };
        let nets = nets
            .as_array()
            .ok_or_else(|| HandlerError::invalid("property networks must be a list"))?;
        let mut out = Vec::new();
        for (i, net) in nets.iter().enumerate() {
            let net = net.as_object().ok_or_else(|| {
                HandlerError::invalid(format!("property networks[{i}] must be a map"))
            })?;
            if let Some(mode) = text(net, "allocate_network") {
                match mode.as_str() {
                    "none" | "auto" if nets.len() == 1 => return Ok(json!(mode)),
                    "none" | "auto" => {
                        return Err(HandlerError::invalid(format!(
                            "property networks[{i}].allocate_network must be the only entry"
                        )));
                    }
                    other => {
                        return Err(HandlerError::invalid(format!(
                            "property networks[{i}].allocate_network must be none or auto, not '{other}'"
                        )));
                    }
                }
            }
            if net.contains_key("subnet") {
                return Err(HandlerError::invalid(format!(
                    "property networks[{i}].subnet is not supported: make an OS::Neutron::Port on the subnet and pass its port"
                )));
            }
            let mut entry = Fields::new();
            if let Some(network) = text(net, "network").filter(|n| !n.is_empty()) {
                let client = self.client.clone();
                let id = resolve(
                    &format!("networks[{i}].network"),
                    &network,
                    "network",
                    |name| {
                        client.list::<Value>(
                            Service::Network,
                            "/networks",
                            "networks",
                            &[("name", name)],
                        )
                    },
                )
                .await?;
                entry.insert("uuid".into(), json!(id));
            }
            if let Some(port) = text(net, "port").filter(|p| !p.is_empty()) {
                entry.insert("port".into(), json!(port));
            }
            if let Some(ip) = text(net, "fixed_ip").filter(|p| !p.is_empty()) {
                entry.insert("fixed_ip".into(), json!(ip));
            }
            if entry.is_empty() {
                return Err(HandlerError::invalid(format!(
                    "property networks[{i}] needs network, port or allocate_network"
                )));
            }
            out.push(Value::Object(entry));
        }
        Ok(Value::Array(out))
    }

    async fn body(
        &self,
        props: &Properties,
        default_name: &str,
    ) -> Result<(Fields, Option<String>), HandlerError> {
        let image = text(props, "image").filter(|i| !i.is_empty());
        let flavor = text(props, "flavor")
            .filter(|f| !f.is_empty())
            .ok_or_else(|| HandlerError::invalid("property flavor is required"))?;
        match text(props, "user_data_format").as_deref() {
            None | Some("RAW") => {}
            Some(other) => {
                return Err(HandlerError::invalid(format!(
                    "property user_data_format '{other}' is not supported: only RAW (the others need Heat's metadata server)"
                )));
            }
        }
        let mut body = Fields::new();
        body.insert(
            "name".into(),
            json!(
                text(props, "name")
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| default_name.to_owned())
            ),
        );
        body.insert("flavorRef".into(), json!(self.flavor_id(&flavor).await?));
        if let Some(image) = image {
            let client = self.client.clone();
            let id = resolve("image", &image, "image", |name| {
                client.list::<Value>(Service::Image, "/images", "images", &[("name", name)])
            })
            .await?;
            body.insert("imageRef".into(), json!(id));
        } else if !props.contains_key("block_device_mapping_v2") {
            return Err(HandlerError::invalid(
                "property image is required (or block_device_mapping_v2)",
            ));
        }
        body.insert("networks".into(), self.networks(props).await?);
        let groups = string_list(props, "security_groups")?;
        if !groups.is_empty() {
            body.insert(
                "security_groups".into(),
                json!(
                    groups
                        .iter()
                        .map(|g| json!({ "name": g }))
                        .collect::<Vec<_>>()
                ),
            );
        }
        let metadata = map(props, "metadata")?;
        if !metadata.is_empty() {
            body.insert("metadata".into(), Value::Object(metadata));
        }
        for (name, api_name) in [
            ("key_name", "key_name"),
            ("availability_zone", "availability_zone"),
            ("admin_pass", "adminPass"),
        ] {
            if let Some(v) = text(props, name).filter(|v| !v.is_empty()) {
                body.insert(api_name.into(), json!(v));
            }
        }
        if let Some(v) = props.get("config_drive").filter(|v| !v.is_null()) {
            body.insert("config_drive".into(), v.clone());
        }
        if let Some(v) = props
            .get("block_device_mapping_v2")
            .filter(|v| !v.is_null())
        {
            body.insert("block_device_mapping_v2".into(), v.clone());
        }
        Ok((body, text(props, "user_data").filter(|u| !u.is_empty())))
    }
}

fn readiness(server: Server) -> Readiness {
    match server.status.as_str() {
        "ACTIVE" => Readiness::Ready(attributes(&server)),
        "ERROR" => Readiness::Failed {
            reason: server_fault(&server),
        },
        "DELETED" | "SOFT_DELETED" => Readiness::Gone,
        other => Readiness::Pending {
            status: other.to_owned(),
        },
    }
}

/// Heat's server attributes.
fn attributes(server: &Server) -> Attributes {
    let mut networks = serde_json::Map::new();
    let mut first = Value::Null;
    if let Some(addresses) = server.addresses.as_object() {
        for (net, list) in addresses {
            let ips: Vec<Value> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("addr").cloned())
                .collect();
            if first.is_null() {
                first = ips.first().cloned().unwrap_or(Value::Null);
            }
            networks.insert(net.clone(), Value::Array(ips));
        }
    }
    let show = serde_json::to_value(server).unwrap_or(Value::Null);
    let extra = |k: &str| server.extra.get(k).cloned().unwrap_or(Value::Null);
    super::attrs([
        ("name", json!(server.name)),
        ("first_address", first),
        ("addresses", server.addresses.clone()),
        ("networks", Value::Object(networks)),
        ("accessIPv4", extra("accessIPv4")),
        ("accessIPv6", extra("accessIPv6")),
        ("instance_name", extra("OS-EXT-SRV-ATTR:instance_name")),
        ("show", show),
    ])
}

#[async_trait]
impl ResourceHandler for ServerHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "compute"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let name = format!("{}-{}", request.stack, request.logical_id);
        let (mut body, user_data) = self.body(request.properties, &name).await?;
        // The engine's token tags the server (Nova's tags hold 60 characters): a create sent
        // again after a failure or a crash finds the server the first one made.
        let tag: String = request.client_token.as_str().chars().take(60).collect();
        let mut made = self
            .client
            .compute()
            .list_servers(&[("tags", tag.as_str())]);
        if let Some(existing) = made.try_next().await.map_err(api)? {
            return Ok(Created {
                physical_id: PhysicalId::new(&existing.id),
                readiness: readiness(existing),
            });
        }

        body.insert("tags".into(), json!([tag]));
        let id = self
            .client
            .compute()
            .create_server(body, user_data.as_deref())
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Pending {
                status: "BUILD".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        found(
            self.client.compute().get_server(physical_id.as_str()).await,
            readiness,
        )
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        if targets.len() == 1 {
            return Ok(vec![
                self.read(targets[0].physical_id, targets[0].properties)
                    .await?,
            ]);
        }
        let servers = self.client.compute().list_servers(&[("limit", "1000")]);
        poll_listed(targets, servers, |s: &Server| &s.id, readiness).await
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
        if old.get("name") != new.get("name")
            && let Some(name) = text(new, "name")
        {
            self.client
                .compute()
                .update_server(
                    physical_id.as_str(),
                    Fields::from_iter([("name".to_owned(), json!(name))]),
                )
                .await
                .map_err(api)?;
        }
        if old.get("metadata") != new.get("metadata") {
            let metadata = map(new, "metadata")?;
            self.client
                .send(
                    Service::Compute,
                    reqwest::Method::PUT,
                    &format!("/servers/{physical_id}/metadata"),
                    crate::client::Body::Json(json!({ "metadata": metadata })),
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
        match self.client.compute().get_server(physical_id.as_str()).await {
            Err(e) if e.is_not_found() => return Ok(Deleted::Done),
            _ => {}
        }
        self.client
            .compute()
            .delete_server(physical_id.as_str())
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
        let h = ServerHandler::new(client());
        assert_eq!(
            create_error(&h, json!({"image": "x"})).await.message,
            "property flavor is required"
        );
        let e = create_error(
            &h,
            json!({"flavor": "m1.tiny", "user_data_format": "SOFTWARE_CONFIG"}),
        )
        .await;
        assert!(
            e.message
                .contains("user_data_format 'SOFTWARE_CONFIG' is not supported"),
            "{}",
            e.message
        );
    }

    #[test]
    fn attributes_follow_heat() {
        let server: Server = serde_json::from_value(json!({
            "id": "s1", "name": "web", "status": "ACTIVE",
            "addresses": {"private": [{"addr": "10.0.0.5", "version": 4}]},
            "OS-EXT-SRV-ATTR:instance_name": "instance-00000001", "accessIPv4": ""
        }))
        .unwrap();
        let Readiness::Ready(a) = readiness(server) else {
            panic!()
        };
        assert_eq!(a["first_address"], json!("10.0.0.5"));
        assert_eq!(a["networks"], json!({"private": ["10.0.0.5"]}));
        assert_eq!(a["instance_name"], json!("instance-00000001"));
        assert_eq!(a["show"]["id"], json!("s1"));
        let failed: Server = serde_json::from_value(json!({"id": "s2", "status": "ERROR", "fault": {"message": "No valid host was found."}})).unwrap();
        assert_eq!(
            readiness(failed),
            Readiness::Failed {
                reason: "server s2 is ERROR: No valid host was found.".into()
            }
        );
    }
}
