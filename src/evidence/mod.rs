//! The signed session log: every statement, note and finding of a session as hash-chained JSON
//! Lines, sealed with DSSE envelopes around in-toto statements.
//!
//! Plain library: typed inputs and results, no printing, no Rhai.

mod canonical;
pub mod chain;
mod chain_check;
mod dsse;
mod entry;
pub mod record;
mod recorder;
mod redact;
mod signer;
mod verify;

pub use canonical::to_canonical_vec;
pub use chain_check::{ChainFault, ChainReport, Concurrent, LogFile, check_chain};
pub use dsse::{Envelope, PAYLOAD_TYPE, PREDICATE_TYPE, pae};
pub use entry::{Finding, Outcome, SessionMeta, Severity};
pub use recorder::{CheckpointPolicy, GENESIS, Recorder, SealSummary, previous_seal};
pub use redact::{is_secret_name, redact, redact_json};
pub use signer::{LocalKey, Signer, TrustedKey, ValueKey, key_id_for};
pub use verify::{Fault, RemoteSignature, VerifyReport, remote_signatures, verify_log};

use std::path::PathBuf;

/// What went wrong while writing, signing or reading a session log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("public key: {0}")]
    PublicKey(String),
    #[error("unknown severity {0:?}: use \"info\", \"warning\" or \"error\"")]
    Severity(String),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("the session log is already closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// SHA-256 of a byte string.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Parse 64 hex digits into a digest.
pub(crate) fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}
