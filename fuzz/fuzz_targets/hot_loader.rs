//! Fuzz target `hot_loader`: see `fuzz/checks/hot_loader.rs` for what it checks.
#![no_main]

include!("../checks/hot_loader.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
});
