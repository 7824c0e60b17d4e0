//! In-memory state store, for tests and short-lived programs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{JournalEntry, LockInfo, StackState, StateError, StateLock, StateStore};

#[derive(Debug, Default)]
struct Inner {
    states: HashMap<String, StackState>,
    journals: HashMap<String, Vec<JournalEntry>>,
    locks: HashMap<String, LockInfo>,
}

/// Keeps states in memory; clones share the same states.
///
/// Locks, saves and journals behave as in the file store, so the engine's crash
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
        self.lock_inner().journals.get(stack).map_or(0, Vec::len)
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
        let inner = self.lock_inner();
        let journal = inner
            .journals
            .get(stack)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut state = match inner.states.get(stack) {
            Some(state) => state.clone(),
            None if journal.is_empty() => return Ok(None),
            None => StackState::new(stack),
        };
        for entry in journal {
            state.apply_entry(entry);
        }
        Ok(Some(state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        inner.journals.remove(&state.stack);
        inner.states.insert(state.stack.clone(), state.clone());
        Ok(())
    }

    async fn append(&self, stack: &str, entries: &[JournalEntry]) -> Result<(), StateError> {
        self.lock_inner()
            .journals
            .entry(stack.to_owned())
            .or_default()
            .extend_from_slice(entries);
        Ok(())
    }

    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        inner.states.remove(stack);
        inner.journals.remove(stack);
        Ok(())
    }
}
