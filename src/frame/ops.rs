//! Table operations. Each takes SQL fragments where an expression is needed.

use super::{Error, Frame};
use polars::prelude::*;

/// Parse a SQL expression, naming the operation and the text in any error.
fn expr(op: &str, text: &str) -> Result<Expr, Error> {
    polars::sql::sql_expr(text).map_err(|e| Error::invalid(format!("{op} {text:?}"), clean(&e)))
}

/// Polars errors carry a kind prefix and sometimes a backtrace hint; keep the sentence.
fn clean(err: &PolarsError) -> String {
    let text = err.to_string();
    let text = text.split("\n\nResolved plan").next().unwrap_or(&text);
    text.trim().to_string()
}

impl Frame {
    fn collect(&self, op: &str, plan: LazyFrame) -> Result<Frame, Error> {
        plan.collect().map(Frame::from_polars).map_err(|e| Error::invalid(op, self.explain(&e)))
    }

    /// Turn Polars' "not found" errors into ours, which list the columns.
    fn explain(&self, err: &PolarsError) -> String {
        match err {
            PolarsError::ColumnNotFound(name) => {
                format!(
                    "no column named {}; the columns are {}",
                    name.to_string().trim_matches('"'),
                    self.column_list()
                )
            }
            other => clean(other),
        }
    }

    /// Rows where the SQL predicate is true.
    pub fn filter(&self, predicate: &str) -> Result<Frame, Error> {
        let op = format!("filter {predicate:?}");
        let plan = self.df.clone().lazy().filter(expr("filter", predicate)?);
        if self.df.height() > 0 {
            return self.collect(&op, plan);
        }
        // No rows: the columns of an empty result have no type yet (null), and a predicate
        // over them cannot be typed. Filtering no rows gives no rows; only a missing column is
        // still an error, since it would be one with rows too.
        match plan.collect() {
            Ok(df) => Ok(Frame::from_polars(df)),
            Err(e @ PolarsError::ColumnNotFound(_)) => Err(Error::invalid(op, self.explain(&e))),
            Err(_) => Ok(self.clone()),
        }
    }

    /// Columns or SQL expressions (`"mb / 1024 AS gb"`), in the order given.
    pub fn select(&self, items: &[String]) -> Result<Frame, Error> {
        // A column's own name is taken as is, even when it is an SQL keyword (`table`, `offset`).
        let names = self.column_names();
        let exprs = items
            .iter()
            .map(|i| if names.contains(i) { Ok(col(i.as_str())) } else { expr("select", i) })
            .collect::<Result<Vec<_>, _>>()?;
        self.collect("select", self.df.clone().lazy().select(exprs))
    }

    /// Add or replace column `name` with the value of a SQL expression.
    pub fn with_column(&self, name: &str, expression: &str) -> Result<Frame, Error> {
        let e = expr("with_column", expression)?.alias(name);
        self.collect(&format!("with_column {name:?}"), self.df.clone().lazy().with_column(e))
    }

    /// Sorted by the given columns; `descending` applies to all of them. Ties keep their order.
    pub fn sort(&self, by: &[String], descending: bool) -> Result<Frame, Error> {
        for name in by {
            self.column(name)?;
        }
        let options = SortMultipleOptions::default()
            .with_order_descending(descending)
            .with_nulls_last(true)
            .with_maintain_order(true);
        let names: Vec<PlSmallStr> = by.iter().map(|s| PlSmallStr::from(s.as_str())).collect();
        self.collect("sort", self.df.clone().lazy().sort(names, options))
    }

    /// The first `n` rows.
    pub fn head(&self, n: usize) -> Frame {
        Frame::from_polars(self.df.head(Some(n)))
    }

    /// The last `n` rows.
    pub fn tail(&self, n: usize) -> Frame {
        Frame::from_polars(self.df.tail(Some(n)))
    }

    /// Group rows by key columns; aggregate with [`GroupBy::agg`].
    pub fn group_by(&self, keys: &[String]) -> Result<GroupBy, Error> {
        if keys.is_empty() {
            return Err(Error::invalid("group_by", "name at least one key column"));
        }
        for key in keys {
            self.column(key)?;
        }
        Ok(GroupBy { frame: self.clone(), keys: keys.to_vec() })
    }

    /// Join with `other` on columns both frames share by name. Rows keep the left frame's order
    /// (the right frame's for right joins).
    pub fn join(&self, other: &Frame, on: &[String], how: JoinKind) -> Result<Frame, Error> {
        if on.is_empty() {
            return Err(Error::invalid("join", "name at least one column to join on"));
        }
        for name in on {
            self.column(name)?;
            other.column(name).map_err(|_| Error::NoColumn {
                name: format!("{name} (in the right-hand frame)"),
                available: other.column_list(),
            })?;
        }
        let keys: Vec<Expr> = on.iter().map(|n| col(n.as_str())).collect();
        let mut args = JoinArgs::new(how.polars()).with_coalesce(JoinCoalesce::CoalesceColumns);
        // Results must be reproducible run to run: the log hashes them.
        args.maintain_order = match how {
            JoinKind::Right => MaintainOrderJoin::RightLeft,
            _ => MaintainOrderJoin::LeftRight,
        };
        let plan = self.df.clone().lazy().join(other.df.clone().lazy(), &keys, &keys, args);
        self.collect("join", plan)
    }

    /// Summary statistics of every column: count, nulls, mean, std, min, median, max.
    pub fn describe(&self) -> Result<Frame, Error> {
        const STATS: [&str; 7] = ["count", "null_count", "mean", "std", "min", "median", "max"];
        let mut rows: Vec<serde_json::Value> = Vec::new();
        for (name, dtype) in self.df.columns().iter().map(|c| (c.name().to_string(), c.dtype().clone())) {
            let c = || col(name.as_str());
            let numeric = dtype.is_primitive_numeric() || dtype.is_bool();
            let mut exprs = vec![c().count().cast(DataType::Float64), c().null_count().cast(DataType::Float64)];
            if numeric {
                let f = || c().cast(DataType::Float64);
                exprs.extend([f().mean(), f().std(1), f().min(), f().median(), f().max()]);
            }
            let exprs: Vec<Expr> = exprs.into_iter().zip(STATS).map(|(e, name)| e.alias(name)).collect();
            let stats = self.collect("describe", self.df.clone().lazy().select(exprs))?;
            let mut row = serde_json::Map::new();
            row.insert("column".into(), name.clone().into());
            row.insert("type".into(), dtype.to_string().into());
            for (i, stat) in STATS.iter().enumerate() {
                let value = stats
                    .df
                    .columns()
                    .get(i)
                    .and_then(|col| col.get(0).ok())
                    .map(|v| super::build::any_to_json(&v))
                    .unwrap_or(serde_json::Value::Null);
                row.insert((*stat).into(), value);
            }
            rows.push(serde_json::Value::Object(row));
        }
        Frame::from_records(&rows)
    }
}

/// Rows grouped by key columns, waiting for aggregations.
#[derive(Clone, Debug)]
pub struct GroupBy {
    frame: Frame,
    keys: Vec<String>,
}

impl GroupBy {
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// One row per group (in order of first appearance) with the key columns and one column per
    /// SQL aggregate, e.g. `"sum(mb) AS total_mb"`, `"count(*) AS n"`.
    pub fn agg(&self, aggregates: &[String]) -> Result<Frame, Error> {
        if aggregates.is_empty() {
            return Err(Error::invalid("agg", "give at least one aggregate, e.g. \"count(*) AS n\""));
        }
        let exprs = aggregates.iter().map(|a| expr("agg", a)).collect::<Result<Vec<_>, _>>()?;
        let keys: Vec<Expr> = self.keys.iter().map(|k| col(k.as_str())).collect();
        let plan = self.frame.df.clone().lazy().group_by_stable(keys).agg(exprs);
        self.frame.collect("agg", plan)
    }
}

/// Which rows a join keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

impl JoinKind {
    pub const NAMES: &'static str = "\"inner\", \"left\", \"right\" or \"full\"";

    pub fn parse(text: &str) -> Result<JoinKind, Error> {
        match text.to_ascii_lowercase().as_str() {
            "inner" => Ok(JoinKind::Inner),
            "left" => Ok(JoinKind::Left),
            "right" => Ok(JoinKind::Right),
            "full" | "outer" => Ok(JoinKind::Full),
            _ => Err(Error::invalid(format!("join kind {text:?}"), format!("use {}", Self::NAMES))),
        }
    }

    fn polars(self) -> JoinType {
        match self {
            JoinKind::Inner => JoinType::Inner,
            JoinKind::Left => JoinType::Left,
            JoinKind::Right => JoinType::Right,
            JoinKind::Full => JoinType::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usage() -> Frame {
        Frame::from_records(&[
            json!({"tenant": "acme", "mb": 10}),
            json!({"tenant": "beta", "mb": 30}),
            json!({"tenant": "acme", "mb": 5}),
        ])
        .unwrap()
    }

    #[test]
    fn filter_select_sort() {
        let f = usage().filter("mb >= 10 AND tenant <> 'zeta'").unwrap();
        assert_eq!(f.height(), 2);
        let s =
            usage().sort(&["mb".into()], true).unwrap().select(&["tenant".into(), "mb * 2 AS double".into()]).unwrap();
        assert_eq!(s.to_records()[0], json!({"tenant": "beta", "double": 60}));
    }

    #[test]
    fn filters_of_an_empty_result_are_empty_not_type_errors() {
        let empty = Frame::from_records_as(&[], &["tenant", "affected", "score"]).unwrap();
        for predicate in ["affected", "score > 50", "affected AND tenant = 'x'", "NOT affected"] {
            let f = empty.filter(predicate).unwrap_or_else(|e| panic!("{predicate}: {e}"));
            assert_eq!((f.height(), f.column_names().len()), (0, 3), "{predicate}");
        }
        assert!(empty.filter("nope > 1").unwrap_err().to_string().contains("no column named"));
        // Nulls among rows count as false, as in SQL.
        let some = Frame::from_records(&[json!({"a": true}), json!({"a": null}), json!({"a": false})]).unwrap();
        assert_eq!(some.filter("a").unwrap().height(), 1);
    }

    #[test]
    fn group_by_agg_keeps_first_seen_order() {
        let g = usage().group_by(&["tenant".into()]).unwrap();
        let out = g.agg(&["sum(mb) AS total".into(), "count(*) AS n".into()]).unwrap();
        assert_eq!(
            out.to_records(),
            vec![json!({"tenant": "acme", "total": 15, "n": 2}), json!({"tenant": "beta", "total": 30, "n": 1})]
        );
    }

    #[test]
    fn unknown_columns_are_named() {
        let err = usage().filter("gb > 1").unwrap_err().to_string();
        assert!(err.contains("gb") && err.contains("\"tenant\", \"mb\""), "{err}");
        let err = usage().sort(&["nope".into()], false).unwrap_err().to_string();
        assert_eq!(err, "no column named \"nope\"; the columns are \"tenant\", \"mb\"");
    }

    #[test]
    fn join_on_shared_column() {
        let owners = Frame::from_records(&[json!({"tenant": "acme", "team": "red"})]).unwrap();
        let joined = usage().join(&owners, &["tenant".into()], JoinKind::Left).unwrap();
        assert_eq!(joined.to_records()[1], json!({"tenant": "beta", "mb": 30, "team": null}));
    }

    #[test]
    fn describe_reports_numeric_stats() {
        let d = usage().describe().unwrap();
        let mb = &d.to_records()[1];
        assert_eq!(mb["column"], json!("mb"));
        assert_eq!(mb["mean"], json!(15.0));
        assert_eq!(mb["max"], json!(30.0));
    }
}
