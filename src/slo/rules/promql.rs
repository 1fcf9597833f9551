//! What an alert's PromQL expression says, read from the syntax tree of the promql-parser crate:
//! its tiers (the branches of a top-level `or`), and in each tier every window's comparison
//! (`max(slo:sli_error:ratio_rate5m{...} > (14.4 * 0.000999)) without (sloth_window) and ...`):
//! the windows it looks at, the threshold it compares them with, and the label matchers.

use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};

use super::{Threshold, window_in_name};

/// Brackets an expression may nest; real rules nest a handful. Deeper input is refused before
/// parsing, as the syntax tree is walked (and dropped) recursively.
const MAX_NESTING: usize = 64;
/// Operators an expression may chain; each adds a level to the tree.
const MAX_OPERATORS: usize = 512;

/// One comparison of a window (or several) with a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub op: String,
    pub threshold: Threshold,
    /// Windows of the compared side: ranges (`[5m]`) and windows in recording-rule names.
    pub windows: Vec<Duration>,
}

/// One tier of an alert: a branch of its top-level `or`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tier {
    /// Every comparison of the tier, one per `and` operand that has one.
    pub comparisons: Vec<Comparison>,
    /// Every window the tier reads, compared or not.
    pub windows: Vec<Duration>,
    /// `name="value"` matchers of its selectors.
    pub matchers: Vec<(String, String)>,
}

/// The tiers of an alert expression, or why it is not PromQL.
pub fn tiers(expr: &str) -> Result<Vec<Tier>, String> {
    check_size(expr)?;
    check_duration_numbers(expr)?;
    let tree = parser::parse(expr)?;
    let mut branches = Vec::new();
    split(&tree, "or", &mut branches);
    Ok(branches.into_iter().map(tier).collect())
}

fn check_size(expr: &str) -> Result<(), String> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in expr.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(format!("brackets nest {deepest} deep; deployclaw reads at most {MAX_NESTING}"));
    }
    let operators = expr.chars().filter(|c| matches!(c, '+' | '-' | '*' | '/' | '%' | '^' | '<' | '>' | '=')).count()
        + expr.split_whitespace().filter(|w| matches!(*w, "and" | "or" | "unless")).count();
    if operators > MAX_OPERATORS {
        return Err(format!("{operators} operators; deployclaw reads at most {MAX_OPERATORS}"));
    }
    Ok(())
}

/// Longest duration written as a plain number of seconds that is read (about 31,700 years).
const MAX_DURATION_SECS: f64 = 1e12;

/// promql-parser 0.11 turns a plain number where a duration goes (`x[300]`, `[1h:30]`,
/// `offset 60`) into a `Duration` with `from_secs_f64`, which panics on `Inf`, `NaN` and numbers
/// past `u64::MAX` seconds (found by fuzzing). Such numbers are refused here first. Strings are
/// skipped; numbers elsewhere (thresholds) are not durations and may be anything.
fn check_duration_numbers(expr: &str) -> Result<(), String> {
    let mut chars = expr.char_indices().peekable();
    let mut before = String::new();
    while let Some((start, c)) = chars.next() {
        if matches!(c, '"' | '\'' | '`') {
            while let Some((_, d)) = chars.next() {
                if d == '\\' && c != '`' {
                    chars.next();
                } else if d == c {
                    break;
                }
            }
            before = c.to_string();
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if !(c.is_alphanumeric() || c == '_' || c == '.') {
            before = c.to_string();
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut previous = c;
        while let Some(&(at, d)) = chars.peek() {
            let exponent_sign = matches!(d, '+' | '-') && matches!(previous, 'e' | 'E') && c.is_ascii_digit();
            if !(d.is_alphanumeric() || d == '_' || d == '.' || d == ':' && !c.is_ascii_digit() || exponent_sign) {
                break;
            }
            chars.next();
            end = at + d.len_utf8();
            previous = d;
        }
        let token = expr.get(start..end).unwrap_or_default();
        let duration_place = matches!(before.as_str(), "[" | ":") || before.eq_ignore_ascii_case("offset");
        if duration_place
            && let Some(seconds) = plain_number(token)
            && !(0.0..=MAX_DURATION_SECS).contains(&seconds)
        {
            return Err(format!("{token} is no duration deployclaw can read (at most {MAX_DURATION_SECS} seconds)"));
        }
        before = token.to_string();
    }
    Ok(())
}

/// The value of a PromQL number literal (`300`, `1.5e3`, `0x1f`, `Inf`, `NaN`), or `None` for
/// anything else (a duration with units, a name).
fn plain_number(token: &str) -> Option<f64> {
    let lower = token.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "+inf" | "nan") {
        return Some(f64::NAN);
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return Some(u128::from_str_radix(hex, 16).map_or(f64::INFINITY, |v| v as f64));
    }
    if token.starts_with(|c: char| c.is_ascii_digit() || c == '.') && token.parse::<f64>().is_ok() {
        return token.parse().ok();
    }
    None
}

/// The operands of a chain of `op` (`a or b or c`), parentheses around the whole looked through.
fn split<'e>(expr: &'e Expr, op: &str, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::Binary(b) if b.op.to_string() == op => {
            split(&b.lhs, op, out);
            split(&b.rhs, op, out);
        }
        Expr::Paren(p) if matches!(*p.expr, Expr::Binary(ref b) if b.op.to_string() == op) => split(&p.expr, op, out),
        other => out.push(other),
    }
}

fn tier(branch: &Expr) -> Tier {
    let mut operands = Vec::new();
    split(branch, "and", &mut operands);
    let mut tier = Tier::default();
    for operand in operands {
        if let Some(c) = comparison(operand) {
            tier.comparisons.push(c);
        }
    }
    selectors(branch, &mut |selector| {
        tier.windows.extend(selector.windows());
        tier.matchers.extend(selector.matchers);
    });
    tier.windows.sort();
    tier.windows.dedup();
    tier
}

/// The first comparison inside `expr` with a number on one side.
fn comparison(expr: &Expr) -> Option<Comparison> {
    match expr {
        Expr::Binary(b) if b.op.is_comparison_operator() => {
            let (vector, threshold, op) = match (scalar(&b.rhs), scalar(&b.lhs)) {
                (Some(t), _) => (&b.lhs, t, b.op.to_string()),
                (None, Some(t)) => (&b.rhs, t, flipped(&b.op.to_string())),
                (None, None) => return None,
            };
            let mut windows = Vec::new();
            selectors(vector, &mut |selector| windows.extend(selector.windows()));
            windows.sort();
            windows.dedup();
            Some(Comparison { op, threshold: threshold_of(threshold), windows })
        }
        Expr::Binary(b) => comparison(&b.lhs).or_else(|| comparison(&b.rhs)),
        Expr::Paren(p) => comparison(&p.expr),
        Expr::Aggregate(a) => comparison(&a.expr),
        Expr::Call(c) => c.args.args.iter().find_map(|a| comparison(a)),
        Expr::Subquery(s) => comparison(&s.expr),
        Expr::Unary(u) => comparison(&u.expr),
        _ => None,
    }
}

/// `5 < x` is `x > 5`.
fn flipped(op: &str) -> String {
    match op {
        "<" => ">".into(),
        "<=" => ">=".into(),
        ">" => "<".into(),
        ">=" => "<=".into(),
        other => other.into(),
    }
}

/// A number expression's value, and its two factors when it is one product (`14.4 * 0.001`,
/// `(14 * (1-0.99))`).
#[derive(Debug, Clone, Copy)]
struct Scalar {
    value: f64,
    product: Option<(f64, f64)>,
}

fn scalar(expr: &Expr) -> Option<Scalar> {
    match expr {
        Expr::NumberLiteral(n) => Some(Scalar { value: n.val, product: None }),
        Expr::Paren(p) => scalar(&p.expr),
        Expr::Unary(u) => scalar(&u.expr).map(|s| Scalar { value: -s.value, product: None }),
        Expr::Binary(b) => {
            let (l, r) = (scalar(&b.lhs)?, scalar(&b.rhs)?);
            let value = match b.op.to_string().as_str() {
                "+" => l.value + r.value,
                "-" => l.value - r.value,
                "*" => l.value * r.value,
                "/" => l.value / r.value,
                _ => return None,
            };
            let product = (b.op.to_string() == "*").then_some((l.value, r.value));
            Some(Scalar { value, product })
        }
        _ => None,
    }
}

/// A product of a factor (at least 1) and a budget (below 1) stays a pair, as Sloth and Pyrra
/// write it; another number is a ratio below 1 and a burn rate above.
fn threshold_of(s: Scalar) -> Threshold {
    if let Some((a, b)) = s.product
        && (a >= 1.0) != (b >= 1.0)
    {
        let (factor, budget) = if a >= 1.0 { (a, b) } else { (b, a) };
        return Threshold::FactorTimesBudget { factor, budget };
    }
    if s.value < 1.0 { Threshold::Ratio(s.value) } else { Threshold::Burn(s.value) }
}

/// A selector as the tiers need it.
struct Selector<'e> {
    name: Option<&'e str>,
    /// A matrix selector's or a subquery's range.
    range: Option<Duration>,
    /// Its `name="value"` matchers.
    matchers: Vec<(String, String)>,
}

impl Selector<'_> {
    /// The windows it reads: its range, and a window in its (recording rule's) name.
    fn windows(&self) -> impl Iterator<Item = Duration> + '_ {
        self.range.into_iter().chain(self.name.and_then(window_in_name))
    }
}

/// Every selector below `expr`.
fn selectors<'e>(expr: &'e Expr, visit: &mut dyn FnMut(Selector<'e>)) {
    let equal = |m: &promql_parser::label::Matchers| {
        m.matchers
            .iter()
            .filter(|m| matches!(m.op, MatchOp::Equal))
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect::<Vec<_>>()
    };
    match expr {
        Expr::VectorSelector(v) => {
            visit(Selector { name: v.name.as_deref(), range: None, matchers: equal(&v.matchers) })
        }
        Expr::MatrixSelector(m) => {
            visit(Selector { name: m.vs.name.as_deref(), range: Some(m.range), matchers: equal(&m.vs.matchers) })
        }
        Expr::Subquery(s) => {
            visit(Selector { name: None, range: Some(s.range), matchers: Vec::new() });
            selectors(&s.expr, visit);
        }
        Expr::Binary(b) => {
            selectors(&b.lhs, visit);
            selectors(&b.rhs, visit);
        }
        Expr::Paren(p) => selectors(&p.expr, visit),
        Expr::Aggregate(a) => selectors(&a.expr, visit),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, visit)),
        Expr::Unary(u) => selectors(&u.expr, visit),
        _ => {}
    }
}

#[cfg(test)]
mod duration_number_tests {
    use super::*;

    #[test]
    fn plain_numbers_where_durations_go_are_bounded_before_the_parser_sees_them() {
        for expr in [
            "rate(x[666666666666666666666666666666666])",
            "rate(x[5m:666666666666666666666666666666666])",
            "x offset 1e30",
            "rate(x[Inf])",
            "rate(x[NaN])",
            "x offset 0xffffffffffffffffffffff",
        ] {
            let err = tiers(expr).unwrap_err();
            assert!(err.contains("no duration deployclaw can read"), "{expr}: {err}");
        }
        // Thresholds, strings and durations with units are not plain-number durations.
        assert!(tiers("rate(x{a=\"[1e300\"}[5m]) > 1e300").is_ok());
        assert!(tiers("rate(x[300] offset 60) > 0").is_ok());
        assert!(tiers("sum(rate(x[5m:30s]))").is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_window_has_its_own_comparison() {
        let sloth = r#"(max(slo:sli_error:ratio_rate2h{sloth_service="checkout", sloth_slo="availability"} > (3 * 0.0009999999999999432)) without (sloth_window)
            and max(slo:sli_error:ratio_rate1d{sloth_service="checkout", sloth_slo="availability"} > (3.5 * 0.0009999999999999432)) without (sloth_window))
            or (max(slo:sli_error:ratio_rate6h{sloth_service="checkout"} > (1 * 0.0009999999999999432)) without (sloth_window)
            and max(slo:sli_error:ratio_rate3d{sloth_service="checkout"} > (1 * 0.0009999999999999432)) without (sloth_window))"#;
        let tiers = tiers(sloth).unwrap();
        assert_eq!(tiers.len(), 2);
        let factors: Vec<(Vec<Duration>, Threshold)> =
            tiers[0].comparisons.iter().map(|c| (c.windows.clone(), c.threshold)).collect();
        let budget = 0.0009999999999999432;
        assert_eq!(
            factors,
            [
                (vec![Duration::from_secs(7200)], Threshold::FactorTimesBudget { factor: 3.0, budget }),
                (vec![Duration::from_secs(86_400)], Threshold::FactorTimesBudget { factor: 3.5, budget }),
            ]
        );
        assert!(tiers[0].matchers.contains(&("sloth_slo".to_string(), "availability".to_string())));
    }

    #[test]
    fn pyrra_ratios_and_numbers_on_the_left() {
        let pyrra = r#"http_requests:burnrate5m{slo="checkout"} > (14 * (1-0.99)) and http_requests:burnrate1h{slo="checkout"} > (14 * (1-0.99))"#;
        let tier = &tiers(pyrra).unwrap()[0];
        assert_eq!(tier.comparisons.len(), 2);
        assert!(matches!(tier.comparisons[1].threshold, Threshold::FactorTimesBudget { factor, budget }
            if factor == 14.0 && (budget - 0.01).abs() < 1e-12));
        let plain = tiers("0.0144 <= sum(rate(errors[1h])) / sum(rate(requests[1h]))").unwrap();
        let c = &plain[0].comparisons[0];
        assert_eq!((c.op.as_str(), c.threshold), (">=", Threshold::Ratio(0.0144)));
        assert_eq!(c.windows, [Duration::from_secs(3600)]);
    }

    #[test]
    fn what_is_not_promql_is_an_error_and_deep_input_is_refused_before_parsing() {
        assert!(tiers("rate(x[5m] > ").is_err());
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(tiers(&deep).unwrap_err().contains("nest"));
        let long = vec!["x"; 10_000].join(" + ");
        assert!(tiers(&long).unwrap_err().contains("operators"));
    }
}
