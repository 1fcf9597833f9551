//! The whole CI-failure triage: failed jobs and their causes, the tenants they touch (from the
//! logs and, with a database, from the schema registry and migration histories), the cascade over
//! the service graph, a rollback risk per tenant, and a playbook per affected tenant.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::aws::{self, AwsError, Catalog};
use super::cascade::{self, Failure, Graph, Step};
use super::classify::{self, Diagnosis, Rules};
use super::correlate::{self, Event, Signal};
use super::line::{Level, LogLine};
use super::mentions::{self, Patterns};
use super::migrations::{self, Registry, Status, TenantState};
use super::playbook::{self, Playbook};
use super::recommend::{self, Recommendation};
use super::risk::{self, Evidence, Risk};
use super::schema_state::{self, Columns, Drift, Written};
use crate::sql::db::{self, Database};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Migrations(#[from] migrations::Error),
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error(transparent)]
    Cascade(#[from] cascade::Error),
}

/// What the triage works from.
pub struct Input<'a> {
    pub lines: &'a [LogLine],
    pub rules: &'a Rules,
    pub patterns: &'a Patterns,
    /// The database and where its tenants are registered.
    pub database: Option<(&'a Database, &'a Registry)>,
    pub graph: Option<&'a Graph>,
    /// When the deploy began; by default the first timestamp of a failed job.
    pub since: Option<DateTime<Utc>>,
    /// The schema drift is measured against; by default the shape most tenants share.
    pub reference_schema: Option<&'a str>,
    /// Metric evidence beside the logs (CloudWatch series of databases, functions and APIs).
    pub signals: &'a [Signal],
}

/// One tenant as the triage sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub tenant: String,
    pub schema: Option<String>,
    pub registered: Option<bool>,
    /// The migration status, or `unknown` without a database.
    pub status: String,
    pub detail: String,
    pub latest_version: Option<String>,
    pub expected_version: Option<String>,
    pub failed_versions: Vec<String>,
    pub missing_versions: Vec<String>,
    /// Lines naming the tenant, in all logs.
    pub mentions: usize,
    /// Failed jobs with a warning or error line naming the tenant.
    pub failed_jobs: Vec<String>,
    /// The first such line: `source:line: text`.
    pub evidence: Option<String>,
    /// A migration problem, or named in a failed job's warning or error lines.
    pub affected: bool,
}

/// Everything the triage found.
#[derive(Debug, Clone, Serialize)]
pub struct Triage {
    pub diagnoses: Vec<Diagnosis>,
    pub tenants: Vec<Tenant>,
    pub cascade: Vec<Step>,
    /// Failed jobs the service graph does not place.
    pub unplaced_jobs: Vec<String>,
    pub risks: Vec<Risk>,
    pub playbooks: Vec<Playbook>,
    pub since: Option<String>,
    /// AWS errors in the logs, by kind, in order of first appearance.
    pub aws_errors: Vec<AwsError>,
    /// What the metric evidence shows, in time order, the root marked.
    pub timeline: Vec<Event>,
    /// What to change, each with the numbers it came from.
    pub recommendations: Vec<Recommendation>,
}

/// Run the triage.
pub async fn run(input: &Input<'_>) -> Result<Triage, Error> {
    let diagnoses = classify::classify(input.lines, input.rules);
    let failed: Vec<&str> = diagnoses.iter().map(|d| d.job.as_str()).collect();
    let since = input.since.or_else(|| first_time(input.lines, &failed));
    let states = match input.database {
        Some((db, registry)) => migrations::tenant_states(db, registry).await?,
        None => Vec::new(),
    };
    let tenants = merge(input.lines, input.patterns, &failed, &states);

    let (cascade, unplaced) = match input.graph {
        Some(graph) => {
            let mut failures = Vec::new();
            let mut unplaced = Vec::new();
            for d in &diagnoses {
                match graph.service_of_job(&d.job) {
                    Some(service) => failures.push(Failure {
                        service: service.name.clone(),
                        cause: d.cause.clone(),
                        job: d.job.clone(),
                    }),
                    None => unplaced.push(d.job.clone()),
                }
            }
            (cascade::cascade(graph, &failures)?, unplaced)
        }
        None => (Vec::new(), Vec::new()),
    };

    // What a rollback would have to undo, per tenant schema that exists.
    let mut columns: BTreeMap<String, Columns> = BTreeMap::new();
    let mut written: BTreeMap<String, Written> = BTreeMap::new();
    if let Some((db, _)) = input.database {
        for state in states.iter().filter(|s| s.schema_exists) {
            let schema = state.schema.clone().expect("an existing schema has a name");
            let cols = schema_state::columns(db, &schema).await?;
            if let Some(at) = since {
                written.insert(state.tenant.clone(), schema_state::written_since(db, &schema, &cols, at).await?);
            }
            columns.insert(schema, cols);
        }
    }
    let drift: BTreeMap<String, Drift> = schema_state::drift(&columns, input.reference_schema);

    let mut risks = Vec::new();
    let mut playbooks = Vec::new();
    for tenant in &tenants {
        let state = states.iter().find(|s| s.tenant == tenant.tenant);
        let fan_out = input.graph.map(|g| cascade::fan_out(&cascade, g, &tenant.tenant)).unwrap_or_default();
        let risk = risk::score(&Evidence {
            tenant: &tenant.tenant,
            migration: state,
            drift: tenant.schema.as_ref().and_then(|s| drift.get(s)),
            written: written.get(&tenant.tenant),
            fan_out: &fan_out,
        });
        if tenant.affected
            && let (Some(state), Some((db, _))) = (state, input.database)
        {
            playbooks.push(playbook::plan(db.dialect(), state, &risk, written.get(&tenant.tenant)));
        }
        risks.push(risk);
    }
    risks.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.tenant.cmp(&b.tenant)));
    let aws_errors = aws::scan(input.lines, Catalog::builtin()).errors;
    let timeline = correlate::timeline(input.signals);
    let recommendations = recommend::recommend(&timeline, input.signals, &diagnoses, &aws_errors);
    Ok(Triage {
        diagnoses,
        tenants,
        cascade,
        unplaced_jobs: unplaced,
        risks,
        playbooks,
        since: since.map(|t| t.to_rfc3339()),
        aws_errors,
        timeline,
        recommendations,
    })
}

/// The earliest timestamp in the lines of the failed jobs.
fn first_time(lines: &[LogLine], failed: &[&str]) -> Option<DateTime<Utc>> {
    lines
        .iter()
        .filter(|l| failed.contains(&l.job.as_str()))
        .filter_map(|l| l.timestamp.as_deref().and_then(schema_state::parse_time))
        .min()
}

/// Tenants from the logs and from the database, one row each, sorted by tenant.
pub fn merge(lines: &[LogLine], patterns: &Patterns, failed: &[&str], states: &[TenantState]) -> Vec<Tenant> {
    let mut by_tenant: BTreeMap<String, Tenant> = BTreeMap::new();
    for state in states {
        by_tenant.insert(
            state.tenant.clone(),
            Tenant {
                tenant: state.tenant.clone(),
                schema: state.schema.clone(),
                registered: state.registered,
                status: state.status.name().into(),
                detail: state.detail.clone(),
                latest_version: state.latest_version.clone(),
                expected_version: state.expected_version.clone(),
                failed_versions: state.failed_versions.clone(),
                missing_versions: state.missing_versions.clone(),
                mentions: 0,
                failed_jobs: Vec::new(),
                evidence: None,
                affected: state.status.is_problem() && state.status != Status::NoHistory,
            },
        );
    }
    let known = !states.is_empty();
    for mention in mentions::mentions(lines, patterns) {
        let tenant = by_tenant.entry(mention.tenant.clone()).or_insert_with(|| Tenant {
            tenant: mention.tenant.clone(),
            schema: patterns.schema_glob().map(|g| g.schema_of(&mention.tenant)),
            registered: None,
            status: if known { "not-in-registry".into() } else { "unknown".into() },
            detail: if known {
                "named in the logs, but the database has no such tenant".into()
            } else {
                "named in the logs; no database to check".into()
            },
            latest_version: None,
            expected_version: None,
            failed_versions: Vec::new(),
            missing_versions: Vec::new(),
            mentions: 0,
            failed_jobs: Vec::new(),
            evidence: None,
            affected: false,
        });
        tenant.mentions += 1;
        if failed.contains(&mention.job.as_str()) && mention.level >= Level::Warning {
            tenant.affected = true;
            if !tenant.failed_jobs.contains(&mention.job) {
                tenant.failed_jobs.push(mention.job.clone());
            }
            tenant.evidence.get_or_insert_with(|| format!("{}:{}: {}", mention.source, mention.line, mention.text));
        }
    }
    by_tenant.into_values().collect()
}
