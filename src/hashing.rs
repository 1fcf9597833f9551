//! A fast, non-cryptographic hash for in-memory tables keyed by short byte strings (log tokens,
//! tenant names). Not for anything an attacker chooses to collide on at scale.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(K).rotate_left(29)
}

/// The eight bytes at `at` (the caller keeps `at + 8 <= bytes.len()`).
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The four bytes at `at` (the caller keeps `at + 4 <= bytes.len()`).
fn half(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Hash `bytes` eight at a time with a multiply-rotate mix. Most keys are log tokens of a few
/// bytes: those are read as two overlapping words (first and last bytes), without copying a
/// short tail into a buffer, which showed in profiles of the template miner.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let mut h = K;
    match len {
        0 => {}
        1..=3 => {
            let (a, b, c) = (u64::from(bytes[0]), u64::from(bytes[len / 2]), u64::from(bytes[len - 1]));
            h = mix(h, a << 16 | b << 8 | c);
        }
        4..=7 => h = mix(h, half(bytes, 0) << 32 | half(bytes, len - 4)),
        _ => {
            let mut at = 0;
            while at + 8 < len {
                h = mix(h, word(bytes, at));
                at += 8;
            }
            // The last eight bytes, overlapping the previous word where the length is not a
            // multiple of eight.
            h = mix(h, word(bytes, len - 8));
        }
    }
    // The length in a round of its own: xored into the first word instead, it cancelled
    // against the first byte's low bits, and keys of different lengths collided (100 of the
    // 2.4 million in the test below).
    h = mix(h, len as u64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_of_every_length_do_not_collide() {
        let alphabet = b"ab9=_";
        let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = keys.clone();
        // Every key of up to 9 bytes over five letters: 2.4 million, each length read its own way.
        for _ in 0..9 {
            last = last.iter().flat_map(|k| alphabet.iter().map(move |&b| [k.as_slice(), &[b]].concat())).collect();
            keys.extend(last.iter().cloned());
        }
        let mut hashes: Vec<u64> = keys.iter().map(|k| hash_bytes(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        assert_ne!(hash_bytes(b"abcdefghijklmnopq"), hash_bytes(b"abcdefghijklmnopr"), "the last byte counts");
    }
}
