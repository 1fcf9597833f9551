//! Evidence from running processes: jcmd dumps and histograms of a real JVM, and /proc memory
//! series of a process that grows beside one that does not.

mod common;
use common::jvm::Jvm;
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};

fn run(sb: &Sandbox, script: &str, params: &[(&str, String)]) -> (i32, Value, String) {
    let path = sb.write("t.rhai", script);
    let mut args: Vec<String> = vec!["run".into(), path.to_str().unwrap().into(), "--json".into()];
    for (name, value) in params {
        args.push("-p".into());
        args.push(format!("{name}={value}"));
    }
    let out = sb.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    (code(&out), serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null), stderr(&out))
}

#[test]
fn a_snapshot_is_private_timed_and_never_overwrites() {
    let sb = Sandbox::new();
    let jvm = Jvm::start(sb.dir.path(), "Probe", &["2000"]);
    let dump = sb.path("live.hprof");
    let params = [("PID", jvm.pid().to_string()), ("DUMP", dump.display().to_string())];
    let (rc, v, err) = run(&sb, "heap::snapshot(PID, DUMP).rows()[0]", &params);
    assert_eq!(rc, 0, "{err}");
    assert!(v["bytes"].as_u64().unwrap() > 100_000 && v["pause_secs"].as_f64().is_some(), "{v}");
    let mode = std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "heap dumps hold secrets");
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(log.contains("heap dump of process") && log.contains("pause_secs"), "the pause is recorded");

    // The dump reads back, with the JVM's count.
    let (rc, v, err) = run(&sb, "heap::histogram(DUMP).filter(\"class = 'Probe'\").rows()[0].instances", &params);
    assert_eq!((rc, v), (0, Value::from(2000)), "{err}");

    let (rc, _, err) = run(&sb, "heap::snapshot(PID, DUMP)", &params);
    assert_eq!(rc, 1);
    assert!(err.contains("already exists"), "{err}");
    let (rc, _, err) = run(&sb, "heap::class_histogram(999999999)", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("jcmd 999999999"), "{err}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_growing_process_is_leaking_and_an_idle_one_is_stable() {
    let sb = Sandbox::new();
    let grower = Killed(
        Command::new("python3")
            .args([
                "-c",
                "import time\nkeep = []\nwhile True:\n    keep.append(b'x' * (1 << 20))\n    time.sleep(0.05)\n",
            ])
            .spawn()
            .expect("python3 runs"),
    );
    let idle = Killed(Command::new("sleep").arg("60").spawn().unwrap());
    let params = [("GROWER", grower.0.id().to_string()), ("IDLE", idle.0.id().to_string())];
    let (rc, v, err) = run(&sb, r#"proc::watch([GROWER, IDLE], "100ms", "3s").rows()"#, &params);
    assert_eq!(rc, 3, "a leak is an error finding: {err}");
    let verdict = |pid: u32| {
        v.as_array().unwrap().iter().find(|r| r["pid"] == pid).map(|r| r["verdict"].clone()).unwrap_or_default()
    };
    assert_eq!(verdict(grower.0.id()), "leaking", "{v}");
    assert_eq!(verdict(idle.0.id()), "stable", "{v}");
    assert!(err.contains(&format!("process {} is leaking", grower.0.id())), "{err}");
}
