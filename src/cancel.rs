//! Stopping work where it runs. A [`Cancel`] fires when the user interrupts the statement in
//! flight (Ctrl-C, a kernel interrupt) or when its deadline passes; work that holds a resource
//! elsewhere (a query on a database server) watches it and stops that work there, rather than
//! being dropped while the server carries on.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Why work was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Interrupted,
    /// The statement timeout, as given.
    TimedOut(Duration),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Interrupted => write!(f, "interrupted"),
            Why::TimedOut(d) => write!(f, "timed out after {}", crate::units::format_duration(*d)),
        }
    }
}

/// When the work in flight must stop.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// The interrupt counter, and its value when the work's statement started.
    interrupts: Option<(watch::Receiver<u64>, u64)>,
    deadline: Option<(Instant, Duration)>,
}

impl Cancel {
    /// Never fires.
    pub fn never() -> Cancel {
        Cancel::default()
    }

    /// Fires once the counter moves past `mark`.
    pub fn on_interrupt(counter: watch::Receiver<u64>, mark: u64) -> Cancel {
        Cancel { interrupts: Some((counter, mark)), deadline: None }
    }

    /// Also fires `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Cancel {
        self.deadline = Some((Instant::now() + timeout, timeout));
        self
    }

    /// Whether it can fire at all (work that cannot be stopped need not prepare for it).
    pub fn can_fire(&self) -> bool {
        self.interrupts.is_some() || self.deadline.is_some()
    }

    /// Whether it has fired already.
    pub fn fired_now(&self) -> Option<Why> {
        if let Some((counter, mark)) = &self.interrupts
            && *counter.borrow() != *mark
        {
            return Some(Why::Interrupted);
        }
        match self.deadline {
            Some((at, timeout)) if Instant::now() >= at => Some(Why::TimedOut(timeout)),
            _ => None,
        }
    }

    /// Resolves when it fires; never, for [`Cancel::never`].
    pub async fn fired(&self) -> Why {
        let interrupted = async {
            match &self.interrupts {
                Some((counter, mark)) => {
                    let mut counter = counter.clone();
                    // The sender outlives every statement; if it is gone, nothing can interrupt.
                    if counter.wait_for(|n| n != mark).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        let timed_out = async {
            match self.deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            _ = interrupted => Why::Interrupted,
            _ = timed_out => Why::TimedOut(self.deadline.map_or(Duration::ZERO, |(_, d)| d)),
        }
    }
}

/// Gives the [`Cancel`] of whatever statement is running when work starts: a database opened in
/// one statement runs queries in later ones, each stopped by its own statement's interrupt.
pub trait CancelSource: Send + Sync {
    fn current(&self) -> Cancel;
}

/// A source that never cancels, for library use and tests.
pub struct NoCancel;

impl CancelSource for NoCancel {
    fn current(&self) -> Cancel {
        Cancel::never()
    }
}

pub fn no_cancel() -> Arc<dyn CancelSource> {
    Arc::new(NoCancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn fires_on_interrupt_or_deadline_whichever_first() {
        let (tx, rx) = watch::channel(0u64);
        let short = Duration::from_millis(50);
        let cancel = Cancel::on_interrupt(rx.clone(), 0).with_timeout(short);
        assert_eq!(cancel.fired_now(), None);
        assert_eq!(cancel.fired().await, Why::TimedOut(short));
        let cancel = Cancel::on_interrupt(rx, 0).with_timeout(Duration::from_secs(3600));
        tx.send_replace(1);
        assert_eq!(cancel.fired_now(), Some(Why::Interrupted));
        assert_eq!(cancel.fired().await, Why::Interrupted);
        let never = tokio::time::timeout(short, Cancel::never().fired()).await;
        assert!(never.is_err());
    }
}
