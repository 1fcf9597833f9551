//! `deployclaw audit ...`: each audit is a saved script of scripts/ (built into the binary, or a
//! team's edited copy with --script) run in a logged session with its flags as parameters. The
//! report folder gets the sealed session log and its verification once the session closes.

mod budget;
mod ci;
mod isolation;
mod memory;
mod record;
mod s3_out;
mod verify;

pub use budget::{ErrorBudget, error_budget};
pub use ci::{CiFailure, ci_failure};
pub use isolation::{TenantIsolation, tenant_isolation};
pub use memory::{MemoryLeaks, memory_leaks};
pub use verify::verify;

use std::path::{Path, PathBuf};

use rhai::Dynamic;

use super::session::{Settings, run_session_sealed};
use super::{error, exit};
use deployclaw::engine::{Mode, Output, Param};

/// A built-in audit script.
pub struct Script {
    /// The audit, as `deployclaw audit NAME` and its record name it.
    pub audit: &'static str,
    /// Its path in the repository, as the session log names it.
    pub path: &'static str,
    pub text: &'static str,
}

pub const MEMORY_LEAK: Script = Script {
    audit: "memory-leaks",
    path: "scripts/memory-leak.rhai",
    text: include_str!("../../../scripts/memory-leak.rhai"),
};
pub const CI_FAILURE: Script = Script {
    audit: "ci-failure",
    path: "scripts/ci-failure.rhai",
    text: include_str!("../../../scripts/ci-failure.rhai"),
};
pub const TENANT_ISOLATION: Script = Script {
    audit: "tenant-isolation",
    path: "scripts/tenant-isolation.rhai",
    text: include_str!("../../../scripts/tenant-isolation.rhai"),
};
pub const ERROR_BUDGET: Script = Script {
    audit: "error-budget",
    path: "scripts/error-budget.rhai",
    text: include_str!("../../../scripts/error-budget.rhai"),
};

/// What an audit prints on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// The audit's summary, for people.
    #[default]
    Text,
    /// report.json (for ci-failure and error-budget, the whole triage or attestation).
    Json,
    /// The execution record: steps, durations, findings, conclusion and the report's digest,
    /// signed by the session's signer (also written to audit-record.json; check it with
    /// `deployclaw audit verify`).
    JsonAudit,
    /// report.md.
    Md,
    /// report.html (self-contained).
    Html,
}

pub(crate) fn text(path: &Path) -> Dynamic {
    path.display().to_string().into()
}

pub(crate) fn param(name: &str, value: impl Into<Dynamic>) -> Param {
    Param { name: name.into(), value: value.into() }
}

/// The flags every audit has.
#[derive(clap::Args, Debug, Default)]
pub struct ReportArgs {
    /// Where the report (report.html, report.md, report.json) and the audit's own files go
    /// (default: ./AUDIT-TIME); s3://bucket/prefix puts them there once written, with
    /// uploaded.json listing each object's ETag and version.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Server-side encryption of a report put in S3: AES256 or aws:kms.
    #[arg(long, value_name = "ALGORITHM", requires = "out", value_parser = ["AES256", "aws:kms", "aws:kms:dsse"])]
    pub sse: Option<String>,
    /// The KMS key for --sse aws:kms (default: the bucket's AWS managed key).
    #[arg(long, value_name = "KEY", requires = "sse")]
    pub sse_kms_key_id: Option<String>,
    /// Run this copy of the audit script instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Print the result as JSON on stdout instead of text (report.json, or for ci-failure and
    /// error-budget the whole triage or attestation): --output-format json.
    #[arg(long, conflicts_with = "output_format")]
    pub json: bool,
    /// What to print on stdout: text, json, json-audit (the signed execution record), md or html.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t)]
    pub output_format: OutputFormat,
    /// Print nothing on stdout (the demo prints its own summary).
    #[arg(skip)]
    pub quiet: bool,
}

/// `--out`, or `./NAME-TIME`; for `--out s3://...`, the local folder it is written to first.
pub(crate) fn out_dir(out: &Option<PathBuf>, name: &str) -> PathBuf {
    if out.as_ref().is_some_and(|o| o.to_string_lossy().starts_with("s3://")) {
        return s3_out::staging(name);
    }
    out.clone().unwrap_or_else(|| PathBuf::from(format!("{name}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))))
}

/// Fail with a usage error unless every path exists.
pub(crate) fn must_exist<'a>(flag: &str, paths: impl IntoIterator<Item = &'a PathBuf>) -> Result<(), u8> {
    for path in paths {
        if !path.exists() {
            error(format!("{flag} {}: no such file or folder", path.display()));
            return Err(exit::USAGE);
        }
    }
    Ok(())
}

/// Run `script` (or the `--script` file) with `params` plus OUT and JSON, then put the sealed
/// log's path and verification into the report in `out`, and print what --output-format asks.
pub(crate) fn run(settings: &Settings, script: &Script, out: &Path, params: Vec<Param>, flags: &ReportArgs) -> u8 {
    let code = run_here(settings, script, out, params, flags);
    s3_out::finish(out, flags, code)
}

/// [`run`], with the report in the local folder `out`.
fn run_here(settings: &Settings, script: &Script, out: &Path, mut params: Vec<Param>, flags: &ReportArgs) -> u8 {
    let format = if flags.json { OutputFormat::Json } else { flags.output_format };
    // The script's own value is printed for text and json; the others print files afterwards.
    let json = format == OutputFormat::Json;
    let quiet = flags.quiet || !matches!(format, OutputFormat::Text | OutputFormat::Json);
    let (label, source) = match flags.script.as_deref() {
        None => (PathBuf::from(script.path), script.text.to_string()),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (path.to_path_buf(), t),
            Err(e) => {
                error(format!("--script {}: {e}", path.display()));
                return exit::USAGE;
            }
        },
    };
    params.push(param("OUT", text(out)));
    params.push(param("JSON", json));
    let mut options = match settings.options(Mode::Run) {
        Ok(o) => o,
        Err(code) => return code,
    };
    options.script = Some((label.clone(), source.clone().into_bytes()));
    options.params = params;
    if format != OutputFormat::Text {
        // stdout is the format's alone: what the script prints goes to stderr.
        options.output = Output::Stderr;
    }
    let mut attach_failed = false;
    let mut parts = None;
    let code = run_session_sealed(
        options,
        json,
        |session| {
            let value = session.run_script(&label, &source);
            parts = session.record_parts();
            value.map(|v| if quiet { Dynamic::UNIT } else { v })
        },
        |sealed| {
            if !out.join("report.json").exists() {
                return;
            }
            let log = super::log::verify_sealed(&sealed.path, sealed.entries as usize);
            let verified = log.verified;
            match deployclaw::report::attach_log(out, log) {
                Ok(written) if format == OutputFormat::Text && !flags.quiet => {
                    eprintln!("report: {} (and report.md, report.json)", written.html.display());
                    if !verified {
                        error(format!("the session log {} did not verify", sealed.path.display()));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    error(format!("adding the session log to the report: {e}"));
                    attach_failed = true;
                }
            }
        },
    );
    if attach_failed && code == exit::OK {
        return exit::FAILED;
    }
    let printed = match format {
        OutputFormat::Text | OutputFormat::Json => Ok(()),
        OutputFormat::Md => print_file(&out.join("report.md")),
        OutputFormat::Html => print_file(&out.join("report.html")),
        OutputFormat::JsonAudit => record::write(script.audit, out, parts),
    };
    match printed {
        Ok(()) => code,
        Err(message) => {
            error(message);
            if code == exit::OK { exit::FAILED } else { code }
        }
    }
}

/// Print a report file the audit wrote.
fn print_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e} (the audit wrote no report)", path.display()))?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &text).map_err(|e| format!("writing to stdout: {e}"))
}
