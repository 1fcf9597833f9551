//! `ci::` functions past classification: tenants, migration histories, cascades, rollback risk,
//! playbooks, the whole triage, and a demo to try them on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::api::{Api, FnDoc};
use super::ci_api::{aws_errors_frame, causes_frame, lines_of, option, read, rules_of};
use super::sql_api::Db;
use super::{Shared, block, block_db, frame_of, playbook_script, rt_error};
use crate::collect::aws;
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::sql::{SchemaGlob, Tenancy};
use crate::triage::audit::{self, Triage};
use crate::triage::cascade::{self, Failure, Graph};
use crate::triage::correlate::{self, Signal};
use crate::triage::mentions::Patterns;
use crate::triage::migrations::{self, Registry, TenantState};
use crate::triage::recommend::Recommendation;
use crate::triage::schema_state::parse_time;
use crate::triage::{LogLine, demo};
use aws_sdk_cloudwatch::primitives::DateTime;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

const TENANT_COLUMNS: &[&str] = &[
    "tenant",
    "affected",
    "status",
    "detail",
    "schema",
    "registered",
    "latest_version",
    "expected_version",
    "failed_versions",
    "missing_versions",
    "mentions",
    "failed_jobs",
    "evidence",
];
const MIGRATION_COLUMNS: &[&str] = &[
    "tenant",
    "schema",
    "registered",
    "status",
    "detail",
    "history_table",
    "applied",
    "latest_version",
    "latest_installed_on",
    "failed_versions",
    "missing_versions",
    "expected_version",
];
const CASCADE_COLUMNS: &[&str] =
    &["order", "service", "kind", "role", "cause", "job", "roots", "depth", "via", "tenants"];
const RISK_COLUMNS: &[&str] = &["tenant", "score", "migration", "schema_drift", "data_written", "fan_out", "factors"];
const PLAYBOOK_COLUMNS: &[&str] = &["tenant", "score", "path", "checks", "backups", "repairs", "manual"];
/// Rollback risk above which a tenant is an error finding, unless `threshold` says otherwise.
pub const DEFAULT_THRESHOLD: i64 = 50;

fn joined(items: &[String]) -> serde_json::Value {
    if items.is_empty() { serde_json::Value::Null } else { items.join(", ").into() }
}

fn db_of(options: &Map) -> Result<Option<Db>> {
    match options.get("db") {
        None => Ok(None),
        Some(d) => {
            d.clone().try_cast::<Db>().map(Some).ok_or_else(|| rt_error("options.db must be a Db from sql::connect"))
        }
    }
}

fn glob_of(options: &Map) -> Result<Option<SchemaGlob>> {
    option(options, "schemas").map(|g| SchemaGlob::new(&g).map_err(rt_error)).transpose()
}

fn registry_of(options: &Map) -> Result<Option<Registry>> {
    let registry =
        Registry { schemas: glob_of(options)?, table: option(options, "table"), expected: option(options, "expected") };
    Ok((registry.schemas.is_some() || registry.table.is_some()).then_some(registry))
}

/// Log patterns: the team's, else the built-in ones; schema names as `schemas` says (`tenant_*`
/// unless given).
fn patterns_of(options: &Map) -> Result<Patterns> {
    let glob = Some(option(options, "schemas").unwrap_or_else(|| "tenant_*".into()));
    let patterns = match options.get("patterns") {
        None => return Patterns::builtin(glob.as_deref()).map_err(rt_error),
        Some(p) if p.is_array() => p.clone().cast::<Array>().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        Some(p) => vec![p.to_string()],
    };
    Patterns::custom(&patterns, glob.as_deref()).map_err(rt_error)
}

/// A graph from a file's path, or TOML text (which has an `=`; a path has not).
fn graph_of(source: &str) -> Result<Graph> {
    if source.contains('=') {
        return Graph::parse(source, "the service graph", false).map_err(rt_error);
    }
    Graph::from_file(Path::new(source)).map_err(rt_error)
}

/// Lines from a Frame of `ci::read`, a path, or an array of paths.
fn lines_from(s: &Shared, source: &Dynamic, options: &Map) -> Result<(Vec<LogLine>, Vec<String>)> {
    if let Some(frame) = source.clone().try_cast::<Frame>() {
        return Ok((lines_of(&frame)?, vec!["a Frame of log lines".into()]));
    }
    let paths: Vec<String> = if source.is_array() {
        source.clone().cast::<Array>().iter().map(|p| p.to_string()).collect()
    } else {
        vec![source.to_string()]
    };
    let mut lines = Vec::new();
    for path in &paths {
        lines.extend(read(s, path, options)?);
    }
    Ok((lines, paths))
}

fn tenants_frame(tenants: &[audit::Tenant]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = tenants
        .iter()
        .map(|t| {
            serde_json::json!({
                "tenant": t.tenant, "affected": t.affected, "status": t.status, "detail": t.detail, "schema": t.schema,
                "registered": t.registered, "latest_version": t.latest_version, "expected_version": t.expected_version,
                "failed_versions": joined(&t.failed_versions), "missing_versions": joined(&t.missing_versions),
                "mentions": t.mentions, "failed_jobs": joined(&t.failed_jobs), "evidence": t.evidence,
            })
        })
        .collect();
    frame_of(&rows, TENANT_COLUMNS)
}

fn migrations_frame(states: &[TenantState]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = states
        .iter()
        .map(|m| {
            serde_json::json!({
                "tenant": m.tenant, "schema": m.schema, "registered": m.registered, "status": m.status.name(),
                "detail": m.detail, "history_table": m.history_table, "applied": m.applied,
                "latest_version": m.latest_version, "latest_installed_on": m.latest_installed_on,
                "failed_versions": joined(&m.failed_versions), "missing_versions": joined(&m.missing_versions),
                "expected_version": m.expected_version,
            })
        })
        .collect();
    frame_of(&rows, MIGRATION_COLUMNS)
}

fn cascade_frame(steps: &[cascade::Step]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = steps
        .iter()
        .map(|c| {
            serde_json::json!({
                "order": c.order, "service": c.service, "kind": c.kind, "role": c.role.name(), "cause": c.cause,
                "job": c.job, "roots": joined(&c.roots), "depth": c.depth, "via": joined(&c.via),
                "tenants": joined(&c.tenants),
            })
        })
        .collect();
    frame_of(&rows, CASCADE_COLUMNS)
}

fn risk_frame(triage: &Triage) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = triage
        .risks
        .iter()
        .map(|r| {
            let points = |name: &str| r.factors.iter().find(|f| f.factor == name).map_or(0, |f| f.points);
            serde_json::json!({
                "tenant": r.tenant, "score": r.score, "migration": points("migration"),
                "schema_drift": points("schema-drift"), "data_written": points("data-written"),
                "fan_out": points("fan-out"), "factors": r.explain(),
            })
        })
        .collect();
    frame_of(&rows, RISK_COLUMNS)
}

/// The metric evidence of `options.metrics`: "cloudwatch" (from an hour before the deploy began,
/// or `options.start`, to now) or a CSV file of samples.
fn signals_of(s: &Shared, options: &Map, since: Option<chrono::DateTime<chrono::Utc>>) -> Result<Vec<Signal>> {
    let Some(source) = option(options, "metrics") else { return Ok(Vec::new()) };
    if source == "cloudwatch" {
        let start = match (since, option(options, "start")) {
            (Some(at), _) => DateTime::from_secs(at.timestamp() - 3600),
            (None, Some(start)) => aws::time(&start).map_err(super::input_error)?,
            (None, None) => aws::time("-1d").map_err(rt_error)?,
        };
        let end = aws::time("now").map_err(rt_error)?;
        let client = super::aws_api::clients(s)?;
        return block(s, crate::collect::ci_metrics::signals(&client, start, end))?.map_err(rt_error);
    }
    let local = super::s3_paths::local(s, &source)?;
    // An empty file holds no samples: nothing to line up, not an error.
    if std::fs::metadata(&local.path).is_ok_and(|m| m.len() == 0) {
        return Ok(Vec::new());
    }
    let frame =
        Frame::read_csv(&local.path).map_err(|e| super::input_error(format!("options.metrics {source}: {e}")))?;
    correlate::signals_from_rows(&frame.to_records())
        .map_err(|e| super::input_error(format!("options.metrics {source}: {e}")))
}

fn timeline_frame(events: &[correlate::Event]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "at": e.at.to_rfc3339(), "kind": e.kind, "role": e.role, "resource": e.resource, "peak": e.peak,
                "limit": e.limit, "evidence": e.evidence,
            })
        })
        .collect();
    frame_of(&rows, TIMELINE_COLUMNS)
}

fn recommendations_frame(recommendations: &[Recommendation]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> =
        recommendations.iter().map(|r| serde_json::to_value(r).expect("a recommendation serializes")).collect();
    frame_of(&rows, RECOMMENDATION_COLUMNS)
}

const TIMELINE_COLUMNS: &[&str] = &["at", "kind", "role", "resource", "peak", "limit", "evidence"];
const RECOMMENDATION_COLUMNS: &[&str] = &["resource", "kind", "action", "because", "cloudformation", "terraform"];

/// Run the triage of `source` with `options` (see `ci::triage`).
fn run_triage(s: &Shared, source: &Dynamic, options: &Map) -> Result<(Triage, Vec<String>)> {
    let (lines, sources) = lines_from(s, source, options)?;
    let rules = rules_of(options)?;
    let patterns = patterns_of(options)?;
    let db = db_of(options)?;
    let registry = registry_of(options)?;
    if db.is_some() && registry.is_none() {
        return Err(rt_error(
            "options.db needs to know where tenants live: give schemas (e.g. \"tenant_*\") or table (e.g. \"public.tenants\")",
        ));
    }
    let graph = option(options, "graph").map(|g| graph_of(&g)).transpose()?;
    let since = match option(options, "since") {
        None => None,
        Some(t) => Some(
            parse_time(&t)
                .ok_or_else(|| rt_error(format!("options.since {t:?}: give a time such as 2024-05-14T09:20:00Z")))?,
        ),
    };
    let reference = option(options, "reference");
    let signals = signals_of(s, options, since)?;
    let database = db.as_ref().zip(registry.as_ref()).map(|(d, r)| (d.database(), r));
    let input = audit::Input {
        lines: &lines,
        rules: &rules,
        patterns: &patterns,
        database,
        graph: graph.as_ref(),
        since,
        reference_schema: reference.as_deref(),
        signals: &signals,
    };
    let triage = block_db(s, audit::run(&input))?.map_err(rt_error)?;
    Ok((triage, sources))
}

/// The tenancy map a tenant's playbook is proven against: a team's map when `options.tenancy`
/// names one, else one that makes each tenant's schema its own.
fn playbook_tenancy(options: &Map, triage: &Triage, tenant: &str) -> Result<Option<String>> {
    if let Some(source) = option(options, "tenancy") {
        let text = if source.contains('=') {
            source
        } else {
            std::fs::read_to_string(&source).map_err(|e| rt_error(format!("cannot read tenancy map {source}: {e}")))?
        };
        Tenancy::from_toml(&text, "options.tenancy").map_err(rt_error)?;
        return Ok(Some(text));
    }
    let glob = match glob_of(options)? {
        Some(g) => g.glob().to_string(),
        // Only a tenants table: the schema's name with the tenant id as the `*`.
        None => {
            let schema = triage.tenants.iter().find(|t| t.tenant == tenant).and_then(|t| t.schema.clone());
            match schema.filter(|s| s.contains(tenant)) {
                Some(s) => s.replacen(tenant, "*", 1),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(Tenancy::schema_per_tenant(SchemaGlob::new(&glob).map_err(rt_error)?).to_toml()))
}

/// Write every playbook into `dir`; the tenant and the file of each.
fn write_playbooks(options: &Map, triage: &Triage, dir: &Path, origin: &str) -> Result<Vec<(String, String)>> {
    std::fs::create_dir_all(dir).map_err(|e| rt_error(format!("cannot create {}: {e}", dir.display())))?;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut written = Vec::new();
    for book in &triage.playbooks {
        let mut book = book.clone();
        let tenancy = match playbook_tenancy(options, triage, &book.tenant)? {
            Some(t) => t,
            None => {
                book.manual.insert(0, format!("No tenancy map can prove statements on {}'s schema: give options.tenancy (or --tenancy); the statements are left out.", book.tenant));
                book.checks.clear();
                book.backups.clear();
                book.repairs.clear();
                String::new()
            }
        };
        let path = dir.join(format!("playbook-{}.rhai", crate::triage::playbook::file_stem(&book.tenant)));
        let script = playbook_script::render(&book, &tenancy, origin, &now);
        crate::paths::write_shared_text(&path, &script).map_err(rt_error)?;
        written.push((book.tenant.clone(), path.display().to_string()));
    }
    Ok(written)
}

fn playbooks_frame(triage: &Triage, written: &[(String, String)]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = triage
        .playbooks
        .iter()
        .map(|b| {
            let path = written.iter().find(|(t, _)| *t == b.tenant).map(|(_, p)| p.clone());
            serde_json::json!({
                "tenant": b.tenant, "score": b.score, "path": path, "checks": b.checks.len(),
                "backups": b.backups.len(), "repairs": b.repairs.len(), "manual": b.manual.len(),
            })
        })
        .collect();
    frame_of(&rows, PLAYBOOK_COLUMNS)
}

/// The whole triage, recorded in the session: each failed job as a warning finding, each tenant
/// over the threshold as an error finding, the report and playbooks written when `dir` is given.
fn triage_map(s: &Shared, source: &Dynamic, options: &Map) -> Result<Map> {
    let (triage, sources) = run_triage(s, source, options)?;
    let threshold = match options.get("threshold") {
        None => DEFAULT_THRESHOLD,
        Some(t) => t.as_int().map_err(|_| rt_error("options.threshold must be an integer from 0 to 100"))?,
    };
    for d in &triage.diagnoses {
        let details = serde_json::json!({
            "job": d.job, "cause": d.cause, "kind": d.kind.map(|k| k.name()), "retry": d.retry, "step": d.step,
            "command": d.command,
            "proof": d.proof.iter().map(|l| format!("{}:{}: {}", l.source, l.line, l.text)).collect::<Vec<_>>(),
        });
        let title = format!("job {} failed: {}", d.job, d.cause);
        s.add_finding(Finding { severity: Severity::Warning, title, details })?;
    }
    for r in triage.risks.iter().filter(|r| i64::from(r.score) > threshold) {
        let details =
            serde_json::json!({"tenant": r.tenant, "score": r.score, "threshold": threshold, "factors": r.factors});
        let title =
            format!("tenant {} rollback risk {} is over the threshold {threshold}: {}", r.tenant, r.score, r.explain());
        s.add_finding(Finding { severity: Severity::Error, title, details })?;
    }
    let mut written = Vec::new();
    let mut map = Map::new();
    if let Some(dir) = option(options, "dir").map(PathBuf::from) {
        written = write_playbooks(options, &triage, &dir, &sources.join(", "))?;
        let context = crate::report::triage::Context {
            sources: &sources,
            written_at: &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            threshold: threshold.clamp(0, 100) as u32,
            playbooks: &written,
        };
        let report = dir.join("triage.md");
        crate::paths::write_shared_text(&report, &crate::report::triage::markdown(&triage, &context))
            .map_err(rt_error)?;
        let mut json = serde_json::to_value(&triage).expect("the triage serializes");
        crate::evidence::redact_json(&mut json);
        let json = serde_json::to_string_pretty(&json).expect("JSON serializes");
        crate::paths::write_shared_text(&dir.join("triage.json"), &json).map_err(rt_error)?;
        s.record(|log| log.note(&format!("ci triage report written to {}", report.display())))?;
        map.insert("report".into(), report.display().to_string().into());
    }
    map.insert("causes".into(), Dynamic::from(causes_frame(&triage.diagnoses)?));
    map.insert("tenants".into(), Dynamic::from(tenants_frame(&triage.tenants)?));
    map.insert("cascade".into(), Dynamic::from(cascade_frame(&triage.cascade)?));
    map.insert("risk".into(), Dynamic::from(risk_frame(&triage)?));
    map.insert("playbooks".into(), Dynamic::from(playbooks_frame(&triage, &written)?));
    map.insert("aws_errors".into(), Dynamic::from(aws_errors_frame(&triage.aws_errors)?));
    map.insert("timeline".into(), Dynamic::from(timeline_frame(&triage.timeline)?));
    map.insert("recommendations".into(), Dynamic::from(recommendations_frame(&triage.recommendations)?));
    map.insert("since".into(), triage.since.clone().map_or(Dynamic::UNIT, Dynamic::from));
    let unplaced: Array = triage.unplaced_jobs.iter().map(|j| Dynamic::from(j.clone())).collect();
    map.insert("unplaced_jobs".into(), unplaced.into());
    Ok(map)
}

fn cascade_of(graph: &str, causes: &Frame) -> Result<Frame> {
    let graph = graph_of(graph)?;
    let mut failures: Vec<Failure> = Vec::new();
    for record in causes.to_records() {
        let text = |key: &str| record.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let job = text("job").unwrap_or_default();
        let service = match text("service") {
            Some(s) => s,
            None => match graph.service_of_job(&job) {
                Some(service) => service.name.clone(),
                None => continue,
            },
        };
        if !failures.iter().any(|f| f.service == service) {
            failures.push(Failure { service, cause: text("cause").unwrap_or_default(), job });
        }
    }
    cascade_frame(&cascade::cascade(&graph, &failures).map_err(rt_error)?)
}

const DEMO: &str = r#"let d = ci::demo(temp_path("demo"));"#;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("ci");

    let s = shared.clone();
    api.add(
        FnDoc::new("demo")
            .usage("ci::demo(dir: string) -> map")
            .usage("ci::demo(dir: string, db: Db) -> map")
            .usage("ci::demo(dir: string, db: Db, schemas: string) -> map")
            .summary("Write a failed deploy to try the triage on: a Jenkins log of tenant migrations where acme's and globex's fail, integration tests that exhaust a connection pool for globex, and the service graph. Given a PostgreSQL or MySQL/MariaDB Db, also create the four tenants' schemas with their Flyway histories and invoices (it refuses if a schema exists).")
            .param("dir", "an empty or new folder")
            .param("db", "where to create the tenant schemas (optional)")
            .param("schemas", "the schema pattern (default \"tenant_*\")")
            .returns("#{logs: folder of the logs, graph: the graph file, schemas: [created schemas]}")
            .example(&format!("{DEMO} ci::read(d.logs).filter(\"failure\").col(\"job\")"), r#"["migrate-tenants", "migrate-tenants", "migrate-tenants", "orders-it", "orders-it"]"#)
            .volatile(),
        move |dir: &str| demo_map(&s, dir, None, "tenant_*"),
    )
    .overload({
        let s = shared.clone();
        move |dir: &str, db: Db| demo_map(&s, dir, Some(db), "tenant_*")
    })
    .overload({
        let s = shared.clone();
        move |dir: &str, db: Db, schemas: &str| demo_map(&s, dir, Some(db), schemas)
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("migrations")
            .usage("ci::migrations(db: Db, options: map) -> Frame")
            .summary("Each tenant's migration state, from the schema registry (schemas named like a pattern, a tenants table, or both) and the history table in its schema (Flyway's flyway_schema_history, sqlx's _sqlx_migrations, Rails' or golang-migrate's schema_migrations), compared with the version every tenant should be at.")
            .param("options", "#{schemas: \"tenant_*\", table: \"public.tenants\" (its tenant column: tenant_id, tenant, slug, code, name or id; its schema column: schema_name, schema, ...), expected: \"7\" (default: the highest version any tenant reached)}")
            .returns(&format!("a Frame ({}); status is ok, failed, dirty, behind, no-history or no-schema", MIGRATION_COLUMNS.join(", ")))
            .example(
                r#"let db = sql::connect(PG_URL); ci::demo(temp_path("m"), db, "mdemo_*"); ci::migrations(db, #{schemas: "mdemo_*"}).select(["tenant", "status", "latest_version"]).rows()"#,
                r#"[{"tenant": "acme", "status": "failed", "latest_version": "6"}, {"tenant": "globex", "status": "behind", "latest_version": "6"}, {"tenant": "initech", "status": "ok", "latest_version": "7"}, {"tenant": "umbrella", "status": "ok", "latest_version": "7"}]"#,
            )
            .volatile(),
        move |db: Db, options: Map| -> Result<Frame> {
            let registry = registry_of(&options)?.ok_or_else(|| rt_error(migrations::Error::NothingToFind))?;
            let states = block_db(&s, migrations::tenant_states(db.database(), &registry))?.map_err(rt_error)?;
            migrations_frame(&states)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("tenants")
            .usage("ci::tenants(lines: Frame) -> Frame")
            .usage("ci::tenants(lines: Frame, options: map) -> Frame")
            .summary("The tenants a triage touches: named in the logs (tenant=ID, tenant_id: ID, \"for tenant ID\", schema names such as tenant_acme, or a team's patterns) and, with a database, every tenant of the registry with its migration state. A tenant is affected when its migration failed, is dirty or behind, its schema is missing, or a failed job names it in a warning or error line.")
            .param("lines", "the Frame of ci::read")
            .param("options", "#{patterns: [regex with one capture group], schemas: \"tenant_*\", db: Db, table: \"public.tenants\", expected: \"7\", rules: FILE}")
            .returns(&format!("a Frame ({})", TENANT_COLUMNS.join(", ")))
            .example(
                &format!("{DEMO} ci::tenants(ci::read(d.logs), #{{schemas: \"tenant_*\"}}).filter(\"affected\").select([\"tenant\", \"failed_jobs\"]).rows()"),
                r#"[{"tenant": "acme", "failed_jobs": "migrate-tenants"}, {"tenant": "globex", "failed_jobs": "migrate-tenants, orders-it"}]"#,
            )
            .volatile(),
        move |lines: Frame| -> Result<Frame> { tenants_frame(&run_triage(&s, &Dynamic::from(lines), &Map::new())?.0.tenants) },
    )
    .overload({
        let s = shared.clone();
        move |lines: Frame, options: Map| -> Result<Frame> {
            tenants_frame(&run_triage(&s, &Dynamic::from(lines), &options)?.0.tenants)
        }
    });

    api.add(
        FnDoc::new("cascade")
            .usage("ci::cascade(graph: string, causes: Frame) -> Frame")
            .summary("Lay the failures over the service dependency graph: a failed service with nothing failed upstream is a root cause, a failed service downstream of one is cascaded, and the services depending on a failure are impacted, ordered from the roots downstream with the tenants each serves.")
            .param("graph", "the graph: a TOML (or .json) file, or TOML text: [services.NAME] with depends_on, jobs (the CI jobs of the service), kind and tenants (a list, or \"*\")")
            .param("causes", "the Frame of ci::classify (jobs are placed by the graph's jobs lists, or by name), or any Frame with service and cause columns")
            .returns(&format!("a Frame ({}); role is root, cascaded or impacted", CASCADE_COLUMNS.join(", ")))
            .example(
                &format!("{DEMO} ci::cascade(d.graph, ci::classify(ci::read(d.logs))).select([\"service\", \"role\", \"depth\"]).rows()"),
                r#"[{"service": "orders-db", "role": "root", "depth": 0}, {"service": "orders-fn", "role": "cascaded", "depth": 1}, {"service": "settings-fn", "role": "impacted", "depth": 1}, {"service": "edge-api", "role": "impacted", "depth": 2}]"#,
            ),
        |graph: &str, causes: Frame| cascade_of(graph, &causes),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("risk")
            .usage("ci::risk(logs, options: map) -> Frame")
            .summary("Rollback risk per tenant, 0 to 100, as a sum of documented factors: a failed or dirty migration 40, a tenant behind 25, a registered tenant without a schema 20; schema drift 5 per column that differs from the other tenants' (at most 20); rows written since the deploy began 10 for the first, +5 per factor of ten (at most 25); downstream fan-out 5 per impacted service serving the tenant (at most 15).")
            .param("logs", "a Frame of ci::read, a path, or an array of paths")
            .param("options", "as ci::triage: db, schemas or table, graph, since, reference, expected, patterns, rules")
            .returns(&format!("a Frame ({}), highest score first; the factor columns hold their points", RISK_COLUMNS.join(", ")))
            .example(
                &format!("{DEMO} ci::risk(d.logs, #{{graph: d.graph}}).select([\"tenant\", \"score\", \"fan_out\"]).rows()"),
                r#"[{"tenant": "acme", "score": 15, "fan_out": 15}, {"tenant": "globex", "score": 10, "fan_out": 10}, {"tenant": "initech", "score": 10, "fan_out": 10}, {"tenant": "umbrella", "score": 10, "fan_out": 10}]"#,
            )
            .volatile(),
        move |logs: Dynamic, options: Map| -> Result<Frame> { risk_frame(&run_triage(&s, &logs, &options)?.0) },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("playbook")
            .usage("ci::playbook(logs, options: map) -> Frame")
            .summary("Write a rollback runbook for each affected tenant: checks of its migration history, backups of the rows written since the deploy began, repairs of the failed history records (in one transaction), and the steps left to a person (DDL, the application rollback). Each statement touches only the tenant's own schema and passes the tenant guard when the runbook runs; it runs dry unless --execute.")
            .param("logs", "a Frame of ci::read, a path, or an array of paths")
            .param("options", "as ci::triage, with db and dir required; tenancy: a team's tenancy map (by default each tenant's schema is its own)")
            .returns(&format!("a Frame ({}) with the number of statements of each kind", PLAYBOOK_COLUMNS.join(", ")))
            .example(
                r#"let db = sql::connect(PG_URL); let d = ci::demo(temp_path("p"), db, "pdemo_*"); let books = ci::playbook(d.logs, #{db: db, schemas: "pdemo_*", dir: temp_path("books")}); books.select(["tenant", "repairs", "backups"]).rows()"#,
                r#"[{"tenant": "acme", "repairs": 1, "backups": 1}, {"tenant": "globex", "repairs": 0, "backups": 1}]"#,
            )
            .volatile(),
        move |logs: Dynamic, options: Map| -> Result<Frame> {
            let dir = option(&options, "dir").ok_or_else(|| rt_error("ci::playbook needs options.dir: the folder the runbooks go to"))?;
            if db_of(&options)?.is_none() {
                return Err(rt_error("ci::playbook needs options.db: the playbooks read and repair the tenants' schemas"));
            }
            let (triage, sources) = run_triage(&s, &logs, &options)?;
            let written = write_playbooks(&options, &triage, Path::new(&dir), &sources.join(", "))?;
            playbooks_frame(&triage, &written)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("triage")
            .usage("ci::triage(logs) -> map")
            .usage("ci::triage(logs, options: map) -> map")
            .summary("The whole CI-failure triage: each failed job's cause (a warning finding each), the tenants touched, the cascade over the service graph, rollback risk per tenant (an error finding for each tenant over the threshold), and with dir triage.md, triage.json and a playbook per affected tenant.")
            .param("logs", "a Frame of ci::read, a path (file, folder or cloudwatch:GROUP), or an array of paths")
            .param("options", "#{db: Db, schemas: \"tenant_*\", table: \"public.tenants\", expected: \"7\", graph: FILE, since: TIME (default: the failed jobs' first timestamp), reference: SCHEMA (drift baseline), threshold: 50, dir: FOLDER, tenancy: FILE, patterns: [...], rules: FILE, format: ..., metrics: \"cloudwatch\" or a CSV FILE (timestamp, namespace, metric, resource, value, and optionally limit, class, engine)}")
            .returns("#{causes, tenants, cascade, risk, playbooks, aws_errors, timeline, recommendations: Frames, since, unplaced_jobs, report (with dir)}; timeline holds what options.metrics shows (RDS DatabaseConnections at max_connections, Lambda throttles and concurrency spikes, API Gateway 5XX and retry storms) with the root marked, recommendations what to change with the numbers each came from")
            .example(
                &format!("{DEMO} let r = ci::triage(d.logs, #{{graph: d.graph, threshold: 10}}); [r.causes.col(\"cause\")[0], r.risk.col(\"tenant\"), evidence::findings().len()]"),
                r#"["database-migration", ["acme", "globex", "initech", "umbrella"], 3]"#,
            )
            .example(
                &format!("{DEMO} let m = temp_path(\"metrics.csv\"); write_text(m, \"timestamp,namespace,metric,resource,value,limit,class,engine\\n2024-05-14T12:00:00Z,AWS/RDS,DatabaseConnections,orders-db,60,100,db.r6g.large,postgres\\n2024-05-14T12:01:00Z,AWS/RDS,DatabaseConnections,orders-db,100,100,db.r6g.large,postgres\\n\"); let r = ci::triage(d.logs, #{{metrics: m}}); [r.timeline.select([\"kind\", \"role\", \"resource\"]).rows(), r.recommendations.filter(\"kind = 'max-connections'\").col(\"action\")]"),
                r#"[[{"kind": "connection-pool-exhaustion", "role": "root", "resource": "orders-db"}], ["raise max_connections on orders-db from 100 to 200, and alarm at 140"]]"#,
            )
            .volatile(),
        move |logs: Dynamic| triage_map(&s, &logs, &Map::new()),
    )
    .overload({
        let s = shared.clone();
        move |logs: Dynamic, options: Map| triage_map(&s, &logs, &options)
    });
    api.end_namespace();
}

fn demo_map(s: &Shared, dir: &str, db: Option<Db>, schemas: &str) -> Result<Map> {
    let files = demo::write_files(Path::new(dir)).map_err(rt_error)?;
    let mut created = Array::new();
    if let Some(db) = db {
        let glob = SchemaGlob::new(schemas).map_err(rt_error)?;
        for name in block_db(s, demo::create_schemas(db.database(), &glob))?.map_err(rt_error)? {
            created.push(name.into());
        }
    }
    let mut map = Map::new();
    map.insert("logs".into(), files.logs.display().to_string().into());
    map.insert("graph".into(), files.graph.display().to_string().into());
    map.insert("schemas".into(), created.into());
    Ok(map)
}
