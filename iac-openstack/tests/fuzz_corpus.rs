//! The `hot_loader` fuzz target's check (`fuzz/checks/`), run by `cargo test` where
//! libFuzzer is not: every file of its corpus and every shared Heat template
//! (`../shared/templates/hot/`), each also with byte mutations.

mod hot_loader {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/hot_loader.rs"
    ));
}

mod mutate {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/mutate.rs"
    ));
}

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json" | "template")
        ) {
            out.push(path);
        }
    }
}

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    files_under(&root.join("../fuzz/corpus/hot_loader"), &mut paths);
    let kept = paths.len();
    assert!(kept >= 4, "the kept corpus holds {kept} files");
    files_under(&root.join("../../shared/templates/hot"), &mut paths);
    assert!(
        paths.len() > kept + 100,
        "the shared Heat templates were not found"
    );
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn every_corpus_file_and_shared_template_passes_the_check() {
    let inputs = inputs();
    let mut loaded = 0;
    for (name, bytes) in &inputs {
        match std::panic::catch_unwind(|| hot_loader::check(bytes)) {
            Ok(true) => loaded += 1,
            Ok(false) => {}
            Err(_) => panic!("{name}"),
        }
    }
    // The check is not vacuous: most of the real templates load and round-trip.
    assert!(
        loaded > 100,
        "only {loaded} of {} inputs loaded",
        inputs.len()
    );
    println!(
        "reliability fuzz-replay openstack: files={} loaded={loaded} panics=0",
        inputs.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_templates_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let inputs = inputs();
        let (_, bytes) = &inputs[pick.index(inputs.len())];
        hot_loader::check(&mutate::mutate(bytes.clone(), &edits));
    }
}
