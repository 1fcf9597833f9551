//! Real databases for tests: a SQLite file, and a fresh database on the PostgreSQL and MariaDB
//! servers of the machine (dropped afterwards). Without a server a test is skipped with a
//! message, unless DEPLOYCLAW_REQUIRE_SERVICES=1 (as in CI), where that is a failure.

use deployclaw::sql::db::{Database, Value};
use std::path::Path;

pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
pub const MARIADB: &str = "mysql://root@127.0.0.1:3306";

pub struct TestDb {
    pub dialect: &'static str,
    /// The URL the product connects to.
    pub url: String,
    pub db: Database,
    admin: Option<(Database, String)>,
    runtime: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

fn unique(prefix: &str) -> String {
    // Tests of one binary run on several threads at once, and the clock may read the same on two
    // of them: the counter keeps their names apart.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// Skip (returning None) or fail when a server is missing.
fn unavailable(what: &str, error: impl std::fmt::Display) -> Option<TestDb> {
    if std::env::var("DEPLOYCLAW_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{what} is required (DEPLOYCLAW_REQUIRE_SERVICES=1) but unavailable: {error}");
    }
    eprintln!("skipping: {what} is not available here: {error}");
    None
}

impl TestDb {
    pub fn sqlite(dir: &Path) -> TestDb {
        let runtime = runtime();
        let url = format!("sqlite://{}", dir.join(unique("t")).with_extension("db").display());
        let db = runtime.block_on(Database::connect(&url)).expect("sqlite opens");
        TestDb { dialect: "sqlite", url, db, admin: None, runtime }
    }

    pub fn postgres() -> Option<TestDb> {
        Self::server("postgres", POSTGRES, "PostgreSQL at 127.0.0.1:5432")
    }

    pub fn mariadb() -> Option<TestDb> {
        Self::server("mysql", MARIADB, "MariaDB at 127.0.0.1:3306")
    }

    fn server(dialect: &'static str, base: &str, what: &str) -> Option<TestDb> {
        let runtime = runtime();
        let admin_url = format!("{base}/test");
        let admin = match runtime.block_on(Database::connect(&admin_url)) {
            Ok(a) => a,
            Err(e) => return unavailable(what, e),
        };
        let name = unique("dc");
        runtime.block_on(admin.execute(&format!("CREATE DATABASE {name}"), &[])).expect("create a test database");
        let url = format!("{base}/{name}");
        let db = runtime.block_on(Database::connect(&url)).expect("connect to the test database");
        Some(TestDb { dialect, url, db, admin: Some((admin, name)), runtime })
    }

    /// Every server and SQLite, as this machine has them.
    pub fn all(dir: &Path) -> Vec<TestDb> {
        let mut all = vec![TestDb::sqlite(dir)];
        all.extend(TestDb::postgres());
        all.extend(TestDb::mariadb());
        all
    }

    pub fn exec(&self, sql: &str) {
        self.runtime.block_on(self.db.execute(sql, &[])).unwrap_or_else(|e| panic!("{}: {e}", self.dialect));
    }

    pub fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        self.runtime.block_on(self.db.fetch(sql, &[])).unwrap_or_else(|e| panic!("{}: {e}", self.dialect)).rows
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.rows(sql)[0][0].as_i64().expect("a count")
    }

    /// The tenant placeholder and the n-th (1-based) parameter after it.
    pub fn tenant(&self) -> &'static str {
        match self.dialect {
            "postgres" => "$1",
            "mysql" => "?",
            _ => "?1",
        }
    }

    pub fn param(&self, n: usize) -> String {
        match self.dialect {
            "postgres" => format!("${}", n + 1),
            "mysql" => "?".into(),
            _ => format!("?{}", n + 1),
        }
    }

    /// The shop schema (tenants, users, orders with a generated id, order_notes, plans) with
    /// acme (1, three orders), globex (2, two) and initech (3, one).
    pub fn shop(&self) {
        let id = match self.dialect {
            "postgres" => "id SERIAL PRIMARY KEY",
            "mysql" => "id INT AUTO_INCREMENT PRIMARY KEY",
            _ => "id INTEGER PRIMARY KEY",
        };
        for sql in [
            "CREATE TABLE tenants (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL UNIQUE)".to_string(),
            "CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)".to_string(),
            "CREATE TABLE users (id INT PRIMARY KEY, org_id INT NOT NULL REFERENCES tenants(id), email VARCHAR(80) NOT NULL)".to_string(),
            format!(
                "CREATE TABLE orders ({id}, tenant_id INT NOT NULL REFERENCES tenants(id), status VARCHAR(20) NOT NULL, \
                 total_cents INT NOT NULL CHECK (total_cents >= 0))"
            ),
            "CREATE TABLE order_notes (id INT PRIMARY KEY, order_id INT NOT NULL REFERENCES orders(id), body VARCHAR(200) NOT NULL)".to_string(),
            "INSERT INTO tenants (id, name) VALUES (1, 'acme'), (2, 'globex'), (3, 'initech')".to_string(),
            "INSERT INTO plans (id, name) VALUES (1, 'free'), (2, 'team')".to_string(),
            "INSERT INTO users (id, org_id, email) VALUES (1, 1, 'ana@acme.test'), (2, 2, 'cy@globex.test')".to_string(),
            "INSERT INTO orders (id, tenant_id, status, total_cents) VALUES (1, 1, 'open', 100), (2, 1, 'open', 200), \
             (3, 1, 'paid', 300), (4, 2, 'open', 400), (5, 2, 'paid', 500), (6, 3, 'open', 600)"
                .to_string(),
            "INSERT INTO order_notes (id, order_id, body) VALUES (1, 1, 'call back'), (2, 4, 'refund asked')".to_string(),
        ] {
            self.exec(&sql);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.runtime.block_on(self.db.close());
        if let Some((admin, name)) = &self.admin {
            let drop = if self.dialect == "postgres" {
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            } else {
                format!("DROP DATABASE IF EXISTS {name}")
            };
            let _ = self.runtime.block_on(admin.execute(&drop, &[]));
            self.runtime.block_on(admin.close());
        }
    }
}

/// The shop's tenancy map; `pg_sleep` and `sleep` are allowed so tests can hold a transaction open.
pub const SHOP_TENANCY: &str = r#"[tables]
tenants     = { root = true, key = "id" }
users       = { key = "org_id" }
orders      = { key = "tenant_id" }
order_notes = { via = "orders", fk = "order_id" }
plans       = { global = true }

[functions]
allow = ["pg_sleep", "sleep"]
"#;
