//! CodeBuild builds as a build-log source: which build (one named, or the project's latest that
//! did not succeed), its phases with their context codes, and its log from CloudWatch Logs.

use serde::Serialize;

use super::aws::{Aws, Error, call_error};

/// Builds looked through for the latest that did not succeed.
pub const RECENT: usize = 100;
/// Log events read from one build's stream before the rest is left out.
pub const MAX_EVENTS: usize = 2_000_000;
/// Bytes of one build's log kept before the rest is left out (as a log file's reader would).
pub const MAX_BYTES: usize = 512 << 20;

/// One phase of a build and why it ended as it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub kind: String,
    pub status: Option<String>,
    pub seconds: Option<i64>,
    /// (status code, message) pairs, such as `COMMAND_EXECUTION_ERROR`.
    pub contexts: Vec<(String, String)>,
}

/// A build, as BatchGetBuilds describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Build {
    pub id: String,
    pub project: String,
    pub number: Option<i64>,
    pub status: String,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub source_version: Option<String>,
    pub phases: Vec<Phase>,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
}

impl Build {
    /// The job name the triage gives its lines: `PROJECT#NUMBER`, or the build id.
    pub fn job(&self) -> String {
        self.number.map_or_else(|| self.id.clone(), |n| format!("{}#{n}", self.project))
    }

    /// The build's phases in CodeBuild's own log words, for a build whose log is missing (it
    /// failed before logging began, or its logs went elsewhere).
    pub fn phase_lines(&self) -> String {
        let mut text = String::new();
        for phase in &self.phases {
            let Some(status) = &phase.status else { continue };
            text.push_str(&format!("[Container] Phase complete: {} State: {status}\n", phase.kind));
            for (code, message) in &phase.contexts {
                text.push_str(&format!("[Container] Phase context status code: {code} Message: {message}\n"));
            }
        }
        text
    }
}

fn time(t: Option<&aws_sdk_codebuild::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_sdk_codebuild::primitives::DateTimeFormat::DateTime).ok())
}

fn build_of(b: &aws_sdk_codebuild::types::Build) -> Build {
    let phases = b
        .phases()
        .iter()
        .map(|p| Phase {
            kind: p.phase_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            status: p.phase_status().map(|s| s.as_str().to_string()),
            seconds: p.duration_in_seconds(),
            contexts: p
                .contexts()
                .iter()
                .filter(|c| c.status_code().is_some_and(|s| !s.is_empty()))
                .map(|c| (c.status_code().unwrap_or_default().to_string(), c.message().unwrap_or_default().to_string()))
                .collect(),
        })
        .collect();
    let logs = b.logs();
    Build {
        id: b.id().unwrap_or_default().to_string(),
        project: b.project_name().unwrap_or_default().to_string(),
        number: b.build_number(),
        status: b.build_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        started: time(b.start_time()),
        ended: time(b.end_time()),
        source_version: b.resolved_source_version().or(b.source_version()).map(str::to_string),
        phases,
        log_group: logs.and_then(|l| l.group_name()).filter(|g| !g.is_empty() && *g != "null").map(str::to_string),
        log_stream: logs.and_then(|l| l.stream_name()).filter(|s| !s.is_empty() && *s != "null").map(str::to_string),
    }
}

/// The builds with these ids (BatchGetBuilds, 100 a call); an id CodeBuild does not know is an
/// error naming it.
pub async fn builds(aws: &Aws, ids: &[String]) -> Result<Vec<Build>, Error> {
    let client = aws.codebuild();
    let mut out = Vec::new();
    for chunk in ids.chunks(100) {
        let answer = client
            .batch_get_builds()
            .set_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| call_error("BatchGetBuilds", &chunk.join(","), e))?;
        if let Some(missing) = answer.builds_not_found().first() {
            return Err(Error::NotFound {
                call: "BatchGetBuilds",
                resource: missing.clone(),
                message: "CodeBuild has no such build".into(),
            });
        }
        out.extend(answer.builds().iter().map(build_of));
    }
    Ok(out)
}

/// The project's most recent finished build that did not succeed, among its latest 100; None
/// when every one of them succeeded (or is still running).
pub async fn latest_failed(aws: &Aws, project: &str) -> Result<Option<Build>, Error> {
    let client = aws.codebuild();
    let mut ids = Vec::new();
    let mut pages = client
        .list_builds_for_project()
        .project_name(project)
        .sort_order(aws_sdk_codebuild::types::SortOrderType::Descending)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListBuildsForProject", project, e))?;
        ids.extend(page.ids().iter().cloned());
        if ids.len() >= RECENT {
            ids.truncate(RECENT);
            break;
        }
    }
    let found = builds(aws, &ids).await?;
    Ok(found.into_iter().find(|b| matches!(b.status.as_str(), "FAILED" | "FAULT" | "TIMED_OUT" | "STOPPED")))
}

/// The messages of one log stream, oldest first (GetLogEvents from the head, every page, up to
/// [`MAX_EVENTS`] events or [`MAX_BYTES`]).
pub async fn stream_text(aws: &Aws, group: &str, stream: &str) -> Result<String, Error> {
    let client = aws.logs_client();
    let resource = format!("{group}/{stream}");
    let mut text = String::new();
    let mut token: Option<String> = None;
    let mut events = 0usize;
    loop {
        let answer = client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_error("GetLogEvents", &resource, e))?;
        for event in answer.events() {
            text.push_str(event.message().unwrap_or_default().trim_end_matches('\n'));
            text.push('\n');
            events += 1;
        }
        // The same token again means the end of the stream.
        let next = answer.next_forward_token().map(str::to_string);
        let full = events >= MAX_EVENTS || text.len() >= MAX_BYTES;
        if next.is_none() || next == token || answer.events().is_empty() || full {
            break;
        }
        token = next;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_without_a_log_still_says_which_phase_failed_and_why() {
        let build = Build {
            id: "web:1f0c".into(),
            project: "web".into(),
            number: Some(42),
            status: "FAILED".into(),
            started: None,
            ended: None,
            source_version: None,
            phases: vec![
                Phase {
                    kind: "SUBMITTED".into(),
                    status: Some("SUCCEEDED".into()),
                    seconds: Some(0),
                    contexts: vec![],
                },
                Phase {
                    kind: "DOWNLOAD_SOURCE".into(),
                    status: Some("FAILED".into()),
                    seconds: Some(3),
                    contexts: vec![("CLIENT_ERROR".into(), "repository not found for primary source".into())],
                },
                Phase { kind: "COMPLETED".into(), status: None, seconds: None, contexts: vec![] },
            ],
            log_group: None,
            log_stream: None,
        };
        assert_eq!(build.job(), "web#42");
        let lines = crate::triage::read_text_as(
            &build.phase_lines(),
            Some(crate::triage::Format::Codebuild),
            "codebuild:web",
            "web#42",
        );
        let failed: Vec<&str> = lines.iter().filter(|l| l.failure).map(|l| l.text.as_str()).collect();
        assert_eq!(failed, ["Phase complete: DOWNLOAD_SOURCE State: FAILED"]);
        assert!(lines.iter().any(|l| l.text.contains("CLIENT_ERROR Message: repository not found")));
    }
}
