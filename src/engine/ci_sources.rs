//! Where `ci::read` finds build logs: files and folders (local or in S3), CloudWatch Logs groups,
//! CodeBuild builds and CodePipeline executions.

use std::collections::BTreeMap;

use rhai::{EvalAltResult, Map};

use super::ci_api::{format_of, option};
use super::{Shared, block, rt_error};
use crate::collect::aws::{self, Aws};
use crate::collect::codebuild::{self, Build};
use crate::triage::{self, Format, LogLine};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The lines of a file, folder, `s3://` object or prefix, `cloudwatch:GROUP`,
/// `codebuild:PROJECT[:BUILD]` or `codepipeline:PIPELINE[:EXECUTION]`.
pub(super) fn read(s: &Shared, source: &str, options: &Map) -> Result<Vec<LogLine>> {
    let format = format_of(options)?;
    if let Some(build) = source.strip_prefix("codebuild:") {
        return read_codebuild(s, build, format);
    }
    if let Some(pipeline) = source.strip_prefix("codepipeline:") {
        return read_codepipeline(s, pipeline, options, format);
    }
    let Some(group) = source.strip_prefix("cloudwatch:") else {
        let local = super::s3_paths::local(s, source)?;
        let mut lines = triage::read_path(&local.path, format)
            .map_err(|e| if e.is_input() { super::input_error(e) } else { rt_error(e) })?;
        for line in &mut lines {
            line.source = local.relabel(&line.source);
        }
        return Ok(lines);
    };
    let start = start_of(options)?;
    let end = aws::time(&option(options, "end").unwrap_or_else(|| "now".into())).map_err(rt_error)?;
    let filter = option(options, "filter").unwrap_or_default();
    let client = super::aws_api::clients(s)?;
    let events = block(s, aws::logs(&client, group, &filter, start, end))?.map_err(rt_error)?;
    // One job per log stream (CodeBuild writes one stream per build).
    let mut streams: BTreeMap<&str, String> = BTreeMap::new();
    for event in &events {
        let text = streams.entry(&event.stream).or_default();
        text.push_str(event.message.trim_end_matches('\n'));
        text.push('\n');
    }
    Ok(streams.iter().flat_map(|(stream, text)| triage::read_text_as(text, format, source, stream)).collect())
}

/// The window's start for the AWS sources: `options.start`, default a day ago.
fn start_of(options: &Map) -> Result<aws_sdk_cloudwatch::primitives::DateTime> {
    aws::time(&option(options, "start").unwrap_or_else(|| "-1d".into())).map_err(input_or_failure)
}

/// A CodeBuild build's log: the build named (`PROJECT:UUID`, CodeBuild's build id) or the
/// project's latest that did not succeed; its phases stand in for a log it does not have.
fn read_codebuild(s: &Shared, build: &str, format: Option<Format>) -> Result<Vec<LogLine>> {
    let client = super::aws_api::clients(s)?;
    let found = if build.contains(':') {
        block(s, codebuild::builds(&client, &[build.to_string()]))?.map_err(input_or_failure)?.into_iter().next()
    } else {
        block(s, codebuild::latest_failed(&client, build))?.map_err(input_or_failure)?
    };
    let Some(found) = found else {
        let recent = codebuild::RECENT;
        s.record(|log| log.note(&format!("codebuild:{build}: none of its latest {recent} builds failed")))?;
        return Ok(Vec::new());
    };
    let text = build_text(s, &client, &found)?;
    let source = format!("codebuild:{}", found.id);
    Ok(triage::read_text_as(&text, format.or(Some(Format::Codebuild)), &source, &found.job()))
}

/// A build's log from CloudWatch Logs, or its phases in CodeBuild's words when it has none.
fn build_text(s: &Shared, client: &Aws, build: &Build) -> Result<String> {
    let text = match (&build.log_group, &build.log_stream) {
        (Some(group), Some(stream)) => match block(s, codebuild::stream_text(client, group, stream))? {
            Ok(text) => text,
            // A build that failed before it logged anything has a log location and no log.
            Err(aws::Error::NotFound { .. }) => String::new(),
            Err(e) => return Err(rt_error(e)),
        },
        _ => String::new(),
    };
    Ok(if text.trim().is_empty() { build.phase_lines() } else { text })
}

/// The failed executions of a pipeline (or of every pipeline, `*`) since `options.start`, or one
/// execution by id (`PIPELINE:EXECUTION`): one job per failed action, holding the log of the
/// CodeBuild build behind it and CodePipeline's own error details.
fn read_codepipeline(s: &Shared, spec: &str, options: &Map, format: Option<Format>) -> Result<Vec<LogLine>> {
    use crate::collect::codepipeline;
    let client = super::aws_api::clients(s)?;
    let executions = match spec.split_once(':') {
        Some((pipeline, id)) => {
            vec![block(s, codepipeline::execution(&client, pipeline, id))?.map_err(input_or_failure)?]
        }
        None => {
            let start = start_of(options)?;
            let pipelines = if spec == "*" {
                block(s, codepipeline::pipelines(&client))?.map_err(rt_error)?
            } else {
                vec![spec.to_string()]
            };
            let mut failed = Vec::new();
            for pipeline in &pipelines {
                let runs =
                    block(s, codepipeline::executions_since(&client, pipeline, start))?.map_err(input_or_failure)?;
                failed.extend(runs.into_iter().filter(codepipeline::Execution::failed));
            }
            if failed.is_empty() {
                let since = start.fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime).unwrap_or_default();
                s.record(|log| log.note(&format!("codepipeline:{spec}: no execution failed since {since}")))?;
            }
            failed
        }
    };
    let mut lines = Vec::new();
    for execution in &executions {
        lines.extend(execution_lines(s, &client, execution, format)?);
    }
    Ok(lines)
}

/// The lines of one execution's failed actions.
fn execution_lines(
    s: &Shared,
    client: &Aws,
    execution: &crate::collect::codepipeline::Execution,
    format: Option<Format>,
) -> Result<Vec<LogLine>> {
    use crate::collect::codepipeline::{self, ActionSource};
    let actions =
        block(s, codepipeline::actions(client, &execution.pipeline, &execution.id))?.map_err(input_or_failure)?;
    let mut lines = Vec::new();
    for action in actions.iter().filter(|a| a.failed()) {
        let at = ActionSource { execution, action };
        let build = match action.build_id() {
            Some(id) => build_behind(s, client, id)?,
            None => None,
        };
        let mut job_lines = match build {
            Some(build) => {
                let text = build_text(s, client, &build)?;
                triage::read_text_as(&text, format.or(Some(Format::Codebuild)), &at.source(), &at.job())
            }
            None => Vec::new(),
        };
        let says_failed = job_lines.iter().any(|l| l.failure);
        job_lines.push(at.verdict_line(job_lines.len() as u64, says_failed));
        lines.extend(job_lines);
    }
    if lines.is_empty() && execution.failed() {
        lines.push(execution.verdict_line());
    }
    Ok(lines)
}

/// The build behind a CodeBuild action; None when CodeBuild no longer has it (builds age out of
/// its history after a year; the action's own error details still say why).
fn build_behind(s: &Shared, client: &Aws, id: &str) -> Result<Option<Build>> {
    match block(s, codebuild::builds(client, &[id.to_string()]))? {
        Ok(builds) => Ok(builds.into_iter().next()),
        Err(aws::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(rt_error(e)),
    }
}

/// A build, execution or pipeline that does not exist, or a time that is not one, is the
/// input's fault (exit 2); anything else is not.
fn input_or_failure(e: aws::Error) -> Box<EvalAltResult> {
    match e {
        aws::Error::NotFound { .. } | aws::Error::Input(_) => super::input_error(e),
        other => rt_error(other),
    }
}
