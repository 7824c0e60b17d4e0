//! SLB (2014-05-15): classic load balancers, their listeners and backend servers.
//!
//! Choices: an unknown ECS instance in `BackendServers` gives 400
//! `BackendServer.InvalidServerId` (ENI ids are not checked); a missing listener gives 400
//! `InvalidParameter` ("The specified resource of listener is not found."); a TCP and a UDP
//! listener may share a port, any other pair may not (`ListenerAlreadyExists`); an intranet
//! load balancer without `VSwitchId` gives `MissingParameter`; `LoadBalancerSpec` is
//! optional (empty when not given); new load balancers are `active`.
//!
//! `Address` fixes the address of an intranet load balancer with the rules of ECS
//! `PrivateIpAddress` (codes `InvalidPrivateIpAddress.Malformed`, `InvalidPrivateIpAddress`,
//! `InvalidPrivateIpAddress.Duplicated`, naming `Address`); on an internet one it gives 400
//! `InvalidParameter`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimBackendServer;
use super::params::{CloudError, Params, Res, new_id, page, tags_ecs, tags_match};
use super::state::{Listener, ListenerState, LoadBalancer, State};
use super::vpc::{check_optional_region, check_region, vswitch_not_found};

/// The API version of SLB.
pub(crate) const VERSION: &str = "2014-05-15";

const SPECS: &[&str] = &[
    "slb.s1.small",
    "slb.s2.small",
    "slb.s2.medium",
    "slb.s3.small",
    "slb.s3.medium",
    "slb.s3.large",
];

/// Listener settings kept as given and shown back by Describe*ListenerAttribute.
const SETTINGS: &[&str] = &[
    "PersistenceTimeout",
    "StickySession",
    "StickySessionType",
    "CookieTimeout",
    "Cookie",
    "XForwardedFor",
    "Gzip",
    "AclStatus",
    "AclType",
    "AclId",
    "EstablishedTimeout",
    "IdleTimeout",
    "RequestTimeout",
    "UnhealthyThreshold",
    "HealthyThreshold",
    "Description",
    "VServerGroupId",
];

/// Performs `action`, or `None` when SLB has no such action.
pub(crate) fn call(state: &mut State, action: &str, p: &Params) -> Option<Res<Value>> {
    Some(match action {
        "CreateLoadBalancer" => create(state, p),
        "DescribeLoadBalancers" => describe(state, p),
        "DescribeLoadBalancerAttribute" => describe_attribute(state, p),
        "SetLoadBalancerName" => set_name(state, p),
        "DeleteLoadBalancer" => delete(state, p),
        "CreateLoadBalancerTCPListener" => create_listener(state, p, "tcp"),
        "CreateLoadBalancerUDPListener" => create_listener(state, p, "udp"),
        "CreateLoadBalancerHTTPListener" => create_listener(state, p, "http"),
        "DescribeLoadBalancerTCPListenerAttribute" => describe_listener(state, p, "tcp"),
        "DescribeLoadBalancerUDPListenerAttribute" => describe_listener(state, p, "udp"),
        "DescribeLoadBalancerHTTPListenerAttribute" => describe_listener(state, p, "http"),
        "SetLoadBalancerTCPListenerAttribute" => set_listener(state, p, "tcp"),
        "SetLoadBalancerUDPListenerAttribute" => set_listener(state, p, "udp"),
        "SetLoadBalancerHTTPListenerAttribute" => set_listener(state, p, "http"),
        "StartLoadBalancerListener" => start_stop(state, p, true),
        "StopLoadBalancerListener" => start_stop(state, p, false),
        "DeleteLoadBalancerListener" => delete_listener(state, p),
        "AddBackendServers" => backends(state, p, Change::Add),
        "SetBackendServers" => backends(state, p, Change::Set),
        "RemoveBackendServers" => backends(state, p, Change::Remove),
        _ => return None,
    })
}

fn lb_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidLoadBalancerId.NotFound", "load balancer", id)
}

fn listener_not_found() -> CloudError {
    CloudError::new(
        400,
        "InvalidParameter",
        "The specified resource of listener is not found.",
    )
}

fn lb_mut<'a>(state: &'a mut State, p: &Params) -> Res<&'a mut LoadBalancer> {
    let id = p.required("LoadBalancerId")?;
    state.load_balancer_mut(id).ok_or_else(|| lb_not_found(id))
}

fn create(state: &mut State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let address_type = p
        .get("AddressType")
        .unwrap_or("internet")
        .to_ascii_lowercase();
    if !matches!(address_type.as_str(), "internet" | "intranet") {
        return Err(CloudError::invalid(
            "AddressType",
            &format!("\"{address_type}\" is not internet or intranet"),
        ));
    }
    let spec = p.text("LoadBalancerSpec");
    if !spec.is_empty() && !SPECS.contains(&spec.as_str()) {
        return Err(CloudError::bad(
            "InvalidParameter.LoadBalancerSpec",
            "LoadBalancerSpec",
            &format!("\"{spec}\" is not a known specification"),
        ));
    }
    let bandwidth = p.int_in("Bandwidth", 5120, 1, 5120)?;
    let tags = p.tags()?;
    let vswitch_id = p.text("VSwitchId");
    if address_type == "intranet" && vswitch_id.is_empty() {
        return Err(CloudError::missing("VSwitchId"));
    }
    let mut vpc_id = String::new();
    if !vswitch_id.is_empty() {
        let vswitch = state
            .vswitch(&vswitch_id)
            .ok_or_else(|| vswitch_not_found(&vswitch_id))?;
        vpc_id = vswitch.vpc_id.clone();
        if let Some(given) = p.get("VpcId")
            && given != vpc_id
        {
            return Err(CloudError::bad(
                "InvalidParameter.Mismatch",
                "VpcId",
                &format!("VSwitch {vswitch_id} is in VPC {vpc_id}, not {given}"),
            ));
        }
    }
    let fixed = p.get("Address").map(str::to_owned);
    if fixed.is_some() && address_type != "intranet" {
        return Err(CloudError::invalid(
            "Address",
            "an address can only be given to an intranet load balancer",
        ));
    }
    let address = if let Some(ip) = fixed {
        state
            .vswitch_mut(&vswitch_id)
            .ok_or_else(|| vswitch_not_found(&vswitch_id))?
            .claim("Address", &ip)?
    } else if address_type == "intranet" {
        state
            .vswitch_mut(&vswitch_id)
            .and_then(|s| s.allocate())
            .ok_or_else(|| {
                CloudError::new(
                    400,
                    "InvalidVSwitchId.IpNotEnough",
                    format!("The VSwitch {vswitch_id} does not have a free IP address."),
                )
            })?
    } else {
        state.public_ip()
    };
    let id = new_id("lb-");
    let name = p
        .get("LoadBalancerName")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("auto_named_slb_{}", &id[3..11]));
    let network_type = if vswitch_id.is_empty() {
        "classic"
    } else {
        "vpc"
    };
    let lb = LoadBalancer {
        id: id.clone(),
        name,
        address,
        address_type,
        vpc_id,
        vswitch_id,
        spec,
        network_type: network_type.to_owned(),
        bandwidth,
        internet_charge_type: p
            .get("InternetChargeType")
            .unwrap_or("paybytraffic")
            .to_owned(),
        tags,
        listeners: Vec::new(),
        backends: Vec::new(),
        create_time: chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string(),
    };
    let out = json!({
        "LoadBalancerId": lb.id,
        "Address": lb.address,
        "LoadBalancerName": lb.name,
        "VpcId": lb.vpc_id,
        "VSwitchId": lb.vswitch_id,
        "NetworkType": lb.network_type,
        "AddressIPVersion": "ipv4",
        "ResourceGroupId": "",
    });
    state.load_balancers.push(lb);
    Ok(out)
}

fn describe(state: &State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let ids: Option<Vec<&str>> = p
        .get("LoadBalancerId")
        .map(|v| v.split(',').map(str::trim).collect());
    let vpc_id = p.get("VpcId");
    let vswitch_id = p.get("VSwitchId");
    let name = p.get("LoadBalancerName");
    let mut filter = p.tags()?;
    if let Some(text) = p.get("Tags") {
        let tags: Vec<BTreeMap<String, String>> = serde_json::from_str(text).map_err(|_| {
            CloudError::invalid(
                "Tags",
                "it must be a JSON array of {\"TagKey\",\"TagValue\"}",
            )
        })?;
        for tag in tags {
            let key = tag.get("TagKey").cloned().unwrap_or_default();
            filter.push((key, tag.get("TagValue").cloned().unwrap_or_default()));
        }
    }
    let matching: Vec<&LoadBalancer> = state
        .load_balancers
        .iter()
        .filter(|l| ids.as_ref().is_none_or(|ids| ids.contains(&l.id.as_str())))
        .filter(|l| vpc_id.is_none_or(|v| l.vpc_id == v))
        .filter(|l| vswitch_id.is_none_or(|v| l.vswitch_id == v))
        .filter(|l| name.is_none_or(|n| l.name == n))
        .filter(|l| tags_match(&l.tags, &filter))
        .collect();
    let total = matching.len();
    let (items, number, size) = page(matching, p, 50)?;
    let lbs: Vec<Value> = items
        .into_iter()
        .map(|l| {
            json!({
                "LoadBalancerId": l.id,
                "LoadBalancerName": l.name,
                "LoadBalancerStatus": "active",
                "Address": l.address,
                "AddressType": l.address_type,
                "VpcId": l.vpc_id,
                "VSwitchId": l.vswitch_id,
                "NetworkType": l.network_type,
                "RegionId": state.region,
                "CreateTime": l.create_time,
                "Tags": tags_ecs(&l.tags),
            })
        })
        .collect();
    Ok(json!({
        "LoadBalancers": {"LoadBalancer": lbs},
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn backend_json(b: &SimBackendServer) -> Value {
    json!({"ServerId": b.server_id, "Weight": b.weight, "Type": b.server_type})
}

fn describe_attribute(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let region = state.region.clone();
    let lb = lb_mut(state, p)?;
    Ok(json!({
        "LoadBalancerId": lb.id,
        "LoadBalancerName": lb.name,
        "LoadBalancerStatus": "active",
        "Address": lb.address,
        "AddressType": lb.address_type,
        "VpcId": lb.vpc_id,
        "VSwitchId": lb.vswitch_id,
        "NetworkType": lb.network_type,
        "LoadBalancerSpec": lb.spec,
        "Bandwidth": lb.bandwidth,
        "InternetChargeType": lb.internet_charge_type,
        "RegionId": region,
        "CreateTime": lb.create_time,
        "ListenerPorts": {"ListenerPort": lb.listeners.iter().map(|l| l.port).collect::<Vec<_>>()},
        "ListenerPortsAndProtocol": {"ListenerPortAndProtocol": lb.listeners.iter().map(|l| json!({
            "ListenerPort": l.port,
            "ListenerProtocol": l.protocol,
        })).collect::<Vec<_>>()},
        "BackendServers": {"BackendServer": lb.backends.iter().map(backend_json).collect::<Vec<_>>()},
    }))
}

fn set_name(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let name = p.required("LoadBalancerName")?.to_owned();
    lb_mut(state, p)?.name = name;
    Ok(json!({}))
}

fn delete(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("LoadBalancerId")?;
    let index = state
        .load_balancers
        .iter()
        .position(|l| l.id == id)
        .ok_or_else(|| lb_not_found(id))?;
    let lb = state.load_balancers.remove(index);
    if lb.address_type == "intranet"
        && let Some(vswitch) = state.vswitch_mut(&lb.vswitch_id)
    {
        vswitch.release(&lb.address);
    }
    Ok(json!({}))
}

fn port(p: &Params, name: &str) -> Res<u16> {
    let port = p.required(name)?;
    port.trim()
        .parse::<u16>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            CloudError::invalid(name, &format!("\"{port}\" is not a port from 1 to 65535"))
        })
}

fn bandwidth(p: &Params) -> Res<Option<i64>> {
    match p.parse::<i64>("Bandwidth")? {
        Some(b) if b == -1 || (1..=5120).contains(&b) => Ok(Some(b)),
        Some(b) => Err(CloudError::invalid(
            "Bandwidth",
            &format!("{b} is not -1 or 1 to 5120"),
        )),
        None => Ok(None),
    }
}

fn scheduler(p: &Params) -> Res<Option<String>> {
    match p.get("Scheduler") {
        Some(s @ ("wrr" | "wlc" | "rr" | "sch" | "tch")) => Ok(Some(s.to_owned())),
        Some(s) => Err(CloudError::invalid(
            "Scheduler",
            &format!("\"{s}\" is not wrr, wlc, rr, sch or tch"),
        )),
        None => Ok(None),
    }
}

/// `HealthCheck*` and the other settings given, to keep.
fn settings(p: &Params) -> BTreeMap<String, String> {
    p.0.iter()
        .filter(|(k, v)| {
            !v.is_empty() && (k.starts_with("HealthCheck") || SETTINGS.contains(&k.as_str()))
        })
        .cloned()
        .collect()
}

fn create_listener(state: &mut State, p: &Params, protocol: &str) -> Res<Value> {
    check_optional_region(state, p)?;
    let listener_port = port(p, "ListenerPort")?;
    let backend_port = port(p, "BackendServerPort")?;
    let bandwidth = bandwidth(p)?.ok_or_else(|| CloudError::missing("Bandwidth"))?;
    let scheduler = scheduler(p)?.unwrap_or_else(|| "wrr".to_owned());
    let settings = settings(p);
    let lb = lb_mut(state, p)?;
    let clash = |other: &str| other == protocol || (other != "udp" && protocol != "udp");
    if lb
        .listeners
        .iter()
        .any(|l| l.port == listener_port && clash(&l.protocol))
    {
        return Err(CloudError::new(
            400,
            "ListenerAlreadyExists",
            format!("A listener on port {listener_port} already exists."),
        ));
    }
    lb.listeners.push(Listener {
        port: listener_port,
        protocol: protocol.to_owned(),
        backend_port,
        bandwidth,
        scheduler,
        state: ListenerState::Stopped,
        settings,
    });
    Ok(json!({}))
}

fn find_listener<'a>(
    lb: &'a mut LoadBalancer,
    port: u16,
    protocol: Option<&str>,
) -> Res<&'a mut Listener> {
    lb.listeners
        .iter_mut()
        .find(|l| l.port == port && protocol.is_none_or(|p| p.eq_ignore_ascii_case(&l.protocol)))
        .ok_or_else(listener_not_found)
}

fn describe_listener(state: &mut State, p: &Params, protocol: &str) -> Res<Value> {
    check_optional_region(state, p)?;
    let listener_port = port(p, "ListenerPort")?;
    let now = Instant::now();
    let lb = lb_mut(state, p)?;
    let l = find_listener(lb, listener_port, Some(protocol))?;
    let health_default = if protocol == "http" { "off" } else { "on" };
    let mut out = json!({
        "ListenerPort": l.port,
        "BackendServerPort": l.backend_port,
        "Bandwidth": l.bandwidth,
        "Status": l.status(now),
        "Scheduler": l.scheduler,
        "HealthCheck": health_default,
    });
    if let Value::Object(map) = &mut out {
        for (k, v) in &l.settings {
            let value = v
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(v.clone()));
            map.insert(k.clone(), value);
        }
    }
    Ok(out)
}

fn set_listener(state: &mut State, p: &Params, protocol: &str) -> Res<Value> {
    check_optional_region(state, p)?;
    let listener_port = port(p, "ListenerPort")?;
    let bandwidth = bandwidth(p)?;
    let scheduler = scheduler(p)?;
    let backend_port = match p.get("BackendServerPort") {
        Some(_) => Some(port(p, "BackendServerPort")?),
        None => None,
    };
    let settings = settings(p);
    let lb = lb_mut(state, p)?;
    let l = find_listener(lb, listener_port, Some(protocol))?;
    if let Some(b) = bandwidth {
        l.bandwidth = b;
    }
    if let Some(s) = scheduler {
        l.scheduler = s;
    }
    if let Some(b) = backend_port {
        l.backend_port = b;
    }
    l.settings.extend(settings);
    Ok(json!({}))
}

fn start_stop(state: &mut State, p: &Params, start: bool) -> Res<Value> {
    check_optional_region(state, p)?;
    let listener_port = port(p, "ListenerPort")?;
    let protocol = p.get("ListenerProtocol").map(str::to_owned);
    let delay = state.delays.listener_starting;
    let lb = lb_mut(state, p)?;
    let l = find_listener(lb, listener_port, protocol.as_deref())?;
    if !start {
        l.state = ListenerState::Stopped;
    } else if matches!(l.state, ListenerState::Stopped) {
        l.state = ListenerState::Started {
            at: Instant::now(),
            delay,
        };
    }
    Ok(json!({}))
}

fn delete_listener(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let listener_port = port(p, "ListenerPort")?;
    let protocol = p.get("ListenerProtocol").map(str::to_owned);
    let lb = lb_mut(state, p)?;
    let index = lb
        .listeners
        .iter()
        .position(|l| {
            l.port == listener_port
                && protocol
                    .as_deref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(&l.protocol))
        })
        .ok_or_else(listener_not_found)?;
    lb.listeners.remove(index);
    Ok(json!({}))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Set,
    Remove,
}

/// The `BackendServers` JSON: `[{"ServerId","Weight","Type"}]`, at most 20.
fn parse_backends(p: &Params) -> Res<Vec<SimBackendServer>> {
    let text = p.required("BackendServers")?;
    let bad = |why: &str| CloudError::invalid("BackendServers", why);
    let items: Vec<Value> = serde_json::from_str(text)
        .map_err(|_| bad("it must be a JSON array of {\"ServerId\",\"Weight\",\"Type\"}"))?;
    if items.is_empty() || items.len() > 20 {
        return Err(bad("it must hold 1 to 20 servers"));
    }
    items
        .iter()
        .map(|item| {
            let server_id = item
                .get("ServerId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("every server needs a ServerId"))?;
            let weight = match item.get("Weight") {
                None | Some(Value::Null) => 100,
                Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
                Some(Value::String(s)) => s.trim().parse().unwrap_or(-1),
                Some(_) => -1,
            };
            let weight = u32::try_from(weight)
                .ok()
                .filter(|w| *w <= 100)
                .ok_or_else(|| bad("Weight must be 0 to 100"))?;
            let server_type = item
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("ecs")
                .to_ascii_lowercase();
            if !matches!(server_type.as_str(), "ecs" | "eni") {
                return Err(bad("Type must be ecs or eni"));
            }
            Ok(SimBackendServer {
                server_id: server_id.to_owned(),
                weight,
                server_type,
            })
        })
        .collect()
}

fn backends(state: &mut State, p: &Params, change: Change) -> Res<Value> {
    check_optional_region(state, p)?;
    let servers = parse_backends(p)?;
    if change != Change::Remove {
        for server in &servers {
            if server.server_type == "ecs"
                && !state.instances.iter().any(|i| i.id == server.server_id)
            {
                return Err(CloudError::new(
                    400,
                    "BackendServer.InvalidServerId",
                    format!(
                        "The specified parameter \"BackendServers\" is not valid: instance \"{}\" does not exist.",
                        server.server_id
                    ),
                ));
            }
        }
    }
    let lb = lb_mut(state, p)?;
    for server in servers {
        let existing = lb
            .backends
            .iter_mut()
            .find(|b| b.server_id == server.server_id);
        match (change, existing) {
            (Change::Add | Change::Set, Some(b)) => b.weight = server.weight,
            (Change::Add, None) => lb.backends.push(server),
            (Change::Set, None) => {}
            (Change::Remove, _) => lb.backends.retain(|b| b.server_id != server.server_id),
        }
    }
    Ok(json!({
        "LoadBalancerId": lb.id,
        "BackendServers": {"BackendServer": lb.backends.iter().map(backend_json).collect::<Vec<_>>()},
    }))
}
