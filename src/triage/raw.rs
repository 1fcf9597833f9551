//! What stands around a log line's text before any CI grammar reads it: byte-order marks, the
//! job and step columns of `gh run view --log`, carriage-return progress bars, GitLab's section
//! markers and the `HH:MM:SS` clock that Jenkins' Timestamper writes in front of each line.

/// The line without a UTF-8 byte-order mark (files saved by Windows tools, and every line of
/// some `gh run view --log` downloads after the columns).
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// `job<TAB>step<TAB>2024-05-01T12:00:00.1Z text`, as `gh run view --log` prints a whole run:
/// the job, the step and the rest (time and text).
pub fn run_view_columns(line: &str) -> Option<(&str, &str, &str)> {
    let mut columns = line.splitn(3, '\t');
    let (job, step, rest) = (columns.next()?, columns.next()?, columns.next()?);
    let rest = without_bom(rest);
    let shaped = super::line::leading_iso_time(rest).is_some();
    (shaped && !job.is_empty()).then_some((job, step, rest))
}

/// What a terminal shows of a line with carriage returns in it: the last text written over the
/// others (progress bars redraw themselves with `\r`). Empty pieces (a trailing `\r`) show
/// nothing and leave the text before them.
pub fn last_drawn(line: &str) -> &str {
    if !line.contains('\r') {
        return line;
    }
    line.rsplit('\r').find(|piece| !piece.trim().is_empty()).unwrap_or("")
}

/// The name of the GitLab section a line opens (`section_start:1635909022:step_script\r`,
/// perhaps `[collapsed=true]` after the name), if it opens one.
pub fn gitlab_section(line: &str) -> Option<&str> {
    // Built once: `str::find` builds its searcher on every call, and this runs on every line.
    static MARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("section_start:"));
    let at = MARK.find(line.as_bytes())?;
    let after = &line[at + "section_start:".len()..];
    let (_, rest) = after.split_once(':')?;
    let end = rest.find(['\r', '[', '\x1b', ' ']).unwrap_or(rest.len());
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// `19:15:57 rest`: Jenkins' Timestamper clock (time of day only) and the rest of the line.
pub fn clock_prefix(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shaped = digits(0..2) && b.get(2) == Some(&b':') && digits(3..5) && b.get(5) == Some(&b':') && digits(6..8);
    // Only ASCII bytes were looked at, so index 8 and 9 are character boundaries.
    (shaped && b.get(8) == Some(&b' ')).then(|| (&line[..8], &line[9..]))
}

/// `12 | [Container] ...` (or a tab for the bar): a row of the log table in AWS CodeBuild's
/// console, copied with its line number; the text after the number.
pub fn console_row(line: &str) -> Option<&str> {
    const SPACES: [char; 2] = [' ', '\u{a0}'];
    let t = line.trim_start_matches(SPACES);
    let rest = t.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == t.len() {
        return None;
    }
    let rest = rest.trim_start_matches(SPACES);
    let rest = rest.strip_prefix('|').or_else(|| rest.strip_prefix('\t'))?;
    Some(rest.trim_start_matches(SPACES))
}

/// `-- | --`: the rule under a copied table's header, which is no line of the log.
pub fn is_table_rule(line: &str) -> bool {
    let t = line.trim();
    t.contains('|') && t.contains('-') && t.chars().all(|c| matches!(c, '-' | '|' | ':' | ' ' | '\u{a0}' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_view_columns_are_split_off() {
        let line = "build (8.18)\tSet up job\t\u{feff}2025-10-13T02:51:39.4650259Z Current runner";
        assert_eq!(
            run_view_columns(line),
            Some(("build (8.18)", "Set up job", "2025-10-13T02:51:39.4650259Z Current runner"))
        );
        assert_eq!(run_view_columns("a\tb\tno time here, not a column line"), None);
        assert_eq!(run_view_columns("2025-10-13T02:51:39.4650259Z text"), None);
        assert_eq!(run_view_columns("\t\t2025-10-13T02:51:39.4650259Z x"), None);
    }

    #[test]
    fn carriage_returns_leave_the_last_drawn_text() {
        assert_eq!(last_drawn("10%\r50%\r100% done"), "100% done");
        assert_eq!(last_drawn("error: disk\r"), "error: disk");
        assert_eq!(last_drawn("plain"), "plain");
        assert_eq!(last_drawn("\r\r"), "");
        assert_eq!(last_drawn("Ошибка\r"), "Ошибка");
    }

    #[test]
    fn gitlab_sections_are_named() {
        assert_eq!(gitlab_section("section_start:1635909022:step_script\r\x1b[0Kx"), Some("step_script"));
        assert_eq!(
            gitlab_section("section_end:1:a\r\x1b[0Ksection_start:2:get_sources[collapsed=true]\r"),
            Some("get_sources")
        );
        assert_eq!(gitlab_section("section_start:1:"), None);
        assert_eq!(gitlab_section("no section"), None);
    }

    #[test]
    fn codebuild_console_rows_lose_their_numbers() {
        assert_eq!(console_row("12 | [Container] 2024/05/01 x"), Some("[Container] 2024/05/01 x"));
        assert_eq!(console_row("7\t[Container] y"), Some("[Container] y"));
        assert_eq!(console_row("\u{a0}3\u{a0}|\u{a0}text"), Some("text"));
        assert_eq!(console_row("[Container] 2024/05/01"), None);
        assert_eq!(console_row("2024/05/01 x"), None);
        assert!(is_table_rule("-- | --"));
        assert!(is_table_rule(" --- | :--- "));
        assert!(!is_table_rule("--- FAIL: TestX"));
        assert!(!is_table_rule("a | b"));
    }

    #[test]
    fn jenkins_clocks_are_split_off() {
        assert_eq!(clock_prefix("19:15:57 Cannot rebase"), Some(("19:15:57", "Cannot rebase")));
        assert_eq!(clock_prefix("19:15:5 x"), None);
        assert_eq!(clock_prefix("1é:15:57 x"), None);
        assert_eq!(clock_prefix("19:15:57"), None);
    }
}
