//! Fuzz target `ros_loader`: see `fuzz/checks/ros_loader.rs` for what it checks.
#![no_main]

include!("../checks/ros_loader.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
