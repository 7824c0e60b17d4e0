//! Snapshots of every generated manifest (YAML as applied), the ABAC file and the
//! k8s-keystone-auth policy.

#[path = "manifests_fixtures.rs"]
mod fixtures;

use iac_k8s::manifests::render_yaml;

#[test]
fn every_group_as_yaml() {
    for (name, objects) in fixtures::all_groups() {
        insta::assert_snapshot!(name.clone(), render_yaml(&objects));
    }
}

#[test]
fn abac_policy_file() {
    insta::assert_snapshot!(fixtures::keystone().abac_policy().unwrap());
}

#[test]
fn keystone_policy_json() {
    insta::assert_json_snapshot!(fixtures::keystone().keystone_policy().unwrap());
}

#[test]
fn pod_with_two_claims() {
    let mut pod = fixtures::pod();
    let claims = fixtures::volume_claims();
    let nas = claims[0].1.build().unwrap();
    let oss = claims[3].1.build().unwrap();
    nas.mount_into(&mut pod, "app", "/data", false).unwrap();
    oss.mount_into(&mut pod, "app", "/assets", true).unwrap();
    insta::assert_snapshot!(render_yaml(&[pod]));
}
