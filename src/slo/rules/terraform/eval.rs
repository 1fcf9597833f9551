//! Terraform expressions evaluated as far as a configuration alone allows: literals, `var.`
//! and `local.` values, `each.`/`count.` of the instance, for expressions, conditionals,
//! templates, arithmetic and the common functions ([`super::functions`]).
//!
//! What only `terraform apply` knows (resource attributes, data sources, `path.module`,
//! functions not evaluated here) becomes a placeholder string `${the expression}` and a note,
//! so one unknown ARN does not hide the tenant dimension beside it. Every step is charged to a
//! budget: a configuration whose locals double a string fifty times stops with a note, not
//! with the machine's memory.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use hcl_edit::Span;
use hcl_edit::expr::{BinaryOperator, Expression, ForExpr, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Directive, Element, Template};
use serde_json::{Map, Value};

use super::functions;

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The expression is wrong for the values it got (a missing key, a type mismatch).
    /// `try` and `can` move past these, as in Terraform.
    Error(String),
    /// The evaluation budget ran out.
    Budget,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Error(m) => f.write_str(m),
            Fault::Budget => write!(f, "evaluation stopped: the configuration needs more than {BUDGET} steps"),
        }
    }
}

pub type Eval = Result<Value, Fault>;

pub fn error<T>(message: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Error(message.into()))
}

/// Steps one module tree may take. Real modules take thousands.
pub const BUDGET: u64 = 5_000_000;

/// How deeply locals may refer to locals that are not evaluated yet; each level is a few
/// stack frames.
const MAX_LOCAL_CHAIN: usize = 64;

/// A variable's value, as the caller, a tfvars file or its default gives it.
#[derive(Debug, Clone)]
pub struct Given {
    pub value: Value,
    /// What in it is a placeholder.
    pub notes: Vec<String>,
}

/// A `local.` value: its expression and the file it is in.
pub struct Local<'a> {
    pub file: usize,
    pub expr: &'a Expression,
}

type Memo = HashMap<String, Result<Given, Fault>>;

/// One module instance's values, and the budget shared by the whole tree.
pub struct Module<'a> {
    /// The text of each file, for the source text of placeholders.
    pub texts: &'a [String],
    pub vars: HashMap<String, Given>,
    /// Every variable the module declares, with a value or not.
    pub declared: std::collections::HashSet<String>,
    pub locals: HashMap<String, Local<'a>>,
    pub budget: &'a Cell<u64>,
    file: Cell<usize>,
    memo: RefCell<Memo>,
    active: RefCell<Vec<String>>,
    notes: RefCell<Vec<String>>,
}

/// Names bound by the instance (`each`, `count`), dynamic blocks and for expressions, innermost first.
pub struct Env<'e> {
    pub name: &'e str,
    pub value: &'e Value,
    pub parent: Option<&'e Env<'e>>,
}

impl<'e> Env<'e> {
    pub fn get(env: Option<&'e Env<'e>>, name: &str) -> Option<&'e Value> {
        let mut at = env;
        while let Some(e) = at {
            if e.name == name {
                return Some(e.value);
            }
            at = e.parent;
        }
        None
    }
}

impl<'a> Module<'a> {
    pub fn new(texts: &'a [String], budget: &'a Cell<u64>) -> Module<'a> {
        Module {
            texts,
            vars: HashMap::new(),
            declared: Default::default(),
            locals: HashMap::new(),
            budget,
            file: Cell::new(0),
            memo: RefCell::new(HashMap::new()),
            active: RefCell::new(Vec::new()),
            notes: RefCell::new(Vec::new()),
        }
    }

    /// Evaluate an attribute of file `file`: its value, and what in it is a placeholder.
    pub fn attribute(&self, file: usize, expr: &Expression, env: Option<&Env>) -> Result<Given, Fault> {
        let outer_file = self.file.replace(file);
        let outer_notes = self.notes.take();
        let value = self.eval(expr, env);
        let notes = self.notes.replace(outer_notes);
        self.file.set(outer_file);
        value.map(|value| Given { value, notes })
    }

    /// The source text of an expression.
    pub fn text(&self, expr: &Expression) -> String {
        let text = self.texts.get(self.file.get()).map(String::as_str).unwrap_or("");
        expr.span().and_then(|r| text.get(r)).map_or_else(|| "…".to_string(), |t| t.trim().to_string())
    }

    fn charge(&self, steps: u64) -> Result<(), Fault> {
        let left = self.budget.get();
        if left < steps {
            self.budget.set(0);
            return Err(Fault::Budget);
        }
        self.budget.set(left - steps);
        Ok(())
    }

    /// A placeholder for what only Terraform knows, with a note saying why.
    fn unknown(&self, expr: &Expression, why: &str) -> Eval {
        let text = self.text(expr);
        self.notes.borrow_mut().push(format!("{text}: {why}"));
        Ok(Value::String(format!("${{{text}}}")))
    }

    pub fn eval(&self, expr: &Expression, env: Option<&Env>) -> Eval {
        self.charge(1)?;
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(**b)),
            Expression::Number(n) => Ok(n.as_f64().map_or(Value::Null, number)),
            Expression::String(s) => {
                self.charge(size_of_text(s.value()))?;
                Ok(Value::String(s.value().clone()))
            }
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    out.push(self.eval(item, env)?);
                }
                Ok(Value::Array(out))
            }
            Expression::Object(object) => {
                let mut out = Map::new();
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(e) => as_text(&self.eval(e, env)?)?,
                    };
                    out.insert(key, self.eval(value.expr(), env)?);
                }
                Ok(Value::Object(out))
            }
            Expression::StringTemplate(t) => self.template(t, env),
            Expression::HeredocTemplate(h) => {
                let value = self.template(&h.template, env)?;
                Ok(match (h.indent(), value) {
                    (Some(indent), Value::String(s)) => Value::String(dedent(&s, indent)),
                    (_, value) => value,
                })
            }
            Expression::Parenthesis(p) => self.eval(p.inner(), env),
            Expression::Variable(name) => self.variable(expr, name.as_str(), env),
            Expression::Conditional(c) => {
                if truthy(&self.eval(&c.cond_expr, env)?)? {
                    self.eval(&c.true_expr, env)
                } else {
                    self.eval(&c.false_expr, env)
                }
            }
            Expression::FuncCall(call) => {
                if !call.name.namespace.is_empty() {
                    return self.unknown(expr, "provider functions are not evaluated here");
                }
                let name = call.name.name.as_str();
                match name {
                    // These two look at whether their arguments fail, so they take them unevaluated.
                    "try" => {
                        for arg in call.args.iter() {
                            match self.eval(arg, env) {
                                Err(Fault::Error(_)) => continue,
                                other => return other,
                            }
                        }
                        error("try: no argument could be evaluated")
                    }
                    "can" => match call.args.get(0).map(|a| self.eval(a, env)) {
                        Some(Err(Fault::Budget)) => Err(Fault::Budget),
                        Some(result) => Ok(Value::Bool(result.is_ok())),
                        None => error("can: takes one argument"),
                    },
                    _ if !functions::known(name) => self.unknown(expr, "this function is not evaluated here"),
                    _ => {
                        let mut args = Vec::with_capacity(call.args.len());
                        for arg in call.args.iter() {
                            args.push(self.eval(arg, env)?);
                        }
                        if call.args.expand_final()
                            && let Some(Value::Array(last)) = args.pop()
                        {
                            args.extend(last);
                        }
                        let result = functions::call(name, args)?;
                        self.charge(size(&result))?;
                        Ok(result)
                    }
                }
            }
            Expression::Traversal(t) => self.traversal(expr, &t.expr, &t.operators, env),
            Expression::UnaryOp(op) => {
                let value = self.eval(&op.expr, env)?;
                match *op.operator {
                    UnaryOperator::Neg => Ok(number(-as_number(&value)?)),
                    UnaryOperator::Not => Ok(Value::Bool(!truthy(&value)?)),
                }
            }
            Expression::BinaryOp(op) => {
                let lhs = self.eval(&op.lhs_expr, env)?;
                // `&&` and `||` do not short-circuit in Terraform either, but evaluating both
                // sides first keeps an error on the right from being hidden.
                let rhs = self.eval(&op.rhs_expr, env)?;
                binary(*op.operator.value(), &lhs, &rhs)
            }
            Expression::ForExpr(f) => self.for_expr(f, env),
        }
    }

    fn variable(&self, expr: &Expression, name: &str, env: Option<&Env>) -> Eval {
        if let Some(value) = Env::get(env, name) {
            self.charge(size(value))?;
            return Ok(value.clone());
        }
        self.unknown(expr, "known only when Terraform runs")
    }

    fn traversal(
        &self,
        whole: &Expression,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        env: Option<&Env>,
    ) -> Eval {
        // `var.x`, `local.x`: the module's own values.
        if let Expression::Variable(name) = root
            && Env::get(env, name.as_str()).is_none()
            && let Some(TraversalOperator::GetAttr(attr)) = ops.first().map(|o| o.value())
        {
            let attr = attr.as_str();
            let given = match name.as_str() {
                "var" => match self.vars.get(attr) {
                    Some(given) => Some(Ok(given.clone())),
                    None if self.declared.contains(attr) => {
                        return self.unknown(whole, &format!("variable `{attr}` has no default and no value given"));
                    }
                    None => return error(format!("var.{attr} is not declared in this module")),
                },
                "local" => Some(self.local(attr)),
                _ => None,
            };
            if let Some(given) = given {
                let given = given?;
                if !given.notes.is_empty() {
                    self.notes.borrow_mut().extend(given.notes);
                }
                self.charge(size(&given.value))?;
                return self.apply(given.value, &ops[1..], env);
            }
            return self.unknown(whole, "known only when Terraform runs");
        }
        let base = self.eval(root, env)?;
        self.apply(base, ops, env)
    }

    fn local(&self, name: &str) -> Result<Given, Fault> {
        if let Some(done) = self.memo.borrow().get(name) {
            return done.clone();
        }
        let Some(local) = self.locals.get(name) else {
            return error(format!("local.{name} is not defined in this module"));
        };
        {
            let mut active = self.active.borrow_mut();
            if active.iter().any(|a| a == name) {
                return error(format!("local.{name} refers to itself"));
            }
            if active.len() >= MAX_LOCAL_CHAIN {
                return error(format!("local.{name}: locals refer to locals more than {MAX_LOCAL_CHAIN} deep"));
            }
            active.push(name.to_string());
        }
        // Locals see the module's variables and locals only, never the instance's `each`.
        let result = self.attribute(local.file, local.expr, None);
        self.active.borrow_mut().pop();
        self.memo.borrow_mut().insert(name.to_string(), result.clone());
        result
    }

    /// Apply `.attr`, `[index]` and splats to a value.
    fn apply(&self, mut value: Value, ops: &[hcl_edit::Decorated<TraversalOperator>], env: Option<&Env>) -> Eval {
        for (i, op) in ops.iter().enumerate() {
            self.charge(1)?;
            value = match op.value() {
                TraversalOperator::GetAttr(attr) => field(value, attr.as_str())?,
                TraversalOperator::LegacyIndex(n) => index(value, &Value::from(**n))?,
                TraversalOperator::Index(e) => {
                    let key = self.eval(e, env)?;
                    index(value, &key)?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match value {
                        Value::Array(items) => items,
                        Value::Null => Vec::new(),
                        single => vec![single],
                    };
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.apply(item, &ops[i + 1..], env)?);
                    }
                    return Ok(Value::Array(out));
                }
            };
        }
        Ok(value)
    }

    fn for_expr(&self, f: &ForExpr, env: Option<&Env>) -> Eval {
        let collection = self.eval(&f.intro.collection_expr, env)?;
        let pairs: Vec<(Value, Value)> = match collection {
            Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
            // Terraform walks maps in key order.
            Value::Object(map) => {
                let mut pairs: Vec<(Value, Value)> = map.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
                pairs.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
                pairs
            }
            Value::Null => return error("for: the collection is null"),
            other => return error(format!("for: cannot iterate over {}", kind(&other))),
        };
        let value_name = f.intro.value_var.as_str();
        let key_name = f.intro.key_var.as_ref().map(|k| k.as_str());
        let mut list = Vec::new();
        let mut object = Map::new();
        for (key, value) in &pairs {
            self.charge(1)?;
            let value_env = Env { name: value_name, value, parent: env };
            let key_env;
            let inner = match key_name {
                Some(name) => {
                    key_env = Env { name, value: key, parent: Some(&value_env) };
                    &key_env
                }
                None => &value_env,
            };
            if let Some(cond) = &f.cond
                && !truthy(&self.eval(&cond.expr, Some(inner))?)?
            {
                continue;
            }
            let item = self.eval(&f.value_expr, Some(inner))?;
            match &f.key_expr {
                None => list.push(item),
                Some(k) => {
                    let k = as_text(&self.eval(k, Some(inner))?)?;
                    if f.grouping {
                        if let Value::Array(group) = object.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                            group.push(item);
                        }
                    } else if object.contains_key(&k) {
                        return error(format!("for: duplicate key `{k}` (use `...` to group)"));
                    } else {
                        object.insert(k, item);
                    }
                }
            }
        }
        Ok(if f.key_expr.is_some() { Value::Object(object) } else { Value::Array(list) })
    }

    fn template(&self, template: &Template, env: Option<&Env>) -> Eval {
        // `"${x}"` alone is x itself, not x as text.
        if let Some(Element::Interpolation(i)) = template.as_single_element() {
            return self.eval(&i.expr, env);
        }
        let mut out = String::new();
        self.render(template, env, &mut out)?;
        Ok(Value::String(out))
    }

    fn render(&self, template: &Template, env: Option<&Env>, out: &mut String) -> Result<(), Fault> {
        for element in template.iter() {
            match element {
                Element::Literal(text) => {
                    self.charge(size_of_text(text))?;
                    out.push_str(text);
                }
                Element::Interpolation(i) => {
                    let value = self.eval(&i.expr, env)?;
                    let text = as_text(&value)?;
                    self.charge(size_of_text(&text))?;
                    out.push_str(&text);
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        if truthy(&self.eval(&d.if_expr.cond_expr, env)?)? {
                            self.render(&d.if_expr.template, env, out)?;
                        } else if let Some(otherwise) = &d.else_expr {
                            self.render(&otherwise.template, env, out)?;
                        }
                    }
                    Directive::For(d) => {
                        let f = &d.for_expr;
                        let pairs: Vec<(Value, Value)> = match self.eval(&f.collection_expr, env)? {
                            Value::Array(items) => {
                                items.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect()
                            }
                            Value::Object(map) => map.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                            other => return error(format!("for: cannot iterate over {}", kind(&other))),
                        };
                        for (key, value) in &pairs {
                            self.charge(1)?;
                            let value_env = Env { name: f.value_var.as_str(), value, parent: env };
                            let key_env;
                            let inner = match &f.key_var {
                                Some(name) => {
                                    key_env = Env { name: name.as_str(), value: key, parent: Some(&value_env) };
                                    &key_env
                                }
                                None => &value_env,
                            };
                            self.render(&f.template, Some(inner), out)?;
                        }
                    }
                },
            }
        }
        Ok(())
    }
}

/// A number as JSON: whole numbers as integers, as Terraform prints them.
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A number, or a string holding one: Terraform converts between them.
pub fn as_number(v: &Value) -> Result<f64, Fault> {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| error("not a finite number"), Ok),
        Value::String(s) => s.trim().parse().or_else(|_| error(format!("\"{s}\" is not a number"))),
        other => error(format!("expected a number, got {}", kind(other))),
    }
}

/// A value as template text.
pub fn as_text(v: &Value) -> Result<String, Fault> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => error(format!("expected a string, got {}", kind(other))),
    }
}

pub fn truthy(v: &Value) -> Result<bool, Fault> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => error(format!("expected a bool, got {}", kind(other))),
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Steps charged for a value: its nodes, and its text by the eight bytes.
pub fn size(v: &Value) -> u64 {
    let mut steps = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        steps += 1;
        match v {
            Value::String(s) => steps += size_of_text(s),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, v) in map {
                    steps += size_of_text(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    steps
}

fn size_of_text(s: &str) -> u64 {
    s.len() as u64 / 8
}

fn field(value: Value, name: &str) -> Eval {
    match value {
        Value::Object(mut map) => match map.remove(name) {
            Some(v) => Ok(v),
            None => error(format!("has no attribute `{name}`")),
        },
        other => error(format!("cannot take `.{name}` of {}", kind(&other))),
    }
}

fn index(value: Value, key: &Value) -> Eval {
    match value {
        Value::Array(mut items) => {
            let at = as_number(key)?;
            if at < 0.0 || at.fract() != 0.0 || at >= items.len() as f64 {
                return error(format!("index {at} is out of range for a list of {}", items.len()));
            }
            Ok(items.swap_remove(at as usize))
        }
        Value::Object(mut map) => {
            let key = as_text(key)?;
            map.remove(&key).map_or_else(|| error(format!("has no key \"{key}\"")), Ok)
        }
        other => error(format!("cannot index {}", kind(&other))),
    }
}

fn binary(op: BinaryOperator, lhs: &Value, rhs: &Value) -> Eval {
    use BinaryOperator as B;
    Ok(match op {
        B::Eq => Value::Bool(equal(lhs, rhs)),
        B::NotEq => Value::Bool(!equal(lhs, rhs)),
        B::And => Value::Bool(truthy(lhs)? && truthy(rhs)?),
        B::Or => Value::Bool(truthy(lhs)? || truthy(rhs)?),
        B::Less => Value::Bool(as_number(lhs)? < as_number(rhs)?),
        B::LessEq => Value::Bool(as_number(lhs)? <= as_number(rhs)?),
        B::Greater => Value::Bool(as_number(lhs)? > as_number(rhs)?),
        B::GreaterEq => Value::Bool(as_number(lhs)? >= as_number(rhs)?),
        B::Plus => number(as_number(lhs)? + as_number(rhs)?),
        B::Minus => number(as_number(lhs)? - as_number(rhs)?),
        B::Mul => number(as_number(lhs)? * as_number(rhs)?),
        B::Div => {
            let divisor = as_number(rhs)?;
            if divisor == 0.0 {
                return error("division by zero");
            }
            number(as_number(lhs)? / divisor)
        }
        B::Mod => {
            let divisor = as_number(rhs)?;
            if divisor == 0.0 {
                return error("modulo by zero");
            }
            number(as_number(lhs)? % divisor)
        }
    })
}

/// Equality as Terraform sees it: `1 == 1.0`.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `<<-EOT` strips the indentation of its least indented line.
fn dedent(text: &str, indent: usize) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let spaces = line.bytes().take(indent).take_while(|b| *b == b' ').count();
            &line[spaces..]
        })
        .collect()
}
