//! Dumps that another process truncates or rewrites while deployclaw reads them: an error that
//! names the file and what happened, never a SIGBUS that ends the shell or an index out of bounds.

use deployclaw::heap::graph::{Graph, Step};
use deployclaw::heap::hprof::{BasicType, Visitor};
use deployclaw::heap::sample::demo_dump;
use deployclaw::heap::{Error, histogram, read_file};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A dump of a few MB in many segments, so that its pages are read by several threads.
fn dump(sessions: usize) -> Vec<u8> {
    demo_dump(8, 6, sessions, 4, Some(256 << 10))
}

fn assert_changed(result: Result<impl Sized, Error>, path: &Path) {
    match result {
        Err(err @ Error::Changed { .. }) => {
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()) && text.contains("changed while it was read"), "{text}");
        }
        Err(other) => panic!("expected a changed-file error, got: {other}"),
        Ok(_) => panic!("a dump changed while read gave a result"),
    }
}

/// Cuts the file to nothing the first time it is shown an object, from a reader thread, while
/// the rest of the mapping is still to be read: those reads would raise SIGBUS.
struct Truncator<'a> {
    path: &'a Path,
    done: &'a AtomicBool,
}

impl Visitor for Truncator<'_> {
    fn primitive_array(&mut self, _: u64, _: BasicType, _: u32, _: &[u8]) {
        if !self.done.swap(true, Ordering::AcqRel) {
            std::fs::OpenOptions::new().write(true).open(self.path).unwrap().set_len(0).unwrap();
        }
    }
}

#[test]
fn a_dump_cut_short_while_mapped_is_an_error_not_a_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.hprof");
    std::fs::write(&path, dump(60_000)).unwrap();
    let done = AtomicBool::new(false);
    let mut truncator = Truncator { path: &path, done: &done };
    let result = read_file(&path, &mut truncator, &mut |_| true);
    assert!(done.load(Ordering::Acquire), "the visitor saw no array");
    assert_changed(result, &path);
}

#[test]
fn a_histogram_of_a_dump_cut_short_between_reads_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.hprof");
    let bytes = dump(20_000);
    std::fs::write(&path, &bytes).unwrap();
    let mut cut = false;
    let result = histogram::histogram_file(&path, &mut |_| {
        if !cut {
            cut = true;
            std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(bytes.len() as u64 / 2).unwrap();
        }
        true
    });
    assert_changed(result, &path);
}

/// Rewrites the file when the graph build reaches `pass`.
fn build_rewriting(path: &Path, pass: u32, with: &[u8]) -> Result<Graph, Error> {
    let mut rewritten = false;
    Graph::build(path, &mut |step: Step| {
        if step.pass == pass && !rewritten {
            rewritten = true;
            // In place (same inode), as a JVM still writing the dump would.
            std::fs::write(path, with).unwrap();
        }
        true
    })
}

#[test]
fn a_dump_rewritten_between_graph_passes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rewritten.hprof");
    let small = dump(5_000);
    // More objects and references than the passes before counted: pass 4 would write past
    // the edges it made room for.
    let bigger = dump(9_000);
    for pass in 2..=4 {
        std::fs::write(&path, &small).unwrap();
        assert_changed(build_rewriting(&path, pass, &bigger), &path);
    }
    // The same bytes again: nothing but the times changed, and that is enough to distrust it.
    std::fs::write(&path, &small).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_changed(build_rewriting(&path, 3, &small), &path);
}

#[test]
fn a_dump_replaced_after_the_graph_was_built_is_not_read_for_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replaced.hprof");
    std::fs::write(&path, dump(3_000)).unwrap();
    let graph = Graph::build(&path, &mut |_| true).unwrap();
    // A new dump moved over the old one, as `mv` would: another inode.
    let other = dir.path().join("other.hprof");
    std::fs::write(&other, dump(4_000)).unwrap();
    std::fs::rename(&other, &path).unwrap();
    let ids: std::collections::HashSet<u64> = [graph.survey.roots()[0].1].into_iter().collect();
    let result = deployclaw::heap::fetch::fetch(&graph.path, &graph.stamp, &ids);
    assert_changed(result, &path);
}

#[test]
fn an_unchanged_dump_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("still.hprof");
    std::fs::write(&path, dump(3_000)).unwrap();
    let graph = Graph::build(&path, &mut |_| true).unwrap();
    let ids: std::collections::HashSet<u64> = [graph.survey.roots()[0].1].into_iter().collect();
    assert!(deployclaw::heap::fetch::fetch(&graph.path, &graph.stamp, &ids).is_ok());
    assert!(histogram::histogram_file(&path, &mut |_| true).is_ok());
}
