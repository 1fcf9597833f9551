//! V8 heap snapshots (`.heapsnapshot` JSON) to a histogram.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::v8_snapshot(data));
