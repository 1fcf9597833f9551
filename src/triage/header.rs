//! The header a log's lines start with (times, pid, level, component, host), learned from the
//! lines themselves, so that templates are mined from the message alone, as Loghub's evaluation
//! does, and the header is kept beside it.
//!
//! A header is a run of columns at fixed token positions: the positions where at least 80 % of
//! a sample of lines hold a token of one kind (a time or number, a `[...]` group, a lone `-`, a
//! level, a month or weekday name, a `component:`). Positions between two such columns belong to
//! it too (a host between the time and the process, say); a `component:` column ends it. When, in
//! at least 90 % of the lines, a
//! `-` or a `component:` follows within three tokens, the header runs through it (a program name
//! of one or two words before ` - `). A line whose tokens do not fit the shape (a stack frame, a
//! continuation) keeps its whole text.

/// The kinds of token a header column may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A time, date or number: `081109`, `18:01:47,978`, `2005.06.03`, `-1`.
    Time,
    /// `[...]`, nested brackets and spaces included.
    Bracket,
    /// A lone `-`.
    Dash,
    /// `INFO`, `warn`, `D`.
    Level,
    Month,
    Weekday,
    /// `sshd[24200]:`, `dfs.DataNode$PacketResponder:`.
    Component,
}

/// How many leading tokens are looked at for header columns.
const COLUMNS: usize = 12;
/// How many tokens after the columns may come before the header's terminator.
const TERMINATOR_WITHIN: usize = 3;
/// Lines of the sample the shape is learned from.
pub const SAMPLE: usize = 2000;
const LEVELS: [&str; 20] = [
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT",
    "EMERG", "V", "D", "I", "W", "E", "F", "A",
];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The header shape of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The class each leading token must have (None: any token).
    columns: Vec<Option<Class>>,
    /// Whether the header runs on through a `-` or `component:` within a few tokens.
    terminated: bool,
}

impl Shape {
    /// Learn the header shape from the first lines of a log; None when the lines share none.
    pub fn learn<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<Shape> {
        let sample: Vec<Vec<&str>> = lines
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .take(SAMPLE)
            .map(|l| tokens(l, COLUMNS).iter().map(|&(a, b)| &l[a..b]).collect())
            .collect();
        if sample.is_empty() {
            return None;
        }
        let share = |n: usize| n as f64 / sample.len() as f64;
        let columns: Vec<Option<Class>> = (0..COLUMNS)
            .map(|i| {
                let mut counts: Vec<(Class, usize)> = Vec::new();
                for class in sample.iter().filter_map(|t| t.get(i).and_then(|tok| classify(tok))) {
                    match counts.iter_mut().find(|(c, _)| *c == class) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((class, 1)),
                    }
                }
                counts.into_iter().max_by_key(|&(_, n)| n).filter(|&(_, n)| share(n) >= 0.8).map(|(c, _)| c)
            })
            .collect();
        // A `component:` column ends the header: what follows it is the message, even where a
        // message starts with a number in every line of a short sample.
        let len = match columns.iter().position(|c| *c == Some(Class::Component)) {
            Some(at) => at + 1,
            None => columns.iter().rposition(Option::is_some)? + 1,
        };
        let columns = columns[..len].to_vec();
        let ends = |t: &Vec<&str>| t.iter().skip(len).take(TERMINATOR_WITHIN).any(|tok| is_terminator(tok));
        let terminated = share(sample.iter().filter(|t| ends(t)).count()) >= 0.9;
        Some(Shape { columns, terminated })
    }

    /// The line split into its header and its message, when it fits the shape.
    pub fn split<'l>(&self, line: &'l str) -> Option<(&'l str, &'l str)> {
        let spans = tokens(line, self.columns.len() + TERMINATOR_WITHIN + 1);
        let fits = self.columns.iter().enumerate().all(|(i, want)| {
            let Some(&(a, b)) = spans.get(i) else { return false };
            want.is_none_or(|want| classify(&line[a..b]) == Some(want))
        });
        if !fits {
            return None;
        }
        let mut end = self.columns.len();
        if self.terminated
            && let Some(at) =
                (end..spans.len().min(end + TERMINATOR_WITHIN)).find(|&j| is_terminator(&line[spans[j].0..spans[j].1]))
        {
            end = at + 1;
        }
        let &(start, _) = spans.get(end)?;
        Some((line[..start].trim_end(), &line[start..]))
    }
}

/// Each text split into its header (when the texts share one and the line fits it) and its
/// message; the shape is learned from the first texts.
pub fn split_all<'a>(texts: &[&'a str]) -> Vec<(Option<&'a str>, &'a str)> {
    let shape = Shape::learn(texts.iter().copied());
    texts
        .iter()
        .map(|&text| match shape.as_ref().and_then(|s| s.split(text)) {
            Some((header, message)) => (Some(header), message),
            None => (None, text),
        })
        .collect()
}

fn is_terminator(token: &str) -> bool {
    matches!(classify(token), Some(Class::Dash | Class::Component))
}

/// The most tokens a line is split into: the columns, and the terminator after them.
const MAX_TOKENS: usize = COLUMNS + TERMINATOR_WITHIN + 1;

/// The spans of a line's first tokens, kept inline: this runs on every line of a log, where an
/// allocation per line showed in profiles.
struct Spans {
    items: [(usize, usize); MAX_TOKENS],
    len: usize,
}

impl std::ops::Deref for Spans {
    type Target = [(usize, usize)];
    fn deref(&self) -> &Self::Target {
        &self.items[..self.len]
    }
}

/// The byte spans of the first `limit` tokens (at most [`MAX_TOKENS`]): runs of non-blanks, a
/// `[...]` group (with the blanks inside it) being one token.
fn tokens(line: &str, limit: usize) -> Spans {
    let bytes = line.as_bytes();
    let blank = |b: u8| b == b' ' || b == b'\t';
    let mut spans = Spans { items: [(0, 0); MAX_TOKENS], len: 0 };
    let mut i = 0;
    while spans.len < limit.min(MAX_TOKENS) {
        while i < bytes.len() && blank(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        if bytes[i] == b'[' {
            let mut depth = 0usize;
            while i < bytes.len() {
                match bytes[i] {
                    b'[' => depth += 1,
                    b']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        }
        while i < bytes.len() && !blank(bytes[i]) {
            i += 1;
        }
        // Only ASCII bytes ended the token, so both ends are character boundaries.
        spans.items[spans.len] = (start, i);
        spans.len += 1;
    }
    spans
}

/// The header class of one token, if it has one.
pub fn classify(token: &str) -> Option<Class> {
    let t = token.trim_end_matches(',');
    if t.is_empty() {
        return None;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.starts_with(|c: char| c.is_ascii_digit()) && digits.chars().all(|c| "0123456789:.,-/T+Z_".contains(c)) {
        return Some(Class::Time);
    }
    if t.len() >= 2 && t.starts_with('[') && t.ends_with(']') {
        return Some(Class::Bracket);
    }
    if t == "-" {
        return Some(Class::Dash);
    }
    let upper = t.to_ascii_uppercase();
    if LEVELS.contains(&upper.as_str()) && (t.len() > 1 || t == upper) {
        return Some(Class::Level);
    }
    let lower = t.to_ascii_lowercase();
    if MONTHS.contains(&lower.as_str()) {
        return Some(Class::Month);
    }
    if WEEKDAYS.contains(&lower.as_str()) {
        return Some(Class::Weekday);
    }
    if t.len() > 1 && t.ends_with(':') && !t.starts_with('[') {
        return Some(Class::Component);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(lines: &[&str]) -> Vec<String> {
        let shape = Shape::learn(lines.iter().copied()).expect("a shape");
        lines.iter().map(|l| shape.split(l).map_or(l.to_string(), |(_, m)| m.to_string())).collect()
    }

    #[test]
    fn syslog_headers_with_hosts_and_processes() {
        let mut lines = vec![
            "Jun 14 15:16:01 web1 sshd[19939]: authentication failure; rhost=10.0.0.4",
            "Jun 14 15:16:02 web1 sshd[19937]: check pass; user unknown",
            "Jun 14 15:17:00 web2 cron[2915]: 4 sessions closed for user root",
            "    at continuation line without a header",
        ];
        lines.extend(["Jun 14 15:17:01 web2 cron[2915]: 5 sessions closed for user root"; 6]);
        let m = messages(&lines);
        assert_eq!(m[0], "authentication failure; rhost=10.0.0.4");
        assert_eq!(m[2], "4 sessions closed for user root");
        assert_eq!(m[3], lines[3], "a line that does not fit keeps its text");
    }

    #[test]
    fn bracketed_times_levels_and_programs_before_a_dash() {
        let lines = [
            "[10.30 16:49:06] chrome.exe - proxy.example:5070 open through proxy HTTPS",
            "[10.30 16:49:07] svchost.exe *64 - proxy.example:5070 close, 303 bytes sent",
            "[10.30 16:49:08] chrome.exe - proxy.example:5070 close, 12 bytes sent",
        ];
        let m = messages(&lines);
        assert_eq!(m[1], "proxy.example:5070 close, 303 bytes sent");
        let shape = Shape::learn(lines.iter().copied()).unwrap();
        assert_eq!(shape.split(lines[1]).unwrap().0, "[10.30 16:49:07] svchost.exe *64 -");
        let apache = [
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
            "[Sun Dec 04 04:47:45 2005] [error] mod_jk child in error state 6",
        ];
        assert_eq!(messages(&apache)[1], "mod_jk child in error state 6");
    }

    #[test]
    fn lines_without_a_common_header_have_no_shape() {
        assert_eq!(Shape::learn(["Compiling foo v0.1.0", "running 3 tests", "test a ... ok"]), None);
        assert_eq!(Shape::learn([]), None);
        assert_eq!(Shape::learn(["", "   "]), None);
    }

    #[test]
    fn tokens_survive_any_text() {
        for line in ["[[[", "]]] x", "[é ü] ок:", "\t-\t", "é", "[a]b c"] {
            for &(a, b) in tokens(line, 8).iter() {
                assert!(line.is_char_boundary(a) && line.is_char_boundary(b), "{line:?}");
            }
            let _ = Shape::learn([line]).map(|s| s.split(line));
        }
        assert_eq!(classify("-1"), Some(Class::Time));
        assert_eq!(classify("04:30:30,"), Some(Class::Time));
        assert_eq!(classify("D"), Some(Class::Level));
        assert_eq!(classify("d"), None);
        assert_eq!(classify("kernel[0]:"), Some(Class::Component));
    }
}
