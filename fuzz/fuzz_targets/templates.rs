//! The header finder and the template miner (Drain) over arbitrary lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::templates(data));
