//! The line grammars of GitHub Actions, Jenkins and AWS CodeBuild logs, and plain text: each
//! turns raw lines into [`LogLine`]s, keeping track of the step a line belongs to.

use super::line::{Format, Level, LogLine, infer_level, leading_iso_time, strip_escapes};
use super::raw;

/// Guess the format from the first lines of a log.
pub fn detect(text: &str) -> Format {
    let (mut github, mut jenkins, mut codebuild) = (0, 0, 0);
    for raw in text.lines().take(400) {
        let raw = raw::run_view_columns(raw).map_or(raw::without_bom(raw), |(_, _, rest)| rest);
        let raw = raw::console_row(raw).filter(|row| row.starts_with("[Container]")).unwrap_or(raw);
        let line = strip_escapes(raw);
        let body = leading_iso_time(&line)
            .or_else(|| bracketed_time(&line))
            .or_else(|| raw::clock_prefix(&line))
            .map_or(line.as_ref(), |(_, rest)| rest);
        if body.starts_with("##[") || body.strip_prefix("::").is_some_and(|rest| rest.contains("::")) {
            github += 1;
        }
        let jenkins_marks = ["[Pipeline]", "Started by ", "Finished: ", "Building in workspace ", "Build step '"];
        if jenkins_marks.iter().any(|mark| body.starts_with(mark)) {
            jenkins += 1;
        }
        if body.starts_with("[Container]") {
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
    let text = raw::without_bom(text);
    let mut parser = Parser::new(format, source, job);
    text.lines().enumerate().map(|(i, raw)| parser.line(raw, i as u64 + 1)).collect()
}

/// Reads a log one line at a time, in order, as [`parse`] does for a whole text: for logs read
/// as a stream. The first line may still carry a byte-order mark; lines have no `\n`. A clone
/// taken between lines reads on from there.
#[derive(Clone)]
pub struct Parser<'a> {
    format: Format,
    source: &'a str,
    job: &'a str,
    step: Option<String>,
    /// Jenkins stages currently open (parallel branches nest).
    stages: Vec<Option<String>>,
    /// GitHub Actions groups opened so far.
    groups: usize,
    /// Inside the group that opens a GitHub Actions step: the runner echoes the step's script,
    /// shell and environment there, which is not output.
    in_header: bool,
}

struct Parsed {
    timestamp: Option<String>,
    /// None: inferred from the text when a whole line is built (reading only the text skips it).
    level: Option<Level>,
    text: String,
    location: Option<String>,
    failure: bool,
}

impl Parsed {
    fn plain(timestamp: Option<String>, text: &str) -> Parsed {
        Parsed { timestamp, level: None, text: text.to_string(), location: None, failure: false }
    }
}

impl<'a> Parser<'a> {
    pub fn new(format: Format, source: &'a str, job: &'a str) -> Parser<'a> {
        Parser { format, source, job, step: None, stages: Vec::new(), groups: 0, in_header: false }
    }

    /// The line's text as [`Parser::line`] gives it, without building the rest of the line.
    pub fn text(&mut self, raw: &str, number: u64) -> String {
        let raw = if number == 1 { raw::without_bom(raw) } else { raw };
        self.parsed(raw).1.text
    }

    /// Line `number` (1-based) of the log.
    pub fn line(&mut self, raw: &str, number: u64) -> LogLine {
        let (columns, parsed) = self.parsed(raw);
        let (job, step) = match columns {
            Some((job, step)) => (job.to_string(), Some(step.to_string())),
            None => (self.job.to_string(), self.step.clone()),
        };
        LogLine {
            source: self.source.to_string(),
            job,
            step,
            timestamp: parsed.timestamp,
            level: parsed.level.unwrap_or_else(|| infer_level(&parsed.text)),
            text: parsed.text,
            line: number,
            location: parsed.location,
            failure: parsed.failure,
        }
    }

    /// The job and step columns of `gh run view --log`, and the parsed line.
    fn parsed<'r>(&mut self, raw: &'r str) -> (Option<(&'r str, &'r str)>, Parsed) {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // A whole run's log from `gh run view --log` names the job and step of every line.
        let columns = if self.format == Format::GithubActions { raw::run_view_columns(raw) } else { None };
        let raw = columns.map_or(raw, |(_, _, rest)| rest);
        if self.format == Format::Plain
            && let Some(section) = raw::gitlab_section(raw)
        {
            self.step = Some(section.to_string());
        }
        let stripped = strip_escapes(raw);
        let clean = drawn(&stripped);
        let clean = clean.as_ref();
        let parsed = match self.format {
            Format::GithubActions => self.github(clean),
            Format::Jenkins => self.jenkins(clean),
            Format::Codebuild => self.codebuild(clean),
            Format::Plain => plain(clean),
        };
        (columns.map(|(job, step, _)| (job, step)), parsed)
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
            self.in_header = title.starts_with("Run ");
            self.groups += 1;
            return Parsed {
                timestamp,
                level: Some(Level::Info),
                text: title.to_string(),
                location: None,
                failure: false,
            };
        }
        if body.starts_with("##[endgroup]") {
            self.in_header = false;
            return Parsed {
                timestamp,
                level: Some(Level::Debug),
                text: String::new(),
                location: None,
                failure: false,
            };
        }
        if self.in_header {
            return Parsed {
                timestamp,
                level: Some(Level::Debug),
                text: body.to_string(),
                location: None,
                failure: false,
            };
        }
        for (marker, level) in [
            ("##[error]", Level::Error),
            ("##[warning]", Level::Warning),
            ("##[notice]", Level::Notice),
            ("##[debug]", Level::Debug),
        ] {
            if let Some(text) = body.strip_prefix(marker) {
                let failure = level == Level::Error && exits_non_zero(text);
                return Parsed { timestamp, level: Some(level), text: text.to_string(), location: None, failure };
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
            // A clock without a date cannot be an RFC 3339 time: it is dropped from the text.
            None => (None, raw::clock_prefix(line).map_or(line, |(_, rest)| rest)),
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
                level: Some(Level::Debug),
                text: pipeline.to_string(),
                location: None,
                failure: false,
            };
        }
        if let Some(result) = body.strip_prefix("Finished: ") {
            let failed = result != "SUCCESS";
            let level = if failed { Level::Error } else { Level::Info };
            return Parsed { timestamp, level: Some(level), text: body.to_string(), location: None, failure: failed };
        }
        // Pipelines say "script returned exit code"; freestyle jobs say which build step failed.
        let step_failed = body.starts_with("Build step '") && body.ends_with("marked build as failure");
        if body.starts_with("ERROR: script returned exit code") || step_failed {
            return Parsed {
                timestamp,
                level: Some(Level::Error),
                text: body.to_string(),
                location: None,
                failure: true,
            };
        }
        Parsed::plain(timestamp, body)
    }

    fn codebuild(&mut self, line: &str) -> Parsed {
        // Copied from the console: numbered table rows, a header rule, non-breaking spaces.
        if raw::is_table_rule(line) {
            return Parsed {
                timestamp: None,
                level: Some(Level::Debug),
                text: line.to_string(),
                location: None,
                failure: false,
            };
        }
        let line = raw::console_row(line).unwrap_or(line);
        let spaced;
        let line = if line.contains('\u{a0}') {
            spaced = line.replace('\u{a0}', " ");
            spaced.as_str()
        } else {
            line
        };
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
            return Parsed { timestamp, level: Some(level), text: text.to_string(), location: None, failure: failed };
        }
        if let Some(status) = text.strip_prefix("Phase context status code: ") {
            let level = if status.starts_with(' ') || status.is_empty() { Level::Info } else { Level::Error };
            return Parsed { timestamp, level: Some(level), text: text.to_string(), location: None, failure: false };
        }
        let level = text.starts_with("Command did not exit successfully").then_some(Level::Error);
        Parsed { timestamp, level, text: text.to_string(), location: None, failure: false }
    }
}

/// What a terminal showed last of a line with progress bars (see [`raw::last_drawn`]), after
/// the time the CI system put in front of it, which is kept.
fn drawn(line: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(b'\r', line.as_bytes()).is_none() {
        return line.into();
    }
    let rest = leading_iso_time(line)
        .or_else(|| bracketed_time(line))
        .or_else(|| raw::clock_prefix(line))
        .map_or(line, |(_, rest)| rest);
    // `rest` is a suffix of `line` (each reader returns a subslice), so this cut is on a boundary.
    let head = &line[..line.len() - rest.len()];
    format!("{head}{}", raw::last_drawn(rest)).into()
}

/// A line of a log from no known CI system (GitLab's runner among them): its time when it starts
/// with one, and GitLab's `ERROR: Job failed` as the job's verdict.
fn plain(line: &str) -> Parsed {
    let (timestamp, text) = match leading_iso_time(line) {
        Some((time, rest)) => (Some(time.to_string()), rest),
        None => (None, line),
    };
    let mut parsed = Parsed::plain(timestamp, text);
    parsed.failure = text.starts_with("ERROR: Job failed");
    parsed
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
    Some(Parsed { timestamp: None, level: Some(level), text: unescape(message, false), location, failure: false })
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
        assert_eq!(p.level, Some(Level::Error));
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
