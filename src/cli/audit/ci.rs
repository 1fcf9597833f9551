//! `deployclaw audit ci-failure`: scripts/ci-failure.rhai with the flags as parameters. The
//! triage is printed (or, with `--json`, the whole result); the report folder holds report.html,
//! triage.md and the playbooks.

use std::path::{Path, PathBuf};

use rhai::{Dynamic, Map};

use super::super::session::Settings;
use super::super::{error, exit};
use super::{out_dir, param, text};

/// What `audit ci-failure` is given.
#[derive(clap::Args, Debug)]
pub struct CiFailure {
    /// Build logs: files (plain or gzip), folders, cloudwatch:GROUP, codebuild:PROJECT (its
    /// latest build that did not succeed) or codebuild:PROJECT:UUID (a build id); repeat for several.
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
    /// Insist on a rollback playbook per affected tenant: they are written whenever --db is
    /// given, and this flag makes its absence an error instead of a report without playbooks.
    #[arg(long)]
    pub generate_rollback_playbook: bool,
    #[command(flatten)]
    pub report: super::ReportArgs,
}

pub fn ci_failure(settings: &Settings, args: &CiFailure) -> u8 {
    if args.generate_rollback_playbook && args.db.is_none() {
        error("--generate-rollback-playbook needs --db URL: the playbooks read and repair the tenants' schemas there");
        return exit::USAGE;
    }
    for log in args.logs.iter().filter(|l| !l.starts_with("cloudwatch:") && !l.starts_with("codebuild:")) {
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
    let out = out_dir(&args.report.out, "ci-failure");
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
    let logs: Vec<Dynamic> = args.logs.iter().map(|l| Dynamic::from(l.clone())).collect();
    let mut params = vec![param("LOGS", logs), param("OPTIONS", options)];
    if let Some(db) = &args.db {
        params.push(param("DB_URL", db.clone()));
    }
    super::run(settings, &super::CI_FAILURE, &out, params, &args.report)
}
