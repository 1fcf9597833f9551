//! Everything nested inside a clause: subqueries (checked as scopes of their own), function calls
//! (only functions known not to read tables or change the session), placeholders.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, Spanned, Statement, Value, ValueWithSpan, Visit, Visitor,
};
use sqlparser::tokenizer::Location;

use super::Rule;
use super::check::{Checker, ident_name};

/// Built-in scalar, aggregate and window functions that compute on their arguments only.
/// Functions that run SQL given as text (`query_to_xml`), reach other servers (`dblink`), read
/// files or large objects, or change the session (`set_config`) are deliberately absent.
const SAFE: &[&str] = &[
    "abs",
    "age",
    "array_agg",
    "array_length",
    "array_position",
    "array_to_string",
    "avg",
    "bit_and",
    "bit_or",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "cume_dist",
    "current_date",
    "current_time",
    "current_timestamp",
    "date",
    "date_add",
    "date_format",
    "date_part",
    "date_sub",
    "date_trunc",
    "datediff",
    "datetime",
    "day",
    "decode",
    "dense_rank",
    "encode",
    "every",
    "exp",
    "extract",
    "first_value",
    "floor",
    "format",
    "from_unixtime",
    "gen_random_uuid",
    "greatest",
    "group_concat",
    "hour",
    "if",
    "ifnull",
    "initcap",
    "instr",
    "isnull",
    "json_agg",
    "json_array",
    "json_array_length",
    "json_build_array",
    "json_build_object",
    "json_extract",
    "json_object",
    "json_object_agg",
    "json_unquote",
    "jsonb_agg",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_object_agg",
    "jsonb_set",
    "julianday",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "localtime",
    "localtimestamp",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "make_interval",
    "max",
    "md5",
    "min",
    "minute",
    "mod",
    "month",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "octet_length",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "position",
    "power",
    "random",
    "rank",
    "regexp_replace",
    "regexp_match",
    "regexp_matches",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "row_to_json",
    "rpad",
    "rtrim",
    "second",
    "sha256",
    "sign",
    "split_part",
    "sqrt",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "strftime",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "timestamp",
    "timestampdiff",
    "to_char",
    "to_date",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "trim",
    "trunc",
    "typeof",
    "unix_timestamp",
    "unixepoch",
    "upper",
    "uuid",
    "variance",
    "week",
    "year",
];

/// Set-returning functions that may stand in FROM: they make rows from their arguments only.
const SAFE_IN_FROM: &[&str] = &[
    "generate_series",
    "unnest",
    "json_each",
    "json_each_text",
    "jsonb_each",
    "jsonb_each_text",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "json_to_recordset",
    "jsonb_to_recordset",
    "regexp_split_to_table",
    "string_to_table",
];

/// The first placeholder of a statement and where it is, for positional tenant parameters.
pub(super) fn first_placeholder(statement: &Statement) -> Option<(String, Location)> {
    struct First(Option<(String, Location)>);
    impl Visitor for First {
        type Break = ();
        fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
            if let Value::Placeholder(p) = &value.value
                && self.0.as_ref().is_none_or(|(_, at)| value.span.start < *at)
            {
                self.0 = Some((p.clone(), value.span.start));
            }
            ControlFlow::Continue(())
        }
    }
    let mut first = First(None);
    let _ = statement.visit(&mut first);
    first.0
}

/// Check what `node` holds below the current scope: each outermost subquery as a scope whose
/// parent is `scope`, and each function call outside them.
pub(super) fn nested<N: Visit>(checker: &mut Checker<'_>, node: &N, scope: Option<usize>) {
    struct Nested<'c, 'g> {
        checker: &'c mut Checker<'g>,
        scope: Option<usize>,
        depth: usize,
    }
    impl Visitor for Nested<'_, '_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if self.depth == 0 {
                self.checker.query(query, self.scope);
            }
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if self.depth == 0
                && let Expr::Function(f) = expr
            {
                let offset = self.checker.offset(expr.span());
                scalar_function(self.checker, &f.name, offset);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut Nested { checker, scope, depth: 0 });
}

/// A function's name as the lists hold it, or `None` for a name qualified by a user schema.
fn builtin_name(name: &ObjectName) -> Option<String> {
    let parts: Vec<String> = name.0.iter().map(|p| p.as_ident().map(ident_name)).collect::<Option<_>>()?;
    match parts.as_slice() {
        [f] => Some(f.clone()),
        [schema, f] if schema == "pg_catalog" => Some(f.clone()),
        _ => None,
    }
}

fn allowed(checker: &Checker<'_>, name: &ObjectName, list: &[&str]) -> bool {
    let full = name.0.iter().filter_map(ObjectNamePart::as_ident).map(ident_name).collect::<Vec<_>>().join(".");
    checker.guard.tenancy.allows_function(&full) || builtin_name(name).is_some_and(|f| list.contains(&f.as_str()))
}

fn scalar_function(checker: &mut Checker<'_>, name: &ObjectName, offset: usize) {
    if !allowed(checker, name, SAFE) && !allowed(checker, name, SAFE_IN_FROM) {
        let message = format!(
            "`{name}` is not a function the guard knows to leave other tenants' rows alone; if it only computes on its arguments, add it to `[functions] allow` in the tenancy map"
        );
        checker.refuse(Rule::Function, "", message, offset);
    }
}

pub(super) fn table_function(checker: &mut Checker<'_>, name: &ObjectName, offset: usize) {
    if !allowed(checker, name, SAFE_IN_FROM) {
        let message = format!(
            "`{name}` in FROM is not a set-returning function the guard knows; if it only makes rows from its arguments, add it to `[functions] allow` in the tenancy map"
        );
        checker.refuse(Rule::Function, "", message, offset);
    }
}
