// Byte edits for the corpus replays of `iac-core/tests/fuzz_corpus.rs` and
// `iac-aliyun/tests/fuzz_corpus.rs` (included in both): what proptest does where libFuzzer
// is not run.

/// Applies `edits` to `bytes`: each picks a position and replaces (0), removes (1) or
/// inserts (2) a byte there.
pub fn mutate(mut bytes: Vec<u8>, edits: &[(proptest::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, op) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at.index(bytes.len());
        match op {
            0 => bytes[i] = *byte,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, *byte),
        }
    }
    bytes
}
