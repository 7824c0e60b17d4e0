//! `kill -9` and resume, and two processes on one stack.
//!
//! This test binary is its own child: run with `IAC_KILL_CHILD=apply|destroy` it is one
//! `iac` process (an engine over a file state store, talking to the simulator named by
//! `IAC_KILL_ENDPOINT`). Run plainly, it is the parent: it serves the simulated cloud, starts
//! children and kills them with SIGKILL at chosen requests, through the simulator's request
//! hook, which runs after the cloud did the action and before the answer leaves. So "killed
//! between the create call and the state write" is exact: the instance exists, the child
//! never heard of it, its journal holds only the pending create.
//!
//! Each run, on a fresh cloud and state directory:
//! 1. a child applies the 60-resource stack and is killed at a random request, or right
//!    after the k-th create the cloud performed;
//! 2. the next child finds the dead child's lock: it must fail at once naming that pid and
//!    how to break the lock, and the lock file must still be there (never broken silently);
//! 3. the lock is broken as the message says, a child resumes: it must converge with the
//!    cloud and the state one to one (0 duplicates, 0 leaks);
//! 4. a child destroys and is killed at a random request; the next one finishes: empty cloud.
//!
//! Then a crash during rollback (a refused create, the child killed during the deletes, the
//! next apply rolls back again to an empty cloud), and two processes applying one stack: the
//! second fails at once naming the first as holder.
//!
//! `IAC_RELIABILITY_KILL_RUNS` sets the runs (default 3; `.ci/reliability.sh`: 6 quick, 50
//! full). The figures are printed as `reliability kill: ...`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use iac_aliyun::sign::AccessKey;
use iac_aliyun::sim::{Delays, Faults, Refusal, SimConfig, SimRequest, Simulator};
use iac_core::engine::{EngineError, RunOptions};
use iac_core::state::{FileStateStore, StateError, StateStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const STACK: &str = "killme";
const PASSWORD: &str = "Kill-Pass-0";
/// Exit code of a child that found the stack locked.
const LOCKED: i32 = 3;
/// Exit code of a child whose operation failed.
const FAILED: i32 = 2;

fn main() {
    match std::env::var("IAC_KILL_CHILD") {
        Ok(role) => child(&role),
        Err(_) => parent(),
    }
}

// ---------------------------------------------------------------- the child

fn child(role: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = rt.block_on(async {
        let endpoint = std::env::var("IAC_KILL_ENDPOINT").expect("IAC_KILL_ENDPOINT");
        let dir = std::env::var("IAC_KILL_STATE").expect("IAC_KILL_STATE");
        let key = AccessKey::new("LTAI-sim-key", "sim-secret");
        let client = iac_aliyun::client::Client::new(
            iac_aliyun::client::ClientConfig::new("cn-hangzhou", key).with_endpoint(endpoint),
        )
        .expect("client");
        let engine = engine(
            &client,
            FileStateStore::new(&dir),
            std::process::id().into(),
        );
        let result = match role {
            "apply" => {
                let input = stack(STACK, "").with_parameter(PASSWORD_PARAM, PASSWORD);
                engine.apply(&input, RunOptions::default()).await
            }
            "destroy" => engine.destroy(STACK, RunOptions::default()).await,
            other => panic!("unknown child role {other}"),
        };
        match result {
            Ok(_) => 0,
            Err(e @ EngineError::State(StateError::Locked { .. })) => {
                eprintln!("{e}");
                LOCKED
            }
            Err(e) => {
                eprintln!("{e}");
                FAILED
            }
        }
    });
    std::process::exit(code);
}

// ---------------------------------------------------------------- the parent

/// Where the parent kills a child.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// At the n-th request (1-based) that reaches an action after arming.
    Request(u64),
    /// Right after the cloud performed the n-th create (before the child hears of it).
    Create(u64),
    /// Right after the cloud performed the n-th delete.
    Delete(u64),
}

fn is_create(action: &str) -> bool {
    ["Create", "Run", "Put", "Authorize", "Add"]
        .iter()
        .any(|p| action.starts_with(p))
        && !action.starts_with("PutBucketAcl")
        && !action.starts_with("PutBucketTags")
}

/// Kills the armed child at its target.
#[derive(Default)]
struct Tripwire {
    pid: AtomicU32,
    target: std::sync::Mutex<Option<Target>>,
    requests: AtomicU64,
    creates: AtomicU64,
    deletes: AtomicU64,
    fired: AtomicBool,
    /// The action the kill followed.
    fired_at: std::sync::Mutex<Option<String>>,
}

impl Tripwire {
    fn arm(&self, pid: u32, target: Option<Target>) {
        self.requests.store(0, Ordering::SeqCst);
        self.creates.store(0, Ordering::SeqCst);
        self.deletes.store(0, Ordering::SeqCst);
        self.fired.store(false, Ordering::SeqCst);
        *self.fired_at.lock().unwrap() = None;
        *self.target.lock().unwrap() = target;
        self.pid.store(pid, Ordering::SeqCst);
    }

    /// Stops killing; the counts stay readable.
    fn disarm(&self) {
        *self.target.lock().unwrap() = None;
        self.pid.store(0, Ordering::SeqCst);
    }

    fn see(&self, req: &SimRequest) {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let creates = if req.performed && is_create(&req.action) {
            self.creates.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            0
        };
        let deletes = if req.performed && req.action.starts_with("Delete") {
            self.deletes.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            0
        };
        let hit = match *self.target.lock().unwrap() {
            Some(Target::Request(k)) => n == k,
            Some(Target::Create(k)) => creates == k,
            Some(Target::Delete(k)) => deletes == k,
            None => false,
        };
        if hit && !self.fired.swap(true, Ordering::SeqCst) {
            let pid = self.pid.load(Ordering::SeqCst);
            // SIGKILL before the answer leaves the simulator.
            let status = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            assert!(status.is_ok_and(|s| s.success()), "kill -9 {pid}");
            *self.fired_at.lock().unwrap() = Some(req.action.clone());
        }
    }
}

struct Run {
    endpoint: String,
    dir: PathBuf,
    wire: Arc<Tripwire>,
}

/// What a child did.
struct Outcome {
    status: ExitStatus,
    stderr: String,
    pid: u32,
    killed_after: Option<String>,
}

impl Outcome {
    fn killed(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal() == Some(9)
    }
}

impl Run {
    fn spawn(&self, role: &str) -> Child {
        Command::new(std::env::current_exe().expect("own path"))
            .env("IAC_KILL_CHILD", role)
            .env("IAC_KILL_ENDPOINT", &self.endpoint)
            .env("IAC_KILL_STATE", &self.dir)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a child")
    }

    /// Runs a child to its end (or its kill at `target`).
    async fn child(&self, role: &str, target: Option<Target>) -> Outcome {
        let child = self.spawn(role);
        let pid = child.id();
        self.wire.arm(pid, target);
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .expect("the child ends");
        self.wire.disarm();
        Outcome {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            pid,
            killed_after: self.wire.fired_at.lock().unwrap().clone(),
        }
    }

    fn store(&self) -> FileStateStore {
        FileStateStore::new(&self.dir)
    }

    /// After a kill: the next child must stop at the lock, naming the dead pid and how to
    /// break the lock, and leave it in place; then the lock is broken as told.
    async fn stale_lock_is_reported_then_broken(
        &self,
        role: &str,
        dead: u32,
    ) -> Result<(), String> {
        let lock = self.store().lock_path(STACK);
        if !lock.exists() {
            return Err("the killed child left no lock".into());
        }
        let blocked = self.child(role, None).await;
        if blocked.status.code() != Some(LOCKED) {
            return Err(format!(
                "a child ran over the dead child's lock: {:?} {}",
                blocked.status, blocked.stderr
            ));
        }
        let msg = blocked.stderr.trim();
        let names_holder = msg.contains(&format!("pid {dead}")) || msg.contains(&dead.to_string());
        // The way out: the lock file to remove, or the store's force_unlock.
        let says_how = msg.contains(&lock.display().to_string())
            && (msg.contains("remov") || msg.contains("force_unlock"));
        if !names_holder || !says_how {
            return Err(format!(
                "the lock message lacks the holder or the fix: {msg}"
            ));
        }
        if !lock.exists() {
            return Err("the lock was broken silently".into());
        }
        self.store()
            .force_unlock(STACK)
            .map_err(|e| format!("breaking the lock: {e}"))
    }
}

#[derive(Default, Debug)]
struct Figures {
    runs: u64,
    killed: u64,
    killed_after_create: u64,
    stale_locks_reported: u64,
    converged: u64,
    duplicates: usize,
    leaks: usize,
    missing: usize,
    destroy_killed: u64,
    destroyed_empty: u64,
    panics: u64,
}

async fn new_run(tmp: &Path, n: u64, faults: Faults) -> (Simulator, Run) {
    let sim = Simulator::start(SimConfig {
        delays: Delays::none(),
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let wire = Arc::new(Tripwire::default());
    let seen = wire.clone();
    sim.on_request(Some(Arc::new(move |r: &SimRequest| seen.see(r))));
    let dir = tmp.join(format!("run{n}"));
    let run = Run {
        endpoint: sim.endpoint(),
        dir,
        wire,
    };
    (sim, run)
}

async fn check_exact(sim: &Simulator, run: &Run, figures: &mut Figures) -> Result<(), String> {
    let state = run.store().load(STACK).await.map_err(|e| e.to_string())?;
    let acc = account(&sim.inventory(), state.as_ref());
    figures.duplicates += acc.duplicates.len();
    figures.leaks += acc.leaks.len();
    figures.missing += acc.missing.len();
    if !acc.is_exact() || acc.cloud != STACK_RESOURCES {
        return Err(format!("cloud and state differ: {acc:?}"));
    }
    Ok(())
}

/// One kill-and-resume run.
async fn kill_run(
    tmp: &Path,
    n: u64,
    calibration: (u64, u64, u64),
    figures: &mut Figures,
) -> Result<(), String> {
    let (requests, creates, destroy_requests) = calibration;
    let mut rng = StdRng::seed_from_u64(n);
    let (sim, run) = new_run(tmp, n, Faults::default()).await;
    let target = if n.is_multiple_of(2) {
        Target::Create(rng.gen_range(1..=creates))
    } else {
        Target::Request(rng.gen_range(1..=requests))
    };
    let first = run.child("apply", Some(target)).await;
    if first.killed() {
        figures.killed += 1;
        if matches!(target, Target::Create(_)) {
            figures.killed_after_create += 1;
        }
        run.stale_lock_is_reported_then_broken("apply", first.pid)
            .await?;
        figures.stale_locks_reported += 1;
        let resumed = run.child("apply", None).await;
        if !resumed.status.success() {
            return Err(format!(
                "resume after a kill at {target:?} ({:?}) failed: {}",
                first.killed_after, resumed.stderr
            ));
        }
    } else if !first.status.success() {
        return Err(format!("apply failed: {}", first.stderr));
    }
    check_exact(&sim, &run, figures).await?;
    figures.converged += 1;

    // A crash during destroy, then a destroy that finishes.
    let target = Target::Request(rng.gen_range(1..=destroy_requests));
    let first = run.child("destroy", Some(target)).await;
    if first.killed() {
        figures.destroy_killed += 1;
        run.stale_lock_is_reported_then_broken("destroy", first.pid)
            .await?;
        let again = run.child("destroy", None).await;
        if !again.status.success() {
            return Err(format!("destroy after a kill failed: {}", again.stderr));
        }
    } else if !first.status.success() {
        return Err(format!("destroy failed: {}", first.stderr));
    }
    let left = sim.inventory();
    if !left.is_empty() {
        return Err(format!("destroy left {} objects: {left:?}", left.len()));
    }
    figures.destroyed_empty += 1;
    Ok(())
}

/// Requests and creates of one clean apply, and requests of one clean destroy.
async fn calibrate(tmp: &Path) -> (u64, u64, u64) {
    let (_sim, run) = new_run(tmp, 0, Faults::default()).await;
    let apply = run.child("apply", None).await;
    assert!(
        apply.status.success(),
        "calibration apply: {}",
        apply.stderr
    );
    let requests = run.wire.requests.load(Ordering::SeqCst);
    let creates = run.wire.creates.load(Ordering::SeqCst);
    let destroy = run.child("destroy", None).await;
    assert!(
        destroy.status.success(),
        "calibration destroy: {}",
        destroy.stderr
    );
    let destroy_requests = run.wire.requests.load(Ordering::SeqCst);
    (requests, creates, destroy_requests)
}

/// A crash in the middle of a rollback. With the cause of the failure gone, the next apply
/// must converge to the whole stack (the objects the crashed rollback deleted are created
/// again); with the cause still there, it must fail and roll back, and the state must still
/// name every object left in the cloud.
async fn crash_during_rollback(tmp: &Path, seed: u64, lift: bool) -> Result<String, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let refused_after = rng.gen_range(5..20);
    let faults = Faults {
        refusals: vec![Refusal::new(
            "RunInstances",
            refused_after,
            400,
            "QuotaExceeded.Instance",
        )],
        ..Faults::default()
    };
    let (sim, run) = new_run(tmp, 1000 + seed * 2 + u64::from(lift), faults).await;
    let kill_at = rng.gen_range(1..=5);
    let first = run.child("apply", Some(Target::Delete(kill_at))).await;
    if !first.killed() {
        return Err(format!(
            "the rollback was not interrupted ({:?}): {}",
            first.status, first.stderr
        ));
    }
    run.stale_lock_is_reported_then_broken("apply", first.pid)
        .await?;
    if lift {
        sim.set_faults(Faults::default());
    }
    let again = run.child("apply", None).await;
    let state = run.store().load(STACK).await.map_err(|e| e.to_string())?;
    let acc = account(&sim.inventory(), state.as_ref());
    if lift {
        if !again.status.success() || !acc.is_exact() || acc.cloud != STACK_RESOURCES {
            return Err(format!(
                "the apply after a crashed rollback, cause gone: {:?} {} {acc:?}",
                again.status, again.stderr
            ));
        }
        return Ok(format!("killed after delete {kill_at}, then converged"));
    }
    if again.status.code() != Some(FAILED)
        || !again.stderr.contains("ROLLBACK_COMPLETE")
        || !acc.leaks.is_empty()
        || !acc.duplicates.is_empty()
    {
        return Err(format!(
            "the apply after a crashed rollback, cause still there: {:?} {} {acc:?}",
            again.status, again.stderr
        ));
    }
    let destroyed = run.child("destroy", None).await;
    if !destroyed.status.success() || !sim.inventory().is_empty() {
        return Err(format!("destroy after the rollbacks: {}", destroyed.stderr));
    }
    Ok(format!(
        "killed after delete {kill_at}, rolled back again leaving {} objects, all in the state, then destroyed",
        acc.cloud
    ))
}

/// Two processes on one stack: the second fails at once, naming the first.
async fn two_processes(tmp: &Path) -> Result<(), String> {
    let (sim, run) = new_run(tmp, 2000, Faults::default()).await;
    // Stop the first child (SIGSTOP) at its first request: it holds the lock from then on.
    let first = run.spawn("apply");
    let pid = first.id();
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    sim.on_request(Some(Arc::new(move |_: &SimRequest| {
        if !flag.swap(true, Ordering::SeqCst) {
            let _ = Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status();
        }
    })));
    while !stopped.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second child must not wait for the stopped one: if it did, it would not end
    // before the first goes on; the timeout names that.
    let second = run.spawn("apply");
    let second = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || second.wait_with_output()),
    )
    .await;
    let _ = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    let first = tokio::task::spawn_blocking(move || first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let second = second
        .map_err(|_| "the second process waited for the lock instead of failing".to_owned())?
        .unwrap()
        .unwrap();
    let msg = String::from_utf8_lossy(&second.stderr).into_owned();
    if second.status.code() != Some(LOCKED) || !msg.contains(&pid.to_string()) {
        return Err(format!("the second process: {:?} {msg}", second.status));
    }
    if !msg.contains("apply") {
        return Err(format!(
            "the message does not say what holds the lock: {msg}"
        ));
    }
    if !first.status.success() {
        return Err(format!(
            "the first process did not finish: {}",
            String::from_utf8_lossy(&first.stderr)
        ));
    }
    sim.on_request(None);
    let mut figures = Figures::default();
    check_exact(&sim, &run, &mut figures).await?;
    println!(
        "reliability concurrency: second process refused at once: {}",
        msg.trim()
    );
    Ok(())
}

fn parent() {
    let runs = runs("IAC_RELIABILITY_KILL_RUNS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = std::env::temp_dir().join(format!("iac-kill-resume-{}", std::process::id()));
    let failures = rt.block_on(async {
        let mut failures = Vec::new();
        let calibration = calibrate(&tmp).await;
        println!(
            "calibration: one apply = {} requests, {} creates; one destroy = {} requests",
            calibration.0, calibration.1, calibration.2
        );
        let mut figures = Figures::default();
        for n in 1..=runs {
            figures.runs += 1;
            let outcome = tokio::spawn({
                let tmp = tmp.clone();
                async move {
                    let mut f = Figures::default();
                    let r = kill_run(&tmp, n, calibration, &mut f).await;
                    (r, f)
                }
            })
            .await;
            match outcome {
                Ok((r, f)) => {
                    figures.killed += f.killed;
                    figures.killed_after_create += f.killed_after_create;
                    figures.stale_locks_reported += f.stale_locks_reported;
                    figures.converged += f.converged;
                    figures.duplicates += f.duplicates;
                    figures.leaks += f.leaks;
                    figures.missing += f.missing;
                    figures.destroy_killed += f.destroy_killed;
                    figures.destroyed_empty += f.destroyed_empty;
                    if let Err(e) = r {
                        failures.push(format!("run {n}: {e}"));
                    }
                }
                Err(e) => {
                    figures.panics += 1;
                    failures.push(format!("run {n} panicked: {e}"));
                }
            }
        }
        println!(
            "reliability kill: runs={} killed={} killed_after_create={} stale_locks_reported={} converged={} duplicates={} leaks={} missing={} destroy_killed={} destroyed_empty={} panics={}",
            figures.runs,
            figures.killed,
            figures.killed_after_create,
            figures.stale_locks_reported,
            figures.converged,
            figures.duplicates,
            figures.leaks,
            figures.missing,
            figures.destroy_killed,
            figures.destroyed_empty,
            figures.panics
        );
        let mut rollbacks = BTreeSet::new();
        for seed in 1..=runs.div_ceil(3).max(2) {
            match crash_during_rollback(&tmp, seed, seed % 2 == 0).await {
                Ok(what) => {
                    rollbacks.insert(what);
                }
                Err(e) => failures.push(format!("crash during rollback {seed}: {e}")),
            }
        }
        println!("reliability kill-rollback: {rollbacks:?}");
        if let Err(e) = two_processes(&tmp).await {
            failures.push(format!("two processes: {e}"));
        }
        if figures.converged != runs || figures.destroyed_empty != runs {
            failures.push(format!("not every run converged: {figures:?}"));
        }
        failures
    });
    let _ = std::fs::remove_dir_all(&tmp);
    if !failures.is_empty() {
        eprintln!("kill_resume failed:\n{}", failures.join("\n"));
        std::process::exit(1);
    }
    println!("kill_resume: ok");
}
