//! `heap::` functions: class histograms of dumps, and a demo dump to try them on.

use super::api::{Api, FnDoc};
use super::progress::Progress;
use super::{Shared, frame_of, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::heap;
use rhai::{Array, EvalAltResult};
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
    frame_of(&rows, &["class", "instances", "shallow_bytes", "largest"])
}

/// How progress names a dump (its file name), and its size when that is the bytes to read
/// (not for gzip).
pub fn dump_label(path: &str) -> (String, Option<u64>) {
    let name = Path::new(path).file_name().map_or(path.into(), |n| n.to_string_lossy().into_owned());
    let total = std::fs::metadata(path).ok().map(|m| m.len()).filter(|_| !path.ends_with(".gz"));
    (name, total)
}

/// A dump error as a script error; a cancelled read ends the statement as Ctrl-C does.
pub fn heap_error(e: heap::Error) -> Box<EvalAltResult> {
    match e {
        heap::Error::Cancelled { .. } => {
            Box::new(EvalAltResult::ErrorTerminated("cancelled".into(), rhai::Position::NONE))
        }
        // The dump given is not one, or not whole: the input is wrong, not the script.
        e @ (heap::Error::NotHprof { .. }
        | heap::Error::IdSize { .. }
        | heap::Error::Corrupt { .. }
        | heap::Error::Changed { .. }) => super::input_error(e),
        heap::Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => super::input_error(e),
        other => rt_error(other),
    }
}

/// Read a dump's histogram, stopping on Ctrl-C; a partial read is recorded as a warning finding.
pub(super) fn read_histogram(s: &Shared, path: &str, mut progress: Progress) -> Result<heap::histogram::Histogram> {
    let path = &super::s3_paths::local_text(s, path)?;
    if heap::v8::is_snapshot(Path::new(path)) {
        let snapshot = heap::v8::read(Path::new(path)).map_err(rt_error)?;
        let rows = heap::v8::histogram(&snapshot);
        return Ok(heap::histogram::Histogram { rows, layout: Default::default(), layout_note: None, partial: None });
    }
    let mut report = |done: u64| {
        progress.update(done);
        !s.bridge.cancelled()
    };
    let histogram = heap::histogram::histogram_file(Path::new(path), &mut report).map_err(heap_error)?;
    if let Some(problem) = &histogram.partial {
        let details = serde_json::json!({ "path": path, "problem": problem });
        s.add_finding(Finding { severity: Severity::Warning, title: "heap dump read only in part".into(), details })?;
    }
    if let Some(note) = &histogram.layout_note {
        let details = serde_json::json!({ "path": path, "layout": layout_json(histogram.layout), "note": note });
        s.add_finding(Finding {
            severity: Severity::Info,
            title: "object sizes rest on an assumption".into(),
            details,
        })?;
    }
    Ok(histogram)
}

fn layout_json(layout: heap::layout::Layout) -> serde_json::Value {
    serde_json::json!({
        "compressed_oops": layout.compressed_oops,
        "compressed_class_pointers": layout.compressed_class_pointers,
        "alignment": layout.alignment,
    })
}

/// Diff rows as a Frame; trend columns only with three or more snapshots.
fn diff_frame(rows: &[heap::diff::DiffRow], snapshots: usize) -> Result<Frame> {
    let records: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "class": r.class,
                "status": r.status.name(),
                "base_instances": r.instances[0],
                "instances": r.instances[snapshots - 1],
                "instance_delta": r.instance_delta(),
                "base_bytes": r.bytes[0],
                "bytes": r.bytes[snapshots - 1],
                "bytes_delta": r.bytes_delta(),
                "bytes_delta_pct": r.bytes_delta_percent().map(|p| (p * 10.0).round() / 10.0),
            });
            if snapshots >= 3 {
                v["slope_bytes"] = serde_json::json!(r.slope.map(f64::round));
                v["monotonic"] = serde_json::json!(r.monotonic);
            }
            v
        })
        .collect();
    let mut columns = vec![
        "class",
        "status",
        "base_instances",
        "instances",
        "instance_delta",
        "base_bytes",
        "bytes",
        "bytes_delta",
        "bytes_delta_pct",
    ];
    if snapshots >= 3 {
        columns.extend(["slope_bytes", "monotonic"]);
    }
    frame_of(&records, &columns)
}

fn diff(s: &Shared, paths: &Array, threshold: Option<&str>) -> Result<Frame> {
    let threshold = threshold.map(heap::diff::Threshold::parse).transpose().map_err(rt_error)?;
    if paths.len() < 2 {
        return Err(rt_error(format!("heap::diff needs at least two dumps, oldest first; got {}", paths.len())));
    }
    let paths: Vec<String> = paths
        .iter()
        .map(|p| p.clone().into_string().map_err(|t| rt_error(format!("heap::diff: dump paths are strings, not {t}"))))
        .collect::<Result<_>>()?;
    // One dump per core at a time: reading is CPU-bound once the file is cached.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut snapshots = Vec::with_capacity(paths.len());
    for batch in paths.chunks(cores) {
        let read: Vec<Result<heap::histogram::Histogram>> = std::thread::scope(|scope| {
            // Readers side by side would overwrite each other's progress line: they only watch for Ctrl-C.
            let workers: Vec<_> =
                batch.iter().map(|path| scope.spawn(move || read_histogram(s, path, Progress::hidden()))).collect();
            workers.into_iter().map(|w| w.join().expect("a histogram reader panicked")).collect()
        });
        for histogram in read {
            snapshots.push(histogram?);
        }
    }
    let rows = heap::diff::diff(&snapshots);
    if let Some(threshold) = threshold {
        let base_heap = snapshots[0].total_bytes();
        for row in rows.iter().filter(|r| threshold.exceeded(r, base_heap)) {
            let pct = row.bytes_delta_percent().map_or("new".to_string(), |p| format!("{p:.1}%"));
            let details = serde_json::json!({
                "class": row.class, "bytes": row.bytes, "instances": row.instances, "monotonic": row.monotonic,
            });
            let title = format!("{} grew by {} bytes ({pct})", row.class, row.bytes_delta());
            s.add_finding(Finding { severity: Severity::Error, title, details })?;
        }
    }
    diff_frame(&rows, snapshots.len())
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("heap");

    let s = shared.clone();
    api.add(
        FnDoc::new("histogram")
            .usage("heap::histogram(path: string) -> Frame")
            .summary("The class histogram of a heap dump (HPROF, plain or gzip), with the JVM's real shallow sizes.")
            .param("path", "the dump, e.g. from `jcmd PID GC.heap_dump FILE`, or s3://bucket/key (copied once a session)")
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
            // The size of the file is the total only when it is not compressed.
            let (label, total) = dump_label(path);
            histogram_frame(&read_histogram(&s, path, Progress::new(&label, total))?)
        },
    );

    let s = shared.clone();
    let demo =
        r#"let a = heap::demo_dump(temp_path("a.hprof"), 10); let b = heap::demo_dump(temp_path("b.hprof"), 20);"#;
    api.add(
        FnDoc::new("diff")
            .usage("heap::diff(paths: array) -> Frame")
            .usage("heap::diff(paths: array, threshold: string) -> Frame")
            .summary(
                "Compare the class histograms of two or more dumps, oldest first: per-class instance and byte \
                 deltas, new and vanished classes, and with three or more dumps the growth slope and whether \
                 growth was steady.",
            )
            .param("paths", "the dumps, oldest first")
            .param(
                "threshold",
                "\"15%\" (of a class's own bytes; classes under 0.1% of the heap are ignored) or a size such as \
                 \"10MB\": each class growing past it is recorded as an error finding, so `deployclaw run` exits 3",
            )
            .returns(
                "a Frame (class, status, base_instances, instances, instance_delta, base_bytes, bytes, bytes_delta, \
                 bytes_delta_pct, and slope_bytes, monotonic with three or more dumps), largest growth first",
            )
            .example(
                &format!("{demo} heap::diff([a, b]).filter(\"class = 'com.acme.Session'\").select([\"instance_delta\", \"bytes_delta_pct\"]).rows()"),
                r#"[{"instance_delta": 90, "bytes_delta_pct": 100.0}]"#,
            )
            .example(
                &format!("{demo} heap::diff([a, b], \"50%\"); evidence::findings().len() > 0"),
                "true",
            )
            .volatile(),
        move |paths: Array| diff(&s, &paths, None),
    )
    .overload({
        let s = shared.clone();
        move |paths: Array, threshold: &str| diff(&s, &paths, Some(threshold))
    });

    api.add(
        FnDoc::new("v8_diff")
            .usage("heap::v8_diff(base: string, current: string) -> Frame")
            .summary(
                "Compare two V8 heap snapshots of one Node process (`v8.writeHeapSnapshot()`) by V8's stable object \
                 ids, as DevTools' Comparison view does: per constructor, what was allocated since the base and what \
                 was freed. (heap::histogram and heap::diff also read V8 snapshots, by constructor.)",
            )
            .param("base", "the earlier .heapsnapshot")
            .param("current", "the later one, of the same process")
            .returns(
                "a Frame (class, allocated, allocated_bytes, freed, freed_bytes, delta_bytes), largest growth first",
            )
            .example(
                r#"let a = temp_path("a.heapsnapshot"); let b = temp_path("b.heapsnapshot");
heap::demo_v8_snapshots(a, b); heap::v8_diff(a, b).filter("class = 'Session'").select(["allocated", "freed"]).rows()"#,
                r#"[{"allocated": 50, "freed": 10}]"#,
            )
            .volatile(),
        |base: &str, current: &str| -> Result<Frame> {
            let read = |p: &str| heap::v8::read(Path::new(p)).map_err(rt_error);
            let changes = heap::v8::diff(&read(base)?, &read(current)?);
            let rows: Vec<serde_json::Value> = changes
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "class": c.class, "allocated": c.allocated, "allocated_bytes": c.allocated_bytes,
                        "freed": c.freed, "freed_bytes": c.freed_bytes, "delta_bytes": c.delta_bytes(),
                    })
                })
                .collect();
            let columns = ["class", "allocated", "allocated_bytes", "freed", "freed_bytes", "delta_bytes"];
            frame_of(&rows, &columns)
        },
    );

    api.add(
        FnDoc::new("demo_v8_snapshots")
            .usage("heap::demo_v8_snapshots(base: string, current: string)")
            .summary(
                "Write two small synthetic V8 heap snapshots of one process, to try heap::v8_diff on: 100 Session \
                 objects in the base; in the current one, 10 of them freed and 50 new ones allocated.",
            )
            .param("base", "where to write the earlier snapshot")
            .param("current", "where to write the later one")
            .returns("nothing")
            .example_runs(r#"heap::demo_v8_snapshots(temp_path("x.heapsnapshot"), temp_path("y.heapsnapshot"))"#)
            .volatile(),
        |base: &str, current: &str| -> Result<()> {
            let (a, b) = heap::v8::demo_snapshots();
            std::fs::write(base, a).map_err(|e| rt_error(format!("cannot write {base}: {e}")))?;
            std::fs::write(current, b).map_err(|e| rt_error(format!("cannot write {current}: {e}")))
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("secrets")
            .usage("heap::secrets(path: string) -> Frame")
            .summary(
                "Secrets left in a heap dump: AWS access keys and secret keys, private keys, JWTs and passwords in \
                 URLs, in the byte and char arrays behind Java strings. Each is recorded as an error finding. What \
                 is found is shown redacted, here and in the log.",
            )
            .param("path", "the dump (a file or s3://bucket/key)")
            .returns("a Frame (object, array, kind, text_offset, redacted): the array holding each secret")
            .example(
                r#"let p = heap::demo_dump(temp_path("s.hprof")); heap::secrets(p).select(["kind", "redacted"]).rows()"#,
                r#"[{"kind": "url_password", "redacted": "postgres://app:[REDACTED]@db.internal"}]"#,
            )
            .volatile(),
        move |path: &str| secrets(&s, path),
    );

    api.add(
        FnDoc::new("demo_dump")
            .usage("heap::demo_dump(path: string) -> string")
            .usage("heap::demo_dump(path: string, sessions: int) -> string")
            .summary(
                "Write a small synthetic HPROF dump of a multi-tenant service, to try the heap functions on: five \
                 tenants with `sessions` sessions each (default 10), except tenant-05 which holds five times as many.",
            )
            .param("path", "where to write it (replaced if it exists)")
            .param("sessions", "sessions per tenant")
            .returns("the path")
            .example(r#"heap::demo_dump(temp_path("d.hprof")).ends_with("d.hprof")"#, "true")
            .volatile(),
        |path: &str| write_demo(path, 10),
    )
    .overload(|path: &str, sessions: i64| write_demo(path, sessions));

    api.end_namespace();
}

fn secrets(s: &Shared, path: &str) -> Result<Frame> {
    let path = &super::s3_paths::local_text(s, path)?;
    let (label, total) = dump_label(path);
    let mut progress = Progress::new(&label, total);
    let mut report = |done: u64| {
        progress.update(done);
        !s.bridge.cancelled()
    };
    let found = heap::secrets::secrets(Path::new(path), &mut report).map_err(heap_error)?;
    let rows: Vec<serde_json::Value> = found
        .iter()
        .map(|x| {
            serde_json::json!({
                "object": format!("{:#x}", x.object), "array": x.array, "kind": x.kind, "text_offset": x.offset,
                "redacted": x.redacted,
            })
        })
        .collect();
    for row in &rows {
        let title = format!("secret in heap: {} in {} {}", row["kind"], row["array"], row["object"]).replace('"', "");
        s.add_finding(Finding { severity: Severity::Error, title, details: row.clone() })?;
    }
    frame_of(&rows, &["object", "array", "kind", "text_offset", "redacted"])
}

fn write_demo(path: &str, sessions: i64) -> Result<String> {
    let sessions = usize::try_from(sessions)
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(|| rt_error(format!("heap::demo_dump: sessions must be 1 to 100000, not {sessions}")))?;
    std::fs::write(path, heap::sample::demo_dump(8, 5, sessions, 5, Some(1 << 16)))
        .map_err(|e| rt_error(format!("cannot write {path}: {e}")))?;
    Ok(path.to_string())
}
