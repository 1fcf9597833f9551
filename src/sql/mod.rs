//! SQL: connections, dialects, the tenancy map, the tenant guard, scoped execution.
//!
//! Plain library: typed results, no printing, no Rhai.

pub mod contracts;
pub mod db;
pub mod demo;
pub mod dialect;
pub mod guard;
pub mod infer;
mod inflight;
pub mod lint;
pub mod schema;
pub mod scoped;
pub mod script;
pub mod tenancy;
pub mod tenant_schema;

pub use dialect::Dialect;
pub use guard::{Guard, Reason, Rule, Verdict};
pub use tenancy::Tenancy;
pub use tenant_schema::SchemaGlob;
