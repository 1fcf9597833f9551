//! The interactive shell: a rustyline editor over a session.

mod commands;
pub mod helper;

use crate::engine::{Failure, Session, render};
use crate::evidence::redact;
use helper::ShellHelper;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use std::io::IsTerminal;

const PROMPT: &str = "dc> ";

/// Run the REPL until `:quit` or Ctrl-D, then seal the session log. Returns the exit code.
pub fn run(mut session: Session, width: fn() -> usize) -> u8 {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .max_history_size(10_000)
        .expect("a positive history size")
        .build();
    let mut editor: Editor<ShellHelper, FileHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("deployclaw: cannot start the line editor: {e}");
            return 1;
        }
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let helper = ShellHelper::new(session.docs_handle(), session.stdlib().modules(), color);
    let vars = helper.vars.clone();
    let functions = helper.script_functions.clone();
    *vars.lock().expect("vars lock") = session.vars();
    editor.set_helper(Some(helper));
    let history = session.home().history_file();
    let _ = editor.load_history(&history);

    println!("deployclaw {} — :help for commands, help() for functions, Ctrl-D to leave", env!("CARGO_PKG_VERSION"));
    if let Some(path) = session.log_path() {
        println!("session log: {}", path.display());
    }
    loop {
        if let Err(e) = session.seal_pending() {
            eprintln!("deployclaw: sealing the session log: {e}");
        }
        match editor.readline(PROMPT) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => {
                let _ = editor.add_history_entry(redact(&line).into_owned());
                if line.trim_start().starts_with(':') {
                    if let commands::Next::Quit = commands::run(&mut session, &line, width()) {
                        break;
                    }
                } else {
                    match session.eval(&line, "<repl>") {
                        Ok(value) => {
                            let shown = render(&value, width());
                            if !shown.is_empty() {
                                println!("{shown}");
                            }
                        }
                        Err(Failure::Cancelled) => eprintln!("cancelled"),
                        Err(failure) => eprintln!("error: {failure}"),
                    }
                }
                *vars.lock().expect("vars lock") = session.vars();
                *functions.lock().expect("fns lock") = session.script_functions();
            }
            // Ctrl-C at the prompt discards the line, as in other shells.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("deployclaw: reading input: {e}");
                break;
            }
        }
    }
    if let Some(parent) = history.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = editor.save_history(&history) {
        tracing::warn!("cannot save history to {}: {e}", history.display());
    }
    match session.close() {
        Ok(Some(summary)) => {
            println!("session log sealed: {} ({} entries)", summary.path.display(), summary.entries);
            0
        }
        Ok(None) => 0,
        Err(e) => {
            eprintln!("deployclaw: sealing the session log: {e}");
            1
        }
    }
}
