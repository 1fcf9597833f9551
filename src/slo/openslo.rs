//! SLOs from OpenSLO v1 (`kind: SLO`, with `SLI` and `AlertPolicy` documents referenced by
//! name or inline; v1alpha in [`super::openslo_v1alpha`]; either wrapped in `kind: List`) and
//! from Sloth (`version: prometheus/v1`, and its `PrometheusServiceLevel` custom resource).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::policy::{Profile, Severity, Tier};
use super::spec::{Sli, Slo, objective};
use crate::units::parse_duration;

/// Sloth's period when a spec names none.
const SLOTH_PERIOD: Duration = Duration::from_secs(30 * 86_400);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The tenants a labels map names: `tenant: acme` or `tenant: [acme, globex]`.
fn tenants(labels: &Value) -> Vec<Option<String>> {
    match &labels["tenant"] {
        Value::Array(items) => items.iter().filter_map(text).map(Some).collect(),
        other => vec![text(other)],
    }
}

/// Whether these documents are OpenSLO (perhaps inside a `kind: List`).
pub fn is_openslo(docs: &[Value]) -> bool {
    unwrapped(docs).iter().any(|d| d["apiVersion"].as_str().is_some_and(|v| v.starts_with("openslo/")))
}

/// The documents with every `kind: List` and every top-level sequence replaced by its items
/// (one level, as Kubernetes tooling and OpenSLO's own examples write them).
pub(super) fn unwrapped(docs: &[Value]) -> Vec<&Value> {
    docs.iter()
        .flat_map(|d| match (d, &d["kind"], &d["items"]) {
            (Value::Array(items), _, _) => items.iter().collect(),
            (_, Value::String(kind), Value::Array(items)) if kind == "List" => items.iter().collect(),
            _ => vec![d],
        })
        .collect()
}

/// Whether these documents are Sloth specs.
pub fn is_sloth(docs: &[Value]) -> bool {
    docs.iter().any(|d| {
        d["version"].as_str().is_some_and(|v| v.starts_with("prometheus/"))
            || d["apiVersion"].as_str().is_some_and(|v| v.starts_with("sloth.slok.dev/"))
    })
}

/// The SLOs of OpenSLO documents.
pub fn openslo(docs: &[Value], origin: &str) -> Result<Vec<Slo>, String> {
    let docs = unwrapped(docs);
    let named = |kind: &str| -> BTreeMap<String, &Value> {
        docs.iter()
            .filter(|d| d["kind"] == kind)
            .filter_map(|d| Some((d["metadata"]["name"].as_str()?.to_string(), *d)))
            .collect()
    };
    let slis = named("SLI");
    let policies = named("AlertPolicy");
    let mut out = Vec::new();
    for doc in docs.iter().filter(|d| d["kind"] == "SLO") {
        if super::openslo_v1alpha::is_v1alpha(doc) {
            out.extend(super::openslo_v1alpha::slos(doc, origin)?);
            continue;
        }
        let name = doc["metadata"]["name"].as_str().ok_or_else(|| format!("{origin}: an SLO without metadata.name"))?;
        let what = format!("{origin}#{name}");
        let spec = &doc["spec"];
        let service = spec["service"].as_str().ok_or_else(|| format!("{what}: spec.service is missing"))?;
        let sli_doc = match (&spec["indicator"], spec["indicatorRef"].as_str()) {
            (Value::Object(_), _) => &spec["indicator"],
            (_, Some(r)) => {
                slis.get(r).copied().ok_or_else(|| format!("{what}: indicatorRef {r:?} names no SLI in {origin}"))?
            }
            _ => return Err(format!("{what}: give spec.indicator or spec.indicatorRef")),
        };
        let window = spec["timeWindow"][0]["duration"]
            .as_str()
            .ok_or_else(|| format!("{what}: spec.timeWindow[0].duration is missing (e.g. 28d)"))?;
        let period = window_duration(window).map_err(|e| format!("{what}: timeWindow: {e}"))?;
        let profile = alert_profile(spec, &policies, period, &what)?;
        let objectives = spec["objectives"]
            .as_array()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| format!("{what}: spec.objectives is empty"))?;
        for (i, o) in objectives.iter().enumerate() {
            let target = match (o["target"].as_f64(), o["targetPercent"].as_f64()) {
                (Some(t), _) => objective(t, &what)?,
                (None, Some(p)) => objective(p / 100.0, &what)?,
                _ => return Err(format!("{what}: objective {} has no target or targetPercent", i + 1)),
            };
            let sli = indicator(&sli_doc["spec"], o, &what)?;
            let suffix = match (objectives.len(), o["displayName"].as_str()) {
                (1, _) => String::new(),
                (_, Some(n)) => format!("-{n}"),
                _ => format!("-{}", i + 1),
            };
            for tenant in tenants(&doc["metadata"]["labels"]) {
                out.push(Slo {
                    service: service.to_string(),
                    name: format!("{name}{suffix}"),
                    tenant,
                    sli: sli.clone(),
                    objective: target,
                    period,
                    profile: profile.clone(),
                    description: spec["description"].as_str().map(str::to_string),
                    origin: what.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// An OpenSLO duration: the usual units, and `M`, `Q` and `Y` (a month of 30 days, a quarter of
/// 90, a year of 365) as OpenSLO's duration shorthand allows them.
fn window_duration(text: &str) -> Result<Duration, String> {
    let days = |unit: char| match unit {
        'M' => Some(30),
        'Q' => Some(90),
        'Y' => Some(365),
        _ => None,
    };
    let t = text.trim();
    match t.chars().last().and_then(days) {
        Some(per) => {
            // The unit is one ASCII byte, so cutting it off leaves a character boundary.
            let count: u64 =
                t[..t.len() - 1].parse().map_err(|_| format!("{text:?}: expected a count before its unit"))?;
            count
                .checked_mul(per * 86_400)
                .filter(|&s| s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("{text:?} is no period"))
        }
        None => parse_duration(t),
    }
}

fn metric_query(v: &Value) -> Option<String> {
    let source = &v["metricSource"]["spec"];
    text(&source["query"]).or_else(|| text(&source["expression"])).or_else(|| text(&source["metricName"]))
}

fn indicator(spec: &Value, objective: &Value, what: &str) -> Result<Sli, String> {
    if let Value::Object(_) = &spec["ratioMetric"] {
        let r = &spec["ratioMetric"];
        return Ok(Sli::Ratio {
            good: metric_query(&r["good"]),
            bad: metric_query(&r["bad"]),
            total: metric_query(&r["total"]),
        });
    }
    if let Value::Object(_) = &spec["thresholdMetric"] {
        let threshold = objective["value"].as_f64().ok_or_else(|| {
            format!("{what}: a thresholdMetric SLI needs the objective's value (the latency threshold)")
        })?;
        return Ok(Sli::Latency { metric: metric_query(&spec["thresholdMetric"]), threshold_ms: threshold });
    }
    Err(format!("{what}: the SLI has neither ratioMetric nor thresholdMetric"))
}

/// The tiers of the SLO's alert policies (inline or by reference), or the SRE Workbook's.
fn alert_profile(
    spec: &Value,
    policies: &BTreeMap<String, &Value>,
    period: Duration,
    what: &str,
) -> Result<Profile, String> {
    let mut tiers = Vec::new();
    for policy in spec["alertPolicies"].as_array().into_iter().flatten() {
        let doc = match policy["alertPolicyRef"].as_str().or_else(|| policy.as_str()) {
            Some(r) => {
                policies.get(r).copied().ok_or_else(|| format!("{what}: alertPolicyRef {r:?} names no AlertPolicy"))?
            }
            None => policy,
        };
        for condition in doc["spec"]["conditions"].as_array().into_iter().flatten() {
            let c = match condition["conditionRef"].as_str() {
                Some(_) => continue,
                None => &condition["spec"],
            };
            let cond = &c["condition"];
            if cond["kind"].as_str().is_some_and(|k| k != "burnrate") {
                continue;
            }
            let factor =
                cond["threshold"].as_f64().ok_or_else(|| format!("{what}: a burn-rate condition without threshold"))?;
            let long =
                cond["lookbackWindow"].as_str().map(parse_duration).transpose().map_err(|e| format!("{what}: {e}"))?;
            let long = long.ok_or_else(|| format!("{what}: a burn-rate condition without lookbackWindow"))?;
            let short =
                cond["alertAfter"].as_str().map(parse_duration).transpose().map_err(|e| format!("{what}: {e}"))?;
            let severity = c["severity"]
                .as_str()
                .or(doc["spec"]["severity"].as_str())
                .and_then(Severity::parse)
                .unwrap_or(Severity::Page);
            tiers.push(Tier { severity, factor, long, short: short.unwrap_or(long / 12) });
        }
    }
    Ok(if tiers.is_empty() { Profile::sre_workbook(period) } else { Profile { name: "openslo".into(), tiers } })
}

/// The SLOs of Sloth specs (one document is one service).
pub fn sloth(docs: &[Value], origin: &str) -> Result<Vec<Slo>, String> {
    let mut out = Vec::new();
    for doc in docs {
        let body = if doc["apiVersion"].as_str().is_some_and(|v| v.starts_with("sloth.slok.dev/")) {
            &doc["spec"]
        } else {
            doc
        };
        let Some(service) = body["service"].as_str() else { continue };
        for slo in body["slos"].as_array().into_iter().flatten() {
            let name = slo["name"].as_str().ok_or_else(|| format!("{origin}: an SLO of {service} without a name"))?;
            let what = format!("{origin}#{name}");
            let target = slo["objective"].as_f64().ok_or_else(|| format!("{what}: objective is missing"))?;
            let events = &slo["sli"]["events"];
            let sli = if let Value::Object(_) = events {
                Sli::Ratio { good: None, bad: text(&events["error_query"]), total: text(&events["total_query"]) }
            } else if let Some(raw) = text(&slo["sli"]["raw"]["error_ratio_query"]) {
                Sli::Ratio { good: None, bad: Some(raw), total: None }
            } else if let Some(plugin) = text(&slo["sli"]["plugin"]["id"]) {
                Sli::Ratio { good: None, bad: Some(format!("plugin {plugin}")), total: None }
            } else {
                return Err(format!("{what}: sli needs events, raw or plugin"));
            };
            let mut profile = Profile::sre_workbook(SLOTH_PERIOD);
            profile.name = "sloth".into();
            let alerting = &slo["alerting"];
            profile.tiers.retain(|t| match t.severity {
                Severity::Page => alerting["page_alert"]["disable"].as_bool() != Some(true),
                Severity::Ticket => alerting["ticket_alert"]["disable"].as_bool() != Some(true),
            });
            let mut labels = body["labels"].clone();
            if let (Value::Object(all), Value::Object(own)) = (&mut labels, &slo["labels"]) {
                all.extend(own.clone());
            } else if slo["labels"].is_object() {
                labels = slo["labels"].clone();
            }
            for tenant in tenants(&labels) {
                out.push(Slo {
                    service: service.to_string(),
                    name: name.to_string(),
                    tenant,
                    sli: sli.clone(),
                    objective: objective(target, &what)?,
                    period: SLOTH_PERIOD,
                    profile: profile.clone(),
                    description: slo["description"].as_str().map(str::to_string),
                    origin: what.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openslo_windows_have_months_quarters_and_years() {
        assert_eq!(window_duration("1M").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(window_duration("1Q").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(window_duration("28d").unwrap(), Duration::from_secs(28 * 86_400));
        assert!(window_duration("M").is_err());
        assert!(window_duration("0Y").is_err());
        assert!(window_duration("99999999999999999Y").is_err());
        assert!(window_duration("éM").is_err());
    }
}
