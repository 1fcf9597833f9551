//! A Frame as an aligned text table, cut to fit a terminal.

use super::Frame;
use serde_json::Value;

/// How much of a frame to show.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Terminal width in characters.
    pub width: usize,
    /// Rows shown before the middle is elided.
    pub max_rows: usize,
    /// Characters shown of one cell.
    pub max_cell: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { width: 100, max_rows: 20, max_cell: 40 }
    }
}

struct Col {
    name: String,
    dtype: String,
    cells: Vec<String>,
    numeric: bool,
    width: usize,
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn cut(text: &str, max: usize) -> String {
    let text = text.replace('\n', "⏎");
    if text.chars().count() <= max {
        text
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = width.saturating_sub(text.chars().count());
    if right { format!("{}{text}", " ".repeat(fill)) } else { format!("{text}{}", " ".repeat(fill)) }
}

/// Render `frame` as a table: header, types, rows (the middle elided past `max_rows`), and the
/// shape. Columns that do not fit the width are listed by name under the table.
pub fn render(frame: &Frame, options: RenderOptions) -> String {
    let (height, width) = (frame.height(), frame.width());
    let elided = height > options.max_rows;
    let (top, bottom) = if elided {
        let top = options.max_rows.div_ceil(2);
        (frame.head(top), frame.tail(options.max_rows - top))
    } else {
        (frame.clone(), Frame::default())
    };
    let rows: Vec<Value> = top.to_records().into_iter().chain(bottom.to_records()).collect();
    let mut cols: Vec<Col> = frame
        .schema()
        .into_iter()
        .map(|(name, dtype)| {
            let cells: Vec<String> =
                rows.iter().map(|r| cut(&cell_text(&r[name.as_str()]), options.max_cell)).collect();
            let numeric = dtype.starts_with('i') || dtype.starts_with('u') || dtype.starts_with('f');
            let name = cut(&name, options.max_cell);
            let width = cells
                .iter()
                .map(|c| c.chars().count())
                .chain([name.chars().count(), dtype.len(), 1])
                .max()
                .unwrap_or(1);
            Col { name, dtype, cells, numeric, width }
        })
        .collect();

    // Keep the columns that fit, leaving room to say what was left out.
    let mut used = 0;
    let mut shown = 0;
    for col in &cols {
        let need = col.width + if shown > 0 { 2 } else { 0 };
        if shown > 0 && used + need > options.width {
            break;
        }
        used += need;
        shown += 1;
    }
    let hidden: Vec<String> = cols.drain(shown..).map(|c| c.name).collect();

    let mut out = String::new();
    let line = |parts: Vec<String>| parts.join("  ").trim_end().to_string() + "\n";
    out += &line(cols.iter().map(|c| pad(&c.name, c.width, c.numeric)).collect());
    out += &line(cols.iter().map(|c| pad(&c.dtype, c.width, c.numeric)).collect());
    out += &line(cols.iter().map(|c| "─".repeat(c.width)).collect());
    let split = if elided { options.max_rows.div_ceil(2) } else { usize::MAX };
    for r in 0..rows.len() {
        if r == split {
            out += &line(cols.iter().map(|c| pad("…", c.width, c.numeric)).collect());
        }
        out += &line(cols.iter().map(|c| pad(&c.cells[r], c.width, c.numeric)).collect());
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out += &format!("shape: {} × {}", plural(height, "row"), plural(width, "column"));
    if elided {
        out += &format!(" ({} shown)", options.max_rows);
    }
    if !hidden.is_empty() {
        out += &format!("; not shown: {}", hidden.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aligns_and_shows_shape() {
        let f = Frame::from_records(&[json!({"tenant": "acme", "mb": 5}), json!({"tenant": "b", "mb": 120})]).unwrap();
        let text = render(&f, RenderOptions::default());
        assert_eq!(text, "tenant   mb\nstr     i64\n──────  ───\nacme      5\nb       120\nshape: 2 rows × 2 columns");
    }

    #[test]
    fn elides_rows_and_columns() {
        let records: Vec<Value> = (0..50).map(|i| json!({"i": i, "wide": "x".repeat(30)})).collect();
        let f = Frame::from_records(&records).unwrap();
        let text = render(&f, RenderOptions { width: 20, max_rows: 4, max_cell: 40 });
        assert!(text.lines().any(|l| l.trim() == "…"), "{text}");
        assert!(text.ends_with("shape: 50 rows × 2 columns (4 shown); not shown: wide"), "{text}");
        assert!(text.lines().any(|l| l.trim() == "49"), "last row shown: {text}");
    }
}
