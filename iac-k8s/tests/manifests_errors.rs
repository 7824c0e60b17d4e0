//! Every rejection of bad options: the build fails and the error names the option.

use iac_k8s::manifests::ingress::{IngressBuilder, PathType};
use iac_k8s::manifests::slb::*;
use iac_k8s::manifests::volumes::*;
use iac_k8s::manifests::{ManifestError, render_yaml};

fn svc() -> LoadBalancerService {
    LoadBalancerService::new("web")
        .with_namespace("shop")
        .with_port(80, 8080, PortProtocol::Tcp)
        .with_port(443, 8443, PortProtocol::Tcp)
}

fn slb_err(options: SlbOptions) -> ManifestError {
    svc().with_options(options).build().unwrap_err()
}

#[track_caller]
fn assert_option(err: ManifestError, option: &str) {
    assert_eq!(err.option(), option, "{err}");
    assert!(err.to_string().contains(&format!("`{option}`")), "{err}");
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Invalid);
}

#[test]
fn slb_rejections_name_the_option() {
    let https = vec![(ListenerProtocol::Https, 443)];
    let cases: Vec<(&str, SlbOptions)> = vec![
        (
            "cert_id",
            SlbOptions {
                protocol_port: https.clone(),
                ..Default::default()
            },
        ),
        (
            "cert_id",
            SlbOptions {
                cert_id: Some("c".into()),
                ..Default::default()
            },
        ),
        (
            "tls_cipher_policy",
            SlbOptions {
                tls_cipher_policy: Some("p".into()),
                ..Default::default()
            },
        ),
        (
            "http2_enabled",
            SlbOptions {
                http2_enabled: Some(true),
                ..Default::default()
            },
        ),
        (
            "domain_extensions",
            SlbOptions {
                domain_extensions: vec![("a.com".into(), "c".into())],
                ..Default::default()
            },
        ),
        (
            "vswitch_id",
            SlbOptions {
                vswitch_id: Some("vsw-1".into()),
                ..Default::default()
            },
        ),
        (
            "vswitch_id",
            SlbOptions {
                address_type: Some(AddressType::Internet),
                vswitch_id: Some("vsw-1".into()),
                ..Default::default()
            },
        ),
        (
            "bandwidth",
            SlbOptions {
                bandwidth: Some(10),
                ..Default::default()
            },
        ),
        (
            "bandwidth",
            SlbOptions {
                charge_type: Some(ChargeType::PayByTraffic),
                bandwidth: Some(10),
                ..Default::default()
            },
        ),
        (
            "bandwidth",
            SlbOptions {
                charge_type: Some(ChargeType::PayByBandwidth),
                bandwidth: Some(0),
                ..Default::default()
            },
        ),
        (
            "bandwidth",
            SlbOptions {
                charge_type: Some(ChargeType::PayByBandwidth),
                bandwidth: Some(MAX_BANDWIDTH + 1),
                ..Default::default()
            },
        ),
        (
            "force_override_listeners",
            SlbOptions {
                force_override_listeners: Some(true),
                ..Default::default()
            },
        ),
        (
            "slave_zone_id",
            SlbOptions {
                slave_zone_id: Some("z-b".into()),
                ..Default::default()
            },
        ),
        (
            "slave_zone_id",
            SlbOptions {
                master_zone_id: Some("z-a".into()),
                slave_zone_id: Some("z-a".into()),
                ..Default::default()
            },
        ),
        (
            "protocol_port",
            SlbOptions {
                protocol_port: vec![(ListenerProtocol::Http, 8080)],
                ..Default::default()
            },
        ),
        (
            "protocol_port",
            SlbOptions {
                protocol_port: vec![(ListenerProtocol::Http, 80), (ListenerProtocol::Http, 80)],
                ..Default::default()
            },
        ),
        (
            "forward_port",
            SlbOptions {
                protocol_port: vec![
                    (ListenerProtocol::Https, 443),
                    (ListenerProtocol::Https, 80),
                ],
                cert_id: Some("c".into()),
                forward_port: vec![(80, 443)],
                ..Default::default()
            },
        ),
        (
            "forward_port",
            SlbOptions {
                protocol_port: vec![(ListenerProtocol::Http, 80)],
                forward_port: vec![(80, 443)],
                ..Default::default()
            },
        ),
        (
            "persistence_timeout",
            SlbOptions {
                persistence_timeout: Some(3601),
                ..Default::default()
            },
        ),
        (
            "sticky_session",
            SlbOptions {
                sticky_session: Some(true),
                ..Default::default()
            },
        ),
        (
            "sticky_session_type",
            SlbOptions {
                sticky_session_type: Some(StickySessionType::Insert),
                ..Default::default()
            },
        ),
        (
            "cookie_timeout",
            SlbOptions {
                sticky_session: Some(true),
                sticky_session_type: Some(StickySessionType::Insert),
                ..Default::default()
            },
        ),
        (
            "cookie_timeout",
            SlbOptions {
                sticky_session: Some(true),
                sticky_session_type: Some(StickySessionType::Insert),
                cookie_timeout: Some(86401),
                ..Default::default()
            },
        ),
        (
            "cookie",
            SlbOptions {
                sticky_session: Some(true),
                sticky_session_type: Some(StickySessionType::Server),
                ..Default::default()
            },
        ),
        (
            "cookie",
            SlbOptions {
                sticky_session: Some(true),
                sticky_session_type: Some(StickySessionType::Server),
                cookie: Some("c".repeat(201)),
                ..Default::default()
            },
        ),
        (
            "cookie",
            SlbOptions {
                cookie: Some(String::new()),
                ..Default::default()
            },
        ),
        (
            "health_check_uri",
            SlbOptions {
                health_check_type: Some(HealthCheckType::Http),
                ..Default::default()
            },
        ),
        (
            "health_check_uri",
            SlbOptions {
                health_check_uri: Some("healthz".into()),
                ..Default::default()
            },
        ),
        (
            "health_check_connect_port",
            SlbOptions {
                health_check_connect_port: Some(HealthCheckConnectPort::Port(0)),
                ..Default::default()
            },
        ),
        (
            "healthy_threshold",
            SlbOptions {
                healthy_threshold: Some(1),
                ..Default::default()
            },
        ),
        (
            "unhealthy_threshold",
            SlbOptions {
                unhealthy_threshold: Some(11),
                ..Default::default()
            },
        ),
        (
            "health_check_interval",
            SlbOptions {
                health_check_interval: Some(51),
                ..Default::default()
            },
        ),
        (
            "health_check_interval",
            SlbOptions {
                health_check_interval: Some(0),
                ..Default::default()
            },
        ),
        (
            "health_check_connect_timeout",
            SlbOptions {
                health_check_connect_timeout: Some(301),
                ..Default::default()
            },
        ),
        (
            "health_check_timeout",
            SlbOptions {
                health_check_timeout: Some(0),
                ..Default::default()
            },
        ),
        (
            "acl_status",
            SlbOptions {
                acl_status: Some(true),
                acl_type: Some(AclType::White),
                ..Default::default()
            },
        ),
        (
            "acl_status",
            SlbOptions {
                acl_status: Some(true),
                acl_id: Some("acl".into()),
                ..Default::default()
            },
        ),
        (
            "acl_id",
            SlbOptions {
                acl_id: Some("acl".into()),
                ..Default::default()
            },
        ),
        (
            "acl_type",
            SlbOptions {
                acl_type: Some(AclType::Black),
                ..Default::default()
            },
        ),
        (
            "additional_resource_tags",
            SlbOptions {
                additional_resource_tags: vec![("k=x".into(), "v".into())],
                ..Default::default()
            },
        ),
        (
            "additional_resource_tags",
            SlbOptions {
                additional_resource_tags: vec![("k".into(), "a,b".into())],
                ..Default::default()
            },
        ),
        (
            "vgroup_port",
            SlbOptions {
                vgroup_port: vec![("rsp:1".into(), 80)],
                ..Default::default()
            },
        ),
        (
            "vgroup_port",
            SlbOptions {
                vgroup_port: vec![("rsp".into(), 0)],
                ..Default::default()
            },
        ),
        (
            "zone_maps",
            SlbOptions {
                zone_maps: vec![("z".into(), String::new())],
                ..Default::default()
            },
        ),
        (
            "security_group_ids",
            SlbOptions {
                security_group_ids: vec!["sg 1".into()],
                ..Default::default()
            },
        ),
        (
            "listener_port_range",
            SlbOptions {
                listener_port_range: vec![(2000, 1000, 80)],
                ..Default::default()
            },
        ),
        (
            "backend_label",
            SlbOptions {
                backend_label: Some("a b".into()),
                ..Default::default()
            },
        ),
        (
            "id",
            SlbOptions {
                id: Some(String::new()),
                ..Default::default()
            },
        ),
        (
            "spec",
            SlbOptions {
                spec: Some("slb s1".into()),
                ..Default::default()
            },
        ),
    ];
    for (option, options) in cases {
        assert_option(slb_err(options), option);
    }
}

#[test]
fn slb_service_shape_rejections() {
    let no_ports = LoadBalancerService::new("web").build().unwrap_err();
    assert_option(no_ports, "ports");
    assert_option(
        LoadBalancerService::new("Web")
            .with_port(80, 80, PortProtocol::Tcp)
            .build()
            .unwrap_err(),
        "name",
    );
    assert_option(
        LoadBalancerService::new("1web")
            .with_port(80, 80, PortProtocol::Tcp)
            .build()
            .unwrap_err(),
        "name",
    );
    assert_option(
        LoadBalancerService::new("web")
            .with_namespace("a_b")
            .with_port(80, 80, PortProtocol::Tcp)
            .build()
            .unwrap_err(),
        "namespace",
    );
    for bad in [
        LoadBalancerService::new("web").with_port(0, 80, PortProtocol::Tcp),
        LoadBalancerService::new("web").with_port(80, 0, PortProtocol::Tcp),
        LoadBalancerService::new("web").with_port(80, "Not_A_Name", PortProtocol::Tcp),
        LoadBalancerService::new("web")
            .with_port(80, 80, PortProtocol::Tcp)
            .with_port(80, 81, PortProtocol::Tcp),
        LoadBalancerService::new("web")
            .with_port(80, 80, PortProtocol::Tcp)
            .with_port_spec(PortSpec {
                name: Some("tcp-80".into()),
                port: 81,
                target_port: 81.into(),
                protocol: PortProtocol::Tcp,
            }),
    ] {
        assert_option(bad.build().unwrap_err(), "ports");
    }
    // The same port number over TCP and UDP is fine.
    LoadBalancerService::new("dns")
        .with_port(53, 53, PortProtocol::Tcp)
        .with_port(53, 53, PortProtocol::Udp)
        .build()
        .unwrap();
}

#[test]
fn slb_valid_edges_pass() {
    for options in [
        SlbOptions {
            charge_type: Some(ChargeType::PayByBandwidth),
            bandwidth: Some(1),
            ..Default::default()
        },
        SlbOptions {
            charge_type: Some(ChargeType::PayByBandwidth),
            bandwidth: Some(MAX_BANDWIDTH),
            ..Default::default()
        },
        SlbOptions {
            persistence_timeout: Some(0),
            healthy_threshold: Some(2),
            unhealthy_threshold: Some(10),
            ..Default::default()
        },
        SlbOptions {
            health_check_interval: Some(50),
            health_check_timeout: Some(300),
            cookie_timeout: None,
            ..Default::default()
        },
        SlbOptions {
            force_override_listeners: Some(false),
            ..Default::default()
        },
        SlbOptions {
            id: Some("lb-1".into()),
            force_override_listeners: Some(false),
            ..Default::default()
        },
    ] {
        svc()
            .with_options(options.clone())
            .build()
            .unwrap_or_else(|e| panic!("{options:?}: {e}"));
    }
}

#[test]
fn ingress_rejections_name_the_option() {
    let base = || IngressBuilder::new("shop").with_namespace("shop");
    let route = |b: IngressBuilder| b.with_route("a.example.com", "/", PathType::Prefix, "web", 80);
    let cases: Vec<(&str, IngressBuilder)> = vec![
        ("routes", base()),
        ("tls", route(base()).with_tls(Vec::<String>::new(), "tls")),
        ("tls", route(base()).with_tls(["bad host"], "tls")),
        (
            "tls",
            route(base()).with_tls(["a.example.com"], "Bad_Secret"),
        ),
        ("routes", route(route(base()))),
        (
            "routes",
            base().with_route("a.example.com", "api", PathType::Prefix, "web", 80),
        ),
        (
            "routes",
            base().with_route("A..com", "/", PathType::Prefix, "web", 80),
        ),
        (
            "routes",
            base().with_route("", "/", PathType::Prefix, "Web", 80),
        ),
        (
            "routes",
            base().with_route("", "/", PathType::Prefix, "web", 0),
        ),
        (
            "routes",
            base().with_route("", "/", PathType::Prefix, "web", ""),
        ),
        ("name", route(IngressBuilder::new("Shop"))),
        (
            "namespace",
            route(IngressBuilder::new("shop").with_namespace("Shop")),
        ),
        ("class", route(base().with_class("Nginx"))),
    ];
    for (option, builder) in cases {
        assert_option(builder.build().unwrap_err(), option);
    }
    // The same path with another path type, or on another host, is not a duplicate.
    route(base())
        .with_route("a.example.com", "/", PathType::Exact, "web", 80)
        .with_route("b.example.com", "/", PathType::Prefix, "web", 80)
        .build()
        .unwrap();
}

fn oss() -> OssVolume {
    OssVolume::new("bucket-1", "oss-cn-hangzhou.aliyuncs.com", "id", "secret")
}

#[test]
fn volume_rejections_name_the_option() {
    let nas = || NasVolume::new("x.cn-hangzhou.nas.aliyuncs.com", "/k8s");
    let claim = |source: VolumeSource| VolumeClaim::new("data", "shop", "1Gi", source);
    let mut cases: Vec<(&str, VolumeClaim)> = vec![
        ("name", VolumeClaim::new("Data", "shop", "1Gi", nas())),
        ("namespace", VolumeClaim::new("data", "", "1Gi", nas())),
        ("capacity", VolumeClaim::new("data", "shop", "lots", nas())),
        ("capacity", VolumeClaim::new("data", "shop", "0Gi", nas())),
        (
            "storage_class_name",
            claim(nas().into()).with_storage_class_name("Bad Class"),
        ),
        ("server", claim(NasVolume::new("", "/k8s").into())),
        (
            "server",
            claim(NasVolume::new("x.nas.aliyuncs.com:/k8s", "/k8s").into()),
        ),
        (
            "path",
            claim(NasVolume::new("x.nas.aliyuncs.com", "k8s").into()),
        ),
        ("server", claim(NfsVolume::new("", "/export").into())),
        ("path", claim(NfsVolume::new("nfs.local", "export").into())),
        (
            "ak_id",
            claim(OssVolume::new("bucket-1", "oss.example", "", "s").into()),
        ),
        (
            "ak_secret",
            claim(OssVolume::new("bucket-1", "oss.example", "i", "").into()),
        ),
        (
            "bucket",
            claim(OssVolume::new("Bucket", "oss.example", "i", "s").into()),
        ),
        (
            "bucket",
            claim(OssVolume::new("ab", "oss.example", "i", "s").into()),
        ),
        (
            "url",
            claim(OssVolume::new("bucket-1", "", "i", "s").into()),
        ),
        (
            "volume_id",
            claim(
                CinderVolume::Existing {
                    volume_id: " ".into(),
                    fs_type: None,
                }
                .into(),
            ),
        ),
        (
            "access_modes",
            claim(
                CinderVolume::Existing {
                    volume_id: "v".into(),
                    fs_type: None,
                }
                .into(),
            )
            .with_access_modes([AccessMode::ReadWriteMany]),
        ),
        (
            "storage_class_name",
            claim(
                CinderVolume::Dynamic {
                    volume_type: None,
                    availability: None,
                    allow_volume_expansion: false,
                }
                .into(),
            ),
        ),
        (
            "volume_type",
            claim(
                CinderVolume::Dynamic {
                    volume_type: Some(String::new()),
                    availability: None,
                    allow_volume_expansion: false,
                }
                .into(),
            )
            .with_storage_class_name("c"),
        ),
    ];
    let mut o = oss();
    o.path = "assets".into();
    cases.push(("path", claim(o.into())));
    let mut o = oss();
    o.sig_version = Some(OssSigVersion::V4);
    cases.push(("sig_version", claim(o.into())));
    let mut o = oss();
    o.secret_name = Some("Bad_Name".into());
    cases.push(("secret_name", claim(o.into())));
    let mut n = nas();
    n.mode = Some(" ".into());
    cases.push(("mode", claim(n.into())));
    for (option, claim) in cases {
        assert_option(claim.build().unwrap_err(), option);
    }
}

#[test]
fn mount_into_rejections_and_idempotence() {
    let built = VolumeClaim::new(
        "data",
        "shop",
        "1Gi",
        NfsVolume::new("nfs.local", "/export"),
    )
    .build()
    .unwrap();
    let mut pod = k8s_openapi::api::core::v1::PodSpec {
        containers: vec![
            k8s_openapi::api::core::v1::Container {
                name: "app".into(),
                ..Default::default()
            },
            k8s_openapi::api::core::v1::Container {
                name: "sidecar".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    assert_option(
        built
            .mount_into(&mut pod, "nope", "/data", false)
            .unwrap_err(),
        "container",
    );
    assert_option(
        built
            .mount_into(&mut pod, "app", "data", false)
            .unwrap_err(),
        "mount_path",
    );
    built.mount_into(&mut pod, "app", "/data", false).unwrap();
    assert_option(
        built
            .mount_into(&mut pod, "app", "/data", true)
            .unwrap_err(),
        "mount_path",
    );
    // A second container shares the one pod volume.
    built
        .mount_into(&mut pod, "sidecar", "/data", true)
        .unwrap();
    assert_eq!(pod.volumes.as_ref().unwrap().len(), 1);
    assert_eq!(
        pod.containers[1].volume_mounts.as_ref().unwrap()[0].read_only,
        Some(true)
    );
    // A different volume with the claim's name is refused.
    pod.volumes.as_mut().unwrap()[0]
        .persistent_volume_claim
        .as_mut()
        .unwrap()
        .claim_name = "other".into();
    assert_option(
        built
            .mount_into(&mut pod, "app", "/other", false)
            .unwrap_err(),
        "volumes",
    );
}

#[test]
fn oss_access_key_never_in_debug_only_base64_in_secret() {
    let mut o = OssVolume::new(
        "bucket-1",
        "oss-cn-hangzhou.aliyuncs.com",
        "AKID-visible-no",
        "s3cr3t-value",
    );
    o.other_opts = Some("-o allow_other".into());
    let claim = VolumeClaim::new("assets", "shop", "1Gi", o.clone());
    let built = claim.build().unwrap();
    for debug in [
        format!("{o:?}"),
        format!("{o:#?}"),
        format!("{claim:?}"),
        format!("{built:?}"),
        format!("{built:#?}"),
        format!("{:?}", built.objects()),
    ] {
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(!debug.contains("AKID-visible-no"), "{debug}");
    }
    let yaml = render_yaml(&built.objects());
    assert!(!yaml.contains("s3cr3t-value"));
    assert!(!yaml.contains("AKID-visible-no"));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
    assert!(yaml.contains(&format!("akSecret: {b64}")), "{yaml}");
    // Only the Secret carries it.
    assert_eq!(yaml.matches(&b64).count(), 1);
    assert_eq!(
        built.secret.as_ref().unwrap().data.as_ref().unwrap()["akSecret"].0,
        b"s3cr3t-value"
    );
}
