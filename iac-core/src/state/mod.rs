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

mod file;
mod memory;

pub use file::FileStateStore;
pub use memory::MemoryStateStore;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{DeletionPolicy, Template};
use crate::provider::{Attributes, ClientToken, PhysicalId, Properties};

/// The version of the state document's layout; a newer version on disk is refused.
pub const STATE_SCHEMA_VERSION: u32 = 1;

/// A state's resources by logical id, in order, hashed with FxHash (logical ids are short,
/// and every step of an apply looks its record up).
pub type ResourceMap =
    IndexMap<String, ResourceState, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// Everything the engine keeps about one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    /// Layout version ([`STATE_SCHEMA_VERSION`]).
    pub schema_version: u32,
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
            stack: stack.into(),
            resources: ResourceMap::default(),
            outputs: IndexMap::new(),
            template: None,
            secret_salt: hex::encode(salt),
            updated: Utc::now(),
        }
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
            JournalEntry::Outputs { outputs } => self.outputs = outputs,
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
            .any(|r| r.pending.is_some() || !r.deposed.is_empty())
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

fn is_empty_list(list: &Arc<[String]>) -> bool {
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
    /// Shared: the journal's copies of a record cost no copy of the list.
    #[serde(default, skip_serializing_if = "is_empty_list")]
    pub depends_on: Arc<[String]>,
    /// How many creates were started for it (part of the client token).
    pub generation: u64,
    /// Its deletion policy when last applied.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The call in flight, if any (behind a pointer: most records have none, and every
    /// record of a state pays for the room of this field; shared with the journal's copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Arc<PendingOperation>>,
    /// Old objects of a replacement, to delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<DeposedObject>,
    /// Why the last operation failed (a boxed `str`: every record pays for this field's
    /// room, and a `String`'s capacity is never used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Box<str>>,
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
        /// The new outputs.
        outputs: IndexMap<String, Value>,
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

/// Where stack states are kept.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Takes the stack's exclusive lock for `operation`, or fails with
    /// [`StateError::Locked`] naming the holder.
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError>;

    /// Loads the stack's state with its journal replayed; `None` for an unknown stack.
    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError>;

    /// Writes a whole state durably and clears the stack's journal.
    async fn save(&self, state: &StackState) -> Result<(), StateError>;

    /// Like [`StateStore::save`], taking the state: a store that keeps states in memory
    /// stores it without a copy.
    async fn save_owned(&self, state: StackState) -> Result<(), StateError> {
        self.save(&state).await
    }

    /// Appends journal entries durably (they are stored when this returns).
    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError>;

    /// Removes a stack's state and journal (after a complete destroy).
    async fn remove(&self, stack: &str) -> Result<(), StateError>;
}
