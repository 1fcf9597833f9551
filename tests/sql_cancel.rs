//! Stopping a statement stops it on the server: Ctrl-C in `deployclaw run`, an interrupt in the
//! library and the statement timeout each cancel the query where it runs and roll back its
//! transaction, checked in PostgreSQL's pg_stat_activity and MariaDB's PROCESSLIST.

mod common;

use common::db::TestDb;
use common::{Sandbox, code, stderr};
use deployclaw::cancel::{Cancel, CancelSource};
use deployclaw::sql::db::{Database, Error, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

fn servers() -> Vec<TestDb> {
    TestDb::postgres().into_iter().chain(TestDb::mariadb()).collect()
}

/// A query over catalogs (which `db.query` allows) that runs for hours unless stopped, tagged
/// so the server's list of connections shows it.
fn long_query(db: &TestDb, tag: &str) -> String {
    match db.dialect {
        "postgres" => format!("SELECT count(*) AS {tag} FROM pg_class a, pg_class b, pg_class c, pg_class d"),
        _ => format!(
            "SELECT COUNT(*) AS {tag} FROM information_schema.COLLATIONS a, information_schema.COLLATIONS b, information_schema.COLLATIONS c, information_schema.COLLATIONS d"
        ),
    }
}

/// How many server connections are running a statement that mentions `tag` (this query aside).
fn running(db: &TestDb, tag: &str) -> i64 {
    let sql = match db.dialect {
        "postgres" => format!(
            "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' AND query LIKE '%{tag}%' AND pid <> pg_backend_pid()"
        ),
        _ => format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{tag}%' AND ID <> CONNECTION_ID()"
        ),
    };
    db.count(&sql)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tag(name: &str) -> String {
    format!("dc_{name}_{}", std::process::id())
}

#[test]
fn ctrl_c_in_a_run_stops_the_query_on_the_server() {
    for db in servers() {
        let sb = Sandbox::new();
        let tag = tag(&format!("sigint_{}", db.dialect));
        let script = sb.write(
            "long.rhai",
            &format!("let db = sql::connect({:?});\ndb.query({:?});\nprint(\"never\");", db.url, long_query(&db, &tag)),
        );
        let mut child =
            sb.command().args(["run", script.to_str().unwrap()]).stdout(std::process::Stdio::null()).spawn().unwrap();
        wait_until("the query runs on the server", || running(&db, &tag) == 1);
        let started = Instant::now();
        let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{}", db.dialect);
        // The run ends only once the server has confirmed; nothing is left running there.
        assert_eq!(running(&db, &tag), 0, "{}: the query still runs after the run ended", db.dialect);
        assert!(started.elapsed() < Duration::from_secs(20), "{}: {:?}", db.dialect, started.elapsed());
    }
}

#[test]
fn the_statement_timeout_is_enforced_and_leaves_nothing_running() {
    for db in servers() {
        let sb = Sandbox::new();
        let tag = tag(&format!("timeout_{}", db.dialect));
        let script = sb.write(
            "long.rhai",
            &format!("let db = sql::connect({:?});\ndb.query({:?});", db.url, long_query(&db, &tag)),
        );
        let started = Instant::now();
        let out = sb.run(&["run", script.to_str().unwrap(), "--statement-timeout", "1s"]);
        assert_eq!(code(&out), 1, "{}: {}", db.dialect, stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(15), "{}: {:?}", db.dialect, started.elapsed());
        let err = stderr(&out);
        // The server's own timeout speaks: PostgreSQL 57014, MariaDB 1969 (max_statement_time).
        let by_server = ["statement timeout", "max_statement_time"];
        assert!(by_server.iter().any(|s| err.contains(s)), "{}: {err}", db.dialect);
        wait_until("nothing runs", || running(&db, &tag) == 0);
    }
}

/// Interrupts on demand, as the session's bridge gives them.
struct Switch(watch::Sender<u64>);

impl CancelSource for Switch {
    fn current(&self) -> Cancel {
        Cancel::on_interrupt(self.0.subscribe(), *self.0.borrow())
    }
}

#[test]
fn an_interrupt_inside_a_transaction_rolls_it_back_on_the_server() {
    for db in servers() {
        db.exec("CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)");
        db.exec("INSERT INTO accounts VALUES (1, 100)");
        let tag = tag(&format!("tx_{}", db.dialect));
        let switch = Arc::new(Switch(watch::Sender::new(0)));
        let settings = Settings { cancel: switch.clone(), statement_timeout: None };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let stopped = runtime.block_on(async {
            let stoppable = Database::connect_with(&db.url, settings).await.unwrap();
            let mut tx = stoppable.begin().await.unwrap();
            tx.execute("UPDATE accounts SET balance = 0 WHERE id = 1", &[]).await.unwrap();
            let interrupt = {
                let switch = switch.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    switch.0.send_modify(|n| *n += 1);
                })
            };
            let result = tx.fetch(&long_query(&db, &tag), &[]).await;
            interrupt.await.unwrap();
            let _ = tx.rollback().await;
            result
        });
        match stopped {
            Err(Error::Stopped { confirm: None, .. }) => {}
            other => panic!("{}: {other:?}", db.dialect),
        }
        assert_eq!(running(&db, &tag), 0, "{}", db.dialect);
        // The row lock is gone and the update undone: another connection writes at once.
        let lock_wait = match db.dialect {
            "postgres" => "SET lock_timeout = '2s'",
            _ => "SET SESSION innodb_lock_wait_timeout = 2",
        };
        let other = runtime.block_on(Database::connect(&db.url)).unwrap();
        runtime.block_on(async {
            let mut tx = other.begin().await.unwrap();
            tx.execute(lock_wait, &[]).await.unwrap();
            tx.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1", &[]).await.unwrap();
            tx.commit().await.unwrap();
        });
        assert_eq!(db.count("SELECT balance FROM accounts WHERE id = 1"), 101, "{}", db.dialect);
    }
}
