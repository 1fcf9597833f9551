//! Reading a few objects' contents back from a dump: one streaming pass that keeps only the
//! objects asked for. Used to name fields on a path, read tenant names and walk small structures
//! (maps, thread locals) without holding every object's contents in memory.

use super::histogram::{IdMap, Survey};
use super::hprof::{self, BasicType, Visitor, read_id};
use super::{Error, Stamp};
use std::collections::HashSet;
use std::path::Path;

/// One object's contents as the dump holds them.
#[derive(Debug, Clone)]
pub enum Contents {
    /// Field bytes in dump order: the class's own fields, then its superclass's, and so on.
    Instance {
        class_id: u64,
        fields: Vec<u8>,
    },
    ObjectArray {
        class_id: u64,
        elements: Vec<u64>,
    },
    PrimitiveArray {
        element: BasicType,
        data: Vec<u8>,
    },
}

struct Wanted<'a> {
    ids: &'a HashSet<u64>,
    id_size: u32,
    found: IdMap<Contents>,
}

impl Visitor for Wanted<'_> {
    fn wants_contents(&self) -> bool {
        true
    }
    fn header(&mut self, header: &hprof::Header) {
        self.id_size = header.id_size;
    }
    fn instance(&mut self, id: u64, class_id: u64, _size: u32, fields: &[u8]) {
        if self.ids.contains(&id) {
            self.found.insert(id, Contents::Instance { class_id, fields: fields.to_vec() });
        }
    }
    fn object_array(&mut self, id: u64, class_id: u64, _length: u32, elements: &[u8]) {
        if self.ids.contains(&id) {
            let elements = elements.chunks_exact(self.id_size as usize).map(read_id).collect();
            self.found.insert(id, Contents::ObjectArray { class_id, elements });
        }
    }
    fn primitive_array(&mut self, id: u64, element: BasicType, _length: u32, data: &[u8]) {
        if self.ids.contains(&id) {
            self.found.insert(id, Contents::PrimitiveArray { element, data: data.to_vec() });
        }
    }
}

/// The contents of the objects in `ids` that the dump at `path` holds.
/// The file must still have `stamp`, the one it had when the graph the ids come from was built.
pub fn fetch(path: &Path, stamp: &Stamp, ids: &HashSet<u64>) -> Result<IdMap<Contents>, Error> {
    let mut wanted = Wanted { ids, id_size: 8, found: IdMap::default() };
    if !ids.is_empty() {
        super::read_file_since(path, stamp, &mut wanted, &mut |_| true)?;
    }
    Ok(wanted.found)
}

/// A value read from an instance field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Ref(u64),
    Bool(bool),
    Int(i64),
    Float(f64),
    Char(char),
}

/// The fields of an instance of `class_id`, in dump order: (class id, field name, type, byte offset).
pub fn field_layout(survey: &Survey, class_id: u64) -> Vec<(u64, String, BasicType, usize)> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for dump in hprof::ancestry(class_id, |id| survey.classes().get(&id)) {
        for (name, t) in &dump.fields {
            let name = survey.name(*name).unwrap_or("?").to_string();
            out.push((dump.id, name, *t, offset));
            offset += t.dump_size(survey.id_size()) as usize;
        }
    }
    out
}

/// The value of the field `name` of an instance (the most derived class's field of that name).
pub fn field(survey: &Survey, contents: &Contents, name: &str) -> Option<Value> {
    let Contents::Instance { class_id, fields } = contents else { return None };
    let (_, _, t, offset) = field_layout(survey, *class_id).into_iter().find(|(_, n, _, _)| n == name)?;
    let bytes = fields.get(offset..offset + t.dump_size(survey.id_size()) as usize)?;
    Some(match t {
        BasicType::Object => Value::Ref(read_id(bytes)),
        BasicType::Boolean => Value::Bool(bytes[0] != 0),
        BasicType::Byte => Value::Int(bytes[0] as i8 as i64),
        BasicType::Short => Value::Int(i16::from_be_bytes([bytes[0], bytes[1]]) as i64),
        BasicType::Char => Value::Char(char::from_u32(u16::from_be_bytes([bytes[0], bytes[1]]) as u32).unwrap_or('?')),
        BasicType::Int => Value::Int(i32::from_be_bytes(bytes.try_into().ok()?) as i64),
        BasicType::Long => Value::Int(i64::from_be_bytes(bytes.try_into().ok()?)),
        BasicType::Float => Value::Float(f32::from_be_bytes(bytes.try_into().ok()?) as f64),
        BasicType::Double => Value::Float(f64::from_be_bytes(bytes.try_into().ok()?)),
    })
}

/// Text of a `java.lang.String` given its contents and its value array's: Latin-1 or UTF-16
/// `byte[]` (JDK 9+, by `coder`) or `char[]` (JDK 8).
pub fn string_text(survey: &Survey, string: &Contents, value: &Contents) -> Option<String> {
    let Contents::PrimitiveArray { element, data } = value else { return None };
    let coder = match field(survey, string, "coder") {
        Some(Value::Int(c)) => c,
        _ => 0,
    };
    Some(match element {
        BasicType::Byte if coder == 0 => data.iter().map(|&b| b as char).collect(),
        // UTF-16 in the JVM's native byte order, which on the platforms that dump is little-endian.
        BasicType::Byte => String::from_utf16_lossy(
            &data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(),
        ),
        BasicType::Char => String::from_utf16_lossy(
            &data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>(),
        ),
        _ => return None,
    })
}

/// A readable value for each object that names something (a tenant): a String's text, a boxed
/// number, or else the first of its `name`, `id`, `key`, `tenantId`, `tenant` fields that is one
/// of those. Three passes at most: the objects, what their name fields point at, string values.
pub fn describe(path: &Path, stamp: &Stamp, survey: &Survey, ids: &HashSet<u64>) -> Result<IdMap<String>, Error> {
    let string_class = survey.class_named("java.lang.String");
    let mut objects = fetch(path, stamp, ids)?;
    // Each object that is not itself a string or number names itself through this one.
    let mut through: IdMap<u64> = IdMap::default();
    let mut out = IdMap::default();
    for (&id, contents) in &objects {
        if let Some(text) = primitive_text(survey, contents) {
            out.insert(id, text);
        } else if is_class(contents, string_class) {
            through.insert(id, id);
        } else {
            let named = ["name", "id", "key", "tenantId", "tenant"].iter().find_map(|f| field(survey, contents, f));
            match named {
                Some(Value::Ref(r)) if r != 0 => {
                    through.insert(id, r);
                }
                Some(Value::Int(n)) => {
                    out.insert(id, n.to_string());
                }
                _ => {}
            }
        }
    }
    let missing: HashSet<u64> = through.values().copied().filter(|t| !objects.contains_key(t)).collect();
    objects.extend(fetch(path, stamp, &missing)?);
    let values: IdMap<u64> = through
        .values()
        .filter(|t| objects.get(t).is_some_and(|c| is_class(c, string_class)))
        .filter_map(|&t| match field(survey, &objects[&t], "value") {
            Some(Value::Ref(v)) if v != 0 => Some((t, v)),
            _ => None,
        })
        .collect();
    let arrays = fetch(path, stamp, &values.values().copied().collect())?;
    for (&id, target) in &through {
        let Some(contents) = objects.get(target) else { continue };
        let text = match values.get(target).and_then(|v| arrays.get(v)) {
            Some(array) => string_text(survey, contents, array),
            None => primitive_text(survey, contents),
        };
        if let Some(text) = text {
            out.insert(id, text);
        }
    }
    Ok(out)
}

fn is_class(contents: &Contents, class: Option<u64>) -> bool {
    matches!(contents, Contents::Instance { class_id, .. } if Some(*class_id) == class)
}

/// Boxed numbers and characters read as their value.
fn primitive_text(survey: &Survey, contents: &Contents) -> Option<String> {
    let Contents::Instance { class_id, .. } = contents else { return None };
    let name = survey.class_name(*class_id);
    let boxed = matches!(
        name.as_str(),
        "java.lang.Long" | "java.lang.Integer" | "java.lang.Short" | "java.lang.Byte" | "java.lang.Character"
    );
    if !boxed {
        return None;
    }
    match field(survey, contents, "value")? {
        Value::Int(n) => Some(n.to_string()),
        Value::Char(c) => Some(c.to_string()),
        _ => None,
    }
}
