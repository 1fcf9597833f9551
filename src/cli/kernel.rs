//! `deployclaw kernel`: the Jupyter kernel (`--connection-file F`, as Jupyter starts it) and
//! `kernel install`, which writes the kernelspec Jupyter finds it by.

use std::path::{Path, PathBuf};

use deployclaw::engine::{Mode, Session};
use deployclaw::notebook::kernel::{self, wire::Connection};
use deployclaw::shell::helper::ShellHelper;

use super::session::Settings;
use super::{error, exit};

/// The kernelspec for this binary.
pub fn kernelspec(exe: &Path) -> serde_json::Value {
    serde_json::json!({
        "argv": [exe.display().to_string(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": "deployclaw (Rhai)",
        "language": "rhai",
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    })
}

/// Where Jupyter looks for kernels: the user's data dir, a prefix (a virtualenv's sys.prefix),
/// or the system-wide one.
fn kernels_dir(user: bool, prefix: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(prefix) = prefix {
        return Ok(prefix.join("share/jupyter/kernels"));
    }
    if !user {
        return Ok(PathBuf::from("/usr/local/share/jupyter/kernels"));
    }
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("kernels"));
    }
    dirs::data_dir().map(|d| d.join("jupyter/kernels")).ok_or_else(|| "no user data folder: give --prefix".into())
}

pub fn install(user: bool, prefix: Option<&Path>) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            error(format!("cannot tell where this binary is: {e}"));
            return exit::FAILED;
        }
    };
    let dir = match kernels_dir(user, prefix) {
        Ok(d) => d.join("deployclaw"),
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        error(format!("cannot create {}: {e} (--user installs for you alone)", dir.display()));
        return exit::FAILED;
    }
    let spec = serde_json::to_vec_pretty(&kernelspec(&exe)).expect("JSON serializes");
    if let Err(e) = deployclaw::paths::write_atomically(&dir.join("kernel.json"), &spec) {
        error(e);
        return exit::FAILED;
    }
    println!("installed the deployclaw kernel in {}", dir.display());
    exit::OK
}

pub fn serve(settings: &Settings, connection_file: &Path) -> u8 {
    let connection = match Connection::read(connection_file) {
        Ok(c) => c,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let options = match settings.options(Mode::Notebook) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let session = match Session::start(options) {
        Ok(s) => s,
        Err(e) => {
            error(e);
            return exit::FAILED;
        }
    };
    super::session::forward_interrupts(&session);
    let helper = ShellHelper::new(session.docs_handle(), session.stdlib().modules(), false);
    match kernel::serve(connection, session, helper) {
        Ok(()) => exit::OK,
        Err(e) => {
            error(e);
            exit::FAILED
        }
    }
}
