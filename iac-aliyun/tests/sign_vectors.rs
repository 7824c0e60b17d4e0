//! Every vector of `../shared/vectors/aliyun/signatures.json` (computed by the official
//! SDKs), one test each: the intermediate strings and the signature must match exactly.

#![allow(non_snake_case)] // the tests carry the vectors' own names

use iac_aliyun::sign::{AccessKey, acs3, oss, rpc};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/aliyun/signatures.json"
);

fn all() -> Value {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
    serde_json::from_str(&text).expect("the vectors are JSON")
}

fn vector(name: &str) -> Value {
    all()["vectors"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no vector {name}"))
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn key(v: &Value) -> AccessKey {
    AccessKey::new(
        v["access_key_id"].as_str().unwrap_or_default(),
        v["access_key_secret"].as_str().unwrap(),
    )
}

fn check(name: &str) {
    let v = vector(name);
    let method = v["method"].as_str().unwrap();
    match v["signature_version"].as_str().unwrap() {
        s if s.starts_with("1.0") => {
            let params = pairs(&v["params"]);
            assert_eq!(
                rpc::string_to_sign(method, &params),
                v["string_to_sign"],
                "{name}: string to sign"
            );
            assert_eq!(
                rpc::sign(method, &params, &key(&v).secret),
                v["signature"],
                "{name}: signature"
            );
        }
        "ACS3-HMAC-SHA256" => {
            let signed = acs3::sign(
                method,
                v["pathname"].as_str().unwrap(),
                &pairs(&v["query"]),
                &pairs(&v["headers"]),
                v["hashed_payload"].as_str().unwrap(),
                &key(&v),
            );
            if let Some(body) = v["body"].as_str() {
                assert_eq!(
                    acs3::hashed_payload(body.as_bytes()),
                    v["hashed_payload"],
                    "{name}: payload hash"
                );
            }
            assert_eq!(
                signed.canonical_request, v["canonical_request"],
                "{name}: canonical request"
            );
            assert_eq!(
                signed.string_to_sign, v["string_to_sign"],
                "{name}: string to sign"
            );
            assert_eq!(signed.signature, v["signature"], "{name}: signature");
            assert_eq!(
                signed.authorization, v["authorization"],
                "{name}: authorization"
            );
        }
        s if s.starts_with("OSS V1") => {
            let signed = oss::sign(
                method,
                v["bucket"].as_str().unwrap(),
                v["key"].as_str().unwrap(),
                &pairs(&v["headers"]),
                &pairs(&v["params"]),
                &key(&v),
            );
            assert_eq!(
                signed.string_to_sign, v["string_to_sign"],
                "{name}: string to sign"
            );
            assert_eq!(signed.signature, v["signature"], "{name}: signature");
            assert_eq!(
                signed.authorization, v["authorization"],
                "{name}: authorization"
            );
        }
        other => panic!("{name}: unknown signature version {other}"),
    }
}

macro_rules! vectors {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { check(stringify!($name)); })*

        #[test]
        fn every_vector_in_the_file_has_a_test() {
            let mut in_file: Vec<String> =
                all()["vectors"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_owned()).collect();
            let mut tested: Vec<String> = vec![$(stringify!($name).to_owned()),*];
            in_file.sort();
            tested.sort();
            assert_eq!(in_file, tested);
        }
    };
}

vectors!(
    doc_example_DescribeRegions_GET,
    doc_example_DescribeRegions_POST,
    doc_example_legacy_TimeStamp_spelling_GET,
    ecs_DescribeInstances_InstanceIds_json_POST,
    ecs_DescribeInstances_GET,
    ecs_RunInstances_Amount_Tags_UserData_POST,
    ecs_DeleteInstances_RepeatList_POST,
    ecs_CreateSecurityGroup_POST,
    ecs_AuthorizeSecurityGroup_Permissions_POST,
    vpc_CreateVpc_POST,
    vpc_CreateVSwitch_POST,
    vpc_DescribeVpcs_GET,
    slb_CreateLoadBalancer_POST,
    slb_CreateLoadBalancerTCPListener_POST,
    slb_StartLoadBalancerListener_POST,
    slb_AddBackendServers_json_POST,
    nas_CreateFileSystem_POST,
    nas_CreateMountTarget_POST,
    ros_CreateStack_TemplateBody_in_body_POST,
    ros_GetStack_POST,
    ros_ListStackEvents_POST,
    tea_openapi_v2_DescribeVpcs_POST,
    v3_doc_example_RunInstances_POST,
    v3_CreateVpc_form_body_POST,
    oss_v1_doc_example_PutObject,
    oss_v1_PutObject,
    oss_v1_GetBucketAcl,
    oss_v1_PutBucket,
);
