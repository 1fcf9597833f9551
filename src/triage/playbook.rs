//! Rollback playbooks: for one affected tenant, the statements that show its state, back up what
//! a rollback would lose, and repair its migration history, each confined to the tenant's own
//! schema so the tenant guard can prove it; and in words what a playbook cannot do (DDL, the
//! application rollback itself).

use serde::Serialize;

use super::migrations::{Status, TenantState};
use super::risk::Risk;
use super::schema_state::Written;
use crate::sql::Dialect;
use crate::sql::db::Value;

/// One statement of a playbook.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub title: String,
    pub sql: String,
    /// Parameters after the tenant (the tenant is bound by the guard's handle).
    pub params: Vec<Value>,
}

/// What a playbook for one tenant holds.
#[derive(Debug, Clone, Serialize)]
pub struct Playbook {
    pub tenant: String,
    pub schema: Option<String>,
    pub dialect: String,
    pub score: u32,
    /// Why the tenant is in the triage: the risk factors, in words.
    pub why: String,
    /// Reads that show the tenant's state before anything changes.
    pub checks: Vec<Statement>,
    /// Reads whose rows are saved to files before the rollback (rows written since the deploy).
    pub backups: Vec<Statement>,
    /// Writes, run together in one transaction: dry run unless executed.
    pub repairs: Vec<Statement>,
    /// Steps for a person, with the reason no statement does them.
    pub manual: Vec<String>,
}

/// Names that file names may be cut to, before the digest that keeps them apart.
const MAX_STEM: usize = 80;

/// A tenant's name as part of a file name, one to one: letters, digits and `-` as they are,
/// every other character (`_` too) as `_` and its code point in hex, so `a.b`, `a/b` and `a_b`
/// get files of their own and none leaves the folder. A long name is cut and ends in a digest
/// of the whole name.
pub fn file_stem(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for c in tenant.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else {
            out += &format!("_{:x}", c as u32);
            // Ends the code point, so `_2e` followed by a digit still reads back one way.
            out.push('_');
        }
    }
    if out.len() > MAX_STEM {
        let digest = blake3::hash(tenant.as_bytes()).to_hex();
        out.truncate(MAX_STEM);
        out = format!("{out}-{}", &digest.as_str()[..16]);
    }
    if out.is_empty() { "_".into() } else { out }
}

/// The `n`-th parameter after the tenant, as `dialect` writes it.
fn param(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${}", n + 1),
        Dialect::Sqlite => format!("?{}", n + 1),
        Dialect::Mysql => "?".into(),
    }
}

/// A version as the history table stores it: a number for sqlx, text for the others.
fn version_value(table: &str, version: &str) -> Value {
    match (table, version.parse::<i64>()) {
        ("_sqlx_migrations", Ok(n)) => Value::from(n),
        _ => Value::from(version),
    }
}

/// The playbook of one tenant.
pub fn plan(dialect: Dialect, state: &TenantState, risk: &Risk, written: Option<&Written>) -> Playbook {
    let mut book = Playbook {
        tenant: state.tenant.clone(),
        schema: state.schema.clone(),
        dialect: dialect.to_string(),
        score: risk.score,
        why: risk.explain(),
        checks: Vec::new(),
        backups: Vec::new(),
        repairs: Vec::new(),
        manual: Vec::new(),
    };
    let Some(schema) = state.schema.as_deref().filter(|_| state.schema_exists) else {
        book.manual.push(match state.status {
            Status::NoSchema => format!(
                "Provision the tenant's schema {}: it is registered but its schema does not exist, so there is nothing to roll back.",
                state.schema.as_deref().unwrap_or("?")
            ),
            _ => "No schema is known for this tenant: give the schema pattern (--tenant-schema-pattern) or a tenants table with a schema column.".into(),
        });
        return book;
    };
    let q = |name: &str| format!("{}.{}", dialect.quote_ident(schema), dialect.quote_ident(name));
    if let Some(table) = state.history_table.as_deref() {
        let order = match table {
            "flyway_schema_history" => "installed_rank",
            _ => "version",
        };
        let columns = match table {
            "schema_migrations" => "*",
            _ => "version, description, success, installed_on",
        };
        book.checks.push(Statement {
            title: format!("the migration history of {schema}"),
            sql: format!("SELECT {columns} FROM {} ORDER BY {order}", q(table)),
            params: Vec::new(),
        });
        match state.status {
            Status::Failed if table != "schema_migrations" => {
                for version in &state.failed_versions {
                    book.repairs.push(Statement {
                        title: format!("remove the failed record of migration {version}, as `flyway repair` does"),
                        sql: format!("DELETE FROM {} WHERE version = {} AND NOT success", q(table), param(dialect, 1)),
                        params: vec![version_value(table, version)],
                    });
                }
            }
            Status::Dirty => book.manual.push(format!(
                "golang-migrate left {schema} dirty at version {}: check which statements of that migration ran, undo them, then `migrate force` the last good version. A playbook does not guess that version.",
                state.failed_versions.join(", ")
            )),
            _ => {}
        }
    }
    if matches!(state.status, Status::Failed | Status::Dirty) {
        book.manual.push(format!(
            "If migration {} changed the schema before it failed (MySQL and MariaDB cannot roll DDL back), apply its undo migration with your migration tool: the tenant guard lets no DDL through, so no playbook step runs it.",
            state.failed_versions.join(", ")
        ));
    }
    if !state.missing_versions.is_empty() {
        book.manual.push(format!(
            "Keep tenant {} on the release before this deploy until migration(s) {} are applied to {schema}.",
            state.tenant,
            state.missing_versions.join(", ")
        ));
    }
    if let Some(w) = written {
        let since = match dialect {
            Dialect::Postgres => format!("CAST({} AS timestamptz)", param(dialect, 1)),
            Dialect::Sqlite => format!("datetime({})", param(dialect, 1)),
            Dialect::Mysql => param(dialect, 1),
        };
        let since_value = match dialect {
            Dialect::Postgres => w.since.clone(),
            _ => super::schema_state::parse_time(&w.since)
                .map_or(w.since.clone(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        };
        for key in w.tables.keys() {
            let Some((table, column)) = key.split_once('.') else { continue };
            let col = dialect.quote_ident(column);
            let lhs = if dialect == Dialect::Sqlite { format!("datetime({col})") } else { col };
            book.backups.push(Statement {
                title: format!("rows of {table} written since the deploy began"),
                sql: format!("SELECT * FROM {} WHERE {lhs} >= {since}", q(table)),
                params: vec![Value::from(since_value.clone())],
            });
        }
        if w.rows > 0 {
            book.manual.push(format!(
                "{} row(s) were written since {}: the backups hold them; replay or reconcile them after the rollback.",
                w.rows, w.since
            ));
        }
    }
    book
}

#[cfg(test)]
mod tests {

    #[test]
    fn tenant_names_make_distinct_safe_file_names() {
        let names = ["a.b", "a/b", "a_b", "a_2e_b", "../etc", "", "acme", "tenant-7", "ä", &"x".repeat(300)];
        let stems: Vec<String> = names.iter().map(|n| file_stem(n)).collect();
        for (name, stem) in names.iter().zip(&stems) {
            assert!(stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{name}: {stem}");
            assert!(!stem.is_empty() && stem.len() <= 100, "{name}: {stem}");
        }
        let distinct: std::collections::BTreeSet<&String> = stems.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{stems:?}");
        assert_eq!((stems[6].as_str(), stems[7].as_str()), ("acme", "tenant-7"), "plain names stay as they are");
    }

    use super::*;
    use crate::triage::risk::{Evidence, score};
    use std::collections::BTreeMap;

    fn failed_state() -> TenantState {
        TenantState {
            tenant: "acme".into(),
            schema: Some("tenant_acme".into()),
            schema_exists: true,
            registered: Some(true),
            history_table: Some("flyway_schema_history".into()),
            applied: 6,
            latest_version: Some("6".into()),
            latest_installed_on: None,
            failed_versions: vec!["7".into()],
            missing_versions: vec!["7".into()],
            expected_version: Some("7".into()),
            status: Status::Failed,
            detail: "migration 7 failed and was not applied since".into(),
        }
    }

    #[test]
    fn a_failed_migration_gets_checks_backups_a_repair_and_manual_steps() {
        let state = failed_state();
        let written = Written {
            since: "2024-05-14T09:00:00+00:00".into(),
            rows: 3,
            tables: BTreeMap::from([("invoices.updated_at".to_string(), 3)]),
            unseen: vec![],
        };
        let risk = score(&Evidence {
            tenant: "acme",
            migration: Some(&state),
            written: Some(&written),
            ..Evidence::default()
        });
        let book = plan(Dialect::Postgres, &state, &risk, Some(&written));
        assert_eq!(book.score, 50);
        assert_eq!(
            book.checks[0].sql,
            r#"SELECT version, description, success, installed_on FROM "tenant_acme"."flyway_schema_history" ORDER BY installed_rank"#
        );
        assert_eq!(
            book.repairs[0].sql,
            r#"DELETE FROM "tenant_acme"."flyway_schema_history" WHERE version = $2 AND NOT success"#
        );
        assert_eq!(book.repairs[0].params, [Value::from("7")]);
        assert_eq!(
            book.backups[0].sql,
            r#"SELECT * FROM "tenant_acme"."invoices" WHERE "updated_at" >= CAST($2 AS timestamptz)"#
        );
        assert_eq!(book.manual.len(), 3, "{:?}", book.manual);
        let mysql = plan(Dialect::Mysql, &state, &risk, Some(&written));
        assert_eq!(
            mysql.repairs[0].sql,
            "DELETE FROM `tenant_acme`.`flyway_schema_history` WHERE version = ? AND NOT success"
        );
        assert_eq!(mysql.backups[0].params, [Value::from("2024-05-14 09:00:00")]);
    }

    #[test]
    fn without_a_schema_only_words_remain() {
        let mut state = failed_state();
        state.schema_exists = false;
        state.status = Status::NoSchema;
        let risk = score(&Evidence { tenant: "acme", migration: Some(&state), ..Evidence::default() });
        let book = plan(Dialect::Postgres, &state, &risk, None);
        assert!(book.checks.is_empty() && book.repairs.is_empty());
        assert!(book.manual[0].starts_with("Provision the tenant's schema tenant_acme"), "{:?}", book.manual);
    }
}
