//! Who signs seals: the `Signer` trait, the default local ed25519 key, and trusted public keys for
//! verification (ed25519, and ECDSA P-256 for keys held in AWS KMS).
//!
//! Both key types have fixed DER framing (RFC 8410 for ed25519, RFC 5480 with an uncompressed
//! point for P-256), so a public key is a constant prefix plus the key bytes; no ASN.1 library is
//! needed.

use super::{Error, hex, sha256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// SubjectPublicKeyInfo header for an ed25519 public key.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// SubjectPublicKeyInfo header for a P-256 public key (id-ecPublicKey, prime256v1), followed by
/// the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// PKCS#8 v1 header for an ed25519 private key.
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Something that signs seal envelopes. The local key is the default; AWS KMS plugs in here.
pub trait Signer: Send + Sync {
    /// Stable id of the key: SHA-256 (hex) of its DER public key.
    fn key_id(&self) -> &str;
    /// Sign the DSSE pre-authentication encoding of a payload, as [`TrustedKey::verifies`] checks.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
    /// Where the private key lives when it is not on this machine (e.g. an AWS KMS key ARN). Such
    /// signers also put their public key into every seal, so a log can be checked offline.
    fn remote(&self) -> Option<(&str, &TrustedKey)> {
        None
    }
}

/// Key id of an ed25519 public key: hex SHA-256 of its SubjectPublicKeyInfo DER.
pub fn key_id_for(key: &VerifyingKey) -> String {
    hex(&sha256(&spki_der(key)))
}

fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    der
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or_else(|| format!("no '{begin}' line"))? + begin.len();
    let stop = text[start..].find(&end).ok_or_else(|| format!("no '{end}' line"))? + start;
    let body: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(body).map_err(|e| format!("bad base64 inside the PEM: {e}"))
}

/// The default signer: an ed25519 key kept in a PKCS#8 PEM file readable only by its owner.
pub struct LocalKey {
    signing: SigningKey,
    key_id: String,
    path: PathBuf,
}

/// Refuse a private key that someone else owns or others may read, as ssh does: whoever can
/// read it can sign sessions in this machine's name.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    crate::paths::private_to_this_user(&meta).map_err(|why| {
        format!(
            "{why}; a key must be its user's own: run `chmod 600 {}` if no one else has read it, or make a new key",
            path.display()
        )
    })
}

/// The secret that keys the digests of statement values in the log (HMAC-SHA256), so a short
/// value a statement returned (a password, a PIN) cannot be found by hashing guesses: only this
/// machine's user can recompute a digest. Kept beside the signing key, mode 0600.
pub struct ValueKey {
    secret: [u8; 32],
    id: String,
}

impl ValueKey {
    pub const FILE: &'static str = "value-digest.key";

    pub fn load_or_create(dir: &Path) -> Result<ValueKey, Error> {
        let path = dir.join(Self::FILE);
        let bad = |reason: String| Error::Key { path: path.clone(), reason };
        if !path.exists() {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| bad(format!("no randomness from the operating system: {e}")))?;
            fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            write_private(&path, super::hex(&secret).as_bytes())?;
        }
        check_private(&path).map_err(bad)?;
        let text = fs::read_to_string(&path).map_err(|e| Error::io("read key", &path, e))?;
        let secret: [u8; 32] = super::parse_digest(text.trim()).ok_or_else(|| bad("not 64 hex digits".into()))?;
        let id = super::hex(&super::sha256(&secret))[..16].to_string();
        Ok(ValueKey { secret, id })
    }

    /// HMAC-SHA256 of `bytes`, in hex.
    pub fn digest(&self, bytes: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(bytes);
        super::hex(&mac.finalize().into_bytes())
    }

    /// Which key made a digest: the first 16 hex digits of the key's SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl LocalKey {
    /// File name of the private key inside the keys directory.
    pub const FILE: &'static str = "ed25519.pem";

    /// Load the key at `dir/ed25519.pem`, creating it (mode 0600) when there is none.
    /// Returns the key and whether it was created now.
    pub fn load_or_create(dir: &Path) -> Result<(LocalKey, bool), Error> {
        let path = dir.join(Self::FILE);
        if path.exists() {
            return Ok((Self::load(&path)?, false));
        }
        Ok((Self::create(&path)?, true))
    }

    /// Make a new key at `path`, replacing none: fails if the file exists.
    pub fn create(path: &Path) -> Result<LocalKey, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Key {
            path: path.to_path_buf(),
            reason: format!("no randomness from the operating system: {e}"),
        })?;
        let signing = SigningKey::from_bytes(&seed);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        }
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        write_private(path, pem("PRIVATE KEY", &der).as_bytes())?;
        Ok(Self::from_signing(signing, path))
    }

    /// Load an existing private key file.
    pub fn load(path: &Path) -> Result<LocalKey, Error> {
        let bad = |reason: String| Error::Key { path: path.to_path_buf(), reason };
        check_private(path).map_err(bad)?;
        let text = fs::read_to_string(path).map_err(|e| Error::io("read key", path, e))?;
        let der = pem_body(&text, "PRIVATE KEY").map_err(bad)?;
        if der.len() != 48 || der[..16] != PKCS8_PREFIX {
            return Err(bad("not an ed25519 PKCS#8 private key".into()));
        }
        let seed: [u8; 32] = der[16..].try_into().expect("length checked");
        Ok(Self::from_signing(SigningKey::from_bytes(&seed), path))
    }

    fn from_signing(signing: SigningKey, path: &Path) -> LocalKey {
        let key_id = key_id_for(&signing.verifying_key());
        LocalKey { signing, key_id, path: path.to_path_buf() }
    }

    /// Where the private key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public half, for verification.
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey::new(self.signing.verifying_key())
    }
}

impl Signer for LocalKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use ed25519_dalek::Signer as _;
        Ok(self.signing.sign(message).to_bytes().to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create key", path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io("write key", path, e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    fs::write(path, bytes).map_err(|e| Error::io("write key", path, e))
}

#[derive(Clone, Debug)]
enum PublicKey {
    Ed25519(VerifyingKey),
    /// ECDSA P-256 with SHA-256, as AWS KMS signs with ECDSA_SHA_256.
    P256(p256::ecdsa::VerifyingKey),
}

/// A public key whose signatures are accepted.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    key: PublicKey,
    der: Vec<u8>,
    key_id: String,
}

impl TrustedKey {
    pub fn new(key: VerifyingKey) -> TrustedKey {
        TrustedKey { der: spki_der(&key), key_id: key_id_for(&key), key: PublicKey::Ed25519(key) }
    }

    /// Read a `-----BEGIN PUBLIC KEY-----` PEM holding an ed25519 or P-256 key.
    pub fn from_pem(text: &str) -> Result<TrustedKey, Error> {
        let der = pem_body(text, "PUBLIC KEY").map_err(Error::PublicKey)?;
        Self::from_der(&der)
    }

    /// Read a DER SubjectPublicKeyInfo holding an ed25519 or P-256 key.
    pub fn from_der(der: &[u8]) -> Result<TrustedKey, Error> {
        let key = if der.len() == 44 && der[..12] == SPKI_PREFIX {
            let bytes: [u8; 32] = der[12..].try_into().expect("length checked");
            PublicKey::Ed25519(VerifyingKey::from_bytes(&bytes).map_err(|e| Error::PublicKey(e.to_string()))?)
        } else if der.len() == 91 && der[..26] == P256_SPKI_PREFIX {
            let point = p256::ecdsa::VerifyingKey::from_sec1_bytes(&der[26..])
                .map_err(|e| Error::PublicKey(format!("not a point on P-256: {e}")))?;
            PublicKey::P256(point)
        } else {
            return Err(Error::PublicKey(
                "not an ed25519 or uncompressed P-256 public key (expected a 44- or 91-byte SubjectPublicKeyInfo)"
                    .into(),
            ));
        };
        Ok(TrustedKey { key, der: der.to_vec(), key_id: hex(&sha256(der)) })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signature scheme, for people reading reports.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            PublicKey::Ed25519(_) => "ed25519",
            PublicKey::P256(_) => "ecdsa-p256-sha256",
        }
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The key as `-----BEGIN PUBLIC KEY-----` PEM (readable by openssl and Python's cryptography).
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &self.der)
    }

    /// Whether `signature` is this key's signature of `message`.
    ///
    /// P-256 signatures (DER or fixed 64 bytes) are over the SHA-256 digest of `message`, hashed
    /// again by ECDSA_SHA_256: AWS KMS signs at most 4096 bytes of RAW message, so the 32-byte
    /// digest is what is sent.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            PublicKey::Ed25519(key) => {
                Signature::from_slice(signature).is_ok_and(|sig| key.verify_strict(message, &sig).is_ok())
            }
            PublicKey::P256(key) => {
                use p256::ecdsa::signature::Verifier;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(signature));
                sig.is_ok_and(|sig| key.verify(&sha256(message), &sig).is_ok())
            }
        }
    }

    /// Remember this key as trusted in `dir` (one PEM per key id). Returns whether it was new.
    pub fn remember(&self, dir: &Path) -> Result<bool, Error> {
        let path = dir.join(format!("{}.pem", self.key_id));
        if path.exists() {
            return Ok(false);
        }
        fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        fs::write(&path, self.to_pem()).map_err(|e| Error::io("write public key", &path, e))?;
        Ok(true)
    }

    /// Forget the remembered key whose id is `id` or starts with it (at least 8 characters, so
    /// a slip cannot revoke them all); how many were forgotten.
    pub fn forget(dir: &Path, id: &str) -> Result<usize, Error> {
        if id.len() < 8 {
            return Ok(0);
        }
        let mut removed = 0;
        for key in Self::remembered(dir)? {
            if key.key_id.starts_with(id) {
                let path = dir.join(format!("{}.pem", key.key_id));
                fs::remove_file(&path).map_err(|e| Error::io("remove public key", &path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every key remembered in `dir`; unreadable files are reported, not skipped silently.
    pub fn remembered(dir: &Path) -> Result<Vec<TrustedKey>, Error> {
        let Ok(entries) = fs::read_dir(dir) else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pem") {
                let text = fs::read_to_string(&path).map_err(|e| Error::io("read public key", &path, e))?;
                keys.push(Self::from_pem(&text).map_err(|e| Error::Key { path: path.clone(), reason: e.to_string() })?);
            }
        }
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        Ok(keys)
    }
}

/// A P-256 key pair for tests, with the public half as a trusted key.
#[cfg(test)]
pub(crate) fn p256_key(seed: u8) -> (p256::ecdsa::SigningKey, TrustedKey) {
    let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let point = signing.verifying_key().to_sec1_point(false);
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point.as_bytes());
    (signing, TrustedKey::from_der(&der).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (key, created) = LocalKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        let (again, created) = LocalKey::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(key.key_id(), again.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(key.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // A key others may read is refused, and says how to fix it.
            fs::set_permissions(key.path(), fs::Permissions::from_mode(0o644)).unwrap();
            let err = LocalKey::load(key.path()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("others may read it (mode 644)") && err.contains("chmod 600"), "{err}");
            fs::set_permissions(key.path(), fs::Permissions::from_mode(0o600)).unwrap();
        }
        let sig = key.sign(b"hello").unwrap();
        let public = TrustedKey::from_pem(&key.trusted().to_pem()).unwrap();
        assert_eq!(public.key_id(), key.key_id());
        assert!(public.verifies(b"hello", &sig));
        assert!(!public.verifies(b"hellp", &sig));
    }

    #[test]
    fn rejects_an_unknown_key_type() {
        let err = TrustedKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap_err();
        assert!(err.to_string().contains("not an ed25519 or uncompressed P-256 public key"), "{err}");
    }

    #[test]
    fn p256_signatures_over_the_digest_verify_in_der_and_fixed_form() {
        use p256::ecdsa::signature::Signer as _;
        let (signing, public) = p256_key(7);
        let sig: p256::ecdsa::Signature = signing.sign(&sha256(b"seal"));
        assert_eq!(public.algorithm(), "ecdsa-p256-sha256");
        assert!(public.verifies(b"seal", sig.to_der().as_bytes()));
        assert!(public.verifies(b"seal", &sig.to_bytes()));
        assert!(!public.verifies(b"seat", sig.to_der().as_bytes()));
        let round = TrustedKey::from_pem(&public.to_pem()).unwrap();
        assert_eq!(round.key_id(), public.key_id());
        assert_eq!(round.key_id(), hex(&sha256(public.der())));
    }

    #[test]
    fn remembered_keys_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let (_, public) = p256_key(9);
        assert!(public.remember(dir.path()).unwrap());
        assert!(!public.remember(dir.path()).unwrap());
        let keys = TrustedKey::remembered(dir.path()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_id(), public.key_id());
    }
}
