//! A Terraform module as Terraform reads it: every `.tf` file of a folder together, variables
//! from the caller, `terraform.tfvars` and `*.auto.tfvars` or their defaults, locals, resources
//! expanded by `count` and `for_each`, `dynamic` blocks, and calls of modules in local folders
//! followed with their arguments.
//!
//! Parsing is hcl-edit's (nesting and operator chains bounded there); evaluation is
//! [`super::eval`]'s. Resource bodies come out as the JSON `terraform show -json` writes:
//! nested blocks as arrays of objects under their type.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use serde_json::{Map, Value};

use super::eval::{BUDGET, Env, Given, Local, Module, as_number, as_text};

/// A file of a module: where it came from and its text.
pub struct File {
    pub origin: String,
    pub text: String,
}

/// One instance of a resource: `aws_cloudwatch_metric_alarm.this["RootUsage"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Its address, with the module path: `module.cis.aws_cloudwatch_metric_alarm.this["RootUsage"]`.
    pub address: String,
    /// `file:line` of the resource block.
    pub origin: String,
    pub name: String,
    pub body: Value,
    /// Attributes whose value is not known here: `threshold = var.threshold: variable ...`.
    pub unresolved: Vec<Unresolved>,
}

/// An attribute evaluated only in part.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    /// `threshold`, `metric_query[1].metric[0].period`.
    pub field: String,
    pub why: String,
}

/// What a module tree holds of one resource type, and what could not be followed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub instances: Vec<Instance>,
    /// Module calls not followed, instances left out.
    pub notes: Vec<Note>,
}

/// Something of the module tree that was not read.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// `file:line` of the block.
    pub origin: String,
    /// `module.alarms`.
    pub address: String,
    pub why: String,
}

/// Modules call modules at most this deep; a folder that calls itself stops here too.
const MAX_MODULE_DEPTH: usize = 8;
/// Instances one `count` or `for_each` may make.
const MAX_INSTANCES: usize = 10_000;
/// Attributes that steer Terraform rather than describe the resource.
const META: [&str; 5] = ["count", "for_each", "depends_on", "provider", "lifecycle"];

/// The instances of resources of type `kind` in a module made of `files` (a folder's `.tf`
/// files; `tfvars` its variable files), with local module calls resolved against `dir`.
pub fn resources(files: Vec<File>, tfvars: Vec<File>, dir: Option<&Path>, kind: &str) -> Result<Loaded, String> {
    let module = Parsed::new(files)?;
    let budget = Cell::new(BUDGET);
    let mut inputs = HashMap::new();
    for file in &tfvars {
        let body = super::depth::parse(&file.origin, &file.text)?;
        let texts = [file.text.clone()];
        let empty = Module::new(&texts, &budget);
        for attr in body.attributes() {
            match empty.attribute(0, &attr.value, None) {
                Ok(given) => inputs.insert(attr.key.as_str().to_string(), given),
                Err(fault) => return Err(format!("{}: {}: {fault}", file.origin, attr.key.as_str())),
            };
        }
    }
    let mut loaded = Loaded::default();
    let walk = Walk { kind, budget: &budget, depth: 0, prefix: String::new() };
    walk.module(&module, inputs, dir, &mut loaded);
    if budget.get() == 0 {
        loaded.notes.push(Note {
            origin: module.files.first().map(|f| f.origin.clone()).unwrap_or_default(),
            address: String::new(),
            why: format!("evaluation stopped after {BUDGET} steps: resources after that point are not read"),
        });
    }
    Ok(loaded)
}

/// A module's files, parsed.
struct Parsed {
    files: Vec<File>,
    texts: Vec<String>,
    bodies: Vec<Body>,
}

impl Parsed {
    fn new(files: Vec<File>) -> Result<Parsed, String> {
        let mut bodies = Vec::with_capacity(files.len());
        for file in &files {
            bodies.push(super::depth::parse(&file.origin, &file.text)?);
        }
        let texts = files.iter().map(|f| f.text.clone()).collect();
        Ok(Parsed { files, texts, bodies })
    }

    fn blocks<'p>(&'p self, ident: &'p str) -> impl Iterator<Item = (usize, &'p Block)> + 'p {
        self.bodies
            .iter()
            .enumerate()
            .flat_map(move |(i, body)| body.blocks().filter(move |b| b.ident.as_str() == ident).map(move |b| (i, b)))
    }

    /// `file:line` of a block.
    fn origin(&self, file: usize, block: &Block) -> String {
        let text = self.texts.get(file).map(String::as_str).unwrap_or("");
        let start = block.span().map_or(0, |r| r.start).min(text.len());
        let line = 1 + text.as_bytes()[..start].iter().filter(|b| **b == b'\n').count();
        let origin = self.files.get(file).map(|f| f.origin.as_str()).unwrap_or("");
        format!("{origin}:{line}")
    }
}

struct Walk<'w> {
    kind: &'w str,
    budget: &'w Cell<u64>,
    depth: usize,
    /// `module.a.module.b["x"].`
    prefix: String,
}

impl Walk<'_> {
    fn module(&self, parsed: &Parsed, inputs: HashMap<String, Given>, dir: Option<&Path>, loaded: &mut Loaded) {
        if self.budget.get() == 0 {
            return;
        }
        let mut module = Module::new(&parsed.texts, self.budget);
        for (file, block) in parsed.blocks("variable") {
            let Some(name) = block.labels.first().map(|l| l.as_str().to_string()) else { continue };
            module.declared.insert(name.clone());
            if let Some(given) = inputs.get(&name) {
                module.vars.insert(name, given.clone());
            } else if let Some(default) = block.body.get_attribute("default") {
                // Defaults are literals in Terraform; anything else stays unknown.
                if let Ok(given) = module.attribute(file, &default.value, None) {
                    module.vars.insert(name, given);
                }
            }
        }
        for (file, block) in parsed.blocks("locals") {
            for attr in block.body.attributes() {
                module.locals.insert(attr.key.as_str().to_string(), Local { file, expr: &attr.value });
            }
        }
        for (file, block) in parsed.blocks("resource") {
            if block.labels.first().map(|l| l.as_str()) != Some(self.kind) {
                continue;
            }
            let name = block.labels.get(1).map(|l| l.as_str().to_string()).unwrap_or_default();
            let address = format!("{}{}.{name}", self.prefix, self.kind);
            let origin = parsed.origin(file, block);
            for each in self.instances(&module, file, &block.body, &address, loaded) {
                let env = each.binding.as_ref().map(|(n, v)| Env { name: n, value: v, parent: None });
                let mut unresolved = each.unresolved;
                let body = body_json(&module, file, &block.body, env.as_ref(), "", &mut unresolved);
                loaded.instances.push(Instance {
                    address: each.address,
                    origin: origin.clone(),
                    name: name.clone(),
                    body: Value::Object(body),
                    unresolved,
                });
            }
        }
        for (file, block) in parsed.blocks("module") {
            let origin = parsed.origin(file, block);
            self.call(&module, file, block, &origin, dir, loaded);
        }
    }

    /// A `module "name" { source = "./x" ... }` call: its folder read with the arguments given.
    fn call(&self, parent: &Module, file: usize, block: &Block, origin: &str, dir: Option<&Path>, loaded: &mut Loaded) {
        let name = block.labels.first().map(|l| l.as_str().to_string()).unwrap_or_default();
        let source = block
            .body
            .get_attribute("source")
            .and_then(|s| parent.attribute(file, &s.value, None).ok())
            .and_then(|g| g.value.as_str().map(str::to_string))
            .unwrap_or_default();
        let address = format!("{}module.{name}", self.prefix);
        let mut note = |why: String| {
            loaded.notes.push(Note { origin: origin.to_string(), address: address.clone(), why });
        };
        if !(source.starts_with("./") || source.starts_with("../")) {
            note(format!("source \"{source}\" is not a local folder; its resources are not read"));
            return;
        }
        let Some(dir) = dir else {
            note(format!("give the folder of the file, not the file, to read \"{source}\""));
            return;
        };
        if self.depth + 1 >= MAX_MODULE_DEPTH {
            note(format!("modules nest deeper than {MAX_MODULE_DEPTH}; not read"));
            return;
        }
        let child_dir = normalize(&dir.join(&source));
        let parsed = match read_folder(&child_dir).and_then(|(files, _)| Parsed::new(files)) {
            Ok(parsed) => parsed,
            Err(e) => {
                note(e);
                return;
            }
        };
        for each in self.instances(parent, file, &block.body, &address, loaded) {
            let env = each.binding.as_ref().map(|(n, v)| Env { name: n, value: v, parent: None });
            let mut inputs = HashMap::new();
            for attr in block.body.attributes() {
                let key = attr.key.as_str();
                if META.contains(&key) || matches!(key, "source" | "version" | "providers") {
                    continue;
                }
                if let Ok(given) = parent.attribute(file, &attr.value, env.as_ref()) {
                    inputs.insert(key.to_string(), given);
                }
            }
            let walk = Walk {
                kind: self.kind,
                budget: self.budget,
                depth: self.depth + 1,
                prefix: format!("{}.", each.address),
            };
            walk.module(&parsed, inputs, Some(&child_dir), loaded);
        }
    }

    /// The instances `count` or `for_each` make of a block, each with its `count`/`each` binding.
    fn instances(&self, module: &Module, file: usize, body: &Body, address: &str, loaded: &mut Loaded) -> Vec<Each> {
        let one = |unresolved| vec![Each { address: address.to_string(), binding: None, unresolved }];
        let (meta, attr) = match (body.get_attribute("count"), body.get_attribute("for_each")) {
            (Some(c), _) => ("count", c),
            (None, Some(f)) => ("for_each", f),
            (None, None) => return one(Vec::new()),
        };
        let text = module_text(module, file, &attr.value);
        let unread = |why: String| {
            vec![Unresolved { field: meta.to_string(), why: format!("{meta} = {text}: {why}; read as one instance") }]
        };
        let given = match module.attribute(file, &attr.value, None) {
            Ok(given) if given.notes.is_empty() => given.value,
            Ok(given) => return one(unread(given.notes.join("; "))),
            Err(fault) => return one(unread(fault.to_string())),
        };
        let mut out = Vec::new();
        if meta == "count" {
            let n = match as_number(&given) {
                Ok(n) if n >= 0.0 && n.fract() == 0.0 => n as usize,
                _ => return one(unread("not a whole number".into())),
            };
            for i in 0..n.min(MAX_INSTANCES) {
                if !spend(self.budget) {
                    break;
                }
                out.push(Each {
                    address: format!("{address}[{i}]"),
                    binding: Some(("count".into(), serde_json::json!({"index": i}))),
                    unresolved: Vec::new(),
                });
            }
        } else {
            let pairs: Vec<(String, Value)> = match given {
                Value::Object(map) => {
                    let mut pairs: Vec<_> = map.into_iter().collect();
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    pairs
                }
                Value::Array(items) => {
                    let mut pairs = Vec::new();
                    for item in items {
                        match as_text(&item) {
                            Ok(key) => pairs.push((key, item)),
                            Err(_) => return one(unread("for_each over a list needs strings (a set)".into())),
                        }
                    }
                    pairs
                }
                _ => return one(unread("not a map or a set".into())),
            };
            for (key, value) in pairs.into_iter().take(MAX_INSTANCES) {
                if !spend(self.budget) {
                    break;
                }
                let quoted = serde_json::to_string(&key).unwrap_or_default();
                out.push(Each {
                    address: format!("{address}[{quoted}]"),
                    binding: Some(("each".into(), serde_json::json!({"key": key, "value": value}))),
                    unresolved: Vec::new(),
                });
            }
        }
        if out.len() == MAX_INSTANCES {
            loaded.notes.push(Note {
                origin: String::new(),
                address: address.to_string(),
                why: format!("only the first {MAX_INSTANCES} instances are read"),
            });
        }
        out
    }
}

/// Take one step of the budget, if any is left.
fn spend(budget: &Cell<u64>) -> bool {
    let left = budget.get();
    budget.set(left.saturating_sub(1));
    left > 0
}

struct Each {
    address: String,
    binding: Option<(String, Value)>,
    unresolved: Vec<Unresolved>,
}

fn module_text(module: &Module, file: usize, expr: &Expression) -> String {
    let text = module.texts.get(file).map(String::as_str).unwrap_or("");
    expr.span().and_then(|r| text.get(r)).map_or_else(|| "…".into(), |t| t.trim().to_string())
}

/// A body as JSON, each attribute evaluated; what is not known is noted under its field path.
fn body_json(
    module: &Module,
    file: usize,
    body: &Body,
    env: Option<&Env>,
    path: &str,
    unresolved: &mut Vec<Unresolved>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for attr in body.attributes() {
        let key = attr.key.as_str();
        if META.contains(&key) {
            continue;
        }
        let field = format!("{path}{key}");
        let text = module_text(module, file, &attr.value);
        let value = match module.attribute(file, &attr.value, env) {
            Ok(given) => {
                if !given.notes.is_empty() {
                    // A note on the whole expression need not repeat it.
                    let whole = format!("{text}: ");
                    let notes: Vec<&str> =
                        given.notes.iter().map(|n| n.strip_prefix(whole.as_str()).unwrap_or(n)).collect();
                    unresolved.push(Unresolved { field, why: format!("{key} = {text}: {}", notes.join("; ")) });
                }
                given.value
            }
            Err(fault) => {
                unresolved.push(Unresolved { field, why: format!("{key} = {text}: {fault}") });
                Value::Null
            }
        };
        out.insert(key.to_string(), value);
    }
    for block in body.blocks() {
        let ident = block.ident.as_str();
        if ident == "lifecycle" {
            continue;
        }
        if ident == "dynamic" {
            dynamic(module, file, block, env, path, &mut out, unresolved);
            continue;
        }
        let items = out.entry(ident.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        let at = items.as_array().map_or(0, Vec::len);
        let inner = body_json(module, file, &block.body, env, &format!("{path}{ident}[{at}]."), unresolved);
        if let Value::Array(items) = items {
            items.push(Value::Object(inner));
        }
    }
    out
}

/// `dynamic "metric_query" { for_each = ...; content { ... } }`: one block per element, with
/// the iterator (`metric_query`, or as `iterator` names it) bound to its key and value.
fn dynamic(
    module: &Module,
    file: usize,
    block: &Block,
    env: Option<&Env>,
    path: &str,
    out: &mut Map<String, Value>,
    unresolved: &mut Vec<Unresolved>,
) {
    let Some(label) = block.labels.first().map(|l| l.as_str().to_string()) else { return };
    let field = format!("{path}{label}");
    let iterator = block
        .body
        .get_attribute("iterator")
        .and_then(|a| a.value.as_variable().map(|v| v.as_str().to_string()))
        .unwrap_or_else(|| label.clone());
    let (Some(for_each), Some(content)) =
        (block.body.get_attribute("for_each"), block.body.blocks().find(|b| b.ident.as_str() == "content"))
    else {
        return;
    };
    let text = module_text(module, file, &for_each.value);
    let collection = match module.attribute(file, &for_each.value, env) {
        Ok(given) if given.notes.is_empty() => given.value,
        Ok(given) => {
            unresolved.push(Unresolved {
                field,
                why: format!("dynamic \"{label}\" for_each = {text}: {}", given.notes.join("; ")),
            });
            return;
        }
        Err(fault) => {
            unresolved.push(Unresolved { field, why: format!("dynamic \"{label}\" for_each = {text}: {fault}") });
            return;
        }
    };
    let pairs: Vec<(Value, Value)> = match collection {
        Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
        Value::Object(map) => {
            let mut pairs: Vec<_> = map.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
            pairs.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
            pairs
        }
        Value::Null => Vec::new(),
        other => {
            unresolved.push(Unresolved {
                field,
                why: format!("dynamic \"{label}\" for_each = {text}: not a collection ({other})"),
            });
            return;
        }
    };
    for (key, value) in pairs.into_iter().take(MAX_INSTANCES) {
        let bound = serde_json::json!({"key": key, "value": value});
        let inner_env = Env { name: &iterator, value: &bound, parent: env };
        let items = out.entry(label.clone()).or_insert_with(|| Value::Array(Vec::new()));
        let at = items.as_array().map_or(0, Vec::len);
        let inner =
            body_json(module, file, &content.body, Some(&inner_env), &format!("{path}{label}[{at}]."), unresolved);
        if let Some(items) = out.get_mut(&label).and_then(Value::as_array_mut) {
            items.push(Value::Object(inner));
        }
    }
}

/// `a/b/../c` as `a/c`, without asking the file system: origins name the module's folder as
/// people write it.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The `.tf` files of a folder, sorted, and its `terraform.tfvars` and `*.auto.tfvars`.
pub fn read_folder(dir: &Path) -> Result<(Vec<File>, Vec<File>), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p)
            .map(|text| File { origin: p.display().to_string(), text })
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut files = Vec::new();
    let mut tfvars = Vec::new();
    for path in &paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tf") {
            files.push(read(path)?);
        } else if name == "terraform.tfvars" || name.ends_with(".auto.tfvars") {
            tfvars.push(read(path)?);
        }
    }
    if files.is_empty() {
        return Err(format!("{}: holds no .tf files", dir.display()));
    }
    Ok((files, tfvars))
}
