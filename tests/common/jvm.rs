//! A real JVM for heap tests: compile and run a fixture program, take dumps and histograms with
//! jcmd, and stop it afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Jvm {
    child: Child,
    pub dir: PathBuf,
}

impl Jvm {
    /// Compile `tests/fixtures/<class>.java` into `dir`, run it with `args` after a ready-file
    /// path, and wait until it writes that file.
    pub fn start(dir: &Path, class: &str, args: &[&str]) -> Jvm {
        Jvm::start_with(dir, class, args, &["-XX:+UseG1GC"])
    }

    /// [`Jvm::start`] with these JVM flags (collector, layout) instead of G1's defaults.
    pub fn start_with(dir: &Path, class: &str, args: &[&str], flags: &[&str]) -> Jvm {
        Jvm::start_via(&[], dir, class, args, flags)
    }

    /// [`Jvm::start_with`], launched through `launcher` (e.g. `ip netns exec NS`, which execs
    /// java in place: the process id stays the JVM's).
    pub fn start_via(launcher: &[&str], dir: &Path, class: &str, args: &[&str], flags: &[&str]) -> Jvm {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("{class}.java"));
        let classes = dir.join("classes");
        let javac = Command::new("javac").arg("-d").arg(&classes).arg(&source).status().expect("javac is installed");
        assert!(javac.success(), "javac {}", source.display());
        let ready = dir.join(format!("{class}.ready"));
        let mut command = match launcher.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg("java");
                c
            }
            None => Command::new("java"),
        };
        let child = command
            .arg("-Xmx128m")
            .args(flags)
            .arg("-cp")
            .arg(&classes)
            .arg(class)
            .arg(&ready)
            .args(args)
            .spawn()
            .expect("java is installed");
        let jvm = Jvm { child, dir: dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "{class} did not get ready in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        jvm
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn jcmd(&self, args: &[&str]) -> String {
        let out = Command::new("jcmd").arg(self.pid().to_string()).args(args).output().expect("jcmd is installed");
        assert!(out.status.success(), "jcmd {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `jcmd PID GC.heap_dump FILE` (live objects, after a full GC).
    pub fn heap_dump(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let _ = std::fs::remove_file(&path);
        self.jcmd(&["GC.heap_dump", path.to_str().unwrap()]);
        assert!(path.exists(), "jcmd wrote no dump at {}", path.display());
        path
    }

    /// `jcmd PID GC.heap_dump -gz=1 FILE`: chunked, multi-member gzip.
    pub fn heap_dump_gz(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let _ = std::fs::remove_file(&path);
        self.jcmd(&["GC.heap_dump", "-gz=1", path.to_str().unwrap()]);
        assert!(path.exists(), "jcmd wrote no dump at {}", path.display());
        path
    }

    /// `jcmd PID GC.class_histogram`, parsed: class name -> (instances, bytes).
    pub fn class_histogram(&self) -> Vec<(String, u64, u64)> {
        self.jcmd(&["GC.class_histogram"])
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let rank = parts.next()?;
                rank.strip_suffix(':')?.parse::<u32>().ok()?;
                let instances = parts.next()?.parse().ok()?;
                let bytes = parts.next()?.parse().ok()?;
                Some((parts.next()?.to_string(), instances, bytes))
            })
            .collect()
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
