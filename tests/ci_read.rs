//! Build logs of every CI system read through `ci::read`, classified through `ci::classify`, and
//! mined through `deployclaw logs templates`: fixtures of failing Rust, Go, Java and Node builds
//! (GitHub Actions, Jenkins, CodeBuild, plain text) and the demo's tenant migrations.

mod common;

use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci").join(name).display().to_string()
}

fn demo_log(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/triage/demo").join(name).display().to_string()
}

fn rows(sandbox: &Sandbox, source: &str, filter: &str, columns: &[&str]) -> Vec<Value> {
    let columns: Vec<String> = columns.iter().map(|c| format!("{c:?}")).collect();
    let script = format!("ci::read({source:?}).filter({filter:?}).select([{}])", columns.join(", "));
    sandbox.eval(&script, &[]).as_array().unwrap().clone()
}

#[test]
fn github_actions_archives_give_jobs_steps_annotations_and_clean_text() {
    let sandbox = Sandbox::new();
    let run = fixture("github-run-8812");
    let errors = rows(&sandbox, &run, "level = 'error'", &["job", "step", "text", "location", "failure", "timestamp"]);
    let rust: Vec<&Value> = errors.iter().filter(|r| r["job"] == "build-rust").collect();
    assert_eq!(rust[0]["text"], "error[E0308]: mismatched types", "colours are stripped: {rust:?}");
    assert_eq!(rust[0]["step"], "cargo build --locked --all-targets");
    assert_eq!(rust[0]["timestamp"], "2024-05-14T09:12:41.1024430Z");
    let annotation = rust.iter().find(|r| !r["location"].is_null()).expect("the ::error annotation");
    assert_eq!(annotation["location"], "src/invoice.rs:42:18");
    assert_eq!(annotation["text"], "mismatched types\nexpected `Currency`, found `Option<String>`");
    assert_eq!(rust.last().unwrap()["text"], "Process completed with exit code 101.");
    assert_eq!(rust.last().unwrap()["failure"], true);
    let go: Vec<&Value> = errors.iter().filter(|r| r["job"] == "test-go").collect();
    assert!(go.iter().any(|r| r["text"] == "--- FAIL: TestTenantBalances (0.41s)"), "{go:?}");
    assert!(go.iter().all(|r| r["step"] == "go test ./... -count=1"), "{go:?}");
    let groups = rows(&sandbox, &run, "text LIKE '%endgroup%' OR text LIKE '##[%'", &["text"]);
    assert!(groups.is_empty(), "workflow markers are not text: {groups:?}");
}

#[test]
fn jenkins_stages_times_and_hidden_notes() {
    let sandbox = Sandbox::new();
    let log = demo_log("migrate-tenants.log");
    let all = rows(&sandbox, &log, "true", &["step", "text", "timestamp", "failure"]);
    assert!(all.iter().all(|r| !r["text"].as_str().unwrap().contains("ha:////")), "console notes are stripped");
    assert!(all.iter().all(|r| !r["text"].as_str().unwrap().contains('\x1b')), "colours are stripped");
    assert_eq!(all[0]["timestamp"], "2024-05-14T09:20:01.123Z");
    assert_eq!(all[0]["text"], "Started by upstream project \"release/deploy\" build number 412");
    let failed = rows(&sandbox, &log, "failure", &["step", "text"]);
    let steps: Vec<&Value> = failed.iter().map(|r| &r["step"]).collect();
    assert_eq!(steps[..2], ["Migrate tenant_acme", "Migrate tenant_globex"]);
    assert_eq!(failed.last().unwrap()["text"], "Finished: FAILURE");
    let applied = rows(&sandbox, &log, "text LIKE 'Successfully applied%'", &["step"]);
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[1]["step"], "Migrate tenant_umbrella");
}

#[test]
fn codebuild_phases_and_plain_text() {
    let sandbox = Sandbox::new();
    let build = fixture("codebuild-web.log");
    let failed = rows(&sandbox, &build, "failure", &["step", "text", "timestamp"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["text"], "Phase complete: BUILD State: FAILED");
    assert_eq!(failed[0]["step"], "BUILD");
    assert_eq!(failed[0]["timestamp"], "2024-05-14T11:21:12.223456Z");
    let context = rows(&sandbox, &build, "text LIKE 'Phase context%' AND level = 'error'", &["text"]);
    assert_eq!(context.len(), 1, "only the failing phase's context is an error: {context:?}");
    let jest = rows(&sandbox, &build, "text LIKE '%Exceeded timeout%'", &["step", "level"]);
    assert_eq!(jest[0]["step"], "BUILD");

    let plain = fixture("deploy-metrics.txt");
    let lines = rows(&sandbox, &plain, "true", &["level", "timestamp", "job"]);
    let levels: Vec<&str> = lines.iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["info", "info", "warning", "error", "error"]);
    assert_eq!(lines[0]["timestamp"], "2024-05-14 12:00:01,004");
    assert_eq!(lines[0]["job"], "deploy-metrics");
}

#[test]
fn gzip_logs_read_like_plain_ones_and_formats_can_be_forced() {
    use std::io::Write;
    let sandbox = Sandbox::new();
    let text = std::fs::read(fixture("codebuild-web.log")).unwrap();
    let gz = sandbox.path("codebuild-web.log.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    encoder.write_all(&text).unwrap();
    encoder.finish().unwrap();
    let script = format!(
        "let a = ci::read({:?}); let b = ci::read({:?}); [a.len(), a.col(\"text\") == b.col(\"text\"), b.col(\"job\")[0]]",
        fixture("codebuild-web.log"),
        gz.display().to_string()
    );
    assert_eq!(sandbox.eval(&script, &[]), serde_json::json!([41, true, "codebuild-web"]));
    let forced =
        format!("ci::read({:?}, #{{format: \"plain\"}}).filter(\"failure\").len()", fixture("codebuild-web.log"));
    assert_eq!(sandbox.eval(&forced, &[]), 0, "as plain text no line is a CodeBuild verdict");
    let path =
        sandbox.write("bad.rhai", &format!("ci::read({:?}, #{{format: \"travis\"}})", fixture("codebuild-web.log")));
    let out = sandbox.run(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("format \"travis\": use one of github-actions, jenkins, codebuild, plain"),
        "{}",
        stderr(&out)
    );
    let missing = sandbox.write("missing.rhai", "ci::read(\"no/such/logs\")");
    let out = sandbox.run(&["run", missing.to_str().unwrap()]);
    assert!(stderr(&out).contains("no/such/logs: no such file or folder"), "{}", stderr(&out));
}

#[test]
fn each_failed_job_gets_its_cause_and_the_lines_that_prove_it() {
    let sandbox = Sandbox::new();
    let sources = [
        fixture("github-run-8812"),
        demo_log("migrate-tenants.log"),
        demo_log("orders-it.log"),
        fixture("codebuild-web.log"),
        fixture("deploy-metrics.txt"),
    ];
    let mut causes = std::collections::BTreeMap::new();
    for source in &sources {
        let script = format!("ci::classify(ci::read({source:?}))");
        for row in sandbox.eval(&script, &[]).as_array().unwrap() {
            causes.entry(row["job"].as_str().unwrap().to_string()).or_insert_with(Vec::new).push(row.clone());
        }
    }
    let expect = [
        ("build-rust", "compile-error", "code", false, "error[E0308]: mismatched types"),
        ("test-go", "test-failure", "code", false, "--- FAIL: TestTenantBalances (0.41s)"),
        (
            "migrate-tenants",
            "database-migration",
            "code",
            false,
            "ERROR: Migration of schema \"tenant_acme\" to version \"7 - add invoice currency\" failed! Please restore backups and roll back database and code!",
        ),
        (
            "orders-it",
            "connection-pool-exhaustion",
            "infrastructure",
            true,
            "2024-05-14 10:03:12.107 ERROR 5121 --- [pool-4-thread-2] c.a.orders.TenantOrderService            : [tenant=globex] HikariPool-1 - Connection is not available, request timed out after 30005ms.",
        ),
        ("codebuild-web", "timeout", "infrastructure", true, "    thrown: \"Exceeded timeout of 5000 ms for a test."),
        (
            "deploy-metrics",
            "quota-throttling",
            "infrastructure",
            true,
            "ERROR deploy: tenant=globex An error occurred (ThrottlingException) when calling the PutMetricAlarm operation (reached max retries: 4): Rate exceeded",
        ),
    ];
    assert_eq!(causes.len(), expect.len(), "{causes:#?}");
    for (job, cause, kind, retry, first_proof) in expect {
        let rows = &causes[job];
        assert_eq!(rows[0]["cause"], cause, "{job}: {rows:#?}");
        assert_eq!(rows[0]["kind"], kind, "{job}");
        assert_eq!(rows[0]["retry"], retry, "{job}");
        assert_eq!(rows[0]["text"], first_proof, "{job}: {rows:#?}");
        assert!(rows.len() <= 5, "{job}: at most five proving lines");
    }
    // The command that failed, where the log shows commands.
    let command = |job: &str| causes[job][0]["command"].clone();
    assert_eq!(command("migrate-tenants"), "flyway -configFiles=conf/tenant.conf -schemas=tenant_acme migrate");
    assert_eq!(command("orders-it"), "./mvnw -B verify -Pintegration");
    assert_eq!(command("codebuild-web"), "npm test -- --ci");
    assert!(command("build-rust").is_null(), "GitHub's step names the command instead");
    // The migration's proof names both failing tenants, in the order they failed.
    let migration: Vec<&str> = causes["migrate-tenants"].iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert!(
        migration.contains(&"Migrate tenant_acme") && migration.contains(&"Migrate tenant_globex"),
        "{migration:?}"
    );
}

#[test]
fn a_teams_rules_come_first() {
    let sandbox = Sandbox::new();
    let rules = sandbox.write(
        "rules.toml",
        "[[rule]]\ncause = \"invoice-currency-backfill\"\nkind = \"code\"\nretry = false\ndescription = \"V7 needs the currency backfill first\"\npatterns = ['column \"currency\" of relation \"invoices\" contains null values']\n",
    );
    let script = format!(
        "ci::classify(ci::read({:?}), #{{rules: {:?}}}).select([\"cause\", \"line\"]).rows()",
        demo_log("migrate-tenants.log"),
        rules.display().to_string()
    );
    let got = sandbox.eval(&script, &[]);
    assert_eq!(got[0]["cause"], "invoice-currency-backfill", "{got}");
    let bad =
        sandbox.write("bad.toml", "[[rule]]\ncause = \"x\"\nkind = \"weather\"\nretry = false\npatterns = ['a']\n");
    let script = sandbox.write(
        "bad.rhai",
        &format!(
            "ci::classify(ci::read({:?}), #{{rules: {:?}}})",
            fixture("deploy-metrics.txt"),
            bad.display().to_string()
        ),
    );
    let out = sandbox.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&format!("rules {}", bad.display())), "{}", stderr(&out));
    assert!(stderr(&out).contains("weather"), "{}", stderr(&out));
}

/// A header the lines share is set apart: the same message from two hosts and processes is one
/// template, and the header is in the record.
#[test]
fn logs_templates_mines_the_message_and_keeps_the_header() {
    let sandbox = Sandbox::new();
    let log = sandbox.write(
        "syslog",
        "Jun 14 15:16:01 web1 sshd[199]: session 4 opened for uid 1000\n\
         Jun 14 15:16:09 web2 cron[207]: session 9 opened for uid 1001\n\
         Jun 14 15:17:00 web2 cron[207]: job 12 done in 30 ms\n",
    );
    let out = sandbox.run(&["logs", "templates", log.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records[0]["template"], "session <*> opened for uid <*>");
    assert_eq!(records[0]["template_id"], records[1]["template_id"]);
    assert_eq!(records[1]["header"], "Jun 14 15:16:09 web2 cron[207]:");
    assert_eq!(records[2]["template"], "job <*> done in <*>", "a number and its unit fold into one value");
}

#[test]
fn logs_templates_prints_one_template_per_line_in_order() {
    let sandbox = Sandbox::new();
    let log = demo_log("migrate-tenants.log");
    let out = sandbox.run(&["logs", "templates", &log, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let total = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(records.len(), total);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["line"], i as u64 + 1);
    }
    // The four tenants' "Current version" lines differ only in the schema: one template.
    let current: Vec<&Value> =
        records.iter().filter(|r| r["template"].as_str().unwrap().starts_with("Current version of schema")).collect();
    assert_eq!(current.len(), 4, "{current:?}");
    assert!(current.iter().all(|r| r["template_id"] == current[0]["template_id"]));
    assert_eq!(current[0]["template"], "Current version of schema <*> <*>");

    let summary = sandbox.run(&["logs", "templates", &log]);
    let text = stdout(&summary);
    assert!(text.starts_with(&format!("{total} lines, ")), "{text}");
    let piped = sandbox.run_stdin(&["logs", "templates", "-", "--json"], "a 1\na 2\nb\n");
    let ids: Vec<u64> = stdout(&piped)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["template_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 1, 2]);
    let missing = sandbox.run(&["logs", "templates", "nope.log"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("nope.log: no such file or folder"), "{}", stderr(&missing));
}

#[test]
fn logs_templates_reads_lines_that_start_with_any_character() {
    let sandbox = common::Sandbox::new();
    let mut bytes =
        "Ошибка: сборка не удалась\n构建失败\n⚠️ deprecated\n\x1bé\n2024-05-01T12:00:0é\n".as_bytes().to_vec();
    bytes.extend_from_slice(b"Latin-1: caf\xe9 cr\xe8me\n");
    let log = sandbox.path("build.log");
    std::fs::write(&log, bytes).unwrap();
    let out = sandbox.run(&["logs", "templates", log.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("Ошибка"), "{}", common::stdout(&out));
}

/// GitHub's log download is a zip: a folder per job with a file per step, and each job's whole log
/// again beside them. Read as the archive, it gives the lines the unpacked run gives (the copies
/// left out), each naming its entry.
#[test]
fn a_github_log_archive_reads_as_its_unpacked_run() {
    let sandbox = Sandbox::new();
    let run = fixture("github-run-8812");
    let archive = sandbox.path("logs_8812.zip");
    let zipped = std::process::Command::new("python3")
        .args([
            "-c",
            r#"import os, sys, zipfile
run, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for i, job in enumerate(sorted(os.listdir(run))):
        steps = sorted(os.listdir(os.path.join(run, job)))
        whole = b"".join(open(os.path.join(run, job, s), "rb").read() for s in steps)
        z.writestr(f"{i}_{job}.txt", whole)
        for s in steps:
            z.write(os.path.join(run, job, s), f"{job}/{s}")
"#,
            &run,
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(zipped.status.success(), "{}", String::from_utf8_lossy(&zipped.stderr));
    let columns = ["job", "step", "level", "text", "failure"];
    let unpacked = rows(&sandbox, &run, "true", &columns);
    let packed = rows(&sandbox, archive.to_str().unwrap(), "true", &columns);
    assert_eq!(packed, unpacked);
    let sources = rows(&sandbox, archive.to_str().unwrap(), "failure", &["source"]);
    assert!(
        sources.iter().any(|r| r["source"].as_str().unwrap().ends_with("logs_8812.zip!/build-rust/3_cargo build.txt")),
        "{sources:?}"
    );
}
