//! An in-memory cloud: a provider for tests, benchmarks and offline demos.
//!
//! [`MemoryCloud`] keeps an inventory of objects and serves any resource type you register
//! with it. It behaves like a cloud in the ways the engine must cope with: calls take time
//! (virtual time under `tokio::time::pause`), objects become ready after a delay, creates are
//! idempotent by client token, deleting an object that another object still references is
//! refused (`DependencyViolation`), creating one that references a missing object is refused,
//! and faults are injected reproducibly from a seed (throttling, transient errors, and
//! "timeout after success": the object is made but the answer is lost). A handler whose
//! schema declares [`Schema::snapshots`] takes snapshots (`DeletionPolicy: Snapshot`):
//! idempotent by token, complete after the same delay as objects, kept after the object is
//! deleted ([`MemoryCloud::snapshots`]).
//!
//! It is a test double: it proves the engine's logic, not a cloud's behaviour.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;
use serde_json::Value;
use tokio::time::Instant;

use crate::provider::{
    Attributes, CreateRequest, Created, Deleted, ErrorKind, HandlerError, PhysicalId, PollTarget,
    Properties, Readiness, Registry, ResourceHandler, Schema, SnapshotRequest, SnapshotStarted,
    UpdateBehavior, Updated,
};

/// Prefix of every physical id the memory cloud hands out.
pub const ID_PREFIX: &str = "mem-";

/// Faults to inject, drawn from a seeded random source.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Seed of the random source.
    pub seed: u64,
    /// Probability that a call is throttled before it does anything.
    pub throttle: f64,
    /// Probability that a call fails transiently before it does anything.
    pub transient: f64,
    /// Probability that a mutating call does its work and then loses its answer.
    pub timeout_after_success: f64,
    /// Logical ids whose creates always fail (permanently).
    pub fail_create: HashSet<String>,
    /// Logical ids whose objects never become ready (readiness reports a failure).
    pub fail_ready: HashSet<String>,
    /// Logical ids whose objects refuse to be deleted (permanently).
    pub fail_delete: HashSet<String>,
    /// Logical ids whose snapshots fail (their progress reports a failure).
    pub fail_snapshot: HashSet<String>,
    /// Calls allowed per second (of virtual time), all operations together; calls above it
    /// are throttled, as a cloud's per-account API quota does.
    pub quota_per_second: Option<u32>,
}

/// How the memory cloud behaves.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Time each call takes (zero: no await point at all).
    pub call_latency: Duration,
    /// Time from a create's return until the object is ready (zero: ready at once).
    pub ready_after: Duration,
    /// Refuse deletes of referenced objects and creates that reference missing ones.
    pub enforce_references: bool,
    /// Faults to inject.
    pub faults: Faults,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            call_latency: Duration::ZERO,
            ready_after: Duration::ZERO,
            enforce_references: true,
            faults: Faults::default(),
        }
    }
}

/// One object in the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryObject {
    /// Its type name (shared by the objects of a type).
    pub type_name: Arc<str>,
    /// The logical id it was created for (shared with the cloud's count of creates).
    pub logical_id: Arc<str>,
    /// Its properties (shared with the record of the client token that created it).
    pub properties: Arc<Properties>,
    ready_at: Instant,
}

/// A snapshot in the memory cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySnapshot {
    /// The object it is of (which may be deleted since).
    pub of: PhysicalId,
    /// The logical id of that object.
    pub logical_id: Arc<str>,
    /// The object's properties when the snapshot was taken.
    pub properties: Arc<Properties>,
    ready_at: Instant,
}

impl MemorySnapshot {
    /// When it is (or was) complete.
    pub fn ready_at(&self) -> Instant {
        self.ready_at
    }
}

/// Prefix of every snapshot id the memory cloud hands out.
pub const SNAPSHOT_PREFIX: &str = "memsnap-";

#[derive(Debug)]
struct Inner {
    deletions: Vec<(PhysicalId, Instant)>,
    snapshots: FxHashMap<PhysicalId, MemorySnapshot>,
    snapshot_tokens: FxHashMap<TokenKey, PhysicalId>,
    /// Unordered: [`MemoryCloud::inventory`] sorts a copy.
    objects: FxHashMap<PhysicalId, MemoryObject>,
    tokens: FxHashMap<TokenKey, (PhysicalId, Arc<Properties>)>,
    next_id: u64,
    calls: BTreeMap<&'static str, u64>,
    creates: FxHashMap<Arc<str>, u64>,
    rng: StdRng,
    window: Option<(Instant, u32)>,
    throttled: u64,
}

/// The shared in-memory cloud; clones see the same inventory.
#[derive(Debug, Clone)]
pub struct MemoryCloud {
    inner: Arc<Mutex<Inner>>,
    config: Arc<MemoryConfig>,
}

impl MemoryCloud {
    /// A cloud with the given behaviour.
    pub fn new(config: MemoryConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.faults.seed);
        MemoryCloud {
            inner: Arc::new(Mutex::new(Inner {
                deletions: Vec::new(),
                snapshots: FxHashMap::default(),
                snapshot_tokens: FxHashMap::default(),
                objects: FxHashMap::default(),
                tokens: FxHashMap::default(),
                next_id: 1,
                calls: BTreeMap::new(),
                creates: FxHashMap::default(),
                rng,
                window: None,
                throttled: 0,
            })),
            config: Arc::new(config),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section below leaves `Inner` consistent before it can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A handler for `type_name` with a lenient schema: every property is mutable, and the
    /// only attribute is `Id`. Properties named in a schema's attributes (see
    /// [`MemoryCloud::handler_with_schema`]) are readable as attributes too.
    pub fn handler(&self, type_name: &str) -> Arc<MemoryHandler> {
        let schema = Schema::new(type_name)
            .with_readiness_hint(self.config.ready_after)
            .with_attributes(&["Id"]);
        self.handler_with_schema(schema)
    }

    /// A handler with an explicit schema.
    pub fn handler_with_schema(&self, schema: Schema) -> Arc<MemoryHandler> {
        Arc::new(MemoryHandler {
            cloud: self.clone(),
            type_name: Arc::from(schema.type_name.as_str()),
            schema,
        })
    }

    /// A registry serving every type in `type_names` from this cloud.
    pub fn registry(&self, type_names: &[&str]) -> Registry {
        let mut registry = Registry::new();
        for name in type_names {
            registry.register(self.handler(name));
        }
        registry
    }

    /// Every live object, by physical id.
    pub fn inventory(&self) -> BTreeMap<PhysicalId, MemoryObject> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .map(|(id, obj)| (id.clone(), obj.clone()))
            .collect()
    }

    /// Every snapshot taken (complete or not), by snapshot id.
    pub fn snapshots(&self) -> BTreeMap<PhysicalId, MemorySnapshot> {
        let inner = self.lock();
        inner
            .snapshots
            .iter()
            .map(|(id, snap)| (id.clone(), snap.clone()))
            .collect()
    }

    /// Every object of a type that takes snapshots deleted so far, with when, in order (to
    /// check it against its snapshot; other types' deletes are not kept).
    pub fn deletions(&self) -> Vec<(PhysicalId, Instant)> {
        self.lock().deletions.clone()
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.lock().objects.len()
    }

    /// True when no object is alive.
    pub fn is_empty(&self) -> bool {
        self.lock().objects.is_empty()
    }

    /// Calls made so far, by operation (`create`, `read`, `update`, `delete`, `poll`,
    /// `snapshot`, `read_snapshot`).
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.lock().calls.clone()
    }

    /// Calls refused as throttled so far.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// Objects ever created per logical id (a create retried with the same token counts once).
    pub fn creates(&self) -> HashMap<String, u64> {
        let inner = self.lock();
        inner
            .creates
            .iter()
            .map(|(k, v)| (String::from(&**k), *v))
            .collect()
    }

    async fn latency(&self) {
        if !self.config.call_latency.is_zero() {
            tokio::time::sleep(self.config.call_latency).await;
        }
    }

    /// Counts the call and draws the faults that strike before any effect.
    fn enter(&self, op: &'static str) -> Result<(), HandlerError> {
        let faults = &self.config.faults;
        let mut inner = self.lock();
        *inner.calls.entry(op).or_default() += 1;
        if let Some(quota) = faults.quota_per_second {
            let now = Instant::now();
            let (start, count) = match inner.window {
                Some((start, count))
                    if now.saturating_duration_since(start) < Duration::from_secs(1) =>
                {
                    (start, count)
                }
                _ => (now, 0),
            };
            if count >= quota {
                inner.window = Some((start, count));
                inner.throttled += 1;
                return Err(HandlerError::throttled(
                    None,
                    format!("Throttling.User: {op} is over the quota of {quota} calls per second"),
                ));
            }
            inner.window = Some((start, count + 1));
        }
        if faults.throttle > 0.0 && inner.rng.gen_bool(faults.throttle) {
            inner.throttled += 1;
            return Err(HandlerError::throttled(
                None,
                format!("Throttling.User: {op} is throttled"),
            ));
        }
        if faults.transient > 0.0 && inner.rng.gen_bool(faults.transient) {
            return Err(HandlerError::transient(format!(
                "ServiceUnavailable: {op} failed, try again"
            )));
        }
        Ok(())
    }

    /// Draws the "answer lost after the work was done" fault.
    fn answer_lost(&self) -> bool {
        let p = self.config.faults.timeout_after_success;
        p > 0.0 && self.lock().rng.gen_bool(p)
    }

    fn readiness(&self, id: &PhysicalId, now: Instant, names: &[String]) -> Readiness {
        let inner = self.lock();
        match inner.objects.get(id) {
            None => Readiness::Gone,
            Some(obj) if self.config.faults.fail_ready.contains(&*obj.logical_id) => {
                Readiness::Failed {
                    reason: format!("{id} stopped while starting"),
                }
            }
            Some(obj) if now >= obj.ready_at => {
                Readiness::Ready(attributes(id, &obj.properties, names))
            }
            Some(_) => Readiness::Pending {
                status: "Pending".into(),
            },
        }
    }
}

impl MemoryCloud {
    fn snapshot_readiness(&self, id: &PhysicalId, now: Instant) -> Readiness {
        let inner = self.lock();
        match inner.snapshots.get(id) {
            None => Readiness::Gone,
            Some(snap) if self.config.faults.fail_snapshot.contains(&*snap.logical_id) => {
                Readiness::Failed {
                    reason: format!("backup {id} of {} went to status error", snap.of),
                }
            }
            Some(snap) if now >= snap.ready_at => {
                let mut attrs = Attributes::new();
                attrs.insert("Id".into(), Value::String(id.as_str().to_owned()));
                attrs.insert("Of".into(), Value::String(snap.of.as_str().to_owned()));
                Readiness::Ready(attrs)
            }
            Some(_) => Readiness::Pending {
                status: "creating".into(),
            },
        }
    }
}

/// A client token as the cloud remembers it: a token as the engine derives them (`iac-` and
/// 60 lowercase hex digits) as its 30 bytes, in place; any other token as its text. Two
/// tokens have the same key exactly when they are the same text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TokenKey {
    Derived([u8; 30]),
    Other(Box<str>),
}

impl TokenKey {
    fn of(token: &str) -> TokenKey {
        /// A hex digit's value, 16 for any other byte.
        const VALUE: [u8; 256] = {
            let mut table = [16u8; 256];
            let mut i = 0;
            while i < 10 {
                table[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                table[b'a' as usize + i] = 10 + i as u8;
                i += 1;
            }
            table
        };
        if let Some(hex) = token.strip_prefix("iac-")
            && let Ok(hex) = <&[u8; 60]>::try_from(hex.as_bytes())
        {
            let mut bytes = [0u8; 30];
            let mut bad = 0u8;
            for (out, pair) in bytes.iter_mut().zip(hex.as_chunks::<2>().0) {
                let (hi, lo) = (VALUE[usize::from(pair[0])], VALUE[usize::from(pair[1])]);
                bad |= hi | lo;
                *out = hi << 4 | lo;
            }
            if bad & 16 == 0 {
                return TokenKey::Derived(bytes);
            }
        }
        TokenKey::Other(Box::from(token))
    }
}

/// The id of the `n`th object: `mem-` and `n` in decimal, made in place (without the
/// formatting machinery or a string to copy from: a create is the hot path of the engine's
/// benches).
fn object_id(n: u64) -> PhysicalId {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n).as_bytes();
    let mut id = [0u8; ID_PREFIX.len() + 20];
    id[..ID_PREFIX.len()].copy_from_slice(ID_PREFIX.as_bytes());
    id[ID_PREFIX.len()..][..digits.len()].copy_from_slice(digits);
    let id = std::str::from_utf8(&id[..ID_PREFIX.len() + digits.len()])
        .expect("ASCII prefix and digits");
    PhysicalId::from(id)
}

/// `Id`, and the properties the schema names as attributes.
fn attributes(id: &PhysicalId, properties: &Properties, names: &[String]) -> Attributes {
    // `Id` is always the object's id (never looked up among the properties), and a schema
    // that names only `Id` (the default) needs no lookup at all.
    let named = || names.iter().filter(|n| *n != "Id");
    // Room for every entry at once: a map grown one insert at a time keeps room for three.
    let found = named().filter(|n| properties.contains_key(*n)).count();
    let mut attrs = Attributes::with_capacity(found + 1);
    for name in named() {
        if let Some(value) = properties.get(name) {
            attrs.insert(name.clone(), value.clone());
        }
    }
    attrs.insert("Id".into(), Value::String(id.as_str().to_owned()));
    attrs
}

fn referenced_ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with(ID_PREFIX) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| referenced_ids(v, out)),
        Value::Object(map) => map.values().for_each(|v| referenced_ids(v, out)),
        _ => {}
    }
}

fn references_any(properties: &Properties) -> Vec<String> {
    let mut out = Vec::new();
    properties
        .values()
        .for_each(|v| referenced_ids(v, &mut out));
    out
}

/// The handler of one type in a [`MemoryCloud`].
#[derive(Debug)]
pub struct MemoryHandler {
    cloud: MemoryCloud,
    /// The schema's type name, shared by the objects this handler creates.
    type_name: Arc<str>,
    schema: Schema,
}

#[async_trait]
impl ResourceHandler for MemoryHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let cloud = &self.cloud;
        cloud.enter("create")?;
        cloud.latency().await;
        let faults = &cloud.config.faults;
        if faults.fail_create.contains(request.logical_id) {
            return Err(HandlerError::invalid(format!(
                "QuotaExceeded: cannot create {} for '{}'",
                self.schema.type_name, request.logical_id
            )));
        }
        let now = Instant::now();
        // The object's id, and its properties when this call created it.
        let (id, created) = {
            let mut inner = cloud.lock();
            let token = TokenKey::of(request.client_token.as_str());
            if let Some((id, props)) = inner.tokens.get(&token) {
                if **props != **request.properties {
                    return Err(HandlerError::invalid(format!(
                        "IdempotentParameterMismatch: token {} was used with other parameters",
                        request.client_token
                    )));
                }
                (id.clone(), None)
            } else {
                if cloud.config.enforce_references {
                    for referenced in references_any(request.properties) {
                        if !inner.objects.contains_key(referenced.as_str()) {
                            return Err(HandlerError::invalid(format!(
                                "InvalidParameter: '{}' references {referenced}, which does not exist",
                                request.logical_id
                            )));
                        }
                    }
                }
                let id = object_id(inner.next_id);
                inner.next_id += 1;
                let properties = Arc::clone(request.properties);
                let logical_id: Arc<str> = match inner.creates.get_key_value(request.logical_id) {
                    Some((shared, _)) => Arc::clone(shared),
                    None => Arc::from(request.logical_id),
                };
                inner.objects.insert(
                    id.clone(),
                    MemoryObject {
                        type_name: Arc::clone(&self.type_name),
                        logical_id: Arc::clone(&logical_id),
                        properties: Arc::clone(&properties),
                        ready_at: now + cloud.config.ready_after,
                    },
                );
                inner
                    .tokens
                    .insert(token, (id.clone(), Arc::clone(&properties)));
                *inner.creates.entry(logical_id).or_default() += 1;
                (id, Some(properties))
            }
        };
        if cloud.answer_lost() {
            return Err(HandlerError::transient(
                "timeout: the answer to create was lost",
            ));
        }
        let readiness = match created {
            // A new object: its state is known without looking it up again.
            Some(properties) if !faults.fail_ready.contains(request.logical_id) => {
                if cloud.config.ready_after.is_zero() {
                    Readiness::Ready(attributes(&id, &properties, &self.schema.attributes))
                } else {
                    Readiness::Pending {
                        status: "Pending".into(),
                    }
                }
            }
            _ => cloud.readiness(&id, now, &self.schema.attributes),
        };
        Ok(Created {
            physical_id: id,
            readiness,
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        self.cloud.enter("read")?;
        self.cloud.latency().await;
        Ok(self
            .cloud
            .readiness(physical_id, Instant::now(), &self.schema.attributes))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let cloud = &self.cloud;
        cloud.enter("update")?;
        cloud.latency().await;
        {
            let mut inner = cloud.lock();
            let Some(obj) = inner.objects.get_mut(physical_id) else {
                return Err(HandlerError::not_found(format!(
                    "{physical_id} does not exist"
                )));
            };
            for prop in &self.schema.properties {
                if prop.update == UpdateBehavior::ForcesReplacement
                    && obj.properties.get(&prop.name) != new.get(&prop.name)
                {
                    return Err(HandlerError::invalid(format!(
                        "{} cannot be changed in place",
                        prop.name
                    )));
                }
            }
            obj.properties = Arc::new(new.clone());
        }
        if cloud.answer_lost() {
            return Err(HandlerError::transient(
                "timeout: the answer to update was lost",
            ));
        }
        Ok(Updated {
            readiness: cloud.readiness(physical_id, Instant::now(), &self.schema.attributes),
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let cloud = &self.cloud;
        cloud.enter("delete")?;
        cloud.latency().await;
        {
            let mut inner = cloud.lock();
            let Some(obj) = inner.objects.get(physical_id) else {
                return Ok(Deleted::Done);
            };
            if cloud.config.faults.fail_delete.contains(&*obj.logical_id) {
                return Err(HandlerError::permanent(format!(
                    "OperationDenied: {physical_id} is protected"
                )));
            }
            if cloud.config.enforce_references {
                let user = inner.objects.iter().find(|(other, o)| {
                    *other != physical_id
                        && references_any(&o.properties)
                            .iter()
                            .any(|r| r == physical_id.as_str())
                });
                if let Some((user, _)) = user {
                    return Err(HandlerError::new(
                        ErrorKind::Conflict,
                        format!("DependencyViolation: {physical_id} is still used by {user}"),
                    ));
                }
            }
            inner.objects.remove(physical_id);
            if self.schema.snapshots {
                inner.deletions.push((physical_id.clone(), Instant::now()));
            }
        }
        if cloud.answer_lost() {
            return Err(HandlerError::transient(
                "timeout: the answer to delete was lost",
            ));
        }
        Ok(Deleted::Done)
    }

    async fn snapshot(
        &self,
        request: SnapshotRequest<'_>,
    ) -> Result<SnapshotStarted, HandlerError> {
        let cloud = &self.cloud;
        if !self.schema.snapshots {
            return Err(HandlerError::invalid(format!(
                "{} takes no snapshots",
                self.schema.type_name
            )));
        }
        cloud.enter("snapshot")?;
        cloud.latency().await;
        let now = Instant::now();
        let snapshot_id = {
            let mut inner = cloud.lock();
            let token = TokenKey::of(request.client_token.as_str());
            if let Some(id) = inner.snapshot_tokens.get(&token) {
                id.clone()
            } else {
                let Some(obj) = inner.objects.get(request.physical_id) else {
                    return Err(HandlerError::not_found(format!(
                        "{} does not exist",
                        request.physical_id
                    )));
                };
                let snapshot = MemorySnapshot {
                    of: request.physical_id.clone(),
                    logical_id: Arc::clone(&obj.logical_id),
                    properties: Arc::clone(&obj.properties),
                    ready_at: now + cloud.config.ready_after,
                };
                let mut id = String::from(SNAPSHOT_PREFIX);
                id.push_str(itoa::Buffer::new().format(inner.next_id));
                inner.next_id += 1;
                let id = PhysicalId::from(id);
                inner.snapshots.insert(id.clone(), snapshot);
                inner.snapshot_tokens.insert(token, id.clone());
                id
            }
        };
        if cloud.answer_lost() {
            return Err(HandlerError::transient(
                "timeout: the answer to snapshot was lost",
            ));
        }
        Ok(SnapshotStarted {
            readiness: cloud.snapshot_readiness(&snapshot_id, now),
            snapshot_id,
        })
    }

    async fn read_snapshot(&self, snapshot_id: &PhysicalId) -> Result<Readiness, HandlerError> {
        self.cloud.enter("read_snapshot")?;
        self.cloud.latency().await;
        Ok(self.cloud.snapshot_readiness(snapshot_id, Instant::now()))
    }

    /// One poll reads up to 100 objects in one call, as cloud Describe calls do.
    fn poll_batch_size(&self) -> usize {
        100
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        self.cloud.enter("poll")?;
        self.cloud.latency().await;
        let now = Instant::now();
        Ok(targets
            .iter()
            .map(|t| {
                self.cloud
                    .readiness(t.physical_id, now, &self.schema.attributes)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ClientToken;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        v.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test(start_paused = true)]
    async fn create_is_idempotent_by_token_and_becomes_ready_later() {
        let cloud = MemoryCloud::new(MemoryConfig {
            ready_after: Duration::from_secs(2),
            ..Default::default()
        });
        let h = cloud.handler_with_schema(Schema::new("T::A").with_attributes(&["Name"]));
        let token = ClientToken::derive("s", "A", 1);
        let p = props(json!({"Name": "a"}));
        let req = CreateRequest {
            stack: "s",
            logical_id: "A",
            properties: &Arc::new((p).clone()),
            client_token: &token,
        };
        let first = h.create(req.clone()).await.unwrap();
        let again = h.create(req).await.unwrap();
        assert_eq!(first.physical_id, again.physical_id);
        assert!(matches!(first.readiness, Readiness::Pending { .. }));
        assert_eq!(cloud.len(), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        let r = h.read(&first.physical_id, &p).await.unwrap();
        assert!(
            matches!(r, Readiness::Ready(attrs) if attrs["Name"] == "a" && attrs["Id"] == first.physical_id.as_str())
        );
        let other = props(json!({"Name": "b"}));
        let mismatch = CreateRequest {
            stack: "s",
            logical_id: "A",
            properties: &Arc::new((other).clone()),
            client_token: &token,
        };
        assert_eq!(
            h.create(mismatch).await.unwrap_err().kind,
            ErrorKind::Invalid
        );
    }

    #[test]
    fn token_keys_are_equal_exactly_when_tokens_are() {
        let derived = crate::provider::ClientToken::derive_salted("salt", "s", "R1", 1);
        let text = derived.as_str();
        assert!(matches!(TokenKey::of(text), TokenKey::Derived(_)));
        assert_eq!(TokenKey::of(text), TokenKey::of(derived.as_str()));
        let upper = text.to_uppercase().replacen("IAC-", "iac-", 1);
        assert_ne!(TokenKey::of(text), TokenKey::of(&upper));
        let other = crate::provider::ClientToken::derive_salted("salt", "s", "R1", 2);
        assert_ne!(TokenKey::of(text), TokenKey::of(other.as_str()));
        assert_eq!(TokenKey::of("t-1"), TokenKey::Other("t-1".into()));
        assert_ne!(TokenKey::of(&text[..63]), TokenKey::of(text));
    }

    #[tokio::test]
    async fn references_are_enforced_both_ways() {
        let cloud = MemoryCloud::new(MemoryConfig::default());
        let h = cloud.handler("T::A");
        let t1 = ClientToken::derive("s", "A", 1);
        let a = h
            .create(CreateRequest {
                stack: "s",
                logical_id: "A",
                properties: &Arc::new((Properties::new()).clone()),
                client_token: &t1,
            })
            .await
            .unwrap();
        let pb = props(json!({"Parent": a.physical_id.as_str()}));
        let t2 = ClientToken::derive("s", "B", 1);
        let b = h
            .create(CreateRequest {
                stack: "s",
                logical_id: "B",
                properties: &Arc::new((pb).clone()),
                client_token: &t2,
            })
            .await
            .unwrap();
        let err = h
            .delete(&a.physical_id, &Properties::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert!(err.message.contains("DependencyViolation"));
        h.delete(&b.physical_id, &pb).await.unwrap();
        h.delete(&a.physical_id, &Properties::new()).await.unwrap();
        assert!(cloud.is_empty());
        let t3 = ClientToken::derive("s", "C", 1);
        let dangling = props(json!({"Parent": "mem-999"}));
        let err = h
            .create(CreateRequest {
                stack: "s",
                logical_id: "C",
                properties: &Arc::new((dangling).clone()),
                client_token: &t3,
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
    }
}
