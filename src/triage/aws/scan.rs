//! AWS errors in log lines: the code (from an SDK's error shape, a name the catalog knows, or a
//! message), the service and operation the line names, and for access denials who was denied
//! what. Lines with the same error are counted together.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::Serialize;

use super::catalog::Catalog;
use super::iam::{self, Denial};
use crate::triage::classify::failed_jobs;
use crate::triage::line::{Level, LogLine};

/// Distinct errors kept; past this, lines are still scanned but new kinds are only counted.
const MAX_KINDS: usize = 500;
/// Characters of the first line kept as evidence.
const EVIDENCE_CHARS: usize = 400;

/// One kind of AWS error in the logs, with how often and where it appeared.
#[derive(Debug, Clone, Serialize)]
pub struct AwsError {
    /// As the log printed it, or the catalog's words for an error known by its message.
    pub code: String,
    pub service: Option<String>,
    pub operation: Option<String>,
    /// The catalog's cause, `other` for a code it does not know.
    pub cause: String,
    /// Whether a retry with backoff is likely to succeed; None for an unknown code.
    pub retry: Option<bool>,
    pub meaning: Option<String>,
    pub advice: Option<String>,
    pub count: usize,
    pub jobs: Vec<String>,
    /// Whether any of those jobs failed.
    pub in_failed_job: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// `source:line: text` of the first line.
    pub evidence: String,
    pub denial: Option<Denial>,
}

/// Everything the scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scan {
    pub errors: Vec<AwsError>,
    /// Lines with an error of a kind past the first 500 kinds.
    pub uncounted_lines: usize,
}

/// SDKs' error shapes: each a regex with a `code` group, and `svc` and `op` where the shape has
/// them, or a service the shape implies.
struct Shapes {
    any: RegexSet,
    each: Vec<(Regex, Option<&'static str>)>,
}

/// Shapes in which only SDKs print a code: a code there is an AWS error even if the catalog does
/// not know it, and the catalog's `strict` names count there only.
fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let patterns: [(&str, Option<&'static str>); 10] = [
            // The AWS CLI and boto3.
            (r"An error occurred \((?P<code>[A-Za-z][\w.]*)\)(?: when calling the (?P<op>\w+) operation)?", None),
            // The Java SDK v1.
            (r"\(Service: (?P<svc>[^;,)]+); Status Code: \d+; Error Code: (?P<code>[A-Za-z][\w.]*)", None),
            // The Go SDK v2 (and Terraform's AWS provider).
            (r"operation error (?P<svc>[A-Za-z0-9 ]+?): (?P<op>\w+),.*?\bapi error (?P<code>[A-Za-z][\w.]*)", None),
            (r"\bapi error (?P<code>[A-Za-z][\w.]*):", None),
            // The Go SDK v1 on one line: the message has no colon, so that `Error: x: Code: ...`
            // gives the code, not `Error`.
            (r"\b(?P<code>[A-Z]\w+): [^:]{0,300}?\bstatus code: \d{3}, request id", None),
            // Response bodies: XML, and JSON's __type.
            (r"<Code>(?P<code>[A-Za-z]\w*)</Code>", None),
            (r#""__type"\s*:\s*"(?:[\w.]+#)?(?P<code>[A-Za-z]\w*)""#, None),
            // The Rust SDK's Debug output.
            (r#"\bcode: Some\("(?P<code>[A-Za-z]\w*)"\)"#, None),
            // CodeBuild's phase contexts.
            (r"Phase context status code: (?P<code>[A-Z][A-Z_]+)", Some("CodeBuild")),
            // Java SDK exception classes (v2, v1) and .NET's.
            (
                r"\b(?:(?:software\.amazon\.awssdk\.services|com\.amazonaws\.services)\.(?P<svc>\w+)\.model\.(?P<code>[A-Z]\w*)|Amazon\.(?P<svc2>[A-Za-z0-9]+)\.(?:Model\.)?(?P<code2>[A-Z]\w*Exception)\b)",
                None,
            ),
        ];
        let compile = |p: &str| Regex::new(p).expect("the SDK shapes are valid regexes");
        Shapes {
            any: RegexSet::new(patterns.iter().map(|(p, _)| p)).expect("the SDK shapes are valid regexes"),
            each: patterns.iter().map(|(p, svc)| (compile(p), *svc)).collect(),
        }
    })
}

/// Where else a line names the service: labels, the JavaScript client's package, an endpoint.
fn service_hints() -> &'static [Regex] {
    static HINTS: OnceLock<Vec<Regex>> = OnceLock::new();
    HINTS.get_or_init(|| {
        [
            r"\(Service: (?P<svc>[^;,)]+)[;,)]",
            r"operation error (?P<svc>[A-Za-z0-9 ]+?): (?P<op>\w+)",
            r"@aws-sdk/client-(?P<svc>[a-z0-9-]+)",
            r"\b(?P<svc>[a-z0-9-]+)\.(?:[a-z]{2}(?:-gov)?-[a-z]+-\d\.)?amazonaws\.com\b",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("the service hints are valid regexes"))
        .collect()
    })
}

/// What one line says.
struct Found {
    /// The catalog entry, or the code as printed when the catalog does not know it.
    entry: Result<usize, String>,
    code: String,
    service: Option<String>,
    operation: Option<String>,
    denial: Option<Denial>,
}

/// The code an SDK shape prints in the line, with the service and operation it names.
fn shaped_code(text: &str) -> Option<(String, Option<String>, Option<String>)> {
    let shapes = shapes();
    let matched = shapes.any.matches(text);
    let (shape, implied) = &shapes.each[matched.iter().next()?];
    let found = shape.captures(text)?;
    let group = |names: [&str; 2]| names.iter().find_map(|n| found.name(n)).map(|m| m.as_str().to_string());
    let svc = implied.map(str::to_string).or_else(|| group(["svc", "svc2"]));
    Some((group(["code", "code2"])?, svc, group(["op", "op"])))
}

/// The service and operation named elsewhere in the line, in the catalog's spelling; a label the
/// catalog does not know is kept as printed, a host name only when the catalog knows it.
fn hinted_service(catalog: &Catalog, text: &str) -> (Option<String>, Option<String>) {
    for (i, hint) in service_hints().iter().enumerate() {
        if let Some(found) = hint.captures(text) {
            let spelt = found.name("svc").map_or("", |m| m.as_str());
            let op = found.name("op").map(|m| m.as_str().to_string());
            match catalog.service(spelt) {
                Some(known) => return (Some(known.to_string()), op),
                None if i < 2 => return (Some(spelt.trim().to_string()), op),
                None => {}
            }
        }
    }
    (None, None)
}

fn normalized(catalog: &Catalog, spelt: Option<String>) -> Option<String> {
    spelt.map(|s| catalog.service(&s).map_or_else(|| s.trim().to_string(), str::to_string))
}

/// The AWS error a line reports, if any.
fn found_in(catalog: &Catalog, text: &str) -> Option<Found> {
    let (mut service, mut operation) = (None, None);
    let mut entry = None;
    let mut code = None;
    if let Some((printed, svc, op)) = shaped_code(text) {
        service = normalized(catalog, svc);
        operation = op;
        entry = Some(catalog.lookup(&printed, service.as_deref()).map(|(e, _)| e).ok_or_else(|| printed.clone()));
        code = Some(printed);
    }
    if entry.is_none() {
        for (at, name) in catalog.bare_names_in(text) {
            // Reported, a code ends its phrase (`NoSuchKey: ...`, `'NoSuchKey'`, `NoSuchKey,`);
            // in prose or a source comment it runs on (`catches NoSuchKey errors`).
            let after = text[at + name.len()..].chars().next();
            let reported = matches!(after, None | Some(':' | '\'' | '"' | ',' | ')' | ']' | '.' | ';'));
            if !reported {
                continue;
            }
            if let Some((e, true)) = catalog.lookup(name, None) {
                entry = Some(Ok(e));
                code = Some(name.to_string());
                break;
            }
        }
    }
    if entry.is_none() {
        let e = catalog.message_entry(text)?;
        entry = Some(Ok(e));
        code = Some(catalog.entry(e).code.clone());
    }
    let (entry, code) = (entry?, code?);
    if service.is_none() || operation.is_none() {
        let (svc, op) = hinted_service(catalog, text);
        service = service.or(svc);
        operation = operation.or(op);
    }
    let denial = if text.contains("uthorized to perform") { iam::denial(text) } else { None };
    if service.is_none() {
        let action_service = denial.as_ref().and_then(|d| d.action.split(':').next()).and_then(|s| catalog.service(s));
        let entry_service = entry.as_ref().ok().and_then(|&e| catalog.entry(e).service.clone());
        service = action_service.map(str::to_string).or(entry_service);
    }
    // A name two services share resolves by the service the line turned out to name.
    let entry = entry.map(|e| catalog.lookup(&code, service.as_deref()).map_or(e, |(found, _)| found));
    Some(Found { entry, code, service, operation, denial })
}

/// The first `max` characters of a line.
fn clipped(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

type Key = (String, Option<String>, Option<String>, Option<(Option<String>, String, Option<String>)>);

/// Every AWS error in the lines, grouped by code, service, operation and (for denials) principal,
/// action and resource, in order of first appearance. Lines a runner only echoed (debug) are left
/// out, as the classification leaves them out.
pub fn scan(lines: &[LogLine], catalog: &Catalog) -> Scan {
    let failed: Vec<String> = failed_jobs(lines).into_iter().map(|(job, _)| job).collect();
    let mut scan = Scan::default();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for line in lines.iter().filter(|l| l.level != Level::Debug) {
        let Some(found) = found_in(catalog, &line.text) else { continue };
        let denial_key = found.denial.as_ref().map(|d| (d.principal.clone(), d.action.clone(), d.resource.clone()));
        let key: Key = (found.code.clone(), found.service.clone(), found.operation.clone(), denial_key);
        let at = match index.get(&key) {
            Some(&at) => at,
            None if scan.errors.len() >= MAX_KINDS => {
                scan.uncounted_lines += 1;
                continue;
            }
            None => {
                index.insert(key, scan.errors.len());
                scan.errors.push(new_error(catalog, found, line));
                scan.errors.len() - 1
            }
        };
        let error = &mut scan.errors[at];
        error.count += 1;
        if !error.jobs.contains(&line.job) {
            error.jobs.push(line.job.clone());
            error.in_failed_job |= failed.contains(&line.job);
        }
        if line.timestamp.is_some() {
            error.first_seen = error.first_seen.take().or_else(|| line.timestamp.clone());
            error.last_seen = line.timestamp.clone();
        }
    }
    scan
}

fn new_error(catalog: &Catalog, found: Found, line: &LogLine) -> AwsError {
    let entry = found.entry.as_ref().ok().map(|&e| catalog.entry(e));
    AwsError {
        code: found.code,
        service: found.service,
        operation: found.operation,
        cause: entry.map_or_else(|| "other".to_string(), |e| e.cause.clone()),
        retry: entry.map(|e| e.retry),
        meaning: entry.map(|e| e.meaning.clone()),
        advice: entry.map(|e| e.advice.clone()),
        count: 0,
        jobs: Vec::new(),
        in_failed_job: false,
        first_seen: None,
        last_seen: None,
        evidence: format!("{}:{}: {}", line.source, line.line, clipped(&line.text, EVIDENCE_CHARS)),
        denial: found.denial,
    }
}

/// One kind as a phrase: `ThrottlingException from CloudWatch on PutMetricData ×3 (a retry with
/// backoff helps)`, and for a denial who was denied what.
pub fn describe(error: &AwsError) -> String {
    let mut text = error.code.clone();
    if let Some(service) = &error.service {
        text.push_str(&format!(" from {service}"));
    }
    if let Some(op) = &error.operation {
        text.push_str(&format!(" on {op}"));
    }
    text.push_str(&format!(" ×{}", error.count));
    match error.retry {
        Some(true) => text.push_str(" (a retry with backoff helps)"),
        Some(false) => text.push_str(" (a retry does not help)"),
        None => text.push_str(" (not in the catalog)"),
    }
    if let Some(denial) = &error.denial {
        text.push_str(&format!(": {}", denial.describe()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(job: &str, n: u64, text: &str) -> LogLine {
        LogLine {
            source: "build.log".into(),
            job: job.into(),
            step: None,
            timestamp: Some(format!("2026-12-07T10:00:{n:02}Z")),
            level: Level::Info,
            text: text.into(),
            line: n,
            location: None,
            failure: false,
        }
    }

    fn one(text: &str) -> AwsError {
        let found = scan(&[line("deploy", 1, text)], Catalog::builtin());
        assert_eq!(found.errors.len(), 1, "{text}: {:?}", found.errors);
        found.errors.into_iter().next().unwrap()
    }

    #[test]
    fn each_sdks_shape_gives_the_code_service_and_operation() {
        let cases = [
            (
                "An error occurred (ThrottlingException) when calling the PutMetricData operation (reached max retries: 4): Rate exceeded",
                ("ThrottlingException", None, Some("PutMetricData"), "throttling"),
            ),
            (
                "com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down (Service: Amazon S3; Status Code: 503; Error Code: SlowDown; Request ID: 4B1C)",
                ("SlowDown", Some("S3"), None, "throttling"),
            ),
            (
                "Error: reading SSM Parameter (/app/db): operation error SSM: GetParameter, https response error StatusCode: 400, RequestID: 9f2a, api error ParameterNotFound: ",
                ("ParameterNotFound", Some("SSM"), Some("GetParameter"), "not-found"),
            ),
            (
                "software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException: The level of configured provisioned throughput for the table was exceeded. (Service: DynamoDb, Status Code: 400, Request ID: Q7)",
                ("ProvisionedThroughputExceededException", Some("DynamoDB"), None, "throttling"),
            ),
            (
                "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference ...</Message></Error>",
                ("RequestTimeTooSkewed", None, None, "clock-skew"),
            ),
            (
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"} dynamodb.eu-west-1.amazonaws.com"#,
                ("ResourceNotFoundException", Some("DynamoDB"), None, "not-found"),
            ),
            (
                "[Container] 2026/12/07 10:00:01 Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: npm test. Reason: exit status 1",
                ("COMMAND_EXECUTION_ERROR", Some("CodeBuild"), None, "build"),
            ),
            (
                "Error: creating bucket: BucketAlreadyExists: already exists status code: 409, request id: 1A2B",
                ("BucketAlreadyExists", None, None, "conflict"),
            ),
            (
                "TooManyRequestsException: Rate Exceeded. at @aws-sdk/client-lambda/dist-cjs/index.js:12",
                ("TooManyRequestsException", Some("Lambda"), None, "throttling"),
            ),
            (
                "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
                ("too many connections", None, None, "connections"),
            ),
            (
                "2026-12-07T10:00:01Z Task timed out after 30.03 seconds",
                ("Lambda task timed out", Some("Lambda"), None, "timeout"),
            ),
        ];
        for (text, (code, service, op, cause)) in cases {
            let e = one(text);
            assert_eq!(
                (e.code.as_str(), e.service.as_deref(), e.operation.as_deref(), e.cause.as_str()),
                (code, service, op, cause),
                "{text}"
            );
        }
    }

    #[test]
    fn a_code_in_an_sdk_shape_that_the_catalog_does_not_know_is_still_reported() {
        let e = one(
            "An error occurred (InvalidChangeBatch) when calling the ChangeResourceRecordSets operation: RRSet exists",
        );
        assert_eq!((e.cause.as_str(), e.retry, e.meaning.as_deref()), ("other", None, None));
        assert!(describe(&e).ends_with("×1 (not in the catalog)"), "{}", describe(&e));
    }

    #[test]
    fn common_words_and_class_names_count_only_in_an_sdk_shape() {
        let plain = [
            "java.nio.file.AccessDeniedException: /home/ci/.gradle/caches/lock",
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
            "Throttling requests to 10 per second",
            "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.1'",
            "java.util.ConcurrentModificationException at java.util.ArrayList$Itr.next",
            "Error: Process completed with exit code 1.",
            "      // The S3Proxy catches NoSuchKey errors and returns an empty stream",
            "",
        ];
        let lines: Vec<LogLine> = plain.iter().enumerate().map(|(i, t)| line("build", i as u64, t)).collect();
        assert!(scan(&lines, Catalog::builtin()).errors.is_empty());
        assert_eq!(
            one("An error occurred (Throttling) when calling the DescribeStacks operation: Rate exceeded").cause,
            "throttling"
        );
        let e = one(
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::111122223333:assumed-role/app/i-0abc is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/db because no identity-based policy allows the secretsmanager:GetSecretValue action",
        );
        assert_eq!((e.cause.as_str(), e.service.as_deref()), ("access-denied", Some("Secrets Manager")));
        let d = e.denial.unwrap();
        assert_eq!(
            d.describe(),
            "role app (session i-0abc): secretsmanager:GetSecretValue on prod/db denied (no identity-based policy allows the secretsmanager:GetSecretValue action)"
        );
    }

    #[test]
    fn a_shared_name_takes_the_service_the_line_names() {
        let ec2 = one(
            "An error occurred (RequestLimitExceeded) when calling the DescribeInstances operation: Request limit exceeded.",
        );
        assert_eq!(ec2.service.as_deref(), Some("EC2"));
        let ddb = one(
            "com.amazonaws.services.dynamodbv2.model.AmazonDynamoDBException: Throughput exceeds the current capacity for your account. (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: RequestLimitExceeded; Request ID: X)",
        );
        assert_eq!(
            (ddb.service.as_deref(), ddb.meaning.as_deref()),
            (Some("DynamoDB"), Some("DynamoDB throughput exceeded the account's quota"))
        );
    }

    #[test]
    fn the_same_error_is_counted_once_per_kind_with_its_jobs_and_times() {
        let mut lines = vec![
            line("api-tests", 1, "ThrottlingException: Rate exceeded"),
            line("deploy", 2, "ThrottlingException: Rate exceeded"),
            line(
                "deploy",
                3,
                "AccessDenied: User: arn:aws:iam::1:user/a is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::x/1",
            ),
            line(
                "deploy",
                4,
                "AccessDenied: User: arn:aws:iam::1:user/a is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::x/2",
            ),
            line("deploy", 5, "ThrottlingException: Rate exceeded"),
        ];
        lines.push(LogLine { failure: true, level: Level::Error, ..line("deploy", 6, "Finished: FAILURE") });
        let found = scan(&lines, Catalog::builtin());
        let kinds: Vec<(&str, usize, usize)> =
            found.errors.iter().map(|e| (e.code.as_str(), e.count, e.jobs.len())).collect();
        assert_eq!(kinds, [("ThrottlingException", 3, 2), ("AccessDenied", 1, 1), ("AccessDenied", 1, 1)]);
        let throttled = &found.errors[0];
        assert!(throttled.in_failed_job);
        assert_eq!(
            (throttled.first_seen.as_deref(), throttled.last_seen.as_deref()),
            (Some("2026-12-07T10:00:01Z"), Some("2026-12-07T10:00:05Z"))
        );
        assert_eq!(throttled.evidence, "build.log:1: ThrottlingException: Rate exceeded");
        assert_eq!(describe(throttled), "ThrottlingException ×3 (a retry with backoff helps)");
        assert!(scan(&[], Catalog::builtin()).errors.is_empty());
    }

    #[test]
    fn long_lines_are_clipped_at_a_character_boundary() {
        let text = format!("ThrottlingException: {}", "ж".repeat(1000));
        let e = one(&text);
        assert!(e.evidence.ends_with('…') && e.evidence.chars().count() < 450, "{}", e.evidence.len());
    }
}
