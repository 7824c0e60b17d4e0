//! The embedded state store: one JSON document and one journal per stack in a directory.
//!
//! Layout, for a stack `demo` in directory `.iac/`:
//! - `.iac/demo.state.json`: the last saved [`StackState`], written atomically (a temporary
//!   file in the same directory, fsync, rename over the old one, fsync of the directory);
//! - `.iac/demo.journal.jsonl`: one [`JournalEntry`] per line, appended and fsynced before
//!   [`StateStore::append`] returns, folded into the document by the next save;
//! - `.iac/demo.lock`: exists while an operation holds the stack, and names its holder;
//! - `.iac/demo.history/7.state.json`: the state as saved with serial 7, one file per kept
//!   version (a hard link to the document a save wrote, so keeping it copies nothing).
//!
//! A lock left by a process that died (killed with `kill -9`) is never broken silently: the
//! next operation fails naming the holder, says when that process is gone from this host, and
//! how to break the lock ([`FileStateStore::force_unlock`]).
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
    DEFAULT_HISTORY_LIMIT, JournalEntry, LockInfo, StackState, StateError, StateLock, StateStore,
    StateVersion, check_serial, parse_state,
};

/// Keeps stack states as files in one directory.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    dir: PathBuf,
    history_limit: usize,
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
            history_limit: DEFAULT_HISTORY_LIMIT,
            journals: Arc::default(),
        }
    }

    /// Keeps at most `limit` saved versions of each stack (default
    /// [`DEFAULT_HISTORY_LIMIT`]; 0 keeps none).
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
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

    /// Directory of a stack's kept versions.
    pub fn history_dir(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.history"))
    }

    /// Removes a stale lock left by a process that is gone (killed with `kill -9`, a lost
    /// machine): the lock error says when its holder no longer runs on this host. Only do
    /// this when no operation on the stack is running.
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
        read_document(stack, &self.state_path(stack))
    }

    /// The serial of the stored document (0 when there is none), read without building the
    /// state.
    fn stored_serial(&self, stack: &str) -> Result<u64, StateError> {
        #[derive(serde::Deserialize)]
        struct Probe {
            #[serde(default)]
            serial: u64,
        }
        let path = self.state_path(stack);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Probe>(&bytes)
                .map(|p| p.serial)
                .map_err(|e| StateError::Corrupt {
                    stack: stack.to_owned(),
                    location: format!("{}:{}:{}", path.display(), e.line(), e.column()),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == IoErrorKind::NotFound => Ok(0),
            Err(e) => Err(io("reading the state", &path, e)),
        }
    }

    /// Keeps the document just saved as version `serial`, then drops the oldest versions
    /// beyond the limit.
    fn keep_version(&self, stack: &str, serial: u64) -> Result<(), StateError> {
        if self.history_limit == 0 {
            return Ok(());
        }
        let dir = self.history_dir(stack);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io("creating the history directory", &dir, e))?;
        let version = dir.join(format!("{serial}.state.json"));
        let _ = fs::remove_file(&version);
        if fs::hard_link(self.state_path(stack), &version).is_err() {
            // A filesystem without hard links: a copy (mode 0600, as the source).
            fs::copy(self.state_path(stack), &version)
                .map_err(|e| io("keeping a version in", &version, e))?;
        }
        let versions = self.versions(stack)?;
        let excess = versions.len().saturating_sub(self.history_limit);
        for (old, path) in versions.into_iter().take(excess) {
            fs::remove_file(&path)
                .map_err(|e| io(&format!("dropping version {old} at"), &path, e))?;
        }
        Ok(())
    }

    /// Kept versions of a stack, oldest first, with their files.
    fn versions(&self, stack: &str) -> Result<Vec<(u64, PathBuf)>, StateError> {
        let dir = self.history_dir(stack);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("listing the history in", &dir, e)),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io("listing the history in", &dir, e))?;
            let name = entry.file_name();
            // Other files (an editor's backup) are not versions.
            if let Some(serial) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".state.json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                versions.push((serial, entry.path()));
            }
        }
        versions.sort_unstable();
        Ok(versions)
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
        check_serial(state, self.stored_serial(&state.stack)?)?;
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
        self.keep_version(&state.stack, state.serial)?;
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
                let hint = if holder_is_gone(&holder) {
                    format!(
                        "that process no longer runs on this host: the lock is stale. Break it with \
                         FileStateStore::force_unlock(\"{stack}\") or by removing {}, once you are sure \
                         no operation on the stack is running",
                        path.display()
                    )
                } else {
                    format!(
                        "if no such process is running, break the lock with \
                         FileStateStore::force_unlock(\"{stack}\") or by removing {}",
                        path.display()
                    )
                };
                Err(StateError::Locked {
                    stack: stack.to_owned(),
                    holder,
                    hint: Some(hint),
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
        let history = self.history_dir(stack);
        match fs::remove_dir_all(&history) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == IoErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing the history", &history, e)),
        }
    }

    async fn history(&self, stack: &str) -> Result<Vec<StateVersion>, StateError> {
        check_name(stack)?;
        let mut out = Vec::new();
        for (serial, path) in self.versions(stack)? {
            let meta = fs::metadata(&path).map_err(|e| io("reading", &path, e))?;
            let saved = meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .map_err(|e| io("reading the time of", &path, e))?;
            out.push(StateVersion {
                serial,
                saved,
                bytes: meta.len(),
                saved_by: None,
            });
        }
        Ok(out)
    }

    async fn show(&self, stack: &str, serial: u64) -> Result<Option<StackState>, StateError> {
        check_name(stack)?;
        read_document(
            stack,
            &self.history_dir(stack).join(format!("{serial}.state.json")),
        )
    }
}

/// Reads a state document; `None` when the file does not exist.
fn read_document(stack: &str, path: &Path) -> Result<Option<StackState>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading the state", path, e)),
    };
    parse_state(stack, &bytes, &|line, column| {
        format!("{}:{line}:{column}", path.display())
    })
    .map(Some)
}

/// True when the lock's holder ran on this host and no process with its id runs now (a
/// process killed with `kill -9`). A holder on another host, or any doubt, counts as alive.
fn holder_is_gone(holder: &LockInfo) -> bool {
    let here = gethostname::gethostname();
    if holder.pid == 0 || here.to_string_lossy() != holder.host {
        return false;
    }
    if cfg!(target_os = "linux") {
        !Path::new("/proc").join(holder.pid.to_string()).exists()
    } else {
        false
    }
}
