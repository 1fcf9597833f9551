//! The memory-leak audit across a fleet, end to end through the CLI: three instances of one
//! service on three test hosts (network namespaces running sshd), reached over real SSH. A
//! baseline is saved from version 2.4.0; then 2.4.1 runs, and one instance leaks for one tenant
//! while that tenant holds connections on PostgreSQL. The audit must name the outlier
//! instance, the tenant, what retains the growth, the tenant's connections, and "roll back to"
//! the baseline's version.

mod common;
use common::jvm::Jvm;
use common::netns::{TestHost, available};
use common::{Sandbox, code, stderr, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Start FleetLeak at `version` on each host; `leak` names the host (by index) and tenant that leak.
fn start(hosts: &[TestHost], root: &Path, version: &str, leak: Option<(usize, &str)>) -> Vec<Jvm> {
    let flag = format!("-Dservice.version={version}");
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let dir = root.join(format!("{version}-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let args: Vec<&str> = match leak {
                Some((at, tenant)) if at == i => vec![tenant],
                _ => vec![],
            };
            Jvm::start_via(&host.launcher(), &dir, "FleetLeak", &args, &["-XX:+UseG1GC", &flag])
        })
        .collect()
}

/// An inventory where each host's instance is the JVM started in that host's folder.
fn inventory(sandbox: &Sandbox, hosts: &[TestHost], root: &Path, version: &str) -> String {
    let entries: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| host.inventory_entry(&format!("{}/", root.join(format!("{version}-{i}")).display())))
        .collect();
    let text = format!("[services.api-svc]\nhosts = [{}]\n", entries.join(", "));
    sandbox.write(&format!("inventory-{version}.toml"), &text).display().to_string()
}

/// A connection held open by `psql` with the tenant in its application name, inside a
/// transaction that holds a lock and sleeps.
fn hold_connection(url: &str, tenant: &str) -> Child {
    let separator = if url.contains('?') { '&' } else { '?' };
    Command::new("psql")
        .arg(format!("{url}{separator}application_name=api-svc.{tenant}"))
        .args(["-q", "-c", "BEGIN; LOCK TABLE held IN SHARE MODE; SELECT pg_sleep(120); COMMIT;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql is installed")
}

#[test]
fn the_outlier_instance_its_tenant_what_retains_it_and_the_rollback_are_named() {
    if !available() {
        return;
    }
    let Some(pg) = common::db::TestDb::postgres() else { return };
    pg.exec("CREATE TABLE held (id integer)");
    let sandbox = Sandbox::new();
    let hosts: Vec<TestHost> = (0..3).map(|_| TestHost::start()).collect();
    let root = sandbox.path("jvms");

    // Version 2.4.0 on all three: one snapshot each, saved as the baseline.
    let old = start(&hosts, &root, "2.4.0", None);
    let base = sandbox.path("baseline.json");
    let first = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--inventory",
        &inventory(&sandbox, &hosts, &root, "2.4.0"),
        "--snapshots",
        "1",
        "--save-baseline",
        base.to_str().unwrap(),
        "--out",
        sandbox.path("r1").to_str().unwrap(),
    ]);
    assert_eq!(code(&first), 0, "{}\n{}", stdout(&first), stderr(&first));
    assert!(stdout(&first).contains("3 instance(s) of 1 service(s) audited"), "{}", stdout(&first));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    assert_eq!(saved["services"]["api-svc"]["version"], "2.4.0", "one profile per service, not per instance");
    drop(old);

    // Version 2.4.1: the third instance leaks for tenant-07, which holds three connections.
    let new = start(&hosts, &root, "2.4.1", Some((2, "tenant-07")));
    let mut held: Vec<Child> = (0..3).map(|_| hold_connection(&pg.url, "tenant-07")).collect();
    held.push(hold_connection(&pg.url, "tenant-01"));
    let out = sandbox.path("r2");
    let run = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--inventory",
        &inventory(&sandbox, &hosts, &root, "2.4.1"),
        "--snapshots",
        "3",
        "--interval",
        "2s",
        "--concurrency",
        "3",
        "--baseline-profile",
        base.to_str().unwrap(),
        "--tenant-rule",
        "FleetLeak$Tenant.name",
        "--pool-db",
        &pg.url,
        "--pool-tenant-by",
        "application_name",
        "--pool-tenant-pattern",
        r"^api-svc\.(.+)$",
        "--output-format",
        "json-audit",
        "--out",
        out.to_str().unwrap(),
    ]);
    for mut child in held {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (text, err) = (stdout(&run), stderr(&run));
    assert_eq!(code(&run), 3, "the leak is an error finding: {text}\n{err}");
    // stdout is the signed execution record; the report is in the folder.
    let envelope: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let verified = sandbox.run(&["audit", "verify", out.join("audit-record.json").to_str().unwrap()]);
    let said = stdout(&verified);
    assert_eq!(code(&verified), 0, "{said}\n{}", stderr(&verified));
    assert!(
        said.contains("step dump every instance: ok")
            && said.contains("conclusion: Memory leak confirmed in api-svc 2.4.1"),
        "{said}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let summary: Vec<String> =
        report["summary"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();

    let conclusion = &summary[0];
    assert!(
        conclusion.starts_with(
            "Memory leak confirmed in api-svc 2.4.1 on api-svc[2] for tenant tenant-07, retained by class FleetLeak (static REGISTRY) -> java.util.LinkedHashMap"
        ),
        "{summary:#?}"
    );
    assert!(conclusion.ends_with("Roll back to 2.4.0 (the baseline's version)."), "{conclusion}");
    assert!(summary.iter().any(|l| l == "3 instance(s) dumped; outlier: api-svc[2]"), "{summary:#?}");
    let pool =
        summary.iter().find(|l| l.contains("belong to tenant tenant-07")).unwrap_or_else(|| panic!("{summary:#?}"));
    assert!(pool.starts_with("3 of ") && pool.contains("(api-svc[2] holds its heap growth)"), "{pool}");
    assert!(pool.contains("3 holding locks"), "{pool}");

    let findings = report["findings"].to_string();
    assert!(
        findings.contains(&format!("api-svc[2] on ssh root@{}:22 is the outlier of api-svc", hosts[2].address)),
        "{findings}"
    );
    assert!(findings.contains("never released across 3 snapshots"), "no GC release: {findings}");
    assert!(
        !summary.iter().any(|l| l.starts_with("api-svc[0] ") || l.starts_with("api-svc[1] ")),
        "the siblings do not leak: {summary:#?}"
    );
    // Snapshots at wall-clock time: minutes since the first, 2 s apart.
    let chart =
        report["sections"].as_array().unwrap().iter().find(|s| s["title"] == "Heap per service").unwrap()["chart"]
            .clone();
    assert_eq!(chart["x_label"], "minutes since the first snapshot", "{chart}");
    let last_x = chart["series"][0]["points"][2][0].as_f64().unwrap();
    assert!(last_x >= 0.06, "the third round is 4 s or more after the first: {chart}");
    // One progress line per instance and round.
    assert_eq!(err.matches("fleet: api-svc[1] on ssh").count(), 3, "{err}");
    // The dumps crossed the network compressed, and each is recorded with its size.
    let dumps: Vec<_> = std::fs::read_dir(out.join("dumps/api-svc")).unwrap().collect();
    assert_eq!(dumps.len(), 9, "three rounds of three instances");

    drop(new);

    near_data_reaches_the_same_conclusion(&sandbox, &hosts, &root.join("near"), &base);
}

/// The same fleet in near-data mode: deployclaw "installed" on two hosts (the test binary, run
/// there over SSH with a home of its own) and copied to the third (`--copy-deployclaw`: the
/// binary crosses, once) analyses the dumps where they are; only its answers come back, and the
/// audit concludes as it does with the dumps brought here.
fn near_data_reaches_the_same_conclusion(sandbox: &Sandbox, hosts: &[TestHost], root: &Path, base: &Path) {
    // Fresh instances: the earlier leak has reached FleetLeak's cap and no longer grows.
    let _jvms = start(hosts, root, "2.4.1", Some((2, "tenant-07")));
    let remote_homes = sandbox.path("remote-homes");
    std::fs::create_dir_all(&remote_homes).unwrap();
    let wrapper = sandbox.write(
        "remote-deployclaw",
        &format!(
            "#!/bin/sh\nDEPLOYCLAW_HOME=$(mktemp -d {}/h.XXXXXX) exec {} \"$@\"\n",
            remote_homes.display(),
            common::BIN
        ),
    );
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let plain = inventory(sandbox, hosts, root, "2.4.1");
    let text = std::fs::read_to_string(&plain).unwrap();
    // The first host names no deployclaw: it gets a copy.
    let (first, rest) = text.split_once("connect_timeout = 5 }").unwrap();
    let installed = format!("connect_timeout = 5, deployclaw = \"{}\" }}", wrapper.display());
    let text = format!("{first}connect_timeout = 5 }}{}", rest.replace("connect_timeout = 5 }", &installed));
    let near = sandbox.write("inventory-near.toml", &text);
    let out = sandbox.path("r3");
    let run = sandbox.run(&[
        "audit",
        "memory-leaks",
        "--inventory",
        near.to_str().unwrap(),
        "--near-data",
        "--copy-deployclaw",
        "--snapshots",
        "2",
        "--interval",
        "1s",
        "--baseline-profile",
        base.to_str().unwrap(),
        "--tenant-rule",
        "FleetLeak$Tenant.name",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (text, err) = (stdout(&run), stderr(&run));
    assert_eq!(code(&run), 3, "{text}\n{err}");
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let summary: Vec<&str> = report["summary"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        summary[0].starts_with(
            "Memory leak confirmed in api-svc 2.4.1 on api-svc[2] for tenant tenant-07, retained by class FleetLeak (static REGISTRY)"
        ) && summary[0].ends_with("Roll back to 2.4.0 (the baseline's version)."),
        "{summary:#?}\n{err}"
    );
    assert!(summary.contains(&"3 instance(s) dumped; outlier: api-svc[2]"), "{summary:#?}");
    assert_eq!(err.matches("analysis there done").count(), 3, "{err}");
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("api-svc[2] on ssh root@") && findings.contains(": tenant tenant-07 grew by"),
        "{findings}"
    );

    // Only the answers came back: no dump here, and far fewer bytes than the dumps hold.
    let near_line = summary.iter().find(|l| l.starts_with("near-data: 6 of 6 dump(s) analysed on their hosts; "));
    let near_line = near_line.unwrap_or_else(|| panic!("{summary:#?}"));
    let numbers: Vec<u64> = near_line.split(' ').filter_map(|w| w.parse().ok()).collect();
    let [_, _, moved, dumped, sent, copies] = numbers[..] else { panic!("{near_line}") };
    let binary = std::fs::metadata(common::BIN).unwrap().len();
    assert!(near_line.ends_with(" host(s)") && copies == 1 && sent == binary, "one copy of this binary: {near_line}");
    assert!(moved > sent && (moved - sent) * 5 < dumped, "{near_line}");
    assert_eq!(err.matches("folder for near-data done").count(), 3, "{err}");
    let mut here: Vec<String> = std::fs::read_dir(out.join("dumps/api-svc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    here.sort();
    assert_eq!(here, ["0.analysis.json", "1.analysis.json", "2.analysis.json"]);
    // ... and the dumps left on the hosts are gone with their folders.
    for dir in std::fs::read_dir("/tmp").unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.starts_with("deployclaw-dump.") {
            assert!(!dir.path().join("1.hprof.gz").exists(), "{name} was left behind");
            assert!(!dir.path().join("deployclaw").exists(), "the copy in {name} was left behind");
        }
    }
}

/// ECS names the hosts: the running tasks of the service in moto, each task's address mapped
/// to a test host (`[ecs] addresses`), the version from the task's image tag. A task whose
/// host cannot be reached is named and the others are still found; a task of another service
/// is not taken.
#[test]
fn the_running_tasks_of_an_ecs_service_are_its_instances() {
    if !available() {
        return;
    }
    let Some(moto) = common::moto::Moto::start_for_ecs() else { return };
    let addresses = seed(&moto, "ecs_tasks.py", &["prod", "api-svc", "registry.example:5000/api-svc:2.4.1", "3"]);

    let sandbox = Sandbox::new();
    let hosts: Vec<TestHost> = (0..2).map(|_| TestHost::start()).collect();
    // One key and one known_hosts file reach every task, as `[ecs] reach` has it.
    hosts[1].authorize(&hosts[0].identity);
    let known: String = hosts.iter().map(|h| std::fs::read_to_string(&h.known_hosts).unwrap()).collect();
    let known_hosts = sandbox.write("known_hosts", &known);
    let root = sandbox.path("jvms");
    let _jvms: Vec<Jvm> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let dir = root.join(i.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            Jvm::start_via(&host.launcher(), &dir, "FleetLeak", &[], &["-XX:+UseG1GC"])
        })
        .collect();
    // The third task's host refuses connections (port 2 of the first test host).
    let reached = [hosts[0].address.clone(), hosts[1].address.clone(), format!("{}:2", hosts[0].address)];
    let map: Vec<String> = addresses.iter().zip(&reached).map(|(a, r)| format!("\"{a}\" = \"{r}\"")).collect();
    let inventory = sandbox.write(
        "fleet.toml",
        &format!(
            "[services.api-svc]\nmatch = \"FleetLeak\"\n\n[ecs]\ncluster = \"prod\"\nservices = [\"api-svc\"]\nreach = {{ user = \"root\", identity = \"{}\", known_hosts = \"{}\", connect_timeout = 5 }}\naddresses = {{ {} }}\n",
            hosts[0].identity.display(),
            known_hosts.display(),
            map.join(", ")
        ),
    );
    let (got, run) = instances_through_moto(&sandbox, &moto, &inventory, INSTANCES_AND_FINDINGS);
    let instances = got["instances"].as_array().unwrap();
    let hosts_found: Vec<&str> = instances.iter().map(|i| i["host"].as_str().unwrap()).collect();
    let expected: Vec<String> = hosts.iter().map(|h| format!("ssh root@{}:22", h.address)).collect();
    let mut sorted_found = hosts_found.clone();
    sorted_found.sort();
    let mut sorted_expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    sorted_expected.sort();
    assert_eq!(sorted_found, sorted_expected, "one instance per reachable task: {got:#}");
    assert_eq!(instances[0]["instance"], "api-svc[0]");
    for i in instances {
        assert_eq!(i["version"], "2.4.1", "the image tag: {i}");
        assert!(i["task"].as_str().is_some_and(|t| t.len() > 8), "the task id: {i}");
    }
    let findings = got["findings"].to_string();
    assert!(findings.contains(&format!("host ssh root@{}:2 could not be asked", hosts[0].address)), "{findings}");
    assert!(stderr(&run).contains("fleet: ECS cluster prod: api-svc has 3 running task(s)"), "{}", stderr(&run));
}

/// The instances found (instance, host, version, task) and the findings' titles.
const INSTANCES_AND_FINDINGS: &str = "#{instances: found.select([\"instance\", \"host\", \"version\", \"task\"]).rows(), findings: evidence::findings().col(\"title\")}";

/// Run a seeding script of tests/fixtures/aws against moto; it prints the addresses it made.
fn seed(moto: &common::moto::Moto, script: &str, args: &[&str]) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aws").join(script);
    let out = Command::new("python3")
        .arg(path)
        .arg(&moto.url)
        .args(args)
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `fleet::instances` of `inventory` in `deployclaw run --json` with AWS at moto; `result` is
/// the script's last expression over `found`. Its JSON answer, and the run.
fn instances_through_moto(
    sandbox: &Sandbox,
    moto: &common::moto::Moto,
    inventory: &Path,
    result: &str,
) -> (Value, std::process::Output) {
    let script = sandbox.write("instances.rhai", &format!("let found = fleet::instances(INV);\n{result}\n"));
    let run = sandbox
        .command()
        .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("INV={}", inventory.display())])
        .envs(common::moto::ENV.iter().copied())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}\n{}", stdout(&run), stderr(&run));
    let got: Value = serde_json::from_str(stdout(&run).trim()).unwrap();
    (got, run)
}

/// SSM Run Command as the transport to an EC2 instance, against moto. moto records the commands
/// (document, instance, the command line) and answers every invocation with success and no
/// output: it runs nothing, so no JVM is found there, and the audit says so. What this checks
/// is that the calls are made as AWS takes them and read back to their end.
#[test]
fn a_host_reached_by_ssm_run_command_is_asked_through_aws_run_shell_script() {
    let Some(moto) = common::moto::Moto::start_empty() else { return };
    let sandbox = Sandbox::new();
    let inventory =
        sandbox.write("fleet.toml", "[services.api-svc]\nhosts = [{ ssm = \"i-0123456789abcdef0\", timeout = 30 }]\n");
    let (got, _) = instances_through_moto(
        &sandbox,
        &moto,
        &inventory,
        "#{instances: found.len(), findings: evidence::findings().col(\"title\")}",
    );
    assert_eq!(got["instances"], 0);
    assert!(
        got["findings"].to_string().contains("api-svc: no running instance found on any of its 1 host(s)"),
        "{got}"
    );

    let listed = Command::new("python3")
        .args(["-c", "import boto3, json, sys\nc = boto3.client('ssm', endpoint_url=sys.argv[1]).list_commands()['Commands']\nprint(json.dumps([[x['DocumentName'], x['InstanceIds'], x['Parameters']['commands']] for x in c]))", &moto.url])
        .envs(common::moto::ENV.iter().copied())
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let commands: Value = serde_json::from_slice(&listed.stdout).unwrap();
    // The process table first (a fixed script, quoted as one word for the document's shell);
    // moto answers it with nothing, so jcmd is asked.
    let script = format!("sh -c {}", deployclaw::fleet::transport::quote(deployclaw::fleet::launcher::SCRIPT));
    assert_eq!(
        commands,
        serde_json::json!([
            ["AWS-RunShellScript", ["i-0123456789abcdef0"], [script]],
            ["AWS-RunShellScript", ["i-0123456789abcdef0"], ["jcmd -l"]]
        ])
    );
}

/// EC2 names the hosts: the running instances tagged `service = api-svc` in moto, each
/// instance's private address mapped to a test host (`[ec2] addresses`), the version from its
/// `version` tag. A stopped instance and one of another service are not taken; an instance
/// whose host cannot be reached is named and the other is still found.
#[test]
#[cfg(feature = "ec2")]
fn the_running_ec2_instances_tagged_with_a_service_are_its_instances() {
    if !available() {
        return;
    }
    let Some(moto) = common::moto::Moto::start_empty() else { return };
    let addresses = seed(&moto, "ec2_instances.py", &["api-svc", "2.4.1", "2"]);

    let sandbox = Sandbox::new();
    let host = TestHost::start();
    let dir = sandbox.path("jvm");
    std::fs::create_dir_all(&dir).unwrap();
    let _jvm = Jvm::start_via(&host.launcher(), &dir, "FleetLeak", &[], &["-XX:+UseG1GC"]);
    // The second instance's host refuses connections (port 2 of the test host).
    let map = format!("\"{}\" = \"{}\", \"{}\" = \"{}:2\"", addresses[0], host.address, addresses[1], host.address);
    let inventory = sandbox.write(
        "fleet.toml",
        &format!(
            "[services.api-svc]\nmatch = \"FleetLeak\"\n\n[ec2]\nservices = [\"api-svc\"]\nversion_tag = \"version\"\nreach = {{ user = \"root\", identity = \"{}\", known_hosts = \"{}\", connect_timeout = 5 }}\naddresses = {{ {map} }}\n",
            host.identity.display(),
            host.known_hosts.display(),
        ),
    );
    let (got, run) = instances_through_moto(&sandbox, &moto, &inventory, INSTANCES_AND_FINDINGS);
    let instances = got["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{got:#}");
    assert_eq!(instances[0]["host"], format!("ssh root@{}:22", host.address));
    assert_eq!(instances[0]["version"], "2.4.1", "the version tag: {got:#}");
    assert!(instances[0]["task"].as_str().is_some_and(|t| t.starts_with("i-")), "the instance id: {got:#}");
    let findings = got["findings"].to_string();
    assert!(findings.contains(&format!("host ssh root@{}:2 could not be asked", host.address)), "{findings}");
    assert!(stderr(&run).contains("fleet: EC2 instances tagged service=api-svc: 2 running: i-"), "{}", stderr(&run));
}
