//! A fast, non-cryptographic hash for in-memory tables keyed by short byte strings (log tokens,
//! tenant names). Not for anything an attacker chooses to collide on at scale.

use std::hash::{BuildHasher, Hasher};

/// Hash `bytes` eight at a time with a multiply-rotate mix.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = (h ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K).rotate_left(29);
    }
    (h ^ (h >> 32)).wrapping_mul(K)
}

/// [`hash_bytes`] as a `BuildHasher`, for `HashMap<String, _>`.
#[derive(Clone, Copy, Default)]
pub struct Fast;

impl BuildHasher for Fast {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes) ^ self.0.rotate_left(5);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
