//! Malformed and invalid topology files: each one makes `topolab check` exit
//! 1 with a message naming the problem, and never panic.

mod support;

use std::io::Write;

use support::topolab;

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
        (
            "unknown release",
            with_hosts("(name: \"web-01\", components: [nginx(), app(release: \"v9\"), db(role: primary)])")
                .into_bytes(),
            "release \"v9\" is not one topolab ships (v1, v2, v2-broken)",
        ),
        (
            "failover agreement out of range",
            reference_with(
                "replication: async)",
                "replication: async, failover: automatic(agree: 4))",
            )
            .into_bytes(),
            "failover: agree is 4; it must be 1 to 3",
        ),
        ("only whitespace", b"  \n\t\n".to_vec(), "empty"),
        (
            "truncated",
            // Cut at a line's end halfway through: the file stops, no word is cut.
            REFERENCE.as_bytes()[..REFERENCE[..REFERENCE.len() / 2].rfind('\n').unwrap_or(0)].to_vec(),
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
        (
            "host named like the binlog reader of another",
            reference_with("name: \"web-02\"", "name: \"web-01-binlog-reader\"")
                .replace("(host: \"web-02\")", "(host: \"web-01-binlog-reader\")")
                .into_bytes(),
            "ends in \"-binlog-reader\"",
        ),
        (
            "host named like an exporter, with no host of the base name",
            with_hosts(&format!("(name: \"db-exporter\", components: [{SERVER}])")).into_bytes(),
            "ends in \"-exporter\"",
        ),
        (
            "host named monitoring",
            with_hosts(&format!("(name: \"monitoring\", components: [{SERVER}])")).into_bytes(),
            "reserved",
        ),
        (
            "host named like the nginx container of another",
            with_hosts(&format!(
                "(name: \"web\", components: [{SERVER}]), (name: \"web-nginx\", components: [db(role: replica(of: \"web\"))])"
            ))
            .into_bytes(),
            "collides with the nginx container of host web",
        ),
        (
            "pinned published port taken by another entry point's default",
            with_hosts(&format!(
                "(name: \"lb-01\", components: [lb(backends: [(host: \"a\")])]),\
                 (name: \"lb-02\", components: [lb(backends: [(host: \"a\")], published_port: 8080)]),\
                 (name: \"a\", components: [{SERVER}])"
            ))
            .into_bytes(),
            "published port 8080 is wanted by lb-01/lb (HTTP, by its place) and lb-02/lb (HTTP, pinned)",
        ),
        (
            "pinned published port taken by another's HTTPS",
            format!(
                "(version: 1, name: \"t\", security: (tls: true), hosts: [\
                 (name: \"lb-01\", components: [lb(backends: [(host: \"a\")])]),\
                 (name: \"lb-02\", components: [lb(backends: [(host: \"a\")], published_port: 8180)]),\
                 (name: \"a\", components: [{SERVER}])])"
            )
            .into_bytes(),
            "published port 8180 is wanted by lb-01/lb (HTTPS, its HTTP port + 100) and lb-02/lb (HTTP, pinned)",
        ),
        (
            "HTTPS published past 65535",
            format!(
                "(version: 1, name: \"t\", security: (tls: true), hosts: [\
                 (name: \"lb\", components: [lb(backends: [(host: \"a\")], published_port: 65500)]),\
                 (name: \"a\", components: [{SERVER}])])"
            )
            .into_bytes(),
            "published on port 65600, past 65535",
        ),
        (
            "pinned published port taken by Prometheus",
            format!(
                "(version: 1, name: \"t\", monitoring: (enabled: true), hosts: [\
                 (name: \"lb\", components: [lb(backends: [(host: \"a\")], published_port: 9090)]),\
                 (name: \"a\", components: [{SERVER}])])"
            )
            .into_bytes(),
            "and Prometheus (monitoring)",
        ),
        (
            "description with an escape sequence",
            REFERENCE
                .replacen("description: \"", "description: \"\\u{1b}]0;pwned\\u{7}", 1)
                .into_bytes(),
            "control character '\\u{1b}'",
        ),
        (
            "group name: the first bad character, not the trailing hyphen",
            reference_with("db(role: primary)", "db(role: primary, group: \"Main-\")").into_bytes(),
            "replication group \"Main-\" contains 'M' at character 1",
        ),
        (
            "host name: the first bad character, not the trailing hyphen",
            with_hosts(&format!("(name: \"web_01-\", components: [{SERVER}])")).into_bytes(),
            "contains '_' at character 4",
        ),
        (
            "host name starting with a hyphen",
            with_hosts(&format!("(name: \"-web\", components: [{SERVER}])")).into_bytes(),
            "starts with a hyphen",
        ),
        (
            "unicode lookalike (Cyrillic e) in a host name",
            with_hosts(&format!("(name: \"w{}b-01\", components: [{SERVER}])", '\u{435}')).into_bytes(),
            "contains '\u{435}' at character 2",
        ),
        (
            "zero-width space in a host name",
            with_hosts(&format!("(name: \"web\\u{{200b}}01\", components: [{SERVER}])")).into_bytes(),
            "contains '\\u{200b}' at character 4",
        ),
        (
            "NUL escape in a host name",
            with_hosts(&format!("(name: \"a\\0\", components: [{SERVER}])")).into_bytes(),
            "contains '\\0'",
        ),
        (
            "a very long host name of good characters",
            with_hosts(&format!("(name: \"{}\", components: [{SERVER}])", "a".repeat(5000))).into_bytes(),
            "is 5000 characters long (at most 63)",
        ),
        (
            "too many hosts",
            with_hosts(
                &(0..201)
                    .map(|i| format!("(name: \"h{i}\", components: [{SERVER}])"))
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .into_bytes(),
            "201 hosts (at most 200)",
        ),
        (
            "nginx port 0",
            with_hosts("(name: \"a\", components: [nginx(port: 0), app(), db()])").into_bytes(),
            "HTTP port 0 is not a usable port",
        ),
        (
            "zero weight",
            reference_with("(host: \"web-01\")", "(host: \"web-01\", weight: 0)").into_bytes(),
            "weight 0",
        ),
        (
            "health check every 0 ms",
            reference_with("interval_ms: 250", "interval_ms: 0").into_bytes(),
            "interval_ms is 0",
        ),
        (
            "backend listed twice",
            reference_with("(host: \"web-01\")", "(host: \"web-01\"), (host: \"web-01\")").into_bytes(),
            "backend web-01 is listed twice",
        ),
        (
            "domain with an empty label",
            reference_with("domain: \"www.foobar.com\"", "domain: \"www..foobar.com\"").into_bytes(),
            "has a label \"\" that is empty",
        ),
        (
            "domain far too long",
            reference_with(
                "domain: \"www.foobar.com\"",
                &format!("domain: \"{}com\"", "a.".repeat(200)),
            )
            .into_bytes(),
            "at most 253",
        ),
        (
            "region not a DNS label",
            with_hosts(&format!("(name: \"a\", region: \"EU West\", components: [{SERVER}])")).into_bytes(),
            "region \"EU West\" contains 'E'",
        ),
        (
            "app group with no primary",
            with_hosts("(name: \"a\", components: [nginx(), app(group: \"other\"), db()])").into_bytes(),
            "which has no primary database",
        ),
        (
            "replica in another group than its primary",
            with_hosts(&format!(
                "(name: \"a\", components: [{SERVER}]), (name: \"b\", components: [db(role: replica(of: \"a\"), group: \"x\")])"
            ))
            .into_bytes(),
            "in replication group \"x\" but replicates a/db",
        ),
        (
            "duplicate field",
            b"(version: 1, name: \"t\", name: \"u\", hosts: [])".to_vec(),
            "duplicate field named `name`",
        ),
        (
            "trailing garbage",
            format!("{REFERENCE} (version: 1)").into_bytes(),
            "Non-whitespace trailing characters",
        ),
        (
            "unterminated string",
            b"(version: 1, name: \"t, hosts: [])".to_vec(),
            "Expected",
        ),
        (
            "unknown string escape",
            b"(version: 1, name: \"\\q\", hosts: [])".to_vec(),
            "escape",
        ),
        (
            "unicode escape past the last code point",
            b"(version: 1, name: \"\\u{110000}\", hosts: [])".to_vec(),
            "escape",
        ),
        (
            "hosts of the wrong type",
            b"(version: 1, name: \"t\", hosts: \"web-01\")".to_vec(),
            "Expected",
        ),
        (
            "role as text",
            with_hosts("(name: \"a\", components: [nginx(), app(), db(role: \"primary\")])").into_bytes(),
            "Expected",
        ),
        (
            "boolean as text",
            REFERENCE.replace("version: 1,", "version: 1, security: (tls: \"yes\"),").into_bytes(),
            "Expected",
        ),
        (
            "version as a float",
            REFERENCE.replace("version: 1,", "version: 1.5,").into_bytes(),
            "Expected",
        ),
        (
            "position as text",
            reference_with("(x: 300.0, y: 0.0)", "(x: \"a\", y: 0.0)").into_bytes(),
            "Expected",
        ),
        (
            "position out of f32's range",
            reference_with("(x: 300.0, y: 0.0)", "(x: 1e300, y: 0.0)").into_bytes(),
            "finite",
        ),
        (
            "unterminated block comment",
            format!("/* {REFERENCE}").into_bytes(),
            "comment",
        ),
        (
            "deep nesting inside a host",
            with_hosts(&format!(
                "(name: \"a\", components: {}{})",
                "[".repeat(300),
                "]".repeat(300)
            ))
            .into_bytes(),
            "recursion limit",
        ),
    ]
}

/// Runs `check` on `bytes` (text and JSON) and asserts it is refused as
/// invalid (exit 1), saying `expected`, with nothing raw from the file that
/// a terminal would obey.
fn assert_invalid(name: &str, bytes: &[u8], expected: &str) {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write");
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
    assert_printable(name, &out.stderr);
    assert_printable(name, &out.stdout);
    // JSON output says the same and is one object.
    let out = topolab()
        .arg("check")
        .arg(file.path())
        .args(["--format", "json"])
        .output()
        .expect("topolab runs");
    assert_printable(name, &out.stdout);
    let json = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{name}: invalid JSON ({e}): {json}"));
    let problems = v["problems"].as_array().expect("problems array");
    assert!(!problems.is_empty(), "{name}: no problems in JSON");
    assert_eq!(v["findings"], serde_json::json!([]));
}

/// `output` has no character a terminal would act on: no control
/// character but the line feed, no C1 control, no bidirectional override.
fn assert_printable(name: &str, output: &[u8]) {
    let text = String::from_utf8_lossy(output);
    if let Some(c) = text
        .chars()
        .find(|c| *c != '\n' && topolab::model::is_unsafe_char(*c))
    {
        panic!("{name}: the output holds {c:?} raw:\n{text}");
    }
}

#[test]
fn every_malformed_or_invalid_file_exits_1_naming_the_problem() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut names = std::collections::HashSet::new();
    for (name, bytes, expected) in cases {
        assert!(names.insert(name), "duplicate case {name}");
        assert_invalid(name, &bytes, expected);
    }
}

#[test]
fn host_names_yaml_reads_as_something_else_are_refused() {
    for (host, reading) in [
        ("0", "a number"),
        ("123", "a number"),
        ("007", "a number"),
        ("08", "a number"),
        ("yes", "a boolean"),
        ("no", "a boolean"),
        ("on", "a boolean"),
        ("off", "a boolean"),
        ("y", "a boolean"),
        ("n", "a boolean"),
        ("true", "a boolean"),
        ("false", "a boolean"),
        ("null", "null"),
        ("0x1f", "a hexadecimal number"),
        ("0o17", "an octal number"),
        ("0b101", "a binary number"),
        ("1e3", "a floating-point number"),
        ("12e-5", "a floating-point number"),
        ("2001-12-14", "a date"),
        ("2001-1-1", "a date"),
    ] {
        let text = with_hosts(&format!("(name: \"{host}\", components: [{SERVER}])"));
        assert_invalid(
            host,
            text.as_bytes(),
            &format!("host name \"{host}\" is read by YAML (docker-compose.yml) as {reading}"),
        );
    }
}

#[test]
fn names_from_the_file_cannot_write_to_the_terminal() {
    // An escape sequence that erases the line and sets the window title,
    // and a line feed that forges a verdict, in a host name.
    let evil = "web\\u{1b}[2K\\u{1b}]0;pwned\\u{7}\\nfake.ron: valid topology \\u{202e}x\\u{9b}";
    let text = with_hosts(&format!("(name: \"{evil}\", components: [{SERVER}])"));
    assert_invalid("escapes in a host name", text.as_bytes(), "\\u{1b}[2K");
    let out = topolab()
        .arg("check")
        .arg(write_temp(text.as_bytes()).path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.lines().any(|l| l.starts_with("fake.ron")),
        "a forged line:\n{stderr}"
    );
    assert!(
        stderr.contains("\\nfake.ron") && stderr.contains("\\u{202e}"),
        "{stderr}"
    );

    // RON's own error quotes the file: that excerpt is escaped too.
    let broken = b"(version: 1, name: \"t\", hosts: [], \x1b[2K\x07)";
    assert_invalid("escapes in a RON error's excerpt", broken, "\\u{1b}");

    // The path itself, when it holds control characters.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evil\u{1b}[2K.ron");
    std::fs::write(&path, "(version: 1, name: \"t\", hosts: [])").expect("write");
    let out = topolab().arg("check").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_printable("a path with an escape", &out.stderr);
    let missing = dir.path().join("gone\u{1b}[2K.ron");
    let out = topolab().arg("check").arg(&missing).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_printable("a missing path with an escape", &out.stderr);
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write");
    file
}

#[test]
fn a_host_name_with_quotes_tabs_or_escapes_keeps_its_line_and_column() {
    for (written, note) in [
        (r#""we\"b""#, "an escaped quote"),
        ("\"we\tb\"", "a raw tab"),
        (r#""we\tb""#, "an escaped tab"),
        (r#""WEB\u{41}""#, "a unicode escape"),
        (r###"r#"we"b"#"###, "a raw string"),
        (r#""we\\b""#, "an escaped backslash"),
    ] {
        // A decoy comment and a string holding the same text come first.
        let text = format!(
            "(\n    version: 1,\n    name: \"t\",\n    // name: {written}\n    description: \"name: {}\",\n    hosts: [\n        (name: \"ok\", components: [{SERVER}]),\n        (  name: {written}, components: [{SERVER}]),\n    ],\n)\n",
            written.replace('"', "'")
        );
        let problems =
            topolab::preset::load(text.as_bytes()).expect_err(&format!("{note}: invalid\n{text}"));
        let p = problems
            .iter()
            .find(|p| p.message.contains("host name"))
            .unwrap_or_else(|| panic!("{note}: {problems:?}"));
        assert_eq!(
            p.at,
            Some(topolab::model::TextPos {
                line: 8,
                column: 18
            }),
            "{note}: {p}\n{text}"
        );
    }
}

#[test]
fn line_endings_and_byte_order_marks_do_not_matter() {
    let crlf = REFERENCE.replace('\n', "\r\n");
    let bom = format!("\u{feff}{REFERENCE}");
    for (name, text) in [("CRLF", crlf.clone()), ("BOM", bom.clone())] {
        let out = topolab()
            .arg("check")
            .arg(write_temp(text.as_bytes()).path())
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Positions still count lines and characters, CR or BOM aside.
    let broken = crlf.replace("replica(of: \"web-01\")", "replica(of: \"web-09\")");
    let problems = topolab::preset::load(broken.as_bytes()).expect_err("invalid");
    let line = REFERENCE
        .lines()
        .position(|l| l.contains("name: \"web-02\""))
        .expect("web-02")
        + 1;
    assert!(problems.iter().all(|p| p.at.map(|a| a.line) == Some(line)));
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

#[test]
fn a_malformed_engines_file_exits_2_naming_its_line_and_launches_nothing() {
    let file = write_temp(b"# engines\na=unix:///var/run/docker.sock\nb=ssh://10.0.0.7\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    for args in [
        vec!["up", "reference", "--engines-file", path],
        vec!["engines", "reference", "--engines-file", path],
    ] {
        let out = support::topolab()
            .args(&args)
            .output()
            .expect("topolab runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("line 3:"), "{err}");
        assert!(err.contains("unix:///PATH or tcp://HOST:PORT"), "{err}");
    }
}
