//! Notebook JSON (nbformat 4) as `notebook run` reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(mut notebook) = deployclaw::notebook::format::Notebook::from_json(json) {
        for cell in notebook.cells_mut().iter() {
            let _ = deployclaw::notebook::format::source_text(cell);
        }
    }
});
