//! `frame(...)`, `read_csv(...)` and the methods of `Frame` and `GroupBy`.

use super::api::{Api, FnDoc};
use super::convert::{from_json, to_json};
use super::rt_error;
use crate::frame::{Frame, GroupBy, JoinKind};
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString};
use std::path::Path;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Strings from a Rhai value that is a string or an array of strings.
fn names(what: &str, value: &Dynamic) -> Result<Vec<String>> {
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return Ok(vec![s.to_string()]);
    }
    if let Some(items) = value.read_lock::<Array>() {
        return items
            .iter()
            .map(|v| {
                v.read_lock::<ImmutableString>().map(|s| s.to_string()).ok_or_else(|| {
                    rt_error(format!("{what}: expected strings, found a {}", super::convert::type_name(v)))
                })
            })
            .collect();
    }
    Err(rt_error(format!(
        "{what}: expected a string or an array of strings, found a {}",
        super::convert::type_name(value)
    )))
}

fn fe(e: crate::frame::Error) -> Box<EvalAltResult> {
    rt_error(e)
}

fn records(items: Array) -> Result<Frame> {
    let json: Vec<serde_json::Value> = items.iter().map(to_json).collect();
    Frame::from_records(&json).map_err(fe)
}

fn index(n: i64, what: &str) -> Result<usize> {
    usize::try_from(n).map_err(|_| rt_error(format!("{what} must be zero or more, not {n}")))
}

const USAGE: &str =
    r#"frame([#{tenant: "acme", mb: 10}, #{tenant: "beta", mb: 30}, #{tenant: "acme", mb: 5}], ["tenant", "mb"])"#;

pub fn register(api: &mut Api) {
    api.engine()
        .register_type_with_name::<Frame>("Frame")
        .register_type_with_name::<GroupBy>("GroupBy")
        .register_indexer_get(|df: &mut Frame, name: &str| -> Result<Array> {
            Ok(df.column_values(name).map_err(fe)?.into_iter().map(from_json).collect())
        })
        .register_fn("to_string", |df: &mut Frame| crate::frame::render(df, Default::default()))
        .register_fn("to_debug", |df: &mut Frame| crate::frame::render(df, Default::default()));

    api.add(
        FnDoc::new("frame")
            .usage("frame(records: array) -> Frame")
            .usage("frame(records: array, columns: array) -> Frame")
            .summary("Build a Frame from an array of maps, one map per row.")
            .param("records", "maps of column name to value; a key missing from a map is null in that row")
            .param(
                "columns",
                "the column order (Rhai maps keep their keys sorted, so without it columns are alphabetical)",
            )
            .returns("a Frame; integers mixed with floats become floats, other mixed types are an error")
            .example(r#"frame([#{tenant: "acme", mb: 12}]).columns()"#, r#"["mb", "tenant"]"#)
            .example(r#"frame([#{tenant: "acme", mb: 12}], ["tenant", "mb"]).columns()"#, r#"["tenant", "mb"]"#)
            .example(
                r#"let none = frame([], ["tenant", "mb"]); [none.len(), none.columns()]"#,
                r#"[0, ["tenant", "mb"]]"#,
            )
            .example(r#"frame([#{a: 1}, #{a: 2.5}]).col("a")"#, "[1.0, 2.5]"),
        |items: Array| records(items),
    )
    .overload(|items: Array, columns: Array| {
        // With the columns named, no rows is still a Frame of that shape.
        let columns = names("frame", &columns.into())?;
        let json: Vec<serde_json::Value> = items.iter().map(to_json).collect();
        Frame::from_records_as(&json, &columns.iter().map(String::as_str).collect::<Vec<_>>()).map_err(fe)
    });

    for (name, fmt, reader) in [
        (
            "read_csv",
            "CSV with a header row",
            Frame::read_csv as fn(&Path) -> std::result::Result<Frame, crate::frame::Error>,
        ),
        ("read_json", "JSON (an array of records, or JSON Lines)", Frame::read_json),
        ("read_parquet", "Parquet", Frame::read_parquet),
    ] {
        let ext = name.trim_start_matches("read_");
        let example =
            format!("let p = temp_path(\"usage.{ext}\"); frame([#{{t: \"a\", mb: 1}}]).to_{ext}(p); {name}(p).rows()");
        api.add(
            FnDoc::new(name)
                .usage(&format!("{name}(path: string) -> Frame"))
                .summary(&format!("Read a Frame from a {fmt} file."))
                .param("path", "the file to read")
                .returns("a Frame")
                .example(&example, r#"[{"t": "a", "mb": 1}]"#)
                .volatile(),
            move |path: &str| reader(Path::new(path)).map_err(fe),
        );
    }

    for (name, fmt, writer) in [
        (
            "to_csv",
            "CSV with a header row",
            Frame::write_csv as fn(&Frame, &Path) -> std::result::Result<(), crate::frame::Error>,
        ),
        ("to_json", "a JSON array of records", Frame::write_json),
        ("to_parquet", "Parquet", Frame::write_parquet),
    ] {
        let ext = name.trim_start_matches("to_");
        api.add(
            FnDoc::new(name)
                .method_of("Frame")
                .usage(&format!("df.{name}(path: string) -> string"))
                .summary(&format!("Write the Frame as {fmt}. The file is replaced whole or not at all."))
                .param("path", "where to write")
                .returns("the path written")
                .example(
                    &format!("frame([#{{a: 1}}]).{name}(temp_path(\"out.{ext}\")).ends_with(\"out.{ext}\")"),
                    "true",
                )
                .volatile(),
            move |df: &mut Frame, path: &str| -> Result<String> {
                writer(df, Path::new(path)).map_err(fe)?;
                Ok(path.to_string())
            },
        );
    }

    api.add(
        FnDoc::new("filter")
            .method_of("Frame")
            .usage("df.filter(predicate: string) -> Frame")
            .summary("Keep the rows where a SQL predicate is true.")
            .param("predicate", "a SQL boolean expression over the columns, e.g. \"mb > 10 AND tenant = 'acme'\"")
            .returns("a new Frame")
            .example(&format!("{USAGE}.filter(\"mb > 6\").col(\"tenant\")"), r#"["acme", "beta"]"#)
            .example(&format!("{USAGE}.filter(\"tenant LIKE 'ac%' AND mb < 10\").len()"), "1"),
        |df: &mut Frame, predicate: &str| df.filter(predicate).map_err(fe),
    );

    api.add(
        FnDoc::new("select")
            .method_of("Frame")
            .usage("df.select(columns: array) -> Frame")
            .usage("df.select(column: string) -> Frame")
            .summary("Keep some columns, or compute new ones, in the order given.")
            .param("columns", "column names or SQL expressions such as \"mb / 1024.0 AS gb\"")
            .returns("a new Frame")
            .example(
                &format!("{USAGE}.select([\"tenant\", \"mb * 2 AS double\"]).rows()[0]"),
                r#"{"tenant": "acme", "double": 20}"#,
            ),
        |df: &mut Frame, columns: Dynamic| df.select(&names("select", &columns)?).map_err(fe),
    );

    api.add(
        FnDoc::new("with_column")
            .method_of("Frame")
            .usage("df.with_column(name: string, expression: string) -> Frame")
            .summary("Add a column (or replace one) computed by a SQL expression.")
            .param("name", "the new column's name")
            .param("expression", "a SQL expression over the existing columns")
            .returns("a new Frame")
            .example(&format!("{USAGE}.with_column(\"big\", \"mb >= 10\").col(\"big\")"), "[true, true, false]"),
        |df: &mut Frame, name: &str, expression: &str| df.with_column(name, expression).map_err(fe),
    );

    api.add(
        FnDoc::new("align")
            .method_of("Frame")
            .usage("df.align(other: Frame, on: string, tolerance) -> Frame")
            .summary("An as-of join for samples from different clocks: each row gets the columns of the latest row of `other` at or before its time, if that is no more than `tolerance` earlier (else nulls). Clashing column names of `other` get the suffix _right.")
            .param("on", "the time column in both frames: seconds since the epoch, or RFC 3339 / YYYY-MM-DD HH:MM:SS text")
            .param("tolerance", "how much older a match may be: \"5s\", \"1m\" or milliseconds")
            .returns("a new Frame, sorted by time, with the columns of both")
            .example(
                r#"let heap = frame([#{ts: 10, mb: 100}, #{ts: 20, mb: 130}]); let pool = frame([#{ts: 9, conns: 4}, #{ts: 19, conns: 9}]); heap.align(pool, "ts", "5s").col("conns")"#,
                "[4, 9]",
            ),
        |df: &mut Frame, other: Frame, on: &str, tolerance: Dynamic| -> Result<Frame> {
            let tolerance = super::live_api::duration(&tolerance, "tolerance")?.as_secs_f64();
            df.align(&other, on, tolerance).map_err(fe)
        },
    );

    api.add(
        FnDoc::new("resample")
            .method_of("Frame")
            .usage("df.resample(on: string, every, agg: string) -> Frame")
            .summary("One row per interval of the time column, numeric columns combined (text columns keep their last value); empty intervals are left out.")
            .param("every", "the interval: \"1m\", \"5s\" or milliseconds; intervals start at its multiples")
            .param("agg", "mean, min, max, sum, first, last or count")
            .returns("a new Frame with the same columns")
            .example(r#"frame([#{ts: 0, mb: 1}, #{ts: 30, mb: 3}, #{ts: 65, mb: 10}]).resample("ts", "1m", "max").col("mb")"#, "[3, 10]"),
        |df: &mut Frame, on: &str, every: Dynamic, agg: &str| -> Result<Frame> {
            let every = super::live_api::duration(&every, "every")?.as_secs_f64();
            df.resample(on, every, agg).map_err(fe)
        },
    );

    api.add(
        FnDoc::new("sort")
            .method_of("Frame")
            .usage("df.sort(by: string | array) -> Frame")
            .usage("df.sort(by: string | array, descending: bool) -> Frame")
            .summary("Sort by one or more columns; rows that tie keep their order. Nulls go last.")
            .param("by", "a column name or an array of them")
            .param("descending", "largest first when true (default false)")
            .returns("a new Frame")
            .example(&format!("{USAGE}.sort(\"mb\", true).col(\"mb\")"), "[30, 10, 5]")
            .example(&format!("{USAGE}.sort([\"tenant\", \"mb\"]).col(\"mb\")"), "[5, 10, 30]"),
        |df: &mut Frame, by: Dynamic| df.sort(&names("sort", &by)?, false).map_err(fe),
    )
    .overload(|df: &mut Frame, by: Dynamic, descending: bool| df.sort(&names("sort", &by)?, descending).map_err(fe));

    api.add(
        FnDoc::new("head")
            .method_of("Frame")
            .usage("df.head(n: int) -> Frame")
            .summary("The first n rows.")
            .param("n", "how many rows (fewer if the frame is shorter)")
            .returns("a new Frame")
            .example(&format!("{USAGE}.head(2).len()"), "2"),
        |df: &mut Frame, n: i64| Ok::<_, Box<EvalAltResult>>(df.head(index(n, "head")?)),
    );

    api.add(
        FnDoc::new("tail")
            .method_of("Frame")
            .usage("df.tail(n: int) -> Frame")
            .summary("The last n rows.")
            .param("n", "how many rows (fewer if the frame is shorter)")
            .returns("a new Frame")
            .example(&format!("{USAGE}.tail(1).col(\"mb\")"), "[5]"),
        |df: &mut Frame, n: i64| Ok::<_, Box<EvalAltResult>>(df.tail(index(n, "tail")?)),
    );

    api.add(
        FnDoc::new("group_by")
            .method_of("Frame")
            .usage("df.group_by(keys: string | array) -> GroupBy")
            .summary("Group rows by key columns; follow with .agg([...]).")
            .param("keys", "a column name or an array of them")
            .returns("a GroupBy, whose agg() gives one row per group in order of first appearance")
            .example(
                &format!("{USAGE}.group_by(\"tenant\").agg([\"sum(mb) AS total\", \"count(*) AS n\"]).rows()"),
                r#"[{"tenant": "acme", "total": 15, "n": 2}, {"tenant": "beta", "total": 30, "n": 1}]"#,
            ),
        |df: &mut Frame, keys: Dynamic| df.group_by(&names("group_by", &keys)?).map_err(fe),
    );

    api.add(
        FnDoc::new("agg")
            .method_of("GroupBy")
            .usage("groups.agg(aggregates: string | array) -> Frame")
            .summary("Aggregate each group with SQL aggregate expressions.")
            .param("aggregates", "e.g. \"sum(mb) AS total\", \"avg(mb) AS mean\", \"max(mb)\", \"count(*) AS n\"")
            .returns("a Frame with the key columns and one column per aggregate")
            .example(&format!("{USAGE}.group_by(\"tenant\").agg(\"max(mb) AS peak\").col(\"peak\")"), "[10, 30]"),
        |groups: &mut GroupBy, aggregates: Dynamic| groups.agg(&names("agg", &aggregates)?).map_err(fe),
    );

    api.add(
        FnDoc::new("join")
            .method_of("Frame")
            .usage("df.join(other: Frame, on: string | array) -> Frame")
            .usage("df.join(other: Frame, on: string | array, how: string) -> Frame")
            .summary("Join with another Frame on columns both share by name.")
            .param("other", "the right-hand Frame")
            .param("on", "the shared key column(s)")
            .param("how", &format!("{} (default \"inner\")", JoinKind::NAMES))
            .returns("a new Frame with the key columns once")
            .example(
                &format!(
                    "{USAGE}.join(frame([#{{tenant: \"acme\", team: \"red\"}}]), \"tenant\", \"left\").col(\"team\")"
                ),
                r#"["red", null, "red"]"#,
            ),
        |df: &mut Frame, other: Frame, on: Dynamic| df.join(&other, &names("join", &on)?, JoinKind::Inner).map_err(fe),
    )
    .overload(|df: &mut Frame, other: Frame, on: Dynamic, how: &str| {
        df.join(&other, &names("join", &on)?, JoinKind::parse(how).map_err(fe)?).map_err(fe)
    });

    api.add(
        FnDoc::new("col")
            .method_of("Frame")
            .usage("df.col(name: string) -> array")
            .summary("One column's values as an array (df[\"name\"] does the same).")
            .param("name", "the column")
            .returns("an array with one value per row; nulls are ()")
            .example(&format!("{USAGE}.col(\"mb\")"), "[10, 30, 5]")
            .example(&format!("let df = {USAGE}; df[\"tenant\"]"), r#"["acme", "beta", "acme"]"#),
        |df: &mut Frame, name: &str| -> Result<Array> {
            Ok(df.column_values(name).map_err(fe)?.into_iter().map(from_json).collect())
        },
    );

    api.add(
        FnDoc::new("rows")
            .method_of("Frame")
            .usage("df.rows() -> array")
            .summary("Every row as a map of column name to value.")
            .returns("an array of maps")
            .example(r#"frame([#{a: 1, b: "x"}]).rows()"#, r#"[{"a": 1, "b": "x"}]"#),
        |df: &mut Frame| -> Array { df.to_records().into_iter().map(from_json).collect() },
    );

    api.add(
        FnDoc::new("columns")
            .method_of("Frame")
            .usage("df.columns() -> array")
            .summary("The column names, in order.")
            .returns("an array of strings")
            .example(&format!("{USAGE}.columns()"), r#"["tenant", "mb"]"#),
        |df: &mut Frame| -> Array { df.column_names().into_iter().map(Dynamic::from).collect() },
    );

    api.add(
        FnDoc::new("len")
            .method_of("Frame")
            .usage("df.len() -> int")
            .summary("The number of rows.")
            .returns("an integer")
            .example(&format!("{USAGE}.len()"), "3"),
        |df: &mut Frame| df.height() as i64,
    );

    api.add(
        FnDoc::new("describe")
            .method_of("Frame")
            .usage("df.describe() -> Frame")
            .summary("Summary statistics of every column: count, null_count, mean, std, min, median, max.")
            .returns("a Frame with one row per column of df")
            .example(&format!("{USAGE}.describe().filter(\"column = 'mb'\").col(\"mean\")"), "[15.0]"),
        |df: &mut Frame| df.describe().map_err(fe),
    );
}
