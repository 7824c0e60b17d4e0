//! `ALIYUN::NAS::FileSystem` and `ALIYUN::NAS::MountTarget` (NAS API 2017-06-26).
//!
//! `CreateFileSystem` carries the engine's `ClientToken`; the new file system is then tagged
//! with `TagResources`. `CreateMountTarget` takes none,
//! so a create first looks for a mount target of the file system in the same VSwitch (one
//! an earlier attempt made before its answer was lost) and adopts it.

use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, PollTarget, Properties, Readiness,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement, Mutable},
    Updated,
};
use serde_json::json;

use super::{api, attrs, changed, endpoint_key, pass, required, tags, text};
use crate::api::{
    CreateFileSystemResponse, DescribeFileSystemsResponse, DescribeMountTargetsResponse,
    FileSystem, MountTarget,
};
use crate::client::{Client, Params};
use crate::endpoints::Product;
use crate::error::ApiError;

// ---------------------------------------------------------------------------------------
// FileSystem
// ---------------------------------------------------------------------------------------

/// The file system properties `CreateFileSystem` takes under the same names.
const FILE_SYSTEM_PROPERTIES: &[&str] = &[
    "ProtocolType",
    "StorageType",
    "FileSystemType",
    "ZoneId",
    "Description",
    "VpcId",
    "VSwitchId",
    "Capacity",
    "Bandwidth",
    "EncryptType",
    "ChargeType",
    "Duration",
    "SnapshotId",
];

/// `ALIYUN::NAS::FileSystem`: `CreateFileSystem` (with the engine's `ClientToken`), ready
/// once it has left `Pending`/`Creating`.
pub struct FileSystemHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl FileSystemHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let mut schema = Schema::new("ALIYUN::NAS::FileSystem");
        for name in FILE_SYSTEM_PROPERTIES {
            let required = matches!(*name, "ProtocolType" | "StorageType");
            let update = if *name == "Description" {
                Mutable
            } else {
                ForcesReplacement
            };
            schema = schema.with_property(name, required, update);
        }
        let schema = schema
            .with_attributes(&["FileSystemId"])
            .with_readiness_hint(Duration::from_secs(2))
            .strict();
        let endpoint = endpoint_key(&client, Product::Nas);
        FileSystemHandler {
            client,
            schema,
            endpoint,
        }
    }

    /// The file system, `None` when it does not exist.
    async fn describe(&self, id: &str) -> Result<Option<FileSystem>, HandlerError> {
        let params = Params::new().with("FileSystemId", id);
        match self
            .client
            .call::<DescribeFileSystemsResponse>(Product::Nas, "DescribeFileSystems", params)
            .await
        {
            Ok(answer) => Ok(answer
                .file_systems
                .0
                .into_iter()
                .find(|f| f.file_system_id == id)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(api(e)),
        }
    }
}

fn file_system_readiness(fs: &FileSystem) -> Readiness {
    match fs.status.as_str() {
        "Pending" | "Creating" => Readiness::Pending {
            status: fs.status.clone(),
        },
        _ => Readiness::Ready(attrs([("FileSystemId", json!(fs.file_system_id))])),
    }
}

/// Whether a `DeleteFileSystem` error says mount targets (or other dependents) still exist:
/// a conflict the engine retries once they are gone.
fn still_has_dependents(e: &ApiError) -> bool {
    e.code.contains("NotEmpty")
        || e.code.contains("MountTarget")
        || e.code.starts_with("DependencyViolation")
}

#[async_trait]
impl ResourceHandler for FileSystemHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties;
        let params = Params::new()
            .with("ProtocolType", required(props, "ProtocolType")?)
            .with("StorageType", required(props, "StorageType")?);
        let rest: Vec<&str> = FILE_SYSTEM_PROPERTIES
            .iter()
            .copied()
            .filter(|n| !matches!(*n, "ProtocolType" | "StorageType"))
            .collect();
        let params = pass(params, props, &rest).with("ClientToken", request.client_token.as_str());
        let answer: CreateFileSystemResponse = self
            .client
            .call(Product::Nas, "CreateFileSystem", params)
            .await
            .map_err(api)?;
        if answer.file_system_id.is_empty() {
            return Err(HandlerError::permanent(
                "CreateFileSystem answered without a FileSystemId",
            ));
        }
        // `CreateFileSystem` takes no tags: `TagResources` adds them. A failure here is
        // retried with the same token, which gives back the same file system.
        let params = Params::new()
            .with("ResourceType", "filesystem")
            .with("ResourceId.1", answer.file_system_id.clone())
            .with_tags(&tags(request.stack, request.logical_id));
        self.client
            .rpc(Product::Nas, "TagResources", params)
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(answer.file_system_id),
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
        Ok(self
            .describe(physical_id.as_str())
            .await?
            .as_ref()
            .map_or(Readiness::Gone, file_system_readiness))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        if changed(old, new, "Description") {
            let params = Params::new()
                .with("FileSystemId", physical_id.as_str())
                .with("Description", text(new, "Description").unwrap_or_default());
            self.client
                .rpc(Product::Nas, "ModifyFileSystem", params)
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
        let params = Params::new().with("FileSystemId", physical_id.as_str());
        match self
            .client
            .rpc(Product::Nas, "DeleteFileSystem", params)
            .await
        {
            Ok(_) => Ok(Deleted::Done),
            Err(e) if e.is_not_found() => Ok(Deleted::Done),
            Err(e) if still_has_dependents(&e) => Err(HandlerError::conflict(format!(
                "file system {physical_id} still has mount targets; retrying once they are deleted: {e}"
            ))),
            Err(e) => Err(api(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// MountTarget
// ---------------------------------------------------------------------------------------

/// A mount target's create parameters, checked.
#[derive(Debug)]
struct MountTargetSpec {
    file_system_id: String,
    vswitch_id: Option<String>,
    /// `Inactive` when asked; `Active` otherwise.
    status: &'static str,
    params: Params,
}

fn wanted_status(props: &Properties) -> Result<&'static str, HandlerError> {
    match text(props, "Status").as_deref() {
        None | Some("Active") => Ok("Active"),
        Some("Inactive") => Ok("Inactive"),
        Some(other) => Err(HandlerError::invalid(format!(
            "property Status must be Active or Inactive, not {other:?}"
        ))),
    }
}

fn mount_target_spec(props: &Properties) -> Result<MountTargetSpec, HandlerError> {
    let file_system_id = required(props, "FileSystemId")?;
    let network = match required(props, "NetworkType")?.as_str() {
        "VPC" | "Vpc" | "vpc" => "Vpc",
        "Classic" | "classic" => "Classic",
        other => {
            return Err(HandlerError::invalid(format!(
                "property NetworkType must be VPC or Classic, not {other:?}"
            )));
        }
    };
    let access_group = required(props, "AccessGroupName")?;
    let vswitch_id = text(props, "VSwitchId").filter(|s| !s.is_empty());
    let vpc_id = text(props, "VpcId").filter(|s| !s.is_empty());
    if network == "Vpc" {
        if vpc_id.is_none() {
            return Err(HandlerError::invalid(
                "property VpcId is required when NetworkType is VPC",
            ));
        }
        if vswitch_id.is_none() {
            return Err(HandlerError::invalid(
                "property VSwitchId is required when NetworkType is VPC",
            ));
        }
    }
    let status = wanted_status(props)?;
    let params = Params::new()
        .with("FileSystemId", file_system_id.as_str())
        .with("NetworkType", network)
        .with_opt("VpcId", vpc_id)
        .with_opt("VSwitchId", vswitch_id.clone())
        .with("AccessGroupName", access_group);
    let params = pass(params, props, &["SecurityGroupId"]);
    Ok(MountTargetSpec {
        file_system_id,
        vswitch_id,
        status,
        params,
    })
}

fn mount_target_readiness(target: &MountTarget, wanted: &str) -> Readiness {
    if target.status == wanted {
        Readiness::Ready(attrs([(
            "MountTargetDomain",
            json!(target.mount_target_domain),
        )]))
    } else {
        Readiness::Pending {
            status: target.status.clone(),
        }
    }
}

/// `ALIYUN::NAS::MountTarget`: `CreateMountTarget` (or the one an earlier attempt made in
/// the same VSwitch), ready when `Active` (`Inactive` when that was asked). Its physical id
/// is the `MountTargetDomain`.
pub struct MountTargetHandler {
    client: Client,
    schema: Schema,
    endpoint: String,
}

impl MountTargetHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("ALIYUN::NAS::MountTarget")
            .with_property("FileSystemId", true, ForcesReplacement)
            .with_property("NetworkType", true, ForcesReplacement)
            .with_property("AccessGroupName", true, Mutable)
            .with_property("VpcId", false, ForcesReplacement)
            .with_property("VSwitchId", false, ForcesReplacement)
            .with_property("SecurityGroupId", false, ForcesReplacement)
            .with_property("Status", false, Mutable)
            .with_attributes(&["MountTargetDomain"])
            .with_readiness_hint(Duration::from_secs(3))
            .strict();
        let endpoint = endpoint_key(&client, Product::Nas);
        MountTargetHandler {
            client,
            schema,
            endpoint,
        }
    }

    /// The mount targets of a file system (one when `domain` is given); empty when the
    /// file system does not exist.
    async fn describe(
        &self,
        file_system_id: &str,
        domain: Option<&str>,
    ) -> Result<Vec<MountTarget>, HandlerError> {
        let params = Params::new()
            .with("FileSystemId", file_system_id)
            .with_opt("MountTargetDomain", domain);
        match self
            .client
            .call::<DescribeMountTargetsResponse>(Product::Nas, "DescribeMountTargets", params)
            .await
        {
            Ok(answer) => Ok(answer.mount_targets.0),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(api(e)),
        }
    }

    async fn modify(
        &self,
        file_system_id: &str,
        domain: &str,
        params: Params,
    ) -> Result<(), HandlerError> {
        let mut all = Params::new()
            .with("FileSystemId", file_system_id)
            .with("MountTargetDomain", domain);
        all.0.extend(params.0);
        self.client
            .rpc(Product::Nas, "ModifyMountTarget", all)
            .await
            .map_err(api)?;
        Ok(())
    }
}

#[async_trait]
impl ResourceHandler for MountTargetHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let spec = mount_target_spec(request.properties)?;
        // No ClientToken: adopt the mount target an earlier attempt made in this VSwitch.
        let existing = match &spec.vswitch_id {
            Some(vsw) => self
                .describe(&spec.file_system_id, None)
                .await?
                .into_iter()
                .find(|m| &m.vsw_id == vsw),
            None => None,
        };
        let (domain, status) = match existing {
            Some(target) => (target.mount_target_domain, target.status),
            None => {
                let answer = self
                    .client
                    .rpc(Product::Nas, "CreateMountTarget", spec.params)
                    .await
                    .map_err(api)?;
                let domain = answer
                    .get("MountTargetDomain")
                    .and_then(|v| v.as_str())
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| {
                        HandlerError::permanent(
                            "CreateMountTarget answered without a MountTargetDomain",
                        )
                    })?;
                (domain.to_owned(), "Pending".to_owned())
            }
        };
        if spec.status == "Inactive" && status != "Inactive" {
            // A conflict while the new target settles is retried by the engine, whose
            // retried create adopts the target and asks again.
            self.modify(
                &spec.file_system_id,
                &domain,
                Params::new().with("Status", "Inactive"),
            )
            .await?;
        }
        Ok(Created {
            physical_id: PhysicalId::new(domain),
            readiness: Readiness::Pending { status },
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let file_system_id = required(props, "FileSystemId")?;
        let wanted = wanted_status(props).unwrap_or("Active");
        let found = self
            .describe(&file_system_id, Some(physical_id.as_str()))
            .await?;
        Ok(found
            .iter()
            .find(|m| m.mount_target_domain == physical_id.as_str())
            .map_or(Readiness::Gone, |m| mount_target_readiness(m, wanted)))
    }

    /// Up to 100 mount targets per poll (one `DescribeMountTargets` per file system).
    fn poll_batch_size(&self) -> usize {
        100
    }

    /// One `DescribeMountTargets` per file system among the targets.
    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        let mut listed: Vec<(String, Vec<MountTarget>)> = Vec::new();
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            let file_system_id = required(target.properties, "FileSystemId")?;
            if !listed.iter().any(|(fs, _)| *fs == file_system_id) {
                let found = self.describe(&file_system_id, None).await?;
                listed.push((file_system_id.clone(), found));
            }
            let wanted = wanted_status(target.properties).unwrap_or("Active");
            let readiness = listed
                .iter()
                .find(|(fs, _)| *fs == file_system_id)
                .and_then(|(_, found)| {
                    found
                        .iter()
                        .find(|m| m.mount_target_domain == target.physical_id.as_str())
                })
                .map_or(Readiness::Gone, |m| mount_target_readiness(m, wanted));
            out.push(readiness);
        }
        Ok(out)
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let spec = mount_target_spec(new)?;
        let mut params = Params::new();
        if changed(old, new, "AccessGroupName") {
            params = params.with("AccessGroupName", required(new, "AccessGroupName")?);
        }
        if changed(old, new, "Status") {
            params = params.with("Status", spec.status);
        }
        if !params.0.is_empty() {
            self.modify(&spec.file_system_id, physical_id.as_str(), params)
                .await?;
        }
        Ok(Updated {
            readiness: self.read(physical_id, new).await?,
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        props: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let params = Params::new()
            .with("FileSystemId", required(props, "FileSystemId")?)
            .with("MountTargetDomain", physical_id.as_str());
        match self
            .client
            .rpc(Product::Nas, "DeleteMountTarget", params)
            .await
        {
            Ok(_) => Ok(Deleted::Done),
            Err(e) if e.is_not_found() => Ok(Deleted::Done),
            Err(e) => Err(api(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{client, create_error, props};
    use iac_core::provider::ErrorKind;

    #[test]
    fn schemas_name_the_getatt_attributes_and_are_strict() {
        let fs = FileSystemHandler::new(client());
        assert_eq!(fs.schema().attributes, ["FileSystemId"]);
        assert!(fs.schema().strict_properties);
        assert_eq!(fs.endpoint(), "nas.cn-hangzhou");
        assert!(
            fs.schema()
                .property("ProtocolType")
                .is_some_and(|p| p.required)
        );
        assert!(fs.schema().forces_replacement("StorageType"));
        assert!(!fs.schema().forces_replacement("Description"));

        let mt = MountTargetHandler::new(client());
        assert_eq!(mt.schema().attributes, ["MountTargetDomain"]);
        assert!(mt.schema().strict_properties);
        assert!(!mt.schema().forces_replacement("AccessGroupName"));
        assert!(!mt.schema().forces_replacement("Status"));
        assert!(mt.schema().forces_replacement("VSwitchId"));
    }

    #[tokio::test]
    async fn bad_properties_are_refused_before_any_call() {
        let fs = FileSystemHandler::new(client());
        let e = create_error(&fs, json!({"StorageType": "Performance"})).await;
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.message.contains("ProtocolType"), "{}", e.message);

        let mt = MountTargetHandler::new(client());
        let base = json!({"FileSystemId": "fs-1", "NetworkType": "VPC", "AccessGroupName": "DEFAULT_VPC_GROUP_NAME", "VpcId": "vpc-1"});
        let e = create_error(&mt, base).await;
        assert!(e.message.contains("VSwitchId"), "{}", e.message);
        let e = create_error(
            &mt,
            json!({"FileSystemId": "fs-1", "NetworkType": "Internet", "AccessGroupName": "g"}),
        )
        .await;
        assert!(e.message.contains("NetworkType"), "{}", e.message);
        let e = create_error(
            &mt,
            json!({"FileSystemId": "fs-1", "NetworkType": "Classic", "AccessGroupName": "g", "Status": "Paused"}),
        )
        .await;
        assert!(e.message.contains("Status"), "{}", e.message);
        let e = create_error(
            &mt,
            json!({"FileSystemId": "fs-1", "NetworkType": "Classic"}),
        )
        .await;
        assert!(e.message.contains("AccessGroupName"), "{}", e.message);
    }

    #[test]
    fn mount_target_parameters_send_vpc_as_the_api_spells_it() {
        let spec = mount_target_spec(&props(json!({
            "FileSystemId": "fs-1", "NetworkType": "VPC", "AccessGroupName": "g", "VpcId": "vpc-1", "VSwitchId": "vsw-1",
            "SecurityGroupId": "sg-1", "Status": "Inactive",
        })))
        .unwrap();
        assert_eq!(spec.params.get("NetworkType"), Some("Vpc"));
        assert_eq!(spec.params.get("SecurityGroupId"), Some("sg-1"));
        assert_eq!(
            spec.params.get("Status"),
            None,
            "CreateMountTarget takes no Status"
        );
        assert_eq!(
            (spec.status, spec.vswitch_id.as_deref()),
            ("Inactive", Some("vsw-1"))
        );
    }

    #[test]
    fn delete_conflicts_are_recognised() {
        for code in [
            "Forbidden.NotEmpty",
            "InvalidStatus.MountTargetExists",
            "DependencyViolation.MountTarget",
        ] {
            assert!(
                still_has_dependents(&ApiError::decode(
                    400,
                    &format!(r#"{{"Code":"{code}"}}"#),
                    None
                )),
                "{code}"
            );
        }
        assert!(!still_has_dependents(&ApiError::decode(
            400,
            r#"{"Code":"InvalidParameter"}"#,
            None
        )));
    }
}
