//! AWS evidence through the SDK's own clients: CloudWatch metrics and alarms, CloudWatch Logs
//! events, RDS instances and clusters. The standard credential, profile and region chain applies;
//! `AWS_ENDPOINT_URL` (or an endpoint given here) points every client elsewhere, e.g. at moto.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no AWS region: set AWS_REGION (or a profile's region), or give one")]
    NoRegion,
    #[error("{call} {resource}: AWS refused the credentials or found none: {message}")]
    Credentials { call: &'static str, resource: String, message: String },
    #[error("{call} {resource}: access denied: {message}")]
    AccessDenied { call: &'static str, resource: String, message: String },
    #[error("{call} {resource}: not found: {message}")]
    NotFound { call: &'static str, resource: String, message: String },
    #[error("{call} {resource}: still throttled after {attempts} attempts with backoff: {message}")]
    Throttled { call: &'static str, resource: String, attempts: u32, message: String },
    #[error("{call} {resource}: {message}")]
    Call { call: &'static str, resource: String, message: String },
    #[error("{0}")]
    Input(String),
}

/// Attempts per call, with the SDK's exponential backoff between them (throttling included).
const ATTEMPTS: u32 = 5;

/// Configured clients for one session.
#[derive(Clone)]
pub struct Aws {
    config: aws_config::SdkConfig,
}

/// Where to reach AWS; each field overrides the standard chain.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl Aws {
    pub async fn load(options: &Options) -> Result<Aws, Error> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http).retry_config(
            RetryConfig::standard().with_max_attempts(ATTEMPTS).with_initial_backoff(Duration::from_millis(200)),
        );
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &options.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(Error::NoRegion);
        }
        Ok(Aws { config })
    }

    pub fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_default()
    }

    pub(crate) fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.config)
    }

    pub(crate) fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.config)
    }

    pub(crate) fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config)
    }

    #[cfg(feature = "ec2")]
    pub(crate) fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }

    pub(crate) fn codebuild(&self) -> aws_sdk_codebuild::Client {
        aws_sdk_codebuild::Client::new(&self.config)
    }

    pub(crate) fn logs_client(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub(crate) fn codepipeline(&self) -> aws_sdk_codepipeline::Client {
        aws_sdk_codepipeline::Client::new(&self.config)
    }

    /// Path-style addresses (`ENDPOINT/bucket/key`) when the endpoint is not AWS's own, as a
    /// stand-in such as moto or MinIO needs.
    #[cfg(feature = "s3")]
    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub(crate) fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub(crate) fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config)
    }
}

/// An SDK error as one of ours, naming the call and the resource. The error code and message
/// come from the SDK, or from the response body when the SDK could not parse it.
pub(crate) fn call_error<E>(call: &'static str, resource: &str, e: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let resource = resource.to_string();
    let raw = e.raw_response();
    let body = raw.and_then(|r| r.body().bytes()).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let tag = |name: &str| -> Option<String> {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = start + body[start..].find(&format!("</{name}>"))?;
        Some(body[start..end].to_string())
    };
    let service = e.as_service_error();
    let code = service.and_then(|s| s.code()).map(str::to_string).or_else(|| tag("Code")).unwrap_or_default();
    let detail = service.and_then(|s| s.message()).map(str::to_string).or_else(|| tag("Message"));
    let status = raw.map(|r| r.status().as_u16());
    let message = match (&detail, status) {
        (Some(m), _) if !code.is_empty() => format!("{code}: {m}"),
        (Some(m), _) => m.clone(),
        (None, Some(status)) if service.is_some() => {
            format!("HTTP {status}{}", if code.is_empty() { String::new() } else { format!(" {code}") })
        }
        _ => DisplayErrorContext(&e).to_string(),
    };
    let message = crate::evidence::redact(&message).into_owned();
    match code.as_str() {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            Error::AccessDenied { call, resource, message }
        }
        "ResourceNotFoundException"
        | "NotFoundException"
        | "DBInstanceNotFound"
        | "DBClusterNotFoundFault"
        | "ResourceNotFound"
        | "PipelineNotFoundException"
        | "PipelineExecutionNotFoundException"
        | "NoSuchKey"
        | "NoSuchBucket" => Error::NotFound { call, resource, message },
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            Error::Throttled { call, resource, attempts: ATTEMPTS, message }
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "ExpiredToken" | "SignatureDoesNotMatch" => {
            Error::Credentials { call, resource, message }
        }
        _ if status == Some(403) => Error::AccessDenied { call, resource, message },
        _ if code.is_empty() && message.contains("credentials") => Error::Credentials { call, resource, message },
        _ => Error::Call { call, resource, message },
    }
}

fn rfc3339(t: &DateTime) -> String {
    t.fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime).unwrap_or_default()
}

/// One metric series to fetch: its dimensions as (name, value) pairs.
pub type Dimensions = Vec<(String, String)>;

/// A datapoint of a metric series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Which of the requested dimension sets it belongs to.
    pub series: usize,
    pub value: f64,
}

/// Datapoints of `metric` in `namespace` for each dimension set, over [start, end), one value per
/// `period` seconds with statistic `stat`: GetMetricData, every page, up to 500 series a call.
#[allow(clippy::too_many_arguments)]
pub async fn metrics(
    aws: &Aws,
    namespace: &str,
    metric: &str,
    series: &[Dimensions],
    start: DateTime,
    end: DateTime,
    period: i32,
    stat: &str,
) -> Result<Vec<Point>, Error> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let client = aws.cloudwatch();
    let resource = format!("{namespace}/{metric}");
    let mut points = Vec::new();
    for (chunk_index, chunk) in series.chunks(500).enumerate() {
        let mut request = client.get_metric_data().start_time(start).end_time(end);
        for (i, dims) in chunk.iter().enumerate() {
            let dimensions: Vec<Dimension> =
                dims.iter().map(|(n, v)| Dimension::builder().name(n).value(v).build()).collect();
            let m = Metric::builder().namespace(namespace).metric_name(metric).set_dimensions(Some(dimensions)).build();
            let stat = MetricStat::builder().metric(m).period(period).stat(stat).build();
            let query = MetricDataQuery::builder()
                .id(format!("s{}", chunk_index * 500 + i))
                .metric_stat(stat)
                .return_data(true)
                .build();
            request = request.metric_data_queries(query);
        }
        let pages = request
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| call_error("GetMetricData", &resource, e))?;
        for page in pages {
            for result in page.metric_data_results() {
                // Our ids are `s<index>`; a result under any other id is not one we asked for.
                let Some(index) = result.id().and_then(series_index).filter(|&i| i < series.len()) else { continue };
                for (t, v) in result.timestamps().iter().zip(result.values()) {
                    points.push(Point { timestamp: rfc3339(t), series: index, value: *v });
                }
            }
        }
    }
    points.sort_by(|a, b| (a.series, &a.timestamp).cmp(&(b.series, &b.timestamp)));
    Ok(points)
}

/// The series index in a GetMetricData query id (`s12` -> 12).
fn series_index(id: &str) -> Option<usize> {
    id.strip_prefix('s')?.parse().ok()
}

/// A CloudWatch alarm with every field alert-rule drift compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub namespace: Option<String>,
    pub metric: Option<String>,
    /// `Name=Value` pairs, comma-separated, sorted.
    pub dimensions: String,
    pub statistic: Option<String>,
    pub period: Option<i32>,
    pub evaluation_periods: Option<i32>,
    pub datapoints_to_alarm: Option<i32>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub treat_missing_data: Option<String>,
    pub actions: String,
    pub ok_actions: String,
    pub state: Option<String>,
    pub state_reason: Option<String>,
    /// For metric-math alarms: each query as `id: expression` or `id: namespace/metric stat period`.
    pub metrics: Option<String>,
    pub threshold_metric_id: Option<String>,
    /// The metric-math queries, whole (the `metrics` column is their summary).
    #[serde(skip)]
    pub queries: Vec<AlarmQuery>,
}

/// One query of a metric-math alarm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlarmQuery {
    pub id: String,
    pub expression: Option<String>,
    pub metric: Option<String>,
    pub period: Option<i32>,
    pub return_data: Option<bool>,
    /// `(name, value)` pairs of the metric's dimensions.
    pub dimensions: Vec<(String, String)>,
}

/// Metric alarms whose names start with `prefix` (all with ""), every page of DescribeAlarms.
pub async fn alarms(aws: &Aws, prefix: &str, state: Option<&str>) -> Result<Vec<Alarm>, Error> {
    let client = aws.cloudwatch();
    let mut request = client.describe_alarms();
    if !prefix.is_empty() {
        request = request.alarm_name_prefix(prefix);
    }
    if let Some(state) = state {
        request = request.state_value(state.into());
    }
    let pages = request
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("DescribeAlarms", if prefix.is_empty() { "(all alarms)" } else { prefix }, e))?;
    let mut out = Vec::new();
    for page in pages {
        for a in page.metric_alarms() {
            let mut dims: Vec<String> = a
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or_default(), d.value().unwrap_or_default()))
                .collect();
            dims.sort();
            let metrics: Vec<String> = a
                .metrics()
                .iter()
                .map(|q| {
                    let id = q.id().unwrap_or_default();
                    match (q.expression(), q.metric_stat()) {
                        (Some(expression), _) => format!("{id}: {expression}"),
                        (None, Some(s)) => {
                            let m = s.metric();
                            format!(
                                "{id}: {}/{} {} {}",
                                m.and_then(|m| m.namespace()).unwrap_or_default(),
                                m.and_then(|m| m.metric_name()).unwrap_or_default(),
                                s.stat().unwrap_or_default(),
                                s.period().unwrap_or_default()
                            )
                        }
                        _ => id.to_string(),
                    }
                })
                .collect();
            let queries = a
                .metrics()
                .iter()
                .map(|q| {
                    let stat = q.metric_stat();
                    let metric = stat.and_then(|s| s.metric());
                    AlarmQuery {
                        id: q.id().unwrap_or_default().to_string(),
                        expression: q.expression().map(str::to_string),
                        metric: metric.and_then(|m| m.metric_name()).map(str::to_string),
                        period: stat.and_then(|s| s.period()),
                        return_data: q.return_data(),
                        dimensions: metric
                            .map(|m| {
                                m.dimensions()
                                    .iter()
                                    .map(|d| {
                                        (
                                            d.name().unwrap_or_default().to_string(),
                                            d.value().unwrap_or_default().to_string(),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }
                })
                .collect();
            out.push(Alarm {
                name: a.alarm_name().unwrap_or_default().to_string(),
                description: a.alarm_description().map(str::to_string),
                namespace: a.namespace().map(str::to_string),
                metric: a.metric_name().map(str::to_string),
                dimensions: dims.join(","),
                statistic: a
                    .statistic()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.extended_statistic().map(str::to_string)),
                period: a.period(),
                evaluation_periods: a.evaluation_periods(),
                datapoints_to_alarm: a.datapoints_to_alarm(),
                threshold: a.threshold(),
                comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
                treat_missing_data: a.treat_missing_data().map(str::to_string),
                actions: a.alarm_actions().join(","),
                ok_actions: a.ok_actions().join(","),
                state: a.state_value().map(|s| s.as_str().to_string()),
                state_reason: a.state_reason().map(str::to_string),
                metrics: (!metrics.is_empty()).then(|| metrics.join("; ")),
                threshold_metric_id: a.threshold_metric_id().map(str::to_string),
                queries,
            });
        }
    }
    Ok(out)
}

/// A CloudWatch Logs event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEvent {
    /// RFC 3339, UTC, milliseconds.
    pub timestamp: String,
    pub stream: String,
    pub message: String,
    pub event_id: String,
}

fn millis_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Events of log group `group` matching `filter` (a CloudWatch Logs filter pattern; "" for all)
/// in [start, end), every page of FilterLogEvents.
pub async fn logs(
    aws: &Aws,
    group: &str,
    filter: &str,
    start: DateTime,
    end: DateTime,
) -> Result<Vec<LogEvent>, Error> {
    let client = aws.logs_client();
    let mut request = client
        .filter_log_events()
        .log_group_name(group)
        .start_time(start.to_millis().unwrap_or(0))
        .end_time(end.to_millis().unwrap_or(i64::MAX));
    if !filter.is_empty() {
        request = request.filter_pattern(filter);
    }
    let pages =
        request.into_paginator().send().try_collect().await.map_err(|e| call_error("FilterLogEvents", group, e))?;
    let mut out = Vec::new();
    for page in pages {
        for e in page.events() {
            out.push(LogEvent {
                timestamp: millis_rfc3339(e.timestamp().unwrap_or_default()),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
                event_id: e.event_id().unwrap_or_default().to_string(),
            });
        }
    }
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    Ok(out)
}

/// An RDS instance or cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Database {
    pub identifier: String,
    pub engine: Option<String>,
    pub version: Option<String>,
    /// The instance class (instances only).
    pub class: Option<String>,
    /// host:port
    pub endpoint: Option<String>,
    pub parameter_group: Option<String>,
    /// From the parameter group, when it sets a number (not a formula of the instance's memory).
    pub max_connections: Option<i64>,
    pub status: Option<String>,
    /// The cluster an instance belongs to; the member count of a cluster.
    pub cluster: Option<String>,
}

/// Every RDS instance, with `max_connections` from its parameter group where that is a number.
pub async fn rds_instances(aws: &Aws) -> Result<Vec<Database>, Error> {
    let client = aws_sdk_rds::Client::new(&aws.config);
    let pages = client
        .describe_db_instances()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("DescribeDBInstances", "(all instances)", e))?;
    let mut out = Vec::new();
    for page in pages {
        for i in page.db_instances() {
            let group = i.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name()).map(str::to_string);
            let max_connections = match &group {
                Some(g) => max_connections(&client, g).await?,
                None => None,
            };
            out.push(Database {
                identifier: i.db_instance_identifier().unwrap_or_default().to_string(),
                engine: i.engine().map(str::to_string),
                version: i.engine_version().map(str::to_string),
                class: i.db_instance_class().map(str::to_string),
                endpoint: i
                    .endpoint()
                    .map(|e| format!("{}:{}", e.address().unwrap_or_default(), e.port().unwrap_or_default())),
                parameter_group: group,
                max_connections,
                status: i.db_instance_status().map(str::to_string),
                cluster: i.db_cluster_identifier().map(str::to_string),
            });
        }
    }
    Ok(out)
}

async fn max_connections(client: &aws_sdk_rds::Client, group: &str) -> Result<Option<i64>, Error> {
    let pages = client
        .describe_db_parameters()
        .db_parameter_group_name(group)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("DescribeDBParameters", group, e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.parameters())
        .find(|p| p.parameter_name() == Some("max_connections"))
        .and_then(|p| p.parameter_value())
        .and_then(|v| v.parse().ok()))
}

/// Every RDS (Aurora) cluster.
pub async fn rds_clusters(aws: &Aws) -> Result<Vec<Database>, Error> {
    let client = aws_sdk_rds::Client::new(&aws.config);
    let pages = client
        .describe_db_clusters()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("DescribeDBClusters", "(all clusters)", e))?;
    let mut out = Vec::new();
    for page in pages {
        for c in page.db_clusters() {
            out.push(Database {
                identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
                engine: c.engine().map(str::to_string),
                version: c.engine_version().map(str::to_string),
                class: c.db_cluster_instance_class().map(str::to_string),
                endpoint: c.endpoint().map(|e| format!("{e}:{}", c.port().unwrap_or_default())),
                parameter_group: c.db_cluster_parameter_group().map(str::to_string),
                max_connections: None,
                status: c.status().map(str::to_string),
                cluster: Some(format!("{} members", c.db_cluster_members().len())),
            });
        }
    }
    Ok(out)
}

/// A time for a call: RFC 3339 text, seconds since the epoch, "now", or "-15m" / "-2h" / "-1d"
/// before now.
pub fn time(text: &str) -> Result<DateTime, Error> {
    let t = text.trim();
    let now = chrono::Utc::now().timestamp();
    if t == "now" {
        return Ok(DateTime::from_secs(now));
    }
    if let Some(ago) = t.strip_prefix('-') {
        let split = ago.find(|c: char| !c.is_ascii_digit()).unwrap_or(ago.len());
        let (n, unit) = ago.split_at(split);
        let n: i64 = n.parse().map_err(|_| Error::Input(format!("{text:?} is not a time like -15m, -2h or -1d")))?;
        let per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(Error::Input(format!("{text:?}: use s, m, h or d after the number"))),
        };
        let secs = n.checked_mul(per).and_then(|s| now.checked_sub(s));
        return secs.map(DateTime::from_secs).ok_or_else(|| Error::Input(format!("{text:?} is too far back")));
    }
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(DateTime::from_secs(secs));
    }
    chrono::DateTime::parse_from_rfc3339(t).map(|d| DateTime::from_millis(d.timestamp_millis())).map_err(|_| {
        Error::Input(format!("{text:?} is not a time: give RFC 3339, seconds since the epoch, now, or -15m"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_too_far_back_are_refused_not_overflowed() {
        assert!(super::time("-99999999999999999d").unwrap_err().to_string().contains("too far back"));
        assert!(super::time("-2h").is_ok());
    }

    #[test]
    fn only_our_query_ids_name_a_series() {
        assert_eq!(super::series_index("s12"), Some(12));
        for id in ["", "s", "é", "x1", "s-1", "sé"] {
            assert_eq!(super::series_index(id), None, "{id:?}");
        }
    }
}
