//! Reading SLO definitions: files (our TOML, OpenSLO v1 YAML, Sloth YAML), folders of them, and
//! an SQL table, all into [`Slo`]s.
//!
//! Our TOML:
//!
//! ```toml
//! period = "30d"              # defaults for every [[slo]]
//! profile = "sre-workbook"    # or "pyrra", or [[slo.tier]] tables
//!
//! [[slo]]
//! service = "checkout"
//! name = "availability"
//! objective = "99.9%"
//! tenants = ["acme", "globex"] # or tenant = "acme"; none: every tenant
//! sli = { bad = "http_requests{code=~'5..'}", total = "http_requests" }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::policy::{Profile, Severity, Tier};
use super::spec::{Sli, Slo, objective, objective_text};
use super::yaml;
use super::{openslo, pyrra};
use crate::sql::db::{Database, Value};
use crate::units::parse_duration;

const DEFAULT_PERIOD: Duration = Duration::from_secs(30 * 86_400);

/// Every SLO in a file or in the files of a folder (`.toml`, `.yaml`, `.yml`, `.json`), in name order.
pub fn load_path(path: &Path) -> Result<Vec<Slo>, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if path.is_dir() {
        let mut entries: Vec<_> =
            std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        let mut all = Vec::new();
        let specs: Vec<&PathBuf> = entries.iter().filter(|p| p.is_file() && is_spec(p)).collect();
        if specs.is_empty() {
            return Err(Error::Invalid {
                origin: path.display().to_string(),
                message: "holds no SLO files (.toml, .yaml, .yml or .json)".into(),
            });
        }
        for file in specs {
            all.extend(load_path(file)?);
        }
        return Ok(all);
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    load_text(&text, &path.display().to_string())
}

fn is_spec(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "toml" | "yaml" | "yml" | "json"))
}

/// SLOs from text: TOML when it parses as our format, else YAML (OpenSLO, Sloth or Pyrra, which
/// JSON is a subset of).
pub fn load_text(text: &str, origin: &str) -> Result<Vec<Slo>, Error> {
    let invalid = |message: String| Error::Invalid { origin: origin.to_string(), message };
    let looks_toml = origin.ends_with(".toml") || text.lines().any(|l| l.trim_start().starts_with("[[slo"));
    if looks_toml {
        return from_toml(text, origin).map_err(invalid);
    }
    let docs = yaml::documents(text, origin).map_err(|m| Error::Invalid { origin: String::new(), message: m })?;
    if openslo::is_openslo(&docs) {
        return openslo::openslo(&docs, origin).map_err(invalid);
    }
    if openslo::is_sloth(&docs) {
        return openslo::sloth(&docs, origin).map_err(invalid);
    }
    let resources = openslo::unwrapped(&docs);
    if resources.iter().any(|d| pyrra::is_pyrra(d)) {
        let mut slos = Vec::new();
        for doc in resources.into_iter().filter(|d| pyrra::is_pyrra(d)) {
            slos.extend(pyrra::slos(doc, origin).map_err(invalid)?);
        }
        return Ok(slos);
    }
    Err(invalid(
        "neither OpenSLO (apiVersion: openslo/v1), Sloth (version: prometheus/v1), Pyrra (apiVersion: pyrra.dev/v1alpha1) nor deployclaw TOML ([[slo]])".into(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    period: Option<String>,
    profile: Option<String>,
    #[serde(default)]
    slo: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    service: String,
    name: String,
    tenant: Option<String>,
    tenants: Option<Vec<String>>,
    objective: toml::Value,
    period: Option<String>,
    profile: Option<String>,
    description: Option<String>,
    sli: Option<SliEntry>,
    #[serde(default)]
    tier: Vec<TierEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SliEntry {
    good: Option<String>,
    bad: Option<String>,
    total: Option<String>,
    metric: Option<String>,
    latency_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierEntry {
    severity: String,
    factor: f64,
    long: String,
    short: Option<String>,
}

fn from_toml(text: &str, origin: &str) -> Result<Vec<Slo>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut out = Vec::new();
    for (i, e) in file.slo.into_iter().enumerate() {
        let what = format!("[[slo]] {} ({}/{})", i + 1, e.service, e.name);
        let objective = match &e.objective {
            toml::Value::Float(f) => objective(*f, &what)?,
            toml::Value::Integer(n) => objective(*n as f64, &what)?,
            toml::Value::String(s) => objective_text(s, &what)?,
            other => return Err(format!("{what}: objective {other:?} is not a number")),
        };
        let period = match e.period.as_deref().or(file.period.as_deref()) {
            Some(p) => parse_duration(p).map_err(|m| format!("{what}: period: {m}"))?,
            None => DEFAULT_PERIOD,
        };
        let profile = if e.tier.is_empty() {
            let name = e.profile.as_deref().or(file.profile.as_deref()).unwrap_or("sre-workbook");
            Profile::named(name, period)
                .ok_or_else(|| format!("{what}: profile {name:?}: use {}, or [[slo.tier]] tables", Profile::NAMES))?
        } else {
            let tiers = e.tier.iter().map(|t| tier(t, &what)).collect::<Result<_, _>>()?;
            Profile { name: "custom".into(), tiers }
        };
        let sli = match e.sli {
            Some(SliEntry { latency_ms: Some(ms), metric, .. }) => Sli::Latency { metric, threshold_ms: ms },
            Some(SliEntry { good, bad, total, .. }) => Sli::Ratio { good, bad, total },
            None => Sli::Ratio { good: None, bad: None, total: None },
        };
        let tenants: Vec<Option<String>> = match (e.tenant, e.tenants) {
            (Some(t), None) => vec![Some(t)],
            (None, Some(ts)) => ts.into_iter().map(Some).collect(),
            (None, None) => vec![None],
            (Some(_), Some(_)) => return Err(format!("{what}: give tenant or tenants, not both")),
        };
        for tenant in tenants {
            out.push(Slo {
                service: e.service.clone(),
                name: e.name.clone(),
                tenant,
                sli: sli.clone(),
                objective,
                period,
                profile: profile.clone(),
                description: e.description.clone(),
                origin: format!("{origin}#{}", e.name),
            });
        }
    }
    Ok(out)
}

fn tier(t: &TierEntry, what: &str) -> Result<Tier, String> {
    let severity = Severity::parse(&t.severity)
        .ok_or_else(|| format!("{what}: tier severity {:?}: use page or ticket", t.severity))?;
    let long = parse_duration(&t.long).map_err(|e| format!("{what}: tier long: {e}"))?;
    let short = match &t.short {
        Some(s) => parse_duration(s).map_err(|e| format!("{what}: tier short: {e}"))?,
        None => long / 12,
    };
    if t.factor.is_nan() || t.factor <= 0.0 {
        return Err(format!("{what}: tier factor {} must be above 0", t.factor));
    }
    Ok(Tier { severity, factor: t.factor, long, short })
}

/// SLOs from an SQL table with columns service, name, objective, and optionally tenant, period,
/// profile, description, sli_good, sli_bad, sli_total, latency_ms.
pub async fn load_table(db: &Database, table: &str) -> Result<Vec<Slo>, Error> {
    let qualified = db.dialect().quote_path(table);
    let rows = db.fetch(&format!("SELECT * FROM {qualified}"), &[]).await?;
    let invalid = |message: String| Error::Invalid { origin: format!("table {table}"), message };
    let column = |name: &str| rows.columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    for required in ["service", "name", "objective"] {
        if column(required).is_none() && !rows.rows.is_empty() {
            return Err(invalid(format!("has no column {required:?} (it needs service, name and objective)")));
        }
    }
    let mut out = Vec::new();
    for (i, row) in rows.rows.iter().enumerate() {
        let what = format!("row {}", i + 1);
        let slo = slo_of_row(|name| column(name).map(|c| &row[c]), &what, format!("table {table} {what}"));
        out.push(slo.map_err(invalid)?);
    }
    Ok(out)
}

/// SLOs from items with the SQL table's attributes (a DynamoDB table's, see
/// `collect::dynamodb`): `origin` names the table, and each item is named by its position and
/// its key.
pub fn load_items(
    items: &[(String, std::collections::BTreeMap<String, Value>)],
    origin: &str,
) -> Result<Vec<Slo>, Error> {
    let mut out = Vec::new();
    for (i, (key, item)) in items.iter().enumerate() {
        let what = format!("item {} ({key})", i + 1);
        let get = |name: &str| item.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let slo = slo_of_row(get, &what, format!("{origin} {what}"))
            .map_err(|message| Error::Invalid { origin: origin.to_string(), message })?;
        out.push(slo);
    }
    Ok(out)
}

/// One SLO from a row of named values: service, name and objective, and optionally tenant,
/// period, profile, description, sli_good, sli_bad, sli_total, latency_ms. Nulls are absent.
fn slo_of_row<'v>(get: impl Fn(&str) -> Option<&'v Value>, what: &str, origin: String) -> Result<Slo, String> {
    let get = |name: &str| get(name).filter(|v| !v.is_null());
    let text = |name: &str| get(name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
    let objective = match get("objective") {
        Some(Value::Number(n)) => objective(n.as_f64().unwrap_or(0.0), what),
        Some(Value::String(s)) => objective_text(s, what),
        _ => Err(format!("{what}: objective is empty")),
    }?;
    let period = match text("period") {
        Some(p) => parse_duration(&p).map_err(|e| format!("{what}: period: {e}"))?,
        None => DEFAULT_PERIOD,
    };
    let profile_name = text("profile").unwrap_or_else(|| "sre-workbook".into());
    let profile = Profile::named(&profile_name, period)
        .ok_or_else(|| format!("{what}: profile {profile_name:?}: use {}", Profile::NAMES))?;
    let latency = get("latency_ms").and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
    let sli = match latency {
        Some(ms) => Sli::Latency { metric: text("sli_total"), threshold_ms: ms },
        None => Sli::Ratio { good: text("sli_good"), bad: text("sli_bad"), total: text("sli_total") },
    };
    Ok(Slo {
        service: text("service").ok_or_else(|| format!("{what}: service is empty"))?,
        name: text("name").ok_or_else(|| format!("{what}: name is empty"))?,
        tenant: text("tenant"),
        sli,
        objective,
        period,
        profile,
        description: text("description"),
        origin,
    })
}
