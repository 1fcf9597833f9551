//! Leak suspects: dominator subtrees that hold a large share of the live heap, and where inside
//! each the memory accumulates (the object below which no single child holds most of it: the
//! collection that keeps growing). Across snapshots, the same accumulation point is found again
//! by the classes on its dominator path, so its growth can be measured.

use super::dominators::Children;
use super::graph::Graph;

/// A subtree holding more than the threshold share of the heap.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// The top-level dominator (its immediate dominator is the GC roots).
    pub object: u32,
    pub retained_bytes: u64,
    /// Of the live heap.
    pub share: f64,
    /// Where the memory accumulates inside the subtree.
    pub accumulation: u32,
    pub accumulation_retained: u64,
    /// Objects the accumulation point dominates directly.
    pub dominated: u64,
    /// The commonest types among them: (type, objects, retained bytes), by retained bytes.
    pub dominated_types: Vec<(String, u64, u64)>,
    /// Labels (types, or `class NAME`) on the dominator path from the roots to the accumulation point.
    pub signature: Vec<String>,
}

/// The share of its parent's retained size a child needs for the search to go on into it.
const DESCEND: f64 = 0.8;

/// Suspects holding at least `min_share` (0.10 = 10 %) of the live heap, largest first.
pub fn suspects(graph: &Graph, min_share: f64) -> Vec<Suspect> {
    let live = graph.live_bytes().max(1);
    let children = graph.dominator_children();
    let mut top: Vec<u32> = children.of(graph.root()).to_vec();
    top.retain(|&v| graph.retained(v) as f64 >= min_share * live as f64);
    top.sort_by_key(|&v| std::cmp::Reverse(graph.retained(v)));
    top.into_iter()
        .map(|object| {
            let accumulation = accumulation_point(graph, &children, object);
            let kids = children.of(accumulation);
            let mut types: Vec<(String, u64, u64)> = Vec::new();
            for &k in kids {
                let name = graph.type_name(k);
                match types.iter_mut().find(|t| t.0 == name) {
                    Some(t) => {
                        t.1 += 1;
                        t.2 += graph.retained(k);
                    }
                    None => types.push((name.to_string(), 1, graph.retained(k))),
                }
            }
            types.sort_by_key(|t| std::cmp::Reverse(t.2));
            types.truncate(3);
            Suspect {
                object,
                retained_bytes: graph.retained(object),
                share: graph.retained(object) as f64 / live as f64,
                accumulation,
                accumulation_retained: graph.retained(accumulation),
                dominated: kids.len() as u64,
                dominated_types: types,
                signature: signature(graph, accumulation),
            }
        })
        .collect()
}

fn accumulation_point(graph: &Graph, children: &Children, from: u32) -> u32 {
    let mut at = from;
    loop {
        let biggest = children.of(at).iter().copied().max_by_key(|&c| graph.retained(c));
        match biggest {
            Some(c) if graph.retained(c) as f64 >= DESCEND * graph.retained(at) as f64 => at = c,
            _ => return at,
        }
    }
}

/// The types on the dominator path from the roots down to `v`.
pub fn signature(graph: &Graph, v: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = Some(v);
    while let Some(x) = at {
        out.push(graph.label(x));
        at = graph.idom(x);
    }
    out.pop(); // the super-root
    out.reverse();
    out
}

/// The object in `graph` at the end of a dominator path of these types (at each level the
/// largest child of the named type), if there is one.
pub fn find(graph: &Graph, children: &Children, signature: &[String]) -> Option<u32> {
    let mut at = graph.root();
    for name in signature {
        at = children.of(at).iter().copied().filter(|&c| graph.label(c) == *name).max_by_key(|&c| graph.retained(c))?;
    }
    Some(at)
}

/// A suspect of the current dump next to the same accumulation point in the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    pub suspect: Suspect,
    /// Retained bytes of the same point in the baseline; 0 when the baseline has no such point.
    pub base_retained: u64,
    pub base_dominated: u64,
}

/// Match each suspect of the current dump with its accumulation point in `base`.
pub fn growth(base: &Graph, current: Vec<Suspect>) -> Vec<Growth> {
    let children = base.dominator_children();
    let mut out: Vec<Growth> = current
        .into_iter()
        .map(|suspect| {
            let found = find(base, &children, &suspect.signature);
            Growth {
                base_retained: found.map_or(0, |v| base.retained(v)),
                base_dominated: found.map_or(0, |v| children.of(v).len() as u64),
                suspect,
            }
        })
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.suspect.accumulation_retained as i128 - g.base_retained as i128));
    out
}
