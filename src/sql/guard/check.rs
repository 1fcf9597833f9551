//! Scopes and bindings: walking queries, and deciding which tenant tables are scoped.

use std::collections::HashMap;

use sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Spanned,
    Statement, TableFactor, TableWithJoins,
};
use sqlparser::tokenizer::{Location, Span};

use super::terms::{Anchor, Classes, Eqs, Term};
use super::{Guard, Reason, Rule, byte_offset, functions, write};
use crate::sql::tenancy::{Kind, Table};

/// A table, CTE or subquery as a query names it.
pub(super) struct Binding<'g> {
    /// The name it is referred to by: its alias, or the table's own name.
    pub(super) name: String,
    /// The schema it was qualified with, when it has no alias.
    pub(super) schema: Option<String>,
    /// For a table: its own name and schema, whatever the alias.
    pub(super) source: Option<(Option<String>, String)>,
    /// The tenancy map's table; `None` for CTEs, subqueries, functions and unknown tables.
    pub(super) table: Option<&'g Table>,
    pub(super) offset: usize,
}

#[derive(Default)]
pub(super) struct Scope {
    pub(super) parent: Option<usize>,
    pub(super) bindings: Vec<usize>,
    /// Once analysed: what each column of its bindings is known to be, for correlated references.
    pub(super) anchors: HashMap<(usize, String), Anchor>,
}

/// A condition and the bindings whose rows it filters.
pub(super) struct Pred {
    pub(super) eqs: Eqs,
    pub(super) applies: Vec<usize>,
    /// Bindings an outer join keeps whatever the condition says.
    pub(super) preserved: Vec<usize>,
}

/// A condition that mentions a tenant key without restricting it.
pub(super) struct NearMiss {
    pub(super) binding: usize,
    pub(super) rule: Rule,
    pub(super) offset: usize,
    pub(super) detail: String,
}

pub(super) struct Checker<'g> {
    pub(super) guard: &'g Guard,
    pub(super) sql: &'g str,
    pub(super) bindings: Vec<Binding<'g>>,
    pub(super) scopes: Vec<Scope>,
    /// CTE names visible where the walk is.
    pub(super) ctes: Vec<String>,
    pub(super) reasons: Vec<Reason>,
    pub(super) writes: Vec<super::Write>,
    pub(super) near: Vec<NearMiss>,
    /// The first placeholder in the statement, for positional tenants.
    pub(super) first_placeholder: Option<(String, Location)>,
    pub(super) opaque: usize,
    /// Above zero while a subquery is walked only to learn what it returns.
    pub(super) probing: usize,
    /// A table whose rows are tied to the tenant by a key is in the statement.
    pub(super) needs_tenant: bool,
}

/// Per-binding result of a scope's analysis.
pub(super) struct Analysis {
    pub(super) classes: HashMap<usize, Classes>,
    pub(super) scoped: Vec<usize>,
}

impl<'g> Checker<'g> {
    pub(super) fn new(guard: &'g Guard, sql: &'g str) -> Checker<'g> {
        Checker {
            guard,
            sql,
            bindings: Vec::new(),
            scopes: Vec::new(),
            ctes: Vec::new(),
            reasons: Vec::new(),
            writes: Vec::new(),
            near: Vec::new(),
            first_placeholder: None,
            opaque: 0,
            probing: 0,
            needs_tenant: false,
        }
    }

    /// The refusals, the writes, and whether the tenant is bound (see `Verdict::binds_tenant`).
    pub(super) fn run(mut self, statement: &Statement) -> (Vec<Reason>, Vec<super::Write>, bool) {
        self.first_placeholder = functions::first_placeholder(statement);
        self.statement(statement, None);
        self.reasons.sort_by_key(|r| r.offset);
        self.reasons.dedup();
        let binds_tenant = self.first_placeholder.is_some() && (self.guard.param() != "?" || self.needs_tenant);
        (self.reasons, self.writes, binds_tenant)
    }

    /// Record a write to `table`, named `name` in `schema` (an owned table stands for its schema).
    pub(super) fn wrote(
        &mut self,
        table: Option<&Table>,
        source: Option<(Option<String>, String)>,
        insert_columns: Option<Vec<String>>,
    ) {
        if let Some(table) = table
            && self.probing == 0
        {
            let (schema, name) = match (&table.kind, source) {
                (Kind::Owned, Some((schema, name))) => (schema, name),
                (_, source) => (source.and_then(|s| s.0), table.name.clone()),
            };
            self.writes.push(super::Write { table: name, schema, insert_columns });
        }
    }

    /// The table a name refers to; a tenant schema out of reach is refused here.
    pub(super) fn resolve(&mut self, schema: Option<&str>, name: &str, offset: usize) -> Result<Option<&'g Table>, ()> {
        match self.guard.table(schema, name) {
            Ok(table) => {
                self.needs_tenant |= table.is_some_and(|t| !t.is_global() && t.kind != Kind::Owned);
                Ok(table)
            }
            Err(message) => {
                let shown = schema.map_or(name.to_string(), |s| format!("{s}.{name}"));
                self.refuse(Rule::TenantSchema, &shown, message, offset);
                Err(())
            }
        }
    }

    #[recursive::recursive]
    pub(super) fn statement(&mut self, statement: &Statement, parent: Option<usize>) {
        match statement {
            Statement::Query(q) => {
                self.query(q, parent);
            }
            Statement::Insert(i) => write::insert(self, i, parent),
            Statement::Update(u) => write::update(self, u, parent),
            Statement::Delete(d) => write::delete(self, d, parent),
            other => {
                let kind: String = other.to_string().split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                self.refuse(
                    Rule::StatementKind,
                    "",
                    format!("`{kind} ...` is not a query or a row write; the guard only lets SELECT, INSERT, UPDATE and DELETE through"),
                    self.offset(other.span()),
                );
            }
        }
    }

    pub(super) fn refuse(&mut self, rule: Rule, table: &str, message: String, offset: usize) {
        if self.probing == 0 {
            self.reasons.push(Reason { rule, table: table.to_string(), message, offset });
        }
    }

    pub(super) fn offset(&self, span: Span) -> usize {
        byte_offset(self.sql, span.start)
    }

    pub(super) fn new_scope(&mut self, parent: Option<usize>) -> usize {
        self.scopes.push(Scope { parent, ..Scope::default() });
        self.scopes.len() - 1
    }

    /// Walk a query; returns what each output column is known to be, when the columns are known.
    #[recursive::recursive]
    pub(super) fn query(&mut self, q: &Query, parent: Option<usize>) -> Option<Vec<Option<Anchor>>> {
        if !q.pipe_operators.is_empty() || q.for_clause.is_some() || q.settings.is_some() || q.format_clause.is_some() {
            self.refuse(Rule::Unsupported, "", "query clauses of another dialect".into(), self.offset(q.span()));
        }
        let depth = self.ctes.len();
        if let Some(with) = &q.with {
            for (i, cte) in with.cte_tables.iter().enumerate() {
                let name = ident_name(&cte.alias.name);
                // Under RECURSIVE a CTE names itself only in the recursive term of a UNION: a
                // body that is no UNION reads whatever else bears the name, so it is checked
                // as a read of the real table. Later CTEs of the list are visible too.
                let own = with.recursive && matches!(*cte.query.body, SetExpr::SetOperation { .. });
                let depth_before = self.ctes.len();
                if with.recursive {
                    let later = with.cte_tables[i + 1..].iter().map(|c| ident_name(&c.alias.name));
                    self.ctes.extend(later);
                }
                if own {
                    self.ctes.push(name.clone());
                }
                self.query(&cte.query, parent);
                self.ctes.truncate(depth_before);
                self.ctes.push(name);
            }
        }
        let anchors = self.set_expr(&q.body, parent);
        if let Some(order_by) = &q.order_by {
            functions::nested(self, order_by, parent);
        }
        if let Some(limit) = &q.limit_clause {
            functions::nested(self, limit, parent);
        }
        self.ctes.truncate(depth);
        anchors
    }

    #[recursive::recursive]
    fn set_expr(&mut self, body: &SetExpr, parent: Option<usize>) -> Option<Vec<Option<Anchor>>> {
        match body {
            SetExpr::Select(s) => self.select(s, parent),
            SetExpr::Query(q) => self.query(q, parent),
            SetExpr::SetOperation { left, right, .. } => {
                let (l, r) = (self.set_expr(left, parent), self.set_expr(right, parent));
                let (l, r) = (l?, r?);
                Some(l.into_iter().zip(r).map(|(a, b)| if a == b { a } else { None }).collect())
            }
            SetExpr::Values(values) => {
                functions::nested(self, values, parent);
                let scope = self.new_scope(parent);
                let mut anchors: Option<Vec<Option<Anchor>>> = None;
                for row in &values.rows {
                    let row: Vec<Option<Anchor>> = row.content.iter().map(|e| self.value_anchor(e, scope)).collect();
                    anchors = Some(match anchors {
                        None => row,
                        Some(a) => a.into_iter().zip(row).map(|(a, b)| if a == b { a } else { None }).collect(),
                    });
                }
                anchors
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
                self.statement(s, parent);
                None
            }
            SetExpr::Table(t) => {
                let name = t.table_name.clone().unwrap_or_default().to_lowercase();
                let schema = t.schema_name.as_deref().map(str::to_lowercase);
                let offset = self.offset(body.span());
                match self.resolve(schema.as_deref(), &name, offset) {
                    Err(()) => {}
                    Ok(Some(table)) if table.is_global() || table.kind == Kind::Owned => {}
                    Ok(Some(_)) => self.refuse(
                        Rule::Unscoped,
                        &name,
                        format!(
                            "`TABLE {name}` reads every tenant's rows; select with `WHERE ... = {}`",
                            self.guard.param()
                        ),
                        self.offset(body.span()),
                    ),
                    Ok(None) => self.unknown_table(&name, offset),
                }
                None
            }
            other => {
                self.refuse(
                    Rule::Unsupported,
                    "",
                    "a MERGE or other statement inside a query".into(),
                    self.offset(other.span()),
                );
                None
            }
        }
    }

    #[recursive::recursive]
    fn select(&mut self, s: &Select, parent: Option<usize>) -> Option<Vec<Option<Anchor>>> {
        if s.into.is_some() {
            self.refuse(
                Rule::StatementKind,
                "",
                "SELECT ... INTO creates a table; the guard lets no DDL through".into(),
                self.offset(s.span()),
            );
        }
        if !s.lateral_views.is_empty() || !s.connect_by.is_empty() || s.prewhere.is_some() {
            self.refuse(Rule::Unsupported, "", "SELECT clauses of another dialect".into(), self.offset(s.span()));
        }
        let scope = self.new_scope(parent);
        let mut preds = Vec::new();
        for item in &s.from {
            self.bind_from(item, scope, &mut preds);
        }
        if let Some(selection) = &s.selection {
            let applies = self.scopes[scope].bindings.clone();
            let eqs = self.eqs(selection, scope);
            preds.push(Pred { eqs, applies, preserved: Vec::new() });
        }
        let analysis = self.analyse(scope, &preds);
        functions::nested(self, s, Some(scope));
        let mut anchors = Vec::new();
        for item in &s.projection {
            let expr = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return None,
            };
            let term = self.term(expr, scope);
            anchors.push(self.anchor_in(&analysis, &term));
        }
        Some(anchors)
    }

    /// Add the bindings of one FROM item to `scope`, and its join conditions to `preds`.
    pub(super) fn bind_from(&mut self, item: &TableWithJoins, scope: usize, preds: &mut Vec<Pred>) -> Vec<usize> {
        let mut left = self.factor(&item.relation, scope, preds);
        for join in &item.joins {
            let right = self.factor(&join.relation, scope, preds);
            let both: Vec<usize> = left.iter().chain(&right).copied().collect();
            let (constraint, applies, preserved) = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::CrossJoin(c)
                | JoinOperator::StraightJoin(c) => (c, both.clone(), Vec::new()),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (c, right.clone(), left.clone()),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (c, left.clone(), right.clone()),
                JoinOperator::FullOuter(c) => (c, Vec::new(), both.clone()),
                _ => {
                    self.refuse(
                        Rule::Unsupported,
                        "",
                        "a join of another dialect".into(),
                        self.offset(join.relation.span()),
                    );
                    left = both;
                    continue;
                }
            };
            let eqs = match constraint {
                JoinConstraint::On(e) => self.eqs(e, scope),
                JoinConstraint::Using(columns) => self.using_eqs(columns, &left, &right),
                JoinConstraint::Natural | JoinConstraint::None => Vec::new(),
            };
            preds.push(Pred { eqs, applies, preserved });
            left = both;
        }
        left
    }

    fn using_eqs(&mut self, columns: &[ObjectName], left: &[usize], right: &[usize]) -> Eqs {
        let mut eqs = Vec::new();
        for column in columns {
            let Some(name) = column.0.last().and_then(ObjectNamePart::as_ident).map(ident_name) else { continue };
            let side = |c: &Self, side: &[usize]| -> Option<usize> {
                let known: Vec<usize> = side.iter().copied().filter(|&b| c.has_column(b, &name)).collect();
                match (known.as_slice(), side) {
                    ([one], _) | ([], [one]) => Some(*one),
                    _ => None,
                }
            };
            if let (Some(l), Some(r)) = (side(self, left), side(self, right)) {
                eqs.push((Term::Col(l, name.clone()), Term::Col(r, name)));
            }
        }
        eqs
    }

    fn factor(&mut self, factor: &TableFactor, scope: usize, preds: &mut Vec<Pred>) -> Vec<usize> {
        let offset = self.offset(factor.span());
        let alias_name = |alias: &Option<sqlparser::ast::TableAlias>| alias.as_ref().map(|a| ident_name(&a.name));
        match factor {
            TableFactor::Table { name, alias, args, version, .. } => {
                if args.is_some() {
                    functions::table_function(self, name, offset);
                    return vec![self.bind(scope, alias_name(alias).unwrap_or_default(), None, None, offset)];
                }
                if version.is_some() {
                    self.refuse(Rule::Unsupported, "", "time-travel table versions".into(), offset);
                }
                let parts: Option<Vec<String>> = name.0.iter().map(|p| p.as_ident().map(ident_name)).collect();
                let Some(parts) = parts.filter(|p| (1..=2).contains(&p.len())) else {
                    self.refuse(Rule::Unsupported, &name.to_string(), format!("the table name `{name}`"), offset);
                    return Vec::new();
                };
                let (schema, table_name) = match parts.as_slice() {
                    [t] => (None, t.clone()),
                    [s, t] => (Some(s.clone()), t.clone()),
                    _ => unreachable!(),
                };
                let ref_name = alias_name(alias).unwrap_or_else(|| table_name.clone());
                let ref_schema = if alias.is_some() { None } else { schema.clone() };
                if schema.is_none() && self.ctes.contains(&table_name) {
                    return vec![self.bind(scope, ref_name, None, None, offset)];
                }
                let Ok(mut table) = self.resolve(schema.as_deref(), &table_name, offset) else {
                    return vec![self.bind(scope, ref_name, ref_schema, None, offset)];
                };
                if table.is_none() && self.guard.no_tenant && is_catalog(schema.as_deref(), &table_name) {
                    table = Some(&CATALOG);
                }
                if table.is_none() {
                    self.unknown_table(&name.to_string(), offset);
                }
                let b = self.bind(scope, ref_name, ref_schema, table, offset);
                self.bindings[b].source = Some((schema, table_name));
                vec![b]
            }
            TableFactor::Derived { alias, .. } | TableFactor::UNNEST { alias, .. } => {
                vec![self.bind(scope, alias_name(alias).unwrap_or_default(), None, None, offset)]
            }
            TableFactor::Function { name, alias, .. } => {
                functions::table_function(self, name, offset);
                vec![self.bind(scope, alias_name(alias).unwrap_or_default(), None, None, offset)]
            }
            TableFactor::TableFunction { expr: Expr::Function(f), alias } => {
                functions::table_function(self, &f.name, offset);
                vec![self.bind(scope, alias_name(alias).unwrap_or_default(), None, None, offset)]
            }
            TableFactor::NestedJoin { table_with_joins, alias: None } => self.bind_from(table_with_joins, scope, preds),
            other => {
                self.refuse(Rule::Unsupported, "", format!("the FROM item `{other}`"), offset);
                Vec::new()
            }
        }
    }

    pub(super) fn bind(
        &mut self,
        scope: usize,
        name: String,
        schema: Option<String>,
        table: Option<&'g Table>,
        offset: usize,
    ) -> usize {
        self.bindings.push(Binding { name, schema, source: None, table, offset });
        let id = self.bindings.len() - 1;
        self.scopes[scope].bindings.push(id);
        id
    }

    pub(super) fn unknown_table(&mut self, name: &str, offset: usize) {
        self.refuse(
            Rule::UnknownTable,
            name,
            format!("`{name}` is not in the tenancy map; declare it (key, root, global, via or partition_of) before a runbook uses it"),
            offset,
        );
    }

    /// Whether binding `b` is known to have `column`: its tenant column, or one other tables reference.
    pub(super) fn has_column(&self, b: usize, column: &str) -> bool {
        self.bindings[b]
            .table
            .is_some_and(|t| t.tenant_column() == Some(column) || self.guard.tenancy.is_referenced(&t.family, column))
    }

    /// Decide which tenant bindings of `scope` are scoped, refuse the others, and record what
    /// their columns are known to be.
    pub(super) fn analyse(&mut self, scope: usize, preds: &[Pred]) -> Analysis {
        let members = self.scopes[scope].bindings.clone();
        let mut scoped: Vec<usize> = Vec::new();
        let mut classes: HashMap<usize, Classes> = HashMap::new();
        loop {
            let mut changed = false;
            for &b in &members {
                if scoped.contains(&b) {
                    continue;
                }
                let mut c = Classes::from_eqs(preds.iter().filter(|p| p.applies.contains(&b)).flat_map(|p| &p.eqs));
                for &p in &scoped {
                    let Some(parent) = self.bindings[p].table else { continue };
                    for pred in preds.iter().filter(|pr| pr.applies.contains(&b)) {
                        for (x, y) in &pred.eqs {
                            for t in [x, y] {
                                if let Term::Col(pb, col) = t
                                    && *pb == p
                                    && self.guard.tenancy.is_referenced(&parent.family, col)
                                {
                                    c.union(t, &Term::Scoped(parent.family.clone(), col.clone()));
                                }
                            }
                        }
                    }
                }
                if self.satisfied(b, &c) {
                    scoped.push(b);
                    changed = true;
                }
                classes.insert(b, c);
            }
            if !changed {
                break;
            }
        }
        for &b in &members {
            let Some(table) = self.bindings[b].table else { continue };
            if table.is_global() || scoped.contains(&b) {
                continue;
            }
            self.refuse_unscoped(b, preds);
        }
        let mut anchors = HashMap::new();
        for (&b, c) in &classes {
            for (term, anchor) in c.anchored() {
                if let Term::Col(tb, col) = term
                    && tb == b
                {
                    anchors.insert((b, col), anchor);
                }
            }
        }
        for &b in &scoped {
            let Some(table) = self.bindings[b].table else { continue };
            for column in self.guard.tenancy.referenced_columns(&table.family) {
                anchors
                    .entry((b, column.clone()))
                    .or_insert_with(|| Anchor::Scoped(table.family.clone(), column.clone()));
            }
        }
        self.scopes[scope].anchors = anchors;
        Analysis { classes, scoped }
    }

    /// What `term` is known to be after a scope's analysis: for a column, under its binding's
    /// conditions; a referenced column of a scoped binding is a tenant's row's column.
    pub(super) fn anchor_in(&self, analysis: &Analysis, term: &Term) -> Option<Anchor> {
        let Term::Col(b, column) = term else { return Classes::default().anchor(term) };
        let known = analysis.classes.get(b).and_then(|c| c.anchor(term));
        if known == Some(Anchor::Tenant) {
            return known;
        }
        match self.bindings[*b].table {
            Some(t) if analysis.scoped.contains(b) && self.guard.tenancy.is_referenced(&t.family, column) => {
                Some(Anchor::Scoped(t.family.clone(), column.clone()))
            }
            _ => known,
        }
    }

    /// Whether the rows of binding `b` belong to the tenant under classes `c`.
    pub(super) fn satisfied(&self, b: usize, c: &Classes) -> bool {
        let Some(table) = self.bindings[b].table else { return true };
        match &table.kind {
            Kind::Global | Kind::Owned => true,
            Kind::Root { key } | Kind::Keyed { key } => c.anchor(&Term::Col(b, key.clone())) == Some(Anchor::Tenant),
            Kind::Derived { fk, .. } => {
                let anchor = c.anchor(&Term::Col(b, fk.clone()));
                anchor.is_some_and(|a| self.anchors_derived(table, &a))
            }
        }
    }

    /// Whether a value known as `anchor` is a valid foreign key of derived `table`: the
    /// referenced column of one of the tenant's parent rows.
    pub(super) fn anchors_derived(&self, table: &Table, anchor: &Anchor) -> bool {
        let Kind::Derived { via, reference, .. } = &table.kind else { return false };
        let Some(parent) = self.guard.tenancy.table(None, via) else { return false };
        match anchor {
            Anchor::Scoped(family, column) => *family == parent.family && column == reference,
            Anchor::Tenant => matches!(&parent.kind, Kind::Root { key } if key == reference),
        }
    }

    fn refuse_unscoped(&mut self, b: usize, preds: &[Pred]) {
        let binding = &self.bindings[b];
        let table = binding.table.expect("only tables are refused");
        let (name, offset) = (binding.name.clone(), binding.offset);
        if self.guard.no_tenant {
            let message = format!(
                "`{name}` holds tenants' rows and no tenant is bound here: read it through sql::with_tenant(db, TENANT)"
            );
            return self.refuse(Rule::Unscoped, &table.name, message, offset);
        }
        let param = self.guard.param().to_string();
        let column = table.tenant_column().unwrap_or_default();
        let outer = preds.iter().any(|p| {
            p.preserved.contains(&b)
                && Classes::from_eqs(&p.eqs).anchor(&Term::Col(b, column.to_string())) == Some(Anchor::Tenant)
        });
        if outer {
            let message = format!(
                "`{name}` is kept whole by an outer join: the condition on {name}.{column} in the join's ON does not filter its rows; move it to WHERE"
            );
            return self.refuse(Rule::OuterJoin, &table.name, message, offset);
        }
        if let Some(miss) = self.near.iter().find(|m| m.binding == b) {
            let (rule, at, detail) = (miss.rule, miss.offset, miss.detail.clone());
            return self.refuse(rule, &table.name, format!("`{name}` is not restricted to the tenant: {detail}"), at);
        }
        let message = match &table.kind {
            Kind::Derived { via, fk, reference } => format!(
                "`{name}` has no tenant column and is not tied to the tenant: join it to `{via}` on {name}.{fk} = {via}.{reference} with `{via}` restricted to the tenant, or filter `{fk} IN (SELECT {reference} FROM {via} WHERE ... = {param})`"
            ),
            _ => {
                // On an outer join's nullable side, WHERE would turn the join into an inner one.
                let nullable_side = preds.iter().any(|p| !p.preserved.is_empty() && p.applies.contains(&b));
                let place = if nullable_side { "its join's ON clause" } else { "the WHERE clause" };
                format!(
                    "`{name}` is not restricted to the tenant: no condition ties {name}.{column} to {param}; add `{name}.{column} = {param}` to {place}"
                )
            }
        };
        self.refuse(Rule::Unscoped, &table.name, message, offset);
    }
}

/// The database's own tables, readable without a tenant: global, as far as the guard is concerned.
static CATALOG: std::sync::LazyLock<Table> =
    std::sync::LazyLock::new(|| Table { name: "catalog".into(), kind: Kind::Global, family: "catalog".into() });

fn is_catalog(schema: Option<&str>, name: &str) -> bool {
    match schema {
        Some(s) => matches!(s, "pg_catalog" | "information_schema" | "performance_schema" | "sys" | "mysql"),
        None => name.starts_with("pg_") || matches!(name, "sqlite_master" | "sqlite_schema" | "sqlite_sequence"),
    }
}

/// An identifier as the database compares it: quoted names exactly, others in lower case.
pub(super) fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}
