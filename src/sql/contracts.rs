//! Contracts between Rust row structs and the schema: find the structs that map rows (derive
//! `sqlx::FromRow`, or say `deployclaw: table = NAME` in a doc comment), match them to tables, and
//! predict the runtime error each mismatch will cause.

use std::path::{Path, PathBuf};

use quote::ToTokens;
use serde::Serialize;

use super::dialect::Dialect;
use super::schema::{Column, Schema};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    #[serde(rename = "struct")]
    pub struct_name: String,
    pub table: String,
    pub field: Option<String>,
    pub column: Option<String>,
    /// nullable, not-null-option, type, width, signedness, missing-column, extra-column, no-table.
    pub rule: &'static str,
    /// "error" when a fetch will fail, "warning" when it will not but something is off.
    pub severity: &'static str,
    pub message: String,
    /// What the program will see at run time, when it will see anything.
    pub predicted_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not valid Rust: {message}")]
    Parse { path: String, message: String },
}

/// A struct that maps rows.
struct RowStruct {
    name: String,
    table: String,
    line: usize,
    fields: Vec<Field>,
}

struct Field {
    name: String,
    column: String,
    ty: String,
    skipped: bool,
}

/// Check every row struct under `dir` (recursively, `.rs` files) against `schema`.
pub fn check(dir: &Path, schema: &Schema, dialect: Dialect) -> Result<Vec<Finding>, Error> {
    let mut files = Vec::new();
    if dir.is_file() {
        files.push(dir.to_path_buf());
    } else {
        rust_files(dir, &mut files)?;
    }
    files.sort();
    let mut findings = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|source| Error::Io { path: file.display().to_string(), source })?;
        let ast = syn::parse_file(&text)
            .map_err(|e| Error::Parse { path: file.display().to_string(), message: e.to_string() })?;
        let mut structs = Vec::new();
        collect(&ast.items, &text, &mut structs);
        let shown = match file.strip_prefix(dir) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
            _ => file.display().to_string(),
        };
        for s in structs {
            check_struct(&shown, &s, schema, dialect, &mut findings);
        }
    }
    Ok(findings)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target" && !n.to_string_lossy().starts_with('.')) {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn collect(items: &[syn::Item], text: &str, out: &mut Vec<RowStruct>) {
    for item in items {
        match item {
            syn::Item::Struct(s) => {
                if let Some(row) = row_struct(s, text) {
                    out.push(row);
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, text, out);
                }
            }
            _ => {}
        }
    }
}

fn row_struct(s: &syn::ItemStruct, text: &str) -> Option<RowStruct> {
    let name = s.ident.to_string();
    let derives_from_row = s
        .attrs
        .iter()
        .any(|a| a.path().is_ident("derive") && a.to_token_stream().to_string().replace(' ', "").contains("FromRow"));
    let declared = s.attrs.iter().filter(|a| a.path().is_ident("doc")).find_map(|a| {
        let doc = a.to_token_stream().to_string();
        let at = doc.find("deployclaw: table")?;
        let rest = doc[at + "deployclaw: table".len()..].trim_start().trim_start_matches('=').trim_start();
        let table: String = rest
            .trim_start_matches('"')
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        (!table.is_empty()).then_some(table)
    });
    if !derives_from_row && declared.is_none() {
        return None;
    }
    let rename_all = sqlx_attr(&s.attrs, "rename_all");
    let syn::Fields::Named(named) = &s.fields else { return None };
    let fields = named
        .named
        .iter()
        .filter_map(|f| {
            let field = f.ident.as_ref()?.to_string();
            let field = field.trim_start_matches("r#").to_string();
            let column = sqlx_attr(&f.attrs, "rename").unwrap_or_else(|| renamed(&field, rename_all.as_deref()));
            let attrs: String = f.attrs.iter().map(|a| a.to_token_stream().to_string()).collect();
            let skipped = attrs.contains("skip") || attrs.contains("flatten");
            Some(Field { name: field, column, ty: f.ty.to_token_stream().to_string().replace(' ', ""), skipped })
        })
        .collect();
    let line = text.lines().position(|l| l.contains(&format!("struct {name}"))).map_or(0, |i| i + 1);
    let table = declared.unwrap_or_else(|| plural(&snake(&name)));
    Some(RowStruct { name, table, line, fields })
}

/// The value of `#[sqlx(KEY = "value")]`.
fn sqlx_attr(attrs: &[syn::Attribute], key: &str) -> Option<String> {
    attrs.iter().filter(|a| a.path().is_ident("sqlx")).find_map(|a| {
        let text = a.to_token_stream().to_string();
        let at = text.find(&format!("{key} ="))?;
        let rest = &text[at..];
        let start = rest.find('"')? + 1;
        let end = start + rest[start..].find('"')?;
        Some(rest[start..end].to_string())
    })
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn plural(name: &str) -> String {
    if name.ends_with('s') {
        name.to_string()
    } else if let Some(stem) = name.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{name}s")
    }
}

/// A field's column under `#[sqlx(rename_all = "...")]`.
fn renamed(field: &str, rule: Option<&str>) -> String {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    // Field names are Rust identifiers, which may start with any letter (`été`), so by chars.
    let cap = |w: &str| {
        let mut chars = w.chars();
        chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
    };
    match rule {
        Some("camelCase") => {
            words.iter().enumerate().map(|(i, w)| if i == 0 { w.to_string() } else { cap(w) }).collect()
        }
        Some("PascalCase") => words.iter().map(|w| cap(w)).collect(),
        Some("UPPERCASE") | Some("SCREAMING_SNAKE_CASE") => field.to_uppercase(),
        Some("kebab-case") => words.join("-"),
        _ => field.to_string(),
    }
}

/// What a Rust type holds, for comparing with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int {
        bits: u8,
        signed: bool,
    },
    Float {
        bits: u8,
    },
    Bool,
    Text,
    Bytes,
    Uuid,
    /// A point in time with a zone (DateTime<Utc>, OffsetDateTime).
    Instant,
    /// A date and time without a zone.
    LocalDateTime,
    Date,
    Time,
    Json,
    Decimal,
    Unknown,
}

/// The Rust type without `Option<...>`, and whether it was optional.
fn unwrap_option(ty: &str) -> (&str, bool) {
    for prefix in ["Option<", "std::option::Option<", "core::option::Option<"] {
        if let Some(inner) = ty.strip_prefix(prefix).and_then(|t| t.strip_suffix('>')) {
            return (inner, true);
        }
    }
    (ty, false)
}

fn rust_kind(ty: &str) -> Kind {
    let last = ty.rsplit("::").next().unwrap_or(ty);
    let base = last.split('<').next().unwrap_or(last);
    match base {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
            Kind::Int { bits: base[1..].parse().unwrap_or(64), signed: base.starts_with('i') }
        }
        "f32" | "f64" => Kind::Float { bits: base[1..].parse().unwrap_or(64) },
        "bool" => Kind::Bool,
        "String" | "str" => Kind::Text,
        "Vec" if ty.contains("u8") => Kind::Bytes,
        "Uuid" => Kind::Uuid,
        "DateTime" | "OffsetDateTime" => Kind::Instant,
        "NaiveDateTime" | "PrimitiveDateTime" => Kind::LocalDateTime,
        "NaiveDate" | "Date" => Kind::Date,
        "NaiveTime" | "Time" => Kind::Time,
        "Json" | "Value" | "JsonValue" => Kind::Json,
        "Decimal" | "BigDecimal" => Kind::Decimal,
        _ => Kind::Unknown,
    }
}

/// What a column holds, in the dialect's terms.
fn column_kind(column: &Column, dialect: Dialect) -> Kind {
    let t = column.data_type.to_ascii_lowercase();
    let unsigned = t.contains("unsigned");
    let base = t.split(['(', ' ']).next().unwrap_or(&t);
    match dialect {
        Dialect::Postgres => match base {
            "int2" => Kind::Int { bits: 16, signed: true },
            "int4" => Kind::Int { bits: 32, signed: true },
            "int8" => Kind::Int { bits: 64, signed: true },
            "float4" => Kind::Float { bits: 32 },
            "float8" => Kind::Float { bits: 64 },
            "numeric" => Kind::Decimal,
            "bool" => Kind::Bool,
            "text" | "varchar" | "bpchar" | "name" | "citext" => Kind::Text,
            "bytea" => Kind::Bytes,
            "uuid" => Kind::Uuid,
            "timestamptz" => Kind::Instant,
            "timestamp" => Kind::LocalDateTime,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "json" | "jsonb" => Kind::Json,
            _ => Kind::Unknown,
        },
        Dialect::Mysql => match base {
            "tinyint" if t.starts_with("tinyint(1)") => Kind::Bool,
            "tinyint" => Kind::Int { bits: 8, signed: !unsigned },
            "smallint" => Kind::Int { bits: 16, signed: !unsigned },
            "mediumint" | "int" | "integer" => Kind::Int { bits: 32, signed: !unsigned },
            "bigint" => Kind::Int { bits: 64, signed: !unsigned },
            "float" => Kind::Float { bits: 32 },
            "double" | "real" => Kind::Float { bits: 64 },
            "decimal" | "numeric" => Kind::Decimal,
            "char" | "varchar" | "text" | "tinytext" | "mediumtext" | "longtext" | "enum" | "set" => Kind::Text,
            "binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob" => Kind::Bytes,
            "datetime" => Kind::LocalDateTime,
            "timestamp" => Kind::Instant,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "json" => Kind::Json,
            _ => Kind::Unknown,
        },
        // SQLite has affinities, not types: integers of any width, text for dates.
        Dialect::Sqlite => match base {
            b if b.contains("int") => Kind::Int { bits: 64, signed: true },
            b if b.contains("char") || b.contains("clob") || b.contains("text") => Kind::Text,
            b if b.contains("real") || b.contains("floa") || b.contains("doub") => Kind::Float { bits: 64 },
            "blob" | "" => Kind::Bytes,
            "boolean" | "bool" => Kind::Bool,
            _ => Kind::Unknown,
        },
    }
}

/// Why a column of kind `column` cannot be read into `rust` with sqlx, if it cannot.
fn incompatible(rust: Kind, column: Kind, dialect: Dialect) -> Option<&'static str> {
    use Kind::*;
    if rust == Unknown || column == Unknown || rust == column {
        return None;
    }
    match (rust, column, dialect) {
        (Int { bits: rb, signed: rs }, Int { bits: cb, signed: cs }, Dialect::Postgres) => Some(if rs != cs {
            "signedness"
        } else if rb != cb {
            "width"
        } else {
            return None;
        }),
        (Int { bits: rb, signed: rs }, Int { bits: cb, signed: cs }, Dialect::Mysql) => {
            if rs != cs {
                Some("signedness")
            } else if rb < cb {
                Some("width")
            } else {
                None
            }
        }
        (Int { .. }, Int { .. }, Dialect::Sqlite) => None,
        (Bool, Int { .. }, Dialect::Sqlite | Dialect::Mysql) | (Int { .. }, Bool, Dialect::Mysql) => None,
        (Float { .. }, Float { .. }, Dialect::Sqlite) => None,
        (Float { bits: 64 }, Float { bits: 32 }, Dialect::Mysql) => None,
        (Instant | LocalDateTime | Date | Time, Text, Dialect::Sqlite) => None,
        (Uuid, Bytes | Text, Dialect::Mysql | Dialect::Sqlite) => None,
        (Json, Text, Dialect::Sqlite | Dialect::Mysql) => None,
        (Int { .. }, Float { .. } | Decimal | Text, _) | (Float { .. } | Decimal, Int { .. } | Text, _) => {
            Some("text-vs-numeric")
        }
        (Text, Int { .. } | Float { .. } | Decimal, _) => Some("text-vs-numeric"),
        _ => Some("type"),
    }
}

fn sql_name(kind: Kind) -> String {
    match kind {
        Kind::Int { bits, signed } => format!("{}{bits}", if signed { "i" } else { "u" }),
        other => format!("{other:?}"),
    }
}

fn check_struct(file: &str, s: &RowStruct, schema: &Schema, dialect: Dialect, out: &mut Vec<Finding>) {
    let mut push =
        |field: Option<&Field>, column: Option<&str>, rule, severity, message: String, predicted: Option<String>| {
            out.push(Finding {
                file: file.into(),
                line: s.line,
                struct_name: s.name.clone(),
                table: s.table.clone(),
                field: field.map(|f| f.name.clone()),
                column: column.map(str::to_string),
                rule,
                severity,
                message,
                predicted_error: predicted,
            })
        };
    if schema.table(&s.table).is_none() {
        push(
            None,
            None,
            "no-table",
            "error",
            format!(
                "struct {} maps rows of `{}`, which the database does not have; say `/// deployclaw: table = NAME` on the struct if it reads another",
                s.name, s.table
            ),
            Some(format!("a database error that `{}` does not exist, from any query written for it", s.table)),
        );
        return;
    }
    let table = &s.table;
    for field in s.fields.iter().filter(|f| !f.skipped) {
        let Some(column) = schema.column(table, &field.column) else {
            push(
                Some(field),
                Some(&field.column),
                "missing-column",
                "error",
                format!("{}.{} reads column `{}`, which `{table}` does not have", s.name, field.name, field.column),
                Some(format!("sqlx::Error::ColumnNotFound(\"{}\") on every fetch", field.column)),
            );
            continue;
        };
        let (inner, optional) = unwrap_option(&field.ty);
        if column.nullable && !optional {
            push(
                Some(field),
                Some(&column.name),
                "nullable",
                "error",
                format!(
                    "{table}.{} can be NULL but {}.{} is `{}`, not an Option",
                    column.name, s.name, field.name, field.ty
                ),
                Some(format!(
                    "sqlx::Error::ColumnDecode {{ index: \"{}\", source: UnexpectedNullError }} on the first NULL row",
                    column.name
                )),
            );
        } else if !column.nullable && optional {
            push(
                Some(field),
                Some(&column.name),
                "not-null-option",
                "warning",
                format!(
                    "{table}.{} is NOT NULL, so {}.{} (`{}`) is never None",
                    column.name, s.name, field.name, field.ty
                ),
                None,
            );
        }
        let (rust, sql) = (rust_kind(inner), column_kind(column, dialect));
        if let Some(rule) = incompatible(rust, sql, dialect) {
            push(
                Some(field),
                Some(&column.name),
                rule,
                "error",
                format!(
                    "{}.{} is `{inner}` ({}) but {table}.{} is {} ({})",
                    s.name,
                    field.name,
                    sql_name(rust),
                    column.name,
                    column.data_type,
                    sql_name(sql)
                ),
                Some(format!(
                    "sqlx::Error::ColumnDecode {{ index: \"{}\", source: mismatched types: Rust type `{inner}` is not compatible with SQL type {} }}",
                    column.name,
                    column.data_type.to_uppercase()
                )),
            );
        }
    }
    for column in schema.columns_of(table) {
        if !s.fields.iter().any(|f| f.column == column.name) {
            push(
                None,
                Some(&column.name),
                "extra-column",
                "warning",
                format!(
                    "{table}.{} has no field in {}: `SELECT *` reads it for nothing, and an INSERT built from the struct leaves it to its default",
                    column.name, s.name
                ),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sqlx_renames_and_table_plurals() {
        assert_eq!(renamed("created_at", Some("camelCase")), "createdAt");
        assert_eq!(renamed("created_at", Some("PascalCase")), "CreatedAt");
        assert_eq!(renamed("été_à", Some("PascalCase")), "ÉtéÀ");
        assert_eq!(renamed("été__x", Some("camelCase")), "étéX");
        assert_eq!(plural(&snake("OrderNote")), "order_notes");
        assert_eq!(plural(&snake("Company")), "companies");
        assert_eq!(unwrap_option("Option<chrono::DateTime<Utc>>"), ("chrono::DateTime<Utc>", true));
        assert_eq!(rust_kind("chrono::DateTime<Utc>"), Kind::Instant);
    }
}
