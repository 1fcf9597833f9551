//! `deployclaw heap ...`: each command runs the matching `heap::` function in a session, so its
//! result is recorded in the signed log like any script's.

use super::session::{Settings, run_session};
use super::{error, exit};
use deployclaw::engine::{Mode, Param};
use rhai::Dynamic;
use std::path::{Path, PathBuf};

/// Run `call` (which may use the params) in a logged session and print its value.
fn run(settings: &Settings, dumps: &[PathBuf], params: Vec<Param>, call: &str, json: bool) -> u8 {
    for dump in dumps {
        if let Err(e) = std::fs::metadata(dump) {
            error(format!("cannot read heap dump {}: {e}", dump.display()));
            return exit::USAGE;
        }
    }
    let mut options = settings.options(Mode::Run);
    options.params = params;
    run_session(options, json, |session| session.eval(call, "deployclaw heap"))
}

fn head(top: Option<usize>) -> String {
    top.map(|n| format!(".head({n})")).unwrap_or_default()
}

fn text(path: &Path) -> Dynamic {
    path.display().to_string().into()
}

/// `deployclaw heap histogram FILE [--top N] [--json]`.
pub fn histogram(settings: &Settings, file: &Path, top: Option<usize>, json: bool) -> u8 {
    let params = vec![Param { name: "DUMP".into(), value: text(file) }];
    run(settings, &[file.to_path_buf()], params, &format!("heap::histogram(DUMP){}", head(top)), json)
}

/// `deployclaw heap diff BASE CUR [MORE...] [--threshold-delta P] [--top N] [--json]`.
pub fn diff(settings: &Settings, dumps: &[PathBuf], threshold: Option<&str>, top: Option<usize>, json: bool) -> u8 {
    if let Some(t) = threshold
        && let Err(e) = deployclaw::heap::diff::Threshold::parse(t)
    {
        error(format!("--threshold-delta: {e}"));
        return exit::USAGE;
    }
    let mut params =
        vec![Param { name: "DUMPS".into(), value: dumps.iter().map(|d| text(d)).collect::<Vec<_>>().into() }];
    let call = match threshold {
        Some(t) => {
            params.push(Param { name: "THRESHOLD".into(), value: t.into() });
            format!("heap::diff(DUMPS, THRESHOLD){}", head(top))
        }
        None => format!("heap::diff(DUMPS){}", head(top)),
    };
    run(settings, dumps, params, &call, json)
}
