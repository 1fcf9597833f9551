//! Running a notebook's code cells in order in one session, writing back what each printed, the
//! value it ended with (as text, an HTML table for a Frame, SVG for a chart) or its error, with
//! execution counts and timings as Jupyter's own clients record them.

use serde_json::{Value, json};

use super::format::{self, Notebook, multiline, source_text};
use crate::engine::{Failure, Session, display};

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Code cells that ran.
    pub executed: usize,
    /// Code cells in the notebook.
    pub code_cells: usize,
    /// The 1-based number (among all cells) of each cell that failed.
    pub failed: Vec<usize>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The error output of a failed cell: where it failed and the line, with a caret under the column.
fn error_output(failure: &Failure, source: &str) -> Value {
    match failure {
        Failure::Cancelled => format::error("Interrupted", "interrupted (Ctrl-C)", &["interrupted".to_string()]),
        Failure::Input { message, .. } => format::error("InputError", message, &[format!("InputError: {message}")]),
        Failure::Error { message, origin, line, column } => {
            let mut traceback = Vec::new();
            match (line, column) {
                (Some(l), Some(c)) => traceback.push(format!("{origin}, line {l}, column {c}:")),
                (Some(l), None) => traceback.push(format!("{origin}, line {l}:")),
                _ => traceback.push(format!("{origin}:")),
            }
            if let Some(text) = line.and_then(|l| source.lines().nth(l.saturating_sub(1))) {
                traceback.push(format!("    {text}"));
                if let Some(c) = column {
                    traceback.push(format!("    {}^", " ".repeat(c.saturating_sub(1))));
                }
            }
            traceback.push(format!("RhaiError: {message}"));
            format::error("RhaiError", message, &traceback)
        }
    }
}

/// Run every code cell of `notebook` in `session`; after the first failure the remaining cells
/// are left unexecuted, unless `allow_errors`. `progress` hears (cell number, cells) before each.
pub fn execute(
    notebook: &mut Notebook,
    session: &mut Session,
    allow_errors: bool,
    width: usize,
    mut progress: impl FnMut(usize, usize),
) -> Outcome {
    session.capture_prints();
    let total = notebook.cells_mut().len();
    let mut outcome = Outcome::default();
    let mut count = 0;
    let mut stopped = false;
    for index in 0..total {
        let cell = &mut notebook.cells_mut()[index];
        if cell["cell_type"] != "code" {
            continue;
        }
        outcome.code_cells += 1;
        cell["outputs"] = json!([]);
        cell["execution_count"] = Value::Null;
        if stopped {
            continue;
        }
        progress(index + 1, total);
        let source = source_text(cell);
        count += 1;
        let findings_before = session.findings().len();
        let busy = now();
        let result = session.eval(&source, &format!("cell {}", index + 1));
        let reply = now();
        let mut outputs = Vec::new();
        let printed = session.take_prints();
        if !printed.is_empty() {
            outputs.push(format::stream("stdout", &printed));
        }
        if let Some(text) = super::findings_since(session, findings_before) {
            outputs.push(format::stream("stderr", &text));
        }
        match &result {
            Ok(value) if !value.is_unit() => {
                let shown = display(value, width);
                let data: serde_json::Map<String, Value> =
                    shown.bundle().into_iter().map(|(mime, text)| (mime.to_string(), multiline(text))).collect();
                outputs.push(
                    json!({"output_type": "execute_result", "execution_count": count, "data": data, "metadata": {}}),
                );
            }
            Ok(_) => {}
            Err(failure) => {
                outputs.push(error_output(failure, &source));
                outcome.failed.push(index + 1);
                stopped = !allow_errors;
            }
        }
        // The outputs are shared with the notebook; the cell's own source is the user's code and
        // stays as written.
        let mut outputs = Value::Array(outputs);
        crate::evidence::redact_json(&mut outputs);
        let cell = &mut notebook.cells_mut()[index];
        cell["outputs"] = outputs;
        cell["execution_count"] = json!(count);
        let metadata = cell["metadata"].as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut metadata = metadata;
        metadata.insert(
            "execution".into(),
            json!({"iopub.status.busy": busy, "iopub.execute_input": busy, "shell.execute_reply": reply, "iopub.status.idle": reply}),
        );
        cell["metadata"] = Value::Object(metadata);
        outcome.executed += 1;
    }
    outcome
}
