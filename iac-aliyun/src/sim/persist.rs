//! Persistence across runs ([`super::SimConfig::persist`]): the cloud as one JSON file.
//!
//! Saved: every object with its fields, tags, children and allocated addresses, the
//! `ClientToken` replay table and the next public address. Not saved: nonces, call counts,
//! faults, quota windows, delays and access keys (those come from the config).
//!
//! Timers: statuses are computed from a [`tokio::time::Instant`], which means nothing in
//! another process. Before a save every timer is rebased to now (an object that was `Pending`
//! for 2 more seconds gets `created = now, pending = 2 s`; this does not change any status),
//! the remaining delays are written in milliseconds, rounded up (`pending_ms`, `starting_ms`,
//! a started listener's `delay_ms`), next to the `status` the
//! object had, and the instants are left out. On load the instants are the load time, so the
//! timers restart from there; a `status` that the delays contradict is `InvalidData` (a
//! missing one is accepted).
//!
//! The file is written atomically: a temporary file in the same directory (mode 0600 on
//! unix), fsync, rename.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::state::{Bucket, FileSystem, Instance, LoadBalancer, Replay, SecurityGroup, State};
use super::state::{VSwitch, Vpc};

/// The format version written and the only one read.
pub(crate) const VERSION: u64 = 1;

/// A duration as whole milliseconds, rounded up so that a status never ends early.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let ms = d.as_nanos().div_ceil(1_000_000);
        s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Bytes as Base64 text.
pub(crate) mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(D::Error::custom)
    }
}

/// The time left of a delay started at `since`, seen at `now`.
fn left(since: Instant, delay: Duration, now: Instant) -> Duration {
    delay.saturating_sub(now.saturating_duration_since(since))
}

/// A `ClientToken` replay, as saved.
#[derive(Serialize, Deserialize)]
struct Token {
    action: String,
    token: String,
    fingerprint: Vec<(String, String)>,
    body: Value,
}

/// The file, as written.
#[derive(Serialize)]
struct SavedRef<'a> {
    version: u64,
    next_public_ip: u32,
    vpcs: &'a [Vpc],
    vswitches: &'a [VSwitch],
    security_groups: &'a [SecurityGroup],
    instances: &'a [Instance],
    load_balancers: &'a [LoadBalancer],
    file_systems: &'a [FileSystem],
    buckets: &'a [Bucket],
    client_tokens: Vec<Token>,
}

/// The file, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    #[allow(dead_code)]
    version: u64,
    next_public_ip: u32,
    vpcs: Vec<Vpc>,
    vswitches: Vec<VSwitch>,
    security_groups: Vec<SecurityGroup>,
    instances: Vec<Instance>,
    load_balancers: Vec<LoadBalancer>,
    file_systems: Vec<FileSystem>,
    buckets: Vec<Bucket>,
    client_tokens: Vec<Token>,
}

/// Rebases every timer to `now` without changing any status (see the module doc).
fn rebase(state: &mut State, now: Instant) {
    for v in &mut state.vpcs {
        v.pending = left(v.created, v.pending, now);
        v.created = now;
    }
    for v in &mut state.vswitches {
        v.pending = left(v.created, v.pending, now);
        v.created = now;
    }
    for i in &mut state.instances {
        let age = now.saturating_duration_since(i.created);
        let pending = i.pending.saturating_sub(age);
        let starting = i.starting.saturating_sub(age.saturating_sub(i.pending));
        (i.created, i.pending, i.starting) = (now, pending, starting);
    }
    for lb in &mut state.load_balancers {
        for listener in &mut lb.listeners {
            if let super::state::ListenerState::Started { at, delay } = &mut listener.state {
                *delay = left(*at, *delay, now);
                *at = now;
            }
        }
    }
    for fs in &mut state.file_systems {
        for m in &mut fs.mount_targets {
            m.pending = left(m.created, m.pending, now);
            m.created = now;
        }
    }
}

/// Starts every timer of a loaded cloud at `now` (one instant for all, so that the status
/// check on load sees exactly the saved delays).
fn restart(state: &mut State, now: Instant) {
    for v in &mut state.vpcs {
        v.created = now;
    }
    for v in &mut state.vswitches {
        v.created = now;
    }
    for i in &mut state.instances {
        i.created = now;
    }
    for lb in &mut state.load_balancers {
        for listener in &mut lb.listeners {
            if let super::state::ListenerState::Started { at, .. } = &mut listener.state {
                *at = now;
            }
        }
    }
    for fs in &mut state.file_systems {
        for m in &mut fs.mount_targets {
            m.created = now;
        }
    }
}

/// The status of every object with a timer, by JSON pointer into the file
/// (`/instances/0`, `/load_balancers/1/listeners/0`, ...).
fn statuses(state: &State, now: Instant) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, v) in state.vpcs.iter().enumerate() {
        out.push((format!("/vpcs/{i}"), v.status(now).to_owned()));
    }
    for (i, v) in state.vswitches.iter().enumerate() {
        out.push((format!("/vswitches/{i}"), v.status(now).to_owned()));
    }
    for (i, v) in state.instances.iter().enumerate() {
        out.push((format!("/instances/{i}"), v.status(now).to_owned()));
    }
    for (i, lb) in state.load_balancers.iter().enumerate() {
        for (j, l) in lb.listeners.iter().enumerate() {
            out.push((
                format!("/load_balancers/{i}/listeners/{j}"),
                l.status(now).to_owned(),
            ));
        }
    }
    for (i, fs) in state.file_systems.iter().enumerate() {
        for (j, m) in fs.mount_targets.iter().enumerate() {
            out.push((
                format!("/file_systems/{i}/mount_targets/{j}"),
                m.status(now),
            ));
        }
    }
    out
}

/// The JSON pointers of the objects that may carry a `status` in `value`.
fn status_pointers(value: &Value) -> Vec<String> {
    let len = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let mut out = Vec::new();
    for list in ["vpcs", "vswitches", "instances"] {
        out.extend((0..len(&format!("/{list}"))).map(|i| format!("/{list}/{i}")));
    }
    for (list, children) in [
        ("load_balancers", "listeners"),
        ("file_systems", "mount_targets"),
    ] {
        for i in 0..len(&format!("/{list}")) {
            let parent = format!("/{list}/{i}/{children}");
            out.extend((0..len(&parent)).map(|j| format!("{parent}/{j}")));
        }
    }
    out
}

/// The cloud as the JSON text of the file, timers rebased to now.
pub(crate) fn to_json(state: &mut State) -> std::io::Result<Vec<u8>> {
    let now = Instant::now();
    rebase(state, now);
    let mut client_tokens: Vec<Token> = state
        .tokens
        .iter()
        .map(|((action, token), replay)| Token {
            action: action.clone(),
            token: token.clone(),
            fingerprint: replay.fingerprint.clone(),
            body: replay.body.clone(),
        })
        .collect();
    client_tokens.sort_by(|a, b| (&a.action, &a.token).cmp(&(&b.action, &b.token)));
    let saved = SavedRef {
        version: VERSION,
        next_public_ip: state.next_public_ip,
        vpcs: &state.vpcs,
        vswitches: &state.vswitches,
        security_groups: &state.groups,
        instances: &state.instances,
        load_balancers: &state.load_balancers,
        file_systems: &state.file_systems,
        buckets: &state.buckets,
        client_tokens,
    };
    let mut value = serde_json::to_value(&saved).map_err(std::io::Error::other)?;
    for (pointer, status) in statuses(state, now) {
        if let Some(Value::Object(object)) = value.pointer_mut(&pointer) {
            object.insert("status".to_owned(), Value::String(status));
        }
    }
    serde_json::to_vec_pretty(&value).map_err(std::io::Error::other)
}

fn invalid_data(path: &Path, why: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

/// Reads the file at `path` into `state` (whose inventory is empty). A missing file leaves
/// the cloud empty; a file that is not a saved cloud of [`VERSION`] is `InvalidData`.
pub(crate) fn load(state: &mut State, path: &Path) -> std::io::Result<()> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ));
        }
    };
    let value: Value = serde_json::from_slice(&text).map_err(|e| invalid_data(path, e))?;
    match value.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(other) => {
            return Err(invalid_data(
                path,
                format!("version {other} is not supported (only {VERSION})"),
            ));
        }
        None => return Err(invalid_data(path, "the \"version\" field is missing")),
    }
    let mut value = value;
    let mut saved_statuses = HashMap::new();
    for pointer in status_pointers(&value) {
        if let Some(Value::Object(object)) = value.pointer_mut(&pointer)
            && let Some(status) = object.remove("status")
        {
            saved_statuses.insert(pointer, status);
        }
    }
    let saved: Saved = serde_json::from_value(value).map_err(|e| invalid_data(path, e))?;
    let mut tokens = HashMap::new();
    for t in saved.client_tokens {
        tokens.insert(
            (t.action, t.token),
            Replay {
                fingerprint: t.fingerprint,
                body: t.body,
            },
        );
    }
    state.next_public_ip = saved.next_public_ip & 0x00FF_FFFF;
    state.vpcs = saved.vpcs;
    state.vswitches = saved.vswitches;
    state.groups = saved.security_groups;
    state.instances = saved.instances;
    state.load_balancers = saved.load_balancers;
    state.file_systems = saved.file_systems;
    state.buckets = saved.buckets;
    state.tokens = tokens;
    let now = Instant::now();
    restart(state, now);
    for (pointer, status) in statuses(state, now) {
        if let Some(saved) = saved_statuses.get(&pointer)
            && saved.as_str() != Some(status.as_str())
        {
            return Err(invalid_data(
                path,
                format!("{pointer}: the status {saved} does not fit the delays saved ({status})"),
            ));
        }
    }
    Ok(())
}

/// Writes `data` to `path` atomically: a temporary file next to it (mode 0600 on unix),
/// fsync, rename over `path`.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{}: not a file name", path.display()),
            )
        })?
        .to_string_lossy();
    let temp = dir.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)?;
        #[cfg(unix)]
        if let Ok(dir) = std::fs::File::open(dir) {
            // Makes the rename durable; some file systems refuse, which is no error here.
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    })
}

/// Saves the cloud when `state` has a file to save to; `Ok(())` without one.
pub(crate) fn save(state: &mut State) -> std::io::Result<()> {
    let Some(path) = state.persist.clone() else {
        return Ok(());
    };
    let data = to_json(state)?;
    write_atomic(&path, &data)
}
