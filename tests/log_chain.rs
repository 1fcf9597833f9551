//! The chain of sessions: `log verify --chain` names a session removed, truncated after sealing,
//! re-signed or crashed, and tells sessions that ran at once from one taken out between them.

mod common;
use common::{Sandbox, code, stderr, stdout};
use deployclaw::evidence::chain::{self, Sealed};
use deployclaw::evidence::{
    ChainFault, CheckpointPolicy, LocalKey, LogFile, Recorder, SessionMeta, check_chain, previous_seal, verify_log,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn verify_chain(sb: &Sandbox, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["log", "verify", "--chain"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

/// Run `n` one-line scripts, each leaving a sealed session in the sessions folder.
fn sessions(sb: &Sandbox, n: usize) -> Vec<PathBuf> {
    let script = sb.write("one.rhai", "evidence::note(\"done\"); 1");
    for _ in 0..n {
        let out = sb.run(&["run", script.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let logs = sb.logs();
    assert_eq!(logs.len(), n);
    logs
}

#[test]
fn sessions_in_order_verify_and_a_removed_one_is_named() {
    let sb = Sandbox::new();
    let (ok, text) = verify_chain(&sb, &[]);
    assert_eq!(ok, 2, "no sessions folder yet is a usage error naming it: {text}");
    assert!(text.contains("sessions"), "{text}");

    let logs = sessions(&sb, 3);
    let (ok, text) = verify_chain(&sb, &[]);
    assert_eq!(ok, 0, "{text}");
    assert!(text.contains("3 session log(s), 3 indexed") && text.contains("chain head: "), "{text}");

    let middle = &logs[1];
    let session = session_id(middle);
    std::fs::remove_file(middle).unwrap();
    let (failed, text) = verify_chain(&sb, &[]);
    assert_eq!(failed, 1, "{text}");
    assert!(text.contains(&format!("session {session} was removed")), "{text}");
}

#[test]
fn the_json_report_lists_faults_by_kind() {
    let sb = Sandbox::new();
    let logs = sessions(&sb, 2);
    std::fs::remove_file(&logs[0]).unwrap();
    let out = sb.run(&["log", "verify", "--chain", "--json"]);
    assert_eq!(code(&out), 1);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["records"], 2);
    assert_eq!(report["faults"][0]["fault"], "missing", "{report}");
}

#[test]
fn a_log_cut_back_after_sealing_reads_otherwise_than_a_crashed_one() {
    let sb = Sandbox::new();
    // Seals every two entries, so the log has checkpoints to cut back to.
    let script = sb.write("notes.rhai", "for i in 0..6 { evidence::note(`note ${i}`); } 1");
    let out = sb.run(&["run", script.to_str().unwrap(), "--seal-every", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = sb.logs().pop().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first_seal = lines.iter().position(|l| l.contains("\"kind\":\"seal\"")).unwrap();
    let cut: String = lines[..=first_seal].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, cut).unwrap();

    let (failed, text) = verify_chain(&sb, &[]);
    assert_eq!(failed, 1, "{text}");
    assert!(text.contains("was truncated after it sealed") && text.contains("its last seal covers"), "{text}");
    assert!(!text.contains("crashed"), "{text}");

    // The same cut on a log the index never recorded: a crash, as far as anyone can tell.
    let other = Sandbox::new();
    let crashed = other.home().join("sessions").join("20260101T000000Z-deadbeef.jsonl");
    std::fs::create_dir_all(crashed.parent().unwrap()).unwrap();
    std::fs::copy(&log, &crashed).unwrap();
    let (failed, text) = verify_chain(&other, &["--pubkey", sb.public_key().to_str().unwrap()]);
    assert_eq!(failed, 1, "{text}");
    assert!(text.contains("crashed or was killed") && text.contains("last checkpoint covers"), "{text}");
}

#[test]
fn a_running_session_is_told_from_a_crashed_one() {
    let sb = Sandbox::new();
    sessions(&sb, 1);
    let script = sb.write("spin.rhai", "evidence::note(\"started\"); loop { }");
    let child = sb
        .command()
        .args(["run", script.to_str().unwrap(), "--seal-every", "1", "--max-operations", "0"])
        .spawn()
        .unwrap();
    // Killed however the test ends: a spinning session must not outlive a failed assertion.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(child);
    let started = std::time::Instant::now();
    // Both logs may carry the same second in their names: find the running one by what it holds.
    let running = loop {
        let holds = |p: &PathBuf| std::fs::read_to_string(p).unwrap().contains("started");
        if let Some(log) = sb.logs().into_iter().find(holds) {
            break log;
        }
        assert!(started.elapsed().as_secs() < 60, "the session did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (ok, text) = verify_chain(&sb, &[]);
    assert_eq!(ok, 0, "a live session's unsealed tail is not a fault: {text}");
    assert!(text.contains("still being written by a running session"), "{text}");

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let (failed, text) = verify_chain(&sb, &[]);
    assert_eq!(failed, 1, "{text}");
    assert!(text.contains(&format!("{} has no final seal", running.display())), "{text}");
    assert!(text.contains("crashed or was killed"), "{text}");
}

fn session_id(log: &Path) -> String {
    let first = std::fs::read_to_string(log).unwrap().lines().next().unwrap().to_string();
    let entry: serde_json::Value = serde_json::from_str(&first).unwrap();
    entry["session"]["id"].as_str().unwrap().to_string()
}

/// Sessions made with the library, so that which ran when is decided by the test.
struct Machine {
    dir: tempfile::TempDir,
    key: Arc<LocalKey>,
}

impl Machine {
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = LocalKey::load_or_create(&dir.path().join("keys")).unwrap();
        Machine { dir, key: Arc::new(key) }
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join(chain::INDEX_FILE)
    }

    /// Start a session named `name`, following the seal the index ends on now.
    fn start(&self, name: &str) -> Recorder {
        self.start_after(name, previous_seal(&self.index(), &self.dir.path().join("none")))
    }

    /// Start a session named `name` that says it follows `previous_seal`.
    fn start_after(&self, name: &str, previous_seal: Option<String>) -> Recorder {
        let meta = SessionMeta {
            id: name.to_string(),
            tool: "test".into(),
            user: "u".into(),
            host: "h".into(),
            mode: "run".into(),
            script: None,
            script_sha256: None,
            dry_run: true,
            start: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            previous_seal,
        };
        let path = self.dir.path().join(format!("{name}.jsonl"));
        Recorder::create(&path, meta, self.key.clone(), CheckpointPolicy::default()).unwrap()
    }

    fn seal(&self, mut recorder: Recorder) {
        recorder.note("work").unwrap();
        let summary = recorder.close().unwrap();
        let sealed = Sealed::new(recorder.meta(), &summary);
        chain::append(&self.index(), &sealed, self.key.as_ref()).unwrap();
        // Distinct times for "sealed before it started".
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    fn check(&self) -> deployclaw::evidence::ChainReport {
        let trusted = [self.key.trusted()];
        let mut logs = Vec::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        paths.sort();
        for path in paths {
            let report = verify_log(&std::fs::read(&path).unwrap(), &trusted);
            logs.push(LogFile { path, report, running: false });
        }
        let index = std::fs::read(self.index()).ok();
        check_chain(index.as_deref(), &logs, &trusted)
    }
}

#[test]
fn sessions_that_ran_at_once_are_a_fork_not_a_removal() {
    let m = Machine::new();
    m.seal(m.start("first"));
    let a = m.start("a");
    let b = m.start("b");
    m.seal(b);
    m.seal(a);
    m.seal(m.start("after"));
    let report = m.check();
    assert!(report.is_ok(), "{:?}", report.faults);
    assert_eq!(report.concurrent.len(), 1, "{:?}", report.concurrent);
    assert_eq!((report.concurrent[0].session.as_str(), report.concurrent[0].with.as_str()), ("a", "b"));

    // Without b's log, a still names the seal both followed: only the index knows b existed.
    std::fs::remove_file(m.dir.path().join("b.jsonl")).unwrap();
    let report = m.check();
    assert!(
        matches!(&report.faults[..], [ChainFault::Missing { session, .. }] if session == "b"),
        "{:?}",
        report.faults
    );
}

#[test]
fn a_session_that_skips_one_sealed_before_it_started_is_named() {
    let m = Machine::new();
    m.seal(m.start("first"));
    let named = chain::last_seal(&m.index());
    m.seal(m.start("second"));
    // Started after `second` sealed, yet following `first`: as if `second` had not been there
    // when it started, which the index says it was.
    assert_ne!(chain::last_seal(&m.index()), named);
    m.seal(m.start_after("late", named));
    let report = m.check();
    assert!(
        report.faults.iter().any(
            |f| matches!(f, ChainFault::Skipped { session, skipped, .. } if session == "late" && skipped == "second")
        ),
        "{:?}",
        report.faults
    );
}

#[test]
fn a_log_sealed_again_and_index_lines_changed_or_removed_are_named() {
    let m = Machine::new();
    for name in ["one", "two", "three"] {
        m.seal(m.start(name));
    }
    assert!(m.check().is_ok());

    // `two` written again with the machine's key: a valid log, but not the one indexed.
    let two = m.dir.path().join("two.jsonl");
    let meta = verify_log(&std::fs::read(&two).unwrap(), &[m.key.trusted()]).session.unwrap();
    std::fs::remove_file(&two).unwrap();
    let mut forged = Recorder::create(&two, meta, m.key.clone(), CheckpointPolicy::default()).unwrap();
    forged.note("something else").unwrap();
    forged.close().unwrap();
    let report = m.check();
    assert!(
        matches!(&report.faults[..], [ChainFault::Resealed { session, line: 2, .. }] if session == "two"),
        "{:?}",
        report.faults
    );

    let index = std::fs::read_to_string(m.index()).unwrap();
    let lines: Vec<&str> = index.lines().collect();
    // One changed byte: the signature no longer holds, and the next line no longer follows.
    let changed = index.replacen("\"entries\":2", "\"entries\":3", 1);
    std::fs::write(m.index(), &changed).unwrap();
    let faults: Vec<String> = m.check().faults.iter().map(|f| f.to_string()).collect();
    assert!(faults.iter().any(|f| f.starts_with("index line 1: its signature does not verify")), "{faults:?}");
    assert!(faults.iter().any(|f| f.starts_with("index line 2: it does not follow the line before")), "{faults:?}");

    // A line taken out, and the log with it.
    std::fs::write(m.index(), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    std::fs::remove_file(&two).unwrap();
    let faults: Vec<String> = m.check().faults.iter().map(|f| f.to_string()).collect();
    assert!(faults.iter().any(|f| f.starts_with("index line 2: it does not follow the line before")), "{faults:?}");
    assert!(faults.iter().any(|f| f.contains("session three") && f.contains("that session was removed")), "{faults:?}");
}

#[test]
fn logs_from_before_the_index_are_not_unindexed_but_later_ones_are() {
    let m = Machine::new();
    // Sealed before the machine kept an index: no line for it.
    let mut old = m.start("old");
    old.note("work").unwrap();
    old.close().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    m.seal(m.start("indexed"));
    let report = m.check();
    assert!(report.is_ok(), "{:?}", report.faults);
    assert_eq!(report.before_index.len(), 1);

    // A sealed log that started after the index's first session, with no line: added here.
    let mut added = m.start("added");
    added.note("work").unwrap();
    added.close().unwrap();
    let report = m.check();
    assert!(
        matches!(&report.faults[..], [ChainFault::Unindexed { session, .. }] if session == "added"),
        "{:?}",
        report.faults
    );
}

#[test]
fn a_record_cut_off_by_a_crash_is_named_and_the_chain_goes_on() {
    let m = Machine::new();
    m.seal(m.start("one"));
    let mut index = std::fs::read(m.index()).unwrap();
    index.extend_from_slice(b"{\"seq\":1,\"prev\":\"00");
    std::fs::write(m.index(), &index).unwrap();
    m.seal(m.start("two"));
    // The damaged line was ended and `two` chained to it as line 3: only the damage is a fault.
    let report = m.check();
    let faults: Vec<String> = report.faults.iter().map(|f| f.to_string()).collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].starts_with("index line 2: unreadable"), "{faults:?}");
    assert_eq!(report.records, 2);
}
