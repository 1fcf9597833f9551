//! Near-data mode of `fleet::snapshots`: each instance whose host has deployclaw installed (or
//! gets a copy of this one) gets a private folder there; its dumps stay in it, that deployclaw
//! analyses them at the end, the answer is saved here beside the other dumps, and the folder is
//! removed, also when the statement fails or is interrupted.

use super::Shared;
use crate::evidence::{Finding, Severity};
use crate::fleet::gather;
use crate::fleet::inventory::Instance;
use crate::fleet::jvm;
use crate::fleet::near::{self, Ask};
use crate::heap::histogram::ClassRow;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Box<rhai::EvalAltResult>>;

/// The private folders on the hosts, by instance label; removed when dropped.
pub struct Folders<'a> {
    instances: &'a [Instance],
    pub by_label: BTreeMap<String, String>,
    /// The deployclaw that analyses each instance's dumps there, by instance label.
    programs: BTreeMap<String, Program>,
}

/// The deployclaw on a host: installed (from the inventory, or this binary on this machine), or
/// a copy of this one made for the run in its folder.
enum Program {
    Installed(String),
    Copied(near::Copied),
}

impl Program {
    fn path(&self) -> &str {
        match self {
            Program::Installed(path) => path,
            Program::Copied(c) => &c.program,
        }
    }

    fn copied(&self) -> Option<&near::Copied> {
        match self {
            Program::Installed(_) => None,
            Program::Copied(c) => Some(c),
        }
    }
}

impl Drop for Folders<'_> {
    fn drop(&mut self) {
        for i in self.instances {
            if let Some(dir) = self.by_label.get(&i.label()) {
                jvm::remove_dir(i.host.as_ref(), dir);
            }
        }
    }
}

/// A folder on the host of each instance whose inventory entry names its deployclaw, or, with
/// `copy` (this deployclaw's binary), on every host this binary can run on: it is sent into the
/// folder. The others (and any whose folder cannot be made) have their dumps brought here, as
/// without near-data.
pub fn folders<'a>(instances: &'a [Instance], concurrency: usize, copy: Option<&Path>) -> Folders<'a> {
    let answers = gather::each(
        instances,
        concurrency,
        |i| {
            let host = i.host.as_ref();
            match (&i.deployclaw, copy) {
                (Some(path), _) => jvm::private_dir(host).map(|dir| Some((dir, Program::Installed(path.clone())))),
                // This machine runs this binary where it is.
                (None, Some(binary)) if host.is_local() => {
                    jvm::private_dir(host).map(|dir| Some((dir, Program::Installed(binary.display().to_string()))))
                }
                (None, Some(binary)) => {
                    let dir = jvm::private_dir(host)?;
                    match near::copy_to(host, binary, &dir) {
                        Ok(c) => Ok(Some((dir, Program::Copied(c)))),
                        Err(e) => {
                            jvm::remove_dir(host, &dir);
                            Err(e)
                        }
                    }
                }
                (None, None) => Ok(None),
            }
        },
        &|p| {
            if copy.is_some() {
                super::fleet_api::report(p, "folder for near-data")
            }
        },
    );
    let mut by_label = BTreeMap::new();
    let mut programs = BTreeMap::new();
    for answer in answers {
        let i = &answer.instance;
        match answer.result {
            Ok(Some((dir, program))) => {
                by_label.insert(i.label(), dir);
                programs.insert(i.label(), program);
            }
            Ok(None) => eprintln!(
                "fleet: {} on {}: the inventory names no `deployclaw` there (and --copy-deployclaw was not given): \
                 its dumps are brought here",
                i.label(),
                i.host.name()
            ),
            Err(e) => eprintln!(
                "fleet: {} on {}: no near-data analysis there ({}): its dumps are brought here",
                i.label(),
                i.host.name(),
                crate::evidence::redact(&e)
            ),
        }
    }
    Folders { instances, by_label, programs }
}

/// What the analysis is asked.
pub struct Options<'a> {
    pub rule: Option<&'a str>,
    pub threshold: &'a str,
    pub concurrency: usize,
    /// Where the answers are saved (the dumps folder).
    pub dir: &'a Path,
}

/// Analyse each instance's dumps on its host and complete its rows of `rows` (the Frame's rows):
/// `analysis` (the saved answer) on each, the answer's bytes added to `bytes_moved` of the last.
pub fn analyse(s: &Shared, folders: &Folders, rows: &mut [Value], options: &Options) -> Result<()> {
    let mut dumps: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for row in rows.iter() {
        if let (Some(label), Some(remote)) = (row["instance"].as_str(), row["remote"].as_str()) {
            dumps.entry(label.to_string()).or_default().push((row["round"].as_i64().unwrap_or(0), remote.to_string()));
        }
    }
    let wanted: Vec<Instance> = folders
        .instances
        .iter()
        .filter(|i| dumps.contains_key(&i.label()) && folders.programs.contains_key(&i.label()))
        .cloned()
        .collect();
    let answers = gather::each(
        &wanted,
        options.concurrency,
        |i| {
            let mut mine = dumps.get(&i.label()).cloned().unwrap_or_default();
            mine.sort();
            let paths: Vec<String> = mine.into_iter().map(|(_, p)| p).collect();
            // `wanted` holds only instances with a program.
            let program = folders.programs.get(&i.label());
            let deployclaw = program.map_or("deployclaw", Program::path);
            let home = program.and_then(Program::copied).map(|c| c.home.as_str());
            let dir = folders.by_label.get(&i.label()).map(String::as_str);
            let ask = Ask { deployclaw, dumps: &paths, rule: options.rule, threshold: options.threshold, home, dir };
            near::analyze(i.host.as_ref(), &ask).map_err(|e| e.to_string())
        },
        &|p| super::fleet_api::report(p, "analysis there"),
    );
    charge_copies(folders, rows);
    for answer in answers {
        let i = &answer.instance;
        let label = i.label();
        let sent = folders.programs.get(&label).and_then(Program::copied).map_or(0, |c| c.bytes);
        let last = rows.iter().rposition(|r| r["instance"] == label.as_str() && r["remote"].is_string());
        let analysis = match answer.result {
            Ok(a) => a,
            Err(e) => {
                let title = format!("{label} on {}: its dumps could not be analysed there", i.host.name());
                let details = json!({ "instance": label, "error": crate::evidence::redact(&e) });
                s.add_finding(Finding { severity: Severity::Warning, title, details })?;
                continue;
            }
        };
        forward_findings(s, i, &analysis.json)?;
        let path = answer_path(options.dir, i);
        save(&path, &analysis.json).map_err(super::rt_error)?;
        let dump_bytes: u64 =
            rows.iter().filter(|r| r["instance"] == label.as_str()).filter_map(|r| r["dump_bytes"].as_u64()).sum();
        let note = json!({ "instance": label, "host": i.host.name(), "dump_bytes": dump_bytes,
                           "bytes_moved": analysis.bytes_moved, "deployclaw_sent": sent, "saved": path.display().to_string() });
        s.record(|log| log.note(&format!("fleet near-data analysis: {note}")))?;
        for (n, row) in rows.iter_mut().enumerate().filter(|(_, r)| r["instance"] == label.as_str()) {
            row["analysis"] = json!(path.display().to_string());
            if Some(n) == last {
                row["bytes_moved"] = json!(row["bytes_moved"].as_u64().unwrap_or(0) + analysis.bytes_moved);
            }
        }
    }
    Ok(())
}

/// A copy of deployclaw sent to a host crossed the network too: its bytes count on the
/// instance's last row, whether its dumps were then analysed or not.
fn charge_copies(folders: &Folders, rows: &mut [Value]) {
    for (label, program) in &folders.programs {
        let Some(copied) = program.copied() else { continue };
        if let Some(row) = rows.iter_mut().rev().find(|r| r["instance"] == label.as_str()) {
            row["bytes_moved"] = json!(row["bytes_moved"].as_u64().unwrap_or(0) + copied.bytes);
            row["deployclaw_sent"] = json!(copied.bytes);
        }
    }
}

/// The findings the analysis made on the host, as findings here naming the instance.
fn forward_findings(s: &Shared, i: &Instance, answer: &Value) -> Result<()> {
    for f in answer["findings"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let severity = f["severity"].as_str().and_then(|v| v.parse().ok()).unwrap_or(Severity::Warning);
        let title = format!("{} on {}: {}", i.label(), i.host.name(), f["title"].as_str().unwrap_or("(untitled)"));
        let said = f["details"].as_str().and_then(|d| serde_json::from_str::<Value>(d).ok()).unwrap_or(Value::Null);
        let details = json!({ "instance": i.label(), "host": i.host.name(), "analysed_there": said });
        s.add_finding(Finding { severity, title, details })?;
    }
    Ok(())
}

/// `dir/api-svc/2.analysis.json`, beside where the instance's dumps would be.
fn answer_path(dir: &Path, instance: &Instance) -> PathBuf {
    crate::fleet::snapshot::dump_path(dir, instance, 0).with_file_name(format!("{}.analysis.json", instance.index))
}

fn save(path: &Path, answer: &Value) -> std::result::Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let text = serde_json::to_vec(answer).map_err(|e| e.to_string())?;
    crate::paths::write_atomically(path, &text)
}

/// The latest class histogram in a saved answer (`deployclaw.heap-analysis/1`).
pub fn latest_histogram(path: &str) -> std::result::Result<Vec<ClassRow>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let answer: Value = serde_json::from_slice(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    if answer["format"] != "deployclaw.heap-analysis/1" {
        return Err(format!("{path}: not a heap analysis (deployclaw heap analyze --json)"));
    }
    let rows = answer["latest"]["rows"].as_array().ok_or_else(|| format!("{path}: no latest histogram"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(ClassRow {
                class: r["class"].as_str()?.to_string(),
                instances: r["instances"].as_u64().unwrap_or(0),
                shallow_bytes: r["shallow_bytes"].as_u64()?,
                largest: 0,
            })
        })
        .collect())
}
