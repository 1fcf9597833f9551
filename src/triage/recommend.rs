//! Recommendations computed from the evidence, each citing the numbers it came from:
//! - a database at its connection limit: a new max_connections of twice the peak (the peak was
//!   clipped at the old limit, so demand was higher still), rounded up to 50, no higher than the
//!   instance class's memory allows by RDS's default formula (else: a larger class or RDS Proxy),
//!   and an alarm at 70 % of the new limit, as CloudFormation and Terraform;
//! - a throttled Lambda function: reserved concurrency of 1.5 times its peak concurrency;
//! - AWS throttling errors in the logs: the SDKs' adaptive retry mode;
//! - a network or source-control failure (transient): a retry policy with backoff.
//!
//! Names go into the snippets only when they are plain (letters, digits, `-`, `_`): nothing from
//! the evidence is spliced into code that would need escaping.

use serde::Serialize;

use super::aws::AwsError;
use super::classify::Diagnosis;
use super::correlate::{Event, Measure, Signal};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub resource: String,
    pub kind: &'static str,
    pub action: String,
    /// The evidence and the arithmetic.
    pub because: String,
    pub cloudformation: Option<String>,
    pub terraform: Option<String>,
}

const ALARM_AT: f64 = 0.7;

/// What to change, from the metric timeline, the signals behind it, the causes and AWS errors.
pub fn recommend(events: &[Event], signals: &[Signal], causes: &[Diagnosis], aws: &[AwsError]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for event in events {
        let signal = |m: Measure| signals.iter().find(|s| s.measure == m && s.resource == event.resource);
        match event.kind {
            "connection-pool-exhaustion" => out.extend(connections(event, signal(Measure::DbConnections))),
            "lambda-throttling" => out.push(concurrency(event, signal(Measure::LambdaConcurrency))),
            _ => {}
        }
    }
    for e in aws.iter().filter(|e| e.cause == "throttling" && e.retry == Some(true)) {
        let on = e.operation.as_deref().map_or(String::new(), |op| format!(" on {op}"));
        out.push(Recommendation {
            resource: e.jobs.join(", "),
            kind: "adaptive-retry",
            action: "run the SDK calls with AWS_RETRY_MODE=adaptive and AWS_MAX_ATTEMPTS=10 (client-side rate limiting on top of backoff)".into(),
            because: format!("{} {}{on} in the logs, from {} to {}", e.count, e.code, or_unknown(&e.first_seen), or_unknown(&e.last_seen)),
            cloudformation: None,
            terraform: None,
        });
    }
    for d in causes.iter().filter(|d| d.cause == "network-scm") {
        out.push(Recommendation {
            resource: d.job.clone(),
            kind: "retry-policy",
            action:
                "retry the failed step up to 3 times with exponential backoff (10 s, 30 s, 90 s) before failing the job"
                    .into(),
            because: format!(
                "job {} failed on a network or source-control error ({} line(s), first: {}), which is transient",
                d.job,
                d.proof.len(),
                d.proof.first().map_or("none kept", |l| l.text.as_str())
            ),
            cloudformation: None,
            terraform: None,
        });
    }
    out
}

fn or_unknown(t: &Option<String>) -> &str {
    t.as_deref().unwrap_or("an unknown time")
}

fn plain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A Terraform label or CloudFormation logical id part from a plain name.
fn label(name: &str) -> String {
    let l = name.replace('-', "_");
    if l.starts_with(|c: char| c.is_ascii_digit()) { format!("r_{l}") } else { l }
}

fn pascal(name: &str) -> String {
    let capital = |part: &str| {
        let mut chars = part.chars();
        chars.next().map_or(String::new(), |first| first.to_ascii_uppercase().to_string() + chars.as_str())
    };
    name.split(['-', '_']).map(capital).collect()
}

/// Memory of an RDS instance class in GiB: the burstable t classes by size, m classes 4 GiB and
/// r classes 8 GiB per vCPU (a `large` has 2 vCPUs, an `Nxlarge` 4N).
pub fn class_memory_gib(class: &str) -> Option<f64> {
    let mut parts = class.strip_prefix("db.")?.splitn(2, '.');
    let (family, size) = (parts.next()?, parts.next()?);
    let vcpus = || match size {
        "large" => Some(2.0),
        "xlarge" => Some(4.0),
        _ => size.strip_suffix("xlarge")?.parse::<f64>().ok().map(|n| n * 4.0),
    };
    match (family.chars().next()?, size) {
        ('t', "micro") => Some(1.0),
        ('t', "small") => Some(2.0),
        ('t', "medium") => Some(4.0),
        ('t' | 'm', _) => vcpus().map(|v| v * 4.0),
        ('r', _) => vcpus().map(|v| v * 8.0),
        _ => None,
    }
}

/// The max_connections RDS's default formula gives a class: PostgreSQL
/// LEAST(DBInstanceClassMemory/9531392, 5000), MySQL and MariaDB DBInstanceClassMemory/12582880
/// (of the class's nominal memory; RDS counts a little less).
pub fn class_max_connections(class: &str, engine: Option<&str>) -> Option<f64> {
    let bytes = class_memory_gib(class)? * (1u64 << 30) as f64;
    match engine.unwrap_or("") {
        e if e.contains("postgres") => Some((bytes / 9_531_392.0).floor().min(5000.0)),
        e if e.contains("mysql") || e.contains("mariadb") => Some((bytes / 12_582_880.0).floor()),
        _ => None,
    }
}

fn connections(event: &Event, signal: Option<&Signal>) -> Vec<Recommendation> {
    let Some(limit) = event.limit else { return Vec::new() };
    let peak = event.peak.max(limit * 0.95);
    let wanted = ((2.0 * peak) / 50.0).ceil() * 50.0;
    let class = signal.and_then(|s| s.class.as_deref());
    let ceiling = class.and_then(|c| class_max_connections(c, signal.and_then(|s| s.engine.as_deref())));
    let (new_max, action) = match (ceiling, class) {
        (Some(top), Some(class)) if wanted > top => (
            top,
            format!(
                "raise max_connections on {} to {top} (the most a {class}'s memory allows) and move to a class with more memory or put RDS Proxy in front: twice the peak needs {wanted}",
                event.resource
            ),
        ),
        _ => (
            wanted,
            format!(
                "raise max_connections on {} from {limit} to {wanted}, and alarm at {}",
                event.resource,
                (ALARM_AT * wanted).floor()
            ),
        ),
    };
    let sizing = match (ceiling, class) {
        (Some(top), Some(class)) => format!("; a {class} allows about {top} by RDS's default formula"),
        _ => "; the instance class's memory limit is unknown here: check it before applying".into(),
    };
    let threshold = (ALARM_AT * new_max).floor();
    let because = format!(
        "{}; twice the peak {} rounded up to 50 is {wanted}{sizing}; the alarm at 70 % of {new_max} is {threshold}",
        event.evidence, event.peak
    );
    let (cloudformation, terraform) = if plain(&event.resource) {
        (
            Some(alarm_cloudformation(&event.resource, threshold)),
            Some(connections_terraform(&event.resource, new_max, threshold)),
        )
    } else {
        (None, None)
    };
    vec![Recommendation {
        resource: event.resource.clone(),
        kind: "max-connections",
        action,
        because,
        cloudformation,
        terraform,
    }]
}

fn alarm_cloudformation(db: &str, threshold: f64) -> String {
    format!(
        "{id}ConnectionsAlarm:\n  Type: AWS::CloudWatch::Alarm\n  Properties:\n    AlarmName: {db}-connections-70pct\n    Namespace: AWS/RDS\n    MetricName: DatabaseConnections\n    Dimensions:\n      - Name: DBInstanceIdentifier\n        Value: {db}\n    Statistic: Maximum\n    Period: 60\n    EvaluationPeriods: 3\n    ComparisonOperator: GreaterThanOrEqualToThreshold\n    Threshold: {threshold}\n",
        id = pascal(db)
    )
}

fn connections_terraform(db: &str, max: f64, threshold: f64) -> String {
    let l = label(db);
    format!(
        "# In the parameter group {db} uses (a default group cannot change: copy it first).\nresource \"aws_db_parameter_group\" \"{l}\" {{\n  parameter {{\n    name         = \"max_connections\"\n    value        = \"{max}\"\n    apply_method = \"pending-reboot\"\n  }}\n}}\n\nresource \"aws_cloudwatch_metric_alarm\" \"{l}_connections\" {{\n  alarm_name          = \"{db}-connections-70pct\"\n  namespace           = \"AWS/RDS\"\n  metric_name         = \"DatabaseConnections\"\n  dimensions          = {{ DBInstanceIdentifier = \"{db}\" }}\n  statistic           = \"Maximum\"\n  period              = 60\n  evaluation_periods  = 3\n  comparison_operator = \"GreaterThanOrEqualToThreshold\"\n  threshold           = {threshold}\n}}\n"
    )
}

fn concurrency(event: &Event, concurrency: Option<&Signal>) -> Recommendation {
    let peak = concurrency.map(|s| s.samples.iter().map(|x| x.value).fold(0.0, f64::max)).filter(|p| *p > 0.0);
    let (action, because, terraform) = match peak {
        Some(peak) => {
            let reserve = (1.5 * peak).ceil();
            let terraform = plain(&event.resource).then(|| {
                format!(
                    "# In the aws_lambda_function for {}:\n  reserved_concurrent_executions = {reserve}\n",
                    event.resource
                )
            });
            (
                format!("reserve {reserve} concurrent executions for {}", event.resource),
                format!("{}; its peak concurrency was {peak}, and 1.5 times that is {reserve}", event.evidence),
                terraform,
            )
        }
        None => (
            format!("reserve concurrency for {} or ask for a higher account concurrency quota", event.resource),
            format!("{}; its ConcurrentExecutions were not in the evidence, so no number is given", event.evidence),
            None,
        ),
    };
    Recommendation {
        resource: event.resource.clone(),
        kind: "reserved-concurrency",
        action,
        because,
        cloudformation: None,
        terraform,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::correlate::{Role, Sample};

    fn event(resource: &str, peak: f64, limit: f64) -> Event {
        Event {
            at: chrono::Utc::now(),
            kind: "connection-pool-exhaustion",
            role: Role::Root,
            resource: resource.into(),
            peak,
            limit: Some(limit),
            evidence: format!("DatabaseConnections on {resource} reached {peak} of max_connections {limit}"),
        }
    }

    fn db(class: &str) -> Signal {
        Signal {
            measure: Measure::DbConnections,
            resource: "orders-db".into(),
            samples: vec![Sample { at: chrono::Utc::now(), value: 100.0 }],
            limit: Some(100.0),
            class: Some(class.into()),
            engine: Some("postgres".into()),
        }
    }

    #[test]
    fn a_pool_at_its_limit_gets_twice_its_peak_within_what_the_class_allows() {
        let r = &recommend(&[event("orders-db", 100.0, 100.0)], &[db("db.r6g.large")], &[], &[])[0];
        assert_eq!(r.action, "raise max_connections on orders-db from 100 to 200, and alarm at 140");
        assert!(r.because.contains("a db.r6g.large allows about 1802 by RDS's default formula"), "{}", r.because);
        let tf = r.terraform.as_deref().unwrap();
        hcl_edit::parser::parse_body(tf).expect("the Terraform parses");
        assert!(tf.contains("threshold           = 140") && tf.contains("value        = \"200\""), "{tf}");
        let cfn: serde_json::Value = yaml_serde::from_str(r.cloudformation.as_deref().unwrap()).unwrap();
        assert_eq!(cfn["OrdersDbConnectionsAlarm"]["Properties"]["Threshold"], 140.0);

        let small = &recommend(&[event("orders-db", 100.0, 100.0)], &[db("db.t3.micro")], &[], &[])[0];
        assert!(
            small
                .action
                .starts_with("raise max_connections on orders-db to 112 (the most a db.t3.micro's memory allows)"),
            "{}",
            small.action
        );
    }

    #[test]
    fn names_that_would_need_escaping_get_no_snippet() {
        let r = &recommend(&[event("db\"; rm -rf /", 100.0, 100.0)], &[], &[], &[])[0];
        assert!(r.terraform.is_none() && r.cloudformation.is_none());
        assert!(r.because.contains("memory limit is unknown"), "{}", r.because);
        assert!(recommend(&[], &[], &[], &[]).is_empty());
    }

    #[test]
    fn class_memory_follows_the_families() {
        assert_eq!(class_memory_gib("db.t3.medium"), Some(4.0));
        assert_eq!(class_memory_gib("db.m6i.2xlarge"), Some(32.0));
        assert_eq!(class_memory_gib("db.r7g.xlarge"), Some(32.0));
        assert_eq!(class_memory_gib("db.x2g.large"), None);
        assert_eq!(class_memory_gib("not a class"), None);
        assert_eq!(class_max_connections("db.t3.micro", Some("mysql")), Some(85.0));
    }
}
