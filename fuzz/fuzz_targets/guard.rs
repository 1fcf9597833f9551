//! The tenant guard on any statement, in every dialect, with the test suite's tenancy map.
#![no_main]
use libfuzzer_sys::fuzz_target;

const TENANCY: &str = include_str!("../../tests/fixtures/guard/tenancy.toml");

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::guard(TENANCY, data));
