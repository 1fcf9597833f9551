//! Baselines of the deployed rules: each source's normalised rules canonicalised (RFC 8785) and
//! checksummed with BLAKE3, rule by rule and as a whole, so a later check names what changed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Error;
use super::rules::Rule;

pub const FORMAT: &str = "deployclaw-slo-baseline/1";

/// What a baseline file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format: String,
    pub created: String,
    /// Source name -> its checksum and its rules' checksums by key (`origin` of each rule).
    pub sources: BTreeMap<String, SourceSums>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSums {
    pub checksum: String,
    pub rules: BTreeMap<String, String>,
}

/// The BLAKE3 of a rule's canonical JSON.
pub fn rule_checksum(rule: &Rule) -> String {
    let value = serde_json::to_value(rule).expect("a rule serializes");
    blake3::hash(crate::jcs::canonicalize(&value).as_bytes()).to_hex().to_string()
}

/// A rule's key in a baseline: where it was read from (unique per rule within a source).
fn key(rule: &Rule) -> String {
    if rule.origin.ends_with(&rule.name) { rule.origin.clone() } else { format!("{} ({})", rule.origin, rule.name) }
}

/// Checksums of `rules`, per source.
pub fn compute(rules: &[Rule], created: &str) -> Baseline {
    let mut sources: BTreeMap<String, SourceSums> = BTreeMap::new();
    for rule in rules {
        let entry = sources
            .entry(rule.source.name().to_string())
            .or_insert_with(|| SourceSums { checksum: String::new(), rules: BTreeMap::new() });
        entry.rules.insert(key(rule), rule_checksum(rule));
    }
    for sums in sources.values_mut() {
        let value = serde_json::to_value(&sums.rules).expect("checksums serialize");
        sums.checksum = blake3::hash(crate::jcs::canonicalize(&value).as_bytes()).to_hex().to_string();
    }
    Baseline { format: FORMAT.into(), created: created.into(), sources }
}

/// Write a baseline, whole or not at all.
pub fn save(path: &Path, baseline: &Baseline) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(baseline).expect("a baseline serializes") + "\n";
    crate::paths::write_atomically(path, text.as_bytes())
        .map_err(|message| Error::Invalid { origin: String::new(), message })
}

pub fn read(path: &Path) -> Result<Baseline, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let invalid = |message: String| Error::Invalid { origin: path.display().to_string(), message };
    let baseline: Baseline = serde_json::from_str(&text).map_err(|e| invalid(format!("not a baseline: {e}")))?;
    if baseline.format != FORMAT {
        return Err(invalid(format!("format {:?}: this deployclaw reads {FORMAT}", baseline.format)));
    }
    Ok(baseline)
}

/// How one source changed since the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub source: String,
    /// `unchanged`, `changed`, `new` (not in the baseline) or `gone` (no rules now).
    pub status: &'static str,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// Compare the rules now with a baseline, source by source.
pub fn compare(saved: &Baseline, now: &Baseline) -> Vec<Change> {
    let names: std::collections::BTreeSet<&String> = saved.sources.keys().chain(now.sources.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let (old, new) = (saved.sources.get(name), now.sources.get(name));
            let empty = BTreeMap::new();
            let (o, n) = (old.map_or(&empty, |s| &s.rules), new.map_or(&empty, |s| &s.rules));
            let added: Vec<String> = n.keys().filter(|k| !o.contains_key(*k)).cloned().collect();
            let removed: Vec<String> = o.keys().filter(|k| !n.contains_key(*k)).cloned().collect();
            let changed: Vec<String> =
                n.iter().filter(|(k, v)| o.get(*k).is_some_and(|ov| ov != *v)).map(|(k, _)| k.clone()).collect();
            let status = match (old, new) {
                (None, _) => "new",
                (_, None) => "gone",
                (Some(a), Some(b)) if a.checksum == b.checksum => "unchanged",
                _ => "changed",
            };
            Change { source: name.clone(), status, added, removed, changed }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::rules::{Source, Threshold};

    fn rule(name: &str, threshold: f64) -> Rule {
        let mut r = Rule::new(Source::Prometheus, format!("rules.yaml#{name}"), name.into());
        r.threshold = Some(Threshold::Burn(threshold));
        r
    }

    #[test]
    fn a_changed_threshold_and_a_new_rule_are_named() {
        let before = compute(&[rule("fast", 14.4), rule("slow", 6.0)], "t0");
        let same = compute(&[rule("slow", 6.0), rule("fast", 14.4)], "t1");
        assert!(compare(&before, &same).iter().all(|c| c.status == "unchanged"), "order does not matter");
        let after = compute(&[rule("fast", 16.0), rule("slow", 6.0), rule("extra", 1.0)], "t2");
        let changes = compare(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].status, "changed");
        assert_eq!(changes[0].changed, ["rules.yaml#fast"]);
        assert_eq!(changes[0].added, ["rules.yaml#extra"]);
        assert_eq!(before.sources["prometheus"].checksum.len(), 64);
    }
}
