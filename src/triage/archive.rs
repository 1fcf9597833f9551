//! Zip archives of build logs, as GitHub Actions' "Download log archive" (and `gh run download`)
//! gives them: a folder per job with a file per step, and beside them `N_JOB.txt`, each job's
//! whole log again. The step files are read and the whole-job copies left out, so no line counts
//! twice; a job with no folder is read from its whole-job file.

use std::io::Read;
use std::path::Path;

use super::read::{Error, MAX_UNPACKED};

/// Entries read from one archive before the rest is refused.
pub const MAX_ENTRIES: usize = 100_000;

/// One log in an archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its path in the archive.
    pub name: String,
    pub job: String,
    pub text: String,
}

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// `3_build (ubuntu)` is the whole log of job `build (ubuntu)`.
fn whole_job(name: &str) -> Option<&str> {
    let (index, job) = name.split_once('_')?;
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some(job)
}

fn stem(name: &str) -> &str {
    let mut stem = name;
    for ext in [".txt", ".log"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem
}

/// The logs in the zip archive `bytes` (read from `path`), in archive order; at most
/// [`MAX_ENTRIES`] entries and [`MAX_UNPACKED`] bytes unpacked in all.
pub fn entries(path: &Path, bytes: &[u8]) -> Result<Vec<Entry>, Error> {
    let broken = |message: String| Error::Archive { path: path.to_path_buf(), message };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| broken(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(broken(format!("{} entries, more than {MAX_ENTRIES}", zip.len())));
    }
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(std::borrow::Cow::into_owned))
        .collect::<Result<_, _>>()
        .map_err(|e| broken(e.to_string()))?;
    let folders: Vec<&str> = names.iter().filter_map(|n| n.split_once('/').map(|(folder, _)| folder)).collect();
    let mut left = MAX_UNPACKED;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(|e| broken(e.to_string()))?;
        let name = file.name().map_err(|e| broken(e.to_string()))?.into_owned();
        if file.is_dir() || name.rsplit('/').next().is_some_and(|n| n.is_empty() || n.starts_with('.')) {
            continue;
        }
        let job = match name.split_once('/') {
            Some((folder, _)) => folder.to_string(),
            None => {
                let stem = stem(&name);
                match whole_job(stem) {
                    Some(job) if folders.contains(&job) => continue,
                    Some(job) => job.to_string(),
                    None => stem.to_string(),
                }
            }
        };
        let mut raw = Vec::new();
        (&mut file).take(left + 1).read_to_end(&mut raw).map_err(|e| broken(format!("{name}: {e}")))?;
        if raw.len() as u64 > left {
            return Err(Error::TooLarge { path: path.to_path_buf() });
        }
        left -= raw.len() as u64;
        let text = match String::from_utf8(raw) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        out.push(Entry { name, job, text });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(files: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn step_files_are_read_and_whole_job_copies_left_out() {
        let bytes = archive(&[
            ("0_build.txt", "whole build log\n"),
            ("1_lint.txt", "lint has no folder\n"),
            ("build/1_Set up job.txt", "setting up\n"),
            ("build/2_Run tests.txt", "FAIL\n"),
        ]);
        assert!(is_zip(&bytes));
        let found = entries(Path::new("logs.zip"), &bytes).unwrap();
        let seen: Vec<(&str, &str)> = found.iter().map(|e| (e.name.as_str(), e.job.as_str())).collect();
        assert_eq!(
            seen,
            [("1_lint.txt", "lint"), ("build/1_Set up job.txt", "build"), ("build/2_Run tests.txt", "build")]
        );
    }

    #[test]
    fn a_broken_archive_is_an_input_error_naming_it() {
        let mut bytes = archive(&[("a.txt", "x\n")]);
        bytes.truncate(20);
        let err = entries(Path::new("logs.zip"), &bytes).unwrap_err();
        assert!(err.to_string().starts_with("logs.zip: not a zip archive that can be read"), "{err}");
        assert!(err.is_input());
        assert!(entries(Path::new("empty.zip"), &archive(&[])).unwrap().is_empty());
    }
}
