//! `report::` functions: an audit's report folder (report.json, report.md, report.html with
//! charts) from Rhai maps and Frames, and single charts as SVG.

use super::Locked;
use std::path::Path;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, Map};
use serde_json::Value;

use super::api::{Api, FnDoc};
use super::convert::to_json;
use super::{Shared, rt_error};
use crate::frame::Frame;
use crate::report::model::{Chart, Finding, Report, SCHEMA, Section, Table};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

fn text_of(map: &Map, key: &str) -> Option<String> {
    map.get(key).filter(|v| !v.is_unit()).map(|v| v.to_string())
}

fn required(map: &Map, key: &str, what: &str) -> Result<String> {
    text_of(map, key).filter(|t| !t.is_empty()).ok_or_else(|| rt_error(format!("{what} needs {key}: a string")))
}

pub(super) fn table_of(value: &Dynamic, section: &str) -> Result<Table> {
    if let Some(frame) = value.read_lock::<Frame>() {
        let columns = frame.column_names();
        let rows = frame
            .to_records()
            .into_iter()
            .map(|record| columns.iter().map(|c| record.get(c).cloned().unwrap_or(Value::Null)).collect())
            .collect();
        return Ok(Table { columns, rows });
    }
    let Some(records) = value.read_lock::<Array>() else {
        return Err(rt_error(format!("section {section:?}: table must be a Frame or an array of maps")));
    };
    let mut columns: Vec<String> = Vec::new();
    let records: Vec<Value> = records.iter().map(to_json).collect();
    for record in &records {
        let Value::Object(fields) = record else {
            return Err(rt_error(format!("section {section:?}: every row of table must be a map, not {record}")));
        };
        for key in fields.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let rows =
        records.iter().map(|r| columns.iter().map(|c| r.get(c).cloned().unwrap_or(Value::Null)).collect()).collect();
    Ok(Table { columns, rows })
}

pub(super) fn chart_of(value: &Dynamic, what: &str) -> Result<Chart> {
    serde_json::from_value(to_json(value)).map_err(|e| {
        rt_error(format!(
            "{what}: not a chart ({e}); a chart is #{{kind: \"line\", title, x_label, y_label, series: [#{{name, points: [[x, y], ...]}}], thresholds: [#{{label, value}}]}}, #{{kind: \"bar\", title, y_label, bars: [#{{label, value}}], thresholds: [#{{label, value}}]}} or #{{kind: \"graph\", title, nodes: [#{{name, role, depth}}], edges: [#{{from, to}}]}}"
        ))
    })
}

fn section_of(value: &Dynamic, index: usize) -> Result<Section> {
    let map = value.read_lock::<Map>().ok_or_else(|| rt_error(format!("sections[{index}] must be a map")))?;
    let title = required(&map, "title", &format!("sections[{index}]"))?;
    let table = map.get("table").filter(|v| !v.is_unit()).map(|t| table_of(t, &title)).transpose()?;
    let chart =
        map.get("chart").filter(|v| !v.is_unit()).map(|c| chart_of(c, &format!("section {title:?}"))).transpose()?;
    Ok(Section { text: text_of(&map, "text"), title, table, chart })
}

/// `value` with its secrets replaced, as in the log.
fn redacted(mut value: Value) -> Value {
    crate::evidence::redact_json(&mut value);
    value
}

fn report_of(s: &Shared, spec: &Map) -> Result<Report> {
    let audit = required(spec, "audit", "report::write")?;
    let title = required(spec, "title", "report::write")?;
    let summary = match spec.get("summary") {
        None => Vec::new(),
        Some(v) if v.is_array() => v.read_lock::<Array>().expect("an array").iter().map(|l| l.to_string()).collect(),
        Some(v) => vec![v.to_string()],
    };
    let sections = match spec.get("sections") {
        None => Vec::new(),
        Some(v) => {
            let items = v.read_lock::<Array>().ok_or_else(|| rt_error("report::write: sections must be an array"))?;
            items.iter().enumerate().map(|(i, item)| section_of(item, i)).collect::<Result<_>>()?
        }
    };
    let inputs = match spec.get("inputs").map(|v| redacted(to_json(v))) {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(rt_error(format!("report::write: inputs must be a map, not {other}"))),
    };
    let findings: Vec<Finding> = s
        .findings
        .locked()
        .iter()
        .map(|f| Finding {
            severity: f.severity.to_string(),
            title: crate::evidence::redact(&f.title).into_owned(),
            details: redacted(f.details.clone()),
        })
        .collect();
    Ok(Report {
        schema: SCHEMA.to_string(),
        verdict: crate::report::verdict(&findings).to_string(),
        audit,
        title,
        generated_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        summary: summary.iter().map(|l| crate::evidence::redact(l).into_owned()).collect(),
        inputs,
        findings,
        sections,
        session_log: None,
    })
}

fn write_map(s: &Shared, dir: &str, spec: &Map) -> Result<Map> {
    let report = report_of(s, spec)?;
    let written = crate::report::write(Path::new(dir), &report).map_err(rt_error)?;
    let digest = written.json_sha256.clone();
    s.record(|log| {
        log.note(&format!(
            "report {} written to {dir}: verdict {}, {} finding(s), report.json sha256 {digest}",
            report.audit,
            report.verdict,
            report.findings.len()
        ))
    })?;
    let path = |p: &Path| Dynamic::from(p.display().to_string());
    let mut map = Map::new();
    map.insert("dir".into(), dir.into());
    map.insert("json".into(), path(&written.json));
    map.insert("md".into(), path(&written.markdown));
    map.insert("html".into(), path(&written.html));
    map.insert("charts".into(), written.charts.iter().map(|p| path(p)).collect::<Array>().into());
    map.insert("verdict".into(), report.verdict.into());
    map.insert("sha256".into(), digest.into());
    Ok(map)
}

const BAR: &str = r#"#{kind: "bar", title: "pool use", y_label: "share", bars: [#{label: "orders", value: 0.95}, #{label: "billing", value: 0.2}], thresholds: [#{label: "limit", value: 0.9}]}"#;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("report");

    let s = shared.clone();
    api.add(
        FnDoc::new("write")
            .usage("report::write(dir: string, report: map) -> map")
            .summary("Write an audit's report folder: report.json (schema deployclaw.report/1), report.md, a self-contained report.html with its charts inline, and charts/*.svg. The session's findings so far are the report's findings; its verdict is findings (an error), warnings or clean. The report.json's SHA-256 goes into the signed log.")
            .param("dir", "the folder (created if needed); files in it are replaced atomically")
            .param("report", "#{audit, title, summary: [lines], inputs: #{...}, sections: [#{title, text, table: Frame or [maps], chart: see report::chart}]}")
            .returns("#{dir, json, md, html, charts: [paths], verdict, sha256}")
            .example(
                &format!(r#"let r = report::write(temp_path("r"), #{{audit: "pools", title: "Pool use", summary: ["orders is near its limit"], sections: [#{{title: "Pools", table: frame([#{{pool: "orders", used: 0.95}}], ["pool", "used"]), chart: {BAR}}}]}}); [r.verdict, r.charts.len(), read_text(r.html).contains("<svg")]"#),
                r#"["clean", 1, true]"#,
            )
            .volatile(),
        move |dir: &str, spec: Map| write_map(&s, dir, &spec),
    );

    api.add(
        FnDoc::new("chart")
            .usage("report::chart(chart: map, path: string) -> string")
            .summary("Draw one chart as an SVG file: lines over x with threshold lines, bars with threshold lines (the y axis turns logarithmic when the values span more than two powers of ten), or a graph in layers by depth (a failure cascade).")
            .param("chart", "#{kind: \"line\", title, x_label, y_label, series: [#{name, points: [[x, y], ...], dashed}], thresholds: [#{label, value}]}, #{kind: \"bar\", title, y_label, bars: [#{label, value}], thresholds: [#{label, value}]} or #{kind: \"graph\", title, nodes: [#{name, role, depth}], edges: [#{from, to}]}")
            .param("path", "the .svg file to write (replaced)")
            .returns("the path")
            .example(
                r#"let p = report::chart(#{kind: "line", title: "heap", x_label: "snapshot", y_label: "bytes", series: [#{name: "api-svc", points: [[1, 100], [2, 300]]}], thresholds: [#{label: "limit", value: 250}]}, temp_path("heap.svg")); read_text(p).contains("api-svc")"#,
                "true",
            )
            .example(&format!(r#"read_text(report::chart({BAR}, temp_path("b.svg"))).starts_with("<svg")"#), "true")
            .volatile(),
        |chart: Map, path: &str| -> Result<String> {
            let chart = chart_of(&Dynamic::from(chart), "report::chart")?;
            let svg = crate::report::chart::svg(&chart).map_err(rt_error)?;
            crate::paths::write_atomically(Path::new(path), svg.as_bytes()).map_err(rt_error)?;
            Ok(path.to_string())
        },
    );
    api.end_namespace();
}
