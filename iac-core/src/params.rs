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
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

use crate::model::{ParamType, ParameterDecl};
use crate::provider::ErrorKind;

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
        /// Prints a value as JSON text, or `***` for a secret.
        struct Shown<'a>(Option<&'a Value>);
        impl fmt::Debug for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(value) => write!(f, "{value}"),
                    None => f.write_str(REDACTED),
                }
            }
        }
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            let shown = (!self.secrets.contains(name)).then_some(value);
            map.entry(name, &Shown(shown));
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

impl ParamErrors {
    /// Always [`ErrorKind::Invalid`]: the given values (or the declarations) must change.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
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
    /// Whether the value matches `AllowedPattern` could not be decided: the match gave up
    /// (it backtracked more than [`PATTERN_BACKTRACK_LIMIT`] steps).
    #[error("could not check {subject} against AllowedPattern {pattern:?}: {reason}")]
    PatternUndecided {
        /// The offending value, rendered.
        subject: String,
        /// The pattern as declared.
        pattern: String,
        /// Why the match gave up.
        reason: String,
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

/// The most backtracking steps one `AllowedPattern` match may take. A pattern that needs
/// more on a value (catastrophic backtracking, as `(a|aa)+(?=c)b` on a long run of `a`) is
/// reported as [`ParamProblem::PatternUndecided`] instead of running for minutes.
pub const PATTERN_BACKTRACK_LIMIT: usize = 1_000_000;

/// What a pattern is wrapped in to match whole values: this, the pattern, then `)$`.
const ANCHOR_PREFIX: &str = "^(?:";

/// An `AllowedPattern` compiled to match whole values.
///
/// Patterns are read in the syntax of Python's `re`, which Heat (and ROS, which descends
/// from it) use: look-ahead, look-behind and backreferences work (through `fancy-regex`).
/// A value is allowed when the pattern matches all of it, as if written `^(?:pattern)$`.
///
/// Differences from Python's `re` that remain: Heat takes the *first* match from the
/// start (`re.match`) and requires it to end at the end of the value, so with `a|ab` it
/// refuses `ab` where this accepts it (some way of matching the whole value is enough);
/// `$` inside a pattern matches only at the very end (Python's also before a final
/// newline); nested character classes (`[a[b]]`) and class set operations (`&&`, `--`)
/// follow the Rust `regex` crate, where Python reads them as literal characters.
#[derive(Debug, Clone)]
pub struct WholeValuePattern {
    regex: fancy_regex::Regex,
}

impl WholeValuePattern {
    /// Compiles `pattern`; the error says why it is not a regular expression.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let rewritten = python_quantified_lookaround(pattern);
        let anchored = format!("{ANCHOR_PREFIX}{rewritten})$");
        fancy_regex::RegexBuilder::new(&anchored)
            .backtrack_limit(PATTERN_BACKTRACK_LIMIT)
            .build()
            .map(|regex| WholeValuePattern { regex })
            .map_err(|e| match e {
                // Its position is in the anchored, rewritten text: not shown.
                fancy_regex::Error::ParseError(_, problem) => problem.to_string(),
                other => other.to_string(),
            })
    }

    /// Whether the whole of `text` matches; an error when the match gave up (more than
    /// [`PATTERN_BACKTRACK_LIMIT`] backtracking steps).
    pub fn matches(&self, text: &str) -> Result<bool, String> {
        self.regex.is_match(text).map_err(|e| match e {
            fancy_regex::Error::RuntimeError(fancy_regex::RuntimeError::BacktrackLimitExceeded) => {
                format!(
                    "the match gave up after {PATTERN_BACKTRACK_LIMIT} backtracking steps \
                     (the pattern backtracks catastrophically on this value)"
                )
            }
            other => other.to_string(),
        })
    }
}

/// Python's `re` lets a look-around group take a quantifier (`(?=x)*`); `fancy-regex`
/// refuses it. A zero-width assertion repeated is the assertion once (at least one
/// repetition) or the assertion-or-nothing (none allowed), so the quantifier is rewritten
/// into that: `(?=x)+` → `(?=x)`, `(?=x)*` → `(?:(?=x)|)`, `(?=x)*?` → `(?:|(?=x))`.
/// Everything else is left as written.
fn python_quantified_lookaround(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("(?=")
        && !pattern.contains("(?!")
        && !pattern.contains("(?<=")
        && !pattern.contains("(?<!")
    {
        return std::borrow::Cow::Borrowed(pattern);
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    // For each open group: where it starts in `out`, and whether it is a look-around.
    let mut groups: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                }
                i += 2;
                continue;
            }
            '[' => {
                // A character class, copied as is: `]` right after `[` or `[^` is literal.
                let start = i;
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                while i < chars.len() && chars[i] != ']' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(chars.len());
                out.extend(&chars[start..end]);
                i = end;
                continue;
            }
            '(' => {
                let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
                let lookaround = ["(?=", "(?!", "(?<=", "(?<!"]
                    .iter()
                    .any(|p| rest.starts_with(p));
                groups.push((out.len(), lookaround));
                out.push(c);
            }
            ')' => {
                out.push(c);
                if let Some((start, true)) = groups.pop()
                    && let Some((min_zero, len)) = quantifier_at(&chars[i + 1..])
                {
                    let lazy = chars.get(i + 1 + len) == Some(&'?');
                    let possessive = chars.get(i + 1 + len) == Some(&'+');
                    if min_zero {
                        let group = out.split_off(start);
                        if lazy {
                            out.push_str(&format!("(?:|{group})"));
                        } else {
                            out.push_str(&format!("(?:{group}|)"));
                        }
                    }
                    i += 1 + len + usize::from(lazy || possessive);
                    continue;
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// A quantifier at the start of `rest` (`*`, `+`, `?`, `{m}`, `{m,}`, `{,n}`, `{m,n}`):
/// whether it allows zero repetitions, and its length in characters.
fn quantifier_at(rest: &[char]) -> Option<(bool, usize)> {
    match rest.first()? {
        '*' | '?' => Some((true, 1)),
        '+' => Some((false, 1)),
        '{' => {
            let close = rest.iter().position(|&c| c == '}')?;
            let inside: String = rest[1..close].iter().collect();
            let (min, max) = inside.split_once(',').unwrap_or((&inside, &inside));
            let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
            if !digits(min) || !digits(max) || (min.is_empty() && max.is_empty()) {
                return None;
            }
            let min_zero = min.is_empty() || min.parse::<u64>().ok()? == 0;
            Some((min_zero, close + 1))
        }
        _ => None,
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
/// Then `AllowedValues`, each `AllowedPattern` (matched against the whole value, see
/// [`WholeValuePattern`]; a pattern's own description replaces `ConstraintDescription` in
/// its error),
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

        for allowed in &decl.allowed_patterns {
            let pattern = &allowed.pattern;
            let matcher = match WholeValuePattern::new(pattern) {
                Ok(matcher) => matcher,
                Err(reason) => {
                    self.push(ParamProblem::BadConstraint {
                        constraint: "AllowedPattern",
                        value: compact(&Value::String(pattern.clone())),
                        reason,
                    });
                    continue;
                }
            };
            for (text, is_item) in &texts {
                let problem = match matcher.matches(text) {
                    Ok(true) => continue,
                    Ok(false) => ParamProblem::PatternMismatch {
                        subject: self.text_subject(text, *is_item),
                        pattern: pattern.clone(),
                    },
                    Err(reason) => ParamProblem::PatternUndecided {
                        subject: self.text_subject(text, *is_item),
                        pattern: pattern.clone(),
                        reason,
                    },
                };
                match &allowed.description {
                    Some(description) => self.errors.push(ParamError {
                        parameter: self.name.to_owned(),
                        problem,
                        constraint_description: Some(description.clone()),
                    }),
                    None => self.violation(problem),
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AllowedPattern, Text};
    use serde_json::json;

    fn decl(json: Value) -> ParameterDecl {
        serde_json::from_value(json).expect("a parameter declaration")
    }

    fn decls(json: Value) -> IndexMap<String, ParameterDecl> {
        serde_json::from_value(json).expect("parameter declarations")
    }

    fn given(json: Value) -> IndexMap<String, Value> {
        serde_json::from_value(json).expect("given values")
    }

    /// Resolves one parameter `P` declared as `declaration` and given `value`.
    fn one(declaration: Value, value: Value) -> Result<Value, ParamErrors> {
        let mut d = IndexMap::new();
        d.insert("P".to_owned(), decl(declaration));
        let mut g = IndexMap::new();
        g.insert("P".to_owned(), value);
        resolve_parameters(&d, &g).map(|v| v.get("P").cloned().expect("P is resolved"))
    }

    fn one_err(declaration: Value, value: Value) -> String {
        one(declaration, value)
            .expect_err("a violation")
            .to_string()
    }

    #[test]
    fn string_conversion() {
        assert_eq!(
            one(json!({"Type": "String"}), json!("x")).unwrap(),
            json!("x")
        );
        assert_eq!(
            one(json!({"Type": "String"}), json!(42)).unwrap(),
            json!("42")
        );
        assert_eq!(
            one(json!({"Type": "String"}), json!(true)).unwrap(),
            json!("true")
        );
        assert_eq!(
            one_err(json!({"Type": "String"}), json!(["a"])),
            "parameter 'P': value [\"a\"] is not a valid String (expected a string)"
        );
        // A vendor type is passed through as a string.
        assert_eq!(
            one(json!({"Type": "ALIYUN::OOS::Parameter::Value"}), json!(7)).unwrap(),
            json!("7")
        );
    }

    #[test]
    fn number_conversion_keeps_integers() {
        let n = one(json!({"Type": "Number"}), json!("5")).unwrap();
        assert_eq!(n, json!(5));
        assert!(n.is_i64());
        let f = one(json!({"Type": "Number"}), json!(" 2.5 ")).unwrap();
        assert_eq!(f, json!(2.5));
        assert_eq!(
            one(json!({"Type": "Number"}), json!(-3)).unwrap(),
            json!(-3)
        );
        assert_eq!(
            one_err(json!({"Type": "Number"}), json!("five")),
            "parameter 'P': value \"five\" is not a valid Number"
        );
        assert_eq!(
            one_err(json!({"Type": "Number"}), json!(true)),
            "parameter 'P': value true is not a valid Number (expected a number)"
        );
    }

    #[test]
    fn comma_delimited_list_conversion() {
        let t = json!({"Type": "CommaDelimitedList"});
        assert_eq!(
            one(t.clone(), json!("a, b,c")).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            one(t.clone(), json!([" a", 1, true])).unwrap(),
            json!(["a", "1", "true"])
        );
        assert_eq!(one(t.clone(), json!("")).unwrap(), json!([]));
        assert_eq!(one(t.clone(), json!(3)).unwrap(), json!(["3"]));
        assert_eq!(
            one_err(t.clone(), json!([{"a": 1}])),
            "parameter 'P': value [{\"a\":1}] is not a valid CommaDelimitedList (list items must be strings or numbers)"
        );
        assert!(one_err(t, json!({"a": 1})).contains("expected a comma-delimited string"));
    }

    #[test]
    fn json_conversion() {
        let t = json!({"Type": "Json"});
        assert_eq!(
            one(t.clone(), json!("{\"a\": [1, 2]}")).unwrap(),
            json!({"a": [1, 2]})
        );
        assert_eq!(
            one(t.clone(), json!({"k": "v"})).unwrap(),
            json!({"k": "v"})
        );
        assert_eq!(one(t.clone(), json!([1])).unwrap(), json!([1]));
        let e = one_err(t, json!("{not json"));
        assert!(
            e.starts_with(
                "parameter 'P': value \"{not json\" is not a valid Json (key must be a string"
            ),
            "{e}"
        );
    }

    #[test]
    fn boolean_conversion() {
        let t = json!({"Type": "Boolean"});
        assert_eq!(one(t.clone(), json!(true)).unwrap(), json!(true));
        assert_eq!(one(t.clone(), json!("TRUE")).unwrap(), json!(true));
        assert_eq!(one(t.clone(), json!("False")).unwrap(), json!(false));
        assert_eq!(
            one_err(t.clone(), json!("yes")),
            "parameter 'P': value \"yes\" is not a valid Boolean (expected true or false)"
        );
        assert!(one_err(t, json!(1)).contains("is not a valid Boolean"));
    }

    #[test]
    fn defaults_and_explicit_null() {
        let d = decls(json!({
            "A": {"Type": "String", "Default": "a"},
            "N": {"Type": "Number", "Default": "3"},
            // An explicit null default is empty and not validated.
            "E": {"Type": "String", "Default": null, "MinLength": 5, "AllowedValues": ["hello"]},
        }));
        let v = resolve_parameters(&d, &IndexMap::new()).unwrap();
        assert_eq!(v.get("A"), Some(&json!("a")));
        assert_eq!(v.get("N"), Some(&json!(3)));
        assert_eq!(v.get("E"), Some(&Value::Null));
        // A given null counts as not given; a given value wins over the default.
        let v = resolve_parameters(&d, &given(json!({"A": null, "E": "hello"}))).unwrap();
        assert_eq!(v.get("A"), Some(&json!("a")));
        assert_eq!(v.get("E"), Some(&json!("hello")));
        assert_eq!(v.names().collect::<Vec<_>>(), vec!["A", "N", "E"]);
        // A default is converted and validated like a given value.
        let d = decls(json!({"N": {"Type": "Number", "Default": 0, "MinValue": 1}}));
        assert_eq!(
            resolve_parameters(&d, &IndexMap::new())
                .unwrap_err()
                .to_string(),
            "parameter 'N': value 0 is below MinValue 1"
        );
    }

    #[test]
    fn missing_and_undeclared() {
        let d = decls(json!({"Need": {"Type": "String"}}));
        let e = resolve_parameters(&d, &given(json!({"Extra": "x"}))).unwrap_err();
        assert_eq!(
            e.errors
                .iter()
                .map(|e| e.problem.clone())
                .collect::<Vec<_>>(),
            vec![ParamProblem::Missing, ParamProblem::Undeclared]
        );
        assert_eq!(
            e.to_string(),
            "parameter 'Need': no value given and the declaration has no Default\n\
             parameter 'Extra': a value was given but the template declares no such parameter"
        );
    }

    #[test]
    fn allowed_values() {
        let t = json!({"Type": "String", "AllowedValues": ["hangzhou", "beijing"]});
        assert_eq!(one(t.clone(), json!("beijing")).unwrap(), json!("beijing"));
        assert_eq!(
            one_err(t, json!("shanghai")),
            "parameter 'P': value \"shanghai\" is not one of AllowedValues [\"hangzhou\",\"beijing\"]"
        );
        // Numbers compare by value, with allowed values written as strings or numbers.
        let t = json!({"Type": "Number", "AllowedValues": ["1", 2.0]});
        assert_eq!(one(t.clone(), json!(1)).unwrap(), json!(1));
        assert_eq!(one(t.clone(), json!("2")).unwrap(), json!(2));
        assert!(one_err(t, json!(3)).contains("value 3 is not one of AllowedValues"));
        // Booleans against textual allowed values.
        let t = json!({"Type": "Boolean", "AllowedValues": ["True"]});
        assert_eq!(one(t.clone(), json!(true)).unwrap(), json!(true));
        assert!(one_err(t, json!(false)).contains("is not one of AllowedValues"));
        // Lists: each item.
        let t = json!({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]});
        assert_eq!(
            one(t.clone(), json!("a,b,a")).unwrap(),
            json!(["a", "b", "a"])
        );
        assert_eq!(
            one_err(t, json!("a,c")),
            "parameter 'P': item \"c\" is not one of AllowedValues [\"a\",\"b\"]"
        );
    }

    #[test]
    fn allowed_pattern_matches_the_whole_value() {
        let t = json!({"Type": "String", "AllowedPattern": "[a-z]+"});
        assert_eq!(one(t.clone(), json!("abc")).unwrap(), json!("abc"));
        assert_eq!(
            one_err(t.clone(), json!("abc1")),
            "parameter 'P': value \"abc1\" does not match AllowedPattern \"[a-z]+\""
        );
        // An alternation is anchored as a whole, not only its first branch.
        let t = json!({"Type": "String", "AllowedPattern": "a|b"});
        assert!(one_err(t, json!("ab")).contains("does not match"));
        let t = json!({"Type": "CommaDelimitedList", "AllowedPattern": "\\d+"});
        assert_eq!(one(t.clone(), json!("1, 22")).unwrap(), json!(["1", "22"]));
        assert_eq!(
            one_err(t, json!("1,x")),
            "parameter 'P': item \"x\" does not match AllowedPattern \"\\\\d+\""
        );
        let e = one_err(
            json!({"Type": "String", "AllowedPattern": "(["}),
            json!("x"),
        );
        assert!(
            e.starts_with("parameter 'P': the declaration's AllowedPattern \"([\" is invalid: "),
            "{e}"
        );
    }

    #[test]
    fn allowed_pattern_has_look_around_and_backreferences() {
        // Heat's templates use look-ahead (Python's `re` has it).
        let t = json!({"Type": "String",
            "AllowedPattern": "(?=^.{6,255}$)((?=.*\\d)(?=.*[A-Z])(?=.*[a-z]))^.*"});
        assert_eq!(
            one(t.clone(), json!("Passw0rd")).unwrap(),
            json!("Passw0rd")
        );
        assert_eq!(
            one_err(t, json!("password")),
            "parameter 'P': value \"password\" does not match AllowedPattern \
             \"(?=^.{6,255}$)((?=.*\\\\d)(?=.*[A-Z])(?=.*[a-z]))^.*\""
        );
        let t = json!({"Type": "String", "AllowedPattern": "^(?!.*[\"\\r\\n]).*$"});
        assert!(one(t.clone(), json!("My site")).is_ok());
        assert!(one_err(t, json!("My \"site\"")).contains("does not match"));
        let t = json!({"Type": "String", "AllowedPattern": "(?<=)(\\w)\\1+"});
        assert!(one(t.clone(), json!("aaa")).is_ok());
        assert!(one_err(t, json!("aab")).contains("does not match"));
        // A quantified look-around, which Python accepts: `(?=x)*` may match zero times,
        // `(?=x)+` is the assertion once.
        let t = json!({"Type": "String",
            "AllowedPattern": "[A-Za-z0-9]+(?=[\\.\\-][a-zA-Z0-9])*\\.[a-zA-z09]+"});
        assert!(one(t.clone(), json!("cloudbase.local")).is_ok());
        assert!(one_err(t, json!("cloudbase")).contains("does not match"));
        let t = json!({"Type": "String", "AllowedPattern": "a(?=b){1,3}b"});
        assert!(one(t.clone(), json!("ab")).is_ok());
        let t = json!({"Type": "String", "AllowedPattern": "a(?=b)+c"});
        assert!(one_err(t, json!("ac")).contains("does not match"));
        let t = json!({"Type": "String", "AllowedPattern": "a(?!b)*?c"});
        assert!(one(t, json!("ac")).is_ok());
        // Character classes and escapes are copied as they are.
        assert_eq!(
            python_quantified_lookaround("[(?=]*(?=x)?"),
            "[(?=]*(?:(?=x)|)"
        );
        assert_eq!(python_quantified_lookaround("\\(?=x)?"), "\\(?=x)?");
        assert_eq!(python_quantified_lookaround("(a)(?=b)"), "(a)(?=b)");
        assert_eq!(python_quantified_lookaround("(?=b){,2}"), "(?:(?=b)|)");
        assert_eq!(python_quantified_lookaround("(?=b){a}"), "(?=b){a}");
    }

    #[test]
    fn several_patterns_must_all_match_and_name_the_failing_one() {
        let mut d = decl(json!({"Type": "String", "NoEcho": true,
            "ConstraintDescription": "6 to 8 characters"}));
        d.allowed_patterns = vec![
            AllowedPattern::new("[^0-9]*[0-9].*").with_description("Password needs a digit"),
            AllowedPattern::new("[A-Z].*"),
        ];
        let decls = IndexMap::from([("admin_pass".to_owned(), d)]);
        let check = |value: &str| resolve_parameters(&decls, &given(json!({"admin_pass": value})));
        assert!(check("Abc123").is_ok());
        // The one that fails is named, with its own description or else the declaration's.
        assert_eq!(
            check("abc123").unwrap_err().to_string(),
            "parameter 'admin_pass': the given value does not match AllowedPattern \
             \"[A-Z].*\" (6 to 8 characters)"
        );
        assert_eq!(
            check("Abcdef").unwrap_err().to_string(),
            "parameter 'admin_pass': the given value does not match AllowedPattern \
             \"[^0-9]*[0-9].*\" (Password needs a digit)"
        );
        // Both fail: both are reported.
        assert_eq!(check("abc").unwrap_err().errors.len(), 2);
    }

    #[test]
    fn an_invalid_pattern_names_the_parameter_and_the_constraint() {
        let e = one_err(
            json!({"Type": "String", "AllowedPattern": "a(b"}),
            json!("ab"),
        );
        assert_eq!(
            e,
            "parameter 'P': the declaration's AllowedPattern \"a(b\" is invalid: \
             Opening parenthesis without closing parenthesis"
        );
        let e = one_err(
            json!({"Type": "String", "AllowedPattern": ["x", "[z-a]"]}),
            json!("x"),
        );
        assert!(
            e.starts_with("parameter 'P': the declaration's AllowedPattern \"[z-a]\" is invalid: "),
            "{e}"
        );
    }

    #[test]
    fn a_pattern_that_backtracks_too_long_is_an_error_not_a_hang() {
        let t = json!({"Type": "String", "AllowedPattern": "(a|aa)+(?=c)b"});
        let value = format!("{}c", "a".repeat(60));
        let e =
            resolve_parameters(&decls(json!({"P": t})), &given(json!({"P": value}))).unwrap_err();
        assert!(matches!(
            e.errors[0].problem,
            ParamProblem::PatternUndecided { .. }
        ));
        assert_eq!(
            e.to_string(),
            format!(
                "parameter 'P': could not check value \"{value}\" against AllowedPattern \
                 \"(a|aa)+(?=c)b\": the match gave up after 1000000 backtracking steps \
                 (the pattern backtracks catastrophically on this value)"
            )
        );
        // A secret value is not shown.
        let t = json!({"Type": "String", "NoEcho": true, "AllowedPattern": "(a|aa)+(?=c)b"});
        let e = resolve_parameters(&decls(json!({"P": t})), &given(json!({"P": value})))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("parameter 'P': could not check the given value against"),
            "{e}"
        );
        assert!(!e.contains("aaaa"), "{e}");
    }

    #[test]
    fn patterns_keep_the_ros_shape_when_there_is_one() {
        let d = decl(json!({"Type": "String", "AllowedPattern": "[a-z]+"}));
        assert_eq!(d.allowed_patterns, vec![AllowedPattern::new("[a-z]+")]);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"Type": "String", "AllowedPattern": "[a-z]+"})
        );
        let several = json!({"Type": "String", "AllowedPattern": [
            "[a-z]+", {"Pattern": "a.*", "Description": "starts with a"}]});
        let d = decl(several.clone());
        assert_eq!(d.allowed_patterns.len(), 2);
        assert_eq!(serde_json::to_value(&d).unwrap(), several);
        let one_described = json!({"Type": "String", "AllowedPattern": [
            {"Pattern": "a.*", "Description": "starts with a"}]});
        assert_eq!(
            serde_json::to_value(decl(one_described.clone())).unwrap(),
            one_described
        );
        assert!(
            decl(json!({"Type": "String", "AllowedPattern": null}))
                .allowed_patterns
                .is_empty()
        );
        let err = serde_json::from_value::<ParameterDecl>(
            json!({"Type": "String", "AllowedPattern": [{"Pattern": "a", "Typo": 1}]}),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("AllowedPattern must be a text"),
            "{err}"
        );
    }

    #[test]
    fn lengths_count_characters() {
        let t = json!({"Type": "String", "MinLength": 2, "MaxLength": "5"});
        assert_eq!(one(t.clone(), json!("héllo")).unwrap(), json!("héllo"));
        assert_eq!(
            one_err(t.clone(), json!("h")),
            "parameter 'P': value \"h\" has 1 characters, fewer than MinLength 2"
        );
        assert_eq!(
            one_err(t, json!("héllo!")),
            "parameter 'P': value \"héllo!\" has 6 characters, more than MaxLength 5"
        );
        let t = json!({"Type": "CommaDelimitedList", "MaxLength": 2});
        assert_eq!(one(t.clone(), json!("ab,c")).unwrap(), json!(["ab", "c"]));
        assert_eq!(
            one_err(t, json!("ab,abc")),
            "parameter 'P': item \"abc\" has 3 characters, more than MaxLength 2"
        );
        assert_eq!(
            one_err(json!({"Type": "String", "MinLength": -1}), json!("x")),
            "parameter 'P': the declaration's MinLength -1 is invalid: expected a non-negative integer"
        );
    }

    #[test]
    fn value_bounds_accept_numeric_strings() {
        let t = json!({"Type": "Number", "MinValue": "1", "MaxValue": 100});
        assert_eq!(one(t.clone(), json!(1)).unwrap(), json!(1));
        assert_eq!(one(t.clone(), json!("100")).unwrap(), json!(100));
        assert_eq!(
            one_err(t.clone(), json!(0)),
            "parameter 'P': value 0 is below MinValue 1"
        );
        assert_eq!(
            one_err(t, json!(100.5)),
            "parameter 'P': value 100.5 is above MaxValue 100"
        );
        assert_eq!(
            one_err(json!({"Type": "Number", "MaxValue": "ten"}), json!(1)),
            "parameter 'P': the declaration's MaxValue \"ten\" is invalid: expected a number"
        );
    }

    #[test]
    fn constraint_description_is_appended() {
        let mut d = decl(json!({"Type": "Number", "MinValue": 1}));
        d.constraint_description = Some(Text::Localized(IndexMap::from([
            ("zh-cn".to_owned(), "至少 1".to_owned()),
            ("en".to_owned(), "At least one node.".to_owned()),
        ])));
        let decls = IndexMap::from([("NodeCount".to_owned(), d)]);
        let e = resolve_parameters(&decls, &given(json!({"NodeCount": 0}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter 'NodeCount': value 0 is below MinValue 1 (At least one node.)"
        );
        assert_eq!(
            e.errors[0].constraint_description.as_deref(),
            Some("At least one node.")
        );
    }

    #[test]
    fn all_errors_are_returned_together() {
        let d = decls(json!({
            "Region": {"Type": "String", "AllowedValues": ["hangzhou", "beijing"]},
            "NodeCount": {"Type": "Number", "MinValue": 1, "MaxValue": 10,
                          "ConstraintDescription": "1 to 10 nodes"},
            "Name": {"Type": "String", "AllowedPattern": "[a-z][a-z0-9-]*", "MaxLength": 8},
            "Zones": {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]},
            "Password": {"Type": "String", "NoEcho": true, "MinLength": 8,
                         "AllowedPattern": "[A-Za-z0-9]+"},
            "Config": {"Type": "Json"},
            "Flag": {"Type": "Boolean"},
            "Required": {"Type": "String"},
        }));
        let g = given(json!({
            "Region": "shanghai",
            "NodeCount": "0",
            "Name": "9-Too-Long-Name",
            "Zones": "a, c, d",
            "Password": "hunter!",
            "Config": "[1,",
            "Flag": "maybe",
            "Typo": "x",
        }));
        let errors = resolve_parameters(&d, &g).unwrap_err();
        assert_eq!(errors.errors.len(), 12);
        let text = errors.to_string();
        assert!(!text.contains("hunter!"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn secrets_never_appear_in_errors_or_debug() {
        let d = decls(json!({
            "Password": {"Type": "String", "NoEcho": "true", "MinLength": 12,
                         "MaxLength": 3, "AllowedValues": ["x"], "AllowedPattern": "\\d+"},
            "Token": {"Type": "Number", "NoEcho": true, "MaxValue": 5},
            "Keys": {"Type": "CommaDelimitedList", "NoEcho": true, "AllowedValues": ["k"]},
            "Blob": {"Type": "Json", "NoEcho": true},
        }));
        let g = given(json!({
            "Password": "s3cr3t-pw", "Token": 987654, "Keys": "topsecret", "Blob": "{oops"
        }));
        let e = resolve_parameters(&d, &g).unwrap_err();
        let shown = format!("{e}\n{e:?}");
        for secret in ["s3cr3t-pw", "987654", "topsecret", "{oops"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("parameter 'Password': the given value has 9 characters"));
        assert!(shown.contains("parameter 'Token': the given value is above MaxValue 5"));
        assert!(shown.contains("parameter 'Keys': an item of the given value is not one of"));
        assert!(shown.contains("parameter 'Blob': the given value is not a valid Json"));

        let d = decls(json!({
            "User": {"Type": "String"},
            "Password": {"Type": "String", "NoEcho": true},
        }));
        let v =
            resolve_parameters(&d, &given(json!({"User": "root", "Password": "pa55"}))).unwrap();
        assert!(v.is_secret("Password") && !v.is_secret("User"));
        assert_eq!(v.secret_names().collect::<Vec<_>>(), vec!["Password"]);
        assert_eq!(v.get("Password"), Some(&json!("pa55")));
        assert_eq!(format!("{v:?}"), r#"{"User": "root", "Password": ***}"#);
        assert!(!format!("{v:#?}").contains("pa55"));
    }

    fn expected_digest(salt: &str, secret: &str) -> String {
        let full = hex::encode(Sha256::digest(format!("{salt}:{secret}").as_bytes()));
        format!("***sha256:{}", &full[..16])
    }

    #[test]
    fn redact_replaces_secrets_by_a_salted_digest() {
        let v = ParamValues::from_resolved(
            IndexMap::from([
                ("Password".to_owned(), json!("pa55word")),
                ("Pin".to_owned(), json!(4321)),
                ("Empty".to_owned(), json!("")),
                ("Region".to_owned(), json!("cn-hangzhou")),
            ]),
            ["Password", "Pin", "Empty", "NotAParameter"],
        );
        let d = expected_digest("salt", "pa55word");
        let pin = expected_digest("salt", "4321");
        let state = json!({
            "Password": "pa55word",
            "UserData": "echo pa55word | chpasswd; echo pa55word",
            "Nested": [{"Pin": 4321, "Other": 4322, "Text": "pin=4321"}],
            "Region": "cn-hangzhou",
            "Flag": true,
            "Nothing": null,
        });
        let redacted = v.redact(&state, "salt");
        assert_eq!(
            redacted,
            json!({
                "Password": d,
                "UserData": format!("echo {d} | chpasswd; echo {d}"),
                "Nested": [{"Pin": pin, "Other": 4322, "Text": format!("pin={pin}")}],
                "Region": "cn-hangzhou",
                "Flag": true,
                "Nothing": null,
            })
        );
        assert!(d.starts_with(REDACTED_DIGEST_PREFIX) && d.len() == 10 + 16);
        // The salt changes the digest; the same secret gives the same digest.
        assert_ne!(v.redact(&json!("pa55word"), "other"), json!(d));
        assert_eq!(v.redact(&json!("pa55word"), "salt"), json!(d));
        assert_eq!(
            v.redact_text("login with pa55word, pin 4321"),
            "login with ***, pin ***"
        );
        // The empty secret redacts nothing.
        assert_eq!(v.redact_text("a b"), "a b");
    }

    #[test]
    fn redaction_prefers_the_longest_secret_and_never_rescans_digests() {
        let v = ParamValues::from_resolved(
            IndexMap::from([
                ("Short".to_owned(), json!("s")),
                ("Long".to_owned(), json!("secret-s")),
            ]),
            ["Short", "Long"],
        );
        assert_eq!(v.redact_text("secret-s x s"), "*** x ***");
        let long = expected_digest("salt", "secret-s");
        let short = expected_digest("salt", "s");
        // Every digest starts with "***sha256:", which holds an "s": one pass never
        // redacts a digest again.
        assert_eq!(
            v.redact(&json!("secret-s/s"), "salt"),
            json!(format!("{long}/{short}"))
        );
    }

    #[test]
    fn redact_handles_list_and_json_secrets() {
        let v = ParamValues::from_resolved(
            IndexMap::from([
                ("Keys".to_owned(), json!(["k-one", "k-two"])),
                ("Blob".to_owned(), json!({"token": "t0k"})),
            ]),
            ["Keys", "Blob"],
        );
        let out = v.redact(
            &json!({"A": ["k-one", "x"], "B": {"token": "t0k"}, "C": "use k-two"}),
            "s",
        );
        let text = out.to_string();
        for secret in ["k-one", "k-two", "t0k"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(out["A"][1], json!("x"));
        assert_eq!(out["B"], json!(expected_digest("s", r#"{"token":"t0k"}"#)));
        assert_eq!(v.redact_text(r#"body {"token":"t0k"}"#), "body ***");
    }

    proptest::proptest! {
        /// Wherever a secret stands in a text, neither redaction leaves it there. (Secrets
        /// are upper-case so that they cannot occur inside a digest, which is lower-case.)
        #[test]
        fn redaction_leaves_no_secret(
            secret in "[A-Z]{1,8}",
            before in "\\PC{0,20}",
            after in "\\PC{0,20}",
        ) {
            let v = ParamValues::from_resolved(
                IndexMap::from([("S".to_owned(), json!(secret.clone()))]),
                ["S"],
            );
            let text = format!("{before}{secret}{after}{secret}");
            let redacted = v.redact(&json!({"k": [text.clone()]}), "salt");
            proptest::prop_assert!(!redacted.to_string().contains(&secret));
            proptest::prop_assert!(!v.redact_text(&text).contains(&secret));
        }
    }

    #[test]
    fn error_kind_is_invalid() {
        let d = decls(json!({"A": {"Type": "String"}}));
        let e = resolve_parameters(&d, &IndexMap::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn no_secrets_means_values_are_untouched() {
        let v = ParamValues::from_resolved(
            IndexMap::from([("A".to_owned(), json!("a"))]),
            Vec::<String>::new(),
        );
        assert_eq!(v.redact(&json!({"A": "a"}), "s"), json!({"A": "a"}));
        assert_eq!(v.redact_text("a"), "a");
        assert_eq!(v.len(), 1);
        assert!(!v.is_empty());
        assert!(ParamValues::default().is_empty());
    }
}
