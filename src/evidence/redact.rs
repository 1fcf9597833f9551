//! Secrets never reach the log, the screen, a report or a notebook: connection-URL passwords,
//! `name = value` pairs whose name says secret (env files, YAML, JSON, Rhai maps, query
//! strings), AWS keys, vendor tokens (GitHub, GitLab, Slack, npm), JWTs, bearer and basic
//! credentials, and private keys are replaced before text is written or shown. One redactor
//! for every sink: the sinks call [`redact`] or [`redact_json`].

use regex::{Regex, RegexSet};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What names a secret in a pair: the name ends in one of these (`PGPASSWORD`, `db_password`,
/// `client_secret`, `GITHUB_TOKEN`, `api_key`, `MYSQL_PWD`, `DB_PASS`). `max_tokens` does not
/// end in `token`, and `PWD=/home/x` is a folder, so a bare `pwd` is not a name.
const SECRET_NAME: &str = r"[A-Za-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|credentials?|[_\-]pass|[_\-]pwd)";

/// The patterns, most specific first, each with what replaces it.
fn rules() -> Vec<(String, &'static str)> {
    let separator = r#"["']?\s*[=:]\s*"#;
    vec![
        // PEM private keys of any kind, first so nothing inside them is matched piecemeal.
        (
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)".into(),
            "[REDACTED ${1}PRIVATE KEY]",
        ),
        // scheme://user:password@host; the password may hold a `/`, as people write it unescaped.
        (r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)([^@\s]+)@".into(), "${1}[REDACTED]@"),
        // Tokens whose prefix names them, wherever they appear.
        (
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|npm_[A-Za-z0-9]{36})".into(),
            "[REDACTED TOKEN]",
        ),
        // AWS secret keys and session tokens after their names, with `=`, `:` or only a space.
        (
            r#"(?i)(aws_secret_access_key|secret_access_key|secretaccesskey|aws_session_token|session_token)(["']?\s*[=:]\s*["']?|\s+)([A-Za-z0-9/+=]{16,})"#.into(),
            "${1}${2}[REDACTED]",
        ),
        // AWS access key ids.
        (r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b".into(), "[REDACTED AWS KEY ID]"),
        // JSON Web Tokens.
        (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}".into(), "[REDACTED JWT]"),
        // HTTP credentials.
        (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*".into(), "${1}[REDACTED]"),
        (r"(?i)\b(authorization\s*[:=]\s*basic\s+)[A-Za-z0-9+/]{4,}=*".into(), "${1}[REDACTED]"),
        // name = \"value\": the same pair inside a quoted string (JSON, Rhai, a log of either).
        (format!(r#"(?i)\b({SECRET_NAME})({separator})\\"(?:[^"\\\n]|\\[^"\n])*\\""#), "${1}${2}\\\"[REDACTED]\\\""),
        // name = "value", name: 'value', name=value, where the name says secret.
        (format!(r#"(?i)\b({SECRET_NAME})({separator})"(?:[^"\\\n]|\\.)*""#), "${1}${2}\"[REDACTED]\""),
        (format!(r#"(?i)\b({SECRET_NAME})({separator})'[^'\n]*'"#), "${1}${2}'[REDACTED]'"),
        (format!(r#"(?i)\b({SECRET_NAME})({separator})([^\s&;,'"\[{{(\\][^\s&;,'"]*)"#), "${1}${2}[REDACTED]"),
        // ODBC and DSN strings: `Pwd=...;`, `password=...` (the value does not start a path).
        (r#"(?i)\b(pwd|password|passwd)(\s*=\s*)([^/\s&;'"\\][^\s&;'"]*)"#.into(), "${1}${2}[REDACTED]"),
    ]
}

struct Compiled {
    set: RegexSet,
    regexes: Vec<Regex>,
    replacements: Vec<&'static str>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let rules = rules();
    Compiled {
        set: RegexSet::new(rules.iter().map(|r| r.0.as_str())).expect("redaction patterns compile"),
        regexes: rules.iter().map(|r| Regex::new(&r.0).expect("redaction pattern compiles")).collect(),
        replacements: rules.iter().map(|r| r.1).collect(),
    }
});

/// `text` with every recognised secret replaced by a `[REDACTED …]` marker.
pub fn redact(text: &str) -> Cow<'_, str> {
    let c = &*COMPILED;
    let matched = c.set.matches(text);
    if !matched.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for i in matched.iter() {
        out = c.regexes[i].replace_all(&out, c.replacements[i]).into_owned();
    }
    Cow::Owned(out)
}

/// Every string in a JSON value with its secrets redacted, in place; so are the values of keys
/// that say secret (`{"password": "x"}`), which no text pattern sees once the JSON is parsed.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if v.is_string() && is_secret_name(key) {
                    *v = Value::String("[REDACTED]".into());
                } else {
                    redact_json(v);
                }
            }
        }
        _ => {}
    }
}

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i)^{SECRET_NAME}$")).expect("the secret-name pattern compiles"));

/// Whether a key or variable name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    NAME.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::{redact, redact_json};

    #[test]
    fn url_passwords() {
        assert_eq!(
            redact(r#"sql::connect("postgres://app:s3cr3t@db:5432/x")"#),
            r#"sql::connect("postgres://app:[REDACTED]@db:5432/x")"#
        );
        assert_eq!(redact("mysql://root:@127.0.0.1/test"), "mysql://root:@127.0.0.1/test");
        assert_eq!(redact("postgres://u:p%2Fq%40r@h/d"), "postgres://u:[REDACTED]@h/d");
        assert_eq!(redact("postgres://u:pa/ss@h/d"), "postgres://u:[REDACTED]@h/d");
    }

    #[test]
    fn pairs_whose_name_says_secret() {
        for (text, kept) in [
            ("host=db user=a password=hunter2 dbname=x", "host=db user=a password=[REDACTED] dbname=x"),
            ("PGPASSWORD=hunter2 psql", "PGPASSWORD=[REDACTED] psql"),
            ("MYSQL_PWD=hunter2", "MYSQL_PWD=[REDACTED]"),
            ("export DB_PASSWORD='hunter 2'", "export DB_PASSWORD='[REDACTED]'"),
            (r#"password = "hun\"ter2""#, r#"password = "[REDACTED]""#),
            (r#"["password = \"hunter2\""]"#, r#"["password = \"[REDACTED]\""]"#),
            (r##"#{password: "x1"}"##, r##"#{password: "[REDACTED]"}"##),
            (r#"{"client_secret": "abc"}"#, r#"{"client_secret": "[REDACTED]"}"#),
            ("?token=abc123&x=1", "?token=[REDACTED]&x=1"),
            ("api_key: abcdef", "api_key: [REDACTED]"),
            ("Driver={x};Uid=sa;Pwd=hunter2;", "Driver={x};Uid=sa;Pwd=[REDACTED];"),
        ] {
            assert_eq!(redact(text), kept, "{text}");
        }
        for plain in ["max_tokens: 100", "PWD=/home/app", "bypass: true", "basic understanding of it"] {
            assert_eq!(redact(plain), plain);
        }
    }

    #[test]
    fn keys_and_tokens() {
        let text = "AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let out = redact(text);
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE") && !out.contains("wJalrXUtnFEMI"), "{out}");
        let spaced = redact("aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert!(!spaced.contains("wJalrXUtnFEMI"), "{spaced}");
        for token in
            ["ghp_0123456789abcdefghijABCDEFGHIJ012345", "glpat-0123456789abcdefghij", "xoxb-123456789012-abcdefghijkl"]
        {
            assert_eq!(redact(&format!("using {token} now")), "using [REDACTED TOKEN] now");
        }
    }

    #[test]
    fn http_credentials_and_private_keys() {
        assert_eq!(redact("Authorization: Bearer abcdef0123456789"), "Authorization: Bearer [REDACTED]");
        assert_eq!(redact("Authorization: Basic dXNlcjpwYXNz"), "Authorization: Basic [REDACTED]");
        let pem = "x -----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY----- y";
        assert_eq!(redact(pem), "x [REDACTED PRIVATE KEY] y");
    }

    #[test]
    fn json_values_under_secret_keys() {
        let mut v =
            serde_json::json!({"user": "a", "password": "x", "nested": [{"api_key": "k"}], "n": "postgres://a:b@h"});
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"user": "a", "password": "[REDACTED]", "nested": [{"api_key": "[REDACTED]"}], "n": "postgres://a:[REDACTED]@h"})
        );
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(redact("let x = 1;"), std::borrow::Cow::Borrowed(_)));
    }
}
