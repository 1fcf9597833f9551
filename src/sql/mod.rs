//! SQL: dialects, the tenancy map, and the tenant guard.
//!
//! Plain library: typed results, no printing, no Rhai.

pub mod dialect;
pub mod guard;
pub mod tenancy;

pub use dialect::Dialect;
pub use guard::{Guard, Reason, Rule, Verdict};
pub use tenancy::Tenancy;
