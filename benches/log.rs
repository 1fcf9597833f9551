//! Session-log throughput: append per entry (amortized, seals included) and verify, beside a
//! Python implementation of the same chain (benches/peer_log.py) measured in the same run.
//!
//!     cargo bench --bench log

mod common;
use common::{median, us};
use deployclaw::evidence::{CheckpointPolicy, LocalKey, Outcome, Recorder, SessionMeta, verify_log};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const APPEND_ENTRIES: u64 = 20_000;
const VERIFY_ENTRIES: u64 = 200_000;

fn meta() -> SessionMeta {
    SessionMeta {
        id: "bench".into(),
        tool: "deployclaw bench".into(),
        user: "bench".into(),
        host: "bench".into(),
        mode: "run".into(),
        script: Some("bench.rhai".into()),
        script_sha256: Some("0".repeat(64)),
        dry_run: true,
        start: "2026-11-22T00:00:00Z".into(),
        previous_seal: None,
    }
}

fn outcome() -> Outcome {
    Outcome::Value {
        type_name: "Frame".into(),
        shape: Some(vec![120, 4]),
        hmac_sha256: "ab".repeat(32),
        key: "cd".repeat(8),
    }
}

const SOURCE: &str = r#"let hot = pools.filter("in_use >= max * 0.9").sort("in_use", true);"#;

/// Write `n` statement entries; returns the time per entry and the log's bytes.
fn append(
    dir: &std::path::Path,
    key: &Arc<LocalKey>,
    n: u64,
    policy: CheckpointPolicy,
    name: &str,
) -> (Duration, Vec<u8>) {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let start = Instant::now();
    let mut log = Recorder::create(&path, meta(), key.clone(), policy).unwrap();
    for _ in 0..n {
        log.statement(SOURCE, "2026-11-22T00:00:00.000000Z", Duration::from_micros(840), &outcome()).unwrap();
    }
    log.close().unwrap();
    let per_entry = start.elapsed() / n as u32;
    (per_entry, std::fs::read(&path).unwrap())
}

fn peer(mode: &str, n: u64, dir: &std::path::Path) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer_log.py");
    let out = Command::new(python3()).arg(script).arg(mode).arg(n.to_string()).arg(dir).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(LocalKey::create(&dir.path().join("key.pem")).unwrap());

    let default = CheckpointPolicy::default();
    let never = CheckpointPolicy { entries: u64::MAX, interval: Duration::MAX };
    let mut seal_runs = Vec::new();
    let mut raw_runs = Vec::new();
    for _ in 0..5 {
        seal_runs.push(append(dir.path(), &key, APPEND_ENTRIES, default, "a.jsonl").0);
        raw_runs.push(append(dir.path(), &key, APPEND_ENTRIES, never, "b.jsonl").0);
    }
    seal_runs.sort();
    raw_runs.sort();
    let peer_append: Vec<f64> = (0..5).filter_map(|_| peer("append", APPEND_ENTRIES, dir.path())).collect();

    println!("log append, {APPEND_ENTRIES} statement entries, median of 5 runs");
    println!("  deployclaw, checkpoint seal every 256 entries (default): {:7.2} µs/entry", us(seal_runs[2]));
    println!("  deployclaw, chain only (final seal):                     {:8.2} µs/entry", us(raw_runs[2]));
    if let Some(p) = median_f(peer_append) {
        println!(
            "  python peer, chain only (json + hashlib, one write each): {p:8.2} µs/entry  (ratio {:.1}x)",
            p / us(raw_runs[2])
        );
    }

    let (_, big) = append(dir.path(), &key, VERIFY_ENTRIES, default, "big.jsonl");
    let trusted = [key.trusted()];
    let mut report = None;
    let t = median(5, || report = Some(verify_log(&big, &trusted)));
    let report = report.unwrap();
    assert!(report.is_ok(), "the benchmark log verifies: {:?}", report.faults);
    let rate = report.entries as f64 / t.as_secs_f64();
    let peer_verify: Vec<f64> = (0..5).filter_map(|_| peer("verify", VERIFY_ENTRIES, dir.path())).collect();
    println!("log verify, {} entries ({} seals), median of 5 runs", report.entries, report.valid_seals);
    println!("  deployclaw (chain, seals, signatures):  {:>12.0} entries/s", rate);
    if let Some(p) = median_f(peer_verify) {
        println!("  python peer (chain only):               {p:>12.0} entries/s  (ratio {:.1}x)", rate / p);
    }
}

/// The interpreter itself, not a version manager's shim in front of it.
fn python3() -> String {
    let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn median_f(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}
