//! SLOs and rules as flat JSON records and back, so they travel as Frame rows (filtered,
//! sorted, saved) and come back whole: a profile's tiers and an SLI as JSON text columns.

use std::time::Duration;

use serde_json::{Value, json};

use super::policy::{Profile, Severity, Tier};
use super::rules::{Rule, Source, Threshold};
use super::spec::{Sli, Slo};
use crate::units::{format_duration, parse_duration};

pub const SLO_COLUMNS: &[&str] =
    &["id", "service", "name", "tenant", "objective", "period", "profile", "tiers", "sli", "description", "origin"];
pub const RULE_COLUMNS: &[&str] = &[
    "source",
    "name",
    "slo",
    "tenant",
    "severity",
    "long",
    "short",
    "threshold_kind",
    "threshold",
    "budget",
    "short_threshold",
    "comparison",
    "evaluation",
    "target",
    "measures",
    "unresolved",
    "origin",
];

pub fn slo_record(s: &Slo) -> Value {
    json!({
        "id": s.id(), "service": s.service, "name": s.name, "tenant": s.tenant, "objective": s.objective,
        "period": format_duration(s.period), "profile": s.profile.name,
        "tiers": serde_json::to_string(&s.profile.tiers).expect("tiers serialize"),
        "sli": serde_json::to_string(&s.sli).expect("an SLI serializes"),
        "description": s.description, "origin": s.origin,
    })
}

fn text(r: &Value, key: &str) -> Option<String> {
    r[key].as_str().map(str::to_string)
}

fn duration(r: &Value, key: &str, row: usize) -> Result<Option<Duration>, String> {
    text(r, key).map(|t| parse_duration(&t).map_err(|e| format!("row {row}: {key}: {e}"))).transpose()
}

pub fn slo_from_record(r: &Value, row: usize) -> Result<Slo, String> {
    let need =
        |key: &str| text(r, key).ok_or_else(|| format!("row {row}: {key} is missing; give the Frame of slo::load"));
    let tiers: Vec<Value> = serde_json::from_str(&need("tiers")?).map_err(|e| format!("row {row}: tiers: {e}"))?;
    let tiers = tiers
        .iter()
        .map(|t| {
            let window = |k: &str| duration(t, k, row)?.ok_or_else(|| format!("row {row}: a tier without {k}"));
            Ok(Tier {
                severity: t["severity"].as_str().and_then(Severity::parse).unwrap_or(Severity::Page),
                factor: t["factor"].as_f64().ok_or_else(|| format!("row {row}: a tier without factor"))?,
                long: window("long")?,
                short: window("short")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let sli: Value = serde_json::from_str(&need("sli")?).map_err(|e| format!("row {row}: sli: {e}"))?;
    let sli = match sli["kind"].as_str() {
        Some("latency") => {
            Sli::Latency { metric: text(&sli, "metric"), threshold_ms: sli["threshold_ms"].as_f64().unwrap_or(0.0) }
        }
        _ => Sli::Ratio { good: text(&sli, "good"), bad: text(&sli, "bad"), total: text(&sli, "total") },
    };
    let objective = r["objective"].as_f64().ok_or_else(|| format!("row {row}: objective is missing"))?;
    Ok(Slo {
        service: need("service")?,
        name: need("name")?,
        tenant: text(r, "tenant"),
        sli,
        objective: super::spec::objective(objective, &format!("row {row}"))?,
        period: duration(r, "period", row)?.ok_or_else(|| format!("row {row}: period is missing"))?,
        profile: Profile { name: text(r, "profile").unwrap_or_else(|| "custom".into()), tiers },
        description: text(r, "description"),
        origin: text(r, "origin").unwrap_or_default(),
    })
}

pub fn rule_record(rule: &Rule) -> Value {
    let (kind, threshold, budget) = match rule.threshold {
        None => (None, None, None),
        Some(Threshold::Burn(v)) => (Some("burn"), Some(v), None),
        Some(Threshold::Ratio(v)) => (Some("ratio"), Some(v), None),
        Some(Threshold::Percent(v)) => (Some("percent"), Some(v), None),
        Some(Threshold::FactorTimesBudget { factor, budget }) => {
            (Some("factor-times-budget"), Some(factor), Some(budget))
        }
    };
    json!({
        "source": rule.source.name(), "name": rule.name, "slo": rule.slo, "tenant": rule.tenant,
        "severity": rule.severity.map(Severity::name), "long": rule.long.map(format_duration),
        "short": rule.short.map(format_duration), "threshold_kind": kind, "threshold": threshold, "budget": budget,
        "short_threshold": rule.short_threshold.map(|t| serde_json::to_string(&t).expect("a threshold serializes")),
        "comparison": rule.comparison, "evaluation": rule.evaluation, "target": rule.target, "measures": rule.measures,
        "unresolved": (!rule.unresolved.is_empty()).then(|| serde_json::to_string(&rule.unresolved).expect("strings serialize")),
        "origin": rule.origin,
    })
}

pub fn rule_from_record(r: &Value, row: usize) -> Result<Rule, String> {
    let source = match r["source"].as_str() {
        Some("cloudwatch") => Source::Cloudwatch,
        Some("cloudformation") => Source::Cloudformation,
        Some("terraform") => Source::Terraform,
        Some("prometheus") => Source::Prometheus,
        Some("pagerduty") => Source::Pagerduty,
        Some("sql") => Source::Sql,
        other => {
            return Err(format!(
                "row {row}: source {other:?} is not one deployclaw reads; give the Frame of slo::rules"
            ));
        }
    };
    let mut rule = Rule::new(source, text(r, "origin").unwrap_or_default(), text(r, "name").unwrap_or_default());
    rule.slo = text(r, "slo");
    rule.tenant = text(r, "tenant");
    rule.severity = r["severity"].as_str().and_then(Severity::parse);
    rule.long = duration(r, "long", row)?;
    rule.short = duration(r, "short", row)?;
    let value = r["threshold"].as_f64();
    rule.threshold = match (r["threshold_kind"].as_str(), value) {
        (Some("burn"), Some(v)) => Some(Threshold::Burn(v)),
        (Some("ratio"), Some(v)) => Some(Threshold::Ratio(v)),
        (Some("percent"), Some(v)) => Some(Threshold::Percent(v)),
        (Some("factor-times-budget"), Some(factor)) => {
            Some(Threshold::FactorTimesBudget { factor, budget: r["budget"].as_f64().unwrap_or(f64::NAN) })
        }
        _ => None,
    };
    rule.short_threshold = text(r, "short_threshold")
        .map(|t| serde_json::from_str(&t).map_err(|e| format!("row {row}: short_threshold: {e}")))
        .transpose()?;
    rule.comparison = text(r, "comparison");
    rule.evaluation = text(r, "evaluation");
    rule.target = text(r, "target");
    rule.measures = text(r, "measures");
    rule.unresolved = text(r, "unresolved")
        .map(|t| serde_json::from_str(&t).map_err(|e| format!("row {row}: unresolved: {e}")))
        .transpose()?
        .unwrap_or_default();
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slos_and_rules_come_back_whole() {
        let period = Duration::from_secs(28 * 86_400);
        let slo = Slo {
            service: "checkout".into(),
            name: "availability".into(),
            tenant: Some("acme".into()),
            sli: Sli::Latency { metric: Some("p99".into()), threshold_ms: 300.0 },
            objective: 0.995,
            period,
            profile: Profile::pyrra(period),
            description: None,
            origin: "slos.toml#availability".into(),
        };
        assert_eq!(slo_from_record(&slo_record(&slo), 1).unwrap(), slo);
        let mut rule = Rule::new(Source::Prometheus, "r.yaml#x".into(), "x".into());
        rule.threshold = Some(Threshold::FactorTimesBudget { factor: 14.4, budget: 0.001 });
        rule.long = Some(Duration::from_secs(3600));
        rule.severity = Some(Severity::Ticket);
        assert_eq!(rule_from_record(&rule_record(&rule), 1).unwrap(), rule);
        rule.short_threshold = Some(Threshold::FactorTimesBudget { factor: 3.5, budget: 0.001 });
        assert_eq!(rule_from_record(&rule_record(&rule), 1).unwrap(), rule);
        rule.unresolved = vec!["threshold = var.t: variable `t` has no default and no value given".into()];
        assert_eq!(rule_from_record(&rule_record(&rule), 1).unwrap(), rule);
        assert!(rule_from_record(&json!({"source": "nagios"}), 4).unwrap_err().starts_with("row 4: source"));
    }
}
