//! Functions that belong to no capability: help, sleep, scratch paths, text files, JSON.

use super::api::{Api, FnDoc};
use super::convert::{from_json, to_json};
use super::{Shared, rt_error};
use rhai::{Dynamic, EvalAltResult, Position};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    let s = shared.clone();
    api.add(
        FnDoc::new("help")
            .usage("help() -> string")
            .usage("help(name: string) -> string")
            .summary("Documentation of a function: usage, parameters, what it returns, examples.")
            .param(
                "name",
                "e.g. \"frame\", \"Frame.filter\", \"filter\" or \"evidence::note\"; without it, every function",
            )
            .returns("the help text")
            .example(r#"help("sleep").contains("milliseconds")"#, "true")
            .example(r#"help().contains("evidence::note")"#, "true"),
        move |name: &str| -> Result<String> { s.help(Some(name)).map_err(rt_error) },
    )
    .overload({
        let s = shared.clone();
        move || -> Result<String> { s.help(None).map_err(rt_error) }
    });

    api.add(
        FnDoc::new("input_error")
            .usage("input_error(message: string)")
            .summary("Stop because an input is wrong (a file that is no dump, a folder with no logs, a bad parameter), not the script: `deployclaw run` and the audits then exit 2, as for a usage error. Name the input and what was wrong.")
            .param("message", "what was given and what is wrong with it, e.g. \"--dumps d/: no subfolder with .hprof dumps\"")
            .returns("never: the statement stops")
            .example(r#"let said = (); try { input_error("--logs ci/: no log files"); } catch (e) { said = e.to_string(); } said"#, r#""--logs ci/: no log files""#),
        |message: &str| -> Result<Dynamic> { Err(super::input_error(message)) },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("sleep")
            .usage("sleep(ms: int)")
            .summary("Wait this many milliseconds, e.g. between heap snapshots. Ctrl-C cancels the wait.")
            .param("ms", "milliseconds to wait")
            .returns("nothing")
            .example_runs("sleep(10)")
            .volatile(),
        move |ms: i64| -> Result<()> {
            let ms = u64::try_from(ms).map_err(|_| rt_error(format!("sleep: ms must be zero or more, not {ms}")))?;
            s.bridge
                .block_on(|| tokio::time::sleep(Duration::from_millis(ms)))
                .map_err(|_| Box::new(EvalAltResult::ErrorTerminated("cancelled".into(), Position::NONE)))
        },
    );

    api.add(
        FnDoc::new("folders")
            .usage("folders(dir: string) -> array")
            .summary("The subfolders of a folder, sorted by name, e.g. one folder of heap dumps per service.")
            .param("dir", "the folder")
            .returns("an array of paths")
            .example(r#"let d = mkdir(temp_path("svc")); mkdir(`${d}/worker`); mkdir(`${d}/api`); folders(d).map(|p| p.sub_string(p.len() - 3))"#, r#"["api", "ker"]"#)
            .volatile(),
        |dir: &str| list_entries(dir, "", true),
    );

    api.add(
        FnDoc::new("mkdir")
            .usage("mkdir(path: string) -> string")
            .summary("Create a folder and any missing parents; an existing folder is fine.")
            .param("path", "the folder")
            .returns("the path")
            .example(r#"let d = mkdir(temp_path("out")); mkdir(d) == d"#, "true")
            .volatile(),
        |path: &str| -> Result<String> {
            std::fs::create_dir_all(path).map_err(|e| rt_error(format!("cannot create folder {path}: {e}")))?;
            Ok(path.to_string())
        },
    );

    api.add(
        FnDoc::new("files")
            .usage("files(dir: string) -> array")
            .usage("files(dir: string, suffix: string) -> array")
            .summary("The files in a folder (not its subfolders), sorted by name, e.g. a service's heap dumps oldest first when they are named by time.")
            .param("suffix", "only names ending so, e.g. \".hprof\"")
            .returns("an array of paths")
            .example(r#"let d = mkdir(temp_path("dumps")); write_text(`${d}/b.hprof`, ""); write_text(`${d}/a.hprof`, ""); write_text(`${d}/notes.txt`, ""); files(d, ".hprof").map(|p| p.sub_string(p.len() - 7))"#, r#"["a.hprof", "b.hprof"]"#)
            .volatile(),
        |dir: &str| list_entries(dir, "", false),
    )
    .overload(|dir: &str, suffix: &str| list_entries(dir, suffix, false));

    let s = shared.clone();
    api.add(
        FnDoc::new("temp_path")
            .usage("temp_path(name: string) -> string")
            .summary("A path for a scratch file in this session's temporary folder, removed when the session ends.")
            .param("name", "the file name")
            .returns("the full path (the file is not created)")
            .example(r#"temp_path("x.csv").ends_with("x.csv")"#, "true")
            .volatile(),
        move |name: &str| -> Result<String> { s.temp_path(name).map(|p| p.display().to_string()).map_err(rt_error) },
    );

    api.add(
        FnDoc::new("write_text")
            .usage("write_text(path: string, text: string)")
            .summary("Write text to a file, whole or not at all: it goes to a temporary file beside it that is renamed over the target.")
            .param("path", "the file; its folder must exist")
            .param("text", "the contents")
            .returns("nothing; an error names the path and the reason")
            .example(r#"let p = temp_path("note.txt"); write_text(p, "hello"); read_text(p)"#, r#""hello""#)
            .volatile(),
        |path: &str, text: &str| -> Result<()> { crate::paths::write_atomically(Path::new(path), text.as_bytes()).map_err(rt_error) },
    );

    api.add(
        FnDoc::new("read_text")
            .usage("read_text(path: string) -> string")
            .summary("Read a UTF-8 text file.")
            .param("path", "the file")
            .returns("its contents")
            .example(r#"let p = temp_path("n.txt"); write_text(p, "a\nb"); read_text(p).split("\n").len()"#, "2")
            .volatile(),
        |path: &str| -> Result<String> {
            std::fs::read_to_string(path).map_err(|e| rt_error(format!("cannot read {path}: {e}")))
        },
    );

    api.add(
        FnDoc::new("json")
            .usage("json(value: any) -> string")
            .summary("A value as compact JSON text (a Frame as an array of records).")
            .param("value", "anything")
            .returns("a string")
            .example(r#"json(#{a: [1, 2.5, ()]})"#, r#""{\"a\":[1,2.5,null]}""#),
        |value: Dynamic| to_json(&value).to_string(),
    );

    api.add(
        FnDoc::new("parse_json")
            .usage("parse_json(text: string) -> any")
            .summary("Parse JSON text into maps, arrays and scalars.")
            .param("text", "JSON")
            .returns("the value; null becomes ()")
            .example(r#"parse_json("{\"pool\": {\"max\": 20}}").pool.max"#, "20"),
        |text: &str| -> Result<Dynamic> {
            serde_json::from_str(text).map(from_json).map_err(|e| rt_error(format!("parse_json: not valid JSON: {e}")))
        },
    );
}

/// Files (or, with `folders`, subfolders) of `dir` whose names end with `suffix`, sorted.
fn list_entries(dir: &str, suffix: &str, folders: bool) -> Result<rhai::Array> {
    let entries = std::fs::read_dir(dir).map_err(|e| rt_error(format!("cannot list {dir}: {e}")))?;
    let mut paths: Vec<String> = entries
        .filter_map(|e| e.ok())
        // Symbolic links are followed: people link dumps and logs in from where they were
        // written. A link to nothing is left out.
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| if folders { m.is_dir() } else { m.is_file() }))
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(suffix))
        .collect();
    paths.sort();
    Ok(paths.into_iter().map(Dynamic::from).collect())
}
