//! Registering functions together with their documentation, so `help()`, `:help`, completion and
//! the example tests all read one source.

use rhai::{Engine, FuncRegistration, Module, RhaiNativeFunc, Variant};
use std::collections::BTreeMap;

/// A runnable example of a function. `result` is the expected value as JSON; `None` means the
/// example only has to run without error.
#[derive(Debug, Clone)]
pub struct Example {
    pub code: String,
    pub result: Option<String>,
}

/// Documentation of one registered function (all its overloads).
#[derive(Debug, Clone, Default)]
pub struct FnDoc {
    /// `Some("evidence")` for `evidence::note`; `None` for global functions and methods.
    pub namespace: Option<String>,
    pub name: String,
    /// The type a method is called on (`df.filter(...)`), shown as `Frame.filter`.
    pub receiver: Option<String>,
    /// One line per overload, e.g. `df.sort(column: string, descending: bool) -> Frame`.
    pub usage: Vec<String>,
    pub summary: String,
    pub params: Vec<(String, String)>,
    pub returns: String,
    pub examples: Vec<Example>,
    /// Has side effects or depends on the outside world: never folded at compile time.
    pub volatile: bool,
}

impl FnDoc {
    pub fn new(name: &str) -> FnDoc {
        FnDoc { name: name.to_string(), ..FnDoc::default() }
    }

    /// The name people type to ask for help: `evidence::note`, `Frame.filter` or `frame`.
    pub fn qualified(&self) -> String {
        match (&self.namespace, &self.receiver) {
            (Some(ns), _) => format!("{ns}::{}", self.name),
            (None, Some(ty)) => format!("{ty}.{}", self.name),
            (None, None) => self.name.clone(),
        }
    }

    pub fn method_of(mut self, ty: &str) -> Self {
        self.receiver = Some(ty.to_string());
        self
    }

    pub fn usage(mut self, line: &str) -> Self {
        self.usage.push(line.to_string());
        self
    }

    pub fn summary(mut self, text: &str) -> Self {
        self.summary = text.to_string();
        self
    }

    pub fn param(mut self, name: &str, text: &str) -> Self {
        self.params.push((name.to_string(), text.to_string()));
        self
    }

    pub fn returns(mut self, text: &str) -> Self {
        self.returns = text.to_string();
        self
    }

    /// An example whose value must equal `result` (JSON).
    pub fn example(mut self, code: &str, result: &str) -> Self {
        self.examples.push(Example { code: code.to_string(), result: Some(result.to_string()) });
        self
    }

    /// An example that must run without error.
    pub fn example_runs(mut self, code: &str) -> Self {
        self.examples.push(Example { code: code.to_string(), result: None });
        self
    }

    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The doc comment Rhai keeps with the function (shown by metadata tools).
    fn comment(&self) -> String {
        let mut lines = vec![format!("/// {}", self.summary)];
        for (name, text) in &self.params {
            lines.push(format!("/// * `{name}`: {text}"));
        }
        if !self.returns.is_empty() {
            lines.push(format!("/// Returns {}", self.returns));
        }
        for ex in &self.examples {
            lines.push(format!("/// Example: `{}`", ex.code));
        }
        lines.join("\n")
    }

    /// Help text for people.
    pub fn help(&self) -> String {
        let mut out = format!("{}\n", self.qualified());
        for usage in &self.usage {
            out += &format!("  {usage}\n");
        }
        out += &format!("\n{}\n", self.summary);
        if !self.params.is_empty() {
            out += "\nParameters:\n";
            for (name, text) in &self.params {
                out += &format!("  {name}: {text}\n");
            }
        }
        if !self.returns.is_empty() {
            out += &format!("\nReturns: {}\n", self.returns);
        }
        if !self.examples.is_empty() {
            out += "\nExamples:\n";
            for ex in &self.examples {
                for line in ex.code.lines() {
                    out += &format!("  > {line}\n");
                }
                if let Some(result) = &ex.result {
                    out += &format!("  {result}\n");
                }
            }
        }
        out.trim_end().to_string()
    }
}

/// Every documented function, looked up by qualified name.
#[derive(Debug, Default, Clone)]
pub struct Docs {
    by_name: BTreeMap<String, FnDoc>,
}

impl Docs {
    pub fn get(&self, name: &str) -> Option<&FnDoc> {
        let name = name.trim().trim_end_matches("()");
        self.by_name.get(name).or_else(|| {
            // `filter` finds `Frame.filter`, `note` finds `evidence::note` when unambiguous.
            let mut matches = self.by_name.values().filter(|d| d.name == name);
            let first = matches.next()?;
            matches.next().is_none().then_some(first)
        })
    }

    pub fn all(&self) -> impl Iterator<Item = &FnDoc> {
        self.by_name.values()
    }

    /// Namespaces with at least one function.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = self.all().filter_map(|d| d.namespace.clone()).collect();
        out.dedup();
        out
    }

    fn insert(&mut self, doc: FnDoc) {
        let key = doc.qualified();
        assert!(!self.by_name.contains_key(&key), "{key} is documented twice");
        self.by_name.insert(key, doc);
    }
}

/// Registers functions into the engine (global) or into a namespace module, recording docs.
pub struct Api<'a> {
    engine: &'a mut Engine,
    docs: &'a mut Docs,
    namespace: Option<(String, Module)>,
    /// Namespaces closed so far: registered when the Api is dropped, so that several
    /// capabilities can add to one namespace (`heap::` from the dump and the live functions).
    closed: Vec<(String, Module)>,
    last: Option<(String, bool)>,
}

impl Drop for Api<'_> {
    fn drop(&mut self) {
        self.end_namespace();
        for (ns, module) in self.closed.drain(..) {
            self.engine.register_static_module(ns.as_str(), module.into());
        }
    }
}

impl<'a> Api<'a> {
    pub fn new(engine: &'a mut Engine, docs: &'a mut Docs) -> Api<'a> {
        Api { engine, docs, namespace: None, closed: Vec::new(), last: None }
    }

    /// Register following functions as `ns::name` until [`Api::end_namespace`].
    pub fn namespace(&mut self, ns: &str) -> &mut Self {
        self.end_namespace();
        let module = match self.closed.iter().position(|(name, _)| name == ns) {
            Some(i) => self.closed.remove(i).1,
            None => Module::new(),
        };
        self.namespace = Some((ns.to_string(), module));
        self
    }

    pub fn end_namespace(&mut self) -> &mut Self {
        if let Some(open) = self.namespace.take() {
            self.closed.push(open);
        }
        self
    }

    /// Register `func` under `doc.name` and record its documentation.
    pub fn add<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        mut doc: FnDoc,
        func: FUNC,
    ) -> &mut Self
    where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        assert!(!doc.summary.is_empty() && !doc.examples.is_empty(), "{} needs a summary and an example", doc.name);
        doc.namespace = self.namespace.as_ref().map(|(ns, _)| ns.clone());
        let registration =
            FuncRegistration::new(doc.name.as_str()).with_comments([doc.comment()]).with_volatility(doc.volatile);
        self.last = Some((doc.name.clone(), doc.volatile));
        self.docs.insert(doc);
        self.register(registration, func);
        self
    }

    /// Another overload of the function added last; shares its documentation.
    pub fn overload<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        func: FUNC,
    ) -> &mut Self
    where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        let (name, volatile) = self.last.clone().expect("overload follows add");
        let registration = FuncRegistration::new(name.as_str()).with_volatility(volatile);
        self.register(registration, func);
        self
    }

    fn register<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        registration: FuncRegistration,
        func: FUNC,
    ) where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        match &mut self.namespace {
            Some((_, module)) => {
                registration.set_into_module(module, func);
            }
            None => {
                registration.register_into_engine(self.engine, func);
            }
        }
    }

    /// Direct access for registrations that need no docs (types, indexers, operators).
    pub fn engine(&mut self) -> &mut Engine {
        self.engine
    }
}
