//! PagerDuty exports: the JSON of services, escalation policies and event orchestrations. Each
//! orchestration rule whose conditions compare an event field with a number is an alert rule:
//! `event.custom_details.error_rate >= 4.8 and event.custom_details.tenant matches 'acme'`.
//! A field named like `burn` holds a burn rate, like `ratio` an error ratio, and like `percent`
//! (or `rate`, above 1) a percentage. Rules without a threshold (routing), services no rule
//! routes to and escalation policies are read too, as rules without a threshold: they show
//! who is paged and how it escalates, and are listed beside the SLO alerts, not checked.

use serde_json::Value;

use super::{Rule, Source, Threshold, tenant_key, window_in_name};
use crate::slo::Severity;
use crate::units::parse_duration;

/// Whether a JSON document is a PagerDuty export, or an object as PagerDuty's REST API returns
/// it: `{"service": ...}`, `{"services": [...]}`, `{"escalation_policy": ...}`, an orchestration
/// path, or a service's event rules (`{"rules": [...]}` with conditions and actions).
pub fn is_export(doc: &Value) -> bool {
    ["event_orchestrations", "escalation_policies", "orchestration_path"].iter().any(|k| !doc[*k].is_null())
        || doc["services"].is_array()
        || doc["service"]["type"] == "service"
        || doc["escalation_policy"]["type"] == "escalation_policy"
        || doc["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["conditions"].is_object() && x["actions"].is_object()))
}

/// Every orchestration rule with its conditions (a numeric threshold makes it an alert rule;
/// without one it is routing), and every service with no such rule, each with who is paged:
/// the service and its escalation policy, level by level.
pub fn rules(doc: &Value, origin: &str) -> Vec<Rule> {
    let services: Vec<&Value> = doc["services"].as_array().into_iter().flatten().chain(Some(&doc["service"])).collect();
    let service_by_id = |id: &str| services.iter().copied().find(|s| s["id"] == id);
    let policies: Vec<&Value> =
        doc["escalation_policies"].as_array().into_iter().flatten().chain(Some(&doc["escalation_policy"])).collect();
    let escalation_of = |service: &Value| {
        let id = service["escalation_policy"]["id"].as_str()?;
        let policy = policies.iter().copied().find(|p| p["id"] == id);
        Some(policy.map_or_else(|| format!("escalation policy {id}"), escalation))
    };
    let paged = |service: &Value| {
        let name = service["name"].as_str().or(service["id"].as_str())?;
        Some(match escalation_of(service) {
            Some(escalation) => format!("{name} ({escalation})"),
            None => name.to_string(),
        })
    };
    let mut out = Vec::new();
    let mut routed_services = Vec::new();
    walk(doc, None, &mut |rule, service| {
        let actions = &rule["actions"];
        // Suppressed and dropped events page nobody.
        if actions["suppress"] == true || actions["drop_event"] == true {
            return;
        }
        let label = rule["label"].as_str().or(rule["id"].as_str()).unwrap_or("unnamed rule");
        let expressions: Vec<&str> =
            rule["conditions"].as_array().into_iter().flatten().filter_map(|c| c["expression"].as_str()).collect();
        let text = expressions.join(" and ");
        let mut r = Rule::new(Source::Pagerduty, format!("{origin}#{label}"), label.to_string());
        for clause in text.split(" and ").flat_map(|c| c.split(" or ")) {
            read_clause(clause.trim(), &mut r);
        }
        r.long = r.long.or_else(|| r.threshold.and_then(|_| window_in_name(label)));
        r.severity = actions["severity"].as_str().and_then(Severity::parse);
        let routed = actions["route_to"].as_str().or(service);
        if let Some(id) = routed {
            routed_services.push(id.to_string());
        }
        r.target = routed.map(|id| service_by_id(id).and_then(paged).unwrap_or_else(|| id.to_string()));
        r.measures = (!text.is_empty()).then(|| text.clone());
        out.push(r);
    });
    // Services no alert rule routes to: who would be paged, listed for coverage.
    for service in services.iter().filter(|s| s.is_object()) {
        let Some(id) = service["id"].as_str() else { continue };
        if routed_services.iter().any(|r| r == id) {
            continue;
        }
        let name = service["name"].as_str().unwrap_or(id);
        let mut r = Rule::new(Source::Pagerduty, format!("{origin}#service {name}"), format!("service {name}"));
        r.target = paged(service);
        out.push(r);
    }
    // Escalation policies no service listed here uses.
    for policy in policies.iter().filter(|p| p.is_object()) {
        let id = policy["id"].as_str().unwrap_or_default();
        if services.iter().any(|s| s["escalation_policy"]["id"] == id) {
            continue;
        }
        let name = policy["name"].as_str().unwrap_or(id);
        let mut r = Rule::new(
            Source::Pagerduty,
            format!("{origin}#escalation policy {name}"),
            format!("escalation policy {name}"),
        );
        r.target = Some(escalation(policy));
        out.push(r);
    }
    out
}

/// An escalation policy level by level: `checkout primary: user PUSR1 after 15 min, then
/// schedule PSCH1 after 30 min`.
fn escalation(policy: &Value) -> String {
    let name = policy["name"].as_str().or(policy["id"].as_str()).unwrap_or("escalation policy");
    let levels: Vec<String> = policy["escalation_rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|level| {
            let targets: Vec<String> = level["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let kind = t["type"].as_str().unwrap_or("target").trim_end_matches("_reference").replace('_', " ");
                    let who = t["summary"].as_str().or(t["id"].as_str()).unwrap_or("?");
                    format!("{kind} {who}")
                })
                .collect();
            let delay = level["escalation_delay_in_minutes"].as_u64();
            let after = delay.map(|m| format!(" after {m} min")).unwrap_or_default();
            format!("{}{after}", if targets.is_empty() { "nobody".into() } else { targets.join(" and ") })
        })
        .collect();
    if levels.is_empty() { name.to_string() } else { format!("{name}: {}", levels.join(", then ")) }
}

/// Visit every object with `conditions` and `actions`, with the service it belongs to.
fn walk<'v>(v: &'v Value, service: Option<&'v str>, visit: &mut impl FnMut(&'v Value, Option<&'v str>)) {
    match v {
        Value::Object(m) => {
            let service = m.get("service").and_then(|s| s["id"].as_str()).or(service);
            if m.contains_key("conditions") && m.contains_key("actions") {
                visit(v, service);
            }
            for child in m.values() {
                walk(child, service, visit);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, service, visit)),
        _ => {}
    }
}

/// One `field op value` clause of a condition.
fn read_clause(clause: &str, r: &mut Rule) {
    let clause = clause.trim_start_matches('(').trim_end_matches(')').trim();
    let (field, rest) = clause.split_once(char::is_whitespace).unwrap_or((clause, ""));
    let field = field.rsplit('.').next().unwrap_or(field).to_ascii_lowercase();
    let rest = rest.trim();
    if let Some(value) = rest
        .strip_prefix("matches part ")
        .or_else(|| rest.strip_prefix("matches "))
        .or_else(|| rest.strip_prefix("== "))
    {
        let value = value.trim().trim_matches(['\'', '"']).to_string();
        if tenant_key(&field) {
            r.tenant = Some(value);
        } else if field == "slo" {
            r.slo = Some(value);
        } else if field.contains("window") {
            r.long = parse_duration(&value).ok();
        }
        return;
    }
    for op in [">=", "<=", ">", "<"] {
        if let Some(value) = rest.strip_prefix(op).and_then(|v| v.trim().parse::<f64>().ok()) {
            r.comparison = Some(op.to_string());
            r.threshold = Some(if field.contains("burn") {
                Threshold::Burn(value)
            } else if field.contains("ratio") {
                Threshold::Ratio(value)
            } else if field.contains("percent") || field.contains("pct") || value > 1.0 {
                Threshold::Percent(value)
            } else {
                Threshold::Ratio(value)
            });
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_objects_without_thresholds_read_without_error() {
        let service: Value = serde_json::json!({"service": {"id": "PSVC1", "type": "service", "name": "checkout",
            "escalation_policy": {"id": "PEP1", "type": "escalation_policy_reference"}}});
        let policy: Value = serde_json::json!({"escalation_policy": {"id": "PEP1", "type": "escalation_policy",
            "escalation_rules": [{"escalation_delay_in_minutes": 30, "targets": [{"id": "PUSER", "type": "user_reference"}]}]}});
        let legacy: Value = serde_json::json!({"rules": [{"id": "R1", "conditions": {"operator": "and",
            "subconditions": [{"operator": "contains", "parameters": {"path": "summary", "value": "error"}}]},
            "actions": {"severity": {"value": "critical"}}}]});
        for doc in [&service, &policy, &legacy, &serde_json::json!({"services": []})] {
            assert!(is_export(doc), "{doc}");
            let rules = rules(doc, "pd.json");
            assert!(rules.iter().all(|r| r.threshold.is_none() && !r.alerts_on_sli()), "{doc}: {rules:?}");
        }
        let listed = |doc: &Value| rules(doc, "pd.json").into_iter().map(|r| (r.name, r.target)).collect::<Vec<_>>();
        assert_eq!(
            listed(&service),
            [("service checkout".to_string(), Some("checkout (escalation policy PEP1)".to_string()))]
        );
        assert_eq!(
            listed(&policy),
            [("escalation policy PEP1".to_string(), Some("PEP1: user PUSER after 30 min".to_string()))]
        );
        assert_eq!(listed(&legacy), [("R1".to_string(), None)]);
        assert!(!is_export(&serde_json::json!({"service": "checkout"})));
    }
    use std::time::Duration;

    #[test]
    fn orchestration_thresholds_become_rules() {
        let doc = serde_json::json!({
            "services": [{"id": "PSVC1", "name": "checkout-oncall", "escalation_policy": {"id": "PEP1"}}],
            "escalation_policies": [{"id": "PEP1", "name": "payments"}],
            "event_orchestrations": [{"id": "E1", "name": "checkout", "orchestration_path": {"sets": [{"id": "start", "rules": [
                {"label": "acme fast burn 1h", "conditions": [{"expression": "event.custom_details.slo matches 'checkout/availability' and event.custom_details.tenant matches 'acme' and event.custom_details.error_rate >= 4.8"}],
                 "actions": {"severity": "critical", "route_to": "PSVC1"}},
                {"label": "noise", "conditions": [{"expression": "event.summary matches part 'test'"}], "actions": {"suppress": true}}
            ]}]}}]
        });
        assert!(is_export(&doc));
        let rules = rules(&doc, "pagerduty.json");
        assert_eq!(rules.len(), 1, "suppressed events page nobody");
        let r = &rules[0];
        assert_eq!(r.threshold, Some(Threshold::Percent(4.8)));
        assert_eq!((r.tenant.as_deref(), r.slo.as_deref()), (Some("acme"), Some("checkout/availability")));
        assert_eq!(r.long, Some(Duration::from_secs(3600)));
        assert_eq!(r.severity, Some(Severity::Page));
        assert_eq!(r.target.as_deref(), Some("checkout-oncall (payments)"));
    }
}
