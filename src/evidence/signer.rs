//! Who signs seals: the `Signer` trait, the default local ed25519 key, and trusted public keys for
//! verification.
//!
//! ed25519 keys have fixed DER framing (RFC 8410), so PEM encoding is a constant prefix plus the
//! 32 key bytes; no ASN.1 library is needed.

use super::{Error, hex, sha256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// SubjectPublicKeyInfo header for an ed25519 public key.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// PKCS#8 v1 header for an ed25519 private key.
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Something that signs seal envelopes. The local key is the default; AWS KMS plugs in here.
pub trait Signer: Send + Sync {
    /// Stable id of the key: SHA-256 (hex) of its DER public key.
    fn key_id(&self) -> &str;
    /// Sign the DSSE pre-authentication encoding of a payload.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
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

/// A public key whose signatures are accepted.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    key: VerifyingKey,
    key_id: String,
}

impl TrustedKey {
    pub fn new(key: VerifyingKey) -> TrustedKey {
        TrustedKey { key_id: key_id_for(&key), key }
    }

    /// Read a `-----BEGIN PUBLIC KEY-----` PEM holding an ed25519 key.
    pub fn from_pem(text: &str) -> Result<TrustedKey, Error> {
        let der = pem_body(text, "PUBLIC KEY").map_err(Error::PublicKey)?;
        if der.len() != 44 || der[..12] != SPKI_PREFIX {
            return Err(Error::PublicKey("not an ed25519 public key (expected a 44-byte SubjectPublicKeyInfo)".into()));
        }
        let bytes: [u8; 32] = der[12..].try_into().expect("length checked");
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| Error::PublicKey(e.to_string()))?;
        Ok(TrustedKey::new(key))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key as `-----BEGIN PUBLIC KEY-----` PEM (readable by openssl and Python's cryptography).
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &spki_der(&self.key))
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature).is_ok_and(|sig| self.key.verify_strict(message, &sig).is_ok())
    }
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
        }
        let sig = key.sign(b"hello").unwrap();
        let public = TrustedKey::from_pem(&key.trusted().to_pem()).unwrap();
        assert_eq!(public.key_id(), key.key_id());
        assert!(public.verifies(b"hello", &sig));
        assert!(!public.verifies(b"hellp", &sig));
    }

    #[test]
    fn rejects_a_non_ed25519_pem() {
        let err = TrustedKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap_err();
        assert!(err.to_string().contains("not an ed25519 public key"), "{err}");
    }
}
