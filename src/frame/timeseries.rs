//! Time-series glue: samples from different clocks (heap, metrics, connection pools) lined up by
//! time. Times are numbers (seconds since the epoch) or RFC 3339 / `YYYY-MM-DD HH:MM:SS` text.

use serde_json::{Map, Value};

use super::{Error, Frame};

/// Seconds since the epoch of a time cell.
fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros() as f64 / 1e6).ok().or_else(|| {
                let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()?;
                Some(naive.and_utc().timestamp_micros() as f64 / 1e6)
            })
        }
        _ => None,
    }
}

/// A row and its time in seconds.
type Timed = (f64, Map<String, Value>);

/// Rows with their time, sorted by it; a row whose time does not parse is an error naming it.
fn timed(frame: &Frame, on: &str, what: &str) -> Result<Vec<Timed>, Error> {
    frame.column(on)?;
    let mut rows = Vec::with_capacity(frame.height());
    for (i, record) in frame.to_records().into_iter().enumerate() {
        let Value::Object(map) = record else { continue };
        let cell = map.get(on).cloned().unwrap_or(Value::Null);
        let t = seconds(&cell).ok_or_else(|| {
            Error::invalid(
                what,
                format!("row {i}: {on} = {cell} is not a time (seconds since the epoch, or RFC 3339 text)"),
            )
        })?;
        rows.push((t, map));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(rows)
}

impl Frame {
    /// An as-of join: each row of `self` gets the columns of the latest row of `other` at or
    /// before its time on `on`, no more than `tolerance` seconds earlier (else nulls). Columns of
    /// `other` whose names `self` already has get the suffix `_right`.
    pub fn align(&self, other: &Frame, on: &str, tolerance: f64) -> Result<Frame, Error> {
        let left = timed(self, on, "align")?;
        let right = timed(other, on, "align (other frame)")?;
        let mine = self.column_names();
        let theirs: Vec<(String, String)> = other
            .column_names()
            .into_iter()
            .filter(|c| c != on)
            .map(|c| {
                let shown = if mine.contains(&c) { format!("{c}_right") } else { c.clone() };
                (c, shown)
            })
            .collect();
        let mut j = 0;
        let mut records = Vec::with_capacity(left.len());
        for (t, mut row) in left {
            while j < right.len() && right[j].0 <= t {
                j += 1;
            }
            let matched = j.checked_sub(1).map(|k| &right[k]).filter(|(tr, _)| t - tr <= tolerance);
            for (name, shown) in &theirs {
                let value = matched.and_then(|(_, r)| r.get(name).cloned()).unwrap_or(Value::Null);
                row.insert(shown.clone(), value);
            }
            records.push(Value::Object(row));
        }
        let columns: Vec<&str> =
            mine.iter().map(String::as_str).chain(theirs.iter().map(|(_, s)| s.as_str())).collect();
        Frame::from_records_as(&records, &columns)
    }

    /// One row per `every` seconds of `on` (buckets start at multiples of `every`), numeric
    /// columns combined with `agg`: mean, min, max, sum, first, last or count. Text columns keep
    /// their last value. Empty buckets are left out.
    pub fn resample(&self, on: &str, every: f64, agg: &str) -> Result<Frame, Error> {
        if every <= 0.0 {
            return Err(Error::invalid("resample", "the interval must be longer than zero"));
        }
        if !matches!(agg, "mean" | "min" | "max" | "sum" | "first" | "last" | "count") {
            return Err(Error::invalid(
                "resample",
                format!("unknown aggregation {agg:?}: use mean, min, max, sum, first, last or count"),
            ));
        }
        let rows = timed(self, on, "resample")?;
        let text_times = rows.first().is_some_and(|(_, r)| r.get(on).is_some_and(Value::is_string));
        let names = self.column_names();
        let mut records = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let bucket = (rows[start].0 / every).floor() * every;
            let end = start + rows[start..].iter().take_while(|(t, _)| (t / every).floor() * every == bucket).count();
            let group = &rows[start..end];
            let mut out = Map::new();
            for name in &names {
                let value = if name == on {
                    if text_times {
                        let micros = (bucket * 1e6).round() as i64;
                        let at = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
                        Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    } else {
                        Value::from(bucket)
                    }
                } else {
                    combine(group.iter().map(|(_, r)| r.get(name).unwrap_or(&Value::Null)), agg)
                };
                out.insert(name.clone(), value);
            }
            records.push(Value::Object(out));
            start = end;
        }
        let columns: Vec<&str> = names.iter().map(String::as_str).collect();
        Frame::from_records_as(&records, &columns)
    }
}

fn combine<'v>(values: impl Iterator<Item = &'v Value>, agg: &str) -> Value {
    let values: Vec<&Value> = values.filter(|v| !v.is_null()).collect();
    if agg == "count" {
        return Value::from(values.len() as i64);
    }
    let numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
    if numbers.len() < values.len() || numbers.is_empty() {
        // Text (or nothing): the last value.
        return values.last().map_or(Value::Null, |v| (*v).clone());
    }
    let integral = values.iter().all(|v| v.is_i64());
    let x = match agg {
        "mean" => return Value::from(numbers.iter().sum::<f64>() / numbers.len() as f64),
        "min" => numbers.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "sum" => numbers.iter().sum(),
        "first" => numbers[0],
        _ => numbers[numbers.len() - 1],
    };
    if integral { Value::from(x as i64) } else { Value::from(x) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(records: Value) -> Frame {
        Frame::from_records(records.as_array().unwrap()).unwrap()
    }

    #[test]
    fn align_takes_the_latest_earlier_sample_within_tolerance() {
        let heap = frame(json!([{"ts": 10, "heap": 1}, {"ts": 20, "heap": 2}, {"ts": 40, "heap": 3}]));
        let pool = frame(json!([{"ts": 9, "conns": 5}, {"ts": 19.5, "conns": 7}, {"ts": 25, "conns": 9}]));
        let out = heap.align(&pool, "ts", 5.0).unwrap().to_records();
        let conns: Vec<Value> = out.iter().map(|r| r["conns"].clone()).collect();
        assert_eq!(conns, vec![json!(5), json!(7), Value::Null], "40 is 15 s after the last pool sample");
    }

    #[test]
    fn align_reads_rfc3339_and_suffixes_clashing_names() {
        let a = frame(json!([{"ts": "2026-11-22T10:00:05Z", "v": 1}]));
        let b = frame(json!([{"ts": "2026-11-22T10:00:00+00:00", "v": 9}]));
        let out = a.align(&b, "ts", 10.0).unwrap().to_records();
        assert_eq!(out[0]["v_right"], json!(9));
    }

    #[test]
    fn resample_buckets_and_aggregates() {
        let f = frame(
            json!([{"ts": 0, "mb": 1, "svc": "a"}, {"ts": 30, "mb": 3, "svc": "b"}, {"ts": 65, "mb": 10, "svc": "c"}]),
        );
        let out = f.resample("ts", 60.0, "mean").unwrap().to_records();
        assert_eq!(out, vec![json!({"ts": 0.0, "mb": 2.0, "svc": "b"}), json!({"ts": 60.0, "mb": 10.0, "svc": "c"})]);
        let max = f.resample("ts", 60.0, "max").unwrap().to_records();
        assert_eq!(max[0]["mb"], json!(3));
        assert!(f.resample("ts", 60.0, "median").is_err());
    }
}
