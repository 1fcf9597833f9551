//! The compliance attestation: every rule validated, every drift, every tenant confirmed
//! compliant, the baseline comparison and the rules' checksums, as one JSON document whose
//! BLAKE3 digest goes into the signed session log.

use serde::Serialize;

use super::baseline::{self, Baseline, Change};
use super::drift::{self, Checked, Coverage, Drift, OtherAlert, Unresolved};
use super::rules::Rule;
use super::spec::Slo;
use crate::units::format_duration;

pub const FORMAT: &str = "deployclaw-slo-attestation/1";

#[derive(Debug, Clone, Serialize)]
pub struct SloLine {
    pub id: String,
    pub objective: f64,
    pub period: String,
    pub profile: String,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attestation {
    pub format: &'static str,
    pub created: String,
    pub tolerance: f64,
    /// `compliant` when nothing drifted and nothing changed since the baseline, else `drift`.
    pub verdict: &'static str,
    pub slos: Vec<SloLine>,
    pub rules: Vec<Checked>,
    pub drifts: Vec<Drift>,
    pub coverage: Vec<Coverage>,
    /// Infrastructure alerts beside the SLO alerts: listed, not checked.
    pub other_alerts: Vec<OtherAlert>,
    /// Values the rules' sources do not give here: reported, not drift.
    pub unresolved: Vec<Unresolved>,
    /// Changes since the baseline, when one was given.
    pub baseline: Option<Vec<Change>>,
    /// The rules' checksums now, per source (RFC 8785 + BLAKE3).
    pub checksums: Baseline,
}

impl Attestation {
    pub fn compliant_tenants(&self) -> impl Iterator<Item = &Coverage> {
        self.coverage.iter().filter(|c| c.compliant)
    }

    pub fn baseline_changed(&self) -> bool {
        self.baseline.as_ref().is_some_and(|changes| changes.iter().any(|c| c.status != "unchanged"))
    }
}

/// Check `rules` against `slos` (and a saved baseline) and put it all in one attestation.
pub fn attest(
    slos: &[Slo],
    rules: &[Rule],
    tolerance: f64,
    tenants: Option<&[String]>,
    saved: Option<&Baseline>,
    created: &str,
) -> Attestation {
    let report = drift::check(slos, rules, tolerance, tenants);
    let checksums = baseline::compute(rules, created);
    let changes = saved.map(|b| baseline::compare(b, &checksums));
    let changed = changes.as_ref().is_some_and(|c| c.iter().any(|c| c.status != "unchanged"));
    Attestation {
        format: FORMAT,
        created: created.to_string(),
        tolerance,
        verdict: if report.drifts.is_empty() && !changed { "compliant" } else { "drift" },
        slos: slos
            .iter()
            .map(|s| SloLine {
                id: s.id(),
                objective: s.objective,
                period: format_duration(s.period),
                profile: s.profile.name.clone(),
                origin: s.origin.clone(),
            })
            .collect(),
        rules: report.checked,
        drifts: report.drifts,
        coverage: report.coverage,
        other_alerts: report.other_alerts,
        unresolved: report.unresolved,
        baseline: changes,
        checksums,
    }
}
