//! The runtime bridge: runs async capability calls on a tokio runtime from synchronous Rhai
//! functions, and cancels them (and running scripts) when the user interrupts.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// How long interrupted work that stops itself may take to do so.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Why a call did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// A counter of interrupts. A statement records the count when it starts and is cancelled once
/// the count moves, so an interrupt never leaks into the next statement.
#[derive(Debug)]
pub struct Interrupt {
    /// Read on every script operation, so a plain atomic.
    count: AtomicU64,
    /// Wakes async calls waiting on the interrupt.
    wake: watch::Sender<u64>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt { count: AtomicU64::new(0), wake: watch::Sender::new(0) }
    }
}

impl Interrupt {
    /// Interrupt whatever is running now. Safe to call from any thread.
    pub fn trigger(&self) {
        let now = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.send_replace(now);
    }

    /// The current interrupt count, to compare against later.
    pub fn mark(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn since(&self, mark: u64) -> bool {
        self.count.load(Ordering::Relaxed) != mark
    }

    async fn wait_since(&self, mark: u64) {
        let mut rx = self.wake.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|n| *n != mark).await;
    }
}

/// A lazily started multi-threaded tokio runtime plus the interrupt that cancels its calls.
pub struct Bridge {
    runtime: OnceLock<tokio::runtime::Runtime>,
    interrupt: Interrupt,
    /// Interrupt count when the statement in flight started.
    statement_mark: AtomicU64,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge { runtime: OnceLock::new(), interrupt: Interrupt::default(), statement_mark: AtomicU64::new(0) }
    }
}

impl Bridge {
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Called as a statement starts.
    pub fn begin_statement(&self) {
        self.statement_mark.store(self.interrupt.mark(), Ordering::SeqCst);
    }

    /// Whether the statement in flight has been interrupted.
    pub fn cancelled(&self) -> bool {
        self.interrupt.since(self.statement_mark.load(Ordering::Relaxed))
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        // Start-up stays fast for scripts that never wait on the network or disk.
        self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("deployclaw-io")
                .enable_all()
                .build()
                .expect("the tokio runtime starts")
        })
    }

    /// What stops work of the statement in flight: its interrupt.
    pub fn cancel(&self) -> crate::cancel::Cancel {
        let mark = self.statement_mark.load(Ordering::SeqCst);
        crate::cancel::Cancel::on_interrupt(self.interrupt.wake.subscribe(), mark)
    }

    /// Run the future `make` returns, which watches [`Bridge::cancel`] and stops by itself when
    /// interrupted (a query cancelled on its server). After an interrupt it gets
    /// [`STOP_GRACE`] to do so before it is dropped.
    pub fn block_on_stoppable<T, F: Future<Output = T>>(&self, make: impl FnOnce() -> F) -> Result<T, Cancelled> {
        let mark = self.statement_mark.load(Ordering::SeqCst);
        if self.interrupt.since(mark) {
            return Err(Cancelled);
        }
        self.runtime().block_on(async {
            let work = make();
            tokio::pin!(work);
            tokio::select! {
                value = &mut work => return Ok(value),
                _ = self.interrupt.wait_since(mark) => {}
            }
            tokio::time::timeout(STOP_GRACE, work).await.map_err(|_| Cancelled)
        })
    }

    /// Run the future `make` returns to completion unless the statement is interrupted first.
    /// The future is made inside the runtime, so it may create timers and sockets.
    pub fn block_on<T, F: Future<Output = T>>(&self, make: impl FnOnce() -> F) -> Result<T, Cancelled> {
        let mark = self.statement_mark.load(Ordering::SeqCst);
        if self.interrupt.since(mark) {
            return Err(Cancelled);
        }
        self.runtime().block_on(async {
            tokio::select! {
                biased;
                _ = self.interrupt.wait_since(mark) => Err(Cancelled),
                value = make() => Ok(value),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn an_interrupt_cancels_a_blocked_call_and_only_that_statement() {
        let bridge = Arc::new(Bridge::default());
        bridge.begin_statement();
        let b = bridge.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            b.interrupt().trigger();
        });
        let start = Instant::now();
        let out = bridge.block_on(|| tokio::time::sleep(Duration::from_secs(30)));
        assert_eq!(out, Err(Cancelled));
        assert!(start.elapsed() < Duration::from_secs(10));
        t.join().unwrap();
        bridge.begin_statement();
        assert_eq!(bridge.block_on(|| async { 7 }), Ok(7));
    }
}
