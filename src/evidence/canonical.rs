//! Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant white space.
//!
//! Written by hand rather than relying on `serde_json::Map` ordering, which changes to insertion
//! order whenever any crate in the build enables serde_json's `preserve_order` feature.

use serde_json::Value;

/// Serialize `value` canonically.
pub fn to_canonical_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            write_joined(out, b'{', b'}', keys, |out, key| {
                write_string(out, key);
                out.push(b':');
                write_value(out, &map[key]);
            });
        }
        Value::Array(items) => write_joined(out, b'[', b']', items, write_value),
        Value::String(s) => write_string(out, s),
        // Numbers, booleans and null have one serde_json spelling already.
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec cannot fail"),
    }
}

/// `open item,item,... close`.
fn write_joined<T>(
    out: &mut Vec<u8>,
    open: u8,
    close: u8,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(close);
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let v = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": null}});
        assert_eq!(String::from_utf8(to_canonical_vec(&v)).unwrap(), r#"{"a":{"c":null,"z":[1,{"x":3,"y":2}]},"b":1}"#);
    }

    #[test]
    fn strings_are_escaped() {
        let v = json!({"s": "line\n\"quoted\""});
        assert_eq!(String::from_utf8(to_canonical_vec(&v)).unwrap(), r#"{"s":"line\n\"quoted\""}"#);
    }
}
