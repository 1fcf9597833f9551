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

/// A running process found by name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub pid: u32,
    /// The command line, arguments joined by spaces.
    pub cmdline: String,
    /// From `-Dservice.version=`, `-Dapp.version=` or `--version=` on the command line.
    pub version: Option<String>,
}

/// The version a service's command line declares.
fn declared_version(args: &[&str]) -> Option<String> {
    const KEYS: [&str; 4] = ["-Dservice.version=", "-Dapp.version=", "-Dversion=", "--version="];
    args.iter().find_map(|a| KEYS.iter().find_map(|k| a.strip_prefix(k))).map(str::to_string)
}

/// Processes other than this one whose command line has `name` as a word: a main class, a jar,
/// a `-Dservice.name=` value, a script. Sorted by pid.
pub fn find(name: &str) -> Vec<Found> {
    find_in(Path::new("/proc"), name, std::process::id())
}

fn find_in(proc: &Path, name: &str, this: u32) -> Vec<Found> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(proc) else { return found };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == this {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let text = String::from_utf8_lossy(&raw);
        let args: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
        let is_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
        let names_it = args.iter().any(|arg| {
            arg.match_indices(name).any(|(i, _)| {
                let before = arg[..i].chars().next_back();
                let after = arg[i + name.len()..].chars().next();
                !before.is_some_and(is_word) && !after.is_some_and(is_word)
            })
        });
        if names_it {
            found.push(Found { pid, cmdline: args.join(" "), version: declared_version(&args) });
        }
    }
    found.sort_by_key(|f| f.pid);
    found
}

#[cfg(test)]
mod find_tests {
    use super::*;

    #[test]
    fn a_service_is_found_by_word_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let write = |pid: u32, args: &[&str]| {
            std::fs::create_dir_all(dir.path().join(pid.to_string())).unwrap();
            std::fs::write(dir.path().join(format!("{pid}/cmdline")), args.join("\0") + "\0").unwrap();
        };
        write(10, &["java", "-Dservice.version=2.4.1", "-cp", "/srv", "com.acme.ApiSvc", "api-svc"]);
        write(11, &["java", "-jar", "/srv/api-svc-worker.jar"]);
        write(12, &["python3", "api-svc.py"]);
        write(13, &["deployclaw", "audit", "memory-leaks", "--services", "api-svc"]);
        let found = find_in(dir.path(), "api-svc", 13);
        let pids: Vec<u32> = found.iter().map(|f| f.pid).collect();
        assert_eq!(pids, [10, 12]);
        assert_eq!(found[0].version.as_deref(), Some("2.4.1"));
        assert_eq!(found[1].version, None);
    }
}
