//! The AWS collectors through Rhai and the real SDK clients, against moto's server on a loopback
//! port seeded by tests/fixtures/aws/seed.py (boto3): metrics, alarms (metric math included),
//! log events, RDS instances, and the errors people meet.

mod common;

use common::moto::{ENV, Moto};
use common::{Sandbox, code, stderr, stdout};
use std::process::Output;

fn run(sandbox: &Sandbox, moto: &Moto, script: &str, env: &[(&str, &str)]) -> Output {
    let path = sandbox.write("aws.rhai", script);
    let mut cmd = sandbox.command();
    cmd.args(["run", "--json", path.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("HOME", sandbox.path("nohome"));
    cmd.envs(ENV.iter().copied());
    // An empty value removes the variable.
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(code(out), 0, "{}", stderr(out));
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn metrics_alarms_logs_and_rds_come_back_as_frames() {
    let Some(moto) = Moto::start() else { return };
    let sandbox = Sandbox::new();

    let script = r#"let m = aws::metrics("AWS/RDS", "DatabaseConnections",
            [#{DBInstanceIdentifier: "orders-db"}, #{DBInstanceIdentifier: "users-db"}], "-3h", "now", 60, "Maximum");
        #{columns: m.columns(), orders: m.filter("DBInstanceIdentifier = 'orders-db'").col("value"),
          users: m.filter("DBInstanceIdentifier = 'users-db'").col("value")}"#;
    let v = json(&run(&sandbox, &moto, script, &[]));
    assert_eq!(v["columns"], serde_json::json!(["timestamp", "DBInstanceIdentifier", "value"]));
    let orders: Vec<f64> = v["orders"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(
        orders,
        (1..=10).rev().map(|m| 100.0 + m as f64).collect::<Vec<_>>(),
        "one value a minute, oldest first"
    );
    assert_eq!(v["users"].as_array().unwrap().len(), 10);

    let script = r#"let a = aws::alarms("orders-");
        #{simple: a.filter("name = 'orders-db-connections'").rows()[0], math: a.filter("name = 'orders-api-error-burn'").rows()[0]}"#;
    let v = json(&run(&sandbox, &moto, script, &[]));
    let simple = &v["simple"];
    assert_eq!(simple["namespace"], "AWS/RDS");
    assert_eq!(simple["dimensions"], "DBInstanceIdentifier=orders-db");
    assert_eq!((simple["statistic"].as_str(), simple["period"].as_i64()), (Some("Maximum"), Some(60)));
    assert_eq!((simple["evaluation_periods"].as_i64(), simple["datapoints_to_alarm"].as_i64()), (Some(5), Some(3)));
    assert_eq!(
        (simple["threshold"].as_f64(), simple["comparison"].as_str()),
        (Some(90.0), Some("GreaterThanThreshold"))
    );
    assert_eq!(simple["treat_missing_data"], "notBreaching");
    assert_eq!(simple["actions"], "arn:aws:sns:us-east-1:123456789012:pager");
    let math = v["math"]["metrics"].as_str().unwrap();
    assert!(
        math.contains("burn: (errors / requests) / 0.001") && math.contains("errors: Shop/Errors Sum 300"),
        "{math}"
    );

    let script = r#"#{all: aws::logs("/shop/api", "", "-1d", "now").col("message"), errors: aws::logs("/shop/api", "ERROR", "-1d", "now").col("message")}"#;
    let v = json(&run(&sandbox, &moto, script, &[]));
    assert_eq!(v["all"], serde_json::json!(["INFO started", "ERROR tenant=acme pool exhausted", "INFO request ok"]));
    assert_eq!(v["errors"], serde_json::json!(["ERROR tenant=acme pool exhausted"]));

    let v = json(&run(&sandbox, &moto, "aws::rds_instances().rows()", &[]));
    let db = &v[0];
    assert_eq!(
        (db["identifier"].as_str(), db["engine"].as_str(), db["class"].as_str()),
        (Some("orders-db"), Some("postgres"), Some("db.r6g.large"))
    );
    assert_eq!((db["parameter_group"].as_str(), db["max_connections"].as_i64()), (Some("orders-pg15"), Some(150)));
    assert!(db["endpoint"].as_str().unwrap().ends_with(":5432"), "{db}");
}

#[test]
fn errors_name_the_call_and_the_resource_and_never_show_credentials() {
    let Some(moto) = Moto::start() else { return };
    let sandbox = Sandbox::new();
    let secret = ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIdoNotShowThisKey1234");
    let out = run(&sandbox, &moto, r#"aws::logs("/no/such/group", "", "-1h", "now")"#, &[secret]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("FilterLogEvents /no/such/group: not found"), "{err}");
    let logs: String = sandbox.logs().iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(!err.contains(secret.1) && !stdout(&out).contains(secret.1) && !logs.contains(secret.1));

    let out = run(&sandbox, &moto, r#"aws::alarms()"#, &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "")]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("no AWS region: set AWS_REGION"), "{}", stderr(&out));

    let out = run(&sandbox, &moto, r#"aws::metrics("AWS/RDS", "X", #{}, "yesterday", "now", 60, "Sum")"#, &[]);
    assert!(stderr(&out).contains("\"yesterday\" is not a time"), "{}", stderr(&out));
}

#[test]
fn credentials_aws_does_not_know_get_a_clear_error() {
    let Some(moto) = Moto::start_with_auth() else { return };
    let sandbox = Sandbox::new();
    let out = run(&sandbox, &moto, "aws::alarms()", &[("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7NOTREAL")]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.contains("DescribeAlarms (all alarms): AWS refused the credentials or found none: InvalidClientTokenId"),
        "{err}"
    );
    assert!(err.lines().count() <= 3, "one clear message, not a dump of the response: {err}");
    assert!(!err.contains("AKIAIOSFODNN7NOTREAL"), "{err}");
}

/// A loopback endpoint that answers every request as CloudWatch does when it throttles, and
/// counts the requests.
fn throttling_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let xml = r#"<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
            let mut stream = stream;
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, count)
}

#[test]
fn throttling_is_retried_with_backoff_then_named() {
    let (url, requests) = throttling_endpoint();
    let sandbox = Sandbox::new();
    let path = sandbox.write("alarms.rhai", "aws::alarms()");
    let started = std::time::Instant::now();
    let out = sandbox
        .command()
        .args(["run", path.to_str().unwrap(), "--endpoint-url", &url])
        .env("HOME", sandbox.path("nohome"))
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "DescribeAlarms (all alarms): still throttled after 5 attempts with backoff: Throttling: Rate exceeded"
        ),
        "{err}"
    );
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 5, "one request per attempt");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "the attempts were spaced by backoff");
}

#[test]
fn build_logs_in_cloudwatch_logs_are_triaged_like_files() {
    let Some(moto) = Moto::start() else { return };
    let sandbox = Sandbox::new();
    let script = r#"let lines = ci::read("cloudwatch:/aws/codebuild/web", #{start: "-1h"});
        let causes = ci::classify(lines);
        [lines.len(), lines.col("job")[0], lines.filter("failure").col("step"), causes.col("cause")[0], causes.col("retry")[0]]"#;
    let got = json(&run(&sandbox, &moto, script, &[]));
    assert_eq!(got, serde_json::json!([41, "web:build-1", ["BUILD"], "timeout", true]));
    let missing = run(&sandbox, &moto, r#"ci::read("cloudwatch:/aws/codebuild/nope")"#, &[]);
    assert!(stderr(&missing).contains("FilterLogEvents /aws/codebuild/nope: not found"), "{}", stderr(&missing));
}

/// A metric inventory over more series than one ListMetrics page holds (moto pages at 500):
/// tenants named by a dimension, an alarm that watches one tenant through metric math, and SLOs
/// for two tenants, one of them without an alarm.
#[test]
fn metric_inventory_reads_every_page_and_names_tenants_without_alarms() {
    let Some(moto) = Moto::start_empty() else { return };
    let seed = r#"
import sys, boto3
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1])
for first in range(0, 300, 50):
    cw.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": m, "Dimensions": [{"Name": "Tenant", "Value": f"t{t:03}"}], "Value": 1.0}
        for t in range(first, first + 50) for m in ("Errors", "Requests")])
cw.put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "CPU", "Value": 1.0}])
q = lambda i, m: {"Id": i, "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": m, "Dimensions": [{"Name": "Tenant", "Value": "t007"}]}, "Period": 300, "Stat": "Sum"}}
cw.put_metric_alarm(AlarmName="t007-burn", EvaluationPeriods=1, Threshold=14.4, ComparisonOperator="GreaterThanThreshold",
    Metrics=[q("e", "Errors"), q("r", "Requests"), {"Id": "burn", "Expression": "(e / r) / 0.001", "ReturnData": True}])
"#;
    let seeded =
        std::process::Command::new("python3").args(["-c", seed, &moto.url]).envs(ENV.iter().copied()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let sandbox = Sandbox::new();
    sandbox.write(
        "slos.toml",
        "[[slo]]\nservice = \"shop\"\nname = \"availability\"\nobjective = 0.999\ntenants = [\"t007\", \"t008\"]\n",
    );
    let script = r#"let inv = aws::metric_inventory(#{dimension: "Tenant", namespace_prefix: "Shop", slos: "slos.toml"});
        #{tenants: inv.len(), series: inv.col("series").reduce(|a, b| a + b, 0),
          t007: inv.filter("tenant = 't007'").rows()[0], t008: inv.filter("tenant = 't008'").col("status"),
          unguarded: inv.filter("status = 'unguarded'").len()}"#;
    let v = json(&run(&sandbox, &moto, script, &[]));
    assert_eq!((v["tenants"].as_i64(), v["series"].as_i64()), (Some(300), Some(600)), "{v}");
    assert_eq!(v["t007"]["alarms"], "t007-burn");
    assert_eq!(v["t007"]["status"], "covered");
    assert_eq!(v["t008"], serde_json::json!(["missing-in-source"]));
    assert_eq!(v["unguarded"], 298);

    let out = run(&sandbox, &moto, "aws::metric_inventory(#{})", &[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("dimension (e.g. \"Tenant\") or namespace_prefix"), "{}", stderr(&out));
}

/// A heap dump in S3 reads as the same dump on disk (histogram, dominators); a key that is not
/// there says which.
#[test]
fn a_heap_dump_in_s3_reads_as_the_same_dump_on_disk() {
    let Some(moto) = Moto::start_empty() else { return };
    let sandbox = Sandbox::new();
    let dump = sandbox.path("app.hprof");
    let make = sandbox.write("make.rhai", "heap::demo_dump(DUMP, 5)");
    let made = sandbox
        .command()
        .args(["run", make.to_str().unwrap(), "-p", &format!("DUMP={}", dump.to_str().unwrap())])
        .output()
        .unwrap();
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let put = std::process::Command::new("python3")
        .args([
            "-c",
            "import boto3, sys; s3 = boto3.client('s3', endpoint_url=sys.argv[1]); s3.create_bucket(Bucket='dumps'); s3.upload_file(sys.argv[2], 'dumps', 'orders/app.hprof')",
            &moto.url,
            dump.to_str().unwrap(),
        ])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    let script = sandbox.write(
        "s3-heap.rhai",
        r#"aws::configure(#{endpoint_url: MOTO_URL});
        let s3 = "s3://dumps/orders/app.hprof";
        #{
            histogram: heap::histogram(s3).rows() == heap::histogram(DUMP).rows(),
            dominators: heap::dominators(s3, 5).rows() == heap::dominators(DUMP, 5).rows(),
        }"#,
    );
    let run = sandbox
        .command()
        .args(["run", "--json", script.to_str().unwrap(), "-p", &format!("MOTO_URL={}", moto.url)])
        .args(["-p", &format!("DUMP={}", dump.to_str().unwrap())])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let result: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(result["histogram"], true, "{result}");
    assert_eq!(result["dominators"], true, "{result}");

    let none = sandbox
        .write("none.rhai", r#"aws::configure(#{endpoint_url: MOTO_URL}); heap::histogram("s3://dumps/none.hprof")"#);
    let missing = sandbox
        .command()
        .args(["run", none.to_str().unwrap(), "-p", &format!("MOTO_URL={}", moto.url)])
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("GetObject s3://dumps/none.hprof: not found"), "{}", stderr(&missing));
}
