//! Objects generated from representative options, shared by the snapshot and the peer
//! tests (included with `#[path]`; as its own test target it has no tests).
#![allow(dead_code)]

use iac_k8s::manifests::Manifest;
use iac_k8s::manifests::ingress::{IngressBuilder, PathType};
use iac_k8s::manifests::keystone::{
    Access, KeystoneAccess, Project, RoleAssignment, RoleMapping, Subject, SyncConfig,
    SyncDataType, User,
};
use iac_k8s::manifests::slb::*;
use iac_k8s::manifests::volumes::*;
use k8s_openapi::api::core::v1::{Container, PodSpec};

/// The OSS access key used by the fixtures: tests check it never shows in clear.
pub const AK_ID: &str = "LTAI-fixture-id";
/// The OSS access key secret used by the fixtures.
pub const AK_SECRET: &str = "fixture-secret-Zq9";

fn web() -> LoadBalancerService {
    LoadBalancerService::new("web")
        .with_namespace("shop")
        .with_selector("app", "web")
}

/// Services with many annotation combinations, by name.
pub fn services() -> Vec<(&'static str, Manifest)> {
    let cases: Vec<(&'static str, LoadBalancerService)> = vec![
        ("plain", web().with_port(80, 8080, PortProtocol::Tcp)),
        (
            "internet_bandwidth",
            web()
                .with_port(80, 8080, PortProtocol::Tcp)
                .with_port(53, 5353, PortProtocol::Udp)
                .with_options(SlbOptions {
                    address_type: Some(AddressType::Internet),
                    spec: Some("slb.s2.medium".into()),
                    charge_type: Some(ChargeType::PayByBandwidth),
                    bandwidth: Some(100),
                    instance_charge_type: Some(InstanceChargeType::PayBySpec),
                    name: Some("shop-web".into()),
                    resource_group_id: Some("rg-abc".into()),
                    master_zone_id: Some("cn-hangzhou-h".into()),
                    slave_zone_id: Some("cn-hangzhou-i".into()),
                    ip_version: Some(IpVersion::Ipv4),
                    delete_protection: Some(true),
                    modification_protection: Some(ModificationProtection::ConsoleProtection),
                    additional_resource_tags: vec![
                        ("team".into(), "shop".into()),
                        ("env".into(), "prod".into()),
                    ],
                    scheduler: Some(Scheduler::Wrr),
                    persistence_timeout: Some(1800),
                    backend_type: Some(BackendType::Eni),
                    ..SlbOptions::default()
                })
                .with_external_traffic_policy(ExternalTrafficPolicy::Local),
        ),
        (
            "intranet_vswitch",
            web()
                .with_port(443, "https", PortProtocol::Tcp)
                .with_options(SlbOptions {
                    address_type: Some(AddressType::Intranet),
                    network_type: Some(NetworkType::Vpc),
                    vswitch_id: Some("vsw-bp1".into()),
                    ip: Some("192.168.0.10".into()),
                    delete_protection: Some(false),
                    modification_protection: Some(ModificationProtection::NonProtection),
                    preserve_lb_on_delete: true,
                    ..SlbOptions::default()
                }),
        ),
        (
            "https_http_listeners",
            web()
                .with_port(443, 8080, PortProtocol::Tcp)
                .with_port(80, 8080, PortProtocol::Tcp)
                .with_options(SlbOptions {
                    protocol_port: vec![
                        (ListenerProtocol::Https, 443),
                        (ListenerProtocol::Http, 80),
                    ],
                    cert_id: Some("1234-cn-hangzhou".into()),
                    tls_cipher_policy: Some("tls_cipher_policy_1_2".into()),
                    forward_port: vec![(80, 443)],
                    http2_enabled: Some(true),
                    domain_extensions: vec![("a.example.com".into(), "cert-a".into())],
                    sticky_session: Some(true),
                    sticky_session_type: Some(StickySessionType::Insert),
                    cookie_timeout: Some(1800),
                    health_check_flag: Some(true),
                    health_check_type: Some(HealthCheckType::Http),
                    health_check_uri: Some("/healthz".into()),
                    health_check_domain: Some("$_ip".into()),
                    health_check_method: Some(HealthCheckMethod::Head),
                    health_check_httpcode: vec![HttpCode::Http2xx, HttpCode::Http3xx],
                    health_check_connect_port: Some(HealthCheckConnectPort::BackendPort),
                    healthy_threshold: Some(4),
                    unhealthy_threshold: Some(4),
                    health_check_interval: Some(3),
                    health_check_timeout: Some(10),
                    xforwardedfor_proto: Some(true),
                    xforwardedfor_slbport: Some(true),
                    xforwardedfor_clientsrcport: Some(false),
                    idle_timeout: Some(30),
                    request_timeout: Some(60),
                    ..SlbOptions::default()
                }),
        ),
        (
            "existing_slb_override",
            web()
                .with_port(80, 8080, PortProtocol::Tcp)
                .with_options(SlbOptions {
                    id: Some("lb-bp1existing".into()),
                    force_override_listeners: Some(true),
                    health_check_switch: Some(true),
                    health_check_type: Some(HealthCheckType::Tcp),
                    health_check_connect_port: Some(HealthCheckConnectPort::Port(8081)),
                    health_check_connect_timeout: Some(8),
                    health_check_interval: Some(5),
                    acl_status: Some(true),
                    acl_id: Some("acl-123".into()),
                    acl_type: Some(AclType::White),
                    connection_drain: Some(true),
                    connection_drain_timeout: Some(30),
                    proxy_protocol: Some(false),
                    established_timeout: Some(900),
                    weight: Some(50),
                    default_weight: Some(100),
                    vgroup_port: vec![("rsp-1".into(), 80)],
                    backend_label: Some("node-role=edge".into()),
                    backend_ip_version: Some(BackendIpVersion::Ipv4),
                    ignore_weight_update: Some(true),
                    remove_unscheduled_backend: Some(true),
                    external_ip_type: Some(ExternalIpType::Eip),
                    hostname: Some("web.example.com".into()),
                    ..SlbOptions::default()
                }),
        ),
        (
            "sticky_server_cookie",
            web()
                .with_port(80, 8080, PortProtocol::Tcp)
                .with_options(SlbOptions {
                    protocol_port: vec![(ListenerProtocol::Http, 80)],
                    sticky_session: Some(true),
                    sticky_session_type: Some(StickySessionType::Server),
                    cookie: Some("SESSIONID".into()),
                    ..SlbOptions::default()
                }),
        ),
        (
            "nlb",
            web()
                .with_port(80, 8080, PortProtocol::Tcp)
                .with_options(SlbOptions {
                    zone_maps: vec![
                        ("cn-hangzhou-h".into(), "vsw-h".into()),
                        ("cn-hangzhou-i".into(), "vsw-i".into()),
                    ],
                    security_group_ids: vec!["sg-1".into(), "sg-2".into()],
                    cacert_id: Some("ca-1".into()),
                    additional_cert_ids: vec!["c-1".into(), "c-2".into()],
                    bandwidth_package_id: Some("cbwp-1".into()),
                    ipv6_address_type: Some(AddressType::Intranet),
                    server_group_type: Some(ServerGroupType::Ip),
                    cps: Some(1000),
                    alpn_policy: Some("HTTP2Optional".into()),
                    listener_port_range: vec![(1000, 2000, 80)],
                    cross_zone_enabled: Some(true),
                    cacert: Some(true),
                    preserve_client_ip: Some(true),
                    alpn: Some(true),
                    ppv2_pvl_ep_id_enabled: Some(false),
                    ppv2_pvl_eps_id_enabled: Some(false),
                    ppv2_pvl_vpc_id_enabled: Some(true),
                    ..SlbOptions::default()
                }),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, b)| (name, Manifest::from(b.build().expect(name))))
        .collect()
}

/// One Ingress with TLS, two hosts, a host-less rule and a class.
pub fn ingress() -> Manifest {
    IngressBuilder::new("shop")
        .with_namespace("shop")
        .with_class("nginx")
        .with_annotation("nginx.ingress.kubernetes.io/ssl-redirect", "true")
        .with_route("shop.example.com", "/", PathType::Prefix, "web", 80)
        .with_route("shop.example.com", "/api", PathType::Prefix, "api", "http")
        .with_route("*.example.com", "/static", PathType::Exact, "static", 8080)
        .with_route("", "/healthz", PathType::ImplementationSpecific, "web", 80)
        .with_tls(["shop.example.com", "*.example.com"], "shop-tls")
        .build()
        .expect("ingress")
        .into()
}

/// The volume fixtures, by name.
pub fn volume_claims() -> Vec<(&'static str, VolumeClaim)> {
    let nas = NasVolume::new("0cd8b4a576-grs79.cn-hangzhou.nas.aliyuncs.com", "/k8s");
    let mut nas4 = NasVolume::new("0cd8b4a576-grs79.cn-hangzhou.nas.aliyuncs.com", "/share");
    nas4.vers = NasVersion::V4_0;
    nas4.mode = Some("755".into());
    nas4.options = Some("noresvport".into());
    let mut oss = OssVolume::new(
        "shop-assets",
        "oss-cn-hangzhou.aliyuncs.com",
        AK_ID,
        AK_SECRET,
    );
    oss.other_opts = Some("-o allow_other -o umask=022".into());
    oss.path = "/assets".into();
    let mut nfs = NfsVolume::new("nfs.internal.example.com", "/exports/data");
    nfs.mount_options = vec!["nfsvers=4.1".into()];
    vec![
        ("nas", VolumeClaim::new("nas-data", "shop", "20Gi", nas)),
        (
            "nas_v4_retain_class",
            VolumeClaim::new("nas-share", "shop", "100Gi", nas4)
                .with_storage_class_name("nas-static")
                .with_access_modes([AccessMode::ReadWriteMany, AccessMode::ReadOnlyMany]),
        ),
        ("nfs", VolumeClaim::new("nfs-data", "shop", "5Gi", nfs)),
        (
            "oss",
            VolumeClaim::new("oss-assets", "shop", "1Ti", oss)
                .with_access_modes([AccessMode::ReadOnlyMany]),
        ),
        (
            "cinder_existing",
            VolumeClaim::new(
                "db-data",
                "shop",
                "10Gi",
                CinderVolume::Existing {
                    volume_id: "2b5f8b2a-3c55-4f6a-9a1e-5d7f0a6c1e11".into(),
                    fs_type: None,
                },
            )
            .with_reclaim_policy(ReclaimPolicy::Retain),
        ),
        (
            "cinder_dynamic",
            VolumeClaim::new(
                "cache",
                "shop",
                "1Gi",
                CinderVolume::Dynamic {
                    volume_type: Some("ssd".into()),
                    availability: Some("nova".into()),
                    allow_volume_expansion: true,
                },
            )
            .with_storage_class_name("cinder-ssd")
            .with_reclaim_policy(ReclaimPolicy::Delete),
        ),
    ]
}

/// A pod spec with one container, to mount claims into.
pub fn pod() -> PodSpec {
    PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some("nginx:1.27".into()),
            ..Container::default()
        }],
        ..PodSpec::default()
    }
}

/// Keystone data: two projects (one with a name to sanitise), users, a group.
pub fn keystone() -> KeystoneAccess {
    KeystoneAccess::new(
        vec![
            Project {
                id: "8d4c2a1f9e7b4c3d8a6f5e4d3c2b1a09".into(),
                name: "Demo".into(),
            },
            Project {
                id: "f0e1d2c3b4a5968778695a4b3c2d1e0f".into(),
                name: "Data Science_Team!".into(),
            },
        ],
        vec![
            User {
                id: "u-alice".into(),
                name: "alice".into(),
            },
            User {
                id: "u-bob".into(),
                name: "bob".into(),
            },
        ],
        vec![
            RoleAssignment {
                subject: Subject::User("u-alice".into()),
                project_id: "8d4c2a1f9e7b4c3d8a6f5e4d3c2b1a09".into(),
                role: "member".into(),
            },
            RoleAssignment {
                subject: Subject::User("u-alice".into()),
                project_id: "8d4c2a1f9e7b4c3d8a6f5e4d3c2b1a09".into(),
                role: "reader".into(),
            },
            RoleAssignment {
                subject: Subject::User("u-bob".into()),
                project_id: "f0e1d2c3b4a5968778695a4b3c2d1e0f".into(),
                role: "reader".into(),
            },
            RoleAssignment {
                subject: Subject::Group("data-admins".into()),
                project_id: "f0e1d2c3b4a5968778695a4b3c2d1e0f".into(),
                role: "admin".into(),
            },
            RoleAssignment {
                subject: Subject::User("u-bob".into()),
                project_id: "8d4c2a1f9e7b4c3d8a6f5e4d3c2b1a09".into(),
                role: "heat_stack_owner".into(),
            },
        ],
    )
    .with_role("viewer", Access::ReadOnly)
}

/// A sync configuration with every field set.
pub fn sync_config() -> SyncConfig {
    SyncConfig {
        namespace_format: "os-%n-%i".into(),
        projects_blacklist: vec!["service-project-id".into()],
        projects_name_blacklist: vec!["service".into()],
        data_types_to_sync: vec![SyncDataType::Projects, SyncDataType::RoleAssignments],
        role_mappings: vec![RoleMapping {
            keystone_role: "admin".into(),
            username: None,
            groups: vec!["system:masters".into()],
        }],
    }
}

/// Every Kubernetes object the fixtures make, in named groups.
pub fn all_groups() -> Vec<(String, Vec<Manifest>)> {
    let mut groups: Vec<(String, Vec<Manifest>)> = services()
        .into_iter()
        .map(|(name, s)| (format!("service_{name}"), vec![s]))
        .collect();
    groups.push(("ingress".into(), vec![ingress()]));
    for (name, claim) in volume_claims() {
        let built = claim.build().expect(name);
        groups.push((format!("volume_{name}"), built.objects()));
    }
    let access = keystone();
    groups.push((
        "keystone_namespaces".into(),
        access
            .namespaces()
            .expect("namespaces")
            .into_iter()
            .map(Manifest::from)
            .collect(),
    ));
    groups.push((
        "keystone_configmaps".into(),
        vec![
            Manifest::from(
                access
                    .keystone_policy_config_map("k8s-auth-policy")
                    .expect("policy"),
            ),
            Manifest::from(sync_config().config_map("keystone-sync").expect("sync")),
        ],
    ));
    groups
}
