//! A streaming HPROF reader: the header, every top-level record, and every heap-dump sub-record
//! (HPROF 1.0.1/1.0.2/1.0.3, 4- and 8-byte identifiers, HEAP_DUMP and HEAP_DUMP_SEGMENT, and the
//! extra roots and sub-records of 1.0.3 and Android). Memory does not grow with the dump: object
//! contents are handed to the visitor from a reused buffer, or skipped.

use super::{Error, Record};
use std::io::Read;

/// Top-level record tags.
pub mod tag {
    pub const UTF8: u8 = 0x01;
    pub const LOAD_CLASS: u8 = 0x02;
    pub const HEAP_DUMP: u8 = 0x0C;
    pub const HEAP_DUMP_SEGMENT: u8 = 0x1C;
    pub const HEAP_DUMP_END: u8 = 0x2C;
}

/// Heap-dump sub-record tags.
pub mod sub {
    pub const ROOT_UNKNOWN: u8 = 0xFF;
    pub const ROOT_JNI_GLOBAL: u8 = 0x01;
    pub const ROOT_JNI_LOCAL: u8 = 0x02;
    pub const ROOT_JAVA_FRAME: u8 = 0x03;
    pub const ROOT_NATIVE_STACK: u8 = 0x04;
    pub const ROOT_STICKY_CLASS: u8 = 0x05;
    pub const ROOT_THREAD_BLOCK: u8 = 0x06;
    pub const ROOT_MONITOR_USED: u8 = 0x07;
    pub const ROOT_THREAD_OBJECT: u8 = 0x08;
    pub const CLASS_DUMP: u8 = 0x20;
    pub const INSTANCE_DUMP: u8 = 0x21;
    pub const OBJECT_ARRAY_DUMP: u8 = 0x22;
    pub const PRIMITIVE_ARRAY_DUMP: u8 = 0x23;
    pub const ROOT_INTERNED_STRING: u8 = 0x89;
    pub const ROOT_FINALIZING: u8 = 0x8A;
    pub const ROOT_DEBUGGER: u8 = 0x8B;
    pub const ROOT_REFERENCE_CLEANUP: u8 = 0x8C;
    pub const ROOT_VM_INTERNAL: u8 = 0x8D;
    pub const ROOT_JNI_MONITOR: u8 = 0x8E;
    pub const PRIMITIVE_ARRAY_NODATA: u8 = 0xC3;
    pub const HEAP_DUMP_INFO: u8 = 0xFE;
    pub const ROOT_UNREACHABLE: u8 = 0x90;
}

pub fn top_name(t: u8) -> &'static str {
    match t {
        tag::UTF8 => "UTF8",
        tag::LOAD_CLASS => "LOAD CLASS",
        0x03 => "UNLOAD CLASS",
        0x04 => "STACK FRAME",
        0x05 => "STACK TRACE",
        0x06 => "ALLOC SITES",
        0x07 => "HEAP SUMMARY",
        0x0A => "START THREAD",
        0x0B => "END THREAD",
        tag::HEAP_DUMP => "HEAP DUMP",
        0x0D => "CPU SAMPLES",
        0x0E => "CONTROL SETTINGS",
        tag::HEAP_DUMP_SEGMENT => "HEAP DUMP SEGMENT",
        tag::HEAP_DUMP_END => "HEAP DUMP END",
        _ => "unknown",
    }
}

pub fn sub_name(t: u8) -> &'static str {
    match t {
        sub::ROOT_UNKNOWN => "ROOT UNKNOWN",
        sub::ROOT_JNI_GLOBAL => "ROOT JNI GLOBAL",
        sub::ROOT_JNI_LOCAL => "ROOT JNI LOCAL",
        sub::ROOT_JAVA_FRAME => "ROOT JAVA FRAME",
        sub::ROOT_NATIVE_STACK => "ROOT NATIVE STACK",
        sub::ROOT_STICKY_CLASS => "ROOT STICKY CLASS",
        sub::ROOT_THREAD_BLOCK => "ROOT THREAD BLOCK",
        sub::ROOT_MONITOR_USED => "ROOT MONITOR USED",
        sub::ROOT_THREAD_OBJECT => "ROOT THREAD OBJECT",
        sub::CLASS_DUMP => "CLASS DUMP",
        sub::INSTANCE_DUMP => "INSTANCE DUMP",
        sub::OBJECT_ARRAY_DUMP => "OBJECT ARRAY DUMP",
        sub::PRIMITIVE_ARRAY_DUMP => "PRIMITIVE ARRAY DUMP",
        sub::ROOT_INTERNED_STRING => "ROOT INTERNED STRING",
        sub::ROOT_FINALIZING => "ROOT FINALIZING",
        sub::ROOT_DEBUGGER => "ROOT DEBUGGER",
        sub::ROOT_REFERENCE_CLEANUP => "ROOT REFERENCE CLEANUP",
        sub::ROOT_VM_INTERNAL => "ROOT VM INTERNAL",
        sub::ROOT_JNI_MONITOR => "ROOT JNI MONITOR",
        sub::PRIMITIVE_ARRAY_NODATA => "PRIMITIVE ARRAY NODATA",
        sub::HEAP_DUMP_INFO => "HEAP DUMP INFO",
        sub::ROOT_UNREACHABLE => "ROOT UNREACHABLE",
        _ => "unknown",
    }
}

/// HPROF basic types (the `u1` type codes of fields and array elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BasicType {
    Object,
    Boolean,
    Char,
    Float,
    Double,
    Byte,
    Short,
    Int,
    Long,
}

impl BasicType {
    pub fn from_code(code: u8) -> Option<BasicType> {
        Some(match code {
            2 => BasicType::Object,
            4 => BasicType::Boolean,
            5 => BasicType::Char,
            6 => BasicType::Float,
            7 => BasicType::Double,
            8 => BasicType::Byte,
            9 => BasicType::Short,
            10 => BasicType::Int,
            11 => BasicType::Long,
            _ => return None,
        })
    }

    /// Bytes a value of this type takes in the dump.
    pub fn dump_size(self, id_size: u32) -> u32 {
        match self {
            BasicType::Object => id_size,
            BasicType::Boolean | BasicType::Byte => 1,
            BasicType::Char | BasicType::Short => 2,
            BasicType::Float | BasicType::Int => 4,
            BasicType::Double | BasicType::Long => 8,
        }
    }

    /// The Java name of an array of this type, as class histograms print it.
    pub fn array_class_name(self) -> &'static str {
        match self {
            BasicType::Object => "java.lang.Object[]",
            BasicType::Boolean => "boolean[]",
            BasicType::Char => "char[]",
            BasicType::Float => "float[]",
            BasicType::Double => "double[]",
            BasicType::Byte => "byte[]",
            BasicType::Short => "short[]",
            BasicType::Int => "int[]",
            BasicType::Long => "long[]",
        }
    }
}

/// The kinds of GC roots a dump names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootKind {
    Unknown,
    JniGlobal,
    JniLocal,
    JavaFrame,
    NativeStack,
    StickyClass,
    ThreadBlock,
    MonitorUsed,
    ThreadObject,
    InternedString,
    Finalizing,
    Debugger,
    ReferenceCleanup,
    VmInternal,
    JniMonitor,
    Unreachable,
}

/// The file header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `JAVA PROFILE 1.0.2` and the like.
    pub version: String,
    pub id_size: u32,
    /// Milliseconds since the epoch when the dump was written.
    pub timestamp_ms: u64,
}

/// A CLASS DUMP sub-record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassDump {
    pub id: u64,
    pub super_id: u64,
    pub loader_id: u64,
    /// Bytes of an instance's field data in the dump (references at the dump's id size).
    pub instance_size: u32,
    /// Static fields holding references: (name id, referenced object id).
    pub static_refs: Vec<(u64, u64)>,
    /// Static fields of primitive types: (name id, type).
    pub static_primitives: Vec<(u64, BasicType)>,
    /// This class's own instance fields, in dump order: (name id, type).
    pub fields: Vec<(u64, BasicType)>,
}

/// How many classes a class hierarchy may hold. Java's deepest real hierarchies are a few
/// dozen classes; the bound stops a walk up a crafted dump's superclass chain.
pub const MAX_HIERARCHY: usize = 1024;

/// A class and its superclasses, most derived first, as `lookup` finds them. A dump may name a
/// class as its own superclass, or any cycle of them: each class is given once, and the walk
/// ends at a class already given, at one `lookup` does not know, or after [`MAX_HIERARCHY`].
pub fn ancestry<'a>(
    class_id: u64,
    lookup: impl Fn(u64) -> Option<&'a ClassDump>,
) -> impl Iterator<Item = &'a ClassDump> {
    let mut seen: Vec<u64> = Vec::new();
    let mut next = Some(class_id);
    std::iter::from_fn(move || {
        let id = next.take()?;
        if seen.len() >= MAX_HIERARCHY || seen.contains(&id) {
            return None;
        }
        let class = lookup(id)?;
        seen.push(id);
        next = Some(class.super_id);
        Some(class)
    })
}

/// Receives what the reader finds. Every method has a no-op default.
#[allow(unused_variables)]
pub trait Visitor {
    /// Whether instance and array contents are wanted; when not, they are skipped unread.
    fn wants_contents(&self) -> bool {
        false
    }
    fn header(&mut self, header: &Header) {}
    fn utf8(&mut self, id: u64, text: &[u8]) {}
    fn load_class(&mut self, class_id: u64, name_id: u64) {}
    fn class_dump(&mut self, class: &ClassDump) {}
    /// `fields` is empty unless `wants_contents()`; `size` is its length in the dump.
    fn instance(&mut self, id: u64, class_id: u64, size: u32, fields: &[u8]) {}
    /// `elements` is empty unless `wants_contents()`.
    fn object_array(&mut self, id: u64, class_id: u64, length: u32, elements: &[u8]) {}
    /// `data` is empty unless `wants_contents()`.
    fn primitive_array(&mut self, id: u64, element: BasicType, length: u32, data: &[u8]) {}
    fn root(&mut self, kind: RootKind, id: u64) {}
}

/// Bytes a reader pulls from the source at a time.
const CHUNK: usize = 1 << 20;

/// How often (in bytes read) the progress callback is asked whether to go on.
pub const PROGRESS_EVERY: u64 = 16 << 20;

/// Buffered input that knows its offset and names the record on any failure.
struct Input<R: Read> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    path: String,
    record: Record,
    record_start: u64,
    id_size: u32,
    next_progress: u64,
}

impl<R: Read> Input<R> {
    /// A reader at the start of `source`, with a buffer of `capacity` bytes; progress is asked
    /// for every [`PROGRESS_EVERY`] bytes when `report_progress`.
    fn new(source: R, path: &str, capacity: usize, report_progress: bool) -> Input<R> {
        Input {
            source,
            buf: vec![0; capacity],
            start: 0,
            end: 0,
            offset: 0,
            path: path.to_string(),
            record: Record::Header,
            record_start: 0,
            id_size: 4,
            next_progress: if report_progress { PROGRESS_EVERY } else { u64::MAX },
        }
    }

    /// Report progress when due; the callback's `false` stops the read.
    fn progress(&mut self, report: &mut dyn FnMut(u64) -> bool) -> Result<(), Error> {
        if self.offset >= self.next_progress {
            self.next_progress = self.offset + PROGRESS_EVERY;
            if !report(self.offset) {
                return Err(Error::Cancelled { path: self.path.clone(), offset: self.offset });
            }
        }
        Ok(())
    }

    fn corrupt(&self, problem: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            offset: self.record_start,
            record: self.record,
            problem: problem.into(),
        }
    }

    fn truncated(&self, wanted: usize) -> Error {
        self.corrupt(format!(
            "the file ends at byte {} in the middle of this record ({} more bytes needed): the dump is truncated",
            self.offset + (self.end - self.start) as u64,
            wanted - (self.end - self.start)
        ))
    }

    /// Make at least `n` bytes available, unless the source ends first. Returns how many are.
    #[inline(always)]
    fn fill(&mut self, n: usize) -> Result<usize, Error> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        self.refill(n)
    }

    /// The rare path of [`Input::fill`]: move what is left to the front and read more.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> Result<usize, Error> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < CHUNK.min(n) {
            self.buf.resize(CHUNK.min(n), 0);
        }
        while self.end < n {
            // The buffer grows with what actually arrives, never to a length read from the
            // file up front: a 40-byte dump that claims a 4 GiB name ends as truncated, having
            // asked for one chunk.
            if self.end == self.buf.len() {
                let grown = self.buf.len().saturating_mul(2).max(CHUNK).min(n.max(CHUNK));
                self.buf.resize(grown, 0);
            }
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => break,
                Ok(read) => self.end += read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io { path: self.path.clone(), source: e }),
            }
        }
        Ok(self.end - self.start)
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        if self.fill(n)? < n {
            return Err(self.truncated(n));
        }
        let out = &self.buf[self.start..self.start + n];
        self.start += n;
        self.offset += n as u64;
        Ok(out)
    }

    #[inline]
    fn skip(&mut self, mut n: u64) -> Result<(), Error> {
        // Most skips lie inside the buffer.
        if (self.end - self.start) as u64 >= n {
            self.start += n as usize;
            self.offset += n;
            return Ok(());
        }
        while n > 0 {
            let step = n.min(CHUNK as u64) as usize;
            if self.fill(step)? < step {
                return Err(self.truncated(step));
            }
            self.start += step;
            self.offset += step as u64;
            n -= step as u64;
        }
        Ok(())
    }

    /// The next `n` bytes when `wanted`; otherwise they are skipped unread and nothing returned.
    #[inline(always)]
    fn body(&mut self, wanted: bool, n: u64) -> Result<&[u8], Error> {
        if wanted {
            self.take(n as usize)
        } else {
            self.skip(n)?;
            Ok(&[])
        }
    }

    #[inline(always)]
    fn u1(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    #[inline(always)]
    fn u2(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    #[inline(always)]
    fn u4(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    #[inline(always)]
    fn id(&mut self) -> Result<u64, Error> {
        if self.id_size == 8 { self.u8() } else { self.u4().map(u64::from) }
    }

    #[inline(always)]
    fn basic_type(&mut self) -> Result<BasicType, Error> {
        let code = self.u1()?;
        BasicType::from_code(code).ok_or_else(|| self.corrupt(format!("unknown basic type {code}")))
    }
}

/// Read a whole dump from `source` (named `path` in errors), calling `visitor` for what it holds.
pub fn read<R: Read>(source: R, path: &str, visitor: &mut impl Visitor) -> Result<Header, Error> {
    read_with_progress(source, path, visitor, &mut |_| true)
}

/// [`read`], calling `progress` with the bytes read so far about every [`PROGRESS_EVERY`] bytes;
/// when it returns `false` the read stops with [`Error::Cancelled`].
pub fn read_with_progress<R: Read>(
    source: R,
    path: &str,
    visitor: &mut impl Visitor,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Header, Error> {
    let mut input = Input::new(source, path, CHUNK, true);
    let header = read_header(&mut input)?;
    visitor.header(&header);
    loop {
        input.progress(progress)?;
        input.record_start = input.offset;
        if input.fill(1)? == 0 {
            return Ok(header);
        }
        let tag = input.u1()?;
        input.record = Record::Top(tag);
        let _micros_since_header = input.u4()?;
        let length = input.u4()? as u64;
        let body_start = input.offset;
        match tag {
            tag::UTF8 => {
                let id = input.id()?;
                let text_len = length
                    .checked_sub(input.id_size as u64)
                    .ok_or_else(|| input.corrupt(format!("length {length} is shorter than an id")))?;
                let text = input.take(text_len as usize)?;
                visitor.utf8(id, text);
            }
            tag::LOAD_CLASS => {
                let _serial = input.u4()?;
                let class_id = input.id()?;
                let _stack = input.u4()?;
                let name_id = input.id()?;
                visitor.load_class(class_id, name_id);
            }
            tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT => {
                read_heap_dump(&mut input, body_start + length, visitor, progress)?
            }
            _ => input.skip(length)?,
        }
        if input.offset != body_start + length {
            input.record = Record::Top(tag);
            return Err(input.corrupt(format!(
                "its length says {length} bytes but its contents take {}",
                input.offset - body_start
            )));
        }
    }
}

fn read_header<R: Read>(input: &mut Input<R>) -> Result<Header, Error> {
    let available = input.fill(64)?;
    let head = &input.buf[..available];
    let Some(nul) = head.iter().position(|&b| b == 0) else {
        return Err(Error::NotHprof { path: input.path.clone(), found: preview(head) });
    };
    let version = String::from_utf8_lossy(&head[..nul]).into_owned();
    if !version.starts_with("JAVA PROFILE 1.0.") {
        return Err(Error::NotHprof { path: input.path.clone(), found: preview(head) });
    }
    input.take(nul + 1)?;
    let id_size = input.u4()?;
    if id_size != 4 && id_size != 8 {
        return Err(Error::IdSize { path: input.path.clone(), size: id_size });
    }
    input.id_size = id_size;
    let timestamp_ms = input.u8()?;
    Ok(Header { version, id_size, timestamp_ms })
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(20)]).into_owned()
}

fn read_heap_dump<R: Read>(
    input: &mut Input<R>,
    end: u64,
    visitor: &mut impl Visitor,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<(), Error> {
    let contents = visitor.wants_contents();
    let id = input.id_size as u64;
    while input.offset < end {
        input.progress(progress)?;
        input.record_start = input.offset;
        let t = input.u1()?;
        input.record = Record::Sub(t);
        match t {
            t if root_layout(t, id).is_some() => {
                let (kind, extra) = root_layout(t, id).expect("checked");
                let object = input.id()?;
                input.skip(extra)?;
                visitor.root(kind, object);
            }
            sub::HEAP_DUMP_INFO => input.skip(4 + id)?,
            sub::CLASS_DUMP => {
                let class = read_class_dump(input)?;
                visitor.class_dump(&class);
            }
            sub::INSTANCE_DUMP => {
                let object = input.id()?;
                let _stack = input.u4()?;
                let class_id = input.id()?;
                let size = input.u4()?;
                let fields = input.body(contents, size as u64)?;
                visitor.instance(object, class_id, size, fields);
            }
            sub::OBJECT_ARRAY_DUMP => {
                let object = input.id()?;
                let _stack = input.u4()?;
                let length = input.u4()?;
                let class_id = input.id()?;
                let elements = input.body(contents, length as u64 * id)?;
                visitor.object_array(object, class_id, length, elements);
            }
            sub::PRIMITIVE_ARRAY_DUMP => {
                let object = input.id()?;
                let _stack = input.u4()?;
                let length = input.u4()?;
                let element = input.basic_type()?;
                if element == BasicType::Object {
                    return Err(input.corrupt("a primitive array of object type"));
                }
                let data = input.body(contents, length as u64 * element.dump_size(input.id_size) as u64)?;
                visitor.primitive_array(object, element, length, data);
            }
            sub::PRIMITIVE_ARRAY_NODATA => {
                let object = input.id()?;
                let _stack = input.u4()?;
                let length = input.u4()?;
                let element = input.basic_type()?;
                visitor.primitive_array(object, element, length, &[]);
            }
            other => return Err(input.corrupt(format!("unknown sub-record tag 0x{other:02x}"))),
        }
        if input.offset > end {
            return Err(
                input.corrupt(format!("it runs {} bytes past the end of its heap-dump segment", input.offset - end))
            );
        }
    }
    Ok(())
}

/// A root sub-record's kind and the bytes of thread and frame detail after its object id.
pub(super) fn root_layout(tag: u8, id_size: u64) -> Option<(RootKind, u64)> {
    Some(match tag {
        sub::ROOT_UNKNOWN => (RootKind::Unknown, 0),
        sub::ROOT_JNI_GLOBAL => (RootKind::JniGlobal, id_size),
        sub::ROOT_JNI_LOCAL => (RootKind::JniLocal, 8),
        sub::ROOT_JAVA_FRAME => (RootKind::JavaFrame, 8),
        sub::ROOT_NATIVE_STACK => (RootKind::NativeStack, 4),
        sub::ROOT_STICKY_CLASS => (RootKind::StickyClass, 0),
        sub::ROOT_THREAD_BLOCK => (RootKind::ThreadBlock, 4),
        sub::ROOT_MONITOR_USED => (RootKind::MonitorUsed, 0),
        sub::ROOT_THREAD_OBJECT => (RootKind::ThreadObject, 8),
        sub::ROOT_INTERNED_STRING => (RootKind::InternedString, 0),
        sub::ROOT_FINALIZING => (RootKind::Finalizing, 0),
        sub::ROOT_DEBUGGER => (RootKind::Debugger, 0),
        sub::ROOT_REFERENCE_CLEANUP => (RootKind::ReferenceCleanup, 0),
        sub::ROOT_VM_INTERNAL => (RootKind::VmInternal, 0),
        sub::ROOT_JNI_MONITOR => (RootKind::JniMonitor, 8),
        sub::ROOT_UNREACHABLE => (RootKind::Unreachable, 0),
        _ => return None,
    })
}

fn read_class_dump<R: Read>(input: &mut Input<R>) -> Result<ClassDump, Error> {
    let mut class = ClassDump { id: input.id()?, ..ClassDump::default() };
    let _stack = input.u4()?;
    class.super_id = input.id()?;
    class.loader_id = input.id()?;
    let _signers = input.id()?;
    let _protection_domain = input.id()?;
    let _reserved = (input.id()?, input.id()?);
    class.instance_size = input.u4()?;
    let constants = input.u2()?;
    for _ in 0..constants {
        let _index = input.u2()?;
        let t = input.basic_type()?;
        input.skip(t.dump_size(input.id_size) as u64)?;
    }
    let statics = input.u2()?;
    for _ in 0..statics {
        let name = input.id()?;
        let t = input.basic_type()?;
        if t == BasicType::Object {
            let target = input.id()?;
            class.static_refs.push((name, target));
        } else {
            input.skip(t.dump_size(input.id_size) as u64)?;
            class.static_primitives.push((name, t));
        }
    }
    let fields = input.u2()?;
    class.fields.reserve(fields as usize);
    for _ in 0..fields {
        let name = input.id()?;
        let t = input.basic_type()?;
        class.fields.push((name, t));
    }
    Ok(class)
}

/// Read a whole plain dump held in memory (a mapped file), its heap-dump segments split across
/// threads: `top` sees the header and the top-level records, each of `parts` (one per thread,
/// made in advance) a contiguous run of segments in dump order, so merging the parts in order
/// gives what one sequential read would. `progress` is called from this thread with the bytes
/// done so far; its `false` stops every thread. `release(start, end)` is told each byte range
/// that has been read, so a mapping can give its pages back. A dump whose records do not line up (truncated
/// or corrupt) is an error here: read it sequentially for a partial result.
pub fn read_parallel<V: Visitor + Send>(
    bytes: &[u8],
    file: &std::fs::File,
    path: &str,
    top: &mut impl Visitor,
    parts: &mut [V],
    progress: &mut dyn FnMut(u64) -> bool,
    release: &(dyn Fn(usize, usize) + Sync),
) -> Result<Header, Error> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let started = std::time::Instant::now();
    let mut input = Input::new(bytes, path, 64, false);
    let header = read_header(&mut input)?;
    top.header(&header);
    for part in parts.iter_mut() {
        part.header(&header);
    }
    // Top-level records in place; heap-dump segments only located.
    let mut at = input.offset as usize;
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let id = header.id_size as usize;
    let mut after_segment = false;
    while at < bytes.len() {
        let corrupt = |problem: String| Error::Corrupt {
            path: path.to_string(),
            offset: at as u64,
            record: Record::Top(0),
            problem,
        };
        if at + 9 > bytes.len() {
            return Err(corrupt("the file ends inside a record header: the dump is truncated".into()));
        }
        // The header after a heap-dump segment is read from the file, not the mapping: touching
        // that page would map its neighbours too, hundreds of MB for a large dump. Elsewhere
        // (names, classes, traces: tens of thousands of small records) the mapping is read anyway.
        let mut head = [0u8; 9];
        if after_segment {
            std::os::unix::fs::FileExt::read_exact_at(file, &mut head, at as u64)
                .map_err(|source| Error::Io { path: path.to_string(), source })?;
        } else {
            head.copy_from_slice(&bytes[at..at + 9]);
        }
        let tag = head[0];
        let length = u32::from_be_bytes(head[5..9].try_into().expect("4 bytes")) as usize;
        let body = at + 9;
        if body + length > bytes.len() {
            return Err(corrupt(format!("its length {length} runs past the end of the file: the dump is truncated")));
        }
        let b = &bytes[body..body + length];
        match tag {
            tag::UTF8 if length >= id => top.utf8(read_id(&b[..id]), &b[id..]),
            tag::LOAD_CLASS if length >= 8 + 2 * id => {
                top.load_class(read_id(&b[4..4 + id]), read_id(&b[8 + id..8 + 2 * id]))
            }
            tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT => segments.push((body, body + length)),
            _ => {}
        }
        after_segment = matches!(tag, tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT);
        at = body + length;
    }
    // What the scan read through the mapping (names, class records) is not needed again.
    release(0, bytes.len());
    tracing::debug!(
        "{path}: {} heap-dump segments located in {:.3} s",
        segments.len(),
        started.elapsed().as_secs_f64()
    );
    // Contiguous runs of segments of about equal bytes, one per part.
    let total: usize = segments.iter().map(|(a, b)| b - a).sum();
    let mut runs: Vec<&[(usize, usize)]> = Vec::new();
    let (mut from, mut acc) = (0, 0);
    for (i, (a, b)) in segments.iter().enumerate() {
        acc += b - a;
        if acc * parts.len() >= total * (runs.len() + 1) && runs.len() + 1 < parts.len() {
            runs.push(&segments[from..=i]);
            from = i + 1;
        }
    }
    runs.push(&segments[from..]);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (finished, all_finished) = std::sync::mpsc::channel::<()>();
    let results: Vec<Result<(), Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .iter_mut()
            .zip(runs)
            .map(|(part, run)| {
                let (done, stop) = (&done, &stop);
                // Dropped when the worker ends, however it ends: that wakes the waiting loop.
                let finished = finished.clone();
                scope.spawn(move || {
                    let _finished = finished;
                    for &(a, b) in run {
                        if stop.load(Ordering::Relaxed) {
                            return Err(Error::Cancelled { path: path.to_string(), offset: a as u64 });
                        }
                        // Something off in a segment sends the caller back to the streaming
                        // reader, from the start, which says exactly what and where.
                        super::slice::read_segment(&bytes[a..b], header.id_size, part).map_err(|at| {
                            Error::Corrupt {
                                path: path.to_string(),
                                offset: (a + at) as u64,
                                record: Record::Top(tag::HEAP_DUMP_SEGMENT),
                                problem: "a sub-record does not fit its segment".into(),
                            }
                        })?;
                        release(a, b);
                        done.fetch_add((b - a) as u64, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        drop(finished);
        // Progress every 50 ms, and no waiting once the last worker is done.
        loop {
            if !progress(done.load(Ordering::Relaxed)) {
                stop.store(true, Ordering::Relaxed);
            }
            if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                all_finished.recv_timeout(std::time::Duration::from_millis(50))
            {
                break;
            }
        }
        workers.into_iter().map(|w| w.join().expect("a dump reader thread panicked")).collect()
    });
    for result in results {
        result?;
    }
    Ok(header)
}

/// A big-endian id of 4 or 8 bytes.
pub fn read_id(bytes: &[u8]) -> u64 {
    match bytes.len() {
        8 => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
        _ => u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::sample::demo_dump;

    struct Nothing;
    impl Visitor for Nothing {}

    #[test]
    fn progress_is_reported_and_can_stop_the_read() {
        // Large enough to cross the progress interval a few times.
        let bytes = demo_dump(8, 5, 40_000, 5, Some(1 << 20));
        assert!(bytes.len() as u64 > 3 * PROGRESS_EVERY, "{} bytes", bytes.len());
        let mut seen = Vec::new();
        read_with_progress(&bytes[..], "demo", &mut Nothing, &mut |done| {
            seen.push(done);
            true
        })
        .unwrap();
        assert!(seen.len() >= 3 && seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

        let err = read_with_progress(&bytes[..], "demo", &mut Nothing, &mut |_| false).unwrap_err();
        assert!(matches!(err, Error::Cancelled { offset, .. } if offset >= PROGRESS_EVERY), "{err}");
        assert!(err.to_string().contains("cancelled"), "{err}");
    }
}
