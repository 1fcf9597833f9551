//! `deployclaw heap ...`: each command runs the matching `heap::` function in a session, so its
//! result is recorded in the signed log like any script's.

use super::session::{Settings, run_session};
use super::{error, exit};
use deployclaw::engine::{Mode, Param};
use rhai::Dynamic;
use std::path::{Path, PathBuf};

/// Run `call` (which may use the params) in a logged session and print its value.
fn run(settings: &Settings, dumps: &[PathBuf], params: Vec<Param>, call: &str, json: bool) -> u8 {
    for dump in dumps {
        if let Err(e) = std::fs::metadata(dump) {
            error(format!("cannot read heap dump {}: {e}", dump.display()));
            return exit::USAGE;
        }
    }
    let mut options = match settings.options(Mode::Run) {
        Ok(o) => o,
        Err(code) => return code,
    };
    options.params = params;
    run_session(options, json, |session| session.eval(call, "deployclaw heap"))
}

fn head(top: Option<usize>) -> String {
    top.map(|n| format!(".head({n})")).unwrap_or_default()
}

fn text(path: &Path) -> Dynamic {
    path.display().to_string().into()
}

/// `deployclaw heap histogram FILE [--top N] [--json]`.
pub fn histogram(settings: &Settings, file: &Path, top: Option<usize>, json: bool) -> u8 {
    let params = vec![Param { name: "DUMP".into(), value: text(file) }];
    run(settings, &[file.to_path_buf()], params, &format!("heap::histogram(DUMP){}", head(top)), json)
}

/// `deployclaw heap diff BASE CUR [MORE...] [--threshold-delta P] [--top N] [--json]`.
pub fn diff(settings: &Settings, dumps: &[PathBuf], threshold: Option<&str>, top: Option<usize>, json: bool) -> u8 {
    if let Some(t) = threshold
        && let Err(e) = deployclaw::heap::diff::Threshold::parse(t)
    {
        error(format!("--threshold-delta: {e}"));
        return exit::USAGE;
    }
    let mut params =
        vec![Param { name: "DUMPS".into(), value: dumps.iter().map(|d| text(d)).collect::<Vec<_>>().into() }];
    let call = match threshold {
        Some(t) => {
            params.push(Param { name: "THRESHOLD".into(), value: t.into() });
            format!("heap::diff(DUMPS, THRESHOLD){}", head(top))
        }
        None => format!("heap::diff(DUMPS){}", head(top)),
    };
    run(settings, dumps, params, &call, json)
}

fn dump_param(file: &Path) -> Vec<Param> {
    vec![Param { name: "DUMP".into(), value: text(file) }]
}

/// `deployclaw heap dominators FILE [--top N] [--by-class] [--json]`.
pub fn dominators(settings: &Settings, file: &Path, top: usize, by_class: bool, json: bool) -> u8 {
    let call =
        if by_class { format!("heap::retained(DUMP).head({top})") } else { format!("heap::dominators(DUMP, {top})") };
    run(settings, &[file.to_path_buf()], dump_param(file), &call, json)
}

/// `deployclaw heap suspects FILE [--baseline DUMP] [--json]`.
pub fn suspects(settings: &Settings, file: &Path, baseline: Option<&Path>, json: bool) -> u8 {
    let mut params = dump_param(file);
    let mut dumps = vec![file.to_path_buf()];
    let call = match baseline {
        Some(base) => {
            params.push(Param { name: "BASELINE".into(), value: text(base) });
            dumps.push(base.to_path_buf());
            "heap::suspects(DUMP, BASELINE)"
        }
        None => "heap::suspects(DUMP)",
    };
    run(settings, &dumps, params, call, json)
}

/// `deployclaw heap tenants DUMP... --rule RULE [--json]`.
pub fn tenants(settings: &Settings, dumps: &[PathBuf], rule: &str, json: bool) -> u8 {
    if let Err(e) = deployclaw::heap::tenants::Rule::parse(rule) {
        error(format!("--rule: {e}"));
        return exit::USAGE;
    }
    let params = vec![
        Param { name: "DUMPS".into(), value: dumps.iter().map(|d| text(d)).collect::<Vec<_>>().into() },
        Param { name: "RULE".into(), value: rule.into() },
    ];
    run(settings, dumps, params, "heap::tenants(DUMPS, RULE)", json)
}

/// `deployclaw heap analyze DUMP... [--rule RULE] [--threshold-delta P] [--json]`: memory::analysis.
pub fn analyze(settings: &Settings, dumps: &[PathBuf], rule: Option<&str>, threshold: &str, json: bool) -> u8 {
    if let Some(rule) = rule
        && let Err(e) = deployclaw::heap::tenants::Rule::parse(rule)
    {
        error(format!("--rule: {e}"));
        return exit::USAGE;
    }
    let Ok(deployclaw::heap::diff::Threshold::Percent(pct)) = deployclaw::heap::diff::Threshold::parse(threshold)
    else {
        error(format!("--threshold-delta {threshold}: give a percentage such as 15%"));
        return exit::USAGE;
    };
    let params = vec![
        Param { name: "DUMPS".into(), value: dumps.iter().map(|d| text(d)).collect::<Vec<_>>().into() },
        Param { name: "RULE".into(), value: rule.unwrap_or_default().into() },
        Param { name: "PCT".into(), value: pct.into() },
    ];
    run(settings, dumps, params, "import \"memory\" as memory; memory::analysis(DUMPS, RULE, PCT)", json)
}

/// `deployclaw heap secrets FILE [--json]`.
pub fn secrets(settings: &Settings, file: &Path, json: bool) -> u8 {
    run(settings, &[file.to_path_buf()], dump_param(file), "heap::secrets(DUMP)", json)
}

/// `deployclaw heap path FILE OBJECT [--json]`.
pub fn path(settings: &Settings, file: &Path, object: &str, json: bool) -> u8 {
    let mut params = dump_param(file);
    params.push(Param { name: "OBJECT".into(), value: object.into() });
    run(settings, &[file.to_path_buf()], params, "heap::path_to_roots(DUMP, OBJECT)", json)
}
