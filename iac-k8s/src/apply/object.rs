//! Manifests as plain data: parsing, identity, labels, the built-in kind table and the
//! apply order. Pure: no client, no I/O.

use std::fmt;

use kube::api::ApiResource;
use kube::core::GroupVersionKind;
use serde_json::{Map, Value};

use super::Error;

/// The label every applied object carries: `app.kubernetes.io/managed-by: <manager>`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The label that ties an object to a release: `iac.dev/release: <release>`.
pub const RELEASE_LABEL: &str = "iac.dev/release";

/// Which object a manifest names: apiVersion, kind, namespace (for namespaced kinds) and
/// name. Displays as `apps/v1 Deployment prod/web` (`v1 Namespace prod` when cluster scoped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `apps/v1`, `v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// The namespace; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// An object reference.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
        }
    }

    /// The API group: `apps` for `apps/v1`, empty for the core `v1`.
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The version: `v1` for `apps/v1`.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// True when both name the same object whatever the version it is served at
    /// (`apps/v1` and `apps/v1beta2` Deployment `prod/web` are one object).
    pub fn same_object(&self, other: &ObjectRef) -> bool {
        self.group() == other.group()
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }

    /// The engine's physical id: `<apiVersion>/<kind>/<namespace>/<name>`, the namespace
    /// empty for a cluster-scoped object (`apps/v1/Deployment/prod/web`, `v1/Namespace//prod`).
    pub fn physical_id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }

    /// Reads a physical id written by [`ObjectRef::physical_id`].
    pub fn parse_physical_id(id: &str) -> Result<Self, Error> {
        let invalid = || Error::Invalid {
            object: format!("physical id {id:?}"),
            reason: "expected <apiVersion>/<kind>/<namespace>/<name>".into(),
        };
        let mut parts = id.rsplitn(4, '/');
        let name = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let namespace = parts.next().ok_or_else(invalid)?;
        let kind = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let api_version = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        Ok(ObjectRef::new(
            api_version,
            kind,
            (!namespace.is_empty()).then_some(namespace),
            name,
        ))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {}/{}", self.api_version, self.kind, ns, self.name),
            None => write!(f, "{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}

/// Where a kind is served: its plural and whether its objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKind {
    /// API group, empty for core.
    pub group: &'static str,
    /// The version the table lists and prunes at.
    pub version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    /// `deployments`.
    pub plural: &'static str,
    /// True for namespaced kinds.
    pub namespaced: bool,
}

impl KnownKind {
    /// The [`ApiResource`] of this kind at `version`.
    pub fn api_resource(&self, version: &str) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, version, self.kind),
            self.plural,
        )
    }
}

const fn known(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> KnownKind {
    KnownKind {
        group,
        version: "v1",
        kind,
        plural,
        namespaced,
    }
}

/// The kinds resolved without discovery, in apply order.
pub const KNOWN_KINDS: &[KnownKind] = &[
    known("", "Namespace", "namespaces", false),
    known(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    known("", "ServiceAccount", "serviceaccounts", true),
    known(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    known(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    known("rbac.authorization.k8s.io", "Role", "roles", true),
    known(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    known("", "ConfigMap", "configmaps", true),
    known("", "Secret", "secrets", true),
    known("storage.k8s.io", "StorageClass", "storageclasses", false),
    known("", "PersistentVolume", "persistentvolumes", false),
    known("", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    known("", "Service", "services", true),
    known("apps", "Deployment", "deployments", true),
    known("apps", "StatefulSet", "statefulsets", true),
    known("apps", "DaemonSet", "daemonsets", true),
    known("batch", "Job", "jobs", true),
    known("networking.k8s.io", "Ingress", "ingresses", true),
];

/// The built-in entry of a group and kind, if there is one.
pub fn known_kind(group: &str, kind: &str) -> Option<&'static KnownKind> {
    KNOWN_KINDS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
}

/// Where a kind goes in a safe apply order (lower first): Namespaces, CRDs, ServiceAccounts
/// and RBAC, ConfigMaps and Secrets, StorageClasses, PVs, PVCs, Services, workloads,
/// Ingress; kinds the table does not know (custom resources) come last, after their CRDs.
/// Deletion runs in the reverse order.
pub fn apply_rank(group: &str, kind: &str) -> u8 {
    match (group, kind) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
        ("", "ServiceAccount") => 2,
        ("rbac.authorization.k8s.io", "ClusterRole" | "Role") => 3,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding" | "RoleBinding") => 4,
        ("", "ConfigMap" | "Secret") => 5,
        ("storage.k8s.io", "StorageClass") => 6,
        ("", "PersistentVolume") => 7,
        ("", "PersistentVolumeClaim") => 8,
        ("", "Service") => 9,
        ("apps", _) | ("batch", _) | ("", "Pod" | "ReplicationController") => 10,
        ("networking.k8s.io", "Ingress") => 11,
        _ => 12,
    }
}

/// One manifest, checked: a JSON object with `apiVersion`, `kind` and `metadata.name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    body: Map<String, Value>,
    api_version: String,
    kind: String,
    name: String,
}

impl Manifest {
    /// Checks one object: a JSON object with `apiVersion`, `kind` and `metadata.name`.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(body) = value else {
            return Err(Error::Invalid {
                object: "manifest".into(),
                reason: "is not a JSON/YAML object".into(),
            });
        };
        let text = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let api_version = text("apiVersion");
        let kind = text("kind");
        let name = body
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let object = format!(
            "{} {} {}",
            or_unknown(&api_version),
            or_unknown(&kind),
            or_unknown(&name)
        );
        if api_version.is_empty() || kind.is_empty() {
            return Err(Error::Invalid {
                object,
                reason: "has no apiVersion or kind".into(),
            });
        }
        if name.is_empty() {
            return Err(Error::Invalid {
                object,
                reason: "has no metadata.name (generateName cannot be applied)".into(),
            });
        }
        if name.contains('/') || name.len() > 253 {
            return Err(Error::Invalid {
                object,
                reason: "metadata.name must be at most 253 characters without '/'".into(),
            });
        }
        if let Some(Value::String(ns)) = body.get("metadata").and_then(|m| m.get("namespace"))
            && (ns.contains('/') || ns.len() > 63)
        {
            return Err(Error::Invalid {
                object,
                reason: "metadata.namespace must be at most 63 characters without '/'".into(),
            });
        }
        Ok(Manifest {
            body,
            api_version,
            kind,
            name,
        })
    }

    /// Parses one object from a YAML (or JSON) document.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let value: Value = serde_yaml::from_str(text).map_err(|e| Error::Invalid {
            object: "manifest".into(),
            reason: format!("is not valid YAML: {e}"),
        })?;
        Self::from_value(value)
    }

    /// `apps/v1`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `Deployment`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `metadata.namespace`, as written.
    pub fn namespace(&self) -> Option<&str> {
        self.body
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
    }

    /// The API group (`apps`; empty for core).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The object's reference, with the namespace resolved: `namespaced` decides whether
    /// the object has one, `default_namespace` fills it when the manifest sets none.
    pub fn object_ref(&self, namespaced: bool, default_namespace: &str) -> ObjectRef {
        let namespace = namespaced.then(|| self.namespace().unwrap_or(default_namespace));
        ObjectRef::new(&self.api_version, &self.kind, namespace, &self.name)
    }

    /// The body to send with server-side apply: the manifest with the resolved namespace
    /// (removed from cluster-scoped objects), the managed-by and release labels added, and
    /// the server-owned metadata a live object carries (`managedFields`, `resourceVersion`,
    /// `uid`, `creationTimestamp`, `generation`) and `status` removed.
    pub fn apply_body(&self, target: &ObjectRef, manager: &str, release: Option<&str>) -> Value {
        let mut body = self.body.clone();
        body.remove("status");
        let metadata = body
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Value::Object(meta) = metadata {
            for key in [
                "managedFields",
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "selfLink",
            ] {
                meta.remove(key);
            }
            match &target.namespace {
                Some(ns) => {
                    meta.insert("namespace".into(), Value::String(ns.clone()));
                }
                None => {
                    meta.remove("namespace");
                }
            }
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if !labels.is_object() {
                *labels = Value::Object(Map::new());
            }
            if let Value::Object(labels) = labels {
                labels.insert(MANAGED_BY_LABEL.into(), Value::String(manager.into()));
                if let Some(release) = release {
                    labels.insert(RELEASE_LABEL.into(), Value::String(release.into()));
                }
            }
        }
        Value::Object(body)
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "?" } else { s }
}

/// Splits a multi-document YAML stream (`---` separated) into checked manifests; empty
/// documents are skipped.
pub fn parse_yaml_stream(text: &str) -> Result<Vec<Manifest>, Error> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| Error::Invalid {
            object: format!("YAML document #{}", i + 1),
            reason: format!("is not valid YAML: {e}"),
        })?;
        if value.is_null() {
            continue;
        }
        out.push(Manifest::from_value(value)?);
    }
    Ok(out)
}

/// Checks a label value (a release name): at most 63 characters of `[A-Za-z0-9._-]`,
/// starting and ending alphanumeric.
pub fn check_label_value(value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            object: format!("release {value:?}"),
            reason: "must be 1-63 characters of [A-Za-z0-9._-], alphanumeric at both ends".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn physical_ids_round_trip() {
        let d = ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web");
        assert_eq!(d.physical_id(), "apps/v1/Deployment/prod/web");
        assert_eq!(ObjectRef::parse_physical_id(&d.physical_id()).unwrap(), d);
        let ns = ObjectRef::new("v1", "Namespace", None, "prod");
        assert_eq!(ns.physical_id(), "v1/Namespace//prod");
        assert_eq!(
            ObjectRef::parse_physical_id("v1/Namespace//prod").unwrap(),
            ns
        );
        assert!(ObjectRef::parse_physical_id("web").is_err());
        assert!(ObjectRef::parse_physical_id("v1/Namespace/x/").is_err());
        assert_eq!(d.to_string(), "apps/v1 Deployment prod/web");
        assert_eq!(ns.to_string(), "v1 Namespace prod");
    }

    #[test]
    fn manifests_are_checked() {
        let e = Manifest::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("v1 ConfigMap ?") && e.contains("metadata.name"),
            "{e}"
        );
        assert!(Manifest::from_value(json!([1])).is_err());
        assert!(Manifest::from_yaml("a: [").is_err());
        let docs = parse_yaml_stream(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn apply_body_labels_and_strips() {
        let m = Manifest::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "prod", "namespace": "x", "resourceVersion": "9",
                         "managedFields": [], "labels": {"a": "b"}},
            "status": {"phase": "Active"}
        }))
        .unwrap();
        let target = m.object_ref(false, "default");
        let body = m.apply_body(&target, "iac", Some("shop"));
        assert_eq!(
            body,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "prod", "labels": {"a": "b",
                       "app.kubernetes.io/managed-by": "iac", "iac.dev/release": "shop"}}})
        );
    }

    #[test]
    fn release_names_are_label_values() {
        assert!(check_label_value("shop-1.2").is_ok());
        assert!(check_label_value("-shop").is_err());
        assert!(check_label_value("").is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
        assert!(check_label_value("a b").is_err());
    }
}
