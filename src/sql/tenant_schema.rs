//! Schema-per-tenant naming: a pattern such as `tenant_*` says which schemas (MySQL databases,
//! SQLite attached databases) belong to a tenant, and which tenant: the part the `*` stands for.

use regex::Regex;

/// Words that follow the schema prefix in column names, not in tenant schemas (`tenant_id`).
const COLUMN_WORDS: [&str; 6] = ["id", "ids", "key", "name", "slug", "schema"];

/// A schema naming pattern with one `*`: `tenant_*`, `*_prod`, `t_*_db`.
#[derive(Debug, Clone)]
pub struct SchemaGlob {
    glob: String,
    prefix: String,
    suffix: String,
    in_text: Regex,
}

impl SchemaGlob {
    pub fn new(glob: &str) -> Result<SchemaGlob, String> {
        let invalid = |message: &str| format!("tenant schema pattern {glob:?} {message}");
        let (prefix, suffix) = glob.split_once('*').ok_or_else(|| invalid("needs one `*` where the tenant id goes"))?;
        if suffix.contains('*') {
            return Err(invalid("has more than one `*`"));
        }
        if prefix.is_empty() && suffix.is_empty() {
            return Err(invalid("`*` alone would make every schema a tenant"));
        }
        let ok = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !ok(prefix) || !ok(suffix) {
            return Err(invalid("may hold letters, digits, `_` and one `*`"));
        }
        // With a suffix the id is the shortest run before it, else the whole rest of the word.
        let lazy = if suffix.is_empty() { "" } else { "?" };
        let in_text = Regex::new(&format!(
            r"(?i)\b{}([A-Za-z0-9][A-Za-z0-9_]*{lazy}){}\b",
            regex::escape(prefix),
            regex::escape(suffix)
        ))
        .expect("an escaped glob is a valid regex");
        Ok(SchemaGlob { glob: glob.to_string(), prefix: prefix.to_string(), suffix: suffix.to_string(), in_text })
    }

    pub fn glob(&self) -> &str {
        &self.glob
    }

    /// The tenant a schema name belongs to, when it matches.
    pub fn tenant_of(&self, schema: &str) -> Option<String> {
        let lower = schema.to_ascii_lowercase();
        let rest = lower.strip_prefix(&self.prefix.to_ascii_lowercase())?;
        let tenant = rest.strip_suffix(&self.suffix.to_ascii_lowercase())?;
        let column_like = COLUMN_WORDS.contains(&tenant) && self.suffix.is_empty();
        (!tenant.is_empty() && !column_like)
            .then(|| schema[self.prefix.len()..schema.len() - self.suffix.len()].to_string())
    }

    /// The schema of a tenant.
    pub fn schema_of(&self, tenant: &str) -> String {
        format!("{}{tenant}{}", self.prefix, self.suffix)
    }

    /// The tenants whose schemas a text names, with their byte offsets.
    pub fn tenants_in<'t>(&self, text: &'t str) -> Vec<(usize, &'t str)> {
        self.in_text
            .captures_iter(text)
            .filter_map(|caps| caps.get(1))
            .filter(|m| !self.suffix.is_empty() || !COLUMN_WORDS.iter().any(|w| m.as_str().eq_ignore_ascii_case(w)))
            .map(|m| (m.start(), m.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_globs_map_both_ways() {
        let g = SchemaGlob::new("tenant_*").unwrap();
        assert_eq!(g.tenant_of("tenant_acme").as_deref(), Some("acme"));
        assert_eq!(g.tenant_of("tenant_id"), None);
        assert_eq!(g.tenant_of("public"), None);
        assert_eq!(g.schema_of("acme"), "tenant_acme");
        let suffix = SchemaGlob::new("*_prod").unwrap();
        assert_eq!(suffix.tenant_of("acme_prod").as_deref(), Some("acme"));
        assert!(SchemaGlob::new("tenant").unwrap_err().to_string().contains("needs one `*`"));
        assert!(SchemaGlob::new("t_*_*").is_err());
        assert!(SchemaGlob::new("t;drop_*").is_err());
    }
}
