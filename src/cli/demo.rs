//! `deployclaw demo [DIR]`: build the demo scenario, run the four audits on it, and say what
//! each found, where its report is and whether its signed log verified.

use std::path::{Path, PathBuf};

use super::audit::{self, ErrorBudget};
use super::session::Settings;
use super::{error, exit};

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// What one audit left: its exit code and its report.
struct Ran {
    name: &'static str,
    code: u8,
    report: Option<deployclaw::report::Report>,
    dir: PathBuf,
}

pub fn demo(settings: &Settings, dir: &Path) -> u8 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime starts");
    let scenario = match runtime.block_on(deployclaw::demo::build(dir)) {
        Ok(s) => s,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    drop(runtime);
    eprintln!("demo scenario written to {}; api-svc's heap: {}", dir.display(), scenario.heap_source);
    let reports = dir.join("reports");
    let mut ran = Vec::new();
    let mut run = |name: &'static str, go: &dyn Fn(PathBuf) -> u8| {
        let out = reports.join(name);
        eprintln!("\n== audit {name} ==");
        let code = go(out.clone());
        let report = deployclaw::report::write::read(&out).ok();
        ran.push(Ran { name, code, report, dir: out });
    };
    let s = &scenario;
    run("memory-leaks", &|out| {
        let args = audit::MemoryLeaks {
            services: Vec::new(),
            dumps: Some(s.dumps.clone()),
            inventory: None,
            concurrency: 4,
            near_data: false,
            copy_deployclaw: false,
            snapshots: 1,
            interval: "1s".into(),
            baseline_profile: None,
            save_baseline: Some(out.join("baseline-profile.json")),
            threshold_delta: "15%".into(),
            tenant_rule: Some(s.tenant_rule.into()),
            pool_db: Vec::new(),
            pool_long_after: "60s".into(),
            pool_tenant_by: None,
            pool_tenant_pattern: None,
            pool_samples: Some(s.pool_samples.clone()),
            pool_max: Some(s.pool_max),
            rds_instances: Vec::new(),
            rds_window: "1h".into(),
            cloudwatch_namespace: None,
            cloudwatch_metric: "MemoryUtilization".into(),
            cloudwatch_dimension: "ServiceName".into(),
            report: audit::ReportArgs { out: Some(out), quiet: true, ..Default::default() },
        };
        audit::memory_leaks(settings, &args)
    });
    run("ci-failure", &|out| {
        let args = audit::CiFailure {
            logs: vec![path(&s.ci_logs)],
            pipeline_source: None,
            pipeline: None,
            metrics: None,
            db: None,
            graph: Some(s.ci_graph.clone()),
            tenant_schema_pattern: None,
            tenants_table: None,
            expected_version: None,
            since: None,
            rules: None,
            tenancy: None,
            format: None,
            risk_threshold: 10,
            generate_rollback_playbook: false,
            report: audit::ReportArgs { out: Some(out), quiet: true, ..Default::default() },
        };
        audit::ci_failure(settings, &args)
    });
    run("tenant-isolation", &|out| {
        let args = audit::TenantIsolation {
            db: s.db_url.clone(),
            tenancy: s.tenancy.clone(),
            tenant: s.tenant.to_string(),
            runbook: s.runbook.clone(),
            src: Some(s.src.clone()),
            report: audit::ReportArgs { out: Some(out), quiet: true, ..Default::default() },
        };
        audit::tenant_isolation(settings, &args)
    });
    run("error-budget", &|out| {
        let args = ErrorBudget {
            slos: vec![s.slos.clone()],
            rules: vec![s.rules.clone()],
            cloudwatch: false,
            alarm_prefix: None,
            tenant_metrics: None,
            tenant_dimension: None,
            db: None,
            rules_table: "alert_rules".into(),
            slo_table: None,
            windows: None,
            metrics: Some(s.metrics.clone()),
            lookback: None,
            tolerance: "2%".into(),
            tenants: Vec::new(),
            baseline: None,
            save_baseline: None,
            report: audit::ReportArgs { out: Some(out), quiet: true, ..Default::default() },
        };
        audit::error_budget(settings, &args)
    });
    println!("deployclaw demo: four audits on {}", dir.display());
    println!("api-svc's heap dumps: {}", scenario.heap_source);
    let mut healthy = true;
    for r in &ran {
        let Some(report) = &r.report else {
            println!("\n{}: FAILED (exit {}), no report in {}", r.name, r.code, r.dir.display());
            healthy = false;
            continue;
        };
        let errors = report.findings.iter().filter(|f| f.severity == "error").count();
        let verified = report.session_log.as_ref().is_some_and(|l| l.verified);
        healthy &= verified && matches!(r.code, exit::OK | exit::ERROR_FINDING);
        println!("\n{}: {} ({} error finding(s), exit {})", r.name, report.verdict, errors, r.code);
        for line in report.summary.iter().take(4) {
            println!("  - {line}");
        }
        println!("  report: {}", r.dir.join("report.html").display());
        match &report.session_log {
            Some(log) if log.verified => println!("  signed log: {} (verified)", log.path),
            Some(log) => println!("  signed log: {} (NOT verified: {})", log.path, log.message),
            None => println!("  signed log: missing"),
        }
    }
    if healthy { exit::OK } else { exit::FAILED }
}
