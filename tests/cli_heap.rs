//! `deployclaw heap ...` on dumps: the demo dump, truncated dumps, missing files.

mod common;
use common::{Sandbox, code, stderr, stdout};
use serde_json::{Value, json};

fn demo(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.path("demo.hprof");
    std::fs::write(&path, deployclaw::heap::sample::demo_dump(8, 5, 10, 5, Some(1 << 16))).unwrap();
    path
}

#[test]
fn histogram_prints_a_table_or_json_and_logs_the_result() {
    let sb = Sandbox::new();
    let dump = demo(&sb);
    let out = sb.run(&["heap", "histogram", dump.to_str().unwrap(), "--top", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("com.acme.Session") && stdout(&out).contains("shape: 2 rows"), "{}", stdout(&out));

    let out = sb.run(&["heap", "histogram", dump.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).expect("only JSON on stdout");
    assert_eq!(rows[1], json!({"class": "com.acme.Session", "instances": 90, "shallow_bytes": 2160, "largest": 24}));

    let logs = sb.logs();
    assert_eq!(logs.len(), 2, "each command leaves a signed log");
    let verify = sb.run(&["log", "verify", logs[1].to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));
    assert!(std::fs::read_to_string(&logs[1]).unwrap().contains("heap::histogram(DUMP)"));
}

#[test]
fn a_truncated_dump_gives_a_partial_histogram_and_says_so() {
    let sb = Sandbox::new();
    let bytes = std::fs::read(demo(&sb)).unwrap();
    let cut = sb.path("cut.hprof");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let out = sb.run(&["heap", "histogram", cut.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("finding [warning] heap dump read only in part"), "{}", stderr(&out));
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(log.contains("truncated"), "the log says why: {log}");
}

#[test]
fn missing_and_garbage_files() {
    let sb = Sandbox::new();
    let out = sb.run(&["heap", "histogram", "nope.hprof"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot read heap dump nope.hprof"), "{}", stderr(&out));
    let junk = sb.write("junk.hprof", "hello, not a dump");
    let out = sb.run(&["heap", "histogram", junk.to_str().unwrap()]);
    // A file that is no dump is the input's fault, as a missing one is: the usage exit code.
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not an HPROF file"), "{}", stderr(&out));
}

#[test]
fn diff_names_the_growth_and_fails_ci_past_the_threshold() {
    let sb = Sandbox::new();
    let snapshot = |name: &str, sessions: usize| {
        let path = sb.path(name);
        std::fs::write(&path, deployclaw::heap::sample::demo_dump(8, 5, sessions, 5, Some(1 << 16))).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (a, b, c) = (snapshot("a.hprof", 10), snapshot("b.hprof", 15), snapshot("c.hprof", 20));

    let out = sb.run(&["heap", "diff", &a, &c, "--json"]);
    assert_eq!(code(&out), 0, "no threshold, no failure: {}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["class"], "byte[]", "largest growth first");
    let session = rows.as_array().unwrap().iter().find(|r| r["class"] == "com.acme.Session").unwrap();
    assert_eq!((session["instance_delta"].as_i64(), session["status"].as_str()), (Some(90), Some("grew")));
    assert!(session.get("slope_bytes").is_none(), "no trend with two dumps");

    let out = sb.run(&["heap", "diff", &a, &b, &c, "--threshold-delta", "15%", "--json"]);
    assert_eq!(code(&out), 3, "growth past the threshold fails CI: {}", stderr(&out));
    assert!(stderr(&out).contains("finding [error] com.acme.Session grew by"), "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let session = rows.as_array().unwrap().iter().find(|r| r["class"] == "com.acme.Session").unwrap();
    assert_eq!(session["monotonic"], json!(true));
    assert_eq!(session["slope_bytes"], json!(1080.0), "90 sessions of 24 bytes over two steps");

    let out = sb.run(&["heap", "diff", &a, &c, "--threshold-delta", "10GB"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = sb.run(&["heap", "diff", &a, &c, "--threshold-delta", "lots"]);
    assert_eq!(code(&out), 2);
    let out = sb.run(&["heap", "diff", &a]);
    assert_eq!(code(&out), 2, "two dumps at least");
}

#[test]
fn a_dump_can_be_piped_in() {
    let sb = Sandbox::new();
    let dump = demo(&sb);
    let out = sb
        .command()
        .args(["heap", "histogram", "/dev/stdin", "--json"])
        .stdin(std::fs::File::open(&dump).unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let piped: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let out = sb.run(&["heap", "histogram", dump.to_str().unwrap(), "--json"]);
    assert_eq!(piped, serde_json::from_str::<Value>(&stdout(&out)).unwrap(), "a mapped file reads the same");
}

#[test]
fn analyze_answers_in_one_json_document_and_refuses_bad_options() {
    let sb = Sandbox::new();
    let dump = demo(&sb);
    let d = dump.to_str().unwrap();
    let out = sb.run(&["heap", "analyze", d, "--rule", "com.acme.Tenant.name", "--json"]);
    assert_eq!(code(&out), 3, "the demo's cross-tenant reference is an error finding: {}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).expect("only JSON on stdout");
    assert_eq!(answer["format"], "deployclaw.heap-analysis/1");
    assert_eq!(answer["dumps"], json!([d]));
    assert_eq!(answer["grown"], Value::Null, "one dump: nothing to compare");
    assert!(answer["latest"]["columns"].as_array().unwrap().contains(&json!("shallow_bytes")), "{answer}");
    assert!(!answer["tenants"]["rows"].as_array().unwrap().is_empty(), "{answer}");
    assert!(
        answer["findings"][0]["title"].as_str().unwrap().starts_with("cross-tenant reference"),
        "it travels: {answer}"
    );

    let bad = sb.run(&["heap", "analyze", d, "--threshold-delta", "lots"]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("--threshold-delta lots: give a percentage such as 15%"), "{}", stderr(&bad));
    let bad = sb.run(&["heap", "analyze", d, "--rule", "nodot"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    let missing = sb.run(&["heap", "analyze", "nowhere.hprof", "--json"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("cannot read heap dump nowhere.hprof"), "{}", stderr(&missing));
}
