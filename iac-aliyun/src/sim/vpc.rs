//! VPC (2016-04-28): VPCs and VSwitches.
//!
//! Choices: a VSwitch CIDR outside its VPC gives 400 `InvalidCidrBlock.Malformed` ("... not
//! inside VPC ..."); a VSwitch may be deleted while still `Pending`; `DeleteVpc` checks, in
//! order, that the VPC exists, is `Available`, has no VSwitches and no security groups.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::params::{Cidr, CloudError, Params, Res, new_id, page, tags_kv, tags_match, wall_time};
use super::state::{State, VSwitch, Vpc};

/// The API version of VPC.
pub(crate) const VERSION: &str = "2016-04-28";

/// Performs `action`, or `None` when VPC has no such action.
pub(crate) fn call(state: &mut State, action: &str, p: &Params) -> Option<Res<Value>> {
    Some(match action {
        "CreateVpc" => create_vpc(state, p),
        "DescribeVpcs" => describe_vpcs(state, p),
        "ModifyVpcAttribute" => modify_vpc(state, p),
        "DeleteVpc" => delete_vpc(state, p),
        "CreateVSwitch" => create_vswitch(state, p),
        "DescribeVSwitches" => describe_vswitches(state, p),
        "ModifyVSwitchAttribute" => modify_vswitch(state, p),
        "DeleteVSwitch" => delete_vswitch(state, p),
        _ => return None,
    })
}

/// Checks `RegionId` (required) against the simulated region.
pub(crate) fn check_region(state: &State, p: &Params) -> Res<()> {
    let region = p.required("RegionId")?;
    if region != state.region {
        return Err(CloudError::new(
            400,
            "InvalidRegionId.NotFound",
            format!(
                "The specified parameter \"RegionId\" is not valid: region \"{region}\" does not exist."
            ),
        ));
    }
    Ok(())
}

/// Checks `RegionId` when given.
pub(crate) fn check_optional_region(state: &State, p: &Params) -> Res<()> {
    if p.get("RegionId").is_some() {
        check_region(state, p)?;
    }
    Ok(())
}

pub(crate) fn vpc_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidVpcId.NotFound", "VPC", id)
}

pub(crate) fn vswitch_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidVSwitchId.NotFound", "VSwitch", id)
}

fn parse_cidr(p: &Params, name: &str, default: Option<&str>, min: u8, max: u8) -> Res<Cidr> {
    let text = match (p.get(name), default) {
        (Some(t), _) => t,
        (None, Some(d)) => d,
        (None, None) => return Err(CloudError::missing(name)),
    };
    match Cidr::parse(text) {
        Some(c) if (min..=max).contains(&c.mask) => Ok(c),
        _ => Err(CloudError::bad(
            "InvalidCidrBlock.Malformed",
            name,
            &format!("\"{text}\" is not an IPv4 CIDR block with a mask from /{min} to /{max}"),
        )),
    }
}

fn create_vpc(state: &mut State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let cidr = parse_cidr(p, "CidrBlock", Some("172.16.0.0/12"), 8, 28)?;
    let tags = p.tags()?;
    let vpc = Vpc {
        id: new_id("vpc-"),
        name: p.text("VpcName"),
        description: p.text("Description"),
        cidr,
        vrouter_id: new_id("vrt-"),
        route_table_id: new_id("vtb-"),
        tags,
        created: Instant::now(),
        pending: state.delays.vpc_pending,
        creation_time: wall_time(),
    };
    let out = json!({
        "VpcId": vpc.id,
        "VRouterId": vpc.vrouter_id,
        "RouteTableId": vpc.route_table_id,
        "ResourceGroupId": "",
    });
    state.vpcs.push(vpc);
    Ok(out)
}

fn describe_vpcs(state: &State, p: &Params) -> Res<Value> {
    check_region(state, p)?;
    let ids: Option<Vec<&str>> = p
        .get("VpcId")
        .map(|v| v.split(',').map(str::trim).collect());
    if ids.as_ref().is_some_and(|ids| ids.len() > 20) {
        return Err(CloudError::invalid("VpcId", "at most 20 ids are allowed"));
    }
    let name = p.get("VpcName");
    let filter = p.tags()?;
    let now = Instant::now();
    let matching: Vec<&Vpc> = state
        .vpcs
        .iter()
        .filter(|v| ids.as_ref().is_none_or(|ids| ids.contains(&v.id.as_str())))
        .filter(|v| name.is_none_or(|n| v.name == n))
        .filter(|v| tags_match(&v.tags, &filter))
        .collect();
    let total = matching.len();
    let (items, number, size) = page(matching, p, 50)?;
    let vpcs: Vec<Value> = items
        .into_iter()
        .map(|v| {
            let vswitches: Vec<&str> = state
                .vswitches
                .iter()
                .filter(|s| s.vpc_id == v.id)
                .map(|s| s.id.as_str())
                .collect();
            json!({
                "VpcId": v.id,
                "VpcName": v.name,
                "Description": v.description,
                "Status": v.status(now),
                "CidrBlock": v.cidr.to_string(),
                "VRouterId": v.vrouter_id,
                "RegionId": state.region,
                "CreationTime": v.creation_time,
                "IsDefault": false,
                "ResourceGroupId": "",
                "VSwitchIds": {"VSwitchId": vswitches},
                "RouterTableIds": {"RouterTableIds": [v.route_table_id]},
                "Tags": tags_kv(&v.tags),
            })
        })
        .collect();
    Ok(json!({
        "Vpcs": {"Vpc": vpcs},
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn modify_vpc(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("VpcId")?;
    let vpc = state
        .vpcs
        .iter_mut()
        .find(|v| v.id == id)
        .ok_or_else(|| vpc_not_found(id))?;
    if let Some(name) = p.get("VpcName") {
        vpc.name = name.to_owned();
    }
    if let Some(description) = p.get("Description") {
        vpc.description = description.to_owned();
    }
    Ok(json!({}))
}

fn delete_vpc(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("VpcId")?;
    let vpc = state.vpc(id).ok_or_else(|| vpc_not_found(id))?;
    if vpc.status(Instant::now()) != "Available" {
        return Err(CloudError::new(
            400,
            "IncorrectVpcStatus",
            "The current status of the VPC does not support this operation.",
        ));
    }
    if state.vswitches.iter().any(|s| s.vpc_id == id) {
        return Err(CloudError::new(
            400,
            "DependencyViolation.VSwitch",
            "The specified VPC has VSwitches: delete them first.",
        ));
    }
    if state.groups.iter().any(|g| g.vpc_id == id) {
        return Err(CloudError::new(
            400,
            "DependencyViolation.SecurityGroup",
            "The specified VPC has security groups: delete them first.",
        ));
    }
    state.vpcs.retain(|v| v.id != id);
    Ok(json!({}))
}

fn create_vswitch(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let vpc_id = p.required("VpcId")?;
    let zone = p.required("ZoneId")?;
    let cidr_text = p.required("CidrBlock")?;
    let cidr = parse_cidr(p, "CidrBlock", None, 16, 29)?;
    if !state.zones.iter().any(|z| z == zone) {
        return Err(CloudError::new(
            400,
            "InvalidZoneId.NotFound",
            format!(
                "The specified parameter \"ZoneId\" is not valid: zone \"{zone}\" does not exist."
            ),
        ));
    }
    let tags = p.tags()?;
    let vpc = state.vpc(vpc_id).ok_or_else(|| vpc_not_found(vpc_id))?;
    if vpc.status(Instant::now()) != "Available" {
        return Err(CloudError::new(
            400,
            "IncorrectVpcStatus",
            "The current status of the VPC does not support this operation.",
        ));
    }
    if !vpc.cidr.contains(cidr) {
        return Err(CloudError::bad(
            "InvalidCidrBlock.Malformed",
            "CidrBlock",
            &format!("\"{cidr_text}\" is not inside VPC CIDR block {}", vpc.cidr),
        ));
    }
    if let Some(other) = state
        .vswitches
        .iter()
        .find(|s| s.vpc_id == vpc_id && s.cidr.overlaps(cidr))
    {
        return Err(CloudError::bad(
            "InvalidCidrBlock.Overlapped",
            "CidrBlock",
            &format!(
                "\"{cidr_text}\" overlaps {} of VSwitch {}",
                other.cidr, other.id
            ),
        ));
    }
    let vswitch = VSwitch {
        id: new_id("vsw-"),
        vpc_id: vpc_id.to_owned(),
        zone_id: zone.to_owned(),
        name: p.text("VSwitchName"),
        description: p.text("Description"),
        cidr,
        tags,
        created: Instant::now(),
        pending: state.delays.vswitch_pending,
        creation_time: wall_time(),
        used: Default::default(),
    };
    let out = json!({"VSwitchId": vswitch.id});
    state.vswitches.push(vswitch);
    Ok(out)
}

fn describe_vswitches(state: &State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let vpc_id = p.get("VpcId");
    let ids: Option<Vec<&str>> = p
        .get("VSwitchId")
        .map(|v| v.split(',').map(str::trim).collect());
    let zone = p.get("ZoneId");
    let name = p.get("VSwitchName");
    let filter = p.tags()?;
    let now = Instant::now();
    let matching: Vec<&VSwitch> = state
        .vswitches
        .iter()
        .filter(|s| vpc_id.is_none_or(|v| s.vpc_id == v))
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id.as_str())))
        .filter(|s| zone.is_none_or(|z| s.zone_id == z))
        .filter(|s| name.is_none_or(|n| s.name == n))
        .filter(|s| tags_match(&s.tags, &filter))
        .collect();
    let total = matching.len();
    let (items, number, size) = page(matching, p, 50)?;
    let vswitches: Vec<Value> = items
        .into_iter()
        .map(|s| {
            json!({
                "VSwitchId": s.id,
                "VpcId": s.vpc_id,
                "Status": s.status(now),
                "CidrBlock": s.cidr.to_string(),
                "ZoneId": s.zone_id,
                "VSwitchName": s.name,
                "Description": s.description,
                "AvailableIpAddressCount": s.available_ips(),
                "CreationTime": s.creation_time,
                "IsDefault": false,
                "ResourceGroupId": "",
                "Tags": tags_kv(&s.tags),
            })
        })
        .collect();
    Ok(json!({
        "VSwitches": {"VSwitch": vswitches},
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn modify_vswitch(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("VSwitchId")?;
    let vswitch = state.vswitch_mut(id).ok_or_else(|| vswitch_not_found(id))?;
    if let Some(name) = p.get("VSwitchName") {
        vswitch.name = name.to_owned();
    }
    if let Some(description) = p.get("Description") {
        vswitch.description = description.to_owned();
    }
    Ok(json!({}))
}

fn delete_vswitch(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let id = p.required("VSwitchId")?;
    state.vswitch(id).ok_or_else(|| vswitch_not_found(id))?;
    let in_use = state.instances.iter().any(|i| i.vswitch_id == id)
        || state.load_balancers.iter().any(|l| l.vswitch_id == id)
        || state
            .file_systems
            .iter()
            .any(|f| f.mount_targets.iter().any(|m| m.vswitch_id == id));
    if in_use {
        return Err(CloudError::new(
            400,
            "DependencyViolation",
            "The specified VSwitch still has instances, load balancers or mount targets in it.",
        ));
    }
    state.vswitches.retain(|s| s.id != id);
    Ok(json!({}))
}
