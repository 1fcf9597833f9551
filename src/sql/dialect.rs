//! The SQL dialects deployclaw speaks, and what differs between them.

use std::fmt;
use std::str::FromStr;

use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
    Sqlite,
}

impl Dialect {
    pub fn parser(self) -> &'static dyn sqlparser::dialect::Dialect {
        match self {
            Dialect::Postgres => &PostgreSqlDialect {},
            Dialect::Mysql => &MySqlDialect {},
            Dialect::Sqlite => &SQLiteDialect {},
        }
    }

    /// Where the current tenant's id is bound unless told otherwise: `$1`, the first `?`, `?1`.
    pub fn default_tenant_param(self) -> &'static str {
        match self {
            Dialect::Postgres => "$1",
            Dialect::Mysql => "?",
            Dialect::Sqlite => "?1",
        }
    }

    /// The schema unqualified table names live in, when the dialect has one fixed name for it.
    pub fn default_schema(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("public"),
            Dialect::Mysql => None,
            Dialect::Sqlite => Some("main"),
        }
    }

    /// A schema, table or column name quoted for this dialect (`"x"`, or `` `x` `` on MySQL).
    pub fn quote_ident(self, name: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A table name that may be schema-qualified (`public.tenants`), each part quoted.
    pub fn quote_path(self, name: &str) -> String {
        name.split('.').map(|part| self.quote_ident(part)).collect::<Vec<_>>().join(".")
    }

    /// The dialect of a connection URL's scheme.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Dialect, String> {
        match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            "sqlite" => Ok(Dialect::Sqlite),
            other => Err(format!("unknown SQL dialect `{other}`: use postgres, mysql or sqlite")),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        })
    }
}
