//! Introspection: tables, columns, keys, indexes and row-level security of the connection's
//! current schema (PostgreSQL), database (MySQL/MariaDB) or file (SQLite).

use serde::Serialize;

use super::db::{self, Database, Rows, Value};
use super::dialect::Dialect;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub name: String,
    /// "table", "view", "partitioned" (PostgreSQL's parent of partitions) or "foreign".
    pub kind: String,
    /// The table this one is a partition (or inheritance child) of.
    pub partition_of: Option<String>,
    /// PostgreSQL row-level security: enabled, and forced on the table's owner too.
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// A view that runs with its owner's rights (PostgreSQL without security_invoker; MySQL
    /// SQL SECURITY DEFINER).
    pub definer_view: bool,
    /// A view's definition.
    pub definition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub table: String,
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// Filled by a sequence, identity or AUTO_INCREMENT.
    pub generated: bool,
    pub collation: Option<String>,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForeignKey {
    pub table: String,
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub table: String,
    pub name: String,
    pub command: String,
    pub permissive: bool,
    pub using: Option<String>,
    pub check: Option<String>,
}

/// A function that runs with its owner's rights (PostgreSQL SECURITY DEFINER).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefinerFunction {
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schema {
    pub tables: Vec<Table>,
    pub columns: Vec<Column>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
    pub policies: Vec<Policy>,
    pub definer_functions: Vec<DefinerFunction>,
}

impl Schema {
    pub fn columns_of<'s>(&'s self, table: &'s str) -> impl Iterator<Item = &'s Column> {
        self.columns.iter().filter(move |c| c.table == table)
    }

    pub fn column(&self, table: &str, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.table == table && c.name == name)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn primary_key(&self, table: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.table == table && i.primary)
    }
}

/// Read the schema of `db`.
pub async fn introspect(db: &Database) -> Result<Schema, db::Error> {
    match db.dialect() {
        Dialect::Postgres => postgres(db).await,
        Dialect::Mysql => mysql(db).await,
        Dialect::Sqlite => sqlite(db).await,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn opt(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| text(v))
}

fn flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        Value::String(s) => matches!(s.as_str(), "YES" | "yes" | "1" | "true" | "t"),
        _ => false,
    }
}

fn list(v: &Value) -> Vec<String> {
    text(v).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

async fn fetch(db: &Database, sql: &str) -> Result<Rows, db::Error> {
    db.fetch(sql, &[]).await
}

/// Rows of (table, name, data type, nullable, default, generated, collation, position).
fn columns(rows: &Rows) -> Vec<Column> {
    rows.rows
        .iter()
        .map(|r| Column {
            table: text(&r[0]),
            name: text(&r[1]),
            data_type: text(&r[2]),
            nullable: flag(&r[3]),
            default: opt(&r[4]),
            generated: flag(&r[5]),
            collation: opt(&r[6]),
            position: r[7].as_i64().unwrap_or(0),
        })
        .collect()
}

/// Rows of (table, name, unique, primary, comma-separated columns).
fn indexes(rows: &Rows) -> Vec<Index> {
    rows.rows
        .iter()
        .map(|r| Index {
            table: text(&r[0]),
            name: text(&r[1]),
            unique: flag(&r[2]),
            primary: flag(&r[3]),
            columns: list(&r[4]),
        })
        .collect()
}

/// Rows of (table, name, comma-separated columns, referenced table, comma-separated columns).
fn foreign_keys(rows: &Rows) -> Vec<ForeignKey> {
    rows.rows
        .iter()
        .map(|r| ForeignKey {
            table: text(&r[0]),
            name: text(&r[1]),
            columns: list(&r[2]),
            ref_table: text(&r[3]),
            ref_columns: list(&r[4]),
        })
        .collect()
}

async fn postgres(db: &Database) -> Result<Schema, db::Error> {
    let mut schema = Schema::default();
    let tables = fetch(
        db,
        "SELECT c.relname::text, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity, \
           (SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid LIMIT 1), \
           (c.relkind = 'v' AND NOT coalesce('security_invoker=true' = ANY(c.reloptions) OR 'security_invoker=on' = ANY(c.reloptions), false)), \
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1",
    )
    .await?;
    for r in &tables.rows {
        let kind = match text(&r[1]).as_str() {
            "v" | "m" => "view",
            "p" => "partitioned",
            "f" => "foreign",
            _ => "table",
        };
        schema.tables.push(Table {
            name: text(&r[0]),
            kind: kind.into(),
            partition_of: opt(&r[4]),
            rls_enabled: flag(&r[2]),
            rls_forced: flag(&r[3]),
            definer_view: flag(&r[5]),
            definition: opt(&r[6]),
        });
    }
    let columns = fetch(
        db,
        "SELECT table_name::text, column_name::text, udt_name::text, is_nullable::text, column_default::text, \
           (coalesce(column_default LIKE 'nextval(%', false) OR is_identity = 'YES'), collation_name::text, ordinal_position::int8 \
         FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .await?;
    schema.columns = self::columns(&columns);
    let indexes = fetch(
        db,
        "SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, \
           (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() ORDER BY 1, 2",
    )
    .await?;
    schema.indexes = self::indexes(&indexes);
    let fks = fetch(
        db,
        "SELECT t.relname::text, con.conname::text, \
           (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), \
           r.relname::text, \
           (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) \
         FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE con.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2",
    )
    .await?;
    schema.foreign_keys = foreign_keys(&fks);
    let policies = fetch(
        db,
        "SELECT tablename::text, policyname::text, cmd::text, permissive::text, qual::text, with_check::text \
         FROM pg_policies WHERE schemaname = current_schema() ORDER BY 1, 2",
    )
    .await?;
    for r in &policies.rows {
        schema.policies.push(Policy {
            table: text(&r[0]),
            name: text(&r[1]),
            command: text(&r[2]),
            permissive: text(&r[3]) == "PERMISSIVE",
            using: opt(&r[4]),
            check: opt(&r[5]),
        });
    }
    let functions = fetch(
        db,
        "SELECT p.proname::text, p.prosrc::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prosecdef AND n.nspname = current_schema() ORDER BY 1",
    )
    .await?;
    for r in &functions.rows {
        schema.definer_functions.push(DefinerFunction { name: text(&r[0]), body: text(&r[1]) });
    }
    Ok(schema)
}

async fn mysql(db: &Database) -> Result<Schema, db::Error> {
    let mut schema = Schema::default();
    let tables = fetch(
        db,
        "SELECT CAST(t.table_name AS CHAR), CAST(t.table_type AS CHAR), CAST(coalesce(v.security_type, '') AS CHAR), \
           CAST(v.view_definition AS CHAR) \
         FROM information_schema.tables t LEFT JOIN information_schema.views v \
           ON v.table_schema = t.table_schema AND v.table_name = t.table_name \
         WHERE t.table_schema = DATABASE() ORDER BY 1",
    )
    .await?;
    for r in &tables.rows {
        let view = text(&r[1]) == "VIEW";
        schema.tables.push(Table {
            name: text(&r[0]),
            kind: if view { "view" } else { "table" }.into(),
            partition_of: None,
            rls_enabled: false,
            rls_forced: false,
            definer_view: view && text(&r[2]) == "DEFINER",
            definition: opt(&r[3]),
        });
    }
    let columns = fetch(
        db,
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(is_nullable AS CHAR), \
           CAST(column_default AS CHAR), extra LIKE '%auto_increment%', CAST(collation_name AS CHAR), CAST(ordinal_position AS SIGNED) \
         FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position",
    )
    .await?;
    schema.columns = self::columns(&columns);
    let indexes = fetch(
        db,
        "SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), MAX(non_unique) = 0, index_name = 'PRIMARY', \
           CAST(GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',') AS CHAR) \
         FROM information_schema.statistics WHERE table_schema = DATABASE() GROUP BY table_name, index_name ORDER BY 1, 2",
    )
    .await?;
    schema.indexes = self::indexes(&indexes);
    let fks = fetch(
        db,
        "SELECT CAST(table_name AS CHAR), CAST(constraint_name AS CHAR), \
           CAST(GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR ',') AS CHAR), CAST(MAX(referenced_table_name) AS CHAR), \
           CAST(GROUP_CONCAT(referenced_column_name ORDER BY ordinal_position SEPARATOR ',') AS CHAR) \
         FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL \
         GROUP BY table_name, constraint_name ORDER BY 1, 2",
    )
    .await?;
    schema.foreign_keys = foreign_keys(&fks);
    Ok(schema)
}

async fn sqlite(db: &Database) -> Result<Schema, db::Error> {
    let mut schema = Schema::default();
    let tables = fetch(
        db,
        "SELECT name, type, CASE WHEN type = 'view' THEN sql END FROM sqlite_master \
         WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .await?;
    for r in &tables.rows {
        schema.tables.push(Table {
            name: text(&r[0]),
            kind: text(&r[1]),
            partition_of: None,
            rls_enabled: false,
            rls_forced: false,
            definer_view: false,
            definition: opt(&r[2]),
        });
    }
    let columns = fetch(
        db,
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, p.cid \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
    )
    .await?;
    for r in &columns.rows {
        schema.columns.push(Column {
            table: text(&r[0]),
            name: text(&r[1]),
            data_type: text(&r[2]),
            nullable: !flag(&r[3]) && r[5].as_i64() == Some(0),
            default: opt(&r[4]),
            generated: false,
            collation: None,
            position: r[6].as_i64().unwrap_or(0) + 1,
        });
    }
    // Primary keys from table_info (a rowid alias has no index of its own).
    let mut pk: std::collections::BTreeMap<String, Vec<(i64, String)>> = Default::default();
    for r in &columns.rows {
        if let Some(n) = r[5].as_i64().filter(|&n| n > 0) {
            pk.entry(text(&r[0])).or_default().push((n, text(&r[1])));
        }
    }
    for (table, mut cols) in pk {
        cols.sort();
        let name = format!("{table}_pkey");
        schema.indexes.push(Index {
            table,
            name,
            columns: cols.into_iter().map(|c| c.1).collect(),
            unique: true,
            primary: true,
        });
    }
    let indexes = fetch(
        db,
        "SELECT m.name, il.name, il.\"unique\", il.origin, group_concat(ii.name, ',') \
         FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
         WHERE m.type = 'table' GROUP BY m.name, il.name ORDER BY m.name, il.name",
    )
    .await?;
    for r in &indexes.rows {
        if text(&r[3]) == "pk" {
            continue;
        }
        schema.indexes.push(Index {
            table: text(&r[0]),
            name: text(&r[1]),
            unique: flag(&r[2]),
            primary: false,
            columns: list(&r[4]),
        });
    }
    let fks = fetch(
        db,
        "SELECT m.name, f.id, group_concat(f.\"from\", ','), max(f.\"table\"), group_concat(coalesce(f.\"to\", ''), ',') \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
         GROUP BY m.name, f.id ORDER BY m.name, f.id",
    )
    .await?;
    for r in &fks.rows {
        let table = text(&r[0]);
        let ref_table = text(&r[3]);
        let mut ref_columns = list(&r[4]);
        // `REFERENCES t` without columns means t's primary key.
        if ref_columns.is_empty() {
            ref_columns = schema.primary_key(&ref_table).map(|i| i.columns.clone()).unwrap_or_default();
        }
        schema.foreign_keys.push(ForeignKey {
            name: format!("{table}_fk{}", text(&r[1])),
            table,
            columns: list(&r[2]),
            ref_table,
            ref_columns,
        });
    }
    Ok(schema)
}
