//! Splitting a compiled input into its top-level statements and their source text, so each is
//! run and logged on its own.

use rhai::{AST, Position, Stmt};

/// Where a statement starts. Rhai positions assignments at their operator, so use the target.
fn start(stmt: &Stmt) -> Position {
    match stmt {
        Stmt::Assignment(x) => x.1.lhs.start_position(),
        other => other.position(),
    }
}

/// Byte offset of a 1-based (line, column) position; columns count characters.
fn offset(source: &str, pos: Position) -> Option<usize> {
    let (line, column) = (pos.line()?, pos.position().unwrap_or(1));
    let line_start = if line == 1 {
        0
    } else {
        source.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let rest = &source[line_start..];
    let in_line = rest.char_indices().nth(column.saturating_sub(1)).map_or(rest.len(), |(i, _)| i);
    Some(line_start + in_line)
}

/// Move back over a `ns::` qualifier, which Rhai positions after.
fn include_qualifier(source: &str, mut at: usize) -> usize {
    loop {
        let before = &source[..at];
        let Some(stem) = before.strip_suffix("::") else { return at };
        let ident_start = stem
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(i, _)| i);
        match ident_start {
            Some(i) => at = i,
            None => return at,
        }
    }
}

/// The statements of `ast` with the text each came from.
pub fn split<'a>(source: &'a str, ast: &AST) -> Vec<(Stmt, &'a str)> {
    let stmts = ast.statements();
    let starts: Vec<Option<usize>> =
        stmts.iter().map(|s| offset(source, start(s)).map(|o| include_qualifier(source, o))).collect();
    // Positions we cannot place (or that go backwards) fall back to the whole input.
    let ordered = starts.iter().all(Option::is_some) && starts.windows(2).all(|w| w[0] <= w[1]);
    stmts
        .iter()
        .enumerate()
        .map(|(i, stmt)| {
            let text = if ordered {
                let from = if i == 0 { 0 } else { starts[i].expect("checked") };
                let to = starts.get(i + 1).map_or(source.len(), |s| s.expect("checked"));
                source[from..to].trim()
            } else {
                source.trim()
            };
            (stmt.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_statement_gets_its_own_text() {
        let engine = rhai::Engine::new();
        let src = "let x = 1;\nx = x + 2;\nprint(x); x * 2";
        let ast = engine.compile(src).unwrap();
        let texts: Vec<&str> = split(src, &ast).into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, vec!["let x = 1;", "x = x + 2;", "print(x);", "x * 2"]);
    }
}
