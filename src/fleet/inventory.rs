//! Where a service's instances run, from an inventory file, and the instances found there.
//!
//! ```toml
//! [services.api-svc]
//! match = "com.example.Api"          # text in the JVM's command line (default: the service name)
//! hosts = [
//!   { host = "10.0.1.45", user = "app", identity = "keys/id_ed25519", known_hosts = "keys/known_hosts" },
//!   { host = "local", match = "api-svc-canary" },   # this host's own match
//! ]
//! ```

use super::jvm::{self, JvmError};
use super::transport::{Local, Ssh, Transport};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    services: BTreeMap<String, ServiceEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    #[serde(rename = "match")]
    pattern: Option<String>,
    hosts: Vec<HostEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    host: String,
    /// Text the service's JVMs hold on this host, where it differs from the service's.
    #[serde(rename = "match")]
    pattern: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    known_hosts: Option<String>,
    /// Seconds to wait for the SSH connection.
    connect_timeout: Option<u64>,
    /// Seconds one command there may run (a heap dump of a large heap takes minutes).
    timeout: Option<u64>,
}

/// A service and the hosts its instances run on.
pub struct Service {
    pub name: String,
    pub hosts: Vec<Host>,
}

/// A host of a service: how to reach it, and which of its JVMs belong to the service.
pub struct Host {
    pub transport: Arc<dyn Transport>,
    /// Text the command line of each of the service's JVMs there holds.
    pub pattern: String,
}

/// Read an inventory. Relative key and known-hosts paths are taken from `base` (the file's folder).
pub fn parse(text: &str, base: &Path) -> Result<Vec<Service>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut services = Vec::new();
    for (name, entry) in file.services {
        if entry.hosts.is_empty() {
            return Err(format!("service {name:?} lists no hosts"));
        }
        let pattern = entry.pattern.unwrap_or_else(|| name.clone());
        let hosts = entry
            .hosts
            .into_iter()
            .map(|h| Host {
                pattern: h.pattern.clone().unwrap_or_else(|| pattern.clone()),
                transport: transport(h, base),
            })
            .collect();
        services.push(Service { name, hosts });
    }
    Ok(services)
}

fn transport(entry: HostEntry, base: &Path) -> Arc<dyn Transport> {
    if entry.host == "local" || (entry.host == "localhost" && entry.user.is_none()) {
        return Arc::new(Local { timeout: entry.timeout.map(std::time::Duration::from_secs) });
    }
    let mut ssh = Ssh::new(&entry.host);
    ssh.port = entry.port.unwrap_or(22);
    ssh.user = entry.user;
    ssh.identity = entry.identity.map(|p| base.join(p));
    ssh.known_hosts = entry.known_hosts.map(|p| base.join(p));
    if let Some(secs) = entry.connect_timeout {
        ssh.connect_timeout = std::time::Duration::from_secs(secs);
    }
    ssh.timeout = entry.timeout.map(std::time::Duration::from_secs);
    Arc::new(ssh)
}

/// One JVM of a service: `api-svc[2]` on a host.
#[derive(Clone)]
pub struct Instance {
    pub service: String,
    /// Its place among the service's instances, in inventory order, then by process id.
    pub index: usize,
    pub host: Arc<dyn Transport>,
    pub pid: u32,
    pub command: String,
    /// From `-Dservice.version` (or `app.version`), when the JVM was started with one.
    pub version: Option<String>,
}

impl Instance {
    /// `api-svc[2]`.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.service, self.index)
    }
}

/// What discovery found, and the hosts it could not ask (the others are still used).
pub struct Discovery {
    pub instances: Vec<Instance>,
    pub failed: Vec<(String, JvmError)>,
}

/// The JVMs of `service` on each of its hosts.
pub fn discover(service: &Service) -> Discovery {
    let mut found = Discovery { instances: Vec::new(), failed: Vec::new() };
    for Host { transport: host, pattern } in &service.hosts {
        let jvms = match jvm::list(host.as_ref()) {
            Ok(jvms) => jvms,
            Err(e) => {
                found.failed.push((host.name(), e));
                continue;
            }
        };
        let mut mine: Vec<_> = jvms.into_iter().filter(|j| j.command.contains(pattern.as_str())).collect();
        mine.sort_by_key(|j| j.pid);
        for jvm in mine {
            let version = jvm::system_properties(host.as_ref(), jvm.pid).ok().and_then(|p| jvm::service_version(&p));
            found.instances.push(Instance {
                service: service.name.clone(),
                index: found.instances.len(),
                host: host.clone(),
                pid: jvm.pid,
                command: jvm.command,
                version,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_names_hosts_and_how_to_reach_them() {
        let text = r#"
[services.api-svc]
match = "Api"
hosts = [{ host = "10.0.1.45", user = "app", port = 2222, identity = "keys/id" }, { host = "local", match = "ApiLocal" }]
"#;
        let services = parse(text, Path::new("/etc/dc")).unwrap();
        let patterns: Vec<&str> = services[0].hosts.iter().map(|h| h.pattern.as_str()).collect();
        assert_eq!(patterns, ["Api", "ApiLocal"]);
        let names: Vec<String> = services[0].hosts.iter().map(|h| h.transport.name()).collect();
        assert_eq!(names, ["ssh app@10.0.1.45:2222", "local"]);

        let err = parse("[services.x]\nhosts = []\n", Path::new(".")).err().unwrap();
        assert!(err.contains("lists no hosts"), "{err}");
        let err = parse("[services.x]\nhosts = [{ hots = \"a\" }]\n", Path::new(".")).err().unwrap();
        assert!(err.contains("hots"), "{err}");
    }
}
