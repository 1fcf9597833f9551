//! `ci::` functions: build logs as Frames, templates mined from them, failed jobs' causes.

use std::sync::Arc;

use rhai::{EvalAltResult, Map};

use super::api::{Api, FnDoc};
pub(super) use super::ci_sources::read;
use super::{Shared, frame_of, rt_error, serialized};
use crate::frame::Frame;
use crate::triage::{self, Format, LogLine, Miner, Rules};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub(crate) const LINE_COLUMNS: &[&str] =
    &["source", "job", "step", "timestamp", "level", "text", "line", "location", "failure"];
const CAUSE_COLUMNS: &[&str] =
    &["job", "cause", "kind", "retry", "step", "command", "line", "text", "source", "description"];

pub(super) fn option(options: &Map, key: &str) -> Option<String> {
    options.get(key).map(|v| v.to_string()).filter(|v| !v.is_empty())
}

pub(super) fn format_of(options: &Map) -> Result<Option<Format>> {
    match option(options, "format") {
        None => Ok(None),
        Some(name) => Format::parse(&name)
            .map(Some)
            .ok_or_else(|| rt_error(format!("format {name:?}: use one of {}", Format::NAMES))),
    }
}

pub(super) fn lines_of(frame: &Frame) -> Result<Vec<LogLine>> {
    frame
        .to_records()
        .into_iter()
        .map(|record| {
            serde_json::from_value(record)
                .map_err(|e| rt_error(format!("expected the Frame of ci::read ({}): {e}", LINE_COLUMNS.join(", "))))
        })
        .collect()
}

fn templates(frame: &Frame, column: &str) -> Result<Frame> {
    let texts = frame.text_column(column).map_err(|e| {
        rt_error(format!("ci::templates: {e}; name the column holding the messages: ci::templates(df, \"message\")"))
    })?;
    let texts: Vec<&str> = texts.iter().map(|t| t.unwrap_or("")).collect();
    let split = triage::header::split_all(&texts);
    let mut miner = Miner::new(Default::default());
    let groups: Vec<u32> = split.iter().map(|(_, message)| miner.add(message)).collect();
    let ids = miner.template_ids();
    let mut text_of: Vec<Option<String>> = vec![None; ids.len()];
    let mut template_ids = Vec::with_capacity(groups.len());
    let mut template_texts = Vec::with_capacity(groups.len());
    for g in groups {
        template_ids.push(i64::from(ids[g as usize]));
        template_texts.push(text_of[g as usize].get_or_insert_with(|| miner.template(g)).clone());
    }
    let headers: Vec<Option<String>> = split.iter().map(|(header, _)| header.map(str::to_string)).collect();
    frame
        .with_int_and_text(("template_id", template_ids), ("template", template_texts))
        .and_then(|f| f.with_text_column("header", headers))
        .map_err(rt_error)
}

/// The rules of `options.rules` (a team's file), else the built-in ones.
pub(super) fn rules_of(options: &Map) -> Result<Rules> {
    match option(options, "rules") {
        Some(path) => Rules::with_file(std::path::Path::new(&path)).map_err(rt_error),
        None => Ok(Rules::builtin()),
    }
}

fn classify(frame: &Frame, options: &Map) -> Result<Frame> {
    let rules = rules_of(options)?;
    let lines = lines_of(frame)?;
    causes_frame(&triage::classify(&lines, &rules))
}

/// Diagnoses as rows, one per proving line.
pub(super) fn causes_frame(diagnoses: &[triage::Diagnosis]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = diagnoses
        .iter()
        .flat_map(|d| {
            let proof = if d.proof.is_empty() { vec![None] } else { d.proof.iter().map(Some).collect() };
            proof
                .into_iter()
                .map(|line| {
                    serde_json::json!({
                        "job": d.job, "cause": d.cause, "kind": d.kind.map(|k| k.name()), "retry": d.retry,
                        "step": line.and_then(|l| l.step.clone()).or(d.step.clone()), "command": d.command,
                        "line": line.map(|l| l.line), "text": line.map(|l| l.text.clone()),
                        "source": d.source, "description": d.description,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    frame_of(&rows, CAUSE_COLUMNS)
}

const AWS_ERROR_COLUMNS: &[&str] = &[
    "code",
    "service",
    "operation",
    "cause",
    "retry",
    "count",
    "jobs",
    "in_failed_job",
    "principal",
    "action",
    "resource",
    "role_chain",
    "reason",
    "meaning",
    "advice",
    "first_seen",
    "last_seen",
    "evidence",
];

/// AWS errors as rows, one per kind.
pub(super) fn aws_errors_frame(errors: &[triage::aws::AwsError]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = errors
        .iter()
        .map(|e| {
            let d = e.denial.as_ref();
            serde_json::json!({
                "code": e.code, "service": e.service, "operation": e.operation, "cause": e.cause, "retry": e.retry,
                "count": e.count, "jobs": e.jobs.join(", "), "in_failed_job": e.in_failed_job,
                "principal": d.and_then(|d| d.principal.clone()), "action": d.map(|d| d.action.clone()),
                "resource": d.and_then(|d| d.resource.clone()),
                "role_chain": d.filter(|d| !d.chain.is_empty()).map(|d| d.chain.join(" → ")),
                "reason": d.and_then(|d| d.reason.clone()), "meaning": e.meaning, "advice": e.advice,
                "first_seen": e.first_seen, "last_seen": e.last_seen, "evidence": e.evidence,
            })
        })
        .collect();
    frame_of(&rows, AWS_ERROR_COLUMNS)
}

const JENKINS_EXAMPLE: &str = r#"let p = temp_path("deploy.log"); write_text(p, "Started by timer\n[Pipeline] { (Migrate)\n+ flyway migrate\nERROR: Migration V7__tenant_index.sql failed for schema tenant_acme\nERROR: script returned exit code 1\n[Pipeline] }\nFinished: FAILURE\n");"#;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("ci");
    let s = shared.clone();
    let read_doc = FnDoc::new("read")
        .usage("ci::read(source: string) -> Frame")
        .usage("ci::read(source: string, options: map) -> Frame")
        .summary("Read build logs into one row per line: GitHub Actions job logs (steps from ##[group], ##[error], ::error workflow commands), Jenkins console output (stages from [Pipeline] markers, hidden console notes and colours removed), AWS CodeBuild logs ([Container] lines, phases) or plain text, the format detected per file. A folder is read whole (a file in a subfolder belongs to the job the subfolder names); gzip is read as such.")
        .param("source", "a file, a folder, cloudwatch:GROUP for a CloudWatch Logs group (one job per log stream), codebuild:PROJECT (the project's latest build that did not succeed) or codebuild:BUILD_ID (PROJECT:UUID): the build's log from CloudWatch Logs, or its phases when it has none; codepipeline:PIPELINE (its executions that failed since options.start; codepipeline:* for every pipeline) or codepipeline:PIPELINE:EXECUTION_ID: one job (PIPELINE/Stage/Action) per failed action, with the log of the CodeBuild build behind it and a last line holding CodePipeline's error details")
        .param("options", "#{format: \"github-actions\" | \"jenkins\" | \"codebuild\" | \"plain\"} to override detection; for cloudwatch: and codepipeline: also start (\"-1d\"); for cloudwatch: end (\"now\") and filter")
        .returns(&format!("a Frame ({}); failure is true on the lines that say the job failed", LINE_COLUMNS.join(", ")))
        .example(
            &format!("{JENKINS_EXAMPLE} ci::read(p).filter(\"level = 'error'\").select([\"step\", \"line\", \"failure\"]).rows()"),
            r#"[{"step": "Migrate", "line": 4, "failure": false}, {"step": "Migrate", "line": 5, "failure": true}, {"step": null, "line": 7, "failure": true}]"#,
        )
        .volatile();
    let s2 = s.clone();
    api.add(read_doc, move |source: &str| -> Result<Frame> {
        frame_of(&serialized(&read(&s, source, &Map::new())?), LINE_COLUMNS)
    });
    api.overload(move |source: &str, options: Map| -> Result<Frame> {
        frame_of(&serialized(&read(&s2, source, &options)?), LINE_COLUMNS)
    });

    api.add(
        FnDoc::new("templates")
            .usage("ci::templates(lines: Frame) -> Frame")
            .usage("ci::templates(lines: Frame, column: string) -> Frame")
            .summary("Mine message templates (a Drain-style online parser): lines that differ only in numbers, ids, addresses, paths and other values share a template, with `<*>` where they differ. Plain words never become `<*>`, so `VM Paused` and `VM Resumed` stay apart. A header the lines share (times, pid, level, component, host: learned from the first 2,000 lines) is set apart first, so templates come from the message alone.")
            .param("column", "the column holding the messages (default \"text\")")
            .returns("the Frame with template_id (from 1, in order of first appearance), template and header (the line's header, or null) added")
            .example(
                r#"let df = frame([#{text: "connected to 10.0.0.7:5432 in 12 ms"}, #{text: "connected to 10.0.0.9:5432 in 80 ms"}, #{text: "pool exhausted for tenant acme"}]); ci::templates(df).select(["template_id", "template"]).rows()"#,
                r#"[{"template_id": 1, "template": "connected to <*> in <*>"}, {"template_id": 1, "template": "connected to <*> in <*>"}, {"template_id": 2, "template": "pool exhausted for tenant acme"}]"#,
            )
            .example(
                r#"let df = frame([#{text: "Jun 14 15:16:01 web1 sshd[199]: session 4 opened for uid 1000"}, #{text: "Jun 14 15:16:09 web2 sshd[207]: session 9 opened for uid 1001"}]); ci::templates(df).select(["header", "template"]).rows()"#,
                r#"[{"header": "Jun 14 15:16:01 web1 sshd[199]:", "template": "session <*> opened for uid <*>"}, {"header": "Jun 14 15:16:09 web2 sshd[207]:", "template": "session <*> opened for uid <*>"}]"#,
            ),
        move |frame: Frame| templates(&frame, "text"),
    );
    api.overload(move |frame: Frame, column: &str| templates(&frame, column));

    api.add(
        FnDoc::new("classify")
            .usage("ci::classify(lines: Frame) -> Frame")
            .usage("ci::classify(lines: Frame, options: map) -> Frame")
            .summary("The root cause of each failed job, by an ordered rule set: database migration, connection-pool exhaustion, disk full, out of memory, quota/throttling, permission, timeout, network/source control, infrastructure, dependency resolution, lint, compile error, test failure (`help(\"ci::rules\")` shows them), tried on the failed step's output first, then on the job's. A job failed when it says so (Finished: FAILURE, a non-zero exit, State: FAILED, a failed build step, ERROR: Job failed) or, in plain logs, has an error line. Infrastructure causes are marked so a retry can be automatic.")
            .param("lines", "the Frame of ci::read")
            .param("options", "#{rules: \"team-rules.toml\"}: a team's rules, tried before the built-in ones (same shape; builtin = false drops those)")
            .returns(&format!("a Frame ({}) with one row per proving line (at most five per job); cause is \"other\" with the error lines nearest the failure when no rule matched, \"unknown\" when no line says why", CAUSE_COLUMNS.join(", ")))
            .example(
                &format!("{JENKINS_EXAMPLE} ci::classify(ci::read(p)).select([\"job\", \"cause\", \"kind\", \"retry\", \"step\", \"line\"]).rows()"),
                r#"[{"job": "deploy", "cause": "database-migration", "kind": "code", "retry": false, "step": "Migrate", "line": 4}]"#,
            ),
        move |frame: Frame| classify(&frame, &Map::new()),
    );
    api.overload(move |frame: Frame, options: Map| classify(&frame, &options));

    api.add(
        FnDoc::new("aws_errors")
            .usage("ci::aws_errors(lines: Frame) -> Frame")
            .summary("AWS errors in the logs, one row per kind: the code as the AWS CLI, boto3, the Java, Go, JavaScript, Rust and .NET SDKs, Terraform and CodeBuild print it (or a message such as PostgreSQL's \"too many clients\" or a Lambda \"Task timed out\"), the service and operation, and from a catalog what it means, its cause and whether a retry helps. Access denials are taken apart: the principal, the role chain (an AssumeRole denial names both roles), the action, the resource and the policy that said no. A code in an SDK's error shape that the catalog does not know is reported with cause \"other\".")
            .param("lines", "the Frame of ci::read")
            .returns(&format!("a Frame ({}), in order of first appearance; `ci::aws_catalog()` lists what the catalog knows", AWS_ERROR_COLUMNS.join(", ")))
            .example(
                r#"let p = temp_path("deploy.log"); write_text(p, "Assuming the deploy role\nAn error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::111122223333:assumed-role/CodeBuildRole/AWSCodeBuild-7f3c is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/deploy\nThrottlingException: Rate exceeded\n"); ci::aws_errors(ci::read(p)).select(["code", "service", "operation", "cause", "retry", "role_chain"]).rows()"#,
                r#"[{"code": "AccessDenied", "service": "STS", "operation": "AssumeRole", "cause": "access-denied", "retry": false, "role_chain": "role CodeBuildRole (session AWSCodeBuild-7f3c) → role deploy"}, {"code": "ThrottlingException", "service": null, "operation": null, "cause": "throttling", "retry": true, "role_chain": null}]"#,
            )
            .volatile(),
        move |frame: Frame| -> Result<Frame> {
            aws_errors_frame(&triage::aws::scan(&lines_of(&frame)?, triage::aws::Catalog::builtin()).errors)
        },
    );

    api.add(
        FnDoc::new("aws_catalog")
            .usage("ci::aws_catalog() -> Frame")
            .summary("The AWS errors ci::aws_errors knows: each code (or, for an error known by its message, the catalog's words for it), its service when only one returns it, its cause, whether a retry helps, what it means and what to do.")
            .returns("a Frame (code, service, cause, retry, meaning, advice)")
            .example(r#"ci::aws_catalog().filter("code = 'ExpiredToken'").select(["cause", "retry"]).rows()"#, r#"[{"cause": "credentials", "retry": false}]"#),
        move || -> Result<Frame> {
            let rows: Vec<serde_json::Value> = triage::aws::Catalog::builtin()
                .entries()
                .iter()
                .map(|e| serde_json::json!({"code": e.code, "service": e.service, "cause": e.cause, "retry": e.retry, "meaning": e.meaning, "advice": e.advice}))
                .collect();
            frame_of(&rows, &["code", "service", "cause", "retry", "meaning", "advice"])
        },
    );

    api.add(
        FnDoc::new("rules")
            .usage("ci::rules() -> Frame")
            .summary("The built-in root-cause rules in the order they are tried.")
            .returns("a Frame (cause, kind, retry, description)")
            .example(r#"ci::rules().head(2).col("cause")"#, r#"["database-migration", "connection-pool-exhaustion"]"#),
        move || -> Result<Frame> {
            let rows: Vec<serde_json::Value> = Rules::builtin()
                .rules()
                .iter()
                .map(|r| serde_json::json!({"cause": r.cause, "kind": r.kind.name(), "retry": r.retry, "description": r.description}))
                .collect();
            frame_of(&rows, &["cause", "kind", "retry", "description"])
        },
    );
    api.end_namespace();
}
