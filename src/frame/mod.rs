//! `Frame`: a Polars DataFrame with the operations the shell exposes, plain Rust.
//!
//! Expressions (filters, computed columns, aggregations) are SQL fragments parsed by polars-sql,
//! so `"mb > 10 AND tenant = 'acme'"` or `"sum(mb) AS total"` work as a SQL user would expect.

mod build;
mod columns;
mod display;
mod io;
mod ops;
mod timeseries;

pub use display::{RenderOptions, render};
pub use ops::{GroupBy, JoinKind};

use polars::prelude::DataFrame;
use std::path::PathBuf;

/// A table of named, typed columns.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    df: DataFrame,
}

/// What went wrong with a Frame operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no column named {name:?}; the columns are {available}")]
    NoColumn { name: String, available: String },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("cannot {action} {path}: {message}")]
    File { action: &'static str, path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn invalid(what: impl Into<String>, message: impl ToString) -> Self {
        Error::Invalid { what: what.into(), message: message.to_string() }
    }
}

impl Frame {
    pub fn from_polars(df: DataFrame) -> Frame {
        Frame { df }
    }

    pub fn polars(&self) -> &DataFrame {
        &self.df
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.df.width()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.df.get_column_names().into_iter().map(|n| n.to_string()).collect()
    }

    /// `(name, type)` of each column, types as Polars names them.
    pub fn schema(&self) -> Vec<(String, String)> {
        self.df.columns().iter().map(|c| (c.name().to_string(), c.dtype().to_string())).collect()
    }

    fn column(&self, name: &str) -> Result<&polars::prelude::Column, Error> {
        self.df.column(name).map_err(|_| Error::NoColumn { name: name.to_string(), available: self.column_list() })
    }

    fn column_list(&self) -> String {
        let names = self.column_names();
        if names.is_empty() {
            "none (the frame is empty)".to_string()
        } else {
            names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
        }
    }
}
