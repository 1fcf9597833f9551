//! The execution record of an audit (`--output-format json-audit`): what ran, step by step,
//! how long each step took, what it concluded, and the digest of the report it wrote, as an
//! in-toto Statement in a DSSE envelope signed by the session's signer, so that anyone holding
//! the signer's public key can check it without the session log.

use super::dsse::{Envelope, PAYLOAD_TYPE, STATEMENT_TYPE, decode_sig, pae};
use super::verify::carried_key;
use super::{Error, Signer, TrustedKey, to_canonical_vec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Predicate type of an audit's execution record.
pub const RECORD_PREDICATE: &str = "https://deployclaw.dev/attestation/audit-record/v1";

/// One step of an audit, as its script reported it (`evidence::step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub action: String,
    /// `ok`, `failed`, `skipped`, or the script's own word.
    pub result: String,
    pub details: Value,
    /// Since the previous step (or the session's start).
    pub duration_ms: u64,
    /// RFC 3339 UTC, when the step ended.
    pub at: String,
}

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportFile {
    /// Its name, in the record's folder.
    pub name: String,
    pub sha256: String,
}

/// What an audit did and concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The session's id: the session log holds the same execution.
    pub execution_id: String,
    pub audit: String,
    pub started_at: String,
    pub finished_at: String,
    pub total_duration_ms: u64,
    pub steps: Vec<Step>,
    /// `pass`, `findings` or `failed`, as the report has it.
    pub verdict: String,
    /// The report's first line: what the audit concluded.
    pub conclusion: String,
    /// Each finding's severity and title.
    pub findings: Vec<Value>,
    /// The report beside the record, when there is one.
    pub report: Option<ReportFile>,
    /// The session log that holds this execution.
    pub session_log: Option<String>,
}

/// What a session knows of its run, taken before its log is sealed.
pub struct Parts {
    pub execution_id: String,
    pub started_at: String,
    pub steps: Vec<Step>,
    pub findings: Vec<Value>,
    pub session_log: Option<String>,
    pub signer: std::sync::Arc<dyn Signer>,
}

impl Parts {
    /// The record of the run, finished now, with what the report concluded.
    pub fn record(&self, audit: &str, verdict: &str, conclusion: &str, report: Option<ReportFile>) -> Record {
        let finished = chrono::Utc::now();
        let total = chrono::DateTime::parse_from_rfc3339(&self.started_at)
            .map(|start| (finished - start.with_timezone(&chrono::Utc)).num_milliseconds())
            .ok()
            .and_then(|ms| u64::try_from(ms).ok())
            .unwrap_or(0);
        Record {
            execution_id: self.execution_id.clone(),
            audit: audit.to_string(),
            started_at: self.started_at.clone(),
            finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            total_duration_ms: total,
            steps: self.steps.clone(),
            verdict: verdict.to_string(),
            conclusion: super::redact(conclusion).into_owned(),
            findings: self.findings.clone(),
            report,
            session_log: self.session_log.clone(),
        }
    }
}

/// Sign `record` as an in-toto Statement whose subject is the report.
pub fn sign(record: &Record, signer: &dyn Signer) -> Result<Envelope, Error> {
    let subject: Vec<Value> =
        record.report.iter().map(|r| json!({"name": r.name, "digest": {"sha256": r.sha256}})).collect();
    let mut predicate = serde_json::to_value(record).expect("a record serializes");
    if let Some((location, key)) = signer.remote() {
        use base64::Engine as _;
        predicate["signer"] = json!({
            "key": location,
            "key_id": key.key_id(),
            "algorithm": key.algorithm(),
            "public_key": base64::engine::general_purpose::STANDARD.encode(key.der()),
        });
    }
    let statement =
        json!({"_type": STATEMENT_TYPE, "subject": subject, "predicateType": RECORD_PREDICATE, "predicate": predicate});
    Envelope::sign(&to_canonical_vec(&statement), signer)
}

/// What checking a record found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub record: Record,
    /// The key id that signed it.
    pub key_id: String,
    /// Whether that key is one of the verifier's trusted keys (else the record carried it).
    pub trusted: bool,
    /// Where a remote signer's key lives, when the record says.
    pub remote_key: Option<String>,
}

/// Check a record envelope against `trusted` keys, or the public key a remote signer put into
/// it (reported as not trusted). Every way it can be wrong is an error naming it.
pub fn check(envelope: &Envelope, trusted: &[TrustedKey]) -> Result<Checked, String> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(format!("unexpected payload type {:?}", envelope.payload_type));
    }
    let payload = envelope.payload_bytes()?;
    let statement: Value = serde_json::from_slice(&payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    if statement["predicateType"] != RECORD_PREDICATE {
        return Err(format!("not an audit record: predicate type {}", statement["predicateType"]));
    }
    let signed = pae(&envelope.payload_type, &payload);
    let carried = carried_key(&statement["predicate"]["signer"]);
    let sig = envelope.signatures.first().ok_or("the record is not signed")?;
    let bytes = decode_sig(&sig.sig).ok_or("the signature is not base64")?;
    let (trusted_now, remote_key) = match trusted.iter().find(|k| k.key_id() == sig.keyid) {
        Some(key) if key.verifies(&signed, &bytes) => (true, None),
        Some(_) => return Err(format!("the signature does not verify with trusted key {}", sig.keyid)),
        None => match carried.filter(|(_, k)| k.key_id() == sig.keyid) {
            Some((location, key)) if key.verifies(&signed, &bytes) => (false, Some(location)),
            Some(_) => {
                return Err(format!("the signature does not verify with the key the record carries ({})", sig.keyid));
            }
            None => {
                return Err(format!(
                    "signed by key {}, which is not among the keys trusted here: pass the signer's public key with --pubkey",
                    sig.keyid
                ));
            }
        },
    };
    let record: Record =
        serde_json::from_value(statement["predicate"].clone()).map_err(|e| format!("the record is malformed: {e}"))?;
    let subject = statement["subject"][0]["digest"]["sha256"].as_str();
    if subject != record.report.as_ref().map(|r| r.sha256.as_str()) {
        return Err("the statement's subject is not the report the record names".into());
    }
    Ok(Checked { record, key_id: sig.keyid.clone(), trusted: trusted_now, remote_key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::LocalKey;

    fn record() -> Record {
        Record {
            execution_id: "s1".into(),
            audit: "memory-leaks".into(),
            started_at: "2026-12-07T06:00:00Z".into(),
            finished_at: "2026-12-07T06:00:09Z".into(),
            total_duration_ms: 9000,
            steps: vec![Step {
                action: "snapshot".into(),
                result: "ok".into(),
                details: json!({"instances": 3}),
                duration_ms: 8000,
                at: "2026-12-07T06:00:08Z".into(),
            }],
            verdict: "findings".into(),
            conclusion: "Memory leak confirmed".into(),
            findings: vec![json!({"severity": "error", "title": "leak"})],
            report: Some(ReportFile { name: "report.json".into(), sha256: "ab".repeat(32) }),
            session_log: None,
        }
    }

    #[test]
    fn a_signed_record_verifies_and_any_change_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalKey::create(&dir.path().join("k")).unwrap();
        let envelope = sign(&record(), &key).unwrap();
        let checked = check(&envelope, &[key.trusted()]).unwrap();
        assert_eq!(checked.record, record());
        assert!(checked.trusted);

        let other = LocalKey::create(&dir.path().join("o")).unwrap();
        assert!(check(&envelope, &[other.trusted()]).unwrap_err().contains("not among the keys trusted here"));

        // The conclusion changed after signing.
        let mut statement = envelope.statement().unwrap();
        statement["predicate"]["conclusion"] = json!("nothing found");
        let mut forged = envelope.clone();
        use base64::Engine as _;
        forged.payload = base64::engine::general_purpose::STANDARD.encode(to_canonical_vec(&statement));
        assert!(check(&forged, &[key.trusted()]).unwrap_err().contains("does not verify"));
    }
}
