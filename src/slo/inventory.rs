//! Which tenants have metrics in CloudWatch, which of them have alarms and which have an SLO: a
//! tenant with metrics and an SLO but no alarm on its metrics is drift (`missing-in-source`),
//! since the SLO promises an alert that CloudWatch does not hold.
//!
//! A tenant is named by a dimension of its metrics (`Tenant=acme`) or, where each tenant has a
//! namespace of its own (`Tenants/acme`), by what follows the namespace prefix.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::drift::{Drift, Kind};
use super::rules::Source;
use super::spec::Slo;
use crate::collect::aws::Alarm;
use crate::collect::metric_list::Series;

/// How tenants show in metric names.
#[derive(Debug, Clone)]
pub enum TenantBy {
    /// The value of this dimension.
    Dimension(String),
    /// The namespace's first segment after this prefix (`Tenants/` + `acme/...`).
    Namespace(String),
}

/// One tenant's metrics, alarms and SLOs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantMetrics {
    pub tenant: String,
    pub namespaces: Vec<String>,
    /// Distinct namespace/metric names.
    pub metrics: usize,
    pub series: usize,
    /// Alarms on a metric of this tenant (its dimension, or its namespace).
    pub alarms: Vec<String>,
    /// SLOs that apply to the tenant: its own, and those for every tenant.
    pub slos: Vec<String>,
    /// `covered` (alarms and an SLO), `missing-in-source` (an SLO, no alarm), `no-slo` (alarms
    /// on metrics no SLO covers) or `unguarded` (neither).
    pub status: &'static str,
}

impl TenantBy {
    fn tenant_of(&self, namespace: &str, dimensions: &[(String, String)]) -> Option<String> {
        match self {
            TenantBy::Dimension(name) => dimensions.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
            TenantBy::Namespace(prefix) => {
                let rest = namespace.strip_prefix(prefix.as_str())?;
                let tenant = rest.split('/').next().unwrap_or(rest);
                (!tenant.is_empty()).then(|| tenant.to_string())
            }
        }
    }

    /// The tenants an alarm watches: its own metric's, and each metric-math query's.
    fn tenants_of_alarm(&self, alarm: &Alarm) -> BTreeSet<String> {
        let own: Vec<(String, String)> = alarm
            .dimensions
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut tenants: BTreeSet<String> =
            self.tenant_of(alarm.namespace.as_deref().unwrap_or_default(), &own).into_iter().collect();
        for query in &alarm.queries {
            let namespace = alarm_query_namespace(alarm, &query.id).unwrap_or_default();
            tenants.extend(self.tenant_of(namespace, &query.dimensions));
        }
        tenants
    }
}

/// The namespace of a metric-math query, from the alarm's summary (`id: namespace/metric stat
/// period`), since the query keeps only the metric's name.
fn alarm_query_namespace<'a>(alarm: &'a Alarm, id: &str) -> Option<&'a str> {
    let summary = alarm.metrics.as_deref()?;
    let own = summary.split("; ").find_map(|q| q.strip_prefix(id)?.strip_prefix(": "))?;
    let path = own.split(' ').next()?;
    path.rsplit_once('/').map(|(namespace, _)| namespace)
}

/// The inventory, one row per tenant with metrics, sorted by tenant.
pub fn inventory(series: &[Series], by: &TenantBy, alarms: &[Alarm], slos: &[Slo]) -> Vec<TenantMetrics> {
    #[derive(Default)]
    struct Seen {
        namespaces: BTreeSet<String>,
        metrics: BTreeSet<(String, String)>,
        series: usize,
        alarms: BTreeSet<String>,
    }
    let mut by_tenant: BTreeMap<String, Seen> = BTreeMap::new();
    for s in series {
        if let Some(tenant) = by.tenant_of(&s.namespace, &s.dimensions) {
            let seen = by_tenant.entry(tenant).or_default();
            seen.namespaces.insert(s.namespace.clone());
            seen.metrics.insert((s.namespace.clone(), s.metric.clone()));
            seen.series += 1;
        }
    }
    for alarm in alarms {
        for tenant in by.tenants_of_alarm(alarm) {
            if let Some(seen) = by_tenant.get_mut(&tenant) {
                seen.alarms.insert(alarm.name.clone());
            }
        }
    }
    by_tenant
        .into_iter()
        .map(|(tenant, seen)| {
            let slos: Vec<String> = slos
                .iter()
                .filter(|s| s.tenant.as_deref().is_none_or(|t| t == tenant))
                .map(Slo::id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let status = match (seen.alarms.is_empty(), slos.is_empty()) {
                (false, false) => "covered",
                (true, false) => "missing-in-source",
                (false, true) => "no-slo",
                (true, true) => "unguarded",
            };
            TenantMetrics {
                tenant,
                namespaces: seen.namespaces.into_iter().collect(),
                metrics: seen.metrics.len(),
                series: seen.series,
                alarms: seen.alarms.into_iter().collect(),
                slos,
                status,
            }
        })
        .collect()
}

/// A `missing-in-source` drift for each tenant with metrics and an SLO but no alarm, unless the
/// drift check already names the tenant as without an alert (`known`).
pub fn drifts(inventory: &[TenantMetrics], known: &[Drift]) -> Vec<Drift> {
    let already = |tenant: &str| {
        known
            .iter()
            .any(|d| d.tenant.as_deref() == Some(tenant) && matches!(d.kind, Kind::NoAlert | Kind::MissingInSource))
    };
    inventory
        .iter()
        .filter(|t| t.status == "missing-in-source" && !already(&t.tenant))
        .map(|t| Drift {
            kind: Kind::MissingInSource,
            slo: Some(t.slos.join(", ")),
            tenant: Some(t.tenant.clone()),
            sources: vec![Source::Cloudwatch],
            rules: Vec::new(),
            expected: None,
            actual: None,
            drift: None,
            message: format!(
                "{} has {} metric(s) in CloudWatch ({}) and SLO(s) {}, but no CloudWatch alarm watches its metrics",
                t.tenant,
                t.metrics,
                t.namespaces.join(", "),
                t.slos.join(", ")
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(namespace: &str, metric: &str, dims: &[(&str, &str)]) -> Series {
        Series {
            namespace: namespace.into(),
            metric: metric.into(),
            dimensions: dims.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn tenants_by_namespace_or_dimension_and_each_status() {
        let all = [
            series("Tenants/acme", "Errors", &[]),
            series("Tenants/acme/api", "Latency", &[]),
            series("Tenants/globex", "Errors", &[]),
            series("Shop", "Errors", &[("Tenant", "initech")]),
            series("Tenants", "Errors", &[]),
        ];
        let by_ns = inventory(&all, &TenantBy::Namespace("Tenants/".into()), &[], &[]);
        let names: Vec<(&str, usize, &str)> = by_ns.iter().map(|t| (t.tenant.as_str(), t.metrics, t.status)).collect();
        assert_eq!(names, [("acme", 2, "unguarded"), ("globex", 1, "unguarded")]);
        let by_dim = inventory(&all, &TenantBy::Dimension("Tenant".into()), &[], &[]);
        assert_eq!(by_dim.len(), 1);
        assert_eq!(by_dim[0].tenant, "initech");
        assert!(inventory(&[], &TenantBy::Dimension("Tenant".into()), &[], &[]).is_empty());
    }

    #[test]
    fn a_tenant_with_an_slo_and_no_alarm_is_drift_once() {
        let row = |tenant: &str, status: &'static str| TenantMetrics {
            tenant: tenant.into(),
            namespaces: vec![format!("Tenants/{tenant}")],
            metrics: 2,
            series: 2,
            alarms: Vec::new(),
            slos: vec!["api/availability".into()],
            status,
        };
        let rows = [row("acme", "covered"), row("globex", "missing-in-source"), row("initech", "missing-in-source")];
        let known = drifts(&rows[2..], &[]);
        let found = drifts(&rows, &known);
        let tenants: Vec<_> = found.iter().map(|d| d.tenant.as_deref().unwrap_or_default()).collect();
        assert_eq!(tenants, ["globex"]);
        assert_eq!(
            found[0].message,
            "globex has 2 metric(s) in CloudWatch (Tenants/globex) and SLO(s) api/availability, but no CloudWatch alarm watches its metrics"
        );
    }
}
