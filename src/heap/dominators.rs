//! Immediate dominators by Semi-NCA (Georgiadis' variant of Lengauer-Tarjan: semidominators
//! with path compression, then each idom as the nearest common ancestor on the DFS tree). Runs
//! in near-linear time on heap graphs, without recursion, in a handful of `u32` arrays; those
//! that are written or read in order (the preorder and the tree parents) live in [`Spill`]s and
//! are handed back to the kernel behind the sweep, so a phase holds little more than it uses.

use super::spill::Spill;

/// Elements swept between hand-backs of a spilled array.
const SWEEP: usize = 1 << 20;

/// No vertex.
pub const NONE: u32 = u32::MAX;

/// Immediate dominators of a graph's vertices.
pub struct Tree {
    /// Per vertex: its immediate dominator; the root's is itself; unreachable vertices [`NONE`].
    pub idom: Vec<u32>,
    /// Reachable vertices in depth-first preorder (a dominator always comes before what it dominates).
    pub order: Spill,
}

/// Dominators of the graph whose out-edges of vertex `v` are `edges[start[v]..start[v + 1]]`,
/// from `root`. `done_with_edges` is called once the edges are no longer needed, so their memory
/// can be handed back. Fails only when the temporary files for the arrays cannot be made.
pub fn dominators(start: &[u32], edges: &[u32], root: u32, done_with_edges: &dyn Fn()) -> std::io::Result<Tree> {
    let n = start.len() - 1;
    let succ = |v: u32| &edges[start[v as usize] as usize..start[v as usize + 1] as usize];

    // Depth-first preorder numbers; parent[p] is the preorder number of p's tree parent.
    let mut number = vec![NONE; n];
    let mut order = Spill::zeroed(n)?;
    let mut parent = Spill::zeroed(n)?;
    let mut stack: Vec<(u32, u32)> = vec![(root, start[root as usize])];
    number[root as usize] = 0;
    order[0] = root;
    parent[0] = 0;
    let mut m = 1usize;
    while let Some(top) = stack.last_mut() {
        let (v, at) = *top;
        if at == start[v as usize + 1] {
            stack.pop();
            continue;
        }
        top.1 += 1;
        let w = edges[at as usize];
        if number[w as usize] == NONE {
            number[w as usize] = m as u32;
            parent[m] = number[v as usize];
            order[m] = w;
            m += 1;
            stack.push((w, start[w as usize]));
            if m.is_multiple_of(SWEEP) {
                // Written, not read again until the sweeps below.
                order.release(0..m);
                parent.release(0..m);
            }
        }
    }
    drop(stack);
    parent.release_all();

    // Predecessors, in preorder numbers, kept only for vertices with two or more: most heap
    // objects have one referrer, their tree parent, which is then their semidominator too.
    let words = m.div_ceil(64);
    // Every edge between reachable vertices as (source, target) in preorder numbers, sources in
    // preorder; the preorder array is handed back behind the sweep.
    let each_edge = |f: &mut dyn FnMut(usize, usize)| {
        for (p, &v) in order[..m].iter().enumerate() {
            if p.is_multiple_of(SWEEP) {
                order.release(0..p);
            }
            for &w in succ(v) {
                f(p, number[w as usize] as usize);
            }
        }
    };
    let (mut once, mut twice) = (vec![0u64; words], vec![0u64; words]);
    each_edge(&mut |_, q| {
        let bit = 1u64 << (q % 64);
        if once[q / 64] & bit != 0 {
            twice[q / 64] |= bit;
        }
        once[q / 64] |= bit;
    });
    drop(once);
    // rank[i]: vertices with several predecessors before word i of `twice`.
    let mut rank = Vec::with_capacity(words + 1);
    let mut total = 0u32;
    for word in &twice {
        rank.push(total);
        total += word.count_ones();
    }
    rank.push(total);
    let several = |q: usize| twice[q / 64] & (1u64 << (q % 64)) != 0;
    let slot_of = |q: usize| (rank[q / 64] + (twice[q / 64] & ((1u64 << (q % 64)) - 1)).count_ones()) as usize;
    // Count, sum to each list's end, then fill backwards so each end walks down to its start.
    let mut pred_start = vec![0u32; total as usize + 1];
    each_edge(&mut |_, q| {
        if several(q) {
            pred_start[slot_of(q)] += 1;
        }
    });
    for i in 1..pred_start.len() {
        pred_start[i] += pred_start[i - 1];
    }
    let mut preds = vec![0u32; pred_start[total as usize] as usize];
    each_edge(&mut |p, q| {
        if several(q) {
            let slot = &mut pred_start[slot_of(q)];
            *slot -= 1;
            preds[*slot as usize] = p as u32;
        }
    });

    // Semidominators, vertices in reverse preorder. `ancestor` is the forest of processed
    // vertices, compressed as it is searched; `label` the vertex of least semidominator on the
    // compressed path.
    // Everything below works in preorder numbers: the vertex numbering is rebuilt at the end.
    drop(number);
    done_with_edges();
    order.release_all();
    let mut semi: Vec<u32> = (0..m as u32).collect();
    let mut label: Vec<u32> = (0..m as u32).collect();
    let mut ancestor = parent[..m].to_vec();
    let mut path: Vec<u32> = Vec::new();
    for w in (1..m).rev() {
        let mut s = parent[w];
        if !several(w) {
            semi[w] = s;
            continue;
        }
        let at = slot_of(w);
        for &v in &preds[pred_start[at] as usize..pred_start[at + 1] as usize] {
            let u = eval(v, w as u32 + 1, &mut ancestor, &mut label, &semi, &mut path);
            s = s.min(semi[u as usize]);
        }
        semi[w] = s;
    }
    drop((preds, pred_start, ancestor, label, path, rank, twice));

    // Each idom is the nearest ancestor of the tree parent at or above the semidominator.
    let mut idom = parent;
    for w in 1..m {
        let mut d = idom[w];
        while d > semi[w] {
            d = idom[d as usize];
        }
        idom[w] = d;
    }
    drop(semi);

    let mut by_vertex = vec![NONE; n];
    for p in 0..m {
        by_vertex[order[p] as usize] = order[idom[p] as usize];
    }
    drop(idom);
    // Only the reachable part is the preorder.
    let mut reachable = Spill::zeroed(m)?;
    reachable.copy_from_slice(&order[..m]);
    drop(order);
    reachable.release_all();
    Ok(Tree { idom: by_vertex, order: reachable })
}

/// The vertex of least semidominator on the path from `v` up the processed forest, compressing
/// the path on the way. Vertices numbered below `linked` are not processed yet.
fn eval(v: u32, linked: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] < linked {
        return label[v as usize];
    }
    let mut x = v;
    while ancestor[x as usize] >= linked {
        path.push(x);
        x = ancestor[x as usize];
    }
    // `x` is the top of the path: its ancestor is not processed. Walk back down.
    let mut top = x;
    let mut top_label = label[x as usize];
    while let Some(y) = path.pop() {
        ancestor[y as usize] = ancestor[top as usize];
        let y_label = label[y as usize];
        if semi[top_label as usize] < semi[y_label as usize] {
            label[y as usize] = top_label;
        } else {
            top_label = y_label;
        }
        top = y;
    }
    label[v as usize]
}

/// Retained size per vertex: its own size plus what everything it dominates retains.
pub fn retained(tree: &Tree, size: impl Fn(u32) -> u64) -> Vec<u64> {
    let mut out = vec![0u64; tree.idom.len()];
    for (p, &v) in tree.order.iter().enumerate() {
        if p.is_multiple_of(SWEEP) {
            tree.order.release(0..p);
        }
        out[v as usize] = size(v);
    }
    let m = tree.order.len();
    for (back, &v) in tree.order.iter().skip(1).rev().enumerate() {
        if back.is_multiple_of(SWEEP) {
            tree.order.release(m - back..m);
        }
        let d = tree.idom[v as usize] as usize;
        out[d] += out[v as usize];
    }
    out
}

/// The dominator tree's children lists.
pub struct Children {
    start: Vec<u32>,
    list: Vec<u32>,
}

impl Children {
    pub fn of(&self, v: u32) -> &[u32] {
        &self.list[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }
}

pub fn children(idom: &[u32], root: u32) -> Children {
    let n = idom.len();
    let mut start = vec![0u32; n + 1];
    for (v, &d) in idom.iter().enumerate() {
        if d != NONE && v as u32 != root {
            start[d as usize + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut list = vec![0u32; start[n] as usize];
    let mut next = start.clone();
    for (v, &d) in idom.iter().enumerate() {
        if d != NONE && v as u32 != root {
            list[next[d as usize] as usize] = v as u32;
            next[d as usize] += 1;
        }
    }
    Children { start, list }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(n: usize, edges: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let mut start = vec![0u32; n + 1];
        for &(a, _) in edges {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut list = vec![0; edges.len()];
        for &(a, b) in edges {
            list[next[a as usize] as usize] = b;
            next[a as usize] += 1;
        }
        (start, list)
    }

    /// Dominators by definition: d dominates v when v is unreachable from the root with d removed.
    fn brute_force(n: usize, edges: &[(u32, u32)], root: u32) -> Vec<u32> {
        let reach = |removed: Option<u32>| {
            let mut seen = vec![false; n];
            let mut stack = vec![root];
            if removed == Some(root) {
                return seen;
            }
            seen[root as usize] = true;
            while let Some(v) = stack.pop() {
                for &(a, b) in edges {
                    if a == v && Some(b) != removed && !seen[b as usize] {
                        seen[b as usize] = true;
                        stack.push(b);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        let dominated_by: Vec<Vec<bool>> = (0..n as u32).map(|d| reach(Some(d))).collect();
        (0..n)
            .map(|v| {
                if !all[v] {
                    return NONE;
                }
                if v as u32 == root {
                    return root;
                }
                // The idom is the strict dominator that every other strict dominator dominates:
                // the one with the most strict dominators of its own.
                let doms: Vec<u32> = (0..n as u32).filter(|&d| d != v as u32 && !dominated_by[d as usize][v]).collect();
                let count = |d: u32| (0..n as u32).filter(|&e| e != d && !dominated_by[e as usize][d as usize]).count();
                *doms.iter().max_by_key(|&&d| count(d)).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_lengauer_tarjan_paper_example() {
        // R=0 A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9 J=10 K=11 L=12
        let e = [
            (0, 1),
            (0, 2),
            (0, 3),
            (1, 4),
            (2, 1),
            (2, 4),
            (2, 5),
            (3, 6),
            (3, 7),
            (4, 12),
            (5, 8),
            (6, 9),
            (7, 9),
            (7, 10),
            (8, 5),
            (8, 11),
            (9, 11),
            (10, 9),
            (11, 9),
            (11, 0),
            (12, 8),
        ];
        let (start, edges) = csr(13, &e);
        let tree = dominators(&start, &edges, 0, &|| {}).unwrap();
        assert_eq!(tree.idom, vec![0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 7, 0, 4]);
        assert_eq!(tree.idom, brute_force(13, &e, 0));
    }

    #[test]
    fn random_graphs_match_the_definition() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for round in 0..300 {
            let n = 2 + next(14) as usize;
            let m = next(3 * n as u64) as usize;
            let e: Vec<(u32, u32)> = (0..m).map(|_| (next(n as u64) as u32, next(n as u64) as u32)).collect();
            let (start, edges) = csr(n, &e);
            let tree = dominators(&start, &edges, 0, &|| {}).unwrap();
            assert_eq!(tree.idom, brute_force(n, &e, 0), "round {round}: {e:?}");
        }
    }

    #[test]
    fn retained_sizes_sum_up_the_dominator_tree() {
        // 0 -> 1 -> {2, 3}; 3 -> 4; 2 -> 4 (so 4 is dominated by 1, not 3); 5 unreachable.
        let e = [(0, 1), (1, 2), (1, 3), (3, 4), (2, 4)];
        let (start, edges) = csr(6, &e);
        let tree = dominators(&start, &edges, 0, &|| {}).unwrap();
        let sizes = [0, 10, 20, 30, 40, 50];
        let retained = retained(&tree, |v| sizes[v as usize]);
        assert_eq!(retained, vec![100, 100, 20, 30, 40, 0]);
        let kids = children(&tree.idom, 0);
        let mut of1 = kids.of(1).to_vec();
        of1.sort_unstable();
        assert_eq!(of1, vec![2, 3, 4]);
        assert!(kids.of(5).is_empty());
    }

    #[test]
    fn a_long_chain_needs_no_recursion() {
        let n = 1_000_000u32;
        let e: Vec<(u32, u32)> = (0..n - 1).map(|v| (v, v + 1)).chain([(n - 1, 1)]).collect();
        let (start, edges) = csr(n as usize, &e);
        let tree = dominators(&start, &edges, 0, &|| {}).unwrap();
        assert_eq!(tree.idom[n as usize - 1], n - 2);
        assert_eq!(tree.idom[1], 0);
    }
}
