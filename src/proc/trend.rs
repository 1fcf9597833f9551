//! Is memory growing? A garbage-collected heap saws up and down, so the verdict looks at the
//! floor: the series is cut into windows and each window's minimum (what is left after a
//! collection) is kept. A Mann-Kendall test says whether the floors trend upward beyond chance;
//! a Theil-Sen slope (the median of pairwise slopes, robust to outliers) says how fast.

/// What a series says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The floor rises steadily and significantly.
    Leaking,
    /// No significant upward trend in the floor.
    Stable,
    /// Too few samples to tell.
    Insufficient,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Leaking => "leaking",
            Verdict::Stable => "stable",
            Verdict::Insufficient => "insufficient data",
        }
    }
}

/// The trend of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub samples: usize,
    /// Windows whose minima were tested.
    pub windows: usize,
    /// Theil-Sen slope of the floors, in value units per second.
    pub slope_per_sec: f64,
    /// Mann-Kendall z statistic (above 1.645: an upward trend at the 5% level, one-sided).
    pub z: f64,
    /// Growth of the floor from the first window to the last, as a fraction of the first.
    pub floor_growth: f64,
    pub verdict: Verdict,
}

/// Windows the series is cut into (fewer with fewer samples).
const WINDOWS: usize = 12;
/// Below this the floor is not said to rise, whatever the test says (page-granular noise).
const MIN_GROWTH: f64 = 0.02;

/// Analyse `(seconds, value)` samples in time order.
pub fn trend(samples: &[(f64, f64)]) -> Trend {
    let n = samples.len();
    if n < 6 {
        return Trend {
            samples: n,
            windows: 0,
            slope_per_sec: 0.0,
            z: 0.0,
            floor_growth: 0.0,
            verdict: Verdict::Insufficient,
        };
    }
    let windows = WINDOWS.min(n / 2);
    let floors: Vec<(f64, f64)> = (0..windows)
        .map(|w| {
            let part = &samples[w * n / windows..(w + 1) * n / windows];
            let low = part.iter().copied().fold((0.0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            (part.iter().map(|s| s.0).sum::<f64>() / part.len() as f64, low.1)
        })
        .collect();
    let z = mann_kendall(&floors.iter().map(|f| f.1).collect::<Vec<_>>());
    let slope_per_sec = theil_sen(&floors);
    let first = floors[0].1.max(1.0);
    let floor_growth = (floors[windows - 1].1 - floors[0].1) / first;
    let verdict =
        if z > 1.645 && slope_per_sec > 0.0 && floor_growth > MIN_GROWTH { Verdict::Leaking } else { Verdict::Stable };
    Trend { samples: n, windows, slope_per_sec, z, floor_growth, verdict }
}

/// Mann-Kendall z (with the variance corrected for ties).
fn mann_kendall(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += (x[j] - x[i]).partial_cmp(&0.0).map_or(0, |o| o as i64);
        }
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let j = (i..n).find(|&j| sorted[j] != sorted[i]).unwrap_or(n);
        let t = (j - i) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    if var <= 0.0 {
        return 0.0;
    }
    match s {
        0 => 0.0,
        s if s > 0 => (s - 1) as f64 / var.sqrt(),
        s => (s + 1) as f64 / var.sqrt(),
    }
}

/// Median of the slopes between every pair of points.
fn theil_sen(points: &[(f64, f64)]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..points.len() {
        for j in i + 1..points.len() {
            let dt = points[j].0 - points[i].0;
            if dt > 0.0 {
                slopes.push((points[j].1 - points[i].1) / dt);
            }
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    slopes.sort_by(|a, b| a.total_cmp(b));
    slopes[slopes.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sawtooth: climbs 30 MB between collections, back to its floor at each.
    fn saw(floor_per_sec: f64, secs: usize) -> Vec<(f64, f64)> {
        (0..secs * 4)
            .map(|i| {
                let t = i as f64 / 4.0;
                let tooth = (i % 10) as f64 * 3e6;
                (t, 200e6 + floor_per_sec * t + tooth)
            })
            .collect()
    }

    #[test]
    fn a_rising_floor_under_gc_sawteeth_is_a_leak() {
        let t = trend(&saw(1e6, 60));
        assert_eq!(t.verdict, Verdict::Leaking, "{t:?}");
        assert!((t.slope_per_sec - 1e6).abs() < 0.2e6, "{t:?}");
    }

    #[test]
    fn sawteeth_over_a_flat_floor_are_stable() {
        let t = trend(&saw(0.0, 60));
        assert_eq!(t.verdict, Verdict::Stable, "{t:?}");
        let flat: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, 1e8)).collect();
        assert_eq!(trend(&flat).verdict, Verdict::Stable);
    }

    #[test]
    fn a_few_samples_are_not_enough() {
        assert_eq!(trend(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]).verdict, Verdict::Insufficient);
    }
}
