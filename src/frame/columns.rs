//! Whole columns as plain Rust vectors, for capability code that computes over millions of rows
//! (burn rates) without going through JSON records.

use polars::prelude::*;

use super::{Error, Frame};

impl Frame {
    /// A numeric column as floats; nulls are 0 (no events counted).
    pub fn floats(&self, name: &str) -> Result<Vec<f64>, Error> {
        let column = self.column(name)?;
        let not_numbers =
            || Error::invalid(format!("column {name:?}"), format!("holds {}, not numbers", column.dtype()));
        if !column.dtype().is_primitive_numeric() && column.dtype() != &DataType::Boolean {
            return Err(not_numbers());
        }
        // Integer counts (the usual case) convert in one pass, chunk by chunk, without a cast
        // column in between.
        if let Ok(ints) = column.i64()
            && ints.null_count() == 0
        {
            let mut out = Vec::with_capacity(ints.len());
            for chunk in ints.downcast_iter() {
                out.extend(chunk.values().iter().map(|&v| v as f64));
            }
            return Ok(out);
        }
        let cast = column.cast(&DataType::Float64).map_err(|_| not_numbers())?;
        let floats = cast.f64().map_err(|e| Error::invalid(format!("column {name:?}"), e))?;
        if floats.null_count() == 0 {
            let mut out = Vec::with_capacity(floats.len());
            for chunk in floats.downcast_iter() {
                out.extend_from_slice(chunk.values());
            }
            return Ok(out);
        }
        Ok(floats.iter().map(|v| v.unwrap_or(0.0)).collect())
    }

    /// A time column as seconds since the epoch: datetimes and dates, integers (seconds, or
    /// milliseconds when they are past the year 5000 as seconds), floats, or RFC 3339 text.
    pub fn epoch_seconds(&self, name: &str) -> Result<Vec<i64>, Error> {
        let column = self.column(name)?;
        let bad = |why: String| Error::invalid(format!("column {name:?}"), why);
        match column.dtype() {
            DataType::Datetime(unit, _) => {
                let per_sec = match unit {
                    TimeUnit::Nanoseconds => 1_000_000_000,
                    TimeUnit::Microseconds => 1_000_000,
                    TimeUnit::Milliseconds => 1_000,
                };
                let dt = column.datetime().map_err(|e| bad(e.to_string()))?;
                Ok(dt.physical().iter().map(|v| v.map_or(i64::MIN, |t| t.div_euclid(per_sec))).collect())
            }
            DataType::Date => {
                let days = column.cast(&DataType::Int32).map_err(|e| bad(e.to_string()))?;
                Ok(days
                    .i32()
                    .map_err(|e| bad(e.to_string()))?
                    .iter()
                    .map(|d| d.map_or(i64::MIN, |d| d as i64 * 86_400))
                    .collect())
            }
            DataType::String => {
                let text = column.str().map_err(|e| bad(e.to_string()))?;
                text.iter()
                    .enumerate()
                    .map(|(row, t)| {
                        let t = t.ok_or_else(|| bad(format!("row {row} has no time")))?;
                        chrono::DateTime::parse_from_rfc3339(t)
                            .map(|d| d.timestamp())
                            .map_err(|_| bad(format!("row {row}: {t:?} is not an RFC 3339 time")))
                    })
                    .collect()
            }
            DataType::Int64 if column.null_count() == 0 => {
                let ints = column.i64().map_err(|e| bad(e.to_string()))?;
                let mut out = Vec::with_capacity(ints.len());
                for chunk in ints.downcast_iter() {
                    out.extend_from_slice(chunk.values());
                }
                if out.iter().any(|&v| v > 100_000_000_000) {
                    out.iter_mut().for_each(|v| *v = v.div_euclid(1000));
                }
                Ok(out)
            }
            dtype if dtype.is_primitive_numeric() => {
                let floats = self.floats(name)?;
                let millis = floats.iter().any(|&v| v > 1e11);
                Ok(floats
                    .iter()
                    .map(|&v| if millis { (v / 1000.0).floor() as i64 } else { v.floor() as i64 })
                    .collect())
            }
            other => Err(bad(format!("holds {other}, not times"))),
        }
    }

    /// A text column as codes: for each row the index of its value among the distinct values,
    /// which come back in the order they first appear. Nulls are the value "".
    pub fn codes(&self, name: &str) -> Result<(Vec<u32>, Vec<String>), Error> {
        let column = self.column(name)?;
        let text = column
            .str()
            .map_err(|_| Error::invalid(format!("column {name:?}"), format!("holds {}, not text", column.dtype())))?;
        let mut index: std::collections::HashMap<String, u32, crate::hashing::Fast> = Default::default();
        let mut values: Vec<String> = Vec::new();
        let mut codes = Vec::with_capacity(text.len());
        // Rows usually come grouped or in a repeating order, so the previous row's value is the
        // first guess. Arrow's 16-byte string views decide it: equal views are equal strings
        // (short strings live in the view itself; long ones point at the same bytes).
        let mut last: Option<(u128, u32)> = None;
        let mut code_of = |value: &str| match index.get(value) {
            Some(&c) => c,
            None => {
                let c = values.len() as u32;
                values.push(value.to_string());
                index.insert(value.to_string(), c);
                c
            }
        };
        if text.null_count() == 0 {
            for array in text.downcast_iter() {
                for (i, view) in array.views().iter().enumerate() {
                    let view = view.as_u128();
                    let code = match last {
                        Some((previous, code)) if previous == view => code,
                        _ => code_of(array.value(i)),
                    };
                    last = Some((view, code));
                    codes.push(code);
                }
            }
        } else {
            codes.extend(text.iter().map(|v| code_of(v.unwrap_or(""))));
        }
        Ok((codes, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_out_as_vectors() {
        let records = vec![
            serde_json::json!({"t": "2024-05-14T09:00:00Z", "tenant": "a", "n": 1}),
            serde_json::json!({"t": "2024-05-14T09:01:00Z", "tenant": "b", "n": null}),
            serde_json::json!({"t": "2024-05-14T09:02:00+00:00", "tenant": "a", "n": 2.5}),
        ];
        let frame = Frame::from_records(&records).unwrap();
        assert_eq!(frame.floats("n").unwrap(), [1.0, 0.0, 2.5]);
        assert_eq!(frame.epoch_seconds("t").unwrap(), [1715677200, 1715677260, 1715677320]);
        assert_eq!(frame.codes("tenant").unwrap(), (vec![0, 1, 0], vec!["a".to_string(), "b".to_string()]));
        assert!(frame.floats("tenant").unwrap_err().to_string().contains("not numbers"));
        let with_null = Frame::from_records(&[
            serde_json::json!({"t": "a"}),
            serde_json::json!({"t": null}),
            serde_json::json!({"t": "a"}),
        ])
        .unwrap();
        assert_eq!(with_null.codes("t").unwrap(), (vec![0, 1, 0], vec!["a".to_string(), String::new()]));
        let millis = Frame::from_records(&[serde_json::json!({"t": 1715677200000i64})]).unwrap();
        assert_eq!(millis.epoch_seconds("t").unwrap(), [1715677200]);
    }
}
