// The check of the `ros_loader` fuzz target, shared with the corpus replay of
// `iac-core/tests/fuzz_corpus.rs` (included in both).

/// Any input gives a template or an error, never a panic, a stack overflow or a hang; a
/// template that loads writes back and loads again to the same template.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = iac_core::loader::load_json(text) {
        let again = iac_core::loader::to_json_string_pretty(&t).expect("a loaded template writes");
        let back = iac_core::loader::load_json(&again).expect("a written template loads");
        assert_eq!(back, t);
    }
    if let Ok(t) = iac_core::loader::load_yaml(text) {
        let _ = iac_core::loader::to_yaml_string(&t);
    }
}
