//! What a fleet host answers: its process table, jcmd listings, properties and histograms.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::host_answers(data));
