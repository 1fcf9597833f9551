//! Database connection-pool state: who is connected, doing what, holding which transactions and
//! locks, per tenant. PostgreSQL from `pg_stat_activity` and `pg_locks`; MySQL/MariaDB from
//! `PROCESSLIST` joined with `INNODB_TRX`.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::sql::Dialect;
use crate::sql::db::{self, Database, Value};

/// One server connection (not counting the one asking).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub id: i64,
    pub user: String,
    pub database: Option<String>,
    pub application_name: Option<String>,
    pub client: Option<String>,
    /// active, idle, idle in transaction, ... (MySQL: the command, e.g. Query or Sleep).
    pub state: Option<String>,
    /// Seconds since its transaction began, when it is in one.
    pub xact_seconds: Option<f64>,
    /// Seconds since its current (or last) statement began.
    pub query_seconds: Option<f64>,
    pub wait_event: Option<String>,
    /// Locks it holds (PostgreSQL) or rows it has locked (InnoDB).
    pub locks: i64,
    /// Whether it waits for a lock someone else holds.
    pub waiting: bool,
    /// The transaction's isolation level, where the server shows it. InnoDB does. PostgreSQL shows
    /// no session's level but the asker's own; a transaction that holds predicate (SIRead) locks
    /// is SERIALIZABLE, since no other level takes them, and is shown so. Others are None.
    pub isolation: Option<String>,
    /// The statement with its literals replaced by `?`.
    pub query: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Db(#[from] db::Error),
    #[error("SQLite has no server connections to list: connection state needs PostgreSQL or MySQL/MariaDB")]
    Sqlite,
    #[error("tenant rule: {0}")]
    Rule(String),
}

/// The connections of the server `db` is on, other than `db`'s own.
pub async fn connections(db: &Database) -> Result<Vec<Connection>, Error> {
    let rows = match db.dialect() {
        Dialect::Postgres => {
            db.fetch(
                "SELECT a.pid::int8, a.usename::text, a.datname::text, a.application_name, a.client_addr::text, a.state, \
                   extract(epoch FROM now() - a.xact_start)::float8, extract(epoch FROM now() - a.query_start)::float8, \
                   CASE WHEN a.wait_event IS NULL THEN NULL ELSE a.wait_event_type || ':' || a.wait_event END, \
                   (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.locktype IN ('relation', 'tuple', 'transactionid'))::int8, \
                   EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), \
                   CASE WHEN EXISTS (SELECT 1 FROM pg_locks v JOIN pg_locks p ON p.virtualtransaction = v.virtualtransaction \
                     WHERE v.pid = a.pid AND v.locktype = 'virtualxid' AND p.mode = 'SIReadLock') THEN 'SERIALIZABLE' END, a.query \
                 FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() ORDER BY a.pid",
                &[],
            )
            .await?
        }
        // The isolation level is an ENUM: MariaDB 10.11 cuts `CAST(enum AS CHAR)` to 5 characters
        // ("REPEA") when the result is sorted; a cast with a length keeps it whole.
        Dialect::Mysql => {
            db.fetch(
                "SELECT CAST(p.ID AS SIGNED), CAST(p.USER AS CHAR), CAST(p.DB AS CHAR), NULL, CAST(p.HOST AS CHAR), \
                   CAST(CASE WHEN t.trx_id IS NOT NULL AND p.COMMAND = 'Sleep' THEN 'idle in transaction' \
                             WHEN p.COMMAND = 'Sleep' THEN 'idle' ELSE 'active' END AS CHAR), \
                   CAST(TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6 AS DOUBLE), CAST(p.TIME AS DOUBLE), \
                   CAST(NULLIF(p.STATE, '') AS CHAR), CAST(coalesce(t.trx_rows_locked, 0) AS SIGNED), \
                   t.trx_state = 'LOCK WAIT', CAST(t.trx_isolation_level AS CHAR(32)), CAST(p.INFO AS CHAR) \
                 FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
                 WHERE p.ID <> CONNECTION_ID() AND p.COMMAND <> 'Daemon' ORDER BY p.ID",
                &[],
            )
            .await?
        }
        Dialect::Sqlite => return Err(Error::Sqlite),
    };
    let dialect = db.dialect();
    let waiting_threads = if dialect == Dialect::Mysql { innodb_lock_waits(db).await } else { Vec::new() };
    Ok(rows
        .rows
        .iter()
        .map(|r| Connection {
            id: r[0].as_i64().unwrap_or_default(),
            user: text(&r[1]).unwrap_or_default(),
            database: text(&r[2]),
            application_name: text(&r[3]).filter(|s| !s.is_empty()),
            client: text(&r[4]),
            state: text(&r[5]),
            xact_seconds: r[6].as_f64(),
            query_seconds: r[7].as_f64(),
            wait_event: text(&r[8]),
            locks: r[9].as_i64().unwrap_or_default(),
            waiting: matches!(r[10], Value::Bool(true))
                || r[10].as_i64() == Some(1)
                || r[0].as_i64().is_some_and(|id| waiting_threads.contains(&id)),
            isolation: text(&r[11]),
            query: text(&r[12]).filter(|q| !q.is_empty()).map(|q| redact_literals(&q, dialect)),
        })
        .collect())
}

/// The threads InnoDB's status report shows waiting for a lock. MariaDB 10.11's INNODB_TRX
/// reports some waiting transactions as RUNNING for as long as they wait; the status report's
/// TRANSACTIONS section does not. Empty when the report cannot be read (it needs PROCESS).
async fn innodb_lock_waits(db: &Database) -> Vec<i64> {
    let Ok(rows) = db.fetch("SHOW ENGINE INNODB STATUS", &[]).await else { return Vec::new() };
    let report = rows.rows.first().and_then(|r| r.get(2)).and_then(text);
    report.map_or_else(Vec::new, |r| waiting_threads(&r))
}

/// Thread ids of the `---TRANSACTION` blocks of an InnoDB status report that say `LOCK WAIT`.
fn waiting_threads(report: &str) -> Vec<i64> {
    let mut found = Vec::new();
    let (mut waits, mut thread) = (false, None);
    let mut flush = |waits: &mut bool, thread: &mut Option<i64>| {
        if let (true, Some(id)) = (*waits, thread.take()) {
            found.push(id);
        }
        *waits = false;
        *thread = None;
    };
    for line in report.lines() {
        if line.starts_with("---TRANSACTION") || line.starts_with("--------") {
            flush(&mut waits, &mut thread);
        } else if line.starts_with("LOCK WAIT") {
            waits = true;
        } else if let Some(rest) =
            line.strip_prefix("MySQL thread id ").or_else(|| line.strip_prefix("MariaDB thread id "))
        {
            thread = rest.split(',').next().and_then(|n| n.trim().parse().ok());
        }
    }
    flush(&mut waits, &mut thread);
    found
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A statement with every string and number literal replaced by `?`: query texts carry customer
/// data. Text that does not tokenize (PostgreSQL cuts long queries) is cut at its first quote.
pub fn redact_literals(sql: &str, dialect: Dialect) -> String {
    match Tokenizer::new(dialect.parser(), sql).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .map(|t| match t {
                Token::SingleQuotedString(_) | Token::DoubleQuotedString(_) if dialect == Dialect::Mysql => {
                    "?".to_string()
                }
                Token::SingleQuotedString(_)
                | Token::NationalStringLiteral(_)
                | Token::EscapedStringLiteral(_)
                | Token::HexStringLiteral(_)
                | Token::DollarQuotedString(_)
                | Token::Number(..) => "?".to_string(),
                other => other.to_string(),
            })
            .collect(),
        Err(_) => match sql.find(['\'', '"', '$']) {
            Some(at) => format!("{}…", &sql[..at]),
            None => sql.to_string(),
        },
    }
}

/// How a connection's tenant is found.
#[derive(Debug, Clone)]
pub struct TenantRule {
    /// user, application_name, database or client.
    pub by: String,
    /// A regular expression whose first group (or whole match) is the tenant.
    pub pattern: Option<regex::Regex>,
    /// Values to tenants; a value not in it has no tenant.
    pub map: Option<BTreeMap<String, String>>,
}

impl TenantRule {
    pub fn new(by: &str, pattern: Option<&str>, map: Option<BTreeMap<String, String>>) -> Result<TenantRule, Error> {
        if !matches!(by, "user" | "application_name" | "database" | "client") {
            return Err(Error::Rule(format!(
                "`{by}` is not a connection field: use user, application_name, database or client"
            )));
        }
        let pattern = pattern
            .map(|p| regex::Regex::new(p).map_err(|e| Error::Rule(format!("pattern {p:?}: {e}"))))
            .transpose()?;
        Ok(TenantRule { by: by.to_string(), pattern, map })
    }

    pub fn tenant(&self, c: &Connection) -> Option<String> {
        let value = match self.by.as_str() {
            "user" => Some(c.user.clone()),
            "application_name" => c.application_name.clone(),
            "database" => c.database.clone(),
            _ => c.client.clone(),
        }?;
        let value = match &self.pattern {
            Some(re) => {
                let caps = re.captures(&value)?;
                caps.get(1).or_else(|| caps.get(0))?.as_str().to_string()
            }
            None => value,
        };
        match &self.map {
            Some(map) => map.get(&value).cloned(),
            None => Some(value),
        }
    }
}

/// Per-tenant pressure on the pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pressure {
    /// The tenant, or "(none)" for connections the rule gives none.
    pub tenant: String,
    pub connections: i64,
    pub active: i64,
    pub idle_in_transaction: i64,
    /// Transactions open longer than the threshold.
    pub long_transactions: i64,
    pub lock_holders: i64,
    pub waiting: i64,
    pub oldest_xact_seconds: Option<f64>,
}

/// Connections grouped by tenant; a transaction is long after `long_after` seconds.
pub fn pressure(connections: &[Connection], rule: &TenantRule, long_after: f64) -> Vec<Pressure> {
    let mut by: BTreeMap<String, Pressure> = BTreeMap::new();
    for c in connections {
        let tenant = rule.tenant(c).unwrap_or_else(|| "(none)".into());
        let p = by.entry(tenant.clone()).or_insert(Pressure {
            tenant,
            connections: 0,
            active: 0,
            idle_in_transaction: 0,
            long_transactions: 0,
            lock_holders: 0,
            waiting: 0,
            oldest_xact_seconds: None,
        });
        let state = c.state.as_deref().unwrap_or_default();
        p.connections += 1;
        p.active += i64::from(state == "active");
        p.idle_in_transaction += i64::from(state.starts_with("idle in transaction"));
        p.long_transactions += i64::from(c.xact_seconds.is_some_and(|s| s >= long_after));
        p.lock_holders += i64::from(c.locks > 0);
        p.waiting += i64::from(c.waiting);
        if let Some(s) = c.xact_seconds {
            p.oldest_xact_seconds = Some(p.oldest_xact_seconds.map_or(s, |o: f64| o.max(s)));
        }
    }
    let mut out: Vec<Pressure> = by.into_values().collect();
    out.sort_by(|a, b| b.connections.cmp(&a.connections).then(a.tenant.cmp(&b.tenant)));
    out
}

/// One reading of the whole pool, for a time series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// RFC 3339, UTC.
    pub ts: String,
    pub connections: i64,
    pub active: i64,
    pub idle_in_transaction: i64,
    pub lock_holders: i64,
    pub waiting: i64,
    pub oldest_xact_seconds: Option<f64>,
}

pub fn sample(ts: String, connections: &[Connection]) -> Sample {
    let everyone = TenantRule { by: "user".into(), pattern: None, map: Some(BTreeMap::new()) };
    let all = pressure(connections, &everyone, f64::INFINITY).pop();
    Sample {
        ts,
        connections: all.as_ref().map_or(0, |p| p.connections),
        active: all.as_ref().map_or(0, |p| p.active),
        idle_in_transaction: all.as_ref().map_or(0, |p| p.idle_in_transaction),
        lock_holders: all.as_ref().map_or(0, |p| p.lock_holders),
        waiting: all.as_ref().map_or(0, |p| p.waiting),
        oldest_xact_seconds: all.and_then(|p| p.oldest_xact_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_never_show() {
        let q = "SELECT * FROM users WHERE email = 'ana@acme.test' AND id = 42";
        assert_eq!(redact_literals(q, Dialect::Postgres), "SELECT * FROM users WHERE email = ? AND id = ?");
        assert_eq!(
            redact_literals("UPDATE t SET a = \"x\" WHERE b = 1", Dialect::Mysql),
            "UPDATE t SET a = ? WHERE b = ?"
        );
        assert_eq!(redact_literals("SELECT 'unterminated", Dialect::Postgres), "SELECT …");
    }
}

#[cfg(test)]
mod status_tests {
    #[test]
    fn lock_waits_come_from_the_status_report() {
        let report = "LIST OF TRANSACTIONS FOR EACH SESSION:\n---TRANSACTION 6714, ACTIVE 30 sec starting index read\nmysql tables in use 1, locked 1\nLOCK WAIT 3 lock struct(s), heap size 1128, 2 row lock(s)\nMariaDB thread id 1705, OS thread handle 1, query id 45010 127.0.0.1 globex Updating\nUPDATE accounts SET v = v + 10 WHERE id = 1\n------- TRX HAS BEEN WAITING 30028828 us FOR THIS LOCK TO BE GRANTED:\n---TRANSACTION 6713, ACTIVE 30 sec\n2 lock struct(s), heap size 1128, 1 row lock(s)\nMySQL thread id 1704, OS thread handle 2, query id 45000 127.0.0.1 acme\n--------\nFILE I/O\n";
        assert_eq!(super::waiting_threads(report), vec![1705]);
    }
}
