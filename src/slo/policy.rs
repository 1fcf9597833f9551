//! Alerting profiles: multi-window, multi-burn-rate tiers, and the arithmetic of when each fires.
//!
//! A tier fires when the burn rate (error ratio / (1 - objective)) is at least its factor over
//! both its long window and its short window (1/12 of the long one in the SRE Workbook).
//! - The SRE Workbook's profile spends a fixed share of the budget per tier: 2% in 1h and 5% in
//!   6h page, 10% in 1d and 10% in 3d open a ticket. Its factors follow from the period: 14.4, 6,
//!   3 and 1 for 30 days, 13.44, 5.6, 2.8 and 0.933 for 28 days.
//! - Pyrra keeps the factors (14, 7, 2, 1) and scales the windows with the period: 1h/5m, 6h/30m,
//!   1d/2h and 4d/6h for 28 days.

use std::time::Duration;

use serde::Serialize;

/// Who an alert goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }

    /// `page`, `critical`, `ticket`, `warning` and the words tools use for them.
    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "page" | "critical" | "high" | "p1" | "p2" | "error" => Some(Severity::Page),
            "ticket" | "warning" | "low" | "medium" | "p3" | "p4" | "p5" | "info" => Some(Severity::Ticket),
            _ => None,
        }
    }
}

/// One tier of a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier {
    pub severity: Severity,
    /// The burn rate that fires it.
    pub factor: f64,
    #[serde(serialize_with = "super::serialize_duration")]
    pub long: Duration,
    #[serde(serialize_with = "super::serialize_duration")]
    pub short: Duration,
}

impl Tier {
    /// The error ratio that fires the tier: `factor * (1 - objective)`.
    pub fn error_ratio(&self, objective: f64) -> f64 {
        self.factor * (1.0 - objective)
    }

    /// The share of a period's budget spent before the tier fires, at any burn rate that fires it.
    pub fn budget_spent(&self, period: Duration) -> f64 {
        self.factor * self.long.as_secs_f64() / period.as_secs_f64()
    }
}

/// A named set of tiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub tiers: Vec<Tier>,
}

const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

impl Profile {
    /// The SRE Workbook's four tiers for `period`.
    pub fn sre_workbook(period: Duration) -> Profile {
        let tier = |severity, share: f64, long: u64, short: u64| Tier {
            severity,
            factor: share * period.as_secs_f64() / long as f64,
            long: Duration::from_secs(long),
            short: Duration::from_secs(short),
        };
        Profile {
            name: "sre-workbook".into(),
            tiers: vec![
                tier(Severity::Page, 0.02, HOUR, 5 * 60),
                tier(Severity::Page, 0.05, 6 * HOUR, 30 * 60),
                tier(Severity::Ticket, 0.10, DAY, 2 * HOUR),
                tier(Severity::Ticket, 0.10, 3 * DAY, 6 * HOUR),
            ],
        }
    }

    /// Pyrra's four tiers for `period`: fixed factors, windows scaled from a 28-day period and
    /// rounded to the minute.
    pub fn pyrra(period: Duration) -> Profile {
        let scale = period.as_secs_f64() / (28 * DAY) as f64;
        let window = |secs: u64| Duration::from_secs(((secs as f64 * scale / 60.0).round() as u64).max(1) * 60);
        let tier = |severity, factor, long, short| Tier { severity, factor, long: window(long), short: window(short) };
        Profile {
            name: "pyrra".into(),
            tiers: vec![
                tier(Severity::Page, 14.0, HOUR, 5 * 60),
                tier(Severity::Page, 7.0, 6 * HOUR, 30 * 60),
                tier(Severity::Ticket, 2.0, DAY, 2 * HOUR),
                tier(Severity::Ticket, 1.0, 4 * DAY, 6 * HOUR),
            ],
        }
    }

    /// A profile by name (`sre-workbook`, `google`, `sloth`, `pyrra`) for `period`.
    pub fn named(name: &str, period: Duration) -> Option<Profile> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sre-workbook" | "sre" | "google" | "sloth" | "default" => Some(Profile::sre_workbook(period)),
            "pyrra" => Some(Profile::pyrra(period)),
            _ => None,
        }
    }

    pub const NAMES: &'static str = "sre-workbook (also google, sloth), pyrra";

    /// Every shorter window the profile needs, and every long one, once each, shortest first.
    pub fn windows(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self.tiers.iter().flat_map(|t| [t.short, t.long]).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The profiles a deployed rule may follow without being drift: each named one for the period.
pub fn accepted_profiles(period: Duration) -> Vec<Profile> {
    vec![Profile::sre_workbook(period), Profile::pyrra(period)]
}

/// How long after errors start at `error_ratio` (from none) a tier fires, or `None` when that
/// ratio never fires it. The long window's ratio grows as `error_ratio * t / long`, so the tier
/// fires at `factor * long / burn` once the burn rate reaches the factor.
pub fn detection_time(objective: f64, error_ratio: f64, tier: &Tier) -> Option<Duration> {
    let burn = error_ratio / (1.0 - objective);
    (reaches(burn, tier.factor) && burn > 0.0)
        .then(|| {
            Duration::try_from_secs_f64((tier.factor * tier.long.as_secs_f64() / burn).min(tier.long.as_secs_f64()))
        })
        .and_then(Result::ok)
}

/// Whether a burn rate reaches a factor, with room for the rounding of `0.0144 / 0.001`.
pub fn reaches(burn: f64, factor: f64) -> bool {
    burn >= factor * (1.0 - 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(p: &Profile) -> Vec<f64> {
        p.tiers.iter().map(|t| (t.factor * 1000.0).round() / 1000.0).collect()
    }

    #[test]
    fn the_workbook_scales_factors_and_pyrra_scales_windows() {
        assert_eq!(factors(&Profile::sre_workbook(Duration::from_secs(30 * DAY))), [14.4, 6.0, 3.0, 1.0]);
        assert_eq!(factors(&Profile::sre_workbook(Duration::from_secs(28 * DAY))), [13.44, 5.6, 2.8, 0.933]);
        let pyrra = Profile::pyrra(Duration::from_secs(28 * DAY));
        assert_eq!(factors(&pyrra), [14.0, 7.0, 2.0, 1.0]);
        assert_eq!(pyrra.tiers[3].long, Duration::from_secs(4 * DAY));
        let pyrra30 = Profile::pyrra(Duration::from_secs(30 * DAY));
        assert_eq!(pyrra30.tiers[0].long, Duration::from_secs(64 * 60), "1h scaled by 30/28, to the minute");
        let workbook = Profile::sre_workbook(Duration::from_secs(30 * DAY));
        assert_eq!(workbook.windows().len(), 7, "6h is a long window and a short one");
        assert!((workbook.tiers[0].budget_spent(Duration::from_secs(30 * DAY)) - 0.02).abs() < 1e-12);
    }

    #[test]
    fn detection_time_follows_the_burn_rate() {
        let tier = &Profile::sre_workbook(Duration::from_secs(30 * DAY)).tiers[0];
        // A 100% outage of a 99.9% SLO burns at 1000x: 14.4 * 1h / 1000 = 51.84 s.
        let t = detection_time(0.999, 1.0, tier).unwrap();
        assert!((t.as_secs_f64() - 51.84).abs() < 1e-6, "{t:?}");
        // At exactly the threshold it takes the whole long window.
        let t = detection_time(0.999, 0.0144, tier).unwrap();
        assert!((t.as_secs_f64() - 3600.0).abs() < 1e-6);
        assert_eq!(detection_time(0.999, 0.01, tier), None, "a 10x burn never pages at 14.4x");
        assert_eq!(Severity::parse("critical"), Some(Severity::Page));
    }
}
