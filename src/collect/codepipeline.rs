//! CodePipeline executions as a build-log source: which executions failed in a window, which of
//! their actions failed and why (CodePipeline's error details), and for CodeBuild actions the
//! build behind them, whose log [`super::codebuild`] reads.

use aws_sdk_codepipeline::primitives::{DateTime, DateTimeFormat};
use serde::Serialize;

use super::aws::{Aws, Error, call_error};

/// Executions looked through per pipeline, newest first, before the rest is left out.
pub const MAX_EXECUTIONS: usize = 1000;
/// Action executions read for one pipeline execution.
pub const MAX_ACTIONS: usize = 1000;

/// A run of a pipeline, as ListPipelineExecutions or GetPipelineExecution describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    pub pipeline: String,
    pub id: String,
    /// CodePipeline's words: Failed, Succeeded, Stopped, Superseded, InProgress, ...
    pub status: String,
    pub summary: Option<String>,
    /// RFC 3339, UTC.
    pub started: Option<String>,
    pub updated: Option<String>,
    /// What started it (StartPipelineExecution, Webhook, CloudWatchEvent, ...) and its detail.
    pub trigger: Option<String>,
}

impl Execution {
    pub fn failed(&self) -> bool {
        self.status == "Failed"
    }
}

/// One action of an execution, as ListActionExecutions describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRun {
    pub stage: String,
    pub action: String,
    /// The action's provider: CodeBuild, CloudFormation, ECS, Lambda, S3, ...
    pub provider: String,
    pub status: String,
    pub started: Option<String>,
    pub updated: Option<String>,
    /// The provider's id for the run: for CodeBuild, the build id (`PROJECT:UUID`).
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl ActionRun {
    pub fn failed(&self) -> bool {
        self.status == "Failed"
    }

    /// The build behind a CodeBuild action.
    pub fn build_id(&self) -> Option<&str> {
        (self.provider == "CodeBuild").then_some(self.external_id.as_deref()).flatten()
    }

    /// `Stage/Action`, the name the pipeline's console gives it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.stage, self.action)
    }
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

fn trigger(t: Option<&aws_sdk_codepipeline::types::ExecutionTrigger>) -> Option<String> {
    let t = t?;
    let kind = t.trigger_type().map(|k| k.as_str().to_string())?;
    Some(match t.trigger_detail().filter(|d| !d.is_empty()) {
        Some(detail) => format!("{kind} ({detail})"),
        None => kind,
    })
}

/// Every pipeline's name (ListPipelines, every page).
pub async fn pipelines(aws: &Aws) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut pages = aws.codepipeline().list_pipelines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListPipelines", "*", e))?;
        names.extend(page.pipelines().iter().filter_map(|p| p.name()).map(str::to_string));
    }
    Ok(names)
}

/// The pipeline's executions that started at or after `since`, newest first (ListPipelineExecutions,
/// page by page until one started earlier, at most [`MAX_EXECUTIONS`]).
pub async fn executions_since(aws: &Aws, pipeline: &str, since: DateTime) -> Result<Vec<Execution>, Error> {
    let mut out = Vec::new();
    let mut pages = aws.codepipeline().list_pipeline_executions().pipeline_name(pipeline).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListPipelineExecutions", pipeline, e))?;
        for summary in page.pipeline_execution_summaries() {
            // Newest first: one that started before the window ends the search.
            if summary.start_time().is_some_and(|t| t.secs() < since.secs()) || out.len() >= MAX_EXECUTIONS {
                return Ok(out);
            }
            out.push(Execution {
                pipeline: pipeline.to_string(),
                id: summary.pipeline_execution_id().unwrap_or_default().to_string(),
                status: summary.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                summary: summary.status_summary().map(str::to_string),
                started: time(summary.start_time()),
                updated: time(summary.last_update_time()),
                trigger: trigger(summary.trigger()),
            });
        }
    }
    Ok(out)
}

/// One execution by its id (GetPipelineExecution); an id the pipeline does not have is an error
/// naming both.
pub async fn execution(aws: &Aws, pipeline: &str, id: &str) -> Result<Execution, Error> {
    let resource = format!("{pipeline}:{id}");
    let answer = aws
        .codepipeline()
        .get_pipeline_execution()
        .pipeline_name(pipeline)
        .pipeline_execution_id(id)
        .send()
        .await
        .map_err(|e| call_error("GetPipelineExecution", &resource, e))?;
    let e = answer.pipeline_execution().ok_or_else(|| Error::Call {
        call: "GetPipelineExecution",
        resource: resource.clone(),
        message: "the answer holds no execution".into(),
    })?;
    // GetPipelineExecution has no times; the execution's actions carry them.
    Ok(Execution {
        pipeline: pipeline.to_string(),
        id: id.to_string(),
        status: e.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        summary: e.status_summary().map(str::to_string),
        started: None,
        updated: None,
        trigger: trigger(e.trigger()),
    })
}

/// The actions an execution ran, in the order they started (ListActionExecutions, every page, at
/// most [`MAX_ACTIONS`]).
pub async fn actions(aws: &Aws, pipeline: &str, execution: &str) -> Result<Vec<ActionRun>, Error> {
    let resource = format!("{pipeline}:{execution}");
    let filter = aws_sdk_codepipeline::types::ActionExecutionFilter::builder().pipeline_execution_id(execution).build();
    let mut pages =
        aws.codepipeline().list_action_executions().pipeline_name(pipeline).filter(filter).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListActionExecutions", &resource, e))?;
        out.extend(page.action_execution_details().iter().map(action_of));
        if out.len() >= MAX_ACTIONS {
            out.truncate(MAX_ACTIONS);
            break;
        }
    }
    // CodePipeline lists the latest first; a report reads better in the order they ran.
    out.sort_by(|a, b| a.started.cmp(&b.started));
    Ok(out)
}

fn action_of(d: &aws_sdk_codepipeline::types::ActionExecutionDetail) -> ActionRun {
    let result = d.output().and_then(|o| o.execution_result());
    let error = result.and_then(|r| r.error_details());
    let provider = d.input().and_then(|i| i.action_type_id()).map(|t| t.provider().to_string());
    ActionRun {
        stage: d.stage_name().unwrap_or_default().to_string(),
        action: d.action_name().unwrap_or_default().to_string(),
        provider: provider.unwrap_or_default(),
        status: d.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        started: time(d.start_time()),
        updated: time(d.last_update_time()),
        external_id: result.and_then(|r| r.external_execution_id()).filter(|i| !i.is_empty()).map(str::to_string),
        external_url: result.and_then(|r| r.external_execution_url()).map(str::to_string),
        error_code: error.and_then(|e| e.code()).map(str::to_string),
        error_message: error.and_then(|e| e.message()).map(str::to_string),
    }
}

/// Where the lines of one failed action come from and go.
pub struct ActionSource<'a> {
    pub execution: &'a Execution,
    pub action: &'a ActionRun,
}

impl ActionSource<'_> {
    /// `codepipeline:PIPELINE:EXECUTION`, which reads this execution again.
    pub fn source(&self) -> String {
        format!("codepipeline:{}:{}", self.execution.pipeline, self.execution.id)
    }

    /// `PIPELINE/Stage/Action`: one job per failed action.
    pub fn job(&self) -> String {
        format!("{}/{}", self.execution.pipeline, self.action.name())
    }

    /// CodePipeline's own verdict on the action as a log line after `after` lines: its error
    /// code and message, its step the action (`Stage/Action`). It is the job's verdict (`failure`) unless the action's own log (a
    /// CodeBuild build's) already says the job failed.
    pub fn verdict_line(&self, after: u64, log_says_failed: bool) -> crate::triage::LogLine {
        let a = self.action;
        let why = match (&a.error_code, &a.error_message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (None, Some(message)) => message.clone(),
            (Some(code), None) => code.clone(),
            (None, None) => format!("the {} action failed without details", a.provider),
        };
        crate::triage::LogLine {
            source: self.source(),
            job: self.job(),
            step: Some(a.name()),
            timestamp: a.updated.clone(),
            level: crate::triage::Level::Error,
            // CodePipeline's words alone: the action's name (in `step`) would read as evidence
            // (an action named MigrateDb that failed is not a failed migration).
            text: why,
            line: after + 1,
            location: None,
            failure: !log_says_failed,
        }
    }
}

impl Execution {
    /// The execution's verdict as a log line, for a failed execution that lists no failed action
    /// (its action history has aged out, or it failed between stages).
    pub fn verdict_line(&self) -> crate::triage::LogLine {
        let why = self.summary.clone().unwrap_or_else(|| "CodePipeline lists no failed action".into());
        crate::triage::LogLine {
            source: format!("codepipeline:{}:{}", self.pipeline, self.id),
            job: self.pipeline.clone(),
            step: None,
            timestamp: self.updated.clone(),
            level: crate::triage::Level::Error,
            text: format!("Execution {} {}: {why}", self.id, self.status),
            line: 1,
            location: None,
            failure: true,
        }
    }
}
