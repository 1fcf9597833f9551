//! Build logs from files, folders (every file below, in name order) and gzip, each parsed in its
//! detected or given format.

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
}

/// Read every log under `path`. A file's job is its name without extensions; a file in a
/// subfolder of `path` belongs to the job named by that subfolder (as in GitHub's log archives,
/// one folder per job and one file per step).
pub fn read_path(path: &Path, format: Option<Format>) -> Result<Vec<LogLine>, Error> {
    if !path.exists() {
        return Err(Error::Missing { path: path.to_path_buf() });
    }
    let files = if path.is_dir() { files_below(path)? } else { vec![path.to_path_buf()] };
    if files.is_empty() {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let mut lines = Vec::new();
    for file in files {
        let text = read_text(&file)?;
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

fn files_below(dir: &Path) -> Result<Vec<PathBuf>, Error> {
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
            files.extend(files_below(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// The file's text, gunzipped when it starts with the gzip magic; invalid UTF-8 is replaced.
fn read_text(path: &Path) -> Result<String, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(io)?;
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
