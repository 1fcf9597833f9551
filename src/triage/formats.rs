//! The line grammars of GitHub Actions, Jenkins and AWS CodeBuild logs, and plain text: each
//! turns raw lines into [`LogLine`]s, keeping track of the step a line belongs to.

use super::line::{Format, Level, LogLine, infer_level, leading_iso_time, strip_escapes};

/// Guess the format from the first lines of a log.
pub fn detect(text: &str) -> Format {
    let (mut github, mut jenkins, mut codebuild) = (0, 0, 0);
    for raw in text.lines().take(400) {
        let line = strip_escapes(raw);
        let body = leading_iso_time(&line).or_else(|| bracketed_time(&line)).map_or(line.as_ref(), |(_, rest)| rest);
        if body.starts_with("##[") || (body.starts_with("::") && body[2..].contains("::")) {
            github += 1;
        }
        if body.starts_with("[Pipeline]") || body.starts_with("Started by ") || body.starts_with("Finished: ") {
            jenkins += 1;
        }
        if body.starts_with("[Container] ") {
            codebuild += 1;
        }
    }
    match (github, jenkins, codebuild) {
        (0, 0, 0) => Format::Plain,
        (g, j, c) if g >= j && g >= c => Format::GithubActions,
        (_, j, c) if j >= c => Format::Jenkins,
        _ => Format::Codebuild,
    }
}

/// Parse a whole log of one job.
pub fn parse(text: &str, format: Format, source: &str, job: &str) -> Vec<LogLine> {
    let mut parser = Parser { format, source, job, step: None, stages: Vec::new(), groups: 0 };
    text.lines().enumerate().map(|(i, raw)| parser.line(raw, i as u64 + 1)).collect()
}

struct Parser<'a> {
    format: Format,
    source: &'a str,
    job: &'a str,
    step: Option<String>,
    /// Jenkins stages currently open (parallel branches nest).
    stages: Vec<Option<String>>,
    /// GitHub Actions groups opened so far.
    groups: usize,
}

struct Parsed {
    timestamp: Option<String>,
    level: Level,
    text: String,
    location: Option<String>,
    failure: bool,
}

impl Parsed {
    fn plain(timestamp: Option<String>, text: &str) -> Parsed {
        Parsed { timestamp, level: infer_level(text), text: text.to_string(), location: None, failure: false }
    }
}

impl Parser<'_> {
    fn line(&mut self, raw: &str, number: u64) -> LogLine {
        let clean = strip_escapes(raw.strip_suffix('\r').unwrap_or(raw));
        let parsed = match self.format {
            Format::GithubActions => self.github(&clean),
            Format::Jenkins => self.jenkins(&clean),
            Format::Codebuild => self.codebuild(&clean),
            Format::Plain => match leading_iso_time(&clean) {
                Some((time, rest)) => Parsed::plain(Some(time.to_string()), rest),
                None => Parsed::plain(None, &clean),
            },
        };
        LogLine {
            source: self.source.to_string(),
            job: self.job.to_string(),
            step: self.step.clone(),
            timestamp: parsed.timestamp,
            level: parsed.level,
            text: parsed.text,
            line: number,
            location: parsed.location,
            failure: parsed.failure,
        }
    }

    fn github(&mut self, line: &str) -> Parsed {
        let (timestamp, body) = match leading_iso_time(line) {
            Some((time, rest)) => (Some(time.to_string()), rest),
            None => (None, line),
        };
        if let Some(title) = body.strip_prefix("##[group]") {
            // Each step opens with a group ("Run cargo test"); groups inside a step fold output.
            if self.groups == 0 || title.starts_with("Run ") {
                self.step = Some(title.strip_prefix("Run ").unwrap_or(title).to_string());
            }
            self.groups += 1;
            return Parsed { timestamp, level: Level::Info, text: title.to_string(), location: None, failure: false };
        }
        if body.starts_with("##[endgroup]") {
            return Parsed { timestamp, level: Level::Debug, text: String::new(), location: None, failure: false };
        }
        for (marker, level) in [
            ("##[error]", Level::Error),
            ("##[warning]", Level::Warning),
            ("##[notice]", Level::Notice),
            ("##[debug]", Level::Debug),
        ] {
            if let Some(text) = body.strip_prefix(marker) {
                let failure = level == Level::Error && exits_non_zero(text);
                return Parsed { timestamp, level, text: text.to_string(), location: None, failure };
            }
        }
        if let Some(command) = workflow_command(body) {
            return Parsed { timestamp, ..command };
        }
        Parsed::plain(timestamp, body)
    }

    fn jenkins(&mut self, line: &str) -> Parsed {
        let (timestamp, body) = match bracketed_time(line) {
            Some((time, rest)) => (Some(time.to_string()), rest),
            None => (None, line),
        };
        if let Some(pipeline) = body.strip_prefix("[Pipeline] ") {
            if let Some(name) = pipeline.strip_prefix("{ (").and_then(|n| n.strip_suffix(')')) {
                let name = name.strip_prefix("Branch: ").unwrap_or(name);
                self.stages.push(Some(name.to_string()));
            } else if pipeline == "{" {
                self.stages.push(None);
            } else if pipeline == "}" {
                self.stages.pop();
            }
            self.step = self.stages.iter().rev().flatten().next().cloned();
            return Parsed {
                timestamp,
                level: Level::Debug,
                text: pipeline.to_string(),
                location: None,
                failure: false,
            };
        }
        if let Some(result) = body.strip_prefix("Finished: ") {
            let failed = result != "SUCCESS";
            let level = if failed { Level::Error } else { Level::Info };
            return Parsed { timestamp, level, text: body.to_string(), location: None, failure: failed };
        }
        if body.starts_with("ERROR: script returned exit code") {
            return Parsed { timestamp, level: Level::Error, text: body.to_string(), location: None, failure: true };
        }
        Parsed::plain(timestamp, body)
    }

    fn codebuild(&mut self, line: &str) -> Parsed {
        let Some(rest) = line.strip_prefix("[Container] ") else { return Parsed::plain(None, line) };
        // "[Container] 2024/05/01 12:00:00.123456 text"
        let (timestamp, text) = match codebuild_time(rest) {
            Some((time, text)) => (Some(time), text),
            None => (None, rest),
        };
        if let Some(phase) = text.strip_prefix("Entering phase ") {
            self.step = Some(phase.trim().to_string());
        }
        if let Some(state) = text.strip_prefix("Phase complete: ").and_then(|t| t.split_once(" State: ")) {
            let failed = state.1.trim() != "SUCCEEDED";
            let level = if failed { Level::Error } else { Level::Info };
            return Parsed { timestamp, level, text: text.to_string(), location: None, failure: failed };
        }
        if let Some(status) = text.strip_prefix("Phase context status code: ") {
            let level = if status.starts_with(' ') || status.is_empty() { Level::Info } else { Level::Error };
            return Parsed { timestamp, level, text: text.to_string(), location: None, failure: false };
        }
        let level =
            if text.starts_with("Command did not exit successfully") { Level::Error } else { infer_level(text) };
        Parsed { timestamp, level, text: text.to_string(), location: None, failure: false }
    }
}

/// `[2024-05-14T09:20:01.123Z] rest`, as Jenkins' Timestamper writes it: the time and the rest.
fn bracketed_time(line: &str) -> Option<(&str, &str)> {
    let (time, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let (stamp, _) = leading_iso_time(&line[1..])?;
    (stamp.strip_suffix(']') == Some(time)).then_some((time, rest))
}

/// `Process completed with exit code 101.`
fn exits_non_zero(text: &str) -> bool {
    text.strip_prefix("Process completed with exit code ")
        .and_then(|c| c.trim_end_matches('.').parse::<i64>().ok())
        .is_some_and(|code| code != 0)
}

/// `::error file=src/a.rs,line=3,col=5,title=T::message` with the runner's escapes undone.
fn workflow_command(body: &str) -> Option<Parsed> {
    let rest = body.strip_prefix("::")?;
    let (head, message) = rest.split_once("::")?;
    let (name, properties) = head.split_once(' ').unwrap_or((head, ""));
    let level = match name {
        "error" => Level::Error,
        "warning" => Level::Warning,
        "notice" => Level::Notice,
        "debug" => Level::Debug,
        _ => return None,
    };
    let mut file = None;
    let (mut line, mut col) = (None, None);
    for property in properties.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = property.split_once('=').unwrap_or((property, ""));
        let value = unescape(value, true);
        match key.trim() {
            "file" => file = Some(value),
            "line" => line = Some(value),
            "col" => col = Some(value),
            _ => {}
        }
    }
    let location = file.map(|f| match (line, col) {
        (Some(l), Some(c)) => format!("{f}:{l}:{c}"),
        (Some(l), None) => format!("{f}:{l}"),
        _ => f,
    });
    Some(Parsed { timestamp: None, level, text: unescape(message, false), location, failure: false })
}

/// Undo the workflow-command escapes: `%25` `%0D` `%0A`, and in properties `%3A` `%2C`.
fn unescape(text: &str, property: bool) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let mut out = text.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        out = out.replace("%3A", ":").replace("%2C", ",");
    }
    out.replace("%25", "%")
}

/// `2024/05/01 12:00:00.123456 rest` -> (`2024-05-01T12:00:00.123456Z`, `rest`).
fn codebuild_time(text: &str) -> Option<(String, &str)> {
    let b = text.as_bytes();
    let shape = b.len() >= 19 && b[4] == b'/' && b[7] == b'/' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    if !shape || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let end = text[11..].find(' ').map_or(text.len(), |p| p + 11);
    let time = format!("{}T{}Z", text[..10].replace('/', "-"), &text[11..end]);
    Some((time, text[end..].trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_decoded() {
        let p = workflow_command("::error file=src/a%2Cb.rs,line=3,col=5::mismatched%0Atypes 100%25").unwrap();
        assert_eq!(p.level, Level::Error);
        assert_eq!(p.location.as_deref(), Some("src/a,b.rs:3:5"));
        assert_eq!(p.text, "mismatched\ntypes 100%");
        assert!(workflow_command("::set-output name=x::y").is_none());
    }

    #[test]
    fn codebuild_times_become_rfc3339() {
        assert_eq!(
            codebuild_time("2024/05/01 12:00:03.123456 Phase complete: BUILD State: FAILED"),
            Some(("2024-05-01T12:00:03.123456Z".to_string(), "Phase complete: BUILD State: FAILED"))
        );
    }

    #[test]
    fn detection_reads_the_markers() {
        assert_eq!(detect("2024-05-01T12:00:00.1Z ##[group]Run x\n"), Format::GithubActions);
        assert_eq!(detect("Started by user admin\n[Pipeline] Start of Pipeline\n"), Format::Jenkins);
        assert_eq!(detect("[Container] 2024/05/01 12:00:00.1 Entering phase BUILD\n"), Format::Codebuild);
        assert_eq!(detect("[2024-05-14T09:20:01.123Z] [Pipeline] Start of Pipeline\n"), Format::Jenkins);
        assert_eq!(bracketed_time("[2024-05-14T09:20:01.123Z] + make"), Some(("2024-05-14T09:20:01.123Z", "+ make")));
        assert_eq!(bracketed_time("[INFO] Building orders"), None);
        assert_eq!(detect("just text\n"), Format::Plain);
    }
}
