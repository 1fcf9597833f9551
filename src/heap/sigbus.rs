//! A mapped dump that another process truncates raises SIGBUS on the next read past its new end,
//! which would kill the shell. While a mapping is watched, a SIGBUS inside it puts a page of zeros
//! where the file's page was, marks the mapping as faulted and lets the read go on; the reader
//! then reports the file as changed instead of whatever the zeros made of it.
//!
//! A SIGBUS anywhere else goes to the handler that was there before (Rust's own, or the default,
//! which ends the process as it would have without this module).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Mappings watched at once; more are read unwatched (a SIGBUS then ends the process, as before).
const SLOTS: usize = 64;

struct Slot {
    /// `start..end` of the mapping, or `0..0` when the slot is free.
    start: AtomicUsize,
    end: AtomicUsize,
    taken: AtomicBool,
    faulted: AtomicBool,
}

static WATCHED: [Slot; SLOTS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        taken: AtomicBool::new(false),
        faulted: AtomicBool::new(false),
    }
}; SLOTS];

/// The handler before ours, to pass on faults that are not in a watched mapping.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// A mapping watched for SIGBUS until dropped. Drop it before the mapping is unmapped.
pub struct Watch {
    slot: usize,
}

impl Watch {
    /// Watch `bytes`, a mapping of a file. `None` if every slot is taken or the handler could not
    /// be installed: the mapping is then read as before.
    pub fn new(bytes: &[u8]) -> Option<Watch> {
        if bytes.is_empty() || !installed() {
            return None;
        }
        let slot = WATCHED
            .iter()
            .position(|s| s.taken.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok())?;
        let start = bytes.as_ptr() as usize;
        WATCHED[slot].faulted.store(false, Ordering::Relaxed);
        WATCHED[slot].end.store(start + bytes.len(), Ordering::Relaxed);
        WATCHED[slot].start.store(start, Ordering::Release);
        Some(Watch { slot })
    }

    /// Whether a read of the mapping found the file shorter than the mapping (a page of it is
    /// zeros now, not the file's bytes).
    pub fn faulted(&self) -> bool {
        WATCHED[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let slot = &WATCHED[self.slot];
        slot.start.store(0, Ordering::Release);
        slot.end.store(0, Ordering::Release);
        slot.taken.store(false, Ordering::Release);
    }
}

/// Install the handler once; whether it is in place.
fn installed() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            // SAFETY: a zeroed sigaction is a valid value to fill in; sigaction is given valid
            // pointers, and the handler only touches atomics and makes async-signal-safe calls.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                (libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0).then_some(previous)
            }
        })
        .is_some()
}

extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a handler installed with SA_SIGINFO.
    let address = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &WATCHED {
        let (start, end) = (slot.start.load(Ordering::Acquire), slot.end.load(Ordering::Acquire));
        if start <= address && address < end {
            // mmap is a plain system call on Linux, safe here although POSIX does not list it.
            // SAFETY: the page lies inside a mapping this process made read-only for a dump; it
            // is replaced by zeros, which every reader of the dump accepts as bytes.
            let zeros = unsafe {
                libc::mmap(
                    (address & !(page - 1)) as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                slot.faulted.store(true, Ordering::Release);
                return;
            }
        }
    }
    pass_on(signal, info, context);
}

/// Hand a fault that is not ours to the handler that was there before.
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get().copied().flatten();
    match previous {
        Some(action) if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN => {
            if action.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(action.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: installed without SA_SIGINFO, so it takes the signal number only.
                let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // Back to the default: returning repeats the fault, which then ends the process.
            // SAFETY: signal is async-signal-safe.
            unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_read_past_a_truncated_end_gives_zeros_and_marks_the_mapping() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; 3 * 65536]).unwrap();
        // SAFETY: the test owns the file and truncates it on purpose.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let watch = Watch::new(&map).expect("a slot is free");
        assert_eq!(map[100_000], 7);
        file.set_len(4096).unwrap();
        let last = std::hint::black_box(&map[..])[map.len() - 1];
        assert_eq!(last, 0);
        assert!(watch.faulted());
        assert_eq!(map[10], 7, "what the file still holds reads as before");
        drop(watch);
    }

    #[test]
    fn slots_are_given_back() {
        let bytes = vec![1u8; 16];
        let watches: Vec<Watch> = (0..SLOTS).map_while(|_| Watch::new(&bytes)).collect();
        assert!(Watch::new(&bytes).is_none() || watches.len() < SLOTS);
        drop(watches);
        assert!(Watch::new(&bytes).is_some());
    }
}
