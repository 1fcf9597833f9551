//! The outlier instance of a service: the one whose heap stands out from its siblings', by
//! robust statistics (median and median absolute deviation, which one odd instance cannot drag
//! along as it drags a mean), and the classes that make the difference.

use crate::heap::histogram::ClassRow;
use std::collections::HashMap;

/// One instance's heap, as its class histogram counts it.
pub struct Sample<'a> {
    /// `api-svc[2]`.
    pub label: String,
    pub classes: &'a [ClassRow],
}

/// How one instance compares with its siblings.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub label: String,
    pub bytes: u64,
    /// The median of all instances' bytes.
    pub median: u64,
    /// How far above the median, in robust standard deviations (1.4826 x MAD); `None` when the
    /// others do not vary at all.
    pub robust_z: Option<f64>,
    /// Bytes over the median, as a share of it.
    pub over_median: f64,
    pub outlier: bool,
    /// For an outlier: the classes holding most of its difference from the median instance,
    /// with the bytes over that class's median, largest first.
    pub difference: Vec<(String, i64)>,
}

/// A robust z-score above this marks an outlier (Iglewicz and Hoaglin's 3.5).
pub const Z_LIMIT: f64 = 3.5;

/// Compare each instance with the others. An instance is an outlier when it is more than
/// `threshold` (0.15: 15 %) over the median and, where the others vary, more than
/// [`Z_LIMIT`] robust deviations above it. Fewer than three instances have no outlier: with
/// two, neither is the odd one out.
pub fn standings(samples: &[Sample], threshold: f64, top: usize) -> Vec<Standing> {
    let bytes: Vec<u64> = samples.iter().map(|s| s.classes.iter().map(|c| c.shallow_bytes).sum()).collect();
    let median = median_of(&bytes);
    let deviations: Vec<u64> = bytes.iter().map(|&b| b.abs_diff(median)).collect();
    let mad = median_of(&deviations);
    samples
        .iter()
        .zip(&bytes)
        .map(|(sample, &b)| {
            let over = b as f64 / median.max(1) as f64 - 1.0;
            let robust_z = (mad > 0).then(|| (b as f64 - median as f64) / (1.4826 * mad as f64));
            let outlier = samples.len() >= 3 && over > threshold && robust_z.is_none_or(|z| z > Z_LIMIT);
            let difference = if outlier { difference(sample, samples, top) } else { Vec::new() };
            Standing { label: sample.label.clone(), bytes: b, median, robust_z, over_median: over, outlier, difference }
        })
        .collect()
}

/// The classes whose bytes in `sample` most exceed their median over all samples.
fn difference(sample: &Sample, samples: &[Sample], top: usize) -> Vec<(String, i64)> {
    let mut per_class: HashMap<&str, Vec<u64>> = HashMap::new();
    for (i, s) in samples.iter().enumerate() {
        for row in s.classes {
            let column = per_class.entry(row.class.as_str()).or_insert_with(|| vec![0; samples.len()]);
            column[i] += row.shallow_bytes;
        }
    }
    let mut over: Vec<(String, i64)> = sample
        .classes
        .iter()
        .filter_map(|row| {
            let median = median_of(per_class.get(row.class.as_str())?);
            let extra = row.shallow_bytes as i64 - median as i64;
            (extra > 0).then(|| (row.class.clone(), extra))
        })
        .collect();
    over.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    over.truncate(top);
    over
}

/// The median (the lower middle value for an even count); 0 for none.
fn median_of(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0,
        n if n % 2 == 1 => sorted[n / 2],
        n => sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2 + (sorted[n / 2 - 1] % 2 + sorted[n / 2] % 2) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, u64)]) -> Vec<ClassRow> {
        pairs
            .iter()
            .map(|&(class, bytes)| ClassRow { class: class.into(), instances: 1, shallow_bytes: bytes, largest: bytes })
            .collect()
    }

    #[test]
    fn the_instance_holding_more_is_named_with_what_it_holds() {
        let a = rows(&[("byte[]", 900), ("Session", 100)]);
        let b = rows(&[("byte[]", 950), ("Session", 110)]);
        let c = rows(&[("byte[]", 1000), ("Session", 1400), ("String", 50)]);
        let samples = [
            Sample { label: "api[0]".into(), classes: &a },
            Sample { label: "api[1]".into(), classes: &b },
            Sample { label: "api[2]".into(), classes: &c },
        ];
        let s = standings(&samples, 0.15, 3);
        assert_eq!(s.iter().filter(|s| s.outlier).map(|s| s.label.as_str()).collect::<Vec<_>>(), ["api[2]"]);
        assert_eq!(s[2].median, 1060);
        let named: Vec<(&str, i64)> = s[2].difference.iter().map(|(c, b)| (c.as_str(), *b)).collect();
        assert_eq!(named, [("Session", 1290), ("String", 50), ("byte[]", 50)]);
        assert!(s[2].robust_z.unwrap() > Z_LIMIT);
    }

    #[test]
    fn equals_two_instances_and_nothing_have_no_outlier() {
        let a = rows(&[("byte[]", 1000)]);
        let big = rows(&[("byte[]", 5000)]);
        let same = [
            Sample { label: "x[0]".into(), classes: &a },
            Sample { label: "x[1]".into(), classes: &a },
            Sample { label: "x[2]".into(), classes: &a },
        ];
        assert!(standings(&same, 0.15, 5).iter().all(|s| !s.outlier && s.robust_z.is_none()));
        let two = [Sample { label: "x[0]".into(), classes: &a }, Sample { label: "x[1]".into(), classes: &big }];
        assert!(standings(&two, 0.15, 5).iter().all(|s| !s.outlier));
        assert!(standings(&[], 0.15, 5).is_empty());
        // Two alike and one far above: the others do not vary, the share over the median decides.
        let odd = [
            Sample { label: "x[0]".into(), classes: &a },
            Sample { label: "x[1]".into(), classes: &a },
            Sample { label: "x[2]".into(), classes: &big },
        ];
        let s = standings(&odd, 0.15, 5);
        assert!(s[2].outlier && s[2].robust_z.is_none());
        assert_eq!(s[2].over_median, 4.0);
    }
}
