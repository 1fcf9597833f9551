//! Error budgets: SLO definitions from every place they are written, burn rates per tenant under
//! multi-window multi-burn-rate policies, and when each alert fires.
//!
//! Plain library: typed inputs and results, no printing, no Rhai.

pub mod attest;
pub mod baseline;
pub mod burn;
pub mod drift;
pub mod inventory;
pub mod load;
pub mod openslo;
pub mod openslo_v1alpha;
pub mod policy;
pub mod pyrra;
pub mod records;
pub mod rules;
pub mod sloth_windows;
pub mod spec;
pub mod yaml;

use std::path::PathBuf;
use std::time::Duration;

pub use policy::{Profile, Severity, Tier, detection_time};
pub use spec::{Sli, Slo};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}{message}", if origin.is_empty() { String::new() } else { format!("{origin}: ") })]
    Invalid { origin: String, message: String },
    #[error(transparent)]
    Db(#[from] crate::sql::db::Error),
    #[error(transparent)]
    Frame(#[from] crate::frame::Error),
}

impl Error {
    /// Whether the file or folder given is wrong (missing, empty, not a known format) rather
    /// than unreadable or a database's failure.
    pub fn is_input(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData)
            }
            Error::Invalid { .. } => true,
            Error::Db(_) | Error::Frame(_) => false,
        }
    }
}

/// Optional durations likewise.
pub(crate) fn serialize_duration_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_duration(d, s),
        None => s.serialize_none(),
    }
}

/// Durations serialize as people write them (`5m`, `28d`).
pub(crate) fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::units::format_duration(*d))
}
