//! Reading and writing ROS templates as JSON or YAML.
//!
//! JSON maps one to one onto [`Template`]. YAML is read into a YAML value first, then turned
//! into the same JSON shape: the ROS short tags become their long form (`!Ref x` is
//! `{"Ref": x}`, `!GetAtt a.b` is `{"Fn::GetAtt": [a, b]}`, `!Condition x` is
//! `{"Condition": x}`, any other `!Name arg` is `{"Fn::Name": arg}`), merge keys (`<<`) are
//! applied and scalar keys become strings. Errors name the file, the line and column the
//! parser reports and, for a well-formed file of the wrong shape, the JSON path of the entry
//! that is wrong.
//!
//! ```
//! use iac_core::loader::{load_yaml, to_json_string_pretty, load_json};
//! use iac_core::Expr;
//!
//! let t = load_yaml("
//! ROSTemplateFormatVersion: '2015-09-01'
//! Resources:
//!   Vsw:
//!     Type: ALIYUN::ECS::VSwitch
//!     Properties:
//!       VpcId: !GetAtt Vpc.VpcId
//! ").unwrap();
//! assert_eq!(t.resources["Vsw"].properties["VpcId"], Expr::get_att("Vpc", "VpcId"));
//! let again = load_json(&to_json_string_pretty(&t).unwrap()).unwrap();
//! assert_eq!(again, t);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use thiserror::Error;

use crate::graph::join_key;
use crate::model::{DeletionPolicy, OutputSpec, ParameterDecl, ResourceSpec, Template, Text};
use crate::provider::ErrorKind;

/// A template file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON (`.json`).
    Json,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl Format {
    /// The format a file name's extension stands for, if any (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        })
    }
}

/// Where in the input a problem is: the file (when loading a path) and the position the
/// parser reported (1-based line and column), each when known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file, when loading from a path.
    pub file: Option<PathBuf>,
    /// `(line, column)`, both 1-based.
    pub position: Option<(usize, usize)>,
}

impl fmt::Display for Location {
    /// `file:line:column: `, `file: `, `line L, column C: ` or nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, column))) => {
                write!(f, "{}:{line}:{column}: ", file.display())
            }
            (Some(file), None) => write!(f, "{}: ", file.display()),
            (None, Some((line, column))) => write!(f, "line {line}, column {column}: "),
            (None, None) => Ok(()),
        }
    }
}

/// Why a template could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read template file '{}'", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension is not `.json`, `.yaml` or `.yml`.
    #[error("{}: unknown template file extension (expected .json, .yaml or .yml)", file.display())]
    UnknownExtension {
        /// The file.
        file: PathBuf,
    },
    /// The text is not valid JSON or YAML.
    #[error("{location}invalid {format}: {message}")]
    Syntax {
        /// The format being read.
        format: Format,
        /// Where the parser stopped.
        location: Location,
        /// What the parser says is wrong.
        message: String,
    },
    /// The text is valid JSON or YAML but not a template: a wrong type, a missing key, a
    /// YAML value JSON cannot hold.
    #[error("{location}{}: {message}", if path.is_empty() { "template" } else { path })]
    Structure {
        /// The format being read.
        format: Format,
        /// Where the parser stopped, when it says (JSON only).
        location: Location,
        /// JSON path of the entry that is wrong (`Resources.Vpc`); empty for the whole
        /// document.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The template could not be written.
    #[error("cannot write the template as {format}: {message}")]
    Serialize {
        /// The format being written.
        format: Format,
        /// What the serializer says.
        message: String,
    },
}

impl LoadError {
    /// [`ErrorKind::NotFound`] for a missing file, [`ErrorKind::Permanent`] for other I/O
    /// errors, [`ErrorKind::Invalid`] for everything else.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LoadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            LoadError::Io { .. } => ErrorKind::Permanent,
            _ => ErrorKind::Invalid,
        }
    }

    /// The file the error is about, when loading from a path.
    pub fn file(&self) -> Option<&Path> {
        match self {
            LoadError::Io { file, .. } | LoadError::UnknownExtension { file } => Some(file),
            LoadError::Syntax { location, .. } | LoadError::Structure { location, .. } => {
                location.file.as_deref()
            }
            LoadError::Serialize { .. } => None,
        }
    }

    fn in_file(mut self, path: &Path) -> Self {
        if let LoadError::Syntax { location, .. } | LoadError::Structure { location, .. } =
            &mut self
        {
            location.file = Some(path.to_owned());
        }
        self
    }
}

/// Reads a template from JSON text.
pub fn load_json(text: &str) -> Result<Template, LoadError> {
    let value: Value = serde_json::from_str::<NoDuplicateKeys>(text)
        .map(|v| v.0)
        .map_err(|err| {
            let position = Some((err.line(), err.column())).filter(|&(line, _)| line > 0);
            LoadError::Syntax {
                format: Format::Json,
                location: Location {
                    file: None,
                    position,
                },
                message: strip_position(&err.to_string(), position),
            }
        })?;
    template_from_value(value, Format::Json, Some(text))
}

/// Reads a template from YAML text (see the module docs for short tags).
pub fn load_yaml(text: &str) -> Result<Template, LoadError> {
    check_flow_depth(text)?;
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_syntax)?;
    yaml.apply_merge().map_err(yaml_syntax)?;
    let mut path = Vec::new();
    let value = yaml_to_json(yaml, &mut path).map_err(|(path, message)| LoadError::Structure {
        format: Format::Yaml,
        location: Location::default(),
        path,
        message,
    })?;
    template_from_value(value, Format::Yaml, None)
}

/// Reads a template file, choosing the format by extension (`.json`, `.yaml`, `.yml`).
pub fn load_path(path: &Path) -> Result<Template, LoadError> {
    let format = Format::from_path(path).ok_or_else(|| LoadError::UnknownExtension {
        file: path.to_owned(),
    })?;
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: path.to_owned(),
        source,
    })?;
    let loaded = match format {
        Format::Json => load_json(&text),
        Format::Yaml => load_yaml(&text),
    };
    loaded.map_err(|err| err.in_file(path))
}

/// What in `template` ROS cannot express, as (JSON path, message): Heat's
/// `DeletionPolicy: Snapshot` and `ExternalId` (ROS deletion policies are `Delete` and
/// `Retain`, and ROS adopts no existing object into a stack). `None` when there is nothing.
pub fn ros_incompatibility(template: &Template) -> Option<(String, String)> {
    template.resources.iter().find_map(|(id, spec)| {
        if spec.external_id.is_some() {
            Some((
                join_key(&join_key("Resources", id), "ExternalId"),
                format!(
                    "resource '{id}' ({}) adopts an existing object (external_id), which ROS \
                     has no equivalent for",
                    spec.type_name
                ),
            ))
        } else if spec.deletion_policy == DeletionPolicy::Snapshot {
            Some((
                join_key(&join_key("Resources", id), "DeletionPolicy"),
                format!(
                    "resource '{id}' ({}) has DeletionPolicy Snapshot, which ROS has no \
                     equivalent for (ROS knows Delete and Retain)",
                    spec.type_name
                ),
            ))
        } else {
            None
        }
    })
}

/// Fails when ROS cannot express the template ([`ros_incompatibility`]).
fn check_ros_writable(template: &Template, format: Format) -> Result<(), LoadError> {
    match ros_incompatibility(template) {
        None => Ok(()),
        Some((path, message)) => Err(LoadError::Serialize {
            format,
            message: format!("{path}: {message}"),
        }),
    }
}

/// Writes a template as indented JSON, in the vendor's shape. Fails, naming the resource,
/// on what ROS cannot express ([`ros_incompatibility`]).
pub fn to_json_string_pretty(template: &Template) -> Result<String, LoadError> {
    check_ros_writable(template, Format::Json)?;
    serde_json::to_string_pretty(template).map_err(|err| LoadError::Serialize {
        format: Format::Json,
        message: err.to_string(),
    })
}

/// Writes a template as YAML, with functions in their long form (`Ref:`, `Fn::GetAtt:`).
/// Fails, naming the resource, on what ROS cannot express ([`ros_incompatibility`]).
pub fn to_yaml_string(template: &Template) -> Result<String, LoadError> {
    check_ros_writable(template, Format::Yaml)?;
    serde_yaml::to_string(template).map_err(|err| LoadError::Serialize {
        format: Format::Yaml,
        message: err.to_string(),
    })
}

/// Deserializes a template from its JSON shape. On failure, names the JSON path of the
/// wrong entry and, for JSON text, the position serde reports.
fn template_from_value(
    mut value: Value,
    format: Format,
    json_text: Option<&str>,
) -> Result<Template, LoadError> {
    let normalised = normalise(&mut value);
    let err = match Template::deserialize(&value) {
        Ok(template) => {
            // ROS has no Snapshot policy and no ExternalId: a ROS template that writes them
            // is refused where it does, not run with a meaning ROS does not give them.
            return match ros_incompatibility(&template) {
                None => Ok(template),
                Some((path, message)) => Err(LoadError::Structure {
                    format,
                    location: Location::default(),
                    path,
                    message,
                }),
            };
        }
        Err(err) => err,
    };
    // Deserializing the text again gives serde's position; only when normalising changed
    // nothing, so that the position is that of the same error.
    let position = json_text
        .filter(|_| !normalised)
        .and_then(|text| serde_json::from_str::<Template>(text).err())
        .map(|e| (e.line(), e.column()))
        .filter(|&(line, _)| line > 0);
    let (path, message) = locate(&value).unwrap_or((String::new(), err.to_string()));
    // serde reports the whole document's errors at its end, which says nothing.
    let position = position.filter(|_| !path.is_empty());
    Err(LoadError::Structure {
        format,
        location: Location {
            file: None,
            position,
        },
        path,
        message,
    })
}

/// Reads forms real templates use that the model spells differently: a resource's
/// `"Properties": null` means no properties. Returns whether anything changed.
fn normalise(value: &mut Value) -> bool {
    let mut changed = false;
    if let Some(Value::Object(resources)) = value.get_mut("Resources") {
        for resource in resources.values_mut() {
            if let Value::Object(resource) = resource
                && resource.get("Properties").is_some_and(Value::is_null)
            {
                resource.remove("Properties");
                changed = true;
            }
        }
    }
    changed
}

/// The deepest nesting of YAML flow collections (`[`, `{`) read. The YAML parser stops at
/// 128 levels too, but its scanner spends time quadratic in the nesting before it gets
/// there (100,000 `[` take minutes), so deeper text is refused before it is parsed.
const MAX_FLOW_DEPTH: usize = 128;

/// Refuses text with more than [`MAX_FLOW_DEPTH`] brackets open at once. Brackets inside
/// strings count too: only text with that many more openings than closings is refused.
fn check_flow_depth(text: &str) -> Result<(), LoadError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    for c in text.chars() {
        column += 1;
        match c {
            '\n' => {
                line += 1;
                column = 0;
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(LoadError::Syntax {
                        format: Format::Yaml,
                        location: Location {
                            file: None,
                            position: Some((line, column)),
                        },
                        message: format!(
                            "collections nested deeper than {MAX_FLOW_DEPTH} levels ([ or {{ open at once)"
                        ),
                    });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A JSON value read with duplicate keys refused: JSON objects that name a key twice would
/// otherwise keep the last one and silently drop the other (a second `"Web"` resource
/// replacing the first). YAML mappings refuse duplicates in the YAML parser already.
struct NoDuplicateKeys(Value);

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(NoDuplicateKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(NoDuplicateKeys(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key '{key}'"
                )));
            }
            let NoDuplicateKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(NoDuplicateKeys(Value::Object(object)))
    }
}

fn yaml_syntax(err: serde_yaml::Error) -> LoadError {
    let position = err.location().map(|l| (l.line(), l.column()));
    LoadError::Syntax {
        format: Format::Yaml,
        location: Location {
            file: None,
            position,
        },
        message: strip_position(&err.to_string(), position),
    }
}

/// Drops the parser's own " at line L column C" from a message whose position is reported
/// separately.
fn strip_position(message: &str, position: Option<(usize, usize)>) -> String {
    if let Some((line, column)) = position {
        let suffix = format!(" at line {line} column {column}");
        if let Some(stripped) = message.strip_suffix(&suffix) {
            return stripped.to_owned();
        }
        if let Some((head, tail)) = message.split_once(&format!("{suffix},")) {
            return format!("{head},{tail}");
        }
    }
    message.to_owned()
}

/// Finds the first entry of a template document that does not deserialize, as a JSON path
/// and serde's message. Goes down one level into each section (one parameter, one
/// resource, one output at a time).
fn locate(value: &Value) -> Option<(String, String)> {
    let Value::Object(top) = value else {
        return Some((
            String::new(),
            format!("a template must be a mapping, found {}", kind_of(value)),
        ));
    };
    fn check<T: DeserializeOwned>(path: String, value: &Value) -> Option<(String, String)> {
        T::deserialize(value)
            .err()
            .map(|err| (path, err.to_string()))
    }
    fn each<T: DeserializeOwned>(section: &str, value: &Value) -> Option<(String, String)> {
        let Value::Object(entries) = value else {
            return Some((
                section.to_owned(),
                format!("must be a mapping, found {}", kind_of(value)),
            ));
        };
        entries
            .iter()
            .find_map(|(name, entry)| check::<T>(join_key(section, name), entry))
    }
    for (key, section) in top {
        let found = match key.as_str() {
            "ROSTemplateFormatVersion" => check::<Option<String>>(key.clone(), section),
            "Description" => check::<Option<Text>>(key.clone(), section),
            "Parameters" => each::<ParameterDecl>(key, section),
            "Mappings" => {
                each::<indexmap::IndexMap<String, indexmap::IndexMap<String, Value>>>(key, section)
            }
            "Resources" => each::<ResourceSpec>(key, section),
            "Outputs" => each::<OutputSpec>(key, section),
            "Conditions" => each::<crate::expr::Expr>(key, section),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Turns a YAML value into the JSON shape, expanding short tags. On error: the JSON path and
/// what is wrong.
fn yaml_to_json(
    value: serde_yaml::Value,
    path: &mut Vec<String>,
) -> Result<Value, (String, String)> {
    use serde_yaml::Value as Y;
    let here = |path: &[String], message: String| (path.concat(), message);
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::String(s) => Value::String(s),
        Y::Number(n) => {
            let number = if let Some(i) = n.as_i64() {
                Some(Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Some(Number::from(u))
            } else {
                n.as_f64().and_then(Number::from_f64)
            };
            match number {
                Some(number) => Value::Number(number),
                None => {
                    return Err(here(
                        path,
                        format!("the number {n} cannot be represented in JSON"),
                    ));
                }
            }
        }
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(format!("[{i}]"));
                out.push(yaml_to_json(item, path)?);
                path.pop();
            }
            Value::Array(out)
        }
        Y::Mapping(mapping) => {
            let mut out = Map::with_capacity(mapping.len());
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => {
                        return Err(here(
                            path,
                            "a mapping key must be a string, number or boolean".to_owned(),
                        ));
                    }
                };
                let segment = join_key("", &key);
                path.push(if segment.starts_with('[') {
                    segment
                } else if path.is_empty() {
                    key.clone()
                } else {
                    format!(".{key}")
                });
                let item = yaml_to_json(item, path)?;
                path.pop();
                out.insert(key, item);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let key = long_key(&name);
            path.push(if path.is_empty() {
                key
            } else {
                format!(".{key}")
            });
            let arg = yaml_to_json(tagged.value, path)?;
            path.pop();
            short_tag(&name, arg)
        }
    })
}

/// The key a short tag stands for: `Ref`, `Condition`, or `Fn::<Name>`.
fn long_key(name: &str) -> String {
    if name == "Ref" || name == "Condition" || name.starts_with("Fn::") {
        name.to_owned()
    } else {
        format!("Fn::{name}")
    }
}

/// The long form of a short tag: `!Ref x`, `!GetAtt a.b`, `!Condition x`, `!Name arg`.
fn short_tag(name: &str, arg: Value) -> Value {
    let arg = match (name, arg) {
        ("GetAtt", Value::String(dotted)) => {
            // The first dot splits: `Stack.Outputs.Name` is resource `Stack`, attribute
            // `Outputs.Name` (as CloudFormation reads it).
            match dotted.split_once('.') {
                Some((resource, attribute)) => Value::Array(vec![
                    Value::String(resource.to_owned()),
                    Value::String(attribute.to_owned()),
                ]),
                None => Value::String(dotted),
            }
        }
        (_, arg) => arg,
    };
    let mut map = Map::new();
    map.insert(long_key(name), arg);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expr;
    use serde_json::json;

    fn props(t: &Template, id: &str) -> Value {
        serde_json::to_value(&t.resources[id].properties).unwrap()
    }

    #[test]
    fn short_tags_become_the_long_form() {
        let t = load_yaml(
            r#"
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Not [!Condition IsProd]]
Resources:
  Vm:
    Type: ALIYUN::ECS::Instance
    Properties:
      A: !Ref Vpc
      B: !GetAtt Vpc.VpcId
      C: !GetAtt [Vpc, VpcId]
      D: !GetAtt Stack.Outputs.Name
      E: !Sub "${Vpc}-x"
      F: !Join ['-', [!Ref A, !Select [0, !Split [',', 'a,b']]]]
      G: !If [IsProd, !Base64Encode "x", !Ref ALIYUN::NoValue]
      H: !Fn::Str 3
      I: !Jq [First, '.a', {}]
"#,
        )
        .unwrap();
        assert_eq!(
            props(&t, "Vm"),
            json!({
                "A": {"Ref": "Vpc"},
                "B": {"Fn::GetAtt": ["Vpc", "VpcId"]},
                "C": {"Fn::GetAtt": ["Vpc", "VpcId"]},
                "D": {"Fn::GetAtt": ["Stack", "Outputs.Name"]},
                "E": {"Fn::Sub": "${Vpc}-x"},
                "F": {"Fn::Join": ["-", [{"Ref": "A"},
                       {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}]]},
                "G": {"Fn::If": ["IsProd", {"Fn::Base64Encode": "x"}, {"Ref": "ALIYUN::NoValue"}]},
                "H": {"Fn::Str": 3},
                "I": {"Fn::Jq": ["First", ".a", {}]},
            })
        );
        assert_eq!(
            t.resources["Vm"].properties["B"],
            Expr::get_att("Vpc", "VpcId")
        );
        assert_eq!(
            serde_json::to_value(&t.conditions).unwrap(),
            json!({
                "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Both": {"Fn::And": [{"Condition": "IsProd"},
                          {"Fn::Not": [{"Condition": "IsProd"}]}]},
            })
        );
    }

    #[test]
    fn yaml_keys_merges_and_numbers_are_normalised() {
        let t = load_yaml(
            r#"
Mappings:
  Ports:
    base: &base {80: http, true: yes, ~: none, 1.5: x}
    more:
      <<: *base
      443: https
Resources: {}
"#,
        )
        .unwrap();
        let more = &t.mappings["Ports"]["more"];
        assert_eq!(more["80"], json!("http"));
        assert_eq!(more["true"], json!("yes"));
        assert_eq!(more["null"], json!("none"));
        assert_eq!(more["1.5"], json!("x"));
        assert_eq!(more["443"], json!("https"));
    }

    fn error_text(result: Result<Template, LoadError>) -> String {
        result.expect_err("must fail").to_string()
    }

    #[test]
    fn what_ros_cannot_express_is_refused_on_read_and_write_naming_the_resource() {
        let snapshot = r#"{"Resources": {"Vol": {"Type": "T", "DeletionPolicy": "Snapshot"}}}"#;
        assert_eq!(
            error_text(load_json(snapshot)),
            "Resources.Vol.DeletionPolicy: resource 'Vol' (T) has DeletionPolicy Snapshot, \
             which ROS has no equivalent for (ROS knows Delete and Retain)"
        );
        let adopt = "Resources:\n  Srv:\n    Type: T\n    ExternalId: i-123\n";
        assert_eq!(
            error_text(load_yaml(adopt)),
            "Resources.Srv.ExternalId: resource 'Srv' (T) adopts an existing object \
             (external_id), which ROS has no equivalent for"
        );
        // An IR made elsewhere (a Heat template) is refused when written as ROS.
        let mut t: Template = serde_json::from_str(snapshot).unwrap();
        assert!(
            to_json_string_pretty(&t)
                .unwrap_err()
                .to_string()
                .contains("Resources.Vol.DeletionPolicy: resource 'Vol'")
        );
        t.resources["Vol"].deletion_policy = DeletionPolicy::Retain;
        t.resources["Vol"].external_id = Some(crate::Expr::String("vol-1".into()));
        assert!(
            to_yaml_string(&t)
                .unwrap_err()
                .to_string()
                .contains("'Vol'")
        );
        t.resources["Vol"].external_id = None;
        assert!(to_json_string_pretty(&t).is_ok());
    }

    #[test]
    fn errors_say_where_and_what() {
        let cases = [
            (
                "JSON syntax",
                error_text(load_json("{\n  \"Resources\": {\n    \"A\": ]\n}")),
            ),
            ("JSON truncated", error_text(load_json("{\"Resources\": {"))),
            (
                "JSON missing Type",
                error_text(load_json(
                    "{\"Resources\": {\n  \"Vpc\": {\"Type\": \"ALIYUN::ECS::VPC\"},\n  \"Vsw\": {\"Properties\": {}}\n}}",
                )),
            ),
            (
                "JSON bad DeletionPolicy",
                error_text(load_json(
                    r#"{"Resources": {"Vpc": {"Type": "T", "DeletionPolicy": "Keep"}}}"#,
                )),
            ),
            ("JSON top-level list", error_text(load_json("[1, 2]"))),
            (
                "YAML syntax",
                error_text(load_yaml("Resources:\n  A: b\n    c: d\n")),
            ),
            (
                "YAML two tags",
                error_text(load_yaml("Resources:\n  A:\n    X: !Base64Encode !Sub x\n")),
            ),
            (
                "YAML wrong parameter",
                error_text(load_yaml("Parameters:\n  P: [1, 2]\nResources: {}\n")),
            ),
            (
                "YAML infinite number",
                error_text(load_yaml(
                    "Resources:\n  A:\n    Type: T\n    Properties:\n      X: !Sub [a, {n: .inf}]\n",
                )),
            ),
            (
                "YAML complex key",
                error_text(load_yaml("Resources:\n  ? [a, b]\n  : x\n")),
            ),
            ("YAML empty", error_text(load_yaml(""))),
            (
                "YAML odd resource id",
                error_text(load_yaml(
                    "Resources:\n  alicloud_vpc.main: {Properties: {}}\n",
                )),
            ),
        ];
        let text = cases
            .iter()
            .map(|(name, text)| format!("{name}:\n  {text}"))
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn json_errors_carry_position_and_path() {
        let err = load_json("{\"Resources\": {\n  \"Vsw\": {\"Properties\": {}}\n}}").unwrap_err();
        let LoadError::Structure { location, path, .. } = &err else {
            panic!("a structure error: {err}");
        };
        assert_eq!(path, "Resources.Vsw");
        assert_eq!(location.position.map(|p| p.0), Some(2));
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn paths_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "Resources:\n  A: [\n").unwrap();
        let err = load_path(&bad).unwrap_err();
        assert_eq!(err.file(), Some(bad.as_path()));
        assert!(
            err.to_string()
                .starts_with(&format!("{}:3:1: invalid YAML: ", bad.display())),
            "{err}"
        );

        let missing = dir.path().join("missing.json");
        let err = load_path(&missing).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("cannot read template file '{}'", missing.display())
        );
        assert!(std::error::Error::source(&err).is_some());

        let txt = dir.path().join("t.txt");
        assert_eq!(
            load_path(&txt).unwrap_err().to_string(),
            format!(
                "{}: unknown template file extension (expected .json, .yaml or .yml)",
                txt.display()
            )
        );

        let good = dir.path().join("T.JSON");
        std::fs::write(&good, r#"{"Resources": {"A": {"Type": "T"}}}"#).unwrap();
        assert_eq!(load_path(&good).unwrap().resources["A"].type_name, "T");
    }

    // ---- the template corpus in ../shared/templates/ros ----

    const ROS_PSEUDO_PARAMETERS: &[&str] = &[
        "ALIYUN::StackName",
        "ALIYUN::StackId",
        "ALIYUN::Region",
        "ALIYUN::AccountId",
        "ALIYUN::TenantId",
        "ALIYUN::ResourceGroupId",
        "ALIYUN::NoValue",
        "ALIYUN::Index",
    ];

    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/templates/ros")
    }

    /// Every template of the corpus, as paths relative to the corpus folder, from
    /// `MANIFEST.json`; checks that the folder holds exactly those files.
    fn corpus() -> Vec<String> {
        let dir = corpus_dir();
        let manifest = std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap_or_else(|e| {
            panic!("the ROS template corpus must be at {}: {e}", dir.display())
        });
        let manifest: Vec<Value> = serde_json::from_str(&manifest).unwrap();
        let mut listed: Vec<String> = manifest
            .iter()
            .map(|entry| entry["file"].as_str().unwrap().to_owned())
            .collect();
        listed.sort();
        let mut on_disk = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if Format::from_path(&path).is_some() && !path.ends_with("MANIFEST.json") {
                    let rel = path.strip_prefix(&dir).unwrap();
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        assert_eq!(listed, on_disk, "MANIFEST.json and the folder disagree");
        assert_eq!(listed.len(), 52);
        listed
    }

    /// Files that must not load, with the error expected.
    const LOAD_FAILURES: &[(&str, &str)] = &[(
        // The docs' skeleton: JSON with `//` comments. A YAML parser turns each comment into
        // a key with a null value, so the first "parameter" is null.
        "alibabaclouddocs-ros-mit/Template-structure__1.yaml",
        "Parameters[\"// The parameters you can specify when you create a stack.\"]: \
         invalid type: null, expected struct ParameterDecl",
    )];

    fn load_corpus_file(rel: &str) -> Result<Template, LoadError> {
        load_path(&corpus_dir().join(rel))
    }

    #[test]
    fn every_corpus_file_loads_or_fails_as_expected() {
        let mut loaded = 0;
        for rel in corpus() {
            let result = load_corpus_file(&rel);
            match LOAD_FAILURES.iter().find(|(file, _)| *file == rel) {
                Some((_, expected)) => {
                    let err = result.expect_err(&rel).to_string();
                    let expected = format!("{}: {expected}", corpus_dir().join(&rel).display());
                    assert_eq!(err, expected);
                }
                None => {
                    let t = result.unwrap_or_else(|e| panic!("{rel}: {e}"));
                    assert_eq!(t.format_version.as_deref(), Some("2015-09-01"), "{rel}");
                    loaded += 1;
                }
            }
        }
        assert_eq!(loaded, 51);
    }

    #[test]
    fn every_loadable_corpus_file_round_trips_through_json_and_yaml() {
        for rel in corpus() {
            let Ok(t) = load_corpus_file(&rel) else {
                continue;
            };
            let json = to_json_string_pretty(&t).unwrap();
            assert_eq!(load_json(&json).unwrap(), t, "{rel}: JSON round trip");
            let yaml = to_yaml_string(&t).unwrap();
            assert_eq!(load_yaml(&yaml).unwrap(), t, "{rel}: YAML round trip");
        }
    }

    #[test]
    fn the_short_tag_file_reads_like_its_long_form() {
        let t = load_corpus_file(
            "apache-2.0/alibabacloud-ros-tool-transformer/templates/ros/simple.yml",
        )
        .unwrap();
        assert_eq!(
            t.resources["MyVSwitch"].properties["VpcId"],
            Expr::reference("MyDemoVpc")
        );
        assert_eq!(
            t.outputs["VpcName"].value,
            Expr::get_att("MyDemoVpc", "VpcName")
        );
    }

    fn validation_text(t: &Template) -> String {
        let known = |name: &str| name.starts_with("ALIYUN::");
        match crate::validate::validate(t, &known, ROS_PSEUDO_PARAMETERS) {
            Ok(()) => "ok".to_owned(),
            Err(errors) => errors.to_string(),
        }
    }

    #[test]
    fn the_negative_corpus_fails_where_its_readme_says() {
        let dir = "negative/alibabacloud-ros-tool-iact3";
        // Invalid as templates: validation names the unresolved references.
        let text = validation_text(
            &load_corpus_file(&format!("{dir}/failed_validate_template.yml")).unwrap(),
        );
        assert_eq!(
            text,
            "Resources.VSwitch.Properties.ZoneId: Ref to unknown resource or parameter 'ZoneId'"
        );
        let text =
            validation_text(&load_corpus_file(&format!("{dir}/invalid_template.yml")).unwrap());
        assert_eq!(
            text,
            "Outputs.NatGatewayId.Value: Fn::GetAtt to unknown resource 'NatGateway'"
        );
        // Valid templates that fail only when deployed (a /32 VPC block; a zone that does not
        // exist): nothing a template validator can see.
        for file in ["failed_template.yaml", "timeout_template.yml"] {
            let t = load_corpus_file(&format!("{dir}/{file}")).unwrap();
            assert_eq!(validation_text(&t), "ok", "{file}");
        }
    }

    #[test]
    fn what_validation_says_about_the_corpus() {
        let mut report = String::new();
        for rel in corpus() {
            let text = match load_corpus_file(&rel) {
                Ok(t) => validation_text(&t),
                Err(_) => "(does not load)".to_owned(),
            };
            report.push_str(&format!("== {rel}\n{text}\n"));
        }
        insta::assert_snapshot!(report);
    }
}
