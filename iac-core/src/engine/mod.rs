//! The engine: plan, apply, destroy and resume a stack through registered providers.
//!
//! One coordinator drives a pure dependency queue ([`crate::graph::DepQueue`]): a resource
//! starts as soon as its dependencies are done, bounded by a concurrency limit. A call holds
//! a slot only while it is in flight; a resource waiting to become ready holds none, and all
//! resources of one type that wait are polled together in batches. Retries, backoff with
//! jitter, deadlines and an adaptive rate limit per endpoint and API action are the engine's;
//! handlers make single calls. Every transition is journaled before the call it describes,
//! and reported as an [`Event`].
//!
//! Polling: the waiting objects of a type form one cohort. An object is first polled at its
//! schema's readiness hint, then at intervals of an eighth of the time it has waited. Once
//! one object of the type has been seen ready, the type's time to ready is known to lie in
//! a window (last seen pending, first seen ready]; later objects are polled a quarter into
//! what is left of that window, and each answer narrows it. A poll takes every due object
//! of the type, and fills its batches (the handler's `poll_batch_size`) with the objects due
//! next; the objects an answer finds still pending all take the earliest of their next
//! times, so that the cohort stays together and is polled in full batches.
//!
//! Rate limits: one [`RateLimiter`] per endpoint and action ([`ResourceHandler::action`](
//! crate::provider::ResourceHandler::action)), as clouds set quotas per action. Calls wait
//! for their limit's next free slot in a queue, in the order the dependency queue handed
//! them out; a throttled call goes back to the front of that queue, with no backoff of its
//! own (the limit, cut by the throttling and pushed back by a `Retry-After`, paces it).
//!
//! # Deletion policies and adopted objects
//!
//! - `Delete` deletes the object; `Retain` forgets it and leaves it in the cloud.
//! - `Snapshot` (Heat's): before the delete, the handler starts a snapshot
//!   ([`crate::provider::ResourceHandler::snapshot`], e.g. a Cinder backup); the engine polls
//!   it like any pending work and deletes the object only once the snapshot is complete. A
//!   failed snapshot fails the delete (`DELETE_FAILED`, the object stays). The snapshot is
//!   journaled with its token before the call and its id after, so a crash neither loses it
//!   nor takes a second one. It applies to destroy, to resources removed from the template
//!   and to the old objects of replacements; a rollback deletes what the failed apply
//!   created without one (those objects hold nothing older than that apply), and an object
//!   whose create never finished has none (Heat takes none of a `CREATE_FAILED` volume).
//!   Where the snapshot ends up: the `DELETE_COMPLETE` event's reason and
//!   [`Report::snapshots`] (the stack's state is gone after a destroy). Validation refuses
//!   `Snapshot` for a type whose schema does not declare [`crate::provider::Schema::snapshots`].
//! - `ExternalId` (Heat's `external_id`): the plan shows an `Import`; the apply reads the
//!   object through the handler (a missing one is a `CREATE_FAILED` naming the resource and
//!   the id) and records it as adopted: it is never updated (its properties are not sent) nor
//!   deleted: destroy, removal and rollback forget it. A changed id re-imports (the object
//!   named before is forgotten); adding an `ExternalId` to a created resource, or removing it
//!   from an adopted one, is refused, as Heat refuses both.

pub mod events;
pub mod plan;
pub mod retry;
pub(crate) mod run;

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use events::{Event, EventSender, STACK_TYPE, Status};
pub use plan::{Action, Plan, Planned, PropertyDiff, ResourcePlan};
use plan::{PlanBasis, PlanSource};
pub use retry::{RateLimitOptions, RateLimiter, RetryPolicy, backoff};

use crate::eval::EvalError;
use crate::graph::GraphError;
use crate::model::Template;
use crate::params::ParamErrors;
use crate::provider::{ErrorKind, PhysicalId, Registry};
use crate::state::{StackState, StateError, StateStore};
use crate::validate::ValidationErrors;

/// What the engine does when a resource fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Stop new work, let calls in flight finish, then delete what this apply created, in
    /// reverse dependency order (ROS and CloudFormation). The default.
    #[default]
    Rollback,
    /// Skip the failed resource's dependents and finish every independent branch
    /// (Terraform).
    KeepGoing,
    /// Stop new work, let calls in flight finish, and leave everything as it is.
    Stop,
}

/// How readiness is polled.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// The shortest time between two polls of one resource.
    pub min_interval: Duration,
    /// The longest time between two polls of one resource.
    pub max_interval: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            min_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(10),
        }
    }
}

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Calls in flight at once (waiting for readiness takes no slot).
    pub concurrency: usize,
    /// What a failure does.
    pub failure_policy: FailurePolicy,
    /// Retries of failed calls.
    pub retry: RetryPolicy,
    /// The adaptive rate limit of each endpoint.
    pub rate_limit: RateLimitOptions,
    /// How long one call may take before it counts as a transient failure.
    pub call_timeout: Duration,
    /// Readiness polling.
    pub poll: PollPolicy,
    /// Seed of the jitter's random source (`None`: from entropy).
    pub seed: Option<u64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: 16,
            failure_policy: FailurePolicy::Rollback,
            retry: RetryPolicy::default(),
            rate_limit: RateLimitOptions::default(),
            call_timeout: Duration::from_secs(60),
            poll: PollPolicy::default(),
            seed: None,
        }
    }
}

/// Pseudo parameters a cloud crate supplies (`ALIYUN::Region`, `ALIYUN::StackName`, ...).
#[derive(Debug, Clone, Default)]
pub struct PseudoParameters {
    /// Fixed values by name.
    pub values: IndexMap<String, Value>,
    /// The name under which the stack's name is offered (`ALIYUN::StackName`).
    pub stack_name: Option<String>,
    /// Names that evaluate to "no value" and drop the property (`ALIYUN::NoValue`). Any
    /// name ending in `::NoValue` already does.
    pub no_value: Vec<String>,
}

impl PseudoParameters {
    /// The values for one stack.
    pub fn for_stack(&self, stack: &str) -> IndexMap<String, Value> {
        let mut values = self.values.clone();
        if let Some(key) = &self.stack_name {
            values.insert(key.clone(), Value::String(stack.to_owned()));
        }
        values
    }

    /// Every name, for validation.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.values.keys().cloned().collect();
        names.extend(self.stack_name.clone());
        names.extend(self.no_value.iter().cloned());
        names
    }
}

/// A stack to plan or apply: a name, a template and the parameter values given.
///
/// Its `Debug` shows the values of `NoEcho` parameters as `***`.
#[derive(Clone, PartialEq)]
pub struct StackInput {
    /// The stack's name (also the key of its state).
    pub name: String,
    /// Its template (shared: the engine keeps it in the state without copying it).
    pub template: Arc<Template>,
    /// Parameter values given by the caller (defaults fill the rest).
    pub parameters: IndexMap<String, Value>,
}

impl std::fmt::Debug for StackInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = Value::String(crate::secret::Secret::REDACTED.to_owned());
        let parameters: IndexMap<&str, &Value> = self
            .parameters
            .iter()
            .map(|(name, value)| {
                let secret = self
                    .template
                    .parameters
                    .get(name)
                    .is_some_and(|d| d.is_secret());
                (name.as_str(), if secret { &redacted } else { value })
            })
            .collect();
        f.debug_struct("StackInput")
            .field("name", &self.name)
            .field("template", &self.template)
            .field("parameters", &parameters)
            .finish()
    }
}

impl StackInput {
    /// A stack with no parameter values given.
    pub fn new(name: impl Into<String>, template: impl Into<Arc<Template>>) -> Self {
        StackInput {
            name: name.into(),
            template: template.into(),
            parameters: IndexMap::new(),
        }
    }

    /// Gives a parameter value (builder style).
    pub fn with_parameter(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }
}

/// Where events go and how to stop an operation early.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Receives every event.
    pub events: Option<EventSender>,
    /// Cancelled: stop starting work, let calls in flight finish, save a consistent state.
    pub cancel: Option<CancellationToken>,
}

impl RunOptions {
    /// Sends events to `events` (builder style).
    pub fn with_events(mut self, events: EventSender) -> Self {
        self.events = Some(events);
        self
    }

    /// Stops when `cancel` is cancelled (builder style).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self
    }
}

/// A resource as an operation left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSummary {
    /// Its logical id.
    pub logical_id: String,
    /// Its type.
    pub type_name: String,
    /// Its object, if one exists.
    pub physical_id: Option<PhysicalId>,
    /// Its last status.
    pub status: Status,
}

/// A resource that failed, and why (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceFailure {
    /// Its logical id (or `Outputs.<name>` for an output).
    pub logical_id: String,
    /// The failed operation's status (`CREATE_FAILED`, ...).
    pub status: Status,
    /// What failed.
    pub message: String,
}

/// What an apply, destroy or resume did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The stack.
    pub stack: String,
    /// The stack's final status (`CREATE_COMPLETE`, `ROLLBACK_COMPLETE`, ...).
    pub status: Status,
    /// Output values (secrets redacted as `***`).
    pub outputs: IndexMap<String, Value>,
    /// Outputs that evaluated to an error, with the error naming the output (secrets
    /// redacted). Only an output whose value is an `Fn::Error` gets here (HOT's `get_param`
    /// of a parameter the template does not declare, which Heat reports when the output is
    /// shown): it is left out of `outputs`, and the stack does not fail because of it. Any
    /// other output that cannot be evaluated is a failure (`Outputs.<name>`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub output_errors: IndexMap<String, String>,
    /// Every resource touched or kept, in dependency order.
    pub resources: Vec<ResourceSummary>,
    /// Resources that failed.
    pub failures: Vec<ResourceFailure>,
    /// Resources not attempted because a dependency failed.
    pub skipped: Vec<String>,
    /// Objects a failed rollback or destroy left in the cloud (`logical id: physical id`).
    pub left_behind: Vec<String>,
    /// Snapshots taken before deletes (`DeletionPolicy: Snapshot`): the only record of
    /// them once the stack is destroyed (the `DELETE_COMPLETE` events name them too).
    pub snapshots: Vec<SnapshotKept>,
    /// True when the operation was cancelled before it finished.
    pub cancelled: bool,
}

/// A snapshot a delete kept (`DeletionPolicy: Snapshot`): what to restore the deleted
/// object from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotKept {
    /// The resource's logical id.
    pub logical_id: String,
    /// Its type.
    pub type_name: String,
    /// The deleted object.
    pub physical_id: PhysicalId,
    /// The snapshot's id (a Cinder backup, a server image).
    pub snapshot_id: PhysicalId,
}

impl Report {
    /// True when nothing failed and nothing was cancelled.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && !self.cancelled && self.skipped.is_empty()
    }
}

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The template is not valid (every problem listed).
    #[error("template is not valid:\n{0}")]
    Invalid(#[from] ValidationErrors),
    /// The template's dependency graph is broken.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Parameter values break their declarations (every problem listed).
    #[error("parameters are not valid:\n{0}")]
    Parameters(#[from] ParamErrors),
    /// A property or output could not be evaluated.
    #[error(transparent)]
    Evaluation(#[from] EvalError),
    /// Conditions could not be resolved.
    #[error("conditions are not valid:\n{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Conditions(Vec<EvalError>),
    /// Reading or writing state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// No state exists for the stack.
    #[error("stack '{0}' has no state: nothing was applied under that name")]
    UnknownStack(String),
    /// No handler is registered for a type the state holds.
    #[error("resource '{logical_id}' has type '{type_name}', which no registered provider serves")]
    NoHandler {
        /// The resource.
        logical_id: String,
        /// Its type.
        type_name: String,
    },
    /// Resources failed; the report says which, and what was rolled back or left.
    #[error("stack '{}' {}: {}", .0.stack, .0.status, summary(.0))]
    Failed(Box<Report>),
    /// A bug in the engine, reported instead of a panic.
    #[error("internal error: {0}")]
    Internal(String),
    /// The operation was cancelled; the state is consistent and `resume` finishes it.
    #[error("stack '{}': cancelled; run the apply again to resume", .0.stack)]
    Cancelled(Box<Report>),
    /// A plan given to [`Engine::apply_plan`] cannot be applied as it was reviewed.
    #[error("stack '{stack}': the plan cannot be applied: {reason}; make a new plan")]
    StalePlan {
        /// The stack.
        stack: String,
        /// Why (the state changed since the plan, another engine made it, ...).
        reason: String,
    },
}

fn summary(report: &Report) -> String {
    let mut parts: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{} {}: {}", f.logical_id, f.status, f.message))
        .collect();
    if !report.skipped.is_empty() {
        parts.push(format!("skipped: {}", report.skipped.join(", ")));
    }
    if !report.left_behind.is_empty() {
        parts.push(format!("left behind: {}", report.left_behind.join(", ")));
    }
    parts.join("; ")
}

impl EngineError {
    /// The kind of the failure, for callers that decide what to do from it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Invalid(_)
            | EngineError::Graph(_)
            | EngineError::Parameters(_)
            | EngineError::Evaluation(_)
            | EngineError::Conditions(_)
            | EngineError::UnknownStack(_)
            | EngineError::NoHandler { .. } => ErrorKind::Invalid,
            EngineError::State(StateError::Locked { .. } | StateError::Stale { .. })
            | EngineError::StalePlan { .. } => ErrorKind::Conflict,
            EngineError::State(StateError::Backend { .. }) => ErrorKind::Transient,
            EngineError::State(_) | EngineError::Internal(_) => ErrorKind::Permanent,
            EngineError::Failed(_) => ErrorKind::Permanent,
            EngineError::Cancelled(_) => ErrorKind::Transient,
        }
    }

    /// The report of a failed or cancelled operation.
    pub fn report(&self) -> Option<&Report> {
        match self {
            EngineError::Failed(r) | EngineError::Cancelled(r) => Some(r),
            _ => None,
        }
    }
}

/// Builds an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    registry: Registry,
    store: Option<Arc<dyn StateStore>>,
    options: EngineOptions,
    pseudo: PseudoParameters,
}

impl EngineBuilder {
    /// Adds every handler of a provider's registry.
    pub fn provider(mut self, registry: Registry) -> Self {
        self.registry.extend(registry);
        self
    }

    /// Where states are kept (default: in memory).
    pub fn state(mut self, store: impl StateStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Where states are kept, shared.
    pub fn state_arc(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// All options at once.
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Calls in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options.concurrency = n.max(1);
        self
    }

    /// What a failure does.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.options.failure_policy = policy;
        self
    }

    /// Seeds the jitter's random source (reproducible runs).
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = Some(seed);
        self
    }

    /// The pseudo parameters of the cloud.
    pub fn pseudo_parameters(mut self, pseudo: PseudoParameters) -> Self {
        self.pseudo = pseudo;
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                registry: self.registry,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(crate::state::MemoryStateStore::new())),
                options: self.options,
                pseudo: self.pseudo,
            }),
        }
    }
}

pub(crate) struct EngineInner {
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) options: EngineOptions,
    pub(crate) pseudo: PseudoParameters,
}

/// Plans, applies, destroys and resumes stacks. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.inner.registry)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// The stack's recorded state.
    pub async fn state(&self, stack: &str) -> Result<Option<StackState>, EngineError> {
        Ok(self.inner.store.load(stack).await?)
    }

    /// What an apply of `input` would change. Reads state; changes nothing.
    pub async fn plan(&self, input: &StackInput) -> Result<Plan, EngineError> {
        let prepared = run::prepare(&self.inner, input)?;
        let (state, fingerprint) = match self.inner.store.load(&input.name).await? {
            Some(state) => {
                let fingerprint = plan::state_fingerprint(&state);
                (state, Some(fingerprint))
            }
            None => (StackState::new(&input.name), None),
        };
        let mut plan = run::plan(&self.inner, &prepared, &state)?;
        plan.basis = PlanBasis(Some(Arc::new(PlanSource {
            prepared,
            engine: Arc::as_ptr(&self.inner) as usize,
            state: fingerprint,
        })));
        Ok(plan)
    }

    /// Applies exactly what `plan` showed, as `terraform apply PLANFILE` does: the template
    /// and parameter values it was made from, checked once. Fails with
    /// [`EngineError::StalePlan`] when the stack's state changed since the plan (another
    /// apply ran), when another engine made the plan, or when the plan was read back from
    /// its serialized form (which keeps no parameter values).
    ///
    /// The plan is taken: its rendering is dropped before the apply starts.
    pub async fn apply_plan(&self, plan: Plan, options: RunOptions) -> Result<Report, EngineError> {
        let Plan {
            stack,
            resources,
            basis,
        } = plan;
        drop(resources);
        let stale = |reason: &str| EngineError::StalePlan {
            stack: stack.clone(),
            reason: reason.to_owned(),
        };
        let Some(source) = basis.0.as_deref() else {
            return Err(stale(
                "it was read back from its serialized form, which keeps no parameter values",
            ));
        };
        if source.engine != Arc::as_ptr(&self.inner) as usize {
            return Err(stale("another engine made it"));
        }
        let _lock = self.inner.store.lock(&stack, "apply").await?;
        let state = match self.inner.store.load(&stack).await? {
            Some(state) if source.state == Some(plan::state_fingerprint(&state)) => state,
            Some(_) => return Err(stale("the stack's state changed since the plan was made")),
            None if source.state.is_some() => {
                return Err(stale(
                    "the stack's state was removed since the plan was made",
                ));
            }
            None => self.first_state(&stack).await?,
        };
        run::apply(&self.inner, &source.prepared, state, options).await
    }

    /// Makes the cloud match `input`, resuming whatever an interrupted earlier apply left
    /// unfinished. Fails with [`EngineError::Failed`] (carrying the report) when a resource
    /// failed, and [`EngineError::Cancelled`] when cancelled.
    pub async fn apply(
        &self,
        input: &StackInput,
        options: RunOptions,
    ) -> Result<Report, EngineError> {
        let prepared = run::prepare(&self.inner, input)?;
        let _lock = self.inner.store.lock(&input.name, "apply").await?;
        let state = match self.inner.store.load(&input.name).await? {
            Some(state) => state,
            None => self.first_state(&input.name).await?,
        };
        run::apply(&self.inner, &prepared, state, options).await
    }

    /// A new stack's state, saved before its journal starts so that its salt (for the
    /// digests of secrets) survives a crash.
    async fn first_state(&self, stack: &str) -> Result<StackState, EngineError> {
        let mut state = StackState::new(stack);
        state.bump_serial();
        self.inner.store.save(&state).await?;
        Ok(state)
    }

    /// Finishes an interrupted apply of the template recorded in the state. Parameters must
    /// be given again (secret values are never stored).
    pub async fn resume(
        &self,
        stack: &str,
        parameters: IndexMap<String, Value>,
        options: RunOptions,
    ) -> Result<Report, EngineError> {
        let state = self
            .inner
            .store
            .load(stack)
            .await?
            .ok_or_else(|| EngineError::UnknownStack(stack.to_owned()))?;
        let template = state.template.clone().unwrap_or_default();
        let input = StackInput {
            name: stack.to_owned(),
            template,
            parameters,
        };
        self.apply(&input, options).await
    }

    /// Deletes every object of the stack in reverse dependency order (objects under
    /// `DeletionPolicy: Retain` and adopted ones are forgotten instead, objects under
    /// `DeletionPolicy: Snapshot` are snapshotted first), then removes its state.
    pub async fn destroy(&self, stack: &str, options: RunOptions) -> Result<Report, EngineError> {
        let _lock = self.inner.store.lock(stack, "destroy").await?;
        let state = self
            .inner
            .store
            .load(stack)
            .await?
            .ok_or_else(|| EngineError::UnknownStack(stack.to_owned()))?;
        run::destroy(&self.inner, state, options).await
    }
}
