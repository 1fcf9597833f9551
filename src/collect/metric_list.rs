//! The metrics CloudWatch holds (ListMetrics, every page): which namespaces, metrics and
//! dimension values exist, the raw material of a per-tenant metric inventory.

use super::aws::{Aws, Error, call_error};

/// One metric series: a namespace, a metric name and its dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
}

/// Series listed before the account is refused as too large for one inventory: ask for a
/// namespace or prefix instead.
pub const MAX_SERIES: usize = 1_000_000;

/// Every series whose namespace starts with `prefix` (all with ""), every page of ListMetrics:
/// CloudWatch filters namespaces by whole name only, so the prefix is applied here.
pub async fn series(aws: &Aws, prefix: &str) -> Result<Vec<Series>, Error> {
    let client = aws.cloudwatch();
    let resource = if prefix.is_empty() { "(all namespaces)" } else { prefix };
    let mut pages = client.list_metrics().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListMetrics", resource, e))?;
        for m in page.metrics() {
            let namespace = m.namespace().unwrap_or_default();
            if !namespace.starts_with(prefix) {
                continue;
            }
            if out.len() == MAX_SERIES {
                return Err(Error::Input(format!(
                    "ListMetrics {resource}: more than {MAX_SERIES} series; give a narrower namespace prefix"
                )));
            }
            let dimensions = m
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
                .collect();
            out.push(Series {
                namespace: namespace.to_string(),
                metric: m.metric_name().unwrap_or_default().to_string(),
                dimensions,
            });
        }
    }
    Ok(out)
}
