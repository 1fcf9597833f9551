//! SLO specifications: deployclaw TOML, OpenSLO and Sloth YAML.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::slo_specs(data));
