//! `deployclaw guard`: check statements against a tenancy map, for CI and pre-commit hooks.
//! A static check of text against a map, so no session and no log: nothing is run.

use std::io::{BufRead, Write};
use std::path::Path;

use super::{error, exit};
use deployclaw::sql::{Dialect, Guard, Tenancy, Verdict};

pub struct Options<'a> {
    pub tenancy: &'a Path,
    pub dialect: &'a str,
    pub tenant_param: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub json: bool,
}

/// Check `sql`, or with `-` one statement per line of stdin (blank lines and `--` lines skipped).
pub fn run(options: &Options<'_>, sql: &str) -> u8 {
    let dialect: Dialect = match options.dialect.parse() {
        Ok(d) => d,
        Err(e) => {
            error(format!("--dialect: {e}"));
            return exit::USAGE;
        }
    };
    let text = match std::fs::read_to_string(options.tenancy) {
        Ok(t) => t,
        Err(e) => {
            error(format!("cannot read tenancy map {}: {e}", options.tenancy.display()));
            return exit::USAGE;
        }
    };
    let tenancy = match Tenancy::from_toml(&text, &options.tenancy.display().to_string()) {
        Ok(t) => t,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let mut guard = Guard::new(tenancy, dialect, options.tenant_param);
    if let Some(tenant) = options.tenant {
        guard = guard.for_tenant(&serde_json::Value::from(tenant));
    }
    let statements: Vec<String> = if sql == "-" {
        let stdin = std::io::stdin();
        let mut lines = Vec::new();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) if l.trim().is_empty() || l.trim_start().starts_with("--") => {}
                Ok(l) => lines.push(l),
                Err(e) => {
                    error(format!("cannot read statements from stdin: {e}"));
                    return exit::USAGE;
                }
            }
        }
        lines
    } else {
        vec![sql.to_string()]
    };
    let mut out = std::io::stdout().lock();
    let mut denied = 0;
    for statement in &statements {
        let verdict = guard.check(statement);
        denied += usize::from(!verdict.allowed());
        let written =
            if options.json { writeln!(out, "{}", json_line(&verdict)) } else { write_human(&mut out, &verdict) };
        if written.is_err() {
            return exit::FAILED;
        }
    }
    if !options.json && statements.len() > 1 {
        let _ =
            writeln!(out, "{} statements, {} allowed, {denied} denied", statements.len(), statements.len() - denied);
    }
    if denied > 0 { exit::ERROR_FINDING } else { exit::OK }
}

fn json_line(verdict: &Verdict) -> serde_json::Value {
    serde_json::json!({
        "sql": verdict.sql,
        "verdict": if verdict.allowed() { "allow" } else { "deny" },
        "reasons": verdict.reasons,
    })
}

/// `allow: SQL`, or `deny: SQL` with each reason under a caret at its position.
fn write_human(out: &mut impl Write, verdict: &Verdict) -> std::io::Result<()> {
    if verdict.allowed() {
        return writeln!(out, "allow: {}", verdict.sql);
    }
    writeln!(out, "deny: {}", verdict.sql)?;
    for reason in &verdict.reasons {
        let before = &verdict.sql[..reason.offset.min(verdict.sql.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = verdict.sql[line_start..].find('\n').map_or(verdict.sql.len(), |i| line_start + i);
        let column = before[line_start..].chars().count();
        writeln!(out, "  | {}", &verdict.sql[line_start..line_end])?;
        let table = if reason.table.is_empty() { String::new() } else { format!(" ({})", reason.table) };
        writeln!(out, "  | {}^ {}{table}: {}", " ".repeat(column), reason.rule, reason.message)?;
    }
    Ok(())
}
