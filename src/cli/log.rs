//! `deployclaw log verify|show` and `deployclaw keygen`.

use super::{error, exit};
use deployclaw::evidence::{self, LocalKey, Signer, TrustedKey};
use deployclaw::paths::Home;
use serde_json::Value;
use std::path::Path;

fn read_log(file: &Path) -> Result<Vec<u8>, u8> {
    std::fs::read(file).map_err(|e| {
        error(format!("cannot read log {}: {e}", file.display()));
        exit::USAGE
    })
}

fn trusted_key(pubkey: Option<&Path>) -> Result<TrustedKey, u8> {
    match pubkey {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                error(format!("cannot read public key {}: {e}", path.display()));
                exit::USAGE
            })?;
            TrustedKey::from_pem(&text).map_err(|e| {
                error(format!("{}: {e}", path.display()));
                exit::USAGE
            })
        }
        None => {
            let path = Home::from_env().keys_dir().join(LocalKey::FILE);
            if !path.exists() {
                error(format!(
                    "no key to verify with: {} does not exist; pass the signer's public key with --pubkey",
                    path.display()
                ));
                return Err(exit::USAGE);
            }
            LocalKey::load(&path).map(|k| k.trusted()).map_err(|e| {
                error(e);
                exit::USAGE
            })
        }
    }
}

/// `deployclaw log verify FILE [--pubkey PEM] [--json]`.
pub fn verify(file: &Path, pubkey: Option<&Path>, json: bool) -> u8 {
    let (bytes, key) = match (read_log(file), trusted_key(pubkey)) {
        (Ok(b), Ok(k)) => (b, k),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let report = evidence::verify_log(&bytes, std::slice::from_ref(&key));
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else if report.is_ok() {
        let who = report
            .session
            .as_ref()
            .map(|s| format!("; session {} ({}) by {}@{}", s.id, s.mode, s.user, s.host))
            .unwrap_or_default();
        println!(
            "ok: {}: {} entries, {} seals, final seal present, signed by {}{who}",
            file.display(),
            report.entries,
            report.valid_seals,
            short(key.key_id())
        );
    } else {
        println!("FAILED: {}: {} fault(s)", file.display(), report.faults.len());
        for fault in &report.faults {
            println!("  - {fault}");
        }
    }
    if report.is_ok() { exit::OK } else { exit::FAILED }
}

fn short(key_id: &str) -> &str {
    &key_id[..key_id.len().min(16)]
}

/// `deployclaw log show FILE [--json]`.
pub fn show(file: &Path, json: bool) -> u8 {
    let bytes = match read_log(file) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let text = String::from_utf8_lossy(&bytes);
    for (i, line) in text.lines().enumerate() {
        if json {
            println!("{line}");
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(entry) => println!("{}", describe(&entry)),
            Err(e) => println!("line {}: unreadable entry ({e})", i + 1),
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
