//! A service's instances on real test hosts (network namespaces running sshd): found from an
//! inventory, asked with jcmd over real SSH, their dumps brought back; a host that cannot be
//! reached, or whose key is not the one expected, is named and the others go on.

mod common;
use common::jvm::Jvm;
use common::netns::{TestHost, available};
use deployclaw::fleet::inventory::{self, discover};
use deployclaw::fleet::transport::{Ssh, Transport, TransportError};
use deployclaw::fleet::{gather, jvm, outlier};
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
        "[services.api-svc]\nhosts = [{}, {{ host = \"{}\", port = 2, user = \"root\", connect_timeout = 5 }}]\n",
        host.inventory_entry(&pattern),
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

/// A transport that records the programs it runs, to show which ones a step needs.
struct Recording<'t> {
    inner: &'t dyn Transport,
    ran: std::sync::Mutex<Vec<String>>,
}

impl Transport for Recording<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn run(&self, program: &str, args: &[&str]) -> Result<deployclaw::fleet::transport::Ran, TransportError> {
        self.ran.lock().unwrap().push(program.to_string());
        self.inner.run(program, args)
    }
    fn fetch(&self, remote: &str, local: &Path) -> Result<u64, TransportError> {
        self.inner.fetch(remote, local)
    }
}

/// Discovery reads the host's process table: the same JVMs and commands as `jcmd -l`, the
/// version from the command line, and no JVM started there for it. A command line the launcher
/// grammar cannot place (an @argfile) is left to jcmd, which gives the same answer.
#[test]
fn discovery_reads_the_process_table_and_starts_no_jvm_there() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let ssh = ssh_to(&host);
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().display().to_string();
    let _plain =
        Jvm::start_via(&host.launcher(), &dir.path().join("a"), "TenantLeak", &["x y"], &["-Dservice.version=2.4.1"]);

    let recording = Recording { inner: &ssh, ran: Default::default() };
    let launched = jvm::list_launched(&recording, &pattern).unwrap();
    assert_eq!(*recording.ran.lock().unwrap(), ["sh"], "one shell, no jcmd");
    let by_jcmd = jvm::list(&ssh).unwrap();
    let mine: Vec<_> = launched.iter().filter(|j| j.command.contains(&pattern)).collect();
    assert_eq!(mine.len(), 1, "{launched:?}");
    let same = by_jcmd.iter().find(|j| j.pid == mine[0].pid).expect("jcmd -l lists it too");
    assert_eq!(same.command, mine[0].command, "the command as jcmd shows it");
    assert!(mine[0].command.ends_with(" x y"), "{}", mine[0].command);
    assert_eq!(jvm::service_version(&mine[0].properties).as_deref(), Some("2.4.1"));

    // An @argfile: the process table cannot tell what is in it, jcmd can.
    let argfile = dir.path().join("opts");
    std::fs::write(&argfile, "-Dservice.version=9.9\n").unwrap();
    let _argfile = Jvm::start_via(
        &host.launcher(),
        &dir.path().join("b"),
        "TenantLeak",
        &[],
        &[&format!("@{}", argfile.display())],
    );
    let recording = Recording { inner: &ssh, ran: Default::default() };
    let launched = jvm::list_launched(&recording, &pattern).unwrap();
    assert_eq!(*recording.ran.lock().unwrap(), ["sh", "jcmd"]);
    assert_eq!(launched.iter().filter(|j| j.command.contains(&pattern)).count(), 2, "{launched:?}");
    let services = inventory::parse(
        &format!("[services.api-svc]\nhosts = [{}]\n", host.inventory_entry(&pattern)),
        Path::new("/"),
    )
    .unwrap();
    let mut versions: Vec<_> = discover(&services[0]).instances.iter().map(|i| i.version.clone()).collect();
    versions.sort();
    assert_eq!(
        versions,
        [Some("2.4.1".to_string()), Some("9.9".to_string())],
        "from jcmd's properties for the argfile"
    );
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

/// A file sent to a host arrives whole and private, is never written over, and a name with
/// shell characters in it stays a name.
#[test]
fn a_file_sent_over_ssh_arrives_whole_private_and_never_over_another() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let ssh = ssh_to(&host);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("payload");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&local, &bytes).unwrap();
    // The test host shares this machine's files: what arrives there can be read here.
    let remote = dir.path().join("sent $(touch owned) 'x'; `id`");
    let remote_text = remote.display().to_string();
    assert_eq!(ssh.send(&local, &remote_text).unwrap(), bytes.len() as u64);
    assert_eq!(std::fs::read(&remote).unwrap(), bytes);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&remote).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "nothing but the file was made");

    std::fs::write(&local, b"other").unwrap();
    let err = ssh.send(&local, &remote_text).unwrap_err().to_string();
    assert!(err.contains("cannot copy") && err.contains("exist"), "the remote shell's refusal is said: {err}");
    assert_eq!(std::fs::read(&remote).unwrap(), bytes, "the first file stands");
}

#[test]
fn commands_to_one_host_share_one_connection() {
    if !available() {
        return;
    }
    let host = TestHost::start();
    let home = tempfile::tempdir().unwrap();
    let mut ssh = ssh_to(&host);
    ssh.control_dir = deployclaw::fleet::transport::control_dir(home.path());
    let dir = ssh.control_dir.clone().expect("a short private folder is used");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
    // The first command leaves the connection open (its socket), and the next go over it.
    for _ in 0..3 {
        assert!(ssh.run("true", &[]).unwrap().success);
    }
    let sockets: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(sockets.len(), 1, "one shared connection's socket");
    let control = |op: &str| {
        std::process::Command::new("ssh")
            .args(["-o", &format!("ControlPath={}/%C", dir.display()), "-O", op, "-p", "22"])
            .arg(format!("root@{}", host.address))
            .output()
            .unwrap()
    };
    let check = control("check");
    assert!(String::from_utf8_lossy(&check.stderr).contains("Master running"), "{check:?}");
    // Shut it down so it does not outlive the test host.
    control("exit");
    let long = Path::new("/tmp").join("x".repeat(60));
    assert_eq!(deployclaw::fleet::transport::control_dir(&long), None, "too long for a socket path");
}

#[test]
fn three_instances_asked_at_once_and_the_one_that_grew_is_the_outlier() {
    if !available() {
        return;
    }
    let hosts: Vec<TestHost> = (0..3).map(|_| TestHost::start()).collect();
    let dir = tempfile::tempdir().unwrap();
    let jvms: Vec<Jvm> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let own = dir.path().join(i.to_string());
            std::fs::create_dir_all(&own).unwrap();
            Jvm::start_via(&host.launcher(), &own, "TenantLeak", &[], &["-XX:+UseG1GC"])
        })
        .collect();
    // The third grows its sessions again: twice the others'.
    let ready = jvms[2].dir.join("TenantLeak.ready");
    std::fs::write(ready.with_extension("ready.go"), "").unwrap();
    let grown = ready.with_extension("ready.2");
    let started = std::time::Instant::now();
    while !grown.exists() {
        assert!(started.elapsed().as_secs() < 60, "the JVM did not grow");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let entries: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| host.inventory_entry(&format!("{}/", dir.path().join(i.to_string()).display())))
        .collect();
    let text = format!("[services.api-svc]\nhosts = [{}]\n", entries.join(", "));
    let services = inventory::parse(&text, Path::new("/")).unwrap();
    let found = discover(&services[0]);
    assert_eq!(found.instances.len(), 3, "failed: {:?}", found.failed.iter().map(|f| &f.0).collect::<Vec<_>>());

    let progress = std::sync::Mutex::new(Vec::new());
    let answers = gather::each(&found.instances, 3, |i| jvm::class_histogram(i.host.as_ref(), i.pid), &|p| {
        if let gather::Progress::Finished(i, _, error) = p {
            progress.lock().unwrap().push((i.label(), error.is_none()));
        }
    });
    assert_eq!(progress.lock().unwrap().len(), 3);
    let histograms: Vec<_> = answers.iter().map(|a| a.result.as_ref().unwrap()).collect();
    let samples: Vec<outlier::Sample> = answers
        .iter()
        .zip(&histograms)
        .map(|(a, rows)| outlier::Sample { label: a.instance.label(), classes: rows })
        .collect();
    let standings = outlier::standings(&samples, 0.10, 5);
    let outliers: Vec<&str> = standings.iter().filter(|s| s.outlier).map(|s| s.label.as_str()).collect();
    assert_eq!(outliers, ["api-svc[2]"], "{standings:?}");
    let classes: Vec<&str> = standings[2].difference.iter().map(|(c, _)| c.as_str()).collect();
    assert!(classes.contains(&"TenantLeak$Session"), "{classes:?}");
}
