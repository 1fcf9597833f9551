//! Frames from JSON records and back: how the engine moves rows in and out without knowing Polars.

use super::{Error, Frame};
use polars::prelude::*;
use serde_json::{Map, Value};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_i64() => Kind::Int,
        Value::Number(_) => Kind::Float,
        // Nested values become their JSON text.
        Value::String(_) | Value::Array(_) | Value::Object(_) => Kind::Str,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Null => "null",
        Kind::Bool => "a boolean",
        Kind::Int => "an integer",
        Kind::Float => "a float",
        Kind::Str => "a string",
    }
}

/// Widen `current` to hold `next`, or say why it cannot.
fn unify(current: Kind, next: Kind) -> Option<Kind> {
    match (current, next) {
        (a, b) if a == b => Some(a),
        (Kind::Null, b) => Some(b),
        (a, Kind::Null) => Some(a),
        (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Some(Kind::Float),
        _ => None,
    }
}

impl Frame {
    /// Build a frame from records (JSON objects). Columns appear in first-seen order; a key
    /// missing from a record is null there. Integers mixed with floats become floats; other
    /// mixtures are an error naming the column and row.
    pub fn from_records(records: &[Value]) -> Result<Frame, Error> {
        let mut names: Vec<String> = Vec::new();
        let mut kinds: Vec<Kind> = Vec::new();
        for (row, record) in records.iter().enumerate() {
            let Value::Object(map) = record else {
                return Err(Error::invalid(format!("row {row}"), "expected a map of column names to values"));
            };
            for (key, value) in map {
                let idx = match names.iter().position(|n| n == key) {
                    Some(i) => i,
                    None => {
                        names.push(key.clone());
                        kinds.push(Kind::Null);
                        names.len() - 1
                    }
                };
                let next = kind_of(value);
                kinds[idx] = unify(kinds[idx], next).ok_or_else(|| {
                    Error::invalid(
                        format!("column {key:?}"),
                        format!(
                            "row {row} holds {} but earlier rows hold {}; convert the values to one type first",
                            kind_name(next),
                            kind_name(kinds[idx])
                        ),
                    )
                })?;
            }
        }
        let columns =
            names.iter().zip(&kinds).map(|(name, kind)| build_column(name, *kind, records)).collect::<Vec<_>>();
        let df = DataFrame::new(records.len(), columns).map_err(|e| Error::invalid("frame", e))?;
        Ok(Frame { df })
    }

    /// A frame of `records` with exactly `columns`, in that order; with no records, those columns
    /// and no rows (so an empty result still has its shape).
    pub fn from_records_as(records: &[Value], columns: &[&str]) -> Result<Frame, Error> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        if records.is_empty() {
            return Frame::empty(&columns);
        }
        Frame::from_records(records)?.select(&columns)
    }

    /// A frame with these columns and no rows (null-typed columns).
    fn empty(columns: &[String]) -> Result<Frame, Error> {
        let columns = columns
            .iter()
            .map(|c| Column::full_null(PlSmallStr::from(c.as_str()), 0, &DataType::Null))
            .collect::<Vec<_>>();
        let df = DataFrame::new(0, columns).map_err(|e| Error::invalid("frame", e))?;
        Ok(Frame { df })
    }

    /// Every row as a JSON object, in column order.
    pub fn to_records(&self) -> Vec<Value> {
        let names = self.column_names();
        let columns: Vec<Vec<Value>> = self.df.columns().iter().map(column_to_json).collect();
        (0..self.height())
            .map(|row| {
                let mut map = Map::with_capacity(names.len());
                for (name, column) in names.iter().zip(&columns) {
                    map.insert(name.clone(), column[row].clone());
                }
                Value::Object(map)
            })
            .collect()
    }

    /// The values of one column.
    pub fn column_values(&self, name: &str) -> Result<Vec<Value>, Error> {
        Ok(column_to_json(self.column(name)?))
    }

    /// The cells of a text column (numbers and other types are an error naming the column).
    pub fn text_column(&self, name: &str) -> Result<Vec<Option<&str>>, Error> {
        let column = self.column(name)?;
        let text = column.str().map_err(|_| Error::invalid(format!("column {name:?}"), "it does not hold text"))?;
        Ok(text.iter().collect())
    }

    /// This frame with an integer column and a text column added (one value per row each).
    pub fn with_int_and_text(&self, int: (&str, Vec<i64>), text: (&str, Vec<String>)) -> Result<Frame, Error> {
        let mut df = self.df.clone();
        let columns = [Column::new(PlSmallStr::from(int.0), int.1), Column::new(PlSmallStr::from(text.0), text.1)];
        df.hstack_mut(&columns).map_err(|e| Error::invalid("frame", e))?;
        Ok(Frame { df })
    }

    /// This frame with a text column added (one value per row; None is null).
    pub fn with_text_column(&self, name: &str, values: Vec<Option<String>>) -> Result<Frame, Error> {
        let mut df = self.df.clone();
        df.hstack_mut(&[Column::new(PlSmallStr::from(name), values)]).map_err(|e| Error::invalid("frame", e))?;
        Ok(Frame { df })
    }

    /// One row as a JSON object; `None` past the end.
    pub fn row(&self, index: usize) -> Option<Value> {
        if index >= self.height() {
            return None;
        }
        let row = self.df.slice(index as i64, 1);
        Frame::from_polars(row).to_records().pop()
    }
}

fn build_column(name: &str, kind: Kind, records: &[Value]) -> Column {
    let cells = records.iter().map(|r| r.get(name).unwrap_or(&Value::Null));
    let name = PlSmallStr::from(name);
    match kind {
        Kind::Bool => Column::new(name, cells.map(Value::as_bool).collect::<Vec<_>>()),
        Kind::Int => Column::new(name, cells.map(Value::as_i64).collect::<Vec<_>>()),
        Kind::Float => Column::new(name, cells.map(Value::as_f64).collect::<Vec<_>>()),
        Kind::Str => Column::new(
            name,
            cells
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Null => Column::full_null(name, records.len(), &DataType::Null),
    }
}

fn column_to_json(column: &Column) -> Vec<Value> {
    column.as_materialized_series().iter().map(|v| any_to_json(&v)).collect()
}

/// One cell as JSON. Temporal values become their ISO text.
pub(crate) fn any_to_json(value: &AnyValue) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(v) => (*v).into(),
        AnyValue::Int16(v) => (*v).into(),
        AnyValue::Int32(v) => (*v).into(),
        AnyValue::Int64(v) => (*v).into(),
        AnyValue::UInt8(v) => (*v).into(),
        AnyValue::UInt16(v) => (*v).into(),
        AnyValue::UInt32(v) => (*v).into(),
        AnyValue::UInt64(v) => (*v).into(),
        AnyValue::Float32(v) => float_json(*v as f64),
        AnyValue::Float64(v) => float_json(*v),
        other => Value::String(other.to_string().trim_matches('"').to_string()),
    }
}

fn float_json(v: f64) -> Value {
    serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_records_with_nulls_and_widening() {
        let records = vec![json!({"t": "a", "mb": 1}), json!({"t": "b", "mb": 2.5, "ok": true})];
        let frame = Frame::from_records(&records).unwrap();
        assert_eq!(
            frame.schema(),
            vec![("t".into(), "str".into()), ("mb".into(), "f64".into()), ("ok".into(), "bool".into())]
        );
        assert_eq!(
            frame.to_records(),
            vec![json!({"t": "a", "mb": 1.0, "ok": null}), json!({"t": "b", "mb": 2.5, "ok": true})]
        );
    }

    #[test]
    fn mixed_types_name_the_column_and_row() {
        let err = Frame::from_records(&[json!({"x": 1}), json!({"x": "two"})]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column \"x\": row 1 holds a string but earlier rows hold an integer; convert the values to one type first"
        );
    }
}
