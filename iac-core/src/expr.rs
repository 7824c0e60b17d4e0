//! Property expressions: JSON values that may hold intrinsic functions.
//!
//! An [`Expr`] maps one to one onto the ROS / CloudFormation JSON shape: `{"Ref": "Vpc"}`
//! is [`Expr::Ref`], `{"Fn::GetAtt": ["Vpc", "VpcId"]}` is [`Expr::GetAtt`], and every other
//! single-key object whose key starts with `Fn::` (or is `Condition`) is an
//! [`Expr::Call`]. Reading never fails: a malformed call (`{"Ref": 3}`) is kept as a call
//! and reported, with its JSON path, by template validation. Writing gives back the same
//! JSON, so import and export are serialization, not translation.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An ordered map of names to expressions (the `Properties` of a resource, a JSON object).
pub type ExprMap = IndexMap<String, Expr>;

/// A property value: plain JSON, or an intrinsic function to evaluate.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Expr {
    /// JSON `null`.
    #[default]
    Null,
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string.
    String(String),
    /// A JSON array of expressions.
    List(Vec<Expr>),
    /// A JSON object of expressions.
    Map(ExprMap),
    /// `{"Ref": name}`: a parameter, a pseudo parameter or a resource's physical id.
    Ref(String),
    /// `{"Fn::GetAtt": [resource, attribute]}`: an attribute of a resource.
    GetAtt {
        /// Logical id of the resource.
        resource: String,
        /// Name of the attribute (`VpcId`, `PrivateIp`, ...).
        attribute: String,
    },
    /// Any other intrinsic function: `{"Fn::Join": [...]}`, `{"Condition": "IsProd"}`, ...
    Call {
        /// The function's key as written (`Fn::Join`, `Condition`).
        function: String,
        /// Its argument, as written.
        args: Box<Expr>,
    },
}

impl Expr {
    /// Builds `{"Ref": name}`.
    pub fn reference(name: impl Into<String>) -> Self {
        Expr::Ref(name.into())
    }

    /// Builds `{"Fn::GetAtt": [resource, attribute]}`.
    pub fn get_att(resource: impl Into<String>, attribute: impl Into<String>) -> Self {
        Expr::GetAtt {
            resource: resource.into(),
            attribute: attribute.into(),
        }
    }

    /// Builds `{function: args}`, for example `Expr::call("Fn::Join", ...)`.
    pub fn call(function: impl Into<String>, args: Expr) -> Self {
        Expr::Call {
            function: function.into(),
            args: Box::new(args),
        }
    }

    /// Builds `{"Fn::Join": [delimiter, parts]}`.
    pub fn join(delimiter: impl Into<String>, parts: Vec<Expr>) -> Self {
        Expr::call(
            "Fn::Join",
            Expr::List(vec![Expr::String(delimiter.into()), Expr::List(parts)]),
        )
    }

    /// Builds `{"Fn::Sub": text}`.
    pub fn sub(text: impl Into<String>) -> Self {
        Expr::call("Fn::Sub", Expr::String(text.into()))
    }

    /// True when the expression holds no function anywhere (it is plain JSON).
    pub fn is_literal(&self) -> bool {
        match self {
            Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => true,
            Expr::List(items) => items.iter().all(Expr::is_literal),
            Expr::Map(map) => map.values().all(Expr::is_literal),
            Expr::Ref(_) | Expr::GetAtt { .. } | Expr::Call { .. } => false,
        }
    }

    /// Reads an expression from JSON (never fails; see the module docs).
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Null => Expr::Null,
            Value::Bool(b) => Expr::Bool(b),
            Value::Number(n) => Expr::Number(n),
            Value::String(s) => Expr::String(s),
            Value::Array(items) => Expr::List(items.into_iter().map(Expr::from_json).collect()),
            Value::Object(map) => {
                if map.len() == 1 {
                    let (key, arg) = map.into_iter().next().expect("one entry");
                    return Expr::from_single_key(key, arg);
                }
                Expr::Map(
                    map.into_iter()
                        .map(|(k, v)| (k, Expr::from_json(v)))
                        .collect(),
                )
            }
        }
    }

    fn from_single_key(key: String, arg: Value) -> Self {
        match (key.as_str(), arg) {
            ("Ref", Value::String(name)) => Expr::Ref(name),
            ("Fn::GetAtt", Value::Array(parts))
                if parts.len() == 2 && parts.iter().all(Value::is_string) =>
            {
                let mut it = parts.into_iter().map(|p| match p {
                    Value::String(s) => s,
                    _ => unreachable!("checked above"),
                });
                let resource = it.next().expect("two parts");
                let attribute = it.next().expect("two parts");
                Expr::GetAtt {
                    resource,
                    attribute,
                }
            }
            ("Fn::GetAtt", Value::String(dotted)) if dotted.contains('.') => {
                let (resource, attribute) = dotted.split_once('.').expect("contains a dot");
                Expr::get_att(resource, attribute)
            }
            (k, arg) if is_function_key(k) => Expr::call(key, Expr::from_json(arg)),
            (_, arg) => {
                let mut map = ExprMap::new();
                map.insert(key, Expr::from_json(arg));
                Expr::Map(map)
            }
        }
    }

    /// Writes the expression back to its JSON shape.
    pub fn to_json(&self) -> Value {
        match self {
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Number(n) => Value::Number(n.clone()),
            Expr::String(s) => Value::String(s.clone()),
            Expr::List(items) => Value::Array(items.iter().map(Expr::to_json).collect()),
            Expr::Map(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Expr::Ref(name) => single("Ref", Value::String(name.clone())),
            Expr::GetAtt {
                resource,
                attribute,
            } => single(
                "Fn::GetAtt",
                Value::Array(vec![
                    Value::String(resource.clone()),
                    Value::String(attribute.clone()),
                ]),
            ),
            Expr::Call { function, args } => single(function, args.to_json()),
        }
    }
}

/// True for the keys that make a single-key object a function call.
pub fn is_function_key(key: &str) -> bool {
    key == "Ref" || key == "Condition" || key.starts_with("Fn::")
}

fn single(key: &str, value: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Expr::from_json)
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::String(s.to_owned())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::String(s)
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Expr::Bool(b)
    }
}

impl From<i64> for Expr {
    fn from(n: i64) -> Self {
        Expr::Number(n.into())
    }
}

impl From<u32> for Expr {
    fn from(n: u32) -> Self {
        Expr::Number(n.into())
    }
}

impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        Expr::from_json(v)
    }
}

impl<T: Into<Expr>> From<Vec<T>> for Expr {
    fn from(items: Vec<T>) -> Self {
        Expr::List(items.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_the_vendor_shape() {
        let src = json!({
            "A": {"Ref": "P"},
            "B": {"Fn::GetAtt": ["Vpc", "VpcId"]},
            "C": {"Fn::Join": ["-", ["a", {"Ref": "ALIYUN::Region"}]]},
            "D": {"Fn::Select": [0, [1, 2]]},
            "E": {"Plain": true},
        });
        let expr = Expr::from_json(src.clone());
        let Expr::Map(map) = &expr else {
            panic!("a map")
        };
        assert_eq!(map["A"], Expr::reference("P"));
        assert_eq!(map["B"], Expr::get_att("Vpc", "VpcId"));
        assert!(matches!(&map["C"], Expr::Call { function, .. } if function == "Fn::Join"));
        assert!(matches!(&map["E"], Expr::Map(_)));
        assert_eq!(expr.to_json(), src);
    }

    #[test]
    fn malformed_calls_are_kept_for_validation() {
        let expr = Expr::from_json(json!({"Ref": 3}));
        assert_eq!(expr, Expr::call("Ref", Expr::Number(3.into())));
        assert_eq!(expr.to_json(), json!({"Ref": 3}));
    }

    #[test]
    fn dotted_get_att_is_read() {
        assert_eq!(
            Expr::from_json(json!({"Fn::GetAtt": "Vm.PrivateIp"})),
            Expr::get_att("Vm", "PrivateIp")
        );
    }

    #[test]
    fn literal_detection() {
        assert!(Expr::from_json(json!({"a": [1, "x", null]})).is_literal());
        assert!(!Expr::from_json(json!({"a": [{"Ref": "P"}]})).is_literal());
    }
}

/// A piece of an `Fn::Sub` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubPart {
    /// Text copied as is (`${!Literal}` has become `${Literal}` here).
    Literal(String),
    /// `${Name}` (a parameter, pseudo parameter, resource or variable) or `${Res.Attr}`.
    Var(String),
}

/// Splits an `Fn::Sub` text into literal text and `${...}` variables.
///
/// `${!Name}` is the escape for a literal `${Name}`. An unclosed `${` is an error that
/// names the byte offset where it starts.
pub fn parse_sub(text: &str) -> Result<Vec<SubPart>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed '${{' at offset {}", offset + start));
        };
        let name = &after[..end];
        if let Some(escaped) = name.strip_prefix('!') {
            literal.push_str("${");
            literal.push_str(escaped);
            literal.push('}');
        } else {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("empty '${{}}' at offset {}", offset + start));
            }
            if !literal.is_empty() {
                parts.push(SubPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(SubPart::Var(name.to_owned()));
        }
        let consumed = start + 2 + end + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SubPart::Literal(literal));
    }
    Ok(parts)
}

#[cfg(test)]
mod sub_tests {
    use super::*;

    #[test]
    fn splits_variables_and_escapes() {
        assert_eq!(
            parse_sub("a ${P} b ${Vm.PrivateIp}${!Lit} c").unwrap(),
            vec![
                SubPart::Literal("a ".into()),
                SubPart::Var("P".into()),
                SubPart::Literal(" b ".into()),
                SubPart::Var("Vm.PrivateIp".into()),
                SubPart::Literal("${Lit} c".into()),
            ]
        );
        assert_eq!(parse_sub("").unwrap(), vec![]);
        assert_eq!(
            parse_sub("x ${ALIYUN::Region}").unwrap()[1],
            SubPart::Var("ALIYUN::Region".into())
        );
    }

    #[test]
    fn reports_unclosed_variables() {
        assert_eq!(
            parse_sub("ab ${P").unwrap_err(),
            "unclosed '${' at offset 3"
        );
        assert!(parse_sub("${}").is_err());
    }
}
