//! The Terraform functions alarm modules are written with: map and list plumbing (`lookup`,
//! `merge`, `concat`, `flatten`), text (`format`, `join`, `lower`), conversions and
//! arithmetic. Functions that read files, call providers or hash are not evaluated: their
//! results become placeholders ([`super::eval`]).

use serde_json::{Map, Value};

use super::eval::{Eval, as_number, as_text, equal, error, kind, number};

const KNOWN: [&str; 41] = [
    "abs",
    "ceil",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "distinct",
    "element",
    "endswith",
    "flatten",
    "floor",
    "format",
    "join",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "replace",
    "reverse",
    "split",
    "startswith",
    "substr",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "upper",
    "values",
    "zipmap",
];

/// Whether [`call`] evaluates `name`.
pub fn known(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// Lists nest at most this deep for `flatten`.
const MAX_FLATTEN_DEPTH: usize = 32;

pub fn call(name: &str, args: Vec<Value>) -> Eval {
    let arg = |i: usize| args.get(i).cloned().map_or_else(|| error(format!("{name}: missing argument {}", i + 1)), Ok);
    let text = |i: usize| arg(i).and_then(|v| as_text(&v));
    let list = |i: usize| arg(i).and_then(|v| as_list(name, v));
    match name {
        "abs" => Ok(number(as_number(&arg(0)?)?.abs())),
        "ceil" => Ok(number(as_number(&arg(0)?)?.ceil())),
        "floor" => Ok(number(as_number(&arg(0)?)?.floor())),
        "min" | "max" => {
            let numbers: Result<Vec<f64>, _> = args.iter().map(as_number).collect();
            let numbers = numbers?;
            let pick = if name == "min" { f64::min } else { f64::max };
            numbers
                .into_iter()
                .reduce(pick)
                .map_or_else(|| error(format!("{name}: takes at least one number")), |n| Ok(number(n)))
        }
        "coalesce" => args
            .into_iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .map_or_else(|| error("coalesce: every argument is null or empty"), Ok),
        "coalescelist" => args
            .into_iter()
            .find(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            .map_or_else(|| error("coalescelist: every argument is empty"), Ok),
        "compact" => {
            Ok(Value::Array(list(0)?.into_iter().filter(|v| !v.is_null() && v.as_str() != Some("")).collect()))
        }
        "concat" => {
            let mut out = Vec::new();
            for (i, _) in args.iter().enumerate() {
                out.extend(list(i)?);
            }
            Ok(Value::Array(out))
        }
        "contains" => {
            let needle = arg(1)?;
            Ok(Value::Bool(list(0)?.iter().any(|v| equal(v, &needle))))
        }
        "distinct" | "toset" => {
            let mut out: Vec<Value> = Vec::new();
            for v in list(0)? {
                if !out.iter().any(|seen| equal(seen, &v)) {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }
        "element" => {
            let items = list(0)?;
            if items.is_empty() {
                return error("element: the list is empty");
            }
            let at = as_number(&arg(1)?)?;
            if at < 0.0 {
                return error("element: the index is negative");
            }
            Ok(items[(at as usize) % items.len()].clone())
        }
        "flatten" => {
            let mut out = Vec::new();
            flatten(list(0)?, 0, &mut out)?;
            Ok(Value::Array(out))
        }
        "format" => format(&text(0)?, &args[1..]),
        "join" => {
            let sep = text(0)?;
            let mut parts = Vec::new();
            for i in 1..args.len() {
                for v in list(i)? {
                    parts.push(as_text(&v)?);
                }
            }
            Ok(Value::String(parts.join(&sep)))
        }
        "jsonencode" => Ok(Value::String(arg(0)?.to_string())),
        "keys" | "values" => match arg(0)? {
            Value::Object(map) => {
                let mut pairs: Vec<(String, Value)> = map.into_iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Value::Array(
                    pairs.into_iter().map(|(k, v)| if name == "keys" { Value::String(k) } else { v }).collect(),
                ))
            }
            other => error(format!("{name}: expected a map, got {}", kind(&other))),
        },
        "length" => match arg(0)? {
            Value::Array(items) => Ok(Value::from(items.len())),
            Value::Object(map) => Ok(Value::from(map.len())),
            Value::String(s) => Ok(Value::from(s.chars().count())),
            other => error(format!("length: expected a collection or string, got {}", kind(&other))),
        },
        "lookup" => match arg(0)? {
            Value::Object(mut map) => {
                let key = text(1)?;
                match map.remove(&key) {
                    Some(v) => Ok(v),
                    None if args.len() > 2 => arg(2),
                    None => error(format!("lookup: no key \"{key}\" and no default")),
                }
            }
            other => error(format!("lookup: expected a map, got {}", kind(&other))),
        },
        "lower" => Ok(Value::String(text(0)?.to_lowercase())),
        "upper" => Ok(Value::String(text(0)?.to_uppercase())),
        "title" => Ok(Value::String(title(&text(0)?))),
        "merge" => {
            let mut out = Map::new();
            for v in args {
                match v {
                    Value::Object(map) => out.extend(map),
                    Value::Null => {}
                    other => return error(format!("merge: expected maps, got {}", kind(&other))),
                }
            }
            Ok(Value::Object(out))
        }
        "replace" => {
            let (s, from, to) = (text(0)?, text(1)?, text(2)?);
            if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
                return error("replace: regular expressions are not evaluated here");
            }
            if from.is_empty() {
                return Ok(Value::String(s));
            }
            Ok(Value::String(s.replace(&from, &to)))
        }
        "reverse" => Ok(Value::Array(list(0)?.into_iter().rev().collect())),
        "split" => {
            let (sep, s) = (text(0)?, text(1)?);
            if sep.is_empty() {
                return error("split: the separator is empty");
            }
            Ok(Value::Array(s.split(sep.as_str()).map(|p| Value::String(p.to_string())).collect()))
        }
        "startswith" => Ok(Value::Bool(text(0)?.starts_with(&text(1)?))),
        "endswith" => Ok(Value::Bool(text(0)?.ends_with(&text(1)?))),
        "substr" => {
            let s = text(0)?;
            let (offset, length) = (as_number(&arg(1)?)?, as_number(&arg(2)?)?);
            let chars: Vec<char> = s.chars().collect();
            let start = if offset < 0.0 { chars.len().saturating_sub((-offset) as usize) } else { offset as usize };
            let start = start.min(chars.len());
            let end = if length < 0.0 { chars.len() } else { start.saturating_add(length as usize).min(chars.len()) };
            Ok(Value::String(chars[start..end].iter().collect()))
        }
        "tobool" => match arg(0)? {
            Value::Bool(b) => Ok(Value::Bool(b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            Value::Null => Ok(Value::Null),
            other => error(format!("tobool: cannot convert {}", kind(&other))),
        },
        "tolist" => Ok(Value::Array(list(0)?)),
        "tomap" => match arg(0)? {
            map @ Value::Object(_) => Ok(map),
            other => error(format!("tomap: expected a map, got {}", kind(&other))),
        },
        "tonumber" => match arg(0)? {
            Value::Null => Ok(Value::Null),
            v => Ok(number(as_number(&v)?)),
        },
        "tostring" => match arg(0)? {
            Value::Null => Ok(Value::Null),
            v => Ok(Value::String(as_text(&v)?)),
        },
        "trim" => {
            let (s, cut) = (text(0)?, text(1)?);
            Ok(Value::String(s.trim_matches(|c| cut.contains(c)).to_string()))
        }
        "trimprefix" => {
            let (s, prefix) = (text(0)?, text(1)?);
            Ok(Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string()))
        }
        "trimsuffix" => {
            let (s, suffix) = (text(0)?, text(1)?);
            Ok(Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string()))
        }
        "trimspace" => Ok(Value::String(text(0)?.trim().to_string())),
        "zipmap" => {
            let (keys, values) = (list(0)?, list(1)?);
            if keys.len() != values.len() {
                return error("zipmap: the lists differ in length");
            }
            let mut out = Map::new();
            for (k, v) in keys.iter().zip(values) {
                out.insert(as_text(k)?, v);
            }
            Ok(Value::Object(out))
        }
        other => error(format!("{other}: not evaluated here")),
    }
}

fn as_list(name: &str, v: Value) -> Result<Vec<Value>, super::eval::Fault> {
    match v {
        Value::Array(items) => Ok(items),
        other => error(format!("{name}: expected a list, got {}", kind(&other))),
    }
}

fn flatten(items: Vec<Value>, depth: usize, out: &mut Vec<Value>) -> Result<(), super::eval::Fault> {
    if depth > MAX_FLATTEN_DEPTH {
        return error(format!("flatten: lists nest deeper than {MAX_FLATTEN_DEPTH}"));
    }
    for item in items {
        match item {
            Value::Array(inner) => flatten(inner, depth + 1, out)?,
            other => out.push(other),
        }
    }
    Ok(())
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

/// `format` with the verbs alarm names use: `%s`, `%d`, `%v`, `%f` (with a precision), `%%`.
fn format(spec: &str, args: &[Value]) -> Eval {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = String::new();
        while let Some(d) = chars.next_if(|d| d.is_ascii_digit() || *d == '.') {
            precision.push(d);
        }
        let verb = chars.next();
        if verb == Some('%') {
            out.push('%');
            continue;
        }
        let Some(value) = next.next() else {
            return error(format!("format: \"{spec}\" needs more arguments"));
        };
        match verb {
            Some('s' | 'v') => out.push_str(&as_text(value)?),
            Some('d') => out.push_str(&format!("{}", as_number(value)?.trunc() as i64)),
            Some('f') => {
                let digits = precision.split_once('.').and_then(|(_, p)| p.parse::<usize>().ok()).unwrap_or(6).min(32);
                out.push_str(&format!("{:.*}", digits, as_number(value)?));
            }
            _ => return error(format!("format: verb in \"{spec}\" is not evaluated here")),
        }
    }
    Ok(Value::String(out))
}
