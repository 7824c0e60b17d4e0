//! The provider interface: what a cloud crate implements for each resource type.
//!
//! A [`ResourceHandler`] makes single calls and reports what happened; it never sleeps,
//! loops or retries. The engine owns retries (from the [`ErrorKind`] of each failure),
//! backoff, deadlines, readiness polling and rate limits. A [`Registry`] maps type names to
//! handlers; several providers can be registered into one registry.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Evaluated properties of a resource: a JSON object.
pub type Properties = Map<String, Value>;

/// Attributes a resource exposes to `Fn::GetAtt`: a JSON object.
pub type Attributes = Map<String, Value>;

/// The cloud's identifier of a created resource (`vpc-bp1...`, `i-bp1...`).
///
/// Shared, not copied: the state, the journal, events and reports all hold the same id, so
/// a clone is a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhysicalId(Arc<str>);

impl PhysicalId {
    /// Wraps an identifier.
    pub fn new(id: impl AsRef<str>) -> Self {
        PhysicalId(Arc::from(id.as_ref()))
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for PhysicalId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for PhysicalId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PhysicalId {
    fn from(id: &str) -> Self {
        PhysicalId(Arc::from(id))
    }
}

impl From<String> for PhysicalId {
    fn from(id: String) -> Self {
        PhysicalId(Arc::from(id))
    }
}

impl fmt::Display for PhysicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An idempotency token sent with a create, derived from (stack, logical id, generation).
///
/// At most 64 characters of `[a-z0-9-]`, as the Alibaba `ClientToken` rules require; a
/// retried or resumed create sends the same token, so the cloud returns the same resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientToken(Arc<str>);

impl ClientToken {
    /// Maximum length of a token.
    pub const MAX_LEN: usize = 64;

    /// Derives the token of a create of `logical_id` in `stack` at `generation`.
    pub fn derive(stack: &str, logical_id: &str, generation: u64) -> Self {
        Self::derive_parts(&[stack.as_bytes()], logical_id, generation)
    }

    /// [`ClientToken::derive`] of the stack name that `stack_parts` make when joined, so
    /// that a salted name needs no string of its own.
    fn derive_parts(stack_parts: &[&[u8]], logical_id: &str, generation: u64) -> Self {
        use sha2::{Digest, Sha256};
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hasher = Sha256::new();
        for part in stack_parts {
            hasher.update(part);
        }
        hasher.update([0]);
        hasher.update(logical_id.as_bytes());
        hasher.update([0]);
        hasher.update(generation.to_be_bytes());
        let digest = hasher.finalize();
        // "iac-" and the first 60 hex digits of the digest, as `hex::encode` writes them,
        // made in place: the token's one allocation is its shared string.
        let mut token = [0u8; Self::MAX_LEN];
        token[..4].copy_from_slice(b"iac-");
        for (pair, byte) in token[4..].chunks_exact_mut(2).zip(&digest) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        ClientToken(Arc::from(
            std::str::from_utf8(&token).expect("ASCII prefix and hex digits"),
        ))
    }

    /// The token the engine uses: [`ClientToken::derive`] mixed with the stack state's
    /// random salt, so that a stack destroyed and made again from a new state (generation 1
    /// again) never sends a token the cloud still remembers from the first one: the cloud
    /// would answer with the deleted objects.
    pub fn derive_salted(salt: &str, stack: &str, logical_id: &str, generation: u64) -> Self {
        Self::derive_parts(
            &[salt.as_bytes(), &[0], stack.as_bytes()],
            logical_id,
            generation,
        )
    }

    /// [`ClientToken::derive_salted`] with the salt `"{salt}:{at}"` (`at` being the create's
    /// start, in nanoseconds), written without making that string.
    pub fn derive_salted_at(
        salt: &str,
        at: i64,
        stack: &str,
        logical_id: &str,
        generation: u64,
    ) -> Self {
        let mut digits = itoa::Buffer::new();
        let at = digits.format(at);
        Self::derive_parts(
            &[salt.as_bytes(), b":", at.as_bytes(), &[0], stack.as_bytes()],
            logical_id,
            generation,
        )
    }

    /// Wraps a token read back from state; `None` if it breaks the length or alphabet rule.
    pub fn parse(token: &str) -> Option<Self> {
        let ok = !token.is_empty()
            && token.len() <= Self::MAX_LEN
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| ClientToken(Arc::from(token)))
    }

    /// The token as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a handler call failed, which decides what the engine does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The cloud throttled the call: retry after the given delay (or a backoff), and slow
    /// down calls to the same endpoint.
    Throttled {
        /// The delay the cloud asked for, if it said.
        retry_after: Option<Duration>,
    },
    /// A passing failure (5xx, a dropped connection, a timeout): retry with backoff.
    Transient,
    /// A dependency is still settling: retry later, it is not a failure yet.
    NotReady,
    /// The object is busy or in a conflicting state (`OperationConflict`,
    /// `DependencyViolation`, `IncorrectInstanceStatus`): retry later.
    Conflict,
    /// The object does not exist.
    NotFound,
    /// The request is wrong (bad parameter, quota exceeded): retrying cannot help.
    Invalid,
    /// Credentials are missing, wrong or lack permission: retrying cannot help.
    Auth,
    /// Any other failure that retrying cannot help.
    Permanent,
}

impl ErrorKind {
    /// True when the engine may retry the same call.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled { .. }
                | ErrorKind::Transient
                | ErrorKind::NotReady
                | ErrorKind::Conflict
        )
    }

    /// A short name of the kind (`throttled`, `transient`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Throttled { .. } => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::NotReady => "not ready",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotFound => "not found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Auth => "auth",
            ErrorKind::Permanent => "permanent",
        }
    }
}

/// A failed handler call: its kind and a message that says what failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What failed, with the vendor's code and request id where there is one.
    pub message: String,
}

impl HandlerError {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        HandlerError {
            kind,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::Transient`] failure.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// A [`ErrorKind::Throttled`] failure.
    pub fn throttled(retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Throttled { retry_after }, message)
    }

    /// A [`ErrorKind::NotFound`] failure.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A [`ErrorKind::Invalid`] failure.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// A [`ErrorKind::Permanent`] failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }

    /// A [`ErrorKind::Conflict`] failure.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
}

/// How a property behaves when its value changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum UpdateBehavior {
    /// Changed in place by `update`.
    Mutable,
    /// A change replaces the resource (a new cloud object is created).
    ForcesReplacement,
}

/// One property of a resource type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertySchema {
    /// The vendor's property name (`CidrBlock`).
    pub name: String,
    /// True when a template must set it.
    pub required: bool,
    /// What a change of it does.
    pub update: UpdateBehavior,
}

/// In which order a replacement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ReplaceOrder {
    /// Create the new object, repoint dependents, then delete the old one (the default).
    #[default]
    CreateBeforeDelete,
    /// Delete the old object first: for types whose names must be unique.
    DeleteBeforeCreate,
}

/// What the engine knows of a resource type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The vendor's type name (`ALIYUN::ECS::VPC`).
    pub type_name: String,
    /// The properties the type accepts.
    pub properties: Vec<PropertySchema>,
    /// The attributes `Fn::GetAtt` may read.
    pub attributes: Vec<String>,
    /// Order of a replacement.
    pub replace_order: ReplaceOrder,
    /// The time an object of this type typically takes to become ready after its create
    /// returns: the engine polls first after this, then more often.
    pub readiness_hint: Duration,
    /// How long the engine waits for readiness before it fails the resource.
    pub ready_timeout: Duration,
    /// Whether unknown property names are refused at validation.
    pub strict_properties: bool,
    /// Whether the handler can snapshot an object before its delete
    /// ([`ResourceHandler::snapshot`]): only then may a resource of the type have
    /// `DeletionPolicy: Snapshot`.
    #[serde(default)]
    pub snapshots: bool,
}

impl Schema {
    /// A schema with no properties, default timings and lenient property checking.
    pub fn new(type_name: impl Into<String>) -> Self {
        Schema {
            type_name: type_name.into(),
            properties: Vec::new(),
            attributes: Vec::new(),
            replace_order: ReplaceOrder::CreateBeforeDelete,
            readiness_hint: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(30 * 60),
            strict_properties: false,
            snapshots: false,
        }
    }

    /// Declares that the handler implements [`ResourceHandler::snapshot`] and
    /// [`ResourceHandler::read_snapshot`] (builder style).
    pub fn with_snapshots(mut self) -> Self {
        self.snapshots = true;
        self
    }

    /// Adds a property (builder style).
    pub fn with_property(mut self, name: &str, required: bool, update: UpdateBehavior) -> Self {
        self.properties.push(PropertySchema {
            name: name.to_owned(),
            required,
            update,
        });
        self
    }

    /// Adds attributes (builder style).
    pub fn with_attributes(mut self, names: &[&str]) -> Self {
        self.attributes
            .extend(names.iter().map(|s| (*s).to_owned()));
        self
    }

    /// Sets the replacement order (builder style).
    pub fn with_replace_order(mut self, order: ReplaceOrder) -> Self {
        self.replace_order = order;
        self
    }

    /// Sets the readiness hint (builder style).
    pub fn with_readiness_hint(mut self, hint: Duration) -> Self {
        self.readiness_hint = hint;
        self
    }

    /// Sets the readiness timeout (builder style).
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Refuses property names that the schema does not list (builder style).
    pub fn strict(mut self) -> Self {
        self.strict_properties = true;
        self
    }

    /// The schema of a property, if declared.
    pub fn property(&self, name: &str) -> Option<&PropertySchema> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// True when a change of `name` replaces the resource.
    pub fn forces_replacement(&self, name: &str) -> bool {
        self.property(name)
            .is_some_and(|p| p.update == UpdateBehavior::ForcesReplacement)
    }
}

/// Readiness of a resource as a handler sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Readiness {
    /// Ready for use; its attributes are final.
    Ready(Attributes),
    /// Still settling; `status` is the cloud's word for it (`Pending`, `Starting`).
    Pending {
        /// The cloud's status string.
        status: String,
    },
    /// It reached a state it will not leave by itself (`Stopped`, `Failed`).
    Failed {
        /// Why.
        reason: String,
    },
    /// It does not exist (after a delete: the delete is done).
    Gone,
}

/// What a create call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The new object's physical id.
    pub physical_id: PhysicalId,
    /// Ready at once, or to be polled.
    pub readiness: Readiness,
}

/// What an update call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// Ready at once (with new attributes), or to be polled.
    pub readiness: Readiness,
}

/// What a delete call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deleted {
    /// The object is gone.
    Done,
    /// The cloud accepted the delete; poll until [`Readiness::Gone`].
    InProgress,
}

/// A create request.
#[derive(Debug, Clone)]
pub struct CreateRequest<'a> {
    /// The stack's name (for tags).
    pub stack: &'a str,
    /// The resource's logical id (for tags).
    pub logical_id: &'a str,
    /// Evaluated properties (shared: a handler that keeps them clones the `Arc`).
    pub properties: &'a Arc<Properties>,
    /// The idempotency token to send.
    pub client_token: &'a ClientToken,
}

/// A request to snapshot an object before the engine deletes it (`DeletionPolicy:
/// Snapshot`).
#[derive(Debug, Clone)]
pub struct SnapshotRequest<'a> {
    /// The stack's name (for names and tags).
    pub stack: &'a str,
    /// The resource's logical id.
    pub logical_id: &'a str,
    /// The object to snapshot.
    pub physical_id: &'a PhysicalId,
    /// Its last recorded properties (secrets redacted).
    pub properties: &'a Properties,
    /// A token naming this snapshot: a call made again with the same token (after a lost
    /// answer or a crash) must return the snapshot the first call started, never a second
    /// one. A cloud without idempotency tokens gives the snapshot this name and looks it
    /// up by name first.
    pub client_token: &'a ClientToken,
}

/// What a snapshot call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotStarted {
    /// The snapshot's id (a Cinder backup id, an image id).
    pub snapshot_id: PhysicalId,
    /// Complete at once ([`Readiness::Ready`]), or to be polled with
    /// [`ResourceHandler::read_snapshot`].
    pub readiness: Readiness,
}

/// A resource to poll, with what the handler needs to read it.
#[derive(Debug, Clone)]
pub struct PollTarget<'a> {
    /// The object's physical id.
    pub physical_id: &'a PhysicalId,
    /// Its last evaluated properties.
    pub properties: &'a Properties,
}

/// The kind of a call the engine makes through a handler (see [`ResourceHandler::action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallKind {
    /// [`ResourceHandler::create`].
    Create,
    /// [`ResourceHandler::read`] and [`ResourceHandler::poll`].
    Read,
    /// [`ResourceHandler::update`].
    Update,
    /// [`ResourceHandler::delete`].
    Delete,
    /// [`ResourceHandler::snapshot`] (its progress is read as a [`CallKind::Read`]).
    Snapshot,
}

impl CallKind {
    /// Every kind, in a fixed order (the index of a kind is its position here).
    pub const ALL: [CallKind; 5] = [
        CallKind::Create,
        CallKind::Read,
        CallKind::Update,
        CallKind::Delete,
        CallKind::Snapshot,
    ];

    /// The kind's position in [`CallKind::ALL`].
    pub fn index(self) -> usize {
        // The variants are declared in `ALL`'s order (checked by a test).
        self as usize
    }

    /// The kind's name in lower case (`create`).
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Create => "create",
            CallKind::Read => "read",
            CallKind::Update => "update",
            CallKind::Delete => "delete",
            CallKind::Snapshot => "snapshot",
        }
    }
}

/// One resource type's handler: single calls, no sleeping, no retrying.
#[async_trait]
pub trait ResourceHandler: Send + Sync + 'static {
    /// The schema of the type this handler serves.
    fn schema(&self) -> &Schema;

    /// The key of the API endpoint the handler's calls go to (`ecs.cn-hangzhou`): the
    /// engine keeps one adaptive rate limit per key. Defaults to the type name.
    fn endpoint(&self) -> &str {
        &self.schema().type_name
    }

    /// The API action a call of `kind` makes (`RunInstances`, `DescribeInstances`), when
    /// the handler knows it. Clouds set their quotas per action, so the engine keeps one
    /// adaptive rate limit per endpoint and action: a throttled create does not slow the
    /// polling of another type, nor the reverse. Two handlers that name the same action on
    /// the same endpoint share one limit. The default, `None`, keys the limit by the type
    /// name and the kind (`ALIYUN::ECS::Vpc`, create).
    fn action(&self, kind: CallKind) -> Option<&str> {
        let _ = kind;
        None
    }

    /// Whether changing the properties from `old` (as recorded, secrets redacted) to `new`
    /// needs a new object, beyond what the schema's per-property rules say: for a property
    /// that holds an object's identity inside a larger value (a Kubernetes manifest's kind
    /// and name). Returns why. The default: never.
    fn replacement_reason(&self, old: &Properties, new: &Properties) -> Option<String> {
        let _ = (old, new);
        None
    }

    /// Creates the object. Called again with the same token after a failure or a crash;
    /// the handler must then return the object the first call created.
    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError>;

    /// Reads the object's readiness and attributes.
    async fn read(
        &self,
        physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Readiness, HandlerError>;

    /// Changes mutable properties in place. `old` is what the state holds (secrets in it
    /// are redacted), `new` the evaluated new properties.
    async fn update(
        &self,
        physical_id: &PhysicalId,
        old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError>;

    /// Deletes the object. Deleting an object that is already gone is success.
    async fn delete(
        &self,
        physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Deleted, HandlerError>;

    /// Starts a snapshot of the object, before the engine deletes it (`DeletionPolicy:
    /// Snapshot`); only called when the schema declares [`Schema::snapshots`]. Returns at
    /// once: the engine polls [`ResourceHandler::read_snapshot`] until the snapshot is
    /// complete, and deletes the object only then. The default refuses.
    async fn snapshot(
        &self,
        request: SnapshotRequest<'_>,
    ) -> Result<SnapshotStarted, HandlerError> {
        Err(HandlerError::invalid(format!(
            "{} cannot take a snapshot of {}",
            self.schema().type_name,
            request.physical_id
        )))
    }

    /// Reads a snapshot's progress: [`Readiness::Ready`] when it is complete,
    /// [`Readiness::Pending`] while it is being made, [`Readiness::Failed`] when the cloud
    /// gave up on it, [`Readiness::Gone`] when it does not exist. The default refuses.
    async fn read_snapshot(&self, snapshot_id: &PhysicalId) -> Result<Readiness, HandlerError> {
        Err(HandlerError::invalid(format!(
            "{} cannot read snapshot {snapshot_id}",
            self.schema().type_name
        )))
    }

    /// Reads many objects at once; the result has one entry per target, in order.
    /// The default reads each, one after the other; cloud handlers batch (one Describe call
    /// per 100 ids) and say how many in [`ResourceHandler::poll_batch_size`].
    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<Readiness>, HandlerError> {
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            out.push(
                match self.read(target.physical_id, target.properties).await {
                    Ok(readiness) => readiness,
                    Err(e) if e.kind == ErrorKind::NotFound => Readiness::Gone,
                    Err(e) => return Err(e),
                },
            );
        }
        Ok(out)
    }

    /// The largest number of targets one [`ResourceHandler::poll`] call takes. The
    /// default, 1, goes with the default `poll`, which reads the targets one after the
    /// other: a batch of `n` would take `n` round trips behind one rate-limit slot. A
    /// handler that reads many objects in one request overrides both (`DescribeInstances`
    /// takes 100 ids).
    fn poll_batch_size(&self) -> usize {
        1
    }
}

/// Type name → handler, for every provider the engine may use.
#[derive(Clone, Default)]
pub struct Registry {
    /// (Looked up once per resource per plan and apply: a fast hasher, type names are not
    /// attacker-chosen keys.)
    handlers: FxHashMap<String, Arc<dyn ResourceHandler>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.handlers.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("types", &names).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a handler under its schema's type name, replacing any earlier one.
    pub fn register(&mut self, handler: Arc<dyn ResourceHandler>) -> &mut Self {
        self.handlers
            .insert(handler.schema().type_name.clone(), handler);
        self
    }

    /// Registers every handler of another registry (a second provider).
    pub fn extend(&mut self, other: Registry) -> &mut Self {
        self.handlers.extend(other.handlers);
        self
    }

    /// The handler of a type.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn ResourceHandler>> {
        self.handlers.get(type_name)
    }

    /// True when a handler serves the type.
    pub fn contains(&self, type_name: &str) -> bool {
        self.handlers.contains_key(type_name)
    }

    /// Every registered type name, sorted.
    pub fn type_names(&self) -> Vec<&str> {
        let mut names: Vec<_> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_kinds_index_is_its_place_in_all() {
        for (i, kind) in CallKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind:?}");
        }
    }

    #[test]
    fn client_token_is_stable_and_within_the_rules() {
        let a = ClientToken::derive("stack", "Vpc", 1);
        assert_eq!(a, ClientToken::derive("stack", "Vpc", 1));
        assert_ne!(a, ClientToken::derive("stack", "Vpc", 2));
        assert_ne!(a, ClientToken::derive("stack", "VSwitch", 1));
        let salted = ClientToken::derive_salted("salt-1", "stack", "Vpc", 1);
        assert_eq!(
            salted,
            ClientToken::derive_salted("salt-1", "stack", "Vpc", 1)
        );
        assert_ne!(
            salted,
            ClientToken::derive_salted("salt-2", "stack", "Vpc", 1),
            "a new state, new tokens"
        );
        assert!(salted.as_str().len() <= ClientToken::MAX_LEN);
        // The salted token is the plain derivation over "salt\0stack": tokens recorded in
        // states before the two were computed separately stay valid.
        assert_eq!(salted, ClientToken::derive("salt-1\0stack", "Vpc", 1));
        // With a start time: the salt "salt:time", as the engine's creates use it.
        for at in [0, -5, 1_764_500_000_123_456_789, i64::MAX] {
            assert_eq!(
                ClientToken::derive_salted_at("salt-1", at, "stack", "Vpc", 3),
                ClientToken::derive_salted(&format!("salt-1:{at}"), "stack", "Vpc", 3)
            );
        }
        assert_eq!(a.as_str().len(), ClientToken::MAX_LEN);
        assert!(ClientToken::parse(a.as_str()).is_some());
        assert!(ClientToken::parse(&"x".repeat(65)).is_none());
        assert!(ClientToken::parse("a b").is_none());
    }

    #[test]
    fn retryable_kinds() {
        assert!(ErrorKind::Throttled { retry_after: None }.is_retryable());
        assert!(ErrorKind::Conflict.is_retryable());
        assert!(!ErrorKind::Invalid.is_retryable());
        assert!(!ErrorKind::Auth.is_retryable());
    }
}
