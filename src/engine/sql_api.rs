//! `sql::` functions: connections, the tenant guard, tenant-scoped queries, atomic runbooks
//! (dry run unless `--execute`), and a demo database.

use std::path::Path;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::api::{Api, FnDoc};
use super::convert::to_json;
use super::{Shared, block, block_db, frame_of, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::sql::db::{Database, Rows, Value};
use crate::sql::scoped::{self, Mode, Scoped, Step};
use crate::sql::{Dialect, Guard, Tenancy, contracts, demo, infer, lint, schema};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A database connection, with the tenancy map its tenant handles are checked against.
#[derive(Clone)]
pub struct Db {
    db: Database,
    tenancy: Option<Tenancy>,
}

impl Db {
    pub(super) fn database(&self) -> &Database {
        &self.db
    }
}

/// A connection bound to one tenant.
#[derive(Clone)]
pub struct TenantDb {
    scoped: Scoped,
}

/// A tenancy map from a TOML file's path, or from TOML text (which has an `=`, a path has not).
fn load_tenancy(source: &str) -> Result<Tenancy> {
    if source.contains('=') {
        return Tenancy::from_toml(source, "tenancy map").map_err(rt_error);
    }
    let text =
        std::fs::read_to_string(source).map_err(|e| rt_error(format!("cannot read tenancy map {source}: {e}")))?;
    Tenancy::from_toml(&text, source).map_err(rt_error)
}

fn rows_frame(rows: &Rows) -> Result<Frame> {
    let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    frame_of(&rows.records(), &columns)
}

fn params_of(params: Array) -> Vec<Value> {
    params.iter().map(to_json).collect()
}

/// `execute: true` in an options map, or the session's `--execute`.
fn mode_of(s: &Shared, options: &Map) -> Result<Mode> {
    let asked = match options.get("execute") {
        None => false,
        Some(v) => v.as_bool().map_err(|_| rt_error("options.execute must be true or false"))?,
    };
    Ok(if asked || s.execute() { Mode::Execute } else { Mode::DryRun })
}

/// A refusal is recorded as an error finding carrying the reproduction case, then fails the call.
fn scoped_error(s: &Shared, tenant: &Value, e: scoped::Error) -> Box<EvalAltResult> {
    if let scoped::Error::Refused { step, sql, params, reasons } = &e {
        let details = serde_json::json!({
            "step": step, "statement": sql, "tenant": tenant, "parameters": params, "reasons": reasons,
            "remediation": reasons.first().map(|r| r.message.clone()),
        });
        let finding = Finding { severity: Severity::Error, title: "tenant guard refused a statement".into(), details };
        if let Err(log_error) = s.add_finding(finding) {
            return log_error;
        }
    }
    rt_error(e)
}

fn steps_of(steps: Array) -> Result<Vec<Step>> {
    let mut out = Vec::with_capacity(steps.len());
    for (i, item) in steps.into_iter().enumerate() {
        let bad = || rt_error(format!("step {}: give a statement string, or [statement, [params...]]", i + 1));
        if item.is_string() {
            out.push(Step { sql: item.into_string().map_err(|_| bad())?, params: Vec::new() });
        } else if item.is_array() {
            let parts: Array = item.cast();
            let sql = parts.first().and_then(|d| d.clone().into_string().ok()).ok_or_else(bad)?;
            let params = match parts.get(1) {
                None => Vec::new(),
                Some(p) if p.is_array() => params_of(p.clone().cast()),
                Some(_) => return Err(bad()),
            };
            out.push(Step { sql, params });
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

fn outcome_map(outcome: &scoped::Outcome) -> Result<Map> {
    let records: Vec<serde_json::Value> = outcome
        .steps
        .iter()
        .enumerate()
        .map(|(i, r)| serde_json::json!({"step": i + 1, "sql": r.sql, "writes": r.writes, "rows_affected": r.rows_affected}))
        .collect();
    let mut map = Map::new();
    map.insert("dry_run".into(), (outcome.mode == Mode::DryRun).into());
    map.insert("committed".into(), outcome.committed.into());
    map.insert("steps".into(), Dynamic::from(frame_of(&records, &["step", "sql", "writes", "rows_affected"])?));
    let mut rows = Array::new();
    for r in &outcome.steps {
        rows.push(match &r.rows {
            Some(rows) => Dynamic::from(rows_frame(rows)?),
            None => Dynamic::UNIT,
        });
    }
    map.insert("rows".into(), rows.into());
    Ok(map)
}

/// Under --execute, the statements go into the session log before they run: if the entry
/// cannot be written, they do not run.
fn log_before_writes(s: &Shared, t: &TenantDb, steps: &[Step], mode: Mode) -> Result<()> {
    if mode != Mode::Execute {
        return Ok(());
    }
    let statements: Vec<String> = steps.iter().map(|st| st.sql.clone()).collect();
    s.record(|log| {
        log.note(&format!(
            "executing for tenant {} on {}: {}",
            t.scoped.tenant(),
            crate::sql::db::redact_url(t.scoped.database().url()),
            statements.join("; ")
        ))
    })
}

fn atomic(s: &Shared, t: &TenantDb, steps: Vec<Step>, options: &Map) -> Result<Map> {
    let mode = mode_of(s, options)?;
    log_before_writes(s, t, &steps, mode)?;
    let outcome = block_db(s, t.scoped.atomic(&steps, mode))?.map_err(|e| scoped_error(s, t.scoped.tenant(), e))?;
    outcome_map(&outcome)
}

const DEMO: &str = r#"let db = sql::demo_db(temp_path("shop.db"));"#;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.engine()
        .register_type_with_name::<Db>("Db")
        .register_type_with_name::<TenantDb>("TenantDb")
        .register_fn("to_string", |db: &mut Db| format!("Db({})", db.db.url()))
        .register_fn("to_debug", |db: &mut Db| format!("Db({})", db.db.url()))
        .register_fn("to_string", |t: &mut TenantDb| {
            format!("TenantDb({}, tenant {})", t.scoped.database().url(), t.scoped.tenant())
        })
        .register_fn("to_debug", |t: &mut TenantDb| {
            format!("TenantDb({}, tenant {})", t.scoped.database().url(), t.scoped.tenant())
        });

    api.namespace("sql");
    let s = shared.clone();
    api.add(
        FnDoc::new("connect")
            .usage("sql::connect(url: string) -> Db")
            .usage("sql::connect(url: string, tenancy: string) -> Db")
            .summary("Open a database: SQLite (embedded), PostgreSQL or MySQL/MariaDB. The password never shows.")
            .param("url", "sqlite://PATH (created if missing), postgres://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB")
            .param("tenancy", "the tenancy map: a TOML file's path, or TOML text with a [tables] section")
            .returns("a Db; `db.query` reads global tables and catalogs, `sql::with_tenant` reads and writes one tenant's rows")
            .example(r#"let db = sql::connect("sqlite://" + temp_path("x.db")); db.query("SELECT 1 AS one").rows()"#, r#"[{"one": 1}]"#)
            .volatile(),
        move |url: &str| -> Result<Db> {
            let db = block(&s, Database::connect_with(url, s.db_settings()))?.map_err(rt_error)?;
            Ok(Db { db, tenancy: None })
        },
    )
    .overload({
        let s = shared.clone();
        move |url: &str, tenancy: &str| -> Result<Db> {
            let tenancy = load_tenancy(tenancy)?;
            let db = block(&s, Database::connect_with(url, s.db_settings()))?.map_err(rt_error)?;
            Ok(Db { db, tenancy: Some(tenancy) })
        }
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("demo_db")
            .usage("sql::demo_db(path: string) -> Db")
            .summary("Create a small multi-tenant shop in a new SQLite file (tenants, users, orders, order_notes, plans) and open it with its tenancy map.")
            .param("path", "where to create it; the file must not exist")
            .returns("a Db with the tenancy map attached")
            .example(&format!(r#"{DEMO} db.query("SELECT name FROM plans ORDER BY id").rows()"#), r#"[{"name": "free"}, {"name": "team"}]"#)
            .volatile(),
        move |path: &str| -> Result<Db> {
            let db = block(&s, demo::create(Path::new(path)))?.map_err(rt_error)?.with_settings(s.db_settings());
            let tenancy = Tenancy::from_toml(demo::TENANCY, "demo").map_err(rt_error)?;
            Ok(Db { db, tenancy: Some(tenancy) })
        },
    );

    api.add(
        FnDoc::new("with_tenant")
            .usage("sql::with_tenant(db: Db, tenant) -> TenantDb")
            .summary("Bind a connection to one tenant: every statement then passes the tenant guard with the tenant bound as the first parameter ($1, the first ?, ?1).")
            .param("db", "a Db opened with a tenancy map")
            .param("tenant", "the tenant's id (an integer or a string)")
            .returns("a TenantDb for `query`, `execute` and `sql::atomic`")
            .example(&format!(r#"{DEMO} let t = sql::with_tenant(db, 1); t.query("SELECT count(*) AS n FROM orders WHERE tenant_id = ?1").rows()"#), r#"[{"n": 3}]"#)
            .volatile(),
        |db: Db, tenant: Dynamic| -> Result<TenantDb> {
            let tenancy = db.tenancy.ok_or_else(|| rt_error("this Db has no tenancy map: open it with sql::connect(url, tenancy)"))?;
            let tenant = to_json(&tenant);
            if !(tenant.is_i64() || tenant.is_string()) {
                return Err(rt_error(format!("the tenant id must be an integer or a string, not {tenant}")));
            }
            let guard = Guard::new(tenancy, db.db.dialect(), None);
            Ok(TenantDb { scoped: Scoped::new(db.db, guard, tenant) })
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("atomic")
            .usage("sql::atomic(t: TenantDb, steps: array) -> map")
            .usage("sql::atomic(t: TenantDb, steps: array, options: map) -> map")
            .summary("Run a runbook's statements in one transaction, every one checked by the guard before any runs. A dry run (the default without --execute) rolls back and reports what would have changed; a failure rolls everything back.")
            .param("steps", "statements, each a string or [statement, [params...]]; the tenant is bound before the params")
            .param("options", "#{execute: true} keeps the changes even without --execute")
            .returns("#{dry_run, committed, steps: Frame(step, sql, writes, rows_affected), rows: [Frame or ()]}")
            .example(
                &format!(r#"{DEMO} let t = sql::with_tenant(db, 1); let r = sql::atomic(t, [["UPDATE orders SET status = 'void' WHERE tenant_id = ?1 AND status = ?2", ["open"]]]); [r.dry_run, r.steps.col("rows_affected")]"#),
                "[true, [2]]",
            )
            .volatile(),
        move |t: TenantDb, steps: Array| atomic(&s, &t, steps_of(steps)?, &Map::new()),
    )
    .overload({
        let s = shared.clone();
        move |t: TenantDb, steps: Array, options: Map| atomic(&s, &t, steps_of(steps)?, &options)
    });

    api.add(
        FnDoc::new("statements")
            .usage("sql::statements(text: string) -> array")
            .summary("Split a runbook's SQL into its statements: `;` ends one except inside quotes and comments; a `-- step: NAME` comment names the statement after it.")
            .param("text", "the SQL, e.g. read_text(\"runbook.sql\")")
            .returns("an array of #{name, sql, line} (line: where the statement starts)")
            .example(
                r#"sql::statements("-- step: void\nUPDATE orders SET status = 'a;b' WHERE tenant_id = ?1;\nSELECT 1").map(|s| [s.name, s.line])"#,
                r#"[["void", 2], ["step 2", 3]]"#,
            ),
        |text: &str| -> Result<Array> {
            let statements = crate::sql::script::split(text).map_err(rt_error)?;
            Ok(statements
                .into_iter()
                .map(|st| {
                    let mut m = Map::new();
                    m.insert("name".into(), st.name.into());
                    m.insert("sql".into(), st.sql.into());
                    m.insert("line".into(), (st.line as i64).into());
                    Dynamic::from_map(m)
                })
                .collect())
        },
    );

    api.add(
        FnDoc::new("guard")
            .usage("sql::guard(tenancy: string, dialect: string, statement: string) -> map")
            .summary("Check a statement against a tenancy map without running it.")
            .param("tenancy", "a TOML file's path, or TOML text with a [tables] section")
            .param("dialect", "postgres, mysql or sqlite (the tenant parameter is $1, the first ?, or ?1)")
            .returns("#{allowed: bool, reasons: Frame(rule, table, message, offset)}")
            .example(
                r#"let m = "[tables]\norders = { key = \"tenant_id\" }"; sql::guard(m, "postgres", "SELECT * FROM orders WHERE tenant_id = $1 OR true").reasons.col("rule")"#,
                r#"["or-branch"]"#,
            ),
        |tenancy: &str, dialect: &str, statement: &str| -> Result<Map> {
            let dialect: Dialect = dialect.parse().map_err(rt_error)?;
            let verdict = Guard::new(load_tenancy(tenancy)?, dialect, None).check(statement);
            let records: Vec<serde_json::Value> = verdict.reasons.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect();
            let mut map = Map::new();
            map.insert("allowed".into(), verdict.allowed().into());
            map.insert("reasons".into(), Dynamic::from(frame_of(&records, &["rule", "table", "message", "offset"])?));
            Ok(map)
        },
    );
    api.end_namespace();

    let s = shared.clone();
    api.add(
        FnDoc::new("query")
            .method_of("Db")
            .usage("db.query(statement: string) -> Frame")
            .usage("db.query(statement: string, params: array) -> Frame")
            .summary("Read global tables and the database's catalogs (no tenant bound): a statement touching a tenant table is refused; use sql::with_tenant for those.")
            .param("params", "values for the statement's placeholders, in order")
            .returns("a Frame of the rows")
            .example(&format!(r#"{DEMO} db.query("SELECT name FROM plans WHERE monthly_cents > ?", [0]).rows()"#), r#"[{"name": "team"}]"#)
            .volatile(),
        move |db: &mut Db, sql: &str| db_query(&s, db, sql, Vec::new()),
    )
    .overload({
        let s = shared.clone();
        move |db: &mut Db, sql: &str, params: Array| db_query(&s, db, sql, params_of(params))
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("query")
            .method_of("TenantDb")
            .usage("t.query(statement: string) -> Frame")
            .usage("t.query(statement: string, params: array) -> Frame")
            .summary("Read the tenant's rows: the guard checks the statement, the tenant is bound as the first parameter.")
            .param("params", "values for the placeholders after the tenant's")
            .returns("a Frame of the rows")
            .example(&format!(r#"{DEMO} sql::with_tenant(db, 2).query("SELECT id FROM orders WHERE tenant_id = ?1 AND status = ?2", ["paid"]).rows()"#), r#"[{"id": 4}]"#)
            .volatile(),
        move |t: &mut TenantDb, sql: &str| tenant_query(&s, t, sql, Vec::new()),
    )
    .overload({
        let s = shared.clone();
        move |t: &mut TenantDb, sql: &str, params: Array| tenant_query(&s, t, sql, params_of(params))
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("execute")
            .method_of("TenantDb")
            .usage("t.execute(statement: string) -> map")
            .usage("t.execute(statement: string, params: array) -> map")
            .usage("t.execute(statement: string, params: array, options: map) -> map")
            .summary("Write the tenant's rows, atomically; a dry run (the default without --execute) rolls back and reports what would have changed.")
            .param("options", "#{execute: true} keeps the change even without --execute")
            .returns("#{dry_run, committed, rows_affected, sample: Frame of changed rows where the database can return them, or ()}")
            .example(&format!(r#"{DEMO} let r = sql::with_tenant(db, 3).execute("DELETE FROM order_notes WHERE order_id IN (SELECT id FROM orders WHERE tenant_id = ?1)"); [r.dry_run, r.rows_affected]"#), "[true, 1]")
            .volatile(),
        move |t: &mut TenantDb, sql: &str| execute(&s, t, sql, Vec::new(), &Map::new()),
    )
    .overload({
        let s = shared.clone();
        move |t: &mut TenantDb, sql: &str, params: Array| execute(&s, t, sql, params_of(params), &Map::new())
    })
    .overload({
        let s = shared.clone();
        move |t: &mut TenantDb, sql: &str, params: Array, options: Map| execute(&s, t, sql, params_of(params), &options)
    });

    type Part = (&'static str, &'static str, &'static [&'static str], fn(&schema::Schema) -> Result<Frame>);
    let parts: [Part; 5] = [
        (
            "tables",
            "tables and views, with partitions and row-level security",
            &["name", "kind", "partition_of", "rls_enabled", "rls_forced", "definer_view"],
            |sc| {
                schema_frame(&sc.tables, &["name", "kind", "partition_of", "rls_enabled", "rls_forced", "definer_view"])
            },
        ),
        (
            "columns",
            "columns with their types and nullability",
            &["table", "name", "data_type", "nullable", "default", "generated", "collation", "position"],
            |sc| {
                schema_frame(
                    &sc.columns,
                    &["table", "name", "data_type", "nullable", "default", "generated", "collation", "position"],
                )
            },
        ),
        ("foreign_keys", "foreign keys", &["table", "name", "columns", "ref_table", "ref_columns"], |sc| {
            schema_frame(&sc.foreign_keys, &["table", "name", "columns", "ref_table", "ref_columns"])
        }),
        ("indexes", "indexes, primary keys included", &["table", "name", "columns", "unique", "primary"], |sc| {
            schema_frame(&sc.indexes, &["table", "name", "columns", "unique", "primary"])
        }),
        (
            "policies",
            "PostgreSQL row-level security policies",
            &["table", "name", "command", "permissive", "using", "check"],
            |sc| schema_frame(&sc.policies, &["table", "name", "command", "permissive", "using", "check"]),
        ),
    ];
    for (name, what, columns, make) in parts {
        let s = shared.clone();
        let example = match name {
            "tables" => (
                format!(r#"{DEMO} db.tables().col("name")"#),
                r#"["order_notes", "orders", "plans", "tenants", "users"]"#.to_string(),
            ),
            "columns" => (
                format!(
                    r#"{DEMO} db.columns().filter("table = 'orders' AND name = 'tenant_id'").select(["data_type", "nullable"]).rows()"#
                ),
                r#"[{"data_type": "INTEGER", "nullable": false}]"#.to_string(),
            ),
            "foreign_keys" => (
                format!(
                    r#"{DEMO} db.foreign_keys().filter("table = 'order_notes'").select(["columns", "ref_table", "ref_columns"]).rows()"#
                ),
                r#"[{"columns": "order_id", "ref_table": "orders", "ref_columns": "id"}]"#.to_string(),
            ),
            "indexes" => (
                format!(r#"{DEMO} db.indexes().filter("name = 'orders_tenant'").col("columns")"#),
                r#"["tenant_id,id"]"#.to_string(),
            ),
            _ => (format!(r#"{DEMO} db.policies().len()"#), "0".to_string()),
        };
        api.add(
            FnDoc::new(name)
                .method_of("Db")
                .usage(&format!("db.{name}() -> Frame"))
                .summary(&format!("The database's {what}."))
                .returns(&format!("a Frame ({})", columns.join(", ")))
                .example(&example.0, &example.1)
                .volatile(),
            move |db: &mut Db| -> Result<Frame> { make(&introspect(&s, db)?) },
        );
    }

    api.namespace("sql");
    let s = shared.clone();
    api.add(
        FnDoc::new("infer_tenancy")
            .usage("sql::infer_tenancy(db: Db) -> map")
            .usage("sql::infer_tenancy(db: Db, keys: array) -> map")
            .summary("Draft a tenancy map from the schema: tenant keys by column name, the tenant root by the foreign keys that point at it, derived tables by foreign-key paths, partitions from the catalog. Every table says why; check them before use.")
            .param("keys", &format!("tenant key column names, in order of preference (default {:?})", infer::DEFAULT_KEYS))
            .returns("#{toml: the map as TOML (for sql::connect), tables: Frame(table, kind, reason)}")
            .example(&format!(r#"{DEMO} sql::infer_tenancy(db).tables.select(["table", "kind"]).rows()"#),
                r#"[{"table": "order_notes", "kind": "derived"}, {"table": "orders", "kind": "keyed"}, {"table": "plans", "kind": "global"}, {"table": "tenants", "kind": "root"}, {"table": "users", "kind": "keyed"}]"#)
            .volatile(),
        move |db: Db| infer_tenancy(&s, &db, infer::DEFAULT_KEYS.iter().map(|k| k.to_string()).collect()),
    )
    .overload({
        let s = shared.clone();
        move |db: Db, keys: Array| infer_tenancy(&s, &db, keys.iter().map(|k| k.to_string()).collect())
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("lint")
            .usage("sql::lint(db: Db) -> Frame")
            .summary("Check the schema for what breaks tenant isolation: tables missing from the tenancy map, missing or nullable keys, keys without a leading index, case-insensitive or floating-point keys, row-level security off or not forced, always-true policies, SECURITY DEFINER views and functions over tenant tables. Errors and warnings are recorded as findings.")
            .param("db", "a Db opened with a tenancy map")
            .returns("a Frame (rule, severity, table, column, message), errors first")
            .example(&format!(r#"{DEMO} sql::lint(db).select(["rule", "table"]).rows()"#), r#"[{"rule": "unindexed-key", "table": "order_notes"}]"#)
            .volatile(),
        move |db: Db| -> Result<Frame> {
            let tenancy = db.tenancy.clone().ok_or_else(|| rt_error("this Db has no tenancy map: open it with sql::connect(url, tenancy)"))?;
            let lints = lint::lint(&introspect(&s, &db)?, &tenancy, db.db.dialect());
            for l in &lints {
                let severity = if l.severity == lint::Severity::Error { Severity::Error } else { Severity::Warning };
                let details = serde_json::to_value(l).unwrap_or_default();
                s.add_finding(Finding { severity, title: format!("schema lint {}: {}", l.rule, l.table), details })?;
            }
            schema_frame(&lints, &["rule", "severity", "table", "column", "message"])
        },
    );
    let s = shared.clone();
    api.add(
        FnDoc::new("contracts")
            .usage("sql::contracts(src_dir: string, db: Db) -> Frame")
            .summary("Check the Rust structs that read rows (derive sqlx::FromRow, or say `deployclaw: table = NAME` in a doc comment) against the tables they read: NULLs into non-Option fields, integer width and signedness, text against numbers, time, uuid, bool and json types, missing and extra columns. Each finding predicts the runtime error; errors are recorded as findings.")
            .param("src_dir", "a Rust source tree (every .rs file under it is read), or one .rs file")
            .param("db", "the database whose schema the structs must match")
            .returns("a Frame (file, line, struct, table, field, column, rule, severity, message, predicted_error)")
            .example(
                &format!(r##"{DEMO} let rs = temp_path("order.rs"); write_text(rs, "#[derive(sqlx::FromRow)] struct Order {{ id: i64, tenant_id: i64, status: Option<String>, user_id: Option<i64>, plan_id: Option<i64>, total_cents: i32 }}"); sql::contracts(rs, db).select(["field", "rule", "severity"]).rows()"##),
                r#"[{"field": "status", "rule": "not-null-option", "severity": "warning"}]"#,
            )
            .volatile(),
        move |dir: &str, db: Db| -> Result<Frame> {
            let schema = introspect(&s, &db)?;
            let found = contracts::check(Path::new(dir), &schema, db.db.dialect()).map_err(rt_error)?;
            for f in found.iter().filter(|f| f.severity == "error") {
                let details = serde_json::to_value(f).unwrap_or_default();
                s.add_finding(Finding { severity: Severity::Error, title: format!("row struct {} does not match {}", f.struct_name, f.table), details })?;
            }
            schema_frame(&found, &["file", "line", "struct", "table", "field", "column", "rule", "severity", "message", "predicted_error"])
        },
    );
    api.end_namespace();

    api.add(
        FnDoc::new("tenancy")
            .method_of("Db")
            .usage("db.tenancy() -> string")
            .summary("The tenancy map a Db checks tenant handles against, as TOML.")
            .returns("TOML text, or () when the Db has none")
            .example(&format!(r#"{DEMO} db.tenancy().contains("orders = {{ key = \"tenant_id\" }}")"#), "true"),
        |db: &mut Db| -> Dynamic { db.tenancy.as_ref().map_or(Dynamic::UNIT, |t| t.to_toml().into()) },
    );
}

/// Schema records as a Frame; list fields become comma-separated text.
fn schema_frame<T: serde::Serialize>(items: &[T], columns: &[&str]) -> Result<Frame> {
    let records: Vec<serde_json::Value> = items
        .iter()
        .map(|item| {
            let mut v = serde_json::to_value(item).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                for value in map.values_mut() {
                    if let serde_json::Value::Array(list) = value {
                        let joined: Vec<String> =
                            list.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect();
                        *value = joined.join(",").into();
                    }
                }
            }
            v
        })
        .collect();
    frame_of(&records, columns)
}

fn introspect(s: &Shared, db: &Db) -> Result<schema::Schema> {
    block_db(s, schema::introspect(&db.db))?.map_err(rt_error)
}

fn infer_tenancy(s: &Shared, db: &Db, keys: Vec<String>) -> Result<Map> {
    let inference = infer::infer(&introspect(s, db)?, &keys).map_err(rt_error)?;
    let mut map = Map::new();
    map.insert("toml".into(), inference.tenancy.to_toml().into());
    map.insert("tables".into(), Dynamic::from(schema_frame(&inference.decisions, &["table", "kind", "reason"])?));
    Ok(map)
}

fn db_query(s: &Shared, db: &Db, sql: &str, params: Vec<Value>) -> Result<Frame> {
    let guard = Guard::without_tenant(db.tenancy.clone().unwrap_or_default(), db.db.dialect());
    let verdict = guard.check(sql);
    if !verdict.allowed() || !verdict.writes.is_empty() {
        let reasons: Vec<String> = verdict.reasons.iter().map(|r| r.to_string()).collect();
        let why = if reasons.is_empty() {
            "it writes; writes go through sql::with_tenant".to_string()
        } else {
            reasons.join("\n  ")
        };
        return Err(rt_error(format!("db.query refused `{sql}`:\n  {why}")));
    }
    let rows = block_db(s, db.db.fetch(sql, &params))?.map_err(rt_error)?;
    rows_frame(&rows)
}

fn tenant_query(s: &Shared, t: &TenantDb, sql: &str, params: Vec<Value>) -> Result<Frame> {
    let rows = block_db(s, t.scoped.query(sql, &params))?.map_err(|e| scoped_error(s, t.scoped.tenant(), e))?;
    rows_frame(&rows)
}

fn execute(s: &Shared, t: &TenantDb, sql: &str, params: Vec<Value>, options: &Map) -> Result<Map> {
    let mode = mode_of(s, options)?;
    let steps = [Step { sql: sql.to_string(), params }];
    log_before_writes(s, t, &steps, mode)?;
    let outcome = block_db(s, t.scoped.atomic(&steps, mode))?.map_err(|e| scoped_error(s, t.scoped.tenant(), e))?;
    let step = &outcome.steps[0];
    let mut map = Map::new();
    map.insert("dry_run".into(), (outcome.mode == Mode::DryRun).into());
    map.insert("committed".into(), outcome.committed.into());
    map.insert("rows_affected".into(), (step.rows_affected as i64).into());
    map.insert("sample".into(), step.rows.as_ref().map_or(Ok(Dynamic::UNIT), |r| rows_frame(r).map(Dynamic::from))?);
    Ok(map)
}
