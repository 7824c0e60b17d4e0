//! The pure parts of the report: a workload's dependency graph, its critical-path lower
//! bound, and a MODEL of Terraform's scheduler run in virtual time.
//!
//! The model follows `../shared/reference/engines.md`: `-parallelism` slots (10 by default),
//! a slot held for the whole create *including* the provider's wait loop, and per-resource
//! polling on the terraform-plugin-sdk `StateChangeConf` schedule (sleep `Delay`, refresh at
//! once, then `wait = 100 ms` doubled after each refresh that is not the target, replaced by
//! `PollInterval` when `0 < PollInterval < 180 s`, otherwise clamped to `[MinTimeout, 10 s]`).
//! It is a model, not Terraform: it leaves out graph building, refresh, state writes and the
//! provider's own reads after a create, which all make the real tool slower, never faster.
//!
//! ```
//! use std::time::Duration;
//! use iac_benches::model::StateChangeConf;
//!
//! // The alicloud ECS waiter polls at 10, 13, 19, 29, 39, 49, 59 and 69 s for an instance
//! // that is ready after 60 s: 8 DescribeInstances (reference table, "60 s" column).
//! let waited = StateChangeConf::ALICLOUD_ECS.wait(Duration::ZERO, Duration::from_secs(60), Duration::ZERO);
//! assert_eq!(waited.refreshes, 8);
//! assert_eq!(waited.done, Duration::from_secs(69));
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::time::Duration;

use iac_core::graph::DepGraph;
use iac_core::model::Template;

/// A workload as the report sees it: resources in template order, their types and the
/// indices each depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Logical ids, in template order.
    pub ids: Vec<String>,
    /// Resource type of each id.
    pub types: Vec<String>,
    /// Per resource, the indices of the resources it depends on.
    pub deps: Vec<Vec<usize>>,
}

/// A workload whose dependencies cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The template's graph does not build (a cycle or a missing reference).
    Graph(String),
    /// Resource `node` depends on `dep`, which is not a resource index.
    UnknownDependency {
        /// The resource.
        node: usize,
        /// The bad index.
        dep: usize,
    },
    /// These resources wait on each other.
    Cycle(Vec<usize>),
    /// `parallelism` was 0.
    NoSlots,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Graph(e) => write!(f, "the template's graph does not build: {e}"),
            ModelError::UnknownDependency { node, dep } => {
                write!(f, "resource {node} depends on {dep}, which is no resource")
            }
            ModelError::Cycle(nodes) => write!(f, "resources {nodes:?} wait on each other"),
            ModelError::NoSlots => write!(f, "a scheduler with 0 slots never starts anything"),
        }
    }
}

impl std::error::Error for ModelError {}

impl Workload {
    /// The workload of `template`: its resources and every edge the engine's graph sees
    /// (`Ref`, `Fn::GetAtt`, `${Res.Attr}`, `DependsOn`).
    pub fn from_template(template: &Template) -> Result<Workload, ModelError> {
        let graph =
            DepGraph::from_template(template).map_err(|e| ModelError::Graph(e.to_string()))?;
        let ids: Vec<String> = graph.ids().iter().map(ToString::to_string).collect();
        let types = ids
            .iter()
            .map(|id| template.resources[id].type_name.clone())
            .collect();
        let deps = (0..ids.len())
            .map(|n| graph.dependencies(n).to_vec())
            .collect();
        Ok(Workload { ids, types, deps })
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// True when there are no resources.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Resource indices with every resource after its dependencies (Kahn, lowest index first).
    pub fn topological_order(&self) -> Result<Vec<usize>, ModelError> {
        topological_order(&self.deps)
    }

    /// The number of resources on the longest dependency chain.
    pub fn depth(&self) -> Result<usize, ModelError> {
        let levels = longest_paths(&self.deps, |_| 1u64)?;
        Ok(levels.into_iter().max().unwrap_or(0) as usize)
    }

    /// The critical-path lower bound: the largest sum of `cost` along a dependency chain.
    /// With unlimited parallelism and no overhead, no engine can finish sooner.
    pub fn critical_path(&self, cost: impl Fn(usize) -> Duration) -> Result<Duration, ModelError> {
        critical_path(&self.deps, cost)
    }
}

/// Resource indices with every resource after its dependencies; among the resources
/// available at each step the lowest index goes first.
pub fn topological_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, ModelError> {
    let n = deps.len();
    let mut missing = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (node, ds) in deps.iter().enumerate() {
        for &dep in ds {
            if dep >= n {
                return Err(ModelError::UnknownDependency { node, dep });
            }
            missing[node] += 1;
            dependents[dep].push(node);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| missing[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for &d in &dependents[node] {
            missing[d] -= 1;
            if missing[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    if order.len() < n {
        return Err(ModelError::Cycle(
            (0..n).filter(|&i| missing[i] > 0).collect(),
        ));
    }
    Ok(order)
}

/// Per resource, the largest sum of `cost` along a chain that ends at it (itself included).
fn longest_paths(deps: &[Vec<usize>], cost: impl Fn(usize) -> u64) -> Result<Vec<u64>, ModelError> {
    let mut total = vec![0u64; deps.len()];
    for node in topological_order(deps)? {
        let before = deps[node].iter().map(|&d| total[d]).max().unwrap_or(0);
        total[node] = before + cost(node);
    }
    Ok(total)
}

/// The critical-path lower bound of a graph given per resource: the largest sum of `cost`
/// along a dependency chain.
pub fn critical_path(
    deps: &[Vec<usize>],
    cost: impl Fn(usize) -> Duration,
) -> Result<Duration, ModelError> {
    let nanos = longest_paths(deps, |n| cost(n).as_nanos() as u64)?;
    Ok(Duration::from_nanos(nanos.into_iter().max().unwrap_or(0)))
}

/// The settings of one terraform-plugin-sdk `StateChangeConf` waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChangeConf {
    /// Sleep before the first refresh.
    pub delay: Duration,
    /// Lower clamp of the backoff between refreshes.
    pub min_timeout: Duration,
    /// A fixed interval between refreshes when in `(0, 180 s)`; zero: backoff.
    pub poll_interval: Duration,
}

/// When a waiter saw its target, and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    /// When the last refresh returned (the waiter ends).
    pub done: Duration,
    /// Refresh calls made.
    pub refreshes: u32,
}

impl StateChangeConf {
    /// terraform-plugin-sdk defaults: no delay, no minimum, backoff from 100 ms.
    pub const SDK_DEFAULT: StateChangeConf = StateChangeConf {
        delay: Duration::ZERO,
        min_timeout: Duration::ZERO,
        poll_interval: Duration::ZERO,
    };

    /// alicloud ECS instance create (`resource_alicloud_instance.go:1289`): `Delay` 10 s,
    /// `MinTimeout` 3 s (fixed by `BuildStateConf`, `common.go:1030-1039`).
    pub const ALICLOUD_ECS: StateChangeConf = StateChangeConf {
        delay: Duration::from_secs(10),
        min_timeout: Duration::from_secs(3),
        poll_interval: Duration::ZERO,
    };

    /// Any other alicloud waiter: `MinTimeout` 3 s from `BuildStateConf`; the reference gives
    /// no `Delay` for them, so none is assumed (which favours Terraform).
    pub const ALICLOUD_OTHER: StateChangeConf = StateChangeConf {
        delay: Duration::ZERO,
        min_timeout: Duration::from_secs(3),
        poll_interval: Duration::ZERO,
    };

    /// Runs the waiter from `start` for an object that is ready from `ready_at` on, each
    /// refresh taking `latency` and observing the object as it is when sent.
    pub fn wait(&self, start: Duration, ready_at: Duration, latency: Duration) -> Waited {
        let mut t = start + self.delay;
        let mut wait = Duration::from_millis(100);
        let mut refreshes = 0;
        loop {
            refreshes += 1;
            let ready = t >= ready_at;
            t += latency;
            if ready {
                return Waited { done: t, refreshes };
            }
            wait = self.next_wait(wait);
            t += wait;
        }
    }

    /// The sleep after a refresh that did not see the target, given the previous one (the
    /// loop starts from 100 ms): doubled, then replaced by `PollInterval` when that is in
    /// `(0, 180 s)`, otherwise clamped to `[MinTimeout, 10 s]`.
    pub fn next_wait(&self, wait: Duration) -> Duration {
        const CEILING: Duration = Duration::from_secs(10);
        const FIXED_BELOW: Duration = Duration::from_secs(180);
        let wait = wait * 2;
        if !self.poll_interval.is_zero() && self.poll_interval < FIXED_BELOW {
            self.poll_interval
        } else if wait < self.min_timeout {
            self.min_timeout
        } else if wait > CEILING {
            CEILING
        } else {
            wait
        }
    }
}

/// One resource as the Terraform model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelResource {
    /// Indices of the resources it depends on.
    pub deps: Vec<usize>,
    /// How long after its create call is received the object is ready.
    pub ready_after: Duration,
    /// The provider's waiter, or `None` when the create returns at once.
    pub waiter: Option<StateChangeConf>,
}

/// The Terraform scheduler model: `parallelism` slots, one create call per resource, the
/// slot held through the waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerraformModel {
    /// `-parallelism` (Terraform's default is 10).
    pub parallelism: usize,
    /// Every call's round trip.
    pub latency: Duration,
}

/// What the model did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// When the last resource finished.
    pub wall: Duration,
    /// Per resource, its create call plus its refreshes.
    pub calls: Vec<u32>,
    /// Per resource, when it took its slot.
    pub start: Vec<Duration>,
    /// Per resource, when it gave its slot back.
    pub finish: Vec<Duration>,
}

impl Schedule {
    /// Every call the model made.
    pub fn total_calls(&self) -> u64 {
        self.calls.iter().map(|&c| u64::from(c)).sum()
    }
}

impl TerraformModel {
    /// Terraform's default: 10 slots.
    pub fn new(latency: Duration) -> Self {
        TerraformModel {
            parallelism: 10,
            latency,
        }
    }

    /// Schedules `resources`. A resource is eligible when all its dependencies finished;
    /// eligible resources take free slots first come first served (Go's semaphore channel
    /// queues blocked senders in order), ties by index.
    pub fn run(&self, resources: &[ModelResource]) -> Result<Schedule, ModelError> {
        if self.parallelism == 0 {
            return Err(ModelError::NoSlots);
        }
        let deps: Vec<Vec<usize>> = resources.iter().map(|r| r.deps.clone()).collect();
        topological_order(&deps)?; // validates indices and acyclicity
        let n = resources.len();
        let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (node, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(node);
            }
        }
        let mut eligible: VecDeque<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
        let mut running: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::new();
        let mut start = vec![Duration::ZERO; n];
        let mut finish = vec![Duration::ZERO; n];
        let mut calls = vec![0u32; n];
        let mut now = Duration::ZERO;
        loop {
            while running.len() < self.parallelism {
                let Some(node) = eligible.pop_front() else {
                    break;
                };
                let r = &resources[node];
                start[node] = now;
                calls[node] = 1; // the create call
                let created = now + self.latency;
                let done = match r.waiter {
                    Some(conf) => {
                        let waited = conf.wait(created, now + r.ready_after, self.latency);
                        calls[node] += waited.refreshes;
                        waited.done
                    }
                    None => created,
                };
                finish[node] = done;
                running.push(Reverse((done, node)));
            }
            let Some(Reverse((t, _))) = running.peek().copied() else {
                break;
            };
            now = t;
            let mut freed = Vec::new();
            while let Some(Reverse((t, node))) = running.peek().copied() {
                if t != now {
                    break;
                }
                running.pop();
                freed.push(node);
            }
            let mut newly = Vec::new();
            for node in freed {
                for &d in &dependents[node] {
                    missing[d] -= 1;
                    if missing[d] == 0 {
                        newly.push(d);
                    }
                }
            }
            newly.sort_unstable();
            eligible.extend(newly);
        }
        let wall = finish.iter().copied().max().unwrap_or(Duration::ZERO);
        Ok(Schedule {
            wall,
            calls,
            start,
            finish,
        })
    }
}
