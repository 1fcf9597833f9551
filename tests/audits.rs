//! The four audits end to end through the CLI: `deployclaw demo` on the embedded defaults, the
//! report folder against its JSON schema (checked by Python's jsonschema, not our code), the
//! HTML opened in headless Chromium, the tenant-isolation runbook on PostgreSQL and MariaDB,
//! and the memory-leak audit on a live JVM.

mod common;

use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

/// Validate report.json against src/report/report.schema.json with the jsonschema package.
fn assert_valid(dir: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/report.schema.json");
    let check = "import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\njsonschema.Draft202012Validator.check_schema(schema)\njsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft202012Validator)\n";
    let out = Command::new("python3").arg("-c").arg(check).arg(&schema).arg(dir.join("report.json")).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named 'jsonschema'") => {
            assert!(std::env::var("DEPLOYCLAW_REQUIRE_SERVICES").as_deref() != Ok("1"), "jsonschema is required");
            eprintln!("skipping the schema check: python3 has no jsonschema (pip install jsonschema)");
        }
        Ok(o) => panic!("{} does not match its schema:\n{}", dir.display(), String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("python3: {e}"),
    }
}

fn titles(report: &Value) -> Vec<String> {
    report["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_string()).collect()
}

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|n| Path::new("/usr/bin").join(n))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("DEPLOYCLAW_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "Chromium is required (apt-get install chromium)"
        );
        eprintln!("skipping the browser check: no chromium here (apt-get install chromium)");
    }
    found
}

/// Open a report in headless Chromium: the DOM it built, and a screenshot kept as a test artifact.
fn open_in_chromium(browser: &Path, html: &Path, name: &str) -> String {
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let profile = tempfile::tempdir().unwrap();
    let base = |cmd: &mut Command| {
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut dom = Command::new(browser);
    base(&mut dom);
    let dom = dom.arg("--dump-dom").arg(&url).output().unwrap();
    assert!(dom.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&dom.stderr));
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let mut shot = Command::new(browser);
    base(&mut shot);
    let shot =
        shot.arg(format!("--screenshot={}", png.display())).arg("--window-size=1100,2400").arg(&url).output().unwrap();
    assert!(shot.status.success(), "chromium --screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "the screenshot {} looks empty", png.display());
    eprintln!("screenshot of {name}: {}", png.display());
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[test]
fn the_demo_runs_four_audits_that_find_what_was_planted() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("demo");
    let run = sandbox.run(&["demo", dir.to_str().unwrap()]);
    let (out, err) = (stdout(&run), stderr(&run));
    assert_eq!(code(&run), 0, "{out}\n{err}");
    for name in ["memory-leaks", "ci-failure", "tenant-isolation", "error-budget"] {
        assert!(out.contains(&format!("\n{name}: findings (")), "{name} found its planted problem: {out}");
        let folder = dir.join("reports").join(name);
        assert_valid(&folder);
        let r = report(&folder);
        assert_eq!(r["schema"], "deployclaw.report/1");
        assert_eq!(r["audit"], name);
        assert_eq!(r["session_log"]["verified"], true, "{name}: {:#}", r["session_log"]);
        let log = r["session_log"]["path"].as_str().unwrap();
        let verify = sandbox.run(&["log", "verify", log]);
        assert_eq!(code(&verify), 0, "{}", stdout(&verify));
        assert!(folder.join("report.md").is_file() && folder.join("report.html").is_file());
    }
    assert_eq!(out.matches("(verified)").count(), 4, "{out}");

    let memory = report(&dir.join("reports/memory-leaks"));
    let summary = memory["summary"].to_string();
    assert!(
        summary.contains("api-svc 2.4.0 leaks") && summary.contains("tenant tenant-05 holds the growth"),
        "{summary}"
    );
    assert!(!summary.contains("worker-svc 1.9.3 leaks"), "worker-svc does not grow: {summary}");
    assert!(summary.contains("a symptom of the leak"), "the pool ran out for the leaking tenant: {summary}");
    assert!(dir.join("reports/memory-leaks/baseline-profile.json").is_file());

    let ci = report(&dir.join("reports/ci-failure"));
    assert_eq!(
        titles(&ci),
        ["Causes", "AWS errors", "Tenants", "Failure cascade", "Rollback risk per tenant", "Playbooks"]
    );
    let causes = ci["summary"].to_string();
    assert!(causes.contains("job migrate-tenants failed: database-migration"), "{causes}");
    // settings-fn is a CodeBuild job whose BUILD phase ended in a command's error.
    assert!(causes.contains("AWS error: COMMAND_EXECUTION_ERROR from CodeBuild ×1"), "{causes}");
    assert!(dir.join("reports/ci-failure/triage.md").is_file());

    let isolation = report(&dir.join("reports/tenant-isolation"));
    let text = isolation["summary"].to_string();
    assert!(text.contains("halted at \\\"clear the notes of voided orders\\\""), "{text}");
    assert!(
        text.contains("contracts: ") && !text.contains("contracts: 0 mismatch"),
        "the planted contract mismatch: {text}"
    );
    let repro = dir.join("reports/tenant-isolation/repro");
    assert!(repro.join("statement.sql").is_file() && repro.join("tenancy.toml").is_file());
    let again = sandbox.run(&[
        "guard",
        "--tenancy",
        repro.join("tenancy.toml").to_str().unwrap(),
        "--dialect",
        "sqlite",
        std::fs::read_to_string(repro.join("statement.sql")).unwrap().trim(),
    ]);
    assert_eq!(code(&again), 3, "the reproduction case is refused again: {}", stdout(&again));
    let shop = dir.join("shop.db");
    let notes = Command::new("python3")
        .args(["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from order_notes').fetchone()[0])"])
        .arg(&shop)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&notes.stdout).trim(), "3", "nothing ran after the halt");

    let budget = report(&dir.join("reports/error-budget"));
    let drift = budget["findings"].to_string();
    assert!(drift.contains("globex"), "the planted threshold drift: {drift}");
    assert!(dir.join("reports/error-budget/attestation.json").is_file());
    assert!(
        titles(&budget).iter().any(|t| t.starts_with("Burn: checkout/availability@globex")),
        "{:?}",
        titles(&budget)
    );

    if let Some(browser) = chromium() {
        for (name, kinds) in
            [("memory-leaks", &["line"][..]), ("ci-failure", &["graph", "bar"]), ("error-budget", &["bar"])]
        {
            let dom = open_in_chromium(&browser, &dir.join(format!("reports/{name}/report.html")), name);
            for kind in kinds {
                assert!(
                    dom.contains(&format!("<figure class=\"chart\" data-kind=\"{kind}\"")),
                    "{name}: a {kind} chart"
                );
            }
            assert!(
                dom.contains("<svg") && dom.matches("<text").count() > 10,
                "{name}: the charts have axes and labels"
            );
            assert!(dom.contains("id=\"session-log\" class=\"log-ok\""), "{name}: the log verified");
        }
    }
}

#[test]
fn the_demo_refuses_a_folder_in_use() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("busy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let run = sandbox.run(&["demo", dir.to_str().unwrap()]);
    assert_eq!(code(&run), 2);
    assert!(stderr(&run).contains("is not empty: give a new or empty folder"), "{}", stderr(&run));
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "mine");
}

/// The runbook on a real server: a safe one runs dry (rolled back), then with --execute it
/// commits; an unsafe one halts before anything runs.
#[test]
fn tenant_isolation_runs_dry_executes_and_halts_on_postgres_and_mariadb() {
    let servers: Vec<common::db::TestDb> =
        common::db::TestDb::postgres().into_iter().chain(common::db::TestDb::mariadb()).collect();
    for db in &servers {
        db.shop();
        let sandbox = Sandbox::new();
        let tenancy = sandbox.write(
            "tenancy.toml",
            "[tables]\ntenants = { root = true, key = \"id\" }\nplans = { global = true }\nusers = { key = \"org_id\" }\norders = { key = \"tenant_id\" }\norder_notes = { via = \"orders\", fk = \"order_id\" }\n",
        );
        let t = db.tenant();
        let safe = sandbox.write(
            "safe.sql",
            &format!("-- step: void globex's open orders\nUPDATE orders SET status = 'void' WHERE tenant_id = {t} AND status = 'open';\n"),
        );
        let audit = |runbook: &Path, out: &str, execute: bool| {
            let mut args = vec![
                "audit",
                "tenant-isolation",
                "--db",
                &db.url,
                "--tenancy",
                tenancy.to_str().unwrap(),
                "--tenant",
                "2",
                "--out",
                out,
                "--json",
            ];
            let runbook = runbook.to_str().unwrap().to_string();
            args.extend(["--runbook", &runbook]);
            if execute {
                args.push("--execute");
            }
            let run = sandbox.run(&args);
            (code(&run), stdout(&run), stderr(&run))
        };
        let (rc, out, err) = audit(&safe, &sandbox.path("dry").display().to_string(), false);
        assert_eq!(rc, 0, "{}: {out}\n{err}", db.dialect);
        let json: Value = serde_json::from_str(&out).unwrap();
        assert!(json["summary"].to_string().contains("dry run"), "{}: {json:#}", db.dialect);
        assert_eq!(db.count("SELECT COUNT(*) FROM orders WHERE status = 'void'"), 0, "{}: rolled back", db.dialect);
        assert_valid(&sandbox.path("dry"));

        let (rc, out, err) = audit(&safe, &sandbox.path("wet").display().to_string(), true);
        assert_eq!(rc, 0, "{}: {out}\n{err}", db.dialect);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM orders WHERE status = 'void'"),
            1,
            "{}: globex's one open order",
            db.dialect
        );
        assert_eq!(
            db.count("SELECT COUNT(*) FROM orders WHERE tenant_id = 1 AND status = 'open'"),
            2,
            "acme untouched"
        );

        let unsafe_book = sandbox.write(
            "unsafe.sql",
            &format!("-- step: reopen\nUPDATE orders SET status = 'open' WHERE tenant_id = {t};\n-- step: wipe notes\nDELETE FROM order_notes;\n"),
        );
        let (rc, out, err) = audit(&unsafe_book, &sandbox.path("halt").display().to_string(), true);
        assert_eq!(rc, 3, "{}: {out}\n{err}", db.dialect);
        assert!(out.contains("halted at \\\"wipe notes\\\""), "{}: {out}", db.dialect);
        assert_eq!(db.count("SELECT COUNT(*) FROM order_notes"), 2, "{}: nothing ran", db.dialect);
        assert_eq!(db.count("SELECT COUNT(*) FROM orders WHERE status = 'void'"), 1, "{}: not even step 1", db.dialect);
        assert!(sandbox.path("halt/repro/statement.sql").is_file());
    }
}

/// Live JVMs by name: two snapshots of TenantLeak with growth in between, and the connections
/// of a PostgreSQL database read beside each.
#[test]
fn memory_leaks_snapshots_a_running_jvm_by_name() {
    let sandbox = Sandbox::new();
    let jvm = common::jvm::Jvm::start(&sandbox.path("."), "TenantLeak", &[]);
    let ready = sandbox.path("TenantLeak.ready");
    let out = sandbox.path("leak");
    let pg = common::db::TestDb::postgres();
    let mut args: Vec<String> = [
        "audit",
        "memory-leaks",
        "--services",
        "TenantLeak",
        "--snapshots",
        "2",
        "--interval",
        "4s",
        "--tenant-rule",
        "TenantLeak$Tenant.name",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(out.display().to_string());
    if let Some(db) = &pg {
        args.extend(["--pool-db".to_string(), db.url.clone()]);
    }
    let child = sandbox
        .command()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Grow the heap once the first dump is taken.
    let first = out.join(format!("dumps/TenantLeak/{}-1.hprof", jvm.pid()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !first.exists() {
        assert!(std::time::Instant::now() < deadline, "no first dump at {}", first.display());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(format!("{}.go", ready.display()), "go").unwrap();
    let run = child.wait_with_output().unwrap();
    let (text, err) = (stdout(&run), stderr(&run));
    assert_eq!(code(&run), 3, "the leak is an error finding: {text}\n{err}");
    assert!(text.contains("TenantLeak unknown leaks") && text.contains("tenant tenant-07 holds the growth"), "{text}");
    let r = report(&out);
    assert_valid(&out);
    assert_eq!(r["sections"][0]["table"]["rows"][0][3], 2, "two snapshots: {:#}", r["sections"][0]);
    if pg.is_some() {
        assert!(titles(&r).contains(&"Connection-pool samples".to_string()), "{:?}", titles(&r));
    }
}

/// Heap dumps of `sessions` sessions per tenant, one folder per service, written by deployclaw.
fn dumps(sandbox: &Sandbox, dir: &str, services: &[(&str, &[i64])]) -> PathBuf {
    let root = sandbox.path(dir);
    let mut script = String::new();
    for (service, sessions) in services {
        script += &format!("mkdir(\"{}/{service}\");\n", root.display());
        for (i, n) in sessions.iter().enumerate() {
            script += &format!("heap::demo_dump(\"{}/{service}/{}.hprof\", {n});\n", root.display(), i + 1);
        }
    }
    let out = sandbox.run_stdin(&[], &script);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    root
}

/// A saved baseline profile catches growth that a single dump cannot show by itself.
#[test]
fn memory_leaks_against_a_saved_baseline_profile() {
    let sandbox = Sandbox::new();
    let monday = dumps(&sandbox, "monday", &[("api-svc", &[10])]);
    let tuesday = dumps(&sandbox, "tuesday", &[("api-svc", &[30])]);
    std::fs::write(monday.join("api-svc/VERSION"), "2.3.0\n").unwrap();
    std::fs::write(tuesday.join("api-svc/VERSION"), "2.4.0\n").unwrap();
    let base = sandbox.path("base.json");
    let first = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--dumps",
        monday.to_str().unwrap(),
        "--save-baseline",
        base.to_str().unwrap(),
        "--out",
        sandbox.path("r1").to_str().unwrap(),
    ]);
    assert_eq!(code(&first), 0, "one dump, no baseline: nothing to call a leak: {}", stderr(&first));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    assert_eq!(saved["format"], "deployclaw.memory-baseline/1");
    assert_eq!(saved["services"]["api-svc"]["version"], "2.3.0");

    let second = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--dumps",
        tuesday.to_str().unwrap(),
        "--baseline-profile",
        base.to_str().unwrap(),
        "--tenant-rule",
        "com.acme.Tenant.name",
        "--json",
        "--out",
        sandbox.path("r2").to_str().unwrap(),
    ]);
    assert_eq!(code(&second), 3, "{}", stderr(&second));
    let r: Value = serde_json::from_str(&stdout(&second)).unwrap();
    let summary = r["summary"].to_string();
    assert!(summary.contains("api-svc 2.4.0 leaks") && summary.contains("vs baseline 2.3.0"), "{summary}");
    let series = &r["sections"][1]["chart"]["series"];
    assert_eq!(series[1]["name"], "api-svc baseline 2.3.0");
    assert_eq!(series[1]["dashed"], true, "the baseline is drawn dashed: {series:#}");
    assert_eq!(sandbox.run(&["audit", "memory-leaks", "--dumps", "nowhere"]).status.code(), Some(2));
    let bad =
        sandbox.run(&["audit", "memory-leaks", "--dumps", tuesday.to_str().unwrap(), "--threshold-delta", "10MB"]);
    assert!(stderr(&bad).contains("--threshold-delta 10MB: give a percentage such as 15%"), "{}", stderr(&bad));
}

/// CloudWatch memory per service beside the heap, from moto; the log signed with
/// `--sign-with kms://KEY` and its verification in the report.
#[test]
fn memory_leaks_with_cloudwatch_memory_and_a_kms_signed_log() {
    let Some(moto) = common::moto::Moto::start_empty() else { return };
    let sandbox = Sandbox::new();
    let seed = "import boto3, sys, datetime\ncw = boto3.client('cloudwatch', endpoint_url=sys.argv[1], region_name='us-east-1')\nnow = datetime.datetime.now(datetime.timezone.utc)\nfor i in range(6):\n    cw.put_metric_data(Namespace='ECS/ContainerInsights', MetricData=[{'MetricName': 'MemoryUtilization', 'Dimensions': [{'Name': 'ServiceName', 'Value': 'api-svc'}], 'Timestamp': now - datetime.timedelta(minutes=30 - 5 * i), 'Value': 40.0 + 8 * i}])\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(seed)
        .arg(&moto.url)
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = moto.kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let dir = dumps(&sandbox, "dumps", &[("api-svc", &[10, 30])]);
    let report_dir = sandbox.path("report");
    let run = sandbox
        .command()
        .args([
            "audit",
            "memory-leaks",
            "--dumps",
            dir.to_str().unwrap(),
            "--cloudwatch-namespace",
            "ECS/ContainerInsights",
            "--sign-with",
            &format!("kms://{key}"),
            "--output-format",
            "json-audit",
            "--out",
            report_dir.to_str().unwrap(),
        ])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&run), 3, "{}\n{}", stdout(&run), stderr(&run));
    let r = report(&report_dir);
    let section = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "CloudWatch ECS/ContainerInsights MemoryUtilization");
    let points = &section.unwrap_or_else(|| panic!("{:?}", titles(&r)))["chart"]["series"][0]["points"];
    assert_eq!(points.as_array().unwrap().len(), 6, "{points}");
    assert_eq!(r["session_log"]["verified"], true, "{:#}", r["session_log"]);
    let log = std::fs::read_to_string(r["session_log"]["path"].as_str().unwrap()).unwrap();
    let seal: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    use base64::Engine as _;
    let payload =
        base64::engine::general_purpose::STANDARD.decode(seal["envelope"]["payload"].as_str().unwrap()).unwrap();
    let predicate: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(predicate["predicate"]["signer"]["key"], key.as_str(), "the final seal is signed by the KMS key");

    // The execution record is signed by the same KMS key, and this machine (which signed with it)
    // trusts it.
    let envelope: Value = serde_json::from_str(&stdout(&run)).unwrap();
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicate"]["signer"]["key"], key.as_str());
    let verified = sandbox.run(&["audit", "verify", report_dir.join("audit-record.json").to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}\n{}", stdout(&verified), stderr(&verified));
}

/// `--rds-instances`: each instance as RDS describes it, max_connections from its parameter
/// group, and its peak DatabaseConnections from CloudWatch, from moto; an instance the account
/// does not have is named.
#[test]
fn memory_leaks_sets_rds_instances_beside_the_heap() {
    let Some(moto) = common::moto::Moto::start() else { return };
    let sandbox = Sandbox::new();
    let dir = dumps(&sandbox, "dumps", &[("api-svc", &[10, 30])]);
    let out = sandbox.path("report");
    let run = sandbox
        .command()
        .args(["audit", "memory-leaks", "--dumps", dir.to_str().unwrap(), "--rds-instances", "orders-db,gone-db"])
        .args(["--rds-window", "30m", "--json", "--out", out.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&run), 3, "{}\n{}", stdout(&run), stderr(&run));
    let r: Value = serde_json::from_str(&stdout(&run)).unwrap();
    let summary = r["summary"].to_string();
    assert!(
        summary.contains("RDS orders-db (postgres db.r6g.large): peak 110.0 of max_connections 150 (73%)"),
        "{summary}"
    );
    let findings = r["findings"].to_string();
    assert!(findings.contains("RDS instance gone-db: not found in this account and region"), "{findings}");
    let section =
        r["sections"].as_array().unwrap().iter().find(|s| s["title"] == "RDS instances").expect("an RDS section");
    assert_eq!(section["table"]["rows"].as_array().unwrap().len(), 1, "{section}");
    let bad = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--dumps",
        dir.to_str().unwrap(),
        "--rds-instances",
        "x",
        "--rds-window",
        "soon",
    ]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
}

/// A statement that runs for two minutes holding locks, from the server's own client: PostgreSQL
/// with `application_name` naming the tenant, MariaDB on a locked row.
fn hold_locks(db: &common::db::TestDb, tenant: &str) -> std::process::Child {
    let (program, args) = if db.dialect == "postgres" {
        let url = format!("{}?application_name=rdstest.{tenant}", db.url);
        (
            "psql",
            vec![
                url,
                "-q".into(),
                "-c".into(),
                "BEGIN; LOCK TABLE held IN SHARE MODE; SELECT pg_sleep(120); COMMIT;".into(),
            ],
        )
    } else {
        let name = db.url.rsplit('/').next().unwrap().to_string();
        let sql = "BEGIN; SELECT * FROM held FOR UPDATE; SELECT SLEEP(120); COMMIT;".to_string();
        ("mariadb", vec!["-h".into(), "127.0.0.1".into(), "-u".into(), "root".into(), name, "-e".into(), sql])
    };
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// `--pool-db NAME=URL` for each database: every one's connections are read and named, an RDS
/// instance's on its own row, the leaking tenant's share on each, and statements that run long
/// while holding locks are counted; a database that cannot be read is a warning and the audit
/// goes on.
#[test]
fn memory_leaks_reads_each_named_database() {
    let Some(moto) = common::moto::Moto::start() else { return };
    let (Some(pg), Some(maria)) = (common::db::TestDb::postgres(), common::db::TestDb::mariadb()) else { return };
    pg.exec("CREATE TABLE held (id integer)");
    maria.exec("CREATE TABLE held (id integer PRIMARY KEY) ENGINE=InnoDB");
    maria.exec("INSERT INTO held VALUES (1)");
    let mut held = vec![hold_locks(&pg, "tenant-05"), hold_locks(&pg, "tenant-05"), hold_locks(&pg, "tenant-01")];
    held.push(hold_locks(&maria, "any"));
    // Until each statement has run past --pool-long-after.
    let start = std::time::Instant::now();
    let long_pg = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'rdstest.%' AND state = 'active' AND now() - query_start > interval '1500 ms'";
    let long_maria =
        "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%' AND TIME >= 2";
    while pg.count(long_pg) < 3 || maria.count(long_maria) < 1 {
        assert!(start.elapsed().as_secs() < 30, "the statements did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let sandbox = Sandbox::new();
    let dir = dumps(&sandbox, "dumps", &[("api-svc", &[10, 30])]);
    let out = sandbox.path("report");
    let run = sandbox
        .command()
        .args(["audit", "memory-leaks", "--dumps", dir.to_str().unwrap(), "--tenant-rule", "com.acme.Tenant.name"])
        .args(["--rds-instances", "orders-db", "--pool-db", &format!("orders-db={}", pg.url)])
        .args([
            "--pool-db",
            &format!("reports-db={}", maria.url),
            "--pool-db",
            "broken=postgres://postgres:hunter2@127.0.0.1:1/x",
        ])
        .args(["--pool-tenant-by", "application_name", "--pool-tenant-pattern", r"^rdstest\.(.+)$"])
        .args(["--pool-long-after", "1s", "--json", "--out", out.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    for mut child in held {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (text, err) = (stdout(&run), stderr(&run));
    assert_eq!(code(&run), 3, "{text}\n{err}");
    assert_valid(&out);
    let r: Value = serde_json::from_str(&text).unwrap();
    let summary: Vec<&str> = r["summary"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let line = |start: &str, has: &str| {
        let found = summary.iter().find(|l| l.contains(start) && l.contains(has));
        found.unwrap_or_else(|| panic!("no line with {start:?} and {has:?}: {summary:#?}")).to_string()
    };
    // Other tests share the servers: counts are at least ours.
    let number = |l: &str| l.split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap();
    let orders = line(" connections on orders-db: ", "while holding locks");
    assert!(number(&orders) >= 3, "{orders}");
    let long: u64 = orders.split(", ").nth(1).and_then(|p| p.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(long >= 3, "three statements past 1 s hold locks: {orders}");
    let tenant = line("connections on orders-db belong to tenant tenant-05", "(api-svc holds its heap growth)");
    assert!(tenant.starts_with("2 of ") && tenant.contains("2 holding locks"), "{tenant}");
    let reports = line(" connections on reports-db: ", "while holding locks");
    assert!(!reports.contains(", 0 statement(s)"), "MariaDB's sleeper holds a row lock: {reports}");
    let rds =
        line("RDS orders-db (postgres db.r6g.large): peak 110.0 of max_connections 150 (73%); ", " connected now");
    assert!(rds.ends_with(&format!("; {} connected now", number(&orders))), "one reading for both: {rds}\n{orders}");

    let findings = r["findings"].to_string();
    assert!(findings.contains("database broken: its connections could not be read"), "{findings}");
    let section = |title: &str| {
        let found = r["sections"].as_array().unwrap().iter().find(|s| s["title"] == title).cloned();
        found.unwrap_or_else(|| panic!("no section {title}"))
    };
    let rds_rows = section("RDS instances")["table"].clone();
    let columns: Vec<&str> = rds_rows["columns"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let live = columns.iter().position(|c| *c == "live_connections").unwrap();
    assert!(rds_rows["rows"][0][live].as_u64() >= Some(3), "{rds_rows}");
    let databases = section("Databases")["table"]["rows"].to_string();
    assert!(
        databases.contains("orders-db") && databases.contains("reports-db") && !databases.contains("broken"),
        "{databases}"
    );
    let per_tenant = section("Connections per tenant and database")["table"]["rows"].to_string();
    assert!(per_tenant.contains("tenant-01") && per_tenant.contains("tenant-05"), "{per_tenant}");
    // No password reaches the report, not even in the error of the database it failed to read.
    assert!(!std::fs::read_to_string(out.join("report.json")).unwrap().contains("hunter2"), "{text}");
}

/// What an audit says on input with nothing to find: a clean verdict (0) or an error about the
/// input (2), never a failure of the script (1) or a script type error.
fn assert_clean_or_input_error(what: &str, out: &std::process::Output, expected: i32) {
    let (rc, err) = (code(out), stderr(out));
    assert_eq!(rc, expected, "{what}: exit {rc}\n{}\n{err}", stdout(out));
    for script_error in ["must be of type", "Function not found", "Variable not found", "panicked"] {
        assert!(!err.contains(script_error), "{what}: {err}");
    }
}

#[test]
fn ci_failure_on_logs_with_nothing_to_find() {
    let sandbox = Sandbox::new();
    let audit = |logs: &Path, name: &str| {
        let out = sandbox.path(name).display().to_string();
        sandbox.run(&["audit", "ci-failure", "--logs", logs.to_str().unwrap(), "--json", "--out", &out])
    };
    let empty = sandbox.write("empty.log", "");
    assert_clean_or_input_error("an empty log", &audit(&empty, "r1"), 0);
    let green =
        sandbox.write("green.log", "Started by user ci\n+ cargo test\ntest result: ok. 3 passed\nFinished: SUCCESS\n");
    assert_clean_or_input_error("a passing build", &audit(&green, "r2"), 0);
    // The commonest input there is: a failed build that names no tenant.
    let red = sandbox.write(
        "red.log",
        "Started by user ci\n[Pipeline] { (Build)\n+ cargo build\nerror[E0308]: mismatched types\n --> src/main.rs:3:5\nerror: could not compile `app` (bin \"app\") due to 1 previous error\nERROR: script returned exit code 101\n[Pipeline] }\nFinished: FAILURE\n",
    );
    let out = audit(&red, "r3");
    assert!(matches!(code(&out), 0 | 3), "{}\n{}", stdout(&out), stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(json.to_string().contains("compile"), "{json:#}");
    let tenants = json["tenants"].as_array().map_or(0, Vec::len);
    assert_eq!(tenants, 0, "no tenant named, none affected: {json:#}");
    // Cyrillic, CJK and emoji at line starts, Latin-1 bytes and a stray escape.
    let mut bytes = "Ошибка сборки\n构建失败\n⚠️ warning: x\n\x1bé\n".as_bytes().to_vec();
    bytes.extend_from_slice(b"caf\xe9 error: failed\nFinished: FAILURE\n");
    let odd = sandbox.path("odd.log");
    std::fs::write(&odd, bytes).unwrap();
    let out = audit(&odd, "r4");
    assert!(matches!(code(&out), 0 | 3), "{}\n{}", stdout(&out), stderr(&out));
    let folder = sandbox.path("no-logs");
    std::fs::create_dir_all(&folder).unwrap();
    let out = audit(&folder, "r5");
    assert_clean_or_input_error("a folder with no logs", &out, 2);
    assert!(stderr(&out).contains("no-logs"), "the error names the folder: {}", stderr(&out));
    // Metric evidence with nothing in it, or only a header and empty values: no timeline.
    let header = sandbox.write(
        "header.csv",
        "timestamp,namespace,metric,resource,value
,AWS/RDS,DatabaseConnections,db,
",
    );
    for metrics in [sandbox.write("none.csv", ""), header] {
        let out = sandbox.path("r6").display().to_string();
        let run = sandbox.run(&[
            "audit",
            "ci-failure",
            "--logs",
            red.to_str().unwrap(),
            "--metrics",
            metrics.to_str().unwrap(),
            "--json",
            "--out",
            &out,
        ]);
        assert!(matches!(code(&run), 0 | 3), "{}: {}", metrics.display(), stderr(&run));
        let json: Value = serde_json::from_str(&stdout(&run)).unwrap();
        assert_eq!(json["timeline"], serde_json::json!([]), "{}", metrics.display());
    }
}

/// Every real build log in ../shared/real-world/ci (third-party logs, read in place): the audit
/// finds a cause or a clean verdict, and `logs templates` reads each one.
#[test]
fn ci_failure_reads_every_real_world_log() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-world/ci");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("skipping: {} is not here", corpus.display());
        return;
    };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() > 50, "{} logs", logs.len());
    let sandbox = Sandbox::new();
    let mut failures = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let out_dir = sandbox.path(&format!("r{i}")).display().to_string();
        let out = sandbox.run(&["audit", "ci-failure", "--logs", log.to_str().unwrap(), "--json", "--out", &out_dir]);
        if !matches!(code(&out), 0 | 3) || serde_json::from_str::<Value>(&stdout(&out)).is_err() {
            failures.push(format!("{}: exit {} {}", log.display(), code(&out), stderr(&out)));
        }
        let templates = sandbox.run(&["logs", "templates", log.to_str().unwrap()]);
        if code(&templates) != 0 {
            failures.push(format!(
                "logs templates {}: exit {} {}",
                log.display(),
                code(&templates),
                stderr(&templates)
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} logs:\n{}", failures.len(), logs.len(), failures.join("\n"));
}

#[test]
fn memory_leaks_on_folders_with_nothing_to_find_and_on_linked_dumps() {
    let sandbox = Sandbox::new();
    let audit = |dumps: &Path, name: &str| {
        let out = sandbox.path(name).display().to_string();
        sandbox.run(&["audit", "memory-leaks", "--dumps", dumps.to_str().unwrap(), "--json", "--out", &out])
    };
    let empty = sandbox.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = audit(&empty, "r1");
    assert_clean_or_input_error("an empty folder", &out, 2);
    assert!(stderr(&out).contains("no subfolder with .hprof dumps"), "{}", stderr(&out));
    let blank = sandbox.path("blank/api-svc");
    std::fs::create_dir_all(&blank).unwrap();
    std::fs::write(blank.join("1.hprof"), "").unwrap();
    let out = audit(&sandbox.path("blank"), "r2");
    assert_clean_or_input_error("an empty dump", &out, 2);
    assert!(stderr(&out).contains("1.hprof"), "the error names the dump: {}", stderr(&out));
    let one = dumps(&sandbox, "one", &[("api-svc", &[10])]);
    assert_clean_or_input_error("one service, one dump", &audit(&one, "r3"), 0);

    // Dumps linked in from where the JVM wrote them, and a service folder that is a link.
    let written = dumps(&sandbox, "written", &[("api-svc", &[10, 30]), ("worker", &[5, 5])]);
    let linked = sandbox.path("linked");
    std::fs::create_dir_all(linked.join("api-svc")).unwrap();
    for n in ["1.hprof", "2.hprof"] {
        std::os::unix::fs::symlink(written.join("api-svc").join(n), linked.join("api-svc").join(n)).unwrap();
    }
    std::os::unix::fs::symlink(written.join("worker"), linked.join("worker")).unwrap();
    std::os::unix::fs::symlink(sandbox.path("nowhere.hprof"), linked.join("api-svc/0-dangling.hprof")).unwrap();
    let out = audit(&linked, "r4");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = serde_json::from_str::<Value>(&stdout(&out)).unwrap()["summary"].to_string();
    assert!(summary.contains("2 service(s) audited") && summary.contains("api-svc"), "{summary}");
}

#[test]
fn tenant_isolation_on_runbooks_with_nothing_to_run() {
    let sandbox = Sandbox::new();
    let db = common::db::TestDb::sqlite(sandbox.dir.path());
    db.shop();
    let tenancy = sandbox.write("tenancy.toml", "[tables]\ntenants = { root = true, key = \"id\" }\norders = { key = \"tenant_id\" }\nplans = { global = true }\nusers = { key = \"org_id\" }\norder_notes = { via = \"orders\", fk = \"order_id\" }\n");
    let audit = |runbook: &Path, tenant: &str, name: &str| {
        let out = sandbox.path(name).display().to_string();
        sandbox.run(&[
            "audit",
            "tenant-isolation",
            "--db",
            &db.url,
            "--tenancy",
            tenancy.to_str().unwrap(),
            "--tenant",
            tenant,
            "--runbook",
            runbook.to_str().unwrap(),
            "--json",
            "--out",
            &out,
        ])
    };
    let empty = sandbox.write("empty.sql", "");
    let out = audit(&empty, "2", "r1");
    assert_clean_or_input_error("an empty runbook", &out, 2);
    assert!(stderr(&out).contains("empty.sql") && stderr(&out).contains("no statements"), "{}", stderr(&out));
    let comments = sandbox.write("comments.sql", "-- step: nothing yet\n/* to do */\n");
    assert_clean_or_input_error("a runbook of comments", &audit(&comments, "2", "r2"), 2);
    // A tenant with no rows at all: the runbook runs and changes nothing.
    let book = sandbox.write(
        "book.sql",
        "-- step: void open orders\nUPDATE orders SET status = 'void' WHERE tenant_id = ?1 AND status = 'open';\n",
    );
    let out = audit(&book, "999", "r3");
    assert_clean_or_input_error("a tenant with no rows", &out, 0);
}

#[test]
fn error_budget_on_sources_with_nothing_to_find() {
    let sandbox = Sandbox::new();
    let audit = |slos: &Path, rules: &Path, name: &str| {
        let out = sandbox.path(name).display().to_string();
        sandbox.run(&[
            "audit",
            "error-budget",
            "--slos",
            slos.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--json",
            "--out",
            &out,
        ])
    };
    let no_rules = sandbox.write("rules.yaml", "groups: []\n");
    let specs = sandbox.path("specs");
    std::fs::create_dir_all(&specs).unwrap();
    let out = audit(&specs, &no_rules, "r1");
    assert_clean_or_input_error("a folder with no SLOs", &out, 2);
    assert!(stderr(&out).contains("specs"), "the error names the folder: {}", stderr(&out));
    let empty_spec = sandbox.write("empty.yaml", "");
    assert_clean_or_input_error("an empty SLO file", &audit(&empty_spec, &no_rules, "r2"), 2);
    let empty_rules = sandbox.write("none.yaml", "");
    let slo = sandbox.write(
        "slo.toml",
        "period = \"30d\"\n[[slo]]\nservice = \"checkout\"\nname = \"availability\"\nobjective = \"99.9%\"\n",
    );
    let out = audit(&slo, &empty_rules, "r3");
    assert!(matches!(code(&out), 2 | 3), "an SLO and an empty rule file: {}\n{}", stdout(&out), stderr(&out));
    let out = audit(&slo, &no_rules, "r4");
    assert!(matches!(code(&out), 0 | 3), "an SLO and no rules: {}\n{}", stdout(&out), stderr(&out));
}

/// `--output-format json-audit`: the signed execution record (steps, durations, conclusion, the
/// report's digest), checked by `audit verify`; a changed report, a changed record and a key
/// not trusted are each named. `md` prints report.md.
#[test]
fn the_execution_record_verifies_and_any_change_is_named() {
    let sandbox = Sandbox::new();
    let root = dumps(&sandbox, "dumps", &[("api-svc", &[10, 30])]);
    let out = sandbox.path("r");
    let run = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--dumps",
        root.to_str().unwrap(),
        "--tenant-rule",
        "com.acme.Tenant.name",
        "--output-format",
        "json-audit",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&run), 3, "{}", stderr(&run));
    let printed: Value = serde_json::from_str(&stdout(&run)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&run)));
    let record_file = out.join("audit-record.json");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&record_file).unwrap()).unwrap();
    assert_eq!(printed, written, "what is printed is what is written");

    let verify = |args: &[&str]| {
        let mut all = vec!["audit", "verify", record_file.to_str().unwrap()];
        all.extend_from_slice(args);
        sandbox.run(&all)
    };
    let ok = verify(&["--json"]);
    assert_eq!(code(&ok), 0, "{}\n{}", stdout(&ok), stderr(&ok));
    let checked: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    let record = &checked["record"];
    assert_eq!(record["audit"], "memory-leaks");
    let actions: Vec<&str> =
        record["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["read dumps from disk", "heaps against the first snapshot and the baseline", "write the report"]
    );
    assert!(record["steps"].as_array().unwrap().iter().all(|s| s["duration_ms"].is_u64()));
    assert!(record["conclusion"].as_str().unwrap().starts_with("Memory leak confirmed in api-svc unknown"), "{record}");
    assert_eq!(record["verdict"], "findings");
    assert!(record["total_duration_ms"].as_u64().unwrap() > 0);
    // The same execution as the session log the report names.
    let report_json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(record["session_log"], report_json["session_log"]["path"]);
    assert_eq!(report_json["session_log"]["verified"], true);

    // A key this verifier does not trust.
    let other = Sandbox::new();
    let stranger = other.public_key();
    let untrusted = verify(&["--pubkey", stranger.to_str().unwrap()]);
    assert_eq!(code(&untrusted), 1);
    assert!(stderr(&untrusted).contains("not among the keys trusted here"), "{}", stderr(&untrusted));

    // The report changed after the record was signed.
    let report = out.join("report.json");
    let original = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&report, original.replace("Memory leak confirmed", "No leak found")).unwrap();
    let changed = verify(&[]);
    assert_eq!(code(&changed), 1);
    assert!(stderr(&changed).contains("is not the report the record signed"), "{}", stderr(&changed));
    std::fs::write(&report, &original).unwrap();

    // The record's conclusion changed.
    let mut forged = written.clone();
    let payload = forged["payload"].as_str().unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement =
        String::from_utf8(b64.decode(payload).unwrap()).unwrap().replace("Memory leak confirmed", "Nothing");
    forged["payload"] = b64.encode(statement).into();
    std::fs::write(&record_file, serde_json::to_string(&forged).unwrap()).unwrap();
    let bad = verify(&[]);
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("does not verify"), "{}", stderr(&bad));

    let md = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--dumps",
        root.to_str().unwrap(),
        "--output-format",
        "md",
        "--out",
        sandbox.path("m").to_str().unwrap(),
    ]);
    assert_eq!(code(&md), 3);
    assert_eq!(stdout(&md), std::fs::read_to_string(sandbox.path("m/report.md")).unwrap());
    let nonsense = sandbox.run(&["audit", "verify", report.to_str().unwrap()]);
    assert_eq!(code(&nonsense), 2, "{}", stderr(&nonsense));
}
