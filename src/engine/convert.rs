//! Rhai values to and from JSON, and their type names and shapes for the log.

use crate::frame::{Frame, GroupBy};
use rhai::{Array, Dynamic, Map};
use serde_json::Value;

/// A value as JSON. Frames become arrays of records; non-finite floats become null.
pub fn to_json(value: &Dynamic) -> Value {
    if value.is_unit() {
        return Value::Null;
    }
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Value::Bool(b);
    }
    if let Ok(i) = value.as_int() {
        return i.into();
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null);
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Value::String(s.to_string());
    }
    if let Ok(c) = value.as_char() {
        return Value::String(c.to_string());
    }
    if let Some(items) = value.read_lock::<Array>() {
        return Value::Array(items.iter().map(to_json).collect());
    }
    if let Some(map) = value.read_lock::<Map>() {
        return Value::Object(map.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect());
    }
    if let Some(frame) = value.read_lock::<Frame>() {
        return Value::Array(frame.to_records());
    }
    if let Some(group) = value.read_lock::<GroupBy>() {
        return serde_json::json!({ "group_by": group.keys() });
    }
    Value::String(value.to_string())
}

/// JSON as a Rhai value.
pub fn from_json(value: Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.into(),
        Value::Array(items) => Dynamic::from_array(items.into_iter().map(from_json).collect()),
        Value::Object(map) => Dynamic::from_map(map.into_iter().map(|(k, v)| (k.into(), from_json(v))).collect()),
    }
}

/// The type name people see: `Frame`, `array`, `map`, `string`, `i64`, ...
pub fn type_name(value: &Dynamic) -> String {
    let name = value.type_name();
    name.rsplit("::").next().unwrap_or(name).to_string()
}

/// Rows and columns of a Frame, length of a collection, nothing for scalars.
pub fn shape(value: &Dynamic) -> Option<Vec<u64>> {
    if let Some(frame) = value.read_lock::<Frame>() {
        return Some(vec![frame.height() as u64, frame.width() as u64]);
    }
    if let Some(items) = value.read_lock::<Array>() {
        return Some(vec![items.len() as u64]);
    }
    if let Some(map) = value.read_lock::<Map>() {
        return Some(vec![map.len() as u64]);
    }
    None
}

/// A Rhai string literal of `text`.
pub fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Line and paragraph separators end lines in some editors and languages: escaped, so
            // a reader sees the value as one line, as Rhai does.
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A parameter's value as Rhai source: integers, floats and booleans as they are, anything
/// else as a string literal.
pub fn literal(value: &Dynamic) -> String {
    if let Ok(i) = value.as_int() {
        return i.to_string();
    }
    if let Ok(f) = value.as_float() {
        return format!("{f:?}");
    }
    if let Ok(b) = value.as_bool() {
        return b.to_string();
    }
    string_literal(&value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
        assert_eq!(to_json(&from_json(v.clone())), v);
    }
}
