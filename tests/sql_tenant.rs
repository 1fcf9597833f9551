//! Tenant-scoped SQL on real databases (SQLite, PostgreSQL, MariaDB) through Rhai runbooks run by
//! `deployclaw run`: leaks refused, dry runs that leave no trace, atomic rollback, --execute,
//! writes a rollback cannot undo, and a connection killed mid-transaction.

mod common;

use common::db::{SHOP_TENANCY, TestDb};
use common::{Sandbox, code, stderr, stdout};
use std::process::Output;

/// Run `script` against `t` with URL and TENANCY set; placeholders `{P}` (the tenant) and `{Q}`,
/// `{R}` (the first and second parameters after it) are replaced for the dialect.
fn run(sandbox: &Sandbox, t: &TestDb, script: &str, extra: &[&str]) -> Output {
    let script = script.replace("{P}", t.tenant()).replace("{Q}", &t.param(1)).replace("{R}", &t.param(2));
    let path = sandbox.write("runbook.rhai", &script);
    let tenancy = sandbox.write("tenancy.toml", SHOP_TENANCY);
    let url = format!("URL={}", t.url);
    let tenancy = format!("TENANCY={}", tenancy.display());
    let mut args = vec!["run", "--json", path.to_str().unwrap(), "-p", &url, "-p", &tenancy];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

const OPEN: &str = "let db = sql::connect(URL, TENANCY); let t = sql::with_tenant(db, 1);";

#[test]
fn reads_see_only_the_tenant_and_leak_attempts_are_refused_before_they_run() {
    let sandbox = Sandbox::new();
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        let script = format!(
            r#"{OPEN}
            let mine = t.query("SELECT id FROM orders WHERE tenant_id = {{P}} ORDER BY id").col("id");
            let attempts = [
                "SELECT id FROM orders",
                "SELECT id FROM orders WHERE tenant_id = {{P}} OR 1 = 1",
                "SELECT id FROM orders WHERE tenant_id = 2",
                "SELECT o.id FROM orders o JOIN users u ON u.id = 1 WHERE o.tenant_id = {{P}}",
                "SELECT id FROM orders WHERE tenant_id = {{P}} UNION SELECT id FROM orders",
                "SELECT body FROM order_notes",
            ];
            let refused = 0;
            for a in attempts {{ try {{ t.query(a); }} catch (e) {{ refused += 1; }} }}
            #{{mine: mine, refused: refused, findings: evidence::findings().len()}}"#
        );
        let out = run(&sandbox, &t, &script, &[]);
        assert_eq!(code(&out), 3, "{}: an error finding per refusal sets exit 3: {}", t.dialect, stderr(&out));
        let v = json(&out);
        assert_eq!(v["mine"], serde_json::json!([1, 2, 3]), "{}", t.dialect);
        assert_eq!(v["refused"], 6, "{}", t.dialect);
        assert_eq!(v["findings"], 6, "{}", t.dialect);

        // A refusal stops the runbook and says why, naming the statement.
        let out = run(
            &sandbox,
            &t,
            &format!("{OPEN} t.query(\"SELECT * FROM orders WHERE tenant_id = {{P}} OR true\")"),
            &[],
        );
        assert_ne!(code(&out), 0);
        let err = stderr(&out);
        assert!(
            err.contains("refused by the tenant guard; nothing ran") && err.contains("or-branch"),
            "{}: {err}",
            t.dialect
        );

        // Without a tenant only global tables can be read.
        let script = r#"let db = sql::connect(URL, TENANCY); let n = db.query("SELECT name FROM plans ORDER BY id").col("name");
            let refused = false; try { db.query("SELECT * FROM orders"); } catch (e) { refused = e.contains("sql::with_tenant"); }
            [n, refused]"#;
        let out = run(&sandbox, &t, script, &[]);
        assert_eq!(json(&out), serde_json::json!([["free", "team"], true]), "{}: {}", t.dialect, stderr(&out));
    }
}

#[test]
fn dry_runs_report_what_would_change_and_leave_no_trace() {
    let sandbox = Sandbox::new();
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        let script = format!(
            r#"{OPEN}
            let u = t.execute("UPDATE orders SET status = 'void' WHERE tenant_id = {{P}}");
            let d = t.execute("DELETE FROM order_notes WHERE order_id IN (SELECT id FROM orders WHERE tenant_id = {{P}})");
            let a = sql::atomic(t, [["UPDATE orders SET total_cents = 0 WHERE tenant_id = {{P}} AND id = {{Q}}", [2]], "DELETE FROM orders WHERE tenant_id = {{P}} AND status = 'paid'"]);
            #{{dry: [u.dry_run, d.dry_run, a.dry_run], committed: a.committed, counts: [u.rows_affected, d.rows_affected] + a.steps.col("rows_affected"),
              sampled: if type_of(u.sample) == "()" {{ () }} else {{ u.sample.rows().len() }} }}"#
        );
        let out = run(&sandbox, &t, &script, &[]);
        assert_eq!(code(&out), 0, "{}: {}", t.dialect, stderr(&out));
        let v = json(&out);
        assert_eq!(v["dry"], serde_json::json!([true, true, true]), "{}", t.dialect);
        assert_eq!(v["committed"], false);
        assert_eq!(v["counts"], serde_json::json!([3, 1, 1, 1]), "{}", t.dialect);
        if t.dialect != "mysql" {
            assert_eq!(v["sampled"], 3, "{}: RETURNING gives the changed rows", t.dialect);
        }
        assert_eq!(t.count("SELECT count(*) FROM orders WHERE status = 'void'"), 0, "{}", t.dialect);
        assert_eq!(t.count("SELECT count(*) FROM order_notes"), 2, "{}", t.dialect);
        assert_eq!(t.count("SELECT count(*) FROM orders"), 6, "{}", t.dialect);
        assert_eq!(t.count("SELECT total_cents FROM orders WHERE id = 2"), 200, "{}", t.dialect);
    }
}

#[test]
fn execute_commits_and_a_failure_midway_rolls_everything_back() {
    let sandbox = Sandbox::new();
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        // Step 2 breaks the CHECK constraint: step 1 must not survive.
        let script = format!(
            r#"{OPEN} sql::atomic(t, [["UPDATE orders SET status = 'void' WHERE tenant_id = {{P}} AND id = {{Q}}", [1]],
                                       ["UPDATE orders SET total_cents = -1 WHERE tenant_id = {{P}} AND id = {{Q}}", [2]]], #{{execute: true}})"#
        );
        let out = run(&sandbox, &t, &script, &[]);
        assert_ne!(code(&out), 0, "{}", t.dialect);
        let err = stderr(&out);
        assert!(err.contains("step 2 failed") && err.contains("nothing was committed"), "{}: {err}", t.dialect);
        assert_eq!(t.count("SELECT count(*) FROM orders WHERE status = 'void'"), 0, "{}", t.dialect);

        // --execute keeps the writes; other tenants' rows are untouched.
        let script =
            format!(r#"{OPEN} t.execute("UPDATE orders SET status = 'void' WHERE tenant_id = {{P}}").committed"#);
        let out = run(&sandbox, &t, &script, &["--execute"]);
        assert_eq!(json(&out), true, "{}: {}", t.dialect, stderr(&out));
        assert_eq!(t.count("SELECT count(*) FROM orders WHERE status = 'void'"), 3, "{}", t.dialect);
        assert_eq!(t.count("SELECT count(*) FROM orders WHERE status = 'void' AND tenant_id <> 1"), 0, "{}", t.dialect);
    }
}

#[test]
fn a_dry_run_refuses_writes_a_rollback_cannot_undo() {
    let sandbox = Sandbox::new();
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        let script = format!(
            r#"{OPEN} t.execute("INSERT INTO orders (tenant_id, status, total_cents) VALUES ({{P}}, 'new', 1)").rows_affected"#
        );
        let out = run(&sandbox, &t, &script, &[]);
        match t.dialect {
            // SQLite keeps its counters in a table, so the rollback restores them.
            "sqlite" => assert_eq!(json(&out), 1, "{}", stderr(&out)),
            dialect => {
                assert_ne!(code(&out), 0, "{dialect}");
                let err = stderr(&out);
                let counter = if dialect == "mysql" { "AUTO_INCREMENT" } else { "sequence" };
                assert!(
                    err.contains("cannot be dry-run") && err.contains(counter) && err.contains("nothing ran"),
                    "{dialect}: {err}"
                );
            }
        }
        assert_eq!(t.count("SELECT count(*) FROM orders"), 6, "{}", t.dialect);
    }
}

#[test]
fn a_connection_killed_mid_transaction_leaves_nothing_half_written() {
    let sandbox = Sandbox::new();
    for t in [TestDb::postgres(), TestDb::mariadb()].into_iter().flatten() {
        t.shop();
        let sleep = if t.dialect == "postgres" { "SELECT pg_sleep(20)" } else { "SELECT sleep(20)" };
        let script = format!(
            r#"{OPEN} sql::atomic(t, [["INSERT INTO order_notes (id, order_id, body) SELECT 9, id, 'x' FROM orders WHERE tenant_id = {{P}} AND id = {{Q}}", [1]],
                                       "{sleep}"], #{{execute: true}})"#
        );
        let script = script.replace("{P}", t.tenant()).replace("{Q}", &t.param(1));
        let path = sandbox.write("kill.rhai", &script);
        let tenancy = sandbox.write("tenancy.toml", SHOP_TENANCY);
        let child = sandbox
            .command()
            .args([
                "run",
                path.to_str().unwrap(),
                "-p",
                &format!("URL={}", t.url),
                "-p",
                &format!("TENANCY={}", tenancy.display()),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Find the session sleeping inside the transaction and kill it from outside.
        let find = if t.dialect == "postgres" {
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND pid <> pg_backend_pid()"
        } else {
            "SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT sleep(20)%'"
        };
        let mut victim = None;
        for _ in 0..200 {
            if let Some(row) = t.rows(find).first() {
                victim = row[0].as_i64();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let victim = victim.unwrap_or_else(|| panic!("{}: the runbook never reached its sleep", t.dialect));
        if t.dialect == "postgres" {
            t.rows(&format!("SELECT pg_terminate_backend({victim})"));
        } else {
            t.exec(&format!("KILL {victim}"));
        }
        let out = child.wait_with_output().unwrap();
        assert_ne!(code(&out), 0, "{}", t.dialect);
        assert!(stderr(&out).contains("nothing was committed"), "{}: {}", t.dialect, stderr(&out));
        assert_eq!(t.count("SELECT count(*) FROM order_notes WHERE id = 9"), 0, "{}: half written", t.dialect);
    }
}

#[test]
fn the_schema_is_read_a_tenancy_map_inferred_and_isolation_lints_found() {
    let sandbox = Sandbox::new();
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        let text_ci = if t.dialect == "mysql" { " COLLATE utf8mb4_general_ci" } else { "" };
        t.exec(&format!("CREATE TABLE events (id INT PRIMARY KEY, tenant_id VARCHAR(20){text_ci}, kind VARCHAR(20))"));
        if t.dialect == "postgres" {
            t.exec("ALTER TABLE orders ENABLE ROW LEVEL SECURITY");
            t.exec("CREATE POLICY everyone ON orders USING (true)");
            t.exec("CREATE VIEW open_orders AS SELECT * FROM orders WHERE status = 'open'");
            t.exec("CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM orders'");
        }
        let script = r#"let db = sql::connect(URL);
            let inferred = sql::infer_tenancy(db);
            let db = sql::connect(URL, inferred.toml);
            let lints = sql::lint(db);
            #{kinds: inferred.tables.select(["table", "kind"]).rows(),
              fks: db.foreign_keys().select(["table", "columns", "ref_table", "ref_columns"]).rows(),
              lints: lints.select(["rule", "table", "severity"]).rows()}"#;
        let out = run(&sandbox, &t, script, &[]);
        assert_eq!(code(&out), 3, "{}: error lints are error findings: {}", t.dialect, stderr(&out));
        let v = json(&out);
        let kind = |table: &str| {
            v["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["table"] == table)
                .map(|r| r["kind"].as_str().unwrap().to_string())
        };
        assert_eq!(kind("tenants").as_deref(), Some("root"), "{}: {v}", t.dialect);
        assert_eq!(kind("orders").as_deref(), Some("keyed"), "{}", t.dialect);
        assert_eq!(kind("users").as_deref(), Some("keyed"), "{}", t.dialect);
        assert_eq!(kind("order_notes").as_deref(), Some("derived"), "{}", t.dialect);
        assert_eq!(kind("plans").as_deref(), Some("global"), "{}", t.dialect);
        assert!(
            v["fks"].as_array().unwrap().contains(&serde_json::json!({"table": "order_notes", "columns": "order_id", "ref_table": "orders", "ref_columns": "id"})),
            "{}: {}", t.dialect, v["fks"]
        );
        let lints: Vec<(String, String)> = v["lints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["rule"].as_str().unwrap().to_string(), l["table"].as_str().unwrap().to_string()))
            .collect();
        let has = |rule: &str, table: &str| lints.contains(&(rule.to_string(), table.to_string()));
        assert!(has("nullable-key", "events"), "{}: {lints:?}", t.dialect);
        match t.dialect {
            "postgres" => {
                assert!(has("unindexed-key", "orders") && has("unindexed-key", "order_notes"), "{lints:?}");
                assert!(has("policy-always-true", "orders"), "{lints:?}");
                assert!(has("rls-disabled", "users") && has("rls-not-forced", "orders"), "{lints:?}");
                assert!(has("definer-view", "open_orders") && has("definer-function", "order_count"), "{lints:?}");
            }
            "mysql" => assert!(has("case-insensitive-key", "events"), "{lints:?}"),
            _ => assert!(has("unindexed-key", "orders"), "{lints:?}"),
        }
    }
}

#[test]
fn rust_row_structs_are_checked_against_the_schema_with_the_error_each_mismatch_causes() {
    let sandbox = Sandbox::new();
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/contracts/src");
    for t in TestDb::all(sandbox.dir.path()) {
        t.shop();
        t.exec("CREATE TABLE events (id INT PRIMARY KEY, tenant_id VARCHAR(20), kind VARCHAR(20))");
        let script = format!(
            r#"let db = sql::connect(URL); sql::contracts("{}", db).select(["struct", "field", "rule", "severity", "predicted_error"]).rows()"#,
            src.display()
        );
        let out = run(&sandbox, &t, &script, &[]);
        assert_eq!(code(&out), 3, "{}: mismatches are error findings: {}", t.dialect, stderr(&out));
        let rows = json(&out);
        let found: Vec<(String, String, String)> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["struct"].as_str().unwrap().into(),
                    r["field"].as_str().unwrap_or("").into(),
                    r["rule"].as_str().unwrap().into(),
                )
            })
            .collect();
        let has = |s: &str, f: &str, rule: &str| found.contains(&(s.into(), f.into(), rule.into()));
        assert!(
            !found.iter().any(|(s, ..)| s == "Order" || s == "Config"),
            "{}: Order is right, Config maps no rows: {found:?}",
            t.dialect
        );
        assert!(has("OrderSummary", "total_cents", "text-vs-numeric"), "{}: {found:?}", t.dialect);
        assert!(has("OrderSummary", "shipped_at", "missing-column"), "{}: {found:?}", t.dialect);
        assert!(has("OrderSummary", "status", "not-null-option"), "{}: {found:?}", t.dialect);
        assert!(
            has("OrderNote", "flagged", "missing-column"),
            "{}: the rename to `flag` is followed: {found:?}",
            t.dialect
        );
        assert!(has("Event", "tenant_id", "nullable"), "{}: {found:?}", t.dialect);
        match t.dialect {
            "postgres" => {
                assert!(
                    has("OrderSummary", "id", "width") && has("OrderSummary", "tenant_id", "signedness"),
                    "{found:?}"
                );
            }
            // MySQL widens integers on read; unsigned into signed still fails.
            "mysql" => assert!(
                !has("OrderSummary", "id", "width") && has("OrderSummary", "tenant_id", "signedness"),
                "{found:?}"
            ),
            _ => assert!(!has("OrderSummary", "id", "width"), "{found:?}"),
        }
        let nullable = rows.as_array().unwrap().iter().find(|r| r["rule"] == "nullable").unwrap();
        assert!(nullable["predicted_error"].as_str().unwrap().contains("UnexpectedNullError"), "{nullable}");
    }
}

/// The contract rules say what sqlx will do; check them against sqlx itself.
#[test]
fn the_predicted_errors_are_the_ones_sqlx_raises() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if let Some(t) = TestDb::postgres() {
        t.shop();
        t.exec("CREATE TABLE events (id INT PRIMARY KEY, tenant_id VARCHAR(20))");
        t.exec("INSERT INTO events VALUES (1, NULL)");
        rt.block_on(async {
            let pool = sqlx::PgPool::connect(&t.url).await.unwrap();
            let width = sqlx::query_scalar::<_, i64>("SELECT id FROM orders LIMIT 1").fetch_one(&pool).await;
            assert!(width.unwrap_err().to_string().contains("mismatched types"), "int4 into i64");
            let text = sqlx::query_scalar::<_, String>("SELECT total_cents FROM orders LIMIT 1").fetch_one(&pool).await;
            assert!(text.unwrap_err().to_string().contains("mismatched types"), "int4 into String");
            let null = sqlx::query_scalar::<_, String>("SELECT tenant_id FROM events").fetch_one(&pool).await;
            assert!(format!("{:?}", null.unwrap_err()).contains("UnexpectedNullError"), "NULL into String");
            pool.close().await;
        });
    }
    if let Some(t) = TestDb::mariadb() {
        t.shop();
        rt.block_on(async {
            let pool = sqlx::MySqlPool::connect(&t.url).await.unwrap();
            let widened = sqlx::query_scalar::<_, i64>("SELECT id FROM orders LIMIT 1").fetch_one(&pool).await;
            assert!(widened.is_ok(), "MySQL reads INT into i64: {widened:?}");
            let sign = sqlx::query_scalar::<_, u32>("SELECT tenant_id FROM orders LIMIT 1").fetch_one(&pool).await;
            assert!(sign.unwrap_err().to_string().contains("mismatched types"), "signed INT into u32");
            pool.close().await;
        });
    }
}

#[test]
fn a_password_in_the_url_never_reaches_the_screen_or_the_log() {
    let Some(t) = TestDb::postgres() else { return };
    let sandbox = Sandbox::new();
    // The server trusts loopback, so any password connects.
    let url = t.url.replace("postgres@", "postgres:hunter2secret@");
    let bad = url.replace("/dc_", "/nowhere_");
    let script = format!(
        r#"let db = sql::connect("{url}"); print(db); try {{ sql::connect("{bad}") }} catch (e) {{ print(e) }}"#
    );
    let path = sandbox.write("pw.rhai", &script);
    let out = sandbox.run(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("postgres:[REDACTED]@") && shown.contains("cannot connect"), "{shown}");
    let logs: String = sandbox.logs().iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(!logs.is_empty());
    assert!(!shown.contains("hunter2secret") && !logs.contains("hunter2secret"), "{shown}\n{logs}");
}
