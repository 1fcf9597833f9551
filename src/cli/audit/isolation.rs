//! `deployclaw audit tenant-isolation`: scripts/tenant-isolation.rhai with the flags as parameters.

use std::path::PathBuf;

use super::super::session::Settings;
use super::super::{error, exit};
use super::{out_dir, param, text};

/// What `audit tenant-isolation` is given.
#[derive(clap::Args, Debug)]
pub struct TenantIsolation {
    /// The database (sqlite://, postgres://, mysql://).
    #[arg(long, value_name = "URL", env = "DEPLOYCLAW_DB_URL")]
    pub db: String,
    /// Its tenancy map (TOML): per table its tenant key, or root, global, via or partition_of.
    #[arg(long, value_name = "FILE")]
    pub tenancy: PathBuf,
    /// The tenant the runbook is for (an integer id, or any text).
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// The runbook: SQL statements ending in `;`, each after a `-- step: NAME` comment.
    #[arg(long, value_name = "FILE")]
    pub runbook: PathBuf,
    /// A Rust source folder or file whose row structs are checked against the tables.
    #[arg(long, value_name = "PATH")]
    pub src: Option<PathBuf>,
    #[command(flatten)]
    pub report: super::ReportArgs,
}

pub fn tenant_isolation(settings: &Settings, args: &TenantIsolation) -> u8 {
    let files = [("--tenancy", &args.tenancy), ("--runbook", &args.runbook)];
    for (flag, path) in files {
        if !path.is_file() {
            error(format!("{flag} {}: no such file", path.display()));
            return exit::USAGE;
        }
    }
    if let Err(code) = super::must_exist("--src", &args.src) {
        return code;
    }
    let out = out_dir(&args.report.out, "tenant-isolation");
    let tenant =
        args.tenant.parse::<i64>().map_or_else(|_| rhai::Dynamic::from(args.tenant.clone()), rhai::Dynamic::from);
    let mut params = vec![
        param("DB_URL", args.db.clone()),
        param("TENANCY", text(&args.tenancy)),
        param("TENANT", tenant),
        param("RUNBOOK", text(&args.runbook)),
    ];
    if let Some(src) = &args.src {
        params.push(param("SRC", text(src)));
    }
    super::run(settings, &super::TENANT_ISOLATION, &out, params, &args.report)
}
