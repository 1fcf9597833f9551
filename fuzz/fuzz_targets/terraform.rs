//! Terraform `.tf` files (the HCL reader) to alert rules.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::terraform(data));
