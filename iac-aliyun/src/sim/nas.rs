//! NAS (2017-06-26): file systems and mount targets.
//!
//! Choices: deleting a file system that has mount targets gives 403 `Forbidden.NasNotEmpty`;
//! a VSwitch outside the given VPC gives 400 `InvalidParameter` naming `VSwitchId`; the
//! mount target domain is `<8 hex>-<5 lower>.<region>.nas.aliyuncs.com`; `StorageType` is
//! only checked for `standard` file systems.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::params::{CloudError, Params, Res, new_hex, new_lower, page, tags_kv};
use super::state::{FileSystem, MountTarget, State};
use super::vpc::{check_optional_region, vpc_not_found, vswitch_not_found};

/// The API version of NAS.
pub(crate) const VERSION: &str = "2017-06-26";

/// Performs `action`, or `None` when NAS has no such action.
pub(crate) fn call(state: &mut State, action: &str, p: &Params) -> Option<Res<Value>> {
    Some(match action {
        "CreateFileSystem" => create(state, p),
        "DescribeFileSystems" => describe(state, p),
        "ModifyFileSystem" => modify(state, p),
        "DeleteFileSystem" => delete(state, p),
        "TagResources" => tag_resources(state, p),
        "CreateMountTarget" => create_mount_target(state, p),
        "DescribeMountTargets" => describe_mount_targets(state, p),
        "ModifyMountTarget" => modify_mount_target(state, p),
        "DeleteMountTarget" => delete_mount_target(state, p),
        _ => return None,
    })
}

fn fs_not_found(id: &str) -> CloudError {
    CloudError::not_found("InvalidFileSystem.NotFound", "file system", id)
}

fn mount_target_not_found(domain: &str) -> CloudError {
    CloudError::not_found("InvalidMountTarget.NotFound", "mount target", domain)
}

fn fs_mut<'a>(state: &'a mut State, p: &Params) -> Res<&'a mut FileSystem> {
    let id = p.required("FileSystemId")?;
    state
        .file_systems
        .iter_mut()
        .find(|f| f.id == id)
        .ok_or_else(|| fs_not_found(id))
}

fn create(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let protocol = p.required("ProtocolType")?.to_ascii_uppercase();
    if !matches!(protocol.as_str(), "NFS" | "SMB") {
        return Err(CloudError::invalid(
            "ProtocolType",
            &format!("\"{protocol}\" is not NFS or SMB"),
        ));
    }
    let storage = p.required("StorageType")?.to_owned();
    let fs_type = p.get("FileSystemType").unwrap_or("standard").to_owned();
    if fs_type == "standard" && !matches!(storage.as_str(), "Performance" | "Capacity" | "Premium")
    {
        return Err(CloudError::invalid(
            "StorageType",
            &format!("\"{storage}\" is not Performance, Capacity or Premium"),
        ));
    }
    let zone = p.text("ZoneId");
    if !zone.is_empty() && !state.zones.contains(&zone) {
        return Err(CloudError::new(
            400,
            "InvalidZoneId.NotFound",
            format!(
                "The specified parameter \"ZoneId\" is not valid: zone \"{zone}\" does not exist."
            ),
        ));
    }
    let fs = FileSystem {
        id: new_hex(10),
        description: p.text("Description"),
        protocol_type: protocol,
        storage_type: storage,
        file_system_type: fs_type,
        zone_id: if zone.is_empty() {
            state.zones.first().cloned().unwrap_or_default()
        } else {
            zone
        },
        tags: p.tags()?,
        mount_targets: Vec::new(),
        create_time: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    let out = json!({"FileSystemId": fs.id});
    state.file_systems.push(fs);
    Ok(out)
}

fn mount_target_json(m: &MountTarget, now: Instant) -> Value {
    json!({
        "MountTargetDomain": m.domain,
        "Status": m.status(now),
        "NetworkType": m.network_type,
        "VpcId": m.vpc_id,
        "VswId": m.vswitch_id,
        "AccessGroup": m.access_group,
    })
}

fn describe(state: &State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let ids: Option<Vec<&str>> = p
        .get("FileSystemId")
        .map(|v| v.split(',').map(str::trim).collect());
    let fs_type = p.get("FileSystemType");
    let now = Instant::now();
    let matching: Vec<&FileSystem> = state
        .file_systems
        .iter()
        .filter(|f| ids.as_ref().is_none_or(|ids| ids.contains(&f.id.as_str())))
        .filter(|f| fs_type.is_none_or(|t| t == "all" || f.file_system_type == t))
        .collect();
    let total = matching.len();
    let (items, number, size) = page(matching, p, 100)?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|f| {
            json!({
                "FileSystemId": f.id,
                "Description": f.description,
                "ProtocolType": f.protocol_type,
                "StorageType": f.storage_type,
                "FileSystemType": f.file_system_type,
                "ZoneId": f.zone_id,
                "Status": "Running",
                "RegionId": state.region,
                "CreateTime": f.create_time,
                "Tags": tags_kv(&f.tags),
                "MountTargets": {"MountTarget": f.mount_targets.iter().map(|m| mount_target_json(m, now)).collect::<Vec<_>>()},
            })
        })
        .collect();
    Ok(json!({
        "FileSystems": {"FileSystem": items},
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn modify(state: &mut State, p: &Params) -> Res<Value> {
    let description = p.get("Description").map(str::to_owned);
    let fs = fs_mut(state, p)?;
    if let Some(description) = description {
        fs.description = description;
    }
    Ok(json!({}))
}

/// `TagResources`: `ResourceType=filesystem`, `ResourceId.N` (1 to 50), `Tag.N.Key/Value`;
/// a key given again replaces its value.
fn tag_resources(state: &mut State, p: &Params) -> Res<Value> {
    match p.get("ResourceType") {
        Some("filesystem") => {}
        Some(other) => {
            return Err(CloudError::invalid(
                "ResourceType",
                &format!("\"{other}\" is not filesystem"),
            ));
        }
        None => return Err(CloudError::missing("ResourceType")),
    }
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(CloudError::missing("ResourceId.1"));
    }
    if ids.len() > 50 {
        return Err(CloudError::new(
            400,
            "NumberExceed.ResourceIds",
            "The maximum number of ResourceIds is exceeded. The maximum is 50.",
        ));
    }
    let tags = p.tags()?;
    if tags.is_empty() {
        return Err(CloudError::missing("Tag.1.Key"));
    }
    if let Some(missing) = ids
        .iter()
        .find(|id| !state.file_systems.iter().any(|f| &f.id == *id))
    {
        return Err(fs_not_found(missing));
    }
    for fs in state
        .file_systems
        .iter_mut()
        .filter(|f| ids.contains(&f.id))
    {
        for (key, value) in &tags {
            fs.tags.retain(|(k, _)| k != key);
            fs.tags.push((key.clone(), value.clone()));
        }
    }
    Ok(json!({}))
}

fn delete(state: &mut State, p: &Params) -> Res<Value> {
    let fs = fs_mut(state, p)?;
    if !fs.mount_targets.is_empty() {
        return Err(CloudError::new(
            403,
            "Forbidden.NasNotEmpty",
            "The file system still has mount targets: delete them first.",
        ));
    }
    let id = fs.id.clone();
    state.file_systems.retain(|f| f.id != id);
    Ok(json!({}))
}

fn create_mount_target(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let fs_id = p.required("FileSystemId")?.to_owned();
    let network = p.required("NetworkType")?;
    let network = if network.eq_ignore_ascii_case("vpc") {
        "Vpc"
    } else if network.eq_ignore_ascii_case("classic") {
        "Classic"
    } else {
        return Err(CloudError::invalid(
            "NetworkType",
            &format!("\"{network}\" is not Vpc or Classic"),
        ));
    };
    let (mut vpc_id, mut vswitch_id) = (String::new(), String::new());
    if network == "Vpc" {
        vpc_id = p.required("VpcId")?.to_owned();
        vswitch_id = p.required("VSwitchId")?.to_owned();
        state.vpc(&vpc_id).ok_or_else(|| vpc_not_found(&vpc_id))?;
        let vswitch = state
            .vswitch(&vswitch_id)
            .ok_or_else(|| vswitch_not_found(&vswitch_id))?;
        if vswitch.vpc_id != vpc_id {
            return Err(CloudError::invalid(
                "VSwitchId",
                &format!("VSwitch {vswitch_id} is not in VPC {vpc_id}"),
            ));
        }
    }
    let access_group = p
        .get("AccessGroupName")
        .unwrap_or(if network == "Vpc" {
            "DEFAULT_VPC_GROUP_NAME"
        } else {
            "DEFAULT_CLASSIC_GROUP_NAME"
        })
        .to_owned();
    let domain = format!(
        "{}-{}.{}.nas.aliyuncs.com",
        new_hex(8),
        new_lower(5),
        state.region
    );
    let pending = state.delays.mount_target_pending;
    let fs = state
        .file_systems
        .iter_mut()
        .find(|f| f.id == fs_id)
        .ok_or_else(|| fs_not_found(&fs_id))?;
    fs.mount_targets.push(MountTarget {
        domain: domain.clone(),
        network_type: network.to_owned(),
        vpc_id,
        vswitch_id,
        access_group,
        created: Instant::now(),
        pending,
        forced_status: None,
    });
    Ok(json!({"MountTargetDomain": domain}))
}

fn describe_mount_targets(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let domain = p.get("MountTargetDomain").map(str::to_owned);
    let now = Instant::now();
    let fs = fs_mut(state, p)?;
    let matching: Vec<Value> = fs
        .mount_targets
        .iter()
        .filter(|m| domain.as_deref().is_none_or(|d| m.domain == d))
        .map(|m| mount_target_json(m, now))
        .collect();
    let total = matching.len();
    let (items, number, size) = page(matching, p, 100)?;
    Ok(json!({
        "MountTargets": {"MountTarget": items},
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn modify_mount_target(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let domain = p.required("MountTargetDomain")?.to_owned();
    let status = match p.get("Status") {
        None => None,
        Some(s @ ("Active" | "Inactive")) => Some(s.to_owned()),
        Some(s) => {
            return Err(CloudError::invalid(
                "Status",
                &format!("\"{s}\" is not Active or Inactive"),
            ));
        }
    };
    let group = p.get("AccessGroupName").map(str::to_owned);
    let fs = fs_mut(state, p)?;
    let target = fs
        .mount_targets
        .iter_mut()
        .find(|m| m.domain == domain)
        .ok_or_else(|| mount_target_not_found(&domain))?;
    if let Some(status) = status {
        target.forced_status = Some(status);
    }
    if let Some(group) = group {
        target.access_group = group;
    }
    Ok(json!({}))
}

fn delete_mount_target(state: &mut State, p: &Params) -> Res<Value> {
    check_optional_region(state, p)?;
    let domain = p.required("MountTargetDomain")?.to_owned();
    let fs = fs_mut(state, p)?;
    let before = fs.mount_targets.len();
    fs.mount_targets.retain(|m| m.domain != domain);
    if fs.mount_targets.len() == before {
        return Err(mount_target_not_found(&domain));
    }
    Ok(json!({}))
}
