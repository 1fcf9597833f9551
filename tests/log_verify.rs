//! The signed session log: a good log verifies; each kind of tampering is detected and named;
//! the seal signature verifies with an independent tool (openssl).

mod common;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Sandbox, code, lines, stderr, stdout};
use deployclaw::evidence::{Envelope, LocalKey, pae, to_canonical_vec};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A sealed log of a script with notes, findings and several statements.
fn sealed_log(sb: &Sandbox) -> PathBuf {
    let script = sb.write(
        "audit.rhai",
        r#"let df = frame([#{t: "a", mb: 1}, #{t: "b", mb: 2}]);
evidence::note("starting");
let big = df.filter("mb > 1");
evidence::finding("warning", "b is big", big);
let n = big.len();
n + 1"#,
    );
    let log = sb.path("audit.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--log", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    log
}

fn verify(sb: &Sandbox, log: &Path) -> (i32, String) {
    let out = sb.run(&["log", "verify", log.to_str().unwrap()]);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn a_good_log_verifies() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("ok: "), "{text}");
    let kinds: Vec<String> = lines(&log)
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("start"));
    assert_eq!(kinds.last().map(String::as_str), Some("seal"));
    assert_eq!(kinds.iter().filter(|k| *k == "statement").count(), 6, "one entry per statement: {kinds:?}");
    assert!(kinds.contains(&"note".to_string()) && kinds.contains(&"finding".to_string()));
}

#[test]
fn one_changed_byte_in_any_entry_is_named() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let original = lines(&log);
    let tampered = sb.path("tampered.jsonl");
    for i in 0..original.len() {
        // Change a byte of the entry's content: a digit or letter near the middle.
        let mut bytes = original[i].clone().into_bytes();
        let at = (bytes.len() / 2..bytes.len()).find(|&j| bytes[j].is_ascii_alphanumeric()).unwrap();
        bytes[at] = if bytes[at] == b'7' { b'8' } else { b'7' };
        let mut changed = original.clone();
        changed[i] = String::from_utf8(bytes).unwrap();
        write_lines(&tampered, &changed);
        let (code, text) = verify(&sb, &tampered);
        assert_eq!(code, 1, "line {}: {text}", i + 1);
        assert!(
            text.contains(&format!("entry {i} (line {}) was changed", i + 1)),
            "a change to line {} must name entry {i}:\n{text}",
            i + 1
        );
    }
}

#[test]
fn a_removed_entry_is_named() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let mut entries = lines(&log);
    entries.remove(3);
    write_lines(&log, &entries);
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 1);
    assert!(text.contains("entry 3 was removed (it belongs before line 4)"), "{text}");
}

#[test]
fn swapped_entries_are_named() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let mut entries = lines(&log);
    entries.swap(2, 3);
    write_lines(&log, &entries);
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 1);
    assert!(text.contains("entries 2 and 3 are swapped"), "{text}");
}

#[test]
fn a_truncated_tail_is_named() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let entries = lines(&log);
    write_lines(&log, &entries[..entries.len() - 2]);
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 1);
    assert!(text.contains("no seal at all") && text.contains("truncated"), "{text}");

    // Cut mid-entry, as a crash while writing would.
    let whole: String = entries.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, &whole[..whole.len() - 40]).unwrap();
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 1);
    assert!(text.contains(&format!("line {} is cut off mid-entry", entries.len())), "{text}");
}

#[test]
fn checkpoints_leave_a_short_unsealed_tail() {
    let sb = Sandbox::new();
    // 70 statements: a checkpoint seal after 64 entries (the default), then the final seal.
    let script: String = (0..70).map(|i| format!("let v{i} = {i};\n")).collect();
    let script = sb.write("long.rhai", &script);
    let log = sb.path("long.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--log", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entries = lines(&log);
    let seals: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].contains("\"kind\":\"seal\"")).collect();
    assert_eq!(seals.len(), 2, "a checkpoint and a final seal");
    assert_eq!(seals[0], 64);

    // As often as asked: every 10 entries.
    let log = sb.path("often.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--log", log.to_str().unwrap(), "--seal-every", "10"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entries = lines(&log);
    let seals: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].contains("\"kind\":\"seal\"")).collect();
    assert_eq!(seals.len(), 8, "seven checkpoints and a final seal: {seals:?}");
    assert_eq!(verify(&sb, &log).0, 0);
    // A crash after the checkpoint: everything up to it still verifies as sealed.
    write_lines(&log, &entries[..seals[0] + 3]);
    let (code, text) = verify(&sb, &log);
    assert_eq!(code, 1);
    assert!(text.contains(&format!("last checkpoint: entry {}", seals[0])), "{text}");
    assert!(text.contains(&format!("lines {} to {}", seals[0] + 2, seals[0] + 3)), "{text}");
}

/// Replace the final seal's envelope with one signed by `key` under `keyid`.
fn resign(log: &Path, key: &LocalKey, keyid: Option<&str>) {
    let mut entries = lines(log);
    let last = entries.len() - 1;
    let mut seal: Value = serde_json::from_str(&entries[last]).unwrap();
    let envelope: Envelope = serde_json::from_value(seal["envelope"].clone()).unwrap();
    let mut forged = Envelope::sign(&envelope.payload_bytes().unwrap(), key).unwrap();
    if let Some(id) = keyid {
        forged.signatures[0].keyid = id.to_string();
    }
    seal["envelope"] = serde_json::to_value(forged).unwrap();
    entries[last] = String::from_utf8(to_canonical_vec(&seal)).unwrap();
    write_lines(log, &entries);
}

#[test]
fn a_seal_re_signed_with_another_key_is_named() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let original = std::fs::read(&log).unwrap();
    let other = LocalKey::create(&sb.path("other.pem")).unwrap();
    use deployclaw::evidence::Signer;

    resign(&log, &other, None);
    let (status, text) = verify(&sb, &log);
    assert_eq!(status, 1);
    assert!(text.contains(&format!("signed by key {}, which is not trusted", other.key_id())), "{text}");

    // Claiming the trusted key's id does not help: the signature does not verify.
    std::fs::write(&log, &original).unwrap();
    let first: Value = serde_json::from_str(&lines(&log)[0]).unwrap();
    let trusted_id = first["key_id"].as_str().unwrap().to_string();
    resign(&log, &other, Some(&trusted_id));
    let (status, text) = verify(&sb, &log);
    assert_eq!(status, 1);
    assert!(text.contains("signature does not verify with trusted key"), "{text}");

    // With the other key's public half passed explicitly, the original seal is the unknown one.
    std::fs::write(&log, &original).unwrap();
    let pem = sb.write("other.pub.pem", &other.trusted().to_pem());
    let out = sb.run(&["log", "verify", log.to_str().unwrap(), "--pubkey", pem.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("which is not trusted"), "{}", stdout(&out));
}

#[test]
fn the_seal_signature_verifies_with_openssl() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let pubkey = sb.public_key();
    let entries = lines(&log);
    let seal: Value = serde_json::from_str(entries.last().unwrap()).unwrap();
    let envelope: Envelope = serde_json::from_value(seal["envelope"].clone()).unwrap();
    let payload = envelope.payload_bytes().unwrap();
    let signed = pae(&envelope.payload_type, &payload);
    let pae_file = sb.path("pae.bin");
    let sig_file = sb.path("sig.bin");
    std::fs::write(&pae_file, &signed).unwrap();
    std::fs::write(&sig_file, B64.decode(&envelope.signatures[0].sig).unwrap()).unwrap();

    let openssl = |message: &Path| {
        std::process::Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&pubkey)
            .arg("-rawin")
            .arg("-in")
            .arg(message)
            .arg("-sigfile")
            .arg(&sig_file)
            .output()
            .expect("openssl is installed")
    };
    let out = openssl(&pae_file);
    assert!(out.status.success(), "openssl rejected the seal: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Signature Verified Successfully"));

    // And it would notice a different message.
    let mut wrong = signed.clone();
    *wrong.last_mut().unwrap() ^= 1;
    std::fs::write(&pae_file, &wrong).unwrap();
    assert!(!openssl(&pae_file).status.success());

    // The payload is an in-toto statement about this log.
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    let predicate = &statement["predicate"];
    assert_eq!(predicate["final"], true);
    assert_eq!(predicate["entries"].as_u64().unwrap() as usize, entries.len() - 1);
    let before_seal: String = entries[..entries.len() - 1].iter().map(|l| format!("{l}\n")).collect();
    let digest = deployclaw::evidence::hex(&deployclaw::evidence::sha256(before_seal.as_bytes()));
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.as_str());
    for field in ["tool", "user", "host", "script", "script_sha256", "start", "end", "chain_head"] {
        assert!(!predicate[field].is_null(), "predicate lacks {field}: {predicate}");
    }
}

#[test]
fn sessions_chain_to_the_previous_seal() {
    let sb = Sandbox::new();
    let first = sealed_log(&sb);
    let script = sb.write("two.rhai", "1");
    let second = sb.path("two.jsonl");
    sb.run(&["run", script.to_str().unwrap(), "--log", second.to_str().unwrap()]);
    let last_of_first = lines(&first).pop().unwrap();
    let digest = deployclaw::evidence::hex(&deployclaw::evidence::sha256(last_of_first.as_bytes()));
    let start: Value = serde_json::from_str(&lines(&second)[0]).unwrap();
    assert_eq!(start["session"]["previous_seal"], digest.as_str());
}

#[test]
fn verify_needs_a_key_and_a_file() {
    let sb = Sandbox::new();
    let log = sb.write("x.jsonl", "{}\n");
    let out = sb.run(&["log", "verify", log.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--pubkey"), "{}", stderr(&out));
    let out = sb.run(&["log", "verify", "missing.jsonl"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn show_prints_entries_readably() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let out = sb.run(&["log", "show", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("note      starting"), "{text}");
    assert!(text.contains("[warning] b is big"), "{text}");
    assert!(text.contains("final seal over"), "{text}");
}

#[test]
fn show_survives_hostile_entries_and_does_not_send_escapes_to_the_terminal() {
    let sb = Sandbox::new();
    let log = sealed_log(&sb);
    let mut entries = lines(&log);
    // A seal whose key id is not ASCII (the id is read from the file), and a note that tries to
    // retitle the terminal and clear the screen.
    let seal: Value = serde_json::from_str(entries.last().unwrap()).unwrap();
    let mut hostile = seal.clone();
    if let Some(sigs) = hostile["envelope"]["signatures"].as_array_mut() {
        sigs[0]["keyid"] = Value::from("ключ-é-0123456789abcdef");
    }
    entries.push(hostile.to_string());
    entries.push(r#"{"seq": 99, "kind": "note", "text": "x\u001b]0;owned\u0007\u001b[2J"}"#.to_string());
    entries.push("\u{1b}[2Jnot json".to_string());
    let shown = sb.path("hostile.jsonl");
    write_lines(&shown, &entries);
    let out = sb.run(&["log", "show", shown.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "an escape reached the terminal: {text:?}");
    assert!(text.contains("x\\u{1b}]0;owned"), "{text}");
    assert!(text.contains("key ключ-é-01234567"), "{text}");
}

/// A small file system of its own (tmpfs), or None when this user cannot mount one; required
/// where services are.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", at.to_str().unwrap()])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(std::env::var_os("DEPLOYCLAW_REQUIRE_SERVICES").is_none(), "cannot mount a tmpfs (run as root)");
            eprintln!("skipping: cannot mount a tmpfs here");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The log's file system fills up while a runbook writes with --execute: every write that
/// happened has its entry in the log, the session stops at the first entry it cannot write, and
/// nothing runs after it.
#[test]
fn a_full_disk_stops_the_session_before_an_unlogged_write() {
    let sb = Sandbox::new();
    let Some(small) = Tmpfs::mount(&sb.path("small"), "size=96k") else { return };
    let db = sb.path("shop.db");
    let script = sb.write(
        "fill.rhai",
        &format!(
            "let t = sql::with_tenant(sql::demo_db({:?}), 1);\nfor i in 0..100000 {{ t.execute(\"UPDATE orders SET status = ?2 WHERE tenant_id = ?1\", [`s${{i}}`]); }}",
            db.display().to_string()
        ),
    );
    let log = small.0.join("session.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--execute", "--log", log.to_str().unwrap()]);
    assert_ne!(code(&out), 0, "the run stops: {}", stdout(&out));
    assert!(stderr(&out).contains("the session log cannot be written"), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    // Whole entries only: the one the disk could not hold may be cut off.
    let logged = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|e| e["text"].as_str().is_some_and(|t| t.starts_with("executing for tenant 1")))
        })
        .count();
    assert!(logged > 0, "{text}");
    // The database holds the last write the log shows, not one more.
    let status = std::process::Command::new("python3")
        .args(["-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT DISTINCT status FROM orders WHERE tenant_id = 1').fetchall()[0][0])"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout).trim(), format!("s{}", logged - 1), "{}", stderr(&out));
}

/// A log folder nobody can write to: the session refuses to start, so nothing runs unlogged.
#[test]
fn a_read_only_log_folder_refuses_the_session() {
    let sb = Sandbox::new();
    let Some(ro) = Tmpfs::mount(&sb.path("ro"), "size=64k,ro") else { return };
    let marker = sb.path("ran");
    let script = sb.write("x.rhai", &format!("write_text({:?}, \"yes\")", marker.display().to_string()));
    let log = ro.0.join("session.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--execute", "--log", log.to_str().unwrap()]);
    assert_ne!(code(&out), 0);
    assert!(!marker.exists(), "the script ran without its log");
}

/// A statement that returns a short secret: the log keeps a keyed digest of it, so hashing
/// guesses of the value finds nothing, while the key (private, beside the signing key) is what
/// recomputes it.
#[test]
fn value_digests_are_keyed() {
    let sb = Sandbox::new();
    let script = sb.write("pin.rhai", "let pin = \"4711\";\npin");
    let log = sb.path("pin.jsonl");
    let out = sb.run(&["run", script.to_str().unwrap(), "--log", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let statement: Value =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).rfind(|e| e["kind"] == "statement").unwrap();
    let digest = statement["outcome"]["hmac_sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    let guess = deployclaw::evidence::hex(&deployclaw::evidence::sha256(&to_canonical_vec(&serde_json::json!("4711"))));
    assert!(!text.contains(&guess), "the plain SHA-256 of the value is in the log");
    let key = sb.home().join("keys").join(deployclaw::evidence::ValueKey::FILE);
    let recomputed = deployclaw::evidence::ValueKey::load_or_create(key.parent().unwrap())
        .ok()
        .map(|k| (k.id().to_string(), k.digest(&to_canonical_vec(&serde_json::json!("4711")))));
    assert_eq!(recomputed, Some((statement["outcome"]["value_key"].as_str().unwrap().to_string(), digest.to_string())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
