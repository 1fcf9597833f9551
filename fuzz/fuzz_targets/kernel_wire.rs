//! The Jupyter kernel's wire frames (split at 0xFF), signed and unsigned.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::kernel_wire(data));
