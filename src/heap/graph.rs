//! The object graph of a dump, in compact arrays: objects are dense indexes in address order
//! (see [`IdIndex`]), references a compressed sparse row of `u32`s, and one extra vertex, the
//! super-root, points at every GC root. Built in four streaming passes (survey, ids, counts,
//! references) so nothing holds an object's contents; then dominators and retained sizes.
//!
//! Edges followed: instance reference fields except the `referent` of `java.lang.ref.Reference`
//! and its subclasses (weak, soft, phantom and finalizer references do not keep their referent
//! alive), object-array elements, a class's static fields, superclass and class loader, and an
//! instance's class when that class has a loader of its own (so a class loader kept alive only by
//! its objects is retained by them, as it is in the JVM). Roots: every root record except
//! objects waiting for finalization and the unreachable ones some dumps list.

use super::dominators;
use super::histogram::{IdMap, Survey, survey_file};
use super::hprof::{self, BasicType, ClassDump, RootKind, Visitor};
use super::index::IdIndex;
use super::slice::id_at;
use super::spill::Spill;
use super::{Error, Stamp, read_file_since};
use std::path::{Path, PathBuf};

/// No vertex: unreachable objects have no immediate dominator.
pub const NONE: u32 = u32::MAX;

/// Where a graph build is, for progress reports.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub pass: u32,
    pub passes: u32,
    pub name: &'static str,
    /// Bytes of the (decompressed) dump read in this pass (0 for the last, which reads nothing).
    pub done: u64,
}

/// Which object types there are: a class, an array class or a primitive array type.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub name: String,
    /// The class id in the dump (0 for primitive arrays).
    pub class_id: u64,
}

/// A dump's object graph with dominators and retained sizes.
pub struct Graph {
    pub path: PathBuf,
    /// The dump file as it was when the build began: later reads (fields, strings) check it.
    pub stamp: Stamp,
    pub survey: Survey,
    index: IdIndex,
    pub types: Vec<TypeInfo>,
    // The per-object arrays live in temporary files (see `Spill`): each phase of the build hands
    // back the ones it does not use, and queries bring back the pages they touch.
    type_of: Spill,
    shallow: Spill,
    /// Out-edges of vertex `v`: `edges[start[v]..start[v + 1]]`; vertex `len()` is the super-root.
    start: Spill,
    edges: Spill,
    /// Root objects and the first kind each is listed as, sorted by object.
    roots: Vec<(u32, RootKind)>,
    /// Immediate dominator per vertex ([`NONE`] when unreachable; the super-root's is itself).
    idom: Vec<u32>,
    retained: Vec<u64>,
}

/// Per class: how many instances, their shallow bytes, and what they retain together.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRetained {
    pub class: String,
    pub instances: u64,
    pub shallow_bytes: u64,
    /// Bytes freed if every instance of the class were gone.
    pub retained_bytes: u64,
}

impl Graph {
    /// Build the graph of the dump at `path`. A dump that cannot be read to its end is an error:
    /// dominators of part of a heap would be wrong, not just incomplete.
    pub fn build(path: &Path, progress: &mut dyn FnMut(Step) -> bool) -> Result<Graph, Error> {
        let name = path.display().to_string();
        let started = std::time::Instant::now();
        let phase =
            |what: &str| tracing::debug!("graph {name}: {what} done at {:.2} s", started.elapsed().as_secs_f64());
        let stamp = Stamp::of(path)?;
        let survey = survey_file(path, &mut step(progress, 1, "classes"))?;
        if let Some(problem) = &survey.partial {
            return Err(Error::Incomplete { path: name, problem: problem.clone() });
        }
        let shapes = Shapes::new(&survey);
        phase("pass 1 (classes)");

        let mut ids = Ids { index: IdIndex::new(8), aligned: true };
        read_file_since(path, &stamp, &mut ids, &mut step(progress, 2, "object ids"))?;
        if !ids.aligned {
            // Not a HotSpot dump: ids are not 8-byte addresses. Index every byte position.
            ids = Ids { index: IdIndex::new(1), aligned: true };
            read_file_since(path, &stamp, &mut ids, &mut step(progress, 2, "object ids"))?;
        }
        phase("pass 2 (ids)");
        let mut index = ids.index;
        index.freeze().map_err(|problem| Error::Incomplete { path: name.clone(), problem })?;
        let n = index.len() as usize;

        let mut roots: Vec<(u32, RootKind)> = survey
            .roots()
            .iter()
            .filter(|(kind, _)| !matches!(kind, RootKind::Finalizing | RootKind::Unreachable))
            .filter_map(|&(kind, id)| index.get(id).map(|v| (v, kind)))
            .collect();
        roots.sort_by_key(|r| r.0);
        roots.dedup_by_key(|r| r.0);

        let mut counts = Objects {
            survey: &survey,
            shapes: &shapes,
            index: &index,
            sink: Count { type_of: spill(&name, n)?, shallow: spill(&name, n)?, start: spill(&name, n + 2)? },
        };
        read_file_since(path, &stamp, &mut counts, &mut step(progress, 3, "objects"))?;
        phase("pass 3 (objects)");
        let Count { type_of, shallow, mut start } = counts.sink;
        // Not needed again until the retained sizes.
        type_of.release_all();
        shallow.release_all();
        start[n + 1] = roots.len() as u32;
        // start[v + 1] holds v's out-degree: sum them up so start[v] is v's first edge.
        let mut total: u64 = 0;
        for slot in start.iter_mut() {
            total += *slot as u64;
            *slot = total.min(u32::MAX as u64) as u32;
        }
        if total > u32::MAX as u64 {
            return Err(Error::Incomplete { path: name, problem: format!("{total} references: too many to index") });
        }
        let mut fill = Objects {
            survey: &survey,
            shapes: &shapes,
            index: &index,
            sink: Fill { next: start, edges: spill(&name, total as usize)?, overflowed: false },
        };
        read_file_since(path, &stamp, &mut fill, &mut step(progress, 4, "references"))?;
        let Fill { mut next, mut edges, overflowed: fill_overflowed } = fill.sink;
        for &(root, _) in &roots {
            edges[next[n] as usize] = root;
            next[n] += 1;
        }
        // Filling moved each vertex's cursor to the next one's first edge: shift back.
        next.copy_within(0..n + 1, 1);
        next[0] = 0;
        let start = next;

        phase("pass 4 (references)");
        // The last step reads nothing: it is announced once, with nothing done.
        if !progress(Step { pass: 5, passes: 5, name: "dominators", done: 0 }) {
            return Err(Error::Cancelled { path: name, offset: 0 });
        }
        let done_with_edges = || {
            start.release_all();
            edges.release_all();
        };
        let tree =
            dominators::dominators(&start, &edges, n as u32, &done_with_edges).map_err(|e| temp_error(&name, e))?;
        phase("dominators");
        let retained = dominators::retained(&tree, |v| if v as usize == n { 0 } else { shallow[v as usize] as u64 });
        phase("retained sizes");
        shallow.release_all();
        if fill_overflowed {
            return Err(Error::Changed { path: name, what: "it held more references when read again".into() });
        }
        Ok(Graph {
            path: path.to_path_buf(),
            stamp,
            survey,
            index,
            types: shapes.types,
            type_of,
            shallow,
            start,
            edges,
            roots,
            idom: tree.idom,
            retained,
        })
    }

    /// Objects in the dump (the super-root not counted).
    pub fn len(&self) -> u32 {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The super-root vertex.
    pub fn root(&self) -> u32 {
        self.len()
    }

    /// The vertex of an object id.
    pub fn vertex(&self, id: u64) -> Option<u32> {
        self.index.get(id)
    }

    /// The object id of a vertex (0 for the super-root).
    pub fn id(&self, v: u32) -> u64 {
        if v == self.root() { 0 } else { self.index.id(v) }
    }

    pub fn type_name(&self, v: u32) -> &str {
        if v == self.root() { "<GC roots>" } else { &self.types[self.type_of[v as usize] as usize].name }
    }

    /// What to call an object in a report: its type, or `class NAME` for a class object.
    pub fn label(&self, v: u32) -> String {
        match self.survey.classes().get(&self.id(v)) {
            Some(_) if v != self.root() => format!("class {}", self.survey.class_name(self.id(v))),
            _ => self.type_name(v).to_string(),
        }
    }

    pub fn shallow(&self, v: u32) -> u64 {
        if v == self.root() { 0 } else { self.shallow[v as usize] as u64 }
    }

    /// Bytes kept alive by `v` alone (0 when unreachable).
    pub fn retained(&self, v: u32) -> u64 {
        self.retained[v as usize]
    }

    /// Bytes reachable from the roots.
    pub fn live_bytes(&self) -> u64 {
        self.retained[self.root() as usize]
    }

    pub fn idom(&self, v: u32) -> Option<u32> {
        Some(self.idom[v as usize]).filter(|&d| d != NONE && v != self.root())
    }

    pub fn successors(&self, v: u32) -> &[u32] {
        &self.edges[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }

    /// How `v` is a GC root, if it is one.
    pub fn root_kind(&self, v: u32) -> Option<RootKind> {
        self.roots.binary_search_by_key(&v, |r| r.0).ok().map(|i| self.roots[i].1)
    }

    /// The objects `v` immediately dominates, largest retained first.
    pub fn dominated(&self, v: u32) -> Vec<u32> {
        let mut out: Vec<u32> = (0..self.len()).filter(|&w| self.idom[w as usize] == v).collect();
        out.sort_by_key(|&w| std::cmp::Reverse(self.retained[w as usize]));
        out
    }

    /// The dominator tree's children lists (built on each call: 8 bytes per object).
    pub fn dominator_children(&self) -> dominators::Children {
        dominators::children(&self.idom, self.root())
    }

    /// Vertices of objects whose type is one of `types`.
    pub fn instances_of(&self, types: &[u32]) -> Vec<u32> {
        (0..self.len()).filter(|&v| types.contains(&self.type_of[v as usize])).collect()
    }

    /// Per class: instances, shallow bytes and the bytes the instances retain together (an
    /// instance dominated by another instance of its class is counted once, in that one).
    pub fn retained_by_class(&self) -> Vec<ClassRetained> {
        let n = self.len() as usize;
        let children = self.dominator_children();
        let mut rows: Vec<ClassRetained> = self
            .types
            .iter()
            .map(|t| ClassRetained { class: t.name.clone(), instances: 0, shallow_bytes: 0, retained_bytes: 0 })
            .collect();
        // Depth-first over the dominator tree, counting per type how many ancestors are of it.
        let mut open = vec![0u32; self.types.len()];
        let mut stack: Vec<(u32, bool)> = vec![(self.root(), false)];
        while let Some((v, leaving)) = stack.pop() {
            let t = (v as usize != n).then(|| self.type_of[v as usize] as usize);
            if leaving {
                if let Some(t) = t {
                    open[t] -= 1;
                }
                continue;
            }
            if let Some(t) = t {
                let row = &mut rows[t];
                row.instances += 1;
                row.shallow_bytes += self.shallow(v);
                if open[t] == 0 {
                    row.retained_bytes += self.retained(v);
                }
                open[t] += 1;
            }
            stack.push((v, true));
            stack.extend(children.of(v).iter().map(|&c| (c, false)));
        }
        rows.retain(|r| r.instances > 0);
        rows.sort_by(|a, b| b.retained_bytes.cmp(&a.retained_bytes).then_with(|| a.class.cmp(&b.class)));
        rows
    }
}

/// A zeroed spilled array; the error says where the room was missing and what to do.
fn spill(name: &str, len: usize) -> Result<Spill, Error> {
    Spill::zeroed(len).map_err(|e| temp_error(name, e))
}

fn temp_error(name: &str, e: std::io::Error) -> Error {
    Error::Incomplete {
        path: name.to_string(),
        problem: format!(
            "cannot make its temporary files in {} ({e}); they take about 4 bytes per object and per \
             reference: point TMPDIR at a disk with room",
            std::env::temp_dir().display()
        ),
    }
}

/// The progress callback of one pass.
fn step<'a>(progress: &'a mut dyn FnMut(Step) -> bool, pass: u32, name: &'static str) -> impl FnMut(u64) -> bool + 'a {
    move |done| progress(Step { pass, passes: 5, name, done })
}

/// Types and the reference offsets of each class's instances, worked out once per class.
struct Shapes {
    types: Vec<TypeInfo>,
    /// Class id -> (type index, byte offsets of followed references, whether the class is followed).
    instances: IdMap<Shape>,
    /// Array class id -> type index.
    arrays: IdMap<u32>,
    /// Primitive array element -> type index.
    primitives: [u32; 9],
    mirror: u32,
}

struct Shape {
    type_index: u32,
    refs: Vec<u32>,
    /// The class has a loader of its own, so instances keep it alive.
    class_edge: bool,
}

impl Shapes {
    fn new(survey: &Survey) -> Shapes {
        let mut types = Vec::new();
        let mut add = |name: String, class_id: u64| {
            types.push(TypeInfo { name, class_id });
            types.len() as u32 - 1
        };
        let mirror = add("java.lang.Class".into(), survey.class_named("java.lang.Class").unwrap_or(0));
        let primitives = [
            BasicType::Object,
            BasicType::Boolean,
            BasicType::Char,
            BasicType::Float,
            BasicType::Double,
            BasicType::Byte,
            BasicType::Short,
            BasicType::Int,
            BasicType::Long,
        ]
        .map(|t| add(t.array_class_name().into(), 0));
        let reference = survey.class_named("java.lang.ref.Reference");
        // Looked up once: `class_named` reads every class, and this loop visits them all.
        let java_lang_class = survey.class_named("java.lang.Class");
        let mut class_ids: Vec<u64> = survey.classes().keys().copied().collect();
        class_ids.sort_unstable();
        let (mut instances, mut arrays) = (IdMap::default(), IdMap::default());
        for class_id in class_ids {
            let name = survey.class_name(class_id);
            if name.ends_with("[]") {
                arrays.insert(class_id, add(name, class_id));
                continue;
            }
            let class = &survey.classes()[&class_id];
            let weak = is_subclass(survey, class_id, reference);
            let mut refs = Vec::new();
            let mut offset = 0u32;
            for c in hprof::ancestry(class_id, |id| survey.classes().get(&id)) {
                for (field, t) in &c.fields {
                    if *t == BasicType::Object && !(weak && survey.name(*field) == Some("referent")) {
                        refs.push(offset);
                    }
                    offset = offset.saturating_add(t.dump_size(survey.id_size()));
                }
            }
            let type_index = if Some(class_id) == java_lang_class { mirror } else { add(name, class_id) };
            instances.insert(class_id, Shape { type_index, refs, class_edge: class.loader_id != 0 });
        }
        Shapes { types, instances, arrays, primitives, mirror }
    }
}

/// Whether `class_id` is `ancestor` or inherits from it.
pub fn is_subclass(survey: &Survey, class_id: u64, ancestor: Option<u64>) -> bool {
    let Some(ancestor) = ancestor else { return false };
    class_id == ancestor || hprof::ancestry(class_id, |id| survey.classes().get(&id)).any(|c| c.super_id == ancestor)
}

/// Pass 2: every object id.
struct Ids {
    index: IdIndex,
    aligned: bool,
}

impl Ids {
    fn add(&mut self, id: u64) {
        if self.aligned && !id.is_multiple_of(8) {
            self.aligned = false;
        }
        if self.aligned {
            self.index.insert(id);
        }
    }
}

impl Visitor for Ids {
    fn class_dump(&mut self, class: &ClassDump) {
        self.add(class.id);
    }
    fn instance(&mut self, id: u64, _: u64, _: u32, _: &[u8]) {
        self.add(id);
    }
    fn object_array(&mut self, id: u64, _: u64, _: u32, _: &[u8]) {
        self.add(id);
    }
    fn primitive_array(&mut self, id: u64, _: BasicType, _: u32, _: &[u8]) {
        self.add(id);
    }
}

/// What passes 3 and 4 do with each object and reference.
trait Sink {
    fn object(&mut self, v: u32, type_index: u32, shallow: u64);
    fn edge(&mut self, from: u32, to: u32);
}

struct Count {
    type_of: Spill,
    shallow: Spill,
    /// Out-degree of vertex v at v + 1.
    start: Spill,
}

impl Sink for Count {
    fn object(&mut self, v: u32, type_index: u32, shallow: u64) {
        self.type_of[v as usize] = type_index;
        self.shallow[v as usize] = shallow.min(u32::MAX as u64) as u32;
    }
    #[inline]
    fn edge(&mut self, from: u32, _to: u32) {
        self.start[from as usize + 1] += 1;
    }
}

struct Fill {
    /// Where vertex v's next edge goes.
    next: Spill,
    edges: Spill,
    /// More edges came than pass 3 counted: the file changed between the passes.
    overflowed: bool,
}

impl Sink for Fill {
    fn object(&mut self, _: u32, _: u32, _: u64) {}
    #[inline]
    fn edge(&mut self, from: u32, to: u32) {
        let at = &mut self.next[from as usize];
        match self.edges.get_mut(*at as usize) {
            Some(slot) => {
                *slot = to;
                *at += 1;
            }
            None => self.overflowed = true,
        }
    }
}

/// Passes 3 and 4: each object's type, size and resolved references, handed to a sink.
struct Objects<'a, S: Sink> {
    survey: &'a Survey,
    shapes: &'a Shapes,
    index: &'a IdIndex,
    sink: S,
}

impl<S: Sink> Objects<'_, S> {
    #[inline]
    fn reference(&mut self, from: u32, target: u64) {
        if target != 0
            && let Some(to) = self.index.get(target)
        {
            self.sink.edge(from, to);
        }
    }

    fn vertex(&self, id: u64) -> Option<u32> {
        self.index.get(id)
    }
}

impl<S: Sink> Visitor for Objects<'_, S> {
    fn wants_contents(&self) -> bool {
        true
    }
    fn class_dump(&mut self, class: &ClassDump) {
        let Some(v) = self.vertex(class.id) else { return };
        self.sink.object(v, self.shapes.mirror, self.survey.mirror_size(class));
        self.reference(v, class.super_id);
        self.reference(v, class.loader_id);
        for &(_, target) in &class.static_refs {
            self.reference(v, target);
        }
    }
    fn instance(&mut self, id: u64, class_id: u64, _size: u32, fields: &[u8]) {
        let Some(v) = self.vertex(id) else { return };
        let id_size = self.survey.id_size() as usize;
        let shapes = self.shapes;
        let Some(shape) = shapes.instances.get(&class_id) else {
            // A class the dump never described: count the object, follow nothing.
            self.sink.object(v, self.shapes.mirror, self.survey.instance_size(class_id));
            return;
        };
        self.sink.object(v, shape.type_index, self.survey.instance_size(class_id));
        for &at in &shape.refs {
            let at = at as usize;
            if at + id_size <= fields.len() {
                self.reference(v, id_at(fields, at, id_size));
            }
        }
        if shape.class_edge {
            self.reference(v, class_id);
        }
    }
    fn object_array(&mut self, id: u64, class_id: u64, length: u32, elements: &[u8]) {
        let Some(v) = self.vertex(id) else { return };
        let type_index = self.shapes.arrays.get(&class_id).copied().unwrap_or(self.shapes.primitives[0]);
        self.sink.object(v, type_index, self.survey.array_size(length as u64, 0));
        let id_size = self.survey.id_size() as usize;
        for at in (0..elements.len()).step_by(id_size) {
            self.reference(v, id_at(elements, at, id_size));
        }
    }
    fn primitive_array(&mut self, id: u64, element: BasicType, length: u32, _data: &[u8]) {
        let Some(v) = self.vertex(id) else { return };
        let size = self.survey.array_size(length as u64, element.dump_size(8) as u64);
        self.sink.object(v, self.shapes.primitives[element as usize], size);
    }
}
