//! The dependency graph of a template's resources, and the pure queue the engine drives.
//!
//! A resource depends on every resource its properties reference (`Ref`, `Fn::GetAtt`,
//! `Fn::Sub` variables) and on every resource in its `DependsOn`. Conditions cannot
//! reference resources, so they add no edges. Nodes are logical ids in template order;
//! storage is index based (compressed adjacency lists), so building the graph and every
//! traversal cost O(nodes + edges), which matters for graphs of 100,000 resources.
//!
//! ```
//! use iac_core::graph::DepGraph;
//! use iac_core::model::{ResourceSpec, Template};
//! use iac_core::Expr;
//!
//! let mut t = Template::default();
//! t.resources.insert("Vpc".into(), ResourceSpec::new("ALIYUN::ECS::VPC"));
//! let mut vsw = ResourceSpec::new("ALIYUN::ECS::VSwitch");
//! vsw.properties.insert("VpcId".into(), Expr::reference("Vpc"));
//! t.resources.insert("VSwitch".into(), vsw);
//!
//! let graph = DepGraph::from_template(&t).unwrap();
//! assert_eq!(graph.topological_order(), vec!["Vpc", "VSwitch"]);
//! ```

mod queue;
mod refs;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::model::Template;
use crate::provider::ErrorKind;

pub use queue::{DepQueue, NodeState, QueueError};
pub(crate) use refs::{Found, Seg, join_key, push_key, render_path, walk, walk_map};
pub use refs::{RefKind, Reference, map_references_at, references, references_at};

/// A dependency cycle: logical ids, starting and ending at the cycle's first id in template
/// order. Displays as `A -> B -> C -> A`, where each id depends on the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" -> "))
    }
}

/// A reference that must name a resource and does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingReference {
    /// JSON path where the reference stands (`Resources.Vm.Properties.VSwitchId`).
    pub path: String,
    /// Logical id of the resource (or output name) that holds the reference.
    pub from: String,
    /// How the reference is written (`DependsOn` is reported as [`RefKind::Ref`] with a
    /// path ending in `DependsOn`).
    pub kind: RefKind,
    /// The name that does not exist.
    pub name: String,
}

impl fmt::Display for MissingReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.path.ends_with("DependsOn") {
            "DependsOn"
        } else {
            self.kind.as_str()
        };
        write!(
            f,
            "{}: {what} names unknown resource '{}'",
            self.path, self.name
        )
    }
}

/// Why a template's resources do not form a usable graph.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GraphError {
    /// References that must name a resource and do not, and dependency cycles. Both lists
    /// are complete: every problem is reported, not just the first.
    #[error("{}", render_problems(missing, cycles))]
    Invalid {
        /// `Fn::GetAtt`, `${Res.Attr}` and `DependsOn` entries naming no resource.
        missing: Vec<MissingReference>,
        /// Every dependency cycle (one per strongly connected group of resources).
        cycles: Vec<Cycle>,
    },
}

impl GraphError {
    /// Always [`ErrorKind::Invalid`]: the template has to change.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    /// The cycles found (empty when the only problems are missing references).
    pub fn cycles(&self) -> &[Cycle] {
        match self {
            GraphError::Invalid { cycles, .. } => cycles,
        }
    }

    /// The references that name no resource.
    pub fn missing(&self) -> &[MissingReference] {
        match self {
            GraphError::Invalid { missing, .. } => missing,
        }
    }
}

fn render_problems(missing: &[MissingReference], cycles: &[Cycle]) -> String {
    let mut lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
    lines.extend(cycles.iter().map(|c| format!("dependency cycle {c}")));
    lines.join("\n")
}

/// Compressed adjacency lists: the neighbours of node `i` are
/// `targets[offsets[i]..offsets[i + 1]]`, each list sorted by index.
#[derive(Debug, Clone, Default)]
struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<usize>,
}

impl Adjacency {
    fn of(&self, node: usize) -> &[usize] {
        &self.targets[self.offsets[node]..self.offsets[node + 1]]
    }

    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The same edges turned around, built by counting sort in O(nodes + edges).
    fn reversed(&self) -> Adjacency {
        let n = self.len();
        let mut offsets = vec![0usize; n + 1];
        for &t in &self.targets {
            offsets[t + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0usize; self.targets.len()];
        for node in 0..n {
            for &t in self.of(node) {
                targets[fill[t]] = node;
                fill[t] += 1;
            }
        }
        Adjacency { offsets, targets }
    }
}

/// The resources of a template and who depends on whom.
///
/// Nodes are indices `0..len()` in template order; [`index_of`](Self::index_of) and
/// [`id`](Self::id) convert between indices and logical ids. A built graph is always
/// acyclic.
#[derive(Debug, Clone)]
pub struct DepGraph {
    /// Shared: the engine's nodes hold the same strings.
    ids: Vec<Arc<str>>,
    index: FxHashMap<Arc<str>, usize>,
    /// Node → the nodes it depends on.
    dependencies: Adjacency,
    /// Node → the nodes that depend on it.
    dependents: Adjacency,
}

impl DepGraph {
    /// Builds the graph of `template`'s resources.
    ///
    /// Fails with every dependency cycle and every `Fn::GetAtt`, `${Res.Attr}` or
    /// `DependsOn` that names no resource. A `Ref` (or `${Name}`) naming something that is not
    /// a resource adds no edge and is not an error here: it may be a parameter or a pseudo
    /// parameter, which [`crate::validate::validate`] checks.
    pub fn from_template(template: &Template) -> Result<DepGraph, GraphError> {
        let ids: Vec<Arc<str>> = template
            .resources
            .keys()
            .map(|k| Arc::from(k.as_str()))
            .collect();
        let index = index_of_ids(&ids);
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        offsets.push(0);
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        let mut scratch: Vec<usize> = Vec::new();
        let mut path = Vec::new();
        for (id, spec) in &template.resources {
            scratch.clear();
            walk_map(&spec.properties, &mut path, &mut |segs, found| {
                if let Found::Reference {
                    kind,
                    name,
                    attribute,
                } = found
                {
                    if kind == RefKind::Condition {
                        return;
                    }
                    match index.get(name.as_ref()) {
                        Some(&target) => scratch.push(target),
                        None if kind == RefKind::GetAtt || attribute.is_some() => {
                            missing.push(MissingReference {
                                path: render_path(
                                    &join_key(&join_key("Resources", id), "Properties"),
                                    segs,
                                ),
                                from: id.clone(),
                                kind,
                                name: name.into_owned(),
                            });
                        }
                        None => {}
                    }
                }
            });
            for dep in &spec.depends_on {
                match index.get(dep.as_str()) {
                    Some(&target) => scratch.push(target),
                    None => missing.push(MissingReference {
                        path: join_key(&join_key("Resources", id), "DependsOn"),
                        from: id.clone(),
                        kind: RefKind::Ref,
                        name: dep.clone(),
                    }),
                }
            }
            scratch.sort_unstable();
            scratch.dedup();
            targets.extend_from_slice(&scratch);
            offsets.push(targets.len());
        }
        let dependencies = Adjacency { offsets, targets };
        let cycles: Vec<Cycle> = cycles_of(&dependencies)
            .into_iter()
            .map(|cycle| Cycle(cycle.into_iter().map(|i| ids[i].to_string()).collect()))
            .collect();
        if !missing.is_empty() || !cycles.is_empty() {
            return Err(GraphError::Invalid { missing, cycles });
        }
        let dependents = dependencies.reversed();
        Ok(DepGraph {
            ids,
            index,
            dependencies,
            dependents,
        })
    }

    /// Builds a graph from ids and, per id, the indices it depends on (for orderings that do
    /// not come from a template, such as the services of an application).
    pub fn from_dependencies(
        ids: Vec<String>,
        dependencies: &[Vec<usize>],
    ) -> Result<DepGraph, GraphError> {
        let ids: Vec<Arc<str>> = ids.into_iter().map(Arc::from).collect();
        let index = index_of_ids(&ids);
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        offsets.push(0);
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        for (node, id) in ids.iter().enumerate() {
            let start = targets.len();
            for &dep in dependencies.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                if dep < ids.len() {
                    targets.push(dep);
                } else {
                    missing.push(MissingReference {
                        path: join_key(id, "DependsOn"),
                        from: id.to_string(),
                        kind: RefKind::Ref,
                        name: format!("#{dep}"),
                    });
                }
            }
            targets[start..].sort_unstable();
            let mut unique = start;
            for i in start..targets.len() {
                if i == start || targets[i] != targets[unique - 1] {
                    targets[unique] = targets[i];
                    unique += 1;
                }
            }
            targets.truncate(unique);
            offsets.push(targets.len());
        }
        let dependencies = Adjacency { offsets, targets };
        let cycles: Vec<Cycle> = cycles_of(&dependencies)
            .into_iter()
            .map(|cycle| Cycle(cycle.into_iter().map(|i| ids[i].to_string()).collect()))
            .collect();
        if !missing.is_empty() || !cycles.is_empty() {
            return Err(GraphError::Invalid { missing, cycles });
        }
        let dependents = dependencies.reversed();
        Ok(DepGraph {
            ids,
            index,
            dependencies,
            dependents,
        })
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The logical ids, in template order (index `i` is node `i`).
    pub fn ids(&self) -> &[Arc<str>] {
        &self.ids
    }

    /// The node index of a logical id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The logical id of node `node`. Panics when `node >= len()`, like slice indexing.
    pub fn id(&self, node: usize) -> &str {
        &self.ids[node]
    }

    /// The number of edges (each dependency of each node, once).
    pub fn edge_count(&self) -> usize {
        self.dependencies.targets.len()
    }

    /// The nodes `node` depends on, in template order, without duplicates.
    pub fn dependencies(&self, node: usize) -> &[usize] {
        self.dependencies.of(node)
    }

    /// The nodes that depend on `node`, in template order.
    pub fn dependents(&self, node: usize) -> &[usize] {
        self.dependents.of(node)
    }

    /// The logical ids `id` depends on (empty for an unknown id).
    pub fn dependencies_of(&self, id: &str) -> Vec<&str> {
        self.index_of(id)
            .map(|n| self.dependencies(n).iter().map(|&d| self.id(d)).collect())
            .unwrap_or_default()
    }

    /// The logical ids that depend on `id` (empty for an unknown id).
    pub fn dependents_of(&self, id: &str) -> Vec<&str> {
        self.index_of(id)
            .map(|n| self.dependents(n).iter().map(|&d| self.id(d)).collect())
            .unwrap_or_default()
    }

    /// Node indices in an order where every node comes after its dependencies; among the
    /// nodes available at each step the first in template order goes first.
    pub fn topological_indices(&self) -> Vec<usize> {
        kahn(&self.dependencies, &self.dependents)
    }

    /// Logical ids in dependency order (see [`topological_indices`](Self::topological_indices)).
    pub fn topological_order(&self) -> Vec<&str> {
        self.topological_indices()
            .into_iter()
            .map(|n| self.id(n))
            .collect()
    }

    /// Logical ids in the order to delete them: every node before its dependencies (the
    /// reverse of [`topological_order`](Self::topological_order)).
    pub fn reverse_topological_order(&self) -> Vec<&str> {
        let mut order = self.topological_order();
        order.reverse();
        order
    }

    /// Every node that depends on `node` directly or indirectly, in template order.
    pub fn transitive_dependents(&self, node: usize) -> Vec<usize> {
        reachable(&self.dependents, node)
    }

    /// Every node `node` depends on directly or indirectly, in template order.
    pub fn transitive_dependencies(&self, node: usize) -> Vec<usize> {
        reachable(&self.dependencies, node)
    }

    /// For each node, the cost of the longest chain that starts at it and runs through its
    /// dependents to a node nothing depends on, its own cost included. This is the node's
    /// scheduling priority: starting the longest remaining chain first shortens the whole
    /// run. `cost` gives each logical id's expected duration (any unit).
    pub fn remaining_paths(&self, cost: impl Fn(&str) -> f64) -> Vec<f64> {
        let mut remaining = vec![0.0; self.len()];
        for node in self.topological_indices().into_iter().rev() {
            let tail = self
                .dependents(node)
                .iter()
                .map(|&d| remaining[d])
                .fold(0.0, f64::max);
            remaining[node] = cost(self.id(node)) + tail;
        }
        remaining
    }

    /// The remaining path of one logical id (see [`remaining_paths`](Self::remaining_paths));
    /// `None` for an unknown id.
    pub fn longest_path_to_sink(&self, id: &str, cost: impl Fn(&str) -> f64) -> Option<f64> {
        let node = self.index_of(id)?;
        Some(self.remaining_paths(cost)[node])
    }

    /// The cost of the longest dependency chain: the shortest time the whole graph can take
    /// with unlimited parallelism.
    pub fn critical_path(&self, cost: impl Fn(&str) -> f64) -> f64 {
        self.remaining_paths(cost).into_iter().fold(0.0, f64::max)
    }

    /// A queue for creating: a node becomes ready when its dependencies have finished.
    pub fn queue(&self) -> DepQueue {
        DepQueue::from_unique_dependencies(self.len(), |n| self.dependencies.of(n))
    }

    /// A queue for creating whose ready nodes come out by priority (higher first), such as
    /// [`remaining_paths`](Self::remaining_paths).
    pub fn queue_with_priorities(&self, priorities: Vec<f64>) -> Result<DepQueue, QueueError> {
        self.queue().prioritized(priorities)
    }

    /// A queue for deleting: a node becomes ready when everything that depends on it has
    /// finished.
    pub fn reverse_queue(&self) -> DepQueue {
        DepQueue::from_unique_dependencies(self.len(), |n| self.dependents.of(n))
    }
}

fn index_of_ids(ids: &[Arc<str>]) -> FxHashMap<Arc<str>, usize> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (Arc::clone(id), i))
        .collect()
}

/// Kahn's algorithm with a min-heap, so ties go to the lowest index.
fn kahn(dependencies: &Adjacency, dependents: &Adjacency) -> Vec<usize> {
    let n = dependencies.len();
    let mut remaining: Vec<usize> = (0..n).map(|i| dependencies.of(i).len()).collect();
    let mut heap: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| remaining[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(node)) = heap.pop() {
        order.push(node);
        for &d in dependents.of(node) {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                heap.push(Reverse(d));
            }
        }
    }
    order
}

fn reachable(adjacency: &Adjacency, start: usize) -> Vec<usize> {
    let mut seen = vec![false; adjacency.len()];
    let mut stack = vec![start];
    let mut out = Vec::new();
    while let Some(node) = stack.pop() {
        for &next in adjacency.of(node) {
            if !seen[next] {
                seen[next] = true;
                out.push(next);
                stack.push(next);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The cycles of a graph given as dependency lists, one per strongly connected group (and
/// one per node that depends on itself): each starts and ends at the group's lowest index,
/// and is the shortest way around from it, following lower indices first. Cycles are
/// sorted by their first node.
///
/// ```
/// use iac_core::graph::find_cycles;
///
/// // 0 -> 1 -> 2 -> 0, and 3 depends on itself
/// let cycles = find_cycles(&[vec![1], vec![2], vec![0], vec![3]]);
/// assert_eq!(cycles, vec![vec![0, 1, 2, 0], vec![3, 3]]);
/// ```
pub fn find_cycles(dependencies: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = dependencies.len();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut targets = Vec::new();
    for deps in dependencies {
        let start = targets.len();
        targets.extend(deps.iter().copied().filter(|&d| d < n));
        targets[start..].sort_unstable();
        offsets.push(targets.len());
    }
    cycles_of(&Adjacency { offsets, targets })
}

fn cycles_of(graph: &Adjacency) -> Vec<Vec<usize>> {
    let components = strongly_connected(graph);
    let mut cycles = Vec::new();
    for component in components {
        let start = component.iter().copied().min().unwrap_or_default();
        if component.len() == 1 && !graph.of(start).contains(&start) {
            continue;
        }
        cycles.push(shortest_cycle(graph, start, &component));
    }
    cycles.sort_unstable_by_key(|c| c[0]);
    cycles
}

/// Breadth-first search from `start` back to itself inside one component.
fn shortest_cycle(graph: &Adjacency, start: usize, component: &[usize]) -> Vec<usize> {
    let mut inside: HashMap<usize, Option<usize>> = component.iter().map(|&c| (c, None)).collect();
    let mut frontier = std::collections::VecDeque::from([start]);
    let mut last = start;
    'search: while let Some(node) = frontier.pop_front() {
        for &next in graph.of(node) {
            if next == start {
                last = node;
                break 'search;
            }
            if let Some(parent @ None) = inside.get_mut(&next) {
                *parent = Some(node);
                frontier.push_back(next);
            }
        }
    }
    let mut cycle = vec![start];
    let mut node = last;
    while node != start {
        cycle.push(node);
        node = inside.get(&node).copied().flatten().unwrap_or(start);
    }
    cycle[1..].reverse();
    cycle.push(start);
    cycle
}

/// Tarjan's algorithm without recursion (a 100,000-node chain must not overflow the stack).
/// Only the components that hold a cycle are returned: those of several nodes, and single
/// nodes that depend on themselves.
fn strongly_connected(graph: &Adjacency) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = graph.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut counter = 0;
    // (node, position of the next neighbour to visit)
    let mut call: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        call.push((root, 0));
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = call.last_mut() {
            let neighbours = graph.of(node);
            if *next < neighbours.len() {
                let w = neighbours[*next];
                *next += 1;
                if index[w] == UNVISITED {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[node] = low[node].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                if stack.last() == Some(&node) {
                    // A component of one node, the common case: no cycle unless it depends
                    // on itself, and no allocation.
                    stack.pop();
                    on_stack[node] = false;
                    if graph.of(node).contains(&node) {
                        components.push(vec![node]);
                    }
                    continue;
                }
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// For each output, the resources its value references (directly, through `Ref`,
/// `Fn::GetAtt` or `Fn::Sub`), in template order without duplicates. Names that are not
/// resources (parameters, pseudo parameters, unknown names) are left out.
pub fn output_dependencies(template: &Template) -> IndexMap<String, Vec<String>> {
    template
        .outputs
        .iter()
        .map(|(name, output)| {
            let mut nodes: Vec<usize> = references(&output.value)
                .into_iter()
                .filter(|r| r.kind != RefKind::Condition)
                .filter_map(|r| template.resources.get_index_of(&r.name))
                .collect();
            nodes.sort_unstable();
            nodes.dedup();
            let ids = nodes
                .into_iter()
                .filter_map(|i| template.resources.get_index(i).map(|(id, _)| id.clone()))
                .collect();
            (name.clone(), ids)
        })
        .collect()
}

#[cfg(test)]
mod tests;
