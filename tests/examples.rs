//! Every registered function's doc examples run, and their values match the documented results
//! (compared as JSON), as Nushell tests each command's examples.

mod common;

use deployclaw::engine::{LogTarget, Mode, Param, Session, SessionOptions, to_json};
use deployclaw::paths::Home;

fn session(dir: &std::path::Path, n: usize) -> Session {
    session_with(dir, n, Vec::new())
}

fn session_with(dir: &std::path::Path, n: usize, params: Vec<Param>) -> Session {
    let mut options = SessionOptions::new(Mode::Run);
    options.home = Home(dir.join("home"));
    options.log = LogTarget::Path(dir.join(format!("example-{n}.jsonl")));
    options.params = params;
    Session::start(options).expect("session starts")
}

#[test]
fn every_function_has_a_passing_example() {
    let dir = tempfile::tempdir().unwrap();
    let docs = session(dir.path(), 0).docs().clone();
    let mut failures = Vec::new();
    let mut count = 0;
    // Examples of the live-JVM functions name JAVA_PID: a JVM keeping 1000 Probe objects.
    let mut jvm: Option<common::jvm::Jvm> = None;
    // Examples of the connection-pool functions name PG_URL: a database of their own on the
    // PostgreSQL server (skipped, saying so, where there is none and none is required).
    let mut postgres: Option<Option<common::db::TestDb>> = None;
    // Examples of the AWS functions name MOTO_URL: moto's server, seeded. They run as
    // `deployclaw run` with moto's test credentials in the child's environment only.
    let mut moto: Option<Option<common::moto::Moto>> = None;
    for doc in docs.all() {
        assert!(!doc.examples.is_empty(), "{} has no example", doc.qualified());
        assert!(!doc.usage.is_empty(), "{} has no usage line", doc.qualified());
        for example in &doc.examples {
            count += 1;
            let mut params = Vec::new();
            if example.code.contains("JAVA_PID") {
                let jvm = jvm.get_or_insert_with(|| common::jvm::Jvm::start(dir.path(), "Probe", &["1000"]));
                params.push(Param { name: "JAVA_PID".into(), value: (jvm.pid() as i64).into() });
            }
            if example.code.contains("MOTO_URL") {
                let Some(server) = moto.get_or_insert_with(common::moto::Moto::start) else { continue };
                let sandbox = common::Sandbox::new();
                let script = sandbox.write("example.rhai", &example.code);
                let out = sandbox
                    .command()
                    .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("MOTO_URL={}", server.url)])
                    .envs(common::moto::ENV.iter().copied())
                    .output()
                    .unwrap();
                let got: Option<serde_json::Value> = serde_json::from_str(common::stdout(&out).trim()).ok();
                match (&example.result, got) {
                    (_, None) => failures.push(format!(
                        "{}: `{}` failed: {}",
                        doc.qualified(),
                        example.code,
                        common::stderr(&out)
                    )),
                    (Some(expected), Some(got))
                        if serde_json::from_str::<serde_json::Value>(expected).ok() != Some(got.clone()) =>
                    {
                        failures.push(format!(
                            "{}: `{}` gave {got}, documented {expected}",
                            doc.qualified(),
                            example.code
                        ))
                    }
                    _ => {}
                }
                continue;
            }
            if example.code.contains("PG_URL") {
                match postgres.get_or_insert_with(common::db::TestDb::postgres) {
                    Some(db) => params.push(Param { name: "PG_URL".into(), value: db.url.clone().into() }),
                    None => continue,
                }
            }
            let mut s = session_with(dir.path(), count, params);
            match (s.eval(&example.code, "<example>"), &example.result) {
                (Err(e), _) => failures.push(format!("{}: `{}` failed: {e}", doc.qualified(), example.code)),
                (Ok(value), Some(expected)) => {
                    let expected: serde_json::Value = serde_json::from_str(expected)
                        .unwrap_or_else(|e| panic!("{}: expected result {expected} is not JSON: {e}", doc.qualified()));
                    let got = to_json(&value);
                    if got != expected {
                        failures.push(format!(
                            "{}: `{}` gave {got}, documented {expected}",
                            doc.qualified(),
                            example.code
                        ));
                    }
                }
                (Ok(_), None) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} examples failed:\n{}", failures.len(), failures.join("\n"));
    assert!(count >= 30, "only {count} examples ran");
}

#[test]
fn help_shows_usage_parameters_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path(), 0);
    let text = s.eval(r#"help("Frame.filter")"#, "<test>").unwrap().into_string().unwrap();
    assert!(text.starts_with("Frame.filter\n  df.filter(predicate: string) -> Frame"), "{text}");
    assert!(text.contains("Parameters:") && text.contains("Examples:"), "{text}");
    // Short names find the function when unambiguous.
    let short = s.eval(r#"help("note")"#, "<test>").unwrap().into_string().unwrap();
    assert!(short.starts_with("evidence::note"), "{short}");
    let err = s.eval(r#"help("nope")"#, "<test>").unwrap_err().to_string();
    assert!(err.contains("no function named \"nope\""), "{err}");
}

#[test]
fn every_stdlib_module_imports() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(dir.path(), 0);
    let modules = deployclaw::engine::StdlibSource::Embedded.modules();
    assert!(modules.contains(&"findings".to_string()), "{modules:?}");
    for name in modules {
        let code = format!("import \"{name}\" as m;");
        if let Err(e) = s.eval(&code, "<test>") {
            panic!("stdlib module {name} does not import: {e}");
        }
    }
}

/// Every public function of every stdlib module says what it does and has an example; each
/// example runs (importing its module itself) and gives its documented result.
#[test]
fn every_stdlib_function_has_a_passing_example() {
    let dir = tempfile::tempdir().unwrap();
    let stdlib = deployclaw::engine::StdlibSource::Embedded;
    let mut failures = Vec::new();
    let mut count = 0;
    // Examples of live functions name JAVA_PID, as the built-in ones do.
    let mut jvm: Option<common::jvm::Jvm> = None;
    for module in stdlib.modules() {
        let text = stdlib.text(&module).unwrap();
        for f in deployclaw::engine::documented_functions(&text) {
            let name = format!("{module}: {}", f.name);
            if f.summary.is_empty() {
                failures.push(format!("{name} has no doc comment"));
            }
            if f.examples.is_empty() {
                failures.push(format!("{name} has no example"));
            }
            for (code, expected) in &f.examples {
                count += 1;
                let mut params = Vec::new();
                if code.contains("JAVA_PID") {
                    let jvm = jvm.get_or_insert_with(|| common::jvm::Jvm::start(dir.path(), "Probe", &["1000"]));
                    params.push(Param { name: "JAVA_PID".into(), value: (jvm.pid() as i64).into() });
                }
                let mut s = session_with(dir.path(), 10_000 + count, params);
                match (s.eval(code, "<example>"), expected) {
                    (Err(e), _) => failures.push(format!("{name}: `{code}` failed: {e}")),
                    (Ok(value), Some(expected)) => {
                        let want: serde_json::Value = serde_json::from_str(expected)
                            .unwrap_or_else(|e| panic!("{name}: expected result {expected} is not JSON: {e}"));
                        let got = to_json(&value);
                        if got != want {
                            failures.push(format!("{name}: `{code}` gave {got}, documented {want}"));
                        }
                    }
                    (Ok(_), None) => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} stdlib example(s) failed:\n{}", failures.len(), failures.join("\n"));
    assert!(count >= 20, "only {count} stdlib examples ran");
}
