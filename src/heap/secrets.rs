//! Secrets left in a heap: AWS keys, private keys, JWTs and passwords in URLs, found in the
//! byte and char arrays that hold Java strings (Latin-1, UTF-16 or, before JDK 9, char[]).
//! What is found is reported redacted: a heap-dump audit must not leak what it warns about.

use super::Error;
use super::hprof::{BasicType, Visitor};
use regex::bytes::{Regex, RegexSet};
use std::path::Path;
use std::sync::LazyLock;

/// The kinds of secret looked for, and how each is recognised.
const PATTERNS: &[(&str, &str)] = &[
    ("aws_access_key_id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("aws_secret_access_key", r"(?i)aws_?secret_?access_?key\W{0,3}[A-Za-z0-9/+=]{40}"),
    ("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    ("url_password", r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^/\s:@]{1,64}:[^@\s/]{1,128}@[A-Za-z0-9.-]+"),
];

static SET: LazyLock<RegexSet> = LazyLock::new(|| RegexSet::new(PATTERNS.iter().map(|p| p.1)).expect("patterns"));
static EACH: LazyLock<Vec<Regex>> =
    LazyLock::new(|| PATTERNS.iter().map(|p| Regex::new(p.1).expect("pattern")).collect());

/// One secret found.
#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    /// The array holding it.
    pub object: u64,
    /// `byte[]` or `char[]`.
    pub array: &'static str,
    pub kind: &'static str,
    /// Character offset in the decoded text.
    pub offset: usize,
    /// The match with the secret part replaced: safe to print and log.
    pub redacted: String,
}

struct Scan {
    found: Vec<Secret>,
    text: Vec<u8>,
}

impl Scan {
    fn scan(&mut self, object: u64, array: &'static str) {
        let text = &self.text;
        if !SET.is_match(text) {
            return;
        }
        for (i, re) in EACH.iter().enumerate() {
            for m in re.find_iter(text) {
                self.found.push(Secret {
                    object,
                    array,
                    kind: PATTERNS[i].0,
                    offset: m.start(),
                    redacted: redact(PATTERNS[i].0, &String::from_utf8_lossy(m.as_bytes())),
                });
            }
        }
    }
}

impl Visitor for Scan {
    fn wants_contents(&self) -> bool {
        true
    }
    fn primitive_array(&mut self, id: u64, element: BasicType, _length: u32, data: &[u8]) {
        // Secrets are at least 20 characters; shorter arrays cannot hold one.
        match element {
            BasicType::Byte if data.len() >= 20 => {
                self.text.clear();
                // UTF-16 strings (JDK 9+ with coder 1) keep every other byte zero for ASCII text.
                let utf16 = data.len().is_multiple_of(2) && data.iter().skip(1).step_by(2).take(64).all(|&b| b == 0);
                if utf16 {
                    self.text.extend(data.iter().step_by(2));
                } else {
                    self.text.extend_from_slice(data);
                }
                self.scan(id, "byte[]");
            }
            BasicType::Char if data.len() >= 40 => {
                self.text.clear();
                self.text.extend(data.chunks_exact(2).map(|c| if c[0] == 0 { c[1] } else { b'?' }));
                self.scan(id, "char[]");
            }
            _ => {}
        }
    }
}

/// Every secret in the byte and char arrays of the dump at `path`, in dump order.
pub fn secrets(path: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<Vec<Secret>, Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parts: Vec<Scan> = (0..threads).map(|_| Scan { found: Vec::new(), text: Vec::new() }).collect();
    super::read_parts(path, &mut parts, progress)?;
    Ok(parts.into_iter().flat_map(|p| p.found).collect())
}

/// Keep enough to recognise the secret, never enough to use it.
fn redact(kind: &str, text: &str) -> String {
    let head: String = text.chars().take(4).collect();
    match kind {
        "private_key" => format!("{text} [REDACTED]"),
        "url_password" => crate::evidence::redact(text).into_owned(),
        "aws_secret_access_key" => {
            let name: String = text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            format!("{name}=[REDACTED 40 chars]")
        }
        _ => format!("{head}…[REDACTED {} chars]", text.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &[u8]) -> Vec<(String, String)> {
        let mut scan = Scan { found: Vec::new(), text: text.to_vec() };
        scan.scan(1, "byte[]");
        scan.found.into_iter().map(|s| (s.kind.to_string(), s.redacted)).collect()
    }

    #[test]
    fn each_kind_is_found_and_redacted() {
        let key = b"aws AKIAIOSFODNN7EXAMPLE here";
        assert_eq!(found(key), [("aws_access_key_id".into(), "AKIA…[REDACTED 20 chars]".into())]);
        let url = found(b"jdbc:postgresql://app:hunter2hunter2@db.internal:5432/x");
        assert_eq!(url[0].0, "url_password");
        assert!(!url[0].1.contains("hunter2"), "{url:?}");
        let jwt = b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQtMDcifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(found(jwt)[0].0, "jwt");
        assert!(!found(jwt)[0].1.contains("dBjft"));
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA";
        assert_eq!(found(pem), [("private_key".into(), "-----BEGIN RSA PRIVATE KEY----- [REDACTED]".into())]);
        let secret = b"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            found(secret),
            [("aws_secret_access_key".into(), "aws_secret_access_key=[REDACTED 40 chars]".into())]
        );
        assert!(found(b"nothing to see here, just a long ordinary string").is_empty());
    }
}
