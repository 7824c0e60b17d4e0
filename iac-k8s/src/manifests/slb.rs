//! `LoadBalancer` Services for Alibaba Cloud SLB, configured by the annotations the cloud
//! controller manager reads.
//!
//! Every annotation is `service.beta.kubernetes.io/alibaba-cloud-loadbalancer-<suffix>`
//! ([`ANNOTATION_PREFIX`]); [`SlbOptions`] has one typed field per suffix (the snake_case of
//! the suffix), rendered to the value format the controller expects: flags as `on`/`off`
//! (`force-override-listeners` as `true`/`false`), lists comma-separated
//! (`"https:443,http:80"`, `"k1=v1,k2=v2"`), integers in decimal. Unset options are not
//! rendered, so the controller's defaults apply.
//!
//! [`LoadBalancerService::build`] rejects values out of the documented ranges and
//! combinations that cannot work, each error naming the option (see its doc).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ManifestError, check_dns1035_label, check_dns1123_label};

/// The prefix of every SLB annotation.
pub const ANNOTATION_PREFIX: &str = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";

/// The annotation that picks the backend type (`eni` or `ecs`); it has no SLB prefix.
pub const BACKEND_TYPE_ANNOTATION: &str = "service.beta.kubernetes.io/backend-type";

/// The lowest bandwidth accepted, in Mbit/s.
pub const MIN_BANDWIDTH: u32 = 1;
/// The highest bandwidth accepted, in Mbit/s (the CLB API's limit for pay-by-bandwidth).
pub const MAX_BANDWIDTH: u32 = 5120;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// The value as the controller reads it.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Whether the SLB has a public (`internet`) or a VPC-internal (`intranet`) address.
    AddressType {
        /// A public address (the default).
        Internet => "internet",
        /// An address inside the VPC.
        Intranet => "intranet",
    }
);

wire_enum!(
    /// How public traffic is billed.
    ChargeType {
        /// By traffic (the default).
        PayByTraffic => "paybytraffic",
        /// By bandwidth (then [`SlbOptions::bandwidth`] applies).
        PayByBandwidth => "paybybandwidth",
    }
);

wire_enum!(
    /// How the instance itself is billed.
    InstanceChargeType {
        /// By specification ([`SlbOptions::spec`]).
        PayBySpec => "PayBySpec",
        /// By capacity units.
        PayByClcu => "PayByCLCU",
    }
);

wire_enum!(
    /// The network of the SLB.
    NetworkType {
        /// The classic network (the documented default).
        Classic => "classic",
        /// A VPC.
        Vpc => "vpc",
    }
);

wire_enum!(
    /// The IP version of the SLB address.
    IpVersion {
        /// IPv4 (the default).
        Ipv4 => "ipv4",
        /// IPv6.
        Ipv6 => "ipv6",
    }
);

wire_enum!(
    /// The kind of external IP.
    ExternalIpType {
        /// An elastic IP address.
        Eip => "eip",
    }
);

wire_enum!(
    /// Whether the SLB can be changed in the console.
    ModificationProtection {
        /// Changes in the console are refused (the default).
        ConsoleProtection => "ConsoleProtection",
        /// No protection.
        NonProtection => "NonProtection",
    }
);

wire_enum!(
    /// How backends are picked.
    Scheduler {
        /// Weighted round robin.
        Wrr => "wrr",
        /// Weighted least connections.
        Wlc => "wlc",
        /// Round robin (the default).
        Rr => "rr",
    }
);

wire_enum!(
    /// How a sticky session's cookie is handled (HTTP/HTTPS listeners).
    StickySessionType {
        /// The SLB inserts its cookie (needs [`SlbOptions::cookie_timeout`]).
        Insert => "insert",
        /// The backend sets the cookie (needs [`SlbOptions::cookie`]).
        Server => "server",
    }
);

wire_enum!(
    /// The health check of a TCP listener.
    HealthCheckType {
        /// A TCP connection (the default).
        Tcp => "tcp",
        /// An HTTP request (needs [`SlbOptions::health_check_uri`]).
        Http => "http",
    }
);

wire_enum!(
    /// The HTTP method of a health check.
    HealthCheckMethod {
        /// `GET`.
        Get => "get",
        /// `HEAD`.
        Head => "head",
    }
);

wire_enum!(
    /// An HTTP status class that counts as healthy.
    HttpCode {
        /// 2xx (the default).
        Http2xx => "http_2xx",
        /// 3xx.
        Http3xx => "http_3xx",
        /// 4xx.
        Http4xx => "http_4xx",
        /// 5xx.
        Http5xx => "http_5xx",
    }
);

wire_enum!(
    /// Whether an access control list allows or denies.
    AclType {
        /// Only the listed addresses may connect.
        White => "white",
        /// The listed addresses may not connect.
        Black => "black",
    }
);

wire_enum!(
    /// The IP version of the backends.
    BackendIpVersion {
        /// IPv4.
        Ipv4 => "ipv4",
        /// IPv6.
        Ipv6 => "ipv6",
        /// Both.
        Dualstack => "dualstack",
    }
);

wire_enum!(
    /// The backends of the SLB (`service.beta.kubernetes.io/backend-type`).
    BackendType {
        /// Pods by their elastic network interfaces.
        Eni => "eni",
        /// The nodes (ECS instances).
        Ecs => "ecs",
    }
);

wire_enum!(
    /// The Service's `externalTrafficPolicy`.
    ExternalTrafficPolicy {
        /// Only nodes with a local endpoint receive traffic; keeps the client address.
        Local => "Local",
        /// Every node receives traffic (the default).
        Cluster => "Cluster",
    }
);

wire_enum!(
    /// The protocol of a listener in [`SlbOptions::protocol_port`].
    ListenerProtocol {
        /// HTTPS (needs [`SlbOptions::cert_id`]).
        Https => "https",
        /// HTTP.
        Http => "http",
    }
);

wire_enum!(
    /// The type of an NLB server group.
    ServerGroupType {
        /// Backends by IP.
        Ip => "Ip",
        /// Backends by instance.
        Instance => "Instance",
    }
);

wire_enum!(
    /// The protocol of a Service port.
    PortProtocol {
        /// TCP.
        Tcp => "TCP",
        /// UDP.
        Udp => "UDP",
    }
);

/// `health-check-connect-port`: the backend's own port, or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthCheckConnectPort {
    /// The backend port of the listener (rendered `-520`).
    BackendPort,
    /// A fixed port, 1–65535.
    Port(u16),
}

/// The port a Service port forwards to: a number or the name of a container port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetPort {
    /// A port number, 1–65535.
    Number(u16),
    /// A named container port.
    Name(String),
}

impl From<u16> for TargetPort {
    fn from(n: u16) -> Self {
        TargetPort::Number(n)
    }
}

impl From<&str> for TargetPort {
    fn from(s: &str) -> Self {
        TargetPort::Name(s.to_owned())
    }
}

/// One port of the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port name; defaults to `<protocol>-<port>` (`tcp-80`).
    pub name: Option<String>,
    /// The port the SLB listens on, 1–65535.
    pub port: u16,
    /// The port on the pods.
    pub target_port: TargetPort,
    /// TCP or UDP.
    pub protocol: PortProtocol,
}

/// One typed field per SLB annotation suffix. `None` or empty: not rendered.
///
/// Field names are the snake_case of the suffixes; the doc of each gives the suffix, the
/// values and the controller's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlbOptions {
    /// `address-type`: internet (default) or intranet.
    pub address_type: Option<AddressType>,
    /// `id`: reuse an existing CLB; its listeners are kept unless `force_override_listeners`;
    /// it is not deleted with the Service.
    pub id: Option<String>,
    /// `force-override-listeners` (`true`/`false`, default false): replace the listeners of
    /// the existing SLB given by `id`.
    pub force_override_listeners: Option<bool>,
    /// `name`: the SLB's name.
    pub name: Option<String>,
    /// `resource-group-id`.
    pub resource_group_id: Option<String>,
    /// `ip`: the address to ask for.
    pub ip: Option<String>,
    /// `hostname`: copied to `status.loadBalancer.ingress[].hostname`.
    pub hostname: Option<String>,
    /// `spec` (`slb.s1.small` …, default slb.s1.small).
    pub spec: Option<String>,
    /// `charge-type` (default paybytraffic).
    pub charge_type: Option<ChargeType>,
    /// `bandwidth` in Mbit/s, [`MIN_BANDWIDTH`]–[`MAX_BANDWIDTH`] (default 50); needs
    /// `charge_type` paybybandwidth.
    pub bandwidth: Option<u32>,
    /// `instance-charge-type`.
    pub instance_charge_type: Option<InstanceChargeType>,
    /// `network-type` (the doc's `slb-network-type`; default classic).
    pub network_type: Option<NetworkType>,
    /// `vswitch-id`: needs `address_type` intranet.
    pub vswitch_id: Option<String>,
    /// `master-zoneid`.
    pub master_zone_id: Option<String>,
    /// `slave-zoneid`: needs `master_zone_id`, and a different zone.
    pub slave_zone_id: Option<String>,
    /// `ip-version` (default ipv4).
    pub ip_version: Option<IpVersion>,
    /// `external-ip-type`.
    pub external_ip_type: Option<ExternalIpType>,
    /// `additional-resource-tags`: `(key, value)` pairs rendered `"k1=v1,k2=v2"`.
    pub additional_resource_tags: Vec<(String, String)>,
    /// `delete-protection` flag (default on).
    pub delete_protection: Option<bool>,
    /// `modification-protection` (default ConsoleProtection).
    pub modification_protection: Option<ModificationProtection>,
    /// `preserve-lb-on-delete`: `true` keeps the SLB when the Service is deleted.
    pub preserve_lb_on_delete: bool,
    /// `protocol-port`: HTTP/HTTPS listeners on Service ports, rendered `"https:443,http:80"`.
    pub protocol_port: Vec<(ListenerProtocol, u16)>,
    /// `cert-id`: the server certificate of the HTTPS listeners (needed by any).
    pub cert_id: Option<String>,
    /// `tls-cipher-policy` (HTTPS).
    pub tls_cipher_policy: Option<String>,
    /// `forward-port`: `(http port, https port)` pairs, rendered `"80:443"`.
    pub forward_port: Vec<(u16, u16)>,
    /// `scheduler` (default rr).
    pub scheduler: Option<Scheduler>,
    /// `persistence-timeout`, 0–3600 s (TCP; default 0).
    pub persistence_timeout: Option<u32>,
    /// `sticky-session` flag (HTTP/HTTPS; default off); on needs `sticky_session_type`.
    pub sticky_session: Option<bool>,
    /// `sticky-session-type`.
    pub sticky_session_type: Option<StickySessionType>,
    /// `cookie-timeout`, 1–86400 s (for `insert`).
    pub cookie_timeout: Option<u32>,
    /// `cookie`, 1–200 characters (for `server`).
    pub cookie: Option<String>,
    /// `health-check-flag` (HTTP/HTTPS; default off).
    pub health_check_flag: Option<bool>,
    /// `health-check-switch` (TCP/UDP).
    pub health_check_switch: Option<bool>,
    /// `health-check-type` (default tcp); http needs `health_check_uri`.
    pub health_check_type: Option<HealthCheckType>,
    /// `health-check-uri`: a path starting with `/`.
    pub health_check_uri: Option<String>,
    /// `health-check-domain`: `$_ip` or a domain.
    pub health_check_domain: Option<String>,
    /// `health-check-method`.
    pub health_check_method: Option<HealthCheckMethod>,
    /// `health-check-httpcode`: rendered `"http_2xx,http_3xx"` (default http_2xx).
    pub health_check_httpcode: Vec<HttpCode>,
    /// `health-check-connect-port`: `-520` (backend port) or 1–65535.
    pub health_check_connect_port: Option<HealthCheckConnectPort>,
    /// `healthy-threshold`, 2–10 (default 3).
    pub healthy_threshold: Option<u32>,
    /// `unhealthy-threshold`, 2–10 (default 3).
    pub unhealthy_threshold: Option<u32>,
    /// `health-check-interval`, 1–50 s (default 2).
    pub health_check_interval: Option<u32>,
    /// `health-check-connect-timeout` (TCP), 1–300 s (default 5).
    pub health_check_connect_timeout: Option<u32>,
    /// `health-check-timeout` (HTTP), 1–300 s (default 5).
    pub health_check_timeout: Option<u32>,
    /// `acl-status` flag (default off); on needs `acl_id` and `acl_type`.
    pub acl_status: Option<bool>,
    /// `acl-id`: needs `acl_status` on.
    pub acl_id: Option<String>,
    /// `acl-type`: needs `acl_status` on.
    pub acl_type: Option<AclType>,
    /// `http2-enabled` flag (HTTPS).
    pub http2_enabled: Option<bool>,
    /// `connection-drain` flag.
    pub connection_drain: Option<bool>,
    /// `proxy-protocol` flag.
    pub proxy_protocol: Option<bool>,
    /// `xforwardedfor-proto` flag.
    pub xforwardedfor_proto: Option<bool>,
    /// `xforwardedfor-slbport` flag.
    pub xforwardedfor_slbport: Option<bool>,
    /// `xforwardedfor-clientsrcport` flag.
    pub xforwardedfor_clientsrcport: Option<bool>,
    /// `ignore-weight-update` flag.
    pub ignore_weight_update: Option<bool>,
    /// `remove-unscheduled-backend` flag (default off).
    pub remove_unscheduled_backend: Option<bool>,
    /// `idle-timeout`, seconds.
    pub idle_timeout: Option<u32>,
    /// `request-timeout`, seconds.
    pub request_timeout: Option<u32>,
    /// `established-timeout`, seconds.
    pub established_timeout: Option<u32>,
    /// `connection-drain-timeout`, seconds.
    pub connection_drain_timeout: Option<u32>,
    /// `weight`.
    pub weight: Option<u32>,
    /// `default-weight`.
    pub default_weight: Option<u32>,
    /// `domain-extensions`: `(domain, cert id)` pairs rendered `"domain1:certId1,…"` (HTTPS).
    pub domain_extensions: Vec<(String, String)>,
    /// `vgroup-port`: `(vgroup id, port)` pairs rendered `"<vgroup-id>:<port>,…"`.
    pub vgroup_port: Vec<(String, u16)>,
    /// `backend-label`: a node label selector.
    pub backend_label: Option<String>,
    /// `backend-ip-version`.
    pub backend_ip_version: Option<BackendIpVersion>,
    /// NLB `zone-maps`: `(zone, vswitch)` pairs rendered `"zone:vsw,…"`.
    pub zone_maps: Vec<(String, String)>,
    /// NLB `security-group-ids` (comma list).
    pub security_group_ids: Vec<String>,
    /// NLB `cacert-id`.
    pub cacert_id: Option<String>,
    /// NLB `additional-cert-ids` (comma list).
    pub additional_cert_ids: Vec<String>,
    /// NLB `bandwidth-package-id`.
    pub bandwidth_package_id: Option<String>,
    /// NLB `ipv6-address-type`.
    pub ipv6_address_type: Option<AddressType>,
    /// NLB `server-group-type`.
    pub server_group_type: Option<ServerGroupType>,
    /// NLB `cps`: new connections per second.
    pub cps: Option<u32>,
    /// NLB `alpn-policy`.
    pub alpn_policy: Option<String>,
    /// NLB `listener-port-range`: `(first, last, service port)` rendered `"1000-2000:80,…"`.
    pub listener_port_range: Vec<(u16, u16, u16)>,
    /// NLB `cross-zone-enabled` flag.
    pub cross_zone_enabled: Option<bool>,
    /// NLB `cacert` flag.
    pub cacert: Option<bool>,
    /// NLB `preserve-client-ip` flag.
    pub preserve_client_ip: Option<bool>,
    /// NLB `alpn` flag.
    pub alpn: Option<bool>,
    /// NLB `ppv2-pvl-ep-id-enabled` flag.
    pub ppv2_pvl_ep_id_enabled: Option<bool>,
    /// NLB `ppv2-pvl-eps-id-enabled` flag.
    pub ppv2_pvl_eps_id_enabled: Option<bool>,
    /// NLB `ppv2-pvl-vpc-id-enabled` flag.
    pub ppv2_pvl_vpc_id_enabled: Option<bool>,
    /// `service.beta.kubernetes.io/backend-type` (not SLB-prefixed).
    pub backend_type: Option<BackendType>,
}

/// Builder of a `type: LoadBalancer` Service for Alibaba Cloud SLB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerService {
    name: String,
    namespace: Option<String>,
    selector: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    ports: Vec<PortSpec>,
    external_traffic_policy: Option<ExternalTrafficPolicy>,
    options: SlbOptions,
}

impl LoadBalancerService {
    /// A Service named `name` (a DNS-1035 label) with no ports yet.
    pub fn new(name: impl Into<String>) -> Self {
        LoadBalancerService {
            name: name.into(),
            namespace: None,
            selector: BTreeMap::new(),
            labels: BTreeMap::new(),
            ports: Vec::new(),
            external_traffic_policy: None,
            options: SlbOptions::default(),
        }
    }

    /// Puts the Service in `namespace` (a DNS-1123 label).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Adds a pod label the Service selects.
    pub fn with_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.selector.insert(key.into(), value.into());
        self
    }

    /// Adds a label to the Service itself.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a port named `<protocol>-<port>`.
    pub fn with_port(
        self,
        port: u16,
        target_port: impl Into<TargetPort>,
        protocol: PortProtocol,
    ) -> Self {
        self.with_port_spec(PortSpec {
            name: None,
            port,
            target_port: target_port.into(),
            protocol,
        })
    }

    /// Adds a port with every field given.
    pub fn with_port_spec(mut self, port: PortSpec) -> Self {
        self.ports.push(port);
        self
    }

    /// Sets `externalTrafficPolicy`.
    pub fn with_external_traffic_policy(mut self, policy: ExternalTrafficPolicy) -> Self {
        self.external_traffic_policy = Some(policy);
        self
    }

    /// Sets every SLB option at once.
    pub fn with_options(mut self, options: SlbOptions) -> Self {
        self.options = options;
        self
    }

    /// The Service, or the first option that is wrong.
    ///
    /// Rejected (the error names the first option of each pair):
    /// `name`/`namespace` that are not DNS labels; `ports` empty, port or target port 0,
    /// duplicate port names or `(port, protocol)`; `vswitch_id` without `address_type`
    /// intranet; `bandwidth` outside 1–5120 or without `charge_type` paybybandwidth;
    /// `force_override_listeners` without `id`; `slave_zone_id` without or equal to
    /// `master_zone_id`; `protocol_port` on a port the Service does not expose, or twice;
    /// an HTTPS listener without `cert_id`; `cert_id`, `tls_cipher_policy`, `http2_enabled`
    /// or `domain_extensions` without an HTTPS listener; `forward_port` not from an HTTP to
    /// an HTTPS listener; `sticky_session` on without `sticky_session_type`,
    /// `sticky_session_type` without `sticky_session` on, `insert` without
    /// `cookie_timeout`, `server` without `cookie`; `health_check_type` http without
    /// `health_check_uri`, a URI not starting with `/`; `acl_status` on without `acl_id`
    /// or `acl_type`, either without `acl_status` on; every number out of its documented
    /// range; list items or values that are empty or contain the list separators.
    pub fn build(&self) -> Result<Service, ManifestError> {
        let object = match &self.namespace {
            Some(ns) => format!("Service {ns}/{}", self.name),
            None => format!("Service {}", self.name),
        };
        check_dns1035_label(&object, "name", &self.name)?;
        if let Some(ns) = &self.namespace {
            check_dns1123_label(&object, "namespace", ns)?;
        }
        let ports = self.check_ports(&object)?;
        let annotations = render_annotations(&object, &self.options, &self.ports)?;
        Ok(Service {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: self.namespace.clone(),
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                annotations: (!annotations.is_empty()).then_some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: Some("LoadBalancer".to_owned()),
                selector: (!self.selector.is_empty()).then(|| self.selector.clone()),
                ports: Some(ports),
                external_traffic_policy: self
                    .external_traffic_policy
                    .map(|p| p.as_str().to_owned()),
                ..ServiceSpec::default()
            }),
            status: None,
        })
    }

    fn check_ports(&self, object: &str) -> Result<Vec<ServicePort>, ManifestError> {
        if self.ports.is_empty() {
            return Err(ManifestError::invalid(
                object,
                "ports",
                "a LoadBalancer Service needs at least one port",
            ));
        }
        let mut names = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for p in &self.ports {
            if p.port == 0 {
                return Err(ManifestError::invalid(
                    object,
                    "ports",
                    "port 0 is not allowed",
                ));
            }
            let name = p.name.clone().unwrap_or_else(|| {
                format!("{}-{}", p.protocol.as_str().to_ascii_lowercase(), p.port)
            });
            if !super::is_dns1123_label(&name) {
                return Err(ManifestError::invalid(
                    object,
                    "ports",
                    format!("port name `{name}` is not a DNS-1123 label"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(ManifestError::invalid(
                    object,
                    "ports",
                    format!("port name `{name}` is used twice"),
                ));
            }
            if !seen.insert((p.port, p.protocol)) {
                return Err(ManifestError::invalid(
                    object,
                    "ports",
                    format!("port {} {} is listed twice", p.port, p.protocol.as_str()),
                ));
            }
            let target = match &p.target_port {
                TargetPort::Number(0) => {
                    return Err(ManifestError::invalid(
                        object,
                        "ports",
                        format!("port {}: target port 0 is not allowed", p.port),
                    ));
                }
                TargetPort::Number(n) => IntOrString::Int(i32::from(*n)),
                TargetPort::Name(n) => {
                    let ok = !n.is_empty()
                        && n.len() <= 15
                        && n.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && n.bytes().any(|b| b.is_ascii_lowercase())
                        && !n.starts_with('-')
                        && !n.ends_with('-')
                        && !n.contains("--");
                    if !ok {
                        return Err(ManifestError::invalid(
                            object,
                            "ports",
                            format!(
                                "port {}: target port name `{n}` is not an IANA service name \
                                 (1-15 lower-case letters, digits and single '-')",
                                p.port
                            ),
                        ));
                    }
                    IntOrString::String(n.clone())
                }
            };
            out.push(ServicePort {
                name: Some(name),
                port: i32::from(p.port),
                target_port: Some(target),
                protocol: Some(p.protocol.as_str().to_owned()),
                ..ServicePort::default()
            });
        }
        Ok(out)
    }
}

fn flag(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Collects annotations, checking each value as it goes in.
struct Annotations<'a> {
    object: &'a str,
    map: BTreeMap<String, String>,
}

impl Annotations<'_> {
    fn put(&mut self, suffix: &str, value: impl Into<String>) {
        self.map
            .insert(format!("{ANNOTATION_PREFIX}{suffix}"), value.into());
    }

    fn err(&self, option: &str, reason: impl Into<String>) -> ManifestError {
        ManifestError::invalid(self.object, option, reason)
    }

    /// A free-form value: non-empty, no whitespace, no list separators.
    fn text(
        &mut self,
        suffix: &str,
        option: &str,
        value: &Option<String>,
    ) -> Result<(), ManifestError> {
        if let Some(v) = value {
            self.check_item(option, v)?;
            self.put(suffix, v.clone());
        }
        Ok(())
    }

    fn check_item(&self, option: &str, v: &str) -> Result<(), ManifestError> {
        if v.is_empty() {
            return Err(self.err(option, "must not be empty"));
        }
        if let Some(c) = v.chars().find(|c| c.is_whitespace() || *c == ',') {
            return Err(self.err(
                option,
                format!("`{v}` must not contain {c:?} (whitespace and ',' break the annotation)"),
            ));
        }
        Ok(())
    }

    fn check_pair_part(&self, option: &str, v: &str, sep: char) -> Result<(), ManifestError> {
        self.check_item(option, v)?;
        if v.contains(sep) {
            return Err(self.err(option, format!("`{v}` must not contain '{sep}'")));
        }
        Ok(())
    }

    fn flag(&mut self, suffix: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.put(suffix, flag(v));
        }
    }

    fn int(
        &mut self,
        suffix: &str,
        option: &str,
        value: Option<u32>,
        range: Option<(u32, u32)>,
    ) -> Result<(), ManifestError> {
        if let Some(v) = value {
            if let Some((lo, hi)) = range
                && !(lo..=hi).contains(&v)
            {
                return Err(self.err(option, format!("{v} is outside {lo}..={hi}")));
            }
            self.put(suffix, v.to_string());
        }
        Ok(())
    }

    fn word<T: Copy>(&mut self, suffix: &str, value: Option<T>, f: impl Fn(T) -> &'static str) {
        if let Some(v) = value {
            self.put(suffix, f(v));
        }
    }
}

fn render_annotations(
    object: &str,
    o: &SlbOptions,
    ports: &[PortSpec],
) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut a = Annotations {
        object,
        map: BTreeMap::new(),
    };
    let intranet = o.address_type == Some(AddressType::Intranet);

    // Address, instance and billing.
    a.word("address-type", o.address_type, |v| v.as_str());
    a.text("id", "id", &o.id)?;
    if let Some(force) = o.force_override_listeners {
        if force && o.id.is_none() {
            return Err(a.err(
                "force_override_listeners",
                "only applies to an existing SLB: set `id`",
            ));
        }
        a.put(
            "force-override-listeners",
            if force { "true" } else { "false" },
        );
    }
    a.text("name", "name", &o.name)?;
    a.text(
        "resource-group-id",
        "resource_group_id",
        &o.resource_group_id,
    )?;
    a.text("ip", "ip", &o.ip)?;
    a.text("hostname", "hostname", &o.hostname)?;
    a.text("spec", "spec", &o.spec)?;
    a.word("charge-type", o.charge_type, |v| v.as_str());
    if o.bandwidth.is_some() && o.charge_type != Some(ChargeType::PayByBandwidth) {
        return Err(a.err(
            "bandwidth",
            "only applies to `charge_type` paybybandwidth; set it too",
        ));
    }
    a.int(
        "bandwidth",
        "bandwidth",
        o.bandwidth,
        Some((MIN_BANDWIDTH, MAX_BANDWIDTH)),
    )?;
    a.word("instance-charge-type", o.instance_charge_type, |v| {
        v.as_str()
    });
    a.word("network-type", o.network_type, |v| v.as_str());
    if o.vswitch_id.is_some() && !intranet {
        return Err(a.err(
            "vswitch_id",
            "a VSwitch only applies to an intranet SLB: set `address_type` to intranet",
        ));
    }
    a.text("vswitch-id", "vswitch_id", &o.vswitch_id)?;
    a.text("master-zoneid", "master_zone_id", &o.master_zone_id)?;
    if let Some(slave) = &o.slave_zone_id {
        match &o.master_zone_id {
            None => return Err(a.err("slave_zone_id", "needs `master_zone_id`")),
            Some(master) if master == slave => {
                return Err(a.err(
                    "slave_zone_id",
                    format!("must differ from `master_zone_id` ({master})"),
                ));
            }
            Some(_) => {}
        }
    }
    a.text("slave-zoneid", "slave_zone_id", &o.slave_zone_id)?;
    a.word("ip-version", o.ip_version, |v| v.as_str());
    a.word("external-ip-type", o.external_ip_type, |v| v.as_str());
    if !o.additional_resource_tags.is_empty() {
        let mut parts = Vec::new();
        for (k, v) in &o.additional_resource_tags {
            a.check_pair_part("additional_resource_tags", k, '=')?;
            a.check_pair_part("additional_resource_tags", v, '=')?;
            parts.push(format!("{k}={v}"));
        }
        a.put("additional-resource-tags", parts.join(","));
    }
    a.flag("delete-protection", o.delete_protection);
    a.word("modification-protection", o.modification_protection, |v| {
        v.as_str()
    });
    if o.preserve_lb_on_delete {
        a.put("preserve-lb-on-delete", "true");
    }

    // Listeners.
    let service_ports: BTreeSet<u16> = ports
        .iter()
        .filter(|p| p.protocol == PortProtocol::Tcp)
        .map(|p| p.port)
        .collect();
    let mut listener_ports = BTreeMap::new();
    for (protocol, port) in &o.protocol_port {
        if !service_ports.contains(port) {
            return Err(a.err(
                "protocol_port",
                format!("port {port} is not a TCP port of the Service"),
            ));
        }
        if listener_ports.insert(*port, *protocol).is_some() {
            return Err(a.err("protocol_port", format!("port {port} is listed twice")));
        }
    }
    let https = listener_ports
        .values()
        .any(|p| *p == ListenerProtocol::Https);
    if !o.protocol_port.is_empty() {
        let rendered: Vec<String> = o
            .protocol_port
            .iter()
            .map(|(proto, port)| format!("{}:{port}", proto.as_str()))
            .collect();
        a.put("protocol-port", rendered.join(","));
    }
    if https && o.cert_id.is_none() {
        return Err(a.err(
            "cert_id",
            "an HTTPS listener in `protocol_port` needs a server certificate id",
        ));
    }
    for (option, set) in [
        ("cert_id", o.cert_id.is_some()),
        ("tls_cipher_policy", o.tls_cipher_policy.is_some()),
        ("http2_enabled", o.http2_enabled.is_some()),
        ("domain_extensions", !o.domain_extensions.is_empty()),
    ] {
        if set && !https {
            return Err(a.err(
                option,
                "only applies to HTTPS listeners: add an https entry to `protocol_port`",
            ));
        }
    }
    a.text("cert-id", "cert_id", &o.cert_id)?;
    a.text(
        "tls-cipher-policy",
        "tls_cipher_policy",
        &o.tls_cipher_policy,
    )?;
    if !o.forward_port.is_empty() {
        let mut parts = Vec::new();
        for (from, to) in &o.forward_port {
            if listener_ports.get(from) != Some(&ListenerProtocol::Http) {
                return Err(a.err(
                    "forward_port",
                    format!("port {from} is not an http listener in `protocol_port`"),
                ));
            }
            if listener_ports.get(to) != Some(&ListenerProtocol::Https) {
                return Err(a.err(
                    "forward_port",
                    format!("port {to} is not an https listener in `protocol_port`"),
                ));
            }
            parts.push(format!("{from}:{to}"));
        }
        a.put("forward-port", parts.join(","));
    }
    a.word("scheduler", o.scheduler, |v| v.as_str());
    a.int(
        "persistence-timeout",
        "persistence_timeout",
        o.persistence_timeout,
        Some((0, 3600)),
    )?;

    // Sticky sessions.
    let sticky = o.sticky_session == Some(true);
    if sticky && o.sticky_session_type.is_none() {
        return Err(a.err(
            "sticky_session",
            "on needs `sticky_session_type` (insert or server)",
        ));
    }
    if o.sticky_session_type.is_some() && !sticky {
        return Err(a.err("sticky_session_type", "needs `sticky_session` on"));
    }
    match o.sticky_session_type {
        Some(StickySessionType::Insert) if o.cookie_timeout.is_none() => {
            return Err(a.err("cookie_timeout", "sticky session type insert needs it"));
        }
        Some(StickySessionType::Server) if o.cookie.is_none() => {
            return Err(a.err("cookie", "sticky session type server needs it"));
        }
        _ => {}
    }
    a.flag("sticky-session", o.sticky_session);
    a.word("sticky-session-type", o.sticky_session_type, |v| v.as_str());
    a.int(
        "cookie-timeout",
        "cookie_timeout",
        o.cookie_timeout,
        Some((1, 86400)),
    )?;
    if let Some(cookie) = &o.cookie {
        let len = cookie.chars().count();
        if !(1..=200).contains(&len) {
            return Err(a.err("cookie", format!("{len} characters is outside 1..=200")));
        }
        a.check_item("cookie", cookie)?;
        a.put("cookie", cookie.clone());
    }

    // Health checks.
    a.flag("health-check-flag", o.health_check_flag);
    a.flag("health-check-switch", o.health_check_switch);
    a.word("health-check-type", o.health_check_type, |v| v.as_str());
    if o.health_check_type == Some(HealthCheckType::Http) && o.health_check_uri.is_none() {
        return Err(a.err(
            "health_check_uri",
            "health check type http needs the URI to request",
        ));
    }
    if let Some(uri) = &o.health_check_uri
        && !uri.starts_with('/')
    {
        return Err(a.err("health_check_uri", format!("`{uri}` must start with '/'")));
    }
    a.text("health-check-uri", "health_check_uri", &o.health_check_uri)?;
    a.text(
        "health-check-domain",
        "health_check_domain",
        &o.health_check_domain,
    )?;
    a.word("health-check-method", o.health_check_method, |v| v.as_str());
    if !o.health_check_httpcode.is_empty() {
        let codes: Vec<&str> = o.health_check_httpcode.iter().map(|c| c.as_str()).collect();
        a.put("health-check-httpcode", codes.join(","));
    }
    match o.health_check_connect_port {
        None => {}
        Some(HealthCheckConnectPort::BackendPort) => a.put("health-check-connect-port", "-520"),
        Some(HealthCheckConnectPort::Port(0)) => {
            return Err(a.err(
                "health_check_connect_port",
                "port 0 is outside 1..=65535 (use BackendPort for the backend's port)",
            ));
        }
        Some(HealthCheckConnectPort::Port(p)) => a.put("health-check-connect-port", p.to_string()),
    }
    a.int(
        "healthy-threshold",
        "healthy_threshold",
        o.healthy_threshold,
        Some((2, 10)),
    )?;
    a.int(
        "unhealthy-threshold",
        "unhealthy_threshold",
        o.unhealthy_threshold,
        Some((2, 10)),
    )?;
    a.int(
        "health-check-interval",
        "health_check_interval",
        o.health_check_interval,
        Some((1, 50)),
    )?;
    a.int(
        "health-check-connect-timeout",
        "health_check_connect_timeout",
        o.health_check_connect_timeout,
        Some((1, 300)),
    )?;
    a.int(
        "health-check-timeout",
        "health_check_timeout",
        o.health_check_timeout,
        Some((1, 300)),
    )?;

    // Access control.
    let acl_on = o.acl_status == Some(true);
    if acl_on && o.acl_id.is_none() {
        return Err(a.err("acl_status", "on needs `acl_id`"));
    }
    if acl_on && o.acl_type.is_none() {
        return Err(a.err("acl_status", "on needs `acl_type` (white or black)"));
    }
    if o.acl_id.is_some() && !acl_on {
        return Err(a.err("acl_id", "needs `acl_status` on"));
    }
    if o.acl_type.is_some() && !acl_on {
        return Err(a.err("acl_type", "needs `acl_status` on"));
    }
    a.flag("acl-status", o.acl_status);
    a.text("acl-id", "acl_id", &o.acl_id)?;
    a.word("acl-type", o.acl_type, |v| v.as_str());

    // Listener flags and timeouts.
    a.flag("http2-enabled", o.http2_enabled);
    a.flag("connection-drain", o.connection_drain);
    a.flag("proxy-protocol", o.proxy_protocol);
    a.flag("xforwardedfor-proto", o.xforwardedfor_proto);
    a.flag("xforwardedfor-slbport", o.xforwardedfor_slbport);
    a.flag("xforwardedfor-clientsrcport", o.xforwardedfor_clientsrcport);
    a.flag("ignore-weight-update", o.ignore_weight_update);
    a.flag("remove-unscheduled-backend", o.remove_unscheduled_backend);
    a.int("idle-timeout", "idle_timeout", o.idle_timeout, None)?;
    a.int(
        "request-timeout",
        "request_timeout",
        o.request_timeout,
        None,
    )?;
    a.int(
        "established-timeout",
        "established_timeout",
        o.established_timeout,
        None,
    )?;
    a.int(
        "connection-drain-timeout",
        "connection_drain_timeout",
        o.connection_drain_timeout,
        None,
    )?;
    a.int("weight", "weight", o.weight, None)?;
    a.int("default-weight", "default_weight", o.default_weight, None)?;
    if !o.domain_extensions.is_empty() {
        let mut parts = Vec::new();
        for (domain, cert) in &o.domain_extensions {
            a.check_pair_part("domain_extensions", domain, ':')?;
            a.check_pair_part("domain_extensions", cert, ':')?;
            parts.push(format!("{domain}:{cert}"));
        }
        a.put("domain-extensions", parts.join(","));
    }
    if !o.vgroup_port.is_empty() {
        let mut parts = Vec::new();
        for (vgroup, port) in &o.vgroup_port {
            a.check_pair_part("vgroup_port", vgroup, ':')?;
            if *port == 0 {
                return Err(a.err("vgroup_port", format!("{vgroup}: port 0 is not allowed")));
            }
            parts.push(format!("{vgroup}:{port}"));
        }
        a.put("vgroup-port", parts.join(","));
    }
    if let Some(label) = &o.backend_label {
        if label.is_empty() || label.chars().any(char::is_whitespace) {
            return Err(a.err(
                "backend_label",
                format!("`{label}` is not a label selector such as `key=value`"),
            ));
        }
        a.put("backend-label", label.clone());
    }
    a.word("backend-ip-version", o.backend_ip_version, |v| v.as_str());

    // NLB.
    if !o.zone_maps.is_empty() {
        let mut parts = Vec::new();
        for (zone, vsw) in &o.zone_maps {
            a.check_pair_part("zone_maps", zone, ':')?;
            a.check_pair_part("zone_maps", vsw, ':')?;
            parts.push(format!("{zone}:{vsw}"));
        }
        a.put("zone-maps", parts.join(","));
    }
    for (suffix, option, list) in [
        (
            "security-group-ids",
            "security_group_ids",
            &o.security_group_ids,
        ),
        (
            "additional-cert-ids",
            "additional_cert_ids",
            &o.additional_cert_ids,
        ),
    ] {
        if !list.is_empty() {
            for item in list {
                a.check_item(option, item)?;
            }
            a.put(suffix, list.join(","));
        }
    }
    a.text("cacert-id", "cacert_id", &o.cacert_id)?;
    a.text(
        "bandwidth-package-id",
        "bandwidth_package_id",
        &o.bandwidth_package_id,
    )?;
    a.word("ipv6-address-type", o.ipv6_address_type, |v| v.as_str());
    a.word("server-group-type", o.server_group_type, |v| v.as_str());
    a.int("cps", "cps", o.cps, None)?;
    a.text("alpn-policy", "alpn_policy", &o.alpn_policy)?;
    if !o.listener_port_range.is_empty() {
        let mut parts = Vec::new();
        for (first, last, port) in &o.listener_port_range {
            if *first == 0 || first > last || *port == 0 {
                return Err(a.err(
                    "listener_port_range",
                    format!("{first}-{last}:{port} is not a range 1..=65535 with first <= last"),
                ));
            }
            parts.push(format!("{first}-{last}:{port}"));
        }
        a.put("listener-port-range", parts.join(","));
    }
    a.flag("cross-zone-enabled", o.cross_zone_enabled);
    a.flag("cacert", o.cacert);
    a.flag("preserve-client-ip", o.preserve_client_ip);
    a.flag("alpn", o.alpn);
    a.flag("ppv2-pvl-ep-id-enabled", o.ppv2_pvl_ep_id_enabled);
    a.flag("ppv2-pvl-eps-id-enabled", o.ppv2_pvl_eps_id_enabled);
    a.flag("ppv2-pvl-vpc-id-enabled", o.ppv2_pvl_vpc_id_enabled);

    let mut map = a.map;
    if let Some(t) = o.backend_type {
        map.insert(BACKEND_TYPE_ANNOTATION.to_owned(), t.as_str().to_owned());
    }
    Ok(map)
}
