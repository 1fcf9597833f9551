//! Alert rules kept in an SQL table (`alert_rules`): one row per rule with columns name, slo,
//! tenant, severity, long_window (or window), short_window, threshold, threshold_kind (`burn`,
//! `ratio` or `percent`; default `burn`), comparison, evaluation and target.

use super::{Rule, Source, Threshold};
use crate::slo::{Error, Severity};
use crate::sql::db::Database;
use crate::units::parse_duration;

pub async fn load(db: &Database, table: &str) -> Result<Vec<Rule>, Error> {
    let qualified = db.dialect().quote_path(table);
    let rows = db.fetch(&format!("SELECT * FROM {qualified}"), &[]).await?;
    let invalid = |message: String| Error::Invalid { origin: format!("table {table}"), message };
    let column = |name: &str| rows.columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let mut out = Vec::new();
    for (i, row) in rows.rows.iter().enumerate() {
        let get = |name: &str| column(name).map(|c| &row[c]).filter(|v| !v.is_null());
        let text = |name: &str| get(name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let what = format!("row {}", i + 1);
        let duration = |name: &str| -> Result<_, Error> {
            text(name).map(|t| parse_duration(&t).map_err(|e| invalid(format!("{what}: {name}: {e}")))).transpose()
        };
        let name = text("name").unwrap_or_else(|| what.clone());
        let mut r = Rule::new(Source::Sql, format!("table {table} {what}"), name);
        r.slo = text("slo");
        r.tenant = text("tenant");
        r.severity = text("severity").as_deref().and_then(Severity::parse);
        r.long = duration("long_window")?.or(duration("window")?);
        r.short = duration("short_window")?;
        let value = get("threshold").and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()));
        r.threshold = match (value, text("threshold_kind").as_deref().unwrap_or("burn")) {
            (None, _) => None,
            (Some(v), "burn") => Some(Threshold::Burn(v)),
            (Some(v), "ratio") => Some(Threshold::Ratio(v)),
            (Some(v), "percent") => Some(Threshold::Percent(v)),
            (Some(_), other) => {
                return Err(invalid(format!("{what}: threshold_kind {other:?}: use burn, ratio or percent")));
            }
        };
        r.comparison = text("comparison");
        r.evaluation = text("evaluation");
        r.target = text("target");
        out.push(r);
    }
    Ok(out)
}
