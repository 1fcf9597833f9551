//! Notebooks: `deployclaw notebook run` writes outputs that nbformat validates; the kernel is
//! driven by the real Jupyter clients from PyPI (jupyter_client for execute, complete, inspect,
//! is_complete, interrupt and shutdown; nbclient runs every notebook in notebooks/ on it).

mod common;

use common::{Sandbox, code, stderr};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether python3 has these modules; a skip (with the reason) unless services are required.
fn python_has(modules: &[&str]) -> bool {
    let check = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("; ");
    let ok = Command::new("python3").args(["-c", &check]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("DEPLOYCLAW_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "python3 needs {modules:?} (pip install nbformat nbclient jupyter_client)"
        );
        eprintln!("skipping: python3 lacks {modules:?} (pip install nbformat nbclient jupyter_client)");
    }
    ok
}

fn python(script: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_valid_notebook(path: &Path) {
    let (ok, _, err) = python(
        "import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))",
        &[path.to_str().unwrap()],
    );
    assert!(ok, "{} is not a valid notebook: {err}", path.display());
}

fn notebook(cells: Value) -> String {
    json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).to_string()
}

fn code_cell(id: &str, source: &str, tags: &[&str]) -> Value {
    json!({"cell_type": "code", "id": id, "execution_count": null, "metadata": {"tags": tags}, "outputs": [], "source": source})
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_headless_run_writes_every_output_and_stops_at_the_first_error() {
    let sandbox = Sandbox::new();
    let input = sandbox.write(
        "pools.ipynb",
        &notebook(json!([
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Pools"},
            code_cell("p", "let threshold = 0.9;", &["parameters"]),
            code_cell("a", "print(`threshold is ${threshold}`);\nlet pools = frame([#{pool: \"orders\", used: 0.95}, #{pool: \"billing\", used: 0.2}]);\npools.filter(`used > ${threshold}`)", &[]),
            code_cell("b", "#{kind: \"bar\", title: \"use\", y_label: \"share\", bars: [#{label: \"orders\", value: 0.95}], thresholds: [#{label: \"limit\", value: threshold}]}", &[]),
            code_cell("c", "evidence::finding(\"warning\", \"orders is hot\", 1);\nlet x = 1;\nx + nope", &[]),
            code_cell("d", "\"never runs\"", &[]),
        ])),
    );
    let output = sandbox.path("pools.out.ipynb");
    let run = sandbox.run(&["notebook", "run", input.to_str().unwrap(), "-p", "threshold=0.1", "-p", "who:str=007"]);
    assert_eq!(code(&run), 1, "a failed cell fails the run: {}", stderr(&run));
    assert!(stderr(&run).contains("5 of 6 code cells ran, cell(s) [6] failed"), "{}", stderr(&run));
    let nb = read(&output);
    let cells = nb["cells"].as_array().unwrap();
    assert_eq!(cells[2]["metadata"]["tags"], json!(["injected-parameters"]));
    assert_eq!(cells[2]["source"], json!(["let threshold = 0.1;\n", "let who = \"007\";"]));
    let counts: Vec<Value> =
        cells.iter().filter(|c| c["cell_type"] == "code").map(|c| c["execution_count"].clone()).collect();
    assert_eq!(counts, [json!(1), json!(2), json!(3), json!(4), json!(5), Value::Null]);
    let frame = &cells[3]["outputs"];
    assert_eq!(frame[0]["output_type"], "stream");
    assert_eq!(frame[0]["text"], json!(["threshold is 0.1\n"]));
    assert_eq!(frame[1]["output_type"], "execute_result");
    let html =
        frame[1]["data"]["text/html"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect::<String>();
    assert!(html.contains("<td>orders</td>") && html.contains("<td>billing</td>"), "{html}");
    assert!(cells[4]["outputs"][0]["data"]["image/svg+xml"][0].as_str().unwrap().starts_with("<svg"));
    let error = &cells[5]["outputs"];
    assert_eq!(error[0]["text"], json!(["finding [warning] orders is hot\n"]));
    assert_eq!(error[1]["output_type"], "error");
    assert_eq!(error[1]["evalue"], "Variable not found: nope");
    assert_eq!(
        error[1]["traceback"],
        json!(["cell 6, line 3, column 5:", "    x + nope", "        ^", "RhaiError: Variable not found: nope"])
    );
    assert!(cells[6]["outputs"].as_array().unwrap().is_empty(), "after the error nothing ran");
    assert!(cells[3]["metadata"]["execution"]["shell.execute_reply"].is_string());
    let meta = &nb["metadata"];
    assert_eq!(meta["kernelspec"]["name"], "deployclaw");
    assert_eq!(meta["deployclaw"]["session_log"]["verified"], true, "{meta:#}");
    let log = meta["deployclaw"]["session_log"]["path"].as_str().unwrap();
    assert_eq!(code(&sandbox.run(&["log", "verify", log])), 0);
    if python_has(&["nbformat"]) {
        assert_valid_notebook(&output);
    }

    let all = sandbox.path("all.ipynb");
    let run = sandbox.run(&["notebook", "run", input.to_str().unwrap(), "--allow-errors", "-o", all.to_str().unwrap()]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_eq!(read(&all)["cells"][5]["outputs"][0]["data"]["text/plain"], json!(["never runs"]));
}

#[test]
fn what_is_not_a_notebook_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let text = sandbox.write("notes.ipynb", "not json");
    let run = sandbox.run(&["notebook", "run", text.to_str().unwrap()]);
    assert_eq!(code(&run), 2);
    assert!(stderr(&run).contains("notes.ipynb is not a Jupyter notebook: not JSON"), "{}", stderr(&run));
    let old = sandbox.write("old.ipynb", r#"{"nbformat": 3, "worksheets": []}"#);
    let run = sandbox.run(&["notebook", "run", old.to_str().unwrap()]);
    assert!(stderr(&run).contains("nbformat 3; this reads nbformat 4"), "{}", stderr(&run));
    let run = sandbox.run(&["notebook", "run", "missing.ipynb"]);
    assert!(stderr(&run).contains("cannot read notebook missing.ipynb"), "{}", stderr(&run));
}

/// The kernelspec, installed the way a user would, under a prefix of the test's own.
fn install_kernel(sandbox: &Sandbox) -> PathBuf {
    let prefix = sandbox.path("jupyter-prefix");
    let run = sandbox.run(&["kernel", "install", "--prefix", prefix.to_str().unwrap()]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let spec = read(&prefix.join("share/jupyter/kernels/deployclaw/kernel.json"));
    assert_eq!(spec["argv"][1], "kernel");
    assert_eq!(spec["interrupt_mode"], "message");
    prefix.join("share/jupyter")
}

#[test]
fn jupyter_client_drives_the_kernel() {
    if !python_has(&["jupyter_client"]) {
        return;
    }
    let sandbox = Sandbox::new();
    let jupyter = install_kernel(&sandbox);
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jupyter/drive_kernel.py");
    let out = sandbox
        .command_for("python3")
        .args([driver, jupyter.join("kernels").to_str().unwrap()])
        .current_dir(sandbox.path("."))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["kernel_info"]["language_info"]["name"], "rhai");
    assert_eq!(got["value"]["outputs"][0]["content"]["data"]["text/plain"], "42");
    assert_eq!(got["print"]["outputs"][0]["content"]["text"], "hello from a cell\n");
    assert!(got["frame"]["outputs"][0]["content"]["data"]["text/html"].as_str().unwrap().contains("<td>globex</td>"));
    assert!(got["chart"]["outputs"][0]["content"]["data"]["image/svg+xml"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(got["error"]["reply"]["status"], "error");
    assert_eq!(got["error"]["reply"]["evalue"], "Variable not found: nope");
    assert_eq!(got["still_n"]["outputs"][0]["content"]["data"]["text/plain"], "42", "the session survives an error");
    let live = &got["live"];
    assert_eq!(live["outputs"][0]["content"]["text"], "first\n");
    assert_eq!(live["outputs"][1]["content"]["text"], "second\n");
    let early = live["done"].as_f64().unwrap() - live["outputs"][0]["at"].as_f64().unwrap();
    assert!(early > 1.0, "the first line arrives while the cell still runs ({early:.2} s before it ends)");
    assert_eq!(got["complete"]["matches"], json!(["heap::diff("]));
    assert_eq!((got["complete"]["cursor_start"].as_u64(), got["complete"]["cursor_end"].as_u64()), (Some(0), Some(9)));
    assert!(got["inspect"]["data"]["text/plain"].as_str().unwrap().starts_with("heap::diff\n"), "{}", got["inspect"]);
    assert_eq!(got["incomplete"]["status"], "incomplete");
    assert_eq!(got["complete_code"]["status"], "complete");
    assert_eq!(got["interrupt"]["reply"]["ename"], "Interrupted", "{}", got["interrupt"]);
    assert!(got["interrupt"]["seconds"].as_f64().unwrap() < 10.0);
    assert_eq!(got["after_interrupt"]["outputs"][0]["content"]["data"]["text/plain"], "43");
    assert_eq!(got["alive_after_shutdown"], false);
    // One kernel, one sealed log.
    let logs = sandbox.logs();
    let kernel_log = logs.iter().find(|p| std::fs::read_to_string(p).unwrap().contains("hello from a cell")).unwrap();
    let verify = sandbox.run(&["log", "verify", kernel_log.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", common::stdout(&verify));
}

/// Every example notebook runs headless on the demo scenario, both with `notebook run` and
/// with nbclient on the installed kernel, without a failed cell.
#[test]
fn every_example_notebook_runs_on_the_demo() {
    let sandbox = Sandbox::new();
    let demo = sandbox.path("deployclaw-demo");
    let run = sandbox.run(&["demo", demo.to_str().unwrap()]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks");
    let mut notebooks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    notebooks.sort();
    assert_eq!(notebooks.len(), 4, "{notebooks:?}");
    let nbformat = python_has(&["nbformat"]);
    for nb in &notebooks {
        let out = sandbox.path(&format!("out-{}", nb.file_name().unwrap().to_string_lossy()));
        let demo_param = format!("DEMO={}", demo.display());
        let run =
            sandbox.run(&["notebook", "run", nb.to_str().unwrap(), "-p", &demo_param, "-o", out.to_str().unwrap()]);
        assert!(matches!(code(&run), 0 | 3), "{}: {}", nb.display(), stderr(&run));
        let written = read(&out);
        assert_eq!(written["metadata"]["deployclaw"]["failed_cells"], json!([]), "{}", nb.display());
        let rich = written["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["outputs"].as_array().cloned().unwrap_or_default());
        let kinds: Vec<String> = rich
            .filter_map(|o| o["data"].as_object().map(|d| d.keys().cloned().collect::<Vec<_>>().join(",")))
            .collect();
        assert!(kinds.iter().any(|k| k.contains("text/html")), "{}: a table: {kinds:?}", nb.display());
        if nbformat {
            assert_valid_notebook(&out);
        }
    }
    if !python_has(&["nbclient", "nbformat"]) {
        return;
    }
    let jupyter = install_kernel(&sandbox);
    let script = "import sys, nbformat, nbclient\nfor path in sys.argv[2:]:\n    nb = nbformat.read(path, as_version=4)\n    nbclient.NotebookClient(nb, kernel_name='deployclaw', timeout=120, resources={'metadata': {'path': sys.argv[1]}}).execute()\n    errors = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']\n    assert not errors, (path, errors)\n    print(path, 'ok')\n";
    let mut args = vec![sandbox.path(".").display().to_string()];
    args.extend(notebooks.iter().map(|p| p.display().to_string()));
    let out = sandbox
        .command_for("python3")
        .arg("-c")
        .arg(script)
        .args(&args)
        .env("JUPYTER_PATH", &jupyter)
        .output()
        .unwrap();
    assert!(out.status.success(), "nbclient: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches(" ok").count(), 4);
}
