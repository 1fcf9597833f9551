//! The one SLO model every source is read into: what is measured (the SLI), the objective over
//! a rolling period, whose it is (service, and a tenant or every tenant), and how it alerts.

use std::time::Duration;

use serde::Serialize;

use super::policy::Profile;

/// How good and bad events are counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sli {
    /// Good (or bad) events over all events. The strings are the queries or metric names the
    /// source gave; burn rates read counts from a Frame's columns instead.
    Ratio { good: Option<String>, bad: Option<String>, total: Option<String> },
    /// Requests faster than a threshold are good.
    Latency { metric: Option<String>, threshold_ms: f64 },
}

/// One service level objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    pub service: String,
    pub name: String,
    /// The tenant it is for; `None` when it holds for every tenant.
    pub tenant: Option<String>,
    pub sli: Sli,
    /// The good fraction promised, e.g. 0.999.
    pub objective: f64,
    /// The rolling period the objective holds over.
    #[serde(serialize_with = "super::serialize_duration")]
    pub period: Duration,
    pub profile: Profile,
    pub description: Option<String>,
    /// Where it was read from: `slos.yaml#checkout-availability`, `slo_definitions row 3`.
    pub origin: String,
}

impl Slo {
    /// `service/name`, with `@tenant` when it is one tenant's.
    pub fn id(&self) -> String {
        match &self.tenant {
            Some(t) => format!("{}/{}@{t}", self.service, self.name),
            None => format!("{}/{}", self.service, self.name),
        }
    }

    /// The error budget as a fraction of events: `1 - objective`.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// Whether this SLO applies to `tenant`.
    pub fn applies_to(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
    }
}

/// An objective as people write it: `0.999`, or `99.9` (a percentage, as Sloth writes it). The
/// error names the SLO.
pub fn objective(value: f64, what: &str) -> Result<f64, String> {
    in_range(if value > 1.0 { from_percent(value) } else { value }, &value.to_string(), what)
}

/// `99.9` as `0.999`, not `0.9990000000000001`: percentages have at most a dozen decimals.
fn from_percent(value: f64) -> f64 {
    (value / 100.0 * 1e12).round() / 1e12
}

/// [`objective`] from text, which may end in `%`: `"99.9%"`, `"0.5%"`, `"0.999"`.
pub fn objective_text(text: &str, what: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = |n: &str| n.trim().parse::<f64>().map_err(|_| format!("{what}: objective {text:?} is not a number"));
    match t.strip_suffix('%') {
        Some(n) => in_range(from_percent(number(n)?), text, what),
        None => objective(number(t)?, what),
    }
}

fn in_range(fraction: f64, shown: &str, what: &str) -> Result<f64, String> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(fraction)
    } else {
        Err(format!("{what}: objective {shown} must be between 0 and 100% (exclusive), e.g. 0.999 or 99.9"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_read_as_fractions_or_percentages() {
        assert_eq!(objective(0.999, "x").unwrap(), 0.999);
        assert!((objective(99.9, "x").unwrap() - 0.999).abs() < 1e-12);
        assert!((objective_text("99.95%", "x").unwrap() - 0.9995).abs() < 1e-12);
        assert!((objective_text("0.5%", "x").unwrap() - 0.005).abs() < 1e-12);
        assert_eq!(objective_text("0.99", "x").unwrap(), 0.99);
        assert!(objective(100.0, "checkout").unwrap_err().starts_with("checkout: objective 100"));
        assert!(objective(0.0, "x").is_err());
        assert!(objective_text("high", "x").is_err());
    }
}
