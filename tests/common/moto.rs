//! moto's AWS stand-in on a free loopback port, seeded by tests/fixtures/aws/seed.py, stopped on
//! drop. Without moto_server a test is skipped with a message, unless
//! DEPLOYCLAW_REQUIRE_SERVICES=1 (as in CI), where that is a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub url: String,
    child: Child,
}

/// Credentials moto accepts; they reach nothing but the loopback server.
pub const ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

impl Moto {
    /// A server seeded with the fixture data; it takes any credentials.
    pub fn start() -> Option<Moto> {
        let moto = Moto::spawn(false)?;
        let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/seed.py");
        let out =
            Command::new("python3").arg(seed).arg(&moto.url).envs(ENV.iter().copied()).output().expect("python3 runs");
        assert!(out.status.success(), "seeding moto failed: {}", String::from_utf8_lossy(&out.stderr));
        Some(moto)
    }

    /// An empty server, for tests that create what they need.
    pub fn start_empty() -> Option<Moto> {
        Moto::spawn(false)
    }

    /// An empty server whose ECS tasks can be read by the SDK for Rust: moto 5.2 writes a task's
    /// container cpu and memory as numbers where ECS has strings, and the SDK then fails on the
    /// whole DescribeTasks answer; tests/fixtures/aws/moto_ecs_server.py writes them as strings.
    pub fn start_for_ecs() -> Option<Moto> {
        let server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/moto_ecs_server.py");
        let mut command = Command::new("python3");
        command.arg(server);
        Moto::spawn_command(command, false)
    }

    /// An empty server whose CodeBuild builds can fail and have logs (see
    /// tests/fixtures/aws/moto_codebuild_server.py for what moto 5.2 lacks there).
    pub fn start_for_codebuild() -> Option<Moto> {
        let server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/moto_codebuild_server.py");
        let mut command = Command::new("python3");
        command.arg(server);
        Moto::spawn_command(command, false)
    }

    /// An empty server whose CodePipeline runs executions (moto 5.2 has none of the execution
    /// calls; tests/fixtures/aws/moto_codepipeline_server.py adds them over the CodeBuild above).
    pub fn start_for_codepipeline() -> Option<Moto> {
        let server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/moto_codepipeline_server.py");
        let mut command = Command::new("python3");
        command.arg(server);
        Moto::spawn_command(command, false)
    }

    /// Run `python3 tests/fixtures/aws/SCRIPT URL ARGS...` (a boto3 seed or check) against this
    /// server; what it printed. A script that fails fails the test with its stderr.
    pub fn run_fixture(&self, script: &str, args: &[&str]) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/aws/{script}", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("python3")
            .arg(&path)
            .arg(&self.url)
            .args(args)
            .envs(ENV.iter().copied())
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Create a KMS key (e.g. "ECC_NIST_P256", "SIGN_VERIFY") and return its ARN.
    pub fn kms_key(&self, spec: &str, usage: &str) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/kms_key.py");
        let out = Command::new("python3")
            .args([script, &self.url, spec, usage])
            .envs(ENV.iter().copied())
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "creating a KMS key failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// An empty server that checks credentials against its IAM, as AWS does.
    pub fn start_with_auth() -> Option<Moto> {
        Moto::spawn(true)
    }

    fn spawn(auth: bool) -> Option<Moto> {
        Moto::spawn_command(Command::new("moto_server"), auth)
    }

    fn spawn_command(mut command: Command, auth: bool) -> Option<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        if auth {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("DEPLOYCLAW_REQUIRE_SERVICES").as_deref() == Ok("1") {
                    panic!(
                        "moto_server is required (DEPLOYCLAW_REQUIRE_SERVICES=1) but does not start: {e}; pip install 'moto[server]'"
                    );
                }
                eprintln!("skipping: moto_server is not available here ({e}); pip install 'moto[server]'");
                return None;
            }
        };
        let moto = Moto { url: format!("http://127.0.0.1:{port}"), child };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "moto_server did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
