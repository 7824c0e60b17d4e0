//! OpenStack Keystone access to a cluster, from Keystone data given as plain values (no
//! OpenStack client here): one Namespace per project, the ABAC policy file, and the
//! k8s-keystone-auth policy and sync ConfigMaps.
//!
//! - Namespaces are named after the project, sanitised to a DNS-1123 label
//!   ([`sanitize_namespace`]); two projects that sanitise to the same name, or a project
//!   that lands on a system namespace, are reported, never merged.
//! - A role assignment grants its subject (a user, by the Keystone user *name* that
//!   k8s-keystone-auth authenticates as, or a Keystone group) access to the project's
//!   namespace; which roles grant read-write or read-only access is configured
//!   ([`KeystoneAccess::with_role`]); other roles grant nothing.
//! - The ABAC file has one JSON object per line:
//!   `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{…}}`.
//! - The k8s-keystone-auth policy (v1 format) matches the Keystone role *and* the project of
//!   the token, so a token scoped to another project does not get in; it goes in ConfigMap
//!   `kube-system/<name>` under key `policies` (`--policy-configmap-name`).
//! - The sync configuration ([`SyncConfig`]) goes under key `syncConfig`
//!   (`--sync-configmap-name`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::json;

use super::{ManifestError, check_dns1123_subdomain, is_dns1123_label};

/// The `apiVersion` of an ABAC policy line.
pub const ABAC_API_VERSION: &str = "abac.authorization.kubernetes.io/v1beta1";
/// The namespace k8s-keystone-auth reads its ConfigMaps from.
pub const KUBE_SYSTEM: &str = "kube-system";
/// The ConfigMap key of the k8s-keystone-auth policy.
pub const POLICY_KEY: &str = "policies";
/// The ConfigMap key of the k8s-keystone-auth sync configuration.
pub const SYNC_CONFIG_KEY: &str = "syncConfig";
/// The annotation that records a Namespace's Keystone project id.
pub const PROJECT_ID_ANNOTATION: &str = "iac-k8s/keystone-project-id";
/// The annotation that records a Namespace's Keystone project name.
pub const PROJECT_NAME_ANNOTATION: &str = "iac-k8s/keystone-project-name";

const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];
const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// A Keystone project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project id.
    pub id: String,
    /// The project name.
    pub name: String,
}

/// A Keystone user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub id: String,
    /// The user name (what k8s-keystone-auth reports as the Kubernetes user name).
    pub name: String,
}

/// Who a role is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Subject {
    /// A user, by id (looked up in [`KeystoneAccess::users`]).
    User(String),
    /// A Keystone group, by name (k8s-keystone-auth reports group names as groups).
    Group(String),
}

/// A role assignment on a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The user or group.
    pub subject: Subject,
    /// The project id.
    pub project_id: String,
    /// The role name (`member`, `reader`).
    pub role: String,
}

/// What a role allows in its project's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Access {
    /// Every verb on every resource.
    ReadWrite,
    /// `get`, `list` and `watch` only.
    ReadOnly,
}

/// Keystone projects, users and role assignments, and which roles grant what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneAccess {
    /// The projects; each gets a Namespace.
    pub projects: Vec<Project>,
    /// The users named by assignments.
    pub users: Vec<User>,
    /// The role assignments.
    pub assignments: Vec<RoleAssignment>,
    /// Role name → access. Roles not listed grant nothing.
    pub roles: BTreeMap<String, Access>,
    /// Also allow read-only non-resource requests (`/api`, `/version`: what `kubectl`
    /// needs for discovery) to every subject that has access somewhere.
    pub discovery: bool,
}

impl KeystoneAccess {
    /// The data, with the default roles: `admin`, `member` and `_member_` read-write,
    /// `reader` read-only; discovery allowed.
    pub fn new(projects: Vec<Project>, users: Vec<User>, assignments: Vec<RoleAssignment>) -> Self {
        KeystoneAccess {
            projects,
            users,
            assignments,
            roles: BTreeMap::from([
                ("admin".to_owned(), Access::ReadWrite),
                ("member".to_owned(), Access::ReadWrite),
                ("_member_".to_owned(), Access::ReadWrite),
                ("reader".to_owned(), Access::ReadOnly),
            ]),
            discovery: true,
        }
    }

    /// Makes `role` grant `access` (replacing what it granted before).
    pub fn with_role(mut self, role: impl Into<String>, access: Access) -> Self {
        self.roles.insert(role.into(), access);
        self
    }

    /// Makes `role` grant nothing.
    pub fn without_role(mut self, role: &str) -> Self {
        self.roles.remove(role);
        self
    }

    /// Turns the discovery rules on or off.
    pub fn with_discovery(mut self, on: bool) -> Self {
        self.discovery = on;
        self
    }

    /// Project id → namespace name, or the first collision.
    ///
    /// Rejected (option `projects`): an empty or repeated project id, a name that
    /// sanitises to nothing, two projects with the same namespace, a namespace that is a
    /// system one (`default`, `kube-*`).
    pub fn namespace_names(&self) -> Result<BTreeMap<String, String>, ManifestError> {
        let mut by_id = BTreeMap::new();
        let mut by_ns: BTreeMap<String, &Project> = BTreeMap::new();
        for p in &self.projects {
            let object = format!("Namespace of project `{}` ({})", p.name, p.id);
            if p.id.is_empty() {
                return Err(ManifestError::invalid(
                    object,
                    "projects",
                    "the project id is empty",
                ));
            }
            let ns = sanitize_namespace(&p.name);
            if ns.is_empty() {
                return Err(ManifestError::invalid(
                    object,
                    "projects",
                    "the project name has no letter or digit to make a namespace name of",
                ));
            }
            if SYSTEM_NAMESPACES.contains(&ns.as_str()) {
                return Err(ManifestError::invalid(
                    object,
                    "projects",
                    format!("namespace `{ns}` is a system namespace"),
                ));
            }
            if let Some(first) = by_ns.get(&ns) {
                return Err(ManifestError::NameCollision {
                    kind: "Namespace".to_owned(),
                    name: ns,
                    option: "projects".to_owned(),
                    first: format!("project `{}` ({})", first.name, first.id),
                    second: format!("project `{}` ({})", p.name, p.id),
                });
            }
            if by_id.insert(p.id.clone(), ns.clone()).is_some() {
                return Err(ManifestError::invalid(
                    object,
                    "projects",
                    format!("project id `{}` is listed twice", p.id),
                ));
            }
            by_ns.insert(ns, p);
        }
        Ok(by_id)
    }

    /// One Namespace per project, in the order of the projects, annotated with the
    /// project's id and name.
    pub fn namespaces(&self) -> Result<Vec<Namespace>, ManifestError> {
        let names = self.namespace_names()?;
        Ok(self
            .projects
            .iter()
            .map(|p| Namespace {
                metadata: ObjectMeta {
                    name: names.get(&p.id).cloned(),
                    annotations: Some(BTreeMap::from([
                        (PROJECT_ID_ANNOTATION.to_owned(), p.id.clone()),
                        (PROJECT_NAME_ANNOTATION.to_owned(), p.name.clone()),
                    ])),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            })
            .collect())
    }

    /// (namespace, subject as ABAC sees it, access): the strongest access per pair, sorted.
    fn grants(&self) -> Result<BTreeMap<(String, AbacSubject), Access>, ManifestError> {
        let names = self.namespace_names()?;
        let users: BTreeMap<&str, &str> = self
            .users
            .iter()
            .map(|u| (u.id.as_str(), u.name.as_str()))
            .collect();
        let mut grants: BTreeMap<(String, AbacSubject), Access> = BTreeMap::new();
        for a in &self.assignments {
            let object = format!("role assignment `{}` on project {}", a.role, a.project_id);
            let Some(ns) = names.get(&a.project_id) else {
                return Err(ManifestError::invalid(
                    object,
                    "assignments",
                    format!("project `{}` is not in `projects`", a.project_id),
                ));
            };
            let subject = match &a.subject {
                Subject::User(id) => match users.get(id.as_str()) {
                    Some(name) if !name.is_empty() => AbacSubject::User((*name).to_owned()),
                    Some(_) => {
                        return Err(ManifestError::invalid(
                            object,
                            "users",
                            format!("user `{id}` has an empty name"),
                        ));
                    }
                    None => {
                        return Err(ManifestError::invalid(
                            object,
                            "assignments",
                            format!("user `{id}` is not in `users`"),
                        ));
                    }
                },
                Subject::Group(g) if g.is_empty() => {
                    return Err(ManifestError::invalid(
                        object,
                        "assignments",
                        "empty group name",
                    ));
                }
                Subject::Group(g) => AbacSubject::Group(g.clone()),
            };
            let Some(access) = self.roles.get(&a.role) else {
                continue;
            };
            let entry = grants.entry((ns.clone(), subject)).or_insert(*access);
            // ReadWrite sorts first: keep the strongest.
            *entry = (*entry).min(*access);
        }
        Ok(grants)
    }

    /// The ABAC policy file (`--authorization-policy-file`): one JSON object per line,
    /// sorted by namespace then subject, each subject getting all resources of all API
    /// groups in its project's namespace (read-only when its strongest role is read-only);
    /// with `discovery`, then one read-only `nonResourcePath: "*"` line per subject.
    pub fn abac_policy(&self) -> Result<String, ManifestError> {
        let grants = self.grants()?;
        let mut out = String::new();
        let mut subjects = BTreeSet::new();
        for ((ns, subject), access) in &grants {
            let mut spec = serde_json::Map::new();
            subject.put(&mut spec);
            spec.insert("namespace".into(), json!(ns));
            spec.insert("resource".into(), json!("*"));
            spec.insert("apiGroup".into(), json!("*"));
            spec.insert("readonly".into(), json!(*access == Access::ReadOnly));
            push_abac_line(&mut out, spec);
            subjects.insert(subject.clone());
        }
        if self.discovery {
            for subject in subjects {
                let mut spec = serde_json::Map::new();
                subject.put(&mut spec);
                spec.insert("nonResourcePath".into(), json!("*"));
                spec.insert("readonly".into(), json!(true));
                push_abac_line(&mut out, spec);
            }
        }
        Ok(out)
    }

    /// The k8s-keystone-auth policy (v1 format, a JSON array): per project and granting
    /// role found in the assignments, every resource of every API group in the project's
    /// namespace for tokens that carry that role and are scoped to that project (verbs `*`,
    /// or `get`/`list`/`watch` for read-only roles); with `discovery`, `get` on every
    /// non-resource path for tokens of any of those projects.
    pub fn keystone_policy(&self) -> Result<serde_json::Value, ManifestError> {
        let names = self.namespace_names()?;
        // Checks the assignments the same way as the ABAC file does.
        self.grants()?;
        let mut pairs = BTreeSet::new();
        for a in &self.assignments {
            if let Some(access) = self.roles.get(&a.role) {
                pairs.insert((
                    names[&a.project_id].clone(),
                    a.project_id.clone(),
                    a.role.clone(),
                    *access,
                ));
            }
        }
        let mut rules = Vec::new();
        let mut projects = BTreeSet::new();
        for (ns, project_id, role, access) in &pairs {
            let verbs: Vec<&str> = match access {
                Access::ReadWrite => vec!["*"],
                Access::ReadOnly => READ_VERBS.to_vec(),
            };
            rules.push(json!({
                "resource": {
                    "verbs": verbs,
                    "resources": ["*"],
                    "version": "*",
                    "namespace": ns,
                },
                "match": [
                    {"type": "role", "values": [role]},
                    {"type": "project", "values": [project_id]},
                ],
            }));
            projects.insert(project_id.clone());
        }
        if self.discovery && !projects.is_empty() {
            rules.push(json!({
                "nonresource": {"verbs": ["get"], "path": "*"},
                "match": [{"type": "project", "values": projects}],
            }));
        }
        Ok(serde_json::Value::Array(rules))
    }

    /// [`keystone_policy`](Self::keystone_policy) in ConfigMap `kube-system/<name>` under
    /// key `policies`, pretty-printed. Rejected: `name` not a DNS-1123 subdomain.
    pub fn keystone_policy_config_map(&self, name: &str) -> Result<ConfigMap, ManifestError> {
        check_dns1123_subdomain(&format!("ConfigMap {KUBE_SYSTEM}/{name}"), "name", name)?;
        let policy = self.keystone_policy()?;
        let text = serde_json::to_string_pretty(&policy).map_err(|e| {
            ManifestError::invalid(
                format!("ConfigMap {KUBE_SYSTEM}/{name}"),
                "policies",
                e.to_string(),
            )
        })?;
        Ok(config_map(name, POLICY_KEY, text))
    }
}

/// A subject as ABAC and the policy see it: a user name or a group name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum AbacSubject {
    User(String),
    Group(String),
}

impl AbacSubject {
    fn put(&self, spec: &mut serde_json::Map<String, serde_json::Value>) {
        match self {
            AbacSubject::User(u) => spec.insert("user".into(), json!(u)),
            AbacSubject::Group(g) => spec.insert("group".into(), json!(g)),
        };
    }
}

fn push_abac_line(out: &mut String, spec: serde_json::Map<String, serde_json::Value>) {
    let line = json!({
        "apiVersion": ABAC_API_VERSION,
        "kind": "Policy",
        "spec": spec,
    });
    out.push_str(&line.to_string());
    out.push('\n');
}

fn config_map(name: &str, key: &str, text: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(KUBE_SYSTEM.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(key.to_owned(), text)])),
        ..ConfigMap::default()
    }
}

/// A project name as a DNS-1123 label: lower-cased, every run of characters other than
/// ASCII letters and digits replaced by one `-`, `-` trimmed from both ends, cut to 63
/// characters. Empty when the name has no ASCII letter or digit.
pub fn sanitize_namespace(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    let trimmed = out.trim_end_matches('-').to_owned();
    debug_assert!(trimmed.is_empty() || is_dns1123_label(&trimmed));
    trimmed
}

/// What k8s-keystone-auth synchronises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum SyncDataType {
    /// Create the namespace of the user's project on first authentication.
    #[serde(rename = "projects")]
    Projects,
    /// Create RoleBindings `<user id>_<role>` to the ClusterRole named like each Keystone
    /// role in that namespace (the ClusterRoles must exist).
    #[serde(rename = "role_assignments")]
    RoleAssignments,
}

/// Extra groups or a replacement user name for users with a Keystone role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleMapping {
    /// The Keystone role.
    #[serde(rename = "keystone-role")]
    pub keystone_role: String,
    /// The Kubernetes user name to use instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Groups to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The k8s-keystone-auth sync configuration (`--sync-config-file` or key `syncConfig` of
/// `--sync-configmap-name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncConfig {
    /// `namespace-format`: `%i` project id (required), `%n` name, `%d` domain id; longer
    /// than 63 characters falls back to the id alone.
    #[serde(rename = "namespace-format")]
    pub namespace_format: String,
    /// `projects-blacklist`: project ids not synchronised.
    #[serde(rename = "projects-blacklist", skip_serializing_if = "Vec::is_empty")]
    pub projects_blacklist: Vec<String>,
    /// `projects-name-blacklist`: project names not synchronised.
    #[serde(
        rename = "projects-name-blacklist",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub projects_name_blacklist: Vec<String>,
    /// `data-types-to-sync`.
    #[serde(rename = "data-types-to-sync")]
    pub data_types_to_sync: Vec<SyncDataType>,
    /// `role-mappings`.
    #[serde(rename = "role-mappings", skip_serializing_if = "Vec::is_empty")]
    pub role_mappings: Vec<RoleMapping>,
}

impl Default for SyncConfig {
    /// Namespaces named by project id (`%i`), projects and role assignments synchronised.
    fn default() -> Self {
        SyncConfig {
            namespace_format: "%i".to_owned(),
            projects_blacklist: Vec::new(),
            projects_name_blacklist: Vec::new(),
            data_types_to_sync: vec![SyncDataType::Projects, SyncDataType::RoleAssignments],
            role_mappings: Vec::new(),
        }
    }
}

impl SyncConfig {
    /// The configuration as YAML.
    ///
    /// Rejected: `namespace_format` without `%i`, or with characters other than lower-case
    /// letters, digits, `-` and the `%i`/`%n`/`%d` placeholders; `data_types_to_sync`
    /// empty or repeated; a role mapping with an empty role, or with neither username nor
    /// groups (`role_mappings`).
    pub fn to_yaml(&self) -> Result<String, ManifestError> {
        let object = "k8s-keystone-auth sync configuration";
        let f = &self.namespace_format;
        if !f.contains("%i") {
            return Err(ManifestError::invalid(
                object,
                "namespace_format",
                format!("`{f}` lacks the project id placeholder %i"),
            ));
        }
        let stripped = f.replace("%i", "").replace("%n", "").replace("%d", "");
        if !stripped
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ManifestError::invalid(
                object,
                "namespace_format",
                format!("`{f}` has characters a namespace name cannot hold"),
            ));
        }
        let types: BTreeSet<_> = self.data_types_to_sync.iter().collect();
        if types.is_empty() || types.len() != self.data_types_to_sync.len() {
            return Err(ManifestError::invalid(
                object,
                "data_types_to_sync",
                "must list projects and/or role_assignments, each once",
            ));
        }
        for m in &self.role_mappings {
            if m.keystone_role.is_empty() {
                return Err(ManifestError::invalid(
                    object,
                    "role_mappings",
                    "empty keystone-role",
                ));
            }
            if m.username.as_deref().is_none_or(str::is_empty) && m.groups.is_empty() {
                return Err(ManifestError::invalid(
                    object,
                    "role_mappings",
                    format!(
                        "role `{}` maps to neither a username nor groups",
                        m.keystone_role
                    ),
                ));
            }
        }
        let value = serde_json::to_value(self)
            .map_err(|e| ManifestError::invalid(object, "sync_config", e.to_string()))?;
        Ok(super::yaml::to_yaml(&value))
    }

    /// The configuration in ConfigMap `kube-system/<name>` under key `syncConfig`.
    pub fn config_map(&self, name: &str) -> Result<ConfigMap, ManifestError> {
        check_dns1123_subdomain(&format!("ConfigMap {KUBE_SYSTEM}/{name}"), "name", name)?;
        Ok(config_map(name, SYNC_CONFIG_KEY, self.to_yaml()?))
    }
}
