//! ECS (2014-05-26): security groups and their rules, instances.
//!
//! Choices: a `ZoneId` other than the VSwitch's gives 400 `InvalidVSwitchId.Mismatch`; a
//! security group outside the VSwitch's VPC gives 400 `InvalidParameter.Mismatch`; a VSwitch
//! not yet `Available` gives 400 `IncorrectVSwitchStatus`; a full VSwitch 400
//! `InvalidVSwitchId.IpNotEnough` (unless `MinAmount` instances fit); rules are the same when
//! everything but the description matches; nothing stops instances, so deleting one always
//! needs `Force=true`; an unknown `NextToken` gives 400 `InvalidParameter`; a security group
//! created without `VpcId` belongs to no VPC (classic) and so fits no VSwitch.
//!
//! `PrivateIpAddress` (only with `Amount` 1, else 400 `InvalidParameter`) fixes the address:
//! 400 `InvalidPrivateIpAddress.Malformed` when it is not IPv4, 400 `InvalidPrivateIpAddress`
//! when it is outside the VSwitch's block or one of the addresses the cloud reserves (the
//! first three and the last two of the block), 400 `InvalidPrivateIpAddress.Duplicated` when
//! an instance or a load balancer of the VSwitch has it. Automatic addresses skip it.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimRule;
use super::params::{CloudError, Params, Res, new_id, page, tags_ecs, tags_match};
use super::state::{Instance, SecurityGroup, State};
use super::vpc::{check_optional_region, check_region, vpc_not_found, vswitch_not_found};

/// The API version of ECS.
pub(crate) const VERSION: &str = "2014-05-26";

/// Performs `action`, or `None` when ECS has no such action.
pub(crate) fn call(state: &mut State, action: &str, p: &Params) -> Option<Res<Value>> {
    Some(match action {
        "CreateSecurityGroup" => create_group(state, p),
        "DescribeSecurityGroups" => describe_groups(state, p),
        "DescribeSecurityGroupAttribute" => describe_group_attribute(state, p),
        "AuthorizeSecurityGroup" => change_rules(state, p, "ingress", true),
        "AuthorizeSecurityGroupEgress" => change_rules(state, p, "egress", true),
        "RevokeSecurityGroup" => change_rules(state, p, "ingress", false),
        "RevokeSecurityGroupEgress" => change_rules(state, p, "egress", false),
        "ModifySecurityGroupAttribute" => modify_group(state, p),
        "DeleteSecurityGroup" => delete_group(state, p),
        "RunInstances" => run_instances(state, p),
        "DescribeInstances" => describe_instances(state, p),
        "ModifyInstanceAttribute" => modify_instance(state, p),
        "DeleteInstances" => delete_instances(state, p, "InstanceId.N"),
        "DeleteInstance" => delete_instances(state, p, "InstanceId"),
        _ => return None,
    })
}

fn group_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidSecurityGroupId.NotFound", "security group", id)
}

fn instance_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidInstanceId.NotFound", "instance", id)
}

/// The time as ECS shows creation times: `2024-01-02T03:04Z`.
fn ecs_time() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string()
}

fn create_group(state: &mut State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let vpc_id = p.get("VpcId").unwrap_or("");
    if !vpc_id.is_empty() {
        state.vpc(vpc_id).ok_or_else(|| vpc_not_found(vpc_id))?;
    }
    let group_type = p.get("SecurityGroupType").unwrap_or("normal");
    if !matches!(group_type, "normal" | "enterprise") {
        return Err(CloudError::invalid(
            "SecurityGroupType",
            &format!("\"{group_type}\" is not normal or enterprise"),
        ));
    }
    let group = SecurityGroup {
        id: new_id("sg-"),
        name: p.text("SecurityGroupName"),
        description: p.text("Description"),
        vpc_id: vpc_id.to_owned(),
        group_type: group_type.to_owned(),
        tags: p.tags()?,
        rules: Vec::new(),
        creation_time: ecs_time(),
    };
    let out = json!({"SecurityGroupId": group.id});
    state.groups.push(group);
    Ok(out)
}

/// A JSON array of strings (`["a","b"]`), 400 `InvalidParameter` naming `name` otherwise.
fn json_ids(p: &Params, name: &str) -> Res<Option<Vec<String>>> {
    match p.get(name) {
        None => Ok(None),
        Some(text) => serde_json::from_str::<Vec<String>>(text)
            .map(Some)
            .map_err(|_| CloudError::invalid(name, "it must be a JSON array of strings")),
    }
}

/// Paging by `NextToken` + `MaxResults`, or by `PageNumber` + `PageSize`: the page, and
/// the `NextToken`, `PageNumber` and `PageSize` to answer with.
fn token_page<T>(items: Vec<T>, p: &Params) -> Res<(Vec<T>, String, i64, i64)> {
    let by_token = p.get("NextToken").is_some() || p.get("MaxResults").is_some();
    if !by_token {
        let total = items.len();
        let (items, number, size) = page(items, p, 100)?;
        let next = if usize::try_from(number.saturating_mul(size)).unwrap_or(usize::MAX) < total {
            format!("sim-{}", number.saturating_mul(size))
        } else {
            String::new()
        };
        return Ok((items, next, number, size));
    }
    let max = p.int_in("MaxResults", 10, 1, 100)?;
    let offset = match p.get("NextToken") {
        None => 0,
        Some(token) => token
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| CloudError::invalid("NextToken", "the token is not one we gave"))?,
    };
    let total = items.len();
    let take = usize::try_from(max).unwrap_or(100);
    let end = offset.saturating_add(take);
    let next = if end < total {
        format!("sim-{end}")
    } else {
        String::new()
    };
    let number = i64::try_from(offset / take).unwrap_or(0) + 1;
    Ok((
        items.into_iter().skip(offset).take(take).collect(),
        next,
        number,
        max,
    ))
}

fn describe_groups(state: &State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let vpc_id = p.get("VpcId");
    let id = p.get("SecurityGroupId");
    let ids = json_ids(p, "SecurityGroupIds")?;
    let name = p.get("SecurityGroupName");
    let filter = p.tags()?;
    let matching: Vec<&SecurityGroup> = state
        .groups
        .iter()
        .filter(|g| vpc_id.is_none_or(|v| g.vpc_id == v))
        .filter(|g| id.is_none_or(|i| g.id == i))
        .filter(|g| ids.as_ref().is_none_or(|ids| ids.contains(&g.id)))
        .filter(|g| name.is_none_or(|n| g.name == n))
        .filter(|g| tags_match(&g.tags, &filter))
        .collect();
    let total = matching.len();
    let (items, next, number, size) = token_page(matching, p)?;
    let groups: Vec<Value> = items
        .into_iter()
        .map(|g| {
            json!({
                "SecurityGroupId": g.id,
                "SecurityGroupName": g.name,
                "Description": g.description,
                "VpcId": g.vpc_id,
                "SecurityGroupType": g.group_type,
                "CreationTime": g.creation_time,
                "ResourceGroupId": "",
                "Tags": tags_ecs(&g.tags),
            })
        })
        .collect();
    Ok(json!({
        "SecurityGroups": {"SecurityGroup": groups},
        "RegionId": state.region,
        "TotalCount": total,
        "NextToken": next,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn rule_json(r: &SimRule) -> Value {
    let (source_group, dest_group) = if r.direction == "ingress" {
        (r.source_group_id.as_str(), "")
    } else {
        ("", r.source_group_id.as_str())
    };
    json!({
        "Direction": r.direction,
        "IpProtocol": r.ip_protocol.to_ascii_uppercase(),
        "PortRange": r.port_range,
        "SourceCidrIp": r.source_cidr_ip,
        "DestCidrIp": r.dest_cidr_ip,
        "SourceGroupId": source_group,
        "DestGroupId": dest_group,
        "Policy": if r.policy == "accept" { "Accept" } else { "Drop" },
        "Priority": r.priority,
        "NicType": r.nic_type,
        "Description": r.description,
    })
}

fn describe_group_attribute(state: &State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let id = p.required("SecurityGroupId")?;
    let group = state.group(id).ok_or_else(|| group_not_found(id))?;
    let direction = p.get("Direction").unwrap_or("all");
    if !matches!(direction, "all" | "ingress" | "egress") {
        return Err(CloudError::invalid(
            "Direction",
            &format!("\"{direction}\" is not all, ingress or egress"),
        ));
    }
    let rules: Vec<Value> = group
        .rules
        .iter()
        .filter(|r| direction == "all" || r.direction == direction)
        .map(rule_json)
        .collect();
    Ok(json!({
        "SecurityGroupId": group.id,
        "SecurityGroupName": group.name,
        "Description": group.description,
        "VpcId": group.vpc_id,
        "RegionId": state.region,
        "InnerAccessPolicy": "Accept",
        "Permissions": {"Permission": rules},
    }))
}

const RULE_FIELDS: &[&str] = &[
    "IpProtocol",
    "PortRange",
    "SourceCidrIp",
    "DestCidrIp",
    "SourceGroupId",
    "DestGroupId",
    "Policy",
    "Priority",
    "NicType",
    "Description",
];

/// The rules of an Authorize/Revoke call: `Permissions.N.*` or the flat legacy form.
fn rules_from(state: &State, p: &Params, direction: &str) -> Res<Vec<SimRule>> {
    let listed = p.objects("Permissions");
    let sets: Vec<(String, BTreeMap<String, String>)> = if listed.is_empty() {
        let flat = RULE_FIELDS
            .iter()
            .filter_map(|f| Some(((*f).to_owned(), p.get(f)?.to_owned())))
            .collect();
        vec![(String::new(), flat)]
    } else {
        if listed.len() > 100 || listed.iter().any(|(n, _)| !(1..=100).contains(n)) {
            return Err(CloudError::invalid(
                "Permissions.N",
                "at most 100 permissions, N from 1 to 100",
            ));
        }
        listed
            .into_iter()
            .map(|(n, m)| (format!("Permissions.{n}."), m))
            .collect()
    };
    sets.iter()
        .map(|(prefix, fields)| rule_from(state, prefix, fields, direction))
        .collect()
}

fn rule_from(
    state: &State,
    prefix: &str,
    fields: &BTreeMap<String, String>,
    direction: &str,
) -> Res<SimRule> {
    let get = |f: &str| fields.get(f).map(String::as_str).filter(|v| !v.is_empty());
    let name = |f: &str| format!("{prefix}{f}");
    let protocol = get("IpProtocol")
        .ok_or_else(|| CloudError::missing(&name("IpProtocol")))?
        .to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "icmp" | "gre" | "all") {
        return Err(CloudError::bad(
            "InvalidIpProtocol.Malformed",
            &name("IpProtocol"),
            &format!("\"{protocol}\" is not tcp, udp, icmp, gre or all"),
        ));
    }
    let ports = get("PortRange").ok_or_else(|| CloudError::missing(&name("PortRange")))?;
    let bad_ports = || {
        CloudError::bad(
            "InvalidPortRange.Malformed",
            &name("PortRange"),
            &format!("\"{ports}\" is not a/b with 1 <= a <= b <= 65535 for tcp and udp, or -1/-1"),
        )
    };
    let (a, b) = ports.split_once('/').ok_or_else(bad_ports)?;
    let (a, b) = (
        a.trim().parse::<i64>().map_err(|_| bad_ports())?,
        b.trim().parse::<i64>().map_err(|_| bad_ports())?,
    );
    let ok = if matches!(protocol.as_str(), "tcp" | "udp") {
        1 <= a && a <= b && b <= 65535
    } else {
        a == -1 && b == -1
    };
    if !ok {
        return Err(bad_ports());
    }
    let policy = get("Policy").unwrap_or("accept").to_ascii_lowercase();
    if !matches!(policy.as_str(), "accept" | "drop") {
        return Err(CloudError::invalid(
            &name("Policy"),
            &format!("\"{policy}\" is not accept or drop"),
        ));
    }
    let priority = match get("Priority") {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                CloudError::invalid(&name("Priority"), &format!("\"{text}\" is not 1 to 100"))
            })?,
    };
    let nic_type = get("NicType").unwrap_or("intranet").to_ascii_lowercase();
    if !matches!(nic_type.as_str(), "intranet" | "internet") {
        return Err(CloudError::invalid(
            &name("NicType"),
            &format!("\"{nic_type}\" is not intranet or internet"),
        ));
    }
    let cidr_field = if direction == "ingress" {
        "SourceCidrIp"
    } else {
        "DestCidrIp"
    };
    let cidr = get(cidr_field).unwrap_or("");
    if !cidr.is_empty()
        && super::params::Cidr::parse(cidr).is_none()
        && cidr.parse::<std::net::Ipv4Addr>().is_err()
    {
        return Err(CloudError::invalid(
            &name(cidr_field),
            &format!("\"{cidr}\" is not an IPv4 address or CIDR block"),
        ));
    }
    let group_field = if direction == "ingress" {
        "SourceGroupId"
    } else {
        "DestGroupId"
    };
    let other_group = get(group_field).unwrap_or("");
    if !other_group.is_empty() && state.group(other_group).is_none() {
        return Err(group_not_found(other_group));
    }
    Ok(SimRule {
        direction: direction.to_owned(),
        ip_protocol: protocol,
        port_range: format!("{a}/{b}"),
        source_cidr_ip: if direction == "ingress" {
            cidr.to_owned()
        } else {
            String::new()
        },
        dest_cidr_ip: if direction == "egress" {
            cidr.to_owned()
        } else {
            String::new()
        },
        source_group_id: other_group.to_owned(),
        policy,
        priority,
        nic_type,
        description: get("Description").unwrap_or("").to_owned(),
    })
}

fn same_rule(a: &SimRule, b: &SimRule) -> bool {
    SimRule {
        description: String::new(),
        ..a.clone()
    } == SimRule {
        description: String::new(),
        ..b.clone()
    }
}

fn change_rules(state: &mut State, p: &Params, direction: &str, add: bool) -> Res<Value> {
    check_region(state, p)?;
    let id = p.required("SecurityGroupId")?;
    state.group(id).ok_or_else(|| group_not_found(id))?;
    let rules = rules_from(state, p, direction)?;
    let group = state
        .groups
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| group_not_found(id))?;
    for rule in rules {
        if add {
            if !group.rules.iter().any(|r| same_rule(r, &rule)) {
                group.rules.push(rule);
            }
        } else {
            group.rules.retain(|r| !same_rule(r, &rule));
        }
    }
    Ok(json!({}))
}

fn modify_group(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("SecurityGroupId")?;
    let group = state
        .groups
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| group_not_found(id))?;
    if let Some(name) = p.get("SecurityGroupName") {
        group.name = name.to_owned();
    }
    if let Some(description) = p.get("Description") {
        group.description = description.to_owned();
    }
    Ok(json!({}))
}

fn delete_group(state: &mut State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let id = p.required("SecurityGroupId")?;
    state.group(id).ok_or_else(|| group_not_found(id))?;
    if state
        .instances
        .iter()
        .any(|i| i.security_group_ids.iter().any(|g| g == id))
    {
        return Err(CloudError::new(
            400,
            "DependencyViolation",
            "There is still instance(s) in the specified security group.",
        ));
    }
    state.groups.retain(|g| g.id != id);
    Ok(json!({}))
}

/// Checks UserData: Base64 of at most 32 KiB.
fn check_user_data(p: &Params) -> Res<Option<String>> {
    let Some(text) = p.get("UserData") else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| {
            CloudError::bad(
                "InvalidUserData.Base64FormatInvalid",
                "UserData",
                "it is not valid Base64",
            )
        })?;
    if raw.len() > 32 * 1024 {
        return Err(CloudError::bad(
            "InvalidUserData.SizeExceeded",
            "UserData",
            "it is larger than 32 KiB once decoded",
        ));
    }
    Ok(Some(text.to_owned()))
}

fn run_instances(state: &mut State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let image_id = p.required("ImageId")?.to_owned();
    let instance_type = p.required("InstanceType")?.to_owned();
    let mut group_ids = p.list("SecurityGroupIds");
    if let Some(id) = p.get("SecurityGroupId") {
        group_ids.insert(0, id.to_owned());
    }
    let mut seen = std::collections::BTreeSet::new();
    group_ids.retain(|g| seen.insert(g.clone()));
    if group_ids.is_empty() {
        return Err(CloudError::missing("SecurityGroupId"));
    }
    let vswitch_id = p.required("VSwitchId")?.to_owned();
    let amount = p
        .int_in("Amount", 1, 1, 100)
        .map_err(|_| CloudError::bad("InvalidParameter.Amount", "Amount", "it must be 1 to 100"))?;
    let min_amount = p.int_in("MinAmount", amount, 1, amount).map_err(|_| {
        CloudError::bad(
            "InvalidParameter.MinAmount",
            "MinAmount",
            "it must be 1 to Amount",
        )
    })?;
    let fixed_ip = p.get("PrivateIpAddress").map(str::to_owned);
    if fixed_ip.is_some() && amount != 1 {
        return Err(CloudError::invalid(
            "PrivateIpAddress",
            "it can only be given with Amount = 1",
        ));
    }
    let user_data = check_user_data(p)?.unwrap_or_default();
    let bandwidth = p.int_in("InternetMaxBandwidthOut", 0, 0, 100)?;
    p.int_in("SystemDisk.Size", 40, 20, 32768)?;
    let unique_suffix = p.boolean("UniqueSuffix")?.unwrap_or(false);
    let tags = p.tags()?;
    let now = Instant::now();
    let vswitch = state
        .vswitch(&vswitch_id)
        .ok_or_else(|| vswitch_not_found(&vswitch_id))?;
    if vswitch.status(now) != "Available" {
        return Err(CloudError::new(
            400,
            "IncorrectVSwitchStatus",
            "The current status of the VSwitch does not support this operation.",
        ));
    }
    let (zone_id, vpc_id) = (vswitch.zone_id.clone(), vswitch.vpc_id.clone());
    if let Some(zone) = p.get("ZoneId")
        && zone != zone_id
    {
        return Err(CloudError::bad(
            "InvalidVSwitchId.Mismatch",
            "ZoneId",
            &format!("VSwitch {vswitch_id} is in zone {zone_id}, not {zone}"),
        ));
    }
    for id in &group_ids {
        let group = state.group(id).ok_or_else(|| group_not_found(id))?;
        if group.vpc_id != vpc_id {
            return Err(CloudError::bad(
                "InvalidParameter.Mismatch",
                "SecurityGroupId",
                &format!("security group {id} is not in the VPC {vpc_id} of VSwitch {vswitch_id}"),
            ));
        }
    }
    let free = vswitch.available_ips();
    let count = if free >= amount as u64 {
        amount
    } else if free >= min_amount as u64 {
        free as i64
    } else {
        return Err(CloudError::new(
            400,
            "InvalidVSwitchId.IpNotEnough",
            format!("The VSwitch {vswitch_id} does not have enough free IP addresses."),
        ));
    };
    let name = p.text("InstanceName");
    let host = p.get("HostName").map(str::to_owned);
    let delays = state.delays.clone();
    let mut ids = Vec::new();
    for n in 1..=count {
        let suffix = if unique_suffix && amount > 1 {
            format!("{n:03}")
        } else {
            String::new()
        };
        let Some(vswitch) = state.vswitch_mut(&vswitch_id) else {
            break;
        };
        let private_ip = match &fixed_ip {
            Some(ip) => vswitch.claim("PrivateIpAddress", ip)?,
            None => match vswitch.allocate() {
                Some(ip) => ip,
                None => break,
            },
        };
        let public_ip = (bandwidth > 0).then(|| state.public_ip());
        let id = new_id("i-");
        let host_name = match &host {
            Some(h) => format!("{h}{suffix}"),
            None => format!("iZ{}Z", id.trim_start_matches("i-")),
        };
        state.instances.push(Instance {
            id: id.clone(),
            name: if name.is_empty() {
                id.clone()
            } else {
                format!("{name}{suffix}")
            },
            host_name,
            description: p.text("Description"),
            instance_type: instance_type.clone(),
            image_id: image_id.clone(),
            zone_id: zone_id.clone(),
            vpc_id: vpc_id.clone(),
            vswitch_id: vswitch_id.clone(),
            security_group_ids: group_ids.clone(),
            private_ip,
            public_ip,
            user_data: user_data.clone(),
            tags: tags.clone(),
            created: now,
            pending: delays.instance_pending,
            starting: delays.instance_starting,
            creation_time: ecs_time(),
        });
        ids.push(id);
    }
    Ok(json!({
        "InstanceIdSets": {"InstanceIdSet": ids},
        "TradePrice": 0,
    }))
}

fn instance_json(state: &State, i: &Instance, now: Instant) -> Value {
    json!({
        "InstanceId": i.id,
        "InstanceName": i.name,
        "HostName": i.host_name,
        "Description": i.description,
        "Status": i.status(now),
        "InstanceType": i.instance_type,
        "ImageId": i.image_id,
        "ZoneId": i.zone_id,
        "RegionId": state.region,
        "CreationTime": i.creation_time,
        "InstanceNetworkType": "vpc",
        "InternetMaxBandwidthOut": i32::from(i.public_ip.is_some()),
        "SecurityGroupIds": {"SecurityGroupId": i.security_group_ids},
        "VpcAttributes": {
            "VpcId": i.vpc_id,
            "VSwitchId": i.vswitch_id,
            "PrivateIpAddress": {"IpAddress": [i.private_ip]},
            "NatIpAddress": "",
        },
        "PublicIpAddress": {"IpAddress": i.public_ip.iter().collect::<Vec<_>>()},
        "EipAddress": {"IpAddress": "", "AllocationId": ""},
        "Tags": tags_ecs(&i.tags),
    })
}

fn describe_instances(state: &State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let ids = json_ids(p, "InstanceIds")?;
    if ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(CloudError::bad(
            "InvalidInstanceIds.ValueNotSupported",
            "InstanceIds",
            "at most 100 ids are allowed",
        ));
    }
    let vpc_id = p.get("VpcId");
    let vswitch_id = p.get("VSwitchId");
    let zone = p.get("ZoneId");
    let status = p.get("Status");
    let name = p.get("InstanceName");
    let filter = p.tags()?;
    let now = Instant::now();
    let name_matches = |i: &Instance| match name {
        None => true,
        Some(n) => match n.strip_suffix('*') {
            Some(prefix) => i.name.starts_with(prefix),
            None => i.name == n,
        },
    };
    let matching: Vec<&Instance> = state
        .instances
        .iter()
        .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.id)))
        .filter(|i| vpc_id.is_none_or(|v| i.vpc_id == v))
        .filter(|i| vswitch_id.is_none_or(|v| i.vswitch_id == v))
        .filter(|i| zone.is_none_or(|z| i.zone_id == z))
        .filter(|i| status.is_none_or(|s| i.status(now) == s))
        .filter(|i| name_matches(i))
        .filter(|i| tags_match(&i.tags, &filter))
        .collect();
    let total = matching.len();
    let (items, next, number, size) = token_page(matching, p)?;
    let instances: Vec<Value> = items
        .into_iter()
        .map(|i| instance_json(state, i, now))
        .collect();
    Ok(json!({
        "Instances": {"Instance": instances},
        "TotalCount": total,
        "NextToken": next,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn modify_instance(state: &mut State, p: &Params) -> Res<Value> {
    let id = p.required("InstanceId")?;
    let user_data = check_user_data(p)?;
    let instance = state
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| instance_not_found(id))?;
    if let Some(name) = p.get("InstanceName") {
        instance.name = name.to_owned();
    }
    if let Some(host) = p.get("HostName") {
        instance.host_name = host.to_owned();
    }
    if let Some(description) = p.get("Description") {
        instance.description = description.to_owned();
    }
    if let Some(user_data) = user_data {
        instance.user_data = user_data;
    }
    Ok(json!({}))
}

/// `form` is `InstanceId.N` (DeleteInstances) or `InstanceId` (DeleteInstance).
fn delete_instances(state: &mut State, p: &Params, form: &str) -> Res<Value> {
    check_optional_region(state, p)?;
    let ids = if form == "InstanceId" {
        vec![p.required("InstanceId")?.to_owned()]
    } else {
        let ids = p.list("InstanceId");
        if ids.is_empty() {
            return Err(CloudError::missing("InstanceId.1"));
        }
        if ids.len() > 100 {
            return Err(CloudError::invalid(
                "InstanceId.N",
                "at most 100 ids are allowed",
            ));
        }
        ids
    };
    let force = p.boolean("Force")?.unwrap_or(false);
    let now = Instant::now();
    for id in &ids {
        let instance = state
            .instances
            .iter()
            .find(|i| &i.id == id)
            .ok_or_else(|| instance_not_found(id))?;
        let status = instance.status(now);
        if !force && status != "Stopped" {
            return Err(CloudError::new(
                403,
                "IncorrectInstanceStatus",
                format!(
                    "The current status of instance {id} ({status}) does not support this operation: stop it or pass Force=true."
                ),
            ));
        }
    }
    for id in &ids {
        remove_instance(state, id);
    }
    Ok(json!({}))
}

/// Deletes an instance: its IP goes back to its VSwitch and it leaves every load balancer.
fn remove_instance(state: &mut State, id: &str) {
    let Some(index) = state.instances.iter().position(|i| i.id == id) else {
        return;
    };
    let instance = state.instances.remove(index);
    if let Some(vswitch) = state.vswitch_mut(&instance.vswitch_id) {
        vswitch.release(&instance.private_ip);
    }
    for lb in &mut state.load_balancers {
        lb.backends.retain(|b| b.server_id != id);
    }
}
