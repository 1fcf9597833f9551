//! Object ids to dense indexes without a hash table: ids are addresses, so a bitmap over the
//! address space (in pages, only where objects are) with a rank directory maps each id to the
//! number of objects below it. About 1.3 bits per 8 bytes of heap instead of 16+ bytes per object.
//!
//! A page costs 10 KiB however few objects it holds. Real heaps fill their pages; a crafted dump
//! can put each object on a page of its own, so once pages cost more than a bound and far more
//! than the objects, the index turns into a sorted list of ids (8 bytes an object).

use super::histogram::IdMap;

/// Slots per page: one bit per `1 << shift` bytes of address space.
const PAGE_SLOTS: u64 = 1 << 16;
const WORDS: usize = (PAGE_SLOTS / 64) as usize;
/// What one page costs: its bits and its word ranks.
const PAGE_BYTES: u64 = PAGE_SLOTS / 8 + WORDS as u64 * 2;
/// Pages may cost this much whatever they hold...
const PAGES_ALWAYS_ALLOWED: u64 = 64 << 20;
/// ...and past it, no more than this per object inserted.
const PAGE_BYTES_PER_OBJECT: u64 = 16;

/// A set of object ids that answers "which index is this id" in O(1).
pub struct IdIndex {
    /// Ids are multiples of `1 << shift`.
    shift: u32,
    /// Page number -> page position, for pages in address order once frozen.
    pages: IdMap<u32>,
    bits: Vec<[u64; WORDS]>,
    /// Per page and word: objects before this word, counted from the start of the page.
    word_rank: Vec<[u16; WORDS]>,
    /// Per page: objects in every page before it.
    page_rank: Vec<u32>,
    /// Per page position: its page number.
    page_numbers: Vec<u64>,
    len: u32,
    frozen: bool,
    /// Objects inserted (an id inserted twice counts twice).
    inserted: u64,
    /// Set when pages grew too sparse: every id, sorted once frozen; the pages are then empty.
    sparse: Option<Vec<u64>>,
}

impl IdIndex {
    /// An empty index for ids that are all multiples of `alignment` (a power of two).
    pub fn new(alignment: u64) -> IdIndex {
        IdIndex {
            shift: alignment.max(1).trailing_zeros(),
            pages: IdMap::default(),
            bits: Vec::new(),
            word_rank: Vec::new(),
            page_rank: Vec::new(),
            page_numbers: Vec::new(),
            len: 0,
            frozen: false,
            inserted: 0,
            sparse: None,
        }
    }

    fn split(&self, id: u64) -> (u64, usize, u64) {
        let slot = id >> self.shift;
        (slot / PAGE_SLOTS, ((slot % PAGE_SLOTS) / 64) as usize, 1u64 << (slot % 64))
    }

    /// Add an id (before [`IdIndex::freeze`]). Adding an id twice keeps one.
    pub fn insert(&mut self, id: u64) {
        debug_assert!(!self.frozen);
        self.inserted += 1;
        if let Some(ids) = &mut self.sparse {
            ids.push(id);
            return;
        }
        let (page, word, bit) = self.split(id);
        let next = self.bits.len() as u32;
        let at = *self.pages.entry(page).or_insert(next) as usize;
        if at == self.bits.len() {
            self.bits.push([0; WORDS]);
            let cost = self.bits.len() as u64 * PAGE_BYTES;
            if cost > PAGES_ALWAYS_ALLOWED && cost > self.inserted * PAGE_BYTES_PER_OBJECT {
                self.bits[at][word] |= bit;
                self.become_sparse();
                return;
            }
        }
        self.bits[at][word] |= bit;
    }

    /// Turn the pages into a list of the ids they hold.
    fn become_sparse(&mut self) {
        let mut ids = Vec::with_capacity(self.inserted as usize);
        for (&page, &at) in &self.pages {
            for (word, &bits) in self.bits[at as usize].iter().enumerate() {
                let mut rest = bits;
                while rest != 0 {
                    let slot = page * PAGE_SLOTS + word as u64 * 64 + rest.trailing_zeros() as u64;
                    ids.push(slot << self.shift);
                    rest &= rest - 1;
                }
            }
        }
        self.pages = IdMap::default();
        self.bits = Vec::new();
        self.sparse = Some(ids);
    }

    /// Put pages in address order and count ranks; after this, ids map to `0..len()` in address
    /// order. Fails when there are more than `u32::MAX` objects.
    pub fn freeze(&mut self) -> Result<(), String> {
        if let Some(ids) = &mut self.sparse {
            ids.sort_unstable();
            ids.dedup();
            ids.shrink_to_fit();
            self.len = u32::try_from(ids.len())
                .map_err(|_| format!("{} objects: more than this analysis can index (4294967295)", ids.len()))?;
            self.frozen = true;
            return Ok(());
        }
        let mut order: Vec<(u64, u32)> = self.pages.iter().map(|(&p, &at)| (p, at)).collect();
        order.sort_unstable();
        let mut bits = Vec::with_capacity(order.len());
        let mut old = std::mem::take(&mut self.bits);
        let mut total: u64 = 0;
        for (position, (page, at)) in order.into_iter().enumerate() {
            let words = std::mem::replace(&mut old[at as usize], [0; WORDS]);
            self.pages.insert(page, position as u32);
            self.page_rank.push(total as u32);
            self.page_numbers.push(page);
            let mut ranks = [0u16; WORDS];
            let mut in_page = 0u32;
            for (rank, word) in ranks.iter_mut().zip(&words) {
                *rank = in_page as u16;
                in_page += word.count_ones();
            }
            self.word_rank.push(ranks);
            total += in_page as u64;
            bits.push(words);
        }
        if total > u32::MAX as u64 {
            return Err(format!("{total} objects: more than this analysis can index (4294967295)"));
        }
        self.bits = bits;
        self.len = total as u32;
        self.frozen = true;
        Ok(())
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index of `id`, or `None` when the id is not an object of the dump.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        debug_assert!(self.frozen);
        if let Some(ids) = &self.sparse {
            return ids.binary_search(&id).ok().map(|i| i as u32);
        }
        if id & ((1u64 << self.shift) - 1) != 0 {
            return None;
        }
        let (page, word, bit) = self.split(id);
        let at = *self.pages.get(&page)? as usize;
        let w = self.bits[at][word];
        if w & bit == 0 {
            return None;
        }
        Some(self.page_rank[at] + self.word_rank[at][word] as u32 + (w & (bit - 1)).count_ones())
    }

    /// The id at `index` (the inverse of [`IdIndex::get`]).
    pub fn id(&self, index: u32) -> u64 {
        debug_assert!(index < self.len);
        if let Some(ids) = &self.sparse {
            return ids[index as usize];
        }
        let at = self.page_rank.partition_point(|&r| r <= index) - 1;
        let local = index - self.page_rank[at];
        let word = self.word_rank[at].partition_point(|&r| r as u32 <= local) - 1;
        let mut bits = self.bits[at][word];
        for _ in 0..local - self.word_rank[at][word] as u32 {
            bits &= bits - 1;
        }
        let slot = self.page_numbers[at] * PAGE_SLOTS + word as u64 * 64 + bits.trailing_zeros() as u64;
        slot << self.shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_address_order_across_pages() {
        let ids = [0x7f00_0000_0010u64, 0x10, 0x18, 0x4000_0000, 0x4000_0008, 0x7f00_0000_0000, 0x8_0000];
        let mut index = IdIndex::new(8);
        for id in ids {
            index.insert(id);
        }
        index.insert(0x18);
        index.freeze().unwrap();
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        assert_eq!(index.len(), sorted.len() as u32);
        for (rank, id) in sorted.iter().enumerate() {
            assert_eq!(index.get(*id), Some(rank as u32), "{id:#x}");
            assert_eq!(index.id(rank as u32), *id);
        }
        assert_eq!(index.get(0x20), None);
        assert_eq!(index.get(0x11), None, "not aligned");
        assert_eq!(index.get(0x9999_0000), None, "no page");
    }

    #[test]
    fn dense_pages_count_every_object() {
        let mut index = IdIndex::new(8);
        for i in 0..200_000u64 {
            index.insert(0x1000_0000 + i * 8);
        }
        index.freeze().unwrap();
        assert_eq!(index.len(), 200_000);
        assert_eq!(index.get(0x1000_0000 + 199_999 * 8), Some(199_999));
        assert_eq!(index.get(0x1000_0000 + 65_536 * 8), Some(65_536));
        for rank in [0, 1, 63, 64, 65_535, 65_536, 199_999] {
            assert_eq!(index.id(rank), 0x1000_0000 + rank as u64 * 8);
        }
    }

    #[test]
    fn objects_on_pages_of_their_own_cost_a_list_not_pages() {
        let mut index = IdIndex::new(8);
        let spread = |i: u64| 0x10 + i * PAGE_SLOTS * 8 * 3;
        let n = 20_000u64;
        for i in 0..n {
            index.insert(spread(i));
        }
        assert!(index.sparse.is_some(), "20000 pages of one object each stay as pages");
        index.insert(spread(7));
        index.freeze().unwrap();
        assert_eq!(index.len(), n as u32);
        for i in [0, 1, 6553, 6554, n - 1] {
            assert_eq!(index.get(spread(i)), Some(i as u32));
            assert_eq!(index.id(i as u32), spread(i));
        }
        assert_eq!(index.get(spread(1) + 8), None);
    }
}
