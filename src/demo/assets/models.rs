//! The shop's row structs, as the service reads them.

/// An order row. `user_id` is nullable in the table (guest checkouts) but not here: the planted
/// contract mismatch, which fails at run time on the first guest order.
#[derive(sqlx::FromRow)]
pub struct Order {
    pub id: i64,
    pub tenant_id: i64,
    pub user_id: i64,
    pub plan_id: Option<i64>,
    pub status: String,
    pub total_cents: i64,
}

/// A user row.
#[derive(sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub org_id: i64,
    pub email: String,
}
