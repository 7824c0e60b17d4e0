//! Template evaluation: turning [`Expr`]s into JSON values.
//!
//! [`evaluate`] resolves references and applies the intrinsic functions of the ROS template
//! format (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::If`, ...) in an
//! [`EvalContext`]: resolved parameters, pseudo parameters, mappings, resolved conditions
//! and a [`ResourceLookup`] for physical ids and attributes. [`resolve_conditions`] turns the
//! `Conditions` section into booleans first.
//!
//! Three outcomes matter to the engine:
//!
//! * `Ok(Some(value))`: the value.
//! * `Ok(None)`: *NoValue* (`{"Ref": "ALIYUN::NoValue"}`, or an `Fn::If` branch that is
//!   one): the property is dropped. Inside a map it removes the key, inside a list the item.
//! * `Err(EvalError::Unknown { .. })`: the value depends on a resource attribute that is
//!   known only after apply (during a plan). Every function applied to an unknown value is
//!   unknown. It is not a user error; [`EvalError::is_unknown`] tells it apart.
//!
//! # Paths
//!
//! Every error carries the JSON path of the expression that failed. A path starts with
//! what the caller passes (`Resources.Master.Properties`); a map key adds `.Key`, a list
//! position adds `[i]`, and a function adds `.Fn::Name` followed by `[i]` for the position
//! in its argument list. So the `Ref` in
//! `"UserData": {"Fn::Join": ["", ["#!/bin/sh\n", {"Ref": "Token"}]]}` is at
//! `Resources.Master.Properties.UserData.Fn::Join[1][1]`.
//!
//! ```
//! use iac_core::eval::{evaluate, EvalContext, Mappings, NoResources};
//! use iac_core::params::ParamValues;
//! use iac_core::Expr;
//! use indexmap::IndexMap;
//! use serde_json::json;
//!
//! let params = ParamValues::from_resolved(
//!     IndexMap::from([("Env".to_owned(), json!("prod"))]),
//!     Vec::<String>::new(),
//! );
//! let pseudo = IndexMap::from([("ALIYUN::Region".to_owned(), json!("cn-hangzhou"))]);
//! let mappings = Mappings::new();
//! let conditions = IndexMap::new();
//! let ctx = EvalContext::new(&params, &pseudo, &mappings, &conditions, &NoResources);
//!
//! let expr = Expr::from_json(json!({"Fn::Sub": "${Env}-${ALIYUN::Region}"}));
//! assert_eq!(evaluate(&expr, &ctx, "Outputs.Name").unwrap(), Some(json!("prod-cn-hangzhou")));
//! ```

mod conditions;
mod functions;
#[cfg(test)]
mod tests;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::expr::{Expr, ExprMap};
use crate::params::ParamValues;
use crate::provider::ErrorKind;

pub use conditions::resolve_conditions;

/// The function keys [`evaluate`] understands (`Ref`, `Condition` and `Fn::*`). Any other
/// function key is [`EvalError::Unsupported`]; validation can use this list to report
/// those before anything is evaluated.
pub const SUPPORTED_FUNCTIONS: &[&str] = functions::SUPPORTED;

/// The `Mappings` section: map name → top-level key → second-level key → value.
pub type Mappings = IndexMap<String, IndexMap<String, IndexMap<String, Value>>>;

/// The answer of a [`ResourceLookup`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lookup {
    /// The value.
    Known(Value),
    /// The resource will exist, but the value is known only after apply (during a plan).
    Unknown,
    /// There is no such resource, or the resource has no such attribute.
    Missing,
}

/// Where the evaluator finds resources' physical ids (`Ref`) and attributes
/// (`Fn::GetAtt`): the engine implements it over the stack's state and plan.
pub trait ResourceLookup {
    /// The physical id of the resource `logical_id` (what `{"Ref": logical_id}` gives).
    fn physical_id(&self, logical_id: &str) -> Lookup;
    /// The attribute `attribute` of the resource `logical_id`.
    fn attribute(&self, logical_id: &str, attribute: &str) -> Lookup;
    /// True when [`physical_id`](Self::physical_id) would answer [`Lookup::Unknown`]: a
    /// planner asks it first, to mark a plain reference "known after apply" without
    /// building a value or an error. Override it when the answer is cheaper than the id.
    fn is_unknown(&self, logical_id: &str) -> bool {
        matches!(self.physical_id(logical_id), Lookup::Unknown)
    }
}

/// A [`ResourceLookup`] with no resources: every lookup is [`Lookup::Missing`]. For
/// evaluating outside a stack (conditions, outputs of a template without resources, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResources;

impl ResourceLookup for NoResources {
    fn physical_id(&self, _logical_id: &str) -> Lookup {
        Lookup::Missing
    }

    fn attribute(&self, _logical_id: &str, _attribute: &str) -> Lookup {
        Lookup::Missing
    }
}

/// Everything an expression can refer to.
pub struct EvalContext<'a> {
    /// Resolved parameters.
    pub parameters: &'a ParamValues,
    /// Pseudo parameters (`ALIYUN::StackName`, `ALIYUN::Region`, ...), supplied by the
    /// cloud crate. `...::NoValue` needs no entry.
    pub pseudo: &'a IndexMap<String, Value>,
    /// The template's `Mappings`.
    pub mappings: &'a Mappings,
    /// Resolved conditions (see [`resolve_conditions`]).
    pub conditions: &'a IndexMap<String, bool>,
    /// Resources' physical ids and attributes.
    pub resources: &'a dyn ResourceLookup,
}

impl<'a> EvalContext<'a> {
    /// Bundles the parts of a context.
    pub fn new(
        parameters: &'a ParamValues,
        pseudo: &'a IndexMap<String, Value>,
        mappings: &'a Mappings,
        conditions: &'a IndexMap<String, bool>,
        resources: &'a dyn ResourceLookup,
    ) -> Self {
        EvalContext {
            parameters,
            pseudo,
            mappings,
            conditions,
            resources,
        }
    }
}

/// Why an expression could not be evaluated. Every variant names the JSON path (see the
/// module docs for its format). Messages never hold the value of a secret parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The value depends on `resource`, whose value is known only after apply. Not a user
    /// error: a plan shows the property as "known after apply".
    #[error("{path}: depends on '{resource}', known only after apply")]
    Unknown {
        /// Logical id of the resource whose value is not known yet.
        resource: String,
        /// Where the reference stands.
        path: String,
    },
    /// A function this SDK does not evaluate (`Fn::GetAZs`, `Fn::Base64`, a typo, ...).
    #[error("{path}: unsupported function '{function}'")]
    Unsupported {
        /// Where the call stands.
        path: String,
        /// The function's key as written.
        function: String,
    },
    /// `Ref` (or a `${Name}` of `Fn::Sub`) names nothing known.
    #[error("{path}: '{name}' is not a parameter, pseudo parameter or resource")]
    UndefinedReference {
        /// Where the reference stands.
        path: String,
        /// The name referred to.
        name: String,
    },
    /// `Fn::GetAtt` names a resource that does not exist.
    #[error("{path}: Fn::GetAtt refers to '{resource}', which is not a resource")]
    UndefinedResource {
        /// Where the reference stands.
        path: String,
        /// The logical id referred to.
        resource: String,
    },
    /// `Fn::GetAtt` names an attribute the resource does not have.
    #[error("{path}: resource '{resource}' has no attribute '{attribute}'")]
    MissingAttribute {
        /// Where the reference stands.
        path: String,
        /// The resource's logical id.
        resource: String,
        /// The attribute asked for.
        attribute: String,
    },
    /// A condition name that is not in `Conditions`.
    #[error("{path}: there is no condition named '{name}'")]
    UndefinedCondition {
        /// Where the reference stands.
        path: String,
        /// The condition's name.
        name: String,
    },
    /// A function got arguments of the wrong shape or type, or could not compute its
    /// result (a key not in a mapping, text that is not Base64, ...).
    #[error("{path}: {function}: {message}")]
    Function {
        /// Where the call (or the offending argument) stands.
        path: String,
        /// The function's key (`Fn::Join`).
        function: String,
        /// What was expected and what was found.
        message: String,
    },
    /// Conditions refer to each other in a cycle.
    #[error("{path}: conditions refer to each other in a cycle: {}", .cycle.join(" -> "))]
    ConditionCycle {
        /// `Conditions.<first condition of the cycle>`.
        path: String,
        /// The cycle, its first name repeated at the end (`A -> B -> A`).
        cycle: Vec<String>,
    },
    /// A condition refers to something other than parameters, pseudo parameters, mappings
    /// and conditions (a resource, or nothing at all).
    #[error(
        "{path}: a condition may refer only to parameters, pseudo parameters, mappings and \
         other conditions; '{name}' is none of these"
    )]
    ConditionReference {
        /// Where the reference stands.
        path: String,
        /// The name referred to.
        name: String,
    },
    /// `Fn::Error` was evaluated: the template declares this value an error (HOT's
    /// `get_param` of a parameter the template does not declare, inside an output, which
    /// Heat reports only when the output is read). In an output, the engine lets the output
    /// carry the error ([`crate::engine::Report::output_errors`]) rather than fail the stack.
    #[error("{path}: {message}")]
    Raised {
        /// Where the `Fn::Error` stands.
        path: String,
        /// Its message.
        message: String,
    },
    /// A condition's expression is not a boolean.
    #[error("{path}: a condition must evaluate to true or false, got {found}")]
    NotBoolean {
        /// `Conditions.<name>`.
        path: String,
        /// What it evaluated to (its kind, not its value).
        found: String,
    },
}

impl EvalError {
    /// The JSON path where evaluation failed.
    pub fn path(&self) -> &str {
        match self {
            EvalError::Unknown { path, .. }
            | EvalError::Unsupported { path, .. }
            | EvalError::UndefinedReference { path, .. }
            | EvalError::UndefinedResource { path, .. }
            | EvalError::MissingAttribute { path, .. }
            | EvalError::UndefinedCondition { path, .. }
            | EvalError::Function { path, .. }
            | EvalError::ConditionCycle { path, .. }
            | EvalError::ConditionReference { path, .. }
            | EvalError::Raised { path, .. }
            | EvalError::NotBoolean { path, .. } => path,
        }
    }

    /// True for [`EvalError::Unknown`]: "known after apply", not a user error.
    pub fn is_unknown(&self) -> bool {
        matches!(self, EvalError::Unknown { .. })
    }

    /// How the engine treats the error: [`ErrorKind::NotReady`] for
    /// [`EvalError::Unknown`] (evaluate again once the resource exists),
    /// [`ErrorKind::Invalid`] for everything else (the template must change).
    pub fn kind(&self) -> ErrorKind {
        if self.is_unknown() {
            ErrorKind::NotReady
        } else {
            ErrorKind::Invalid
        }
    }

    /// Scrubs secret parameter values out of the parts of the error that can hold
    /// evaluated values.
    fn redacted(self, params: &ParamValues) -> Self {
        match self {
            EvalError::Function {
                path,
                function,
                message,
            } => EvalError::Function {
                path,
                function,
                message: params.redact_text(&message),
            },
            other => other,
        }
    }
}

/// Evaluates an expression at `path`; `Ok(None)` is NoValue. See the module docs.
pub fn evaluate(
    expr: &Expr,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Option<Value>, EvalError> {
    eval(expr, ctx, path).map_err(|e| e.redacted(ctx.parameters))
}

/// Evaluates the `Properties` of a resource (or any map of expressions) at `path`: NoValue
/// entries are dropped. The first user error wins over "known after apply"; callers that
/// want to know which properties are unknown evaluate them one by one with [`evaluate`].
pub fn evaluate_properties(
    props: &ExprMap,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Map<String, Value>, EvalError> {
    eval_map(props, ctx, path).map_err(|e| e.redacted(ctx.parameters))
}

/// True for `{"Ref": id}` of a resource whose id is known only after apply: what
/// [`evaluate`] would answer with [`EvalError::Unknown`], told without making that error (a
/// plan asks it of every property that is a plain reference).
pub(crate) fn is_unknown_reference(expr: &Expr, ctx: &EvalContext<'_>) -> bool {
    match expr {
        Expr::Ref(name) => {
            matches!(
                functions::ref_target(name, ctx),
                functions::RefTarget::Resource
            ) && ctx.resources.is_unknown(name)
        }
        _ => false,
    }
}

/// `path.key`, or `key` at the root.
pub(crate) fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn eval(expr: &Expr, ctx: &EvalContext<'_>, path: &str) -> Result<Option<Value>, EvalError> {
    match expr {
        Expr::Null => Ok(Some(Value::Null)),
        Expr::Bool(b) => Ok(Some(Value::Bool(*b))),
        Expr::Number(n) => Ok(Some(Value::Number(n.clone()))),
        Expr::String(s) => Ok(Some(Value::String(s.clone()))),
        Expr::List(items) => eval_list(items, ctx, path).map(|v| Some(Value::Array(v))),
        Expr::Map(map) => eval_map(map, ctx, path).map(|m| Some(Value::Object(m))),
        Expr::Ref(name) => functions::reference(name, ctx, path),
        Expr::GetAtt {
            resource,
            attribute,
        } => functions::get_att(resource, attribute, ctx, path).map(Some),
        Expr::Call { function, args } => functions::call(function, args, ctx, path),
    }
}

/// Keeps the first user error; if there is none, the first "unknown".
#[derive(Default)]
struct Failures {
    unknown: Option<EvalError>,
}

impl Failures {
    fn absorb<T>(&mut self, result: Result<T, EvalError>) -> Result<Option<T>, EvalError> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_unknown() => {
                self.unknown.get_or_insert(e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn finish<T>(self, value: T) -> Result<T, EvalError> {
        match self.unknown {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

fn eval_list(items: &[Expr], ctx: &EvalContext<'_>, path: &str) -> Result<Vec<Value>, EvalError> {
    let mut failures = Failures::default();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(Some(value)) = failures.absorb(eval(item, ctx, &format!("{path}[{i}]")))? {
            out.push(value);
        }
    }
    failures.finish(out)
}

fn eval_map(
    map: &ExprMap,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Map<String, Value>, EvalError> {
    let mut failures = Failures::default();
    let mut out = Map::new();
    for (key, item) in map {
        if let Some(Some(value)) = failures.absorb(eval(item, ctx, &join_key(path, key)))? {
            out.insert(key.clone(), value);
        }
    }
    failures.finish(out)
}
