//! A host reached with AWS Systems Manager Run Command, for EC2 instances without SSH:
//! SendCommand with the `AWS-RunShellScript` document, then GetCommandInvocation until the
//! command ends. The command's output comes back in the invocation (SSM keeps the first 24,000
//! characters), files do not: dumps are not fetched through SSM.

use super::transport::{Ran, Transport, TransportError, quote};
use crate::collect::aws::{Aws, Options};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// GetCommandInvocation returns the first 24,000 characters of a command's output.
const OUTPUT_LIMIT: usize = 24_000;

/// One runtime for every SSM host, never dropped: the SDK's pooled connections belong to the
/// runtime that made them, and hosts are asked from several threads at once.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("deployclaw-ssm")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An EC2 instance managed by SSM.
pub struct Ssm {
    pub instance_id: String,
    /// How long one command may take, from SendCommand to its end.
    pub timeout: Duration,
    /// Time between GetCommandInvocation calls.
    pub poll: Duration,
    aws: OnceLock<Aws>,
}

impl Ssm {
    pub fn new(instance_id: &str) -> Ssm {
        Ssm {
            instance_id: instance_id.to_string(),
            timeout: Duration::from_secs(600),
            poll: Duration::from_millis(500),
            aws: OnceLock::new(),
        }
    }

    fn fail(&self, problem: String) -> TransportError {
        TransportError::Connect { host: self.name(), problem }
    }

    async fn aws(&self) -> Result<Aws, TransportError> {
        if let Some(aws) = self.aws.get() {
            return Ok(aws.clone());
        }
        // The standard chain: credentials, region and AWS_ENDPOINT_URL from the environment.
        let aws = Aws::load(&Options::default()).await.map_err(|e| self.fail(e.to_string()))?;
        Ok(self.aws.get_or_init(|| aws).clone())
    }

    async fn run_async(&self, line: String, program: &str) -> Result<Ran, TransportError> {
        use aws_sdk_ssm::types::CommandInvocationStatus as Status;
        let client = self.aws().await?.ssm();
        let seconds = i32::try_from(self.timeout.as_secs()).unwrap_or(i32::MAX).max(30);
        let sent = client
            .send_command()
            .document_name("AWS-RunShellScript")
            .instance_ids(&self.instance_id)
            .parameters("commands", vec![line])
            .timeout_seconds(seconds)
            .send()
            .await
            .map_err(|e| self.fail(format!("SendCommand: {}", aws_sdk_ssm::error::DisplayErrorContext(&e))))?;
        let id = sent
            .command()
            .and_then(|c| c.command_id())
            .ok_or_else(|| self.fail("SendCommand returned no command id".into()))?
            .to_string();
        let deadline = Instant::now() + self.timeout;
        loop {
            tokio::time::sleep(self.poll).await;
            let asked = client.get_command_invocation().command_id(&id).instance_id(&self.instance_id).send().await;
            match asked {
                // Pending, InProgress and Delayed: not yet.
                Ok(invocation)
                    if matches!(
                        invocation.status(),
                        Some(Status::Success | Status::Failed | Status::Cancelled | Status::TimedOut)
                    ) =>
                {
                    let success = invocation.status() == Some(&Status::Success) && invocation.response_code() == 0;
                    return Ok(Ran {
                        success,
                        stdout: invocation.standard_output_content().unwrap_or_default().as_bytes().to_vec(),
                        stderr: invocation.standard_error_content().unwrap_or_default().as_bytes().to_vec(),
                    });
                }
                Ok(_) => {}
                // Right after SendCommand the invocation may not exist yet.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_invocation_does_not_exist()) => {}
                Err(e) => {
                    let said = aws_sdk_ssm::error::DisplayErrorContext(&e);
                    return Err(self.fail(format!("GetCommandInvocation {id}: {said}")));
                }
            }
            if Instant::now() >= deadline {
                return Err(TransportError::Timeout {
                    host: self.name(),
                    program: program.into(),
                    secs: self.timeout.as_secs(),
                });
            }
        }
    }
}

impl Transport for Ssm {
    fn name(&self) -> String {
        format!("ssm {}", self.instance_id)
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Ran, TransportError> {
        // The document runs its commands with a shell: every word quoted, as over SSH.
        let mut line = quote(program);
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        let runtime = runtime().map_err(|e| self.fail(format!("cannot start a runtime: {e}")))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(self.run_async(line, program));
        }
        // Called from inside a runtime, where blocking on another one is refused: wait on a
        // thread of its own.
        std::thread::scope(|scope| scope.spawn(|| runtime.block_on(self.run_async(line, program))).join())
            .unwrap_or_else(|_| Err(self.fail("the SSM call's thread panicked".into())))
    }

    fn output_limit(&self) -> Option<usize> {
        Some(OUTPUT_LIMIT)
    }

    fn fetch(&self, remote: &str, local: &Path) -> Result<u64, TransportError> {
        Err(TransportError::Fetch {
            host: self.name(),
            remote: remote.into(),
            local: local.display().to_string(),
            problem: "SSM Run Command returns a command's output, not files: reach this host over SSH to bring \
                      dumps back"
                .into(),
        })
    }
}
