//! End-to-end regression tests of the promises an outside audit found
//! broken: never two writable primaries (also when the old primary is cut
//! off, paused, or the promotion is refused or fails half-way), one lab
//! state under concurrent commands, lost writes counted by value, no secret
//! in any container's configuration, no admin endpoint on the public path,
//! faults that say whether they took effect. Real labs (local image
//! profile), driven through the CLI. Skipped with a message when no engine
//! is reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use support::lab::{Lab, client, docker, eventually, http};

/// Runs topolab; asserts success; returns stdout + stderr.
fn run_ok(lab: &Lab, args: &[&str]) -> String {
    let (ok, text) = run(lab, args);
    assert!(ok, "topolab {args:?} failed:\n{text}");
    text
}

/// Runs topolab; asserts exit code 1; returns stdout + stderr.
fn run_fails(lab: &Lab, args: &[&str]) -> String {
    let out = lab.run(args);
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "topolab {args:?}:\n{text}");
    text
}

fn run(lab: &Lab, args: &[&str]) -> (bool, String) {
    let out = lab.run(args);
    (out.status.success(), output(&out))
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn db(lab: &Lab, host: &str) -> String {
    format!("topolab-{}-{host}-db", lab.name)
}

/// A query as the database's root (over its socket, as a person would).
fn root_sql(lab: &Lab, host: &str, query: &str) -> (i32, String) {
    let (code, out) = lab.exec(&db(lab, host), &["mariadb", "-uroot", "-N", "-e", query]);
    (code, out.trim().to_owned())
}

/// A write as the application's user over TCP, as any client of the
/// database would: `true` when the server took it.
fn app_user_writes(lab: &Lab, host: &str) -> bool {
    let script = "mariadb -uapp -p\"$(cat /run/secrets/app_password)\" -h 127.0.0.1 app \
                  -e \"INSERT INTO items (value, written_by) VALUES ('direct', 'test')\"";
    lab.exec(&db(lab, host), &["sh", "-c", script]).0 == 0
}

/// The databases that take writes: `read_only` off, and a write as root
/// goes through (rolled back, so nothing is left behind).
fn writable(lab: &Lab, hosts: &[&str]) -> Vec<String> {
    hosts
        .iter()
        .filter(|h| {
            let running = container_state(lab, &db(lab, h)) == "running";
            running && {
                let (code, _) = root_sql(
                    lab,
                    h,
                    "START TRANSACTION; INSERT INTO app.items (value, written_by) \
                     VALUES ('probe', 'test'); ROLLBACK",
                );
                code == 0
            }
        })
        .map(|h| (*h).to_owned())
        .collect()
}

fn container_state(_lab: &Lab, name: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Status}}", name])
        .bounded()
        .expect("docker");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes an item through the lab's first entry point: its HTTP status.
fn write_item(lab: &Lab, value: &str) -> u16 {
    let url = format!("{}/api/items", lab.entry_urls()[0]);
    http(&client(), &url, Some(serde_json::json!({ "value": value }))).map_or(0, |r| r.status)
}

/// The database roles in the lab's state file.
fn recorded_roles(lab: &Lab) -> BTreeMap<String, String> {
    let state = lab.state();
    let mut roles = BTreeMap::new();
    for host in state["topology"]["hosts"].as_array().expect("hosts") {
        for c in host["components"].as_array().expect("components") {
            if let Some(db) = c.get("db") {
                roles.insert(
                    host["name"].as_str().expect("name").to_owned(),
                    db["role"].to_string(),
                );
            }
        }
    }
    roles
}

/// Waits until replication from web-01 to web-02 has caught up.
fn caught_up(lab: &Lab) {
    let same = eventually(Duration::from_secs(10), || {
        let count = |h| root_sql(lab, h, "SELECT COUNT(*) FROM app.items").1;
        (count("web-01") == count("web-02")).then_some(())
    });
    assert!(same.is_some(), "web-02 does not catch up with web-01");
}

#[test]
fn an_unplanned_promotion_fences_a_primary_that_still_answers() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h1");
    for i in 0..3 {
        assert_eq!(write_item(&lab, &format!("before-{i}")), 201);
    }
    caught_up(&lab);
    let said = run_ok(&lab, &["promote", "e2e-h1", "web-02"]);
    assert!(said.contains("web-01/db is read-only (fenced)"), "{said}");
    assert!(!said.contains("out of service"), "{said}");
    // Exactly one database takes writes, whoever writes: the app's user
    // over the network, or root on the old primary itself.
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
    assert!(!app_user_writes(&lab, "web-01"));
    let (code, out) = root_sql(
        &lab,
        "web-01",
        "INSERT INTO app.items (value, written_by) VALUES ('split-brain', 'root')",
    );
    assert_ne!(code, 0, "root wrote to the fenced old primary: {out}");
    assert!(
        out.contains("read-only") || out.contains("read_only"),
        "{out}"
    );
    // The old primary lacked nothing: it follows the new one at once.
    let status = run_ok(&lab, &["status", "e2e-h1"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains("web-01/db") && l.contains("replica of web-02")),
        "{status}"
    );
    assert_eq!(write_item(&lab, "after"), 201);
    assert_eq!(
        root_sql(
            &lab,
            "web-02",
            "SELECT COUNT(*) FROM app.items WHERE value = 'after'"
        )
        .1,
        "1"
    );
}

#[test]
fn a_partitioned_primary_is_fenced_and_rejoins_when_healed() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h2");
    assert_eq!(write_item(&lab, "before"), 201);
    caught_up(&lab);
    run_ok(&lab, &["fault", "e2e-h2", "web-01", "disconnect"]);
    let said = run_ok(&lab, &["promote", "e2e-h2", "web-02"]);
    assert!(said.contains("web-01/db is read-only (fenced)"), "{said}");
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
    // web-01 is cut off: the load balancer sends every write to web-02.
    let written = eventually(Duration::from_secs(10), || {
        (write_item(&lab, "while-cut-off") == 201).then_some(())
    });
    assert!(written.is_some(), "no write succeeded after the promotion");
    run_ok(&lab, &["heal", "e2e-h2", "web-01"]);
    let rejoined = eventually(Duration::from_secs(15), || {
        let status = run_ok(&lab, &["status", "e2e-h2"]);
        status
            .lines()
            .any(|l| {
                l.contains("web-01/db") && l.contains("replica of web-02 (replication running)")
            })
            .then_some(())
    });
    assert!(rejoined.is_some(), "web-01 did not rejoin as a replica");
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
}

#[test]
fn a_refused_promotion_leaves_the_primary_the_only_writable_one() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h3");
    run_ok(&lab, &["fault", "e2e-h3", "web-02/db", "stop-replication"]);
    for i in 0..4 {
        assert_eq!(write_item(&lab, &format!("unreplicated-{i}")), 201);
    }
    let refused = run_fails(&lab, &["promote", "e2e-h3", "web-02"]);
    assert!(refused.contains("4 transaction(s)"), "{refused}");
    // Nothing changed: web-01 is still the writable primary.
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-01"]);
    assert_eq!(write_item(&lab, "after-refusal"), 201);
    assert!(recorded_roles(&lab)["web-01"].contains("primary"));
}

#[test]
fn a_paused_primary_is_killed_to_fence_it() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h4");
    assert_eq!(write_item(&lab, "before"), 201);
    caught_up(&lab);
    run_ok(&lab, &["fault", "e2e-h4", "web-01/db", "pause"]);
    let said = run_ok(&lab, &["promote", "e2e-h4", "web-02", "--accept-loss"]);
    assert!(said.contains("killed (fenced)"), "{said}");
    assert_eq!(container_state(&lab, &db(&lab, "web-01")), "exited");
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
    // Healing the pause brings it back, read-only, never a second primary.
    run_ok(&lab, &["heal", "e2e-h4", "web-01/db"]);
    assert_eq!(container_state(&lab, &db(&lab, "web-01")), "running");
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
}

#[test]
fn a_promotion_that_fails_after_the_replica_is_writable_has_saved_the_new_roles() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h5");
    assert_eq!(write_item(&lab, "before"), 201);
    caught_up(&lab);
    // An app container gone: repointing it fails after the replica became
    // writable.
    let gone = Command::new("docker")
        .args(["rm", "-f", "topolab-e2e-h5-web-01-app"])
        .bounded()
        .expect("docker");
    assert!(gone.status.success());
    let (ok, text) = run(&lab, &["promote", "e2e-h5", "web-02"]);
    assert!(!ok, "the promotion should fail: {text}");
    let roles = recorded_roles(&lab);
    assert_eq!(roles["web-02"], "\"primary\"", "{roles:?}");
    assert!(roles["web-01"].contains("web-02"), "{roles:?}");
    assert_eq!(writable(&lab, &["web-01", "web-02"]), ["web-02"]);
}

#[test]
fn concurrent_faults_are_all_recorded_and_healed() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h6");
    let mut children: Vec<_> = ["web-01/nginx", "web-02/nginx", "web-01/app", "web-02/app"]
        .iter()
        .map(|target| {
            lab.command()
                .args(["fault", "e2e-h6", target, "pause"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("topolab runs")
        })
        .collect();
    for c in &mut children {
        assert!(c.wait().expect("exit").success());
    }
    let faults = lab.state()["faults"].as_array().expect("faults").len();
    assert_eq!(faults, 4, "every concurrent fault is recorded");
    run_ok(&lab, &["heal", "e2e-h6", "--all"]);
    for c in ["web-01-nginx", "web-02-nginx", "web-01-app", "web-02-app"] {
        assert_eq!(
            container_state(&lab, &format!("topolab-e2e-h6-{c}")),
            "running"
        );
    }
    assert!(lab.state()["faults"].as_array().expect("faults").is_empty());
}

#[test]
fn lost_writes_are_counted_by_value_after_the_ids_are_reused() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h7");
    let dir = tempfile::tempdir().expect("dir");
    let scenario = dir.path().join("lost.scenario.ron");
    std::fs::write(
        &scenario,
        r#"(
    version: 1,
    name: "lost-by-value",
    description: "Writes the replica never receives, then new writes that reuse their ids.",
    steps: [
        traffic(rate: 20, writes: 100),
        wait(1.0),
        fault(target: "web-02/db", kind: "stop-replication"),
        wait(1.5),
        stop_traffic,
        wait(0.5),
        fault(target: "web-01/db", kind: "kill"),
        promote(replica: "web-02", accept_loss: true),
        traffic(rate: 20, writes: 100),
        wait(2.0),
        stop_traffic,
        expect(lost_writes_at_least(1)),
    ],
)"#,
    )
    .expect("scenario");
    let report = dir.path().join("report.md");
    let text = run_ok(
        &lab,
        &[
            "scenario",
            "e2e-h7",
            scenario.to_str().expect("path"),
            "--report",
            report.to_str().expect("path"),
        ],
    );
    // The assessment counts the transactions the replica never received;
    // the stopwatch the acknowledged writes missing afterwards. Traffic
    // stopped before the kill, so they are the same writes.
    let assessed: u64 = text
        .split(" transaction(s) of web-01 never reached web-02")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no assessment in:\n{text}"));
    let report = std::fs::read_to_string(report).expect("report");
    let reported: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("- acknowledged writes lost: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no lost-write count in:\n{report}"));
    assert!(assessed >= 10, "{text}");
    assert_eq!(reported, assessed, "{report}\n{text}");
}

#[test]
fn no_secret_shows_in_any_container_and_the_bootstrap_file_is_gone() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("secured-monitored", "e2e-h8");
    let secrets = lab.state()["secrets"].clone();
    let values: Vec<String> = secrets
        .as_object()
        .expect("secrets")
        .iter()
        .filter(|(k, _)| *k != "tls_cert_pem")
        .map(|(_, v)| v.as_str().expect("value").to_owned())
        .collect();
    assert!(values.len() >= 7);
    let ids = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=topolab.lab=e2e-h8"])
        .bounded()
        .expect("docker");
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert!(ids.len() >= 10, "{ids:?}");
    let inspect = Command::new("docker")
        .arg("inspect")
        .args(&ids)
        .bounded()
        .expect("docker");
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    for v in &values {
        // The key's PEM lines too: `docker inspect` escapes newlines.
        for line in v.lines().filter(|l| l.len() > 20) {
            assert!(
                !inspect.contains(line),
                "docker inspect shows a secret value"
            );
        }
    }
    assert!(!inspect.contains("TOPOLAB_DB_ROOT_PASSWORD="));
    for host in ["web-01", "web-02"] {
        let (code, out) = lab.exec(&db(&lab, host), &["ls", "/run/mysqld"]);
        assert_eq!(code, 0);
        assert!(!out.contains("bootstrap.sql"), "{host}: {out}");
        // Secret files are root's alone.
        let (_, mode) = lab.exec(
            &db(&lab, host),
            &["stat", "-c", "%a %U", "/run/secrets/db_root_password"],
        );
        assert_eq!(mode.trim(), "400 root");
    }
    // Every service that needs a secret still works with it: HAProxy's
    // stats page takes the password from its file.
    let stats = secrets["stats_password"].as_str().expect("stats");
    let (code, out) = lab.exec(
        "topolab-e2e-h8-lb-01-lb",
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            &format!("admin:{stats}"),
            "http://127.0.0.1:8404/stats",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "200"));
}

#[test]
fn the_admin_endpoint_is_not_on_the_public_path() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h9");
    let base = &lab.entry_urls()[0];
    let r = http(&client(), &format!("{base}/admin/databases"), None).expect("answer");
    assert_eq!(r.status, 404, "{r:?}");
    let r = http(
        &client(),
        &format!("{base}/admin/databases"),
        Some(serde_json::json!({})),
    )
    .expect("answer");
    assert!(r.status == 404 || r.status == 405, "{r:?}");
    // Nor from inside the host, on the app's own port.
    let (_, out) = lab.exec(
        "topolab-e2e-h9-web-01",
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1:8000/admin/databases",
        ],
    );
    assert_eq!(out, "404");
    // Promotion still repoints the apps through their admin sockets.
    let said = run_ok(&lab, &["promote", "e2e-h9", "web-02", "--planned"]);
    assert!(
        said.contains("web-01/app now writes to web-02/db"),
        "{said}"
    );
}

#[test]
fn faults_say_whether_they_took_effect() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h10");
    let said = run_ok(&lab, &["fault", "e2e-h10", "web-01/nginx", "kill"]);
    assert!(
        said.contains("verified: topolab-e2e-h10-web-01-nginx exited"),
        "{said}"
    );
    // A replica is read-only already: this fault changes nothing, and says so.
    let said = run_ok(&lab, &["fault", "e2e-h10", "web-02/db", "read-only"]);
    assert!(said.contains("NO EFFECT"), "{said}");
    assert!(said.contains("read-only already"), "{said}");
    let said = run_ok(&lab, &["fault", "e2e-h10", "web-02", "drain"]);
    assert!(said.contains("verified: lb-01 sees web-02 DRAIN"), "{said}");
    let said = run_ok(&lab, &["fault", "e2e-h10", "web-02", "slow"]);
    assert!(said.contains("verified:") && said.contains("tbf"), "{said}");
    let faults = lab.state()["faults"].clone();
    let outcomes: Vec<String> = faults
        .as_array()
        .expect("faults")
        .iter()
        .map(|f| f["check"]["outcome"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(outcomes, ["verified", "no-effect", "verified", "verified"]);
    run_ok(&lab, &["heal", "e2e-h10", "--all"]);
}

#[test]
fn the_binlog_reader_never_removes_a_container_it_did_not_create() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-h11");
    let name = "topolab-e2e-h11-web-01-binlog-reader";
    let made = Command::new("docker")
        .args(["create", "--name", name, "topolab-base:bookworm", "true"])
        .bounded()
        .expect("docker");
    assert!(made.status.success(), "{}", output(&made));
    run_ok(&lab, &["fault", "e2e-h11", "web-01/db", "kill"]);
    let refused = run_fails(&lab, &["promote", "e2e-h11", "web-02", "--accept-loss"]);
    assert!(refused.contains("did not create"), "{refused}");
    assert_eq!(container_state(&lab, name), "created");
    let _ = Command::new("docker").args(["rm", "-f", name]).bounded();
    // Nothing was promoted: web-02 is still a read-only replica.
    assert_eq!(writable(&lab, &["web-02"]), Vec::<String>::new());
}
