//! How a 64-bit HotSpot JVM lays out objects: header and reference sizes under compressed oops
//! and compressed class pointers, object alignment, and where each instance field goes.
//!
//! Instance fields follow HotSpot's field layout of JDK 15 and later: a class starts from its
//! superclass's layout, holes included; its primitive fields, largest first, then its
//! references each take the smallest hole that fits them (the last such hole on a tie) or go at
//! the end, aligned to their size. The instance is the end of the last field rounded up to the
//! object alignment.

/// An object layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub compressed_oops: bool,
    pub compressed_class_pointers: bool,
    /// `-XX:ObjectAlignmentInBytes`: 8 unless set.
    pub alignment: u64,
}

impl Default for Layout {
    /// HotSpot's default for heaps under 32 GB.
    fn default() -> Self {
        Layout { compressed_oops: true, compressed_class_pointers: true, alignment: 8 }
    }
}

/// Arrays' elements start after the header and length rounded up to a heap word (JDK 8 to 21).
const HEAP_WORD: u64 = 8;

/// One instance field, as the layout sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A primitive of this many bytes (1, 2, 4 or 8).
    Primitive(u8),
    Reference,
}

/// The most fields a hierarchy is laid out field by field; beyond it (no real class comes near)
/// the size is the packed estimate, so that a crafted dump cannot make the layout quadratic.
pub const MAX_LAID_OUT_FIELDS: usize = 4096;

impl Layout {
    /// The layouts a 64-bit HotSpot can use: compressed oops (not under ZGC) and compressed
    /// class pointers can each be switched off, and the alignment raised to 16.
    pub const CANDIDATES: [Layout; 8] = [
        Layout { compressed_oops: true, compressed_class_pointers: true, alignment: 8 },
        Layout { compressed_oops: false, compressed_class_pointers: true, alignment: 8 },
        Layout { compressed_oops: false, compressed_class_pointers: false, alignment: 8 },
        Layout { compressed_oops: true, compressed_class_pointers: false, alignment: 8 },
        Layout { compressed_oops: true, compressed_class_pointers: true, alignment: 16 },
        Layout { compressed_oops: false, compressed_class_pointers: true, alignment: 16 },
        Layout { compressed_oops: false, compressed_class_pointers: false, alignment: 16 },
        Layout { compressed_oops: true, compressed_class_pointers: false, alignment: 16 },
    ];

    pub fn reference_size(self) -> u64 {
        if self.compressed_oops { 4 } else { 8 }
    }

    /// Mark word plus class pointer.
    pub fn header_size(self) -> u64 {
        if self.compressed_class_pointers { 12 } else { 16 }
    }

    /// Round up to the object alignment.
    pub fn align(self, bytes: u64) -> u64 {
        let alignment = self.alignment.max(HEAP_WORD);
        bytes.div_ceil(alignment) * alignment
    }

    /// An array of `length` elements of `element` bytes each: the header and length, padded to
    /// a heap word (as JDK 8 to 21 do), then the elements.
    pub fn array_size(self, length: u64, element: u64) -> u64 {
        let base = (self.header_size() + 4).div_ceil(HEAP_WORD) * HEAP_WORD;
        self.align(base + length * element)
    }

    /// An instance with `references` reference fields and `primitive_bytes` of other fields,
    /// packed after the header with no holes: a lower bound, used where the fields' own types
    /// are not known.
    pub fn instance_size(self, references: u64, primitive_bytes: u64) -> u64 {
        self.align(self.header_size() + references * self.reference_size() + primitive_bytes).max(16)
    }

    /// An instance of a class whose hierarchy declares `classes` (the root class's own fields
    /// first, the class's own last), laid out as HotSpot does, with the work it took (fields
    /// placed times holes looked at) so that callers can bound the total.
    pub fn hierarchy_size(self, classes: &[&[Field]]) -> (u64, u64) {
        let total: usize = classes.iter().map(|c| c.len()).sum();
        if total > MAX_LAID_OUT_FIELDS {
            let refs = classes.iter().flat_map(|c| c.iter()).filter(|f| **f == Field::Reference).count() as u64;
            let bytes = classes.iter().flat_map(|c| c.iter()).map(|f| self.field_size(*f)).sum::<u64>();
            return (self.instance_size(refs, bytes - refs * self.reference_size()), total as u64);
        }
        let mut fields = Fields { holes: Vec::new(), end: self.header_size(), work: 0 };
        for own in classes {
            fields.add_class(own, self);
        }
        (self.align(fields.end).max(16), fields.work)
    }

    fn field_size(self, field: Field) -> u64 {
        match field {
            Field::Primitive(bytes) => u64::from(bytes),
            Field::Reference => self.reference_size(),
        }
    }
}

/// The free space of a layout being built: the holes between fields and where the last ends.
struct Fields {
    /// (offset, size), by offset.
    holes: Vec<(u64, u64)>,
    end: u64,
    work: u64,
}

impl Fields {
    fn add_class(&mut self, own: &[Field], layout: Layout) {
        let references = own.iter().filter(|f| **f == Field::Reference).count();
        let mut sizes: Vec<u64> =
            own.iter().filter_map(|f| if let Field::Primitive(b) = f { Some(u64::from(*b)) } else { None }).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.extend(std::iter::repeat_n(layout.reference_size(), references));
        for size in sizes {
            self.place(size.max(1));
        }
    }

    /// Put a field of `size` bytes, aligned to its size, in the smallest hole it fits (the
    /// last one of that size), else at the end.
    fn place(&mut self, size: u64) {
        let mut best: Option<usize> = None;
        for (i, &(offset, room)) in self.holes.iter().enumerate() {
            self.work += 1;
            if padding(offset, size) + size <= room && best.is_none_or(|b| room <= self.holes[b].1) {
                best = Some(i);
            }
        }
        match best {
            Some(i) => {
                let (offset, room) = self.holes.remove(i);
                let pad = padding(offset, size);
                let mut left = Vec::with_capacity(2);
                if pad > 0 {
                    left.push((offset, pad));
                }
                if room > pad + size {
                    left.push((offset + pad + size, room - pad - size));
                }
                for (k, hole) in left.into_iter().enumerate() {
                    self.holes.insert(i + k, hole);
                }
            }
            None => {
                let pad = padding(self.end, size);
                if pad > 0 {
                    self.holes.push((self.end, pad));
                }
                self.end += pad + size;
            }
        }
    }
}

/// Bytes from `offset` to the next multiple of `alignment`.
fn padding(offset: u64, alignment: u64) -> u64 {
    (alignment - offset % alignment) % alignment
}

#[cfg(test)]
mod tests {
    use super::Field::{Primitive as P, Reference as R};
    use super::*;

    const CCP_OFF: Layout = Layout { compressed_oops: true, compressed_class_pointers: false, alignment: 8 };
    const ZGC: Layout = Layout { compressed_oops: false, compressed_class_pointers: true, alignment: 8 };
    const ALIGN_16: Layout = Layout { compressed_oops: true, compressed_class_pointers: true, alignment: 16 };

    fn size(layout: Layout, classes: &[&[Field]]) -> u64 {
        layout.hierarchy_size(classes).0
    }

    #[test]
    fn arrays_match_hotspot() {
        let l = Layout::default();
        assert_eq!(l.array_size(0, 1), 16);
        assert_eq!(l.array_size(1, 1), 24);
        assert_eq!(l.array_size(9, 1), 32);
        assert_eq!(l.array_size(3, 4), 32, "Object[3] with 4-byte references");
        assert_eq!(l.array_size(1, 8), 24, "long[1]");
        let none = Layout { compressed_oops: false, compressed_class_pointers: false, alignment: 8 };
        assert_eq!(none.array_size(3, 8), 48, "Object[3]: 16 header + 4 length, aligned to 24, + 24");
        assert_eq!(none.array_size(0, 1), 24);
        assert_eq!(ALIGN_16.array_size(1, 1), 32, "16 + 1, aligned to 16");
        assert_eq!(ALIGN_16.array_size(16, 1), 32);
    }

    // The sizes below are what `jcmd GC.class_histogram` printed for tests/fixtures/Layouts.java
    // on OpenJDK 17 under each set of flags.

    #[test]
    fn a_field_fills_the_hole_after_a_twelve_byte_header() {
        let l = Layout::default();
        assert_eq!(size(l, &[&[]]), 16, "no fields");
        assert_eq!(size(l, &[&[P(1)]]), 16);
        assert_eq!(size(l, &[&[P(8)]]), 24, "the long is aligned to 16, leaving 12..16 empty");
        assert_eq!(size(l, &[&[P(8), P(4)]]), 24, "the int takes 12..16");
        assert_eq!(size(l, &[&[R, R, R]]), 24);
        let all = [P(1), P(1), P(2), P(2), P(4), P(4), P(8), P(8)];
        assert_eq!(size(l, &[&all]), 48);
        assert_eq!(size(l, &[&[P(1), R, P(8), P(2), R]]), 32, "short and byte share the hole");
        let wide = [P(8), P(8), P(8), P(8), P(8), P(4), R, R];
        assert_eq!(size(l, &[&wide]), 64);
    }

    #[test]
    fn a_subclass_fills_its_superclass_holes() {
        let l = Layout::default();
        assert_eq!(size(l, &[&[P(8)], &[P(4)]]), 24);
        assert_eq!(size(l, &[&[P(1)], &[P(8), P(1)]]), 24, "the byte after the superclass's byte");
        assert_eq!(size(l, &[&[P(4)], &[P(1)], &[P(2), R, P(2)]]), 32);
    }

    #[test]
    fn references_of_eight_bytes_under_zgc() {
        assert_eq!(size(ZGC, &[&[R, R, R]]), 40);
        assert_eq!(size(ZGC, &[&[P(1), R, P(8), P(2), R]]), 40);
        assert_eq!(size(ZGC, &[&[P(8), P(8), P(8), P(8), P(8), P(4), R, R]]), 72);
        assert_eq!(size(ZGC, &[&[P(4)], &[P(1)], &[P(2), R, P(2)]]), 32);
    }

    #[test]
    fn a_sixteen_byte_header_without_compressed_class_pointers() {
        assert_eq!(size(CCP_OFF, &[&[P(1)]]), 24);
        assert_eq!(size(CCP_OFF, &[&[P(8), P(4)]]), 32);
        assert_eq!(size(CCP_OFF, &[&[P(1)], &[P(8), P(1)]]), 32);
        assert_eq!(size(CCP_OFF, &[&[P(4)], &[P(1)], &[P(2), R, P(2)]]), 32);
        assert_eq!(size(CCP_OFF, &[&[R, R, R]]), 32);
    }

    #[test]
    fn sixteen_byte_alignment_rounds_every_instance_up() {
        assert_eq!(size(ALIGN_16, &[&[P(8)]]), 32);
        assert_eq!(size(ALIGN_16, &[&[P(1)]]), 16);
        assert_eq!(size(ALIGN_16, &[&[P(1), R, P(8), P(2), R]]), 32);
    }

    #[test]
    fn a_huge_hierarchy_is_estimated_not_laid_out() {
        let many = vec![P(1); MAX_LAID_OUT_FIELDS + 1];
        let (bytes, work) = Layout::default().hierarchy_size(&[&many]);
        assert_eq!(bytes, Layout::default().instance_size(0, many.len() as u64));
        assert_eq!(work, many.len() as u64);
    }
}
