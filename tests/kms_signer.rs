//! AWS KMS as the signer of session logs, against moto's KMS on a loopback port: seals signed by
//! an ECC_NIST_P256 key verify offline with the public key they carry (trusted on the machine
//! that signed, not elsewhere until KMS confirms), `log verify --kms` asks KMS Verify, and keys
//! that cannot sign are refused with a message naming the key.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::moto::{ENV, Moto};
use common::{Sandbox, code, lines, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn deployclaw(sandbox: &Sandbox, moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = sandbox.command();
    cmd.args(args).env("AWS_ENDPOINT_URL", &moto.url).env("HOME", sandbox.path("nohome"));
    cmd.envs(ENV.iter().copied());
    cmd.output().unwrap()
}

fn signed_log(sandbox: &Sandbox, moto: &Moto, key: &str) -> PathBuf {
    let script = sandbox.write("audit.rhai", "evidence::note(\"checked\");\nlet x = 40 + 2;\nx");
    let log = sandbox.path("audit.jsonl");
    let out =
        deployclaw(sandbox, moto, &["--kms-key", key, "run", script.to_str().unwrap(), "--log", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    log
}

fn seal_predicate(log: &Path) -> Value {
    let last: Value = serde_json::from_str(lines(log).last().unwrap()).unwrap();
    let payload = B64.decode(last["envelope"]["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice::<Value>(&payload).unwrap()["predicate"].clone()
}

#[test]
fn a_kms_signed_log_carries_its_key_and_verifies_where_it_was_made() {
    let Some(moto) = Moto::start_empty() else { return };
    let key = moto.kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let sandbox = Sandbox::new();
    let log = signed_log(&sandbox, &moto, &key);

    let signer = &seal_predicate(&log)["signer"];
    assert_eq!(signer["key"], key.as_str());
    assert_eq!(signer["algorithm"], "ecdsa-p256-sha256");
    let der = B64.decode(signer["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(der.len(), 91, "an uncompressed P-256 SubjectPublicKeyInfo");

    // No local key was made: this machine trusts the KMS key it fetched.
    assert!(!sandbox.home().join("keys/ed25519.pem").exists());
    let out = sandbox.run(&["log", "verify", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));

    // openssl agrees: ECDSA-SHA256 over the SHA-256 digest of the DSSE PAE.
    let seal: Value = serde_json::from_str(lines(&log).last().unwrap()).unwrap();
    let envelope = &seal["envelope"];
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let digest = deployclaw::evidence::sha256(&deployclaw::evidence::pae(deployclaw::evidence::PAYLOAD_TYPE, &payload));
    std::fs::write(sandbox.path("digest.bin"), digest).unwrap();
    std::fs::write(sandbox.path("sig.der"), B64.decode(envelope["signatures"][0]["sig"].as_str().unwrap()).unwrap())
        .unwrap();
    let pem = deployclaw::evidence::TrustedKey::from_der(&der).unwrap().to_pem();
    std::fs::write(sandbox.path("kms.pem"), pem).unwrap();
    let openssl = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", "kms.pem", "-signature", "sig.der", "digest.bin"])
        .current_dir(sandbox.dir.path())
        .output()
        .expect("openssl runs");
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stdout));
}

#[test]
fn elsewhere_a_kms_key_is_trusted_only_when_the_verifier_names_it() {
    let Some(moto) = Moto::start_empty() else { return };
    let key = moto.kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let signer_machine = Sandbox::new();
    let log = signed_log(&signer_machine, &moto, &key);

    let auditor = Sandbox::new();
    assert_eq!(code(&auditor.run(&["keygen"])), 0);
    let out = auditor.run(&["log", "verify", log.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("({key}); the signature matches the public key the seal carries")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("pass --kms"), "{}", stdout(&out));

    // KMS confirming a key is not enough: anyone can make a key in their own account and let
    // everyone call Verify. The verifier names the key it expects, or trusts it once.
    let out = deployclaw(&auditor, &moto, &["log", "verify", "--kms", log.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "is signed by AWS KMS key {key}, which confirms it, but this verifier does not trust that key"
        )),
        "{text}"
    );
    assert_eq!(text.matches("  - ").count(), 1, "one fault for the seal, not two: {text}");

    let out = deployclaw(&auditor, &moto, &["log", "verify", "--kms", "--kms-key", &key, log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(&format!("AWS KMS confirms the seals signed by {key}")), "{}", stderr(&out));

    // --kms-key names the only KMS key to accept.
    let other = moto.kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let out = deployclaw(&auditor, &moto, &["log", "verify", "--kms", "--kms-key", &other, log.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));

    // Trusted once, then --kms alone accepts it; revoked, it does not.
    assert_eq!(code(&auditor.run(&["keys", "trust", "--kms-key", &key])), 0);
    let listed = auditor.run(&["keys", "list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(listed["kms_keys"], serde_json::json!([key]));
    let out = deployclaw(&auditor, &moto, &["log", "verify", "--kms", log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&auditor.run(&["keys", "revoke", &key])), 0);
    let out = deployclaw(&auditor, &moto, &["log", "verify", "--kms", log.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));

    // The public key printed for --pubkey works offline too.
    let der = B64.decode(seal_predicate(&log)["signer"]["public_key"].as_str().unwrap()).unwrap();
    let pem = auditor.write("kms.pem", &deployclaw::evidence::TrustedKey::from_der(&der).unwrap().to_pem());
    let out = auditor.run(&["log", "verify", "--pubkey", pem.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn a_forged_signature_is_rejected_offline_and_by_kms() {
    let Some(moto) = Moto::start_empty() else { return };
    let key = moto.kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let sandbox = Sandbox::new();
    let log = signed_log(&sandbox, &moto, &key);
    let mut all = lines(&log);
    let mut seal: Value = serde_json::from_str(all.last().unwrap()).unwrap();
    let mut sig = B64.decode(seal["envelope"]["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    seal["envelope"]["signatures"][0]["sig"] = Value::String(B64.encode(sig));
    *all.last_mut().unwrap() = serde_json::to_string(&seal).unwrap();
    std::fs::write(&log, all.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();

    let out = deployclaw(&sandbox, &moto, &["log", "verify", "--kms", log.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("AWS KMS key {key} does not confirm its signature")), "{text}");
    assert!(text.contains("does not verify with trusted key"), "{text}");
}

#[test]
fn keys_that_cannot_sign_seals_are_refused_by_name() {
    let Some(moto) = Moto::start_empty() else { return };
    let sandbox = Sandbox::new();
    let script = sandbox.write("x.rhai", "1");
    for (spec, usage, says) in [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "is SYMMETRIC_DEFAULT, not ECC_NIST_P256"),
        ("RSA_2048", "SIGN_VERIFY", "is RSA_2048, not ECC_NIST_P256"),
    ] {
        let key = moto.kms_key(spec, usage);
        let out = deployclaw(&sandbox, &moto, &["--kms-key", &key, "run", script.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{spec}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("GetPublicKey {key}")), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(stderr(&out).contains("--key-spec ECC_NIST_P256"), "{}", stderr(&out));
    }
    let out = deployclaw(&sandbox, &moto, &["--kms-key", "no-such-key", "run", script.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("GetPublicKey no-such-key: not found"), "{}", stderr(&out));
    assert!(sandbox.logs().is_empty(), "no log is started when the signer cannot sign");
}
