//! Metric evidence beside the build logs: when a pipeline failure coincides with a database at its
//! connection limit, throttled Lambda functions or an API answering 5XX, the timeline of what
//! happened where, which of it is the root and which the symptoms, and recommendations computed
//! from the numbers (never canned text).
//!
//! The rules, in order:
//! - **connection-pool-exhaustion** (a limit): an RDS instance's DatabaseConnections at or above
//!   95 % of its max_connections;
//! - **lambda-throttling** (a limit): a function's Throttles above 0;
//! - **concurrency-spike**: a function's ConcurrentExecutions at 3 times or more the median of its
//!   samples before the first event;
//! - **api-errors**: an API's 5XXError at 5 % or more of its Count;
//! - **retry-storm**: an API's Count at 2 times or more the median before the first event, once a
//!   limit was reached (clients retrying what failed).
//!
//! The root is the earliest limit reached; with no limit reached, the earliest event. Everything
//! else is a symptom.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a metric series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// AWS/RDS DatabaseConnections (Maximum); its limit is max_connections.
    DbConnections,
    /// AWS/Lambda Throttles (Sum).
    LambdaThrottles,
    /// AWS/Lambda ConcurrentExecutions (Maximum).
    LambdaConcurrency,
    /// AWS/ApiGateway 5XXError (Sum).
    ApiErrors,
    /// AWS/ApiGateway Count (Sum).
    ApiRequests,
}

impl Measure {
    /// The measure of a CloudWatch namespace and metric name.
    pub fn of(namespace: &str, metric: &str) -> Option<Measure> {
        Some(match (namespace, metric) {
            ("AWS/RDS", "DatabaseConnections") => Measure::DbConnections,
            ("AWS/Lambda", "Throttles") => Measure::LambdaThrottles,
            ("AWS/Lambda", "ConcurrentExecutions") => Measure::LambdaConcurrency,
            ("AWS/ApiGateway", "5XXError") => Measure::ApiErrors,
            ("AWS/ApiGateway", "Count") => Measure::ApiRequests,
            _ => return None,
        })
    }
}

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A series of one resource (a DB instance, a function, an API).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub measure: Measure,
    pub resource: String,
    pub samples: Vec<Sample>,
    /// The limit the measure runs into (max_connections), when known.
    pub limit: Option<f64>,
    /// The DB instance class and engine, for sizing a new limit.
    pub class: Option<String>,
    pub engine: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Root,
    Symptom,
}

/// Something the metrics show, from when, with the numbers that show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub role: Role,
    pub resource: String,
    pub peak: f64,
    pub limit: Option<f64>,
    pub evidence: String,
}

impl Event {
    fn is_limit(&self) -> bool {
        matches!(self.kind, "connection-pool-exhaustion" | "lambda-throttling")
    }
}

/// Thresholds of the rules above.
const SATURATED: f64 = 0.95;
const SPIKE: f64 = 3.0;
const ERROR_RATE: f64 = 0.05;
const STORM: f64 = 2.0;

fn clock(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.2}") }
}

fn peak(samples: &[Sample]) -> f64 {
    samples.iter().map(|s| s.value).fold(0.0, f64::max)
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// The events the signals show, in time order, with the root marked.
pub fn timeline(signals: &[Signal]) -> Vec<Event> {
    let mut events: Vec<Event> = signals.iter().filter_map(limit_event).collect();
    events.extend(api_errors(signals));
    // Spikes are measured against what came before anything went wrong.
    let onset = events.iter().map(|e| e.at).min();
    let limit_reached = events.iter().any(Event::is_limit);
    events.extend(signals.iter().filter_map(|s| spike(s, onset, limit_reached)));
    events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| b.is_limit().cmp(&a.is_limit())));
    let root = events.iter().position(Event::is_limit).or(if events.is_empty() { None } else { Some(0) });
    if let Some(i) = root {
        events[i].role = Role::Root;
    }
    events
}

fn limit_event(s: &Signal) -> Option<Event> {
    let (kind, first, evidence) = match s.measure {
        Measure::DbConnections => {
            let limit = s.limit.filter(|l| *l > 0.0)?;
            let first = s.samples.iter().find(|x| x.value >= SATURATED * limit)?;
            let text = format!(
                "DatabaseConnections on {} reached {} of max_connections {} at {} (peak {})",
                s.resource,
                trim(first.value),
                trim(limit),
                clock(&first.at),
                trim(peak(&s.samples))
            );
            ("connection-pool-exhaustion", first, text)
        }
        Measure::LambdaThrottles => {
            let first = s.samples.iter().find(|x| x.value > 0.0)?;
            let total: f64 = s.samples.iter().map(|x| x.value).sum();
            let text = format!(
                "{} throttled {} invocations from {} (at most {} a period)",
                s.resource,
                trim(total),
                clock(&first.at),
                trim(peak(&s.samples))
            );
            ("lambda-throttling", first, text)
        }
        _ => return None,
    };
    Some(Event {
        at: first.at,
        kind,
        role: Role::Symptom,
        resource: s.resource.clone(),
        peak: peak(&s.samples),
        limit: s.limit,
        evidence,
    })
}

/// 5XX at 5 % or more of an API's requests in the same period.
fn api_errors(signals: &[Signal]) -> Vec<Event> {
    let mut out = Vec::new();
    for errors in signals.iter().filter(|s| s.measure == Measure::ApiErrors) {
        let Some(requests) =
            signals.iter().find(|s| s.measure == Measure::ApiRequests && s.resource == errors.resource)
        else {
            continue;
        };
        let rate = |e: &Sample| {
            let count = requests.samples.iter().find(|r| r.at == e.at).map_or(0.0, |r| r.value);
            (count > 0.0).then(|| e.value / count)
        };
        let Some((first, r)) = errors.samples.iter().find_map(|e| rate(e).filter(|r| *r >= ERROR_RATE).map(|r| (e, r)))
        else {
            continue;
        };
        out.push(Event {
            at: first.at,
            kind: "api-errors",
            role: Role::Symptom,
            resource: errors.resource.clone(),
            peak: peak(&errors.samples),
            limit: None,
            evidence: format!(
                "{} answered {} 5XX of {} requests ({:.0} %) at {}",
                errors.resource,
                trim(first.value),
                trim(first.value / r),
                r * 100.0,
                clock(&first.at)
            ),
        });
    }
    out
}

/// A concurrency spike, or (once a limit was reached) a retry storm: a sample at a multiple of
/// the median of the samples before `onset` (all of them when nothing else happened).
fn spike(s: &Signal, onset: Option<DateTime<Utc>>, limit_reached: bool) -> Option<Event> {
    let (kind, factor, what) = match s.measure {
        Measure::LambdaConcurrency => ("concurrency-spike", SPIKE, "concurrent executions"),
        Measure::ApiRequests if limit_reached => ("retry-storm", STORM, "requests"),
        _ => return None,
    };
    let mut before: Vec<f64> = s.samples.iter().filter(|x| onset.is_none_or(|o| x.at < o)).map(|x| x.value).collect();
    let base = median(&mut before).filter(|b| *b > 0.0)?;
    let first = s.samples.iter().find(|x| x.value >= factor * base)?;
    Some(Event {
        at: first.at,
        kind,
        role: Role::Symptom,
        resource: s.resource.clone(),
        peak: peak(&s.samples),
        limit: None,
        evidence: format!(
            "{} had {} {what} at {}, {:.1} times its median of {} before",
            s.resource,
            trim(first.value),
            clock(&first.at),
            first.value / base,
            trim(base)
        ),
    })
}

/// Signals from rows of `timestamp, namespace, metric, resource, value`, and optionally `limit`
/// (max_connections), `class` and `engine` (of a DB instance): a CloudWatch export, or samples
/// written by hand. Rows of other metrics, and rows without a value, are left out.
pub fn signals_from_rows(rows: &[serde_json::Value]) -> Result<Vec<Signal>, String> {
    let mut out: Vec<Signal> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let text = |key: &str| row.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
        let number = |key: &str| {
            row.get(key).and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|t| t.trim().parse().ok())))
        };
        let (Some(namespace), Some(metric)) = (text("namespace"), text("metric")) else {
            return Err(format!("row {}: give namespace and metric (e.g. AWS/RDS, DatabaseConnections)", i + 1));
        };
        let Some(measure) = Measure::of(namespace, metric) else { continue };
        let Some(value) = number("value").filter(|v| v.is_finite()) else { continue };
        let resource = text("resource")
            .ok_or_else(|| format!("row {}: name the resource (a DB instance, function or API)", i + 1))?;
        let stamp = text("timestamp").unwrap_or_default();
        let at = super::schema_state::parse_time(stamp)
            .ok_or_else(|| format!("row {}: timestamp {stamp:?} is not a time such as 2024-05-14T12:00:00Z", i + 1))?;
        let signal = match out.iter().position(|s| s.measure == measure && s.resource == resource) {
            Some(at) => &mut out[at],
            None => {
                out.push(Signal {
                    measure,
                    resource: resource.to_string(),
                    samples: Vec::new(),
                    limit: None,
                    class: None,
                    engine: None,
                });
                out.last_mut().expect("just pushed")
            }
        };
        signal.samples.push(Sample { at, value });
        signal.limit = signal.limit.or(number("limit").filter(|l| l.is_finite() && *l > 0.0));
        signal.class = signal.class.take().or(text("class").map(str::to_string));
        signal.engine = signal.engine.take().or(text("engine").map(str::to_string));
    }
    for signal in &mut out {
        signal.samples.sort_by_key(|s| s.at);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(measure: Measure, resource: &str, values: &[f64], limit: Option<f64>) -> Signal {
        let start = DateTime::parse_from_rfc3339("2024-05-14T12:00:00Z").unwrap().with_timezone(&Utc);
        Signal {
            measure,
            resource: resource.into(),
            samples: values
                .iter()
                .enumerate()
                .map(|(i, v)| Sample { at: start + chrono::Duration::minutes(i as i64), value: *v })
                .collect(),
            limit,
            class: None,
            engine: None,
        }
    }

    #[test]
    fn the_database_at_its_limit_is_the_root_and_what_followed_are_symptoms() {
        let signals = [
            series(Measure::ApiRequests, "orders-api", &[100.0, 110.0, 105.0, 400.0, 380.0], None),
            series(Measure::ApiErrors, "orders-api", &[0.0, 0.0, 1.0, 60.0, 40.0], None),
            series(Measure::DbConnections, "orders-db", &[40.0, 60.0, 97.0, 100.0, 100.0], Some(100.0)),
            series(Measure::LambdaConcurrency, "settle", &[5.0, 6.0, 5.0, 30.0, 31.0], None),
        ];
        let events = timeline(&signals);
        let kinds: Vec<(&str, Role)> = events.iter().map(|e| (e.kind, e.role)).collect();
        assert_eq!(
            kinds,
            [
                ("connection-pool-exhaustion", Role::Root),
                ("api-errors", Role::Symptom),
                ("retry-storm", Role::Symptom),
                ("concurrency-spike", Role::Symptom),
            ]
        );
        assert_eq!(
            events[0].evidence,
            "DatabaseConnections on orders-db reached 97 of max_connections 100 at 2024-05-14 12:02:00Z (peak 100)"
        );
        assert!(events[2].evidence.contains("400 requests at 2024-05-14 12:03:00Z, 3.6 times its median of 110"));
    }

    #[test]
    fn quiet_metrics_and_no_metrics_show_nothing() {
        assert!(timeline(&[]).is_empty());
        let calm = [
            series(Measure::DbConnections, "orders-db", &[10.0, 12.0], Some(100.0)),
            series(Measure::DbConnections, "no-limit-known", &[500.0], None),
            series(Measure::LambdaThrottles, "settle", &[0.0, 0.0], None),
            series(Measure::ApiErrors, "orders-api", &[1.0], None),
            series(Measure::ApiRequests, "orders-api", &[0.0], None),
            series(Measure::LambdaConcurrency, "settle", &[], None),
        ];
        assert!(timeline(&calm).is_empty(), "{:?}", timeline(&calm));
    }
}
