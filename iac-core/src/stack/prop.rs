//! [`Prop<T>`]: a typed property value that is a literal, an expression or unset.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::expr::{Expr, ExprMap, parse_sub};

use super::Condition;

/// A typed property value: a literal `T`, an [`Expr`] that evaluates to a `T`, or unset.
///
/// Typed resource structs make every property a `Prop<T>` and mark it
/// `#[serde(default, skip_serializing_if = "Prop::is_unset")]`, so that optional properties
/// the user did not give are left out of the template. (An unset `Prop` that is not skipped
/// writes `null`.)
///
/// Literals convert with `.into()` (`"192.168.0.0/16".into()`, `2.into()`, `true.into()`);
/// references come from the stack ([`ResourceRef::attr`](super::ResourceRef::attr),
/// [`Stack::parameter`](super::Stack::parameter), ...) and the functions below build the
/// `Fn::*` calls of the template format.
///
/// ```
/// use iac_core::stack::Prop;
/// use serde_json::json;
///
/// let region: Prop<String> = Prop::pseudo("ALIYUN::Region");
/// let name = Prop::join("-", [region, "web".into()]);
/// assert_eq!(
///     serde_json::to_value(&name).unwrap(),
///     json!({"Fn::Join": ["-", [{"Ref": "ALIYUN::Region"}, "web"]]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Prop<T> {
    /// Not given: skipped when serialised (with `skip_serializing_if = "Prop::is_unset"`).
    #[default]
    Unset,
    /// A literal value.
    Value(T),
    /// An expression (a reference or a function call) that evaluates to a `T`.
    Expr(Expr),
    /// A value that could not be built (an unset argument, a malformed `Fn::Sub` text, a
    /// literal that cannot be written as JSON). Serialising it fails with the error, and
    /// [`Stack`](super::Stack) reports it with the resource, parameter or output it is in.
    Invalid(PropError),
}

/// Why a [`Prop`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PropError {
    /// An unset value was given where a function needs an argument.
    #[error("an unset value was given to {function}")]
    UnsetArgument {
        /// The function (`Fn::If`, `Fn::Join`, ...) or other place (`the output`).
        function: String,
    },
    /// A literal could not be written as JSON (a map with non-string keys, a custom
    /// `Serialize` that failed).
    #[error("a literal value cannot be written as JSON: {message}")]
    NotJson {
        /// What serde said.
        message: String,
    },
    /// An `Fn::Sub` text does not parse.
    #[error("Fn::Sub text {text:?} is malformed: {message}")]
    Sub {
        /// The text as given.
        text: String,
        /// What is wrong and where.
        message: String,
    },
}

impl<T> Prop<T> {
    /// True when the property is not given (for `skip_serializing_if`).
    pub fn is_unset(&self) -> bool {
        matches!(self, Prop::Unset)
    }

    /// A reference to a pseudo parameter, such as `ALIYUN::Region` (`{"Ref": name}`).
    ///
    /// Cloud crates wrap this in named functions; `iac-core` knows no cloud names.
    pub fn pseudo(name: impl Into<String>) -> Self {
        Prop::Expr(Expr::reference(name))
    }

    /// Any function call `{function: args}`, for functions without a helper here.
    pub fn call(function: impl Into<String>, args: Expr) -> Self {
        Prop::Expr(Expr::call(function, args))
    }

    /// `{"Fn::If": [condition, then, otherwise]}`: `then` when the condition is true.
    pub fn if_(
        condition: &Condition,
        then: impl Into<Prop<T>>,
        otherwise: impl Into<Prop<T>>,
    ) -> Self
    where
        T: Serialize,
    {
        const F: &str = "Fn::If";
        build(F, || {
            Ok(Expr::List(vec![
                Expr::String(condition.name().to_owned()),
                then.into().into_arg(F)?,
                otherwise.into().into_arg(F)?,
            ]))
        })
    }

    /// `{"Fn::Select": [index, list]}`: one item of a list (a negative index counts from the
    /// end).
    pub fn select(index: impl Into<Prop<i64>>, list: impl Into<Prop<Vec<T>>>) -> Self
    where
        T: Serialize,
    {
        const F: &str = "Fn::Select";
        build(F, || {
            Ok(Expr::List(vec![
                index.into().into_arg(F)?,
                list.into().into_arg(F)?,
            ]))
        })
    }

    /// `{"Fn::GetJsonValue": [key, json]}`: the value under `key` in a JSON object (or in a
    /// string holding one, such as the `Data` of a wait condition).
    pub fn get_json_value<U: Serialize>(key: impl Into<Prop<String>>, json: Prop<U>) -> Self {
        const F: &str = "Fn::GetJsonValue";
        build(F, || {
            Ok(Expr::List(vec![key.into().into_arg(F)?, json.into_arg(F)?]))
        })
    }

    /// The same value seen as another type: for a reference whose Rust type differs from the
    /// property's (a `Number` parameter given to an integer property). A literal is kept as
    /// its JSON.
    pub fn cast<U>(self) -> Prop<U>
    where
        T: Serialize,
    {
        match self {
            Prop::Unset => Prop::Unset,
            other => match other.into_arg("a cast") {
                Ok(expr) => Prop::Expr(expr),
                Err(err) => Prop::Invalid(err),
            },
        }
    }

    /// The property as an expression: `Ok(None)` when unset, an error when it is
    /// [`Prop::Invalid`] or its literal cannot be written as JSON.
    pub fn to_expr(&self) -> Result<Option<Expr>, PropError>
    where
        T: Serialize,
    {
        match self {
            Prop::Unset => Ok(None),
            Prop::Value(value) => literal_expr(value).map(Some),
            Prop::Expr(expr) => Ok(Some(expr.clone())),
            Prop::Invalid(err) => Err(err.clone()),
        }
    }

    /// The property as a function argument: unset is an error naming `function`.
    pub(crate) fn into_arg(self, function: &str) -> Result<Expr, PropError>
    where
        T: Serialize,
    {
        match self {
            Prop::Unset => Err(PropError::UnsetArgument {
                function: function.to_owned(),
            }),
            Prop::Value(value) => literal_expr(&value),
            Prop::Expr(expr) => Ok(expr),
            Prop::Invalid(err) => Err(err),
        }
    }
}

impl Prop<String> {
    /// `{"Fn::Join": [delimiter, parts]}`: the parts joined with the delimiter.
    pub fn join<I>(delimiter: impl Into<String>, parts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Prop<String>>,
    {
        const F: &str = "Fn::Join";
        build(F, || {
            let parts = parts
                .into_iter()
                .map(|part| part.into().into_arg(F))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::List(vec![
                Expr::String(delimiter.into()),
                Expr::List(parts),
            ]))
        })
    }

    /// `{"Fn::Sub": text}`: `${Name}` in the text is replaced by the parameter, pseudo
    /// parameter or resource id `Name`, `${Res.Attr}` by an attribute, `${!Lit}` is a
    /// literal `${Lit}`. A malformed text (an unclosed `${`) makes an invalid value.
    pub fn sub(text: impl Into<String>) -> Self {
        let text = text.into();
        match parse_sub(&text) {
            Ok(_) => Prop::Expr(Expr::sub(text)),
            Err(message) => Prop::Invalid(PropError::Sub { text, message }),
        }
    }

    /// `{"Fn::Sub": [text, {name: value, ...}]}`: like [`Prop::sub`], with local variables.
    pub fn sub_with<I, K>(text: impl Into<String>, variables: I) -> Self
    where
        I: IntoIterator<Item = (K, Prop<String>)>,
        K: Into<String>,
    {
        const F: &str = "Fn::Sub";
        let text = text.into();
        if let Err(message) = parse_sub(&text) {
            return Prop::Invalid(PropError::Sub { text, message });
        }
        build(F, || {
            let mut map = ExprMap::new();
            for (name, value) in variables {
                map.insert(name.into(), value.into_arg(F)?);
            }
            Ok(Expr::List(vec![Expr::String(text), Expr::Map(map)]))
        })
    }

    /// `{"Fn::Base64Encode": text}`: the text in base64.
    pub fn base64(text: impl Into<Prop<String>>) -> Self {
        const F: &str = "Fn::Base64Encode";
        build(F, || text.into().into_arg(F))
    }

    /// `{"Fn::Replace": [{find: replacement, ...}, text]}`: every `find` in the text
    /// replaced (used to put a wait-condition command into a script).
    pub fn replace<I, K>(replacements: I, text: impl Into<Prop<String>>) -> Self
    where
        I: IntoIterator<Item = (K, Prop<String>)>,
        K: Into<String>,
    {
        const F: &str = "Fn::Replace";
        build(F, || {
            let mut map = ExprMap::new();
            for (find, replacement) in replacements {
                map.insert(find.into(), replacement.into_arg(F)?);
            }
            Ok(Expr::List(vec![Expr::Map(map), text.into().into_arg(F)?]))
        })
    }
}

impl Prop<Vec<String>> {
    /// `{"Fn::Split": [delimiter, text]}`: the text split into a list.
    pub fn split(delimiter: impl Into<String>, text: impl Into<Prop<String>>) -> Self {
        const F: &str = "Fn::Split";
        build(F, || {
            Ok(Expr::List(vec![
                Expr::String(delimiter.into()),
                text.into().into_arg(F)?,
            ]))
        })
    }
}

impl<T: Serialize> Prop<Vec<T>> {
    /// A list whose items may be references: a literal list when every item is a literal,
    /// a list expression otherwise. An unset item makes an invalid value.
    pub fn list(items: impl IntoIterator<Item = Prop<T>>) -> Self {
        let items: Vec<Prop<T>> = items.into_iter().collect();
        if items.iter().all(|item| matches!(item, Prop::Value(_))) {
            return Prop::Value(
                items
                    .into_iter()
                    .filter_map(|item| match item {
                        Prop::Value(value) => Some(value),
                        _ => None,
                    })
                    .collect(),
            );
        }
        let items = items
            .into_iter()
            .map(|item| item.into_arg("a list"))
            .collect::<Result<Vec<_>, _>>();
        match items {
            Ok(items) => Prop::Expr(Expr::List(items)),
            Err(err) => Prop::Invalid(err),
        }
    }
}

/// Builds `{function: args()}`, or an invalid value if an argument is bad.
fn build<T>(function: &str, args: impl FnOnce() -> Result<Expr, PropError>) -> Prop<T> {
    match args() {
        Ok(args) => Prop::Expr(Expr::call(function, args)),
        Err(err) => Prop::Invalid(err),
    }
}

fn literal_expr<T: Serialize>(value: &T) -> Result<Expr, PropError> {
    serde_json::to_value(value)
        .map(Expr::from_json)
        .map_err(|err| PropError::NotJson {
            message: err.to_string(),
        })
}

impl<T> From<T> for Prop<T> {
    fn from(value: T) -> Self {
        Prop::Value(value)
    }
}

impl From<&str> for Prop<String> {
    fn from(value: &str) -> Self {
        Prop::Value(value.to_owned())
    }
}

impl From<&String> for Prop<String> {
    fn from(value: &String) -> Self {
        Prop::Value(value.clone())
    }
}

impl From<Vec<&str>> for Prop<Vec<String>> {
    fn from(values: Vec<&str>) -> Self {
        Prop::Value(values.into_iter().map(str::to_owned).collect())
    }
}

impl<T: Serialize> Serialize for Prop<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Prop::Unset => serializer.serialize_none(),
            Prop::Value(value) => value.serialize(serializer),
            Prop::Expr(expr) => expr.serialize(serializer),
            Prop::Invalid(err) => Err(serde::ser::Error::custom(err)),
        }
    }
}

/// Reads a literal as [`Prop::Value`], anything holding a function as [`Prop::Expr`], and
/// `null` as [`Prop::Unset`]. Mark fields `#[serde(default)]` so that a missing property is
/// unset too.
impl<'de, T: DeserializeOwned> Deserialize<'de> for Prop<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Prop::Unset);
        }
        let expr = Expr::from_json(value.clone());
        if expr.is_literal() {
            T::deserialize(value)
                .map(Prop::Value)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(Prop::Expr(expr))
        }
    }
}
