//! Finding references inside expressions: the one walk that both the dependency graph and
//! template validation use, so the two can never disagree about what a reference is.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::expr::{Expr, ExprMap, SubPart, parse_sub};

/// What kind of construct a [`Reference`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefKind {
    /// `{"Ref": name}`: a resource, a parameter or a pseudo parameter.
    Ref,
    /// `{"Fn::GetAtt": [resource, attribute]}`: always a resource.
    GetAtt,
    /// A `${Name}` or `${Resource.Attribute}` variable of an `Fn::Sub` text.
    Sub,
    /// A condition name: `{"Condition": name}` or the first argument of `Fn::If`.
    Condition,
}

impl RefKind {
    /// How the construct is written in a template (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Condition`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RefKind::Ref => "Ref",
            RefKind::GetAtt => "Fn::GetAtt",
            RefKind::Sub => "Fn::Sub",
            RefKind::Condition => "Condition",
        }
    }
}

/// One reference found in an expression, with the JSON path where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// JSON path of the object that holds the reference (the `{"Ref": ...}` object, the
    /// `Fn::Sub` call, or the condition name), relative to where the walk started.
    pub path: String,
    /// What kind of construct holds the reference.
    pub kind: RefKind,
    /// The name referred to: a logical id, a parameter, a pseudo parameter or a condition.
    pub name: String,
    /// The attribute, for `Fn::GetAtt` and `${Resource.Attribute}`.
    pub attribute: Option<String>,
}

impl Reference {
    /// True when only a resource can satisfy the reference (`Fn::GetAtt`, or a Sub variable
    /// with an attribute).
    pub fn requires_resource(&self) -> bool {
        self.kind == RefKind::GetAtt || self.attribute.is_some()
    }
}

/// Every reference inside `expr`, in document order, with paths relative to `expr`
/// (`"VpcId"`, `"SecurityGroupIds[0]"`, `"Fn::If[0]"`; the empty string is `expr` itself).
///
/// `Fn::Sub` variables that are defined by the call's own variable map (`[text, {vars}]`)
/// are local and are not references.
pub fn references(expr: &Expr) -> Vec<Reference> {
    references_at(expr, "")
}

/// Like [`references`], with every path prefixed by `base` (for example
/// `Resources.Vm.Properties`).
pub fn references_at(expr: &Expr, base: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(expr, &mut path, &mut |segs, found| {
        if let Found::Reference {
            kind,
            name,
            attribute,
        } = found
        {
            out.push(Reference {
                path: render_path(base, segs),
                kind,
                name: name.into_owned(),
                attribute: attribute.map(Cow::into_owned),
            });
        }
    });
    out
}

/// Every reference of a property map (a resource's `Properties`), paths prefixed by `base`.
pub fn map_references_at(map: &ExprMap, base: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    for (key, value) in map {
        out.extend(references_at(value, &join_key(base, key)));
    }
    out
}

/// One step of a JSON path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    /// An object key.
    Key(&'a str),
    /// A list index.
    Index(usize),
}

/// What the walk reports.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    /// A reference (see [`Reference`]).
    Reference {
        kind: RefKind,
        name: Cow<'a, str>,
        attribute: Option<Cow<'a, str>>,
    },
    /// A function call, reported before its arguments are walked, so that validation can
    /// check the function's name and shape.
    Call { function: &'a str, args: &'a Expr },
    /// An `Fn::Sub` text that cannot be parsed.
    BadSub { message: String },
}

/// Walks `expr` depth first, calling `f` with the path (as segments) and each finding.
///
/// The path is kept as borrowed segments, so a walk that does not render paths allocates
/// nothing but the Sub variable names.
pub(crate) fn walk<'a>(
    expr: &'a Expr,
    path: &mut Vec<Seg<'a>>,
    f: &mut dyn FnMut(&[Seg<'a>], Found<'a>),
) {
    match expr {
        Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => {}
        Expr::List(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, f);
                path.pop();
            }
        }
        Expr::Map(map) => walk_map(map, path, f),
        Expr::Ref(name) => f(
            path,
            Found::Reference {
                kind: RefKind::Ref,
                name: Cow::Borrowed(name),
                attribute: None,
            },
        ),
        Expr::GetAtt {
            resource,
            attribute,
        } => f(
            path,
            Found::Reference {
                kind: RefKind::GetAtt,
                name: Cow::Borrowed(resource),
                attribute: Some(Cow::Borrowed(attribute)),
            },
        ),
        Expr::Call { function, args } => walk_call(function, args, path, f),
    }
}

/// Walks every value of a map, each under its key.
pub(crate) fn walk_map<'a>(
    map: &'a ExprMap,
    path: &mut Vec<Seg<'a>>,
    f: &mut dyn FnMut(&[Seg<'a>], Found<'a>),
) {
    for (key, value) in map {
        path.push(Seg::Key(key));
        walk(value, path, f);
        path.pop();
    }
}

fn walk_call<'a>(
    function: &'a str,
    args: &'a Expr,
    path: &mut Vec<Seg<'a>>,
    f: &mut dyn FnMut(&[Seg<'a>], Found<'a>),
) {
    f(path, Found::Call { function, args });
    match (function, args) {
        ("Condition", Expr::String(name)) => {
            f(
                path,
                Found::Reference {
                    kind: RefKind::Condition,
                    name: Cow::Borrowed(name),
                    attribute: None,
                },
            );
            return;
        }
        ("Fn::If", Expr::List(items)) => {
            if let Some(Expr::String(name)) = items.first() {
                path.push(Seg::Key(function));
                path.push(Seg::Index(0));
                f(
                    path,
                    Found::Reference {
                        kind: RefKind::Condition,
                        name: Cow::Borrowed(name),
                        attribute: None,
                    },
                );
                path.pop();
                path.pop();
            }
        }
        // `Expr::call("Ref", ..)` built in Rust rather than read from JSON.
        ("Ref", Expr::String(name)) => {
            f(
                path,
                Found::Reference {
                    kind: RefKind::Ref,
                    name: Cow::Borrowed(name),
                    attribute: None,
                },
            );
            return;
        }
        // Also a malformed `Fn::GetAtt` whose first element still names a resource: the
        // dependency is real even though validation rejects the call's shape.
        ("Fn::GetAtt", Expr::List(items)) => {
            if let Some(Expr::String(name)) = items.first() {
                // `[resource, attribute, path...]` (HOT `get_attr`) names the attribute too.
                let attribute = match items.as_slice() {
                    [_, Expr::String(attribute), ..] => Some(Cow::Borrowed(attribute.as_str())),
                    _ => None,
                };
                f(
                    path,
                    Found::Reference {
                        kind: RefKind::GetAtt,
                        name: Cow::Borrowed(name),
                        attribute,
                    },
                );
            }
        }
        ("Fn::GetAtt", Expr::String(dotted)) => {
            if let Some((name, attribute)) = dotted.split_once('.') {
                f(
                    path,
                    Found::Reference {
                        kind: RefKind::GetAtt,
                        name: Cow::Borrowed(name),
                        attribute: Some(Cow::Borrowed(attribute)),
                    },
                );
            }
        }
        ("Fn::Sub", Expr::String(text)) => sub_references(text, None, path, f),
        ("Fn::Sub", Expr::List(items)) => {
            if let [Expr::String(text), rest @ ..] = items.as_slice() {
                let locals = match rest.first() {
                    Some(Expr::Map(vars)) => Some(vars),
                    _ => None,
                };
                sub_references(text, locals, path, f);
            }
        }
        _ => {}
    }
    path.push(Seg::Key(function));
    walk(args, path, f);
    path.pop();
}

fn sub_references<'a>(
    text: &'a str,
    locals: Option<&'a ExprMap>,
    path: &mut [Seg<'a>],
    f: &mut dyn FnMut(&[Seg<'a>], Found<'a>),
) {
    let parts = match parse_sub(text) {
        Ok(parts) => parts,
        Err(message) => {
            f(path, Found::BadSub { message });
            return;
        }
    };
    for part in parts {
        let SubPart::Var(var) = part else { continue };
        if locals.is_some_and(|vars| vars.contains_key(&var)) {
            continue;
        }
        let (name, attribute) = match var.split_once('.') {
            Some((name, attribute)) => (name.to_owned(), Some(Cow::Owned(attribute.to_owned()))),
            None => (var, None),
        };
        f(
            path,
            Found::Reference {
                kind: RefKind::Sub,
                name: Cow::Owned(name),
                attribute,
            },
        );
    }
}

/// True when a key can be written after a dot in a path without ambiguity.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| !matches!(c, '.' | '[' | ']' | '"' | '\'') && !c.is_whitespace())
}

/// Appends one key to a path string: `.Key`, or `["odd.key"]` for keys with dots, spaces
/// or brackets (for example Terraform-style logical ids like `alicloud_vpc.main`).
pub(crate) fn push_key(out: &mut String, key: &str) {
    if is_plain_key(key) {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        // A JSON string literal is an unambiguous way to quote any key.
        let quoted = serde_json::Value::String(key.to_owned()).to_string();
        let _ = write!(out, "[{quoted}]");
    }
}

/// `base` followed by `key`, as [`push_key`] writes it.
pub(crate) fn join_key(base: &str, key: &str) -> String {
    let mut out = base.to_owned();
    push_key(&mut out, key);
    out
}

/// Renders a path from a base and segments.
pub(crate) fn render_path(base: &str, segs: &[Seg<'_>]) -> String {
    let mut out = base.to_owned();
    for seg in segs {
        match seg {
            Seg::Key(key) => push_key(&mut out, key),
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refs(value: serde_json::Value) -> Vec<(String, RefKind, String, Option<String>)> {
        references(&Expr::from_json(value))
            .into_iter()
            .map(|r| (r.path, r.kind, r.name, r.attribute))
            .collect()
    }

    #[test]
    fn finds_every_kind_with_its_path() {
        let found = refs(json!({
            "VpcId": {"Ref": "Vpc"},
            "Ids": [{"Fn::GetAtt": ["Sg", "SecurityGroupId"]}],
            "UserData": {"Fn::Join": ["", ["a", {"Ref": "ALIYUN::Region"}]]},
            "Name": {"Fn::If": ["IsProd", {"Ref": "ProdName"}, "dev"]},
            "Flag": {"Condition": "IsProd"},
        }));
        assert_eq!(
            found,
            vec![
                ("VpcId".into(), RefKind::Ref, "Vpc".into(), None),
                (
                    "Ids[0]".into(),
                    RefKind::GetAtt,
                    "Sg".into(),
                    Some("SecurityGroupId".into())
                ),
                (
                    "UserData.Fn::Join[1][1]".into(),
                    RefKind::Ref,
                    "ALIYUN::Region".into(),
                    None
                ),
                (
                    "Name.Fn::If[0]".into(),
                    RefKind::Condition,
                    "IsProd".into(),
                    None
                ),
                (
                    "Name.Fn::If[1]".into(),
                    RefKind::Ref,
                    "ProdName".into(),
                    None
                ),
                ("Flag".into(), RefKind::Condition, "IsProd".into(), None),
            ]
        );
    }

    #[test]
    fn sub_variables_skip_locals_and_escapes() {
        let found = refs(json!({
            "A": {"Fn::Sub": "${Vm.PrivateIp}:${Port} ${!Literal}"},
            "B": {"Fn::Sub": ["${Local} ${Param}", {"Local": {"Ref": "Other"}}]},
        }));
        assert_eq!(
            found,
            vec![
                (
                    "A".into(),
                    RefKind::Sub,
                    "Vm".into(),
                    Some("PrivateIp".into())
                ),
                ("A".into(), RefKind::Sub, "Port".into(), None),
                ("B".into(), RefKind::Sub, "Param".into(), None),
                (
                    "B.Fn::Sub[1].Local".into(),
                    RefKind::Ref,
                    "Other".into(),
                    None
                ),
            ]
        );
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let found = references_at(
            &Expr::from_json(json!({"x.y": [{"Ref": "A"}]})),
            "Resources",
        );
        assert_eq!(found[0].path, r#"Resources["x.y"][0]"#);
        assert_eq!(join_key("", "Resources"), "Resources");
        assert_eq!(join_key("Resources", "a b"), r#"Resources["a b"]"#);
    }

    #[test]
    fn malformed_get_att_still_names_its_resource() {
        let found = refs(json!({"A": {"Fn::GetAtt": ["Vm", {"Ref": "AttrName"}]}}));
        assert_eq!(
            found,
            vec![
                ("A".into(), RefKind::GetAtt, "Vm".into(), None),
                (
                    "A.Fn::GetAtt[1]".into(),
                    RefKind::Ref,
                    "AttrName".into(),
                    None
                ),
            ]
        );
        let r = &references(&Expr::get_att("Vm", "Ip"))[0];
        assert!(r.requires_resource());
    }

    #[test]
    fn calls_built_in_rust_read_like_parsed_ones() {
        let built = Expr::List(vec![
            Expr::call("Ref", Expr::from("Vpc")),
            Expr::call("Fn::GetAtt", Expr::from(vec!["Vm", "Ip"])),
            Expr::call("Fn::GetAtt", Expr::from("Vm.Ip")),
        ]);
        let parsed = Expr::from_json(json!([
            {"Ref": "Vpc"},
            {"Fn::GetAtt": ["Vm", "Ip"]},
            {"Fn::GetAtt": ["Vm", "Ip"]},
        ]));
        assert_eq!(references(&built), references(&parsed));
    }
}
