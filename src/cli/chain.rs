//! `deployclaw log verify --chain [DIR]`: a folder of session logs against the machine's index.

use super::log::{check_log, read_log, trusted_keys};
use super::{error, exit};
use deployclaw::evidence;
use deployclaw::paths::Home;
use std::path::{Path, PathBuf};

/// `deployclaw log verify --chain [DIR]`: every log of DIR (default: the sessions folder), and
/// the logs its index records elsewhere, checked one by one and against the index.
pub fn verify_chain(dir: Option<&Path>, pubkeys: &[PathBuf], kms: bool, only_kms_key: Option<&str>, json: bool) -> u8 {
    let home = Home::from_env();
    let dir = dir.map_or_else(|| home.sessions_dir(), Path::to_path_buf);
    let index_path = dir.join(evidence::chain::INDEX_FILE);
    let index = match std::fs::read(&index_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            error(format!("cannot read the chain index {}: {e}", index_path.display()));
            return exit::USAGE;
        }
    };
    let paths = match chain_logs(&dir, index.as_deref()) {
        Ok(paths) => paths,
        Err(message) => {
            error(message);
            return exit::USAGE;
        }
    };
    let mut keys = match trusted_keys(pubkeys, kms) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let mut logs = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = match read_log(&path) {
            Ok(bytes) => bytes,
            Err(code) => return code,
        };
        let report = match check_log(&bytes, &path, &mut keys, kms, only_kms_key) {
            Ok(report) => report,
            Err(code) => return code,
        };
        let running = held_open(&path);
        logs.push(evidence::LogFile { path, report, running });
    }
    let report = evidence::check_chain(index.as_deref(), &logs, &keys);
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else {
        print_chain(&dir, &report);
    }
    if report.is_ok() { exit::OK } else { exit::FAILED }
}

fn print_chain(dir: &Path, report: &evidence::ChainReport) {
    let what = if report.indexed {
        format!("{} session log(s), {} indexed", report.logs, report.records)
    } else {
        format!("{} session log(s), no index (only the logs' own links checked)", report.logs)
    };
    if report.is_ok() {
        println!("ok: {}: {what}", dir.display());
    } else {
        println!("FAILED: {}: {what}; {} fault(s)", dir.display(), report.faults.len());
        for fault in &report.faults {
            println!("  - {}", super::printable(&fault.to_string()));
        }
    }
    for pair in &report.concurrent {
        println!("  note: sessions {} and {} ran at the same time", pair.session, pair.with);
    }
    if !report.before_index.is_empty() {
        println!(
            "  note: {} sealed log(s) are from before this machine kept an index: checked on their own and by their links only",
            report.before_index.len()
        );
    }
    for log in &report.running {
        println!("  note: {} is still being written by a running session", super::printable(log));
    }
    if let Some(head) = &report.head {
        println!(
            "chain head: {head} (keep it elsewhere: a later check that ends on another head shows sessions cut from the end)"
        );
    }
}

/// The session logs of `dir` (`*.jsonl`), then those its index records elsewhere that exist.
fn chain_logs(dir: &Path, index: Option<&[u8]>) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the sessions folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    paths.sort();
    let mut seen: std::collections::HashSet<PathBuf> =
        paths.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    let recorded = index.unwrap_or_default().split(|&b| b == b'\n');
    for record in recorded.filter_map(|l| serde_json::from_slice::<evidence::chain::Record>(l).ok()) {
        let path = PathBuf::from(&record.log);
        if path.is_file() && std::fs::canonicalize(&path).is_ok_and(|p| seen.insert(p)) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Whether a running session holds the log (the recorder locks it until its final seal).
fn held_open(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}
