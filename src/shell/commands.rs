//! The REPL's `:commands`.

use crate::engine::{Session, render};
use crate::evidence::redact;
use std::path::Path;

pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub about: &'static str,
}

pub const COMMANDS: &[Command] = &[
    Command { name: "help", args: "[name]", about: "these commands, or the documentation of a function" },
    Command { name: "load", args: "FILE", about: "run a script file in this session" },
    Command {
        name: "save",
        args: "FILE",
        about: "write this session's statements as a runnable script (:save! overwrites)",
    },
    Command { name: "vars", args: "", about: "the variables in scope and their types" },
    Command { name: "log", args: "", about: "the path of this session's signed log" },
    Command { name: "quit", args: "", about: "seal the log and leave (Ctrl-D does the same)" },
];

/// What the loop does after a command.
pub enum Next {
    Continue,
    Quit,
}

/// Run `:name args`, printing its output.
pub fn run(session: &mut Session, input: &str, width: usize) -> Next {
    let input = input.trim().trim_start_matches(':');
    let (name, arg) = input.split_once(char::is_whitespace).map_or((input, ""), |(n, a)| (n, a.trim()));
    match name {
        "help" | "h" | "?" if arg.is_empty() => {
            println!("Commands:");
            for c in COMMANDS {
                println!("  :{:<16} {}", format!("{} {}", c.name, c.args).trim_end(), c.about);
            }
            println!("\nhelp() lists every function; :help NAME (or help(\"NAME\")) documents one.");
            println!("Tab completes names, methods of a variable's value, and paths inside strings.");
        }
        "help" | "h" | "?" => match session.docs().get(arg) {
            Some(doc) => println!("{}", doc.help()),
            None => eprintln!("no function named {arg:?}; help() lists them all"),
        },
        "load" if !arg.is_empty() => load(session, arg, width),
        "save" | "save!" if !arg.is_empty() => save(session, Path::new(arg), name == "save!"),
        "vars" => {
            let vars = session.vars();
            if vars.is_empty() {
                println!("no variables");
            }
            let w = vars.iter().map(|v| v.name.len()).max().unwrap_or(0);
            for v in vars {
                let kind = if v.constant { "const" } else { "let" };
                println!("{kind:<5} {:<w$}  {}", v.name, v.type_name);
            }
        }
        "log" => match session.log_path() {
            Some(path) => println!("{}", path.display()),
            None => println!("this session keeps no log"),
        },
        "quit" | "q" | "exit" => return Next::Quit,
        "load" | "save" | "save!" => eprintln!(":{name} needs a file: :{name} FILE"),
        _ => eprintln!("unknown command :{name}; :help lists the commands"),
    }
    Next::Continue
}

fn load(session: &mut Session, file: &str, width: usize) {
    match std::fs::read_to_string(file) {
        Ok(text) => match session.eval(&text, file) {
            Ok(value) => {
                let shown = render(&value, width);
                if !shown.is_empty() {
                    println!("{shown}");
                }
            }
            Err(failure) => eprintln!("error: {failure}"),
        },
        Err(e) => eprintln!("cannot read {file}: {e}"),
    }
}

fn save(session: &Session, path: &Path, overwrite: bool) {
    if path.exists() && !overwrite {
        eprintln!("{} exists; use :save! {} to replace it", path.display(), path.display());
        return;
    }
    let text: String = session.history().iter().map(|s| format!("{}\n", s.trim_end())).collect();
    let clean = redact(&text);
    let written = std::fs::write(path, clean.as_bytes());
    match written {
        Ok(()) => {
            println!("saved {} statement(s) to {}", session.history().len(), path.display());
            if clean != text {
                eprintln!(
                    "note: secrets were replaced by [REDACTED]; pass them with --param or the environment instead"
                );
            }
        }
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
