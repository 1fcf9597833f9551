//! V8 heap snapshots (`.heapsnapshot` JSON) to a histogram.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("deployclaw-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("fuzz.heapsnapshot");
    if std::fs::write(&path, data).is_ok()
        && let Ok(snapshot) = deployclaw::heap::v8::read(&path)
    {
        let _ = deployclaw::heap::v8::histogram(&snapshot);
    }
});
