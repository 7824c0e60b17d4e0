//! Template parameters: resolving given values against their declarations, and keeping
//! secret (`NoEcho`) values out of everything that prints or persists.
//!
//! [`resolve_parameters`] applies defaults, converts every value to its declared
//! [`ParamType`] and checks every constraint, returning *all* problems at once as
//! [`ParamErrors`]. The result, [`ParamValues`], knows which parameters are secret: its
//! `Debug` prints `***` for them, and [`ParamValues::redact`] / [`ParamValues::redact_text`]
//! scrub their values out of anything the engine writes (state files, events, errors).
//!
//! ```
//! use iac_core::model::{ParamType, ParameterDecl};
//! use iac_core::params::resolve_parameters;
//! use indexmap::IndexMap;
//! use serde_json::json;
//!
//! let mut decls = IndexMap::new();
//! let mut count = ParameterDecl::new(ParamType::Number);
//! count.min_value = Some(json!(1));
//! decls.insert("NodeCount".to_owned(), count);
//!
//! let mut given = IndexMap::new();
//! given.insert("NodeCount".to_owned(), json!("3"));
//! let values = resolve_parameters(&decls, &given).unwrap();
//! assert_eq!(values.get("NodeCount"), Some(&json!(3)));
//!
//! given.insert("NodeCount".to_owned(), json!(0));
//! let errors = resolve_parameters(&decls, &given).unwrap_err();
//! assert_eq!(errors.to_string(), "parameter 'NodeCount': value 0 is below MinValue 1");
//! ```

use std::collections::BTreeSet;
use std::fmt;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

use crate::model::{ParamType, ParameterDecl};

/// What a secret is replaced by in text ([`ParamValues::redact_text`]) and in `Debug`.
pub const REDACTED: &str = "***";

/// The prefix of a redacted value in a JSON value ([`ParamValues::redact`]).
pub const REDACTED_DIGEST_PREFIX: &str = "***sha256:";

/// Resolved parameter values: every declared parameter with its typed value.
///
/// Secret (`NoEcho`) values are reachable through [`ParamValues::get`] (the evaluator needs
/// them) but never through `Debug`, which prints `***` for them.
#[derive(Clone, Default)]
pub struct ParamValues {
    values: IndexMap<String, Value>,
    secrets: BTreeSet<String>,
    /// The secret texts to redact, longest first (`None` when there is nothing to redact).
    matcher: Option<Vec<String>>,
}

impl ParamValues {
    /// Builds resolved values directly (for tests and front-ends that resolve parameters
    /// themselves). `secret_names` lists the parameters whose values are secret; names that
    /// have no value are ignored.
    pub fn from_resolved<S: Into<String>>(
        values: IndexMap<String, Value>,
        secret_names: impl IntoIterator<Item = S>,
    ) -> Self {
        let secrets: BTreeSet<String> = secret_names
            .into_iter()
            .map(Into::into)
            .filter(|name| values.contains_key(name))
            .collect();
        let matcher = build_matcher(secrets.iter().filter_map(|name| values.get(name)));
        ParamValues {
            values,
            secrets,
            matcher,
        }
    }

    /// The value of a parameter (secret or not), if it is declared.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// True when the parameter is declared `NoEcho`.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    /// The names of the secret parameters, in name order.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str)
    }

    /// Parameter names in declaration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Replaces every occurrence of a secret value in `value` by a salted digest.
    ///
    /// Every string is searched (recursively through arrays and objects; object keys are
    /// kept): a string that *is* a secret and every substring equal to one become
    /// `"***sha256:" + the first 16 hex digits of sha256(salt + ":" + secret)`. A number whose
    /// text equals a secret, and an array or object equal to a secret `Json` /
    /// `CommaDelimitedList` value, are replaced by that digest string as well. Empty secrets
    /// are ignored.
    ///
    /// The digest is what lets the engine tell that a secret changed between two applies
    /// (the stored digest differs) without ever storing the secret: use one random salt per
    /// stack (`StackState::secret_salt`) so that equal secrets of different stacks do not
    /// give equal digests.
    pub fn redact(&self, value: &Value, salt: &str) -> Value {
        if self.matcher.is_none() {
            return value.clone();
        }
        self.redact_value(value, salt)
    }

    fn redact_value(&self, value: &Value, salt: &str) -> Value {
        if matches!(value, Value::Array(_) | Value::Object(_))
            && self.secret_values().any(|secret| secret == value)
        {
            return Value::String(digest(salt, &compact(value)));
        }
        match value {
            Value::String(s) => Value::String(self.replace(s, |secret| digest(salt, secret))),
            Value::Number(n) => {
                let text = n.to_string();
                if self.secret_texts().any(|secret| secret == text) {
                    Value::String(digest(salt, &text))
                } else {
                    value.clone()
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.redact_value(item, salt))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.redact_value(v, salt)))
                    .collect(),
            ),
            Value::Null | Value::Bool(_) => value.clone(),
        }
    }

    /// Replaces every occurrence of a secret value in `text` by `***` (for log lines, event
    /// reasons and error messages). Empty secrets are ignored.
    pub fn redact_text(&self, text: &str) -> String {
        self.replace(text, |_| REDACTED.to_owned())
    }

    fn replace(&self, text: &str, with: impl Fn(&str) -> String) -> String {
        match &self.matcher {
            Some(secrets) => replace_all(text, secrets, with),
            None => text.to_owned(),
        }
    }

    fn secret_values(&self) -> impl Iterator<Item = &Value> {
        self.secrets.iter().filter_map(|name| self.values.get(name))
    }

    fn secret_texts(&self) -> impl Iterator<Item = String> + '_ {
        self.secret_values().flat_map(secret_texts)
    }
}

impl fmt::Debug for ParamValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hidden;
        impl fmt::Debug for Hidden {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            if self.secrets.contains(name) {
                map.entry(name, &Hidden);
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// The texts a secret value can appear as inside strings.
fn secret_texts(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => {}
                }
            }
            out.push(compact(value));
        }
        Value::Object(_) => out.push(compact(value)),
        Value::Null | Value::Bool(_) => {}
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The secret texts to search for, longest first (so that a secret containing another is
/// replaced whole), without duplicates; `None` when there are none.
fn build_matcher<'a>(values: impl Iterator<Item = &'a Value>) -> Option<Vec<String>> {
    let mut texts: Vec<String> = values.flat_map(secret_texts).collect();
    if texts.is_empty() {
        return None;
    }
    texts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    texts.dedup();
    Some(texts)
}

/// Replaces, scanning left to right, the longest secret starting at each position. One
/// pass, so a replacement is never searched again (a short secret cannot match inside a
/// digest written for another).
fn replace_all(text: &str, secrets: &[String], with: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for secret in secrets {
            if rest.starts_with(secret.as_str()) {
                out.push_str(&with(secret));
                rest = &rest[secret.len()..];
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn digest(salt: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(secret.as_bytes());
    let hex = hex::encode(hasher.finalize());
    format!("{REDACTED_DIGEST_PREFIX}{}", &hex[..16])
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Every problem found while resolving parameters, in declaration order.
///
/// `Display` prints one problem per line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParamErrors {
    /// The problems, at least one.
    pub errors: Vec<ParamError>,
}

impl fmt::Display for ParamErrors {
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

/// One problem with one parameter.
///
/// Displays as `parameter '<name>': <problem>`, followed by the declaration's
/// `ConstraintDescription` (English text) in parentheses when a constraint was violated.
/// The value of a `NoEcho` parameter never appears: the message says `the given value`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parameter '{parameter}': {problem}{}", hint(.constraint_description))]
pub struct ParamError {
    /// The parameter's name.
    pub parameter: String,
    /// What is wrong.
    pub problem: ParamProblem,
    /// The declaration's `ConstraintDescription` (English), for constraint violations.
    pub constraint_description: Option<String>,
}

fn hint(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.trim().is_empty() => format!(" ({})", d.trim()),
        _ => String::new(),
    }
}

/// What is wrong with a parameter.
///
/// `subject` fields are already rendered for messages: `value "abc"`, `value 3`,
/// `item "x"`, or `the given value` / `an item of the given value` for secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamProblem {
    /// Declared without `Default`, and no value was given.
    #[error("no value given and the declaration has no Default")]
    Missing,
    /// Given, but the template declares no such parameter.
    #[error("a value was given but the template declares no such parameter")]
    Undeclared,
    /// The value cannot be converted to the declared type.
    #[error("{subject} is not a valid {expected}{}", detail_suffix(.detail))]
    WrongType {
        /// The offending value, rendered.
        subject: String,
        /// The declared type (`Number`, `Boolean`, ...).
        expected: String,
        /// Why, when there is more to say (a JSON parse error).
        detail: Option<String>,
    },
    /// The value is not one of `AllowedValues`.
    #[error("{subject} is not one of AllowedValues {allowed}")]
    NotAllowed {
        /// The offending value, rendered.
        subject: String,
        /// The allowed values, as JSON.
        allowed: String,
    },
    /// The value does not match `AllowedPattern` as a whole.
    #[error("{subject} does not match AllowedPattern {pattern:?}")]
    PatternMismatch {
        /// The offending value, rendered.
        subject: String,
        /// The pattern as declared.
        pattern: String,
    },
    /// The value has fewer characters than `MinLength`.
    #[error("{subject} has {length} characters, fewer than MinLength {min}")]
    TooShort {
        /// The offending value, rendered.
        subject: String,
        /// Its length in characters.
        length: usize,
        /// The declared minimum.
        min: u64,
    },
    /// The value has more characters than `MaxLength`.
    #[error("{subject} has {length} characters, more than MaxLength {max}")]
    TooLong {
        /// The offending value, rendered.
        subject: String,
        /// Its length in characters.
        length: usize,
        /// The declared maximum.
        max: u64,
    },
    /// The number is below `MinValue`.
    #[error("{subject} is below MinValue {min}")]
    BelowMin {
        /// The offending value, rendered.
        subject: String,
        /// The declared minimum, as written.
        min: String,
    },
    /// The number is above `MaxValue`.
    #[error("{subject} is above MaxValue {max}")]
    AboveMax {
        /// The offending value, rendered.
        subject: String,
        /// The declared maximum, as written.
        max: String,
    },
    /// A constraint in the declaration itself is malformed (a `MinValue` that is not a
    /// number, an `AllowedPattern` that is not a regular expression).
    #[error("the declaration's {constraint} {value} is invalid: {reason}")]
    BadConstraint {
        /// The constraint's key (`MinValue`, `AllowedPattern`, ...).
        constraint: &'static str,
        /// The constraint's value as written (JSON).
        value: String,
        /// Why it is invalid.
        reason: String,
    },
}

fn detail_suffix(detail: &Option<String>) -> String {
    match detail {
        Some(d) => format!(" ({d})"),
        None => String::new(),
    }
}

/// Resolves the given parameter values against the template's declarations.
///
/// For each declared parameter: the given value, else its `Default`, else an error. An
/// explicit `Default: null` means "empty": the value is JSON `null` and no constraint is
/// checked. A given JSON `null` counts as not given. The value is converted to the declared
/// type:
///
/// | type | accepted | result |
/// |---|---|---|
/// | `String`, vendor types | string, number, boolean | string |
/// | `Number` | number, numeric string | number (an integer stays an integer) |
/// | `CommaDelimitedList` | `"a, b,c"` or an array of scalars | array of trimmed strings |
/// | `Json` | a JSON text, or any JSON value | the parsed value |
/// | `Boolean` | `true`/`false`, also as strings in any case | boolean |
///
/// Then `AllowedValues`, `AllowedPattern` (matched against the whole value),
/// `MinLength`/`MaxLength` (in characters) and `MinValue`/`MaxValue` (for `Number`) are
/// checked; for a list, the value constraints apply to each item. A given parameter that is
/// not declared is an error. All problems are returned together.
pub fn resolve_parameters(
    decls: &IndexMap<String, ParameterDecl>,
    given: &IndexMap<String, Value>,
) -> Result<ParamValues, ParamErrors> {
    let mut values = IndexMap::new();
    let mut secrets = Vec::new();
    let mut errors = Vec::new();

    for (name, decl) in decls {
        let secret = decl.is_secret();
        if secret {
            secrets.push(name.clone());
        }
        let raw = match given.get(name).filter(|v| !v.is_null()) {
            Some(v) => v,
            None => match &decl.default {
                Some(Value::Null) => {
                    values.insert(name.clone(), Value::Null);
                    continue;
                }
                Some(default) => default,
                None => {
                    errors.push(ParamError {
                        parameter: name.clone(),
                        problem: ParamProblem::Missing,
                        constraint_description: None,
                    });
                    continue;
                }
            },
        };
        let mut checker = Checker {
            name,
            decl,
            secret,
            errors: &mut errors,
        };
        if let Some(value) = checker.convert(raw) {
            checker.check(&value);
            values.insert(name.clone(), value);
        }
    }
    for name in given.keys() {
        if !decls.contains_key(name) {
            errors.push(ParamError {
                parameter: name.clone(),
                problem: ParamProblem::Undeclared,
                constraint_description: None,
            });
        }
    }

    if errors.is_empty() {
        Ok(ParamValues::from_resolved(values, secrets))
    } else {
        Err(ParamErrors { errors })
    }
}

/// Converts and checks one parameter, collecting its problems.
struct Checker<'a> {
    name: &'a str,
    decl: &'a ParameterDecl,
    secret: bool,
    errors: &'a mut Vec<ParamError>,
}

impl Checker<'_> {
    fn push(&mut self, problem: ParamProblem) {
        self.errors.push(ParamError {
            parameter: self.name.to_owned(),
            problem,
            constraint_description: None,
        });
    }

    fn violation(&mut self, problem: ParamProblem) {
        let constraint_description = self
            .decl
            .constraint_description
            .as_ref()
            .map(|t| t.get("en").to_owned());
        self.errors.push(ParamError {
            parameter: self.name.to_owned(),
            problem,
            constraint_description,
        });
    }

    /// `value "x"`, `value 3`, or `the given value` for a secret.
    fn subject(&self, value: &Value) -> String {
        if self.secret {
            "the given value".to_owned()
        } else {
            format!("value {}", compact(value))
        }
    }

    /// `item "x"`, or `an item of the given value` for a secret.
    fn item_subject(&self, item: &str) -> String {
        if self.secret {
            "an item of the given value".to_owned()
        } else {
            format!("item {}", compact(&Value::String(item.to_owned())))
        }
    }

    fn wrong_type(&mut self, raw: &Value, detail: Option<String>) {
        let problem = ParamProblem::WrongType {
            subject: self.subject(raw),
            expected: self.decl.param_type.as_str().to_owned(),
            detail,
        };
        self.push(problem);
    }

    fn convert(&mut self, raw: &Value) -> Option<Value> {
        match &self.decl.param_type {
            ParamType::String | ParamType::Other(_) => match raw {
                Value::String(_) => Some(raw.clone()),
                Value::Number(n) => Some(Value::String(n.to_string())),
                Value::Bool(b) => Some(Value::String(b.to_string())),
                _ => {
                    self.wrong_type(raw, Some("expected a string".to_owned()));
                    None
                }
            },
            ParamType::Number => match raw {
                Value::Number(_) => Some(raw.clone()),
                Value::String(s) => match parse_number(s) {
                    Some(n) => Some(Value::Number(n)),
                    None => {
                        self.wrong_type(raw, None);
                        None
                    }
                },
                _ => {
                    self.wrong_type(raw, Some("expected a number".to_owned()));
                    None
                }
            },
            ParamType::CommaDelimitedList => match raw {
                Value::String(s) if s.trim().is_empty() => Some(Value::Array(Vec::new())),
                Value::String(s) => Some(Value::Array(
                    s.split(',')
                        .map(|item| Value::String(item.trim().to_owned()))
                        .collect(),
                )),
                Value::Number(n) => Some(Value::Array(vec![Value::String(n.to_string())])),
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => out.push(Value::String(s.trim().to_owned())),
                            Value::Number(n) => out.push(Value::String(n.to_string())),
                            Value::Bool(b) => out.push(Value::String(b.to_string())),
                            _ => {
                                self.wrong_type(
                                    raw,
                                    Some("list items must be strings or numbers".to_owned()),
                                );
                                return None;
                            }
                        }
                    }
                    Some(Value::Array(out))
                }
                _ => {
                    self.wrong_type(
                        raw,
                        Some("expected a comma-delimited string or a list".to_owned()),
                    );
                    None
                }
            },
            ParamType::Json => match raw {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        // serde_json's message names the line and column, not the text.
                        self.wrong_type(raw, Some(e.to_string()));
                        None
                    }
                },
                _ => Some(raw.clone()),
            },
            ParamType::Boolean => match raw {
                Value::Bool(_) => Some(raw.clone()),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => {
                    Some(Value::Bool(true))
                }
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => {
                    Some(Value::Bool(false))
                }
                _ => {
                    self.wrong_type(raw, Some("expected true or false".to_owned()));
                    None
                }
            },
        }
    }

    fn check(&mut self, value: &Value) {
        let decl = self.decl;
        // The items the per-item constraints apply to: each item of a list, else the
        // value's text (Json and Boolean values have no text constraints).
        let texts: Vec<(String, bool)> = match (&decl.param_type, value) {
            (ParamType::CommaDelimitedList, Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(|s| (s.to_owned(), true)))
                .collect(),
            (ParamType::Json | ParamType::Boolean, _) => Vec::new(),
            (_, Value::String(s)) => vec![(s.clone(), false)],
            (_, Value::Number(n)) => vec![(n.to_string(), false)],
            _ => Vec::new(),
        };

        if let Some(allowed) = &decl.allowed_values {
            let rendered = compact(&Value::Array(allowed.clone()));
            match (&decl.param_type, value) {
                (ParamType::CommaDelimitedList, Value::Array(items)) => {
                    for item in items {
                        if !allowed.iter().any(|a| scalar_eq(a, item)) {
                            let subject = self.item_subject(item.as_str().unwrap_or_default());
                            self.violation(ParamProblem::NotAllowed {
                                subject,
                                allowed: rendered.clone(),
                            });
                        }
                    }
                }
                _ => {
                    if !allowed.iter().any(|a| scalar_eq(a, value)) {
                        let subject = self.subject(value);
                        self.violation(ParamProblem::NotAllowed {
                            subject,
                            allowed: rendered,
                        });
                    }
                }
            }
        }

        if let Some(pattern) = &decl.allowed_pattern {
            match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) => {
                    for (text, is_item) in &texts {
                        if !re.is_match(text) {
                            let subject = self.text_subject(text, *is_item);
                            self.violation(ParamProblem::PatternMismatch {
                                subject,
                                pattern: pattern.clone(),
                            });
                        }
                    }
                }
                Err(e) => self.push(ParamProblem::BadConstraint {
                    constraint: "AllowedPattern",
                    value: compact(&Value::String(pattern.clone())),
                    reason: e.to_string().lines().last().unwrap_or_default().to_owned(),
                }),
            }
        }

        let min_length = self.length_bound("MinLength", decl.min_length.as_ref());
        let max_length = self.length_bound("MaxLength", decl.max_length.as_ref());
        for (text, is_item) in &texts {
            let length = text.chars().count();
            if let Some(min) = min_length
                && (length as u64) < min
            {
                let subject = self.text_subject(text, *is_item);
                self.violation(ParamProblem::TooShort {
                    subject,
                    length,
                    min,
                });
            }
            if let Some(max) = max_length
                && (length as u64) > max
            {
                let subject = self.text_subject(text, *is_item);
                self.violation(ParamProblem::TooLong {
                    subject,
                    length,
                    max,
                });
            }
        }

        let min_value = self.value_bound("MinValue", decl.min_value.as_ref());
        let max_value = self.value_bound("MaxValue", decl.max_value.as_ref());
        if decl.param_type == ParamType::Number
            && let Some(number) = value.as_f64()
        {
            if let Some((min, written)) = min_value
                && number < min
            {
                let subject = self.subject(value);
                self.violation(ParamProblem::BelowMin {
                    subject,
                    min: written,
                });
            }
            if let Some((max, written)) = max_value
                && number > max
            {
                let subject = self.subject(value);
                self.violation(ParamProblem::AboveMax {
                    subject,
                    max: written,
                });
            }
        }
    }

    fn text_subject(&self, text: &str, is_item: bool) -> String {
        if is_item {
            self.item_subject(text)
        } else if self.secret {
            "the given value".to_owned()
        } else {
            match self.decl.param_type {
                ParamType::Number => format!("value {text}"),
                _ => format!("value {}", compact(&Value::String(text.to_owned()))),
            }
        }
    }

    fn length_bound(&mut self, constraint: &'static str, bound: Option<&Value>) -> Option<u64> {
        let bound = bound?;
        let parsed = match bound {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.push(ParamProblem::BadConstraint {
                constraint,
                value: compact(bound),
                reason: "expected a non-negative integer".to_owned(),
            });
        }
        parsed
    }

    fn value_bound(
        &mut self,
        constraint: &'static str,
        bound: Option<&Value>,
    ) -> Option<(f64, String)> {
        let bound = bound?;
        let parsed = match bound {
            Value::Number(n) => n.as_f64().map(|f| (f, n.to_string())),
            Value::String(s) => {
                parse_number(s).and_then(|n| n.as_f64().map(|f| (f, n.to_string())))
            }
            _ => None,
        };
        if parsed.is_none() {
            self.push(ParamProblem::BadConstraint {
                constraint,
                value: compact(bound),
                reason: "expected a number".to_owned(),
            });
        }
        parsed
    }
}

/// Parses a numeric string: an integer stays an integer, otherwise a finite float.
pub(crate) fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(u.into());
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Equality of an allowed value and a given value: scalars compare by their text (so an
/// allowed `"1"` admits the number `1`, and `"True"` admits `true`); numbers compare by
/// value; compound values compare structurally.
fn scalar_eq(allowed: &Value, value: &Value) -> bool {
    match (allowed, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::Number(b)) | (Value::Number(b), Value::String(a)) => {
            parse_number(a).and_then(|a| a.as_f64()) == b.as_f64()
        }
        (Value::String(a), Value::Bool(b)) | (Value::Bool(b), Value::String(a)) => a
            .trim()
            .eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => allowed == value,
    }
}
