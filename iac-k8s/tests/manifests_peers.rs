//! Every generated Kubernetes object, checked by the real schema validator
//! (`../shared/peers/k8s-validate.sh`: kubernetes-validate, strict, Kubernetes 1.33 and
//! 1.37). Runs only with `IAC_PEERS=1`; otherwise prints "skipped".

#[path = "manifests_fixtures.rs"]
mod fixtures;

use std::process::Command;

use iac_k8s::manifests::render_yaml;

const VALIDATOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/peers/k8s-validate.sh"
);

#[test]
fn every_generated_object_passes_k8s_validate() {
    if std::env::var("IAC_PEERS").as_deref() != Ok("1") {
        println!("skipped: set IAC_PEERS=1 to run k8s-validate.sh on the generated manifests");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    let mut documents = 0;
    for (name, objects) in fixtures::all_groups() {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, render_yaml(&objects)).expect("write manifest");
        documents += objects.len();
        files.push(path);
    }
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
