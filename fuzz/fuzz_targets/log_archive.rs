//! Any bytes as a zip archive of build logs, to entries, lines and causes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::log_archive(data));
