//! One round of heap dumps across a fleet: every instance dumped at once (a few at a time),
//! each dump brought here into its own file, and what each one cost: the bytes that crossed
//! the network and the time it took. One instance that fails spoils only its own row.

use super::gather::{self, Progress};
use super::inventory::Instance;
use super::jvm;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One instance's dump in one round.
#[derive(Debug, Clone)]
pub struct Taken {
    /// `api-svc[2]`.
    pub label: String,
    pub service: String,
    /// The host as messages name it: `ssh app@10.0.1.45:22`.
    pub host: String,
    pub pid: u32,
    pub version: Option<String>,
    /// The ECS task the instance runs in, if ECS named its host.
    pub task: Option<String>,
    /// 1 for the first round.
    pub round: u32,
    /// When the dump was asked for, RFC 3339 UTC, and as milliseconds since the epoch.
    pub taken_at: String,
    pub taken_ms: i64,
    /// Where the dump is on this machine (gzip'd HPROF), when it was brought here.
    pub path: Option<PathBuf>,
    /// Where the dump is on its host, when it was left there (near-data mode).
    pub remote: Option<String>,
    /// The dump's size (gzip'd), wherever it is.
    pub dump_bytes: u64,
    pub bytes_moved: u64,
    pub seconds: f64,
    pub error: Option<String>,
}

/// Where `instance`'s dump of `round` goes under `dir`: `dir/api-svc/2-1.hprof.gz`.
pub fn dump_path(dir: &Path, instance: &Instance, round: u32) -> PathBuf {
    // The service name comes from an inventory: only its plain characters make the folder name.
    let folder: String = instance
        .service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let folder = if folder.trim_matches('.').is_empty() { "service".to_string() } else { folder };
    dir.join(folder).join(format!("{}-{round}.hprof.gz", instance.index))
}

/// Where a round's dumps go: each brought here under `dir`, or, for the instances that have a
/// folder in `there` (by label, `api-svc[2]`), left in that folder on their host.
pub struct Keep<'a> {
    pub dir: &'a Path,
    pub there: &'a BTreeMap<String, String>,
}

/// Where one dump ended up.
enum Put {
    Here(PathBuf),
    There(String),
}

/// Dump every instance once, at most `limit` at a time.
pub fn round(
    instances: &[Instance],
    keep: &Keep,
    round: u32,
    limit: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Taken> {
    let started = chrono::Utc::now();
    let answers = gather::each(
        instances,
        limit,
        |instance| {
            let at = chrono::Utc::now();
            let host = instance.host.as_ref();
            if let Some(folder) = keep.there.get(&instance.label()) {
                let remote = format!("{folder}/{round}.hprof.gz");
                jvm::dump_there(host, instance.pid, &remote).map_err(|e| e.to_string())?;
                let size = jvm::size_there(host, &remote).map_err(|e| e.to_string())?;
                return Ok((Put::There(remote), 0, size, at));
            }
            let path = dump_path(keep.dir, instance, round);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            jvm::heap_dump(host, instance.pid, &path)
                .map(|fetched| (Put::Here(path), fetched.bytes_moved, fetched.dump_bytes, at))
                .map_err(|e| e.to_string())
        },
        progress,
    );
    answers
        .into_iter()
        .map(|answer| {
            let i = &answer.instance;
            let mut taken = Taken {
                label: i.label(),
                service: i.service.clone(),
                host: i.host.name(),
                pid: i.pid,
                version: i.version.clone(),
                task: i.task.clone(),
                round,
                taken_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                taken_ms: started.timestamp_millis(),
                path: None,
                remote: None,
                dump_bytes: 0,
                bytes_moved: 0,
                seconds: answer.elapsed.as_secs_f64(),
                error: None,
            };
            match answer.result {
                Ok((put, moved, size, at)) => {
                    match put {
                        Put::Here(path) => taken.path = Some(path),
                        Put::There(remote) => taken.remote = Some(remote),
                    }
                    taken.bytes_moved = moved;
                    taken.dump_bytes = size;
                    taken.taken_at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    taken.taken_ms = at.timestamp_millis();
                }
                Err(e) => taken.error = Some(e),
            }
            taken
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::transport::Local;
    use std::sync::Arc;

    #[test]
    fn dump_paths_keep_service_names_inside_the_folder() {
        let mut instance = Instance {
            service: "../../etc/x y".into(),
            index: 2,
            host: Arc::new(Local::default()),
            pid: 1,
            command: String::new(),
            version: None,
            task: None,
            deployclaw: None,
        };
        let path = dump_path(Path::new("/d"), &instance, 3);
        assert_eq!(path, Path::new("/d/.._.._etc_x_y/2-3.hprof.gz"));
        instance.service = "..".into();
        assert_eq!(dump_path(Path::new("/d"), &instance, 1), Path::new("/d/service/2-1.hprof.gz"));
    }

    #[test]
    fn an_instance_that_is_gone_is_a_row_with_its_error() {
        let instance = Instance {
            service: "api".into(),
            index: 0,
            host: Arc::new(Local::default()),
            // No process has this id (above the kernel's pid_max).
            pid: 4_999_999,
            command: String::new(),
            version: Some("1.0".into()),
            task: None,
            deployclaw: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let rows = round(&[instance], &Keep { dir: dir.path(), there: &BTreeMap::new() }, 1, 2, &|_| {});
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label, "api[0]");
        assert!(rows[0].path.is_none());
        assert!(rows[0].error.is_some());
        assert!(!dir.path().join("api/0-1.hprof.gz").exists(), "nothing half-written is left");
    }
}
