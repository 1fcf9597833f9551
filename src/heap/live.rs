//! Heap evidence from a running JVM through `jcmd`: dumps (checked for disk room, written
//! private, the pause measured) and class histograms (cheap: no dump).

use super::histogram::{ClassRow, java_name};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot run jcmd: {0} (it comes with the JDK; put its bin/ on PATH)")]
    NoJcmd(std::io::Error),
    #[error("jcmd {pid} {command} failed: {output}")]
    Jcmd { pid: u32, command: String, output: String },
    #[error("{path} already exists: remove it or choose another name (a dump is never overwritten)")]
    Exists { path: String },
    #[error(
        "not enough disk space for a dump of process {pid} in {dir}: about {needed} bytes needed \
         (the heap uses {used}), {free} free; choose another directory or use gzip"
    )]
    NoRoom { pid: u32, dir: String, needed: u64, used: u64, free: u64 },
    #[error("{0}")]
    Io(String),
}

/// A dump written by [`snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub path: PathBuf,
    pub bytes: u64,
    /// Seconds the JVM reported spending on the dump (the application is paused meanwhile).
    pub pause_secs: Option<f64>,
    /// Seconds the whole jcmd call took, attach included.
    pub wall_secs: f64,
    /// Heap in use before the dump, as the JVM reported it.
    pub heap_used: Option<u64>,
}

fn jcmd(pid: u32, args: &[&str]) -> Result<String, LiveError> {
    let out = Command::new("jcmd").arg(pid.to_string()).args(args).output().map_err(LiveError::NoJcmd)?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(LiveError::Jcmd { pid, command: args.join(" "), output: text.trim().to_string() });
    }
    Ok(text)
}

/// Bytes of heap in use, from `jcmd PID GC.heap_info` (`used 12345K` on the first heap line).
pub fn heap_used(pid: u32) -> Result<Option<u64>, LiveError> {
    let text = jcmd(pid, &["GC.heap_info"])?;
    Ok(text.split_whitespace().collect::<Vec<_>>().windows(2).find(|w| w[0] == "used").and_then(|w| {
        let value = w[1].trim_end_matches(',');
        let (digits, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
        let n: u64 = digits.parse().ok()?;
        Some(
            n * match unit {
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                _ => 1,
            },
        )
    }))
}

/// Free bytes on the file system holding `dir`.
pub fn free_space(dir: &Path) -> Result<u64, LiveError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|e| LiveError::Io(e.to_string()))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(LiveError::Io(format!("cannot stat {}: {}", dir.display(), std::io::Error::last_os_error())));
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// `jcmd PID GC.heap_dump [-gz=LEVEL] PATH`: refused when the file exists or its disk lacks
/// room for about 1.5x the heap in use (0.5x with gzip); the dump is made readable by its owner
/// only, since heaps hold secrets.
pub fn snapshot(pid: u32, path: &Path, gzip: Option<u32>) -> Result<Snapshot, LiveError> {
    if path.exists() {
        return Err(LiveError::Exists { path: path.display().to_string() });
    }
    let path = std::path::absolute(path).map_err(|e| LiveError::Io(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    if !dir.is_dir() {
        return Err(LiveError::Io(format!("cannot write a dump into {}: no such directory", dir.display())));
    }
    let used = heap_used(pid)?;
    if let Some(used) = used {
        let needed = if gzip.is_some() { used / 2 } else { used + used / 2 };
        let free = free_space(&dir)?;
        if free < needed {
            return Err(LiveError::NoRoom { pid, dir: dir.display().to_string(), needed, used, free });
        }
    }
    let target = path.display().to_string();
    let level = gzip.map(|l| format!("-gz={}", l.clamp(1, 9)));
    let mut args = vec!["GC.heap_dump"];
    if let Some(level) = &level {
        args.push(level);
    }
    args.push(&target);
    let started = Instant::now();
    let text = jcmd(pid, &args)?;
    // jcmd exits 0 when the command itself fails (an unwritable path, say): it prints why instead.
    if !text.contains("Heap dump file created") {
        return Err(LiveError::Jcmd { pid, command: args.join(" "), output: text.trim().to_string() });
    }
    let wall_secs = started.elapsed().as_secs_f64();
    let meta = std::fs::metadata(&path)
        .map_err(|e| LiveError::Io(format!("jcmd reported success but {target} cannot be read: {e}")))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| LiveError::Io(format!("cannot make {target} private: {e}")))?;
    // "Heap dump file created [123 bytes in 0.012 secs]"
    let pause_secs =
        text.split(" in ").nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|s| s.parse().ok());
    Ok(Snapshot { path, bytes: meta.len(), pause_secs, wall_secs, heap_used: used })
}

/// `jcmd PID GC.class_histogram`: per class instances and bytes, as the JVM counts them, with
/// class names written as the dump analyses write them (`byte[]`, not `[B`).
pub fn class_histogram(pid: u32) -> Result<Vec<ClassRow>, LiveError> {
    let text = jcmd(pid, &["GC.class_histogram"])?;
    let rows = parse_class_histogram(&text);
    if rows.is_empty() {
        return Err(LiveError::Jcmd { pid, command: "GC.class_histogram".into(), output: text.trim().to_string() });
    }
    Ok(rows)
}

pub fn parse_class_histogram(text: &str) -> Vec<ClassRow> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            parts.next()?.strip_suffix(':')?.parse::<u32>().ok()?;
            let instances: u64 = parts.next()?.parse().ok()?;
            let bytes: u64 = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            let class = if name.starts_with('[') { java_name(&name.replace('.', "/")) } else { name.to_string() };
            Some(ClassRow { class, instances, shallow_bytes: bytes, largest: 0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcmd_histograms_parse_with_java_names() {
        let text = "12345:\n num     #instances         #bytes  class name (module)\n\
                    -------------------------------------------------------\n\
                       1:          1234         567890  [B (java.base@17.0.15)\n\
                       2:            10            240  java.lang.String (java.base@17.0.15)\n\
                       3:             2             64  [Ljava.lang.Object; (java.base@17.0.15)\n\
                    Total          1246         568194\n";
        let rows = parse_class_histogram(text);
        let names: Vec<&str> = rows.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(names, ["byte[]", "java.lang.String", "java.lang.Object[]"]);
        assert_eq!((rows[0].instances, rows[0].shallow_bytes), (1234, 567890));
    }
}
