//! What a rollback would have to undo in a tenant's schema: columns that differ from the other
//! tenants' (schema drift) and rows written since the deploy began.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::migrations::HISTORY_TABLES;
use crate::sql::Dialect;
use crate::sql::db::{self, Database, Value};

/// Columns that say when a row was last written, in order of preference.
pub const WRITE_COLUMNS: [&str; 4] = ["updated_at", "modified_at", "created_at", "inserted_at"];
/// Drift entries listed per tenant; the count is exact.
const LISTED: usize = 8;

/// `table.column` -> data type, for the application tables of one schema.
pub type Columns = BTreeMap<String, String>;

/// The columns of the application tables (history tables left out) of `schema`.
pub async fn columns(db: &Database, schema: &str) -> Result<Columns, db::Error> {
    let dialect = db.dialect();
    let rows = match dialect {
        Dialect::Postgres => {
            let sql = "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                       WHERE table_schema = $1";
            db.fetch(sql, &[Value::from(schema)]).await?.rows
        }
        Dialect::Mysql => {
            let sql = "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(data_type AS CHAR) \
                       FROM information_schema.columns WHERE table_schema = ?";
            db.fetch(sql, &[Value::from(schema)]).await?.rows
        }
        Dialect::Sqlite => {
            let tables = format!(
                "SELECT name FROM {}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                dialect.quote_ident(schema)
            );
            let mut rows = Vec::new();
            for table in db.fetch(&tables, &[]).await?.rows {
                let name = table[0].clone();
                let sql = "SELECT ?1, name, lower(type) FROM pragma_table_info(?1, ?2)";
                rows.extend(db.fetch(sql, &[name, Value::from(schema)]).await?.rows);
            }
            rows
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok(rows
        .iter()
        .filter(|r| !HISTORY_TABLES.iter().any(|h| r[0].as_str().is_some_and(|t| t.eq_ignore_ascii_case(h))))
        .map(|r| (format!("{}.{}", text(&r[0]), text(&r[1])), text(&r[2]).to_ascii_lowercase()))
        .collect())
}

/// How one tenant's columns differ from the reference.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    /// The schema compared against.
    pub reference: String,
    /// Differences in all.
    pub count: usize,
    /// The first few: `+t.c (type)` only here, `-t.c` only in the reference, `~t.c a -> b`.
    pub entries: Vec<String>,
}

/// Compare every schema's columns with the reference: the schema named, or else the shape most
/// schemas share (ties go to the first schema in name order).
pub fn drift(schemas: &BTreeMap<String, Columns>, reference: Option<&str>) -> BTreeMap<String, Drift> {
    let Some(reference) = reference.map(str::to_string).or_else(|| most_common(schemas)) else {
        return BTreeMap::new();
    };
    let empty = Columns::new();
    let base = schemas.get(&reference).unwrap_or(&empty);
    schemas
        .iter()
        .map(|(schema, cols)| {
            let mut entries = Vec::new();
            for (column, ty) in cols {
                match base.get(column) {
                    None => entries.push(format!("+{column} ({ty})")),
                    Some(b) if b != ty => entries.push(format!("~{column} {b} -> {ty}")),
                    _ => {}
                }
            }
            entries.extend(base.keys().filter(|c| !cols.contains_key(*c)).map(|c| format!("-{c}")));
            let count = entries.len();
            entries.truncate(LISTED);
            (schema.clone(), Drift { reference: reference.clone(), count, entries })
        })
        .collect()
}

fn most_common(schemas: &BTreeMap<String, Columns>) -> Option<String> {
    let mut tally: Vec<(&Columns, usize, &String)> = Vec::new();
    for (schema, cols) in schemas {
        match tally.iter_mut().find(|(c, _, _)| *c == cols) {
            Some(entry) => entry.1 += 1,
            None => tally.push((cols, 1, schema)),
        }
    }
    // max_by_key keeps the last of equals; the first in name order should win a tie.
    tally.iter().rev().max_by_key(|(_, n, _)| *n).map(|(_, _, s)| (*s).clone())
}

/// Rows written since a time, per table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Written {
    pub since: String,
    pub rows: u64,
    /// `table.column` -> rows, for tables with rows written.
    pub tables: BTreeMap<String, u64>,
    /// Tables without any of the WRITE_COLUMNS, so their writes cannot be seen.
    pub unseen: Vec<String>,
}

/// Count rows of `schema`'s application tables written at or after `since` (UTC), by the
/// first of [`WRITE_COLUMNS`] each table has.
pub async fn written_since(
    db: &Database,
    schema: &str,
    columns: &Columns,
    since: DateTime<Utc>,
) -> Result<Written, db::Error> {
    let dialect = db.dialect();
    let mut by_table: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for key in columns.keys() {
        if let Some((table, column)) = key.split_once('.') {
            by_table.entry(table).or_default().push(column);
        }
    }
    let mut written = Written { since: since.to_rfc3339(), ..Written::default() };
    for (table, cols) in by_table {
        let Some(column) = WRITE_COLUMNS.iter().find(|w| cols.iter().any(|c| c.eq_ignore_ascii_case(w))) else {
            written.unseen.push(table.to_string());
            continue;
        };
        let from = format!("{}.{}", dialect.quote_ident(schema), dialect.quote_ident(table));
        let col = dialect.quote_ident(column);
        let (sql, param) = match dialect {
            Dialect::Postgres => {
                (format!("SELECT COUNT(*) FROM {from} WHERE {col} >= CAST($1 AS timestamptz)"), since.to_rfc3339())
            }
            Dialect::Mysql => (
                format!("SELECT COUNT(*) FROM {from} WHERE {col} >= ?"),
                since.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            ),
            Dialect::Sqlite => (
                format!("SELECT COUNT(*) FROM {from} WHERE datetime({col}) >= datetime(?1)"),
                since.format("%Y-%m-%d %H:%M:%S").to_string(),
            ),
        };
        let rows = db.fetch(&sql, &[Value::from(param)]).await?;
        let n = rows.rows.first().and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0);
        if n > 0 {
            written.tables.insert(format!("{table}.{column}"), n);
            written.rows += n;
        }
    }
    Ok(written)
}

/// A time as build logs and databases write it: RFC 3339 (any fraction), `2024-05-14 10:00:00`
/// (UTC) with `.` or `,` before the fraction, or epoch seconds.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim().replace(',', ".");
    if let Ok(at) = DateTime::parse_from_rfc3339(&t) {
        return Some(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f %z"]
    {
        if let Ok(at) = DateTime::parse_from_str(&t, format) {
            return Some(at.with_timezone(&Utc));
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(&t, format) {
            return Some(naive.and_utc());
        }
    }
    t.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(pairs: &[(&str, &str)]) -> Columns {
        pairs.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect()
    }

    #[test]
    fn drift_is_measured_against_the_common_shape() {
        let common = cols(&[("invoices.id", "bigint"), ("invoices.total", "numeric")]);
        let mut schemas = BTreeMap::new();
        schemas.insert("tenant_a".to_string(), common.clone());
        schemas.insert("tenant_b".to_string(), common.clone());
        schemas.insert("tenant_c".to_string(), cols(&[("invoices.id", "integer"), ("invoices.currency", "text")]));
        let drift = drift(&schemas, None);
        assert_eq!(drift["tenant_a"].count, 0);
        assert_eq!(drift["tenant_c"].reference, "tenant_a");
        assert_eq!(
            drift["tenant_c"].entries,
            ["+invoices.currency (text)", "~invoices.id bigint -> integer", "-invoices.total"]
        );
    }

    #[test]
    fn times_from_every_ci_system_parse() {
        let want = DateTime::parse_from_rfc3339("2024-05-14T09:12:01Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_time("2024-05-14T09:12:01.0000000Z").unwrap(), want);
        assert_eq!(parse_time("2024-05-14 09:12:01,000").unwrap(), want);
        assert_eq!(parse_time("2024-05-14 09:12:01").unwrap(), want);
        assert_eq!(parse_time("2024-05-14 11:12:01+02:00").unwrap(), want);
        assert_eq!(parse_time("1715677921").unwrap(), want);
        assert!(parse_time("yesterday").is_none());
    }
}
