//! Object sizes under every collector and layout flag HotSpot has, checked against
//! `jcmd GC.class_histogram` of the same JVM: the dump is read, the layout is found from the
//! dump alone, and each class of tests/fixtures/Layouts.java must come out at the JVM's bytes.

mod common;
use common::jvm::Jvm;
use deployclaw::heap::histogram::{Histogram, histogram_file, java_name};
use deployclaw::heap::layout::Layout;

/// Instances of each class the fixture keeps.
const KEPT: u64 = 2000;

struct Run {
    ours: Histogram,
    /// jcmd's rows: (class, instances, bytes).
    truth: Vec<(String, u64, u64)>,
}

fn run(flags: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let jvm = Jvm::start_with(dir.path(), "Layouts", &[&KEPT.to_string()], flags);
    let dump = jvm.heap_dump("h.hprof");
    let truth = jvm.class_histogram();
    drop(jvm);
    let ours = histogram_file(&dump, &mut |_| true).expect("the dump reads");
    assert!(ours.partial.is_none(), "{flags:?}: {:?}", ours.partial);
    Run { ours, truth }
}

/// Every class the fixture declares comes out at jcmd's instances and bytes, and the whole heap
/// (but java.lang.Class, whose hidden classes' mirrors are not in a dump) within `tolerance`.
fn check(flags: &[&str], layout: Layout, tolerance: f64) -> Run {
    let run = run(flags);
    assert_eq!(run.ours.layout, layout, "{flags:?}: the layout found in the dump");
    let fixture: Vec<_> = run.truth.iter().filter(|(name, ..)| name.starts_with("Layouts$")).collect();
    assert_eq!(fixture.len(), 11, "{flags:?}: jcmd lists the fixture's classes");
    let mut wrong = Vec::new();
    for (name, instances, bytes) in fixture {
        let ours = run.ours.rows.iter().find(|r| r.class == *name);
        let got = ours.map(|r| (r.instances, r.shallow_bytes));
        if got != Some((*instances, *bytes)) {
            wrong.push(format!("{name}: ours {got:?}, jcmd ({instances}, {bytes}) = {} bytes each", bytes / instances));
        }
    }
    assert!(wrong.is_empty(), "{flags:?}:\n{}", wrong.join("\n"));
    let without_mirrors = |rows: u64, class: u64| rows - class;
    let jcmd_class = run.truth.iter().find(|(n, ..)| n == "java.lang.Class").map_or(0, |r| r.2);
    let jcmd_total = without_mirrors(run.truth.iter().map(|r| r.2).sum(), jcmd_class);
    let our_class = run.ours.rows.iter().find(|r| r.class == "java.lang.Class").map_or(0, |r| r.shallow_bytes);
    let our_total = without_mirrors(run.ours.total_bytes(), our_class);
    let off = (our_total as f64 - jcmd_total as f64).abs() / jcmd_total as f64;
    eprintln!("{flags:?}: {:?}, total {:.3}% off jcmd", run.ours.layout, off * 100.0);
    if off > tolerance {
        let mut rows: Vec<(i64, String)> = run
            .truth
            .iter()
            .map(|(name, _, bytes)| {
                let name = java_name(&name.replace('.', "/"));
                let ours = run.ours.rows.iter().find(|r| r.class == name).map_or(0, |r| r.shallow_bytes);
                (ours as i64 - *bytes as i64, name)
            })
            .filter(|(d, _)| *d != 0)
            .collect();
        rows.sort_by_key(|(d, _)| -d.abs());
        panic!(
            "{flags:?}: total {our_total} bytes, jcmd {jcmd_total} ({:.3}% off); largest differences: {:?}",
            off * 100.0,
            &rows[..rows.len().min(8)]
        );
    }
    run
}

const DEFAULT: Layout = Layout { compressed_oops: true, compressed_class_pointers: true, alignment: 8 };

#[test]
fn g1() {
    let run = check(&["-XX:+UseG1GC"], DEFAULT, 0.001);
    assert_eq!(run.ours.layout_note, None, "a compacted heap with measured arrays needs no note");
}

#[test]
fn serial() {
    check(&["-XX:+UseSerialGC"], DEFAULT, 0.001);
}

#[test]
fn parallel() {
    check(&["-XX:+UseParallelGC"], DEFAULT, 0.001);
}

#[test]
fn zgc_has_no_compressed_oops_and_does_not_compact() {
    let zgc = Layout { compressed_oops: false, ..DEFAULT };
    let run = check(&["-XX:+UseZGC"], zgc, 0.005);
    let note = run.ours.layout_note.expect("the sizes say what they assume");
    assert!(note.contains("not compacted"), "{note}");
}

#[test]
fn shenandoah() {
    let run = check(&["-XX:+UseShenandoahGC"], DEFAULT, 0.005);
    assert!(run.ours.layout_note.is_some());
}

#[test]
fn without_compressed_oops() {
    check(&["-XX:+UseG1GC", "-XX:-UseCompressedOops"], Layout { compressed_oops: false, ..DEFAULT }, 0.001);
}

#[test]
fn without_compressed_class_pointers() {
    check(
        &["-XX:+UseG1GC", "-XX:-UseCompressedClassPointers"],
        Layout { compressed_class_pointers: false, ..DEFAULT },
        0.001,
    );
}

#[test]
fn with_neither() {
    let none = Layout { compressed_oops: false, compressed_class_pointers: false, alignment: 8 };
    check(&["-XX:+UseParallelGC", "-XX:-UseCompressedOops", "-XX:-UseCompressedClassPointers"], none, 0.001);
}

#[test]
fn sixteen_byte_alignment() {
    check(&["-XX:+UseG1GC", "-XX:ObjectAlignmentInBytes=16"], Layout { alignment: 16, ..DEFAULT }, 0.001);
}
