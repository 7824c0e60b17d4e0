//! Functions added for OpenStack Heat (HOT) templates, with Heat's semantics.
//!
//! The HOT import (`iac_openstack::hot`) maps each HOT function onto an existing ROS
//! function when the two behave the same, and onto one of these otherwise:
//!
//! | function | HOT | argument |
//! |---|---|---|
//! | `Fn::GetPath` | `get_param` with a path | `[value, key or index, ...]` |
//! | `Fn::GetAtt` with more than 2 items | `get_attr` with a path | `[resource, attribute, key or index, ...]` |
//! | `Fn::StrReplace` (`Strict`, `VStrict`) | `str_replace` (`_strict`, `_vstrict`) | `{"template": text, "params": {find: value}}` |
//! | `Fn::ListJoin` | `list_join` | `[delimiter, list, list, ...]` |
//! | `Fn::StrSplit` | `str_split` | `[delimiter, text]` or `[delimiter, text, index]` |
//! | `Fn::Repeat` | `repeat` | `{"for_each": {placeholder: list}, "template": value, "permutations": bool}` |
//! | `Fn::MapMerge` | `map_merge` | `[map, map, ...]` |
//! | `Fn::EqualsStrict` | `equals` | `[value, value]` |
//! | `Fn::ListConcat` (`Unique`) | `list_concat` (`_unique`) | `[list, list, ...]` |
//! | `Fn::Contains` | `contains` | `[value, list or text]` |
//! | `Fn::Filter` | `filter` | `[values to drop, list]` |
//! | `Fn::Digest` | `digest` | `[algorithm, text]`: md5, sha1, sha224, sha256, sha384, sha512 |
//! | `Fn::MapReplace` | `map_replace` | `[map, {"keys": {old: new}, "values": {old: new}}]` |
//! | `Fn::Error` | `get_param` of an undeclared parameter, in an output | `message`: evaluating it is an error ([`EvalError::Raised`]) |
//!
//! Where Heat writes a non-string value into a text it uses Python: lists and maps become
//! JSON with sorted keys and `", "` / `": "` separators, booleans become `True` / `False`.

use serde_json::{Map, Value};

use super::{Call, describe, plural};
use crate::eval::EvalError;

/// The most copies `Fn::Repeat` makes: every combination of several lists grows fast, and a
/// template must not be able to exhaust memory.
const MAX_REPEAT_COPIES: usize = 100_000;

/// How strictly `str_replace` treats its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strictness {
    /// `str_replace`: any parameter, null is the empty text.
    Lenient,
    /// `str_replace_strict`: every parameter must occur in the template.
    Strict,
    /// `str_replace_vstrict`: also, no parameter may be null or empty.
    VeryStrict,
}

/// Follows `path` into `value` the way Heat does (Python indexing): a map by key, a list or a
/// text by integer position (negative positions count from the end). `parse_text_index`
/// also reads a text like `"1"` as a position into a list (`get_param` does, `get_attr` does
/// not). `None` when a step does not exist or cannot be taken.
pub(crate) fn select_path(value: Value, path: &[Value], parse_text_index: bool) -> Option<Value> {
    let mut current = value;
    for key in path {
        current = match (current, key) {
            (Value::Object(mut map), Value::String(k)) => map.remove(k)?,
            (Value::Array(items), key) => {
                let i = position(key, parse_text_index, items.len())?;
                items.into_iter().nth(i)?
            }
            (Value::String(text), key) => {
                let chars: Vec<char> = text.chars().collect();
                let i = position(key, parse_text_index, chars.len())?;
                Value::String(chars[i].to_string())
            }
            _ => return None,
        };
    }
    Some(current)
}

/// A Python index into a sequence of `len` items: an integer (a boolean counts as 0 or 1),
/// or, when `parse_text` is set, a text holding an integer.
fn position(key: &Value, parse_text: bool, len: usize) -> Option<usize> {
    let i = match key {
        Value::Number(n) => n.as_i64()?,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) if parse_text => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    usize::try_from(i).ok().filter(|_| i < len)
}

/// A value as Python's `json.dumps(value, sort_keys=True)` writes it.
pub(crate) fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(key, out);
                out.push_str(": ");
                write_python_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// A JSON string with Python's escapes (`ensure_ascii`: everything outside ASCII as `\uXXXX`).
fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `==` on JSON values: numbers by value, booleans equal to 1 and 0, lists and maps
/// item by item; a text never equals a number.
pub(crate) fn python_eq(a: &Value, b: &Value) -> bool {
    fn number(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Number(_) | Value::Bool(_), Value::Number(_) | Value::Bool(_)) => {
            number(a) == number(b)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| python_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| python_eq(v, w)))
        }
        _ => a == b,
    }
}

impl Call<'_> {
    /// The argument as a map with the given required and optional keys, nothing else.
    fn hot_args(
        &self,
        value: Value,
        required: &[&str],
        optional: &[&str],
        shape: &str,
    ) -> Result<Map<String, Value>, EvalError> {
        let Value::Object(map) = value else {
            return Err(self.error(format!("expected {shape}, got {}", describe(&value))));
        };
        if let Some(missing) = required.iter().find(|k| !map.contains_key(**k)) {
            return Err(self.error(format!("expected {shape}, '{missing}' is missing")));
        }
        if let Some(extra) = map
            .keys()
            .find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
        {
            return Err(self.error(format!("expected {shape}, got unknown key '{extra}'")));
        }
        Ok(map)
    }

    /// `Fn::GetPath [value, key, ...]`: HOT `get_param` with a path; a step that does not
    /// exist gives the empty text.
    pub(super) fn get_path(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 1, usize::MAX, "[value, key or index, ...]")?
            .into_iter();
        let start = items.next().unwrap_or_default();
        let path: Vec<Value> = items.collect();
        Ok(select_path(start, &path, true).unwrap_or_else(|| Value::String(String::new())))
    }

    /// `Fn::StrReplace {"template": text, "params": {placeholder: value}}`: longer
    /// placeholders first (then in text order of the placeholders), each text replaced once:
    /// a replacement is never searched again.
    pub(super) fn str_replace(
        &self,
        value: Value,
        strictness: Strictness,
    ) -> Result<Value, EvalError> {
        const SHAPE: &str = "{\"template\": text, \"params\": {placeholder: value, ...}}";
        let mut args = self.hot_args(value, &["template", "params"], &[], SHAPE)?;
        let template = match args.remove("template").unwrap_or_default() {
            Value::String(s) => s,
            other => {
                return Err(self.error(format!(
                    "the template must be a text, got {}",
                    describe(&other)
                )));
            }
        };
        let params = match args.remove("params").unwrap_or_default() {
            Value::Object(map) => map,
            other => {
                return Err(self.error(format!(
                    "the params must be a map, got {}",
                    describe(&other)
                )));
            }
        };
        let mut keys: Vec<&String> = params.keys().collect();
        keys.sort();
        keys.sort_by_key(|k| std::cmp::Reverse(k.chars().count()));
        let mut replacements = Vec::with_capacity(keys.len());
        for key in &keys {
            if key.is_empty() {
                return Err(self.error("a placeholder is the empty text"));
            }
            replacements.push(self.replacement(key, &params[key.as_str()], strictness)?);
        }
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| k.as_str())
            .zip(replacements.iter().map(String::as_str))
            .collect();
        let mut used = vec![false; pairs.len()];
        let out = replace_all(&template, &pairs, &mut used);
        if strictness != Strictness::Lenient {
            let missing: Vec<&str> = pairs
                .iter()
                .zip(&used)
                .filter(|(_, used)| !**used)
                .map(|((k, _), _)| *k)
                .collect();
            if !missing.is_empty() {
                return Err(self.error(format!(
                    "these params are not in the template: {}",
                    missing.join(",")
                )));
            }
        }
        Ok(Value::String(out))
    }

    /// The text a `str_replace` parameter stands for.
    fn replacement(
        &self,
        key: &str,
        value: &Value,
        strictness: Strictness,
    ) -> Result<String, EvalError> {
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => (if *b { "True" } else { "False" }).to_owned(),
            Value::Array(_) | Value::Object(_) => python_json(value),
        };
        let empty = match value {
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => text.is_empty(),
        };
        if strictness == Strictness::VeryStrict && empty {
            return Err(self.error(format!(
                "param '{key}' is null or empty; it must have a non-empty value"
            )));
        }
        Ok(text)
    }

    /// `Fn::ListJoin [delimiter, list, ...]`: the items of all lists joined; null is the empty
    /// text, lists and maps are written as JSON, numbers and booleans are refused (as Heat
    /// does).
    pub(super) fn list_join(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, usize::MAX, "[delimiter, list, ...]")?
            .into_iter();
        let delimiter = self.string(items.next().unwrap_or_default(), Some(0), "the delimiter")?;
        let mut texts = Vec::new();
        for (i, list) in items.enumerate() {
            let list = match list {
                Value::Null => continue,
                Value::Array(list) => list,
                other => {
                    return Err(self.error_at(
                        Some(i + 1),
                        format!("expected a list to join, got {}", describe(&other)),
                    ));
                }
            };
            for (j, item) in list.into_iter().enumerate() {
                texts.push(match item {
                    Value::Null => String::new(),
                    Value::String(s) => s,
                    Value::Array(_) | Value::Object(_) => python_json(&item),
                    other => {
                        return Err(EvalError::Function {
                            path: format!("{}[{}][{j}]", self.path, i + 1),
                            function: self.function.to_owned(),
                            message: format!(
                                "items to join must be texts, lists or maps, got {}",
                                describe(&other)
                            ),
                        });
                    }
                });
            }
        }
        Ok(Value::String(texts.join(&delimiter)))
    }

    /// `Fn::StrSplit [delimiter, text]` or `[delimiter, text, index]`: a null text gives null;
    /// an index outside the list is an error.
    pub(super) fn str_split(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 3, "[delimiter, text] or [delimiter, text, index]")?
            .into_iter();
        let delimiter = self.string(items.next().unwrap_or_default(), Some(0), "the delimiter")?;
        if delimiter.is_empty() {
            return Err(self.error_at(Some(0), "the delimiter is empty"));
        }
        let text = match items.next().unwrap_or_default() {
            Value::Null => return Ok(Value::Null),
            other => self.string(other, Some(1), "the text")?,
        };
        let parts: Vec<Value> = text
            .split(delimiter.as_str())
            .map(|s| Value::String(s.to_owned()))
            .collect();
        let Some(index) = items.next() else {
            return Ok(Value::Array(parts));
        };
        let i = self.integer(&index, Some(2), "an integer index")?;
        let len = parts.len() as i64;
        let position = if i < 0 { i + len } else { i };
        if !(0..len).contains(&position) {
            return Err(self.error_at(
                Some(2),
                format!(
                    "index {i} is outside the {} of the split text",
                    plural(parts.len(), "item")
                ),
            ));
        }
        Ok(parts.into_iter().nth(position as usize).unwrap_or_default())
    }

    /// `Fn::Repeat {"for_each": {placeholder: list or map}, "template": value,
    /// "permutations": bool}`: one copy of the template per combination of items (every
    /// combination when `permutations` is true, the default; item by item otherwise, which
    /// needs lists of the same length). In each copy the placeholders are replaced, in the
    /// order of `for_each`, in every text and every map key. A map iterates over its keys;
    /// a null list is empty.
    pub(super) fn repeat(&self, value: Value) -> Result<Value, EvalError> {
        const SHAPE: &str =
            "{\"for_each\": {placeholder: list, ...}, \"template\": value, \"permutations\": bool}";
        let mut args = self.hot_args(value, &["for_each", "template"], &["permutations"], SHAPE)?;
        let permutations = match args.remove("permutations") {
            None => true,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(self.error(format!(
                    "permutations must be a boolean, got {}",
                    describe(&other)
                )));
            }
        };
        let for_each = match args.remove("for_each").unwrap_or_default() {
            Value::Object(map) => map,
            other => {
                return Err(self.error(format!(
                    "for_each must be a map of placeholders to lists, got {}",
                    describe(&other)
                )));
            }
        };
        let template = args.remove("template").unwrap_or_default();
        if for_each.is_empty() {
            return Err(self.error("for_each has no placeholder"));
        }
        let mut keys = Vec::with_capacity(for_each.len());
        let mut lists: Vec<Vec<Value>> = Vec::with_capacity(for_each.len());
        // Lengths of the lists that are not null (a null list is empty and not compared).
        let mut lens = Vec::with_capacity(for_each.len());
        for (key, list) in for_each {
            if !list.is_null() {
                lens.push(match &list {
                    Value::Array(items) => items.len(),
                    Value::Object(map) => map.len(),
                    _ => 0,
                });
            }
            let items = match list {
                Value::Null => Vec::new(),
                Value::Array(items) => items,
                Value::Object(map) if permutations => {
                    map.into_iter().map(|(k, _)| Value::String(k)).collect()
                }
                other => {
                    return Err(self.error(format!(
                        "the value of for_each placeholder '{key}' must be a list{}, got {}",
                        if permutations { " or a map" } else { "" },
                        describe(&other)
                    )));
                }
            };
            keys.push(key);
            lists.push(items);
        }
        if permutations {
            let copies = lists
                .iter()
                .try_fold(1usize, |n, list| n.checked_mul(list.len()))
                .filter(|n| *n <= MAX_REPEAT_COPIES);
            if copies.is_none() {
                return Err(self.error(format!(
                    "the for_each lists make more than {MAX_REPEAT_COPIES} combinations"
                )));
            }
        }
        let combinations: Vec<Vec<&Value>> = if permutations {
            lists.iter().fold(vec![Vec::new()], |acc, list| {
                acc.iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |item| {
                            let mut next = prefix.clone();
                            next.push(item);
                            next
                        })
                    })
                    .collect()
            })
        } else {
            if lens.windows(2).any(|w| w[0] != w[1]) {
                return Err(
                    self.error("without permutations the for_each lists must have the same length")
                );
            }
            (0..lists.iter().map(Vec::len).min().unwrap_or(0))
                .map(|i| lists.iter().map(|list| &list[i]).collect())
                .collect()
        };
        let mut out = Vec::with_capacity(combinations.len());
        for combination in combinations {
            let pairs: Vec<(&str, &Value)> =
                keys.iter().map(String::as_str).zip(combination).collect();
            out.push(self.fill(&template, &pairs)?);
        }
        Ok(Value::Array(out))
    }

    /// A copy of `template` with each placeholder replaced, one after the other, in every
    /// text and map key; a replacement in a text must itself be a text.
    fn fill(&self, template: &Value, pairs: &[(&str, &Value)]) -> Result<Value, EvalError> {
        Ok(match template {
            Value::String(text) => Value::String(self.fill_text(text, pairs)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.fill(item, pairs))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    out.insert(self.fill_text(key, pairs)?, self.fill(item, pairs)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    fn fill_text(&self, text: &str, pairs: &[(&str, &Value)]) -> Result<String, EvalError> {
        let mut out = text.to_owned();
        for (key, value) in pairs {
            let Value::String(value) = value else {
                return Err(self.error(format!(
                    "the items of for_each placeholder '{key}' must be texts to be put in a \
                     text, got {}",
                    describe(value)
                )));
            };
            out = out.replace(key, value);
        }
        Ok(out)
    }

    /// `Fn::MapMerge [map, ...]`: later maps win; null is the empty map.
    pub(super) fn map_merge(&self, value: Value) -> Result<Value, EvalError> {
        let maps = self.list(value, 0, usize::MAX, "a list of maps")?;
        let mut out = Map::new();
        for (i, map) in maps.into_iter().enumerate() {
            match map {
                Value::Null => {}
                Value::Object(map) => out.extend(map),
                other => {
                    return Err(self.error_at(
                        Some(i),
                        format!("items to merge must be maps, got {}", describe(&other)),
                    ));
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// `Fn::EqualsStrict [a, b]`: Python's `==` (a text never equals a number).
    pub(super) fn equals_strict(&self, value: Value) -> Result<Value, EvalError> {
        let items = self.list(value, 2, 2, "[value, value]")?;
        Ok(Value::Bool(python_eq(&items[0], &items[1])))
    }
}

impl Call<'_> {
    /// `Fn::ListConcat [list, ...]`: the lists one after the other; null is the empty list.
    /// `unique` keeps only the last of equal items.
    pub(super) fn list_concat(&self, value: Value, unique: bool) -> Result<Value, EvalError> {
        let lists = self.list(value, 0, usize::MAX, "a list of lists")?;
        let mut out: Vec<Value> = Vec::new();
        for (i, list) in lists.into_iter().enumerate() {
            match list {
                Value::Null => {}
                Value::Array(items) => out.extend(items),
                other => {
                    return Err(self.error_at(
                        Some(i),
                        format!(
                            "items to concatenate must be lists, got {}",
                            describe(&other)
                        ),
                    ));
                }
            }
        }
        if unique {
            let mut kept: Vec<Value> = Vec::with_capacity(out.len());
            for (i, item) in out.iter().enumerate() {
                if !out[i + 1..].iter().any(|later| python_eq(later, item)) {
                    kept.push(item.clone());
                }
            }
            out = kept;
        }
        Ok(Value::Array(out))
    }

    /// `Fn::Contains [value, list or text]`: an item of the list equal to the value, or (for
    /// a text) the value as a part of the text.
    pub(super) fn contains(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self.list(value, 2, 2, "[value, list or text]")?.into_iter();
        let needle = items.next().unwrap_or_default();
        Ok(Value::Bool(match items.next().unwrap_or_default() {
            Value::Array(list) => list.iter().any(|item| python_eq(item, &needle)),
            Value::String(text) => match &needle {
                Value::String(part) => text.contains(part.as_str()),
                other => {
                    return Err(self.error_at(
                        Some(0),
                        format!(
                            "only a text can be looked for in a text, got {}",
                            describe(other)
                        ),
                    ));
                }
            },
            other => {
                return Err(self.error_at(
                    Some(1),
                    format!(
                        "expected a list or a text to look in, got {}",
                        describe(&other)
                    ),
                ));
            }
        }))
    }

    /// `Fn::Filter [values, list]`: the list without the items equal to one of the values.
    /// An empty or null list comes back as it is; empty or null values filter nothing.
    pub(super) fn filter(&self, value: Value) -> Result<Value, EvalError> {
        let mut items = self
            .list(value, 2, 2, "[values to drop, list]")?
            .into_iter();
        let drop = items.next().unwrap_or_default();
        let list = match items.next().unwrap_or_default() {
            Value::Array(list) if !list.is_empty() => list,
            empty if is_empty_value(&empty) => return Ok(empty),
            other => {
                return Err(self.error_at(
                    Some(1),
                    format!("expected a list to filter, got {}", describe(&other)),
                ));
            }
        };
        let drop = match drop {
            Value::Array(values) => values,
            empty if is_empty_value(&empty) => return Ok(Value::Array(list)),
            other => {
                return Err(self.error_at(
                    Some(0),
                    format!(
                        "expected a list of values to drop, got {}",
                        describe(&other)
                    ),
                ));
            }
        };
        Ok(Value::Array(
            list.into_iter()
                .filter(|item| !drop.iter().any(|d| python_eq(d, item)))
                .collect(),
        ))
    }

    /// `Fn::MapReplace [map, {"keys": {old: new}, "values": {old: new}}]`: renames keys and
    /// replaces text values; a key renamed onto another key of the map is an error.
    pub(super) fn map_replace(&self, value: Value) -> Result<Value, EvalError> {
        const SHAPE: &str = "[map, {\"keys\": {old: new}, \"values\": {old: new}}]";
        let mut items = self.list(value, 2, 2, SHAPE)?.into_iter();
        let map = |v: Value, index: usize| match v {
            Value::Null => Ok(Map::new()),
            Value::Object(map) => Ok(map),
            other => Err(self.error_at(
                Some(index),
                format!("expected {SHAPE}, got {}", describe(&other)),
            )),
        };
        let input = map(items.next().unwrap_or_default(), 0)?;
        let mut replacements = map(items.next().unwrap_or_default(), 1)?;
        if let Some(extra) = replacements.keys().find(|k| *k != "keys" && *k != "values") {
            return Err(self.error_at(
                Some(1),
                format!("expected {SHAPE}, got unknown key '{extra}'"),
            ));
        }
        let keys = map(replacements.remove("keys").unwrap_or_default(), 1)?;
        let values = map(replacements.remove("values").unwrap_or_default(), 1)?;
        let mut out = Map::new();
        for (k, v) in &input {
            let key = match keys.get(k) {
                None | Some(Value::Null) => k.clone(),
                Some(Value::String(new)) if new != k && input.contains_key(new) => {
                    return Err(self.error(format!(
                        "key replacement '{new}' collides with a key of the input map"
                    )));
                }
                Some(Value::String(new)) if out.contains_key(new) => {
                    return Err(self.error(format!(
                        "key replacement '{new}' collides with a key of the output map"
                    )));
                }
                Some(Value::String(new)) => new.clone(),
                Some(other) => {
                    return Err(self.error_at(
                        Some(1),
                        format!(
                            "the new name of key '{k}' must be a text, got {}",
                            describe(other)
                        ),
                    ));
                }
            };
            let value = match v {
                Value::String(text) => values.get(text).cloned().unwrap_or_else(|| v.clone()),
                other => other.clone(),
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

impl Call<'_> {
    /// `Fn::Digest [algorithm, text]`: the hex digest of the text's Latin-1 bytes (Heat
    /// encodes the text that way, so other characters are an error).
    pub(super) fn digest(&self, value: Value) -> Result<Value, EvalError> {
        use sha2::Digest as _;
        let mut items = self.list(value, 2, 2, "[algorithm, text]")?.into_iter();
        let algorithm = self.string(items.next().unwrap_or_default(), Some(0), "the algorithm")?;
        let text = self.string(items.next().unwrap_or_default(), Some(1), "the text")?;
        let bytes: Vec<u8> = text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| self.error_at(Some(1), "the text has characters outside Latin-1"))?;
        let digest = match algorithm.to_ascii_lowercase().as_str() {
            "md5" => hex::encode(md5::Md5::digest(&bytes)),
            "sha1" => hex::encode(sha1::Sha1::digest(&bytes)),
            "sha224" => hex::encode(sha2::Sha224::digest(&bytes)),
            "sha256" => hex::encode(sha2::Sha256::digest(&bytes)),
            "sha384" => hex::encode(sha2::Sha384::digest(&bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(&bytes)),
            _ => {
                return Err(self.error_at(
                    Some(0),
                    format!(
                        "unsupported algorithm '{algorithm}' (md5, sha1, sha224, sha256, sha384 \
                         or sha512)"
                    ),
                ));
            }
        };
        Ok(Value::String(digest))
    }
}

/// What Python treats as false in Heat's `filter`: null, an empty text, list or map.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// Heat's replacement: split by the first (longest) placeholder, replace the rest in each
/// piece, join with its value, so that no replacement is searched again. `used[i]` is set
/// when placeholder `i` occurs.
fn replace_all(text: &str, pairs: &[(&str, &str)], used: &mut [bool]) -> String {
    let Some(((placeholder, value), rest)) = pairs.split_first() else {
        return text.to_owned();
    };
    let pieces: Vec<&str> = text.split(placeholder).collect();
    if pieces.len() > 1 {
        used[0] = true;
    }
    let (_, used_rest) = used.split_at_mut(1);
    pieces
        .into_iter()
        .map(|piece| replace_all(piece, rest, used_rest))
        .collect::<Vec<_>>()
        .join(value)
}
