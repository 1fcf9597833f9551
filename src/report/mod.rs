//! Reports for people and machines: Markdown to read, JSON to process, HTML with charts to look
//! at, built from capability results. Plain library: no printing, no Rhai.

pub mod chart;
pub mod model;
pub mod render;
pub mod slo;
pub mod triage;
pub mod write;

pub use model::{Report, SCHEMA, verdict};
pub use write::{Written, attach_log, write};

/// A Markdown table cell: pipes escaped, line breaks as spaces.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A Markdown table from a header and rows.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), " --- |".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out += &format!("| {} |\n", cells.join(" | "));
    }
    out
}
