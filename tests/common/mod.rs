//! Helpers shared by the integration tests: the built binary, isolated state directories.
#![allow(dead_code)]

pub mod db;
pub mod jvm;
pub mod moto;
pub mod netns;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_deployclaw");

/// A private DEPLOYCLAW_HOME (keys, logs, history) and a scratch folder, removed on drop.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("a temp dir") }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        self.write_bytes(name, text.as_bytes())
    }

    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }

    /// `deployclaw ARGS` with this sandbox's home, from the sandbox folder.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("DEPLOYCLAW_HOME", self.home())
            .env_remove("DEPLOYCLAW_STDLIB")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        cmd
    }

    /// Another program (python3 driving the kernel, say) with this sandbox's home, from its
    /// folder, so the deployclaw processes it starts log here.
    pub fn command_for(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DEPLOYCLAW_HOME", self.home()).env_remove("DEPLOYCLAW_STDLIB").current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("deployclaw runs")
    }

    /// `deployclaw run --json` on a script (with more arguments, e.g. `-p NAME=VALUE`): its
    /// value, after asserting it exited 0.
    pub fn eval(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let path = self.write("t.rhai", script);
        let mut all = vec!["run", "--json", path.to_str().unwrap()];
        all.extend(args);
        let out = self.run(&all);
        assert_eq!(code(&out), 0, "{script}\n{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    }

    /// Run with `stdin` as standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("deployclaw starts");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("deployclaw finishes")
    }

    /// The public key of this sandbox's local signer, as a PEM file.
    pub fn public_key(&self) -> PathBuf {
        let out = self.run(&["keygen"]);
        assert!(out.status.success(), "keygen: {}", stderr(&out));
        let path = self.path("pub.pem");
        std::fs::write(&path, &out.stdout).expect("write pem");
        path
    }

    /// Session logs written so far.
    pub fn logs(&self) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.home().join("sessions"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        // The machine's index of sealed sessions sits beside them.
        logs.retain(|p| p.extension().is_some_and(|x| x == "jsonl"));
        logs.sort();
        logs
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// Lines of a JSON Lines file.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).expect("read log").lines().map(str::to_string).collect()
}
