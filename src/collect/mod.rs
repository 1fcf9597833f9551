//! Collectors: evidence from outside the process under audit, as typed records.
//!
//! Plain library: typed results, no printing, no Rhai.

pub mod aws;
pub mod kms;
pub mod pool;
