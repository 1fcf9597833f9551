//! The template miner (Drain) over arbitrary lines.
#![no_main]
use deployclaw::triage::drain::{Config, Miner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut miner = Miner::new(Config::default());
    for line in text.lines() {
        miner.add(line);
    }
});
