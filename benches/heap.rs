//! Heap-dump reading on real JVM dumps made by ../shared/bench/make-dumps.sh, beside hprof-slurp
//! in the same run, plus the accuracy of our histogram against the JVM's own.
//!
//!     bash ../shared/bench/make-dumps.sh ~/.cache/deployclaw/bench-dumps   # once, ~0.6 + 1.2 GB
//!     cargo install hprof-slurp                                            # the peer
//!     cargo bench --bench heap
//!
//! DEPLOYCLAW_BENCH_DUMPS overrides the dump folder.

use std::path::{Path, PathBuf};
use std::process::Command;

const RUNS: usize = 3;

/// Wall seconds and peak RSS (MiB) of a command, by GNU time.
fn measure(cmd: &[&str]) -> (f64, f64) {
    let out = Command::new("/usr/bin/time").args(["-f", "%e %M"]).args(cmd).output().expect("/usr/bin/time runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).expect("time prints seconds");
    let kb: f64 = parts.next().and_then(|s| s.parse().ok()).expect("time prints max RSS");
    (secs, kb / 1024.0)
}

/// [`measure`] for commands that exit 3 because they record findings.
fn measure_allowing_findings(cmd: &[&str]) -> (f64, f64) {
    let out = Command::new("/usr/bin/time").args(["-f", "%e %M"]).args(cmd).output().expect("/usr/bin/time runs");
    let err = String::from_utf8_lossy(&out.stderr);
    let mut parts = err.lines().last().unwrap_or_default().split_whitespace();
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{cmd:?}: {err}"));
    let kb: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (secs, kb / 1024.0)
}

fn median_of(cmd: &[&str]) -> (f64, f64) {
    let mut runs: Vec<(f64, f64)> = (0..RUNS).map(|_| measure(cmd)).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs[RUNS / 2]
}

fn warm(path: &Path) {
    let _ = std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut std::io::sink());
}

fn gb(path: &Path) -> f64 {
    std::fs::metadata(path).unwrap().len() as f64 / 1e9
}

fn main() {
    let dir = std::env::var_os("DEPLOYCLAW_BENCH_DUMPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cache/deployclaw/bench-dumps"));
    let (base, cur) = (dir.join("base.hprof"), dir.join("cur.hprof"));
    if !base.exists() || !cur.exists() {
        println!("no dumps in {}: make them with bash ../shared/bench/make-dumps.sh {}", dir.display(), dir.display());
        return;
    }
    let bin = env!("CARGO_BIN_EXE_deployclaw");
    let home = tempfile::tempdir().unwrap();
    // SAFETY: single-threaded here, before any child process starts.
    unsafe { std::env::set_var("DEPLOYCLAW_HOME", home.path()) };
    let slurp = Command::new("hprof-slurp").arg("--version").output().is_ok();

    println!("heap dumps from make-dumps.sh, warm page cache, median of {RUNS} runs");
    for dump in [&base, &cur] {
        warm(dump);
        let size = gb(dump);
        let d = dump.to_str().unwrap();
        let (secs, rss) = median_of(&[bin, "heap", "histogram", d, "--json"]);
        println!("  {} ({size:.2} GB)", dump.file_name().unwrap().to_string_lossy());
        println!("    deployclaw heap histogram: {secs:6.2} s  {:5.2} GB/s  peak RSS {rss:6.0} MiB", size / secs);
        if slurp {
            let (s2, r2) = median_of(&["hprof-slurp", d]);
            println!(
                "    hprof-slurp (peer):        {s2:6.2} s  {:5.2} GB/s  peak RSS {r2:6.0} MiB  (deployclaw {:.2}x)",
                size / s2,
                s2 / secs
            );
        }
    }
    let both = gb(&base) + gb(&cur);
    let (secs, rss) = median_of(&[bin, "heap", "diff", base.to_str().unwrap(), cur.to_str().unwrap(), "--json"]);
    println!(
        "  deployclaw heap diff base cur: {secs:6.2} s  {:5.2} GB/s over both  peak RSS {rss:6.0} MiB",
        both / secs
    );
    if slurp {
        let (s2, r2) = median_of(&["hprof-slurp", "diff", base.to_str().unwrap(), cur.to_str().unwrap()]);
        println!(
            "  hprof-slurp diff (peer):       {s2:6.2} s  {:5.2} GB/s over both  peak RSS {r2:6.0} MiB  (deployclaw {:.2}x)",
            both / s2,
            s2 / secs
        );
    }

    // The object graph: no peer runs here (Eclipse MAT needs a download this machine cannot make).
    let c = cur.to_str().unwrap();
    let (secs, rss) = median_of(&[bin, "heap", "dominators", c, "--json"]);
    println!(
        "  deployclaw heap dominators cur (graph, dominators, retained sizes): {secs:6.2} s  peak RSS {rss:6.0} MiB"
    );
    let (secs, rss) = measure_allowing_findings(&[bin, "heap", "secrets", c, "--json"]);
    println!("  deployclaw heap secrets cur: {secs:6.2} s  {:5.2} GB/s  peak RSS {rss:6.0} MiB", gb(&cur) / secs);
    let rule = "map:LeakSim.REGISTRY";
    let (secs, rss) =
        measure_allowing_findings(&[bin, "heap", "tenants", base.to_str().unwrap(), c, "--rule", rule, "--json"]);
    let out = Command::new(bin)
        .args(["heap", "tenants", base.to_str().unwrap(), c, "--rule", rule, "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    println!(
        "  deployclaw heap tenants base cur --rule {rule}: {secs:6.2} s  peak RSS {rss:6.0} MiB  fastest growth: {} ({} bytes; next {} bytes)",
        rows[0]["tenant"], rows[0]["growth_bytes"], rows[1]["growth_bytes"]
    );

    // Accuracy against the JVM's own histogram of the same moment.
    let truth_path = dir.join("cur.histo.txt");
    if let Ok(truth) = std::fs::read_to_string(&truth_path) {
        let out = Command::new(bin).args(["heap", "histogram", cur.to_str().unwrap(), "--json"]).output().unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours: Vec<(String, u64, u64)> = ours
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["class"].as_str().unwrap().to_string(),
                    r["instances"].as_u64().unwrap(),
                    r["shallow_bytes"].as_u64().unwrap(),
                )
            })
            .collect();
        let jvm: Vec<(String, u64, u64)> = truth
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace();
                p.next()?.strip_suffix(':')?.parse::<u32>().ok()?;
                let n = p.next()?.parse().ok()?;
                let b = p.next()?.parse().ok()?;
                Some((deployclaw::heap::histogram::java_name(&p.next()?.replace('.', "/")), n, b))
            })
            .collect();
        let total = |rows: &[(String, u64, u64)]| rows.iter().map(|r| r.2).sum::<u64>() as f64;
        let off = |a: f64, b: f64| (a - b).abs() * 100.0 / b;
        println!("  accuracy against jcmd GC.class_histogram of the same JVM (cur.hprof)");
        println!(
            "    total shallow bytes: ours {:.0}, JVM {:.0} ({:.3}% off)",
            total(&ours),
            total(&jvm),
            off(total(&ours), total(&jvm))
        );
        let mut worst = (String::new(), 0.0f64);
        for (name, _, bytes) in jvm.iter().take(20) {
            let mine = ours.iter().find(|r| &r.0 == name).map_or(0, |r| r.2);
            let o = off(mine as f64, *bytes as f64);
            if o > worst.1 {
                worst = (name.clone(), o);
            }
        }
        println!(
            "    top 20 classes: largest difference {:.3}% ({})",
            worst.1,
            if worst.0.is_empty() { "none" } else { &worst.0 }
        );
    }
}
