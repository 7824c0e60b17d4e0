//! In-memory state store, for tests and short-lived programs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{JournalEntry, LockInfo, StackState, StateError, StateLock, StateStore, check_serial};

#[derive(Debug, Default)]
struct Inner {
    /// The last saved state of each stack with its journal applied as it arrives (the
    /// same result as replaying the journal on load, without keeping the entries).
    states: HashMap<String, StackState>,
    /// Entries appended since the last save.
    journal_lens: HashMap<String, usize>,
    locks: HashMap<String, LockInfo>,
}

impl Inner {
    fn stored_serial(&self, stack: &str) -> u64 {
        self.states.get(stack).map_or(0, |s| s.serial)
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
            .journal_lens
            .get(stack)
            .copied()
            .unwrap_or(0)
    }

    fn lock_inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-written: every method
        // below does one map operation.
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
        Ok(self.lock_inner().states.get(stack).cloned())
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        check_serial(state, inner.stored_serial(&state.stack))?;
        inner.journal_lens.remove(&state.stack);
        inner.states.insert(state.stack.clone(), state.clone());
        Ok(())
    }

    async fn save_owned(&self, state: StackState) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        check_serial(&state, inner.stored_serial(&state.stack))?;
        inner.journal_lens.remove(&state.stack);
        inner.states.insert(state.stack.clone(), state);
        Ok(())
    }

    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        // Keys are copied only for a stack seen for the first time (an apply appends once
        // per step).
        match inner.journal_lens.get_mut(stack) {
            Some(len) => *len += entries.len(),
            None => {
                inner.journal_lens.insert(stack.to_owned(), entries.len());
            }
        }
        if !inner.states.contains_key(stack) {
            inner
                .states
                .insert(stack.to_owned(), StackState::new(stack));
        }
        let state = inner.states.get_mut(stack).expect("inserted above");
        for entry in entries {
            state.apply_owned_entry(entry);
        }
        Ok(())
    }

    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        inner.states.remove(stack);
        inner.journal_lens.remove(stack);
        Ok(())
    }
}
