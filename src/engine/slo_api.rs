//! `slo::` functions: SLO definitions and alert rules as Frames, burn rates and alerts per
//! tenant, drift, baselines, the attestation, and detection-time arithmetic.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::api::{Api, FnDoc};
use super::sql_api::Db;
use super::{Shared, block, block_db, frame_of, rt_error};
use crate::evidence::{Finding, Severity as FindingSeverity};
use crate::frame::Frame;
use crate::slo::burn::{self, Columns, Series};
use crate::slo::records::{RULE_COLUMNS, SLO_COLUMNS, rule_from_record, rule_record, slo_from_record, slo_record};
use crate::slo::rules::{self, Rule, cloudwatch};
use crate::slo::{Profile, Slo, attest, baseline, detection_time, drift, load, sloth_windows};
use crate::units::{format_duration, parse_duration};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

const BURN_COLUMNS: &[&str] = &[
    "slo",
    "tenant",
    "objective",
    "events",
    "bad",
    "budget_remaining",
    "burn_5m",
    "burn_30m",
    "burn_1h",
    "burn_2h",
    "burn_6h",
    "burn_1d",
    "burn_3d",
    "firing",
    "exhaustion_hours",
    "low_traffic",
];
const ALERT_COLUMNS: &[&str] = &[
    "slo",
    "tenant",
    "severity",
    "factor",
    "long",
    "short",
    "long_burn",
    "short_burn",
    "firing",
    "episodes",
    "first_fired",
    "last_fired",
    "fired_minutes",
];
const DRIFT_COLUMNS: &[&str] = &["kind", "slo", "tenant", "sources", "rules", "expected", "actual", "drift", "message"];
const CHANGE_COLUMNS: &[&str] = &["source", "status", "changed", "added", "removed"];
const DETECTION_COLUMNS: &[&str] =
    &["severity", "factor", "long", "short", "fires_after", "fires_after_secs", "budget_spent"];

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn slos_frame(slos: &[Slo]) -> Result<Frame> {
    frame_of(&slos.iter().map(slo_record).collect::<Vec<_>>(), SLO_COLUMNS)
}

fn rules_frame(rules: &[Rule]) -> Result<Frame> {
    frame_of(&rules.iter().map(rule_record).collect::<Vec<_>>(), RULE_COLUMNS)
}

pub(super) fn slos_of(frame: &Frame) -> Result<Vec<Slo>> {
    frame.to_records().iter().enumerate().map(|(i, r)| slo_from_record(r, i + 1).map_err(rt_error)).collect()
}

fn rules_of(frame: &Frame) -> Result<Vec<Rule>> {
    frame.to_records().iter().enumerate().map(|(i, r)| rule_from_record(r, i + 1).map_err(rt_error)).collect()
}

/// SLOs from a path, a Db (its `table`), or an array of them.
pub(super) fn load_slos(s: &Shared, source: &Dynamic, table: Option<&str>) -> Result<Vec<Slo>> {
    if source.is_array() {
        let mut all = Vec::new();
        for item in source.clone().cast::<Array>() {
            all.extend(load_slos(s, &item, table)?);
        }
        return Ok(all);
    }
    if let Some(db) = source.clone().try_cast::<Db>() {
        let table = table.unwrap_or("slo_definitions");
        return block_db(s, load::load_table(db.database(), table))?.map_err(rt_error);
    }
    let source = source.to_string();
    if let Some(table) = source.strip_prefix("dynamodb:") {
        let client = super::aws_api::clients(s)?;
        let items = block(s, crate::collect::dynamodb::items(&client, table))?.map_err(|e| match e {
            // A table that is not there, or not a registry, is the input's fault.
            crate::collect::aws::Error::NotFound { .. } | crate::collect::aws::Error::Input(_) => super::input_error(e),
            other => rt_error(other),
        })?;
        return load::load_items(&items, &source).map_err(slo_error);
    }
    let local = super::s3_paths::local(s, &source)?;
    let mut slos = load::load_path(&local.path).map_err(slo_error)?;
    for slo in &mut slos {
        slo.origin = local.relabel(&slo.origin);
    }
    Ok(slos)
}

/// An SLO or rule source's error; a wrong file or folder is the input's fault (exit 2).
fn slo_error(e: crate::slo::Error) -> Box<rhai::EvalAltResult> {
    if e.is_input() { super::input_error(e) } else { rt_error(e) }
}

/// Rules from paths, a Db (its `alert_rules` table) or `"cloudwatch"` (the live alarms).
fn load_rules(s: &Shared, source: &Dynamic, options: &Map) -> Result<Vec<Rule>> {
    if source.is_array() {
        let mut all = Vec::new();
        for item in source.clone().cast::<Array>() {
            all.extend(load_rules(s, &item, options)?);
        }
        return Ok(all);
    }
    if let Some(db) = source.clone().try_cast::<Db>() {
        let table = options.get("table").map(|t| t.to_string()).unwrap_or_else(|| "alert_rules".into());
        return block_db(s, rules::sql::load(db.database(), &table))?.map_err(rt_error);
    }
    let path = source.to_string();
    if path != "cloudwatch" {
        let local = super::s3_paths::local(s, &path)?;
        let mut found = rules::load_path(&local.path).map_err(slo_error)?;
        for rule in &mut found {
            rule.origin = local.relabel(&rule.origin);
        }
        return Ok(found);
    }
    let prefix = options.get("prefix").map(|p| p.to_string()).unwrap_or_default();
    let client = super::aws_api::clients(s)?;
    let alarms = block(s, crate::collect::aws::alarms(&client, &prefix, None))?.map_err(rt_error)?;
    let region = client.region();
    Ok(alarms
        .iter()
        .map(|a| {
            cloudwatch::to_rule(
                &cloudwatch::from_collected(a),
                rules::Source::Cloudwatch,
                format!("cloudwatch {region}#{}", a.name),
            )
        })
        .collect())
}

fn columns_of(options: &Map) -> Columns {
    let get = |k: &str| options.get(k).map(|v| v.to_string());
    let mut c = Columns::default();
    if let Some(t) = get("time") {
        c.time = t;
    }
    if let Some(v) = options.get("tenant") {
        c.tenant = (!v.is_unit()).then(|| v.to_string());
    }
    if let Some(t) = get("total") {
        c.total = t;
    }
    if let Some(b) = get("bad") {
        c.bad = Some(b);
        c.good = get("good");
    } else if let Some(g) = get("good") {
        c.good = Some(g);
    }
    c
}

fn evaluate(metrics: &Frame, slos: &Frame, options: &Map) -> Result<Vec<burn::TenantBurn>> {
    let mut series = Series::from_frame(metrics, &columns_of(options)).map_err(|e| {
        rt_error(format!(
            "{e}; name the columns with #{{time, tenant, good or bad, total}} (defaults: time, tenant, good, total)"
        ))
    })?;
    if let Some(lookback) = options.get("lookback").map(|l| l.to_string()) {
        let lookback = crate::units::parse_duration(&lookback)
            .map_err(|e| super::input_error(format!("options.lookback {lookback:?}: {e}")))?;
        series.keep_last(lookback);
    }
    Ok(burn::evaluate(&series, &slos_of(slos)?))
}

fn stamp(secs: Option<i64>) -> serde_json::Value {
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into())
        .unwrap_or(serde_json::Value::Null)
}

fn burn_frame(results: &[burn::TenantBurn]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut row = serde_json::json!({
                "slo": r.slo, "tenant": r.tenant, "objective": r.objective, "events": r.events, "bad": r.bad,
                "budget_remaining": r.budget_remaining, "low_traffic": r.low_traffic,
                "exhaustion_hours": r.exhaustion_secs.map(|s| (s / 36.0).round() / 100.0),
                "firing": r.alerts.iter().filter(|a| a.firing).map(|a| format!("{} {}x {}", a.severity.name(), a.factor, format_duration(a.long))).collect::<Vec<_>>().join(", "),
            });
            for w in &r.windows {
                row[format!("burn_{}", format_duration(w.window))] = w.burn.map(|b| (b * 1000.0).round() / 1000.0).into();
            }
            row
        })
        .collect();
    // Windows outside the usual seven (custom profiles) come after them.
    let mut columns: Vec<String> = BURN_COLUMNS.iter().map(|c| c.to_string()).collect();
    for r in results {
        for w in &r.windows {
            let name = format!("burn_{}", format_duration(w.window));
            if !columns.contains(&name) {
                columns.insert(columns.len() - 3, name);
            }
        }
    }
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    frame_of(&rows, &columns)
}

fn alert_frame(results: &[burn::TenantBurn]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .flat_map(|r| {
            r.alerts.iter().map(move |a| {
                serde_json::json!({
                    "slo": r.slo, "tenant": r.tenant, "severity": a.severity.name(), "factor": a.factor,
                    "long": format_duration(a.long), "short": format_duration(a.short),
                    "long_burn": a.long_burn, "short_burn": a.short_burn, "firing": a.firing, "episodes": a.episodes,
                    "first_fired": stamp(a.first_fired), "last_fired": stamp(a.last_fired), "fired_minutes": a.fired_secs / 60,
                })
            })
        })
        .collect();
    frame_of(&rows, ALERT_COLUMNS)
}

fn tolerance_of(options: &Map) -> Result<f64> {
    match options.get("tolerance") {
        None => Ok(0.02),
        Some(t) if t.is_float() => Ok(t.as_float().unwrap_or(0.02)),
        Some(t) => {
            let text = t.to_string();
            let (n, percent) = match text.trim().strip_suffix('%') {
                Some(n) => (n.trim().to_string(), true),
                None => (text.trim().to_string(), false),
            };
            let v: f64 =
                n.parse().map_err(|_| rt_error(format!("tolerance {text:?}: give a percentage such as \"2%\"")))?;
            Ok(if percent || v >= 1.0 { v / 100.0 } else { v })
        }
    }
}

fn tenants_of(options: &Map) -> Option<Vec<String>> {
    options
        .get("tenants")
        .filter(|t| t.is_array())
        .map(|t| t.clone().cast::<Array>().iter().map(|x| x.to_string()).collect())
}

fn drift_frame(drifts: &[drift::Drift]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = drifts
        .iter()
        .map(|d| {
            serde_json::json!({
                "kind": d.kind.name(), "slo": d.slo, "tenant": d.tenant,
                "sources": d.sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
                "rules": d.rules.join(", "), "expected": d.expected, "actual": d.actual, "drift": d.drift, "message": d.message,
            })
        })
        .collect();
    frame_of(&rows, DRIFT_COLUMNS)
}

fn changes_frame(changes: &[baseline::Change]) -> Result<Frame> {
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| serde_json::json!({"source": c.source, "status": c.status, "changed": c.changed.join(", "), "added": c.added.join(", "), "removed": c.removed.join(", ")}))
        .collect();
    frame_of(&rows, CHANGE_COLUMNS)
}

/// The rows of aws::metric_inventory back as the library's type.
fn inventory_of(frame: &Frame) -> Result<Vec<crate::slo::inventory::TenantMetrics>> {
    let list = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|v| v.as_str()).map(|t| t.split(", ").map(str::to_string).collect()).unwrap_or_default()
    };
    frame
        .to_records()
        .iter()
        .map(|r| {
            let status = match r.get("status").and_then(|v| v.as_str()) {
                Some("covered") => "covered",
                Some("missing-in-source") => "missing-in-source",
                Some("no-slo") => "no-slo",
                Some("unguarded") => "unguarded",
                other => {
                    return Err(rt_error(format!(
                        "options.inventory: status {other:?} is not one aws::metric_inventory gives"
                    )));
                }
            };
            let count = |key: &str| r.get(key).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
            Ok(crate::slo::inventory::TenantMetrics {
                tenant: r.get("tenant").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                namespaces: list(r.get("namespaces")),
                metrics: count("metrics"),
                series: count("series"),
                alarms: list(r.get("alarms")),
                slos: list(r.get("slos")),
                status,
            })
        })
        .collect()
}

fn attest_map(s: &Shared, slos: &Frame, rules: &Frame, options: &Map) -> Result<Map> {
    let (slos, rules) = (slos_of(slos)?, rules_of(rules)?);
    let saved = match options.get("baseline") {
        Some(p) => Some(baseline::read(Path::new(&p.to_string())).map_err(rt_error)?),
        None => None,
    };
    let tenants = tenants_of(options);
    let mut a = attest::attest(&slos, &rules, tolerance_of(options)?, tenants.as_deref(), saved.as_ref(), &now());
    if let Some(frame) = options.get("inventory").and_then(|f| f.clone().try_cast::<Frame>()) {
        let extra = crate::slo::inventory::drifts(&inventory_of(&frame)?, &a.drifts);
        if !extra.is_empty() {
            a.drifts.extend(extra);
            a.verdict = "drift";
        }
    }
    // Redacted before the digest, so the digest is of what is written and shown.
    let mut value = serde_json::to_value(&a).expect("an attestation serializes");
    crate::evidence::redact_json(&mut value);
    let json = serde_json::to_vec_pretty(&value).expect("JSON serializes");
    let digest = blake3::hash(&json).to_hex().to_string();
    for d in &a.drifts {
        let details = serde_json::to_value(d).expect("a drift serializes");
        s.add_finding(Finding {
            severity: FindingSeverity::Error,
            title: format!("alert drift ({}): {}", d.kind.name(), d.message),
            details,
        })?;
    }
    for c in a.coverage.iter().filter(|c| c.alerts_disabled) {
        let details = serde_json::to_value(c).expect("coverage serializes");
        s.add_finding(Finding {
            severity: FindingSeverity::Info,
            title: format!(
                "{} has no alerting in its spec (switched off, or a format without any): no alert is expected",
                c.slo
            ),
            details,
        })?;
    }
    if !a.other_alerts.is_empty() {
        let names: Vec<&str> = a.other_alerts.iter().map(|o| o.name.as_str()).collect();
        s.add_finding(Finding {
            severity: FindingSeverity::Info,
            title: format!(
                "{} rule(s) watch no SLI and name no SLO (infrastructure alarms, paging routes and escalation): listed, not checked",
                a.other_alerts.len()
            ),
            details: serde_json::json!({ "alerts": names }),
        })?;
    }
    if !a.unresolved.is_empty() {
        let details: Vec<String> = a.unresolved.iter().map(|u| format!("{}: {}", u.name, u.detail)).collect();
        s.add_finding(Finding {
            severity: FindingSeverity::Warning,
            title: format!(
                "{} value(s) of the rules are not known from their source (variables without a value, attributes known only after apply, modules not read): those parts are not checked",
                a.unresolved.len()
            ),
            details: serde_json::json!({ "unresolved": details }),
        })?;
    }
    for c in a.baseline.iter().flatten().filter(|c| c.status != "unchanged") {
        let details = serde_json::to_value(c).expect("a change serializes");
        s.add_finding(Finding {
            severity: FindingSeverity::Error,
            title: format!("alert rules of {} {} since the baseline", c.source, c.status),
            details,
        })?;
    }
    let mut map = Map::new();
    if let Some(dir) = options.get("dir").map(|d| d.to_string()) {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).map_err(|e| rt_error(format!("cannot create {}: {e}", dir.display())))?;
        crate::paths::write_atomically(&dir.join("attestation.json"), &json).map_err(rt_error)?;
        let md = dir.join("attestation.md");
        crate::paths::write_shared_text(&md, &crate::report::slo::markdown(&a, &digest)).map_err(rt_error)?;
        map.insert("report".into(), md.display().to_string().into());
    }
    s.record(|log| {
        log.note(&format!(
            "error-budget attestation {} (BLAKE3 {digest}): {} rules, {} drift(s), {} compliant SLO-tenant pairs",
            a.verdict,
            a.rules.len(),
            a.drifts.len(),
            a.compliant_tenants().count()
        ))
    })?;
    map.insert("verdict".into(), a.verdict.into());
    map.insert("digest".into(), digest.into());
    map.insert("drifts".into(), Dynamic::from(drift_frame(&a.drifts)?));
    let coverage: Vec<serde_json::Value> = a
        .coverage
        .iter()
        .map(|c| serde_json::json!({"slo": c.slo, "tenant": c.tenant, "rules": c.rules, "sources": c.sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "), "compliant": c.compliant, "alerts_disabled": c.alerts_disabled}))
        .collect();
    map.insert(
        "coverage".into(),
        Dynamic::from(frame_of(&coverage, &["slo", "tenant", "rules", "sources", "compliant", "alerts_disabled"])?),
    );
    let others: Vec<serde_json::Value> = a
        .other_alerts
        .iter()
        .map(|o| serde_json::json!({"source": o.source.name(), "name": o.name, "tenant": o.tenant, "measures": o.measures, "target": o.target, "origin": o.origin}))
        .collect();
    map.insert(
        "other_alerts".into(),
        Dynamic::from(frame_of(&others, &["source", "name", "tenant", "measures", "target", "origin"])?),
    );
    let unresolved: Vec<serde_json::Value> = a
        .unresolved
        .iter()
        .map(|u| serde_json::json!({"source": u.source.name(), "name": u.name, "detail": u.detail, "origin": u.origin}))
        .collect();
    map.insert("unresolved".into(), Dynamic::from(frame_of(&unresolved, &["source", "name", "detail", "origin"])?));
    if let Some(changes) = &a.baseline {
        map.insert("baseline".into(), Dynamic::from(changes_frame(changes)?));
    }
    Ok(map)
}

fn detection(objective: f64, error_ratio: f64, profile: &str, period: &str) -> Result<Frame> {
    let period = parse_duration(period).map_err(|e| rt_error(format!("period: {e}")))?;
    let objective = crate::slo::spec::objective(objective, "slo::detection_time").map_err(rt_error)?;
    let profile = Profile::named(profile, period)
        .ok_or_else(|| rt_error(format!("profile {profile:?}: use {}", Profile::NAMES)))?;
    let rows: Vec<serde_json::Value> = profile
        .tiers
        .iter()
        .map(|t| {
            let after = detection_time(objective, error_ratio, t);
            serde_json::json!({
                "severity": t.severity.name(), "factor": (t.factor * 1e4).round() / 1e4, "long": format_duration(t.long),
                "short": format_duration(t.short), "fires_after": after.map(|d| format_duration(Duration::from_secs(d.as_secs()))),
                "fires_after_secs": after.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0),
                "budget_spent": after.map(|_| (t.budget_spent(period) * 1e4).round() / 1e4),
            })
        })
        .collect();
    frame_of(&rows, DETECTION_COLUMNS)
}

const SLOS: &str = r#"let p = temp_path("slos.toml"); write_text(p, "[[slo]]\nservice = \"checkout\"\nname = \"availability\"\nobjective = \"99.9%\"\nperiod = \"30d\"\ntenants = [\"acme\", \"globex\"]\n"); let slos = slo::load(p);"#;
const METRICS: &str = r#"let rows = []; for m in 0..120 { rows.push(#{time: m * 60, tenant: "acme", good: 1000, total: 1000}); rows.push(#{time: m * 60, tenant: "globex", good: if m >= 100 { 0 } else { 1000 }, total: 1000}); } let metrics = frame(rows);"#;
const SLOTH_SLOS: &str = r#"let p = temp_path("sloth.yaml"); write_text(p, "version: prometheus/v1\nservice: shop\nslos:\n  - name: checkout\n    objective: 99.9\n    sli:\n      events:\n        error_query: errors\n        total_query: total\n"); let slos = slo::load(p);"#;
const WINDOWS: &str = r#"let w = temp_path("7d.yaml"); write_text(w, "kind: AlertWindows\nspec:\n  sloPeriod: 7d\n  page:\n    quick: {errorBudgetPercent: 8, shortWindow: 5m, longWindow: 1h}\n    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 1d}\n    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 3d}\n");"#;
const RULES: &str = r#"let r = temp_path("rules.yaml"); write_text(r, "groups:\n- name: checkout\n  rules:\n  - alert: CheckoutFastBurn\n    expr: errors:ratio_rate1h{slo=\"checkout/availability\",tenant=\"acme\"} > (16 * 0.001) and errors:ratio_rate5m{slo=\"checkout/availability\",tenant=\"acme\"} > (16 * 0.001)\n    labels: {severity: page}\n"); let rules = slo::rules(r);"#;

pub fn register(api: &mut Api, shared: &Arc<Shared>) {
    api.namespace("slo");
    let s = shared.clone();
    api.add(
        FnDoc::new("load")
            .usage("slo::load(source) -> Frame")
            .usage("slo::load(db: Db, table: string) -> Frame")
            .summary("Read SLO definitions into one model: deployclaw TOML ([[slo]]), OpenSLO v1 YAML (SLO, SLI and AlertPolicy documents), Sloth's prometheus/v1 specs, folders of them, an SQL table (slo_definitions: service, name, objective, and optionally tenant, period, profile, sli_good, sli_bad, sli_total, latency_ms), or a DynamoDB table with items of the same attributes (dynamodb:TABLE: one item per SLO, and one per tenant override, which names its tenant; other attributes, such as the table's keys, are ignored).")
            .param("source", "a file, a folder, s3://bucket/key or s3://bucket/prefix/ (copied first; origins name the objects), dynamodb:TABLE (through aws::configure's endpoint and the SDK's credentials), an array of them, or a Db")
            .param("table", "the table of a Db (default slo_definitions)")
            .returns(&format!("a Frame ({}); one row per SLO and tenant, tiers as JSON", SLO_COLUMNS.join(", ")))
            .example(&format!("{SLOS} slos.select([\"id\", \"objective\", \"period\", \"profile\"]).rows()"), r#"[{"id": "checkout/availability@acme", "objective": 0.999, "period": "30d", "profile": "sre-workbook"}, {"id": "checkout/availability@globex", "objective": 0.999, "period": "30d", "profile": "sre-workbook"}]"#)
            .volatile(),
        move |source: Dynamic| slos_frame(&load_slos(&s, &source, None)?),
    )
    .overload({
        let s = shared.clone();
        move |db: Db, table: &str| slos_frame(&load_slos(&s, &Dynamic::from(db), Some(table))?)
    });

    api.add(
        FnDoc::new("with_windows")
            .usage("slo::with_windows(slos: Frame, file: string) -> Frame")
            .summary("Give the Sloth SLOs the windows of a Sloth AlertWindows file (sloth.slok.dev/v1: sloPeriod, page and ticket windows as shares of the budget), as Sloth generated their rules with them: their period becomes sloPeriod and their tiers those windows (severities a spec switched off stay off). Other SLOs are unchanged.")
            .param("slos", "the Frame of slo::load")
            .param("file", "an AlertWindows YAML file")
            .returns(&format!("the Frame ({})", SLO_COLUMNS.join(", ")))
            .example(
                &format!("{SLOTH_SLOS} {WINDOWS} slo::with_windows(slos, w).select([\"id\", \"period\", \"profile\"]).rows()"),
                r#"[{"id": "shop/checkout", "period": "7d", "profile": "sloth-windows"}]"#,
            ),
        move |slos: Frame, file: &str| -> Result<Frame> {
            let windows = sloth_windows::read_path(Path::new(file)).map_err(super::input_error)?;
            let mut slos = slos_of(&slos)?;
            sloth_windows::apply(&mut slos, &windows);
            slos_frame(&slos)
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("rules")
            .usage("slo::rules(source) -> Frame")
            .usage("slo::rules(source, options: map) -> Frame")
            .summary("Read the alert rules actually deployed into one model (SLO, tenant, windows, threshold, comparison, evaluation, severity, target): CloudFormation templates (AWS::CloudWatch::Alarm, JSON or YAML with !Ref/!Sub), Terraform (aws_cloudwatch_metric_alarm in .tf, or terraform show -json), Prometheus rule files (Sloth's and Pyrra's included), PagerDuty exports, \"cloudwatch\" for the live alarms, or a Db's alert_rules table.")
            .param("source", "a file, a folder, s3://bucket/key or s3://bucket/prefix/, \"cloudwatch\", a Db, or an array of them")
            .param("options", "#{prefix: alarm name prefix for cloudwatch, table: for a Db (default alert_rules)}")
            .returns(&format!("a Frame ({})", RULE_COLUMNS.join(", ")))
            .example(&format!("{RULES} rules.select([\"source\", \"tenant\", \"long\", \"short\", \"threshold_kind\", \"threshold\"]).rows()"), r#"[{"source": "prometheus", "tenant": "acme", "long": "1h", "short": "5m", "threshold_kind": "factor-times-budget", "threshold": 16.0}]"#)
            .volatile(),
        move |source: Dynamic| rules_frame(&load_rules(&s, &source, &Map::new())?),
    )
    .overload({
        let s = shared.clone();
        move |source: Dynamic, options: Map| rules_frame(&load_rules(&s, &source, &options)?)
    });

    api.add(
        FnDoc::new("burn_rates")
            .usage("slo::burn_rates(metrics: Frame, slos: Frame) -> Frame")
            .usage("slo::burn_rates(metrics: Frame, slos: Frame, columns: map) -> Frame")
            .summary("Burn rate (error ratio / (1 - objective)) over every window of each SLO's profile, for every tenant at once, as of the last sample: error budget left over the period, which tiers fire now, hours until the budget is gone at the fastest tier's burn, and low_traffic where one bad event would fire the fastest tier.")
            .param("metrics", "one row per sample: time (RFC 3339, epoch seconds or a datetime), tenant, good or bad, total")
            .param("columns", "#{time, tenant (() for one tenant), good, bad, total}: the column names, when they differ; lookback: \"24h\" to use only the samples from that long before the newest one on")
            .returns(&format!("a Frame ({}) per SLO and tenant", BURN_COLUMNS.join(", ")))
            .example(&format!("{SLOS} {METRICS} slo::burn_rates(metrics, slos).select([\"tenant\", \"burn_5m\", \"burn_1h\", \"firing\"]).rows()"), r#"[{"tenant": "acme", "burn_5m": 0.0, "burn_1h": 0.0, "firing": ""}, {"tenant": "globex", "burn_5m": 1000.0, "burn_1h": 333.333, "firing": "page 14.4x 1h, page 6x 6h, ticket 3x 1d, ticket 1x 3d"}]"#),
        |metrics: Frame, slos: Frame| burn_frame(&evaluate(&metrics, &slos, &Map::new())?),
    )
    .overload(|metrics: Frame, slos: Frame, options: Map| burn_frame(&evaluate(&metrics, &slos, &options)?));

    api.add(
        FnDoc::new("alerts")
            .usage("slo::alerts(metrics: Frame, slos: Frame) -> Frame")
            .usage("slo::alerts(metrics: Frame, slos: Frame, columns: map) -> Frame")
            .summary("Each tier of each SLO for every tenant: the burn over its long and short windows now, whether it fires now, and when it would have fired over the look-back (episodes, first and last firing, minutes firing).")
            .param("columns", "as slo::burn_rates")
            .returns(&format!("a Frame ({})", ALERT_COLUMNS.join(", ")))
            .example(&format!("{SLOS} {METRICS} slo::alerts(metrics, slos).filter(\"tenant = 'globex' AND long = '1h'\").select([\"firing\", \"episodes\", \"first_fired\", \"fired_minutes\"]).rows()"), r#"[{"firing": true, "episodes": 1, "first_fired": "1970-01-01T01:40:00Z", "fired_minutes": 20}]"#),
        |metrics: Frame, slos: Frame| alert_frame(&evaluate(&metrics, &slos, &Map::new())?),
    )
    .overload(|metrics: Frame, slos: Frame, options: Map| alert_frame(&evaluate(&metrics, &slos, &options)?));

    api.add(
        FnDoc::new("drift")
            .usage("slo::drift(slos: Frame, rules: Frame) -> Frame")
            .usage("slo::drift(slos: Frame, rules: Frame, options: map) -> Frame")
            .summary("Drift of the deployed rules: thresholds off the SLO's expected burn factor beyond the tolerance (the SRE Workbook's and Pyrra's profiles are both accepted), windows no accepted profile uses, one rule differing between sources, stale copies, tenants with an SLO but no alert or missing in one source, alerts with no SLO, and windows CloudWatch cannot look back over.")
            .param("options", "#{tolerance: \"2%\", tenants: [...] (who SLOs for every tenant apply to)}")
            .returns(&format!("a Frame ({}); an empty Frame means no drift", DRIFT_COLUMNS.join(", ")))
            .example(&format!("{SLOS} {RULES} slo::drift(slos, rules).select([\"kind\", \"tenant\"]).rows()"), r#"[{"kind": "threshold", "tenant": "acme"}, {"kind": "no-alert", "tenant": "globex"}]"#),
        |slos: Frame, rules: Frame| {
            let report = drift::check(&slos_of(&slos)?, &rules_of(&rules)?, 0.02, None);
            drift_frame(&report.drifts)
        },
    )
    .overload(|slos: Frame, rules: Frame, options: Map| {
        let tenants = tenants_of(&options);
        let report = drift::check(&slos_of(&slos)?, &rules_of(&rules)?, tolerance_of(&options)?, tenants.as_deref());
        drift_frame(&report.drifts)
    });

    api.add(
        FnDoc::new("baseline_save")
            .usage("slo::baseline_save(rules: Frame, path: string) -> map")
            .summary("Save a baseline of the rules: each source's rules canonicalised (RFC 8785) and checksummed with BLAKE3, rule by rule and as a whole.")
            .param("path", "the baseline file (JSON), replaced whole")
            .returns("#{sources: number of sources, rules: number of rules, checksums: #{source: checksum}}")
            .example(&format!("{RULES} let b = slo::baseline_save(rules, temp_path(\"baseline.json\")); [b.sources, b.rules, b.checksums.prometheus.len()]"), "[1, 1, 64]")
            .volatile(),
        |rules: Frame, path: &str| -> Result<Map> {
            let rules = rules_of(&rules)?;
            let b = baseline::compute(&rules, &now());
            baseline::save(Path::new(path), &b).map_err(rt_error)?;
            let mut sums = Map::new();
            for (source, s) in &b.sources {
                sums.insert(source.as_str().into(), s.checksum.clone().into());
            }
            let mut map = Map::new();
            map.insert("sources".into(), (b.sources.len() as i64).into());
            map.insert("rules".into(), (rules.len() as i64).into());
            map.insert("checksums".into(), sums.into());
            Ok(map)
        },
    );

    api.add(
        FnDoc::new("baseline_check")
            .usage("slo::baseline_check(rules: Frame, path: string) -> Frame")
            .summary("Compare the rules with a saved baseline and name what changed, per source: unchanged, changed (with the rules whose checksum differs), new, gone, and the rules added and removed.")
            .param("path", "a file slo::baseline_save wrote")
            .returns(&format!("a Frame ({})", CHANGE_COLUMNS.join(", ")))
            .example(&format!("{RULES} let b = temp_path(\"b.json\"); slo::baseline_save(rules, b); slo::baseline_check(rules, b).col(\"status\")"), r#"["unchanged"]"#)
            .volatile(),
        |rules: Frame, path: &str| -> Result<Frame> {
            let saved = baseline::read(Path::new(path)).map_err(rt_error)?;
            changes_frame(&baseline::compare(&saved, &baseline::compute(&rules_of(&rules)?, &now())))
        },
    );

    let s = shared.clone();
    api.add(
        FnDoc::new("attest")
            .usage("slo::attest(slos: Frame, rules: Frame) -> map")
            .usage("slo::attest(slos: Frame, rules: Frame, options: map) -> map")
            .summary("The compliance attestation: every rule validated, every drift (each an error finding), every SLO-tenant pair confirmed compliant, changes since a baseline, and the rules' checksums; with dir, attestation.json and attestation.md are written, and the JSON's BLAKE3 digest goes into the signed session log.")
            .param("options", "#{tolerance: \"2%\", tenants: [...], baseline: FILE, inventory: a Frame of aws::metric_inventory (a tenant in it with metrics and an SLO but no alarm is missing-in-source drift), dir: FOLDER}")
            .returns("#{verdict: \"compliant\" or \"drift\", digest, drifts: Frame, coverage: Frame, other_alerts: Frame (alerts on no SLI: listed, not checked), unresolved: Frame (values the sources do not give: source, name, detail, origin), baseline: Frame (with baseline), report (with dir)}")
            .example(&format!("{SLOS} {RULES} let a = slo::attest(slos, rules, #{{tolerance: \"20%\"}}); [a.verdict, a.drifts.col(\"kind\"), a.coverage.filter(\"compliant\").col(\"tenant\"), a.digest.len()]"), r#"["drift", ["no-alert"], ["acme"], 64]"#)
            .volatile(),
        move |slos: Frame, rules: Frame| attest_map(&s, &slos, &rules, &Map::new()),
    )
    .overload({
        let s = shared.clone();
        move |slos: Frame, rules: Frame, options: Map| attest_map(&s, &slos, &rules, &options)
    });

    api.add(
        FnDoc::new("detection_time")
            .usage("slo::detection_time(objective, error_ratio) -> Frame")
            .usage("slo::detection_time(objective, error_ratio, profile: string, period: string) -> Frame")
            .summary("How long after errors start at a steady ratio each tier of a profile fires (factor x long window / burn rate; never when the burn stays under the factor), and the share of the period's budget spent by then: a policy checked on paper.")
            .param("objective", "0.999 or 99.9")
            .param("error_ratio", "the share of bad events, 0 to 1")
            .param("profile", "sre-workbook (default) or pyrra")
            .param("period", "the SLO period (default \"30d\")")
            .returns(&format!("a Frame ({})", DETECTION_COLUMNS.join(", ")))
            .example(r#"slo::detection_time(0.999, 1.0).select(["long", "fires_after_secs", "budget_spent"]).rows()"#, r#"[{"long": "1h", "fires_after_secs": 51.84, "budget_spent": 0.02}, {"long": "6h", "fires_after_secs": 129.6, "budget_spent": 0.05}, {"long": "1d", "fires_after_secs": 259.2, "budget_spent": 0.1}, {"long": "3d", "fires_after_secs": 259.2, "budget_spent": 0.1}]"#),
        |objective: f64, ratio: f64| detection(objective, ratio, "sre-workbook", "30d"),
    )
    .overload(|objective: f64, ratio: f64, profile: &str, period: &str| detection(objective, ratio, profile, period));
    api.end_namespace();
}
