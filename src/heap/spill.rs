//! Arrays of `u32` kept in an unnamed temporary file mapped into memory: they read and write like
//! a slice, and the parts not in use can be handed back (`release`), leaving their contents in
//! the page cache, or on disk under memory pressure, instead of in this process. The object
//! graph keeps its big arrays this way so a phase holds only what it works on.

use std::ops::{Deref, DerefMut, Range};

const PAGE: usize = 4096;

pub struct Spill {
    map: memmap2::MmapMut,
    len: usize,
}

impl Spill {
    /// `len` zeros (the file is sparse until written).
    pub fn zeroed(len: usize) -> std::io::Result<Spill> {
        let file = tempfile::tempfile()?;
        // A mapping cannot be empty.
        let bytes = (len.max(1) * 4) as u64;
        file.set_len(bytes)?;
        // Claim the disk space now: writing to a mapped page the disk has no room for kills the
        // process (SIGBUS) instead of returning an error.
        // SAFETY: a valid open file descriptor and a non-negative range.
        let rc = unsafe { libc::posix_fallocate(std::os::fd::AsRawFd::as_raw_fd(&file), 0, bytes as libc::off_t) };
        if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        // SAFETY: the file is unnamed and private to this process: nothing else can change it.
        let map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        Ok(Spill { map, len })
    }

    /// `len` copies of `value`.
    pub fn filled(len: usize, value: u32) -> std::io::Result<Spill> {
        let mut spill = Spill::zeroed(len)?;
        if value != 0 {
            spill.fill(value);
        }
        Ok(spill)
    }

    /// Hand the pages wholly inside `range` (of elements) back to the kernel; their contents stay
    /// in the file and come back when touched.
    pub fn release(&self, range: Range<usize>) {
        let (start, end) = ((range.start * 4).div_ceil(PAGE) * PAGE, (range.end.min(self.len) * 4) / PAGE * PAGE);
        if end > start {
            // SAFETY: a shared file mapping: dropped pages are read back from the page cache or the
            // file, so the contents are unchanged.
            let _ = unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
        }
    }

    /// [`Spill::release`] of every element.
    pub fn release_all(&self) {
        self.release(0..self.len);
    }
}

impl Deref for Spill {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        // SAFETY: the mapping is page-aligned and at least `len * 4` bytes long; any bytes are a
        // valid u32.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<u32>(), self.len) }
    }
}

impl DerefMut for Spill {
    fn deref_mut(&mut self) -> &mut [u32] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<u32>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_keep_their_contents() {
        let mut a = Spill::filled(100_000, 7).unwrap();
        assert!(a.iter().all(|&x| x == 7));
        for (i, x) in a.iter_mut().enumerate() {
            *x = i as u32;
        }
        a.release_all();
        assert!(a.iter().enumerate().all(|(i, &x)| x == i as u32));
        a.release(10..50_000);
        assert_eq!(a[49_999], 49_999);
        let empty = Spill::zeroed(0).unwrap();
        assert!(empty.is_empty());
    }
}
