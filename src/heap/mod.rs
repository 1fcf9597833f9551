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

/// A plain dump mapped into memory, or `None` for gzip, empty files and pipes, which are streamed.
pub fn map_plain(path: &Path) -> Result<Option<(std::fs::File, memmap2::Mmap)>, Error> {
    use std::io::Read as _;
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // Pipes cannot be mapped, and peeking at them would consume what the streaming reader needs.
    if !file.metadata().map_err(io)?.is_file() {
        return Ok(None);
    }
    let mut magic = [0u8; 2];
    if file.read(&mut magic).map_err(io)? < 2 || magic == [0x1f, 0x8b] {
        return Ok(None);
    }
    // SAFETY: the map is only read. A dump changed by another process while it is read gives
    // wrong counts or a format error, as reading it with read(2) would; dumps are written once.
    Ok(unsafe { memmap2::Mmap::map(&file) }.ok().map(|map| (file, map)))
}

/// One pass over a dump file with `parts` visitors, each seeing a contiguous run of heap-dump
/// segments in dump order (top-level records are not shown to them): in place and on as many
/// threads as parts if the file can be mapped, else streamed (gzip, pipes) into the first part.
pub fn read_parts<V: hprof::Visitor + Send>(
    path: &Path,
    parts: &mut [V],
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    let name = path.display().to_string();
    if let Some((file, map)) = map_plain(path)? {
        struct TopLevel;
        impl hprof::Visitor for TopLevel {}
        let release = release_pages(&map);
        return hprof::read_parallel(&map, &file, &name, &mut TopLevel, parts, report, &release).map(|_| ());
    }
    hprof::read_with_progress(open(path)?, &name, &mut parts[0], report).map(|_| ())
}

/// [`read_parts`] with one visitor.
pub fn read_file<V: hprof::Visitor + Send>(
    path: &Path,
    visitor: &mut V,
    report: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    read_parts(path, std::slice::from_mut(visitor), report)
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
