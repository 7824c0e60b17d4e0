//! The embedded state store: one JSON document and one journal per stack in a directory.
//!
//! Layout, for a stack `demo` in directory `.iac/`:
//! - `.iac/demo.state.json`: the last saved [`StackState`], written atomically (a temporary
//!   file in the same directory, fsync, rename over the old one, fsync of the directory);
//! - `.iac/demo.journal.jsonl`: one [`JournalEntry`] per line, appended and fsynced before
//!   [`StateStore::append`] returns, folded into the document by the next save;
//! - `.iac/demo.lock`: exists while an operation holds the stack, and names its holder.
//!
//! Every file is created with mode 0600 and the directory with 0700: states name every
//! object of a stack. A crash while a journal line is written leaves a torn last line, which
//! loading ignores (with a warning); any other broken line is reported with its line number.
//!
//! File I/O is synchronous inside the async methods: the engine calls the store between
//! cloud calls that take far longer than an fsync, and durable ordering is simplest this way.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind as IoErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    JournalEntry, LockInfo, STATE_SCHEMA_VERSION, StackState, StateError, StateLock, StateStore,
};

/// Keeps stack states as files in one directory.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    dir: PathBuf,
    /// Open journals, so that appends do not reopen the file each time.
    journals: Arc<Mutex<HashMap<String, File>>>,
}

fn io(action: &str, path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        action: action.to_owned(),
        path: path.display().to_string(),
        source,
    }
}

/// Stack names become file names: letters, digits, `-`, `_` and `.`, not starting with `.`.
fn check_name(stack: &str) -> Result<(), StateError> {
    let ok = !stack.is_empty()
        && stack.len() <= 128
        && !stack.starts_with('.')
        && stack
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidStackName {
            stack: stack.to_owned(),
        })
    }
}

impl FileStateStore {
    /// A store in `dir` (created, mode 0700, when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStateStore {
            dir: dir.into(),
            journals: Arc::default(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a stack's state document.
    pub fn state_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.state.json"))
    }

    /// Path of a stack's journal.
    pub fn journal_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.journal.jsonl"))
    }

    /// Path of a stack's lock file.
    pub fn lock_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.lock"))
    }

    /// Removes a stale lock left by a process that is gone (killed with `kill -9`, a lost
    /// machine). Only do this when no operation on the stack is running.
    pub fn force_unlock(&self, stack: &str) -> Result<(), StateError> {
        check_name(stack)?;
        let path = self.lock_path(stack);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == IoErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing the lock", &path, e)),
        }
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io("creating the state directory", &self.dir, e))
    }

    fn journals(&self) -> std::sync::MutexGuard<'_, HashMap<String, File>> {
        // A panic while holding the map cannot leave it half-changed: each use is one call.
        self.journals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_state(&self, stack: &str) -> Result<Option<StackState>, StateError> {
        let path = self.state_path(stack);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("reading the state", &path, e)),
        };
        // The version is checked first, so that a newer layout is named as such rather than
        // as a parse error.
        if let Ok(probe) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let found = probe
                .get("schema_version")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            if found > u64::from(STATE_SCHEMA_VERSION) {
                return Err(StateError::UnsupportedVersion {
                    stack: stack.to_owned(),
                    found: u32::try_from(found).unwrap_or(u32::MAX),
                    supported: STATE_SCHEMA_VERSION,
                });
            }
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                stack: stack.to_owned(),
                location: format!("{}:{}:{}", path.display(), e.line(), e.column()),
                message: e.to_string(),
            })
    }

    fn read_journal(&self, stack: &str) -> Result<Vec<JournalEntry>, StateError> {
        let path = self.journal_path(stack);
        let text = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading the journal", &path, e)),
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let complete = text.ends_with('\n');
        let mut entries = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let last = i + 1 == lines.len()
                || (i + 2 == lines.len() && complete && lines[i + 1].is_empty());
            match serde_json::from_str::<JournalEntry>(line) {
                Ok(entry) => entries.push(entry),
                Err(e) if last => {
                    tracing::warn!(journal = %path.display(), line = i + 1, error = %e, "ignoring a torn last journal line");
                }
                Err(e) => {
                    return Err(StateError::Corrupt {
                        stack: stack.to_owned(),
                        location: format!("{}:{}", path.display(), i + 1),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(entries)
    }

    fn write_state(&self, state: &StackState) -> Result<(), StateError> {
        check_name(&state.stack)?;
        self.ensure_dir()?;
        let path = self.state_path(&state.stack);
        let tmp = self.dir.join(format!(
            ".{}.state.json.tmp-{}",
            state.stack,
            std::process::id()
        ));
        let body = serde_json::to_vec_pretty(state).map_err(|e| StateError::Corrupt {
            stack: state.stack.clone(),
            location: "serializing".into(),
            message: e.to_string(),
        })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("creating", &tmp, e))?;
        file.write_all(&body).map_err(|e| io("writing", &tmp, e))?;
        file.sync_all().map_err(|e| io("syncing", &tmp, e))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| io("replacing the state with", &tmp, e))?;
        if let Ok(dir) = File::open(&self.dir) {
            // Makes the rename durable; a filesystem that cannot sync a directory still
            // has the new file in place.
            let _ = dir.sync_all();
        }
        // The journal is folded into the document now: a crash before this removal leaves
        // whole-record entries whose replay gives the same state.
        self.journals().remove(&state.stack);
        let journal = self.journal_path(&state.stack);
        match fs::remove_file(&journal) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == IoErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("clearing the journal", &journal, e)),
        }
    }
}

#[async_trait]
impl StateStore for FileStateStore {
    async fn lock(&self, stack: &str, operation: &str) -> Result<StateLock, StateError> {
        check_name(stack)?;
        self.ensure_dir()?;
        let path = self.lock_path(stack);
        let info = LockInfo::current(operation);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                let body = serde_json::to_vec(&info).unwrap_or_default();
                file.write_all(&body)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io("writing the lock", &path, e))?;
                Ok(StateLock::new(move || {
                    if let Err(e) = fs::remove_file(&path) {
                        tracing::warn!(lock = %path.display(), error = %e, "could not remove the lock file");
                    }
                }))
            }
            Err(e) if e.kind() == IoErrorKind::AlreadyExists => {
                let holder = fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<LockInfo>(&bytes).ok())
                    .unwrap_or_else(|| LockInfo {
                        host: "an unknown host".into(),
                        pid: 0,
                        since: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                        operation: "an unreadable lock file".into(),
                    });
                Err(StateError::Locked {
                    stack: stack.to_owned(),
                    holder,
                    hint: Some(format!(
                        "if no such process is running, remove {}",
                        path.display()
                    )),
                })
            }
            Err(e) => Err(io("creating the lock", &path, e)),
        }
    }

    async fn load(&self, stack: &str) -> Result<Option<StackState>, StateError> {
        check_name(stack)?;
        let journal = self.read_journal(stack)?;
        let mut state = match self.read_state(stack)? {
            Some(state) => state,
            None if journal.is_empty() => return Ok(None),
            None => StackState::new(stack),
        };
        for entry in journal {
            state.apply_owned_entry(entry);
        }
        Ok(Some(state))
    }

    async fn save(&self, state: &StackState) -> Result<(), StateError> {
        self.write_state(state)
    }

    async fn append(&self, stack: &str, entries: Vec<JournalEntry>) -> Result<(), StateError> {
        check_name(stack)?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(entries.len() * 256);
        for entry in &entries {
            serde_json::to_writer(&mut buf, entry).map_err(|e| StateError::Corrupt {
                stack: stack.to_owned(),
                location: "serializing a journal entry".into(),
                message: e.to_string(),
            })?;
            buf.push(b'\n');
        }
        let path = self.journal_path(stack);
        let mut journals = self.journals();
        if !journals.contains_key(stack) {
            self.ensure_dir()?;
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io("opening the journal", &path, e))?;
            journals.insert(stack.to_owned(), file);
        }
        let file = journals.get_mut(stack).expect("inserted above");
        file.write_all(&buf)
            .map_err(|e| io("appending to the journal", &path, e))?;
        file.sync_data()
            .map_err(|e| io("syncing the journal", &path, e))
    }

    async fn remove(&self, stack: &str) -> Result<(), StateError> {
        check_name(stack)?;
        self.journals().remove(stack);
        for path in [self.state_path(stack), self.journal_path(stack)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == IoErrorKind::NotFound => {}
                Err(e) => return Err(io("removing", &path, e)),
            }
        }
        Ok(())
    }
}
