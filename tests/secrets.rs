//! A corpus of secrets in the forms they take in real scripts and logs, printed, noted, put in
//! report tables, returned by notebook cells and by cells run on the Jupyter kernel: none of the
//! secret values reaches the screen, the session log, a report file, a notebook or a kernel reply.

mod common;

use common::{Sandbox, code, stderr, stdout};
use std::path::Path;
use std::process::Command;

/// Each text holds one secret; the second part is the secret itself, which must appear nowhere.
const CORPUS: [(&str, &str); 16] = [
    ("PGPASSWORD=Pg0Secret psql -h db", "Pg0Secret"),
    ("password = \"Quoted0Secret\"", "Quoted0Secret"),
    ("aws_secret_access_key wJalrXUtnFEMI0K7MDENGbPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI0K7MDENG"),
    ("token ghp_0123456789abcdefghijABCDEFGHIJ012345 in use", "ghp_0123456789abcdefghij"),
    ("slack xoxb-123456789012-Slack0Secret0Value", "Slack0Secret0Value"),
    ("Authorization: Basic QmFzaWMwU2VjcmV0Cg==", "QmFzaWMwU2VjcmV0Cg"),
    ("gitlab glpat-Gitlab0Secret0Value0123", "Gitlab0Secret0Value0123"),
    ("postgres://app:Url%2F0Secret%40x@db:5432/app", "Url%2F0Secret"),
    ("DB_PASSWORD=Env0Secret", "Env0Secret"),
    ("MYSQL_PWD=Mysql0Secret", "Mysql0Secret"),
    ("https://api.example.com/v1?api_key=Query0Secret&x=1", "Query0Secret"),
    ("client_secret: Yaml0Secret", "Yaml0Secret"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJKd3QwU2VjcmV0In0.Jwt0Signature0Secret0Value", "Jwt0Signature0Secret"),
    ("Authorization: Bearer Bearer0Secret0Token", "Bearer0Secret0Token"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nPem0Secret0Body\n-----END OPENSSH PRIVATE KEY-----", "Pem0Secret0Body"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
];

/// Every file below `dir`, as text.
fn texts_below(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(texts_below(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

fn assert_clean(sink: &str, text: &str) {
    for (_, secret) in CORPUS {
        assert!(!text.contains(secret), "{sink} holds {secret}:\n{text}");
    }
}

/// The corpus as a Rhai array of string literals.
fn rhai_corpus() -> String {
    let items: Vec<String> = CORPUS.iter().map(|(text, _)| format!("{text:?}")).collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn no_secret_reaches_the_screen_the_log_or_a_report() {
    let sandbox = Sandbox::new();
    let script = format!(
        r#"let corpus = {corpus};
for s in corpus {{ print(s); evidence::note(s); }}
let rows = corpus.map(|s| #{{text: s, password: "Map0Secret"}});
evidence::finding("warning", corpus[0], rows.len());
let r = report::write("report", #{{audit: "secrets", title: corpus[1], summary: corpus, sections: [#{{title: "all", text: corpus[2], table: rows}}]}});
#{{corpus: corpus, password: "Map0Secret"}}"#,
        corpus = rhai_corpus()
    );
    let path = sandbox.write("secrets.rhai", &script);
    let run = sandbox.run(&["run", "--json", path.to_str().unwrap()]);
    assert!(matches!(code(&run), 0 | 3), "{}", stderr(&run));
    assert_clean("stdout", &stdout(&run));
    assert_clean("stderr", &stderr(&run));
    assert!(!stdout(&run).contains("Map0Secret") && stdout(&run).contains("[REDACTED"), "{}", stdout(&run));
    let files = texts_below(&sandbox.path("report"));
    assert!(files.len() >= 3, "{files:?}");
    for (name, text) in files.iter().chain(texts_below(&sandbox.home()).iter()) {
        assert_clean(name, text);
        assert!(!text.contains("Map0Secret"), "{name}");
    }
}

fn python_has(modules: &[&str]) -> bool {
    let check = format!("import {}", modules.join(", "));
    let ok = Command::new("python3").args(["-c", &check]).output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("DEPLOYCLAW_REQUIRE_SERVICES").is_some() {
        panic!("python3 needs {modules:?} (pip install nbformat nbclient jupyter_client)");
    }
    ok
}

fn secret_notebook() -> String {
    let source = format!(
        "let corpus = {};\nfor s in corpus {{ print(s); }}\n#{{password: \"Map0Secret\", all: corpus}}",
        rhai_corpus()
    );
    serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "s", "execution_count": null, "metadata": {}, "outputs": [], "source": source},
        {"cell_type": "code", "id": "e", "execution_count": null, "metadata": {}, "outputs": [], "source": format!("throw {:?}", CORPUS[0].0)},
    ]})
    .to_string()
}

#[test]
fn no_secret_reaches_a_notebook_or_a_kernel_reply() {
    let sandbox = Sandbox::new();
    let input = sandbox.write("secrets.ipynb", &secret_notebook());
    let out = sandbox.path("secrets.out.ipynb");
    let run = sandbox.run(&["notebook", "run", input.to_str().unwrap(), "--allow-errors", "-o", out.to_str().unwrap()]);
    assert!(matches!(code(&run), 0 | 1), "{}", stderr(&run));
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let outputs: Vec<String> = written["cells"].as_array().unwrap().iter().map(|c| c["outputs"].to_string()).collect();
    assert!(outputs[0].contains("[REDACTED"), "{outputs:?}");
    for o in &outputs {
        assert_clean("notebook outputs", o);
        assert!(!o.contains("Map0Secret"), "{o}");
    }

    if !python_has(&["nbclient", "nbformat"]) {
        return;
    }
    let prefix = sandbox.path("jupyter-prefix");
    let install = sandbox.run(&["kernel", "install", "--prefix", prefix.to_str().unwrap()]);
    assert_eq!(code(&install), 0, "{}", stderr(&install));
    let script = "import sys, json, nbformat, nbclient\nnb = nbformat.read(sys.argv[1], as_version=4)\nnbclient.NotebookClient(nb, kernel_name='deployclaw', timeout=60, allow_errors=True).execute()\nprint(json.dumps([c.get('outputs', []) for c in nb.cells]))\n";
    let driven = sandbox
        .command_for("python3")
        .arg("-c")
        .arg(script)
        .arg(&input)
        .env("JUPYTER_PATH", prefix.join("share/jupyter"))
        .output()
        .unwrap();
    assert!(driven.status.success(), "nbclient: {}", String::from_utf8_lossy(&driven.stderr));
    let replies = String::from_utf8_lossy(&driven.stdout);
    assert!(replies.contains("[REDACTED"), "{replies}");
    assert_clean("kernel replies", &replies);
    assert!(!replies.contains("Map0Secret"), "{replies}");
}
