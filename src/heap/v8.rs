//! V8 heap snapshots (`.heapsnapshot`, from Node's `v8.writeHeapSnapshot()` or Chrome DevTools):
//! a class histogram grouped as DevTools' Summary view groups it, and the diff of two snapshots
//! of one process by V8's stable node ids (DevTools' Comparison view: what was allocated and
//! what was freed between them, per constructor).

use super::histogram::{ClassRow, IdMap};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a V8 heap snapshot: {problem}")]
    Format { path: String, problem: String },
}

#[derive(Deserialize)]
struct Raw {
    snapshot: RawSnapshot,
    nodes: Vec<u64>,
    strings: Vec<String>,
}

#[derive(Deserialize)]
struct RawSnapshot {
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    node_fields: Vec<String>,
    /// The first entry lists the node type names.
    node_types: Vec<serde_json::Value>,
}

/// One node of a snapshot, as far as histograms need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: u64,
    /// The group DevTools shows it under: a constructor name, or `(string)`, `(array)`, ...
    pub class: String,
    pub self_size: u64,
}

/// A snapshot's nodes.
pub struct Snapshot {
    pub nodes: Vec<Node>,
}

/// Read a snapshot file.
pub fn read(path: &Path) -> Result<Snapshot, Error> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: name.clone(), source })?;
    let raw: Raw = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|e| Error::Format { path: name.clone(), problem: e.to_string() })?;
    let format = |problem: String| Error::Format { path: name.clone(), problem };
    let field = |f: &str| {
        raw.snapshot.meta.node_fields.iter().position(|x| x == f).ok_or_else(|| format(format!("no node field {f:?}")))
    };
    let (type_at, name_at, id_at, size_at) = (field("type")?, field("name")?, field("id")?, field("self_size")?);
    let width = raw.snapshot.meta.node_fields.len();
    if width == 0 || !raw.nodes.len().is_multiple_of(width) {
        return Err(format(format!("{} node values are not a multiple of {width} fields", raw.nodes.len())));
    }
    let types: Vec<String> = raw
        .snapshot
        .meta
        .node_types
        .first()
        .and_then(|t| t.as_array())
        .map(|t| t.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect())
        .ok_or_else(|| format("no node type names".into()))?;
    let mut nodes = Vec::with_capacity(raw.nodes.len() / width);
    for node in raw.nodes.chunks_exact(width) {
        let kind = types.get(node[type_at] as usize).map_or("", String::as_str);
        let name = raw.strings.get(node[name_at] as usize).map_or("", String::as_str);
        let Some(class) = group(kind, name) else { continue };
        nodes.push(Node { id: node[id_at], class, self_size: node[size_at] });
    }
    Ok(Snapshot { nodes })
}

/// The DevTools Summary group of a node; `None` for the synthetic roots, which hold no memory.
fn group(kind: &str, name: &str) -> Option<String> {
    Some(match kind {
        "synthetic" => return None,
        "object" | "native" => name.to_string(),
        "string" | "concatenated string" | "sliced string" => "(string)".into(),
        "closure" => "(closure)".into(),
        "code" => "(compiled code)".into(),
        "hidden" => "(system)".into(),
        "array" => "(array)".into(),
        "regexp" => "RegExp".into(),
        "number" => "(number)".into(),
        other => format!("({other})"),
    })
}

/// Class histogram rows, largest first.
pub fn histogram(snapshot: &Snapshot) -> Vec<ClassRow> {
    let mut by: HashMap<&str, ClassRow> = HashMap::new();
    for n in &snapshot.nodes {
        let row = by.entry(&n.class).or_insert_with(|| ClassRow {
            class: n.class.clone(),
            instances: 0,
            shallow_bytes: 0,
            largest: 0,
        });
        row.instances += 1;
        row.shallow_bytes += n.self_size;
        row.largest = row.largest.max(n.self_size);
    }
    let mut rows: Vec<ClassRow> = by.into_values().collect();
    rows.sort_by(|a, b| b.shallow_bytes.cmp(&a.shallow_bytes).then_with(|| a.class.cmp(&b.class)));
    rows
}

/// One group's change between two snapshots of the same process.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub class: String,
    /// Nodes whose ids are only in the later snapshot, and their bytes.
    pub allocated: u64,
    pub allocated_bytes: u64,
    /// Nodes whose ids are only in the earlier snapshot.
    pub freed: u64,
    pub freed_bytes: u64,
}

impl Change {
    pub fn delta_bytes(&self) -> i64 {
        self.allocated_bytes as i64 - self.freed_bytes as i64
    }
}

/// What was allocated and freed between `base` and `current`, per group, largest growth first.
pub fn diff(base: &Snapshot, current: &Snapshot) -> Vec<Change> {
    let before: IdMap<()> = base.nodes.iter().map(|n| (n.id, ())).collect();
    let after: IdMap<()> = current.nodes.iter().map(|n| (n.id, ())).collect();
    let mut by: HashMap<String, Change> = HashMap::new();
    for n in current.nodes.iter().filter(|n| !before.contains_key(&n.id)) {
        let c = change(&mut by, &n.class);
        c.allocated += 1;
        c.allocated_bytes += n.self_size;
    }
    for n in base.nodes.iter().filter(|n| !after.contains_key(&n.id)) {
        let c = change(&mut by, &n.class);
        c.freed += 1;
        c.freed_bytes += n.self_size;
    }
    let mut out: Vec<Change> = by.into_values().collect();
    out.sort_by(|a, b| b.delta_bytes().cmp(&a.delta_bytes()).then_with(|| a.class.cmp(&b.class)));
    out
}

fn change<'a>(by: &'a mut HashMap<String, Change>, class: &str) -> &'a mut Change {
    by.entry(class.to_string()).or_insert_with(|| Change {
        class: class.to_string(),
        allocated: 0,
        allocated_bytes: 0,
        freed: 0,
        freed_bytes: 0,
    })
}

/// Whether a file looks like a V8 snapshot (JSON) rather than HPROF.
pub fn is_snapshot(path: &Path) -> bool {
    use std::io::Read;
    // Only regular files are peeked at: a pipe would lose what is read here.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Two snapshots of one process, in the format Node writes: 100 `Session` objects (with their
/// id strings) in the first; in the second, sessions 0-9 freed and 50 new ones (ids kept stable).
pub fn demo_snapshots() -> (String, String) {
    let write = |sessions: &[u64]| {
        let mut nodes: Vec<u64> = vec![9, 0, 1, 0, 0, 0, 0];
        for &s in sessions {
            // object Session, then its string: type, name, id, self_size, edge_count, trace, detachedness
            nodes.extend([3, 1, 1000 + 2 * s, 32, 0, 0, 0]);
            nodes.extend([2, 2, 1001 + 2 * s, 24, 0, 0, 0]);
        }
        serde_json::json!({
            "snapshot": {
                "meta": {
                    "node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
                    "node_types": [["hidden", "array", "string", "object", "code", "closure", "regexp", "number",
                                    "native", "synthetic", "concatenated string", "sliced string", "symbol",
                                    "bigint", "object shape"], "string", "number", "number", "number", "number", "number"],
                    "edge_fields": ["type", "name_or_index", "to_node"],
                    "edge_types": [["context", "element", "property", "internal", "hidden", "shortcut", "weak"],
                                   "string_or_number", "node"]
                },
                "node_count": nodes.len() / 7,
                "edge_count": 0
            },
            "nodes": nodes,
            "edges": [],
            "strings": ["(GC roots)", "Session", "session-id"]
        })
        .to_string()
    };
    let base: Vec<u64> = (0..100).collect();
    let current: Vec<u64> = (10..150).collect();
    (write(&base), write(&current))
}
