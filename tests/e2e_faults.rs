//! End-to-end: faults, healing and promotion on real labs (local image
//! profile), driven through the CLI as a user would, with real traffic.
//! Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::process::Command;
use std::time::Duration;

use support::lab::{Background, Lab, client, docker, eventually, http};
use topolab::lab::state::LabState;
use topolab::live::{self, Millis, RequestTrace};
use topolab::model::HostName;

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

/// Runs topolab; asserts it succeeded; returns stdout + stderr.
fn run_ok(lab: &Lab, args: &[&str]) -> String {
    lab.cli_exits(0, args)
}

fn run_fails(lab: &Lab, args: &[&str]) -> String {
    lab.cli_exits(1, args)
}

/// Waits until `status` has a line containing every one of `words`.
fn status_shows(lab: &Lab, words: &[&str], limit: Duration) -> String {
    let mut last = String::new();
    let found = eventually(limit, || {
        last = run_ok(lab, &["status", &lab.name]);
        last.lines()
            .any(|l| words.iter().all(|w| l.contains(w)))
            .then_some(())
    });
    assert!(found.is_some(), "status never showed {words:?}:\n{last}");
    last
}

/// Writes an item through the lab's first entry point; asserts it was acknowledged.
fn write_item(lab: &Lab, value: &str) {
    let url = format!("{}/api/items", lab.entry_urls()[0]);
    let r = http(&client(), &url, Some(serde_json::json!({ "value": value }))).expect("write");
    assert_eq!(r.status, 201, "{r:?}");
}

/// The values of the items `host`'s database holds (each write's own).
fn item_values(lab: &Lab, host: &str) -> std::collections::BTreeSet<String> {
    lab.sql(host, "SELECT value FROM app.items")
        .lines()
        .map(|l| l.trim().to_owned())
        .collect()
}

fn served_by(traces: &[RequestTrace], from: Millis, to: Millis) -> Vec<String> {
    let mut webs: Vec<String> = traces
        .iter()
        .filter(|t| t.at >= from && t.at < to && t.ok())
        .filter_map(|t| t.web.as_ref().map(ToString::to_string))
        .collect();
    webs.sort();
    webs.dedup();
    webs
}

#[test]
fn a_killed_nginx_leaves_rotation_and_comes_back_when_healed() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f1");
    let traffic = Background::start(&state(&lab), 50.0, 0, 9.0);
    std::thread::sleep(Duration::from_secs(2));
    let killed = live::now();
    run_ok(&lab, &["fault", "e2e-f1", "web-01/nginx", "kill"]);
    status_shows(&lab, &["lb-01 sees web-01", "DOWN"], Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    let healing = live::now();
    run_ok(&lab, &["heal", "e2e-f1", "web-01/nginx"]);
    status_shows(&lab, &["lb-01 sees web-01", "UP"], Duration::from_secs(10));
    let up = live::now();
    let (stats, traces) = traffic.finish();
    let failed = traces.iter().filter(|t| !t.ok()).count();
    assert!(
        failed * 100 <= stats.sent as usize,
        "{failed} of {} requests failed",
        stats.sent
    );
    assert_eq!(
        served_by(&traces, killed + 1000, healing),
        vec!["web-02"],
        "traffic continues on web-02 alone"
    );
    assert_eq!(
        served_by(&traces, up + 500, up + 10_000),
        vec!["web-01", "web-02"],
        "web-01 is back in rotation"
    );
}

#[test]
fn a_killed_host_fails_over_reads_and_catches_up_when_healed() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f2");
    let traffic = Background::start(&state(&lab), 20.0, 0, 5.0);
    std::thread::sleep(Duration::from_secs(1));
    let killed = live::now();
    run_ok(&lab, &["fault", "e2e-f2", "web-02", "kill"]);
    let (_, traces) = traffic.finish();
    let after: Vec<&RequestTrace> = traces.iter().filter(|t| t.at > killed + 1500).collect();
    assert!(!after.is_empty());
    for t in &after {
        assert!(t.ok(), "{t:?}");
        assert_eq!(t.web, Some(HostName::new("web-01")), "{t:?}");
        // Reads fall back to the primary while the replica is down.
        assert_eq!(t.db, Some(HostName::new("web-01")), "{t:?}");
    }
    status_shows(&lab, &["web-02/db", "exited"], Duration::from_secs(2));
    // Writes while web-02 is down, then heal: replication catches up.
    for i in 0..5 {
        write_item(&lab, &format!("during-{i}"));
    }
    run_ok(&lab, &["heal", "e2e-f2", "web-02"]);
    status_shows(
        &lab,
        &[
            "web-02/db replication",
            "IO Yes",
            "SQL Yes",
            "lag 0 s, 0 tx",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(
        lab.sql(
            "web-02",
            "SELECT COUNT(*) FROM app.items WHERE value LIKE 'during-%'"
        ),
        "5"
    );
}

#[test]
fn a_dead_primary_stops_writes_until_the_replica_is_promoted() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f3");
    // Long enough for any promotion: stopped 2 s after it.
    let traffic = Background::start(&state(&lab), 20.0, 50, 60.0);
    std::thread::sleep(Duration::from_secs(2));
    // The kill is done when the command returns (it verifies it): writes
    // sent after that must fail, and writes acknowledged before it started
    // must survive.
    let killing = live::now();
    run_ok(&lab, &["fault", "e2e-f3", "web-01/db", "kill"]);
    let killed = live::now();
    std::thread::sleep(Duration::from_secs(2));
    let promoting = live::now();
    let said = run_ok(&lab, &["promote", "e2e-f3", "web-02", "--accept-loss"]);
    let promoted = live::now();
    assert!(said.contains("web-02/db is writable"), "{said}");
    std::thread::sleep(Duration::from_secs(2));
    let (_, traces) = traffic.stop();
    let between: Vec<&RequestTrace> = traces
        .iter()
        .filter(|t| t.at > killed && t.done() < promoting)
        .collect();
    assert!(
        between.iter().filter(|t| !t.write).all(|t| t.ok()),
        "reads keep succeeding"
    );
    assert!(
        between.iter().filter(|t| t.write).all(|t| !t.ok()),
        "writes fail"
    );
    // After the promotion, writes succeed through both app servers.
    let late: Vec<&RequestTrace> = traces
        .iter()
        .filter(|t| t.write && t.at > promoted + 200)
        .collect();
    assert!(late.iter().all(|t| t.ok()), "{late:?}");
    for app in ["web-01", "web-02"] {
        assert!(
            late.iter().any(|t| t.app == Some(HostName::new(app))),
            "no write through {app}"
        );
    }
    // Every write acknowledged before the kill is on the new primary.
    let acked: Vec<String> = traces
        .iter()
        .filter(|t| t.write && t.ok() && t.done() < killing)
        .filter_map(|t| t.written.clone())
        .collect();
    assert!(!acked.is_empty());
    let ids = item_values(&lab, "web-02");
    for value in acked {
        assert!(
            ids.contains(&value),
            "acknowledged write {value} is missing"
        );
    }
    // Healing the old primary brings it back read-only, replicating from the new one.
    let healed = run_ok(&lab, &["heal", "e2e-f3", "web-01"]);
    assert!(healed.contains("read-only replica of web-02"), "{healed}");
    status_shows(
        &lab,
        &["web-01/db", "replica of web-02", "running"],
        Duration::from_secs(10),
    );
    assert_eq!(lab.sql("web-01", "SELECT @@read_only"), "1");
}

#[test]
fn a_promotion_that_would_lose_writes_is_refused_until_accepted() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f4");
    let write = |value: String| write_item(&lab, &value);
    for i in 0..3 {
        write(format!("kept-{i}"));
    }
    status_shows(
        &lab,
        &["web-02/db replication", "lag 0 s, 0 tx"],
        Duration::from_secs(5),
    );
    run_ok(&lab, &["fault", "e2e-f4", "web-02/db", "stop-replication"]);
    for i in 0..10 {
        write(format!("lost-{i}"));
    }
    run_ok(&lab, &["fault", "e2e-f4", "web-01/db", "kill"]);
    let refused = run_fails(&lab, &["promote", "e2e-f4", "web-02"]);
    assert!(refused.contains("10 transaction(s)"), "{refused}");
    assert!(
        refused.contains("binary log"),
        "names its source: {refused}"
    );
    // Refused: nothing changed.
    assert_eq!(lab.sql("web-02", "SELECT @@read_only"), "1");
    run_ok(&lab, &["promote", "e2e-f4", "web-02", "--accept-loss"]);
    assert_eq!(
        lab.sql(
            "web-02",
            "SELECT SUM(value LIKE 'kept-%'), SUM(value LIKE 'lost-%') FROM app.items"
        ),
        "3\t0"
    );
    write("after".to_owned());
}

#[test]
fn semi_sync_keeps_every_acknowledged_write() {
    let Some(_docker) = docker() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("semi.ron");
    let text = std::fs::read_to_string("presets/reference.ron")
        .expect("preset")
        .replace("replication: async", "replication: semi_sync")
        .replace("name: \"reference\"", "name: \"semi\"");
    std::fs::write(&file, text).expect("write");
    let lab = Lab::up(file.to_str().expect("path"), "e2e-f5");
    let traffic = Background::start(&state(&lab), 50.0, 100, 4.0);
    std::thread::sleep(Duration::from_secs(2));
    run_ok(&lab, &["fault", "e2e-f5", "web-01/db", "kill"]);
    let (_, traces) = traffic.finish();
    run_ok(&lab, &["promote", "e2e-f5", "web-02", "--accept-loss"]);
    let acked: Vec<String> = traces
        .iter()
        .filter(|t| t.ok())
        .filter_map(|t| t.written.clone())
        .collect();
    assert!(acked.len() > 50, "{} writes acknowledged", acked.len());
    let ids = item_values(&lab, "web-02");
    let lost: Vec<&String> = acked.iter().filter(|v| !ids.contains(*v)).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

#[test]
fn a_planned_switchover_loses_nothing_and_reverses_replication() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f6");
    let traffic = Background::start(&state(&lab), 40.0, 50, 4.0);
    std::thread::sleep(Duration::from_secs(1));
    run_ok(&lab, &["promote", "e2e-f6", "web-02", "--planned"]);
    let (_, traces) = traffic.finish();
    let acked: Vec<String> = traces
        .iter()
        .filter(|t| t.ok())
        .filter_map(|t| t.written.clone())
        .collect();
    let count = |host| lab.sql(host, "SELECT COUNT(*) FROM app.items");
    status_shows(
        &lab,
        &["web-01/db", "replica of web-02", "running"],
        Duration::from_secs(5),
    );
    let ids = item_values(&lab, "web-02");
    assert!(acked.iter().all(|v| ids.contains(v)), "a write was lost");
    write_item(&lab, "after");
    let same = eventually(Duration::from_secs(5), || {
        (count("web-01") == count("web-02")).then_some(())
    });
    assert!(
        same.is_some(),
        "the old primary does not follow the new one"
    );
}

#[test]
fn the_backup_serves_only_when_the_active_server_dies() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("active-passive", "e2e-f7");
    let before = Background::start(&state(&lab), 20.0, 0, 2.0).finish().1;
    assert_eq!(served_by(&before, 0, u64::MAX), vec!["web-01"]);
    run_ok(&lab, &["fault", "e2e-f7", "web-01/nginx", "kill"]);
    status_shows(&lab, &["lb-01 sees web-01", "DOWN"], Duration::from_secs(5));
    let after = Background::start(&state(&lab), 20.0, 0, 2.0).finish().1;
    assert_eq!(served_by(&after, 0, u64::MAX), vec!["web-02"]);
    assert!(after.iter().all(RequestTrace::ok));
}

#[test]
fn network_pause_and_drain_faults_heal_back_to_the_launched_lab() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-f8");
    let launched_status = run_ok(&lab, &["status", "e2e-f8"]);
    let networks = |c: &str| {
        let out = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}",
                c,
            ])
            .bounded()
            .expect("docker");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let web02 = "topolab-e2e-f8-web-02";
    let launched_networks = networks(web02);

    // Bad requests: clear errors, nothing changed.
    let e = run_fails(&lab, &["fault", "e2e-f8", "web-09", "kill"]);
    assert!(e.contains("no host web-09"), "{e}");
    let e = run_fails(&lab, &["fault", "e2e-f8", "web-01/db", "stop-replication"]);
    assert!(e.contains("only a replica"), "{e}");
    let e = run_fails(&lab, &["promote", "e2e-f8", "web-01"]);
    assert!(e.contains("primary already"), "{e}");
    assert!(state(&lab).faults.is_empty());
    assert_eq!(
        run_ok(&lab, &["status", "e2e-f8"]).lines().count(),
        launched_status.lines().count()
    );

    // Disconnect web-02: traffic goes to web-01; heal: back with its address.
    run_ok(&lab, &["fault", "e2e-f8", "web-02", "disconnect"]);
    status_shows(&lab, &["lb-01 sees web-02", "DOWN"], Duration::from_secs(5));
    let cut = Background::start(&state(&lab), 20.0, 0, 1.5).finish().1;
    assert_eq!(served_by(&cut, 0, u64::MAX), vec!["web-01"]);
    run_ok(&lab, &["heal", "e2e-f8", "web-02"]);
    assert_eq!(networks(web02), launched_networks);
    status_shows(&lab, &["lb-01 sees web-02", "UP"], Duration::from_secs(10));

    // Pause the replica, write, heal: the lag catches up.
    run_ok(&lab, &["fault", "e2e-f8", "web-02/db", "pause"]);
    for i in 0..5 {
        write_item(&lab, &format!("p{i}"));
    }
    run_ok(&lab, &["heal", "e2e-f8", "web-02/db"]);
    status_shows(
        &lab,
        &["web-02/db replication", "IO Yes", "lag 0 s, 0 tx"],
        Duration::from_secs(10),
    );

    // Drain web-01: new requests go to web-02.
    run_ok(&lab, &["fault", "e2e-f8", "web-01", "drain"]);
    run_ok(&lab, &["fault", "e2e-f8", "web-02", "slow"]);
    let drained = Background::start(&state(&lab), 20.0, 0, 1.5).finish().1;
    assert_eq!(served_by(&drained, 0, u64::MAX), vec!["web-02"]);

    // Changes made behind topolab's back are undone too.
    let stopped = Command::new("docker")
        .args(["stop", "-t", "1", "topolab-e2e-f8-web-01-nginx"])
        .bounded()
        .expect("docker");
    assert!(stopped.status.success());
    lab.sql("web-02", "STOP SLAVE");

    // Heal everything: as launched.
    run_ok(&lab, &["heal", "e2e-f8", "--all"]);
    assert!(state(&lab).faults.is_empty());
    status_shows(&lab, &["lb-01 sees web-01", "UP"], Duration::from_secs(5));
    status_shows(&lab, &["lb-01 sees web-02", "UP"], Duration::from_secs(5));
    status_shows(
        &lab,
        &[
            "web-02/db replication",
            "IO Yes",
            "SQL Yes",
            "lag 0 s, 0 tx",
        ],
        Duration::from_secs(5),
    );
    let (_, qdisc) = lab.exec(web02, &["tc", "qdisc", "show"]);
    assert!(!qdisc.contains("tbf"), "{qdisc}");
    assert_eq!(networks(web02), launched_networks);
    let back = Background::start(&state(&lab), 20.0, 0, 1.5).finish().1;
    assert_eq!(served_by(&back, 0, u64::MAX), vec!["web-01", "web-02"]);
}
