//! Where deployclaw keeps its state: keys, session logs, history.

use std::path::PathBuf;

/// The state directory and the files in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Home(pub PathBuf);

impl Home {
    /// `$DEPLOYCLAW_HOME`, else the user's data directory + `deployclaw`.
    pub fn from_env() -> Home {
        if let Some(dir) = std::env::var_os("DEPLOYCLAW_HOME").filter(|d| !d.is_empty()) {
            return Home(PathBuf::from(dir));
        }
        let base = dirs::data_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
            .unwrap_or_else(std::env::temp_dir);
        Home(base.join("deployclaw"))
    }

    /// Where the local signing key lives.
    pub fn keys_dir(&self) -> PathBuf {
        self.0.join("keys")
    }

    /// Where session logs go unless `--log` says otherwise.
    pub fn sessions_dir(&self) -> PathBuf {
        self.0.join("sessions")
    }

    /// The digest of the last final seal written on this machine.
    pub fn last_seal_file(&self) -> PathBuf {
        self.0.join("last-seal")
    }

    /// REPL history.
    pub fn history_file(&self) -> PathBuf {
        self.0.join("history")
    }
}
