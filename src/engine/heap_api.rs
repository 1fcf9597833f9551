//! `heap::` functions: class histograms of dumps, and a demo dump to try them on.

use super::api::{Api, FnDoc};
use super::{Shared, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::heap;
use rhai::EvalAltResult;
use std::path::Path;
use std::sync::Arc;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The histogram's rows as a Frame, largest classes first.
pub fn histogram_frame(histogram: &heap::histogram::Histogram) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = histogram
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "class": r.class, "instances": r.instances, "shallow_bytes": r.shallow_bytes, "largest": r.largest,
            })
        })
        .collect();
    let columns = ["class", "instances", "shallow_bytes", "largest"].map(String::from);
    Frame::from_records(&rows).and_then(|f| f.select(&columns)).map_err(rt_error)
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("heap");

    let s = shared.clone();
    api.add(
        FnDoc::new("histogram")
            .usage("heap::histogram(path: string) -> Frame")
            .summary("The class histogram of a heap dump (HPROF, plain or gzip), with the JVM's real shallow sizes.")
            .param("path", "the dump, e.g. from `jcmd PID GC.heap_dump FILE`")
            .returns(
                "a Frame (class, instances, shallow_bytes, largest), largest first; a dump that ends early \
                 gives what was read and records a warning finding saying so",
            )
            .example(
                r#"let p = temp_path("demo.hprof"); heap::demo_dump(p); heap::histogram(p).filter("class = 'com.acme.Session'").rows()"#,
                r#"[{"class": "com.acme.Session", "instances": 90, "shallow_bytes": 2160, "largest": 24}]"#,
            )
            .volatile(),
        move |path: &str| -> Result<Frame> {
            let source = heap::open(Path::new(path)).map_err(rt_error)?;
            let histogram = heap::histogram::histogram(source, path).map_err(rt_error)?;
            if let Some(problem) = &histogram.partial {
                let finding = Finding {
                    severity: Severity::Warning,
                    title: "heap dump read only in part".into(),
                    details: serde_json::json!({ "path": path, "problem": problem }),
                };
                s.record(|log| log.finding(&finding))?;
                s.findings.lock().expect("findings lock").push(finding);
            }
            histogram_frame(&histogram)
        },
    );

    api.add(
        FnDoc::new("demo_dump")
            .usage("heap::demo_dump(path: string) -> string")
            .summary(
                "Write a small synthetic HPROF dump of a multi-tenant service (five tenants with ten \
                 sessions each; tenant-05 holds five times as many), to try the heap functions on.",
            )
            .param("path", "where to write it (replaced if it exists)")
            .returns("the path")
            .example(r#"heap::demo_dump(temp_path("d.hprof")).ends_with("d.hprof")"#, "true")
            .volatile(),
        |path: &str| -> Result<String> {
            std::fs::write(path, heap::sample::demo_dump(8, 5, 10, 5, Some(1 << 16)))
                .map_err(|e| rt_error(format!("cannot write {path}: {e}")))?;
            Ok(path.to_string())
        },
    );

    api.end_namespace();
}
