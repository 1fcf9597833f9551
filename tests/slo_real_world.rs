//! The error-budget audit on SLO specs and the rules their own generators wrote, as the projects
//! publish them (../shared/real-world/slo, third-party files read in place; skipped when absent).

mod common;

use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn real(path: &str) -> Option<PathBuf> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-world/slo").join(path);
    if file.is_file() {
        Some(file)
    } else {
        eprintln!("skipping: {} is not here", file.display());
        None
    }
}

/// `audit error-budget --json` on one spec and its rules, the report written under `out`.
fn audit(sandbox: &Sandbox, spec: &Path, rules: &Path, out: &str) -> Output {
    audit_with(sandbox, spec, rules, out, &[])
}

fn audit_with(sandbox: &Sandbox, spec: &Path, rules: &Path, out: &str, more: &[&str]) -> Output {
    let out = sandbox.path(out);
    let [spec, rules, out] = [spec, rules, out.as_path()].map(|p| p.to_str().unwrap().to_string());
    let mut args = vec!["audit", "error-budget", "--slos", &spec, "--rules", &rules, "--json", "--out", &out];
    args.extend(more);
    sandbox.run(&args)
}

/// Sloth's example that switches both alerts off, with the rules Sloth generated from it (no
/// alerts): compliant, the coverage says the alerts are off on purpose, and no drift.
#[test]
fn an_slo_whose_spec_disables_its_alerts_is_no_drift() {
    let (Some(spec), Some(rules)) = (real("sloth/examples/no-alerts.yml"), real("sloth/examples/_gen/no-alerts.yml"))
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let out = audit(&sandbox, &spec, &rules, "report");
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(attestation["verdict"], "compliant", "{attestation:#}");
    let coverage = attestation["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), 1, "{coverage:?}");
    assert_eq!(coverage[0]["slo"], "myapp/http-availability");
    assert_eq!(coverage[0]["alerts_disabled"], true);
    assert_eq!(coverage[0]["compliant"], true);
    let report = std::fs::read_to_string(sandbox.path("report/report.md")).unwrap_or_default();
    assert!(report.contains("no alerting in their spec"), "{report}");
}

/// Every Sloth example (Sloth's own `prometheus/v1` and `PrometheusServiceLevel` formats, and the
/// OpenSLO `v1alpha` it reads) beside the rules Sloth generated from it checks clean: the
/// generator and deployclaw agree on every tier, and v1alpha, which has no alerting, expects none.
#[test]
fn every_sloth_example_checks_clean_against_the_rules_sloth_generated() {
    let Some(examples) = real("sloth/examples/getting-started.yml").and_then(|f| f.parent().map(Path::to_path_buf))
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let spec = entry.unwrap().path();
        let generated = examples.join("_gen").join(spec.file_name().unwrap());
        if !spec.is_file() || !generated.is_file() {
            continue;
        }
        let name = spec.file_name().unwrap().to_string_lossy().into_owned();
        let out = audit(&sandbox, &spec, &generated, &name);
        assert_eq!(code(&out), 0, "{name}: {}\n{}", stdout(&out), stderr(&out));
        let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(attestation["verdict"], "compliant", "{name}: {attestation:#}");
        checked.push(name);
    }
    assert!(checked.len() >= 18, "{checked:?}");
}

/// OpenSLO documents as Kubernetes tooling lists them (`kind: List`), written here.
#[test]
fn openslo_documents_inside_a_list_read_like_the_documents_themselves() {
    let sandbox = Sandbox::new();
    let listed = sandbox.write(
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: openslo/v1alpha\n    kind: SLO\n    metadata: {name: checkout}\n    spec:\n      service: shop\n      objectives:\n        - ratioMetrics: {good: {query: good}, total: {query: total}}\n          target: 0.995\n",
    );
    let script = format!("slo::load({:?}).select([\"service\", \"name\", \"objective\"]).rows()", listed.display());
    let rows = sandbox.eval(&script, &[]);
    assert_eq!(rows[0]["service"], "shop");
    assert_eq!(rows[0]["name"], "checkout-0");
    assert_eq!(rows[0]["objective"], 0.995);
}

/// OpenSLO's own examples, v1 and v1alpha (top-level sequences of documents included), load;
/// each file that holds an SLO gives at least one. (Its schema-test files name SLIs and alert
/// policies that no file defines, so they are not examples of a loadable set.)
#[test]
fn openslo_examples_load() {
    let Some(root) = real("OpenSLO/examples/budgeting-method/occurences-slo.yaml")
        .and_then(|f| f.ancestors().nth(3).map(Path::to_path_buf))
    else {
        return;
    };
    let mut files = Vec::new();
    let mut folders = vec![root.join("examples"), root.join("pkg/openslo")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let slos = deployclaw::slo::load::load_path(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("kind: SLO\n") {
            assert!(!slos.is_empty(), "{}: no SLO read", file.display());
        }
    }
}

/// Every Pyrra `ServiceLevelObjective` in Pyrra's examples loads, with Pyrra's own alert
/// profile (its four tiers scaled to the SLO's window).
#[test]
fn pyrra_examples_load_with_pyrras_profile() {
    let Some(root) = real("pyrra/examples/caddy-response-latency.yaml").and_then(|f| f.parent().map(Path::to_path_buf))
    else {
        return;
    };
    let mut folders = vec![root];
    let mut read = 0;
    while let Some(folder) = folders.pop() {
        for path in std::fs::read_dir(&folder).into_iter().flatten().flatten().map(|e| e.path()) {
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !text.contains("kind: ServiceLevelObjective") || text.contains("kind: CustomResourceDefinition") {
                continue;
            }
            let slos = deployclaw::slo::load::load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!slos.is_empty(), "{}", path.display());
            for slo in &slos {
                assert_eq!(slo.profile, deployclaw::slo::policy::Profile::pyrra(slo.period), "{}", slo.origin);
            }
            read += 1;
        }
    }
    assert!(read >= 20, "{read} Pyrra files");
}

/// Rules in the shape Pyrra generates, beside the Pyrra resource they came from (fixtures
/// written here: Pyrra's repository commits no generated rules): clean with Pyrra's tiers, and
/// a changed factor is drift on that window.
#[test]
fn pyrra_rules_check_against_pyrras_own_profile() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slo/pyrra");
    let (spec, rules) = (fixtures.join("checkout-errors.yaml"), fixtures.join("checkout-errors-rules.yaml"));
    let sandbox = Sandbox::new();
    let out = audit(&sandbox, &spec, &rules, "clean");
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = std::fs::read_to_string(&rules).unwrap();
    let changed = sandbox.write("changed.yaml", &text.replace("(7 * (1-0.999))", "(9 * (1-0.999))"));
    let out = audit(&sandbox, &spec, &changed, "drift");
    assert_eq!(code(&out), 3, "{}\n{}", stdout(&out), stderr(&out));
    let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let drifts = attestation["drifts"].as_array().unwrap();
    assert!(drifts.iter().all(|d| d["kind"] == "threshold"), "{drifts:#?}");
    assert!(drifts.iter().any(|d| d["message"].as_str().unwrap().contains("6h")), "{drifts:#?}");
}

/// Sloth's 7-day AlertWindows file (real) as the profile of Sloth's getting-started example:
/// the rules Sloth generated with its default 30-day windows drift on every tier, and rules in
/// the shape Sloth generates with the 7-day windows (own fixture) check clean.
#[test]
fn sloth_alert_windows_are_the_profile_of_the_slos_they_generated() {
    let (Some(spec), Some(defaults), Some(windows)) = (
        real("sloth/examples/getting-started.yml"),
        real("sloth/examples/_gen/getting-started.yml"),
        real("sloth/examples/windows/7d.yaml"),
    ) else {
        return;
    };
    let windows = windows.to_str().unwrap();
    let sandbox = Sandbox::new();
    let out = audit_with(&sandbox, &spec, &defaults, "defaults", &["--windows", windows]);
    assert_eq!(code(&out), 3, "{}\n{}", stdout(&out), stderr(&out));
    let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let drifts = attestation["drifts"].as_array().unwrap();
    assert!(drifts.iter().all(|d| d["kind"] == "threshold"), "{drifts:#?}");
    for window in ["over 1h", "over 6h", "over 1d", "over 3d"] {
        assert!(drifts.iter().any(|d| d["message"].as_str().unwrap().contains(window)), "{window}: {drifts:#?}");
    }

    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slo/sloth-7d-rules.yaml");
    let out = audit_with(&sandbox, &spec, &own, "seven-days", &["--windows", windows]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = audit(&sandbox, &spec, &own, "without-windows");
    assert_eq!(code(&out), 3, "without the windows file the 7-day rules are drift: {}", stdout(&out));
    let missing = audit_with(&sandbox, &spec, &own, "missing", &["--windows", "nope.yaml"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("--windows nope.yaml: no such file"), "{}", stderr(&missing));
}

/// Alarms exported with `aws cloudwatch describe-alarms > alarms.json` read as CloudWatch rules
/// (written here in the shape the AWS CLI prints).
#[test]
fn describe_alarms_output_is_a_rules_file() {
    let sandbox = Sandbox::new();
    let alarms = sandbox.write(
        "alarms.json",
        r#"{"MetricAlarms": [{"AlarmName": "checkout-errors-1h", "MetricName": "ErrorRate", "Namespace": "Shop",
             "Dimensions": [{"Name": "tenant", "Value": "globex"}], "Period": 300, "EvaluationPeriods": 12,
             "Threshold": 1.44, "ComparisonOperator": "GreaterThanThreshold", "StateValue": "OK"}],
            "CompositeAlarms": []}"#,
    );
    let script = format!(
        "slo::rules({:?}).select([\"source\", \"name\", \"tenant\", \"long\", \"threshold\"]).rows()",
        alarms.display()
    );
    let rows = sandbox.eval(&script, &[]);
    assert_eq!(rows[0]["source"], "cloudwatch", "{rows}");
    assert_eq!(rows[0]["tenant"], "globex");
    assert_eq!(rows[0]["long"], "1h");
    assert_eq!(rows[0]["threshold"], 1.44);
}

/// Sloth's rules compare each window on its own: `(rate2h > 3*B) and (rate1d > 3*B)`. Each
/// window's factor is read, so changing either (the real generated file, edited here in a temp
/// folder) is threshold drift naming that window, while the file as generated stays clean.
#[test]
fn each_window_of_a_multi_window_alert_is_checked() {
    let (Some(spec), Some(rules)) =
        (real("sloth/examples/getting-started.yml"), real("sloth/examples/_gen/getting-started.yml"))
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let generated = std::fs::read_to_string(&rules).unwrap();
    let selector = r#"{sloth_id="myservice-requests-availability", sloth_service="myservice", sloth_slo="requests-availability"} > (3 * "#;
    for (window, name) in [("1d", "long"), ("2h", "short")] {
        let from = format!("ratio_rate{window}{selector}");
        assert_eq!(generated.matches(&from).count(), 1, "the {window} comparison is in the generated file");
        let edited = generated.replace(&from, &from.replace("(3 * ", "(3.5 * "));
        let file = sandbox.write(&format!("{name}.yml"), &edited);
        let out = audit(&sandbox, &spec, &file, name);
        assert_eq!(code(&out), 3, "a {window} window at 3.5x is drift: {}", stdout(&out));
        let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let drifts = attestation["drifts"].as_array().unwrap();
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        assert_eq!(drifts[0]["kind"], "threshold");
        let message = drifts[0]["message"].as_str().unwrap();
        assert!(message.contains("3.5000x") && message.contains(window), "{message}");
    }
    let out = audit(&sandbox, &spec, &rules, "as-generated");
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}
