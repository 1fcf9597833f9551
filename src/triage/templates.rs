//! The template of every line of one log file, streamed: memory stays flat however long the
//! log is.
//!
//! A line's template is only final once the whole log is mined (later lines generalise earlier
//! templates), so the file is read twice. The first pass parses and mines, keeping one group
//! number per line; the second parses again and writes each line with its final template. In
//! the first pass one thread reads and parses while the other mines. The first pass also notes,
//! every [`CHUNK`] lines of a plain file, where the chunk starts and the parser's state there,
//! so that the second pass parses and formats the chunks on every core, written in order.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::drain::Miner;
use super::formats::{self, Parser};
use super::header::{self, Shape};
use super::line::Format;
use super::read::{Error, MAX_UNPACKED};

/// Lines handed from the parsing thread to the other at a time.
const BATCH: usize = 4096;
/// Batches in flight between the threads.
const IN_FLIGHT: usize = 4;
/// Lines of a chunk of the second pass.
const CHUNK: u64 = 1 << 16;

/// Where a chunk of a plain file starts: its byte offset, the lines before it, and the parser
/// as it was there.
struct Checkpoint {
    offset: u64,
    number: u64,
    parser: Parser<'static>,
}

/// Parsed lines handed over together: their texts one after another in one buffer, so that
/// the thread receiving them frees one allocation per batch, not one per line (glibc's
/// allocator serialises frees of another thread's memory), and the buffers go back to be
/// filled again.
#[derive(Default)]
struct Batch {
    text: String,
    lines: Vec<Span>,
}

/// One line in a batch: where its text is, and where its header ends and its message starts.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    header: Option<(usize, usize)>,
}

/// One parsed line of a batch.
struct Parsed<'b> {
    text: &'b str,
    header: Option<(usize, usize)>,
}

impl<'b> Parsed<'b> {
    fn message(&self) -> &'b str {
        self.header.map_or(self.text, |(_, start)| &self.text[start..])
    }
}

impl Batch {
    fn iter(&self) -> impl Iterator<Item = Parsed<'_>> {
        self.lines.iter().map(|s| Parsed { text: &self.text[s.start..s.end], header: s.header })
    }

    fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
    }
}

/// What the first pass learnt: the miner, and each line's group.
pub struct Mined {
    pub miner: Miner,
    /// Group of each line, in order.
    pub groups: Vec<u32>,
    /// Where each line's header ends and its message starts, when it has one: kept so the
    /// second pass does not split again.
    headers: Vec<Option<(u32, u32)>>,
    format: Format,
    checkpoints: Vec<Checkpoint>,
}

/// Parse and mine every line of `path` (gzip or plain), in `format` or the one detected.
pub fn mine(path: &Path, format: Option<Format>) -> Result<Mined, Error> {
    let format = match format {
        Some(f) => f,
        None => formats::detect(&head(path)?),
    };
    let shape = learn_shape(path, format)?;
    let mut miner = Miner::new(Default::default());
    let mut groups = Vec::new();
    let mut headers = Vec::new();
    let offsets = |(end, start): (usize, usize)| Some((u32::try_from(end).ok()?, u32::try_from(start).ok()?));
    let checkpoints = stream(path, format, shape.as_ref(), |batch| {
        for line in batch.iter() {
            groups.push(miner.add(line.message()));
            headers.push(line.header.and_then(offsets));
        }
        Ok(())
    })
    .map_err(|e| match e {
        StreamError::Read(e) => e,
        // Mining writes nothing.
        StreamError::Write(source) => Error::Io { path: path.to_path_buf(), source },
    })?;
    Ok(Mined { miner, groups, headers, format, checkpoints })
}

/// Each group's template id and its template, already as JSON text.
struct Templates {
    ids: Vec<u32>,
    json: Vec<String>,
}

/// Write each line of `path` with its template, as JSON Lines: `line`, `template_id`,
/// `template` and `header` (when the line has one); what [`mine`] learnt of the same file.
pub fn write_json_lines(path: &Path, mined: &Mined, out: &mut impl Write) -> Result<(), WriteError> {
    let ids = mined.miner.template_ids();
    let json = (0..ids.len() as u32)
        .map(|g| serde_json::to_string(&mined.miner.template(g)).expect("a string serializes"))
        .collect();
    let templates = Templates { ids, json };
    let written = if mined.checkpoints.len() > 1 {
        write_chunks(path, mined, &templates, out)
    } else {
        let mut number = 0;
        stream(path, mined.format, None, |batch| {
            for parsed in batch.iter() {
                number += 1;
                write_line(&mut *out, path, mined, &templates, number, parsed.text)?;
            }
            Ok(())
        })
        .and_then(|_| if number == mined.groups.len() { Ok(()) } else { Err(StreamError::Read(changed(path))) })
    };
    written.map_err(|e| match e {
        StreamError::Read(e) => WriteError::Read(e),
        StreamError::Write(e) => WriteError::Write(e),
    })
}

/// Line `number` (1-based) with the template the first pass found for it.
fn write_line(
    out: &mut impl Write,
    path: &Path,
    mined: &Mined,
    templates: &Templates,
    number: usize,
    text: &str,
) -> Result<(), StreamError> {
    let at = number - 1;
    let (Some(&group), Some(&header)) = (mined.groups.get(at), mined.headers.get(at)) else {
        return Err(StreamError::Read(changed(path)));
    };
    let group = group as usize;
    write!(out, "{{\"line\":{number},\"template_id\":{},\"template\":{}", templates.ids[group], templates.json[group])?;
    if let Some((end, _)) = header {
        // A line that changed since the first pass ends the run, not a panic.
        let Some(header) = text.get(..end as usize) else {
            return Err(StreamError::Read(changed(path)));
        };
        out.write_all(b",\"header\":")?;
        serde_json::to_writer(&mut *out, header).map_err(std::io::Error::from)?;
    }
    out.write_all(b"}\n")?;
    Ok(())
}

/// The second pass over a plain file on every core: each thread renders every n-th chunk into
/// a buffer, and the buffers are written in order (at most two per thread wait at a time).
fn write_chunks(path: &Path, mined: &Mined, templates: &Templates, out: &mut impl Write) -> Result<(), StreamError> {
    let chunks = &mined.checkpoints;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    std::thread::scope(|scope| {
        let mut rendered = Vec::new();
        for first in 0..workers {
            let (tx, rx) = sync_channel::<Result<Vec<u8>, StreamError>>(1);
            rendered.push(rx);
            scope.spawn(move || {
                for i in (first..chunks.len()).step_by(workers) {
                    let end = chunks.get(i + 1).map(|c| c.number);
                    let result = render_chunk(path, mined, templates, &chunks[i], end);
                    let failed = result.is_err();
                    // A closed channel: the writer stopped on an error.
                    if tx.send(result).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for i in 0..chunks.len() {
            let buffer = rendered[i % workers].recv().map_err(|_| StreamError::Read(changed(path)))??;
            out.write_all(&buffer)?;
        }
        Ok(())
    })
}

/// The JSON Lines of one chunk: from `start` to the line numbered `end` (or the end of the file).
fn render_chunk(
    path: &Path,
    mined: &Mined,
    templates: &Templates,
    start: &Checkpoint,
    end: Option<u64>,
) -> Result<Vec<u8>, StreamError> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(start.offset)).map_err(io)?;
    let input = Box::new(BufReader::with_capacity(1 << 18, file));
    let mut lines = Lines::new(input, path, false, start.offset, start.number);
    let mut parser = start.parser.clone();
    let mut out = Vec::with_capacity(1 << 20);
    while end.is_none_or(|end| lines.number < end) {
        let Some((number, raw)) = lines.next_line()? else { break };
        let text = parser.text(raw, number);
        write_line(&mut out, path, mined, templates, number as usize, &text)?;
    }
    let expected = end.unwrap_or(mined.groups.len() as u64);
    if lines.number != expected {
        return Err(StreamError::Read(changed(path)));
    }
    Ok(out)
}

/// Why writing the templates stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Read(Error),
    #[error("cannot write the templates: {0}")]
    Write(std::io::Error),
}

fn changed(path: &Path) -> Error {
    let source = std::io::Error::new(std::io::ErrorKind::InvalidData, "the file changed while it was read");
    Error::Io { path: path.to_path_buf(), source }
}

enum StreamError {
    Read(Error),
    Write(std::io::Error),
}

impl From<std::io::Error> for StreamError {
    fn from(e: std::io::Error) -> Self {
        StreamError::Write(e)
    }
}

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        StreamError::Read(e)
    }
}

/// The file opened for reading lines, unpacked when it is gzip.
fn open(path: &Path) -> Result<Lines<'_>, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut file = BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(io)?);
    let gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let input: Box<dyn BufRead + Send> = if gzip {
        let unpacked = flate2::bufread::MultiGzDecoder::new(file).take(MAX_UNPACKED + 1);
        Box::new(BufReader::with_capacity(1 << 20, unpacked))
    } else {
        Box::new(file)
    };
    Ok(Lines::new(input, path, gzip, 0, 0))
}

/// The first lines of the file, for telling its format.
fn head(path: &Path) -> Result<String, Error> {
    let mut text = String::new();
    let mut lines = open(path)?;
    while let Some((number, raw)) = lines.next_line()? {
        text.push_str(raw);
        text.push('\n');
        if number >= 400 {
            break;
        }
    }
    Ok(text)
}

/// The header shape, learnt from the first lines' texts.
fn learn_shape(path: &Path, format: Format) -> Result<Option<Shape>, Error> {
    let mut lines = open(path)?;
    let mut parser = Parser::new(format, "", "");
    let mut texts = Vec::new();
    let mut filled = 0;
    while filled < header::SAMPLE
        && let Some((number, raw)) = lines.next_line()?
    {
        let text = parser.text(raw, number);
        filled += usize::from(!text.trim().is_empty());
        texts.push(text);
    }
    Ok(Shape::learn(texts.iter().map(String::as_str)))
}

/// Read and parse the file on another thread, handing `each` batches of parsed lines in order.
fn stream(
    path: &Path,
    format: Format,
    shape: Option<&Shape>,
    mut each: impl FnMut(&Batch) -> Result<(), StreamError>,
) -> Result<Vec<Checkpoint>, StreamError> {
    let input = open(path)?;
    let (tx, rx): (SyncSender<Batch>, Receiver<Batch>) = sync_channel(IN_FLIGHT);
    let (give_back, taken_back) = sync_channel::<Batch>(IN_FLIGHT + 2);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || parse_into(input, format, shape, tx, taken_back));
        let mut outcome = Ok(());
        for batch in rx.iter() {
            if let Err(e) = each(&batch) {
                outcome = Err(e);
                // Dropping the receiver stops the reader at its next send.
                break;
            }
            let _ = give_back.try_send(batch);
        }
        drop(rx);
        drop(give_back);
        let read = reader.join().unwrap_or_else(|_| Err(changed(path)));
        outcome.and(read.map_err(StreamError::Read))
    })
}

fn parse_into(
    mut lines: Lines<'_>,
    format: Format,
    shape: Option<&Shape>,
    tx: SyncSender<Batch>,
    returned: Receiver<Batch>,
) -> Result<Vec<Checkpoint>, Error> {
    let mut parser = Parser::new(format, "", "");
    let mut batch = Batch::default();
    let mut checkpoints = Vec::new();
    loop {
        // A gzip stream cannot be entered in the middle: its second pass runs in one piece.
        if !lines.gzip && lines.number.is_multiple_of(CHUNK) {
            checkpoints.push(Checkpoint { offset: lines.read, number: lines.number, parser: parser.clone() });
        }
        let Some((number, raw)) = lines.next_line()? else { break };
        let text = parser.text(raw, number);
        let header = shape.and_then(|s| s.split(&text)).map(|(header, message)| {
            // Both are slices of `text`: their offsets locate them in it.
            let start = message.as_ptr() as usize - text.as_ptr() as usize;
            (header.len(), start)
        });
        let start = batch.text.len();
        batch.text.push_str(&text);
        batch.lines.push(Span { start, end: batch.text.len(), header });
        if batch.lines.len() == BATCH {
            let mut next = returned.try_recv().unwrap_or_default();
            next.clear();
            if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(checkpoints);
            }
        }
    }
    if !batch.lines.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(checkpoints)
}

/// The lines of a file as `str::lines` splits a text (`\n`, or `\r\n`), invalid UTF-8
/// replaced, with the bound on what gzip may unpack to.
struct Lines<'p> {
    input: Box<dyn BufRead + Send>,
    path: &'p Path,
    gzip: bool,
    buffer: Vec<u8>,
    text: String,
    /// Bytes read so far.
    read: u64,
    /// Lines read so far.
    number: u64,
}

impl<'p> Lines<'p> {
    fn new(input: Box<dyn BufRead + Send>, path: &'p Path, gzip: bool, read: u64, number: u64) -> Lines<'p> {
        Lines { input, path, gzip, buffer: Vec::new(), text: String::new(), read, number }
    }

    /// The next line and its 1-based number. (Lending lines from the reader's buffer instead of
    /// copying each into a small one of its own was tried: the whole run took a third longer.)
    fn next_line(&mut self) -> Result<Option<(u64, &str)>, Error> {
        self.buffer.clear();
        let n = read_line(self.input.as_mut(), &mut self.buffer)
            .map_err(|source| Error::Io { path: self.path.to_path_buf(), source })?;
        if n == 0 {
            return Ok(None);
        }
        self.read += n as u64;
        if self.gzip && self.read > MAX_UNPACKED {
            return Err(Error::TooLarge { path: self.path.to_path_buf() });
        }
        let mut line = &self.buffer[..];
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        self.number += 1;
        self.text.clear();
        match std::str::from_utf8(line) {
            Ok(text) => self.text.push_str(text),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(line)),
        }
        Ok(Some((self.number, &self.text)))
    }
}

/// `BufRead::read_until(b'\n')` with the memchr crate's vectorised search: the standard one
/// scans a word at a time, and finding line ends showed in profiles on every thread.
fn read_line(input: &mut (dyn BufRead + Send), into: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(read);
        }
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        into.extend_from_slice(&available[..taken]);
        input.consume(taken);
        read += taken;
        if done {
            return Ok(read);
        }
    }
}
