//! One row per build-log line, whatever the CI system: where it came from, the job and step it
//! belongs to, when, how severe, and the text with colours and hidden annotations removed.

use serde::{Deserialize, Serialize};

/// A CI system's log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    GithubActions,
    Jenkins,
    Codebuild,
    Plain,
}

impl Format {
    pub const NAMES: &'static str = "github-actions, jenkins, codebuild, plain";

    pub fn name(self) -> &'static str {
        match self {
            Format::GithubActions => "github-actions",
            Format::Jenkins => "jenkins",
            Format::Codebuild => "codebuild",
            Format::Plain => "plain",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "github-actions" | "github" | "gha" => Some(Format::GithubActions),
            "jenkins" => Some(Format::Jenkins),
            "codebuild" | "codepipeline" | "aws-codebuild" => Some(Format::Codebuild),
            "plain" | "text" => Some(Format::Plain),
            _ => None,
        }
    }
}

/// How severe a line is: from the CI system's own markers where it has them, else from words
/// such as `error:` or `WARN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One line of a build log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The file (or `cloudwatch:GROUP`) the line was read from.
    pub source: String,
    pub job: String,
    /// The step (GitHub Actions), stage (Jenkins) or phase (CodeBuild).
    pub step: Option<String>,
    /// RFC 3339 when the line carries a time.
    pub timestamp: Option<String>,
    pub level: Level,
    pub text: String,
    /// 1-based line number in the source.
    pub line: u64,
    /// `file:line:col` of a GitHub Actions annotation.
    pub location: Option<String>,
    /// The line says the job failed (`Finished: FAILURE`, `State: FAILED`, a non-zero exit).
    pub failure: bool,
}

/// Remove ANSI escape sequences (colours, cursor moves) and Jenkins' hidden console notes
/// (`ESC[8mha:...ESC[0m`).
pub fn strip_escapes(text: &str) -> std::borrow::Cow<'_, str> {
    // memchr's search, not `str::contains`: this runs on every line of every log.
    if memchr::memchr(0x1b, text.as_bytes()).is_none() {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(note) = rest.strip_prefix("\x1b[8mha:") {
            // A console note runs to the ESC[0m that ends the concealment.
            rest = note.find("\x1b[0m").map_or("", |end| &note[end + 4..]);
            continue;
        }
        let bytes = rest.as_bytes();
        let len = if bytes.get(1) == Some(&b'[') {
            // CSI: parameters and intermediates, then one final byte in @..~.
            bytes[2..].iter().position(|b| (0x40..=0x7e).contains(b)).map_or(bytes.len(), |p| p + 3)
        } else if bytes.get(1) == Some(&b']') {
            // OSC (e.g. hyperlinks): up to BEL or ESC \.
            rest.find(['\x07']).map(|p| p + 1).or_else(|| rest.find("\x1b\\").map(|p| p + 2)).unwrap_or(rest.len())
        } else {
            // ESC and the one character after it (which may be more than one byte).
            1 + rest[1..].chars().next().map_or(0, char::len_utf8)
        };
        rest = &rest[len..];
    }
    out.push_str(rest);
    out.into()
}

/// The text after a `name | ` prefix, as docker compose puts before each line of a service's
/// output (`api-1  | npm ERR! ...`); the text itself when it has none.
pub fn after_service_prefix(text: &str) -> &str {
    let name_len = text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))).unwrap_or(0);
    if name_len == 0 || name_len > 64 {
        return text;
    }
    // Only ASCII characters were counted, so the name ends on a character boundary.
    let rest = &text[name_len..];
    let padded = rest.trim_start_matches(' ');
    if padded.len() == rest.len() {
        return text;
    }
    match padded.strip_prefix('|') {
        Some(after) => after.strip_prefix(' ').unwrap_or(after),
        None => text,
    }
}

/// The level of a line without a CI marker, from the words it uses.
pub fn infer_level(text: &str) -> Level {
    let t = after_service_prefix(text).trim_start();
    let starts = |p: &str| t.as_bytes().get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()));
    if starts("error")
        || starts("fatal")
        || t.contains("ERROR")
        || t.contains("FATAL")
        || t.contains(" error:")
        || t.contains("error[E")
        || t.contains("panicked at")
        || t.contains("Exception")
        || t.starts_with("FAIL")
        || t.starts_with("--- FAIL")
        || t.contains(" FAILED")
        || t.contains("npm ERR!")
    {
        Level::Error
    } else if starts("warn") || t.contains("WARN") || t.contains(" warning:") {
        Level::Warning
    } else {
        Level::Info
    }
}

/// An RFC 3339 / ISO 8601 timestamp at the start of `text` (`2024-05-01T12:00:00.1234567Z`),
/// and the rest of the line after it and one space.
pub fn leading_iso_time(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let shape = b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let end = text.find(' ').filter(|&p| p > 10 && b[10] == b'T').or_else(|| {
        // "2024-05-01 12:00:00,123 rest": the time ends at the second space.
        text[11..].find(' ').map(|p| p + 11)
    })?;
    let stamp = &text[..end];
    // Two digits of seconds, then perhaps a fraction and a zone; anything else is no time.
    let valid = stamp.len() >= 19 && b[17].is_ascii_digit() && b[18].is_ascii_digit();
    valid.then(|| (stamp, text[end..].strip_prefix(' ').unwrap_or(&text[end..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_console_notes_are_removed() {
        let raw = "\x1b[8mha:////4KxVhbmRsZXI=\x1b[0m[Pipeline] \x1b[1;31mERROR\x1b[0m: done \x1b]8;;http://x\x07link";
        assert_eq!(strip_escapes(raw), "[Pipeline] ERROR: done link");
        assert_eq!(strip_escapes("plain"), "plain");
    }

    #[test]
    fn non_ascii_text_after_escapes_and_at_line_starts_is_kept_whole() {
        assert_eq!(strip_escapes("a\x1bé b"), "a b");
        assert_eq!(strip_escapes("\x1b\u{FFFD}x\x1b"), "x");
        assert_eq!(strip_escapes("\x1b[31mОшибка\x1b[0m"), "Ошибка");
        assert_eq!(infer_level("Ошибка сборки"), Level::Info);
        assert_eq!(infer_level("⚠️ warn"), Level::Info);
        assert_eq!(infer_level("错误"), Level::Info);
        assert_eq!(infer_level("error: döner"), Level::Error);
    }

    #[test]
    fn short_or_non_ascii_stamps_are_no_time() {
        assert_eq!(leading_iso_time("2024-05-01T12:00:0 x"), None);
        assert_eq!(leading_iso_time("2024-05-01T12:00:0é x y"), None);
        assert_eq!(leading_iso_time("2024-05-01 12:00:0é xxxxxxx"), None);
        assert_eq!(leading_iso_time("2024-05-01T12:00:00+02:00 x"), Some(("2024-05-01T12:00:00+02:00", "x")));
    }

    #[test]
    fn service_prefixes_are_looked_past() {
        assert_eq!(after_service_prefix("api-1  | npm ERR! code ERESOLVE"), "npm ERR! code ERESOLVE");
        assert_eq!(after_service_prefix("db_1 |"), "");
        assert_eq!(after_service_prefix("| a | b |"), "| a | b |");
        assert_eq!(after_service_prefix("a|b"), "a|b");
        assert_eq!(after_service_prefix("Ошибка | x"), "Ошибка | x");
        assert_eq!(after_service_prefix("plain text | not a prefix"), "plain text | not a prefix");
        assert_eq!(infer_level("worker.1 | ERROR: boom"), Level::Error);
    }

    #[test]
    fn levels_come_from_words() {
        assert_eq!(infer_level("error[E0308]: mismatched types"), Level::Error);
        assert_eq!(infer_level("thread 'main' panicked at src/lib.rs:3:5"), Level::Error);
        assert_eq!(infer_level("warning: unused variable"), Level::Warning);
        assert_eq!(infer_level("   Compiling foo v0.1.0"), Level::Info);
    }

    #[test]
    fn leading_times_are_split_off() {
        assert_eq!(
            leading_iso_time("2024-05-01T12:00:00.1234567Z ##[group]Run x"),
            Some(("2024-05-01T12:00:00.1234567Z", "##[group]Run x"))
        );
        assert_eq!(leading_iso_time("2024-05-01 12:00:00,123 ERROR x"), Some(("2024-05-01 12:00:00,123", "ERROR x")));
        assert_eq!(leading_iso_time("no time here at all, really"), None);
    }
}
