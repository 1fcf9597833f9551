//! Reading and writing CSV, JSON and Parquet. Writes go to a temporary file beside the target and
//! are renamed into place, so a failed write never leaves a half-written file.

use super::{Error, Frame};
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn file_error(action: &'static str, path: &Path, message: impl ToString) -> Error {
    Error::File { action, path: path.to_path_buf(), message: message.to_string() }
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| file_error("read", path, e))
}

impl Frame {
    /// Read a CSV file with a header row; column types are inferred from the data.
    pub fn read_csv(path: &Path) -> Result<Frame, Error> {
        let file = open(path)?;
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .into_reader_with_file_handle(file)
            .finish()
            .map(Frame::from_polars)
            .map_err(|e| file_error("read CSV from", path, e))
    }

    /// Read JSON: an array of records, or one record per line (JSON Lines).
    pub fn read_json(path: &Path) -> Result<Frame, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error("read", path, e))?;
        let trimmed = text.trim_start();
        let records: Vec<serde_json::Value> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| file_error("read JSON from", path, e))?
        } else {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .map_err(|e| file_error("read JSON from", path, format!("line {}: {e}", i + 1)))
                })
                .collect::<Result<_, _>>()?
        };
        Frame::from_records(&records).map_err(|e| file_error("read JSON from", path, e))
    }

    /// Read a Parquet file.
    pub fn read_parquet(path: &Path) -> Result<Frame, Error> {
        let file = open(path)?;
        ParquetReader::new(file).finish().map(Frame::from_polars).map_err(|e| file_error("read Parquet from", path, e))
    }

    /// Write CSV with a header row.
    pub fn write_csv(&self, path: &Path) -> Result<(), Error> {
        let mut df = self.df.clone();
        write_atomically(path, "write CSV to", |file| {
            CsvWriter::new(file).include_header(true).finish(&mut df).map_err(|e| e.to_string())
        })
    }

    /// Write a JSON array of records (the same shape `--json` prints).
    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        let records = serde_json::Value::Array(self.to_records());
        write_atomically(path, "write JSON to", |file| {
            serde_json::to_writer_pretty(&mut *file, &records).map_err(|e| e.to_string())?;
            file.write_all(b"\n").map_err(|e| e.to_string())
        })
    }

    /// Write Parquet (zstd-compressed, Polars' default).
    pub fn write_parquet(&self, path: &Path) -> Result<(), Error> {
        let mut df = self.df.clone();
        write_atomically(path, "write Parquet to", |file| {
            ParquetWriter::new(file).finish(&mut df).map(|_| ()).map_err(|e| e.to_string())
        })
    }
}

fn write_atomically(
    path: &Path,
    action: &'static str,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), String>,
) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.file_name().is_none() {
        return Err(file_error(action, path, "the path names no file"));
    }
    // A temporary file of an unpredictable name, created O_EXCL and readable by its owner only
    // (tenant backups go through here), removed if anything fails before the rename.
    let result = (|| {
        let tmp = tempfile::Builder::new()
            .prefix(".deployclaw-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| e.to_string())?;
        let (file, tmp_path) = tmp.into_parts();
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        tmp_path.persist(path).map_err(|e| e.error.to_string())
    })();
    result.map_err(|message| file_error(action, path, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_format_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let frame = Frame::from_records(&[json!({"t": "a", "mb": 1.5}), json!({"t": "b", "mb": 2.0})]).unwrap();
        for (name, write, read) in [
            (
                "x.csv",
                Frame::write_csv as fn(&Frame, &Path) -> Result<(), Error>,
                Frame::read_csv as fn(&Path) -> Result<Frame, Error>,
            ),
            ("x.json", Frame::write_json, Frame::read_json),
            ("x.parquet", Frame::write_parquet, Frame::read_parquet),
        ] {
            let path = dir.path().join(name);
            write(&frame, &path).unwrap();
            assert_eq!(read(&path).unwrap().to_records(), frame.to_records(), "{name}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary files left");
    }

    /// The old predictable temporary name, planted as a link to a file elsewhere, is not
    /// followed; what is written is readable by its owner only.
    #[cfg(unix)]
    #[test]
    fn writes_follow_no_planted_link_and_stay_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let path = dir.path().join("backup.csv");
        std::os::unix::fs::symlink(&victim, dir.path().join(format!(".backup.csv.{}.tmp", std::process::id())))
            .unwrap();
        let frame = Frame::from_records(&[json!({"secret": "row"})]).unwrap();
        frame.write_csv(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn json_lines_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"a\":1}\n\n{\"a\":2}\n").unwrap();
        assert_eq!(Frame::read_json(&path).unwrap().height(), 2);
        std::fs::write(&path, "{\"a\":1}\n{oops}\n").unwrap();
        let err = Frame::read_json(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let frame = Frame::from_records(&[json!({"a": 1})]).unwrap();
        let err = frame.write_csv(Path::new("/nonexistent-dir/x.csv")).unwrap_err();
        assert!(err.to_string().starts_with("cannot write CSV to /nonexistent-dir/x.csv"), "{err}");
    }
}
