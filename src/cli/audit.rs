//! `deployclaw audit ci-failure`: the CI-failure triage as one command, run in a logged session
//! (`ci::triage`), so the triage is in the signed log; the report is printed, or with `--json`
//! the whole result.

use std::path::{Path, PathBuf};

use rhai::{Dynamic, Map};

use super::session::{Settings, run_session};
use super::{error, exit};
use deployclaw::engine::{Mode, Param};

/// What `audit ci-failure` is given.
#[derive(clap::Args, Debug)]
pub struct CiFailure {
    /// Build logs: files (plain or gzip), folders, or cloudwatch:GROUP; repeat for several.
    #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
    pub logs: Vec<String>,
    /// The database whose tenants the deploy migrated (postgres://, mysql://, sqlite://).
    #[arg(long, value_name = "URL", env = "DEPLOYCLAW_DB_URL")]
    pub db: Option<String>,
    /// The service dependency graph (TOML, or JSON for .json).
    #[arg(long, value_name = "FILE")]
    pub graph: Option<PathBuf>,
    /// Schemas named like this are tenants' (the `*` is the tenant id).
    #[arg(long, value_name = "PATTERN")]
    pub tenant_schema_pattern: Option<String>,
    /// A table listing the tenants (and their schemas), e.g. public.tenants.
    #[arg(long, value_name = "TABLE")]
    pub tenants_table: Option<String>,
    /// The migration version every tenant should be at (default: the highest any reached).
    #[arg(long, value_name = "VERSION")]
    pub expected_version: Option<String>,
    /// When the deploy began (default: the failed jobs' first timestamp).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// A team's root-cause rules (TOML), tried before the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The tenancy map the playbooks are proven against (default: each tenant's schema is its own).
    #[arg(long, value_name = "FILE")]
    pub tenancy: Option<PathBuf>,
    /// The log format instead of detecting it: github-actions, jenkins, codebuild or plain.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Rollback risk (0-100) above which a tenant is an error finding (exit 3).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub risk_threshold: u8,
    /// Where the report and playbooks go (default: ./ci-triage-TIME).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the whole result as JSON instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// The statements the session runs: each is logged as written, with the database URL only as
/// the name of its parameter.
const SCRIPT: &str = r#"let options = OPTIONS;
if type_of(DB_URL) == "string" { options.db = sql::connect(DB_URL); }
let triage = ci::triage(LOGS, options);
if JSON { triage } else { read_text(triage.report) }"#;

fn text(path: &Path) -> Dynamic {
    path.display().to_string().into()
}

pub fn ci_failure(settings: &Settings, args: &CiFailure) -> u8 {
    for log in args.logs.iter().filter(|l| !l.starts_with("cloudwatch:")) {
        if !Path::new(log).exists() {
            error(format!("--logs {log}: no such file or folder"));
            return exit::USAGE;
        }
    }
    for (flag, file) in [("--graph", &args.graph), ("--rules", &args.rules), ("--tenancy", &args.tenancy)] {
        if let Some(file) = file
            && !file.is_file()
        {
            error(format!("{flag} {}: no such file", file.display()));
            return exit::USAGE;
        }
    }
    if args.risk_threshold > 100 {
        error(format!("--risk-threshold {}: scores go from 0 to 100", args.risk_threshold));
        return exit::USAGE;
    }
    if args.db.is_some() && args.tenant_schema_pattern.is_none() && args.tenants_table.is_none() {
        error(
            "--db needs to know where the tenants live: give --tenant-schema-pattern 'tenant_*' or --tenants-table TABLE",
        );
        return exit::USAGE;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("ci-triage-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))));
    let mut options = Map::new();
    let mut set = |key: &str, value: Option<Dynamic>| {
        if let Some(v) = value {
            options.insert(key.into(), v);
        }
    };
    set("graph", args.graph.as_deref().map(text));
    set("schemas", args.tenant_schema_pattern.clone().map(Dynamic::from));
    set("table", args.tenants_table.clone().map(Dynamic::from));
    set("expected", args.expected_version.clone().map(Dynamic::from));
    set("since", args.since.clone().map(Dynamic::from));
    set("rules", args.rules.as_deref().map(text));
    set("tenancy", args.tenancy.as_deref().map(text));
    set("format", args.format.clone().map(Dynamic::from));
    set("threshold", Some(Dynamic::from(i64::from(args.risk_threshold))));
    set("dir", Some(text(&out)));
    let logs: Vec<Dynamic> = args.logs.iter().map(|l| Dynamic::from(l.clone())).collect();
    let params = vec![
        Param { name: "LOGS".into(), value: logs.into() },
        Param { name: "OPTIONS".into(), value: options.into() },
        Param { name: "DB_URL".into(), value: args.db.clone().map_or(Dynamic::UNIT, Dynamic::from) },
        Param { name: "JSON".into(), value: args.json.into() },
    ];
    let mut session = match settings.options(Mode::Run) {
        Ok(o) => o,
        Err(code) => return code,
    };
    session.params = params;
    let json = args.json;
    let code = run_session(session, json, |session| session.eval(SCRIPT, "deployclaw audit ci-failure"));
    if !json && out.join("report.md").exists() {
        eprintln!("report, report.json and playbooks: {}", out.display());
    }
    code
}

/// What `audit error-budget` is given.
#[derive(clap::Args, Debug)]
pub struct ErrorBudget {
    /// SLO definitions: deployclaw TOML, OpenSLO or Sloth YAML, or folders of them; repeat for several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub slos: Vec<PathBuf>,
    /// Alert rules as deployed: CloudFormation, Terraform (.tf or plan JSON), Prometheus rule
    /// files, PagerDuty exports, or folders of them; repeat for several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Also read the live CloudWatch alarms (the AWS SDK's credential and region chain).
    #[arg(long)]
    pub cloudwatch: bool,
    /// Only alarms whose names start with this.
    #[arg(long, value_name = "PREFIX")]
    pub alarm_prefix: Option<String>,
    /// A database with the alert rules in a table (and SLOs, with --slo-table).
    #[arg(long, value_name = "URL", env = "DEPLOYCLAW_DB_URL")]
    pub db: Option<String>,
    /// The table of alert rules in --db.
    #[arg(long, value_name = "TABLE", default_value = "alert_rules")]
    pub rules_table: String,
    /// Read SLO definitions from this table of --db too.
    #[arg(long, value_name = "TABLE")]
    pub slo_table: Option<String>,
    /// How far a threshold may be from the expected one before it is drift.
    #[arg(long, value_name = "PERCENT", default_value = "2%")]
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
    /// Where attestation.json and attestation.md go (default: ./error-budget-TIME).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the whole result as JSON instead of the attestation.
    #[arg(long)]
    pub json: bool,
}

const BUDGET_SCRIPT: &str = r#"let slo_sources = SLO_PATHS;
let rule_sources = RULE_PATHS;
if CLOUDWATCH { rule_sources.push("cloudwatch"); }
if type_of(DB_URL) == "string" { let db = sql::connect(DB_URL); rule_sources.push(db); if type_of(SLO_TABLE) == "string" { slo_sources.push(db); } }
let slos = if type_of(SLO_TABLE) == "string" { slo::load(slo_sources, SLO_TABLE) } else { slo::load(slo_sources) };
let rules = slo::rules(rule_sources, RULE_OPTIONS);
let attestation = slo::attest(slos, rules, ATTEST);
if type_of(SAVE_BASELINE) == "string" { slo::baseline_save(rules, SAVE_BASELINE); }
if JSON { attestation } else { read_text(attestation.report) }"#;

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
        if let Some(missing) = paths.iter().find(|p| !p.exists()) {
            error(format!("{flag} {}: no such file or folder", missing.display()));
            return exit::USAGE;
        }
    }
    if let Some(b) = args.baseline.as_ref().filter(|b| !b.is_file()) {
        error(format!("--baseline {}: no such file (write one with --save-baseline)", b.display()));
        return exit::USAGE;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("error-budget-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))));
    let list = |paths: &[PathBuf]| -> Dynamic { paths.iter().map(|p| text(p)).collect::<Vec<_>>().into() };
    let mut rule_options = Map::new();
    rule_options.insert("table".into(), args.rules_table.clone().into());
    if let Some(prefix) = &args.alarm_prefix {
        rule_options.insert("prefix".into(), prefix.clone().into());
    }
    let mut attest = Map::new();
    attest.insert("tolerance".into(), args.tolerance.clone().into());
    attest.insert("dir".into(), text(&out));
    if !args.tenants.is_empty() {
        let tenants: Vec<Dynamic> = args.tenants.iter().map(|t| Dynamic::from(t.clone())).collect();
        attest.insert("tenants".into(), tenants.into());
    }
    if let Some(b) = &args.baseline {
        attest.insert("baseline".into(), text(b));
    }
    let optional = |v: Option<Dynamic>| v.unwrap_or(Dynamic::UNIT);
    let params = vec![
        Param { name: "SLO_PATHS".into(), value: list(&args.slos) },
        Param { name: "RULE_PATHS".into(), value: list(&args.rules) },
        Param { name: "CLOUDWATCH".into(), value: args.cloudwatch.into() },
        Param { name: "DB_URL".into(), value: optional(args.db.clone().map(Dynamic::from)) },
        Param { name: "SLO_TABLE".into(), value: optional(args.slo_table.clone().map(Dynamic::from)) },
        Param { name: "RULE_OPTIONS".into(), value: rule_options.into() },
        Param { name: "ATTEST".into(), value: attest.into() },
        Param { name: "SAVE_BASELINE".into(), value: optional(args.save_baseline.as_deref().map(text)) },
        Param { name: "JSON".into(), value: args.json.into() },
    ];
    let mut session = match settings.options(Mode::Run) {
        Ok(o) => o,
        Err(code) => return code,
    };
    session.params = params;
    let code = run_session(session, args.json, |session| session.eval(BUDGET_SCRIPT, "deployclaw audit error-budget"));
    if !args.json && out.join("attestation.md").exists() {
        eprintln!("attestation.json and attestation.md: {}", out.display());
    }
    code
}
