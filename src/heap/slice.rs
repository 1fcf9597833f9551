//! The fast path for a heap-dump segment held in memory (a mapped file): sub-records decoded
//! straight from the bytes, contents handed out as slices of the mapping, no copying and no
//! per-field error handling. Anything that does not fit is reported by its offset only; the
//! streaming reader in [`super::hprof`] then reads the dump again and explains the problem.

use super::hprof::{BasicType, ClassDump, Visitor, root_layout, sub};

#[inline(always)]
fn u4(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The id of `id` bytes at `at`.
#[inline(always)]
pub(super) fn id_at(b: &[u8], at: usize, id: usize) -> u64 {
    if id == 8 { u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes")) } else { u4(b, at) as u64 }
}

#[inline(always)]
fn fits(p: usize, len: usize, n: usize, start: usize) -> Result<(), usize> {
    if p + len <= n { Ok(()) } else { Err(start) }
}

/// Read the sub-records of one segment; `Err(offset)` names where one did not fit.
pub fn read_segment(bytes: &[u8], id_size: u32, visitor: &mut impl Visitor) -> Result<(), usize> {
    let contents = visitor.wants_contents();
    let id = id_size as usize;
    let n = bytes.len();
    let mut p = 0;
    while p < n {
        let start = p;
        let tag = bytes[p];
        p += 1;
        match tag {
            sub::INSTANCE_DUMP => {
                fits(p, 2 * id + 8, n, start)?;
                let (object, class_id, size) =
                    (id_at(bytes, p, id), id_at(bytes, p + id + 4, id), u4(bytes, p + 2 * id + 4));
                p += 2 * id + 8;
                fits(p, size as usize, n, start)?;
                let fields = if contents { &bytes[p..p + size as usize] } else { &[] };
                visitor.instance(object, class_id, size, fields);
                p += size as usize;
            }
            sub::PRIMITIVE_ARRAY_DUMP | sub::PRIMITIVE_ARRAY_NODATA => {
                fits(p, id + 9, n, start)?;
                let (object, length) = (id_at(bytes, p, id), u4(bytes, p + id + 4));
                let element =
                    BasicType::from_code(bytes[p + id + 8]).filter(|t| *t != BasicType::Object).ok_or(start)?;
                p += id + 9;
                if tag == sub::PRIMITIVE_ARRAY_NODATA {
                    visitor.primitive_array(object, element, length, &[]);
                    continue;
                }
                let len = length as usize * element.dump_size(id_size) as usize;
                fits(p, len, n, start)?;
                let data = if contents { &bytes[p..p + len] } else { &[] };
                visitor.primitive_array(object, element, length, data);
                p += len;
            }
            sub::OBJECT_ARRAY_DUMP => {
                fits(p, 2 * id + 8, n, start)?;
                let (object, length, class_id) =
                    (id_at(bytes, p, id), u4(bytes, p + id + 4), id_at(bytes, p + id + 8, id));
                p += 2 * id + 8;
                let len = length as usize * id;
                fits(p, len, n, start)?;
                let elements = if contents { &bytes[p..p + len] } else { &[] };
                visitor.object_array(object, class_id, length, elements);
                p += len;
            }
            sub::CLASS_DUMP => {
                let (class, used) = class_dump(&bytes[p..], id).ok_or(start)?;
                visitor.class_dump(&class);
                p += used;
            }
            sub::HEAP_DUMP_INFO => {
                fits(p, 4 + id, n, start)?;
                p += 4 + id;
            }
            t => {
                let (kind, extra) = root_layout(t, id as u64).ok_or(start)?;
                fits(p, id + extra as usize, n, start)?;
                visitor.root(kind, id_at(bytes, p, id));
                p += id + extra as usize;
            }
        }
    }
    Ok(())
}

/// A CLASS DUMP body and the bytes it takes, or `None` if it does not fit.
fn class_dump(b: &[u8], id: usize) -> Option<(ClassDump, usize)> {
    let mut p = 0;
    let mut take = |len: usize| {
        let at = p;
        p += len;
        (p <= b.len()).then_some(at)
    };
    let mut class = ClassDump { id: id_at(b, take(id)?, id), ..ClassDump::default() };
    take(4)?;
    class.super_id = id_at(b, take(id)?, id);
    class.loader_id = id_at(b, take(id)?, id);
    take(4 * id)?; // signers, protection domain, two reserved
    class.instance_size = u4(b, take(4)?);
    let at = take(2)?;
    let constants = u16::from_be_bytes([b[at], b[at + 1]]);
    for _ in 0..constants {
        take(2)?;
        let t = BasicType::from_code(b[take(1)?])?;
        take(t.dump_size(id as u32) as usize)?;
    }
    let at = take(2)?;
    let statics = u16::from_be_bytes([b[at], b[at + 1]]);
    for _ in 0..statics {
        let name = id_at(b, take(id)?, id);
        let t = BasicType::from_code(b[take(1)?])?;
        let at = take(t.dump_size(id as u32) as usize)?;
        if t == BasicType::Object {
            class.static_refs.push((name, id_at(b, at, id)));
        } else {
            class.static_primitives.push((name, t));
        }
    }
    let at = take(2)?;
    let fields = u16::from_be_bytes([b[at], b[at + 1]]);
    for _ in 0..fields {
        let name = id_at(b, take(id)?, id);
        let t = BasicType::from_code(b[take(1)?])?;
        class.fields.push((name, t));
    }
    Some((class, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::hprof::{self, RootKind};
    use crate::heap::sample::demo_dump;

    #[derive(Default, PartialEq, Debug)]
    struct Seen {
        classes: Vec<ClassDump>,
        objects: Vec<(u64, u64, usize)>,
        roots: Vec<(RootKind, u64)>,
    }

    impl Visitor for Seen {
        fn wants_contents(&self) -> bool {
            true
        }
        fn class_dump(&mut self, class: &ClassDump) {
            self.classes.push(class.clone());
        }
        fn instance(&mut self, id: u64, class_id: u64, _: u32, fields: &[u8]) {
            self.objects.push((id, class_id, fields.len()));
        }
        fn object_array(&mut self, id: u64, class_id: u64, _: u32, elements: &[u8]) {
            self.objects.push((id, class_id, elements.len()));
        }
        fn primitive_array(&mut self, id: u64, element: BasicType, _: u32, data: &[u8]) {
            self.objects.push((id, element as u64, data.len()));
        }
        fn root(&mut self, kind: RootKind, id: u64) {
            self.roots.push((kind, id));
        }
    }

    /// (start, end) of each heap-dump segment's body.
    fn segments(bytes: &[u8], id: usize) -> Vec<(usize, usize)> {
        let mut at = bytes.iter().position(|&b| b == 0).unwrap() + 1 + 4 + 8;
        let mut out = Vec::new();
        while at < bytes.len() {
            let length = u4(bytes, at + 5) as usize;
            if bytes[at] == hprof::tag::HEAP_DUMP_SEGMENT || bytes[at] == hprof::tag::HEAP_DUMP {
                out.push((at + 9, at + 9 + length));
            }
            at += 9 + length;
        }
        assert!(id == 4 || id == 8);
        out
    }

    #[test]
    fn segments_read_in_place_as_the_streaming_reader_reads_them() {
        for id_size in [4, 8] {
            let bytes = demo_dump(id_size, 4, 50, 3, Some(2048));
            let mut streamed = Seen::default();
            hprof::read(&bytes[..], "demo", &mut streamed).unwrap();
            let mut fast = Seen::default();
            let parts = segments(&bytes, id_size as usize);
            assert!(parts.len() > 3);
            for (a, b) in parts.iter().copied() {
                read_segment(&bytes[a..b], id_size, &mut fast).unwrap();
            }
            assert_eq!(fast, streamed, "ids of {id_size} bytes");
            // A segment cut short is refused at the sub-record that does not fit.
            let (a, b) = parts[1];
            let err = read_segment(&bytes[a..b - 3], id_size, &mut Seen::default()).unwrap_err();
            assert!(err < b - 3 - a, "{err}");
        }
    }
}
