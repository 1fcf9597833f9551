//! Schema lints for tenant isolation: what in the schema itself lets one tenant's rows reach
//! another, or makes the tenant key unreliable.

use serde::Serialize;

use super::dialect::Dialect;
use super::schema::Schema;
use super::tenancy::{Kind, Tenancy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lint {
    pub rule: &'static str,
    pub severity: Severity,
    pub table: String,
    pub column: Option<String>,
    pub message: String,
}

/// Every lint of `schema` under `tenancy`, errors first.
pub fn lint(schema: &Schema, tenancy: &Tenancy, dialect: Dialect) -> Vec<Lint> {
    let mut out = Vec::new();
    let mut push = |rule, severity, table: &str, column: Option<&str>, message: String| {
        out.push(Lint { rule, severity, table: table.into(), column: column.map(str::to_string), message });
    };
    for table in schema.tables.iter().filter(|t| t.kind != "view") {
        let Some(entry) = tenancy.table(None, &table.name) else {
            push(
                "unmapped-table",
                Severity::Warning,
                &table.name,
                None,
                format!(
                    "`{}` is not in the tenancy map, so the guard refuses every statement that uses it",
                    table.name
                ),
            );
            continue;
        };
        let Some(key) = entry.tenant_column() else { continue };
        let what = match entry.kind {
            Kind::Derived { .. } => "foreign key to its tenant's parent",
            _ => "tenant key",
        };
        let Some(column) = schema.column(&table.name, key) else {
            push(
                "missing-key",
                Severity::Error,
                &table.name,
                Some(key),
                format!("the tenancy map says {}.{key} is its {what}, but the table has no such column", table.name),
            );
            continue;
        };
        if column.nullable {
            push(
                "nullable-key",
                Severity::Error,
                &table.name,
                Some(key),
                format!(
                    "{}.{key} can be NULL: such rows belong to no tenant and no tenant condition ever reaches them; make it NOT NULL",
                    table.name
                ),
            );
        }
        if !matches!(entry.kind, Kind::Root { .. })
            && !schema
                .indexes
                .iter()
                .any(|i| i.table == table.name && i.columns.first().map(String::as_str) == Some(key))
        {
            push(
                "unindexed-key",
                Severity::Warning,
                &table.name,
                Some(key),
                format!(
                    "no index starts with {}.{key}: every tenant-scoped query scans the table; add an index leading with {key}",
                    table.name
                ),
            );
        }
        let collation = column.collation.as_deref().unwrap_or_default().to_ascii_lowercase();
        let data_type = column.data_type.to_ascii_lowercase();
        if collation.ends_with("_ci") || collation.contains("_ci_") || data_type == "citext" {
            push(
                "case-insensitive-key",
                Severity::Error,
                &table.name,
                Some(key),
                format!(
                    "{}.{key} compares without case ({}): tenant 'acme' matches 'ACME'; use a binary collation such as utf8mb4_bin",
                    table.name,
                    if data_type == "citext" { "citext".to_string() } else { collation.clone() }
                ),
            );
        }
        if ["float", "double", "real", "float4", "float8"].iter().any(|t| data_type.starts_with(t)) {
            push(
                "inexact-key",
                Severity::Error,
                &table.name,
                Some(key),
                format!(
                    "{}.{key} is a floating-point type ({}), whose equality is not exact; use an integer, uuid or text key",
                    table.name, column.data_type
                ),
            );
        }
        if dialect == Dialect::Postgres && !table.rls_enabled {
            push(
                "rls-disabled",
                Severity::Warning,
                &table.name,
                None,
                format!(
                    "row-level security is off on `{}`: only the application's own conditions keep tenants apart",
                    table.name
                ),
            );
        } else if dialect == Dialect::Postgres && !table.rls_forced {
            push(
                "rls-not-forced",
                Severity::Warning,
                &table.name,
                None,
                format!(
                    "row-level security on `{}` is not forced, so the table's owner bypasses it; ALTER TABLE ... FORCE ROW LEVEL SECURITY",
                    table.name
                ),
            );
        }
    }
    for policy in &schema.policies {
        let always = |e: &Option<String>| {
            e.as_deref().map(|s| s.trim().trim_matches(['(', ')']).to_ascii_lowercase()) == Some("true".into())
        };
        if policy.permissive && (always(&policy.using) || always(&policy.check)) {
            push(
                "policy-always-true",
                Severity::Error,
                &policy.table,
                None,
                format!(
                    "policy `{}` on `{}` is always true, so it lets every tenant's rows through",
                    policy.name, policy.table
                ),
            );
        }
    }
    let tenant_tables: Vec<&str> = tenancy.tables().filter(|t| !t.is_global()).map(|t| t.name.as_str()).collect();
    let mentions = |text: &str| -> Option<String> {
        let lower = text.to_ascii_lowercase();
        tenant_tables
            .iter()
            .find(|t| lower.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == **t))
            .map(|t| t.to_string())
    };
    for view in schema.tables.iter().filter(|t| t.definer_view) {
        if let Some(t) = view.definition.as_deref().and_then(mentions) {
            push(
                "definer-view",
                Severity::Error,
                &view.name,
                None,
                format!(
                    "view `{}` reads tenant table `{t}` with its owner's rights, past row-level security; create it WITH (security_invoker = true) or SQL SECURITY INVOKER",
                    view.name
                ),
            );
        }
    }
    for function in &schema.definer_functions {
        if let Some(t) = mentions(&function.body) {
            push(
                "definer-function",
                Severity::Error,
                &function.name,
                None,
                format!(
                    "SECURITY DEFINER function `{}` reads tenant table `{t}` with its owner's rights; make it SECURITY INVOKER or check the tenant inside it",
                    function.name
                ),
            );
        }
    }
    out.sort_by_key(|l| (l.severity != Severity::Error, l.table.clone()));
    out
}
