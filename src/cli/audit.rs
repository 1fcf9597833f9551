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
