//! `db::` functions: the connection-pool state of a PostgreSQL or MySQL/MariaDB server, per
//! connection, per tenant, and over time.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map};

use super::api::{Api, FnDoc};
use super::live_api::duration;
use super::sql_api::Db;
use super::{Shared, block_db, frame_of, rt_error, serialized};
use crate::collect::pool::{self, Connection, TenantRule};
use crate::frame::Frame;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

const CONNECTION_COLUMNS: &[&str] = &[
    "id",
    "user",
    "database",
    "application_name",
    "client",
    "state",
    "xact_seconds",
    "query_seconds",
    "wait_event",
    "locks",
    "waiting",
    "isolation",
    "query",
];

fn read(s: &Shared, db: &Db) -> Result<Vec<Connection>> {
    block_db(s, pool::connections(db.database()))?.map_err(rt_error)
}

/// A tenant rule from "user" (a field) or #{by, pattern, map}.
fn rule_of(rule: &Dynamic) -> Result<(TenantRule, f64)> {
    if let Ok(field) = rule.clone().into_string() {
        return Ok((TenantRule::new(&field, None, None).map_err(rt_error)?, 60.0));
    }
    let map: Map =
        rule.clone().try_cast().ok_or_else(|| rt_error("the tenant rule is a field name or #{by, pattern, map}"))?;
    let text = |key: &str| map.get(key).and_then(|v| v.clone().into_string().ok());
    let by =
        text("by").ok_or_else(|| rt_error("the tenant rule needs `by`: user, application_name, database or client"))?;
    let mapping = match map.get("map") {
        None => None,
        Some(m) => {
            let m: Map = m.clone().try_cast().ok_or_else(|| rt_error("`map` is a map of values to tenants"))?;
            Some(m.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
        }
    };
    let long_after = match map.get("long_after") {
        None => 60.0,
        Some(d) => duration(d, "long_after")?.as_secs_f64(),
    };
    Ok((TenantRule::new(&by, text("pattern").as_deref(), mapping).map_err(rt_error)?, long_after))
}

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("db");
    let s = shared.clone();
    api.add(
        FnDoc::new("connections")
            .usage("db::connections(db: Db) -> Frame")
            .summary("The server's connections (not this one): user, database, application, client, state, transaction and statement age, wait event, locks held, lock waits, isolation level (MySQL/MariaDB; PostgreSQL does not show another session's, so there only SERIALIZABLE for a transaction that holds predicate locks, the only level that takes them, and null otherwise), and the statement with its literals replaced by `?`. PostgreSQL from pg_stat_activity and pg_locks; MySQL/MariaDB from PROCESSLIST and INNODB_TRX.")
            .param("db", "a Db on PostgreSQL or MySQL/MariaDB")
            .returns(&format!("a Frame ({})", CONNECTION_COLUMNS.join(", ")))
            .example(r#"db::connections(sql::connect(PG_URL)).columns().len()"#, "13")
            .volatile(),
        move |db: Db| -> Result<Frame> { frame_of(&serialized(&read(&s, &db)?), CONNECTION_COLUMNS) },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("pool_pressure")
            .usage("db::pool_pressure(db: Db, rule) -> Frame")
            .summary("Connections per tenant: how many, active, idle in a transaction, transactions open too long, lock holders and lock waiters, the oldest transaction. Connections the rule gives no tenant are counted under \"(none)\".")
            .param("rule", "the field holding the tenant (\"user\", \"application_name\", \"database\", \"client\"), or #{by: field, pattern: regex whose first group is the tenant, map: #{value: tenant}, long_after: \"60s\"}")
            .returns("a Frame (tenant, connections, active, idle_in_transaction, long_transactions, lock_holders, waiting, oldest_xact_seconds), busiest first")
            .example(
                r#"let acme = sql::connect(PG_URL + "?application_name=svc-acme"); acme.query("SELECT 1"); db::pool_pressure(sql::connect(PG_URL), #{by: "application_name", pattern: "^svc-(.+)$"}).filter("tenant = 'acme'").col("connections")"#,
                "[1]",
            )
            .volatile(),
        move |db: Db, rule: Dynamic| -> Result<Frame> {
            let (rule, long_after) = rule_of(&rule)?;
            let rows = pool::pressure(&read(&s, &db)?, &rule, long_after);
            frame_of(&serialized(&rows), &["tenant", "connections", "active", "idle_in_transaction", "long_transactions", "lock_holders", "waiting", "oldest_xact_seconds"])
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("sample")
            .usage("db::sample(db: Db, every, count: int) -> Frame")
            .summary("Read the pool state `count` times, `every` apart, as a time series to line up with heap and metric samples (Frame.align).")
            .param("every", "\"5s\", \"1m\" or milliseconds")
            .param("count", "how many samples")
            .returns("a Frame (ts, connections, active, idle_in_transaction, lock_holders, waiting, oldest_xact_seconds); ts is RFC 3339 UTC")
            .example(r#"db::sample(sql::connect(PG_URL), "100ms", 3).len()"#, "3")
            .volatile(),
        move |db: Db, every: Dynamic, count: i64| -> Result<Frame> {
            let every = duration(&every, "every")?;
            let mut samples = Vec::new();
            for i in 0..count.max(0) {
                if i > 0 {
                    super::live_api::wait(&s, every)?;
                }
                let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                samples.push(pool::sample(ts, &read(&s, &db)?));
            }
            frame_of(&serialized(&samples), &["ts", "connections", "active", "idle_in_transaction", "lock_holders", "waiting", "oldest_xact_seconds"])
        },
    );
    api.end_namespace();
}
