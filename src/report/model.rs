//! The audit report every `deployclaw audit` writes: one versioned model, rendered as JSON (for
//! machines), Markdown (for tickets) and HTML with charts (for people). The JSON schema is
//! `report.schema.json` beside this file; a change that breaks a reader gets a new version.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema name and version every report.json carries.
pub const SCHEMA: &str = "deployclaw.report/1";

/// The JSON Schema of report.json.
pub const JSON_SCHEMA: &str = include_str!("report.schema.json");

/// One audit's report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    /// memory-leaks, ci-failure, tenant-isolation, error-budget, or a team's own name.
    pub audit: String,
    pub title: String,
    /// RFC 3339 UTC.
    pub generated_at: String,
    /// clean (no findings), warnings (only warnings and notes), or findings (at least one error).
    pub verdict: String,
    /// A few sentences: what was checked and what was found.
    pub summary: Vec<String>,
    /// What the audit was given (flags and parameters), secrets already redacted.
    #[serde(default)]
    pub inputs: serde_json::Map<String, Value>,
    pub findings: Vec<Finding>,
    pub sections: Vec<Section>,
    /// The sealed session log and whether it verified; filled in after the session closes.
    #[serde(default)]
    pub session_log: Option<SessionLog>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// error, warning or info.
    pub severity: String,
    pub title: String,
    #[serde(default)]
    pub details: Value,
}

/// A part of the report: prose, a table, a chart, or any of them together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Section {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A chart, described by its data; the renderers draw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Chart {
    /// Lines over a numeric x axis (time in seconds, a snapshot number), with horizontal
    /// threshold lines.
    Line {
        title: String,
        x_label: String,
        y_label: String,
        series: Vec<Series>,
        #[serde(default)]
        thresholds: Vec<Threshold>,
    },
    /// One bar per label, with horizontal threshold lines.
    Bar {
        title: String,
        y_label: String,
        bars: Vec<Bar>,
        #[serde(default)]
        thresholds: Vec<Threshold>,
    },
    /// A directed graph drawn in layers by depth (a failure cascade).
    Graph { title: String, nodes: Vec<Node>, edges: Vec<Edge> },
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::Line { title, .. } | Chart::Bar { title, .. } | Chart::Graph { title, .. } => title,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Chart::Line { .. } => "line",
            Chart::Bar { .. } => "bar",
            Chart::Graph { .. } => "graph",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub name: String,
    /// [x, y] pairs.
    pub points: Vec<[f64; 2]>,
    /// Drawn dashed: a baseline rather than a measurement.
    #[serde(default)]
    pub dashed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Threshold {
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub name: String,
    /// root, cascaded, impacted, or anything else (drawn neutral).
    #[serde(default)]
    pub role: String,
    /// The layer it is drawn in: 0 for roots.
    #[serde(default)]
    pub depth: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionLog {
    pub path: String,
    pub entries: usize,
    pub verified: bool,
    /// What verification said: the signer, or why it failed.
    pub message: String,
}

/// The verdict of a set of findings.
pub fn verdict(findings: &[Finding]) -> &'static str {
    if findings.iter().any(|f| f.severity == "error") {
        "findings"
    } else if findings.iter().any(|f| f.severity == "warning") {
        "warnings"
    } else {
        "clean"
    }
}
