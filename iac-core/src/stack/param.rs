//! [`Param<T>`]: typed builders for template parameters.

use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use crate::model::{ParamType, ParameterDecl, Text};

/// A parameter declaration whose values are `T`; [`Stack::parameter`](super::Stack::parameter)
/// declares it and returns a `Prop<T>` reference to it.
///
/// | constructor | `Type` | reference |
/// |---|---|---|
/// | [`Param::string`] | `String` | `Prop<String>` |
/// | [`Param::number`] | `Number` | `Prop<f64>` |
/// | [`Param::integer`] | `Number` | `Prop<i64>` |
/// | [`Param::comma_delimited_list`] | `CommaDelimitedList` | `Prop<Vec<String>>` |
/// | [`Param::json`] | `Json` | `Prop<serde_json::Value>` |
/// | [`Param::boolean`] | `Boolean` | `Prop<bool>` |
///
/// Constraints are offered only where the type has them (`min_length` on strings,
/// `min_value` on numbers). Values that cannot be written (a `NaN` default) are reported by
/// [`Stack::template`](super::Stack::template) with the parameter's name.
///
/// ```
/// use iac_core::stack::Param;
///
/// let size = Param::integer().default(40).min_value(20).max_value(500)
///     .description("System disk size in GiB");
/// let password = Param::string().no_echo().min_length(8).allowed_pattern("[A-Za-z0-9]+");
/// # let _ = (size, password);
/// ```
#[derive(Clone)]
pub struct Param<T> {
    decl: ParameterDecl,
    problems: Vec<ParamError>,
    value_type: PhantomData<fn() -> T>,
}

/// A value given to a [`Param`] builder that cannot be written into the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A number is `NaN` or infinite.
    #[error("{key} is not a finite number")]
    NotFinite {
        /// The key (`Default`, `AllowedValues`, `MinValue`, `MaxValue`).
        key: &'static str,
    },
    /// A `CommaDelimitedList` item holds a comma, so it would split in two.
    #[error("{key} item {index} contains a comma")]
    CommaInItem {
        /// The key (`Default`, `AllowedValues`).
        key: &'static str,
        /// The item's position (its value is not printed: it may be a secret).
        index: usize,
    },
}

impl<T> Param<T> {
    fn typed(param_type: ParamType) -> Self {
        Param {
            decl: ParameterDecl::new(param_type),
            problems: Vec::new(),
            value_type: PhantomData,
        }
    }

    /// `NoEcho: true`: the value is a secret, never printed and never stored in clear.
    pub fn no_echo(mut self) -> Self {
        self.decl.no_echo = Some(Value::Bool(true));
        self
    }

    /// `Description`: a string or a locale map.
    pub fn description(mut self, text: impl Into<Text>) -> Self {
        self.decl.description = Some(text.into());
        self
    }

    /// `Label`: the name shown in a console form.
    pub fn label(mut self, text: impl Into<Text>) -> Self {
        self.decl.label = Some(text.into());
        self
    }

    /// `ConstraintDescription`: shown when a constraint is violated.
    pub fn constraint_description(mut self, text: impl Into<Text>) -> Self {
        self.decl.constraint_description = Some(text.into());
        self
    }

    /// Any other key, written as given (`AssociationProperty`, `Confirm`, ...).
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.decl.extra.insert(key.into(), value.into());
        self
    }

    /// The declaration as built so far.
    pub fn decl(&self) -> &ParameterDecl {
        &self.decl
    }

    pub(crate) fn into_parts(self) -> (ParameterDecl, Vec<ParamError>) {
        (self.decl, self.problems)
    }

    fn number_value(&mut self, key: &'static str, value: f64) -> Option<Value> {
        let written = number(value);
        if written.is_none() {
            self.problems.push(ParamError::NotFinite { key });
        }
        written
    }
}

/// A finite float as JSON, integral values as integers (so `10.0` is written `10`, as a
/// template author writes it); `None` for `NaN` and infinities.
fn number(value: f64) -> Option<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
    if value.is_finite() && value.fract() == 0.0 && value.abs() < EXACT {
        // In range and integral, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Some(Value::from(value as i64));
    }
    serde_json::Number::from_f64(value).map(Value::Number)
}

impl Param<String> {
    /// A `String` parameter.
    pub fn string() -> Self {
        Param::typed(ParamType::String)
    }

    /// `Default`.
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.decl.default = Some(Value::String(value.into()));
        self
    }

    /// `AllowedValues`.
    pub fn allowed_values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.decl.allowed_values = Some(
            values
                .into_iter()
                .map(|v| Value::String(v.into()))
                .collect(),
        );
        self
    }

    /// `AllowedPattern`: a regular expression (Python `re` syntax) the whole value must
    /// match. Called again, adds another pattern the value must match too (a template with
    /// several patterns on one parameter is not ROS-shaped: see
    /// [`ParameterDecl::allowed_patterns`](crate::model::ParameterDecl::allowed_patterns)).
    pub fn allowed_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.decl
            .allowed_patterns
            .push(crate::model::AllowedPattern::new(pattern));
        self
    }

    /// `MinLength`.
    pub fn min_length(mut self, length: u64) -> Self {
        self.decl.min_length = Some(length.into());
        self
    }

    /// `MaxLength`.
    pub fn max_length(mut self, length: u64) -> Self {
        self.decl.max_length = Some(length.into());
        self
    }
}

impl Param<f64> {
    /// A `Number` parameter read as a float (see [`Param::integer`] for whole numbers).
    pub fn number() -> Self {
        Param::typed(ParamType::Number)
    }

    /// `Default` (an integral value is written as an integer).
    pub fn default(mut self, value: impl Into<f64>) -> Self {
        self.decl.default = self.number_value("Default", value.into());
        self
    }

    /// `AllowedValues`.
    pub fn allowed_values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<f64>,
    {
        let values = values
            .into_iter()
            .filter_map(|v| self.number_value("AllowedValues", v.into()))
            .collect();
        self.decl.allowed_values = Some(values);
        self
    }

    /// `MinValue`.
    pub fn min_value(mut self, value: impl Into<f64>) -> Self {
        self.decl.min_value = self.number_value("MinValue", value.into());
        self
    }

    /// `MaxValue`.
    pub fn max_value(mut self, value: impl Into<f64>) -> Self {
        self.decl.max_value = self.number_value("MaxValue", value.into());
        self
    }
}

impl Param<i64> {
    /// A `Number` parameter holding whole numbers.
    pub fn integer() -> Self {
        Param::typed(ParamType::Number)
    }

    /// `Default`.
    pub fn default(mut self, value: i64) -> Self {
        self.decl.default = Some(value.into());
        self
    }

    /// `AllowedValues`.
    pub fn allowed_values(mut self, values: impl IntoIterator<Item = i64>) -> Self {
        self.decl.allowed_values = Some(values.into_iter().map(Value::from).collect());
        self
    }

    /// `MinValue`.
    pub fn min_value(mut self, value: i64) -> Self {
        self.decl.min_value = Some(value.into());
        self
    }

    /// `MaxValue`.
    pub fn max_value(mut self, value: i64) -> Self {
        self.decl.max_value = Some(value.into());
        self
    }
}

impl Param<Vec<String>> {
    /// A `CommaDelimitedList` parameter: `"a,b,c"` is the list `["a", "b", "c"]`.
    pub fn comma_delimited_list() -> Self {
        Param::typed(ParamType::CommaDelimitedList)
    }

    /// `Default`, written as one comma-delimited string; an item holding a comma is
    /// reported.
    pub fn default<I>(mut self, items: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let items = self.list_items("Default", items);
        self.decl.default = Some(Value::String(items.join(",")));
        self
    }

    /// `AllowedValues`: the values each item may take.
    pub fn allowed_values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let values = self.list_items("AllowedValues", values);
        self.decl.allowed_values = Some(values.into_iter().map(Value::String).collect());
        self
    }

    fn list_items<I>(&mut self, key: &'static str, items: I) -> Vec<String>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let items: Vec<String> = items.into_iter().map(Into::into).collect();
        for (index, item) in items.iter().enumerate() {
            if item.contains(',') {
                self.problems.push(ParamError::CommaInItem { key, index });
            }
        }
        items
    }
}

impl Param<Value> {
    /// A `Json` parameter: any JSON value.
    pub fn json() -> Self {
        Param::typed(ParamType::Json)
    }

    /// `Default`.
    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.decl.default = Some(value.into());
        self
    }

    /// `AllowedValues`.
    pub fn allowed_values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Value>,
    {
        self.decl.allowed_values = Some(values.into_iter().map(Into::into).collect());
        self
    }
}

impl Param<bool> {
    /// A `Boolean` parameter.
    pub fn boolean() -> Self {
        Param::typed(ParamType::Boolean)
    }

    /// `Default`.
    pub fn default(mut self, value: bool) -> Self {
        self.decl.default = Some(Value::Bool(value));
        self
    }
}

/// Prints the declaration, with `Default` and `AllowedValues` redacted under `NoEcho`.
impl<T> fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut decl = self.decl.clone();
        if decl.is_secret() {
            let redacted = Value::String(crate::secret::Secret::REDACTED.to_owned());
            decl.default = decl.default.map(|_| redacted.clone());
            decl.allowed_values = decl.allowed_values.map(|_| vec![redacted]);
        }
        f.debug_struct("Param")
            .field("decl", &decl)
            .field("problems", &self.problems)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_are_written_as_integers() {
        assert_eq!(number(10.0), Some(json!(10)));
        assert_eq!(number(-3.0), Some(json!(-3)));
        assert_eq!(number(0.5), Some(json!(0.5)));
        assert_eq!(number(1e300), Some(json!(1e300)));
        assert_eq!(number(f64::NAN), None);
        assert_eq!(number(f64::INFINITY), None);
    }

    #[test]
    fn no_echo_values_are_redacted_in_debug() {
        let p = Param::string()
            .default("hunter2")
            .allowed_values(["hunter2"])
            .no_echo();
        let printed = format!("{p:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("***"));
    }
}
