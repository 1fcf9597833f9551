//! A tenancy map inferred from a schema: tenant keys by name, the tenant root by the foreign
//! keys that point at it, derived tables by foreign-key paths, partitions by the catalog.
//! Inference is a first draft for a person to check: each table says why it got its kind.

use std::collections::BTreeMap;

use serde::Serialize;

use super::schema::Schema;
use super::tenancy::{self, Spec, Tenancy};

/// Column names taken for tenant keys unless told otherwise, in order of preference.
pub const DEFAULT_KEYS: &[&str] =
    &["tenant_id", "org_id", "organization_id", "account_id", "workspace_id", "customer_id", "team_id"];

/// Table names taken for the tenant root when no key points at one.
const ROOT_NAMES: &[&str] = &["tenants", "tenant", "organizations", "orgs", "accounts", "workspaces"];

/// How one table was classified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub table: String,
    /// root, keyed, derived, partition, global or view.
    pub kind: String,
    pub reason: String,
}

pub struct Inference {
    pub tenancy: Tenancy,
    pub decisions: Vec<Decision>,
}

pub fn infer(schema: &Schema, keys: &[String]) -> Result<Inference, tenancy::Error> {
    let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
    let mut decisions: BTreeMap<String, Decision> = BTreeMap::new();
    let mut decide = |table: &str, kind: &str, reason: String| {
        decisions.insert(table.to_string(), Decision { table: table.into(), kind: kind.into(), reason });
    };
    let single_fk = |table: &str, column: &str| {
        schema.foreign_keys.iter().find(|f| f.table == table && f.columns == [column] && f.ref_columns.len() == 1)
    };

    // Tenant keys, and the tables they point at.
    let mut roots: BTreeMap<String, (String, String)> = BTreeMap::new();
    for table in schema.tables.iter().filter(|t| t.kind != "view" && t.partition_of.is_none()) {
        let Some(key) = keys.iter().find(|k| schema.column(&table.name, k).is_some()) else { continue };
        specs.insert(table.name.clone(), Spec { key: Some(key.clone()), ..Spec::default() });
        decide(&table.name, "keyed", format!("has the tenant key column {key}"));
        if let Some(fk) = single_fk(&table.name, key) {
            roots.entry(fk.ref_table.clone()).or_insert((fk.ref_columns[0].clone(), format!("{}.{key}", table.name)));
        }
    }
    if roots.is_empty()
        && let Some(t) = schema.tables.iter().find(|t| ROOT_NAMES.contains(&t.name.as_str()))
        && let Some(pk) = schema.primary_key(&t.name).filter(|pk| pk.columns.len() == 1)
    {
        roots.insert(t.name.clone(), (pk.columns[0].clone(), "its name".into()));
    }
    for (root, (key, because)) in &roots {
        specs.insert(root.clone(), Spec { root: true, key: Some(key.clone()), ..Spec::default() });
        decide(root, "root", format!("the tenant table: {because} points at {root}.{key}"));
    }

    // Partitions follow their parent.
    for table in schema.tables.iter().filter(|t| t.partition_of.is_some()) {
        let parent = table.partition_of.clone().unwrap_or_default();
        specs.insert(table.name.clone(), Spec { partition_of: Some(parent.clone()), ..Spec::default() });
        decide(&table.name, "partition", format!("a partition of {parent}"));
    }

    // Derived tables: a foreign key to a table already placed, nearest first.
    loop {
        let mut placed = Vec::new();
        for table in schema.tables.iter().filter(|t| t.kind != "view" && !specs.contains_key(&t.name)) {
            let mut fks: Vec<_> = schema
                .foreign_keys
                .iter()
                .filter(|f| f.table == table.name && f.columns.len() == 1 && f.ref_columns.len() == 1)
                .filter(|f| specs.get(&f.ref_table).is_some_and(|s| !s.global))
                .collect();
            fks.sort_by_key(|f| &f.name);
            if let Some(fk) = fks.first() {
                placed.push((
                    table.name.clone(),
                    fk.ref_table.clone(),
                    fk.columns[0].clone(),
                    fk.ref_columns[0].clone(),
                ));
            }
        }
        if placed.is_empty() {
            break;
        }
        for (table, via, fk, reference) in placed {
            let spec = Spec {
                via: Some(via.clone()),
                fk: Some(fk.clone()),
                reference: Some(reference.clone()),
                ..Spec::default()
            };
            specs.insert(table.clone(), spec);
            decide(&table, "derived", format!("no tenant key; {table}.{fk} references {via}.{reference}"));
        }
    }

    for table in &schema.tables {
        if specs.contains_key(&table.name) {
            continue;
        }
        if table.kind == "view" {
            decide(&table.name, "view", "a view: declare it by hand once you know what it exposes".into());
            continue;
        }
        specs.insert(table.name.clone(), Spec { global: true, ..Spec::default() });
        decide(
            &table.name,
            "global",
            "no tenant key and no foreign key to a tenant table: assumed shared; check it".into(),
        );
    }
    let tenancy = Tenancy::from_specs(specs, "inferred tenancy map")?;
    Ok(Inference { tenancy, decisions: decisions.into_values().collect() })
}
