//! The class histogram of a dump, with the JVM's real shallow sizes.
//!
//! HPROF records references at the dump's id size (8 bytes) whatever the JVM used, so sizes
//! computed from the dump alone overstate compressed-oops heaps. Instead the object layout is
//! inferred from the dump: the dump lists objects in address order and its object ids are their
//! addresses, so the distance from one object to the next is (after the full GC that precedes a
//! dump) the first object's size. Arrays, whose size is a formula of their length, pick the
//! layout (compressed oops, compressed class pointers); instances take the smallest distance
//! seen after any instance of their class, when the heap was compacted before the dump (every
//! collector but ZGC and Shenandoah), else HotSpot's field layout of the class.

use super::Error;
use super::hprof::{self, BasicType, ClassDump, Visitor};
use super::layout::{Field, Layout};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::Path;

/// Object and class ids are addresses: one multiply spreads them well enough, and hashing is
/// on the per-object path, where SipHash's cost shows.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = (id ^ (id >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// One row of the histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRow {
    /// Java name: `java.lang.String`, `byte[]`, `java.lang.Object[]`.
    pub class: String,
    pub instances: u64,
    /// Total shallow bytes, as the JVM counts them.
    pub shallow_bytes: u64,
    /// Shallow bytes of the largest instance.
    pub largest: u64,
}

/// A dump's class histogram.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Rows sorted by shallow bytes, largest first.
    pub rows: Vec<ClassRow>,
    pub layout: Layout,
    /// Set when the sizes rest on an assumption: what was assumed and what it may cost.
    pub layout_note: Option<String>,
    /// Set when the dump could not be read to its end: the rows count only what was read.
    pub partial: Option<String>,
}

impl Histogram {
    pub fn total_instances(&self) -> u64 {
        self.rows.iter().map(|r| r.instances).sum()
    }

    pub fn total_bytes(&self) -> u64 {
        self.rows.iter().map(|r| r.shallow_bytes).sum()
    }
}

/// What one class's instances look like so far.
#[derive(Default)]
struct Instances {
    count: u64,
    /// Smallest address distance to the next object seen after one of them.
    min_gap: Option<u64>,
}

/// Arrays of one class (or primitive type), sized under every candidate layout at once.
#[derive(Default)]
struct Arrays {
    count: u64,
    bytes: [u64; Layout::CANDIDATES.len()],
    largest: [u64; Layout::CANDIDATES.len()],
}

#[derive(Clone, Copy)]
enum Last {
    /// Index into `Census::instances`.
    Instance(usize),
    /// An array's size under each candidate layout.
    Array([u64; Layout::CANDIDATES.len()]),
}

#[derive(Default)]
struct Census {
    names: IdMap<Box<str>>,
    class_names: IdMap<u64>,
    classes: IdMap<ClassDump>,
    /// Class id -> index into `instances`.
    instance_index: IdMap<usize>,
    instances: Vec<(u64, Instances)>,
    /// (class id, index into `instances`) of recently seen classes, by a hash of the id. Empty
    /// slots are None: any u64, u64::MAX included, can be a class id in a dump.
    recent: Vec<Option<(u64, usize)>>,
    object_arrays: IdMap<Arrays>,
    /// Indexed by element type.
    primitive_arrays: [(Option<BasicType>, Arrays); 9],
    layout_votes: [u64; Layout::CANDIDATES.len()],
    /// Arrays followed by another object near enough to measure.
    arrays_measured: u64,
    /// An object id (its address) that is not a multiple of 16: the alignment is 8.
    unaligned_to_16: bool,
    roots: Vec<(hprof::RootKind, u64)>,
    id_size: u32,
    last_id: u64,
    last: Option<Last>,
}

impl Arrays {
    fn merge(&mut self, other: &Arrays) {
        self.count += other.count;
        for k in 0..Layout::CANDIDATES.len() {
            self.bytes[k] += other.bytes[k];
            self.largest[k] = self.largest[k].max(other.largest[k]);
        }
    }
}

impl Census {
    /// Add what another census saw in a later part of the same dump.
    fn merge(&mut self, other: Census) {
        self.names.extend(other.names);
        self.class_names.extend(other.class_names);
        self.classes.extend(other.classes);
        for (class_id, inst) in other.instances {
            let next = self.instances.len();
            let index = *self.instance_index.entry(class_id).or_insert(next);
            if index == next {
                self.instances.push((class_id, Instances::default()));
            }
            let mine = &mut self.instances[index].1;
            mine.count += inst.count;
            mine.min_gap = match (mine.min_gap, inst.min_gap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for (class_id, arrays) in &other.object_arrays {
            self.object_arrays.entry(*class_id).or_default().merge(arrays);
        }
        for (mine, theirs) in self.primitive_arrays.iter_mut().zip(&other.primitive_arrays) {
            if theirs.0.is_some() {
                mine.0 = theirs.0;
                mine.1.merge(&theirs.1);
            }
        }
        for (mine, theirs) in self.layout_votes.iter_mut().zip(other.layout_votes) {
            *mine += theirs;
        }
        self.arrays_measured += other.arrays_measured;
        self.unaligned_to_16 |= other.unaligned_to_16;
        self.roots.extend(other.roots);
    }
}

/// Slots of `Census::recent`.
const RECENT: usize = 256;

/// Distances beyond this are free space, not an object's size.
const MAX_GAP: u64 = 1 << 16;

impl Census {
    fn next_object(&mut self, id: u64, this: Last) {
        self.unaligned_to_16 |= !id.is_multiple_of(16);
        if let Some(last) = self.last
            && id > self.last_id
            && id - self.last_id <= MAX_GAP
        {
            let gap = id - self.last_id;
            match last {
                Last::Instance(index) => {
                    let entry = &mut self.instances[index].1;
                    entry.min_gap = Some(entry.min_gap.map_or(gap, |g| g.min(gap)));
                }
                Last::Array(sizes) => {
                    self.arrays_measured += 1;
                    for (vote, size) in self.layout_votes.iter_mut().zip(sizes) {
                        *vote += u64::from(size == gap);
                    }
                }
            }
        }
        self.last_id = id;
        self.last = Some(this);
    }

    fn add_array(arrays: &mut Arrays, sizes: [u64; Layout::CANDIDATES.len()]) {
        arrays.count += 1;
        for ((bytes, largest), size) in arrays.bytes.iter_mut().zip(&mut arrays.largest).zip(sizes) {
            *bytes += size;
            *largest = (*largest).max(size);
        }
    }

    fn class_name(&self, class_id: u64) -> String {
        self.class_names
            .get(&class_id)
            .and_then(|n| self.names.get(n))
            .map_or_else(|| format!("<class 0x{class_id:x}>"), |n| java_name(n))
    }

    /// The size of an instance of a class under HotSpot's field layout; `budget` is the layout
    /// work left for the whole dump, after which sizes are the packed estimate.
    fn laid_out_size(&self, class_id: u64, layout: Layout, budget: &mut u64) -> u64 {
        let packed = || {
            let (refs, bytes) = self.field_totals(class_id);
            layout.instance_size(refs, bytes)
        };
        if *budget == 0 {
            return packed();
        }
        let own: Vec<Vec<Field>> = hprof::ancestry(class_id, |id| self.classes.get(&id))
            .map(|class| class.fields.iter().map(|(_, t)| field(*t)).collect())
            .collect();
        let root_first: Vec<&[Field]> = own.iter().rev().map(Vec::as_slice).collect();
        let (size, work) = layout.hierarchy_size(&root_first);
        *budget = budget.saturating_sub(work);
        size
    }

    /// Instance field sizes of a class and its superclasses: (references, primitive bytes).
    fn field_totals(&self, class_id: u64) -> (u64, u64) {
        let (mut refs, mut bytes) = (0, 0);
        for class in hprof::ancestry(class_id, |id| self.classes.get(&id)) {
            for (_, t) in &class.fields {
                match t {
                    BasicType::Object => refs += 1,
                    other => bytes += other.dump_size(8) as u64,
                }
            }
        }
        (refs, bytes)
    }
}

impl Visitor for Census {
    fn header(&mut self, header: &hprof::Header) {
        self.id_size = header.id_size;
    }
    fn root(&mut self, kind: hprof::RootKind, id: u64) {
        self.roots.push((kind, id));
    }
    fn utf8(&mut self, id: u64, text: &[u8]) {
        self.names.insert(id, String::from_utf8_lossy(text).into());
    }
    fn load_class(&mut self, class_id: u64, name_id: u64) {
        self.class_names.insert(class_id, name_id);
    }
    fn class_dump(&mut self, class: &ClassDump) {
        self.classes.insert(class.id, class.clone());
        // Class dumps are not heap objects in address order.
        self.last = None;
    }
    fn instance(&mut self, id: u64, class_id: u64, _size: u32, _fields: &[u8]) {
        // A few classes make most objects: a direct-mapped cache in front of the map.
        if self.recent.is_empty() {
            self.recent = vec![None; RECENT];
        }
        let slot = (class_id >> 3) as usize % RECENT;
        let index = if let Some((_, index)) = self.recent[slot].filter(|&(id, _)| id == class_id) {
            index
        } else {
            let next = self.instances.len();
            let index = *self.instance_index.entry(class_id).or_insert(next);
            if index == next {
                self.instances.push((class_id, Instances::default()));
            }
            self.recent[slot] = Some((class_id, index));
            index
        };
        self.next_object(id, Last::Instance(index));
        self.instances[index].1.count += 1;
    }
    fn object_array(&mut self, id: u64, class_id: u64, length: u32, _elements: &[u8]) {
        let sizes = Layout::CANDIDATES.map(|l| l.array_size(length as u64, l.reference_size()));
        self.next_object(id, Last::Array(sizes));
        Census::add_array(self.object_arrays.entry(class_id).or_default(), sizes);
    }
    fn primitive_array(&mut self, id: u64, element: BasicType, length: u32, _data: &[u8]) {
        let sizes = Layout::CANDIDATES.map(|l| l.array_size(length as u64, element.dump_size(8) as u64));
        self.next_object(id, Last::Array(sizes));
        let slot = &mut self.primitive_arrays[element as usize];
        slot.0 = Some(element);
        Census::add_array(&mut slot.1, sizes);
    }
}

fn field(t: BasicType) -> Field {
    match t {
        BasicType::Object => Field::Reference,
        primitive => Field::Primitive(primitive.dump_size(8) as u8),
    }
}

/// `java/lang/String` -> `java.lang.String`; `[B` -> `byte[]`; `[[Ljava/lang/Object;` -> `java.lang.Object[][]`.
pub fn java_name(internal: &str) -> String {
    let dims = internal.bytes().take_while(|&b| b == b'[').count();
    if dims == 0 {
        return internal.replace('/', ".");
    }
    let element = &internal[dims..];
    let base = match element {
        "Z" => "boolean".to_string(),
        "C" => "char".to_string(),
        "F" => "float".to_string(),
        "D" => "double".to_string(),
        "B" => "byte".to_string(),
        "S" => "short".to_string(),
        "I" => "int".to_string(),
        "J" => "long".to_string(),
        other => other.trim_start_matches('L').trim_end_matches(';').replace('/', "."),
    };
    format!("{base}{}", "[]".repeat(dims))
}

/// Read `source` (named `path` in errors) and build its class histogram. A dump that ends early
/// or breaks mid-way gives the histogram of what was read, marked partial; a file that is not a
/// dump at all is an error.
pub fn histogram<R: Read>(source: R, path: &str) -> Result<Histogram, Error> {
    Ok(survey(source, path, &mut |_| true)?.histogram())
}

/// One pass over a dump that learns its classes, names, roots and object layout: what the
/// histogram shows and what the object graph needs before it reads the objects themselves.
pub fn survey<R: Read>(source: R, path: &str, progress: &mut dyn FnMut(u64) -> bool) -> Result<Survey, Error> {
    let mut census = Census::default();
    let partial = match hprof::read_with_progress(source, path, &mut census, progress) {
        Ok(_) => None,
        Err(err @ Error::Corrupt { .. }) => Some(err.to_string()),
        Err(other) => return Err(other),
    };
    Ok(finish(census, partial))
}

/// [`survey`] of a dump file: a plain dump is mapped into memory and its heap-dump segments read
/// on every core; gzip, or a dump whose records do not line up (read then for a partial
/// result), is read as a stream.
pub fn survey_file(path: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<Survey, Error> {
    let name = path.display().to_string();
    let stamp = super::Stamp::of(path)?;
    if let Some(mapped) = super::map_plain(path)? {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut top = Census::default();
        let mut parts: Vec<Census> = (0..threads).map(|_| Census::default()).collect();
        let release = super::release_pages(&mapped.map);
        let read = hprof::read_parallel(&mapped.map, &mapped.file, &name, &mut top, &mut parts, progress, &release);
        mapped.unchanged()?;
        match read {
            Ok(header) => {
                for part in parts {
                    top.merge(part);
                }
                top.id_size = header.id_size;
                return Ok(finish(top, None));
            }
            Err(cancelled @ Error::Cancelled { .. }) => return Err(cancelled),
            Err(_) => {}
        }
    }
    let survey = survey(super::open(path)?, &name, progress)?;
    stamp.check(path)?;
    Ok(survey)
}

/// The histogram of a dump file (see [`survey_file`]).
pub fn histogram_file(path: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<Histogram, Error> {
    Ok(survey_file(path, progress)?.histogram())
}

fn finish(census: Census, partial: Option<String>) -> Survey {
    // Sizes of arrays coincide under several layouts: an address that 16 does not divide rules
    // out 16-byte alignment however the arrays voted.
    let possible = |i: usize| !(census.unaligned_to_16 && Layout::CANDIDATES[i].alignment == 16);
    let best = (0..Layout::CANDIDATES.len())
        .filter(|&i| possible(i))
        .max_by_key(|&i| (census.layout_votes[i], usize::MAX - i))
        .unwrap_or(0);
    let matching = census.layout_votes[best];
    let layout = if matching == 0 { Layout::default() } else { Layout::CANDIDATES[best] };
    // After a compacting full GC nearly every array lies right before the next object; a
    // collector that leaves dead objects in place (ZGC, Shenandoah) leaves gaps after many.
    let compacted = matching > 0 && matching * 100 >= census.arrays_measured * COMPACTED_PERCENT;
    let mut budget = LAYOUT_WORK;
    let mut instance_sizes = IdMap::default();
    for (class_id, inst) in &census.instances {
        let model = census.laid_out_size(*class_id, layout, &mut budget);
        // The distance to the next object bounds the size from above in any heap, and is the
        // size in a compacted one (the model misses fields the JVM adds itself). A lone
        // instance's distance may include free space after it, so it is only trusted near the
        // model.
        let size = match inst.min_gap {
            Some(gap) if compacted && (inst.count > 1 || (gap >= model && gap <= model + 8)) => gap,
            Some(gap) if gap < model => gap,
            _ => model,
        };
        instance_sizes.insert(*class_id, size);
    }
    let layout_note = layout_note(matching, compacted, budget == 0);
    let mirror_class = census
        .class_names
        .iter()
        .find(|(_, n)| census.names.get(n).is_some_and(|n| &**n == "java/lang/Class"))
        .map(|(&id, _)| id);
    Survey { census, layout, layout_index: best, layout_note, instance_sizes, mirror_class, partial }
}

/// The share of measured arrays (in percent) that must lie right before the next object for
/// the heap to count as compacted. Measured on OpenJDK 17: 88 to 92 % after the full GC of
/// Serial, Parallel and G1; 41 % under Shenandoah and 10 % under ZGC.
const COMPACTED_PERCENT: u64 = 75;

/// Field-layout steps allowed for one dump (real dumps take a few million); past it a crafted
/// dump gets the packed estimate instead of a quadratic layout.
const LAYOUT_WORK: u64 = 200_000_000;

/// What the sizes assume, when the dump could not show it.
fn layout_note(matching: u64, compacted: bool, out_of_work: bool) -> Option<String> {
    if matching == 0 {
        return Some(
            "no array in the dump lies right before another object, so the object layout could not be measured: \
             sizes assume HotSpot's default (compressed oops and class pointers, 8-byte alignment)"
                .into(),
        );
    }
    if out_of_work {
        return Some("the dump declares more fields than any real heap: some instance sizes are estimates".into());
    }
    (!compacted).then(|| {
        "the heap was not compacted before the dump (as under ZGC or Shenandoah): instance sizes come from \
         HotSpot's field layout, which leaves out the few fields the JVM adds to some JDK classes \
         (java.lang.Class, ClassLoader, MemberName), so those may count a few bytes short"
            .into()
    })
}

/// What [`survey`] learnt about a dump.
pub struct Survey {
    census: Census,
    pub layout: Layout,
    layout_index: usize,
    /// See [`Histogram::layout_note`].
    pub layout_note: Option<String>,
    /// Class id -> the JVM size of one instance.
    instance_sizes: IdMap<u64>,
    /// The id of java.lang.Class, when the dump has it.
    mirror_class: Option<u64>,
    /// Set when the dump could not be read to its end.
    pub partial: Option<String>,
}

impl Survey {
    pub fn id_size(&self) -> u32 {
        self.census.id_size
    }

    /// The dump's roots, in dump order.
    pub fn roots(&self) -> &[(hprof::RootKind, u64)] {
        &self.census.roots
    }

    /// A UTF8 record's text (field and class names).
    pub fn name(&self, id: u64) -> Option<&str> {
        self.census.names.get(&id).map(|n| &**n)
    }

    /// A class's Java name; unknown classes are named by their id.
    pub fn class_name(&self, class_id: u64) -> String {
        self.census.class_name(class_id)
    }

    /// Every class dump, by class id.
    pub fn classes(&self) -> &IdMap<ClassDump> {
        &self.census.classes
    }

    /// The class whose Java name is `name`, if the dump has exactly one (or the first of several).
    pub fn class_named(&self, name: &str) -> Option<u64> {
        let mut ids: Vec<u64> = self.census.classes.keys().copied().filter(|&id| self.class_name(id) == name).collect();
        ids.sort_unstable();
        ids.first().copied()
    }

    /// The JVM size of one instance of a class.
    pub fn instance_size(&self, class_id: u64) -> u64 {
        self.instance_sizes.get(&class_id).copied().unwrap_or_else(|| {
            let (refs, bytes) = self.census.field_totals(class_id);
            self.layout.instance_size(refs, bytes)
        })
    }

    /// The JVM size of an array of `length` elements of `element_bytes` each (references: 0).
    pub fn array_size(&self, length: u64, element_bytes: u64) -> u64 {
        let element = if element_bytes == 0 { self.layout.reference_size() } else { element_bytes };
        self.layout.array_size(length, element)
    }

    /// The size of a class's mirror (its java.lang.Class instance with its static fields).
    pub fn mirror_size(&self, class: &ClassDump) -> u64 {
        let base = self.mirror_class.map_or(self.layout.instance_size(0, 0), |id| {
            let (refs, bytes) = self.census.field_totals(id);
            self.layout.instance_size(refs, bytes)
        });
        let statics: u64 = class.static_refs.len() as u64 * self.layout.reference_size()
            + class.static_primitives.iter().map(|(_, t)| t.dump_size(8) as u64).sum::<u64>();
        self.layout.align(base + statics)
    }

    fn histogram(self) -> Histogram {
        let census = &self.census;
        let mut rows: Vec<ClassRow> = Vec::new();
        for (class_id, inst) in &census.instances {
            let size = self.instance_sizes[class_id];
            rows.push(ClassRow {
                class: census.class_name(*class_id),
                instances: inst.count,
                shallow_bytes: size * inst.count,
                largest: size,
            });
        }
        for (&class_id, arrays) in &census.object_arrays {
            rows.push(array_row(census.class_name(class_id), arrays, self.layout_index));
        }
        for (element, arrays) in &census.primitive_arrays {
            if let Some(element) = element {
                rows.push(array_row(element.array_class_name().to_string(), arrays, self.layout_index));
            }
        }
        // Class mirrors: java.lang.Class's own fields plus each class's static fields. HotSpot does
        // not dump hidden classes (lambda forms and the like) at all, so their mirrors cannot be
        // counted from the dump and this row stays below the JVM's own count.
        if self.mirror_class.is_some() {
            let sizes: Vec<u64> = census.classes.values().map(|c| self.mirror_size(c)).collect();
            // Mirrors dumped as plain instances (the primitive types') already have a row: add to it.
            match rows.iter_mut().find(|r| r.class == "java.lang.Class") {
                Some(row) => {
                    row.instances += sizes.len() as u64;
                    row.shallow_bytes += sizes.iter().sum::<u64>();
                    row.largest = row.largest.max(sizes.iter().copied().max().unwrap_or(0));
                }
                None if !sizes.is_empty() => rows.push(ClassRow {
                    class: "java.lang.Class".into(),
                    instances: sizes.len() as u64,
                    shallow_bytes: sizes.iter().sum(),
                    largest: sizes.iter().copied().max().unwrap_or(0),
                }),
                None => {}
            }
        }
        rows.sort_by(|a, b| b.shallow_bytes.cmp(&a.shallow_bytes).then_with(|| a.class.cmp(&b.class)));
        Histogram { rows, layout: self.layout, layout_note: self.layout_note, partial: self.partial }
    }
}

fn array_row(class: String, arrays: &Arrays, layout: usize) -> ClassRow {
    ClassRow { class, instances: arrays.count, shallow_bytes: arrays.bytes[layout], largest: arrays.largest[layout] }
}
