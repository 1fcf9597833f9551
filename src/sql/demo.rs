//! A small multi-tenant shop in SQLite, to try the tenant functions on without a server.

use std::path::Path;

use super::db::{self, Database};

/// The demo schema's tenancy map.
pub const TENANCY: &str = r#"[tables]
tenants     = { root = true, key = "id" }
users       = { key = "org_id" }
orders      = { key = "tenant_id" }
order_notes = { via = "orders", fk = "order_id" }
plans       = { global = true }
"#;

const SCHEMA: &[&str] = &[
    "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL, monthly_cents INTEGER NOT NULL)",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL REFERENCES tenants(id), email TEXT NOT NULL)",
    "CREATE INDEX users_org ON users (org_id)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL REFERENCES tenants(id), \
     user_id INTEGER REFERENCES users(id), plan_id INTEGER REFERENCES plans(id), status TEXT NOT NULL, \
     total_cents INTEGER NOT NULL)",
    "CREATE INDEX orders_tenant ON orders (tenant_id, id)",
    "CREATE TABLE order_notes (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), body TEXT NOT NULL)",
    "INSERT INTO tenants (id, name) VALUES (1, 'acme'), (2, 'globex'), (3, 'initech')",
    "INSERT INTO plans (id, name, monthly_cents) VALUES (1, 'free', 0), (2, 'team', 4900)",
    "INSERT INTO users (id, org_id, email) VALUES (1, 1, 'ana@acme.test'), (2, 1, 'bo@acme.test'), \
     (3, 2, 'cy@globex.test'), (4, 3, 'di@initech.test')",
    "INSERT INTO orders (id, tenant_id, user_id, plan_id, status, total_cents) VALUES \
     (1, 1, 1, 2, 'open', 4900), (2, 1, 2, 2, 'paid', 4900), (3, 1, 1, 1, 'open', 0), \
     (4, 2, 3, 2, 'paid', 4900), (5, 2, 3, 2, 'open', 4900), (6, 3, 4, 1, 'paid', 0)",
    "INSERT INTO order_notes (id, order_id, body) VALUES (1, 1, 'call back'), (2, 4, 'refund asked'), (3, 6, 'vip')",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path} exists: the demo database is only written to a new file")]
    Exists { path: String },
    #[error(transparent)]
    Db(#[from] db::Error),
}

/// Create the demo database at `path` (which must not exist) and open it.
pub async fn create(path: &Path) -> Result<Database, Error> {
    if path.exists() {
        return Err(Error::Exists { path: path.display().to_string() });
    }
    let db = Database::connect(&format!("sqlite://{}", path.display())).await?;
    let mut tx = db.begin().await?;
    for statement in SCHEMA {
        tx.execute(statement, &[]).await?;
    }
    tx.commit().await?;
    Ok(db)
}
