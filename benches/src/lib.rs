//! Performance harness of the iac SDK: criterion benches live in `benches/`.
