//! In-memory state store, for tests and short-lived programs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rustc_hash::FxHashMap;

use super::{JournalEntry, LockInfo, StackState, StateError, StateLock, StateStore, check_serial};

/// One stack: its last saved state and the journal appended since.
#[derive(Debug)]
struct Stored {
    state: StackState,
    /// Kept as appended (one batch per append, never copied to grow), as a file store
    /// keeps its journal file: folded into `state` on the next load, so an entry is applied
    /// at most once, and never when a save replaces the journal first (the end of every
    /// apply).
    journal: Vec<Vec<JournalEntry>>,
    /// Entries appended since the last save (folded or not).
    appended: usize,
}

impl Stored {
    /// The state with its journal applied.
    fn current(&mut self) -> &StackState {
        for entry in self.journal.drain(..).flatten() {
            self.state.apply_owned_entry(entry);
        }
        &self.state
    }
}

#[derive(Debug, Default)]
struct Inner {
    stacks: FxHashMap<String, Stored>,
    locks: FxHashMap<String, LockInfo>,
}

impl Inner {
    fn stored_serial(&self, stack: &str) -> u64 {
        self.stacks.get(stack).map_or(0, |s| s.state.serial)
    }

    /// Stores a state whose serial was checked, superseding the journal.
    fn put(&mut self, state: StackState) {
        match self.stacks.get_mut(&state.stack) {
            Some(stored) => {
                // The journal is superseded by the state saved after it.
                stored.journal = Vec::new();
                stored.appended = 0;
                stored.state = state;
            }
            None => {
                self.stacks.insert(
                    state.stack.clone(),
                    Stored {
                        state,
                        journal: Vec::new(),
                        appended: 0,
                    },
                );
            }
        }
    }
}

/// Keeps states in memory (no history); clones share the same states.
///
/// Locks, saves and journals behave as in [`super::FileStateStore`], so the engine's crash
/// and resume tests run against it.
#[derive(Debug, Clone, Default)]
pub struct MemoryStateStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of journal entries not yet folded into a saved state (for tests).
    pub fn journal_len(&self, stack: &str) -> usize {
        self.lock_inner()
            .stacks
            .get(stack)
            .map_or(0, |s| s.appended)
    }

    fn lock_inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-written: the methods
        // below do map operations and apply journal entries, none of which panics.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError> {
        let mut inner = self.lock_inner();
        if let Some(holder) = inner.locks.get(stack) {
            return Err(StateError::Locked {
                stack: stack.to_owned(),
                holder: holder.clone(),
                hint: None,
            });
        }
        inner
            .locks
            .insert(stack.to_owned(), LockInfo::current(operation));
        let shared = Arc::clone(&self.inner);
        let stack = stack.to_owned();
        Ok(StateLock::new(move || {
            shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .locks
                .remove(&stack);
        }))
    }

    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError> {
        Ok(self
            .lock_inner()
            .stacks
            .get_mut(stack)
            .map(|stored| stored.current().clone()))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        check_serial(state, inner.stored_serial(&state.stack))?;
        inner.put(state.clone());
        Ok(())
    }

    async fn save_owned(&self, state: StackState) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        check_serial(&state, inner.stored_serial(&state.stack))?;
        inner.put(state);
        Ok(())
    }

    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        match inner.stacks.get_mut(stack) {
            Some(stored) => {
                stored.appended += entries.len();
                stored.journal.push(entries);
            }
            None => {
                // A journal with no saved state before it, as a file store allows.
                inner.stacks.insert(
                    stack.to_owned(),
                    Stored {
                        state: StackState::new(stack),
                        appended: entries.len(),
                        journal: vec![entries],
                    },
                );
            }
        }
        Ok(())
    }

    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        inner.stacks.remove(stack);
        Ok(())
    }
}
