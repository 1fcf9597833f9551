//! A service's instances on real test hosts (network namespaces running sshd): found from an
//! inventory, asked with jcmd over real SSH, their dumps brought back; a host that cannot be
//! reached, or whose key is not the one expected, is named and the others go on.

mod common;
use common::jvm::Jvm;
use common::netns::{TestHost, available};
use deployclaw::fleet::inventory::{self, discover};
use deployclaw::fleet::jvm;
use deployclaw::fleet::transport::{Ssh, Transport};
use std::path::Path;

fn ssh_to(host: &TestHost) -> Ssh {
    let mut ssh = Ssh::new(&host.address);
    ssh.user = Some("root".into());
    ssh.identity = Some(host.identity.clone());
    ssh.known_hosts = Some(host.known_hosts.clone());
    ssh
}

#[test]
fn a_service_on_a_test_host_is_found_and_its_heap_brought_back_over_ssh() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let dir = tempfile::tempdir().unwrap();
    let flags = ["-XX:+UseG1GC", "-Dservice.version=2.4.1"];
    let _jvm = Jvm::start_via(&host.launcher(), dir.path(), "TenantLeak", &[], &flags);
    // The JVM's command line holds its ready file, in this test's own folder.
    let pattern = dir.path().display().to_string();
    let text = format!(
        "[services.api-svc]\nmatch = \"{pattern}\"\nhosts = [{}, {{ host = \"{}\", port = 2, user = \"root\", connect_timeout = 5 }}]\n",
        host.inventory_entry(),
        host.address
    );
    let services = inventory::parse(&text, Path::new("/")).unwrap();
    let found = discover(&services[0]);

    assert_eq!(found.instances.len(), 1, "one JVM of the service");
    let instance = &found.instances[0];
    assert_eq!(instance.label(), "api-svc[0]");
    assert_eq!(instance.version.as_deref(), Some("2.4.1"));
    assert_eq!(instance.host.name(), format!("ssh root@{}:22", host.address));
    // The second host refuses connections: named, and the first one's instance is still there.
    assert_eq!(found.failed.len(), 1);
    let (name, error) = &found.failed[0];
    assert_eq!(name, &format!("ssh root@{}:2", host.address));
    assert!(error.to_string().contains("ssh failed"), "{error}");

    let histogram = jvm::class_histogram(instance.host.as_ref(), instance.pid).unwrap();
    assert!(histogram.iter().any(|r| r.class == "TenantLeak$Session" && r.instances >= 1000), "sessions counted");

    let local = dir.path().join("api-svc-0.hprof.gz");
    let fetched = jvm::heap_dump(instance.host.as_ref(), instance.pid, &local).unwrap();
    let size = std::fs::metadata(&local).unwrap().len();
    assert_eq!(fetched.bytes_moved, size, "the gzip'd dump is what crossed");
    let dump = deployclaw::heap::histogram::histogram_file(&local, &mut |_| true).unwrap();
    let sessions = dump.rows.iter().find(|r| r.class == "TenantLeak$Session").expect("the dump holds the sessions");
    assert!(sessions.instances >= 1000);
}

#[test]
fn a_host_whose_key_is_not_the_expected_one_is_refused() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", other.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(keygen.success());
    let known = dir.path().join("known_hosts");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    std::fs::write(&known, format!("{} {other_pub}", host.address)).unwrap();
    let mut ssh = ssh_to(&host);
    ssh.known_hosts = Some(known.clone());
    let err = ssh.run("true", &[]).unwrap_err().to_string();
    assert!(err.contains("Host key verification failed"), "{err}");
    assert!(err.contains(&known.display().to_string()) && err.contains("ssh-keyscan"), "says what to do: {err}");
}

#[test]
fn arguments_reach_the_remote_command_as_they_are() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let ssh = ssh_to(&host);
    for word in ["plain", "a b", "it's", "$(touch /tmp/deployclaw-owned)", "`id`", "a;b", "*", "\\n", "-x"] {
        let ran = ssh.run("printf", &["%s", word]).unwrap();
        assert!(ran.success, "{}", ran.text());
        assert_eq!(String::from_utf8_lossy(&ran.stdout), word);
    }
    assert!(!Path::new("/tmp/deployclaw-owned").exists());
}
