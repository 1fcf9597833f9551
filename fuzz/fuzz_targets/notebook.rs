//! Notebook JSON (nbformat 4) as `notebook run` reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::notebook(data));
