//! Splitting a compiled input into its top-level statements and their source text, so each is
//! run and logged on its own.

use rhai::{AST, Expr, Position, Stmt};

/// Where a statement starts. Rhai positions assignments and operator calls at their operator,
/// so look for the leftmost operand.
fn start(stmt: &Stmt) -> Position {
    match stmt {
        Stmt::Assignment(x) => expr_start(&x.1.lhs),
        Stmt::Expr(e) => expr_start(e),
        Stmt::FnCall(call, pos) => call_start(call, *pos),
        other => other.position(),
    }
}

fn expr_start(expr: &Expr) -> Position {
    let own = expr.start_position();
    match expr {
        Expr::FnCall(call, _) => call_start(call, own),
        Expr::Dot(x, ..) | Expr::Index(x, ..) => expr_start(&x.lhs),
        Expr::And(x, ..) | Expr::Or(x, ..) | Expr::Coalesce(x, ..) => expr_start(&x[0]),
        _ => own,
    }
}

fn call_start(call: &rhai::FnCallExpr, own: Position) -> Position {
    match (&call.op_token, call.args.first()) {
        (Some(_), Some(first)) => earliest(own, expr_start(first)),
        _ => own,
    }
}

fn earliest(a: Position, b: Position) -> Position {
    let key = |p: Position| (p.line().unwrap_or(usize::MAX), p.position().unwrap_or(usize::MAX));
    if key(b) < key(a) { b } else { a }
}

/// Byte offset of a 1-based (line, column) position; columns count characters.
fn offset(source: &str, pos: Position) -> Option<usize> {
    let (line, column) = (pos.line()?, pos.position().unwrap_or(1));
    let line_start = if line == 1 { 0 } else { source.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)? };
    let rest = &source[line_start..];
    let in_line = rest.char_indices().nth(column.saturating_sub(1)).map_or(rest.len(), |(i, _)| i);
    Some(line_start + in_line)
}

/// Move back over a `ns::` qualifier, which Rhai positions after.
fn include_qualifier(source: &str, mut at: usize) -> usize {
    loop {
        let before = &source[..at];
        let Some(stem) = before.strip_suffix("::") else { return at };
        let ident_start =
            stem.char_indices().rev().take_while(|(_, c)| c.is_alphanumeric() || *c == '_').last().map(|(i, _)| i);
        match ident_start {
            Some(i) => at = i,
            None => return at,
        }
    }
}

/// The statements of `ast` with the text each came from. Rhai's positions (which constant
/// folding can move onto an operator) are snapped back to the top-level `;` or `}` before them.
pub fn split<'a>(source: &'a str, ast: &AST) -> Vec<(Stmt, &'a str)> {
    let stmts = ast.statements();
    let boundaries = super::lexer::statement_boundaries(source);
    let snap = |at: usize| boundaries.iter().copied().take_while(|&b| b <= at).last().unwrap_or(0);
    let starts: Vec<Option<usize>> = stmts
        .iter()
        .enumerate()
        .map(
            |(i, s)| {
                if i == 0 { Some(0) } else { offset(source, start(s)).map(|o| snap(include_qualifier(source, o))) }
            },
        )
        .collect();
    // Positions we cannot place (or that go backwards) fall back to the whole input.
    let ordered = starts.iter().all(Option::is_some) && starts.windows(2).all(|w| w[0] < w[1]);
    stmts
        .iter()
        .enumerate()
        .map(|(i, stmt)| {
            let text = if ordered {
                let from = starts[i].expect("checked");
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
        let src = "let x = 1;\nx = x + 2;\nprint(x); x * 2;\n-x + 1; [1][0] + 2";
        let ast = engine.compile(src).unwrap();
        let texts: Vec<&str> = split(src, &ast).into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, vec!["let x = 1;", "x = x + 2;", "print(x);", "x * 2;", "-x + 1;", "[1][0] + 2"]);
    }
}
