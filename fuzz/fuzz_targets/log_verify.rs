//! `log verify` on any bytes: a verdict with faults, never a crash.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::log_verify(data));
