//! Where deployclaw keeps its state: keys, session logs, history.

use std::path::{Path, PathBuf};

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

    /// Public keys of remote signers (AWS KMS) this machine has signed with, trusted by `log verify`.
    pub fn trusted_keys_dir(&self) -> PathBuf {
        self.0.join("keys").join("trusted")
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

/// Write `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
