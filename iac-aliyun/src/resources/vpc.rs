//! `ALIYUN::ECS::VPC` and `ALIYUN::ECS::VSwitch` (VPC API 2016-04-28).

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, PollTarget, Properties, Readiness,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement, Mutable},
    Updated,
};
use serde_json::json;

use super::{api, attrs, changed, delete_call, endpoint_key, pass, required, tags, text};
use crate::api::{
    CreateVpcResponse, DescribeVSwitchesResponse, DescribeVpcsResponse, VSwitch, Vpc,
};
use crate::client::{Client, Params};
use crate::endpoints::Product;

/// `ALIYUN::ECS::VPC`: `CreateVpc`, ready when `Available`.
pub struct VpcHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl VpcHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ECS::VPC")
            .with_property("CidrBlock", false, ForcesReplacement)
            .with_property("VpcName", false, Mutable)
            .with_property("Description", false, Mutable)
            .with_property("EnableIpv6", false, ForcesReplacement)
            .with_property("ResourceGroupId", false, ForcesReplacement)
            .with_attributes(&["VpcId", "VRouterId", "CidrBlock", "VpcName"])
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Vpc);
        VpcHandler {
            client,
            schema,
            endpoint,
        }
    }

    async fn describe(&self, ids: &[&str]) -> Result<Vec<Vpc>, HandlerError> {
        let params = Params::new()
            .with("VpcId", ids.join(","))
            .with("PageSize", "50");
        let answer: DescribeVpcsResponse = self
            .client
            .call(Product::Vpc, "DescribeVpcs", params)
            .await
            .map_err(api)?;
        Ok(answer.vpcs.0)
    }
}

fn vpc_readiness(vpc: &Vpc) -> Readiness {
    if vpc.status == "Available" {
        Readiness::Ready(attrs([
            ("VpcId", json!(vpc.vpc_id)),
            ("VRouterId", json!(vpc.vrouter_id)),
            ("CidrBlock", json!(vpc.cidr_block)),
            ("VpcName", json!(vpc.vpc_name)),
        ]))
    } else {
        Readiness::Pending {
            status: vpc.status.clone(),
        }
    }
}

#[async_trait]
impl ResourceHandler for VpcHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let params = pass(
            Params::new(),
            props,
            &[
                "CidrBlock",
                "VpcName",
                "Description",
                "EnableIpv6",
                "ResourceGroupId",
            ],
        )
        .with("ClientToken", request.client_token.as_str())
        .with_tags(&tags(request.stack, request.logical_id));
        let answer: CreateVpcResponse = self
            .client
            .call(Product::Vpc, "CreateVpc", params)
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(answer.vpc_id),
            readiness: Readiness::Pending {
                status: "Pending".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let found = self.describe(&[physical_id.as_str()]).await?;
        Ok(found
            .iter()
            .find(|v| v.vpc_id == physical_id.as_str())
            .map_or(Readiness::Gone, vpc_readiness))
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        let ids: Vec<&str> = targets.iter().map(|t| t.physical_id.as_str()).collect();
        let found = self.describe(&ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                found
                    .iter()
                    .find(|v| v.vpc_id == *id)
                    .map_or(Readiness::Gone, vpc_readiness)
            })
            .collect())
    }

    fn poll_batch_size(&self) -> usize {
        20
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        if changed(old, new, "VpcName") || changed(old, new, "Description") {
            let params = Params::new()
                .with("VpcId", physical_id.as_str())
                .with("VpcName", text(new, "VpcName").unwrap_or_default())
                .with("Description", text(new, "Description").unwrap_or_default());
            self.client
                .rpc(Product::Vpc, "ModifyVpcAttribute", params)
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
        delete_call(
            &self.client,
            Product::Vpc,
            "DeleteVpc",
            "VpcId",
            physical_id,
        )
        .await
    }
}

/// `ALIYUN::ECS::VSwitch`: `CreateVSwitch`, ready when `Available`.
pub struct VSwitchHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl VSwitchHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ECS::VSwitch")
            .with_property("VpcId", true, ForcesReplacement)
            .with_property("ZoneId", true, ForcesReplacement)
            .with_property("CidrBlock", true, ForcesReplacement)
            .with_property("VSwitchName", false, Mutable)
            .with_property("Description", false, Mutable)
            .with_attributes(&["VSwitchId", "CidrBlock", "ZoneId", "VpcId"])
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Vpc);
        VSwitchHandler {
            client,
            schema,
            endpoint,
        }
    }
}

fn vswitch_readiness(vsw: &VSwitch) -> Readiness {
    if vsw.status == "Available" {
        Readiness::Ready(attrs([
            ("VSwitchId", json!(vsw.vswitch_id)),
            ("CidrBlock", json!(vsw.cidr_block)),
            ("ZoneId", json!(vsw.zone_id)),
            ("VpcId", json!(vsw.vpc_id)),
        ]))
    } else {
        Readiness::Pending {
            status: vsw.status.clone(),
        }
    }
}

#[async_trait]
impl ResourceHandler for VSwitchHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let params = Params::new()
            .with("VpcId", required(props, "VpcId")?)
            .with("ZoneId", required(props, "ZoneId")?)
            .with("CidrBlock", required(props, "CidrBlock")?);
        let params = pass(params, props, &["VSwitchName", "Description"])
            .with("ClientToken", request.client_token.as_str())
            .with_tags(&tags(request.stack, request.logical_id));
        let answer = self
            .client
            .rpc(Product::Vpc, "CreateVSwitch", params)
            .await
            .map_err(api)?;
        let id = answer
            .get("VSwitchId")
            .and_then(|v| v.as_str())
            .ok_or_else(|| HandlerError::permanent("CreateVSwitch answered without a VSwitchId"))?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Pending {
                status: "Pending".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let params = Params::new().with("VSwitchId", physical_id.as_str());
        let answer: DescribeVSwitchesResponse = self
            .client
            .call(Product::Vpc, "DescribeVSwitches", params)
            .await
            .map_err(api)?;
        Ok(answer
            .vswitches
            .0
            .iter()
            .find(|v| v.vswitch_id == physical_id.as_str())
            .map_or(Readiness::Gone, vswitch_readiness))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        if changed(old, new, "VSwitchName") || changed(old, new, "Description") {
            let params = Params::new()
                .with("VSwitchId", physical_id.as_str())
                .with("VSwitchName", text(new, "VSwitchName").unwrap_or_default())
                .with("Description", text(new, "Description").unwrap_or_default());
            self.client
                .rpc(Product::Vpc, "ModifyVSwitchAttribute", params)
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
        delete_call(
            &self.client,
            Product::Vpc,
            "DeleteVSwitch",
            "VSwitchId",
            physical_id,
        )
        .await
    }
}
