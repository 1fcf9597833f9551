//! Parsing a `.tf` file with hcl-edit, after a linear check of how deep its expressions nest.
//!
//! hcl-edit 0.10 backtracks on a syntax error inside nested expressions, trying each enclosing
//! bracket twice: the time doubles with every level (measured on its release build: 0.1 s at 14
//! levels, 1.4 s at 18, and a 1.3 KB file found by fuzzing ran for hours). Real configurations
//! nest expressions a handful of levels deep, so files deeper than [`MAX_DEPTH`] are refused
//! with the place, before hcl-edit sees them.

use hcl_edit::structure::Body;

/// Expression levels allowed: brackets, parentheses, object braces and `${ }` in strings.
/// Block bodies do not count.
pub const MAX_DEPTH: usize = 16;

/// `text` (from `origin`) parsed, or an error naming the place.
pub fn parse(origin: &str, text: &str) -> Result<Body, String> {
    if let Some((line, column)) = too_deep(text) {
        return Err(format!(
            "{origin}:{line}:{column}: expressions nested more than {MAX_DEPTH} levels deep: not read (no Terraform configuration needs as many)"
        ));
    }
    hcl_edit::parser::parse_body(text).map_err(|e| {
        let at = e.location();
        format!("{origin}:{}:{}: {}", at.line(), at.column(), e.message())
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// A block body: `resource "a" "b" {`.
    Block,
    /// `(`, `[` or an object's `{`.
    Expression,
    /// Inside `"..."`.
    Text,
    /// `${ ... }` or `%{ ... }` inside a string.
    Interpolation,
}

/// Where the first expression deeper than [`MAX_DEPTH`] opens (1-based line and column), if any.
/// Comments and heredoc bodies are skipped; unbalanced brackets are left for the parser to name.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut stack: Vec<Level> = Vec::new();
    let mut depth = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    let mut last = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        let top = stack.last().copied();
        if top == Some(Level::Text) {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    stack.pop();
                }
                '$' | '%' if chars.peek() == Some(&'{') => {
                    chars.next();
                    stack.push(Level::Interpolation);
                    depth += 1;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => stack.push(Level::Text),
            '#' => skip_line(&mut chars, &mut line, &mut column),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut line, &mut column),
            '/' if chars.peek() == Some(&'*') => skip_comment(&mut chars, &mut line, &mut column),
            '<' if chars.peek() == Some(&'<') => skip_heredoc(&mut chars, &mut line, &mut column),
            '(' | '[' => {
                stack.push(Level::Expression);
                depth += 1;
            }
            '{' => {
                let block = depth == 0 && (last.is_alphanumeric() || matches!(last, '_' | '-' | '"'));
                if block {
                    stack.push(Level::Block);
                } else {
                    stack.push(Level::Expression);
                    depth += 1;
                }
            }
            ')' | ']' | '}' => {
                if matches!(stack.pop(), Some(Level::Expression | Level::Interpolation)) {
                    depth -= 1;
                }
            }
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Some((line, column));
        }
        if !c.is_whitespace() {
            last = c;
        }
    }
    None
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars>, line: &mut usize, column: &mut usize) {
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            *column = 0;
            return;
        }
    }
}

fn skip_comment(chars: &mut std::iter::Peekable<std::str::Chars>, line: &mut usize, column: &mut usize) {
    let mut star = false;
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            *column = 0;
        } else {
            *column += 1;
        }
        if star && c == '/' {
            return;
        }
        star = c == '*';
    }
}

/// After `<`: `<<EOT` or `<<-EOT` then a newline starts a heredoc, which ends at a line holding
/// only `EOT`. Anything else (`a << b` is no HCL) is left as it was.
fn skip_heredoc(chars: &mut std::iter::Peekable<std::str::Chars>, line: &mut usize, column: &mut usize) {
    chars.next();
    if chars.peek() == Some(&'-') {
        chars.next();
    }
    let mut marker = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_alphanumeric() || c == '_' {
            marker.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if marker.is_empty() || chars.peek() != Some(&'\n') {
        return;
    }
    let mut current = String::new();
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            *column = 0;
            if current.trim() == marker {
                return;
            }
            current.clear();
        } else {
            current.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("b = {}w&e[\n", "x/y+z[".repeat(levels - 1))
    }

    #[test]
    fn deep_expressions_are_refused_before_the_parser_backtracks_on_them() {
        let err = parse("deep.tf", &nested(40)).err().unwrap();
        assert!(err.starts_with("deep.tf:1:") && err.contains("more than 16 levels"), "{err}");
        // At the limit the parser runs and names the syntax error itself.
        let err = parse("ok.tf", &nested(MAX_DEPTH)).err().unwrap();
        assert!(!err.contains("levels"), "{err}");
    }

    #[test]
    fn blocks_strings_comments_and_heredocs_do_not_count() {
        let blocks = format!("{}{}", "a {\n".repeat(30), "}\n".repeat(30));
        assert!(too_deep(&blocks).is_none());
        let brackets = "[".repeat(20);
        for hidden in [
            format!("# {brackets}\n"),
            format!("/* {brackets} */\n"),
            format!("x = \"{brackets}\"\n"),
            format!("x = <<EOT\n{brackets}\nEOT\n"),
            format!("x = <<-EOT\n  {brackets}\n  EOT\n"),
        ] {
            assert!(too_deep(&hidden).is_none(), "{hidden}");
        }
        let interpolated = format!("x = \"{}\"\n", "${f(".repeat(9));
        assert_eq!(too_deep(&interpolated).map(|(line, _)| line), Some(1));
        assert_eq!(too_deep(&format!("\n\ny = {}", "{a = ".repeat(17))), Some((3, 4 + 5 * 16 + 1)));
    }
}
