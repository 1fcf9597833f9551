//! CI build-failure triage: build logs read into rows, templates mined from them, failed jobs
//! classified by cause, the tenants they touch (from the logs, the schema registry and the
//! migration histories), cascades over the service graph, rollback risk and playbooks.
//!
//! Plain library: typed inputs and results, no printing, no Rhai.

pub mod archive;
pub mod audit;
pub mod aws;
pub mod cascade;
pub mod classify;
pub mod correlate;
pub mod demo;
pub mod drain;
pub mod formats;
pub mod header;
pub mod line;
pub mod mentions;
pub mod migrations;
pub mod playbook;
pub mod raw;
pub mod read;
pub mod recommend;
pub mod risk;
pub mod schema_state;
pub mod templates;

pub use classify::{Diagnosis, Evidence, Kind, Rules, classify};
pub use drain::{Config as MinerConfig, Miner};
pub use line::{Format, Level, LogLine};
pub use read::{read_path, read_text_as};
