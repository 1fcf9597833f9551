//! Connection-pool state on the real PostgreSQL and MariaDB servers: connections opened as
//! several tenants, one holding a transaction and a row lock, another waiting for it; the `db::`
//! functions must show each with the right tenant and state.

mod common;

use common::db::TestDb;
use common::{Sandbox, code, stderr, stdout};
use sqlx::Connection as _;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn run(sandbox: &Sandbox, url: &str, script: &str) -> serde_json::Value {
    let path = sandbox.write("pool.rhai", script);
    let out = sandbox.run(&["run", "--json", path.to_str().unwrap(), "-p", &format!("URL={url}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn row<'v>(rows: &'v serde_json::Value, tenant: &str) -> &'v serde_json::Value {
    rows.as_array().unwrap().iter().find(|r| r["tenant"] == tenant).unwrap_or_else(|| panic!("no {tenant} in {rows}"))
}

/// Wait (up to 30 s, for loaded CI machines) until `count_sql` counts something.
fn wait_for(t: &TestDb, count_sql: &str) {
    let start = std::time::Instant::now();
    while t.count(count_sql) == 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{}: nothing after 30 s: {count_sql}", t.dialect);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

const PRESSURE: &str = r#"let db = sql::connect(URL);
    #{pressure: db::pool_pressure(db, RULE).rows(),
      queries: db::connections(db).filter("query LIKE 'UPDATE%'").col("query"),
      isolation: db::connections(db).select(["user", "application_name", "isolation"]).rows(),
      samples: db::sample(db, "50ms", 2).select(["connections", "lock_holders", "waiting"]).rows()}"#;

#[test]
fn postgres_connections_show_their_tenant_transaction_and_locks() {
    let Some(t) = TestDb::postgres() else { return };
    t.exec("CREATE TABLE accounts (id INT PRIMARY KEY, v INT NOT NULL)");
    t.exec("INSERT INTO accounts VALUES (1, 0), (2, 0)");
    let rt = runtime();
    let url = |app: &str| format!("{}?application_name=svc-{app}", t.url);
    let (mut acme, mut globex, idle, audit) = rt.block_on(async {
        let mut acme = sqlx::PgConnection::connect(&url("acme")).await.unwrap();
        sqlx::query("BEGIN").execute(&mut acme).await.unwrap();
        sqlx::query("UPDATE accounts SET v = v + 1 WHERE id = 1").execute(&mut acme).await.unwrap();
        let globex = sqlx::PgConnection::connect(&url("globex")).await.unwrap();
        let idle = sqlx::PgConnection::connect(&url("globex")).await.unwrap();
        // A serializable reader: its predicate locks show its level.
        let mut audit = sqlx::PgConnection::connect(&url("audit")).await.unwrap();
        sqlx::query("BEGIN ISOLATION LEVEL SERIALIZABLE").execute(&mut audit).await.unwrap();
        sqlx::query("SELECT v FROM accounts WHERE id = 2").execute(&mut audit).await.unwrap();
        (acme, globex, idle, audit)
    });
    // globex waits for acme's row lock.
    let blocked = rt.spawn(async move {
        sqlx::query("UPDATE accounts SET v = v + 10 WHERE id = 1").execute(&mut globex).await.unwrap();
        globex
    });
    wait_for(&t, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    let sandbox = Sandbox::new();
    let script =
        format!("const RULE = #{{by: \"application_name\", pattern: \"^svc-(.+)$\", long_after: \"0s\"}};\n{PRESSURE}");
    let v = run(&sandbox, &t.url, &script);
    let a = row(&v["pressure"], "acme");
    assert_eq!((a["connections"].as_i64(), a["idle_in_transaction"].as_i64()), (Some(1), Some(1)), "{v}");
    assert_eq!(
        (a["lock_holders"].as_i64(), a["long_transactions"].as_i64(), a["waiting"].as_i64()),
        (Some(1), Some(1), Some(0)),
        "{v}"
    );
    let g = row(&v["pressure"], "globex");
    assert_eq!(
        (g["connections"].as_i64(), g["active"].as_i64(), g["waiting"].as_i64()),
        (Some(2), Some(1), Some(1)),
        "{v}"
    );
    let queries = v["queries"].as_array().unwrap();
    assert!(
        queries.contains(&serde_json::json!("UPDATE accounts SET v = v + ? WHERE id = ?")),
        "literals redacted: {queries:?}"
    );
    assert_eq!(v["samples"].as_array().unwrap().len(), 2);
    assert!(v["samples"][0]["waiting"].as_i64() >= Some(1), "{v}");
    // PostgreSQL shows another session's level only where it can be told: SERIALIZABLE by its
    // predicate locks; acme's READ COMMITTED is not shown at all.
    let level = |app: &str| {
        let rows = v["isolation"].as_array().unwrap();
        let found = rows.iter().find(|r| r["application_name"] == format!("svc-{app}"));
        found.unwrap_or_else(|| panic!("no svc-{app} in {rows:?}"))["isolation"].clone()
    };
    assert_eq!(level("audit"), "SERIALIZABLE", "{v}");
    assert_eq!(level("acme"), serde_json::Value::Null, "{v}");

    rt.block_on(async {
        sqlx::query("COMMIT").execute(&mut acme).await.unwrap();
        let globex = blocked.await.unwrap();
        for c in [acme, globex, idle, audit] {
            c.close().await.unwrap();
        }
    });
}

#[test]
fn mariadb_connections_show_their_tenant_transaction_and_locks() {
    let Some(t) = TestDb::mariadb() else { return };
    t.exec("CREATE TABLE accounts (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB");
    t.exec("INSERT INTO accounts VALUES (1, 0), (2, 0)");
    let database = t.url.rsplit('/').next().unwrap().to_string();
    let users = [format!("{database}_acme"), format!("{database}_globex")];
    let _cleanup = DropUsers(&t, users.to_vec());
    for user in &users {
        t.exec(&format!("CREATE USER '{user}'@'%'"));
        t.exec(&format!("CREATE USER '{user}'@'localhost'"));
        t.exec(&format!("GRANT ALL ON {database}.* TO '{user}'@'%'"));
        t.exec(&format!("GRANT ALL ON {database}.* TO '{user}'@'localhost'"));
    }
    let rt = runtime();
    let url = |user: &str| format!("mysql://{user}@127.0.0.1:3306/{database}");
    let (mut acme, mut globex) = rt.block_on(async {
        let mut acme = sqlx::MySqlConnection::connect(&url(&users[0])).await.unwrap();
        sqlx::query("BEGIN").execute(&mut acme).await.unwrap();
        sqlx::query("UPDATE accounts SET v = v + 1 WHERE id = 1").execute(&mut acme).await.unwrap();
        let globex = sqlx::MySqlConnection::connect(&url(&users[1])).await.unwrap();
        (acme, globex)
    });
    let blocked = rt.spawn(async move {
        let result = sqlx::query("UPDATE accounts SET v = v + 10 WHERE id = 1").execute(&mut globex).await;
        (globex, result.map(drop).map_err(|e| e.to_string()))
    });
    // InnoDB's status report, not INNODB_TRX: MariaDB 10.11 shows some waiting transactions as
    // RUNNING there for as long as they wait (the product reads both).
    let waits = || {
        let report = t.rows("SHOW ENGINE INNODB STATUS");
        report[0][2].as_str().is_some_and(|r| r.contains("\nLOCK WAIT "))
    };
    let start = std::time::Instant::now();
    while !waits() {
        if blocked.is_finished() || start.elapsed() > std::time::Duration::from_secs(30) {
            let (_, result) = rt.block_on(blocked).unwrap();
            panic!("globex's update never waited for acme's lock: {result:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sandbox = Sandbox::new();
    let script = format!(
        "const RULE = #{{by: \"user\", map: #{{\"{}\": \"acme\", \"{}\": \"globex\"}}, long_after: \"0s\"}};\n{PRESSURE}",
        users[0], users[1]
    );
    let v = run(&sandbox, &t.url, &script);
    let a = row(&v["pressure"], "acme");
    assert_eq!(
        (a["connections"].as_i64(), a["idle_in_transaction"].as_i64(), a["lock_holders"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(a["long_transactions"].as_i64(), Some(1), "{v}");
    let g = row(&v["pressure"], "globex");
    assert_eq!((g["connections"].as_i64(), g["waiting"].as_i64()), (Some(1), Some(1)), "{v}");
    let acme_level = v["isolation"].as_array().unwrap().iter().find(|r| r["user"] == users[0].as_str()).cloned();
    assert_eq!(acme_level.map(|r| r["isolation"].clone()), Some("REPEATABLE READ".into()), "InnoDB's default: {v}");
    assert!(
        v["queries"].as_array().unwrap().contains(&serde_json::json!("UPDATE accounts SET v = v + ? WHERE id = ?")),
        "{v}"
    );

    rt.block_on(async {
        sqlx::query("COMMIT").execute(&mut acme).await.unwrap();
        let (globex, result) = blocked.await.unwrap();
        assert_eq!(result, Ok(()), "globex's update goes through once acme commits");
        acme.close().await.unwrap();
        globex.close().await.unwrap();
    });
}

/// Users a test made, dropped when it ends, however it ends.
struct DropUsers<'t>(&'t TestDb, Vec<String>);

impl Drop for DropUsers<'_> {
    fn drop(&mut self) {
        for user in &self.1 {
            for host in ["%", "localhost"] {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.0.exec(&format!("DROP USER IF EXISTS '{user}'@'{host}'"))
                }));
            }
        }
    }
}
