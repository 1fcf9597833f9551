//! S3 objects where a path is taken or written: `s3://bucket/key` (one object) or
//! `s3://bucket/prefix/` (every object below, every page) copied to a local folder, streamed to
//! disk, so the readers of files read them; and a local folder put under a prefix, with the
//! server-side encryption asked for, recording what S3 stored (ETag, version).

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;

use super::aws::{Aws, Error, call_error};

/// Objects copied from one prefix before the rest is refused.
pub const MAX_OBJECTS: usize = 10_000;

/// An `s3://bucket/key` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub bucket: String,
    pub key: String,
}

impl Url {
    /// The address in `text`, or None when it is not an `s3://` one.
    pub fn parse(text: &str) -> Option<Result<Url, Error>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(Error::Input(format!("{text}: name a bucket, as in s3://bucket/key"))));
        }
        Some(Ok(Url { bucket: bucket.to_string(), key: key.to_string() }))
    }

    /// A prefix (ends with `/`, or is the whole bucket) rather than one object.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    fn with_key(&self, key: &str) -> Url {
        Url { bucket: self.bucket.clone(), key: key.to_string() }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An object S3 holds or stored: its key, size, ETag and version (when the bucket keeps them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    pub url: String,
    pub bytes: u64,
    pub etag: Option<String>,
    pub version: Option<String>,
}

/// What [`fetch`] copied: the local file or folder standing for the address, and its objects.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub path: PathBuf,
    pub objects: Vec<Object>,
}

/// The local path for `key` below `prefix`: its `/`-separated parts, none of which may climb
/// out (`..`) or be absolute.
fn local_name(url: &Url, key: &str, prefix: &str) -> Result<PathBuf, Error> {
    let relative = key.strip_prefix(prefix).unwrap_or(key);
    let mut path = PathBuf::new();
    for part in relative.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." || part.contains('\\') || part.contains('\0') {
            return Err(Error::Input(format!("{}: the key {key:?} would leave the folder it is copied to", url)));
        }
        path.push(part);
    }
    Ok(path)
}

/// Copy `url` into the folder `into`: one object to `into/NAME`, a prefix to `into/PREFIX-NAME/`
/// with its keys as paths below. A key that is not an object but has objects below it (a
/// "folder" given without its `/`) is read as that prefix.
pub async fn fetch(aws: &Aws, url: &Url, into: &Path) -> Result<Fetched, Error> {
    if !url.is_prefix() {
        let name = local_name(url, &url.key, "")?;
        let file = into.join(name.file_name().unwrap_or(name.as_os_str()));
        let missing = match get(aws, url, &file).await {
            Ok(object) => return Ok(Fetched { path: file, objects: vec![object] }),
            Err(e) => e,
        };
        if !matches!(missing, Error::NotFound { .. }) || !has_objects_below(aws, url).await? {
            return Err(missing);
        }
    }
    let prefix = if url.is_prefix() { url.key.clone() } else { format!("{}/", url.key) };
    let folder =
        into.join(prefix.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&url.bucket));
    let mut objects = Vec::new();
    for key in list(aws, &url.with_key(&prefix)).await? {
        let name = local_name(url, &key, &prefix)?;
        if name.as_os_str().is_empty() {
            continue; // the prefix's own "folder" marker
        }
        objects.push(get(aws, &url.with_key(&key), &folder.join(name)).await?);
    }
    if objects.is_empty() {
        return Err(Error::NotFound {
            call: "ListObjectsV2",
            resource: url.with_key(&prefix).to_string(),
            message: "no objects below this prefix".into(),
        });
    }
    std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
    Ok(Fetched { path: folder, objects })
}

async fn has_objects_below(aws: &Aws, url: &Url) -> Result<bool, Error> {
    let prefix = format!("{}/", url.key);
    let answer = aws
        .s3()
        .list_objects_v2()
        .bucket(&url.bucket)
        .prefix(&prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| call_error("ListObjectsV2", &url.with_key(&prefix).to_string(), e))?;
    Ok(!answer.contents().is_empty())
}

/// The keys below a prefix (ListObjectsV2, every page, at most [`MAX_OBJECTS`]).
pub async fn list(aws: &Aws, url: &Url) -> Result<Vec<String>, Error> {
    let mut keys = Vec::new();
    let mut pages = aws.s3().list_objects_v2().bucket(&url.bucket).prefix(&url.key).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("ListObjectsV2", &url.to_string(), e))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_string));
        if keys.len() > MAX_OBJECTS {
            return Err(Error::Input(format!(
                "{url}: more than {MAX_OBJECTS} objects below this prefix; name a narrower one"
            )));
        }
    }
    Ok(keys)
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Input(format!("{}: {e}", path.display()))
}

/// One object streamed to `file` (through `file.part`, renamed once whole).
async fn get(aws: &Aws, url: &Url, file: &Path) -> Result<Object, Error> {
    use tokio::io::AsyncWriteExt;
    let answer = aws
        .s3()
        .get_object()
        .bucket(&url.bucket)
        .key(&url.key)
        .send()
        .await
        .map_err(|e| call_error("GetObject", &url.to_string(), e))?;
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| io_error(dir, e))?;
    }
    let mut part = file.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut out = tokio::fs::File::create(&part).await.map_err(|e| io_error(&part, e))?;
    let (etag, version) = (answer.e_tag().map(str::to_string), answer.version_id().map(str::to_string));
    let mut body = answer.body;
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| Error::Call { call: "GetObject", resource: url.to_string(), message: e.to_string() })?;
        bytes += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(|e| io_error(&part, e))?;
    }
    out.flush().await.map_err(|e| io_error(&part, e))?;
    drop(out);
    tokio::fs::rename(&part, file).await.map_err(|e| io_error(file, e))?;
    Ok(Object { url: url.to_string(), bytes, etag, version })
}

/// Server-side encryption for what [`put_folder`] writes: `AES256` or `aws:kms` (with a key,
/// else the bucket's default KMS key).
#[derive(Debug, Clone, Default)]
pub struct Encryption {
    pub algorithm: Option<String>,
    pub kms_key: Option<String>,
}

/// Put every file below `dir` under the prefix `url` (keys are their paths below `dir`, in name
/// order), each streamed from disk; what S3 stored, in that order.
pub async fn put_folder(aws: &Aws, dir: &Path, url: &Url, encryption: &Encryption) -> Result<Vec<Object>, Error> {
    let mut files = Vec::new();
    files_below(dir, dir, &mut files)?;
    let prefix = if url.is_prefix() { url.key.clone() } else { format!("{}/", url.key) };
    let mut stored = Vec::new();
    for (path, relative) in files {
        let target = url.with_key(&format!("{prefix}{relative}"));
        stored.push(put(aws, &path, &target, encryption).await?);
    }
    Ok(stored)
}

/// One file put at `url`.
pub async fn put(aws: &Aws, path: &Path, url: &Url, encryption: &Encryption) -> Result<Object, Error> {
    let bytes = std::fs::metadata(path).map_err(|e| io_error(path, e))?.len();
    let body = ByteStream::from_path(path).await.map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let answer = aws
        .s3()
        .put_object()
        .bucket(&url.bucket)
        .key(&url.key)
        .body(body)
        .set_server_side_encryption(encryption.algorithm.as_deref().map(Into::into))
        .set_ssekms_key_id(encryption.kms_key.clone())
        .send()
        .await
        .map_err(|e| call_error("PutObject", &url.to_string(), e))?;
    Ok(Object {
        url: url.to_string(),
        bytes,
        etag: answer.e_tag().map(str::to_string),
        version: answer.version_id().map(str::to_string),
    })
}

/// Every file below `dir` with its `/`-separated path relative to `root`, in name order.
fn files_below(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io_error(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            files_below(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push((path.clone(), parts.join("/")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_a_bucket_and_keys_stay_inside_their_folder() {
        let url = Url::parse("s3://logs/ci/2024/").unwrap().unwrap();
        assert_eq!((url.bucket.as_str(), url.key.as_str(), url.is_prefix()), ("logs", "ci/2024/", true));
        assert!(Url::parse("s3://logs").unwrap().unwrap().is_prefix());
        assert!(!Url::parse("s3://logs/a.log").unwrap().unwrap().is_prefix());
        assert!(Url::parse("s3:///key").unwrap().is_err());
        assert!(Url::parse("/tmp/a.log").is_none());
        assert_eq!(local_name(&url, "ci/2024/job/1.log", "ci/2024/").unwrap(), Path::new("job/1.log"));
        for bad in ["ci/2024/../../etc/passwd", "ci/2024/a\\b"] {
            assert!(local_name(&url, bad, "ci/2024/").is_err(), "{bad}");
        }
        assert_eq!(local_name(&url, "ci/2024//./x", "ci/2024/").unwrap(), Path::new("x"));
    }
}
