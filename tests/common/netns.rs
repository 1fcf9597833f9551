//! Test hosts: a network namespace per host, joined to this one by a veth pair (addresses only
//! inside 10.231.0.0/16, which nothing else uses), running Debian's sshd. Each host also has a
//! mount namespace of its own with a private `/tmp/hsperfdata_root`, where JVMs announce
//! themselves: `jcmd -l` there lists the JVMs started on that host ([`TestHost::launcher`]) and
//! no others, as on a machine of its own. The rest of the file system and the process ids are
//! this machine's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestHost {
    pub namespace: String,
    pub address: String,
    /// A client key sshd accepts for root, and the known_hosts file holding the host's key.
    pub identity: PathBuf,
    pub known_hosts: PathBuf,
    sshd: Option<Child>,
    /// sshd's process id: its namespaces are the host's.
    sshd_pid: String,
    authorized: PathBuf,
    _dir: tempfile::TempDir,
}

fn run(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Whether test hosts can be made here: root, `ip netns` and sshd. Without them the tests that
/// need hosts are skipped, unless DEPLOYCLAW_REQUIRE_SERVICES says they must run.
pub fn available() -> bool {
    let ok = Path::new("/usr/sbin/sshd").exists()
        && unsafe { libc::geteuid() } == 0
        && Command::new("ip").args(["netns", "list"]).output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("DEPLOYCLAW_REQUIRE_SERVICES").is_some() {
        panic!("test hosts need root, iproute2 and openssh-server (apt-get install openssh-server)");
    }
    ok
}

impl TestHost {
    pub fn start() -> TestHost {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Unique per test process and host; interface names stay under 16 characters.
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let subnet = (std::process::id() % 200 + n * 7) % 250 + 1;
        let namespace = format!("dc-{tag}");
        let (outer, inner) = (format!("dco{tag}"), format!("dci{tag}"));
        let address = format!("10.231.{subnet}.2");
        run("ip", &["netns", "add", &namespace]);
        run("ip", &["link", "add", &outer, "type", "veth", "peer", "name", &inner]);
        run("ip", &["link", "set", &inner, "netns", &namespace]);
        run("ip", &["addr", "add", &format!("10.231.{subnet}.1/30"), "dev", &outer]);
        run("ip", &["link", "set", &outer, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", namespace.as_str()];
            all.extend_from_slice(args);
            run("ip", &all);
        };
        inside(&["ip", "addr", "add", &format!("{address}/30"), "dev", &inner]);
        inside(&["ip", "link", "set", &inner, "up"]);
        inside(&["ip", "link", "set", "lo", "up"]);

        let dir = tempfile::tempdir().unwrap();
        let key = |name: &str| {
            let path = dir.path().join(name);
            run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", path.to_str().unwrap()]);
            path
        };
        let host_key = key("host_key");
        let identity = key("id_ed25519");
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(identity.with_extension("pub"), &authorized).unwrap();
        let host_pub = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, format!("{address} {host_pub}")).unwrap();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n",
                host_key.display(),
                authorized.display(),
                dir.path().join("sshd.pid").display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        std::fs::create_dir_all("/tmp/hsperfdata_root").unwrap();
        // ip execs unshare, which execs sh, which execs sshd: the child's id is sshd's.
        let sshd = Command::new("ip")
            .args(["netns", "exec", &namespace, "unshare", "--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o mode=0755 hsperf /tmp/hsperfdata_root && exec /usr/sbin/sshd -D -e -f \"$0\"")
            .arg(&config)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let sshd_pid = sshd.id().to_string();
        let host =
            TestHost { namespace, address, identity, known_hosts, sshd: Some(sshd), sshd_pid, authorized, _dir: dir };
        host.wait_for_sshd();
        host
    }

    fn wait_for_sshd(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(
            &format!("{}:22", self.address).parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_err()
        {
            assert!(Instant::now() < deadline, "sshd in {} did not listen", self.namespace);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The launcher of a process inside this host: `nsenter` into sshd's network and mount
    /// namespaces (it execs the program in place: the process id stays the program's).
    pub fn launcher(&self) -> [&str; 6] {
        ["nsenter", "--target", self.sshd_pid.as_str(), "--net", "--mount", "--"]
    }

    /// Let the holder of `identity` (a private key beside its `.pub`) log in here too.
    pub fn authorize(&self, identity: &Path) {
        let key = std::fs::read_to_string(identity.with_extension("pub")).unwrap();
        let mut keys = std::fs::read_to_string(&self.authorized).unwrap();
        keys.push_str(&key);
        std::fs::write(&self.authorized, keys).unwrap();
    }

    /// This host in an inventory file, where the service's JVMs hold `pattern`. Test hosts
    /// share this machine's process ids, so every host's jcmd lists every test's JVMs: the
    /// pattern (a folder of the test's own) picks the ones that play this host's part.
    pub fn inventory_entry(&self, pattern: &str) -> String {
        format!(
            "{{ host = \"{}\", match = \"{pattern}\", user = \"root\", identity = \"{}\", known_hosts = \"{}\", connect_timeout = 5 }}",
            self.address,
            self.identity.display(),
            self.known_hosts.display()
        )
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        // The veth pair goes with the namespace.
        let _ = Command::new("ip").args(["netns", "del", &self.namespace]).output();
    }
}
