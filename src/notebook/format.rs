//! Jupyter notebooks (nbformat 4) as JSON: reading and checking one, its code cells, parameter
//! injection after the cell tagged `parameters` (as papermill does), and the outputs Jupyter
//! writes. Unknown fields are kept as they are.

use serde_json::{Map, Value, json};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read notebook {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not a Jupyter notebook: {message}")]
    Invalid { path: String, message: String },
}

/// A notebook being run.
#[derive(Debug, Clone)]
pub struct Notebook {
    pub json: Value,
}

/// A cell's source: nbformat allows one string or a list of lines.
pub fn source_text(cell: &Value) -> String {
    match &cell["source"] {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Text as nbformat writes it: a list of lines, each but the last ending in a line break.
pub fn multiline(text: &str) -> Value {
    let mut lines: Vec<Value> = text.split_inclusive('\n').map(|l| Value::String(l.to_string())).collect();
    if lines.is_empty() {
        lines.push(Value::String(String::new()));
    }
    Value::Array(lines)
}

fn tags(cell: &Value) -> Vec<&str> {
    cell["metadata"]["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

impl Notebook {
    pub fn read(path: &Path) -> Result<Notebook, Error> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Read { path: shown.clone(), message: e.to_string() })?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid { path: shown.clone(), message: format!("not JSON: {e}") })?;
        Notebook::from_json(json).map_err(|message| Error::Invalid { path: shown, message })
    }

    pub fn from_json(json: Value) -> Result<Notebook, String> {
        match json["nbformat"].as_u64() {
            Some(4) => {}
            Some(v) => {
                return Err(format!(
                    "nbformat {v}; this reads nbformat 4 (jupyter nbconvert --to notebook converts older ones)"
                ));
            }
            None => return Err("no nbformat field".into()),
        }
        let Some(cells) = json["cells"].as_array() else { return Err("no cells list".into()) };
        for (i, cell) in cells.iter().enumerate() {
            if cell["cell_type"].as_str().is_none() {
                return Err(format!("cell {} has no cell_type", i + 1));
            }
        }
        Ok(Notebook { json })
    }

    pub fn cells_mut(&mut self) -> &mut Vec<Value> {
        self.json["cells"].as_array_mut().expect("checked on reading")
    }

    /// Insert a code cell tagged `injected-parameters` with `lines` (one statement each) after
    /// the cell tagged `parameters`, or first when there is none. Returns its index.
    pub fn inject_parameters(&mut self, lines: &[String]) -> usize {
        let cells = self.cells_mut();
        let at = cells.iter().position(|c| tags(c).contains(&"parameters")).map_or(0, |i| i + 1);
        let source = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let cell = json!({
            "cell_type": "code",
            "execution_count": null,
            "id": format!("injected-parameters-{at}"),
            "metadata": {"tags": ["injected-parameters"]},
            "outputs": [],
            "source": multiline(source.trim_end_matches('\n')),
        });
        cells.insert(at, cell);
        at
    }

    /// Set the kernel this notebook runs on, and deployclaw's own metadata.
    pub fn set_metadata(&mut self, deployclaw: Value) {
        let meta = self.json["metadata"].as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut meta: Map<String, Value> = meta;
        meta.insert(
            "kernelspec".into(),
            json!({"name": "deployclaw", "display_name": "deployclaw (Rhai)", "language": "rhai"}),
        );
        meta.insert(
            "language_info".into(),
            json!({"name": "rhai", "file_extension": ".rhai", "mimetype": "text/x-rhai", "codemirror_mode": "rust"}),
        );
        meta.insert("deployclaw".into(), deployclaw);
        self.json["metadata"] = Value::Object(meta);
    }

    /// The notebook as nbformat writes it (one-space indent, a final line break).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(&self.json, &mut ser).expect("JSON serializes");
        out.push(b'\n');
        out
    }
}

/// A `stream` output.
pub fn stream(name: &str, text: &str) -> Value {
    json!({"output_type": "stream", "name": name, "text": multiline(text)})
}

/// An `error` output: the error's kind, its message, and where it happened.
pub fn error(ename: &str, evalue: &str, traceback: &[String]) -> Value {
    json!({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(cells: Value) -> Notebook {
        Notebook::from_json(json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})).unwrap()
    }

    #[test]
    fn parameters_go_after_the_tagged_cell() {
        let mut n = nb(json!([
            {"cell_type": "markdown", "metadata": {}, "source": "# t"},
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["let a = 1;\n", "let b = 2;"], "outputs": []},
            {"cell_type": "code", "metadata": {}, "source": "a + b", "outputs": []},
        ]));
        assert_eq!(source_text(&n.json["cells"][1]), "let a = 1;\nlet b = 2;");
        assert_eq!(n.inject_parameters(&["let a = 5;".into()]), 2);
        assert_eq!(n.json["cells"][2]["source"], json!(["let a = 5;"]));
        assert_eq!(n.json["cells"][2]["metadata"]["tags"], json!(["injected-parameters"]));
        let mut plain = nb(json!([]));
        assert_eq!(plain.inject_parameters(&["let x = 1;".into(), "let y = 2;".into()]), 0);
        assert_eq!(plain.json["cells"][0]["source"], json!(["let x = 1;\n", "let y = 2;"]));
    }

    #[test]
    fn only_nbformat_4_is_read() {
        let old = Notebook::from_json(json!({"nbformat": 3, "worksheets": []})).unwrap_err();
        assert!(old.contains("nbformat 3"), "{old}");
        assert!(Notebook::from_json(json!({"cells": []})).unwrap_err().contains("no nbformat"));
        assert_eq!(multiline("a\nb"), json!(["a\n", "b"]));
    }
}
