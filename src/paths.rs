//! Where deployclaw keeps its state: keys, session logs, history.

use std::path::PathBuf;

/// The state directory: `$DEPLOYCLAW_HOME`, else the user's data directory + `deployclaw`.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEPLOYCLAW_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("deployclaw")
}

/// Where the local signing key lives.
pub fn keys_dir() -> PathBuf {
    home().join("keys")
}

/// Where session logs go unless `--log` says otherwise.
pub fn sessions_dir() -> PathBuf {
    home().join("sessions")
}

/// The digest of the last final seal written on this machine.
pub fn last_seal_file() -> PathBuf {
    home().join("last-seal")
}

/// REPL history.
pub fn history_file() -> PathBuf {
    home().join("history")
}
