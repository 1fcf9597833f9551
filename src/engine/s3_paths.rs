//! `s3://` wherever a function reads a path: the object, or every object below a prefix, is
//! copied into the session's temporary folder first (streamed to disk, every page), the readers
//! of files read the copy, and what they report is labelled with the address, not the copy.

use std::path::PathBuf;

use rhai::EvalAltResult;

use super::{Locked, Shared};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A path to read: the one given, or the local copy of an `s3://` address.
#[derive(Clone)]
pub(super) struct Local {
    pub path: PathBuf,
    /// (the copy's path as text, the address it stands for)
    copy_of: Option<(String, String)>,
}

impl Local {
    /// `text` (a path within the copy) with the copy's path replaced by the address.
    pub fn relabel(&self, text: &str) -> String {
        match &self.copy_of {
            Some((copy, url)) => match text.strip_prefix(copy.as_str()) {
                Some(rest) => format!("{url}{rest}"),
                None => text.to_string(),
            },
            None => text.to_string(),
        }
    }
}

/// The local path for `text`: itself, or for `s3://...` a copy, made once a session (a heap dump
/// read by several functions is fetched once).
pub(super) fn local(s: &Shared, text: &str) -> Result<Local> {
    if !text.starts_with("s3://") {
        return Ok(Local { path: PathBuf::from(text), copy_of: None });
    }
    if let Some(copy) = s.s3_copies.locked().get(text).filter(|c| c.path.exists()) {
        return Ok(copy.clone());
    }
    let copy = fetch(s, text)?;
    s.s3_copies.locked().insert(text.to_string(), copy.clone());
    Ok(copy)
}

/// [`local`] as text, for readers that take a path as text (every copy's path is UTF-8: it is
/// the session's temporary folder and the key's own parts).
pub(super) fn local_text(s: &Shared, text: &str) -> Result<String> {
    Ok(local(s, text)?.path.to_string_lossy().into_owned())
}

#[cfg(feature = "s3")]
fn fetch(s: &Shared, text: &str) -> Result<Local> {
    use crate::collect::{aws, s3};
    let url = match s3::Url::parse(text) {
        Some(Ok(url)) => url,
        Some(Err(e)) => return Err(super::input_error(e)),
        None => unreachable!("local() passes s3:// addresses only"),
    };
    let spool = s.temp_path("s3").map_err(super::rt_error)?;
    std::fs::create_dir_all(&spool).map_err(|e| super::rt_error(format!("{}: {e}", spool.display())))?;
    let into = tempfile::Builder::new()
        .prefix("copy-")
        .tempdir_in(&spool)
        .map_err(|e| super::rt_error(format!("{}: {e}", spool.display())))?
        .keep();
    let client = super::aws_api::clients(s)?;
    let fetched = super::block(s, s3::fetch(&client, &url, &into))?.map_err(|e| match e {
        aws::Error::NotFound { .. } | aws::Error::Input(_) => super::input_error(e),
        other => super::rt_error(other),
    })?;
    let bytes: u64 = fetched.objects.iter().map(|o| o.bytes).sum();
    let count = fetched.objects.len();
    s.record(|log| log.note(&format!("{text}: copied {count} object(s), {bytes} bytes")))?;
    let address = if url.is_prefix() { text.trim_end_matches('/').to_string() } else { text.to_string() };
    let copy = fetched.path.display().to_string();
    Ok(Local { path: fetched.path, copy_of: Some((copy, address)) })
}

#[cfg(not(feature = "s3"))]
fn fetch(_: &Shared, text: &str) -> Result<Local> {
    Err(super::input_error(format!(
        "{text}: this deployclaw was built without S3 support; build it with the s3 feature (on by default)"
    )))
}
