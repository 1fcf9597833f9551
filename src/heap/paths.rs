//! Shortest paths from the GC roots to objects, with the field or array slot of each hop. The
//! graph leaves out weak, soft, phantom and finalizer referents, so a path found here is a
//! strong one: it is what keeps the object alive.

use super::Error;
use super::fetch::{self, Contents};
use super::graph::{Graph, NONE};
use super::hprof::RootKind;
use std::collections::{HashSet, VecDeque};

/// One object on a path.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub object: u64,
    pub class: String,
    /// How this object refers to the next hop: a field name, `[index]`, or `<class>`,
    /// `<loader>`, `<super>`, `static NAME` for a class's own references; `None` on the last hop.
    pub via: Option<String>,
    pub shallow_bytes: u64,
    pub retained_bytes: u64,
}

/// A path from a GC root (the first hop) to an object (the last).
#[derive(Debug, Clone, PartialEq)]
pub struct RootPath {
    pub root_kind: RootKind,
    pub hops: Vec<Hop>,
}

/// Shortest strong paths from the roots to each of `targets` (`None` for unreachable ones),
/// naming each hop's field with one more pass over the dump.
pub fn paths_to_roots(graph: &Graph, targets: &[u32]) -> Result<Vec<Option<RootPath>>, Error> {
    let chains = shortest(graph, targets);
    let wanted: HashSet<u64> =
        chains.iter().flatten().flat_map(|c| c.iter().rev().skip(1)).map(|&v| graph.id(v)).collect();
    let contents = fetch::fetch(&graph.path, &graph.stamp, &wanted)?;
    Ok(chains
        .into_iter()
        .map(|chain| {
            let chain = chain?;
            let root_kind = graph.root_kind(chain[0]).unwrap_or(RootKind::Unknown);
            let hops = chain
                .iter()
                .enumerate()
                .map(|(i, &v)| Hop {
                    object: graph.id(v),
                    class: graph.label(v),
                    via: chain.get(i + 1).map(|&next| via(graph, v, next, contents.get(&graph.id(v)))),
                    shallow_bytes: graph.shallow(v),
                    retained_bytes: graph.retained(v),
                })
                .collect();
            Some(RootPath { root_kind, hops })
        })
        .collect())
}

/// Breadth-first from the super-root until every target is found: vertex chains, root first.
fn shortest(graph: &Graph, targets: &[u32]) -> Vec<Option<Vec<u32>>> {
    let mut parent = vec![NONE; graph.len() as usize + 1];
    let mut left: HashSet<u32> = targets.iter().copied().collect();
    let root = graph.root();
    parent[root as usize] = root;
    let mut queue = VecDeque::from([root]);
    while let Some(v) = queue.pop_front() {
        if left.is_empty() {
            break;
        }
        for &w in graph.successors(v) {
            if parent[w as usize] == NONE {
                parent[w as usize] = v;
                left.remove(&w);
                queue.push_back(w);
            }
        }
    }
    targets
        .iter()
        .map(|&t| {
            if parent[t as usize] == NONE || t == root {
                return None;
            }
            let mut chain = vec![t];
            let mut v = t;
            while parent[v as usize] != root {
                v = parent[v as usize];
                chain.push(v);
            }
            chain.reverse();
            Some(chain)
        })
        .collect()
}

/// How `from` refers to `to`.
fn via(graph: &Graph, from: u32, to: u32, contents: Option<&Contents>) -> String {
    let target = graph.id(to);
    let survey = &graph.survey;
    if let Some(class) = survey.classes().get(&graph.id(from)) {
        if let Some((name, _)) = class.static_refs.iter().find(|(_, t)| *t == target) {
            return format!("static {}", survey.name(*name).unwrap_or("?"));
        }
        return if class.super_id == target { "<super>" } else { "<loader>" }.to_string();
    }
    match contents {
        Some(Contents::Instance { class_id, fields }) => {
            let id_size = survey.id_size() as usize;
            let named = fetch::field_layout(survey, *class_id).into_iter().find(|(_, _, t, at)| {
                *t == super::hprof::BasicType::Object
                    && fields.get(*at..*at + id_size).is_some_and(|b| super::hprof::read_id(b) == target)
            });
            match named {
                Some((_, name, _, _)) => name,
                None if *class_id == target => "<class>".to_string(),
                None => "?".to_string(),
            }
        }
        Some(Contents::ObjectArray { elements, .. }) => {
            elements.iter().position(|&e| e == target).map_or("?".to_string(), |i| format!("[{i}]"))
        }
        _ => "?".to_string(),
    }
}

/// A path as one line: `LeakSim (static REGISTRY) -> java.util.LinkedHashMap (table) -> ...`.
pub fn describe(path: &RootPath) -> String {
    // From the last static field on the way, where there is one: what comes before it is how
    // its class stays loaded (`LauncherHelper.appClass`, class loaders), not what holds the data.
    let anchor = path
        .hops
        .iter()
        .rposition(|h| h.class.starts_with("class ") && h.via.as_deref().is_some_and(|v| v.starts_with("static ")));
    let hops = path.hops[anchor.unwrap_or(0)..]
        .iter()
        .map(|h| match &h.via {
            Some(via) => format!("{} ({via})", h.class),
            None => h.class.clone(),
        })
        .collect::<Vec<_>>()
        .join(" -> ");
    match root_holder(path.root_kind) {
        Some(holder) if anchor.is_none() => format!("{holder}: {hops}"),
        _ => hops,
    }
}

/// What holds a root whose first hop does not say it itself (a class's static field does).
fn root_holder(kind: RootKind) -> Option<&'static str> {
    Some(match kind {
        RootKind::JavaFrame => "a local variable of a running method",
        RootKind::NativeStack => "a native stack",
        RootKind::JniGlobal => "a JNI global reference",
        RootKind::JniLocal => "a JNI local reference",
        RootKind::ThreadObject => "a live thread",
        RootKind::ThreadBlock => "a thread block",
        RootKind::MonitorUsed => "a held monitor",
        RootKind::Finalizing => "the finalizer queue",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(class: &str, via: Option<&str>) -> Hop {
        Hop { object: 1, class: class.into(), via: via.map(String::from), shallow_bytes: 0, retained_bytes: 0 }
    }

    #[test]
    fn a_description_starts_at_the_static_field_that_holds_the_data() {
        let hops = vec![
            hop("class sun.launcher.LauncherHelper", Some("static appClass")),
            hop("class App", Some("static REGISTRY")),
            hop("java.util.HashMap", Some("table")),
            hop("java.util.HashMap$Node[]", None),
        ];
        let path = RootPath { root_kind: RootKind::StickyClass, hops };
        assert_eq!(
            describe(&path),
            "class App (static REGISTRY) -> java.util.HashMap (table) -> java.util.HashMap$Node[]"
        );

        // A local variable holds it: said, since the first hop does not say it.
        let path = RootPath {
            root_kind: RootKind::JavaFrame,
            hops: vec![hop("App$Tenant", Some("sessions")), hop("java.util.HashMap", None)],
        };
        assert_eq!(describe(&path), "a local variable of a running method: App$Tenant (sessions) -> java.util.HashMap");
        assert_eq!(describe(&RootPath { root_kind: RootKind::Unknown, hops: vec![] }), "");
    }
}
