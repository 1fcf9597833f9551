//! Tenants as the database knows them: the schema registry (schemas named like `tenant_*`, a
//! tenants table, or both) and each tenant's migration history (Flyway's
//! `flyway_schema_history`, sqlx's `_sqlx_migrations`, Rails' or golang-migrate's
//! `schema_migrations`), compared with the version every tenant should be at.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::sql::db::{self, Database, Rows, Value};
use crate::sql::{Dialect, SchemaGlob};

/// History tables, in the order they are looked for in a schema.
pub const HISTORY_TABLES: [&str; 3] = ["flyway_schema_history", "_sqlx_migrations", "schema_migrations"];
/// Columns of a tenants table that hold the tenant id, in order of preference.
const ID_COLUMNS: [&str; 6] = ["tenant_id", "tenant", "slug", "code", "name", "id"];
/// Columns of a tenants table that hold the tenant's schema.
const SCHEMA_COLUMNS: [&str; 4] = ["schema_name", "schema", "db_schema", "tenant_schema"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error("tenants table {table}: {message}")]
    Registry { table: String, message: String },
    #[error("no tenants to look for: give a schema pattern (e.g. 'tenant_*') or a tenants table")]
    NothingToFind,
}

/// Where the tenants are registered.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Schemas (MySQL databases, SQLite attached databases) named like this are tenants'.
    pub schemas: Option<SchemaGlob>,
    /// A table listing the tenants, optionally schema-qualified (`public.tenants`).
    pub table: Option<String>,
    /// The version every tenant should be at; by default the highest any tenant reached.
    pub expected: Option<String>,
}

/// What the migration history of one tenant says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// At the expected version, nothing failed.
    Ok,
    /// A migration is recorded as failed and was not applied since.
    Failed,
    /// golang-migrate marked the schema dirty: a migration stopped half-way.
    Dirty,
    /// Migrations other tenants have (up to the expected version) are missing.
    Behind,
    /// The schema has none of the history tables.
    NoHistory,
    /// The tenants table lists the tenant but its schema does not exist.
    NoSchema,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Dirty => "dirty",
            Status::Behind => "behind",
            Status::NoHistory => "no-history",
            Status::NoSchema => "no-schema",
        }
    }

    /// Whether the tenant needs attention after a deploy.
    pub fn is_problem(self) -> bool {
        self != Status::Ok
    }
}

/// One tenant's registry entry and migration state.
#[derive(Debug, Clone, Serialize)]
pub struct TenantState {
    pub tenant: String,
    pub schema: Option<String>,
    pub schema_exists: bool,
    /// Listed in the tenants table; `None` when there is no tenants table.
    pub registered: Option<bool>,
    pub history_table: Option<String>,
    /// Successfully applied migrations.
    pub applied: usize,
    pub latest_version: Option<String>,
    /// When the latest successful migration was applied (as the database writes it).
    pub latest_installed_on: Option<String>,
    pub failed_versions: Vec<String>,
    pub missing_versions: Vec<String>,
    pub expected_version: Option<String>,
    pub status: Status,
    /// The state in words.
    pub detail: String,
}

/// One history row, whatever tool wrote it.
#[derive(Debug, Clone)]
struct Applied {
    version: String,
    success: bool,
    installed_on: Option<String>,
}

/// Every tenant the registry knows, with its migration state, sorted by tenant.
pub async fn tenant_states(db: &Database, registry: &Registry) -> Result<Vec<TenantState>, Error> {
    if registry.schemas.is_none() && registry.table.is_none() {
        return Err(Error::NothingToFind);
    }
    let dialect = db.dialect();
    let existing = schemas(db).await?;
    // tenant -> (schema, registered)
    let mut tenants: BTreeMap<String, (Option<String>, Option<bool>)> = BTreeMap::new();
    if let Some(glob) = &registry.schemas {
        for schema in &existing {
            if let Some(tenant) = glob.tenant_of(schema) {
                tenants.insert(tenant, (Some(schema.clone()), registry.table.as_ref().map(|_| false)));
            }
        }
    }
    if let Some(table) = &registry.table {
        for (tenant, schema) in registered(db, table).await? {
            let schema = schema.or_else(|| registry.schemas.as_ref().map(|g| g.schema_of(&tenant)));
            tenants.insert(tenant, (schema, Some(true)));
        }
    }
    let histories = history_tables(db).await?;
    let mut found: Vec<Found> = Vec::new();
    for (tenant, (schema, registered)) in tenants {
        let exists = schema.as_ref().is_some_and(|s| existing.iter().any(|e| e.eq_ignore_ascii_case(s)));
        let table = schema.as_ref().filter(|_| exists).and_then(|s| histories.get(&s.to_ascii_lowercase()).copied());
        let rows = match (&schema, table) {
            (Some(schema), Some(table)) => history(db, dialect, schema, table).await?,
            _ => Vec::new(),
        };
        found.push(Found { tenant, schema, exists, registered, table, rows });
    }
    let successes = || found.iter().flat_map(|f| f.rows.iter().filter(|a| a.success).map(|a| &a.version));
    let expected = registry.expected.clone().or_else(|| successes().max_by(|a, b| compare(a, b)).cloned());
    let everyone: BTreeSet<Version> = successes()
        .filter(|v| expected.as_ref().is_none_or(|e| compare(v, e) != Ordering::Greater))
        .map(|v| Version(v.clone()))
        .collect();
    Ok(found.into_iter().map(|f| f.state(expected.as_deref(), &everyone)).collect())
}

/// A tenant as found, before its history is judged.
struct Found {
    tenant: String,
    schema: Option<String>,
    exists: bool,
    registered: Option<bool>,
    table: Option<&'static str>,
    rows: Vec<Applied>,
}

impl Found {
    fn state(self, expected: Option<&str>, everyone: &BTreeSet<Version>) -> TenantState {
        let ok: Vec<&Applied> = self.rows.iter().filter(|a| a.success).collect();
        let done: BTreeSet<&str> = ok.iter().map(|a| a.version.as_str()).collect();
        let latest = ok.iter().max_by(|a, b| compare(&a.version, &b.version));
        let mut failed: Vec<String> = self
            .rows
            .iter()
            .filter(|a| !a.success && !done.contains(a.version.as_str()))
            .map(|a| a.version.clone())
            .collect();
        failed.dedup();
        let mut missing: Vec<String> =
            everyone.iter().filter(|v| !done.contains(v.0.as_str())).map(|v| v.0.clone()).collect();
        if let Some(e) = expected
            && !done.contains(e)
            && !missing.iter().any(|m| m == e)
        {
            missing.push(e.to_string());
        }
        let dirty = self.table == Some("schema_migrations") && !failed.is_empty();
        let schema = self.schema.as_deref().unwrap_or_default();
        let (status, detail) = if self.schema.is_none() {
            (Status::NoHistory, "no schema is known for this tenant".to_string())
        } else if !self.exists {
            (Status::NoSchema, format!("listed in the tenants table, but schema {schema} does not exist"))
        } else if self.table.is_none() {
            (Status::NoHistory, format!("schema {schema} holds none of {}", HISTORY_TABLES.join(", ")))
        } else if dirty {
            (Status::Dirty, format!("schema_migrations is dirty at version {}", failed.join(", ")))
        } else if !failed.is_empty() {
            (Status::Failed, format!("migration {} failed and was not applied since", failed.join(", ")))
        } else if !missing.is_empty() {
            let at = latest.map_or("no migration".to_string(), |a| format!("version {}", a.version));
            (Status::Behind, format!("at {at}; missing {}", missing.join(", ")))
        } else {
            (Status::Ok, format!("at version {}", latest.map_or("-", |a| a.version.as_str())))
        };
        TenantState {
            tenant: self.tenant,
            schema: self.schema.clone(),
            schema_exists: self.exists,
            registered: self.registered,
            history_table: self.table.map(str::to_string),
            applied: ok.len(),
            latest_version: latest.map(|a| a.version.clone()),
            latest_installed_on: latest.and_then(|a| a.installed_on.clone()),
            failed_versions: failed,
            missing_versions: missing,
            expected_version: expected.map(str::to_string),
            status,
            detail,
        }
    }
}

/// Every schema (database, attached database) name.
async fn schemas(db: &Database) -> Result<Vec<String>, Error> {
    let sql = match db.dialect() {
        Dialect::Postgres => "SELECT nspname::text FROM pg_namespace",
        Dialect::Mysql => "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata",
        Dialect::Sqlite => "SELECT name FROM pragma_database_list",
    };
    Ok(first_column(&db.fetch(sql, &[]).await?))
}

fn first_column(rows: &Rows) -> Vec<String> {
    rows.rows.iter().filter_map(|r| r.first().and_then(text)).collect()
}

/// Lower-cased schema -> the first history table it holds.
async fn history_tables(db: &Database) -> Result<BTreeMap<String, &'static str>, Error> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    match db.dialect() {
        Dialect::Postgres | Dialect::Mysql => {
            let (cast_schema, cast_table) = match db.dialect() {
                Dialect::Postgres => ("table_schema::text", "table_name::text"),
                _ => ("CAST(table_schema AS CHAR)", "CAST(table_name AS CHAR)"),
            };
            let names = HISTORY_TABLES.map(|t| format!("'{t}'")).join(", ");
            let sql = format!(
                "SELECT {cast_schema}, {cast_table} FROM information_schema.tables WHERE table_name IN ({names})"
            );
            for row in db.fetch(&sql, &[]).await?.rows {
                if let (Some(s), Some(t)) = (row.first().and_then(text), row.get(1).and_then(text)) {
                    pairs.push((s, t));
                }
            }
        }
        Dialect::Sqlite => {
            for schema in schemas(db).await? {
                let sql = format!(
                    "SELECT name FROM {}.sqlite_master WHERE type = 'table'",
                    Dialect::Sqlite.quote_ident(&schema)
                );
                for table in first_column(&db.fetch(&sql, &[]).await?) {
                    pairs.push((schema.clone(), table));
                }
            }
        }
    }
    let mut out: BTreeMap<String, &'static str> = BTreeMap::new();
    for known in HISTORY_TABLES {
        for (schema, table) in &pairs {
            if table.eq_ignore_ascii_case(known) {
                out.entry(schema.to_ascii_lowercase()).or_insert(known);
            }
        }
    }
    Ok(out)
}

/// The tenants a tenants table lists, with their schema when it has a schema column.
async fn registered(db: &Database, table: &str) -> Result<Vec<(String, Option<String>)>, Error> {
    let qualified = db.dialect().quote_path(table);
    let rows = db
        .fetch(&format!("SELECT * FROM {qualified}"), &[])
        .await
        .map_err(|e| Error::Registry { table: table.to_string(), message: format!("cannot be read: {e}") })?;
    if rows.rows.is_empty() {
        return Ok(Vec::new());
    }
    let find = |names: &[&str]| names.iter().find_map(|n| rows.columns.iter().position(|c| c.eq_ignore_ascii_case(n)));
    let id = find(&ID_COLUMNS).ok_or_else(|| Error::Registry {
        table: table.to_string(),
        message: format!("has none of the columns {} to name the tenant", ID_COLUMNS.join(", ")),
    })?;
    let schema = find(&SCHEMA_COLUMNS);
    Ok(rows
        .rows
        .iter()
        .filter_map(|row| {
            let tenant = text(&row[id])?;
            Some((tenant, schema.and_then(|s| text(&row[s]))))
        })
        .collect())
}

/// The rows of one history table.
async fn history(db: &Database, dialect: Dialect, schema: &str, table: &str) -> Result<Vec<Applied>, Error> {
    let sql = format!("SELECT * FROM {}.{}", dialect.quote_ident(schema), dialect.quote_ident(table));
    let rows = db.fetch(&sql, &[]).await?;
    let column = |name: &str| rows.columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let (version, success, dirty, installed, rank, kind) = (
        column("version"),
        column("success"),
        column("dirty"),
        column("installed_on"),
        column("installed_rank"),
        column("type"),
    );
    let Some(version) = version else { return Ok(Vec::new()) };
    let mut applied: Vec<(i64, Applied)> = rows
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            // Flyway's repeatable migrations have no version; its schema marker is not a migration.
            let v = text(&row[version])?;
            if kind.and_then(|k| text(&row[k])).is_some_and(|k| k == "SCHEMA") {
                return None;
            }
            let success = match (success, dirty) {
                (Some(s), _) => truthy(&row[s]),
                (None, Some(d)) => !truthy(&row[d]),
                (None, None) => true,
            };
            let order = rank.and_then(|r| row[r].as_i64()).unwrap_or(i as i64);
            Some((order, Applied { version: v, success, installed_on: installed.and_then(|c| text(&row[c])) }))
        })
        .collect();
    applied.sort_by_key(|(order, _)| *order);
    Ok(applied.into_iter().map(|(_, a)| a).collect())
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true`, 1 (MySQL's TINYINT booleans) and `'t'`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.as_str(), "t" | "true" | "1" | "TRUE"),
        _ => false,
    }
}

/// Migration versions in version order: `1.10` after `1.9`, `20240514` after `7`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version(String);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compare versions part by part (split at `.` and `_`), numbers as numbers.
pub fn compare(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| s.split(['.', '_']).map(str::to_string).collect::<Vec<_>>();
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x.parse::<u128>(), y.parse::<u128>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_parts() {
        assert_eq!(compare("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare("7", "10"), Ordering::Less);
        assert_eq!(compare("2", "2.1"), Ordering::Less);
        assert_eq!(compare("20240514120000", "20240514120000"), Ordering::Equal);
    }

    fn applied(version: &str, success: bool) -> Applied {
        Applied { version: version.into(), success, installed_on: None }
    }

    fn judge(table: Option<&'static str>, rows: &[(&str, bool)]) -> TenantState {
        let everyone: BTreeSet<Version> = ["1", "2", "3"].iter().map(|v| Version(v.to_string())).collect();
        let rows = rows.iter().map(|(v, ok)| applied(v, *ok)).collect();
        let found =
            Found { tenant: "a".into(), schema: Some("tenant_a".into()), exists: true, registered: None, table, rows };
        found.state(Some("3"), &everyone)
    }

    #[test]
    fn states_say_failed_behind_dirty_and_ok() {
        let flyway = Some("flyway_schema_history");
        let ok = judge(flyway, &[("1", true), ("2", true), ("3", true)]);
        assert_eq!((ok.status, ok.latest_version.as_deref(), ok.applied), (Status::Ok, Some("3"), 3));
        let failed = judge(flyway, &[("1", true), ("2", true), ("3", false)]);
        assert_eq!((failed.status, failed.failed_versions.clone()), (Status::Failed, vec!["3".to_string()]));
        assert_eq!(judge(flyway, &[("1", true), ("2", true), ("3", false), ("3", true)]).status, Status::Ok);
        let behind = judge(flyway, &[("1", true), ("2", true)]);
        assert_eq!((behind.status, behind.missing_versions.clone()), (Status::Behind, vec!["3".to_string()]));
        assert_eq!(behind.detail, "at version 2; missing 3");
        assert_eq!(judge(Some("schema_migrations"), &[("3", false)]).status, Status::Dirty);
        assert_eq!(judge(None, &[]).status, Status::NoHistory);
    }
}
