//! ROS `Count`: one resource declaration that stands for `n` resources.
//!
//! A resource with `"Count": n` becomes `A[0]` … `A[n-1]`; inside each copy
//! `{"Ref": "ALIYUN::Index"}` (and `${ALIYUN::Index}` in an `Fn::Sub` text) is the copy's
//! index. Elsewhere in the template, `{"Ref": "A"}` becomes the list of the copies' ids,
//! `{"Fn::GetAtt": ["A", "X"]}` the list of their attributes, and `DependsOn: A` depends on
//! every copy. `Count` may use parameters, pseudo parameters and mappings (it is known
//! before anything is created), so expansion runs once the parameter values are known:
//! [`expand`] turns a template into one without `Count`, which the engine then applies.
//!
//! ```
//! use iac_core::count::expand;
//! use iac_core::loader::load_json;
//! use iac_core::Expr;
//! use indexmap::IndexMap;
//! use serde_json::json;
//!
//! let t = load_json(r#"{
//!   "Parameters": {"N": {"Type": "Number", "Default": 2}},
//!   "Resources": {
//!     "Eip": {"Type": "ALIYUN::VPC::EIP", "Count": {"Ref": "N"},
//!             "Properties": {"Name": {"Fn::Sub": "eip-${ALIYUN::Index}"}}},
//!     "Bind": {"Type": "ALIYUN::VPC::EIPAssociation",
//!              "Properties": {"AllocationId": {"Fn::Select": [0, {"Ref": "Eip"}]}}}
//!   }
//! }"#).unwrap();
//! let expanded = expand(&t, &IndexMap::new(), &IndexMap::new()).unwrap();
//! assert_eq!(expanded.resources.keys().collect::<Vec<_>>(), ["Eip[0]", "Eip[1]", "Bind"]);
//! assert_eq!(expanded.resources["Eip[1]"].properties["Name"], Expr::sub("eip-1"));
//! assert_eq!(
//!     expanded.resources["Bind"].properties["AllocationId"],
//!     Expr::from_json(json!({"Fn::Select": [0, [{"Ref": "Eip[0]"}, {"Ref": "Eip[1]"}]]}))
//! );
//! ```

use indexmap::IndexMap;
use serde_json::Value;

use crate::eval::{EvalContext, NoResources, evaluate};
use crate::expr::{Expr, ExprMap};
use crate::graph::join_key;
use crate::model::{ResourceSpec, Template};
use crate::params::resolve_parameters;
use crate::validate::{ProblemKind, ValidationError, ValidationErrors};

/// The resource key that declares a count.
pub const COUNT_KEY: &str = "Count";

/// The pseudo parameter that is a copy's index.
pub const INDEX_PSEUDO: &str = "ALIYUN::Index";

/// The largest `Count` accepted (ROS allows at most 1000 resources per stack).
pub const MAX_COUNT: u64 = 1000;

/// True when some resource of `template` declares a `Count`.
pub fn has_count(template: &Template) -> bool {
    template
        .resources
        .values()
        .any(|r| r.unsupported.contains_key(COUNT_KEY))
}

/// Expands every `Count` of `template` (see the module docs), with the parameter values
/// `given` (declared defaults fill the rest) and the cloud's `pseudo` parameter values.
///
/// A template without `Count` comes back unchanged. Errors name the `Count` that could not
/// be evaluated, is not a whole number from 0 to [`MAX_COUNT`], or makes a copy whose id
/// is already taken; all of them at once.
pub fn expand(
    template: &Template,
    given: &IndexMap<String, Value>,
    pseudo: &IndexMap<String, Value>,
) -> Result<Template, ValidationErrors> {
    if !has_count(template) {
        return Ok(template.clone());
    }
    let mut errors = Vec::new();
    let counts = counts(template, given, pseudo, &mut errors);
    let mut out = template.clone();
    out.resources = IndexMap::with_capacity(template.resources.len());
    for (id, spec) in &template.resources {
        match counts.get(id) {
            Some(&n) => {
                for i in 0..n {
                    let copy_id = copy_id(id, i);
                    if template.resources.contains_key(&copy_id) {
                        errors.push(ValidationError {
                            path: join_key("Resources", id),
                            kind: ProblemKind::DuplicateName,
                            message: format!(
                                "Count makes '{copy_id}', which is already a resource"
                            ),
                        });
                        continue;
                    }
                    let mut copy = spec.clone();
                    copy.unsupported.shift_remove(COUNT_KEY);
                    copy.properties = copy
                        .properties
                        .iter()
                        .map(|(k, v)| (k.clone(), with_index(v, i)))
                        .collect();
                    rewrite_resource(&mut copy, &counts);
                    out.resources.insert(copy_id, copy);
                }
            }
            None => {
                let mut spec = spec.clone();
                rewrite_resource(&mut spec, &counts);
                out.resources.insert(id.clone(), spec);
            }
        }
    }
    for output in out.outputs.values_mut() {
        output.value = rewrite(&output.value, &counts);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ValidationErrors::new(errors))
    }
}

/// `template` with each counted resource taken once under its own id (index 0): for
/// checking the rest of a template whose `Count` cannot be evaluated.
pub fn as_single(template: &Template) -> Template {
    let mut out = template.clone();
    for spec in out.resources.values_mut() {
        if spec.unsupported.shift_remove(COUNT_KEY).is_some() {
            spec.properties = map_values(&spec.properties, |e| with_index(e, 0));
        }
    }
    out
}

/// The id of copy `i` of resource `id`: `id[i]`.
pub fn copy_id(id: &str, i: u64) -> String {
    format!("{id}[{i}]")
}

/// Evaluates every `Count`; the failures go to `errors`.
fn counts(
    template: &Template,
    given: &IndexMap<String, Value>,
    pseudo: &IndexMap<String, Value>,
    errors: &mut Vec<ValidationError>,
) -> IndexMap<String, u64> {
    let mut counts = IndexMap::new();
    let params = match resolve_parameters(&template.parameters, given) {
        Ok(params) => params,
        Err(problems) => {
            for (id, spec) in &template.resources {
                if spec.unsupported.contains_key(COUNT_KEY) {
                    errors.push(ValidationError {
                        path: join_key(&join_key("Resources", id), COUNT_KEY),
                        kind: ProblemKind::MalformedCall,
                        message: format!(
                            "Count cannot be evaluated: the parameters are not valid: {problems}"
                        ),
                    });
                }
            }
            return counts;
        }
    };
    let conditions = IndexMap::new();
    let resources = NoResources;
    let ctx = EvalContext::new(&params, pseudo, &template.mappings, &conditions, &resources);
    for (id, spec) in &template.resources {
        let Some(raw) = spec.unsupported.get(COUNT_KEY) else {
            continue;
        };
        let path = join_key(&join_key("Resources", id), COUNT_KEY);
        let value = match evaluate(&Expr::from_json(raw.clone()), &ctx, &path) {
            Ok(value) => value,
            Err(e) => {
                let kind = if matches!(e, crate::eval::EvalError::Unsupported { .. }) {
                    ProblemKind::UnsupportedFunction
                } else {
                    ProblemKind::MalformedCall
                };
                errors.push(ValidationError {
                    path,
                    kind,
                    message: format!(
                        "Count must be known before any resource exists (parameters, pseudo \
                         parameters and mappings only): {e}"
                    ),
                });
                continue;
            }
        };
        let n = match &value {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n <= MAX_COUNT => {
                counts.insert(id.clone(), n);
            }
            _ => errors.push(ValidationError {
                path,
                kind: ProblemKind::MalformedCall,
                message: format!(
                    "Count must be a whole number from 0 to {MAX_COUNT}, got {}",
                    value.map_or_else(|| "no value".to_owned(), |v| v.to_string())
                ),
            }),
        }
    }
    counts
}

/// Replaces `ALIYUN::Index` by `i` in one copy's property.
fn with_index(expr: &Expr, i: u64) -> Expr {
    match expr {
        Expr::Ref(name) if name == INDEX_PSEUDO => Expr::Number(i.into()),
        Expr::List(items) => Expr::List(items.iter().map(|e| with_index(e, i)).collect()),
        Expr::Map(map) => Expr::Map(map_values(map, |e| with_index(e, i))),
        Expr::Call { function, args } if function == "Fn::Sub" => {
            let needle = format!("${{{INDEX_PSEUDO}}}");
            let index = i.to_string();
            let args = match &**args {
                Expr::String(text) => Expr::String(text.replace(&needle, &index)),
                Expr::List(items) => Expr::List(
                    items
                        .iter()
                        .enumerate()
                        .map(|(n, e)| match (n, e) {
                            (0, Expr::String(text)) => Expr::String(text.replace(&needle, &index)),
                            (_, other) => with_index(other, i),
                        })
                        .collect(),
                ),
                other => with_index(other, i),
            };
            Expr::call(function.clone(), args)
        }
        Expr::Call { function, args } => Expr::call(function.clone(), with_index(args, i)),
        other => other.clone(),
    }
}

/// Rewrites references to counted resources in a resource's properties and `DependsOn`.
fn rewrite_resource(spec: &mut ResourceSpec, counts: &IndexMap<String, u64>) {
    if counts.is_empty() {
        return;
    }
    spec.properties = map_values(&spec.properties, |e| rewrite(e, counts));
    spec.depends_on = spec
        .depends_on
        .iter()
        .flat_map(|dep| match counts.get(dep) {
            Some(&n) => (0..n).map(|i| copy_id(dep, i)).collect(),
            None => vec![dep.clone()],
        })
        .collect();
}

/// `Ref A` → list of `Ref A[i]`; `GetAtt A.X` → list of `GetAtt A[i].X`, for counted `A`.
fn rewrite(expr: &Expr, counts: &IndexMap<String, u64>) -> Expr {
    match expr {
        Expr::Ref(name) => match counts.get(name) {
            Some(&n) => Expr::List((0..n).map(|i| Expr::Ref(copy_id(name, i))).collect()),
            None => expr.clone(),
        },
        Expr::GetAtt {
            resource,
            attribute,
        } => match counts.get(resource) {
            Some(&n) => Expr::List(
                (0..n)
                    .map(|i| Expr::get_att(copy_id(resource, i), attribute.clone()))
                    .collect(),
            ),
            None => expr.clone(),
        },
        Expr::List(items) => Expr::List(items.iter().map(|e| rewrite(e, counts)).collect()),
        Expr::Map(map) => Expr::Map(map_values(map, |e| rewrite(e, counts))),
        Expr::Call { function, args } => Expr::call(function.clone(), rewrite(args, counts)),
        other => other.clone(),
    }
}

fn map_values(map: &ExprMap, f: impl Fn(&Expr) -> Expr) -> ExprMap {
    map.iter().map(|(k, v)| (k.clone(), f(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{load_json, load_path};
    use serde_json::json;

    fn given(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn the_docs_count_template_expands_with_its_parameter() {
        let t = load_path(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/templates/ros/alibabaclouddocs-ros-mit/Resources__2.yaml"),
        )
        .unwrap();
        assert!(has_count(&t));
        let e = expand(&t, &given(&[("Count", json!("3"))]), &IndexMap::new()).unwrap();
        assert!(!has_count(&e));
        let ids: Vec<&str> = e.resources.keys().map(String::as_str).collect();
        assert_eq!(
            ids,
            [
                "Eip[0]",
                "Eip[1]",
                "Eip[2]",
                "Servers",
                "EipBind[0]",
                "EipBind[1]",
                "EipBind[2]"
            ]
        );
        assert_eq!(
            e.resources["EipBind[2]"].properties["AllocationId"].to_json(),
            json!({"Fn::Select": [2, [{"Ref": "Eip[0]"}, {"Ref": "Eip[1]"}, {"Ref": "Eip[2]"}]]})
        );
        assert_eq!(
            e.resources["EipBind[1]"].properties["InstanceId"].to_json(),
            json!({"Fn::Select": [1, {"Fn::GetAtt": ["Servers", "InstanceIds"]}]})
        );
        assert_eq!(
            e.outputs["EipAddresses"].value.to_json(),
            json!([{"Fn::GetAtt": ["Eip[0]", "EipAddress"]},
                   {"Fn::GetAtt": ["Eip[1]", "EipAddress"]},
                   {"Fn::GetAtt": ["Eip[2]", "EipAddress"]}])
        );
        // Zero copies: the resource is gone and references are empty lists.
        let none = expand(&t, &given(&[("Count", json!(0))]), &IndexMap::new()).unwrap();
        assert_eq!(none.resources.keys().collect::<Vec<_>>(), ["Servers"]);
        assert_eq!(none.outputs["AllocationIds"].value, Expr::List(vec![]));
    }

    #[test]
    fn depends_on_and_sub_index_are_expanded() {
        let t = load_json(
            r#"{"Resources": {
                 "Vm": {"Type": "T", "Count": 2, "Properties": {
                   "Name": {"Fn::Sub": ["vm-${ALIYUN::Index}-${X}", {"X": {"Ref": "ALIYUN::Index"}}]}}},
                 "After": {"Type": "T", "DependsOn": "Vm"}}}"#,
        )
        .unwrap();
        let e = expand(&t, &IndexMap::new(), &IndexMap::new()).unwrap();
        assert_eq!(e.resources["After"].depends_on, ["Vm[0]", "Vm[1]"]);
        assert_eq!(
            e.resources["Vm[1]"].properties["Name"].to_json(),
            json!({"Fn::Sub": ["vm-1-${X}", {"X": 1}]})
        );
    }

    #[test]
    fn bad_counts_are_all_reported_with_their_paths() {
        let t = load_json(
            r#"{"Parameters": {"N": {"Type": "Number"}},
                "Resources": {
                 "A": {"Type": "T", "Count": {"Fn::GetAtt": ["B", "X"]}},
                 "B": {"Type": "T", "Count": -1},
                 "C": {"Type": "T", "Count": "many"},
                 "D": {"Type": "T", "Count": 1001},
                 "E": {"Type": "T", "Count": {"Ref": "N"}},
                 "F": {"Type": "T", "Count": 1},
                 "F[0]": {"Type": "T"}}}"#,
        )
        .unwrap();
        let errors = expand(&t, &given(&[("N", json!(2))]), &IndexMap::new()).unwrap_err();
        let found: Vec<(&str, ProblemKind)> = errors
            .errors()
            .iter()
            .map(|e| (e.path.as_str(), e.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("Resources.A.Count", ProblemKind::MalformedCall),
                ("Resources.B.Count", ProblemKind::MalformedCall),
                ("Resources.C.Count", ProblemKind::MalformedCall),
                ("Resources.D.Count", ProblemKind::MalformedCall),
                ("Resources.F", ProblemKind::DuplicateName),
            ]
        );
        assert!(errors.errors()[2].message.contains("\"many\""), "{errors}");
        // A parameter without a value: the Count names it.
        let errors = expand(&t, &IndexMap::new(), &IndexMap::new()).unwrap_err();
        assert!(
            errors
                .to_string()
                .contains("Resources.E.Count: Count cannot be evaluated"),
            "{errors}"
        );
    }

    #[test]
    fn as_single_keeps_ids_and_takes_index_zero() {
        let t = load_json(
            r#"{"Resources": {"A": {"Type": "T", "Count": {"Ref": "Missing"},
                                    "Properties": {"I": {"Ref": "ALIYUN::Index"}}}}}"#,
        )
        .unwrap();
        let single = as_single(&t);
        assert!(!has_count(&single));
        assert_eq!(single.resources["A"].properties["I"], Expr::from(0i64));
    }

    #[test]
    fn a_template_without_count_is_unchanged() {
        let t = load_json(r#"{"Resources": {"A": {"Type": "T"}}}"#).unwrap();
        assert_eq!(expand(&t, &IndexMap::new(), &IndexMap::new()).unwrap(), t);
    }
}
