//! Notebooks: `.ipynb` investigations run headless in one signed session, their outputs written
//! back in nbformat 4. Like the shell, this is a front end of the engine.

pub mod format;
pub mod kernel;
pub mod run;

pub use format::Notebook;

use crate::engine::Session;

/// The findings recorded after the first `before`, a line each, as a cell's stderr shows them.
pub(crate) fn findings_since(session: &Session, before: usize) -> Option<String> {
    let findings = session.findings();
    let lines: String = findings
        .get(before..)
        .unwrap_or_default()
        .iter()
        .map(|f| crate::evidence::redact(&format!("finding [{}] {}\n", f.severity, f.title)).into_owned())
        .collect();
    (!lines.is_empty()).then_some(lines)
}
pub use run::{Outcome, execute};
