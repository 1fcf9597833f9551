//! Build logs in the shapes people have them (fixtures written here, after each CI system's
//! documented or observed format): CRLF and bare-CR progress bars, `gh run view --log` columns
//! with byte-order marks, Jenkins freestyle jobs with Timestamper clocks, GitLab traces with
//! their section markers, CodeBuild logs copied from the console, lines of several kilobytes.
//! Each is read into the right jobs, steps and text, and its failed job gets the right cause.

use deployclaw::triage::{Format, Level, LogLine, Rules, classify, read_text_as};

fn read(text: &str) -> Vec<LogLine> {
    read_text_as(text, None, "fixture.log", "fixture")
}

fn cause_of(lines: &[LogLine]) -> (String, String) {
    let diagnoses = classify(lines, &Rules::builtin());
    assert_eq!(diagnoses.len(), 1, "one failed job: {diagnoses:#?}");
    let d = &diagnoses[0];
    (d.cause.clone(), d.proof.first().map(|l| l.text.clone()).unwrap_or_default())
}

#[test]
fn run_view_columns_give_jobs_and_steps_and_byte_order_marks_go() {
    let log = "\u{feff}lint\tSet up job\t\u{feff}2025-10-13T02:51:39.4650259Z Current runner version: '2.328.0'\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:40.1Z ##[group]Run npm run lint\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:40.2Z \x1b[36;1mnpm run lint || echo 'lint failed'\x1b[0m\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:40.3Z ##[endgroup]\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:45.0Z /src/app.ts\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:45.1Z   12:7  error  'x' is assigned a value but never used  no-unused-vars\n\
        lint\tRun checks\t\u{feff}2025-10-13T02:51:45.2Z ##[error]Process completed with exit code 1.\n\
        build\tCompile\t\u{feff}2025-10-13T02:52:00.0Z all good\n";
    let lines = read(log);
    assert_eq!(lines[0].job, "lint");
    assert_eq!(lines[0].step.as_deref(), Some("Set up job"));
    assert_eq!(lines[0].text, "Current runner version: '2.328.0'");
    assert_eq!(lines[0].timestamp.as_deref(), Some("2025-10-13T02:51:39.4650259Z"));
    assert_eq!(lines[2].level, Level::Debug, "the step's echoed script is not output: {:?}", lines[2]);
    assert!(lines[6].failure);
    assert_eq!(lines[7].job, "build");
    let (cause, proof) = cause_of(&lines);
    assert_eq!(cause, "lint", "{proof}");
    assert!(proof.contains("no-unused-vars"), "{proof}");
}

#[test]
fn jenkins_freestyle_jobs_with_clocks_and_progress_bars() {
    let log = "Started by timer\r\n\
        Running as SYSTEM\r\n\
        Building in workspace /var/lib/jenkins/workspace/nightly\r\n\
        19:15:50 [nightly] $ /bin/bash /tmp/jenkins1.sh\r\n\
        19:15:51 Downloading  10%\rDownloading  50%\rDownloading 100%\r\n\
        19:15:55 cp: error writing '/var/tmp/cache.tar': No space left on device\r\n\
        19:15:57 Build step 'Execute shell' marked build as failure\r\n\
        19:15:58 Finished: FAILURE\r\n";
    let lines = read(log);
    assert_eq!(lines[4].text, "Downloading 100%", "what the terminal showed last");
    assert_eq!(lines[5].text, "cp: error writing '/var/tmp/cache.tar': No space left on device");
    assert!(lines[6].failure, "the failed build step is the verdict: {:?}", lines[6]);
    assert!(lines.iter().all(|l| !l.text.starts_with("19:15")), "clocks are not text");
    assert_eq!(cause_of(&lines).0, "disk-full");
}

#[test]
fn gitlab_traces_have_sections_and_a_verdict() {
    let log = "\x1b[0KRunning with gitlab-runner 14.4.0\n\
        section_start:1635909017:get_sources\r\x1b[0K\x1b[0K\x1b[36;1mGetting source from Git repository\x1b[0;m\n\
        Fetching changes with git depth set to 50...\n\
        section_end:1635909022:get_sources\r\x1b[0Ksection_start:1635909022:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting \"step_script\" stage\x1b[0;m\n\
        $ mvn -B verify\n\
        [ERROR] Failed to execute goal on project core: Could not resolve dependencies for project org.example:core:jar:1.0\n\
        section_end:1635909735:step_script\r\x1b[0K\x1b[31;1mERROR: Job failed: exit code 1\n";
    let lines = read(log);
    assert_eq!(lines[1].text, "Getting source from Git repository");
    assert_eq!(lines[1].step.as_deref(), Some("get_sources"));
    assert_eq!(lines[5].step.as_deref(), Some("step_script"));
    assert!(lines[6].failure && lines[6].text == "ERROR: Job failed: exit code 1", "{:?}", lines[6]);
    assert_eq!(cause_of(&lines).0, "dependency-resolution");
}

#[test]
fn codebuild_logs_copied_from_the_console() {
    // The console's log table: a header, its rule, numbered rows, non-breaking spaces.
    let log = "Line | Log\r\n\
        -- | --\r\n\
        1 | [Container]\u{a0}2024/05/14 11:20:01.123456 Running on CodeBuild On-demand\r\n\
        2 | [Container] 2024/05/14 11:20:06.523456 Entering phase BUILD\r\n\
        3 | [Container] 2024/05/14 11:20:06.623456 Running command go build ./...\r\n\
        4 | internal/billing/invoice.go:41:9: undefined: tenantRate\r\n\
        5 | [Container] 2024/05/14 11:20:29.023456 Command did not exit successfully go build ./... exit status 1\r\n\
        6 | [Container] 2024/05/14 11:20:29.123456 Phase complete: BUILD State: FAILED\r\n";
    let lines = read(log);
    assert_eq!(lines[2].text, "Running on CodeBuild On-demand");
    assert_eq!(lines[2].timestamp.as_deref(), Some("2024-05-14T11:20:01.123456Z"));
    assert_eq!(lines[1].level, Level::Debug, "the table's rule is no line of the log");
    assert_eq!(lines[5].step.as_deref(), Some("BUILD"));
    assert!(lines[7].failure);
    let diagnoses = classify(&lines, &Rules::builtin());
    assert_eq!(diagnoses[0].cause, "compile-error");
    assert_eq!(diagnoses[0].command.as_deref(), Some("go build ./..."));
    assert_eq!(deployclaw::triage::formats::detect(log), Format::Codebuild);
}

#[test]
fn long_lines_and_non_ascii_text_are_read_whole() {
    let long = format!("{}é", "x".repeat(8 * 1024));
    let log = format!(
        "2024-05-01T12:00:00.1Z ##[group]Run make\n2024-05-01T12:00:00.2Z ##[endgroup]\n\
         2024-05-01T12:00:01.0Z {long}\n2024-05-01T12:00:02.0Z Ошибка: 2 tests failed\n\
         2024-05-01T12:00:03.0Z ##[error]Process completed with exit code 2.\n"
    );
    let lines = read(&log);
    assert_eq!(lines[2].text, long);
    assert_eq!(cause_of(&lines).0, "test-failure");
}

#[test]
fn the_failed_step_is_searched_before_the_rest_of_the_job() {
    // A warning about rate limits in an earlier, successful step is not the cause.
    let log = "2024-05-01T12:00:00.0Z ##[group]Run actions/setup-go@v5\n\
        2024-05-01T12:00:00.1Z ##[endgroup]\n\
        2024-05-01T12:00:01.0Z ##[warning]API rate limit exceeded for installation; using the cache\n\
        2024-05-01T12:00:02.0Z ##[group]Run go test ./...\n\
        2024-05-01T12:00:02.1Z ##[endgroup]\n\
        2024-05-01T12:00:09.0Z --- FAIL: TestInvoiceTotals (0.02s)\n\
        2024-05-01T12:00:09.1Z FAIL\tgithub.com/acme/billing\t0.31s\n\
        2024-05-01T12:00:09.2Z ##[error]Process completed with exit code 1.\n";
    assert_eq!(cause_of(&read(log)).0, "test-failure");
}

#[test]
fn a_log_that_says_why_in_words_no_rule_knows_is_other_and_one_that_does_not_is_unknown() {
    let said = "2024-05-01T12:00:00.0Z ##[group]Run ./scripts/release\n2024-05-01T12:00:00.1Z ##[endgroup]\n\
        2024-05-01T12:00:01.0Z error: the changelog has no entry for 2.4.0\n\
        2024-05-01T12:00:01.1Z ##[error]Process completed with exit code 1.\n";
    let (cause, proof) = cause_of(&read(said));
    assert_eq!((cause.as_str(), proof.as_str()), ("other", "error: the changelog has no entry for 2.4.0"));
    let silent = "2024-05-01T12:00:00.0Z ##[group]Run ./scripts/release\n2024-05-01T12:00:00.1Z ##[endgroup]\n\
        2024-05-01T12:00:01.0Z done\n2024-05-01T12:00:01.1Z ##[error]Process completed with exit code 1.\n";
    assert_eq!(cause_of(&read(silent)).0, "unknown");
}

/// Failures whose logs say plainly why, in the words GitHub, git, the cloud CLIs and Dependabot
/// use: each is named, none is `unknown`.
#[test]
fn plain_words_of_tokens_scm_clouds_and_dependency_updates_are_causes() {
    let step = |text: &str| {
        format!(
            "2024-05-01T12:00:00.0Z ##[group]Run ./step\n2024-05-01T12:00:00.1Z ##[endgroup]\n\
             2024-05-01T12:00:01.0Z {text}\n2024-05-01T12:00:02.0Z ##[error]Process completed with exit code 1.\n"
        )
    };
    for (text, cause) in [
        ("##[error]Resource not accessible by integration", "permission"),
        ("remote: Permission to acme/app.git denied to github-actions[bot].", "permission"),
        (
            "fatal: unable to access 'https://github.com/acme/app.git/': The requested URL returned error: 502",
            "network-scm",
        ),
        ("error: RPC failed; HTTP 503 curl 22 The requested URL returned error: 503", "network-scm"),
        ("ERROR: No subscriptions found for ***.", "permission"),
        (
            "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.",
            "permission",
        ),
        ("Dependabot can't update django to a non-vulnerable version", "dependency-resolution"),
        ("npm ERR! code ERESOLVE", "dependency-resolution"),
        ("##[error]No space left on device : '/home/runner/runners/2.300.0/_diag/Worker_20240501.log'", "disk-full"),
    ] {
        let (named, proof) = cause_of(&read(&step(text)));
        assert_eq!(named, cause, "{text}: proof {proof}");
    }
}

#[test]
fn service_prefixes_after_the_time_do_not_hide_the_cause() {
    let log = "2024-05-01T12:00:00.0Z ##[group]Run docker compose up --exit-code-from tests\n\
        2024-05-01T12:00:00.1Z ##[endgroup]\n\
        2024-05-01T12:00:05.0Z db-1     | LOG:  database system is ready to accept connections\n\
        2024-05-01T12:00:09.0Z tests-1  | --- FAIL: TestTenantIsolation (0.20s)\n\
        2024-05-01T12:00:09.1Z tests-1  | FAIL\tgithub.com/acme/api\t0.41s\n\
        2024-05-01T12:00:10.0Z ##[error]Process completed with exit code 1.\n";
    let lines = read(log);
    assert_eq!(lines[3].level, Level::Error, "{:?}", lines[3]);
    let (cause, proof) = cause_of(&lines);
    assert_eq!(cause, "test-failure", "{proof}");
    assert!(proof.starts_with("tests-1  | --- FAIL"), "the line is kept whole: {proof}");
}
