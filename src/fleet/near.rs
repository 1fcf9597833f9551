//! Analysis near the data: the dumps stay on the instance's host, the deployclaw installed there
//! reads them (`deployclaw heap analyze --json`), and only its answer crosses the network. A dump
//! of tens of gigabytes then costs the network a few hundred kilobytes.

use std::path::Path;

use base64::Engine as _;

use super::jvm::JvmError;
use super::transport::{Ran, Transport};

/// What the host's deployclaw answered, and what that cost.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The answer (`deployclaw.heap-analysis/1`), as `deployclaw heap analyze --json` prints it.
    pub json: serde_json::Value,
    /// Bytes that crossed the network: the answer and anything printed on stderr.
    pub bytes_moved: u64,
}

/// What to ask the host's deployclaw.
pub struct Ask<'a> {
    /// deployclaw there (a path, or a name its PATH finds).
    pub deployclaw: &'a str,
    /// The dumps there, oldest first.
    pub dumps: &'a [String],
    /// The tenant rule for `heap::tenants`, if any.
    pub rule: Option<&'a str>,
    /// The growth threshold ("15%").
    pub threshold: &'a str,
    /// A home for that deployclaw's session, where it is a copy made for this run: its log then
    /// goes with the folder, and nothing is left on the host.
    pub home: Option<&'a str>,
    /// The run's private folder there. Over a transport that cuts output (SSM), the answer is
    /// written into it and read back in pages.
    pub dir: Option<&'a str>,
}

/// The most pages an answer is read in: 256 pages of SSM's 24,000 characters is 4.5 MB, far
/// more than an analysis holds, and a few minutes of round trips.
const MAX_PAGES: usize = 256;

/// Run `deployclaw heap analyze` on `host` over dumps that are there.
pub fn analyze(host: &dyn Transport, ask: &Ask) -> Result<Analysis, JvmError> {
    let mut args = vec!["heap", "analyze", "--json", "--threshold-delta", ask.threshold];
    if let Some(rule) = ask.rule {
        args.extend(["--rule", rule]);
    }
    args.push("--");
    args.extend(ask.dumps.iter().map(String::as_str));
    let home = ask.home.map(|h| format!("DEPLOYCLAW_HOME={h}"));
    let mut command: Vec<&str> = match &home {
        Some(home) => vec!["env", home.as_str(), ask.deployclaw],
        None => vec![ask.deployclaw],
    };
    command.extend(&args);
    let (ran, bytes_moved) = match (host.output_limit(), ask.dir) {
        (Some(limit), Some(dir)) => paged(host, &command, &format!("{dir}/answer.json"), limit)?,
        _ => {
            let ran = host.run(command[0], &command[1..])?;
            let moved = (ran.stdout.len() + ran.stderr.len()) as u64;
            (ran, moved)
        }
    };
    // It exits 3 when the analysis made error findings (a tenant that grew): the answer stands.
    // A failure prints no JSON on stdout.
    let json: Option<serde_json::Value> = serde_json::from_slice(&ran.stdout).ok();
    match json {
        Some(json) if json["format"] == "deployclaw.heap-analysis/1" => Ok(Analysis { json, bytes_moved }),
        _ if host.cut(&ran) => Err(JvmError::Command {
            host: host.name(),
            command: format!("{} heap analyze", ask.deployclaw),
            output: format!(
                "its answer was cut at the {} characters this transport returns: reach this host over SSH for \
                 near-data analysis",
                host.output_limit().unwrap_or_default()
            ),
        }),
        _ => Err(JvmError::Command {
            host: host.name(),
            command: format!("{} heap analyze", ask.deployclaw),
            output: format!(
                "{}: {}",
                if ran.success { "its answer is not a heap analysis" } else { "it failed" },
                tail(&ran.text())
            ),
        }),
    }
}

/// Run `command` on `host` with its output written to `file` there, then read the file back in
/// pages that fit the transport's `limit`, each in base64 so that no page ends inside a
/// character. Returns what the command printed, as if it had come back whole, and the bytes that
/// crossed.
fn paged(host: &dyn Transport, command: &[&str], file: &str, limit: usize) -> Result<(Ran, u64), JvmError> {
    let failed = |output: String| JvmError::Command {
        host: host.name(),
        command: format!("reading {file} back in pages"),
        output,
    };
    let mut args = vec!["-c", r#"out=$1; shift; "$@" > "$out""#, "sh", file];
    args.extend(command);
    let ran = host.run("sh", &args)?;
    let mut moved = (ran.stdout.len() + ran.stderr.len()) as u64;
    let page = (limit.saturating_sub(64) / 4 * 3).max(3);
    let page_text = page.to_string();
    let mut stdout = Vec::new();
    for n in 0..MAX_PAGES {
        let skip = n.to_string();
        let read = r#"dd if="$1" bs="$2" skip="$3" count=1 2>/dev/null | base64 -w0"#;
        let got = host.run("sh", &["-c", read, "sh", file, &page_text, &skip])?;
        moved += got.stdout.len() as u64;
        if !got.success {
            return Err(failed(tail(&got.text())));
        }
        let text = String::from_utf8_lossy(&got.stdout);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| failed(format!("page {n} is not base64 ({e})")))?;
        let last = bytes.len() < page;
        stdout.extend(bytes);
        if last {
            return Ok((Ran { success: ran.success, stdout, stderr: ran.stderr }, moved));
        }
    }
    Err(failed(format!("the answer is longer than {MAX_PAGES} pages of {page} bytes")))
}

/// A copy of this deployclaw made on a host that has none, inside the run's private folder there
/// (removed with it).
#[derive(Debug, Clone)]
pub struct Copied {
    /// The copy's path there.
    pub program: String,
    /// A home for its session, beside it in the folder.
    pub home: String,
    /// Bytes sent: the binary crossed the network too.
    pub bytes: u64,
}

/// Copy `binary` (this deployclaw) into `dir` on `host` and check that it runs there. The host
/// must be the same system and machine as this one (`uname -sm`): a binary for another one is
/// not sent at all.
pub fn copy_to(host: &dyn Transport, binary: &Path, dir: &str) -> Result<Copied, JvmError> {
    let failed =
        |command: &str, output: String| JvmError::Command { host: host.name(), command: command.into(), output };
    let uname = host.run("uname", &["-s", "-m"])?;
    let there = String::from_utf8_lossy(&uname.stdout).trim().to_lowercase();
    let here = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if !uname.success || there != here {
        let said = if uname.success { there } else { uname.text().trim().to_string() };
        return Err(failed(
            "uname -sm",
            format!("the host is {said:?}, this deployclaw is built for {here:?}: install one built for it"),
        ));
    }
    let program = format!("{dir}/deployclaw");
    let bytes = host.send(binary, &program)?;
    let version = host.run(&program, &["--version"])?;
    if !version.success || !version.stdout.starts_with(b"deployclaw ") {
        return Err(failed(
            &format!("{program} --version"),
            format!("the copy does not run there: {}", tail(&version.text())),
        ));
    }
    Ok(Copied { program, home: format!("{dir}/home"), bytes })
}

/// The last lines of a command's output, for a message: an error is said at the end.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::transport::Local;

    #[test]
    fn the_answer_must_be_an_analysis_and_a_failure_says_why() {
        let host = Local::default();
        let dumps = vec!["/nonexistent/1.hprof.gz".to_string()];
        let ask =
            Ask { deployclaw: "echo", dumps: &dumps, rule: Some("a.B.c"), threshold: "15%", home: None, dir: None };
        let err = analyze(&host, &ask).unwrap_err().to_string();
        assert!(err.contains("echo heap analyze failed: its answer is not a heap analysis"), "{err}");
        assert!(
            err.contains("heap analyze --json --threshold-delta 15% --rule a.B.c -- /nonexistent/1.hprof.gz"),
            "{err}"
        );

        let ask = Ask { deployclaw: "false", dumps: &dumps, rule: None, threshold: "15%", home: None, dir: None };
        assert!(analyze(&host, &ask).unwrap_err().to_string().contains("it failed"));
    }

    #[test]
    fn a_copy_runs_there_or_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().display().to_string();
        let fake = dir.path().join("built");
        std::fs::write(&fake, "#!/bin/sh\necho deployclaw 9.9.9\n").unwrap();
        let copied = copy_to(&Local::default(), &fake, &there).unwrap();
        assert_eq!(copied.program, format!("{there}/deployclaw"));
        assert_eq!(copied.bytes, std::fs::metadata(&fake).unwrap().len());
        let mode = std::fs::metadata(&copied.program).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o700, "the owner's alone");

        // A second copy does not overwrite the first; a binary that does not run is named.
        let err = copy_to(&Local::default(), &fake, &there).unwrap_err().to_string();
        assert!(err.contains("cannot copy") && err.contains("exists"), "{err}");
        let other = tempfile::tempdir().unwrap();
        std::fs::write(&fake, "#!/bin/sh\necho 'version GLIBC_2.99 not found' >&2\nexit 1\n").unwrap();
        let err = copy_to(&Local::default(), &fake, &other.path().display().to_string()).unwrap_err().to_string();
        assert!(err.contains("--version failed: the copy does not run there: version GLIBC_2.99 not found"), "{err}");
    }

    /// A transport that keeps only the first `limit` bytes of what a command prints, as SSM
    /// Run Command does.
    struct Cut(usize);

    impl Transport for Cut {
        fn name(&self) -> String {
            "cut".into()
        }
        fn run(&self, program: &str, args: &[&str]) -> Result<Ran, crate::fleet::transport::TransportError> {
            let mut ran = Local::default().run(program, args)?;
            ran.stdout.truncate(self.0);
            Ok(ran)
        }
        fn fetch(&self, remote: &str, local: &Path) -> Result<u64, crate::fleet::transport::TransportError> {
            Local::default().fetch(remote, local)
        }
        fn output_limit(&self) -> Option<usize> {
            Some(self.0)
        }
    }

    #[test]
    fn an_answer_longer_than_the_transport_returns_is_read_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("deployclaw");
        // 10,000 characters of answer, some of them two bytes long, across pages of 1,500 bytes.
        let body = "#!/bin/sh\nprintf '{\"format\": \"deployclaw.heap-analysis/1\", \"args\": \"%s\", \"pad\": \"' \"$*\"\n\
                    i=0; while [ $i -lt 2500 ]; do printf 'é-ab'; i=$((i+1)); done; echo '\"}'\nexit 3\n";
        std::fs::write(&fake, body).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (fake, there) = (fake.display().to_string(), dir.path().display().to_string());
        let dumps = vec!["/d/1 a.hprof.gz".to_string()];
        let mut ask = Ask { deployclaw: &fake, dumps: &dumps, rule: None, threshold: "15%", home: None, dir: None };
        let err = analyze(&Cut(2000), &ask).unwrap_err().to_string();
        assert!(err.contains("its answer was cut at the 2000 characters"), "without a folder: {err}");

        ask.dir = Some(&there);
        let answer = analyze(&Cut(2000), &ask).unwrap();
        let pad = answer.json["pad"].as_str().unwrap();
        assert_eq!(pad, "é-ab".repeat(2500), "the whole answer, characters whole");
        assert_eq!(answer.json["args"], "heap analyze --json --threshold-delta 15% -- /d/1 a.hprof.gz");
        assert!(answer.bytes_moved > 12_500 * 4 / 3, "the pages crossed, in base64: {}", answer.bytes_moved);
    }

    #[test]
    fn an_answer_with_findings_exits_3_and_still_stands() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("deployclaw");
        let body = "#!/bin/sh\necho '{\"format\": \"deployclaw.heap-analysis/1\", \"totals\": [1]}'\nexit 3\n";
        std::fs::write(&fake, body).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let fake = fake.display().to_string();
        let dumps = vec!["/d/1.hprof.gz".to_string()];
        let ask = Ask { deployclaw: &fake, dumps: &dumps, rule: None, threshold: "15%", home: None, dir: None };
        let answer = analyze(&Local::default(), &ask).unwrap();
        assert_eq!(answer.json["totals"][0], 1);
        assert_eq!(answer.bytes_moved, 56, "the answer's bytes, newline included");
    }
}
