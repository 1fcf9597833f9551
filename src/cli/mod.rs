//! Command bodies for the binary: each returns its exit code.

pub mod audit;
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
