//! Durations as SLOs, rules and flags write them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = deployclaw::units::parse_duration(text) {
        let _ = deployclaw::units::format_duration(d);
    }
    let _ = deployclaw::slo::rules::window_in_name(text);
});
