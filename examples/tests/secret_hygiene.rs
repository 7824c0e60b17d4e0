//! Secret hygiene: a stack holding an access key secret, an instance password (`NoEcho`),
//! a kubeadm bootstrap token and the cluster CA key is applied, made to fail and roll back,
//! applied again and destroyed on the simulator. Everything the run produced is captured:
//! the `Debug` of every public value it touched, every `tracing` event and span at TRACE
//! level, every engine event, every error message, the state directory's files at each step
//! and the exported template. No secret may appear in any of it, in clear or in Base64.
//! The state files are mode 0600 in a 0700 directory.
//!
//! Also: no code path of the workspace turns TLS certificate verification off.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use iac_aliyun::client::{Client, ClientConfig};
use iac_aliyun::resources::registry;
use iac_aliyun::resources::types::{Instance, SecurityGroup, VSwitch, Vpc};
use iac_aliyun::sign::AccessKey;
use iac_aliyun::sim::{Delays, Faults, Refusal, SimConfig, Simulator};
use iac_core::engine::{Engine, RunOptions, StackInput, events};
use iac_core::loader;
use iac_core::stack::{Param, Stack};
use iac_core::state::{FileStateStore, StateStore};
use iac_k8s::bootstrap::{CaAlgorithm, ClusterSecrets, ClusterSpec, ControlPlane, render_cluster};

/// Every byte of `tracing` output, at every level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut out = self.0.lock().unwrap();
        let _ = write!(out, "\nspan {}", span.metadata().name());
        span.record(&mut Fields(&mut out));
        tracing::span::Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.0.lock().unwrap();
        let _ = write!(
            out,
            "\n{} {}",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut out));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Every file under `dir` (and its subdirectories, such as a state's history), with its
/// mode checked: 0700 for directories, 0600 for files.
fn files_of(dir: &Path, out: &mut String) {
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "{}",
        dir.display()
    );
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_of(&path, out);
            continue;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        let _ = write!(
            out,
            "\n== {}\n{}",
            path.display(),
            String::from_utf8_lossy(&std::fs::read(&path).unwrap())
        );
    }
}

fn stack() -> StackInput {
    let mut s = Stack::new("hygiene");
    let password = s.parameter("InstancePassword", Param::string().no_echo());
    let user_data = s.parameter("MasterUserData", Param::string().no_echo());
    let vpc = s.add(
        "Vpc",
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            ..Default::default()
        },
    );
    let vsw = s.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: "cn-hangzhou-h".into(),
            cidr_block: "192.168.1.0/24".into(),
            ..Default::default()
        },
    );
    let sg = s.add(
        "Sg",
        SecurityGroup {
            vpc_id: vpc.vpc_id(),
            ..Default::default()
        },
    );
    for i in 0..2 {
        s.add(
            format!("Master{i}"),
            Instance {
                instance_type: "ecs.g7.large".into(),
                image_id: "ubuntu_22_04".into(),
                vswitch_id: vsw.vswitch_id(),
                security_group_id: sg.security_group_id(),
                password: password.clone(),
                user_data: user_data.clone(),
                ..Default::default()
            },
        );
    }
    StackInput::new("hygiene", s.template().unwrap())
}

#[test]
fn no_secret_reaches_any_output_of_a_run() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = String::new();
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");

    let key_secret = "AKS-hygiene-7d1f0c9e4b2a";
    let password = "Pw-hygiene-93c1a7e5";
    let secrets = ClusterSecrets::generate(CaAlgorithm::EcdsaP256).unwrap();
    let spec = ClusterSpec::new(
        "v1.33.2",
        "192.168.0.0/16",
        ControlPlane::single("192.168.1.10"),
        1,
    );
    let rendered = render_cluster(&spec, &secrets).unwrap();
    let user_data = rendered.first_master.user_data.expose().to_owned();
    let token = secrets.token.secret().expose().to_owned();
    let ca_key = secrets.ca.key_pem().expose().to_owned();
    let cert_key = secrets.certificate_key.secret().expose().to_owned();
    // The user-data really carries them (else the search below proves nothing); the CA
    // key is a Base64 file in it.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert!(user_data.contains(&token), "the token is in the user-data");
    assert!(
        user_data.contains(&b64(&ca_key)),
        "the CA key is in the user-data"
    );

    rt.block_on(async {
        let key = AccessKey::new("LTAI-hygiene", key_secret);
        let sim = Simulator::start(SimConfig {
            access_keys: vec![key.clone()],
            delays: Delays::none(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let client =
            Client::new(ClientConfig::new(sim.region(), key.clone()).with_endpoint(sim.endpoint()))
                .unwrap();
        let store = FileStateStore::new(&state_dir);
        let engine = Engine::builder()
            .provider(registry(&client))
            .state(store.clone())
            .build();
        let input = stack()
            .with_parameter("InstancePassword", password)
            .with_parameter("MasterUserData", user_data.as_str());
        let _ = write!(
            out,
            "{key:?}\n{client:?}\n{:?}\n{secrets:?}\n{rendered:?}\n{input:?}\n{engine:?}\n{sim:?}",
            client.config()
        );

        // 1. A failed apply (the second instance is refused) and its rollback.
        sim.set_faults(Faults {
            refusals: vec![Refusal::new(
                "RunInstances",
                1,
                400,
                "QuotaExceeded.Instance",
            )],
            ..Faults::default()
        });
        let (tx, mut rx) = events::channel();
        let plan = engine.plan(&input).await.unwrap();
        let _ = write!(out, "\n{plan}\n{plan:?}");
        let err = engine
            .apply(&input, RunOptions::default().with_events(tx))
            .await
            .expect_err("refused");
        let _ = write!(out, "\n{err}\n{err:?}");
        while let Ok(e) = rx.try_recv() {
            let _ = write!(out, "\n{e:?} {}", e.reason.as_deref().unwrap_or(""));
        }
        files_of(&state_dir, &mut out);

        // 2. The apply that works, a plan, the state, the export.
        sim.set_faults(Faults::default());
        let (tx, mut rx) = events::channel();
        let report = engine
            .apply(&input, RunOptions::default().with_events(tx))
            .await
            .unwrap();
        let _ = write!(out, "\n{report:?}");
        while let Ok(e) = rx.try_recv() {
            let _ = write!(out, "\n{e:?}");
        }
        let again = engine.plan(&input).await.unwrap();
        assert!(again.is_empty(), "{again}");
        let state = store.load("hygiene").await.unwrap().unwrap();
        let _ = write!(out, "\n{state:?}");
        files_of(&state_dir, &mut out);
        let exported = loader::to_json_string_pretty(&input.template).unwrap();
        let yaml = loader::to_yaml_string(&input.template).unwrap();
        let from_state = loader::to_json_string_pretty(state.template.as_ref().unwrap()).unwrap();
        let _ = write!(out, "\n{exported}\n{yaml}\n{from_state}");
        // A wrong password parameter: the parameter error must not echo it.
        let bad = stack()
            .with_parameter("InstancePassword", serde_json::json!({"secret": password}))
            .with_parameter("MasterUserData", user_data.as_str());
        if let Err(e) = engine.plan(&bad).await {
            let _ = write!(out, "\n{e}\n{e:?}");
        }

        // 3. Destroy.
        let (tx, mut rx) = events::channel();
        let report = engine
            .destroy("hygiene", RunOptions::default().with_events(tx))
            .await
            .unwrap();
        let _ = write!(out, "\n{report:?}");
        while let Ok(e) = rx.try_recv() {
            let _ = write!(out, "\n{e:?}");
        }
        assert!(sim.inventory().is_empty());
        files_of(&state_dir, &mut out);
        sim.shutdown().await;
    });

    let logs = capture.0.lock().unwrap().clone();
    assert!(
        logs.lines().count() > 10,
        "the capture saw the run's logs:\n{logs}"
    );
    out.push_str(&logs);

    let mut needles: Vec<(String, String)> = vec![
        ("access key secret".into(), key_secret.into()),
        ("instance password".into(), password.into()),
        ("password, Base64".into(), b64(password)),
        ("bootstrap token secret".into(), token.clone()),
        ("certificate key".into(), cert_key.clone()),
        ("user-data, Base64".into(), b64(&user_data)),
        ("CA key file, Base64".into(), b64(&ca_key)),
    ];
    for (i, line) in ca_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .enumerate()
    {
        needles.push((format!("CA key line {i}"), line.to_owned()));
    }
    let mut hits = Vec::new();
    for (what, needle) in &needles {
        if let Some(at) = out.find(needle.as_str()) {
            let start = out[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            hits.push(format!("{what}: ...{}", &out[start..at]));
        }
    }
    println!(
        "reliability secrets: bytes_searched={} needles={} hits={}",
        out.len(),
        needles.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "secrets found:\n{}", hits.join("\n\n"));
}

/// No code of the workspace turns TLS certificate verification off: no "danger" API of
/// reqwest or rustls, no custom verifier, no `accept_invalid_certs`. (The kubeconfig
/// setting that would do it is refused: see iac-k8s `apply_mock`.)
#[test]
fn no_code_path_disables_certificate_verification() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let forbidden = [
        "danger_accept_invalid",
        "accept_invalid_certs = true",
        "accept_invalid_certs: true",
        "dangerous()",
        "ServerCertVerifier",
        "with_custom_certificate_verifier",
        "NoCertificateVerification",
        "tls_built_in_root_certs(false)",
    ];
    let mut scanned = 0;
    let mut hits = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && !path.ends_with("secret_hygiene.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                scanned += 1;
                for f in forbidden {
                    if text.contains(f) {
                        hits.push(format!("{}: {f}", path.display()));
                    }
                }
            }
        }
    }
    assert!(scanned > 50, "scanned {scanned} files");
    assert!(hits.is_empty(), "{hits:?}");
    // The HTTP client is reqwest with rustls only.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let reqwest = manifest.lines().find(|l| l.starts_with("reqwest")).unwrap();
    assert!(
        reqwest.contains("default-features = false") && reqwest.contains("rustls-tls"),
        "{reqwest}"
    );
    assert!(!manifest.contains("native-tls"));
}
