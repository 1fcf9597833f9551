//! `aws_cloudwatch_metric_alarm` resources from Terraform: `.tf` files, and the JSON of
//! `terraform show -json` (plans and state), whose resource values have the same shape.

use serde_json::Value;

use super::cloudwatch::{AlarmSpec, Query, to_rule};
use super::hcl;
use super::{Rule, Source, number};

const ALARM: &str = "aws_cloudwatch_metric_alarm";

/// Whether a JSON document is `terraform show -json` output.
pub fn is_plan(doc: &Value) -> bool {
    doc["format_version"].is_string() && (doc["planned_values"].is_object() || doc["values"].is_object())
}

/// The alarms of a `.tf` file.
pub fn from_tf(text: &str, origin: &str) -> Result<Vec<Rule>, String> {
    let blocks = hcl::parse(text).map_err(|e| format!("{origin}: {e}"))?;
    Ok(blocks
        .iter()
        .filter(|b| b.kind == "resource" && b.labels.first().is_some_and(|t| t == ALARM))
        .map(|b| {
            let name = b.labels.get(1).cloned().unwrap_or_default();
            to_rule(&spec(&b.body, &name), Source::Terraform, format!("{origin}:{}#{ALARM}.{name}", b.line))
        })
        .collect())
}

/// The alarms of `terraform show -json` output: planned values (or state values), modules included.
pub fn from_plan(doc: &Value, origin: &str) -> Vec<Rule> {
    fn walk(module: &Value, origin: &str, out: &mut Vec<Rule>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            if r["type"] == ALARM {
                let address = r["address"].as_str().unwrap_or_default();
                let name = r["name"].as_str().unwrap_or_default();
                out.push(to_rule(&spec(&r["values"], name), Source::Terraform, format!("{origin}#{address}")));
            }
        }
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, origin, out);
        }
    }
    let mut out = Vec::new();
    let root = if doc["planned_values"].is_object() {
        &doc["planned_values"]["root_module"]
    } else {
        &doc["values"]["root_module"]
    };
    walk(root, origin, &mut out);
    out
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

/// Resource values (as HCL gives them or as Terraform's JSON does) as an alarm.
fn spec(v: &Value, resource: &str) -> AlarmSpec {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    let queries = v["metric_query"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let metric = &q["metric"][0];
            Query {
                id: q["id"].as_str().unwrap_or_default().to_string(),
                expression: q["expression"].as_str().filter(|e| !e.is_empty()).map(str::to_string),
                metric: metric["metric_name"].as_str().map(str::to_string),
                period: number(&metric["period"]).map(|p| p as u64),
                return_data: q["return_data"].as_bool().unwrap_or(false),
                dimensions: pairs(&metric["dimensions"]),
            }
        })
        .collect();
    AlarmSpec {
        name: text("alarm_name").unwrap_or_else(|| resource.to_string()),
        description: text("alarm_description"),
        metric: text("metric_name"),
        dimensions: pairs(&v["dimensions"]),
        period: number(&v["period"]).map(|p| p as u64),
        evaluation_periods: number(&v["evaluation_periods"]).map(|p| p as u64),
        datapoints_to_alarm: number(&v["datapoints_to_alarm"]).map(|p| p as u64),
        threshold: number(&v["threshold"]),
        comparison: text("comparison_operator"),
        queries,
        actions: v["alarm_actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        tags: pairs(&v["tags"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::rules::Threshold;
    use std::time::Duration;

    #[test]
    fn tf_files_and_plans_read_alike() {
        let tf = r#"
resource "aws_cloudwatch_metric_alarm" "globex_slow" {
  alarm_name          = "checkout-availability-globex-page-6h"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 72
  threshold           = 0.006
  tags                = { slo = "checkout/availability", tenant = "globex" }
  metric_query {
    id          = "ratio"
    expression  = "e / r"
    return_data = true
  }
  metric_query {
    id = "e"
    metric {
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
    }
  }
}
"#;
        let rules = from_tf(tf, "alarms.tf").unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(r.threshold, Some(Threshold::Ratio(0.006)));
        assert_eq!(r.long, Some(Duration::from_secs(6 * 3600)));
        assert_eq!((r.tenant.as_deref(), r.slo.as_deref()), (Some("globex"), Some("checkout/availability")));
        assert_eq!(r.origin, "alarms.tf:2#aws_cloudwatch_metric_alarm.globex_slow");

        let plan = serde_json::json!({
            "format_version": "1.2",
            "planned_values": {"root_module": {"child_modules": [{"resources": [{
                "address": "module.slo.aws_cloudwatch_metric_alarm.globex_slow",
                "type": "aws_cloudwatch_metric_alarm", "name": "globex_slow",
                "values": {
                    "alarm_name": "checkout-availability-globex-page-6h", "evaluation_periods": 72, "threshold": 0.006,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                    "tags": {"slo": "checkout/availability", "tenant": "globex"},
                    "metric_query": [
                        {"id": "ratio", "expression": "e / r", "return_data": true, "metric": []},
                        {"id": "e", "expression": "", "return_data": false, "metric": [{"metric_name": "Errors", "period": 300, "stat": "Sum"}]}
                    ]
                }
            }]}]}}
        });
        assert!(is_plan(&plan));
        let from_plan = from_plan(&plan, "plan.json");
        assert_eq!(from_plan[0].threshold, r.threshold);
        assert_eq!(from_plan[0].long, r.long);
        assert_eq!(from_plan[0].origin, "plan.json#module.slo.aws_cloudwatch_metric_alarm.globex_slow");
    }
}
