//! HOT document (as JSON) → iac-core [`Template`], collecting every problem with its HOT path.

use std::collections::HashSet;

use iac_core::Expr;
use iac_core::expr::ExprMap;
use iac_core::model::{
    AllowedPattern, DeletionPolicy, OutputSpec, ParamType, ParameterDecl, ResourceSpec, Template,
    Text,
};
use iac_core::params::WholeValuePattern;
use iac_core::validate::{ProblemKind, ValidationError};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::PSEUDO_PARAMETERS;
use super::paths::{join_index, join_key};
use super::version::{FunctionUse, HotVersion};

/// What the translation produced.
pub(crate) struct Translated {
    pub template: Template,
    pub parameter_groups: Vec<Value>,
    pub problems: Vec<ValidationError>,
    /// What Heat accepts at validation and reports later (see `HotTemplate::warnings`).
    pub warnings: Vec<ValidationError>,
    /// Made-up condition name → HOT path of the inline condition.
    pub hoisted: IndexMap<String, String>,
}

/// Where an expression stands, which decides which functions exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Properties, outputs: the version's functions.
    Value,
    /// The `conditions` section and inline conditions: the condition functions.
    Condition,
}

struct Translator<'a> {
    version: &'a HotVersion,
    files: &'a dyn Fn(&str) -> Option<String>,
    parameters: HashSet<String>,
    resources: HashSet<String>,
    condition_names: HashSet<String>,
    problems: Vec<ValidationError>,
    warnings: Vec<ValidationError>,
    /// True while an output's value is translated.
    in_output: bool,
    hoisted_conditions: IndexMap<String, Expr>,
    hoisted: IndexMap<String, String>,
}

pub(crate) fn translate(
    doc: &Map<String, Value>,
    version: &HotVersion,
    files: &dyn Fn(&str) -> Option<String>,
) -> Translated {
    let names = |section: &str| -> HashSet<String> {
        match doc.get(section) {
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            _ => HashSet::new(),
        }
    };
    let mut t = Translator {
        version,
        files,
        parameters: names("parameters"),
        resources: names("resources"),
        condition_names: names("conditions"),
        problems: Vec::new(),
        warnings: Vec::new(),
        in_output: false,
        hoisted_conditions: IndexMap::new(),
        hoisted: IndexMap::new(),
    };
    let mut template = Template::default();
    let mut parameter_groups = Vec::new();
    for (section, value) in doc {
        match section.as_str() {
            "heat_template_version" => {}
            "description" => match value {
                Value::String(s) => template.description = Some(Text::Plain(s.clone())),
                Value::Null => {}
                other => t.problem(
                    section,
                    ProblemKind::Unsupported,
                    format!("must be a text, found {}", kind(other)),
                ),
            },
            "parameter_groups" => parameter_groups = t.parameter_groups(value),
            "parameters" => template.parameters = t.parameters(value),
            "resources" => template.resources = t.resources(value),
            "outputs" => template.outputs = t.outputs(value),
            "conditions" if version.has_conditions() => {
                for (name, definition) in t.section(section, value) {
                    let path = join_key(section, name);
                    let expr = t.condition_definition(definition, &path);
                    template.conditions.insert(name.clone(), expr);
                }
            }
            _ => t.problem(
                &join_key("", section),
                ProblemKind::Unsupported,
                format!("'{section}' is not a valid template section in version {version}"),
            ),
        }
    }
    t.check_groups(&parameter_groups);
    template.conditions.extend(t.hoisted_conditions);
    Translated {
        template,
        parameter_groups,
        problems: t.problems,
        warnings: t.warnings,
        hoisted: t.hoisted,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

impl Translator<'_> {
    fn problem(&mut self, path: &str, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(ValidationError {
            path: path.to_owned(),
            kind,
            message: message.into(),
        });
    }

    /// `value` is not what `path` needs: `expected` is the message up to what was found
    /// (`"must be a map, found "`).
    fn wrong(&mut self, path: &str, expected: &str, value: &Value) {
        self.problem(
            path,
            ProblemKind::Unsupported,
            format!("{expected}{}", kind(value)),
        );
    }

    /// A section that must be a map (null is empty).
    fn section<'v>(&mut self, name: &str, value: &'v Value) -> Vec<(&'v String, &'v Value)> {
        match value {
            Value::Object(map) => map.iter().collect(),
            Value::Null => Vec::new(),
            other => {
                self.wrong(name, "must be a map, found ", other);
                Vec::new()
            }
        }
    }

    // ---- parameters ---------------------------------------------------------------------

    /// Each entry of a section read by `read` at `<section>.<name>`; entries it refuses
    /// (after reporting why) are left out.
    fn entries<T>(
        &mut self,
        section: &str,
        value: &Value,
        read: fn(&mut Self, &Value, &str) -> Option<T>,
    ) -> IndexMap<String, T> {
        let mut out = IndexMap::new();
        for (name, entry) in self.section(section, value) {
            if let Some(entry) = read(self, entry, &join_key(section, name)) {
                out.insert(name.clone(), entry);
            }
        }
        out
    }

    fn parameters(&mut self, value: &Value) -> IndexMap<String, ParameterDecl> {
        self.entries("parameters", value, Self::parameter)
    }

    fn parameter(&mut self, value: &Value, path: &str) -> Option<ParameterDecl> {
        let Value::Object(map) = value else {
            self.wrong(path, "a parameter must be a map, found ", value);
            return None;
        };
        let mut decl = ParameterDecl::default();
        match map.get("type") {
            Some(Value::String(t)) => {
                decl.param_type = match t.as_str() {
                    "string" => ParamType::String,
                    "number" => ParamType::Number,
                    "comma_delimited_list" => ParamType::CommaDelimitedList,
                    "json" => ParamType::Json,
                    "boolean" => ParamType::Boolean,
                    other => {
                        self.problem(
                            &join_key(path, "type"),
                            ProblemKind::Unsupported,
                            format!(
                                "invalid parameter type '{other}' (expected string, number, \
                                 comma_delimited_list, json or boolean)"
                            ),
                        );
                        return None;
                    }
                }
            }
            Some(other) => {
                self.problem(
                    &join_key(path, "type"),
                    ProblemKind::Unsupported,
                    format!("must be a text, found {}", kind(other)),
                );
                return None;
            }
            None => {
                self.problem(path, ProblemKind::Unsupported, "missing parameter type");
                return None;
            }
        }
        for (key, item) in map {
            let here = join_key(path, key);
            match key.as_str() {
                "type" => {}
                "default" => decl.default = Some(item.clone()),
                "description" => decl.description = self.text(item, &here),
                "label" => decl.label = self.text(item, &here),
                "hidden" => decl.no_echo = Some(item.clone()),
                "constraints" => self.constraints(item, &here, &mut decl),
                "immutable" => {
                    decl.extra.insert("Immutable".into(), item.clone());
                }
                "tags" if self.version.at_least("2018-03-02") => {
                    decl.extra.insert("Tags".into(), item.clone());
                }
                other => self.problem(
                    &here,
                    ProblemKind::Unsupported,
                    format!("invalid key '{other}' for a parameter"),
                ),
            }
        }
        Some(decl)
    }

    fn text(&mut self, value: &Value, path: &str) -> Option<Text> {
        match value {
            Value::String(s) => Some(Text::Plain(s.clone())),
            Value::Null => None,
            other => {
                self.wrong(path, "must be a text, found ", other);
                None
            }
        }
    }

    /// `constraints`: a list of one-constraint maps, each with an optional description.
    fn constraints(&mut self, value: &Value, path: &str, decl: &mut ParameterDecl) {
        let Value::Array(items) = value else {
            self.wrong(path, "must be a list of constraints, found ", value);
            return;
        };
        let t = decl.param_type.clone();
        // Each constraint's description, and whether it is an allowed_pattern's.
        let mut descriptions: Vec<(bool, String)> = Vec::new();
        let mut patterns: Vec<AllowedPattern> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let here = join_index(path, i);
            let Value::Object(map) = item else {
                self.wrong(&here, "a constraint must be a map, found ", item);
                continue;
            };
            let kinds: Vec<&String> = map.keys().filter(|k| *k != "description").collect();
            let [name] = kinds.as_slice() else {
                self.problem(
                    &here,
                    ProblemKind::Unsupported,
                    "a constraint must have exactly one constraint key besides 'description'",
                );
                continue;
            };
            let at = join_key(&here, name);
            let arg = &map[name.as_str()];
            let applies = match name.as_str() {
                "length" => matches!(
                    t,
                    ParamType::String | ParamType::CommaDelimitedList | ParamType::Json
                ),
                "range" | "modulo" => t == ParamType::Number,
                "allowed_pattern" => t == ParamType::String,
                _ => true,
            };
            if !applies {
                self.problem(
                    &at,
                    ProblemKind::Unsupported,
                    format!(
                        "a {name} constraint does not apply to a parameter of type {}",
                        hot_type(&t)
                    ),
                );
                continue;
            }
            match name.as_str() {
                "length" | "range" => {
                    let Some((min, max)) = self.bounds(arg, &at) else {
                        continue;
                    };
                    let (min_slot, max_slot) = if name.as_str() == "length" {
                        (&mut decl.min_length, &mut decl.max_length)
                    } else {
                        (&mut decl.min_value, &mut decl.max_value)
                    };
                    if let Some(v) = min {
                        self.tighten(min_slot, v, &at, Tighter::Larger);
                    }
                    if let Some(v) = max {
                        self.tighten(max_slot, v, &at, Tighter::Smaller);
                    }
                }
                "allowed_values" => match arg {
                    // Several lists: a value must be in each, so in their intersection.
                    Value::Array(values) => match &mut decl.allowed_values {
                        Some(allowed) => {
                            allowed.retain(|a| values.iter().any(|v| same_scalar(a, v)))
                        }
                        None => decl.allowed_values = Some(values.clone()),
                    },
                    other => self.wrong(&at, "must be a list, found ", other),
                },
                "allowed_pattern" => match arg {
                    Value::String(p) => {
                        if let Err(reason) = WholeValuePattern::new(p) {
                            self.problem(
                                &at,
                                ProblemKind::Unsupported,
                                format!("invalid allowed_pattern {p:?}: {reason}"),
                            );
                            continue;
                        }
                        let description = match map.get("description") {
                            Some(Value::String(d)) => Some(d.trim().to_owned()),
                            _ => None,
                        };
                        patterns.push(AllowedPattern {
                            pattern: p.clone(),
                            description,
                        });
                    }
                    other => self.wrong(&at, "must be a text, found ", other),
                },
                // Recorded, not enforced: checking needs the cloud (does this flavor exist?).
                "custom_constraint" => match arg {
                    Value::String(_) => push_extra(decl, "CustomConstraints", arg.clone()),
                    other => self.wrong(&at, "must be a text, found ", other),
                },
                // Recorded, not enforced by iac-core's parameter checks.
                "modulo" if self.version.at_least("2017-02-24") => {
                    push_extra(decl, "Modulo", arg.clone())
                }
                other => {
                    self.problem(
                        &at,
                        ProblemKind::Unsupported,
                        format!("invalid constraint '{other}'"),
                    );
                    continue;
                }
            }
            if let Some(Value::String(d)) = map.get("description") {
                descriptions.push((name.as_str() == "allowed_pattern", d.trim().to_owned()));
            }
        }
        // One pattern keeps the ROS shape: its description joins the others in
        // ConstraintDescription. Several patterns each keep their own, so that a value is told
        // the description of the one it breaks (as Heat tells it).
        let several = patterns.len() > 1;
        if several {
            descriptions.retain(|(is_pattern, _)| !is_pattern);
        } else {
            for p in &mut patterns {
                p.description = None;
            }
        }
        decl.allowed_patterns = patterns;
        if !descriptions.is_empty() {
            let texts: Vec<&str> = descriptions.iter().map(|(_, d)| d.as_str()).collect();
            decl.constraint_description = Some(Text::Plain(texts.join("; ")));
        }
    }

    /// Sets a bound; when one is already set (Heat allows several `length` or `range`
    /// constraints, all of which must hold), keeps the tighter of the two, which is what
    /// holding both means.
    fn tighten(&mut self, slot: &mut Option<Value>, value: Value, path: &str, tighter: Tighter) {
        let Some(old) = slot else {
            *slot = Some(value);
            return;
        };
        match (number_of(old), number_of(&value)) {
            (Some(a), Some(b)) => {
                let new_wins = match tighter {
                    Tighter::Larger => b > a,
                    Tighter::Smaller => b < a,
                };
                if new_wins {
                    *slot = Some(value);
                }
            }
            _ => self.problem(
                path,
                ProblemKind::Unsupported,
                format!("bounds {old} and {value} cannot be combined: both must be numbers"),
            ),
        }
    }

    /// `{min: x, max: y}` (either may be absent, not both).
    fn bounds(&mut self, value: &Value, path: &str) -> Option<(Option<Value>, Option<Value>)> {
        let Value::Object(map) = value else {
            self.wrong(path, "must be a map with min and/or max, found ", value);
            return None;
        };
        if map.is_empty() || map.keys().any(|k| k != "min" && k != "max") {
            self.problem(
                path,
                ProblemKind::Unsupported,
                "must be a map with min and/or max (and nothing else)",
            );
            return None;
        }
        // A bound written with no value (`min:`) is no bound, as in Heat.
        let bound = |key: &str| map.get(key).filter(|v| !v.is_null()).cloned();
        Some((bound("min"), bound("max")))
    }

    fn parameter_groups(&mut self, value: &Value) -> Vec<Value> {
        match value {
            Value::Array(groups) => groups.clone(),
            Value::Null => Vec::new(),
            other => {
                self.wrong("parameter_groups", "must be a list, found ", other);
                Vec::new()
            }
        }
    }

    /// Heat's checks of `parameter_groups`: each group lists declared parameters, and no
    /// parameter is in two groups.
    fn check_groups(&mut self, groups: &[Value]) {
        let mut seen = HashSet::new();
        for (i, group) in groups.iter().enumerate() {
            let path = join_index("parameter_groups", i);
            let Some(Value::Array(names)) = group.get("parameters") else {
                self.problem(
                    &path,
                    ProblemKind::Unsupported,
                    "a parameter group must have a list of parameters",
                );
                continue;
            };
            for (j, name) in names.iter().enumerate() {
                let here = join_index(&join_key(&path, "parameters"), j);
                match name {
                    Value::String(n) if !self.parameters.contains(n) => self.problem(
                        &here,
                        ProblemKind::UnknownReference,
                        format!("'{n}' is not a parameter"),
                    ),
                    Value::String(n) if !seen.insert(n.clone()) => self.problem(
                        &here,
                        ProblemKind::DuplicateName,
                        format!("parameter '{n}' is in more than one group"),
                    ),
                    Value::String(_) => {}
                    other => self.wrong(&here, "must be a parameter name, found ", other),
                }
            }
        }
    }

    // ---- resources and outputs ----------------------------------------------------------

    fn resources(&mut self, value: &Value) -> IndexMap<String, ResourceSpec> {
        self.entries("resources", value, Self::resource)
    }

    fn resource(&mut self, value: &Value, path: &str) -> Option<ResourceSpec> {
        let Value::Object(map) = value else {
            self.wrong(path, "a resource must be a map, found ", value);
            return None;
        };
        let type_name = match map.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(other) => {
                self.problem(
                    &join_key(path, "type"),
                    ProblemKind::Unsupported,
                    format!("must be a text, found {}", kind(other)),
                );
                return None;
            }
            None => {
                self.problem(
                    path,
                    ProblemKind::Unsupported,
                    "a resource must have a 'type'",
                );
                return None;
            }
        };
        let mut spec = ResourceSpec::new(type_name);
        let conditions = self.version.has_conditions();
        for (key, item) in map {
            let here = join_key(path, key);
            match key.as_str() {
                "type" => {}
                "properties" => match item {
                    Value::Object(props) => {
                        spec.properties = self.expr_map(props, &here, Scope::Value);
                    }
                    Value::Null => {}
                    other => self.wrong(&here, "must be a map, found ", other),
                },
                "metadata" => match item {
                    Value::Object(_) => spec.metadata = Some(item.clone()),
                    Value::Null => {}
                    other => self.wrong(&here, "must be a map, found ", other),
                },
                "depends_on" => match item {
                    Value::String(d) => spec.depends_on = vec![d.clone()],
                    Value::Array(ds) => {
                        for (i, d) in ds.iter().enumerate() {
                            match d {
                                Value::String(d) => spec.depends_on.push(d.clone()),
                                other => self.problem(
                                    &join_index(&here, i),
                                    ProblemKind::Unsupported,
                                    format!("must be a resource name, found {}", kind(other)),
                                ),
                            }
                        }
                    }
                    Value::Null => {}
                    other => self.wrong(&here, "must be a text or a list, found ", other),
                },
                "deletion_policy" => self.deletion_policy(item, &here, &mut spec),
                "update_policy" => {
                    spec.unsupported.insert("UpdatePolicy".into(), item.clone());
                }
                "condition" if conditions => spec.condition = self.condition_use(item, &here),
                "external_id" if conditions => match item {
                    Value::Null => {}
                    other => spec.external_id = Some(self.expr(other, &here, Scope::Value)),
                },
                other => self.problem(
                    &here,
                    ProblemKind::Unsupported,
                    format!(
                        "'{other}' is not a valid key of a resource in version {}",
                        self.version
                    ),
                ),
            }
        }
        Some(spec)
    }

    fn deletion_policy(&mut self, value: &Value, path: &str, spec: &mut ResourceSpec) {
        let lower_ok = self.version.has_conditions();
        match value.as_str() {
            Some("Delete") => spec.deletion_policy = DeletionPolicy::Delete,
            Some("delete") if lower_ok => spec.deletion_policy = DeletionPolicy::Delete,
            Some("Retain") => spec.deletion_policy = DeletionPolicy::Retain,
            Some("retain") if lower_ok => spec.deletion_policy = DeletionPolicy::Retain,
            Some("Snapshot") => spec.deletion_policy = DeletionPolicy::Snapshot,
            Some("snapshot") if lower_ok => spec.deletion_policy = DeletionPolicy::Snapshot,
            _ => self.problem(
                path,
                ProblemKind::Unsupported,
                format!("invalid deletion policy {value}"),
            ),
        }
    }

    fn outputs(&mut self, value: &Value) -> IndexMap<String, OutputSpec> {
        self.entries("outputs", value, Self::output)
    }

    fn output(&mut self, value: &Value, path: &str) -> Option<OutputSpec> {
        let Value::Object(map) = value else {
            self.wrong(path, "an output must be a map, found ", value);
            return None;
        };
        let mut output = OutputSpec::new(Expr::Null);
        for (key, item) in map {
            let here = join_key(path, key);
            match key.as_str() {
                "value" => {
                    self.in_output = true;
                    output.value = self.expr(item, &here, Scope::Value);
                    self.in_output = false;
                }
                "description" => output.description = self.text(item, &here),
                "condition" if self.version.has_conditions() => {
                    output.condition = self.condition_use(item, &here)
                }
                other => self.problem(
                    &here,
                    ProblemKind::Unsupported,
                    format!(
                        "'{other}' is not a valid key of an output in version {}",
                        self.version
                    ),
                ),
            }
        }
        Some(output)
    }

    // ---- conditions ---------------------------------------------------------------------

    /// A condition definition of the `conditions` section: a boolean, another condition's
    /// name, or a condition expression.
    fn condition_definition(&mut self, value: &Value, path: &str) -> Expr {
        match value {
            Value::String(name) => {
                self.check_condition_name(name, path);
                Expr::call("Condition", Expr::String(name.clone()))
            }
            other => self.condition_item(other, path),
        }
    }

    /// A condition where a name is expected (a resource's or output's `condition`, the first
    /// argument of `if`): a name as it is; a boolean or an expression becomes a condition
    /// of its own, named after its HOT path.
    fn condition_use(&mut self, value: &Value, path: &str) -> Option<String> {
        if let Value::String(name) = value {
            self.check_condition_name(name, path);
            return Some(name.clone());
        }
        let expr = self.condition_item(value, path);
        let mut name = path.to_owned();
        let mut n = 1;
        while self.condition_names.contains(&name) || self.hoisted.contains_key(&name) {
            n += 1;
            name = format!("{path}#{n}");
        }
        self.hoisted.insert(name.clone(), path.to_owned());
        self.hoisted_conditions.insert(name.clone(), expr);
        Some(name)
    }

    fn check_condition_name(&mut self, name: &str, path: &str) {
        if !self.condition_names.contains(name) {
            self.problem(
                path,
                ProblemKind::UnknownReference,
                format!("unknown condition '{name}'"),
            );
        }
    }

    /// An item in a condition position (`not`, `and`, `or`, `if`): a name, a boolean or a
    /// condition expression.
    fn condition_item(&mut self, value: &Value, path: &str) -> Expr {
        match value {
            Value::String(name) => {
                self.check_condition_name(name, path);
                Expr::String(name.clone())
            }
            Value::Bool(b) => Expr::Bool(*b),
            Value::Object(map) if map.len() == 1 => {
                match self.expr(value, path, Scope::Condition) {
                    // A single-key map that is not a condition function here is data.
                    Expr::Map(_) => {
                        let key = map.keys().next().map(String::as_str).unwrap_or_default();
                        self.problem(
                            path,
                            ProblemKind::UnsupportedFunction,
                            format!(
                                "'{key}' is not a condition function in version {}",
                                self.version
                            ),
                        );
                        Expr::Bool(false)
                    }
                    expr => expr,
                }
            }
            other => {
                self.problem(path, ProblemKind::MalformedCall, format!("expected a condition (a name, a boolean or a condition function), found {}", kind(other)));
                Expr::Bool(false)
            }
        }
    }

    // ---- expressions --------------------------------------------------------------------

    fn expr_map(&mut self, map: &Map<String, Value>, path: &str, scope: Scope) -> ExprMap {
        map.iter()
            .map(|(k, v)| (k.clone(), self.expr(v, &join_key(path, k), scope)))
            .collect()
    }

    fn expr(&mut self, value: &Value, path: &str, scope: Scope) -> Expr {
        match value {
            Value::Null => Expr::Null,
            Value::Bool(b) => Expr::Bool(*b),
            Value::Number(n) => Expr::Number(n.clone()),
            Value::String(s) => Expr::String(s.clone()),
            Value::Array(items) => Expr::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.expr(item, &join_index(path, i), scope))
                    .collect(),
            ),
            Value::Object(map) => {
                if map.len() == 1 {
                    let (key, args) = map.iter().next().expect("one entry");
                    if let Some(expr) = self.function(key, args, path, scope) {
                        return expr;
                    }
                }
                Expr::Map(self.expr_map(map, path, scope))
            }
        }
    }

    /// `{key: args}` at `path` if `key` is a function in `scope`; `None` when it is data.
    fn function(&mut self, key: &str, args: &Value, path: &str, scope: Scope) -> Option<Expr> {
        let here = join_key(path, key);
        if scope == Scope::Condition {
            if self.version.condition_function(key) {
                return Some(self.condition_function(key, args, &here));
            }
            return match self.version.function(key) {
                FunctionUse::NotAFunction => None,
                _ => {
                    self.problem(
                        &here,
                        ProblemKind::UnsupportedFunction,
                        format!("function '{key}' cannot be used in a condition"),
                    );
                    Some(Expr::Null)
                }
            };
        }
        match self.version.function(key) {
            FunctionUse::NotAFunction => None,
            FunctionUse::Removed => {
                self.problem(
                    &here,
                    ProblemKind::UnsupportedFunction,
                    format!(
                        "function '{key}' is not supported in version {} of HOT",
                        self.version
                    ),
                );
                Some(Expr::Null)
            }
            FunctionUse::Available => Some(self.value_function(key, args, &here)),
        }
    }

    fn args(&mut self, args: &Value, here: &str, scope: Scope) -> Expr {
        self.expr(args, here, scope)
    }

    fn call(&mut self, ir: &str, args: &Value, here: &str, scope: Scope) -> Expr {
        Expr::call(ir, self.args(args, here, scope))
    }

    fn value_function(&mut self, key: &str, args: &Value, here: &str) -> Expr {
        let v = Scope::Value;
        match key {
            "get_param" => self.get_param(args, here, v),
            "get_resource" => match args {
                Value::String(name) => {
                    if !self.resources.contains(name) {
                        let message = if self.parameters.contains(name) {
                            format!(
                                "get_resource names '{name}', which is a parameter, not a resource"
                            )
                        } else {
                            format!("get_resource names unknown resource '{name}'")
                        };
                        self.problem(here, ProblemKind::UnknownReference, message);
                    }
                    Expr::Ref(name.clone())
                }
                other => self.malformed(here, key, "a resource name", other),
            },
            "get_attr" => self.get_attr(args, here),
            "get_file" => match args {
                Value::String(file) => match (self.files)(file) {
                    Some(content) => Expr::String(content),
                    None => {
                        self.problem(here, ProblemKind::UnknownReference, format!("get_file: no content for '{file}' (give it in the files, or put it next to the template)"));
                        Expr::String(String::new())
                    }
                },
                other => self.malformed(here, key, "a file name", other),
            },
            "str_replace" | "str_replace_strict" | "str_replace_vstrict" => {
                let ir = match key {
                    "str_replace" => "Fn::StrReplace",
                    "str_replace_strict" => "Fn::StrReplaceStrict",
                    _ => "Fn::StrReplaceVStrict",
                };
                self.call(ir, args, here, v)
            }
            "list_join" => {
                let multiple = self.version.at_least("2015-10-15");
                match args {
                    Value::Array(items) if items.len() == 2 || (multiple && items.len() > 2) => {
                        self.call("Fn::ListJoin", args, here, v)
                    }
                    other => self.malformed(
                        here,
                        key,
                        if multiple {
                            "[delimiter, list, ...]"
                        } else {
                            "[delimiter, list]"
                        },
                        other,
                    ),
                }
            }
            "str_split" => self.call("Fn::StrSplit", args, here, v),
            "repeat" => {
                // Before 2017-09-01 Heat reads no `permutations` and ignores the key.
                match args {
                    Value::Object(map)
                        if !self.version.at_least("2017-09-01")
                            && map.contains_key("permutations") =>
                    {
                        let mut map = map.clone();
                        map.remove("permutations");
                        self.call("Fn::Repeat", &Value::Object(map), here, v)
                    }
                    _ => self.call("Fn::Repeat", args, here, v),
                }
            }
            "map_merge" => self.call("Fn::MapMerge", args, here, v),
            "list_concat" => self.call("Fn::ListConcat", args, here, v),
            "list_concat_unique" => self.call("Fn::ListConcatUnique", args, here, v),
            "contains" => self.call("Fn::Contains", args, here, v),
            "filter" => self.call("Fn::Filter", args, here, v),
            "map_replace" => self.call("Fn::MapReplace", args, here, v),
            "digest" => self.call("Fn::Digest", args, here, v),
            "if" => match args {
                Value::Array(items) if items.len() == 3 => {
                    let name = self
                        .condition_use(&items[0], &join_index(here, 0))
                        .unwrap_or_default();
                    Expr::call(
                        "Fn::If",
                        Expr::List(vec![
                            Expr::String(name),
                            self.expr(&items[1], &join_index(here, 1), v),
                            self.expr(&items[2], &join_index(here, 2), v),
                        ]),
                    )
                }
                other => self.malformed(
                    here,
                    key,
                    "[condition, value if true, value if false]",
                    other,
                ),
            },
            // The CloudFormation functions of 2013-05-23 (and Fn::Select up to 2015-04-30)
            // behave like the ROS functions of the same name.
            "Ref" => match args {
                Value::String(name) => {
                    if !self.resources.contains(name)
                        && !self.parameters.contains(name)
                        && !PSEUDO_PARAMETERS.contains(&name.as_str())
                    {
                        self.problem(
                            here,
                            ProblemKind::UnknownReference,
                            format!("Ref to unknown resource or parameter '{name}'"),
                        );
                    }
                    Expr::Ref(name.clone())
                }
                other => self.malformed(here, key, "a name", other),
            },
            "Fn::Select" | "Fn::Join" | "Fn::Split" | "Fn::Replace" => {
                self.call(key, args, here, v)
            }
            // Heat's Fn::Base64 hands its text back unchanged.
            "Fn::Base64" => match args {
                Value::String(_) | Value::Object(_) => self.expr(args, here, v),
                other => self.malformed(here, key, "a text", other),
            },
            _ => {
                self.problem(
                    here,
                    ProblemKind::UnsupportedFunction,
                    format!("function '{key}' is not supported by this SDK"),
                );
                Expr::Null
            }
        }
    }

    fn condition_function(&mut self, key: &str, args: &Value, here: &str) -> Expr {
        match key {
            "get_param" => self.get_param(args, here, Scope::Condition),
            "contains" => self.call("Fn::Contains", args, here, Scope::Condition),
            "equals" => match args {
                Value::Array(items) if items.len() == 2 => {
                    self.call("Fn::EqualsStrict", args, here, Scope::Condition)
                }
                other => self.malformed(here, key, "[value, value]", other),
            },
            "not" => {
                let item = self.condition_item(args, here);
                Expr::call("Fn::Not", item)
            }
            "and" | "or" => match args {
                Value::Array(items) if items.len() >= 2 => {
                    let items = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.condition_item(item, &join_index(here, i)))
                        .collect();
                    Expr::call(
                        if key == "and" { "Fn::And" } else { "Fn::Or" },
                        Expr::List(items),
                    )
                }
                other => self.malformed(here, key, "a list of at least 2 conditions", other),
            },
            "if" => match args {
                Value::Array(items) if items.len() == 3 => {
                    // Fn::If takes a condition name: an expression gets one of its own.
                    let cond = self
                        .condition_use(&items[0], &join_index(here, 0))
                        .unwrap_or_default();
                    let cond = Expr::String(cond);
                    Expr::call(
                        "Fn::If",
                        Expr::List(vec![
                            cond,
                            self.condition_item(&items[1], &join_index(here, 1)),
                            self.condition_item(&items[2], &join_index(here, 2)),
                        ]),
                    )
                }
                other => self.malformed(
                    here,
                    key,
                    "[condition, value if true, value if false]",
                    other,
                ),
            },
            _ => {
                self.problem(
                    here,
                    ProblemKind::UnsupportedFunction,
                    format!("function '{key}' is not supported by this SDK"),
                );
                Expr::Bool(false)
            }
        }
    }

    /// `get_param: name` or `get_param: [name, key or index, ...]`.
    fn get_param(&mut self, args: &Value, here: &str, scope: Scope) -> Expr {
        let (name, path) = match args {
            Value::String(name) => (name, &[][..]),
            Value::Array(items) => match items.split_first() {
                Some((Value::String(name), path)) => (name, path),
                _ => {
                    return self.malformed(
                        here,
                        "get_param",
                        "a parameter name or [name, key or index, ...]",
                        args,
                    );
                }
            },
            other => {
                return self.malformed(
                    here,
                    "get_param",
                    "a parameter name or [name, key or index, ...]",
                    other,
                );
            }
        };
        if !self.parameters.contains(name) && !PSEUDO_PARAMETERS.contains(&name.as_str()) {
            let message = if self.resources.contains(name) {
                format!("get_param names '{name}', which is a resource, not a parameter")
            } else {
                format!("get_param names unknown parameter '{name}'")
            };
            if self.in_output && scope == Scope::Value {
                // Heat validates an output without resolving it: the stack is created, and
                // the output shows this error when it is read. So does the IR's `Fn::Error`.
                self.warnings.push(ValidationError {
                    path: here.to_owned(),
                    kind: ProblemKind::UnknownReference,
                    message: format!(
                        "{message}; the template is valid for Heat, which reports this when \
                         the output is shown: the output will carry this error"
                    ),
                });
                return Expr::call("Fn::Error", Expr::String(message));
            }
            self.problem(here, ProblemKind::UnknownReference, message);
        }
        if path.is_empty() {
            return Expr::Ref(name.clone());
        }
        let mut items = vec![Expr::Ref(name.clone())];
        for (i, step) in path.iter().enumerate() {
            items.push(self.expr(step, &join_index(here, i + 1), scope));
        }
        Expr::call("Fn::GetPath", Expr::List(items))
    }

    /// `get_attr: [resource, attribute, key or index, ...]`.
    fn get_attr(&mut self, args: &Value, here: &str) -> Expr {
        let Value::Array(items) = args else {
            return self.malformed(
                here,
                "get_attr",
                "[resource, attribute, key or index, ...]",
                args,
            );
        };
        match items.as_slice() {
            [Value::String(_)] if self.version.at_least("2015-10-15") => {
                self.problem(here, ProblemKind::Unsupported, "get_attr of all attributes of a resource (no attribute name) is not supported by this SDK");
                Expr::Null
            }
            [Value::String(resource), Value::String(attribute)] => {
                Expr::get_att(resource.clone(), attribute.clone())
            }
            [Value::String(_), _, ..] => self.call("Fn::GetAtt", args, here, Scope::Value),
            _ => self.malformed(
                here,
                "get_attr",
                "[resource, attribute, key or index, ...]",
                args,
            ),
        }
    }

    fn malformed(&mut self, here: &str, function: &str, expected: &str, found: &Value) -> Expr {
        let found = match found {
            Value::Array(items) => format!("a list of {}", items.len()),
            other => kind(other).to_owned(),
        };
        self.problem(
            here,
            ProblemKind::MalformedCall,
            format!("{function} takes {expected}, got {found}"),
        );
        Expr::Null
    }
}

fn hot_type(t: &ParamType) -> &'static str {
    match t {
        ParamType::Number => "number",
        ParamType::CommaDelimitedList => "comma_delimited_list",
        ParamType::Json => "json",
        ParamType::Boolean => "boolean",
        _ => "string",
    }
}

/// Appends to a list kept in the declaration's extra keys.
/// Which of two bounds holding both keeps.
#[derive(Debug, Clone, Copy)]
enum Tighter {
    /// A minimum: the larger.
    Larger,
    /// A maximum: the smaller.
    Smaller,
}

/// A bound as a number (a number, or a text that is one).
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Two allowed values that stand for the same value (`2` and `"2"` do: parameter values
/// are compared as their text).
fn same_scalar(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    a == b || matches!((text(a), text(b)), (Some(x), Some(y)) if x == y)
}

fn push_extra(decl: &mut ParameterDecl, key: &str, value: Value) {
    match decl
        .extra
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(items) => items.push(value),
        other => *other = Value::Array(vec![value]),
    }
}
