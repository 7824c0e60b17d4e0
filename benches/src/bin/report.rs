//! The performance report: one table of figures, each measured in this run, printed and
//! written as JSON.
//!
//! `cargo run -p iac-benches --release --bin report [-- --quick] [--json FILE]`
//!
//! Figures 1–4 run in virtual time (a paused tokio clock) on the Alibaba Cloud simulator and
//! the Terraform scheduler model, so they are the same on every machine; figures 5 and 6
//! are real CPU time and depend on the machine. Figure 7 is real time against the real
//! OpenStack services with Heat (`IAC_OS_OPENRC`, see `iac_benches::openstack`) and says
//! `not measured` without them. `--quick` uses small sizes (CI runs it so that the harness
//! cannot rot); the default JSON file is `target/bench-report.json`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iac_aliyun::sign::{AccessKey, rpc};
use iac_aliyun::sim::{Delays, Faults};
use iac_benches::cloud::{
    self, Fixture, LATENCY, bound_cost, cluster_delays, cluster_stack, fleet_stack, paused_runtime,
    terraform_resources,
};
use iac_benches::model::{StateChangeConf, TerraformModel, Workload};
use iac_benches::openstack;
use iac_benches::{fresh_engine, plan_then_apply, run_instances_call, runtime, tree_template};
use iac_core::engine::StackInput;
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// Sizes of one run.
struct Sizes {
    /// Clusters of 25 resources in figures 1 and 2.
    clusters: usize,
    /// Instances of the fleet in figure 3.
    fleet: usize,
    /// Instances created under the quota in figure 4.
    quota_fleet: usize,
    /// Resources of the engine-overhead figure.
    overhead: usize,
    /// Timed engine runs (the median is kept).
    overhead_runs: usize,
    /// Signatures per timed batch.
    sign_batch: usize,
    /// Requests given to the Python signer.
    python_requests: usize,
    /// Neutron resources of the HOT template of figure 7.
    heat_resources: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                clusters: 4,
                fleet: 50,
                quota_fleet: 25,
                overhead: 10_000,
                overhead_runs: 3,
                sign_batch: 5_000,
                python_requests: 1_000,
                heat_resources: 30,
            }
        } else {
            Sizes {
                clusters: 80,
                fleet: 200,
                quota_fleet: 100,
                overhead: 100_000,
                overhead_runs: 5,
                sign_batch: 50_000,
                python_requests: 5_000,
                heat_resources: 150,
            }
        }
    }
}

/// Whether a figure meets its target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Met,
    Missed,
    /// A figure given for reference, with no target of its own.
    Info,
    /// Not measured for a stated reason outside this program (a peer missing).
    NotMeasured,
    /// Not measured because the measurement itself failed: the report exits with 3.
    Error,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "MISSED",
            Status::Info => "-",
            Status::NotMeasured => "not measured",
            Status::Error => "ERROR",
        }
    }
}

/// One line of the table.
struct Row {
    figure: String,
    /// The measured value, or `None` when it was not measured.
    value: Option<f64>,
    unit: &'static str,
    target: String,
    status: Status,
    detail: String,
}

impl Row {
    /// A measured figure checked against `target` (`at_most`: the value must not exceed it).
    fn checked(figure: &str, value: f64, unit: &'static str, target: f64, at_most: bool) -> Row {
        let met = if at_most {
            value <= target
        } else {
            value >= target
        };
        Row {
            figure: figure.into(),
            value: Some(value),
            unit,
            target: format!("{} {target}", if at_most { "≤" } else { "≥" }),
            status: if met { Status::Met } else { Status::Missed },
            detail: String::new(),
        }
    }

    fn info(figure: &str, value: f64, unit: &'static str) -> Row {
        Row {
            figure: figure.into(),
            value: Some(value),
            unit,
            target: "-".into(),
            status: Status::Info,
            detail: String::new(),
        }
    }

    fn not_measured(figure: &str, target: &str, reason: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            value: None,
            unit: "",
            target: target.into(),
            status: Status::NotMeasured,
            detail: format!("not measured: {}", reason.into()),
        }
    }

    /// A figure whose measurement failed with `error`.
    fn failed(figure: &str, target: &str, error: impl Into<String>) -> Row {
        Row {
            status: Status::Error,
            detail: format!("failed: {}", error.into()),
            ..Row::not_measured(figure, target, "")
        }
    }

    fn detail(mut self, detail: impl Into<String>) -> Row {
        self.detail = detail.into();
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "figure": self.figure,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "status": self.status.as_str(),
            "detail": self.detail,
        })
    }
}

fn main() {
    let mut quick = false;
    let mut json_path: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => match args.next() {
                Some(path) => json_path = Some(path.into()),
                None => usage_error("--json needs a file name"),
            },
            "--only" => match args.next() {
                Some(figure) => only = Some(figure),
                None => usage_error("--only needs a figure number (1 to 7)"),
            },
            "-h" | "--help" => {
                println!(
                    "usage: report [--quick] [--json FILE] [--only N]\n  --quick      small sizes (CI)\n  --only N     only figure N (1 to 7; 1 and 2 run together), to profile one\n  --json FILE  where to write the table (default target/bench-report.json)"
                );
                return;
            }
            other => usage_error(&format!("unknown argument '{other}'")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."))
        .to_path_buf();
    let json_path = json_path.unwrap_or_else(|| root.join("target").join("bench-report.json"));
    let sizes = Sizes::new(quick);
    let machine = machine();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    eprintln!(
        "iac performance report ({}), {date}, {}",
        if quick { "quick" } else { "full" },
        machine["summary"].as_str().unwrap_or_default()
    );

    let mut rows = Vec::new();
    let started = Instant::now();
    let wanted = |figures: &[&str]| only.as_deref().is_none_or(|o| figures.contains(&o));
    if wanted(&["1", "2"]) {
        rows.extend(critical_path_rows(&sizes));
    }
    if wanted(&["3"]) {
        rows.push(fleet_row(&sizes));
    }
    if wanted(&["4"]) {
        rows.extend(quota_rows(&sizes));
    }
    if wanted(&["5"]) {
        rows.extend(overhead_rows(&sizes));
    }
    if wanted(&["6"]) {
        rows.extend(signing_rows(&sizes, &root));
    }
    if wanted(&["7"]) {
        rows.extend(heat_rows(&sizes));
    }

    print_table(&rows);
    let document = json!({
        "mode": if quick { "quick" } else { "full" },
        "date": date,
        "machine": machine,
        "seconds": started.elapsed().as_secs_f64(),
        "rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    if let Some(dir) = json_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match serde_json::to_string_pretty(&document)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(&json_path, text + "\n").map_err(|e| e.to_string()))
    {
        Ok(()) => eprintln!("written to {}", json_path.display()),
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", json_path.display());
            std::process::exit(1);
        }
    }
    let errors: Vec<&str> = rows
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| r.figure.as_str())
        .collect();
    if !errors.is_empty() {
        eprintln!(
            "error: these figures could not be measured: {}",
            errors.join(", ")
        );
        std::process::exit(3);
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("error: {message}\nusage: report [--quick] [--json FILE] [--only N]");
    std::process::exit(2);
}

/// The machine: cores, CPU model and load, from `/proc`.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());
    json!({
        "cores": cores,
        "cpu": cpu,
        "loadavg": load,
        "summary": format!("{cores} cores, {cpu}, load average {load}"),
    })
}

fn print_table(rows: &[Row]) {
    let value = |r: &Row| match r.value {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0} {}", r.unit),
        Some(v) => format!("{v:.3} {}", r.unit),
        None => "-".into(),
    };
    let w0 = rows
        .iter()
        .map(|r| r.figure.chars().count())
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| value(r).chars().count())
        .max()
        .unwrap_or(0);
    let w2 = rows
        .iter()
        .map(|r| r.target.chars().count())
        .max()
        .unwrap_or(0);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} | {} | {} | {:12} | detail",
        pad("figure", w0),
        pad("measured", w1),
        pad("target", w2),
        "status"
    );
    let _ = writeln!(out, "{}", "-".repeat(w0 + w1 + w2 + 30));
    for r in rows {
        let _ = writeln!(
            out,
            "{} | {} | {} | {:12} | {}",
            pad(&r.figure, w0),
            pad(&value(r), w1),
            pad(&r.target, w2),
            r.status.as_str(),
            r.detail
        );
    }
}

/// Figures 1 and 2: the cluster workload on the simulator against its critical-path bound
/// and against the Terraform model.
fn critical_path_rows(sizes: &Sizes) -> Vec<Row> {
    const F1: &str = "1. apply time / critical-path bound";
    const F2: &str = "2. our apply time / Terraform MODEL's";
    let stack = cluster_stack(sizes.clusters, 3, 13);
    let delays = cluster_delays();
    let prepared = stack
        .template()
        .map_err(|e| format!("the cluster stack is not valid: {e}"))
        .and_then(|t| Workload::from_template(&t).map_err(|e| e.to_string()))
        .and_then(|w| {
            let depth = w.depth().map_err(|e| e.to_string())?;
            let bound = w
                .critical_path(|i| bound_cost(&w.types[i], &delays, LATENCY))
                .map_err(|e| e.to_string())?;
            Ok((w, depth, bound))
        });
    let (workload, depth, bound) = match prepared {
        Ok(p) => p,
        Err(e) => {
            return vec![Row::failed(F1, "≤ 1.1", e.clone()), Row::failed(F2, "-", e)];
        }
    };
    let n = workload.len();
    let rt = paused_runtime();
    let ours = rt.block_on(async {
        let f = Fixture::start(
            delays.clone(),
            Faults {
                latency: LATENCY,
                ..Faults::default()
            },
        )
        .await?;
        let (report, took) = f.apply(&stack).await?;
        let failed = cloud::failures(&report);
        if !failed.is_empty() {
            return Err(format!("the apply did not succeed: {}", failed.join("; ")));
        }
        Ok((took, f.sim.total_calls()))
    });
    let model = TerraformModel::new(LATENCY).run(&terraform_resources(&workload, &delays));
    let mut rows = Vec::new();
    match &ours {
        Ok((took, calls)) => rows.push(
            Row::checked(F1, took.as_secs_f64() / bound.as_secs_f64(), "", 1.10, true).detail(
                format!(
                    "{n} resources, depth {depth}, 50 ms per call, boot 30 s: {took:.2?} virtual for a bound of {bound:.2?}; {calls} calls"
                ),
            ),
        ),
        Err(e) => rows.push(Row::failed(F1, "≤ 1.1", e.clone())),
    }
    match (&ours, model) {
        (Ok((took, calls)), Ok(schedule)) => rows.push(
            Row::info(F2, took.as_secs_f64() / schedule.wall.as_secs_f64(), "").detail(format!(
                "model (10 slots held through StateChangeConf waits, ECS Delay 10 s/MinTimeout 3 s): {:.2?}, {} calls; ours {took:.2?}, {calls} calls",
                schedule.wall,
                schedule.total_calls()
            )),
        ),
        (Err(e), _) => rows.push(Row::failed(F2, "-", e.clone())),
        (_, Err(e)) => rows.push(Row::failed(F2, "-", e.to_string())),
    }
    rows
}

/// Figure 3: API calls per instance of a fleet ready after 60 s, ours and the Terraform
/// model's waiter both counted at the simulator (and the pure model's count beside them).
fn fleet_row(sizes: &Sizes) -> Row {
    const F3: &str = "3. API calls per instance, fleet ready at 60 s";
    let n = sizes.fleet;
    let delays = Delays {
        instance_pending: Duration::from_secs(30),
        instance_starting: Duration::from_secs(30),
        ..Delays::default()
    };
    let stack = fleet_stack(n);
    let rt = paused_runtime();
    let ours = rt.block_on(async {
        let f = Fixture::start(
            delays.clone(),
            Faults {
                latency: LATENCY,
                ..Faults::default()
            },
        )
        .await?;
        let (report, took) = f.apply(&stack).await?;
        let failed = cloud::failures(&report);
        if !failed.is_empty() {
            return Err(format!("the apply did not succeed: {}", failed.join("; ")));
        }
        let calls = f.calls();
        let get = |a: &str| calls.get(a).copied().unwrap_or(0);
        let ours = (get("RunInstances"), get("DescribeInstances"), took);
        // The Terraform model's waiter, driven against the same simulator in the network
        // our apply just made, counted there too.
        let physical = |id: &str| {
            report
                .resources
                .iter()
                .find(|r| r.logical_id == id)
                .and_then(|r| r.physical_id.clone())
                .map(|p| p.to_string())
                .ok_or(format!("the apply left no {id}"))
        };
        let (vswitch, sg) = (physical("VSwitch")?, physical("Sg")?);
        f.sim.reset_counts();
        let started = tokio::time::Instant::now();
        cloud::terraform_fleet(&f.sim, &vswitch, &sg, n, 10, StateChangeConf::ALICLOUD_ECS).await?;
        let theirs_took = started.elapsed();
        let calls = f.calls();
        let get = |a: &str| calls.get(a).copied().unwrap_or(0);
        let theirs = (get("RunInstances"), get("DescribeInstances"), theirs_took);
        Ok((ours, theirs))
    });
    let model = stack
        .template()
        .map_err(|e| e.to_string())
        .and_then(|t| Workload::from_template(&t).map_err(|e| e.to_string()))
        .and_then(|w| {
            let schedule = TerraformModel::new(LATENCY)
                .run(&terraform_resources(&w, &delays))
                .map_err(|e| e.to_string())?;
            let instance_calls: u64 = w
                .types
                .iter()
                .zip(&schedule.calls)
                .filter(|(t, _)| *t == "ALIYUN::ECS::Instance")
                .map(|(_, &c)| u64::from(c))
                .sum();
            Ok((instance_calls, schedule.wall))
        });
    match (ours, model) {
        (
            Ok(((run, describe, took), (t_run, t_describe, t_took))),
            Ok((model_calls, model_wall)),
        ) => {
            let ours = (run + describe) as f64 / n as f64;
            let theirs = (t_run + t_describe) as f64 / n as f64;
            let computed = model_calls as f64 / n as f64;
            Row::checked(F3, ours, "calls", 1.3, true).detail(format!(
                "{n} instances: {run} RunInstances + {describe} DescribeInstances in {took:.1?}; Terraform-model waiter on the simulator: {t_run} + {t_describe} = {theirs:.2} per instance in {t_took:.1?} (the pure model computes {computed:.2} in {model_wall:.1?}); ours / theirs = {:.3}",
                ours / theirs
            ))
        }
        (Err(e), _) | (_, Err(e)) => Row::failed(F3, "≤ 1.3", e),
    }
}

/// Figure 4: a fleet under per-action quotas. The throughput is taken between the first
/// and the last instance the cloud created, sampled every 50 ms of virtual time.
fn quota_rows(sizes: &Sizes) -> Vec<Row> {
    const F4A: &str = "4a. RunInstances throughput / quota";
    const F4B: &str = "4b. throttling errors surfaced";
    const RUN_QUOTA: u32 = 5;
    const DESCRIBE_QUOTA: u32 = 20;
    let n = sizes.quota_fleet;
    let mut quota: HashMap<String, u32> = [
        "DescribeVpcs",
        "DescribeVSwitches",
        "DescribeSecurityGroups",
        "DescribeSecurityGroupAttribute",
        "DescribeInstances",
        "DescribeInstanceAttribute",
    ]
    .into_iter()
    .map(|a| (a.to_owned(), DESCRIBE_QUOTA))
    .collect();
    quota.insert("RunInstances".into(), RUN_QUOTA);
    let stack = fleet_stack(n);
    let rt = paused_runtime();
    let outcome = rt.block_on(async {
        let f = Fixture::start(
            Delays::default(),
            Faults {
                latency: LATENCY,
                quota_per_second: quota.clone(),
                ..Faults::default()
            },
        )
        .await?;
        let apply = f.apply(&stack);
        tokio::pin!(apply);
        let start = tokio::time::Instant::now();
        let mut first: Option<Duration> = None;
        let mut last: Option<Duration> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let result = loop {
            tokio::select! {
                result = &mut apply => break result,
                _ = tick.tick() => {
                    let made = f.sim.inventory().instances.len();
                    if made > 0 && first.is_none() {
                        first = Some(start.elapsed());
                    }
                    if made == n && last.is_none() {
                        last = Some(start.elapsed());
                    }
                }
            }
        };
        let made = f.sim.inventory().instances.len();
        let last = last.unwrap_or_else(|| start.elapsed());
        let unlimited: Vec<String> = f
            .calls()
            .into_keys()
            .filter(|a| {
                (a.starts_with("Describe") || a == "RunInstances") && !quota.contains_key(a)
            })
            .collect();
        Ok::<_, String>((
            result,
            made,
            first,
            last,
            f.sim.injected_faults().throttled,
            unlimited,
        ))
    });
    match outcome {
        Err(e) => vec![
            Row::failed(F4A, "≥ 0.9", e.clone()),
            Row::failed(F4B, "≤ 0", e),
        ],
        Ok((result, made, first, last, throttled, unlimited)) => {
            let surfaced = match &result {
                Ok((report, _)) => cloud::failures(report),
                Err(e) => vec![e.clone()],
            };
            let surfaced_throttling = surfaced
                .iter()
                .filter(|l| l.contains("Throttling") || l.contains("throttl"))
                .count();
            let mut rows = Vec::new();
            if !unlimited.is_empty() {
                let why = format!("the quota missed actions the run called: {unlimited:?}");
                rows.push(Row::failed(F4A, "≥ 0.9", why));
            } else if let Some(first) = first.filter(|_| made == n) {
                // The span from the first creation to the last, plus the last one-second window.
                let span = last.saturating_sub(first) + Duration::from_secs(1);
                let rate = n as f64 / span.as_secs_f64();
                rows.push(
                    Row::checked(F4A, rate / f64::from(RUN_QUOTA), "", 0.9, false).detail(format!(
                        "{n} instances at {rate:.2}/s under 5 RunInstances/s and 20 Describe*/s (sampled every 50 ms); the simulator throttled {throttled} calls"
                    )),
                );
            } else {
                rows.push(Row::failed(
                    F4A,
                    "≥ 0.9",
                    format!("{made} of {n} instances were created"),
                ));
            }
            rows.push(
                Row::checked(F4B, surfaced_throttling as f64, "", 0.0, true).detail(
                    if surfaced.is_empty() {
                        "the apply succeeded".to_owned()
                    } else {
                        format!("the apply reported: {}", surfaced.join("; "))
                    },
                ),
            );
            rows
        }
    }
}

/// Figure 5: time and peak heap per resource of plan + apply on the zero-latency
/// in-memory provider.
fn overhead_rows(sizes: &Sizes) -> Vec<Row> {
    let n = sizes.overhead;
    let input = StackInput::new("bench", tree_template(n));
    let rt = runtime();
    // Peak heap of one run, above what the template already holds.
    PEAK.reset_peak_usage();
    let base = PEAK.current_usage();
    let (cloud, engine) = fresh_engine();
    plan_then_apply(&rt, &engine, &input);
    let peak = PEAK.peak_usage().saturating_sub(base);
    drop(engine);
    drop(cloud);
    let mut times: Vec<Duration> = (0..sizes.overhead_runs)
        .map(|_| {
            let (cloud, engine) = fresh_engine();
            let took = plan_then_apply(&rt, &engine, &input);
            drop((cloud, engine));
            took
        })
        .collect();
    times.sort();
    // On a shared machine other work only ever adds time: the fastest run is the least
    // disturbed estimate; the median is given beside it.
    let fastest = times[0];
    let median = times[times.len() / 2];
    let per = fastest.as_secs_f64() * 1e6 / n as f64;
    let bytes = peak as f64 / n as f64;
    vec![
        Row::checked("5a. engine overhead per resource", per, "µs", 5.0, true).detail(format!(
            "plan + apply of {n} resources (binary tree), zero-latency in-memory provider: fastest of {} runs {fastest:.3?}, median {median:.3?} ({:.2} µs); system allocator behind peak_alloc's counters; shared, loaded machine",
            times.len(),
            median.as_secs_f64() * 1e6 / n as f64
        )),
        Row::checked("5b. peak heap per resource", bytes, "B", 2048.0, true).detail(format!(
            "peak {:.1} MiB above the template, including the in-memory cloud's inventory and the saved state",
            peak as f64 / (1024.0 * 1024.0)
        )),
    ]
}

/// Figure 6: RPC V1 signing of a RunInstances request, ours and the official Python SDK's.
fn signing_rows(sizes: &Sizes, root: &Path) -> Vec<Row> {
    let key = AccessKey::new("bench-access-key-id", "bench-access-key-secret");
    let call = run_instances_call();
    let mut per_batch: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..sizes.sign_batch {
                let signed = rpc::sign_call(
                    std::hint::black_box(&call),
                    &key,
                    "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
                    "2026-11-30T10:00:00Z",
                );
                std::hint::black_box((signed, i));
            }
            start.elapsed().as_secs_f64() * 1e6 / sizes.sign_batch as f64
        })
        .collect();
    per_batch.sort_by(f64::total_cmp);
    // The fastest batch is the least disturbed by other load; the median is given beside it.
    let ours = per_batch[0];
    let median = per_batch[per_batch.len() / 2];
    let mut rows = vec![
        Row::checked(
            "6a. RPC V1 signing per request (ours)",
            ours,
            "µs",
            2.0,
            true,
        )
        .detail(format!(
            "RunInstances, {} parameters; fastest of 5 batches of {}, median {median:.3} µs; shared, loaded machine",
            call.params.len(),
            sizes.sign_batch
        )),
    ];
    const F6B: &str = "6b. official Python SDK signing per request";
    rows.push(match python_signing(sizes.python_requests, root, &call) {
        Ok(python) => Row::info(F6B, python, "µs").detail(format!(
            "aliyun-python-sdk-core via aliyun-sign.sh, {} requests, start-up subtracted (includes its JSON I/O and a cross-check by the tea SDK); Python / ours = {:.0}",
            sizes.python_requests,
            python / ours
        )),
        Err(e) => Row::not_measured(F6B, "-", e),
    });
    rows
}

/// µs per request of the official signer: (time for `n` requests − fastest time for 1) / (n − 1).
fn python_signing(n: usize, root: &Path, call: &rpc::RpcCall<'_>) -> Result<f64, String> {
    if std::env::var("IAC_PEERS").as_deref() == Ok("0") {
        return Err("the peers are turned off (IAC_PEERS=0)".into());
    }
    let script = root.join("../shared/peers/aliyun-sign.sh");
    if !script.exists() {
        return Err(format!(
            "peer unavailable: {} does not exist",
            script.display()
        ));
    }
    let mut params = serde_json::Map::new();
    params.insert("Action".into(), call.action.into());
    params.insert("Version".into(), call.version.into());
    if let Some(region) = call.region {
        params.insert("RegionId".into(), region.into());
    }
    for (k, v) in &call.params {
        params.insert(k.clone(), v.clone().into());
    }
    let line = |i: usize| {
        json!({
            "id": i,
            "style": "rpc-v1",
            "sdk": "core",
            "method": call.method,
            "access_key_id": "bench-access-key-id",
            "access_key_secret": "bench-access-key-secret",
            "nonce": format!("3ee8c1b8-83d3-44af-a94f-{i:012}"),
            "timestamp": "2026-11-30T10:00:00Z",
            "format": "JSON",
            "params": params,
        })
        .to_string()
    };
    let run = |count: usize| -> Result<Duration, String> {
        let input: String = (0..count).map(|i| line(i) + "\n").collect();
        let start = Instant::now();
        let mut child = Command::new(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("peer unavailable: {} does not start: {e}", script.display()))?;
        let mut stdin = child.stdin.take().ok_or("the peer has no stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child
            .wait_with_output()
            .map_err(|e| format!("the peer failed: {e}"))?;
        let took = start.elapsed();
        writer
            .join()
            .map_err(|_| "the writer thread panicked".to_owned())?
            .map_err(|e| format!("cannot feed the peer: {e}"))?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "peer unavailable: aliyun-sign.sh exited with {}: {}",
                output.status,
                err.lines().last().unwrap_or("")
            ));
        }
        let answers = String::from_utf8_lossy(&output.stdout);
        let signed = answers
            .lines()
            .filter(|l| l.contains("\"signature\""))
            .count();
        if signed != count {
            return Err(format!("the peer signed {signed} of {count} requests"));
        }
        Ok(took)
    };
    // The start-up (interpreter, SDK imports) varies from run to run: keep the fastest of three.
    let one = (0..3)
        .map(|_| run(1))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min()
        .unwrap_or_default();
    let many = run(n)?;
    if many <= one {
        return Err(format!(
            "{n} requests took {many:?}, no longer than one ({one:?}): the start-up noise hides the signing"
        ));
    }
    Ok(many.saturating_sub(one).as_secs_f64() * 1e6 / (n - 1) as f64)
}

/// Figure 7: a HOT template of Neutron resources created and deleted by the real Heat and
/// by our engine against the same real Neutron (`iac_benches::openstack`).
fn heat_rows(sizes: &Sizes) -> Vec<Row> {
    const CREATE: &str = "7a. Heat vs ours, create: our time / Heat's";
    const DELETE: &str = "7b. Heat vs ours, delete: our time / Heat's";
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return vec![Row::failed(CREATE, "-", format!("no runtime: {e}"))],
    };
    let measured = runtime.block_on(async {
        let services = openstack::Services::find().await?;
        openstack::run(&services, sizes.heat_resources).await
    });
    let m = match measured {
        Ok(m) => m,
        Err(openstack::Problem::Unavailable(why)) => {
            return vec![
                Row::not_measured(CREATE, "-", why.clone()),
                Row::not_measured(DELETE, "-", why),
            ];
        }
        Err(openstack::Problem::Failed(e)) => return vec![Row::failed(CREATE, "-", e)],
    };
    let n = m.resources;
    let per = |calls: u64| calls as f64 / n as f64;
    let secs = |d: Duration| d.as_secs_f64();
    let shape = format!(
        "{n} Neutron resources ({} networks with subnet, router interface and 2 ports; 3 routers; 4 security groups with 2 inline rules and 2 rule resources each)",
        openstack::networks_for(n)
    );
    vec![
        Row::info(CREATE, secs(m.ours.create) / secs(m.heat.create), "").detail(format!(
            "{shape}: ours {:.1}s, {} calls ({:.2} per resource, {} in flight); Heat {:.1}s (stack status polled every {} s; {} calls of ours to Heat's API); both deployments compared through Neutron: the same; {}; {}",
            secs(m.ours.create),
            m.ours.create_calls,
            per(m.ours.create_calls),
            m.concurrency,
            secs(m.heat.create),
            openstack::HEAT_POLL.as_secs(),
            m.heat.create_calls,
            m.quotas,
            m.heat_settings,
        )),
        Row::info(DELETE, secs(m.ours.delete) / secs(m.heat.delete), "").detail(format!(
            "ours {:.1}s, {} calls ({:.2} per resource); Heat {:.1}s ({} calls of ours to Heat's API); Neutron afterwards holds nothing either created",
            secs(m.ours.delete),
            m.ours.delete_calls,
            per(m.ours.delete_calls),
            secs(m.heat.delete),
            m.heat.delete_calls,
        )),
    ]
}
