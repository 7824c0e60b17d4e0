//! Every manifest the app module renders (the shop in dev, staging and prod, after a
//! configuration change, and a history Secret), checked by the real schema validator
//! (`../shared/peers/k8s-validate.sh`: kubernetes-validate, strict). Runs only with
//! `IAC_PEERS=1`; otherwise prints "skipped".

#[path = "../../examples/examples/shop/mod.rs"]
mod shop;

use std::process::Command;

use chrono::DateTime;
use iac_k8s::app::{Config, Environment, Release, Revision, RevisionStatus, replicate};
use iac_k8s::manifests::render_yaml;
use serde_json::json;

const VALIDATOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/peers/k8s-validate.sh"
);

#[test]
fn every_rendered_manifest_passes_k8s_validate() {
    if std::env::var("IAC_PEERS").as_deref() != Ok("1") {
        println!("skipped: set IAC_PEERS=1 to run k8s-validate.sh on the rendered app manifests");
        return;
    }
    let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let template = shop::template("1.0.0");
    let mut prod = Config::new("shop-prod");
    prod.commit(
        json!({"web": {"replicas": 3}, "slb": {"address_type": "internet"}}),
        "prod",
        at,
    )
    .unwrap();
    let mut releases = replicate(
        &template,
        &[
            (Environment::new("dev", "shop-dev"), None),
            (Environment::new("staging", "shop-staging"), None),
            (Environment::new("prod", "shop-prod"), prod.latest()),
        ],
    )
    .unwrap();
    prod.set("api.env.LOG_LEVEL", "debug", "debug", at).unwrap();
    releases.push(
        Release::render(
            &template,
            &Environment::new("prod", "shop-prod"),
            prod.latest(),
        )
        .unwrap(),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    let mut documents = 0;
    for (i, release) in releases.iter().enumerate() {
        let path = dir.path().join(format!("{i}-{}.yaml", release.namespace()));
        let objects: Vec<_> = release.rendered.objects().cloned().collect();
        std::fs::write(&path, render_yaml(&objects)).expect("write manifest");
        documents += objects.len();
        files.push(path);
    }
    let last = releases.last().unwrap();
    let revision = Revision {
        app: "shop".into(),
        namespace: "shop-prod".into(),
        environment: "prod".into(),
        number: 2,
        status: RevisionStatus::Deployed,
        description: "Upgrade".into(),
        created: at,
        updated: at,
        template_version: "1.0.0".into(),
        config_version: Some(2),
        environment_version: None,
        values: last.values.clone(),
        release: last.rendered.clone(),
    };
    let path = dir.path().join("history-secret.yaml");
    std::fs::write(&path, render_yaml(&[revision.to_secret().unwrap()])).expect("write");
    documents += 1;
    files.push(path);

    let output = Command::new(VALIDATOR)
        .args(&files)
        .output()
        .expect("run k8s-validate.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "k8s-validate.sh failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let passed = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert_eq!(passed, documents, "every document must PASS:\n{stdout}");
    assert!(
        !stdout.contains("SKIP"),
        "no kind may be skipped:\n{stdout}"
    );
}
