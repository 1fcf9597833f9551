//! Evidence from running processes: `heap::snapshot`, `heap::class_histogram`, `heap::watch`
//! (JVMs, through jcmd) and `proc::` memory readings and leak verdicts (any process, /proc).

use super::api::{Api, FnDoc};
use super::{Shared, frame_of, rt_error};
use crate::evidence::{Finding, Severity};
use crate::frame::Frame;
use crate::heap::live;
use crate::proc::{self, trend};
use rhai::{Array, Dynamic, EvalAltResult, Position};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

fn pid_of(pid: i64) -> Result<u32> {
    u32::try_from(pid).ok().filter(|&p| p > 0).ok_or_else(|| rt_error(format!("{pid} is not a process id")))
}

/// `250ms`, `5s`, `2m`, `1h`, or a number of milliseconds.
pub fn duration(value: &Dynamic, what: &str) -> Result<Duration> {
    if let Ok(ms) = value.as_int() {
        return u64::try_from(ms).map(Duration::from_millis).map_err(|_| rt_error(format!("{what}: {ms} is negative")));
    }
    let text = value.clone().into_string().map_err(|t| rt_error(format!("{what}: expected \"5s\" or ms, not {t}")))?;
    crate::units::parse_duration(&text).map_err(|e| rt_error(format!("{what}: {e}")))
}

pub(super) fn wait(s: &Shared, d: Duration) -> Result<()> {
    s.bridge
        .block_on(|| tokio::time::sleep(d))
        .map_err(|_| Box::new(EvalAltResult::ErrorTerminated("cancelled".into(), Position::NONE)))
}

fn snapshot(s: &Shared, pid: i64, path: &str, gzip: Option<i64>) -> Result<Frame> {
    let level = gzip.map(|l| u32::try_from(l).unwrap_or(1));
    let snap = live::snapshot(pid_of(pid)?, Path::new(path), level).map_err(rt_error)?;
    let row = json!({
        "path": snap.path.display().to_string(), "bytes": snap.bytes, "pause_secs": snap.pause_secs,
        "wall_secs": (snap.wall_secs * 1000.0).round() / 1000.0, "heap_used": snap.heap_used,
    });
    s.record(|log| log.note(&format!("heap dump of process {pid}: {row}")))?;
    frame_of(&[row], &["path", "bytes", "pause_secs", "wall_secs", "heap_used"])
}

fn class_histogram(pid: i64) -> Result<Vec<Value>> {
    let rows = live::class_histogram(pid_of(pid)?).map_err(rt_error)?;
    Ok(rows
        .into_iter()
        .map(|r| json!({"class": r.class, "instances": r.instances, "shallow_bytes": r.shallow_bytes}))
        .collect())
}

fn heap_watch(s: &Shared, pid: i64, every: &Dynamic, count: i64) -> Result<Frame> {
    let every = duration(every, "heap::watch")?;
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| rt_error("heap::watch: count must be 1 or more"))?;
    let start = Instant::now();
    let mut rows = Vec::new();
    for sample in 0..count {
        if sample > 0 {
            wait(s, every)?;
        }
        let at = start.elapsed().as_secs_f64();
        for mut row in class_histogram(pid)? {
            row["sample"] = json!(sample);
            row["t_secs"] = json!((at * 1000.0).round() / 1000.0);
            rows.push(row);
        }
    }
    frame_of(&rows, &["sample", "t_secs", "class", "instances", "shallow_bytes"])
}

fn memory_row(m: &proc::Memory) -> Value {
    json!({
        "pid": m.pid, "name": m.name, "rss_bytes": m.rss, "rss_peak_bytes": m.rss_peak, "anon_bytes": m.rss_anon,
        "file_bytes": m.rss_file, "swap_bytes": m.swap, "virtual_bytes": m.virtual_size, "pss_bytes": m.pss,
        "private_dirty_bytes": m.private_dirty, "threads": m.threads,
    })
}

const MEMORY_COLUMNS: [&str; 11] = [
    "pid",
    "name",
    "rss_bytes",
    "rss_peak_bytes",
    "anon_bytes",
    "file_bytes",
    "swap_bytes",
    "virtual_bytes",
    "pss_bytes",
    "private_dirty_bytes",
    "threads",
];

fn pids(value: &Dynamic) -> Result<Vec<u32>> {
    if let Ok(p) = value.as_int() {
        return Ok(vec![pid_of(p)?]);
    }
    let list: Array =
        value.clone().try_cast::<Array>().ok_or_else(|| rt_error("proc::watch: pids is a pid or an array of pids"))?;
    list.iter()
        .map(|p| p.as_int().map_err(|t| rt_error(format!("proc::watch: pids are integers, not {t}"))).and_then(pid_of))
        .collect()
}

fn proc_watch(s: &Shared, pids_value: &Dynamic, every: &Dynamic, span: &Dynamic) -> Result<Frame> {
    let pids = pids(pids_value)?;
    let every = duration(every, "proc::watch")?.max(Duration::from_millis(10));
    let span = duration(span, "proc::watch")?;
    let start = Instant::now();
    let mut rows = Vec::new();
    loop {
        let at = start.elapsed().as_secs_f64();
        for &pid in &pids {
            // A process that exits while watched ends its series; the others go on.
            if let Ok(m) = proc::memory(pid) {
                let mut row = memory_row(&m);
                row["t_secs"] = json!((at * 1000.0).round() / 1000.0);
                rows.push(row);
            }
        }
        if start.elapsed() + every > span {
            break;
        }
        wait(s, every)?;
    }
    // Each sample carries its process's verdict over the whole watch.
    let verdict_rows = verdicts(s, &rows, "rss_bytes")?;
    for row in rows.iter_mut() {
        let verdict = verdict_rows.iter().find(|v| v["pid"] == row["pid"]).map(|v| v["verdict"].clone());
        row["verdict"] = verdict.unwrap_or(Value::Null);
    }
    frame_of(&rows, &["t_secs", "pid", "name", "rss_bytes", "anon_bytes", "pss_bytes", "swap_bytes", "verdict"])
}

fn leak_verdict(s: &Shared, samples: &Frame, column: &str) -> Result<Frame> {
    let rows = verdicts(s, &samples.to_records(), column)?;
    frame_of(
        &rows,
        &[
            "pid",
            "samples",
            "first_bytes",
            "last_bytes",
            "slope_bytes_per_min",
            "trend_z",
            "floor_growth_pct",
            "verdict",
        ],
    )
}

/// One verdict row per pid of `records_in`; each leaking process is an error finding.
fn verdicts(s: &Shared, records_in: &[Value], column: &str) -> Result<Vec<Value>> {
    let mut series: Vec<(Value, Vec<(f64, f64)>)> = Vec::new();
    for (i, r) in records_in.iter().enumerate() {
        let (Some(t), Some(v)) = (r.get("t_secs").and_then(Value::as_f64), r.get(column).and_then(Value::as_f64))
        else {
            return Err(rt_error(format!(
                "proc::leak_verdict: row {i} needs numbers in t_secs and {column} (as proc::watch gives)"
            )));
        };
        let key = r.get("pid").cloned().unwrap_or(Value::Null);
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, points)) => points.push((t, v)),
            None => series.push((key, vec![(t, v)])),
        }
    }
    let mut rows = Vec::new();
    for (pid, mut points) in series {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let t = trend::trend(&points);
        let row = json!({
            "pid": pid, "samples": t.samples, "first_bytes": points.first().map(|p| p.1),
            "last_bytes": points.last().map(|p| p.1),
            "slope_bytes_per_min": (t.slope_per_sec * 60.0).round(),
            "trend_z": (t.z * 100.0).round() / 100.0,
            "floor_growth_pct": (t.floor_growth * 1000.0).round() / 10.0,
            "verdict": t.verdict.name(),
        });
        if t.verdict == trend::Verdict::Leaking {
            let title = format!(
                "process {pid} is leaking: its memory floor rises {:.0} bytes/min ({column})",
                t.slope_per_sec * 60.0
            );
            s.add_finding(Finding { severity: Severity::Error, title, details: row.clone() })?;
        }
        rows.push(row);
    }
    Ok(rows)
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("heap");
    let s = shared.clone();
    api.add(
        FnDoc::new("snapshot")
            .usage("heap::snapshot(pid: int, path: string) -> Frame")
            .usage("heap::snapshot(pid: int, path: string, gzip_level: int) -> Frame")
            .summary(
                "Dump a running JVM's heap with `jcmd PID GC.heap_dump` (live objects, after a full GC). Refused when \
                 the file exists or the disk lacks room for about 1.5x the heap in use; the dump is made readable by \
                 its owner only (heaps hold secrets). The pause the JVM reports is recorded in the log.",
            )
            .param("pid", "the JVM's process id")
            .param("path", "where to write the dump (must not exist)")
            .param("gzip_level", "1-9: write gzip as `jcmd -gz=N` does (smaller, slower)")
            .returns("a one-row Frame (path, bytes, pause_secs, wall_secs, heap_used)")
            .example(r#"let s = heap::snapshot(JAVA_PID, temp_path("now.hprof")); s.rows()[0].bytes > 0"#, "true")
            .volatile(),
        move |pid: i64, path: &str| snapshot(&s, pid, path, None),
    )
    .overload({
        let s = shared.clone();
        move |pid: i64, path: &str, level: i64| snapshot(&s, pid, path, Some(level))
    });

    api.add(
        FnDoc::new("class_histogram")
            .usage("heap::class_histogram(pid: int) -> Frame")
            .summary(
                "A running JVM's class histogram from `jcmd PID GC.class_histogram`: cheap (no dump), the JVM's own \
                 counts. Class names as the dump analyses write them (byte[], not [B).",
            )
            .param("pid", "the JVM's process id")
            .returns("a Frame (class, instances, shallow_bytes), largest first")
            .example(r#"heap::class_histogram(JAVA_PID).filter("class = 'Probe'").rows()[0].instances"#, "1000")
            .volatile(),
        |pid: i64| frame_of(&class_histogram(pid)?, &["class", "instances", "shallow_bytes"]),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("watch")
            .usage("heap::watch(pid: int, every: string|int, count: int) -> Frame")
            .summary(
                "A series of class histograms of a running JVM, `count` of them `every` apart: per class growth \
                 over time without dumping the heap. Ctrl-C stops the wait.",
            )
            .param("pid", "the JVM's process id")
            .param("every", "time between samples: \"500ms\", \"5s\", \"1m\", or milliseconds")
            .param("count", "how many samples")
            .returns("a Frame (sample, t_secs, class, instances, shallow_bytes), one row per class per sample")
            .example(r#"heap::watch(JAVA_PID, "100ms", 2).filter("class = 'Probe'")["sample"]"#, "[0, 1]")
            .volatile(),
        move |pid: i64, every: Dynamic, count: i64| heap_watch(&s, pid, &every, count),
    );
    api.end_namespace();

    api.namespace("proc");
    api.add(
        FnDoc::new("pid")
            .usage("proc::pid() -> int")
            .summary("The process id of this shell, to try the proc:: functions on.")
            .returns("a process id")
            .example("proc::pid() > 0", "true"),
        || std::process::id() as i64,
    );

    api.add(
        FnDoc::new("find")
            .usage("proc::find(name: string) -> Frame")
            .summary("Running processes (not this shell) whose command line names a service: its main class, jar, script or a `-Dservice.name=` value, as a whole word. A service's version comes from -Dservice.version=, -Dapp.version=, -Dversion= or --version= on its command line.")
            .param("name", "the service name, e.g. \"api-svc\"")
            .returns("a Frame (pid, cmdline, version), by pid; empty when none runs")
            .example(r#"proc::find("no-such-service-here").len()"#, "0")
            .volatile(),
        |name: &str| -> Result<Frame> {
            if name.trim().is_empty() {
                return Err(rt_error("proc::find: the service name is empty"));
            }
            let rows = super::serialized(&proc::find(name));
            frame_of(&rows, &["pid", "cmdline", "version"])
        },
    );

    api.add(
        FnDoc::new("memory")
            .usage("proc::memory(pid: int) -> Frame")
            .summary(
                "A process's memory now, from /proc/PID/status and smaps_rollup: resident (total, peak, anonymous, \
                 file-backed), swap, virtual size, proportional and private dirty bytes, threads. Any runtime.",
            )
            .param("pid", "the process id")
            .returns(
                "a one-row Frame (pid, name, rss_bytes, rss_peak_bytes, anon_bytes, file_bytes, swap_bytes, \
                 virtual_bytes, pss_bytes, private_dirty_bytes, threads)",
            )
            .example("proc::memory(proc::pid()).rows()[0].rss_bytes > 1000000", "true")
            .volatile(),
        |pid: i64| -> Result<Frame> {
            let m = proc::memory(pid_of(pid)?).map_err(rt_error)?;
            frame_of(&[memory_row(&m)], &MEMORY_COLUMNS)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("watch")
            .usage("proc::watch(pids: int|array, every: string|int, duration: string|int) -> Frame")
            .summary(
                "Sample processes' memory `every` so often for `duration`: a time series with each process's leak \
                 verdict over the whole watch (as proc::leak_verdict gives it, on rss_bytes; a leaking process is \
                 an error finding). A process that exits ends its series. Ctrl-C stops the wait.",
            )
            .param("pids", "a process id or an array of them")
            .param("every", "time between samples: \"500ms\", \"5s\", or milliseconds")
            .param("duration", "how long to watch: \"10m\", or milliseconds")
            .returns(
                "a Frame (t_secs, pid, name, rss_bytes, anon_bytes, pss_bytes, swap_bytes, verdict), one row per sample",
            )
            .example(r#"proc::watch([proc::pid()], "20ms", "100ms").len() >= 4"#, "true")
            .volatile(),
        move |pids: Dynamic, every: Dynamic, span: Dynamic| proc_watch(&s, &pids, &every, &span),
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("leak_verdict")
            .usage("proc::leak_verdict(samples: Frame) -> Frame")
            .usage("proc::leak_verdict(samples: Frame, column: string) -> Frame")
            .summary(
                "Whether memory is leaking, per process: the series is cut into windows and each window's minimum \
                 kept (the floor after garbage collection, so GC saw-teeth do not count); a Mann-Kendall test says \
                 whether the floor trends upward (z > 1.645, 5% one-sided) and a Theil-Sen slope how fast. A \
                 leaking process is recorded as an error finding. Works on any Frame with t_secs, pid and a bytes \
                 column: proc::watch samples, CloudWatch metrics, a CSV.",
            )
            .param("samples", "a Frame with t_secs, pid and the column")
            .param("column", "the bytes column (default rss_bytes)")
            .returns(
                "a Frame (pid, samples, first_bytes, last_bytes, slope_bytes_per_min, trend_z, floor_growth_pct, \
                 verdict: leaking, stable or insufficient data)",
            )
            .example(
                r#"let rows = []; for t in 0..40 { rows.push(#{t_secs: t, pid: 7, rss_bytes: 100000000 + t * 1000000 + (t % 5) * 3000000}); }
proc::leak_verdict(frame(rows)).select(["verdict", "slope_bytes_per_min"]).rows()"#,
                r#"[{"verdict": "leaking", "slope_bytes_per_min": 60000000.0}]"#,
            )
            .volatile(),
        move |samples: Frame| leak_verdict(&s, &samples, "rss_bytes"),
    )
    .overload({
        let s = shared.clone();
        move |samples: Frame, column: &str| leak_verdict(&s, &samples, column)
    });
    api.end_namespace();
}
