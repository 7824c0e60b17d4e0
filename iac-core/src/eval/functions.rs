//! The intrinsic functions.
//!
//! Most functions evaluate their whole argument first (so NoValue items have already left
//! the argument lists, and an unknown anywhere makes the call unknown), then check its
//! shape. `Fn::If`, `Fn::And`, `Fn::Or` and `Fn::Not` look at their literal arguments:
//! `Fn::If` evaluates only the chosen branch, and a bare string in a condition position
//! names a condition.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

use super::{EvalContext, EvalError, Lookup, eval, join_key};
use crate::expr::{Expr, SubPart, parse_sub};
use crate::params::parse_number;

mod hot;

/// Every function [`call`] evaluates, for documentation and validation.
pub(crate) const SUPPORTED: &[&str] = &[
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Sub",
    "Fn::Select",
    "Fn::Split",
    "Fn::Replace",
    "Fn::Base64Encode",
    "Fn::Base64Decode",
    "Fn::FindInMap",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::GetJsonValue",
    "Fn::Length",
    "Fn::ListMerge",
    "Fn::Str",
    "Fn::Index",
    "Fn::Add",
    "Fn::Max",
    "Fn::Min",
    "Fn::Avg",
    "Fn::MergeMapToList",
    // Added for OpenStack Heat (HOT) templates; see `hot.rs`.
    "Fn::GetPath",
    "Fn::StrReplace",
    "Fn::StrReplaceStrict",
    "Fn::StrReplaceVStrict",
    "Fn::ListJoin",
    "Fn::StrSplit",
    "Fn::Repeat",
    "Fn::MapMerge",
    "Fn::EqualsStrict",
    "Fn::ListConcat",
    "Fn::ListConcatUnique",
    "Fn::Contains",
    "Fn::Filter",
    "Fn::MapReplace",
    "Fn::Digest",
    // A value that is an error (see `EvalError::Raised`).
    "Fn::Error",
];

/// Evaluates `{function: args}` standing at `path`.
pub(super) fn call(
    function: &str,
    args: &Expr,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Option<Value>, EvalError> {
    let f = Call {
        function,
        path: join_key(path, function),
    };
    match function {
        "Fn::If" => return f.if_(args, ctx),
        "Fn::And" | "Fn::Or" => return f.and_or(args, ctx).map(|b| Some(Value::Bool(b))),
        "Fn::Not" => return f.not(args, ctx).map(|b| Some(Value::Bool(b))),
        "Condition" => return f.condition(args, ctx).map(|b| Some(Value::Bool(b))),
        _ if !SUPPORTED.contains(&function) => {
            return Err(EvalError::Unsupported {
                path: path.to_owned(),
                function: function.to_owned(),
            });
        }
        _ => {}
    }
    let Some(value) = eval(args, ctx, &f.path)? else {
        return Err(f.error("expected arguments, got ALIYUN::NoValue"));
    };
    match function {
        // A malformed `Ref` / `Fn::GetAtt` (a computed name) is kept as a call by the
        // reader; evaluate it like the plain form once its argument is known.
        "Ref" => match value {
            Value::String(name) => reference(&name, ctx, path),
            other => Err(f.error(format!("expected a name, got {}", describe(&other)))),
        },
        "Fn::GetAtt" => f.get_att(value, ctx, path).map(Some),
        "Fn::Sub" => f.sub(value, ctx).map(Some),
        other => f.apply(other, value, ctx).map(Some),
    }
}

/// What `Ref name` names, in the order evaluation looks: NoValue, then a parameter, then a
/// pseudo parameter, then a resource.
pub(super) enum RefTarget<'v> {
    NoValue,
    Value(&'v Value),
    Resource,
}

pub(super) fn ref_target<'v>(name: &str, ctx: &EvalContext<'v>) -> RefTarget<'v> {
    if name.ends_with("::NoValue") {
        RefTarget::NoValue
    } else if let Some(value) = ctx.parameters.get(name).or_else(|| ctx.pseudo.get(name)) {
        RefTarget::Value(value)
    } else {
        RefTarget::Resource
    }
}

/// `Ref name` at `path`: NoValue, a parameter, a pseudo parameter or a physical id.
pub(super) fn reference(
    name: &str,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Option<Value>, EvalError> {
    match ref_target(name, ctx) {
        RefTarget::NoValue => return Ok(None),
        RefTarget::Value(value) => return Ok(Some(value.clone())),
        RefTarget::Resource => {}
    }
    match ctx.resources.physical_id(name) {
        Lookup::Known(value) => Ok(Some(value)),
        Lookup::Unknown => Err(EvalError::Unknown {
            resource: name.to_owned(),
            path: path.to_owned(),
        }),
        Lookup::Missing => Err(EvalError::UndefinedReference {
            path: path.to_owned(),
            name: name.to_owned(),
        }),
    }
}

/// `Fn::GetAtt [resource, attribute]` at `path`.
pub(super) fn get_att(
    resource: &str,
    attribute: &str,
    ctx: &EvalContext<'_>,
    path: &str,
) -> Result<Value, EvalError> {
    match ctx.resources.attribute(resource, attribute) {
        Lookup::Known(value) => Ok(value),
        Lookup::Unknown => Err(EvalError::Unknown {
            resource: resource.to_owned(),
            path: path.to_owned(),
        }),
        Lookup::Missing => match ctx.resources.physical_id(resource) {
            Lookup::Missing => Err(EvalError::UndefinedResource {
                path: path.to_owned(),
                resource: resource.to_owned(),
            }),
            _ => Err(EvalError::MissingAttribute {
                path: path.to_owned(),
                resource: resource.to_owned(),
                attribute: attribute.to_owned(),
            }),
        },
    }
}

/// One call being evaluated: its function name and the path of its argument.
struct Call<'a> {
    function: &'a str,
    /// `<where the call stands>.<function>`; argument `i` is at `<path>[i]`.
    path: String,
}

impl Call<'_> {
    fn error(&self, message: impl Into<String>) -> EvalError {
        self.error_at(None, message)
    }

    /// An error about argument `index` (at `path[index]`), or about the whole argument.
    fn error_at(&self, index: Option<usize>, message: impl Into<String>) -> EvalError {
        let path = match index {
            Some(i) => format!("{}[{i}]", self.path),
            None => self.path.clone(),
        };
        EvalError::Function {
            path,
            function: self.function.to_owned(),
            message: message.into(),
        }
    }

    /// The argument as a list whose length is in `min..=max`; `shape` says what is expected.
    fn list(
        &self,
        value: Value,
        min: usize,
        max: usize,
        shape: &str,
    ) -> Result<Vec<Value>, EvalError> {
        match value {
            Value::Array(items) if (min..=max).contains(&items.len()) => Ok(items),
            other => Err(self.error(format!("expected {shape}, got {}", describe(&other)))),
        }
    }

    /// Argument `index` as text: a string, or a number or boolean written as text.
    fn text(&self, value: &Value, index: Option<usize>, what: &str) -> Result<String, EvalError> {
        scalar_text(value).ok_or_else(|| {
            self.error_at(
                index,
                format!("expected {what} (a string), got {}", describe(value)),
            )
        })
    }

    /// Argument `index` as a string (numbers are not accepted).
    fn string(&self, value: Value, index: Option<usize>, what: &str) -> Result<String, EvalError> {
        match value {
            Value::String(s) => Ok(s),
            other => Err(self.error_at(
                index,
                format!("expected {what} (a string), got {}", describe(&other)),
            )),
        }
    }

    /// Argument `index` as an integer: a number or a numeric string.
    fn integer(&self, value: &Value, index: Option<usize>, what: &str) -> Result<i64, EvalError> {
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.error_at(
                index,
                format!("expected {what}, got {}", describe_scalar(value)),
            )
        })
    }

    /// Argument `index` as a number: a number or a numeric string.
    fn number(&self, value: &Value, index: Option<usize>) -> Result<Number, EvalError> {
        match value {
            Value::Number(n) => Some(n.clone()),
            Value::String(s) => parse_number(s),
            _ => None,
        }
        .ok_or_else(|| {
            self.error_at(
                index,
                format!("expected a number, got {}", describe_scalar(value)),
            )
        })
    }

    fn apply(
        &self,
        function: &str,
        value: Value,
        ctx: &EvalContext<'_>,
    ) -> Result<Value, EvalError> {
        match function {
            "Fn::Join" => self.join(value),
            "Fn::Select" => self.select(value),
            "Fn::Split" => self.split(value),
            "Fn::Replace" => self.replace(value),
            "Fn::Base64Encode" => self.base64_encode(value),
            "Fn::Base64Decode" => self.base64_decode(value),
            "Fn::FindInMap" => self.find_in_map(value, ctx),
            "Fn::Equals" => self.equals(value),
            "Fn::GetJsonValue" => self.get_json_value(value),
            "Fn::Length" => self.length(value),
            "Fn::ListMerge" => self.list_merge(value),
            "Fn::Str" => self.str(value),
            "Fn::Index" => self.index(value),
            "Fn::Add" => self.add(value),
            "Fn::Max" => self.extreme(value, true),
            "Fn::Min" => self.extreme(value, false),
            "Fn::Avg" => self.avg(value),
            "Fn::MergeMapToList" => self.merge_map_to_list(value),
            "Fn::GetPath" => self.get_path(value),
            "Fn::StrReplace" => self.str_replace(value, hot::Strictness::Lenient),
            "Fn::StrReplaceStrict" => self.str_replace(value, hot::Strictness::Strict),
            "Fn::StrReplaceVStrict" => self.str_replace(value, hot::Strictness::VeryStrict),
            "Fn::ListJoin" => self.list_join(value),
            "Fn::StrSplit" => self.str_split(value),
            "Fn::Repeat" => self.repeat(value),
            "Fn::MapMerge" => self.map_merge(value),
            "Fn::EqualsStrict" => self.equals_strict(value),
            "Fn::ListConcat" => self.list_concat(value, false),
            "Fn::ListConcatUnique" => self.list_concat(value, true),
            "Fn::Contains" => self.contains(value),
            "Fn::Filter" => self.filter(value),
            "Fn::MapReplace" => self.map_replace(value),
            "Fn::Digest" => self.digest(value),
            "Fn::Error" => Err(EvalError::Raised {
                path: self.path.clone(),
                message: self.text(&value, None, "a message")?,
            }),
            other => Err(EvalError::Unsupported {
                path: self.path.clone(),
                function: other.to_owned(),
            }),
        }
    }

    // ---- references -------------------------------------------------------------------

    fn get_att(&self, value: Value, ctx: &EvalContext<'_>, path: &str) -> Result<Value, EvalError> {
        let (resource, attribute) = match value {
            Value::String(dotted) if dotted.contains('.') => {
                let (r, a) = dotted.split_once('.').unwrap_or_default();
                (r.to_owned(), a.to_owned())
            }
            Value::Array(items) if items.len() >= 2 && items[..2].iter().all(Value::is_string) => {
                let mut it = items.into_iter();
                let mut name = || match it.next() {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                let (resource, attribute) = (name(), name());
                let attribute_path: Vec<Value> = it.collect();
                let value = get_att(&resource, &attribute, ctx, path)?;
                // HOT `get_attr` with a path: a step that does not exist gives null.
                return Ok(if attribute_path.is_empty() {
                    value
                } else {
                    hot::select_path(value, &attribute_path, false).unwrap_or(Value::Null)
                });
            }
            other => {
                return Err(self.error(format!(
                    "expected [resource, attribute, path...] or \"resource.attribute\", got {}",
                    describe(&other)
                )));
            }
        };
        get_att(&resource, &attribute, ctx, path)
    }

    /// `Fn::Sub`: `text` or `[text, {variable: value}]`.
    fn sub(&self, value: Value, ctx: &EvalContext<'_>) -> Result<Value, EvalError> {
        const SHAPE: &str = "a text or [text, {variable: value, ...}]";
        let (text, vars, text_index) = match value {
            Value::String(text) => (text, Map::new(), None),
            Value::Array(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                let text = it.next().unwrap_or_default();
                let vars = it.next().unwrap_or_default();
                let text = self.string(text, Some(0), "the text")?;
                let vars = match vars {
                    Value::Object(map) => map,
                    other => {
                        return Err(self.error_at(
                            Some(1),
                            format!("expected a map of variables, got {}", describe(&other)),
                        ));
                    }
                };
                (text, vars, Some(0))
            }
            other => return Err(self.error(format!("expected {SHAPE}, got {}", describe(&other)))),
        };
        let parts = parse_sub(&text)
            .map_err(|e| self.error_at(text_index, format!("cannot read the text: {e}")))?;
        let mut out = String::with_capacity(text.len());
        for part in parts {
            match part {
                SubPart::Literal(s) => out.push_str(&s),
                SubPart::Var(name) => {
                    let value = match vars.get(&name) {
                        Some(v) => Some(v.clone()),
                        None => self.sub_variable(&name, ctx)?,
                    };
                    if let Some(value) = value {
                        out.push_str(&json_text(&value));
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    /// A `${name}` of `Fn::Sub` that is not one of its own variables.
    fn sub_variable(&self, name: &str, ctx: &EvalContext<'_>) -> Result<Option<Value>, EvalError> {
        if name.ends_with("::NoValue")
            || ctx.parameters.get(name).is_some()
            || ctx.pseudo.contains_key(name)
        {
            return reference(name, ctx, &self.path);
        }
        if let Some((resource, attribute)) = name.split_once('.') {
            return get_att(resource, attribute, ctx, &self.path).map(Some);
        }
        reference(name, ctx, &self.path)
    }

    // ---- conditions -------------------------------------------------------------------

    /// `Fn::If [condition, value if true, value if false]`: only the chosen branch is
    /// evaluated, and it may be NoValue.
    fn if_(&self, args: &Expr, ctx: &EvalContext<'_>) -> Result<Option<Value>, EvalError> {
        let Expr::List(items) = args else {
            return Err(self.error(format!(
                "expected [condition, value if true, value if false], got {}",
                describe_expr(args)
            )));
        };
        if items.len() != 3 {
            return Err(self.error(format!(
                "expected [condition, value if true, value if false], got a list of {}",
                plural(items.len(), "item")
            )));
        }
        let chosen = if self.condition_item(&items[0], 0, ctx)? {
            1
        } else {
            2
        };
        eval(&items[chosen], ctx, &format!("{}[{chosen}]", self.path))
    }

    fn and_or(&self, args: &Expr, ctx: &EvalContext<'_>) -> Result<bool, EvalError> {
        let shape = "a list of at least 2 conditions";
        let items = match args {
            Expr::List(items) if items.len() >= 2 => items,
            Expr::List(items) => {
                return Err(self.error(format!(
                    "expected {shape}, got a list of {}",
                    plural(items.len(), "item")
                )));
            }
            other => {
                return Err(self.error(format!("expected {shape}, got {}", describe_expr(other))));
            }
        };
        let mut results = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            results.push(self.condition_item(item, i, ctx)?);
        }
        Ok(if self.function == "Fn::And" {
            results.iter().all(|b| *b)
        } else {
            results.iter().any(|b| *b)
        })
    }

    fn not(&self, args: &Expr, ctx: &EvalContext<'_>) -> Result<bool, EvalError> {
        match args {
            Expr::List(items) if items.len() == 1 => Ok(!self.condition_item(&items[0], 0, ctx)?),
            Expr::List(items) => Err(self.error(format!(
                "expected one condition (or a list of one), got a list of {}",
                plural(items.len(), "item")
            ))),
            bare => {
                let path = self.path.clone();
                Ok(!condition_value(bare, ctx, &path, self.function)?)
            }
        }
    }

    /// `{"Condition": name}`.
    fn condition(&self, args: &Expr, ctx: &EvalContext<'_>) -> Result<bool, EvalError> {
        match args {
            Expr::String(name) => lookup_condition(name, ctx, &self.path),
            other => Err(self.error(format!(
                "expected a condition name, got {}",
                describe_expr(other)
            ))),
        }
    }

    fn condition_item(
        &self,
        item: &Expr,
        index: usize,
        ctx: &EvalContext<'_>,
    ) -> Result<bool, EvalError> {
        condition_value(item, ctx, &format!("{}[{index}]", self.path), self.function)
    }

    fn equals(&self, value: Value) -> Result<Value, EvalError> {
        let items = self.list(value, 2, 2, "[value, value]")?;
        Ok(Value::Bool(loose_eq(&items[0], &items[1])))
    }

    // ---- strings ------------------------------------------------------------------------

    fn join(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 2, "[delimiter, [values, ...]]")?
            .into_iter();
        let delimiter = self.string(items.next().unwrap_or_default(), Some(0), "the delimiter")?;
        let values = match items.next().unwrap_or_default() {
            Value::Array(values) => values,
            other => {
                return Err(self.error_at(
                    Some(1),
                    format!(
                        "expected the list of values to join, got {}",
                        describe(&other)
                    ),
                ));
            }
        };
        let mut texts = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            match scalar_text(v) {
                Some(t) => texts.push(t),
                None if v.is_null() => texts.push(String::new()),
                None => {
                    return Err(EvalError::Function {
                        path: format!("{}[1][{i}]", self.path),
                        function: self.function.to_owned(),
                        message: format!(
                            "can join only strings, numbers and booleans, got {}",
                            describe(v)
                        ),
                    });
                }
            }
        }
        Ok(Value::String(texts.join(&delimiter)))
    }

    fn split(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self.list(value, 2, 2, "[delimiter, text]")?.into_iter();
        let delimiter = self.string(items.next().unwrap_or_default(), Some(0), "the delimiter")?;
        if delimiter.is_empty() {
            return Err(self.error_at(Some(0), "the delimiter is empty"));
        }
        let text = self.string(items.next().unwrap_or_default(), Some(1), "the text")?;
        Ok(Value::Array(
            text.split(delimiter.as_str())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ))
    }

    fn replace(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 2, "[{find: replacement, ...}, text]")?
            .into_iter();
        let replacements = match items.next().unwrap_or_default() {
            Value::Object(map) => map,
            other => {
                return Err(self.error_at(
                    Some(0),
                    format!(
                        "expected a map of find → replacement, got {}",
                        describe(&other)
                    ),
                ));
            }
        };
        let mut text = self.string(items.next().unwrap_or_default(), Some(1), "the text")?;
        for (find, replacement) in &replacements {
            if find.is_empty() {
                return Err(self.error_at(Some(0), "a text to find is empty"));
            }
            let replacement = scalar_text(replacement).ok_or_else(|| {
                self.error_at(
                    Some(0),
                    format!(
                        "the replacement of '{find}' must be a string, got {}",
                        describe(replacement)
                    ),
                )
            })?;
            text = text.replace(find.as_str(), &replacement);
        }
        Ok(Value::String(text))
    }

    fn base64_encode(&self, value: Value) -> Result<Value, EvalError> {
        let text = self.text(&value, None, "the text to encode")?;
        Ok(Value::String(STANDARD.encode(text.as_bytes())))
    }

    fn base64_decode(&self, value: Value) -> Result<Value, EvalError> {
        let text = self.string(value, None, "the Base64 text to decode")?;
        let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| self.error(format!("the text is not valid Base64 ({e})")))?;
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| self.error("the decoded bytes are not UTF-8 text"))
    }

    fn str(&self, value: Value) -> Result<Value, EvalError> {
        scalar_text(&value)
            .map(Value::String)
            .ok_or_else(|| self.error(format!("expected a number, got {}", describe(&value))))
    }

    // ---- lists and maps ---------------------------------------------------------------

    fn select(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(
                value,
                2,
                3,
                "[index, list or map] or [index, list or map, default]",
            )?
            .into_iter();
        let index = items.next().unwrap_or_default();
        let collection = items.next().unwrap_or_default();
        let default = items.next().unwrap_or_else(|| Value::String(String::new()));
        match collection {
            Value::Array(list) => {
                if let Value::String(s) = &index
                    && s.contains(':')
                {
                    return self.slice(s, list).map(Value::Array);
                }
                let i = self.integer(
                    &index,
                    Some(0),
                    "an integer index or a start:stop[:step] slice",
                )?;
                let len = list.len() as i64;
                let position = if i < 0 { i + len } else { i };
                Ok(if (0..len).contains(&position) {
                    list.into_iter().nth(position as usize).unwrap_or(default)
                } else {
                    default
                })
            }
            Value::Object(map) => {
                let key = self.text(&index, Some(0), "a key")?;
                Ok(map.get(&key).cloned().unwrap_or(default))
            }
            other => Err(self.error_at(
                Some(1),
                format!(
                    "expected a list or a map to select from, got {}",
                    describe(&other)
                ),
            )),
        }
    }

    /// `start:stop[:step]` with Python's slice semantics (negative positions count from the
    /// end, omitted parts take their defaults, a negative step walks backwards).
    fn slice(&self, spec: &str, list: Vec<Value>) -> Result<Vec<Value>, EvalError> {
        let bad = || {
            self.error_at(
                Some(0),
                format!("expected a slice start:stop[:step] of integers, got {spec:?}"),
            )
        };
        let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
        if parts.len() > 3 {
            return Err(bad());
        }
        let parse = |s: &str| -> Result<Option<i64>, EvalError> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>().map(Some).map_err(|_| bad())
            }
        };
        let start = parse(parts[0])?;
        let stop = parse(parts.get(1).copied().unwrap_or(""))?;
        let step = parse(parts.get(2).copied().unwrap_or(""))?.unwrap_or(1);
        if step == 0 {
            return Err(self.error_at(Some(0), "the slice step is 0"));
        }
        let len = list.len() as i64;
        let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
        let clamp = |bound: Option<i64>, default: i64| match bound {
            None => default,
            Some(b) if b < 0 => (b + len).max(lower),
            Some(b) => b.min(upper),
        };
        let start = clamp(start, if step > 0 { lower } else { upper });
        let stop = clamp(stop, if step > 0 { upper } else { lower });
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            if let Some(v) = usize::try_from(i).ok().and_then(|i| list.get(i)) {
                out.push(v.clone());
            }
            i += step;
        }
        Ok(out)
    }

    fn find_in_map(&self, value: Value, ctx: &EvalContext<'_>) -> Result<Value, EvalError> {
        let items = self.list(
            value,
            3,
            3,
            "[mapping name, top-level key, second-level key]",
        )?;
        let name = self.text(&items[0], Some(0), "the mapping name")?;
        let first = self.text(&items[1], Some(1), "the top-level key")?;
        let second = self.text(&items[2], Some(2), "the second-level key")?;
        let mapping = ctx
            .mappings
            .get(&name)
            .ok_or_else(|| self.error_at(Some(0), format!("there is no mapping named '{name}'")))?;
        let level = mapping.get(&first).ok_or_else(|| {
            self.error_at(Some(1), format!("mapping '{name}' has no key '{first}'"))
        })?;
        level.get(&second).cloned().ok_or_else(|| {
            self.error_at(
                Some(2),
                format!("mapping '{name}' has no key '{second}' under '{first}'"),
            )
        })
    }

    fn get_json_value(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 2, "[key, JSON text or map]")?
            .into_iter();
        let key = self.text(&items.next().unwrap_or_default(), Some(0), "the key")?;
        let document = match items.next().unwrap_or_default() {
            Value::String(text) => serde_json::from_str::<Value>(&text)
                .map_err(|e| self.error_at(Some(1), format!("the text is not valid JSON ({e})")))?,
            other => other,
        };
        match document {
            Value::Object(map) => map.get(&key).cloned().ok_or_else(|| {
                self.error_at(Some(1), format!("the JSON object has no key '{key}'"))
            }),
            other => Err(self.error_at(
                Some(1),
                format!("expected a JSON object, got {}", describe(&other)),
            )),
        }
    }

    fn length(&self, value: Value) -> Result<Value, EvalError> {
        let n = match &value {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            other => {
                return Err(self.error(format!(
                    "expected a string, a list or a map, got {}",
                    describe(other)
                )));
            }
        };
        Ok(Value::Number((n as u64).into()))
    }

    fn list_merge(&self, value: Value) -> Result<Value, EvalError> {
        let lists = self.list(value, 1, usize::MAX, "a list of lists")?;
        let mut out = Vec::new();
        for (i, list) in lists.into_iter().enumerate() {
            match list {
                Value::Array(items) => out.extend(items),
                other => {
                    return Err(self.error_at(
                        Some(i),
                        format!("expected a list, got {}", describe(&other)),
                    ));
                }
            }
        }
        Ok(Value::Array(out))
    }

    fn index(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self.list(value, 2, 2, "[item, list]")?.into_iter();
        let item = items.next().unwrap_or_default();
        let list = match items.next().unwrap_or_default() {
            Value::Array(list) => list,
            other => {
                return Err(self.error_at(
                    Some(1),
                    format!("expected a list, got {}", describe(&other)),
                ));
            }
        };
        Ok(match list.iter().position(|v| *v == item) {
            Some(i) => Value::Number((i as u64).into()),
            None => Value::String(String::new()),
        })
    }

    fn add(&self, value: Value) -> Result<Value, EvalError> {
        let items = self.list(
            value,
            2,
            usize::MAX,
            "a list of at least 2 numbers, lists or maps",
        )?;
        let mixed = || self.error("expected arguments that are all numbers, all lists or all maps");
        match &items[0] {
            Value::Number(_) => {
                let numbers: Vec<&Number> = items
                    .iter()
                    .map(|v| v.as_number().ok_or_else(mixed))
                    .collect::<Result<_, _>>()?;
                let ints: Option<i64> = numbers
                    .iter()
                    .try_fold(0i64, |acc, n| n.as_i64().and_then(|n| acc.checked_add(n)));
                match ints {
                    Some(sum) => Ok(Value::Number(sum.into())),
                    None => {
                        let sum: f64 = numbers.iter().filter_map(|n| n.as_f64()).sum();
                        float(sum).ok_or_else(|| self.error("the sum is not a finite number"))
                    }
                }
            }
            Value::Array(_) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::Array(list) => out.extend(list),
                        _ => return Err(mixed()),
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Object(_) => {
                let mut out = Map::new();
                for item in items {
                    match item {
                        Value::Object(map) => out.extend(map),
                        _ => return Err(mixed()),
                    }
                }
                Ok(Value::Object(out))
            }
            _ => Err(mixed()),
        }
    }

    /// `Fn::Max` (`max == true`) or `Fn::Min` of a non-empty list of numbers.
    fn extreme(&self, value: Value, max: bool) -> Result<Value, EvalError> {
        let items = self.list(value, 1, usize::MAX, "a non-empty list of numbers")?;
        let mut best: Option<(f64, Number)> = None;
        for (i, item) in items.iter().enumerate() {
            let n = self.number(item, Some(i))?;
            let f = n.as_f64().unwrap_or(f64::NAN);
            let better = match &best {
                None => true,
                Some((b, _)) => (max && f > *b) || (!max && f < *b),
            };
            if better {
                best = Some((f, n));
            }
        }
        Ok(best.map(|(_, n)| Value::Number(n)).unwrap_or(Value::Null))
    }

    fn avg(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 2, "[ndigits, [numbers, ...]]")?
            .into_iter();
        let ndigits = self.integer(
            &items.next().unwrap_or_default(),
            Some(0),
            "ndigits (an integer)",
        )?;
        if !(0..=15).contains(&ndigits) {
            return Err(self.error_at(Some(0), format!("ndigits must be 0 to 15, got {ndigits}")));
        }
        let numbers = match items.next().unwrap_or_default() {
            Value::Array(list) if !list.is_empty() => list,
            other => {
                return Err(self.error_at(
                    Some(1),
                    format!(
                        "expected a non-empty list of numbers, got {}",
                        describe(&other)
                    ),
                ));
            }
        };
        let mut sum = 0.0;
        for (i, item) in numbers.iter().enumerate() {
            let n = self
                .number(item, Some(i))
                .map_err(|_| EvalError::Function {
                    path: format!("{}[1][{i}]", self.path),
                    function: self.function.to_owned(),
                    message: format!("expected a number, got {}", describe_scalar(item)),
                })?;
            sum += n.as_f64().unwrap_or(f64::NAN);
        }
        let scale = 10f64.powi(ndigits as i32);
        let average = (sum / numbers.len() as f64 * scale).round() / scale;
        float(average).ok_or_else(|| self.error("the average is not a finite number"))
    }

    fn merge_map_to_list(&self, value: Value) -> Result<Value, EvalError> {
        let maps = self.list(value, 1, usize::MAX, "a list of maps of lists")?;
        let mut columns: Vec<(String, Vec<Value>)> = Vec::new();
        for (i, map) in maps.into_iter().enumerate() {
            let Value::Object(map) = map else {
                return Err(self.error_at(
                    Some(i),
                    format!(
                        "expected a map {{key: [values, ...]}}, got {}",
                        describe(&map)
                    ),
                ));
            };
            for (key, values) in map {
                match values {
                    Value::Array(values) => columns.push((key, values)),
                    other => {
                        return Err(self.error_at(
                            Some(i),
                            format!(
                                "the value of '{key}' must be a list, got {}",
                                describe(&other)
                            ),
                        ));
                    }
                }
            }
        }
        let rows = columns.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let out = (0..rows)
            .map(|row| {
                let mut entry = Map::new();
                for (key, values) in &columns {
                    // A shorter list repeats its last item; an empty one gives no entry.
                    if let Some(v) = values.get(row).or_else(|| values.last()) {
                        entry.insert(key.clone(), v.clone());
                    }
                }
                Value::Object(entry)
            })
            .collect();
        Ok(Value::Array(out))
    }
}

/// A condition position at `path`: a bare string names a condition, anything else is
/// evaluated and must be a boolean (or the text `true` / `false`).
pub(super) fn condition_value(
    item: &Expr,
    ctx: &EvalContext<'_>,
    path: &str,
    function: &str,
) -> Result<bool, EvalError> {
    if let Expr::String(name) = item {
        return lookup_condition(name, ctx, path);
    }
    match eval(item, ctx, path)? {
        Some(value) => as_bool(&value).ok_or_else(|| EvalError::Function {
            path: path.to_owned(),
            function: function.to_owned(),
            message: format!(
                "expected a condition (a name or a boolean expression), got {}",
                describe(&value)
            ),
        }),
        None => Err(EvalError::Function {
            path: path.to_owned(),
            function: function.to_owned(),
            message: "expected a condition, got ALIYUN::NoValue".to_owned(),
        }),
    }
}

fn lookup_condition(name: &str, ctx: &EvalContext<'_>, path: &str) -> Result<bool, EvalError> {
    ctx.conditions
        .get(name)
        .copied()
        .ok_or_else(|| EvalError::UndefinedCondition {
            path: path.to_owned(),
            name: name.to_owned(),
        })
}

/// A boolean, or the text `true` / `false` in any case.
pub(super) fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `Fn::Equals`: scalars compare by their text (`"1"` equals `1`, `"true"` equals `true`),
/// two numbers by value; lists and maps compare structurally.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => a == b,
        (Value::Null, _) | (_, Value::Null) => a == b,
        _ => match (scalar_text(a), scalar_text(b)) {
            (Some(x), Some(y)) => {
                x == y
                    || matches!((parse_number(&x), parse_number(&y)), (Some(p), Some(q))
                        if p.as_f64() == q.as_f64())
                    || (matches!(a, Value::Bool(_)) || matches!(b, Value::Bool(_)))
                        && x.eq_ignore_ascii_case(&y)
            }
            _ => false,
        },
    }
}

/// The text of a string, number or boolean.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// How `Fn::Sub` writes a value: strings as they are, `null` as nothing, anything else as
/// compact JSON.
fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn float(f: f64) -> Option<Value> {
    Number::from_f64(f).map(Value::Number)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What a value is, without its content (which may be secret).
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Array(items) => format!("a list of {}", plural(items.len(), "item")),
        Value::Object(map) => format!("a map of {}", plural(map.len(), "key")),
    }
}

/// Like [`describe`], but shows a short scalar (its text is redacted if secret).
fn describe_scalar(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => describe(other),
    }
}

fn describe_expr(expr: &Expr) -> String {
    match expr {
        Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => describe(&expr.to_json()),
        Expr::List(items) => format!("a list of {}", plural(items.len(), "item")),
        Expr::Map(map) => format!("a map of {}", plural(map.len(), "key")),
        Expr::Ref(_) | Expr::GetAtt { .. } => "a reference".to_owned(),
        Expr::Call { function, .. } => format!("a call of {function}"),
    }
}
