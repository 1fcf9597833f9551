//! `deployclaw logs templates FILE` reads a file as a stream (twice, in bounded memory); the
//! same log on stdin is read whole. Both must give the same lines, byte for byte, on real logs
//! written by others (../shared/real-world/ci and Loghub's samples, read in place) and on the
//! edge cases written here.

mod common;
use common::{Sandbox, code, stderr, stdout};
use std::io::Write;
use std::path::{Path, PathBuf};

fn same_both_ways(sandbox: &Sandbox, file: &Path) {
    let text = std::fs::read(file).unwrap();
    let lossy = String::from_utf8_lossy(&text).into_owned();
    let path = file.to_str().unwrap();
    for extra in [&["--json"][..], &[]] {
        let streamed = sandbox.run(&[&["logs", "templates", path][..], extra].concat());
        assert_eq!(code(&streamed), 0, "{path}: {}", stderr(&streamed));
        let whole = sandbox.run_stdin(&[&["logs", "templates", "-"][..], extra].concat(), &lossy);
        assert_eq!(code(&whole), 0, "{path}: {}", stderr(&whole));
        let (a, b) = (stdout(&streamed), stdout(&whole));
        if a != b {
            let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
            let show = |s: &str| at.and_then(|i| s.lines().nth(i)).unwrap_or("(ends)").to_string();
            panic!("{path} {extra:?}: streamed and whole differ at line {at:?}:\n{}\n{}", show(&a), show(&b));
        }
    }
}

fn files_in(dir: &Path, wanted: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipping: {} is not here", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| wanted(p)).collect();
    files.sort();
    files
}

#[test]
fn real_build_logs_stream_as_they_read_whole() {
    let sandbox = Sandbox::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-world/ci");
    for file in files_in(&corpus, |p| p.extension().is_some_and(|e| e == "log")) {
        same_both_ways(&sandbox, &file);
    }
}

#[test]
fn loghub_samples_stream_as_they_read_whole() {
    let sandbox = Sandbox::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-data/loghub-2k");
    for dir in files_in(&root, |p| p.is_dir()) {
        for file in files_in(&dir, |p| p.to_string_lossy().ends_with("_2k.log")) {
            same_both_ways(&sandbox, &file);
        }
    }
}

#[test]
fn edge_cases_stream_as_they_read_whole() {
    let sandbox = Sandbox::new();
    let cases: [(&str, &[u8]); 7] = [
        ("empty.log", b""),
        ("bom.log", "\u{feff}2024-05-01 10:00:00 INFO start\n2024-05-01 10:00:01 INFO stop\n".as_bytes()),
        ("crlf.log", b"a 1\r\nb 2\r\r\nlast without newline"),
        ("latin1.log", b"caf\xe9 ouvert 1\ncaf\xe9 ouvert 2\n\xff\n"),
        ("cyrillic.log", "Ошибка сборки 1\nОшибка сборки 2\n⚠️ warning\n".as_bytes()),
        ("blank.log", b"\n\n\n"),
        ("github.log", b"2024-05-01T10:00:00.0000000Z ##[group]Run cargo test\n2024-05-01T10:00:00.1000000Z cargo test\n2024-05-01T10:00:00.2000000Z ##[endgroup]\n2024-05-01T10:00:01.0000000Z test a ... ok\n2024-05-01T10:00:02.0000000Z ##[error]Process completed with exit code 101.\n"),
    ];
    for (name, bytes) in cases {
        same_both_ways(&sandbox, &sandbox.write_bytes(name, bytes));
    }
}

#[test]
fn a_gzip_log_streams_and_a_missing_one_is_named() {
    let sandbox = Sandbox::new();
    let text = "2024-05-01 10:00:00 INFO job 1 started\n2024-05-01 10:00:01 INFO job 2 started\n";
    let plain = sandbox.write("plain.log", text);
    let gz = sandbox.path("packed.log.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    let of = |p: &Path| stdout(&sandbox.run(&["logs", "templates", p.to_str().unwrap(), "--json"]));
    assert_eq!(of(&gz), of(&plain));
    assert_eq!(of(&plain).lines().filter(|l| l.contains(r#""template_id":1,"#)).count(), 2, "{}", of(&plain));

    let missing = sandbox.run(&["logs", "templates", "nope.log"]);
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("nope.log"), "{}", stderr(&missing));
}

/// A log longer than one chunk of the second pass (65,536 lines) is written from several
/// chunks on several threads, in order, exactly as the whole-text path writes it.
#[test]
fn a_log_of_many_chunks_streams_as_it_reads_whole() {
    let sandbox = Sandbox::new();
    let mut text = String::from("\u{feff}");
    for i in 0..70_000u32 {
        let line = match i % 5 {
            0 => format!(
                "2024-05-01 10:{:02}:{:02} INFO worker-{} job {i} done in {} ms\n",
                i % 60,
                i % 59,
                i % 7,
                i % 1000
            ),
            1 => format!("2024-05-01 10:{:02}:{:02} WARN пул соединений {i} занят\r\n", i % 60, i % 59),
            2 => format!(
                "2024-05-01 10:{:02}:{:02} ERROR tenant-{} request {i} failed: timeout\n",
                i % 60,
                i % 59,
                i % 13
            ),
            3 => "\n".to_string(),
            _ => format!("progress {}%\r{}%\n", i % 100, (i + 1) % 100),
        };
        text.push_str(&line);
    }
    same_both_ways(&sandbox, &sandbox.write("many.log", &text));
}
