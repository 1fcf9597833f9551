//! Connections to SQLite, PostgreSQL and MySQL/MariaDB behind one interface: run a statement with
//! parameters, get typed rows back; transactions for atomic runs and dry runs.

use std::str::FromStr;
use std::time::Duration;

use sqlx::{Column, Row, TypeInfo, ValueRef};

use super::dialect::Dialect;

/// A parameter or cell value.
pub type Value = serde_json::Value;

/// The result of a query: column names and SQL type names, then rows of JSON values (timestamps
/// and uuids as text, NUMERIC as a float, bytes as `\x...` hex).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub types: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// The rows as JSON objects keyed by column name.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|r| serde_json::Value::Object(self.columns.iter().cloned().zip(r.iter().cloned()).collect()))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("`{url}` is not a database URL deployclaw knows: use sqlite://PATH, postgres://... or mysql://...")]
    Scheme { url: String },
    #[error("{message}\n  statement: {sql}")]
    Statement { sql: String, message: String },
    #[error(
        "column `{column}` has SQL type {type_name}, which deployclaw cannot read yet: cast it in the query (e.g. `{column}::text`)"
    )]
    Decode { column: String, type_name: String },
    #[error("parameter {index} is {kind}: use a number, a string, a bool or ()")]
    Param { index: usize, kind: String },
}

/// A pool of connections to one database.
#[derive(Clone)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

/// A database, as `sql::connect` opens it.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    dialect: Dialect,
    /// The URL with any password replaced by `***`.
    url: String,
}

/// An open transaction.
pub enum Transaction {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Mysql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Connections are short-lived tools, not a server's pool.
const MAX_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl Database {
    /// Open `url`: `sqlite://PATH` (created if missing), `sqlite::memory:`, `postgres://...`,
    /// `mysql://...` (MariaDB too).
    pub async fn connect(url: &str) -> Result<Database, Error> {
        let shown = redact_url(url);
        let dialect = Dialect::of_url(url).ok_or_else(|| Error::Scheme { url: shown.clone() })?;
        let fail = |e: sqlx::Error| Error::Connect { url: shown.clone(), message: redact_url(&e.to_string()) };
        let pool = match dialect {
            Dialect::Postgres => Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(fail)?,
            ),
            Dialect::Mysql => Pool::Mysql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(fail)?,
            ),
            Dialect::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(fail)?
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                // One connection: an in-memory database exists once per connection.
                let in_memory = url.contains(":memory:");
                Pool::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(if in_memory { 1 } else { MAX_CONNECTIONS })
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_with(options)
                        .await
                        .map_err(fail)?,
                )
            }
        };
        Ok(Database { pool, dialect, url: shown })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn fetch(&self, sql: &str, params: &[Value]) -> Result<Rows, Error> {
        match &self.pool {
            Pool::Postgres(p) => fetch_pg(p, sql, params).await,
            Pool::Mysql(p) => fetch_my(p, sql, params).await,
            Pool::Sqlite(p) => fetch_lite(p, sql, params).await,
        }
    }

    /// Run a statement; the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        match &self.pool {
            Pool::Postgres(p) => execute_pg(p, sql, params).await,
            Pool::Mysql(p) => execute_my(p, sql, params).await,
            Pool::Sqlite(p) => execute_lite(p, sql, params).await,
        }
    }

    pub async fn begin(&self) -> Result<Transaction, Error> {
        let fail = |e: sqlx::Error| statement_error("BEGIN", e);
        Ok(match &self.pool {
            Pool::Postgres(p) => Transaction::Postgres(p.begin().await.map_err(fail)?),
            Pool::Mysql(p) => Transaction::Mysql(p.begin().await.map_err(fail)?),
            Pool::Sqlite(p) => Transaction::Sqlite(p.begin().await.map_err(fail)?),
        })
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(p) => p.close().await,
            Pool::Mysql(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

impl Transaction {
    pub async fn fetch(&mut self, sql: &str, params: &[Value]) -> Result<Rows, Error> {
        match self {
            Transaction::Postgres(t) => fetch_pg(&mut **t, sql, params).await,
            Transaction::Mysql(t) => fetch_my(&mut **t, sql, params).await,
            Transaction::Sqlite(t) => fetch_lite(&mut **t, sql, params).await,
        }
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        match self {
            Transaction::Postgres(t) => execute_pg(&mut **t, sql, params).await,
            Transaction::Mysql(t) => execute_my(&mut **t, sql, params).await,
            Transaction::Sqlite(t) => execute_lite(&mut **t, sql, params).await,
        }
    }

    pub async fn commit(self) -> Result<(), Error> {
        let fail = |e: sqlx::Error| statement_error("COMMIT", e);
        match self {
            Transaction::Postgres(t) => t.commit().await.map_err(fail),
            Transaction::Mysql(t) => t.commit().await.map_err(fail),
            Transaction::Sqlite(t) => t.commit().await.map_err(fail),
        }
    }

    pub async fn rollback(self) -> Result<(), Error> {
        let fail = |e: sqlx::Error| statement_error("ROLLBACK", e);
        match self {
            Transaction::Postgres(t) => t.rollback().await.map_err(fail),
            Transaction::Mysql(t) => t.rollback().await.map_err(fail),
            Transaction::Sqlite(t) => t.rollback().await.map_err(fail),
        }
    }
}

fn statement_error(sql: &str, e: sqlx::Error) -> Error {
    let message = match &e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("the database refused it ({code}): {}", db.message()),
            None => format!("the database refused it: {}", db.message()),
        },
        other => other.to_string(),
    };
    Error::Statement { sql: sql.to_string(), message: redact_url(&message) }
}

/// The statement with its parameters bound, for one backend. Statements are not cached on the
/// connection: MariaDB answers a cached statement over `information_schema.INNODB_TRX` with the
/// rows of its first run, so a lock wait that starts later never shows (and these are tools'
/// queries, not a server's hot path).
macro_rules! bind {
    ($db:ty, $sql:expr, $params:expr) => {{
        let mut query = sqlx::query::<$db>($sql).persistent(false);
        for (i, p) in $params.iter().enumerate() {
            query = match p {
                Value::Null => query.bind(None::<String>),
                Value::Bool(b) => query.bind(*b),
                Value::Number(n) if n.is_i64() => query.bind(n.as_i64()),
                Value::Number(n) => query.bind(n.as_f64()),
                Value::String(s) => query.bind(s.clone()),
                other => return Err(Error::Param { index: i + 1, kind: kind_of(other).into() }),
            };
        }
        query
    }};
}

/// Binds parameters and reads rows the same way for each backend; only the decoding of a cell
/// differs between them.
macro_rules! backend {
    ($fetch:ident, $execute:ident, $db:ty, $decode:ident) => {
        async fn $fetch<'c, E>(executor: E, sql: &str, params: &[Value]) -> Result<Rows, Error>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let query = bind!($db, sql, params);
            let found = query.fetch_all(executor).await.map_err(|e| statement_error(sql, e))?;
            let mut rows = Rows::default();
            if let Some(first) = found.first() {
                rows.columns = first.columns().iter().map(|c| c.name().to_string()).collect();
                rows.types = first.columns().iter().map(|c| c.type_info().name().to_string()).collect();
            }
            for row in &found {
                let mut cells = Vec::with_capacity(rows.columns.len());
                for i in 0..row.columns().len() {
                    cells.push($decode(row, i)?);
                }
                rows.rows.push(cells);
            }
            Ok(rows)
        }

        async fn $execute<'c, E>(executor: E, sql: &str, params: &[Value]) -> Result<u64, Error>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let query = bind!($db, sql, params);
            let done = query.execute(executor).await.map_err(|e| statement_error(sql, e))?;
            Ok(done.rows_affected())
        }
    };
}

backend!(fetch_pg, execute_pg, sqlx::Postgres, decode_pg);
backend!(fetch_my, execute_my, sqlx::MySql, decode_my);
backend!(fetch_lite, execute_lite, sqlx::Sqlite, decode_lite);

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "an array",
        Value::Object(_) => "a map",
        _ => "a value of another kind",
    }
}

fn undecodable(column: &str, type_name: &str) -> Error {
    Error::Decode { column: column.to_string(), type_name: type_name.to_string() }
}

fn hex(bytes: &[u8]) -> Value {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Value::String(s)
}

fn decimal(d: sqlx::types::Decimal) -> Value {
    let text = d.to_string();
    text.parse::<f64>().map_or(Value::String(text), Value::from)
}

/// The SQL type of a cell's value, or `None` for NULL.
fn value_type<R: Row>(row: &R, i: usize) -> Result<Option<String>, Error>
where
    usize: sqlx::ColumnIndex<R>,
{
    let raw = row.try_get_raw(i).map_err(|_| undecodable(row.columns()[i].name(), "?"))?;
    Ok((!raw.is_null()).then(|| raw.type_info().name().to_string()))
}

fn decode_pg(row: &sqlx::postgres::PgRow, i: usize) -> Result<Value, Error> {
    let Some(type_name) = value_type(row, i)? else { return Ok(Value::Null) };
    let column = row.columns()[i].name();
    let bad = |_| undecodable(column, &type_name);
    Ok(match type_name.as_str() {
        "BOOL" => Value::from(row.try_get::<bool, _>(i).map_err(bad)?),
        "INT2" => Value::from(row.try_get::<i16, _>(i).map_err(bad)?),
        "INT4" => Value::from(row.try_get::<i32, _>(i).map_err(bad)?),
        "INT8" => Value::from(row.try_get::<i64, _>(i).map_err(bad)?),
        "FLOAT4" => Value::from(row.try_get::<f32, _>(i).map_err(bad)? as f64),
        "FLOAT8" => Value::from(row.try_get::<f64, _>(i).map_err(bad)?),
        "NUMERIC" => decimal(row.try_get::<sqlx::types::Decimal, _>(i).map_err(bad)?),
        "UUID" => Value::from(row.try_get::<sqlx::types::Uuid, _>(i).map_err(bad)?.to_string()),
        "TIMESTAMPTZ" => Value::from(row.try_get::<chrono::DateTime<chrono::Utc>, _>(i).map_err(bad)?.to_rfc3339()),
        "TIMESTAMP" => Value::from(row.try_get::<chrono::NaiveDateTime, _>(i).map_err(bad)?.to_string()),
        "DATE" => Value::from(row.try_get::<chrono::NaiveDate, _>(i).map_err(bad)?.to_string()),
        "JSON" | "JSONB" => row.try_get::<serde_json::Value, _>(i).map_err(bad)?,
        "BYTEA" => hex(&row.try_get::<Vec<u8>, _>(i).map_err(bad)?),
        _ => Value::from(row.try_get::<String, _>(i).map_err(bad)?),
    })
}

fn decode_my(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Value, Error> {
    let Some(type_name) = value_type(row, i)? else { return Ok(Value::Null) };
    let column = row.columns()[i].name();
    let bad = |_| undecodable(column, &type_name);
    Ok(match type_name.as_str() {
        "BOOLEAN" => Value::from(row.try_get::<bool, _>(i).map_err(bad)?),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Value::from(row.try_get::<i64, _>(i).map_err(bad)?),
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" | "BIGINT UNSIGNED"
        | "YEAR" => Value::from(row.try_get::<u64, _>(i).map_err(bad)?),
        "FLOAT" => Value::from(row.try_get::<f32, _>(i).map_err(bad)? as f64),
        "DOUBLE" => Value::from(row.try_get::<f64, _>(i).map_err(bad)?),
        "DECIMAL" => decimal(row.try_get::<sqlx::types::Decimal, _>(i).map_err(bad)?),
        "DATETIME" => Value::from(row.try_get::<chrono::NaiveDateTime, _>(i).map_err(bad)?.to_string()),
        "TIMESTAMP" => Value::from(row.try_get::<chrono::DateTime<chrono::Utc>, _>(i).map_err(bad)?.to_rfc3339()),
        "DATE" => Value::from(row.try_get::<chrono::NaiveDate, _>(i).map_err(bad)?.to_string()),
        "JSON" => row.try_get::<serde_json::Value, _>(i).map_err(bad)?,
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            hex(&row.try_get::<Vec<u8>, _>(i).map_err(bad)?)
        }
        _ => Value::from(row.try_get::<String, _>(i).map_err(bad)?),
    })
}

fn decode_lite(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Value, Error> {
    let Some(type_name) = value_type(row, i)? else { return Ok(Value::Null) };
    let column = row.columns()[i].name();
    // SQLite types values, not columns: decode by the value's storage class.
    let bad = |_| undecodable(column, &type_name);
    Ok(match type_name.as_str() {
        "INTEGER" => Value::from(row.try_get::<i64, _>(i).map_err(bad)?),
        "REAL" => Value::from(row.try_get::<f64, _>(i).map_err(bad)?),
        "BLOB" => hex(&row.try_get::<Vec<u8>, _>(i).map_err(bad)?),
        _ => Value::from(row.try_get::<String, _>(i).map_err(bad)?),
    })
}

/// Text with any password (in a URL or a `password=` pair) replaced.
pub fn redact_url(text: &str) -> String {
    crate::evidence::redact(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:[REDACTED]@db:5432/x");
        assert_eq!(
            redact_url("error connecting to postgres://u:p@h/db: refused"),
            "error connecting to postgres://u:[REDACTED]@h/db: refused"
        );
    }
}
