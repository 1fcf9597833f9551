//! Build logs in every CI format, detected and forced, to classified lines and causes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::ci_logs(data));
