//! Starting sessions: `run`, stdin scripts and the REPL.

use super::{error, exit};
use deployclaw::collect::kms::KmsSigner;
use deployclaw::engine::{Failure, Limits, LogTarget, Mode, Output, Param, Session, SessionOptions, render, to_json};
use deployclaw::evidence::SealSummary;
use rhai::Dynamic;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// Options shared by every kind of session.
pub struct Settings {
    pub log: Option<PathBuf>,
    pub kms_key: Option<String>,
    pub execute: bool,
    pub limits: Limits,
    pub checkpoint: deployclaw::evidence::CheckpointPolicy,
}

impl Settings {
    /// The session's options; fails (after saying why) when the KMS key cannot sign.
    pub fn options(&self, mode: Mode) -> Result<SessionOptions, u8> {
        let mut options = SessionOptions::new(mode);
        options.execute = self.execute;
        options.limits = self.limits;
        options.checkpoint = self.checkpoint;
        options.log = self.log.clone().map_or(LogTarget::Default, LogTarget::Path);
        if let Some(key) = &self.kms_key {
            let signer = KmsSigner::connect(&Default::default(), key).map_err(|e| {
                error(format!("--kms-key: {e}"));
                exit::USAGE
            })?;
            options.signer = Some(std::sync::Arc::new(signer));
        }
        Ok(options)
    }
}

/// Parse `NAME=VALUE` (typed) or `NAME:str=VALUE` (always a string).
pub fn parse_param(text: &str) -> Result<Param, String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("--param {text:?}: expected NAME=VALUE"))?;
    let (name, as_string) = match name.strip_suffix(":str") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "--param {text:?}: {name:?} is not a valid name (letters, digits and _, not starting with a digit)"
        ));
    }
    if matches!(name, "EXECUTE" | "DRY_RUN") {
        return Err(format!("--param {text:?}: {name} is set by --execute"));
    }
    let value: Dynamic = if as_string {
        value.into()
    } else if let Ok(i) = value.parse::<i64>() {
        i.into()
    } else if let Ok(f) = value.parse::<f64>().map_err(|_| ()).and_then(|f| if f.is_finite() { Ok(f) } else { Err(()) })
    {
        f.into()
    } else if let Ok(b) = value.parse::<bool>() {
        b.into()
    } else {
        value.into()
    };
    Ok(Param { name: name.to_string(), value })
}

fn start(options: SessionOptions) -> Result<Session, u8> {
    Session::start(options).map_err(|e| {
        error(e);
        exit::FAILED
    })
}

/// Forward Ctrl-C to the session while a statement runs. In the REPL the line editor reads
/// Ctrl-C as a key, so the signal only arrives while something is running.
pub fn forward_interrupts(session: &Session) {
    let interrupt = session.interrupter();
    match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT]) {
        Ok(mut signals) => {
            std::thread::Builder::new()
                .name("deployclaw-sigint".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        interrupt();
                    }
                })
                .expect("a thread starts");
        }
        Err(e) => tracing::warn!("Ctrl-C will not cancel statements: {e}"),
    }
}

fn width() -> usize {
    terminal_width().unwrap_or(100)
}

/// Columns of the terminal on stdout, if it is one; `$COLUMNS` wins.
pub fn terminal_width() -> Option<usize> {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(cols);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0 as usize)
}

/// Seal the log and turn the script's outcome into an exit code, printing the value. Findings
/// are listed on stderr so that a CI log shows them without opening the session log.
fn finish(mut session: Session, result: Result<Dynamic, Failure>, json: bool, sealed: impl FnOnce(&SealSummary)) -> u8 {
    for finding in session.findings() {
        eprintln!("{}", deployclaw::evidence::redact(&format!("finding [{}] {}", finding.severity, finding.title)));
    }
    let code = match &result {
        Ok(value) => {
            if json {
                let text = serde_json::to_string_pretty(&to_json(value)).expect("JSON values serialize");
                println!("{}", deployclaw::evidence::redact(&text));
            } else {
                let text = render(value, width());
                if !text.is_empty() {
                    println!("{text}");
                }
            }
            if session.has_error_findings() { exit::ERROR_FINDING } else { exit::OK }
        }
        Err(Failure::Cancelled) => {
            error("interrupted");
            exit::INTERRUPTED
        }
        Err(failure @ Failure::Input { .. }) => {
            error(failure);
            exit::USAGE
        }
        Err(failure) => {
            error(failure);
            exit::FAILED
        }
    };
    match session.close() {
        Ok(Some(summary)) => {
            if std::io::stderr().is_terminal() {
                eprintln!("session log: {} ({} entries, sealed)", summary.path.display(), summary.entries);
            }
            sealed(&summary);
        }
        Ok(None) => {}
        Err(e) => {
            error(format!("sealing the session log: {e}"));
            return exit::FAILED;
        }
    }
    code
}

/// Start a session, forward Ctrl-C to it, evaluate `body` in it, then seal the log and print
/// the value (as JSON on a stdout reserved for it when `json`). Returns the exit code.
pub fn run_session(
    options: SessionOptions,
    json: bool,
    body: impl FnOnce(&mut Session) -> Result<Dynamic, Failure>,
) -> u8 {
    run_session_sealed(options, json, body, |_| {})
}

/// As [`run_session`], then `sealed` is given the sealed log.
pub fn run_session_sealed(
    mut options: SessionOptions,
    json: bool,
    body: impl FnOnce(&mut Session) -> Result<Dynamic, Failure>,
    sealed: impl FnOnce(&SealSummary),
) -> u8 {
    if json {
        options.output = Output::Stderr;
    }
    let mut session = match start(options) {
        Ok(s) => s,
        Err(code) => return code,
    };
    forward_interrupts(&session);
    let result = body(&mut session);
    finish(session, result, json, sealed)
}

/// `deployclaw run SCRIPT`.
pub fn run(settings: &Settings, script: &Path, params: &[String], json: bool) -> u8 {
    let bytes = match std::fs::read(script) {
        Ok(b) => b,
        Err(e) => {
            error(format!("cannot read script {}: {e}", script.display()));
            return exit::USAGE;
        }
    };
    let Ok(text) = String::from_utf8(bytes.clone()) else {
        error(format!("script {} is not UTF-8 text", script.display()));
        return exit::USAGE;
    };
    let params = match params.iter().map(|p| parse_param(p)).collect::<Result<Vec<_>, _>>() {
        Ok(p) => p,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let mut options = match settings.options(Mode::Run) {
        Ok(o) => o,
        Err(code) => return code,
    };
    options.script = Some((script.to_path_buf(), bytes));
    options.params = params;
    run_session(options, json, |session| session.run_script(script, &text))
}

/// `deployclaw` with no command: the REPL on a terminal, else a script from stdin.
pub fn interactive_or_stdin(settings: &Settings) -> u8 {
    if std::io::stdin().is_terminal() {
        let session = match settings.options(Mode::Repl).and_then(start) {
            Ok(s) => s,
            Err(code) => return code,
        };
        forward_interrupts(&session);
        return deployclaw::shell::run(session, width);
    }
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        error(format!("cannot read the script from stdin: {e}"));
        return exit::USAGE;
    }
    let mut options = match settings.options(Mode::Stdin) {
        Ok(o) => o,
        Err(code) => return code,
    };
    options.script = Some((PathBuf::from("<stdin>"), text.clone().into_bytes()));
    run_session(options, false, |session| session.eval(&text, "<stdin>"))
}

#[cfg(test)]
mod tests {
    use super::parse_param;

    #[test]
    fn params_are_typed_unless_asked() {
        assert_eq!(parse_param("n=10").unwrap().value.as_int(), Ok(10));
        assert_eq!(parse_param("r=0.5").unwrap().value.as_float(), Ok(0.5));
        assert_eq!(parse_param("b=true").unwrap().value.as_bool(), Ok(true));
        assert_eq!(parse_param("t=acme").unwrap().value.into_string().unwrap(), "acme");
        assert_eq!(parse_param("id:str=007").unwrap().value.into_string().unwrap(), "007");
        assert!(parse_param("nan=NaN").unwrap().value.is_string());
        assert!(parse_param("1x=2").unwrap_err().contains("not a valid name"));
        assert!(parse_param("novalue").unwrap_err().contains("expected NAME=VALUE"));
        assert!(parse_param("EXECUTE=true").unwrap_err().contains("--execute"));
    }
}
