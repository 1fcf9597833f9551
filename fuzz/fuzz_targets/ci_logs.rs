//! Build logs in every CI format, detected and forced, to classified lines and causes.
#![no_main]
use deployclaw::triage::line::Format;
use deployclaw::triage::classify::Rules;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

// Compiled once: compiling the rules' regexes on every input would be most of each run.
static RULES: LazyLock<Rules> = LazyLock::new(Rules::builtin);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rules = &*RULES;
    for format in [None, Some(Format::GithubActions), Some(Format::Jenkins), Some(Format::Codebuild), Some(Format::Plain)] {
        let lines = deployclaw::triage::read::read_text_as(&text, format, "fuzz.log", "job");
        let _ = deployclaw::triage::classify::classify(&lines, rules);
    }
});
