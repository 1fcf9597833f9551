//! What the guard reasons about: values in a statement, and which of them are known equal.

use std::collections::HashMap;

/// A value a predicate can mention.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Term {
    /// The bound tenant parameter.
    Tenant,
    /// Some value of `column` in a row of the table family that belongs to the tenant.
    Scoped(String, String),
    /// Column of a binding (an entry in `Checker::bindings`).
    Col(usize, String),
    /// An unqualified column no binding is known to have, within one scope: it names the same
    /// column every time it appears there, whichever that is.
    Name(usize, String),
    /// Another bound parameter: by its text, and for a bare `?` (a new value each time) by its place too.
    Param(String),
    /// A literal, by its text and a number of its own: two equal literals are not taken to be the
    /// same value, since loose comparisons (MySQL's '5abc' = 5) make equality not transitive.
    Literal(String, usize),
    /// Anything else: equal to nothing but itself.
    Opaque(usize),
}

/// What a value is known to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Anchor {
    Tenant,
    Scoped(String, String),
}

impl Anchor {
    pub(super) fn term(&self) -> Term {
        match self {
            Anchor::Tenant => Term::Tenant,
            Anchor::Scoped(f, c) => Term::Scoped(f.clone(), c.clone()),
        }
    }
}

/// Equalities that hold for a row: pairs of terms.
pub(super) type Eqs = Vec<(Term, Term)>;

/// Equivalence classes of terms under a set of equalities (union-find).
#[derive(Default)]
pub(super) struct Classes {
    index: HashMap<Term, usize>,
    parent: Vec<usize>,
    /// Terms in the class of each root: the smaller class joins the larger, so no chain of
    /// parents grows longer than log2 of the terms (`a = 'x' AND a = 'y' AND ...` would
    /// otherwise build one as long as the statement).
    size: Vec<usize>,
}

impl Classes {
    pub(super) fn from_eqs<'e>(eqs: impl IntoIterator<Item = &'e (Term, Term)>) -> Classes {
        let mut classes = Classes::default();
        for (a, b) in eqs {
            classes.union(a, b);
        }
        classes
    }

    fn id(&mut self, term: &Term) -> usize {
        if let Some(&i) = self.index.get(term) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.size.push(1);
        self.index.insert(term.clone(), i);
        i
    }

    fn find(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    pub(super) fn union(&mut self, a: &Term, b: &Term) {
        let (a, b) = (self.id(a), self.id(b));
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (small, large) = if self.size[ra] < self.size[rb] { (ra, rb) } else { (rb, ra) };
            self.parent[small] = large;
            self.size[large] += self.size[small];
        }
    }

    fn same(&self, a: &Term, b: &Term) -> bool {
        match (self.index.get(a), self.index.get(b)) {
            (Some(&a), Some(&b)) => self.find(a) == self.find(b),
            _ => a == b,
        }
    }

    /// What `term` is known to be: the tenant, a tenant's row's column, or nothing.
    pub(super) fn anchor(&self, term: &Term) -> Option<Anchor> {
        match term {
            Term::Tenant => return Some(Anchor::Tenant),
            Term::Scoped(f, c) if !self.index.contains_key(term) => return Some(Anchor::Scoped(f.clone(), c.clone())),
            _ => {}
        }
        let &i = self.index.get(term)?;
        if self.same(term, &Term::Tenant) {
            return Some(Anchor::Tenant);
        }
        let root = self.find(i);
        self.index.iter().find_map(|(t, &j)| match t {
            Term::Scoped(f, c) if self.find(j) == root => Some(Anchor::Scoped(f.clone(), c.clone())),
            _ => None,
        })
    }

    /// Every term with an anchor, for the intersection of two branches of an OR.
    pub(super) fn anchored(&self) -> Vec<(Term, Anchor)> {
        // What `anchor` finds for each term, with each class's anchor found once rather than
        // once per term.
        let tenant = self.index.get(&Term::Tenant).map(|&i| self.find(i));
        let mut scoped: HashMap<usize, Anchor> = HashMap::new();
        for (term, &i) in &self.index {
            if let Term::Scoped(f, c) = term {
                scoped.entry(self.find(i)).or_insert_with(|| Anchor::Scoped(f.clone(), c.clone()));
            }
        }
        self.index
            .iter()
            .filter_map(|(term, &i)| {
                let root = self.find(i);
                let anchor = if *term == Term::Tenant || Some(root) == tenant {
                    Some(Anchor::Tenant)
                } else {
                    scoped.get(&root).cloned()
                };
                anchor.map(|a| (term.clone(), a))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equalities_carry_the_tenant_across_columns() {
        let a = Term::Col(0, "tenant_id".into());
        let b = Term::Col(1, "org_id".into());
        let c = Classes::from_eqs(&[(a.clone(), b.clone()), (b.clone(), Term::Tenant)]);
        assert_eq!(c.anchor(&a), Some(Anchor::Tenant));
        assert_eq!(c.anchor(&Term::Col(2, "tenant_id".into())), None);
        let scoped = Term::Scoped("orders".into(), "id".into());
        let d = Classes::from_eqs(&[(Term::Col(3, "order_id".into()), scoped)]);
        assert_eq!(d.anchor(&Term::Col(3, "order_id".into())), Some(Anchor::Scoped("orders".into(), "id".into())));
    }
}
