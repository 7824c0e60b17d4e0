//! Template validation: every problem of a template at once, each with the JSON path where it
//! stands, before anything is planned or sent to a cloud.
//!
//! Validation checks what can be known without evaluating anything: that every reference
//! names something that exists, that functions are supported and well formed, that resource
//! types are known, that no section or key is silently ignored, and that the resources form
//! no dependency cycle. Parameter values and property schemas are checked elsewhere.
//!
//! ```
//! use iac_core::loader::load_json;
//! use iac_core::validate::validate;
//!
//! let t = load_json(r#"{
//!   "ROSTemplateFormatVersion": "2015-09-01",
//!   "Resources": {
//!     "Vm": {"Type": "ALIYUN::ECS::Instance",
//!            "Properties": {"VSwitchId": {"Ref": "VSwich"}}}
//!   }
//! }"#).unwrap();
//! let known = |t: &str| t == "ALIYUN::ECS::Instance";
//! let errors = validate(&t, &known, &["ALIYUN::Region"]).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "Resources.Vm.Properties.VSwitchId: Ref to unknown resource or parameter 'VSwich'"
//! );
//! ```

use std::collections::HashSet;
use std::fmt;

use thiserror::Error;

use crate::expr::Expr;
use crate::graph::{
    DepGraph, Found, GraphError, RefKind, Seg, find_cycles, join_key, push_key, render_path, walk,
};
use crate::model::{ROS_FORMAT_VERSION, Template};
use crate::provider::{ErrorKind, Schema};

/// The functions the evaluator supports (one list, the evaluator's); any other `Fn::` key is
/// reported.
pub use crate::eval::SUPPORTED_FUNCTIONS;

/// Top-level sections of the ROS format that this SDK does not support.
const KNOWN_UNSUPPORTED_SECTIONS: &[&str] = &["Transform", "Rules", "Locals", "Workspace"];

/// Resource keys of the ROS format that this SDK does not support.
const KNOWN_UNSUPPORTED_RESOURCE_KEYS: &[&str] = &["Count", "UpdatePolicy"];

/// What kind of problem a [`ValidationError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A reference names no resource, parameter, pseudo parameter, condition or mapping.
    UnknownReference,
    /// A reference names something of the wrong kind (`Fn::GetAtt` on a parameter, a `Ref`
    /// to a resource inside `Conditions`).
    WrongReference,
    /// A resource type no provider handles.
    UnknownResourceType,
    /// A function call with the wrong shape (`{"Ref": 3}`, an unparsable `Fn::Sub` text).
    MalformedCall,
    /// A function the evaluator does not support.
    UnsupportedFunction,
    /// A section or key this SDK does not support or does not know.
    Unsupported,
    /// A `ROSTemplateFormatVersion` other than `2015-09-01`.
    FormatVersion,
    /// A dependency cycle between resources or between conditions.
    Cycle,
    /// The same name is used by a resource and a parameter.
    DuplicateName,
    /// A property the resource type requires is not set.
    MissingProperty,
    /// A property the resource type's schema does not list (a warning).
    UnknownProperty,
    /// An attribute (`Fn::GetAtt`, `${Res.Attr}`) the resource type's handler does not
    /// give.
    UnknownAttribute,
    /// A parameter value breaks its declaration (type, `AllowedValues`, lengths, ...), or
    /// a parameter without `Default` was given no value.
    Parameter,
}

/// One problem of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON path where the problem stands (`Resources.Vm.Properties.VSwitchId`).
    pub path: String,
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// What is wrong, naming the offending name or function.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a template, sorted by path (then message). Displays one problem
/// per line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    /// Gathers problems found by a front-end's own checks (a template format's import, for
    /// example), sorted by path (then message) like [`validate`]'s; `None` when there are
    /// none.
    pub fn from_problems(mut errors: Vec<ValidationError>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        sort_problems(&mut errors);
        Some(ValidationErrors { errors })
    }

    /// Problems found by several checks, as one report: sorted by path (then message),
    /// duplicates dropped. `errors` must not be empty.
    pub fn new(mut errors: Vec<ValidationError>) -> Self {
        sort_problems(&mut errors);
        ValidationErrors { errors }
    }

    /// The problems, sorted by path.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }

    /// The number of problems (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `ValidationErrors` holds at least one problem.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Always [`ErrorKind::Invalid`]: the template has to change.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Checks `template` and reports every problem together.
///
/// `known_types` says whether a resource type has a handler (usually
/// `|t| registry.get(t).is_some()`); `pseudo_parameters` are the names a `Ref` may use
/// besides parameters and resources (`ALIYUN::Region`, `ALIYUN::StackName`, ...).
pub fn validate(
    template: &Template,
    known_types: &dyn Fn(&str) -> bool,
    pseudo_parameters: &[&str],
) -> Result<(), ValidationErrors> {
    validate_with_graph(template, known_types, pseudo_parameters).map(drop)
}

/// Like [`validate`], and hands back the dependency graph built for the cycle check (or why
/// it could not be built), so that the engine does not build it a second time.
pub(crate) fn validate_with_graph(
    template: &Template,
    known_types: &dyn Fn(&str) -> bool,
    pseudo_parameters: &[&str],
) -> Result<Result<DepGraph, GraphError>, ValidationErrors> {
    let mut v = Validator {
        template,
        pseudo: pseudo_parameters.iter().copied().collect(),
        errors: Vec::new(),
    };
    v.check_sections();
    v.check_conditions();
    v.check_resources(known_types);
    v.check_outputs();
    let graph = v.check_cycles();
    let errors = v.errors;
    if errors.is_empty() {
        return Ok(graph);
    }
    Err(ValidationErrors::new(errors))
}

fn sort_problems(problems: &mut Vec<ValidationError>) {
    problems.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    problems.dedup();
}

/// What [`check_properties`] found: errors that stop a deployment and warnings that do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyFindings {
    /// Required properties that are not set ([`ProblemKind::MissingProperty`]), sorted by
    /// path.
    pub errors: Vec<ValidationError>,
    /// Properties a strict schema does not list ([`ProblemKind::UnknownProperty`]): the
    /// cloud may know them, the handler will not send them. Sorted by path.
    pub warnings: Vec<ValidationError>,
}

/// Checks every resource's property names against its type's schema: a required property
/// that is missing is an error; a property that a strict schema (one that lists every
/// property its handler sends) does not list is a warning. Types `schema_of` does not know
/// are skipped (validation reports them). A property set through `Fn::If` or to
/// `ALIYUN::NoValue` counts as set: its value is only known at evaluation. Attributes read
/// (`Fn::GetAtt`, `${Res.Attr}`) in properties and outputs must be ones the schema lists;
/// a listed `Prefix.*` stands for every `Prefix.<name>` (a nested stack's `Outputs.*`).
pub fn check_properties<'s>(
    template: &Template,
    schema_of: &dyn Fn(&str) -> Option<&'s Schema>,
) -> PropertyFindings {
    let mut findings = PropertyFindings::default();
    for (id, spec) in &template.resources {
        let Some(schema) = schema_of(&spec.type_name) else {
            continue;
        };
        let base = Base::of(&["Resources", id, "Properties"]);
        for property in schema.properties.iter().filter(|p| p.required) {
            if !spec.properties.contains_key(&property.name) {
                findings.errors.push(ValidationError {
                    path: base.render(),
                    kind: ProblemKind::MissingProperty,
                    message: format!(
                        "property '{}' is required by {}",
                        property.name, spec.type_name
                    ),
                });
            }
        }
        if schema.strict_properties {
            for name in spec.properties.keys() {
                if schema.property(name).is_none() {
                    findings.warnings.push(ValidationError {
                        path: base.key(name).render(),
                        kind: ProblemKind::UnknownProperty,
                        message: format!(
                            "property '{name}' is not known to the {} handler and is ignored",
                            spec.type_name
                        ),
                    });
                }
            }
        }
    }
    let mut attribute_problems = Vec::new();
    let mut check_attributes = |expr: &Expr, base: &str| {
        for reference in crate::graph::references_at(expr, base) {
            let (Some(attribute), Some(spec)) = (
                reference.attribute.as_deref(),
                template.resources.get(&reference.name),
            ) else {
                continue;
            };
            if let Some(schema) = schema_of(&spec.type_name)
                && !schema.attributes.iter().any(|a| {
                    a == attribute
                        || a.strip_suffix('*').is_some_and(|prefix| {
                            prefix.ends_with('.') && attribute.starts_with(prefix)
                        })
                })
            {
                attribute_problems.push(ValidationError {
                    path: reference.path,
                    kind: ProblemKind::UnknownAttribute,
                    message: format!(
                        "{} has no attribute '{attribute}' (it gives: {})",
                        spec.type_name,
                        schema.attributes.join(", ")
                    ),
                });
            }
        }
    };
    for (id, spec) in &template.resources {
        let base = Base::of(&["Resources", id, "Properties"]).render();
        for (key, value) in &spec.properties {
            check_attributes(value, &join_key(&base, key));
        }
    }
    for (name, output) in &template.outputs {
        check_attributes(
            &output.value,
            &Base::of(&["Outputs", name, "Value"]).render(),
        );
    }
    findings.errors.extend(attribute_problems);
    sort_problems(&mut findings.errors);
    sort_problems(&mut findings.warnings);
    findings
}

/// Where an expression stands, which decides what its references may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `Conditions`: parameters, pseudo parameters and other conditions only.
    Condition,
    /// Resource properties and outputs: resources too.
    Value,
    /// A resource's `ExternalId`: parameters and pseudo parameters only (the object exists
    /// before the stack, so its id cannot come from another resource).
    External,
}

/// A JSON path made of keys (`Resources`, an id, `Properties`, a key), rendered as
/// [`join_key`] would only when a problem is reported: a sound template renders none.
#[derive(Debug, Clone, Copy)]
struct Base<'a> {
    keys: [&'a str; 4],
    len: usize,
}

impl<'a> Base<'a> {
    fn of(keys: &[&'a str]) -> Self {
        let mut base = Base {
            keys: [""; 4],
            len: keys.len(),
        };
        base.keys[..keys.len()].copy_from_slice(keys);
        base
    }

    fn key(self, key: &'a str) -> Self {
        let mut base = self;
        base.keys[base.len] = key;
        base.len += 1;
        base
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for key in &self.keys[..self.len] {
            push_key(&mut out, key);
        }
        out
    }

    fn render_with(&self, segs: &[Seg<'_>]) -> String {
        render_path(&self.render(), segs)
    }
}

struct Validator<'t> {
    template: &'t Template,
    pseudo: HashSet<&'t str>,
    errors: Vec<ValidationError>,
}

impl<'t> Validator<'t> {
    fn report(&mut self, path: String, kind: ProblemKind, message: String) {
        self.errors.push(ValidationError {
            path,
            kind,
            message,
        });
    }

    fn check_sections(&mut self) {
        let t = self.template;
        if let Some(version) = &t.format_version
            && version != ROS_FORMAT_VERSION
        {
            self.report(
                "ROSTemplateFormatVersion".into(),
                ProblemKind::FormatVersion,
                format!("unsupported format version '{version}' (expected '{ROS_FORMAT_VERSION}')"),
            );
        }
        for key in t.unsupported.keys() {
            let message = if KNOWN_UNSUPPORTED_SECTIONS.contains(&key.as_str()) {
                format!("section '{key}' is not supported")
            } else {
                format!("unknown section '{key}'")
            };
            self.report(join_key("", key), ProblemKind::Unsupported, message);
        }
        if t.parameters.is_empty() {
            return;
        }
        for id in t.resources.keys() {
            if t.parameters.contains_key(id) {
                self.report(
                    join_key("Resources", id),
                    ProblemKind::DuplicateName,
                    format!("logical id '{id}' is also the name of a parameter"),
                );
            }
        }
    }

    fn check_conditions(&mut self) {
        let t = self.template;
        let mut dependencies: Vec<Vec<usize>> = Vec::with_capacity(t.conditions.len());
        for (name, expr) in &t.conditions {
            let base = Base::of(&["Conditions", name]);
            let found = self.check_expr(expr, base, Scope::Condition);
            dependencies.push(
                found
                    .iter()
                    .filter_map(|c| t.conditions.get_index_of(c.as_str()))
                    .collect(),
            );
        }
        for cycle in find_cycles(&dependencies) {
            let names: Vec<&str> = cycle
                .iter()
                .filter_map(|&i| t.conditions.get_index(i).map(|(n, _)| n.as_str()))
                .collect();
            self.report(
                join_key("Conditions", names[0]),
                ProblemKind::Cycle,
                format!("condition cycle {}", names.join(" -> ")),
            );
        }
    }

    fn check_resources(&mut self, known_types: &dyn Fn(&str) -> bool) {
        let t = self.template;
        for (id, spec) in &t.resources {
            let base = Base::of(&["Resources", id]);
            if !known_types(&spec.type_name) {
                self.report(
                    base.key("Type").render(),
                    ProblemKind::UnknownResourceType,
                    format!("unknown resource type '{}'", spec.type_name),
                );
            }
            for key in spec.unsupported.keys() {
                let message = if key == crate::count::COUNT_KEY {
                    "Count must be expanded before validation (iac_core::count::expand)".to_owned()
                } else if KNOWN_UNSUPPORTED_RESOURCE_KEYS.contains(&key.as_str()) {
                    format!("key '{key}' is not supported on a resource")
                } else {
                    format!("unknown key '{key}' on a resource")
                };
                self.report(base.key(key).render(), ProblemKind::Unsupported, message);
            }
            for dep in &spec.depends_on {
                if !t.resources.contains_key(dep) {
                    self.report(
                        base.key("DependsOn").render(),
                        ProblemKind::UnknownReference,
                        format!("DependsOn names unknown resource '{dep}'"),
                    );
                }
            }
            if let Some(condition) = &spec.condition {
                self.check_condition_name(base.key("Condition"), condition);
            }
            if let Some(external) = &spec.external_id {
                self.check_expr(external, base.key("ExternalId"), Scope::External);
            }
            let properties = base.key("Properties");
            for (key, value) in &spec.properties {
                self.check_expr(value, properties.key(key), Scope::Value);
            }
        }
    }

    fn check_outputs(&mut self) {
        let t = self.template;
        for (name, output) in &t.outputs {
            let base = Base::of(&["Outputs", name]);
            if let Some(condition) = &output.condition {
                self.check_condition_name(base.key("Condition"), condition);
            }
            self.check_expr(&output.value, base.key("Value"), Scope::Value);
        }
    }

    /// Reports the cycles of the resources' graph and hands the graph back (or why it could
    /// not be built).
    fn check_cycles(&mut self) -> Result<DepGraph, GraphError> {
        // Missing references are reported by the checks above; only cycles are new here.
        let graph = DepGraph::from_template(self.template);
        if let Err(err) = &graph {
            for cycle in err.cycles() {
                self.report(
                    join_key("Resources", &cycle.0[0]),
                    ProblemKind::Cycle,
                    format!("dependency cycle {cycle}"),
                );
            }
        }
        graph
    }

    fn check_condition_name(&mut self, path: Base<'_>, name: &str) {
        if let Some(message) = condition_name_problem(self.template, name) {
            self.report(path.render(), ProblemKind::UnknownReference, message);
        }
    }

    /// Checks one expression; returns the condition names it references (for cycles
    /// between conditions). Paths are rendered only for the problems found.
    fn check_expr(&mut self, expr: &Expr, base: Base<'_>, scope: Scope) -> Vec<String> {
        let t = self.template;
        let pseudo = &self.pseudo;
        let errors = &mut self.errors;
        let mut conditions = Vec::new();
        let mut path = Vec::new();
        walk(expr, &mut path, &mut |segs: &[Seg<'_>], item: Found<'_>| {
            let problem = match item {
                Found::Reference {
                    kind,
                    name,
                    attribute,
                } => {
                    if kind == RefKind::Condition {
                        conditions.push(name.clone().into_owned());
                    }
                    reference_problem(t, pseudo, scope, kind, &name, attribute.as_deref())
                }
                Found::Call { function, args } => call_problem_of(t, function, args),
                Found::BadSub { message } => Some((
                    ProblemKind::MalformedCall,
                    format!("Fn::Sub text is malformed: {message}"),
                )),
            };
            if let Some((kind, message)) = problem {
                errors.push(ValidationError {
                    path: base.render_with(segs),
                    kind,
                    message,
                });
            }
        });
        conditions
    }
}

fn condition_name_problem(t: &Template, name: &str) -> Option<String> {
    (!t.conditions.contains_key(name)).then(|| format!("unknown condition '{name}'"))
}

/// The problem of one reference, if any.
fn reference_problem(
    t: &Template,
    pseudo: &HashSet<&str>,
    scope: Scope,
    kind: RefKind,
    name: &str,
    attribute: Option<&str>,
) -> Option<(ProblemKind, String)> {
    if kind == RefKind::Condition {
        return condition_name_problem(t, name).map(|m| (ProblemKind::UnknownReference, m));
    }
    let is_resource = t.resources.contains_key(name);
    let needs_resource = kind == RefKind::GetAtt || attribute.is_some();
    // The common case, settled without looking further.
    if is_resource && scope == Scope::Value {
        return None;
    }
    let is_value = t.parameters.contains_key(name) || pseudo.contains(name);
    // How the reference reads in a message: `Ref`, `Fn::GetAtt`, `Fn::Sub variable 'X.Y'`.
    let what = || match (kind, attribute) {
        (RefKind::Sub, Some(attribute)) => format!("Fn::Sub variable '{name}.{attribute}'"),
        (RefKind::Sub, None) => format!("Fn::Sub variable '{name}'"),
        (other, _) => other.as_str().to_owned(),
    };
    if scope != Scope::Value && (is_resource || needs_resource) {
        let what = what();
        let place = if scope == Scope::Condition {
            "a condition (conditions can only use parameters)"
        } else {
            "an ExternalId (it can only use parameters: the object exists before the stack)"
        };
        let message = if is_resource {
            format!("{what} to resource '{name}' in {place}")
        } else {
            format!("{what} in {place}")
        };
        return Some((ProblemKind::WrongReference, message));
    }
    if needs_resource {
        if is_resource {
            return None;
        }
        let what = what();
        return Some(if is_value {
            (
                ProblemKind::WrongReference,
                format!("{what} names parameter '{name}', not a resource"),
            )
        } else {
            (
                ProblemKind::UnknownReference,
                format!("{what} to unknown resource '{name}'"),
            )
        });
    }
    if !is_resource && !is_value {
        let what = what();
        let message = match (scope, kind) {
            (Scope::Condition | Scope::External, _) => {
                format!("{what} to unknown parameter '{name}'")
            }
            (Scope::Value, RefKind::Sub) => {
                format!("{what} is not a resource, parameter or local variable")
            }
            (Scope::Value, _) => format!("{what} to unknown resource or parameter '{name}'"),
        };
        return Some((ProblemKind::UnknownReference, message));
    }
    None
}

/// The problem of one function call, if any.
fn call_problem_of(t: &Template, function: &str, args: &Expr) -> Option<(ProblemKind, String)> {
    if !SUPPORTED_FUNCTIONS.contains(&function) {
        return Some((
            ProblemKind::UnsupportedFunction,
            format!("function '{function}' is not supported"),
        ));
    }
    match call_problem(function, args) {
        Some(CallProblem::Shape(message)) => Some((ProblemKind::MalformedCall, message)),
        Some(CallProblem::UnknownMapping(map)) if !t.mappings.contains_key(&map) => Some((
            ProblemKind::UnknownReference,
            format!("Fn::FindInMap names unknown mapping '{map}'"),
        )),
        Some(CallProblem::UnknownMapping(_)) | None => None,
    }
}

enum CallProblem {
    /// The arguments have the wrong shape; the message says which shape is expected.
    Shape(String),
    /// `Fn::FindInMap` with a literal map name, to look up in `Mappings`.
    UnknownMapping(String),
}

fn type_name(expr: &Expr) -> &'static str {
    match expr {
        Expr::Null => "null",
        Expr::Bool(_) => "a boolean",
        Expr::Number(_) => "a number",
        Expr::String(_) => "a string",
        Expr::List(_) => "a list",
        Expr::Map(_) => "a map",
        Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. } => "a function call",
    }
}

/// The structural check of a supported function's arguments. Arguments that are themselves
/// function calls are accepted: their value is only known at evaluation.
fn call_problem(function: &str, args: &Expr) -> Option<CallProblem> {
    let shape = |expected: &str| {
        Some(CallProblem::Shape(format!(
            "{function} takes {expected}, got {}",
            describe_args(args)
        )))
    };
    let list_of = |n: usize, expected: &str| match args {
        Expr::List(items) if items.len() == n => None,
        Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. } => None,
        _ => shape(expected),
    };
    match function {
        // Read from JSON, a well-formed Ref or GetAtt is never a call; built in Rust, it
        // may be.
        "Ref" => match args {
            Expr::String(_) => None,
            _ => shape("a name (a string)"),
        },
        // The attribute name may be computed; a path after it selects inside its value
        // (HOT `get_attr`). The resource must be named, so that the dependency is known.
        "Fn::GetAtt" => match args {
            Expr::List(items)
                if matches!(
                    items.as_slice(),
                    [
                        Expr::String(_),
                        Expr::String(_) | Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. },
                        ..
                    ]
                ) =>
            {
                None
            }
            Expr::String(dotted) if dotted.contains('.') => None,
            _ => shape("[resource, attribute, path...] (a resource name first)"),
        },
        "Condition" => match args {
            Expr::String(_) => None,
            _ => shape("a condition name (a string)"),
        },
        "Fn::Sub" => match args {
            Expr::String(_) => None,
            Expr::List(items) => match items.as_slice() {
                [Expr::String(_)] | [Expr::String(_), Expr::Map(_)] => None,
                _ => shape("a text or [text, {variables}]"),
            },
            _ => shape("a text or [text, {variables}]"),
        },
        "Fn::If" => match args {
            Expr::List(items) if items.len() == 3 && matches!(items[0], Expr::String(_)) => None,
            _ => shape("[condition name, value if true, value if false]"),
        },
        "Fn::FindInMap" => match args {
            Expr::List(items) if items.len() == 3 => match &items[0] {
                Expr::String(map) => Some(CallProblem::UnknownMapping(map.clone())),
                _ => None,
            },
            _ => list_of(3, "[map name, top-level key, second-level key]"),
        },
        "Fn::Join" => list_of(2, "[delimiter, list]"),
        "Fn::Select" => list_of(2, "[index, list or map]"),
        "Fn::Split" => list_of(2, "[delimiter, text]"),
        "Fn::Replace" => list_of(2, "[{find: replace}, text]"),
        "Fn::Equals" => list_of(2, "[value, value]"),
        "Fn::And" | "Fn::Or" => match args {
            Expr::List(items) if items.len() >= 2 => None,
            _ => shape("a list of at least two conditions"),
        },
        "Fn::Error" => match args {
            Expr::String(_) | Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. } => None,
            _ => shape("a message (a string)"),
        },
        "Fn::EqualsStrict" => list_of(2, "[value, value]"),
        "Fn::Contains" => list_of(2, "[value, list or text]"),
        "Fn::Filter" => list_of(2, "[values to drop, list]"),
        "Fn::MapReplace" => list_of(2, "[map, {\"keys\": {...}, \"values\": {...}}]"),
        "Fn::StrSplit" => match args {
            Expr::List(items) if (2..=3).contains(&items.len()) => None,
            Expr::List(_) => shape("[delimiter, text] or [delimiter, text, index]"),
            _ => None,
        },
        "Fn::ListJoin" => match args {
            Expr::List(items) if items.len() >= 2 => None,
            Expr::List(_) => shape("[delimiter, list, ...]"),
            _ => None,
        },
        "Fn::StrReplace" | "Fn::StrReplaceStrict" | "Fn::StrReplaceVStrict" => {
            keys_of(args, &["template", "params"], &[])
                .then(|| shape("{\"template\": text, \"params\": {placeholder: value}}"))
                .flatten()
        }
        "Fn::Repeat" => keys_of(args, &["for_each", "template"], &["permutations"])
            .then(|| shape("{\"for_each\": {placeholder: list}, \"template\": value}"))
            .flatten(),
        _ => None,
    }
}

/// True when `args` is a map that lacks one of `required` or has a key outside `required`
/// and `optional` (a computed argument is not judged).
fn keys_of(args: &Expr, required: &[&str], optional: &[&str]) -> bool {
    match args {
        Expr::Map(map) => {
            required.iter().any(|k| !map.contains_key(*k))
                || map
                    .keys()
                    .any(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
        }
        Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. } => false,
        _ => true,
    }
}

fn describe_args(args: &Expr) -> String {
    match args {
        Expr::List(items) => format!("a list of {}", items.len()),
        Expr::Map(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            format!("a map with keys [{}]", keys.join(", "))
        }
        other => type_name(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::load_json;

    const PSEUDO: &[&str] = &["ALIYUN::Region", "ALIYUN::StackName", "ALIYUN::NoValue"];

    fn known(t: &str) -> bool {
        t.starts_with("ALIYUN::ECS::") && t != "ALIYUN::ECS::Vpcc"
    }

    fn check(json: &str) -> Result<(), ValidationErrors> {
        validate(
            &load_json(json).expect("test template loads"),
            &known,
            PSEUDO,
        )
    }

    #[test]
    fn a_sound_template_passes() {
        check(
            r#"{
              "ROSTemplateFormatVersion": "2015-09-01",
              "Parameters": {"Zone": {"Type": "String"}, "Env": {"Type": "String"}},
              "Mappings": {"Sizes": {"prod": {"Type": "ecs.g6.large"}}},
              "Conditions": {
                "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "NotProd": {"Fn::Not": {"Condition": "IsProd"}}
              },
              "Resources": {
                "Vpc": {"Type": "ALIYUN::ECS::VPC", "Properties": {"CidrBlock": "10.0.0.0/8"}},
                "Vsw": {"Type": "ALIYUN::ECS::VSwitch", "DependsOn": "Vpc",
                        "Properties": {"VpcId": {"Ref": "Vpc"}, "ZoneId": {"Ref": "Zone"}}},
                "Vm": {"Type": "ALIYUN::ECS::Instance", "Condition": "IsProd",
                       "Properties": {
                         "VSwitchId": {"Fn::GetAtt": ["Vsw", "VSwitchId"]},
                         "InstanceType": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Type"]},
                         "UserData": {"Fn::Sub": ["${Vpc} ${Local} ${ALIYUN::Region} ${!Raw}",
                                                  {"Local": "x"}]},
                         "Name": {"Fn::If": ["NotProd", "dev", {"Ref": "ALIYUN::NoValue"}]}
                       }}
              },
              "Outputs": {"Ip": {"Condition": "IsProd",
                                 "Value": {"Fn::GetAtt": ["Vm", "PrivateIp"]}}}
            }"#,
        )
        .unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let errors = check(
            r#"{
              "ROSTemplateFormatVersion": "2014-01-01",
              "Transform": "Aliyun::Serverless-2018-04-03",
              "Resource": {},
              "Parameters": {"Zone": {"Type": "String"}, "Vsw": {"Type": "String"}},
              "Conditions": {
                "UsesResource": {"Fn::Equals": [{"Ref": "Vpc"}, "x"]},
                "UsesAttr": {"Fn::Equals": [{"Fn::GetAtt": ["Vpc", "VpcId"]}, "x"]},
                "Loop1": {"Fn::Not": {"Condition": "Loop2"}},
                "Loop2": {"Fn::And": [{"Condition": "Loop1"}, {"Condition": "Nowhere"}]}
              },
              "Resources": {
                "Vpc": {"Type": "ALIYUN::ECS::Vpcc", "Count": 2, "Colour": "red"},
                "Vsw": {"Type": "ALIYUN::ECS::VSwitch", "DependsOn": ["Vpc", "Ghost"],
                        "Condition": "NoSuchCondition",
                        "Properties": {"VpcId": {"Ref": "Vpc"}}},
                "Master": {"Type": "ALIYUN::ECS::Instance",
                  "Properties": {
                    "VSwitchId": {"Ref": "VSwich"},
                    "ZoneId": {"Fn::GetAtt": ["Zone", "Id"]},
                    "Bad": {"Ref": 3},
                    "BadAtt": {"Fn::GetAtt": ["Vpc"]},
                    "Jq": {"Fn::Jq": ["First", ".a", {}]},
                    "Sub": {"Fn::Sub": "${Missing} ${Vpc.VpcId} ${Gone.Attr} ${Unclosed"},
                    "Sub2": {"Fn::Sub": ["${Local} ${Nope}", {"Local": {"Ref": "Nada"}}]},
                    "If": {"Fn::If": ["Unknown", 1, 2]},
                    "If2": {"Fn::If": ["Loop1", 1]},
                    "Map": {"Fn::FindInMap": ["NoMap", "a", "b"]},
                    "Join": {"Fn::Join": ","},
                    "Loop": {"Ref": "Worker"}
                  }},
                "Worker": {"Type": "ALIYUN::ECS::Instance",
                  "Properties": {"Peer": {"Fn::GetAtt": ["Master", "PrivateIp"]}}}
              },
              "Outputs": {
                "A": {"Value": {"Ref": "Absent"}, "Condition": "Nope"},
                "B": {"Value": {"Fn::Select": [0]}}
              }
            }"#,
        )
        .unwrap_err();
        assert_eq!(errors.kind(), ErrorKind::Invalid);
        assert!(
            errors
                .errors()
                .windows(2)
                .all(|w| (&w[0].path, &w[0].message) <= (&w[1].path, &w[1].message))
        );
        insta::assert_snapshot!(errors.to_string());
    }

    #[test]
    fn problems_carry_a_kind() {
        let errors = check(
            r#"{"Resources": {
                 "A": {"Type": "ALIYUN::ECS::VPC", "Properties": {"X": {"Ref": "B"}}},
                 "B": {"Type": "ALIYUN::ECS::VPC", "Properties": {"X": {"Ref": "A"}}},
                 "C": {"Type": "Nope::Type"}
               }}"#,
        )
        .unwrap_err();
        let kinds: Vec<(&str, ProblemKind)> = errors
            .errors()
            .iter()
            .map(|e| (e.path.as_str(), e.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("Resources.A", ProblemKind::Cycle),
                ("Resources.C.Type", ProblemKind::UnknownResourceType),
            ]
        );
        assert_eq!(
            errors.errors()[0].to_string(),
            "Resources.A: dependency cycle A -> B -> A"
        );
        assert_eq!(errors.len(), 2);
        assert!(!errors.is_empty());
    }

    #[test]
    fn calls_built_in_rust_are_not_malformed() {
        let mut t = load_json(
            r#"{"Resources": {"Vpc": {"Type": "ALIYUN::ECS::VPC"},
                              "Vm": {"Type": "ALIYUN::ECS::Instance"}}}"#,
        )
        .unwrap();
        let props = &mut t.resources["Vm"].properties;
        props.insert("A".into(), Expr::call("Ref", Expr::from("Vpc")));
        props.insert(
            "B".into(),
            Expr::call("Fn::GetAtt", Expr::from(vec!["Vpc", "VpcId"])),
        );
        props.insert("C".into(), Expr::call("Ref", Expr::from("Nope")));
        let errors = validate(&t, &known, PSEUDO).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Resources.Vm.Properties.C: Ref to unknown resource or parameter 'Nope'"
        );
        assert_eq!(
            DepGraph::from_template(&t).unwrap().dependencies_of("Vm"),
            vec!["Vpc"]
        );
    }

    #[test]
    fn a_resource_may_not_share_a_parameter_name() {
        let errors = check(
            r#"{"Parameters": {"Vpc": {"Type": "String"}},
                "Resources": {"Vpc": {"Type": "ALIYUN::ECS::VPC"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Resources.Vpc: logical id 'Vpc' is also the name of a parameter"
        );
    }

    #[test]
    fn getatt_on_a_parameter_is_a_wrong_reference() {
        let errors = check(
            r#"{"Parameters": {"P": {"Type": "String"}},
                "Resources": {"R": {"Type": "ALIYUN::ECS::VPC",
                  "Properties": {"X": {"Fn::GetAtt": ["P", "Id"]}, "Y": {"Fn::Sub": "${P.Id}"}}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Resources.R.Properties.X: Fn::GetAtt names parameter 'P', not a resource\n\
             Resources.R.Properties.Y: Fn::Sub variable 'P.Id' names parameter 'P', not a resource"
        );
        assert!(
            errors
                .errors()
                .iter()
                .all(|e| e.kind == ProblemKind::WrongReference)
        );
    }

    #[test]
    fn hot_functions_are_checked_for_shape() {
        let errors = check(
            r#"{"Resources": {
                 "Vpc": {"Type": "ALIYUN::ECS::VPC"},
                 "R": {"Type": "ALIYUN::ECS::VPC", "Properties": {
                   "Path": {"Fn::GetAtt": ["Vpc", "Ids", 0, "name"]},
                   "Computed": {"Fn::GetAtt": ["Vpc", {"Fn::Join": ["", ["I", "ds"]]}]},
                   "NoName": {"Fn::GetAtt": [{"Ref": "Vpc"}, "Ids"]},
                   "Fine": {"Fn::StrReplace": {"template": "x", "params": {}}},
                   "ComputedArgs": {"Fn::StrReplace": {"Fn::MapMerge": [{}]}},
                   "Missing": {"Fn::StrReplace": {"template": "x"}},
                   "Extra": {"Fn::Repeat": {"for_each": {}, "template": 1, "loop": true}},
                   "NotAMap": {"Fn::Repeat": [1]},
                   "Split": {"Fn::StrSplit": [","]},
                   "Join": {"Fn::ListJoin": [","]},
                   "Eq": {"Fn::EqualsStrict": [1, 2, 3]},
                   "In": {"Fn::Contains": ["a"]},
                   "Raised": {"Fn::Error": "deferred"},
                   "RaisedBadly": {"Fn::Error": ["a"]}
                 }}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Resources.R.Properties.Eq: Fn::EqualsStrict takes [value, value], got a list of 3\n\
             Resources.R.Properties.Extra: Fn::Repeat takes {\"for_each\": {placeholder: list}, \
             \"template\": value}, got a map with keys [for_each, template, loop]\n\
             Resources.R.Properties.In: Fn::Contains takes [value, list or text], got a list of 1\n\
             Resources.R.Properties.Join: Fn::ListJoin takes [delimiter, list, ...], got a list of 1\n\
             Resources.R.Properties.Missing: Fn::StrReplace takes {\"template\": text, \"params\": \
             {placeholder: value}}, got a map with keys [template]\n\
             Resources.R.Properties.NoName: Fn::GetAtt takes [resource, attribute, path...] (a \
             resource name first), got a list of 2\n\
             Resources.R.Properties.NotAMap: Fn::Repeat takes {\"for_each\": {placeholder: list}, \
             \"template\": value}, got a list of 1\n\
             Resources.R.Properties.RaisedBadly: Fn::Error takes a message (a string), got a \
             list of 1\n\
             Resources.R.Properties.Split: Fn::StrSplit takes [delimiter, text] or [delimiter, text, \
             index], got a list of 1"
        );
        // A get_attr path keeps the dependency on the resource.
        let t = load_json(
            r#"{"Resources": {"Vpc": {"Type": "ALIYUN::ECS::VPC"},
                 "R": {"Type": "ALIYUN::ECS::VPC",
                       "Properties": {"X": {"Fn::GetAtt": ["Vpc", "Ids", 0]}}}}}"#,
        )
        .unwrap();
        assert_eq!(
            DepGraph::from_template(&t).unwrap().dependencies_of("R"),
            vec!["Vpc"]
        );
    }

    #[test]
    fn front_ends_can_report_their_own_problems() {
        assert!(ValidationErrors::from_problems(Vec::new()).is_none());
        let problem = |path: &str| ValidationError {
            path: path.to_owned(),
            kind: ProblemKind::Unsupported,
            message: "m".to_owned(),
        };
        let errors =
            ValidationErrors::from_problems(vec![problem("b"), problem("a"), problem("b")])
                .unwrap();
        assert_eq!(errors.to_string(), "a: m\nb: m");
    }

    #[test]
    fn properties_are_checked_against_the_schemas() {
        use crate::provider::UpdateBehavior::Mutable;
        let strict = Schema::new("ALIYUN::ECS::VSwitch")
            .with_attributes(&["VSwitchId", "CidrBlock", "Outputs.*"])
            .with_property("VpcId", true, Mutable)
            .with_property("ZoneId", true, Mutable)
            .with_property("VSwitchName", false, Mutable)
            .strict();
        let lenient = Schema::new("ALIYUN::ECS::VPC").with_property("CidrBlock", true, Mutable);
        let t = load_json(
            r#"{"Resources": {
                 "Vsw": {"Type": "ALIYUN::ECS::VSwitch",
                         "Properties": {"VpcId": "v", "Colour": "red", "Name": "x"}},
                 "Vpc": {"Type": "ALIYUN::ECS::VPC", "Properties": {"Other": 1}},
                 "X": {"Type": "Unknown::Type", "Properties": {
                   "Y": {"Fn::GetAtt": ["Vsw", "VSwitchId"]},
                   "Z": {"Fn::Sub": "${Vsw.Cidr}"},
                   "W": {"Fn::GetAtt": ["Vsw", "Outputs.Any"]},
                   "V": {"Fn::GetAtt": ["Vsw", "Outputs"]}}}},
                "Outputs": {"O": {"Value": {"Fn::GetAtt": ["X", "Any"]}}}}"#,
        )
        .unwrap();
        let schema_of = |t: &str| match t {
            "ALIYUN::ECS::VSwitch" => Some(&strict),
            "ALIYUN::ECS::VPC" => Some(&lenient),
            _ => None,
        };
        let found = check_properties(&t, &schema_of);
        let render = |v: &[ValidationError]| {
            v.iter()
                .map(|e| format!("{:?} {e}", e.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            render(&found.errors),
            [
                "MissingProperty Resources.Vpc.Properties: property 'CidrBlock' is required by ALIYUN::ECS::VPC",
                "MissingProperty Resources.Vsw.Properties: property 'ZoneId' is required by ALIYUN::ECS::VSwitch",
                "UnknownAttribute Resources.X.Properties.V: ALIYUN::ECS::VSwitch has no attribute 'Outputs' (it gives: VSwitchId, CidrBlock, Outputs.*)",
                "UnknownAttribute Resources.X.Properties.Z: ALIYUN::ECS::VSwitch has no attribute 'Cidr' (it gives: VSwitchId, CidrBlock, Outputs.*)",
            ]
        );
        // The lenient schema does not list every property: its unknown ones are not reported.
        assert_eq!(
            render(&found.warnings),
            [
                "UnknownProperty Resources.Vsw.Properties.Colour: property 'Colour' is not known to the ALIYUN::ECS::VSwitch handler and is ignored",
                "UnknownProperty Resources.Vsw.Properties.Name: property 'Name' is not known to the ALIYUN::ECS::VSwitch handler and is ignored",
            ]
        );
    }
}
