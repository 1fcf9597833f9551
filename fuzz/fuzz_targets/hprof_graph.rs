//! The object-graph build behind dominators, paths and tenants, from a dump file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile_in_shm() else { return };
    let path = dir.join("fuzz.hprof");
    if std::fs::write(&path, data).is_ok() {
        let _ = deployclaw::heap::graph::Graph::build(&path, &mut |_| true);
    }
    let _ = std::fs::remove_file(&path);
});

/// A per-process scratch folder in memory when the machine has one.
fn tempfile_in_shm() -> std::io::Result<std::path::PathBuf> {
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let dir = base.join(format!("deployclaw-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
