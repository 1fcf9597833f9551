//! The CI-failure audit end to end on real databases: the demo deploy (two tenants' migrations
//! fail, a connection pool runs out) against tenant schemas with Flyway histories on PostgreSQL
//! and MariaDB, through `deployclaw audit ci-failure`; then each generated playbook parses, dry-
//! runs without changing anything, repairs with --execute, and cannot reach another tenant.

mod common;

use common::db::TestDb;
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Tenant schemas named by a glob, dropped however the test ends (on MariaDB they are
/// databases of the server, outside the test database).
struct Schemas<'a> {
    db: &'a TestDb,
    glob: String,
}

impl Drop for Schemas<'_> {
    fn drop(&mut self) {
        for tenant in ["acme", "globex", "initech", "umbrella"] {
            let schema = self.glob.replace('*', tenant);
            let sql = match self.db.dialect {
                "postgres" => format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                _ => format!("DROP DATABASE IF EXISTS {schema}"),
            };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.db.exec(&sql)));
        }
    }
}

fn unique_glob() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("ct{}_{nanos}_*", std::process::id())
}

/// The demo's logs and graph in `sandbox/demo`, and its schemas in `db`.
fn demo<'a>(sandbox: &Sandbox, db: &'a TestDb, glob: &str) -> (PathBuf, Schemas<'a>) {
    let dir = sandbox.path("demo");
    let script = sandbox.write(
        "demo.rhai",
        &format!("ci::demo({:?}, sql::connect(DB_URL), {glob:?}).schemas.len()", dir.display().to_string()),
    );
    let out = sandbox.run(&["run", script.to_str().unwrap(), "-p", &format!("DB_URL={}", db.url)]);
    let schemas = Schemas { db, glob: glob.to_string() };
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "4");
    (dir, schemas)
}

fn by_tenant<'v>(rows: &'v Value, tenant: &str) -> &'v Value {
    rows.as_array().unwrap().iter().find(|r| r["tenant"] == tenant).unwrap_or_else(|| panic!("no {tenant} in {rows}"))
}

fn audit(sandbox: &Sandbox, db: &TestDb, demo: &Path, glob: &str, out: &Path) -> (i32, Value, String) {
    let logs = demo.join("logs");
    let graph = demo.join("services.toml");
    let run = sandbox.run(&[
        "audit",
        "ci-failure",
        "--logs",
        logs.to_str().unwrap(),
        "--db",
        &db.url,
        "--graph",
        graph.to_str().unwrap(),
        "--tenant-schema-pattern",
        glob,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let json =
        serde_json::from_str(&stdout(&run)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&run), stderr(&run)));
    (code(&run), json, stderr(&run))
}

fn triage_and_playbooks(db: TestDb, glob: &str) {
    let sandbox = Sandbox::new();
    let (demo_dir, _schemas) = demo(&sandbox, &db, glob);
    let schema = |tenant: &str| glob.replace('*', tenant);
    let out = sandbox.path("triage");
    let (exit, result, errors) = audit(&sandbox, &db, &demo_dir, glob, &out);
    assert_eq!(exit, 3, "acme is over the threshold: {errors}");
    assert!(errors.contains("finding [error] tenant acme rollback risk 65 is over the threshold 50"), "{errors}");
    assert!(errors.contains("finding [warning] job migrate-tenants failed: database-migration"), "{errors}");
    assert!(errors.contains("finding [warning] job orders-it failed: connection-pool-exhaustion"), "{errors}");

    // Causes, with the first proving line of each job.
    let causes = result["causes"].as_array().unwrap();
    let first = |job: &str| causes.iter().find(|c| c["job"] == job).unwrap();
    assert_eq!(first("migrate-tenants")["cause"], "database-migration");
    assert_eq!(first("migrate-tenants")["step"], "Migrate tenant_acme");
    assert_eq!(first("orders-it")["kind"], "infrastructure");

    // Tenants: the registry and histories say who failed; the logs say who else a failure named.
    let tenants = &result["tenants"];
    let acme = by_tenant(tenants, "acme");
    assert_eq!((acme["status"].as_str(), acme["affected"].as_bool()), (Some("failed"), Some(true)));
    assert_eq!(acme["failed_versions"], "7");
    assert_eq!(acme["schema"], schema("acme"));
    let globex = by_tenant(tenants, "globex");
    assert_eq!(globex["status"], "behind");
    assert_eq!(globex["missing_versions"], "7");
    // The pool exhaustion names globex; where the schemas are named as in the logs, so does the migration.
    assert!(globex["failed_jobs"].as_str().unwrap().contains("orders-it"), "{globex}");
    for calm in ["initech", "umbrella"] {
        let t = by_tenant(tenants, calm);
        assert_eq!((t["status"].as_str(), t["affected"].as_bool()), (Some("ok"), Some(false)), "{t}");
    }

    // The cascade, upstream first.
    let cascade: Vec<(String, String, u64)> = result["cascade"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (s["service"].as_str().unwrap().into(), s["role"].as_str().unwrap().into(), s["depth"].as_u64().unwrap())
        })
        .collect();
    let expected = [
        ("orders-db", "root", 0),
        ("orders-fn", "cascaded", 1),
        ("settings-fn", "impacted", 1),
        ("edge-api", "impacted", 2),
    ];
    assert_eq!(cascade, expected.map(|(s, r, d)| (s.to_string(), r.to_string(), d)));

    // Risk: every factor accounted for.
    let risk = &result["risk"];
    let acme = by_tenant(risk, "acme");
    assert_eq!((acme["score"].as_u64(), acme["migration"].as_u64()), (Some(65), Some(40)));
    assert_eq!((acme["data_written"].as_u64(), acme["fan_out"].as_u64()), (Some(10), Some(15)));
    assert!(
        acme["factors"].as_str().unwrap().contains("3 row(s) written since 2024-05-14T09:20:01.123+00:00"),
        "{acme}"
    );
    let globex = by_tenant(risk, "globex");
    assert_eq!((globex["score"].as_u64(), globex["migration"].as_u64()), (Some(45), Some(25)));
    let umbrella = by_tenant(risk, "umbrella");
    assert_eq!((umbrella["score"].as_u64(), umbrella["schema_drift"].as_u64()), (Some(15), Some(5)));
    assert!(umbrella["factors"].as_str().unwrap().contains("+invoices.legacy_code"), "{umbrella}");
    assert_eq!(by_tenant(risk, "initech")["score"], 10);

    // The triage, the playbooks and the audit report.
    let report = std::fs::read_to_string(out.join("triage.md")).unwrap();
    assert!(report.contains("**Over the rollback-risk threshold of 50: acme (65).**"), "{report}");
    assert!(report.contains("| 1 | orders-db | root | database-migration |"), "{report}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("triage.json")).unwrap()).unwrap();
    assert_eq!(json["risks"][0]["tenant"], "acme");
    let books: Vec<&str> =
        result["playbooks"].as_array().unwrap().iter().map(|b| b["tenant"].as_str().unwrap()).collect();
    assert_eq!(books, ["acme", "globex"]);

    let history = |tenant: &str, failed: bool| {
        let filter = if failed { "NOT success" } else { "success" };
        let table = format!("{}.flyway_schema_history", schema(tenant));
        db.count(&format!("SELECT COUNT(*) FROM {table} WHERE {filter}"))
    };
    let acme_book = out.join("playbook-acme.rhai");
    let backups = sandbox.path("backups");
    std::fs::create_dir(&backups).unwrap();
    let run_book = |extra: &[&str]| {
        let mut args = vec![
            "run".to_string(),
            acme_book.display().to_string(),
            "-p".into(),
            format!("DB_URL={}", db.url),
            "-p".into(),
            format!("BACKUP_DIR={}", backups.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sandbox.run(&args)
    };

    // Dry run: the checks print, the backups are written, the repair is rolled back.
    let dry = run_book(&[]);
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    assert!(stdout(&dry).contains(&format!("== the migration history of {}", schema("acme"))), "{}", stdout(&dry));
    let backup = std::fs::read_to_string(backups.join("backup-acme-1.csv")).unwrap();
    assert_eq!(backup.lines().count(), 4, "a header and the three rows written since the deploy: {backup}");
    assert_eq!(history("acme", true), 1, "a dry run changes nothing");
    let noted = |text: &str| sandbox.logs().iter().any(|p| std::fs::read_to_string(p).unwrap().contains(text));
    assert!(noted("repairs checked and rolled back (dry run)"), "the dry run says so in its log");

    // --execute: the failed record goes, and only acme's.
    let globex_before = (history("globex", false), history("globex", true));
    let executed = run_book(&["--execute"]);
    assert_eq!(code(&executed), 0, "{}", stderr(&executed));
    assert_eq!(history("acme", true), 0);
    assert_eq!(history("acme", false), 1, "the applied migrations stay");
    assert_eq!((history("globex", false), history("globex", true)), globex_before);

    // Globex's playbook is behind, not failed: checks and backups, no repair.
    let globex_book = std::fs::read_to_string(out.join("playbook-globex.rhai")).unwrap();
    assert!(!globex_book.contains("sql::atomic"), "{globex_book}");
    assert!(globex_book.contains("Keep tenant globex on the release before this deploy"), "{globex_book}");

    // A playbook edited to reach another tenant's schema is refused before it runs.
    let text = std::fs::read_to_string(&acme_book).unwrap();
    let forged = sandbox.write("forged.rhai", &text.replace(&schema("acme"), &schema("globex")));
    let refused = sandbox.run(&[
        "run",
        forged.to_str().unwrap(),
        "-p",
        &format!("DB_URL={}", db.url),
        "-p",
        &format!("BACKUP_DIR={}", backups.display()),
    ]);
    assert_ne!(code(&refused), 0);
    assert!(stderr(&refused).contains("is in tenant globex's schema"), "{}", stderr(&refused));
    assert_eq!(history("globex", false), globex_before.0);

    // The audit itself is in a signed log that verifies.
    let logs = sandbox.logs();
    let audit_log =
        logs.iter().find(|p| std::fs::read_to_string(p).unwrap().contains("triage::audit(LOGS, options)")).unwrap();
    let verified = sandbox.run(&["log", "verify", audit_log.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", stdout(&verified));
}

/// A failed migration whose version was written to break out of a generated playbook (a lone
/// CR ends a Rhai comment) and whose description tries the same with quotes: the playbook runs
/// with them as plain values, nothing they hold runs, and --execute removes exactly that row.
fn hostile_history_stays_data(db: TestDb, glob: &str) {
    let sandbox = Sandbox::new();
    let (demo_dir, _schemas) = demo(&sandbox, &db, glob);
    let table = format!("{}.flyway_schema_history", glob.replace('*', "acme"));
    let version = "7\r write_text(\"owned\", \"x\"); //";
    let description = "x\"); write_text(\"owned\", \"y\"); //\r\n";
    db.exec(&format!("UPDATE {table} SET version = '{version}', description = '{description}' WHERE NOT success"));
    let out = sandbox.path("triage");
    let (_, result, errors) = audit(&sandbox, &db, &demo_dir, glob, &out);
    assert_eq!(by_tenant(&result["tenants"], "acme")["failed_versions"], version, "{errors}");
    let book = out.join("playbook-acme.rhai");
    let text = std::fs::read_to_string(&book).unwrap();
    assert!(!text.contains(version) && !text.contains("\r"), "values are escaped literals: {text}");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", book.to_str().unwrap(), "-p"];
        let url = format!("DB_URL={}", db.url);
        args.push(&url);
        args.extend(extra);
        sandbox.run(&args)
    };
    let dry = run(&[]);
    assert_eq!(code(&dry), 0, "{}\n{}", stdout(&dry), stderr(&dry));
    assert!(!sandbox.path("owned").exists(), "the version's code ran");
    let failed = || db.count(&format!("SELECT COUNT(*) FROM {table} WHERE NOT success"));
    assert_eq!(failed(), 1, "a dry run changes nothing");
    let executed = run(&["--execute"]);
    assert_eq!(code(&executed), 0, "{}", stderr(&executed));
    assert!(!sandbox.path("owned").exists());
    assert_eq!(failed(), 0, "the hostile row is the one removed, by its exact version");
}

#[test]
fn hostile_history_on_postgres_stays_data() {
    let Some(db) = TestDb::postgres() else { return };
    hostile_history_stays_data(db, &unique_glob());
}

#[test]
fn hostile_history_on_mariadb_stays_data() {
    let Some(db) = TestDb::mariadb() else { return };
    hostile_history_stays_data(db, &unique_glob());
}

#[test]
fn triage_on_postgres_tenant_schemas() {
    let Some(db) = TestDb::postgres() else { return };
    triage_and_playbooks(db, "tenant_*");
}

#[test]
fn triage_on_mariadb_tenant_databases() {
    let Some(db) = TestDb::mariadb() else { return };
    let glob = unique_glob();
    triage_and_playbooks(db, &glob);
}

#[test]
fn without_a_database_the_logs_still_name_causes_tenants_and_cascade() {
    let sandbox = Sandbox::new();
    let script = sandbox.write("d.rhai", &format!("ci::demo({:?}).logs", sandbox.path("demo").display().to_string()));
    assert_eq!(code(&sandbox.run(&["run", script.to_str().unwrap()])), 0);
    let demo = sandbox.path("demo");
    let out = sandbox.path("out");
    let run = sandbox.run(&[
        "audit",
        "ci-failure",
        "--logs",
        demo.join("logs").to_str().unwrap(),
        "--graph",
        demo.join("services.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&run), 0, "no tenant is over 50 on log evidence alone: {}", stderr(&run));
    let report = stdout(&run);
    assert!(report.starts_with("# CI failure triage"), "the report is printed: {report}");
    assert!(report.contains("**No tenant is over the rollback-risk threshold of 50.**"), "{report}");
    assert!(report.contains("### migrate-tenants: database-migration (code; a retry will not fix it)"), "{report}");
    assert!(report.contains("| acme | yes | unknown |"), "{report}");
    assert!(
        stderr(&run).contains(&format!("report: {} (and report.md, report.json)", out.join("report.html").display())),
        "{}",
        stderr(&run)
    );
    assert!(!out.join("playbook-acme.rhai").exists(), "no playbooks without a database");

    let usage = sandbox.run(&["audit", "ci-failure", "--logs", "missing/logs"]);
    assert_eq!(code(&usage), 2);
    assert!(stderr(&usage).contains("--logs missing/logs: no such file or folder"), "{}", stderr(&usage));
    let no_registry =
        sandbox.run(&["audit", "ci-failure", "--logs", demo.join("logs").to_str().unwrap(), "--db", "sqlite::memory:"]);
    assert_eq!(code(&no_registry), 2);
    assert!(stderr(&no_registry).contains("--tenant-schema-pattern"), "{}", stderr(&no_registry));
    let cycle = sandbox.write("cycle.toml", "[services.a]\ndepends_on = [\"b\"]\n[services.b]\ndepends_on = [\"a\"]\n");
    let bad_graph = sandbox.run(&[
        "audit",
        "ci-failure",
        "--logs",
        demo.join("logs").to_str().unwrap(),
        "--graph",
        cycle.to_str().unwrap(),
        "--out",
        sandbox.path("o2").to_str().unwrap(),
    ]);
    assert_eq!(code(&bad_graph), 1);
    assert!(stderr(&bad_graph).contains("the dependencies form a cycle: a -> b -> a"), "{}", stderr(&bad_graph));
}

#[test]
fn the_guard_keeps_each_tenant_in_its_own_schema() {
    let sandbox = Sandbox::new();
    let tenancy =
        sandbox.write("tenancy.toml", "tenant_schemas = \"tenant_*\"\n\n[tables]\nplans = { global = true }\n");
    let check = |tenant: Option<&str>, sql: &str| {
        let mut args = vec!["guard", "--tenancy", tenancy.to_str().unwrap(), "--dialect", "postgres"];
        if let Some(t) = tenant {
            args.extend(["--tenant", t]);
        }
        args.push(sql);
        let out = sandbox.run(&args);
        (code(&out), stdout(&out))
    };
    let own = "DELETE FROM tenant_acme.flyway_schema_history WHERE version = $2 AND NOT success";
    assert_eq!(check(Some("acme"), own).0, 0);
    let join = "SELECT i.* FROM tenant_acme.invoices i JOIN plans p ON p.id = i.plan_id";
    assert_eq!(check(Some("acme"), join).0, 0, "global tables join the tenant's own");
    let (exit, text) =
        check(Some("acme"), "SELECT * FROM tenant_acme.invoices a JOIN tenant_globex.invoices g ON g.id = a.id");
    assert_eq!(exit, 3, "{text}");
    assert!(
        text.contains("tenant-schema (tenant_globex.invoices): `tenant_globex.invoices` is in tenant globex's schema"),
        "{text}"
    );
    let (exit, text) = check(None, own);
    assert_eq!(exit, 3);
    assert!(text.contains("reach it through sql::with_tenant(db, \"acme\")"), "{text}");
    let (exit, text) = check(Some("acme"), "INSERT INTO tenant_globex.flyway_schema_history (version) VALUES ('8')");
    assert_eq!(exit, 3, "{text}");
    let (exit, _) = check(Some("acme"), "INSERT INTO tenant_acme.invoices VALUES (1, 'x', 1.0, 'EUR', '2024-05-14')");
    assert_eq!(exit, 0, "in its own schema a tenant's insert needs no tenant column");
}

#[test]
fn every_migration_tool_and_the_tenants_table_on_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    for sql in [
        "CREATE TABLE public.tenants (slug TEXT PRIMARY KEY, schema_name TEXT, plan TEXT)",
        "INSERT INTO public.tenants VALUES ('alpha', 'tn_alpha', 'team'), ('beta', 'tn_beta', 'free'), ('gamma', 'tn_gamma', 'free'), ('delta', 'tn_delta', 'team')",
        // sqlx: version 3 failed.
        "CREATE SCHEMA tn_alpha",
        "CREATE TABLE tn_alpha._sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
        "INSERT INTO tn_alpha._sqlx_migrations VALUES (1, 'init', now(), true, '\\x00', 1), (2, 'orders', now(), true, '\\x00', 1), (3, 'currency', now(), false, '\\x00', 1)",
        // golang-migrate: dirty at 3.
        "CREATE SCHEMA tn_beta",
        "CREATE TABLE tn_beta.schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)",
        "INSERT INTO tn_beta.schema_migrations VALUES (3, true)",
        // Rails: 1 and 2 applied, 3 missing.
        "CREATE SCHEMA tn_gamma",
        "CREATE TABLE tn_gamma.schema_migrations (version VARCHAR NOT NULL PRIMARY KEY)",
        "INSERT INTO tn_gamma.schema_migrations VALUES ('1'), ('2')",
        // Not in the tenants table.
        "CREATE SCHEMA tn_omega",
        "CREATE TABLE tn_omega.schema_migrations (version VARCHAR NOT NULL PRIMARY KEY)",
        "INSERT INTO tn_omega.schema_migrations VALUES ('1'), ('2'), ('3')",
    ] {
        db.exec(sql);
    }
    let sandbox = Sandbox::new();
    let script = sandbox.write(
        "m.rhai",
        r#"ci::migrations(sql::connect(DB_URL), #{schemas: "tn_*", table: "public.tenants", expected: "3"})
            .select(["tenant", "status", "registered", "history_table", "latest_version", "failed_versions", "missing_versions", "detail"])"#,
    );
    let out = sandbox.run(&["run", "--json", script.to_str().unwrap(), "-p", &format!("DB_URL={}", db.url)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let get = |t: &str, k: &str| by_tenant(&rows, t)[k].clone();
    assert_eq!((get("alpha", "status"), get("alpha", "failed_versions")), ("failed".into(), "3".into()));
    assert_eq!(get("alpha", "history_table"), "_sqlx_migrations");
    assert_eq!(get("alpha", "latest_version"), "2");
    assert_eq!(get("beta", "status"), "dirty");
    assert_eq!(get("beta", "detail"), "schema_migrations is dirty at version 3");
    assert_eq!((get("gamma", "status"), get("gamma", "missing_versions")), ("behind".into(), "3".into()));
    assert_eq!(get("delta", "status"), "no-schema");
    assert_eq!(get("delta", "detail"), "listed in the tenants table, but schema tn_delta does not exist");
    assert_eq!((get("omega", "status"), get("omega", "registered")), ("ok".into(), false.into()));
    assert_eq!(get("alpha", "registered"), true);

    let bad = sandbox.write("bad.rhai", r#"ci::migrations(sql::connect(DB_URL), #{table: "public.nope"})"#);
    let out = sandbox.run(&["run", bad.to_str().unwrap(), "-p", &format!("DB_URL={}", db.url)]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("tenants table public.nope: cannot be read"), "{}", stderr(&out));
}

/// A CodeBuild deploy that fails on an AssumeRole denial after CloudWatch throttled it: the
/// report names each AWS error with its service and operation, says whether a retry helps, and
/// takes the denial apart into the role chain.
#[test]
fn aws_errors_in_a_codebuild_deploy_are_named_with_the_role_chain() {
    let sandbox = Sandbox::new();
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci/codebuild-deploy-denied.log");
    let out = sandbox.path("out");
    // Spelt as runbooks and tickets spell it.
    let run = sandbox.run(&["audit:ci-failure", "--logs", log.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let no_db = sandbox.run(&["audit:ci-failure", "--logs", log.to_str().unwrap(), "--generate-rollback-playbook"]);
    assert_eq!(code(&no_db), 2);
    assert!(stderr(&no_db).contains("--generate-rollback-playbook needs --db URL"), "{}", stderr(&no_db));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let summary = report["summary"].to_string();
    for expected in [
        "AWS error: Throttling on PutMetricData ×2 (a retry with backoff helps)",
        "AWS error: AccessDenied from STS on AssumeRole ×1 (a retry does not help): role codebuild-app-service-role (session AWSCodeBuild-0c9e1f57) → role tenant-deploy may not sts:AssumeRole on arn:aws:iam::444455556666:role/tenant-deploy",
        "AWS error: COMMAND_EXECUTION_ERROR from CodeBuild ×1 (a retry does not help)",
    ] {
        assert!(summary.contains(expected), "{expected}\nnot in {summary}");
    }
    let section = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "AWS errors")
        .expect("an AWS errors section");
    let rows = section["table"]["rows"].to_string();
    assert!(
        rows.contains("arn:aws:sts::111122223333:assumed-role/codebuild-app-service-role/AWSCodeBuild-0c9e1f57"),
        "{rows}"
    );
    let markdown = std::fs::read_to_string(out.join("triage.md")).unwrap();
    assert!(markdown.contains("## AWS errors"), "{markdown}");
    assert!(markdown.contains("| AccessDenied | STS | AssumeRole | access-denied | does not help | 1 |"), "{markdown}");
}

/// CodeBuild as the log source, through the SDK against moto (with the CodeBuild behaviour moto
/// 5.2 lacks added by tests/fixtures/aws/moto_codebuild_server.py): the project's latest build
/// that failed, found past a later success; a build by its id; a failed build without a log,
/// triaged from its phases; a build that does not exist.
#[test]
fn codebuild_builds_are_read_by_project_and_by_id() {
    use common::moto::{ENV, Moto};
    let Some(moto) = Moto::start_for_codebuild() else { return };
    let ids: Value = serde_json::from_slice(&moto.run_fixture("codebuild_builds.py", &[])).unwrap();
    let sandbox = Sandbox::new();
    let audit = |logs: &str, out: &str| {
        sandbox
            .command()
            .args(["audit", "ci-failure", "--logs", logs, "--json", "--out"])
            .arg(sandbox.path(out))
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("HOME", sandbox.path("nohome"))
            .envs(ENV.iter().copied())
            .output()
            .unwrap()
    };
    for (logs, out) in
        [("codebuild:web".to_string(), "latest"), (format!("codebuild:{}", ids["failed"].as_str().unwrap()), "by-id")]
    {
        let run = audit(&logs, out);
        assert_eq!(code(&run), 0, "{logs}: {}", stderr(&run));
        let triage: Value = serde_json::from_str(&stdout(&run)).unwrap();
        let causes = triage["causes"].to_string();
        assert!(causes.contains("\"permission\""), "{logs}: {causes}");
        assert!(
            causes.contains(&format!("codebuild:{}", ids["failed"].as_str().unwrap())),
            "{logs}: the source names the build: {causes}"
        );
        let aws = triage["aws_errors"].to_string();
        assert!(aws.contains("AccessDenied") && aws.contains("role codebuild-app-service-role"), "{logs}: {aws}");
    }
    let run = audit("codebuild:api", "nolog");
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let triage: Value = serde_json::from_str(&stdout(&run)).unwrap();
    let causes = triage["causes"].to_string();
    assert!(causes.contains("COMMAND_EXECUTION_ERROR"), "triaged from the phases: {causes}");
    let missing = audit("codebuild:web:no-such-build", "missing");
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("BatchGetBuilds web:no-such-build: not found"), "{}", stderr(&missing));
}

/// CodePipeline as the source, through the SDK against moto (with the execution calls moto 5.2
/// lacks added by tests/fixtures/aws/moto_codepipeline_server.py): the failed executions in the
/// window, every pipeline's or one's; the CodeBuild build behind a failed action and its log; an
/// action that is not a build, triaged from CodePipeline's error details; an execution by id;
/// a pipeline or execution that does not exist.
#[test]
fn codepipeline_failed_executions_are_read_with_the_builds_behind_them() {
    use common::moto::{ENV, Moto};
    let Some(moto) = Moto::start_for_codepipeline() else { return };
    let ids: Value = serde_json::from_slice(&moto.run_fixture("codepipeline_executions.py", &[])).unwrap();
    let id = |name: &str| ids[name].as_str().unwrap().to_string();
    let sandbox = Sandbox::new();
    let audit = |args: &[&str], out: &str| {
        sandbox
            .command()
            .args(["audit", "ci-failure", "--json", "--out"])
            .arg(sandbox.path(out))
            .args(args)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("HOME", sandbox.path("nohome"))
            .envs(ENV.iter().copied())
            .output()
            .unwrap()
    };
    let causes_of = |run: &std::process::Output| -> Vec<Value> {
        assert_eq!(code(run), 0, "{}", stderr(run));
        let triage: Value = serde_json::from_str(&stdout(run)).unwrap();
        triage["causes"].as_array().cloned().unwrap_or_default()
    };
    let jobs = |causes: &[Value]| -> Vec<String> {
        let mut jobs: Vec<String> = causes.iter().map(|c| c["job"].as_str().unwrap().to_string()).collect();
        jobs.sort();
        jobs.dedup();
        jobs
    };

    // Every pipeline, the last hour: release's build and migrate's migration; not the execution
    // three hours ago, not the pipeline that passed.
    let all = causes_of(&audit(&["--pipeline-source", "aws-codepipeline", "--since", "60m"], "all"));
    assert_eq!(jobs(&all), ["migrate/Migrate/ApplyMigrations", "release/Build/BuildApp"], "{all:?}");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&id("old")), "the execution before the window is left out: {text}");
    let release = all.iter().find(|c| c["job"] == "release/Build/BuildApp").unwrap();
    assert_eq!(release["cause"], "permission", "from the build's log: {release}");
    assert_eq!(release["source"], format!("codepipeline:release:{}", id("failed")));
    let migrate = all.iter().find(|c| c["job"] == "migrate/Migrate/ApplyMigrations").unwrap();
    assert_eq!(migrate["cause"], "quota-throttling", "from CodePipeline's error details: {migrate}");
    assert!(
        migrate["text"].as_str().unwrap().starts_with("JobFailed: Stack tenant-db is in UPDATE_ROLLBACK_COMPLETE"),
        "{migrate}"
    );
    assert_eq!(migrate["step"], "Migrate/ApplyMigrations", "{migrate}");

    // One pipeline; its AWS errors come through as from a file.
    let run = audit(&["--pipeline-source", "aws-codepipeline", "--pipeline", "release", "--since", "60m"], "one");
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let triage: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(jobs(triage["causes"].as_array().unwrap()), ["release/Build/BuildApp"]);
    assert!(triage["aws_errors"].to_string().contains("AccessDenied"), "{}", triage["aws_errors"]);

    // An execution by id, outside any window: its build never logged, so its phases speak.
    let old = causes_of(&audit(&["--logs", &format!("codepipeline:release:{}", id("old"))], "old"));
    assert_eq!(jobs(&old), ["release/Build/BuildApp"]);
    assert!(serde_json::to_string(&old).unwrap().contains("COMMAND_EXECUTION_ERROR"), "{old:?}");

    // Nothing failed in the window: a clean verdict.
    let quiet = causes_of(&audit(&["--pipeline-source", "aws-codepipeline", "--pipeline", "docs"], "quiet"));
    assert!(quiet.is_empty(), "{quiet:?}");

    for (logs, says) in [
        ("codepipeline:nope", "ListPipelineExecutions nope: not found"),
        ("codepipeline:release:no-such", "GetPipelineExecution release:no-such: not found"),
    ] {
        let run = audit(&["--logs", logs], "missing");
        assert_eq!(code(&run), 2, "{logs}: {}", stderr(&run));
        assert!(stderr(&run).contains(says), "{logs}: {}", stderr(&run));
    }
    let run = audit(&["--pipeline-source", "aws-codepipeline", "--since", "yesterday"], "bad-since");
    assert_eq!(code(&run), 2, "{}", stderr(&run));
    assert!(stderr(&run).contains("\"yesterday\" is not a time"), "{}", stderr(&run));
}

/// S3 where a log is read and a report written, through the SDK against moto: one object, a
/// gzip object, a prefix of GitHub Actions step logs (keys with spaces) and a "folder" named
/// without its slash, each labelled with its address; a key that is not there; the report put
/// under a prefix with SSE-KMS, uploaded.json matching what S3 says it stored.
#[test]
fn logs_are_read_from_s3_and_the_report_is_written_there() {
    use common::moto::{ENV, Moto};
    let Some(moto) = Moto::start_empty() else { return };
    let python = |args: &[&str]| moto.run_fixture("s3_objects.py", args);
    python(&["seed"]);
    let sandbox = Sandbox::new();
    let audit = |args: &[&str]| {
        sandbox
            .command()
            .args(["audit", "ci-failure", "--json"])
            .args(args)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("HOME", sandbox.path("nohome"))
            .envs(ENV.iter().copied())
            .output()
            .unwrap()
    };
    let triage_of = |run: &std::process::Output| -> Value {
        assert_eq!(code(run), 0, "{}", stderr(run));
        serde_json::from_str(&stdout(run)).unwrap()
    };

    let one = triage_of(&audit(&[
        "--logs",
        "s3://ci-logs/builds/web/42.log",
        "--out",
        sandbox.path("one").to_str().unwrap(),
    ]));
    assert_eq!(one["causes"][0]["cause"], "permission", "{}", one["causes"]);
    assert_eq!(one["causes"][0]["source"], "s3://ci-logs/builds/web/42.log");

    for logs in ["s3://ci-logs/builds/", "s3://ci-logs/builds"] {
        let both = triage_of(&audit(&["--logs", logs, "--out", sandbox.path("both").to_str().unwrap()]));
        let sources: Vec<&str> =
            both["causes"].as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
        assert!(sources.contains(&"s3://ci-logs/builds/web/42.log"), "{logs}: {sources:?}");
        assert!(sources.contains(&"s3://ci-logs/builds/api/7.log.gz"), "{logs}: the gzip object: {sources:?}");
    }
    let run = triage_of(&audit(&["--logs", "s3://ci-logs/runs/8812/", "--out", sandbox.path("run").to_str().unwrap()]));
    let causes = run["causes"].to_string();
    assert!(causes.contains("\"s3://ci-logs/runs/8812/build-rust/"), "{causes}");
    assert!(causes.contains("\"build-rust\""), "the job is the step log's folder: {causes}");

    let missing =
        audit(&["--logs", "s3://ci-logs/builds/nope.log", "--out", sandbox.path("missing").to_str().unwrap()]);
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("GetObject s3://ci-logs/builds/nope.log: not found"), "{}", stderr(&missing));

    // The report put in S3, encrypted with the KMS key asked for; the local copy is gone.
    let put = audit(&[
        "--logs",
        "s3://ci-logs/builds/web/42.log",
        "--out",
        "s3://reports/ci/run-1",
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        "alias/reports",
    ]);
    assert_eq!(code(&put), 0, "{}", stderr(&put));
    assert!(stderr(&put).contains("report: s3://reports/ci/run-1/report.html"), "{}", stderr(&put));
    let stored: Vec<Value> = serde_json::from_slice(&python(&["list", "reports", "ci/run-1/"])).unwrap();
    let keys: Vec<&str> = stored.iter().map(|o| o["key"].as_str().unwrap()).collect();
    for key in ["ci/run-1/report.html", "ci/run-1/report.json", "ci/run-1/triage.md", "ci/run-1/uploaded.json"] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert!(stored.iter().all(|o| o["sse"] == "aws:kms" && o["kms_key"] == "alias/reports"), "{stored:?}");
    let listing = std::process::Command::new("python3")
        .args(["-c", "import boto3,sys; sys.stdout.buffer.write(boto3.client('s3', endpoint_url=sys.argv[1]).get_object(Bucket='reports', Key='ci/run-1/uploaded.json')['Body'].read())", &moto.url])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    let uploaded: Value = serde_json::from_slice(&listing.stdout).expect("uploaded.json is JSON");
    for object in uploaded["objects"].as_array().unwrap() {
        let key = object["url"].as_str().unwrap().strip_prefix("s3://reports/").unwrap();
        let held = stored.iter().find(|o| o["key"] == key).unwrap_or_else(|| panic!("{key} is stored"));
        assert_eq!(object["etag"], held["etag"], "{key}");
        assert_eq!(object["version"], held["version"], "{key}: the versioned bucket's version");
        assert!(object["version"].is_string(), "{key}");
    }
}

/// A deploy that failed while its database ran out of connections, with CloudWatch's metrics
/// beside the log (through the SDK against moto): the database at max_connections is the root;
/// the retry storm, the 5XX and the function's throttling and spike are symptoms; the
/// recommendations come from the numbers (twice the peak within what the class allows, the alarm
/// at 70 %, reserved concurrency of 1.5 times the peak).
#[test]
fn metrics_beside_the_logs_name_the_root_cause_and_size_the_fix() {
    use common::moto::{ENV, Moto};
    let Some(moto) = Moto::start_empty() else { return };
    moto.run_fixture("pool_exhaustion.py", &[]);
    let sandbox = Sandbox::new();
    let log = sandbox.write(
        "deploy.log",
        "+ ./migrate.sh\nERROR: FATAL: remaining connection slots are reserved for non-replication superuser connections\nERROR: script returned exit code 1\nFinished: FAILURE\n",
    );
    let run = sandbox
        .command()
        .args(["audit", "ci-failure", "--logs"])
        .arg(&log)
        .args(["--since", "60m", "--metrics", "cloudwatch", "--json", "--out"])
        .arg(sandbox.path("out"))
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("HOME", sandbox.path("nohome"))
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let triage: Value = serde_json::from_str(&stdout(&run)).unwrap();
    let timeline: Vec<(String, String, String)> = triage["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["role"].as_str().unwrap().into(),
                e["kind"].as_str().unwrap().into(),
                e["resource"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("root", "connection-pool-exhaustion", "orders-db"),
        ("symptom", "concurrency-spike", "settle-payments"),
        ("symptom", "retry-storm", "orders-api"),
        ("symptom", "api-errors", "orders-api"),
        ("symptom", "lambda-throttling", "settle-payments"),
    ];
    let mut sorted = timeline.clone();
    sorted.sort();
    let mut want: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    want.sort();
    assert_eq!(sorted, want, "{:#?}", triage["timeline"]);
    assert_eq!(timeline[0].1, "connection-pool-exhaustion", "the root comes first: {timeline:?}");
    let root = &triage["timeline"][0]["evidence"];
    assert!(
        root.as_str().unwrap().starts_with("DatabaseConnections on orders-db reached 100 of max_connections 100"),
        "{root}"
    );
    let recommendations = triage["recommendations"].as_array().unwrap();
    let action = |kind: &str| {
        recommendations.iter().find(|r| r["kind"] == kind).unwrap_or_else(|| panic!("{kind} in {recommendations:?}"))
    };
    assert_eq!(
        action("max-connections")["action"],
        "raise max_connections on orders-db from 100 to 200, and alarm at 140"
    );
    assert!(action("max-connections")["because"].as_str().unwrap().contains("a db.t3.medium allows about 450"));
    assert_eq!(action("reserved-concurrency")["action"], "reserve 45 concurrent executions for settle-payments");
    let markdown = std::fs::read_to_string(sandbox.path("out").join("triage.md")).unwrap();
    assert!(markdown.contains("## Root cause: connection-pool-exhaustion on orders-db"), "{markdown}");
    assert!(markdown.contains("resource \"aws_cloudwatch_metric_alarm\" \"orders_db_connections\""), "{markdown}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path("out").join("report.json")).unwrap()).unwrap();
    let summary = report["summary"].to_string();
    assert!(summary.contains("root cause: connection-pool-exhaustion on orders-db"), "{summary}");
}
