//! Terraform as teams write it: a root module folder with variables, tfvars and locals built by
//! for expressions, a local module called with arguments and expanded by `for_each` and
//! `dynamic` blocks, a registry module, and values only `terraform apply` knows. Also hostile
//! configurations: each ends with a message or a note, never a hang.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Sandbox, code, stderr, stdout};
use deployclaw::slo::rules::{Rule, Source, Threshold, load_path};
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slo/terraform").join(path)
}

fn named<'r>(rules: &'r [Rule], name: &str) -> &'r Rule {
    rules
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rule {name} in {:#?}", rules.iter().map(|r| &r.name).collect::<Vec<_>>()))
}

#[test]
fn a_module_folder_reads_as_terraform_would_plan_it() {
    let rules = load_path(&fixture("live")).unwrap();
    assert!(rules.iter().all(|r| r.source == Source::Terraform));

    // The local module, called with the root's tenants: 3 tenants x 3 tiers by for_each.
    let burn: Vec<&Rule> = rules.iter().filter(|r| r.name.starts_with("checkout-availability-")).collect();
    assert_eq!(burn.len(), 9, "{burn:#?}");
    let fast = named(&rules, "checkout-availability-acme-page-1h");
    let Some(Threshold::Ratio(ratio)) = fast.threshold else { panic!("{fast:#?}") };
    assert!((ratio - 0.0144).abs() < 1e-12, "14.4 x (1 - 0.999): {ratio}");
    assert_eq!(fast.long, Some(Duration::from_secs(3600)), "12 periods of 300 s");
    assert_eq!((fast.slo.as_deref(), fast.tenant.as_deref()), (Some("checkout/availability"), Some("acme")));
    assert_eq!(
        fast.target.as_deref(),
        Some("arn:aws:sns:eu-west-1:111122223333:prod-checkout-pager"),
        "terraform.tfvars sets env over the default"
    );
    assert!(fast.unresolved.is_empty(), "{:?}", fast.unresolved);
    assert!(
        fast.origin.ends_with(
            "modules/burn-alarms/main.tf:12#module.checkout_availability.aws_cloudwatch_metric_alarm.burn[\"acme/page-1h\"]"
        ),
        "{}",
        fast.origin
    );
    let ticket = named(&rules, "checkout-availability-globex-ticket-3d");
    assert_eq!(ticket.long, Some(Duration::from_secs(3 * 86_400)));
    assert_eq!(ticket.target, None, "tickets page no one");
    assert_eq!(ticket.measures.as_deref().map(|m| m.contains("errors / requests")), Some(true), "{ticket:#?}");

    // count over a list a for expression filtered, only in prod.
    let cpu: Vec<&str> = rules.iter().filter(|r| r.name.starts_with("cpu-")).map(|r| r.name.as_str()).collect();
    assert_eq!(cpu, ["cpu-acme-prod", "cpu-initech-prod"]);
    assert_eq!(named(&rules, "cpu-initech-prod").tenant.as_deref(), Some("initech"));

    // What only apply knows is kept as the expression and reported; the ARN is not a finding.
    let ssm = named(&rules, "payments-errors-prod");
    assert_eq!(ssm.threshold, None);
    assert_eq!(ssm.unresolved.len(), 1, "{:?}", ssm.unresolved);
    assert!(
        ssm.unresolved[0].starts_with("threshold = data.aws_ssm_parameter.payments_threshold.value"),
        "{:?}",
        ssm.unresolved
    );
    assert_eq!(ssm.target.as_deref(), Some("${aws_sns_topic.pager.arn}"));

    // A registry module is named, not read.
    let cis = named(&rules, "module.cis");
    assert!(cis.origin.ends_with("live/main.tf:22#module.cis"), "{}", cis.origin);
    assert!(cis.unresolved[0].contains("not a local folder"), "{:?}", cis.unresolved);
    assert_eq!(rules.len(), 9 + 2 + 1 + 1);
}

/// The whole audit on that folder: the burn alarms check clean against the SLO, the CPU alarms
/// are listed as infrastructure, and what could not be read is reported without failing it.
#[test]
fn the_audit_reports_unresolved_values_without_failing() {
    let sandbox = Sandbox::new();
    let [slos, live, out] =
        [fixture("slos.toml"), fixture("live"), sandbox.path("report")].map(|p| p.to_str().unwrap().to_string());
    let run = sandbox.run(&["audit", "error-budget", "--slos", &slos, "--rules", &live, "--json", "--out", &out]);
    assert_eq!(code(&run), 0, "{}\n{}", stdout(&run), stderr(&run));
    let attestation: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(attestation["verdict"], "compliant", "{attestation:#}");
    let unresolved: Vec<&str> =
        attestation["unresolved"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(unresolved, ["payments-errors-prod", "module.cis"], "{:#}", attestation["unresolved"]);
    let others: Vec<&str> =
        attestation["other_alerts"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(others, ["cpu-acme-prod", "cpu-initech-prod"]);
    let report = std::fs::read_to_string(sandbox.path("report/report.md")).unwrap();
    assert!(report.contains("Unresolved values") && report.contains("data.aws_ssm_parameter"), "{report}");
}

fn one_file(sandbox: &Sandbox, text: &str) -> Result<Vec<Rule>, String> {
    load_path(&sandbox.write("alarms.tf", text)).map_err(|e| e.to_string())
}

#[test]
fn broken_and_hostile_configurations_end_with_a_message() {
    let sandbox = Sandbox::new();
    let err = one_file(&sandbox, "locals {\n  a = [)\n}\n").unwrap_err();
    assert!(err.contains("alarms.tf:2:"), "names the file and line: {err}");

    let deep = format!("locals {{\n  a = {}1{}\n}}\n", "[".repeat(5000), "]".repeat(5000));
    let err = one_file(&sandbox, &deep).unwrap_err();
    assert!(err.contains("nest"), "{err}");

    // Locals that double a string 60 times stop at the budget, with a note.
    let mut doubling = String::from("locals {\n  l0 = \"xxxxxxxxxxxxxxxx\"\n");
    for i in 1..=60 {
        doubling += &format!("  l{i} = \"${{local.l{}}}${{local.l{}}}\"\n", i - 1, i - 1);
    }
    doubling += "}\nresource \"aws_cloudwatch_metric_alarm\" \"a\" {\n  alarm_name = local.l60\n  threshold = 1\n}\n";
    let rules = one_file(&sandbox, &doubling).unwrap();
    let notes: Vec<&String> = rules.iter().flat_map(|r| &r.unresolved).collect();
    assert!(notes.iter().any(|n| n.contains("evaluation stopped")), "{notes:?}");

    // A local that refers to itself, and a count too large to expand.
    let text = "locals {\n  a = local.b\n  b = local.a\n}\nresource \"aws_cloudwatch_metric_alarm\" \"x\" {\n  count = 100000\n  alarm_name = \"x-${count.index}\"\n  threshold = local.a\n}\n";
    let rules = one_file(&sandbox, text).unwrap();
    assert_eq!(rules.len(), 10_001, "10,000 instances and a note");
    assert!(rules[0].unresolved.iter().any(|u| u.contains("refers to itself")), "{:?}", rules[0].unresolved);
    assert!(rules[10_000].unresolved[0].contains("only the first 10000"), "{:?}", rules[10_000]);
}

#[test]
fn a_module_folder_that_calls_itself_stops() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("loop")).unwrap();
    sandbox.write(
        "loop/main.tf",
        "module \"again\" {\n  source = \"./\"\n  count  = 2\n}\nresource \"aws_cloudwatch_metric_alarm\" \"x\" {\n  alarm_name = \"x\"\n  threshold = 1\n}\n",
    );
    let rules = load_path(&sandbox.path("loop")).unwrap();
    assert!(rules.iter().any(|r| r.unresolved.iter().any(|u| u.contains("nest deeper"))), "{rules:#?}");
    assert!(rules.len() < 1000, "{}", rules.len());
}

/// Every prefix of the fixtures, and each with a bracket, quote or template sign put in at
/// every line start: each read ends with rules or a message, never a panic or a hang.
#[test]
fn cut_and_damaged_configurations_never_panic() {
    let started = std::time::Instant::now();
    for file in ["live/main.tf", "live/variables.tf", "modules/burn-alarms/main.tf"] {
        let text = std::fs::read_to_string(fixture(file)).unwrap();
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(7).collect();
        for at in cuts {
            let _ = deployclaw::slo::rules::load_text(&text[..at], "cut.tf");
        }
        for (line_start, _) in text.match_indices('\n') {
            for insert in ["{", "}", "[", "(", "\"", "${", "%{", "<<EOT\n", "for x in y :", "..."] {
                let damaged = format!("{}{insert}{}", &text[..line_start + 1], &text[line_start + 1..]);
                let _ = deployclaw::slo::rules::load_text(&damaged, "damaged.tf");
            }
        }
    }
    eprintln!("read every variant in {:?}", started.elapsed());
}
