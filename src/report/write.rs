//! Writing a report folder: report.json, report.md, report.html and charts/*.svg. Every chart is
//! drawn before anything is written, and each file is replaced atomically, so a failure leaves
//! the folder as it was.

use std::path::{Path, PathBuf};

use super::model::{Report, SessionLog};
use super::{chart, render};
use crate::paths::{write_atomically, write_shared_text};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the report folder {path}: {message}")]
    Folder { path: String, message: String },
    #[error("{0}")]
    Write(String),
    #[error("{0}")]
    Chart(String),
    #[error("{path} is not a deployclaw report: {message}")]
    NotAReport { path: String, message: String },
}

/// The files a report consists of.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub charts: Vec<PathBuf>,
    /// SHA-256 of report.json as written, in hex.
    pub json_sha256: String,
}

/// A file name from a title: lower-case letters, digits and dashes.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "chart".to_string() } else { out.chars().take(48).collect() }
}

/// The report with its secrets redacted: every text, every finding's details, and whole
/// table columns whose name says secret (`password`, `api_key`); the files written are
/// redacted as text too.
fn redacted(report: &Report) -> Report {
    use crate::evidence::{is_secret_name, redact, redact_json};
    let text = |t: &mut String| *t = redact(t).into_owned();
    let mut r = report.clone();
    text(&mut r.title);
    r.summary.iter_mut().for_each(text);
    for (key, value) in r.inputs.iter_mut() {
        if is_secret_name(key) && value.is_string() {
            *value = serde_json::Value::String("[REDACTED]".into());
        }
        redact_json(value);
    }
    for f in &mut r.findings {
        text(&mut f.title);
        redact_json(&mut f.details);
    }
    for section in &mut r.sections {
        text(&mut section.title);
        section.text.iter_mut().for_each(text);
        if let Some(table) = &mut section.table {
            let secret: Vec<bool> = table.columns.iter().map(|c| is_secret_name(c)).collect();
            for row in &mut table.rows {
                for (cell, secret) in row.iter_mut().zip(&secret) {
                    if *secret && !cell.is_null() {
                        *cell = serde_json::Value::String("[REDACTED]".into());
                    } else {
                        redact_json(cell);
                    }
                }
            }
        }
    }
    r
}

/// Write the report into `dir` (created if needed), its secrets redacted.
pub fn write(dir: &Path, report: &Report) -> Result<Written, Error> {
    let report = &redacted(report);
    let svgs: Vec<Option<String>> = report
        .sections
        .iter()
        .map(|s| s.chart.as_ref().map(chart::svg).transpose())
        .collect::<Result<_, _>>()
        .map_err(Error::Chart)?;
    let folder = |e: std::io::Error| Error::Folder { path: dir.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(dir.join("charts")).map_err(folder)?;
    let mut names = Vec::new();
    let mut charts = Vec::new();
    for (i, (svg, section)) in svgs.iter().zip(&report.sections).enumerate() {
        let name = svg.as_ref().map(|_| format!("charts/{:02}-{}.svg", i + 1, slug(&section.title)));
        if let (Some(svg), Some(name)) = (svg, &name) {
            let path = dir.join(name);
            write_shared_text(&path, svg).map_err(Error::Write)?;
            charts.push(path);
        }
        names.push(name);
    }
    let json = dir.join("report.json");
    let text = serde_json::to_string_pretty(report).expect("a report serializes");
    let text = crate::evidence::redact(&text).into_owned().into_bytes();
    write_atomically(&json, &text).map_err(Error::Write)?;
    let json_sha256 = crate::evidence::hex(&crate::evidence::sha256(&text));
    let markdown = dir.join("report.md");
    write_shared_text(&markdown, &render::markdown(report, &names)).map_err(Error::Write)?;
    let html = dir.join("report.html");
    write_shared_text(&html, &render::html(report, &svgs)).map_err(Error::Write)?;
    Ok(Written { json, markdown, html, charts, json_sha256 })
}

/// Read a report.json back.
pub fn read(dir: &Path) -> Result<Report, Error> {
    let path = dir.join("report.json");
    let bad = |message: String| Error::NotAReport { path: path.display().to_string(), message };
    let text = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
    let report: Report = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if report.schema != super::model::SCHEMA {
        return Err(bad(format!("its schema is {:?}, this version reads {:?}", report.schema, super::model::SCHEMA)));
    }
    Ok(report)
}

/// Add the sealed session log and its verification to the report in `dir`, and write it again.
pub fn attach_log(dir: &Path, log: SessionLog) -> Result<Written, Error> {
    let mut report = read(dir)?;
    report.session_log = Some(log);
    write(dir, &report)
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    fn sample() -> Report {
        Report {
            schema: SCHEMA.into(),
            audit: "memory-leaks".into(),
            title: "Memory leaks".into(),
            generated_at: "2026-12-01T10:00:00Z".into(),
            verdict: "findings".into(),
            summary: vec!["api-svc grew".into()],
            inputs: Default::default(),
            findings: vec![Finding { severity: "error".into(), title: "api-svc leaks".into(), details: Value::Null }],
            sections: vec![Section {
                title: "Risk per tenant".into(),
                text: Some("scores".into()),
                table: Some(Table { columns: vec!["tenant".into()], rows: vec![vec!["acme".into()]] }),
                chart: Some(Chart::Bar {
                    title: "risk".into(),
                    y_label: "score".into(),
                    bars: vec![Bar { label: "acme".into(), value: 60.0 }],
                    thresholds: vec![Threshold { label: "threshold".into(), value: 50.0 }],
                }),
            }],
            session_log: None,
        }
    }
    use serde_json::Value;

    #[test]
    fn a_report_round_trips_and_takes_its_log_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &sample()).unwrap();
        assert_eq!(written.charts, vec![dir.path().join("charts/01-risk-per-tenant.svg")]);
        let md = std::fs::read_to_string(&written.markdown).unwrap();
        assert!(md.contains("![risk](charts/01-risk-per-tenant.svg)") && md.contains("not sealed yet"), "{md}");
        let log = SessionLog { path: "s.jsonl".into(), entries: 9, verified: true, message: "signed by key X".into() };
        attach_log(dir.path(), log.clone()).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.session_log, Some(log));
        let html = std::fs::read_to_string(&written.html).unwrap();
        assert!(
            html.contains("<figure class=\"chart\" data-kind=\"bar\"") && html.contains("verified, signed by key X")
        );
    }

    #[test]
    fn another_schema_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = sample();
        r.schema = "deployclaw.report/9".into();
        std::fs::write(dir.path().join("report.json"), serde_json::to_vec(&r).unwrap()).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("deployclaw.report/9") && err.contains("report.json"), "{err}");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Memory per service & tenant"), "memory-per-service-tenant");
        assert_eq!(slug("!!"), "chart");
    }
}
