//! `heap::retention`: what holds the memory, followed over a series of dumps. The leak
//! suspects of the latest dump, and the same accumulation points (found by the types on their
//! dominator path) measured in each earlier dump, so the report can say whether the memory
//! held there ever fell (a GC released it) or only grew.

use super::api::{Api, FnDoc};
use super::heap_api::heap_error;
use super::heap_graph_api::graph;
use super::{Shared, frame_of, input_error, rt_error};
use crate::frame::Frame;
use crate::heap::{paths, suspects};
use rhai::{Array, EvalAltResult};
use serde_json::{Value, json};
use std::sync::Arc;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

const COLUMNS: &[&str] = &["suspect", "accumulation_class", "path", "dump", "bytes", "dominated"];

fn retention(s: &Shared, dumps: &[String]) -> Result<Frame> {
    let Some(last) = dumps.last() else {
        return Err(input_error("heap::retention: give the dumps of one process, oldest first"));
    };
    let g = graph(s, last)?;
    let found = suspects::suspects(&g, 0.10);
    let routes =
        paths::paths_to_roots(&g, &found.iter().map(|x| x.accumulation).collect::<Vec<_>>()).map_err(heap_error)?;
    let described: Vec<(String, String)> = found
        .iter()
        .zip(routes)
        .map(|(x, route)| (g.label(x.accumulation), route.map(|r| paths::describe(&r)).unwrap_or_default()))
        .collect();
    drop(g);
    let mut rows: Vec<Value> = Vec::new();
    for (n, dump) in dumps.iter().enumerate() {
        // The latest dump's own figures, or the same points found again in an earlier one.
        let measured: Vec<(u64, u64)> = if n + 1 == dumps.len() {
            found.iter().map(|x| (x.accumulation_retained, x.dominated)).collect()
        } else {
            let base = graph(s, dump)?;
            let matched = suspects::growth(&base, found.clone());
            found
                .iter()
                .map(|x| {
                    matched
                        .iter()
                        .find(|m| m.suspect.accumulation == x.accumulation)
                        .map_or((0, 0), |m| (m.base_retained, m.base_dominated))
                })
                .collect()
        };
        for (i, ((class, path), (bytes, dominated))) in described.iter().zip(measured).enumerate() {
            rows.push(json!({
                "suspect": i + 1, "accumulation_class": class, "path": path, "dump": n + 1,
                "bytes": bytes, "dominated": dominated,
            }));
        }
    }
    frame_of(&rows, COLUMNS)
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("heap");
    let s = shared.clone();
    api.add(
        FnDoc::new("retention")
            .usage("heap::retention(paths: array) -> Frame")
            .summary(
                "What holds the memory over time: the leak suspects of the latest dump (each accumulation point and \
                 its strong path from a GC root, as heap::suspects finds them), and the bytes the same point retains \
                 in every dump, oldest first. A point whose bytes never fall from one dump to the next was never \
                 released by a GC between them.",
            )
            .param("paths", "dumps of one process, oldest first")
            .returns(&format!(
                "a Frame ({}): one row per suspect and dump; bytes is 0 where a dump has no such point",
                COLUMNS.join(", ")
            ))
            .example(
                r#"let d = [10, 20, 30].map(|n| heap::demo_dump(temp_path(`r${n}.hprof`), n)); heap::retention(d).select(["dump", "bytes"]).rows()"#,
                r#"[{"dump": 1, "bytes": 14248}, {"dump": 2, "bytes": 28608}, {"dump": 3, "bytes": 42328}]"#,
            )
            .volatile(),
        move |dumps: Array| -> Result<Frame> {
            let dumps: Vec<String> = dumps
                .iter()
                .map(|p| p.clone().into_string().map_err(|t| rt_error(format!("heap::retention: dump paths are strings, not {t}"))))
                .collect::<Result<_>>()?;
            retention(&s, &dumps)
        },
    );
    api.end_namespace();
}
