//! `aws::` functions: CloudWatch metrics and alarms, CloudWatch Logs events, RDS instances and
//! clusters, as Frames. Clients are made on first use from the standard chain (AWS_REGION,
//! AWS_PROFILE, AWS_ENDPOINT_URL, credentials), or from `aws::configure`.

use super::Locked;
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::api::{Api, FnDoc};
use super::{Shared, block, frame_of, rt_error, serialized};
use crate::collect::aws::{self, Aws, Dimensions, Options};
use crate::frame::Frame;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The session's AWS clients, made on first use.
#[derive(Default)]
pub struct AwsState {
    options: Mutex<Options>,
    clients: Mutex<Option<Aws>>,
}

pub(crate) fn clients(s: &Shared) -> Result<Aws> {
    if let Some(aws) = s.aws.clients.locked().clone() {
        return Ok(aws);
    }
    let options = s.aws.options.locked().clone();
    let aws = block(s, Aws::load(&options))?.map_err(rt_error)?;
    *s.aws.clients.locked() = Some(aws.clone());
    Ok(aws)
}

fn dimensions_of(value: &Dynamic) -> Result<Vec<Dimensions>> {
    let one = |m: Map| -> Dimensions {
        let mut d: Dimensions = m.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        d.sort();
        d
    };
    if let Some(m) = value.clone().try_cast::<Map>() {
        return Ok(vec![one(m)]);
    }
    let list: Array = value
        .clone()
        .try_cast()
        .ok_or_else(|| rt_error("dimensions: a map #{Name: \"value\"}, or an array of them"))?;
    list.into_iter()
        .map(|d| {
            d.try_cast::<Map>().map(one).ok_or_else(|| rt_error("dimensions: each element is a map #{Name: \"value\"}"))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn metrics(
    s: &Shared,
    namespace: &str,
    metric: &str,
    dims: Dynamic,
    start: &str,
    end: &str,
    period: i64,
    stat: &str,
) -> Result<Frame> {
    let series = dimensions_of(&dims)?;
    let (start, end) = (aws::time(start).map_err(rt_error)?, aws::time(end).map_err(rt_error)?);
    let period = i32::try_from(period)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| rt_error(format!("period {period}: seconds, more than 0")))?;
    let aws = clients(s)?;
    let points =
        block(s, aws::metrics(&aws, namespace, metric, &series, start, end, period, stat))?.map_err(rt_error)?;
    let mut names: Vec<String> = series.iter().flatten().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    let rows: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            let mut row = serde_json::Map::new();
            row.insert("timestamp".into(), p.timestamp.clone().into());
            for name in &names {
                let value = series[p.series].iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
                row.insert(name.clone(), value.map_or(serde_json::Value::Null, Into::into));
            }
            row.insert("value".into(), p.value.into());
            serde_json::Value::Object(row)
        })
        .collect();
    let columns: Vec<&str> =
        std::iter::once("timestamp").chain(names.iter().map(String::as_str)).chain(["value"]).collect();
    frame_of(&rows, &columns)
}

const ALARM_COLUMNS: &[&str] = &[
    "name",
    "description",
    "namespace",
    "metric",
    "dimensions",
    "statistic",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "comparison",
    "treat_missing_data",
    "actions",
    "ok_actions",
    "state",
    "state_reason",
    "metrics",
    "threshold_metric_id",
];
const DATABASE_COLUMNS: &[&str] = &[
    "identifier",
    "engine",
    "version",
    "class",
    "endpoint",
    "parameter_group",
    "max_connections",
    "status",
    "cluster",
];

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("aws");
    let s = shared.clone();
    api.add(
        FnDoc::new("configure")
            .usage("aws::configure(options: map)")
            .summary("Point this session's AWS clients somewhere other than the standard chain says; takes effect for the calls after it.")
            .param("options", "#{endpoint_url: \"http://127.0.0.1:5000\", region: \"eu-west-1\", profile: \"audit\"} (each optional)")
            .returns("nothing")
            .example(r#"aws::configure(#{region: "eu-west-1"}); aws::region()"#, r#""eu-west-1""#)
            .volatile(),
        move |options: Map| -> Result<()> {
            let text = |key: &str| options.get(key).map(|v| v.to_string());
            *s.aws.options.locked() = Options { endpoint_url: text("endpoint_url"), region: text("region"), profile: text("profile") };
            *s.aws.clients.locked() = None;
            Ok(())
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("region")
            .usage("aws::region() -> string")
            .summary("The region this session's AWS calls go to.")
            .returns("the region name; an error says how to set one when there is none")
            .example(r#"aws::configure(#{region: "us-east-2"}); aws::region()"#, r#""us-east-2""#)
            .volatile(),
        move || -> Result<String> { Ok(clients(&s)?.region()) },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("metrics")
            .usage("aws::metrics(namespace: string, metric: string, dimensions, start: string, end: string, period: int, stat: string) -> Frame")
            .summary("CloudWatch datapoints of one metric for one dimension set, or many at once (GetMetricData, every page, 500 series a call).")
            .param("dimensions", "#{DBInstanceIdentifier: \"orders-db\"}, or an array of such maps for a batch")
            .param("start", "RFC 3339, seconds since the epoch, \"now\", or \"-3h\"")
            .param("period", "seconds per datapoint")
            .param("stat", "Average, Sum, Maximum, Minimum, SampleCount or a percentile such as p99")
            .returns("a Frame (timestamp, one column per dimension name, value), by series then time")
            .example(
                r#"aws::configure(#{endpoint_url: MOTO_URL}); aws::metrics("AWS/RDS", "DatabaseConnections", [#{DBInstanceIdentifier: "orders-db"}, #{DBInstanceIdentifier: "users-db"}], "-3h", "now", 60, "Maximum").filter("DBInstanceIdentifier = 'users-db'").col("value").len()"#,
                "10",
            )
            .volatile(),
        move |namespace: &str, metric: &str, dims: Dynamic, start: &str, end: &str, period: i64, stat: &str| {
            metrics(&s, namespace, metric, dims, start, end, period, stat)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("alarms")
            .usage("aws::alarms() -> Frame")
            .usage("aws::alarms(filter) -> Frame")
            .summary("CloudWatch metric alarms with every field alert drift compares: metric, dimensions, statistic, period, evaluation periods, datapoints to alarm, threshold, comparison, missing-data treatment, actions, state, and metric-math queries.")
            .param("filter", "a name prefix, or #{prefix: \"orders-\", state: \"ALARM\"}")
            .returns(&format!("a Frame ({})", ALARM_COLUMNS.join(", ")))
            .example(r#"aws::configure(#{endpoint_url: MOTO_URL}); aws::alarms("orders-db").select(["threshold", "comparison", "datapoints_to_alarm"]).rows()"#, r#"[{"threshold": 90.0, "comparison": "GreaterThanThreshold", "datapoints_to_alarm": 3}]"#)
            .volatile(),
        move || alarms(&s, "", None),
    )
    .overload({
        let s = shared.clone();
        move |filter: Dynamic| -> Result<Frame> {
            if let Ok(prefix) = filter.clone().into_string() {
                return alarms(&s, &prefix, None);
            }
            let m: Map = filter.try_cast().ok_or_else(|| rt_error("filter: a name prefix or #{prefix, state}"))?;
            let prefix = m.get("prefix").map(|v| v.to_string()).unwrap_or_default();
            alarms(&s, &prefix, m.get("state").map(|v| v.to_string()).as_deref())
        }
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("logs")
            .usage("aws::logs(group: string, filter: string, start: string, end: string) -> Frame")
            .summary("CloudWatch Logs events of a log group (FilterLogEvents, every page).")
            .param("filter", "a CloudWatch Logs filter pattern such as \"ERROR\", or \"\" for every event")
            .returns("a Frame (timestamp, stream, message, event_id), oldest first")
            .example(r#"aws::configure(#{endpoint_url: MOTO_URL}); aws::logs("/shop/api", "ERROR", "-1d", "now").col("message")"#, r#"["ERROR tenant=acme pool exhausted"]"#)
            .volatile(),
        move |group: &str, filter: &str, start: &str, end: &str| -> Result<Frame> {
            let (start, end) = (aws::time(start).map_err(rt_error)?, aws::time(end).map_err(rt_error)?);
            let aws = clients(&s)?;
            let events = block(&s, aws::logs(&aws, group, filter, start, end))?.map_err(rt_error)?;
            frame_of(&serialized(&events), &["timestamp", "stream", "message", "event_id"])
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("metric_inventory")
            .usage("aws::metric_inventory(options: map) -> Frame")
            .summary("Which tenants have metrics in CloudWatch (ListMetrics, every page), which of them have alarms on those metrics (DescribeAlarms), and which have an SLO. A tenant with metrics and an SLO but no alarm is drift: missing-in-source. Tenants are named by a dimension of their metrics, or by their own namespace after a prefix (Tenants/acme).")
            .param("options", "#{namespace_prefix: \"Tenants/\" (only namespaces starting so; with no dimension, what follows names the tenant), dimension: \"Tenant\" (the tenant is this dimension's value), slos: a Frame of slo::load or its source, alarm_prefix: \"checkout-\"}")
            .returns(&format!("a Frame ({}), one row per tenant with metrics; status is covered, missing-in-source, no-slo or unguarded", INVENTORY_COLUMNS.join(", ")))
            .example(
                r#"aws::configure(#{endpoint_url: MOTO_URL}); let p = temp_path("slos.toml"); write_text(p, "[[slo]]\nservice = \"api\"\nname = \"availability\"\nobjective = 0.999\ntenants = [\"acme\", \"globex\"]\n"); aws::metric_inventory(#{namespace_prefix: "Tenants/", slos: slo::load(p)}).select(["tenant", "metrics", "alarms", "status"]).rows()"#,
                r#"[{"tenant": "acme", "metrics": 2, "alarms": "tenant-acme-errors", "status": "covered"}, {"tenant": "globex", "metrics": 2, "alarms": null, "status": "missing-in-source"}, {"tenant": "initech", "metrics": 1, "alarms": null, "status": "unguarded"}]"#,
            )
            .volatile(),
        move |options: Map| metric_inventory(&s, &options),
    );

    for (name, what) in [
        ("rds_instances", "RDS instances, with max_connections from their parameter group where it is a number"),
        ("rds_clusters", "RDS (Aurora) clusters"),
    ] {
        let s = shared.clone();
        api.add(
            FnDoc::new(name)
                .usage(&format!("aws::{name}() -> Frame"))
                .summary(&format!("Every one of the account's {what}."))
                .returns(&format!("a Frame ({})", DATABASE_COLUMNS.join(", ")))
                .example(&format!("aws::configure(#{{endpoint_url: MOTO_URL}}); aws::{name}().columns().len()"), "9")
                .volatile(),
            move || -> Result<Frame> {
                let aws = clients(&s)?;
                let found = if name == "rds_instances" {
                    block(&s, aws::rds_instances(&aws))?
                } else {
                    block(&s, aws::rds_clusters(&aws))?
                };
                frame_of(&serialized(&found.map_err(rt_error)?), DATABASE_COLUMNS)
            },
        );
    }
    api.end_namespace();
}

const INVENTORY_COLUMNS: &[&str] = &["tenant", "status", "namespaces", "metrics", "series", "alarms", "slos"];

fn metric_inventory(s: &Shared, options: &Map) -> Result<Frame> {
    use crate::slo::inventory::{TenantBy, inventory};
    let text = |key: &str| options.get(key).map(|v| v.to_string()).filter(|v| !v.is_empty());
    let prefix = text("namespace_prefix").unwrap_or_default();
    let by = match (text("dimension"), prefix.is_empty()) {
        (Some(dimension), _) => TenantBy::Dimension(dimension),
        (None, false) => TenantBy::Namespace(prefix.clone()),
        (None, true) => {
            return Err(rt_error(
                "aws::metric_inventory needs to know how tenants show: dimension (e.g. \"Tenant\") or namespace_prefix (e.g. \"Tenants/\")",
            ));
        }
    };
    let slos = match options.get("slos") {
        None => Vec::new(),
        Some(v) => match v.clone().try_cast::<Frame>() {
            Some(frame) => super::slo_api::slos_of(&frame)?,
            None => super::slo_api::load_slos(s, v, None)?,
        },
    };
    let aws = clients(s)?;
    let series = block(s, crate::collect::metric_list::series(&aws, &prefix))?.map_err(rt_error)?;
    let alarms = block(s, aws::alarms(&aws, &text("alarm_prefix").unwrap_or_default(), None))?.map_err(rt_error)?;
    let listed = |items: &[String]| if items.is_empty() { serde_json::Value::Null } else { items.join(", ").into() };
    let rows: Vec<serde_json::Value> = inventory(&series, &by, &alarms, &slos)
        .iter()
        .map(|t| {
            serde_json::json!({
                "tenant": t.tenant, "status": t.status, "namespaces": listed(&t.namespaces), "metrics": t.metrics,
                "series": t.series, "alarms": listed(&t.alarms), "slos": listed(&t.slos),
            })
        })
        .collect();
    frame_of(&rows, INVENTORY_COLUMNS)
}

fn alarms(s: &Shared, prefix: &str, state: Option<&str>) -> Result<Frame> {
    let aws = clients(s)?;
    let found = block(s, aws::alarms(&aws, prefix, state))?.map_err(rt_error)?;
    frame_of(&serialized(&found), ALARM_COLUMNS)
}
