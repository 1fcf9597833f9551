//! Secrets never reach the log or the screen: connection-URL passwords, AWS keys, bearer tokens
//! and private keys are replaced before text is written or shown.

use regex::{Regex, RegexSet};
use std::borrow::Cow;
use std::sync::LazyLock;

struct Rule {
    pattern: &'static str,
    replacement: &'static str,
}

const RULES: &[Rule] = &[
    // PEM private keys of any kind, first so nothing inside them is matched piecemeal.
    Rule {
        pattern: r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
        replacement: "[REDACTED ${1}PRIVATE KEY]",
    },
    // scheme://user:password@host
    Rule { pattern: r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)([^@\s/]+)@", replacement: "${1}[REDACTED]@" },
    // key=value passwords in DSNs and query strings.
    Rule { pattern: r"(?i)\b(password|passwd|pwd)(\s*=\s*)([^&\s;'\x22]+)", replacement: "${1}${2}[REDACTED]" },
    // AWS secret keys and session tokens assigned to their usual names.
    Rule {
        pattern: r#"(?i)(aws_secret_access_key|secret_access_key|secretaccesskey|aws_session_token|session_token)(["']?\s*[=:]\s*["']?)([A-Za-z0-9/+=]{16,})"#,
        replacement: "${1}${2}[REDACTED]",
    },
    // AWS access key ids.
    Rule { pattern: r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b", replacement: "[REDACTED AWS KEY ID]" },
    // JSON Web Tokens wherever they appear.
    Rule {
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
        replacement: "[REDACTED JWT]",
    },
    // HTTP bearer tokens.
    Rule { pattern: r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", replacement: "${1}[REDACTED]" },
];

static SET: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(RULES.iter().map(|r| r.pattern)).expect("redaction patterns compile"));
static REGEXES: LazyLock<Vec<Regex>> =
    LazyLock::new(|| RULES.iter().map(|r| Regex::new(r.pattern).expect("redaction pattern compiles")).collect());

/// `text` with every recognised secret replaced by a `[REDACTED …]` marker.
pub fn redact(text: &str) -> Cow<'_, str> {
    let matched = SET.matches(text);
    if !matched.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for i in matched.iter() {
        out = REGEXES[i].replace_all(&out, RULES[i].replacement).into_owned();
    }
    Cow::Owned(out)
}

/// Every string in a JSON value with its secrets redacted, in place.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn url_passwords() {
        assert_eq!(
            redact(r#"sql::connect("postgres://app:s3cr3t@db:5432/x")"#),
            r#"sql::connect("postgres://app:[REDACTED]@db:5432/x")"#
        );
        assert_eq!(redact("mysql://root:@127.0.0.1/test"), "mysql://root:@127.0.0.1/test");
    }

    #[test]
    fn dsn_passwords() {
        assert_eq!(redact("host=db user=a password=hunter2 dbname=x"), "host=db user=a password=[REDACTED] dbname=x");
    }

    #[test]
    fn aws_keys() {
        let text = "AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let out = redact(text);
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
        assert!(!out.contains("wJalrXUtnFEMI"), "{out}");
        assert!(out.contains("aws_secret_access_key=[REDACTED]"), "{out}");
    }

    #[test]
    fn bearer_and_private_keys() {
        assert_eq!(redact("Authorization: Bearer abcdef0123456789"), "Authorization: Bearer [REDACTED]");
        let pem = "x -----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY----- y";
        assert_eq!(redact(pem), "x [REDACTED PRIVATE KEY] y");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(redact("let x = 1;"), std::borrow::Cow::Borrowed(_)));
    }
}
