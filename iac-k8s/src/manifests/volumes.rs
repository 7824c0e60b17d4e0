//! Persistent volumes: PersistentVolume + PersistentVolumeClaim (+ Secret / StorageClass)
//! for Alibaba Cloud NAS and OSS through their CSI drivers, plain NFS, and OpenStack Cinder
//! through its CSI driver; and the wiring of a claim into a `PodSpec`.
//!
//! A static volume (NAS, NFS, OSS, an existing Cinder volume) is a PersistentVolume bound
//! to its claim both ways (`claimRef` on the volume, `volumeName` on the claim; the claim's
//! `storageClassName` is `""` unless one is given, so no default class provisions
//! instead). A dynamic Cinder volume is a StorageClass and a claim of it.
//!
//! Values are the drivers' own: NAS `server` (mount-target domain), `path`, `vers`
//! (`"3"`/`"4.0"`), mount options `["nolock,tcp,noresvport", "vers=3"]`; OSS `bucket`,
//! `url`, `path`, `otherOpts` and a Secret with keys `akId` and `akSecret` referenced by
//! `nodePublishSecretRef`; Cinder `volumeHandle` = the volume id, or StorageClass
//! parameters `type` and `availability`.

use std::collections::BTreeMap;
use std::fmt;

use iac_core::Secret;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, NFSVolumeSource, ObjectReference, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PersistentVolumeSpec, PodSpec, Secret as SecretObject, SecretReference, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Manifest, ManifestError, RedactedSecret, check_dns1123_label, check_dns1123_subdomain,
    check_quantity,
};
use crate::manifests::slb::wire_enum;

/// The CSI driver of Alibaba Cloud NAS.
pub const NAS_DRIVER: &str = "nasplugin.csi.alibabacloud.com";
/// The CSI driver of Alibaba Cloud OSS.
pub const OSS_DRIVER: &str = "ossplugin.csi.alibabacloud.com";
/// The CSI driver of OpenStack Cinder.
pub const CINDER_DRIVER: &str = "cinder.csi.openstack.org";

wire_enum!(
    /// How a volume may be mounted.
    AccessMode {
        /// Read-write by one node.
        ReadWriteOnce => "ReadWriteOnce",
        /// Read-only by many nodes.
        ReadOnlyMany => "ReadOnlyMany",
        /// Read-write by many nodes.
        ReadWriteMany => "ReadWriteMany",
        /// Read-write by one pod.
        ReadWriteOncePod => "ReadWriteOncePod",
    }
);

wire_enum!(
    /// What happens to the volume when its claim is deleted.
    ReclaimPolicy {
        /// The volume and its data are kept (the default here).
        Retain => "Retain",
        /// The volume is deleted.
        Delete => "Delete",
    }
);

wire_enum!(
    /// The NFS version NAS is mounted with.
    NasVersion {
        /// NFSv3 (`"3"`).
        V3 => "3",
        /// NFSv4.0 (`"4.0"`).
        V4_0 => "4.0",
    }
);

wire_enum!(
    /// The FUSE client that mounts OSS.
    OssFuseType {
        /// ossfs.
        Ossfs => "ossfs",
        /// ossfs 2.
        Ossfs2 => "ossfs2",
    }
);

wire_enum!(
    /// The OSS signature version.
    OssSigVersion {
        /// V1.
        V1 => "v1",
        /// V4 (give `region` too).
        V4 => "v4",
    }
);

/// An Alibaba Cloud NAS file system through `nasplugin.csi.alibabacloud.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NasVolume {
    /// `server`: the mount-target domain (`xxx.cn-hangzhou.nas.aliyuncs.com`), no path.
    pub server: String,
    /// `path`: the directory in the file system (`/k8s`).
    pub path: String,
    /// `vers`.
    pub vers: NasVersion,
    /// `options`: extra mount options for the driver.
    pub options: Option<String>,
    /// `mode`: permissions to set on the mounted directory (`755`).
    pub mode: Option<String>,
    /// `modeType`.
    pub mode_type: Option<String>,
    /// `mountProtocol`.
    pub mount_protocol: Option<String>,
    /// `filesystemType`.
    pub filesystem_type: Option<String>,
    /// `accesspoint`.
    pub accesspoint: Option<String>,
    /// The PV's `mountOptions`; `None`: `["nolock,tcp,noresvport", "vers=<vers>"]`.
    pub mount_options: Option<Vec<String>>,
}

impl NasVolume {
    /// NAS at `server` (mount-target domain), directory `path`, NFSv3, default options.
    pub fn new(server: impl Into<String>, path: impl Into<String>) -> Self {
        NasVolume {
            server: server.into(),
            path: path.into(),
            vers: NasVersion::V3,
            options: None,
            mode: None,
            mode_type: None,
            mount_protocol: None,
            filesystem_type: None,
            accesspoint: None,
            mount_options: None,
        }
    }
}

/// A plain NFS export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsVolume {
    /// The server's host name or address.
    pub server: String,
    /// The exported path.
    pub path: String,
    /// Mount read-only.
    pub read_only: bool,
    /// The PV's `mountOptions` (`nfsvers=4.1`).
    pub mount_options: Vec<String>,
}

impl NfsVolume {
    /// The export `path` of `server`, read-write.
    pub fn new(server: impl Into<String>, path: impl Into<String>) -> Self {
        NfsVolume {
            server: server.into(),
            path: path.into(),
            read_only: false,
            mount_options: Vec::new(),
        }
    }
}

/// An Alibaba Cloud OSS bucket through `ossplugin.csi.alibabacloud.com`, with its access
/// key in a Secret. `Debug` prints the access key as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssVolume {
    /// `bucket`.
    pub bucket: String,
    /// `url`: the endpoint (`oss-cn-hangzhou.aliyuncs.com`).
    pub url: String,
    /// `path` in the bucket (`/`).
    pub path: String,
    /// `otherOpts` (`-o allow_other -o umask=022`).
    pub other_opts: Option<String>,
    /// `fuseType`.
    pub fuse_type: Option<OssFuseType>,
    /// `sigVersion`.
    pub sig_version: Option<OssSigVersion>,
    /// `region`.
    pub region: Option<String>,
    /// The access key id, stored as Secret key `akId`.
    pub ak_id: Secret,
    /// The access key secret, stored as Secret key `akSecret`.
    pub ak_secret: Secret,
    /// The Secret's name; `None`: `<claim name>-oss-credentials`.
    pub secret_name: Option<String>,
}

impl OssVolume {
    /// Bucket `bucket` at endpoint `url`, the whole bucket (`/`), with an access key.
    pub fn new(
        bucket: impl Into<String>,
        url: impl Into<String>,
        ak_id: impl Into<Secret>,
        ak_secret: impl Into<Secret>,
    ) -> Self {
        OssVolume {
            bucket: bucket.into(),
            url: url.into(),
            path: "/".to_owned(),
            other_opts: None,
            fuse_type: None,
            sig_version: None,
            region: None,
            ak_id: ak_id.into(),
            ak_secret: ak_secret.into(),
            secret_name: None,
        }
    }
}

/// An OpenStack Cinder volume through `cinder.csi.openstack.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CinderVolume {
    /// A volume that exists: a PersistentVolume with `volumeHandle` = its id.
    Existing {
        /// The Cinder volume id.
        volume_id: String,
        /// The file system (`ext4` when `None`).
        fs_type: Option<String>,
    },
    /// A volume created on demand: a StorageClass (named by the claim's
    /// `storage_class_name`, which is then required) and a claim of it.
    Dynamic {
        /// StorageClass parameter `type`: the Cinder volume type (name or id).
        volume_type: Option<String>,
        /// StorageClass parameter `availability`: the availability zone (driver default
        /// `nova`).
        availability: Option<String>,
        /// `allowVolumeExpansion`.
        allow_volume_expansion: bool,
    },
}

/// Where the data of a claim lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VolumeSource {
    /// Alibaba Cloud NAS.
    Nas(NasVolume),
    /// Plain NFS.
    Nfs(NfsVolume),
    /// Alibaba Cloud OSS.
    Oss(OssVolume),
    /// OpenStack Cinder.
    Cinder(CinderVolume),
}

impl From<NasVolume> for VolumeSource {
    fn from(v: NasVolume) -> Self {
        VolumeSource::Nas(v)
    }
}
impl From<NfsVolume> for VolumeSource {
    fn from(v: NfsVolume) -> Self {
        VolumeSource::Nfs(v)
    }
}
impl From<OssVolume> for VolumeSource {
    fn from(v: OssVolume) -> Self {
        VolumeSource::Oss(v)
    }
}
impl From<CinderVolume> for VolumeSource {
    fn from(v: CinderVolume) -> Self {
        VolumeSource::Cinder(v)
    }
}

/// Builder of a claim and what backs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeClaim {
    name: String,
    namespace: String,
    capacity: String,
    source: VolumeSource,
    access_modes: Vec<AccessMode>,
    reclaim_policy: ReclaimPolicy,
    storage_class_name: Option<String>,
}

impl VolumeClaim {
    /// A claim `name` (a DNS-1123 label; also the PersistentVolume's name and the pod
    /// volume's) in `namespace` for `capacity` (`20Gi`) of `source`. Defaults: access mode
    /// ReadWriteMany for NAS, NFS and OSS, ReadWriteOnce for Cinder; reclaim policy Retain.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        capacity: impl Into<String>,
        source: impl Into<VolumeSource>,
    ) -> Self {
        VolumeClaim {
            name: name.into(),
            namespace: namespace.into(),
            capacity: capacity.into(),
            source: source.into(),
            access_modes: Vec::new(),
            reclaim_policy: ReclaimPolicy::Retain,
            storage_class_name: None,
        }
    }

    /// Sets the access modes.
    pub fn with_access_modes(mut self, modes: impl IntoIterator<Item = AccessMode>) -> Self {
        self.access_modes = modes.into_iter().collect();
        self
    }

    /// Sets the reclaim policy.
    pub fn with_reclaim_policy(mut self, policy: ReclaimPolicy) -> Self {
        self.reclaim_policy = policy;
        self
    }

    /// Sets `storageClassName` (required for a dynamic Cinder volume).
    pub fn with_storage_class_name(mut self, name: impl Into<String>) -> Self {
        self.storage_class_name = Some(name.into());
        self
    }

    /// The objects, or the first option that is wrong.
    ///
    /// Rejected: `name` not a DNS-1123 label, `namespace` not one, `capacity` not a
    /// positive quantity, `storage_class_name` not a DNS-1123 subdomain; NAS `server` empty
    /// or with a `:` or `/` (the path goes in `path`), `path` not absolute; NFS `server`
    /// empty, `path` not absolute; OSS `bucket` not a bucket name, `url` empty or with
    /// whitespace, `path` not absolute, `ak_id`/`ak_secret` empty, `secret_name` invalid,
    /// `sig_version` v4 without `region`; Cinder `volume_id` empty, `access_modes` other
    /// than ReadWriteOnce/ReadWriteOncePod, a dynamic volume without `storage_class_name`.
    pub fn build(&self) -> Result<VolumeManifests, ManifestError> {
        let object = format!("PersistentVolumeClaim {}/{}", self.namespace, self.name);
        let object = object.as_str();
        check_dns1123_label(object, "name", &self.name)?;
        check_dns1123_label(object, "namespace", &self.namespace)?;
        check_quantity(object, "capacity", &self.capacity)?;
        if let Some(sc) = &self.storage_class_name {
            check_dns1123_subdomain(object, "storage_class_name", sc)?;
        }
        let access_modes = if self.access_modes.is_empty() {
            match self.source {
                VolumeSource::Cinder(_) => vec![AccessMode::ReadWriteOnce],
                _ => vec![AccessMode::ReadWriteMany],
            }
        } else {
            self.access_modes.clone()
        };
        let mut out = match &self.source {
            VolumeSource::Nas(nas) => self.nas(object, nas, &access_modes)?,
            VolumeSource::Nfs(nfs) => self.nfs(object, nfs, &access_modes)?,
            VolumeSource::Oss(oss) => self.oss(object, oss, &access_modes)?,
            VolumeSource::Cinder(c) => self.cinder(object, c, &access_modes)?,
        };
        if let Some(pv) = &mut out.persistent_volume {
            pv.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
                namespace: Some(self.namespace.clone()),
                name: Some(self.name.clone()),
                ..ObjectReference::default()
            });
        }
        Ok(out)
    }

    fn capacity(&self) -> BTreeMap<String, Quantity> {
        BTreeMap::from([("storage".to_owned(), Quantity(self.capacity.clone()))])
    }

    fn claim(&self, access_modes: &[AccessMode], static_volume: bool) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(modes(access_modes)),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(self.capacity()),
                    limits: None,
                }),
                storage_class_name: Some(self.storage_class_name.clone().unwrap_or_default()),
                volume_name: static_volume.then(|| self.name.clone()),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        }
    }

    fn volume(&self, access_modes: &[AccessMode], spec: PersistentVolumeSpec) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(modes(access_modes)),
                capacity: Some(self.capacity()),
                persistent_volume_reclaim_policy: Some(self.reclaim_policy.as_str().to_owned()),
                storage_class_name: self.storage_class_name.clone(),
                ..spec
            }),
            status: None,
        }
    }

    fn static_volume(
        &self,
        access_modes: &[AccessMode],
        spec: PersistentVolumeSpec,
    ) -> VolumeManifests {
        VolumeManifests {
            persistent_volume: Some(self.volume(access_modes, spec)),
            claim: self.claim(access_modes, true),
            secret: None,
            storage_class: None,
        }
    }

    fn nas(
        &self,
        object: &str,
        nas: &NasVolume,
        access_modes: &[AccessMode],
    ) -> Result<VolumeManifests, ManifestError> {
        if nas.server.is_empty()
            || nas.server.contains([':', '/'])
            || nas.server.contains(char::is_whitespace)
        {
            return Err(ManifestError::invalid(
                object,
                "server",
                format!(
                    "`{}` is not a NAS mount-target domain (no scheme, port or path; the path \
                     goes in `path`)",
                    nas.server
                ),
            ));
        }
        check_absolute(object, "path", &nas.path)?;
        let mut attrs = BTreeMap::from([
            ("server".to_owned(), nas.server.clone()),
            ("path".to_owned(), nas.path.clone()),
            ("vers".to_owned(), nas.vers.as_str().to_owned()),
        ]);
        for (key, option, value) in [
            ("options", "options", &nas.options),
            ("mode", "mode", &nas.mode),
            ("modeType", "mode_type", &nas.mode_type),
            ("mountProtocol", "mount_protocol", &nas.mount_protocol),
            ("filesystemType", "filesystem_type", &nas.filesystem_type),
            ("accesspoint", "accesspoint", &nas.accesspoint),
        ] {
            if let Some(v) = value {
                if v.trim().is_empty() {
                    return Err(ManifestError::invalid(object, option, "must not be empty"));
                }
                attrs.insert(key.to_owned(), v.clone());
            }
        }
        let mount_options = match &nas.mount_options {
            Some(m) => m.clone(),
            None => vec![
                "nolock,tcp,noresvport".to_owned(),
                format!("vers={}", nas.vers.as_str()),
            ],
        };
        Ok(self.static_volume(
            access_modes,
            PersistentVolumeSpec {
                csi: Some(CSIPersistentVolumeSource {
                    driver: NAS_DRIVER.to_owned(),
                    volume_handle: self.name.clone(),
                    volume_attributes: Some(attrs),
                    ..CSIPersistentVolumeSource::default()
                }),
                mount_options: (!mount_options.is_empty()).then_some(mount_options),
                ..PersistentVolumeSpec::default()
            },
        ))
    }

    fn nfs(
        &self,
        object: &str,
        nfs: &NfsVolume,
        access_modes: &[AccessMode],
    ) -> Result<VolumeManifests, ManifestError> {
        if nfs.server.is_empty()
            || nfs.server.contains(char::is_whitespace)
            || nfs.server.contains('/')
        {
            return Err(ManifestError::invalid(
                object,
                "server",
                format!("`{}` is not an NFS server host name or address", nfs.server),
            ));
        }
        check_absolute(object, "path", &nfs.path)?;
        Ok(self.static_volume(
            access_modes,
            PersistentVolumeSpec {
                nfs: Some(NFSVolumeSource {
                    server: nfs.server.clone(),
                    path: nfs.path.clone(),
                    read_only: nfs.read_only.then_some(true),
                }),
                mount_options: (!nfs.mount_options.is_empty()).then(|| nfs.mount_options.clone()),
                ..PersistentVolumeSpec::default()
            },
        ))
    }

    fn oss(
        &self,
        object: &str,
        oss: &OssVolume,
        access_modes: &[AccessMode],
    ) -> Result<VolumeManifests, ManifestError> {
        let b = oss.bucket.as_bytes();
        let bucket_ok = (3..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        if !bucket_ok {
            return Err(ManifestError::invalid(
                object,
                "bucket",
                format!(
                    "`{}` is not an OSS bucket name (3-63 lower-case letters, digits and '-', \
                     not starting or ending with '-')",
                    oss.bucket
                ),
            ));
        }
        if oss.url.is_empty() || oss.url.contains(char::is_whitespace) {
            return Err(ManifestError::invalid(
                object,
                "url",
                format!(
                    "`{}` is not an OSS endpoint such as oss-cn-hangzhou.aliyuncs.com",
                    oss.url
                ),
            ));
        }
        check_absolute(object, "path", &oss.path)?;
        if oss.ak_id.is_empty() {
            return Err(ManifestError::invalid(object, "ak_id", "must not be empty"));
        }
        if oss.ak_secret.is_empty() {
            return Err(ManifestError::invalid(
                object,
                "ak_secret",
                "must not be empty",
            ));
        }
        if oss.sig_version == Some(OssSigVersion::V4) && oss.region.is_none() {
            return Err(ManifestError::invalid(
                object,
                "sig_version",
                "v4 signatures need `region`",
            ));
        }
        let secret_name = oss
            .secret_name
            .clone()
            .unwrap_or_else(|| format!("{}-oss-credentials", self.name));
        check_dns1123_subdomain(object, "secret_name", &secret_name)?;
        let mut attrs = BTreeMap::from([
            ("bucket".to_owned(), oss.bucket.clone()),
            ("url".to_owned(), oss.url.clone()),
            ("path".to_owned(), oss.path.clone()),
        ]);
        if let Some(o) = &oss.other_opts {
            attrs.insert("otherOpts".to_owned(), o.clone());
        }
        if let Some(f) = oss.fuse_type {
            attrs.insert("fuseType".to_owned(), f.as_str().to_owned());
        }
        if let Some(s) = oss.sig_version {
            attrs.insert("sigVersion".to_owned(), s.as_str().to_owned());
        }
        if let Some(r) = &oss.region {
            if r.is_empty() {
                return Err(ManifestError::invalid(
                    object,
                    "region",
                    "must not be empty",
                ));
            }
            attrs.insert("region".to_owned(), r.clone());
        }
        let mut out = self.static_volume(
            access_modes,
            PersistentVolumeSpec {
                csi: Some(CSIPersistentVolumeSource {
                    driver: OSS_DRIVER.to_owned(),
                    volume_handle: self.name.clone(),
                    volume_attributes: Some(attrs),
                    node_publish_secret_ref: Some(SecretReference {
                        name: Some(secret_name.clone()),
                        namespace: Some(self.namespace.clone()),
                    }),
                    ..CSIPersistentVolumeSource::default()
                }),
                ..PersistentVolumeSpec::default()
            },
        );
        out.secret = Some(SecretObject {
            metadata: ObjectMeta {
                name: Some(secret_name),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([
                (
                    "akId".to_owned(),
                    ByteString(oss.ak_id.expose().as_bytes().to_vec()),
                ),
                (
                    "akSecret".to_owned(),
                    ByteString(oss.ak_secret.expose().as_bytes().to_vec()),
                ),
            ])),
            ..SecretObject::default()
        });
        Ok(out)
    }

    fn cinder(
        &self,
        object: &str,
        cinder: &CinderVolume,
        access_modes: &[AccessMode],
    ) -> Result<VolumeManifests, ManifestError> {
        if let Some(m) = access_modes
            .iter()
            .find(|m| !matches!(m, AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod))
        {
            return Err(ManifestError::invalid(
                object,
                "access_modes",
                format!(
                    "{} is not supported by Cinder block volumes (ReadWriteOnce or \
                     ReadWriteOncePod)",
                    m.as_str()
                ),
            ));
        }
        match cinder {
            CinderVolume::Existing { volume_id, fs_type } => {
                if volume_id.trim().is_empty() {
                    return Err(ManifestError::invalid(
                        object,
                        "volume_id",
                        "must not be empty",
                    ));
                }
                Ok(self.static_volume(
                    access_modes,
                    PersistentVolumeSpec {
                        csi: Some(CSIPersistentVolumeSource {
                            driver: CINDER_DRIVER.to_owned(),
                            volume_handle: volume_id.clone(),
                            fs_type: Some(fs_type.clone().unwrap_or_else(|| "ext4".to_owned())),
                            ..CSIPersistentVolumeSource::default()
                        }),
                        ..PersistentVolumeSpec::default()
                    },
                ))
            }
            CinderVolume::Dynamic {
                volume_type,
                availability,
                allow_volume_expansion,
            } => {
                let Some(class) = &self.storage_class_name else {
                    return Err(ManifestError::invalid(
                        object,
                        "storage_class_name",
                        "a dynamic Cinder volume needs the name of its StorageClass",
                    ));
                };
                let mut params = BTreeMap::new();
                for (key, option, value) in [
                    ("type", "volume_type", volume_type),
                    ("availability", "availability", availability),
                ] {
                    if let Some(v) = value {
                        if v.trim().is_empty() {
                            return Err(ManifestError::invalid(
                                object,
                                option,
                                "must not be empty",
                            ));
                        }
                        params.insert(key.to_owned(), v.clone());
                    }
                }
                Ok(VolumeManifests {
                    persistent_volume: None,
                    claim: self.claim(access_modes, false),
                    secret: None,
                    storage_class: Some(StorageClass {
                        metadata: ObjectMeta {
                            name: Some(class.clone()),
                            ..ObjectMeta::default()
                        },
                        provisioner: CINDER_DRIVER.to_owned(),
                        parameters: (!params.is_empty()).then_some(params),
                        reclaim_policy: Some(self.reclaim_policy.as_str().to_owned()),
                        allow_volume_expansion: allow_volume_expansion.then_some(true),
                        volume_binding_mode: Some("WaitForFirstConsumer".to_owned()),
                        ..StorageClass::default()
                    }),
                })
            }
        }
    }
}

fn modes(access_modes: &[AccessMode]) -> Vec<String> {
    access_modes.iter().map(|m| m.as_str().to_owned()).collect()
}

fn check_absolute(object: &str, option: &str, path: &str) -> Result<(), ManifestError> {
    if path.starts_with('/') && !path.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(ManifestError::invalid(
            object,
            option,
            format!("`{path}` is not an absolute path without spaces"),
        ))
    }
}

/// The objects behind one claim. `Debug` never prints the Secret's values.
#[derive(Clone, PartialEq)]
pub struct VolumeManifests {
    /// The PersistentVolume of a static volume; `None` for a dynamic one.
    pub persistent_volume: Option<PersistentVolume>,
    /// The claim, named like the volume.
    pub claim: PersistentVolumeClaim,
    /// The credentials Secret (OSS).
    pub secret: Option<SecretObject>,
    /// The StorageClass of a dynamic volume.
    pub storage_class: Option<StorageClass>,
}

impl fmt::Debug for VolumeManifests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VolumeManifests")
            .field("persistent_volume", &self.persistent_volume)
            .field("claim", &self.claim)
            .field("secret", &self.secret.as_ref().map(RedactedSecret))
            .field("storage_class", &self.storage_class)
            .finish()
    }
}

impl VolumeManifests {
    /// Every object, in the order to apply them: Secret, StorageClass, PersistentVolume,
    /// claim.
    pub fn objects(&self) -> Vec<Manifest> {
        let mut out = Vec::new();
        if let Some(s) = &self.secret {
            out.push(Manifest::Secret(s.clone()));
        }
        if let Some(s) = &self.storage_class {
            out.push(Manifest::StorageClass(s.clone()));
        }
        if let Some(pv) = &self.persistent_volume {
            out.push(Manifest::PersistentVolume(pv.clone()));
        }
        out.push(Manifest::PersistentVolumeClaim(self.claim.clone()));
        out
    }

    /// The claim's name (also the pod volume's name).
    pub fn claim_name(&self) -> &str {
        self.claim.metadata.name.as_deref().unwrap_or_default()
    }

    /// Adds the claim to `pod` as a volume (named like the claim; once, even when mounted
    /// in several containers) and mounts it at `mount_path` in container `container`.
    ///
    /// Rejected: no container named `container`; `mount_path` not absolute or already a
    /// mount of that container; a different pod volume with the claim's name (`volumes`).
    pub fn mount_into(
        &self,
        pod: &mut PodSpec,
        container: &str,
        mount_path: &str,
        read_only: bool,
    ) -> Result<(), ManifestError> {
        let name = self.claim_name().to_owned();
        let object = format!("PodSpec (claim {name})");
        check_absolute(&object, "mount_path", mount_path)?;
        let wanted = Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name.clone(),
                read_only: None,
            }),
            ..Volume::default()
        };
        if let Some(existing) = pod.volumes.iter().flatten().find(|v| v.name == name)
            && existing != &wanted
        {
            return Err(ManifestError::invalid(
                &object,
                "volumes",
                format!("the pod already has a different volume named `{name}`"),
            ));
        }
        let Some(c) = pod.containers.iter_mut().find(|c| c.name == container) else {
            return Err(ManifestError::invalid(
                &object,
                "container",
                format!("the pod has no container named `{container}`"),
            ));
        };
        if c.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == mount_path)
        {
            return Err(ManifestError::invalid(
                &object,
                "mount_path",
                format!("container `{container}` already mounts something at `{mount_path}`"),
            ));
        }
        c.volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: name.clone(),
                mount_path: mount_path.to_owned(),
                read_only: read_only.then_some(true),
                ..VolumeMount::default()
            });
        let volumes = pod.volumes.get_or_insert_with(Vec::new);
        if !volumes.iter().any(|v| v.name == name) {
            volumes.push(wanted);
        }
        Ok(())
    }
}
