//! Malformed and invalid topology files: each one makes `topolab check` exit
//! 1 with a message naming the problem, and never panic.

mod support;

use std::io::Write;

use support::{run, topolab};

const REFERENCE: &str = include_str!("../presets/reference.ron");

/// A valid one-host topology with `hosts` replaced.
fn with_hosts(hosts: &str) -> String {
    format!("(version: 1, name: \"t\", hosts: [{hosts}])")
}

/// The reference design with `from` replaced by `to` (exactly once).
fn reference_with(from: &str, to: &str) -> String {
    assert_eq!(
        REFERENCE.matches(from).count(),
        1,
        "{from:?} must occur once"
    );
    REFERENCE.replace(from, to)
}

const SERVER: &str = "nginx(), app(), db(role: primary)";

fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!(
        "(version: 1, name: \"t\", extra: {}{}, hosts: [])",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let long = "x".repeat(64);
    vec![
        ("empty file", b"".to_vec(), "empty"),
        ("only whitespace", b"  \n\t\n".to_vec(), "empty"),
        (
            "truncated",
            REFERENCE.as_bytes()[..REFERENCE.len() / 2].to_vec(),
            "Unexpected end",
        ),
        (
            "binary",
            vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0],
            "binary",
        ),
        (
            "non-UTF-8 (Latin-1)",
            b"(version: 1, name: \"caf\xe9\", hosts: [])".to_vec(),
            "not UTF-8",
        ),
        ("deep nesting", deep.into_bytes(), "recursion limit"),
        (
            "oversized file",
            format!("(version: 1, name: \"t\", description: \"{}\", hosts: [])", "a".repeat(1_100_000)).into_bytes(),
            "larger than",
        ),
        (
            "unknown format version",
            REFERENCE.replace("version: 1,", "version: 7,").into_bytes(),
            "format version 7 is not supported",
        ),
        (
            "no version",
            REFERENCE.replace("version: 1,", "").into_bytes(),
            "no `version` field",
        ),
        (
            "version of the wrong type",
            REFERENCE.replace("version: 1,", "version: \"1\",").into_bytes(),
            "Expected",
        ),
        (
            "unknown field",
            reference_with("databases:", "databasse:").into_bytes(),
            "`databases`",
        ),
        (
            "unknown algorithm",
            reference_with("algorithm: roundrobin", "algorithm: random").into_bytes(),
            "`leastconn`",
        ),
        (
            "unknown component kind",
            with_hosts("(name: \"a\", components: [redis()])").into_bytes(),
            "`nginx`",
        ),
        (
            "wrong type: port as text",
            with_hosts("(name: \"a\", components: [nginx(port: \"80\"), app(), db()])")
                .into_bytes(),
            "Expected",
        ),
        (
            "huge number",
            with_hosts("(name: \"a\", components: [nginx(port: 99999999999999999999), app(), db()])")
                .into_bytes(),
            "out of bounds",
        ),
        (
            "port beyond 65535",
            with_hosts("(name: \"a\", components: [nginx(port: 70000), app(), db()])").into_bytes(),
            "out of bounds",
        ),
        (
            "negative weight",
            reference_with("(host: \"web-01\")", "(host: \"web-01\", weight: -1)").into_bytes(),
            "out of bounds",
        ),
        (
            "empty host name",
            with_hosts(&format!("(name: \"\", components: [{SERVER}])")).into_bytes(),
            "is empty",
        ),
        (
            "unicode host name",
            with_hosts(&format!("(name: \"wéb-01\", components: [{SERVER}])")).into_bytes(),
            "'é'",
        ),
        (
            "host name too long",
            with_hosts(&format!("(name: \"{long}\", components: [{SERVER}])")).into_bytes(),
            "64 characters",
        ),
        (
            "duplicate host names",
            reference_with("name: \"web-02\"", "name: \"web-01\"").into_bytes(),
            "2 hosts are named \"web-01\"",
        ),
        (
            "replication cycle",
            with_hosts(
                "(name: \"a\", components: [nginx(), app(), db(role: replica(of: \"b\"))]),\
                 (name: \"b\", components: [db(role: replica(of: \"a\"))])",
            )
            .into_bytes(),
            "replication cycle: a/db -> b/db -> a/db",
        ),
        (
            "replica of itself",
            with_hosts("(name: \"a\", components: [nginx(), app(), db(role: replica(of: \"a\"))])")
                .into_bytes(),
            "replica of itself",
        ),
        (
            "replica of a missing host",
            reference_with("replica(of: \"web-01\")", "replica(of: \"web-09\")").into_bytes(),
            "replica of web-09, which does not exist",
        ),
        (
            "replica of a host without a database",
            reference_with("replica(of: \"web-01\")", "replica(of: \"lb-01\")").into_bytes(),
            "which runs no database",
        ),
        (
            "replica of a replica",
            with_hosts(&format!(
                "(name: \"a\", components: [{SERVER}]),\
                 (name: \"b\", components: [db(role: replica(of: \"a\"))]),\
                 (name: \"c\", components: [db(role: replica(of: \"b\"))])"
            ))
            .into_bytes(),
            "which is not a primary",
        ),
        (
            "two primaries in one group",
            reference_with("db(role: replica(of: \"web-01\"))", "db(role: primary)").into_bytes(),
            "has 2 primaries",
        ),
        (
            "backend that does not exist",
            reference_with("(host: \"web-02\")", "(host: \"web-03\")").into_bytes(),
            "backend web-03 does not exist",
        ),
        (
            "backend without a web server",
            reference_with("(host: \"web-02\")", "(host: \"lb-01\")").into_bytes(),
            "backend lb-01 runs no web server",
        ),
        (
            "load balancer without backends",
            with_hosts(&format!(
                "(name: \"lb\", components: [lb(backends: [])]), (name: \"a\", components: [{SERVER}])"
            ))
            .into_bytes(),
            "has no backends",
        ),
        (
            "only backup backends",
            reference_with("(host: \"web-01\")", "(host: \"web-01\", backup: true)")
                .replace("(host: \"web-02\")", "(host: \"web-02\", backup: true)")
                .into_bytes(),
            "every backend is a backup",
        ),
        (
            "two components want one port",
            with_hosts(&format!(
                "(name: \"a\", components: [lb(backends: [(host: \"a\")]), {SERVER}])"
            ))
            .into_bytes(),
            "port 80 is wanted by a/lb (HTTP) and a/nginx (HTTP)",
        ),
        (
            "two databases on one host",
            with_hosts("(name: \"a\", components: [nginx(), app(), db(), db()])").into_bytes(),
            "2 components of kind db",
        ),
        (
            "weight out of HAProxy's range",
            reference_with("(host: \"web-01\")", "(host: \"web-01\", weight: 1000)").into_bytes(),
            "weight 1000",
        ),
        (
            "position not a number",
            reference_with("(x: 300.0, y: 0.0)", "(x: NaN, y: 0.0)").into_bytes(),
            "finite",
        ),
        ("no hosts", b"(version: 1, name: \"t\", hosts: [])".to_vec(), "no hosts"),
        (
            "nginx without an app",
            with_hosts("(name: \"a\", components: [nginx(), db()])").into_bytes(),
            "runs no app",
        ),
        (
            "TLS without a load balancer",
            format!("(version: 1, name: \"t\", security: (tls: true), hosts: [(name: \"a\", components: [{SERVER}])])")
                .into_bytes(),
            "TLS terminates at a load balancer",
        ),
        (
            "host name collides with a container name",
            with_hosts(&format!(
                "(name: \"web\", components: [{SERVER}]), (name: \"web-db\", components: [nginx(), app()])"
            ))
            .into_bytes(),
            "collides with the db container of host web",
        ),
        (
            "metrics port taken when monitoring is on",
            b"(version: 1, name: \"t\", monitoring: (enabled: true), hosts: [(name: \"a\", components: [nginx(port: 9104), app(), db()])])"
                .to_vec(),
            "port 9104 is wanted by a/nginx (HTTP) and a/db (MySQL exporter)",
        ),
        (
            "a list instead of a topology",
            b"[1, 2, 3]".to_vec(),
            "Expected",
        ),
        (
            "topology name not a DNS label",
            REFERENCE.replace("name: \"reference\"", "name: \"My Lab\"").into_bytes(),
            "topology name \"My Lab\"",
        ),
    ]
}

#[test]
fn every_malformed_or_invalid_file_exits_1_naming_the_problem() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut names = std::collections::HashSet::new();
    for (name, bytes, expected) in cases {
        assert!(names.insert(name), "duplicate case {name}");
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write");
        let out = topolab()
            .arg("check")
            .arg(file.path())
            .output()
            .expect("topolab runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: expected exit 1, got {:?}\n{stderr}",
            out.status.code()
        );
        assert!(!stderr.contains("panicked"), "{name}: panic\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected the message to contain {expected:?}, got:\n{stderr}"
        );
        // JSON output says the same and is one object.
        let (_, json, _) = run(topolab()
            .arg("check")
            .arg(file.path())
            .args(["--format", "json"]));
        let v: serde_json::Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{name}: invalid JSON ({e}): {json}"));
        let problems = v["problems"].as_array().expect("problems array");
        assert!(!problems.is_empty(), "{name}: no problems in JSON");
        assert_eq!(v["findings"], serde_json::json!([]));
    }
}

#[test]
fn semantic_problems_point_at_the_host_in_the_file() {
    let text = reference_with("replica(of: \"web-01\")", "replica(of: \"web-09\")");
    let problems = topolab::preset::load(text.as_bytes()).expect_err("invalid");
    let p = problems
        .iter()
        .find(|p| p.message.contains("web-09"))
        .expect("problem");
    let line = text
        .lines()
        .position(|l| l.contains("name: \"web-02\""))
        .expect("web-02 line")
        + 1;
    assert_eq!(p.at.map(|a| a.line), Some(line), "{p}");
    assert_eq!(
        p.subject.as_ref().map(ToString::to_string).as_deref(),
        Some("web-02/db")
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = with_hosts(
        "(name: \"A\", components: [nginx(), db(role: replica(of: \"zz\"))]),\
         (name: \"b\", components: [])",
    );
    let problems = topolab::preset::load(text.as_bytes()).expect_err("invalid");
    let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for expected in [
        "'A'",
        "runs no component",
        "runs no app",
        "which does not exist",
    ] {
        assert!(
            all.iter().any(|p| p.contains(expected)),
            "{expected}: {all:#?}"
        );
    }
}
