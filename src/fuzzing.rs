//! What each fuzz target feeds to the readers of untrusted input, in one place: the cargo-fuzz
//! targets in `fuzz/` call these, and `tests/fuzz_regressions.rs` replays every input they
//! ever crashed on (kept in `tests/fixtures/fuzz/<target>/`) through the same calls, so a
//! finding stays fixed in the normal test suite. Each function takes any bytes and must return.

use crate::triage::{Format, Rules};
use std::sync::LazyLock;

/// The targets, by the names of their folders under `tests/fixtures/fuzz/` and `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 15] = [
    "hprof",
    "hprof_graph",
    "v8_snapshot",
    "ci_logs",
    "templates",
    "slo_rules",
    "slo_specs",
    "terraform",
    "durations",
    "notebook",
    "kernel_wire",
    "log_verify",
    "guard",
    "host_answers",
    "log_archive",
];

/// Run one target on `data`; false when there is no such target. `guard` needs a tenancy map:
/// use [`guard`] for it.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "hprof" => hprof(data),
        "hprof_graph" => hprof_graph(data),
        "v8_snapshot" => v8_snapshot(data),
        "ci_logs" => ci_logs(data),
        "log_archive" => log_archive(data),
        "templates" => templates(data),
        "slo_rules" => slo_rules(data),
        "slo_specs" => slo_specs(data),
        "terraform" => terraform(data),
        "durations" => durations(data),
        "notebook" => notebook(data),
        "kernel_wire" => kernel_wire(data),
        "log_verify" => log_verify(data),
        "host_answers" => host_answers(data),
        _ => return false,
    }
    true
}

/// The HPROF reader as `heap histogram` uses it.
pub fn hprof(data: &[u8]) {
    let _ = crate::heap::histogram::histogram(data, "fuzz.hprof");
}

/// The object-graph build behind dominators, paths and tenants, from a dump file (in memory
/// when the machine has /dev/shm).
pub fn hprof_graph(data: &[u8]) {
    with_file(data, "fuzz.hprof", |path| {
        let _ = crate::heap::graph::Graph::build(path, &mut |_| true);
    });
}

/// A V8 `.heapsnapshot` file read and summed.
pub fn v8_snapshot(data: &[u8]) {
    with_file(data, "fuzz.heapsnapshot", |path| {
        if let Ok(snapshot) = crate::heap::v8::read(path) {
            let _ = crate::heap::v8::histogram(&snapshot);
        }
    });
}

/// Call `read` on `data` written to a per-process scratch file (in memory when the machine has
/// /dev/shm), for readers that take a path.
fn with_file(data: &[u8], name: &str, read: impl FnOnce(&std::path::Path)) {
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let dir = base.join(format!("deployclaw-fuzz-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(name);
    if std::fs::write(&path, data).is_ok() {
        read(&path);
    }
    let _ = std::fs::remove_file(&path);
}

// Compiled once: compiling the rules' regexes on every input would be most of each run.
static RULES: LazyLock<Rules> = LazyLock::new(Rules::builtin);

/// Any text as a build log, detected and as each format, to lines and causes.
pub fn ci_logs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for format in
        [None, Some(Format::GithubActions), Some(Format::Jenkins), Some(Format::Codebuild), Some(Format::Plain)]
    {
        let lines = crate::triage::read_text_as(&text, format, "fuzz.log", "job");
        let _ = crate::triage::classify(&lines, &RULES);
        let _ = crate::triage::aws::scan(&lines, crate::triage::aws::Catalog::builtin());
    }
}

/// Any bytes as a zip archive of build logs (GitHub Actions' log download), to lines and causes.
pub fn log_archive(data: &[u8]) {
    let Ok(entries) = crate::triage::archive::entries(std::path::Path::new("fuzz.zip"), data) else { return };
    for entry in entries {
        let lines = crate::triage::read_text_as(&entry.text, None, &entry.name, &entry.job);
        let _ = crate::triage::classify(&lines, &RULES);
    }
}

/// Any lines through the header finder and the template miner, in memory and as the streamed
/// file `logs templates FILE` reads (raw bytes: invalid UTF-8 and gzip magic included).
pub fn templates(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    let mut miner = crate::triage::Miner::new(Default::default());
    for (_, message) in crate::triage::header::split_all(&lines) {
        miner.add(message);
    }
    with_file(data, "fuzz.log", |path| {
        if let Ok(mined) = crate::triage::templates::mine(path, None) {
            let _ = crate::triage::templates::write_json_lines(path, &mined, &mut std::io::sink());
        }
    });
}

/// Any text as an alert-rule file, told apart by what it holds.
pub fn slo_rules(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::slo::rules::load_text(text, "fuzz.yaml");
    }
}

/// Any text as an SLO file, as YAML and as TOML.
pub fn slo_specs(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::slo::load::load_text(text, "fuzz.yaml");
        let _ = crate::slo::load::load_text(text, "fuzz.toml");
    }
}

/// Any text as a Terraform file.
pub fn terraform(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::slo::rules::load_text(text, "fuzz.tf");
    }
}

/// Durations as SLOs, rules and flags write them.
pub fn durations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = crate::units::parse_duration(text) {
        let _ = crate::units::format_duration(d);
    }
    let _ = crate::slo::rules::window_in_name(text);
}

/// Any JSON as a notebook, and each cell's source.
pub fn notebook(data: &[u8]) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(mut notebook) = crate::notebook::format::Notebook::from_json(json) {
        for cell in notebook.cells_mut().iter() {
            let _ = crate::notebook::format::source_text(cell);
        }
    }
}

/// The kernel's wire frames (split at 0xFF), signed and unsigned.
pub fn kernel_wire(data: &[u8]) {
    let frames: Vec<bytes::Bytes> = data.split(|&b| b == 0xFF).map(bytes::Bytes::copy_from_slice).collect();
    let _ = crate::notebook::kernel::wire::Message::decode(frames.clone(), b"key");
    // Unsigned (an empty key): the frames reach the JSON readers whatever the signature is.
    let _ = crate::notebook::kernel::wire::Message::decode(frames, b"");
}

/// `log verify` on any bytes, as a session log and as the chain index of a folder holding it.
pub fn log_verify(data: &[u8]) {
    let report = crate::evidence::verify_log(data, &[]);
    let log = crate::evidence::LogFile { path: "fuzz.jsonl".into(), report, running: false };
    let _ = crate::evidence::check_chain(Some(data), std::slice::from_ref(&log), &[]);
}

/// What a fleet host answers, read here: its process table (the `/proc` listing), `jcmd -l`,
/// `VM.system_properties` and `GC.class_histogram`.
pub fn host_answers(data: &[u8]) {
    let _ = crate::fleet::launcher::parse(data);
    let text = String::from_utf8_lossy(data);
    let _ = crate::fleet::jvm::parse_list(&text);
    let _ = crate::fleet::jvm::parse_properties(&text);
    let _ = crate::heap::live::parse_class_histogram(&text);
}

/// The tenant guard on any statement, in every dialect, with the tenancy map given as TOML.
pub fn guard(tenancy_toml: &str, data: &[u8]) {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    for dialect in [crate::sql::Dialect::Postgres, crate::sql::Dialect::Mysql, crate::sql::Dialect::Sqlite] {
        let Ok(tenancy) = crate::sql::Tenancy::from_toml(tenancy_toml, "tenancy.toml") else { return };
        let _ = crate::sql::Guard::new(tenancy, dialect, None).check(sql);
    }
}
