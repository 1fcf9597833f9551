//! `--output-format json-audit`: the audit's execution record, made once the report is final
//! (the sealed log's verification is in it), signed by the signer of the session's log, written
//! to audit-record.json beside the report and printed.

use std::path::Path;

use deployclaw::evidence::record::{self, Parts, ReportFile};
use deployclaw::evidence::{hex, sha256};

/// The file the record is written to, in the report folder.
pub const FILE: &str = "audit-record.json";

pub fn write(audit: &str, out: &Path, parts: Option<Parts>) -> Result<(), String> {
    let parts = parts.ok_or("json-audit: the session kept no log, so there is no signer for the record")?;
    let report_path = out.join("report.json");
    let (verdict, conclusion, report) = match std::fs::read(&report_path) {
        Ok(bytes) => {
            let json: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: not JSON ({e})", report_path.display()))?;
            let verdict = json["verdict"].as_str().unwrap_or("unknown").to_string();
            let conclusion = json["summary"][0].as_str().unwrap_or_default().to_string();
            (verdict, conclusion, Some(ReportFile { name: "report.json".into(), sha256: hex(&sha256(&bytes)) }))
        }
        // The audit stopped before its report: the record says so rather than nothing.
        Err(_) => ("failed".to_string(), "the audit wrote no report".to_string(), None),
    };
    let record = parts.record(audit, &verdict, &conclusion, report);
    let envelope =
        record::sign(&record, parts.signer.as_ref()).map_err(|e| format!("signing the audit record: {e}"))?;
    let text = serde_json::to_string_pretty(&envelope).expect("an envelope serializes");
    let path = out.join(FILE);
    if out.is_dir() {
        deployclaw::paths::write_atomically(&path, format!("{text}\n").as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    println!("{text}");
    Ok(())
}
