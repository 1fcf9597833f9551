//! Build logs from files, folders (every file below, in name order), gzip and zip archives (as
//! GitHub Actions' log downloads), each parsed in its detected or given format.

use super::archive;
use super::formats;
use super::line::{Format, LogLine};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such file or folder")]
    Missing { path: PathBuf },
    #[error("{path}: holds no log files")]
    Empty { path: PathBuf },
    #[error("{path}: folders nest more than {MAX_DEPTH} deep below the one given (a link to a folder above it?)")]
    TooDeep { path: PathBuf },
    #[error("{path}: unpacks to more than {} GiB; unpack it yourself and give the part that matters", MAX_UNPACKED >> 30)]
    TooLarge { path: PathBuf },
    #[error("{path}: not a zip archive that can be read: {message}")]
    Archive { path: PathBuf, message: String },
}

impl Error {
    /// Whether the path given is wrong (missing, empty, looping) rather than unreadable.
    pub fn is_input(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData)
            }
            _ => true,
        }
    }
}

/// How deep below the folder given logs are looked for: GitHub's archives are two deep; a
/// symbolic link to a folder above would otherwise make the walk endless.
const MAX_DEPTH: usize = 16;
/// The most a gzip log may unpack to: gzip packs up to 1032 to 1, so a small file could
/// otherwise ask for any amount of memory.
pub(crate) const MAX_UNPACKED: u64 = 4 << 30;

/// Read every log under `path`. A file's job is its name without extensions; a file in a
/// subfolder of `path` belongs to the job named by that subfolder (as in GitHub's log archives,
/// one folder per job and one file per step).
pub fn read_path(path: &Path, format: Option<Format>) -> Result<Vec<LogLine>, Error> {
    if !path.exists() {
        return Err(Error::Missing { path: path.to_path_buf() });
    }
    let files = if path.is_dir() { files_below(path, 0)? } else { vec![path.to_path_buf()] };
    if files.is_empty() {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let mut lines = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| Error::Io { path: file.clone(), source })?;
        if archive::is_zip(&bytes) {
            for entry in archive::entries(&file, &bytes)? {
                let format = format.unwrap_or_else(|| formats::detect(&entry.text));
                let source = format!("{}!/{}", file.display(), entry.name);
                lines.extend(formats::parse(&entry.text, format, &source, &entry.job));
            }
            continue;
        }
        let text = decode(&file, bytes)?;
        let job = job_name(path, &file);
        let format = format.unwrap_or_else(|| formats::detect(&text));
        lines.extend(formats::parse(&text, format, &file.display().to_string(), &job));
    }
    Ok(lines)
}

/// Parse text that did not come from a file (CloudWatch Logs events of one stream, stdin).
pub fn read_text_as(text: &str, format: Option<Format>, source: &str, job: &str) -> Vec<LogLine> {
    let format = format.unwrap_or_else(|| formats::detect(text));
    formats::parse(text, format, source, job)
}

fn files_below(dir: &Path, depth: usize) -> Result<Vec<PathBuf>, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep { path: dir.to_path_buf() });
    }
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files.extend(files_below(&path, depth + 1)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// A file's text, gunzipped when it starts with the gzip magic; invalid UTF-8 is replaced.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).take(MAX_UNPACKED + 1).read_to_end(&mut out).map_err(io)?;
        if out.len() as u64 > MAX_UNPACKED {
            return Err(Error::TooLarge { path: path.to_path_buf() });
        }
        out
    } else {
        bytes
    };
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn job_name(root: &Path, file: &Path) -> String {
    let below = file.strip_prefix(root).ok().filter(|p| p.components().count() > 1);
    if let Some(folder) = below.and_then(|p| p.components().next()) {
        return folder.as_os_str().to_string_lossy().into_owned();
    }
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut stem = name.as_str();
    for ext in [".gz", ".log", ".txt"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_to_a_folder_above_ends_the_walk_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("job")).unwrap();
        std::fs::write(dir.path().join("job/1.log"), "x\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("job/up")).unwrap();
        let err = read_path(dir.path(), None).unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{err}");
        assert!(err.is_input());
    }

    #[test]
    fn an_empty_folder_and_a_missing_path_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_path(dir.path(), None).unwrap_err();
        assert!(err.to_string().ends_with("holds no log files") && err.is_input(), "{err}");
        assert!(read_path(&dir.path().join("nope"), None).unwrap_err().is_input());
    }
}
