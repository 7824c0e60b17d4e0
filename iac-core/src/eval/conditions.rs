//! Resolving the `Conditions` section to booleans.

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;
use serde_json::Value;

use super::functions::{as_bool, describe};
use super::{EvalContext, EvalError, Mappings, NoResources, eval, join_key};
use crate::expr::Expr;
use crate::params::ParamValues;

/// Evaluates every condition of a template to a boolean.
///
/// A condition may refer to parameters, pseudo parameters, mappings and other conditions
/// (`{"Condition": "X"}`, or a bare name in `Fn::And`, `Fn::Or`, `Fn::Not` and the first
/// position of `Fn::If`). Conditions are evaluated in dependency order. Errors are
/// collected, not stopped at: a cycle between conditions is reported once, naming the cycle
/// (`Conditions.A: ... A -> B -> A`); a reference to a resource (or to nothing) is
/// [`EvalError::ConditionReference`]; a condition that is not a boolean is
/// [`EvalError::NotBoolean`]. A condition that depends on a failed one is not evaluated
/// and adds no error of its own.
pub fn resolve_conditions(
    conditions: &IndexMap<String, Expr>,
    params: &ParamValues,
    pseudo: &IndexMap<String, Value>,
    mappings: &Mappings,
) -> Result<IndexMap<String, bool>, Vec<EvalError>> {
    let deps: IndexMap<&str, Vec<String>> = conditions
        .iter()
        .map(|(name, expr)| {
            let mut out = Vec::new();
            condition_refs(expr, &mut out);
            (name.as_str(), out)
        })
        .collect();

    let mut errors = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let order = dependency_order(&deps, &mut errors, &mut failed);

    let mut resolved: IndexMap<String, bool> = IndexMap::new();
    for name in order {
        if failed.contains(name) {
            continue;
        }
        if deps[name].iter().any(|d| failed.contains(d)) {
            failed.insert(name.to_owned());
            continue;
        }
        let path = join_key("Conditions", name);
        let ctx = EvalContext::new(params, pseudo, mappings, &resolved, &NoResources);
        let outcome = match eval(&conditions[name], &ctx, &path) {
            Ok(Some(value)) => as_bool(&value).ok_or_else(|| EvalError::NotBoolean {
                path: path.clone(),
                found: describe(&value),
            }),
            Ok(None) => Err(EvalError::NotBoolean {
                path: path.clone(),
                found: "ALIYUN::NoValue".to_owned(),
            }),
            Err(e) => Err(in_condition(e).redacted(params)),
        };
        match outcome {
            Ok(b) => {
                resolved.insert(name.to_owned(), b);
            }
            Err(e) => {
                errors.push(e);
                failed.insert(name.to_owned());
            }
        }
    }

    if errors.is_empty() {
        // Back to declaration order.
        Ok(conditions
            .keys()
            .filter_map(|name| resolved.get(name).map(|b| (name.clone(), *b)))
            .collect())
    } else {
        Err(errors)
    }
}

/// Resources do not exist when conditions are resolved: a reference that found nothing is
/// a reference a condition may not make.
fn in_condition(error: EvalError) -> EvalError {
    match error {
        EvalError::UndefinedReference { path, name } => {
            EvalError::ConditionReference { path, name }
        }
        EvalError::UndefinedResource { path, resource }
        | EvalError::MissingAttribute { path, resource, .. } => EvalError::ConditionReference {
            path,
            name: resource,
        },
        other => other,
    }
}

/// Orders conditions so that each comes after the conditions it names; reports each cycle
/// once and marks its members failed.
fn dependency_order<'a>(
    deps: &'a IndexMap<&'a str, Vec<String>>,
    errors: &mut Vec<EvalError>,
    failed: &mut BTreeSet<String>,
) -> Vec<&'a str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        InProgress,
        Done,
    }
    struct Walk<'a, 'e> {
        deps: &'a IndexMap<&'a str, Vec<String>>,
        marks: HashMap<&'a str, Mark>,
        stack: Vec<&'a str>,
        order: Vec<&'a str>,
        errors: &'e mut Vec<EvalError>,
        failed: &'e mut BTreeSet<String>,
    }
    impl<'a> Walk<'a, '_> {
        fn visit(&mut self, name: &'a str) {
            match self.marks.get(name) {
                Some(Mark::Done) => return,
                Some(Mark::InProgress) => {
                    let start = self.stack.iter().position(|n| *n == name).unwrap_or(0);
                    let mut cycle: Vec<String> = self.stack[start..]
                        .iter()
                        .map(|n| (*n).to_owned())
                        .collect();
                    cycle.push(name.to_owned());
                    self.failed.extend(cycle.iter().cloned());
                    self.errors.push(EvalError::ConditionCycle {
                        path: join_key("Conditions", &cycle[0]),
                        cycle,
                    });
                    return;
                }
                None => {}
            }
            self.marks.insert(name, Mark::InProgress);
            self.stack.push(name);
            let deps = self.deps;
            for dep in &deps[name] {
                // Unknown names are reported by evaluation (`UndefinedCondition`).
                if let Some((key, _)) = deps.get_key_value(dep.as_str()) {
                    self.visit(key);
                }
            }
            self.stack.pop();
            self.marks.insert(name, Mark::Done);
            self.order.push(name);
        }
    }
    let mut walk = Walk {
        deps,
        marks: HashMap::new(),
        stack: Vec::new(),
        order: Vec::new(),
        errors,
        failed,
    };
    for name in deps.keys() {
        walk.visit(name);
    }
    walk.order
}

/// The condition names an expression refers to, in order of appearance.
pub(crate) fn condition_refs(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Call { function, args } => match (function.as_str(), args.as_ref()) {
            ("Condition", Expr::String(name)) => out.push(name.clone()),
            ("Fn::And" | "Fn::Or", Expr::List(items)) => {
                for item in items {
                    match item {
                        Expr::String(name) => out.push(name.clone()),
                        other => condition_refs(other, out),
                    }
                }
            }
            ("Fn::Not", Expr::String(name)) => out.push(name.clone()),
            ("Fn::Not", Expr::List(items)) if items.len() == 1 => match &items[0] {
                Expr::String(name) => out.push(name.clone()),
                other => condition_refs(other, out),
            },
            ("Fn::If", Expr::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Expr::String(name) if i == 0 => out.push(name.clone()),
                        other => condition_refs(other, out),
                    }
                }
            }
            (_, args) => condition_refs(args, out),
        },
        Expr::List(items) => items.iter().for_each(|i| condition_refs(i, out)),
        Expr::Map(map) => map.values().for_each(|v| condition_refs(v, out)),
        Expr::Null
        | Expr::Bool(_)
        | Expr::Number(_)
        | Expr::String(_)
        | Expr::Ref(_)
        | Expr::GetAtt { .. } => {}
    }
}
