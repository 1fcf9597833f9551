//! Burn rates for 1,000 tenants x 30 days of 1-minute good/total counts (43.2 M rows): every
//! window of the SRE Workbook's four tiers at every sample, beside the same computation in
//! DuckDB SQL (`pip install duckdb`) on the same Parquet file in the same run; both start from
//! a table in memory. The results of the two are compared tenant by tenant.
//!
//!     cargo bench --bench burn                      # DEPLOYCLAW_BURN_TENANTS=100 for a smaller run

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use deployclaw::frame::Frame;
use deployclaw::slo::burn::{Columns, Series, evaluate};
use deployclaw::slo::{Profile, Sli, Slo};
use polars::prelude::*;

const MINUTES: usize = 30 * 24 * 60;
const RUNS: usize = 5;

/// xorshift: deterministic counts without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Counts for `tenants` tenants, grouped by tenant and in time order (as a per-tenant export
/// writes them). Tenants 7 and 42 have incidents: a 20-minute outage and a 6-hour 2% stretch.
fn data(tenants: usize) -> Frame {
    let rows = tenants * MINUTES;
    let mut time = Vec::with_capacity(rows);
    let mut good = Vec::with_capacity(rows);
    let mut total = Vec::with_capacity(rows);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = 1_717_200_000i64;
    for t in 0..tenants {
        let scale = 50 + (t as u64 * 37) % 950;
        for m in 0..MINUTES {
            let n = scale + rng.next() % (scale / 2 + 1);
            let mut bad = u64::from(rng.next().is_multiple_of(4000)) * (rng.next() % 3);
            if t == 7 && (25 * 1440..25 * 1440 + 20).contains(&m) {
                bad = n;
            }
            if t == 42 && (28 * 1440..28 * 1440 + 360).contains(&m) {
                bad = n / 50;
            }
            time.push(start + m as i64 * 60);
            good.push((n - bad) as i64);
            total.push(n as i64);
        }
    }
    let names: Vec<String> = (0..tenants).map(|t| format!("tenant-{t:04}")).collect();
    let tenant =
        StringChunked::from_iter_values(PlSmallStr::from("tenant"), (0..rows).map(|i| names[i / MINUTES].as_str()));
    let df = DataFrame::new(
        rows,
        vec![
            Column::new(PlSmallStr::from("time"), time),
            tenant.into_column(),
            Column::new(PlSmallStr::from("good"), good),
            Column::new(PlSmallStr::from("total"), total),
        ],
    )
    .expect("columns of one length");
    Frame::from_polars(df)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let tenants: usize = std::env::var("DEPLOYCLAW_BURN_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let parquet = dir.path().join("counts.parquet");
    let started = Instant::now();
    data(tenants).write_parquet(&parquet).expect("write parquet");
    let frame = Frame::read_parquet(&parquet).expect("read parquet");
    eprintln!("{} rows written and read back in {:.1?}", frame.height(), started.elapsed());

    let period = Duration::from_secs(30 * 86_400);
    let slo = Slo {
        service: "api".into(),
        name: "availability".into(),
        tenant: None,
        sli: Sli::Ratio { good: None, bad: None, total: None },
        objective: 0.999,
        period,
        profile: Profile::sre_workbook(period),
        description: None,
        origin: "bench".into(),
    };
    let columns = Columns::default();
    let (mut times, mut reads, mut evals) = (Vec::new(), Vec::new(), Vec::new());
    let mut result = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let series = Series::from_frame(&frame, &columns).expect("the bench frame has the columns");
        let read = start.elapsed().as_secs_f64();
        result = evaluate(&series, std::slice::from_ref(&slo));
        times.push(start.elapsed().as_secs_f64());
        reads.push(read);
        evals.push(start.elapsed().as_secs_f64() - read);
    }
    let ours = median(times);
    let (read, eval) = (median(reads), median(evals));

    // DEPLOYCLAW_BURN_PEER_RUNS=0 skips DuckDB, which takes minutes at full size.
    let peer_runs = std::env::var("DEPLOYCLAW_BURN_PEER_RUNS").unwrap_or_else(|_| "3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/burn_duckdb.py");
    let peer = if peer_runs == "0" {
        Err(std::io::Error::other("skipped"))
    } else {
        Command::new("python3").arg(script).arg(&parquet).arg(&peer_runs).output()
    };
    let peer: Option<serde_json::Value> =
        peer.ok().filter(|o| o.status.success()).and_then(|o| serde_json::from_slice(&o.stdout).ok());

    println!("| what ({} rows, {tenants} tenants x 30 days x 1 min) | median | runs |", frame.height());
    println!("| --- | --- | --- |");
    println!(
        "| deployclaw `Series::from_frame` + `evaluate` (4 tiers, 7 windows, every sample) | **{ours:.2} s** | {RUNS} |"
    );
    println!("| ... of which reading the Frame's columns / evaluating | {read:.2} s / {eval:.2} s | {RUNS} |");
    let Some(peer) = peer else {
        println!("\npeer: DuckDB not available (pip install duckdb)");
        return;
    };
    let seconds: Vec<f64> = peer["seconds"].as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    let theirs = median(seconds);
    println!(
        "| peer: DuckDB {} threads, running sums and LAG over the same table | {theirs:.2} s | {peer_runs} |",
        peer["threads"]
    );
    println!("\nratio: DuckDB takes {:.1}x as long", theirs / ours);
    let check = &peer["range_check"];
    println!(
        "DuckDB's RANGE-frame formulation on {} tenants agrees with its running sums: {}",
        check["tenants"], check["agree"]
    );

    // Same answers: for every tenant and tier, the samples it fired at, the first and the last.
    let fired = &peer["fired"];
    let mut differ = BTreeMap::new();
    for r in &result {
        for (k, a) in r.alerts.iter().enumerate() {
            let ours = (a.fired_secs / 60, a.first_fired, a.last_fired);
            let row = &fired[&r.tenant][k];
            let theirs = (row[0].as_i64().unwrap_or(0), row[1].as_i64(), row[2].as_i64());
            if ours != theirs {
                differ.insert(format!("{} tier {}", r.tenant, k + 1), format!("{ours:?} vs {theirs:?}"));
            }
        }
    }
    let firing: Vec<String> =
        result.iter().filter(|r| r.alerts.iter().any(|a| a.episodes > 0)).map(|r| r.tenant.clone()).collect();
    println!("tenants whose alerts fired in the look-back: {}", firing.join(", "));
    if differ.is_empty() {
        println!("both agree on every tenant's firing samples, first and last firing, for all 4 tiers");
    } else {
        println!("DISAGREE on {} tenant-tiers: {:?}", differ.len(), differ.iter().take(5).collect::<Vec<_>>());
    }
}
