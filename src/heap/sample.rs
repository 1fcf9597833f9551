//! Writing HPROF: a small synthetic multi-tenant dump for demos, doc examples and the reader's
//! own tests, in any of the format's variants (4- or 8-byte ids, one HEAP DUMP record or
//! segments, every root kind) that a JVM will not produce on demand.

use super::hprof::{BasicType, sub, tag};
use super::layout::Layout;

/// Builds an HPROF file in memory.
pub struct Writer {
    id_size: u32,
    out: Vec<u8>,
    heap: Vec<u8>,
    /// Offsets in `heap` where each sub-record starts, so segments split between them.
    starts: Vec<usize>,
}

impl Writer {
    pub fn new(version: &str, id_size: u32) -> Writer {
        let mut out = Vec::new();
        out.extend_from_slice(version.as_bytes());
        out.push(0);
        out.extend_from_slice(&id_size.to_be_bytes());
        out.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
        Writer { id_size, out, heap: Vec::new(), starts: Vec::new() }
    }

    fn id(buf: &mut Vec<u8>, id_size: u32, id: u64) {
        if id_size == 8 {
            buf.extend_from_slice(&id.to_be_bytes());
        } else {
            buf.extend_from_slice(&(id as u32).to_be_bytes());
        }
    }

    fn record(&mut self, tag: u8, body: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&0u32.to_be_bytes());
        self.out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        self.out.extend_from_slice(body);
    }

    pub fn utf8(&mut self, id: u64, text: &str) {
        let mut body = Vec::new();
        Self::id(&mut body, self.id_size, id);
        body.extend_from_slice(text.as_bytes());
        self.record(tag::UTF8, &body);
    }

    pub fn load_class(&mut self, serial: u32, class_id: u64, name_id: u64) {
        let mut body = serial.to_be_bytes().to_vec();
        Self::id(&mut body, self.id_size, class_id);
        body.extend_from_slice(&0u32.to_be_bytes());
        Self::id(&mut body, self.id_size, name_id);
        self.record(tag::LOAD_CLASS, &body);
    }

    /// A root of kind `root_tag` for `object`, with zeroed thread/frame details.
    pub fn root(&mut self, root_tag: u8, object: u64) {
        let extra = match root_tag {
            sub::ROOT_JNI_GLOBAL => self.id_size as usize,
            sub::ROOT_JNI_LOCAL | sub::ROOT_JAVA_FRAME | sub::ROOT_THREAD_OBJECT | sub::ROOT_JNI_MONITOR => 8,
            sub::ROOT_NATIVE_STACK | sub::ROOT_THREAD_BLOCK => 4,
            _ => 0,
        };
        self.starts.push(self.heap.len());
        self.heap.push(root_tag);
        Self::id(&mut self.heap, self.id_size, object);
        self.heap.extend(std::iter::repeat_n(0, extra));
    }

    /// Start a class, instance or array sub-record: its tag, its id, a zero stack-trace serial.
    fn begin_object(&mut self, tag: u8, id: u64) {
        self.starts.push(self.heap.len());
        self.heap.push(tag);
        Self::id(&mut self.heap, self.id_size, id);
        self.heap.extend_from_slice(&0u32.to_be_bytes());
    }

    /// A class with instance fields `fields` (name id, type) and reference statics.
    pub fn class_dump(&mut self, class_id: u64, super_id: u64, fields: &[(u64, BasicType)], statics: &[(u64, u64)]) {
        let id_size = self.id_size;
        self.begin_object(sub::CLASS_DUMP, class_id);
        let h = &mut self.heap;
        for id in [super_id, 0, 0, 0, 0, 0] {
            Self::id(h, id_size, id);
        }
        let size: u32 = fields.iter().map(|(_, t)| t.dump_size(id_size)).sum();
        h.extend_from_slice(&size.to_be_bytes());
        h.extend_from_slice(&0u16.to_be_bytes());
        h.extend_from_slice(&(statics.len() as u16).to_be_bytes());
        for (name, target) in statics {
            Self::id(h, id_size, *name);
            h.push(2);
            Self::id(h, id_size, *target);
        }
        h.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for (name, t) in fields {
            Self::id(h, id_size, *name);
            h.push(type_code(*t));
        }
    }

    /// An instance whose fields are `values` in dump order: references as ids, others as bytes.
    pub fn instance(&mut self, id: u64, class_id: u64, values: &[Value]) {
        let id_size = self.id_size;
        let mut fields = Vec::new();
        for v in values {
            match v {
                Value::Ref(target) => Self::id(&mut fields, id_size, *target),
                Value::Int(i) => fields.extend_from_slice(&i.to_be_bytes()),
                Value::Long(l) => fields.extend_from_slice(&l.to_be_bytes()),
            }
        }
        self.begin_object(sub::INSTANCE_DUMP, id);
        let h = &mut self.heap;
        Self::id(h, id_size, class_id);
        h.extend_from_slice(&(fields.len() as u32).to_be_bytes());
        h.extend_from_slice(&fields);
    }

    pub fn object_array(&mut self, id: u64, class_id: u64, elements: &[u64]) {
        let id_size = self.id_size;
        self.begin_object(sub::OBJECT_ARRAY_DUMP, id);
        let h = &mut self.heap;
        h.extend_from_slice(&(elements.len() as u32).to_be_bytes());
        Self::id(h, id_size, class_id);
        for e in elements {
            Self::id(h, id_size, *e);
        }
    }

    pub fn byte_array(&mut self, id: u64, data: &[u8]) {
        self.begin_object(sub::PRIMITIVE_ARRAY_DUMP, id);
        let h = &mut self.heap;
        h.extend_from_slice(&(data.len() as u32).to_be_bytes());
        h.push(type_code(BasicType::Byte));
        h.extend_from_slice(data);
    }

    /// The finished file: the heap as one HEAP DUMP record, or as segments of at most
    /// `segment` bytes (at least one sub-record each) followed by HEAP DUMP END.
    pub fn finish(mut self, segment: Option<usize>) -> Vec<u8> {
        let heap = std::mem::take(&mut self.heap);
        match segment {
            None => self.record(tag::HEAP_DUMP, &heap),
            Some(max) => {
                let mut ends: Vec<usize> = self.starts.iter().skip(1).copied().collect();
                ends.push(heap.len());
                let mut from = 0;
                while from < heap.len() {
                    let fits = ends.iter().copied().rfind(|&e| e > from && e - from <= max);
                    let to =
                        fits.unwrap_or_else(|| ends.iter().copied().find(|&e| e > from).expect("ends cover the heap"));
                    self.record(tag::HEAP_DUMP_SEGMENT, &heap[from..to]);
                    from = to;
                }
                self.record(tag::HEAP_DUMP_END, &[]);
            }
        }
        self.out
    }
}

/// A field value for [`Writer::instance`].
#[derive(Debug, Clone, Copy)]
pub enum Value {
    Ref(u64),
    Int(i32),
    Long(i64),
}

fn type_code(t: BasicType) -> u8 {
    match t {
        BasicType::Object => 2,
        BasicType::Boolean => 4,
        BasicType::Char => 5,
        BasicType::Float => 6,
        BasicType::Double => 7,
        BasicType::Byte => 8,
        BasicType::Short => 9,
        BasicType::Int => 10,
        BasicType::Long => 11,
    }
}

/// A small multi-tenant service's heap: `tenants` tenants, each holding sessions with byte
/// payloads; the last tenant holds `leak` times as many sessions as the others. Object ids are
/// addresses laid out densely under the default layout, as after a full GC.
pub fn demo_dump(id_size: u32, tenants: usize, sessions: usize, leak: usize, segment: Option<usize>) -> Vec<u8> {
    let layout = Layout::default();
    let mut w = Writer::new("JAVA PROFILE 1.0.2", id_size);
    let names = [
        (1, "java/lang/Object"),
        (2, "java/lang/String"),
        (3, "com/acme/Tenant"),
        (4, "com/acme/Session"),
        (5, "[Lcom/acme/Session;"),
        (6, "name"),
        (7, "sessions"),
        (8, "payload"),
        (9, "createdAt"),
        (10, "hash"),
        (11, "value"),
        (12, "REGISTRY"),
        (13, "com/acme/Registry"),
        (14, "[Lcom/acme/Tenant;"),
        (15, "com/acme/Config"),
        (16, "DB_URL"),
    ];
    for (id, text) in names {
        w.utf8(id, text);
    }
    let (object, string, tenant, session, session_array, registry, tenant_array, config) =
        (0x100, 0x200, 0x300, 0x400, 0x500, 0x600, 0x700, 0x800);
    let classes = [
        (object, 1),
        (string, 2),
        (tenant, 3),
        (session, 4),
        (session_array, 5),
        (registry, 13),
        (tenant_array, 14),
        (config, 15),
    ];
    for (serial, (class, name)) in classes.into_iter().enumerate() {
        w.load_class(serial as u32 + 1, class, name);
    }
    use BasicType::{Int, Long, Object as Ref};
    w.class_dump(object, 0, &[], &[]);
    w.class_dump(string, object, &[(11, Ref), (10, Int)], &[]);
    w.class_dump(tenant, object, &[(6, Ref), (7, Ref)], &[]);
    w.class_dump(session, object, &[(9, Long), (8, Ref)], &[]);
    w.class_dump(session_array, object, &[], &[]);
    w.class_dump(tenant_array, object, &[], &[]);

    // Objects are written in address order, as a JVM dumps them.
    let mut next = 0x1000_0000u64;
    let mut alloc = |size: u64| {
        let id = next;
        next += size;
        id
    };
    let string_size = layout.instance_size(1, 4);
    let tenant_size = layout.instance_size(2, 0);
    let session_size = layout.instance_size(1, 8);
    let mut tenant_ids = Vec::with_capacity(tenants);
    // The leaking tenant also holds on to one of the first tenant's sessions: an isolation bug.
    let mut first_session = None;
    for t in 0..tenants {
        let count = if t + 1 == tenants { sessions * leak } else { sessions };
        let stray = first_session.filter(|_| t + 1 == tenants && t > 0);
        let name = format!("tenant-{:02}", t + 1);
        let tid = alloc(tenant_size);
        let chars = alloc(layout.array_size(name.len() as u64, 1));
        let name_id = alloc(string_size);
        let slots = count + stray.iter().count();
        let array = alloc(layout.array_size(slots as u64, layout.reference_size()));
        let members: Vec<(u64, u64, usize)> = (0..count)
            .map(|s| {
                let payload_len = 64 + (s % 4) * 32;
                let payload = alloc(layout.array_size(payload_len as u64, 1));
                (payload, alloc(session_size), payload_len)
            })
            .collect();
        w.instance(tid, tenant, &[Value::Ref(name_id), Value::Ref(array)]);
        w.byte_array(chars, name.as_bytes());
        w.instance(name_id, string, &[Value::Ref(chars), Value::Int(0)]);
        first_session = first_session.or(members.first().map(|m| m.1));
        let elements: Vec<u64> = members.iter().map(|m| m.1).chain(stray).collect();
        w.object_array(array, session_array, &elements);
        for (s, (payload, sid, len)) in members.into_iter().enumerate() {
            w.byte_array(payload, &vec![0u8; len]);
            w.instance(sid, session, &[Value::Long(s as i64), Value::Ref(payload)]);
        }
        tenant_ids.push(tid);
    }
    let all = alloc(layout.array_size(tenants as u64, layout.reference_size()));
    w.object_array(all, tenant_array, &tenant_ids);
    w.class_dump(registry, object, &[], &[(12, all)]);
    w.root(sub::ROOT_STICKY_CLASS, registry);
    // A connection string with its password, as services keep them: what a secret scan finds.
    let url = "postgres://app:s3cret-demo@db.internal:5432/app";
    let url_chars = alloc(layout.array_size(url.len() as u64, 1));
    let url_string = alloc(string_size);
    w.byte_array(url_chars, url.as_bytes());
    w.instance(url_string, string, &[Value::Ref(url_chars), Value::Int(0)]);
    w.class_dump(config, object, &[], &[(16, url_string)]);
    w.root(sub::ROOT_STICKY_CLASS, config);
    w.finish(segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::histogram::histogram;
    use crate::heap::hprof::{self, RootKind, Visitor};

    #[test]
    fn every_variant_reads_with_exact_sizes() {
        for id_size in [4, 8] {
            for segment in [None, Some(4096)] {
                let bytes = demo_dump(id_size, 3, 10, 5, segment);
                let h = histogram(&bytes[..], "demo").unwrap();
                assert!(h.partial.is_none(), "{:?}", h.partial);
                assert_eq!(h.layout, Layout::default(), "ids {id_size}, segment {segment:?}");
                let row = |name: &str| h.rows.iter().find(|r| r.class == name).cloned().unwrap();
                let sessions = row("com.acme.Session");
                assert_eq!((sessions.instances, sessions.shallow_bytes), (70, 70 * 24), "ids {id_size}");
                assert_eq!(row("com.acme.Tenant").shallow_bytes, 3 * 24);
                assert_eq!(row("java.lang.String").instances, 4);
                assert_eq!(row("byte[]").instances, 74);
                assert_eq!(row("com.acme.Session[]").largest, 224, "16 + 51 references of 4 bytes, aligned to 8");
            }
        }
    }

    #[test]
    fn a_mapped_dump_read_on_several_threads_gives_the_sequential_histogram() {
        let dir = tempfile::tempdir().unwrap();
        for segment in [None, Some(4096)] {
            let bytes = demo_dump(8, 7, 300, 5, segment);
            let path = dir.path().join("d.hprof");
            std::fs::write(&path, &bytes).unwrap();
            let sequential = histogram(&bytes[..], "demo").unwrap();
            let mut reports = 0;
            let parallel = crate::heap::histogram::histogram_file(&path, &mut |_| {
                reports += 1;
                true
            })
            .unwrap();
            assert_eq!(parallel.rows, sequential.rows, "segments {segment:?}");
            assert_eq!((parallel.layout, parallel.partial), (sequential.layout, None));
            // A truncated file falls back to the streaming reader, which says where it broke.
            std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
            let cut = crate::heap::histogram::histogram_file(&path, &mut |_| true).unwrap();
            assert!(cut.partial.as_deref().is_some_and(|p| p.contains("truncated")), "{:?}", cut.partial);
        }
    }

    #[test]
    fn a_mapped_read_on_several_threads_can_be_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.hprof");
        // Large enough that the readers are still at work when progress is first asked.
        std::fs::write(&path, demo_dump(8, 5, 40_000, 5, Some(1 << 20))).unwrap();
        let err = crate::heap::histogram::histogram_file(&path, &mut |_| false).unwrap_err();
        assert!(matches!(err, crate::heap::Error::Cancelled { .. }), "{err}");
    }

    #[test]
    fn every_root_kind_and_version_is_read() {
        let kinds = [
            (sub::ROOT_UNKNOWN, RootKind::Unknown),
            (sub::ROOT_JNI_GLOBAL, RootKind::JniGlobal),
            (sub::ROOT_JNI_LOCAL, RootKind::JniLocal),
            (sub::ROOT_JAVA_FRAME, RootKind::JavaFrame),
            (sub::ROOT_NATIVE_STACK, RootKind::NativeStack),
            (sub::ROOT_STICKY_CLASS, RootKind::StickyClass),
            (sub::ROOT_THREAD_BLOCK, RootKind::ThreadBlock),
            (sub::ROOT_MONITOR_USED, RootKind::MonitorUsed),
            (sub::ROOT_THREAD_OBJECT, RootKind::ThreadObject),
            (sub::ROOT_INTERNED_STRING, RootKind::InternedString),
            (sub::ROOT_FINALIZING, RootKind::Finalizing),
            (sub::ROOT_DEBUGGER, RootKind::Debugger),
            (sub::ROOT_REFERENCE_CLEANUP, RootKind::ReferenceCleanup),
            (sub::ROOT_VM_INTERNAL, RootKind::VmInternal),
            (sub::ROOT_JNI_MONITOR, RootKind::JniMonitor),
            (sub::ROOT_UNREACHABLE, RootKind::Unreachable),
        ];
        #[derive(Default)]
        struct Roots(Vec<(RootKind, u64)>, String);
        impl Visitor for Roots {
            fn header(&mut self, header: &hprof::Header) {
                self.1 = header.version.clone();
            }
            fn root(&mut self, kind: RootKind, id: u64) {
                self.0.push((kind, id));
            }
        }
        for (version, id_size) in [("JAVA PROFILE 1.0.1", 4), ("JAVA PROFILE 1.0.3", 8)] {
            let mut w = Writer::new(version, id_size);
            for (i, (t, _)) in kinds.iter().enumerate() {
                w.root(*t, 0x10 + i as u64);
            }
            let bytes = w.finish(Some(64));
            let mut roots = Roots::default();
            hprof::read(&bytes[..], "roots", &mut roots).unwrap();
            assert_eq!(roots.1, version);
            let expected: Vec<(RootKind, u64)> =
                kinds.iter().enumerate().map(|(i, (_, k))| (*k, 0x10 + i as u64)).collect();
            assert_eq!(roots.0, expected, "{version}");
        }
    }
}
