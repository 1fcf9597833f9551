//! Burn rates for every tenant at once: error ratios over each window of an SLO's profile, now
//! and at every sample of the look-back, which alerts fire now and when they would have fired,
//! the error budget left over the period, and the time until it runs out.
//!
//! The counts come as one row per sample (time, tenant, bad or good, total). Each tenant's rows
//! are taken in time order and summed cumulatively, so a window's sum at any sample is one
//! subtraction, with one pointer per window moving forward: linear in rows for all windows.

use std::ops::Range;
use std::time::Duration;

use serde::Serialize;

use super::policy::{Severity, reaches};
use super::spec::Slo;
use super::{Error, serialize_duration};
use crate::frame::Frame;

/// Which columns of a Frame hold what.
#[derive(Debug, Clone)]
pub struct Columns {
    pub time: String,
    /// `None`: all rows are one tenant's, named `*`.
    pub tenant: Option<String>,
    pub good: Option<String>,
    pub bad: Option<String>,
    pub total: String,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            time: "time".into(),
            tenant: Some("tenant".into()),
            good: Some("good".into()),
            bad: None,
            total: "total".into(),
        }
    }
}

/// Event counts, column-wise.
#[derive(Clone)]
pub struct Series {
    pub time: Vec<i64>,
    pub tenants: Vec<String>,
    pub tenant_of: Vec<u32>,
    pub bad: Vec<f64>,
    pub total: Vec<f64>,
}

impl Series {
    /// Read the counts from `frame`; bad events are `bad`, or `total - good`.
    pub fn from_frame(frame: &Frame, columns: &Columns) -> Result<Series, Error> {
        let (events, counted) = match (&columns.bad, &columns.good) {
            (Some(bad), _) => (bad, true),
            (None, Some(good)) => (good, false),
            (None, None) => {
                return Err(Error::Invalid { origin: String::new(), message: "name a good or a bad column".into() });
            }
        };
        // The columns are independent: read them side by side.
        let (time, total, events, tenants) = std::thread::scope(|scope| {
            let time = scope.spawn(|| frame.epoch_seconds(&columns.time));
            let total = scope.spawn(|| frame.floats(&columns.total));
            let events = scope.spawn(|| frame.floats(events));
            let tenants = columns.tenant.as_ref().map(|name| frame.codes(name));
            let joined = "a column reader does not panic";
            (time.join().expect(joined), total.join().expect(joined), events.join().expect(joined), tenants)
        });
        let (time, total, mut bad) = (time?, total?, events?);
        if !counted {
            for (good, total) in bad.iter_mut().zip(&total) {
                *good = (total - *good).max(0.0);
            }
        }
        let (tenant_of, tenants) = match tenants {
            Some(codes) => codes?,
            None => (vec![0; time.len()], vec!["*".to_string()]),
        };
        Ok(Series { time, tenants, tenant_of, bad, total })
    }

    /// Keep only the samples from `lookback` before the newest one on (`--lookback 24h`): burn
    /// rates, budgets and look-back firing are then of that stretch alone.
    pub fn keep_last(&mut self, lookback: std::time::Duration) {
        let Some(newest) = self.time.iter().copied().max() else { return };
        let from = newest.saturating_sub(i64::try_from(lookback.as_secs()).unwrap_or(i64::MAX));
        let keep: Vec<bool> = self.time.iter().map(|t| *t >= from).collect();
        let mut i = 0;
        self.time.retain(|_| (keep[i], i += 1).0);
        for column in [&mut self.bad, &mut self.total] {
            let mut i = 0;
            column.retain(|_| (keep[i], i += 1).0);
        }
        let mut i = 0;
        self.tenant_of.retain(|_| (keep[i], i += 1).0);
    }

    /// Each tenant's rows in time order: a range when they already lie together in order (the
    /// usual export), else their indices.
    fn by_tenant(&self) -> Vec<Rows> {
        let n = self.tenants.len();
        let mut ranges: Vec<Option<Range<usize>>> = vec![None; n];
        let mut grouped = true;
        let mut start = 0;
        for i in 1..=self.time.len() {
            let boundary = i == self.time.len() || self.tenant_of[i] != self.tenant_of[start];
            if !boundary {
                grouped &= self.time[i] >= self.time[i - 1];
                continue;
            }
            let slot = &mut ranges[self.tenant_of[start] as usize];
            grouped &= slot.is_none();
            *slot = Some(start..i);
            start = i;
        }
        if grouped && !self.time.is_empty() {
            return ranges.into_iter().map(|r| Rows::Range(r.unwrap_or(0..0))).collect();
        }
        // Counting sort by tenant keeps each tenant's rows in their order; sort by time where needed.
        let mut indices: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, &t) in self.tenant_of.iter().enumerate() {
            indices[t as usize].push(i as u32);
        }
        for rows in &mut indices {
            if !rows.windows(2).all(|w| self.time[w[0] as usize] <= self.time[w[1] as usize]) {
                rows.sort_by_key(|&i| self.time[i as usize]);
            }
        }
        indices.into_iter().map(Rows::Indices).collect()
    }
}

enum Rows {
    Range(Range<usize>),
    Indices(Vec<u32>),
}

/// The events and burn rate over one window ending now.
#[derive(Debug, Clone, Serialize)]
pub struct WindowBurn {
    #[serde(serialize_with = "serialize_duration")]
    pub window: Duration,
    pub events: f64,
    pub bad: f64,
    /// `None` when the window holds no events.
    pub burn: Option<f64>,
}

/// One tier of the profile, now and over the look-back.
#[derive(Debug, Clone, Serialize)]
pub struct AlertState {
    pub severity: Severity,
    pub factor: f64,
    #[serde(serialize_with = "serialize_duration")]
    pub long: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub short: Duration,
    pub long_burn: Option<f64>,
    pub short_burn: Option<f64>,
    pub firing: bool,
    /// Separate stretches of time it would have fired in the look-back.
    pub episodes: u32,
    pub first_fired: Option<i64>,
    pub last_fired: Option<i64>,
    /// Seconds it would have been firing in all.
    pub fired_secs: i64,
}

/// An SLO for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantBurn {
    pub slo: String,
    pub tenant: String,
    pub objective: f64,
    /// When "now" is: the last sample of all the data.
    pub at: i64,
    /// Events and bad events over the period (or as much of it as the data covers).
    pub events: f64,
    pub bad: f64,
    /// Share of the period's error budget left (negative when overspent); `None` without events.
    pub budget_remaining: Option<f64>,
    pub windows: Vec<WindowBurn>,
    pub alerts: Vec<AlertState>,
    /// Seconds until the budget is gone at the burn rate of the fastest tier's long window.
    pub exhaustion_secs: Option<f64>,
    /// Too few events for the ratio to mean much: one bad event would fire the fastest tier.
    pub low_traffic: bool,
}

/// Evaluate every SLO for every tenant it applies to, on all cores.
pub fn evaluate(series: &Series, slos: &[Slo]) -> Vec<TenantBurn> {
    let now = series.time.iter().copied().max().unwrap_or(0);
    let rows = series.by_tenant();
    let mut work: Vec<(usize, Option<usize>)> = Vec::new();
    for (s, slo) in slos.iter().enumerate() {
        match &slo.tenant {
            None => work.extend((0..series.tenants.len()).map(|t| (s, Some(t)))),
            Some(name) => work.push((s, series.tenants.iter().position(|t| t == name))),
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(work.len().max(1));
    let chunk = work.len().div_ceil(threads.max(1)).max(1);
    let mut out: Vec<TenantBurn> = Vec::with_capacity(work.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                let rows = &rows;
                scope.spawn(move || {
                    let mut buffers = Buffers::default();
                    part.iter()
                        .map(|&(s, t)| {
                            let slo = &slos[s];
                            let tenant =
                                t.map_or_else(|| slo.tenant.clone().unwrap_or_default(), |t| series.tenants[t].clone());
                            let data = t.map(|t| buffers.load(series, &rows[t]));
                            evaluate_one(slo, tenant, now, data.unwrap_or_default())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            out.extend(handle.join().expect("a burn-rate worker does not panic"));
        }
    });
    out
}

/// One tenant's samples in time order, borrowed or gathered.
#[derive(Default, Clone, Copy)]
struct Samples<'a> {
    time: &'a [i64],
    bad: &'a [f64],
    total: &'a [f64],
}

#[derive(Default)]
struct Buffers {
    time: Vec<i64>,
    bad: Vec<f64>,
    total: Vec<f64>,
}

impl Buffers {
    fn load<'a>(&'a mut self, series: &'a Series, rows: &Rows) -> Samples<'a> {
        match rows {
            Rows::Range(r) => {
                Samples { time: &series.time[r.clone()], bad: &series.bad[r.clone()], total: &series.total[r.clone()] }
            }
            Rows::Indices(ix) => {
                self.time.clear();
                self.bad.clear();
                self.total.clear();
                for &i in ix {
                    self.time.push(series.time[i as usize]);
                    self.bad.push(series.bad[i as usize]);
                    self.total.push(series.total[i as usize]);
                }
                Samples { time: &self.time, bad: &self.bad, total: &self.total }
            }
        }
    }
}

fn burn_of(bad: f64, events: f64, budget: f64) -> Option<f64> {
    (events > 0.0).then(|| bad / events / budget)
}

fn evaluate_one(slo: &Slo, tenant: String, now: i64, s: Samples) -> TenantBurn {
    let budget = slo.budget();
    let n = s.time.len();
    // Cumulative sums with a leading zero: the sum of rows a..b is cum[b] - cum[a].
    let mut cum_bad = Vec::with_capacity(n + 1);
    let mut cum_total = Vec::with_capacity(n + 1);
    let (mut b, mut t) = (0.0, 0.0);
    cum_bad.push(0.0);
    cum_total.push(0.0);
    for i in 0..n {
        b += s.bad[i];
        t += s.total[i];
        cum_bad.push(b);
        cum_total.push(t);
    }
    // The sum over (end - w, end] for the rows before `upto` (exclusive).
    let since = |w: Duration, end: i64| s.time.partition_point(|&x| x <= end - w.as_secs() as i64);
    let window_now = |w: Duration| {
        let from = since(w, now);
        (cum_total[n] - cum_total[from], cum_bad[n] - cum_bad[from])
    };
    let windows: Vec<Duration> = slo.profile.windows();
    let windows_now: Vec<WindowBurn> = windows
        .iter()
        .map(|&w| {
            let (events, bad) = window_now(w);
            WindowBurn { window: w, events, bad, burn: burn_of(bad, events, budget) }
        })
        .collect();
    let (events, bad) = window_now(slo.period);
    let budget_remaining = (events > 0.0).then(|| 1.0 - bad / (events * budget));

    // Look-back: every sample, each window's sum ending at it.
    let tiers = &slo.profile.tiers;
    let mut alerts: Vec<AlertState> = tiers
        .iter()
        .map(|tier| AlertState {
            severity: tier.severity,
            factor: tier.factor,
            long: tier.long,
            short: tier.short,
            long_burn: None,
            short_burn: None,
            firing: false,
            episodes: 0,
            first_fired: None,
            last_fired: None,
            fired_secs: 0,
        })
        .collect();
    let slot = |w: Duration| windows.iter().position(|&x| x == w).expect("tier windows are in the list");
    let tier_slots: Vec<(usize, usize)> = tiers.iter().map(|t| (slot(t.long), slot(t.short))).collect();
    // A tier fires when bad >= factor * budget * events over both windows: no division per sample.
    let ratios: Vec<f64> = tiers.iter().map(|t| t.factor * budget * (1.0 - 1e-9)).collect();
    let mut starts = vec![0usize; windows.len()];
    let mut was_firing = vec![false; tiers.len()];
    // Window `w`'s (events, bad) ending at sample `i`; start pointers only move forward, so a
    // window not asked about for a while catches up when it is.
    let sums = |w: usize, i: usize, starts: &mut [usize]| {
        let edge = s.time[i] - windows[w].as_secs() as i64;
        while starts[w] <= i && s.time[starts[w]] <= edge {
            starts[w] += 1;
        }
        (cum_total[i + 1] - cum_total[starts[w]], cum_bad[i + 1] - cum_bad[starts[w]])
    };
    for i in 0..n {
        let end = s.time[i];
        let step = if i + 1 < n {
            s.time[i + 1] - end
        } else if i > 0 {
            end - s.time[i - 1]
        } else {
            0
        };
        for (k, &(long, short)) in tier_slots.iter().enumerate() {
            let (events, bad) = sums(long, i, &mut starts);
            let mut firing = events > 0.0 && bad >= ratios[k] * events;
            if firing {
                let (events, bad) = sums(short, i, &mut starts);
                firing = events > 0.0 && bad >= ratios[k] * events;
            }
            if firing {
                let a = &mut alerts[k];
                if !was_firing[k] {
                    a.episodes += 1;
                }
                a.first_fired.get_or_insert(end);
                a.last_fired = Some(end);
                a.fired_secs += step;
            }
            was_firing[k] = firing;
        }
    }
    for (k, tier) in tiers.iter().enumerate() {
        let (long, short) = tier_slots[k];
        let a = &mut alerts[k];
        a.long_burn = windows_now[long].burn;
        a.short_burn = windows_now[short].burn;
        a.firing = a.long_burn.is_some_and(|b| reaches(b, tier.factor))
            && a.short_burn.is_some_and(|b| reaches(b, tier.factor));
    }
    let fastest = tiers.iter().enumerate().min_by_key(|(_, t)| t.long).map(|(k, _)| k);
    let exhaustion_secs = fastest.and_then(|k| {
        let burn = alerts[k].long_burn?;
        let left = budget_remaining?;
        Some(if left <= 0.0 {
            0.0
        } else if burn > 0.0 {
            left * slo.period.as_secs_f64() / burn
        } else {
            f64::INFINITY
        })
    });
    let low_traffic = fastest.is_none_or(|k| {
        let events = windows_now[tier_slots[k].0].events;
        events * tiers[k].factor * budget < 1.0
    });
    TenantBurn {
        slo: slo.id(),
        tenant,
        objective: slo.objective,
        at: now,
        events,
        bad,
        budget_remaining,
        windows: windows_now,
        alerts,
        exhaustion_secs: exhaustion_secs.filter(|e| e.is_finite()),
        low_traffic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::policy::Profile;
    use crate::slo::spec::Sli;

    fn slo(tenant: Option<&str>) -> Slo {
        let period = Duration::from_secs(30 * 86_400);
        Slo {
            service: "checkout".into(),
            name: "availability".into(),
            tenant: tenant.map(str::to_string),
            sli: Sli::Ratio { good: None, bad: None, total: None },
            objective: 0.999,
            period,
            profile: Profile::sre_workbook(period),
            description: None,
            origin: "test".into(),
        }
    }

    /// Two tenants, a sample a minute for 4 days; `b` is fully down for the last 30 minutes.
    fn series(interleaved: bool) -> Series {
        let minutes = 4 * 24 * 60;
        let mut rows: Vec<(i64, u32, f64, f64)> = Vec::new();
        for tenant in 0..2u32 {
            for m in 0..minutes {
                let down = tenant == 1 && m >= minutes - 30;
                rows.push((m as i64 * 60, tenant, if down { 1000.0 } else { 0.0 }, 1000.0));
            }
        }
        if interleaved {
            rows.sort_by_key(|r| (r.0, r.1));
        }
        Series {
            time: rows.iter().map(|r| r.0).collect(),
            tenants: vec!["a".into(), "b".into()],
            tenant_of: rows.iter().map(|r| r.1).collect(),
            bad: rows.iter().map(|r| r.2).collect(),
            total: rows.iter().map(|r| r.3).collect(),
        }
    }

    #[test]
    fn a_lookback_keeps_only_the_samples_that_long_before_the_newest() {
        // Tenant a had a whole day down, three days ago; over the last day it is clean.
        let mut old_outage = series(false);
        for i in 0..old_outage.time.len() {
            if old_outage.tenant_of[i] == 0 && old_outage.time[i] < 86_400 {
                old_outage.bad[i] = 1000.0;
            }
        }
        let all = evaluate(&old_outage, &[slo(None)]);
        assert!(all[0].budget_remaining.unwrap() < 0.0, "the outage spends a's budget");
        let mut last_day = old_outage.clone();
        last_day.keep_last(Duration::from_secs(86_400));
        assert_eq!(last_day.time.len(), 2 * (24 * 60 + 1), "each tenant's last day and a minute");
        assert_eq!(last_day.time.len(), last_day.bad.len());
        assert_eq!(last_day.time.len(), last_day.tenant_of.len());
        let recent = evaluate(&last_day, &[slo(None)]);
        assert_eq!(recent[0].budget_remaining, Some(1.0), "{:?}", recent[0]);
        let mut empty = Series { time: vec![], tenants: vec![], tenant_of: vec![], bad: vec![], total: vec![] };
        empty.keep_last(Duration::from_secs(60));
        assert!(empty.time.is_empty());
    }

    #[test]
    fn an_outage_pages_and_a_clean_tenant_does_not() {
        for interleaved in [false, true] {
            let out = evaluate(&series(interleaved), &[slo(None)]);
            assert_eq!(out.len(), 2);
            let (a, b) = (&out[0], &out[1]);
            assert_eq!((a.tenant.as_str(), b.tenant.as_str()), ("a", "b"));
            assert!(a.alerts.iter().all(|x| !x.firing && x.episodes == 0), "{:?}", a.alerts);
            assert_eq!(a.budget_remaining, Some(1.0));
            // 30 minutes of 100% errors: burn 1000x over 5m and 30m, 500x over 1h.
            assert_eq!(b.windows[0].window, Duration::from_secs(300));
            assert!((b.windows[0].burn.unwrap() - 1000.0).abs() < 1e-9);
            let page = &b.alerts[0];
            assert!(page.firing && page.episodes == 1, "{page:?}");
            assert!((page.long_burn.unwrap() - 500.0).abs() < 1e-9);
            // It fires at the first bad minute: 1h burn 1000/60/... = 16.7x >= 14.4 already.
            assert_eq!(page.first_fired, Some((4 * 24 * 60 - 30) as i64 * 60));
            assert!(b.alerts[1].firing, "6h at {:?}", b.alerts[1].long_burn);
            // 30,000 bad of 5.76 M events over the data: budget 5,760 events, overspent.
            assert!(b.budget_remaining.unwrap() < 0.0);
            assert_eq!(b.exhaustion_secs, Some(0.0));
            assert!(!b.low_traffic);
        }
    }

    #[test]
    fn one_tenant_slos_and_low_traffic() {
        let mut s = series(false);
        for t in &mut s.total {
            *t = 0.5;
        }
        for b in &mut s.bad {
            *b = b.min(0.5);
        }
        let out = evaluate(&s, &[slo(Some("b")), slo(Some("nobody"))]);
        assert_eq!(out.len(), 2);
        assert!(out[0].low_traffic, "30 events an hour: one error is a 33x burn");
        assert_eq!(out[1].tenant, "nobody");
        assert!(out[1].low_traffic && out[1].budget_remaining.is_none());
    }
}
