//! `deployclaw guard`: the attack corpus (tests/fixtures/guard/corpus.txt) through the CLI, the
//! human and JSON outputs, positions and exit codes.

mod common;

use common::{Sandbox, code, stderr, stdout};
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guard").join(name).display().to_string()
}

struct Case {
    dialect: String,
    verdict: String,
    rule: Option<String>,
    sql: String,
    line: usize,
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("corpus.txt")).unwrap();
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, sql) = line.split_once(": ").unwrap_or_else(|| panic!("corpus.txt:{}: no `: `", i + 1));
        let words: Vec<&str> = head.split_whitespace().collect();
        cases.push(Case {
            dialect: words[0].into(),
            verdict: words[1].into(),
            rule: words.get(2).map(|r| r.to_string()),
            sql: sql.into(),
            line: i + 1,
        });
    }
    cases
}

#[test]
fn the_corpus_gets_the_verdicts_and_rules_it_should() {
    let sandbox = Sandbox::new();
    let cases = corpus();
    let mut failures = Vec::new();
    for dialect in ["postgres", "mysql", "sqlite"] {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.dialect == dialect).collect();
        let input: String = mine.iter().map(|c| format!("{}\n", c.sql)).collect();
        let tenancy = fixture("tenancy.toml");
        let out = sandbox.run_stdin(&["guard", "--tenancy", &tenancy, "--dialect", dialect, "--json", "-"], &input);
        let denied = mine.iter().any(|c| c.verdict == "deny");
        assert_eq!(code(&out), if denied { 3 } else { 0 }, "{dialect}: {}", stderr(&out));
        let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), mine.len(), "{dialect}: one JSON object per statement");
        for (case, got) in mine.iter().zip(&lines) {
            assert_eq!(got["sql"], case.sql.as_str());
            let rules: Vec<&str> =
                got["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
            let ok = got["verdict"] == case.verdict.as_str() && case.rule.as_deref().is_none_or(|r| rules.contains(&r));
            if !ok {
                failures.push(format!(
                    "corpus.txt:{} ({dialect}) wanted {} {:?}, got {} {rules:?}: {}",
                    case.line, case.verdict, case.rule, got["verdict"], case.sql
                ));
            }
            for reason in got["reasons"].as_array().unwrap() {
                let offset = reason["offset"].as_u64().unwrap() as usize;
                assert!(offset < case.sql.len().max(1), "corpus.txt:{}: offset {offset} past the end", case.line);
                assert!(!reason["message"].as_str().unwrap().is_empty());
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 150, "the corpus shrank to {}", cases.len());
}

#[test]
fn a_refusal_names_the_rule_the_table_and_the_position() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let sql = "SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.user_id WHERE o.tenant_id = $1";
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "--json", sql]);
    assert_eq!(code(&out), 3);
    let verdict: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(verdict["verdict"], "deny");
    let reasons = verdict["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["rule"], "unscoped");
    assert_eq!(reasons[0]["table"], "users");
    assert_eq!(reasons[0]["offset"].as_u64().unwrap() as usize, sql.find("users u").unwrap());
    assert!(reasons[0]["message"].as_str().unwrap().contains("u.org_id = $1"), "{}", reasons[0]["message"]);

    // The human form points at the place.
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", sql]);
    assert_eq!(code(&out), 3);
    let text = stdout(&out);
    assert!(text.starts_with("deny: SELECT"), "{text}");
    let caret = text.lines().find(|l| l.contains('^')).unwrap();
    assert_eq!(caret.find('^').unwrap() - "  | ".len(), sql.find("users u").unwrap(), "{text}");
    assert!(caret.contains("unscoped (users)"), "{text}");
}

#[test]
fn allowed_statements_exit_zero_and_say_so() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let out = sandbox.run(&[
        "guard",
        "--tenancy",
        &tenancy,
        "--dialect",
        "sqlite",
        "SELECT * FROM orders WHERE tenant_id = ?1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "allow: SELECT * FROM orders WHERE tenant_id = ?1\n");
}

#[test]
fn a_named_tenant_parameter_replaces_the_default() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let args = |sql: &'static str| {
        vec!["guard", "--tenancy", tenancy.as_str(), "--dialect", "sqlite", "--tenant-param", ":tenant", "--json", sql]
    };
    assert_eq!(code(&sandbox.run(&args("SELECT * FROM orders WHERE tenant_id = :tenant"))), 0);
    let out = sandbox.run(&args("SELECT * FROM orders WHERE tenant_id = ?1"));
    assert_eq!(code(&out), 3);
    assert!(stdout(&out).contains("wrong-parameter"), "{}", stdout(&out));
}

#[test]
fn stdin_skips_blank_and_comment_lines_and_sums_up() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let input = "-- runbook step 1\nSELECT * FROM orders WHERE tenant_id = $1\n\nDELETE FROM orders\n";
    let out = sandbox.run_stdin(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "-"], input);
    assert_eq!(code(&out), 3);
    let text = stdout(&out);
    assert!(text.contains("allow: SELECT"), "{text}");
    assert!(text.contains("deny: DELETE FROM orders"), "{text}");
    assert!(text.ends_with("2 statements, 1 allowed, 1 denied\n"), "{text}");
}

#[test]
fn usage_errors_exit_two_naming_the_input() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path("nowhere.toml").display().to_string();
    let out = sandbox.run(&["guard", "--tenancy", &missing, "--dialect", "postgres", "SELECT 1"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read tenancy map") && stderr(&out).contains("nowhere.toml"),
        "{}",
        stderr(&out)
    );

    let bad =
        sandbox.write("bad.toml", "[tables]\nnotes = { via = \"orders\", fk = \"order_id\" }\n").display().to_string();
    let out = sandbox.run(&["guard", "--tenancy", &bad, "--dialect", "postgres", "SELECT 1"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("table `notes`: `via = \"orders\"` names a table that is not in the map"),
        "{}",
        stderr(&out)
    );

    let tenancy = fixture("tenancy.toml");
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "oracle", "SELECT 1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn long_and_chains_unions_and_sums_are_checked_without_overflowing_the_stack() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    // Each parses into a tree as deep as the chain is long; the guard's walks and the tree's
    // drop must not take the stack with them (a stack overflow aborts the process).
    let and_chain = format!("SELECT * FROM orders WHERE tenant_id = $1{}", " AND status = 'a'".repeat(40_000));
    let or_chain = format!("SELECT * FROM orders WHERE tenant_id = $1 AND (id = 0{})", " OR id = 1".repeat(40_000));
    let sum = format!("SELECT id{} FROM orders WHERE tenant_id = $1", " + 1".repeat(60_000));
    let unions = format!(
        "SELECT id FROM orders WHERE tenant_id = $1{}",
        " UNION SELECT id FROM orders WHERE tenant_id = $1".repeat(5_000)
    );
    let input = [and_chain, or_chain, sum, unions].join("\n") + "\n";
    let out = sandbox.run_stdin(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "-"], &input);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out).chars().take(2000).collect::<String>(), stderr(&out));
    assert!(stdout(&out).ends_with("4 statements, 4 allowed, 0 denied\n"), "{}", stderr(&out));

    let huge = format!("SELECT * FROM orders WHERE tenant_id = $1{}\n", " AND status = 'a'".repeat(80_000));
    let out = sandbox.run_stdin(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "-"], &huge);
    assert_eq!(code(&out), 3);
    assert!(stdout(&out).contains("more than the guard reads"), "{}", stderr(&out));
}

/// sqlparser's time doubles with each level of brackets in a PostgreSQL statement that does not
/// parse (fuzzing found 219 bytes that ran for hours): past 16 levels the guard refuses at the
/// place, at once; 16 levels still read.
/// Subscripts nest at most four deep: past that the parser's time explodes on statements that
/// do not parse (fuzzing found one that ran for hours at 12 levels); a fifth is refused where it
/// opens, and subscripts one after the other are no nesting.
#[test]
fn subscripts_nested_past_four_levels_are_refused_at_the_place() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let side_by_side = "SELECT a[1][2][3][4][5][6] FROM orders WHERE tenant_id = $1";
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", side_by_side]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let sql = format!("SELECT q.a{}", "[b.c".repeat(12));
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "--json", &sql]);
    assert_eq!(code(&out), 3);
    let verdict: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let reason = &verdict["reasons"][0];
    assert!(reason["message"].as_str().unwrap().contains("subscripts `[` nested more than 4 levels"), "{verdict}");
    assert_eq!(reason["offset"].as_u64().unwrap() as usize, "SELECT q.a".len() + 4 * 4, "the fifth `[`: {verdict}");
}

#[test]
fn a_dot_not_followed_by_a_name_is_refused_at_the_dot() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let dotted = "SELECT o.*, o.\"total\", public.orders.id FROM public.orders o WHERE o.tenant_id = $1";
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", dotted]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    // Fuzzing found chains of these that cost sqlparser minutes (tests/fixtures/fuzz/guard).
    let sql = format!("SELECT a{} FROM orders WHERE tenant_id = $1", ".b.-c".repeat(40));
    for dialect in ["postgres", "mysql", "sqlite"] {
        let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", dialect, "--json", &sql]);
        assert_eq!(code(&out), 3, "{dialect}");
        let verdict: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        let reason = &verdict["reasons"][0];
        assert!(reason["message"].as_str().unwrap().contains("a `.` not followed by a name or `*`"), "{verdict}");
        assert_eq!(reason["offset"].as_u64().unwrap() as usize, "SELECT a.b".len(), "the second dot: {verdict}");
    }
}

#[test]
fn brackets_nested_past_sixteen_levels_are_refused_at_the_place() {
    let sandbox = Sandbox::new();
    let tenancy = fixture("tenancy.toml");
    let sixteen = format!("SELECT * FROM orders WHERE tenant_id = {}$1{}", "(".repeat(16), ")".repeat(16));
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", &sixteen]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let sql = format!("SELECT f{}1", "(g(".repeat(12));
    let out = sandbox.run(&["guard", "--tenancy", &tenancy, "--dialect", "postgres", "--json", &sql]);
    assert_eq!(code(&out), 3);
    let verdict: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let reason = &verdict["reasons"][0];
    assert_eq!(reason["rule"], "parse", "{verdict}");
    assert!(reason["message"].as_str().unwrap().contains("nested more than 16 levels"), "{verdict}");
    // Two openings per `(g(`: the 17th is the first `(` of the ninth.
    assert_eq!(reason["offset"].as_u64().unwrap() as usize, "SELECT f".len() + 8 * 3, "the 17th opening: {verdict}");
}
