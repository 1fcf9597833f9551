//! How a 64-bit HotSpot JVM lays out objects: header and reference sizes under compressed oops
//! and compressed class pointers, with 8-byte alignment.

/// An object layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub compressed_oops: bool,
    pub compressed_class_pointers: bool,
}

impl Default for Layout {
    /// HotSpot's default for heaps under 32 GB.
    fn default() -> Self {
        Layout { compressed_oops: true, compressed_class_pointers: true }
    }
}

const ALIGNMENT: u64 = 8;

impl Layout {
    /// The layouts a 64-bit HotSpot can use.
    pub const CANDIDATES: [Layout; 3] = [
        Layout { compressed_oops: true, compressed_class_pointers: true },
        Layout { compressed_oops: false, compressed_class_pointers: true },
        Layout { compressed_oops: false, compressed_class_pointers: false },
    ];

    pub fn reference_size(self) -> u64 {
        if self.compressed_oops { 4 } else { 8 }
    }

    /// Mark word plus class pointer.
    pub fn header_size(self) -> u64 {
        if self.compressed_class_pointers { 12 } else { 16 }
    }

    pub fn align(self, bytes: u64) -> u64 {
        bytes.div_ceil(ALIGNMENT) * ALIGNMENT
    }

    /// An array of `length` elements of `element` bytes each: the header and length, padded to
    /// 8 bytes (as JDK 8 to 21 do), then the elements.
    pub fn array_size(self, length: u64, element: u64) -> u64 {
        self.align(self.align(self.header_size() + 4) + length * element)
    }

    /// An instance with `references` reference fields and `primitive_bytes` of other fields
    /// (its class's and its superclasses'), packed after the header.
    pub fn instance_size(self, references: u64, primitive_bytes: u64) -> u64 {
        self.align(self.header_size() + references * self.reference_size() + primitive_bytes).max(16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_sizes_match_hotspot() {
        let l = Layout::default();
        assert_eq!(l.array_size(0, 1), 16);
        assert_eq!(l.array_size(1, 1), 24);
        assert_eq!(l.array_size(9, 1), 32);
        assert_eq!(l.array_size(3, 4), 32, "Object[3] with 4-byte references");
        assert_eq!(l.array_size(1, 8), 24, "long[1]");
        assert_eq!(l.instance_size(2, 4), 24, "java.lang.String: 2 refs (value, ...) and an int");
    }

    #[test]
    fn uncompressed_sizes() {
        let l = Layout { compressed_oops: false, compressed_class_pointers: false };
        assert_eq!(l.array_size(3, 8), 48, "Object[3]: 16 header + 4 length, aligned to 24, + 24");
        assert_eq!(l.array_size(0, 1), 24);
        assert_eq!(l.instance_size(1, 0), 24);
    }
}
