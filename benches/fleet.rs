//! The fleet audit's collection step (`fleet::snapshots`): wall time to dump three instances on three hosts against one,
//! over real SSH into test hosts (network namespaces running sshd, as the tests make them), and
//! the bytes that crossed against the dumps' size. Beside it the peer: the same dumps taken the
//! way an operator scripts them, `xargs -P` running `ssh HOST jcmd PID GC.heap_dump -gz=1` and
//! `ssh HOST cat` per host, all hosts at once.
//!
//!     sudo cargo bench --bench fleet      # root: it makes network namespaces
//!
//! Medians of RUNS runs each. The JVMs are FleetLeak instances holding a few MB each.
//!
//! Then near-data mode: three LeakSim instances (../shared/bench, read in place) of LEAKSIM_MB
//! each, dumped twice; the dumps brought here and analysed here, against the dumps left on the
//! hosts and analysed there by deployclaw (`heap analyze`): wall time and the bytes that crossed
//! against the dumps' size.

// The tests' own test hosts and JVM launcher; not every helper is used here.
#[allow(dead_code)]
#[path = "../tests/common/jvm.rs"]
mod jvm;
#[allow(dead_code)]
#[path = "../tests/common/netns.rs"]
mod netns;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `fleet::snapshots` in `deployclaw run`: discover the instances, dump them all at once (three
/// at a time) and bring the dumps back. Returns the wall time and the bytes that crossed.
fn deployclaw(bin: &str, inventory: &Path, out: &Path, home: &Path) -> (Duration, u64) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("an output folder");
    let script = out.join("dump.rhai");
    std::fs::write(&script, "let t = fleet::snapshots(INV, #{count: 1, concurrency: 3, dir: DIR}); let moved = 0; for b in t.col(\"bytes_moved\") { moved += b; } moved").expect("write");
    let started = Instant::now();
    let run = Command::new(bin)
        .arg("run")
        .arg(&script)
        .arg("-p")
        .arg(format!("INV={}", inventory.display()))
        .arg("-p")
        .arg(format!("DIR={}", out.join("dumps").display()))
        .env("DEPLOYCLAW_HOME", home)
        .output()
        .expect("deployclaw runs");
    let elapsed = started.elapsed();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let moved = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap_or(0);
    (elapsed, moved)
}

/// The peer: one `sh -c` per host under `xargs -P`, each dumping with jcmd there and copying
/// the file back with `ssh cat`, as an operator's script does.
fn peer(hosts: &[&netns::TestHost], pids: &[u32], dir: &Path) -> Duration {
    let mut lines = String::new();
    for (i, (host, pid)) in hosts.iter().zip(pids).enumerate() {
        let ssh = format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -i {} root@{}",
            host.known_hosts.display(),
            host.identity.display(),
            host.address
        );
        let remote = format!("/tmp/peer-{i}.hprof.gz");
        lines.push_str(&format!(
            "{ssh} 'rm -f {remote}; jcmd {pid} GC.heap_dump -gz=1 {remote} >/dev/null' && {ssh} cat {remote} > {}/{i}.hprof.gz && {ssh} rm -f {remote}\n",
            dir.display()
        ));
    }
    let script = dir.join("hosts.txt");
    std::fs::write(&script, lines).expect("write the peer's command list");
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("xargs -P {} -I CMD sh -c CMD < {}", hosts.len(), script.display()))
        .status()
        .expect("sh runs");
    assert!(status.success(), "the peer failed");
    started.elapsed()
}

const LEAKSIM_MB: u32 = 256;
const NEAR_RUNS: usize = 3;

/// A LeakSim JVM on `launcher`'s host, grown to `mb` MB and waiting there.
struct LeakSim {
    child: std::process::Child,
}

impl LeakSim {
    fn start(launcher: &[&str], classes: &Path, dir: &Path, mb: u32) -> LeakSim {
        std::fs::create_dir_all(dir).expect("a LeakSim folder");
        let (program, rest) = launcher.split_first().expect("a launcher");
        let child = Command::new(program)
            .args(rest)
            .args(["java", "-Xmx1g", "-XX:+UseG1GC", "-Dservice.version=1.0", "-cp"])
            .arg(classes)
            .arg("LeakSim")
            .arg(dir)
            .arg(mb.to_string())
            .arg((mb * 2).to_string())
            .spawn()
            .expect("java runs");
        let deadline = Instant::now() + Duration::from_secs(300);
        while !dir.join("phase1.ready").exists() {
            assert!(Instant::now() < deadline, "LeakSim did not reach {mb} MB in 300 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        LeakSim { child }
    }
}

impl Drop for LeakSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The memory audit's collection and analysis in `deployclaw run`: two rounds of dumps, then
/// memory::analysis of each instance (here or, near-data, there). Returns the wall time, the
/// bytes that crossed and the dumps' size.
fn analysed(bin: &str, inventory: &Path, out: &Path, home: &Path, near: bool) -> (Duration, u64, u64) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("an output folder");
    let script = out.join("analyse.rhai");
    std::fs::write(
        &script,
        "import \"memory\" as memory;\n\
         let t = fleet::snapshots(INV, #{count: 2, every: \"1s\", concurrency: 3, dir: DIR, near_data: NEAR});\n\
         for i in memory::instances(t) { if i.analysis == () { memory::analysis(i.dumps, \"\", 15.0); } }\n\
         let moved = 0; for b in t.col(\"bytes_moved\") { moved += b; }\n\
         let size = 0; for b in t.col(\"dump_bytes\") { size += b; }\n\
         `${moved} ${size}`",
    )
    .expect("write");
    let started = Instant::now();
    let run = Command::new(bin)
        .arg("run")
        .arg(&script)
        .args(["-p", &format!("INV={}", inventory.display())])
        .args(["-p", &format!("DIR={}", out.join("dumps").display())])
        .args(["-p", &format!("NEAR={near}")])
        .env("DEPLOYCLAW_HOME", home)
        .output()
        .expect("deployclaw runs");
    let elapsed = started.elapsed();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let said = String::from_utf8_lossy(&run.stdout);
    let numbers: Vec<u64> = said.trim().trim_matches('"').split(' ').filter_map(|n| n.parse().ok()).collect();
    assert_eq!(numbers.len(), 2, "{said}");
    (elapsed, numbers[0], numbers[1])
}

fn near_data(bin: &str, work: &Path, hosts: &[netns::TestHost]) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/LeakSim.java");
    if !source.exists() {
        eprintln!("fleet bench: {} is missing; near-data part skipped", source.display());
        return;
    }
    let classes = work.join("leaksim-classes");
    let javac = Command::new("javac").arg("-d").arg(&classes).arg(&source).status().expect("javac runs");
    assert!(javac.success(), "javac LeakSim");
    let sims: Vec<LeakSim> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| LeakSim::start(&h.launcher(), &classes, &work.join(format!("leaksim-{i}")), LEAKSIM_MB))
        .collect();
    // Each host's deployclaw is this build, with a home of its own per run.
    let homes = work.join("remote-homes");
    std::fs::create_dir_all(&homes).expect("homes");
    let wrapper = work.join("remote-deployclaw");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nDEPLOYCLAW_HOME=$(mktemp -d {}/h.XXXXXX) exec {bin} \"$@\"\n", homes.display()),
    )
    .expect("write");
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let entries: Vec<String> = hosts
        .iter()
        .map(|h| h.inventory_entry("LeakSim").replace(" }", &format!(", deployclaw = \"{}\" }}", wrapper.display())))
        .collect();
    let inventory = work.join("inventory-leaksim.toml");
    std::fs::write(&inventory, format!("[services.sim]\nhosts = [{}]\n", entries.join(", "))).expect("write");
    let home = work.join("home");
    println!();
    println!(
        "| 3 LeakSim instances of {LEAKSIM_MB} MB, 2 dumps each | wall time (median of {NEAR_RUNS}) | bytes moved | dumps' size (gzip) | moved / size |"
    );
    println!("|---|---|---|---|---|");
    for (name, near) in [("dumps brought here, analysed here", false), ("near-data: analysed there", true)] {
        let mut times = Vec::new();
        let (mut moved, mut size) = (0, 0);
        for _ in 0..NEAR_RUNS {
            let (t, m, s) = analysed(bin, &inventory, &work.join("near-out"), &home, near);
            times.push(t);
            (moved, size) = (m, s);
        }
        let pct = if size > 0 { moved as f64 * 100.0 / size as f64 } else { 0.0 };
        println!("| {name} | {:.2} s | {moved} | {size} | {pct:.3} % |", median(times).as_secs_f64());
    }
    drop(sims);
}

fn main() {
    if !netns::available() {
        eprintln!("fleet bench: needs root, iproute2 and openssh-server; skipped");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_deployclaw");
    let work = tempfile::tempdir().expect("a scratch folder");
    let hosts: Vec<netns::TestHost> = (0..3).map(|_| netns::TestHost::start()).collect();
    let jvms: Vec<jvm::Jvm> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let dir = work.path().join(format!("jvm-{i}"));
            std::fs::create_dir_all(&dir).expect("a JVM folder");
            jvm::Jvm::start_via(&host.launcher(), &dir, "FleetLeak", &[], &["-XX:+UseG1GC", "-Dservice.version=1.0"])
        })
        .collect();
    let inventory = |n: usize| {
        let entries: Vec<String> = hosts.iter().take(n).map(|h| h.inventory_entry("FleetLeak")).collect();
        let path = work.path().join(format!("inventory-{n}.toml"));
        std::fs::write(&path, format!("[services.api-svc]\nhosts = [{}]\n", entries.join(", "))).expect("write");
        path
    };
    let home = work.path().join("home");
    println!(
        "| instances | deployclaw (median of {RUNS}) | peer: xargs -P + ssh + jcmd (median of {RUNS}) | ratio | bytes moved |"
    );
    println!("|---|---|---|---|---|");
    for n in [1, 3] {
        let inv = inventory(n);
        let out = work.path().join(format!("out-{n}"));
        let mut ours = Vec::new();
        let mut moved = 0;
        let mut theirs = Vec::new();
        let peer_dir = work.path().join(format!("peer-{n}"));
        std::fs::create_dir_all(&peer_dir).expect("peer folder");
        let pids: Vec<u32> = jvms.iter().take(n).map(jvm::Jvm::pid).collect();
        let targets: Vec<&netns::TestHost> = hosts.iter().take(n).collect();
        for _ in 0..RUNS {
            let (t, m) = deployclaw(bin, &inv, &out, &home);
            ours.push(t);
            moved = m;
            theirs.push(peer(&targets, &pids, &peer_dir));
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "| {n} | {:.2} s | {:.2} s | {:.2}x | {moved} |",
            ours.as_secs_f64(),
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    drop(jvms);
    near_data(bin, work.path(), &hosts);
}
