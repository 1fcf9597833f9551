//! Playbooks as Rhai runbooks: the typed plan of `triage::playbook` written as a script that
//! `deployclaw run` executes, dry run unless `--execute`, every statement through the guard.

use super::convert::string_literal as literal;
use crate::triage::playbook::{Playbook, Statement};

fn params(statement: &Statement) -> String {
    let values: Vec<String> = statement
        .params
        .iter()
        .map(|p| match p {
            serde_json::Value::String(s) => literal(s),
            other => other.to_string(),
        })
        .collect();
    format!("[{}]", values.join(", "))
}

/// Comment lines, each prefixed with `// ` (a blank one with `//`).
fn comment(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { "//\n".to_string() } else { format!("// {l}\n") }).collect()
}

/// The runbook for `book`. `tenancy` is the tenancy map the guard proves the statements
/// against (TOML text); `origin` says what the triage read.
pub fn render(book: &Playbook, tenancy: &str, origin: &str, written_at: &str) -> String {
    let tenant = &book.tenant;
    let mut out = String::new();
    out += &comment(&format!(
        "Rollback playbook for tenant {tenant}{}, written by deployclaw at {written_at}\nfrom the triage of {origin}.\n\nRisk {}/100: {}\n\nRuns dry unless --execute: every statement passes the tenant guard for {tenant}, and the\nrepairs run in one transaction that a dry run rolls back. Parameters: DB_URL (required),\nBACKUP_DIR (where the backups go; default: the current folder).\n\n  deployclaw run THIS_FILE -p DB_URL=postgres://USER@HOST/DB            # dry run\n  deployclaw run THIS_FILE -p DB_URL=postgres://USER@HOST/DB --execute  # apply",
        book.schema.as_deref().map(|s| format!(" (schema {s})")).unwrap_or_default(),
        book.score,
        book.why,
    ));
    out += "\nif !is_def_var(\"DB_URL\") { throw \"give the database: deployclaw run THIS_FILE -p DB_URL=...\"; }\n";
    out += "let backup_dir = if is_def_var(\"BACKUP_DIR\") { BACKUP_DIR } else { \".\" };\n";
    out += &format!("let tenancy = {};\n", literal(tenancy));
    out += "let db = sql::connect(DB_URL, tenancy);\n";
    out += &format!("let t = sql::with_tenant(db, {});\n", literal(tenant));
    out += &format!("evidence::note({});\n", literal(&format!("rollback playbook for tenant {tenant}: {}", book.why)));

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
            let file = format!("backup-{tenant}-{}.csv", i + 1);
            out += &comment(&backup.title);
            out += &format!("let rows = t.query({}, {});\n", literal(&backup.sql), params(backup));
            out += &format!("let path = backup_dir + \"/\" + {};\n", literal(&file));
            out += "rows.to_csv(path);\n";
            out += &format!(
                "evidence::note({} + path + \" (\" + rows.len() + \" rows)\");\n",
                literal(&format!("backed up {} to ", backup.title))
            );
        }
    }
    if !book.repairs.is_empty() {
        out += "\n// 3. Repairs, in one transaction: rolled back on a dry run, committed with --execute.\n";
        out += "let outcome = sql::atomic(t, [\n";
        for repair in &book.repairs {
            out += &format!("    // {}\n", repair.title);
            out += &format!("    [{}, {}],\n", literal(&repair.sql), params(repair));
        }
        out += "]);\n";
        out += "print(outcome.steps);\n";
        out += "print(if outcome.dry_run { \"dry run: the repairs were rolled back; run again with --execute to apply them\" } else { \"the repairs are committed\" });\n";
        out += &format!(
            "evidence::note(if outcome.dry_run {{ {} }} else {{ {} }});\n",
            literal(&format!("playbook {tenant}: repairs checked and rolled back (dry run)")),
            literal(&format!("playbook {tenant}: repairs committed")),
        );
    }
    if !book.manual.is_empty() {
        out += "\n// 4. For a person: what no statement here does, and why.\n";
        for step in &book.manual {
            out += &comment(step);
            out += &format!("evidence::note({});\n", literal(&format!("to do by hand: {step}")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_plan_becomes_a_statement_or_a_note() {
        let book = Playbook {
            tenant: "acme".into(),
            schema: Some("tenant_acme".into()),
            dialect: "postgres".into(),
            score: 40,
            why: "migration +40 (\"7\" failed)".into(),
            checks: vec![Statement { title: "history".into(), sql: "SELECT 1".into(), params: vec![] }],
            backups: vec![Statement {
                title: "rows".into(),
                sql: "SELECT * FROM x WHERE t >= $2".into(),
                params: vec!["2024-05-14".into()],
            }],
            repairs: vec![Statement {
                title: "repair".into(),
                sql: "DELETE FROM h WHERE version = $2".into(),
                params: vec!["7".into()],
            }],
            manual: vec!["undo the DDL".into()],
        };
        let script = render(&book, "tenant_schemas = \"tenant_*\"", "deploy.log", "2026-12-01T00:00:00Z");
        assert!(script.contains(r#"let tenancy = "tenant_schemas = \"tenant_*\"";"#), "{script}");
        assert!(script.contains(r#"let t = sql::with_tenant(db, "acme");"#), "{script}");
        assert!(script.contains(r#"    ["DELETE FROM h WHERE version = $2", ["7"]],"#), "{script}");
        assert!(script.contains(r#"let rows = t.query("SELECT * FROM x WHERE t >= $2", ["2024-05-14"]);"#), "{script}");
        assert!(script.contains(r#"evidence::note("to do by hand: undo the DDL");"#), "{script}");
        assert!(script.contains("// Risk 40/100: migration +40 (\"7\" failed)"), "{script}");
    }
}
