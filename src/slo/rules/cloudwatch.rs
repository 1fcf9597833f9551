//! CloudWatch metric alarms, however they are written (live, in CloudFormation, in Terraform),
//! as one alarm description, then as a rule: the window is the metric's period times the
//! evaluation periods, and the threshold is read as a burn rate, a ratio or a percentage from the
//! expression the alarm evaluates.

use super::{Rule, Source, Threshold, comparison_symbol, tenant_key, window_in_name};
use crate::collect::aws::Alarm;
use crate::slo::Severity;
use std::time::Duration;

/// One metric query of a metric-math alarm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub id: String,
    pub expression: Option<String>,
    pub metric: Option<String>,
    pub period: Option<u64>,
    pub return_data: bool,
    pub dimensions: Vec<(String, String)>,
}

/// A metric alarm as written, before it is read as a rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: Option<String>,
    pub metric: Option<String>,
    pub dimensions: Vec<(String, String)>,
    pub period: Option<u64>,
    pub evaluation_periods: Option<u64>,
    pub datapoints_to_alarm: Option<u64>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub queries: Vec<Query>,
    pub actions: Vec<String>,
    pub tags: Vec<(String, String)>,
}

fn find(pairs: &[(String, String)], wanted: impl Fn(&str) -> bool) -> Option<&str> {
    pairs.iter().find(|(k, _)| wanted(k)).map(|(_, v)| v.as_str())
}

/// `slo: checkout/availability` in a description.
fn slo_in_text(text: &str) -> Option<String> {
    let at = text.to_ascii_lowercase().find("slo:")?;
    text[at + 4..].split_whitespace().next().map(|s| s.trim_matches([',', ';', '.']).to_string())
}

/// How the alarm's evaluated expression (or metric) states its threshold.
fn threshold(spec: &AlarmSpec, value: f64) -> Threshold {
    let evaluated = spec
        .queries
        .iter()
        .filter(|q| q.expression.is_some())
        .find(|q| q.return_data)
        .or_else(|| spec.queries.iter().rfind(|q| q.expression.is_some()))
        .and_then(|q| q.expression.as_deref());
    let subject = evaluated.or(spec.metric.as_deref()).unwrap_or("").to_ascii_lowercase();
    let compact: String = subject.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("100*") || compact.contains("*100") || subject.contains("percent") || subject.contains("pct") {
        Threshold::Percent(value)
    } else if subject.contains("burn") || divides_by_budget(&compact) {
        Threshold::Burn(value)
    } else if evaluated.is_some() || value < 1.0 {
        Threshold::Ratio(value)
    } else {
        // A metric of its own above 1 with no other hint: an error rate in percent.
        Threshold::Percent(value)
    }
}

/// `(errors/requests)/0.001` or `/(1-0.999)`: a ratio divided by a budget is a burn rate.
fn divides_by_budget(compact: &str) -> bool {
    compact.match_indices('/').any(|(i, _)| {
        let rest = compact[i + 1..].trim_start_matches('(');
        rest.starts_with("0.") || rest.starts_with("1-0.")
    })
}

/// The rule an alarm is.
pub fn to_rule(spec: &AlarmSpec, source: Source, origin: String) -> Rule {
    let mut rule = Rule::new(source, origin, spec.name.clone());
    let all_dims: Vec<(String, String)> =
        spec.dimensions.iter().chain(spec.queries.iter().flat_map(|q| &q.dimensions)).cloned().collect();
    rule.tenant = find(&spec.tags, tenant_key).or_else(|| find(&all_dims, tenant_key)).map(str::to_string);
    rule.slo = find(&spec.tags, |k| k.eq_ignore_ascii_case("slo"))
        .map(str::to_string)
        .or_else(|| spec.description.as_deref().and_then(slo_in_text));
    let lower = spec.name.to_ascii_lowercase();
    rule.severity = find(&spec.tags, |k| k.eq_ignore_ascii_case("severity"))
        .and_then(Severity::parse)
        .or_else(|| lower.split(['-', '_', ' ', '.']).find_map(Severity::parse));
    let period = spec.queries.iter().filter_map(|q| q.period).max().or(spec.period);
    rule.long = match (period, spec.evaluation_periods) {
        // Both numbers come from the alarm: a product past u64 is no window at all.
        (Some(p), Some(n)) => p.checked_mul(n).map(Duration::from_secs),
        _ => window_in_name(&spec.name),
    };
    rule.threshold = spec.threshold.map(|v| threshold(spec, v));
    rule.comparison = spec.comparison.as_deref().map(comparison_symbol);
    rule.evaluation = spec.evaluation_periods.map(|n| format!("{} of {n}", spec.datapoints_to_alarm.unwrap_or(n)));
    rule.target = (!spec.actions.is_empty()).then(|| spec.actions.join(", "));
    rule.measures = measures(spec);
    rule
}

/// The metric an alarm watches, or its evaluated expression with the metrics it reads:
/// `100*e/r (Errors, Requests)`.
fn measures(spec: &AlarmSpec) -> Option<String> {
    let metrics: Vec<&str> =
        spec.metric.iter().chain(spec.queries.iter().flat_map(|q| &q.metric)).map(String::as_str).collect();
    let evaluated = spec.queries.iter().filter(|q| q.return_data).find_map(|q| q.expression.as_deref());
    match (evaluated, metrics.is_empty()) {
        (Some(expression), false) => Some(format!("{expression} ({})", metrics.join(", "))),
        (Some(expression), true) => Some(expression.to_string()),
        (None, false) => Some(metrics.join(", ")),
        (None, true) => None,
    }
}

/// A live alarm, as the collector reads it, as an alarm description.
pub fn from_collected(alarm: &Alarm) -> AlarmSpec {
    let pairs = |text: &str| -> Vec<(String, String)> {
        text.split(',')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    };
    let queries = alarm
        .queries
        .iter()
        .map(|q| Query {
            id: q.id.clone(),
            expression: q.expression.clone(),
            metric: q.metric.clone(),
            period: q.period.and_then(|p| u64::try_from(p).ok()),
            // CloudWatch returns ReturnData unset for the expression it evaluates.
            return_data: q.return_data.unwrap_or(q.expression.is_some()),
            dimensions: q.dimensions.clone(),
        })
        .collect();
    AlarmSpec {
        name: alarm.name.clone(),
        description: alarm.description.clone(),
        metric: alarm.metric.clone(),
        dimensions: pairs(&alarm.dimensions),
        period: alarm.period.and_then(|p| u64::try_from(p).ok()),
        evaluation_periods: alarm.evaluation_periods.and_then(|p| u64::try_from(p).ok()),
        datapoints_to_alarm: alarm.datapoints_to_alarm.and_then(|p| u64::try_from(p).ok()),
        threshold: alarm.threshold,
        comparison: alarm.comparison.clone(),
        queries,
        actions: alarm.actions.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect(),
        tags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AlarmSpec {
        AlarmSpec {
            name: "checkout-availability-acme-page-1h".into(),
            description: Some("Fast burn. slo: checkout/availability".into()),
            evaluation_periods: Some(12),
            datapoints_to_alarm: Some(12),
            threshold: Some(14.4),
            comparison: Some("GreaterThanOrEqualToThreshold".into()),
            queries: vec![
                Query {
                    id: "e".into(),
                    metric: Some("Errors".into()),
                    period: Some(300),
                    dimensions: vec![("Tenant".into(), "acme".into())],
                    ..Query::default()
                },
                Query { id: "r".into(), metric: Some("Requests".into()), period: Some(300), ..Query::default() },
                Query {
                    id: "burn".into(),
                    expression: Some("(e / r) / 0.001".into()),
                    return_data: true,
                    ..Query::default()
                },
            ],
            actions: vec!["arn:aws:sns:eu-west-1:1:pager".into()],
            ..AlarmSpec::default()
        }
    }

    #[test]
    fn a_metric_math_burn_alarm_reads_as_a_burn_rule() {
        let rule = to_rule(&spec(), Source::Cloudwatch, "live".into());
        assert_eq!(rule.threshold, Some(Threshold::Burn(14.4)));
        assert_eq!(rule.long, Some(Duration::from_secs(3600)));
        assert_eq!((rule.tenant.as_deref(), rule.slo.as_deref()), (Some("acme"), Some("checkout/availability")));
        assert_eq!(rule.severity, Some(Severity::Page));
        assert_eq!(rule.evaluation.as_deref(), Some("12 of 12"));
        assert_eq!(rule.comparison.as_deref(), Some(">="));
        let mut percent = spec();
        percent.queries[2].expression = Some("100 * e / r".into());
        percent.threshold = Some(5.2);
        assert_eq!(to_rule(&percent, Source::Cloudwatch, "x".into()).threshold, Some(Threshold::Percent(5.2)));
        let mut ratio = spec();
        ratio.queries[2].expression = Some("e / r".into());
        ratio.threshold = Some(0.0144);
        assert_eq!(to_rule(&ratio, Source::Cloudwatch, "x".into()).threshold, Some(Threshold::Ratio(0.0144)));
    }
}
