//! Versioned, layered key/value configuration.
//!
//! A [`Config`] is a list of immutable [`ConfigVersion`]s: every change ([`Config::commit`],
//! [`Config::set`], [`Config::remove`]) makes a new version with a number, a time (given by
//! the caller: the module reads no clock) and a message. Values are nested JSON objects;
//! a key path is written with dots (`db.replicas`). [`layered`] merges the layers of a
//! release by key: application over environment over the template's defaults.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppError;

/// One immutable version of a configuration.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigVersion {
    number: u32,
    created: DateTime<Utc>,
    message: String,
    values: Value,
}

impl ConfigVersion {
    /// Its number: 1 for the first version, then one more per change.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// When it was made.
    pub fn created(&self) -> DateTime<Utc> {
        self.created
    }

    /// Why it was made.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Its values (a JSON object).
    pub fn values(&self) -> &Value {
        &self.values
    }

    /// The value at a dotted key path (`db.replicas`), if there is one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        lookup(&self.values, key)
    }
}

impl fmt::Debug for ConfigVersion {
    // The values are left out: a configuration may hold things that are not for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigVersion")
            .field("number", &self.number)
            .field("created", &self.created)
            .field("message", &self.message)
            .field("keys", &top_keys(&self.values))
            .finish()
    }
}

fn top_keys(values: &Value) -> Vec<&str> {
    values
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// A named configuration and every version it has had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    name: String,
    versions: Vec<Arc<ConfigVersion>>,
}

impl Config {
    /// A configuration with no version yet.
    pub fn new(name: impl Into<String>) -> Self {
        Config {
            name: name.into(),
            versions: Vec::new(),
        }
    }

    /// Its name (used in errors: `config shop-prod: ...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &ConfigVersion> {
        self.versions.iter().map(Arc::as_ref)
    }

    /// Version `number`, if it exists.
    pub fn version(&self, number: u32) -> Option<&ConfigVersion> {
        self.versions
            .iter()
            .find(|v| v.number == number)
            .map(Arc::as_ref)
    }

    /// The newest version, if any.
    pub fn latest(&self) -> Option<&ConfigVersion> {
        self.versions.last().map(Arc::as_ref)
    }

    /// Version `number`, or an error naming the configuration.
    pub fn require(&self, number: u32) -> Result<&ConfigVersion, AppError> {
        self.version(number).ok_or_else(|| {
            AppError::config(
                &self.name,
                format!("has no version {number} (it has {})", self.versions.len()),
            )
        })
    }

    /// Makes a new version holding exactly `values` (a JSON object whose keys are
    /// non-empty and have no `.`), made at `at` because of `message`.
    pub fn commit(
        &mut self,
        values: Value,
        message: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<&ConfigVersion, AppError> {
        check_values(&self.name, &values, "values")?;
        let number = self.versions.last().map_or(1, |v| v.number + 1);
        self.versions.push(Arc::new(ConfigVersion {
            number,
            created: at,
            message: message.into(),
            values,
        }));
        Ok(self.versions.last().map(Arc::as_ref).expect("just pushed"))
    }

    /// Makes a new version: the newest one with `key` (dotted) set to `value`.
    pub fn set(
        &mut self,
        key: &str,
        value: impl Into<Value>,
        message: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<&ConfigVersion, AppError> {
        let mut values = self.current_values();
        set_path(&self.name, &mut values, key, value.into())?;
        self.commit(values, message, at)
    }

    /// Makes a new version: the newest one without `key` (dotted), which must exist.
    pub fn remove(
        &mut self,
        key: &str,
        message: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<&ConfigVersion, AppError> {
        let mut values = self.current_values();
        let (parent, last) = match key.rsplit_once('.') {
            Some((parent, last)) => (lookup_mut(&mut values, parent), last),
            None => (Some(&mut values), key),
        };
        let removed = parent
            .and_then(Value::as_object_mut)
            .and_then(|m| m.shift_remove(last));
        if removed.is_none() {
            return Err(AppError::config(
                &self.name,
                format!("cannot remove `{key}`: there is no such key"),
            ));
        }
        self.commit(values, message, at)
    }

    fn current_values(&self) -> Value {
        self.latest()
            .map_or_else(|| Value::Object(Map::new()), |v| v.values.clone())
    }
}

fn check_values(config: &str, value: &Value, path: &str) -> Result<(), AppError> {
    let Value::Object(map) = value else {
        if path == "values" {
            return Err(AppError::config(
                config,
                format!("{path} must be an object of keys, not {}", type_name(value)),
            ));
        }
        return Ok(());
    };
    for (key, child) in map {
        if key.is_empty() || key.contains('.') {
            return Err(AppError::config(
                config,
                format!("{path}: key {key:?} must be non-empty and have no '.'"),
            ));
        }
        check_values(config, child, &format!("{path}.{key}"))?;
    }
    Ok(())
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn set_path(config: &str, values: &mut Value, key: &str, value: Value) -> Result<(), AppError> {
    check_values(config, &value, &format!("values.{key}"))?;
    let mut node = values;
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(AppError::config(
            config,
            format!("key {key:?} has an empty part"),
        ));
    }
    let (last, parents) = parts.split_last().expect("split gives one part at least");
    for (i, part) in parents.iter().enumerate() {
        let here = parts[..=i].join(".");
        let Value::Object(map) = node else {
            unreachable!("every node walked is an object");
        };
        let next = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            return Err(AppError::config(
                config,
                format!(
                    "cannot set `{key}`: `{here}` is {}, not an object",
                    type_name(next)
                ),
            ));
        }
        node = next;
    }
    if let Value::Object(map) = node {
        map.insert((*last).to_owned(), value);
    }
    Ok(())
}

/// The value at a dotted key path (`db.replicas`) of a nested object.
pub fn lookup<'a>(values: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(values, |node, part| node.get(part))
}

fn lookup_mut<'a>(values: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    key.split('.')
        .try_fold(values, |node, part| node.get_mut(part))
}

/// Merges `over` into `base` by key: objects merge recursively, anything else in `over`
/// replaces what `base` has (a list is replaced whole, not appended to).
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// The values a release renders with: `application` over `environment` over `defaults`,
/// merged by key ([`merge`]).
pub fn layered(
    defaults: &Value,
    environment: Option<&Value>,
    application: Option<&Value>,
) -> Value {
    let mut values = defaults.clone();
    if !values.is_object() {
        values = Value::Object(Map::new());
    }
    for layer in [environment, application].into_iter().flatten() {
        merge(&mut values, layer);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(minute) * 60, 0).unwrap()
    }

    #[test]
    fn every_change_is_a_new_immutable_version() {
        let mut config = Config::new("shop-prod");
        config
            .commit(json!({"web": {"replicas": 2}}), "first", at(0))
            .unwrap();
        let v2 = config.set("web.replicas", 4, "scale web", at(1)).unwrap();
        assert_eq!(v2.number(), 2);
        assert_eq!(v2.get("web.replicas"), Some(&json!(4)));
        let v3 = config.set("db.size", "20Gi", "db size", at(2)).unwrap();
        assert_eq!(v3.number(), 3);
        assert_eq!(
            v3.values(),
            &json!({"web": {"replicas": 4}, "db": {"size": "20Gi"}})
        );
        // Older versions keep their values.
        assert_eq!(
            config.version(1).unwrap().get("web.replicas"),
            Some(&json!(2))
        );
        assert_eq!(config.version(2).unwrap().get("db.size"), None);
        assert_eq!(config.version(2).unwrap().message(), "scale web");
        assert_eq!(config.version(2).unwrap().created(), at(1));
        let v4 = config.remove("db.size", "no db size", at(3)).unwrap();
        assert_eq!(v4.values(), &json!({"web": {"replicas": 4}, "db": {}}));
        assert_eq!(config.versions().count(), 4);
        assert_eq!(config.latest().unwrap().number(), 4);
    }

    #[test]
    fn bad_changes_name_the_config_and_key() {
        let mut config = Config::new("shop-dev");
        let err = config.commit(json!([1]), "m", at(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config shop-dev: values must be an object of keys, not a list"
        );
        let err = config
            .commit(json!({"web": {"a.b": 1}}), "m", at(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config shop-dev: values.web: key \"a.b\" must be non-empty and have no '.'"
        );
        config.commit(json!({"web": "x"}), "m", at(0)).unwrap();
        let err = config.set("web.replicas", 2, "m", at(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config shop-dev: cannot set `web.replicas`: `web` is a string, not an object"
        );
        let err = config.remove("nope", "m", at(1)).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
        let err = config.require(9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config shop-dev: has no version 9 (it has 1)"
        );
        assert_eq!(
            config.versions().count(),
            1,
            "a failed change makes no version"
        );
    }

    #[test]
    fn layers_merge_by_key() {
        let defaults = json!({"web": {"replicas": 1, "image": "web:1"}, "log": "info",
                              "hosts": ["a", "b"]});
        let environment = json!({"web": {"replicas": 3}, "hosts": ["c"]});
        let application = json!({"log": "debug", "web": {"image": "web:2"}});
        assert_eq!(
            layered(&defaults, Some(&environment), Some(&application)),
            json!({"web": {"replicas": 3, "image": "web:2"}, "log": "debug", "hosts": ["c"]})
        );
        assert_eq!(layered(&defaults, None, None), defaults);
    }
}
