//! The typed content of log entries.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::str::FromStr;

/// Who ran what, where: recorded in the first entry and in every seal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionMeta {
    /// Random id of this session.
    pub id: String,
    /// `deployclaw <version>`.
    pub tool: String,
    pub user: String,
    pub host: String,
    /// `repl`, `run`, `stdin` or `notebook`.
    pub mode: String,
    /// The script's path, for `run`.
    pub script: Option<String>,
    /// SHA-256 of the script's bytes, for `run`.
    pub script_sha256: Option<String>,
    /// True unless the session was started with `--execute`.
    pub dry_run: bool,
    /// RFC 3339 start time.
    pub start: String,
    /// Digest of the previous session's final seal on this machine, if any.
    pub previous_seal: Option<String>,
}

/// How a statement ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The statement produced a value: its type name, its shape (rows, columns) for tables or
    /// its length for collections, and the SHA-256 of its canonical JSON.
    Value {
        type_name: String,
        shape: Option<Vec<u64>>,
        /// HMAC-SHA256 of the value's canonical JSON under this machine's value key, so short
        /// values cannot be guessed from the log.
        hmac_sha256: String,
        /// Which value key: the first 16 hex digits of its SHA-256.
        key: String,
    },
    /// The statement failed with this message.
    Error { message: String },
    /// The statement was cancelled by the user.
    Cancelled,
}

impl Outcome {
    pub(crate) fn to_json(&self, redact: impl Fn(&str) -> String) -> Value {
        match self {
            Outcome::Value { type_name, shape, hmac_sha256, key } => {
                json!({"status": "ok", "type": type_name, "shape": shape, "hmac_sha256": hmac_sha256, "value_key": key})
            }
            Outcome::Error { message } => json!({"status": "error", "error": redact(message)}),
            Outcome::Cancelled => json!({"status": "cancelled"}),
        }
    }
}

/// How bad a finding is. `Error` findings make `deployclaw run` exit with code 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl FromStr for Severity {
    type Err = super::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(super::Error::Severity(s.to_string())),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Something a script concluded, recorded in the log and shown in reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub title: String,
    /// Free-form structured details (already JSON).
    pub details: Value,
}
