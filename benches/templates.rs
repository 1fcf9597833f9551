//! Template mining on Loghub's 2,000-line samples (../shared/bench-data/loghub-2k, or the folder
//! named by DEPLOYCLAW_LOGHUB; research-use data that stays outside the project): grouping
//! accuracy per dataset with one configuration, on Loghub's messages and on the raw lines (header
//! included: deployclaw learns and sets apart the header first), and throughput on one core,
//! beside Drain3 (the Python reference, `pip install drain3`, default configuration) run on the
//! same lines in the same run.
//!
//!     cargo bench --bench templates

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use deployclaw::frame::Frame;
use deployclaw::triage::{Miner, header};

const DATASETS: [(&str, f64); 16] = [
    ("HDFS", 0.998),
    ("Hadoop", 0.948),
    ("Spark", 0.920),
    ("Zookeeper", 0.967),
    ("BGL", 0.963),
    ("HPC", 0.887),
    ("Thunderbird", 0.955),
    ("Windows", 0.997),
    ("Linux", 0.690),
    ("Android", 0.911),
    ("HealthApp", 0.780),
    ("Apache", 1.000),
    ("Proxifier", 0.527),
    ("OpenSSH", 0.788),
    ("OpenStack", 0.733),
    ("Mac", 0.787),
];
/// Timed passes over all lines for the throughput figure.
const PASSES: usize = 31;

/// Zhu et al. 2019: a line is right when the lines sharing its true event are exactly the lines
/// sharing its parsed group.
fn grouping_accuracy<T: std::hash::Hash + Eq + Copy, P: std::hash::Hash + Eq + Copy>(truth: &[T], parsed: &[P]) -> f64 {
    let mut by_truth: HashMap<T, Vec<usize>> = HashMap::new();
    let mut by_parsed: HashMap<P, Vec<usize>> = HashMap::new();
    for (i, (t, p)) in truth.iter().zip(parsed).enumerate() {
        by_truth.entry(*t).or_default().push(i);
        by_parsed.entry(*p).or_default().push(i);
    }
    let correct: usize =
        by_truth.values().filter(|members| by_parsed[&parsed[members[0]]] == **members).map(|m| m.len()).sum();
    correct as f64 / truth.len() as f64
}

fn ours(lines: &[String]) -> Vec<u32> {
    let mut miner = Miner::new(Default::default());
    let groups: Vec<u32> = lines.iter().map(|l| miner.add(l)).collect();
    let ids = miner.template_ids();
    groups.iter().map(|&g| ids[g as usize]).collect()
}

/// Drain3's cluster per line and the seconds it spent mining; None when drain3 is missing.
fn drain3(lines: &[String]) -> Option<(Vec<u64>, f64)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/drain3_peer.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let ids = value["clusters"].as_array()?.iter().filter_map(|v| v.as_u64()).collect();
    Some((ids, value["seconds"].as_f64()?))
}

/// The first `count` lines of a sample as written, header and all.
fn raw_lines(path: &Path, count: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).lines().take(count).map(str::to_string).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let root = std::env::var_os("DEPLOYCLAW_LOGHUB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-data/loghub-2k"));
    if !root.is_dir() {
        eprintln!("no Loghub samples at {}: set DEPLOYCLAW_LOGHUB", root.display());
        return;
    }
    println!(
        "| dataset | deployclaw | Drain3 defaults | published Drain, tuned per dataset | deployclaw, raw lines | Drain3, raw lines |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let (mut sum_ours, mut sum_peer, mut sum_published) = (0.0, 0.0, 0.0);
    let (mut sum_ours_raw, mut sum_peer_raw) = (0.0, 0.0);
    let mut peer_missing = false;
    let mut all_lines = Vec::new();
    for (name, published) in DATASETS {
        let csv = root.join(name).join(format!("{name}_2k.log_structured.csv"));
        let frame = Frame::read_csv(&csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
        let lines: Vec<String> =
            frame.text_column("Content").unwrap().into_iter().map(|c| c.unwrap_or("").to_string()).collect();
        let truth: Vec<String> =
            frame.text_column("EventId").unwrap().into_iter().map(|c| c.unwrap_or("").to_string()).collect();
        let truth_ids: Vec<&str> = truth.iter().map(String::as_str).collect();
        let accuracy = grouping_accuracy(&truth_ids, &ours(&lines));
        let peer = drain3(&lines).map(|(ids, _)| grouping_accuracy(&truth_ids, &ids));
        peer_missing |= peer.is_none();
        let raw = raw_lines(&root.join(name).join(format!("{name}_2k.log")), truth.len());
        let raw_refs: Vec<&str> = raw.iter().map(String::as_str).collect();
        let messages: Vec<String> =
            header::split_all(&raw_refs).into_iter().map(|(_, message)| message.to_string()).collect();
        let accuracy_raw = grouping_accuracy(&truth_ids, &ours(&messages));
        let peer_raw = drain3(&raw).map(|(ids, _)| grouping_accuracy(&truth_ids, &ids));
        let shown = |p: Option<f64>| p.map_or("n/a".into(), |p| format!("{p:.3}"));
        println!(
            "| {name} | {accuracy:.3} | {} | {published:.3} | {accuracy_raw:.3} | {} |",
            shown(peer),
            shown(peer_raw)
        );
        sum_ours += accuracy;
        sum_peer += peer.unwrap_or(0.0);
        sum_ours_raw += accuracy_raw;
        sum_peer_raw += peer_raw.unwrap_or(0.0);
        sum_published += published;
        all_lines.extend(lines);
    }
    let n = DATASETS.len() as f64;
    let peer_mean = if peer_missing { "n/a".into() } else { format!("{:.3}", sum_peer / n) };
    let peer_raw_mean = if peer_missing { "n/a".into() } else { format!("{:.3}", sum_peer_raw / n) };
    println!(
        "| **mean** | **{:.3}** | {peer_mean} | {:.3} | **{:.3}** | {peer_raw_mean} |",
        sum_ours / n,
        sum_published / n,
        sum_ours_raw / n
    );

    // Throughput: all 32,000 messages per pass, a fresh miner each pass, one thread.
    let mut rates = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let start = Instant::now();
        let mut miner = Miner::new(Default::default());
        for line in &all_lines {
            std::hint::black_box(miner.add(std::hint::black_box(line)));
        }
        rates.push(all_lines.len() as f64 / start.elapsed().as_secs_f64());
    }
    let ours_rate = median(rates);
    let peer_rates: Vec<f64> =
        (0..3).filter_map(|_| drain3(&all_lines)).map(|(_, seconds)| all_lines.len() as f64 / seconds).collect();
    println!();
    println!("| miner, {} lines per pass | median lines/s |", all_lines.len());
    println!("| --- | --- |");
    println!("| deployclaw Miner::add ({PASSES} passes) | **{:.2} M** |", ours_rate / 1e6);
    if !peer_rates.is_empty() {
        let peer_rate = median(peer_rates);
        println!("| Drain3 add_log_message (3 passes) | {:.0} k |", peer_rate / 1e3);
        println!("\nratio: {:.0}x Drain3", ours_rate / peer_rate);
    }
}
