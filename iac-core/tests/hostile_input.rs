//! Hostile input: a corpus of broken templates and parameters. Each must end in an error
//! that names what is wrong and where (file, line, JSON path, logical id or parameter), with
//! no panic and no hang. The corpus lives in `tests/fixtures/hostile/`; the large and deep
//! inputs are generated here rather than stored.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use iac_core::engine::{FailurePolicy, StackInput};
use iac_core::loader::{self, LoadError};
use iac_core::memory::MemoryConfig;
use serde_json::json;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// Loads `text` as JSON, then (when it loads) plans it: the error text of whichever fails.
async fn first_error(text: &str, params: serde_json::Value) -> String {
    let template = match loader::load_json(text) {
        Ok(t) => t,
        Err(e) => return format!("load: {e}"),
    };
    let (_cloud, engine, _store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let mut input = StackInput::new("hostile", template);
    if let serde_json::Value::Object(map) = params {
        input.parameters = map.into_iter().collect();
    }
    match engine.plan(&input).await {
        Ok(plan) => panic!("expected an error, got a plan:\n{plan}"),
        Err(e) => format!("plan: {e}"),
    }
}

fn assert_names(msg: &str, needles: &[&str]) {
    for needle in needles {
        assert!(msg.contains(needle), "{needle:?} not in: {msg}");
    }
}

/// Every file of the corpus, with what its error must name. A new file without an entry
/// here fails the test, so the corpus and its expectations stay together.
#[tokio::test]
async fn every_template_of_the_corpus_is_refused_with_a_clear_error() {
    let expected: &[(&str, &[&str])] = &[
        ("cycle.json", &["dependency cycle", "A -> C -> B -> A"]),
        ("self_reference.json", &["cycle", "A -> A"]),
        (
            "dangling_ref.json",
            &["Missing", "Resources.Web.Properties.SubnetId"],
        ),
        (
            "dangling_getatt.json",
            &["Ghost", "Resources.Web.Properties.Name"],
        ),
        ("dangling_depends_on.json", &["Nowhere", "Web"]),
        (
            "select_arity.json",
            &["Fn::Select", "Resources.Web.Properties.Name"],
        ),
        (
            "join_arity.json",
            &["Fn::Join", "Resources.Web.Properties.Name"],
        ),
        (
            "getatt_arity.json",
            &["Fn::GetAtt", "Resources.Web.Properties.Name"],
        ),
        ("if_unknown_condition.json", &["NoSuchCondition", "Web"]),
        (
            "unknown_function.json",
            &["Fn::Frobnicate", "Resources.Web.Properties.Name"],
        ),
        ("huge_count.json", &["Count", "Web"]),
        ("unknown_type.json", &["Test::Nope", "Web"]),
        ("resources_not_a_map.json", &["Resources"]),
        ("truncated.json", &["line"]),
        ("duplicate_keys.json", &["duplicate key 'Web'", "line 3"]),
        (
            "not_an_object.json",
            &["must be a mapping", "found a string"],
        ),
        (
            "bad_sub.json",
            &["Fn::Sub", "Resources.Web.Properties.Name"],
        ),
    ];
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let known: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    for file in &files {
        assert!(known.contains(&file.as_str()), "{file} has no expectation");
    }
    for (file, needles) in expected {
        let text = std::fs::read_to_string(corpus().join(file)).unwrap();
        let msg = first_error(&text, json!({})).await;
        assert_names(&msg, needles);
        println!("{file}: {msg}");
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["latin1.json", "latin1.yaml"] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"{\"Resources\": {\"Caf\xe9\": {}}}").unwrap();
        let err = loader::load_path(&path).unwrap_err();
        assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
        assert_eq!(err.file(), Some(path.as_path()));
        assert_names(&err.to_string(), &[name]);
        let why = std::error::Error::source(&err)
            .expect("the cause")
            .to_string();
        assert_names(&why, &["UTF-8"]);
    }
}

#[test]
fn deeply_nested_expressions_are_an_error_not_a_stack_overflow() {
    for depth in [200usize, 100_000] {
        let json = format!(
            "{{\"Resources\": {{\"A\": {{\"Type\": \"Test::Thing\", \"Properties\": {{\"X\": {}\"x\"{}}}}}}}}}",
            "{\"Fn::Base64\": ".repeat(depth),
            "}".repeat(depth)
        );
        let err = loader::load_json(&json).unwrap_err();
        assert_names(&err.to_string(), &["recursion limit", "line 1"]);
        let yaml = format!(
            "Resources:\n  A:\n    Type: Test::Thing\n    Properties:\n      X: {}x{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let err = loader::load_yaml(&yaml).unwrap_err();
        assert_names(
            &err.to_string(),
            &["line 5, column 138", "nested deeper than 128"],
        );
        let tags = format!(
            "Resources:\n  A:\n    Type: Test::Thing\n    Properties:\n      X: {}x\n",
            "!Base64 [".repeat(depth)
        );
        let err = loader::load_yaml(&tags).unwrap_err();
        assert_names(&err.to_string(), &["nested deeper than 128"]);
    }
    // Under the bracket limit, the parser's own recursion limit still holds.
    let yaml = format!(
        "Resources:\n  A:\n    Type: Test::Thing\n    Properties:\n      X: {}x{}\n",
        "[".repeat(127),
        "]".repeat(127)
    );
    let err = loader::load_yaml(&yaml).unwrap_err();
    assert_names(&err.to_string(), &["recursion limit exceeded"]);
}

#[test]
fn duplicate_yaml_keys_are_refused() {
    let yaml = "Resources:\n  Web:\n    Type: Test::Thing\n  Web:\n    Type: Test::Thing\n";
    let err = loader::load_yaml(yaml).unwrap_err();
    assert_names(&err.to_string(), &["duplicate", "Web"]);
}

#[test]
fn yaml_alias_bombs_are_refused() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        yaml.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    yaml.push_str("Resources:\n  A:\n    Type: Test::Thing\n    Properties:\n      X: *a8\n");
    let err = loader::load_yaml(&yaml).unwrap_err();
    assert_names(&err.to_string(), &["repetition limit exceeded"]);
}

#[tokio::test]
async fn nesting_within_the_parser_limit_evaluates() {
    // 60 nested functions: 120 JSON levels, under serde_json's limit of 128.
    let depth = 60;
    let json = format!(
        "{{\"Resources\": {{\"A\": {{\"Type\": \"Test::Thing\", \"Properties\": {{\"X\": {}\"x\"{}}}}}}}}}",
        "{\"Fn::Join\": [\"\", [".repeat(depth / 2),
        "]]}".repeat(depth / 2)
    );
    let template = loader::load_json(&json).expect("within the limit");
    let (_cloud, engine, _store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
    let plan = engine
        .plan(&StackInput::new("deep", template))
        .await
        .unwrap();
    assert_eq!(plan.resources.len(), 1);
}

#[tokio::test]
async fn a_ten_megabyte_template_loads_or_fails_cleanly() {
    // 10 MB of properties in 2,000 resources, one of which references a resource that
    // does not exist: the error must still name it, among all that text.
    let blob = "x".repeat(5_000);
    let mut resources = serde_json::Map::new();
    for i in 0..2_000 {
        resources.insert(
            format!("R{i}"),
            json!({"Type": "Test::Thing", "Properties": {"Blob": blob, "Uses": {"Ref": if i == 1_999 { "Nope".to_owned() } else { format!("R{}", i.max(1) - 1) }}}}),
        );
    }
    let text = serde_json::to_string(&json!({"Resources": resources})).unwrap();
    assert!(text.len() >= 10_000_000, "{}", text.len());
    let msg = first_error(&text, json!({})).await;
    assert_names(&msg, &["Nope", "Resources.R1999.Properties.Uses"]);
    // A single 10 MB string value loads (nothing limits a property's size here).
    let big = serde_json::to_string(&json!({"Resources": {"A": {"Type": "Test::Thing", "Properties": {"Data": "y".repeat(10_000_000)}}}})).unwrap();
    assert!(loader::load_json(&big).is_ok());
}

#[tokio::test]
async fn bad_parameters_are_each_named() {
    let t = json!({
        "Parameters": {
            "Size": {"Type": "String", "AllowedValues": ["small", "large"]},
            "Count": {"Type": "Number", "MinValue": 1, "MaxValue": 10},
            "Password": {"Type": "String", "NoEcho": true, "MinLength": 8},
            "Pattern": {"Type": "String", "AllowedPattern": "[a-z]+"},
            "List": {"Type": "CommaDelimitedList"}
        },
        "Resources": {"A": {"Type": "Test::Thing", "Properties": {"S": {"Ref": "Size"}}}}
    })
    .to_string();
    let msg = first_error(
        &t,
        json!({
            "Size": "huge",
            "Count": "many",
            "Password": "short",
            "Pattern": "ABC",
            "List": {"an": "object"},
            "Unknown": 1
        }),
    )
    .await;
    assert_names(
        &msg,
        &[
            "parameter 'Size'",
            "huge",
            "parameter 'Count'",
            "parameter 'Password'",
            "parameter 'Pattern'",
            "parameter 'List'",
            "Unknown",
        ],
    );
    // The NoEcho value is never echoed back.
    assert!(!msg.contains("short"), "{msg}");
    let msg = first_error(&t, json!({"Size": "small"})).await;
    assert_names(&msg, &["parameter 'Count'", "parameter 'Password'"]);
    let count = json!({"Parameters": {"N": {"Type": "Number"}}, "Resources": {"A": {"Type": "Test::Thing", "Properties": {"N": {"Ref": "N"}}}}}).to_string();
    for huge in [
        json!("1e400"),
        json!("99999999999999999999999999"),
        json!(f64::MAX),
    ] {
        let template = loader::load_json(&count).unwrap();
        let (_cloud, engine, _store) = setup(MemoryConfig::default(), FailurePolicy::Rollback);
        let input = StackInput::new("n", template).with_parameter("N", huge.clone());
        // Either a clear parameter error or a plan: never a panic.
        if let Err(e) = engine.plan(&input).await {
            assert_names(&e.to_string(), &["parameter 'N'"]);
        }
    }
}
