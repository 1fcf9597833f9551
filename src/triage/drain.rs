//! Drain-style online template mining (He et al., ICWS 2017): lines are grouped by token count,
//! then by their first tokens in a fixed-depth prefix tree; in a leaf a line joins the most
//! similar group when enough of its tokens agree, and the group's template turns the positions
//! that differ into wildcards.
//!
//! Differences from the original, each measured on Loghub (benches/README.md):
//! - masking works inside tokens: the parts of a token between delimiters (`=`, `:`, `,`,
//!   brackets, quotes, `/`, ...) that carry a digit become `<*>`, so `uid=1000` and `uid=42` are
//!   one token `uid=<*>` and keys stay constant; a token with no letters left is a wildcard, as
//!   are month and weekday names;
//! - a number followed by a unit (`1.2 KB`, `<1 sec`) is one wildcard, and consecutive
//!   wildcards are one, so optional or variable-length values do not change the token count;
//! - two plain words never merge into a wildcard: `VM Paused` and `VM Resumed` are different
//!   events, while identifiers, paths and numbers may vary;
//! - an empty bracket pair or quotes (`()`, `""`) is a wildcard, an empty value where another
//!   line has `(10.0.0.7)`;
//! - groups whose templates end up equal are reported as one template.

use hashbrown::HashTable;

use crate::hashing::hash_bytes as hash;

/// The wildcard token.
pub const WILDCARD: &str = "<*>";
const WILD: u32 = 0;

/// Tuning of the miner. One default serves every Loghub dataset.
#[derive(Debug, Clone)]
pub struct Config {
    /// Depth of the prefix tree: the token-count level, `depth - 2` token levels, the leaves.
    pub depth: usize,
    /// A line joins a group when at least this share of its tokens equal the template's.
    pub similarity: f64,
    /// Children per tree node before further distinct tokens share a wildcard child.
    pub max_children: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { depth: 4, similarity: 0.5, max_children: 100 }
    }
}

const WS: u8 = 1;
const DIGIT: u8 = 2;
const DELIM: u8 = 4;

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let ws = b" \t\n\r\x0b\x0c";
    let mut i = 0;
    while i < ws.len() {
        table[ws[i] as usize] = WS;
        i += 1;
    }
    let mut d = b'0';
    while d <= b'9' {
        table[d as usize] = DIGIT;
        d += 1;
    }
    let delims = b"=:,()[]{}\"'/@#;<>|&?";
    let mut i = 0;
    while i < delims.len() {
        table[delims[i] as usize] = DELIM;
        i += 1;
    }
    table
}
static CLASS: [u8; 256] = classes();

const CALENDAR: [&[u8; 3]; 19] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec", b"Mon", b"Tue",
    b"Wed", b"Thu", b"Fri", b"Sat", b"Sun",
];
const UNITS: [&str; 22] = [
    "b", "B", "KB", "MB", "GB", "TB", "kB", "KiB", "MiB", "GiB", "bytes", "ms", "s", "sec", "secs", "seconds", "min",
    "mins", "minutes", "ns", "us", "%",
];

fn is_calendar(token: &[u8]) -> bool {
    token.len() == 3 && token[0].is_ascii_uppercase() && CALENDAR.iter().any(|c| *c == token)
}

/// `()`, `[]`, `""`: a value that happens to be empty, as `(10.0.0.7)` is one that is not.
fn is_empty_value(token: &[u8]) -> bool {
    matches!(token, b"()" | b"[]" | b"{}" | b"\"\"" | b"''" | b"<>")
}

fn is_unit(token: &[u8]) -> bool {
    token.len() <= 8 && {
        let end = token.iter().rposition(|b| !b")],.;".contains(b)).map_or(0, |p| p + 1);
        UNITS.iter().any(|u| u.as_bytes() == &token[..end])
    }
}

/// A plain word: letters (with inner `-` or `'`), maybe wrapped in brackets, quotes or trailing
/// punctuation.
fn is_word(token: &str) -> bool {
    let t = token
        .trim_start_matches(['(', '[', '"', '\''])
        .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '"', '\'']);
    t.bytes().any(|b| b.is_ascii_alphabetic()) && t.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'\'')
}

struct Token {
    text: Box<str>,
    word: bool,
    /// Holds a masked part: such tokens take the wildcard branch of the tree.
    masked: bool,
}

#[derive(Default)]
struct Node {
    children: Vec<(u32, u32)>,
    groups: Vec<u32>,
}

struct Group {
    template: Vec<u32>,
    lines: u64,
}

/// The online miner: feed lines with [`Miner::add`], read templates at any time.
pub struct Miner {
    config: Config,
    table: HashTable<u32>,
    tokens: Vec<Token>,
    nodes: Vec<Node>,
    by_count: Vec<u32>,
    groups: Vec<Group>,
    line: Vec<u32>,
    masked: String,
}

impl Miner {
    pub fn new(config: Config) -> Miner {
        Miner {
            config,
            table: HashTable::new(),
            tokens: vec![Token { text: WILDCARD.into(), word: false, masked: true }],
            nodes: Vec::new(),
            by_count: Vec::new(),
            groups: Vec::new(),
            line: Vec::new(),
            masked: String::new(),
        }
    }

    fn intern(&mut self, text: &str) -> u32 {
        let h = hash(text.as_bytes());
        let tokens = &self.tokens;
        if let Some(&id) = self.table.find(h, |&id| &*tokens[id as usize].text == text) {
            return id;
        }
        let id = self.tokens.len() as u32;
        let masked = text.contains(WILDCARD) || text.bytes().any(|b| b.is_ascii_digit());
        self.tokens.push(Token { text: text.into(), word: is_word(text), masked });
        let tokens = &self.tokens;
        self.table.insert_unique(h, id, |&id| hash(tokens[id as usize].text.as_bytes()));
        id
    }

    /// Mask the digit-bearing parts of `token` (which has a digit); None when nothing but
    /// wildcards and delimiters is left.
    fn mask(&mut self, token: &str) -> Option<u32> {
        let bytes = token.as_bytes();
        let mut out = std::mem::take(&mut self.masked);
        out.clear();
        let mut letters = false;
        let mut i = 0;
        while i < bytes.len() {
            if CLASS[bytes[i] as usize] & DELIM != 0 {
                out.push(bytes[i] as char);
                i += 1;
                continue;
            }
            let start = i;
            let mut digit = false;
            while i < bytes.len() && CLASS[bytes[i] as usize] & DELIM == 0 {
                digit |= bytes[i].is_ascii_digit();
                i += 1;
            }
            if digit {
                out.push_str(WILDCARD);
            } else {
                letters = true;
                out.push_str(&token[start..i]);
            }
        }
        let id = letters.then(|| self.intern(&out));
        self.masked = out;
        id
    }

    fn tokenize(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut ids = std::mem::take(&mut self.line);
        ids.clear();
        let mut i = 0;
        let mut previous_wild = false;
        while i < bytes.len() {
            while i < bytes.len() && CLASS[bytes[i] as usize] == WS {
                i += 1;
            }
            if i == bytes.len() {
                break;
            }
            let start = i;
            let mut class = 0;
            while i < bytes.len() && CLASS[bytes[i] as usize] != WS {
                class |= CLASS[bytes[i] as usize];
                i += 1;
            }
            let token = &bytes[start..i];
            if previous_wild && is_unit(token) {
                continue;
            }
            let text = &line[start..i];
            let id = if class & DIGIT != 0 {
                self.mask(text).unwrap_or(WILD)
            } else if is_calendar(token) || is_empty_value(token) {
                WILD
            } else {
                self.intern(text)
            };
            if id == WILD && previous_wild {
                continue;
            }
            previous_wild = id == WILD;
            ids.push(id);
        }
        self.line = ids;
    }

    fn child(&mut self, node: u32, key: u32) -> u32 {
        let found = |nodes: &[Node], key: u32| nodes[node as usize].children.iter().find(|c| c.0 == key).map(|c| c.1);
        if let Some(c) = found(&self.nodes, key) {
            return c;
        }
        let full = self.nodes[node as usize].children.len() + 1 >= self.config.max_children;
        let key = if full { WILD } else { key };
        if let Some(c) = found(&self.nodes, key) {
            return c;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::default());
        self.nodes[node as usize].children.push((key, id));
        id
    }

    fn leaf(&mut self) -> u32 {
        let count = self.line.len();
        if self.by_count.len() <= count {
            self.by_count.resize(count + 1, u32::MAX);
        }
        let mut node = self.by_count[count];
        if node == u32::MAX {
            node = self.nodes.len() as u32;
            self.nodes.push(Node::default());
            self.by_count[count] = node;
        }
        for i in 0..count.min(self.config.depth.saturating_sub(2)) {
            let t = self.line[i];
            let key = if self.tokens[t as usize].masked { WILD } else { t };
            node = self.child(node, key);
        }
        node
    }

    /// Add one line; returns the group it joined (see [`Miner::template_id`]).
    pub fn add(&mut self, line: &str) -> u32 {
        self.tokenize(line);
        let leaf = self.leaf();
        let line = &self.line;
        let count = line.len();
        let mut best: Option<(u32, usize, usize)> = None;
        'groups: for &g in &self.nodes[leaf as usize].groups {
            let (mut same, mut wild) = (0, 0);
            for (&a, &b) in self.groups[g as usize].template.iter().zip(line) {
                if a == WILD {
                    wild += 1;
                } else if a == b {
                    same += 1;
                } else if self.tokens[a as usize].word && self.tokens[b as usize].word {
                    continue 'groups;
                }
            }
            if best.is_none_or(|(_, s, w)| same > s || (same == s && wild > w)) {
                best = Some((g, same, wild));
            }
        }
        match best {
            Some((g, same, _)) if count == 0 || same as f64 >= self.config.similarity * count as f64 => {
                let group = &mut self.groups[g as usize];
                for (a, &b) in group.template.iter_mut().zip(line) {
                    if *a != b {
                        *a = WILD;
                    }
                }
                group.lines += 1;
                g
            }
            _ => {
                let g = self.groups.len() as u32;
                self.groups.push(Group { template: line.clone(), lines: 1 });
                self.nodes[leaf as usize].groups.push(g);
                g
            }
        }
    }

    /// The template of a group as text.
    pub fn template(&self, group: u32) -> String {
        let mut out = String::new();
        for (i, &t) in self.groups[group as usize].template.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&self.tokens[t as usize].text);
        }
        out
    }

    /// For each group, the id of its template: groups whose templates came out equal share one,
    /// numbered from 1 in order of first appearance.
    pub fn template_ids(&self) -> Vec<u32> {
        let mut first: std::collections::HashMap<&[u32], u32> = std::collections::HashMap::new();
        self.groups
            .iter()
            .map(|g| {
                let next = first.len() as u32 + 1;
                *first.entry(&g.template).or_insert(next)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Template ids per line, and the template text per line.
    fn mine(lines: &[&str]) -> (Vec<u32>, Vec<String>) {
        let mut miner = Miner::new(Config::default());
        let groups: Vec<u32> = lines.iter().map(|l| miner.add(l)).collect();
        let ids = miner.template_ids();
        (groups.iter().map(|&g| ids[g as usize]).collect(), groups.iter().map(|&g| miner.template(g)).collect())
    }

    #[test]
    fn values_vary_and_words_do_not() {
        let (ids, templates) = mine(&[
            "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
            "Receiving block blk_7503483334202473044 src: /10.251.215.16:55695 dest: /10.251.215.16:50010",
            "VM Paused",
            "VM Resumed",
            "uid=1000 login ok",
            "uid=42 login ok",
        ]);
        assert_eq!(ids, [1, 1, 2, 3, 4, 4]);
        assert_eq!(templates[0], "Receiving block <*> src: <*> dest: <*>");
        assert_eq!(templates[3], "VM Resumed");
        assert_eq!(templates[5], "uid=<*> login ok");
    }

    #[test]
    fn whitespace_units_and_empty_values_do_not_change_the_shape() {
        let (ids, templates) = mine(&[
            "connection from 10.0.0.7 (10.0.0.7) at Fri Jul 1 09:12:44 2005",
            "connection  from\t10.0.0.9 () at Sat Jul 2 10:00:01 2005",
            "took 12 ms to flush",
            "took 1.5 s to flush",
        ]);
        assert_eq!(ids, [1, 1, 2, 2]);
        assert_eq!(templates[1], "connection from <*> at <*>");
        assert_eq!(templates[3], "took <*> to flush");
    }

    #[test]
    fn very_long_and_empty_lines_are_mined() {
        // The first tokens choose the tree's branch (as in Drain); the value comes after them.
        let long_a = format!("payload received {}/a", "x".repeat(1 << 20));
        let long_b = format!("payload received {}/a", "y".repeat(1 << 20));
        let (ids, _) = mine(&[&long_a, &long_b, "", "   "]);
        assert_eq!(ids[0], ids[1], "one changed token in three");
        assert_eq!(ids[2], ids[3], "blank lines share the empty template");
        let many: String = (0..5000).map(|i| format!("k{i} ")).collect();
        let (ids, templates) = mine(&[&many, &many.replace("k4999", "k5000")]);
        assert_eq!(ids, [1, 1]);
        assert_eq!(templates[1], "<*>", "5000 identifiers in a row are one wildcard");
    }
}
