//! `deployclaw notebook run`: a notebook's code cells in one signed session, headless, with
//! papermill's parameters, written back with their outputs and the log in the metadata.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use deployclaw::engine::{Mode, Session, literal};
use deployclaw::notebook::{self, Notebook};
use serde_json::json;

use super::session::{Settings, parse_param, terminal_width};
use super::{error, exit};

/// What `notebook run` is given.
#[derive(clap::Args, Debug)]
pub struct RunNotebook {
    /// The notebook (.ipynb, nbformat 4).
    pub input: PathBuf,
    /// Where the executed notebook goes (default: IN with .out.ipynb); it may be IN itself.
    #[arg(short, long, value_name = "OUT.ipynb")]
    pub output: Option<PathBuf>,
    /// A parameter: NAME=VALUE, set in a cell after the one tagged `parameters` (typed as
    /// for `run -p`).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Run every cell even after one fails (the failures are still recorded as error outputs).
    #[arg(long)]
    pub allow_errors: bool,
}

fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "notebook".into());
    input.with_file_name(format!("{stem}.out.ipynb"))
}

pub fn run(settings: &Settings, args: &RunNotebook) -> u8 {
    let mut nb = match Notebook::read(&args.input) {
        Ok(nb) => nb,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let params = match args.params.iter().map(|p| parse_param(p)).collect::<Result<Vec<_>, _>>() {
        Ok(p) => p,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    if !params.is_empty() {
        let lines: Vec<String> = params.iter().map(|p| format!("let {} = {};", p.name, literal(&p.value))).collect();
        nb.inject_parameters(&lines);
    }
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.input));
    let mut options = match settings.options(Mode::Notebook) {
        Ok(o) => o,
        Err(code) => return code,
    };
    options.script = std::fs::read(&args.input).ok().map(|bytes| (args.input.clone(), bytes));
    let mut session = match Session::start(options) {
        Ok(s) => s,
        Err(e) => {
            error(e);
            return exit::FAILED;
        }
    };
    super::session::forward_interrupts(&session);
    let on_terminal = std::io::stderr().is_terminal();
    let width = terminal_width().unwrap_or(100);
    let outcome = notebook::execute(&mut nb, &mut session, args.allow_errors, width, |cell, cells| {
        if on_terminal {
            eprintln!("running cell {cell} of {cells}");
        }
    });
    let has_errors = session.has_error_findings();
    let sealed = match session.close() {
        Ok(s) => s,
        Err(e) => {
            error(format!("sealing the session log: {e}"));
            return exit::FAILED;
        }
    };
    let log = sealed.map(|s| super::log::verify_sealed(&s.path, s.entries as usize));
    let param_names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    nb.set_metadata(json!({
        "session_log": log,
        "parameters": param_names,
        "executed_cells": outcome.executed,
        "failed_cells": outcome.failed,
        "run_with": format!("deployclaw {}", env!("CARGO_PKG_VERSION")),
    }));
    if let Err(e) = deployclaw::paths::write_atomically(&output, &nb.to_bytes()) {
        error(e);
        return exit::FAILED;
    }
    eprintln!(
        "{}: {} of {} code cells ran{}; written to {}",
        args.input.display(),
        outcome.executed,
        outcome.code_cells,
        if outcome.failed.is_empty() { String::new() } else { format!(", cell(s) {:?} failed", outcome.failed) },
        output.display()
    );
    if !outcome.failed.is_empty() && !args.allow_errors {
        exit::FAILED
    } else if has_errors {
        exit::ERROR_FINDING
    } else {
        exit::OK
    }
}
