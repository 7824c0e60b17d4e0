//! Signing cost per request: a typical `RunInstances` call (about 25 parameters with tags
//! and a base64 user-data script) through the RPC V1 signer, the same request through ACS3,
//! and an OSS object upload. Target: ≤ 2 µs for the RPC V1 RunInstances request.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use iac_aliyun::sign::{AccessKey, acs3, oss, rpc};
use iac_benches::run_instances_call;

fn bench(c: &mut Criterion) {
    let key = AccessKey::new("bench-access-key-id", "bench-access-key-secret");
    let call = run_instances_call();
    c.bench_function("rpc_v1/RunInstances", |b| {
        b.iter(|| {
            rpc::sign_call(
                black_box(&call),
                &key,
                "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
                "2026-11-30T10:00:00Z",
            )
        })
    });
    let body = rpc::sign_call(&call, &key, "n", "2026-11-30T10:00:00Z").encoded;
    c.bench_function("acs3/RunInstances", |b| {
        b.iter(|| {
            let hashed = acs3::hashed_payload(black_box(body.as_bytes()));
            let headers = vec![
                ("host".to_owned(), "ecs.cn-hangzhou.aliyuncs.com".to_owned()),
                ("x-acs-action".to_owned(), "RunInstances".to_owned()),
                ("x-acs-version".to_owned(), "2014-05-26".to_owned()),
                ("x-acs-date".to_owned(), "2026-11-30T10:00:00Z".to_owned()),
                (
                    "x-acs-signature-nonce".to_owned(),
                    "d410180a5abf7fe235dd9b74aca91fc0".to_owned(),
                ),
                ("x-acs-content-sha256".to_owned(), hashed.clone()),
                (
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
            ];
            acs3::sign("POST", "/", &[], &headers, &hashed, &key)
        })
    });
    let headers = vec![
        (
            "Date".to_owned(),
            "Mon, 30 Nov 2026 10:00:00 GMT".to_owned(),
        ),
        ("Content-Type".to_owned(), "text/plain".to_owned()),
        (
            "Content-MD5".to_owned(),
            "eB5eJF1ptWaXm4bijSPyxw==".to_owned(),
        ),
        ("x-oss-meta-owner".to_owned(), "k8s-demo".to_owned()),
    ];
    c.bench_function("oss_v1/PutObject", |b| {
        b.iter(|| {
            oss::sign(
                "PUT",
                black_box("iac-demo-bucket"),
                "kube/admin.conf",
                &headers,
                &[],
                &key,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
