//! `deployclaw audit memory-leaks`: scripts/memory-leak.rhai with the flags as parameters.

use std::path::PathBuf;

use super::super::session::Settings;
use super::super::{error, exit};
use super::{out_dir, param, text};

/// What `audit memory-leaks` is given.
#[derive(clap::Args, Debug)]
pub struct MemoryLeaks {
    /// The services, comma-separated: running JVMs found by name (main class, jar, script), with
    /// --inventory the services of the inventory to audit (default all), or with --dumps the
    /// subfolders to read.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub services: Vec<String>,
    /// Read dumps from disk instead: a folder with a subfolder of .hprof dumps per service,
    /// named so they sort oldest first, and optionally a VERSION file in each.
    #[arg(long, value_name = "DIR")]
    pub dumps: Option<PathBuf>,
    /// An inventory file (TOML) of services and the hosts their instances run on, reached here or
    /// over SSH: every instance is dumped, and the one that stands out from its siblings is named.
    #[arg(long, value_name = "FILE", conflicts_with = "dumps")]
    pub inventory: Option<PathBuf>,
    /// With --inventory: how many instances are dumped at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// With --inventory: leave the dumps on each host whose inventory entry names its
    /// `deployclaw` and analyse them there; only the answers cross the network.
    #[arg(long, requires = "inventory")]
    pub near_data: bool,
    /// With --near-data: send this deployclaw to hosts whose inventory entry names none (same
    /// system and machine only), into the run's private folder there; it is removed at the end,
    /// and the bytes sent count as moved.
    #[arg(long, requires = "near_data")]
    pub copy_deployclaw: bool,
    /// Live snapshots per service.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub snapshots: u32,
    /// Time between live snapshots, e.g. 30s or 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub interval: String,
    /// A saved profile (from --save-baseline) to compare every service with, per class and tenant.
    #[arg(long, value_name = "FILE")]
    pub baseline_profile: Option<PathBuf>,
    /// Save this run's latest profile per service as the baseline for later runs.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Growth past which a class leaks (an error finding, exit 3).
    #[arg(long, value_name = "PERCENT", default_value = "15%")]
    pub threshold_delta: String,
    /// How tenants are found in the heap: CLASS.FIELD, map:CLASS.FIELD, threadlocal:CLASS.FIELD, loader[:FIELD].
    #[arg(long, value_name = "RULE")]
    pub tenant_rule: Option<String>,
    /// A database whose connections are read: URL beside each live snapshot, or NAME=URL (again
    /// for each database, e.g. each of --rds-instances) once at the end, each named in the report.
    #[arg(long, value_name = "[NAME=]URL")]
    pub pool_db: Vec<String>,
    /// Recorded connection-pool samples: a CSV with connections and optionally ts, tenant, waiting.
    #[arg(long, value_name = "FILE")]
    pub pool_samples: Option<PathBuf>,
    /// With --pool-db: the connection field that names the tenant (user, application_name,
    /// database, client); connections per tenant are then set beside the leaking tenant.
    #[arg(long, value_name = "FIELD")]
    pub pool_tenant_by: Option<String>,
    /// With --pool-tenant-by: a regular expression whose first group is the tenant.
    #[arg(long, value_name = "REGEX", requires = "pool_tenant_by")]
    pub pool_tenant_pattern: Option<String>,
    /// With --pool-db: how long a transaction or statement runs before it counts as long.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub pool_long_after: String,
    /// The pool's size: a peak at it means the pool ran out.
    #[arg(long, value_name = "N")]
    pub pool_max: Option<u32>,
    /// RDS instances, comma-separated: each one's engine, class, endpoint, max_connections (from
    /// its parameter group) and peak CloudWatch DatabaseConnections over --rds-window, in the report.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub rds_instances: Vec<String>,
    /// How far back --rds-instances reads DatabaseConnections.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub rds_window: String,
    /// Also chart each service's CloudWatch memory metric of the last 3 hours from this namespace.
    #[arg(long, value_name = "NAMESPACE")]
    pub cloudwatch_namespace: Option<String>,
    /// The CloudWatch metric.
    #[arg(long, value_name = "NAME", default_value = "MemoryUtilization")]
    pub cloudwatch_metric: String,
    /// The CloudWatch dimension that names the service.
    #[arg(long, value_name = "NAME", default_value = "ServiceName")]
    pub cloudwatch_dimension: String,
    #[command(flatten)]
    pub report: super::ReportArgs,
}

pub fn memory_leaks(settings: &Settings, args: &MemoryLeaks) -> u8 {
    if args.services.is_empty() && args.dumps.is_none() && args.inventory.is_none() {
        error(
            "give the services: --services api-svc,worker-svc (running JVMs), --inventory FILE (their hosts) or --dumps DIR (a folder of dumps per service)",
        );
        return exit::USAGE;
    }
    let checks = [
        ("--dumps", &args.dumps),
        ("--inventory", &args.inventory),
        ("--baseline-profile", &args.baseline_profile),
        ("--pool-samples", &args.pool_samples),
    ];
    for (flag, path) in checks {
        if let Err(code) = super::must_exist(flag, path) {
            return code;
        }
    }
    let pct = args.threshold_delta.trim();
    if pct.strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok()).is_none_or(|n| !n.is_finite() || n < 0.0) {
        error(format!("--threshold-delta {}: give a percentage such as 15%", args.threshold_delta));
        return exit::USAGE;
    }
    let interval = match deployclaw::units::parse_duration(&args.interval) {
        Ok(d) => d,
        Err(e) => {
            error(format!("--interval {}: {e}", args.interval));
            return exit::USAGE;
        }
    };
    if args.snapshots == 0 {
        error("--snapshots 0: take at least one");
        return exit::USAGE;
    }
    let out = out_dir(&args.report.out, "memory-leaks");
    let mut params = vec![
        param("THRESHOLD", pct.to_string()),
        param("SNAPSHOTS", i64::from(args.snapshots)),
        param("INTERVAL_MS", interval.as_millis().min(i64::MAX as u128) as i64),
    ];
    if !args.services.is_empty() {
        params.push(param("SERVICES", args.services.join(",")));
    }
    let paths = [
        ("DUMPS", &args.dumps),
        ("INVENTORY", &args.inventory),
        ("BASELINE_PROFILE", &args.baseline_profile),
        ("SAVE_BASELINE", &args.save_baseline),
        ("POOL_SAMPLES", &args.pool_samples),
    ];
    for (name, path) in paths {
        if let Some(path) = path {
            params.push(param(name, text(path)));
        }
    }
    let (pool_db, pools) = match pool_databases(&args.pool_db) {
        Ok(found) => found,
        Err(message) => {
            error(message);
            return exit::USAGE;
        }
    };
    if !pools.is_empty() {
        params.push(param("POOL_DBS", pools));
    }
    match deployclaw::units::parse_duration(&args.pool_long_after) {
        Ok(d) => params.push(param("POOL_LONG_AFTER_MS", d.as_millis().min(i64::MAX as u128) as i64)),
        Err(e) => {
            error(format!("--pool-long-after {}: {e}", args.pool_long_after));
            return exit::USAGE;
        }
    }
    let strings = [
        ("TENANT_RULE", &args.tenant_rule),
        ("POOL_DB", &pool_db),
        ("POOL_TENANT_BY", &args.pool_tenant_by),
        ("POOL_TENANT_PATTERN", &args.pool_tenant_pattern),
        ("CW_NAMESPACE", &args.cloudwatch_namespace),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            params.push(param(name, value.clone()));
        }
    }
    if args.cloudwatch_namespace.is_some() {
        params.push(param("CW_METRIC", args.cloudwatch_metric.clone()));
        params.push(param("CW_DIMENSION", args.cloudwatch_dimension.clone()));
    }
    if args.inventory.is_some() {
        params.push(param("CONCURRENCY", i64::from(args.concurrency)));
        params.push(param("NEAR_DATA", args.near_data));
        params.push(param("COPY_DEPLOYCLAW", args.copy_deployclaw));
    }
    if !args.rds_instances.is_empty() {
        let window = match deployclaw::units::parse_duration(&args.rds_window) {
            Ok(w) => w,
            Err(e) => {
                error(format!("--rds-window {}: {e}", args.rds_window));
                return exit::USAGE;
            }
        };
        params.push(param("RDS_INSTANCES", args.rds_instances.join(",")));
        params.push(param("RDS_SINCE", format!("-{}s", window.as_secs().max(60))));
    }
    if let Some(max) = args.pool_max {
        params.push(param("POOL_MAX", i64::from(max)));
    }
    super::run(settings, &super::MEMORY_LEAK, &out, params, &args.report)
}

/// `--pool-db` values: at most one bare URL (read beside each live snapshot) and any number of
/// NAME=URL, named databases read at the end (an RDS instance's name puts its connections on
/// that instance's row). A URL's own `=` (a query string) comes after its scheme's `:`, so a
/// name is what precedes the first `=` when it has no `:` or `/`.
fn pool_databases(values: &[String]) -> Result<(Option<String>, rhai::Map), String> {
    let mut bare: Option<String> = None;
    let mut named = rhai::Map::new();
    for value in values {
        let split = value.split_once('=').filter(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
        match split {
            Some((name, url)) if url.trim().is_empty() => {
                return Err(format!("--pool-db {name}=: give the URL of database {name} after the `=`"));
            }
            Some((name, url)) => {
                if named.insert(name.into(), url.trim().to_string().into()).is_some() {
                    return Err(format!("--pool-db {name}=...: {name} is named twice; give each database once"));
                }
            }
            None if bare.is_some() => {
                return Err("--pool-db: two databases without names; name them: --pool-db prod-primary=URL \
                            --pool-db prod-replica=URL"
                    .into());
            }
            None => bare = Some(value.trim().to_string()),
        }
    }
    Ok((bare, named))
}

#[cfg(test)]
mod tests {
    use super::pool_databases;

    #[test]
    fn pool_databases_are_a_bare_url_and_named_ones() {
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (bare, named) = pool_databases(&values(&[
            "postgres://u@h/db?application_name=a=b",
            "prod-primary=postgres://u@p/db",
            "replica_2=mysql://root@r:3306/x?ssl-mode=DISABLED",
        ]))
        .unwrap();
        assert_eq!(bare.as_deref(), Some("postgres://u@h/db?application_name=a=b"));
        assert_eq!(named["prod-primary"].clone().into_string().unwrap(), "postgres://u@p/db");
        assert_eq!(named["replica_2"].clone().into_string().unwrap(), "mysql://root@r:3306/x?ssl-mode=DISABLED");
        // A path with `=` in it is a URL, not a name.
        assert_eq!(pool_databases(&values(&["/tmp/a=b.db"])).unwrap().0.as_deref(), Some("/tmp/a=b.db"));

        let err = |v: &[&str]| pool_databases(&values(v)).unwrap_err();
        assert!(err(&["a=x://1", "a=x://2"]).contains("a is named twice"));
        assert!(err(&["x://1", "x://2"]).contains("two databases without names"));
        assert!(err(&["a="]).contains("give the URL of database a"));
    }
}
