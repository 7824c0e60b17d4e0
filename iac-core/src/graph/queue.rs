//! A pure dependency queue, in the manner of cargo's job queue: it knows which nodes may
//! start, and nothing about time, tasks or I/O. The engine pops ready nodes, runs them, and
//! tells the queue how each one ended.
//!
//! Nodes are `usize` indices (`0..len`); storage is flat vectors, so every operation costs
//! time in proportion to the edges it touches.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use thiserror::Error;

use crate::provider::ErrorKind;

/// Where a node of a [`DepQueue`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// Some dependency has not finished yet.
    Waiting,
    /// Every dependency finished; the node can be popped.
    Ready,
    /// Popped and not yet finished or failed.
    Running,
    /// Finished successfully.
    Finished,
    /// Failed.
    Failed,
    /// Will never run: a dependency failed, or the queue was cancelled.
    Skipped,
}

impl NodeState {
    fn name(&self) -> &'static str {
        match self {
            NodeState::Waiting => "waiting",
            NodeState::Ready => "ready",
            NodeState::Running => "running",
            NodeState::Finished => "finished",
            NodeState::Failed => "failed",
            NodeState::Skipped => "skipped",
        }
    }
}

/// A misuse of a [`DepQueue`]: a bad construction or a transition that is not allowed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A dependency list names a node outside `0..len`.
    #[error("node {node} depends on node {dependency}, but the queue has only {len} nodes")]
    UnknownNode {
        /// The node whose dependency list is wrong.
        node: usize,
        /// The index it names.
        dependency: usize,
        /// How many nodes there are.
        len: usize,
    },
    /// The dependencies form a cycle, so the listed nodes could never become ready.
    #[error("the dependencies form a cycle: nodes {nodes:?} can never become ready")]
    Cycle {
        /// The nodes that are on or behind a cycle, in index order.
        nodes: Vec<usize>,
    },
    /// The priority list does not have one entry per node.
    #[error("{got} priorities given for {expected} nodes")]
    PriorityCount {
        /// The number of nodes.
        expected: usize,
        /// The number of priorities given.
        got: usize,
    },
    /// `finish` or `fail` was called for a node that is not in a state that allows it.
    #[error("cannot {action} node {node}: it is {}", state.name())]
    BadTransition {
        /// What was asked (`finish`, `fail`).
        action: &'static str,
        /// The node.
        node: usize,
        /// The node's state at the time.
        state: NodeState,
    },
    /// A node index outside `0..len` was passed to `finish`, `fail` or `state`.
    #[error("node {node} does not exist (the queue has {len} nodes)")]
    NoSuchNode {
        /// The index given.
        node: usize,
        /// How many nodes there are.
        len: usize,
    },
}

impl QueueError {
    /// Always [`ErrorKind::Invalid`]: a queue error is a bug in the caller.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// One ready node in the heap: higher priority first, then lower index first.
#[derive(Debug, Clone, Copy)]
struct ReadyEntry {
    priority: f64,
    node: usize,
}

impl Ord for ReadyEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .total_cmp(&other.priority)
            .then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for ReadyEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ReadyEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ReadyEntry {}

/// A dependency queue over nodes `0..len`.
///
/// Ready nodes come out of [`pop_ready`](Self::pop_ready) highest priority first, ties by
/// lowest index (with no priorities: in index order). [`finish`](Self::finish) releases
/// dependents whose dependencies are all finished; [`fail`](Self::fail) skips every
/// transitive dependent, which then never becomes ready. The queue never decides to stop on
/// its own: independent branches go on after a failure unless the caller
/// [`cancel`](Self::cancel)s.
///
/// ```
/// use iac_core::graph::DepQueue;
///
/// // 0 <- 1 <- 3, 0 <- 2 <- 3 (a diamond: 3 depends on 1 and 2, which depend on 0)
/// let mut q = DepQueue::new(&[vec![], vec![0], vec![0], vec![1, 2]]).unwrap();
/// assert_eq!(q.pop_ready(), Some(0));
/// assert_eq!(q.pop_ready(), None);
/// assert_eq!(q.finish(0).unwrap(), vec![1, 2]);
/// assert_eq!(q.pop_ready(), Some(1));
/// assert_eq!(q.fail(1).unwrap(), vec![3]);
/// assert_eq!(q.pop_ready(), Some(2));
/// assert_eq!(q.finish(2).unwrap(), Vec::<usize>::new());
/// assert!(q.is_done());
/// ```
#[derive(Debug, Clone)]
pub struct DepQueue {
    /// Dependents of node `i`: `dependents[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    dependents: Vec<usize>,
    /// How many dependencies of each node have not finished.
    remaining: Vec<u32>,
    state: Vec<NodeState>,
    priority: Vec<f64>,
    ready: BinaryHeap<ReadyEntry>,
    counts: Counts,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    waiting: usize,
    ready: usize,
    running: usize,
    finished: usize,
    failed: usize,
    skipped: usize,
}

impl Counts {
    fn slot(&mut self, state: NodeState) -> &mut usize {
        match state {
            NodeState::Waiting => &mut self.waiting,
            NodeState::Ready => &mut self.ready,
            NodeState::Running => &mut self.running,
            NodeState::Finished => &mut self.finished,
            NodeState::Failed => &mut self.failed,
            NodeState::Skipped => &mut self.skipped,
        }
    }
}

impl DepQueue {
    /// A queue where node `i` waits for every node in `dependencies[i]`.
    ///
    /// Duplicate entries are allowed. Fails when an entry is out of range or the
    /// dependencies form a cycle (the queue could never drain).
    pub fn new(dependencies: &[Vec<usize>]) -> Result<Self, QueueError> {
        let len = dependencies.len();
        let mut unique = Vec::with_capacity(len);
        for (node, deps) in dependencies.iter().enumerate() {
            if let Some(&dependency) = deps.iter().find(|&&d| d >= len) {
                return Err(QueueError::UnknownNode {
                    node,
                    dependency,
                    len,
                });
            }
            let mut deps = deps.clone();
            deps.sort_unstable();
            deps.dedup();
            unique.push(deps);
        }
        let queue = Self::from_unique_dependencies(len, |i| &unique[i]);
        // Kahn's algorithm on the counts: every node must be reachable from the roots.
        let mut remaining = queue.remaining.clone();
        let mut stack: Vec<usize> = (0..len).filter(|&i| remaining[i] == 0).collect();
        let mut seen = 0;
        while let Some(node) = stack.pop() {
            seen += 1;
            for &d in queue.dependents_of(node) {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    stack.push(d);
                }
            }
        }
        if seen != len {
            let nodes = (0..len).filter(|&i| remaining[i] > 0).collect();
            return Err(QueueError::Cycle { nodes });
        }
        Ok(queue)
    }

    /// Like [`new`](Self::new), with one priority per node: a higher priority is popped
    /// first (for example the remaining critical path from
    /// [`DepGraph::remaining_paths`](super::DepGraph::remaining_paths)).
    pub fn with_priorities(
        dependencies: &[Vec<usize>],
        priorities: Vec<f64>,
    ) -> Result<Self, QueueError> {
        let queue = Self::new(dependencies)?;
        queue.prioritized(priorities)
    }

    /// Replaces the priorities of a queue that has not started (nothing popped yet).
    pub(crate) fn prioritized(mut self, priorities: Vec<f64>) -> Result<Self, QueueError> {
        if priorities.len() != self.len() {
            return Err(QueueError::PriorityCount {
                expected: self.len(),
                got: priorities.len(),
            });
        }
        self.priority = priorities;
        let priority = &self.priority;
        self.ready = self
            .ready
            .drain()
            .map(|e| ReadyEntry {
                priority: priority[e.node],
                node: e.node,
            })
            .collect();
        Ok(self)
    }

    /// Builds a queue from per-node dependency lists known to be in range, free of
    /// duplicates and acyclic. Counting sort: O(nodes + edges).
    pub(crate) fn from_unique_dependencies<'a>(
        len: usize,
        dependencies: impl Fn(usize) -> &'a [usize],
    ) -> Self {
        let mut offsets = vec![0usize; len + 1];
        let mut remaining = vec![0u32; len];
        for (node, count) in remaining.iter_mut().enumerate() {
            let deps = dependencies(node);
            *count = u32::try_from(deps.len()).unwrap_or(u32::MAX);
            for &dep in deps {
                offsets[dep + 1] += 1;
            }
        }
        for i in 0..len {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut dependents = vec![0usize; offsets[len]];
        // Nodes are visited in index order, so each dependents list comes out sorted.
        for node in 0..len {
            for &dep in dependencies(node) {
                dependents[fill[dep]] = node;
                fill[dep] += 1;
            }
        }
        let mut queue = DepQueue {
            offsets,
            dependents,
            remaining,
            state: vec![NodeState::Waiting; len],
            priority: vec![0.0; len],
            ready: BinaryHeap::new(),
            counts: Counts {
                waiting: len,
                ..Counts::default()
            },
        };
        for node in 0..len {
            if queue.remaining[node] == 0 {
                queue.make_ready(node);
            }
        }
        queue
    }

    pub(crate) fn dependents_of(&self, node: usize) -> &[usize] {
        &self.dependents[self.offsets[node]..self.offsets[node + 1]]
    }

    fn set_state(&mut self, node: usize, state: NodeState) {
        *self.counts.slot(self.state[node]) -= 1;
        *self.counts.slot(state) += 1;
        self.state[node] = state;
    }

    fn make_ready(&mut self, node: usize) {
        self.set_state(node, NodeState::Ready);
        self.ready.push(ReadyEntry {
            priority: self.priority[node],
            node,
        });
    }

    fn check(&self, node: usize) -> Result<NodeState, QueueError> {
        self.state.get(node).copied().ok_or(QueueError::NoSuchNode {
            node,
            len: self.len(),
        })
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// True when the queue has no nodes.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// The state of `node`.
    pub fn state(&self, node: usize) -> Result<NodeState, QueueError> {
        self.check(node)
    }

    /// Takes the next ready node (highest priority, then lowest index) and marks it
    /// running. `None` when nothing is ready now (which does not mean the queue is done).
    pub fn pop_ready(&mut self) -> Option<usize> {
        while let Some(entry) = self.ready.pop() {
            // Entries of nodes failed or cancelled while ready are dropped here.
            if self.state[entry.node] == NodeState::Ready {
                self.set_state(entry.node, NodeState::Running);
                return Some(entry.node);
            }
        }
        None
    }

    /// Marks a running node finished and returns the dependents that became ready, in
    /// index order.
    pub fn finish(&mut self, node: usize) -> Result<Vec<usize>, QueueError> {
        let state = self.check(node)?;
        if state != NodeState::Running {
            return Err(QueueError::BadTransition {
                action: "finish",
                node,
                state,
            });
        }
        self.set_state(node, NodeState::Finished);
        let mut newly = Vec::new();
        for i in self.offsets[node]..self.offsets[node + 1] {
            let dependent = self.dependents[i];
            self.remaining[dependent] -= 1;
            if self.remaining[dependent] == 0 && self.state[dependent] == NodeState::Waiting {
                newly.push(dependent);
            }
        }
        for &dependent in &newly {
            self.make_ready(dependent);
        }
        Ok(newly)
    }

    /// Marks a running (or ready, not yet popped) node failed and returns every transitive
    /// dependent this skips, in index order. Dependents already skipped by an earlier failure
    /// are not returned again.
    pub fn fail(&mut self, node: usize) -> Result<Vec<usize>, QueueError> {
        let state = self.check(node)?;
        if !matches!(state, NodeState::Running | NodeState::Ready) {
            return Err(QueueError::BadTransition {
                action: "fail",
                node,
                state,
            });
        }
        self.set_state(node, NodeState::Failed);
        let mut skipped = Vec::new();
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            for i in self.offsets[current]..self.offsets[current + 1] {
                let dependent = self.dependents[i];
                // A dependent of an unfinished node can only be waiting or already skipped.
                if self.state[dependent] == NodeState::Waiting {
                    self.set_state(dependent, NodeState::Skipped);
                    skipped.push(dependent);
                    stack.push(dependent);
                }
            }
        }
        skipped.sort_unstable();
        Ok(skipped)
    }

    /// Skips every node that has not started (waiting or ready) and returns them in index
    /// order; running nodes are left to finish or fail.
    pub fn cancel(&mut self) -> Vec<usize> {
        let mut skipped = Vec::new();
        for node in 0..self.len() {
            if matches!(self.state[node], NodeState::Waiting | NodeState::Ready) {
                self.set_state(node, NodeState::Skipped);
                skipped.push(node);
            }
        }
        self.ready.clear();
        skipped
    }

    /// True when no node is waiting, ready or running.
    pub fn is_done(&self) -> bool {
        self.counts.waiting + self.counts.ready + self.counts.running == 0
    }

    /// Nodes not yet started: waiting for dependencies or ready.
    pub fn pending_count(&self) -> usize {
        self.counts.waiting + self.counts.ready
    }

    /// Nodes that can be popped now.
    pub fn ready_count(&self) -> usize {
        self.counts.ready
    }

    /// Nodes popped and not yet finished or failed.
    pub fn running_count(&self) -> usize {
        self.counts.running
    }

    /// Nodes finished successfully.
    pub fn finished_count(&self) -> usize {
        self.counts.finished
    }

    /// Nodes that failed.
    pub fn failed_count(&self) -> usize {
        self.counts.failed
    }

    /// Nodes skipped because a dependency failed or the queue was cancelled.
    pub fn skipped_count(&self) -> usize {
        self.counts.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain_all(q: &mut DepQueue) -> Vec<usize> {
        let mut order = Vec::new();
        while let Some(n) = q.pop_ready() {
            order.push(n);
            q.finish(n).unwrap();
        }
        order
    }

    #[test]
    fn chain_runs_in_order_one_at_a_time() {
        let mut q = DepQueue::new(&[vec![], vec![0], vec![1], vec![2]]).unwrap();
        for n in 0..4 {
            assert_eq!(q.ready_count(), 1);
            assert_eq!(q.pop_ready(), Some(n));
            assert_eq!(q.pop_ready(), None);
            assert_eq!(q.running_count(), 1);
            let newly = q.finish(n).unwrap();
            assert_eq!(newly, if n < 3 { vec![n + 1] } else { vec![] });
        }
        assert!(q.is_done());
        assert_eq!(q.finished_count(), 4);
    }

    #[test]
    fn diamond_waits_for_both_sides() {
        let mut q = DepQueue::new(&[vec![], vec![0], vec![0], vec![1, 2]]).unwrap();
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.finish(0).unwrap(), vec![1, 2]);
        assert_eq!(q.pop_ready(), Some(1));
        assert_eq!(q.pop_ready(), Some(2));
        assert_eq!(q.finish(2).unwrap(), Vec::<usize>::new());
        assert_eq!(q.state(3).unwrap(), NodeState::Waiting);
        assert_eq!(q.finish(1).unwrap(), vec![3]);
        assert_eq!(q.pop_ready(), Some(3));
        q.finish(3).unwrap();
        assert!(q.is_done());
    }

    #[test]
    fn independent_branches_go_on_after_a_failure() {
        // 0 <- 1 <- 2 and 3 <- 4: failing 0 skips 1 and 2, not 3 or 4.
        let mut q = DepQueue::new(&[vec![], vec![0], vec![1], vec![], vec![3]]).unwrap();
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.pop_ready(), Some(3));
        assert_eq!(q.fail(0).unwrap(), vec![1, 2]);
        assert_eq!(q.skipped_count(), 2);
        assert!(!q.is_done());
        assert_eq!(q.finish(3).unwrap(), vec![4]);
        assert_eq!(q.pop_ready(), Some(4));
        q.finish(4).unwrap();
        assert!(q.is_done());
        assert_eq!(
            (q.finished_count(), q.failed_count(), q.skipped_count()),
            (2, 1, 2)
        );
    }

    #[test]
    fn a_second_failure_does_not_report_skipped_nodes_again() {
        // 2 depends on 0 and 1; 3 depends on 2 and 1.
        let mut q = DepQueue::new(&[vec![], vec![], vec![0, 1], vec![2, 1]]).unwrap();
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.pop_ready(), Some(1));
        assert_eq!(q.fail(0).unwrap(), vec![2, 3]);
        assert_eq!(q.fail(1).unwrap(), Vec::<usize>::new());
        assert!(q.is_done());
    }

    #[test]
    fn failing_a_ready_node_drops_it_from_the_heap() {
        let mut q = DepQueue::new(&[vec![], vec![], vec![1]]).unwrap();
        assert_eq!(q.fail(1).unwrap(), vec![2]);
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.pop_ready(), None);
        q.finish(0).unwrap();
        assert!(q.is_done());
    }

    #[test]
    fn priorities_order_ready_nodes_then_index() {
        let deps = vec![vec![]; 4];
        let mut q = DepQueue::with_priorities(&deps, vec![1.0, 5.0, 1.0, 5.0]).unwrap();
        assert_eq!(drain_all(&mut q), vec![1, 3, 0, 2]);
        assert_eq!(
            DepQueue::with_priorities(&deps, vec![1.0]).unwrap_err(),
            QueueError::PriorityCount {
                expected: 4,
                got: 1
            }
        );
    }

    #[test]
    fn cancel_skips_everything_not_started() {
        let mut q = DepQueue::new(&[vec![], vec![], vec![0]]).unwrap();
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.cancel(), vec![1, 2]);
        assert_eq!(q.pop_ready(), None);
        assert!(!q.is_done());
        assert_eq!(q.finish(0).unwrap(), Vec::<usize>::new());
        assert!(q.is_done());
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut q = DepQueue::new(&[vec![], vec![0]]).unwrap();
        assert_eq!(
            q.finish(1).unwrap_err().to_string(),
            "cannot finish node 1: it is waiting"
        );
        assert_eq!(
            q.finish(7).unwrap_err(),
            QueueError::NoSuchNode { node: 7, len: 2 }
        );
        assert_eq!(q.fail(1).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(
            DepQueue::new(&[vec![3]]).unwrap_err(),
            QueueError::UnknownNode {
                node: 0,
                dependency: 3,
                len: 1
            }
        );
        assert_eq!(
            DepQueue::new(&[vec![], vec![2], vec![1], vec![2]]).unwrap_err(),
            QueueError::Cycle {
                nodes: vec![1, 2, 3]
            }
        );
    }

    #[test]
    fn duplicate_dependencies_count_once() {
        let mut q = DepQueue::new(&[vec![], vec![0, 0, 0]]).unwrap();
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.finish(0).unwrap(), vec![1]);
        assert_eq!(drain_all(&mut q), vec![1]);
        assert!(q.is_done());
        assert!(DepQueue::new(&[]).unwrap().is_done());
    }

    /// A random DAG: node `i` depends only on nodes below `i`.
    pub(crate) fn dag(max_nodes: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1..max_nodes).prop_flat_map(|n| {
            (0..n)
                .map(|i| {
                    if i == 0 {
                        Just(Vec::new()).boxed()
                    } else {
                        proptest::collection::vec(0..i, 0..4.min(i + 1)).boxed()
                    }
                })
                .collect::<Vec<_>>()
        })
    }

    fn transitive_dependents(deps: &[Vec<usize>], root: usize) -> Vec<usize> {
        let mut out: Vec<usize> = (0..deps.len())
            .filter(|&i| {
                // i reaches root through its dependencies?
                let mut stack = deps[i].clone();
                let mut seen = vec![false; deps.len()];
                while let Some(n) = stack.pop() {
                    if n == root {
                        return true;
                    }
                    if !seen[n] {
                        seen[n] = true;
                        stack.extend(deps[n].iter().copied());
                    }
                }
                false
            })
            .collect();
        out.sort_unstable();
        out
    }

    proptest! {
        #[test]
        fn every_node_runs_once_after_its_dependencies(
            deps in dag(40),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..200),
        ) {
            let mut q = DepQueue::new(&deps).unwrap();
            let mut finished = vec![false; deps.len()];
            let mut running: Vec<usize> = Vec::new();
            let mut runs = vec![0; deps.len()];
            let mut picks = picks.into_iter();
            // Interleave pops and finishes in a random but reproducible way.
            while !q.is_done() {
                while let Some(n) = q.pop_ready() {
                    prop_assert!(deps[n].iter().all(|&d| finished[d]));
                    runs[n] += 1;
                    running.push(n);
                }
                prop_assert!(!running.is_empty(), "nothing ready or running, yet not done");
                let at = picks.next().map_or(0, |p| p.index(running.len()));
                let n = running.swap_remove(at);
                for newly in q.finish(n).unwrap() {
                    prop_assert!(deps[newly].iter().all(|&d| finished[d] || d == n));
                }
                finished[n] = true;
            }
            prop_assert!(runs.iter().all(|&r| r == 1));
        }

        #[test]
        fn a_failure_skips_exactly_its_transitive_dependents(
            deps in dag(40),
            victim in any::<prop::sample::Index>(),
        ) {
            let victim = victim.index(deps.len());
            let mut q = DepQueue::new(&deps).unwrap();
            let mut ran = Vec::new();
            let mut skipped = Vec::new();
            while let Some(n) = q.pop_ready() {
                if n == victim {
                    skipped = q.fail(n).unwrap();
                } else {
                    ran.push(n);
                    q.finish(n).unwrap();
                }
            }
            prop_assert!(q.is_done());
            let expected = transitive_dependents(&deps, victim);
            prop_assert_eq!(&skipped, &expected);
            prop_assert_eq!(ran.len() + 1 + skipped.len(), deps.len());
            prop_assert!(ran.iter().all(|n| !expected.contains(n)));
        }
    }
}
