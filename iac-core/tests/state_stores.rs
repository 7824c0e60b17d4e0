//! One suite for every durable state store, run against the file store and against a real
//! PostgreSQL server: round trips of states and journals, per-stack locks, two appliers
//! through the engine (the second fails at once naming the first), an applier killed with
//! SIGKILL while it holds the lock, saves against a stale serial, the history and its cap,
//! and secrets kept out of what is stored.
//!
//! The PostgreSQL half runs when `IAC_STATE_TEST_PG_URL` names a database it may create
//! schemas in (`.ci/postgres.sh start` makes one); without it, it prints "skipped", and fails
//! when `IAC_PEERS=1` (CI) so that CI cannot pass without it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::memory::{MemoryCloud, MemoryConfig};
use iac_core::provider::ErrorKind;

use iac_core::state::{
    FileStateStore, JournalEntry, MemoryStateStore, StackState, StateError, StateLock, StateStore,
    StateVersion,
};
use tokio::sync::{Semaphore, mpsc};

const SECRET: &str = "hunter2-secret-value";

/// The environment of the child process of the killed-applier test.
const CHILD_ENV: &str = "IAC_STATE_TEST_CHILD";

/// Opens stores on one backing.
trait Opens {
    type Store: StateStore + Clone + 'static;
    /// A store on the same backing, as another process would open it.
    fn open(&self) -> Self::Store;
}

/// A durable store under test, with what the suite needs beyond the trait.
#[async_trait]
trait Backend: Opens + Send + Sync {
    /// The same, keeping at most `limit` versions per stack.
    fn open_with_history(&self, limit: usize) -> Self::Store;
    /// Everything stored, as text (to look for secrets in).
    async fn raw(&self) -> String;
    /// How the child process opens the store (the value of [`CHILD_ENV`]).
    fn child_spec(&self) -> String;
    /// True when a dead holder's lock goes with it (the server's session); false when it
    /// stays, reported as stale, until broken by hand.
    const SESSION_LOCKS: bool;
    /// Breaks a stale lock.
    fn force_unlock(&self, stack: &str);
}

fn ids(state: &StackState) -> Vec<(String, String)> {
    state
        .resources
        .iter()
        .map(|(k, r)| {
            let physical = r.physical_id.as_ref().map(|p| p.as_str().to_owned());
            (k.clone(), physical.unwrap_or_default())
        })
        .collect()
}

/// Saves, appends, loads and removes; the serial follows each save.
async fn round_trips<B: Opens>(b: &B) {
    let store = b.open();
    assert!(store.load("rt").await.unwrap().is_none());
    let mut state = StackState::new("rt");
    state.resources.insert("A".into(), record("a-1"));
    state.bump_serial();
    store.save(&state).await.unwrap();
    let loaded = store.load("rt").await.unwrap().unwrap();
    assert_eq!(loaded, state);
    assert_eq!(loaded.serial, 1);

    store
        .append("rt", vec![put("B", "b-1"), put("A", "a-2")])
        .await
        .unwrap();
    store
        .append(
            "rt",
            vec![
                JournalEntry::Remove {
                    logical_id: "B".into(),
                },
                put("C", "c-1"),
            ],
        )
        .await
        .unwrap();
    // Another process sees what this one appended.
    let mut loaded = b.open().load("rt").await.unwrap().unwrap();
    let expected = vec![
        ("A".to_owned(), "a-2".to_owned()),
        ("C".to_owned(), "c-1".to_owned()),
    ];
    assert_eq!(
        ids(&loaded),
        expected,
        "the journal replays over the saved state"
    );
    assert_eq!(loaded.secret_salt, state.secret_salt);
    assert_eq!(loaded.serial, 1, "appends do not change the serial");

    loaded.bump_serial();
    store.save(&loaded).await.unwrap();
    let again = store.load("rt").await.unwrap().unwrap();
    assert_eq!(again, loaded, "a save folds the journal in");
    assert_eq!(again.serial, 2);

    // A journal without a saved state (a crash before the first save) still loads.
    store.append("fresh", vec![put("X", "x-1")]).await.unwrap();
    let fresh = store.load("fresh").await.unwrap().unwrap();
    assert_eq!(ids(&fresh), vec![("X".to_owned(), "x-1".to_owned())]);
    assert_eq!(fresh.serial, 0);

    store.remove("rt").await.unwrap();
    store.remove("fresh").await.unwrap();
    assert!(store.load("rt").await.unwrap().is_none());
    assert!(store.load("fresh").await.unwrap().is_none());
    assert!(store.history("rt").await.unwrap().is_empty());
    // A removed stack starts again from serial 0.
    let mut reborn = StackState::new("rt");
    reborn.bump_serial();
    store.save(&reborn).await.unwrap();
    store.remove("rt").await.unwrap();
}

/// Locks are per stack, name their holder, and are free again once dropped.
async fn locks_name_their_holder<B: Opens>(b: &B) {
    let store = b.open();
    let held = store.lock("lk", "apply").await.unwrap();
    let err = b.open().lock("lk", "destroy").await.unwrap_err();
    let text = err.to_string();
    match &err {
        StateError::Locked { stack, holder, .. } => {
            assert_eq!(stack, "lk");
            assert_eq!(holder.pid, std::process::id(), "{text}");
            assert_eq!(holder.operation, "apply", "{text}");
        }
        other => panic!("expected Locked, got {other}"),
    }
    assert!(
        text.contains(&format!("pid {}", std::process::id())) && text.contains("(apply)"),
        "{text}"
    );
    let other = store.lock("lk-other", "apply").await;
    assert!(other.is_ok(), "locks are per stack: {:?}", other.err());
    drop(held);
    drop(store.lock("lk", "apply").await.unwrap());
    drop(b.open().lock("lk", "apply").await.unwrap());
}

/// A save built on a state someone else has saved since fails, naming both serials.
async fn stale_saves_fail<B: Opens>(b: &B) {
    let (alice, bob) = (b.open(), b.open());
    let mut first = StackState::new("st");
    first.bump_serial();
    alice.save(&first).await.unwrap();

    let mut a = alice.load("st").await.unwrap().unwrap();
    let mut o = bob.load("st").await.unwrap().unwrap();
    a.resources.insert("A".into(), record("a-1"));
    a.bump_serial();
    alice.save(&a).await.unwrap();
    o.resources.insert("B".into(), record("b-1"));
    o.bump_serial();
    let err = bob.save(&o).await.unwrap_err();
    assert!(
        matches!(err, StateError::Stale { ref stack, expected: 1, found: 2 } if stack == "st"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'st'") && text.contains("expects the stored serial to be 1, found 2"),
        "{text}"
    );
    assert_eq!(
        ids(&bob.load("st").await.unwrap().unwrap()),
        vec![("A".to_owned(), "a-1".to_owned())],
        "the stale save changed nothing"
    );
    // A state never bumped is not newer than the stored one either.
    let err = alice
        .save(&alice.load("st").await.unwrap().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Stale { found: 2, .. }), "{err}");
    // A first save racing another first save.
    let mut late = StackState::new("st");
    late.bump_serial();
    assert!(matches!(
        bob.save(&late).await.unwrap_err(),
        StateError::Stale {
            expected: 0,
            found: 2,
            ..
        }
    ));
    alice.remove("st").await.unwrap();
}

/// Every save is kept as a version, up to the cap; `show` gives each back.
async fn history_is_kept_and_capped<B: Backend>(b: &B) {
    let store = b.open_with_history(3);
    let mut state = StackState::new("hist");
    let mut saved = Vec::new();
    for i in 1..=5 {
        state
            .resources
            .insert(format!("R{i}"), record(&format!("r-{i}")));
        state.bump_serial();
        store.save(&state).await.unwrap();
        saved.push(state.clone());
    }
    let history: Vec<StateVersion> = store.history("hist").await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.serial).collect::<Vec<_>>(),
        vec![3, 4, 5],
        "the oldest versions beyond the cap are dropped"
    );
    assert!(history.iter().all(|v| v.bytes > 100), "{history:?}");
    assert!(
        history.windows(2).all(|w| w[0].saved <= w[1].saved),
        "{history:?}"
    );
    for serial in [3u64, 4, 5] {
        let shown = store.show("hist", serial).await.unwrap().unwrap();
        assert_eq!(shown, saved[serial as usize - 1], "version {serial}");
    }
    assert!(store.show("hist", 1).await.unwrap().is_none());
    assert!(store.show("hist", 9).await.unwrap().is_none());

    let none = b.open_with_history(0);
    state.bump_serial();
    none.save(&state).await.unwrap();
    assert_eq!(
        none.history("hist")
            .await
            .unwrap()
            .iter()
            .map(|v| v.serial)
            .collect::<Vec<_>>(),
        vec![3, 4, 5],
        "a store keeping no history adds none"
    );
    store.remove("hist").await.unwrap();
    assert!(store.history("hist").await.unwrap().is_empty());
}

/// A store that holds the first apply still right after its first journal append, so that
/// a second apply runs while the first holds the lock.
#[derive(Clone)]
struct Gated<S> {
    inner: S,
    reached: mpsc::UnboundedSender<()>,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl<S: StateStore> StateStore for Gated<S> {
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError> {
        self.inner.lock(stack, operation).await
    }
    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError> {
        self.inner.load(stack).await
    }
    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        self.inner.save(state).await
    }
    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError> {
        self.inner.append(stack, entries).await?;
        let _ = self.reached.send(());
        drop(self.gate.acquire().await.expect("the gate stays open"));
        Ok(())
    }
    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        self.inner.remove(stack).await
    }
}

/// Two appliers through the engine: the second fails at once naming the first, and runs
/// once the first is done; secrets stay out of what is stored throughout.
async fn concurrent_appliers<B: Backend>(b: &B) {
    let cloud = MemoryCloud::new(MemoryConfig::default());
    let (reached, mut reached_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let first = Engine::builder()
        .provider(registry(&cloud))
        .state(Gated {
            inner: b.open(),
            reached,
            gate: Arc::clone(&gate),
        })
        .build();
    let second = Engine::builder()
        .provider(registry(&cloud))
        .state(b.open())
        .build();
    let input = StackInput::new("duo", small_stack()).with_parameter("Password", SECRET);
    let running = {
        let input = input.clone();
        tokio::spawn(async move { first.apply(&input, RunOptions::default()).await })
    };
    reached_rx
        .recv()
        .await
        .expect("the first apply reached its journal");

    let err = second
        .apply(&input, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("stack 'duo' is locked by")
            && text.contains(&format!("pid {}", std::process::id()))
            && text.contains("(apply)"),
        "{text}"
    );
    let mid = b.raw().await;
    assert!(
        mid.contains("duo"),
        "the dump holds the stack mid-apply: {mid}"
    );
    assert!(!mid.contains(SECRET), "a secret was stored mid-apply");

    gate.add_permits(Semaphore::MAX_PERMITS);
    running.await.unwrap().unwrap();
    let report = second.apply(&input, RunOptions::default()).await.unwrap();
    assert!(report.is_success());
    assert!(second.plan(&input).await.unwrap().is_empty());
    let state = second.state("duo").await.unwrap().unwrap();
    assert_eq!(state.serial, 3, "new stack, first apply, second apply");
    let after = b.raw().await;
    assert!(after.contains("UserData"), "the dump holds the resources");
    assert!(!after.contains(SECRET), "a secret was stored");

    second.destroy("duo", RunOptions::default()).await.unwrap();
    assert!(cloud.is_empty());
    assert!(b.open().load("duo").await.unwrap().is_none());
}

/// An applier killed with SIGKILL while it holds the lock: PostgreSQL frees the lock with
/// its session; the file store reports the lock as stale, with how to break it, and never
/// breaks it by itself.
async fn killed_applier<B: Backend>(b: &B) {
    let stack = "killed";
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_takes_the_lock_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, b.child_spec())
        .env("IAC_STATE_TEST_CHILD_STACK", stack)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child_pid = loop {
        let line = lines
            .next()
            .expect("the child said it holds the lock")
            .unwrap();
        // libtest may have written the test's name on the same line.
        if let Some((_, pid)) = line.split_once("LOCKED ") {
            break pid.trim().parse::<u32>().unwrap();
        }
    };
    assert_eq!(child_pid, child.id());
    let store = b.open();
    match store.lock(stack, "apply").await {
        Err(StateError::Locked { holder, .. }) => assert_eq!(holder.pid, child_pid),
        other => panic!("the child holds the lock, got {other:?}"),
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();

    if B::SESSION_LOCKS {
        // The server ends the dead session when it sees the socket close; wait for that
        // (a condition, not a time: up to 500 looks, usually the first).
        let mut lock = None;
        for _ in 0..500 {
            match store.lock(stack, "apply").await {
                Ok(held) => {
                    lock = Some(held);
                    break;
                }
                Err(StateError::Locked { holder, .. }) => assert_eq!(holder.pid, child_pid),
                Err(other) => panic!("{other}"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(lock.is_some(), "the killed applier's lock was not released");
    } else {
        for _ in 0..2 {
            let err = store.lock(stack, "apply").await.unwrap_err();
            let text = err.to_string();
            match &err {
                StateError::Locked { holder, hint, .. } => {
                    assert_eq!(holder.pid, child_pid);
                    let hint = hint.as_deref().unwrap_or_default();
                    assert!(
                        hint.contains("no longer runs on this host")
                            && hint.contains("stale")
                            && hint.contains(&format!("force_unlock(\"{stack}\")")),
                        "{text}"
                    );
                }
                other => panic!("expected a stale lock, got {other}"),
            }
        }
        b.force_unlock(stack);
        drop(store.lock(stack, "apply").await.unwrap());
    }
}

/// The child of [`killed_applier`]: takes the lock, says so, and waits to be killed.
#[tokio::test]
#[ignore = "the killed-applier tests run it in a child process, which they SIGKILL"]
async fn child_takes_the_lock_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        println!("only runs as the child process of the killed-applier tests");
        return;
    };
    let stack = std::env::var("IAC_STATE_TEST_CHILD_STACK").unwrap();
    let store: Box<dyn StateStore> = if let Some(dir) = spec.strip_prefix("file:") {
        Box::new(FileStateStore::new(dir))
    } else {
        open_pg_child(&spec)
    };
    let _held = store.lock(&stack, "apply").await.unwrap();
    println!("LOCKED {}", std::process::id());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

#[cfg(feature = "postgres")]
fn open_pg_child(spec: &str) -> Box<dyn StateStore> {
    let rest = spec.strip_prefix("pg:").expect("a pg: spec");
    let (schema, url) = rest.split_once(':').unwrap();
    Box::new(
        pg::with_test_ca(iac_core::state::PgStateStore::builder(url).schema(schema))
            .build()
            .unwrap(),
    )
}

#[cfg(not(feature = "postgres"))]
fn open_pg_child(spec: &str) -> Box<dyn StateStore> {
    panic!("{spec}: this build has no postgres feature")
}

async fn whole_suite<B: Backend>(b: &B) {
    round_trips(b).await;
    locks_name_their_holder(b).await;
    stale_saves_fail(b).await;
    history_is_kept_and_capped(b).await;
    concurrent_appliers(b).await;
    killed_applier(b).await;
}

// --- the file store ---------------------------------------------------------------------

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn path(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

impl Opens for Files {
    type Store = FileStateStore;

    fn open(&self) -> FileStateStore {
        FileStateStore::new(self.path())
    }
}

#[async_trait]
impl Backend for Files {
    const SESSION_LOCKS: bool = false;

    fn open_with_history(&self, limit: usize) -> FileStateStore {
        FileStateStore::new(self.path()).with_history_limit(limit)
    }

    async fn raw(&self) -> String {
        let mut text = String::new();
        let mut dirs = vec![self.path()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    text.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        text
    }

    fn child_spec(&self) -> String {
        format!("file:{}", self.path().display())
    }

    fn force_unlock(&self, stack: &str) {
        self.open().force_unlock(stack).unwrap();
    }
}

#[tokio::test]
async fn the_suite_passes_against_the_file_store() {
    whole_suite(&Files {
        dir: tempfile::tempdir().unwrap(),
    })
    .await;
}

// --- the memory store: what applies to a store that keeps no history and dies with its process

struct Memory(MemoryStateStore);

impl Opens for Memory {
    type Store = MemoryStateStore;

    fn open(&self) -> MemoryStateStore {
        self.0.clone()
    }
}

#[tokio::test]
async fn the_memory_store_behaves_alike() {
    let memory = Memory(MemoryStateStore::new());
    round_trips(&memory).await;
    locks_name_their_holder(&memory).await;
    stale_saves_fail(&memory).await;
}

/// The memory store keeps the journal as appended until a load folds it in (once) or a save
/// supersedes it; `journal_len` counts the entries appended since the last save.
#[tokio::test]
async fn the_memory_store_folds_its_journal_on_load_and_drops_it_on_save() {
    let store = MemoryStateStore::new();
    let mut state = StackState::new("s");
    state.bump_serial();
    store.save(&state).await.unwrap();
    store.append("s", vec![put("A", "a-1")]).await.unwrap();
    store
        .append("s", vec![put("B", "b-1"), put("A", "a-2")])
        .await
        .unwrap();
    assert_eq!(store.journal_len("s"), 3);
    let loaded = store.load("s").await.unwrap().unwrap();
    let ids: Vec<_> = loaded
        .resources
        .iter()
        .map(|(k, r)| (k.as_str(), r.physical_id.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(ids, [("A", "a-2"), ("B", "b-1")], "replayed in order");
    // Folded once: a second load (and an append after it) sees the same and more.
    store.append("s", vec![put("C", "c-1")]).await.unwrap();
    let again = store.load("s").await.unwrap().unwrap();
    assert_eq!(again.resources.len(), 3);
    assert_eq!(again.serial, 1, "appends do not change the serial");
    assert_eq!(store.journal_len("s"), 4, "counted since the last save");
    let mut next = again.clone();
    next.bump_serial();
    next.resources.shift_remove("C");
    store.save_owned(next).await.unwrap();
    assert_eq!(store.journal_len("s"), 0);
    let saved = store.load("s").await.unwrap().unwrap();
    assert_eq!(saved.resources.len(), 2, "the save replaced the journal");
}

// --- PostgreSQL -------------------------------------------------------------------------

/// The test database's URL, or `None` (with "skipped" printed) outside CI.
fn pg_url() -> Option<String> {
    match std::env::var("IAC_STATE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("IAC_PEERS").as_deref() == Ok("1") => panic!(
            "IAC_PEERS=1 but IAC_STATE_TEST_PG_URL is not set: start a server with `.ci/postgres.sh start` \
             and source target/ci/postgres.env"
        ),
        _ => {
            println!(
                "skipped: the PostgreSQL state store tests need IAC_STATE_TEST_PG_URL (.ci/postgres.sh start)"
            );
            None
        }
    }
}

#[cfg(not(feature = "postgres"))]
#[test]
fn the_suite_passes_against_postgresql() {
    if pg_url().is_some() {
        panic!("IAC_STATE_TEST_PG_URL is set but iac-core was built without its postgres feature");
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use iac_core::state::{PgStateStore, PgStateStoreBuilder};

    /// A database session for looking at and resetting the tables directly.
    pub async fn raw_client(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// The store's tables in a schema of their own, emptied first.
    pub struct Pg {
        pub url: String,
        pub schema: String,
    }

    impl Pg {
        pub async fn fresh(url: String, schema: &str) -> Pg {
            let client = raw_client(&url).await;
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .unwrap();
            Pg {
                url,
                schema: schema.to_owned(),
            }
        }

        /// Over TLS, verified against the test server's CA, when `.ci/postgres.sh` made one.
        pub fn builder(&self) -> PgStateStoreBuilder {
            with_test_ca(PgStateStore::builder(&self.url).schema(&self.schema))
        }
    }

    pub fn with_test_ca(builder: PgStateStoreBuilder) -> PgStateStoreBuilder {
        match test_ca() {
            Some(ca) => builder.root_certificates(ca),
            None => builder,
        }
    }

    /// The CA of the test server's certificate (`.ci/postgres.sh` sets it).
    fn test_ca() -> Option<String> {
        std::env::var("IAC_STATE_TEST_PG_CA")
            .ok()
            .filter(|ca| !ca.is_empty())
    }

    fn with_param(url: &str, param: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{param}")
    }

    /// Whether the session that holds `stack`'s lock in `schema` is encrypted.
    async fn lock_session_uses_tls(url: &str, schema: &str, stack: &str) -> bool {
        raw_client(url)
            .await
            .query_one(
                &format!(
                    "SELECT s.ssl FROM pg_stat_ssl s JOIN {schema}.iac_locks l ON l.backend_pid = s.pid \
                     WHERE l.stack = $1"
                ),
                &[&stack],
            )
            .await
            .unwrap()
            .get(0)
    }

    #[tokio::test]
    async fn tls_is_verified_and_used_when_asked() {
        let Some(url) = pg_url() else { return };
        let Some(ca) = test_ca() else {
            assert_ne!(
                std::env::var("IAC_PEERS").as_deref(),
                Ok("1"),
                "IAC_PEERS=1 but IAC_STATE_TEST_PG_CA is not set (.ci/postgres.sh sets it)"
            );
            println!("skipped: the TLS test needs IAC_STATE_TEST_PG_CA (.ci/postgres.sh start)");
            return;
        };
        let _fresh = Pg::fresh(url.clone(), "iac_tls").await;
        let required = with_param(&url, "sslmode=require");
        let store = PgStateStore::builder(&required)
            .schema("iac_tls")
            .root_certificates(&ca)
            .build()
            .unwrap();
        let held = store.lock("t", "apply").await.unwrap();
        assert!(lock_session_uses_tls(&url, "iac_tls", "t").await);
        drop(held);

        // The server's certificate is not one the Mozilla roots vouch for.
        let err = PgStateStore::builder(&required)
            .schema("iac_tls")
            .build()
            .unwrap()
            .load("t")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("connecting to the state database") && text.contains("certificate"),
            "{text}"
        );

        let plain = PgStateStore::builder(&with_param(&url, "sslmode=disable"))
            .schema("iac_tls")
            .build()
            .unwrap();
        let held = plain.lock("t", "apply").await.unwrap();
        assert!(!lock_session_uses_tls(&url, "iac_tls", "t").await);
        drop(held);

        let err = PgStateStore::builder(&url)
            .root_certificates("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    impl Opens for Pg {
        type Store = PgStateStore;

        fn open(&self) -> PgStateStore {
            self.builder().build().unwrap()
        }
    }

    #[async_trait]
    impl Backend for Pg {
        const SESSION_LOCKS: bool = true;

        fn open_with_history(&self, limit: usize) -> PgStateStore {
            self.builder().history_limit(limit).build().unwrap()
        }

        async fn raw(&self) -> String {
            let client = raw_client(&self.url).await;
            let mut text = String::new();
            for table in ["iac_stacks", "iac_journal", "iac_history", "iac_locks"] {
                let rows = client
                    .query(
                        &format!("SELECT t::text FROM {}.{table} t", self.schema),
                        &[],
                    )
                    .await
                    .unwrap();
                for row in rows {
                    text.push_str(row.get::<_, &str>(0));
                    text.push('\n');
                }
            }
            text
        }

        fn child_spec(&self) -> String {
            format!("pg:{}:{}", self.schema, self.url)
        }

        fn force_unlock(&self, stack: &str) {
            panic!("{stack}: PostgreSQL locks need no breaking")
        }
    }

    #[tokio::test]
    async fn the_suite_passes_against_postgresql() {
        let Some(url) = pg_url() else { return };
        whole_suite(&Pg::fresh(url, "iac_suite").await).await;
    }

    #[tokio::test]
    async fn migrations_are_recorded_and_a_newer_schema_is_refused() {
        let Some(url) = pg_url() else { return };
        let pg = Pg::fresh(url, "iac_migrations").await;
        // Two stores racing to migrate a new schema: one migrates, the other waits for it.
        let (a, b) = (pg.open(), pg.open());
        let (la, lb) = tokio::join!(a.load("m"), b.load("m"));
        assert!(la.unwrap().is_none() && lb.unwrap().is_none());
        let client = raw_client(&pg.url).await;
        let versions: Vec<i32> = client
            .query(
                "SELECT version FROM iac_migrations.iac_schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            versions,
            (1..=PgStateStore::latest_migration()).collect::<Vec<_>>()
        );
        client
            .execute(
                "INSERT INTO iac_migrations.iac_schema_migrations (version, description) VALUES (999, 'from the future')",
                &[],
            )
            .await
            .unwrap();
        let err = pg.open().load("m").await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, StateError::Backend { .. })
                && text.contains("migration 999")
                && text.contains(&format!(
                    "this SDK knows ({})",
                    PgStateStore::latest_migration()
                )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_password_never_shows_in_debug_or_errors() {
        let Some(url) = pg_url() else { return };
        let config: tokio_postgres::Config = url.parse().unwrap();
        let password = String::from_utf8(config.get_password().unwrap().to_vec()).unwrap();
        assert!(password.len() >= 8, "the test server has a password");
        let store = PgStateStore::new(&url).unwrap();
        let shown = format!("{store:?} {}", store.target());
        assert!(
            !shown.contains(&password) && shown.contains("postgres://iac@127.0.0.1:"),
            "{shown}"
        );

        // A wrong password: the server refuses; nobody listening: the network says so. The
        // errors name the database only.
        let port = config
            .get_ports()
            .first()
            .copied()
            .expect("the URL has a port");
        for (url, expected, hidden) in [
            (
                url.replace(&password, "not-the-password-4711"),
                "password authentication failed".to_owned(),
                "not-the-password-4711",
            ),
            (
                url.replace(&format!(":{port}/"), ":1/"),
                "postgres://iac@127.0.0.1:1/".to_owned(),
                password.as_str(),
            ),
        ] {
            let err = with_test_ca(PgStateStore::builder(&url))
                .build()
                .unwrap()
                .load("x")
                .await
                .unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(
                text.contains("connecting to the state database")
                    && text.contains(&expected)
                    && !text.contains(hidden),
                "{text}"
            );
        }
        // A bad connection string or schema: a clear error, no password.
        let err = PgStateStore::new("postgres://iac:sekrit-pw@[::1/db").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("not a PostgreSQL connection string") && !text.contains("sekrit-pw"),
            "{text}"
        );
        let err = PgStateStore::builder(&url)
            .schema("Bad-Name")
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("schema name 'Bad-Name' is not valid"),
            "{err}"
        );
    }
}
