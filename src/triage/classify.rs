//! Root causes of failed jobs: an ordered rule set (built in, documented in rules.toml, and
//! extensible by a team's own TOML) applied to each failed job's lines.

use super::line::{Level, LogLine, after_service_prefix};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::path::Path;

const BUILTIN: &str = include_str!("rules.toml");
/// Proving lines kept per job.
const PROOF_LINES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read rules {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("rules {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Whose fault a cause is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Code,
    Infrastructure,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::Infrastructure => "infrastructure",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default = "yes")]
    builtin: bool,
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    cause: String,
    kind: Kind,
    retry: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    hints: Vec<String>,
}

/// One rule: a cause and the patterns that prove it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub cause: String,
    pub kind: Kind,
    pub retry: bool,
    pub description: String,
    patterns: Vec<Regex>,
    hints: Vec<Regex>,
}

/// How much a matching line says: a pattern (a tool saying it failed and why) or a hint (a
/// line that only mentions the cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Pattern,
    Hint,
}

impl Rule {
    /// Whether the rule's patterns (or hints) match the line's text, or the text after a
    /// service's `name | ` prefix (so that `^fatal: ` holds there too).
    pub fn matches(&self, text: &str, evidence: Evidence) -> bool {
        let regexes = match evidence {
            Evidence::Pattern => &self.patterns,
            Evidence::Hint => &self.hints,
        };
        let message = after_service_prefix(text);
        regexes.iter().any(|p| p.is_match(text) || (message.len() != text.len() && p.is_match(message)))
    }
}

/// The ordered rules.
#[derive(Debug, Clone)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// The built-in rules.
    pub fn builtin() -> Rules {
        Rules(parse(BUILTIN, "built-in").expect("the built-in rules are valid").1)
    }

    /// A team's rules file, tried before the built-in rules unless it says `builtin = false`.
    pub fn with_file(path: &Path) -> Result<Rules, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        Self::with_text(&text, &path.display().to_string())
    }

    /// Like [`Rules::with_file`] with the TOML text itself.
    pub fn with_text(text: &str, origin: &str) -> Result<Rules, Error> {
        let (builtin, mut rules) = parse(text, origin)?;
        if builtin {
            rules.extend(Self::builtin().0);
        }
        Ok(Rules(rules))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }
}

fn parse(text: &str, origin: &str) -> Result<(bool, Vec<Rule>), Error> {
    let invalid = |message: String| Error::Invalid { origin: origin.to_string(), message };
    let file: RuleFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut rules = Vec::with_capacity(file.rule.len());
    for spec in file.rule {
        if spec.patterns.is_empty() && spec.hints.is_empty() {
            return Err(invalid(format!("rule {:?} has no patterns", spec.cause)));
        }
        // Patterns match one line at a time: ^ and $ are the line's ends.
        let compile = |list: &[String]| {
            list.iter()
                .map(|p| Regex::new(p).map_err(|e| invalid(format!("rule {:?}: pattern {p:?}: {e}", spec.cause))))
                .collect::<Result<Vec<_>, _>>()
        };
        let (patterns, hints) = (compile(&spec.patterns)?, compile(&spec.hints)?);
        rules.push(Rule {
            cause: spec.cause,
            kind: spec.kind,
            retry: spec.retry,
            description: spec.description,
            patterns,
            hints,
        });
    }
    Ok((file.builtin, rules))
}

/// A failed job's cause and the lines that prove it.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub job: String,
    pub source: String,
    /// The rule's cause; `other` when no rule matched but error lines say why (they are the
    /// proof), `unknown` when nothing does.
    pub cause: String,
    pub kind: Option<Kind>,
    pub retry: bool,
    pub description: String,
    /// Matching lines (at most five), else the error lines nearest the failure.
    pub proof: Vec<LogLine>,
    /// The first step that failed, when known.
    pub step: Option<String>,
    /// The last command the job ran before its first proving line (Jenkins `+ cmd`, CodeBuild
    /// `Running command cmd`), when the log shows it.
    pub command: Option<String>,
}

/// Jobs that failed, in order of first appearance: a failure marker (`Finished: FAILURE`, a
/// non-zero exit, `State: FAILED`) or, in logs without markers, an error line.
pub fn failed_jobs(lines: &[LogLine]) -> Vec<(String, Vec<&LogLine>)> {
    let mut jobs: Vec<(String, Vec<&LogLine>)> = Vec::new();
    for line in lines {
        match jobs.iter_mut().find(|(job, _)| *job == line.job) {
            Some((_, members)) => members.push(line),
            None => jobs.push((line.job.clone(), vec![line])),
        }
    }
    jobs.retain(|(_, members)| {
        let marked = members.iter().any(|l| l.failure);
        let markers_possible = members.iter().any(|l| is_marker_format(l));
        marked || (!markers_possible && members.iter().any(|l| l.level == Level::Error))
    });
    jobs
}

/// Formats whose jobs always end with a verdict line: their error lines alone do not fail a job.
fn is_marker_format(line: &LogLine) -> bool {
    line.text.starts_with("Finished: ")
        || line.text.starts_with("Phase complete: ")
        || line.text.starts_with("Process completed with exit code")
        || line.text.starts_with("ERROR: Job failed")
        || line.text.starts_with("Job succeeded")
}

/// Diagnose every failed job.
pub fn classify(lines: &[LogLine], rules: &Rules) -> Vec<Diagnosis> {
    failed_jobs(lines).into_iter().map(|(job, members)| diagnose(job, &members, rules)).collect()
}

/// The command a log shows being run by this line, if it is such a line.
fn command_of(line: &LogLine) -> Option<&str> {
    line.text.strip_prefix("+ ").or_else(|| line.text.strip_prefix("Running command ")).map(str::trim)
}

/// The last command run before `at` (the position of a line in `lines`).
fn command_before(lines: &[&LogLine], at: usize) -> Option<String> {
    lines[..=at.min(lines.len().saturating_sub(1))].iter().rev().find_map(|l| command_of(l)).map(str::to_string)
}

/// Where a job's cause is looked for, nearest the failure first: the output of the steps that
/// failed (parallel branches may fail together), then the job's output up to its first failure,
/// then all of it. Setup and the scripts a runner echoes (debug lines) are not output and never
/// prove a cause.
fn scopes<'a>(lines: &[&'a LogLine]) -> [Vec<&'a LogLine>; 3] {
    let output: Vec<&LogLine> = lines.iter().copied().filter(|l| l.level != Level::Debug).collect();
    let failed_steps: Vec<&String> = output.iter().filter(|l| l.failure).filter_map(|l| l.step.as_ref()).collect();
    let in_steps =
        output.iter().copied().filter(|l| l.step.as_ref().is_some_and(|s| failed_steps.contains(&s))).collect();
    let failed_at = output.iter().position(|l| l.failure);
    let before = output[..failed_at.map_or(output.len(), |at| at + 1)].to_vec();
    [in_steps, before, output]
}

/// The first rule (in order) with a line in `scope` that is such evidence, and its lines.
fn first_rule<'r>(scope: &[&LogLine], rules: &'r Rules, evidence: Evidence) -> Option<(&'r Rule, Vec<LogLine>)> {
    rules.0.iter().find_map(|rule| {
        let proof: Vec<LogLine> =
            scope.iter().filter(|l| rule.matches(&l.text, evidence)).take(PROOF_LINES).map(|l| (*l).clone()).collect();
        (!proof.is_empty()).then_some((rule, proof))
    })
}

/// Error lines that say something beyond the verdict itself (`Process completed with exit code`).
fn says_why(line: &LogLine) -> bool {
    line.level == Level::Error && !line.failure && !is_marker_format(line)
}

/// What a part of the log says about the failure: a rule's lines, else error lines no rule knows.
enum Found<'r> {
    Rule(&'r Rule, Vec<LogLine>),
    Other(Vec<LogLine>),
}

/// Search the parts of the log nearest the failure first; in each, patterns before hints, and
/// the failed step's own error lines before anything further away.
fn search<'r>(lines: &[&LogLine], rules: &'r Rules) -> Option<Found<'r>> {
    for (i, scope) in scopes(lines).iter().enumerate() {
        for evidence in [Evidence::Pattern, Evidence::Hint] {
            if let Some((rule, proof)) = first_rule(scope, rules, evidence) {
                return Some(Found::Rule(rule, proof));
            }
        }
        let said: Vec<LogLine> = scope.iter().copied().filter(|l| says_why(l)).take(PROOF_LINES).cloned().collect();
        // The failed step's words count at once; elsewhere, only when no rule matches anywhere.
        if i == 0 && !said.is_empty() {
            return Some(Found::Other(said));
        }
    }
    let output: Vec<&LogLine> = lines.iter().copied().filter(|l| says_why(l)).take(PROOF_LINES).collect();
    (!output.is_empty()).then(|| Found::Other(output.into_iter().cloned().collect()))
}

fn diagnose(job: String, lines: &[&LogLine], rules: &Rules) -> Diagnosis {
    let source = lines.first().map(|l| l.source.clone()).unwrap_or_default();
    let failed_step = lines
        .iter()
        .find(|l| l.failure)
        .or_else(|| lines.iter().find(|l| l.level == Level::Error))
        .and_then(|l| l.step.clone());
    let position = |line: &LogLine| lines.iter().position(|l| l.line == line.line && l.source == line.source);
    let (cause, kind, retry, description, proof) = match search(lines, rules) {
        Some(Found::Rule(rule, proof)) => {
            (rule.cause.as_str(), Some(rule.kind), rule.retry, rule.description.as_str(), proof)
        }
        Some(Found::Other(proof)) => {
            ("other", None, false, "No rule matched; the error lines nearest the failure are shown", proof)
        }
        None => ("unknown", None, false, "No rule matched and no line says why the job failed", Vec::new()),
    };
    let at = proof.first().and_then(position).or_else(|| lines.iter().position(|l| l.failure)).unwrap_or(0);
    let step = if kind.is_some() { proof.first().and_then(|l| l.step.clone()).or(failed_step) } else { failed_step };
    Diagnosis {
        job,
        source,
        cause: cause.to_string(),
        kind,
        retry,
        description: description.to_string(),
        proof,
        step,
        command: command_before(lines, at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_in_order() {
        let rules = Rules::builtin();
        let causes: Vec<&str> = rules.rules().iter().map(|r| r.cause.as_str()).collect();
        assert_eq!(causes.first(), Some(&"database-migration"));
        assert_eq!(causes.last(), Some(&"test-failure"));
        assert_eq!(causes.len(), 13);
    }

    #[test]
    fn team_rules_come_first_and_errors_name_the_rule() {
        let team =
            "[[rule]]\ncause = \"vault\"\nkind = \"infrastructure\"\nretry = true\npatterns = ['vault sealed']\n";
        let rules = Rules::with_text(team, "team.toml").unwrap();
        assert_eq!(rules.rules()[0].cause, "vault");
        assert_eq!(rules.rules().len(), 14);
        let only = Rules::with_text(&format!("builtin = false\n{team}"), "team.toml").unwrap();
        assert_eq!(only.rules().len(), 1);
        let bad = "[[rule]]\ncause = \"x\"\nkind = \"code\"\nretry = false\npatterns = ['(']\n";
        let err = Rules::with_text(bad, "team.toml").unwrap_err().to_string();
        assert!(err.starts_with("rules team.toml: rule \"x\": pattern \"(\""), "{err}");
        let err =
            Rules::with_text("[[rule]]\ncause = \"x\"\nkind = \"cosmic\"\nretry = false\npatterns = ['a']\n", "t")
                .unwrap_err()
                .to_string();
        assert!(err.contains("cosmic"), "{err}");
    }
}
