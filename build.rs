//! Embeds stdlib/*.rhai so the binary works wherever it is copied.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("stdlib");
    println!("cargo:rerun-if-changed=stdlib");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".rhai"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// Every stdlib module, by import name, as source text.\npub const EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for name in names {
        let path = std::fs::canonicalize(dir.join(&name)).expect("stdlib file exists");
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(out, "    ({:?}, include_str!({:?})),", name.trim_end_matches(".rhai"), path);
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
