//! `deployclaw audit error-budget`: scripts/error-budget.rhai with the flags as parameters. The
//! attestation is printed (or, with `--json`, the whole of it); the report folder holds
//! report.html and attestation.json/attestation.md.

use std::path::PathBuf;

use rhai::{Dynamic, Map};

use super::super::session::Settings;
use super::super::{error, exit};
use super::{out_dir, param, text};

/// What `audit error-budget` is given.
#[derive(clap::Args, Debug)]
pub struct ErrorBudget {
    /// SLO definitions: deployclaw TOML, OpenSLO, Sloth or Pyrra YAML, or folders of them (local
    /// or s3://bucket/key, s3://bucket/prefix/), or dynamodb:TABLE (one item per SLO or tenant
    /// override); repeat for several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub slos: Vec<PathBuf>,
    /// Alert rules as deployed: CloudFormation, Terraform (.tf or plan JSON), Prometheus rule
    /// files, PagerDuty exports, or folders of them (local or s3://); repeat for several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Also read the live CloudWatch alarms (the AWS SDK's credential and region chain).
    #[arg(long)]
    pub cloudwatch: bool,
    /// Only alarms whose names start with this.
    #[arg(long, value_name = "PREFIX")]
    pub alarm_prefix: Option<String>,
    /// Also list the tenants' metrics in CloudWatch namespaces starting with this (ListMetrics):
    /// a tenant with metrics and an SLO but no alarm on them is drift (missing-in-source). With
    /// no --tenant-dimension, what follows the prefix names the tenant (Tenants/acme).
    #[arg(long, value_name = "PREFIX")]
    pub tenant_metrics: Option<String>,
    /// The dimension of the tenants' metrics that names the tenant (e.g. Tenant).
    #[arg(long, value_name = "NAME", requires = "tenant_metrics")]
    pub tenant_dimension: Option<String>,
    /// A database with the alert rules in a table (and SLOs, with --slo-table).
    #[arg(long, value_name = "URL", env = "DEPLOYCLAW_DB_URL")]
    pub db: Option<String>,
    /// The table of alert rules in --db.
    #[arg(long, value_name = "TABLE", default_value = "alert_rules")]
    pub rules_table: String,
    /// Read SLO definitions from this table of --db too.
    #[arg(long, value_name = "TABLE")]
    pub slo_table: Option<String>,
    /// A Sloth AlertWindows file (sloth.slok.dev/v1) the Sloth SLOs' rules were generated with:
    /// its period and windows replace Sloth's defaults for them.
    #[arg(long, value_name = "FILE")]
    pub windows: Option<PathBuf>,
    /// Samples to compute burn rates from: CSV or JSON (time, tenant, good, total).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Burn rates from the samples of this long before the newest one on (e.g. 24h), not all.
    #[arg(long, value_name = "DURATION", requires = "metrics")]
    pub lookback: Option<String>,
    /// How far a threshold may be from the expected one before it is drift: "2%" or 0.02
    /// (--alert-drift-threshold is the same flag).
    #[arg(long, value_name = "PERCENT", default_value = "2%", alias = "alert-drift-threshold")]
    pub tolerance: String,
    /// The tenants SLOs for every tenant apply to, comma-separated (default: every tenant named).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub tenants: Vec<String>,
    /// Compare the rules with this baseline (from --save-baseline); a change is a finding.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Save the rules' checksums as a baseline for later runs.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    #[command(flatten)]
    pub report: super::ReportArgs,
}

pub fn error_budget(settings: &Settings, args: &ErrorBudget) -> u8 {
    if args.slos.is_empty() && args.slo_table.is_none() {
        error("give the SLOs: --slos PATH (or --db URL --slo-table TABLE)");
        return exit::USAGE;
    }
    if args.rules.is_empty() && !args.cloudwatch && args.db.is_none() {
        error("give the alert rules: --rules PATH, --cloudwatch or --db URL");
        return exit::USAGE;
    }
    for (flag, paths) in [("--slos", &args.slos), ("--rules", &args.rules)] {
        let remote = |p: &PathBuf| ["dynamodb:", "s3://"].iter().any(|r| p.to_string_lossy().starts_with(r));
        if let Some(missing) = paths.iter().find(|p| !p.exists() && !remote(p)) {
            error(format!("{flag} {}: no such file or folder", missing.display()));
            return exit::USAGE;
        }
    }
    if let Some(b) = args.baseline.as_ref().filter(|b| !b.is_file()) {
        error(format!("--baseline {}: no such file (write one with --save-baseline)", b.display()));
        return exit::USAGE;
    }
    if let Err(code) = super::must_exist("--metrics", &args.metrics) {
        return code;
    }
    if let Err(code) = super::must_exist("--windows", &args.windows) {
        return code;
    }
    let out = out_dir(&args.report.out, "error-budget");
    let list = |paths: &[PathBuf]| -> Dynamic { paths.iter().map(|p| text(p)).collect::<Vec<_>>().into() };
    let mut rule_options = Map::new();
    rule_options.insert("table".into(), args.rules_table.clone().into());
    if let Some(prefix) = &args.alarm_prefix {
        rule_options.insert("prefix".into(), prefix.clone().into());
    }
    let mut attest = Map::new();
    attest.insert("tolerance".into(), args.tolerance.clone().into());
    if !args.tenants.is_empty() {
        let tenants: Vec<Dynamic> = args.tenants.iter().map(|t| Dynamic::from(t.clone())).collect();
        attest.insert("tenants".into(), tenants.into());
    }
    if let Some(b) = &args.baseline {
        attest.insert("baseline".into(), text(b));
    }
    let mut params = vec![
        param("SLOS", list(&args.slos)),
        param("RULES", list(&args.rules)),
        param("CLOUDWATCH", args.cloudwatch),
        param("RULE_OPTIONS", rule_options),
        param("ATTEST", attest),
    ];
    if let Some(db) = &args.db {
        params.push(param("DB_URL", db.clone()));
    }
    if let Some(table) = &args.slo_table {
        params.push(param("SLO_TABLE", table.clone()));
    }
    if let Some(file) = &args.save_baseline {
        params.push(param("SAVE_BASELINE", text(file)));
    }
    if let Some(file) = &args.metrics {
        params.push(param("METRICS", text(file)));
        if let Some(lookback) = &args.lookback {
            if let Err(e) = deployclaw::units::parse_duration(lookback) {
                error(format!("--lookback {lookback}: {e}"));
                return exit::USAGE;
            }
            params.push(param("LOOKBACK", lookback.clone()));
        }
    }
    if let Some(file) = &args.windows {
        params.push(param("WINDOWS", text(file)));
    }
    if let Some(prefix) = &args.tenant_metrics {
        let mut inventory = Map::new();
        inventory.insert("namespace_prefix".into(), prefix.clone().into());
        if let Some(dimension) = &args.tenant_dimension {
            inventory.insert("dimension".into(), dimension.clone().into());
        }
        params.push(param("INVENTORY", inventory));
    }
    super::run(settings, &super::ERROR_BUDGET, &out, params, &args.report)
}
