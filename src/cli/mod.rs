//! Command bodies for the binary: each returns its exit code.

pub mod audit;
pub mod chain;
pub mod demo;
pub mod guard;
pub mod heap;
pub mod kernel;
pub mod log;
pub mod logs;
pub mod notebook;
pub mod session;

/// Exit codes, as documented in `--help`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ERROR_FINDING: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// Print an error for people: `deployclaw: <message>`.
pub fn error(message: impl std::fmt::Display) {
    eprintln!("deployclaw: {}", deployclaw::evidence::redact(&message.to_string()));
}

/// Text from a file made safe for a terminal: control characters (ESC starts sequences that
/// move the cursor, retitle the window or rewrite what is on screen) and the bidirectional
/// overrides that make text read differently from what it is, shown as `\u{..}` escapes.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden =
        |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| if hidden(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect::<String>()
        .into()
}

/// The audits `audit:NAME` may name, as runbooks and tickets often spell them.
const AUDITS: &[&str] = &["memory-leaks", "ci-failure", "tenant-isolation", "error-budget", "verify"];

/// The arguments with the first `audit:NAME` of a known audit split into `audit NAME`; any other
/// argument, file names with colons included, stays whole.
pub fn audit_spelling(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut split = false;
    for arg in args {
        let name = arg.to_str().and_then(|a| a.strip_prefix("audit:")).filter(|n| AUDITS.contains(n));
        match name {
            Some(name) if !split && !out.is_empty() => {
                out.push("audit".into());
                out.push(name.into());
                split = true;
            }
            _ => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_colon_name_is_audit_name() {
        let args = |list: &[&str]| list.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            super::audit_spelling(args(&["deployclaw", "audit:ci-failure", "--logs", "a:b.log"])),
            args(&["deployclaw", "audit", "ci-failure", "--logs", "a:b.log"])
        );
        assert_eq!(
            super::audit_spelling(args(&["deployclaw", "--json", "audit:error-budget"])),
            args(&["deployclaw", "--json", "audit", "error-budget"])
        );
        let run = args(&["deployclaw", "run", "audit:x.rhai"]);
        assert_eq!(super::audit_spelling(run.clone()), run);
        assert_eq!(
            super::audit_spelling(args(&["deployclaw", "--log", "s.jsonl", "audit:memory-leaks"])),
            args(&["deployclaw", "--log", "s.jsonl", "audit", "memory-leaks"])
        );
        assert_eq!(super::audit_spelling(args(&["deployclaw"])), args(&["deployclaw"]));
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(super::printable("plain\ttext é"), "plain\ttext é");
        assert_eq!(super::printable("a\x1b]0;owned\x07b"), "a\\u{1b}]0;owned\\u{7}b");
        assert_eq!(super::printable("x\u{202e}y\r"), "x\\u{202e}y\\u{d}");
    }
}
