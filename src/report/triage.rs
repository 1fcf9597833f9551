//! The CI-failure triage as a Markdown report: the verdict first (which tenants are over the
//! risk threshold), then causes with their proving lines, tenants, the cascade, the risk factors
//! and the playbooks written.

use super::table;
use crate::triage::audit::Triage;

/// What the report says about where it came from.
pub struct Context<'a> {
    pub sources: &'a [String],
    pub written_at: &'a str,
    pub threshold: u32,
    /// Playbook files, per tenant.
    pub playbooks: &'a [(String, String)],
}

pub fn markdown(triage: &Triage, context: &Context) -> String {
    let mut out = String::from("# CI failure triage\n\n");
    out += &format!("Written by deployclaw at {} from {}.\n\n", context.written_at, context.sources.join(", "));
    let over: Vec<String> = triage
        .risks
        .iter()
        .filter(|r| r.score > context.threshold)
        .map(|r| format!("{} ({})", r.tenant, r.score))
        .collect();
    out += &if over.is_empty() {
        format!("**No tenant is over the rollback-risk threshold of {}.**\n\n", context.threshold)
    } else {
        format!("**Over the rollback-risk threshold of {}: {}.**\n\n", context.threshold, over.join(", "))
    };
    if let Some(since) = &triage.since {
        out += &format!("The deploy began at {since} (rows written since then count as data at risk).\n\n");
    }

    out += "## Failed jobs\n\n";
    if triage.diagnoses.is_empty() {
        out += "No job failed.\n\n";
    }
    for d in &triage.diagnoses {
        let kind = d.kind.map_or("unknown", |k| k.name());
        let retry = if d.retry { "retry is likely to pass" } else { "a retry will not fix it" };
        out += &format!("### {}: {} ({kind}; {retry})\n\n", d.job, d.cause);
        if let Some(step) = &d.step {
            out += &format!("Step: {step}. ");
        }
        if let Some(command) = &d.command {
            out += &format!("Command: `{command}`. ");
        }
        out += &format!("{}.\n\n", d.description);
        out += "```text\n";
        for line in &d.proof {
            out += &format!("{}:{}: {}\n", line.source, line.line, line.text);
        }
        out += "```\n\n";
    }

    out += &aws_errors(triage);
    out += &timeline(triage);
    out += &recommendations(triage);

    out += "## Tenants\n\n";
    let rows: Vec<Vec<String>> = triage
        .tenants
        .iter()
        .map(|t| {
            vec![
                t.tenant.clone(),
                if t.affected { "yes".into() } else { "no".into() },
                t.status.clone(),
                t.detail.clone(),
                t.failed_jobs.join(", "),
            ]
        })
        .collect();
    out += &table(&["tenant", "affected", "migration", "detail", "failed jobs naming it"], &rows);
    out += "\n";

    if !triage.cascade.is_empty() || !triage.unplaced_jobs.is_empty() {
        out += "## Cascade\n\n";
        let rows: Vec<Vec<String>> = triage
            .cascade
            .iter()
            .map(|s| {
                vec![
                    s.order.to_string(),
                    s.service.clone(),
                    s.role.name().into(),
                    s.cause.clone().unwrap_or_default(),
                    s.roots.join(", "),
                    s.via.join(", "),
                    s.tenants.join(", "),
                ]
            })
            .collect();
        out += &table(&["order", "service", "role", "cause", "root", "via", "tenants"], &rows);
        if !triage.unplaced_jobs.is_empty() {
            out += &format!("\nJobs the service graph does not place: {}.\n", triage.unplaced_jobs.join(", "));
        }
        out += "\n";
    }

    out += "## Rollback risk\n\n";
    let rows: Vec<Vec<String>> =
        triage.risks.iter().map(|r| vec![r.tenant.clone(), r.score.to_string(), r.explain()]).collect();
    out += &table(&["tenant", "score", "factors"], &rows);
    out += "\n";

    if !context.playbooks.is_empty() {
        out += "## Playbooks\n\nEach runs dry unless `--execute`; every statement passes the tenant guard.\n\n";
        for (tenant, path) in context.playbooks {
            out += &format!("- {tenant}: `deployclaw run {path} -p DB_URL=...`\n");
        }
        out += "\n";
    }
    out
}

/// The metric timeline: the root first named, then every event in time order.
fn timeline(triage: &Triage) -> String {
    let Some(root) = triage.timeline.iter().find(|e| e.role == crate::triage::correlate::Role::Root) else {
        return String::new();
    };
    let mut out = format!(
        "## Root cause: {} on {}

{}.

",
        root.kind, root.resource, root.evidence
    );
    let rows: Vec<Vec<String>> = triage
        .timeline
        .iter()
        .map(|e| {
            let role = if e.role == crate::triage::correlate::Role::Root { "root" } else { "symptom" };
            vec![
                e.at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                role.into(),
                e.kind.into(),
                e.resource.clone(),
                e.evidence.clone(),
            ]
        })
        .collect();
    out += &table(&["at", "role", "what", "resource", "evidence"], &rows);
    out + "\n"
}

/// Each recommendation with the numbers behind it and, where there is one, its snippet.
fn recommendations(triage: &Triage) -> String {
    if triage.recommendations.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Recommendations\n\n");
    for r in &triage.recommendations {
        out += &format!("- **{}**: {}. Because: {}.\n", r.resource, r.action, r.because);
        for (language, snippet) in [("yaml", &r.cloudformation), ("hcl", &r.terraform)] {
            if let Some(snippet) = snippet {
                out += &format!("\n  ```{language}\n{}  ```\n", indent(snippet));
            }
        }
    }
    out + "\n"
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The AWS errors section: one row per kind, what it means and whether a retry helps, and who was
/// denied what.
fn aws_errors(triage: &Triage) -> String {
    if triage.aws_errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("## AWS errors\n\n");
    let rows: Vec<Vec<String>> = triage
        .aws_errors
        .iter()
        .map(|e| {
            let retry = match e.retry {
                Some(true) => "helps",
                Some(false) => "does not help",
                None => "unknown",
            };
            let what = match &e.denial {
                Some(d) => d.describe(),
                None => e.meaning.clone().unwrap_or_else(|| "not in the catalog".into()),
            };
            vec![
                e.code.clone(),
                e.service.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default(),
                e.cause.clone(),
                retry.into(),
                e.count.to_string(),
                e.jobs.join(", "),
                what,
            ]
        })
        .collect();
    out += &table(&["code", "service", "operation", "cause", "retry", "lines", "jobs", "what it means"], &rows);
    out += "\n";
    for e in &triage.aws_errors {
        if let Some(advice) = &e.advice {
            out += &format!("- **{}**: {advice}. First seen: `{}`\n", e.code, e.evidence);
        }
    }
    out + "\n"
}
