//! Prometheus alerting rules (rule files and PrometheusRule resources), including what Sloth and
//! Pyrra generate: each `or` branch of an alert is one tier, its windows come from the recording
//! rules it reads (`slo:sli_error:ratio_rate5m`, `http_requests:burnrate1h`) or range selectors,
//! and thresholds such as `(14.4 * 0.0009999999999999432)` or `(14 * (1-0.99))` are read as a
//! burn factor times a budget.

use std::time::Duration;

use serde_json::Value;

use super::{Rule, Source, Threshold, tenant_key, window_in_name};
use crate::slo::Severity;
use crate::units::parse_duration;

/// The alerting rules of rule-file documents.
pub fn rules(docs: &[Value], origin: &str) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    for doc in docs {
        let groups = if doc["kind"] == "PrometheusRule" { &doc["spec"]["groups"] } else { &doc["groups"] };
        for group in groups.as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let Some(alert) = rule["alert"].as_str() else { continue };
                let expr = rule["expr"].as_str().ok_or_else(|| format!("{origin}: alert {alert} has no expr"))?;
                out.extend(alert_rules(alert, expr, rule, origin));
            }
        }
    }
    Ok(out)
}

/// Whether documents hold Prometheus rule groups.
pub fn is_rule_file(docs: &[Value]) -> bool {
    docs.iter().any(|d| d["groups"].is_array() || d["kind"] == "PrometheusRule")
}

fn alert_rules(alert: &str, expr: &str, rule: &Value, origin: &str) -> Vec<Rule> {
    let labels = &rule["labels"];
    let label = |k: &str| labels[k].as_str().map(str::to_string);
    let branches = split_top_level(expr, "or");
    branches
        .iter()
        .enumerate()
        .map(|(i, branch)| {
            let name = if branches.len() > 1 { format!("{alert} #{}", i + 1) } else { alert.to_string() };
            let mut r = Rule::new(Source::Prometheus, format!("{origin}#{alert}"), name);
            let matchers = matchers(branch);
            let matcher = |k: &str| matchers.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let mut windows: Vec<Duration> = selector_names(branch).iter().filter_map(|n| window_in_name(n)).collect();
            windows.extend(ranges(branch));
            windows.sort();
            windows.dedup();
            r.long = windows.last().copied();
            r.short = (windows.len() > 1).then(|| windows[0]);
            if let Some((op, threshold)) = comparison(branch) {
                r.comparison = Some(op);
                r.threshold = Some(threshold);
            }
            r.severity = label("severity").or_else(|| label("sloth_severity")).as_deref().and_then(Severity::parse);
            r.tenant = labels
                .as_object()
                .and_then(|m| m.iter().find(|(k, _)| tenant_key(k)).and_then(|(_, v)| v.as_str().map(str::to_string)))
                .or_else(|| matchers.iter().find(|(k, _)| tenant_key(k)).map(|(_, v)| v.clone()));
            let service = label("sloth_service").or_else(|| matcher("sloth_service"));
            let slo = label("sloth_slo").or_else(|| matcher("sloth_slo"));
            r.slo = match (service, slo) {
                (Some(service), Some(slo)) => Some(format!("{service}/{slo}")),
                _ => label("slo").or_else(|| matcher("slo")),
            };
            r.evaluation = rule["for"].as_str().map(|f| format!("for {f}"));
            r.target = label("team").or_else(|| label("receiver")).or_else(|| Some("alertmanager".into()));
            r.measures = Some(branch.split_whitespace().collect::<Vec<_>>().join(" "));
            r
        })
        .collect()
}

/// `a or b` split at the top level (outside brackets and strings), on the keyword `word`.
fn split_top_level<'e>(expr: &'e str, word: &str) -> Vec<&'e str> {
    let bytes = expr.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) if c == b'\\' => i += 1,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' | b'`' => quote = Some(c),
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                _ if depth == 0 && is_word_at(bytes, i, word) => {
                    parts.push(expr[start..i].trim());
                    i += word.len();
                    start = i;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(expr[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

fn is_word_at(bytes: &[u8], i: usize, word: &str) -> bool {
    let w = word.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    bytes.len() >= i + w.len()
        && &bytes[i..i + w.len()] == w
        && (i == 0 || !ident(bytes[i - 1]))
        && bytes.get(i + w.len()).is_none_or(|&b| !ident(b))
}

/// Metric names followed by a label selector: `name{`.
fn selector_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'{' {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b':'))
            .map_or(0, |p| p + 1);
        if start < i {
            out.push(expr[start..i].to_string());
        }
    }
    out
}

/// Range selectors: `[5m]`, `[1h]`.
fn ranges(expr: &str) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else { break };
        let inside = &rest[open + 1..open + close];
        if let Ok(d) = parse_duration(inside.split(':').next().unwrap_or("")) {
            out.push(d);
        }
        rest = &rest[open + close..];
    }
    out
}

/// `key="value"` matchers (equality only) in the selectors.
fn matchers(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        for part in rest[open + 1..open + close].split(',') {
            if let Some((k, v)) = part.split_once('=')
                && !k.ends_with(['!', '=', '~'])
                && !v.starts_with('~')
            {
                out.push((k.trim().to_string(), v.trim().trim_matches(['"', '\'', '`']).to_string()));
            }
        }
        rest = &rest[open + close..];
    }
    out
}

/// The first comparison with a number on its right: the operator and the threshold.
fn comparison(branch: &str) -> Option<(String, Threshold)> {
    let bytes = branch.as_bytes();
    let mut depth_braces = 0;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'{' => depth_braces += 1,
            b'}' => depth_braces -= 1,
            b'>' | b'<' if depth_braces == 0 => {
                let (op, after) = if bytes.get(i + 1) == Some(&b'=') {
                    (&branch[i..i + 2], i + 2)
                } else {
                    (&branch[i..i + 1], i + 1)
                };
                let rest = branch[after..].trim_start().trim_start_matches("bool").trim_start();
                if let Some(threshold) = arithmetic(rest) {
                    return Some((op.to_string(), threshold));
                }
            }
            _ => {}
        }
    }
    None
}

/// A number expression at the start of `text` (numbers, + - * /, parentheses) as a threshold:
/// a product of a factor (at least 1) and a budget (below 1) stays a pair.
fn arithmetic(text: &str) -> Option<Threshold> {
    let mut p = Arith { s: text.as_bytes(), i: 0, depth: 0 };
    let (value, product) = p.expr()?;
    if let Some((a, b)) = product
        && (a >= 1.0) != (b >= 1.0)
    {
        let (factor, budget) = if a >= 1.0 { (a, b) } else { (b, a) };
        return Some(Threshold::FactorTimesBudget { factor, budget });
    }
    Some(if value < 1.0 { Threshold::Ratio(value) } else { Threshold::Burn(value) })
}

struct Arith<'s> {
    s: &'s [u8],
    i: usize,
    /// Parentheses open around the current position, bounded so that a hostile rule cannot
    /// overflow the stack.
    depth: usize,
}

/// Thresholds are a product in a pair of parentheses or two; more than this is no threshold.
const MAX_PARENTHESES: usize = 32;

impl Arith<'_> {
    fn skip(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// The value, and the two factors when the expression is exactly one product.
    fn expr(&mut self) -> Option<(f64, Option<(f64, f64)>)> {
        let (mut value, mut product) = self.term()?;
        loop {
            self.skip();
            match self.s.get(self.i) {
                Some(b'+') => {
                    self.i += 1;
                    value += self.term()?.0;
                }
                Some(b'-') => {
                    self.i += 1;
                    value -= self.term()?.0;
                }
                _ => return Some((value, product)),
            }
            product = None;
        }
    }

    fn term(&mut self) -> Option<(f64, Option<(f64, f64)>)> {
        let (mut value, inner) = self.atom()?;
        let mut factors = vec![value];
        loop {
            self.skip();
            match self.s.get(self.i) {
                Some(b'*') => {
                    self.i += 1;
                    let v = self.atom()?.0;
                    factors.push(v);
                    value *= v;
                }
                Some(b'/') => {
                    self.i += 1;
                    value /= self.atom()?.0;
                    factors.clear();
                }
                _ => break,
            }
        }
        let product = match factors.len() {
            // `(14.4 * 0.001)`: the parentheses keep the product inside them.
            1 => inner,
            2 => Some((factors[0], factors[1])),
            _ => None,
        };
        Some((value, product))
    }

    fn atom(&mut self) -> Option<(f64, Option<(f64, f64)>)> {
        self.skip();
        match self.s.get(self.i)? {
            b'(' => {
                self.i += 1;
                self.depth += 1;
                if self.depth > MAX_PARENTHESES {
                    return None;
                }
                let inner = self.expr()?;
                self.depth -= 1;
                self.skip();
                (self.s.get(self.i) == Some(&b')')).then(|| self.i += 1)?;
                Some(inner)
            }
            _ => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E'))
                    || (self.i > start
                        && matches!(self.s.get(self.i), Some(b'-' | b'+'))
                        && matches!(self.s[self.i - 1], b'e' | b'E'))
                {
                    self.i += 1;
                }
                let value = std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()?;
                Some((value, None))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_parentheses_are_no_threshold_and_no_stack_overflow() {
        let deep = format!("{}14.4 * 0.001{}", "(".repeat(200_000), ")".repeat(200_000));
        assert_eq!(arithmetic(&deep), None);
        let fine = format!("{}14.4 * 0.001{}", "(".repeat(3), ")".repeat(3));
        assert!(matches!(arithmetic(&fine), Some(Threshold::FactorTimesBudget { .. })));
    }

    const SLOTH: &str = r#"
groups:
- name: sloth-slo-alerts-checkout-availability
  rules:
  - alert: CheckoutHighErrorRate
    expr: |
      (
          max(slo:sli_error:ratio_rate5m{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"} > (14.4 * 0.0009999999999999432)) without (sloth_window)
          and
          max(slo:sli_error:ratio_rate1h{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"} > (14.4 * 0.0009999999999999432)) without (sloth_window)
      )
      or
      (
          max(slo:sli_error:ratio_rate30m{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"} > (6 * 0.0009999999999999432)) without (sloth_window)
          and
          max(slo:sli_error:ratio_rate6h{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"} > (6 * 0.0009999999999999432)) without (sloth_window)
      )
    labels:
      sloth_severity: page
  - record: slo:sli_error:ratio_rate5m
    expr: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
"#;

    #[test]
    fn sloth_alerts_are_one_rule_per_tier() {
        let docs = crate::slo::yaml::documents(SLOTH, "sloth.yaml").unwrap();
        let rules = rules(&docs, "sloth.yaml").unwrap();
        assert_eq!(rules.len(), 2, "{rules:#?}");
        let page = &rules[0];
        assert_eq!(page.slo.as_deref(), Some("checkout/availability"));
        assert_eq!((page.long, page.short), (Some(Duration::from_secs(3600)), Some(Duration::from_secs(300))));
        assert!((page.factor(0.001).unwrap() - 14.4).abs() < 1e-9);
        assert_eq!(page.severity, Some(Severity::Page));
        assert_eq!(page.comparison.as_deref(), Some(">"));
        assert_eq!(rules[1].long, Some(Duration::from_secs(6 * 3600)));
        assert!((rules[1].factor(0.001).unwrap() - 6.0).abs() < 1e-9);
    }

    #[test]
    fn pyrra_and_hand_written_alerts() {
        let text = r#"
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
spec:
  groups:
  - name: checkout
    rules:
    - alert: ErrorBudgetBurn
      expr: http_requests:burnrate5m{slo="checkout-availability",tenant="acme"} > (14 * (1-0.99)) and http_requests:burnrate1h{slo="checkout-availability",tenant="acme"} > (14 * (1-0.99))
      for: 2m
      labels: {severity: critical}
    - alert: AcmeErrors
      expr: sum(rate(errors{tenant="globex"}[1h])) / sum(rate(requests{tenant="globex"}[1h])) >= 0.0144
      labels: {severity: page, slo: checkout/availability}
"#;
        let docs = crate::slo::yaml::documents(text, "pyrra.yaml").unwrap();
        let rules = rules(&docs, "pyrra.yaml").unwrap();
        assert_eq!(rules.len(), 2);
        let pyrra = &rules[0];
        assert_eq!((pyrra.tenant.as_deref(), pyrra.slo.as_deref()), (Some("acme"), Some("checkout-availability")));
        assert!((pyrra.factor(0.01).unwrap() - 14.0).abs() < 1e-9);
        assert_eq!(pyrra.evaluation.as_deref(), Some("for 2m"));
        let plain = &rules[1];
        assert_eq!(plain.threshold, Some(Threshold::Ratio(0.0144)));
        assert_eq!((plain.long, plain.short), (Some(Duration::from_secs(3600)), None));
        assert_eq!(plain.tenant.as_deref(), Some("globex"));
        assert_eq!(plain.comparison.as_deref(), Some(">="));
    }
}
