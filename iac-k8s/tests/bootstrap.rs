//! Tests of `iac_k8s::bootstrap`: snapshots of the generated files, token properties,
//! kubeadm round trips, spec validation and secret redaction.

use base64::Engine as _;
use iac_k8s::bootstrap::kubeadm::{
    JoinConfiguration, KubeadmDocument, parse_multi_document_yaml, to_multi_document_yaml,
};
use iac_k8s::bootstrap::{
    BootstrapToken, CaAlgorithm, CertificateKey, CloudProvider, ClusterCa, ClusterSecrets,
    ClusterSpec, Cni, ControlPlane, MachineRole, Protocol, RuleTarget, cluster_firewall_rules,
    kubeadm_documents, render_cluster,
};
use proptest::prelude::*;

const TOKEN: &str = "abcdef.0123456789abcdef";
const CERT_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Secrets with a fixed token and certificate key; the CA is random and is replaced by
/// placeholders in [`redact`].
fn secrets() -> ClusterSecrets {
    ClusterSecrets {
        ca: ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap(),
        token: BootstrapToken::parse(TOKEN).unwrap(),
        certificate_key: CertificateKey::parse(CERT_KEY).unwrap(),
    }
}

fn redact(text: &str, secrets: &ClusterSecrets) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    text.replace(&b64(secrets.ca.cert_pem()), "<CA-CERT-PEM-BASE64>")
        .replace(&b64(secrets.ca.key_pem().expose()), "<CA-KEY-PEM-BASE64>")
        .replace(&secrets.ca.ca_cert_hash(), "sha256:<CA-HASH>")
}

fn single_alibaba() -> ClusterSpec {
    ClusterSpec::new(
        "v1.33.2",
        "10.0.0.0/16",
        ControlPlane::single("10.0.1.10"),
        3,
    )
    .with_cloud_provider(CloudProvider::Alibaba {
        region: "cn-hangzhou".into(),
    })
    .with_image_repository(CloudProvider::alibaba_image_repository("cn-hangzhou"))
}

fn ha_none() -> ClusterSpec {
    ClusterSpec::new(
        "1.33.2",
        "192.168.0.0/16",
        ControlPlane::highly_available("k8s-api.example.internal", 3),
        5,
    )
    .with_cni(Cni::calico("v3.29.3"))
}

#[test]
fn snapshot_single_master_alibaba() {
    let s = secrets();
    let cluster = render_cluster(&single_alibaba(), &s).unwrap();
    assert!(cluster.other_masters.is_none());
    insta::assert_snapshot!(
        "bootstrap_first_master_alibaba_userdata",
        redact(cluster.first_master.user_data.expose(), &s)
    );
    insta::assert_snapshot!(
        "bootstrap_node_alibaba_userdata",
        redact(cluster.node.user_data.expose(), &s)
    );
    insta::assert_snapshot!("bootstrap_remove_node_script", cluster.remove_node_script);
}

#[test]
fn snapshot_ha_master_and_kubeadm_yaml() {
    let s = secrets();
    let cluster = render_cluster(&ha_none(), &s).unwrap();
    let master = cluster
        .other_masters
        .as_ref()
        .expect("HA has other masters");
    insta::assert_snapshot!(
        "bootstrap_ha_master_userdata",
        redact(master.user_data.expose(), &s)
    );
    insta::assert_snapshot!(
        "bootstrap_ha_first_master_kubeadm",
        redact(cluster.first_master.kubeadm_yaml.expose(), &s)
    );
    insta::assert_snapshot!(
        "bootstrap_ha_first_master_script",
        cluster.first_master.script
    );
    insta::assert_snapshot!(
        "bootstrap_ha_node_kubeadm",
        redact(cluster.node.kubeadm_yaml.expose(), &s)
    );
    insta::assert_yaml_snapshot!(
        "bootstrap_ha_firewall_rules",
        cluster_firewall_rules(&ha_none())
    );
}

#[test]
fn node_joins_with_the_ca_hash_and_no_unsafe_skip() {
    let s = secrets();
    for spec in [single_alibaba(), ha_none()] {
        let cluster = render_cluster(&spec, &s).unwrap();
        let docs = parse_multi_document_yaml(cluster.node.kubeadm_yaml.expose()).unwrap();
        let [KubeadmDocument::Join(join)] = docs.as_slice() else {
            panic!("a node gets one JoinConfiguration: {docs:?}");
        };
        let d = &join.discovery.bootstrap_token;
        assert_eq!(d.ca_cert_hashes, vec![s.ca.ca_cert_hash()]);
        assert_eq!(d.unsafe_skip_ca_verification, None);
        assert!(join.control_plane.is_none());
        assert_eq!(d.api_server_endpoint, spec.control_plane.endpoint());
        let ud = cluster.node.user_data.expose();
        assert!(!ud.contains("unsafeSkipCAVerification"));
        // Nodes get no CA key and no CA certificate from us.
        assert!(!ud.contains("/etc/kubernetes/pki/ca.key"));
        assert!(!ud.contains("/etc/kubernetes/pki/ca.crt\n  owner"));
        assert!(
            cluster
                .first_master
                .user_data
                .expose()
                .contains("/etc/kubernetes/pki/ca.key")
        );
    }
}

#[test]
fn ha_masters_join_the_control_plane_with_the_certificate_key() {
    let s = secrets();
    let cluster = render_cluster(&ha_none(), &s).unwrap();
    let master = cluster.other_masters.unwrap();
    let docs = parse_multi_document_yaml(master.kubeadm_yaml.expose()).unwrap();
    let [KubeadmDocument::Join(join)] = docs.as_slice() else {
        panic!("{docs:?}");
    };
    let cp = join.control_plane.as_ref().expect("controlPlane");
    assert_eq!(cp.certificate_key.as_ref(), Some(&s.certificate_key));
    assert!(cluster.first_master.script.contains("--upload-certs"));
    // Single master: no upload-certs, no certificate key.
    let single = render_cluster(&single_alibaba(), &s).unwrap();
    assert!(!single.first_master.script.contains("--upload-certs"));
    assert!(
        !single
            .first_master
            .kubeadm_yaml
            .expose()
            .contains("certificateKey")
    );
}

#[test]
fn alibaba_sets_provider_id_and_hostname_from_metadata() {
    let s = secrets();
    let cluster = render_cluster(&single_alibaba(), &s).unwrap();
    let yaml = cluster.node.kubeadm_yaml.expose();
    assert!(
        yaml.contains("- name: cloud-provider\n    value: external"),
        "{yaml}"
    );
    assert!(
        yaml.contains("- name: provider-id\n    value: __PROVIDER_ID__"),
        "{yaml}"
    );
    let script = &cluster.node.script;
    assert!(script.contains("http://100.100.100.200/latest/meta-data'/instance-id"));
    assert!(script.contains("node_name='cn-hangzhou'.\"${instance_id}\""));
    assert!(script.contains("hostnamectl set-hostname"));
    let openstack = render_cluster(
        &single_alibaba().with_cloud_provider(CloudProvider::OpenStack),
        &s,
    )
    .unwrap();
    assert!(!openstack.node.kubeadm_yaml.expose().contains("provider-id"));
    assert!(
        openstack
            .node
            .kubeadm_yaml
            .expose()
            .contains("cloud-provider")
    );
}

#[test]
fn scripts_are_idempotent_and_strict() {
    let s = secrets();
    let cluster = render_cluster(&ha_none(), &s).unwrap();
    for data in [
        &cluster.first_master,
        cluster.other_masters.as_ref().unwrap(),
        &cluster.node,
    ] {
        let sc = &data.script;
        assert!(sc.starts_with("#!/bin/bash\n"));
        assert!(sc.contains("\nset -euo pipefail\n"));
        for needle in [
            "swapoff -a",
            "/etc/fstab",
            "modprobe",
            "sysctl --system",
            "SystemdCgroup = true",
            "https://pkgs.k8s.io/core:/stable:/${k8s_minor}/deb/",
            "k8s_minor='v1.33'",
            "apt-mark hold kubelet kubeadm kubectl",
        ] {
            assert!(sc.contains(needle), "{:?} lacks {needle}", data.role);
        }
    }
    let first = &cluster.first_master.script;
    assert!(first.contains("if [ ! -f /etc/kubernetes/admin.conf ]; then"));
    assert!(first.contains("kubeadm init --config \"${kubeadm_config}\" --upload-certs"));
    assert!(first.contains("kubectl -n kube-system get daemonset calico-node"));
    assert!(
        first.contains(r#"\2"172.16.0.0/16""#),
        "calico default pool is rewritten to the pod CIDR"
    );
    assert!(
        cluster
            .node
            .script
            .contains("if [ ! -f /etc/kubernetes/kubelet.conf ]; then")
    );
    assert!(cluster.node.script.contains("kubeadm join --config"));
    assert!(!cluster.node.script.contains("kubeadm init"));
    assert!(cluster.remove_node_script.contains("kubectl drain"));
    assert!(cluster.remove_node_script.contains("kubectl delete node"));
    assert!(cluster.remove_node_script.contains("kubeadm reset -f"));
}

#[test]
fn cni_gets_the_spec_pod_cidr() {
    let s = secrets();
    let spec = single_alibaba()
        .with_cidrs("172.20.0.0/16", "172.21.0.0/20")
        .with_cni(Cni::flannel("0.26.7"));
    let cluster = render_cluster(&spec, &s).unwrap();
    let sc = &cluster.first_master.script;
    assert!(sc.contains(r#""Network": "172.20.0.0/16""#), "{sc}");
    assert!(sc.contains(
        "https://github.com/flannel-io/flannel/releases/download/v0.26.7/kube-flannel.yml"
    ));
    let yaml = cluster.first_master.kubeadm_yaml.expose();
    assert!(yaml.contains("podSubnet: 172.20.0.0/16"));
    assert!(yaml.contains("serviceSubnet: 172.21.0.0/20"));
}

#[test]
fn kubeadm_documents_round_trip() {
    let s = secrets();
    for spec in [single_alibaba(), ha_none()] {
        for role in [
            MachineRole::FirstMaster,
            MachineRole::Master,
            MachineRole::Node,
        ] {
            if role == MachineRole::Master && !spec.control_plane.is_ha() {
                assert!(kubeadm_documents(&spec, &s, role).is_err());
                continue;
            }
            let docs = kubeadm_documents(&spec, &s, role).unwrap();
            let yaml = to_multi_document_yaml(&docs).unwrap();
            assert!(yaml.starts_with("---\napiVersion: kubeadm.k8s.io/v1beta4\n"));
            assert_eq!(
                yaml.matches("apiVersion: kubeadm.k8s.io/v1beta4").count(),
                docs.len()
            );
            let back = parse_multi_document_yaml(&yaml).unwrap();
            assert_eq!(back, docs);
            assert_eq!(to_multi_document_yaml(&back).unwrap(), yaml);
        }
    }
}

#[test]
fn kubeadm_rejects_unknown_fields_kinds_and_versions() {
    let s = secrets();
    let docs = kubeadm_documents(&ha_none(), &s, MachineRole::Node).unwrap();
    let yaml = to_multi_document_yaml(&docs).unwrap();

    let bad = yaml.replace("caCertPath:", "caCertPathTypo:");
    let err = parse_multi_document_yaml(&bad).unwrap_err().to_string();
    assert!(err.contains("caCertPathTypo"), "{err}");

    let nested = yaml.replace("apiServerEndpoint:", "apiServerEndpoints:");
    assert!(parse_multi_document_yaml(&nested).is_err());

    let direct = serde_yaml::from_str::<JoinConfiguration>(&yaml.replace("---\n", "").replace(
        "kind: JoinConfiguration",
        "kind: JoinConfiguration\nextra: 1",
    ));
    assert!(direct.unwrap_err().to_string().contains("extra"));

    let old = yaml.replace("v1beta4", "v1beta3");
    assert!(parse_multi_document_yaml(&old).is_err());
    let kind = yaml.replace("JoinConfiguration", "ResetConfiguration");
    assert!(
        parse_multi_document_yaml(&kind)
            .unwrap_err()
            .to_string()
            .contains("ResetConfiguration")
    );

    // A malformed token in the file is rejected without echoing it.
    let token = yaml.replace(TOKEN, "ABCDEF.0123456789abcdef");
    let err = parse_multi_document_yaml(&token).unwrap_err().to_string();
    assert!(!err.contains("ABCDEF"), "{err}");
}

fn problems(spec: &ClusterSpec) -> Vec<(String, String)> {
    spec.problems()
        .into_iter()
        .map(|p| (p.field, p.message))
        .collect()
}

#[test]
fn validation_names_the_fields() {
    assert!(single_alibaba().validate().is_ok());
    assert!(ha_none().validate().is_ok());

    let bad = ClusterSpec::new("1.33", "10.0.0.0/8", ControlPlane::single("10.0.1.10"), 3)
        .with_cidrs("10.96.0.0/16", "10.96.0.0/20");
    let p = problems(&bad);
    let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"kubernetes_version"), "{p:?}");
    assert!(
        p.iter()
            .any(|(f, m)| f == "pod_cidr" && m.contains("overlaps service_cidr")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|(f, m)| f == "pod_cidr" && m.contains("overlaps vpc_cidr")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|(f, m)| f == "service_cidr" && m.contains("overlaps vpc_cidr")),
        "{p:?}"
    );
    let err = bad.validate().unwrap_err();
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Invalid);
    let msg = err.to_string();
    assert!(
        msg.contains("kubernetes_version") && msg.contains("pod_cidr"),
        "{msg}"
    );
    // render refuses an invalid spec.
    assert!(render_cluster(&bad, &secrets()).is_err());

    let more = ClusterSpec::new(
        "v1.30.0",
        "10.0.0.0/16",
        ControlPlane::highly_available("bad name!", 2),
        1,
    )
    .with_cidrs("172.16.0.1/16", "nope")
    .with_cloud_provider(CloudProvider::Alibaba { region: "".into() })
    .with_image_repository("https://registry.k8s.io")
    .with_cni(Cni::flannel("latest").with_manifest_url("http://x/'y"));
    let fields: Vec<String> = more.problems().into_iter().map(|p| p.field).collect();
    for f in [
        "kubernetes_version",
        "pod_cidr",
        "service_cidr",
        "control_plane.endpoint",
        "control_plane.masters",
        "cloud_provider.region",
        "image_repository",
        "cni.version",
        "cni.manifest_url",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
    }

    let outside = ClusterSpec::new(
        "v1.33.2",
        "10.0.0.0/16",
        ControlPlane::single("10.1.0.1"),
        1,
    );
    assert_eq!(problems(&outside)[0].0, "control_plane.address");

    let crowded = ClusterSpec::new(
        "v1.33.2",
        "10.0.0.0/16",
        ControlPlane::single("10.0.0.1"),
        300,
    )
    .with_cidrs("172.16.0.0/16", "172.19.0.0/20");
    assert!(
        problems(&crowded)
            .iter()
            .any(|(f, m)| f == "pod_cidr" && m.contains("room for 256"))
    );
}

#[test]
fn firewall_rules_cover_the_cluster() {
    let single = cluster_firewall_rules(&single_alibaba());
    let has =
        |rules: &[iac_k8s::bootstrap::FirewallRule], proto: Protocol, range: &str, src: &str| {
            rules
                .iter()
                .any(|r| r.protocol == proto && r.port_range == range && r.source_cidr == src)
        };
    assert!(has(&single, Protocol::Tcp, "6443/6443", "10.0.0.0/16"));
    assert!(has(&single, Protocol::Tcp, "6443/6443", "172.16.0.0/16"));
    assert!(has(&single, Protocol::Tcp, "10250/10250", "10.0.0.0/16"));
    assert!(has(&single, Protocol::Tcp, "30000/32767", "10.0.0.0/16"));
    assert!(has(&single, Protocol::Udp, "8472/8472", "10.0.0.0/16"));
    assert!(
        !single.iter().any(|r| r.port_range == "2379/2380"),
        "no etcd rule for one master"
    );

    let mut ha = ha_none();
    if let ControlPlane::HighlyAvailable { endpoint, .. } = &mut ha.control_plane {
        *endpoint = "192.168.0.100".into();
    }
    let rules = cluster_firewall_rules(&ha.with_node_port_source_cidr("0.0.0.0/0"));
    assert!(has(&rules, Protocol::Tcp, "6443/6443", "192.168.0.100/32"));
    assert!(
        rules
            .iter()
            .any(|r| r.port_range == "2379/2380" && r.applies_to == RuleTarget::ControlPlane)
    );
    assert!(has(&rules, Protocol::Tcp, "179/179", "192.168.0.0/16"));
    assert!(has(&rules, Protocol::Tcp, "30000/32767", "0.0.0.0/0"));
    assert!(!rules.iter().any(|r| r.port_range == "8472/8472"));
}

#[test]
fn secrets_never_in_debug_or_errors() {
    let s = secrets();
    let key = s.ca.key_pem().expose().to_string();
    let cluster = render_cluster(&ha_none(), &s).unwrap();
    let debug = format!("{s:?} {cluster:?} {:#?}", cluster.other_masters);
    let docs = kubeadm_documents(&ha_none(), &s, MachineRole::FirstMaster).unwrap();
    let debug = format!("{debug} {docs:?}");
    for secret in [TOKEN, &TOKEN[7..], CERT_KEY, key.as_str(), &key[28..60]] {
        assert!(!debug.contains(secret), "Debug leaks a secret");
    }
    // ...while the files themselves carry them.
    assert!(cluster.first_master.kubeadm_yaml.expose().contains(TOKEN));
    assert!(
        cluster
            .first_master
            .kubeadm_yaml
            .expose()
            .contains(CERT_KEY)
    );

    let bad_token = "abcdef.0123456789ABCDEF";
    let err = BootstrapToken::parse(bad_token).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("0123456789"));
    let err =
        CertificateKey::parse("zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("112233"));
    // A key that does not match the certificate (made here, never written in the source).
    let other = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
    let err = ClusterCa::from_pem(s.ca.cert_pem(), other.key_pem().expose()).unwrap_err();
    let body: String = other.key_pem().expose().lines().nth(1).unwrap().to_owned();
    assert!(!format!("{err} {err:?}").contains(&body));
}

#[test]
fn generated_ca_is_a_ten_year_ecdsa_ca() {
    let ca = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
    assert_eq!(ca.key_algorithm(), "ECDSA-P256");
    assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(
        ca.key_pem()
            .expose()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let hash = ca.ca_cert_hash();
    assert!(hash.starts_with("sha256:") && hash.len() == 71);
    assert!(
        hash[7..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

/// `^[a-z0-9]{6}\.[a-z0-9]{16}$`, written out.
fn token_shape(t: &str) -> bool {
    t.len() == 23
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 6 {
                b == b'.'
            } else {
                b.is_ascii_lowercase() || b.is_ascii_digit()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_tokens_match_the_kubeadm_pattern(seed in any::<u64>()) {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let token = BootstrapToken::generate_with(&mut rng);
        let t = token.secret().expose();
        prop_assert_eq!(t.len(), 23);
        prop_assert!(token_shape(t), "{t:?} does not match the pattern");
        prop_assert_eq!(BootstrapToken::parse(t).unwrap(), token.clone());
        prop_assert_eq!(token.id(), &t[..6]);
        let key = CertificateKey::generate_with(&mut rng);
        prop_assert!(CertificateKey::parse(key.secret().expose()).is_ok());
    }

    #[test]
    fn os_rng_tokens_parse(_i in 0..1000u32) {
        let token = BootstrapToken::generate();
        prop_assert!(BootstrapToken::parse(token.secret().expose()).is_ok());
    }

    #[test]
    fn parse_rejects_what_does_not_match(s in "\\PC{0,30}") {
        prop_assert_eq!(BootstrapToken::parse(&s).is_ok(), token_shape(&s));
    }
}
