//! `ALIYUN::ECS::SecurityGroup`, `SecurityGroupIngress`, `Instance` and `InstanceGroup`
//! (ECS API 2014-05-26).

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use futures::TryStreamExt;
use iac_core::provider::{
    Attributes, CallKind, ClientToken, CreateRequest, Created, Deleted, HandlerError, PhysicalId,
    PollTarget, Properties, Readiness, ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement, Mutable},
    Updated,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    api, attrs, boolean, changed, delete_call, endpoint_key, integer, pass, required, string_list,
    tags, text,
};
use crate::api::{
    DescribeInstancesResponse, Instance, Permission, RunInstancesResponse, SecurityGroupAttribute,
};
use crate::client::{Client, Paging, Params};
use crate::endpoints::Product;

/// The tag that ties the instances of an `InstanceGroup` to the group's physical id.
pub const GROUP_TAG: &str = "iac:group";

// ---------------------------------------------------------------------------------------
// Security group rules

/// A rule as the properties give it and the API takes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    ip_protocol: String,
    port_range: String,
    /// The source CIDR of an ingress rule or the destination CIDR of an egress rule.
    cidr: String,
    group: String,
    policy: String,
    priority: i64,
    nic_type: String,
}

/// Reads and checks one rule; `at` names it in errors (`SecurityGroupIngress[1]`).
fn rule(props: &Properties, at: &str, egress: bool) -> Result<Rule, HandlerError> {
    let field = |name: &str| format!("{at}{}{name}", if at.is_empty() { "" } else { "." });
    let ip_protocol = text(props, "IpProtocol")
        .ok_or_else(|| {
            HandlerError::invalid(format!("property {} is required", field("IpProtocol")))
        })?
        .to_ascii_lowercase();
    if !["tcp", "udp", "icmp", "gre", "all"].contains(&ip_protocol.as_str()) {
        return Err(HandlerError::invalid(format!(
            "property {} must be tcp, udp, icmp, gre or all, not {ip_protocol:?}",
            field("IpProtocol")
        )));
    }
    let port_range = text(props, "PortRange").ok_or_else(|| {
        HandlerError::invalid(format!("property {} is required", field("PortRange")))
    })?;
    let ports: Option<(i64, i64)> = port_range
        .split_once('/')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    let ok = match (ip_protocol.as_str(), ports) {
        ("tcp" | "udp", Some((a, b))) => (1..=65535).contains(&a) && (a..=65535).contains(&b),
        (_, Some((-1, -1))) => true,
        _ => false,
    };
    if !ok {
        return Err(HandlerError::invalid(format!(
            "property {} must be from/to (1–65535) for tcp and udp and -1/-1 otherwise, not {port_range:?}",
            field("PortRange")
        )));
    }
    let cidr_name = if egress { "DestCidrIp" } else { "SourceCidrIp" };
    let group_name = if egress {
        "DestGroupId"
    } else {
        "SourceGroupId"
    };
    let priority = integer(props, "Priority")?.unwrap_or(1);
    if !(1..=100).contains(&priority) {
        return Err(HandlerError::invalid(format!(
            "property {} must be 1–100, not {priority}",
            field("Priority")
        )));
    }
    let policy = text(props, "Policy")
        .unwrap_or_else(|| "accept".into())
        .to_ascii_lowercase();
    if policy != "accept" && policy != "drop" {
        return Err(HandlerError::invalid(format!(
            "property {} must be accept or drop, not {policy:?}",
            field("Policy")
        )));
    }
    Ok(Rule {
        ip_protocol,
        port_range,
        cidr: text(props, cidr_name).unwrap_or_default(),
        group: text(props, group_name).unwrap_or_default(),
        policy,
        priority,
        nic_type: text(props, "NicType").unwrap_or_else(|| "intranet".into()),
    })
}

/// The rules of a list property (`SecurityGroupIngress`).
fn rules(props: &Properties, name: &str, egress: bool) -> Result<Vec<Rule>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => rule(map, &format!("{name}[{i}]"), egress),
                other => Err(HandlerError::invalid(format!(
                    "property {name}[{i}] must be an object, not {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be a list of rules, not {other}"
        ))),
    }
}

fn rule_from_api(p: &Permission) -> Rule {
    let egress = p.direction == "egress";
    Rule {
        ip_protocol: p.ip_protocol.to_ascii_lowercase(),
        port_range: p.port_range.clone(),
        cidr: if egress {
            p.dest_cidr_ip.clone()
        } else {
            p.source_cidr_ip.clone()
        },
        group: p.source_group_id.clone(),
        policy: if p.policy.is_empty() {
            "accept".into()
        } else {
            p.policy.to_ascii_lowercase()
        },
        priority: match &p.priority {
            Value::Number(n) => n.as_i64().unwrap_or(1),
            Value::String(s) => s.parse().unwrap_or(1),
            _ => 1,
        },
        nic_type: "intranet".into(),
    }
}

/// `Permissions.N.*` for a batch of rules.
fn permission_params(mut params: Params, rules: &[Rule], egress: bool) -> Params {
    for (i, r) in rules.iter().enumerate() {
        let n = i + 1;
        params = params
            .with(format!("Permissions.{n}.IpProtocol"), r.ip_protocol.clone())
            .with(format!("Permissions.{n}.PortRange"), r.port_range.clone())
            .with(format!("Permissions.{n}.Policy"), r.policy.clone())
            .with(format!("Permissions.{n}.Priority"), r.priority.to_string())
            .with(format!("Permissions.{n}.NicType"), r.nic_type.clone());
        if !r.cidr.is_empty() {
            let name = if egress { "DestCidrIp" } else { "SourceCidrIp" };
            params = params.with(format!("Permissions.{n}.{name}"), r.cidr.clone());
        }
        if !r.group.is_empty() {
            let name = if egress {
                "DestGroupId"
            } else {
                "SourceGroupId"
            };
            params = params.with(format!("Permissions.{n}.{name}"), r.group.clone());
        }
    }
    params
}

/// A token for a follow-up call of a create, derived from the create's own token, so a
/// retried create sends the follow-up with the same token again.
fn sub_token(token: &str, what: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{token}\0{what}").as_bytes()));
    format!("iac-{}", &digest[..40])
}

async fn change_rules(
    client: &Client,
    group: &str,
    rules: &[Rule],
    egress: bool,
    revoke: bool,
    token: Option<&str>,
) -> Result<(), HandlerError> {
    let action = match (egress, revoke) {
        (false, false) => "AuthorizeSecurityGroup",
        (true, false) => "AuthorizeSecurityGroupEgress",
        (false, true) => "RevokeSecurityGroup",
        (true, true) => "RevokeSecurityGroupEgress",
    };
    for (i, chunk) in rules.chunks(100).enumerate() {
        let mut params =
            permission_params(Params::new().with("SecurityGroupId", group), chunk, egress);
        if let Some(token) = token {
            params = params.with("ClientToken", sub_token(token, &format!("{action}/{i}")));
        }
        client
            .rpc(Product::Ecs, action, params)
            .await
            .map_err(api)?;
    }
    Ok(())
}

async fn current_rules(
    client: &Client,
    group: &str,
) -> Result<Option<Vec<Permission>>, HandlerError> {
    let params = Params::new()
        .with("SecurityGroupId", group)
        .with("Direction", "all");
    match client
        .call::<SecurityGroupAttribute>(Product::Ecs, "DescribeSecurityGroupAttribute", params)
        .await
    {
        Ok(answer) => Ok(Some(answer.permissions.0)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(api(e)),
    }
}

/// `ALIYUN::ECS::SecurityGroup`, with its `SecurityGroupIngress` and `SecurityGroupEgress`
/// rules: rules that change are revoked and authorized in place.
pub struct SecurityGroupHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl SecurityGroupHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::ECS::SecurityGroup")
            .with_property("VpcId", false, ForcesReplacement)
            .with_property("SecurityGroupName", false, Mutable)
            .with_property("Description", false, Mutable)
            .with_property("SecurityGroupType", false, ForcesReplacement)
            .with_property("SecurityGroupIngress", false, Mutable)
            .with_property("SecurityGroupEgress", false, Mutable)
            .with_property("ResourceGroupId", false, ForcesReplacement)
            .with_attributes(&["SecurityGroupId"])
            .strict();
        let endpoint = endpoint_key(&client, Product::Ecs);
        SecurityGroupHandler {
            client,
            schema,
            endpoint,
        }
    }
}

#[async_trait]
impl ResourceHandler for SecurityGroupHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        // Check every rule before anything is created.
        let ingress = rules(props, "SecurityGroupIngress", false)?;
        let egress = rules(props, "SecurityGroupEgress", true)?;
        let params = pass(
            Params::new(),
            props,
            &[
                "VpcId",
                "SecurityGroupName",
                "Description",
                "SecurityGroupType",
                "ResourceGroupId",
            ],
        )
        .with("ClientToken", request.client_token.as_str())
        .with_tags(&tags(request.stack, request.logical_id));
        let answer = self
            .client
            .rpc(Product::Ecs, "CreateSecurityGroup", params)
            .await
            .map_err(api)?;
        let id = answer
            .get("SecurityGroupId")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                HandlerError::permanent("CreateSecurityGroup answered without a SecurityGroupId")
            })?
            .to_owned();
        // A failure here is retried by the engine with the same token: the group comes back
        // and authorizing a rule twice adds nothing.
        let token = request.client_token.as_str();
        change_rules(&self.client, &id, &ingress, false, false, Some(token)).await?;
        change_rules(&self.client, &id, &egress, true, false, Some(token)).await?;
        Ok(Created {
            physical_id: PhysicalId::new(&id),
            readiness: Readiness::Ready(attrs([("SecurityGroupId", json!(id))])),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        Ok(
            match current_rules(&self.client, physical_id.as_str()).await? {
                Some(_) => {
                    Readiness::Ready(attrs([("SecurityGroupId", json!(physical_id.as_str()))]))
                }
                None => Readiness::Gone,
            },
        )
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let id = physical_id.as_str();
        for (name, egress) in [
            ("SecurityGroupIngress", false),
            ("SecurityGroupEgress", true),
        ] {
            if !changed(old, new, name) {
                continue;
            }
            let before: BTreeSet<Rule> = rules(old, name, egress)?.into_iter().collect();
            let after: BTreeSet<Rule> = rules(new, name, egress)?.into_iter().collect();
            let gone: Vec<Rule> = before.difference(&after).cloned().collect();
            let added: Vec<Rule> = after.difference(&before).cloned().collect();
            change_rules(&self.client, id, &gone, egress, true, None).await?;
            change_rules(&self.client, id, &added, egress, false, None).await?;
        }
        if changed(old, new, "SecurityGroupName") || changed(old, new, "Description") {
            let params = pass(
                Params::new().with("SecurityGroupId", id),
                new,
                &["SecurityGroupName", "Description"],
            );
            self.client
                .rpc(Product::Ecs, "ModifySecurityGroupAttribute", params)
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
            Product::Ecs,
            "DeleteSecurityGroup",
            "SecurityGroupId",
            physical_id,
        )
        .await
    }
}

/// `ALIYUN::ECS::SecurityGroupIngress`: one ingress rule of a group. Its physical id is
/// `<SecurityGroupId>:<protocol>:<PortRange>:<source>`; every change replaces it.
pub struct SecurityGroupIngressHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl SecurityGroupIngressHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let mut schema = Schema::new("ALIYUN::ECS::SecurityGroupIngress")
            .with_property("SecurityGroupId", true, ForcesReplacement)
            .with_property("IpProtocol", true, ForcesReplacement)
            .with_property("PortRange", true, ForcesReplacement);
        for name in [
            "SourceCidrIp",
            "SourceGroupId",
            "Policy",
            "Priority",
            "NicType",
            "Description",
        ] {
            schema = schema.with_property(name, false, ForcesReplacement);
        }
        let schema = schema.strict();
        let endpoint = endpoint_key(&client, Product::Ecs);
        SecurityGroupIngressHandler {
            client,
            schema,
            endpoint,
        }
    }
}

fn ingress_id(group: &str, r: &Rule) -> String {
    let source = if r.group.is_empty() {
        &r.cidr
    } else {
        &r.group
    };
    format!("{group}:{}:{}:{source}", r.ip_protocol, r.port_range)
}

#[async_trait]
impl ResourceHandler for SecurityGroupIngressHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let group = required(props, "SecurityGroupId")?;
        let r = rule(props, "", false)?;
        change_rules(
            &self.client,
            &group,
            std::slice::from_ref(&r),
            false,
            false,
            Some(request.client_token.as_str()),
        )
        .await?;
        Ok(Created {
            physical_id: PhysicalId::new(ingress_id(&group, &r)),
            readiness: Readiness::Ready(Attributes::new()),
        })
    }

    async fn read(&self, _: &PhysicalId, props: &Properties) -> Result<Readiness, HandlerError> {
        let group = required(props, "SecurityGroupId")?;
        let wanted = rule(props, "", false)?;
        let Some(current) = current_rules(&self.client, &group).await? else {
            return Ok(Readiness::Gone);
        };
        let found = current
            .iter()
            .filter(|p| p.direction != "egress")
            .map(rule_from_api)
            .any(|r| {
                r.ip_protocol == wanted.ip_protocol
                    && r.port_range == wanted.port_range
                    && r.cidr == wanted.cidr
                    && r.group == wanted.group
            });
        Ok(if found {
            Readiness::Ready(Attributes::new())
        } else {
            Readiness::Gone
        })
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        // Every property forces a replacement; an update is only ever a no-op refresh.
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(&self, _: &PhysicalId, props: &Properties) -> Result<Deleted, HandlerError> {
        let group = required(props, "SecurityGroupId")?;
        let r = rule(props, "", false)?;
        match change_rules(&self.client, &group, &[r], false, true, None).await {
            Err(e) if e.kind == iac_core::provider::ErrorKind::NotFound => Ok(Deleted::Done),
            other => other.map(|()| Deleted::Done),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Instances

/// The `RunInstances` parameters shared by `Instance` and `InstanceGroup`.
fn run_params(props: &Properties) -> Result<Params, HandlerError> {
    let mut params = Params::new()
        .with("InstanceType", required(props, "InstanceType")?)
        .with("ImageId", required(props, "ImageId")?)
        .with("VSwitchId", required(props, "VSwitchId")?);
    let groups = string_list(props, "SecurityGroupIds")?;
    match (text(props, "SecurityGroupId"), groups.is_empty()) {
        (Some(group), true) => params = params.with("SecurityGroupId", group),
        (None, false) => params = params.with_list("SecurityGroupIds", &groups),
        (Some(_), false) => {
            return Err(HandlerError::invalid(
                "give SecurityGroupId or SecurityGroupIds, not both",
            ));
        }
        (None, true) => {
            return Err(HandlerError::invalid(
                "property SecurityGroupId (or SecurityGroupIds) is required",
            ));
        }
    }
    params = pass(
        params,
        props,
        &[
            "ZoneId",
            "InstanceName",
            "HostName",
            "Password",
            "KeyPairName",
            "Description",
            "InternetChargeType",
        ],
    );
    if let Some(user_data) = text(props, "UserData") {
        if user_data.len() > 32 * 1024 {
            return Err(HandlerError::invalid(format!(
                "property UserData is {} bytes; the limit is 32 KiB",
                user_data.len()
            )));
        }
        params = params.with(
            "UserData",
            base64::engine::general_purpose::STANDARD.encode(user_data.as_bytes()),
        );
    }
    let bandwidth = integer(props, "InternetMaxBandwidthOut")?;
    match (boolean(props, "AllocatePublicIP")?, bandwidth) {
        (_, Some(b)) if !(0..=100).contains(&b) => {
            return Err(HandlerError::invalid(format!(
                "property InternetMaxBandwidthOut must be 0–100, not {b}"
            )));
        }
        (_, Some(b)) => params = params.with("InternetMaxBandwidthOut", b.to_string()),
        (Some(true), None) => params = params.with("InternetMaxBandwidthOut", "5"),
        _ => {}
    }
    if let Some(category) = text(props, "SystemDiskCategory") {
        params = params.with("SystemDisk.Category", category);
    }
    if let Some(size) = integer(props, "SystemDiskSize")? {
        if !(20..=32768).contains(&size) {
            return Err(HandlerError::invalid(format!(
                "property SystemDiskSize must be 20–32768 GiB, not {size}"
            )));
        }
        params = params.with("SystemDisk.Size", size.to_string());
    }
    Ok(params)
}

const INSTANCE_PROPERTIES: &[(&str, bool, iac_core::provider::UpdateBehavior)] = &[
    ("InstanceType", true, ForcesReplacement),
    ("ImageId", true, ForcesReplacement),
    ("VSwitchId", true, ForcesReplacement),
    ("SecurityGroupId", false, ForcesReplacement),
    ("SecurityGroupIds", false, ForcesReplacement),
    ("ZoneId", false, ForcesReplacement),
    ("VpcId", false, ForcesReplacement),
    ("InstanceName", false, Mutable),
    ("HostName", false, Mutable),
    ("Description", false, Mutable),
    ("Password", false, Mutable),
    ("KeyPairName", false, ForcesReplacement),
    ("UserData", false, ForcesReplacement),
    ("AllocatePublicIP", false, ForcesReplacement),
    ("InternetMaxBandwidthOut", false, ForcesReplacement),
    ("InternetChargeType", false, ForcesReplacement),
    ("SystemDiskCategory", false, ForcesReplacement),
    ("SystemDiskSize", false, ForcesReplacement),
];

fn instance_schema(
    type_name: &str,
    extra: &[(&str, bool, iac_core::provider::UpdateBehavior)],
    attributes: &[&str],
) -> Schema {
    let mut schema = Schema::new(type_name);
    for (name, required, update) in INSTANCE_PROPERTIES.iter().chain(extra) {
        schema = schema.with_property(name, *required, *update);
    }
    schema
        .with_attributes(attributes)
        // Instances take tens of seconds to start: the first look is after 5 s.
        .with_readiness_hint(Duration::from_secs(5))
        .with_ready_timeout(Duration::from_secs(20 * 60))
        .strict()
}

fn instance_readiness(instance: &Instance) -> Readiness {
    match instance.status.as_str() {
        "Running" => Readiness::Ready(attrs([
            ("InstanceId", json!(instance.instance_id)),
            (
                "PrivateIp",
                json!(instance.private_ip().unwrap_or_default()),
            ),
            ("PublicIp", json!(instance.public_ip().unwrap_or_default())),
            ("ZoneId", json!(instance.zone_id)),
            ("HostName", json!(instance.host_name)),
        ])),
        "Pending" | "Starting" => Readiness::Pending {
            status: instance.status.clone(),
        },
        other => Readiness::Failed {
            reason: format!("instance {} is {other}", instance.instance_id),
        },
    }
}

async fn describe_instances(client: &Client, ids: &[&str]) -> Result<Vec<Instance>, HandlerError> {
    let ids_json =
        serde_json::to_string(ids).map_err(|e| HandlerError::permanent(e.to_string()))?;
    let params = Params::new()
        .with("InstanceIds", ids_json)
        .with("MaxResults", "100");
    let answer: DescribeInstancesResponse = client
        .call(Product::Ecs, "DescribeInstances", params)
        .await
        .map_err(api)?;
    Ok(answer.instances.0)
}

async fn delete_instances(client: &Client, ids: &[String]) -> Result<(), HandlerError> {
    for chunk in ids.chunks(100) {
        let params = Params::new()
            .with_list("InstanceId", chunk)
            .with("Force", "true");
        match client.rpc(Product::Ecs, "DeleteInstances", params).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() && chunk.len() == 1 => {}
            Err(e) if e.is_not_found() => {
                // Some are gone already: delete the others one by one.
                for id in chunk {
                    let params = Params::new()
                        .with("InstanceId.1", id.clone())
                        .with("Force", "true");
                    match client.rpc(Product::Ecs, "DeleteInstances", params).await {
                        Err(e) if !e.is_not_found() => return Err(api(e)),
                        _ => {}
                    }
                }
            }
            Err(e) => return Err(api(e)),
        }
    }
    Ok(())
}

/// `ALIYUN::ECS::Instance`: one `RunInstances` with `Amount=1`, ready when `Running`;
/// readiness of many instances is read with one `DescribeInstances` per 100.
pub struct InstanceHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl InstanceHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = instance_schema(
            "ALIYUN::ECS::Instance",
            &[("PrivateIpAddress", false, ForcesReplacement)],
            &["InstanceId", "PrivateIp", "PublicIp", "ZoneId", "HostName"],
        );
        let endpoint = endpoint_key(&client, Product::Ecs);
        InstanceHandler {
            client,
            schema,
            endpoint,
        }
    }
}

async fn modify_instance(
    client: &Client,
    id: &str,
    old: &Properties,
    new: &Properties,
) -> Result<(), HandlerError> {
    let names = ["InstanceName", "HostName", "Description", "Password"];
    if names.iter().any(|n| changed(old, new, n)) {
        let mut params = Params::new().with("InstanceId", id);
        for name in names.iter().filter(|n| changed(old, new, n)) {
            params = params.with_opt(*name, text(new, name));
        }
        client
            .rpc(Product::Ecs, "ModifyInstanceAttribute", params)
            .await
            .map_err(api)?;
    }
    Ok(())
}

#[async_trait]
impl ResourceHandler for InstanceHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn action(&self, kind: CallKind) -> Option<&str> {
        Some(match kind {
            CallKind::Create => "RunInstances",
            CallKind::Read => "DescribeInstances",
            CallKind::Update => "ModifyInstanceAttribute",
            CallKind::Delete => "DeleteInstances",
            // (Instances take no snapshots: the default key.)
            _ => return None,
        })
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let params = run_params(request.properties)?
            .with_opt(
                "PrivateIpAddress",
                text(request.properties, "PrivateIpAddress"),
            )
            .with("Amount", "1")
            .with("ClientToken", request.client_token.as_str())
            .with_tags(&tags(request.stack, request.logical_id));
        let answer: RunInstancesResponse = self
            .client
            .call(Product::Ecs, "RunInstances", params)
            .await
            .map_err(api)?;
        let id = answer
            .instance_id_sets
            .0
            .into_iter()
            .next()
            .ok_or_else(|| {
                HandlerError::permanent("RunInstances answered without an instance id")
            })?;
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
        let found = describe_instances(&self.client, &[physical_id.as_str()]).await?;
        Ok(found
            .iter()
            .find(|i| i.instance_id == physical_id.as_str())
            .map_or(Readiness::Gone, instance_readiness))
    }

    /// `DescribeInstances` takes at most 100 ids.
    fn poll_batch_size(&self) -> usize {
        100
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        let ids: Vec<&str> = targets.iter().map(|t| t.physical_id.as_str()).collect();
        let found = describe_instances(&self.client, &ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                found
                    .iter()
                    .find(|i| i.instance_id == *id)
                    .map_or(Readiness::Gone, instance_readiness)
            })
            .collect())
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        modify_instance(&self.client, physical_id.as_str(), old, new).await?;
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Deleted, HandlerError> {
        delete_instances(&self.client, &[physical_id.to_string()]).await?;
        Ok(Deleted::Done)
    }
}

/// `ALIYUN::ECS::InstanceGroup`: `MaxAmount` instances (the legacy `MinAmount` is read when
/// `MaxAmount` is absent) made by `RunInstances` in calls of up to 100, tagged with the
/// group's physical id so the group is found again with one `DescribeInstances`. Changing
/// the amount scales in place: new instances get the next free host-name suffixes, and
/// scaling in removes the highest suffixes first.
pub struct InstanceGroupHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl InstanceGroupHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = instance_schema(
            "ALIYUN::ECS::InstanceGroup",
            &[
                ("MaxAmount", false, Mutable),
                ("MinAmount", false, Mutable),
                ("UniqueSuffix", false, ForcesReplacement),
            ],
            &["InstanceIds", "PrivateIps", "PublicIps", "HostNames"],
        );
        let endpoint = endpoint_key(&client, Product::Ecs);
        InstanceGroupHandler {
            client,
            schema,
            endpoint,
        }
    }

    /// The instances of a group, found by its tag (deleting ones left out).
    async fn members(&self, group: &str) -> Result<Vec<Instance>, HandlerError> {
        let params = Params::new().with_tags(&[(GROUP_TAG.to_owned(), group.to_owned())]);
        let all: Vec<Value> = self
            .client
            .list(
                Product::Ecs,
                "DescribeInstances",
                params,
                Paging::NextToken { max_results: 100 },
                &["Instances", "Instance"],
            )
            .try_collect()
            .await
            .map_err(api)?;
        let mut members: Vec<Instance> = all
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Instance>(v).ok())
            .filter(|i| !matches!(i.status.as_str(), "Stopping" | "Deleted"))
            .collect();
        members.sort_by(|a, b| {
            (
                a.host_name.as_str(),
                a.instance_name.as_str(),
                a.instance_id.as_str(),
            )
                .cmp(&(
                    b.host_name.as_str(),
                    b.instance_name.as_str(),
                    b.instance_id.as_str(),
                ))
        });
        Ok(members)
    }

    /// Starts `count` instances; `token` makes the calls idempotent, `from` is the first
    /// host-name suffix when the group names its hosts.
    async fn run(
        &self,
        props: &Properties,
        group: &str,
        base_tags: Vec<(String, String)>,
        token: &str,
        count: usize,
        from: usize,
    ) -> Result<(), HandlerError> {
        let mut all_tags = base_tags;
        all_tags.push((GROUP_TAG.to_owned(), group.to_owned()));
        let named = text(props, "HostName").is_some() || text(props, "InstanceName").is_some();
        let unique = boolean(props, "UniqueSuffix")?.unwrap_or(true);
        if named && unique && from > 1 {
            // Scaling out a named group: one call per instance, each with its own suffix.
            for index in from..from + count {
                let mut params = run_params(props)?;
                for name in ["HostName", "InstanceName"] {
                    if let Some(base) = text(props, name) {
                        params.0.retain(|(k, _)| k != name);
                        params = params.with(name, format!("{base}{index:03}"));
                    }
                }
                let params = params
                    .with("Amount", "1")
                    .with("ClientToken", sub_token(token, &format!("run/{index}")))
                    .with_tags(&all_tags);
                self.client
                    .rpc(Product::Ecs, "RunInstances", params)
                    .await
                    .map_err(api)?;
            }
            return Ok(());
        }
        let mut left = count;
        let mut batch = 0;
        while left > 0 {
            let amount = left.min(100);
            let params = run_params(props)?
                .with("Amount", amount.to_string())
                .with("UniqueSuffix", if unique { "true" } else { "false" })
                .with(
                    "ClientToken",
                    if batch == 0 && from <= 1 {
                        token.to_owned()
                    } else {
                        sub_token(token, &format!("batch/{from}/{batch}"))
                    },
                )
                .with_tags(&all_tags);
            self.client
                .rpc(Product::Ecs, "RunInstances", params)
                .await
                .map_err(api)?;
            left -= amount;
            batch += 1;
        }
        Ok(())
    }

    fn readiness(members: &[Instance], wanted: usize) -> Readiness {
        if let Some(bad) = members
            .iter()
            .find(|i| !matches!(i.status.as_str(), "Pending" | "Starting" | "Running"))
        {
            return Readiness::Failed {
                reason: format!("instance {} is {}", bad.instance_id, bad.status),
            };
        }
        let running = members.iter().filter(|i| i.status == "Running").count();
        if members.len() != wanted || running != wanted {
            return Readiness::Pending {
                status: format!("{running} of {wanted} running ({} exist)", members.len()),
            };
        }
        let list = |f: &dyn Fn(&Instance) -> String| {
            Value::Array(members.iter().map(|i| Value::String(f(i))).collect())
        };
        Readiness::Ready(attrs([
            ("InstanceIds", list(&|i| i.instance_id.clone())),
            (
                "PrivateIps",
                list(&|i| i.private_ip().unwrap_or_default().to_owned()),
            ),
            (
                "PublicIps",
                list(&|i| i.public_ip().unwrap_or_default().to_owned()),
            ),
            ("HostNames", list(&|i| i.host_name.clone())),
        ]))
    }
}

/// The wanted size of a group: `MaxAmount`, else the legacy `MinAmount`.
fn amount(props: &Properties) -> Result<usize, HandlerError> {
    let max = integer(props, "MaxAmount")?;
    let min = integer(props, "MinAmount")?;
    let n = max
        .or(min)
        .ok_or_else(|| HandlerError::invalid("property MaxAmount is required"))?;
    if !(1..=1000).contains(&n) {
        return Err(HandlerError::invalid(format!(
            "property MaxAmount must be 1–1000, not {n}"
        )));
    }
    if let (Some(max), Some(min)) = (max, min)
        && min > max
    {
        return Err(HandlerError::invalid(format!(
            "property MinAmount ({min}) is more than MaxAmount ({max})"
        )));
    }
    Ok(n as usize)
}

/// The physical id of a group: stable for one client token.
fn group_id(token: &ClientToken) -> String {
    let digest = hex::encode(Sha256::digest(token.as_str().as_bytes()));
    format!("ig-{}", &digest[..24])
}

#[async_trait]
impl ResourceHandler for InstanceGroupHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn action(&self, kind: CallKind) -> Option<&str> {
        // An update scales with RunInstances or DeleteInstances: its own limit.
        match kind {
            CallKind::Create => Some("RunInstances"),
            CallKind::Read => Some("DescribeInstances"),
            CallKind::Delete => Some("DeleteInstances"),
            _ => None,
        }
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let wanted = amount(props)?;
        run_params(props)?;
        let group = group_id(request.client_token);
        // A retried create finds what the first attempt started and starts only the rest.
        let existing = self.members(&group).await?.len();
        if existing < wanted {
            let tags = tags(request.stack, request.logical_id);
            self.run(
                props,
                &group,
                tags,
                request.client_token.as_str(),
                wanted - existing,
                existing + 1,
            )
            .await?;
        }
        Ok(Created {
            physical_id: PhysicalId::new(group),
            readiness: Readiness::Pending {
                status: "Pending".into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let members = self.members(physical_id.as_str()).await?;
        if members.is_empty() {
            return Ok(Readiness::Gone);
        }
        Ok(Self::readiness(&members, amount(props)?))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let group = physical_id.as_str();
        let wanted = amount(new)?;
        let members = self.members(group).await?;
        if members.len() < wanted {
            // The scale-out token depends on the group and the target size, so a retried
            // update does not start the same instances twice.
            let token = sub_token(group, &format!("scale/{wanted}"));
            let mut base_tags = Vec::new();
            if let Some(first) = members.first() {
                base_tags = first
                    .tags
                    .0
                    .iter()
                    .filter(|t| t.key != GROUP_TAG)
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
            }
            self.run(
                new,
                group,
                base_tags,
                &token,
                wanted - members.len(),
                members.len() + 1,
            )
            .await?;
        } else if members.len() > wanted {
            let extra: Vec<String> = members[wanted..]
                .iter()
                .map(|i| i.instance_id.clone())
                .collect();
            delete_instances(&self.client, &extra).await?;
        }
        // Names of group members carry their suffix: renames are not passed on.
        let (mut old_rest, mut new_rest) = (old.clone(), new.clone());
        for map in [&mut old_rest, &mut new_rest] {
            map.remove("HostName");
            map.remove("InstanceName");
        }
        for member in &members[..members.len().min(wanted)] {
            modify_instance(&self.client, &member.instance_id, &old_rest, &new_rest).await?;
        }
        Ok(Updated {
            readiness: Readiness::Pending {
                status: format!("scaling to {wanted}"),
            },
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let ids: Vec<String> = self
            .members(physical_id.as_str())
            .await?
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        delete_instances(&self.client, &ids).await?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Properties {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rules_are_checked_and_errors_name_the_rule() {
        let p = props(json!({"SecurityGroupIngress": [
            {"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"},
            {"IpProtocol": "tcp", "PortRange": "80/70"}
        ]}));
        let err = rules(&p, "SecurityGroupIngress", false).unwrap_err();
        assert!(
            err.message.contains("SecurityGroupIngress[1].PortRange"),
            "{}",
            err.message
        );
        let p = props(
            json!({"SecurityGroupIngress": [{"IpProtocol": "icmp", "PortRange": "-1/-1", "Priority": "3"}]}),
        );
        let r = &rules(&p, "SecurityGroupIngress", false).unwrap()[0];
        assert_eq!(
            (r.ip_protocol.as_str(), r.priority, r.policy.as_str()),
            ("icmp", 3, "accept")
        );
        let err = rule(
            &props(json!({"IpProtocol": "sctp", "PortRange": "1/2"})),
            "",
            false,
        )
        .unwrap_err();
        assert!(
            err.message.contains("property IpProtocol"),
            "{}",
            err.message
        );
    }

    #[test]
    fn run_parameters_encode_user_data_and_check_limits() {
        let base = json!({"InstanceType": "ecs.g7.large", "ImageId": "img", "VSwitchId": "vsw-1", "SecurityGroupId": "sg-1",
                          "UserData": "#!/bin/bash\necho hi\n", "AllocatePublicIP": true, "SystemDiskSize": 40});
        let params = run_params(&props(base.clone())).unwrap();
        assert_eq!(params.get("UserData"), Some("IyEvYmluL2Jhc2gKZWNobyBoaQo="));
        assert_eq!(params.get("InternetMaxBandwidthOut"), Some("5"));
        assert_eq!(params.get("SystemDisk.Size"), Some("40"));
        let mut bad = base.clone();
        bad["SystemDiskSize"] = json!(10);
        assert!(
            run_params(&props(bad))
                .unwrap_err()
                .message
                .contains("SystemDiskSize")
        );
        let mut missing = base;
        missing.as_object_mut().unwrap().remove("InstanceType");
        assert!(
            run_params(&props(missing))
                .unwrap_err()
                .message
                .contains("InstanceType")
        );
    }

    #[test]
    fn group_amount_reads_max_then_the_legacy_min() {
        assert_eq!(amount(&props(json!({"MaxAmount": 3}))).unwrap(), 3);
        assert_eq!(amount(&props(json!({"MinAmount": "2"}))).unwrap(), 2);
        assert!(
            amount(&props(json!({"MaxAmount": 0})))
                .unwrap_err()
                .message
                .contains("MaxAmount")
        );
        assert!(
            amount(&props(json!({"MaxAmount": 2, "MinAmount": 3})))
                .unwrap_err()
                .message
                .contains("MinAmount")
        );
        assert!(amount(&props(json!({}))).is_err());
    }
}
