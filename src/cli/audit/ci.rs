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
    /// Build logs: files (plain or gzip), folders, s3://bucket/key or s3://bucket/prefix/,
    /// cloudwatch:GROUP, codebuild:PROJECT (its
    /// latest build that did not succeed), codebuild:PROJECT:UUID (a build id),
    /// codepipeline:PIPELINE (its executions that failed since --since, default a day) or
    /// codepipeline:PIPELINE:EXECUTION_ID; repeat for several.
    #[arg(long, value_name = "PATH", required_unless_present = "pipeline_source", num_args = 1..)]
    pub logs: Vec<String>,
    /// Read the failed runs of a CI service: aws-codepipeline (every pipeline's executions that
    /// failed since --since, default a day; --pipeline for one), with the logs of the CodeBuild
    /// builds behind their failed actions.
    #[arg(long, value_name = "SERVICE")]
    pub pipeline_source: Option<PipelineSource>,
    /// Metric evidence to line the failures up with: cloudwatch (each RDS instance's
    /// DatabaseConnections against max_connections, Lambda Throttles and ConcurrentExecutions,
    /// API Gateway 5XXError and Count, from an hour before the deploy began) or a CSV file of
    /// samples (timestamp, namespace, metric, resource, value[, limit, class, engine]). The
    /// triage then names the root cause and the symptoms, and recommends changes from the numbers.
    #[arg(long, value_name = "cloudwatch|FILE")]
    pub metrics: Option<String>,
    /// The pipeline whose failed executions to read (default: every pipeline).
    #[arg(long, value_name = "NAME", requires = "pipeline_source")]
    pub pipeline: Option<String>,
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
    /// When the deploy began, as a time (2024-05-14T09:20:00Z) or how long ago (60m, 2h, 1d);
    /// AWS sources read from then on (default: a day back; the triage then takes the failed
    /// jobs' first timestamp).
    #[arg(long, value_name = "TIME", value_parser = since_time)]
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

/// CI services whose failed runs `--pipeline-source` reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineSource {
    /// AWS CodePipeline executions and the CodeBuild builds behind them.
    AwsCodepipeline,
}

/// `--since`: a time, or a duration before now (`60m`), as RFC 3339.
fn since_time(text: &str) -> Result<String, String> {
    let rfc3339 = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Some(at) = deployclaw::triage::schema_state::parse_time(text) {
        return Ok(rfc3339(at));
    }
    let ago = text.trim().strip_prefix('-').unwrap_or(text.trim());
    let back = deployclaw::units::parse_duration(ago).map_err(|_| {
        format!("{text:?} is not a time: give 2024-05-14T09:20:00Z, or how long ago, such as 60m or 2h")
    })?;
    chrono::Duration::from_std(back)
        .ok()
        .and_then(|back| chrono::Utc::now().checked_sub_signed(back))
        .map(rfc3339)
        .ok_or_else(|| format!("{text:?} is too far back"))
}

/// The log sources given: `--logs` and what `--pipeline-source` stands for.
fn sources(args: &CiFailure) -> Vec<String> {
    let mut logs = args.logs.clone();
    if args.pipeline_source == Some(PipelineSource::AwsCodepipeline) {
        logs.push(format!("codepipeline:{}", args.pipeline.as_deref().unwrap_or("*")));
    }
    logs
}

fn is_remote(log: &str) -> bool {
    ["cloudwatch:", "codebuild:", "codepipeline:", "s3://"].iter().any(|p| log.starts_with(p))
}

pub fn ci_failure(settings: &Settings, args: &CiFailure) -> u8 {
    if args.generate_rollback_playbook && args.db.is_none() {
        error("--generate-rollback-playbook needs --db URL: the playbooks read and repair the tenants' schemas there");
        return exit::USAGE;
    }
    let logs = sources(args);
    for log in logs.iter().filter(|l| !is_remote(l)) {
        if !Path::new(log).exists() {
            error(format!("--logs {log}: no such file or folder"));
            return exit::USAGE;
        }
    }
    if let Some(metrics) = args.metrics.as_deref().filter(|m| *m != "cloudwatch" && !is_remote(m))
        && !Path::new(metrics).is_file()
    {
        error(format!("--metrics {metrics}: no such file; give a CSV of samples, or cloudwatch"));
        return exit::USAGE;
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
    set("start", args.since.clone().map(Dynamic::from));
    set("rules", args.rules.as_deref().map(text));
    set("tenancy", args.tenancy.as_deref().map(text));
    set("format", args.format.clone().map(Dynamic::from));
    set("metrics", args.metrics.clone().map(Dynamic::from));
    set("threshold", Some(Dynamic::from(i64::from(args.risk_threshold))));
    let logs: Vec<Dynamic> = logs.into_iter().map(Dynamic::from).collect();
    let mut params = vec![param("LOGS", logs), param("OPTIONS", options)];
    if let Some(db) = &args.db {
        params.push(param("DB_URL", db.clone()));
    }
    super::run(settings, &super::CI_FAILURE, &out, params, &args.report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_a_time_or_how_long_ago() {
        assert_eq!(super::since_time("2024-05-14T09:20:00Z").unwrap(), "2024-05-14T09:20:00Z");
        assert_eq!(super::since_time("2024-05-14 11:20:00+02:00").unwrap(), "2024-05-14T09:20:00Z");
        for (ago, secs) in [("60m", 3600), ("-2h", 7200)] {
            let at = chrono::DateTime::parse_from_rfc3339(&super::since_time(ago).unwrap()).unwrap();
            let off = chrono::Utc::now().signed_duration_since(at).num_seconds();
            assert!((secs - 5..=secs + 5).contains(&off), "{ago}: {off}");
        }
        for bad in ["yesterday", "", "99999999999999999999d"] {
            assert!(super::since_time(bad).is_err(), "{bad:?}");
        }
    }
}
