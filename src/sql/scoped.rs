//! Statements run for one tenant: each through the guard with the tenant bound first, writes
//! atomic, and dry runs (the default) inside a transaction that is rolled back.

use super::db::{self, Database, Rows, Transaction, Value};
use super::dialect::Dialect;
use super::guard::{Guard, Reason, Verdict};

/// Whether writes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run inside a transaction and roll it back, reporting what would have changed.
    DryRun,
    Execute,
}

/// One statement of a runbook with its own parameters (the tenant is bound before them).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub sql: String,
    pub params: Vec<Value>,
}

/// What one statement did (or, in a dry run, would have done).
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub sql: String,
    /// Rows changed by a write; rows returned by a read.
    pub rows_affected: u64,
    /// Rows returned: a read's result, or a sample of a write's changed rows where the database
    /// can return them (RETURNING on PostgreSQL, SQLite and MariaDB deletes/inserts).
    pub rows: Option<Rows>,
    pub writes: bool,
}

/// A runbook's transaction, dry or executed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub mode: Mode,
    pub committed: bool,
    pub steps: Vec<StepResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A statement failed the guard: nothing ran.
    #[error("{}", refused_message(*.step, .sql, .params, .reasons))]
    Refused { step: usize, sql: String, params: Vec<Value>, reasons: Vec<Reason> },
    #[error("step {step} cannot be dry-run: {why}\n  statement: {sql}\nnothing ran")]
    NotUndoable { step: usize, sql: String, why: String },
    #[error("step {step} failed, and the transaction was rolled back: nothing was committed\n  {source}")]
    Failed { step: usize, source: db::Error },
    #[error("{0}")]
    Db(#[from] db::Error),
    #[error("`{sql}` writes: run writes with execute() or sql::atomic(), which dry-run them by default")]
    WriteInQuery { sql: String },
}

fn refused_message(step: usize, sql: &str, params: &[Value], reasons: &[Reason]) -> String {
    let mut out = format!("step {step} refused by the tenant guard; nothing ran\n  statement: {sql}");
    if !params.is_empty() {
        let shown: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        out.push_str(&format!("\n  parameters after the tenant: [{}]", shown.join(", ")));
    }
    for r in reasons {
        out.push_str(&format!("\n  [{}] at byte {}: {}", r.rule, r.offset, r.message));
    }
    out
}

/// Rows kept as a sample of what a write changed.
pub const SAMPLE_ROWS: usize = 5;

/// A database handle bound to one tenant.
#[derive(Clone)]
pub struct Scoped {
    db: Database,
    guard: Guard,
    tenant: Value,
}

impl Scoped {
    /// `guard` must use the dialect's default tenant parameter, which is where the tenant is bound.
    pub fn new(db: Database, guard: Guard, tenant: Value) -> Scoped {
        let guard = guard.for_tenant(&tenant);
        Scoped { db, guard, tenant }
    }

    pub fn tenant(&self) -> &Value {
        &self.tenant
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The parameters a statement runs with: the tenant first, when the statement takes it.
    fn bound(&self, verdict: &Verdict, params: &[Value]) -> Vec<Value> {
        let tenant = verdict.binds_tenant.then(|| self.tenant.clone());
        tenant.into_iter().chain(params.iter().cloned()).collect()
    }

    /// Check every step before anything runs.
    pub fn check(&self, steps: &[Step]) -> Result<Vec<Verdict>, Error> {
        let mut verdicts = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let verdict = self.guard.check(&step.sql);
            if !verdict.allowed() {
                return Err(Error::Refused {
                    step: i + 1,
                    sql: step.sql.clone(),
                    params: step.params.clone(),
                    reasons: verdict.reasons,
                });
            }
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    /// A read for the tenant.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, Error> {
        let step = Step { sql: sql.to_string(), params: params.to_vec() };
        let verdict = self.check(std::slice::from_ref(&step))?.remove(0);
        if !verdict.writes.is_empty() {
            return Err(Error::WriteInQuery { sql: sql.to_string() });
        }
        Ok(self.db.fetch(sql, &self.bound(&verdict, params)).await?)
    }

    /// Run steps in one transaction: all of them, or (on any failure) none. A dry run rolls back.
    pub async fn atomic(&self, steps: &[Step], mode: Mode) -> Result<Outcome, Error> {
        let verdicts = self.check(steps)?;
        if mode == Mode::DryRun {
            for (i, verdict) in verdicts.iter().enumerate() {
                if let Some(why) = self.not_undoable(verdict).await? {
                    return Err(Error::NotUndoable { step: i + 1, sql: verdict.sql.clone(), why });
                }
            }
        }
        let mut tx = self.db.begin().await?;
        let mut results = Vec::with_capacity(steps.len());
        let run = async {
            set_lock_timeout(&mut tx, self.db.dialect()).await?;
            for (step, verdict) in steps.iter().zip(&verdicts) {
                results.push(self.run_step(&mut tx, step, verdict, mode).await?);
            }
            Ok::<(), db::Error>(())
        }
        .await;
        if let Err(source) = run {
            // A lost connection has rolled back already; a failed rollback changes nothing here.
            let _ = tx.rollback().await;
            return Err(Error::Failed { step: results.len() + 1, source });
        }
        let committed = match mode {
            Mode::Execute => {
                tx.commit().await.map_err(|source| Error::Failed { step: steps.len(), source })?;
                true
            }
            Mode::DryRun => {
                tx.rollback().await?;
                false
            }
        };
        Ok(Outcome { mode, committed, steps: results })
    }

    async fn run_step(
        &self,
        tx: &mut Transaction,
        step: &Step,
        verdict: &Verdict,
        mode: Mode,
    ) -> Result<StepResult, db::Error> {
        let params = self.bound(verdict, &step.params);
        let writes = !verdict.writes.is_empty();
        let returning = writes && mode == Mode::DryRun && self.can_return(verdict);
        let (rows_affected, rows) = if !writes {
            let rows = tx.fetch(&step.sql, &params).await?;
            (rows.rows.len() as u64, Some(rows))
        } else if returning {
            let mut rows = tx.fetch(&with_returning(&step.sql), &params).await?;
            let n = rows.rows.len() as u64;
            rows.rows.truncate(SAMPLE_ROWS);
            (n, Some(rows))
        } else {
            (tx.execute(&step.sql, &params).await?, None)
        };
        Ok(StepResult { sql: step.sql.clone(), rows_affected, rows, writes })
    }

    /// Whether the changed rows can be asked for with RETURNING.
    fn can_return(&self, verdict: &Verdict) -> bool {
        let upper = verdict.sql.to_ascii_uppercase();
        let plain_write = ["INSERT", "UPDATE", "DELETE"].iter().any(|k| upper.trim_start().starts_with(k));
        if !plain_write || upper.contains("RETURNING") {
            return false;
        }
        match self.db.dialect() {
            Dialect::Postgres | Dialect::Sqlite => true,
            // MariaDB returns rows from DELETE and INSERT, not from UPDATE; MySQL from neither.
            Dialect::Mysql => false,
        }
    }

    /// Why a write cannot be undone by a rollback, if it cannot.
    async fn not_undoable(&self, verdict: &Verdict) -> Result<Option<String>, db::Error> {
        for write in &verdict.writes {
            let Some(named) = &write.insert_columns else { continue };
            let counters = match self.db.dialect() {
                Dialect::Postgres => {
                    let sql = "SELECT column_name::text FROM information_schema.columns \
                               WHERE table_schema = COALESCE($2, current_schema()) AND table_name = $1 \
                               AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')";
                    self.db.fetch(sql, &[Value::from(write.table.clone()), Value::from(write.schema.clone())]).await?
                }
                Dialect::Mysql => {
                    let sql = "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                               WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
                               AND extra LIKE '%auto_increment%'";
                    self.db.fetch(sql, &[Value::from(write.schema.clone()), Value::from(write.table.clone())]).await?
                }
                // SQLite keeps AUTOINCREMENT counters in a table, so a rollback restores them.
                Dialect::Sqlite => Rows::default(),
            };
            for row in &counters.rows {
                let column = row[0].as_str().unwrap_or_default();
                let mysql = self.db.dialect() == Dialect::Mysql;
                if mysql || !named.iter().any(|n| n == column) {
                    let counter = if mysql { "AUTO_INCREMENT counter" } else { "sequence" };
                    return Ok(Some(format!(
                        "inserting into `{}` advances the {counter} of `{column}`, and a rollback does not undo that; \
                         run it with --execute once the statement is right, or give `{column}` explicitly{}",
                        write.table,
                        if mysql { " (MySQL advances the counter even then)" } else { "" }
                    )));
                }
            }
        }
        Ok(None)
    }
}

/// The statement with `RETURNING *` after it, past any trailing `;` (on its own line, so a
/// trailing `--` comment cannot swallow it).
fn with_returning(sql: &str) -> String {
    let trimmed = sql.trim_end().trim_end_matches(';').trim_end();
    format!("{trimmed}\nRETURNING *")
}

/// Dry runs and runbooks wait at most a few seconds for a lock instead of queueing behind traffic.
async fn set_lock_timeout(tx: &mut Transaction, dialect: Dialect) -> Result<(), db::Error> {
    match dialect {
        Dialect::Postgres => tx.execute("SET LOCAL lock_timeout = '5s'", &[]).await.map(drop),
        Dialect::Mysql => tx.execute("SET SESSION innodb_lock_wait_timeout = 5", &[]).await.map(drop),
        // The connection's busy timeout (5 s) applies.
        Dialect::Sqlite => Ok(()),
    }
}
