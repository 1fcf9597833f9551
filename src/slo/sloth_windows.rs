//! Sloth's `AlertWindows` (`sloth.slok.dev/v1`): a custom SLO period and the four windows Sloth
//! generates alerts with for it, each as a share of the error budget spent over a long window
//! (checked over a short one too). Given to the checker, they are the profile of the Sloth SLOs
//! they were generated for, in place of Sloth's default (the SRE Workbook's) windows.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::policy::{Profile, Severity, Tier};
use super::spec::Slo;
use crate::units::parse_duration;

/// The period and the tiers of one AlertWindows file.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWindows {
    pub period: Duration,
    pub profile: Profile,
}

/// Read an AlertWindows file; the error names the file and what is wrong.
pub fn read_path(path: &Path) -> Result<AlertWindows, String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
    parse(&text, &origin)
}

/// Read an AlertWindows document.
pub fn parse(text: &str, origin: &str) -> Result<AlertWindows, String> {
    let docs = super::yaml::documents(text, origin)?;
    let doc = docs
        .iter()
        .find(|d| d["kind"] == "AlertWindows")
        .ok_or_else(|| format!("{origin}: no kind: AlertWindows document (sloth.slok.dev/v1)"))?;
    let spec = &doc["spec"];
    let duration = |v: &Value, field: &str| -> Result<Duration, String> {
        let text = v.as_str().ok_or_else(|| format!("{origin}: {field} is missing"))?;
        parse_duration(text).map_err(|e| format!("{origin}: {field}: {e}"))
    };
    let period = duration(&spec["sloPeriod"], "spec.sloPeriod")?;
    let mut tiers = Vec::with_capacity(4);
    for (severity, group) in [(Severity::Page, "page"), (Severity::Ticket, "ticket")] {
        for speed in ["quick", "slow"] {
            let w = &spec[group][speed];
            let at = format!("spec.{group}.{speed}");
            let percent = w["errorBudgetPercent"]
                .as_f64()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .ok_or_else(|| format!("{origin}: {at}.errorBudgetPercent must be a percentage above 0"))?;
            let long = duration(&w["longWindow"], &format!("{at}.longWindow"))?;
            let short = duration(&w["shortWindow"], &format!("{at}.shortWindow"))?;
            if long.is_zero() {
                return Err(format!("{origin}: {at}.longWindow must be longer than 0"));
            }
            // Spending `percent` of the budget in `long` is burning at period / long times that.
            let factor = percent / 100.0 * period.as_secs_f64() / long.as_secs_f64();
            tiers.push(Tier { severity, factor, long, short });
        }
    }
    Ok(AlertWindows { period, profile: Profile { name: "sloth-windows".into(), tiers } })
}

/// Give every Sloth SLO these windows and their period; the severities its spec switched off
/// stay off.
pub fn apply(slos: &mut [Slo], windows: &AlertWindows) {
    for slo in slos.iter_mut().filter(|s| s.profile.name == "sloth") {
        let enabled: Vec<Severity> = slo.profile.tiers.iter().map(|t| t.severity).collect();
        slo.period = windows.period;
        slo.profile = Profile {
            name: windows.profile.name.clone(),
            tiers: windows.profile.tiers.iter().filter(|t| enabled.contains(&t.severity)).cloned().collect(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEVEN_DAYS: &str = "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 7d\n  page:\n    quick: {errorBudgetPercent: 8, shortWindow: 5m, longWindow: 1h}\n    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 1d}\n    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 3d}\n";

    #[test]
    fn shares_of_the_budget_become_burn_factors() {
        let w = parse(SEVEN_DAYS, "7d.yaml").unwrap();
        assert_eq!(w.period, Duration::from_secs(7 * 86_400));
        let factors: Vec<f64> = w.profile.tiers.iter().map(|t| (t.factor * 1000.0).round() / 1000.0).collect();
        // 8 % of 168 h in 1 h, 12.5 % in 6 h, 20 % in 24 h, 42 % in 72 h.
        assert_eq!(factors, [13.44, 3.5, 1.4, 0.98]);
        assert_eq!(w.profile.tiers[0].short, Duration::from_secs(300));
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        assert!(parse("kind: Other\n", "w.yaml").unwrap_err().contains("no kind: AlertWindows"));
        let no_percent = SEVEN_DAYS.replace("errorBudgetPercent: 8,", "");
        assert!(parse(&no_percent, "w.yaml").unwrap_err().contains("spec.page.quick.errorBudgetPercent"));
        let zero = SEVEN_DAYS.replace("longWindow: 1h", "longWindow: 0s");
        assert!(parse(&zero, "w.yaml").unwrap_err().contains("longer than 0"));
    }
}
