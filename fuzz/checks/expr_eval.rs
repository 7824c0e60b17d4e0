// The check of the `expr_eval` fuzz target, shared with the corpus replay of
// `iac-core/tests/fuzz_corpus.rs` (included in both).

use iac_core::eval::{EvalContext, Lookup, ResourceLookup};
use indexmap::IndexMap;
use serde_json::{Value, json};

/// Every resource exists; ids and attributes are known for names starting with a vowel.
struct Resources;

impl ResourceLookup for Resources {
    fn physical_id(&self, logical_id: &str) -> Lookup {
        match logical_id.chars().next() {
            Some('A' | 'E' | 'I' | 'O' | 'U') => Lookup::Known(json!(format!("id-{logical_id}"))),
            Some(_) => Lookup::Unknown,
            None => Lookup::Missing,
        }
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Lookup {
        match logical_id.chars().next() {
            Some('A' | 'E' | 'I' | 'O' | 'U') => Lookup::Known(json!([attribute, 1, {"k": "v"}])),
            Some(_) => Lookup::Unknown,
            None => Lookup::Missing,
        }
    }
}

/// A template read from the input is validated, its parameters resolved from their
/// defaults, its conditions resolved and every resource's properties and every output
/// evaluated. Errors are fine; panics, overflows and hangs are not.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = iac_core::loader::load_json(text) else {
        return;
    };
    let _ = iac_core::validate::validate(
        &template,
        &|t| t.starts_with("ALIYUN::"),
        &["ALIYUN::Region", "ALIYUN::StackName"],
    );
    let Ok(params) = iac_core::params::resolve_parameters(&template.parameters, &IndexMap::new())
    else {
        return;
    };
    let pseudo = IndexMap::from([
        ("ALIYUN::Region".to_owned(), json!("cn-hangzhou")),
        ("ALIYUN::StackName".to_owned(), json!("fuzz")),
        ("ALIYUN::AccountId".to_owned(), Value::from(123)),
    ]);
    let Ok(conditions) = iac_core::eval::resolve_conditions(
        &template.conditions,
        &params,
        &pseudo,
        &template.mappings,
    ) else {
        return;
    };
    let ctx = EvalContext::new(
        &params,
        &pseudo,
        &template.mappings,
        &conditions,
        &Resources,
    );
    for (id, spec) in &template.resources {
        let path = format!("Resources.{id}.Properties");
        let _ = iac_core::eval::evaluate_properties(&spec.properties, &ctx, &path);
    }
    for (id, out) in &template.outputs {
        let _ = iac_core::eval::evaluate(&out.value, &ctx, &format!("Outputs.{id}.Value"));
    }
}
