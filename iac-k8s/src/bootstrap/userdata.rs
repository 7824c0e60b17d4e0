//! kubeadm configuration and cloud-init user-data per machine role.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use iac_core::Secret;
use serde::Serialize;

use super::error::BootstrapError;
use super::kubeadm::{
    ApiVersion, Arg, BootstrapTokenDiscovery, BootstrapTokenEntry, ClusterConfiguration,
    ClusterKind, ControlPlaneComponent, Discovery, InitConfiguration, InitKind, JoinConfiguration,
    JoinControlPlane, JoinKind, KubeadmDocument, LocalApiEndpoint, Networking,
    NodeRegistrationOptions, to_multi_document_yaml,
};
use super::pki::ClusterSecrets;
use super::spec::{API_SERVER_PORT, CloudProvider, ClusterSpec, CniPlugin, ControlPlane, Version};

/// Where the kubeadm configuration is written on every machine.
pub const KUBEADM_CONFIG_PATH: &str = "/etc/kubernetes/kubeadm.yaml";
/// Where the bootstrap script is written.
pub const BOOTSTRAP_SCRIPT_PATH: &str = "/usr/local/sbin/k8s-bootstrap.sh";
/// Where the node-removal script is written.
pub const REMOVE_NODE_SCRIPT_PATH: &str = "/usr/local/sbin/k8s-remove-node.sh";
/// Placeholder for the node name in the kubeadm file, replaced by the script at boot.
pub const NODE_NAME_PLACEHOLDER: &str = "__NODE_NAME__";
/// Placeholder for the kubelet provider id (Alibaba Cloud), replaced at boot.
pub const PROVIDER_ID_PLACEHOLDER: &str = "__PROVIDER_ID__";
/// The Alibaba Cloud metadata service.
pub const ALIBABA_METADATA_URL: &str = "http://100.100.100.200/latest/meta-data";

const CA_CERT_PATH: &str = "/etc/kubernetes/pki/ca.crt";
const CA_KEY_PATH: &str = "/etc/kubernetes/pki/ca.key";

/// The role of a machine; each role gets its own user-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MachineRole {
    /// The master that runs `kubeadm init` and installs the CNI.
    FirstMaster,
    /// Another master of an HA control plane (`kubeadm join` with `controlPlane`).
    Master,
    /// A worker node (`kubeadm join`).
    Node,
}

impl MachineRole {
    /// `first-master`, `master` or `node`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MachineRole::FirstMaster => "first-master",
            MachineRole::Master => "master",
            MachineRole::Node => "node",
        }
    }

    fn is_master(&self) -> bool {
        !matches!(self, MachineRole::Node)
    }
}

/// The generated files of one role. The kubeadm file and the user-data carry secrets (the
/// token; on masters the CA key and certificate key), so they are [`Secret`]s.
#[derive(Debug, Clone)]
pub struct MachineUserData {
    /// The role.
    pub role: MachineRole,
    /// The kubeadm configuration (multi-document YAML).
    pub kubeadm_yaml: Secret,
    /// The bootstrap script (no secrets: they are in the files it reads).
    pub script: String,
    /// The cloud-init `#cloud-config` user-data.
    pub user_data: Secret,
}

/// Everything a cluster needs at creation and scale-in.
#[derive(Debug, Clone)]
pub struct ClusterBootstrap {
    /// User-data of the first master.
    pub first_master: MachineUserData,
    /// User-data of the other masters (HA only).
    pub other_masters: Option<MachineUserData>,
    /// User-data of the worker nodes.
    pub node: MachineUserData,
    /// The node-removal script (also written on every machine at
    /// [`REMOVE_NODE_SCRIPT_PATH`]).
    pub remove_node_script: String,
}

/// Renders every role of the cluster (validates the spec first).
pub fn render_cluster(
    spec: &ClusterSpec,
    secrets: &ClusterSecrets,
) -> Result<ClusterBootstrap, BootstrapError> {
    spec.validate()?;
    Ok(ClusterBootstrap {
        first_master: user_data(spec, secrets, MachineRole::FirstMaster)?,
        other_masters: if spec.control_plane.is_ha() {
            Some(user_data(spec, secrets, MachineRole::Master)?)
        } else {
            None
        },
        node: user_data(spec, secrets, MachineRole::Node)?,
        remove_node_script: remove_node_script(),
    })
}

fn version(spec: &ClusterSpec) -> Result<Version, BootstrapError> {
    spec.validate()?;
    spec.version().ok_or_else(|| BootstrapError::InvalidSpec {
        problems: vec![super::SpecProblem {
            field: "kubernetes_version".into(),
            message: "not v?MAJOR.MINOR.PATCH".into(),
        }],
    })
}

/// A Go duration (`24h0m0s`; `0s`).
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
}

fn node_registration(spec: &ClusterSpec) -> NodeRegistrationOptions {
    let mut kubelet_extra_args = Vec::new();
    match &spec.cloud_provider {
        CloudProvider::Alibaba { .. } => {
            kubelet_extra_args.push(Arg::new("cloud-provider", "external"));
            kubelet_extra_args.push(Arg::new("provider-id", PROVIDER_ID_PLACEHOLDER));
        }
        CloudProvider::OpenStack => {
            kubelet_extra_args.push(Arg::new("cloud-provider", "external"));
        }
        CloudProvider::None => {}
    }
    NodeRegistrationOptions {
        name: Some(NODE_NAME_PLACEHOLDER.into()),
        cri_socket: Some(spec.container_runtime.cri_socket().into()),
        kubelet_extra_args,
        ..Default::default()
    }
}

/// The kubeadm documents of `role`: `InitConfiguration` + `ClusterConfiguration` for the
/// first master, `JoinConfiguration` for the others. The node name (and the Alibaba provider
/// id) are placeholders the script fills in at boot.
pub fn kubeadm_documents(
    spec: &ClusterSpec,
    secrets: &ClusterSecrets,
    role: MachineRole,
) -> Result<Vec<KubeadmDocument>, BootstrapError> {
    let version = version(spec)?;
    let ha = spec.control_plane.is_ha();
    let endpoint = spec.control_plane.endpoint();
    match role {
        MachineRole::FirstMaster => {
            let local_api_endpoint = Some(LocalApiEndpoint {
                advertise_address: match &spec.control_plane {
                    ControlPlane::Single { address } => Some(address.clone()),
                    _ => None,
                },
                bind_port: Some(API_SERVER_PORT),
            });
            let init = InitConfiguration {
                api_version: ApiVersion::V1beta4,
                kind: InitKind::InitConfiguration,
                bootstrap_tokens: vec![BootstrapTokenEntry {
                    token: secrets.token.clone(),
                    description: Some(
                        "iac-k8s: joins the masters and nodes of this cluster".into(),
                    ),
                    ttl: Some(go_duration(spec.token_ttl)),
                    usages: vec!["signing".into(), "authentication".into()],
                    groups: vec!["system:bootstrappers:kubeadm:default-node-token".into()],
                }],
                node_registration: node_registration(spec),
                local_api_endpoint,
                certificate_key: ha.then(|| secrets.certificate_key.clone()),
                skip_phases: Vec::new(),
            };
            let cluster = ClusterConfiguration {
                api_version: ApiVersion::V1beta4,
                kind: ClusterKind::ClusterConfiguration,
                cluster_name: Some(spec.cluster_name.clone()),
                kubernetes_version: Some(version.to_string()),
                control_plane_endpoint: Some(endpoint),
                networking: Networking {
                    service_subnet: Some(spec.service_cidr.clone()),
                    pod_subnet: Some(spec.pod_cidr.clone()),
                    dns_domain: Some("cluster.local".into()),
                },
                api_server: Default::default(),
                controller_manager: ControlPlaneComponent::default(),
                scheduler: ControlPlaneComponent::default(),
                image_repository: Some(spec.image_repository.clone()),
                certificates_dir: Some("/etc/kubernetes/pki".into()),
                encryption_algorithm: None,
            };
            Ok(vec![
                KubeadmDocument::Init(init),
                KubeadmDocument::Cluster(cluster),
            ])
        }
        MachineRole::Master | MachineRole::Node => {
            if role == MachineRole::Master && !ha {
                return Err(BootstrapError::InvalidInput {
                    field: "role",
                    reason: "a single-master cluster has no other masters".into(),
                });
            }
            let join = JoinConfiguration {
                api_version: ApiVersion::V1beta4,
                kind: JoinKind::JoinConfiguration,
                node_registration: node_registration(spec),
                ca_cert_path: Some(CA_CERT_PATH.into()),
                discovery: Discovery {
                    bootstrap_token: BootstrapTokenDiscovery {
                        token: secrets.token.clone(),
                        api_server_endpoint: endpoint,
                        ca_cert_hashes: vec![secrets.ca.ca_cert_hash()],
                        unsafe_skip_ca_verification: None,
                    },
                    tls_bootstrap_token: None,
                },
                control_plane: (role == MachineRole::Master).then(|| JoinControlPlane {
                    local_api_endpoint: Some(LocalApiEndpoint {
                        advertise_address: None,
                        bind_port: Some(API_SERVER_PORT),
                    }),
                    certificate_key: Some(secrets.certificate_key.clone()),
                }),
                skip_phases: Vec::new(),
            };
            Ok(vec![KubeadmDocument::Join(join)])
        }
    }
}

/// The kubeadm file of `role` as multi-document YAML (a secret: it holds the token).
pub fn kubeadm_yaml(
    spec: &ClusterSpec,
    secrets: &ClusterSecrets,
    role: MachineRole,
) -> Result<Secret, BootstrapError> {
    Ok(Secret::new(to_multi_document_yaml(&kubeadm_documents(
        spec, secrets, role,
    )?)?))
}

/// Quotes `s` for bash (single quotes).
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The containerd configuration: CRI with runc under the systemd cgroup driver.
pub fn containerd_config(spec: &ClusterSpec) -> String {
    format!(
        r##"# containerd for Kubernetes, written by iac-k8s (merged over containerd's defaults).
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{repo}/pause:3.10"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"##,
        repo = spec.image_repository
    )
}

const MODULES_LOAD: &str = "overlay\nbr_netfilter\n";
const SYSCTL: &str = "net.bridge.bridge-nf-call-iptables = 1\n\
                      net.bridge.bridge-nf-call-ip6tables = 1\n\
                      net.ipv4.ip_forward = 1\n";

const SCRIPT_COMMON: &str = r##"mkdir -p /var/lib/iac-k8s
exec > >(tee -a /var/log/k8s-bootstrap.log) 2>&1
log() { echo "[k8s-bootstrap $(date -u +%FT%TZ)] $*"; }
log "start (role ${role})"

# 1. Swap off: the kubelet refuses to run with swap.
if [ -n "$(swapon --show --noheadings)" ]; then
  log "turning swap off"
  swapoff -a
fi
swap_line='^[^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap([[:space:]]|$)'
if grep -Eq "${swap_line}" /etc/fstab; then
  log "commenting swap out of /etc/fstab"
  sed -Ei "/${swap_line}/s/^/# /" /etc/fstab
fi

# 2. Kernel modules and sysctls (files written by cloud-init).
for module in overlay br_netfilter; do
  if ! grep -q "^${module} " /proc/modules; then
    log "loading kernel module ${module}"
    modprobe "${module}"
  fi
done
if [ "$(sysctl -n net.ipv4.ip_forward)" != 1 ] ||
  [ "$(sysctl -n net.bridge.bridge-nf-call-iptables)" != 1 ]; then
  log "applying sysctls"
  sysctl --system >/dev/null
fi

# 3. Packages (apt: Ubuntu/Debian).
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  if [ "${apt_updated}" = 0 ]; then
    apt-get update -q
    apt_updated=1
  fi
  apt-get install -y -q -o Dpkg::Options::=--force-confold "$@"
}
if ! command -v curl >/dev/null || ! command -v gpg >/dev/null ||
  ! command -v conntrack >/dev/null || ! command -v socat >/dev/null; then
  log "installing prerequisites"
  apt_install ca-certificates curl gpg conntrack socat
fi

# 4. containerd with SystemdCgroup = true.
if ! command -v containerd >/dev/null; then
  log "installing containerd"
  apt_install containerd
fi
if ! grep -q '^[[:space:]]*SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null; then
  log "writing a default containerd config with SystemdCgroup = true"
  mkdir -p /etc/containerd
  containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >/etc/containerd/config.toml
fi
containerd_stamp=/var/lib/iac-k8s/containerd-config.sha256
if ! sha256sum --status -c "${containerd_stamp}" 2>/dev/null ||
  ! systemctl is-active --quiet containerd; then
  log "restarting containerd"
  systemctl enable containerd
  systemctl restart containerd
  sha256sum /etc/containerd/config.toml >"${containerd_stamp}"
fi

# 5. kubeadm, kubelet and kubectl from pkgs.k8s.io, held at the cluster's version.
if ! dpkg-query -W -f='${Version}' kubeadm 2>/dev/null | grep -q "^${k8s_version}-"; then
  log "installing kubeadm, kubelet and kubectl ${k8s_version}"
  keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
  repo="https://pkgs.k8s.io/core:/stable:/${k8s_minor}/deb/"
  install -d -m 0755 /etc/apt/keyrings
  if [ ! -s "${keyring}" ]; then
    curl -fsSL --retry 5 "${repo}Release.key" | gpg --dearmor --batch --yes -o "${keyring}"
  fi
  echo "deb [signed-by=${keyring}] ${repo} /" >/etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  apt_updated=1
  pkg_version="$(apt-cache madison kubeadm |
    awk -v want="${k8s_version}-" 'index($3, want) == 1 && !found { print $3; found = 1 }')"
  if [ -z "${pkg_version}" ]; then
    log "kubeadm ${k8s_version} is not in ${repo}"
    exit 1
  fi
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt_install "kubelet=${pkg_version}" "kubeadm=${pkg_version}" "kubectl=${pkg_version}"
  apt-mark hold kubelet kubeadm kubectl
fi
if ! systemctl is-enabled --quiet kubelet; then
  systemctl enable kubelet
fi
"##;

const SCRIPT_NAME_FROM_HOSTNAME: &str = r##"
# 6. Node name = hostname (lower-case).
node_name="$(hostname -s | tr '[:upper:]' '[:lower:]')"
"##;

const SCRIPT_SET_NAME: &str = r##"if [ "$(hostname)" != "${node_name}" ]; then
  log "setting the hostname to ${node_name}"
  hostnamectl set-hostname "${node_name}"
fi
if grep -q "__NODE_NAME__" "${kubeadm_config}"; then
  sed -i "s/__NODE_NAME__/${node_name}/g" "${kubeadm_config}"
fi
"##;

const SCRIPT_INIT_WAIT: &str = r##"export KUBECONFIG=/etc/kubernetes/admin.conf
if [ ! -f /root/.kube/config ]; then
  install -d -m 0700 /root/.kube
  install -m 0600 /etc/kubernetes/admin.conf /root/.kube/config
fi
for attempt in $(seq 1 60); do
  if kubectl get --raw /readyz >/dev/null 2>&1; then
    break
  fi
  if [ "${attempt}" = 60 ]; then
    log "the API server is not ready after 5 minutes"
    exit 1
  fi
  sleep 5
done
"##;

const SCRIPT_JOIN: &str = r##"
# 7. Join (skipped when /etc/kubernetes/kubelet.conf exists).
if [ ! -f /etc/kubernetes/kubelet.conf ]; then
  # A readiness probe only (-k): the join itself pins the CA by its public-key hash.
  log "waiting for the API server at ${api_endpoint}"
  for attempt in $(seq 1 120); do
    if curl -ksf --max-time 5 "https://${api_endpoint}/readyz" >/dev/null; then
      break
    fi
    if [ "${attempt}" = 120 ]; then
      log "the API server at ${api_endpoint} is not ready after 20 minutes"
      exit 1
    fi
    sleep 10
  done
  for attempt in 1 2 3 4 5; do
    log "kubeadm join (attempt ${attempt})"
    if kubeadm join --config "${kubeadm_config}"; then
      break
    fi
    if [ "${attempt}" = 5 ]; then
      log "kubeadm join failed 5 times"
      exit 1
    fi
    kubeadm reset -f
    sleep 30
  done
else
  log "already joined (/etc/kubernetes/kubelet.conf exists)"
fi
"##;

/// The bootstrap script of `role` (bash, `set -euo pipefail`, idempotent).
pub fn bootstrap_script(spec: &ClusterSpec, role: MachineRole) -> Result<String, BootstrapError> {
    let version = version(spec)?;
    let ha = spec.control_plane.is_ha();
    let mut s = String::new();
    let _ = write!(
        s,
        "#!/bin/bash\n\
         # Kubernetes {version} {role} bootstrap (kubeadm), generated by iac-k8s.\n\
         # Safe to run again: every step checks before it acts. Log: /var/log/k8s-bootstrap.log\n\
         set -euo pipefail\n\n\
         role={role_q}\n\
         k8s_version={k8s_version}\n\
         k8s_minor={k8s_minor}\n\
         kubeadm_config={kubeadm_config}\n",
        role = role.as_str(),
        role_q = sh(role.as_str()),
        k8s_version = sh(&version.to_string()[1..]),
        k8s_minor = sh(&version.minor_tag()),
        kubeadm_config = sh(KUBEADM_CONFIG_PATH),
    );
    if role != MachineRole::FirstMaster {
        let _ = writeln!(s, "api_endpoint={}", sh(&spec.control_plane.endpoint()));
    }
    s.push_str(SCRIPT_COMMON);
    match &spec.cloud_provider {
        CloudProvider::Alibaba { region } => {
            let _ = write!(
                s,
                r##"
# 6. Node name = hostname = provider id = <region>.<instance-id> (the Alibaba Cloud
#    controller manager matches nodes by it).
instance_id="$(curl -fsS --retry 10 --retry-connrefused --max-time 5 {md}/instance-id)"
case "${{instance_id}}" in
  '' | *[!a-z0-9-]*)
    log "unexpected instance id from the metadata service"
    exit 1
    ;;
esac
node_name={region}."${{instance_id}}"
if grep -q "__PROVIDER_ID__" "${{kubeadm_config}}"; then
  sed -i "s/__PROVIDER_ID__/${{node_name}}/g" "${{kubeadm_config}}"
fi
"##,
                md = sh(ALIBABA_METADATA_URL),
                region = sh(region),
            );
        }
        CloudProvider::None | CloudProvider::OpenStack => s.push_str(SCRIPT_NAME_FROM_HOSTNAME),
    }
    s.push_str(SCRIPT_SET_NAME);
    match role {
        MachineRole::FirstMaster => {
            s.push_str(
                "\n# 7. kubeadm init (skipped when /etc/kubernetes/admin.conf exists).\n\
                 if [ ! -f /etc/kubernetes/admin.conf ]; then\n  log \"kubeadm init\"\n",
            );
            if ha {
                s.push_str(
                    "  kubeadm init --config \"${kubeadm_config}\" --upload-certs\nelse\n  \
                     log \"already initialised; uploading the control-plane certificates again (they expire after 2 h)\"\n  \
                     kubeadm init phase upload-certs --upload-certs --config \"${kubeadm_config}\"\nfi\n",
                );
            } else {
                s.push_str(
                    "  kubeadm init --config \"${kubeadm_config}\"\nelse\n  \
                     log \"already initialised (/etc/kubernetes/admin.conf exists)\"\nfi\n",
                );
            }
            s.push_str(SCRIPT_INIT_WAIT);
            s.push_str(&cni_section(spec));
        }
        MachineRole::Master | MachineRole::Node => s.push_str(SCRIPT_JOIN),
    }
    s.push_str("log \"done\"\n");
    Ok(s)
}

fn cni_section(spec: &ClusterSpec) -> String {
    let url = sh(&spec.cni.manifest_url);
    let pod = &spec.pod_cidr;
    let (name, check, patch, verify) = match spec.cni.plugin {
        CniPlugin::Flannel => (
            "flannel",
            "kubectl -n kube-flannel get daemonset kube-flannel-ds",
            format!(
                r##"sed -Ei 's#"Network": "[0-9./]+"#"Network": "{pod}"#' "${{cni_manifest}}.tmp""##
            ),
            format!(r##"grep -q '"Network": "{pod}"' "${{cni_manifest}}.tmp""##),
        ),
        CniPlugin::Calico => (
            "calico",
            "kubectl -n kube-system get daemonset calico-node",
            format!(
                r##"sed -Ei -e 's|^([[:space:]]*)# (- name: CALICO_IPV4POOL_CIDR)$|\1\2|' \
    -e 's|^([[:space:]]*)#   (value: )"192\.168\.0\.0/16"$|\1  \2"{pod}"|' "${{cni_manifest}}.tmp""##
            ),
            format!(r##"grep -q 'value: "{pod}"' "${{cni_manifest}}.tmp""##),
        ),
    };
    format!(
        r##"
# 8. CNI: {name} {version}, pod network {pod} (skipped when its DaemonSet exists).
cni_manifest=/etc/kubernetes/cni-{name}.yaml
if ! {check} >/dev/null 2>&1; then
  log "installing {name} {version}"
  curl -fsSL --retry 5 -o "${{cni_manifest}}.tmp" {url}
  {patch}
  if ! {verify}; then
    log "could not set the pod network {pod} in the {name} manifest"
    exit 1
  fi
  mv "${{cni_manifest}}.tmp" "${{cni_manifest}}"
  kubectl apply -f "${{cni_manifest}}"
fi
"##,
        version = spec.cni.version,
    )
}

/// The scale-in script: on a master `k8s-remove-node.sh NODE` drains and deletes the node;
/// on the machine being removed `k8s-remove-node.sh --reset` runs `kubeadm reset -f`.
pub fn remove_node_script() -> String {
    r##"#!/bin/bash
# Kubernetes scale-in helper, generated by iac-k8s. Safe to run again.
#   k8s-remove-node.sh NODE     on a master: cordon and drain NODE, then delete it
#   k8s-remove-node.sh --reset  on the machine being removed: kubeadm reset -f
set -euo pipefail

usage() {
  echo "usage: k8s-remove-node.sh NODE | --reset" >&2
  exit 2
}

if [ "$#" -ne 1 ]; then
  usage
fi

case "$1" in
  --reset)
    if [ -f /etc/kubernetes/kubelet.conf ] || [ -d /etc/kubernetes/manifests ]; then
      kubeadm reset -f
    else
      echo "kubeadm state already removed"
    fi
    # kubeadm reset leaves the CNI configuration behind.
    rm -rf /etc/cni/net.d
    ;;
  -*)
    usage
    ;;
  *[!a-z0-9.-]*)
    echo "not a node name: $1" >&2
    exit 2
    ;;
  *)
    node="$1"
    export KUBECONFIG="${KUBECONFIG:-/etc/kubernetes/admin.conf}"
    if kubectl get node "${node}" >/dev/null 2>&1; then
      kubectl drain "${node}" --ignore-daemonsets --delete-emptydir-data --force --timeout=300s
      kubectl delete node "${node}"
    else
      echo "node ${node} is not in the cluster: nothing to do"
    fi
    ;;
esac
"##
    .to_string()
}

#[derive(Serialize)]
struct CloudConfig {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    preserve_hostname: bool,
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct WriteFile {
    path: &'static str,
    owner: &'static str,
    permissions: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    content: String,
}

fn file(path: &'static str, permissions: &'static str, content: String) -> WriteFile {
    WriteFile {
        path,
        owner: "root:root",
        permissions,
        encoding: None,
        content,
    }
}

fn b64_file(path: &'static str, permissions: &'static str, content: &str) -> WriteFile {
    WriteFile {
        path,
        owner: "root:root",
        permissions,
        encoding: Some("b64"),
        content: base64::engine::general_purpose::STANDARD.encode(content),
    }
}

/// The kubeadm file, script and `#cloud-config` user-data of `role`.
pub fn user_data(
    spec: &ClusterSpec,
    secrets: &ClusterSecrets,
    role: MachineRole,
) -> Result<MachineUserData, BootstrapError> {
    let kubeadm = kubeadm_yaml(spec, secrets, role)?;
    let script = bootstrap_script(spec, role)?;
    let mut write_files = vec![
        file("/etc/modules-load.d/k8s.conf", "0644", MODULES_LOAD.into()),
        file("/etc/sysctl.d/99-kubernetes.conf", "0644", SYSCTL.into()),
        file(
            "/etc/containerd/config.toml",
            "0644",
            containerd_config(spec),
        ),
        file(KUBEADM_CONFIG_PATH, "0600", kubeadm.expose().to_string()),
    ];
    if role.is_master() {
        write_files.push(b64_file(CA_CERT_PATH, "0600", secrets.ca.cert_pem()));
        write_files.push(b64_file(CA_KEY_PATH, "0600", secrets.ca.key_pem().expose()));
    }
    write_files.push(file(BOOTSTRAP_SCRIPT_PATH, "0700", script.clone()));
    write_files.push(file(REMOVE_NODE_SCRIPT_PATH, "0700", remove_node_script()));
    let config = CloudConfig {
        preserve_hostname: matches!(spec.cloud_provider, CloudProvider::Alibaba { .. }),
        write_files,
        runcmd: vec![vec![BOOTSTRAP_SCRIPT_PATH.to_string()]],
    };
    let yaml = serde_yaml::to_string(&config).map_err(|e| BootstrapError::Render {
        what: "cloud-config user-data",
        source: Box::new(e),
    })?;
    Ok(MachineUserData {
        role,
        kubeadm_yaml: kubeadm,
        script,
        user_data: Secret::new(format!("#cloud-config\n{yaml}")),
    })
}
