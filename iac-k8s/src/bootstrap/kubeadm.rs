//! kubeadm `kubeadm.k8s.io/v1beta4` configuration types (the subset this module writes).
//!
//! Field names are kubeadm's on the wire; unknown fields are rejected on reading, like
//! `kubeadm config validate` does. Tokens and certificate keys are typed
//! ([`BootstrapToken`], [`CertificateKey`]) so `Debug` never prints them.

use serde::{Deserialize, Serialize};

use super::error::BootstrapError;
use super::pki::{BootstrapToken, CertificateKey};

/// The only API version written: `kubeadm.k8s.io/v1beta4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApiVersion {
    /// `kubeadm.k8s.io/v1beta4` (Kubernetes v1.31 and later).
    #[default]
    #[serde(rename = "kubeadm.k8s.io/v1beta4")]
    V1beta4,
}

macro_rules! kind {
    ($name:ident, $value:ident) => {
        #[doc = concat!("The `kind` of a [`", stringify!($value), "`]: always `", stringify!($value), "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub enum $name {
            #[doc = concat!("`", stringify!($value), "`.")]
            #[default]
            $value,
        }
    };
}

kind!(InitKind, InitConfiguration);
kind!(ClusterKind, ClusterConfiguration);
kind!(JoinKind, JoinConfiguration);

/// A command-line argument as kubeadm v1beta4 lists them (`- {name: ..., value: ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Arg {
    /// Flag name without dashes, e.g. `cloud-provider`.
    pub name: String,
    /// Flag value.
    pub value: String,
}

impl Arg {
    /// An argument.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Arg {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// `nodeRegistration`: how the node registers with the API server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRegistrationOptions {
    /// Node name (defaults to the hostname).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// CRI socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_socket: Option<String>,
    /// Taints (`None`: kubeadm's default, the control-plane taint on masters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Extra kubelet flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubelet_extra_args: Vec<Arg>,
    /// Preflight errors to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
}

/// `localAPIEndpoint`: where this master's API server listens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalApiEndpoint {
    /// Advertised address (autodetected when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<String>,
    /// Port (6443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
}

/// One entry of `bootstrapTokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootstrapTokenEntry {
    /// The token.
    pub token: BootstrapToken,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Lifetime as a Go duration (`24h0m0s`; `0s` never expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// `signing`, `authentication`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
    /// Extra groups, e.g. `system:bootstrappers:kubeadm:default-node-token`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// `InitConfiguration`: the first master's runtime settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitConfiguration {
    /// `kubeadm.k8s.io/v1beta4`.
    pub api_version: ApiVersion,
    /// `InitConfiguration`.
    pub kind: InitKind,
    /// Tokens created at init.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_tokens: Vec<BootstrapTokenEntry>,
    /// Node registration.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// This master's API endpoint.
    #[serde(
        default,
        rename = "localAPIEndpoint",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_api_endpoint: Option<LocalApiEndpoint>,
    /// Key encrypting the uploaded control-plane certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<CertificateKey>,
    /// Phases to skip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
}

/// `networking`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    /// Service CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// Pod CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// DNS domain (`cluster.local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
}

/// `apiServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServer {
    /// Extra flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    /// Extra subject alternative names of the serving certificate.
    #[serde(default, rename = "certSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
}

/// `controllerManager` / `scheduler`: a control-plane component.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneComponent {
    /// Extra flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
}

/// `ClusterConfiguration`: cluster-wide settings, given at `kubeadm init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfiguration {
    /// `kubeadm.k8s.io/v1beta4`.
    pub api_version: ApiVersion,
    /// `ClusterConfiguration`.
    pub kind: ClusterKind,
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Kubernetes version, `v1.33.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Shared `host:port` of the API (required from the start for HA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    /// Networking.
    #[serde(default)]
    pub networking: Networking,
    /// API server settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub api_server: ApiServer,
    /// Controller manager settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub controller_manager: ControlPlaneComponent,
    /// Scheduler settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scheduler: ControlPlaneComponent,
    /// Registry of the control-plane images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Certificates directory (`/etc/kubernetes/pki`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_dir: Option<String>,
    /// Key algorithm of the certificates kubeadm makes (`RSA-2048` default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
}

/// `discovery.bootstrapToken`: token discovery pinned to the CA's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootstrapTokenDiscovery {
    /// The token.
    pub token: BootstrapToken,
    /// `host:port` of the API server.
    pub api_server_endpoint: String,
    /// `sha256:<hex>` hashes of the CA's SPKI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_cert_hashes: Vec<String>,
    /// Skips CA pinning (never set by this module).
    #[serde(
        default,
        rename = "unsafeSkipCAVerification",
        skip_serializing_if = "Option::is_none"
    )]
    pub unsafe_skip_ca_verification: Option<bool>,
}

/// `discovery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Discovery {
    /// Token discovery.
    pub bootstrap_token: BootstrapTokenDiscovery,
    /// Token for the TLS bootstrap (defaults to the discovery token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_bootstrap_token: Option<BootstrapToken>,
}

/// `controlPlane` of a join: makes the joining machine a master.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinControlPlane {
    /// This master's API endpoint.
    #[serde(
        default,
        rename = "localAPIEndpoint",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_api_endpoint: Option<LocalApiEndpoint>,
    /// Key that decrypts the uploaded control-plane certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<CertificateKey>,
}

/// `JoinConfiguration`: how a master or node joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinConfiguration {
    /// `kubeadm.k8s.io/v1beta4`.
    pub api_version: ApiVersion,
    /// `JoinConfiguration`.
    pub kind: JoinKind,
    /// Node registration.
    #[serde(default)]
    pub node_registration: NodeRegistrationOptions,
    /// Where the cluster CA is written (`/etc/kubernetes/pki/ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_path: Option<String>,
    /// Discovery.
    pub discovery: Discovery,
    /// Present on masters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<JoinControlPlane>,
    /// Phases to skip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// One document of a kubeadm configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KubeadmDocument {
    /// `InitConfiguration`.
    Init(InitConfiguration),
    /// `ClusterConfiguration`.
    Cluster(ClusterConfiguration),
    /// `JoinConfiguration`.
    Join(JoinConfiguration),
}

/// Renders documents as one multi-document YAML file (`---` separated).
pub fn to_multi_document_yaml(docs: &[KubeadmDocument]) -> Result<String, BootstrapError> {
    let mut out = String::new();
    for doc in docs {
        let yaml = match doc {
            KubeadmDocument::Init(d) => serde_yaml::to_string(d),
            KubeadmDocument::Cluster(d) => serde_yaml::to_string(d),
            KubeadmDocument::Join(d) => serde_yaml::to_string(d),
        }
        .map_err(|e| BootstrapError::Render {
            what: "kubeadm configuration",
            source: Box::new(e),
        })?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

/// Reads a multi-document kubeadm file back, strictly (unknown kinds, versions and fields
/// are errors, naming the document).
pub fn parse_multi_document_yaml(yaml: &str) -> Result<Vec<KubeadmDocument>, BootstrapError> {
    let mut docs = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml::Value::deserialize(de).map_err(|e| invalid_doc(i, &e))?;
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        let doc = match kind.as_str() {
            "InitConfiguration" => serde_yaml::from_value(value).map(KubeadmDocument::Init),
            "ClusterConfiguration" => serde_yaml::from_value(value).map(KubeadmDocument::Cluster),
            "JoinConfiguration" => serde_yaml::from_value(value).map(KubeadmDocument::Join),
            _ => {
                return Err(BootstrapError::InvalidInput {
                    field: "kubeadm document kind",
                    reason: format!("document {}: unknown kind {kind:?}", i + 1),
                });
            }
        }
        .map_err(|e| invalid_doc(i, &e))?;
        docs.push(doc);
    }
    Ok(docs)
}

fn invalid_doc(i: usize, e: &serde_yaml::Error) -> BootstrapError {
    // serde_yaml quotes field names, never values of our secret types (their errors are fixed
    // texts).
    BootstrapError::InvalidInput {
        field: "kubeadm document",
        reason: format!("document {}: {e}", i + 1),
    }
}
