//! Rollback risk per tenant, 0 to 100, as the sum of documented factors. Rolling a tenant back
//! is risky when its schema is half-migrated (the old code meets a schema it does not know), when
//! its schema has drifted from the other tenants' (the down migration was written for a shape it
//! does not have), when it has taken writes since the deploy began (a rollback loses them or the
//! old code misreads them), and when many services downstream of the failure serve it.
//!
//! | factor | points |
//! |---|---|
//! | migration `failed` or `dirty` | 40 |
//! | migration `behind` (missing versions) | 25 |
//! | schema missing while the tenant is registered | 20 |
//! | schema drift | 5 per differing column, at most 20 |
//! | rows written since the deploy began | 10 for the first, +5 per factor of 10, at most 25 |
//! | downstream fan-out | 5 per impacted service serving the tenant, at most 15 |
//!
//! The maxima add up to 100, so the score needs no scaling and each point can be traced.

use serde::Serialize;

use super::migrations::{Status, TenantState};
use super::schema_state::{Drift, Written};

pub const MIGRATION_FAILED: u32 = 40;
pub const MIGRATION_BEHIND: u32 = 25;
pub const SCHEMA_MISSING: u32 = 20;
pub const DRIFT_PER_COLUMN: u32 = 5;
pub const DRIFT_MAX: u32 = 20;
pub const WRITES_FIRST: u32 = 10;
pub const WRITES_PER_DECADE: u32 = 5;
pub const WRITES_MAX: u32 = 25;
pub const FAN_OUT_PER_SERVICE: u32 = 5;
pub const FAN_OUT_MAX: u32 = 15;

/// What is known about one tenant.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    pub tenant: &'a str,
    pub migration: Option<&'a TenantState>,
    pub drift: Option<&'a Drift>,
    pub written: Option<&'a Written>,
    /// Impacted services downstream of a failure that serve this tenant.
    pub fan_out: &'a [String],
}

/// One reason for points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Factor {
    pub factor: &'static str,
    pub points: u32,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub tenant: String,
    pub score: u32,
    /// Every factor that scored, largest first.
    pub factors: Vec<Factor>,
}

impl Risk {
    /// The factors as one line: `migration +40 (V7 failed); writes +20 (120 rows)`.
    pub fn explain(&self) -> String {
        if self.factors.is_empty() {
            return "nothing raises the risk".into();
        }
        self.factors.iter().map(|f| format!("{} +{} ({})", f.factor, f.points, f.detail)).collect::<Vec<_>>().join("; ")
    }
}

/// Score one tenant.
pub fn score(evidence: &Evidence) -> Risk {
    let mut factors = Vec::new();
    if let Some(m) = evidence.migration {
        let points = match m.status {
            Status::Failed | Status::Dirty => MIGRATION_FAILED,
            Status::Behind => MIGRATION_BEHIND,
            Status::NoSchema => SCHEMA_MISSING,
            Status::Ok | Status::NoHistory => 0,
        };
        if points > 0 {
            factors.push(Factor { factor: "migration", points, detail: m.detail.clone() });
        }
    }
    if let Some(d) = evidence.drift.filter(|d| d.count > 0) {
        let points = (d.count as u32).saturating_mul(DRIFT_PER_COLUMN).min(DRIFT_MAX);
        let detail = format!("{} column(s) differ from {}: {}", d.count, d.reference, d.entries.join(", "));
        factors.push(Factor { factor: "schema-drift", points, detail });
    }
    if let Some(w) = evidence.written.filter(|w| w.rows > 0) {
        let decades = (w.rows as f64).log10().floor() as u32;
        let points = (WRITES_FIRST + WRITES_PER_DECADE * decades).min(WRITES_MAX);
        let tables: Vec<String> = w.tables.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        let detail = format!("{} row(s) written since {} ({})", w.rows, w.since, tables.join(", "));
        factors.push(Factor { factor: "data-written", points, detail });
    }
    if !evidence.fan_out.is_empty() {
        let points = (evidence.fan_out.len() as u32 * FAN_OUT_PER_SERVICE).min(FAN_OUT_MAX);
        let detail = format!("{} downstream service(s): {}", evidence.fan_out.len(), evidence.fan_out.join(", "));
        factors.push(Factor { factor: "fan-out", points, detail });
    }
    factors.sort_by_key(|f| std::cmp::Reverse(f.points));
    let score = factors.iter().map(|f| f.points).sum::<u32>().min(100);
    Risk { tenant: evidence.tenant.to_string(), score, factors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn factors_add_up_and_explain_themselves() {
        let written = Written {
            since: "2024-05-14T09:00:00+00:00".into(),
            rows: 120,
            tables: BTreeMap::from([("invoices.updated_at".into(), 120)]),
            unseen: vec![],
        };
        let drift = Drift { reference: "tenant_b".into(), count: 5, entries: vec!["+invoices.currency (text)".into()] };
        let fan = vec!["orders-fn".to_string(), "edge-api".to_string()];
        let risk = score(&Evidence {
            tenant: "acme",
            migration: None,
            drift: Some(&drift),
            written: Some(&written),
            fan_out: &fan,
        });
        // 120 rows: 10 + 5 * 2 = 20; drift 5 columns: min(25, 20) = 20; fan-out 2 services: 10.
        assert_eq!(risk.score, 50);
        assert_eq!(
            risk.factors.iter().map(|f| f.factor).collect::<Vec<_>>(),
            ["schema-drift", "data-written", "fan-out"]
        );
        assert!(risk.explain().starts_with("schema-drift +20 (5 column(s) differ from tenant_b"), "{}", risk.explain());
        let calm = score(&Evidence { tenant: "initech", ..Evidence::default() });
        assert_eq!((calm.score, calm.explain().as_str()), (0, "nothing raises the risk"));
    }

    #[test]
    fn the_maxima_make_a_hundred() {
        assert_eq!(MIGRATION_FAILED + DRIFT_MAX + WRITES_MAX + FAN_OUT_MAX, 100);
        let many = Written { since: "t".into(), rows: 10_000_000, ..Written::default() };
        let risk = score(&Evidence { tenant: "a", written: Some(&many), ..Evidence::default() });
        assert_eq!(risk.score, WRITES_MAX);
    }
}
