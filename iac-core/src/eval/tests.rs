use super::*;
use crate::model::Template;
use serde_json::json;

/// Resources for tests: `Vpc` and the fixtures' groups exist, `Vm` and `WebServer` are being
/// planned (their values are unknown apart from `WebServer.InstanceIds`).
struct FakeResources;

impl ResourceLookup for FakeResources {
    fn physical_id(&self, logical_id: &str) -> Lookup {
        match logical_id {
            "Vpc" => Lookup::Known(json!("vpc-123")),
            "LoadBalancer" => Lookup::Known(json!("lb-1")),
            "BackendServer1" | "BackendServer2" => Lookup::Known(json!("ig")),
            "Vm" | "WaitCondition" | "WebServer" => Lookup::Unknown,
            _ => Lookup::Missing,
        }
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Lookup {
        match (logical_id, attribute) {
            ("Vpc", "VpcId") => Lookup::Known(json!("vpc-123")),
            ("Vpc", "Cidr") => Lookup::Known(json!("10.0.0.0/8")),
            ("BackendServer1" | "WebServer", "InstanceIds") => Lookup::Known(json!(["i-1", "i-2"])),
            ("BackendServer2", "InstanceIds") => Lookup::Known(json!(["i-3"])),
            ("Vm", "PrivateIp") | ("WaitCondition", "Data") | ("WebServer", _) => Lookup::Unknown,
            _ => Lookup::Missing,
        }
    }
}

struct Fixture {
    params: ParamValues,
    pseudo: IndexMap<String, Value>,
    mappings: Mappings,
    conditions: IndexMap<String, bool>,
}

impl Fixture {
    fn new() -> Self {
        let params = ParamValues::from_resolved(
            IndexMap::from([
                ("Env".to_owned(), json!("prod")),
                ("Count".to_owned(), json!(3)),
                ("Zones".to_owned(), json!(["a", "b", "c"])),
                ("Config".to_owned(), json!({"k": "v"})),
                ("Password".to_owned(), json!("hunter2")),
                ("Empty".to_owned(), Value::Null),
            ]),
            ["Password"],
        );
        let pseudo = IndexMap::from([
            ("ALIYUN::StackName".to_owned(), json!("demo")),
            ("ALIYUN::Region".to_owned(), json!("cn-hangzhou")),
        ]);
        let mappings: Mappings = serde_json::from_value(json!({
            "RegionMap": {
                "cn-hangzhou": {"32": "m-32", "64": "m-64"},
                "cn-beijing": {"32": "m-b32", "64": "m-b64"}
            }
        }))
        .unwrap();
        let conditions = IndexMap::from([("IsProd".to_owned(), true), ("IsDev".to_owned(), false)]);
        Fixture {
            params,
            pseudo,
            mappings,
            conditions,
        }
    }

    fn ctx(&self) -> EvalContext<'_> {
        EvalContext::new(
            &self.params,
            &self.pseudo,
            &self.mappings,
            &self.conditions,
            &FakeResources,
        )
    }

    fn eval(&self, json: Value) -> Result<Option<Value>, EvalError> {
        evaluate(&Expr::from_json(json), &self.ctx(), "P")
    }
}

/// Evaluates `json` at path `P` in the standard fixture; expects a value.
fn ok(json: Value) -> Value {
    let fixture = Fixture::new();
    match fixture.eval(json.clone()) {
        Ok(Some(v)) => v,
        other => panic!("{json} evaluated to {other:?}"),
    }
}

/// Evaluates `json` at path `P`; expects an error.
fn err(json: Value) -> EvalError {
    let fixture = Fixture::new();
    match fixture.eval(json.clone()) {
        Err(e) => e,
        Ok(v) => panic!("{json} evaluated to {v:?}, expected an error"),
    }
}

fn err_text(json: Value) -> String {
    err(json).to_string()
}

/// Keeps snapshots in `src/snapshots/` next to the other modules' ones.
fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings
}

fn fixture_template(name: &str) -> Template {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/templates/ros/alibabaclouddocs-ros-mit")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is readable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} parses: {e}"))
}

// ---- literals, NoValue and paths -------------------------------------------------------

#[test]
fn literals_evaluate_to_themselves() {
    let v = json!({"a": [1, "x", null, true, {"b": 2.5}]});
    assert_eq!(ok(v.clone()), v);
}

#[test]
fn no_value_removes_keys_and_items() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.eval(json!({"Ref": "ALIYUN::NoValue"})).unwrap(),
        None
    );
    assert_eq!(
        ok(json!({
            "Keep": 1,
            "Drop": {"Ref": "ALIYUN::NoValue"},
            "List": ["a", {"Ref": "ALIYUN::NoValue"}, "b"],
            "IfDrop": {"Fn::If": ["IsDev", "x", {"Ref": "ALIYUN::NoValue"}]},
        })),
        json!({"Keep": 1, "List": ["a", "b"]})
    );
    // Any `...::NoValue` works (front-ends for other clouds use their own prefix).
    assert_eq!(fixture.eval(json!({"Ref": "OS::NoValue"})).unwrap(), None);
    let props: ExprMap = serde_json::from_value(json!({
        "A": {"Ref": "Env"},
        "B": {"Ref": "ALIYUN::NoValue"},
    }))
    .unwrap();
    let map = evaluate_properties(&props, &fixture.ctx(), "Resources.X.Properties").unwrap();
    assert_eq!(Value::Object(map), json!({"A": "prod"}));
}

#[test]
fn errors_name_the_nested_path() {
    let fixture = Fixture::new();
    let props: ExprMap = serde_json::from_value(json!({
        "UserData": {"Fn::Join": ["", ["#!/bin/sh\n", {"Ref": "Nope"}]]},
    }))
    .unwrap();
    let e = evaluate_properties(&props, &fixture.ctx(), "Resources.Master.Properties").unwrap_err();
    assert_eq!(
        e.path(),
        "Resources.Master.Properties.UserData.Fn::Join[1][1]"
    );
    assert_eq!(
        e.to_string(),
        "Resources.Master.Properties.UserData.Fn::Join[1][1]: 'Nope' is not a parameter, \
         pseudo parameter or resource"
    );
    // The root path can be empty.
    let e = evaluate(
        &Expr::from_json(json!({"a": {"Ref": "Nope"}})),
        &fixture.ctx(),
        "",
    )
    .unwrap_err();
    assert_eq!(e.path(), "a");
}

// ---- Ref and Fn::GetAtt -----------------------------------------------------------------

#[test]
fn ref_resolves_parameters_pseudo_parameters_and_resources() {
    assert_eq!(ok(json!({"Ref": "Env"})), json!("prod"));
    assert_eq!(ok(json!({"Ref": "Count"})), json!(3));
    assert_eq!(ok(json!({"Ref": "ALIYUN::Region"})), json!("cn-hangzhou"));
    assert_eq!(ok(json!({"Ref": "Vpc"})), json!("vpc-123"));
    // An empty parameter (`Default: null`) is JSON null.
    assert_eq!(ok(json!({"Ref": "Empty"})), Value::Null);
    // A computed name is evaluated first.
    assert_eq!(
        ok(json!({"Ref": {"Fn::Join": ["", ["E", "nv"]]}})),
        json!("prod")
    );
}

#[test]
fn ref_errors() {
    assert_eq!(
        err(json!({"Ref": "Nope"})),
        EvalError::UndefinedReference {
            path: "P".into(),
            name: "Nope".into()
        }
    );
    assert_eq!(
        err_text(json!({"Ref": 3})),
        "P.Ref: Ref: expected a name, got a number"
    );
    assert_eq!(
        err(json!({"Ref": "Vm"})),
        EvalError::Unknown {
            resource: "Vm".into(),
            path: "P".into()
        }
    );
}

#[test]
fn get_att_resolves_attributes() {
    assert_eq!(
        ok(json!({"Fn::GetAtt": ["Vpc", "VpcId"]})),
        json!("vpc-123")
    );
    assert_eq!(ok(json!({"Fn::GetAtt": "Vpc.Cidr"})), json!("10.0.0.0/8"));
    assert_eq!(
        ok(json!({"Fn::GetAtt": [{"Fn::Join": ["", ["V", "pc"]]}, "VpcId"]})),
        json!("vpc-123")
    );
}

#[test]
fn get_att_errors() {
    assert_eq!(
        err_text(json!({"Fn::GetAtt": ["Nope", "Id"]})),
        "P: Fn::GetAtt refers to 'Nope', which is not a resource"
    );
    assert_eq!(
        err_text(json!({"Fn::GetAtt": ["Vpc", "Nope"]})),
        "P: resource 'Vpc' has no attribute 'Nope'"
    );
    assert_eq!(
        err_text(json!({"Fn::GetAtt": ["Vpc"]})),
        "P.Fn::GetAtt: Fn::GetAtt: expected [resource, attribute, path...] or \
         \"resource.attribute\", got a list of 1 item"
    );
    assert!(err(json!({"Fn::GetAtt": ["Vm", "PrivateIp"]})).is_unknown());
}

// ---- Unknown propagation ------------------------------------------------------------------

#[test]
fn unknown_values_propagate_through_functions() {
    for expr in [
        json!({"Fn::Join": [",", ["a", {"Fn::GetAtt": ["Vm", "PrivateIp"]}]]}),
        json!({"Fn::Sub": "ip=${Vm.PrivateIp}"}),
        json!({"Fn::Sub": "id=${Vm}"}),
        json!({"Fn::Base64Encode": {"Ref": "Vm"}}),
        json!({"Fn::Select": [0, [{"Ref": "Vm"}]]}),
        json!({"Fn::GetJsonValue": ["1", {"Fn::GetAtt": ["WaitCondition", "Data"]}]}),
        json!({"Fn::If": ["IsProd", {"Ref": "Vm"}, "x"]}),
        json!({"a": {"b": [{"Ref": "Vm"}]}}),
    ] {
        let e = err(expr.clone());
        assert!(e.is_unknown(), "{expr} gave {e}");
    }
    // Only the chosen branch of Fn::If is evaluated.
    assert_eq!(
        ok(json!({"Fn::If": ["IsDev", {"Ref": "Vm"}, "x"]})),
        json!("x")
    );
    // A user error wins over an unknown, wherever it stands.
    let e = err(json!([{"Ref": "Vm"}, {"Ref": "Nope"}]));
    assert!(matches!(e, EvalError::UndefinedReference { .. }), "{e}");
    assert_eq!(
        err(json!({"Fn::GetAtt": ["Vm", "PrivateIp"]})).to_string(),
        "P: depends on 'Vm', known only after apply"
    );
}

// ---- Fn::Join ---------------------------------------------------------------------------------

#[test]
fn join() {
    assert_eq!(
        ok(json!({"Fn::Join": ["-", ["a", 1, true, {"Ref": "Env"}, {"Ref": "Empty"}]]})),
        json!("a-1-true-prod-")
    );
    assert_eq!(ok(json!({"Fn::Join": [",", []]})), json!(""));
    assert_eq!(
        ok(json!({"Fn::Join": [",", {"Ref": "Zones"}]})),
        json!("a,b,c")
    );
}

#[test]
fn join_errors() {
    assert_eq!(
        err_text(json!({"Fn::Join": ["-"]})),
        "P.Fn::Join: Fn::Join: expected [delimiter, [values, ...]], got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Join": "abc"})),
        "P.Fn::Join: Fn::Join: expected [delimiter, [values, ...]], got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::Join": [1, ["a"]]})),
        "P.Fn::Join[0]: Fn::Join: expected the delimiter (a string), got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::Join": ["-", "a"]})),
        "P.Fn::Join[1]: Fn::Join: expected the list of values to join, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::Join": ["-", ["a", ["b"]]]})),
        "P.Fn::Join[1][1]: Fn::Join: can join only strings, numbers and booleans, got a list of 1 item"
    );
}

// ---- Fn::Sub ------------------------------------------------------------------------------------

#[test]
fn sub_string_form() {
    assert_eq!(
        ok(
            json!({"Fn::Sub": "${ALIYUN::StackName}-${Env}-${Count} in ${Vpc} ${Vpc.Cidr} ${!Literal}"})
        ),
        json!("demo-prod-3 in vpc-123 10.0.0.0/8 ${Literal}")
    );
    // Non-string values are written as JSON; null and NoValue as nothing.
    assert_eq!(
        ok(json!({"Fn::Sub": "${Zones}|${Config}|${Empty}|${ALIYUN::NoValue}|"})),
        json!(r#"["a","b","c"]|{"k":"v"}|||"#)
    );
    assert_eq!(
        ok(json!({"Fn::Sub": "no variables"})),
        json!("no variables")
    );
}

#[test]
fn sub_list_form() {
    assert_eq!(
        ok(json!({"Fn::Sub": [
            "${Name}.${Domain} in ${Env}",
            {"Name": "www", "Domain": {"Fn::Join": [".", ["example", "com"]]}}
        ]})),
        json!("www.example.com in prod")
    );
    // A local variable wins over a parameter of the same name.
    assert_eq!(
        ok(json!({"Fn::Sub": ["${Env}", {"Env": "local"}]})),
        json!("local")
    );
}

#[test]
fn sub_errors() {
    assert_eq!(
        err_text(json!({"Fn::Sub": "a ${Env"})),
        "P.Fn::Sub: Fn::Sub: cannot read the text: unclosed '${' at offset 2"
    );
    assert_eq!(
        err_text(json!({"Fn::Sub": ["${A}", "x"]})),
        "P.Fn::Sub[1]: Fn::Sub: expected a map of variables, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::Sub": [1, {}]})),
        "P.Fn::Sub[0]: Fn::Sub: expected the text (a string), got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::Sub": ["a", {}, "b"]})),
        "P.Fn::Sub: Fn::Sub: expected a text or [text, {variable: value, ...}], got a list of 3 items"
    );
    assert_eq!(
        err_text(json!({"Fn::Sub": "${Nope}"})),
        "P.Fn::Sub: 'Nope' is not a parameter, pseudo parameter or resource"
    );
    assert_eq!(
        err_text(json!({"Fn::Sub": "${Vpc.Nope}"})),
        "P.Fn::Sub: resource 'Vpc' has no attribute 'Nope'"
    );
}

// ---- Fn::Select ----------------------------------------------------------------------------------

#[test]
fn select_by_index() {
    let list = json!(["a", "b", "c", "d"]);
    assert_eq!(ok(json!({"Fn::Select": [0, list]})), json!("a"));
    assert_eq!(ok(json!({"Fn::Select": ["2", list]})), json!("c"));
    assert_eq!(ok(json!({"Fn::Select": [-1, list]})), json!("d"));
    assert_eq!(ok(json!({"Fn::Select": ["-4", list]})), json!("a"));
    // Out of range: the empty string, or the default when given.
    assert_eq!(ok(json!({"Fn::Select": [4, list]})), json!(""));
    assert_eq!(ok(json!({"Fn::Select": [-5, list]})), json!(""));
    assert_eq!(ok(json!({"Fn::Select": [9, list, "none"]})), json!("none"));
    assert_eq!(ok(json!({"Fn::Select": [1, {"Ref": "Zones"}]})), json!("b"));
}

#[test]
fn select_slices() {
    let list = json!([0, 1, 2, 3, 4, 5]);
    assert_eq!(ok(json!({"Fn::Select": ["1:3", list]})), json!([1, 2]));
    assert_eq!(ok(json!({"Fn::Select": [":2", list]})), json!([0, 1]));
    assert_eq!(ok(json!({"Fn::Select": ["4:", list]})), json!([4, 5]));
    assert_eq!(ok(json!({"Fn::Select": ["::2", list]})), json!([0, 2, 4]));
    assert_eq!(ok(json!({"Fn::Select": ["-2:", list]})), json!([4, 5]));
    assert_eq!(ok(json!({"Fn::Select": ["1:-1:2", list]})), json!([1, 3]));
    assert_eq!(ok(json!({"Fn::Select": ["::-2", list]})), json!([5, 3, 1]));
    assert_eq!(
        ok(json!({"Fn::Select": ["4:1:-1", list]})),
        json!([4, 3, 2])
    );
    assert_eq!(ok(json!({"Fn::Select": ["10:20", list]})), json!([]));
    assert_eq!(ok(json!({"Fn::Select": ["-100:1", list]})), json!([0]));
}

#[test]
fn select_by_key() {
    let map = json!({"a": 1, "2": "two"});
    assert_eq!(ok(json!({"Fn::Select": ["a", map]})), json!(1));
    assert_eq!(ok(json!({"Fn::Select": [2, map]})), json!("two"));
    assert_eq!(ok(json!({"Fn::Select": ["z", map]})), json!(""));
    assert_eq!(ok(json!({"Fn::Select": ["z", map, "dflt"]})), json!("dflt"));
}

#[test]
fn select_errors() {
    assert_eq!(
        err_text(json!({"Fn::Select": [0]})),
        "P.Fn::Select: Fn::Select: expected [index, list or map] or [index, list or map, default], \
         got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Select": ["x", [1]]})),
        "P.Fn::Select[0]: Fn::Select: expected an integer index or a start:stop[:step] slice, \
         got \"x\""
    );
    assert_eq!(
        err_text(json!({"Fn::Select": [1.5, [1]]})),
        "P.Fn::Select[0]: Fn::Select: expected an integer index or a start:stop[:step] slice, \
         got 1.5"
    );
    assert_eq!(
        err_text(json!({"Fn::Select": ["1:a", [1]]})),
        "P.Fn::Select[0]: Fn::Select: expected a slice start:stop[:step] of integers, got \"1:a\""
    );
    assert_eq!(
        err_text(json!({"Fn::Select": ["::0", [1]]})),
        "P.Fn::Select[0]: Fn::Select: the slice step is 0"
    );
    assert!(err_text(json!({"Fn::Select": ["1:2:3:4", [1]]})).contains("expected a slice"));
    assert_eq!(
        err_text(json!({"Fn::Select": [0, "abc"]})),
        "P.Fn::Select[1]: Fn::Select: expected a list or a map to select from, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::Select": [[0], {"a": 1}]})),
        "P.Fn::Select[0]: Fn::Select: expected a key (a string), got a list of 1 item"
    );
}

// ---- Fn::Split, Fn::Replace ----------------------------------------------------------------------

#[test]
fn split() {
    assert_eq!(
        ok(json!({"Fn::Split": [",", "a,b,,c"]})),
        json!(["a", "b", "", "c"])
    );
    assert_eq!(ok(json!({"Fn::Split": ["::", "x::y"]})), json!(["x", "y"]));
    assert_eq!(
        ok(json!({"Fn::Select": [1, {"Fn::Split": ["-", {"Ref": "ALIYUN::Region"}]}]})),
        json!("hangzhou")
    );
    assert_eq!(
        err_text(json!({"Fn::Split": ["", "abc"]})),
        "P.Fn::Split[0]: Fn::Split: the delimiter is empty"
    );
    assert_eq!(
        err_text(json!({"Fn::Split": [",", ["a"]]})),
        "P.Fn::Split[1]: Fn::Split: expected the text (a string), got a list of 1 item"
    );
    assert!(err_text(json!({"Fn::Split": [","]})).contains("expected [delimiter, text]"));
}

#[test]
fn replace() {
    assert_eq!(
        ok(json!({"Fn::Replace": [{"print": "echo", "$N": 3}, "print $N; print"]})),
        json!("echo 3; echo")
    );
    assert_eq!(
        err_text(json!({"Fn::Replace": [["a"], "text"]})),
        "P.Fn::Replace[0]: Fn::Replace: expected a map of find → replacement, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Replace": [{"a": ["b"]}, "text"]})),
        "P.Fn::Replace[0]: Fn::Replace: the replacement of 'a' must be a string, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Replace": [{"": "b"}, "text"]})),
        "P.Fn::Replace[0]: Fn::Replace: a text to find is empty"
    );
    assert!(err_text(json!({"Fn::Replace": [{"a": "b"}, 5]})).contains("expected the text"));
    assert!(err_text(json!({"Fn::Replace": [{"a": "b"}]})).contains("got a list of 1 item"));
}

// ---- Base64 -------------------------------------------------------------------------------------

#[test]
fn base64_round_trip() {
    assert_eq!(
        ok(json!({"Fn::Base64Encode": "hello, 世界"})),
        json!("aGVsbG8sIOS4lueVjA==")
    );
    assert_eq!(ok(json!({"Fn::Base64Encode": 42})), json!("NDI="));
    assert_eq!(
        ok(json!({"Fn::Base64Decode": "aGVsbG8sIOS4lueVjA=="})),
        json!("hello, 世界")
    );
    assert_eq!(
        ok(json!({"Fn::Base64Decode": {"Fn::Base64Encode": {"Ref": "Env"}}})),
        json!("prod")
    );
    // Line breaks in the encoded text are ignored.
    assert_eq!(
        ok(json!({"Fn::Base64Decode": "aGVs\nbG8="})),
        json!("hello")
    );
}

#[test]
fn base64_errors() {
    assert_eq!(
        err_text(json!({"Fn::Base64Encode": ["a"]})),
        "P.Fn::Base64Encode: Fn::Base64Encode: expected the text to encode (a string), got a list of 1 item"
    );
    assert!(
        err_text(json!({"Fn::Base64Decode": "!!!"}))
            .starts_with("P.Fn::Base64Decode: Fn::Base64Decode: the text is not valid Base64 (")
    );
    assert_eq!(
        err_text(json!({"Fn::Base64Decode": "//8="})),
        "P.Fn::Base64Decode: Fn::Base64Decode: the decoded bytes are not UTF-8 text"
    );
    assert!(err_text(json!({"Fn::Base64Decode": 5})).contains("got a number"));
}

// ---- Fn::FindInMap -----------------------------------------------------------------------------

#[test]
fn find_in_map() {
    assert_eq!(
        ok(json!({"Fn::FindInMap": ["RegionMap", {"Ref": "ALIYUN::Region"}, "32"]})),
        json!("m-32")
    );
    assert_eq!(
        ok(json!({"Fn::FindInMap": ["RegionMap", "cn-beijing", 64]})),
        json!("m-b64")
    );
}

#[test]
fn find_in_map_errors() {
    assert_eq!(
        err_text(json!({"Fn::FindInMap": ["Nope", "a", "b"]})),
        "P.Fn::FindInMap[0]: Fn::FindInMap: there is no mapping named 'Nope'"
    );
    assert_eq!(
        err_text(json!({"Fn::FindInMap": ["RegionMap", "mars", "32"]})),
        "P.Fn::FindInMap[1]: Fn::FindInMap: mapping 'RegionMap' has no key 'mars'"
    );
    assert_eq!(
        err_text(json!({"Fn::FindInMap": ["RegionMap", "cn-beijing", "16"]})),
        "P.Fn::FindInMap[2]: Fn::FindInMap: mapping 'RegionMap' has no key '16' under 'cn-beijing'"
    );
    assert_eq!(
        err_text(json!({"Fn::FindInMap": ["RegionMap", "cn-beijing"]})),
        "P.Fn::FindInMap: Fn::FindInMap: expected [mapping name, top-level key, second-level key], \
         got a list of 2 items"
    );
    assert_eq!(
        err_text(json!({"Fn::FindInMap": ["RegionMap", ["x"], "32"]})),
        "P.Fn::FindInMap[1]: Fn::FindInMap: expected the top-level key (a string), got a list of 1 item"
    );
}

// ---- conditions in expressions --------------------------------------------------------------

#[test]
fn if_chooses_a_branch() {
    assert_eq!(
        ok(json!({"Fn::If": ["IsProd", "big", "small"]})),
        json!("big")
    );
    assert_eq!(
        ok(json!({"Fn::If": ["IsDev", "big", "small"]})),
        json!("small")
    );
    // An inline condition expression also works.
    assert_eq!(
        ok(json!({"Fn::If": [{"Fn::Equals": [{"Ref": "Env"}, "prod"]}, 1, 2]})),
        json!(1)
    );
    // The branch not taken is not evaluated, errors and all.
    assert_eq!(
        ok(json!({"Fn::If": ["IsProd", 1, {"Ref": "Nope"}]})),
        json!(1)
    );
    let fixture = Fixture::new();
    assert_eq!(
        fixture
            .eval(json!({"Fn::If": ["IsProd", {"Ref": "ALIYUN::NoValue"}, 1]}))
            .unwrap(),
        None
    );
}

#[test]
fn if_errors() {
    assert_eq!(
        err_text(json!({"Fn::If": ["IsProd", 1]})),
        "P.Fn::If: Fn::If: expected [condition, value if true, value if false], got a list of 2 items"
    );
    assert_eq!(
        err_text(json!({"Fn::If": "IsProd"})),
        "P.Fn::If: Fn::If: expected [condition, value if true, value if false], got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::If": ["Nope", 1, 2]})),
        "P.Fn::If[0]: there is no condition named 'Nope'"
    );
    assert_eq!(
        err_text(json!({"Fn::If": [{"Ref": "Count"}, 1, 2]})),
        "P.Fn::If[0]: Fn::If: expected a condition (a name or a boolean expression), got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::If": ["IsProd", {"Ref": "Nope"}, 2]})),
        "P.Fn::If[1]: 'Nope' is not a parameter, pseudo parameter or resource"
    );
}

#[test]
fn equals_compares_loosely_for_scalars() {
    assert_eq!(
        ok(json!({"Fn::Equals": ["prod", {"Ref": "Env"}]})),
        json!(true)
    );
    assert_eq!(
        ok(json!({"Fn::Equals": ["dev", {"Ref": "Env"}]})),
        json!(false)
    );
    assert_eq!(
        ok(json!({"Fn::Equals": ["3", {"Ref": "Count"}]})),
        json!(true)
    );
    assert_eq!(ok(json!({"Fn::Equals": [3.0, 3]})), json!(true));
    assert_eq!(ok(json!({"Fn::Equals": ["True", true]})), json!(true));
    assert_eq!(ok(json!({"Fn::Equals": [["a"], ["a"]]})), json!(true));
    assert_eq!(ok(json!({"Fn::Equals": [["a"], "a"]})), json!(false));
    assert_eq!(
        ok(json!({"Fn::Equals": [{"Ref": "Empty"}, null]})),
        json!(true)
    );
    assert_eq!(ok(json!({"Fn::Equals": ["", null]})), json!(false));
    assert_eq!(
        err_text(json!({"Fn::Equals": ["a"]})),
        "P.Fn::Equals: Fn::Equals: expected [value, value], got a list of 1 item"
    );
}

#[test]
fn and_or_not() {
    assert_eq!(
        ok(json!({"Fn::And": ["IsProd", {"Condition": "IsProd"}]})),
        json!(true)
    );
    assert_eq!(ok(json!({"Fn::And": ["IsProd", "IsDev"]})), json!(false));
    assert_eq!(
        ok(json!({"Fn::Or": ["IsDev", {"Fn::Equals": [1, 1]}]})),
        json!(true)
    );
    assert_eq!(
        ok(json!({"Fn::Or": ["IsDev", "IsDev", "IsDev"]})),
        json!(false)
    );
    assert_eq!(ok(json!({"Fn::Not": ["IsProd"]})), json!(false));
    assert_eq!(ok(json!({"Fn::Not": "IsDev"})), json!(true));
    assert_eq!(
        ok(json!({"Fn::Not": {"Fn::Equals": ["a", "b"]}})),
        json!(true)
    );
    assert_eq!(
        ok(json!({"Fn::Not": [{"Condition": "IsDev"}]})),
        json!(true)
    );
    assert_eq!(ok(json!({"Condition": "IsProd"})), json!(true));
}

#[test]
fn and_or_not_errors() {
    assert_eq!(
        err_text(json!({"Fn::And": ["IsProd"]})),
        "P.Fn::And: Fn::And: expected a list of at least 2 conditions, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Or": "IsProd"})),
        "P.Fn::Or: Fn::Or: expected a list of at least 2 conditions, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::And": ["IsProd", "Nope"]})),
        "P.Fn::And[1]: there is no condition named 'Nope'"
    );
    assert_eq!(
        err_text(json!({"Fn::Or": ["IsProd", [1]]})),
        "P.Fn::Or[1]: Fn::Or: expected a condition (a name or a boolean expression), got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::Not": ["IsProd", "IsDev"]})),
        "P.Fn::Not: Fn::Not: expected one condition (or a list of one), got a list of 2 items"
    );
    assert_eq!(
        err_text(json!({"Fn::Not": 3})),
        "P.Fn::Not: Fn::Not: expected a condition (a name or a boolean expression), got a number"
    );
    assert_eq!(
        err_text(json!({"Condition": ["IsProd"]})),
        "P.Condition: Condition: expected a condition name, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Condition": "Nope"})),
        "P.Condition: there is no condition named 'Nope'"
    );
}

// ---- JSON, lists and numbers ------------------------------------------------------------------

#[test]
fn get_json_value() {
    assert_eq!(
        ok(json!({"Fn::GetJsonValue": ["1", "{\"1\": \"kubeadm join ...\", \"2\": 2}"]})),
        json!("kubeadm join ...")
    );
    assert_eq!(
        ok(json!({"Fn::GetJsonValue": ["k", {"Ref": "Config"}]})),
        json!("v")
    );
    assert_eq!(ok(json!({"Fn::GetJsonValue": [2, {"2": [1]}]})), json!([1]));
    assert!(
        err_text(json!({"Fn::GetJsonValue": ["1", "{oops"]}))
            .starts_with("P.Fn::GetJsonValue[1]: Fn::GetJsonValue: the text is not valid JSON (")
    );
    assert_eq!(
        err_text(json!({"Fn::GetJsonValue": ["x", {"a": 1}]})),
        "P.Fn::GetJsonValue[1]: Fn::GetJsonValue: the JSON object has no key 'x'"
    );
    assert_eq!(
        err_text(json!({"Fn::GetJsonValue": ["x", "[1]"]})),
        "P.Fn::GetJsonValue[1]: Fn::GetJsonValue: expected a JSON object, got a list of 1 item"
    );
    assert!(
        err_text(json!({"Fn::GetJsonValue": ["x"]})).contains("expected [key, JSON text or map]")
    );
}

#[test]
fn length() {
    assert_eq!(ok(json!({"Fn::Length": "héllo"})), json!(5));
    assert_eq!(ok(json!({"Fn::Length": {"Ref": "Zones"}})), json!(3));
    assert_eq!(ok(json!({"Fn::Length": {"a": 1, "b": 2}})), json!(2));
    assert_eq!(ok(json!({"Fn::Length": []})), json!(0));
    assert_eq!(
        err_text(json!({"Fn::Length": 5})),
        "P.Fn::Length: Fn::Length: expected a string, a list or a map, got a number"
    );
}

#[test]
fn list_merge() {
    assert_eq!(
        ok(json!({"Fn::ListMerge": [["a"], {"Ref": "Zones"}, []]})),
        json!(["a", "a", "b", "c"])
    );
    assert_eq!(
        err_text(json!({"Fn::ListMerge": [["a"], "b"]})),
        "P.Fn::ListMerge[1]: Fn::ListMerge: expected a list, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::ListMerge": []})),
        "P.Fn::ListMerge: Fn::ListMerge: expected a list of lists, got a list of 0 items"
    );
}

#[test]
fn str_and_index() {
    assert_eq!(ok(json!({"Fn::Str": 12})), json!("12"));
    assert_eq!(ok(json!({"Fn::Str": 1.5})), json!("1.5"));
    assert_eq!(ok(json!({"Fn::Str": "x"})), json!("x"));
    assert_eq!(
        err_text(json!({"Fn::Str": [1]})),
        "P.Fn::Str: Fn::Str: expected a number, got a list of 1 item"
    );

    assert_eq!(ok(json!({"Fn::Index": ["b", {"Ref": "Zones"}]})), json!(1));
    assert_eq!(ok(json!({"Fn::Index": ["z", {"Ref": "Zones"}]})), json!(""));
    assert_eq!(
        err_text(json!({"Fn::Index": ["b", "abc"]})),
        "P.Fn::Index[1]: Fn::Index: expected a list, got a string"
    );
    assert!(err_text(json!({"Fn::Index": ["b"]})).contains("expected [item, list]"));
}

#[test]
fn add() {
    assert_eq!(ok(json!({"Fn::Add": [1, 2, {"Ref": "Count"}]})), json!(6));
    assert!(ok(json!({"Fn::Add": [1, 2]})).is_i64());
    assert_eq!(ok(json!({"Fn::Add": [1, 2.5]})), json!(3.5));
    assert_eq!(
        ok(json!({"Fn::Add": [["a"], ["b", "c"]]})),
        json!(["a", "b", "c"])
    );
    assert_eq!(
        ok(json!({"Fn::Add": [{"k1": 1, "k": "old"}, {"k": "new"}]})),
        json!({"k1": 1, "k": "new"})
    );
    assert_eq!(
        err_text(json!({"Fn::Add": [1, "2"]})),
        "P.Fn::Add: Fn::Add: expected arguments that are all numbers, all lists or all maps"
    );
    assert!(err_text(json!({"Fn::Add": [["a"], {"b": 1}]})).contains("all numbers, all lists"));
    assert!(err_text(json!({"Fn::Add": ["a", "b"]})).contains("all numbers, all lists"));
    assert_eq!(
        err_text(json!({"Fn::Add": [1]})),
        "P.Fn::Add: Fn::Add: expected a list of at least 2 numbers, lists or maps, got a list of 1 item"
    );
}

#[test]
fn max_min_avg() {
    assert_eq!(ok(json!({"Fn::Max": [1.1, 2, "3"]})), json!(3));
    assert_eq!(ok(json!({"Fn::Min": [1.1, 2, -3.5]})), json!(-3.5));
    assert_eq!(ok(json!({"Fn::Max": [7]})), json!(7));
    assert_eq!(
        err_text(json!({"Fn::Max": []})),
        "P.Fn::Max: Fn::Max: expected a non-empty list of numbers, got a list of 0 items"
    );
    assert_eq!(
        err_text(json!({"Fn::Min": [1, "x"]})),
        "P.Fn::Min[1]: Fn::Min: expected a number, got \"x\""
    );

    assert_eq!(ok(json!({"Fn::Avg": [1, [1, 2, 6]]})), json!(3.0));
    assert_eq!(ok(json!({"Fn::Avg": [2, [1, "2", 2]]})), json!(1.67));
    assert_eq!(ok(json!({"Fn::Avg": [0, [1, 2]]})), json!(2.0));
    assert_eq!(
        err_text(json!({"Fn::Avg": [1, []]})),
        "P.Fn::Avg[1]: Fn::Avg: expected a non-empty list of numbers, got a list of 0 items"
    );
    assert_eq!(
        err_text(json!({"Fn::Avg": ["x", [1]]})),
        "P.Fn::Avg[0]: Fn::Avg: expected ndigits (an integer), got \"x\""
    );
    assert_eq!(
        err_text(json!({"Fn::Avg": [-1, [1]]})),
        "P.Fn::Avg[0]: Fn::Avg: ndigits must be 0 to 15, got -1"
    );
    assert_eq!(
        err_text(json!({"Fn::Avg": [1, [1, true]]})),
        "P.Fn::Avg[1][1]: Fn::Avg: expected a number, got a boolean"
    );
    assert!(err_text(json!({"Fn::Avg": [1]})).contains("expected [ndigits, [numbers, ...]]"));
}

#[test]
fn merge_map_to_list() {
    assert_eq!(
        ok(json!({"Fn::MergeMapToList": [
            {"key_1": ["k11", "k12", "k13"]},
            {"key_2": ["k21", "k22"]},
            {"key_3": ["k31", "k32", "k33"]},
        ]})),
        json!([
            {"key_1": "k11", "key_2": "k21", "key_3": "k31"},
            {"key_1": "k12", "key_2": "k22", "key_3": "k32"},
            {"key_1": "k13", "key_2": "k22", "key_3": "k33"},
        ])
    );
    assert_eq!(ok(json!({"Fn::MergeMapToList": [{"a": []}]})), json!([]));
    assert_eq!(
        err_text(json!({"Fn::MergeMapToList": [{"a": [1]}, ["b"]]})),
        "P.Fn::MergeMapToList[1]: Fn::MergeMapToList: expected a map {key: [values, ...]}, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::MergeMapToList": [{"a": "x"}]})),
        "P.Fn::MergeMapToList[0]: Fn::MergeMapToList: the value of 'a' must be a list, got a string"
    );
    assert!(
        err_text(json!({"Fn::MergeMapToList": {"a": [1]}})).contains("a list of maps of lists")
    );
}

#[test]
fn unsupported_functions_are_named() {
    assert_eq!(
        err(json!({"Fn::GetAZs": "cn-hangzhou"})),
        EvalError::Unsupported {
            path: "P".into(),
            function: "Fn::GetAZs".into()
        }
    );
    assert_eq!(
        err_text(json!({"a": [{"Fn::Base64": "x"}]})),
        "P.a[0]: unsupported function 'Fn::Base64'"
    );
    // The arguments of an unsupported function are not evaluated.
    assert!(matches!(
        err(json!({"Fn::Nope": {"Ref": "Missing"}})),
        EvalError::Unsupported { .. }
    ));
    assert_eq!(
        err_text(json!({"Fn::Join": {"Ref": "ALIYUN::NoValue"}})),
        "P.Fn::Join: Fn::Join: expected arguments, got ALIYUN::NoValue"
    );
}

#[test]
fn secrets_do_not_leak_into_errors() {
    let e = err_text(json!({"Fn::FindInMap": ["RegionMap", {"Ref": "Password"}, "32"]}));
    assert_eq!(
        e,
        "P.Fn::FindInMap[1]: Fn::FindInMap: mapping 'RegionMap' has no key '***'"
    );
    let e = err_text(json!({"Fn::Select": [{"Ref": "Password"}, [1]]}));
    assert!(!e.contains("hunter2"), "{e}");
    let e = err_text(json!({"Fn::GetJsonValue": [{"Ref": "Password"}, {}]}));
    assert!(!e.contains("hunter2") && e.contains("no key '***'"), "{e}");
    // The value itself is available to the template.
    assert_eq!(
        ok(json!({"Fn::Sub": "pw=${Password}"})),
        json!("pw=hunter2")
    );
}

#[test]
fn error_texts() {
    let cases = [
        json!({"Fn::Join": ["-", "a"]}),
        json!({"Fn::Sub": "${Nope.Attr} and ${Env"}),
        json!({"Fn::Select": ["x", [1]]}),
        json!({"Fn::FindInMap": ["RegionMap", "mars", "32"]}),
        json!({"Fn::If": ["Nope", 1, 2]}),
        json!({"Fn::And": ["IsProd"]}),
        json!({"Fn::GetAtt": ["Vpc", "Nope"]}),
        json!({"Fn::Base64Decode": "//8="}),
        json!({"Fn::GetAZs": {"Ref": "ALIYUN::Region"}}),
        json!({"Tags": [{"Value": {"Ref": "Missing"}}]}),
        json!({"Fn::Avg": [1, [1, "two"]]}),
        json!({"Fn::GetAtt": ["Vm", "PrivateIp"]}),
    ];
    let text = cases
        .into_iter()
        .map(|c| format!("{c}\n  => {}", err_text(c.clone())))
        .collect::<Vec<_>>()
        .join("\n");
    snapshot_settings().bind(|| insta::assert_snapshot!(text));
}

#[test]
fn error_kinds() {
    assert_eq!(
        err(json!({"Ref": "Vm"})).kind(),
        crate::provider::ErrorKind::NotReady
    );
    assert_eq!(
        err(json!({"Ref": "Nope"})).kind(),
        crate::provider::ErrorKind::Invalid
    );
    assert!(SUPPORTED_FUNCTIONS.contains(&"Fn::MergeMapToList"));
    assert!(!SUPPORTED_FUNCTIONS.contains(&"Fn::GetAZs"));
}

/// JSON without function keys (object keys are lower-case, so never `Ref` or `Fn::*`).
fn literal_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn literals_are_fixed_points(value in literal_json()) {
        let fixture = Fixture::new();
        proptest::prop_assert_eq!(fixture.eval(value.clone()).unwrap(), Some(value));
    }

    #[test]
    fn select_agrees_with_indexing_and_slicing(
        list in proptest::collection::vec(0i64..100, 0..8),
        i in -10i64..10,
        start in 0usize..10,
        len in 0usize..10,
    ) {
        let n = list.len() as i64;
        let expected = if (-n..n).contains(&i) {
            json!(list[(if i < 0 { i + n } else { i }) as usize])
        } else {
            json!("")
        };
        proptest::prop_assert_eq!(ok(json!({"Fn::Select": [i, list.clone()]})), expected);
        let lo = start.min(list.len());
        let hi = (start + len).min(list.len());
        proptest::prop_assert_eq!(
            ok(json!({"Fn::Select": [format!("{start}:{}", start + len), list.clone()]})),
            json!(list[lo..hi].to_vec())
        );
    }
}

// ---- resolve_conditions ---------------------------------------------------------------------

fn conditions(json: Value) -> IndexMap<String, Expr> {
    serde_json::from_value(json).unwrap()
}

fn resolve(json: Value) -> Result<IndexMap<String, bool>, Vec<EvalError>> {
    let fixture = Fixture::new();
    resolve_conditions(
        &conditions(json),
        &fixture.params,
        &fixture.pseudo,
        &fixture.mappings,
    )
}

#[test]
fn conditions_resolve_in_dependency_order() {
    let resolved = resolve(json!({
        // Refers to conditions declared after it.
        "ProdInHangzhou": {"Fn::And": ["IsProd", {"Condition": "InHangzhou"}]},
        "IsProd": {"Fn::Equals": ["prod", {"Ref": "Env"}]},
        "InHangzhou": {"Fn::Equals": [{"Ref": "ALIYUN::Region"}, "cn-hangzhou"]},
        "NotProd": {"Fn::Not": "IsProd"},
        "Either": {"Fn::Or": ["NotProd", {"Fn::Not": [{"Condition": "ProdInHangzhou"}]}]},
        "FromMap": {"Fn::Equals": [{"Fn::FindInMap": ["RegionMap", "cn-beijing", "32"]}, "m-b32"]},
        "ViaIf": {"Fn::If": ["NotProd", true, {"Fn::Equals": [1, 1]}]},
        "Literal": "false",
    }))
    .unwrap();
    assert_eq!(
        resolved.into_iter().collect::<Vec<_>>(),
        vec![
            ("ProdInHangzhou".to_owned(), true),
            ("IsProd".to_owned(), true),
            ("InHangzhou".to_owned(), true),
            ("NotProd".to_owned(), false),
            ("Either".to_owned(), false),
            ("FromMap".to_owned(), true),
            ("ViaIf".to_owned(), true),
            ("Literal".to_owned(), false),
        ]
    );
}

#[test]
fn condition_cycles_are_named() {
    let errors = resolve(json!({
        "A": {"Fn::And": ["B", "Ok"]},
        "B": {"Fn::Not": [{"Condition": "C"}]},
        "C": {"Fn::Or": ["A", "Ok"]},
        "Self": {"Fn::Not": "Self"},
        "Ok": true,
        "DependsOnCycle": {"Fn::Not": "A"},
    }))
    .unwrap_err();
    assert_eq!(
        errors,
        vec![
            EvalError::ConditionCycle {
                path: "Conditions.A".into(),
                cycle: vec!["A".into(), "B".into(), "C".into(), "A".into()],
            },
            EvalError::ConditionCycle {
                path: "Conditions.Self".into(),
                cycle: vec!["Self".into(), "Self".into()],
            },
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "Conditions.A: conditions refer to each other in a cycle: A -> B -> C -> A"
    );
}

#[test]
fn condition_errors_are_collected() {
    let errors = resolve(json!({
        "OnResource": {"Fn::Equals": [{"Ref": "Vpc"}, "x"]},
        "OnAttribute": {"Fn::Equals": [{"Fn::GetAtt": ["Vpc", "VpcId"]}, "x"]},
        "Undefined": {"Fn::Not": "Nope"},
        "NotBool": {"Ref": "Env"},
        "BadArgs": {"Fn::Equals": ["a"]},
        "Good": {"Fn::Equals": [1, 1]},
        "Secret": {"Fn::Equals": [{"Fn::FindInMap": ["RegionMap", {"Ref": "Password"}, "1"]}, 1]},
    }))
    .unwrap_err();
    let text = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains("hunter2"));
    assert_eq!(errors.len(), 6);
    assert!(matches!(&errors[0], EvalError::ConditionReference { name, .. } if name == "Vpc"));
    snapshot_settings().bind(|| insta::assert_snapshot!(text));
}

// ---- real templates -----------------------------------------------------------------------------

/// Resolves a fixture's parameters (defaults plus `given`) and conditions.
fn template_context(
    template: &Template,
    given: Value,
) -> (ParamValues, IndexMap<String, Value>, IndexMap<String, bool>) {
    let given: IndexMap<String, Value> = serde_json::from_value(given).unwrap();
    let params = crate::params::resolve_parameters(&template.parameters, &given).unwrap();
    let pseudo = IndexMap::from([("ALIYUN::Region".to_owned(), json!("cn-beijing"))]);
    let conditions =
        resolve_conditions(&template.conditions, &params, &pseudo, &template.mappings).unwrap();
    (params, pseudo, conditions)
}

fn eval_resource(
    template: &Template,
    given: Value,
    resource: &str,
) -> Result<Map<String, Value>, EvalError> {
    let (params, pseudo, conditions) = template_context(template, given);
    let ctx = EvalContext::new(
        &params,
        &pseudo,
        &template.mappings,
        &conditions,
        &FakeResources,
    );
    evaluate_properties(
        &template.resources[resource].properties,
        &ctx,
        &format!("Resources.{resource}.Properties"),
    )
}

#[test]
fn fixture_find_in_map() {
    let template = fixture_template("Functions__1.json");
    let props = eval_resource(&template, json!({"regionParam": "beijing"}), "WebServer").unwrap();
    assert_eq!(props["ImageId"], json!("m-25l0rcfj2"));
    assert_eq!(props["Tags"][1], json!({"Key": "key2", "Value": "value2"}));
    // The parameter's AllowedValues guard the mapping's keys.
    let given: IndexMap<String, Value> =
        serde_json::from_value(json!({"regionParam": "mars"})).unwrap();
    let e = crate::params::resolve_parameters(&template.parameters, &given).unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter 'regionParam': value \"mars\" is not one of AllowedValues [\"hangzhou\",\"beijing\"]"
    );
}

#[test]
fn fixture_replace_join() {
    let template = fixture_template("Functions__4.json");
    let props = eval_resource(&template, json!({}), "WebServer").unwrap();
    assert_eq!(
        props["UserData"],
        json!("#! /bin/sh\nmkdir ~/test_ros\necho hello > ~/1.txt\n")
    );
}

#[test]
fn fixture_conditions_and_no_value() {
    for file in ["Conditions__1.json", "Functions__5.json"] {
        let template = fixture_template(file);
        // Default `EnvType: pre`: the condition is false and DiskMappings disappears.
        let props = eval_resource(&template, json!({}), "WebServer").unwrap();
        assert!(!props.contains_key("DiskMappings"), "{file}");
        assert_eq!(props["InstanceType"], json!("ecs.n1.medium"));
        let props = eval_resource(&template, json!({"EnvType": "prod"}), "WebServer").unwrap();
        assert_eq!(
            props["DiskMappings"][1]["Category"],
            json!("cloud_ssd"),
            "{file}"
        );
    }
    let template = fixture_template("Conditions__1.json");
    let (_, _, conditions) = template_context(&template, json!({"EnvType": "prod"}));
    assert_eq!(conditions.get("CreateProdRes"), Some(&true));
}

fn yaml_fixture_template(name: &str) -> Template {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/templates/ros/alibabaclouddocs-ros-mit")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is readable: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} parses: {e}"))
}

#[test]
fn fixture_list_merge_of_attributes() {
    // JSON with a trailing comma: only a YAML parser reads it.
    let template = yaml_fixture_template("Functions__6.yaml");
    let props = eval_resource(&template, json!({}), "Attachment").unwrap();
    assert_eq!(
        Value::Object(props),
        json!({"LoadBalancerId": "lb-1", "BackendServerList": ["i-1", "i-2", "i-3"]})
    );
}

#[test]
fn fixture_merge_map_to_list() {
    let template = fixture_template("Functions__7.json");
    let props = eval_resource(&template, json!({}), "CreateVServerGroup").unwrap();
    assert_eq!(
        props["BackendServers"],
        json!([
            {"Port": 6666, "ServerId": "i-1", "Weight": 20},
            {"Port": 9090, "ServerId": "i-2", "Weight": 100},
            {"Port": 8080, "ServerId": "i-2", "Weight": 100},
        ])
    );
}

#[test]
fn fixture_unsupported_get_azs_and_unknown_outputs() {
    let template = fixture_template("Functions__3.json");
    let e = eval_resource(&template, json!({}), "WebServer").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Resources.WebServer.Properties.ZoneId.Fn::Select[1]: unsupported function 'Fn::GetAZs'"
    );
    let (params, pseudo, conditions) = template_context(&template, json!({}));
    let ctx = EvalContext::new(
        &params,
        &pseudo,
        &template.mappings,
        &conditions,
        &FakeResources,
    );
    let e = evaluate(
        &template.outputs["PublicIp"].value,
        &ctx,
        "Outputs.PublicIp.Value",
    )
    .unwrap_err();
    assert_eq!(
        e,
        EvalError::Unknown {
            resource: "WebServer".into(),
            path: "Outputs.PublicIp.Value".into()
        }
    );
}

// ---- functions added for HOT templates ----------------------------------------------------

#[test]
fn get_att_with_a_path_selects_inside_the_attribute() {
    assert_eq!(
        ok(json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", 1]})),
        json!("i-2")
    );
    assert_eq!(
        ok(json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", -1]})),
        json!("i-2")
    );
    // Characters of a text, as Python indexes a str (a character is a text again).
    assert_eq!(ok(json!({"Fn::GetAtt": ["Vpc", "VpcId", 0]})), json!("v"));
    assert_eq!(
        ok(json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", 0, 0, 0]})),
        json!("i")
    );
    // A step that does not exist gives null; get_attr does not read "1" as a position.
    for missing in [
        json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", 5]}),
        json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", "1"]}),
        json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", 0, "x"]}),
        json!({"Fn::GetAtt": ["BackendServer1", "InstanceIds", 1.5]}),
    ] {
        assert_eq!(ok(missing.clone()), Value::Null, "{missing}");
    }
    assert!(err(json!({"Fn::GetAtt": ["WebServer", "Ip", 0]})).is_unknown());
    assert_eq!(
        err_text(json!({"Fn::GetAtt": ["Vpc", "Nope", 0]})),
        "P: resource 'Vpc' has no attribute 'Nope'"
    );
    assert_eq!(
        err_text(json!({"Fn::GetAtt": ["Vpc", 3, 0]})),
        "P.Fn::GetAtt: Fn::GetAtt: expected [resource, attribute, path...] or \
         \"resource.attribute\", got a list of 3 items"
    );
}

#[test]
fn get_path_follows_keys_and_positions() {
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"Ref": "Config"}, "k"]})),
        json!("v")
    );
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"Ref": "Zones"}, 2]})),
        json!("c")
    );
    // get_param reads a text as a position into a list.
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"Ref": "Zones"}, "1"]})),
        json!("b")
    );
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"Ref": "Zones"}, -3]})),
        json!("a")
    );
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"Ref": "Zones"}]})),
        json!(["a", "b", "c"])
    );
    assert_eq!(
        ok(json!({"Fn::GetPath": [{"a": [{"b": true}]}, "a", 0, "b"]})),
        json!(true)
    );
    // Missing steps give the empty text.
    for missing in [
        json!({"Fn::GetPath": [{"Ref": "Config"}, "nope"]}),
        json!({"Fn::GetPath": [{"Ref": "Zones"}, 3]}),
        json!({"Fn::GetPath": [{"Ref": "Zones"}, "x"]}),
        json!({"Fn::GetPath": [{"Ref": "Count"}, 0]}),
        json!({"Fn::GetPath": [{"Ref": "Config"}, 0]}),
        json!({"Fn::GetPath": [{"Ref": "Empty"}, "a"]}),
    ] {
        assert_eq!(ok(missing.clone()), json!(""), "{missing}");
    }
    assert_eq!(
        err_text(json!({"Fn::GetPath": []})),
        "P.Fn::GetPath: Fn::GetPath: expected [value, key or index, ...], got a list of 0 items"
    );
    assert_eq!(
        err_text(json!({"Fn::GetPath": "x"})),
        "P.Fn::GetPath: Fn::GetPath: expected [value, key or index, ...], got a string"
    );
}

#[test]
fn str_replace_prefers_longer_placeholders_and_never_rescans() {
    let replace = |template: Value, params: Value| {
        ok(json!({"Fn::StrReplace": {"template": template, "params": params}}))
    };
    assert_eq!(
        replace(
            json!("$a $ab $b"),
            json!({"$a": "1", "$ab": "2", "$b": "$a"})
        ),
        json!("1 2 $a")
    );
    // Same length: the smaller text first.
    assert_eq!(
        replace(json!("xyz"), json!({"yz": "2", "xy": "1"})),
        json!("1z")
    );
    assert_eq!(
        replace(
            json!("n=N f=F t=T e=E l=L m=M"),
            json!({"N": 3, "F": 1.5, "T": true, "E": null, "L": ["b", 1], "M": {"z": 1, "a": "é"}})
        ),
        json!("n=3 f=1.5 t=True e= l=[\"b\", 1] m={\"a\": \"\\u00e9\", \"z\": 1}")
    );
    assert_eq!(
        replace(json!("env=$env"), json!({"$env": {"Ref": "Env"}})),
        json!("env=prod")
    );
    // Strict: every param must occur; very strict: and none may be empty.
    assert_eq!(
        ok(json!({"Fn::StrReplaceStrict": {"template": "a", "params": {"a": "b"}}})),
        json!("b")
    );
    assert_eq!(
        err_text(
            json!({"Fn::StrReplaceStrict": {"template": "a", "params": {"a": "b", "cc": "d", "e": "f"}}})
        ),
        "P.Fn::StrReplaceStrict: Fn::StrReplaceStrict: these params are not in the template: cc,e"
    );
    assert_eq!(
        ok(json!({"Fn::StrReplaceVStrict": {"template": "a", "params": {"a": 0}}})),
        json!("0")
    );
    for empty in [json!(""), json!(null), json!([]), json!({})] {
        assert_eq!(
            err_text(json!({"Fn::StrReplaceVStrict": {"template": "a", "params": {"a": empty}}})),
            "P.Fn::StrReplaceVStrict: Fn::StrReplaceVStrict: param 'a' is null or empty; it must \
             have a non-empty value"
        );
    }
}

#[test]
fn str_replace_errors() {
    let cases = [
        (
            json!("x"),
            "expected {\"template\": text, \"params\": {placeholder: value, ...}}, got a string",
        ),
        (
            json!({"template": "x"}),
            "expected {\"template\": text, \"params\": {placeholder: value, ...}}, 'params' is missing",
        ),
        (
            json!({"template": "x", "params": {}, "extra": 1}),
            "expected {\"template\": text, \"params\": {placeholder: value, ...}}, got unknown key 'extra'",
        ),
        (
            json!({"template": 3, "params": {}}),
            "the template must be a text, got a number",
        ),
        (
            json!({"template": "x", "params": []}),
            "the params must be a map, got a list of 0 items",
        ),
        (
            json!({"template": "x", "params": {"": "y"}}),
            "a placeholder is the empty text",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(
            err_text(json!({"Fn::StrReplace": args})),
            format!("P.Fn::StrReplace: Fn::StrReplace: {message}")
        );
    }
}

#[test]
fn list_join_joins_several_lists() {
    assert_eq!(ok(json!({"Fn::ListJoin": [",", ["a", "b"]]})), json!("a,b"));
    assert_eq!(
        ok(json!({"Fn::ListJoin": ["-", ["a"], null, [], [null, {"k": [1]}, ["x"]]]})),
        json!("a--{\"k\": [1]}-[\"x\"]")
    );
    assert_eq!(
        ok(json!({"Fn::ListJoin": [",", {"Ref": "Zones"}]})),
        json!("a,b,c")
    );
    assert_eq!(
        err_text(json!({"Fn::ListJoin": [",", ["a", 1]]})),
        "P.Fn::ListJoin[1][1]: Fn::ListJoin: items to join must be texts, lists or maps, got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::ListJoin": [",", "a"]})),
        "P.Fn::ListJoin[1]: Fn::ListJoin: expected a list to join, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::ListJoin": [1, ["a"]]})),
        "P.Fn::ListJoin[0]: Fn::ListJoin: expected the delimiter (a string), got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::ListJoin": [","]})),
        "P.Fn::ListJoin: Fn::ListJoin: expected [delimiter, list, ...], got a list of 1 item"
    );
}

#[test]
fn str_split_with_and_without_index() {
    assert_eq!(
        ok(json!({"Fn::StrSplit": [",", "a,b,,c"]})),
        json!(["a", "b", "", "c"])
    );
    assert_eq!(ok(json!({"Fn::StrSplit": [",", "a,b", 1]})), json!("b"));
    assert_eq!(ok(json!({"Fn::StrSplit": [",", "a,b", "-2"]})), json!("a"));
    assert_eq!(ok(json!({"Fn::StrSplit": [",", null]})), Value::Null);
    let cases = [
        (
            json!([",", "a,b", 2]),
            "P.Fn::StrSplit[2]: Fn::StrSplit: index 2 is outside the 2 items of the split text",
        ),
        (
            json!([",", "a,b", "x"]),
            "P.Fn::StrSplit[2]: Fn::StrSplit: expected an integer index, got \"x\"",
        ),
        (
            json!(["", "a"]),
            "P.Fn::StrSplit[0]: Fn::StrSplit: the delimiter is empty",
        ),
        (
            json!([",", 3]),
            "P.Fn::StrSplit[1]: Fn::StrSplit: expected the text (a string), got a number",
        ),
        (
            json!([","]),
            "P.Fn::StrSplit: Fn::StrSplit: expected [delimiter, text] or [delimiter, text, index], got a list of 1 item",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(err_text(json!({"Fn::StrSplit": args})), message);
    }
}

#[test]
fn repeat_makes_one_copy_per_combination() {
    assert_eq!(
        ok(json!({"Fn::Repeat": {
            "for_each": {"%p%": ["80", "443"]},
            "template": {"port": "%p%", "name-%p%": ["tcp/%p%"], "n": 1}
        }})),
        json!([
            {"port": "80", "name-80": ["tcp/80"], "n": 1},
            {"port": "443", "name-443": ["tcp/443"], "n": 1}
        ])
    );
    // Every combination (the first placeholder varies slowest), or item by item.
    assert_eq!(
        ok(
            json!({"Fn::Repeat": {"for_each": {"A": ["1", "2"], "B": ["x", "y"]}, "template": "A-B"}})
        ),
        json!(["1-x", "1-y", "2-x", "2-y"])
    );
    assert_eq!(
        ok(
            json!({"Fn::Repeat": {"for_each": {"A": ["1", "2"], "B": ["x", "y"]},
                                 "template": "A-B", "permutations": false}})
        ),
        json!(["1-x", "2-y"])
    );
    // Placeholders are replaced one after the other; a map iterates over its keys; a null
    // list is empty.
    assert_eq!(
        ok(json!({"Fn::Repeat": {"for_each": {"A": ["B"], "B": ["c"]}, "template": "A"}})),
        json!(["c"])
    );
    assert_eq!(
        ok(json!({"Fn::Repeat": {"for_each": {"K": {"Ref": "Config"}}, "template": "K"}})),
        json!(["k"])
    );
    assert_eq!(
        ok(
            json!({"Fn::Repeat": {"for_each": {"K": null, "L": ["a"]}, "template": "K",
                                 "permutations": false}})
        ),
        json!([])
    );
    assert_eq!(
        ok(
            json!({"Fn::Repeat": {"for_each": {"Z": {"Ref": "Zones"}}, "template": {"Ref": "Env"}}})
        ),
        json!(["prod", "prod", "prod"])
    );
}

#[test]
fn repeat_errors() {
    let cases = [
        (
            json!([1]),
            "expected {\"for_each\": {placeholder: list, ...}, \"template\": value, \"permutations\": bool}, got a list of 1 item",
        ),
        (
            json!({"template": "x"}),
            "expected {\"for_each\": {placeholder: list, ...}, \"template\": value, \"permutations\": bool}, 'for_each' is missing",
        ),
        (
            json!({"for_each": {}, "template": "x"}),
            "for_each has no placeholder",
        ),
        (
            json!({"for_each": ["a"], "template": "x"}),
            "for_each must be a map of placeholders to lists, got a list of 1 item",
        ),
        (
            json!({"for_each": {"a": "b"}, "template": "x"}),
            "the value of for_each placeholder 'a' must be a list or a map, got a string",
        ),
        (
            json!({"for_each": {"a": {"k": 1}}, "template": "x", "permutations": false}),
            "the value of for_each placeholder 'a' must be a list, got a map of 1 key",
        ),
        (
            json!({"for_each": {"a": ["1"], "b": ["1", "2"]}, "template": "x", "permutations": false}),
            "without permutations the for_each lists must have the same length",
        ),
        (
            json!({"for_each": {"a": ["1"]}, "template": "x", "permutations": "no"}),
            "permutations must be a boolean, got a string",
        ),
        (
            json!({"for_each": {"a": [1]}, "template": "x"}),
            "the items of for_each placeholder 'a' must be texts to be put in a text, got a number",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(
            err_text(json!({"Fn::Repeat": args})),
            format!("P.Fn::Repeat: Fn::Repeat: {message}")
        );
    }
    let many: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(
        err_text(
            json!({"Fn::Repeat": {"for_each": {"a": many, "b": many, "c": many},
                                       "template": "x"}})
        ),
        "P.Fn::Repeat: Fn::Repeat: the for_each lists make more than 100000 combinations"
    );
    // A number item is fine where there is no text to put it in.
    assert_eq!(
        ok(json!({"Fn::Repeat": {"for_each": {"a": [1, 2]}, "template": 7}})),
        json!([7, 7])
    );
}

#[test]
fn map_merge_lets_later_maps_win() {
    assert_eq!(
        ok(json!({"Fn::MapMerge": [{"a": 1, "b": 2}, null, {"b": 3}, {"Ref": "Config"}]})),
        json!({"a": 1, "b": 3, "k": "v"})
    );
    assert_eq!(ok(json!({"Fn::MapMerge": []})), json!({}));
    assert_eq!(
        err_text(json!({"Fn::MapMerge": [{"a": 1}, ["b"]]})),
        "P.Fn::MapMerge[1]: Fn::MapMerge: items to merge must be maps, got a list of 1 item"
    );
    assert_eq!(
        err_text(json!({"Fn::MapMerge": {"a": 1}})),
        "P.Fn::MapMerge: Fn::MapMerge: expected a list of maps, got a map of 1 key"
    );
}

#[test]
fn equals_strict_compares_like_python() {
    for (a, b, equal) in [
        (json!("1"), json!(1), false),
        (json!(1), json!(1.0), true),
        (json!(true), json!(1), true),
        (json!("true"), json!(true), false),
        (json!({"a": [1, "x"]}), json!({"a": [1.0, "x"]}), true),
        (json!({"a": 1}), json!({"a": 1, "b": 2}), false),
        (json!(null), json!(""), false),
        (json!([1, 2]), json!([2, 1]), false),
    ] {
        assert_eq!(
            ok(json!({"Fn::EqualsStrict": [a.clone(), b.clone()]})),
            json!(equal),
            "{a} == {b}"
        );
    }
    assert_eq!(
        ok(json!({"Fn::EqualsStrict": [{"Ref": "Env"}, "prod"]})),
        json!(true)
    );
    assert_eq!(
        err_text(json!({"Fn::EqualsStrict": [1]})),
        "P.Fn::EqualsStrict: Fn::EqualsStrict: expected [value, value], got a list of 1 item"
    );
}

#[test]
fn list_concat_and_unique() {
    assert_eq!(
        ok(json!({"Fn::ListConcat": [["a", "b"], null, [], {"Ref": "Zones"}]})),
        json!(["a", "b", "a", "b", "c"])
    );
    assert_eq!(ok(json!({"Fn::ListConcat": []})), json!([]));
    // The last of equal items stays.
    assert_eq!(
        ok(json!({"Fn::ListConcatUnique": [["a", "b", 1], ["a", 1.0, {"k": 1}], [{"k": 1}]]})),
        json!(["b", "a", 1.0, {"k": 1}])
    );
    assert_eq!(
        err_text(json!({"Fn::ListConcat": [["a"], "b"]})),
        "P.Fn::ListConcat[1]: Fn::ListConcat: items to concatenate must be lists, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::ListConcatUnique": "a"})),
        "P.Fn::ListConcatUnique: Fn::ListConcatUnique: expected a list of lists, got a string"
    );
}

#[test]
fn contains_looks_in_lists_and_texts() {
    for (args, found) in [
        (json!(["a", {"Ref": "Zones"}]), true),
        (json!(["d", {"Ref": "Zones"}]), false),
        (json!([1, [1.0, 2]]), true),
        (json!(["1", [1]]), false),
        (json!(["od", {"Ref": "Env"}]), true),
        (json!(["x", "prod"]), false),
    ] {
        assert_eq!(
            ok(json!({"Fn::Contains": args.clone()})),
            json!(found),
            "{args}"
        );
    }
    assert_eq!(
        err_text(json!({"Fn::Contains": [1, "abc"]})),
        "P.Fn::Contains[0]: Fn::Contains: only a text can be looked for in a text, got a number"
    );
    assert_eq!(
        err_text(json!({"Fn::Contains": ["a", {"a": 1}]})),
        "P.Fn::Contains[1]: Fn::Contains: expected a list or a text to look in, got a map of 1 key"
    );
    assert_eq!(
        err_text(json!({"Fn::Contains": ["a"]})),
        "P.Fn::Contains: Fn::Contains: expected [value, list or text], got a list of 1 item"
    );
}

#[test]
fn filter_drops_values() {
    assert_eq!(
        ok(json!({"Fn::Filter": [["b", 2], ["a", "b", 2.0, 3, "b"]]})),
        json!(["a", 3])
    );
    assert_eq!(ok(json!({"Fn::Filter": [null, ["a"]]})), json!(["a"]));
    assert_eq!(ok(json!({"Fn::Filter": [[], ["a"]]})), json!(["a"]));
    assert_eq!(ok(json!({"Fn::Filter": [["a"], []]})), json!([]));
    assert_eq!(ok(json!({"Fn::Filter": [["a"], null]})), Value::Null);
    assert_eq!(
        err_text(json!({"Fn::Filter": [["a"], "abc"]})),
        "P.Fn::Filter[1]: Fn::Filter: expected a list to filter, got a string"
    );
    assert_eq!(
        err_text(json!({"Fn::Filter": ["a", ["a"]]})),
        "P.Fn::Filter[0]: Fn::Filter: expected a list of values to drop, got a string"
    );
}

#[test]
fn map_replace_renames_keys_and_replaces_values() {
    assert_eq!(
        ok(json!({"Fn::MapReplace": [
            {"k1": "v1", "k2": "v2", "k3": 3, "k4": ["v1"]},
            {"keys": {"k1": "K1", "k3": null}, "values": {"v2": "V2", "v1": "V1", "3": "x"}}
        ]})),
        json!({"K1": "V1", "k2": "V2", "k3": 3, "k4": ["v1"]})
    );
    assert_eq!(
        ok(json!({"Fn::MapReplace": [{"a": 1}, {}]})),
        json!({"a": 1})
    );
    assert_eq!(ok(json!({"Fn::MapReplace": [null, null]})), json!({}));
    let cases = [
        (
            json!([{"a": 1, "b": 2}, {"keys": {"a": "b"}}]),
            "P.Fn::MapReplace: Fn::MapReplace: key replacement 'b' collides with a key of the input map",
        ),
        (
            json!([{"a": 1, "b": 2}, {"keys": {"a": "c", "b": "c"}}]),
            "P.Fn::MapReplace: Fn::MapReplace: key replacement 'c' collides with a key of the output map",
        ),
        (
            json!([{"a": 1}, {"names": {}}]),
            "P.Fn::MapReplace[1]: Fn::MapReplace: expected [map, {\"keys\": {old: new}, \"values\": {old: new}}], got unknown key 'names'",
        ),
        (
            json!([["a"], {}]),
            "P.Fn::MapReplace[0]: Fn::MapReplace: expected [map, {\"keys\": {old: new}, \"values\": {old: new}}], got a list of 1 item",
        ),
        (
            json!([{"a": 1}, {"keys": {"a": 2}}]),
            "P.Fn::MapReplace[1]: Fn::MapReplace: the new name of key 'a' must be a text, got a number",
        ),
        (
            json!([{"a": 1}]),
            "P.Fn::MapReplace: Fn::MapReplace: expected [map, {\"keys\": {old: new}, \"values\": {old: new}}], got a list of 1 item",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(err_text(json!({"Fn::MapReplace": args})), message);
    }
}

#[test]
fn digest_hashes_latin_1_text() {
    for (algorithm, hex) in [
        ("md5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "sha224",
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        ),
        (
            "sha256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "sha384",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            "sha512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ] {
        assert_eq!(
            ok(json!({"Fn::Digest": [algorithm, "abc"]})),
            json!(hex),
            "{algorithm}"
        );
    }
    // "é" is one Latin-1 byte (0xe9), as Heat encodes it.
    assert_eq!(
        ok(json!({"Fn::Digest": ["md5", "é"]})),
        json!("3406877694691ddd1dfb0aca54681407")
    );
    assert_eq!(
        err_text(json!({"Fn::Digest": ["md5", "€"]})),
        "P.Fn::Digest[1]: Fn::Digest: the text has characters outside Latin-1"
    );
    assert_eq!(
        err_text(json!({"Fn::Digest": ["crc32", "a"]})),
        "P.Fn::Digest[0]: Fn::Digest: unsupported algorithm 'crc32' (md5, sha1, sha224, sha256, \
         sha384 or sha512)"
    );
    assert_eq!(
        err_text(json!({"Fn::Digest": ["md5", 1]})),
        "P.Fn::Digest[1]: Fn::Digest: expected the text (a string), got a number"
    );
}

#[test]
fn fn_error_is_an_error_wherever_it_is_evaluated() {
    let e = err(json!({"Fn::Join": [",", ["a", {"Fn::Error": "no such parameter 'foo'"}]]}));
    assert!(matches!(e, EvalError::Raised { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "P.Fn::Join[1][1].Fn::Error: no such parameter 'foo'"
    );
    // Not evaluated, no error: the branch not taken of an `Fn::If`.
    assert_eq!(
        ok(json!({"Fn::If": ["IsProd", "fine", {"Fn::Error": "x"}]})),
        json!("fine")
    );
    assert_eq!(
        err_text(json!({"Fn::Error": ["not", "text"]})),
        "P.Fn::Error: Fn::Error: expected a message (a string), got a list of 2 items"
    );
}
