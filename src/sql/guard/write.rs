//! Writes: every row an UPDATE or DELETE touches must be the tenant's, every row an INSERT makes
//! must carry the tenant, and no write may move a row to another tenant or overwrite one.

use sqlparser::ast::{
    AssignmentTarget, ConflictTarget, Delete, Expr, FromTable, Insert, ObjectName, OnConflictAction, OnInsert, Spanned,
    SqliteOnConflict, TableObject, Update, UpdateTableFromKind,
};

use super::Rule;
use super::check::{Checker, Pred, ident_name};
use super::functions;
use super::terms::{Anchor, Classes};
use crate::sql::tenancy::{Kind, Table};

pub(super) fn update(c: &mut Checker<'_>, u: &Update, parent: Option<usize>) {
    if matches!(u.or, Some(SqliteOnConflict::Replace)) {
        let message = "UPDATE OR REPLACE deletes rows that conflict, which can belong to another tenant".to_string();
        c.refuse(Rule::UpsertOverwrite, "", message, c.offset(u.span()));
    }
    let scope = c.new_scope(parent);
    let mut preds = Vec::new();
    let targets = c.bind_from(&u.table, scope, &mut preds);
    if let Some(UpdateTableFromKind::AfterSet(from) | UpdateTableFromKind::BeforeSet(from)) = &u.from {
        for item in from {
            c.bind_from(item, scope, &mut preds);
        }
    }
    where_clause(c, scope, u.selection.as_ref(), &mut preds);
    let analysis = c.analyse(scope, &preds);
    let default_target = targets.first().copied();
    if let Some(t) = default_target {
        c.wrote(c.bindings[t].table, c.bindings[t].source.clone(), None);
    }
    for assignment in &u.assignments {
        let columns: Vec<&ObjectName> = match &assignment.target {
            AssignmentTarget::ColumnName(n) => vec![n],
            AssignmentTarget::Tuple(names) => names.iter().collect(),
        };
        let single = columns.len() == 1;
        for column in columns {
            let Some((binding, name)) = target_column(c, column, scope, default_target) else { continue };
            let Some(table) = c.bindings[binding].table else { continue };
            if table.is_global() {
                refuse_global(c, table, c.offset(column.span()));
                continue;
            }
            if table.tenant_column() != Some(name.as_str()) {
                continue;
            }
            let term = if single { c.term(&assignment.value, scope) } else { c.opaque() };
            let anchor = c.anchor_in(&analysis, &term);
            if !keeps_tenant(c, table, anchor.as_ref()) {
                refuse_key_write(c, table, &name, c.offset(assignment.value.span()));
            }
        }
    }
    functions::nested(c, u, Some(scope));
}

pub(super) fn delete(c: &mut Checker<'_>, d: &Delete, parent: Option<usize>) {
    let scope = c.new_scope(parent);
    let mut preds = Vec::new();
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
    let mut firsts = Vec::new();
    for item in from {
        let bound = c.bind_from(item, scope, &mut preds);
        firsts.extend(bound.first().copied());
    }
    for item in d.using.iter().flatten() {
        c.bind_from(item, scope, &mut preds);
    }
    where_clause(c, scope, d.selection.as_ref(), &mut preds);
    c.analyse(scope, &preds);
    let targets: Vec<usize> = if d.tables.is_empty() {
        firsts
    } else {
        let names: Vec<String> = d.tables.iter().filter_map(|n| n.0.last()?.as_ident().map(ident_name)).collect();
        c.scopes[scope].bindings.iter().copied().filter(|&b| names.contains(&c.bindings[b].name)).collect()
    };
    for b in targets {
        c.wrote(c.bindings[b].table, c.bindings[b].source.clone(), None);
        if let Some(table) = c.bindings[b].table.filter(|t| t.is_global()) {
            refuse_global(c, table, c.bindings[b].offset);
        }
    }
    functions::nested(c, d, Some(scope));
}

pub(super) fn insert(c: &mut Checker<'_>, i: &Insert, parent: Option<usize>) {
    let offset = c.offset(i.span());
    let TableObject::TableName(name) = &i.table else {
        return c.refuse(Rule::Unsupported, "", "INSERT into a table function".into(), offset);
    };
    let parts: Option<Vec<String>> = name.0.iter().map(|p| p.as_ident().map(ident_name)).collect();
    let (schema, table_name) = match parts.as_deref() {
        Some([t]) => (None, t.clone()),
        Some([s, t]) => (Some(s.clone()), t.clone()),
        _ => return c.refuse(Rule::Unsupported, "", format!("the table name `{name}`"), offset),
    };
    let Ok(table) = c.resolve(schema.as_deref(), &table_name, offset) else { return };
    let Some(table) = table else {
        return c.unknown_table(&name.to_string(), offset);
    };
    if table.is_global() {
        return refuse_global(c, table, offset);
    }
    // In the tenant's own schema every row is the tenant's, so no write can reach another's.
    let owned = table.kind == Kind::Owned;
    if !owned && (i.replace_into || matches!(i.or, Some(SqliteOnConflict::Replace))) {
        let message = "REPLACE deletes the row a new one conflicts with, and that row can belong to another tenant; use INSERT ... ON CONFLICT with the tenant key in the conflict target".to_string();
        c.refuse(Rule::UpsertOverwrite, "", message, offset);
    }
    let columns = i.columns.iter().filter_map(|n| n.0.last()?.as_ident().map(ident_name)).collect();
    c.wrote(Some(table), Some((schema, table_name.clone())), Some(columns));
    let key = table.tenant_column().unwrap_or_default().to_string();
    let anchor = if !i.assignments.is_empty() {
        functions::nested(c, &i.assignments, parent);
        let scope = c.new_scope(parent);
        let value = i.assignments.iter().find(|a| assigns(&a.target, &key)).map(|a| &a.value);
        value.and_then(|v| c.value_anchor(v, scope))
    } else if i.columns.is_empty() && !owned {
        let message = format!(
            "INSERT into `{table_name}` without a column list: name the columns, {key} among them, so the guard can see which value is the tenant"
        );
        return c.refuse(Rule::InsertColumns, &table.name, message, offset);
    } else {
        let index = i
            .columns
            .iter()
            .position(|col| col.0.last().and_then(|p| p.as_ident()).map(ident_name) == Some(key.clone()));
        let anchors = i.source.as_ref().and_then(|q| c.query(q, parent));
        index.and_then(|ix| anchors?.get(ix).cloned().flatten())
    };
    if !keeps_tenant(c, table, anchor.as_ref()) {
        let param = c.guard.param().to_string();
        let message = match &table.kind {
            Kind::Derived { via, reference, fk } => format!(
                "each row must set {fk} to a {via}.{reference} of the tenant: insert with `SELECT ... FROM {via} WHERE ... = {param}` rather than a bare value"
            ),
            _ => format!("each row must set {key} to the tenant parameter {param}"),
        };
        c.refuse(Rule::InsertTenant, &table.name, message, offset);
    }
    match &i.on {
        Some(OnInsert::DuplicateKeyUpdate(assignments)) if owned => functions::nested(c, assignments, parent),
        Some(OnInsert::OnConflict(conflict)) if owned => {
            if let OnConflictAction::DoUpdate(update) = &conflict.action {
                functions::nested(c, update, parent);
            }
        }
        Some(OnInsert::DuplicateKeyUpdate(_)) => {
            let message = format!(
                "ON DUPLICATE KEY UPDATE overwrites whichever row shares a unique key, which can be another tenant's; use INSERT IGNORE, or an UPDATE of `{table_name}` restricted to the tenant"
            );
            c.refuse(Rule::UpsertOverwrite, &table.name, message, offset);
        }
        Some(OnInsert::OnConflict(conflict)) => {
            if let OnConflictAction::DoUpdate(update) = &conflict.action {
                let covered = matches!(&conflict.conflict_target, Some(ConflictTarget::Columns(cols)) if cols.iter().any(|col| ident_name(col) == key));
                let scope = c.new_scope(parent);
                let mut preds = Vec::new();
                let alias = i.table_alias.as_ref().map_or(table_name.clone(), |a| ident_name(&a.alias));
                let target = c.bind(scope, alias, None, Some(table), offset);
                c.bind(scope, "excluded".into(), None, None, offset);
                if !covered {
                    where_clause(c, scope, update.selection.as_ref(), &mut preds);
                    let classes = Classes::from_eqs(preds.iter().flat_map(|p| &p.eqs));
                    if !c.satisfied(target, &classes) {
                        let param = c.guard.param().to_string();
                        let message = format!(
                            "ON CONFLICT ... DO UPDATE can overwrite another tenant's row that conflicts on a key without {key}: put {key} in the conflict target, or add `WHERE {table_name}.{key} = {param}` to DO UPDATE"
                        );
                        c.refuse(Rule::UpsertOverwrite, &table.name, message, offset);
                    }
                }
                for assignment in &update.assignments {
                    if assigns(&assignment.target, &key) && !is_excluded_key(&assignment.value, &key) {
                        let term = c.term(&assignment.value, scope);
                        if Classes::default().anchor(&term) != Some(Anchor::Tenant) {
                            refuse_key_write(c, table, &key, c.offset(assignment.value.span()));
                        }
                    }
                }
                functions::nested(c, update, Some(scope));
            }
        }
        Some(_) => c.refuse(Rule::Unsupported, "", "this INSERT ... ON clause".into(), offset),
        None => {}
    }
    if let Some(returning) = &i.returning {
        functions::nested(c, returning, parent);
    }
}

fn where_clause(c: &mut Checker<'_>, scope: usize, selection: Option<&Expr>, preds: &mut Vec<Pred>) {
    if let Some(selection) = selection {
        let applies = c.scopes[scope].bindings.clone();
        let eqs = c.eqs(selection, scope);
        preds.push(Pred { eqs, applies, preserved: Vec::new() });
    }
}

/// Which binding and column an assignment target names; unqualified names go to the UPDATE's table.
fn target_column(
    c: &Checker<'_>,
    column: &ObjectName,
    scope: usize,
    default: Option<usize>,
) -> Option<(usize, String)> {
    let parts: Vec<String> = column.0.iter().map(|p| p.as_ident().map(ident_name)).collect::<Option<_>>()?;
    let (name, qualifier) = parts.split_last()?;
    let binding = match qualifier.last() {
        None => default?,
        Some(q) => c.scopes[scope].bindings.iter().copied().find(|&b| c.bindings[b].name == *q)?,
    };
    Some((binding, name.clone()))
}

fn assigns(target: &AssignmentTarget, column: &str) -> bool {
    let names = match target {
        AssignmentTarget::ColumnName(n) => std::slice::from_ref(n),
        AssignmentTarget::Tuple(names) => names.as_slice(),
    };
    names.iter().any(|n| n.0.last().and_then(|p| p.as_ident()).map(ident_name).as_deref() == Some(column))
}

/// `excluded.tenant_id`: the value the INSERT itself proposed, which the guard checked.
fn is_excluded_key(expr: &Expr, key: &str) -> bool {
    matches!(expr, Expr::CompoundIdentifier(parts) if parts.len() == 2 && ident_name(&parts[0]) == "excluded" && ident_name(&parts[1]) == key)
}

/// Whether a value known as `anchor` may stand in `table`'s tenant column.
fn keeps_tenant(c: &Checker<'_>, table: &Table, anchor: Option<&Anchor>) -> bool {
    match (&table.kind, anchor) {
        (Kind::Owned, _) => true,
        (Kind::Root { .. } | Kind::Keyed { .. }, Some(Anchor::Tenant)) => true,
        (Kind::Derived { .. }, Some(a)) => c.anchors_derived(table, a),
        _ => false,
    }
}

fn refuse_global(c: &mut Checker<'_>, table: &Table, offset: usize) {
    let message =
        format!("`{}` is global, shared by every tenant: a tenant runbook may read it but not write it", table.name);
    c.refuse(Rule::GlobalWrite, &table.name, message, offset);
}

fn refuse_key_write(c: &mut Checker<'_>, table: &Table, column: &str, offset: usize) {
    let param = c.guard.param().to_string();
    let message = match &table.kind {
        Kind::Derived { via, reference, .. } => {
            format!("sets {}.{column} to a value not proven to be a {via}.{reference} of the tenant", table.name)
        }
        _ => format!(
            "sets the tenant key {}.{column} to something other than the tenant {param}: that moves rows to another tenant",
            table.name
        ),
    };
    c.refuse(Rule::TenantKeyWrite, &table.name, message, offset);
}
