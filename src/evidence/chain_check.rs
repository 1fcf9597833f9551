//! `log verify --chain`: a folder of session logs checked against the machine's index of sealed
//! sessions (see [`super::chain`]), naming each removed, truncated, re-signed, reordered or
//! crashed session, and telling sessions that ran at once from a session taken out between them.

use super::chain::Record;
use super::recorder::GENESIS;
use super::{Fault, TrustedKey, VerifyReport, hex, sha256};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;

/// One session log of the folder, already verified on its own.
pub struct LogFile {
    pub path: PathBuf,
    pub report: VerifyReport,
    /// A live session holds the log open: its unsealed tail is still being written.
    pub running: bool,
}

/// Something wrong with the chain of sessions. Index lines are 1-based.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum ChainFault {
    /// A line of the index is unreadable, not signed by a trusted key, or does not follow the
    /// line before it.
    Index { line: usize, why: String },
    /// The index records a session whose log is nowhere to be found.
    Missing { session: String, log: String, line: usize },
    /// The log ends before the final seal the index records: cut back after it sealed.
    Truncated { session: String, log: String, line: usize, indexed_entries: u64, sealed_entries: Option<u64> },
    /// The log has a final seal, but not the one the index records: rewritten and sealed again.
    Resealed { session: String, log: String, line: usize },
    /// A sealed log the index does not record: made elsewhere or added to the folder.
    Unindexed { session: String, log: String },
    /// A log without a final seal that no live session holds: its session crashed or was killed.
    Crashed { log: String, sealed_entries: Option<u64> },
    /// A session names a previous seal that no session here and no index line has.
    Dangling { session: String, log: String, previous_seal: String },
    /// A session names an older seal than the one of a session that sealed before it started.
    Skipped { session: String, line: usize, skipped: String, skipped_line: usize },
    /// A session names the seal of a session the index records after it.
    Reordered { session: String, line: usize, names_line: usize },
    /// A fault of one log on its own (see `log verify FILE`).
    Log { log: String, problem: Fault },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::Index { line, why } => write!(f, "index line {line}: {why}"),
            ChainFault::Missing { session, log, line } => {
                write!(f, "session {session} was removed: index line {line} records it, but {log} is gone")
            }
            ChainFault::Truncated { session, log, line, indexed_entries, sealed_entries } => {
                let kept = sealed_entries
                    .map_or("no seal at all".to_string(), |n| format!("its last seal covers {n} entries"));
                write!(
                    f,
                    "session {session} was truncated after it sealed: index line {line} records a final seal after {indexed_entries} entries, but {log} has {kept}"
                )
            }
            ChainFault::Resealed { session, log, line } => write!(
                f,
                "session {session} was rewritten and sealed again: {log} ends with a final seal other than the one index line {line} records"
            ),
            ChainFault::Unindexed { session, log } => write!(
                f,
                "session {session} ({log}) is sealed but not in this folder's index: it was made on another machine or added here"
            ),
            ChainFault::Crashed { log, sealed_entries } => {
                let kept = sealed_entries.map_or("nothing of it is sealed".to_string(), |n| {
                    format!("its last checkpoint covers {n} entries")
                });
                write!(
                    f,
                    "{log} has no final seal and no running session holds it: its session crashed or was killed; {kept}"
                )
            }
            ChainFault::Dangling { session, log, previous_seal } => write!(
                f,
                "session {session} ({log}) follows a session whose seal {} no log here and no index line has: that session was removed",
                short(previous_seal)
            ),
            ChainFault::Skipped { session, line, skipped, skipped_line } => write!(
                f,
                "session {session} (index line {line}) does not follow session {skipped} (index line {skipped_line}), which sealed before it started: the chain was rewritten between them"
            ),
            ChainFault::Reordered { session, line, names_line } => write!(
                f,
                "session {session} (index line {line}) follows the session at index line {names_line}, which the index records after it: the index was reordered"
            ),
            ChainFault::Log { log, problem } => write!(f, "{log}: {problem}"),
        }
    }
}

/// Two sessions that ran at once, both following the same earlier seal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concurrent {
    pub session: String,
    pub with: String,
}

/// The outcome of checking a folder of session logs.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// Whether the folder has an index; without one only the logs' own links are checked.
    pub indexed: bool,
    /// Records in the index.
    pub records: usize,
    pub logs: usize,
    /// SHA-256 of the index's last line: keep it elsewhere to find the tail cut off later.
    pub head: Option<String>,
    pub concurrent: Vec<Concurrent>,
    /// Logs a live session still writes.
    pub running: Vec<String>,
    /// Sealed logs of sessions that started before the index's first session: the machine kept
    /// no index then. Their links are still checked.
    pub before_index: Vec<String>,
    pub faults: Vec<ChainFault>,
}

impl ChainReport {
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }
}

/// Check `logs` against the `index` bytes (if there is an index), whose lines must be signed by
/// one of `trusted`.
pub fn check_chain(index: Option<&[u8]>, logs: &[LogFile], trusted: &[TrustedKey]) -> ChainReport {
    let mut report = ChainReport {
        indexed: index.is_some(),
        records: 0,
        logs: logs.len(),
        head: None,
        concurrent: Vec::new(),
        running: Vec::new(),
        before_index: Vec::new(),
        faults: Vec::new(),
    };
    let records = index.map(|bytes| read_index(bytes, trusted, &mut report)).unwrap_or_default();
    report.records = records.len();
    let explained = match_logs(&records, logs, &mut report);
    check_links(&records, logs, &mut report);
    for (i, log) in logs.iter().enumerate() {
        for fault in &log.report.faults {
            let tail = matches!(fault, Fault::Unsealed { after_final: false, .. } | Fault::IncompleteLine { .. });
            if !(tail && explained.contains(&i)) {
                report.faults.push(ChainFault::Log { log: shown(log), problem: fault.clone() });
            }
        }
    }
    report
}

fn shown(log: &LogFile) -> String {
    log.path.display().to_string()
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

/// The records of the index with their 1-based lines, each line checked for its place and signature.
fn read_index(bytes: &[u8], trusted: &[TrustedKey], report: &mut ChainReport) -> Vec<(usize, Record)> {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let tail = pieces.pop().unwrap_or_default();
    let mut fault = |line: usize, why: String| report.faults.push(ChainFault::Index { line, why });
    let mut records = Vec::new();
    let mut prev = GENESIS.to_string();
    let mut sessions: HashMap<String, usize> = HashMap::new();
    for (i, piece) in pieces.iter().enumerate() {
        let line = i + 1;
        match serde_json::from_slice::<Record>(piece) {
            Err(e) => fault(line, format!("unreadable ({e}): a record was cut off by a crash or changed")),
            Ok(record) => {
                if record.prev != prev {
                    fault(
                        line,
                        "it does not follow the line before it: a line was removed, changed or inserted".into(),
                    );
                } else if record.seq != i as u64 {
                    fault(line, format!("it says it is record {} but is line {line}", record.seq + 1));
                }
                if let Err(why) = record.signed_by(trusted) {
                    fault(line, why);
                }
                if let Some(first) = sessions.insert(record.session.clone(), line) {
                    fault(line, format!("session {} is indexed twice (lines {first} and {line})", record.session));
                }
                records.push((line, record));
            }
        }
        prev = hex(&sha256(piece));
    }
    if !tail.is_empty() {
        fault(pieces.len() + 1, "it is cut off mid-record: the index's writer crashed".into());
    }
    report.head = pieces.last().map(|l| hex(&sha256(l)));
    records
}

/// Each record's log: present, with the final seal recorded. Returns the logs whose unsealed
/// tail a chain fault (or a live session) already explains.
fn match_logs(records: &[(usize, Record)], logs: &[LogFile], report: &mut ChainReport) -> HashSet<usize> {
    let mut by_session: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, log) in logs.iter().enumerate() {
        if let Some(meta) = &log.report.session {
            by_session.entry(meta.id.as_str()).or_default().push(i);
        }
    }
    let mut matched = HashSet::new();
    let mut explained = HashSet::new();
    for (line, record) in records {
        let candidates = by_session.get(record.session.as_str()).map_or(&[][..], Vec::as_slice);
        let chosen = candidates.iter().copied().find(|&i| logs[i].path.display().to_string() == record.log);
        let Some(i) = chosen.or_else(|| candidates.first().copied()) else {
            let (session, log) = (record.session.clone(), record.log.clone());
            report.faults.push(ChainFault::Missing { session, log, line: *line });
            continue;
        };
        matched.insert(i);
        let log = &logs[i];
        let (session, path) = (record.session.clone(), shown(log));
        match &log.report.final_seal_digest {
            Some(digest) if *digest == record.seal => {}
            Some(_) => report.faults.push(ChainFault::Resealed { session, log: path, line: *line }),
            None => {
                explained.insert(i);
                report.faults.push(ChainFault::Truncated {
                    session,
                    log: path,
                    line: *line,
                    indexed_entries: record.entries,
                    sealed_entries: log.report.sealed_entries,
                });
            }
        }
    }
    for (i, log) in logs.iter().enumerate().filter(|(i, _)| !matched.contains(i)) {
        if log.running {
            explained.insert(i);
            report.running.push(shown(log));
        } else if log.report.final_seal_digest.is_none() {
            explained.insert(i);
            report.faults.push(ChainFault::Crashed { log: shown(log), sealed_entries: log.report.sealed_entries });
        } else if started_before(log, records.first().map(|(_, r)| r.start.as_str())) {
            report.before_index.push(shown(log));
        } else if report.indexed {
            let session = log.report.session.as_ref().map_or_else(|| "(unknown)".into(), |m| m.id.clone());
            report.faults.push(ChainFault::Unindexed { session, log: shown(log) });
        }
    }
    explained
}

/// Whether the session of `log` started before `first` (the index's first session).
fn started_before(log: &LogFile, first: Option<&str>) -> bool {
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
    let start = log.report.session.as_ref().and_then(|m| time(&m.start));
    matches!((start, first.and_then(time)), (Some(s), Some(f)) if s < f)
}

/// Every session follows the seal of the session that sealed last before it started, or of one
/// that sealed while it ran; a seal named that nothing here has belongs to a removed session.
fn check_links(records: &[(usize, Record)], logs: &[LogFile], report: &mut ChainReport) {
    let position: HashMap<&str, usize> = records.iter().enumerate().map(|(k, (_, r))| (r.seal.as_str(), k)).collect();
    let in_files: HashSet<&str> = logs.iter().filter_map(|l| l.report.final_seal_digest.as_deref()).collect();
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
    for (k, (line, record)) in records.iter().enumerate() {
        let named = record.previous_seal.as_deref().filter(|p| *p != GENESIS);
        let since = match named.map(|p| (p, position.get(p))) {
            Some((_, Some(&j))) if j >= k => {
                let names_line = records[j].0;
                report.faults.push(ChainFault::Reordered { session: record.session.clone(), line: *line, names_line });
                continue;
            }
            Some((_, Some(&j))) => j + 1,
            Some((p, None)) if !in_files.contains(p) => {
                report.faults.push(ChainFault::Dangling {
                    session: record.session.clone(),
                    log: record.log.clone(),
                    previous_seal: p.to_string(),
                });
                continue;
            }
            // The first session on this machine, or one that follows a session sealed before
            // the index existed.
            _ => 0,
        };
        for (skipped_line, other) in &records[since..k] {
            let before = matches!((time(&other.sealed), time(&record.start)), (Some(s), Some(t)) if s < t);
            if before {
                report.faults.push(ChainFault::Skipped {
                    session: record.session.clone(),
                    line: *line,
                    skipped: other.session.clone(),
                    skipped_line: *skipped_line,
                });
            } else {
                report.concurrent.push(Concurrent { session: record.session.clone(), with: other.session.clone() });
            }
        }
    }
    // Logs the index does not record (or all of them, without an index) by their own links.
    let indexed: HashSet<&str> = records.iter().map(|(_, r)| r.session.as_str()).collect();
    for log in logs {
        let Some(meta) = &log.report.session else { continue };
        let Some(p) = meta.previous_seal.as_deref().filter(|p| *p != GENESIS) else { continue };
        if !indexed.contains(meta.id.as_str()) && !position.contains_key(p) && !in_files.contains(p) {
            report.faults.push(ChainFault::Dangling {
                session: meta.id.clone(),
                log: shown(log),
                previous_seal: p.to_string(),
            });
        }
    }
}
