//! The `deployclaw` command line. Thin: parses arguments, starts a session or a log command, and
//! maps outcomes to exit codes.

mod cli;

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    the script failed (parse or runtime error), or a log did not verify
  2    usage error: bad arguments, a missing or unreadable file
  3    the script recorded a finding of severity \"error\" (evidence::finding)
  130  interrupted with Ctrl-C

Environment:
  DEPLOYCLAW_HOME    where keys, session logs and history live (default: the user data dir)
  DEPLOYCLAW_STDLIB  a folder of stdlib modules to use instead of the built-in ones";

const GUARD_EXIT_CODES: &str = "\
Exit codes:
  0    every statement is allowed
  2    usage error: bad arguments, an unreadable or invalid tenancy map
  3    at least one statement is denied";

/// An embedded-scripting automation shell for auditing multi-tenant services.
///
/// With no command, starts the interactive shell (or, when stdin is not a terminal, runs the
/// statements read from stdin as one script). Every session writes a signed, tamper-evident log.
#[derive(Parser, Debug)]
#[command(name = "deployclaw", version, after_help = EXIT_CODES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    session: SessionArgs,
}

/// Options of every session (REPL, stdin, run).
#[derive(Args, Debug, Clone)]
struct SessionArgs {
    /// Write the signed session log to this file (it must not exist) instead of the sessions folder.
    #[arg(long, global = true, value_name = "PATH")]
    log: Option<PathBuf>,
    /// Send AWS calls to this endpoint instead of AWS's own (moto, LocalStack, a VPC endpoint);
    /// AWS_ENDPOINT_URL does the same.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Sign the session log's seals with this AWS KMS key (id, ARN or alias; an ECC_NIST_P256
    /// SIGN_VERIFY key) instead of the local key. Its public key goes into every seal.
    #[arg(long, global = true, value_name = "KEY_ID", env = "DEPLOYCLAW_KMS_KEY")]
    kms_key: Option<String>,
    /// Who signs the session log: `local` (the local ed25519 key, the default) or `kms://KEY_ID`
    /// (the same as --kms-key KEY_ID).
    #[arg(long, global = true, value_name = "SIGNER", value_parser = parse_signer, conflicts_with = "kms_key")]
    sign_with: Option<Signer>,
    /// Really perform writes; without it, runbooks run dry (writes are rolled back).
    #[arg(long, global = true)]
    execute: bool,
    /// Operations one statement may run before it is stopped (0: no limit).
    #[arg(long, global = true, value_name = "N", default_value_t = deployclaw::engine::Limits::default().max_operations)]
    max_operations: u64,
    /// Nested function calls allowed.
    #[arg(long, global = true, value_name = "N", default_value_t = deployclaw::engine::Limits::default().max_call_depth)]
    max_call_depth: usize,
    /// Longest string allowed, in bytes.
    #[arg(long, global = true, value_name = "BYTES", default_value_t = deployclaw::engine::Limits::default().max_string_size)]
    max_string_size: usize,
    /// Most items allowed in one array.
    #[arg(long, global = true, value_name = "N", default_value_t = deployclaw::engine::Limits::default().max_array_size)]
    max_array_size: usize,
    /// How long one database statement may run (30s, 5m, 1h; 0: no limit). The server enforces
    /// it too; a statement stopped for it, or by Ctrl-C, is cancelled on the server and its
    /// transaction rolled back.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    statement_timeout: Timeout,
    /// Seal the session log after this many entries: what a crash can leave unsealed. The REPL
    /// and notebooks also seal whenever they wait for input.
    #[arg(long, global = true, value_name = "N", default_value_t = deployclaw::evidence::CheckpointPolicy::default().entries, value_parser = clap::value_parser!(u64).range(1..))]
    seal_every: u64,
    /// Seal the session log when an entry comes this long after the last seal (10s, 1m).
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = deployclaw::units::parse_duration)]
    seal_interval: std::time::Duration,
}

/// A statement timeout; `None` when it is 0.
#[derive(Debug, Clone, Copy)]
struct Timeout(Option<std::time::Duration>);

fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let d = deployclaw::units::parse_duration(text)?;
    Ok(Timeout((!d.is_zero()).then_some(d)))
}

// Parsed once per process: the size of the largest variant (an audit's flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run a saved script (runbook).
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The .rhai script to run.
        script: PathBuf,
        /// A constant for the script: NAME=VALUE (integers, floats and true/false are typed;
        /// anything else is a string; NAME:str=VALUE keeps VALUE a string).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Print the script's final value as JSON on stdout (a Frame as an array of records), and
        /// nothing else: print() output goes to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Heap dumps: histograms, diffs, dominators, leak suspects, tenants and secrets.
    #[command(subcommand)]
    Heap(HeapCommand),
    /// Audits that end in a report, findings and an exit code.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check SQL statements against a tenancy map: each is allowed only when every read and write
    /// of a tenant table is provably restricted to the tenant parameter.
    #[command(after_help = GUARD_EXIT_CODES)]
    Guard {
        /// The tenancy map (TOML): per table its tenant key, or root, global, via or partition_of.
        #[arg(long, value_name = "FILE")]
        tenancy: PathBuf,
        /// The SQL dialect the statements are written in.
        #[arg(long, value_name = "DIALECT", value_parser = ["postgres", "mysql", "mariadb", "sqlite"])]
        dialect: String,
        /// The placeholder that carries the tenant id (default: $1 for postgres, the first ? for
        /// mysql, ?1 for sqlite).
        #[arg(long, value_name = "NAME")]
        tenant_param: Option<String>,
        /// Check as this tenant: with `tenant_schemas` in the map, its own schema is reachable
        /// and every other tenant's is refused.
        #[arg(long, value_name = "ID")]
        tenant: Option<String>,
        /// Print one JSON object per statement on stdout: {"sql", "verdict", "reasons"}.
        #[arg(long)]
        json: bool,
        /// One statement, or - to read one statement per line from stdin.
        #[arg(value_name = "SQL")]
        sql: String,
    },
    /// Notebooks: run .ipynb investigations headless in one signed session.
    #[command(subcommand)]
    Notebook(NotebookCommand),
    /// The Jupyter kernel: `kernel --connection-file F` serves one notebook (one signed session
    /// log); `kernel install [--user]` registers it with Jupyter.
    Kernel {
        #[command(subcommand)]
        action: Option<KernelCommand>,
        /// The connection file Jupyter starts the kernel with.
        #[arg(long, value_name = "FILE", required = false)]
        connection_file: Option<PathBuf>,
    },
    /// Inspect and verify signed session logs.
    #[command(subcommand)]
    Log(LogCommand),
    /// Build logs: mine the templates of their lines.
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Create the local signing key if there is none, and print its public key (PEM).
    /// The keys `log verify` trusts: list them, trust a public key or an AWS KMS key, revoke one.
    #[command(subcommand)]
    Keys(KeysCommand),
    Keygen {
        /// Replace an existing key. Logs signed by the old key then need --pubkey to verify.
        #[arg(long)]
        force: bool,
    },
    /// Build a self-contained demo scenario (SQLite, CI logs, SLOs and alert rules, heap dumps,
    /// each with a planted problem), run the four audits on it, and print what each found, where
    /// its report is and whether its signed log verified. Needs no server and no cloud.
    Demo {
        /// A new or empty folder for the scenario and the reports.
        #[arg(default_value = "deployclaw-demo")]
        dir: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Triage failed CI jobs: the cause of each (with the lines that prove it), the tenants
    /// they touch (from the logs, the schema registry and each tenant's migration history), the
    /// cascade over the service graph, a rollback risk per tenant, and a playbook per affected
    /// tenant. Writes report.md, report.json and the playbooks to --out, prints the report, and
    /// exits 3 when a tenant's risk is over the threshold.
    #[command(after_help = EXIT_CODES)]
    CiFailure(cli::audit::CiFailure),
    /// Check the alert rules deployed (CloudWatch, CloudFormation, Terraform, Prometheus,
    /// PagerDuty, SQL) against the SLOs and against each other: every drift is a finding
    /// (exit 3); writes attestation.json and attestation.md with the rules' checksums and
    /// prints the attestation.
    #[command(after_help = EXIT_CODES)]
    ErrorBudget(cli::audit::ErrorBudget),
    /// Find which service, version and tenant leaks memory: dumps of running JVMs (or dumps on
    /// disk) over time, compared with a saved baseline profile per class and tenant, lined up
    /// with connection-pool samples and CloudWatch memory. Each leaking service is an error
    /// finding (exit 3); writes report.html, report.md and report.json to --out.
    #[command(after_help = EXIT_CODES)]
    MemoryLeaks(cli::audit::MemoryLeaks),
    /// Run an incident runbook that may touch one tenant: validate the schema's tenant keys,
    /// check the Rust row structs against the tables, guard every statement before any runs
    /// (halting with a reproduction case at the first unsafe one), then run all of them in one
    /// transaction, rolled back unless --execute. Writes the report to --out.
    #[command(after_help = EXIT_CODES)]
    TenantIsolation(cli::audit::TenantIsolation),
    /// Check an audit's execution record (audit-record.json, from --output-format json-audit):
    /// its signature against the keys trusted here (the local key, keys you trusted, or
    /// --pubkey), and that the report.json beside it is the one it signed. Exit 1 naming what
    /// is wrong.
    #[command(
        after_help = "Example:\n  deployclaw audit verify memory-leaks-report/audit-record.json --pubkey signer.pem"
    )]
    Verify {
        /// The record.
        file: PathBuf,
        /// A PEM public key to trust (repeatable); without it, the keys trusted on this machine.
        #[arg(long, value_name = "PEM")]
        pubkey: Vec<PathBuf>,
        /// Print the result and the record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KernelCommand {
    /// Write the kernelspec (kernel.json) so Jupyter lists "deployclaw (Rhai)".
    Install {
        /// Into your own Jupyter data folder instead of the system-wide one.
        #[arg(long)]
        user: bool,
        /// Into PREFIX/share/jupyter/kernels (a virtualenv's sys.prefix).
        #[arg(long, value_name = "PREFIX", conflicts_with = "user")]
        prefix: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum NotebookCommand {
    /// Run the code cells in order in one session (parameters after the cell tagged
    /// `parameters`, as papermill does) and write the notebook back with every cell's outputs:
    /// text, HTML tables for Frames, SVG for charts, errors with their position. Stops at the
    /// first failing cell unless --allow-errors; the signed log's path goes into the metadata.
    #[command(after_help = EXIT_CODES)]
    Run(cli::notebook::RunNotebook),
}

#[derive(Subcommand, Debug)]
enum HeapCommand {
    /// The class histogram of a dump (HPROF, plain or gzip) with the JVM's real shallow sizes.
    #[command(after_help = EXIT_CODES)]
    Histogram {
        /// The heap dump, e.g. from `jcmd PID GC.heap_dump FILE`.
        file: PathBuf,
        /// Only the N largest classes.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Per-class growth between dumps, oldest first; exits 3 when a class grows past the threshold.
    #[command(after_help = EXIT_CODES)]
    Diff {
        /// Two or more dumps, oldest first.
        #[arg(required = true, num_args = 2.., value_name = "DUMP")]
        dumps: Vec<PathBuf>,
        /// "15%" of a class's own bytes (classes under 0.1% of the heap ignored) or a size like "10MB".
        #[arg(long, value_name = "P")]
        threshold_delta: Option<String>,
        /// Only the N classes that grew most.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// The objects that keep the most memory alive (top of the dominator tree), with retained sizes.
    #[command(after_help = EXIT_CODES)]
    Dominators {
        file: PathBuf,
        /// How many (default 20).
        #[arg(long, value_name = "N", default_value_t = 20)]
        top: usize,
        /// Retained size per class instead of per object.
        #[arg(long)]
        by_class: bool,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Leak suspects (>10% of the heap) with their accumulation points and paths from the GC roots.
    #[command(after_help = EXIT_CODES)]
    Suspects {
        file: PathBuf,
        /// An earlier dump of the same service: report each suspect's growth since then.
        #[arg(long, value_name = "DUMP")]
        baseline: Option<PathBuf>,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Memory per tenant and cross-tenant references; with several dumps, growth per tenant.
    #[command(after_help = EXIT_CODES)]
    Tenants {
        /// One dump, or several of the same service, oldest first.
        #[arg(required = true, value_name = "DUMP")]
        dumps: Vec<PathBuf>,
        /// CLASS.FIELD (e.g. com.acme.Tenant.name), map:CLASS.STATIC_FIELD, threadlocal:CLASS.STATIC_FIELD or loader[:FIELD].
        #[arg(long, value_name = "RULE")]
        rule: String,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// What the memory-leak audit needs of one instance's dumps (totals, latest histogram, growth,
    /// tenants, what holds the growth), as one answer: run where the dumps are (near-data mode).
    #[command(after_help = EXIT_CODES)]
    Analyze {
        /// The instance's dumps, oldest first.
        #[arg(required = true, value_name = "DUMP")]
        dumps: Vec<PathBuf>,
        /// The tenant rule, as for `heap tenants`.
        #[arg(long, value_name = "RULE")]
        rule: Option<String>,
        /// "15%": a class grows when its bytes grow more than that (classes under 0.1% of the heap ignored).
        #[arg(long, value_name = "P", default_value = "15%")]
        threshold_delta: String,
        /// Print the answer as JSON on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Secrets (AWS keys, private keys, JWTs, URL passwords) left in the heap, shown redacted; exits 3 if any.
    #[command(after_help = EXIT_CODES)]
    Secrets {
        file: PathBuf,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
    /// The shortest strong reference path from a GC root to an object.
    #[command(after_help = EXIT_CODES)]
    Path {
        file: PathBuf,
        /// The object id, as the other commands print it (0x...).
        object: String,
        /// Print the rows as a JSON array of records on stdout, and nothing else.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum LogsCommand {
    /// The template of every line (Drain-style mining: values become <*>, words stay): the
    /// templates by how many lines they cover, or with --json one object per line.
    Templates {
        /// A build log (plain or gzip), a folder of them, or - for stdin.
        file: PathBuf,
        /// The log format, instead of detecting it: github-actions, jenkins, codebuild or plain.
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
        /// Print one JSON object per input line, in input order: {"line", "template_id", "template"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// The local key, the public keys and the AWS KMS keys trusted here.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Trust a signer's public key (PEM), or an AWS KMS key for `log verify --kms`.
    #[command(
        after_help = "Examples:\n  deployclaw keys trust auditor.pem\n  deployclaw keys trust --kms-key arn:aws:kms:eu-west-1:111122223333:key/1234abcd-..."
    )]
    Trust {
        /// The public key file (PEM, ed25519 or P-256); or give an AWS KMS key (its ARN, key
        /// id or alias) with --kms-key.
        pem: Option<PathBuf>,
    },
    /// Stop trusting a key: a public key id (its first 8 or more characters) or an AWS KMS key.
    Revoke { key: String },
}

#[derive(Subcommand, Debug)]
enum LogCommand {
    /// Check a log's hash chain, seals and signatures; exit 1 naming every fault found.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The log to check (not with --chain).
        #[arg(required_unless_present = "chain", conflicts_with = "chain")]
        file: Option<PathBuf>,
        /// Check every session log of DIR (default: the sessions folder) against the machine's
        /// index of sealed sessions: names each removed, truncated, re-signed, reordered or
        /// crashed session, and tells sessions that ran at once from one taken out between them.
        #[arg(long, value_name = "DIR", num_args = 0..=1)]
        chain: Option<Option<PathBuf>>,
        /// Trust this public key (PEM, ed25519 or P-256) instead of the local key and the AWS KMS
        /// keys this machine signed with; repeat for several.
        #[arg(long, value_name = "PEM")]
        pubkey: Vec<PathBuf>,
        /// Ask AWS KMS to confirm every seal signed by a KMS key (KMS Verify), and trust the key
        /// when it does.
        #[arg(long)]
        kms: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a log's entries readably.
    Show {
        file: PathBuf,
        /// Print entries as JSON Lines (as stored).
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("DEPLOYCLAW_LOG"))
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let cli = Cli::parse_from(cli::audit_spelling(std::env::args_os()));
    if let Some(url) = &cli.session.endpoint_url {
        // SAFETY: no other thread exists yet; the AWS SDK reads the variable when clients are made.
        unsafe { std::env::set_var("AWS_ENDPOINT_URL", url) };
    }
    let code = match cli.command {
        None => cli::session::interactive_or_stdin(&cli.session.into()),
        Some(Command::Run { script, params, json }) => cli::session::run(&cli.session.into(), &script, &params, json),
        Some(Command::Audit(AuditCommand::CiFailure(args))) => cli::audit::ci_failure(&cli.session.into(), &args),
        Some(Command::Audit(AuditCommand::ErrorBudget(args))) => cli::audit::error_budget(&cli.session.into(), &args),
        Some(Command::Audit(AuditCommand::MemoryLeaks(args))) => cli::audit::memory_leaks(&cli.session.into(), &args),
        Some(Command::Audit(AuditCommand::TenantIsolation(args))) => {
            cli::audit::tenant_isolation(&cli.session.into(), &args)
        }
        Some(Command::Audit(AuditCommand::Verify { file, pubkey, json })) => cli::audit::verify(&file, &pubkey, json),
        Some(Command::Demo { dir }) => cli::demo::demo(&cli.session.into(), &dir),
        Some(Command::Notebook(NotebookCommand::Run(args))) => cli::notebook::run(&cli.session.into(), &args),
        Some(Command::Kernel { action: Some(KernelCommand::Install { user, prefix }), .. }) => {
            cli::kernel::install(user, prefix.as_deref())
        }
        Some(Command::Kernel { action: None, connection_file: Some(file) }) => {
            cli::kernel::serve(&cli.session.into(), &file)
        }
        Some(Command::Kernel { action: None, connection_file: None }) => {
            cli::error("kernel needs --connection-file FILE (Jupyter passes it), or `kernel install`");
            cli::exit::USAGE
        }
        Some(Command::Heap(HeapCommand::Histogram { file, top, json })) => {
            cli::heap::histogram(&cli.session.into(), &file, top, json)
        }
        Some(Command::Heap(HeapCommand::Diff { dumps, threshold_delta, top, json })) => {
            cli::heap::diff(&cli.session.into(), &dumps, threshold_delta.as_deref(), top, json)
        }
        Some(Command::Heap(HeapCommand::Dominators { file, top, by_class, json })) => {
            cli::heap::dominators(&cli.session.into(), &file, top, by_class, json)
        }
        Some(Command::Heap(HeapCommand::Suspects { file, baseline, json })) => {
            cli::heap::suspects(&cli.session.into(), &file, baseline.as_deref(), json)
        }
        Some(Command::Heap(HeapCommand::Tenants { dumps, rule, json })) => {
            cli::heap::tenants(&cli.session.into(), &dumps, &rule, json)
        }
        Some(Command::Heap(HeapCommand::Analyze { dumps, rule, threshold_delta, json })) => {
            cli::heap::analyze(&cli.session.into(), &dumps, rule.as_deref(), &threshold_delta, json)
        }
        Some(Command::Heap(HeapCommand::Secrets { file, json })) => {
            cli::heap::secrets(&cli.session.into(), &file, json)
        }
        Some(Command::Heap(HeapCommand::Path { file, object, json })) => {
            cli::heap::path(&cli.session.into(), &file, &object, json)
        }
        Some(Command::Guard { tenancy, dialect, tenant_param, tenant, json, sql }) => {
            let options = cli::guard::Options {
                tenancy: &tenancy,
                dialect: &dialect,
                tenant_param: tenant_param.as_deref(),
                tenant: tenant.as_deref(),
                json,
            };
            cli::guard::run(&options, &sql)
        }
        Some(Command::Log(LogCommand::Verify { file, chain, pubkey, kms, json })) => {
            let only_kms_key = cli.session.kms_key.as_deref();
            match (file, chain) {
                (_, Some(dir)) => cli::chain::verify_chain(dir.as_deref(), &pubkey, kms, only_kms_key, json),
                (Some(file), None) => cli::log::verify(&file, &pubkey, kms, only_kms_key, json),
                // clap requires one of them.
                (None, None) => cli::exit::USAGE,
            }
        }
        Some(Command::Log(LogCommand::Show { file, json })) => cli::log::show(&file, json),
        Some(Command::Logs(LogsCommand::Templates { file, format, json })) => {
            cli::logs::templates(&file, format.as_deref(), json)
        }
        Some(Command::Keygen { force }) => cli::log::keygen(force),
        Some(Command::Keys(KeysCommand::List { json })) => cli::log::keys_list(json),
        Some(Command::Keys(KeysCommand::Trust { pem })) => {
            cli::log::keys_trust(pem.as_deref(), cli.session.kms_key.as_deref())
        }
        Some(Command::Keys(KeysCommand::Revoke { key })) => cli::log::keys_revoke(&key),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "deployclaw", &mut std::io::stdout());
            0
        }
    };
    ExitCode::from(code)
}

/// The signer `--sign-with` names.
#[derive(Debug, Clone, PartialEq)]
enum Signer {
    Local,
    Kms(String),
}

fn parse_signer(text: &str) -> Result<Signer, String> {
    match text.strip_prefix("kms://") {
        Some("") => Err("kms:// needs a key: kms://KEY_ID (an id, ARN or alias)".into()),
        Some(key) => Ok(Signer::Kms(key.to_string())),
        None if text == "local" => Ok(Signer::Local),
        None => Err(format!("{text:?}: give local or kms://KEY_ID")),
    }
}

impl From<SessionArgs> for cli::session::Settings {
    fn from(args: SessionArgs) -> Self {
        let kms_key = match args.sign_with {
            Some(Signer::Kms(key)) => Some(key),
            Some(Signer::Local) => None,
            None => args.kms_key,
        };
        cli::session::Settings {
            log: args.log,
            kms_key,
            execute: args.execute,
            limits: deployclaw::engine::Limits {
                max_operations: args.max_operations,
                max_call_depth: args.max_call_depth,
                max_string_size: args.max_string_size,
                max_array_size: args.max_array_size,
                statement_timeout: args.statement_timeout.0,
                ..Default::default()
            },
            checkpoint: deployclaw::evidence::CheckpointPolicy {
                entries: args.seal_every,
                interval: args.seal_interval,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Signer, parse_signer};

    #[test]
    fn signers_are_local_or_a_kms_key() {
        assert_eq!(parse_signer("local"), Ok(Signer::Local));
        assert_eq!(parse_signer("kms://alias/audit"), Ok(Signer::Kms("alias/audit".into())));
        assert!(parse_signer("kms://").unwrap_err().contains("kms://KEY_ID"));
        assert!(parse_signer("gpg").unwrap_err().contains("local or kms://KEY_ID"));
    }
}
