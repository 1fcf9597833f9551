//! `evidence::note`, `evidence::finding` and friends: what scripts record in the signed log.

use super::Locked;
use super::api::{Api, FnDoc};
use super::convert::to_json;
use super::{Shared, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use rhai::{Dynamic, EvalAltResult};
use std::sync::Arc;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("evidence");

    let s = shared.clone();
    api.add(
        FnDoc::new("note")
            .usage("evidence::note(text: string)")
            .summary("Record a note in this session's signed log.")
            .param("text", "what to record; secrets such as URL passwords are redacted")
            .returns("nothing")
            .example_runs(r#"evidence::note("heap grew 40% after the 02:00 deploy")"#)
            .volatile(),
        move |text: &str| -> Result<()> { s.record(|log| log.note(text)) },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("finding")
            .usage("evidence::finding(severity: string, title: string, details: any)")
            .summary("Record a finding. A finding of severity \"error\" makes `deployclaw run` exit with code 3.")
            .param("severity", "\"info\", \"warning\" or \"error\"")
            .param("title", "one line saying what was found")
            .param("details", "any value (a map, a Frame, a number...) kept as JSON")
            .returns("nothing")
            .example_runs(
                r#"evidence::finding("warning", "pool near its limit", #{tenant: "acme", in_use: 19, max: 20})"#,
            )
            .volatile(),
        move |severity: &str, title: &str, details: Dynamic| -> Result<()> {
            let severity: Severity = severity.parse().map_err(rt_error)?;
            s.add_finding(Finding { severity, title: title.to_string(), details: to_json(&details) })
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("findings")
            .usage("evidence::findings() -> Frame")
            .summary("The findings recorded so far in this session.")
            .returns("a Frame with columns severity, title, details (JSON text)")
            .example(r#"evidence::finding("info", "checked", 1); evidence::findings().col("title")"#, r#"["checked"]"#)
            .volatile(),
        move || -> Result<Frame> {
            let rows: Vec<serde_json::Value> = s
                .findings
                .locked()
                .iter()
                .map(|f| serde_json::json!({"severity": f.severity.to_string(), "title": f.title, "details": f.details.to_string()}))
                .collect();
            if rows.is_empty() {
                return Ok(Frame::default());
            }
            Frame::from_records(&rows).map_err(rt_error)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("step")
            .usage("evidence::step(action: string, result: string, details: any)")
            .summary(
                "Record the end of a step of this run (discovery, snapshots, analysis, report...): its action, result, \
                 details and how long it took since the previous step. The steps make the execution record that \
                 `--output-format json-audit` signs; each is also a note in the session log.",
            )
            .param("action", "what the step did, e.g. \"snapshot 3 instances\"")
            .param("result", "\"ok\", \"failed\", \"skipped\" or a word of the script's own")
            .param("details", "any value kept as JSON (counts, names)")
            .returns("the step's duration in milliseconds")
            .example(r#"evidence::step("read dumps", "ok", #{dumps: 2}) >= 0"#, "true")
            .volatile(),
        move |action: &str, result: &str, details: Dynamic| -> Result<i64> {
            let mut details = to_json(&details);
            crate::evidence::redact_json(&mut details);
            let step = s.add_step(action, result, details);
            let line = serde_json::to_string(&step).unwrap_or_default();
            s.record(|log| log.note(&format!("step: {line}")))?;
            Ok(i64::try_from(step.duration_ms).unwrap_or(i64::MAX))
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("log_path")
            .usage("evidence::log_path() -> string")
            .summary("Where this session's signed log is being written.")
            .returns("the path, or () when the session keeps no log")
            .example_runs("evidence::log_path()")
            .volatile(),
        move || -> Dynamic { s.log_path().map_or(Dynamic::UNIT, |p| p.display().to_string().into()) },
    );

    api.end_namespace();
}
