//! A value as the rich outputs of a notebook cell: always plain text, an HTML table for a
//! Frame, an SVG image for a chart map (the maps `report::chart` draws).

use rhai::{Dynamic, Map};

use super::render::render;
use super::report_api::{chart_of, table_of};
use crate::frame::Frame;

/// The representations of one value, as a notebook shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    pub text: String,
    pub html: Option<String>,
    pub svg: Option<String>,
}

impl Display {
    /// The representations by MIME type, plain text first, as Jupyter's `data` bundles list them.
    pub fn bundle(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("text/plain", self.text.as_str())];
        out.extend(self.html.as_deref().map(|h| ("text/html", h)));
        out.extend(self.svg.as_deref().map(|s| ("image/svg+xml", s)));
        out
    }
}

/// Whether a map describes a chart: a `kind` of line, bar or graph and a title.
fn is_chart(map: &Map) -> bool {
    let kind = map.get("kind").map(|k| k.to_string());
    matches!(kind.as_deref(), Some("line" | "bar" | "graph")) && map.contains_key("title")
}

/// How `value` is shown; `width` is the plain text's line width.
pub fn display(value: &Dynamic, width: usize) -> Display {
    let text = render(value, width);
    let mut shown = Display { text, html: None, svg: None };
    if value.is::<Frame>() {
        if let Ok(table) = table_of(value, "value") {
            let rows = table.rows.len();
            let columns = table.columns.len();
            shown.html = Some(format!(
                "<div class=\"deployclaw-frame\">{}<p>{rows} rows × {columns} columns</p></div>",
                crate::report::render::html_table(&table)
            ));
        }
    } else if let Some(map) = value.read_lock::<Map>()
        && is_chart(&map)
        && let Ok(chart) = chart_of(value, "value")
        && let Ok(svg) = crate::report::chart::svg(&chart)
    {
        shown.svg = Some(svg);
    }
    shown
}
