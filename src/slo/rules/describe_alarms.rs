//! The JSON `aws cloudwatch describe-alarms` prints, saved to a file: `MetricAlarms` (plain and
//! metric-math) read as the live alarms are. `CompositeAlarms` only combine other alarms and
//! carry no threshold of their own, so they are not rules to check.

use serde_json::{Map, Value};

use super::cloudformation::alarm_spec;
use super::cloudwatch::to_rule;
use super::{Rule, Source};

/// Whether a document is describe-alarms output.
pub fn is_describe_alarms(doc: &Value) -> bool {
    doc["MetricAlarms"].is_array() || doc["CompositeAlarms"].is_array()
}

/// Every metric alarm as a CloudWatch rule, named `FILE#AlarmName`.
pub fn rules(doc: &Value, origin: &str) -> Vec<Rule> {
    let no_parameters = Map::new();
    doc["MetricAlarms"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, alarm)| {
            let spec = alarm_spec(alarm, &no_parameters, &format!("alarm {}", i + 1));
            let origin = format!("{origin}#{}", spec.name);
            to_rule(&spec, Source::Cloudwatch, origin)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::rules::Threshold;
    use std::time::Duration;

    #[test]
    fn metric_math_and_plain_alarms_read_like_live_ones() {
        let doc: Value = serde_json::from_str(
            r#"{"MetricAlarms": [
                 {"AlarmName": "checkout-availability-acme-page-1h", "AlarmDescription": "slo: checkout/availability",
                  "Metrics": [
                    {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Errors",
                       "Dimensions": [{"Name": "tenant", "Value": "acme"}]}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
                    {"Id": "requests", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Requests",
                       "Dimensions": [{"Name": "tenant", "Value": "acme"}]}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
                    {"Id": "burn", "Expression": "(errors/requests)/0.001", "ReturnData": true}],
                  "EvaluationPeriods": 12, "Threshold": 14.4, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                  "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:pager"]},
                 {"AlarmName": "cpu-high", "MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Period": 60,
                  "EvaluationPeriods": 5, "Threshold": 80.0, "ComparisonOperator": "GreaterThanThreshold"}],
               "CompositeAlarms": [{"AlarmName": "both", "AlarmRule": "ALARM(cpu-high) AND ALARM(x)"}]}"#,
        )
        .unwrap();
        assert!(is_describe_alarms(&doc));
        let rules = rules(&doc, "alarms.json");
        assert_eq!(rules.len(), 2, "composites carry no threshold: {rules:#?}");
        let burn = &rules[0];
        assert_eq!(burn.source, Source::Cloudwatch);
        assert_eq!(burn.origin, "alarms.json#checkout-availability-acme-page-1h");
        assert_eq!(burn.threshold, Some(Threshold::Burn(14.4)));
        assert_eq!(burn.long, Some(Duration::from_secs(3600)));
        assert_eq!(burn.tenant.as_deref(), Some("acme"));
        assert_eq!(rules[1].name, "cpu-high");
        assert!(super::rules(&serde_json::json!({"MetricAlarms": []}), "e.json").is_empty());
    }
}
