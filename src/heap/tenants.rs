//! Memory per tenant. A rule says which objects stand for a tenant (its anchors) and how to name
//! it; every object reachable from one tenant's anchors and from nothing else is that tenant's.
//! Objects reachable from the roots without passing through any anchor are shared by design
//! (caches, registries, interned names) and belong to no tenant. An object reachable from two
//! tenants' anchors is a cross-tenant reference: an isolation finding.

use super::Error;
use super::fetch::{self, Contents, Value};
use super::graph::{Graph, is_subclass};
use super::histogram::IdMap;
use std::collections::{HashMap, HashSet, VecDeque};

/// How to find each tenant in a heap.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Instances of `class` (and its subclasses) are tenants, named by their field `field`
    /// (a String, a number, or an object with a `name`/`id` field).
    Field { class: String, field: String },
    /// The map in the static field `field` of `class` holds the tenants: keys name them, values
    /// are their anchors (HashMap, LinkedHashMap, ConcurrentHashMap, Hashtable, TreeMap).
    Map { class: String, field: String },
    /// One class loader per tenant, named by the loader's `name` (or another field).
    Loader { field: String },
    /// The ThreadLocal in the static field `field` of `class` holds the tenant a thread serves:
    /// each thread with a value there is that tenant's anchor (with everything the thread holds
    /// in its thread locals), named by the value.
    ThreadLocal { class: String, field: String },
}

impl Rule {
    /// `com.acme.Tenant.name` or `field:com.acme.Tenant.name`; `map:com.acme.Registry.TENANTS`;
    /// `loader` or `loader:FIELD`. Nested classes are written as Java names them: `Outer$Inner`.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (kind.trim(), rest.trim()),
            None if text.trim() == "loader" => ("loader", ""),
            None => ("field", text.trim()),
        };
        let class_field = |rest: &str| -> Result<(String, String), String> {
            let (class, field) = rest
                .rsplit_once('.')
                .filter(|(c, f)| !c.is_empty() && !f.is_empty())
                .ok_or_else(|| format!("tenant rule {text:?}: expected CLASS.FIELD such as com.acme.Tenant.name"))?;
            Ok((class.to_string(), field.to_string()))
        };
        match kind {
            "field" => class_field(rest).map(|(class, field)| Rule::Field { class, field }),
            "map" => class_field(rest).map(|(class, field)| Rule::Map { class, field }),
            "threadlocal" => class_field(rest).map(|(class, field)| Rule::ThreadLocal { class, field }),
            "loader" => Ok(Rule::Loader { field: if rest.is_empty() { "name".into() } else { rest.into() } }),
            other => Err(format!(
                "tenant rule {text:?}: unknown kind {other:?}; use CLASS.FIELD, map:CLASS.FIELD, \
                 threadlocal:CLASS.FIELD or loader[:FIELD]"
            )),
        }
    }
}

/// One tenant's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRow {
    pub tenant: String,
    /// Objects that stand for the tenant.
    pub anchors: u64,
    /// Bytes the anchors keep alive on their own (dominator-retained).
    pub retained_bytes: u64,
    /// Objects reachable from this tenant alone, and their shallow bytes.
    pub objects: u64,
    pub reachable_bytes: u64,
}

/// A reference from one tenant's objects into another's.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossReference {
    pub from_tenant: String,
    pub to_tenant: String,
    /// How many such references, and one of them.
    pub references: u64,
    pub from_object: u64,
    pub from_class: String,
    pub to_object: u64,
    pub to_class: String,
}

/// Per-tenant memory of one dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenants {
    /// Largest retained first.
    pub rows: Vec<TenantRow>,
    pub cross: Vec<CrossReference>,
    /// Objects reachable from more than one tenant, and their bytes.
    pub shared_objects: u64,
    pub shared_bytes: u64,
}

const UNSEEN: u16 = 0;
const GLOBAL: u16 = u16::MAX;
const SHARED: u16 = u16::MAX - 1;

/// Attribute the heap of `graph` to tenants by `rule`.
pub fn tenants(graph: &Graph, rule: &Rule) -> Result<Tenants, Error> {
    let anchors = anchors(graph, rule)?;
    let mut names: Vec<String> = anchors.values().cloned().collect::<HashSet<_>>().into_iter().collect();
    names.sort();
    if names.len() >= SHARED as usize - 1 {
        return Err(incomplete(graph, format!("{} tenants: more than this analysis can tell apart", names.len())));
    }
    let number: HashMap<&str, u16> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u16 + 1)).collect();
    let anchor_of: HashMap<u32, u16> = anchors.iter().map(|(&v, n)| (v, number[n.as_str()])).collect();

    let mut label = vec![UNSEEN; graph.len() as usize];
    // Shared by design: reachable without passing any anchor.
    let mut queue: VecDeque<u32> = VecDeque::from([graph.root()]);
    while let Some(v) = queue.pop_front() {
        for &w in graph.successors(v) {
            if label[w as usize] == UNSEEN && !anchor_of.contains_key(&w) {
                label[w as usize] = GLOBAL;
                queue.push_back(w);
            }
        }
    }
    // Each tenant from its anchors; reaching another tenant's object makes it shared.
    let mut crossings: HashMap<(u16, u16), (u64, u32, u32)> = HashMap::new();
    let mut by_tenant: Vec<Vec<u32>> = vec![Vec::new(); names.len() + 1];
    for (&v, &t) in &anchor_of {
        by_tenant[t as usize].push(v);
    }
    for (t, starts) in by_tenant.iter().enumerate().skip(1) {
        let t = t as u16;
        for &a in starts {
            if label[a as usize] == UNSEEN {
                label[a as usize] = t;
            }
            queue.push_back(a);
        }
        while let Some(v) = queue.pop_front() {
            let mine = label[v as usize];
            for &w in graph.successors(v) {
                let theirs = anchor_of.get(&w).copied().unwrap_or(label[w as usize]);
                if theirs == GLOBAL {
                    continue;
                }
                if mine != SHARED && theirs != UNSEEN && theirs != mine {
                    let entry = crossings.entry((mine, theirs)).or_insert((0, v, w));
                    entry.0 += 1;
                }
                if theirs == mine || anchor_of.contains_key(&w) {
                    continue;
                }
                let next = if theirs == UNSEEN && mine != SHARED { mine } else { SHARED };
                if label[w as usize] != next {
                    label[w as usize] = next;
                    queue.push_back(w);
                }
            }
        }
    }

    let mut rows: Vec<TenantRow> = names
        .iter()
        .map(|n| TenantRow { tenant: n.clone(), anchors: 0, retained_bytes: 0, objects: 0, reachable_bytes: 0 })
        .collect();
    for (&v, &t) in &anchor_of {
        let row = &mut rows[t as usize - 1];
        row.anchors += 1;
        row.retained_bytes += graph.retained(v);
    }
    let (mut shared_objects, mut shared_bytes) = (0, 0);
    for (v, &l) in label.iter().enumerate() {
        match l {
            UNSEEN | GLOBAL => {}
            SHARED => {
                shared_objects += 1;
                shared_bytes += graph.shallow(v as u32);
            }
            t => {
                let row = &mut rows[t as usize - 1];
                row.objects += 1;
                row.reachable_bytes += graph.shallow(v as u32);
            }
        }
    }
    rows.sort_by(|a, b| b.retained_bytes.cmp(&a.retained_bytes).then_with(|| a.tenant.cmp(&b.tenant)));
    // Objects already shared by two tenants when a third reaches them.
    let name = |t: u16| if t == SHARED { "(several tenants)".to_string() } else { names[t as usize - 1].clone() };
    let mut cross: Vec<CrossReference> = crossings
        .into_iter()
        .map(|((from, to), (references, v, w))| CrossReference {
            from_tenant: name(from),
            to_tenant: name(to),
            references,
            from_object: graph.id(v),
            from_class: graph.label(v),
            to_object: graph.id(w),
            to_class: graph.label(w),
        })
        .collect();
    cross.sort_by(|a, b| b.references.cmp(&a.references).then_with(|| a.from_tenant.cmp(&b.from_tenant)));
    Ok(Tenants { rows, cross, shared_objects, shared_bytes })
}

/// The id of the class a rule names.
fn named_class(graph: &Graph, class: &str) -> Result<u64, Error> {
    graph.survey.class_named(class).ok_or_else(|| {
        incomplete(graph, format!("tenant rule: the dump has no class {class} (use the Java name, Outer$Inner)"))
    })
}

/// The object in the static reference field `field` of `class`.
fn static_reference(graph: &Graph, class: &str, field: &str) -> Result<u64, Error> {
    let survey = &graph.survey;
    survey.classes()[&named_class(graph, class)?]
        .static_refs
        .iter()
        .find(|(name, _)| survey.name(*name) == Some(field))
        .map(|&(_, target)| target)
        .filter(|&t| t != 0)
        .ok_or_else(|| incomplete(graph, format!("tenant rule: {class} has no static reference field {field} set")))
}

fn incomplete(graph: &Graph, problem: String) -> Error {
    Error::Incomplete { path: graph.path.display().to_string(), problem }
}

/// Anchor vertices and the tenant each stands for.
fn anchors(graph: &Graph, rule: &Rule) -> Result<HashMap<u32, String>, Error> {
    let survey = &graph.survey;
    let subclasses_of = |class: &str| -> Result<Vec<u32>, Error> {
        let base = named_class(graph, class)?;
        Ok((0..graph.types.len() as u32)
            .filter(|&t| is_subclass(&graph.survey, graph.types[t as usize].class_id, Some(base)))
            .collect())
    };
    let named = |vertices: Vec<u32>, through: &dyn Fn(&Contents) -> Option<Value>| -> Result<_, Error> {
        let ids: HashSet<u64> = vertices.iter().map(|&v| graph.id(v)).collect();
        let contents = fetch::fetch(&graph.path, &graph.stamp, &ids)?;
        let mut targets: IdMap<u64> = IdMap::default();
        let mut out = HashMap::new();
        for &v in &vertices {
            match contents.get(&graph.id(v)).and_then(through) {
                Some(Value::Ref(r)) if r != 0 => {
                    targets.insert(graph.id(v), r);
                }
                Some(Value::Int(n)) => {
                    out.insert(v, n.to_string());
                }
                Some(Value::Char(c)) => {
                    out.insert(v, c.to_string());
                }
                _ => {}
            }
        }
        let text = fetch::describe(&graph.path, &graph.stamp, survey, &targets.values().copied().collect())?;
        for &v in &vertices {
            if let Some(name) = targets.get(&graph.id(v)).and_then(|r| text.get(r)) {
                out.insert(v, name.clone());
            }
        }
        Ok(out)
    };
    match rule {
        Rule::Field { class, field } => {
            let types = subclasses_of(class)?;
            named(graph.instances_of(&types), &|c| fetch::field(survey, c, field))
        }
        Rule::Loader { field } => {
            let loaders: HashSet<u64> = survey.classes().values().map(|c| c.loader_id).filter(|&l| l != 0).collect();
            let vertices: Vec<u32> = loaders.iter().filter_map(|&l| graph.vertex(l)).collect();
            let mut out = named(vertices.clone(), &|c| fetch::field(survey, c, field))?;
            for v in vertices {
                out.entry(v).or_insert_with(|| format!("{}@{:#x}", graph.type_name(v), graph.id(v)));
            }
            Ok(out)
        }
        Rule::Map { class, field } => {
            let map = static_reference(graph, class, field)?;
            let entries = map_entries(graph, map)?;
            let keys: HashSet<u64> = entries.iter().map(|e| e.0).collect();
            let text = fetch::describe(&graph.path, &graph.stamp, survey, &keys)?;
            Ok(entries
                .into_iter()
                .filter_map(|(key, value)| Some((graph.vertex(value)?, text.get(&key)?.clone())))
                .collect())
        }
        Rule::ThreadLocal { class, field } => {
            let local = static_reference(graph, class, field)?;
            let threads = graph.instances_of(&subclasses_of("java.lang.Thread")?);
            // Thread -> its ThreadLocalMap -> the map's table -> entries keyed (weakly) by ThreadLocal.
            let step = |ids: HashSet<u64>, name: &str| -> Result<IdMap<u64>, Error> {
                let contents = fetch::fetch(&graph.path, &graph.stamp, &ids)?;
                Ok(contents
                    .iter()
                    .filter_map(|(&id, c)| match fetch::field(survey, c, name) {
                        Some(Value::Ref(r)) if r != 0 => Some((id, r)),
                        _ => None,
                    })
                    .collect())
            };
            let maps = step(threads.iter().map(|&v| graph.id(v)).collect(), "threadLocals")?;
            let tables = step(maps.values().copied().collect(), "table")?;
            let arrays = fetch::fetch(&graph.path, &graph.stamp, &tables.values().copied().collect())?;
            let entry_of_table: IdMap<u64> = arrays
                .iter()
                .flat_map(|(&table, c)| match c {
                    Contents::ObjectArray { elements, .. } => {
                        elements.iter().filter(|&&e| e != 0).map(|&e| (e, table)).collect::<Vec<_>>()
                    }
                    _ => Vec::new(),
                })
                .collect();
            let entries = fetch::fetch(&graph.path, &graph.stamp, &entry_of_table.keys().copied().collect())?;
            let mut value_of_table: IdMap<u64> = IdMap::default();
            for (id, c) in &entries {
                let key = matches!(fetch::field(survey, c, "referent"), Some(Value::Ref(r)) if r == local);
                if let (true, Some(Value::Ref(value))) = (key, fetch::field(survey, c, "value")) {
                    value_of_table.insert(entry_of_table[id], value);
                }
            }
            let text = fetch::describe(&graph.path, &graph.stamp, survey, &value_of_table.values().copied().collect())?;
            let mut out = HashMap::new();
            for &thread in &threads {
                let value = maps
                    .get(&graph.id(thread))
                    .and_then(|m| tables.get(m))
                    .and_then(|t| value_of_table.get(t))
                    .and_then(|v| text.get(v));
                if let Some(name) = value {
                    out.insert(thread, name.clone());
                }
            }
            Ok(out)
        }
    }
}

/// (key, value) ids of a map's entries: hash tables (`table` of nodes chained by `next`) and
/// trees (`root` or `m` of entries with `left` and `right`), one pass over the dump per level.
fn map_entries(graph: &Graph, map: u64) -> Result<Vec<(u64, u64)>, Error> {
    let survey = &graph.survey;
    let reference = |c: &Contents, names: &[&str]| {
        names.iter().find_map(|n| match fetch::field(survey, c, n) {
            Some(Value::Ref(r)) if r != 0 => Some(r),
            _ => None,
        })
    };
    // The map object, then (for wrappers such as Collections.synchronizedMap) the map inside.
    let mut frontier: HashSet<u64> = HashSet::from([map]);
    let mut entries = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for _ in 0..64 {
        frontier.retain(|id| seen.insert(*id));
        if frontier.is_empty() {
            break;
        }
        let contents = fetch::fetch(&graph.path, &graph.stamp, &frontier)?;
        let mut next = HashSet::new();
        for c in contents.values() {
            match c {
                Contents::ObjectArray { elements, .. } => next.extend(elements.iter().copied().filter(|&e| e != 0)),
                Contents::Instance { .. } => {
                    let key = reference(c, &["key"]);
                    let value = reference(c, &["value", "val"]);
                    if let (Some(k), Some(v)) = (key, value) {
                        entries.push((k, v));
                    }
                    next.extend(
                        ["table", "root", "m", "next", "left", "right"].iter().filter_map(|n| reference(c, &[n])),
                    );
                }
                Contents::PrimitiveArray { .. } => {}
            }
        }
        frontier = next;
    }
    Ok(entries)
}
