//! End-to-end: the history and the data checker on real labs, driven
//! through the CLI as a user would. Lost writes are counted exactly and
//! agree with the promotion's prediction; semi-sync loses none; the
//! read-your-writes setting removes stale reads while the replica lags.
//! Skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;

use std::path::Path;
use std::time::Duration;

use support::lab::{Lab, docker, eventually};
use topolab::consistency;

fn run_ok(lab: &Lab, args: &[&str]) -> String {
    lab.cli_exits(0, args)
}

/// Sends writes only, 20 a second for `seconds`, saving the history to
/// `history` when given.
fn writes(lab: &Lab, seconds: &str, history: Option<&str>) -> String {
    let mut args = vec![
        "traffic",
        &lab.name,
        "--rate",
        "20",
        "--writes",
        "100",
        "--duration",
        seconds,
    ];
    if let Some(h) = history {
        args.extend(["--history", h]);
    }
    run_ok(lab, &args)
}

/// The acknowledged writes of a saved history.
fn acknowledged(history: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(history).expect("history file");
    consistency::from_json_lines(&text)
        .expect("a valid history")
        .into_iter()
        .filter(|t| t.write && t.ok())
        .filter_map(|t| t.written)
        .collect()
}

/// Waits until the replica has caught up (status says lag 0).
fn caught_up(lab: &Lab) {
    let found = eventually(Duration::from_secs(10), || {
        run_ok(lab, &["status", &lab.name])
            .contains("lag 0 s, 0 tx")
            .then_some(())
    });
    assert!(found.is_some(), "the replica never caught up");
}

#[test]
fn lost_writes_are_counted_exactly_and_match_the_promotion() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-k1");
    let dir = tempfile::tempdir().expect("dir");
    let history = dir.path().join("h.jsonl");
    let history = history.to_str().expect("path");
    // Writes that reach the replica, then writes that cannot.
    writes(&lab, "1", None);
    caught_up(&lab);
    run_ok(&lab, &["fault", "e2e-k1", "web-02/db", "stop-replication"]);
    let said = writes(&lab, "1.5", Some(history));
    assert!(said.contains("history of"), "{said}");
    let n = acknowledged(Path::new(history)).len();
    assert!(n >= 10, "{n} writes acknowledged");
    run_ok(&lab, &["fault", "e2e-k1", "web-01/db", "kill"]);
    let promoted = run_ok(&lab, &["promote", "e2e-k1", "web-02", "--accept-loss"]);
    assert!(
        promoted.contains(&format!("{n} transaction(s)")),
        "the promotion predicts {n}:\n{promoted}"
    );
    // Exactly the writes of the history are lost; the earlier ones (another
    // run) are on the new primary but not checked.
    let (code, checked) = lab.cli(&["check-data", "e2e-k1", "--history", history]);
    assert_eq!(code, Some(1), "a lost write exits 1:\n{checked}");
    assert!(
        checked.contains(&format!(
            "web-02/db (primary): 0 ok, {n} lost, 0 recovered, 0 unexpected"
        )),
        "{checked}"
    );
    assert!(checked.contains("web-01/db cannot be read"), "{checked}");
    assert!(checked.contains("other rows not checked"), "{checked}");
    // The same values that are missing by value, though a new write takes
    // the ids they had.
    writes(&lab, "1", None);
    let (_, again) = lab.cli(&["check-data", "e2e-k1", "--history", history]);
    assert!(again.contains(&format!("0 ok, {n} lost")), "{again}");
}

#[test]
fn semi_sync_loses_no_acknowledged_write() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("semi-sync", "e2e-k2");
    let dir = tempfile::tempdir().expect("dir");
    let history = dir.path().join("h.jsonl");
    let history_arg = history.to_str().expect("path").to_owned();
    let mut traffic = lab
        .command()
        .args([
            "traffic",
            "e2e-k2",
            "--rate",
            "50",
            "--writes",
            "100",
            "--duration",
            "4",
            "--history",
            &history_arg,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("traffic starts");
    std::thread::sleep(Duration::from_secs(2));
    run_ok(&lab, &["fault", "e2e-k2", "web-01/db", "kill"]);
    assert!(traffic.wait().expect("traffic ends").success());
    run_ok(&lab, &["promote", "e2e-k2", "web-02", "--accept-loss"]);
    let n = acknowledged(&history).len();
    assert!(n > 50, "{n} writes acknowledged");
    let checked = run_ok(&lab, &["check-data", "e2e-k2", "--history", &history_arg]);
    assert!(
        checked.contains(&format!("web-02/db (primary): {n} ok, 0 lost")),
        "{checked}"
    );
}

#[test]
fn read_your_writes_removes_stale_reads_while_the_replica_lags() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-k3");
    let dir = tempfile::tempdir().expect("dir");
    // Lag: the replica receives nothing more; every read goes to it.
    run_ok(&lab, &["fault", "e2e-k3", "web-02/db", "stop-replication"]);
    let traffic = |history: &str| {
        run_ok(
            &lab,
            &[
                "traffic",
                "e2e-k3",
                "--rate",
                "20",
                "--writes",
                "50",
                "--duration",
                "2",
                "--read-back",
                "--history",
                history,
            ],
        )
    };
    let stale = |said: &str| -> (u64, u64) {
        let line = said
            .lines()
            .find(|l| l.starts_with("read-your-writes probes: "))
            .unwrap_or_else(|| panic!("no probe line:\n{said}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        (
            words[2].parse().expect("answered"),
            words[4].parse().expect("stale"),
        )
    };
    let off = dir.path().join("off.jsonl");
    let (probes, stale_off) = stale(&traffic(off.to_str().expect("path")));
    assert!(probes >= 10, "{probes} probes");
    assert_eq!(
        stale_off, probes,
        "without the setting, every probe is stale"
    );
    // The same through the checker, from the saved history.
    let checked = run_ok(
        &lab,
        &[
            "check-data",
            "e2e-k3",
            "--history",
            off.to_str().expect("path"),
        ],
    );
    assert!(
        checked.contains(&format!("{probes} answered, {probes} stale")),
        "{checked}"
    );

    // Each way of reading one's writes, switched live by apply.
    let reference = std::fs::read_to_string("presets/reference.ron").expect("preset");
    for (setting, words) in [
        (
            "from_primary(window_ms: 2000)",
            "reads from the primary for 2000 ms",
        ),
        ("wait_for_replica(timeout_ms: 300)", "waits up to 300 ms"),
    ] {
        let design = dir.path().join("ryw.ron");
        let text = reference.replace("app()", &format!("app(read_your_writes: {setting})"));
        assert_ne!(text, reference, "the preset has apps");
        std::fs::write(&design, text).expect("design");
        let applied = run_ok(&lab, &["apply", "e2e-k3", design.to_str().expect("path")]);
        assert!(applied.contains(words), "{applied}");
        let on = dir.path().join("on.jsonl");
        let (probes, stale_on) = stale(&traffic(on.to_str().expect("path")));
        assert!(probes >= 10, "{setting}: {probes} probes");
        assert_eq!(stale_on, 0, "{setting}: stale reads remain");
        // The way they were served: by the primary, at once or after the
        // replica did not catch up within the wait.
        let text = std::fs::read_to_string(&on).expect("history");
        let reads: Vec<_> = consistency::from_json_lines(&text)
            .expect("a history")
            .into_iter()
            .filter(|t| t.own.is_some())
            .collect();
        assert!(
            reads
                .iter()
                .all(|t| t.db.as_ref().is_some_and(|d| d.as_str() == "web-01")),
            "{setting}: a probe was not served by the primary"
        );
        let waited = reads.iter().filter(|t| t.latency_ms >= 290.0).count();
        if setting.starts_with("wait") {
            assert_eq!(waited, reads.len(), "{setting}: a read did not wait");
        } else {
            assert_eq!(waited, 0, "{setting}: a read waited");
        }
    }
}
