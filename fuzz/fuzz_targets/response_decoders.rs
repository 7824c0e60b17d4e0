//! Fuzz target `response_decoders`: see `fuzz/checks/response_decoders.rs` for what it checks.
#![no_main]

include!("../checks/response_decoders.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
