//! The Neutron types: `OS::Neutron::Net`, `Subnet`, `Router`, `RouterInterface`, `Port`,
//! `SecurityGroup`, `SecurityGroupRule` and `FloatingIP`, with Heat's property and
//! attribute names.
//!
//! One handler serves them all, driven by a [`NeutronKind`]: the calls are the same CRUD on
//! different collections; what differs is how properties become the API body and which
//! attributes are read back. Networks, routers and ports are ready when Neutron reports
//! them `ACTIVE` or `DOWN` (a port stays `DOWN` until an agent binds it, as Heat accepts),
//! pending while `BUILD`, failed on `ERROR`; the other types are ready at once.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use iac_core::provider::{
    Attributes, ClientToken, CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties,
    Readiness, ResourceHandler, Schema,
    UpdateBehavior::{self, ForcesReplacement as F, Mutable as M},
    Updated,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{api, attrs, boolean, integer, map, resolve, string_list, text};
use crate::client::{Body, Client, Service};
use crate::services::Fields;

/// Which Neutron type a [`NeutronHandler`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeutronKind {
    /// `OS::Neutron::Net`.
    Net,
    /// `OS::Neutron::Subnet`.
    Subnet,
    /// `OS::Neutron::Router`.
    Router,
    /// `OS::Neutron::RouterInterface`: physical id `<router>:subnet_id=<id>` or `:port_id=`.
    RouterInterface,
    /// `OS::Neutron::Port`.
    Port,
    /// `OS::Neutron::SecurityGroup` with its `rules`.
    SecurityGroup,
    /// `OS::Neutron::SecurityGroupRule`.
    SecurityGroupRule,
    /// `OS::Neutron::FloatingIP`.
    FloatingIp,
}

impl NeutronKind {
    /// Every kind.
    pub const ALL: [NeutronKind; 8] = [
        NeutronKind::Net,
        NeutronKind::Subnet,
        NeutronKind::Router,
        NeutronKind::RouterInterface,
        NeutronKind::Port,
        NeutronKind::SecurityGroup,
        NeutronKind::SecurityGroupRule,
        NeutronKind::FloatingIp,
    ];

    /// The Heat type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            NeutronKind::Net => "OS::Neutron::Net",
            NeutronKind::Subnet => "OS::Neutron::Subnet",
            NeutronKind::Router => "OS::Neutron::Router",
            NeutronKind::RouterInterface => "OS::Neutron::RouterInterface",
            NeutronKind::Port => "OS::Neutron::Port",
            NeutronKind::SecurityGroup => "OS::Neutron::SecurityGroup",
            NeutronKind::SecurityGroupRule => "OS::Neutron::SecurityGroupRule",
            NeutronKind::FloatingIp => "OS::Neutron::FloatingIP",
        }
    }

    /// (the body key, the collection path) of the API object.
    fn api(&self) -> (&'static str, &'static str) {
        match self {
            NeutronKind::Net => ("network", "networks"),
            NeutronKind::Subnet => ("subnet", "subnets"),
            NeutronKind::Router | NeutronKind::RouterInterface => ("router", "routers"),
            NeutronKind::Port => ("port", "ports"),
            NeutronKind::SecurityGroup => ("security_group", "security-groups"),
            NeutronKind::SecurityGroupRule => ("security_group_rule", "security-group-rules"),
            NeutronKind::FloatingIp => ("floatingip", "floatingips"),
        }
    }

    fn properties(&self) -> &'static [(&'static str, bool, UpdateBehavior)] {
        match self {
            NeutronKind::Net => &[
                ("name", false, M),
                ("admin_state_up", false, M),
                ("shared", false, M),
                ("port_security_enabled", false, M),
                ("dns_domain", false, M),
                ("value_specs", false, M),
                ("tenant_id", false, F),
                ("tags", false, M),
            ],
            NeutronKind::Subnet => &[
                ("network", false, F),
                ("network_id", false, F),
                ("cidr", false, F),
                ("ip_version", false, F),
                ("name", false, M),
                ("enable_dhcp", false, M),
                ("gateway_ip", false, M),
                ("allocation_pools", false, M),
                ("dns_nameservers", false, M),
                ("host_routes", false, M),
                ("ipv6_ra_mode", false, F),
                ("ipv6_address_mode", false, F),
                ("subnetpool", false, F),
                ("prefixlen", false, F),
                ("tenant_id", false, F),
                ("value_specs", false, M),
                ("tags", false, M),
            ],
            NeutronKind::Router => &[
                ("name", false, M),
                ("admin_state_up", false, M),
                ("external_gateway_info", false, M),
                ("distributed", false, F),
                ("ha", false, F),
                ("value_specs", false, M),
                ("tags", false, M),
            ],
            NeutronKind::RouterInterface => &[
                ("router", false, F),
                ("router_id", false, F),
                ("subnet", false, F),
                ("subnet_id", false, F),
                ("port", false, F),
                ("port_id", false, F),
            ],
            NeutronKind::Port => &[
                ("network", false, F),
                ("network_id", false, F),
                ("name", false, M),
                ("fixed_ips", false, M),
                ("security_groups", false, M),
                ("admin_state_up", false, M),
                ("mac_address", false, F),
                ("device_id", false, M),
                ("device_owner", false, M),
                ("allowed_address_pairs", false, M),
                ("binding:vnic_type", false, M),
                ("port_security_enabled", false, M),
                ("value_specs", false, M),
                ("tags", false, M),
            ],
            NeutronKind::SecurityGroup => &[
                ("name", false, M),
                ("description", false, M),
                ("rules", false, M),
            ],
            NeutronKind::SecurityGroupRule => &[
                ("security_group", true, F),
                ("direction", false, F),
                ("ethertype", false, F),
                ("port_range_min", false, F),
                ("port_range_max", false, F),
                ("protocol", false, F),
                ("remote_group", false, F),
                ("remote_ip_prefix", false, F),
                ("description", false, F),
            ],
            NeutronKind::FloatingIp => &[
                ("floating_network", false, F),
                ("floating_network_id", false, F),
                ("floating_subnet", false, F),
                ("floating_ip_address", false, F),
                ("port_id", false, M),
                ("fixed_ip_address", false, M),
                ("value_specs", false, F),
                ("dns_name", false, F),
                ("dns_domain", false, F),
            ],
        }
    }

    /// Heat's attribute names (`show` is the whole object).
    fn attributes(&self) -> &'static [&'static str] {
        match self {
            NeutronKind::Net => &[
                "name",
                "status",
                "subnets",
                "admin_state_up",
                "tenant_id",
                "mtu",
                "port_security_enabled",
                "show",
            ],
            NeutronKind::Subnet => &[
                "name",
                "network_id",
                "tenant_id",
                "allocation_pools",
                "gateway_ip",
                "host_routes",
                "ip_version",
                "cidr",
                "dns_nameservers",
                "enable_dhcp",
                "show",
            ],
            NeutronKind::Router => &[
                "name",
                "status",
                "external_gateway_info",
                "admin_state_up",
                "tenant_id",
                "show",
            ],
            NeutronKind::RouterInterface => &[],
            NeutronKind::Port => &[
                "name",
                "network_id",
                "mac_address",
                "fixed_ips",
                "device_id",
                "device_owner",
                "security_groups",
                "status",
                "tenant_id",
                "admin_state_up",
                "allowed_address_pairs",
                "subnets",
                "show",
            ],
            NeutronKind::SecurityGroup => &["name", "description", "rules", "show"],
            NeutronKind::SecurityGroupRule => &["show"],
            NeutronKind::FloatingIp => &[
                "router_id",
                "tenant_id",
                "floating_network_id",
                "fixed_ip_address",
                "floating_ip_address",
                "port_id",
                "show",
            ],
        }
    }
}

/// The handler of one Neutron type.
pub struct NeutronHandler {
    client: Client,
    kind: NeutronKind,
    schema: Schema,
}

impl NeutronHandler {
    /// The handler of `kind`, calling through `client`.
    pub fn new(client: Client, kind: NeutronKind) -> Self {
        let mut schema = Schema::new(kind.type_name())
            .with_attributes(kind.attributes())
            .with_readiness_hint(Duration::from_millis(500))
            .strict();
        for (name, required, update) in kind.properties() {
            schema = schema.with_property(name, *required, *update);
        }
        NeutronHandler {
            client,
            kind,
            schema,
        }
    }

    async fn resolve(
        &self,
        property: &str,
        value: &str,
        collection: &'static str,
    ) -> Result<String, HandlerError> {
        let client = self.client.clone();
        let kind = collection.trim_end_matches('s').replace('-', " ");
        resolve(property, value, &kind, |name| {
            client.list::<Value>(
                Service::Network,
                &format!("/{collection}"),
                &collection.replace('-', "_"),
                &[("name", name)],
            )
        })
        .await
    }

    /// A property naming an object by name or id, under its current or deprecated name.
    async fn reference(
        &self,
        props: &Properties,
        names: &[&str],
        collection: &'static str,
    ) -> Result<Option<String>, HandlerError> {
        for name in names {
            if let Some(value) = text(props, name).filter(|v| !v.is_empty()) {
                return self.resolve(name, &value, collection).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn required_reference(
        &self,
        props: &Properties,
        names: &[&str],
        collection: &'static str,
    ) -> Result<String, HandlerError> {
        self.reference(props, names, collection)
            .await?
            .ok_or_else(|| {
                HandlerError::invalid(format!("property {} is required", names.join(" or ")))
            })
    }

    /// The API body of the object's properties; `name` is the default name.
    async fn body(
        &self,
        props: &Properties,
        default_name: Option<&str>,
    ) -> Result<Fields, HandlerError> {
        let mut body = Fields::new();
        let copy = |body: &mut Fields, names: &[&str]| {
            for name in names {
                if let Some(v) = props.get(*name).filter(|v| !v.is_null()) {
                    body.insert((*name).to_owned(), v.clone());
                }
            }
        };
        match self.kind {
            NeutronKind::Net => {
                copy(&mut body, &["name", "dns_domain"]);
                for flag in ["admin_state_up", "shared", "port_security_enabled"] {
                    if let Some(b) = boolean(props, flag)? {
                        body.insert(flag.into(), json!(b));
                    }
                }
            }
            NeutronKind::Subnet => {
                let network = self
                    .required_reference(props, &["network", "network_id"], "networks")
                    .await?;
                body.insert("network_id".into(), json!(network));
                copy(
                    &mut body,
                    &[
                        "name",
                        "cidr",
                        "allocation_pools",
                        "dns_nameservers",
                        "host_routes",
                        "ipv6_ra_mode",
                        "ipv6_address_mode",
                        "subnetpool",
                    ],
                );
                body.insert(
                    "ip_version".into(),
                    json!(integer(props, "ip_version")?.unwrap_or(4)),
                );
                if let Some(p) = integer(props, "prefixlen")? {
                    body.insert("prefixlen".into(), json!(p));
                }
                if let Some(b) = boolean(props, "enable_dhcp")? {
                    body.insert("enable_dhcp".into(), json!(b));
                }
                match props.get("gateway_ip") {
                    // Heat: an empty gateway means none.
                    Some(Value::String(s)) if s.is_empty() => {
                        body.insert("gateway_ip".into(), Value::Null);
                    }
                    Some(Value::String(s)) => {
                        body.insert("gateway_ip".into(), json!(s));
                    }
                    _ => {}
                }
                if !body.contains_key("cidr") && !body.contains_key("subnetpool") {
                    return Err(HandlerError::invalid(
                        "property cidr is required (or subnetpool)",
                    ));
                }
            }
            NeutronKind::Router => {
                copy(&mut body, &["name"]);
                for flag in ["admin_state_up", "distributed", "ha"] {
                    if let Some(b) = boolean(props, flag)? {
                        body.insert(flag.into(), json!(b));
                    }
                }
                if let Some(gw) = props.get("external_gateway_info").filter(|v| !v.is_null()) {
                    let gw = gw.as_object().ok_or_else(|| {
                        HandlerError::invalid("property external_gateway_info must be a map")
                    })?;
                    let network = self
                        .required_reference(gw, &["network"], "networks")
                        .await
                        .map_err(|e| {
                            HandlerError::new(
                                e.kind,
                                format!("external_gateway_info: {}", e.message),
                            )
                        })?;
                    let mut info = Map::new();
                    info.insert("network_id".into(), json!(network));
                    if let Some(b) = boolean(gw, "enable_snat")? {
                        info.insert("enable_snat".into(), json!(b));
                    }
                    if let Some(ips) = gw.get("external_fixed_ips") {
                        info.insert("external_fixed_ips".into(), ips.clone());
                    }
                    body.insert("external_gateway_info".into(), Value::Object(info));
                }
            }
            NeutronKind::RouterInterface => {
                unreachable!("router interfaces have no body of their own")
            }
            NeutronKind::Port => {
                let network = self
                    .required_reference(props, &["network", "network_id"], "networks")
                    .await?;
                body.insert("network_id".into(), json!(network));
                copy(
                    &mut body,
                    &[
                        "name",
                        "mac_address",
                        "device_id",
                        "device_owner",
                        "allowed_address_pairs",
                        "binding:vnic_type",
                    ],
                );
                for flag in ["admin_state_up", "port_security_enabled"] {
                    if let Some(b) = boolean(props, flag)? {
                        body.insert(flag.into(), json!(b));
                    }
                }
                if let Some(Value::Array(ips)) = props.get("fixed_ips") {
                    let mut out = Vec::new();
                    for (i, ip) in ips.iter().enumerate() {
                        let ip = ip.as_object().ok_or_else(|| {
                            HandlerError::invalid(format!("property fixed_ips[{i}] must be a map"))
                        })?;
                        let mut entry = Map::new();
                        if let Some(subnet) = self
                            .reference(ip, &["subnet", "subnet_id"], "subnets")
                            .await?
                        {
                            entry.insert("subnet_id".into(), json!(subnet));
                        }
                        if let Some(addr) = text(ip, "ip_address") {
                            entry.insert("ip_address".into(), json!(addr));
                        }
                        out.push(Value::Object(entry));
                    }
                    body.insert("fixed_ips".into(), Value::Array(out));
                }
                if props.contains_key("security_groups") {
                    let mut ids = Vec::new();
                    for (i, sg) in string_list(props, "security_groups")?.iter().enumerate() {
                        ids.push(
                            self.resolve(&format!("security_groups[{i}]"), sg, "security-groups")
                                .await?,
                        );
                    }
                    body.insert("security_groups".into(), json!(ids));
                }
            }
            NeutronKind::SecurityGroup => copy(&mut body, &["name", "description"]),
            NeutronKind::SecurityGroupRule => {
                let group = self
                    .required_reference(props, &["security_group"], "security-groups")
                    .await?;
                let mut rule = rule_body(props, "")?;
                rule.insert("security_group_id".into(), json!(group));
                if let Some(remote) = self
                    .reference(props, &["remote_group"], "security-groups")
                    .await?
                {
                    rule.insert("remote_group_id".into(), json!(remote));
                }
                copy(&mut rule, &["description"]);
                body = rule;
            }
            NeutronKind::FloatingIp => {
                let network = self
                    .required_reference(
                        props,
                        &["floating_network", "floating_network_id"],
                        "networks",
                    )
                    .await?;
                body.insert("floating_network_id".into(), json!(network));
                if let Some(subnet) = self
                    .reference(props, &["floating_subnet"], "subnets")
                    .await?
                {
                    body.insert("subnet_id".into(), json!(subnet));
                }
                copy(
                    &mut body,
                    &[
                        "port_id",
                        "fixed_ip_address",
                        "floating_ip_address",
                        "dns_name",
                        "dns_domain",
                    ],
                );
            }
        }
        if let Some(tenant) = text(props, "tenant_id") {
            body.insert("project_id".into(), json!(tenant));
        }
        if matches!(
            self.kind,
            NeutronKind::Net | NeutronKind::Router | NeutronKind::Port | NeutronKind::SecurityGroup
        ) && !body.contains_key("name")
            && let Some(name) = default_name
        {
            body.insert("name".into(), json!(name));
        }
        for (k, v) in map(props, "value_specs")? {
            body.insert(k, v);
        }
        Ok(body)
    }

    /// A rule is its own identity (rules take no tags): a rule sent again is refused with
    /// `SecurityGroupRuleExists ... Rule id is <id>.`, which names the rule the first made.
    async fn create_rule(&self, body: Fields) -> Result<Created, HandlerError> {
        let id = match self.client.network().create_security_group_rule(body).await {
            Ok(rule) => rule.id,
            Err(e) if e.code == "SecurityGroupRuleExists" => e
                .message
                .split("Rule id is ")
                .nth(1)
                .map(|rest| rest.trim_end_matches('.').trim().to_owned())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| api(e.clone()))?,
            Err(e) => return Err(api(e)),
        };
        let readiness = self.read(&PhysicalId::new(&id), &Properties::new()).await?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness,
        })
    }

    /// Replaces an object's tags (`PUT /<collection>/<id>/tags`).
    async fn set_tags(
        &self,
        collection: &str,
        id: &str,
        tags: Vec<String>,
    ) -> Result<(), crate::error::ApiError> {
        self.client
            .send(
                Service::Network,
                Method::PUT,
                &format!("/{collection}/{id}/tags"),
                Body::Json(json!({ "tags": tags })),
            )
            .await
            .map(drop)
    }

    async fn get(&self, id: &str) -> Result<Option<Value>, HandlerError> {
        let (key, collection) = self.kind.api();
        match self
            .client
            .call::<Value>(
                Service::Network,
                Method::GET,
                &format!("/{collection}/{id}"),
                Body::Empty,
                Some(key),
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(api(e)),
        }
    }

    /// The rules the `rules` property asks for, with the default egress rules when it has
    /// no egress rule of its own (Heat's semantics).
    fn wanted_rules(
        props: Option<&Properties>,
        group_id: &str,
    ) -> Result<Vec<Fields>, HandlerError> {
        let mut wanted = Vec::new();
        if let Some(rules) = props.and_then(|p| p.get("rules")).filter(|v| !v.is_null()) {
            let rules = rules
                .as_array()
                .ok_or_else(|| HandlerError::invalid("property rules must be a list"))?;
            for (i, rule) in rules.iter().enumerate() {
                let rule = rule.as_object().ok_or_else(|| {
                    HandlerError::invalid(format!("property rules[{i}] must be a map"))
                })?;
                let mut body = rule_body(rule, &format!("rules[{i}]."))?;
                if let Some(remote) = text(rule, "remote_group_id").filter(|r| !r.is_empty()) {
                    body.insert("remote_group_id".into(), json!(remote));
                } else if text(rule, "remote_mode").as_deref() == Some("remote_group_id") {
                    // A rule naming no group means the group itself.
                    body.insert("remote_group_id".into(), json!(group_id));
                }
                wanted.push(body);
            }
        }
        if !wanted
            .iter()
            .any(|r| r.get("direction") == Some(&json!("egress")))
        {
            for ethertype in ["IPv4", "IPv6"] {
                wanted.push(Map::from_iter([
                    ("direction".into(), json!("egress")),
                    ("ethertype".into(), json!(ethertype)),
                ]));
            }
        }
        Ok(wanted)
    }

    /// Moves a security group's rules from what `old` asked for (the defaults Neutron made,
    /// on create) to what `new` asks for. Rules that neither mention (an
    /// `OS::Neutron::SecurityGroupRule` of the same group) are left alone.
    async fn sync_rules(
        &self,
        group: &Value,
        old: Option<&Properties>,
        new: &Properties,
    ) -> Result<(), HandlerError> {
        let group_id = group
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let old_keys: BTreeSet<String> = Self::wanted_rules(old, &group_id)?
            .iter()
            .map(rule_key)
            .collect();
        let wanted = Self::wanted_rules(Some(new), &group_id)?;
        let wanted_keys: BTreeSet<String> = wanted.iter().map(rule_key).collect();
        let existing = group
            .get("security_group_rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut have = BTreeSet::new();
        for rule in &existing {
            let Some(rule_obj) = rule.as_object() else {
                continue;
            };
            let key = rule_key(rule_obj);
            if old_keys.contains(&key) && !wanted_keys.contains(&key) {
                if let Some(id) = rule.get("id").and_then(Value::as_str) {
                    self.client
                        .network()
                        .delete_security_group_rule(id)
                        .await
                        .map_err(api)?;
                }
            } else {
                have.insert(key);
            }
        }
        for mut rule in wanted {
            let key = rule_key(&rule);
            // On create, Heat keeps the default egress rules Neutron made but does not add
            // them when Neutron made none (a deployment without default rule templates).
            if old.is_none() && old_keys.contains(&key) {
                continue;
            }
            if !have.insert(key) {
                continue;
            }
            rule.insert("security_group_id".into(), json!(group_id));
            match self.client.network().create_security_group_rule(rule).await {
                Ok(_) => {}
                // Made by a retried call before: it is there.
                Err(e) if e.code == "SecurityGroupRuleExists" => {}
                Err(e) => return Err(api(e)),
            }
        }
        Ok(())
    }

    fn readiness(&self, object: Value) -> Readiness {
        let status = object
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("ACTIVE")
            .to_owned();
        let settles = matches!(
            self.kind,
            NeutronKind::Net | NeutronKind::Router | NeutronKind::Port
        );
        if settles && status == "BUILD" {
            return Readiness::Pending { status };
        }
        if settles && status == "ERROR" {
            return Readiness::Failed {
                reason: format!("{} is ERROR", self.kind.type_name()),
            };
        }
        Readiness::Ready(self.attributes(object))
    }

    fn attributes(&self, object: Value) -> Attributes {
        let mut out = Attributes::new();
        for name in self.kind.attributes() {
            let value = match *name {
                "show" => object.clone(),
                "tenant_id" => object
                    .get("tenant_id")
                    .or_else(|| object.get("project_id"))
                    .cloned()
                    .unwrap_or(Value::Null),
                "rules" => object
                    .get("security_group_rules")
                    .cloned()
                    .unwrap_or(Value::Null),
                "subnets" if self.kind == NeutronKind::Port => json!(
                    object
                        .get("fixed_ips")
                        .and_then(Value::as_array)
                        .map(|ips| ips
                            .iter()
                            .filter_map(|ip| ip.get("subnet_id").cloned())
                            .collect::<Vec<_>>())
                        .unwrap_or_default()
                ),
                other => object.get(other).cloned().unwrap_or(Value::Null),
            };
            out.insert((*name).to_owned(), value);
        }
        out
    }

    async fn create_interface(&self, props: &Properties) -> Result<Created, HandlerError> {
        let router = self
            .required_reference(props, &["router", "router_id"], "routers")
            .await?;
        let (key, value) = if let Some(subnet) = self
            .reference(props, &["subnet", "subnet_id"], "subnets")
            .await?
        {
            ("subnet_id", subnet)
        } else if let Some(port) = self.reference(props, &["port", "port_id"], "ports").await? {
            ("port_id", port)
        } else {
            return Err(HandlerError::invalid("property subnet or port is required"));
        };
        let fields = Fields::from_iter([(key.to_owned(), json!(value))]);
        match self
            .client
            .network()
            .add_router_interface(&router, fields)
            .await
        {
            Ok(_) => {}
            // A retried create: the interface the first call made is there.
            Err(e)
                if e.kind() == iac_core::provider::ErrorKind::Invalid
                    && e.message.contains("already has a port") => {}
            Err(e) => return Err(api(e)),
        }
        Ok(Created {
            physical_id: PhysicalId::new(format!("{router}:{key}={value}")),
            readiness: Readiness::Ready(Attributes::new()),
        })
    }

    async fn read_interface(&self, physical_id: &PhysicalId) -> Result<Readiness, HandlerError> {
        let (router, key, value) = split_interface(physical_id)?;
        let mut ports = self.client.network().list_ports(&[("device_id", router)]);
        while let Some(port) = ports.next().await {
            let port = port.map_err(api)?;
            let matches = match key {
                "port_id" => port.id == value,
                _ => port.fixed_ips.iter().any(|ip| ip.subnet_id == value),
            };
            if matches {
                return Ok(Readiness::Ready(attrs([])));
            }
        }
        Ok(Readiness::Gone)
    }
}

fn split_interface(physical_id: &PhysicalId) -> Result<(&str, &str, &str), HandlerError> {
    let bad = || {
        HandlerError::invalid(format!(
            "'{physical_id}' is not a router interface id (<router>:subnet_id=<id>)"
        ))
    };
    let (router, rest) = physical_id.as_str().split_once(':').ok_or_else(bad)?;
    let (key, value) = rest.split_once('=').ok_or_else(bad)?;
    if !matches!(key, "subnet_id" | "port_id") {
        return Err(bad());
    }
    Ok((router, key, value))
}

/// The API fields of a rule from Heat's rule properties; `at` prefixes names in errors.
fn rule_body(props: &Properties, at: &str) -> Result<Fields, HandlerError> {
    let mut rule = Fields::new();
    let direction = text(props, "direction").unwrap_or_else(|| "ingress".into());
    if !matches!(direction.as_str(), "ingress" | "egress") {
        return Err(HandlerError::invalid(format!(
            "property {at}direction must be ingress or egress, not '{direction}'"
        )));
    }
    rule.insert("direction".into(), json!(direction));
    rule.insert(
        "ethertype".into(),
        json!(text(props, "ethertype").unwrap_or_else(|| "IPv4".into())),
    );
    if let Some(p) = text(props, "protocol").filter(|p| !p.is_empty()) {
        rule.insert("protocol".into(), json!(p));
    }
    for port in ["port_range_min", "port_range_max"] {
        if let Some(n) = integer(props, port).map_err(|e| {
            HandlerError::invalid(format!("{at}{}", e.message.trim_start_matches("property ")))
        })? {
            rule.insert(port.into(), json!(n));
        }
    }
    if let Some(prefix) = text(props, "remote_ip_prefix").filter(|p| !p.is_empty()) {
        rule.insert("remote_ip_prefix".into(), json!(prefix));
    }
    Ok(rule)
}

/// What identifies a rule, for comparing wanted and existing rules.
fn rule_key(rule: &Fields) -> String {
    let field = |name: &str| match rule.get(name) {
        Some(Value::Null) | None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let prefix = field("remote_ip_prefix");
    let prefix = if prefix == "0.0.0.0/0" || prefix == "::/0" {
        String::new()
    } else {
        prefix
    };
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        field("direction"),
        field("ethertype"),
        field("protocol").to_ascii_lowercase(),
        field("port_range_min"),
        field("port_range_max"),
        prefix,
        field("remote_group_id")
    )
}

#[async_trait]
impl ResourceHandler for NeutronHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "network"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties.as_ref();
        if self.kind == NeutronKind::RouterInterface {
            return self.create_interface(props).await;
        }
        let (key, collection) = self.kind.api();
        let name = format!("{}-{}", request.stack, request.logical_id);
        let mut body = self.body(props, Some(&name)).await?;
        // The engine's token is a tag of the object: a create sent again after a failure or
        // a crash finds what the first one made instead of making a second.
        let token = request.client_token.as_str();
        if self.kind == NeutronKind::SecurityGroupRule {
            return self.create_rule(body).await;
        }
        let mut made = self.client.list::<Value>(
            Service::Network,
            &format!("/{collection}"),
            &collection.replace('-', "_"),
            &[("tags", token)],
        );
        if let Some(existing) = made.next().await {
            let existing = existing.map_err(api)?;
            let id = existing
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let readiness = if self.kind == NeutronKind::SecurityGroup {
                self.sync_rules(&existing, None, props).await?;
                self.read(&PhysicalId::new(&id), props).await?
            } else {
                self.readiness(existing)
            };
            return Ok(Created {
                physical_id: PhysicalId::new(id),
                readiness,
            });
        }

        body.remove("tags");
        let created: Value = self
            .client
            .call(
                Service::Network,
                Method::POST,
                &format!("/{collection}"),
                Body::Json(json!({ key: body })),
                Some(key),
            )
            .await
            .map_err(api)?;
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Neutron takes no tags in a POST (observed: "Attribute 'tags' not allowed"), so
        // they follow at once. Should that fail, the object stays and is used: an error
        // would make the engine create again.
        let mut tags = string_list(props, "tags")?;
        tags.push(token.to_owned());
        if let Err(e) = self.set_tags(collection, &id, tags).await {
            tracing::warn!(%e, id, "could not tag the new object with its client token");
        }
        let readiness = if self.kind == NeutronKind::SecurityGroup {
            self.sync_rules(&created, None, props).await?;
            self.read(&PhysicalId::new(&id), props).await?
        } else {
            self.readiness(created)
        };
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness,
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        if self.kind == NeutronKind::RouterInterface {
            return self.read_interface(physical_id).await;
        }
        Ok(match self.get(physical_id.as_str()).await? {
            Some(object) => self.readiness(object),
            None => Readiness::Gone,
        })
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        if self.kind == NeutronKind::SecurityGroup && old.get("rules") != new.get("rules") {
            let group = self.get(physical_id.as_str()).await?.ok_or_else(|| {
                HandlerError::not_found(format!("security group {physical_id} is gone"))
            })?;
            self.sync_rules(&group, Some(old), new).await?;
        }
        if old.get("tags") != new.get("tags") && self.kind != NeutronKind::RouterInterface {
            // The user's tags change; the engine's client-token tag stays.
            let current = self.get(physical_id.as_str()).await?.unwrap_or(Value::Null);
            let mut tags: Vec<String> = current["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|t| ClientToken::parse(t).is_some_and(|_| t.starts_with("iac-")))
                .map(str::to_owned)
                .collect();
            tags.extend(string_list(new, "tags")?);
            let (_, collection) = self.kind.api();
            self.set_tags(collection, physical_id.as_str(), tags)
                .await
                .map_err(api)?;
        }
        let mutable: Vec<&str> = self
            .kind
            .properties()
            .iter()
            .filter(|p| p.2 == M && p.0 != "rules" && p.0 != "tags")
            .map(|p| p.0)
            .collect();
        if mutable.iter().any(|name| old.get(*name) != new.get(*name)) {
            let mut body = self.body(new, None).await?;
            let specs = map(new, "value_specs")?;
            body.retain(|k, _| mutable.contains(&k.as_str()) || specs.contains_key(k));
            if !body.is_empty() {
                let (key, collection) = self.kind.api();
                self.client
                    .send(
                        Service::Network,
                        Method::PUT,
                        &format!("/{collection}/{physical_id}"),
                        Body::Json(json!({ key: body })),
                    )
                    .await
                    .map_err(api)?;
            }
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
        if self.kind == NeutronKind::RouterInterface {
            let (router, key, value) = split_interface(physical_id)?;
            let fields = Fields::from_iter([(key.to_owned(), json!(value))]);
            self.client
                .network()
                .remove_router_interface(router, fields)
                .await
                .map_err(api)?;
            return Ok(Deleted::Done);
        }
        let (_, collection) = self.kind.api();
        self.client
            .delete(Service::Network, &format!("/{collection}/{physical_id}"))
            .await
            .map_err(api)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{client, create_error, props};

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        let h = NeutronHandler::new(client(), NeutronKind::Subnet);
        let e = create_error(&h, json!({"cidr": "10.0.0.0/24"})).await;
        assert_eq!(e.message, "property network or network_id is required");
        let h = NeutronHandler::new(client(), NeutronKind::SecurityGroupRule);
        let e = create_error(&h, json!({"security_group": "0b6a2bd4-0d7f-4c57-9f1e-0f3f1c2b7a10", "direction": "sideways"})).await;
        assert!(
            e.message.contains("direction must be ingress or egress"),
            "{}",
            e.message
        );
        let h = NeutronHandler::new(client(), NeutronKind::RouterInterface);
        let e = h
            .read(&PhysicalId::new("r1-no-colon"), &props(json!({})))
            .await
            .unwrap_err();
        assert!(e.message.contains("not a router interface id"));
    }

    #[test]
    fn rule_keys_ignore_the_any_prefix_and_protocol_case() {
        let a = rule_body(&props(json!({"protocol": "TCP", "port_range_min": 22, "port_range_max": "22", "remote_ip_prefix": "0.0.0.0/0"})), "").unwrap();
        let b = props(
            json!({"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": null, "id": "x"}),
        );
        assert_eq!(rule_key(&a), rule_key(&b));
    }
}
