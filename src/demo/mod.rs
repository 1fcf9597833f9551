//! The demo scenario of `deployclaw demo`: everything the four audits need, on the embedded
//! defaults (SQLite, files), with one problem planted for each to find. Plain library: it writes
//! files and says where they are.

use std::path::{Path, PathBuf};

use crate::paths::write_atomically;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Write { path: String, message: String },
    #[error("the demo folder {0} is not empty: give a new or empty folder")]
    NotEmpty(String),
    #[error("the demo database: {0}")]
    Database(String),
}

/// Where the scenario's parts are.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub dir: PathBuf,
    /// The shop: SQLite, three tenants.
    pub db_url: String,
    pub tenancy: PathBuf,
    /// The incident runbook, with one unsafe statement.
    pub runbook: PathBuf,
    /// Rust row structs, one of them mismatched with its table.
    pub src: PathBuf,
    pub ci_logs: PathBuf,
    pub ci_graph: PathBuf,
    pub slos: PathBuf,
    /// Alert rules with one threshold drifted.
    pub rules: PathBuf,
    /// Good/total samples per tenant; globex burns its budget in the last 20 minutes.
    pub metrics: PathBuf,
    /// A folder of heap dumps per service; api-svc leaks for tenant-05.
    pub dumps: PathBuf,
    pub pool_samples: PathBuf,
    pub pool_max: u32,
    pub tenant_rule: &'static str,
    /// The runbook's tenant.
    pub tenant: i64,
    /// Where api-svc's dumps came from: a JVM run here, or the synthetic writer.
    pub heap_source: String,
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

/// Stops the demo JVM however the dumps end.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path, what: &str) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !path.exists() {
        if std::time::Instant::now() > deadline {
            return Err(format!("{what} did not happen within 60 s"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// Compile and run the demo service on this machine's JDK and dump it before and after it
/// grows, into `folder`. An error says which step failed.
fn jvm_dumps(dir: &Path, folder: &Path) -> Result<(), String> {
    let jvm = dir.join("jvm");
    let source = jvm.join("src/com/acme/ApiSvc.java");
    write(&source, API_SVC_JAVA.as_bytes()).map_err(|e| e.to_string())?;
    let classes = jvm.join("classes");
    let javac = std::process::Command::new("javac").arg("-d").arg(&classes).arg(&source).output();
    match javac {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("javac: {}", String::from_utf8_lossy(&out.stderr).trim())),
        Err(e) => return Err(format!("javac: {e}")),
    }
    let ready = jvm.join("api-svc.ready");
    let child = std::process::Command::new("java")
        .args(["-Xmx64m", "-Dservice.version=2.4.0", "-cp"])
        .arg(&classes)
        .arg("com.acme.ApiSvc")
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("java: {e}"))?;
    let child = Child(child);
    wait_for(&ready, "the demo JVM's start")?;
    let pid = child.0.id();
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    crate::heap::live::snapshot(pid, &folder.join("1-snapshot.hprof"), None).map_err(|e| e.to_string())?;
    write(&jvm.join("api-svc.ready.go"), b"go").map_err(|e| e.to_string())?;
    wait_for(&jvm.join("api-svc.ready.2"), "the demo JVM's growth")?;
    crate::heap::live::snapshot(pid, &folder.join("2-snapshot.hprof"), None).map_err(|e| e.to_string())?;
    Ok(())
}

const SLOS: &str = include_str!("assets/slos.toml");
const ALARMS: &str = include_str!("assets/checkout-alarms.yaml");
const RUNBOOK: &str = include_str!("assets/runbook.sql");
const MODELS: &str = include_str!("assets/models.rs");
const DEPLOY_EDGE_LOG: &str = include_str!("assets/deploy-edge.log");
const SETTINGS_FN_LOG: &str = include_str!("assets/settings-fn.log");
const API_SVC_JAVA: &str = include_str!("assets/ApiSvc.java");

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Write { path: parent.display().to_string(), message: e.to_string() })?;
    }
    write_atomically(path, bytes).map_err(|message| Error::Write { path: path.display().to_string(), message })
}

/// 120 minutes of checkout requests: acme all good, globex failing everything from minute 100.
fn metrics_csv() -> String {
    let mut out = String::from("time,tenant,good,total\n");
    for minute in 0..120u32 {
        out += &format!("{},acme,1000,1000\n", minute * 60);
        let good = if minute >= 100 { 0 } else { 1000 };
        out += &format!("{},globex,{good},1000\n", minute * 60);
    }
    out
}

/// Connections per tenant beside the two dumps: tenant-05's sessions hold connections until
/// the pool (10) runs out.
fn pool_csv() -> String {
    let mut out = String::from("ts,tenant,connections,waiting\n");
    for (ts, t5, waiting) in [(1, 2, 0), (2, 4, 0), (3, 6, 0), (4, 8, 1), (5, 10, 3)] {
        out += &format!("{ts},tenant-01,1,0\n{ts},tenant-05,{t5},{waiting}\n");
    }
    out
}

/// Write the scenario into `dir` (new or empty). The SQLite database is created by `create_db`,
/// which the caller runs on its runtime.
pub async fn build(dir: &Path) -> Result<Scenario, Error> {
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::NotEmpty(dir.display().to_string()));
    }
    let db_path = dir.join("shop.db");
    write(&dir.join("README.txt"), b"deployclaw demo scenario: see `deployclaw demo --help`.\n")?;
    crate::sql::demo::create(&db_path).await.map_err(|e| Error::Database(e.to_string()))?;
    let tenancy = dir.join("tenancy.toml");
    write(&tenancy, crate::sql::demo::TENANCY.as_bytes())?;
    let runbook = dir.join("runbook.sql");
    write(&runbook, RUNBOOK.as_bytes())?;
    let src = dir.join("src");
    write(&src.join("models.rs"), MODELS.as_bytes())?;

    let ci = dir.join("ci");
    std::fs::create_dir_all(&ci)
        .map_err(|e| Error::Write { path: ci.display().to_string(), message: e.to_string() })?;
    let files = crate::triage::demo::write_files(&ci)
        .map_err(|e| Error::Write { path: ci.display().to_string(), message: e.to_string() })?;
    write(&files.logs.join("deploy-edge.log"), DEPLOY_EDGE_LOG.as_bytes())?;
    write(&files.logs.join("settings-fn.log"), SETTINGS_FN_LOG.as_bytes())?;

    let slo = dir.join("slo");
    write(&slo.join("slos.toml"), SLOS.as_bytes())?;
    let rules = slo.join("rules");
    write(&rules.join("checkout-alarms.yaml"), ALARMS.as_bytes())?;
    let metrics = slo.join("metrics.csv");
    write(&metrics, metrics_csv().as_bytes())?;

    let dumps = dir.join("dumps");
    let mut heap_source = "synthetic dumps (no JDK here: javac, java and jcmd are needed for a live one)".to_string();
    if on_path("javac") && on_path("java") && on_path("jcmd") {
        let folder = dumps.join("api-svc");
        match jvm_dumps(dir, &folder) {
            Ok(()) => heap_source = "a JVM run here (com.acme.ApiSvc), dumped twice with jcmd".into(),
            Err(e) => heap_source = format!("synthetic dumps (the demo JVM failed: {e})"),
        }
    }
    for (service, version, sessions) in [("api-svc", "2.4.0", [10, 30]), ("worker-svc", "1.9.3", [10, 10])] {
        let folder = dumps.join(service);
        write(&folder.join("VERSION"), format!("{version}\n").as_bytes())?;
        if folder.join("2-snapshot.hprof").exists() {
            continue;
        }
        for (i, n) in sessions.iter().enumerate() {
            let dump = crate::heap::sample::demo_dump(8, 5, *n, 5, Some(1 << 16));
            let path = folder.join(format!("{}-snapshot.hprof", i + 1));
            let _ = std::fs::remove_file(&path);
            write(&path, &dump)?;
        }
    }
    let pool_samples = dir.join("pool-samples.csv");
    write(&pool_samples, pool_csv().as_bytes())?;
    Ok(Scenario {
        dir: dir.to_path_buf(),
        db_url: format!("sqlite://{}", db_path.display()),
        tenancy,
        runbook,
        src,
        ci_logs: files.logs,
        ci_graph: files.graph,
        slos: slo.join("slos.toml"),
        rules,
        metrics,
        dumps,
        pool_samples,
        pool_max: 10,
        tenant_rule: "com.acme.Tenant.name",
        tenant: 2,
        heap_source,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_metrics_burn_for_globex_only() {
        let csv = super::metrics_csv();
        assert_eq!(csv.lines().count(), 241);
        assert!(csv.contains("6000,globex,0,1000") && csv.contains("6000,acme,1000,1000"));
    }
}
