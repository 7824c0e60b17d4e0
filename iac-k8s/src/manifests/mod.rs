//! Typed Kubernetes objects for the cloud-provider bindings.
//!
//! Everything here is pure generation: options in, `k8s-openapi` objects out, rejected with a
//! [`ManifestError`] that names the option when a value or a combination is wrong.
//!
//! - [`slb`]: `LoadBalancer` Services for Alibaba Cloud SLB (CLB, and the NLB annotations),
//!   every `service.beta.kubernetes.io/alibaba-cloud-loadbalancer-*` annotation typed;
//! - [`ingress`]: Ingress rules (host + path → service:port), TLS and the ingress class;
//! - [`volumes`]: PersistentVolume + PersistentVolumeClaim (+ Secret / StorageClass) for
//!   Alibaba NAS and OSS (CSI), plain NFS and OpenStack Cinder (CSI), and the wiring of a
//!   claim into a `PodSpec`;
//! - [`keystone`]: from Keystone projects, users and role assignments (plain data) the
//!   project Namespaces, the ABAC policy file and the k8s-keystone-auth policy and sync
//!   ConfigMaps;
//! - [`render_yaml`]: many objects as one multi-document YAML stream.
//!
//! ```
//! use iac_k8s::manifests::{render_yaml, Manifest};
//! use iac_k8s::manifests::slb::{AddressType, LoadBalancerService, PortProtocol, SlbOptions};
//!
//! let service = LoadBalancerService::new("web")
//!     .with_namespace("shop")
//!     .with_selector("app", "web")
//!     .with_port(80, 8080, PortProtocol::Tcp)
//!     .with_options(SlbOptions {
//!         address_type: Some(AddressType::Intranet),
//!         vswitch_id: Some("vsw-123".into()),
//!         ..SlbOptions::default()
//!     })
//!     .build()
//!     .unwrap();
//! let annotations = service.metadata.annotations.as_ref().unwrap();
//! assert_eq!(
//!     annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"],
//!     "intranet"
//! );
//!
//! // A bad combination names the option.
//! let err = LoadBalancerService::new("web")
//!     .with_port(80, 8080, PortProtocol::Tcp)
//!     .with_options(SlbOptions { vswitch_id: Some("vsw-123".into()), ..SlbOptions::default() })
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.option(), "vswitch_id");
//!
//! let yaml = render_yaml(&[Manifest::from(service)]);
//! assert!(yaml.starts_with("apiVersion: v1\nkind: Service\n"));
//! ```

use std::fmt;

use iac_core::provider::ErrorKind;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use serde::Serialize;

pub mod ingress;
pub mod keystone;
pub mod slb;
pub mod volumes;
mod yaml;

/// Why options could not be turned into manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// An option has a value that is not allowed, alone or together with other options.
    #[error("{object}: option `{option}`: {reason}")]
    InvalidOption {
        /// The object being built (`Service shop/web`, `PersistentVolume data`).
        object: String,
        /// The option that is wrong, by its Rust name (`cert_id`, `bandwidth`).
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two inputs would produce objects of the same name.
    #[error(
        "{kind} `{name}` would be produced twice, by {first} and by {second} (option `{option}`)"
    )]
    NameCollision {
        /// The kind of the object (`Namespace`).
        kind: String,
        /// The colliding name.
        name: String,
        /// The option that holds the colliding inputs (`projects`).
        option: String,
        /// The first input that produces the name.
        first: String,
        /// The second input that produces the name.
        second: String,
    },
}

impl ManifestError {
    /// The option that is wrong, by its Rust name.
    pub fn option(&self) -> &str {
        match self {
            ManifestError::InvalidOption { option, .. }
            | ManifestError::NameCollision { option, .. } => option,
        }
    }

    /// What the engine should do about it: options are wrong, so it is always
    /// [`ErrorKind::Invalid`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    pub(crate) fn invalid(
        object: impl Into<String>,
        option: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ManifestError::InvalidOption {
            object: object.into(),
            option: option.into(),
            reason: reason.into(),
        }
    }
}

/// One generated Kubernetes object of any of the kinds this module makes, so that objects of
/// different kinds can be rendered together with [`render_yaml`].
///
/// `Debug` never prints the data of a Secret (only its name and keys).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
// Manifests are made a few at a time and rendered once: a boxed PersistentVolume would make
// every match and constructor clumsier for no measurable gain.
#[allow(clippy::large_enum_variant)]
pub enum Manifest {
    /// A `v1 Service`.
    Service(Service),
    /// A `networking.k8s.io/v1 Ingress`.
    Ingress(Ingress),
    /// A `v1 Namespace`.
    Namespace(Namespace),
    /// A `v1 ConfigMap`.
    ConfigMap(ConfigMap),
    /// A `v1 Secret`.
    Secret(Secret),
    /// A `v1 PersistentVolume`.
    PersistentVolume(PersistentVolume),
    /// A `v1 PersistentVolumeClaim`.
    PersistentVolumeClaim(PersistentVolumeClaim),
    /// A `storage.k8s.io/v1 StorageClass`.
    StorageClass(StorageClass),
}

impl Manifest {
    /// The object's kind (`Service`).
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::Service(_) => "Service",
            Manifest::Ingress(_) => "Ingress",
            Manifest::Namespace(_) => "Namespace",
            Manifest::ConfigMap(_) => "ConfigMap",
            Manifest::Secret(_) => "Secret",
            Manifest::PersistentVolume(_) => "PersistentVolume",
            Manifest::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Manifest::StorageClass(_) => "StorageClass",
        }
    }

    /// The object's name (empty if it has none).
    pub fn name(&self) -> &str {
        let meta = match self {
            Manifest::Service(o) => &o.metadata,
            Manifest::Ingress(o) => &o.metadata,
            Manifest::Namespace(o) => &o.metadata,
            Manifest::ConfigMap(o) => &o.metadata,
            Manifest::Secret(o) => &o.metadata,
            Manifest::PersistentVolume(o) => &o.metadata,
            Manifest::PersistentVolumeClaim(o) => &o.metadata,
            Manifest::StorageClass(o) => &o.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Manifest::Service(o) => f.debug_tuple("Service").field(o).finish(),
            Manifest::Ingress(o) => f.debug_tuple("Ingress").field(o).finish(),
            Manifest::Namespace(o) => f.debug_tuple("Namespace").field(o).finish(),
            Manifest::ConfigMap(o) => f.debug_tuple("ConfigMap").field(o).finish(),
            Manifest::Secret(o) => f.debug_tuple("Secret").field(&RedactedSecret(o)).finish(),
            Manifest::PersistentVolume(o) => f.debug_tuple("PersistentVolume").field(o).finish(),
            Manifest::PersistentVolumeClaim(o) => {
                f.debug_tuple("PersistentVolumeClaim").field(o).finish()
            }
            Manifest::StorageClass(o) => f.debug_tuple("StorageClass").field(o).finish(),
        }
    }
}

/// Debug view of a Secret: its name, namespace and keys, never its values.
pub(crate) struct RedactedSecret<'a>(pub(crate) &'a Secret);

impl fmt::Debug for RedactedSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self
            .0
            .data
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .chain(self.0.string_data.iter().flatten().map(|(k, _)| k))
            .collect();
        f.debug_struct("Secret")
            .field("name", &self.0.metadata.name)
            .field("namespace", &self.0.metadata.namespace)
            .field("keys", &keys)
            .field("values", &iac_core::Secret::REDACTED)
            .finish()
    }
}

impl Serialize for Manifest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Manifest::Service(o) => o.serialize(serializer),
            Manifest::Ingress(o) => o.serialize(serializer),
            Manifest::Namespace(o) => o.serialize(serializer),
            Manifest::ConfigMap(o) => o.serialize(serializer),
            Manifest::Secret(o) => o.serialize(serializer),
            Manifest::PersistentVolume(o) => o.serialize(serializer),
            Manifest::PersistentVolumeClaim(o) => o.serialize(serializer),
            Manifest::StorageClass(o) => o.serialize(serializer),
        }
    }
}

macro_rules! manifest_from {
    ($($variant:ident),+) => {
        $(
            impl From<$variant> for Manifest {
                fn from(o: $variant) -> Self {
                    Manifest::$variant(o)
                }
            }
        )+
    };
}
manifest_from!(
    Service,
    Ingress,
    Namespace,
    ConfigMap,
    Secret,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass
);

/// Renders objects as one multi-document YAML stream: documents separated by `---` lines,
/// in the order given, each with its `apiVersion` and `kind`.
///
/// Strings that a YAML 1.1 reader (kubectl, PyYAML) would take for something else (`on`,
/// `off`, `yes`, `1e3`, `12:30`, ...) are double-quoted, so every reader gets back exactly
/// the strings of the objects; multi-line strings become literal blocks.
///
/// Kubernetes objects always serialize; should a value ever fail to, its document is
/// replaced by a YAML comment that says so instead of panicking.
pub fn render_yaml<T: Serialize>(objects: &[T]) -> String {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        match serde_json::to_value(object) {
            Ok(value) => out.push_str(&yaml::to_yaml(&value)),
            Err(e) => {
                out.push_str("# document ");
                out.push_str(&(i + 1).to_string());
                out.push_str(" could not be rendered: ");
                out.push_str(&e.to_string().replace('\n', " "));
                out.push('\n');
            }
        }
    }
    out
}

/// Checks a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters): the
/// names of Namespaces and the like.
pub(crate) fn check_dns1123_label(
    object: &str,
    option: &str,
    value: &str,
) -> Result<(), ManifestError> {
    if is_dns1123_label(value) {
        Ok(())
    } else {
        Err(ManifestError::invalid(
            object,
            option,
            format!(
                "`{value}` is not a DNS-1123 label (lower-case letters, digits and '-', \
                 starting and ending with a letter or digit, at most 63 characters)"
            ),
        ))
    }
}

/// Checks a DNS-1035 label (a DNS-1123 label that starts with a letter): Service names.
pub(crate) fn check_dns1035_label(
    object: &str,
    option: &str,
    value: &str,
) -> Result<(), ManifestError> {
    if is_dns1123_label(value) && value.starts_with(|c: char| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(ManifestError::invalid(
            object,
            option,
            format!(
                "`{value}` is not a DNS-1035 label (lower-case letters, digits and '-', \
                 starting with a letter and ending with a letter or digit, at most 63 characters)"
            ),
        ))
    }
}

/// Checks a DNS-1123 subdomain (dot-separated labels, at most 253 characters): the names of
/// Secrets, ConfigMaps, PersistentVolumes, claims and StorageClasses.
pub(crate) fn check_dns1123_subdomain(
    object: &str,
    option: &str,
    value: &str,
) -> Result<(), ManifestError> {
    if is_dns1123_subdomain(value) {
        Ok(())
    } else {
        Err(ManifestError::invalid(
            object,
            option,
            format!(
                "`{value}` is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', \
                 starting and ending with a letter or digit, at most 253 characters)"
            ),
        ))
    }
}

pub(crate) fn is_dns1123_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

pub(crate) fn is_dns1123_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns1123_label)
}

/// Checks a resource quantity such as `20Gi`, `500M` or `1`: digits with an optional
/// fraction and an optional binary or decimal suffix.
pub(crate) fn check_quantity(object: &str, option: &str, value: &str) -> Result<(), ManifestError> {
    const SUFFIXES: [&str; 13] = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ];
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit())
        && !number.starts_with('.')
        && !number.ends_with('.');
    let positive = number.chars().any(|c| ('1'..='9').contains(&c));
    if number_ok && SUFFIXES.contains(&suffix) && positive {
        Ok(())
    } else {
        Err(ManifestError::invalid(
            object,
            option,
            format!("`{value}` is not a positive quantity such as `20Gi` or `500M`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_label("a"));
        assert!(is_dns1123_label("a-1"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label("a-"));
        assert!(!is_dns1123_label("A"));
        assert!(!is_dns1123_label(""));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(check_dns1035_label("o", "name", "1abc").is_err());
    }

    #[test]
    fn quantities() {
        for ok in ["1", "20Gi", "500M", "1.5Ti", "100k"] {
            assert!(check_quantity("o", "capacity", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "Gi", "0", "0Gi", "1.Gi", "-1Gi", "20GB", "1..2", "20 Gi",
        ] {
            let err = check_quantity("o", "capacity", bad).unwrap_err();
            assert_eq!(err.option(), "capacity", "{bad}");
        }
    }

    #[test]
    fn secret_data_never_in_debug() {
        let mut data = std::collections::BTreeMap::new();
        data.insert(
            "akSecret".to_owned(),
            k8s_openapi::ByteString(b"hunter2".to_vec()),
        );
        let secret = Manifest::from(Secret {
            data: Some(data),
            ..Secret::default()
        });
        let debug = format!("{secret:?} {secret:#?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        // Neither the bytes (104 = 'h', ...).
        assert!(!debug.contains("104"), "{debug}");
        assert!(debug.contains("akSecret"));
    }
}
