//! Drift between the alert rules deployed and the SLOs they guard, and between the places the
//! same rule lives.
//!
//! - `threshold`: a rule's burn factor differs from the SLO's expected one for that window by more
//!   than the tolerance. Every accepted profile counts: a rule following Pyrra's 14x beside an SLO
//!   on the SRE Workbook's profile is not drift.
//! - `window`: a rule's long window is in no accepted profile of its SLO.
//! - `cross-source`: one rule (SLO, tenant, window) differs between two sources, e.g. CloudWatch
//!   5.2% against PagerDuty 4.8%: 8.33% drift, relative to the lower value.
//! - `stale-copy`: one source holds the same rule twice.
//! - `no-alert`: a tenant has an SLO and no alert at all (unless the SLO's spec has no alerting,
//!   which coverage shows instead); `missing-in-source`: a source alerts for most
//!   tenants of an SLO, and not for this one.
//! - `no-slo`: an alert on an SLI (a burn rate, an error ratio, a latency objective) or naming an
//!   SLO, that guards no known SLO. Alerts on anything else (CPU, memory, request volume) are
//!   infrastructure alerts: listed in the report, not drift.
//! - `inexpressible`: a window CloudWatch alarms cannot look back over (more than 7 days).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::policy::accepted_profiles;
use super::rules::{Rule, Source};
use super::spec::Slo;
use crate::units::format_duration;

/// CloudWatch alarms evaluate at most 7 days of data.
pub const CLOUDWATCH_MAX_LOOKBACK: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Threshold,
    Window,
    CrossSource,
    StaleCopy,
    NoAlert,
    MissingInSource,
    NoSlo,
    Inexpressible,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Threshold => "threshold",
            Kind::Window => "window",
            Kind::CrossSource => "cross-source",
            Kind::StaleCopy => "stale-copy",
            Kind::NoAlert => "no-alert",
            Kind::MissingInSource => "missing-in-source",
            Kind::NoSlo => "no-slo",
            Kind::Inexpressible => "inexpressible",
        }
    }
}

/// One drift.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub kind: Kind,
    pub slo: Option<String>,
    pub tenant: Option<String>,
    pub sources: Vec<Source>,
    /// The rules concerned, by origin.
    pub rules: Vec<String>,
    pub expected: Option<f64>,
    pub actual: Option<f64>,
    /// Relative difference, as a fraction (0.0833 for 8.33%).
    pub drift: Option<f64>,
    pub message: String,
}

/// A rule that guards an SLO, with what it was checked against.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub rule: Rule,
    pub slo: String,
    /// Its threshold as a burn factor and as an error ratio, under the SLO's objective.
    pub factor: Option<f64>,
    pub error_ratio: Option<f64>,
    /// The factor expected for its window, when one profile tier has that window.
    pub expected: Option<f64>,
    /// No drift found for this rule.
    pub valid: bool,
}

/// An SLO for one tenant, and whether its alerting holds.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub slo: String,
    pub tenant: Option<String>,
    pub rules: usize,
    pub sources: Vec<Source>,
    pub compliant: bool,
    /// The SLO's spec has no alerting: switched off (Sloth's `page_alert`/`ticket_alert` with
    /// `disable: true`) or a format without any (OpenSLO v1alpha). No alert is expected, and
    /// none is no drift.
    pub alerts_disabled: bool,
}

/// An alert that watches no SLI and names no SLO (CPU, memory, request volume): not an SLO
/// alert, so not checked against one.
#[derive(Debug, Clone, Serialize)]
pub struct OtherAlert {
    pub source: Source,
    pub name: String,
    pub tenant: Option<String>,
    pub measures: Option<String>,
    /// Who it pages, and how that escalates.
    pub target: Option<String>,
    pub origin: String,
}

/// A value a rule's source does not give here (a Terraform variable without a value, an
/// attribute known only after apply, a module from a registry): reported, not drift.
#[derive(Debug, Clone, Serialize)]
pub struct Unresolved {
    pub source: Source,
    pub name: String,
    /// The attribute, its expression and why it has no value.
    pub detail: String,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tolerance: f64,
    pub checked: Vec<Checked>,
    pub drifts: Vec<Drift>,
    pub coverage: Vec<Coverage>,
    pub other_alerts: Vec<OtherAlert>,
    pub unresolved: Vec<Unresolved>,
}

/// Lowercase with `-` for every separator: `checkout/availability` and `Checkout_Availability`
/// compare equal.
fn norm(text: &str) -> String {
    text.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The SLO a rule guards: by its `slo` label or tag (`service/name` or `service-name`), else by
/// its name holding `service-name`; the tenant's own SLO before one for every tenant.
fn link<'s>(rule: &Rule, slos: &'s [Slo]) -> Option<&'s Slo> {
    let key = |s: &Slo| norm(&format!("{}/{}", s.service, s.name));
    let candidates: Vec<&Slo> = match &rule.slo {
        Some(label) => {
            let label = norm(label);
            slos.iter().filter(|s| key(s) == label || norm(&s.name) == label).collect()
        }
        None => {
            let name = norm(&rule.name);
            slos.iter().filter(|s| name.contains(&key(s))).collect()
        }
    };
    let tenant = rule.tenant.as_deref();
    let one_tenant = |s: &&&Slo| s.tenant.is_some() && s.tenant.as_deref() == tenant;
    candidates
        .iter()
        .find(one_tenant)
        .or_else(|| candidates.iter().find(|s| s.tenant.is_none()))
        // A rule that names no tenant, for an SLO only one tenant has.
        .or_else(|| (tenant.is_none() && candidates.len() == 1).then(|| &candidates[0]))
        .copied()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.min(b).abs().max(f64::MIN_POSITIVE)
}

fn percent(f: f64) -> String {
    format!("{:.2}%", f * 100.0)
}

/// Check every rule against the SLOs and the other sources. `tenants` is who SLOs for every
/// tenant apply to (by default, every tenant a rule or an SLO names).
pub fn check(slos: &[Slo], rules: &[Rule], tolerance: f64, tenants: Option<&[String]>) -> Report {
    let mut drifts = Vec::new();
    let mut checked: Vec<Checked> = Vec::new();
    let mut other_alerts = Vec::new();
    let mut unresolved = Vec::new();
    for rule in rules {
        unresolved.extend(rule.unresolved.iter().map(|detail| Unresolved {
            source: rule.source,
            name: rule.name.clone(),
            detail: detail.clone(),
            origin: rule.origin.clone(),
        }));
        let linked = link(rule, slos);
        // A rule whose threshold its source does not give cannot be told apart from an
        // infrastructure alarm: it is listed with the unresolved values only.
        if linked.is_none() && rule.threshold.is_none() && !rule.unresolved.is_empty() {
            continue;
        }
        if linked.is_none() && !rule.alerts_on_sli() {
            other_alerts.push(OtherAlert {
                source: rule.source,
                name: rule.name.clone(),
                tenant: rule.tenant.clone(),
                measures: rule.measures.clone(),
                target: rule.target.clone(),
                origin: rule.origin.clone(),
            });
            continue;
        }
        let Some(slo) = linked else {
            drifts.push(Drift {
                kind: Kind::NoSlo,
                slo: rule.slo.clone(),
                tenant: rule.tenant.clone(),
                sources: vec![rule.source],
                rules: vec![rule.origin.clone()],
                expected: None,
                actual: None,
                drift: None,
                message: format!(
                    "{} alert {} guards no known SLO{}",
                    rule.source.name(),
                    rule.name,
                    rule.slo.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
                ),
            });
            continue;
        };
        let budget = slo.budget();
        let factor = rule.factor(budget);
        let mut c = Checked {
            rule: rule.clone(),
            slo: slo.id(),
            factor,
            error_ratio: rule.error_ratio(budget),
            expected: None,
            valid: true,
        };
        let mut flag = |kind, expected, actual, drift, message: String| {
            drifts.push(Drift {
                kind,
                slo: Some(slo.id()),
                tenant: rule.tenant.clone().or(slo.tenant.clone()),
                sources: vec![rule.source],
                rules: vec![rule.origin.clone()],
                expected,
                actual,
                drift,
                message,
            });
        };
        if rule.source.is_cloudwatch() && rule.long.is_some_and(|l| l > CLOUDWATCH_MAX_LOOKBACK) {
            c.valid = false;
            flag(
                Kind::Inexpressible,
                None,
                None,
                None,
                format!(
                    "{} alarm {} looks back {}: CloudWatch alarms evaluate at most 7 days",
                    rule.source.name(),
                    rule.name,
                    format_duration(rule.long.unwrap_or_default())
                ),
            );
        }
        if let Some(long) = rule.long {
            let own: Vec<_> = slo.profile.tiers.iter().filter(|t| t.long == long).collect();
            let accepted: Vec<_> = std::iter::once(slo.profile.clone())
                .chain(accepted_profiles(slo.period))
                .flat_map(|p| p.tiers)
                .filter(|t| t.long == long && rule.short.is_none_or(|s| s == t.short))
                .collect();
            if accepted.is_empty() {
                c.valid = false;
                flag(
                    Kind::Window,
                    None,
                    None,
                    None,
                    format!(
                        "{} alert {} looks back {}{}, which no accepted profile of {} uses",
                        rule.source.name(),
                        rule.name,
                        format_duration(long),
                        rule.short.map(|s| format!(" with a {} short window", format_duration(s))).unwrap_or_default(),
                        slo.id()
                    ),
                );
            } else if let Some(f) = factor {
                let expected = own.first().map(|t| t.factor).unwrap_or_else(|| {
                    accepted
                        .iter()
                        .map(|t| t.factor)
                        .min_by(|a, b| relative(f, *a).total_cmp(&relative(f, *b)))
                        .unwrap_or(f)
                });
                c.expected = Some(expected);
                // How far a factor is from the nearest one an accepted profile uses.
                let off_profile = |x: f64| accepted.iter().map(|t| relative(x, t.factor)).fold(f64::INFINITY, f64::min);
                if off_profile(f) > tolerance {
                    c.valid = false;
                    flag(
                        Kind::Threshold,
                        Some(expected),
                        Some(f),
                        Some(relative(f, expected)),
                        format!(
                            "{} alert {} fires at {:.4}x burn ({} errors) over {}; {} expects {:.4}x ({}): {} off, tolerance {}",
                            rule.source.name(),
                            rule.name,
                            f,
                            percent(f * budget),
                            format_duration(long),
                            slo.id(),
                            expected,
                            percent(expected * budget),
                            percent(relative(f, expected)),
                            percent(tolerance)
                        ),
                    );
                }
                // The short window's own comparison, when it has one: off the profile and off
                // the long window's factor is drift of its own, named by the window.
                if let (Some(fs), Some(short)) = (rule.short_factor(budget), rule.short)
                    && off_profile(fs) > tolerance
                    && relative(fs, f) > tolerance
                {
                    c.valid = false;
                    flag(
                        Kind::Threshold,
                        Some(expected),
                        Some(fs),
                        Some(relative(fs, expected)),
                        format!(
                            "{} alert {} fires at {:.4}x burn over its short window {} but {:.4}x over {}; {} expects {:.4}x over both: {} off, tolerance {}",
                            rule.source.name(),
                            rule.name,
                            fs,
                            format_duration(short),
                            f,
                            format_duration(long),
                            slo.id(),
                            expected,
                            percent(relative(fs, expected)),
                            percent(tolerance)
                        ),
                    );
                }
            }
        }
        checked.push(c);
    }

    // The same rule in several places: (SLO, tenant, long window) across and within sources.
    let mut groups: BTreeMap<(String, Option<String>, Option<Duration>), Vec<usize>> = BTreeMap::new();
    for (i, c) in checked.iter().enumerate() {
        groups.entry((c.slo.clone(), c.rule.tenant.clone(), c.rule.long)).or_default().push(i);
    }
    for ((slo, tenant, long), members) in &groups {
        let window = long.map(format_duration).unwrap_or_else(|| "?".into());
        // A tenant's own SLO already names the tenant in its id.
        let of_tenant = tenant.as_ref().filter(|_| !slo.contains('@')).map(|t| format!(" ({t})")).unwrap_or_default();
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                let (ra, rb) = (&checked[a], &checked[b]);
                let same_source = ra.rule.source == rb.rule.source;
                if same_source && ra.rule.severity == rb.rule.severity {
                    let stale = if ra.valid || !rb.valid { b } else { a };
                    checked[stale].valid = false;
                    let (ra, rb) = (&checked[a], &checked[b]);
                    drifts.push(Drift {
                        kind: Kind::StaleCopy,
                        slo: Some(slo.clone()),
                        tenant: tenant.clone(),
                        sources: vec![ra.rule.source],
                        rules: vec![ra.rule.origin.clone(), rb.rule.origin.clone()],
                        expected: ra.error_ratio,
                        actual: rb.error_ratio,
                        drift: ra.error_ratio.zip(rb.error_ratio).map(|(x, y)| relative(x, y)),
                        message: format!(
                            "{} holds two rules for {slo}{} over {window}: {} and {}; {} is a stale copy",
                            ra.rule.source.name(),
                            of_tenant,
                            ra.rule.name,
                            rb.rule.name,
                            checked[stale].rule.name
                        ),
                    });
                } else if !same_source
                    && let (Some(ea), Some(eb)) = (ra.error_ratio, rb.error_ratio)
                    && relative(ea, eb) > tolerance
                {
                    let d = relative(ea, eb);
                    drifts.push(Drift {
                        kind: Kind::CrossSource,
                        slo: Some(slo.clone()),
                        tenant: tenant.clone(),
                        sources: vec![ra.rule.source, rb.rule.source],
                        rules: vec![ra.rule.origin.clone(), rb.rule.origin.clone()],
                        expected: Some(ea),
                        actual: Some(eb),
                        drift: Some(d),
                        message: format!(
                            "{slo}{} over {window}: {} {} fires at {} errors, {} {} at {}: {} drift",
                            of_tenant,
                            ra.rule.source.name(),
                            ra.rule.name,
                            percent(ea),
                            rb.rule.source.name(),
                            rb.rule.name,
                            percent(eb),
                            percent(d)
                        ),
                    });
                }
            }
        }
    }

    // Who each SLO is for, and which of them have alerts, in which sources.
    let universe: Vec<String> = match tenants {
        Some(t) => t.to_vec(),
        None => {
            let mut all: BTreeSet<String> = rules.iter().filter_map(|r| r.tenant.clone()).collect();
            all.extend(slos.iter().filter_map(|s| s.tenant.clone()));
            all.into_iter().collect()
        }
    };
    // SLOs by what they measure (service/name), whether written per tenant or for all of them.
    let mut families: BTreeMap<String, Vec<&Slo>> = BTreeMap::new();
    for slo in slos {
        families.entry(format!("{}/{}", slo.service, slo.name)).or_default().push(slo);
    }
    let mut coverage = Vec::new();
    for (family, members) in &families {
        let mut tenants: Vec<Option<String>> = Vec::new();
        for slo in members {
            match &slo.tenant {
                Some(t) => tenants.push(Some(t.clone())),
                None if universe.is_empty() => tenants.push(None),
                None => tenants.extend(universe.iter().cloned().map(Some)),
            }
        }
        tenants.dedup();
        let ids: Vec<String> = members.iter().map(|s| s.id()).collect();
        let guarding: Vec<&Checked> = checked.iter().filter(|c| ids.contains(&c.slo)).collect();
        let sources_for_family: BTreeSet<Source> = guarding.iter().map(|c| c.rule.source).collect();
        // A source that alerts for most of the family's tenants is meant to cover them all.
        let covers_most = |source: &Source| {
            let covered: BTreeSet<&Option<String>> =
                guarding.iter().filter(|c| c.rule.source == *source).map(|c| &c.rule.tenant).collect();
            covered.contains(&None) || covered.len() * 2 > tenants.len()
        };
        for tenant in &tenants {
            let slo = members
                .iter()
                .find(|s| s.tenant.is_some() && s.tenant == *tenant)
                .or_else(|| members.iter().find(|s| s.tenant.is_none()))
                .expect("every tenant comes from a member");
            let mine: Vec<&&Checked> =
                guarding.iter().filter(|c| c.rule.tenant.is_none() || c.rule.tenant == *tenant).collect();
            let sources: BTreeSet<Source> = mine.iter().map(|c| c.rule.source).collect();
            let shown = tenant.as_ref().map(|t| format!(" for tenant {t}")).unwrap_or_default();
            let mut found = |kind, sources: Vec<Source>, expected, message: String| {
                drifts.push(Drift {
                    kind,
                    slo: Some(slo.id()),
                    tenant: tenant.clone(),
                    sources,
                    rules: Vec::new(),
                    expected,
                    actual: None,
                    drift: None,
                    message,
                });
            };
            // A spec that switches every alert off expects none.
            let alerts_disabled = slo.profile.tiers.is_empty();
            if mine.is_empty() && !alerts_disabled {
                found(
                    Kind::NoAlert,
                    Vec::new(),
                    None,
                    format!("{family}{shown} has an SLO and no alert in any source"),
                );
            } else if !mine.is_empty() {
                for missing in sources_for_family.difference(&sources).filter(|s| covers_most(s)) {
                    found(
                        Kind::MissingInSource,
                        vec![*missing],
                        None,
                        format!("{} alerts on {family} for most tenants, not{shown}", missing.name()),
                    );
                }
            }
            for tier in slo.profile.tiers.iter().filter(|t| t.long > CLOUDWATCH_MAX_LOOKBACK) {
                if let Some(cw) = sources.iter().find(|s| s.is_cloudwatch()) {
                    found(
                        Kind::Inexpressible,
                        vec![*cw],
                        Some(tier.factor),
                        format!(
                            "{family}{shown} needs a {} window, which a {} alarm cannot look back over (7 days at most)",
                            format_duration(tier.long),
                            cw.name()
                        ),
                    );
                }
            }
            let own_drift = drifts
                .iter()
                .any(|d| d.slo.as_deref() == Some(slo.id().as_str()) && (d.tenant == *tenant || d.tenant.is_none()));
            coverage.push(Coverage {
                slo: slo.id(),
                tenant: tenant.clone(),
                rules: mine.len(),
                sources: sources.into_iter().collect(),
                compliant: (!mine.is_empty() || alerts_disabled) && !own_drift,
                alerts_disabled,
            });
        }
    }
    drifts.sort_by(|a, b| {
        (a.slo.as_deref(), a.tenant.as_deref(), a.kind).cmp(&(b.slo.as_deref(), b.tenant.as_deref(), b.kind))
    });
    Report { tolerance, checked, drifts, coverage, other_alerts, unresolved }
}
