//! Tenant ids named in build logs: `tenant=acme`, `tenant_id: "globex"`, schema names such as
//! `tenant_acme`, or whatever a team's own patterns capture.

use regex::Regex;
use serde::Serialize;

use super::line::{Level, LogLine};
use crate::sql::SchemaGlob;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tenant pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
}

/// How tenants are recognised in log text.
#[derive(Debug, Clone)]
pub struct Patterns {
    /// Each with one capture group: the tenant id.
    patterns: Vec<Regex>,
    /// The schema glob (`tenant_*`), whose `*` is the tenant.
    schema: Option<SchemaGlob>,
}

impl Patterns {
    /// The built-in patterns (`tenant=ID`, `tenant_id: ID`, `tenant ID` after a colon-less key)
    /// and schemas named by `schema_glob`.
    pub fn builtin(schema_glob: Option<&str>) -> Result<Patterns, Error> {
        let key = r#"(?i)\btenant(?:[_-]?id)?["']?\s*[=:]\s*["'\[]?([A-Za-z0-9][A-Za-z0-9_.-]*)"#;
        let words = r#"(?i)\bfor tenant\s+["']?([A-Za-z0-9][A-Za-z0-9_.-]*)"#;
        Patterns::custom(&[key.to_string(), words.to_string()], schema_glob)
    }

    /// A team's patterns, each a regex with one capture group for the tenant id.
    pub fn custom(patterns: &[String], schema_glob: Option<&str>) -> Result<Patterns, Error> {
        let compiled = patterns
            .iter()
            .map(|p| {
                let regex = Regex::new(p).map_err(|e| Error::Pattern { pattern: p.clone(), message: e.to_string() })?;
                if regex.captures_len() < 2 {
                    return Err(Error::Pattern {
                        pattern: p.clone(),
                        message: "needs a capture group for the tenant id, e.g. `tenant=(\\w+)`".into(),
                    });
                }
                Ok(regex)
            })
            .collect::<Result<_, _>>()?;
        let schema = schema_glob
            .map(|g| SchemaGlob::new(g).map_err(|message| Error::Pattern { pattern: g.to_string(), message }))
            .transpose()?;
        Ok(Patterns { patterns: compiled, schema })
    }

    pub fn schema_glob(&self) -> Option<&SchemaGlob> {
        self.schema.as_ref()
    }

    /// The tenant ids one text names, in order, each once.
    pub fn tenants_in(&self, text: &str) -> Vec<String> {
        let mut found: Vec<(usize, String)> = Vec::new();
        for regex in &self.patterns {
            for caps in regex.captures_iter(text) {
                if let Some(m) = caps.get(1) {
                    found.push((m.start(), m.as_str().trim_end_matches(['.', '-']).to_string()));
                }
            }
        }
        if let Some(glob) = &self.schema {
            found.extend(glob.tenants_in(text).into_iter().map(|(at, t)| (at, t.to_string())));
        }
        found.sort_by_key(|(at, _)| *at);
        let mut out: Vec<String> = Vec::new();
        for (_, tenant) in found {
            if !tenant.is_empty() && !out.contains(&tenant) {
                out.push(tenant);
            }
        }
        out
    }
}

/// Where a tenant is named.
#[derive(Debug, Clone, Serialize)]
pub struct Mention {
    pub tenant: String,
    pub job: String,
    pub step: Option<String>,
    pub line: u64,
    pub level: Level,
    pub text: String,
    pub source: String,
}

/// Every mention of a tenant in `lines`.
pub fn mentions(lines: &[LogLine], patterns: &Patterns) -> Vec<Mention> {
    let mut out = Vec::new();
    for line in lines {
        for tenant in patterns.tenants_in(&line.text) {
            out.push(Mention {
                tenant,
                job: line.job.clone(),
                step: line.step.clone(),
                line: line.line,
                level: line.level,
                text: line.text.clone(),
                source: line.source.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_patterns_find_keys_phrases_and_schemas() {
        let p = Patterns::builtin(Some("tenant_*")).unwrap();
        assert_eq!(p.tenants_in("WARN [tenant=globex] pool timed out"), ["globex"]);
        assert_eq!(p.tenants_in(r#"{"tenant_id": "acme-eu", "x": 1}"#), ["acme-eu"]);
        assert_eq!(p.tenants_in("loads settings for tenant initech"), ["initech"]);
        assert_eq!(
            p.tenants_in(r#"Migration of schema "tenant_acme" failed; retrying tenant_globex,tenant_initech"#),
            ["acme", "globex", "initech"]
        );
        assert!(p.tenants_in("SELECT * FROM orders WHERE tenant_id = $1").is_empty());
        assert!(p.tenants_in("no tenants here").is_empty());
    }

    #[test]
    fn team_patterns_need_a_group() {
        let err = Patterns::custom(&["org=\\w+".into()], None).unwrap_err().to_string();
        assert!(err.contains("needs a capture group"), "{err}");
        let p = Patterns::custom(&["org=(\\w+)".into()], None).unwrap();
        assert_eq!(p.tenants_in("org=acme org=beta"), ["acme", "beta"]);
    }
}
