//! SLOs from Pyrra's `ServiceLevelObjective` resources (`pyrra.dev/v1alpha1`): a target in
//! percent, a window, and a `ratio`, `latency`, `latencyNative` or `bool_gauge` indicator. Pyrra computes its
//! alerts from them with its own four tiers (fixed factors 14, 7, 2 and 1, windows scaled to the
//! SLO's window), so rules Pyrra generated check against Pyrra's profile, not the SRE Workbook's.

use serde_json::Value;

use super::policy::Profile;
use super::spec::{Sli, Slo, objective_text};
use crate::units::parse_duration;

/// Whether a document is a Pyrra SLO.
pub fn is_pyrra(doc: &Value) -> bool {
    doc["apiVersion"].as_str().is_some_and(|v| v.starts_with("pyrra.dev/")) && doc["kind"] == "ServiceLevelObjective"
}

/// The SLO of one Pyrra resource. Its service is its namespace (`default` when it names none),
/// as Kubernetes places it; its tenants come from a `tenant` label.
pub fn slos(doc: &Value, origin: &str) -> Result<Vec<Slo>, String> {
    let meta = &doc["metadata"];
    let name =
        meta["name"].as_str().ok_or_else(|| format!("{origin}: a ServiceLevelObjective without metadata.name"))?;
    let what = format!("{origin}#{name}");
    let spec = &doc["spec"];
    let target = match &spec["target"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(format!("{what}: spec.target is missing (a percentage, e.g. \"99.9\")")),
    };
    // Pyrra's target is always a percentage, even below 1 ("0.5" is half a percent).
    let objective = objective_text(&format!("{}%", target.trim_end_matches('%')), &what)?;
    let window = spec["window"].as_str().ok_or_else(|| format!("{what}: spec.window is missing (e.g. 4w)"))?;
    let period = parse_duration(window).map_err(|e| format!("{what}: window: {e}"))?;
    let sli = indicator(&spec["indicator"]).ok_or_else(|| {
        format!("{what}: spec.indicator needs ratio (errors, total), latency (success, total), latencyNative (latency, total) or bool_gauge")
    })?;
    let profile = if spec["alerting"]["disabled"].as_bool() == Some(true) {
        Profile { name: "pyrra (alerting disabled)".into(), tiers: Vec::new() }
    } else {
        Profile::pyrra(period)
    };
    let service = meta["namespace"].as_str().unwrap_or("default");
    let tenants: Vec<Option<String>> = match &meta["labels"]["tenant"] {
        Value::String(t) => vec![Some(t.clone())],
        _ => vec![None],
    };
    Ok(tenants
        .into_iter()
        .map(|tenant| Slo {
            service: service.to_string(),
            name: name.to_string(),
            tenant,
            sli: sli.clone(),
            objective,
            period,
            profile: profile.clone(),
            description: spec["description"].as_str().filter(|d| !d.is_empty()).map(str::to_string),
            origin: what.clone(),
        })
        .collect())
}

/// A latency indicator is the ratio of requests under the threshold bucket to all of them.
fn indicator(indicator: &Value) -> Option<Sli> {
    let metric = |v: &Value| v["metric"].as_str().map(str::to_string);
    let ratio = &indicator["ratio"];
    if ratio.is_object() {
        return Some(Sli::Ratio { good: None, bad: metric(&ratio["errors"]), total: metric(&ratio["total"]) });
    }
    let latency = &indicator["latency"];
    if latency.is_object() {
        return Some(Sli::Ratio { good: metric(&latency["success"]), bad: None, total: metric(&latency["total"]) });
    }
    // A native histogram with the threshold given as a duration: `latency: 200ms`.
    let native = &indicator["latencyNative"];
    if native.is_object() {
        let threshold = native["latency"].as_str().and_then(|l| parse_duration(l).ok())?;
        return Some(Sli::Latency { metric: metric(&native["total"]), threshold_ms: threshold.as_secs_f64() * 1000.0 });
    }
    let gauge = &indicator["bool_gauge"];
    gauge.is_object().then(|| Sli::Ratio { good: metric(gauge), bad: None, total: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn targets_are_percentages_and_windows_scale_pyrras_tiers() {
        let d = doc(r#"{"apiVersion": "pyrra.dev/v1alpha1", "kind": "ServiceLevelObjective",
                "metadata": {"name": "api-errors", "namespace": "shop", "labels": {"tenant": "acme"}},
                "spec": {"target": "99.5", "window": "2w",
                         "indicator": {"ratio": {"errors": {"metric": "e"}, "total": {"metric": "t"}}}}}"#);
        assert!(is_pyrra(&d));
        let slo = &slos(&d, "p.yaml").unwrap()[0];
        assert_eq!(slo.id(), "shop/api-errors@acme");
        assert!((slo.objective - 0.995).abs() < 1e-12);
        assert_eq!(slo.profile, Profile::pyrra(slo.period));
        assert_eq!(slo.sli, Sli::Ratio { good: None, bad: Some("e".into()), total: Some("t".into()) });
    }

    #[test]
    fn small_targets_disabled_alerting_and_missing_parts() {
        let base = r#"{"metadata": {"name": "n"}, "spec": {"target": "0.5", "window": "4w", "alerting": {"disabled": true},
                        "indicator": {"bool_gauge": {"metric": "up"}}}}"#;
        let slo = &slos(&doc(base), "p").unwrap()[0];
        assert!((slo.objective - 0.005).abs() < 1e-12, "Pyrra's targets are percentages");
        assert!(slo.profile.tiers.is_empty());
        assert_eq!(slo.service, "default");
        let no_indicator = doc(r#"{"metadata": {"name": "n"}, "spec": {"target": "99", "window": "4w"}}"#);
        assert!(slos(&no_indicator, "p").unwrap_err().contains("spec.indicator needs"));
        let native = doc(r#"{"metadata": {"name": "n"}, "spec": {"target": "99", "window": "4w",
                "indicator": {"latencyNative": {"latency": "200ms", "total": {"metric": "d"}}}}}"#);
        assert_eq!(slos(&native, "p").unwrap()[0].sli, Sli::Latency { metric: Some("d".into()), threshold_ms: 200.0 });
        let no_target = doc(r#"{"metadata": {"name": "n"}, "spec": {"window": "4w"}}"#);
        assert!(slos(&no_target, "p").unwrap_err().starts_with("p#n: spec.target is missing"));
    }
}
