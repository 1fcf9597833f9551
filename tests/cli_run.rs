//! `deployclaw run`, stdin scripts, params, --json and every exit code.

mod common;
use common::{Sandbox, code, stderr, stdout};

const BUDGET: &str = r#"
let usage = frame([#{tenant: "acme", mb: 10}, #{tenant: "beta", mb: 30}, #{tenant: "acme", mb: 5}]);
let totals = usage.group_by("tenant").agg(["sum(mb) AS total"]);
print("checking tenants over " + LIMIT + " MB");
let over = totals.filter(`total > ${LIMIT}`);
for row in over.rows() {
    evidence::finding(SEVERITY, "tenant over budget", row);
}
over
"#;

#[test]
fn stdin_runs_as_a_script() {
    let sb = Sandbox::new();
    let out = sb.run_stdin(&[], "print(40+2)");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    assert_eq!(sb.logs().len(), 1, "the stdin session leaves a log");
}

#[test]
fn params_are_constants_and_exit_3_on_error_findings() {
    let sb = Sandbox::new();
    let script = sb.write("budget.rhai", BUDGET);
    let script = script.to_str().unwrap();

    let out = sb.run(&["run", script, "--param", "LIMIT=20", "--param", "SEVERITY=error"]);
    assert_eq!(code(&out), 3, "an error finding exits 3: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("checking tenants over 20 MB"), "{text}");
    assert!(text.contains("beta") && !text.contains("acme"), "{text}");

    let out = sb.run(&["run", script, "-p", "LIMIT=20", "-p", "SEVERITY=warning"]);
    assert_eq!(code(&out), 0, "warnings do not fail the run: {}", stderr(&out));

    // Params are constants: assigning one is a script error.
    let script = sb.write("assign.rhai", "LIMIT = 3;");
    let out = sb.run(&["run", script.to_str().unwrap(), "-p", "LIMIT=1"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("LIMIT"), "{}", stderr(&out));
}

#[test]
fn json_prints_only_the_final_value() {
    let sb = Sandbox::new();
    let script = sb.write("budget.rhai", BUDGET);
    let out = sb.run(&["run", script.to_str().unwrap(), "--json", "-p", "LIMIT=12", "-p", "SEVERITY=info"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON and nothing else");
    assert_eq!(value, serde_json::json!([{"tenant": "acme", "total": 15}, {"tenant": "beta", "total": 30}]));
    assert!(stderr(&out).contains("checking tenants over 12 MB"), "print() goes to stderr with --json");
}

#[test]
fn script_errors_exit_1_with_file_line_and_column() {
    let sb = Sandbox::new();
    let script = sb.write("bad.rhai", "let x = 1;\nlet y = x + nope;\n");
    let out = sb.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("bad.rhai:2:13") && err.contains("nope"), "{err}");

    let script = sb.write("syntax.rhai", "let x = (1;\n");
    let out = sb.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("syntax.rhai:"), "{}", stderr(&out));

    // The failed statement is in the log, and the log is still sealed.
    let verify = sb.run(&["log", "verify", sb.logs()[0].to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    let out = sb.run(&["run", "no-such-script.rhai"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot read script no-such-script.rhai"), "{}", stderr(&out));

    let script = sb.write("ok.rhai", "1");
    let out = sb.run(&["run", script.to_str().unwrap(), "--param", "1bad=3"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not a valid name"), "{}", stderr(&out));

    let out = sb.run(&["run"]);
    assert_eq!(code(&out), 2, "clap usage errors are 2 too");
    let out = sb.run(&["frobnicate"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn help_documents_exit_codes() {
    let sb = Sandbox::new();
    for args in [vec!["--help"], vec!["run", "--help"]] {
        let out = sb.run(&args);
        let text = stdout(&out);
        for needle in ["Exit codes", "0 ", "1 ", "2 ", "3 ", "severity \"error\""] {
            assert!(text.contains(needle), "{args:?} help lacks {needle:?}:\n{text}");
        }
    }
}

#[test]
fn dry_run_is_the_default() {
    let sb = Sandbox::new();
    let script = sb.write("mode.rhai", "[EXECUTE, DRY_RUN]");
    let out = sb.run(&["run", script.to_str().unwrap(), "--json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap(), serde_json::json!([false, true]));
    let out = sb.run(&["run", script.to_str().unwrap(), "--json", "--execute"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap(), serde_json::json!([true, false]));
}

#[test]
fn stdlib_modules_import() {
    let sb = Sandbox::new();
    let script = sb.write(
        "imp.rhai",
        r#"import "findings" as findings;
let df = frame([#{t: "a", n: 5}, #{t: "b", n: 50}]);
findings::rows_over(df, "n", 10, "warning", "too many")"#,
    );
    let out = sb.run(&["run", script.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "1");

    let script = sb.write("missing.rhai", r#"import "nope" as nope;"#);
    let out = sb.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("stdlib modules: ci, findings, memory, reporting, runbook, slo;"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn limits_stop_runaway_scripts() {
    let sb = Sandbox::new();
    let script = sb.write("loop.rhai", "let i = 0; loop { i += 1; }");
    let out = sb.run(&["run", script.to_str().unwrap(), "--max-operations", "10000"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).to_lowercase().contains("operations"), "{}", stderr(&out));
}

#[test]
fn secrets_never_reach_the_screen_or_the_log() {
    let sb = Sandbox::new();
    let script = sb.write(
        "secret.rhai",
        r#"let url = "postgres://app:hunter2@db:5432/prod";
print(url);
evidence::note("using " + url + " with AKIAIOSFODNN7EXAMPLE");
url"#,
    );
    let out = sb.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains("hunter2"), "{}", stdout(&out));
    assert!(stdout(&out).contains("postgres://app:[REDACTED]@db:5432/prod"));
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(!log.contains("hunter2") && !log.contains("AKIAIOSFODNN7EXAMPLE"), "{log}");
}

#[test]
fn completions_for_shells() {
    let sb = Sandbox::new();
    let out = sb.run(&["completions", "bash"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("deployclaw"));
}

#[test]
fn the_readme_hello_runbook_runs() {
    let sb = Sandbox::new();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/hello.rhai");
    let out = sb.run(&["run", script, "--json", "-p", "THRESHOLD=0.5"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert_eq!(rows[0]["pool"], "orders");
    assert!(stderr(&out).contains("2 pool(s) above 50"), "{}", stderr(&out));
    let findings = common::lines(&sb.logs()[0])
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "finding" && e["title"] == "connection pool near its limit")
        .count();
    assert_eq!(findings, 2);
}

#[test]
fn a_stdlib_folder_from_the_environment_wins() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("lib")).unwrap();
    sb.write("lib/findings.rhai", "fn answer() { 42 }");
    let script = sb.write("s.rhai", r#"import "findings" as f; f::answer()"#);
    let out =
        sb.command().env("DEPLOYCLAW_STDLIB", sb.path("lib")).args(["run", script.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "42");
}

#[test]
fn ctrl_c_stops_a_run_with_130_and_seals_the_log() {
    let sb = Sandbox::new();
    let script = sb.write("wait.rhai", "print(\"waiting\");\nsleep(600000);\nprint(\"never\");");
    let mut child = sb
        .command()
        .args(["run", script.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the script is inside sleep(): "waiting" is printed just before it.
    let mut child_stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 7];
    std::io::Read::read_exact(&mut child_stdout, &mut first).unwrap();
    assert_eq!(&first, b"waiting");
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    let verify = sb.run(&["log", "verify", sb.logs()[0].to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "the log is sealed after an interrupt: {}", stdout(&verify));
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(log.contains("\"status\":\"cancelled\""), "{log}");
}

#[test]
fn a_panic_in_a_statement_is_an_error_the_log_records_and_seals() {
    let sb = Sandbox::new();
    let script =
        sb.write("bug.rhai", "print(\"before\");\nfault_injection_panic(\"index out of bounds\");\nprint(\"after\");");
    let out =
        sb.command().env("DEPLOYCLAW_FAULT_INJECTION", "1").args(["run", script.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("internal error") && err.contains("index out of bounds"), "{err}");
    assert!(!err.contains("thread 'main' panicked"), "the panic is reported once, as an error: {err}");
    assert!(stdout(&out).contains("before") && !stdout(&out).contains("after"));
    let verify = sb.run(&["log", "verify", sb.logs()[0].to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "the log is sealed after a panic: {}", stdout(&verify));
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(log.contains("internal error") && log.contains("\"status\":\"error\""), "{log}");
}
