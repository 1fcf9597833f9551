//! A one-line progress report on stderr for long reads: done, total, rate, time left. Shown only
//! when stderr is a terminal, and only once the work has taken half a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    total: Option<u64>,
    start: Instant,
    last: Option<Instant>,
    enabled: bool,
}

fn size(bytes: f64) -> String {
    if bytes >= 1e9 { format!("{:.2} GB", bytes / 1e9) } else { format!("{:.0} MB", bytes / 1e6) }
}

impl Progress {
    /// Progress of reading `label`, `total` bytes if known.
    pub fn new(label: &str, total: Option<u64>) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            start: Instant::now(),
            last: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// A one-off status line (work with no byte count), shown at once on a terminal and cleared
    /// when the report is dropped.
    pub fn status(text: &str) -> Progress {
        let mut progress = Progress::new(text, None);
        if progress.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K{text}");
            let _ = err.flush();
            progress.last = Some(Instant::now());
        }
        progress.enabled = false;
        progress
    }

    /// A report nobody sees (for work running beside other work).
    pub fn hidden() -> Progress {
        let mut progress = Progress::new("", None);
        progress.enabled = false;
        progress
    }

    pub fn update(&mut self, done: u64) {
        let elapsed = self.start.elapsed();
        let due = self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
        if !self.enabled || elapsed < Duration::from_millis(500) || !due {
            return;
        }
        self.last = Some(Instant::now());
        let rate = done as f64 / elapsed.as_secs_f64();
        let line = match self.total {
            Some(total) if total > 0 => {
                let left = total.saturating_sub(done) as f64 / rate.max(1.0);
                format!(
                    "reading {}: {} of {} ({:.0}%), {}/s, {:.0}s left",
                    self.label,
                    size(done as f64),
                    size(total as f64),
                    done as f64 * 100.0 / total as f64,
                    size(rate),
                    left.ceil()
                )
            }
            _ => format!("reading {}: {} so far, {}/s", self.label, size(done as f64), size(rate)),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
    }

    /// Clear the line if anything was shown.
    pub fn finish(&mut self) {
        if self.last.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
