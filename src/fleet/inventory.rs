//! Where a service's instances run, from an inventory file, and the instances found there.
//!
//! ```toml
//! [services.api-svc]
//! match = "com.example.Api"          # text in the JVM's command line (default: the service name)
//! hosts = [
//!   { host = "10.0.1.45", user = "app", identity = "keys/id_ed25519", known_hosts = "keys/known_hosts" },
//!   { host = "local", match = "api-svc-canary" },   # this host's own match
//!   { ssm = "i-0123456789abcdef0" },                 # an EC2 instance, by SSM Run Command
//!   { host = "10.0.1.46", deployclaw = "/usr/local/bin/deployclaw" },  # dumps analysed there
//! ]
//!
//! # Services whose hosts are the running tasks of an ECS service of the same name.
//! [ecs]
//! cluster = "prod"
//! services = ["worker-svc"]
//! reach = { user = "app", identity = "keys/id_ed25519", known_hosts = "keys/known_hosts" }
//! addresses = { "10.0.1.46" = "127.0.0.1:2201" }   # a task's address as reached from here
//!
//! # Services whose hosts are the running EC2 instances tagged `service = NAME`.
//! [ec2]
//! tag = "service"              # the default
//! version_tag = "version"      # the tag that names the version an instance runs
//! services = ["batch-processor"]
//! reach = { user = "app", identity = "keys/id_ed25519", known_hosts = "keys/known_hosts" }
//! # ssm = true                 # reach each instance by SSM Run Command instead of SSH
//! ```

use super::ecs;
use super::jvm::{self, JvmError};
use super::transport::{Local, Ssh, Transport};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    services: BTreeMap<String, ServiceEntry>,
    ecs: Option<EcsEntry>,
    ec2: Option<Ec2Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    #[serde(rename = "match")]
    pattern: Option<String>,
    #[serde(default)]
    hosts: Vec<HostEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EcsEntry {
    cluster: String,
    services: Vec<String>,
    /// How every task's address is reached: the keys of a host entry, without `host`.
    #[serde(default)]
    reach: HostEntry,
    /// A task's address as it is reached from here (`HOST` or `HOST:PORT`), where it differs.
    #[serde(default)]
    addresses: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ec2Entry {
    /// The tag whose value is the service's name.
    #[serde(default = "service_tag")]
    tag: String,
    /// The tag whose value is the version an instance runs.
    version_tag: Option<String>,
    services: Vec<String>,
    /// Reach each instance with SSM Run Command (by its id) instead of SSH at its address.
    #[serde(default)]
    ssm: bool,
    #[serde(default)]
    reach: HostEntry,
    #[serde(default)]
    addresses: BTreeMap<String, String>,
}

fn service_tag() -> String {
    "service".into()
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    #[serde(default)]
    host: String,
    /// An EC2 instance id reached with SSM Run Command instead of SSH.
    ssm: Option<String>,
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
    /// Where deployclaw is installed on the host: dumps are then analysed there and only the
    /// results come back (near-data mode).
    deployclaw: Option<String>,
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
    /// The ECS task or EC2 instance this host is, when AWS named it.
    pub task: Option<ecs::Task>,
    /// deployclaw on the host, where the inventory says it is installed.
    pub deployclaw: Option<String>,
}

/// An inventory: services with their hosts, and services whose hosts ECS or EC2 knows.
pub struct Inventory {
    pub services: Vec<Service>,
    pub ecs: Option<Ecs>,
    pub ec2: Option<Ec2>,
    /// Each ECS or EC2 service's `match`, from its `[services.NAME]` entry (default: its name).
    patterns: BTreeMap<String, String>,
    base: std::path::PathBuf,
}

/// How the hosts AWS names are reached: the keys of a host entry for all of them, and the
/// addresses that are reached another way.
struct Reach {
    entry: HostEntry,
    addresses: BTreeMap<String, String>,
    /// By SSM Run Command with the instance id, not SSH at the address.
    ssm: bool,
}

/// Where ECS services run, and how their tasks are reached.
pub struct Ecs {
    pub cluster: String,
    pub services: Vec<String>,
    reach: Reach,
}

/// Services whose instances are the EC2 instances tagged with their name.
pub struct Ec2 {
    pub tag: String,
    pub version_tag: Option<String>,
    pub services: Vec<String>,
    reach: Reach,
}

/// Read the inventory file at `path`; relative key and known-hosts paths are taken from its folder.
pub fn read(path: &Path) -> Result<Inventory, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("inventory {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_inventory(&text, base).map_err(|e| format!("inventory {}: {e}", path.display()))
}

/// Read an inventory with hosts only (no `[ecs]` or `[ec2]`).
pub fn parse(text: &str, base: &Path) -> Result<Vec<Service>, String> {
    let inventory = parse_inventory(text, base)?;
    if inventory.ecs.is_some() || inventory.ec2.is_some() {
        return Err("[ecs] and [ec2] need AWS: read this inventory with inventory::read and add their hosts".into());
    }
    Ok(inventory.services)
}

/// Read an inventory. Relative key and known-hosts paths are taken from `base` (the file's folder).
pub fn parse_inventory(text: &str, base: &Path) -> Result<Inventory, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let from_ecs: Vec<String> = file.ecs.as_ref().map(|e| e.services.clone()).unwrap_or_default();
    let from_ec2: Vec<String> = file.ec2.as_ref().map(|e| e.services.clone()).unwrap_or_default();
    if let Some(both) = from_ecs.iter().find(|n| from_ec2.contains(n)) {
        return Err(format!("service {both:?} is in [ecs] and in [ec2]: name it in one"));
    }
    let mut services = Vec::new();
    let mut patterns = BTreeMap::new();
    for (name, entry) in file.services {
        let pattern = entry.pattern.unwrap_or_else(|| name.clone());
        let source = if from_ecs.contains(&name) {
            Some("[ecs]: its hosts are its ECS tasks")
        } else if from_ec2.contains(&name) {
            Some("[ec2]: its hosts are its tagged EC2 instances")
        } else {
            None
        };
        if let Some(source) = source {
            if !entry.hosts.is_empty() {
                return Err(format!("service {name:?} lists hosts and is in {source}"));
            }
            patterns.insert(name, pattern);
            continue;
        }
        if entry.hosts.is_empty() {
            return Err(format!("service {name:?} lists no hosts (and [ecs] does not name it)"));
        }
        let hosts = entry
            .hosts
            .into_iter()
            .map(|h| {
                if h.host.is_empty() == h.ssm.is_none() {
                    return Err(format!(
                        "service {name:?}: each host entry has `host` or `ssm` (an instance id), not both"
                    ));
                }
                Ok(Host {
                    pattern: h.pattern.clone().unwrap_or_else(|| pattern.clone()),
                    deployclaw: h.deployclaw.clone().filter(|d| !d.is_empty()),
                    transport: transport(h, base),
                    task: None,
                })
            })
            .collect::<Result<_, String>>()?;
        services.push(Service { name, hosts });
    }
    let ecs = match file.ecs {
        None => None,
        Some(e) => {
            if e.services.is_empty() {
                return Err("[ecs] names no services".into());
            }
            let reach = reach_of("[ecs]", e.reach, e.addresses, false)?;
            Some(Ecs { cluster: e.cluster, services: e.services, reach })
        }
    };
    let ec2 = match file.ec2 {
        None => None,
        Some(e) => {
            if e.services.is_empty() {
                return Err("[ec2] names no services".into());
            }
            let reach = reach_of("[ec2]", e.reach, e.addresses, e.ssm)?;
            Some(Ec2 { tag: e.tag, version_tag: e.version_tag, services: e.services, reach })
        }
    };
    for name in from_ecs.iter().chain(&from_ec2) {
        patterns.entry(name.clone()).or_insert_with(|| name.clone());
    }
    Ok(Inventory { services, ecs, ec2, patterns, base: base.to_path_buf() })
}

fn reach_of(section: &str, entry: HostEntry, addresses: BTreeMap<String, String>, ssm: bool) -> Result<Reach, String> {
    if !entry.host.is_empty() || entry.ssm.is_some() {
        return Err(format!(
            "{section} reach: each host is reached at its own address (or, with ssm = true, by its id); leave out `host` and `ssm`"
        ));
    }
    Ok(Reach { entry, addresses, ssm })
}

impl Inventory {
    /// Add an ECS service and its running tasks as hosts, each reached at its address (or the
    /// address `[ecs] addresses` maps it to). Tasks with no address are returned, not added.
    pub fn add_ecs_service(&mut self, name: &str, tasks: Vec<ecs::Task>) -> Vec<ecs::Task> {
        let Some(ecs) = &self.ecs else { return tasks };
        let (hosts, left) = self.hosts(&ecs.reach, name, tasks);
        self.services.push(Service { name: name.to_string(), hosts });
        left
    }

    /// Add an EC2 service and its tagged instances as hosts, as [`Inventory::add_ecs_service`]
    /// does (or each reached by SSM with its id, where `[ec2] ssm = true`).
    pub fn add_ec2_service(&mut self, name: &str, instances: Vec<ecs::Task>) -> Vec<ecs::Task> {
        let Some(ec2) = &self.ec2 else { return instances };
        let (hosts, left) = self.hosts(&ec2.reach, name, instances);
        self.services.push(Service { name: name.to_string(), hosts });
        left
    }

    fn hosts(&self, reach: &Reach, name: &str, tasks: Vec<ecs::Task>) -> (Vec<Host>, Vec<ecs::Task>) {
        let pattern = self.patterns.get(name).cloned().unwrap_or_else(|| name.to_string());
        let mut hosts = Vec::new();
        let mut unreachable = Vec::new();
        for task in tasks {
            let mut entry = reach.entry.clone();
            if reach.ssm {
                entry.ssm = Some(task.id.clone());
            } else {
                let Some(address) = task.address.clone() else {
                    unreachable.push(task);
                    continue;
                };
                let reached = reach.addresses.get(&address).cloned().unwrap_or(address);
                // `HOST:PORT` (an IPv6 address stays whole: it has more than one colon).
                match reached.rsplit_once(':') {
                    Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => {
                        entry.host = host.to_string();
                        entry.port = port.parse().ok();
                    }
                    _ => entry.host = reached,
                }
            }
            hosts.push(Host {
                pattern: pattern.clone(),
                deployclaw: entry.deployclaw.clone().filter(|d| !d.is_empty()),
                transport: transport(entry, &self.base),
                task: Some(task),
            });
        }
        (hosts, unreachable)
    }
}

fn transport(entry: HostEntry, base: &Path) -> Arc<dyn Transport> {
    if let Some(instance) = &entry.ssm {
        let mut ssm = super::ssm::Ssm::new(instance);
        if let Some(secs) = entry.timeout {
            ssm.timeout = std::time::Duration::from_secs(secs);
        }
        return Arc::new(ssm);
    }
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
    ssh.control_dir = super::transport::control_dir(&crate::paths::Home::from_env().0);
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
    /// From `-Dservice.version` (or `app.version`), when the JVM was started with one, else
    /// the tag of its ECS task's image.
    pub version: Option<String>,
    /// The ECS task it runs in, when ECS named its host.
    pub task: Option<String>,
    /// deployclaw on its host, for near-data analysis.
    pub deployclaw: Option<String>,
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

/// A JVM and the version it runs, where known.
type Versioned = (jvm::Jvm, Option<String>);

/// Hosts asked at once during discovery: each ask is an ssh process that mostly waits.
const HOSTS_AT_ONCE: usize = 8;

/// The JVMs of `service` on each of its hosts, a few hosts at a time; instances are numbered
/// in inventory order, then by process id.
pub fn discover(service: &Service) -> Discovery {
    let mut found = Discovery { instances: Vec::new(), failed: Vec::new() };
    for hosts in service.hosts.chunks(HOSTS_AT_ONCE) {
        let asked: Vec<Result<Vec<Versioned>, JvmError>> = std::thread::scope(|scope| {
            let asking: Vec<_> = hosts.iter().map(|h| scope.spawn(move || jvms_of(h))).collect();
            asking.into_iter().zip(hosts).map(|(a, h)| a.join().unwrap_or_else(|_| Err(panicked(h)))).collect()
        });
        for (Host { transport: host, task, deployclaw, .. }, answer) in hosts.iter().zip(asked) {
            let jvms = match answer {
                Ok(jvms) => jvms,
                Err(e) => {
                    found.failed.push((host.name(), e));
                    continue;
                }
            };
            for (jvm, version) in jvms {
                found.instances.push(Instance {
                    service: service.name.clone(),
                    index: found.instances.len(),
                    host: host.clone(),
                    pid: jvm.pid,
                    command: jvm.command,
                    version,
                    task: task.as_ref().map(|t| t.id.clone()),
                    deployclaw: deployclaw.clone(),
                });
            }
        }
    }
    found
}

/// The service's JVMs on one host, by process id, each with its version: the one it was
/// started with, else the tag AWS gives its task or instance.
fn jvms_of(host: &Host) -> Result<Vec<Versioned>, JvmError> {
    let pattern = host.pattern.as_str();
    let mut mine: Vec<_> = jvm::list_launched(host.transport.as_ref(), pattern)?
        .into_iter()
        .filter(|j| j.command.contains(pattern))
        .collect();
    mine.sort_by_key(|j| j.pid);
    Ok(mine
        .into_iter()
        .map(|j| {
            // A -D option on the command line, else what the JVM holds (a property set by
            // JAVA_TOOL_OPTIONS or in code), else the tag AWS gives the task.
            let version = jvm::service_version(&j.properties)
                .or_else(|| {
                    jvm::system_properties(host.transport.as_ref(), j.pid).ok().and_then(|p| jvm::service_version(&p))
                })
                .or_else(|| host.task.as_ref().and_then(ecs::Task::version).map(String::from));
            (jvm::Jvm { pid: j.pid, command: j.command }, version)
        })
        .collect())
}

fn panicked(host: &Host) -> JvmError {
    JvmError::Command { host: host.transport.name(), command: "discovery".into(), output: "its thread panicked".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_names_hosts_and_how_to_reach_them() {
        let text = r#"
[services.api-svc]
match = "Api"
hosts = [
  { host = "10.0.1.45", user = "app", port = 2222, identity = "keys/id", deployclaw = "/opt/dc/deployclaw" },
  { host = "local", match = "ApiLocal" },
  { ssm = "i-0abc" },
]
"#;
        let services = parse(text, Path::new("/etc/dc")).unwrap();
        let patterns: Vec<&str> = services[0].hosts.iter().map(|h| h.pattern.as_str()).collect();
        assert_eq!(patterns, ["Api", "ApiLocal", "Api"]);
        let names: Vec<String> = services[0].hosts.iter().map(|h| h.transport.name()).collect();
        assert_eq!(names, ["ssh app@10.0.1.45:2222", "local", "ssm i-0abc"]);
        let near: Vec<Option<&str>> = services[0].hosts.iter().map(|h| h.deployclaw.as_deref()).collect();
        assert_eq!(near, [Some("/opt/dc/deployclaw"), None, None]);
        let err = parse("[services.x]\nhosts = [{ host = \"h\", ssm = \"i-1\" }]\n", Path::new(".")).err().unwrap();
        assert!(err.contains("has `host` or `ssm`"), "{err}");

        let err = parse("[services.x]\nhosts = []\n", Path::new(".")).err().unwrap();
        assert!(err.contains("lists no hosts"), "{err}");
        let err = parse("[services.x]\nhosts = [{ hots = \"a\" }]\n", Path::new(".")).err().unwrap();
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn ecs_tasks_become_hosts_reached_at_their_mapped_addresses() {
        let text = r#"
[services.api-svc]
match = "Api"
[ecs]
cluster = "prod"
services = ["api-svc", "worker"]
reach = { user = "app", identity = "keys/id" }
addresses = { "10.0.1.45" = "127.0.0.1:2201" }
"#;
        let mut inventory = parse_inventory(text, Path::new("/etc/dc")).unwrap();
        assert!(inventory.services.is_empty(), "ECS services have no hosts until their tasks are read");
        let task = |id: &str, address: Option<&str>| ecs::Task {
            id: id.into(),
            address: address.map(String::from),
            image: Some("repo/api:2.4.1".into()),
            version: None,
        };
        let left = inventory.add_ecs_service(
            "api-svc",
            vec![task("a", Some("10.0.1.45")), task("b", Some("10.0.1.46")), task("c", None)],
        );
        assert_eq!(left, vec![task("c", None)], "a task without an address is handed back");
        let hosts = &inventory.services[0].hosts;
        let names: Vec<String> = hosts.iter().map(|h| h.transport.name()).collect();
        assert_eq!(names, ["ssh app@127.0.0.1:2201", "ssh app@10.0.1.46:22"]);
        assert!(hosts.iter().all(|h| h.pattern == "Api"));
        assert_eq!(hosts[1].task.as_ref().map(|t| t.id.as_str()), Some("b"));
        inventory.add_ecs_service("worker", vec![]);
        assert_eq!(inventory.services[1].hosts.len(), 0);

        let ec2 = "[ec2]\nservices = [\"batch\"]\nversion_tag = \"v\"\nssm = true\nreach = { timeout = 60 }\n";
        let mut inventory = parse_inventory(ec2, Path::new(".")).unwrap();
        let instance = ecs::Task { id: "i-0abc".into(), address: None, image: None, version: Some("3.1".into()) };
        assert!(inventory.add_ec2_service("batch", vec![instance]).is_empty(), "by SSM, no address is needed");
        let host = &inventory.services[0].hosts[0];
        assert_eq!(host.transport.name(), "ssm i-0abc");
        assert_eq!(host.task.as_ref().and_then(ecs::Task::version), Some("3.1"));
        let twice = "[ecs]\ncluster = \"c\"\nservices = [\"a\"]\n[ec2]\nservices = [\"a\"]\n";
        assert!(parse_inventory(twice, Path::new(".")).err().unwrap().contains("in [ecs] and in [ec2]"));

        let both = "[services.a]\nhosts = [{ host = \"h\" }]\n[ecs]\ncluster = \"c\"\nservices = [\"a\"]\n";
        assert!(parse_inventory(both, Path::new(".")).err().unwrap().contains("its hosts are its ECS tasks"));
        assert!(
            parse("[ecs]\ncluster = \"c\"\nservices = [\"a\"]\n", Path::new(".")).err().unwrap().contains("need AWS")
        );
    }
}
