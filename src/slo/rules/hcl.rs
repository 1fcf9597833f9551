//! Enough of HCL (Terraform's configuration language) to read resources: blocks with labels,
//! attributes with strings (interpolations kept), numbers, bools, lists, maps and heredocs, and
//! references kept as their text. Variables and locals with literal values are substituted.
//!
//! A body becomes a JSON object the way `terraform show -json` writes resource values: nested
//! blocks as arrays of objects under their type.

use serde_json::{Map, Value};

/// A top-level block: `resource "aws_cloudwatch_metric_alarm" "fast" { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Value,
    /// 1-based line where it starts.
    pub line: usize,
}

/// Parse a file into its top-level blocks, with `var.` and `local.` references resolved where
/// the file gives their value. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<Block>, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0, depth: 0, counted: std::cell::Cell::new((0, 1)) };
    let blocks = p.body_blocks()?;
    let mut scope: Map<String, Value> = Map::new();
    for b in &blocks {
        match (b.kind.as_str(), b.labels.first()) {
            ("variable", Some(name)) if !b.body["default"].is_null() => {
                scope.insert(format!("var.{name}"), b.body["default"].clone());
            }
            ("locals", _) => {
                for (k, v) in b.body.as_object().into_iter().flatten() {
                    scope.insert(format!("local.{k}"), v.clone());
                }
            }
            _ => {}
        }
    }
    Ok(blocks
        .into_iter()
        .map(|mut b| {
            b.body = substitute(&b.body, &scope);
            b
        })
        .collect())
}

/// Replace whole references (`var.x`) and interpolations (`"${var.env}-errors"`) whose value is known.
fn substitute(v: &Value, scope: &Map<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(known) = scope.get(s.as_str()) {
                return known.clone();
            }
            if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
                && !inner.contains("${")
                && let Some(known) = scope.get(inner.trim())
            {
                return known.clone();
            }
            let mut out = s.clone();
            for (name, value) in scope {
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                out = out.replace(&format!("${{{name}}}"), &text);
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, scope)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), substitute(v, scope))).collect()),
        other => other.clone(),
    }
}

/// How deeply blocks, lists and maps may nest. Real configurations stay under ten levels; the
/// bound keeps a hostile file from overflowing the stack, which nothing could catch.
const MAX_DEPTH: usize = 64;

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
    /// Blocks, lists and maps open around the current position.
    depth: usize,
    /// (position, its line) of the last line asked for.
    counted: std::cell::Cell<(usize, usize)>,
}

impl Parser<'_> {
    /// The 1-based line at the current position, counted on from the last answer so that a
    /// file of many blocks is not counted from its start for each one.
    fn line(&self) -> usize {
        let at = self.i.min(self.s.len());
        let (mut from, mut line) = self.counted.get();
        if at < from {
            (from, line) = (0, 1);
        }
        line += self.s[from..at].iter().filter(|&&b| b == b'\n').count();
        self.counted.set((at, line));
        line
    }

    fn error(&self, what: &str) -> String {
        format!("line {}: {what}", self.line())
    }

    /// Enter a nested block, list or map, refusing past `MAX_DEPTH`.
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("blocks, lists and maps nest more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skip spaces and comments; with `newlines`, line ends too.
    fn skip(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\t' || c == b'\r' || (newlines && c == b'\n') {
                self.i += 1;
            } else if c == b'#' || (c == b'/' && self.s.get(self.i + 1) == Some(&b'/')) {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.i += 1;
                }
            } else if c == b'/' && self.s.get(self.i + 1) == Some(&b'*') {
                self.i += 2;
                while self.i + 1 < self.s.len() && !(self.s[self.i] == b'*' && self.s[self.i + 1] == b'/') {
                    self.i += 1;
                }
                self.i = (self.i + 2).min(self.s.len());
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// Blocks of a file (attributes at the top level are ignored).
    fn body_blocks(&mut self) -> Result<Vec<Block>, String> {
        let mut blocks = Vec::new();
        loop {
            self.skip(true);
            if self.peek().is_none() {
                return Ok(blocks);
            }
            let line = self.line();
            let name = self.ident().ok_or_else(|| self.error("expected a block or an attribute name"))?;
            self.skip(false);
            if self.peek() == Some(b'=') {
                self.i += 1;
                self.expr()?;
                continue;
            }
            let labels = self.labels()?;
            let body = self.body()?;
            blocks.push(Block { kind: name, labels, body, line });
        }
    }

    fn labels(&mut self) -> Result<Vec<String>, String> {
        let mut labels = Vec::new();
        loop {
            self.skip(false);
            match self.peek() {
                Some(b'{') => return Ok(labels),
                Some(b'"') => labels.push(self.string()?),
                _ => labels.push(self.ident().ok_or_else(|| self.error("expected a label or `{`"))?),
            }
        }
    }

    /// `{ attributes and blocks }` as an object; repeated blocks become arrays.
    fn body(&mut self) -> Result<Value, String> {
        self.enter()?;
        let body = self.body_entries();
        self.depth -= 1;
        body
    }

    fn body_entries(&mut self) -> Result<Value, String> {
        self.i += 1; // `{`
        let mut out = Map::new();
        loop {
            self.skip(true);
            match self.peek() {
                None => return Err(self.error("a block is not closed with `}`")),
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(out));
                }
                // Map literals separate their entries with commas.
                Some(b',') => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            let name = match self.peek() {
                Some(b'"') => self.string()?,
                _ => self.ident().ok_or_else(|| self.error("expected an attribute or a block"))?,
            };
            self.skip(false);
            if matches!(self.peek(), Some(b'=' | b':')) {
                self.i += 1;
                let value = self.expr()?;
                out.insert(name, value);
            } else {
                self.labels()?;
                let body = self.body()?;
                match out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(items) => items.push(body),
                    other => *other = Value::Array(vec![body]),
                }
            }
        }
    }

    fn expr(&mut self) -> Result<Value, String> {
        self.skip(false);
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b'<') if self.s.get(self.i + 1) == Some(&b'<') => self.heredoc().map(Value::String),
            Some(b'[') => {
                self.enter()?;
                let list = self.list();
                self.depth -= 1;
                list
            }
            Some(b'{') => self.body(),
            _ => {
                let start = self.i;
                let raw = self.raw();
                if self.i == start {
                    // Nothing was read (`a = )`, `[)`): going on would read nothing forever.
                    let found = self.peek().map_or("the end of the file".to_string(), |c| format!("`{}`", c as char));
                    return Err(self.error(&format!("expected a value, found {found}")));
                }
                Ok(match raw.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => raw
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| raw.parse::<f64>().map(Value::from))
                        .unwrap_or(Value::String(raw)),
                })
            }
        }
    }

    /// `[a, b, ...]`, the `[` not yet read.
    fn list(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip(true);
            match self.peek() {
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                Some(b',') => self.i += 1,
                None => return Err(self.error("a list is not closed with `]`")),
                _ => items.push(self.expr()?),
            }
        }
    }

    /// An expression that is not a literal (a reference, a call), as text up to the end of the
    /// line or a separator outside brackets.
    fn raw(&mut self) -> String {
        let start = self.i;
        let mut depth = 0i32;
        while let Some(c) = self.peek() {
            match c {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => break,
                b')' | b']' | b'}' => depth -= 1,
                b',' | b'\n' if depth == 0 => break,
                b'#' if depth == 0 => break,
                _ => {}
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).trim().to_string()
    }

    /// A quoted string with its escapes undone; `${...}` interpolations are kept as written.
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = Vec::new();
        let mut depth = 0;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' if depth == 0 => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' if depth == 0 => {
                    let e = self.peek().unwrap_or(b'\\');
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                b'$' if self.peek() == Some(b'{') => {
                    out.extend_from_slice(b"${");
                    self.i += 1;
                    depth += 1;
                }
                b'{' if depth > 0 => {
                    depth += 1;
                    out.push(c);
                }
                b'}' if depth > 0 => {
                    depth -= 1;
                    out.push(c);
                }
                b'\n' if depth == 0 => {
                    self.i -= 1;
                    return Err(self.error("a string is not closed on its line"));
                }
                _ => out.push(c),
            }
        }
        Err(self.error("a string is not closed"))
    }

    /// `<<EOF` (or `<<-EOF`) up to the line holding only `EOF`.
    fn heredoc(&mut self) -> Result<String, String> {
        self.i += 2;
        let indented = self.peek() == Some(b'-');
        if indented {
            self.i += 1;
        }
        let marker = self.ident().ok_or_else(|| self.error("a heredoc needs a marker after <<"))?;
        while self.peek().is_some_and(|c| c != b'\n') {
            self.i += 1;
        }
        self.i += 1;
        let mut lines = Vec::new();
        loop {
            let start = self.i;
            while self.peek().is_some_and(|c| c != b'\n') {
                self.i += 1;
            }
            if start >= self.s.len() {
                return Err(self.error(&format!("heredoc {marker} is not closed")));
            }
            let line = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            self.i += 1;
            if line.trim() == marker {
                break;
            }
            lines.push(if indented { line.trim_start().to_string() } else { line });
        }
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_variables_and_nested_blocks() {
        let text = r#"
variable "tenant" { default = "acme" }
locals { burn = 14.4 }

# The fast-burn page.
resource "aws_cloudwatch_metric_alarm" "fast" {
  alarm_name          = "checkout-${var.tenant}-page-1h"
  threshold           = local.burn
  evaluation_periods  = 12
  alarm_actions       = [aws_sns_topic.pager.arn]
  tags = {
    slo    = "checkout/availability"
    "team" = "payments"
  }
  metric_query {
    id          = "burn"
    expression  = "(e / r) / 0.001"
    return_data = true
  }
  metric_query {
    id = "e"
    metric {
      metric_name = "Errors"
      period      = 300
      dimensions  = { Tenant = var.tenant }
    }
  }
  alarm_description = <<-EOT
    Fast burn.
    slo: checkout/availability
  EOT
}
"#;
        let blocks = parse(text).unwrap();
        let r = blocks.iter().find(|b| b.kind == "resource").unwrap();
        assert_eq!(r.labels, ["aws_cloudwatch_metric_alarm", "fast"]);
        assert_eq!(r.line, 6);
        let b = &r.body;
        assert_eq!(b["alarm_name"], "checkout-acme-page-1h");
        assert_eq!(b["threshold"], 14.4);
        assert_eq!(b["alarm_actions"][0], "aws_sns_topic.pager.arn");
        assert_eq!(b["tags"]["team"], "payments");
        assert_eq!(b["metric_query"][0]["expression"], "(e / r) / 0.001");
        assert_eq!(b["metric_query"][1]["metric"][0]["dimensions"]["Tenant"], "acme");
        assert_eq!(b["alarm_description"], "Fast burn.\nslo: checkout/availability");
        let err = parse("resource \"x\" \"y\" {\n  a = \"open\n}\n").unwrap_err();
        assert!(err.starts_with("line 2: a string is not closed"), "{err}");
    }

    #[test]
    fn a_value_that_reads_nothing_is_an_error_not_a_loop() {
        for text in ["a = [)", "resource \"x\" \"y\" {\n  a = [)\n}\n", "a = )", "a = [1, }"] {
            let err = parse(text).unwrap_err();
            assert!(err.contains("expected a value"), "{text:?}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_the_stack_runs_out() {
        let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nest more than"));
        let blocks = format!("r \"x\" {}{}", "b {\n".repeat(100_000), "}\n".repeat(100_000));
        assert!(parse(&blocks).unwrap_err().contains("nest more than"));
        let ok = format!("r \"x\" {{ a = {}1{} }}", "[".repeat(20), "]".repeat(20));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn lines_are_counted_once_for_many_blocks() {
        let text: String = (0..20_000).map(|i| format!("resource \"t\" \"r{i}\" {{ a = {i} }}\n")).collect();
        let blocks = parse(&text).unwrap();
        assert_eq!(blocks.last().unwrap().line, 20_000);
    }
}
