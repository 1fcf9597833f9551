//! How a command reaches a host: on this machine, or over SSH with the OpenSSH client (the
//! user's agent, keys and `~/.ssh/config` apply; host keys are always checked).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Ran {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Ran {
    /// Both outputs as text, for messages and for jcmd (which prints errors on stdout).
    pub fn text(&self) -> String {
        format!("{}{}", String::from_utf8_lossy(&self.stdout), String::from_utf8_lossy(&self.stderr))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{host}: cannot run {program}: {source}")]
    Spawn { host: String, program: String, source: std::io::Error },
    #[error("{host}: {problem}")]
    Connect { host: String, problem: String },
    #[error("{host}: {program} did not finish in {secs} s and was stopped")]
    Timeout { host: String, program: String, secs: u64 },
    #[error("{host}: cannot copy {remote} to {local}: {problem}")]
    Fetch { host: String, remote: String, local: String, problem: String },
    #[error("{host}: cannot copy {local} to {remote} there: {problem}")]
    Send { host: String, local: String, remote: String, problem: String },
}

/// A host commands run on.
pub trait Transport: Send + Sync {
    /// The host as messages name it: `local`, `ssh app@10.0.1.45:22`.
    fn name(&self) -> String;
    /// Run `program` with `args` there. Arguments are passed as they are: no shell on this side
    /// and, over SSH, each one quoted for the remote shell, so no value becomes code.
    fn run(&self, program: &str, args: &[&str]) -> Result<Ran, TransportError>;
    /// Copy the file at `remote` there to `local` here (which must not exist, created private),
    /// streamed. Returns the bytes copied.
    fn fetch(&self, remote: &str, local: &Path) -> Result<u64, TransportError>;
    /// Copy the file at `local` here to `remote` there (which must not exist), made executable
    /// by its owner alone, streamed. Returns the bytes copied.
    fn send(&self, local: &Path, remote: &str) -> Result<u64, TransportError> {
        Err(TransportError::Send {
            host: self.name(),
            local: local.display().to_string(),
            remote: remote.into(),
            problem: "this transport cannot copy files to the host".into(),
        })
    }
    /// Whether files there are files here too (no copy needed).
    fn is_local(&self) -> bool {
        false
    }
    /// The most of a command's output that comes back, where the transport cuts it.
    fn output_limit(&self) -> Option<usize> {
        None
    }
    /// Whether `ran`'s output may have been cut at [`Transport::output_limit`].
    fn cut(&self, ran: &Ran) -> bool {
        self.output_limit().is_some_and(|limit| ran.stdout.len() >= limit)
    }
}

/// Run `command` to its end, or stop it after `timeout`.
fn run_bounded(
    mut command: Command,
    timeout: Option<Duration>,
    host: &str,
    program: &str,
) -> Result<std::process::Output, TransportError> {
    let spawn_error = |source| TransportError::Spawn { host: host.into(), program: program.into(), source };
    let Some(timeout) = timeout else { return command.output().map_err(spawn_error) };
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(spawn_error)?;
    // Both pipes drained as they fill, so a chatty command cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(spawn_error)? {
            Some(status) => break status,
            None if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TransportError::Timeout {
                    host: host.into(),
                    program: program.into(),
                    secs: timeout.as_secs(),
                });
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(std::process::Output { status, stdout, stderr })
}

/// This machine.
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// How long one command may run before it is stopped.
    pub timeout: Option<Duration>,
}

impl Transport for Local {
    fn name(&self) -> String {
        "local".into()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Ran, TransportError> {
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        let out = run_bounded(command, self.timeout, &self.name(), program)?;
        Ok(Ran { success: out.status.success(), stdout: out.stdout, stderr: out.stderr })
    }

    fn fetch(&self, remote: &str, local: &Path) -> Result<u64, TransportError> {
        let fail = |problem: String| TransportError::Fetch {
            host: "local".into(),
            remote: remote.into(),
            local: local.display().to_string(),
            problem,
        };
        let mut from = std::fs::File::open(remote).map_err(|e| fail(e.to_string()))?;
        let mut to = create_private(local).map_err(|e| fail(e.to_string()))?;
        std::io::copy(&mut from, &mut to).map_err(|e| fail(e.to_string()))
    }

    fn send(&self, local: &Path, remote: &str) -> Result<u64, TransportError> {
        let fail = |problem: String| TransportError::Send {
            host: "local".into(),
            local: local.display().to_string(),
            remote: remote.into(),
            problem,
        };
        let mut from = std::fs::File::open(local).map_err(|e| fail(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o700);
        let mut to = options.open(remote).map_err(|e| fail(e.to_string()))?;
        std::io::copy(&mut from, &mut to).map_err(|e| fail(e.to_string()))
    }

    fn is_local(&self) -> bool {
        true
    }
}

/// A host reached with the OpenSSH client, non-interactively (`BatchMode`): a key from the
/// agent or `identity`, and the host's key checked against `known_hosts` (or the user's own).
#[derive(Debug, Clone)]
pub struct Ssh {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How long one command may run, connection included, before it is stopped.
    pub timeout: Option<Duration>,
    /// A private folder for the socket of a shared connection: the commands to one host (a
    /// dump takes seven) then pay for one SSH handshake, not one each. None: one per command.
    pub control_dir: Option<PathBuf>,
}

/// How long a shared connection outlives its last command.
const CONTROL_PERSIST_SECS: u32 = 30;

/// `home/ssh`, made private to this user, for shared connections' sockets; None where it cannot
/// be made or its path is too long for a socket (108 bytes, with the 40-character name ssh gives
/// it and the 17 it adds while making it).
pub fn control_dir(home: &Path) -> Option<PathBuf> {
    let dir = home.join("ssh");
    if dir.as_os_str().len() > 48 {
        return None;
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).ok()?;
    let meta = std::fs::metadata(&dir).ok()?;
    crate::paths::private_to_this_user(&meta).ok()?;
    Some(dir)
}

impl Ssh {
    pub fn new(host: &str) -> Ssh {
        Ssh {
            host: host.into(),
            port: 22,
            user: None,
            identity: None,
            known_hosts: None,
            connect_timeout: Duration::from_secs(10),
            timeout: None,
            control_dir: None,
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut ssh = Command::new("ssh");
        ssh.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]);
        ssh.arg("-o").arg(format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)));
        if let Some(file) = &self.known_hosts {
            ssh.arg("-o").arg(format!("UserKnownHostsFile={}", file.display()));
        }
        if let Some(key) = &self.identity {
            ssh.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
        }
        ssh.arg("-p").arg(self.port.to_string());
        if let Some(dir) = &self.control_dir {
            ssh.args(["-o", "ControlMaster=auto"]);
            ssh.arg("-o").arg(format!("ControlPath={}/%C", dir.display()));
            ssh.arg("-o").arg(format!("ControlPersist={CONTROL_PERSIST_SECS}"));
        }
        // `--` ends ssh's options: a host named `-oProxyCommand=...` is a host name, not an option.
        ssh.arg("--").arg(match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        });
        let mut line = quote(program);
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        ssh.arg(line);
        ssh.stdin(Stdio::null());
        ssh
    }

    /// Wait for an ssh that a file was streamed through (`copied`: how that went) and say how
    /// it ended. What the remote side said wins over a broken pipe on this side.
    fn finish(
        &self,
        mut child: std::process::Child,
        copied: Option<std::io::Result<u64>>,
        fail: impl Fn(String) -> TransportError,
    ) -> Result<u64, TransportError> {
        let mut stderr = Vec::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_end(&mut stderr);
        }
        let status = child.wait().map_err(|e| fail(e.to_string()))?;
        let said = String::from_utf8_lossy(&stderr).trim().to_string();
        match copied {
            Some(Ok(bytes)) if status.success() => Ok(bytes),
            _ if status.code() == Some(255) => Err(self.connect_error(&stderr)),
            _ if !status.success() && !said.is_empty() => Err(fail(said)),
            Some(Err(e)) => Err(fail(e.to_string())),
            _ => Err(fail(said)),
        }
    }

    /// ssh exits 255 for its own failures (connection, authentication, host key), else with the
    /// remote command's status.
    fn connect_error(&self, stderr: &[u8]) -> TransportError {
        let said = String::from_utf8_lossy(stderr).trim().to_string();
        let hint = if said.contains("Host key verification failed") || said.contains("No matching host key") {
            format!(
                "; add the host's key to {} once you have checked its fingerprint (ssh-keyscan -p {} {} prints it)",
                self.known_hosts.as_ref().map_or("~/.ssh/known_hosts".into(), |p| p.display().to_string()),
                self.port,
                self.host
            )
        } else if said.contains("Permission denied") {
            "; load a key into ssh-agent or give one with identity = \"PATH\"".into()
        } else {
            String::new()
        };
        TransportError::Connect { host: self.name(), problem: format!("ssh failed: {said}{hint}") }
    }
}

impl Transport for Ssh {
    fn name(&self) -> String {
        let user = self.user.as_ref().map_or(String::new(), |u| format!("{u}@"));
        format!("ssh {user}{}:{}", self.host, self.port)
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Ran, TransportError> {
        let out = run_bounded(self.command(program, args), self.timeout, &self.name(), program)?;
        if out.status.code() == Some(255) {
            return Err(self.connect_error(&out.stderr));
        }
        Ok(Ran { success: out.status.success(), stdout: out.stdout, stderr: out.stderr })
    }

    fn fetch(&self, remote: &str, local: &Path) -> Result<u64, TransportError> {
        let fail = |problem: String| TransportError::Fetch {
            host: self.name(),
            remote: remote.into(),
            local: local.display().to_string(),
            problem,
        };
        let mut to = create_private(local).map_err(|e| fail(e.to_string()))?;
        let mut child = self
            .command("cat", &["--", remote])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run ssh: {e}")))?;
        let copied = child.stdout.take().map(|mut out| std::io::copy(&mut out, &mut to));
        let result = self.finish(child, copied, fail);
        if result.is_err() {
            // Nothing half-copied is left behind to be taken for the whole file.
            let _ = std::fs::remove_file(local);
        }
        result
    }

    fn send(&self, local: &Path, remote: &str) -> Result<u64, TransportError> {
        let fail = |problem: String| TransportError::Send {
            host: self.name(),
            local: local.display().to_string(),
            remote: remote.into(),
            problem,
        };
        let mut from = std::fs::File::open(local).map_err(|e| fail(e.to_string()))?;
        // The script is fixed and the path its argument: no value is spliced into code. `set -C`
        // refuses a file that is already there; umask makes it the owner's alone from the start.
        let script = "umask 077 && set -C && cat > \"$1\" && chmod 700 \"$1\"";
        let mut child = self
            .command("sh", &["-c", script, "sh", remote])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run ssh: {e}")))?;
        // The pipe is closed when `to` is dropped: the remote `cat` then sees the end.
        let copied = child.stdin.take().map(|mut to| std::io::copy(&mut from, &mut to));
        self.finish(child, copied, fail)
    }
}

/// `text` as one word for a POSIX shell: in single quotes, each `'` written as `'\''`.
pub fn quote(text: &str) -> String {
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if safe {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_words_reach_a_shell_as_they_are() {
        let hostile = ["plain", "", "a b", "it's", "$(touch /tmp/x)", "`id`", "a\nb", "\\", "'", "-rf", "*"];
        for word in hostile {
            let out = Command::new("sh").arg("-c").arg(format!("printf %s {}", quote(word))).output().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "{word:?} as {}", quote(word));
        }
    }

    #[test]
    fn local_runs_and_copies() {
        let ran = Local::default().run("sh", &["-c", "echo out; echo err >&2; exit 3"]).unwrap();
        assert!(!ran.success);
        assert_eq!(ran.text(), "out\nerr\n");
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        std::fs::write(&from, b"dump").unwrap();
        let to = dir.path().join("b");
        assert_eq!(Local::default().fetch(from.to_str().unwrap(), &to).unwrap(), 4);
        assert!(Local::default().fetch(from.to_str().unwrap(), &to).is_err(), "an existing file is not overwritten");

        let bounded = Local { timeout: Some(Duration::from_millis(300)) };
        let started = std::time::Instant::now();
        let err = bounded.run("sleep", &["30"]).unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
