//! SLOs from OpenSLO `v1alpha`, the version Sloth reads: one `kind: SLO` document with several
//! objectives, each with its own `ratioMetrics` (good or bad, and total queries) and target, or
//! one `spec.indicator` for all (`ratioMetrics`, or `thresholdMetric` with each objective's
//! `value` as the threshold), and `timeWindows` (`count`, default 1, and `unit`; none means
//! Sloth's 30 days). v1alpha has no alerting,
//! so Sloth generates recording rules only: such an SLO expects no alert.

use std::time::Duration;

use serde_json::Value;

use super::policy::Profile;
use super::spec::{Sli, Slo, objective};

/// Sloth's period when a spec names none.
const DEFAULT_PERIOD: Duration = Duration::from_secs(30 * 86_400);

/// Whether a document is OpenSLO v1alpha.
pub fn is_v1alpha(doc: &Value) -> bool {
    doc["apiVersion"] == "openslo/v1alpha"
}

/// The SLOs of one v1alpha `kind: SLO` document, one per objective, named as Sloth names them
/// (`<name>-<index>`).
pub fn slos(doc: &Value, origin: &str) -> Result<Vec<Slo>, String> {
    let name = doc["metadata"]["name"].as_str().ok_or_else(|| format!("{origin}: an SLO without metadata.name"))?;
    let what = format!("{origin}#{name}");
    let spec = &doc["spec"];
    let service = spec["service"].as_str().ok_or_else(|| format!("{what}: spec.service is missing"))?;
    let period = period(&spec["timeWindows"], &what)?;
    let objectives = spec["objectives"]
        .as_array()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| format!("{what}: spec.objectives is empty"))?;
    let mut out = Vec::with_capacity(objectives.len());
    for (i, o) in objectives.iter().enumerate() {
        let target = o["target"].as_f64().ok_or_else(|| format!("{what}: objective {i} has no target"))?;
        let sli = indicator(o, &spec["indicator"])
            .ok_or_else(|| format!("{what}: objective {i} has no ratioMetrics (good or bad, and total), and spec.indicator has neither ratioMetrics nor thresholdMetric"))?;
        out.push(Slo {
            service: service.to_string(),
            name: format!("{name}-{i}"),
            tenant: None,
            sli,
            objective: objective(target, &what)?,
            period,
            // No alerting in v1alpha: no tiers, so no alert is expected.
            profile: Profile { name: "openslo-v1alpha (no alerting)".into(), tiers: Vec::new() },
            description: spec["description"].as_str().map(str::to_string),
            origin: what.clone(),
        });
    }
    Ok(out)
}

/// The objective's own ratio, else the SLO's indicator: a ratio, or a threshold on a metric
/// whose objective `value` is the threshold.
fn indicator(objective: &Value, shared: &Value) -> Option<Sli> {
    let ratio = [&objective["ratioMetrics"], &shared["ratioMetrics"]].into_iter().find(|r| r.is_object());
    if let Some(ratio) = ratio {
        let query = |side: &str| ratio[side]["query"].as_str().map(str::to_string);
        return Some(Sli::Ratio { good: query("good"), bad: query("bad"), total: query("total") });
    }
    let threshold = &shared["thresholdMetric"];
    threshold.is_object().then(|| Sli::Latency {
        metric: threshold["query"].as_str().map(str::to_string),
        threshold_ms: objective["value"].as_f64().unwrap_or(0.0),
    })
}

/// `timeWindows: [{count: 30, unit: Day}]` as a duration; none means 30 days.
fn period(windows: &Value, what: &str) -> Result<Duration, String> {
    let Some(window) = windows.as_array().and_then(|w| w.first()) else { return Ok(DEFAULT_PERIOD) };
    let count = match &window["count"] {
        Value::Null => 1,
        c => c.as_u64().ok_or_else(|| format!("{what}: timeWindows[0].count {c} is not a whole number"))?,
    };
    let unit = window["unit"].as_str().unwrap_or("Day");
    let seconds: u64 = match unit.to_ascii_lowercase().as_str() {
        "second" => 1,
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 30 * 86_400,
        "quarter" => 90 * 86_400,
        "year" => 365 * 86_400,
        _ => {
            return Err(format!(
                "{what}: timeWindows[0].unit {unit:?}: use Minute, Hour, Day, Week, Month, Quarter or Year"
            ));
        }
    };
    match count.checked_mul(seconds) {
        Some(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(format!("{what}: timeWindows[0]: {count} {unit} is no period")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml_json: &str) -> Value {
        serde_json::from_str(yaml_json).unwrap()
    }

    #[test]
    fn each_objective_is_an_slo_named_as_sloth_names_it() {
        let d = doc(r#"{"apiVersion": "openslo/v1alpha", "kind": "SLO", "metadata": {"name": "latency"},
                "spec": {"service": "api", "objectives": [
                  {"ratioMetrics": {"good": {"query": "g1"}, "total": {"query": "t"}}, "target": 0.99},
                  {"ratioMetrics": {"good": {"query": "g2"}, "total": {"query": "t"}}, "target": 0.999}],
                "timeWindows": [{"count": 2, "unit": "Week"}]}}"#);
        let slos = slos(&d, "x.yaml").unwrap();
        assert_eq!(slos.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["latency-0", "latency-1"]);
        assert_eq!(slos[1].objective, 0.999);
        assert_eq!(slos[0].period, Duration::from_secs(14 * 86_400));
        assert!(slos[0].profile.tiers.is_empty());
    }

    #[test]
    fn missing_windows_are_thirty_days_and_bad_input_is_named() {
        assert_eq!(period(&Value::Null, "x").unwrap(), DEFAULT_PERIOD);
        assert!(period(&doc(r#"[{"count": 3, "unit": "Fortnight"}]"#), "x").unwrap_err().contains("Fortnight"));
        assert!(period(&doc(r#"[{"count": 18446744073709551615, "unit": "Year"}]"#), "x").is_err());
        assert!(period(&doc(r#"[{"count": 0, "unit": "Day"}]"#), "x").is_err());
        let no_ratio = doc(r#"{"metadata": {"name": "a"}, "spec": {"service": "s", "objectives": [{"target": 0.9}]}}"#);
        assert!(slos(&no_ratio, "f.yaml").unwrap_err().starts_with("f.yaml#a: objective 0 has no ratioMetrics"));
        assert_eq!(period(&doc(r#"[{"unit": "Week"}]"#), "x").unwrap(), Duration::from_secs(7 * 86_400));
        let shared = doc(
            r#"{"metadata": {"name": "web"}, "spec": {"service": "s", "indicator": {"thresholdMetric": {"query": "q"}},
                "objectives": [{"op": "lte", "value": 200, "target": 0.98}]}}"#,
        );
        assert_eq!(slos(&shared, "f").unwrap()[0].sli, Sli::Latency { metric: Some("q".into()), threshold_ms: 200.0 });
    }
}
