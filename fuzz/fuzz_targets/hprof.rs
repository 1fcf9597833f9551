//! The HPROF reader as `heap histogram` uses it: any bytes end in a histogram or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::hprof(data));
