//! Prometheus alerting rules (rule files and PrometheusRule resources), including what Sloth and
//! Pyrra generate: each `or` branch of an alert is one tier, its windows come from the recording
//! rules it reads (`slo:sli_error:ratio_rate5m`, `http_requests:burnrate1h`) or range selectors,
//! and thresholds such as `(14.4 * 0.0009999999999999432)` or `(14 * (1-0.99))` are read as a
//! burn factor times a budget, window by window (see [`super::promql`]).

use std::time::Duration;

use serde_json::Value;

use super::{Rule, Source, promql, tenant_key};
use crate::slo::Severity;

/// The alerting rules of rule-file documents.
pub fn rules(docs: &[Value], origin: &str) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    for doc in docs {
        let groups = if doc["kind"] == "PrometheusRule" { &doc["spec"]["groups"] } else { &doc["groups"] };
        for group in groups.as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let Some(alert) = rule["alert"].as_str() else { continue };
                let expr = rule["expr"].as_str().ok_or_else(|| format!("{origin}: alert {alert} has no expr"))?;
                out.extend(alert_rules(alert, expr, rule, origin)?);
            }
        }
    }
    Ok(out)
}

/// Whether documents hold Prometheus rule groups.
pub fn is_rule_file(docs: &[Value]) -> bool {
    docs.iter().any(|d| d["groups"].is_array() || d["kind"] == "PrometheusRule")
}

fn alert_rules(alert: &str, expr: &str, rule: &Value, origin: &str) -> Result<Vec<Rule>, String> {
    let labels = &rule["labels"];
    let label = |k: &str| labels[k].as_str().map(str::to_string);
    let tiers = promql::tiers(expr)
        .map_err(|e| format!("{origin}: alert {alert}: its expr is not PromQL deployclaw can read: {e}"))?;
    Ok(tiers
        .iter()
        .enumerate()
        .map(|(i, tier)| {
            let name = if tiers.len() > 1 { format!("{alert} #{}", i + 1) } else { alert.to_string() };
            let mut r = Rule::new(Source::Prometheus, format!("{origin}#{alert}"), name);
            let matcher = |k: &str| tier.matchers.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            r.long = tier.windows.last().copied();
            r.short = (tier.windows.len() > 1).then(|| tier.windows[0]);
            // The comparison of the long window is the rule's threshold; the short window's,
            // when it is compared on its own, is checked as well.
            let of = |window: Option<Duration>| {
                window
                    .and_then(|w| tier.comparisons.iter().find(|c| c.windows.contains(&w)))
                    .or(tier.comparisons.first())
            };
            if let Some(long) = of(r.long) {
                r.comparison = Some(long.op.clone());
                r.threshold = Some(long.threshold);
                r.short_threshold = of(r.short).filter(|short| *short != long).map(|short| short.threshold);
            }
            r.severity = label("severity").or_else(|| label("sloth_severity")).as_deref().and_then(Severity::parse);
            r.tenant = labels
                .as_object()
                .and_then(|m| m.iter().find(|(k, _)| tenant_key(k)).and_then(|(_, v)| v.as_str().map(str::to_string)))
                .or_else(|| tier.matchers.iter().find(|(k, _)| tenant_key(k)).map(|(_, v)| v.clone()));
            let service = label("sloth_service").or_else(|| matcher("sloth_service"));
            let slo = label("sloth_slo").or_else(|| matcher("sloth_slo"));
            r.slo = match (service, slo) {
                (Some(service), Some(slo)) => Some(format!("{service}/{slo}")),
                _ => label("slo").or_else(|| matcher("slo")),
            };
            r.evaluation = rule["for"].as_str().map(|f| format!("for {f}"));
            r.target = label("team").or_else(|| label("receiver")).or_else(|| Some("alertmanager".into()));
            r.measures = Some(expr.split_whitespace().collect::<Vec<_>>().join(" "));
            r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::rules::Threshold;

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
