//! SLO specifications: deployclaw TOML, OpenSLO and Sloth YAML.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = deployclaw::slo::load::load_text(text, "fuzz.yaml");
    let _ = deployclaw::slo::load::load_text(text, "fuzz.toml");
});
