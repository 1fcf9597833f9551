//! From conditions to equalities: what a WHERE or ON clause proves about the rows it keeps.

use sqlparser::ast::{BinaryOperator, Expr, Ident, Query, Spanned, UnaryOperator, Value};

use super::Rule;
use super::check::{Checker, NearMiss, ident_name};
use super::terms::{Anchor, Classes, Eqs, Term};

impl Checker<'_> {
    /// The equalities that hold for every row `expr` keeps, in `scope`.
    #[recursive::recursive]
    pub(super) fn eqs(&mut self, expr: &Expr, scope: usize) -> Eqs {
        match expr {
            Expr::Nested(e) => self.eqs(e, scope),
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                let mut eqs = self.eqs(left, scope);
                eqs.extend(self.eqs(right, scope));
                eqs
            }
            Expr::BinaryOp { left, op: BinaryOperator::Or, right } => {
                let (l, r) = (self.eqs(left, scope), self.eqs(right, scope));
                let (cl, cr) = (Classes::from_eqs(&l), Classes::from_eqs(&r));
                let (al, ar) = (cl.anchored(), cr.anchored());
                let mut eqs = Vec::new();
                for (term, anchor) in &al {
                    if cr.anchor(term).as_ref() == Some(anchor) {
                        eqs.push((term.clone(), anchor.term()));
                    }
                }
                for (term, _) in al.iter().chain(&ar) {
                    if !eqs.iter().any(|(t, _)| t == term) {
                        let detail = "its tenant condition sits in one branch of an OR, so the other branch reaches every tenant; put the tenant condition outside the OR: `key = tenant AND (a OR b)`";
                        self.near_miss(term, Rule::OrBranch, expr, detail.to_string());
                    }
                }
                eqs
            }
            Expr::BinaryOp { left, op: BinaryOperator::Eq, right } | Expr::IsNotDistinctFrom(left, right) => {
                let (l, r) = (self.term(left, scope), self.term(right, scope));
                self.check_key_comparison(&l, &r, expr);
                self.check_key_comparison(&r, &l, expr);
                vec![(l, r)]
            }
            Expr::BinaryOp { left, right, .. }
            | Expr::Like { expr: left, pattern: right, .. }
            | Expr::ILike { expr: left, pattern: right, .. }
            | Expr::SimilarTo { expr: left, pattern: right, .. }
            | Expr::AnyOp { left, right, .. }
            | Expr::AllOp { left, right, .. } => {
                for side in [left, right] {
                    let t = self.term(side, scope);
                    self.loose(
                        &t,
                        expr,
                        "compares the key with `<>`, a range, a pattern or ANY/ALL, which admits other tenants",
                    );
                }
                Vec::new()
            }
            Expr::Between { expr: key, .. } => {
                let t = self.term(key, scope);
                self.loose(&t, expr, "restricts the key to a range, which can hold other tenants");
                Vec::new()
            }
            Expr::InList { expr: key, list, negated } => {
                let key = self.term(key, scope);
                let values: Vec<Term> = list.iter().map(|v| self.term(v, scope)).collect();
                if !negated && !values.is_empty() && values.iter().all(|v| *v == values[0]) {
                    self.check_key_comparison(&key, &values[0], expr);
                    return vec![(key, values[0].clone())];
                }
                self.loose(&key, expr, "an IN list with other values than the tenant admits other tenants");
                Vec::new()
            }
            Expr::InSubquery { expr: key, subquery, negated: false } => {
                let key = self.term(key, scope);
                match self.probe(subquery, scope) {
                    Some(anchor) => vec![(key, anchor.term())],
                    None => Vec::new(),
                }
            }
            Expr::UnaryOp { op: UnaryOperator::Not, expr: inner } => {
                self.eqs(inner, scope);
                let mut found = Vec::new();
                self.collect_keys(inner, scope, &mut found);
                for t in found {
                    self.loose(&t, expr, "a negation of a condition on the key admits other tenants");
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The value `expr` stands for.
    #[recursive::recursive]
    pub(super) fn term(&mut self, expr: &Expr, scope: usize) -> Term {
        match expr {
            Expr::Nested(e) => self.term(e, scope),
            Expr::Identifier(id) => self.column(&[], id, scope),
            Expr::CompoundIdentifier(parts) => match parts.split_last() {
                Some((column, qualifier)) => self.column(qualifier, column, scope),
                None => self.opaque(),
            },
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => {
                    if self.is_tenant(p, v.span.start) {
                        Term::Tenant
                    } else if p == "?" {
                        let at = v.span.start;
                        Term::Param(format!("?@{}:{}", at.line, at.column))
                    } else {
                        Term::Param(p.clone())
                    }
                }
                Value::Null => self.opaque(),
                other => {
                    self.opaque += 1;
                    Term::Literal(other.to_string(), self.opaque)
                }
            },
            // A cast of a parameter keeps its value unless it can shorten it (`varchar(2)`). A cast
            // of a column can map many keys to one (`'05'::int = '5'::int`), so it proves nothing.
            Expr::Cast { expr: inner, data_type, .. } if !data_type.to_string().contains('(') => {
                match self.term(inner, scope) {
                    t @ (Term::Tenant | Term::Param(_) | Term::Literal(..)) => t,
                    _ => self.opaque(),
                }
            }
            Expr::Subquery(q) => match self.probe(q, scope) {
                Some(anchor) => anchor.term(),
                None => self.opaque(),
            },
            _ => self.opaque(),
        }
    }

    pub(super) fn opaque(&mut self) -> Term {
        self.opaque += 1;
        Term::Opaque(self.opaque)
    }

    fn is_tenant(&self, placeholder: &str, at: sqlparser::tokenizer::Location) -> bool {
        let param = &self.guard.param;
        if self.guard.no_tenant {
            return false;
        }
        if param.first_bare && placeholder == "?" {
            // Positional: only the first placeholder of the statement.
            return self.first_placeholder.as_ref().is_some_and(|(text, loc)| text == "?" && *loc == at);
        }
        placeholder == param.text
    }

    /// Resolve a column reference: a binding of `scope`, else of an enclosing scope.
    fn column(&mut self, qualifier: &[Ident], column: &Ident, scope: usize) -> Term {
        let name = ident_name(column);
        if qualifier.is_empty() {
            let members = &self.scopes[scope].bindings;
            let known: Vec<usize> = members.iter().copied().filter(|&b| self.has_column(b, &name)).collect();
            return match known.as_slice() {
                [one] => Term::Col(*one, name),
                [] => Term::Name(scope, name),
                _ => self.opaque(),
            };
        }
        let (schema, table) = match qualifier {
            [t] => (None, ident_name(t)),
            [s, t] => (Some(ident_name(s)), ident_name(t)),
            _ => return self.opaque(),
        };
        let mut at = Some(scope);
        while let Some(s) = at {
            let found = self.scopes[s].bindings.iter().copied().find(|&b| {
                let binding = &self.bindings[b];
                binding.name == table && (schema.is_none() || binding.schema == schema)
            });
            if let Some(b) = found {
                if s == scope {
                    return Term::Col(b, name);
                }
                // A correlated reference: what the enclosing scope proved about it.
                return match self.scopes[s].anchors.get(&(b, name.clone())) {
                    Some(anchor) => anchor.term(),
                    None => Term::Col(b, name),
                };
            }
            at = self.scopes[s].parent;
        }
        self.opaque()
    }

    /// Walk a subquery only to learn what its single output column is known to be.
    pub(super) fn probe(&mut self, q: &Query, scope: usize) -> Option<Anchor> {
        self.probing += 1;
        let parent = self.scopes[scope].parent;
        let anchors = self.query(q, parent);
        self.probing -= 1;
        match anchors?.as_slice() {
            [one] => one.clone(),
            _ => None,
        }
    }

    /// The anchor of a value in an INSERT row or an assignment.
    pub(super) fn value_anchor(&mut self, expr: &Expr, scope: usize) -> Option<Anchor> {
        let term = self.term(expr, scope);
        Classes::default().anchor(&term)
    }

    /// The binding whose tenant column `term` is, if it is one.
    fn key_binding(&self, term: &Term) -> Option<usize> {
        match term {
            Term::Col(b, column) => {
                let table = self.bindings[*b].table?;
                (table.tenant_column() == Some(column.as_str())).then_some(*b)
            }
            _ => None,
        }
    }

    fn check_key_comparison(&mut self, key: &Term, other: &Term, expr: &Expr) {
        if self.key_binding(key).is_none() {
            return;
        }
        let param = self.guard.param().to_string();
        match other {
            Term::Literal(text, _) => {
                let detail = format!("its key is compared with the literal {text}, not the bound tenant {param}");
                self.near_miss(key, Rule::LiteralTenant, expr, detail);
            }
            Term::Param(p) => {
                let p = p.split('@').next().unwrap_or(p);
                let detail = format!("its key is compared with {p}; the tenant is bound as {param}");
                self.near_miss(key, Rule::WrongParameter, expr, detail);
            }
            _ => {}
        }
    }

    fn loose(&mut self, term: &Term, expr: &Expr, detail: &str) {
        self.near_miss(term, Rule::LooseComparison, expr, detail.to_string());
    }

    fn near_miss(&mut self, term: &Term, rule: Rule, expr: &Expr, detail: String) {
        if let Some(binding) = self.key_binding(term) {
            let offset = self.offset(expr.span());
            self.near.push(NearMiss { binding, rule, offset, detail });
        }
    }

    /// Tenant-key columns mentioned at the top of a condition (not inside subqueries).
    #[recursive::recursive]
    fn collect_keys(&mut self, expr: &Expr, scope: usize, found: &mut Vec<Term>) {
        match expr {
            Expr::Nested(e) | Expr::UnaryOp { expr: e, .. } | Expr::IsNull(e) | Expr::IsNotNull(e) => {
                self.collect_keys(e, scope, found)
            }
            Expr::BinaryOp { left, right, .. } => {
                self.collect_keys(left, scope, found);
                self.collect_keys(right, scope, found);
            }
            Expr::InList { expr: e, .. } | Expr::Between { expr: e, .. } | Expr::Like { expr: e, .. } => {
                self.collect_keys(e, scope, found)
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                let t = self.term(expr, scope);
                if self.key_binding(&t).is_some() {
                    found.push(t);
                }
            }
            _ => {}
        }
    }
}
