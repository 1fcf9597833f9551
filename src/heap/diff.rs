//! Comparing class histograms of snapshots taken over time: what grew, what is new, what is gone,
//! and with three or more snapshots whether the growth is steady.

use super::histogram::Histogram;
use std::collections::BTreeMap;

/// How a class changed between the first and the last snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Vanished,
    Grew,
    Shrank,
    Same,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Vanished => "vanished",
            Status::Grew => "grew",
            Status::Shrank => "shrank",
            Status::Same => "same",
        }
    }
}

/// One class across the snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub class: String,
    /// Instances in each snapshot, in order.
    pub instances: Vec<u64>,
    /// Shallow bytes in each snapshot, in order.
    pub bytes: Vec<u64>,
    pub status: Status,
    /// Least-squares growth in bytes per snapshot; only with three or more snapshots.
    pub slope: Option<f64>,
    /// Bytes never fell and rose overall; only with three or more snapshots.
    pub monotonic: Option<bool>,
}

impl DiffRow {
    pub fn instance_delta(&self) -> i64 {
        *self.instances.last().unwrap_or(&0) as i64 - *self.instances.first().unwrap_or(&0) as i64
    }

    pub fn bytes_delta(&self) -> i64 {
        *self.bytes.last().unwrap_or(&0) as i64 - *self.bytes.first().unwrap_or(&0) as i64
    }

    /// Growth relative to the first snapshot; `None` for a class that was not there.
    pub fn bytes_delta_percent(&self) -> Option<f64> {
        let base = *self.bytes.first()?;
        (base > 0).then(|| self.bytes_delta() as f64 * 100.0 / base as f64)
    }
}

/// Per-class rows for `snapshots` (oldest first), largest byte growth first.
pub fn diff(snapshots: &[Histogram]) -> Vec<DiffRow> {
    let n = snapshots.len();
    let mut classes: BTreeMap<&str, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for (i, snapshot) in snapshots.iter().enumerate() {
        for row in &snapshot.rows {
            let entry = classes.entry(&row.class).or_insert_with(|| (vec![0; n], vec![0; n]));
            entry.0[i] += row.instances;
            entry.1[i] += row.shallow_bytes;
        }
    }
    let mut rows: Vec<DiffRow> = classes
        .into_iter()
        .map(|(class, (instances, bytes))| {
            let (first, last) = (bytes[0], bytes[n - 1]);
            let (first_n, last_n) = (instances[0], instances[n - 1]);
            let status = match () {
                _ if first_n == 0 && last_n > 0 => Status::New,
                _ if first_n > 0 && last_n == 0 => Status::Vanished,
                _ if last > first => Status::Grew,
                _ if last < first => Status::Shrank,
                _ => Status::Same,
            };
            let trend = n >= 3;
            let slope = trend.then(|| slope(&bytes));
            let monotonic = trend.then(|| bytes.windows(2).all(|w| w[1] >= w[0]) && last > first);
            DiffRow { class: class.to_string(), instances, bytes, status, slope, monotonic }
        })
        .collect();
    rows.sort_by(|a, b| b.bytes_delta().cmp(&a.bytes_delta()).then_with(|| a.class.cmp(&b.class)));
    rows
}

/// Least-squares slope of `values` against their index.
fn slope(values: &[u64]) -> f64 {
    let n = values.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, &v) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (v as f64 - mean_y);
        den += dx * dx;
    }
    if den == 0.0 { 0.0 } else { num / den }
}

/// How much growth is too much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Growth of a class beyond this percentage of its own first-snapshot bytes.
    Percent(f64),
    /// Growth of a class beyond this many bytes.
    Bytes(u64),
}

impl Threshold {
    /// `15%`, `1048576`, `512KB`, `10MB`, `1GB` (binary units).
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let bad =
            || format!("threshold {text:?}: use a percentage like \"15%\" or a size like \"10MB\" or \"1048576\"");
        if let Some(p) = t.strip_suffix('%') {
            return p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p >= 0.0)
                .map(Threshold::Percent)
                .ok_or_else(bad);
        }
        let upper = t.to_ascii_uppercase();
        let (digits, unit) = match upper.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => (&upper[..i], upper[i..].trim()),
            None => (upper.as_str(), ""),
        };
        let scale = match unit {
            "" | "B" => 1,
            "KB" | "K" | "KIB" => 1 << 10,
            "MB" | "M" | "MIB" => 1 << 20,
            "GB" | "G" | "GIB" => 1 << 30,
            _ => return Err(bad()),
        };
        digits.parse::<u64>().map(|n| Threshold::Bytes(n * scale)).map_err(|_| bad())
    }

    /// Whether `row` grew past the threshold. Percentages ignore classes holding less than 0.1 %
    /// of the first snapshot's heap, where a few objects make a large percentage; a class that is
    /// new counts by its bytes against that same floor.
    pub fn exceeded(&self, row: &DiffRow, base_heap: u64) -> bool {
        let delta = row.bytes_delta();
        if delta <= 0 {
            return false;
        }
        match *self {
            Threshold::Bytes(limit) => delta as u64 > limit,
            Threshold::Percent(p) => {
                let floor = base_heap / 1000;
                match row.bytes_delta_percent() {
                    Some(pct) => pct > p && delta as u64 >= floor,
                    None => delta as u64 >= floor.max(1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::histogram::{ClassRow, Histogram};
    use crate::heap::layout::Layout;

    fn snapshot(rows: &[(&str, u64, u64)]) -> Histogram {
        Histogram {
            rows: rows
                .iter()
                .map(|(c, n, b)| ClassRow { class: c.to_string(), instances: *n, shallow_bytes: *b, largest: 0 })
                .collect(),
            layout: Layout::default(),
            layout_note: None,
            partial: None,
        }
    }

    #[test]
    fn deltas_statuses_and_trends() {
        let rows = diff(&[
            snapshot(&[("A", 10, 1000), ("B", 5, 500), ("C", 1, 100)]),
            snapshot(&[("A", 20, 2000), ("B", 5, 400), ("D", 1, 50)]),
            snapshot(&[("A", 30, 3000), ("B", 5, 500), ("D", 2, 100)]),
        ]);
        let a = &rows[0];
        assert_eq!((a.class.as_str(), a.bytes_delta(), a.instance_delta(), a.status), ("A", 2000, 20, Status::Grew));
        assert_eq!((a.slope, a.monotonic, a.bytes_delta_percent()), (Some(1000.0), Some(true), Some(200.0)));
        let by = |c: &str| rows.iter().find(|r| r.class == c).unwrap();
        assert_eq!(by("B").status, Status::Same);
        assert_eq!(by("B").monotonic, Some(false), "500 -> 400 -> 500 is not steady growth");
        assert_eq!(by("C").status, Status::Vanished);
        assert_eq!(by("D").status, Status::New);
        assert_eq!(by("D").bytes_delta_percent(), None);
    }

    #[test]
    fn thresholds() {
        assert_eq!(Threshold::parse("15%"), Ok(Threshold::Percent(15.0)));
        assert_eq!(Threshold::parse("10MB"), Ok(Threshold::Bytes(10 << 20)));
        assert_eq!(Threshold::parse("4096"), Ok(Threshold::Bytes(4096)));
        assert!(Threshold::parse("lots").unwrap_err().contains("\"15%\""));
        let rows =
            diff(&[snapshot(&[("A", 1, 100_000), ("tiny", 1, 1)]), snapshot(&[("A", 2, 120_000), ("tiny", 3, 3)])]);
        let base = 100_001;
        assert!(Threshold::Percent(15.0).exceeded(&rows[0], base), "A grew 20%");
        assert!(!Threshold::Percent(25.0).exceeded(&rows[0], base));
        assert!(!Threshold::Percent(15.0).exceeded(&rows[1], base), "tiny is under 0.1% of the heap");
        assert!(Threshold::Bytes(100).exceeded(&rows[0], base));
    }
}
