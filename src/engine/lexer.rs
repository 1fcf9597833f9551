//! Just enough of a Rhai lexer for the prompt: token kinds for highlighting, open brackets and
//! strings for multi-line input, and whether the cursor is inside a string.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ident,
    Number,
    /// A string or character literal, possibly unterminated.
    Str,
    Comment,
    Punct,
    Space,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// What is still open at the end of the input.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Open {
    pub brackets: usize,
    /// Byte offset where an unterminated string starts.
    pub string_at: Option<usize>,
    pub comment: bool,
}

impl Open {
    pub fn is_complete(&self) -> bool {
        self.brackets == 0 && self.string_at.is_none() && !self.comment
    }
}

fn end_of_string(bytes: &[u8], start: usize, quote: u8) -> (usize, bool) {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return (i + 1, true),
            // Only backtick strings span lines.
            b'\n' if quote != b'`' => return (i, false),
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

/// Tokens of `text`, and what is left open at its end.
pub fn lex(text: &str) -> (Vec<Token>, Open) {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut open = Open::default();
    let mut depth: isize = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b'"' | b'`' | b'\'' => {
                let (end, closed) = end_of_string(bytes, i, c);
                if !closed && c != b'\'' {
                    open.string_at = Some(start);
                }
                i = end;
                Kind::Str
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                Kind::Comment
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                match text[i + 2..].find("*/") {
                    Some(n) => i += n + 4,
                    None => {
                        i = bytes.len();
                        open.comment = true;
                    }
                }
                Kind::Comment
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
                    // `1..3` is a range, not a number.
                    if bytes[i] == b'.' && bytes.get(i + 1) == Some(&b'.') {
                        break;
                    }
                    i += 1;
                }
                Kind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80) {
                    i += 1;
                }
                Kind::Ident
            }
            c if c.is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                Kind::Space
            }
            _ => {
                match c {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth -= 1,
                    _ => {}
                }
                // `#{` opens a map: the `{` is counted on its own.
                i += 1;
                Kind::Punct
            }
        };
        tokens.push(Token { kind, start, end: i });
    }
    open.brackets = depth.max(0) as usize;
    (tokens, open)
}

/// Offsets just after each top-level `;` or `}`: where a statement can begin.
pub fn statement_boundaries(text: &str) -> Vec<usize> {
    let (tokens, _) = lex(text);
    // Which brackets are open; `true` marks a block `{` (a `#{` map literal is not a block).
    let mut open: Vec<bool> = Vec::new();
    let mut out = vec![0];
    for t in tokens.iter().filter(|t| t.kind == Kind::Punct) {
        match &text[t.start..t.end] {
            "(" | "[" => open.push(false),
            "{" => open.push(!text[..t.start].ends_with('#')),
            ")" | "]" => {
                open.pop();
            }
            // The guard pops: every `}` closes what is innermost, block or not.
            "}" if open.pop() == Some(true) && open.is_empty() => out.push(t.end),
            "}" => {}
            ";" if open.is_empty() => out.push(t.end),
            _ => {}
        }
    }
    out
}

/// If `pos` is inside a string literal, the offset just after its opening quote.
pub fn string_start_at(text: &str, pos: usize) -> Option<usize> {
    let (tokens, _) = lex(&text[..pos]);
    let last = tokens.last()?;
    let bytes = text.as_bytes();
    let quote = bytes[last.start];
    let closed = last.end - last.start >= 2 && bytes[last.end - 1] == quote && bytes[last.end - 2] != b'\\';
    (last.kind == Kind::Str && last.end == pos && !closed).then_some(last.start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_and_strings() {
        assert!(lex("let x = [1, 2];").1.is_complete());
        assert_eq!(lex("fn f() {\n let a = (1").1.brackets, 2);
        assert_eq!(lex("let s = `multi").1.string_at, Some(8));
        assert!(lex("let s = \"a]b\"; // (").1.is_complete());
        assert!(lex("/* open").1.comment);
    }

    #[test]
    fn boundaries_skip_nested_and_quoted_separators() {
        let src = "let a = #{x: 1}; f(\";\"); if a { b; }\nc";
        let ends: Vec<&str> = statement_boundaries(src).iter().map(|&i| &src[..i]).collect();
        assert_eq!(
            ends,
            vec!["", "let a = #{x: 1};", "let a = #{x: 1}; f(\";\");", "let a = #{x: 1}; f(\";\"); if a { b; }"]
        );
    }

    #[test]
    fn cursor_in_string() {
        assert_eq!(string_start_at(r#"read_csv("dat"#, 13), Some(10));
        assert_eq!(string_start_at(r#"read_csv("data.csv")"#, 20), None);
        assert_eq!(string_start_at("x.len", 5), None);
    }
}
