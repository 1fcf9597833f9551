//! `AWS::CloudWatch::Alarm` resources of CloudFormation templates (JSON, or YAML with `!Ref` and
//! `!Sub`), with parameters resolved to their defaults.

use serde_json::{Map, Value};

use super::cloudwatch::{AlarmSpec, Query, to_rule};
use super::{Rule, Source, number};

/// Whether documents are CloudFormation templates.
pub fn is_template(docs: &[Value]) -> bool {
    docs.iter().any(|d| {
        d["AWSTemplateFormatVersion"].is_string()
            || d["Resources"]
                .as_object()
                .is_some_and(|r| r.values().any(|v| v["Type"].as_str().is_some_and(|t| t.starts_with("AWS::"))))
    })
}

/// The alarms of every template.
pub fn rules(docs: &[Value], origin: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for doc in docs {
        let params = doc["Parameters"].as_object().cloned().unwrap_or_default();
        for (id, resource) in doc["Resources"].as_object().into_iter().flatten() {
            if resource["Type"] != "AWS::CloudWatch::Alarm" {
                continue;
            }
            let spec = alarm_spec(&resource["Properties"], &params, id);
            out.push(to_rule(&spec, Source::Cloudformation, format!("{origin}#{id}")));
        }
    }
    out
}

/// One alarm's properties (a template resource's `Properties`, or an alarm as `aws cloudwatch
/// describe-alarms` prints it: the same names) as an alarm description; `id` names it when it
/// has no `AlarmName`.
pub fn alarm_spec(properties: &Value, params: &Map<String, Value>, id: &str) -> AlarmSpec {
    let p = |key: &str| resolve(&properties[key], params);
    let text = |key: &str| p(key).as_str().map(str::to_string);
    let number_of = |key: &str| number(&p(key));
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let name = resolve(&d["Name"], params).as_str()?.to_string();
                let value = resolve(&d["Value"], params);
                Some((name, value.as_str().map_or_else(|| value.to_string(), str::to_string)))
            })
            .collect()
    };
    let queries = p("Metrics")
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let stat = &q["MetricStat"];
            Query {
                id: resolve(&q["Id"], params).as_str().unwrap_or_default().to_string(),
                expression: resolve(&q["Expression"], params).as_str().map(str::to_string),
                metric: resolve(&stat["Metric"]["MetricName"], params).as_str().map(str::to_string),
                period: number(&resolve(&stat["Period"], params)).map(|n| n as u64),
                return_data: resolve(&q["ReturnData"], params).as_bool().unwrap_or(true),
                dimensions: pairs(&resolve(&stat["Metric"]["Dimensions"], params)),
            }
        })
        .collect();
    let tags = pairs_of_tags(&p("Tags"));
    AlarmSpec {
        name: text("AlarmName").unwrap_or_else(|| id.to_string()),
        description: text("AlarmDescription"),
        metric: text("MetricName"),
        dimensions: pairs(&p("Dimensions")),
        period: number_of("Period").map(|n| n as u64),
        evaluation_periods: number_of("EvaluationPeriods").map(|n| n as u64),
        datapoints_to_alarm: number_of("DatapointsToAlarm").map(|n| n as u64),
        threshold: number_of("Threshold"),
        comparison: text("ComparisonOperator"),
        queries,
        // A resource's Ref (a topic of the same stack) is named by its logical id.
        actions: p("AlarmActions")
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().or(a["Ref"].as_str()).map_or_else(|| a.to_string(), str::to_string))
            .collect(),
        tags,
    }
}

fn pairs_of_tags(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["Key"].as_str()?.to_string(), t["Value"].as_str()?.to_string())))
        .collect()
}

/// Resolve intrinsic functions whose value the template itself decides: `Ref` to a parameter
/// (its default), `Fn::Sub` with parameters, `Fn::Join`, `Fn::Select`. Others stay as written.
fn resolve(v: &Value, params: &Map<String, Value>) -> Value {
    let default = |name: &str| params.get(name).map(|p| p["Default"].clone()).filter(|d| !d.is_null());
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (key, arg) = m.iter().next().expect("one entry");
            match key.as_str() {
                "Ref" => arg.as_str().and_then(default).unwrap_or_else(|| v.clone()),
                "Fn::Sub" => {
                    let (template, vars) = match arg {
                        Value::Array(a) => {
                            (a.first().and_then(Value::as_str).unwrap_or(""), a.get(1).and_then(Value::as_object))
                        }
                        other => (other.as_str().unwrap_or(""), None),
                    };
                    let mut out = template.to_string();
                    for (name, _) in params.iter() {
                        if let Some(d) = default(name) {
                            out = out.replace(&format!("${{{name}}}"), d.as_str().unwrap_or(&d.to_string()));
                        }
                    }
                    for (name, value) in vars.into_iter().flatten() {
                        let value = resolve(value, params);
                        out = out.replace(&format!("${{{name}}}"), value.as_str().unwrap_or(&value.to_string()));
                    }
                    Value::String(out)
                }
                "Fn::Join" => {
                    let sep = arg[0].as_str().unwrap_or("");
                    let parts: Vec<String> = arg[1]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            let p = resolve(p, params);
                            p.as_str().map_or_else(|| p.to_string(), str::to_string)
                        })
                        .collect();
                    Value::String(parts.join(sep))
                }
                "Fn::Select" => {
                    let index = number(&resolve(&arg[0], params)).unwrap_or(0.0) as usize;
                    resolve(&arg[1], params).get(index).cloned().unwrap_or(Value::Null)
                }
                _ => v.clone(),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| resolve(i, params)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::rules::Threshold;
    use std::time::Duration;

    #[test]
    fn template_alarms_with_parameters() {
        let text = r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  PageBurn: {Type: Number, Default: "14.4"}
  Tenant: {Type: String, Default: acme}
Resources:
  Topic: {Type: AWS::SNS::Topic}
  FastBurn:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "checkout-availability-${Tenant}-page-1h"
      AlarmDescription: "slo: checkout/availability"
      ComparisonOperator: GreaterThanOrEqualToThreshold
      EvaluationPeriods: 12
      Threshold: !Ref PageBurn
      AlarmActions: [!Ref Topic]
      Metrics:
        - Id: e
          ReturnData: false
          MetricStat:
            Metric: {Namespace: Shop, MetricName: Errors, Dimensions: [{Name: Tenant, Value: !Ref Tenant}]}
            Period: 300
            Stat: Sum
        - Id: r
          ReturnData: false
          MetricStat: {Metric: {Namespace: Shop, MetricName: Requests}, Period: 300, Stat: Sum}
        - Id: burn
          Expression: (e / r) / 0.001
"#;
        let docs = crate::slo::yaml::documents(text, "stack.yaml").unwrap();
        assert!(is_template(&docs));
        let rules = rules(&docs, "stack.yaml");
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(r.name, "checkout-availability-acme-page-1h");
        assert_eq!(r.tenant.as_deref(), Some("acme"));
        assert_eq!(r.threshold, Some(Threshold::Burn(14.4)));
        assert_eq!(r.long, Some(Duration::from_secs(3600)));
        assert_eq!(r.target.as_deref(), Some("Topic"));
        assert_eq!(r.origin, "stack.yaml#FastBurn");
    }

    #[test]
    fn json_templates_read_alike() {
        let text = r#"{"Parameters": {"Burn": {"Type": "Number", "Default": "6"}},
            "Resources": {"Slow": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": {"Fn::Join": ["-", ["checkout-availability", "globex", "page-6h"]]},
                "Threshold": {"Ref": "Burn"}, "EvaluationPeriods": 72, "Period": 300,
                "MetricName": "BurnRate", "Dimensions": [{"Name": "Tenant", "Value": "globex"}],
                "Tags": [{"Key": "slo", "Value": "checkout/availability"}]}}}}"#;
        let docs = crate::slo::yaml::documents(text, "stack.json").unwrap();
        let r = &rules(&docs, "stack.json")[0];
        assert_eq!(r.name, "checkout-availability-globex-page-6h");
        assert_eq!(r.threshold, Some(Threshold::Burn(6.0)));
        assert_eq!(r.long, Some(Duration::from_secs(6 * 3600)));
        assert_eq!((r.tenant.as_deref(), r.slo.as_deref()), (Some("globex"), Some("checkout/availability")));
    }
}
