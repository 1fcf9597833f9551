//! Terraform `.tf` files (the HCL reader) to alert rules.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = deployclaw::slo::rules::load_text(text, "fuzz.tf");
});
