//! Durations as people and monitoring tools write them: `250ms`, `5s`, `5m`, `1h30m`, `28d`,
//! `2w` (Prometheus and OpenSLO style), and back.

use std::time::Duration;

/// Parse a duration: one or more `NUMBER UNIT` parts (`ms`, `s`, `m`/`min`, `h`, `d`, `w`), or
/// a bare number of seconds. The error says what was wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration: write 5m, 1h or 28d".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return seconds(secs, text);
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{text:?} is not a duration like 5m, 1h30m or 28d"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let n: f64 = number.parse().map_err(|_| format!("{text:?}: {number:?} is not a number"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "" => return Err(format!("{text:?}: give a unit after {number} (ms, s, m, h, d or w)")),
            other => return Err(format!("{text:?}: unknown unit {other:?}; use ms, s, m, h, d or w")),
        };
        total += n * scale;
        rest = next;
    }
    seconds(total, text)
}

/// The longest duration taken: no SLO period, look-back or alert window comes near it, and a
/// bound leaves room for the arithmetic done on windows (factors, sums) without overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 366 * 86_400);

fn seconds(secs: f64, text: &str) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a duration of zero or more"));
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("{text:?} is longer than 100 years; give a duration such as 28d or 1h")),
    }
}

/// The exact form monitoring tools write: `5m`, `1h`, `1h30m`, `28d`, `90s`, `250ms` (days, not
/// weeks, since SLO periods are written `28d`).
pub fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out += &format!("{}{unit}", secs / size);
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_form() {
        let s = |t: &str| parse_duration(t).unwrap().as_secs_f64();
        assert_eq!(s("5m"), 300.0);
        assert_eq!(s("1h30m"), 5400.0);
        assert_eq!(s("28d"), 28.0 * 86400.0);
        assert_eq!(s("2w"), 14.0 * 86400.0);
        assert_eq!(s("250ms"), 0.25);
        assert_eq!(s("90"), 90.0);
        assert_eq!(s(" 1.5h "), 5400.0);
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unknown unit \"parsecs\""));
        assert!(parse_duration("m5").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_too_long_for_a_clock_are_errors() {
        for text in ["1e20", "99999999999999999999d", "1e300", "36600000d", "inf", "NaN"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("100 years") || err.contains("zero or more"), "{text}: {err}");
        }
        assert_eq!(parse_duration("36500d").unwrap().as_secs(), 36_500 * 86_400);
    }

    #[test]
    fn durations_format_back() {
        let f = |secs: u64| format_duration(Duration::from_secs(secs));
        assert_eq!(f(300), "5m");
        assert_eq!(f(5400), "1h30m");
        assert_eq!(f(28 * 86400), "28d");
        assert_eq!(f(30 * 86400), "30d");
        assert_eq!(f(3 * 86400), "3d");
        assert_eq!(f(0), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
