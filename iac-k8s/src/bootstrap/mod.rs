//! One-step kubeadm clusters as pure generation (no network I/O).
//!
//! A [`ClusterSpec`] says what to build; [`ClusterSecrets`] are made up front in Rust (the
//! cluster CA, the bootstrap token, the certificate key for `--upload-certs`), so every
//! machine's user-data can be written before any machine exists: nodes pin the CA by its
//! public-key hash (`caCertHashes`), never with `unsafeSkipCAVerification`.
//! [`render_cluster`] then writes, per role (first master, other HA masters, nodes), the
//! kubeadm `v1beta4` configuration and a cloud-init `#cloud-config` that installs containerd
//! and kubeadm from `pkgs.k8s.io`, runs `kubeadm init`/`join` and, on the first master, the
//! CNI. [`cluster_firewall_rules`] lists the security-group rules the cluster needs.
//!
//! The CA: [`ClusterCa::generate`] makes ECDSA keys only, because `rcgen` with the `ring`
//! backend cannot generate RSA keys; an RSA CA made elsewhere is loaded with
//! [`ClusterCa::from_pem`].
//!
//! Secrets are [`iac_core::Secret`]s or types whose `Debug` prints `***`; the generated
//! kubeadm files and user-data are secrets too (they carry the token, and on masters the CA
//! key).
//!
//! ```
//! use iac_k8s::bootstrap::{
//!     CaAlgorithm, CloudProvider, ClusterSecrets, ClusterSpec, ControlPlane, Protocol,
//!     cluster_firewall_rules, render_cluster,
//! };
//!
//! let spec = ClusterSpec::new("v1.33.2", "10.0.0.0/16", ControlPlane::single("10.0.1.10"), 3)
//!     .with_cloud_provider(CloudProvider::Alibaba { region: "cn-hangzhou".into() });
//! spec.validate()?;
//!
//! let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256)?;
//! let cluster = render_cluster(&spec, &secrets)?;
//!
//! let node = cluster.node.user_data.expose();
//! assert!(node.starts_with("#cloud-config\n"));
//! assert!(node.contains(&secrets.ca.ca_cert_hash()));
//! assert!(!format!("{cluster:?}").contains(secrets.token.secret().expose()));
//!
//! let rules = cluster_firewall_rules(&spec);
//! assert!(rules.iter().any(|r| r.protocol == Protocol::Tcp && r.port_range == "6443/6443"));
//! # Ok::<(), iac_k8s::bootstrap::BootstrapError>(())
//! ```

mod error;
mod firewall;
pub mod kubeadm;
mod pki;
mod spec;
mod userdata;

pub use error::{BootstrapError, SpecProblem};
pub use firewall::{FirewallRule, Protocol, RuleTarget, cluster_firewall_rules};
pub use pki::{
    BootstrapToken, CA_VALIDITY, CaAlgorithm, CertificateKey, ClusterCa, ClusterSecrets,
};
pub use spec::{
    API_SERVER_PORT, CloudProvider, ClusterSpec, Cni, CniPlugin, ContainerRuntime, ControlPlane,
    DEFAULT_IMAGE_REPOSITORY, DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR, Ipv4Cidr,
    NODE_POD_CIDR_PREFIX, Version,
};
pub use userdata::{
    ALIBABA_METADATA_URL, BOOTSTRAP_SCRIPT_PATH, ClusterBootstrap, KUBEADM_CONFIG_PATH,
    MachineRole, MachineUserData, NODE_NAME_PLACEHOLDER, PROVIDER_ID_PLACEHOLDER,
    REMOVE_NODE_SCRIPT_PATH, bootstrap_script, containerd_config, kubeadm_documents, kubeadm_yaml,
    remove_node_script, render_cluster, user_data,
};
