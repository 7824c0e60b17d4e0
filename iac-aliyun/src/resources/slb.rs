//! `ALIYUN::SLB::LoadBalancer`, `ALIYUN::SLB::Listener` and
//! `ALIYUN::SLB::BackendServerAttachment` (classic load balancer, API 2014-05-15).
//!
//! Only `CreateLoadBalancer` takes a `ClientToken`. A listener is found again by its
//! address (load balancer, port, protocol): a retried create that meets
//! `ListenerAlreadyExists` carries on with the listener the first attempt made. Adding a
//! backend server that is registered already sets its weight, so attachments are
//! idempotent as they are.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness, ReplaceOrder,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement, Mutable},
    Updated,
};
use serde_json::{Value, json};

use super::{
    api, attrs, boolean, changed, delete_call, endpoint_key, integer, pass, required, string_list,
    tags, text,
};
use crate::api::{CreateLoadBalancerResponse, ListenerAttribute, LoadBalancerAttribute};
use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;

/// The most backend servers one `AddBackendServers` or `RemoveBackendServers` call takes.
const BACKEND_BATCH: usize = 20;

/// Reads `DescribeLoadBalancerAttribute`: `None` when the load balancer does not exist.
/// The answer is returned whole as well, for fields the typed answer does not carry.
async fn describe_load_balancer(
    client: &Client,
    id: &str,
) -> Result<Option<(LoadBalancerAttribute, Value)>, HandlerError> {
    let params = Params::new().with("LoadBalancerId", id);
    let value = match client
        .rpc(Product::Slb, "DescribeLoadBalancerAttribute", params)
        .await
    {
        Ok(value) => value,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(api(e)),
    };
    let typed: LoadBalancerAttribute = serde_json::from_value(value.clone()).map_err(|e| {
        HandlerError::permanent(format!(
            "DescribeLoadBalancerAttribute of {id}: the answer does not decode: {e}"
        ))
    })?;
    Ok(Some((typed, value)))
}

// ---------------------------------------------------------------------------------------
// LoadBalancer
// ---------------------------------------------------------------------------------------

/// `ALIYUN::SLB::LoadBalancer`: `CreateLoadBalancer` (with the engine's `ClientToken`),
/// ready when `active`.
pub struct LoadBalancerHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl LoadBalancerHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::SLB::LoadBalancer")
            .with_property("LoadBalancerName", false, Mutable)
            .with_property("AddressType", false, ForcesReplacement)
            .with_property("LoadBalancerSpec", false, ForcesReplacement)
            .with_property("VpcId", false, ForcesReplacement)
            .with_property("VSwitchId", false, ForcesReplacement)
            .with_property("Bandwidth", false, ForcesReplacement)
            .with_property("InternetChargeType", false, ForcesReplacement)
            .with_property("MasterZoneId", false, ForcesReplacement)
            .with_property("SlaveZoneId", false, ForcesReplacement)
            .with_property("DeletionProtection", false, ForcesReplacement)
            .with_property("Address", false, ForcesReplacement)
            .with_attributes(&["LoadBalancerId", "IpAddress", "AddressType"])
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Slb);
        LoadBalancerHandler {
            client,
            schema,
            endpoint,
        }
    }
}

/// The create parameters of a load balancer, checked.
fn load_balancer_params(props: &Properties) -> Result<Params, HandlerError> {
    if let Some(kind) = text(props, "AddressType")
        && kind != "internet"
        && kind != "intranet"
    {
        return Err(HandlerError::invalid(format!(
            "property AddressType must be internet or intranet, not {kind:?}"
        )));
    }
    if let Some(bandwidth) = integer(props, "Bandwidth")?
        && !(1..=5120).contains(&bandwidth)
    {
        return Err(HandlerError::invalid(format!(
            "property Bandwidth must be 1–5120, not {bandwidth}"
        )));
    }
    if text(props, "Address").is_some() && text(props, "AddressType").as_deref() != Some("intranet")
    {
        return Err(HandlerError::invalid(
            "property Address (a fixed private address) needs AddressType: intranet",
        ));
    }
    let protection = boolean(props, "DeletionProtection")?;
    let params = pass(
        Params::new(),
        props,
        &[
            "LoadBalancerName",
            "AddressType",
            "LoadBalancerSpec",
            "VpcId",
            "VSwitchId",
            "Bandwidth",
            "InternetChargeType",
            "MasterZoneId",
            "SlaveZoneId",
            "Address",
        ],
    );
    // The API's name of the switch is `DeleteProtection`, with `on`/`off`.
    Ok(params.with_opt(
        "DeleteProtection",
        protection.map(|on| if on { "on" } else { "off" }),
    ))
}

/// Readiness of a described load balancer.
fn load_balancer_readiness(
    lb: &LoadBalancerAttribute,
    raw: &Value,
    props: &Properties,
) -> Readiness {
    match lb.load_balancer_status.as_str() {
        "active" => {
            let address_type = raw
                .get("AddressType")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .or_else(|| text(props, "AddressType"))
                .unwrap_or_else(|| "internet".to_owned());
            Readiness::Ready(attrs([
                ("LoadBalancerId", json!(lb.load_balancer_id)),
                ("IpAddress", json!(lb.address)),
                ("AddressType", json!(address_type)),
            ]))
        }
        "inactive" => Readiness::Failed {
            reason: format!(
                "load balancer {} is inactive (stopped)",
                lb.load_balancer_id
            ),
        },
        "locked" => Readiness::Failed {
            reason: format!(
                "load balancer {} is locked (overdue payment or a security lock)",
                lb.load_balancer_id
            ),
        },
        "" => Readiness::Pending {
            status: "unknown".into(),
        },
        other => Readiness::Pending {
            status: other.to_owned(),
        },
    }
}

#[async_trait]
impl ResourceHandler for LoadBalancerHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let params = load_balancer_params(props)?
            .with("ClientToken", request.client_token.as_str())
            .with_tags(&tags(request.stack, request.logical_id));
        let answer: CreateLoadBalancerResponse = self
            .client
            .call(Product::Slb, "CreateLoadBalancer", params)
            .await
            .map_err(api)?;
        if answer.load_balancer_id.is_empty() {
            return Err(HandlerError::permanent(
                "CreateLoadBalancer answered without a LoadBalancerId",
            ));
        }
        let readiness = Readiness::Ready(attrs([
            ("LoadBalancerId", json!(answer.load_balancer_id)),
            ("IpAddress", json!(answer.address)),
            (
                "AddressType",
                json!(text(props, "AddressType").unwrap_or_else(|| "internet".to_owned())),
            ),
        ]));
        Ok(Created {
            physical_id: PhysicalId::new(answer.load_balancer_id),
            readiness,
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Readiness, HandlerError> {
        Ok(
            match describe_load_balancer(&self.client, physical_id.as_str()).await? {
                Some((lb, raw)) => load_balancer_readiness(&lb, &raw, props),
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
        if changed(old, new, "LoadBalancerName")
            && let Some(name) = text(new, "LoadBalancerName")
        {
            let params = Params::new()
                .with("LoadBalancerId", physical_id.as_str())
                .with("LoadBalancerName", name);
            self.client
                .rpc(Product::Slb, "SetLoadBalancerName", params)
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
            Product::Slb,
            "DeleteLoadBalancer",
            "LoadBalancerId",
            physical_id,
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------
// Listener
// ---------------------------------------------------------------------------------------

/// The protocols a listener of this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Tcp,
    Udp,
    Http,
}

impl Protocol {
    fn parse(text: &str) -> Result<Self, HandlerError> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "http" => Ok(Protocol::Http),
            "https" => Err(HandlerError::invalid(
                "property Protocol: https listeners need a certificate, which this crate does not manage yet",
            )),
            _ => Err(HandlerError::invalid(format!(
                "property Protocol must be tcp, udp or http, not {text:?}"
            ))),
        }
    }

    /// The wire name (`tcp`), as `ListenerProtocol` and the physical id carry it.
    fn wire(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Http => "http",
        }
    }

    /// The part of the action names (`CreateLoadBalancerTCPListener`).
    fn action(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Http => "HTTP",
        }
    }
}

/// A listener's address and settings, checked.
#[derive(Debug)]
struct ListenerSpec {
    load_balancer_id: String,
    port: u16,
    protocol: Protocol,
    start: bool,
    /// Everything `Create…Listener` and `Set…ListenerAttribute` take besides the address.
    settings: Params,
}

/// A whole number inside an object property; `name` is the full path for errors.
fn whole(value: &Value, name: &str) -> Result<i64, HandlerError> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            HandlerError::invalid(format!("{name} must be a whole number, not {n}"))
        }),
        Value::String(s) => s.trim().parse().map_err(|_| {
            HandlerError::invalid(format!("{name} must be a whole number, not {s:?}"))
        }),
        other => Err(HandlerError::invalid(format!(
            "{name} must be a whole number, not {other}"
        ))),
    }
}

/// A string inside an object property (numbers become text).
fn scalar(value: &Value, name: &str) -> Result<String, HandlerError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(HandlerError::invalid(format!(
            "{name} must be a string, not {other}"
        ))),
    }
}

/// A whole number in a range; the error names the property and the range.
fn ranged(
    value: i64,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, HandlerError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(HandlerError::invalid(format!(
            "{name} must be {}–{}, not {value}",
            range.start(),
            range.end()
        )))
    }
}

/// An object property (absent: empty).
fn object<'a>(
    props: &'a Properties,
    name: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, HandlerError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(HandlerError::invalid(format!(
            "property {name} must be an object, not {other}"
        ))),
    }
}

/// `HealthCheck` flattened into the listener's `HealthCheck*` parameters.
fn health_check_params(
    mut params: Params,
    props: &Properties,
    protocol: Protocol,
) -> Result<Params, HandlerError> {
    let Some(check) = object(props, "HealthCheck")? else {
        if protocol == Protocol::Http {
            params = params.with("HealthCheck", "off");
        }
        return Ok(params);
    };
    if protocol == Protocol::Http {
        params = params.with("HealthCheck", "on");
    }
    for (key, value) in check {
        if value.is_null() {
            continue;
        }
        let name = format!("property HealthCheck.{key}");
        let (wire, number): (&str, Option<std::ops::RangeInclusive<i64>>) = match key.as_str() {
            "HealthyThreshold" => ("HealthyThreshold", Some(1..=10)),
            "UnhealthyThreshold" => ("UnhealthyThreshold", Some(1..=10)),
            "Interval" => ("HealthCheckInterval", Some(1..=50)),
            "Timeout" if protocol == Protocol::Http => ("HealthCheckTimeout", Some(1..=300)),
            "Timeout" => ("HealthCheckConnectTimeout", Some(1..=300)),
            "Port" => ("HealthCheckConnectPort", Some(1..=65535)),
            "URI" => ("HealthCheckURI", None),
            "Domain" => ("HealthCheckDomain", None),
            "HttpCode" => ("HealthCheckHttpCode", None),
            _ => {
                return Err(HandlerError::invalid(format!(
                    "{name} is not a health check setting (HealthyThreshold, UnhealthyThreshold, Interval, Timeout, Port, URI, Domain, HttpCode)"
                )));
            }
        };
        let value = match number {
            Some(range) => ranged(whole(value, &name)?, &name, range)?.to_string(),
            None => scalar(value, &name)?,
        };
        params = params.with(wire, value);
    }
    Ok(params)
}

/// `Persistence` as the listener's session parameters: `PersistenceTimeout` for tcp,
/// sticky sessions for http (`StickySession=off` unless asked), nothing for udp.
fn persistence_params(
    mut params: Params,
    props: &Properties,
    protocol: Protocol,
) -> Result<Params, HandlerError> {
    let persistence = object(props, "Persistence")?;
    let get = |key: &str| {
        persistence
            .and_then(|p| p.get(key))
            .filter(|v| !v.is_null())
    };
    match protocol {
        Protocol::Tcp => {
            if let Some(value) = get("PersistenceTimeout") {
                let name = "property Persistence.PersistenceTimeout";
                params = params.with(
                    "PersistenceTimeout",
                    ranged(whole(value, name)?, name, 0..=3600)?.to_string(),
                );
            }
        }
        Protocol::Udp => {}
        Protocol::Http => {
            let sticky = match get("StickySession") {
                None => "off".to_owned(),
                Some(value) => {
                    let name = "property Persistence.StickySession";
                    match scalar(value, name)?.as_str() {
                        s @ ("on" | "off") => s.to_owned(),
                        other => {
                            return Err(HandlerError::invalid(format!(
                                "{name} must be on or off, not {other:?}"
                            )));
                        }
                    }
                }
            };
            let on = sticky == "on";
            params = params.with("StickySession", sticky);
            if on {
                for key in ["StickySessionType", "CookieTimeout", "Cookie"] {
                    if let Some(value) = get(key) {
                        params = params
                            .with(key, scalar(value, &format!("property Persistence.{key}"))?);
                    }
                }
            }
        }
    }
    Ok(params)
}

/// Checks a listener's properties and builds its parameters.
fn listener_spec(props: &Properties) -> Result<ListenerSpec, HandlerError> {
    let load_balancer_id = required(props, "LoadBalancerId")?;
    let port = match integer(props, "ListenerPort")? {
        None => return Err(HandlerError::invalid("property ListenerPort is required")),
        Some(p) => ranged(p, "property ListenerPort", 1..=65535)?,
    };
    let protocol = Protocol::parse(&required(props, "Protocol")?)?;
    let backend_port = match integer(props, "BackendServerPort")? {
        None => port,
        Some(p) => ranged(p, "property BackendServerPort", 1..=65535)?,
    };
    let bandwidth = match integer(props, "Bandwidth")? {
        None => {
            return Err(HandlerError::invalid(
                "property Bandwidth is required (-1 for unlimited, or 1–1000)",
            ));
        }
        Some(b) if b == -1 || (1..=1000).contains(&b) => b,
        Some(b) => {
            return Err(HandlerError::invalid(format!(
                "property Bandwidth must be -1 or 1–1000, not {b}"
            )));
        }
    };
    let scheduler = text(props, "Scheduler");
    if let Some(s) = &scheduler
        && !["wrr", "wlc", "rr"].contains(&s.as_str())
    {
        return Err(HandlerError::invalid(format!(
            "property Scheduler must be wrr, wlc or rr, not {s:?}"
        )));
    }
    let start = boolean(props, "StartListener")?.unwrap_or(true);
    let settings = Params::new()
        .with("BackendServerPort", backend_port.to_string())
        .with("Bandwidth", bandwidth.to_string())
        .with_opt("Scheduler", scheduler);
    let settings = health_check_params(settings, props, protocol)?;
    let settings = persistence_params(settings, props, protocol)?;
    // Both are checked to fit a u16 above.
    let port = u16::try_from(port)
        .map_err(|_| HandlerError::invalid("property ListenerPort must be 1–65535"))?;
    Ok(ListenerSpec {
        load_balancer_id,
        port,
        protocol,
        start,
        settings,
    })
}

/// A listener's address from its physical id `<LoadBalancerId>:<ListenerPort>:<protocol>`.
fn listener_address(physical_id: &PhysicalId) -> Result<(String, u16, Protocol), HandlerError> {
    let bad = || {
        HandlerError::permanent(format!(
            "{physical_id} is not a listener id (<LoadBalancerId>:<ListenerPort>:<protocol>)"
        ))
    };
    let mut parts = physical_id.as_str().rsplitn(3, ':');
    let protocol = parts.next().ok_or_else(bad)?;
    let port = parts
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(bad)?;
    let lb = parts.next().filter(|lb| !lb.is_empty()).ok_or_else(bad)?;
    let protocol = Protocol::parse(protocol).map_err(|_| bad())?;
    Ok((lb.to_owned(), port, protocol))
}

/// Whether an error says the listener (or its load balancer) does not exist. SLB answers a
/// missing listener with `InvalidParameter` and a message about the listener.
fn listener_gone(e: &ApiError) -> bool {
    if e.is_not_found() {
        return true;
    }
    let message = e.message.to_ascii_lowercase();
    let missing = [
        "not exist",
        "not found",
        "no such",
        "doesn't exist",
        "does not exist",
        "missing",
        "absent",
    ]
    .iter()
    .any(|m| message.contains(m));
    (e.code.starts_with("InvalidParameter") && message.contains("listener") && missing)
        || message.contains("the specified resource does not exist")
}

/// `ALIYUN::SLB::Listener` (tcp, udp, http): `CreateLoadBalancer<Protocol>Listener`, then
/// `StartLoadBalancerListener`; ready when `running`.
pub struct ListenerHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl ListenerHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::SLB::Listener")
            .with_property("LoadBalancerId", true, ForcesReplacement)
            .with_property("ListenerPort", true, ForcesReplacement)
            .with_property("Protocol", true, ForcesReplacement)
            .with_property("Bandwidth", true, Mutable)
            .with_property("BackendServerPort", false, Mutable)
            .with_property("Scheduler", false, Mutable)
            .with_property("HealthCheck", false, Mutable)
            .with_property("Persistence", false, Mutable)
            .with_property("StartListener", false, Mutable)
            .with_attributes(&["ListenerPortsAndProtocol"])
            .with_replace_order(ReplaceOrder::DeleteBeforeCreate)
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Slb);
        ListenerHandler {
            client,
            schema,
            endpoint,
        }
    }

    async fn start(&self, lb: &str, port: u16, protocol: Protocol) -> Result<(), HandlerError> {
        let params = Params::new()
            .with("LoadBalancerId", lb)
            .with("ListenerPort", port.to_string())
            .with("ListenerProtocol", protocol.wire());
        self.client
            .rpc(Product::Slb, "StartLoadBalancerListener", params)
            .await
            .map_err(api)?;
        Ok(())
    }

    async fn stop(&self, lb: &str, port: u16, protocol: Protocol) -> Result<(), HandlerError> {
        let params = Params::new()
            .with("LoadBalancerId", lb)
            .with("ListenerPort", port.to_string())
            .with("ListenerProtocol", protocol.wire());
        self.client
            .rpc(Product::Slb, "StopLoadBalancerListener", params)
            .await
            .map_err(api)?;
        Ok(())
    }
}

/// Readiness of a described listener.
fn listener_readiness(
    listener: &ListenerAttribute,
    port: u16,
    protocol: Protocol,
    start: bool,
) -> Readiness {
    let ready = match listener.status.as_str() {
        "running" => true,
        "stopped" => !start,
        _ => false,
    };
    if ready {
        Readiness::Ready(attrs([(
            "ListenerPortsAndProtocol",
            json!([{ "ListenerPort": port, "ListenerProtocol": protocol.wire() }]),
        )]))
    } else {
        Readiness::Pending {
            status: listener.status.clone(),
        }
    }
}

#[async_trait]
impl ResourceHandler for ListenerHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let spec = listener_spec(request.properties)?;
        let mut params = Params::new()
            .with("LoadBalancerId", spec.load_balancer_id.as_str())
            .with("ListenerPort", spec.port.to_string());
        params.0.extend(spec.settings.0.iter().cloned());
        let action = format!("CreateLoadBalancer{}Listener", spec.protocol.action());
        match self.client.rpc(Product::Slb, &action, params).await {
            Ok(_) => {}
            // An earlier attempt made it and its answer was lost: carry on with it.
            Err(e) if e.code == "ListenerAlreadyExists" => {}
            Err(e) => return Err(api(e)),
        }
        if spec.start {
            self.start(&spec.load_balancer_id, spec.port, spec.protocol)
                .await?;
        }
        let id = format!(
            "{}:{}:{}",
            spec.load_balancer_id,
            spec.port,
            spec.protocol.wire()
        );
        let status = if spec.start { "starting" } else { "stopped" };
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Pending {
                status: status.into(),
            },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let (lb, port, protocol) = listener_address(physical_id)?;
        let start = boolean(props, "StartListener")
            .ok()
            .flatten()
            .unwrap_or(true);
        let params = Params::new()
            .with("LoadBalancerId", lb)
            .with("ListenerPort", port.to_string());
        let action = format!("DescribeLoadBalancer{}ListenerAttribute", protocol.action());
        match self
            .client
            .call::<ListenerAttribute>(Product::Slb, &action, params)
            .await
        {
            Ok(listener) => Ok(listener_readiness(&listener, port, protocol, start)),
            Err(e) if listener_gone(&e) => Ok(Readiness::Gone),
            Err(e) => Err(api(e)),
        }
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let spec = listener_spec(new)?;
        let (lb, port, protocol) = listener_address(physical_id)?;
        let settings_changed = [
            "Bandwidth",
            "BackendServerPort",
            "Scheduler",
            "HealthCheck",
            "Persistence",
        ]
        .iter()
        .any(|name| changed(old, new, name));
        if settings_changed {
            let mut params = Params::new()
                .with("LoadBalancerId", lb.as_str())
                .with("ListenerPort", port.to_string());
            params.0.extend(spec.settings.0.iter().cloned());
            let action = format!("SetLoadBalancer{}ListenerAttribute", protocol.action());
            self.client
                .rpc(Product::Slb, &action, params)
                .await
                .map_err(api)?;
        }
        let was_started = boolean(old, "StartListener").ok().flatten().unwrap_or(true);
        if spec.start != was_started {
            if spec.start {
                self.start(&lb, port, protocol).await?;
            } else {
                self.stop(&lb, port, protocol).await?;
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
        let (lb, port, protocol) = listener_address(physical_id)?;
        let params = Params::new()
            .with("LoadBalancerId", lb)
            .with("ListenerPort", port.to_string())
            .with("ListenerProtocol", protocol.wire());
        match self
            .client
            .rpc(Product::Slb, "DeleteLoadBalancerListener", params)
            .await
        {
            Ok(_) => Ok(Deleted::Done),
            Err(e) if listener_gone(&e) => Ok(Deleted::Done),
            Err(e) => Err(api(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// BackendServerAttachment
// ---------------------------------------------------------------------------------------

/// One wanted backend server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Backend {
    server_id: String,
    weight: i64,
    kind: String,
}

impl Backend {
    fn add_json(&self) -> Value {
        json!({ "ServerId": self.server_id, "Weight": self.weight.to_string(), "Type": self.kind })
    }
}

/// The backend servers of the properties: `BackendServers`, or `BackendServerList` with
/// `BackendServerWeightList` (its last weight repeats for the rest; 100 when empty).
fn backends(props: &Properties) -> Result<Vec<Backend>, HandlerError> {
    let listed = props.get("BackendServers").is_some_and(|v| !v.is_null());
    let by_list = props.get("BackendServerList").is_some_and(|v| !v.is_null());
    if listed && by_list {
        return Err(HandlerError::invalid(
            "give property BackendServers or BackendServerList, not both",
        ));
    }
    let mut out = Vec::new();
    if listed {
        let Some(Value::Array(items)) = props.get("BackendServers") else {
            return Err(HandlerError::invalid(
                "property BackendServers must be a list of {ServerId, Weight, Type}",
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let Value::Object(server) = item else {
                return Err(HandlerError::invalid(format!(
                    "property BackendServers[{i}] must be an object, not {item}"
                )));
            };
            for key in server.keys() {
                if !["ServerId", "Weight", "Type", "Description"].contains(&key.as_str()) {
                    return Err(HandlerError::invalid(format!(
                        "property BackendServers[{i}].{key} is not known (ServerId, Weight, Type, Description)"
                    )));
                }
            }
            let server_id = match server.get("ServerId") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    return Err(HandlerError::invalid(format!(
                        "property BackendServers[{i}].ServerId is required"
                    )));
                }
            };
            let weight = match server.get("Weight") {
                None | Some(Value::Null) => 100,
                Some(w) => {
                    let name = format!("BackendServers[{i}].Weight");
                    let w = whole(w, &name)?;
                    if !(0..=100).contains(&w) {
                        return Err(HandlerError::invalid(format!(
                            "{name} must be 0–100, not {w}"
                        )));
                    }
                    w
                }
            };
            let kind = match server.get("Type") {
                None | Some(Value::Null) => "ecs".to_owned(),
                Some(Value::String(t)) if ["ecs", "eni", "eci"].contains(&t.as_str()) => t.clone(),
                Some(other) => {
                    return Err(HandlerError::invalid(format!(
                        "BackendServers[{i}].Type must be ecs, eni or eci, not {other}"
                    )));
                }
            };
            out.push(Backend {
                server_id,
                weight,
                kind,
            });
        }
    } else {
        let ids = string_list(props, "BackendServerList")?;
        let weights: Vec<i64> = match props.get("BackendServerWeightList") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let name = format!("BackendServerWeightList[{i}]");
                    let w = whole(w, &name)?;
                    if (0..=100).contains(&w) {
                        Ok(w)
                    } else {
                        Err(HandlerError::invalid(format!(
                            "{name} must be 0–100, not {w}"
                        )))
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(one) => {
                let w = whole(one, "BackendServerWeightList")?;
                if !(0..=100).contains(&w) {
                    return Err(HandlerError::invalid(format!(
                        "BackendServerWeightList must be 0–100, not {w}"
                    )));
                }
                vec![w]
            }
        };
        for (i, server_id) in ids.into_iter().enumerate() {
            if server_id.is_empty() {
                return Err(HandlerError::invalid(format!(
                    "property BackendServerList[{i}] is empty"
                )));
            }
            let weight = weights.get(i).or(weights.last()).copied().unwrap_or(100);
            out.push(Backend {
                server_id,
                weight,
                kind: "ecs".to_owned(),
            });
        }
    }
    let mut seen = HashSet::new();
    for b in &out {
        if !seen.insert(b.server_id.as_str()) {
            return Err(HandlerError::invalid(format!(
                "backend server {} is listed twice",
                b.server_id
            )));
        }
    }
    Ok(out)
}

/// A registered server's weight as a number (the API answers numbers or numeric text).
fn weight_value(weight: &Value) -> Value {
    match weight {
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_or_else(|_| weight.clone(), |w| json!(w)),
        other => other.clone(),
    }
}

/// `ALIYUN::SLB::BackendServerAttachment`: `AddBackendServers` (20 per call), ready at once.
/// Its physical id is the load balancer's id.
pub struct BackendServerAttachmentHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl BackendServerAttachmentHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::SLB::BackendServerAttachment")
            .with_property("LoadBalancerId", true, ForcesReplacement)
            .with_property("BackendServers", false, Mutable)
            .with_property("BackendServerList", false, Mutable)
            .with_property("BackendServerWeightList", false, Mutable)
            .with_attributes(&["BackendServers", "LoadBalancerId"])
            .with_readiness_hint(Duration::from_secs(1))
            .strict();
        let endpoint = endpoint_key(&client, Product::Slb);
        BackendServerAttachmentHandler {
            client,
            schema,
            endpoint,
        }
    }

    async fn add(&self, lb: &str, servers: &[Backend]) -> Result<(), HandlerError> {
        for batch in servers.chunks(BACKEND_BATCH) {
            let list = Value::Array(batch.iter().map(Backend::add_json).collect());
            let params = Params::new()
                .with("LoadBalancerId", lb)
                .with("BackendServers", list.to_string());
            self.client
                .rpc(Product::Slb, "AddBackendServers", params)
                .await
                .map_err(api)?;
        }
        Ok(())
    }

    /// Removes servers; `Ok(false)` when the load balancer is gone.
    async fn remove(&self, lb: &str, server_ids: &[&str]) -> Result<bool, HandlerError> {
        for batch in server_ids.chunks(BACKEND_BATCH) {
            let list = Value::Array(batch.iter().map(|id| json!({ "ServerId": id })).collect());
            let params = Params::new()
                .with("LoadBalancerId", lb)
                .with("BackendServers", list.to_string());
            match self
                .client
                .rpc(Product::Slb, "RemoveBackendServers", params)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) => return Err(api(e)),
            }
        }
        Ok(true)
    }
}

#[async_trait]
impl ResourceHandler for BackendServerAttachmentHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let lb = required(props, "LoadBalancerId")?;
        let servers = backends(props)?;
        self.add(&lb, &servers).await?;
        let registered: Vec<Value> = servers
            .iter()
            .map(|b| json!({ "ServerId": b.server_id, "Weight": b.weight }))
            .collect();
        let readiness = Readiness::Ready(attrs([
            ("BackendServers", Value::Array(registered)),
            ("LoadBalancerId", json!(lb)),
        ]));
        Ok(Created {
            physical_id: PhysicalId::new(lb),
            readiness,
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let Some((lb, _)) = describe_load_balancer(&self.client, physical_id.as_str()).await?
        else {
            return Ok(Readiness::Gone);
        };
        let registered: Vec<Value> = lb
            .backend_servers
            .0
            .iter()
            .map(|b| json!({ "ServerId": b.server_id, "Weight": weight_value(&b.weight) }))
            .collect();
        Ok(Readiness::Ready(attrs([
            ("BackendServers", Value::Array(registered)),
            ("LoadBalancerId", json!(lb.load_balancer_id)),
        ])))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let wanted = backends(new)?;
        // The old properties passed these checks when they were applied.
        let had = backends(old).unwrap_or_default();
        let lb = physical_id.as_str();
        let gone: Vec<&str> = had
            .iter()
            .filter(|h| !wanted.iter().any(|w| w.server_id == h.server_id))
            .map(|h| h.server_id.as_str())
            .collect();
        let added: Vec<Backend> = wanted
            .iter()
            .filter(|w| !had.contains(w))
            .cloned()
            .collect();
        if !self.remove(lb, &gone).await? {
            return Ok(Updated {
                readiness: Readiness::Gone,
            });
        }
        self.add(lb, &added).await?;
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let servers = backends(props)?;
        let ids: Vec<&str> = servers.iter().map(|b| b.server_id.as_str()).collect();
        self.remove(physical_id.as_str(), &ids).await?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;
    use crate::sign::AccessKey;
    use iac_core::provider::{ClientToken, ErrorKind};

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

    async fn create_error(handler: &dyn ResourceHandler, properties: Value) -> HandlerError {
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
    fn schemas_name_the_getatt_attributes_and_are_strict() {
        let lb = LoadBalancerHandler::new(client());
        assert_eq!(
            lb.schema().attributes,
            ["LoadBalancerId", "IpAddress", "AddressType"]
        );
        assert!(lb.schema().strict_properties);
        assert_eq!(lb.endpoint(), "slb.cn-hangzhou");
        assert!(lb.schema().forces_replacement("VSwitchId"));
        assert!(!lb.schema().forces_replacement("LoadBalancerName"));

        let listener = ListenerHandler::new(client());
        assert_eq!(listener.schema().attributes, ["ListenerPortsAndProtocol"]);
        assert!(listener.schema().strict_properties);
        assert_eq!(
            listener.schema().replace_order,
            ReplaceOrder::DeleteBeforeCreate
        );
        assert!(listener.schema().forces_replacement("ListenerPort"));
        assert!(!listener.schema().forces_replacement("Bandwidth"));

        let attachment = BackendServerAttachmentHandler::new(client());
        assert!(
            attachment
                .schema()
                .attributes
                .iter()
                .any(|a| a == "BackendServers")
        );
        assert!(attachment.schema().strict_properties);
        assert!(attachment.schema().forces_replacement("LoadBalancerId"));
    }

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        let listener = ListenerHandler::new(client());
        let base = json!({"LoadBalancerId": "lb-1", "ListenerPort": 443, "Protocol": "https", "Bandwidth": -1});
        let e = create_error(&listener, base).await;
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(
            e.message.contains("https listeners need a certificate"),
            "{}",
            e.message
        );

        let e = create_error(&listener, json!({"LoadBalancerId": "lb-1", "ListenerPort": 80, "Protocol": "tcp", "Bandwidth": 2000})).await;
        assert!(e.message.contains("Bandwidth"), "{}", e.message);
        let e = create_error(
            &listener,
            json!({"LoadBalancerId": "lb-1", "ListenerPort": 80, "Protocol": "tcp"}),
        )
        .await;
        assert!(e.message.contains("Bandwidth is required"), "{}", e.message);
        let e = create_error(
            &listener,
            json!({"LoadBalancerId": "lb-1", "ListenerPort": 80, "Protocol": "tcp", "Bandwidth": 10, "HealthCheck": {"Interval": "x"}}),
        )
        .await;
        assert!(e.message.contains("HealthCheck.Interval"), "{}", e.message);

        let attachment = BackendServerAttachmentHandler::new(client());
        let e = create_error(
            &attachment,
            json!({"LoadBalancerId": "lb-1", "BackendServers": [
                {"ServerId": "i-1"}, {"ServerId": "i-2", "Weight": 50}, {"ServerId": "i-3", "Weight": 200}
            ]}),
        )
        .await;
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(
            e.message.contains("BackendServers[2].Weight must be 0–100"),
            "{}",
            e.message
        );

        let lb = LoadBalancerHandler::new(client());
        let e = create_error(&lb, json!({"AddressType": "public"})).await;
        assert!(e.message.contains("AddressType"), "{}", e.message);
    }

    #[test]
    fn listener_parameters_flatten_health_checks_and_persistence() {
        let spec = listener_spec(&props(json!({
            "LoadBalancerId": "lb-1", "ListenerPort": "80", "Protocol": "HTTP", "Bandwidth": -1, "Scheduler": "wlc",
            "HealthCheck": {"HealthyThreshold": 3, "Interval": 2, "Timeout": 5, "Port": 8080, "URI": "/healthz"},
        })))
        .unwrap();
        assert_eq!(
            (spec.port, spec.protocol, spec.start),
            (80, Protocol::Http, true)
        );
        let s = &spec.settings;
        assert_eq!(s.get("BackendServerPort"), Some("80"));
        assert_eq!(s.get("Bandwidth"), Some("-1"));
        assert_eq!(s.get("Scheduler"), Some("wlc"));
        assert_eq!(s.get("HealthCheck"), Some("on"));
        assert_eq!(s.get("HealthyThreshold"), Some("3"));
        assert_eq!(s.get("HealthCheckInterval"), Some("2"));
        assert_eq!(s.get("HealthCheckTimeout"), Some("5"));
        assert_eq!(s.get("HealthCheckConnectPort"), Some("8080"));
        assert_eq!(s.get("HealthCheckURI"), Some("/healthz"));
        assert_eq!(s.get("StickySession"), Some("off"));

        let tcp = listener_spec(&props(json!({
            "LoadBalancerId": "lb-1", "ListenerPort": 6443, "Protocol": "tcp", "Bandwidth": 100, "BackendServerPort": 443,
            "HealthCheck": {"Timeout": 5}, "Persistence": {"PersistenceTimeout": 60}, "StartListener": false,
        })))
        .unwrap();
        assert!(!tcp.start);
        assert_eq!(tcp.settings.get("BackendServerPort"), Some("443"));
        assert_eq!(tcp.settings.get("HealthCheckConnectTimeout"), Some("5"));
        assert_eq!(tcp.settings.get("PersistenceTimeout"), Some("60"));
        assert_eq!(tcp.settings.get("HealthCheck"), None);
        assert_eq!(tcp.settings.get("StickySession"), None);
    }

    #[test]
    fn listener_ids_round_trip() {
        let (lb, port, protocol) = listener_address(&PhysicalId::new("lb-bp1:80:tcp")).unwrap();
        assert_eq!((lb.as_str(), port, protocol), ("lb-bp1", 80, Protocol::Tcp));
        assert!(listener_address(&PhysicalId::new("lb-bp1:x:tcp")).is_err());
        assert!(listener_address(&PhysicalId::new(":80:tcp")).is_err());
    }

    #[test]
    fn missing_listeners_are_recognised() {
        let gone = ApiError::decode(
            400,
            r#"{"Code":"InvalidParameter","Message":"The specified listener does not exist."}"#,
            None,
        );
        assert!(listener_gone(&gone));
        let lb_gone = ApiError::decode(
            404,
            r#"{"Code":"InvalidLoadBalancerId.NotFound","Message":"x"}"#,
            None,
        );
        assert!(listener_gone(&lb_gone));
        let bad = ApiError::decode(
            400,
            r#"{"Code":"InvalidParameter","Message":"Bandwidth is out of range"}"#,
            None,
        );
        assert!(!listener_gone(&bad));
    }

    #[test]
    fn backend_lists_repeat_the_last_weight() {
        let servers = backends(&props(json!({
            "LoadBalancerId": "lb-1", "BackendServerList": ["i-1", "i-2", "i-3"], "BackendServerWeightList": [10, "20"],
        })))
        .unwrap();
        let weights: Vec<i64> = servers.iter().map(|b| b.weight).collect();
        assert_eq!(weights, [10, 20, 20]);
        let plain = backends(&props(
            json!({"LoadBalancerId": "lb-1", "BackendServerList": ["i-1"]}),
        ))
        .unwrap();
        assert_eq!(
            plain[0],
            Backend {
                server_id: "i-1".into(),
                weight: 100,
                kind: "ecs".into()
            }
        );
        assert_eq!(
            plain[0].add_json(),
            json!({"ServerId": "i-1", "Weight": "100", "Type": "ecs"})
        );
        let twice = backends(&props(json!({"BackendServerList": ["i-1", "i-1"]}))).unwrap_err();
        assert!(twice.message.contains("i-1"));
        let e = backends(&props(
            json!({"BackendServerList": ["i-1"], "BackendServerWeightList": [101]}),
        ))
        .unwrap_err();
        assert!(
            e.message.contains("BackendServerWeightList[0]"),
            "{}",
            e.message
        );
    }
}
