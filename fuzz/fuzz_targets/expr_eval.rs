//! Fuzz target `expr_eval`: see `fuzz/checks/expr_eval.rs` for what it checks.
#![no_main]

include!("../checks/expr_eval.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
