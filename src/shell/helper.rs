//! The line editor's helper: completion, hints, highlighting and multi-line input.

use super::commands::COMMANDS;
use crate::engine::lexer::{Kind, lex, string_start_at};
use crate::engine::{Docs, Var};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break", "continue", "return",
    "throw", "try", "catch", "switch", "import", "export", "as", "true", "false", "private", "global",
];

/// Methods Rhai itself provides on its built-in types, offered after `value.`.
const BUILTIN_METHODS: &[(&str, &[&str])] = &[
    (
        "string",
        &[
            "len",
            "contains",
            "starts_with",
            "ends_with",
            "index_of",
            "sub_string",
            "split",
            "replace",
            "trim",
            "to_upper",
            "to_lower",
            "is_empty",
            "chars",
        ],
    ),
    (
        "array",
        &[
            "len", "push", "pop", "insert", "remove", "contains", "filter", "map", "reduce", "sort", "reverse",
            "index_of", "is_empty", "for_each", "all", "some",
        ],
    ),
    ("map", &["len", "keys", "values", "contains", "remove", "get", "is_empty", "to_json"]),
];

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// What the helper needs to know about the session; the shell refreshes `vars` after each input.
pub struct ShellHelper {
    docs: Arc<Docs>,
    pub vars: Arc<Mutex<Vec<Var>>>,
    pub script_functions: Arc<Mutex<Vec<String>>>,
    modules: Vec<String>,
    color: bool,
}

impl ShellHelper {
    pub fn new(docs: Arc<Docs>, modules: Vec<String>, color: bool) -> ShellHelper {
        ShellHelper {
            docs,
            vars: Arc::new(Mutex::new(Vec::new())),
            script_functions: Arc::new(Mutex::new(Vec::new())),
            modules,
            color,
        }
    }

    fn var_type(&self, name: &str) -> Option<String> {
        self.vars.lock().expect("vars lock").iter().rev().find(|v| v.name == name).map(|v| v.type_name.clone())
    }

    /// Candidates for the word ending at the cursor, and where that word starts.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        if let Some(start) = string_start_at(line, pos) {
            return path_candidates(&line[start..pos]).map_or((pos, vec![]), |(offset, c)| (start + offset, c));
        }
        if let Some(rest) = before.strip_prefix(':') {
            return match rest.split_once(' ') {
                None => {
                    (0, COMMANDS.iter().map(|c| format!(":{}", c.name)).filter(|c| c.starts_with(before)).collect())
                }
                Some(("help", arg)) => {
                    let start = pos - arg.len();
                    (start, self.docs.all().map(|d| d.qualified()).filter(|n| n.starts_with(arg)).collect())
                }
                Some(("load" | "save", arg)) => {
                    let start = pos - arg.len();
                    path_candidates(arg).map_or((pos, vec![]), |(offset, c)| (start + offset, c))
                }
                Some(_) => (pos, vec![]),
            };
        }
        let word_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | ':' | '.'))
            .last()
            .map_or(pos, |(i, _)| i);
        let word = &before[word_start..];
        if let Some((ns, prefix)) = word.rsplit_once("::") {
            let names = self
                .docs
                .all()
                .filter(|d| d.namespace.as_deref() == Some(ns) && d.name.starts_with(prefix))
                .map(|d| format!("{ns}::{}(", d.name));
            return (word_start, names.collect());
        }
        if let Some((receiver, prefix)) = word.rsplit_once('.') {
            let ty = self.var_type(receiver).unwrap_or_default();
            let mut names: BTreeSet<String> = self
                .docs
                .all()
                .filter(|d| d.receiver.as_deref() == Some(ty.as_str()))
                .map(|d| d.name.clone())
                .collect();
            if let Some((_, methods)) = BUILTIN_METHODS.iter().find(|(t, _)| *t == ty) {
                names.extend(methods.iter().map(|m| m.to_string()));
            }
            let start = pos - prefix.len();
            return (start, names.into_iter().filter(|n| n.starts_with(prefix)).map(|n| format!("{n}(")).collect());
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.extend(self.vars.lock().expect("vars lock").iter().map(|v| v.name.clone()));
        names.extend(self.script_functions.lock().expect("fns lock").iter().map(|f| format!("{f}(")));
        names.extend(
            self.docs.all().filter(|d| d.namespace.is_none() && d.receiver.is_none()).map(|d| format!("{}(", d.name)),
        );
        names.extend(self.docs.namespaces().into_iter().map(|ns| format!("{ns}::")));
        names.extend(KEYWORDS.iter().map(|k| k.to_string()));
        if before[..word_start].trim_end().ends_with("import") {
            names.extend(self.modules.iter().map(|m| format!("\"{m}\"")));
        }
        (word_start, names.into_iter().filter(|n| n.starts_with(word) && !word.is_empty()).collect())
    }

    fn usage_hint(&self, line: &str) -> Option<String> {
        let callee = line.strip_suffix('(')?;
        let start = callee
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | ':' | '.'))
            .last()?
            .0;
        let word = &callee[start..];
        let name = word.rsplit_once('.').map_or(word, |(_, m)| m);
        let doc = self.docs.get(name)?;
        let usage = doc.usage.first()?;
        let args = usage.split_once('(')?.1;
        Some(args.to_string())
    }
}

/// Files and folders completing `partial` (text typed inside a string or after `:load`).
/// Returns the offset within `partial` where the completed name starts.
fn path_candidates(partial: &str) -> Option<(usize, Vec<String>)> {
    let (dir, prefix, offset) = match partial.rfind('/') {
        Some(i) => (&partial[..=i], &partial[i + 1..], i + 1),
        None => ("", partial, 0),
    };
    let read_from = if dir.is_empty() { Path::new(".") } else { Path::new(dir) };
    let mut names: Vec<String> = std::fs::read_dir(read_from)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort();
    Some((offset, names))
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, names) = self.candidates(line, pos);
        Ok((start, names.into_iter().map(|n| Pair { display: n.clone(), replacement: n }).collect()))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        if pos < line.len() || line.trim().is_empty() {
            return None;
        }
        if let Some(args) = self.usage_hint(line) {
            return Some(args);
        }
        let (start, names) = self.candidates(line, pos);
        let typed = &line[start..pos];
        match names.as_slice() {
            [only] if typed.len() >= 2 && only.len() > typed.len() => Some(only[typed.len()..].to_string()),
            _ => None,
        }
    }
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color {
            return Cow::Borrowed(line);
        }
        if line.starts_with(':') {
            return Cow::Owned(format!("\x1b[33m{line}{RESET}"));
        }
        let (tokens, _) = lex(line);
        let mut out = String::with_capacity(line.len() * 2);
        for (i, t) in tokens.iter().enumerate() {
            let text = &line[t.start..t.end];
            let next_is_call = tokens.get(i + 1).is_some_and(|n| &line[n.start..n.end] == "(");
            let next_is_ns = line[t.end..].starts_with("::");
            let color = match t.kind {
                Kind::Str => Some("\x1b[32m"),
                Kind::Number => Some("\x1b[36m"),
                Kind::Comment => Some(DIM),
                Kind::Ident if KEYWORDS.contains(&text) => Some("\x1b[35m"),
                Kind::Ident if next_is_ns => Some("\x1b[34;1m"),
                Kind::Ident if next_is_call => Some("\x1b[34m"),
                _ => None,
            };
            match color {
                Some(c) => {
                    out.push_str(c);
                    out.push_str(text);
                    out.push_str(RESET);
                }
                None => out.push_str(text),
            }
        }
        Cow::Owned(out)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("{DIM}{hint}{RESET}")) } else { Cow::Borrowed(hint) }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || lex(input).1.is_complete() {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Helper for ShellHelper {}
