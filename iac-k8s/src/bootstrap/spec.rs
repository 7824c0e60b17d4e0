//! The cluster spec: what the user asks for, and its validation.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::error::{BootstrapError, SpecProblem};

/// Default pod CIDR (the Alibaba Cloud controller manager's example value).
pub const DEFAULT_POD_CIDR: &str = "172.16.0.0/16";
/// Default service CIDR (the Alibaba Cloud controller manager's example value).
pub const DEFAULT_SERVICE_CIDR: &str = "172.19.0.0/20";
/// Default image repository of kubeadm.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";
/// The API server port.
pub const API_SERVER_PORT: u16 = 6443;
/// The size of the pod CIDR the controller manager gives each node (kubeadm default `/24`).
pub const NODE_POD_CIDR_PREFIX: u8 = 24;

/// Everything needed to generate a kubeadm cluster.
///
/// Build it with [`ClusterSpec::new`] and the `with_*` methods, then check it with
/// [`ClusterSpec::validate`] (the renderers validate again and refuse a bad spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// kubeadm `clusterName` (a DNS label, default `kubernetes`).
    pub cluster_name: String,
    /// Kubernetes version, `v?MAJOR.MINOR.PATCH` (e.g. `v1.33.2`); v1.31 or later
    /// (`kubeadm.k8s.io/v1beta4`).
    pub kubernetes_version: String,
    /// The VPC (or host network) CIDR the machines live in; pod and service CIDRs must not
    /// overlap it, and the firewall rules admit cluster traffic from it.
    pub vpc_cidr: String,
    /// Pod CIDR (kubeadm `networking.podSubnet`, the CNI's pool).
    pub pod_cidr: String,
    /// Service CIDR (kubeadm `networking.serviceSubnet`).
    pub service_cidr: String,
    /// Where the API server is reached.
    pub control_plane: ControlPlane,
    /// Number of worker nodes (informative for capacity checks; every node gets the same
    /// user-data).
    pub node_count: u32,
    /// Container runtime (containerd only).
    pub container_runtime: ContainerRuntime,
    /// Registry for the control-plane images (`registry.k8s.io`; on Alibaba Cloud
    /// `registry-vpc.<region>.aliyuncs.com/acs` is an option, see
    /// [`CloudProvider::alibaba_image_repository`]).
    pub image_repository: String,
    /// The cloud the machines run on.
    pub cloud_provider: CloudProvider,
    /// The pod network add-on.
    pub cni: Cni,
    /// How long the bootstrap token stays valid (kubeadm default 24 h; zero = never
    /// expires, which lets nodes join long after creation at the cost of a long-lived
    /// credential).
    pub token_ttl: Duration,
    /// Source CIDR for the NodePort range in [`super::cluster_firewall_rules`] (default: the
    /// VPC CIDR; a load balancer that keeps client addresses needs `0.0.0.0/0`).
    pub node_port_source_cidr: Option<String>,
}

/// Where the API server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlPlane {
    /// One master, reached at its own (private) address on port 6443.
    Single {
        /// The master's IPv4 address (it must lie in the VPC CIDR).
        address: String,
    },
    /// Several masters behind a load balancer (stacked etcd).
    HighlyAvailable {
        /// The load balancer's IPv4 address or DNS name.
        endpoint: String,
        /// The load balancer's port (normally 6443).
        port: u16,
        /// Number of masters: odd and at least 3 (etcd quorum).
        masters: u32,
        /// Source CIDR of the load balancer's traffic when it is not in the VPC CIDR
        /// (adds an API-server rule for it).
        load_balancer_cidr: Option<String>,
    },
}

impl ControlPlane {
    /// A single master at `address`.
    pub fn single(address: impl Into<String>) -> Self {
        ControlPlane::Single {
            address: address.into(),
        }
    }

    /// `masters` masters behind a load balancer at `endpoint:6443`.
    pub fn highly_available(endpoint: impl Into<String>, masters: u32) -> Self {
        ControlPlane::HighlyAvailable {
            endpoint: endpoint.into(),
            port: API_SERVER_PORT,
            masters,
            load_balancer_cidr: None,
        }
    }

    /// True for several masters.
    pub fn is_ha(&self) -> bool {
        matches!(self, ControlPlane::HighlyAvailable { .. })
    }

    /// Number of masters.
    pub fn master_count(&self) -> u32 {
        match self {
            ControlPlane::Single { .. } => 1,
            ControlPlane::HighlyAvailable { masters, .. } => *masters,
        }
    }

    /// `host:port` for kubeadm `controlPlaneEndpoint` and the join discovery.
    pub fn endpoint(&self) -> String {
        match self {
            ControlPlane::Single { address } => format!("{address}:{API_SERVER_PORT}"),
            ControlPlane::HighlyAvailable { endpoint, port, .. } => format!("{endpoint}:{port}"),
        }
    }
}

/// The container runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContainerRuntime {
    /// containerd with the systemd cgroup driver.
    #[default]
    Containerd,
}

impl ContainerRuntime {
    /// The CRI socket kubeadm and the kubelet use.
    pub fn cri_socket(&self) -> &'static str {
        match self {
            ContainerRuntime::Containerd => "unix:///var/run/containerd/containerd.sock",
        }
    }
}

/// The cloud the machines run on; decides the kubelet's cloud flags and the node name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CloudProvider {
    /// No cloud integration: the node name is the machine's hostname (lower-cased).
    #[default]
    None,
    /// Alibaba Cloud: kubelet `--cloud-provider=external`,
    /// `--provider-id=<region>.<instance-id>`, and the hostname (= node name) set to the same
    /// value, as the Alibaba Cloud controller manager matches nodes by it. The instance id is
    /// read at boot from `http://100.100.100.200/latest/meta-data/instance-id`.
    Alibaba {
        /// Region id, e.g. `cn-hangzhou`.
        region: String,
    },
    /// OpenStack: kubelet `--cloud-provider=external`; the node name is the hostname
    /// cloud-init sets from the instance name (what the OpenStack controller manager
    /// matches), and the controller manager fills in the provider id.
    OpenStack,
}

impl CloudProvider {
    /// The Alibaba Cloud VPC mirror of the control-plane images for `region`.
    pub fn alibaba_image_repository(region: &str) -> String {
        format!("registry-vpc.{region}.aliyuncs.com/acs")
    }

    /// True when the kubelet runs with `--cloud-provider=external`.
    pub fn is_external(&self) -> bool {
        !matches!(self, CloudProvider::None)
    }
}

/// Which pod network add-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CniPlugin {
    /// flannel (VXLAN, udp 8472); its `net-conf.json` network is set to the pod CIDR.
    Flannel,
    /// Calico (BGP tcp 179, IP-in-IP); `CALICO_IPV4POOL_CIDR` is set to the pod CIDR.
    Calico,
}

/// The pod network add-on: plugin, version and the manifest applied on the first master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cni {
    /// The plugin.
    pub plugin: CniPlugin,
    /// Its version (`v?MAJOR.MINOR.PATCH`).
    pub version: String,
    /// The manifest URL (https) applied with `kubectl apply`.
    pub manifest_url: String,
}

impl Cni {
    /// flannel `version` from its GitHub release manifest.
    pub fn flannel(version: &str) -> Self {
        let v = with_v(version);
        Cni {
            plugin: CniPlugin::Flannel,
            version: v.clone(),
            manifest_url: format!(
                "https://github.com/flannel-io/flannel/releases/download/{v}/kube-flannel.yml"
            ),
        }
    }

    /// Calico `version` from its release manifest.
    pub fn calico(version: &str) -> Self {
        let v = with_v(version);
        Cni {
            plugin: CniPlugin::Calico,
            version: v.clone(),
            manifest_url: format!(
                "https://raw.githubusercontent.com/projectcalico/calico/{v}/manifests/calico.yaml"
            ),
        }
    }

    /// The same plugin from another manifest URL (a mirror).
    pub fn with_manifest_url(mut self, url: impl Into<String>) -> Self {
        self.manifest_url = url.into();
        self
    }
}

impl Default for Cni {
    fn default() -> Self {
        Cni::flannel("v0.26.7")
    }
}

fn with_v(version: &str) -> String {
    if version.starts_with('v') {
        version.to_string()
    } else {
        format!("v{version}")
    }
}

impl ClusterSpec {
    /// A spec with the defaults: cluster name `kubernetes`, pod CIDR 172.16.0.0/16, service
    /// CIDR 172.19.0.0/20, containerd, `registry.k8s.io`, no cloud provider, flannel,
    /// 24 h token.
    pub fn new(
        kubernetes_version: impl Into<String>,
        vpc_cidr: impl Into<String>,
        control_plane: ControlPlane,
        node_count: u32,
    ) -> Self {
        ClusterSpec {
            cluster_name: "kubernetes".into(),
            kubernetes_version: kubernetes_version.into(),
            vpc_cidr: vpc_cidr.into(),
            pod_cidr: DEFAULT_POD_CIDR.into(),
            service_cidr: DEFAULT_SERVICE_CIDR.into(),
            control_plane,
            node_count,
            container_runtime: ContainerRuntime::Containerd,
            image_repository: DEFAULT_IMAGE_REPOSITORY.into(),
            cloud_provider: CloudProvider::None,
            cni: Cni::default(),
            token_ttl: Duration::from_secs(24 * 3600),
            node_port_source_cidr: None,
        }
    }

    /// Sets the pod and service CIDRs.
    pub fn with_cidrs(
        mut self,
        pod_cidr: impl Into<String>,
        service_cidr: impl Into<String>,
    ) -> Self {
        self.pod_cidr = pod_cidr.into();
        self.service_cidr = service_cidr.into();
        self
    }

    /// Sets the cloud provider.
    pub fn with_cloud_provider(mut self, provider: CloudProvider) -> Self {
        self.cloud_provider = provider;
        self
    }

    /// Sets the image repository.
    pub fn with_image_repository(mut self, repository: impl Into<String>) -> Self {
        self.image_repository = repository.into();
        self
    }

    /// Sets the CNI.
    pub fn with_cni(mut self, cni: Cni) -> Self {
        self.cni = cni;
        self
    }

    /// Sets the cluster name.
    pub fn with_cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = name.into();
        self
    }

    /// Sets the bootstrap token lifetime (zero: never expires).
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Sets the source CIDR of the NodePort firewall rules.
    pub fn with_node_port_source_cidr(mut self, cidr: impl Into<String>) -> Self {
        self.node_port_source_cidr = Some(cidr.into());
        self
    }

    /// The version as `(major, minor, patch)`, if it parses.
    pub fn version(&self) -> Option<Version> {
        Version::parse(&self.kubernetes_version)
    }

    /// Every problem of the spec, each naming its field; empty when the spec is usable.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut p = Vec::new();
        let mut push = |field: &str, message: String| {
            p.push(SpecProblem {
                field: field.to_string(),
                message,
            })
        };

        if !is_dns_label(&self.cluster_name) {
            push(
                "cluster_name",
                "must be a DNS label (lower-case letters, digits, '-', at most 63)".into(),
            );
        }
        match Version::parse(&self.kubernetes_version) {
            None => push(
                "kubernetes_version",
                format!(
                    "{:?} is not v?MAJOR.MINOR.PATCH",
                    truncate(&self.kubernetes_version)
                ),
            ),
            Some(v) if v.major != 1 || v.minor < 31 => push(
                "kubernetes_version",
                format!("{v}: kubeadm.k8s.io/v1beta4 needs v1.31 or later (1.x)"),
            ),
            Some(_) => {}
        }

        let vpc = check_cidr("vpc_cidr", &self.vpc_cidr, &mut push);
        let pod = check_cidr("pod_cidr", &self.pod_cidr, &mut push);
        let svc = check_cidr("service_cidr", &self.service_cidr, &mut push);
        if let (Some(a), Some(b)) = (pod, svc)
            && a.overlaps(&b)
        {
            push("pod_cidr", format!("{a} overlaps service_cidr {b}"));
        }
        if let (Some(a), Some(v)) = (pod, vpc)
            && a.overlaps(&v)
        {
            push("pod_cidr", format!("{a} overlaps vpc_cidr {v}"));
        }
        if let (Some(s), Some(v)) = (svc, vpc)
            && s.overlaps(&v)
        {
            push("service_cidr", format!("{s} overlaps vpc_cidr {v}"));
        }
        if let Some(s) = svc
            && s.prefix < 12
        {
            push(
                "service_cidr",
                format!("{s} is larger than /12 (the API server's limit)"),
            );
        }
        if let Some(a) = pod {
            if a.prefix > NODE_POD_CIDR_PREFIX {
                push(
                    "pod_cidr",
                    format!("{a} is smaller than one node's /{NODE_POD_CIDR_PREFIX}"),
                );
            } else {
                let capacity = 1u64 << (NODE_POD_CIDR_PREFIX - a.prefix);
                let machines =
                    u64::from(self.node_count) + u64::from(self.control_plane.master_count());
                if machines > capacity {
                    push(
                        "pod_cidr",
                        format!(
                            "{a} has room for {capacity} machines (/{NODE_POD_CIDR_PREFIX} each), {machines} asked"
                        ),
                    );
                }
            }
        }
        if let Some(src) = &self.node_port_source_cidr {
            check_cidr("node_port_source_cidr", src, &mut push);
        }

        match &self.control_plane {
            ControlPlane::Single { address } => match address.parse::<Ipv4Addr>() {
                Err(_) => push(
                    "control_plane.address",
                    format!("{:?} is not an IPv4 address", truncate(address)),
                ),
                Ok(ip) => {
                    if let Some(v) = vpc
                        && !v.contains(ip)
                    {
                        push(
                            "control_plane.address",
                            format!("{ip} is outside vpc_cidr {v}"),
                        );
                    }
                }
            },
            ControlPlane::HighlyAvailable {
                endpoint,
                port,
                masters,
                load_balancer_cidr,
            } => {
                if endpoint.parse::<Ipv4Addr>().is_err() && !is_dns_name(endpoint) {
                    push(
                        "control_plane.endpoint",
                        format!(
                            "{:?} is neither an IPv4 address nor a DNS name",
                            truncate(endpoint)
                        ),
                    );
                }
                if *port == 0 {
                    push("control_plane.port", "must be 1-65535".into());
                }
                if *masters < 3 || masters % 2 == 0 {
                    push(
                        "control_plane.masters",
                        format!(
                            "{masters}: an HA control plane needs an odd number >= 3 (etcd quorum)"
                        ),
                    );
                }
                if let Some(lb) = load_balancer_cidr {
                    check_cidr("control_plane.load_balancer_cidr", lb, &mut push);
                }
            }
        }

        if self.image_repository.is_empty()
            || self.image_repository.contains("://")
            || !self
                .image_repository
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
        {
            push(
                "image_repository",
                format!(
                    "{:?} is not a registry path like registry.k8s.io (no scheme)",
                    truncate(&self.image_repository)
                ),
            );
        }

        if let CloudProvider::Alibaba { region } = &self.cloud_provider
            && !is_region(region)
        {
            push(
                "cloud_provider.region",
                format!("{:?} is not a region id like cn-hangzhou", truncate(region)),
            );
        }

        if Version::parse(&self.cni.version).is_none() {
            push(
                "cni.version",
                format!(
                    "{:?} is not v?MAJOR.MINOR.PATCH",
                    truncate(&self.cni.version)
                ),
            );
        }
        if !self.cni.manifest_url.starts_with("https://")
            || !self
                .cni
                .manifest_url
                .chars()
                .all(|c| c.is_ascii_graphic() && !"'\"`$\\".contains(c))
        {
            push(
                "cni.manifest_url",
                "must be an https URL without quotes, '$', '\\' or spaces".into(),
            );
        }
        p
    }

    /// Checks the spec; the error lists every problem with its field.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BootstrapError::InvalidSpec { problems })
        }
    }
}

/// A Kubernetes version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl Version {
    /// Parses `v?MAJOR.MINOR.PATCH` (digits only, no suffix).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts = s.split('.');
        let mut num = || -> Option<u32> {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let v = Version {
            major: num()?,
            minor: num()?,
            patch: num()?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(v)
    }

    /// `v1.33` (the pkgs.k8s.io repository name).
    pub fn minor_tag(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The network address (host bits zero).
    pub address: Ipv4Addr,
    /// The prefix length, 0-32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n` with the host bits zero.
    pub fn parse(s: &str) -> Result<Ipv4Cidr, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{:?} is not an IPv4 CIDR a.b.c.d/n", truncate(s)))?;
        let address: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{:?} is not an IPv4 CIDR a.b.c.d/n", truncate(s)))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{:?}: the prefix must be 0-32", truncate(s)))?;
        let cidr = Ipv4Cidr { address, prefix };
        if u32::from(address) & !cidr.mask() != 0 {
            return Err(format!(
                "{s}: host bits are set (the network is {}/{prefix})",
                Ipv4Addr::from(u32::from(address) & cidr.mask())
            ));
        }
        Ok(cidr)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// True when `ip` is in the block.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.address)
    }

    /// True when the two blocks share an address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        let mask = self.mask() & other.mask();
        u32::from(self.address) & mask == u32::from(other.address) & mask
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

fn check_cidr(field: &str, value: &str, push: &mut impl FnMut(&str, String)) -> Option<Ipv4Cidr> {
    match Ipv4Cidr::parse(value) {
        Ok(c) => Some(c),
        Err(e) => {
            push(field, e);
            None
        }
    }
}

/// Shortens user input quoted in an error message.
fn truncate(s: &str) -> String {
    if s.chars().count() > 64 {
        let mut t: String = s.chars().take(64).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_region(s: &str) -> bool {
    is_dns_label(s) && s.contains('-') && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}
