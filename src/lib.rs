//! deployclaw: an embedded-scripting automation shell for auditing multi-tenant services.
//!
//! Capability folders (`evidence`, `frame`, and later `heap`, `sql`, `collect`, `triage`, `slo`)
//! are plain libraries with typed results. `engine` is the only module that knows Rhai; `shell`
//! and the CLI are thin layers over it.

pub mod cancel;
pub mod collect;
pub mod demo;
pub mod engine;
pub mod evidence;
pub mod fleet;
pub mod frame;
pub mod fuzzing;
pub mod hashing;
pub mod heap;
pub mod jcs;
pub mod notebook;
pub mod paths;
pub mod proc;
pub mod report;
pub mod shell;
pub mod slo;
pub mod sql;
pub mod triage;
pub mod units;
