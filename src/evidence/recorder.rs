//! Writes a session log: hash-chained canonical JSON lines, sealed at checkpoints and on close.

use super::canonical::to_canonical_vec;
use super::dsse::{Envelope, PREDICATE_TYPE, STATEMENT_TYPE};
use super::{Error, Finding, Outcome, SessionMeta, Signer, hex, redact, redact_json, sha256};
use serde_json::{Map, Value, json};
use sha2::Digest;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// When to seal a long session so that a crash leaves only a short unsealed tail.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    /// Seal after this many entries since the last seal.
    pub entries: u64,
    /// Seal when an entry is appended this long after the last seal.
    pub interval: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        // A seal costs a signature and an fsync (a network call with a KMS key): every 64
        // entries that is under a millisecond per statement locally; the interval bounds the
        // unsealed tail of slow sessions.
        CheckpointPolicy { entries: 64, interval: Duration::from_secs(30) }
    }
}

/// What the final seal attests.
#[derive(Debug, Clone)]
pub struct SealSummary {
    pub path: PathBuf,
    /// Entries before the final seal.
    pub entries: u64,
    /// SHA-256 of the final seal's line, chained into the next session's metadata.
    pub seal_digest: String,
}

/// An open session log.
pub struct Recorder {
    path: PathBuf,
    file: File,
    meta: SessionMeta,
    signer: Arc<dyn Signer>,
    policy: CheckpointPolicy,
    next_seq: u64,
    head: [u8; 32],
    /// Running SHA-256 of every byte written so far: the seal's subject digest.
    file_digest: sha2::Sha256,
    entries_since_seal: u64,
    last_seal: Instant,
    line: Vec<u8>,
    closed: bool,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn redacted(text: &str) -> String {
    redact(text).into_owned()
}

impl Recorder {
    /// Create the log at `path` (which must not exist) and write its first entry.
    pub fn create(
        path: &Path,
        meta: SessionMeta,
        signer: Arc<dyn Signer>,
        policy: CheckpointPolicy,
    ) -> Result<Recorder, Error> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        }
        let file = open_new(path)?;
        // Held until the final seal: `log verify --chain` tells a running session's unsealed
        // tail from a crashed one's by it. Without locks (some network filesystems) it is only
        // that hint that is lost.
        let _ = file.try_lock();
        let mut recorder = Recorder {
            path: path.to_path_buf(),
            file,
            signer,
            policy,
            next_seq: 0,
            head: [0; 32],
            file_digest: sha2::Sha256::new(),
            entries_since_seal: 0,
            last_seal: Instant::now(),
            line: Vec::with_capacity(512),
            closed: false,
            meta,
        };
        let mut session = serde_json::to_value(&recorder.meta).expect("meta serializes");
        redact_json(&mut session);
        let key_id = recorder.signer.key_id().to_string();
        recorder.append("start", [("session", session), ("key_id", Value::String(key_id))])?;
        Ok(recorder)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    /// Who signs the seals.
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// The signer, to sign what the session leaves behind after the log is sealed.
    pub fn signer_handle(&self) -> Arc<dyn Signer> {
        self.signer.clone()
    }

    /// Entries written so far, seals included.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// Record one evaluated statement.
    pub fn statement(
        &mut self,
        source: &str,
        started: &str,
        duration: Duration,
        outcome: &Outcome,
    ) -> Result<(), Error> {
        let fields = [
            ("source", Value::String(redacted(source))),
            ("start", Value::String(started.to_string())),
            ("duration_us", json!(duration.as_micros() as u64)),
            ("outcome", outcome.to_json(redacted)),
        ];
        self.append("statement", fields)?;
        self.maybe_checkpoint()
    }

    /// Record a note from a script.
    pub fn note(&mut self, text: &str) -> Result<(), Error> {
        self.append("note", [("text", Value::String(redacted(text)))])?;
        self.maybe_checkpoint()
    }

    /// Record a finding from a script.
    pub fn finding(&mut self, finding: &Finding) -> Result<(), Error> {
        let mut details = finding.details.clone();
        redact_json(&mut details);
        let fields = [
            ("severity", Value::String(finding.severity.to_string())),
            ("title", Value::String(redacted(&finding.title))),
            ("details", details),
        ];
        self.append("finding", fields)?;
        self.maybe_checkpoint()
    }

    /// Seal what has been written so far without ending the session.
    pub fn checkpoint(&mut self) -> Result<(), Error> {
        self.seal(false).map(|_| ())
    }

    /// Seal now if anything was written since the last seal.
    pub fn seal_pending(&mut self) -> Result<(), Error> {
        if self.entries_since_seal > 0 { self.checkpoint() } else { Ok(()) }
    }

    /// Write the final seal. The recorder accepts nothing afterwards.
    pub fn close(&mut self) -> Result<SealSummary, Error> {
        let seal_digest = self.seal(true)?;
        self.closed = true;
        let _ = self.file.unlock();
        Ok(SealSummary { path: self.path.clone(), entries: self.next_seq - 1, seal_digest })
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn maybe_checkpoint(&mut self) -> Result<(), Error> {
        if self.entries_since_seal >= self.policy.entries || self.last_seal.elapsed() >= self.policy.interval {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn seal(&mut self, is_final: bool) -> Result<String, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let log_digest = hex(&self.file_digest.clone().finalize());
        let file_name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let meta = &self.meta;
        let statement = json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": file_name, "digest": {"sha256": log_digest}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "tool": meta.tool,
                "session": meta.id,
                "user": meta.user,
                "host": meta.host,
                "mode": meta.mode,
                "script": meta.script.as_deref().map(redacted),
                "script_sha256": meta.script_sha256,
                "dry_run": meta.dry_run,
                "start": meta.start,
                "end": now(),
                "entries": self.next_seq,
                "chain_head": hex(&self.head),
                "final": is_final,
                "previous_seal": meta.previous_seal,
            },
        });
        let mut statement = statement;
        if let Some((location, key)) = self.signer.remote() {
            use base64::Engine as _;
            statement["predicate"]["signer"] = json!({
                "key": location,
                "key_id": key.key_id(),
                "algorithm": key.algorithm(),
                "public_key": base64::engine::general_purpose::STANDARD.encode(key.der()),
            });
        }
        let envelope = Envelope::sign(&to_canonical_vec(&statement), self.signer.as_ref())?;
        let envelope = serde_json::to_value(envelope).expect("envelope serializes");
        self.append("seal", [("envelope", envelope)])?;
        self.file.sync_data().map_err(|e| Error::io("sync session log", &self.path, e))?;
        self.entries_since_seal = 0;
        self.last_seal = Instant::now();
        Ok(hex(&self.head))
    }

    fn append<const N: usize>(&mut self, kind: &str, fields: [(&str, Value); N]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let mut entry = Map::with_capacity(N + 4);
        entry.insert("seq".into(), json!(self.next_seq));
        entry.insert("prev".into(), Value::String(hex(&self.head)));
        entry.insert("kind".into(), Value::String(kind.to_string()));
        if kind != "seal" {
            entry.insert("time".into(), Value::String(now()));
        }
        for (name, value) in fields {
            entry.insert(name.to_string(), value);
        }
        self.line.clear();
        super::canonical::write_value(&mut self.line, &Value::Object(entry));
        let digest = sha256(&self.line);
        self.line.push(b'\n');
        // One write per entry: what was appended survives a crash of this process.
        self.file.write_all(&self.line).map_err(|e| Error::io("append to session log", &self.path, e))?;
        self.file_digest.update(&self.line);
        self.head = digest;
        self.next_seq += 1;
        self.entries_since_seal += 1;
        Ok(())
    }
}

#[cfg(unix)]
fn open_new(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create session log", path, e))
}

#[cfg(not(unix))]
fn open_new(path: &Path) -> Result<File, Error> {
    OpenOptions::new().append(true).create_new(true).open(path).map_err(|e| Error::io("create session log", path, e))
}

/// Digest of the last final seal written on this machine: the last record of its chain index
/// (see [`super::chain`]), or for a machine whose sessions sealed before there was one, the
/// digest kept in `state_file`.
pub fn previous_seal(index: &Path, state_file: &Path) -> Option<String> {
    if let Some(seal) = super::chain::last_seal(index) {
        return Some(seal);
    }
    let text = std::fs::read_to_string(state_file).ok()?;
    let digest = text.trim();
    super::parse_digest(digest).map(|_| digest.to_string())
}
