//! Heap dumps: reading HPROF files and analysing what they hold.
//!
//! Plain library: typed results, no printing, no Rhai.

pub mod diff;
pub mod dominators;
pub mod fetch;
pub mod graph;
pub mod histogram;
pub mod hprof;
pub mod index;
pub mod layout;
pub mod live;
pub mod paths;
pub mod sample;
pub mod secrets;
mod sigbus;
mod slice;
pub mod spill;
pub mod suspects;
pub mod tenants;
pub mod v8;

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 4 << 20;

/// Open a dump for streaming: a plain HPROF file, or gzip (including the multi-member gzip that
/// `jcmd GC.heap_dump -gz=N` writes), told apart by the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, Error> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(READ_CHUNK, file);
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(READ_CHUNK, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// A plain dump mapped into memory, watched for another process truncating it.
pub struct Mapped {
    // Dropped before the mapping: a fault is only ours while the mapping exists.
    watch: Option<sigbus::Watch>,
    pub map: memmap2::Mmap,
    pub file: std::fs::File,
    stamp: Stamp,
    path: std::path::PathBuf,
}

impl Mapped {
    /// An error if the file changed since it was mapped, or a read found it shorter than the
    /// mapping (those bytes were read as zeros, so whatever they gave is wrong).
    pub fn unchanged(&self) -> Result<(), Error> {
        if self.watch.as_ref().is_some_and(|w| w.faulted()) {
            let now = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
            return Err(Error::Changed {
                path: self.path.display().to_string(),
                what: format!("it was cut from {} to {now} bytes while it was read", self.map.len()),
            });
        }
        self.stamp.check(&self.path)
    }
}

/// A plain dump mapped into memory, or `None` for gzip, empty files and pipes, which are streamed.
pub fn map_plain(path: &Path) -> Result<Option<Mapped>, Error> {
    use std::io::Read as _;
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let stamp = Stamp::of(path)?;
    let mut file = std::fs::File::open(path).map_err(io)?;
    // Pipes cannot be mapped, and peeking at them would consume what the streaming reader needs.
    if !file.metadata().map_err(io)?.is_file() {
        return Ok(None);
    }
    let mut magic = [0u8; 2];
    if file.read(&mut magic).map_err(io)? < 2 || magic == [0x1f, 0x8b] {
        return Ok(None);
    }
    // SAFETY: the map is only read. Another process changing the file while it is read is
    // found by the stamp, and cutting it short by the watch, which turns the SIGBUS that would
    // follow into zeros and an error.
    let Ok(map) = (unsafe { memmap2::Mmap::map(&file) }) else { return Ok(None) };
    let watch = sigbus::Watch::new(&map);
    Ok(Some(Mapped { watch, map, file, stamp, path: path.to_path_buf() }))
}

/// What identifies the contents of a file without reading it: device, inode, size and times.
/// A dump read in several passes is checked against the stamp it had at the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp(Option<FileId>);

#[derive(Debug, Clone, PartialEq)]
struct FileId {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
    /// The inode's change time: moves on every write and truncation, even if mtime is set back.
    changed: (i64, i64),
}

impl Stamp {
    /// The stamp of `path` now. Only regular files have one: pipes are read once anyway.
    pub fn of(path: &Path) -> Result<Stamp, Error> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        Ok(Stamp(meta.is_file().then(|| FileId {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
            changed: (meta.ctime(), meta.ctime_nsec()),
        })))
    }

    /// An error naming what changed if `path` no longer has this stamp.
    pub fn check(&self, path: &Path) -> Result<(), Error> {
        let Some(before) = &self.0 else { return Ok(()) };
        let changed = |what: String| Error::Changed { path: path.display().to_string(), what };
        let now = match Stamp::of(path) {
            Ok(Stamp(Some(now))) => now,
            Ok(Stamp(None)) => return Err(changed("it is no longer a regular file".into())),
            Err(Error::Io { source, .. }) => return Err(changed(format!("it can no longer be read: {source}"))),
            Err(other) => return Err(other),
        };
        if (now.device, now.inode) != (before.device, before.inode) {
            Err(changed("another file was put in its place".into()))
        } else if now.len != before.len {
            Err(changed(format!("it was {} bytes and is now {}", before.len, now.len)))
        } else if now.modified != before.modified || now.changed != before.changed {
            Err(changed("it was written to".into()))
        } else {
            Ok(())
        }
    }
}

/// One pass over a dump file with `parts` visitors, each seeing a contiguous run of heap-dump
/// segments in dump order (top-level records are not shown to them): in place and on as many
/// threads as parts if the file can be mapped, else streamed (gzip, pipes) into the first part.
/// The file must still have `stamp` when the pass ends.
pub fn read_parts_since<V: hprof::Visitor + Send>(
    path: &Path,
    stamp: &Stamp,
    parts: &mut [V],
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    let name = path.display().to_string();
    let read = if let Some(mapped) = map_plain(path)? {
        struct TopLevel;
        impl hprof::Visitor for TopLevel {}
        let release = release_pages(&mapped.map);
        let read = hprof::read_parallel(&mapped.map, &mapped.file, &name, &mut TopLevel, parts, report, &release);
        // What a changed file gave is not an answer, nor an error about its format.
        mapped.unchanged()?;
        read.map(|_| ())
    } else {
        hprof::read_with_progress(open(path)?, &name, &mut parts[0], report).map(|_| ())
    };
    stamp.check(path)?;
    read
}

/// [`read_parts_since`] the file's stamp now: one pass that the file must not change during.
pub fn read_parts<V: hprof::Visitor + Send>(
    path: &Path,
    parts: &mut [V],
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    read_parts_since(path, &Stamp::of(path)?, parts, report)
}

/// [`read_parts_since`] with one visitor.
pub fn read_file_since<V: hprof::Visitor + Send>(
    path: &Path,
    stamp: &Stamp,
    visitor: &mut V,
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    read_parts_since(path, stamp, std::slice::from_mut(visitor), report)
}

/// [`read_parts`] with one visitor.
pub fn read_file<V: hprof::Visitor + Send>(
    path: &Path,
    visitor: &mut V,
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    read_file_since(path, &Stamp::of(path)?, visitor, report)
}

/// For [`hprof::read_parallel`]: pages of `map` that have been read are dropped from this
/// process (the page cache keeps them), so resident memory does not grow with the dump.
pub fn release_pages(map: &memmap2::Mmap) -> impl Fn(usize, usize) + Sync + '_ {
    const PAGE: usize = 4096;
    move |a, b| {
        let (start, end) = (a.div_ceil(PAGE) * PAGE, b / PAGE * PAGE);
        if end > start {
            // SAFETY: the mapping is read-only and backed by the file: dropped pages are read
            // again from it if touched, and a range is released only once it has been read.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
        }
    }
}

/// What went wrong reading a dump: always with the byte offset and the record being read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not an HPROF file (it starts with {found:?}, expected \"JAVA PROFILE 1.0.x\")")]
    NotHprof { path: String, found: String },
    #[error("{path}: unsupported identifier size {size} (HPROF ids are 4 or 8 bytes)")]
    IdSize { path: String, size: u32 },
    #[error("{path}: byte {offset}: {record}: {problem}")]
    Corrupt { path: String, offset: u64, record: Record, problem: String },
    #[error("{path}: cannot build the object graph: {problem}")]
    Incomplete { path: String, problem: String },
    #[error(
        "{path} changed while it was read ({what}): wait until whatever writes it is done, or copy it and read the copy"
    )]
    Changed { path: String, what: String },
    #[error("{path}: reading stopped at byte {offset}: cancelled")]
    Cancelled { path: String, offset: u64 },
}

/// The record being read when a problem was found, named for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Header,
    /// A top-level record with this tag.
    Top(u8),
    /// A heap-dump sub-record with this tag.
    Sub(u8),
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Header => write!(f, "file header"),
            Record::Top(tag) => write!(f, "{} record (tag 0x{tag:02x})", hprof::top_name(*tag)),
            Record::Sub(tag) => write!(f, "heap-dump {} sub-record (tag 0x{tag:02x})", hprof::sub_name(*tag)),
        }
    }
}
