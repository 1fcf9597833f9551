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
    let out = sandbox.path(out);
    let [spec, rules, out] = [spec, rules, out.as_path()].map(|p| p.to_str().unwrap().to_string());
    sandbox.run(&["audit", "error-budget", "--slos", &spec, "--rules", &rules, "--json", "--out", &out])
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
    assert!(report.contains("switched off in the spec"), "{report}");
}

/// Every Sloth example (Sloth's own `prometheus/v1` and `PrometheusServiceLevel` formats) beside
/// the rules Sloth generated from it checks clean: the generator and deployclaw agree on every
/// tier. (Sloth's OpenSLO `v1alpha` examples are not read yet: see the README.)
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
        let text = std::fs::read_to_string(&spec).unwrap_or_default();
        if !spec.is_file() || !generated.is_file() || text.contains("openslo/v1alpha") {
            continue;
        }
        let name = spec.file_name().unwrap().to_string_lossy().into_owned();
        let out = audit(&sandbox, &spec, &generated, &name);
        assert_eq!(code(&out), 0, "{name}: {}\n{}", stdout(&out), stderr(&out));
        let attestation: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(attestation["verdict"], "compliant", "{name}: {attestation:#}");
        checked.push(name);
    }
    assert!(checked.len() >= 15, "{checked:?}");
}
