//! Statements stopped where they run. Dropping a query's future only stops waiting for it: the
//! server goes on running it, holding its locks, for as long as it takes. So a statement that
//! is interrupted or times out is cancelled on the server (PostgreSQL's `pg_cancel_backend`,
//! MySQL's and MariaDB's `KILL QUERY`), its connection ended there (which rolls back its
//! transaction), and the server is asked until it confirms the connection is gone.

use std::time::Duration;

use super::db::{Error, Pool, statement_error};
use crate::cancel::Why;

/// The server's id for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `pg_backend_pid()`.
    Postgres(i32),
    /// `CONNECTION_ID()`.
    Mysql(u64),
}

/// How much later than the server's own statement timeout this side cancels: the server's
/// error is the clearer one, so it gets to speak first.
pub const CLIENT_SLACK: Duration = Duration::from_secs(2);

/// How long to wait for the server to confirm a stopped connection is gone.
const CONFIRM_WITHIN: Duration = Duration::from_secs(15);
const CONFIRM_EVERY: Duration = Duration::from_millis(50);

pub async fn backend_pg(conn: &mut sqlx::PgConnection) -> Result<Backend, sqlx::Error> {
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").persistent(false).fetch_one(conn).await?;
    Ok(Backend::Postgres(pid))
}

pub async fn backend_my(conn: &mut sqlx::MySqlConnection) -> Result<Backend, sqlx::Error> {
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").persistent(false).fetch_one(conn).await?;
    Ok(Backend::Mysql(id))
}

/// Set the server's statement timeout on a new connection.
pub async fn server_timeout_pg(conn: &mut sqlx::PgConnection, timeout: Option<Duration>) -> Result<(), sqlx::Error> {
    if let Some(t) = timeout {
        let sql = format!("SET statement_timeout = {}", t.as_millis().max(1));
        sqlx::query(&sql).persistent(false).execute(conn).await?;
    }
    Ok(())
}

/// MariaDB calls it `max_statement_time` (seconds, every statement); MySQL `max_execution_time`
/// (milliseconds, reads only). Whichever the server knows is set.
pub async fn server_timeout_my(conn: &mut sqlx::MySqlConnection, timeout: Option<Duration>) -> Result<(), sqlx::Error> {
    let Some(t) = timeout else { return Ok(()) };
    let mariadb = format!("SET SESSION max_statement_time = {:.3}", t.as_secs_f64().max(0.001));
    if sqlx::query(&mariadb).persistent(false).execute(&mut *conn).await.is_ok() {
        return Ok(());
    }
    let mysql = format!("SET SESSION max_execution_time = {}", t.as_millis().max(1));
    sqlx::query(&mysql).persistent(false).execute(conn).await?;
    Ok(())
}

/// Stop `backend`'s statement and connection on the server, from another connection of the
/// pool, and wait until the server no longer lists it. The error says what happened.
pub async fn stop(pool: &Pool, backend: Backend, sql: &str, why: Why) -> Error {
    let outcome = match (pool, backend) {
        (Pool::Postgres(p), Backend::Postgres(pid)) => stop_pg(p, pid).await,
        (Pool::Mysql(p), Backend::Mysql(id)) => stop_my(p, id).await,
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => Error::Stopped { sql: sql.to_string(), why, confirm: None },
        Err(e) => Error::Stopped { sql: sql.to_string(), why, confirm: Some(format!("not confirmed: {e}")) },
    }
}

async fn stop_pg(pool: &sqlx::PgPool, pid: i32) -> Result<(), Error> {
    let run = |sql: &'static str| sqlx::query(sql).bind(pid).persistent(false).execute(pool);
    run("SELECT pg_cancel_backend($1)").await.map_err(|e| statement_error("pg_cancel_backend", e))?;
    run("SELECT pg_terminate_backend($1)").await.map_err(|e| statement_error("pg_terminate_backend", e))?;
    confirm(|| async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .persistent(false)
            .fetch_one(pool)
            .await
            .map(|n| n == 0)
    })
    .await
}

async fn stop_my(pool: &sqlx::MySqlPool, id: u64) -> Result<(), Error> {
    // KILL takes no placeholder; the id is a number the server gave.
    for kill in [format!("KILL QUERY {id}"), format!("KILL {id}")] {
        if let Err(e) = sqlx::query(&kill).persistent(false).execute(pool).await {
            // The connection may have ended between the two: that is what was wanted.
            let gone = matches!(&e, sqlx::Error::Database(d) if d.message().contains("Unknown thread id"));
            if !gone {
                return Err(statement_error(&kill, e));
            }
        }
    }
    confirm(|| async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
            .bind(id)
            .persistent(false)
            .fetch_one(pool)
            .await
            .map(|n| n == 0)
    })
    .await
}

/// Ask `gone` until it says yes, for at most [`CONFIRM_WITHIN`].
async fn confirm<F: std::future::Future<Output = Result<bool, sqlx::Error>>>(
    gone: impl Fn() -> F,
) -> Result<(), Error> {
    let started = tokio::time::Instant::now();
    loop {
        match gone().await {
            Ok(true) => return Ok(()),
            Ok(false) if started.elapsed() < CONFIRM_WITHIN => tokio::time::sleep(CONFIRM_EVERY).await,
            Ok(false) => {
                return Err(Error::Statement {
                    sql: "confirming the stop".into(),
                    message: format!("the server still lists the connection after {} s", CONFIRM_WITHIN.as_secs()),
                });
            }
            Err(e) => return Err(statement_error("confirming the stop", e)),
        }
    }
}
