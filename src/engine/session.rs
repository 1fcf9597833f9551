//! A session: one engine and scope, evaluated statement by statement, each statement recorded in
//! the signed log.

use super::Locked;
use super::panics;
use super::{Limits, Output, Shared, StdlibSource, build_engine, convert, statements};
use crate::evidence::{
    self, CheckpointPolicy, Finding, LocalKey, Outcome, Recorder, SealSummary, SessionMeta, Severity, Signer,
};
use crate::paths::Home;
use rhai::{AST, Dynamic, Engine, EvalAltResult, Position, Scope, Stmt};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// How the session was started; recorded in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Repl,
    Run,
    Stdin,
    Notebook,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Repl => "repl",
            Mode::Run => "run",
            Mode::Stdin => "stdin",
            Mode::Notebook => "notebook",
        }
    }
}

/// Where the session log goes.
#[derive(Clone)]
pub enum LogTarget {
    /// A new file under the sessions directory.
    Default,
    /// This file (which must not exist).
    Path(PathBuf),
    /// No log. Only for tests of the engine itself.
    Off,
}

/// A script parameter, visible to the script as a constant.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub value: Dynamic,
}

/// Everything a session needs to start.
pub struct SessionOptions {
    pub mode: Mode,
    /// The script being run, for the log's metadata.
    pub script: Option<(PathBuf, Vec<u8>)>,
    pub execute: bool,
    pub params: Vec<Param>,
    pub limits: Limits,
    pub log: LogTarget,
    /// When the log is sealed between the final seals.
    pub checkpoint: CheckpointPolicy,
    /// Who signs the log's seals; the local key when none is given.
    pub signer: Option<Arc<dyn Signer>>,
    pub output: Output,
    pub stdlib: StdlibSource,
    /// Where keys and logs live, and the last seal is remembered.
    pub home: Home,
}

impl SessionOptions {
    pub fn new(mode: Mode) -> SessionOptions {
        SessionOptions {
            mode,
            script: None,
            execute: false,
            params: Vec::new(),
            limits: Limits::default(),
            log: LogTarget::Default,
            checkpoint: CheckpointPolicy::default(),
            signer: None,
            output: Output::Stdout,
            stdlib: StdlibSource::locate(),
            home: Home::from_env(),
        }
    }
}

/// Why evaluation stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A parse or runtime error, with where it happened.
    Error { message: String, origin: String, line: Option<usize>, column: Option<usize> },
    /// The user interrupted it.
    Cancelled,
    /// What the user gave is wrong (a file, a folder, a parameter); the message names it.
    Input { message: String, origin: String },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Cancelled => write!(f, "cancelled"),
            Failure::Error { message, origin, line: Some(line), column } => {
                write!(f, "{origin}:{line}")?;
                if let Some(column) = column {
                    write!(f, ":{column}")?;
                }
                write!(f, ": {message}")
            }
            Failure::Error { message, origin, .. } => write!(f, "{origin}: {message}"),
            Failure::Input { message, .. } => write!(f, "{message}"),
        }
    }
}

impl Failure {
    fn from_error(err: &EvalAltResult, origin: &str) -> Failure {
        if let Some(message) = super::input_error_in(err) {
            return Failure::Input { message: evidence::redact(&message).into_owned(), origin: origin.to_string() };
        }
        let pos = err.position();
        Failure::Error {
            message: strip_position(&err.to_string(), pos),
            origin: origin.to_string(),
            line: pos.line(),
            column: pos.position(),
        }
    }
}

/// Rhai appends " (line L, position P)" to messages; we show the position our own way.
fn strip_position(message: &str, pos: Position) -> String {
    let message = evidence::redact(message).into_owned();
    match (pos.line(), pos.position()) {
        (Some(l), Some(p)) => message.trim_end_matches(&format!(" (line {l}, position {p})")).to_string(),
        (Some(l), None) => message.trim_end_matches(&format!(" (line {l})")).to_string(),
        _ => message,
    }
}

/// A variable in scope, for `:vars` and completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub name: String,
    pub type_name: String,
    pub constant: bool,
}

/// An interactive or scripted session.
pub struct Session {
    engine: Engine,
    scope: Scope<'static>,
    shared: Arc<Shared>,
    docs: Arc<super::Docs>,
    /// Functions defined so far, kept across inputs.
    functions: AST,
    /// `import` statements run so far; re-run before each statement so modules stay visible.
    imports: Vec<Stmt>,
    /// Inputs that ran without error, for `:save`.
    history: Vec<String>,
    stdlib: StdlibSource,
    home: Home,
    closed: Option<SealSummary>,
    /// Keys the digests of statement values in the log; None without a log.
    value_key: Option<evidence::ValueKey>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn session_id() -> String {
    let mut bytes = [0u8; 8];
    // A clock-derived id is fine if the OS has no randomness to give.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64).to_le_bytes();
    }
    evidence::hex(&bytes)
}

fn user() -> String {
    ["USER", "LOGNAME", "USERNAME"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_else(|| "unknown".into())
}

/// The error a session can fail to start with.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the session log: {0}")]
pub struct StartError(#[from] evidence::Error);

impl Session {
    pub fn start(options: SessionOptions) -> Result<Session, StartError> {
        let id = session_id();
        let shared = Arc::new(Shared::new(id.clone(), options.limits.statement_timeout));
        shared.execute.store(options.execute, std::sync::atomic::Ordering::Relaxed);
        let (engine, docs) = build_engine(&shared, options.limits, options.stdlib.clone(), options.output);

        let mut scope = Scope::new();
        scope.push_constant("EXECUTE", options.execute);
        scope.push_constant("DRY_RUN", !options.execute);
        for param in options.params {
            scope.push_constant_dynamic(param.name, param.value);
        }

        let started = chrono::Utc::now();
        let path = match options.log {
            LogTarget::Off => None,
            LogTarget::Path(p) => Some(p),
            LogTarget::Default => Some(options.home.sessions_dir().join(format!(
                "{}-{}.jsonl",
                started.format("%Y%m%dT%H%M%SZ"),
                &id[..8]
            ))),
        };
        let signer_and_path = match (path, options.signer) {
            (None, _) => None,
            (Some(path), Some(signer)) => {
                if let Some((_, key)) = signer.remote() {
                    // The key was fetched from its holder with this machine's credentials: as
                    // trustworthy here as the local key, so `log verify` accepts it offline.
                    key.remember(&options.home.trusted_keys_dir())?;
                }
                Some((signer, path))
            }
            (Some(path), None) => {
                let (key, _) = LocalKey::load_or_create(&options.home.keys_dir())?;
                Some((Arc::new(key) as Arc<dyn Signer>, path))
            }
        };
        let mut value_key = None;
        if let Some((signer, path)) = signer_and_path {
            let (script, script_sha256) = match &options.script {
                Some((path, bytes)) => {
                    (Some(path.display().to_string()), Some(evidence::hex(&evidence::sha256(bytes))))
                }
                None => (None, None),
            };
            let meta = SessionMeta {
                id,
                tool: format!("deployclaw {}", env!("CARGO_PKG_VERSION")),
                user: user(),
                host: gethostname::gethostname().to_string_lossy().into_owned(),
                mode: options.mode.name().to_string(),
                script,
                script_sha256,
                dry_run: !options.execute,
                start: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                previous_seal: evidence::previous_seal(&options.home.chain_index(), &options.home.last_seal_file()),
            };
            let recorder = Recorder::create(&path, meta, signer, options.checkpoint)?;
            *shared.log.locked() = Some(recorder);
            value_key = Some(evidence::ValueKey::load_or_create(&options.home.keys_dir())?);
        }

        Ok(Session {
            engine,
            scope,
            shared,
            docs,
            functions: AST::empty(),
            imports: Vec::new(),
            history: Vec::new(),
            stdlib: options.stdlib,
            home: options.home,
            closed: None,
            value_key,
        })
    }

    /// Evaluate `source` (one or more statements). `origin` names it in errors: a script path,
    /// or `<repl>`. Returns the value of the last statement; stops at the first failure.
    pub fn eval(&mut self, source: &str, origin: &str) -> Result<Dynamic, Failure> {
        self.refuse_without_log(origin)?;
        self.shared.bridge.begin_statement();
        let started = now();
        let clock = Instant::now();
        let mut ast = match self.engine.compile_with_scope(&self.scope, source) {
            Ok(ast) => ast,
            Err(err) => {
                let failure = Failure::from_error(&EvalAltResult::from(err), origin);
                self.log_statement(source, &started, clock, &Err(failure.clone()));
                return Err(failure);
            }
        };
        ast.set_source(origin);
        self.functions = self.functions.merge(&ast.clone_functions_only());
        let lib = self.functions.shared_lib().clone();

        let parts = statements::split(source, &ast);
        if parts.is_empty() {
            // Only function definitions or comments.
            self.log_statement(source, &started, clock, &Ok(Dynamic::UNIT));
            self.history.push(source.to_string());
            return Ok(Dynamic::UNIT);
        }
        let mut last = Dynamic::UNIT;
        for (stmt, text) in parts {
            self.refuse_without_log(origin)?;
            let started = now();
            let clock = Instant::now();
            let is_import = matches!(stmt, Stmt::Import(..));
            let body: Vec<Stmt> = self.imports.iter().cloned().chain([stmt.clone()]).collect();
            let mut one = AST::new(body, lib.clone());
            one.set_source(origin);
            let result = match panics::catch(|| self.engine.eval_ast_with_scope::<Dynamic>(&mut self.scope, &one)) {
                Ok(result) => result,
                Err(panic) => {
                    // A bug, not the script's fault: say so, record it, and keep the session.
                    let failure = Failure::Error {
                        message: format!("internal error (a bug in deployclaw, please report it): {panic}"),
                        origin: origin.to_string(),
                        line: None,
                        column: None,
                    };
                    self.log_statement(text, &started, clock, &Err(failure.clone()));
                    return Err(failure);
                }
            };
            let outcome = match result {
                Ok(value) => Ok(value),
                Err(err) => match *err {
                    EvalAltResult::Exit(value, _) => {
                        self.log_statement(text, &started, clock, &Ok(value.clone()));
                        self.history.push(source.to_string());
                        return Ok(value);
                    }
                    _ if self.shared.bridge.cancelled() => Err(Failure::Cancelled),
                    EvalAltResult::ErrorTerminated(..) => Err(Failure::Cancelled),
                    ref other => Err(Failure::from_error(other, origin)),
                },
            };
            self.log_statement(text, &started, clock, &outcome);
            last = outcome?;
            if is_import {
                self.imports.push(stmt);
            }
        }
        self.history.push(source.to_string());
        Ok(last)
    }

    /// Nothing runs once the session log cannot be written (it fails closed).
    fn refuse_without_log(&self, origin: &str) -> Result<(), Failure> {
        match self.shared.log_broken() {
            None => Ok(()),
            Some(why) => Err(Failure::Error {
                message: format!("the session log cannot be written ({why}); nothing more runs in this session"),
                origin: origin.to_string(),
                line: None,
                column: None,
            }),
        }
    }

    fn log_statement(&self, source: &str, started: &str, clock: Instant, outcome: &Result<Dynamic, Failure>) {
        let outcome = match outcome {
            Ok(value) => match &self.value_key {
                Some(key) => Outcome::Value {
                    type_name: convert::type_name(value),
                    shape: convert::shape(value),
                    hmac_sha256: key.digest(&evidence::to_canonical_vec(&convert::to_json(value))),
                    key: key.id().to_string(),
                },
                // No log, so nothing is recorded.
                None => return,
            },
            Err(Failure::Cancelled) => Outcome::Cancelled,
            Err(failure) => Outcome::Error { message: failure.to_string() },
        };
        let elapsed = clock.elapsed();
        if let Err(err) = self.shared.record(|log| log.statement(source, started, elapsed, &outcome)) {
            // The next statement is refused (see Shared::record); say why now.
            tracing::error!("session log: {err}");
        }
    }

    /// Run a whole script file's text.
    pub fn run_script(&mut self, path: &Path, text: &str) -> Result<Dynamic, Failure> {
        self.eval(text, &path.display().to_string())
    }

    /// Collect print() output from now on instead of writing it out (for notebook cells).
    pub fn capture_prints(&self) {
        *self.shared.captured.locked() = Some(String::new());
    }

    /// The print() output collected since `capture_prints`; printing goes on being collected.
    pub fn take_prints(&self) -> String {
        self.shared.captured.locked().as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Hand print() output to `sink` as it happens (None: back to collecting or writing it).
    pub fn set_print_sink(&self, sink: Option<super::PrintSink>) {
        *self.shared.print_sink.locked() = sink;
    }

    /// Interrupt the statement in flight (from a signal-handling thread).
    pub fn interrupter(&self) -> impl Fn() + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.bridge.interrupt().trigger()
    }

    pub fn docs(&self) -> &super::Docs {
        &self.docs
    }

    /// A shared handle on the docs, for completion.
    pub fn docs_handle(&self) -> Arc<super::Docs> {
        self.docs.clone()
    }

    pub fn stdlib(&self) -> &StdlibSource {
        &self.stdlib
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Variables in scope, in definition order.
    pub fn vars(&self) -> Vec<Var> {
        self.scope
            .iter_raw()
            .map(|(name, constant, value)| Var {
                name: name.to_string(),
                type_name: convert::type_name(value),
                constant,
            })
            .collect()
    }

    /// Names of script-defined functions.
    pub fn script_functions(&self) -> Vec<String> {
        self.functions.iter_functions().map(|f| f.name.to_string()).collect()
    }

    /// Inputs evaluated without error, in order.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    pub fn findings(&self) -> Vec<Finding> {
        self.shared.findings.locked().clone()
    }

    /// Whether any finding has severity `error`.
    pub fn has_error_findings(&self) -> bool {
        self.findings().iter().any(|f| f.severity == Severity::Error)
    }

    pub fn log_path(&self) -> Option<PathBuf> {
        self.shared.log_path()
    }

    /// What the execution record of this run as an audit is made of, taken before the log is
    /// sealed (`--output-format json-audit`): the steps the script reported, its findings, and
    /// the signer of this session's log, which signs the record once the report is final. None
    /// when the session keeps no log: nothing would sign it.
    pub fn record_parts(&self) -> Option<evidence::record::Parts> {
        let log = self.shared.log.locked();
        let recorder = log.as_ref()?;
        let findings = self
            .findings()
            .iter()
            .map(|f| serde_json::json!({"severity": f.severity.to_string(), "title": evidence::redact(&f.title)}))
            .collect();
        Some(evidence::record::Parts {
            execution_id: recorder.meta().id.clone(),
            started_at: recorder.meta().start.clone(),
            steps: self.shared.steps.locked().0.clone(),
            findings,
            session_log: Some(recorder.path().display().to_string()),
            signer: recorder.signer_handle(),
        })
    }

    /// Seal what the log holds unsealed, as the REPL and the kernel do while they wait for
    /// input: an idle session leaves nothing unsealed for a crash to lose.
    pub fn seal_pending(&mut self) -> Result<(), evidence::Error> {
        match self.shared.log.locked().as_mut() {
            Some(recorder) if !recorder.is_closed() => recorder.seal_pending(),
            _ => Ok(()),
        }
    }

    /// Write the final seal and clean up. Later calls return the first summary.
    pub fn close(&mut self) -> Result<Option<SealSummary>, evidence::Error> {
        if let Some(summary) = &self.closed {
            return Ok(Some(summary.clone()));
        }
        self.shared.remove_temp_dir();
        let mut log = self.shared.log.locked();
        let Some(recorder) = log.as_mut() else { return Ok(None) };
        let summary = recorder.close()?;
        let sealed = evidence::chain::Sealed::new(recorder.meta(), &summary);
        // Signed by whoever signed the log's seals: a machine signing with a KMS key holds no
        // local key, and a verifier who trusts the seals trusts the index with them.
        evidence::chain::append(&self.home.chain_index(), &sealed, recorder.signer())?;
        self.closed = Some(summary.clone());
        Ok(Some(summary))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(err) = self.close() {
            tracing::error!("sealing the session log: {err}");
        }
    }
}
