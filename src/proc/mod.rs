//! Process memory from /proc for any runtime (JVM, Node, Python, native), and a leak verdict over
//! a series of samples.

pub mod trend;

use std::path::Path;

/// One reading of a process's memory, in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    pub pid: u32,
    /// The command name (`comm`).
    pub name: String,
    pub rss: u64,
    /// Peak RSS so far (VmHWM).
    pub rss_peak: u64,
    pub rss_anon: u64,
    pub rss_file: u64,
    pub swap: u64,
    pub virtual_size: u64,
    /// Proportional set size and private dirty bytes, from smaps_rollup (None where it cannot be
    /// read: another user's process, or an old kernel).
    pub pss: Option<u64>,
    pub private_dirty: Option<u64>,
    pub threads: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no process {pid} (it has exited, or it is not visible from here)")]
    NoProcess { pid: u32 },
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// `kB` fields of a /proc status-like file, in bytes; counts as they are.
fn field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(':')))?;
    let mut parts = line[name.len() + 1..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    Some(if parts.next() == Some("kB") { n * 1024 } else { n })
}

/// Read a process's memory now.
pub fn memory(pid: u32) -> Result<Memory, Error> {
    memory_from(Path::new("/proc"), pid)
}

fn memory_from(proc: &Path, pid: u32) -> Result<Memory, Error> {
    let dir = proc.join(pid.to_string());
    let status_path = dir.join("status");
    let status = std::fs::read_to_string(&status_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoProcess { pid },
        _ => Error::Io { path: status_path.display().to_string(), source: e },
    })?;
    let rollup = std::fs::read_to_string(dir.join("smaps_rollup")).ok();
    let get = |name| field(&status, name).unwrap_or(0);
    Ok(Memory {
        pid,
        name: status.lines().find_map(|l| l.strip_prefix("Name:")).unwrap_or("").trim().to_string(),
        rss: get("VmRSS"),
        rss_peak: get("VmHWM"),
        rss_anon: get("RssAnon"),
        rss_file: get("RssFile"),
        swap: get("VmSwap"),
        virtual_size: get("VmSize"),
        pss: rollup.as_deref().and_then(|r| field(r, "Pss")),
        private_dirty: rollup.as_deref().and_then(|r| field(r, "Private_Dirty")),
        threads: get("Threads"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory() {
        let m = memory(std::process::id()).unwrap();
        assert!(m.rss > 1 << 20 && m.rss_peak >= m.rss && m.threads >= 1, "{m:?}");
        assert!(!m.name.is_empty());
        assert!(matches!(memory(u32::MAX - 1), Err(Error::NoProcess { .. })));
    }

    #[test]
    fn fields_in_kilobytes_become_bytes() {
        let text = "Name:\tjava\nVmRSS:\t  2048 kB\nThreads:\t17\nRss: 5 kB\n";
        assert_eq!(field(text, "VmRSS"), Some(2048 * 1024));
        assert_eq!(field(text, "Threads"), Some(17));
        assert_eq!(field(text, "Rss"), Some(5 * 1024));
        assert_eq!(field(text, "VmSwap"), None);
    }
}
