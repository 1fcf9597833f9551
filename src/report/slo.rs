//! The error-budget attestation as Markdown: the verdict first, then every drift, the tenants
//! confirmed compliant, the rules validated, the baseline and the checksums.

use super::table;
use crate::slo::attest::Attestation;
use crate::units::format_duration;

fn percent(f: f64) -> String {
    format!("{:.3}%", f * 100.0)
}

pub fn markdown(a: &Attestation, digest: &str) -> String {
    let mut out = String::from("# Error-budget attestation\n\n");
    out += &format!(
        "Written by deployclaw at {}. Tolerance {}. Attestation digest (BLAKE3 of the JSON): `{digest}`.\n\n",
        a.created,
        percent(a.tolerance)
    );
    let compliant = a.compliant_tenants().count();
    out += &if a.verdict == "compliant" {
        format!(
            "**Compliant**: {} rules validated, {compliant} SLO-tenant pairs confirmed, no drift.\n\n",
            a.rules.len()
        )
    } else {
        format!(
            "**Drift**: {} finding(s){}; {compliant} of {} SLO-tenant pairs confirmed compliant.\n\n",
            a.drifts.len(),
            if a.baseline_changed() { ", and rules changed since the baseline" } else { "" },
            a.coverage.len()
        )
    };
    if !a.drifts.is_empty() {
        out += "## Drift\n\n";
        let rows: Vec<Vec<String>> = a
            .drifts
            .iter()
            .map(|d| {
                vec![
                    d.kind.name().into(),
                    d.slo.clone().unwrap_or_default(),
                    d.tenant.clone().unwrap_or_default(),
                    d.sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
                    d.drift.map(percent).unwrap_or_default(),
                    d.message.clone(),
                ]
            })
            .collect();
        out += &table(&["kind", "slo", "tenant", "sources", "drift", "what"], &rows);
        out += "\n";
    }
    out += "## Tenants\n\n";
    let rows: Vec<Vec<String>> = a
        .coverage
        .iter()
        .map(|c| {
            vec![
                c.slo.clone(),
                c.tenant.clone().unwrap_or_else(|| "(every tenant)".into()),
                c.rules.to_string(),
                c.sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
                match (c.compliant, c.alerts_disabled) {
                    (true, true) => "no alerting in the spec".into(),
                    (true, false) => "compliant".into(),
                    (false, _) => "not compliant".into(),
                },
            ]
        })
        .collect();
    out += &table(&["slo", "tenant", "rules", "sources", "status"], &rows);
    if !a.other_alerts.is_empty() {
        out += "\n## Other alerts (no SLI, not checked)\n\n";
        let rows: Vec<Vec<String>> = a
            .other_alerts
            .iter()
            .map(|o| {
                vec![
                    o.source.name().into(),
                    o.name.clone(),
                    o.tenant.clone().unwrap_or_default(),
                    o.measures.clone().unwrap_or_default(),
                    o.target.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out += &table(&["source", "alert", "tenant", "measures", "pages"], &rows);
    }
    if !a.unresolved.is_empty() {
        out += "\n## Unresolved values (not known from their source, not checked)\n\n";
        let rows: Vec<Vec<String>> =
            a.unresolved.iter().map(|u| vec![u.source.name().into(), u.name.clone(), u.detail.clone()]).collect();
        out += &table(&["source", "rule", "value"], &rows);
    }
    out += "\n## Rules checked\n\n";
    let rows: Vec<Vec<String>> = a
        .rules
        .iter()
        .map(|c| {
            vec![
                c.rule.source.name().into(),
                c.rule.name.clone(),
                c.slo.clone(),
                c.rule.tenant.clone().unwrap_or_default(),
                c.rule.long.map(format_duration).unwrap_or_default(),
                c.factor.map(|f| format!("{f:.3}")).unwrap_or_default(),
                c.expected.map(|f| format!("{f:.3}")).unwrap_or_default(),
                if c.valid { "valid".into() } else { "drift".into() },
            ]
        })
        .collect();
    out += &table(&["source", "rule", "slo", "tenant", "window", "burn factor", "expected", "status"], &rows);
    if let Some(changes) = &a.baseline {
        out += "\n## Since the baseline\n\n";
        let rows: Vec<Vec<String>> = changes
            .iter()
            .map(|c| {
                vec![c.source.clone(), c.status.into(), c.changed.join(", "), c.added.join(", "), c.removed.join(", ")]
            })
            .collect();
        out += &table(&["source", "status", "changed", "added", "removed"], &rows);
    }
    out += "\n## Checksums (RFC 8785 canonical JSON, BLAKE3)\n\n";
    let rows: Vec<Vec<String>> = a
        .checksums
        .sources
        .iter()
        .map(|(s, sums)| vec![s.clone(), sums.rules.len().to_string(), format!("`{}`", sums.checksum)])
        .collect();
    out += &table(&["source", "rules", "checksum"], &rows);
    out
}
