//! `deployclaw log verify|show`, `keys` and `keygen`.

use super::{error, exit};
use deployclaw::collect::aws::Aws;
use deployclaw::collect::kms;
use deployclaw::evidence::{self, Fault, LocalKey, Signer, TrustedKey};
use deployclaw::paths::Home;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub(super) fn read_log(file: &Path) -> Result<Vec<u8>, u8> {
    std::fs::read(file).map_err(|e| {
        error(format!("cannot read log {}: {e}", file.display()));
        exit::USAGE
    })
}

/// The keys a log is checked against: the `--pubkey` files, or else the local key and the remote
/// keys this machine signed with. `--kms` may add keys later, so having none yet is fine then.
pub(super) fn trusted_keys(pubkeys: &[PathBuf], kms: bool) -> Result<Vec<TrustedKey>, u8> {
    let usage = |message: String| {
        error(message);
        exit::USAGE
    };
    if !pubkeys.is_empty() {
        return pubkeys
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| usage(format!("cannot read public key {}: {e}", path.display())))?;
                TrustedKey::from_pem(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
            })
            .collect();
    }
    let home = Home::from_env();
    let local = home.keys_dir().join(LocalKey::FILE);
    let mut keys = TrustedKey::remembered(&home.trusted_keys_dir()).map_err(|e| usage(e.to_string()))?;
    if local.exists() {
        keys.push(LocalKey::load(&local).map(|k| k.trusted()).map_err(|e| usage(e.to_string()))?);
    }
    if keys.is_empty() && !kms {
        return Err(usage(format!(
            "no key to verify with: {} does not exist; pass the signer's public key with --pubkey, or --kms for a log signed with AWS KMS",
            local.display()
        )));
    }
    Ok(keys)
}

/// Ask AWS KMS about every KMS-signed seal. A key counts only when the verifier chose it: named
/// by `--kms-key` (`only`), trusted with `deployclaw keys trust --kms-key`, or one this machine
/// signed with. A seal KMS rejects is a fault; one KMS confirms for a key nobody chose is too.
fn confirm_with_kms(log: &[u8], only: Option<&str>, file: &Path) -> Result<(Vec<TrustedKey>, Vec<Fault>), u8> {
    let signatures = evidence::remote_signatures(log);
    if signatures.is_empty() {
        eprintln!("note: no seal of {} is signed by an AWS KMS key; --kms had nothing to confirm", file.display());
        return Ok((Vec::new(), Vec::new()));
    }
    let home = Home::from_env();
    let chosen: Vec<String> = match only {
        Some(key) => vec![key.to_string()],
        None => trusted_kms_keys(&home).map_err(|e| {
            error(e);
            exit::USAGE
        })?,
    };
    let pinned: BTreeSet<String> = pinned_key_ids(&home).into_iter().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime starts");
    let answers = runtime.block_on(async {
        let aws = Aws::load(&Default::default()).await?;
        let mut answers = Vec::with_capacity(signatures.len());
        for signature in &signatures {
            answers.push(kms::confirm(&aws, signature).await?);
        }
        Ok::<_, deployclaw::collect::aws::Error>(answers)
    });
    let answers = answers.map_err(|e| {
        error(format!("--kms: {e}"));
        exit::FAILED
    })?;
    let mut faults = Vec::new();
    let mut rejected = BTreeSet::new();
    for (signature, confirmed) in signatures.iter().zip(answers) {
        let named = chosen.iter().any(|k| names_key(k, &signature.key));
        let wanted = named || (only.is_none() && pinned.contains(signature.public_key.key_id()));
        if !confirmed || !wanted {
            rejected.insert(signature.public_key.key_id().to_string());
        }
        let key = format!("AWS KMS key {}", signature.key);
        if !confirmed {
            faults.push(Fault::RemoteRejected { line: signature.line, key });
        } else if !wanted {
            faults.push(Fault::RemoteUntrusted { line: signature.line, key });
        }
    }
    let mut keys: Vec<TrustedKey> = Vec::new();
    for signature in signatures {
        let id = signature.public_key.key_id();
        if !rejected.contains(id) && keys.iter().all(|k| k.key_id() != id) {
            eprintln!("AWS KMS confirms the seals signed by {} (key {})", signature.key, short(id));
            keys.push(signature.public_key);
        }
    }
    Ok((keys, faults))
}

/// Whether `chosen` (an ARN, a key id or an alias as the user gave it) names `key` (the ARN in the seal).
fn names_key(chosen: &str, key: &str) -> bool {
    !chosen.is_empty() && (chosen == key || key.ends_with(&format!("/{chosen}")))
}

/// The file of AWS KMS keys this verifier trusts, one per line.
fn kms_trust_file(home: &Home) -> PathBuf {
    home.trusted_keys_dir().join("kms-keys")
}

/// The ids of the public keys trusted here (`keys trust PEM`, and the KMS keys this machine signed with).
fn pinned_key_ids(home: &Home) -> Vec<String> {
    TrustedKey::remembered(&home.trusted_keys_dir())
        .unwrap_or_default()
        .iter()
        .map(|k| k.key_id().to_string())
        .collect()
}

fn save_trusted_kms_keys(home: &Home, keys: &[String]) -> Result<(), String> {
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    deployclaw::paths::write_atomically(&kms_trust_file(home), text.as_bytes())
}

fn trusted_kms_keys(home: &Home) -> Result<Vec<String>, String> {
    let path = kms_trust_file(home);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read the trusted keys in {}: {e}", path.display())),
    }
}

/// Verify a log this machine just sealed, against the keys it trusts, for a report.
pub fn verify_sealed(path: &Path, entries: usize) -> deployclaw::report::model::SessionLog {
    let shown = path.display().to_string();
    let failed = |message: String| deployclaw::report::model::SessionLog {
        path: shown.clone(),
        entries,
        verified: false,
        message,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return failed(format!("cannot read it: {e}")),
    };
    let home = Home::from_env();
    let mut keys = TrustedKey::remembered(&home.trusted_keys_dir()).unwrap_or_default();
    let local = home.keys_dir().join(LocalKey::FILE);
    if let Ok(key) = LocalKey::load(&local) {
        keys.push(key.trusted());
    }
    let report = evidence::verify_log(&bytes, &keys);
    if !report.is_ok() {
        let faults: Vec<String> = report.faults.iter().map(|f| f.to_string()).collect();
        return failed(faults.join("; "));
    }
    let signers: Vec<&str> = report.signed_by.iter().map(|k| short(k)).collect();
    deployclaw::report::model::SessionLog {
        path: shown,
        entries: report.entries,
        verified: true,
        message: format!("{} seal(s), final seal present, signed by {}", report.valid_seals, signers.join(", ")),
    }
}

/// One log checked against `keys`, with `--kms` asking AWS KMS about its KMS-signed seals; the
/// keys KMS confirms join `keys` (they sign the chain index too).
pub(super) fn check_log(
    bytes: &[u8],
    file: &Path,
    keys: &mut Vec<TrustedKey>,
    kms: bool,
    only_kms_key: Option<&str>,
) -> Result<evidence::VerifyReport, u8> {
    let mut rejected = Vec::new();
    if kms {
        let (confirmed, faults) = confirm_with_kms(bytes, only_kms_key, file)?;
        for key in confirmed {
            if keys.iter().all(|k| k.key_id() != key.key_id()) {
                keys.push(key);
            }
        }
        rejected = faults;
    }
    let mut report = evidence::verify_log(bytes, keys);
    // A seal of a key --kms asked about is described by that answer, not again as an unknown key.
    let answered: BTreeSet<usize> = rejected
        .iter()
        .filter_map(|f| match f {
            Fault::RemoteRejected { line, .. } | Fault::RemoteUntrusted { line, .. } => Some(*line),
            _ => None,
        })
        .collect();
    report.faults.retain(|f| !matches!(f, Fault::UnknownKey { line, .. } if answered.contains(line)));
    report.add_faults(rejected);
    Ok(report)
}

/// `deployclaw log verify FILE [--pubkey PEM]... [--kms] [--json]`.
pub fn verify(file: &Path, pubkeys: &[PathBuf], kms: bool, only_kms_key: Option<&str>, json: bool) -> u8 {
    let (bytes, mut keys) = match (read_log(file), trusted_keys(pubkeys, kms)) {
        (Ok(b), Ok(k)) => (b, k),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let report = match check_log(&bytes, file, &mut keys, kms, only_kms_key) {
        Ok(report) => report,
        Err(code) => return code,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else if report.is_ok() {
        let who = report
            .session
            .as_ref()
            .map(|s| format!("; session {} ({}) by {}@{}", s.id, s.mode, s.user, s.host))
            .unwrap_or_default();
        let signers: Vec<&str> = report.signed_by.iter().map(|k| short(k)).collect();
        println!(
            "ok: {}: {} entries, {} seals, final seal present, signed by {}{who}",
            file.display(),
            report.entries,
            report.valid_seals,
            signers.join(", ")
        );
    } else {
        println!("FAILED: {}: {} fault(s)", file.display(), report.faults.len());
        for fault in &report.faults {
            println!("  - {fault}");
        }
    }
    if report.is_ok() { exit::OK } else { exit::FAILED }
}

/// The first 16 characters of a key id (it comes from the log, so it may be any text).
fn short(key_id: &str) -> &str {
    key_id.char_indices().nth(16).map_or(key_id, |(end, _)| &key_id[..end])
}

/// `deployclaw log show FILE [--json]`.
pub fn show(file: &Path, json: bool) -> u8 {
    let bytes = match read_log(file) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out = std::io::stdout().lock();
    for (i, line) in text.lines().enumerate() {
        let shown = if json {
            line.to_string()
        } else {
            match serde_json::from_str::<Value>(line) {
                Ok(entry) => describe(&entry),
                Err(e) => format!("line {}: unreadable entry ({e})", i + 1),
            }
        };
        // A reader that stops early (`| head`) ends the listing, not the program with a panic.
        // What the log holds is data: escape sequences in it are shown, not obeyed.
        if writeln!(out, "{}", super::printable(&shown)).is_err() {
            break;
        }
    }
    exit::OK
}

fn describe(entry: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let seq = entry["seq"].as_u64().map_or("?".into(), |n| n.to_string());
    let time = s(&entry["time"]);
    let kind = s(&entry["kind"]);
    let body = match kind.as_str() {
        "start" => {
            let m = &entry["session"];
            let script = m["script"].as_str().map(|p| format!(" script {p}")).unwrap_or_default();
            let mode = if m["dry_run"].as_bool() == Some(false) { "execute" } else { "dry run" };
            format!("session {} {} by {}@{}{script} ({mode})", s(&m["id"]), s(&m["mode"]), s(&m["user"]), s(&m["host"]))
        }
        "statement" => {
            let o = &entry["outcome"];
            let result = match o["status"].as_str() {
                Some("ok") => {
                    let shape = o["shape"]
                        .as_array()
                        .map(|d| format!(" [{}]", d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" × ")));
                    format!("ok {}{}", s(&o["type"]), shape.unwrap_or_default())
                }
                Some("error") => format!("error: {}", s(&o["error"])),
                other => other.unwrap_or("?").to_string(),
            };
            let us = entry["duration_us"].as_u64().unwrap_or(0);
            format!("{}  -> {result} ({})", s(&entry["source"]).replace('\n', " "), human_duration(us))
        }
        "note" => s(&entry["text"]),
        "finding" => format!("[{}] {} {}", s(&entry["severity"]), s(&entry["title"]), entry["details"]),
        "seal" => {
            let envelope: Option<evidence::Envelope> = serde_json::from_value(entry["envelope"].clone()).ok();
            let statement = envelope.as_ref().and_then(|e| e.statement().ok()).unwrap_or(Value::Null);
            let p = &statement["predicate"];
            let which = if p["final"].as_bool() == Some(true) { "final" } else { "checkpoint" };
            let key = envelope.and_then(|e| e.signatures.first().map(|s| s.keyid.clone())).unwrap_or_default();
            format!("{which} seal over {} entries, key {}", p["entries"], short(&key))
        }
        _ => entry.to_string(),
    };
    format!("#{seq:<5} {time:<27} {kind:<9} {body}")
}

fn human_duration(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// `deployclaw keygen [--force]`.
pub fn keygen(force: bool) -> u8 {
    let dir = Home::from_env().keys_dir();
    let path = dir.join(LocalKey::FILE);
    if force && path.exists() {
        let old = LocalKey::load(&path).map(|k| k.key_id().to_string()).unwrap_or_else(|_| "unreadable".into());
        let kept = dir.join(format!("ed25519.{}.pem.old", short(&old)));
        if let Err(e) = std::fs::rename(&path, &kept) {
            error(format!("cannot move the old key aside to {}: {e}", kept.display()));
            return exit::FAILED;
        }
        eprintln!("moved the old key to {}", kept.display());
    }
    match LocalKey::load_or_create(&dir) {
        Ok((key, created)) => {
            let verb = if created { "created" } else { "using existing" };
            eprintln!("{verb} key {} ({})", key.path().display(), key.key_id());
            print!("{}", key.trusted().to_pem());
            exit::OK
        }
        Err(e) => {
            error(e);
            exit::FAILED
        }
    }
}

/// `deployclaw keys list`: the keys `log verify` trusts here.
pub fn keys_list(json: bool) -> u8 {
    let home = Home::from_env();
    let local = home.keys_dir().join(LocalKey::FILE);
    let local_id = LocalKey::load(&local).ok().map(|k| k.key_id().to_string());
    let pinned = pinned_key_ids(&home);
    let kms = match trusted_kms_keys(&home) {
        Ok(k) => k,
        Err(e) => {
            error(e);
            return exit::FAILED;
        }
    };
    if json {
        let v = serde_json::json!({"local": local_id, "public_keys": pinned, "kms_keys": kms});
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON serializes"));
        return exit::OK;
    }
    match local_id {
        Some(id) => println!("local key   {id} ({})", local.display()),
        None => println!("local key   none yet ({} is made by the first session)", local.display()),
    }
    for id in &pinned {
        println!("public key  {id}");
    }
    for key in &kms {
        println!("AWS KMS key {key}");
    }
    exit::OK
}

/// `deployclaw keys trust (PEM | --kms-key KEY)`.
pub fn keys_trust(pem: Option<&Path>, kms_key: Option<&str>) -> u8 {
    let home = Home::from_env();
    let dir = home.trusted_keys_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        error(format!("cannot create {}: {e}", dir.display()));
        return exit::FAILED;
    }
    match (pem, kms_key) {
        (Some(path), None) => {
            let key = match std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| TrustedKey::from_pem(&t).map_err(|e| e.to_string()))
            {
                Ok(k) => k,
                Err(e) => {
                    error(format!("{}: {e}", path.display()));
                    return exit::USAGE;
                }
            };
            if let Err(e) = key.remember(&dir) {
                error(e.to_string());
                return exit::FAILED;
            }
            println!("trusted public key {}", key.key_id());
            exit::OK
        }
        (None, Some(key)) => {
            let mut keys = match trusted_kms_keys(&home) {
                Ok(k) => k,
                Err(e) => {
                    error(e);
                    return exit::FAILED;
                }
            };
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
            if let Err(e) = save_trusted_kms_keys(&home, &keys) {
                error(e);
                return exit::FAILED;
            }
            println!("trusted AWS KMS key {key}");
            exit::OK
        }
        _ => {
            error("give a public key file (PEM) or --kms-key KEY, one of the two".to_string());
            exit::USAGE
        }
    }
}

/// `deployclaw keys revoke KEY`: a public key id (or its first characters) or an AWS KMS key.
pub fn keys_revoke(key: &str) -> u8 {
    let home = Home::from_env();
    let mut removed = 0;
    if let Ok(mut kms) = trusted_kms_keys(&home) {
        let before = kms.len();
        kms.retain(|k| k != key);
        if kms.len() != before {
            if let Err(e) = save_trusted_kms_keys(&home, &kms) {
                error(e);
                return exit::FAILED;
            }
            removed += before - kms.len();
        }
    }
    match TrustedKey::forget(&home.trusted_keys_dir(), key) {
        Ok(n) => removed += n,
        Err(e) => {
            error(e.to_string());
            return exit::FAILED;
        }
    }
    if removed == 0 {
        error(format!("{key} is not a trusted key here (`deployclaw keys list` shows them)"));
        return exit::USAGE;
    }
    println!("revoked {key}");
    exit::OK
}
