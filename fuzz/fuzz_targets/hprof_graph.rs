//! The object-graph build behind dominators, paths and tenants, from a dump file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::hprof_graph(data));
