//! Bad input never panics: arbitrary documents built from HOT's own keywords are loaded,
//! validated and evaluated, and every failure is an error value.

use iac_core::eval::{EvalContext, Lookup, Mappings, ResourceLookup, evaluate};
use iac_core::params::ParamValues;
use iac_openstack::hot;
use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys that steer the import into every branch: sections, resource and parameter keys,
/// functions of every version, and a few names templates refer to.
const KEYS: &[&str] = &[
    "heat_template_version",
    "description",
    "parameters",
    "resources",
    "outputs",
    "conditions",
    "parameter_groups",
    "type",
    "properties",
    "depends_on",
    "condition",
    "deletion_policy",
    "metadata",
    "external_id",
    "value",
    "default",
    "constraints",
    "length",
    "range",
    "min",
    "max",
    "allowed_values",
    "allowed_pattern",
    "custom_constraint",
    "hidden",
    "get_param",
    "get_resource",
    "get_attr",
    "get_file",
    "str_replace",
    "str_replace_strict",
    "str_replace_vstrict",
    "template",
    "params",
    "list_join",
    "str_split",
    "repeat",
    "for_each",
    "permutations",
    "map_merge",
    "if",
    "equals",
    "not",
    "and",
    "or",
    "Fn::Join",
    "Fn::Select",
    "Ref",
    "yaql",
    "a",
    "b",
    "p",
];

const TEXTS: &[&str] = &[
    "a",
    "b",
    "p",
    "string",
    "number",
    "json",
    "boolean",
    "comma_delimited_list",
    "Delete",
    "Snapshot",
    "2013-05-23",
    "2016-10-14",
    "wallaby",
    "%x%",
    ",",
    "",
    "[a-z]+",
    "(",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..5).prop_map(|n| json!(n)),
        prop::sample::select(TEXTS).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

/// Every resource exists and every attribute is a small structure.
struct Anything;

impl ResourceLookup for Anything {
    fn physical_id(&self, logical_id: &str) -> Lookup {
        Lookup::Known(json!(format!("{logical_id}-id")))
    }

    fn attribute(&self, _logical_id: &str, _attribute: &str) -> Lookup {
        Lookup::Known(json!({"a": ["x", {"b": 1}]}))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_templates_do_not_panic(
        version in prop::sample::select(hot::HotVersion::known().collect::<Vec<_>>()),
        sections in prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..6),
    ) {
        let mut doc = Map::new();
        doc.insert("heat_template_version".into(), json!(version));
        for (key, value) in sections {
            doc.insert(key.to_owned(), value);
        }
        let text = Value::Object(doc).to_string();
        let files = |name: &str| (name == "a").then(|| "content".to_owned());
        let Ok(t) = hot::load_with_files(&text, &files) else { return Ok(()) };
        let _ = t.validate(&|_| true);
        let params = ParamValues::from_resolved(
            IndexMap::from([("p".to_owned(), json!(["a", "b"])), ("a".to_owned(), json!("x"))]),
            Vec::<String>::new(),
        );
        let pseudo = IndexMap::new();
        let mappings = Mappings::new();
        let conditions: IndexMap<String, bool> =
            t.template().conditions.keys().map(|k| (k.clone(), true)).collect();
        let ctx = EvalContext::new(&params, &pseudo, &mappings, &conditions, &Anything);
        for (id, resource) in &t.template().resources {
            for (key, value) in &resource.properties {
                let _ = evaluate(value, &ctx, &format!("{id}.{key}"));
            }
        }
        for output in t.template().outputs.values() {
            let _ = evaluate(&output.value, &ctx, "output");
        }
    }

    #[test]
    fn arbitrary_text_does_not_panic(text in "\\PC{0,200}") {
        let _ = hot::load_str(&text);
        let _ = hot::load_str(&format!("heat_template_version: rocky\n{text}"));
    }
}
