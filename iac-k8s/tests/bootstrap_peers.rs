//! The generated user-data checked by the real outside validators (cloud-init schema,
//! ShellCheck) and the CA hash checked against OpenSSL. Runs only with `IAC_PEERS=1`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use iac_k8s::bootstrap::{
    CaAlgorithm, CloudProvider, ClusterCa, ClusterSecrets, ClusterSpec, Cni, ControlPlane,
    render_cluster,
};

const CHECKER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/peers/userdata-check.sh"
);

fn peers_enabled() -> bool {
    if std::env::var("IAC_PEERS").as_deref() == Ok("1") {
        true
    } else {
        println!("skipped (set IAC_PEERS=1 to run the outside validators)");
        false
    }
}

fn providers() -> Vec<(&'static str, CloudProvider)> {
    vec![
        ("none", CloudProvider::None),
        (
            "alibaba",
            CloudProvider::Alibaba {
                region: "cn-hangzhou".into(),
            },
        ),
        ("openstack", CloudProvider::OpenStack),
    ]
}

#[test]
fn userdata_passes_cloud_init_schema_and_shellcheck() {
    if !peers_enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256).unwrap();
    let mut files = Vec::new();
    for (name, provider) in providers() {
        for (shape, control_plane, cni) in [
            (
                "single",
                ControlPlane::single("10.0.1.10"),
                Cni::flannel("v0.26.7"),
            ),
            (
                "ha",
                ControlPlane::highly_available("k8s-api.example.internal", 3),
                Cni::calico("v3.29.3"),
            ),
        ] {
            let spec = ClusterSpec::new("v1.33.2", "10.0.0.0/16", control_plane, 3)
                .with_cloud_provider(provider.clone())
                .with_cni(cni);
            let cluster = render_cluster(&spec, &secrets).unwrap();
            let mut roles = vec![
                ("first-master", &cluster.first_master),
                ("node", &cluster.node),
            ];
            if let Some(m) = &cluster.other_masters {
                roles.push(("master", m));
            }
            for (role, data) in roles {
                let base = format!("{name}-{shape}-{role}");
                let ud = dir.path().join(format!("{base}.userdata"));
                std::fs::write(&ud, data.user_data.expose()).unwrap();
                let sh = dir.path().join(format!("{base}.sh"));
                std::fs::write(&sh, &data.script).unwrap();
                files.push(ud);
                files.push(sh);
            }
            if name == "none" && shape == "single" {
                let rm = dir.path().join("remove-node.sh");
                std::fs::write(&rm, &cluster.remove_node_script).unwrap();
                files.push(rm);
            }
        }
    }
    let out = Command::new("bash")
        .arg(CHECKER)
        .args(&files)
        .output()
        .expect("run userdata-check.sh");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "userdata-check.sh failed: {}",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS")).count(),
        files.len(),
        "one PASS per file"
    );
}

fn openssl(args: &[&str], stdin: &[u8], cwd: &Path) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run openssl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

/// `openssl x509 -noout -pubkey | openssl pkey -pubin -outform der | sha256sum`.
fn openssl_ca_hash(cert_pem: &str, cwd: &Path) -> String {
    use sha2::Digest as _;
    let pubkey = openssl(&["x509", "-noout", "-pubkey"], cert_pem.as_bytes(), cwd);
    let der = openssl(&["pkey", "-pubin", "-outform", "der"], &pubkey, cwd);
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(der)))
}

#[test]
fn ca_hash_matches_openssl_for_ecdsa_and_rsa() {
    if !peers_enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    let ecdsa = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
    assert_eq!(
        ecdsa.ca_cert_hash(),
        openssl_ca_hash(ecdsa.cert_pem(), dir.path())
    );
    let p384 = ClusterCa::generate(CaAlgorithm::EcdsaP384).unwrap();
    assert_eq!(
        p384.ca_cert_hash(),
        openssl_ca_hash(p384.cert_pem(), dir.path())
    );

    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=kubernetes",
            "-keyout",
            "k",
            "-out",
            "c",
            "-days",
            "1",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl req");
    assert!(status.success());
    let cert = std::fs::read_to_string(dir.path().join("c")).unwrap();
    let key = std::fs::read_to_string(dir.path().join("k")).unwrap();
    let rsa = ClusterCa::from_pem(&cert, &key).unwrap();
    assert_eq!(rsa.key_algorithm(), "RSA");
    let expected = openssl_ca_hash(&cert, dir.path());
    println!("RSA CA hash {} (openssl {expected})", rsa.ca_cert_hash());
    assert_eq!(rsa.ca_cert_hash(), expected);
    assert!(!format!("{rsa:?}").contains(key.trim()));
}
