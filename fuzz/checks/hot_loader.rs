// The check of the `hot_loader` fuzz target, shared with the corpus replay of
// `iac-openstack/tests/fuzz_corpus.rs` (included in both).

/// Any input gives a HOT template or an error, never a panic, a stack overflow or a hang;
/// a template that loads validates (with or without problems) and its IR writes back as
/// ROS JSON that loads again to the same IR, unless ROS cannot express it (a Snapshot
/// deletion policy, an external_id: then writing it fails). True when the input loaded.
pub fn check(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(hot) = iac_openstack::hot::load_str(text) else {
        return false;
    };
    let _ = hot.validate(&|t: &str| t.starts_with("OS::"));
    let ir = hot.template();
    // HOT data may hold a one-key map named like a ROS function (`{"Fn::X": ...}`, `Ref`,
    // `Condition`): ROS JSON cannot tell such data from a call, so the round trip is
    // checked only for templates without one.
    let ambiguous = serde_yaml::from_str::<serde_json::Value>(text)
        .map_or(true, |doc| has_ros_function_key(&doc));
    if ambiguous {
        return true;
    }
    let written = iac_core::loader::to_json_string_pretty(ir);
    if iac_core::loader::ros_incompatibility(ir).is_some() {
        assert!(written.is_err(), "what ROS cannot express is not written");
    }
    if let Ok(json) = written {
        let back = iac_core::loader::load_json(&json).expect("a written template loads");
        assert_eq!(&back, ir);
    }
    true
}

/// Whether `value` holds a one-key map whose key ROS reads as a function.
fn has_ros_function_key(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => items.iter().any(has_ros_function_key),
        serde_json::Value::Object(map) => {
            let named_like_a_function = map.len() == 1
                && map
                    .keys()
                    .all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"));
            named_like_a_function || map.values().any(has_ros_function_key)
        }
        _ => false,
    }
}
