//! Splitting a runbook's SQL file into its statements: `;` ends a statement except inside
//! quotes and comments, and a `-- step: NAME` comment names the statement after it.

/// One statement of a SQL file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Statement {
    /// The `-- step:` name, or `step N`.
    pub name: String,
    pub sql: String,
    /// The 1-based line the statement starts on.
    pub line: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("line {line}: a {what} opened here is never closed")]
    Unclosed { what: &'static str, line: usize },
}

/// The statements of `text`, in order.
pub fn split(text: &str) -> Result<Vec<Statement>, Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut line, mut start_line) = (1usize, None::<usize>);
    let mut name: Option<String> = None;
    let mut i = 0;
    let finish =
        |current: &mut String, start: &mut Option<usize>, name: &mut Option<String>, out: &mut Vec<Statement>| {
            let sql = current.trim().to_string();
            if !sql.is_empty() {
                let n = out.len() + 1;
                out.push(Statement {
                    name: name.take().unwrap_or_else(|| format!("step {n}")),
                    sql,
                    line: start.unwrap_or(1),
                });
            }
            current.clear();
            *start = None;
        };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
            let comment: String = chars[i + 2..end].iter().collect();
            if let Some(step) = comment.trim().strip_prefix("step:") {
                name = Some(step.trim().to_string());
            }
            i = end;
            continue;
        }
        if c == '/' && next == Some('*') {
            let open = line;
            let mut j = i + 2;
            while j + 1 < chars.len() && !(chars[j] == '*' && chars[j + 1] == '/') {
                line += usize::from(chars[j] == '\n');
                j += 1;
            }
            if j + 1 >= chars.len() {
                return Err(Error::Unclosed { what: "/* comment", line: open });
            }
            i = j + 2;
            current.push(' ');
            continue;
        }
        if c == ';' {
            finish(&mut current, &mut start_line, &mut name, &mut out);
            i += 1;
            continue;
        }
        if !c.is_whitespace() && start_line.is_none() {
            start_line = Some(line);
        }
        if matches!(c, '\'' | '"' | '`') {
            let open = line;
            current.push(c);
            let mut j = i + 1;
            loop {
                let Some(&d) = chars.get(j) else {
                    return Err(Error::Unclosed { what: "quote", line: open });
                };
                current.push(d);
                line += usize::from(d == '\n');
                j += 1;
                if d == c {
                    // A doubled quote is the quote itself.
                    if chars.get(j) == Some(&c) {
                        current.push(c);
                        j += 1;
                        continue;
                    }
                    break;
                }
            }
            i = j;
            continue;
        }
        line += usize::from(c == '\n');
        current.push(c);
        i += 1;
    }
    finish(&mut current, &mut start_line, &mut name, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_named_numbered_and_placed() {
        let text = "-- step: close open orders\nUPDATE orders SET status = 'a;b' WHERE tenant_id = ?1;\n\n/* ; */ DELETE FROM order_notes WHERE body = 'it''s; done';\nSELECT 1";
        let got = split(text).unwrap();
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["close open orders", "step 2", "step 3"]);
        assert_eq!(got[0].sql, "UPDATE orders SET status = 'a;b' WHERE tenant_id = ?1");
        assert_eq!(got[1].sql, "DELETE FROM order_notes WHERE body = 'it''s; done'");
        assert_eq!([got[0].line, got[1].line, got[2].line], [2, 4, 5]);
    }

    #[test]
    fn an_open_quote_names_its_line() {
        assert_eq!(split("SELECT 1;\nSELECT 'x").unwrap_err(), Error::Unclosed { what: "quote", line: 2 });
        assert_eq!(split("/* x").unwrap_err(), Error::Unclosed { what: "/* comment", line: 1 });
        assert!(split("  \n-- nothing\n").unwrap().is_empty());
    }
}
