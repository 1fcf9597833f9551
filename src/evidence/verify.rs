//! Checks a session log's chain, seals and signatures, and names precisely what is wrong.

use super::dsse::{Envelope, PAYLOAD_TYPE, decode_sig, pae};
use super::{SessionMeta, TrustedKey, hex, parse_digest, sha256};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

const KINDS: &[&str] = &["start", "statement", "note", "finding", "seal"];

/// One thing wrong with a log. Lines are 1-based; entries are named by their sequence number.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// The file holds no entries.
    Empty,
    /// The entry at `line` was altered after it was written.
    Changed { line: usize, seq: Option<u64>, why: String },
    /// Entries `first..=last` are missing before `line`.
    Removed { first: u64, last: u64, line: usize },
    /// The entries at `line` and `line + 1` were swapped.
    Swapped { line: usize, first: u64, second: u64 },
    /// The entry at `line` does not follow the entry before it but the one at `follows`.
    OutOfOrder { line: usize, follows: usize },
    /// A seal signed by a key that is not trusted. `signer` names where the key lives when the
    /// seal says (e.g. an AWS KMS key ARN); its signature then checked out with the public key
    /// the seal carries.
    UnknownKey { line: usize, seq: u64, key_id: String, signer: Option<String> },
    /// The holder of a remote key (AWS KMS) says the seal at `line` was not signed by `key`.
    RemoteRejected { line: usize, key: String },
    /// The seal at `line` is signed by a remote key its holder confirms, but which the verifier
    /// was not given: a key anyone could create in their own account.
    RemoteUntrusted { line: usize, key: String },
    /// The last line is cut off mid-entry.
    IncompleteLine { line: usize },
    /// Entries after the last valid seal, or no final seal at all.
    Unsealed { first_line: usize, last_line: usize, last_seal: Option<u64>, after_final: bool },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Empty => write!(f, "the log holds no entries"),
            Fault::Changed { line, seq: Some(seq), why } => write!(f, "entry {seq} (line {line}) was changed: {why}"),
            Fault::Changed { line, seq: None, why } => write!(f, "line {line} was changed: {why}"),
            Fault::Removed { first, last, line } if first == last => {
                write!(f, "entry {first} was removed (it belongs before line {line})")
            }
            Fault::Removed { first, last, line } => {
                write!(f, "entries {first} to {last} were removed (they belong before line {line})")
            }
            Fault::Swapped { line, first, second } => write!(
                f,
                "entries {second} and {first} are swapped: entry {first} is at line {line} and entry {second} at line {}",
                line + 1
            ),
            Fault::OutOfOrder { line, follows } => {
                write!(f, "the entry at line {line} is out of order: it follows the entry at line {follows}")
            }
            Fault::UnknownKey { line, seq, key_id, signer: None } => write!(
                f,
                "the seal at entry {seq} (line {line}) is signed by key {key_id}, which is not trusted (pass its public key with --pubkey if it should be)"
            ),
            Fault::UnknownKey { line, seq, key_id, signer: Some(signer) } => write!(
                f,
                "the seal at entry {seq} (line {line}) is signed by key {key_id} ({signer}); the signature matches the public key the seal carries, but that key is not trusted here (pass --kms --kms-key KEY to confirm it with AWS KMS, or its public key with --pubkey)"
            ),
            Fault::RemoteRejected { line, key } => {
                write!(f, "the seal at line {line}: {key} does not confirm its signature")
            }
            Fault::RemoteUntrusted { line, key } => write!(
                f,
                "the seal at line {line} is signed by {key}, which confirms it, but this verifier does not trust that key (any account can make a key): pass --kms-key with the key you expect, or trust it once with `deployclaw keys trust --kms-key KEY`"
            ),
            Fault::IncompleteLine { line } => {
                write!(f, "line {line} is cut off mid-entry: the log was truncated or its writer crashed")
            }
            Fault::Unsealed { first_line, last_line, after_final: true, .. } => {
                write!(f, "lines {first_line} to {last_line} were appended after the final seal")
            }
            Fault::Unsealed { first_line, last_line, last_seal, .. } => {
                let span = if first_line == last_line {
                    format!("line {first_line} is")
                } else {
                    format!("lines {first_line} to {last_line} are")
                };
                match last_seal {
                    Some(seq) => write!(
                        f,
                        "the log has no final seal: {span} not covered by any seal (last checkpoint: entry {seq}); the log was truncated or the session did not end cleanly"
                    ),
                    None => write!(
                        f,
                        "the log has no seal at all: {span} unsealed; the log was truncated or the session did not end cleanly"
                    ),
                }
            }
        }
    }
}

/// The outcome of verifying one log.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Lines read as entries.
    pub entries: usize,
    /// Seals whose signature and contents check out.
    pub valid_seals: usize,
    /// Whether the log ends with a valid final seal.
    pub final_seal: bool,
    /// SHA-256 of the final seal's line, as the next session and the machine's chain name it.
    pub final_seal_digest: Option<String>,
    /// Entries before the last valid seal (final or checkpoint): what the log vouches for.
    pub sealed_entries: Option<u64>,
    /// The session described by the first entry, if readable.
    pub session: Option<SessionMeta>,
    /// Keys that signed the valid seals.
    pub signed_by: BTreeSet<String>,
    pub faults: Vec<Fault>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }

    /// Add faults found outside [`verify_log`] (e.g. by a remote key's holder), in line order.
    pub fn add_faults(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.extend(faults);
        self.faults.sort_by_key(|f| fault_line(f).unwrap_or(usize::MAX));
    }
}

#[derive(Deserialize)]
struct Head<'a> {
    seq: u64,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

struct Line<'a> {
    bytes: &'a [u8],
    hash: [u8; 32],
    head: Result<Head<'a>, String>,
    prev: Option<[u8; 32]>,
}

impl Line<'_> {
    fn seq(&self) -> Option<u64> {
        self.head.as_ref().ok().map(|h| h.seq)
    }
    fn kind(&self) -> Option<&str> {
        self.head.as_ref().ok().map(|h| h.kind.as_ref())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    Ok,
    /// `prev` names another line of the file.
    To(usize),
    /// `prev` names no line of the file.
    Dangling,
    /// The line itself is unreadable.
    Unknown,
}

struct SealCheck {
    is_final: bool,
    /// Where the signing key lives, when the seal says.
    signer: Option<String>,
    /// The log digest the seal signed.
    subject: Option<String>,
    chain_head: Option<[u8; 32]>,
    key_id: Option<String>,
    trusted: bool,
    problem: Option<String>,
}

/// Verify `log` (the file's bytes) against the `trusted` keys.
pub fn verify_log(log: &[u8], trusted: &[TrustedKey]) -> VerifyReport {
    let mut report = VerifyReport {
        entries: 0,
        valid_seals: 0,
        final_seal: false,
        final_seal_digest: None,
        sealed_entries: None,
        session: None,
        signed_by: BTreeSet::new(),
        faults: Vec::new(),
    };
    let mut pieces: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    let tail = pieces.pop().unwrap_or_default();
    let lines: Vec<Line> = pieces.into_iter().map(read_line).collect();
    if !tail.is_empty() {
        report.faults.push(Fault::IncompleteLine { line: lines.len() + 1 });
    }
    if lines.is_empty() {
        if tail.is_empty() {
            report.faults.push(Fault::Empty);
        }
        return report;
    }
    report.entries = lines.len();
    report.session = lines[0]
        .head
        .as_ref()
        .ok()
        .filter(|h| h.kind == "start")
        .and_then(|_| serde_json::from_slice::<Value>(lines[0].bytes).ok())
        .and_then(|v| serde_json::from_value(v.get("session")?.clone()).ok());

    let mut changed: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        match &line.head {
            Err(reason) => changed.entry(i).or_default().push(reason.clone()),
            Ok(head) if !KINDS.contains(&head.kind.as_ref()) => {
                changed.entry(i).or_default().push(format!("unknown entry kind {:?}", head.kind))
            }
            Ok(head) if line.prev.is_none() => {
                changed.entry(i).or_default().push(format!("its prev {:?} is not a SHA-256 digest", head.prev))
            }
            Ok(_) => {}
        }
    }

    let seals: HashMap<usize, SealCheck> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind() == Some("seal"))
        .map(|(i, l)| (i, check_seal(l, trusted)))
        .collect();

    let links = link_lines(&lines);
    diagnose_links(&lines, &links, &seals, &mut changed, &mut report.faults);

    // Seals: signatures, and that what they signed matches what precedes them.
    let mut digest = sha2::Sha256::new();
    let mut last_valid_seal: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(seal) = seals.get(&i) {
            let head = line.head.as_ref().expect("seals are parsed lines");
            let mut problems: Vec<String> = seal.problem.iter().cloned().collect();
            if let (Some(signed_head), Some(prev)) = (seal.chain_head, line.prev)
                && signed_head != prev
            {
                problems.push("its prev differs from the chain head it signed".into());
            }
            let prior_faults = changed.keys().any(|&c| c < i)
                || report.faults.iter().any(|f| fault_line(f).is_some_and(|l| l <= i + 1));
            if problems.is_empty()
                && !prior_faults
                && seal.subject.as_deref() != Some(hex(&digest.clone().finalize()).as_str())
            {
                problems.push("the bytes before it differ from the log digest it signed".into());
            }
            if !seal.trusted && problems.is_empty() {
                report.faults.push(Fault::UnknownKey {
                    line: i + 1,
                    seq: head.seq,
                    key_id: seal.key_id.clone().unwrap_or_else(|| "(none)".into()),
                    signer: seal.signer.clone(),
                });
            } else if problems.is_empty() && !changed.contains_key(&i) {
                report.valid_seals += 1;
                report.signed_by.extend(seal.key_id.clone());
                last_valid_seal = Some(i);
            }
            if !problems.is_empty() {
                changed.entry(i).or_default().extend(problems);
            }
        }
        digest.update(line.bytes);
        digest.update(b"\n");
    }

    let tail_is_bad_seal = lines.last().and_then(Line::kind) == Some("seal")
        && (changed.contains_key(&(lines.len() - 1))
            || report.faults.iter().any(|f| matches!(f, Fault::UnknownKey { line, .. } if *line == lines.len())));
    for (i, whys) in changed {
        // An unreadable entry is named after its predecessor.
        let seq = lines[i].seq().or_else(|| i.checked_sub(1).and_then(|p| lines[p].seq()).map(|s| s + 1));
        report.faults.push(Fault::Changed { line: i + 1, seq, why: whys.join("; ") });
    }

    let last = lines.len() - 1;
    report.sealed_entries = last_valid_seal.and_then(|i| lines[i].seq());
    match last_valid_seal {
        // A final seal that is itself tampered with or untrusted is reported above.
        _ if tail_is_bad_seal => {}
        Some(i) if i == last && seals[&i].is_final => {
            report.final_seal = true;
            report.final_seal_digest = Some(hex(&lines[i].hash));
        }
        Some(i) if seals[&i].is_final => report.faults.push(Fault::Unsealed {
            first_line: i + 2,
            last_line: last + 1,
            last_seal: lines[i].seq(),
            after_final: true,
        }),
        Some(i) if i == last => report.faults.push(Fault::Unsealed {
            first_line: last + 1,
            last_line: last + 1,
            last_seal: lines[i].seq(),
            after_final: false,
        }),
        found => report.faults.push(Fault::Unsealed {
            first_line: found.map_or(1, |i| i + 2),
            last_line: last + 1,
            last_seal: found.and_then(|i| lines[i].seq()),
            after_final: false,
        }),
    }
    report.faults.sort_by_key(|f| fault_line(f).unwrap_or(usize::MAX));
    report
}

pub(crate) fn fault_line(fault: &Fault) -> Option<usize> {
    match fault {
        Fault::Empty => None,
        Fault::Changed { line, .. }
        | Fault::Removed { line, .. }
        | Fault::Swapped { line, .. }
        | Fault::OutOfOrder { line, .. }
        | Fault::UnknownKey { line, .. }
        | Fault::RemoteRejected { line, .. }
        | Fault::RemoteUntrusted { line, .. }
        | Fault::IncompleteLine { line } => Some(*line),
        Fault::Unsealed { first_line, .. } => Some(*first_line),
    }
}

fn read_line(bytes: &[u8]) -> Line<'_> {
    let hash = sha256(bytes);
    let head = serde_json::from_slice::<Head>(bytes).map_err(|e| format!("it is not a readable entry ({e})"));
    let prev = head.as_ref().ok().and_then(|h| parse_digest(&h.prev));
    Line { bytes, hash, head, prev }
}

fn link_lines(lines: &[Line]) -> Vec<Link> {
    // Most links point at the line before; the map of every line's hash is only built when one
    // does not.
    let mut by_hash: Option<HashMap<[u8; 32], usize>> = None;
    let mut find = |hash: &[u8; 32]| {
        by_hash.get_or_insert_with(|| lines.iter().enumerate().map(|(i, l)| (l.hash, i)).collect()).get(hash).copied()
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| match (&line.head, line.prev) {
            (Err(_), _) | (_, None) => Link::Unknown,
            (Ok(_), Some(prev)) if i == 0 && prev == [0; 32] => Link::Ok,
            (Ok(_), Some(prev)) if i > 0 && prev == lines[i - 1].hash => Link::Ok,
            (Ok(_), Some(prev)) => match find(&prev) {
                Some(j) if i > 0 && j == i - 1 => Link::Ok,
                Some(j) => Link::To(j),
                None => Link::Dangling,
            },
        })
        .collect()
}

/// Turn broken links into named faults: a changed entry breaks the link after it, a changed
/// `prev` breaks the links on both sides, a removal leaves a gap in the sequence numbers, and a
/// swap makes two neighbours point at each other's predecessors.
fn diagnose_links(
    lines: &[Line],
    links: &[Link],
    seals: &HashMap<usize, SealCheck>,
    changed: &mut BTreeMap<usize, Vec<String>>,
    faults: &mut Vec<Fault>,
) {
    let seq = |i: usize| lines[i].seq();
    let mut i = 0;
    while i < lines.len() {
        match links[i] {
            Link::Ok | Link::Unknown => {}
            Link::To(j) if j == i + 1 && i + 1 < lines.len() && swapped_back(links, i) => {
                faults.push(Fault::Swapped {
                    line: i + 1,
                    first: seq(i).unwrap_or(0),
                    second: seq(i + 1).unwrap_or(0),
                });
                // The links into both swapped lines and out of the pair are explained.
                i += 3;
                continue;
            }
            Link::To(j) => faults.push(Fault::OutOfOrder { line: i + 1, follows: j + 1 }),
            Link::Dangling => {
                let gap = match (i.checked_sub(1).and_then(seq), seq(i)) {
                    (Some(before), Some(here)) if here > before + 1 => Some((before, here)),
                    (None, Some(here)) if i == 0 && here > 0 => Some((0, here)),
                    _ => None,
                };
                let before_consistent = i < 2 || matches!((seq(i - 2), seq(i - 1)), (Some(a), Some(b)) if b == a + 1);
                if let (Some((before, here)), true) = (gap, before_consistent) {
                    let first = if i == 0 { 0 } else { before + 1 };
                    faults.push(Fault::Removed { first, last: here - 1, line: i + 1 });
                } else if i + 1 < lines.len() && links[i + 1] == Link::Dangling {
                    changed.entry(i).or_default().push("its link to the previous entry was altered".into());
                    i += 2;
                    continue;
                } else if i > 0 && seals.get(&i).and_then(|s| s.chain_head) == Some(lines[i - 1].hash) {
                    changed.entry(i).or_default().push("its link to the previous entry was altered".into());
                } else if i > 0 {
                    changed.entry(i - 1).or_default().push("its hash no longer matches the next entry's link".into());
                }
            }
        }
        i += 1;
    }
}

fn swapped_back(links: &[Link], i: usize) -> bool {
    match links[i + 1] {
        Link::To(k) => i > 0 && k == i - 1,
        Link::Ok => i == 0,
        _ => false,
    }
}

fn check_seal(line: &Line, trusted: &[TrustedKey]) -> SealCheck {
    #[derive(Deserialize)]
    struct SealLine {
        envelope: Envelope,
    }
    let mut check = SealCheck {
        is_final: false,
        signer: None,
        subject: None,
        chain_head: None,
        key_id: None,
        trusted: false,
        problem: None,
    };
    let envelope = serde_json::from_slice::<SealLine>(line.bytes).ok().map(|l| l.envelope);
    let Some(envelope) = envelope else {
        check.problem = Some("its envelope is unreadable".into());
        return check;
    };
    let Ok(payload) = envelope.payload_bytes() else {
        check.problem = Some("its payload is not base64".into());
        return check;
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        check.problem = Some(format!("unexpected payload type {:?}", envelope.payload_type));
        return check;
    }
    let Ok(statement) = serde_json::from_slice::<Value>(&payload) else {
        check.problem = Some("its payload is not JSON".into());
        return check;
    };
    let predicate = &statement["predicate"];
    let carried = carried_key(&predicate["signer"]);
    let signed = pae(&envelope.payload_type, &payload);
    for sig in &envelope.signatures {
        check.key_id = Some(sig.keyid.clone());
        let valid = |key: &TrustedKey| decode_sig(&sig.sig).is_some_and(|bytes| key.verifies(&signed, &bytes));
        if let Some(key) = trusted.iter().find(|k| k.key_id() == sig.keyid) {
            if valid(key) {
                check.trusted = true;
                break;
            }
            check.problem = Some(format!("its signature does not verify with trusted key {}", sig.keyid));
            return check;
        }
        if let Some((location, key)) = carried.as_ref().filter(|(_, k)| k.key_id() == sig.keyid) {
            if !valid(key) {
                check.problem =
                    Some(format!("its signature does not verify with the public key it carries ({})", sig.keyid));
                return check;
            }
            check.signer = Some(location.clone());
        }
    }
    check.subject = statement["subject"][0]["digest"]["sha256"].as_str().map(str::to_string);
    check.is_final = predicate["final"].as_bool().unwrap_or(false);
    check.chain_head = predicate["chain_head"].as_str().and_then(parse_digest);
    let head = line.head.as_ref().expect("seal lines are parsed");
    if predicate["entries"].as_u64() != Some(head.seq) {
        check.problem = Some(format!("it signed {} entries but sits at entry {}", predicate["entries"], head.seq));
    }
    check
}

/// The public key a remote signer put into a seal (or an audit record), with where its private key lives.
pub(crate) fn carried_key(signer: &Value) -> Option<(String, TrustedKey)> {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(signer["public_key"].as_str()?).ok()?;
    let key = TrustedKey::from_der(&der).ok()?;
    Some((signer["key"].as_str().unwrap_or("a remote key").to_string(), key))
}

/// A signature of a remote signer, as `log verify --kms` asks the key's holder to confirm it.
#[derive(Debug, Clone)]
pub struct RemoteSignature {
    /// 1-based line of the seal.
    pub line: usize,
    /// Where the key lives (e.g. an AWS KMS key ARN).
    pub key: String,
    /// The public key the seal carries.
    pub public_key: TrustedKey,
    /// SHA-256 of the DSSE pre-authentication encoding: the message the remote key signed.
    pub message: [u8; 32],
    pub signature: Vec<u8>,
}

/// Every signature in `log` made by a remote signer (readable seals only; the full check is
/// [`verify_log`]).
pub fn remote_signatures(log: &[u8]) -> Vec<RemoteSignature> {
    #[derive(Deserialize)]
    struct SealLine {
        kind: String,
        envelope: Option<Envelope>,
    }
    let mut found = Vec::new();
    for (i, bytes) in log.split(|&b| b == b'\n').enumerate() {
        let Ok(SealLine { kind, envelope: Some(envelope) }) = serde_json::from_slice::<SealLine>(bytes) else {
            continue;
        };
        let Some(payload) = (kind == "seal").then(|| envelope.payload_bytes().ok()).flatten() else { continue };
        let Ok(statement) = serde_json::from_slice::<Value>(&payload) else { continue };
        let Some((key, public_key)) = carried_key(&statement["predicate"]["signer"]) else { continue };
        for sig in envelope.signatures.iter().filter(|s| s.keyid == public_key.key_id()) {
            let Some(signature) = decode_sig(&sig.sig) else { continue };
            found.push(RemoteSignature {
                line: i + 1,
                key: key.clone(),
                public_key: public_key.clone(),
                message: sha256(&pae(&envelope.payload_type, &payload)),
                signature,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::signer::p256_key;
    use crate::evidence::{CheckpointPolicy, Recorder, Signer};
    use std::sync::Arc;

    /// Signs as the AWS KMS signer does, with the key in memory.
    struct RemoteP256(p256::ecdsa::SigningKey, TrustedKey);

    impl Signer for RemoteP256 {
        fn key_id(&self) -> &str {
            self.1.key_id()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::evidence::Error> {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = self.0.sign(&sha256(message));
            Ok(sig.to_der().as_bytes().to_vec())
        }
        fn remote(&self) -> Option<(&str, &TrustedKey)> {
            Some(("arn:aws:kms:eu-west-1:111122223333:key/test", &self.1))
        }
    }

    fn remote_log() -> (Vec<u8>, TrustedKey) {
        let dir = tempfile::tempdir().unwrap();
        let (signing, public) = p256_key(3);
        let path = dir.path().join("log.jsonl");
        let meta = SessionMeta {
            id: "s".into(),
            tool: "t".into(),
            user: "u".into(),
            host: "h".into(),
            mode: "run".into(),
            script: None,
            script_sha256: None,
            dry_run: true,
            start: "2026-11-22T00:00:00Z".into(),
            previous_seal: None,
        };
        let signer = Arc::new(RemoteP256(signing, public.clone()));
        let mut recorder = Recorder::create(&path, meta, signer, CheckpointPolicy::default()).unwrap();
        recorder.note("one").unwrap();
        recorder.close().unwrap();
        (std::fs::read(&path).unwrap(), public)
    }

    #[test]
    fn a_remote_seal_checks_with_the_key_it_carries_but_needs_trust() {
        let (log, public) = remote_log();
        let report = verify_log(&log, &[]);
        assert!(
            matches!(&report.faults[..], [Fault::UnknownKey { signer: Some(s), .. }] if s.ends_with("key/test")),
            "{:?}",
            report.faults
        );
        let report = verify_log(&log, std::slice::from_ref(&public));
        assert!(report.is_ok(), "{:?}", report.faults);
        assert!(report.signed_by.contains(public.key_id()));

        let remote = remote_signatures(&log);
        assert_eq!(remote.len(), 1);
        assert_eq!(remote[0].line, 3);
        let seal: Value = serde_json::from_slice(log.split(|&b| b == b'\n').nth(2).unwrap()).unwrap();
        let envelope: Envelope = serde_json::from_value(seal["envelope"].clone()).unwrap();
        let signed = pae(&envelope.payload_type, &envelope.payload_bytes().unwrap());
        assert_eq!(remote[0].message, sha256(&signed));
        assert!(public.verifies(&signed, &remote[0].signature));
    }
}
