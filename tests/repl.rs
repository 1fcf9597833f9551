//! The REPL driven through a pseudo-terminal, as a person would use it.

mod common;
use common::{BIN, Sandbox, code, stdout};
use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

/// rustyline turns on bracketed paste as each prompt starts: a marker of "ready for input" that,
/// unlike the prompt text, is not repeated when the line is redrawn.
const PROMPT: &str = "\x1b[?2004h";

fn start(sb: &Sandbox) -> PtySession {
    start_with(sb, &[])
}

/// [`start`] with more environment variables.
fn start_with(sb: &Sandbox, env: &[(&str, &str)]) -> PtySession {
    let mut cmd = std::process::Command::new(BIN);
    cmd.envs(env.iter().copied());
    cmd.env("DEPLOYCLAW_HOME", sb.home())
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(sb.dir.path());
    let options = Options::new().timeout_ms(Some(30_000)).strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, options).expect("the REPL starts in a pty");
    p.exp_string("session log: ").expect("banner names the log");
    p.exp_string(PROMPT).expect("first prompt");
    p
}

/// Type keys without Enter. (rexpect buffers `send` until a flush.)
fn keys(p: &mut PtySession, text: &str) {
    p.send(text).unwrap();
    p.flush().unwrap();
}

/// Leave with `:quit` and wait for the process to end.
fn quit(p: &mut PtySession) {
    p.send_line(":quit").unwrap();
    p.exp_string("session log sealed").unwrap();
    p.exp_eof().unwrap();
}

/// Type a line and wait for the output that follows it, up to the next prompt.
fn eval(p: &mut PtySession, line: &str) -> String {
    p.send_line(line).unwrap();
    p.exp_string(PROMPT).unwrap_or_else(|e| panic!("no prompt after {line:?}: {e}"))
}

#[test]
fn statements_errors_and_scope() {
    let sb = Sandbox::new();
    let mut p = start(&sb);
    assert!(eval(&mut p, "40 + 2").contains("42"));
    eval(&mut p, "let x = 5;");
    let err = eval(&mut p, "x + nope");
    assert!(err.contains("error: <repl>:1:5") && err.contains("nope"), "error with its position: {err}");
    assert!(eval(&mut p, "x * 2").contains("10"), "the session keeps x after an error");
    // Multi-line input while a bracket is open; functions persist across inputs.
    p.send_line("fn double(a) {").unwrap();
    p.send_line("  a * 2").unwrap();
    eval(&mut p, "}");
    assert!(eval(&mut p, "double(21)").contains("42"));
    let table = eval(&mut p, r#"frame([#{t: "a", mb: 1}])"#);
    // rexpect decodes bytes one by one, so match ASCII only (the table uses "×").
    assert!(table.contains("shape: 1 row") && table.contains("2 columns"), "{table}");
    let vars = eval(&mut p, ":vars");
    assert!(vars.contains("x") && vars.contains("i64") && vars.contains("EXECUTE"), "{vars}");
    p.send_control('d').unwrap();
    p.exp_string("session log sealed").unwrap();
    p.exp_eof().unwrap();
    let out = sb.run(&["log", "verify", sb.logs()[0].to_str().unwrap()]);
    assert_eq!(code(&out), 0, "Ctrl-D sealed the log: {}", stdout(&out));
}

#[test]
fn tab_completes_namespaces_methods_and_paths() {
    let sb = Sandbox::new();
    sb.write("usage-report.csv", "a\n1\n");
    let mut p = start(&sb);
    // A namespace's functions.
    keys(&mut p, "evidence::\t\t");
    p.exp_string("evidence::finding(").unwrap();
    p.exp_string("evidence::note(").unwrap();
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).unwrap();
    // Methods of the value a variable holds.
    eval(&mut p, r#"let df = frame([#{a: 1}]);"#);
    keys(&mut p, "df.gro\t");
    p.exp_string("group_by(").unwrap();
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).unwrap();
    // File paths inside a string.
    keys(&mut p, "read_csv(\"usage-r\t");
    p.exp_string("usage-report.csv").unwrap();
    keys(&mut p, "\")\r");
    let out = p.exp_string(PROMPT).unwrap();
    assert!(out.contains("shape: 1 row") && out.contains("1 column"), "{out}");
    // :commands.
    keys(&mut p, ":he\t");
    p.exp_string(":help").unwrap();
    keys(&mut p, "\r");
    p.exp_string(":save").unwrap();
    p.exp_string(PROMPT).unwrap();
}

#[test]
fn ctrl_c_cancels_a_running_statement_and_keeps_the_session() {
    let sb = Sandbox::new();
    let mut p = start(&sb);
    eval(&mut p, "let kept = 7;");
    // A busy loop in the script engine.
    p.send_line("let i = 0; loop { i += 1; }").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();
    p.exp_string(PROMPT).unwrap();
    // A call blocked in the tokio runtime.
    p.send_line("sleep(600000)").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();
    p.exp_string(PROMPT).unwrap();
    assert!(eval(&mut p, "kept + 1").contains("8"), "the session survives");
    quit(&mut p);
}

#[test]
fn save_and_load_round_trip() {
    let sb = Sandbox::new();
    let mut p = start(&sb);
    eval(&mut p, "let base = 40;");
    eval(&mut p, "fn add2(v) { v + 2 }");
    // An open bracket waits for more input; Ctrl-C abandons it.
    p.send_line("bogus(").unwrap();
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).unwrap();
    let saved = eval(&mut p, ":save session.rhai");
    assert!(saved.contains("saved 2 statement(s)"), "{saved}");
    let again = eval(&mut p, ":save session.rhai");
    assert!(again.contains(":save! session.rhai"), "refuses to overwrite: {again}");
    let log = eval(&mut p, ":log");
    assert!(log.contains(".jsonl"), "{log}");
    quit(&mut p);

    let script = std::fs::read_to_string(sb.path("session.rhai")).unwrap();
    assert_eq!(script, "let base = 40;\nfn add2(v) { v + 2 }\n");
    let mut p = start(&sb);
    eval(&mut p, ":load session.rhai");
    assert!(eval(&mut p, "add2(base)").contains("42"));
    let help = eval(&mut p, ":help sort");
    assert!(help.contains("df.sort(by: string | array, descending: bool) -> Frame"), "{help}");
}

#[test]
fn a_leak_investigation_at_the_prompt() {
    let sb = Sandbox::new();
    let mut p = start(&sb);
    eval(&mut p, r#"let a = heap::demo_dump("a.hprof", 10); let b = heap::demo_dump("b.hprof", 30);"#);
    // The namespace completes to the graph functions too.
    keys(&mut p, "heap::sus\t");
    p.exp_string("heap::suspects(").unwrap();
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).unwrap();
    let suspects = eval(&mut p, r#"heap::suspects(b, a).select(["accumulation_class", "growth_bytes"])"#);
    assert!(suspects.contains("com.acme.Tenant[]") && suspects.contains("28080"), "{suspects}");
    let tenants = eval(&mut p, r#"heap::tenants([a, b], "com.acme.Tenant.name").head(1)["tenant"]"#);
    assert!(tenants.contains("tenant-05"), "{tenants}");
    let count = eval(&mut p, r#"`findings: ${evidence::findings().len()}`"#);
    assert!(count.contains("findings: 4"), "a suspect, the breach in each dump, the outlier: {count}");
    quit(&mut p);
}

#[test]
fn a_panic_in_a_statement_leaves_the_session_running() {
    let sb = Sandbox::new();
    let mut p = start_with(&sb, &[("DEPLOYCLAW_FAULT_INJECTION", "1")]);
    eval(&mut p, "let kept = 21;");
    let err = eval(&mut p, "fault_injection_panic(\"boom\")");
    assert!(err.contains("internal error") && err.contains("boom"), "{err}");
    assert!(eval(&mut p, "kept * 2").contains("42"), "the session and its variables survive");
    quit(&mut p);
    let out = sb.run(&["log", "verify", sb.logs()[0].to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn a_session_waiting_at_the_prompt_has_nothing_unsealed() {
    let sb = Sandbox::new();
    let mut p = start(&sb);
    eval(&mut p, "let a = 1;");
    eval(&mut p, "evidence::note(\"waiting\")");
    // The REPL seals before it shows the prompt: a crash now would lose nothing of the above.
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "seal", "{log}");
    assert!(log.contains("waiting"));
    // The REPL holds a lock on its log: /proc/locks names the process (by pid and inode).
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&sb.logs()[0]).unwrap());
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    let pid: i32 = locks
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 5 && f[5].rsplit(':').next() == Some(&inode.to_string()))
        .map(|f| f[4].parse().unwrap())
        .expect("the REPL holds its log locked");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let _ = p.exp_eof();
    // Killed at the prompt: its log verifies up to that seal, and the chain calls it a crash.
    let out = sb.run(&["log", "verify", "--chain"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("crashed or was killed"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("not covered by any seal"), "{}", stdout(&out));
}
