//! Stack state: what the engine knows it created, and the journal that makes applies
//! resumable.
//!
//! A [`StateStore`] keeps one [`StackState`] per stack. The engine takes the stack's lock for
//! the length of an operation, loads the state, then records every transition as a
//! [`JournalEntry`] *before* it makes the call it describes (a pending create with its
//! [`ClientToken`]) and as soon as the call returns (the physical id). [`StateStore::save`]
//! writes a whole state and folds the journal into it. Loading replays the journal over the
//! last saved state, so an apply killed at any point leaves a state that names every object
//! it may have created.
//!
//! Properties stored here are redacted: any `NoEcho` parameter value inside them is replaced
//! by a salted digest (see [`crate::params::ParamValues::redact`]).
//!
//! Every saved state carries a [`StackState::serial`]: a save is accepted only when it is one
//! more than the stored serial (optimistic concurrency: a writer holding a state loaded before
//! someone else saved gets [`StateError::Stale`] instead of overwriting their work). Stores
//! keep earlier saves as versions ([`StateStore::history`], [`StateStore::show`]), capped.
//!
//! Stores: [`FileStateStore`] (a directory, for one operator or CI runner),
//! [`MemoryStateStore`] (tests), and with the `postgres` feature `PgStateStore` (a
//! PostgreSQL database shared by a team, with session-scoped locks).

mod file;
mod memory;
#[cfg(feature = "postgres")]
mod pg;

pub use file::FileStateStore;
pub use memory::MemoryStateStore;
#[cfg(feature = "postgres")]
pub use pg::{PgStateStore, PgStateStoreBuilder, STATE_CA_ENV, STATE_URL_ENV};

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
/// The list type of a record's rarely filled lists ([`ResourceState::deposed`],
/// [`ResourceState::snapshots`]).
pub use thin_vec::ThinVec;

use crate::model::{DeletionPolicy, Template};
use crate::provider::{Attributes, ClientToken, PhysicalId, Properties};

/// The version of the state document's layout; a newer version on disk is refused.
pub const STATE_SCHEMA_VERSION: u32 = 1;

/// How many saved versions of a stack a store keeps by default.
pub const DEFAULT_HISTORY_LIMIT: usize = 20;

/// A state's resources by logical id, in order, hashed with FxHash (logical ids are short,
/// and every step of an apply looks its record up).
pub type ResourceMap =
    IndexMap<String, ResourceState, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// Everything the engine keeps about one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    /// Layout version ([`STATE_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Which save of the stack this is: 0 for a state never saved, then one more at each
    /// save ([`StackState::bump_serial`] before [`StateStore::save`]).
    #[serde(default)]
    pub serial: u64,
    /// The stack's name.
    pub stack: String,
    /// Resources by logical id.
    pub resources: ResourceMap,
    /// Output values of the last complete apply (`NoEcho` outputs redacted).
    #[serde(default)]
    pub outputs: IndexMap<String, Value>,
    /// The template of the last apply that started (so that destroy and resume need none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Arc<Template>>,
    /// Random salt for the digests that stand in for secrets in stored properties.
    #[serde(default)]
    pub secret_salt: String,
    /// When the state was last written.
    pub updated: DateTime<Utc>,
}

impl StackState {
    /// An empty state for a new stack.
    pub fn new(stack: impl Into<String>) -> Self {
        use rand::Rng;
        let salt: [u8; 16] = rand::thread_rng().r#gen();
        StackState {
            schema_version: STATE_SCHEMA_VERSION,
            serial: 0,
            stack: stack.into(),
            resources: ResourceMap::default(),
            outputs: IndexMap::new(),
            template: None,
            secret_salt: hex::encode(salt),
            updated: Utc::now(),
        }
    }

    /// Makes this the next version of the state, to save: a store accepts it only while
    /// the stored serial is still the one it was loaded with.
    pub fn bump_serial(&mut self) {
        self.serial += 1;
    }

    /// Applies one journal entry.
    pub fn apply_entry(&mut self, entry: &JournalEntry) {
        self.apply_owned_entry(entry.clone());
    }

    /// Applies one journal entry, taking it.
    pub fn apply_owned_entry(&mut self, entry: JournalEntry) {
        match entry {
            JournalEntry::Put {
                logical_id,
                resource,
            } => match self.resources.get_mut(&*logical_id) {
                Some(rec) => *rec = *resource,
                None => {
                    self.resources.insert(String::from(&*logical_id), *resource);
                }
            },
            JournalEntry::Remove { logical_id } => {
                self.resources.shift_remove(&logical_id);
            }
            JournalEntry::Ready {
                logical_id,
                physical_id,
                attributes,
            } => {
                if let Some(rec) = self.resources.get_mut(&*logical_id) {
                    rec.physical_id = Some(physical_id);
                    rec.attributes = attributes;
                    rec.pending = None;
                    rec.failure = None;
                    rec.phase = ResourcePhase::Ready;
                }
            }
            JournalEntry::Outputs { outputs } => self.outputs = *outputs,
            JournalEntry::Template { template } => {
                self.reserve_for(&template);
                self.template = Some(template);
            }
        }
    }

    /// Makes room for every resource of `template` at once: an apply records at most
    /// those, and growing by doubling would leave up to half the map's room unused.
    pub fn reserve_for(&mut self, template: &Template) {
        let more = template
            .resources
            .len()
            .saturating_sub(self.resources.len());
        self.resources.reserve_exact(more);
    }

    /// True when any resource has an operation that did not finish.
    pub fn has_pending(&self) -> bool {
        self.resources
            .values()
            .any(|r| r.pending.is_some() || !r.deposed.is_empty() || !r.snapshots.is_empty())
    }
}

/// Where a resource stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResourcePhase {
    /// Create sent or waiting for readiness.
    Creating,
    /// Ready and matching its recorded properties.
    Ready,
    /// Update sent or waiting for readiness.
    Updating,
    /// Delete sent or waiting for the object to be gone.
    Deleting,
    /// The last operation on it failed; the next apply replaces or retries it.
    Failed,
}

/// A mutating call the engine has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operation {
    /// A create.
    Create,
    /// An update in place.
    Update,
    /// A delete.
    Delete,
}

/// A call recorded before it is made, so that a crash leaves a trace of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// What call.
    pub operation: Operation,
    /// The idempotency token sent with a create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<ClientToken>,
    /// When it started.
    pub started: DateTime<Utc>,
}

/// An old object left behind by a create-before-delete replacement, still to delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeposedObject {
    /// Its physical id.
    pub physical_id: PhysicalId,
    /// Its last properties (redacted; shared, serialized as the map itself).
    pub properties: Arc<Properties>,
}

/// A snapshot the engine started of an object before deleting it (`DeletionPolicy:
/// Snapshot`), recorded before the call so that a crash never loses it nor takes a second
/// one: a resumed run sends the same token, or polls the recorded snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotState {
    /// The object the snapshot is of (the current object or a deposed one).
    pub of: PhysicalId,
    /// The token the snapshot call sends ([`crate::provider::SnapshotRequest::client_token`]).
    pub client_token: ClientToken,
    /// The snapshot's id, once the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<PhysicalId>,
    /// True once the snapshot is complete: the object may be deleted.
    #[serde(default)]
    pub complete: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_empty_list(list: &Arc<[Arc<str>]>) -> bool {
    list.is_empty()
}

/// One resource in the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// Its type name (one shared string per type; serialized as the string).
    pub type_name: Arc<str>,
    /// The cloud object's id, once a create returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<PhysicalId>,
    /// Where it stands.
    pub phase: ResourcePhase,
    /// The properties it was created or last updated with (redacted; shared with the
    /// journal and the request when they are the same, serialized as the map itself).
    #[serde(default)]
    pub properties: Arc<Properties>,
    /// Its attributes, as last read (shared with the journal; serialized as the map itself).
    #[serde(default)]
    pub attributes: Arc<Attributes>,
    /// Logical ids it depended on when last applied (destroy order without a template).
    /// Shared: the journal's copies of a record cost no copy of the list, and the ids are
    /// the engine's own (one string per logical id).
    #[serde(default, skip_serializing_if = "is_empty_list")]
    pub depends_on: Arc<[Arc<str>]>,
    /// How many creates were started for it (part of the client token).
    pub generation: u64,
    /// Its deletion policy when last applied.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The call in flight, if any (behind a pointer: most records have none, and every
    /// record of a state pays for the room of this field; shared with the journal's copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Arc<PendingOperation>>,
    /// Old objects of a replacement, to delete (a `ThinVec`, one word when empty: most
    /// records have none, and every record pays for the room of this field).
    #[serde(default, skip_serializing_if = "ThinVec::is_empty")]
    pub deposed: ThinVec<DeposedObject>,
    /// Why the last operation failed (a boxed `str`: every record pays for this field's
    /// room, and a `String`'s capacity is never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Box<str>>,
    /// True when the object was adopted through `ExternalId`: the stack never updates nor
    /// deletes it, only forgets it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    /// Snapshots started before deleting this resource's objects and not yet followed by
    /// the delete (`DeletionPolicy: Snapshot`).
    /// (A `ThinVec`, as `deposed`.)
    #[serde(default, skip_serializing_if = "ThinVec::is_empty")]
    pub snapshots: ThinVec<SnapshotState>,
}

/// One change to a stack's state, written before and after each call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JournalEntry {
    /// Sets a resource's whole record.
    Put {
        /// Its logical id (shared with the engine's name for it).
        logical_id: Arc<str>,
        /// Its new record.
        resource: Box<ResourceState>,
    },
    /// Records that a create returned a ready object: sets its physical id and attributes,
    /// clears its pending operation and failure, and marks it ready.
    Ready {
        /// Its logical id (shared with the engine's name for it).
        logical_id: Arc<str>,
        /// The object's id.
        physical_id: PhysicalId,
        /// Its attributes (shared with the record).
        attributes: Arc<Attributes>,
    },
    /// Forgets a resource (deleted or retained).
    Remove {
        /// Its logical id.
        logical_id: String,
    },
    /// Sets the outputs.
    Outputs {
        /// The new outputs (boxed: the journal holds many entries, and this one, the
        /// largest, comes once per apply).
        outputs: Box<IndexMap<String, Value>>,
    },
    /// Sets the template of the apply in progress.
    Template {
        /// The template.
        template: Arc<Template>,
    },
}

/// Who holds a stack's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When it took the lock.
    pub since: DateTime<Utc>,
    /// What it is doing (`apply`, `destroy`, ...).
    pub operation: String,
}

impl LockInfo {
    /// The current process, about to do `operation`.
    pub fn current(operation: &str) -> Self {
        LockInfo {
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            since: Utc::now(),
            operation: operation.to_owned(),
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on host {} since {} ({})",
            self.pid,
            self.host,
            self.since.format("%Y-%m-%d %H:%M:%S UTC"),
            self.operation
        )
    }
}

/// A held stack lock; dropping it releases the lock.
pub struct StateLock {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl StateLock {
    /// A lock released by calling `release` once (on drop).
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        StateLock {
            release: Some(Box::new(release)),
        }
    }
}

impl fmt::Debug for StateLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateLock")
            .field("held", &self.release.is_some())
            .finish()
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// What can go wrong reading or writing state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another operation holds the stack's lock.
    #[error("stack '{stack}' is locked by {holder}{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    Locked {
        /// The stack.
        stack: String,
        /// Who holds it.
        holder: LockInfo,
        /// How to clear a stale lock, where the store knows.
        hint: Option<String>,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`writing state`, `reading the journal of`).
        action: String,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state document or journal line is not valid.
    #[error("state of stack '{stack}' is corrupt at {location}: {message}")]
    Corrupt {
        /// The stack.
        stack: String,
        /// Where (a file and line).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A stack name that cannot name files (letters, digits, `-`, `_`, `.`; not starting
    /// with `.`).
    #[error(
        "stack name '{stack}' is not valid: use letters, digits, '-', '_' and '.', not starting with '.'"
    )]
    InvalidStackName {
        /// The name given.
        stack: String,
    },
    /// A save against a state that changed since it was loaded: someone else saved the
    /// stack in between (or the state was not loaded from this store).
    #[error(
        "state of stack '{stack}' is stale: this save expects the stored serial to be {expected}, found {found}; load the stack again and retry"
    )]
    Stale {
        /// The stack.
        stack: String,
        /// The stored serial the save was built on (its own serial minus one).
        expected: u64,
        /// The serial stored now.
        found: u64,
    },
    /// The state database failed or could not be reached.
    #[error("{action} ({target}): {message}")]
    Backend {
        /// What was being done (`connecting`, `saving the state of stack 'demo'`).
        action: String,
        /// Where, without credentials (`postgres://iac@db:5432/iac`).
        target: String,
        /// What the database or the network said.
        message: String,
    },
    /// The state was written by a newer version of this SDK.
    #[error(
        "state of stack '{stack}' has schema version {found}; this SDK reads up to {supported}"
    )]
    UnsupportedVersion {
        /// The stack.
        stack: String,
        /// The version found.
        found: u32,
        /// The newest version this SDK reads.
        supported: u32,
    },
}

/// One saved version of a stack's state, as [`StateStore::history`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateVersion {
    /// Its serial ([`StackState::serial`]); [`StateStore::show`] takes it.
    pub serial: u64,
    /// When it was saved.
    pub saved: DateTime<Utc>,
    /// Size of the stored document in bytes.
    pub bytes: u64,
    /// Who saved it (`pid 4242 on host ci-7`), where the store records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_by: Option<String>,
}

/// Parses a stored state document, naming a newer layout as such rather than as a parse
/// error; `location` names where the document was read from, at a line and column.
pub(crate) fn parse_state(
    stack: &str,
    bytes: &[u8],
    location: &dyn Fn(usize, usize) -> String,
) -> Result<StackState, StateError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        schema_version: u64,
    }
    if let Ok(probe) = serde_json::from_slice::<Probe>(bytes)
        && probe.schema_version > u64::from(STATE_SCHEMA_VERSION)
    {
        return Err(StateError::UnsupportedVersion {
            stack: stack.to_owned(),
            found: u32::try_from(probe.schema_version).unwrap_or(u32::MAX),
            supported: STATE_SCHEMA_VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        stack: stack.to_owned(),
        location: location(e.line(), e.column()),
        message: e.to_string(),
    })
}

/// Checks that saving `state` over the stored serial `found` follows on from it.
pub(crate) fn check_serial(state: &StackState, found: u64) -> Result<(), StateError> {
    if state.serial == found + 1 {
        Ok(())
    } else {
        Err(StateError::Stale {
            stack: state.stack.clone(),
            expected: state.serial.saturating_sub(1),
            found,
        })
    }
}

/// Where stack states are kept.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Takes the stack's exclusive lock for `operation`, or fails with
    /// [`StateError::Locked`] naming the holder.
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError>;

    /// Loads the stack's state with its journal replayed; `None` for an unknown stack.
    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError>;

    /// Writes a whole state durably, clears the stack's journal and keeps the state as a
    /// version in the stack's history. Fails with [`StateError::Stale`] unless
    /// `state.serial` is one more than the stored serial (0 for a stack never saved).
    async fn save(&self, state: &StackState) -> Result<(), StateError>;

    /// Like [`StateStore::save`], taking the state: a store that keeps states in memory
    /// stores it without a copy.
    async fn save_owned(&self, state: StackState) -> Result<(), StateError> {
        self.save(&state).await
    }

    /// Appends journal entries durably (they are stored when this returns).
    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError>;

    /// Removes a stack's state, journal and history (after a complete destroy).
    async fn remove(&self, stack: &str) -> Result<(), StateError>;

    /// The kept versions of a stack's state, oldest first (the newest is the current
    /// state). A store that keeps no history (the memory store) lists none.
    async fn history(&self, stack: &str) -> Result<Vec<StateVersion>, StateError> {
        let _ = stack;
        Ok(Vec::new())
    }

    /// One kept version of a stack's state by serial; `None` when it is not kept.
    async fn show(&self, stack: &str, serial: u64) -> Result<Option<StackState>, StateError> {
        let _ = (stack, serial);
        Ok(None)
    }
}
