//! The shared state store: stack states in a PostgreSQL database (feature `postgres`).
//!
//! For teams: every operator and CI runner points at the same database, and an apply holds
//! the stack's lock for its whole length, so two applies of a stack never interleave.
//!
//! - **Schema**: the store creates and migrates its tables itself, in order, recording each
//!   applied migration in `iac_schema_migrations` (a database migrated by a newer SDK is
//!   refused rather than misread). [`PgStateStoreBuilder::schema`] puts the tables in their
//!   own PostgreSQL schema.
//! - **States**: one row per stack in `iac_stacks` (the state as JSON and its serial). A save
//!   runs in one transaction that checks the serial (optimistic concurrency: a save built on
//!   a state someone else has saved since fails with [`StateError::Stale`]), replaces the row,
//!   clears the journal and keeps the state as a version in `iac_history` (capped, oldest
//!   dropped first).
//! - **Journal**: [`StateStore::append`] inserts into `iac_journal` and returns once the
//!   server has committed it; loading replays it over the saved state.
//! - **Locks**: a session-scoped advisory lock (`pg_try_advisory_lock`) on a connection of its
//!   own, kept by the [`StateLock`] guard. A second operation fails at once with
//!   [`StateError::Locked`] naming the holder (host, process, time, operation, recorded in
//!   `iac_locks`). Dropping the guard unlocks; if the process dies, the server ends its session
//!   and the lock goes with it: there is no stale lock to break.
//! - **Secrets**: states are stored as the engine keeps them, with every `NoEcho` value
//!   replaced by a salted digest. The connection string's password never appears in `Debug`
//!   output or errors, which name the database as `postgres://user@host:port/db`.
//! - **TLS**: with `sslmode=prefer` (the default) or `sslmode=require` in the URL, the
//!   connection uses rustls with the Mozilla roots, plus any given with
//!   [`PgStateStoreBuilder::root_certificates`]; `sslmode=disable` for a plain connection.
//!
//! ```no_run
//! use iac_core::engine::Engine;
//! use iac_core::state::PgStateStore;
//!
//! # fn main() -> Result<(), iac_core::state::StateError> {
//! // postgres://iac:PASSWORD@db.internal:5432/iac?sslmode=require, from IAC_STATE_URL
//! let store = PgStateStore::from_env()?;
//! let engine = Engine::builder().state(store).build();
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex as AsyncMutex, MutexGuard, OnceCell, watch};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, IsolationLevel};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    DEFAULT_HISTORY_LIMIT, JournalEntry, LockInfo, StackState, StateError, StateLock, StateStore,
    StateVersion, check_serial, parse_state,
};

/// The environment variable [`PgStateStore::from_env`] reads the connection string from.
pub const STATE_URL_ENV: &str = "IAC_STATE_URL";

/// The environment variable [`PgStateStore::from_env`] reads a PEM file of extra TLS roots
/// from (a private CA), like [`PgStateStoreBuilder::root_certificates`].
pub const STATE_CA_ENV: &str = "IAC_STATE_CA";

/// The store's migrations, applied in order and recorded in `iac_schema_migrations`.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "stacks, journal, history and lock holders",
    "CREATE TABLE iac_stacks (
        stack text PRIMARY KEY,
        serial bigint NOT NULL CHECK (serial > 0),
        state json NOT NULL,
        updated timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE iac_journal (
        seq bigserial PRIMARY KEY,
        stack text NOT NULL,
        entry json NOT NULL
    );
    CREATE INDEX iac_journal_stack ON iac_journal (stack, seq);
    CREATE TABLE iac_history (
        stack text NOT NULL,
        serial bigint NOT NULL,
        state json NOT NULL,
        saved timestamptz NOT NULL DEFAULT now(),
        saved_by text NOT NULL,
        PRIMARY KEY (stack, serial)
    );
    CREATE TABLE iac_locks (
        stack text PRIMARY KEY,
        host text NOT NULL,
        pid bigint NOT NULL,
        since timestamptz NOT NULL,
        operation text NOT NULL,
        backend_pid integer NOT NULL
    );",
)];

/// Who holds a stack's advisory lock: the row its holder wrote, if that holder's session
/// still holds the lock (a row left by a dead session never names a holder).
const HOLDER_SQL: &str = "SELECT h.host, h.pid, h.since, h.operation
    FROM iac_locks h
    JOIN pg_locks l ON l.pid = h.backend_pid
    WHERE h.stack = $1
      AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = $2 AND l.objid::bigint = $3";

/// Keeps stack states in a PostgreSQL database; clones share connections.
#[derive(Clone)]
pub struct PgStateStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// The database without credentials, for errors and `Debug`.
    target: String,
    schema: Option<String>,
    history_limit: usize,
    tls: MakeRustlsConnect,
    /// The connection loads, saves and appends go through (locks have their own).
    client: AsyncMutex<Option<Client>>,
    migrated: OnceCell<()>,
}

/// Locks this process is releasing, by database and lock key: a lock taken right after a
/// release (by any store of this process) waits for it rather than failing against the
/// process's own past self.
type Releasing = Mutex<HashMap<(String, i64), watch::Receiver<bool>>>;

fn releasing() -> &'static Releasing {
    static RELEASING: std::sync::OnceLock<Releasing> = std::sync::OnceLock::new();
    RELEASING.get_or_init(Releasing::default)
}

impl fmt::Debug for PgStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStateStore")
            .field("database", &self.inner.target)
            .field("schema", &self.inner.schema)
            .field("history_limit", &self.inner.history_limit)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PgStateStore`]: [`PgStateStore::builder`].
pub struct PgStateStoreBuilder {
    config: Result<Config, String>,
    schema: Option<String>,
    history_limit: usize,
    roots: Vec<PathBuf>,
}

impl fmt::Debug for PgStateStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStateStoreBuilder")
            .field("database", &self.config.as_ref().map(target))
            .field("schema", &self.schema)
            .field("history_limit", &self.history_limit)
            .field("roots", &self.roots)
            .finish()
    }
}

impl PgStateStoreBuilder {
    /// Puts the store's tables in this PostgreSQL schema (created if missing) instead of
    /// the connection's default: letters, digits and `_`, not starting with a digit.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Keeps at most `limit` saved versions of each stack (default
    /// [`DEFAULT_HISTORY_LIMIT`]; 0 keeps none).
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// Trusts the certificates of this PEM file as roots for TLS (a private CA), besides
    /// the Mozilla roots.
    pub fn root_certificates(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.roots.push(pem_file.into());
        self
    }

    /// Trusts the roots of the PEM file named by `IAC_STATE_CA`, if it is set.
    pub fn roots_from_env(self) -> Self {
        match std::env::var_os(STATE_CA_ENV) {
            Some(path) if !path.is_empty() => self.root_certificates(path),
            _ => self,
        }
    }

    /// The store. Connects on first use; fails here only on a bad connection string, schema
    /// name or certificate file.
    pub fn build(self) -> Result<PgStateStore, StateError> {
        let config = self.config.map_err(|message| StateError::Backend {
            action: "reading the state database's connection string".into(),
            target: "postgres://".into(),
            message,
        })?;
        let target = target(&config);
        if let Some(schema) = &self.schema {
            let ok = schema.len() <= 63
                && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(StateError::Backend {
                    action: "choosing the schema of the state tables".into(),
                    target,
                    message: format!(
                        "schema name '{schema}' is not valid: use lower-case letters, digits and '_', \
                         not starting with a digit, at most 63 characters"
                    ),
                });
            }
        }
        let tls = tls_connector(&self.roots).map_err(|message| StateError::Backend {
            action: "setting up TLS".into(),
            target: target.clone(),
            message,
        })?;
        Ok(PgStateStore {
            inner: Arc::new(Inner {
                config,
                target,
                schema: self.schema,
                history_limit: self.history_limit,
                tls,
                client: AsyncMutex::new(None),
                migrated: OnceCell::new(),
            }),
        })
    }
}

/// `postgres://user@host:port/db`: the database named without its password.
fn target(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{db}")
}

fn tls_connector(roots: &[PathBuf]) -> Result<MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in roots {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("reading {}: {e}", path.display()))?;
            store
                .add(cert)
                .map_err(|e| format!("a certificate of {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// What a database error says: the server's message with its SQLSTATE and detail, or the
/// network error with its causes (never the connection string).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PgStateStore {
    /// A builder for the database at `url`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=disable|prefer|require]`, or the
    /// `key=value` form of libpq).
    pub fn builder(url: &str) -> PgStateStoreBuilder {
        PgStateStoreBuilder {
            config: url.parse::<Config>().map_err(|e| {
                format!(
                    "not a PostgreSQL connection string ({e}); expected \
                     postgres://USER[:PASSWORD]@HOST[:PORT]/DB"
                )
            }),
            schema: None,
            history_limit: DEFAULT_HISTORY_LIMIT,
            roots: Vec::new(),
        }
    }

    /// The store for `url` with default settings.
    pub fn new(url: &str) -> Result<Self, StateError> {
        Self::builder(url).build()
    }

    /// The store for the connection string in `IAC_STATE_URL`, trusting the roots of the
    /// PEM file in `IAC_STATE_CA` if set.
    pub fn from_env() -> Result<Self, StateError> {
        let url = std::env::var(STATE_URL_ENV).map_err(|_| StateError::Backend {
            action: "finding the state database".into(),
            target: STATE_URL_ENV.into(),
            message: format!("set {STATE_URL_ENV} to postgres://USER[:PASSWORD]@HOST[:PORT]/DB"),
        })?;
        Self::builder(&url).roots_from_env().build()
    }

    /// The database, without credentials (`postgres://user@host:port/db`).
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The schema version of the store's tables this SDK migrates to.
    pub fn latest_migration() -> i32 {
        MIGRATIONS.last().map_or(0, |m| m.0)
    }

    fn err(&self, action: impl Into<String>, e: &tokio_postgres::Error) -> StateError {
        StateError::Backend {
            action: action.into(),
            target: self.inner.target.clone(),
            message: describe(e),
        }
    }

    /// A new session, on the store's schema.
    async fn connect(&self) -> Result<Client, StateError> {
        let (client, connection) = self
            .inner
            .config
            .connect(self.inner.tls.clone())
            .await
            .map_err(|e| self.err("connecting to the state database", &e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %describe(&e), "state database connection ended");
            }
        });
        if let Some(schema) = &self.inner.schema {
            // Checked by the builder to be a plain identifier.
            client
                .batch_execute(&format!("SET search_path TO \"{schema}\""))
                .await
                .map_err(|e| self.err("choosing the schema of the state tables", &e))?;
        }
        Ok(client)
    }

    /// The shared session, connected (again, if it was lost) and migrated.
    async fn client(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Client>, StateError> {
        let mut guard: MutexGuard<'_, Option<Client>> = self.inner.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.connect().await?);
        }
        let mut client = MutexGuard::map(guard, |c| c.as_mut().expect("connected above"));
        self.inner
            .migrated
            .get_or_try_init(|| self.migrate(&mut client))
            .await?;
        Ok(client)
    }

    /// Brings the tables to the newest migration, one transaction for all, serialized
    /// against other processes migrating the same schema.
    async fn migrate(&self, client: &mut Client) -> Result<(), StateError> {
        let action = "migrating the state tables";
        let fail = |e: tokio_postgres::Error| self.err(action, &e);
        let tx = client.transaction().await.map_err(fail)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&self.key("migrations", "")],
        )
        .await
        .map_err(fail)?;
        // Created only when missing: a role allowed to read and write the tables but not to
        // create objects uses a schema its administrator migrated.
        if let Some(schema) = &self.inner.schema {
            let exists = tx
                .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema])
                .await
                .map_err(fail)?
                .is_some();
            if !exists {
                tx.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .map_err(fail)?;
            }
        }
        let exists: bool = tx
            .query_one(
                "SELECT to_regclass('iac_schema_migrations') IS NOT NULL",
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        if !exists {
            tx.batch_execute(
                "CREATE TABLE iac_schema_migrations (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    applied timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(fail)?;
        }
        let current: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM iac_schema_migrations",
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        let latest = Self::latest_migration();
        if current > latest {
            return Err(StateError::Backend {
                action: action.into(),
                target: self.inner.target.clone(),
                message: format!(
                    "the state tables are at migration {current}, newer than this SDK knows ({latest}): \
                     use the SDK that migrated them or a newer one"
                ),
            });
        }
        for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.batch_execute(sql).await.map_err(|e| {
                self.err(format!("applying migration {version} ({description})"), &e)
            })?;
            tx.execute(
                "INSERT INTO iac_schema_migrations (version, description) VALUES ($1, $2)",
                &[version, description],
            )
            .await
            .map_err(fail)?;
            tracing::info!(database = %self.inner.target, version, description, "migrated the state tables");
        }
        tx.commit().await.map_err(fail)
    }

    /// A 63-bit advisory lock key for `stack` in this store's schema.
    fn key(&self, kind: &str, stack: &str) -> i64 {
        let mut hash = Sha256::new();
        for part in [
            "iac-state",
            kind,
            self.inner.schema.as_deref().unwrap_or(""),
            stack,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let bytes: [u8; 8] = digest[..8].try_into().expect("a SHA-256 has 32 bytes");
        i64::from_be_bytes(bytes) & i64::MAX
    }

    /// Who holds `stack`'s lock, if its holder has recorded itself.
    async fn holder(
        &self,
        client: &Client,
        stack: &str,
        key: i64,
    ) -> Result<Option<LockInfo>, StateError> {
        let row = client
            .query_opt(HOLDER_SQL, &[&stack, &(key >> 32), &(key & 0xffff_ffff)])
            .await
            .map_err(|e| self.err(format!("finding who holds stack '{stack}'"), &e))?;
        Ok(row.map(|row| LockInfo {
            host: row.get(0),
            pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            since: row.get(2),
            operation: row.get(3),
        }))
    }

    /// Waits until a lock with `key` this process is releasing is released.
    async fn wait_for_release(&self, key: i64) {
        let pending = releasing()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(self.inner.target.clone(), key))
            .cloned();
        if let Some(mut rx) = pending {
            // An error means the release task is gone (its runtime ended): the session, and
            // the lock, ended with it.
            let _ = rx.wait_for(|done| *done).await;
        }
    }

    fn corrupt(&self, stack: &str, location: String, e: &serde_json::Error) -> StateError {
        StateError::Corrupt {
            stack: stack.to_owned(),
            location: format!("{} {location}", self.inner.target),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl StateStore for PgStateStore {
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError> {
        // The tables exist before anyone records a lock in them.
        drop(self.client().await?);
        let key = self.key("stack", stack);
        self.wait_for_release(key).await;
        let client = self.connect().await?;
        let fail = |e: tokio_postgres::Error| self.err(format!("locking stack '{stack}'"), &e);
        // The holder records itself just after taking the lock, and a holder may release it
        // between our try and our look: a few quick looks settle either.
        let mut attempts = 0;
        let holder = loop {
            let taken: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(fail)?
                .get(0);
            if taken {
                break None;
            }
            if let Some(holder) = self.holder(&client, stack, key).await? {
                break Some(holder);
            }
            attempts += 1;
            if attempts == 10 {
                break Some(LockInfo {
                    host: "an unknown host".into(),
                    pid: 0,
                    since: Utc::now(),
                    operation: "a session that did not record itself in iac_locks".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if let Some(holder) = holder {
            return Err(StateError::Locked {
                stack: stack.to_owned(),
                holder,
                hint: Some(format!(
                    "the lock is held by a session of {}; PostgreSQL releases it when that \
                     operation ends or its process dies, so there is nothing to break by hand",
                    self.inner.target
                )),
            });
        }
        let info = LockInfo::current(operation);
        client
            .execute(
                "INSERT INTO iac_locks (stack, host, pid, since, operation, backend_pid)
                 VALUES ($1, $2, $3, $4, $5, pg_backend_pid())
                 ON CONFLICT (stack) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                   since = excluded.since, operation = excluded.operation,
                   backend_pid = excluded.backend_pid",
                &[
                    &stack,
                    &info.host,
                    &i64::from(info.pid),
                    &info.since,
                    &info.operation,
                ],
            )
            .await
            .map_err(|e| self.err(format!("recording the holder of stack '{stack}'"), &e))?;
        let stack = stack.to_owned();
        let target = self.inner.target.clone();
        Ok(StateLock::new(move || {
            let (done, rx) = watch::channel(false);
            releasing()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((target, key), rx);
            let release = async move {
                // Unlock first: a holder that takes the lock at once records itself with its
                // own session, whose row this delete leaves alone.
                let unlock = client
                    .execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .await;
                let forget = client
                    .execute(
                        "DELETE FROM iac_locks WHERE stack = $1 AND backend_pid = pg_backend_pid()",
                        &[&stack],
                    )
                    .await;
                if let Err(e) = unlock.and(forget) {
                    // Closing the session below releases the lock all the same.
                    tracing::warn!(stack, error = %describe(&e), "could not release a state lock cleanly");
                }
                drop(client);
                let _ = done.send(true);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(release);
                }
                // No runtime to talk to the server on: dropping the session (with `release`)
                // ends it, and the server releases the lock.
                Err(_) => drop(release),
            }
        }))
    }

    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError> {
        let fail = |e: tokio_postgres::Error| self.err(format!("loading stack '{stack}'"), &e);
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fail)?;
        let row = tx
            .query_opt(
                "SELECT serial, state::text FROM iac_stacks WHERE stack = $1",
                &[&stack],
            )
            .await
            .map_err(fail)?;
        let journal = tx
            .query(
                "SELECT seq, entry::text FROM iac_journal WHERE stack = $1 ORDER BY seq",
                &[&stack],
            )
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        drop(client);
        let mut state = match row {
            Some(row) => {
                let text: &str = row.get(1);
                let mut state = parse_state(stack, text.as_bytes(), &|line, column| {
                    format!(
                        "{} iac_stacks row '{stack}', {line}:{column}",
                        self.inner.target
                    )
                })?;
                state.serial = to_u64(row.get(0));
                state
            }
            None if journal.is_empty() => return Ok(None),
            None => StackState::new(stack),
        };
        for row in journal {
            let seq: i64 = row.get(0);
            let entry = serde_json::from_str::<JournalEntry>(row.get(1))
                .map_err(|e| self.corrupt(stack, format!("iac_journal row {seq}"), &e))?;
            state.apply_owned_entry(entry);
        }
        Ok(Some(state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let stack = state.stack.as_str();
        let body = serde_json::to_string(state).map_err(|e| StateError::Corrupt {
            stack: stack.to_owned(),
            location: "serializing".into(),
            message: e.to_string(),
        })?;
        let fail = |e: tokio_postgres::Error| self.err(format!("saving stack '{stack}'"), &e);
        let serial = to_i64(state.serial);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        let found = tx
            .query_opt(
                "SELECT serial FROM iac_stacks WHERE stack = $1 FOR UPDATE",
                &[&stack],
            )
            .await
            .map_err(fail)?
            .map(|row| to_u64(row.get(0)));
        check_serial(state, found.unwrap_or(0))?;
        let written = tx
            .execute(
                "INSERT INTO iac_stacks (stack, serial, state) VALUES ($1, $2, $3::text::json)
                 ON CONFLICT (stack) DO UPDATE
                   SET serial = excluded.serial, state = excluded.state, updated = now()
                   WHERE iac_stacks.serial = $2::bigint - 1",
                &[&stack, &serial, &body],
            )
            .await
            .map_err(fail)?;
        if written == 0 {
            // A first save that raced another: the row appeared after our look.
            let found: i64 = tx
                .query_one("SELECT serial FROM iac_stacks WHERE stack = $1", &[&stack])
                .await
                .map_err(fail)?
                .get(0);
            return Err(StateError::Stale {
                stack: stack.to_owned(),
                expected: state.serial.saturating_sub(1),
                found: to_u64(found),
            });
        }
        tx.execute("DELETE FROM iac_journal WHERE stack = $1", &[&stack])
            .await
            .map_err(fail)?;
        if self.inner.history_limit > 0 {
            let by = LockInfo::current("save");
            let by = format!("pid {} on host {}", by.pid, by.host);
            tx.execute(
                "INSERT INTO iac_history (stack, serial, state, saved_by)
                 VALUES ($1, $2, $3::text::json, $4)
                 ON CONFLICT (stack, serial) DO UPDATE
                   SET state = excluded.state, saved = now(), saved_by = excluded.saved_by",
                &[&stack, &serial, &body, &by],
            )
            .await
            .map_err(fail)?;
            let limit = to_i64(self.inner.history_limit as u64);
            tx.execute(
                "DELETE FROM iac_history WHERE stack = $1 AND serial <= $2::bigint - $3::bigint",
                &[&stack, &serial, &limit],
            )
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let lines = entries
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| StateError::Corrupt {
                stack: stack.to_owned(),
                location: "serializing a journal entry".into(),
                message: e.to_string(),
            })?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO iac_journal (stack, entry)
                 SELECT $1, e::json FROM unnest($2::text[]) WITH ORDINALITY AS t(e, n) ORDER BY n",
                &[&stack, &lines],
            )
            .await
            .map_err(|e| self.err(format!("appending to the journal of stack '{stack}'"), &e))?;
        Ok(())
    }

    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        let fail = |e: tokio_postgres::Error| self.err(format!("removing stack '{stack}'"), &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        for table in ["iac_stacks", "iac_journal", "iac_history"] {
            tx.execute(&format!("DELETE FROM {table} WHERE stack = $1"), &[&stack])
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn history(&self, stack: &str) -> Result<Vec<StateVersion>, StateError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT serial, saved, octet_length(state::text)::bigint, saved_by
                 FROM iac_history WHERE stack = $1 ORDER BY serial",
                &[&stack],
            )
            .await
            .map_err(|e| self.err(format!("listing the history of stack '{stack}'"), &e))?;
        Ok(rows
            .iter()
            .map(|row| StateVersion {
                serial: to_u64(row.get(0)),
                saved: row.get::<_, DateTime<Utc>>(1),
                bytes: to_u64(row.get(2)),
                saved_by: Some(row.get(3)),
            })
            .collect())
    }

    async fn show(&self, stack: &str, serial: u64) -> Result<Option<StackState>, StateError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT state::text FROM iac_history WHERE stack = $1 AND serial = $2",
                &[&stack, &to_i64(serial)],
            )
            .await
            .map_err(|e| self.err(format!("reading version {serial} of stack '{stack}'"), &e))?;
        drop(client);
        let Some(row) = row else { return Ok(None) };
        let text: &str = row.get(0);
        let mut state = parse_state(stack, text.as_bytes(), &|line, column| {
            format!(
                "{} iac_history row '{stack}' serial {serial}, {line}:{column}",
                self.inner.target
            )
        })?;
        state.serial = serial;
        Ok(Some(state))
    }
}
