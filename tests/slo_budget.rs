//! Error budgets end to end: SLOs from TOML, OpenSLO and Sloth; burn rates over a multi-tenant
//! metrics Frame with a planted burn for two tenants; alert rules from CloudFormation, Terraform,
//! Prometheus and PagerDuty with a planted drift of each kind, and a clean set that must report
//! none; baselines; the attestation through `deployclaw audit error-budget`; CloudWatch alarms
//! in moto; an `alert_rules` table in PostgreSQL.

mod common;

use common::db::TestDb;
use common::moto::{ENV, Moto};
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slo").join(path).display().to_string()
}

#[test]
fn slos_come_from_toml_openslo_and_sloth() {
    let sandbox = Sandbox::new();
    let got = sandbox.eval(&format!("slo::load({:?})", fixture("specs")), &[]);
    let rows = got.as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "search/latency",
            "checkout/availability@acme",
            "checkout/availability@globex",
            "checkout/availability@initech",
            "checkout/availability@umbrella",
            "checkout/availability@hooli",
            "payments/requests-availability@acme",
        ]
    );
    let search = &rows[0];
    assert_eq!((search["objective"].as_f64(), search["period"].as_str()), (Some(0.99), Some("28d")));
    assert_eq!(search["profile"], "openslo");
    let tiers: Value = serde_json::from_str(search["tiers"].as_str().unwrap()).unwrap();
    assert_eq!(tiers, serde_json::json!([{"severity": "page", "factor": 14.0, "long": "1h", "short": "5m"}]));
    let sli: Value = serde_json::from_str(search["sli"].as_str().unwrap()).unwrap();
    assert_eq!(sli["kind"], "latency");
    assert_eq!(sli["threshold_ms"], 300.0);
    let payments = &rows[6];
    assert_eq!(payments["objective"], 0.995);
    let tiers: Value = serde_json::from_str(payments["tiers"].as_str().unwrap()).unwrap();
    assert_eq!(tiers.as_array().unwrap().len(), 2, "Sloth's ticket alert is disabled");

    let bad = sandbox.write("bad.toml", "[[slo]]\nservice = \"x\"\nname = \"y\"\nobjective = 100\n");
    let script = sandbox.write("bad.rhai", &format!("slo::load({:?})", bad.display().to_string()));
    let out = sandbox.run(&["run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "a wrong SLO file is an input error");
    assert!(stderr(&out).contains("[[slo]] 1 (x/y): objective 100 must be between 0 and 100%"), "{}", stderr(&out));
}

/// Four tenants, a sample a minute for two days: acme down 100% for 25 minutes at the end,
/// globex at 2% errors for the last 8 hours, umbrella with 20 requests an hour.
fn metrics_csv(sandbox: &Sandbox) -> String {
    let minutes = 2 * 24 * 60;
    let mut csv = String::from("time,tenant,good,total\n");
    for m in 0..minutes {
        let time = 1_717_200_000 + m * 60;
        for (tenant, total) in [("acme", 1000), ("globex", 1000), ("initech", 1000), ("umbrella", 1)] {
            let bad = match tenant {
                "acme" if m >= minutes - 25 => total,
                "globex" if m >= minutes - 8 * 60 => total / 50,
                _ => 0,
            };
            let total = if tenant == "umbrella" && m % 3 != 0 { 0 } else { total };
            csv += &format!("{time},{tenant},{},{total}\n", total - bad.min(total));
        }
    }
    sandbox.write("metrics.csv", &csv).display().to_string()
}

#[test]
fn burn_rates_find_the_planted_burns() {
    let sandbox = Sandbox::new();
    let metrics = metrics_csv(&sandbox);
    let script = format!(
        "let slos = slo::load({:?}); let m = read_csv({metrics:?}); [slo::burn_rates(m, slos), slo::alerts(m, slos)]",
        fixture("specs/slos.toml")
    );
    let got = sandbox.eval(&script, &[]);
    let burns: BTreeMap<&str, &Value> =
        got[0].as_array().unwrap().iter().map(|r| (r["tenant"].as_str().unwrap(), r)).collect();
    assert_eq!(burns.len(), 5);
    assert_eq!(
        (burns["hooli"]["events"].as_f64(), burns["hooli"]["low_traffic"].as_bool()),
        (Some(0.0), Some(true)),
        "an SLO and no data"
    );
    assert!(burns["acme"]["firing"].as_str().unwrap().starts_with("page 14.4x 1h, page 6x 6h"), "{}", burns["acme"]);
    assert!((burns["acme"]["burn_5m"].as_f64().unwrap() - 1000.0).abs() < 1e-6);
    // 2% errors on a 99.9% SLO burn at 20x: the fast page (14.4x) fires, and so does the 6h one.
    assert!((burns["globex"]["burn_1h"].as_f64().unwrap() - 20.0).abs() < 1e-6, "{}", burns["globex"]);
    assert!(burns["globex"]["firing"].as_str().unwrap().contains("page 14.4x 1h"));
    assert_eq!(burns["initech"]["firing"], "");
    assert_eq!(burns["initech"]["budget_remaining"], 1.0);
    assert_eq!(burns["umbrella"]["low_traffic"], true, "{}", burns["umbrella"]);
    assert_eq!(burns["initech"]["low_traffic"], false);
    assert!(burns["acme"]["exhaustion_hours"].as_f64().is_some());

    let alerts = got[1].as_array().unwrap();
    let fired =
        |tenant: &str, long: &str| alerts.iter().find(|a| a["tenant"] == tenant && a["long"] == long).unwrap().clone();
    let acme_fast = fired("acme", "1h");
    assert_eq!((acme_fast["episodes"].as_u64(), acme_fast["fired_minutes"].as_u64()), (Some(1), Some(25)));
    assert_eq!(acme_fast["first_fired"], "2024-06-02T23:35:00Z");
    assert_eq!(fired("globex", "1h")["episodes"], 1);
    assert_eq!(fired("initech", "1h")["episodes"], 0);
}

/// `deployclaw audit error-budget --slos specs/ --rules RULES EXTRA...`.
fn audit(sandbox: &Sandbox, rules: &str, extra: &[&str]) -> std::process::Output {
    let specs = fixture("specs");
    let mut args = vec!["audit", "error-budget", "--slos", &specs, "--rules", rules];
    args.extend(extra);
    sandbox.run(&args)
}

fn drift_of(result: &Value) -> Vec<(String, Option<String>)> {
    result["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap().to_string(), d["tenant"].as_str().map(str::to_string)))
        .collect()
}

#[test]
fn every_planted_drift_is_found_and_the_clean_set_has_none() {
    let sandbox = Sandbox::new();
    let out_dir = sandbox.path("attest");
    let run = audit(&sandbox, &fixture("rules"), &["--tolerance", "2%", "--out", out_dir.to_str().unwrap(), "--json"]);
    assert_eq!(code(&run), 3, "drift is exit 3: {}", stderr(&run));
    let result: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(result["verdict"], "drift");
    let mut kinds = drift_of(&result);
    kinds.sort();
    let want: Vec<(String, Option<String>)> = [
        ("cross-source", Some("globex")),
        ("inexpressible", Some("initech")),
        ("missing-in-source", Some("umbrella")),
        ("no-alert", Some("hooli")),
        ("no-slo", None),
        ("stale-copy", Some("initech")),
        ("threshold", Some("globex")),
        ("threshold", Some("globex")),
        ("threshold", Some("initech")),
        ("window", Some("acme")),
        ("window", Some("initech")),
    ]
    .iter()
    .map(|(k, t)| (k.to_string(), t.map(str::to_string)))
    .collect();
    assert_eq!(kinds, want, "{:#?}", result["drifts"]);
    let messages: Vec<&str> =
        result["drifts"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    let cross = messages
        .iter()
        .find(|m| m.contains("cloudformation checkout-availability-globex-page-1h fires at 5.20% errors"))
        .unwrap();
    assert!(cross.contains("pagerduty globex error rate 1h at 4.80%: 8.33% drift"), "{cross}");
    assert!(
        messages.iter().any(|m| m.contains("looks back 14d: CloudWatch alarms evaluate at most 7 days")),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m.contains("OrdersErrorRatioHigh guards no known SLO")), "{messages:#?}");
    // A disk alert is not an SLO alert: listed beside them, not drift.
    let others: Vec<&str> =
        result["other_alerts"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(others, ["LegacyDiskFull"], "{:#?}", result["other_alerts"]);
    assert!(!messages.iter().any(|m| m.contains("LegacyDiskFull")), "{messages:#?}");
    // Sloth's floating-point noise and Pyrra's 14x are not drift.
    let compliant: Vec<&str> = result["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["compliant"] == true)
        .map(|c| c["slo"].as_str().unwrap())
        .collect();
    assert!(compliant.contains(&"payments/requests-availability@acme"), "{compliant:?}");
    assert!(compliant.contains(&"search/latency"), "{compliant:?}");
    assert!(stderr(&run).contains("finding [error] alert drift (cross-source)"), "{}", stderr(&run));

    let md = std::fs::read_to_string(out_dir.join("attestation.md")).unwrap();
    assert!(md.starts_with("# Error-budget attestation"), "{md}");
    assert!(md.contains(&format!("`{}`", result["digest"].as_str().unwrap())), "the digest is in the report");
    let json = std::fs::read(out_dir.join("attestation.json")).unwrap();
    assert_eq!(
        blake3::hash(&json).to_hex().to_string(),
        result["digest"].as_str().unwrap(),
        "the digest is the JSON's"
    );
    let log = sandbox.logs().into_iter().last().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(result["digest"].as_str().unwrap()), "the digest is in the signed log");
    assert_eq!(code(&sandbox.run(&["log", "verify", log.to_str().unwrap()])), 0);

    let clean = sandbox.run(&[
        "audit",
        "error-budget",
        "--slos",
        &fixture("clean/slos.toml"),
        "--rules",
        &fixture("clean/checkout-alarms.yaml"),
        "--out",
        sandbox.path("clean").to_str().unwrap(),
    ]);
    assert_eq!(code(&clean), 0, "{}{}", stdout(&clean), stderr(&clean));
    assert!(
        stdout(&clean).contains("**Compliant**: 4 rules validated, 2 SLO-tenant pairs confirmed, no drift."),
        "{}",
        stdout(&clean)
    );
}

#[test]
fn rules_normalise_from_every_source() {
    let sandbox = Sandbox::new();
    let rules = sandbox.eval(&format!("slo::rules({:?})", fixture("rules")), &[]);
    let by_name: BTreeMap<&str, &Value> =
        rules.as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r)).collect();
    let r = |name: &str| by_name.get(name).copied().unwrap_or_else(|| panic!("no rule {name}: {:?}", by_name.keys()));
    let acme = r("checkout-availability-acme-page-1h");
    assert_eq!(
        (acme["source"].as_str(), acme["threshold_kind"].as_str(), acme["threshold"].as_f64()),
        (Some("cloudformation"), Some("burn"), Some(14.4))
    );
    assert_eq!((acme["long"].as_str(), acme["tenant"].as_str()), (Some("1h"), Some("acme")));
    assert_eq!(acme["evaluation"], "12 of 12");
    assert_eq!(acme["target"], "arn:aws:sns:eu-west-1:111122223333:checkout-pager");
    assert_eq!(r("checkout-availability-globex-page-1h")["threshold_kind"], "percent");
    let tf = r("checkout-availability-initech-page-6h");
    assert_eq!(
        (tf["source"].as_str(), tf["threshold_kind"].as_str(), tf["long"].as_str()),
        (Some("terraform"), Some("ratio"), Some("6h"))
    );
    assert_eq!(tf["target"], "arn:aws:sns:eu-west-1:111122223333:checkout-pager", "locals resolve");
    let sloth = r("PaymentsHighErrorRate #1");
    assert_eq!(
        (sloth["threshold_kind"].as_str(), sloth["threshold"].as_f64()),
        (Some("factor-times-budget"), Some(14.4))
    );
    assert_eq!(sloth["budget"], 0.005000000000000004);
    assert_eq!(r("PaymentsHighErrorRate #2")["long"], "6h");
    let pd = r("globex error rate 1h");
    assert_eq!(
        (pd["source"].as_str(), pd["threshold_kind"].as_str(), pd["target"].as_str()),
        (Some("pagerduty"), Some("percent"), Some("checkout-oncall (checkout primary: user PUSR1 after 15 min)"))
    );
    assert!(!by_name.contains_key("drop test events"), "routing rules are not alert rules");
}

#[test]
fn baselines_name_what_changed() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("rules");
    std::fs::create_dir(&dir).unwrap();
    let yaml = std::fs::read_to_string(fixture("rules/prometheus.yaml")).unwrap();
    std::fs::write(dir.join("prometheus.yaml"), &yaml).unwrap();
    let baseline = sandbox.path("baseline.json");
    let (rules, a, b) = (dir.display().to_string(), sandbox.path("a"), sandbox.path("b"));
    let save = audit(&sandbox, &rules, &["--save-baseline", baseline.to_str().unwrap(), "--out", a.to_str().unwrap()]);
    assert!(baseline.exists(), "{}", stderr(&save));
    std::fs::write(
        dir.join("prometheus.yaml"),
        yaml.replace("(6 * 0.005000000000000004)", "(7 * 0.005000000000000004)"),
    )
    .unwrap();
    let script = format!(
        "slo::baseline_check(slo::rules({:?}), {:?})",
        dir.display().to_string(),
        baseline.display().to_string()
    );
    let changes = sandbox.eval(&script, &[]);
    assert_eq!(changes[0]["status"], "changed", "{changes}");
    assert!(changes[0]["changed"].as_str().unwrap().contains("PaymentsHighErrorRate #2"), "{changes}");
    let check = audit(&sandbox, &rules, &["--baseline", baseline.to_str().unwrap(), "--out", b.to_str().unwrap()]);
    assert_eq!(code(&check), 3);
    assert!(
        stderr(&check).contains("finding [error] alert rules of prometheus changed since the baseline"),
        "{}",
        stderr(&check)
    );
    let missing = audit(&sandbox, &rules, &["--baseline", "nope.json"]);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("--baseline nope.json: no such file (write one with --save-baseline)"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn cloudwatch_alarms_in_moto_are_checked_live() {
    let Some(moto) = Moto::start_empty() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/slo_alarms.py");
    let seeded =
        std::process::Command::new("python3").args([script, &moto.url]).envs(ENV.iter().copied()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.command();
    cmd.args([
        "audit",
        "error-budget",
        "--slos",
        &fixture("clean/slos.toml"),
        "--cloudwatch",
        "--alarm-prefix",
        "checkout-",
        "--json",
        "--out",
    ])
    .arg(sandbox.path("cw"))
    .env("AWS_ENDPOINT_URL", &moto.url)
    .env("HOME", sandbox.path("nohome"))
    .envs(ENV.iter().copied());
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let kinds = drift_of(&result);
    assert_eq!(kinds, [("threshold".to_string(), Some("globex".to_string()))], "{:#?}", result["drifts"]);
    let message = result["drifts"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("cloudwatch alert checkout-availability-globex-page-1h fires at 16.0000x burn"),
        "{message}"
    );
}

#[test]
fn an_alert_rules_table_in_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    db.exec("CREATE TABLE alert_rules (name TEXT, slo TEXT, tenant TEXT, severity TEXT, long_window TEXT, short_window TEXT, threshold DOUBLE PRECISION, threshold_kind TEXT, target TEXT)");
    db.exec("INSERT INTO alert_rules VALUES ('acme fast', 'checkout/availability', 'acme', 'page', '1h', '5m', 14.4, 'burn', 'pager'), ('globex fast', 'checkout/availability', 'globex', 'page', '1h', '5m', 0.0144, 'ratio', 'pager'), ('globex slow', 'checkout/availability', 'globex', 'page', '6h', '30m', 0.9, 'percent', 'pager')");
    db.exec("CREATE TABLE slo_definitions (service TEXT, name TEXT, tenant TEXT, objective TEXT, period TEXT)");
    db.exec("INSERT INTO slo_definitions VALUES ('checkout', 'availability', 'acme', '99.9%', '30d'), ('checkout', 'availability', 'globex', '99.9%', '30d')");
    let sandbox = Sandbox::new();
    let script = "let db = sql::connect(DB_URL); let slos = slo::load(db, \"slo_definitions\"); let rules = slo::rules(db); [slos.len(), rules.col(\"threshold_kind\"), slo::drift(slos, rules).select([\"kind\", \"tenant\", \"drift\"]).rows()]";
    let got = sandbox.eval(script, &["-p", &format!("DB_URL={}", db.url)]);
    assert_eq!(got[0], 2);
    assert_eq!(got[1], serde_json::json!(["burn", "ratio", "percent"]));
    // 0.9% over 6h is a 9x burn where 6x is expected: 50% off.
    let drifts = got[2].as_array().unwrap();
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!((drifts[0]["kind"].as_str(), drifts[0]["tenant"].as_str()), (Some("threshold"), Some("globex")));
    assert!((drifts[0]["drift"].as_f64().unwrap() - 0.5).abs() < 1e-9);
}

/// A stack's CPU, memory, volume and host-count alarms beside SLO alarms are not SLO alerts: the
/// audit lists them and stays compliant, instead of a `no-slo` drift for each.
#[test]
fn infrastructure_alarms_are_listed_not_drift() {
    let sandbox = Sandbox::new();
    let script = format!(
        r#"let slos = slo::load("{slos}");
           let rules = slo::rules(["{slo_alarms}", "{infra}"]);
           let a = slo::attest(slos, rules, #{{tolerance: "2%"}});
           [a.verdict, a.drifts.len(), a.other_alerts.col("name"), a.other_alerts.col("measures")]"#,
        slos = fixture("clean/slos.toml"),
        slo_alarms = fixture("clean/checkout-alarms.yaml"),
        infra = fixture("infra/ecs-service.yaml"),
    );
    let got = sandbox.eval(&script, &[]);
    assert_eq!(got[0], "compliant", "{got}");
    assert_eq!(got[1], 0);
    let mut names: Vec<&str> = got[2].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["checkout-cpu-high", "checkout-healthy-hosts", "checkout-memory-high", "checkout-requests-per-target"]
    );
    assert!(got[3].as_array().unwrap().iter().any(|m| m == "CPUUtilization"), "{got}");
}

/// SLOs kept in DynamoDB (one item per SLO, one per tenant override) give the same drift as the
/// same SLOs in a file; a broken item and a missing table are errors about the input (exit 2)
/// that name the table, the item and the call.
#[test]
fn slos_from_a_dynamodb_registry_are_checked_like_a_file() {
    let Some(moto) = Moto::start_empty() else { return };
    for script in ["slo_alarms.py", "slo_registry.py"] {
        let path = format!("{}/tests/fixtures/aws/{script}", env!("CARGO_MANIFEST_DIR"));
        let seeded =
            std::process::Command::new("python3").args([&path, &moto.url]).envs(ENV.iter().copied()).output().unwrap();
        assert!(seeded.status.success(), "{script}: {}", String::from_utf8_lossy(&seeded.stderr));
    }
    let sandbox = Sandbox::new();
    let audit_with = |slos: &str, out: &str, more: &[&str]| {
        let mut cmd = sandbox.command();
        cmd.args(["audit:error-budget", "--slos", slos, "--cloudwatch", "--alarm-prefix", "checkout-"])
            .args(["--alert-drift-threshold", "0.02"])
            .args(more)
            .args(["--json", "--out"])
            .arg(sandbox.path(out))
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("HOME", sandbox.path("nohome"))
            .envs(ENV.iter().copied());
        cmd.output().unwrap()
    };
    let audit = |slos: &str, out: &str| audit_with(slos, out, &[]);
    let out = audit("dynamodb:SloRegistry", "ddb");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(drift_of(&result), [("threshold".to_string(), Some("globex".to_string()))], "{:#?}", result["drifts"]);

    let script = sandbox.write(
        "load.rhai",
        "aws::configure(#{endpoint_url: MOTO_URL}); slo::load(\"dynamodb:SloRegistry\").select([\"id\", \"objective\", \"origin\"]).rows()",
    );
    let loaded = sandbox
        .command()
        .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("MOTO_URL={}", moto.url)])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&loaded), 0, "{}", stderr(&loaded));
    let text = stdout(&loaded);
    assert!(text.contains("\"checkout/availability\"") && text.contains("\"checkout/availability@acme\""), "{text}");
    assert!(text.contains("dynamodb:SloRegistry item 2 (pk=SLO#checkout#availability, sk=TENANT#acme)"), "{text}");

    // initech has metrics and the SLO for every tenant, and no alarm: only the inventory knows.
    let out =
        audit_with("dynamodb:SloRegistry", "inv", &["--tenant-metrics", "Checkout", "--tenant-dimension", "Tenant"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        drift_of(&result),
        [
            ("threshold".to_string(), Some("globex".to_string())),
            ("missing-in-source".to_string(), Some("initech".to_string()))
        ],
        "{:#?}",
        result["drifts"]
    );
    let report = std::fs::read_to_string(sandbox.path("inv").join("report.json")).unwrap();
    assert!(report.contains("Tenant metrics in CloudWatch"), "{report}");
    assert!(
        report
            .contains("6 custom metric(s) of 3 tenant(s) in CloudWatch; 1 tenant(s) with an SLO and no alarm: initech"),
        "{report}"
    );

    let broken = audit("dynamodb:BrokenRegistry", "broken");
    assert_eq!(code(&broken), 2, "{}", stderr(&broken));
    assert!(
        stderr(&broken)
            .contains("dynamodb:BrokenRegistry: item 1 (pk=SLO#search#latency, sk=DEFAULT): objective is empty"),
        "{}",
        stderr(&broken)
    );
    let missing = audit("dynamodb:NoSuchRegistry", "missing");
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("DescribeTable NoSuchRegistry: not found"), "{}", stderr(&missing));
}

/// SLO and rule files read from S3 (one object, a prefix) give what the same files give locally,
/// with origins naming the objects.
#[test]
fn slos_and_rules_are_read_from_s3_like_local_files() {
    let Some(moto) = Moto::start_empty() else { return };
    moto.run_fixture("s3_objects.py", &["seed"]);
    let fixtures = format!("{}/tests/fixtures/slo", env!("CARGO_MANIFEST_DIR"));
    let sandbox = Sandbox::new();
    let script = sandbox.write(
        "s3.rhai",
        r#"fn ids(source) { let ids = slo::load(source).col("id"); ids.sort(); ids }
        fn names(source) { let names = slo::rules(source).col("name"); names.sort(); names }
        aws::configure(#{endpoint_url: MOTO_URL});
        #{
            same_slos: ids("s3://slos/specs/") == ids(FIXTURES + "/specs"),
            same_rules: names("s3://slos/rules") == names(FIXTURES + "/rules"),
            slos: ids("s3://slos/specs/").len(),
            origins: slo::load("s3://slos/specs/slos.toml").col("origin"),
            rule_origins: slo::rules("s3://slos/rules/").col("origin"),
        }"#,
    );
    let run = sandbox
        .command()
        .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("MOTO_URL={}", moto.url)])
        .args(["-p", &format!("FIXTURES={fixtures}")])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let result: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(result["same_slos"], true, "{result}");
    assert_eq!(result["same_rules"], true, "{result}");
    assert!(result["slos"].as_i64().unwrap() > 2, "{result}");
    for origin in result["origins"].as_array().unwrap() {
        assert!(origin.as_str().unwrap().starts_with("s3://slos/specs/slos.toml"), "{result}");
    }
    for origin in result["rule_origins"].as_array().unwrap() {
        assert!(origin.as_str().unwrap().starts_with("s3://slos/rules/"), "{result}");
    }
    let missing = sandbox
        .command()
        .args(["audit", "error-budget", "--slos", "s3://slos/none/", "--rules", &format!("{fixtures}/rules"), "--out"])
        .arg(sandbox.path("missing"))
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("HOME", sandbox.path("nohome"))
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("ListObjectsV2 s3://slos/none/: not found"), "{}", stderr(&missing));
}

/// `--lookback` (and `#{lookback}`) keep the samples of that long before the newest one: an outage
/// two days back spends the budget of the whole series, not of the last day; a lookback that is
/// not a duration is refused with the flag named.
#[test]
fn a_lookback_measures_burn_over_the_recent_samples_only() {
    let sandbox = Sandbox::new();
    let mut csv = String::from("time,tenant,good,total\n");
    for hour in 0..72 {
        let good = if hour < 12 { 0 } else { 1000 };
        csv.push_str(&format!("{},acme,{good},1000\n", 1_700_000_000 + hour * 3600));
    }
    let metrics = sandbox.write("samples.csv", &csv);
    let slos = format!("{}/tests/fixtures/slo/specs/slos.toml", env!("CARGO_MANIFEST_DIR"));
    let script = sandbox.write(
        "lookback.rhai",
        r#"let slos = slo::load(SLOS).filter("tenant IS NULL OR tenant = 'acme'").head(1);
        let m = read_csv(METRICS);
        [slo::burn_rates(m, slos).col("budget_remaining")[0] < 0.0, slo::burn_rates(m, slos, #{lookback: "24h"}).col("budget_remaining")[0]]"#,
    );
    let run = sandbox
        .command()
        .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("SLOS={slos}")])
        .args(["-p", &format!("METRICS={}", metrics.display())])
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let result: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(result, serde_json::json!([true, 1.0]), "the whole series overspends; its last day does not");
    let rules = format!("{}/tests/fixtures/slo/rules", env!("CARGO_MANIFEST_DIR"));
    let refused = sandbox
        .command()
        .args(["audit", "error-budget", "--slos", &slos, "--rules", &rules, "--metrics"])
        .arg(&metrics)
        .args(["--lookback", "soon", "--out"])
        .arg(sandbox.path("out"))
        .output()
        .unwrap();
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--lookback soon"), "{}", stderr(&refused));
}
