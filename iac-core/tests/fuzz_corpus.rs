//! The fuzz targets' checks (`fuzz/checks/`), run by `cargo test` where libFuzzer is not:
//! every file of their corpora (`fuzz/corpus/<target>/`), byte mutations of those files,
//! and template-shaped JSON made by proptest from the functions and keys of ROS.

mod ros_loader {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/ros_loader.rs"
    ));
}

mod expr_eval {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/expr_eval.rs"
    ));
}

mod mutate {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/mutate.rs"
    ));
}

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Map, Value};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_the_checks() {
    let mut n = 0;
    for target in ["ros_loader", "expr_eval"] {
        for (path, bytes) in corpus(target) {
            // A panic names the file.
            let name = path.display().to_string();
            let outcome = std::panic::catch_unwind(|| {
                ros_loader::check(&bytes);
                expr_eval::check(&bytes);
            });
            assert!(outcome.is_ok(), "{name}");
            n += 1;
        }
    }
    assert!(n >= 50, "the corpora hold {n} files");
    println!("reliability fuzz-replay core: files={n} panics=0");
}

/// Keys and values a template is made of.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "A",
            "B",
            "Vpc",
            "Web",
            "Env",
            "x",
            "",
            "${A}",
            "${A.Id}",
            "${!Literal}",
            "${",
            "ALIYUN::Region",
            "ALIYUN::NoValue",
            "ALIYUN::StackName",
            "Test::Thing",
            "ALIYUN::ECS::VPC",
            "true",
            "0",
            "-1",
            "a,b,c",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Ref",
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::Sub",
        "Fn::Select",
        "Fn::If",
        "Fn::Equals",
        "Fn::And",
        "Fn::Or",
        "Fn::Not",
        "Fn::Base64",
        "Fn::Base64Encode",
        "Fn::FindInMap",
        "Fn::Split",
        "Fn::Replace",
        "Fn::Str",
        "Fn::GetAZs",
        "Fn::Length",
        "Fn::Index",
        "Condition",
        "Type",
        "Properties",
        "DependsOn",
        "Value",
        "Default",
        "A",
        "B",
        "k",
    ])
    .prop_map(str::to_owned)
}

fn expr() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 1..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn template() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(expr(), 1..4),
        prop::collection::vec(expr(), 0..3),
        expr(),
        any::<bool>(),
    )
        .prop_map(|(props, outputs, condition, with_params)| {
            let mut resources = Map::new();
            for (i, p) in props.into_iter().enumerate() {
                let id = ["A", "B", "Web", "Env"][i % 4];
                resources.insert(
                    id.to_owned(),
                    serde_json::json!({"Type": "ALIYUN::ECS::VPC", "Properties": {"X": p}}),
                );
            }
            let outputs: Map<String, Value> = outputs
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("O{i}"), serde_json::json!({"Value": v})))
                .collect();
            let mut t = serde_json::json!({
                "ROSTemplateFormatVersion": "2015-09-01",
                "Conditions": {"C": condition},
                "Mappings": {"M": {"k": {"A": "x", "B": ["y", "z"]}}},
                "Resources": resources,
                "Outputs": outputs,
            });
            if with_params {
                t["Parameters"] = serde_json::json!({
                    "Env": {"Type": "String", "Default": "prod"},
                    "x": {"Type": "CommaDelimitedList", "Default": "a,b"}
                });
            }
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn template_shaped_inputs_pass_the_checks(t in template()) {
        let text = serde_json::to_string(&t).unwrap();
        ros_loader::check(text.as_bytes());
        expr_eval::check(text.as_bytes());
        let yaml = serde_yaml::to_string(&t).unwrap();
        ros_loader::check(yaml.as_bytes());
    }

    #[test]
    fn mutated_corpus_files_pass_the_checks(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let files = corpus("ros_loader");
        let bytes = mutate::mutate(files[pick.index(files.len())].1.clone(), &edits);
        ros_loader::check(&bytes);
        expr_eval::check(&bytes);
    }
}
