//! Alert rules as deployed, from every place they live, each read into one model: which SLO and
//! tenant it guards, over which windows, at which threshold (as a burn factor and as an error
//! ratio), with which comparison and evaluation, at which severity, notifying whom.

pub mod cloudformation;
pub mod cloudwatch;
pub mod describe_alarms;
pub mod pagerduty;
pub mod prometheus;
pub mod promql;
pub mod sql;
pub mod terraform;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Severity;
use super::serialize_duration_opt;

/// Where a rule was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Cloudwatch,
    Cloudformation,
    Terraform,
    Prometheus,
    Pagerduty,
    Sql,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Cloudwatch => "cloudwatch",
            Source::Cloudformation => "cloudformation",
            Source::Terraform => "terraform",
            Source::Prometheus => "prometheus",
            Source::Pagerduty => "pagerduty",
            Source::Sql => "sql",
        }
    }

    /// Sources whose rules become CloudWatch alarms, which look back at most 7 days.
    pub fn is_cloudwatch(self) -> bool {
        matches!(self, Source::Cloudwatch | Source::Cloudformation | Source::Terraform)
    }
}

/// How a rule states its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Threshold {
    /// A burn rate: 14.4.
    Burn(f64),
    /// An error ratio: 0.0144.
    Ratio(f64),
    /// An error percentage: 1.44.
    Percent(f64),
    /// A burn factor times a budget, as Sloth and Pyrra write it: `14.4 * 0.000999...`.
    FactorTimesBudget { factor: f64, budget: f64 },
}

impl Threshold {
    /// As a burn factor, given the SLO's error budget (`1 - objective`).
    pub fn factor(self, budget: f64) -> f64 {
        match self {
            Threshold::Burn(f) => f,
            Threshold::Ratio(r) => r / budget,
            Threshold::Percent(p) => p / 100.0 / budget,
            Threshold::FactorTimesBudget { factor, budget: own } => factor * own / budget,
        }
    }
}

/// One alert rule, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub source: Source,
    /// The file (with the resource or rule name) or the live account it was read from.
    pub origin: String,
    pub name: String,
    /// The SLO it guards (`service/name`), from its labels or tags, or matched by name later.
    pub slo: Option<String>,
    pub tenant: Option<String>,
    pub severity: Option<Severity>,
    #[serde(serialize_with = "serialize_duration_opt")]
    pub long: Option<Duration>,
    #[serde(serialize_with = "serialize_duration_opt")]
    pub short: Option<Duration>,
    pub threshold: Option<Threshold>,
    /// The short window's own threshold, when the rule compares each window separately (as
    /// Sloth and Pyrra write `(short > f*B) and (long > f*B)`); `threshold` is the long one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_threshold: Option<Threshold>,
    /// `>=`, `>`, `<=`, `<`.
    pub comparison: Option<String>,
    /// How many evaluations must breach: `3 of 5`, `for 2m`.
    pub evaluation: Option<String>,
    /// Who is notified: SNS topics, a receiver, an escalation policy.
    pub target: Option<String>,
    /// What it evaluates: the CloudWatch metric or metric-math expression, the PromQL
    /// expression, the PagerDuty condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measures: Option<String>,
    /// Values the source does not give here, each with its expression and why: a Terraform
    /// variable without a value, an attribute known only after `terraform apply`, a module
    /// from a registry. Reported with the rule; a rule without a threshold is not checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
}

impl Rule {
    pub fn new(source: Source, origin: String, name: String) -> Rule {
        Rule {
            source,
            origin,
            name,
            slo: None,
            tenant: None,
            severity: None,
            long: None,
            short: None,
            threshold: None,
            short_threshold: None,
            comparison: None,
            evaluation: None,
            target: None,
            measures: None,
            unresolved: Vec::new(),
        }
    }

    /// Whether the rule watches a service level indicator (a burn rate, an error or success
    /// ratio, a latency objective) or names an SLO, and so must guard a known SLO. A rule on
    /// CPU, memory, disk or request volume is an infrastructure alert: listed, not checked.
    pub fn alerts_on_sli(&self) -> bool {
        const SLI_WORDS: [&str; 14] = [
            "slo",
            "sli",
            "burn",
            "budget",
            "error",
            "5xx",
            "fault",
            "fail",
            "availab",
            "success",
            "latency",
            "duration",
            "responsetime",
            "apdex",
        ];
        // A burn rate read from evidence (a field or expression named for it, a declared kind);
        // Prometheus's bare numbers above 1 are only taken for burn rates, so they prove nothing.
        let proven_burn = matches!(self.threshold, Some(Threshold::Burn(_))) && self.source != Source::Prometheus;
        if self.slo.is_some() || proven_burn || matches!(self.threshold, Some(Threshold::FactorTimesBudget { .. })) {
            return true;
        }
        // Without a threshold it alerts on nothing that could be checked: routing, a service.
        if self.threshold.is_none() {
            return false;
        }
        let said = format!("{} {}", self.name, self.measures.as_deref().unwrap_or("")).to_ascii_lowercase();
        let compact: String = said.chars().filter(|c| !matches!(c, '_' | '-' | ' ' | '.')).collect();
        SLI_WORDS.iter().any(|w| compact.contains(w)) || said.contains("code=~\"5")
    }

    /// The threshold as a burn factor, given the SLO's error budget (`1 - objective`).
    pub fn factor(&self, budget: f64) -> Option<f64> {
        self.threshold.map(|t| t.factor(budget))
    }

    /// The short window's threshold as a burn factor, when it has its own.
    pub fn short_factor(&self, budget: f64) -> Option<f64> {
        self.short_threshold.map(|t| t.factor(budget))
    }

    /// The threshold as an error ratio, given the SLO's error budget.
    pub fn error_ratio(&self, budget: f64) -> Option<f64> {
        self.factor(budget).map(|f| f * budget)
    }
}

/// Every rule in a file, or in the files of a folder: CloudFormation templates (JSON or YAML),
/// Terraform (`.tf`, or `terraform show -json` output), Prometheus rule files and PagerDuty
/// exports, told apart by what they hold.
pub fn load_path(path: &std::path::Path) -> Result<Vec<Rule>, crate::slo::Error> {
    use crate::slo::Error;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        let rule_files: Vec<&std::path::PathBuf> = files
            .iter()
            .filter(|p| p.is_file())
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json" | "tf"))
            })
            .collect();
        if rule_files.is_empty() {
            return Err(Error::Invalid {
                origin: path.display().to_string(),
                message: "holds no rule files (.yaml, .yml, .json or .tf)".into(),
            });
        }
        let mut all = Vec::new();
        // A folder's `.tf` files are one module: variables in one file, resources in another.
        if rule_files.iter().any(|p| p.extension().is_some_and(|e| e == "tf")) {
            all.extend(terraform::from_folder(path).map_err(|m| Error::Invalid { origin: String::new(), message: m })?);
        }
        for file in rule_files.into_iter().filter(|p| p.extension().is_none_or(|e| e != "tf")) {
            all.extend(load_path(file)?);
        }
        return Ok(all);
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let origin = path.display().to_string();
    load_text(&text, &origin)
}

/// [`load_path`] for text; `origin` names it (and its extension says `.tf`).
pub fn load_text(text: &str, origin: &str) -> Result<Vec<Rule>, crate::slo::Error> {
    use crate::slo::Error;
    let invalid = |message: String| Error::Invalid { origin: origin.to_string(), message };
    if origin.ends_with(".tf") {
        return terraform::from_tf(text, origin).map_err(|m| Error::Invalid { origin: String::new(), message: m });
    }
    let docs =
        crate::slo::yaml::documents(text, origin).map_err(|m| Error::Invalid { origin: String::new(), message: m })?;
    if docs.len() == 1 && terraform::is_plan(&docs[0]) {
        return Ok(terraform::from_plan(&docs[0], origin));
    }
    if docs.len() == 1 && describe_alarms::is_describe_alarms(&docs[0]) {
        return Ok(describe_alarms::rules(&docs[0], origin));
    }
    if docs.len() == 1 && pagerduty::is_export(&docs[0]) {
        return Ok(pagerduty::rules(&docs[0], origin));
    }
    if cloudformation::is_template(&docs) {
        return Ok(cloudformation::rules(&docs, origin));
    }
    if prometheus::is_rule_file(&docs) {
        return prometheus::rules(&docs, origin).map_err(invalid);
    }
    Err(invalid(
        "not a CloudFormation template, Terraform file or plan, Prometheus rule file, PagerDuty export or aws cloudwatch describe-alarms output".into(),
    ))
}

/// A window named in a metric or recording-rule name: `ratio_rate5m`, `burnrate1h`, `rate_30m`.
pub fn window_in_name(name: &str) -> Option<Duration> {
    let lower = name.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    // The last run of digits followed by a unit letter and the end of the name (or `_`, `:`).
    let mut best = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let unit_end = bytes[i..].iter().position(|b| !b.is_ascii_alphabetic()).map_or(bytes.len(), |p| i + p);
            let unit = &lower[i..unit_end];
            if matches!(unit, "s" | "m" | "h" | "d" | "w") {
                best = crate::units::parse_duration(&lower[start..unit_end]).ok();
            }
            i = unit_end.max(i + 1);
            continue;
        }
        i += 1;
    }
    best
}

/// A number, or a string holding one (CloudFormation parameters and some Terraform values are strings).
pub(crate) fn number(v: &serde_json::Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// `GreaterThanOrEqualToThreshold` and friends as `>=`.
pub fn comparison_symbol(operator: &str) -> String {
    match operator {
        "GreaterThanOrEqualToThreshold" => ">=".into(),
        "GreaterThanThreshold" => ">".into(),
        "LessThanThreshold" => "<".into(),
        "LessThanOrEqualToThreshold" => "<=".into(),
        other => other.to_string(),
    }
}

/// A tenant named in labels, dimensions or tags under one of the usual keys.
pub fn tenant_key(key: &str) -> bool {
    matches!(key.to_ascii_lowercase().replace(['-', '_'], "").as_str(), "tenant" | "tenantid" | "customer" | "org")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_come_from_names_and_thresholds_convert() {
        assert_eq!(window_in_name("slo:sli_error:ratio_rate5m"), Some(Duration::from_secs(300)));
        assert_eq!(window_in_name("http_requests:burnrate1h"), Some(Duration::from_secs(3600)));
        assert_eq!(window_in_name("checkout-acme-burn-30m-page"), Some(Duration::from_secs(1800)));
        assert_eq!(window_in_name("api5xx"), None);
        let mut rule = Rule::new(Source::Prometheus, "r.yaml".into(), "x".into());
        rule.threshold = Some(Threshold::FactorTimesBudget { factor: 14.4, budget: 0.0009999999999999432 });
        assert!((rule.factor(0.001).unwrap() - 14.4).abs() < 1e-9);
        rule.threshold = Some(Threshold::Percent(5.2));
        assert!((rule.error_ratio(0.001).unwrap() - 0.052).abs() < 1e-12);
        assert_eq!(comparison_symbol("GreaterThanOrEqualToThreshold"), ">=");
        assert!(tenant_key("TenantId") && tenant_key("tenant_id") && !tenant_key("service"));
    }
}
