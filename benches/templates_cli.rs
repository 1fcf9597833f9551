//! `deployclaw logs templates FILE --json` as a whole process (release build) on a large log:
//! Loghub's 16 samples (../shared/bench-data/loghub-2k, or DEPLOYCLAW_LOGHUB) concatenated 30
//! times, 960,000 lines. Wall time, lines per second, and peak memory sampled from
//! /proc/PID/status (RssAnon: the process's own memory; VmHWM: everything resident, file pages
//! included). Beside it, in the same run: the same log given on stdin (read whole, as before
//! streaming), and Drain3 (`pip install drain3`) doing the same job as its users would write it.
//!
//!     cargo bench --bench templates_cli

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COPIES: usize = 30;
const RUNS: usize = 5;

/// Peak resident memory of a finished process, in bytes.
#[derive(Default, Clone, Copy)]
struct Peak {
    anon: u64,
    hwm: u64,
}

/// Run `command` to the end with stdout discarded, sampling its memory every 2 ms.
fn measure(command: &mut Command) -> (Duration, Peak) {
    let start = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("the command starts");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = Peak::default();
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
            };
            peak.anon = peak.anon.max(field("RssAnon:").unwrap_or(0) * 1024);
            peak.hwm = peak.hwm.max(field("VmHWM:").unwrap_or(0) * 1024);
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "{command:?} failed");
            return (start.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median_of(mut runs: Vec<(Duration, Peak)>) -> (Duration, Peak) {
    runs.sort_by_key(|r| r.0);
    let time = runs[runs.len() / 2].0;
    let peak = Peak {
        anon: runs.iter().map(|r| r.1.anon).max().unwrap_or(0),
        hwm: runs.iter().map(|r| r.1.hwm).max().unwrap_or(0),
    };
    (time, peak)
}

fn big_log(root: &Path, into: &Path) -> Option<(PathBuf, usize, u64)> {
    let mut samples = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let name = dir.file_name()?.to_string_lossy().into_owned();
        samples.push(std::fs::read(dir.join(format!("{name}_2k.log"))).ok()?);
    }
    let mut text = Vec::new();
    for _ in 0..COPIES {
        for sample in &samples {
            text.extend_from_slice(sample);
            if !text.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
    }
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    let path = into.join("loghub-x30.log");
    std::fs::write(&path, &text).ok()?;
    Some((path, lines, text.len() as u64))
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn main() {
    let root = std::env::var("DEPLOYCLAW_LOGHUB")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-data/loghub-2k"));
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some((log, lines, bytes)) = big_log(&root, dir.path()) else {
        println!("Loghub's samples are not at {}: set DEPLOYCLAW_LOGHUB", root.display());
        return;
    };
    let exe = env!("CARGO_BIN_EXE_deployclaw");
    let home = dir.path().join("home");
    let ours = |stdin: bool| {
        let mut c = Command::new(exe);
        c.env("DEPLOYCLAW_HOME", &home);
        if stdin {
            c.args(["logs", "templates", "-", "--json"]).stdin(std::fs::File::open(&log).expect("the log"));
        } else {
            c.args(["logs", "templates"]).arg(&log).arg("--json");
        }
        c
    };
    // One warm-up run puts the file in the page cache.
    measure(&mut ours(false));
    let streamed = median_of((0..RUNS).map(|_| measure(&mut ours(false))).collect());
    let whole = median_of((0..3).map(|_| measure(&mut ours(true))).collect());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/drain3_file.py");
    let drain3_here =
        Command::new("python3").args(["-c", "import drain3"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let drain3 = drain3_here.then(|| measure(Command::new("python3").arg(script).arg(&log)));

    println!("{lines} lines, {}, {} runs of deployclaw (median time; peak memory the highest seen)\n", mb(bytes), RUNS);
    println!("| what | time | lines/s | peak RssAnon | peak VmHWM |");
    println!("| --- | --- | --- | --- | --- |");
    let row = |what: &str, (time, peak): (Duration, Peak)| {
        println!(
            "| {what} | {:.2} s | {:.2} M | {} | {} |",
            time.as_secs_f64(),
            lines as f64 / time.as_secs_f64() / 1e6,
            mb(peak.anon),
            mb(peak.hwm)
        );
    };
    row("deployclaw `logs templates FILE --json` (streamed)", streamed);
    row("deployclaw `logs templates - --json` (stdin, read whole)", whole);
    match drain3 {
        Some(d) => row("peer: Drain3, two streamed passes (benches/peers/drain3_file.py)", d),
        None => println!("\npeer: Drain3 not available (pip install drain3)"),
    }
}
