//! Alert-rule files (Prometheus, Sloth and Pyrra output, CloudFormation, Terraform plans, PagerDuty).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deployclaw::fuzzing::slo_rules(data));
