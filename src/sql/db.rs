//! Connections to SQLite, PostgreSQL and MySQL/MariaDB behind one interface: run a statement with
//! parameters, get typed rows back; transactions for atomic runs and dry runs.

use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use sqlx::{Column, Row, TypeInfo, ValueRef};

use super::dialect::Dialect;
use super::inflight::{self, Backend};
use crate::cancel::{Cancel, CancelSource, Why};

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
    /// Stopped on the server: cancelled, its transaction rolled back, the server confirmed it.
    #[error("{why}: the server stopped it and rolled back its transaction{}\n  statement: {sql}", confirm.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Stopped { sql: String, why: Why, confirm: Option<String> },
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
    settings: Settings,
}

/// How statements run: what stops them, and how long they may take.
#[derive(Clone)]
pub struct Settings {
    /// The cancel of the statement running when a query starts.
    pub cancel: Arc<dyn CancelSource>,
    /// Enforced twice: by the server (PostgreSQL's `statement_timeout`, MariaDB's
    /// `max_statement_time`, MySQL's `max_execution_time` for reads) and, a little later, by
    /// cancelling the statement from here, in case the server does not.
    pub statement_timeout: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { cancel: crate::cancel::no_cancel(), statement_timeout: None }
    }
}

/// An open transaction.
pub struct Transaction {
    inner: TransactionKind,
    /// The server's id of the transaction's connection, when it may be stopped.
    backend: Option<Backend>,
    pool: Pool,
    cancel: Cancel,
}

enum TransactionKind {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Mysql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Connections are short-lived tools, not a server's pool.
const MAX_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// One statement on the pool, stopped where it runs when the statement's cancel fires: on a
/// connection of its own whose server id is known, so that the server can be told to stop it.
macro_rules! stoppable {
    ($db:expr, $sql:expr, $params:expr, $pg:ident, $my:ident, $lite:ident) => {{
        let (db, sql, params) = ($db, $sql, $params);
        let cancel = db.cancel();
        match &db.pool {
            Pool::Postgres(p) if cancel.can_fire() => {
                let mut conn = p.acquire().await.map_err(|e| statement_error(sql, e))?;
                let backend = inflight::backend_pg(&mut conn).await.map_err(|e| statement_error(sql, e))?;
                let result = race(&cancel, $pg(&mut *conn, sql, params)).await;
                db.settle(result, sql, backend, conn).await
            }
            Pool::Mysql(p) if cancel.can_fire() => {
                let mut conn = p.acquire().await.map_err(|e| statement_error(sql, e))?;
                let backend = inflight::backend_my(&mut conn).await.map_err(|e| statement_error(sql, e))?;
                let result = race(&cancel, $my(&mut *conn, sql, params)).await;
                db.settle(result, sql, backend, conn).await
            }
            Pool::Postgres(p) => $pg(p, sql, params).await,
            Pool::Mysql(p) => $my(p, sql, params).await,
            // SQLite runs in this process: a dropped query's thread finishes on its own, and
            // there is no server to leave holding locks.
            Pool::Sqlite(p) => race(&cancel, $lite(p, sql, params))
                .await
                .unwrap_or_else(|why| Err(Error::Stopped { sql: sql.to_string(), why, confirm: None })),
        }
    }};
}

impl Database {
    /// Open `url`: `sqlite://PATH` (created if missing), `sqlite::memory:`, `postgres://...`,
    /// `mysql://...` (MariaDB too).
    pub async fn connect(url: &str) -> Result<Database, Error> {
        Database::connect_with(url, Settings::default()).await
    }

    /// [`Database::connect`], with statements stopped as `settings` says.
    pub async fn connect_with(url: &str, settings: Settings) -> Result<Database, Error> {
        let shown = redact_url(url);
        let timeout = settings.statement_timeout;
        let dialect = Dialect::of_url(url).ok_or_else(|| Error::Scheme { url: shown.clone() })?;
        let fail = |e: sqlx::Error| Error::Connect { url: shown.clone(), message: redact_url(&e.to_string()) };
        let pool = match dialect {
            Dialect::Postgres => Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .after_connect(move |conn, _| Box::pin(inflight::server_timeout_pg(conn, timeout)))
                    .connect(url)
                    .await
                    .map_err(fail)?,
            ),
            Dialect::Mysql => Pool::Mysql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .after_connect(move |conn, _| Box::pin(inflight::server_timeout_my(conn, timeout)))
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
        Ok(Database { pool, dialect, url: shown, settings })
    }

    /// What stops a statement that starts now: the running statement's interrupt, and the
    /// statement timeout with a little slack, so that the server's own timeout speaks first.
    fn cancel(&self) -> Cancel {
        let cancel = self.settings.cancel.current();
        match self.settings.statement_timeout {
            Some(t) => cancel.with_timeout(t + inflight::CLIENT_SLACK),
            None => cancel,
        }
    }

    /// The same database, its statements stopped as `settings` says (the server-side timeout
    /// is set only on connections opened by [`Database::connect_with`]).
    pub fn with_settings(mut self, settings: Settings) -> Database {
        self.settings = settings;
        self
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
        stoppable!(self, sql, params, fetch_pg, fetch_my, fetch_lite)
    }

    /// Run a statement; the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        stoppable!(self, sql, params, execute_pg, execute_my, execute_lite)
    }

    /// The result of a raced statement, or, when it was stopped, stop it on the server too.
    async fn settle<T, DB: sqlx::Database>(
        &self,
        result: Result<Result<T, Error>, Why>,
        sql: &str,
        backend: Backend,
        mut connection: sqlx::pool::PoolConnection<DB>,
    ) -> Result<T, Error> {
        match result {
            Ok(done) => done,
            Err(why) => {
                // Its protocol state is unknown after a dropped query: never reuse it.
                connection.close_on_drop();
                drop(connection);
                Err(inflight::stop(&self.pool, backend, sql, why).await)
            }
        }
    }

    pub async fn begin(&self) -> Result<Transaction, Error> {
        let fail = |e: sqlx::Error| statement_error("BEGIN", e);
        let cancel = self.cancel();
        let stoppable = cancel.can_fire();
        let (inner, backend) = match &self.pool {
            Pool::Postgres(p) => {
                let mut t = p.begin().await.map_err(fail)?;
                let backend = if stoppable { Some(inflight::backend_pg(&mut t).await.map_err(fail)?) } else { None };
                (TransactionKind::Postgres(t), backend)
            }
            Pool::Mysql(p) => {
                let mut t = p.begin().await.map_err(fail)?;
                let backend = if stoppable { Some(inflight::backend_my(&mut t).await.map_err(fail)?) } else { None };
                (TransactionKind::Mysql(t), backend)
            }
            Pool::Sqlite(p) => (TransactionKind::Sqlite(p.begin().await.map_err(fail)?), None),
        };
        Ok(Transaction { inner, backend, pool: self.pool.clone(), cancel })
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
        let result = race(&self.cancel, async {
            match &mut self.inner {
                TransactionKind::Postgres(t) => fetch_pg(&mut **t, sql, params).await,
                TransactionKind::Mysql(t) => fetch_my(&mut **t, sql, params).await,
                TransactionKind::Sqlite(t) => fetch_lite(&mut **t, sql, params).await,
            }
        })
        .await;
        self.settle(result, sql).await
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let result = race(&self.cancel, async {
            match &mut self.inner {
                TransactionKind::Postgres(t) => execute_pg(&mut **t, sql, params).await,
                TransactionKind::Mysql(t) => execute_my(&mut **t, sql, params).await,
                TransactionKind::Sqlite(t) => execute_lite(&mut **t, sql, params).await,
            }
        })
        .await;
        self.settle(result, sql).await
    }

    /// The statement's result; when it was stopped, stop its connection on the server, which
    /// ends the transaction there (the later rollback here then finds nothing to do).
    async fn settle<T>(&mut self, result: Result<Result<T, Error>, Why>, sql: &str) -> Result<T, Error> {
        match (result, self.backend) {
            (Ok(done), _) => done,
            (Err(why), Some(backend)) => Err(inflight::stop(&self.pool, backend, sql, why).await),
            (Err(why), None) => Err(Error::Stopped { sql: sql.to_string(), why, confirm: None }),
        }
    }

    pub async fn commit(self) -> Result<(), Error> {
        let fail = |e: sqlx::Error| statement_error("COMMIT", e);
        match self.inner {
            TransactionKind::Postgres(t) => t.commit().await.map_err(fail),
            TransactionKind::Mysql(t) => t.commit().await.map_err(fail),
            TransactionKind::Sqlite(t) => t.commit().await.map_err(fail),
        }
    }

    pub async fn rollback(self) -> Result<(), Error> {
        let fail = |e: sqlx::Error| statement_error("ROLLBACK", e);
        match self.inner {
            TransactionKind::Postgres(t) => t.rollback().await.map_err(fail),
            TransactionKind::Mysql(t) => t.rollback().await.map_err(fail),
            TransactionKind::Sqlite(t) => t.rollback().await.map_err(fail),
        }
    }
}

/// `work`, unless `cancel` fires first.
async fn race<T>(cancel: &Cancel, work: impl std::future::Future<Output = T>) -> Result<T, Why> {
    if let Some(why) = cancel.fired_now() {
        return Err(why);
    }
    tokio::select! {
        biased;
        why = cancel.fired() => Err(why),
        done = work => Ok(done),
    }
}

pub(super) fn statement_error(sql: &str, e: sqlx::Error) -> Error {
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
