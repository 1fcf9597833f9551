//! `deployclaw audit verify FILE`: check an audit's execution record (audit-record.json): its
//! signature against the keys trusted here, and the report beside it against the digest the
//! record signed.

use std::path::{Path, PathBuf};

use deployclaw::evidence::record::{self, Checked};
use deployclaw::evidence::{Envelope, hex, sha256};

use super::super::{error, exit};

pub fn verify(file: &Path, pubkeys: &[PathBuf], json: bool) -> u8 {
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            error(format!("cannot read {}: {e}", file.display()));
            return exit::USAGE;
        }
    };
    let envelope: Envelope = match serde_json::from_slice(&text) {
        Ok(e) => e,
        Err(e) => {
            error(format!(
                "{}: not an audit record (a DSSE envelope as --output-format json-audit writes): {e}",
                file.display()
            ));
            return exit::USAGE;
        }
    };
    // No key at all is fine here: the record may carry its signer's public key.
    let trusted = match super::super::log::trusted_keys(pubkeys, true) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let mut problems = Vec::new();
    let checked = match record::check(&envelope, &trusted) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(format!("the record does not verify: {e}"));
            None
        }
    };
    if let Some(c) = &checked {
        if !c.trusted {
            problems.push(format!(
                "signed by {} (key {}), which is not among the keys trusted here: pass its public key with --pubkey",
                c.remote_key.as_deref().unwrap_or("a key the record carries"),
                c.key_id
            ));
        }
        if let Some(problem) = report_problem(file, c) {
            problems.push(problem);
        }
    }
    if json {
        let out = serde_json::json!({
            "file": file.display().to_string(),
            "verified": problems.is_empty(),
            "problems": problems,
            "key_id": checked.as_ref().map(|c| c.key_id.clone()),
            "record": checked.as_ref().map(|c| &c.record),
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON serializes"));
    } else {
        print_text(file, checked.as_ref(), &problems);
    }
    if problems.is_empty() { exit::OK } else { exit::FAILED }
}

/// Whether the report the record names, in the record's folder, is the one it signed.
fn report_problem(file: &Path, checked: &Checked) -> Option<String> {
    let named = checked.record.report.as_ref()?;
    let path = file.parent().unwrap_or(Path::new(".")).join(&named.name);
    match std::fs::read(&path) {
        Ok(bytes) if hex(&sha256(&bytes)) == named.sha256 => None,
        Ok(_) => Some(format!("{} is not the report the record signed: it changed afterwards", path.display())),
        Err(e) => Some(format!("{}: {e} (the record signed a report there)", path.display())),
    }
}

fn print_text(file: &Path, checked: Option<&Checked>, problems: &[String]) {
    if let Some(c) = checked {
        let r = &c.record;
        println!(
            "{}: {} audit, execution {}, {} to {} ({} ms)",
            file.display(),
            r.audit,
            r.execution_id,
            r.started_at,
            r.finished_at,
            r.total_duration_ms
        );
        for step in &r.steps {
            println!("  step {}: {} ({} ms)", step.action, step.result, step.duration_ms);
        }
        println!("  verdict: {}; {} finding(s)", r.verdict, r.findings.len());
        if !r.conclusion.is_empty() {
            println!("  conclusion: {}", r.conclusion);
        }
        if let Some(report) = &r.report {
            println!("  report: {} (sha256 {})", report.name, report.sha256);
        }
    }
    if problems.is_empty() {
        println!("verified: signed by a trusted key ({})", checked.map_or("", |c| c.key_id.as_str()));
    }
    for problem in problems {
        error(problem);
    }
}
