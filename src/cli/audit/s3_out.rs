//! `--out s3://bucket/prefix`: the report folder is written locally as always, then put under
//! the prefix (with the server-side encryption asked for), and last `uploaded.json` lists each
//! object S3 stored with its ETag and version. The local folder goes only once all is stored;
//! on a failure it stays, and the message says where.

use std::path::{Path, PathBuf};

use super::super::error;

/// Where a report goes in S3 and how S3 encrypts it.
pub(crate) struct Target {
    pub url: String,
    pub sse: Option<String>,
    pub kms_key: Option<String>,
}

/// The S3 target `--out` names, if it names one.
pub(crate) fn target(flags: &super::ReportArgs) -> Option<Target> {
    let out = flags.out.as_ref()?.to_string_lossy().into_owned();
    out.starts_with("s3://").then(|| Target { url: out, sse: flags.sse.clone(), kms_key: flags.sse_kms_key_id.clone() })
}

/// The local folder a report bound for S3 is written to first.
pub(crate) fn staging(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "deployclaw-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ))
}

/// Put `dir` under the target; the summary line to print, or the error to report.
#[cfg(feature = "s3")]
pub(crate) fn upload(dir: &Path, target: &Target) -> Result<String, String> {
    use deployclaw::collect::{aws::Aws, s3};
    let kept =
        |e: &dyn std::fmt::Display| format!("--out {}: {e}; the report is kept in {}", target.url, dir.display());
    let url = match s3::Url::parse(&target.url) {
        Some(Ok(url)) => url,
        Some(Err(e)) => return Err(kept(&e)),
        None => return Err(kept(&"not an s3:// address")),
    };
    let encryption = s3::Encryption { algorithm: target.sse.clone(), kms_key: target.kms_key.clone() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| kept(&e))?;
    let stored = runtime.block_on(async {
        let aws = Aws::load(&Default::default()).await?;
        let mut stored = s3::put_folder(&aws, dir, &url, &encryption).await?;
        let manifest = dir.join("uploaded.json");
        let listing = serde_json::json!({ "objects": stored });
        std::fs::write(&manifest, serde_json::to_vec_pretty(&listing).unwrap_or_default())
            .map_err(|e| deployclaw::collect::aws::Error::Input(format!("{}: {e}", manifest.display())))?;
        let prefix = if url.is_prefix() { url.key.clone() } else { format!("{}/", url.key) };
        let at = s3::Url { bucket: url.bucket.clone(), key: format!("{prefix}uploaded.json") };
        stored.push(s3::put(&aws, &manifest, &at, &encryption).await?);
        Ok::<_, deployclaw::collect::aws::Error>(stored)
    });
    let stored = stored.map_err(|e| kept(&e))?;
    let _ = std::fs::remove_dir_all(dir);
    let base = target.url.trim_end_matches('/');
    Ok(format!(
        "report: {base}/report.html ({} objects; their ETags and versions are in {base}/uploaded.json)",
        stored.len()
    ))
}

#[cfg(not(feature = "s3"))]
pub(crate) fn upload(dir: &Path, target: &Target) -> Result<String, String> {
    Err(format!(
        "--out {}: this deployclaw was built without S3 support (the s3 feature); the report is kept in {}",
        target.url,
        dir.display()
    ))
}

/// Upload after the audit; an upload that fails turns a passing run into a failed one.
pub(crate) fn finish(out: &Path, flags: &super::ReportArgs, code: u8) -> u8 {
    let Some(target) = target(flags) else { return code };
    if !out.is_dir() {
        return code;
    }
    match upload(out, &target) {
        Ok(line) => {
            if !flags.quiet {
                eprintln!("{line}");
            }
            code
        }
        Err(message) => {
            error(message);
            if code == super::super::exit::OK { super::super::exit::FAILED } else { code }
        }
    }
}
