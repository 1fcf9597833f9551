//! The JSON Canonicalization Scheme (RFC 8785): object members sorted by the UTF-16 code units of
//! their names, no white space, strings escaped as ECMAScript's `JSON.stringify` does, and
//! numbers written as ECMAScript's `Number.prototype.toString`. Two equal values always give the
//! same bytes, so their checksums compare.
//!
//! (The session log keeps its own canonical form, fixed before this; it is not RFC 8785.)

use serde_json::Value;

/// `value` in canonical form. Numbers that are not finite cannot occur in JSON values.
pub fn canonicalize(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key);
                out.push(':');
                write(out, &map[*key]);
            }
            out.push('}');
        }
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript's shortest round-trip form of a double.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v < 0.0 {
        return format!("-{}", number(-v));
    }
    // Rust's `{:e}` gives the shortest digits that round-trip: `1.44e1`.
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` has an exponent");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let n = exponent.parse::<i32>().expect("a decimal exponent") + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let sign = if n - 1 < 0 { "-" } else { "+" };
        let rest = if k > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{}{rest}e{sign}{}", &digits[..1], (n - 1).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_ecmascript_writes_them() {
        // RFC 8785, appendix B, and the usual thresholds.
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (14.4, "14.4"),
            (0.001, "0.001"),
            (0.0009999999999999432, "0.0009999999999999432"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1.2e-6, "0.0000012"),
            (-5.0, "-5"),
            (333333333.3333333, "333333333.3333333"),
            (4.5, "4.5"),
            (2e-3, "0.002"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(number(v), want, "{v:e}");
        }
    }

    #[test]
    fn members_sort_by_utf16_and_strings_escape_minimally() {
        let v = json!({"b": 1, "a": [true, null, "x\ny\u{1}"], "\u{e9}": 2, "\u{1d11e}": 3});
        // U+1D11E is a surrogate pair (D834 DD1E), which sorts before U+00E9 in UTF-16 only if
        // compared by code units: 0xD834 > 0x00E9, so é comes first.
        assert_eq!(canonicalize(&v), "{\"a\":[true,null,\"x\\ny\\u0001\"],\"b\":1,\"\u{e9}\":2,\"\u{1d11e}\":3}");
    }
}
