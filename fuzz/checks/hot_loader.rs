// The check of the `hot_loader` fuzz target, shared with the corpus replay of
// `iac-openstack/tests/fuzz_corpus.rs` (included in both).

/// Any input gives a HOT template or an error, never a panic, a stack overflow or a hang;
/// a template that loads validates (with or without problems) and its IR writes back as
/// ROS JSON that loads again to the same IR. True when the input loaded.
pub fn check(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(hot) = iac_openstack::hot::load_str(text) else {
        return false;
    };
    let _ = hot.validate(&|t: &str| t.starts_with("OS::"));
    let ir = hot.template();
    if let Ok(json) = iac_core::loader::to_json_string_pretty(ir) {
        let back = iac_core::loader::load_json(&json).expect("a written template loads");
        assert_eq!(&back, ir);
    }
    true
}
