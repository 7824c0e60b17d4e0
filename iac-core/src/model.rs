//! The template model: plain data that reads and writes the ROS / CloudFormation shape.
//!
//! A [`Template`] is what every front-end produces: the typed Rust [`crate::stack::Stack`],
//! a ROS JSON or YAML file, and (through the OpenStack crate) a Heat template. The engine
//! only ever sees this model.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::expr::{Expr, ExprMap};

/// The only `ROSTemplateFormatVersion` there is.
pub const ROS_FORMAT_VERSION: &str = "2015-09-01";

/// A whole template: parameters, mappings, conditions, resources and outputs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Template {
    /// `ROSTemplateFormatVersion` (`2015-09-01`); `None` for templates built in Rust.
    #[serde(
        rename = "ROSTemplateFormatVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub format_version: Option<String>,
    /// `Description`: a string or a locale map.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Text>,
    /// `Metadata`, kept as written.
    #[serde(rename = "Metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// `Parameters`, in the order written.
    #[serde(
        rename = "Parameters",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub parameters: IndexMap<String, ParameterDecl>,
    /// `Mappings`: map name → top-level key → second-level key → value.
    #[serde(
        rename = "Mappings",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub mappings: IndexMap<String, IndexMap<String, IndexMap<String, Value>>>,
    /// `Conditions`: name → boolean expression.
    #[serde(
        rename = "Conditions",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub conditions: IndexMap<String, Expr>,
    /// `Resources`: logical id → resource.
    #[serde(rename = "Resources", default)]
    pub resources: IndexMap<String, ResourceSpec>,
    /// `Outputs`: name → output.
    #[serde(
        rename = "Outputs",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub outputs: IndexMap<String, OutputSpec>,
    /// Sections this SDK does not support (`Transform`, `Rules`, `Locals`, ...): kept so that
    /// validation can name them instead of silently dropping them.
    #[serde(flatten, default, skip_serializing_if = "IndexMap::is_empty")]
    pub unsupported: IndexMap<String, Value>,
}

/// A resource of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSpec {
    /// `Type`, for example `ALIYUN::ECS::VPC`.
    #[serde(rename = "Type")]
    pub type_name: String,
    /// `Properties`: property name → expression.
    #[serde(
        rename = "Properties",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub properties: ExprMap,
    /// `DependsOn`: a string or a list of logical ids (always written as a list).
    #[serde(
        rename = "DependsOn",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "string_or_list"
    )]
    pub depends_on: Vec<String>,
    /// `Condition`: the resource exists only when this condition is true.
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// `DeletionPolicy`: `Delete` (default), `Retain` or `Snapshot` (Heat's; ROS has no
    /// `Snapshot`, see [`crate::loader`]).
    #[serde(
        rename = "DeletionPolicy",
        default,
        skip_serializing_if = "DeletionPolicy::is_default"
    )]
    pub deletion_policy: DeletionPolicy,
    /// `ExternalId` (Heat's `external_id`): the id of an existing cloud object the stack
    /// adopts instead of creating one. The engine reads it through the handler, never
    /// updates it (its properties are not sent) and never deletes it: when the resource
    /// leaves the stack it is forgotten, as with `DeletionPolicy: Retain`. The expression
    /// may use parameters only. ROS has no such key (see [`crate::loader`]).
    #[serde(
        rename = "ExternalId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<Expr>,
    /// `Metadata`, kept as written.
    #[serde(rename = "Metadata", default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Keys this SDK does not support on a resource (`Count`, `UpdatePolicy`, ...): kept so
    /// that validation names them.
    #[serde(flatten, default, skip_serializing_if = "IndexMap::is_empty")]
    pub unsupported: IndexMap<String, Value>,
}

impl ResourceSpec {
    /// A resource of the given type with no properties.
    pub fn new(type_name: impl Into<String>) -> Self {
        ResourceSpec {
            type_name: type_name.into(),
            properties: ExprMap::new(),
            depends_on: Vec::new(),
            condition: None,
            deletion_policy: DeletionPolicy::Delete,
            external_id: None,
            metadata: None,
            unsupported: IndexMap::new(),
        }
    }
}

/// What happens to a resource's cloud object when the resource leaves the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub enum DeletionPolicy {
    /// Delete the cloud object (the default).
    #[default]
    Delete,
    /// Leave the cloud object in place; only forget it.
    Retain,
    /// Take a snapshot of the cloud object (a Cinder backup, a server image), wait until it
    /// is complete, then delete the object. Only for types whose handler declares
    /// [`crate::provider::Schema::snapshots`]; the snapshot id is reported in the
    /// `DELETE_COMPLETE` event and in [`crate::engine::Report::snapshots`].
    Snapshot,
}

impl DeletionPolicy {
    fn is_default(&self) -> bool {
        *self == DeletionPolicy::Delete
    }
}

impl<'de> Deserialize<'de> for DeletionPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "Delete" => Ok(DeletionPolicy::Delete),
            "Retain" => Ok(DeletionPolicy::Retain),
            "Snapshot" => Ok(DeletionPolicy::Snapshot),
            other => Err(serde::de::Error::custom(format!(
                "unknown deletion policy `{other}`, expected `Delete` or `Retain` \
                 (or `Snapshot`, in Heat templates only)"
            ))),
        }
    }
}

/// A human text: a plain string or a map of locale → string (`{"en": ..., "zh-cn": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    /// One string for every locale.
    Plain(String),
    /// One string per locale.
    Localized(IndexMap<String, String>),
}

impl Text {
    /// The text for `locale`, falling back to `en`, then to any locale.
    pub fn get(&self, locale: &str) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Localized(map) => map
                .get(locale)
                .or_else(|| map.get("en"))
                .or_else(|| map.values().next())
                .map(String::as_str)
                .unwrap_or(""),
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::Plain(s.to_owned())
    }
}

/// The declared type of a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ParamType {
    /// `String`.
    #[default]
    String,
    /// `Number`: an integer or a float, given as a number or a numeric string.
    Number,
    /// `CommaDelimitedList`: `"a,b,c"` becomes a list of strings.
    CommaDelimitedList,
    /// `Json`: any JSON value (a string is parsed as JSON).
    Json,
    /// `Boolean`: `true`/`false` (also as strings).
    Boolean,
    /// A vendor type this SDK passes through as a string (`ALIYUN::OOS::Parameter::Value`).
    Other(String),
}

impl ParamType {
    /// The type's name as written in templates.
    pub fn as_str(&self) -> &str {
        match self {
            ParamType::String => "String",
            ParamType::Number => "Number",
            ParamType::CommaDelimitedList => "CommaDelimitedList",
            ParamType::Json => "Json",
            ParamType::Boolean => "Boolean",
            ParamType::Other(name) => name,
        }
    }
}

impl Serialize for ParamType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ParamType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(match name.as_str() {
            "String" => ParamType::String,
            "Number" => ParamType::Number,
            "CommaDelimitedList" => ParamType::CommaDelimitedList,
            "Json" => ParamType::Json,
            "Boolean" => ParamType::Boolean,
            _ => ParamType::Other(name),
        })
    }
}

/// A parameter declaration (`Parameters.<name>`).
///
/// Constraint values are kept as written (numbers may be numeric strings); the parameters
/// module checks them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParameterDecl {
    /// `Type`.
    #[serde(rename = "Type", default)]
    pub param_type: ParamType,
    /// `Default`; `Some(Value::Null)` is an explicit empty default that is not validated.
    #[serde(
        rename = "Default",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub default: Option<Value>,
    /// `AllowedValues`.
    #[serde(
        rename = "AllowedValues",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_values: Option<Vec<Value>>,
    /// `AllowedPattern`: regular expressions the whole value must match, every one of them.
    ///
    /// ROS and CloudFormation give one pattern, written as a string (`"AllowedPattern":
    /// "[a-z]+"`), and that is how one pattern without its own description is read and
    /// written. HOT lets a parameter have several `allowed_pattern` constraints, each with
    /// its own description: those are written as a list (`"AllowedPattern": [{"Pattern":
    /// "[a-z]+", "Description": "..."}, "[a-z]{3}"]`), which is this IR's shape, not ROS's
    /// (the ROS deployer refuses such a template rather than drop a constraint).
    #[serde(
        rename = "AllowedPattern",
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "write_patterns",
        deserialize_with = "read_patterns"
    )]
    pub allowed_patterns: Vec<AllowedPattern>,
    /// `MinLength` (number or numeric string).
    #[serde(rename = "MinLength", default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<Value>,
    /// `MaxLength` (number or numeric string).
    #[serde(rename = "MaxLength", default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<Value>,
    /// `MinValue` (number or numeric string).
    #[serde(rename = "MinValue", default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Value>,
    /// `MaxValue` (number or numeric string).
    #[serde(rename = "MaxValue", default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Value>,
    /// `NoEcho`: the value is a secret, never printed and never stored in clear.
    #[serde(rename = "NoEcho", default, skip_serializing_if = "Option::is_none")]
    pub no_echo: Option<Value>,
    /// `Description`.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Text>,
    /// `Label`.
    #[serde(rename = "Label", default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Text>,
    /// `ConstraintDescription`: shown when a constraint is violated.
    #[serde(
        rename = "ConstraintDescription",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub constraint_description: Option<Text>,
    /// Other keys (`AssociationProperty`, `Confirm`, `Required`, ...), kept as written.
    #[serde(flatten, default, skip_serializing_if = "IndexMap::is_empty")]
    pub extra: IndexMap<String, Value>,
}

impl ParameterDecl {
    /// A declaration of the given type with no constraints.
    pub fn new(param_type: ParamType) -> Self {
        ParameterDecl {
            param_type,
            ..Default::default()
        }
    }

    /// True when `NoEcho` is set (as `true` or `"true"`).
    pub fn is_secret(&self) -> bool {
        match &self.no_echo {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

/// One `AllowedPattern` constraint of a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedPattern {
    /// The regular expression, in the syntax of Python's `re` (which Heat and ROS use):
    /// look-around and backreferences included. The whole value must match.
    pub pattern: String,
    /// What a value that does not match is told (HOT's constraint `description`); when
    /// `None`, the declaration's `ConstraintDescription` is.
    pub description: Option<String>,
}

impl AllowedPattern {
    /// A pattern with no description of its own.
    pub fn new(pattern: impl Into<String>) -> Self {
        AllowedPattern {
            pattern: pattern.into(),
            description: None,
        }
    }

    /// The pattern with its own description (builder style).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// The ROS shape (a string) for one pattern without its own description; a list otherwise.
fn write_patterns<S: Serializer>(
    patterns: &[AllowedPattern],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    struct Described<'a> {
        #[serde(rename = "Pattern")]
        pattern: &'a str,
        #[serde(rename = "Description")]
        description: &'a str,
    }
    if let [only] = patterns
        && only.description.is_none()
    {
        return serializer.serialize_str(&only.pattern);
    }
    let mut seq = serializer.serialize_seq(Some(patterns.len()))?;
    for p in patterns {
        match &p.description {
            Some(description) => seq.serialize_element(&Described {
                pattern: &p.pattern,
                description,
            })?,
            None => seq.serialize_element(&p.pattern)?,
        }
    }
    seq.end()
}

/// A string (ROS), `null` (no pattern), or a list of strings and `{"Pattern": ...,
/// "Description": ...}` maps.
fn read_patterns<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<AllowedPattern>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Described {
        #[serde(rename = "Pattern")]
        pattern: String,
        #[serde(rename = "Description", default)]
        description: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Plain(String),
        Described(Described),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        One(String),
        Many(Vec<Item>),
        Null(()),
    }
    let shape = Shape::deserialize(deserializer).map_err(|_| {
        serde::de::Error::custom(
            "AllowedPattern must be a text, or a list of texts and {Pattern, Description} maps",
        )
    })?;
    Ok(match shape {
        Shape::One(pattern) => vec![AllowedPattern::new(pattern)],
        Shape::Null(()) => Vec::new(),
        Shape::Many(items) => items
            .into_iter()
            .map(|item| match item {
                Item::Plain(pattern) => AllowedPattern::new(pattern),
                Item::Described(Described {
                    pattern,
                    description,
                }) => AllowedPattern {
                    pattern,
                    description,
                },
            })
            .collect(),
    })
}

/// An output (`Outputs.<name>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// `Value`: the expression to evaluate at the end of an apply.
    #[serde(rename = "Value")]
    pub value: Expr,
    /// `Description`.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Text>,
    /// `Condition`: the output exists only when this condition is true.
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Other keys (`Label`, `NoEcho`, ...), kept as written.
    #[serde(flatten, default, skip_serializing_if = "IndexMap::is_empty")]
    pub extra: IndexMap<String, Value>,
}

impl OutputSpec {
    /// An output with a value and nothing else.
    pub fn new(value: Expr) -> Self {
        OutputSpec {
            value,
            description: None,
            condition: None,
            extra: IndexMap::new(),
        }
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Keeps an explicit `null` as `Some(Value::Null)` (serde's default would make it `None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}
