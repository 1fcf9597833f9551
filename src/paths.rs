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
        match dirs::data_dir().or_else(|| dirs::home_dir().map(|h| h.join(".local/share"))) {
            Some(base) => Home(base.join("deployclaw")),
            None => Home(private_temp_home()),
        }
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

    /// The machine's index of sealed sessions (see `evidence::chain`).
    pub fn chain_index(&self) -> PathBuf {
        self.sessions_dir().join(crate::evidence::chain::INDEX_FILE)
    }

    /// The digest of the last final seal, as machines kept it before the chain index.
    pub fn last_seal_file(&self) -> PathBuf {
        self.0.join("last-seal")
    }

    /// REPL history.
    pub fn history_file(&self) -> PathBuf {
        self.0.join("history")
    }
}

/// Without a home folder, keys and logs go to `$TMPDIR/deployclaw-UID`, a folder only this user
/// may enter: made with mode 0700, and used again only if this user owns it and no one else may
/// enter it. Otherwise (another user made it first, to read or plant keys) a fresh private folder
/// is made for this run, and a warning says so.
fn private_temp_home() -> PathBuf {
    private_home_in(&std::env::temp_dir())
}

fn private_home_in(tmp: &Path) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        let me = effective_uid();
        let dir = tmp.join(format!("deployclaw-{me}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && private_to_this_user(&m).is_ok()) {
            return dir;
        }
        use std::os::unix::fs::PermissionsExt;
        let fresh = tempfile::Builder::new()
            .prefix(&format!("deployclaw-{me}-"))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(tmp)
            .map(|d| d.keep());
        tracing::warn!(
            "{} is not this user's private folder; keys and session logs go to a new folder for this run only: set DEPLOYCLAW_HOME",
            dir.display()
        );
        fresh.unwrap_or(dir)
    }
    #[cfg(not(unix))]
    {
        tmp.join("deployclaw")
    }
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether a file or folder is this user's own and no one else may read or enter it (as ssh
/// asks of keys); if not, why, with the fix.
#[cfg(unix)]
pub fn private_to_this_user(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = effective_uid();
    if meta.uid() != me {
        return Err(format!("it belongs to user {}, not to this user ({me})", meta.uid()));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!("others may read it (mode {mode:o})"));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn private_to_this_user(_: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// Write a report, notebook or other text people share: secrets redacted
/// ([`crate::evidence::redact`]), then written as [`write_atomically`] does.
pub fn write_shared_text(path: &Path, text: &str) -> Result<(), String> {
    write_atomically(path, crate::evidence::redact(text).as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_temporary_home_is_private_or_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let home = private_home_in(tmp.path());
        assert_eq!(std::fs::metadata(&home).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(private_home_in(tmp.path()), home, "used again while it stays private");
        // Someone made it open to all: this run goes elsewhere.
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
        let other = private_home_in(tmp.path());
        assert_ne!(other, home);
        assert_eq!(std::fs::metadata(&other).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
