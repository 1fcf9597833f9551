//! The only place that knows Rhai: builds the engine, registers every capability's functions
//! with their docs, bridges async calls onto tokio, and runs sessions.

pub mod api;
mod aws_api;
mod bridge;
mod ci_api;
mod ci_sources;
mod collect_api;
mod convert;
mod core_api;
mod display;
mod evidence_api;
mod fleet_api;
mod fleet_near;
mod frame_api;
mod heap_api;
mod heap_graph_api;
pub mod lexer;
mod live_api;
mod panics;
mod playbook_script;
mod progress;
mod render;
mod report_api;
mod retention_api;
mod s3_paths;
mod session;
mod slo_api;
mod sql_api;
mod statements;
mod stdlib;
mod triage_api;

pub use api::{Docs, Example, FnDoc};
pub use bridge::{Bridge, Cancelled, Interrupt};
pub use convert::{from_json, literal, shape, string_literal, to_json, type_name};
pub use display::{Display, display};
pub use render::render;
pub use session::{Failure, LogTarget, Mode, Param, Session, SessionOptions, Var};
pub use stdlib::{StdlibFn, StdlibSource, documented_functions};

use crate::evidence::{self, Finding, Recorder};
use rhai::{Dynamic, Engine, EvalAltResult, Position};
use std::path::PathBuf;
use std::sync::MutexGuard;
use std::sync::{Arc, Mutex, OnceLock};

/// Resource limits for scripts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Operations one statement may run; 0 means no limit.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Items in one array.
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
    /// How long one database statement may run, on the server and here; `None`: no limit.
    pub statement_timeout: Option<std::time::Duration>,
}

/// Long enough for any runbook statement; short enough that a forgotten query does not hold
/// its locks on a production database for the night.
pub const DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000_000,
            max_call_depth: 64,
            max_string_size: 64 << 20,
            max_array_size: 10_000_000,
            max_map_size: 1_000_000,
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
        }
    }
}

/// Where `print` goes: stdout, or stderr when stdout is reserved for `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// Where a kernel sends print() output as it happens.
pub type PrintSink = Box<dyn Fn(&str) + Send + Sync>;

/// State that registered functions share with the session.
pub struct Shared {
    bridge: Bridge,
    statement_timeout: Option<std::time::Duration>,
    log: Mutex<Option<Recorder>>,
    findings: Mutex<Vec<Finding>>,
    docs: OnceLock<Arc<Docs>>,
    temp_dir: Mutex<Option<PathBuf>>,
    session_id: String,
    graphs: heap_graph_api::GraphCache,
    aws: aws_api::AwsState,
    /// `--execute`: runbook writes are kept instead of rolled back.
    execute: std::sync::atomic::AtomicBool,
    /// While Some, print() goes here instead of stdout (a notebook cell's stream output).
    captured: Mutex<Option<String>>,
    /// While Some, print() is handed to it as it happens (a kernel's live stream output).
    print_sink: Mutex<Option<PrintSink>>,
    /// Why the session log could not be written, once it could not: from then on nothing runs.
    log_broken: Mutex<Option<String>>,
    /// The steps the run reported (`evidence::step`), and when the last one ended.
    steps: Mutex<(Vec<evidence::record::Step>, std::time::Instant)>,
    /// `s3://` addresses already copied into the temporary folder, by address.
    s3_copies: Mutex<std::collections::HashMap<String, s3_paths::Local>>,
}

impl Shared {
    fn new(session_id: String, statement_timeout: Option<std::time::Duration>) -> Shared {
        Shared {
            bridge: Bridge::default(),
            statement_timeout,
            log: Mutex::new(None),
            findings: Mutex::new(Vec::new()),
            docs: OnceLock::new(),
            temp_dir: Mutex::new(None),
            session_id,
            graphs: Default::default(),
            execute: Default::default(),
            aws: Default::default(),
            captured: Mutex::new(None),
            print_sink: Mutex::new(None),
            log_broken: Mutex::new(None),
            steps: Mutex::new((Vec::new(), std::time::Instant::now())),
            s3_copies: Mutex::new(Default::default()),
        }
    }

    /// A step ended now: kept for the execution record, timed from the previous one.
    fn add_step(&self, action: &str, result: &str, details: serde_json::Value) -> evidence::record::Step {
        let mut steps = self.steps.locked();
        let now = std::time::Instant::now();
        let step = evidence::record::Step {
            action: evidence::redact(action).into_owned(),
            result: result.to_string(),
            details,
            duration_ms: u64::try_from(now.duration_since(steps.1).as_millis()).unwrap_or(u64::MAX),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        steps.0.push(step.clone());
        steps.1 = now;
        step
    }

    /// How databases opened in this session run statements: stopped by this session's
    /// interrupts and statement timeout.
    pub(crate) fn db_settings(self: &Arc<Self>) -> crate::sql::db::Settings {
        crate::sql::db::Settings { cancel: self.clone(), statement_timeout: self.statement_timeout }
    }

    /// Whether the session runs with `--execute`.
    fn execute(&self) -> bool {
        self.execute.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Append to the session log, if there is one. The log fails closed: once an entry cannot
    /// be written (a full disk, a folder made read-only), this and every later call fails, and
    /// the session runs nothing more, so no write happens that the log does not show.
    fn record(
        &self,
        write: impl FnOnce(&mut Recorder) -> Result<(), evidence::Error>,
    ) -> Result<(), Box<EvalAltResult>> {
        if let Some(why) = self.log_broken.locked().as_ref() {
            return Err(rt_error(format!("the session log cannot be written ({why}); nothing more runs")));
        }
        match self.log.locked().as_mut() {
            Some(log) => write(log).map_err(|e| {
                *self.log_broken.locked() = Some(e.to_string());
                rt_error(format!("the session log cannot be written ({e}); nothing more runs"))
            }),
            None => Ok(()),
        }
    }

    /// Why the log cannot be written, if it cannot.
    fn log_broken(&self) -> Option<String> {
        self.log_broken.locked().clone()
    }

    /// Record a finding in the log and in the session's list.
    fn add_finding(&self, finding: Finding) -> Result<(), Box<EvalAltResult>> {
        self.record(|log| log.finding(&finding))?;
        self.findings.locked().push(finding);
        Ok(())
    }

    fn log_path(&self) -> Option<PathBuf> {
        self.log.locked().as_ref().map(|l| l.path().to_path_buf())
    }

    fn help(&self, name: Option<&str>) -> Result<String, String> {
        let docs = self.docs.get().expect("docs are set when the engine is built");
        match name {
            Some(name) => docs
                .get(name)
                .map(FnDoc::help)
                .ok_or_else(|| format!("no function named {name:?}; help() lists them all")),
            None => Ok(render::function_list(docs)),
        }
    }

    fn temp_path(&self, name: &str) -> Result<PathBuf, String> {
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(format!("temp_path: {name:?} must be a plain file name"));
        }
        let mut dir = self.temp_dir.locked();
        if dir.is_none() {
            let path = std::env::temp_dir().join(format!("deployclaw-{}", self.session_id));
            std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            *dir = Some(path);
        }
        Ok(dir.as_ref().expect("set above").join(name))
    }

    fn remove_temp_dir(&self) {
        if let Some(dir) = self.temp_dir.locked().take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A runtime error from a registered function.
pub(crate) fn rt_error(message: impl ToString) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(message.to_string()), Position::NONE))
}

/// An error in what the user gave (a file that is no dump, a folder with no logs, a bad
/// parameter) rather than in the script: a run ends with the usage exit code, 2.
#[derive(Debug, Clone)]
pub(crate) struct InputError(pub String);

pub(crate) fn input_error(message: impl ToString) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(InputError(message.to_string())), Position::NONE))
}

/// The message of an [`InputError`] anywhere in `err`'s chain (a module function's error comes
/// wrapped in the call that reached it).
pub(crate) fn input_error_in(err: &EvalAltResult) -> Option<String> {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<InputError>().map(|e| e.0),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
            input_error_in(inner)
        }
        _ => None,
    }
}

impl crate::cancel::CancelSource for Shared {
    fn current(&self) -> crate::cancel::Cancel {
        self.bridge.cancel()
    }
}

/// Wait for database `work`, which stops itself (on the server too) when the statement is
/// interrupted: it is given time to, rather than dropped at once as [`block`] does.
pub(crate) fn block_db<T>(s: &Shared, work: impl std::future::Future<Output = T>) -> Result<T, Box<EvalAltResult>> {
    s.bridge.block_on_stoppable(|| work).map_err(|_| cancelled())
}

/// The error that ends a statement as Ctrl-C does.
fn cancelled() -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated("cancelled".into(), Position::NONE))
}

/// Wait for `work` on the bridge's runtime; Ctrl-C ends the statement as it does a script.
pub(crate) fn block<T>(s: &Shared, work: impl std::future::Future<Output = T>) -> Result<T, Box<EvalAltResult>> {
    s.bridge.block_on(|| work).map_err(|_| cancelled())
}

/// Typed capability records as JSON records, for `frame_of`.
pub(crate) fn serialized<T: serde::Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items.iter().map(|i| serde_json::to_value(i).unwrap_or_default()).collect()
}

/// A function's result Frame from JSON records, with exactly these columns (also when empty).
pub(crate) fn frame_of(
    rows: &[serde_json::Value],
    columns: &[&str],
) -> Result<crate::frame::Frame, Box<EvalAltResult>> {
    crate::frame::Frame::from_records_as(rows, columns).map_err(rt_error)
}

/// Build an engine with every capability registered.
fn build_engine(shared: &Arc<Shared>, limits: Limits, stdlib: StdlibSource, output: Output) -> (Engine, Arc<Docs>) {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_expr_depths(256, 256)
        .set_module_resolver(stdlib::Resolver::new(stdlib));

    let s = shared.clone();
    engine.on_progress(move |_| s.bridge.cancelled().then(|| Dynamic::from("cancelled")));
    let s = shared.clone();
    engine.on_print(move |text| {
        let text = evidence::redact(text);
        if let Some(sink) = s.print_sink.locked().as_ref() {
            sink(&format!("{text}\n"));
            return;
        }
        if let Some(buffer) = s.captured.locked().as_mut() {
            buffer.push_str(&text);
            buffer.push('\n');
            return;
        }
        match output {
            Output::Stdout => println!("{text}"),
            Output::Stderr => eprintln!("{text}"),
        }
    });
    engine.on_debug(|text, source, pos| {
        let text = evidence::redact(text);
        match (source, pos.line()) {
            (Some(src), Some(line)) => eprintln!("[{src}:{line}] {text}"),
            (None, Some(line)) => eprintln!("[line {line}] {text}"),
            _ => eprintln!("{text}"),
        }
    });

    // Only for the tests of the statement boundary (tests/cli_run.rs, tests/repl.rs): a panic on
    // demand, since nothing else should panic. Off unless the variable is set.
    if std::env::var_os("DEPLOYCLAW_FAULT_INJECTION").is_some() {
        engine.register_fn("fault_injection_panic", |message: &str| -> Dynamic { panic!("{message}") });
    }

    // Shown by its message where a script catches it.
    engine
        .register_type_with_name::<InputError>("InputError")
        .register_fn("to_string", |e: &mut InputError| e.0.clone())
        .register_fn("to_debug", |e: &mut InputError| e.0.clone());

    let mut docs = Docs::default();
    {
        let mut api = api::Api::new(&mut engine, &mut docs);
        core_api::register(&mut api, shared);
        frame_api::register(&mut api);
        evidence_api::register(&mut api, shared);
        heap_api::register(&mut api, shared);
        heap_graph_api::register(&mut api, shared);
        retention_api::register(&mut api, shared);
        live_api::register(&mut api, shared);
        fleet_api::register(&mut api, shared);
        sql_api::register(&mut api, shared);
        collect_api::register(&mut api, shared);
        aws_api::register(&mut api, shared);
        ci_api::register(&mut api, shared);
        triage_api::register(&mut api, shared);
        slo_api::register(&mut api, shared);
        report_api::register(&mut api, shared);
    }
    let docs = Arc::new(docs);
    let _ = shared.docs.set(docs.clone());
    (engine, docs)
}

/// Locking that survives a panic. A statement that panics is caught at the statement boundary
/// and the session goes on; a lock it held is then poisoned, though what it guards (the log,
/// findings, caches) was never left half-changed by a panic: each is changed in one call.
pub(crate) trait Locked<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
