//! Values as people see them at the prompt.

use super::Docs;
use crate::evidence::redact;
use crate::frame::{Frame, GroupBy, RenderOptions};
use rhai::{Array, Dynamic, ImmutableString, Map};

/// Items of an array or map shown before the rest is elided.
const MAX_ITEMS: usize = 50;

/// `value` for the screen, `width` characters wide, secrets redacted. Unit renders as nothing.
pub fn render(value: &Dynamic, width: usize) -> String {
    let text = if value.is_unit() {
        String::new()
    } else if let Some(frame) = value.read_lock::<Frame>() {
        crate::frame::render(&frame, RenderOptions { width, ..RenderOptions::default() })
    } else if let Some(group) = value.read_lock::<GroupBy>() {
        format!("GroupBy by {:?}: aggregate it with .agg([\"count(*) AS n\", ...])", group.keys())
    } else if let Some(s) = value.read_lock::<ImmutableString>() {
        s.to_string()
    } else {
        inline(value)
    };
    redact(&text).into_owned()
}

/// Compact one-line form, eliding long collections.
fn inline(value: &Dynamic) -> String {
    if let Some(items) = value.read_lock::<Array>() {
        let mut parts: Vec<String> = items.iter().take(MAX_ITEMS).map(inline_item).collect();
        if items.len() > MAX_ITEMS {
            parts.push(format!("… {} more", items.len() - MAX_ITEMS));
        }
        return format!("[{}]", parts.join(", "));
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut parts: Vec<String> =
            map.iter().take(MAX_ITEMS).map(|(k, v)| format!("{k}: {}", inline_item(v))).collect();
        if map.len() > MAX_ITEMS {
            parts.push(format!("… {} more", map.len() - MAX_ITEMS));
        }
        return format!("#{{{}}}", parts.join(", "));
    }
    if let Some(frame) = value.read_lock::<Frame>() {
        return format!("Frame({} × {})", frame.height(), frame.width());
    }
    value.to_string()
}

fn inline_item(value: &Dynamic) -> String {
    if value.is_string() {
        format!("{value:?}")
    } else if value.is_unit() {
        "()".into()
    } else {
        inline(value)
    }
}

/// Every documented function, grouped: globals, methods by type, then namespaces.
pub fn function_list(docs: &Docs) -> String {
    let mut out = String::from("Functions (help(\"name\") for details):\n");
    let mut section = String::new();
    for doc in docs.all() {
        let heading = match (&doc.namespace, &doc.receiver) {
            (Some(ns), _) => format!("{ns}::"),
            (None, Some(ty)) => format!("{ty} methods"),
            (None, None) => "global".to_string(),
        };
        if heading != section {
            out += &format!("\n{heading}\n");
            section = heading;
        }
        out += &format!("  {:<22} {}\n", doc.qualified(), doc.summary);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_are_inline_and_secrets_hidden() {
        let v: Dynamic = vec![Dynamic::from("postgres://u:pw@h/db"), Dynamic::from(1_i64)].into();
        assert_eq!(render(&v, 80), r#"["postgres://u:[REDACTED]@h/db", 1]"#);
        assert_eq!(render(&Dynamic::UNIT, 80), "");
    }
}
