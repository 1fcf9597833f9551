//! A small failed deploy to try the triage on: two Jenkins logs (tenant migrations where two
//! tenants fail, integration tests that exhaust a connection pool), the service graph, and, on a
//! PostgreSQL or MySQL/MariaDB server, the tenants' schemas with their Flyway histories.

use std::path::{Path, PathBuf};

use crate::sql::db::{self, Database};
use crate::sql::{Dialect, SchemaGlob};

pub const MIGRATE_LOG: &str = include_str!("demo/migrate-tenants.log");
pub const ORDERS_LOG: &str = include_str!("demo/orders-it.log");
pub const GRAPH: &str = include_str!("demo/services.toml");
/// The tenants of the demo, and how their migration to version 7 went.
pub const TENANTS: [(&str, Outcome); 4] = [
    ("acme", Outcome::Failed),
    ("globex", Outcome::Missing),
    ("initech", Outcome::Applied),
    ("umbrella", Outcome::Applied),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Flyway recorded version 7 as failed.
    Failed,
    /// Version 7 was rolled back with its history row.
    Missing,
    Applied,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the demo to {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error("the demo schemas go on PostgreSQL or MySQL/MariaDB; SQLite has no schemas of its own")]
    Sqlite,
    #[error("schema {0} already exists: the demo only creates schemas, it never changes existing ones")]
    Exists(String),
}

/// The files written.
pub struct Files {
    pub logs: PathBuf,
    pub graph: PathBuf,
}

/// Write the logs (into `dir/logs`, one file per job) and the graph into `dir`, which must be
/// empty or missing.
pub fn write_files(dir: &Path) -> Result<Files, Error> {
    let fail = |path: &Path, message: String| Error::Write { path: path.to_path_buf(), message };
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(fail(dir, "the folder is not empty".into()));
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| fail(&logs, e.to_string()))?;
    for (name, text) in [("migrate-tenants.log", MIGRATE_LOG), ("orders-it.log", ORDERS_LOG)] {
        crate::paths::write_atomically(&logs.join(name), text.as_bytes()).map_err(|m| fail(&logs, m))?;
    }
    let graph = dir.join("services.toml");
    crate::paths::write_atomically(&graph, GRAPH.as_bytes()).map_err(|m| fail(&graph, m))?;
    Ok(Files { logs, graph })
}

/// Create the tenants' schemas, named by `glob`, in `db`: invoices (umbrella's with one extra
/// column), a Flyway history where acme's version 7 failed and globex's is missing, and rows
/// written after the deploy began for acme and globex.
pub async fn create_schemas(db: &Database, glob: &SchemaGlob) -> Result<Vec<String>, Error> {
    let dialect = db.dialect();
    if dialect == Dialect::Sqlite {
        return Err(Error::Sqlite);
    }
    let existing = db
        .fetch(
            match dialect {
                Dialect::Postgres => "SELECT nspname::text FROM pg_namespace",
                _ => "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata",
            },
            &[],
        )
        .await?;
    let names: Vec<String> = TENANTS.iter().map(|(t, _)| glob.schema_of(t)).collect();
    for row in &existing.rows {
        if let Some(name) = row[0].as_str().filter(|n| names.iter().any(|s| s.eq_ignore_ascii_case(n))) {
            return Err(Error::Exists(name.to_string()));
        }
    }
    let (boolean, stamp) = match dialect {
        Dialect::Postgres => ("BOOLEAN", "TIMESTAMP"),
        _ => ("BOOLEAN", "DATETIME(6)"),
    };
    for ((tenant, outcome), schema) in TENANTS.iter().zip(&names) {
        let s = dialect.quote_ident(schema);
        let create = match dialect {
            Dialect::Postgres => format!("CREATE SCHEMA {s}"),
            _ => format!("CREATE DATABASE {s}"),
        };
        db.execute(&create, &[]).await?;
        db.execute(
            &format!(
                "CREATE TABLE {s}.flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50), \
                 description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, \
                 checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on {stamp} NOT NULL, \
                 execution_time INT NOT NULL, success {boolean} NOT NULL)"
            ),
            &[],
        )
        .await?;
        let extra = if *tenant == "umbrella" { ", legacy_code VARCHAR(20)" } else { "" };
        let currency = if *outcome == Outcome::Applied { "VARCHAR(3) NOT NULL" } else { "VARCHAR(3)" };
        db.execute(
            &format!(
                "CREATE TABLE {s}.invoices (id BIGINT PRIMARY KEY, customer VARCHAR(100) NOT NULL, \
                 total NUMERIC(12, 2) NOT NULL, currency {currency}, updated_at {stamp} NOT NULL{extra})"
            ),
            &[],
        )
        .await?;
        let versions: &[(&str, &str, bool)] = match outcome {
            Outcome::Applied => &[("6", "invoice index", true), ("7", "add invoice currency", true)],
            Outcome::Failed => &[("6", "invoice index", true), ("7", "add invoice currency", false)],
            Outcome::Missing => &[("6", "invoice index", true)],
        };
        for (rank, (version, description, ok)) in versions.iter().enumerate() {
            let script = format!("V{version}__{}.sql", description.replace(' ', "_"));
            let at = if *version == "7" { "2024-05-14 09:20:30" } else { "2024-04-02 08:00:00" };
            let success = if *ok { "TRUE" } else { "FALSE" };
            db.execute(
                &format!(
                    "INSERT INTO {s}.flyway_schema_history VALUES ({}, '{version}', '{description}', 'SQL', \
                     '{script}', 0, 'deploy', '{at}', 120, {success})",
                    rank + 1
                ),
                &[],
            )
            .await?;
        }
        // Acme and globex kept taking orders after the deploy began at 09:20.
        let after = match *tenant {
            "acme" => 3,
            "globex" => 1,
            _ => 0,
        };
        for i in 0..4 {
            let at = if i < after { format!("2024-05-14 09:{}:00", 30 + i) } else { format!("2024-05-1{i} 18:00:00") };
            let currency = if *outcome == Outcome::Applied { "'EUR'" } else { "NULL" };
            db.execute(
                &format!(
                    "INSERT INTO {s}.invoices (id, customer, total, currency, updated_at) \
                     VALUES ({}, 'customer {i}', {}.50, {currency}, '{at}')",
                    i + 1,
                    100 * (i + 1)
                ),
                &[],
            )
            .await?;
        }
    }
    Ok(names)
}

/// Drop the demo schemas again (tests, and anyone done trying).
pub async fn drop_schemas(db: &Database, glob: &SchemaGlob) -> Result<(), Error> {
    for (tenant, _) in TENANTS {
        let s = db.dialect().quote_ident(&glob.schema_of(tenant));
        let drop = match db.dialect() {
            Dialect::Postgres => format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
            _ => format!("DROP DATABASE IF EXISTS {s}"),
        };
        db.execute(&drop, &[]).await?;
    }
    Ok(())
}
