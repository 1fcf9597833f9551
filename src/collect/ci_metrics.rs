//! The CloudWatch series a CI failure is lined up with: each RDS instance's DatabaseConnections
//! (Maximum, per minute) against its max_connections, each Lambda function's Throttles (Sum) and
//! ConcurrentExecutions (Maximum), each API Gateway API's 5XXError and Count (Sum).

use aws_sdk_cloudwatch::primitives::DateTime;

use super::aws::{self, Aws, Error};
use super::metric_list;
use crate::triage::correlate::{Measure, Sample, Signal};
use crate::triage::recommend::class_max_connections;

/// One sample a minute.
const PERIOD: i32 = 60;

/// Every signal in [start, end).
pub async fn signals(aws: &Aws, start: DateTime, end: DateTime) -> Result<Vec<Signal>, Error> {
    let mut out = Vec::new();
    for db in aws::rds_instances(aws).await? {
        let class = db.class.clone();
        // A parameter group that sets no number leaves RDS's default formula of the class.
        let limit = db
            .max_connections
            .map(|m| m as f64)
            .or_else(|| class.as_deref().and_then(|c| class_max_connections(c, db.engine.as_deref())));
        let dims = vec![vec![("DBInstanceIdentifier".to_string(), db.identifier.clone())]];
        let points = aws::metrics(aws, "AWS/RDS", "DatabaseConnections", &dims, start, end, PERIOD, "Maximum").await?;
        out.push(Signal {
            measure: Measure::DbConnections,
            resource: db.identifier,
            samples: samples(&points, 0),
            limit,
            class,
            engine: db.engine,
        });
    }
    for (namespace, dimension, metrics) in [
        ("AWS/Lambda", "FunctionName", [("Throttles", "Sum"), ("ConcurrentExecutions", "Maximum")]),
        ("AWS/ApiGateway", "ApiName", [("5XXError", "Sum"), ("Count", "Sum")]),
    ] {
        let listed = metric_list::series(aws, namespace).await?;
        for (metric, stat) in metrics {
            let Some(measure) = Measure::of(namespace, metric) else { continue };
            // The resource's own series: the one dimension, not a breakdown by stage or version.
            let mut resources: Vec<String> = listed
                .iter()
                .filter(|s| s.namespace == namespace && s.metric == metric)
                .filter_map(|s| match s.dimensions.as_slice() {
                    [(name, value)] if name == dimension => Some(value.clone()),
                    _ => None,
                })
                .collect();
            resources.sort();
            resources.dedup();
            let dims: Vec<aws::Dimensions> =
                resources.iter().map(|r| vec![(dimension.to_string(), r.clone())]).collect();
            let points = aws::metrics(aws, namespace, metric, &dims, start, end, PERIOD, stat).await?;
            for (i, resource) in resources.into_iter().enumerate() {
                out.push(Signal {
                    measure,
                    resource,
                    samples: samples(&points, i),
                    limit: None,
                    class: None,
                    engine: None,
                });
            }
        }
    }
    Ok(out)
}

fn samples(points: &[aws::Point], series: usize) -> Vec<Sample> {
    points
        .iter()
        .filter(|p| p.series == series)
        .filter_map(|p| {
            let at = chrono::DateTime::parse_from_rfc3339(&p.timestamp).ok()?.with_timezone(&chrono::Utc);
            Some(Sample { at, value: p.value })
        })
        .collect()
}
