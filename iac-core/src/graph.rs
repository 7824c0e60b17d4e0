//! TEMPORARY local stand-in (not committed) until the graph branch lands.
#![allow(missing_docs, dead_code)]
use crate::expr::Expr;
use crate::model::Template;
use std::collections::{BinaryHeap, HashMap};

#[derive(Debug, thiserror::Error)]
#[error("graph: {0}")]
pub struct GraphError(pub String);

pub struct DepGraph {
    ids: Vec<String>,
    deps: Vec<Vec<String>>,
    index: HashMap<String, usize>,
}

fn refs(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Ref(n) => out.push(n.clone()),
        Expr::GetAtt { resource, .. } => out.push(resource.clone()),
        Expr::List(l) => l.iter().for_each(|x| refs(x, out)),
        Expr::Map(m) => m.values().for_each(|x| refs(x, out)),
        Expr::Call { function, args } => {
            if function == "Fn::Sub" {
                if let Expr::String(s) = &**args {
                    for p in crate::expr::parse_sub(s).unwrap_or_default() {
                        if let crate::expr::SubPart::Var(v) = p {
                            out.push(v.split('.').next().unwrap().to_owned());
                        }
                    }
                }
            }
            refs(args, out)
        }
        _ => {}
    }
}

impl DepGraph {
    pub fn from_template(t: &Template) -> Result<Self, GraphError> {
        let ids: Vec<String> = t.resources.keys().cloned().collect();
        let index: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        let mut deps = Vec::new();
        for (_, r) in &t.resources {
            let mut out = Vec::new();
            for e in r.properties.values() {
                refs(e, &mut out);
            }
            out.extend(r.depends_on.iter().cloned());
            out.retain(|d| index.contains_key(d));
            out.sort();
            out.dedup();
            deps.push(out);
        }
        let g = DepGraph { ids, deps, index };
        g.topo()
            .ok_or_else(|| GraphError("cycle A -> B -> A".into()))?;
        Ok(g)
    }
    fn topo(&self) -> Option<Vec<usize>> {
        let n = self.ids.len();
        let mut indeg = vec![0; n];
        let mut rev = vec![vec![]; n];
        for i in 0..n {
            for d in &self.deps[i] {
                let j = self.index[d];
                indeg[i] += 1;
                rev[j].push(i);
            }
        }
        let mut q: std::collections::VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut out = vec![];
        while let Some(i) = q.pop_front() {
            out.push(i);
            for &k in &rev[i] {
                indeg[k] -= 1;
                if indeg[k] == 0 {
                    q.push_back(k);
                }
            }
        }
        (out.len() == n).then_some(out)
    }
    pub fn topological_order(&self) -> Vec<&str> {
        self.topo()
            .unwrap()
            .into_iter()
            .map(|i| self.ids[i].as_str())
            .collect()
    }
    pub fn dependencies(&self, id: &str) -> &[String] {
        &self.deps[self.index[id]]
    }
}

pub struct DepQueue {
    deps_left: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    ready: BinaryHeap<(u64, std::cmp::Reverse<usize>)>,
    prio: Vec<u64>,
    dead: Vec<bool>,
}
impl DepQueue {
    pub fn new(deps: Vec<Vec<usize>>) -> Self {
        let n = deps.len();
        Self::with_priority(deps, vec![0; n])
    }
    pub fn with_priority(deps: Vec<Vec<usize>>, prio: Vec<u64>) -> Self {
        let n = deps.len();
        let mut dependents = vec![vec![]; n];
        for (i, d) in deps.iter().enumerate() {
            for &j in d {
                dependents[j].push(i);
            }
        }
        let deps_left: Vec<usize> = deps.iter().map(|d| d.len()).collect();
        let ready = (0..n)
            .filter(|&i| deps_left[i] == 0)
            .map(|i| (prio[i], std::cmp::Reverse(i)))
            .collect();
        DepQueue {
            deps_left,
            dependents,
            ready,
            prio,
            dead: vec![false; n],
        }
    }
    pub fn pop_ready(&mut self) -> Option<usize> {
        self.ready.pop().map(|(_, std::cmp::Reverse(i))| i)
    }
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }
    pub fn finish(&mut self, n: usize) -> Vec<usize> {
        let mut out = vec![];
        for k in self.dependents[n].clone() {
            self.deps_left[k] -= 1;
            if self.deps_left[k] == 0 && !self.dead[k] {
                self.ready.push((self.prio[k], std::cmp::Reverse(k)));
                out.push(k);
            }
        }
        out
    }
    pub fn fail(&mut self, n: usize) -> Vec<usize> {
        let mut out = vec![];
        let mut stack = self.dependents[n].clone();
        while let Some(k) = stack.pop() {
            if !self.dead[k] {
                self.dead[k] = true;
                out.push(k);
                stack.extend(self.dependents[k].clone());
            }
        }
        out.sort();
        out
    }
}
