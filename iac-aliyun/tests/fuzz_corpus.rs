//! The `response_decoders` fuzz target's check (`fuzz/checks/`), run by `cargo test` where
//! libFuzzer is not: every file of its corpus, byte mutations of those files and random
//! bytes.

mod response_decoders {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/checks/response_decoders.rs"
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

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/response_decoders");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_corpus_file_passes_the_check() {
    let files = corpus();
    assert!(files.len() >= 10, "{} files", files.len());
    for bytes in &files {
        response_decoders::check(bytes);
    }
    println!(
        "reliability fuzz-replay aliyun: files={} panics=0",
        files.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_pass_the_check(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        response_decoders::check(&bytes);
    }

    #[test]
    fn mutated_answers_pass_the_check(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let files = corpus();
        let bytes = mutate::mutate(files[pick.index(files.len())].clone(), &edits);
        response_decoders::check(&bytes);
    }
}
