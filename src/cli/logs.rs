//! `deployclaw logs templates`: the template of every line of a build log. A pure reading of a
//! file, so no session and no log.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::{error, exit};
use deployclaw::triage::templates::WriteError;
use deployclaw::triage::{self, Format, LogLine, Miner};

/// Mine `file` (or stdin for `-`); print each line's template as JSON Lines, or the templates by
/// how many lines they cover.
pub fn templates(file: &Path, format: Option<&str>, json: bool) -> u8 {
    let format = match format.map(|f| Format::parse(f).ok_or(f)) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(name)) => {
            error(format!("--format {name:?}: use one of {}", Format::NAMES));
            return exit::USAGE;
        }
    };
    if file.is_file() {
        return streamed(file, format, json);
    }
    let lines = match read(file, format) {
        Ok(lines) => lines,
        Err(message) => {
            error(message);
            return exit::USAGE;
        }
    };
    // Templates come from the message; a header the lines share (time, level, component) is
    // kept beside it.
    let line_texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let split = triage::header::split_all(&line_texts);
    let mut miner = Miner::new(Default::default());
    let groups: Vec<u32> = split.iter().map(|(_, message)| miner.add(message)).collect();
    let ids = miner.template_ids();
    let many_sources = lines.windows(2).any(|w| w[0].source != w[1].source);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = if json {
        let mut texts: Vec<Option<String>> = vec![None; ids.len()];
        lines.iter().zip(&groups).zip(&split).try_for_each(|((line, &g), (header, _))| {
            let template = texts[g as usize].get_or_insert_with(|| miner.template(g));
            let mut record =
                serde_json::json!({"line": line.line, "template_id": ids[g as usize], "template": template});
            if let Some(header) = header {
                record["header"] = (*header).into();
            }
            if many_sources {
                record["source"] = line.source.clone().into();
            }
            writeln!(out, "{record}")
        })
    } else {
        summary(&mut out, &miner, &groups, &ids)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            error(format!("cannot write the templates: {e}"));
            exit::FAILED
        }
    }
}

/// One file, read twice as a stream (see `triage::templates`): flat memory on any size.
fn streamed(file: &Path, format: Option<Format>, json: bool) -> u8 {
    let mined = match triage::templates::mine(file, format) {
        Ok(mined) => mined,
        Err(e) => {
            let input = e.is_input();
            error(e.to_string());
            return if input { exit::USAGE } else { exit::FAILED };
        }
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = if json {
        triage::templates::write_json_lines(file, &mined, &mut out)
    } else {
        summary(&mut out, &mined.miner, &mined.groups, &mined.miner.template_ids()).map_err(WriteError::Write)
    };
    match written.and_then(|()| out.flush().map_err(WriteError::Write)) {
        Ok(()) => exit::OK,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(WriteError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            error(e.to_string());
            exit::FAILED
        }
    }
}

fn read(file: &Path, format: Option<Format>) -> Result<Vec<LogLine>, String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(triage::read_text_as(&text, format, "-", "stdin"));
    }
    triage::read_path(file, format).map_err(|e| e.to_string())
}

fn summary(out: &mut impl Write, miner: &Miner, groups: &[u32], ids: &[u32]) -> std::io::Result<()> {
    let mut count = vec![0usize; ids.iter().copied().max().unwrap_or(0) as usize + 1];
    let mut example = vec![u32::MAX; count.len()];
    for &g in groups {
        let id = ids[g as usize] as usize;
        count[id] += 1;
        if example[id] == u32::MAX {
            example[id] = g;
        }
    }
    let mut order: Vec<usize> = (1..count.len()).filter(|&id| count[id] > 0).collect();
    order.sort_by_key(|&id| (std::cmp::Reverse(count[id]), id));
    writeln!(out, "{} lines, {} templates", groups.len(), order.len())?;
    writeln!(out, "{:>8}  {:>5}  template", "lines", "id")?;
    for id in order {
        writeln!(out, "{:>8}  {:>5}  {}", count[id], id, miner.template(example[id]))?;
    }
    Ok(())
}
