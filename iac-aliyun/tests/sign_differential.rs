//! Our signers against the official Alibaba Cloud SDKs, on random requests.
//!
//! Runs when `IAC_PEERS=1` (CI sets it): generates requests from a fixed seed, has
//! `../shared/peers/aliyun-sign.sh` sign them with aliyun-python-sdk-core,
//! alibabacloud-openapi-util and oss2, and compares every string to sign and signature.

use std::io::Write;
use std::process::{Command, Stdio};

use iac_aliyun::sign::{AccessKey, acs3, oss, rpc};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/peers/aliyun-sign.sh"
);

/// Text with the characters signers get wrong: spaces, reserved characters, unicode.
fn tricky_text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", "9", " ", "*", "~", "/", "=", "&", "+", "%", ":", "-", "_", ".", "é", "张三",
        "🚀", "?", "#", ",", "[", "]",
    ];
    let n = rng.gen_range(0..12);
    (0..n)
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

fn name(rng: &mut StdRng) -> String {
    const NAMES: &[&str] = &[
        "VpcName",
        "CidrBlock",
        "Description",
        "Tag.1.Key",
        "Tag.1.Value",
        "Tag.2.Key",
        "UserData",
        "ZoneId",
    ];
    if rng.gen_bool(0.3) {
        format!("InstanceId.{}", rng.gen_range(1..12))
    } else {
        NAMES[rng.gen_range(0..NAMES.len())].to_owned()
    }
}

fn rpc_request(rng: &mut StdRng, i: usize) -> (Value, Vec<(String, String)>, String) {
    let method = if rng.gen_bool(0.5) { "GET" } else { "POST" };
    let mut params = vec![
        ("AccessKeyId".to_owned(), "testid".to_owned()),
        ("Action".to_owned(), "CreateVpc".to_owned()),
        ("Format".to_owned(), "JSON".to_owned()),
        ("SignatureMethod".to_owned(), "HMAC-SHA1".to_owned()),
        ("SignatureNonce".to_owned(), format!("nonce-{i}")),
        ("SignatureVersion".to_owned(), "1.0".to_owned()),
        ("Timestamp".to_owned(), "2026-11-22T10:00:00Z".to_owned()),
        ("Version".to_owned(), "2016-04-28".to_owned()),
    ];
    for _ in 0..rng.gen_range(0..6) {
        let k = name(rng);
        if !params.iter().any(|(n, _)| *n == k) {
            params.push((k, tricky_text(rng)));
        }
    }
    let map: serde_json::Map<String, Value> =
        params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let request = json!({"id": i, "style": "rpc-v1", "sdk": "tea", "method": method, "access_key_secret": "testsecret", "params": map});
    (request, params, method.to_owned())
}

#[test]
fn signatures_match_the_official_sdks_on_random_requests() {
    if std::env::var("IAC_PEERS").as_deref() != Ok("1") {
        println!("skipped: set IAC_PEERS=1 to compare with the official SDKs (CI does)");
        return;
    }
    let mut rng = StdRng::seed_from_u64(20261122);
    let key = AccessKey::new("testid", "testsecret");
    let mut requests = Vec::new();
    let mut ours: Vec<Value> = Vec::new();
    for i in 0..300usize {
        match i % 3 {
            0 => {
                let (request, params, method) = rpc_request(&mut rng, i);
                ours.push(json!({
                    "string_to_sign": rpc::string_to_sign(&method, &params),
                    "signature": rpc::sign(&method, &params, &key.secret),
                }));
                requests.push(request);
            }
            1 => {
                let body = tricky_text(&mut rng);
                let hashed = acs3::hashed_payload(body.as_bytes());
                let query: Vec<(String, String)> = (0..rng.gen_range(0..4))
                    .map(|_| (name(&mut rng), tricky_text(&mut rng)))
                    .collect();
                let mut query_map = serde_json::Map::new();
                for (k, v) in &query {
                    query_map.insert(k.clone(), json!(v));
                }
                let query: Vec<(String, String)> = query_map
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                let headers = vec![
                    ("host".to_owned(), "vpc.cn-hangzhou.aliyuncs.com".to_owned()),
                    ("x-acs-action".to_owned(), "CreateVpc".to_owned()),
                    ("x-acs-version".to_owned(), "2016-04-28".to_owned()),
                    ("x-acs-date".to_owned(), "2026-11-22T10:00:00Z".to_owned()),
                    ("x-acs-signature-nonce".to_owned(), format!("nonce-{i}")),
                    ("x-acs-content-sha256".to_owned(), hashed.clone()),
                    (
                        "content-type".to_owned(),
                        "application/x-www-form-urlencoded".to_owned(),
                    ),
                ];
                let signed = acs3::sign("POST", "/", &query, &headers, &hashed, &key);
                let header_map: serde_json::Map<String, Value> =
                    headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                requests.push(json!({
                    "id": i, "style": "acs3", "method": "POST", "pathname": "/", "query": query_map,
                    "headers": header_map, "body": body, "access_key_id": "testid", "access_key_secret": "testsecret"
                }));
                ours.push(json!({
                    "canonical_request": signed.canonical_request,
                    "signature": signed.signature,
                    "authorization": signed.authorization,
                }));
            }
            _ => {
                const SUBS: &[(&str, &str)] = &[
                    ("acl", ""),
                    ("uploads", ""),
                    ("partNumber", "3"),
                    ("uploadId", "0004B9894A22E5B1888A1E29F823"),
                ];
                let bucket = format!("bucket-{}", rng.gen_range(0..1000));
                let object = if rng.gen_bool(0.3) {
                    String::new()
                } else {
                    format!("dir/{}", tricky_text(&mut rng).replace(['?', '#'], ""))
                };
                let mut headers = vec![(
                    "Date".to_owned(),
                    "Sun, 22 Nov 2026 10:00:00 GMT".to_owned(),
                )];
                if rng.gen_bool(0.5) {
                    headers.push(("Content-Type".to_owned(), "text/plain".to_owned()));
                }
                if rng.gen_bool(0.5) {
                    headers.push((
                        "Content-MD5".to_owned(),
                        "eB5eJF1ptWaXm4bijSPyxw==".to_owned(),
                    ));
                }
                for j in 0..rng.gen_range(0..3) {
                    headers.push((
                        format!("x-oss-meta-k{j}"),
                        tricky_text(&mut rng).trim().replace(['\n', '\r'], ""),
                    ));
                }
                let subs: Vec<(String, String)> = SUBS
                    .iter()
                    .filter(|_| rng.gen_bool(0.3))
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                let method = ["GET", "PUT", "DELETE", "HEAD"][rng.gen_range(0..4)];
                let signed = oss::sign(method, &bucket, &object, &headers, &subs, &key);
                let header_map: serde_json::Map<String, Value> =
                    headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                let sub_map: serde_json::Map<String, Value> =
                    subs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                requests.push(json!({
                    "id": i, "style": "oss-v1", "method": method, "bucket": bucket, "key": object,
                    "headers": header_map, "params": sub_map, "access_key_id": "testid", "access_key_secret": "testsecret"
                }));
                ours.push(
                    json!({"string_to_sign": signed.string_to_sign, "signature": signed.signature}),
                );
            }
        }
    }
    let mut child = Command::new("bash")
        .arg(PEER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PEER}: {e}"));
    // Feed the peer from another thread: it answers while it reads, and a full stdout pipe
    // would otherwise stall both sides.
    let mut stdin = child.stdin.take().expect("piped");
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("the peer finishes");
    writer
        .join()
        .expect("the writer thread")
        .expect("the peer reads its input");
    let text = String::from_utf8_lossy(&output.stdout);
    let answers: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON answers"))
        .collect();
    assert_eq!(
        answers.len(),
        requests.len(),
        "the peer answered {} of {} requests (exit {:?})",
        answers.len(),
        requests.len(),
        output.status
    );
    let mut compared = 0;
    for ((request, mine), theirs) in requests.iter().zip(&ours).zip(&answers) {
        assert_eq!(theirs["id"], request["id"]);
        assert!(
            theirs.get("error").is_none(),
            "the SDK could not sign {request}: {}",
            theirs["error"]
        );
        for (field, value) in mine.as_object().unwrap() {
            assert_eq!(&theirs[field], value, "{field} differs for {request}");
            compared += 1;
        }
    }
    assert!(
        output.status.success(),
        "the peer exited with {:?}",
        output.status
    );
    println!(
        "compared {compared} values over {} requests with the official SDKs",
        requests.len()
    );
}

proptest! {
    #[test]
    fn signing_never_panics(method in "[A-Za-z]{0,7}", params in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..12),
                            secret in ".{0,40}", bucket in ".{0,20}", object in ".{0,30}") {
        let key = AccessKey::new("id", secret.as_str());
        let _ = rpc::sign(&method, &params, &key.secret);
        let _ = acs3::sign(&method, "/", &params, &params, "", &key);
        let _ = oss::sign(&method, &bucket, &object, &params, &params, &key);
    }
}
