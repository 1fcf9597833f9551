//! Resolving `import "name" as name;`: stdlib modules from `$DEPLOYCLAW_STDLIB`, a `stdlib`
//! folder next to the binary or at the root of the current repository, else the copy embedded
//! in the binary. Paths starting with `.` or `/` are files relative to the importing script.

use super::Locked;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// Where stdlib modules come from.
#[derive(Debug, Clone, PartialEq)]
pub enum StdlibSource {
    Dir(PathBuf),
    Embedded,
}

impl StdlibSource {
    /// `$DEPLOYCLAW_STDLIB`, else `stdlib/` next to the binary, else `stdlib/` at the root of the
    /// git repository holding the current directory, else the embedded copy.
    pub fn locate() -> StdlibSource {
        if let Some(dir) = std::env::var_os("DEPLOYCLAW_STDLIB").filter(|d| !d.is_empty()) {
            return StdlibSource::Dir(PathBuf::from(dir));
        }
        let beside_binary =
            std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("stdlib"))).filter(|d| d.is_dir());
        let in_repo = || {
            let cwd = std::env::current_dir().ok()?;
            let root = cwd.ancestors().find(|d| d.join(".git").exists())?;
            Some(root.join("stdlib")).filter(|d| d.is_dir())
        };
        beside_binary.or_else(in_repo).map_or(StdlibSource::Embedded, StdlibSource::Dir)
    }

    /// Names of the available modules.
    pub fn modules(&self) -> Vec<String> {
        match self {
            StdlibSource::Embedded => EMBEDDED.iter().map(|(n, _)| n.to_string()).collect(),
            StdlibSource::Dir(dir) => {
                let mut names: Vec<String> = std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".rhai").map(str::to_string))
                    .collect();
                names.sort();
                names
            }
        }
    }

    fn source(&self, name: &str) -> Option<(String, String)> {
        match self {
            StdlibSource::Embedded => {
                EMBEDDED.iter().find(|(n, _)| *n == name).map(|(n, s)| (format!("stdlib:{n}"), s.to_string()))
            }
            StdlibSource::Dir(dir) => {
                let path = dir.join(format!("{name}.rhai"));
                std::fs::read_to_string(&path).ok().map(|s| (path.display().to_string(), s))
            }
        }
    }
}

/// The module resolver. Compiled modules are cached for the life of the engine, so re-importing
/// (the REPL re-runs a session's imports before each statement) costs a map lookup.
pub struct Resolver {
    stdlib: StdlibSource,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl Resolver {
    pub fn new(stdlib: StdlibSource) -> Resolver {
        Resolver { stdlib, cache: Mutex::new(HashMap::new()) }
    }

    fn load(
        &self,
        engine: &Engine,
        label: &str,
        text: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let mut ast = engine
            .compile(text)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(label.to_string(), e.into(), pos)))?;
        ast.set_source(label);
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(label.to_string(), e, pos)))?;
        Ok(module.into())
    }
}

/// Rhai replaces a resolver's `ErrorModuleNotFound` with its own bare one; an error "in" the
/// module keeps our explanation.
fn not_found(path: &str, detail: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorInModule(path.to_string(), super::rt_error(detail), pos))
}

fn is_file_path(path: &str) -> bool {
    path.starts_with('.') || path.starts_with('/') || path.ends_with(".rhai")
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let (key, label, text) = if is_file_path(path) {
            let base = source.map(Path::new).and_then(Path::parent).filter(|p| p.is_dir());
            let mut file = base.map_or_else(|| PathBuf::from(path), |b| b.join(path));
            if file.extension().is_none() {
                file.set_extension("rhai");
            }
            let key = file.canonicalize().unwrap_or_else(|_| file.clone()).display().to_string();
            if let Some(module) = self.cache.locked().get(&key) {
                return Ok(module.clone());
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| not_found(path, format!("cannot read {}: {e}", file.display()), pos))?;
            (key, file.display().to_string(), text)
        } else {
            let key = format!("stdlib:{path}");
            if let Some(module) = self.cache.locked().get(&key) {
                return Ok(module.clone());
            }
            let (label, text) = self.stdlib.source(path).ok_or_else(|| {
                let known = self.stdlib.modules().join(", ");
                let detail =
                    format!("no such stdlib module (stdlib modules: {known}; files are imported as \"./name\")");
                not_found(path, detail, pos)
            })?;
            (key, label, text)
        };
        let module = self.load(engine, &label, &text, pos)?;
        self.cache.locked().insert(key, module.clone());
        Ok(module)
    }
}

/// One documented function of a stdlib module: its `///` comment, with `Example:` and
/// `Result:` lines taken out as examples.
#[derive(Debug, Clone, PartialEq)]
pub struct StdlibFn {
    pub name: String,
    pub summary: String,
    /// (code, the JSON it gives, if documented)
    pub examples: Vec<(String, Option<String>)>,
}

/// The public functions of a stdlib module's source, with their docs (private ones are left out).
pub fn documented_functions(source: &str) -> Vec<StdlibFn> {
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.strip_prefix(' ').unwrap_or(text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("fn ") {
            let name = rest.split('(').next().unwrap_or("").trim().to_string();
            let mut summary = Vec::new();
            let mut examples: Vec<(String, Option<String>)> = Vec::new();
            for text in &doc {
                if let Some(code) = text.strip_prefix("Example:") {
                    examples.push((code.trim().to_string(), None));
                } else if let Some(result) = text.strip_prefix("Result:") {
                    if let Some(last) = examples.last_mut() {
                        last.1 = Some(result.trim().to_string());
                    }
                } else {
                    summary.push(*text);
                }
            }
            out.push(StdlibFn { name, summary: summary.join(" ").trim().to_string(), examples });
        }
        doc.clear();
    }
    out
}

impl StdlibSource {
    /// A module's source text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.source(name).map(|(_, text)| text)
    }
}

#[cfg(test)]
mod doc_tests {
    use super::documented_functions;

    #[test]
    fn docs_examples_and_private_functions() {
        let src = "/// Adds.\n/// Example: m::add(1, 2)\n/// Result: 3\nfn add(a, b) { a + b }\n/// Hidden.\nprivate fn h() {}\nfn bare() {}";
        let fns = documented_functions(src);
        assert_eq!(fns.len(), 2);
        assert_eq!(fns[0].name, "add");
        assert_eq!(fns[0].summary, "Adds.");
        assert_eq!(fns[0].examples, vec![("m::add(1, 2)".to_string(), Some("3".to_string()))]);
        assert!(fns[1].examples.is_empty() && fns[1].summary.is_empty());
    }
}
