//! `heap::` functions over the object graph: dominators, retained sizes, leak suspects, paths to
//! GC roots and memory per tenant. Building a graph reads the dump four times, so the last one
//! built is kept (per session) and reused while the file is unchanged.

use super::Locked;
use super::api::{Api, FnDoc};
use super::heap_api::{dump_label, heap_error};
use super::progress::Progress;
use super::{Shared, frame_of, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::heap::graph::{Graph, Step};
use crate::heap::{paths, suspects, tenants};
use rhai::{Array, EvalAltResult};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A graph and what identifies the file it was built from: path, length, modification time.
type Cached = (String, u64, Option<SystemTime>, Arc<Graph>);

/// The last graph built.
#[derive(Default)]
pub struct GraphCache(Mutex<Option<Cached>>);

fn stamp(path: &str) -> Result<(u64, Option<SystemTime>)> {
    let meta = std::fs::metadata(path).map_err(|e| rt_error(format!("cannot read heap dump {path}: {e}")))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// The graph of the dump at `path`, built or reused.
pub fn graph(s: &Shared, path: &str) -> Result<Arc<Graph>> {
    let path = &super::s3_paths::local_text(s, path)?;
    let (len, modified) = stamp(path)?;
    if let Some((p, l, m, g)) = s.graphs.0.locked().as_ref()
        && (p.as_str(), *l, *m) == (path, len, modified)
    {
        return Ok(g.clone());
    }
    // Drop the old graph before building the next: two would double the memory.
    *s.graphs.0.locked() = None;
    let (name, total) = dump_label(path);
    let mut progress: Option<(u32, Progress)> = None;
    let mut report = |step: Step| {
        if progress.as_ref().is_none_or(|(pass, _)| *pass != step.pass) {
            // Drop the previous line first: a new one replaces it.
            progress = None;
            let report = if step.pass == step.passes {
                Progress::status(&format!("{name}: computing dominators and retained sizes…"))
            } else {
                let label = format!("{name} (pass {}/{}: {})", step.pass, step.passes, step.name);
                Progress::new(&label, total)
            };
            progress = Some((step.pass, report));
        }
        if let Some((_, p)) = progress.as_mut() {
            p.update(step.done);
        }
        !s.bridge.cancelled()
    };
    let built = Arc::new(Graph::build(Path::new(path), &mut report).map_err(heap_error)?);
    drop(progress);
    *s.graphs.0.locked() = Some((path.to_string(), len, modified, built.clone()));
    Ok(built)
}

fn hex(id: u64) -> String {
    format!("{id:#x}")
}

fn pct(part: u64, whole: u64) -> f64 {
    (part as f64 * 1000.0 / whole.max(1) as f64).round() / 10.0
}

fn dominators(s: &Shared, path: &str, top: i64) -> Result<Frame> {
    let g = graph(s, path)?;
    let top_level = g.dominated(g.root());
    let rows: Vec<Value> = top_level
        .into_iter()
        .take(top.max(0) as usize)
        .map(|v| {
            json!({
                "object": hex(g.id(v)), "class": g.label(v), "shallow_bytes": g.shallow(v),
                "retained_bytes": g.retained(v), "retained_pct": pct(g.retained(v), g.live_bytes()),
                "root": g.root_kind(v).map(|k| format!("{k:?}")),
            })
        })
        .collect();
    frame_of(&rows, &["object", "class", "shallow_bytes", "retained_bytes", "retained_pct", "root"])
}

fn retained(s: &Shared, path: &str) -> Result<Frame> {
    let g = graph(s, path)?;
    let rows: Vec<Value> = g
        .retained_by_class()
        .into_iter()
        .map(|r| {
            json!({
                "class": r.class, "instances": r.instances, "shallow_bytes": r.shallow_bytes,
                "retained_bytes": r.retained_bytes, "retained_pct": pct(r.retained_bytes, g.live_bytes()),
            })
        })
        .collect();
    frame_of(&rows, &["class", "instances", "shallow_bytes", "retained_bytes", "retained_pct"])
}

fn suspect_rows(
    s: &Shared,
    g: &Graph,
    found: &[suspects::Suspect],
    growth: Option<&[suspects::Growth]>,
) -> Result<Vec<Value>> {
    let routes =
        paths::paths_to_roots(g, &found.iter().map(|x| x.accumulation).collect::<Vec<_>>()).map_err(heap_error)?;
    let mut rows = Vec::new();
    for (i, (x, route)) in found.iter().zip(routes).enumerate() {
        let route = route.map(|r| paths::describe(&r)).unwrap_or_default();
        let types: Vec<String> =
            x.dominated_types.iter().map(|(t, n, b)| format!("{n} {t} ({b} bytes)")).collect::<Vec<_>>();
        let mut row = json!({
            "object": hex(g.id(x.object)), "class": g.label(x.object), "retained_bytes": x.retained_bytes,
            "retained_pct": (x.share * 1000.0).round() / 10.0,
            "accumulation_object": hex(g.id(x.accumulation)), "accumulation_class": g.label(x.accumulation),
            "accumulation_bytes": x.accumulation_retained, "dominated": x.dominated,
            "dominated_types": types.join(", "), "path": route,
        });
        let mut title = format!(
            "leak suspect: {} retains {:.1}% of the heap ({} bytes), accumulated in {} holding {} objects",
            g.label(x.object),
            x.share * 100.0,
            x.retained_bytes,
            g.label(x.accumulation),
            x.dominated
        );
        if let Some(growth) = growth.map(|all| &all[i]) {
            let delta = x.accumulation_retained as i64 - growth.base_retained as i64;
            row["base_bytes"] = json!(growth.base_retained);
            row["growth_bytes"] = json!(delta);
            row["base_dominated"] = json!(growth.base_dominated);
            title.push_str(&format!(", grew by {delta} bytes since the baseline"));
        }
        s.add_finding(Finding { severity: Severity::Warning, title, details: row.clone() })?;
        rows.push(row);
    }
    Ok(rows)
}

const SUSPECT_COLUMNS: [&str; 10] = [
    "object",
    "class",
    "retained_bytes",
    "retained_pct",
    "accumulation_object",
    "accumulation_class",
    "accumulation_bytes",
    "dominated",
    "dominated_types",
    "path",
];

fn suspects_of(s: &Shared, path: &str, baseline: Option<&str>) -> Result<Frame> {
    let g = graph(s, path)?;
    let found = suspects::suspects(&g, 0.10);
    let Some(baseline) = baseline else {
        return frame_of(&suspect_rows(s, &g, &found, None)?, &SUSPECT_COLUMNS);
    };
    // Row details need the current graph; growth needs the baseline's: one graph at a time.
    let pending: Vec<suspects::Suspect> = found.clone();
    drop(g);
    let base = graph(s, baseline)?;
    let growth = suspects::growth(&base, pending);
    drop(base);
    let g = graph(s, path)?;
    let ordered: Vec<suspects::Suspect> = growth.iter().map(|x| x.suspect.clone()).collect();
    let rows = suspect_rows(s, &g, &ordered, Some(&growth))?;
    let mut columns = SUSPECT_COLUMNS.to_vec();
    columns.extend(["base_bytes", "growth_bytes", "base_dominated"]);
    frame_of(&rows, &columns)
}

fn object_id(text: &str) -> Result<u64> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| rt_error(format!("{text:?} is not an object id (write it as 0x1f3a or as a number)")))
}

fn path_to_roots(s: &Shared, path: &str, object: &str) -> Result<Frame> {
    let g = graph(s, path)?;
    let id = object_id(object)?;
    let v = g.vertex(id).ok_or_else(|| rt_error(format!("{path} has no object {object}")))?;
    let route = paths::paths_to_roots(&g, &[v]).map_err(heap_error)?.pop().flatten().ok_or_else(|| {
        rt_error(format!("{object} ({}) is not reachable from any GC root: it is garbage", g.type_name(v)))
    })?;
    let rows: Vec<Value> = route
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({
                "step": i, "object": hex(h.object), "class": h.class, "via": h.via,
                "shallow_bytes": h.shallow_bytes, "retained_bytes": h.retained_bytes,
                "root": (i == 0).then(|| format!("{:?}", route.root_kind)),
            })
        })
        .collect();
    frame_of(&rows, &["step", "object", "class", "via", "shallow_bytes", "retained_bytes", "root"])
}

fn strings(paths: &Array, function: &str) -> Result<Vec<String>> {
    paths
        .iter()
        .map(|p| p.clone().into_string().map_err(|t| rt_error(format!("{function}: dump paths are strings, not {t}"))))
        .collect()
}

fn tenants_of(s: &Shared, dumps: &[String], rule: &str) -> Result<Frame> {
    let rule = tenants::Rule::parse(rule).map_err(super::input_error)?;
    if dumps.is_empty() {
        return Err(super::input_error("heap::tenants: give at least one dump"));
    }
    let mut series: Vec<tenants::Tenants> = Vec::new();
    for dump in dumps {
        let g = graph(s, dump)?;
        // A rule that names what the dump does not hold is the rule's fault, not the dump's.
        let found = tenants::tenants(&g, &rule).map_err(|e| match e {
            e @ crate::heap::Error::Incomplete { .. } => super::input_error(e),
            e => heap_error(e),
        })?;
        if found.rows.is_empty() {
            return Err(super::input_error(format!("{dump}: the tenant rule {rule:?} found no tenants")));
        }
        // With several dumps the same breach shows in each: say which.
        let which = if dumps.len() > 1 { format!(" in {}", dump_label(dump).0) } else { String::new() };
        for c in &found.cross {
            let title = format!(
                "cross-tenant reference{which}: {} of {} refers to {} of {} ({} reference{})",
                c.from_class,
                c.from_tenant,
                c.to_class,
                c.to_tenant,
                c.references,
                if c.references == 1 { "" } else { "s" }
            );
            let details = json!({
                "dump": dump, "from_tenant": c.from_tenant, "to_tenant": c.to_tenant, "references": c.references,
                "from_object": hex(c.from_object), "from_class": c.from_class,
                "to_object": hex(c.to_object), "to_class": c.to_class,
            });
            s.add_finding(Finding { severity: Severity::Error, title, details })?;
        }
        series.push(found);
    }
    let last = series.last().expect("one entry per dump, and there is one at least");
    let base = (series.len() > 1).then(|| &series[0]);
    let mut rows: Vec<Value> = last
        .rows
        .iter()
        .map(|r| {
            let mut row = json!({
                "tenant": r.tenant, "anchors": r.anchors, "retained_bytes": r.retained_bytes,
                "objects": r.objects, "reachable_bytes": r.reachable_bytes,
            });
            if let Some(base) = base {
                let before = base.rows.iter().find(|b| b.tenant == r.tenant).map_or(0, |b| b.retained_bytes);
                row["base_retained_bytes"] = json!(before);
                row["growth_bytes"] = json!(r.retained_bytes as i64 - before as i64);
            }
            row
        })
        .collect();
    let mut columns = vec!["tenant", "anchors", "retained_bytes", "objects", "reachable_bytes"];
    if base.is_some() {
        columns.extend(["base_retained_bytes", "growth_bytes"]);
        rows.sort_by_key(|r| std::cmp::Reverse(r["growth_bytes"].as_i64().unwrap_or(0)));
        flag_outliers(s, &rows)?;
    }
    frame_of(&rows, &columns)
}

/// A tenant growing more than twice as fast as the median tenant is a finding.
fn flag_outliers(s: &Shared, rows: &[Value]) -> Result<()> {
    let mut growth: Vec<i64> = rows.iter().map(|r| r["growth_bytes"].as_i64().unwrap_or(0)).collect();
    growth.sort_unstable();
    let median = growth.get(growth.len() / 2).copied().unwrap_or(0).max(0);
    for row in rows {
        let g = row["growth_bytes"].as_i64().unwrap_or(0);
        if g > 0 && rows.len() >= 3 && g > 2 * median {
            let title = format!(
                "tenant {} grew by {g} bytes, {} the median tenant's growth ({median} bytes)",
                row["tenant"].as_str().unwrap_or("?"),
                if median > 0 { format!("{:.1}x", g as f64 / median as f64) } else { "far above".into() }
            );
            s.add_finding(Finding { severity: Severity::Error, title, details: row.clone() })?;
        }
    }
    Ok(())
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("heap");
    let demo = r#"let p = heap::demo_dump(temp_path("t.hprof"));"#;

    let s = shared.clone();
    api.add(
        FnDoc::new("dominators")
            .usage("heap::dominators(path: string) -> Frame")
            .usage("heap::dominators(path: string, top: int) -> Frame")
            .summary(
                "The top-level dominators of a heap dump: the objects that, each on its own, keep the most memory \
                 alive (retained size from the dominator tree of the object graph; weak, soft, phantom and \
                 finalizer references do not retain).",
            )
            .param("path", "the dump (HPROF, plain or gzip; a file or s3://bucket/key, copied once a session)")
            .param("top", "how many rows (default 20)")
            .returns("a Frame (object, class, shallow_bytes, retained_bytes, retained_pct, root), largest first")
            .example(
                &format!("{demo} heap::dominators(p, 1).select([\"class\", \"retained_pct\"]).rows()"),
                r#"[{"class": "class com.acme.Registry", "retained_pct": 99.1}]"#,
            )
            .volatile(),
        move |path: &str| dominators(&s, path, 20),
    )
    .overload({
        let s = shared.clone();
        move |path: &str, top: i64| dominators(&s, path, top)
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("retained")
            .usage("heap::retained(path: string) -> Frame")
            .summary(
                "Retained size per class: the memory that would be freed if every instance of the class were gone \
                 (an instance inside another instance of its class counts once).",
            )
            .param("path", "the dump")
            .returns("a Frame (class, instances, shallow_bytes, retained_bytes, retained_pct), largest first")
            .example(
                &format!("{demo} heap::retained(p).filter(\"class = 'com.acme.Tenant'\").select([\"instances\", \"retained_bytes\"]).rows()"),
                r#"[{"instances": 5, "retained_bytes": 14104}]"#,
            )
            .volatile(),
        move |path: &str| retained(&s, path),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("suspects")
            .usage("heap::suspects(path: string) -> Frame")
            .usage("heap::suspects(path: string, baseline: string) -> Frame")
            .summary(
                "Leak suspects: top-level dominators holding more than 10% of the live heap, each with its \
                 accumulation point (where the memory spreads over many objects: the growing collection) and the \
                 shortest strong path from a GC root to it. With a baseline dump, the same accumulation point is \
                 found there and its growth reported. Each suspect is recorded as a warning finding.",
            )
            .param("path", "the current dump")
            .param("baseline", "an earlier dump of the same service")
            .returns(
                "a Frame (object, class, retained_bytes, retained_pct, accumulation_object, accumulation_class, \
                 accumulation_bytes, dominated, dominated_types, path, and base_bytes, growth_bytes, base_dominated \
                 with a baseline)",
            )
            .example(
                &format!("{demo} heap::suspects(p).select([\"accumulation_class\", \"dominated\", \"path\"]).rows()"),
                r#"[{"accumulation_class": "com.acme.Tenant[]", "dominated": 6, "path": "class com.acme.Registry (static REGISTRY) -> com.acme.Tenant[]"}]"#,
            )
            .example(
                r#"let a = heap::demo_dump(temp_path("a.hprof"), 10); let b = heap::demo_dump(temp_path("b.hprof"), 30);
heap::suspects(b, a).select(["base_bytes", "growth_bytes"]).rows()"#,
                r#"[{"base_bytes": 14248, "growth_bytes": 28080}]"#,
            )
            .volatile(),
        move |path: &str| suspects_of(&s, path, None),
    )
    .overload({
        let s = shared.clone();
        move |path: &str, baseline: &str| suspects_of(&s, path, Some(baseline))
    });

    let s = shared.clone();
    api.add(
        FnDoc::new("path_to_roots")
            .usage("heap::path_to_roots(path: string, object: string) -> Frame")
            .summary(
                "The shortest strong reference path from a GC root to an object: what keeps it alive, hop by hop, \
                 with the field or array slot each hop goes through.",
            )
            .param("path", "the dump")
            .param("object", "the object id, as the other heap functions print it (\"0x1000a3c8\") or a number")
            .returns("a Frame (step, object, class, via, shallow_bytes, retained_bytes, root), the GC root first")
            .example(
                &format!("{demo} let t = heap::dominators(p, 1).rows()[0].object; heap::path_to_roots(p, t).len()"),
                "1",
            )
            .volatile(),
        move |path: &str, object: &str| path_to_roots(&s, path, object),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("tenants")
            .usage("heap::tenants(path: string, rule: string) -> Frame")
            .usage("heap::tenants(paths: array, rule: string) -> Frame")
            .summary(
                "Memory per tenant. The rule says which objects stand for a tenant: `CLASS.FIELD` (instances of \
                 CLASS named by FIELD, e.g. com.acme.Tenant.name), `map:CLASS.FIELD` (the map in that static field: \
                 keys name tenants, values are theirs), `threadlocal:CLASS.FIELD` (the ThreadLocal in that static \
                 field names the tenant each thread serves) or `loader[:FIELD]` (one class loader per tenant). Objects \
                 reachable from one tenant alone are that tenant's; a reference from one tenant's objects into \
                 another's is recorded as an error finding (an isolation breach). With two or more dumps, oldest \
                 first, each tenant's growth is reported and a tenant growing more than twice as fast as the median \
                 is an error finding.",
            )
            .param("path", "the dump")
            .param("paths", "dumps of the same service, oldest first")
            .param("rule", "how to find tenants, as above")
            .returns(
                "a Frame (tenant, anchors, retained_bytes, objects, reachable_bytes, and base_retained_bytes, \
                 growth_bytes with several dumps, largest growth first)",
            )
            .example(
                &format!("{demo} heap::tenants(p, \"com.acme.Tenant.name\").head(2).select([\"tenant\", \"anchors\", \"objects\"]).rows()"),
                r#"[{"tenant": "tenant-05", "anchors": 1, "objects": 104}, {"tenant": "tenant-02", "anchors": 1, "objects": 24}]"#,
            )
            .example(
                &format!("{demo} heap::tenants(p, \"com.acme.Tenant.name\"); evidence::findings().rows()[0].title"),
                r#""cross-tenant reference: com.acme.Session[] of tenant-05 refers to com.acme.Session of tenant-01 (1 reference)""#,
            )
            .volatile(),
        move |path: &str, rule: &str| tenants_of(&s, &[path.to_string()], rule),
    )
    .overload({
        let s = shared.clone();
        move |paths: Array, rule: &str| tenants_of(&s, &strings(&paths, "heap::tenants")?, rule)
    });

    api.end_namespace();
}
