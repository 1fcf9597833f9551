//! The machine's chain of sealed sessions: an append-only index, one signed line per session as
//! it seals, each line naming the digest of the line before (as CloudTrail's digest files chain).
//!
//! Each session's own log names the seal of the session before it, but two sessions running at
//! once both name the same one: from the logs alone, a session removed from between them looks
//! like that legitimate fork. The index records the order sessions sealed in, under a lock, so
//! `log verify --chain` can tell concurrency (the skipped session sealed after this one started)
//! from removal (a seal named that no session and no index line has, or an index line missing).

use super::canonical::to_canonical_vec;
use super::recorder::GENESIS;
use super::{Error, Signer, TrustedKey, hex, sha256};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The index's name in the sessions folder.
pub const INDEX_FILE: &str = "index.chain";

/// What each signature covers, before the record's canonical JSON: a signature made for the
/// index cannot be passed off as one over anything else.
const DOMAIN: &[u8] = b"deployclaw session chain v1\n";

/// One sealed session, as the index records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 0 for the first line of the index.
    pub seq: u64,
    /// SHA-256 of the previous line's bytes, or [`GENESIS`].
    pub prev: String,
    pub session: String,
    /// Where the log was written.
    pub log: String,
    /// Digest of the session's final seal line.
    pub seal: String,
    /// The previous seal the session named when it started.
    pub previous_seal: Option<String>,
    /// When the session started and when it sealed (RFC 3339).
    pub start: String,
    pub sealed: String,
    /// Entries before the final seal.
    pub entries: u64,
    pub key_id: String,
    /// Base64 signature over [`DOMAIN`] and the record without this field.
    #[serde(default)]
    pub sig: String,
}

impl Record {
    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.sig.clear();
        let mut value = serde_json::to_value(&unsigned).expect("a record serializes");
        if let Some(map) = value.as_object_mut() {
            map.remove("sig");
        }
        let mut bytes = DOMAIN.to_vec();
        bytes.extend(to_canonical_vec(&value));
        bytes
    }

    /// Whether one of `trusted` signed this record.
    pub fn signed_by<'k>(&self, trusted: &'k [TrustedKey]) -> Result<&'k TrustedKey, String> {
        use base64::Engine as _;
        let key = trusted
            .iter()
            .find(|k| k.key_id() == self.key_id)
            .ok_or_else(|| format!("it is signed by key {}, which is not trusted here", self.key_id))?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&self.sig)
            .map_err(|_| "its signature is not base64".to_string())?;
        if key.verifies(&self.signed_bytes(), &sig) {
            Ok(key)
        } else {
            Err(format!("its signature does not verify with key {}", self.key_id))
        }
    }
}

/// A session that has just written its final seal.
pub struct Sealed<'a> {
    pub session: &'a str,
    pub log: &'a Path,
    pub seal: &'a str,
    pub previous_seal: Option<&'a str>,
    pub start: &'a str,
    pub entries: u64,
}

impl<'a> Sealed<'a> {
    /// The session `meta` describes, as its final seal `summary` ended it.
    pub fn new(meta: &'a super::SessionMeta, summary: &'a super::SealSummary) -> Sealed<'a> {
        Sealed {
            session: &meta.id,
            log: &summary.path,
            seal: &summary.seal_digest,
            previous_seal: meta.previous_seal.as_deref(),
            start: &meta.start,
            entries: summary.entries,
        }
    }
}

/// Append `sealed` to the index at `path`, signed by `signer`, under an exclusive lock so that
/// sessions sealing at once are recorded one after the other.
pub fn append(path: &Path, sealed: &Sealed, signer: &dyn Signer) -> Result<Record, Error> {
    use base64::Engine as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    let mut file = open_index(path)?;
    file.lock().map_err(|e| Error::io("lock", path, e))?;
    let mut text = Vec::new();
    file.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut text))
        .map_err(|e| Error::io("read", path, e))?;
    // A line cut off by a crash stays as it is, ended, for the verifier to name; the chain
    // goes on from it.
    if !text.is_empty() && !text.ends_with(b"\n") {
        file.write_all(b"\n").map_err(|e| Error::io("append to", path, e))?;
        text.push(b'\n');
    }
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let prev = lines.last().map_or_else(|| GENESIS.to_string(), |l| hex(&sha256(l)));
    let log = std::path::absolute(sealed.log).unwrap_or_else(|_| sealed.log.to_path_buf());
    let mut record = Record {
        seq: lines.len() as u64,
        prev,
        session: sealed.session.to_string(),
        log: log.display().to_string(),
        seal: sealed.seal.to_string(),
        previous_seal: sealed.previous_seal.map(str::to_string),
        start: sealed.start.to_string(),
        sealed: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        entries: sealed.entries,
        key_id: signer.key_id().to_string(),
        sig: String::new(),
    };
    record.sig = base64::engine::general_purpose::STANDARD.encode(signer.sign(&record.signed_bytes())?);
    let value = serde_json::to_value(&record).expect("a record serializes");
    let mut line = to_canonical_vec(&value);
    line.push(b'\n');
    file.write_all(&line).and_then(|()| file.sync_data()).map_err(|e| Error::io("append to", path, e))?;
    Ok(record)
}

fn open_index(path: &Path) -> Result<std::fs::File, Error> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| Error::io("open", path, e))
}

/// The seal of the last readable record of the index at `path`: the previous seal of the next
/// session. `None` if there is no index or no readable record.
/// Only the end of the index is read: every session start asks, and the index only grows.
pub fn last_seal(path: &Path) -> Option<String> {
    // Far more than a record (a few hundred bytes and the log's path).
    const TAIL: u64 = 64 << 10;
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(std::io::SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut text = Vec::new();
    file.take(TAIL).read_to_end(&mut text).ok()?;
    // A tail that starts mid-record has that piece first; it does not parse and is passed over.
    text.split(|&b| b == b'\n').rev().find_map(|l| serde_json::from_slice::<Record>(l).ok()).map(|r| r.seal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_seal_is_read_from_the_end_of_a_long_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let record = |n: u64| {
            let r = Record {
                seq: n,
                prev: GENESIS.into(),
                session: format!("s{n}"),
                log: "/x".repeat(300),
                seal: format!("{n:064}"),
                previous_seal: None,
                start: String::new(),
                sealed: String::new(),
                entries: 1,
                key_id: String::new(),
                sig: String::new(),
            };
            format!("{}\n", serde_json::to_string(&r).unwrap())
        };
        let text: String = (0..400).map(record).collect();
        assert!(text.len() as u64 > 2 * (64 << 10));
        std::fs::write(&path, text).unwrap();
        assert_eq!(last_seal(&path), Some(format!("{:064}", 399)));
        assert_eq!(last_seal(&dir.path().join("none")), None);
    }
}
