//! The object-graph analyses on real JVM dumps: dominators, retained sizes, suspects, paths to
//! GC roots, tenants, secrets. One JVM (tests/fixtures/TenantLeak.java) is dumped twice, a few
//! seconds apart, and every test reads those two dumps.

mod common;
use common::jvm::Jvm;
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Dumps {
    _dir: tempfile::TempDir,
    base: PathBuf,
    cur: PathBuf,
    /// The same moment as `cur`, written by `jcmd GC.heap_dump -gz=1`.
    cur_gz: PathBuf,
}

fn dumps() -> &'static Dumps {
    static DUMPS: OnceLock<Dumps> = OnceLock::new();
    DUMPS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let jvm = Jvm::start(dir.path(), "TenantLeak", &[]);
        let base = jvm.heap_dump("base.hprof");
        let ready = dir.path().join("TenantLeak.ready");
        std::fs::write(dir.path().join("TenantLeak.ready.go"), "go").unwrap();
        let second = PathBuf::from(format!("{}.2", ready.display()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !second.exists() {
            assert!(std::time::Instant::now() < deadline, "TenantLeak did not grow in 60 s");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let cur = jvm.heap_dump("cur.hprof");
        let cur_gz = jvm.heap_dump_gz("cur.hprof.gz");
        Dumps { _dir: dir, base, cur, cur_gz }
    })
}

/// Run a script with `BASE` and `CUR` set, returning its value as JSON.
fn eval(sb: &Sandbox, script: &str) -> (i32, Value, String) {
    let d = dumps();
    let path = sb.write("t.rhai", script);
    let out = sb.run(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        "-p",
        &format!("BASE={}", d.base.display()),
        "-p",
        &format!("CUR={}", d.cur.display()),
    ]);
    let value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (code(&out), value, stderr(&out))
}

#[test]
fn the_static_registry_dominates_and_soft_references_retain_nothing() {
    let sb = Sandbox::new();
    let (rc, v, err) = eval(
        &sb,
        r#"let shallow = 0;
        for n in heap::histogram(CUR)["shallow_bytes"] { shallow += n; }
        #{
            top: heap::dominators(CUR, 1000).rows(),
            soft: heap::retained(CUR).filter("class = 'java.lang.ref.SoftReference'").rows(),
            shallow: shallow,
        }"#,
    );
    assert_eq!(rc, 0, "{err}");
    let top = &v["top"][0];
    assert_eq!(top["class"], "class TenantLeak", "the TenantLeak class holds the registry: {v}");
    assert!(top["retained_pct"].as_f64().unwrap() > 50.0, "{v}");
    let live: u64 = v["top"].as_array().unwrap().iter().map(|r| r["retained_bytes"].as_u64().unwrap()).sum();
    let shallow = v["shallow"].as_u64().unwrap();
    assert!(live < shallow - (4 << 20), "the softly held 4 MiB cache is not live: {live} vs {shallow}");
    for row in v["soft"].as_array().unwrap() {
        assert!(row["retained_bytes"].as_u64().unwrap() < 100_000, "a SoftReference retains its referent: {row}");
    }
}

#[test]
fn the_suspect_is_the_registry_and_it_grew_since_the_baseline() {
    let sb = Sandbox::new();
    let (rc, v, err) = eval(&sb, "heap::suspects(CUR, BASE).rows()");
    assert_eq!(rc, 0, "{err}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    let s = &rows[0];
    assert!(s["path"].as_str().unwrap().contains("static REGISTRY"), "{s}");
    assert_eq!(s["accumulation_class"], "java.util.LinkedHashMap", "{s}");
    let (base, growth) = (s["base_bytes"].as_i64().unwrap(), s["growth_bytes"].as_i64().unwrap());
    assert!(base > 0 && growth > base / 2, "the registry about doubled: {s}");
    assert!(err.contains("finding [warning] leak suspect"), "{err}");
}

#[test]
fn tenant_07_is_named_and_the_cross_tenant_reference_is_found() {
    let sb = Sandbox::new();
    let (rc, v, err) = eval(&sb, r#"heap::tenants([BASE, CUR], "map:TenantLeak.REGISTRY").rows()"#);
    assert_eq!(rc, 3, "error findings: {err}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 10, "{v}");
    assert_eq!(rows[0]["tenant"], "tenant-07", "largest growth first: {v}");
    let (fast, slow) = (rows[0]["growth_bytes"].as_f64().unwrap(), rows[5]["growth_bytes"].as_f64().unwrap());
    assert!(fast > 4.0 * slow && fast < 6.0 * slow, "tenant-07 grows five times faster: {v}");
    assert!(err.contains("tenant tenant-07 grew by"), "{err}");
    let crossing = err.lines().find(|l| l.contains("cross-tenant reference")).unwrap_or_else(|| panic!("{err}"));
    assert!(crossing.contains("of tenant-03") && crossing.contains("of tenant-05"), "{crossing}");
    assert_eq!(err.matches("finding [error] tenant ").count(), 1, "only tenant-07 is an outlier: {err}");
}

#[test]
fn a_field_rule_finds_the_same_tenants_as_the_map_rule() {
    let sb = Sandbox::new();
    let (rc, v, err) = eval(
        &sb,
        r#"#{
            by_field: heap::tenants(CUR, "TenantLeak$Tenant.name").sort("tenant").rows(),
            by_map: heap::tenants(CUR, "map:TenantLeak.REGISTRY").sort("tenant").rows(),
        }"#,
    );
    assert_eq!(rc, 3, "the cross-tenant reference: {err}");
    assert_eq!(v["by_field"], v["by_map"]);
    assert_eq!(v["by_field"][7]["tenant"], "tenant-07");
}

#[test]
fn a_gzip_dump_gives_the_same_graph_as_a_plain_one() {
    let sb = Sandbox::new();
    let gz = dumps().cur_gz.display().to_string();
    let (rc, v, err) = eval(
        &sb,
        &format!(
            r#"#{{
                plain: heap::tenants(CUR, "map:TenantLeak.REGISTRY").sort("tenant").select(["tenant", "retained_bytes"]).rows(),
                gzip: heap::tenants("{gz}", "map:TenantLeak.REGISTRY").sort("tenant").select(["tenant", "retained_bytes"]).rows(),
            }}"#
        ),
    );
    assert_eq!(rc, 3, "{err}");
    assert_eq!(v["plain"], v["gzip"], "an idle JVM dumped twice holds the same memory per tenant");
}

#[test]
fn a_thread_local_rule_attributes_each_worker_thread() {
    let sb = Sandbox::new();
    let (rc, v, err) = eval(&sb, r#"heap::tenants(CUR, "threadlocal:TenantLeak.CURRENT").sort("tenant").rows()"#);
    assert_eq!(rc, 0, "{err}");
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|r| r["tenant"].as_str().unwrap()).collect();
    assert_eq!(names, ["tenant-01", "tenant-02", "tenant-07"], "{v}");
    for row in v.as_array().unwrap() {
        assert!(row["retained_bytes"].as_u64().unwrap() >= 64 << 10, "each holds its scratch buffer: {row}");
    }
}

#[test]
fn a_path_to_the_roots_names_each_field() {
    let sb = Sandbox::new();
    let (rc, v, err) =
        eval(&sb, r#"let s = heap::suspects(CUR).rows()[0]; heap::path_to_roots(CUR, s.accumulation_object).rows()"#);
    assert_eq!(rc, 0, "{err}");
    let hops = v.as_array().unwrap();
    assert!(hops[0]["root"].is_string(), "the first hop is a GC root: {v}");
    let holder = &hops[hops.len() - 2];
    assert_eq!(
        (&holder["class"], &holder["via"]),
        (&Value::from("class TenantLeak"), &Value::from("static REGISTRY")),
        "{v}"
    );
    assert_eq!(hops.last().unwrap()["class"], "java.util.LinkedHashMap");
}

#[test]
fn secrets_are_found_and_never_shown() {
    let sb = Sandbox::new();
    let d = dumps();
    let out = sb.run(&["heap", "secrets", d.cur.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 3, "a secret is an error finding: {}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let kinds: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"aws_access_key_id"), "{rows}");
    let key = "AKIAIOSFODNN7EXAMPLE";
    assert!(!stdout(&out).contains(key) && !stderr(&out).contains(key));
    let log = std::fs::read_to_string(&sb.logs()[0]).unwrap();
    assert!(!log.contains(key), "the log holds no secret");
}

#[test]
fn cli_commands_print_json_records() {
    let sb = Sandbox::new();
    let d = dumps();
    let (base, cur) = (d.base.to_str().unwrap(), d.cur.to_str().unwrap());
    let out = sb.run(&["heap", "tenants", base, cur, "--rule", "map:TenantLeak.REGISTRY", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).expect("only JSON on stdout");
    assert_eq!(rows[0]["tenant"], "tenant-07");

    let out = sb.run(&["heap", "dominators", cur, "--top", "2", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);

    let out = sb.run(&["heap", "dominators", cur, "--by-class", "--top", "50", "--json"]);
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(rows.as_array().unwrap().iter().any(|r| r["class"] == "TenantLeak$Tenant"), "{rows}");

    let out = sb.run(&["heap", "suspects", cur, "--baseline", base]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("class TenantLeak"), "{}", stdout(&out));

    let out = sb.run(&["heap", "tenants", cur, "--rule", "nonsense:x"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown kind"), "{}", stderr(&out));
    let out = sb.run(&["heap", "tenants", cur, "--rule", "com.nowhere.Tenant.name"]);
    // A rule naming a class the dump lacks is the rule's fault: the usage exit code.
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no class com.nowhere.Tenant"), "{}", stderr(&out));
}

#[test]
fn tenants_of_no_dumps_or_no_tenants_is_an_input_error() {
    let sb = Sandbox::new();
    let (rc, _, err) = eval(&sb, r#"heap::tenants([], "map:TenantLeak.REGISTRY")"#);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("give at least one dump") && !err.contains("internal error"), "{err}");
    let (rc, _, err) = eval(&sb, r#"heap::tenants(CUR, "map:NoSuch.FIELD")"#);
    assert_eq!(rc, 2, "{err}");
}
