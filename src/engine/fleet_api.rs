//! `fleet::` functions: a service's instances on the hosts an inventory names, heap dumps of
//! all of them at once, and the instance that stands out from its siblings.

use super::api::{Api, FnDoc};
use super::heap_api::{dump_label, read_histogram};
use super::live_api::{duration, wait};
use super::progress::Progress;
use super::{Shared, block, fleet_near, frame_of, input_error, rt_error};
use crate::evidence::{Finding, Severity};
#[cfg(feature = "ec2")]
use crate::fleet::ec2;
use crate::fleet::inventory::{self, Instance};
use crate::fleet::outlier::{self, Sample};
use crate::fleet::snapshot::{self, Taken};
use crate::fleet::{ecs, gather};
use crate::frame::Frame;
use crate::heap::histogram::ClassRow;
use rhai::{Array, EvalAltResult, Map};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

const INSTANCE_COLUMNS: &[&str] = &["service", "instance", "host", "pid", "version", "task", "command"];
const SNAPSHOT_COLUMNS: &[&str] = &[
    "service",
    "instance",
    "host",
    "pid",
    "version",
    "task",
    "round",
    "taken_at",
    "taken_ms",
    "path",
    "remote",
    "dump_bytes",
    "deployclaw_sent",
    "bytes_moved",
    "analysis",
    "seconds",
    "error",
];
const OUTLIER_COLUMNS: &[&str] =
    &["service", "instance", "bytes", "median_bytes", "over_median_pct", "robust_z", "outlier", "classes"];

/// The instances of `wanted` (all services when empty) in the inventory at `path`. Hosts that
/// could not be asked are warning findings; the others' instances are still found.
fn discover(s: &Shared, path: &str, wanted: &[String]) -> Result<Vec<Instance>> {
    let mut inventory = inventory::read(Path::new(path)).map_err(input_error)?;
    let ecs_services = inventory.ecs.as_ref().map(|e| e.services.clone()).unwrap_or_default();
    let ec2_services = inventory.ec2.as_ref().map(|e| e.services.clone()).unwrap_or_default();
    let mut known: Vec<String> = inventory.services.iter().map(|s| s.name.clone()).collect();
    known.extend(ecs_services.iter().chain(&ec2_services).cloned());
    if let Some(missing) = wanted.iter().find(|w| !known.contains(w)) {
        return Err(input_error(format!("inventory {path}: no service {missing:?} (it lists {})", known.join(", "))));
    }
    for name in ecs_services.iter().filter(|n| wanted.is_empty() || wanted.contains(n)) {
        add_ecs_tasks(s, &mut inventory, name)?;
    }
    for name in ec2_services.iter().filter(|n| wanted.is_empty() || wanted.contains(n)) {
        add_ec2_instances(s, &mut inventory, name)?;
    }
    let services = inventory.services;
    let mut instances = Vec::new();
    for service in services.iter().filter(|sv| wanted.is_empty() || wanted.contains(&sv.name)) {
        let found = inventory::discover(service);
        for (host, error) in found.failed {
            let title =
                format!("{}: host {host} could not be asked for its JVMs; its instances are left out", service.name);
            let details =
                json!({ "service": service.name, "host": host, "error": crate::evidence::redact(&error.to_string()) });
            s.add_finding(Finding { severity: Severity::Warning, title, details })?;
        }
        if found.instances.is_empty() {
            let title =
                format!("{}: no running instance found on any of its {} host(s)", service.name, service.hosts.len());
            s.add_finding(Finding { severity: Severity::Warning, title, details: json!({ "service": service.name }) })?;
        }
        instances.extend(found.instances);
    }
    Ok(instances)
}

/// The running tasks of an ECS service, as hosts of the service.
fn add_ecs_tasks(s: &Shared, inventory: &mut inventory::Inventory, name: &str) -> Result<()> {
    let Some(cluster) = inventory.ecs.as_ref().map(|e| e.cluster.clone()) else { return Ok(()) };
    let aws = super::aws_api::clients(s)?;
    let tasks = block(s, ecs::service_tasks(&aws, &cluster, name))?.map_err(rt_error)?;
    let addresses: Vec<String> = tasks.iter().filter_map(|t| t.address.clone()).collect();
    eprintln!("fleet: ECS cluster {cluster}: {name} has {} running task(s): {}", tasks.len(), addresses.join(", "));
    for task in inventory.add_ecs_service(name, tasks) {
        let title = format!("{name}: ECS task {} reports no address; it is left out", task.id);
        s.add_finding(Finding {
            severity: Severity::Warning,
            title,
            details: json!({ "service": name, "cluster": cluster, "task": task.id }),
        })?;
    }
    Ok(())
}

/// A build without the `ec2` feature cannot read `[ec2]`.
#[cfg(not(feature = "ec2"))]
fn add_ec2_instances(_: &Shared, _: &mut inventory::Inventory, name: &str) -> Result<()> {
    Err(input_error(format!("service {name}: [ec2] needs a build with the `ec2` feature (cargo build --features ec2)")))
}

/// The running EC2 instances tagged with a service's name, as hosts of the service.
#[cfg(feature = "ec2")]
fn add_ec2_instances(s: &Shared, inventory: &mut inventory::Inventory, name: &str) -> Result<()> {
    let Some(ec2) = inventory.ec2.as_ref() else { return Ok(()) };
    let (key, version_key) = (ec2.tag.clone(), ec2.version_tag.clone());
    let aws = super::aws_api::clients(s)?;
    let tagged = ec2::Tagged { key: &key, service: name, version_key: version_key.as_deref() };
    let instances = block(s, ec2::tagged_instances(&aws, &tagged))?.map_err(rt_error)?;
    let ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    eprintln!("fleet: EC2 instances tagged {key}={name}: {} running: {}", instances.len(), ids.join(", "));
    for instance in inventory.add_ec2_service(name, instances) {
        let title = format!("{name}: EC2 instance {} reports no private address; it is left out", instance.id);
        let details = json!({ "service": name, "instance": instance.id });
        s.add_finding(Finding { severity: Severity::Warning, title, details })?;
    }
    Ok(())
}

fn instance_row(i: &Instance) -> Value {
    json!({
        "service": i.service, "instance": i.label(), "host": i.host.name(), "pid": i.pid,
        "version": i.version, "task": i.task, "command": crate::evidence::redact(&i.command),
    })
}

fn strings(values: &Array, what: &str) -> Result<Vec<String>> {
    values
        .iter()
        .map(|v| v.clone().into_string().map_err(|t| input_error(format!("{what}: expected names (strings), not {t}"))))
        .collect()
}

/// What `fleet::snapshots` is asked to do.
struct Plan {
    services: Vec<String>,
    dir: PathBuf,
    count: u32,
    every: Duration,
    concurrency: usize,
    /// Analyse dumps on their hosts where deployclaw is installed there.
    near_data: bool,
    /// With near_data: send this deployclaw to hosts that have none.
    copy_deployclaw: bool,
    rule: Option<String>,
    threshold: String,
}

fn plan_of(s: &Shared, options: &Map) -> Result<Plan> {
    let int = |key: &str, default: i64| -> Result<i64> {
        match options.get(key) {
            None => Ok(default),
            Some(v) => v.as_int().map_err(|t| input_error(format!("fleet::snapshots: {key} is a number, not {t}"))),
        }
    };
    let count = u32::try_from(int("count", 1)?)
        .ok()
        .filter(|c| (1..=1000).contains(c))
        .ok_or_else(|| input_error("fleet::snapshots: count is 1 to 1000"))?;
    let concurrency = usize::try_from(int("concurrency", 4)?)
        .ok()
        .filter(|c| (1..=256).contains(c))
        .ok_or_else(|| input_error("fleet::snapshots: concurrency is 1 to 256"))?;
    let every = match options.get("every") {
        Some(v) => duration(v, "fleet::snapshots: every")?,
        None => Duration::from_secs(30),
    };
    let services = match options.get("services") {
        None => Vec::new(),
        Some(v) => match v.clone().try_cast::<Array>() {
            Some(a) => strings(&a, "fleet::snapshots: services")?,
            None => v
                .clone()
                .into_string()
                .map_err(|t| input_error(format!("fleet::snapshots: services is a list of names, not {t}")))?
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect(),
        },
    };
    let dir = match options.get("dir") {
        Some(v) => PathBuf::from(
            v.clone().into_string().map_err(|t| input_error(format!("fleet::snapshots: dir is a path, not {t}")))?,
        ),
        None => s.temp_path("fleet").map_err(rt_error)?,
    };
    let text = |key: &str| -> Result<Option<String>> {
        options
            .get(key)
            .map(|v| {
                v.clone().into_string().map_err(|t| input_error(format!("fleet::snapshots: {key} is text, not {t}")))
            })
            .transpose()
    };
    let near_data = match options.get("near_data") {
        None => false,
        Some(v) => {
            v.as_bool().map_err(|t| input_error(format!("fleet::snapshots: near_data is true or false, not {t}")))?
        }
    };
    let copy_deployclaw = match options.get("copy_deployclaw") {
        None => false,
        Some(v) => v
            .as_bool()
            .map_err(|t| input_error(format!("fleet::snapshots: copy_deployclaw is true or false, not {t}")))?,
    };
    if copy_deployclaw && !near_data {
        return Err(input_error("fleet::snapshots: copy_deployclaw goes with near_data: true"));
    }
    let threshold = text("threshold")?.unwrap_or_else(|| "15%".into());
    percent(&threshold)?;
    let rule = text("rule")?.filter(|r| !r.is_empty());
    if let Some(r) = &rule {
        crate::heap::tenants::Rule::parse(r).map_err(|e| input_error(format!("fleet::snapshots: rule {r:?}: {e}")))?;
    }
    Ok(Plan { services, dir, count, every, concurrency, near_data, copy_deployclaw, rule, threshold })
}

fn taken_row(t: &Taken) -> Value {
    json!({
        "service": t.service, "instance": t.label, "host": t.host, "pid": t.pid, "version": t.version,
        "task": t.task, "round": t.round, "taken_at": t.taken_at, "taken_ms": t.taken_ms, "path": t.path.as_ref().map(|p| p.display().to_string()),
        "remote": t.remote, "dump_bytes": t.dump_bytes, "deployclaw_sent": 0, "bytes_moved": t.bytes_moved, "analysis": null, "seconds": (t.seconds * 1000.0).round() / 1000.0,
        "error": t.error.as_deref().map(crate::evidence::redact),
    })
}

/// A line per instance as it finishes, on stderr, so a long round shows where it is.
pub(super) fn report(p: gather::Progress, step: &str) {
    if let gather::Progress::Finished(i, elapsed, error) = p {
        let what = match error {
            None => "done".to_string(),
            Some(e) => format!("failed: {}", crate::evidence::redact(e)),
        };
        eprintln!("fleet: {} on {}: {step} {what} ({:.1} s)", i.label(), i.host.name(), elapsed.as_secs_f64());
    }
}

fn snapshots(s: &Shared, inventory_path: &str, options: &Map) -> Result<Frame> {
    let plan = plan_of(s, options)?;
    let instances = discover(s, inventory_path, &plan.services)?;
    let mut rows = Vec::new();
    if instances.is_empty() {
        return frame_of(&rows, SNAPSHOT_COLUMNS);
    }
    let labels: Vec<String> = instances.iter().map(|i| format!("{} ({})", i.label(), i.host.name())).collect();
    eprintln!("fleet: {} instance(s): {}", instances.len(), labels.join(", "));
    let binary = if plan.copy_deployclaw {
        Some(
            std::env::current_exe()
                .map_err(|e| rt_error(format!("fleet::snapshots: where is this deployclaw? {e}")))?,
        )
    } else {
        None
    };
    let there = plan.near_data.then(|| fleet_near::folders(&instances, plan.concurrency, binary.as_deref()));
    let empty = BTreeMap::new();
    let keep = snapshot::Keep { dir: &plan.dir, there: there.as_ref().map_or(&empty, |f| &f.by_label) };
    for round in 1..=plan.count {
        if round > 1 {
            wait(s, plan.every)?;
        }
        if s.bridge.cancelled() {
            return Err(Box::new(EvalAltResult::ErrorTerminated("cancelled".into(), rhai::Position::NONE)));
        }
        let taken = snapshot::round(&instances, &keep, round, plan.concurrency, &|p| {
            report(p, &format!("dump {round} of {}", plan.count))
        });
        for t in &taken {
            let row = taken_row(t);
            s.record(|log| log.note(&format!("fleet heap dump: {row}")))?;
            if let Some(error) = &t.error {
                let title = format!("{} on {}: no heap dump in round {round}", t.label, t.host);
                let details = json!({ "instance": t.label, "host": t.host, "round": round, "error": crate::evidence::redact(error) });
                s.add_finding(Finding { severity: Severity::Warning, title, details })?;
            }
            rows.push(row);
        }
    }
    if let Some(folders) = &there {
        let options = fleet_near::Options {
            rule: plan.rule.as_deref(),
            threshold: &plan.threshold,
            concurrency: plan.concurrency,
            dir: &plan.dir,
        };
        fleet_near::analyse(s, folders, &mut rows, &options)?;
    }
    frame_of(&rows, SNAPSHOT_COLUMNS)
}

/// An instance's label and its class histogram.
type Histogram = (String, Vec<ClassRow>);

/// What holds an instance's latest histogram.
#[derive(Clone)]
enum Latest {
    /// A dump here.
    Dump(String),
    /// The answer of an analysis on its host (near-data), saved here.
    Answer(String),
}

/// The latest dump (or near-data answer) of each instance in a `fleet::snapshots` Frame, per
/// service, in order.
fn latest_dumps(snapshots: &Frame) -> Result<BTreeMap<String, Vec<(String, Latest)>>> {
    let mut latest: BTreeMap<(String, String), (i64, Latest)> = BTreeMap::new();
    for row in snapshots.to_records() {
        let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
        let (Some(service), Some(instance)) = (text("service"), text("instance")) else {
            return Err(input_error(
                "fleet::outliers: give the Frame fleet::snapshots returns (service, instance, round, path)",
            ));
        };
        let Some(path) = text("path").map(Latest::Dump).or_else(|| text("analysis").map(Latest::Answer)) else {
            continue;
        };
        let round = row.get("round").and_then(Value::as_i64).unwrap_or(0);
        let slot = latest.entry((service, instance)).or_insert((round, path.clone()));
        if round >= slot.0 {
            *slot = (round, path);
        }
    }
    let mut out: BTreeMap<String, Vec<(String, Latest)>> = BTreeMap::new();
    for ((service, instance), (_, path)) in latest {
        out.entry(service).or_default().push((instance, path));
    }
    Ok(out)
}

fn percent(text: &str) -> Result<f64> {
    let t = text.trim();
    t.strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n / 100.0)
        .ok_or_else(|| input_error(format!("threshold {text:?}: give a percentage such as \"15%\"")))
}

/// Each instance's class histogram, per service: read from the latest dump of each instance
/// in a `fleet::snapshots` Frame, or taken as they are from a `fleet::histograms` Frame.
fn histograms_by_service(s: &Shared, frame: &Frame) -> Result<BTreeMap<String, Vec<Histogram>>> {
    let mut out: BTreeMap<String, Vec<Histogram>> = BTreeMap::new();
    if !frame.column_names().iter().any(|c| c == "class") {
        for (service, dumps) in latest_dumps(frame)? {
            for (instance, latest) in dumps {
                let rows = match latest {
                    Latest::Answer(answer) => fleet_near::latest_histogram(&answer).map_err(input_error)?,
                    Latest::Dump(path) => {
                        let (label, total) = dump_label(&path);
                        read_histogram(s, &path, Progress::new(&label, total))?.rows
                    }
                };
                out.entry(service.clone()).or_default().push((instance, rows));
            }
        }
        return Ok(out);
    }
    let mut by: BTreeMap<(String, String), Vec<ClassRow>> = BTreeMap::new();
    for row in frame.to_records() {
        let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
        let number = |key: &str| row.get(key).and_then(Value::as_u64).unwrap_or(0);
        let (Some(service), Some(instance), Some(class)) = (text("service"), text("instance"), text("class")) else {
            return Err(input_error(
                "fleet::outliers: a histogram Frame has service, instance, class, instances, shallow_bytes",
            ));
        };
        let bytes = number("shallow_bytes");
        by.entry((service, instance)).or_default().push(ClassRow {
            class,
            instances: number("instances"),
            shallow_bytes: bytes,
            largest: 0,
        });
    }
    for ((service, instance), rows) in by {
        out.entry(service).or_default().push((instance, rows));
    }
    Ok(out)
}

fn outliers(s: &Shared, frame: &Frame, threshold: &str) -> Result<Frame> {
    let threshold = percent(threshold)?;
    let mut rows = Vec::new();
    for (service, histograms) in histograms_by_service(s, frame)? {
        let samples: Vec<Sample> =
            histograms.iter().map(|(label, classes)| Sample { label: label.clone(), classes }).collect();
        for standing in outlier::standings(&samples, threshold, 5) {
            let classes: Vec<String> = standing.difference.iter().map(|(c, b)| format!("{c} +{b}")).collect();
            rows.push(json!({
                "service": service, "instance": standing.label, "bytes": standing.bytes,
                "median_bytes": standing.median,
                "over_median_pct": (standing.over_median * 1000.0).round() / 10.0,
                "robust_z": standing.robust_z.map(|z| (z * 100.0).round() / 100.0),
                "outlier": standing.outlier, "classes": classes.join(", "),
            }));
        }
    }
    frame_of(&rows, OUTLIER_COLUMNS)
}

const HISTOGRAM_COLUMNS: &[&str] = &["service", "instance", "host", "pid", "class", "instances", "shallow_bytes"];

/// `jcmd GC.class_histogram` of every instance, a few at a time: no dump, and nothing but text
/// crosses the network (SSM hosts too).
fn histograms(s: &Shared, inventory_path: &str, options: &Map) -> Result<Frame> {
    let plan = plan_of(s, options)?;
    let instances = discover(s, inventory_path, &plan.services)?;
    let answers = gather::each(
        &instances,
        plan.concurrency,
        |i| crate::fleet::jvm::class_histogram(i.host.as_ref(), i.pid),
        &|p| report(p, "class histogram"),
    );
    let mut rows = Vec::new();
    for answer in answers {
        let i = &answer.instance;
        match answer.result {
            Ok(classes) => rows.extend(classes.iter().map(|c| {
                json!({"service": i.service, "instance": i.label(), "host": i.host.name(), "pid": i.pid, "class": c.class,
                       "instances": c.instances, "shallow_bytes": c.shallow_bytes})
            })),
            Err(e) => {
                let title = format!("{} on {}: no class histogram", i.label(), i.host.name());
                let details = json!({ "instance": i.label(), "error": crate::evidence::redact(&e) });
                s.add_finding(Finding { severity: Severity::Warning, title, details })?;
            }
        }
    }
    frame_of(&rows, HISTOGRAM_COLUMNS)
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("fleet");
    // The examples' inventory: this machine, and the JVM the example tests start (JAVA_PID).
    let inventory = r#"let inv = temp_path("inventory.toml"); write_text(inv, "[services.probe]\nmatch = \"Probe\"\nhosts = [{ host = \"local\" }]\n");"#;

    let s = shared.clone();
    api.add(
        FnDoc::new("instances")
            .usage("fleet::instances(inventory: string) -> Frame")
            .usage("fleet::instances(inventory: string, services: array) -> Frame")
            .summary(
                "The running instances of each service an inventory file lists: the JVMs on each of its hosts \
                 (this machine, or over SSH with host keys checked; or an ECS service's running tasks, at their \
                 addresses) whose command line holds the service's `match`, with the version each was started with \
                 (-Dservice.version, else the task's image tag). A host that cannot be asked is a warning finding; the \
                 others are still asked.",
            )
            .param(
                "inventory",
                "a TOML file: [services.NAME] match = \"text\", hosts = [{ host, user, port, identity, known_hosts, match, \
                 timeout }]; and [ecs] cluster, services = [names], reach = { user, identity, known_hosts }, addresses = \
                 { \"task address\" = \"host[:port] reached from here\" } for services whose hosts are their running ECS tasks",
            )
            .param("services", "only these services (default all)")
            .returns(&format!("a Frame ({}), one row per instance, `api-svc[0]` first", INSTANCE_COLUMNS.join(", ")))
            .example(
                &format!("{inventory} fleet::instances(inv).filter(`pid = ${{JAVA_PID}}`).select([\"service\", \"host\"]).rows()"),
                r#"[{"service": "probe", "host": "local"}]"#,
            )
            .volatile(),
        move |path: &str| -> Result<Frame> {
            let rows: Vec<Value> = discover(&s, path, &[])?.iter().map(instance_row).collect();
            frame_of(&rows, INSTANCE_COLUMNS)
        },
    )
    .overload({
        let s = shared.clone();
        move |path: &str, services: Array| -> Result<Frame> {
            let wanted = strings(&services, "fleet::instances")?;
            let rows: Vec<Value> = discover(&s, path, &wanted)?.iter().map(instance_row).collect();
            frame_of(&rows, INSTANCE_COLUMNS)
        }
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("snapshots")
            .usage("fleet::snapshots(inventory: string, options: map) -> Frame")
            .summary(
                "Heap dumps of every instance of the inventory's services, all at once (a few at a time), `count` \
                 rounds `every` apart: `jcmd GC.heap_dump -gz=1` on each instance's host, the compressed dump \
                 streamed here. A line per instance on stderr as it finishes. An instance that fails is a row with \
                 its error and a warning finding; the others go on.",
            )
            .param("inventory", "the inventory file, as for fleet::instances")
            .param(
                "options",
                "#{services: [names] (default all), dir: folder for the dumps (default a temporary one), count: \
                 rounds (1), every: time between rounds (\"30s\"), concurrency: instances at once (4), near_data: \
                 leave the dumps on hosts whose inventory entry names their `deployclaw` and bring back only its \
                 analysis (false), copy_deployclaw: with near_data, send this deployclaw (same system and machine) \
                 to hosts that have none, into the run's private folder there, removed at the end (false), rule: tenant rule for that analysis, threshold: its growth threshold (\"15%\")}",
            )
            .returns(&format!(
                "a Frame ({}), one row per instance and round; path is the dump here, remote the dump left on its host \
                 (near-data), analysis the answer about it saved here; bytes_moved is what crossed the network (0 on \
                 this machine), deployclaw_sent the part of it that was a copy of deployclaw",
                SNAPSHOT_COLUMNS.join(", ")
            ))
            .example(
                &format!("{inventory} let d = fleet::snapshots(inv, #{{count: 1}}).filter(`pid = ${{JAVA_PID}}`); [d.col(\"round\"), d.col(\"bytes_moved\"), d.col(\"path\")[0].ends_with(\".hprof.gz\")]"),
                "[[1], [0], true]",
            )
            .volatile(),
        move |path: &str, options: Map| snapshots(&s, path, &options),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("histograms")
            .usage("fleet::histograms(inventory: string, options: map) -> Frame")
            .summary(
                "The class histogram of every instance (`jcmd GC.class_histogram` there, a few at a time): no dump is \
                 taken and only text crosses the network, so it also works where files cannot be brought back (SSM \
                 hosts). fleet::outliers takes the result as it takes dumps. An instance that fails is a warning finding.",
            )
            .param("inventory", "the inventory file, as for fleet::instances")
            .param("options", "#{services: [names] (default all), concurrency: instances at once (4)}")
            .returns(&format!("a Frame ({}), one row per instance and class", HISTOGRAM_COLUMNS.join(", ")))
            .example(
                &format!("{inventory} let h = fleet::histograms(inv, #{{}}); h.filter(`pid = ${{JAVA_PID}} AND class = 'Probe'`).col(\"instances\")"),
                "[1000]",
            )
            .volatile(),
        move |path: &str, options: Map| histograms(&s, path, &options),
    );

    let s = shared.clone();
    let three = r#"let rows = []; for n in [10, 11, 40] { rows.push(#{service: "api", instance: `api[${rows.len()}]`, round: 1, path: heap::demo_dump(temp_path(`i${n}.hprof`), n)}); }"#;
    api.add(
        FnDoc::new("outliers")
            .usage("fleet::outliers(snapshots: Frame) -> Frame")
            .usage("fleet::outliers(snapshots: Frame, threshold: string) -> Frame")
            .summary(
                "The instance whose heap stands out from its siblings': each instance's latest dump, its bytes against \
                 the median of its service's instances (median and MAD, which one odd instance cannot drag along), \
                 and for an outlier the classes that make the difference. An outlier is more than `threshold` over \
                 the median and, where the others vary, more than 3.5 robust deviations above it; a service needs \
                 three or more instances to have one.",
            )
            .param("snapshots", "the Frame fleet::snapshots returns (service, instance, round, path), or fleet::histograms")
            .param("threshold", "how far over the median an outlier is (\"15%\")")
            .returns(&format!("a Frame ({})", OUTLIER_COLUMNS.join(", ")))
            .example(
                &format!("{three} fleet::outliers(frame(rows)).select([\"instance\", \"outlier\"]).rows()"),
                r#"[{"instance": "api[0]", "outlier": false}, {"instance": "api[1]", "outlier": false}, {"instance": "api[2]", "outlier": true}]"#,
            )
            .volatile(),
        move |snapshots: Frame| outliers(&s, &snapshots, "15%"),
    )
    .overload({
        let s = shared.clone();
        move |snapshots: Frame, threshold: &str| outliers(&s, &snapshots, threshold)
    });

    api.end_namespace();
}
