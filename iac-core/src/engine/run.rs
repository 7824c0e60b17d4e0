//! The coordinator: one task that drives the dependency queue, the calls in flight, the
//! readiness pollers and the timers, and never bails out mid-run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use indexmap::IndexMap;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::time::Instant;

use super::events::{Event, STACK_TYPE, Status};
use super::plan::{Action, Plan, PlannedValue, ResourcePlan, decide};
use super::retry::{RateLimiter, backoff};
use super::{
    EngineError, EngineInner, FailurePolicy, Report, ResourceFailure, ResourceSummary, RunOptions,
    StackInput,
};
use crate::eval::{
    EvalContext, EvalError, Lookup, ResourceLookup, evaluate, is_unknown_reference,
    resolve_conditions,
};
use crate::graph::{DepGraph, DepQueue, QueueError};
use crate::model::{DeletionPolicy, ResourceSpec, Template};
use crate::params::{ParamValues, resolve_parameters};
use crate::provider::{
    CallKind, ClientToken, CreateRequest, Created, Deleted, ErrorKind, HandlerError, PhysicalId,
    PollTarget, Properties, Readiness, ResourceHandler, SnapshotRequest, SnapshotStarted, Updated,
};
use crate::state::{
    DeposedObject, JournalEntry, Operation, PendingOperation, ResourcePhase, ResourceState,
    SnapshotState, StackState, ThinVec,
};
use crate::validate::{ProblemKind, ValidationError, ValidationErrors, validate_with_graph};

/// A template checked and resolved against its parameters, ready to plan or apply.
pub(crate) struct Prepared {
    stack: Arc<str>,
    template: Arc<Template>,
    params: ParamValues,
    pseudo: IndexMap<String, Value>,
    conditions: IndexMap<String, bool>,
    /// The resources' dependency graph (node `i` is the template's resource `i`).
    graph: DepGraph,
    /// Per template index: whether the resource's condition holds.
    active: Vec<bool>,
    /// Template indices of the resources whose condition holds, in dependency order.
    order: Vec<usize>,
}

impl Prepared {
    /// The logical id and spec of the template's resource `i`.
    fn resource(&self, i: usize) -> (&String, &ResourceSpec) {
        self.template
            .resources
            .get_index(i)
            .expect("a graph node is a template resource")
    }

    /// Template indices of the active resources that resource `i` depends on.
    fn deps(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .dependencies(i)
            .iter()
            .copied()
            .filter(|&d| self.active[d])
    }

    /// Whether a logical id is an active resource of the template.
    fn is_active(&self, id: &str) -> bool {
        self.template
            .resources
            .get_index_of(id)
            .is_some_and(|i| self.active[i])
    }
}

pub(crate) fn prepare(engine: &EngineInner, input: &StackInput) -> Result<Prepared, EngineError> {
    let template = &input.template;
    let pseudo_names = engine.pseudo.names();
    let pseudo_refs: Vec<&str> = pseudo_names.iter().map(String::as_str).collect();
    let graph = validate_with_graph(
        template,
        &|t: &str| engine.registry.contains(t),
        &pseudo_refs,
    )?;
    snapshot_support(engine, template)?;
    let params = resolve_parameters(&template.parameters, &input.parameters)?;
    let pseudo = engine.pseudo.for_stack(&input.name);
    let conditions = resolve_conditions(&template.conditions, &params, &pseudo, &template.mappings)
        .map_err(EngineError::Conditions)?;
    let graph = graph?;
    let active: Vec<bool> = template
        .resources
        .values()
        .map(|spec| {
            spec.condition
                .as_ref()
                .is_none_or(|c| conditions.get(c).copied().unwrap_or(false))
        })
        .collect();
    let order: Vec<usize> = graph
        .topological_indices()
        .into_iter()
        .filter(|&i| active[i])
        .collect();
    Ok(Prepared {
        stack: Arc::from(input.name.as_str()),
        template: Arc::clone(&input.template),
        params,
        pseudo,
        conditions,
        graph,
        active,
        order,
    })
}

/// Refuses `DeletionPolicy: Snapshot` on a resource whose type's handler takes no
/// snapshots, as Heat does (`"Snapshot" deletion policy not supported`), every such
/// resource at once.
fn snapshot_support(engine: &EngineInner, template: &Template) -> Result<(), EngineError> {
    let problems: Vec<ValidationError> = template
        .resources
        .iter()
        .filter(|(_, spec)| spec.deletion_policy == DeletionPolicy::Snapshot)
        .filter(|(_, spec)| {
            engine
                .registry
                .get(&spec.type_name)
                .is_some_and(|h| !h.schema().snapshots)
        })
        .map(|(id, spec)| ValidationError {
            path: crate::graph::join_key(
                &crate::graph::join_key("Resources", id),
                "DeletionPolicy",
            ),
            kind: ProblemKind::Unsupported,
            message: format!(
                "\"Snapshot\" deletion policy not supported: resource '{id}' has type {}, \
                 whose handler takes no snapshots",
                spec.type_name
            ),
        })
        .collect();
    match ValidationErrors::from_problems(problems) {
        None => Ok(()),
        Some(errors) => Err(EngineError::Invalid(errors)),
    }
}

/// The id an `ExternalId` names, evaluated (parameters only: validation refuses resources).
fn external_id(
    prep: &Prepared,
    lookup: &dyn ResourceLookup,
    id: &str,
    expr: &crate::expr::Expr,
) -> Result<PhysicalId, crate::eval::EvalError> {
    let ctx = EvalContext {
        parameters: &prep.params,
        pseudo: &prep.pseudo,
        mappings: &prep.template.mappings,
        conditions: &prep.conditions,
        resources: lookup,
    };
    let path = crate::graph::join_key(&crate::graph::join_key("Resources", id), "ExternalId");
    match evaluate(expr, &ctx, &path)? {
        Some(Value::String(s)) if !s.is_empty() => Ok(PhysicalId::from(s)),
        other => Err(crate::eval::EvalError::Function {
            path,
            function: "ExternalId".into(),
            message: format!(
                "must be the id of an existing object (a non-empty text), got {}",
                match other {
                    None => "no value".to_owned(),
                    Some(v) => v.to_string(),
                }
            ),
        }),
    }
}

/// What an apply does with a resource that has an `ExternalId` (`wanted`), given its
/// record: adopt it (no record, an adopt that did not finish, or a changed id: the object
/// named before is forgotten, never deleted), nothing (adopted already), or an error
/// when the resource switches between adopted and created (Heat refuses such an update).
fn external_action(
    id: &str,
    recorded: Option<&ResourceState>,
    wanted: Option<&PhysicalId>,
) -> Result<(Action, Option<String>), String> {
    match (recorded, wanted) {
        (None, Some(w)) => Ok((
            Action::Import,
            Some(format!("will be imported: ExternalId {w}")),
        )),
        (Some(rec), Some(w)) if rec.external => {
            if rec.physical_id.as_ref() != Some(w) {
                let before = rec
                    .physical_id
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), ToString::to_string);
                Ok((
                    Action::Import,
                    Some(format!(
                        "ExternalId changed from {before} to {w}: will be imported, {before} is \
                         forgotten (never deleted)"
                    )),
                ))
            } else if rec.phase != ResourcePhase::Ready {
                Ok((
                    Action::Import,
                    Some(format!(
                        "will be imported: ExternalId {w} (the last adopt did not finish)"
                    )),
                ))
            } else {
                Ok((Action::NoOp, None))
            }
        }
        (Some(rec), Some(_)) if rec.physical_id.is_some() || !rec.deposed.is_empty() => {
            Err(format!(
                "resource '{id}' was created by the stack and now has an ExternalId: a created \
             resource cannot become an adopted one (Heat refuses it too); remove it from the \
             template and apply, then add it back with its ExternalId"
            ))
        }
        (Some(_), Some(w)) => Ok((
            Action::Import,
            Some(format!("will be imported: ExternalId {w}")),
        )),
        (Some(rec), None) if rec.external => Err(format!(
            "resource '{id}' was adopted through an ExternalId that the template no longer \
             gives: an adopted resource cannot become a created one (Heat refuses it too); \
             remove it from the template and apply (it is forgotten, not deleted), then add it \
             back"
        )),
        _ => Ok((Action::NoOp, None)),
    }
}

/// Resource values as the state knows them; ids in `unknown` are to be (re)created.
struct StateLookup<'a> {
    state: &'a StackState,
    unknown: Option<&'a FxHashSet<&'a str>>,
}

impl StateLookup<'_> {
    /// The recorded object id of `logical_id`: `None` when it is known only after apply,
    /// `Some(None)` when the resource has none (and no id is coming).
    fn recorded_id(&self, logical_id: &str) -> Option<Option<&PhysicalId>> {
        if self.unknown.is_some_and(|u| u.contains(logical_id)) {
            return None;
        }
        let id = self
            .state
            .resources
            .get(logical_id)
            .and_then(|r| r.physical_id.as_ref());
        match id {
            None if self.unknown.is_some() => None,
            id => Some(id),
        }
    }
}

impl ResourceLookup for StateLookup<'_> {
    fn physical_id(&self, logical_id: &str) -> Lookup {
        match self.recorded_id(logical_id) {
            None => Lookup::Unknown,
            Some(Some(id)) => Lookup::Known(Value::String(id.as_str().to_owned())),
            Some(None) => Lookup::Missing,
        }
    }

    fn is_unknown(&self, logical_id: &str) -> bool {
        self.recorded_id(logical_id).is_none()
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Lookup {
        if self.unknown.is_some_and(|u| u.contains(logical_id)) {
            return Lookup::Unknown;
        }
        match self.state.resources.get(logical_id) {
            Some(r) => match r.attributes.get(attribute) {
                Some(v) => Lookup::Known(v.clone()),
                None if r.phase != ResourcePhase::Ready && self.unknown.is_some() => {
                    Lookup::Unknown
                }
                None => Lookup::Missing,
            },
            None if self.unknown.is_some() => Lookup::Unknown,
            None => Lookup::Missing,
        }
    }
}

/// An empty property map, shared (an `Arc::default()` would allocate each time).
fn no_properties() -> Arc<Properties> {
    static EMPTY: std::sync::LazyLock<Arc<Properties>> = std::sync::LazyLock::new(Arc::default);
    Arc::clone(&EMPTY)
}

/// A resource's evaluated properties.
struct Evaluated {
    /// In clear, to send.
    clear: Arc<Properties>,
    /// With secrets replaced by digests, to compare and store (the same map as `clear` when
    /// the stack has no secret parameter).
    redacted: Arc<Properties>,
    /// Per property, in template order, what the planner compares (only when asked for).
    planned: Vec<(String, PlannedValue)>,
}

/// Evaluates a resource's properties one by one. `planned` is filled only when asked for:
/// a resource that has no record yet is created whatever its values are. With
/// `want_properties` false (a plan), `clear` and `redacted` stay empty. `path` is a buffer
/// for the JSON paths, reused from one resource to the next.
#[allow(clippy::too_many_arguments)]
fn evaluate_resource(
    prep: &Prepared,
    lookup: &dyn ResourceLookup,
    salt: &str,
    id: &str,
    spec: &ResourceSpec,
    want_planned: bool,
    want_properties: bool,
    path: &mut String,
) -> Result<Evaluated, EvalError> {
    let ctx = EvalContext {
        parameters: &prep.params,
        pseudo: &prep.pseudo,
        mappings: &prep.template.mappings,
        conditions: &prep.conditions,
        resources: lookup,
    };
    let secrets = prep.params.secret_names().next().is_some();
    // Each sized once for every property (a map grown insert by insert reallocates twice
    // for three).
    let room = |wanted: bool| if wanted { spec.properties.len() } else { 0 };
    let mut clear = Properties::with_capacity(room(want_properties));
    let mut redacted = Properties::with_capacity(room(want_properties && secrets));
    let mut planned = Vec::with_capacity(room(want_planned));
    // "Resources.{id}.Properties.{name}", one buffer for every property.
    path.clear();
    path.push_str("Resources.");
    path.push_str(id);
    path.push_str(".Properties.");
    let prefix = path.len();
    for (name, expr) in &spec.properties {
        if want_planned && !want_properties && is_unknown_reference(expr, &ctx) {
            planned.push((name.clone(), PlannedValue::Unknown));
            continue;
        }
        path.truncate(prefix);
        path.push_str(name);
        match evaluate(expr, &ctx, path) {
            Ok(Some(value)) if !want_properties => {
                if want_planned {
                    let shown = if secrets {
                        prep.params.redact(&value, salt)
                    } else {
                        value
                    };
                    planned.push((name.clone(), PlannedValue::Known(shown)));
                }
            }
            Ok(Some(value)) => {
                if secrets {
                    redacted.insert(name.clone(), prep.params.redact(&value, salt));
                }
                if want_planned {
                    let shown = if secrets {
                        redacted[name].clone()
                    } else {
                        value.clone()
                    };
                    planned.push((name.clone(), PlannedValue::Known(shown)));
                }
                clear.insert(name.clone(), value);
            }
            Ok(None) => {}
            Err(e) if e.is_unknown() => {
                if want_planned {
                    planned.push((name.clone(), PlannedValue::Unknown));
                }
            }
            Err(e) => return Err(e),
        }
    }
    let clear = Arc::new(clear);
    let redacted = if secrets {
        Arc::new(redacted)
    } else {
        Arc::clone(&clear)
    };
    Ok(Evaluated {
        clear,
        redacted,
        planned,
    })
}

pub(crate) fn plan(
    engine: &EngineInner,
    prep: &Prepared,
    state: &StackState,
) -> Result<Plan, EngineError> {
    let mut unknown = FxHashSet::default();
    let mut resources = Vec::with_capacity(prep.order.len());
    let mut path = String::new();
    for &i in &prep.order {
        let (id, spec) = prep.resource(i);
        let handler = handler_for(engine, id, &spec.type_name)?;
        let lookup = StateLookup {
            state,
            unknown: Some(&unknown),
        };
        let recorded = state.resources.get(id);
        let wanted = match &spec.external_id {
            Some(expr) => Some(external_id(prep, &lookup, id, expr)?),
            None => None,
        };
        if wanted.is_some() || recorded.is_some_and(|r| r.external) {
            let (action, reason) =
                external_action(id, recorded, wanted.as_ref()).map_err(|message| {
                    EngineError::Invalid(ValidationErrors::new(vec![ValidationError {
                        path: crate::graph::join_key(
                            &crate::graph::join_key("Resources", id),
                            "ExternalId",
                        ),
                        kind: ProblemKind::Unsupported,
                        message,
                    }]))
                })?;
            if action == Action::Import {
                unknown.insert(id.as_str());
            }
            resources.push(ResourcePlan {
                logical_id: id.clone(),
                type_name: spec.type_name.clone(),
                action,
                physical_id: wanted.or_else(|| recorded.and_then(|r| r.physical_id.clone())),
                diffs: Vec::new(),
                reason,
            });
            continue;
        }
        let planned = evaluate_resource(
            prep,
            &lookup,
            &state.secret_salt,
            id,
            spec,
            true,
            false,
            &mut path,
        )?
        .planned;
        let (mut action, diffs, mut reason) = decide(
            handler.schema(),
            &|old, new| handler.replacement_reason(old, new),
            &spec.type_name,
            recorded,
            planned,
        );
        if action == Action::NoOp && recorded.is_some_and(|r| !r.deposed.is_empty()) {
            action = Action::Resume;
            reason = Some("an old object of a replacement is still to delete".into());
        }
        if matches!(action, Action::Create | Action::Replace | Action::Resume) {
            unknown.insert(id.as_str());
        }
        resources.push(ResourcePlan {
            logical_id: id.clone(),
            type_name: spec.type_name.clone(),
            action,
            physical_id: recorded.and_then(|r| r.physical_id.clone()),
            diffs,
            reason,
        });
    }
    for (id, rec) in state
        .resources
        .iter()
        .rev()
        .filter(|(id, _)| !prep.is_active(id))
    {
        let (action, reason) = if rec.external {
            (
                Action::Forget,
                "no longer in the template; adopted through ExternalId: forgotten, never deleted",
            )
        } else if rec.deletion_policy == DeletionPolicy::Retain {
            (Action::Forget, "no longer in the template")
        } else if rec.deletion_policy == DeletionPolicy::Snapshot {
            (
                Action::Delete,
                "no longer in the template; DeletionPolicy Snapshot: a snapshot is taken first",
            )
        } else {
            (Action::Delete, "no longer in the template")
        };
        resources.push(ResourcePlan {
            logical_id: id.clone(),
            type_name: String::from(&*rec.type_name),
            action,
            physical_id: rec.physical_id.clone(),
            diffs: Vec::new(),
            reason: Some(reason.into()),
        });
    }
    Ok(Plan {
        stack: prep.stack.to_string(),
        resources,
        basis: Default::default(),
    })
}

fn handler_for<'a>(
    engine: &'a EngineInner,
    id: &str,
    type_name: &str,
) -> Result<&'a Arc<dyn ResourceHandler>, EngineError> {
    engine
        .registry
        .get(type_name)
        .ok_or_else(|| EngineError::NoHandler {
            logical_id: id.to_owned(),
            type_name: type_name.to_owned(),
        })
}

// ---------------------------------------------------------------------------------------
// The coordinator.

#[derive(Debug, Clone, PartialEq)]
enum DeleteTarget {
    /// The resource's current object; `forget` removes the record afterwards.
    Current { forget: bool },
    /// An old object of a replacement.
    Deposed(PhysicalId),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Create,
    Update,
    Delete(DeleteTarget),
    /// Forget without deleting (`DeletionPolicy: Retain`).
    Forget,
    /// Wait for readiness after a create or an update.
    AwaitReady,
    /// Wait for the object to be gone after a delete.
    AwaitGone(DeleteTarget),
    /// Adopt the existing object an `ExternalId` names: read it through the handler.
    Adopt(PhysicalId),
    /// Start (or, after a crash, find again) a snapshot of the target's object before its
    /// delete (`DeletionPolicy: Snapshot`).
    Snapshot(DeleteTarget),
    /// Wait for that snapshot to be complete.
    AwaitSnapshot(DeleteTarget),
}

/// What a record knows of the snapshot before a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordedSnapshot {
    /// The target has no object: nothing to snapshot (nor to delete).
    NoObject,
    /// No snapshot was started.
    None,
    /// The call was made and its answer never came: send it again with its token.
    Unanswered,
    /// Started: poll it.
    Started,
    /// Complete: the delete may go on.
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Create,
    Update,
    Delete,
}

impl Verb {
    fn statuses(self) -> (Status, Status, Status) {
        match self {
            Verb::Create => (
                Status::CreateInProgress,
                Status::CreateComplete,
                Status::CreateFailed,
            ),
            Verb::Update => (
                Status::UpdateInProgress,
                Status::UpdateComplete,
                Status::UpdateFailed,
            ),
            Verb::Delete => (
                Status::DeleteInProgress,
                Status::DeleteComplete,
                Status::DeleteFailed,
            ),
        }
    }
}

/// A node's remaining steps, the next one first. A node has a few at most: a thin vector
/// (one word in every node, nothing allocated while empty) instead of a ring buffer (four
/// words).
#[derive(Debug, Default)]
struct Steps(ThinVec<Step>);

impl Steps {
    fn front(&self) -> Option<&Step> {
        self.0.first()
    }

    fn pop_front(&mut self) -> Option<Step> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }

    fn push_front(&mut self, step: Step) {
        self.0.insert(0, step);
    }

    fn push_back(&mut self, step: Step) {
        self.0.push(step);
    }
}

impl<const N: usize> From<[Step; N]> for Steps {
    fn from(steps: [Step; N]) -> Self {
        Steps(ThinVec::from_iter(steps))
    }
}

impl std::ops::Deref for Steps {
    type Target = ThinVec<Step>;

    fn deref(&self) -> &ThinVec<Step> {
        &self.0
    }
}

impl std::ops::DerefMut for Steps {
    fn deref_mut(&mut self) -> &mut ThinVec<Step> {
        &mut self.0
    }
}

struct Node {
    id: Arc<str>,
    /// Index of its type's poller, which also holds the type's name, handler and rate
    /// limits (`u32`: every node pays for its room).
    poller: u32,
    steps: Steps,
    verb: Verb,
    /// Evaluated properties in clear, for a create or an update.
    clear: Arc<Properties>,
    /// The same, redacted, to record once an update succeeds.
    redacted: Arc<Properties>,
    attempt: u32,
    /// Transient failures of the current step: only these count against
    /// `max_transient_attempts` (a delete that waits out conflicts keeps its budget).
    transient: u32,
    op_started: Instant,
    last_error: Option<ErrorKind>,
    /// What few nodes need (boxed: every node pays for the room of what is inline).
    rare: Option<Box<Rare>>,
    /// Where its record was found in the state's map, valid while `slot_epoch` equals the
    /// runner's `removals` (only a removal moves records), so that the hot path finds the
    /// record without hashing and comparing its name again.
    slot: u32,
    slot_epoch: u32,
    /// The last status an event gave it in this phase (moved to the runner's `statuses`
    /// when the phase's nodes are replaced, and for the report).
    status: Option<Status>,
}

impl Node {
    /// The node's rarely set fields, made on first use.
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// Fields of a [`Node`] that few nodes set.
#[derive(Default)]
struct Rare {
    /// For a delete-before-create replacement: the new properties, redacted, recorded when
    /// the create half starts.
    replacement: Option<Arc<Properties>>,
    /// For a create-before-delete replacement: the old object was deposed by this run.
    deposed_here: Option<PhysicalId>,
    /// The last object id an event named, for events after the record is gone.
    last_physical_id: Option<PhysicalId>,
    /// The reason the node's last event gives (the snapshot kept before a delete).
    note: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Job(usize),
    Poll(usize),
    /// A rate limit's next free slot, for the nodes waiting on it.
    Limit(usize),
}

/// The adaptive rate limit of one (endpoint, action), and the nodes waiting for its slots in
/// the order they came (the dependency queue hands nodes out critical path first). Slots are
/// handed out one at a time, when they are free, so that a change of the rate applies to
/// every call still waiting.
struct Limit {
    limiter: RateLimiter,
    waiting: VecDeque<usize>,
    timer_at: Option<Instant>,
}

struct Member {
    started: Instant,
    next_due: Instant,
    deadline: Instant,
    /// Time since `started` of the last answer that found it not ready (zero before one).
    last_pending: Duration,
    in_flight: bool,
}

/// What the readiness of a type's objects taught: the time from the create's answer to
/// readiness lies in `(lo, hi]` (lo: the latest a member was still seen pending, hi: the
/// earliest one was seen ready).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ReadyWindow {
    lo: Duration,
    hi: Duration,
}

impl ReadyWindow {
    /// Adds one member's observation: pending at `lo`, ready at `hi`. Agreeing observations
    /// narrow the window; one that does not fit it (the type's objects do not all take the
    /// same time) widens it to cover both.
    fn learn(window: Option<ReadyWindow>, lo: Duration, hi: Duration) -> ReadyWindow {
        match window {
            None => ReadyWindow { lo, hi },
            Some(w) => {
                let (nlo, nhi) = (w.lo.max(lo), w.hi.min(hi));
                if nlo < nhi {
                    ReadyWindow { lo: nlo, hi: nhi }
                } else {
                    ReadyWindow {
                        lo: w.lo.min(lo),
                        hi: w.hi.max(hi),
                    }
                }
            }
        }
    }

    /// Notes that a member was still pending at `at`, inside the window.
    fn pending_at(&mut self, at: Duration) {
        if at > self.lo && at < self.hi {
            self.lo = at;
        }
    }
}

/// One resource type: its handler, its waiting members, what their readiness taught, and
/// the indexes of its rate limits (one per [`CallKind`], in [`CallKind::ALL`]'s order).
struct Poller {
    /// The type's one shared name (in nodes' events and the states' records).
    type_name: Arc<str>,
    handler: Arc<dyn ResourceHandler>,
    limits: [u32; CallKind::ALL.len()],
    members: FxHashMap<usize, Member>,
    timer_at: Option<Instant>,
    learned: Option<ReadyWindow>,
}

/// The kind of call a step sends, for its rate limit; `None` for the steps that send none
/// (waits and forgets). Exhaustive: a new step must say which it is.
fn call_kind(step: &Step) -> Option<CallKind> {
    match step {
        Step::Create => Some(CallKind::Create),
        Step::Update => Some(CallKind::Update),
        Step::Delete(_) => Some(CallKind::Delete),
        Step::Adopt(_) => Some(CallKind::Read),
        Step::Snapshot(_) => Some(CallKind::Snapshot),
        Step::Forget | Step::AwaitReady | Step::AwaitGone(_) | Step::AwaitSnapshot(_) => None,
    }
}

enum CallResult {
    Create(Result<Created, HandlerError>),
    Update(Result<Updated, HandlerError>),
    Delete(Result<Deleted, HandlerError>),
    /// The read of an object to adopt.
    Adopt(Result<Readiness, HandlerError>),
    Snapshot(Result<SnapshotStarted, HandlerError>),
}

enum Done {
    Call {
        node: usize,
        result: CallResult,
    },
    Poll {
        poller: usize,
        /// When the poll was sent.
        sent: Instant,
        nodes: Vec<usize>,
        result: Result<Vec<Readiness>, HandlerError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Forward,
    Cleanup,
    Rollback,
    Destroy,
}

struct Runner<'a> {
    engine: &'a EngineInner,
    prep: Option<&'a Prepared>,
    stack: Arc<str>,
    state: StackState,
    options: RunOptions,
    phase: Phase,
    nodes: Vec<Node>,
    queue: DepQueue,
    ready_jobs: VecDeque<usize>,
    inflight: FuturesUnordered<BoxFuture<'static, Done>>,
    inflight_calls: usize,
    timers: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    timer_seq: u64,
    job_timers: usize,
    pollers: Vec<Poller>,
    poller_index: FxHashMap<Arc<str>, usize>,
    limits: Vec<Limit>,
    limit_index: FxHashMap<String, usize>,
    rng: StdRng,
    journal: Vec<JournalEntry>,
    /// A buffer for the JSON paths of evaluations, reused by every node.
    path: String,
    /// The dependency list of every record that has none, shared.
    no_deps: Arc<[Arc<str>]>,
    halted: bool,
    cancelled: bool,
    /// Logical ids this run created an object for (rollback deletes them).
    created: Vec<Arc<str>>,
    /// The last status of every resource a finished phase touched, with its type name
    /// (the current phase's are on its nodes: see [`Runner::keep_statuses`]).
    statuses: FxHashMap<Arc<str>, (Status, Arc<str>)>,
    /// Logical ids the state held when the run started.
    initial_ids: FxHashSet<String>,
    failures: Vec<ResourceFailure>,
    /// Outputs that evaluated to an error (`Fn::Error`), with the error.
    output_errors: IndexMap<String, String>,
    skipped: Vec<String>,
    left_behind: Vec<String>,
    /// Snapshots kept by deletes of this run (`DeletionPolicy: Snapshot`).
    snapshots: Vec<super::SnapshotKept>,
    /// Logical ids this run adopted an object for (rollback forgets the new ones).
    adopted: Vec<Arc<str>>,
    phase_failed: bool,
    /// Records removed from the state so far: a node's cached `slot` is valid only while
    /// this has not moved since it was taken.
    removals: u32,
}

impl<'a> Runner<'a> {
    fn new(
        engine: &'a EngineInner,
        prep: Option<&'a Prepared>,
        state: StackState,
        options: RunOptions,
    ) -> Self {
        let rng = match engine.options.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let initial_ids = state.resources.keys().cloned().collect();
        Runner {
            initial_ids,
            engine,
            prep,
            stack: Arc::from(state.stack.as_str()),
            state,
            options,
            phase: Phase::Forward,
            nodes: Vec::new(),
            queue: DepQueue::new(&[]).expect("an empty queue is valid"),
            ready_jobs: VecDeque::new(),
            inflight: FuturesUnordered::new(),
            inflight_calls: 0,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            job_timers: 0,
            pollers: Vec::new(),
            poller_index: FxHashMap::default(),
            limits: Vec::new(),
            limit_index: FxHashMap::default(),
            rng,
            journal: Vec::new(),
            path: String::new(),
            no_deps: Arc::new([]),
            halted: false,
            cancelled: false,
            created: Vec::new(),
            statuses: FxHashMap::default(),
            failures: Vec::new(),
            output_errors: IndexMap::new(),
            skipped: Vec::new(),
            left_behind: Vec::new(),
            snapshots: Vec::new(),
            adopted: Vec::new(),
            phase_failed: false,
            removals: 0,
        }
    }

    // -- bookkeeping ----------------------------------------------------------------------

    fn redact_text(&self, text: &str) -> String {
        match self.prep {
            Some(prep) => prep.params.redact_text(text),
            None => text.to_owned(),
        }
    }

    fn emit_raw(
        &self,
        logical_id: Arc<str>,
        type_name: Arc<str>,
        physical_id: Option<String>,
        status: Status,
        reason: Option<String>,
    ) {
        if let Some(tx) = &self.options.events {
            let reason = reason.map(|r| self.redact_text(&r));
            // A closed receiver only means nobody listens any more.
            let _ = tx.send(Event {
                time: Utc::now(),
                stack: Arc::clone(&self.stack),
                logical_id,
                type_name,
                physical_id,
                status,
                reason,
            });
        }
    }

    fn emit(&mut self, n: usize, status: Status, reason: Option<String>) {
        self.nodes[n].status = Some(status);
        let node = &self.nodes[n];
        if self.options.events.is_none() {
            return;
        }
        let current = self
            .state
            .resources
            .get(&*node.id)
            .and_then(|r| r.physical_id.as_ref());
        let physical_id = current.map(ToString::to_string).or_else(|| {
            let rare = node.rare.as_deref()?;
            rare.last_physical_id.as_ref().map(ToString::to_string)
        });
        let id = Arc::clone(&node.id);
        let type_name = Arc::clone(self.type_name(n));
        self.emit_raw(id, type_name, physical_id, status, reason);
    }

    /// Keeps the object id of a record about to lose it, for the events that follow.
    fn remember_physical_id(&mut self, n: usize) {
        let current = self
            .state
            .resources
            .get(&*self.nodes[n].id)
            .and_then(|r| r.physical_id.as_ref());
        if let Some(id) = current {
            let id = id.clone();
            self.nodes[n].rare().last_physical_id = Some(id);
        }
    }

    fn emit_stack(&self, status: Status, reason: Option<String>) {
        self.emit_raw(
            Arc::clone(&self.stack),
            Arc::from(STACK_TYPE),
            None,
            status,
            reason,
        );
    }

    fn put(&mut self, id: &Arc<str>) {
        if let Some(rec) = self.state.resources.get(&**id) {
            self.journal.push(JournalEntry::Put {
                logical_id: Arc::clone(id),
                resource: Box::new(rec.clone()),
            });
        }
    }

    /// [`Runner::put`] of node `n`'s record, found through its cached slot.
    fn put_node(&mut self, n: usize) {
        if let Some(i) = self.slot(n) {
            let rec = &self.state.resources[i];
            self.journal.push(JournalEntry::Put {
                logical_id: Arc::clone(&self.nodes[n].id),
                resource: Box::new(rec.clone()),
            });
        }
    }

    /// The index of node `n`'s record in the state's map, if it has one: the cached slot
    /// while no record was removed since it was taken, else a lookup by name (cached).
    fn slot(&mut self, n: usize) -> Option<usize> {
        let node = &self.nodes[n];
        if node.slot_epoch == self.removals {
            debug_assert_eq!(
                self.state
                    .resources
                    .get_index(node.slot as usize)
                    .map(|(k, _)| k.as_str()),
                Some(&*node.id),
                "a cached slot names its node's record"
            );
            return Some(node.slot as usize);
        }
        let i = self.state.resources.get_index_of(&*node.id)?;
        self.cache_slot(n, i);
        Some(i)
    }

    fn cache_slot(&mut self, n: usize, i: usize) {
        if let Ok(slot) = u32::try_from(i) {
            self.nodes[n].slot = slot;
            self.nodes[n].slot_epoch = self.removals;
        }
    }

    /// Node `n`'s record, which exists while the node runs.
    fn node_record(&mut self, n: usize) -> &mut ResourceState {
        let i = self
            .slot(n)
            .expect("a node's record exists while the node runs");
        &mut self.state.resources[i]
    }

    fn forget(&mut self, id: &str) {
        // Records after it move down one place: every cached slot is stale now.
        self.removals += 1;
        if self.removals == u32::MAX {
            // (After four billion removals: start the count again, forgetting every slot.)
            self.removals = 0;
            self.nodes
                .iter_mut()
                .for_each(|node| node.slot_epoch = u32::MAX);
        }
        self.state.resources.shift_remove(id);
        self.journal.push(JournalEntry::Remove {
            logical_id: id.to_owned(),
        });
    }

    async fn flush(&mut self) -> Result<(), EngineError> {
        if !self.journal.is_empty() {
            let entries = std::mem::take(&mut self.journal);
            self.engine.store.append(&self.stack, entries).await?;
        }
        Ok(())
    }

    /// The rate limit of a call of `kind` through `handler`: one per endpoint and action.
    fn limit(&mut self, handler: &dyn ResourceHandler, kind: CallKind) -> u32 {
        let key = match handler.action(kind) {
            Some(action) => format!("{} {action}", handler.endpoint()),
            None => format!(
                "{} {} {}",
                handler.endpoint(),
                handler.schema().type_name,
                kind.name()
            ),
        };
        let i = match self.limit_index.get(&key) {
            Some(&i) => i,
            None => {
                self.limits.push(Limit {
                    limiter: RateLimiter::new(self.engine.options.rate_limit.clone()),
                    waiting: VecDeque::new(),
                    timer_at: None,
                });
                self.limit_index.insert(key, self.limits.len() - 1);
                self.limits.len() - 1
            }
        };
        u32::try_from(i).expect("fewer than 2^32 rate limits")
    }

    /// The index of the rate limit a call of `kind` by node `n` goes through.
    fn limit_of(&self, n: usize, kind: CallKind) -> usize {
        self.pollers[self.nodes[n].poller as usize].limits[kind.index()] as usize
    }

    /// A new type's poller (with its rate limits).
    fn poller(&mut self, type_name: Arc<str>, handler: Arc<dyn ResourceHandler>) -> usize {
        let limits = CallKind::ALL.map(|kind| self.limit(handler.as_ref(), kind));
        self.pollers.push(Poller {
            type_name: Arc::clone(&type_name),
            handler,
            limits,
            members: FxHashMap::default(),
            timer_at: None,
            learned: None,
        });
        self.poller_index.insert(type_name, self.pollers.len() - 1);
        self.pollers.len() - 1
    }

    /// Node `n`'s handler (its type's).
    fn handler(&self, n: usize) -> &Arc<dyn ResourceHandler> {
        &self.pollers[self.nodes[n].poller as usize].handler
    }

    /// Node `n`'s type name, shared.
    fn type_name(&self, n: usize) -> &Arc<str> {
        &self.pollers[self.nodes[n].poller as usize].type_name
    }

    fn new_node(
        &mut self,
        id: Arc<str>,
        type_name: &str,
        steps: Steps,
        verb: Verb,
    ) -> Result<Node, EngineError> {
        let poller = match self.poller_index.get(type_name) {
            Some(&p) => p,
            None => {
                let handler = Arc::clone(handler_for(self.engine, &id, type_name)?);
                self.poller(Arc::from(type_name), handler)
            }
        };
        Ok(Node {
            id,
            poller: u32::try_from(poller).expect("fewer than 2^32 pollers"),
            steps,
            verb,
            clear: no_properties(),
            redacted: no_properties(),
            attempt: 0,
            transient: 0,
            op_started: Instant::now(),
            last_error: None,
            rare: None,
            slot: 0,
            slot_epoch: u32::MAX,
            status: None,
        })
    }

    fn timer(&mut self, at: Instant, timer: Timer) {
        self.timer_seq += 1;
        if matches!(timer, Timer::Job(_)) {
            self.job_timers += 1;
        }
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    fn record(&mut self, id: &str) -> &mut ResourceState {
        self.state
            .resources
            .get_mut(id)
            .expect("a node's record exists while the node runs")
    }

    // -- the loop -------------------------------------------------------------------------

    fn idle(&self) -> bool {
        self.inflight.is_empty()
            && self.ready_jobs.is_empty()
            && self.job_timers == 0
            && self.pollers.iter().all(|p| p.members.is_empty())
            && self.limits.iter().all(|l| l.waiting.is_empty())
            && (self.halted || self.queue.ready_count() == 0)
    }

    async fn run_phase(&mut self) -> Result<(), EngineError> {
        let cancel = self.options.cancel.clone().unwrap_or_default();
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            self.fill()?;
            self.flush().await?;
            if self.idle() {
                return Ok(());
            }
            let next_timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                biased;
                _ = &mut cancelled, if !self.cancelled => self.cancel(),
                Some(done) = self.inflight.next(), if !self.inflight.is_empty() => {
                    self.on_done(done);
                    self.drain_answered();
                }
                _ = sleep_until_opt(next_timer), if next_timer.is_some() => self.on_timers(),
            }
        }
    }

    /// Takes the answers of calls that have already answered, without waiting, so that the
    /// next fill starts their dependents together and the next flush journals them in one
    /// append. Bounded by the concurrency limit, so that a cancel is seen soon.
    fn drain_answered(&mut self) {
        for _ in 0..self.engine.options.concurrency.max(1) {
            match self.inflight.next().now_or_never() {
                Some(Some(done)) => self.on_done(done),
                _ => return,
            }
        }
    }

    fn cancel(&mut self) {
        self.cancelled = true;
        self.halt();
        self.ready_jobs.clear();
        self.timers.clear();
        self.job_timers = 0;
        for limit in &mut self.limits {
            limit.waiting.clear();
            limit.timer_at = None;
        }
    }

    fn halt(&mut self) {
        self.halted = true;
        for poller in &mut self.pollers {
            poller.members.clear();
            poller.timer_at = None;
        }
    }

    fn fill(&mut self) -> Result<(), EngineError> {
        let limit = self.engine.options.concurrency.max(1);
        while self.inflight_calls < limit {
            let n = if let Some(n) = self.ready_jobs.pop_front() {
                n
            } else if self.halted {
                break;
            } else if let Some(n) = self.queue.pop_ready() {
                if !self.start_node(n)? {
                    continue;
                }
                n
            } else {
                break;
            };
            self.launch(n);
        }
        Ok(())
    }

    /// Decides what a node does now that its dependencies are done. False when it has
    /// nothing to do (finished or failed at once).
    fn start_node(&mut self, n: usize) -> Result<bool, EngineError> {
        if self.phase != Phase::Forward {
            let (in_progress, _, _) = self.nodes[n].verb.statuses();
            self.emit(n, in_progress, None);
            return Ok(true);
        }
        let prep = self.prep.expect("the forward phase has a template");
        let id = Arc::clone(&self.nodes[n].id);
        let spec = prep.resource(prep.order[n]).1;
        let slot = self.slot(n);
        let recorded = slot.is_some();
        let lookup = StateLookup {
            state: &self.state,
            unknown: None,
        };
        let evaluated = evaluate_resource(
            prep,
            &lookup,
            &self.state.secret_salt,
            &id,
            spec,
            recorded,
            true,
            &mut self.path,
        );
        let Evaluated {
            clear,
            redacted,
            planned,
        } = match evaluated {
            Ok(v) => v,
            Err(e) => {
                self.nodes[n].verb = if recorded { Verb::Update } else { Verb::Create };
                self.fail_node(n, e.to_string(), None);
                return Ok(false);
            }
        };
        let wanted = match &spec.external_id {
            Some(expr) => {
                let lookup = StateLookup {
                    state: &self.state,
                    unknown: None,
                };
                match external_id(prep, &lookup, &id, expr) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        self.nodes[n].verb = Verb::Create;
                        self.fail_node(n, e.to_string(), Some(ErrorKind::Invalid));
                        return Ok(false);
                    }
                }
            }
            None => None,
        };
        // (Through the slot found above: no second lookup by name on every start.)
        let is_external = slot.is_some_and(|i| self.state.resources[i].external);
        let external = if wanted.is_some() || is_external {
            match external_action(&id, slot.map(|i| &self.state.resources[i]), wanted.as_ref()) {
                Ok(decided) => Some(decided),
                Err(message) => {
                    self.nodes[n].verb = Verb::Update;
                    self.fail_node(n, message, Some(ErrorKind::Invalid));
                    return Ok(false);
                }
            }
        } else {
            None
        };
        let handler = self.handler(n);
        let recorded = slot.map(|i| &self.state.resources[i]);
        let action = match recorded {
            _ if external.is_some() => external.as_ref().map_or(Action::NoOp, |(a, _)| *a),
            None => Action::Create,
            Some(_) => {
                let replacement =
                    |old: &Properties, new: &Properties| handler.replacement_reason(old, new);
                decide(
                    handler.schema(),
                    &replacement,
                    &spec.type_name,
                    recorded,
                    planned,
                )
                .0
            }
        };
        let mut deps = prep.deps(prep.order[n]).peekable();
        let deps: Arc<[Arc<str>]> = if deps.peek().is_none() {
            Arc::clone(&self.no_deps)
        } else {
            deps.map(|d| Arc::clone(&prep.graph.ids()[d])).collect()
        };
        // The node's shared name of its type (one string per type in the states).
        let node_type = self.type_name(n);
        let type_name: Arc<str> = if **node_type == *spec.type_name {
            Arc::clone(node_type)
        } else {
            Arc::from(spec.type_name.as_str())
        };
        self.nodes[n].clear = clear;
        let slot = match slot {
            Some(i) => i,
            None => {
                let record = ResourceState {
                    type_name: Arc::clone(&type_name),
                    physical_id: None,
                    phase: ResourcePhase::Creating,
                    properties: no_properties(),
                    attributes: no_properties(),
                    depends_on: Arc::default(),
                    generation: 0,
                    deletion_policy: spec.deletion_policy,
                    pending: None,
                    deposed: Default::default(),
                    failure: None,
                    external: false,
                    snapshots: Default::default(),
                };
                let (i, _) = self.state.resources.insert_full(String::from(&*id), record);
                i
            }
        };
        self.cache_slot(n, slot);
        let replace_order = self.handler(n).schema().replace_order;
        let node = &mut self.nodes[n];
        let rec = &mut self.state.resources[slot];
        rec.depends_on = deps;
        rec.deletion_policy = spec.deletion_policy;
        node.verb = Verb::Create;
        match action {
            Action::NoOp => {
                node.steps.clear();
            }
            Action::Create => {
                rec.type_name = Arc::clone(&type_name);
                rec.properties = redacted;
                node.steps = Steps::from([Step::Create]);
            }
            Action::Update => {
                node.verb = Verb::Update;
                node.redacted = redacted;
                node.steps = Steps::from([Step::Update]);
            }
            Action::Import => {
                // Properties are recorded (the handler's read gets them) but never sent.
                rec.type_name = Arc::clone(&type_name);
                rec.properties = redacted;
                rec.external = true;
                rec.phase = ResourcePhase::Creating;
                let wanted = wanted.expect("an import has an ExternalId");
                node.steps = Steps::from([Step::Adopt(wanted)]);
            }
            Action::Resume => {
                let pending_create = rec
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.operation == Operation::Create);
                node.verb = if rec.phase == ResourcePhase::Updating {
                    Verb::Update
                } else {
                    Verb::Create
                };
                let pending_delete = rec
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.operation == Operation::Delete);
                node.steps = if pending_delete && rec.physical_id.is_some() {
                    // A delete was sent and the run died (a rollback or a replacement cut
                    // short): the object is gone or going. Finish the delete, then create
                    // the resource anew, as a delete-before-create replacement does.
                    node.rare().replacement = Some(redacted);
                    Steps::from([
                        Step::Delete(DeleteTarget::Current { forget: false }),
                        Step::Create,
                    ])
                } else if pending_create || rec.physical_id.is_none() {
                    Steps::from([Step::Create])
                } else {
                    Steps::from([Step::AwaitReady])
                };
            }
            Action::Replace => match replace_order {
                crate::provider::ReplaceOrder::DeleteBeforeCreate => {
                    // The record keeps the old object's properties until it is deleted;
                    // the create that follows records the new ones (see `Step::Create`).
                    node.rare().replacement = Some(redacted);
                    let old = DeleteTarget::Current { forget: false };
                    node.steps = if rec.deletion_policy == DeletionPolicy::Snapshot {
                        Steps::from([Step::Snapshot(old.clone()), Step::Delete(old), Step::Create])
                    } else {
                        Steps::from([Step::Delete(old), Step::Create])
                    };
                }
                _ => {
                    if let Some(old) = rec.physical_id.take() {
                        rec.deposed.push(DeposedObject {
                            physical_id: old.clone(),
                            properties: rec.properties.clone(),
                        });
                        node.rare().deposed_here = Some(old);
                    }
                    rec.type_name = Arc::clone(&type_name);
                    rec.properties = redacted;
                    rec.attributes = no_properties();
                    rec.pending = None;
                    node.steps = Steps::from([Step::Create]);
                }
            },
            Action::Delete | Action::Forget => {
                unreachable!("decide never deletes a resource of the template")
            }
        }
        if action == Action::Replace
            && replace_order != crate::provider::ReplaceOrder::DeleteBeforeCreate
        {
            self.put_node(n);
        }
        if self.nodes[n].steps.is_empty() {
            self.finish_in_queue(n);
            return Ok(false);
        }
        self.nodes[n].op_started = Instant::now();
        self.nodes[n].attempt = 0;
        self.nodes[n].transient = 0;
        let (in_progress, _, _) = self.nodes[n].verb.statuses();
        let reason = match action {
            Action::Replace => Some("replacing".to_owned()),
            Action::Resume => Some("resuming an unfinished operation".to_owned()),
            Action::Import => external.and_then(|(_, reason)| reason),
            _ => None,
        };
        self.emit(n, in_progress, reason);
        Ok(true)
    }

    /// Starts the node's next step, or queues it for its rate limit's next slot.
    fn launch(&mut self, n: usize) {
        let Some(step) = self.nodes[n].steps.front().cloned() else {
            self.complete_node(n);
            return;
        };
        match step {
            Step::AwaitReady | Step::AwaitGone(_) | Step::AwaitSnapshot(_) => {
                self.await_readiness(n);
                return;
            }
            Step::Snapshot(ref target) => {
                // A snapshot recorded by an earlier attempt (or a run that died) is never
                // taken twice: a complete one lets the delete go on, a started one is polled.
                match self.recorded_snapshot(n, target) {
                    RecordedSnapshot::NoObject | RecordedSnapshot::Complete => {
                        self.nodes[n].steps.pop_front();
                        self.complete_step(n);
                        return;
                    }
                    RecordedSnapshot::Started => {
                        self.nodes[n].steps[0] = Step::AwaitSnapshot(target.clone());
                        self.await_readiness(n);
                        return;
                    }
                    RecordedSnapshot::Unanswered | RecordedSnapshot::None => {}
                }
            }
            Step::Forget => {
                let id = Arc::clone(&self.nodes[n].id);
                let external = self.state.resources.get(&*id).is_some_and(|r| r.external);
                self.remember_physical_id(n);
                self.forget(&id);
                let reason = if external {
                    "adopted through ExternalId: forgotten, never deleted by the stack"
                } else {
                    "DeletionPolicy is Retain: the object stays"
                };
                self.emit(n, Status::DeleteSkipped, Some(reason.into()));
                self.nodes[n].steps.pop_front();
                self.complete_step(n);
                return;
            }
            _ => {}
        }
        let Some(kind) = call_kind(&step) else {
            unreachable!("waits and forgets are handled above")
        };
        let l = self.limit_of(n, kind);
        let limit = &mut self.limits[l];
        if !limit.waiting.is_empty() || !limit.limiter.try_acquire(Instant::now()) {
            limit.waiting.push_back(n);
            self.arm_limit(l);
            return;
        }
        self.call(n, step);
    }

    /// Sets the timer of rate limit `l` for its next slot, if nodes wait for it.
    fn arm_limit(&mut self, l: usize) {
        let limit = &self.limits[l];
        if limit.waiting.is_empty() {
            return;
        }
        let at = limit.limiter.earliest(Instant::now());
        if limit.timer_at.is_none_or(|t| t > at) {
            self.limits[l].timer_at = Some(at);
            self.timer(at, Timer::Limit(l));
        }
    }

    /// Starts the calls waiting on rate limit `l` whose slots are free.
    fn release(&mut self, l: usize, now: Instant) {
        while let Some(&n) = self.limits[l].waiting.front() {
            if !self.limits[l].limiter.try_acquire(now) {
                break;
            }
            self.limits[l].waiting.pop_front();
            // (A node failed while it waited has no call to send.)
            if let Some(step) = self.nodes[n].steps.front().cloned()
                && call_kind(&step).is_some()
            {
                self.call(n, step);
            }
        }
        self.arm_limit(l);
    }

    /// Sends the node's call (its rate-limit slot is taken).
    fn call(&mut self, n: usize, step: Step) {
        let id = Arc::clone(&self.nodes[n].id);
        let handler = Arc::clone(self.handler(n));
        let timeout = self.engine.options.call_timeout;
        let future: BoxFuture<'static, Done> = match step {
            Step::Create => {
                let stack = Arc::clone(&self.stack);
                let i = self
                    .slot(n)
                    .expect("a node's record exists while the node runs");
                let rec = &mut self.state.resources[i];
                let token = match rec.pending.as_deref() {
                    Some(PendingOperation {
                        operation: Operation::Create,
                        client_token: Some(t),
                        ..
                    }) => t.clone(),
                    _ => {
                        rec.generation += 1;
                        let started = Utc::now();
                        // The start time goes into the token too: a rollback forgets the
                        // records of what it deleted, so a later create of the same logical
                        // id counts from generation 1 again, and the cloud would answer a
                        // token it remembers with the deleted object. A resumed create reads
                        // its token from the pending operation; none is derived twice.
                        let token = ClientToken::derive_salted_at(
                            &self.state.secret_salt,
                            started.timestamp_nanos_opt().unwrap_or_default(),
                            &stack,
                            &id,
                            rec.generation,
                        );
                        rec.pending = Some(Arc::new(PendingOperation {
                            operation: Operation::Create,
                            client_token: Some(token.clone()),
                            started,
                        }));
                        token
                    }
                };
                rec.phase = ResourcePhase::Creating;
                rec.failure = None;
                if self.phase == Phase::Forward
                    && let Some(properties) = self.nodes[n]
                        .rare
                        .as_deref_mut()
                        .and_then(|r| r.replacement.take())
                {
                    // The create half of a delete-before-create replacement.
                    rec.properties = properties;
                    rec.type_name =
                        Arc::clone(&self.pollers[self.nodes[n].poller as usize].type_name);
                }
                let props = if self.phase == Phase::Forward {
                    Arc::clone(&self.nodes[n].clear)
                } else {
                    Arc::clone(&rec.properties)
                };
                self.put_node(n);
                Box::pin(async move {
                    let request = CreateRequest {
                        stack: &stack,
                        logical_id: &id,
                        properties: &props,
                        client_token: &token,
                    };
                    let result = with_timeout(timeout, handler.create(request)).await;
                    Done::Call {
                        node: n,
                        result: CallResult::Create(result),
                    }
                })
            }
            Step::Update => {
                let rec = self.state.resources.get_mut(&*id).expect("record exists");
                rec.pending = Some(Arc::new(PendingOperation {
                    operation: Operation::Update,
                    client_token: None,
                    started: Utc::now(),
                }));
                rec.phase = ResourcePhase::Updating;
                let old = rec.properties.clone();
                let new = Arc::clone(&self.nodes[n].clear);
                let physical_id = rec.physical_id.clone().expect("an update has an object");
                self.put(&id);
                Box::pin(async move {
                    let result =
                        with_timeout(timeout, handler.update(&physical_id, &old, &new)).await;
                    Done::Call {
                        node: n,
                        result: CallResult::Update(result),
                    }
                })
            }
            Step::Delete(target) => {
                let rec = self.state.resources.get_mut(&*id).expect("record exists");
                if let DeleteTarget::Current { .. } = target {
                    rec.pending = Some(Arc::new(PendingOperation {
                        operation: Operation::Delete,
                        client_token: None,
                        started: Utc::now(),
                    }));
                    rec.phase = ResourcePhase::Deleting;
                }
                let (physical_id, props) = target_of(rec, &target);
                let Some(physical_id) = physical_id else {
                    // Nothing was ever created: nothing to delete.
                    self.nodes[n].steps.pop_front();
                    self.after_delete(n, &target);
                    return;
                };
                self.put(&id);
                Box::pin(async move {
                    let result = with_timeout(timeout, handler.delete(&physical_id, &props)).await;
                    Done::Call {
                        node: n,
                        result: CallResult::Delete(result),
                    }
                })
            }
            Step::Adopt(wanted) => {
                let rec = self.state.resources.get_mut(&*id).expect("record exists");
                rec.physical_id = Some(wanted.clone());
                // A re-import: the attributes of the object adopted before are not this one's.
                rec.attributes = no_properties();
                rec.pending = None;
                rec.failure = None;
                let props = Arc::clone(&self.nodes[n].clear);
                self.put(&id);
                Box::pin(async move {
                    let result = with_timeout(timeout, handler.read(&wanted, &props)).await;
                    Done::Call {
                        node: n,
                        result: CallResult::Adopt(result),
                    }
                })
            }
            Step::Snapshot(target) => {
                let stack = Arc::clone(&self.stack);
                let salt = &self.state.secret_salt;
                let rec = self.state.resources.get_mut(&*id).expect("record exists");
                if let DeleteTarget::Current { .. } = target {
                    rec.phase = ResourcePhase::Deleting;
                }
                let (of, props) = target_of(rec, &target);
                let of = of.expect("recorded_snapshot found the object");
                let token = match rec.snapshots.iter().find(|s| s.of == of) {
                    // The call was made and its answer lost: the same token finds it.
                    Some(s) => s.client_token.clone(),
                    None => {
                        let at = Utc::now().timestamp_nanos_opt().unwrap_or_default();
                        let token = ClientToken::derive_salted_at(
                            salt,
                            at,
                            &stack,
                            &format!("{id}/snapshot"),
                            rec.generation,
                        );
                        rec.snapshots.push(SnapshotState {
                            of: of.clone(),
                            client_token: token.clone(),
                            snapshot_id: None,
                            complete: false,
                        });
                        token
                    }
                };
                self.put(&id);
                Box::pin(async move {
                    let request = SnapshotRequest {
                        stack: &stack,
                        logical_id: &id,
                        physical_id: &of,
                        properties: &props,
                        client_token: &token,
                    };
                    let result = with_timeout(timeout, handler.snapshot(request)).await;
                    Done::Call {
                        node: n,
                        result: CallResult::Snapshot(result),
                    }
                })
            }
            Step::AwaitReady | Step::AwaitGone(_) | Step::AwaitSnapshot(_) | Step::Forget => {
                unreachable!("handled above")
            }
        };
        self.inflight.push(future);
        self.inflight_calls += 1;
    }

    /// The object a delete target names, from the record.
    fn target_object(&self, n: usize, target: &DeleteTarget) -> Option<PhysicalId> {
        match target {
            DeleteTarget::Current { .. } => self
                .state
                .resources
                .get(&*self.nodes[n].id)
                .and_then(|r| r.physical_id.clone()),
            // Known without the record.
            DeleteTarget::Deposed(pid) => Some(pid.clone()),
        }
    }

    /// What the record knows of a snapshot of the target's object.
    fn recorded_snapshot(&self, n: usize, target: &DeleteTarget) -> RecordedSnapshot {
        let Some(of) = self.target_object(n, target) else {
            return RecordedSnapshot::NoObject;
        };
        let rec = &self.state.resources[&*self.nodes[n].id];
        match rec.snapshots.iter().find(|s| s.of == of) {
            None => RecordedSnapshot::None,
            Some(s) if s.complete => RecordedSnapshot::Complete,
            Some(s) if s.snapshot_id.is_some() => RecordedSnapshot::Started,
            Some(_) => RecordedSnapshot::Unanswered,
        }
    }

    /// Handles a snapshot's progress (from its call or a poll); the step that asked has
    /// been popped. A complete snapshot lets the delete go on; a failed one stops it, and
    /// the object stays.
    fn on_snapshot(&mut self, n: usize, target: DeleteTarget, readiness: Readiness) {
        let id = Arc::clone(&self.nodes[n].id);
        let of = self.target_object(n, &target);
        let rec = self.record(&id);
        let pos = rec
            .snapshots
            .iter()
            .position(|s| Some(&s.of) == of.as_ref());
        let failure = match readiness {
            Readiness::Ready(_) => {
                if let Some(i) = pos {
                    rec.snapshots[i].complete = true;
                }
                self.put(&id);
                self.complete_step(n);
                return;
            }
            Readiness::Pending { .. } => {
                self.put(&id);
                self.nodes[n].steps.push_front(Step::AwaitSnapshot(target));
                self.await_readiness(n);
                return;
            }
            Readiness::Failed { reason } => reason,
            Readiness::Gone => "it disappeared before it was complete".to_owned(),
        };
        // A failed snapshot is dropped: the next attempt takes a new one.
        let snapshot = pos
            .and_then(|i| rec.snapshots.remove(i).snapshot_id)
            .map_or_else(|| "(no id)".to_owned(), |s| s.to_string());
        let object = of.map_or_else(|| "(unknown object)".to_owned(), |p| p.to_string());
        self.put(&id);
        self.fail_node(
            n,
            format!(
                "snapshot {snapshot} of {object} failed: {failure}; the object is kept, not \
                 deleted (DeletionPolicy Snapshot)"
            ),
            Some(ErrorKind::Permanent),
        );
    }

    /// Whether node `n` waits for a created object to become ready: only such waits teach
    /// (and use) the type's [`ReadyWindow`]; updates and deletes keep the plain schedule.
    fn learns(&self, n: usize) -> bool {
        self.nodes[n].verb == Verb::Create
            && matches!(self.nodes[n].steps.front(), Some(Step::AwaitReady))
    }

    fn await_readiness(&mut self, n: usize) {
        let now = Instant::now();
        let node = &self.nodes[n];
        let p = node.poller as usize;
        let schema = self.pollers[p].handler.schema();
        let learned = self.learns(n).then_some(self.pollers[p].learned).flatten();
        let first = next_poll(
            Duration::ZERO,
            learned,
            schema.readiness_hint,
            &self.engine.options.poll,
        );
        let deadline = now + schema.ready_timeout;
        self.pollers[p].members.insert(
            n,
            Member {
                started: now,
                next_due: now + first,
                deadline,
                last_pending: Duration::ZERO,
                in_flight: false,
            },
        );
        self.reschedule_poller(p);
    }

    fn reschedule_poller(&mut self, p: usize) {
        let next = self.pollers[p]
            .members
            .values()
            .filter(|m| !m.in_flight)
            .map(|m| m.next_due)
            .min();
        if let Some(at) = next {
            if self.pollers[p].timer_at.is_none_or(|t| t != at) {
                self.pollers[p].timer_at = Some(at);
                self.timer(at, Timer::Poll(p));
            }
        } else {
            self.pollers[p].timer_at = None;
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Job(n) => {
                    self.job_timers -= 1;
                    self.ready_jobs.push_back(n);
                }
                Timer::Poll(p) => {
                    if self.pollers[p].timer_at == Some(at) {
                        self.pollers[p].timer_at = None;
                        self.poll_round(p, now);
                    }
                }
                Timer::Limit(l) => {
                    if self.limits[l].timer_at == Some(at) {
                        self.limits[l].timer_at = None;
                        self.release(l, now);
                    }
                }
            }
        }
    }

    fn poll_round(&mut self, p: usize, now: Instant) {
        let limiter = self.pollers[p].limits[CallKind::Read.index()] as usize;
        let earliest = self.limits[limiter].limiter.earliest(now);
        if earliest > now {
            self.pollers[p].timer_at = Some(earliest);
            self.timer(earliest, Timer::Poll(p));
            return;
        }
        let poller = &mut self.pollers[p];
        let mut candidates: Vec<(Instant, usize)> = poller
            .members
            .iter()
            .filter(|(_, m)| !m.in_flight)
            .map(|(n, m)| (m.next_due, *n))
            .collect();
        candidates.sort_unstable();
        let due = candidates.iter().take_while(|(at, _)| *at <= now).count();
        if due == 0 {
            self.reschedule_poller(p);
            return;
        }
        let batch = poller.handler.poll_batch_size().max(1);
        let calls = due.div_ceil(batch);
        let (snapshots, chosen): (Vec<usize>, Vec<usize>) = candidates
            .into_iter()
            .take(calls * batch)
            .map(|(_, n)| n)
            .partition(|&n| matches!(self.nodes[n].steps.front(), Some(Step::AwaitSnapshot(_))));
        for n in snapshots {
            // A snapshot is read by its own id, one call each (they are few).
            if !self.limits[limiter].limiter.try_acquire(now) {
                // The rest waits for the next slot.
                let at = self.limits[limiter].limiter.earliest(now);
                self.pollers[p].timer_at = Some(at);
                self.timer(at, Timer::Poll(p));
                return;
            }
            self.pollers[p]
                .members
                .get_mut(&n)
                .expect("chosen from members")
                .in_flight = true;
            let Some(Step::AwaitSnapshot(target)) = self.nodes[n].steps.front() else {
                unreachable!("partitioned on the step")
            };
            let of = self.target_object(n, target);
            let snapshot_id = self.state.resources[&*self.nodes[n].id]
                .snapshots
                .iter()
                .find(|s| Some(&s.of) == of.as_ref())
                .and_then(|s| s.snapshot_id.clone())
                .expect("an awaited snapshot has an id");
            let handler = Arc::clone(&self.pollers[p].handler);
            let timeout = self.engine.options.call_timeout;
            self.inflight.push(Box::pin(async move {
                let result = match with_timeout(timeout, handler.read_snapshot(&snapshot_id)).await
                {
                    Err(e) if e.kind == ErrorKind::NotFound => Ok(vec![Readiness::Gone]),
                    other => other.map(|r| vec![r]),
                };
                Done::Poll {
                    poller: p,
                    sent: now,
                    nodes: vec![n],
                    result,
                }
            }));
        }
        for chunk in chosen.chunks(batch) {
            if !self.limits[limiter].limiter.try_acquire(now) {
                // The rest waits for the next slot.
                let at = self.limits[limiter].limiter.earliest(now);
                self.pollers[p].timer_at = Some(at);
                self.timer(at, Timer::Poll(p));
                return;
            }
            let mut targets = Vec::with_capacity(chunk.len());
            for &n in chunk {
                self.pollers[p]
                    .members
                    .get_mut(&n)
                    .expect("chosen from members")
                    .in_flight = true;
                let rec = &self.state.resources[&*self.nodes[n].id];
                let physical_id = match self.nodes[n].steps.front() {
                    Some(Step::AwaitGone(DeleteTarget::Deposed(pid))) => pid.clone(),
                    _ => rec
                        .physical_id
                        .clone()
                        .expect("a polled resource has an object"),
                };
                targets.push((physical_id, rec.properties.clone()));
            }
            let handler = Arc::clone(&self.pollers[p].handler);
            let nodes = chunk.to_vec();
            let timeout = self.engine.options.call_timeout;
            self.inflight.push(Box::pin(async move {
                let refs: Vec<PollTarget<'_>> = targets
                    .iter()
                    .map(|(id, props)| PollTarget {
                        physical_id: id,
                        properties: props,
                    })
                    .collect();
                let result = with_timeout(timeout, handler.poll(&refs)).await;
                Done::Poll {
                    poller: p,
                    sent: now,
                    nodes,
                    result,
                }
            }));
        }
        self.reschedule_poller(p);
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Call { node, result } => {
                self.inflight_calls -= 1;
                self.on_call(node, result);
            }
            Done::Poll {
                poller,
                sent,
                nodes,
                result,
            } => self.on_poll(poller, sent, nodes, result),
        }
    }

    fn on_call(&mut self, n: usize, result: CallResult) {
        let kind = match &result {
            CallResult::Create(_) => CallKind::Create,
            CallResult::Update(_) => CallKind::Update,
            CallResult::Delete(_) => CallKind::Delete,
            CallResult::Adopt(_) => CallKind::Read,
            CallResult::Snapshot(_) => CallKind::Snapshot,
        };
        let l = self.limit_of(n, kind);
        let now = Instant::now();
        let id = Arc::clone(&self.nodes[n].id);
        let err = match result {
            CallResult::Create(Ok(created)) => {
                self.limits[l].limiter.on_success(now);
                self.created.push(Arc::clone(&id));
                self.nodes[n].steps.pop_front();
                let rec = self.node_record(n);
                rec.physical_id = Some(created.physical_id.clone());
                rec.pending = None;
                if let Readiness::Ready(attributes) = created.readiness {
                    // The common case: journal the outcome alone, not the whole record.
                    let attributes = Arc::new(attributes);
                    rec.attributes = Arc::clone(&attributes);
                    rec.phase = ResourcePhase::Ready;
                    rec.failure = None;
                    self.journal.push(JournalEntry::Ready {
                        logical_id: Arc::clone(&id),
                        physical_id: created.physical_id,
                        attributes,
                    });
                    self.complete_step(n);
                } else {
                    self.on_readiness(n, created.readiness, true);
                }
                return;
            }
            CallResult::Update(Ok(updated)) => {
                self.limits[l].limiter.on_success(now);
                let redacted = std::mem::replace(&mut self.nodes[n].redacted, no_properties());
                let rec = self.record(&id);
                rec.properties = redacted;
                rec.pending = None;
                self.nodes[n].steps.pop_front();
                self.on_readiness(n, updated.readiness, true);
                return;
            }
            CallResult::Delete(Ok(deleted)) => {
                self.limits[l].limiter.on_success(now);
                let Some(Step::Delete(target)) = self.nodes[n].steps.pop_front() else {
                    unreachable!("a delete result answers a delete step")
                };
                match deleted {
                    Deleted::Done => self.after_delete(n, &target),
                    _ => {
                        self.nodes[n].steps.push_front(Step::AwaitGone(target));
                        self.await_readiness(n);
                    }
                }
                return;
            }
            CallResult::Adopt(result)
                if result.as_ref().is_ok_and(|r| *r != Readiness::Gone)
                    || result
                        .as_ref()
                        .is_err_and(|e| e.kind != ErrorKind::NotFound) =>
            {
                match result {
                    Ok(readiness) => {
                        self.limits[l].limiter.on_success(now);
                        self.nodes[n].steps.pop_front();
                        self.adopted.push(Arc::clone(&id));
                        let object = self.state.resources[&*id]
                            .physical_id
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string);
                        self.nodes[n].rare().note = Some(Box::from(format!(
                            "adopted the existing object {object} (ExternalId): the stack never \
                             updates nor deletes it"
                        )));
                        self.on_readiness(n, readiness, true);
                        return;
                    }
                    Err(e) => e,
                }
            }
            CallResult::Adopt(_) => {
                // Gone, or NotFound: nothing to adopt.
                self.nodes[n].steps.pop_front();
                let rec = &self.state.resources[&*id];
                let object = rec
                    .physical_id
                    .as_ref()
                    .map_or_else(String::new, ToString::to_string);
                let message = format!(
                    "resource '{id}': ExternalId names {object}, but no {} with that id exists",
                    rec.type_name
                );
                self.fail_node(n, message, Some(ErrorKind::NotFound));
                return;
            }
            CallResult::Snapshot(Ok(started)) => {
                self.limits[l].limiter.on_success(now);
                let Some(Step::Snapshot(target)) = self.nodes[n].steps.pop_front() else {
                    unreachable!("a snapshot result answers a snapshot step")
                };
                let of = self.target_object(n, &target);
                let rec = self.record(&id);
                if let Some(s) = rec
                    .snapshots
                    .iter_mut()
                    .find(|s| Some(&s.of) == of.as_ref())
                {
                    s.snapshot_id = Some(started.snapshot_id);
                }
                self.on_snapshot(n, target, started.readiness);
                return;
            }
            CallResult::Snapshot(Err(e)) => HandlerError::new(
                e.kind,
                format!(
                    "snapshot before delete: {}; the object is kept, not deleted",
                    e.message
                ),
            ),
            CallResult::Delete(Err(e)) if e.kind == ErrorKind::NotFound => {
                let Some(Step::Delete(target)) = self.nodes[n].steps.pop_front() else {
                    unreachable!("a delete result answers a delete step")
                };
                self.after_delete(n, &target);
                return;
            }
            CallResult::Create(Err(e))
            | CallResult::Update(Err(e))
            | CallResult::Delete(Err(e)) => e,
        };
        self.retry_or_fail(n, l, err);
    }

    /// Retries a failed call through rate limit `l`, or fails the node. A throttled call
    /// waits for the limit alone (which the throttling slowed down and a `Retry-After`
    /// pushed back): a backoff of its own on top would leave slots unused.
    fn retry_or_fail(&mut self, n: usize, l: usize, err: HandlerError) {
        let now = Instant::now();
        let retry = &self.engine.options.retry;
        let node = &mut self.nodes[n];
        node.last_error = Some(err.kind);
        let past_deadline =
            now.saturating_duration_since(node.op_started) >= retry.operation_deadline;
        let attempts_left = match err.kind {
            ErrorKind::Transient => node.transient + 1 < retry.max_transient_attempts,
            _ => true,
        };
        if err.kind.is_retryable() && attempts_left && !past_deadline && !self.cancelled {
            node.attempt += 1;
            if let ErrorKind::Throttled { retry_after } = err.kind {
                tracing::debug!(resource = %node.id, attempt = node.attempt, "throttled: waiting for the rate limit");
                let limit = &mut self.limits[l];
                limit.limiter.on_throttled(now, retry_after);
                limit.waiting.push_front(n);
                self.arm_limit(l);
                return;
            }
            let delay = backoff(node.attempt - 1, retry.base, retry.cap, self.rng.r#gen());
            if err.kind == ErrorKind::Transient {
                node.transient += 1;
            }
            tracing::debug!(resource = %node.id, kind = err.kind.name(), attempt = node.attempt, ?delay, "retrying");
            self.timer(now + delay, Timer::Job(n));
            return;
        }
        let message = if past_deadline {
            format!(
                "{} (gave up after {:?})",
                err.message, retry.operation_deadline
            )
        } else if err.kind.is_retryable() {
            format!(
                "{} (gave up after {} attempts)",
                err.message,
                node.attempt + 1
            )
        } else {
            err.message.clone()
        };
        self.fail_node(n, message, Some(err.kind));
    }

    fn on_poll(
        &mut self,
        p: usize,
        sent: Instant,
        nodes: Vec<usize>,
        result: Result<Vec<Readiness>, HandlerError>,
    ) {
        let now = Instant::now();
        let limiter = self.pollers[p].limits[CallKind::Read.index()] as usize;
        match result {
            Ok(readiness) => {
                self.limits[limiter].limiter.on_success(now);
                let poll = self.engine.options.poll.clone();
                let hint = self.pollers[p].handler.schema().readiness_hint;
                // Members still pending share the earliest of their next polls, so that a
                // type's waiting objects stay one cohort polled in full batches.
                let mut pending: Vec<usize> = Vec::new();
                let mut cohort_due: Option<Instant> = None;
                for (n, r) in nodes.into_iter().zip(readiness) {
                    let learns = self.learns(n);
                    let poller = &mut self.pollers[p];
                    let Some(member) = poller.members.get_mut(&n) else {
                        continue;
                    };
                    member.in_flight = false;
                    // When the cloud was asked, counted from the create's answer.
                    let at = sent.saturating_duration_since(member.started);
                    let still = matches!(r, Readiness::Pending { .. })
                        || (matches!(r, Readiness::Ready(_))
                            && matches!(self.nodes[n].steps.front(), Some(Step::AwaitGone(_))));
                    if still {
                        if now >= member.deadline {
                            self.pollers[p].members.remove(&n);
                            let timeout = self.handler(n).schema().ready_timeout;
                            self.fail_node(
                                n,
                                format!("not ready after {timeout:?}"),
                                Some(ErrorKind::Permanent),
                            );
                            continue;
                        }
                        member.last_pending = member.last_pending.max(at);
                        let learned = if learns {
                            if let Some(w) = poller.learned.as_mut() {
                                w.pending_at(at);
                            }
                            poller.learned
                        } else {
                            None
                        };
                        let due = (member.started + next_poll(at, learned, hint, &poll))
                            .max(now + poll.min_interval);
                        cohort_due = Some(cohort_due.map_or(due, |c| c.min(due)));
                        pending.push(n);
                        continue;
                    }
                    if learns && matches!(r, Readiness::Ready(_)) {
                        poller.learned =
                            Some(ReadyWindow::learn(poller.learned, member.last_pending, at));
                    }
                    self.pollers[p].members.remove(&n);
                    match self.nodes[n].steps.pop_front() {
                        // A delete the cloud accepted has finished.
                        Some(Step::AwaitGone(target)) if matches!(r, Readiness::Gone) => {
                            self.after_delete(n, &target)
                        }
                        Some(Step::AwaitSnapshot(target)) => self.on_snapshot(n, target, r),
                        _ => self.on_readiness(n, r, false),
                    }
                }
                if let Some(due) = cohort_due {
                    for n in pending {
                        if let Some(member) = self.pollers[p].members.get_mut(&n) {
                            member.next_due = due;
                        }
                    }
                }
            }
            Err(err) => {
                let kind = err.kind;
                if let ErrorKind::Throttled { retry_after } = kind {
                    self.limits[limiter].limiter.on_throttled(now, retry_after);
                }
                let delay = backoff(
                    1,
                    self.engine.options.retry.base,
                    self.engine.options.retry.cap,
                    self.rng.r#gen(),
                );
                for n in nodes {
                    if kind.is_retryable() {
                        if let Some(m) = self.pollers[p].members.get_mut(&n) {
                            m.in_flight = false;
                            m.next_due = now + delay;
                        }
                    } else if self.pollers[p].members.remove(&n).is_some() {
                        self.fail_node(
                            n,
                            format!("reading readiness failed: {}", err.message),
                            Some(kind),
                        );
                    }
                }
            }
        }
        self.reschedule_poller(p);
    }

    /// Handles the readiness a create, an update or a poll reported. The step that produced
    /// it has been popped already.
    fn on_readiness(&mut self, n: usize, readiness: Readiness, from_call: bool) {
        let id = Arc::clone(&self.nodes[n].id);
        match readiness {
            Readiness::Ready(attributes) => {
                let rec = self.node_record(n);
                rec.attributes = Arc::new(attributes);
                rec.phase = ResourcePhase::Ready;
                self.put_node(n);
                self.complete_step(n);
            }
            Readiness::Pending { .. } if from_call => {
                self.put_node(n);
                self.nodes[n].steps.push_front(Step::AwaitReady);
                self.await_readiness(n);
            }
            Readiness::Pending { .. } => unreachable!("pollers keep pending members"),
            Readiness::Failed { reason } => {
                self.put(&id);
                self.fail_node(n, reason, Some(ErrorKind::Permanent));
            }
            Readiness::Gone => {
                if from_call {
                    self.put(&id);
                }
                self.fail_node(
                    n,
                    "the object disappeared before it was ready".into(),
                    Some(ErrorKind::NotFound),
                );
            }
        }
    }

    fn after_delete(&mut self, n: usize, target: &DeleteTarget) {
        let id = Arc::clone(&self.nodes[n].id);
        self.keep_snapshot(n, target);
        if matches!(target, DeleteTarget::Current { .. }) {
            self.remember_physical_id(n);
        }
        match target {
            DeleteTarget::Current { forget: true } => self.forget(&id),
            DeleteTarget::Current { forget: false } => {
                let rec = self.record(&id);
                rec.physical_id = None;
                rec.pending = None;
                rec.attributes = no_properties();
                self.put(&id);
            }
            DeleteTarget::Deposed(pid) => {
                if let Some(rec) = self.state.resources.get_mut(&*id) {
                    rec.deposed.retain(|d| &d.physical_id != pid);
                    self.put(&id);
                }
            }
        }
        self.complete_step(n);
    }

    /// After the delete of a snapshotted object: moves its snapshot from the record to the
    /// run's report and tells it in the `DELETE_COMPLETE` event (at once when the node goes
    /// on to create a replacement, else in the node's last event).
    fn keep_snapshot(&mut self, n: usize, target: &DeleteTarget) {
        let id = Arc::clone(&self.nodes[n].id);
        let Some(of) = self.target_object(n, target) else {
            return;
        };
        let Some(rec) = self.state.resources.get_mut(&*id) else {
            return;
        };
        let Some(pos) = rec.snapshots.iter().position(|s| s.of == of) else {
            return;
        };
        let Some(snapshot_id) = rec.snapshots.remove(pos).snapshot_id else {
            return;
        };
        let note = format!("snapshot {snapshot_id} of {of} kept (DeletionPolicy Snapshot)");
        tracing::info!(resource = %id, object = %of, snapshot = %snapshot_id, "snapshot kept");
        self.snapshots.push(super::SnapshotKept {
            logical_id: id.to_string(),
            type_name: rec.type_name.to_string(),
            physical_id: of,
            snapshot_id,
        });
        if self.nodes[n].verb == Verb::Delete {
            self.nodes[n].rare().note = Some(Box::from(note));
        } else {
            self.emit(n, Status::DeleteComplete, Some(note));
        }
    }

    fn complete_step(&mut self, n: usize) {
        self.nodes[n].attempt = 0;
        self.nodes[n].transient = 0;
        self.nodes[n].op_started = Instant::now();
        if self.nodes[n].steps.is_empty() {
            self.complete_node(n);
        } else {
            self.ready_jobs.push_back(n);
        }
    }

    fn complete_node(&mut self, n: usize) {
        self.nodes[n].clear = no_properties();
        self.nodes[n].steps = Steps::default();
        let (_, complete, _) = self.nodes[n].verb.statuses();
        let note = (self.nodes[n].rare.as_deref_mut())
            .and_then(|r| r.note.take())
            .map(String::from);
        self.emit(n, complete, note);
        self.finish_in_queue(n);
    }

    fn fail_node(&mut self, n: usize, message: String, kind: Option<ErrorKind>) {
        let message = self.redact_text(&message);
        let id = Arc::clone(&self.nodes[n].id);
        let (_, _, failed) = self.nodes[n].verb.statuses();
        if let Some(rec) = self.state.resources.get_mut(&*id) {
            // A create that may have happened keeps its token, so that the next apply finds
            // the object instead of making a second one.
            let keep_pending = kind.is_some_and(|k| k.is_retryable())
                && rec
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.operation == Operation::Create);
            if !keep_pending {
                rec.pending = None;
            }
            rec.failure = Some(Box::from(message.as_str()));
            if rec.physical_id.is_some() || self.phase != Phase::Forward {
                rec.phase = ResourcePhase::Failed;
            }
            self.put(&id);
        }
        self.nodes[n].steps.clear();
        if let Some(rare) = self.nodes[n].rare.as_deref_mut() {
            rare.note = None;
        }
        self.emit(n, failed, Some(message.clone()));
        self.failures.push(ResourceFailure {
            logical_id: id.to_string(),
            status: failed,
            message,
        });
        self.phase_failed = true;
        let keep_going = self.phase != Phase::Forward
            || self.engine.options.failure_policy == FailurePolicy::KeepGoing;
        if keep_going {
            if self.phase != Phase::Forward {
                self.note_left_behind(&id);
            }
            for skipped in self.fail_in_queue(n) {
                let skipped_id = self.nodes[skipped].id.to_string();
                if self.phase == Phase::Forward {
                    let reason = format!("not created: it depends on '{id}', which failed");
                    self.emit(skipped, Status::CreateSkipped, Some(reason));
                    self.skipped.push(skipped_id);
                } else {
                    self.emit(
                        skipped,
                        Status::DeleteSkipped,
                        Some(format!("kept: '{id}' could not be deleted")),
                    );
                    self.note_left_behind(&skipped_id);
                }
            }
        } else {
            self.halt();
        }
    }

    fn note_left_behind(&mut self, id: &str) {
        if let Some(rec) = self.state.resources.get(id) {
            let mut ids: Vec<String> = rec.physical_id.iter().map(ToString::to_string).collect();
            ids.extend(rec.deposed.iter().map(|d| d.physical_id.to_string()));
            let what = if ids.is_empty() {
                "(unknown object)".to_owned()
            } else {
                ids.join(", ")
            };
            self.left_behind.push(format!("{id}: {what}"));
        }
    }

    // -- phases ---------------------------------------------------------------------------

    /// Makes `nodes` the current phase, in the order `queue` gives (a queue built from
    /// per-node lists of dependencies, or the error that refused them).
    fn install(
        &mut self,
        phase: Phase,
        nodes: Vec<Node>,
        queue: Result<DepQueue, QueueError>,
    ) -> Result<(), EngineError> {
        self.queue = queue
            .map_err(|e| EngineError::Internal(format!("the {phase:?} phase's graph: {e}")))?;
        self.phase = phase;
        self.keep_statuses();
        self.nodes = nodes;
        self.halted = self.cancelled;
        self.phase_failed = false;
        Ok(())
    }

    /// Moves the statuses of the current phase's nodes to `statuses`, before the nodes go.
    fn keep_statuses(&mut self) {
        self.statuses.reserve(self.nodes.len());
        for n in 0..self.nodes.len() {
            if let Some(status) = self.nodes[n].status {
                self.keep_status(n, status);
            }
        }
    }

    /// Keeps node `n`'s last status (with its type) beyond its phase.
    fn keep_status(&mut self, n: usize, status: Status) {
        let entry = (status, Arc::clone(self.type_name(n)));
        self.statuses.insert(Arc::clone(&self.nodes[n].id), entry);
    }

    /// Marks a node done in the queue. The queue refuses only a node it did not hand out,
    /// which would be a bug here: it is logged, never a panic.
    fn finish_in_queue(&mut self, n: usize) {
        if let Err(e) = self.queue.finish(n) {
            tracing::error!(node = %self.nodes[n].id, error = %e, "dependency queue refused a finish");
        }
    }

    /// Marks a node failed in the queue and returns the nodes it skips.
    fn fail_in_queue(&mut self, n: usize) -> Vec<usize> {
        self.queue.fail(n).unwrap_or_else(|e| {
            tracing::error!(node = %self.nodes[n].id, error = %e, "dependency queue refused a failure");
            Vec::new()
        })
    }

    /// The forward phase's nodes (node `n` is the template's resource `prep.order[n]`) and
    /// their queue. The template's graph is already checked (acyclic, no duplicate edges),
    /// so the queue is built from it as it is, without a copy of each list to check again.
    fn forward_nodes(
        &mut self,
        prep: &Prepared,
    ) -> Result<(Vec<Node>, Result<DepQueue, QueueError>), EngineError> {
        let len = prep.order.len();
        let mut position = vec![usize::MAX; prep.active.len()];
        for (n, &i) in prep.order.iter().enumerate() {
            position[i] = n;
        }
        let mut nodes = Vec::with_capacity(len);
        // Compressed lists: node `n` depends on `targets[offsets[n]..offsets[n + 1]]`.
        let mut offsets = Vec::with_capacity(len + 1);
        offsets.push(0);
        let mut targets = Vec::with_capacity(prep.graph.edge_count());
        for (n, &i) in prep.order.iter().enumerate() {
            let (id, spec) = prep.resource(i);
            let shared = Arc::clone(&prep.graph.ids()[i]);
            nodes.push(self.new_node(shared, &spec.type_name, Steps::default(), Verb::Create)?);
            for d in prep.deps(i) {
                // `order` is topological: a dependency always comes first.
                if position[d] >= n {
                    return Err(EngineError::Internal(format!(
                        "the forward phase's order puts {id} before its dependency {}",
                        prep.graph.id(d)
                    )));
                }
                targets.push(position[d]);
            }
            offsets.push(targets.len());
        }
        let queue =
            DepQueue::from_unique_dependencies(len, |n| &targets[offsets[n]..offsets[n + 1]]);
        // Priority: the longest chain of work still behind a node (critical path first);
        // dependents come later in the order, so one backward pass computes it.
        let mut priority = vec![0u64; len];
        for n in (0..len).rev() {
            let handler = &self.pollers[nodes[n].poller as usize].handler;
            let cost = handler.schema().readiness_hint.as_millis() as u64 + 1;
            let tail = queue
                .dependents_of(n)
                .iter()
                .map(|&j| priority[j])
                .max()
                .unwrap_or(0);
            priority[n] = cost + tail;
        }
        let queue = queue.prioritized(priority.into_iter().map(|p| p as f64).collect());
        Ok((nodes, queue))
    }

    /// Nodes that delete `ids` (and deposed objects of `deposed_of`), each after every
    /// resource among them that depends on it.
    fn delete_nodes(
        &mut self,
        ids: &[String],
        deposed_of: &[String],
    ) -> Result<(Vec<Node>, Vec<Vec<usize>>), EngineError> {
        let mut nodes = Vec::new();
        let mut owners = Vec::new();
        for id in ids {
            let rec = &self.state.resources[id];
            let mut steps = deposed_steps(rec);
            if rec.external || rec.deletion_policy == DeletionPolicy::Retain {
                steps.push_back(Step::Forget);
            } else {
                if rec.physical_id.is_none()
                    && rec.pending.as_ref().is_some_and(|p| {
                        p.client_token.is_some() && p.operation == Operation::Create
                    })
                {
                    // A create may have happened without its answer: send it again with the
                    // same token to learn the object, then delete it.
                    steps.push_back(Step::Create);
                }
                let current = DeleteTarget::Current { forget: true };
                // No snapshot of an object that never finished its create (Heat takes none
                // of a CREATE_FAILED volume either), nor once the delete was sent (its
                // snapshot was complete before).
                let snapshot = rec.deletion_policy == DeletionPolicy::Snapshot
                    && rec.phase != ResourcePhase::Creating
                    && !rec
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.operation == Operation::Delete);
                if snapshot {
                    steps.push_back(Step::Snapshot(current.clone()));
                }
                steps.push_back(Step::Delete(current));
            }
            let type_name = rec.type_name.clone();
            nodes.push(self.new_node(Arc::from(id.as_str()), &type_name, steps, Verb::Delete)?);
            owners.push(id.clone());
        }
        for id in deposed_of {
            let rec = &self.state.resources[id];
            let steps = deposed_steps(rec);
            if steps.is_empty() {
                continue;
            }
            let type_name = rec.type_name.clone();
            nodes.push(self.new_node(Arc::from(id.as_str()), &type_name, steps, Verb::Delete)?);
            owners.push(id.clone());
        }
        let position: HashMap<&str, Vec<usize>> =
            owners
                .iter()
                .enumerate()
                .fold(HashMap::new(), |mut m, (i, id)| {
                    m.entry(id.as_str()).or_default().push(i);
                    m
                });
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, id) in owners.iter().enumerate() {
            // `id` depends on each of its recorded dependencies: they wait for it.
            for dependency in self.state.resources[id].depends_on.iter() {
                for &j in position.get(&**dependency).into_iter().flatten() {
                    if j != i {
                        deps[j].push(i);
                    }
                }
            }
        }
        Ok((nodes, deps))
    }

    /// The run's report. The run is over: it releases the nodes first, so that the report's
    /// copies do not add to the run's peak of memory.
    fn report(&mut self, status: Status, outputs: IndexMap<String, Value>) -> Report {
        // The current phase's statuses by record, through the nodes' slots (no map of every
        // resource's name); those of nodes whose record is gone join the earlier phases'.
        let mut current: Vec<Option<Status>> = vec![None; self.state.resources.len()];
        for n in 0..self.nodes.len() {
            let Some(node_status) = self.nodes[n].status else {
                continue;
            };
            match self.slot(n) {
                // (Before any earlier phase's status of the same resource.)
                Some(i) => current[i] = Some(node_status),
                None => self.keep_status(n, node_status),
            }
        }
        self.nodes = Vec::new();
        let mut deleted: Vec<ResourceSummary> = Vec::new();
        for (id, (status, type_name)) in &self.statuses {
            if *status == Status::DeleteComplete && !self.state.resources.contains_key(&**id) {
                deleted.push(ResourceSummary {
                    logical_id: id.to_string(),
                    type_name: type_name.to_string(),
                    physical_id: None,
                    status: *status,
                });
            }
        }
        self.created = Vec::new();
        let mut resources: Vec<ResourceSummary> =
            Vec::with_capacity(self.state.resources.len() + deleted.len());
        resources.extend(
            self.state
                .resources
                .iter()
                .zip(current)
                .map(|((id, rec), now)| ResourceSummary {
                    logical_id: id.clone(),
                    type_name: String::from(&*rec.type_name),
                    physical_id: rec.physical_id.clone(),
                    status: now
                        .or_else(|| self.statuses.get(id.as_str()).map(|(status, _)| *status))
                        .unwrap_or(match rec.phase {
                            ResourcePhase::Ready => Status::CreateComplete,
                            ResourcePhase::Failed => Status::CreateFailed,
                            _ => Status::CreateInProgress,
                        }),
                }),
        );
        resources.extend(deleted);
        Report {
            stack: self.stack.to_string(),
            status,
            outputs,
            output_errors: std::mem::take(&mut self.output_errors),
            resources,
            failures: self.failures.clone(),
            skipped: self.skipped.clone(),
            left_behind: self.left_behind.clone(),
            snapshots: std::mem::take(&mut self.snapshots),
            cancelled: self.cancelled,
        }
    }

    fn outputs(&mut self, prep: &Prepared) -> IndexMap<String, Value> {
        let mut outputs = IndexMap::new();
        let lookup = StateLookup {
            state: &self.state,
            unknown: None,
        };
        let ctx = EvalContext {
            parameters: &prep.params,
            pseudo: &prep.pseudo,
            mappings: &prep.template.mappings,
            conditions: &prep.conditions,
            resources: &lookup,
        };
        let mut failures = Vec::new();
        for (name, output) in &prep.template.outputs {
            if output
                .condition
                .as_ref()
                .is_some_and(|c| !prep.conditions.get(c).copied().unwrap_or(false))
            {
                continue;
            }
            match evaluate(&output.value, &ctx, &format!("Outputs.{name}.Value")) {
                Ok(Some(v)) => {
                    outputs.insert(name.clone(), v);
                }
                Ok(None) => {}
                // The template declares this value an error: the output carries it, the
                // stack does not fail (Heat shows such an output with its error).
                Err(e @ EvalError::Raised { .. }) => {
                    let message = prep.params.redact_text(&e.to_string());
                    self.output_errors.insert(name.clone(), message);
                }
                Err(e) => failures.push(ResourceFailure {
                    logical_id: format!("Outputs.{name}"),
                    status: Status::CreateFailed,
                    message: prep.params.redact_text(&e.to_string()),
                }),
            }
        }
        self.failures.extend(failures);
        outputs
    }
}

/// How much a member's poll interval grows: by this fraction of its time waited so far.
const POLL_GROWTH: u32 = 8;

/// When to poll a waiting object next, counted from its create's answer, when it was last
/// seen pending at `at` (zero: not polled yet).
///
/// - Once the type has taught a [`ReadyWindow`] `(lo, hi]`, an object not yet past `hi` is
///   polled a quarter into what is left of the window (from `lo`, or from `at` once past
///   `lo`): each answer narrows the window, so later objects of the type are seen ready
///   within a small fraction of its width.
/// - Otherwise the first poll is at the schema's readiness hint, and the next ones follow at
///   an interval of `1 / POLL_GROWTH` of the time waited, within the policy's bounds.
fn next_poll(
    at: Duration,
    learned: Option<ReadyWindow>,
    hint: Duration,
    poll: &super::PollPolicy,
) -> Duration {
    let next = match learned {
        Some(w) if at < w.hi => {
            let from = at.max(w.lo);
            from + w.hi.saturating_sub(from) / 4
        }
        _ if at.is_zero() => hint,
        _ => at + (at / POLL_GROWTH).clamp(poll.min_interval, poll.max_interval),
    };
    next.max(at + poll.min_interval)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn with_timeout<T>(
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, HandlerError>>,
) -> Result<T, HandlerError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(HandlerError::transient(format!(
            "no answer within {limit:?}"
        ))),
    }
}

pub(crate) async fn apply(
    engine: &EngineInner,
    prep: &Prepared,
    state: StackState,
    options: RunOptions,
) -> Result<Report, EngineError> {
    let existed = !state.resources.is_empty();
    let mut runner = Runner::new(engine, Some(prep), state, options);
    runner.state.reserve_for(&prep.template);
    runner.state.template = Some(Arc::clone(&prep.template));
    runner.journal.push(JournalEntry::Template {
        template: Arc::clone(&prep.template),
    });
    let (in_progress, complete, failed) = if existed {
        (
            Status::UpdateInProgress,
            Status::UpdateComplete,
            Status::UpdateFailed,
        )
    } else {
        (
            Status::CreateInProgress,
            Status::CreateComplete,
            Status::CreateFailed,
        )
    };
    runner.emit_stack(in_progress, None);

    let (nodes, queue) = runner.forward_nodes(prep)?;
    runner.install(Phase::Forward, nodes, queue)?;
    runner.run_phase().await?;
    let forward_failed = runner.phase_failed;

    let mut outputs = IndexMap::new();
    if !forward_failed && !runner.cancelled {
        // Resources that left the template, and old objects of replacements.
        // Only a record the state held before this run can have left the template (the
        // forward phase records only resources of the template).
        let removed: Vec<String> = if runner.initial_ids.is_empty() {
            Vec::new()
        } else {
            runner
                .state
                .resources
                .keys()
                .filter(|id| !prep.is_active(id))
                .cloned()
                .collect()
        };
        let deposed: Vec<String> = runner
            .state
            .resources
            .iter()
            .filter(|(id, r)| !r.deposed.is_empty() && prep.is_active(id))
            .map(|(id, _)| id.clone())
            .collect();
        if !removed.is_empty() || !deposed.is_empty() {
            let (nodes, deps) = runner.delete_nodes(&removed, &deposed)?;
            runner.install(Phase::Cleanup, nodes, DepQueue::new(&deps))?;
            runner.run_phase().await?;
        }
        outputs = runner.outputs(prep);
        let redacted = outputs
            .iter()
            .map(|(k, v)| (k.clone(), prep.params.redact(v, &runner.state.secret_salt)))
            .collect();
        runner.state.outputs = redacted;
        let stored = runner.state.outputs.clone();
        runner.journal.push(JournalEntry::Outputs {
            outputs: Box::new(stored),
        });
        outputs = outputs
            .into_iter()
            .map(|(k, v)| (k, redact_clear(&prep.params, v)))
            .collect();
    }

    let mut status = if runner.failures.is_empty() {
        complete
    } else {
        failed
    };
    if forward_failed
        && !runner.cancelled
        && engine.options.failure_policy == FailurePolicy::Rollback
    {
        // The rollback reports its own end.
        status = rollback(&mut runner).await?;
    } else if !runner.cancelled {
        runner.emit_stack(status, None);
    }
    runner.flush().await?;
    runner.state.updated = Utc::now();
    let report = runner.report(status, outputs);
    let mut state = std::mem::replace(&mut runner.state, StackState::new(""));
    drop(runner);
    state.bump_serial();
    engine.store.save_owned(state).await?;
    if report.cancelled {
        Err(EngineError::Cancelled(Box::new(report)))
    } else if !report.failures.is_empty() {
        Err(EngineError::Failed(Box::new(report)))
    } else {
        Ok(report)
    }
}

fn redact_clear(params: &ParamValues, value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(params.redact_text(&s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| redact_clear(params, v)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, redact_clear(params, v)))
                .collect(),
        ),
        other => other,
    }
}

/// The object a delete target names in a record, and its recorded properties.
fn target_of(rec: &ResourceState, target: &DeleteTarget) -> (Option<PhysicalId>, Arc<Properties>) {
    match target {
        DeleteTarget::Current { .. } => (rec.physical_id.clone(), rec.properties.clone()),
        DeleteTarget::Deposed(pid) => {
            let props = rec
                .deposed
                .iter()
                .find(|d| &d.physical_id == pid)
                .map(|d| d.properties.clone());
            (Some(pid.clone()), props.unwrap_or_default())
        }
    }
}

/// The steps that delete the old objects of a record's replacements, each after its
/// snapshot under `DeletionPolicy: Snapshot`.
fn deposed_steps(rec: &ResourceState) -> Steps {
    let mut steps = Steps::default();
    for d in &rec.deposed {
        let target = DeleteTarget::Deposed(d.physical_id.clone());
        if rec.deletion_policy == DeletionPolicy::Snapshot {
            steps.push_back(Step::Snapshot(target.clone()));
        }
        steps.push_back(Step::Delete(target));
    }
    steps
}

/// Deletes what this run created, in reverse dependency order; restores objects deposed by
/// replacements this run started. Objects this run created are deleted without a snapshot
/// whatever their `DeletionPolicy` (they hold nothing older than the failed apply); objects
/// this run adopted are forgotten, never deleted.
async fn rollback(runner: &mut Runner<'_>) -> Result<Status, EngineError> {
    runner.emit_stack(
        Status::RollbackInProgress,
        Some("a resource failed: deleting what this apply created".into()),
    );
    let restore: Vec<(Arc<str>, PhysicalId)> = runner
        .nodes
        .iter()
        .filter_map(|n| {
            let deposed = n.rare.as_deref()?.deposed_here.as_ref()?;
            Some((Arc::clone(&n.id), deposed.clone()))
        })
        .collect();
    let mut seen = HashSet::new();
    let created: Vec<String> = runner
        .created
        .iter()
        .filter(|id| seen.insert(Arc::clone(id)))
        .filter(|id| {
            runner
                .state
                .resources
                .get(&***id)
                .is_some_and(|r| r.physical_id.is_some())
        })
        .map(|id| id.to_string())
        .collect();
    // Deposed objects of this run are restored, not deleted: hide them from the delete nodes.
    let mut hidden = HashMap::new();
    for (id, _) in &restore {
        if let Some(rec) = runner.state.resources.get_mut(&**id) {
            hidden.insert(Arc::clone(id), std::mem::take(&mut rec.deposed));
        }
    }
    let (mut nodes, deps) = runner.delete_nodes(&created, &[])?;
    for node in &mut nodes {
        for step in node.steps.iter_mut() {
            if matches!(step, Step::Delete(DeleteTarget::Current { .. })) {
                *step = Step::Delete(DeleteTarget::Current { forget: false });
            }
        }
        node.steps
            .retain(|s| !matches!(s, Step::Forget | Step::Create | Step::Snapshot(_)));
        if node.steps.is_empty() {
            node.steps
                .push_back(Step::Delete(DeleteTarget::Current { forget: false }));
        }
    }
    let failures_before = runner.failures.len();
    runner.install(Phase::Rollback, nodes, DepQueue::new(&deps))?;
    runner.run_phase().await?;
    for (id, deposed) in hidden {
        if let Some(rec) = runner.state.resources.get_mut(&*id) {
            rec.deposed = deposed;
        }
    }
    for (id, old) in restore {
        let Some(rec) = runner.state.resources.get_mut(&*id) else {
            continue;
        };
        if rec.physical_id.is_none()
            && let Some(pos) = rec.deposed.iter().position(|d| d.physical_id == old)
        {
            let d = rec.deposed.remove(pos);
            rec.physical_id = Some(d.physical_id);
            rec.properties = d.properties;
            rec.phase = ResourcePhase::Ready;
            rec.failure = None;
        }
        runner.put(&id);
    }
    // Objects this run adopted for resources no earlier apply knew are forgotten.
    let adopted: Vec<Arc<str>> = std::mem::take(&mut runner.adopted)
        .into_iter()
        .filter(|id| !runner.initial_ids.contains(&**id))
        .collect();
    for id in adopted {
        let Some(rec) = runner.state.resources.get(&*id) else {
            continue;
        };
        let (type_name, physical_id) = (
            Arc::clone(&rec.type_name),
            rec.physical_id.as_ref().map(ToString::to_string),
        );
        runner.forget(&id);
        runner.emit_raw(
            id,
            type_name,
            physical_id,
            Status::DeleteSkipped,
            Some("adopted through ExternalId by the failed apply: forgotten, never deleted".into()),
        );
    }
    // Records of objects that rollback deleted and that no earlier apply knew are dropped.
    let dropped: Vec<String> = runner
        .state
        .resources
        .iter()
        .filter(|(id, r)| {
            r.physical_id.is_none()
                && r.deposed.is_empty()
                && r.pending.is_none()
                && !runner.initial_ids.contains(*id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in dropped {
        runner.forget(&id);
    }
    let rollback_failed = runner.failures.len() > failures_before;
    let status = if rollback_failed {
        Status::RollbackFailed
    } else {
        Status::RollbackComplete
    };
    let reason = if rollback_failed {
        Some(format!("left behind: {}", runner.left_behind.join(", ")))
    } else {
        None
    };
    runner.emit_stack(status, reason);
    Ok(status)
}

pub(crate) async fn destroy(
    engine: &EngineInner,
    state: StackState,
    options: RunOptions,
) -> Result<Report, EngineError> {
    let mut runner = Runner::new(engine, None, state, options);
    runner.emit_stack(Status::DeleteInProgress, None);
    let ids: Vec<String> = runner.state.resources.keys().cloned().collect();
    let (nodes, deps) = runner.delete_nodes(&ids, &[])?;
    runner.install(Phase::Destroy, nodes, DepQueue::new(&deps))?;
    runner.run_phase().await?;
    let status = if runner.failures.is_empty() && !runner.cancelled {
        Status::DeleteComplete
    } else {
        Status::DeleteFailed
    };
    if !runner.cancelled {
        runner.emit_stack(status, None);
    }
    runner.flush().await?;
    if status == Status::DeleteComplete && runner.state.resources.is_empty() {
        engine.store.remove(&runner.stack).await?;
    } else {
        runner.state.updated = Utc::now();
        runner.state.bump_serial();
        engine.store.save(&runner.state).await?;
    }
    let report = runner.report(status, IndexMap::new());
    if report.cancelled {
        Err(EngineError::Cancelled(Box::new(report)))
    } else if !report.failures.is_empty() {
        Err(EngineError::Failed(Box::new(report)))
    } else {
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn before_anything_is_learned_the_first_poll_is_at_the_hint_then_an_eighth_of_the_wait() {
        let poll = super::super::PollPolicy::default();
        assert_eq!(next_poll(Duration::ZERO, None, S(5_000), &poll), S(5_000));
        assert_eq!(next_poll(S(16_000), None, S(5_000), &poll), S(18_000));
        assert_eq!(
            next_poll(S(400), None, S(5_000), &poll),
            S(500),
            "never sooner than the policy's minimum interval"
        );
        assert_eq!(
            next_poll(S(200_000), None, S(5_000), &poll),
            S(210_000),
            "nor later than its maximum"
        );
    }

    #[test]
    fn a_learned_window_is_aimed_at_a_quarter_into_what_is_left_of_it() {
        let poll = super::super::PollPolicy::default();
        let w = Some(ReadyWindow {
            lo: S(28_000),
            hi: S(32_000),
        });
        // Not polled yet, or polled before the window: a quarter into the window.
        assert_eq!(next_poll(Duration::ZERO, w, S(5_000), &poll), S(29_000));
        assert_eq!(next_poll(S(10_000), w, S(5_000), &poll), S(29_000));
        // Inside it: a quarter into the rest.
        assert_eq!(next_poll(S(30_000), w, S(5_000), &poll), S(30_500));
        // Past it (this object is slower than the ones seen): back to the plain schedule.
        assert_eq!(next_poll(S(32_000), w, S(5_000), &poll), S(36_000));
    }

    #[test]
    fn observations_narrow_the_window_and_one_that_does_not_fit_widens_it() {
        let w = ReadyWindow::learn(None, S(28_000), S(36_000));
        assert_eq!(
            w,
            ReadyWindow {
                lo: S(28_000),
                hi: S(36_000)
            }
        );
        let w = ReadyWindow::learn(Some(w), S(29_000), S(31_000));
        assert_eq!(
            w,
            ReadyWindow {
                lo: S(29_000),
                hi: S(31_000)
            }
        );
        let mut narrowed = w;
        narrowed.pending_at(S(30_000));
        assert_eq!(narrowed.lo, S(30_000));
        narrowed.pending_at(S(40_000));
        assert_eq!(
            narrowed.lo,
            S(30_000),
            "a slower object does not move it past hi"
        );
        // An object still pending after the window's end: the types' objects differ.
        let w = ReadyWindow::learn(Some(w), S(33_000), S(35_000));
        assert_eq!(
            w,
            ReadyWindow {
                lo: S(29_000),
                hi: S(35_000)
            }
        );
    }
}
