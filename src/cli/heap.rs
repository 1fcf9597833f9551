//! `deployclaw heap ...`: each command runs the matching `heap::` function in a session, so its
//! result is recorded in the signed log like any script's.

use super::session::{Settings, finish, forward_interrupts, start};
use super::{error, exit};
use deployclaw::engine::{Mode, Output, Param};
use std::path::Path;

/// `deployclaw heap histogram FILE [--top N] [--json]`.
pub fn histogram(settings: &Settings, file: &Path, top: Option<usize>, json: bool) -> u8 {
    if let Err(e) = std::fs::metadata(file) {
        error(format!("cannot read heap dump {}: {e}", file.display()));
        return exit::USAGE;
    }
    let mut options = settings.options(Mode::Run);
    options.params = vec![Param { name: "DUMP".into(), value: file.display().to_string().into() }];
    if json {
        options.output = Output::Stderr;
    }
    let mut session = match start(options) {
        Ok(s) => s,
        Err(code) => return code,
    };
    forward_interrupts(&session);
    let head = top.map(|n| format!(".head({n})")).unwrap_or_default();
    let result = session.eval(&format!("heap::histogram(DUMP){head}"), "heap histogram");
    finish(session, result, json)
}
