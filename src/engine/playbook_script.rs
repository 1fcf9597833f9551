//! Playbooks as Rhai runbooks: the typed plan of `triage::playbook` written as a script that
//! `deployclaw run` executes, dry run unless `--execute`, every statement through the guard.
//!
//! Nothing read from a database, a log or a file becomes code: the script's code and comments
//! are fixed text, and every value (tenant, schema, titles, SQL, parameters, the reasons) is a
//! Rhai string literal with every escape ([`string_literal`]). A migration version such as
//! `7\r write_text(...); //` stays a string: a lone CR ends a Rhai comment, so values never go
//! into comments.

use super::convert::string_literal as literal;
use crate::triage::playbook::{Playbook, Statement};

fn params(statement: &Statement) -> String {
    let values: Vec<String> = statement
        .params
        .iter()
        .map(|p| match p {
            serde_json::Value::String(s) => literal(s),
            serde_json::Value::Number(n) if n.is_i64() => n.to_string(),
            other => literal(&other.to_string()),
        })
        .collect();
    format!("[{}]", values.join(", "))
}

/// The runbook's fixed preamble: what it does and how to run it, with no value in it.
const PREAMBLE: &str = "\
// Rollback playbook written by deployclaw from a CI-failure triage. The tenant, the risk and
// why are in `about` below; the statements are in the steps after it.
//
// Runs dry unless --execute: every statement passes the tenant guard for the tenant, and the
// repairs run in one transaction that a dry run rolls back. Parameters: DB_URL (required),
// BACKUP_DIR (where the backups go; default: the current folder).
//
//   deployclaw run THIS_FILE -p DB_URL=postgres://USER@HOST/DB            # dry run
//   deployclaw run THIS_FILE -p DB_URL=postgres://USER@HOST/DB --execute  # apply
";

/// The runbook for `book`. `tenancy` is the tenancy map the guard proves the statements
/// against (TOML text); `origin` says what the triage read.
pub fn render(book: &Playbook, tenancy: &str, origin: &str, written_at: &str) -> String {
    let mut out = String::from(PREAMBLE);
    out += "\nlet about = #{\n";
    out += &format!("    tenant: {},\n", literal(&book.tenant));
    out += &format!("    file: {},\n", literal(&crate::triage::playbook::file_stem(&book.tenant)));
    out += &format!("    schema: {},\n", book.schema.as_deref().map_or_else(|| "()".into(), literal));
    out += &format!("    risk: {},\n", book.score);
    out += &format!("    why: {},\n", literal(&book.why));
    out += &format!("    triage_of: {},\n", literal(origin));
    out += &format!("    written_at: {},\n", literal(written_at));
    out += "};\n";
    out += "print(\"Rollback playbook for tenant \" + about.tenant + \" (risk \" + about.risk + \"/100): \" + about.why);\n";
    out += "if !is_def_var(\"DB_URL\") { throw \"give the database: deployclaw run THIS_FILE -p DB_URL=...\"; }\n";
    out += "let backup_dir = if is_def_var(\"BACKUP_DIR\") { BACKUP_DIR } else { \".\" };\n";
    out += &format!("let tenancy = {};\n", literal(tenancy));
    out += "let db = sql::connect(DB_URL, tenancy);\n";
    out += "let t = sql::with_tenant(db, about.tenant);\n";
    out += "evidence::note(\"rollback playbook for tenant \" + about.tenant + \": \" + about.why);\n";

    if !book.checks.is_empty() {
        out += "\n// 1. The tenant's state before anything changes.\n";
        for check in &book.checks {
            out += &format!("print({});\n", literal(&format!("== {}", check.title)));
            out += &format!("print(t.query({}, {}));\n", literal(&check.sql), params(check));
        }
    }
    if !book.backups.is_empty() {
        out += "\n// 2. Back up what a rollback would lose.\n";
        for (i, backup) in book.backups.iter().enumerate() {
            out += &format!("print({});\n", literal(&format!("== backup: {}", backup.title)));
            out += &format!("let rows = t.query({}, {});\n", literal(&backup.sql), params(backup));
            // The file is named by its number alone: tenant names are not file names.
            out += &format!("let path = backup_dir + \"/backup-\" + about.file + \"-{}.csv\";\n", i + 1);
            out += "rows.to_csv(path);\n";
            out += &format!(
                "evidence::note({} + path + \" (\" + rows.len() + \" rows)\");\n",
                literal(&format!("backed up {} to ", backup.title))
            );
        }
    }
    if !book.repairs.is_empty() {
        out += "\n// 3. Repairs, in one transaction: rolled back on a dry run, committed with --execute.\n";
        for repair in &book.repairs {
            out += &format!("print({});\n", literal(&format!("== repair: {}", repair.title)));
        }
        out += "let outcome = sql::atomic(t, [\n";
        for repair in &book.repairs {
            out += &format!("    [{}, {}],\n", literal(&repair.sql), params(repair));
        }
        out += "]);\n";
        out += "print(outcome.steps);\n";
        out += "print(if outcome.dry_run { \"dry run: the repairs were rolled back; run again with --execute to apply them\" } else { \"the repairs are committed\" });\n";
        out += "evidence::note(\"playbook \" + about.tenant + if outcome.dry_run { \": repairs checked and rolled back (dry run)\" } else { \": repairs committed\" });\n";
    }
    if !book.manual.is_empty() {
        out += "\n// 4. For a person: what no statement here does, and why.\n";
        for step in &book.manual {
            out += &format!("print({});\n", literal(&format!("to do by hand: {step}")));
            out += &format!("evidence::note({});\n", literal(&format!("to do by hand: {step}")));
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{ASTNode, Expr};

    fn book(text: &str, param: &str) -> Playbook {
        let statement = |sql: &str| Statement {
            title: text.into(),
            sql: format!("{sql} /* {text} */"),
            params: vec![param.into()],
        };
        Playbook {
            tenant: text.into(),
            schema: Some(text.into()),
            dialect: "postgres".into(),
            score: 40,
            why: text.into(),
            checks: vec![statement("SELECT 1")],
            backups: vec![statement("SELECT * FROM x WHERE t >= $2")],
            repairs: vec![statement("DELETE FROM h WHERE version = $2")],
            manual: vec![text.into()],
        }
    }

    /// What the script does, without its values: every node's kind, calls and variables by name.
    fn skeleton(script: &str) -> Vec<String> {
        let mut engine = rhai::Engine::new();
        engine.set_optimization_level(rhai::OptimizationLevel::None);
        let ast = engine.compile(script).unwrap_or_else(|e| panic!("{e}\n{script}"));
        let mut out = Vec::new();
        ast.walk(&mut |path: &[ASTNode]| {
            out.push(match path.last() {
                Some(ASTNode::Expr(Expr::StringConstant(..))) => "string".to_string(),
                Some(ASTNode::Expr(Expr::FnCall(call, _))) => format!("call {}", call.name),
                Some(ASTNode::Expr(Expr::MethodCall(call, _))) => format!("method {}", call.name),
                Some(ASTNode::Expr(Expr::Variable(v, ..))) => format!("variable {}", v.1),
                Some(ASTNode::Expr(Expr::Property(p, _))) => format!("property {}", p.2),
                Some(ASTNode::Expr(e)) => format!("{:?}", std::mem::discriminant(*e)),
                Some(ASTNode::Stmt(s)) => format!("{:?}", std::mem::discriminant(*s)),
                Some(_) | None => String::new(),
            });
            true
        });
        out
    }

    #[test]
    fn every_part_of_the_plan_becomes_a_statement_or_a_note() {
        let mut book = book("acme", "7");
        book.why = "migration +40 (\"7\" failed)".into();
        let script = render(&book, "tenant_schemas = \"tenant_*\"", "deploy.log", "2026-12-01T00:00:00Z");
        assert!(script.contains(r#"let tenancy = "tenant_schemas = \"tenant_*\"";"#), "{script}");
        assert!(script.contains(r#"    tenant: "acme","#), "{script}");
        assert!(script.contains(r#"let t = sql::with_tenant(db, about.tenant);"#), "{script}");
        assert!(script.contains(r#"    ["DELETE FROM h WHERE version = $2 /* acme */", ["7"]],"#), "{script}");
        assert!(script.contains(r#"evidence::note("to do by hand: acme");"#), "{script}");
        assert!(script.contains(r#"    why: "migration +40 (\"7\" failed)","#), "{script}");
    }

    /// Hostile text in every field that reaches a playbook (tenant, schema, titles, SQL,
    /// parameters, reasons, steps, the triage's origin) leaves the script's code as it is: the
    /// same calls in the same order as with plain values, each value a string.
    #[test]
    fn no_value_becomes_code() {
        let plain = render(&book("acme", "7"), "x = 1", "deploy.log", "now");
        for hostile in [
            "7\r write_text(\"/tmp/owned\", \"owned\"); //",
            "7\n write_text(\"/tmp/owned\", \"owned\"); //",
            "7\u{2028} write_text(\"/tmp/owned\", \"owned\"); //",
            "7\u{2029}x",
            "\"); write_text(\"/tmp/owned\", \"owned\"); (\"",
            "\\\"); write_text(\"/tmp/owned\", \"owned\"); //",
            "`${write_text(\"/tmp/owned\", \"owned\")}`",
            "*/ write_text(\"/tmp/owned\", \"owned\"); /*",
            "\u{0}\u{7f}\u{85}\u{feff}\u{1b}[31m",
        ] {
            let script = render(&book(hostile, hostile), hostile, hostile, hostile);
            assert_eq!(skeleton(&script), skeleton(&plain), "{hostile:?}\n{script}");
            assert!(!script.lines().any(|l| l.trim_start().starts_with("//") && l.contains("owned")), "{script}");
        }
    }

    #[test]
    fn literals_read_back_as_the_text_they_hold() {
        let engine = rhai::Engine::new();
        let mut text = String::new();
        // Every character class that has a meaning in Rhai source, and then some.
        for c in [
            '"', '\\', '`', '$', '{', '}', '\r', '\n', '\t', '\u{0}', '\u{2028}', '\u{2029}', '\u{85}', 'é', '😀', '/',
            '*',
        ] {
            text.push(c);
            let back: String = engine.eval(&literal(&text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(back, text);
        }
    }
}
