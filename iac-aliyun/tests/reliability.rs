//! Reliability on the simulated cloud, in one process and in virtual time:
//!
//! - the fault soak: applies of the 60-resource stack under 20% transient faults converge,
//!   the cloud and the state match one to one, destroy leaves nothing;
//! - rollback: a permanent failure at a random resource, under throttling, 503s and dropped
//!   connections, leaves the cloud exactly as it was;
//!   a failure during the rollback is reported with what is left, and the state keeps it;
//! - the simulator refuses what the cloud refuses (bad signature, unknown key, reused nonce,
//!   clock skew) and the client calls each an auth error, sent once.
//!
//! `IAC_RELIABILITY_SOAK_RUNS` (default 3) and `IAC_RELIABILITY_ROLLBACK_RUNS` (default 8)
//! set the number of seeds; `.ci/reliability.sh` runs them at 10/10 (quick) or 100/100
//! (full). Each test prints one `reliability <name>: ...` line of figures.

mod common;

use std::panic::AssertUnwindSafe;

use common::*;
use futures::FutureExt;
use iac_aliyun::client::{Params, RetryPolicy};
use iac_aliyun::endpoints::Product;
use iac_aliyun::sign::{AccessKey, rpc};
use iac_aliyun::sim::{Delays, Faults, Refusal, SimConfig, Simulator};
use iac_core::engine::{RunOptions, Status};
use iac_core::provider::ErrorKind;
use iac_core::state::{MemoryStateStore, StateStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PASSWORD: &str = "Soak-Pass-0";

/// Transient faults of every kind, 5.5% each: about 20% of requests fail.
fn transient_faults(seed: u64) -> Faults {
    Faults {
        seed,
        throttle_rate: 0.055,
        server_error_rate: 0.055,
        drop_rate: 0.055,
        timeout_after_success_rate: 0.055,
        ..Faults::default()
    }
}

#[derive(Debug, Default)]
struct SoakFigures {
    runs: u64,
    converged: u64,
    duplicates: usize,
    leaks: usize,
    missing: usize,
    left_after_destroy: usize,
    panics: u64,
    requests: u64,
    faults: u64,
}

/// One seed: apply under faults, compare, plan again, destroy. Returns what went wrong.
async fn soak_once(seed: u64, figures: &mut SoakFigures) -> Result<(), String> {
    let sim = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    sim.set_faults(transient_faults(seed));
    let client = client(&sim, sim.access_key());
    let store = MemoryStateStore::new();
    let engine = engine(&client, store.clone(), seed);
    let name = format!("soak{seed}");
    let input = stack(&name, "").with_parameter(PASSWORD_PARAM, PASSWORD);
    let applied = engine.apply(&input, RunOptions::default()).await;
    let state = store.load(&name).await.map_err(|e| e.to_string())?;
    let acc = account(&sim.inventory(), state.as_ref());
    figures.duplicates += acc.duplicates.len();
    figures.leaks += acc.leaks.len();
    figures.missing += acc.missing.len();
    match &applied {
        Ok(report) if report.is_success() && acc.is_exact() => figures.converged += 1,
        Ok(_) | Err(_) => {}
    }
    let mut problems = Vec::new();
    if let Err(e) = &applied {
        problems.push(format!("apply: {e}"));
    }
    if !acc.is_exact() {
        problems.push(format!("after apply: {acc:?}"));
    }
    // The objects of 60 resources: 8 ingress rules, 3 listeners and 3 backend sets are
    // objects of their own here.
    if applied.is_ok() && acc.cloud != STACK_RESOURCES {
        problems.push(format!("{} objects for {STACK_RESOURCES}", acc.cloud));
    }
    if applied.is_ok() {
        match engine.plan(&input).await {
            Ok(plan) if plan.is_empty() => {}
            Ok(plan) => problems.push(format!("a second plan is not empty:\n{plan}")),
            Err(e) => problems.push(format!("plan: {e}")),
        }
    }
    if let Err(e) = engine.destroy(&name, RunOptions::default()).await {
        problems.push(format!("destroy: {e}"));
    }
    let left = sim.inventory().len();
    figures.left_after_destroy += left;
    if left != 0 {
        problems.push(format!("destroy left {left} objects"));
    }
    let injected = sim.injected_faults();
    figures.requests += sim.total_calls();
    figures.faults += injected.total();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[tokio::test(start_paused = true)]
async fn fault_soak_converges_with_no_duplicate_and_no_leak() {
    let runs = runs("IAC_RELIABILITY_SOAK_RUNS", 3);
    let mut figures = SoakFigures::default();
    let mut failures = Vec::new();
    for seed in 1..=runs {
        figures.runs += 1;
        let outcome = AssertUnwindSafe(soak_once(seed, &mut figures))
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("seed {seed}: {e}")),
            Err(_) => {
                figures.panics += 1;
                failures.push(format!("seed {seed}: panicked"));
            }
        }
    }
    let share = figures.faults as f64 / figures.requests.max(1) as f64;
    println!(
        "reliability soak: runs={} converged={} duplicates={} leaks={} missing={} left_after_destroy={} panics={} requests={} faults_injected={} ({:.1}%)",
        figures.runs,
        figures.converged,
        figures.duplicates,
        figures.leaks,
        figures.missing,
        figures.left_after_destroy,
        figures.panics,
        figures.requests,
        figures.faults,
        share * 100.0
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(figures.converged, runs);
    assert!(
        (0.15..0.25).contains(&share),
        "the soak is meant to run at about 20% faults, not {share}"
    );
}

/// The creates of the stack, with how many calls of each a clean apply makes.
const CREATES: &[(&str, u64)] = &[
    ("CreateVpc", 1),
    ("CreateVSwitch", 4),
    ("CreateSecurityGroup", 4),
    ("AuthorizeSecurityGroup", 8),
    ("RunInstances", 28),
    ("CreateLoadBalancer", 3),
    ("CreateLoadBalancerTCPListener", 3),
    ("AddBackendServers", 3),
    ("CreateFileSystem", 2),
    ("CreateMountTarget", 2),
    ("PutBucket", 2),
];

/// A simulator already holding another stack's objects, so that "as before" is not empty.
async fn sim_with_neighbour(seed: u64) -> (Simulator, iac_aliyun::client::Client) {
    let sim = Simulator::start(SimConfig {
        delays: Delays::default(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let client = client(&sim, sim.access_key());
    let engine = engine(&client, MemoryStateStore::new(), seed);
    let mut neighbour = iac_core::stack::Stack::new("neighbour");
    neighbour.add(
        "Vpc",
        iac_aliyun::resources::types::Vpc {
            cidr_block: "192.168.0.0/16".into(),
            ..Default::default()
        },
    );
    neighbour.add(
        "Bucket",
        iac_aliyun::resources::types::Bucket {
            bucket_name: "neighbour-bucket".into(),
            ..Default::default()
        },
    );
    let input = iac_core::engine::StackInput::new("neighbour", neighbour.template().unwrap());
    engine
        .apply(&input, RunOptions::default())
        .await
        .expect("the neighbour stack applies");
    sim.reset_counts();
    (sim, client)
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_rolls_back_to_exactly_the_cloud_before() {
    let runs = runs("IAC_RELIABILITY_ROLLBACK_RUNS", 8);
    let (mut rolled_back, mut exact, mut panics) = (0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for seed in 1..=runs {
        let outcome = AssertUnwindSafe(async {
            let mut rng = StdRng::seed_from_u64(seed);
            let (action, count) = CREATES[rng.gen_range(0..CREATES.len())];
            let after = rng.gen_range(0..count);
            let (sim, client) = sim_with_neighbour(seed).await;
            let before = serde_json::to_value(sim.inventory()).unwrap();
            let (status, code) =
                [(400, "QuotaExceeded"), (403, "Forbidden.RAM")][seed as usize % 2];
            // Transient faults the cloud answers before doing anything: a lost answer
            // followed by a refused retry would leave an object no one heard of (see
            // RELIABILITY.md, limits).
            sim.set_faults(Faults {
                refusals: vec![Refusal::new(action, after, status, code)],
                throttle_rate: 0.07,
                server_error_rate: 0.07,
                drop_rate: 0.07,
                ..Faults::default()
            });
            let store = MemoryStateStore::new();
            let engine = engine(&client, store.clone(), seed);
            let name = format!("rb{seed}");
            let input = stack(&name, "").with_parameter(PASSWORD_PARAM, PASSWORD);
            let err = engine
                .apply(&input, RunOptions::default())
                .await
                .err()
                .ok_or_else(|| format!("{action} refused after {after}: the apply succeeded"))?;
            let report = err
                .report()
                .ok_or_else(|| format!("not a failure report: {err}"))?;
            let msg = err.to_string();
            if !msg.contains(code) {
                return Err(format!("the error does not give the cloud's code: {msg}"));
            }
            if report.status != Status::RollbackComplete || !report.left_behind.is_empty() {
                return Err(format!("{action} after {after}: {msg}"));
            }
            let after_inv = serde_json::to_value(sim.inventory()).unwrap();
            let state = store.load(&name).await.unwrap();
            let leftover = state_objects(state.as_ref());
            if before != after_inv {
                return Err(format!(
                    "{action} after {after}: the cloud differs from before:\nbefore {before}\nafter  {after_inv}"
                ));
            }
            Ok::<_, String>((before == after_inv, leftover.is_empty(), action, after))
        })
        .catch_unwind()
        .await;
        match outcome {
            Ok(Ok((same, state_empty, action, after))) => {
                rolled_back += 1;
                if same && state_empty {
                    exact += 1;
                } else {
                    failures.push(format!(
                        "seed {seed} ({action} after {after}): cloud as before: {same}, state empty: {state_empty}"
                    ));
                }
            }
            Ok(Err(e)) => failures.push(format!("seed {seed}: {e}")),
            Err(_) => {
                panics += 1;
                failures.push(format!("seed {seed}: panicked"));
            }
        }
    }
    println!(
        "reliability rollback: runs={runs} rolled_back={rolled_back} cloud_exactly_as_before={exact} panics={panics}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(start_paused = true)]
async fn a_failure_during_rollback_is_reported_with_what_is_left() {
    let (sim, client) = sim_with_neighbour(7).await;
    sim.set_faults(Faults {
        refusals: vec![
            // The 10th instance fails; the rollback may then not delete VSwitches.
            Refusal::new("RunInstances", 9, 400, "QuotaExceeded.Instance"),
            Refusal::new("DeleteVSwitch", 0, 403, "Forbidden.RAM"),
        ],
        ..Faults::default()
    });
    let store = MemoryStateStore::new();
    let engine = engine(&client, store.clone(), 7);
    let input = stack("rbfail", "").with_parameter(PASSWORD_PARAM, PASSWORD);
    let err = engine
        .apply(&input, RunOptions::default())
        .await
        .expect_err("an instance is refused");
    let report = err.report().expect("a failure report");
    assert_eq!(report.status, Status::RollbackFailed, "{err}");
    let left: Vec<&str> = report
        .left_behind
        .iter()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    for id in ["VSwitch0", "VSwitch1", "VSwitch2", "VSwitch3", "Vpc"] {
        assert!(left.contains(&id), "{id} is reported as left: {err}");
    }
    let msg = err.to_string();
    assert!(
        msg.contains("left behind") && msg.contains("VSwitch0") && msg.contains("Forbidden.RAM"),
        "{msg}"
    );
    // What is left is exactly what the state still names: nothing is lost track of.
    let state = store.load("rbfail").await.unwrap();
    let acc = account(&sim.inventory(), state.as_ref());
    let neighbour = 2;
    assert_eq!(acc.leaks.len(), neighbour, "{acc:?}");
    assert!(
        acc.missing.is_empty() && acc.duplicates.is_empty(),
        "{acc:?}"
    );
    assert_eq!(acc.state, left.len(), "{acc:?} vs {left:?}");
    // Once the permission is back, destroy removes what was left.
    sim.set_faults(Faults::default());
    engine
        .destroy("rbfail", RunOptions::default())
        .await
        .expect("destroy");
    assert_eq!(sim.inventory().len(), neighbour, "{:?}", sim.inventory());
    println!(
        "reliability rollback-failure: left_behind={} reported_in_error=yes state_keeps_them=yes",
        report.left_behind.len()
    );
}

/// Sends one RPC V1 request as the client would, with the nonce and timestamp given, and
/// decodes the answer with the client's error decoder.
async fn raw_rpc(
    sim: &Simulator,
    key: &AccessKey,
    nonce: &str,
    timestamp: &str,
) -> Result<serde_json::Value, iac_aliyun::error::ApiError> {
    let call = rpc::RpcCall {
        method: "POST",
        action: "DescribeVpcs",
        version: Product::Vpc.api_version(),
        region: Some(sim.region()),
        params: Vec::new(),
    };
    let signed = rpc::sign_call(&call, key, nonce, timestamp);
    let response = reqwest::Client::new()
        .post(format!("{}/", sim.endpoint()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(signed.encoded)
        .send()
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    if status == 200 {
        Ok(serde_json::from_str(&body).unwrap())
    } else {
        Err(iac_aliyun::error::ApiError::decode(
            status,
            &body,
            Some("DescribeVpcs"),
        ))
    }
}

#[tokio::test]
async fn the_simulator_refuses_what_the_cloud_refuses_and_the_client_calls_it_auth() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let good = sim.access_key();
    let now = chrono::Utc::now();
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();

    // Through the client, whose retries are on (3 attempts): each is sent once.
    let wrong_secret = AccessKey::new(good.id.clone(), "not-the-secret");
    let unknown_key = AccessKey::new("LTAI-nobody", "whatever");
    for (key, code) in [
        (wrong_secret.clone(), "SignatureDoesNotMatch"),
        (unknown_key, "InvalidAccessKeyId.NotFound"),
    ] {
        let c = client(&sim, key).with_retry(RetryPolicy::default());
        let err = c
            .rpc(Product::Vpc, "DescribeVpcs", Params::new())
            .await
            .expect_err("refused");
        assert_eq!(err.code, code, "{err}");
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(!err.kind().is_retryable());
        assert!(err.request_id.is_some(), "{err}");
    }

    // Reused nonce and clock skew need a request the client would never send.
    assert!(raw_rpc(&sim, &good, "nonce-1", &ts(now)).await.is_ok());
    let cases = [
        ("nonce-1", ts(now), "SignatureNonceUsed"),
        (
            "nonce-2",
            ts(now - chrono::TimeDelta::minutes(20)),
            "InvalidTimeStamp.Expired",
        ),
        (
            "nonce-3",
            ts(now + chrono::TimeDelta::minutes(20)),
            "InvalidTimeStamp.Expired",
        ),
        ("nonce-4", "yesterday".to_owned(), "InvalidTimeStamp.Format"),
    ];
    for (nonce, timestamp, code) in cases {
        let err = raw_rpc(&sim, &good, nonce, &timestamp)
            .await
            .expect_err(code);
        assert_eq!((err.code.as_str(), err.http_status), (code, 400), "{err}");
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(!err.kind().is_retryable());
    }
    // A wrong secret is refused before the nonce is spent: the right one then works.
    let err = raw_rpc(&sim, &wrong_secret, "nonce-5", &ts(now))
        .await
        .expect_err("wrong secret");
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert!(raw_rpc(&sim, &good, "nonce-5", &ts(now)).await.is_ok());
    // None of the refused requests reached an action.
    assert_eq!(sim.total_calls(), 2, "{:?}", sim.call_counts());
    println!("reliability auth: refused=7 classified_auth=7 retried=0");
}
