//! The tenant guard: a statement runs only when every read and write of a tenant table is
//! provably restricted to the current tenant, bound as a known parameter.
//!
//! The proof is syntactic and conservative. Each `SELECT` (and each `UPDATE`/`DELETE`) is a
//! scope of bindings (tables, CTEs, subqueries). The conditions that hold for a binding's rows
//! (the `WHERE`, the `ON` of inner joins, the `ON` of an outer join for its nullable side only)
//! become equalities between terms; `OR` keeps only what both branches prove. A tenant table is
//! scoped when its key is equal to the tenant parameter; a derived table when its foreign key
//! equals the referenced column of a scoped parent. Subqueries, CTEs and set operations are
//! checked as scopes of their own. Whatever the guard cannot prove, it refuses, naming the rule,
//! the table and the offset in the statement.

mod check;
mod facts;
mod functions;
mod terms;
mod write;

use std::fmt;

use serde::Serialize;
use sqlparser::ast::Statement;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::dialect::Dialect;
use super::tenancy::{Kind, Table, Tenancy};

/// Why a statement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The statement does not parse in the connection's dialect.
    Parse,
    /// More than one statement in one string.
    MultiStatement,
    /// DDL, transaction control, session settings and other statements the guard does not prove.
    StatementKind,
    /// A MySQL/MariaDB executable comment (`/*! ... */`), which the server runs as code.
    ExecutableComment,
    /// A table the tenancy map does not know (views included, until declared).
    UnknownTable,
    /// A tenant table read or written with no condition restricting it to the tenant.
    Unscoped,
    /// The tenant condition sits in one branch of an OR.
    OrBranch,
    /// The tenant condition sits in an outer join's ON, where it does not filter the preserved side.
    OuterJoin,
    /// The tenant key is compared with a literal instead of the bound tenant.
    LiteralTenant,
    /// The tenant key is compared with a parameter that is not the tenant's.
    WrongParameter,
    /// The tenant key is compared with IN/ANY over other values, a negation, a range or a pattern.
    LooseComparison,
    /// A write sets the tenant key (or a derived table's foreign key) to an unproven value.
    TenantKeyWrite,
    /// An INSERT row whose tenant key is missing or not the tenant.
    InsertTenant,
    /// An INSERT without a column list.
    InsertColumns,
    /// An upsert or REPLACE that can overwrite another tenant's row.
    UpsertOverwrite,
    /// A write to a global table.
    GlobalWrite,
    /// A function not known to leave other tenants' rows alone.
    Function,
    /// A table in another tenant's schema, or in a tenant schema with no tenant bound.
    TenantSchema,
    /// SQL the guard does not analyse.
    Unsupported,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Parse => "parse",
            Rule::MultiStatement => "multi-statement",
            Rule::StatementKind => "statement-kind",
            Rule::ExecutableComment => "executable-comment",
            Rule::UnknownTable => "unknown-table",
            Rule::Unscoped => "unscoped",
            Rule::OrBranch => "or-branch",
            Rule::OuterJoin => "outer-join",
            Rule::LiteralTenant => "literal-tenant",
            Rule::WrongParameter => "wrong-parameter",
            Rule::LooseComparison => "loose-comparison",
            Rule::TenantKeyWrite => "tenant-key-write",
            Rule::InsertTenant => "insert-tenant",
            Rule::InsertColumns => "insert-columns",
            Rule::UpsertOverwrite => "upsert-overwrite",
            Rule::GlobalWrite => "global-write",
            Rule::Function => "function",
            Rule::TenantSchema => "tenant-schema",
            Rule::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: Rule,
    /// The table concerned, or "" when the refusal is about the whole statement.
    pub table: String,
    pub message: String,
    /// Byte offset in the statement.
    pub offset: usize,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] at byte {}: {}", self.rule, self.offset, self.message)
    }
}

/// A table a statement writes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    pub table: String,
    /// The schema it was qualified with.
    pub schema: Option<String>,
    /// For an INSERT, the columns it names.
    pub insert_columns: Option<Vec<String>>,
}

/// The guard's answer for one statement.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub sql: String,
    pub reasons: Vec<Reason>,
    /// The tables it writes to (empty for a read).
    #[serde(skip)]
    pub writes: Vec<Write>,
    /// Whether the tenant is bound as a parameter when it runs: when the statement numbers its
    /// parameters (the tenant holds the first number), or its first bare `?` is the tenant's
    /// because a tenant table needs it. A statement with no parameters binds nothing.
    #[serde(skip)]
    pub binds_tenant: bool,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Which placeholder carries the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TenantParam {
    /// The placeholder's text: `$1`, `?1`, `:tenant`.
    text: String,
    /// A bare `?` that comes first in the statement is the tenant too (MySQL's positional `?`,
    /// and SQLite's, where the first bare `?` is `?1`).
    first_bare: bool,
}

/// A guard for one tenancy map, dialect and tenant parameter.
#[derive(Debug, Clone)]
pub struct Guard {
    tenancy: Tenancy,
    dialect: Dialect,
    param: TenantParam,
    /// No tenant is bound: only global tables and the database's own catalogs can be read.
    no_tenant: bool,
    /// With `tenant_schemas`: the bound tenant's own schema, standing for all its tables.
    owned: Option<Table>,
}

impl Guard {
    /// `param` defaults to the dialect's (`$1`, the first `?`, `?1`).
    pub fn new(tenancy: Tenancy, dialect: Dialect, param: Option<&str>) -> Guard {
        let text = param.unwrap_or(dialect.default_tenant_param()).to_string();
        let first_bare = text == "?" || (dialect == Dialect::Sqlite && text == "?1");
        let tenancy = tenancy.with_schema(dialect.default_schema());
        Guard { tenancy, dialect, param: TenantParam { text, first_bare }, no_tenant: false, owned: None }
    }

    /// The guard for one tenant: with `tenant_schemas` in the map, the tables of the tenant's
    /// own schema are its, whole, and every other tenant schema is out of reach.
    pub fn for_tenant(mut self, tenant: &serde_json::Value) -> Guard {
        if let Some(glob) = self.tenancy.tenant_schemas() {
            let id = match tenant {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let schema = glob.schema_of(&id).to_lowercase();
            self.owned = Some(Table { name: schema.clone(), kind: Kind::Owned, family: schema });
        }
        self
    }

    /// The table a name refers to, or why a tenant schema's table is out of reach.
    fn table(&self, schema: Option<&str>, name: &str) -> Result<Option<&Table>, String> {
        let tenant = schema.zip(self.tenancy.tenant_schemas()).and_then(|(s, glob)| glob.tenant_of(s));
        let (Some(schema), Some(tenant)) = (schema, tenant) else { return Ok(self.tenancy.table(schema, name)) };
        match &self.owned {
            Some(own) if own.name.eq_ignore_ascii_case(schema) => Ok(Some(own)),
            Some(own) => Err(format!(
                "`{schema}.{name}` is in tenant {tenant}'s schema; this handle may only reach its own schema, {}",
                own.name
            )),
            None => Err(format!(
                "`{schema}.{name}` is in tenant {tenant}'s schema: reach it through sql::with_tenant(db, \"{tenant}\")"
            )),
        }
    }

    /// A guard for a handle with no tenant: it allows reads of global tables and of the
    /// database's catalogs (`pg_catalog`, `information_schema`, `sqlite_master`, ...) only.
    pub fn without_tenant(tenancy: Tenancy, dialect: Dialect) -> Guard {
        let tenancy = tenancy.with_schema(dialect.default_schema());
        Guard {
            tenancy,
            dialect,
            param: TenantParam { text: String::new(), first_bare: false },
            no_tenant: true,
            owned: None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn tenancy(&self) -> &Tenancy {
        &self.tenancy
    }

    /// The tenant parameter as written in statements.
    pub fn param(&self) -> &str {
        &self.param.text
    }

    /// Check one statement.
    pub fn check(&self, sql: &str) -> Verdict {
        let (reasons, writes, binds_tenant) = self.reasons(sql);
        Verdict { sql: sql.to_string(), reasons, writes, binds_tenant }
    }

    fn reasons(&self, sql: &str) -> (Vec<Reason>, Vec<Write>, bool) {
        let whole = |rule, message: String, offset| {
            (vec![Reason { rule, table: String::new(), message, offset }], Vec::new(), false)
        };
        if self.dialect == Dialect::Mysql
            && let Some(offset) = executable_comment(sql, self.dialect)
        {
            return whole(
                Rule::ExecutableComment,
                "MySQL runs the contents of `/*! ... */` comments as SQL; remove the comment".into(),
                offset,
            );
        }
        if sql.len() > MAX_STATEMENT_BYTES {
            return whole(
                Rule::Parse,
                format!("{} bytes in one statement, more than the guard reads ({MAX_STATEMENT_BYTES})", sql.len()),
                0,
            );
        }
        // Tokenized once, here: the nesting check reads the tokens, then the parser does.
        let parsed = Tokenizer::new(self.dialect.parser(), sql).tokenize_with_location().map_err(ParserError::from);
        let unreadable =
            |tokens: &Vec<TokenWithSpan>| nested_too_deep(sql, tokens).or_else(|| dot_without_name(sql, tokens));
        if let Some((offset, what)) = parsed.as_ref().ok().and_then(unreadable) {
            return whole(
                Rule::Parse,
                format!(
                    "{what}: not read (the SQL parser's time grows exponentially with each level of a statement \
                     that does not parse)"
                ),
                offset,
            );
        }
        let parsed = parsed.and_then(|tokens| {
            Parser::new(self.dialect.parser()).with_tokens_with_locations(tokens).parse_statements()
        });
        let statements = match parsed {
            Ok(s) => s,
            Err(e) => {
                let message = e.to_string();
                let offset = parse_error_offset(sql, &message);
                return whole(Rule::Parse, format!("does not parse as {} SQL: {message}", self.dialect), offset);
            }
        };
        let found = match statements.as_slice() {
            [] => whole(Rule::Parse, "no statement".into(), 0),
            [statement] => check::Checker::new(self, sql).run(statement),
            [_, second, ..] => {
                let offset = statement_offset(sql, second);
                whole(
                    Rule::MultiStatement,
                    format!("{} statements in one string: send one at a time", statements.len()),
                    offset,
                )
            }
        };
        // A long statement may parse into a deep tree (`a AND b AND ...` nests to the left), and
        // dropping a tree recurses as deep as it is: give that a stack of its own.
        if sql.len() > DEEP_TREE_FROM_BYTES {
            stacker::grow(DROP_STACK_BYTES, move || drop(statements));
        }
        found
    }
}

/// Statements longer than this are refused unread: runbook statements are a few KiB at most.
const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Levels of `(` and `[` a statement may nest. sqlparser 0.5x backtracks on a syntax error inside
/// nested calls and subscripts in the PostgreSQL dialect, trying each enclosing level twice: a
/// 219-byte statement found by fuzzing (25 levels) ran for hours, 16 levels take 0.15 s. Runbook
/// statements nest a few levels.
const MAX_NESTING: usize = 16;
/// Levels of `[` among them. Unclosed subscripts of dotted names (`a.b[c.d[...`) cost the parser
/// far more per level: a 232-byte statement found by fuzzing took 0.07 s at 5 levels, 3.2 s at
/// 9, 30 s at 10 and hours at 12. Arrays are indexed one after the other (`a[1][2]`), not
/// inside each other.
const MAX_SUBSCRIPT_NESTING: usize = 4;

/// Where the statement (`sql`, as `tokens`) first nests deeper than [`MAX_NESTING`] brackets
/// or [`MAX_SUBSCRIPT_NESTING`] subscripts, and which: counted on its tokens, where strings,
/// quoted names and comments are one token each.
fn nested_too_deep(sql: &str, tokens: &[TokenWithSpan]) -> Option<(usize, String)> {
    // What each open bracket is: `[` or not.
    let mut open: Vec<bool> = Vec::new();
    let mut subscripts = 0usize;
    for t in tokens {
        match t.token {
            Token::LParen | Token::LBracket => {
                let subscript = t.token == Token::LBracket;
                open.push(subscript);
                subscripts += usize::from(subscript);
                let at = || byte_offset(sql, t.span.start);
                if open.len() > MAX_NESTING {
                    return Some((at(), format!("brackets nested more than {MAX_NESTING} levels deep")));
                }
                if subscripts > MAX_SUBSCRIPT_NESTING {
                    return Some((
                        at(),
                        format!("subscripts `[` nested more than {MAX_SUBSCRIPT_NESTING} levels deep"),
                    ));
                }
            }
            Token::RParen | Token::RBracket => subscripts -= usize::from(open.pop() == Some(true)),
            _ => {}
        }
    }
    None
}
/// The first `.` not followed by a name or `*`, such as `a.-b`: no dialect has it, and sqlparser
/// tries every way of reading what follows, again at each such dot (fuzzing found a 500-byte
/// chain of them that took minutes).
fn dot_without_name(sql: &str, tokens: &[TokenWithSpan]) -> Option<(usize, String)> {
    let mut meaningful = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_)));
    while let Some(t) = meaningful.next() {
        if t.token != Token::Period {
            continue;
        }
        match meaningful.next().map(|n| &n.token) {
            Some(Token::Word(_) | Token::Mul | Token::Number(..)) => {}
            _ => return Some((byte_offset(sql, t.span.start), "a `.` not followed by a name or `*`".to_string())),
        }
    }
    None
}

/// Statements up to this long cannot nest deep enough to matter for a thread's stack.
const DEEP_TREE_FROM_BYTES: usize = 4096;
/// Enough to drop the deepest tree `MAX_STATEMENT_BYTES` can describe; only touched pages count.
const DROP_STACK_BYTES: usize = 256 << 20;

/// Byte offset of a 1-based line and character column.
pub(super) fn byte_offset(sql: &str, at: Location) -> usize {
    if at.line == 0 {
        return 0;
    }
    let line_start: usize = sql.split_inclusive('\n').take(at.line as usize - 1).map(str::len).sum();
    let line = &sql[line_start.min(sql.len())..];
    let column = line.char_indices().nth(at.column.saturating_sub(1) as usize).map_or(line.len(), |(i, _)| i);
    line_start + column
}

fn statement_offset(sql: &str, statement: &Statement) -> usize {
    use sqlparser::ast::Spanned;
    byte_offset(sql, statement.span().start)
}

/// The offset a parser error names ("... at Line: 1, Column: 15"), or 0.
fn parse_error_offset(sql: &str, message: &str) -> usize {
    let number = |key: &str| -> Option<u64> {
        let rest = &message[message.rfind(key)? + key.len()..];
        rest.trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    match (number("Line:"), number("Column:")) {
        (Some(line), Some(column)) => byte_offset(sql, Location { line, column }),
        _ => 0,
    }
}

/// Where a `/*! ... */` or `/*M! ... */` comment starts, unless it sits inside a string or a
/// quoted name: MySQL and MariaDB run such comments as SQL.
fn executable_comment(sql: &str, dialect: Dialect) -> Option<usize> {
    let mut found: Vec<usize> = sql.match_indices("/*!").chain(sql.match_indices("/*M!")).map(|(i, _)| i).collect();
    if found.is_empty() {
        return None;
    }
    found.sort_unstable();
    let Ok(tokens) = Tokenizer::new(dialect.parser(), sql).tokenize_with_location() else { return Some(found[0]) };
    let quoted: Vec<std::ops::Range<usize>> = tokens
        .iter()
        .filter(|t| match &t.token {
            Token::Word(w) => w.quote_style.is_some(),
            Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_) => true,
            _ => false,
        })
        .map(|t| byte_offset(sql, t.span.start)..byte_offset(sql, t.span.end))
        .collect();
    found.into_iter().find(|at| !quoted.iter().any(|r| r.contains(at)))
}
