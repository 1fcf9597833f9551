//! `aws_cloudwatch_metric_alarm` resources from Terraform: `.tf` files and module folders
//! (evaluated by [`module`]), and the JSON of `terraform show -json` (plans and state), whose
//! resource values have the same shape.

mod depth;
mod eval;
mod functions;
pub mod module;

use std::path::Path;

use serde_json::Value;

use super::cloudwatch::{AlarmSpec, Query, to_rule};
use super::{Rule, Source, number};
use module::{File, Instance, Loaded};

const ALARM: &str = "aws_cloudwatch_metric_alarm";

/// Attributes that say nothing about what an alarm checks: when they are not known here,
/// nothing is lost for the audit.
const INCIDENTAL: [&str; 10] = [
    "alarm_actions",
    "alarm_description",
    "ok_actions",
    "insufficient_data_actions",
    "actions_enabled",
    "treat_missing_data",
    "unit",
    "evaluate_low_sample_count_percentiles",
    "account_id",
    "label",
];

/// Whether a JSON document is `terraform show -json` output.
pub fn is_plan(doc: &Value) -> bool {
    doc["format_version"].is_string() && (doc["planned_values"].is_object() || doc["values"].is_object())
}

/// The alarms of one `.tf` file, read as a module of its own. Module calls are not followed:
/// [`from_folder`] does that.
pub fn from_tf(text: &str, origin: &str) -> Result<Vec<Rule>, String> {
    let file = File { origin: origin.to_string(), text: text.to_string() };
    module::resources(vec![file], Vec::new(), None, ALARM).map(rules)
}

/// The alarms of a module folder: its `.tf` files together, its `terraform.tfvars` and
/// `*.auto.tfvars`, and the modules it calls from local folders.
pub fn from_folder(dir: &Path) -> Result<Vec<Rule>, String> {
    let (files, tfvars) = module::read_folder(dir)?;
    module::resources(files, tfvars, Some(dir), ALARM).map(rules)
}

/// Rules from instances. What could not be read (a module from a registry, say) travels as a
/// rule of its own without a threshold, so the report lists it with the other unresolved values.
fn rules(loaded: Loaded) -> Vec<Rule> {
    let mut out: Vec<Rule> = loaded.instances.iter().map(rule).collect();
    for note in loaded.notes {
        let name = if note.address.is_empty() { "terraform".to_string() } else { note.address.clone() };
        let mut unread = Rule::new(Source::Terraform, format!("{}#{}", note.origin, note.address), name);
        unread.unresolved.push(note.why);
        out.push(unread);
    }
    out
}

fn rule(instance: &Instance) -> Rule {
    let mut rule = to_rule(
        &spec(&instance.body, &instance.name),
        Source::Terraform,
        format!("{}#{}", instance.origin, instance.address),
    );
    rule.unresolved = instance
        .unresolved
        .iter()
        .filter(|u| {
            let last = u.field.rsplit('.').next().unwrap_or(&u.field);
            !INCIDENTAL.contains(&last)
        })
        .map(|u| u.why.clone())
        .collect();
    rule
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
