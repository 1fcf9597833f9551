//! The tenancy map: for each table, how its rows belong to a tenant.
//!
//! Written by hand in TOML, or inferred from a schema (see `infer`), then checked here: every
//! `via` and `partition_of` must name a table of the map, and each table has exactly one kind.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

use super::SchemaGlob;

/// How the rows of one table belong to tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The table of tenants itself: a row is the tenant whose id is `key`.
    Root { key: String },
    /// Each row carries its tenant's id in `key`.
    Keyed { key: String },
    /// Shared by every tenant: readable by all, writable by none.
    Global,
    /// No tenant column: `fk` points at `reference` of a row of `via`, which has a tenant.
    Derived { via: String, fk: String, reference: String },
    /// In the tenant's own schema (`tenant_schemas`): every row is the tenant's.
    Owned,
}

/// One table of the map, with partitions resolved to the table they partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub kind: Kind,
    /// The table whose rows these are: itself, or for a partition the table it partitions.
    pub family: String,
}

impl Table {
    /// The column that ties a row to its tenant, directly or through a parent.
    pub fn tenant_column(&self) -> Option<&str> {
        match &self.kind {
            Kind::Root { key } | Kind::Keyed { key } => Some(key),
            Kind::Derived { fk, .. } => Some(fk),
            Kind::Global | Kind::Owned => None,
        }
    }

    pub fn is_global(&self) -> bool {
        self.kind == Kind::Global
    }
}

/// A checked tenancy map.
#[derive(Debug, Clone, Default)]
pub struct Tenancy {
    tables: BTreeMap<String, Table>,
    /// Per table family, the columns other tables reference through `via` (usually `id`).
    referenced: BTreeMap<String, BTreeSet<String>>,
    /// Functions a team declared safe besides the built-in list (lower case).
    functions: BTreeSet<String>,
    /// The schema unqualified names live in (`public` on PostgreSQL, `main` on SQLite).
    schema: Option<String>,
    /// Schema-per-tenant: schemas named like this are a tenant's, whole.
    tenant_schemas: Option<SchemaGlob>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source_name}: not a valid tenancy map: {message}")]
    Syntax { source_name: String, message: String },
    #[error("{source_name}: table `{table}`: {message}")]
    Table { source_name: String, table: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema: Option<String>,
    tenant_schemas: Option<String>,
    #[serde(default)]
    tables: BTreeMap<String, Spec>,
    #[serde(default)]
    functions: Functions,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Functions {
    #[serde(default)]
    allow: Vec<String>,
}

/// One `[tables]` entry as written.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub root: bool,
    pub key: Option<String>,
    #[serde(default)]
    pub global: bool,
    pub via: Option<String>,
    pub fk: Option<String>,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub partition_of: Option<String>,
}

impl Tenancy {
    /// Parse and check a TOML tenancy map; `source_name` (usually the path) names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Tenancy, Error> {
        let file: File = toml::from_str(text)
            .map_err(|e| Error::Syntax { source_name: source_name.into(), message: e.message().to_string() })?;
        let mut tenancy = Tenancy::from_specs(file.tables, source_name)?;
        tenancy.schema = file.schema.map(|s| s.to_lowercase());
        if let Some(glob) = file.tenant_schemas {
            let glob =
                SchemaGlob::new(&glob).map_err(|message| Error::Syntax { source_name: source_name.into(), message })?;
            tenancy.tenant_schemas = Some(glob);
        }
        tenancy.functions = file.functions.allow.iter().map(|f| f.to_lowercase()).collect();
        Ok(tenancy)
    }

    /// Check table specs (from TOML or inference) and resolve partitions.
    pub fn from_specs(specs: BTreeMap<String, Spec>, source_name: &str) -> Result<Tenancy, Error> {
        let specs: BTreeMap<String, Spec> = specs.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        let fail = |table: &str, message: String| Error::Table {
            source_name: source_name.into(),
            table: table.into(),
            message,
        };
        let mut tables = BTreeMap::new();
        for (name, spec) in &specs {
            let (kind, family) = resolve(name, spec, &specs, 0).map_err(|m| fail(name, m))?;
            tables.insert(name.clone(), Table { name: name.clone(), kind, family });
        }
        let mut referenced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for table in tables.values() {
            if let Kind::Derived { via, reference, .. } = &table.kind {
                let parent = &tables[via];
                if parent.is_global() {
                    return Err(fail(
                        &table.name,
                        format!("`via = \"{via}\"` names a global table, which has no tenant"),
                    ));
                }
                referenced.entry(parent.family.clone()).or_default().insert(reference.clone());
            }
        }
        Ok(Tenancy { tables, referenced, ..Tenancy::default() })
    }

    /// The table of that name: `name` is lower case for unquoted names, as written for quoted
    /// ones; `schema` is the qualifier, if any.
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&Table> {
        match schema {
            None => self.tables.get(name),
            Some(schema) => self
                .tables
                .get(&format!("{schema}.{name}"))
                .or_else(|| (self.schema.as_deref() == Some(schema)).then(|| self.tables.get(name)).flatten()),
        }
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// Whether other tables reference `column` of this table family through `via`.
    pub fn is_referenced(&self, family: &str, column: &str) -> bool {
        self.referenced.get(family).is_some_and(|c| c.contains(column))
    }

    /// The columns of a table family that other tables reference through `via`.
    pub fn referenced_columns(&self, family: &str) -> impl Iterator<Item = &String> {
        self.referenced.get(family).into_iter().flatten()
    }

    pub fn allows_function(&self, name: &str) -> bool {
        self.functions.contains(name)
    }

    /// The schema unqualified names resolve to, when the map says.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The schema-per-tenant pattern, when tenants have schemas of their own.
    pub fn tenant_schemas(&self) -> Option<&SchemaGlob> {
        self.tenant_schemas.as_ref()
    }

    /// A map for schema-per-tenant databases with no shared tables.
    pub fn schema_per_tenant(glob: SchemaGlob) -> Tenancy {
        Tenancy { tenant_schemas: Some(glob), ..Tenancy::default() }
    }

    pub fn with_schema(mut self, schema: Option<&str>) -> Tenancy {
        if self.schema.is_none() {
            self.schema = schema.map(str::to_lowercase);
        }
        self
    }

    /// The map as TOML, in the form `from_toml` reads.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(schema) = &self.schema {
            out.push_str(&format!("schema = {}\n\n", quote(schema)));
        }
        if let Some(glob) = &self.tenant_schemas {
            out.push_str(&format!("tenant_schemas = {}\n\n", quote(glob.glob())));
        }
        out.push_str("[tables]\n");
        for table in self.tables.values() {
            let body = match &table.kind {
                _ if table.family != table.name => format!("partition_of = {}", quote(&table.family)),
                Kind::Root { key } => format!("root = true, key = {}", quote(key)),
                Kind::Keyed { key } => format!("key = {}", quote(key)),
                Kind::Global => "global = true".to_string(),
                Kind::Owned => continue,
                Kind::Derived { via, fk, reference } => {
                    format!("via = {}, fk = {}, ref = {}", quote(via), quote(fk), quote(reference))
                }
            };
            out.push_str(&format!("{} = {{ {body} }}\n", bare_or_quoted(&table.name)));
        }
        if !self.functions.is_empty() {
            let list: Vec<String> = self.functions.iter().map(|f| quote(f)).collect();
            out.push_str(&format!("\n[functions]\nallow = [{}]\n", list.join(", ")));
        }
        out
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn bare_or_quoted(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        s.to_string()
    } else {
        quote(s)
    }
}

/// A spec's kind and family, following `partition_of` (at most a few levels deep).
fn resolve(name: &str, spec: &Spec, specs: &BTreeMap<String, Spec>, depth: usize) -> Result<(Kind, String), String> {
    let set = [spec.root, spec.global, spec.via.is_some(), spec.partition_of.is_some()];
    if set.iter().filter(|&&b| b).count() > 1 {
        return Err("give only one of `root`, `global`, `via` and `partition_of`".into());
    }
    if let Some(parent) = &spec.partition_of {
        let parent = parent.to_lowercase();
        if depth > 8 {
            return Err("`partition_of` goes round in a circle".into());
        }
        let Some(parent_spec) = specs.get(&parent) else {
            return Err(format!("`partition_of = \"{parent}\"` names a table that is not in the map"));
        };
        let (kind, family) = resolve(&parent, parent_spec, specs, depth + 1)?;
        return Ok((kind, family));
    }
    let kind = if spec.global {
        if spec.key.is_some() {
            return Err("a global table has no tenant key: drop `key`".into());
        }
        Kind::Global
    } else if let Some(via) = &spec.via {
        let via = via.to_lowercase();
        let Some(parent) = specs.get(&via) else {
            return Err(format!("`via = \"{via}\"` names a table that is not in the map"));
        };
        let Some(fk) = &spec.fk else {
            return Err(format!("`via = \"{via}\"` needs `fk`, the column that points at `{via}`"));
        };
        let reference = match (&spec.reference, parent.root) {
            (Some(r), _) => r.clone(),
            (None, true) => parent.key.clone().unwrap_or_else(|| "id".into()),
            (None, false) => "id".into(),
        };
        Kind::Derived { via, fk: fk.clone(), reference }
    } else {
        let Some(key) = &spec.key else {
            return Err("say how rows belong to a tenant: `key = \"tenant_id\"`, `root = true`, `global = true`, `via = ...` or `partition_of = ...`".into());
        };
        if spec.root { Kind::Root { key: key.clone() } } else { Kind::Keyed { key: key.clone() } }
    };
    Ok((kind, name.to_string()))
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Root { key } => write!(f, "tenant root (key {key})"),
            Kind::Keyed { key } => write!(f, "tenant key {key}"),
            Kind::Global => write!(f, "global"),
            Kind::Derived { via, fk, reference } => write!(f, "derived: {fk} -> {via}.{reference}"),
            Kind::Owned => write!(f, "the tenant's own schema"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"
        [tables]
        tenants     = { root = true, key = "id" }
        orders      = { key = "tenant_id" }
        users       = { key = "org_id" }
        plans       = { global = true }
        order_notes = { via = "orders", fk = "order_id" }
        orders_2024 = { partition_of = "orders" }
    "#;

    #[test]
    fn reads_every_kind() {
        let t = Tenancy::from_toml(MAP, "map.toml").unwrap();
        assert_eq!(t.table(None, "orders").unwrap().kind, Kind::Keyed { key: "tenant_id".into() });
        let p = t.table(None, "orders_2024").unwrap();
        assert_eq!((p.kind.clone(), p.family.as_str()), (Kind::Keyed { key: "tenant_id".into() }, "orders"));
        assert_eq!(
            t.table(None, "order_notes").unwrap().kind,
            Kind::Derived { via: "orders".into(), fk: "order_id".into(), reference: "id".into() }
        );
        assert!(t.is_referenced("orders", "id"));
        assert!(t.table(None, "missing").is_none());
    }

    #[test]
    fn round_trips_through_toml() {
        let t = Tenancy::from_toml(MAP, "map.toml").unwrap();
        let again = Tenancy::from_toml(&t.to_toml(), "again").unwrap();
        assert_eq!(t.tables, again.tables);
    }

    #[test]
    fn errors_name_the_table_and_the_fix() {
        let e = Tenancy::from_toml("[tables]\nnotes = { via = \"nowhere\", fk = \"x\" }", "m.toml").unwrap_err();
        assert_eq!(e.to_string(), "m.toml: table `notes`: `via = \"nowhere\"` names a table that is not in the map");
        let e = Tenancy::from_toml("[tables]\nnotes = {}", "m.toml").unwrap_err();
        assert!(e.to_string().contains("say how rows belong"), "{e}");
        let e = Tenancy::from_toml("[tables]\nx = { key = 1 }", "m.toml").unwrap_err();
        assert!(e.to_string().starts_with("m.toml: not a valid tenancy map"), "{e}");
        let e = Tenancy::from_toml("[tables]\na = { partition_of = \"b\" }\nb = { partition_of = \"a\" }", "m")
            .unwrap_err();
        assert!(e.to_string().contains("circle"), "{e}");
    }
}
