//! The JVMs on a host and what `jcmd` tells about each, through any [`Transport`].

use super::launcher::{self, Launched};
use super::transport::{Transport, TransportError};
use crate::heap::histogram::ClassRow;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum JvmError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{host}: jcmd {command} failed: {output}")]
    Jcmd { host: String, command: String, output: String },
    #[error("{host}: {command} failed: {output}")]
    Command { host: String, command: String, output: String },
}

/// A JVM as `jcmd -l` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Jvm {
    pub pid: u32,
    /// The main class or jar, then its arguments.
    pub command: String,
}

fn jcmd(host: &dyn Transport, args: &[&str]) -> Result<String, JvmError> {
    let ran = host.run("jcmd", args)?;
    let text = ran.text();
    if !ran.success {
        return Err(JvmError::Jcmd { host: host.name(), command: args.join(" "), output: text.trim().to_string() });
    }
    Ok(text)
}

/// The JVMs running on `host` (jcmd itself left out).
pub fn list(host: &dyn Transport) -> Result<Vec<Jvm>, JvmError> {
    let text = jcmd(host, &["-l"])?;
    Ok(parse_list(&text))
}

/// The JVMs running on `host` with their command lines and `-D` properties: read from its
/// process table (no JVM started there), or from `jcmd -l` where the table cannot say or shows
/// no JVM whose command holds `wanted` (jcmd also finds JVMs in containers).
pub fn list_launched(host: &dyn Transport, wanted: &str) -> Result<Vec<Launched>, JvmError> {
    let ran = host.run("sh", &["-c", launcher::SCRIPT])?;
    let found = if ran.success && !host.cut(&ran) { launcher::parse(&ran.stdout) } else { None };
    if let Some(found) = found.filter(|found| found.iter().any(|j| j.command.contains(wanted))) {
        return Ok(found);
    }
    let listed = list(host)?.into_iter();
    Ok(listed.map(|j| Launched { pid: j.pid, command: j.command, properties: BTreeMap::new() }).collect())
}

/// `jcmd -l` output: `PID MAIN ARGS...` per line.
pub fn parse_list(text: &str) -> Vec<Jvm> {
    text.lines()
        .filter_map(|line| {
            let (pid, command) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let pid = pid.parse().ok()?;
            let command = command.trim().to_string();
            (!command.starts_with("jdk.jcmd/")).then_some(Jvm { pid, command })
        })
        .collect()
}

/// `jcmd PID VM.system_properties`, as a map (Java properties escapes undone).
pub fn system_properties(host: &dyn Transport, pid: u32) -> Result<BTreeMap<String, String>, JvmError> {
    let text = jcmd(host, &[&pid.to_string(), "VM.system_properties"])?;
    Ok(parse_properties(&text))
}

/// `key=value` lines as `java.util.Properties` writes them (`\:`, `\=`, `\\`, `\n`, `\uXXXX`).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || !line.contains('=') {
            continue;
        }
        // The first `=` not escaped ends the key.
        let mut key = String::new();
        let mut chars = line.chars();
        let mut escaped = false;
        for c in chars.by_ref() {
            if escaped {
                key.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '=' {
                break;
            } else {
                key.push(c);
            }
        }
        out.insert(key, unescape(chars.as_str()));
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The service version a JVM was started with: `-Dservice.version=...`, else
/// `-Dapp.version`, else the `Implementation-Version` the JVM reports as `service.version`.
pub fn service_version(properties: &BTreeMap<String, String>) -> Option<String> {
    ["service.version", "app.version", "version"].iter().find_map(|k| properties.get(*k).cloned())
}

/// `jcmd PID GC.class_histogram` on `host`.
pub fn class_histogram(host: &dyn Transport, pid: u32) -> Result<Vec<ClassRow>, JvmError> {
    let text = jcmd(host, &[&pid.to_string(), "GC.class_histogram"])?;
    let rows = crate::heap::live::parse_class_histogram(&text);
    if rows.is_empty() {
        let output = text.trim().to_string();
        return Err(JvmError::Jcmd { host: host.name(), command: "GC.class_histogram".into(), output });
    }
    Ok(rows)
}

/// A dump taken on a host and brought here.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// Bytes that crossed the network (0 on this machine): the gzip'd dump.
    pub bytes_moved: u64,
    /// The dump's size on its host.
    pub dump_bytes: u64,
}

/// A fresh, private folder on `host` for its dumps: they hold the heap's secrets. jcmd attaches
/// only as the JVM's own user, who owns this folder too, so it stays 0700.
pub fn private_dir(host: &dyn Transport) -> Result<String, JvmError> {
    let made = host.run("mktemp", &["-d", "/tmp/deployclaw-dump.XXXXXXXX"])?;
    let dir = String::from_utf8_lossy(&made.stdout).trim().to_string();
    if !made.success || !dir.starts_with("/tmp/deployclaw-dump.") {
        return Err(JvmError::Jcmd { host: host.name(), command: "mktemp -d".into(), output: made.text() });
    }
    Ok(dir)
}

/// Remove a folder [`private_dir`] made, and the dumps in it. Best effort: a host that went
/// away keeps it until its /tmp is cleaned.
pub fn remove_dir(host: &dyn Transport, dir: &str) {
    if dir.starts_with("/tmp/deployclaw-dump.") {
        let _ = host.run("rm", &["-rf", "--", dir]);
    }
}

/// `jcmd PID GC.heap_dump -gz=1 REMOTE` on `host`: the dump stays there.
pub fn dump_there(host: &dyn Transport, pid: u32, remote: &str) -> Result<(), JvmError> {
    let ran = host.run("jcmd", &[&pid.to_string(), "GC.heap_dump", "-gz=1", remote])?;
    if !ran.text().contains("Heap dump file created") {
        return Err(JvmError::Jcmd {
            host: host.name(),
            command: "GC.heap_dump".into(),
            output: ran.text().trim().to_string(),
        });
    }
    Ok(())
}

/// The size of the file `remote` on `host`.
pub fn size_there(host: &dyn Transport, remote: &str) -> Result<u64, JvmError> {
    let stat = host.run("stat", &["-c", "%s", "--", remote])?;
    String::from_utf8_lossy(&stat.stdout).trim().parse().map_err(|_| JvmError::Jcmd {
        host: host.name(),
        command: format!("stat {remote}"),
        output: stat.text().trim().to_string(),
    })
}

/// `jcmd PID GC.heap_dump -gz=1` into a private temporary file on `host`, copied to `local`
/// (which must not exist) and removed there.
pub fn heap_dump(host: &dyn Transport, pid: u32, local: &Path) -> Result<Fetched, JvmError> {
    let dir = private_dir(host)?;
    let remote = format!("{dir}/heap.hprof.gz");
    // What was copied is the whole dump: its size needs no round trip of its own.
    let result = dump_there(host, pid, &remote).and_then(|()| {
        let bytes = host.fetch(&remote, local)?;
        Ok(Fetched { bytes_moved: if host.is_local() { 0 } else { bytes }, dump_bytes: bytes })
    });
    remove_dir(host, &dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcmd_listings_and_properties_read() {
        let jvms =
            parse_list("4242 LeakSim --tenants 8\n4300 jdk.jcmd/sun.tools.jcmd.JCmd -l\nnot a pid\n77 app.jar\n");
        assert_eq!(
            jvms,
            vec![Jvm { pid: 4242, command: "LeakSim --tenants 8".into() }, Jvm { pid: 77, command: "app.jar".into() }]
        );
        let props =
            parse_properties("#Sat Dec 06\nservice.version=2.4.1\nC\\:\\\\dir=a\\=b\\u00e9\nline.separator=\\n\n");
        assert_eq!(service_version(&props).as_deref(), Some("2.4.1"));
        assert_eq!(props["C:\\dir"], "a=bé");
        assert_eq!(props["line.separator"], "\n");
    }
}
