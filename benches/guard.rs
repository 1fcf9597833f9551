//! Tenant-guard latency per statement over the mixed corpus of tests/fixtures/guard/corpus.txt
//! (allowed and denied, three dialects), beside the floor every guard built on sqlparser pays:
//! parsing the same statement, measured in the same run.
//!
//!     cargo bench --bench guard

use std::time::Instant;

use deployclaw::sql::{Dialect, Guard, Tenancy};
use sqlparser::parser::Parser;

/// Timed passes over the corpus; each statement is timed on its own in every pass.
const PASSES: usize = 200;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let tenancy_text = std::fs::read_to_string(format!("{root}/tests/fixtures/guard/tenancy.toml")).unwrap();
    let tenancy = Tenancy::from_toml(&tenancy_text, "tenancy.toml").unwrap();
    let corpus = std::fs::read_to_string(format!("{root}/tests/fixtures/guard/corpus.txt")).unwrap();
    let statements: Vec<(Dialect, String)> = corpus
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (head, sql) = l.split_once(": ")?;
            Some((head.split_whitespace().next()?.parse().ok()?, sql.to_string()))
        })
        .collect();
    let guards: Vec<(Dialect, Guard)> = [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite]
        .into_iter()
        .map(|d| (d, Guard::new(tenancy.clone(), d, None)))
        .collect();
    let guard_of = |d: Dialect| &guards.iter().find(|(g, _)| *g == d).expect("a guard per dialect").1;

    let mut denied = 0;
    for (d, sql) in &statements {
        denied += usize::from(!guard_of(*d).check(sql).allowed());
    }
    let (mut guard_us, mut parse_us) = (Vec::new(), Vec::new());
    for _ in 0..PASSES {
        for (d, sql) in &statements {
            let start = Instant::now();
            std::hint::black_box(guard_of(*d).check(std::hint::black_box(sql)));
            guard_us.push(start.elapsed().as_secs_f64() * 1e6);
            let start = Instant::now();
            let _ = std::hint::black_box(Parser::parse_sql(d.parser(), std::hint::black_box(sql)));
            parse_us.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    guard_us.sort_by(f64::total_cmp);
    parse_us.sort_by(f64::total_cmp);
    println!("guard latency per statement: {} statements ({denied} denied), {PASSES} passes", statements.len());
    println!("| what | median | p99 |");
    println!("| --- | --- | --- |");
    let (gm, pm) = (percentile(&guard_us, 0.5), percentile(&parse_us, 0.5));
    println!("| guard.check (parse + proof) | **{gm:.1} µs** | {:.1} µs |", percentile(&guard_us, 0.99));
    println!("| floor: sqlparser parse only | {pm:.1} µs | {:.1} µs |", percentile(&parse_us, 0.99));
    println!("guard/parse median ratio: {:.2}", gm / pm);
}
