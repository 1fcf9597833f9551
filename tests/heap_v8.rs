//! V8 heap snapshots written by a real Node process: histograms by constructor and the diff of
//! two snapshots by V8's stable object ids.

mod common;
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::process::Command;

/// Two snapshots of one Node process: 300 `Leaky` objects, then 200 more with 100 of the first freed.
fn snapshots(sb: &Sandbox) -> Option<(String, String)> {
    let (a, b) = (sb.path("a.heapsnapshot"), sb.path("b.heapsnapshot"));
    let script = format!(
        r#"const v8 = require('v8');
class Leaky {{ constructor(i) {{ this.i = i; this.buf = new Array(8).fill(i); }} }}
globalThis.keep = [];
for (let i = 0; i < 300; i++) keep.push(new Leaky(i));
v8.writeHeapSnapshot({a:?});
keep.splice(0, 100);
for (let i = 0; i < 200; i++) keep.push(new Leaky(i));
v8.writeHeapSnapshot({b:?});"#,
        a = a.to_str().unwrap(),
        b = b.to_str().unwrap()
    );
    match Command::new("node").arg("-e").arg(&script).status() {
        Ok(status) => assert!(status.success(), "node failed"),
        Err(e) if std::env::var_os("DEPLOYCLAW_REQUIRE_SERVICES").is_some() => panic!("node is required: {e}"),
        Err(e) => {
            eprintln!("skipped: node is not installed ({e})");
            return None;
        }
    }
    Some((a.to_str().unwrap().to_string(), b.to_str().unwrap().to_string()))
}

#[test]
fn node_snapshots_give_histograms_and_an_id_diff() {
    let sb = Sandbox::new();
    let Some((a, b)) = snapshots(&sb) else { return };
    let out = sb.run(&["heap", "histogram", &b, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let leaky = rows.as_array().unwrap().iter().find(|r| r["class"] == "Leaky").expect("a Leaky row");
    assert_eq!(leaky["instances"], 400, "{leaky}");

    let script = sb.write("d.rhai", r#"heap::v8_diff(A, B).filter("class = 'Leaky'").rows()"#);
    let out = sb.run(&["run", script.to_str().unwrap(), "--json", "-p", &format!("A={a}"), "-p", &format!("B={b}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((&rows[0]["allocated"], &rows[0]["freed"]), (&Value::from(200), &Value::from(100)), "{rows}");

    let out = sb.run(&["heap", "diff", &a, &b, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let leaky = rows.as_array().unwrap().iter().find(|r| r["class"] == "Leaky").unwrap();
    assert_eq!(leaky["instance_delta"], 100);
}

#[test]
fn a_broken_snapshot_is_named() {
    let sb = Sandbox::new();
    let bad = sb.write("bad.heapsnapshot", r#"{"snapshot": {"meta": {}}, "nodes": ["#);
    let out = sb.run(&["heap", "histogram", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("bad.heapsnapshot: not a V8 heap snapshot"), "{}", stderr(&out));
}
