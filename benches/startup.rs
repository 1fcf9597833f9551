//! Start-up of `deployclaw run` on a one-line script (engine built, key loaded, log written,
//! sealed and fsynced), beside `deployclaw --version` (the process floor) and python3 running
//! the same one-line script, in the same run.
//!
//!     cargo bench --bench startup

mod common;
use common::{median, ms};
use std::process::Command;

const RUNS: usize = 41;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("one.rhai");
    std::fs::write(&script, "print(40 + 2);\n").unwrap();
    let py = dir.path().join("one.py");
    std::fs::write(&py, "print(40 + 2)\n").unwrap();
    let home = dir.path().join("home");
    let bin = env!("CARGO_BIN_EXE_deployclaw");

    let run = |cmd: &mut Command| {
        let out = cmd.env("DEPLOYCLAW_HOME", &home).output().expect("command runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // The first run creates the signing key; it is not what we measure.
    run(Command::new(bin).arg("run").arg(&script));

    let deployclaw = median(RUNS, || run(Command::new(bin).arg("run").arg(&script)));
    let version = median(RUNS, || run(Command::new(bin).arg("--version")));
    // The interpreter itself, not a version manager's shim in front of it.
    let python3 = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    let python3 = String::from_utf8(python3.stdout).unwrap().trim().to_string();
    let python = median(RUNS, || run(Command::new(&python3).arg(&py)));
    println!("start-up, median of {RUNS} runs");
    println!("  deployclaw run one-line.rhai (signed log): {:7.2} ms", ms(deployclaw));
    println!("  deployclaw --version (process floor):      {:7.2} ms", ms(version));
    println!(
        "  python3 one-line.py (peer):                {:7.2} ms  (ratio {:.2}x)",
        ms(python),
        ms(deployclaw) / ms(python)
    );
}
