//! report.md and report.html from a [`Report`]. The HTML is one self-contained file: styles and
//! charts inline, no script, no fetch, so it opens the same from a ticket, a mail or an archive.

use serde_json::Value;

use super::model::{Report, Table};

/// Rows of a table shown in the Markdown and HTML; report.json keeps them all.
pub const SHOWN_ROWS: usize = 50;

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let t = format!("{f:.4}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn more_rows(table: &Table) -> Option<String> {
    (table.rows.len() > SHOWN_ROWS).then(|| format!("{} more rows in report.json", table.rows.len() - SHOWN_ROWS))
}

fn session_line(report: &Report) -> String {
    match &report.session_log {
        Some(log) if log.verified => format!("{} ({} entries): verified, {}", log.path, log.entries, log.message),
        Some(log) => format!("{} ({} entries): NOT verified: {}", log.path, log.entries, log.message),
        None => "not sealed yet".to_string(),
    }
}

/// The report as Markdown; `charts` are the chart files' names, by section.
pub fn markdown(report: &Report, charts: &[Option<String>]) -> String {
    let mut out = format!("# {}\n\n", report.title);
    out += &format!(
        "Audit `{}`, {} · verdict **{}** · {} finding(s)\n\n",
        report.audit,
        report.generated_at,
        report.verdict,
        report.findings.len()
    );
    for line in &report.summary {
        out += &format!("- {line}\n");
    }
    out += "\n## Findings\n\n";
    if report.findings.is_empty() {
        out += "None.\n\n";
    } else {
        let rows: Vec<Vec<String>> =
            report.findings.iter().map(|f| vec![f.severity.clone(), f.title.clone()]).collect();
        out += &super::table(&["severity", "finding"], &rows);
        out += "\n";
    }
    for (i, section) in report.sections.iter().enumerate() {
        out += &format!("## {}\n\n", section.title);
        if let Some(text) = &section.text {
            out += &format!("{text}\n\n");
        }
        if let Some(Some(file)) = charts.get(i) {
            let title = section.chart.as_ref().map_or("", |c| c.title());
            out += &format!("![{}]({file})\n\n", super::cell(title));
        }
        if let Some(table) = &section.table {
            let header: Vec<&str> = table.columns.iter().map(String::as_str).collect();
            let rows: Vec<Vec<String>> =
                table.rows.iter().take(SHOWN_ROWS).map(|r| r.iter().map(value_text).collect()).collect();
            out += &super::table(&header, &rows);
            if let Some(more) = more_rows(table) {
                out += &format!("\n{more}\n");
            }
            out += "\n";
        }
    }
    out += &format!("## Session log\n\n{}\n", session_line(report));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A table as HTML: the first SHOWN_ROWS rows, and how many more there are.
pub fn html_table(table: &Table) -> String {
    let mut out = String::from("<table><tr>");
    for c in &table.columns {
        out += &format!("<th>{}</th>", escape(c));
    }
    out += "</tr>\n";
    for row in table.rows.iter().take(SHOWN_ROWS) {
        out += "<tr>";
        for v in row {
            out += &format!("<td>{}</td>", escape(&value_text(v)));
        }
        out += "</tr>\n";
    }
    out += "</table>\n";
    if let Some(more) = more_rows(table) {
        out += &format!("<p>{more}</p>\n");
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto;max-width:100%}\
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}td{max-width:32rem;overflow-wrap:break-word}\
th{background:#f4f4f4}.verdict{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff}\
.clean{background:#2a7d3f}.warnings{background:#b07800}.findings{background:#b3261e}\
.error{color:#b3261e;font-weight:600}.warning{color:#8a5d00}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}\
.log-ok{color:#2a7d3f}.log-bad{color:#b3261e;font-weight:600}";

/// The report as one HTML page; `charts` are the charts' SVG documents, by section.
pub fn html(report: &Report, charts: &[Option<String>]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n",
        escape(&report.title)
    );
    out += &format!("<h1>{}</h1>\n", escape(&report.title));
    out += &format!(
        "<p>Audit <code>{}</code>, {} · <span class=\"verdict {}\" id=\"verdict\">{}</span> · {} finding(s)</p>\n",
        escape(&report.audit),
        escape(&report.generated_at),
        escape(&report.verdict),
        escape(&report.verdict),
        report.findings.len()
    );
    out += "<ul id=\"summary\">\n";
    for line in &report.summary {
        out += &format!("<li>{}</li>\n", escape(line));
    }
    out += "</ul>\n<h2>Findings</h2>\n";
    if report.findings.is_empty() {
        out += "<p>None.</p>\n";
    } else {
        out += "<table id=\"findings\"><tr><th>severity</th><th>finding</th></tr>\n";
        for f in &report.findings {
            out += &format!("<tr><td class=\"{0}\">{0}</td><td>{1}</td></tr>\n", escape(&f.severity), escape(&f.title));
        }
        out += "</table>\n";
    }
    for (i, section) in report.sections.iter().enumerate() {
        out += &format!("<section><h2>{}</h2>\n", escape(&section.title));
        if let Some(text) = &section.text {
            out += &format!("<p>{}</p>\n", escape(text));
        }
        if let (Some(Some(svg)), Some(chart)) = (charts.get(i), &section.chart) {
            out += &format!(
                "<figure class=\"chart\" data-kind=\"{}\" data-title=\"{}\">{svg}</figure>\n",
                chart.kind(),
                escape(chart.title())
            );
        }
        if let Some(table) = &section.table {
            out += &html_table(table);
        }
        out += "</section>\n";
    }
    let class = if report.session_log.as_ref().is_some_and(|l| l.verified) { "log-ok" } else { "log-bad" };
    out += &format!(
        "<h2>Session log</h2>\n<p id=\"session-log\" class=\"{class}\">{}</p>\n</body></html>\n",
        escape(&session_line(report))
    );
    out
}
