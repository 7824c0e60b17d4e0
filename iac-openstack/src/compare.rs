//! Two deployments of one template compared resource by resource, through what the
//! services' own APIs say of each object (not what the deploying tool reported).
//!
//! Used to check that our engine and Heat build the same thing from the same HOT template:
//! each side is a list of [`Deployed`] resources (from Heat's stack resources or from an
//! engine report); [`differences`] reads every object back, describes it without its ids
//! and names ([`observed`]: ids of other objects of the same deployment become their
//! logical ids, so a port on `net_3` is compared as being on `net_3` on both sides) and
//! lists what differs.
//!
//! ```
//! use iac_openstack::compare::Deployed;
//!
//! let d = Deployed::new("net", "OS::Neutron::Net", "5c0a...");
//! assert_eq!(d.logical_id, "net");
//! ```

use std::collections::BTreeMap;

use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::ApiError;
use crate::services::orchestration::StackResource;

/// One resource of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Its logical id in the template.
    pub logical_id: String,
    /// Its type (`OS::Neutron::Net`).
    pub type_name: String,
    /// The object's id (for a router interface `<router>:subnet_id=<subnet>`, as Heat
    /// writes it).
    pub physical_id: String,
}

impl Deployed {
    /// A deployed resource.
    pub fn new(logical_id: &str, type_name: &str, physical_id: &str) -> Deployed {
        Deployed {
            logical_id: logical_id.to_owned(),
            type_name: type_name.to_owned(),
            physical_id: physical_id.to_owned(),
        }
    }
}

impl From<&StackResource> for Deployed {
    fn from(r: &StackResource) -> Deployed {
        Deployed::new(&r.resource_name, &r.resource_type, &r.physical_resource_id)
    }
}

impl From<&iac_core::engine::ResourceSummary> for Deployed {
    fn from(r: &iac_core::engine::ResourceSummary) -> Deployed {
        let physical = r.physical_id.as_ref().map(|p| p.to_string());
        Deployed::new(
            &r.logical_id,
            &r.type_name,
            physical.as_deref().unwrap_or(""),
        )
    }
}

/// What the object of a `type_name` resource with id `physical_id` looks like through its
/// service's API, without ids and names: ids of objects of the same deployment are given
/// as their logical ids through `own` (physical id → logical id), any other id as
/// `"outside"`. Describes the `OS::Neutron::*` types but floating IPs, servers, volumes and
/// volume attachments (compared through their volume and server); another type is an
/// `Unsupported` error.
pub async fn observed(
    client: &Client,
    type_name: &str,
    physical_id: &str,
    own: &BTreeMap<String, String>,
) -> Result<Value, ApiError> {
    let name = |id: &str| own.get(id).cloned().unwrap_or_else(|| "outside".to_owned());
    let network = client.network();
    Ok(match type_name {
        "OS::Neutron::Net" => {
            let n = network.get_network(physical_id).await?;
            json!({"status": n.status, "admin_state_up": n.admin_state_up, "subnets": n.subnets.len()})
        }
        "OS::Neutron::Subnet" => {
            let s = network.get_subnet(physical_id).await?;
            json!({"network": name(&s.network_id), "cidr": s.cidr, "gateway": s.gateway_ip,
                   "dhcp": s.enable_dhcp, "ip_version": s.ip_version,
                   "dns": s.extra.get("dns_nameservers"), "pools": s.extra.get("allocation_pools")})
        }
        "OS::Neutron::Router" => {
            let r = network.get_router(physical_id).await?;
            let interfaces: Vec<_> = network
                .list_ports(&[("device_id", physical_id)])
                .try_collect()
                .await?;
            json!({"status": r.status, "admin_state_up": r.admin_state_up,
                   "gateway": r.external_gateway_info.is_some_and(|g| !g.is_null()),
                   "routes": r.extra.get("routes"), "interfaces": interfaces.len()})
        }
        "OS::Neutron::RouterInterface" => {
            let (router, subnet) = physical_id.split_once(":subnet_id=").ok_or_else(|| {
                unsupported(type_name, physical_id, "not <router>:subnet_id=<id>")
            })?;
            let ports: Vec<_> = network
                .list_ports(&[("device_id", router)])
                .try_collect()
                .await?;
            let on_subnet: Vec<_> = ports
                .iter()
                .flat_map(|p| p.fixed_ips.iter().map(move |ip| (p, ip)))
                .filter(|(_, ip)| ip.subnet_id == subnet)
                .map(|(p, ip)| json!({"ip": ip.ip_address, "owner": p.device_owner}))
                .collect();
            json!({"router": name(router), "subnet": name(subnet), "ports": on_subnet})
        }
        "OS::Neutron::Port" => {
            let p = network.get_port(physical_id).await?;
            let ips: Vec<Value> = p
                .fixed_ips
                .iter()
                .map(|ip| json!([name(&ip.subnet_id), ip.ip_address]))
                .collect();
            let mut groups: Vec<String> = p.security_groups.iter().map(|g| name(g)).collect();
            groups.sort();
            json!({"network": name(&p.network_id), "ips": ips, "groups": groups,
                   "status": p.status, "owner": p.device_owner,
                   "admin_state_up": p.extra.get("admin_state_up")})
        }
        "OS::Neutron::SecurityGroup" => {
            let g = network.get_security_group(physical_id).await?;
            let mut rules: Vec<String> = g
                .security_group_rules
                .iter()
                .map(|r| rule(r, physical_id, &name))
                .collect();
            rules.sort();
            json!({"description": g.description, "rules": rules})
        }
        "OS::Neutron::SecurityGroupRule" => {
            let r = network.get_security_group_rule(physical_id).await?;
            json!({"group": name(&r.security_group_id), "rule": rule(&r, &r.security_group_id, &name)})
        }
        "OS::Cinder::Volume" => {
            let v = client.volume().get_volume(physical_id).await?;
            let mut attached: Vec<String> = v
                .attachments
                .iter()
                .map(|a| name(a["server_id"].as_str().unwrap_or_default()))
                .collect();
            attached.sort();
            json!({"size": v.size, "status": v.status, "attached_to": attached})
        }
        "OS::Nova::Server" => {
            let s = client.compute().get_server(physical_id).await?;
            json!({"status": s.status, "flavor": s.extra["flavor"]["original_name"], "image": s.extra["image"]["id"],
                   "volumes": s.extra["os-extended-volumes:volumes_attached"].as_array().map(Vec::len)})
        }
        // Its effect is on the volume and the server, compared there.
        "OS::Cinder::VolumeAttachment" => json!("attachment"),
        other => {
            return Err(unsupported(
                other,
                physical_id,
                "no comparison for this type",
            ));
        }
    })
}

/// A rule of group `group` as one line: direction, ethertype, protocol, ports and remote
/// (`self` for the group itself, a logical id, or a CIDR).
fn rule(
    r: &crate::services::network::SecurityGroupRule,
    group: &str,
    name: &dyn Fn(&str) -> String,
) -> String {
    let remote = match (&r.remote_group_id, &r.remote_ip_prefix) {
        (Some(g), _) if g == group => "group self".to_owned(),
        (Some(g), _) => format!("group {}", name(g)),
        (None, Some(prefix)) => prefix.clone(),
        (None, None) => "any".to_owned(),
    };
    format!(
        "{} {} {} {}-{} {remote}",
        r.direction,
        r.ethertype,
        r.protocol.as_deref().unwrap_or("any"),
        r.port_range_min.map_or("*".to_owned(), |p| p.to_string()),
        r.port_range_max.map_or("*".to_owned(), |p| p.to_string()),
    )
}

fn unsupported(type_name: &str, physical_id: &str, why: &str) -> ApiError {
    ApiError::local(
        "compare",
        &format!("{type_name} {physical_id}"),
        "Unsupported",
        why,
    )
}

/// What differs between two deployments of one template, one line per difference: a
/// logical id on one side only, a different type, a resource without an object, or a
/// different [`observed`] description.
/// Empty when they are the same.
pub async fn differences(
    client: &Client,
    (left_name, left): (&str, &[Deployed]),
    (right_name, right): (&str, &[Deployed]),
) -> Result<Vec<String>, ApiError> {
    let own = |side: &[Deployed]| -> BTreeMap<String, String> {
        side.iter()
            .map(|d| (d.physical_id.clone(), d.logical_id.clone()))
            .collect()
    };
    let (left_own, right_own) = (own(left), own(right));
    let right_by_id: BTreeMap<&str, &Deployed> =
        right.iter().map(|d| (d.logical_id.as_str(), d)).collect();
    let mut out = Vec::new();
    for l in left {
        let Some(r) = right_by_id.get(l.logical_id.as_str()) else {
            out.push(format!("{}: only in {left_name}", l.logical_id));
            continue;
        };
        if l.type_name != r.type_name {
            out.push(format!(
                "{}: {} in {left_name}, {} in {right_name}",
                l.logical_id, l.type_name, r.type_name
            ));
            continue;
        }
        if let Some(side) = [(left_name, l), (right_name, *r)]
            .iter()
            .find(|(_, d)| d.physical_id.is_empty())
            .map(|(side, _)| side)
        {
            out.push(format!("{}: no object in {side}", l.logical_id));
            continue;
        }
        let a = observed(client, &l.type_name, &l.physical_id, &left_own).await?;
        let b = observed(client, &r.type_name, &r.physical_id, &right_own).await?;
        if a != b {
            out.push(format!(
                "{} ({}): {left_name} {a} != {right_name} {b}",
                l.logical_id, l.type_name
            ));
        }
    }
    let left_ids: std::collections::BTreeSet<&str> =
        left.iter().map(|d| d.logical_id.as_str()).collect();
    out.extend(
        right
            .iter()
            .filter(|r| !left_ids.contains(r.logical_id.as_str()))
            .map(|r| format!("{}: only in {right_name}", r.logical_id)),
    );
    Ok(out)
}
