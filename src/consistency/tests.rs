use super::*;

fn h(name: &str) -> HostName {
    HostName::new(name)
}

/// A write of `value` sent at `at`, answered `status` (`None`: no answer,
/// `delivered` saying whether it was sent).
fn write(at: Millis, value: &str, status: Option<u16>, delivered: bool) -> RequestTrace {
    let mut t = RequestTrace::new(at, true, h("lb-01"));
    t.written = Some(value.to_owned());
    t.status = status;
    t.delivered = delivered || status.is_some();
    t.latency_ms = 5.0;
    if status.is_some_and(|s| s != 503) {
        t.lb = Some(h("lb-01"));
        t.web = Some(h("web-01"));
        t.app = Some(h("web-01"));
        t.db = Some(h("web-01"));
    }
    if status.is_none() && delivered {
        t.error = Some("no answer within 5 s".into());
    }
    t
}

fn acked(at: Millis, value: &str) -> RequestTrace {
    write(at, value, Some(201), true)
}

/// A probe that read back `value` (acknowledged at `acknowledged`).
fn probe(at: Millis, value: &str, acknowledged: Millis, found: bool) -> RequestTrace {
    let mut t = RequestTrace::new(at, false, h("lb-01"));
    t.status = Some(200);
    t.delivered = true;
    t.latency_ms = 2.0;
    t.db = Some(h("web-02"));
    t.own = Some(OwnRead {
        value: value.to_owned(),
        acknowledged,
        found,
    });
    t
}

fn holding(db: &str, primary: bool, values: &[&str]) -> Holding {
    Holding {
        db: h(db),
        primary,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

#[test]
fn every_class_of_write() {
    let history = vec![
        acked(100, "traffic-r1-0"),                  // ok
        acked(110, "traffic-r1-1"),                  // lost
        write(120, "traffic-r1-2", None, true),      // unknown, present: recovered
        write(130, "traffic-r1-3", None, false),     // failed (never sent), absent
        write(140, "traffic-r1-4", Some(503), true), // refused by the LB, absent
        write(150, "traffic-r1-5", Some(500), true), // the app's error: unknown, present
        probe(160, "traffic-r1-0", 105, true),       // a plain read of its own
    ];
    let primary = holding(
        "web-02",
        true,
        &[
            "traffic-r1-0",
            "traffic-r1-2",
            "traffic-r1-5",
            "traffic-r1-99", // never sent by r1
            "hand-written",  // another writer's
        ],
    );
    let check = check(&history, &[primary]);
    assert_eq!(
        check.writes,
        WriteCounts {
            sent: 6,
            acknowledged: 2,
            failed: 2,
            unknown: 2,
            in_flight: 0,
        }
    );
    let d = check.primary().expect("the primary's check");
    assert_eq!(d.ok, 1);
    assert_eq!(d.lost.len(), 1);
    assert_eq!(d.lost[0].value, "traffic-r1-1");
    assert_eq!(d.lost[0].path, "lb-01 → web-01 → web-01/db");
    assert_eq!(d.recovered, 2);
    assert_eq!(d.unexpected, 1);
    assert_eq!(d.unexpected_examples, vec!["traffic-r1-99".to_owned()]);
    assert_eq!(d.other_rows, 1);
    assert_eq!(d.duplicated, 0);
    assert_eq!(check.lost(), Some(1));
    let text = check.markdown();
    assert!(
        text.contains("web-02/db (primary): 1 ok, 1 lost, 2 recovered, 1 unexpected"),
        "{text}"
    );
    assert!(
        text.contains("lost: traffic-r1-1 acknowledged at"),
        "{text}"
    );
}

#[test]
fn each_database_is_checked_and_the_primary_comes_first() {
    let history = vec![acked(1, "traffic-r-0"), acked(2, "traffic-r-1")];
    let check = check(
        &history,
        &[
            holding("web-02", false, &["traffic-r-0"]),
            holding("web-01", true, &["traffic-r-0", "traffic-r-1"]),
        ],
    );
    let names: Vec<&str> = check.databases.iter().map(|d| d.db.as_str()).collect();
    assert_eq!(names, ["web-01", "web-02"]);
    assert_eq!(check.lost(), Some(0));
    assert_eq!(check.databases[1].lost.len(), 1, "the replica lacks one");
}

#[test]
fn duplicate_values_in_the_history_and_in_the_data() {
    // A write sent twice (a retry after a timeout): one write, acknowledged
    // by its second attempt; the data holds it twice.
    let history = vec![
        write(100, "traffic-r-7", None, true),
        acked(200, "traffic-r-7"),
        write(300, "traffic-r-8", None, false),
        write(400, "traffic-r-8", None, true),
    ];
    let ws = writes(&history);
    assert_eq!(ws.len(), 2);
    assert_eq!(ws[0].outcome, Outcome::Ok);
    assert_eq!(ws[0].invoked, 100, "from the first attempt");
    assert_eq!(ws[1].outcome, Outcome::Unknown, "unknown beats failed");
    let check = check(
        &history,
        &[holding("web-01", true, &["traffic-r-7", "traffic-r-7"])],
    );
    let d = &check.databases[0];
    assert_eq!((d.ok, d.lost.len(), d.duplicated), (1, 0, 1));
    assert_eq!(check.writes.sent, 2);
}

#[test]
fn reads_that_see_a_write_in_flight_are_fine_and_before_it_was_sent_impossible() {
    let history = vec![
        acked(1000, "traffic-r-1"),
        // Saw it while the write was in flight (before its answer).
        probe(1001, "traffic-r-1", 1005, true),
        // "Saw" a write sent later: impossible.
        probe(500, "traffic-r-2", 500, true),
        acked(900, "traffic-r-2"),
        // Stale: answered without it.
        probe(1010, "traffic-r-1", 1005, false),
    ];
    let check = check(
        &history,
        &[holding("web-01", true, &["traffic-r-1", "traffic-r-2"])],
    );
    let r = &check.reads;
    assert_eq!((r.probes, r.stale, r.before_sent), (3, 1, 1));
    assert_eq!(r.stale_examples[0].after_ms, 5);
    assert_eq!(r.stale_by_db.get(&h("web-02")), Some(&1));
    assert!((r.stale_percent() - 100.0 / 3.0).abs() < 1e-9);
    assert!(check.markdown().contains("1 stale (33.3%)"));
}

#[test]
fn a_probe_without_an_answer_is_not_stale() {
    let mut failed = probe(10, "traffic-r-1", 5, false);
    failed.status = Some(503);
    failed.db = None;
    let check = check(&[acked(1, "traffic-r-1"), failed], &[]);
    assert_eq!((check.reads.probes, check.reads.stale), (0, 0));
}

#[test]
fn empty_history_and_empty_data() {
    let check = check(&[], &[]);
    assert_eq!(check.writes, WriteCounts::default());
    assert!(check.databases.is_empty());
    assert_eq!(check.lost(), None, "no primary read: unknown, not 0");
    let check = super::check(&[], &[holding("web-01", true, &["traffic-x-1", "other"])]);
    let d = &check.databases[0];
    assert_eq!((d.ok, d.unexpected, d.other_rows), (0, 0, 2));
    assert_eq!(check.lost(), Some(0));
}

#[test]
fn stale_reads_per_second() {
    let history = vec![
        probe(1_000, "v", 0, true),
        probe(1_500, "v", 0, false),
        probe(2_100, "v", 0, false),
        acked(2_200, "traffic-r-0"),
    ];
    assert_eq!(stale_per_second(&history), vec![(1, 1, 2), (2, 1, 1)]);
}

#[test]
fn history_round_trips_through_json_lines() {
    let mut read = RequestTrace::new(50, false, h("lb-02"));
    read.status = Some(200);
    read.newest = Some(41);
    read.latency_ms = 3.0;
    read.delivered = true;
    let history = vec![
        acked(100, "traffic-r-0"),
        write(120, "traffic-r-1", None, true),
        write(130, "traffic-r-2", None, false),
        write(140, "traffic-r-3", Some(503), true),
        probe(160, "traffic-r-0", 105, true),
        read,
    ];
    let text = to_json_lines(&history);
    assert_eq!(text.lines().count(), 6);
    assert!(
        text.lines()
            .next()
            .expect("a line")
            .contains(r#""type":"write""#)
    );
    assert!(text.contains(r#""type":"read-own-write""#));
    let back = from_json_lines(&text).expect("parses");
    let outcomes = |h: &[RequestTrace]| h.iter().map(RequestTrace::outcome).collect::<Vec<_>>();
    assert_eq!(outcomes(&back), outcomes(&history));
    assert_eq!(back[0].written, history[0].written);
    assert_eq!(back[4].own, history[4].own);
    assert_eq!(back[5].newest, Some(41));
    let holdings = [holding("web-01", true, &["traffic-r-0", "traffic-r-1"])];
    assert_eq!(check(&back, &holdings), check(&history, &holdings));
}

#[test]
fn a_malformed_history_names_its_line() {
    let good = to_json_lines(&[acked(1, "traffic-r-0")]);
    let e = from_json_lines(&format!("{good}\n{{not json")).expect_err("refused");
    assert!(e.starts_with("line 3:"), "{e}");
    let e = from_json_lines(&good.replace("\"ok\"", "\"maybe\"")).expect_err("refused");
    assert!(e.contains("unknown outcome \"maybe\""), "{e}");
    // An outcome the status contradicts.
    let e = from_json_lines(&good.replace("\"ok\"", "\"failed\"")).expect_err("refused");
    assert!(e.contains("does not follow"), "{e}");
}

#[test]
fn the_checker_is_quick_on_100000_writes() {
    // Not timed (tests never assert wall-clock times): this checks the
    // counts at scale; `topolab bench checker` times it.
    let history: Vec<RequestTrace> = (0..100_000)
        .map(|i| acked(i, &format!("traffic-big-{i}")))
        .collect();
    let values: Vec<String> = (0..100_000)
        .filter(|i| i % 1000 != 0)
        .map(|i| format!("traffic-big-{i}"))
        .collect();
    let holdings = [Holding {
        db: h("web-01"),
        primary: true,
        values,
    }];
    let check = check(&history, &holdings);
    assert_eq!(check.lost(), Some(100));
    assert_eq!(check.primary().expect("the primary").ok, 99_900);
}

#[test]
fn writes_in_flight_when_the_data_was_read_are_not_classified() {
    // Acknowledged at 105 and 108, after the read at 102: in flight then,
    // so an absence is no loss and a presence no recovery, nor unexpected;
    // one sent after the read is left out.
    let history = vec![
        acked(100, "traffic-r-0"),
        acked(103, "traffic-r-1"),
        acked(101, "traffic-r-2"),
    ];
    let check = check_as_of(&history, &[holding("web-01", true, &["traffic-r-2"])], 102);
    assert_eq!(check.writes.sent, 2);
    assert_eq!((check.writes.in_flight, check.writes.unknown), (2, 0));
    let d = check.primary().expect("the primary");
    assert_eq!(
        (d.ok, d.lost.len(), d.recovered, d.unexpected),
        (0, 0, 0, 0)
    );
    assert!(d.unknown_absent.is_empty());
    assert!(
        check
            .markdown()
            .contains("2 in flight when the data was read")
    );
}

#[test]
fn prediction_against_measure() {
    let history = vec![
        acked(1, "traffic-r-0"),
        acked(2, "traffic-r-1"),
        write(3, "traffic-r-2", None, true),
    ];
    let check = check(&history, &[holding("web-02", true, &[])]);
    // 2 lost, 1 unknown absent: a prediction of 2 or 3 agrees.
    for p in [2, 3] {
        let said = compare_prediction(Some(p), &check, 0, Millis::MAX).expect("a verdict");
        assert!(said.contains("they agree"), "{said}");
    }
    let said = compare_prediction(Some(1), &check, 0, Millis::MAX).expect("a verdict");
    assert!(
        said.contains("**Finding:**") && said.contains("did not foresee"),
        "{said}"
    );
    let said = compare_prediction(Some(7), &check, 0, Millis::MAX).expect("a verdict");
    assert!(said.contains("Fewer writes were lost"), "{said}");
    assert!(
        compare_prediction(None, &check, 0, Millis::MAX)
            .expect("a verdict")
            .contains("could not predict")
    );
    assert_eq!(
        compare_prediction(Some(0), &super::check(&history, &[]), 0, Millis::MAX),
        None
    );
}

#[test]
fn databases_compared_without_a_history() {
    let said = compare_holdings(&[
        holding("web-02", false, &["a", "b", "x"]),
        holding("web-01", true, &["a", "b", "c", "c"]),
        holding("db-03", false, &["a", "b", "c"]),
    ]);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(
        lines[0],
        "- web-01/db (primary): 4 rows, 1 values written twice"
    );
    assert_eq!(
        lines[1],
        "- db-03/db: 3 rows, the same values as the primary"
    );
    assert_eq!(
        lines[2],
        "- web-02/db: 3 rows, lacks 1 of the primary's values and has 1 it does not"
    );
    assert!(compare_holdings(&[]).contains("no primary was read"));
}

#[test]
fn each_request_is_marked_with_its_incident() {
    let history = vec![
        acked(100, "traffic-r-0"),
        acked(300, "traffic-r-1"),
        acked(500, "traffic-r-2"),
    ];
    let incidents = vec![
        (200, "web-01/db kill".to_owned()),
        (400, "promote web-02".to_owned()),
    ];
    let text = to_json_lines_marked(&history, &incidents);
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines[0].contains("incident"), "{}", lines[0]);
    assert!(
        lines[1].contains(r#""incident":"web-01/db kill""#),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(r#""incident":"promote web-02""#),
        "{}",
        lines[2]
    );
    assert_eq!(from_json_lines(&text).expect("parses").len(), 3);
}

#[test]
fn an_app_error_is_unknown_unless_the_app_says_the_write_was_not_done() {
    let mut t = write(1, "traffic-r-0", Some(503), true);
    t.app = Some(h("web-01"));
    assert_eq!(t.outcome(), Outcome::Unknown);
    t.not_done = true;
    assert_eq!(t.outcome(), Outcome::Failed);
    let back = from_json_lines(&to_json_lines(std::slice::from_ref(&t))).expect("parses");
    assert_eq!(back[0].outcome(), Outcome::Failed);
}

#[test]
fn stale_reads_with_the_lag_they_were_served_at() {
    // probe() finishes 2 ms after it is sent, served by web-02.
    let history = vec![
        probe(1_000, "v", 0, false),
        probe(2_000, "v", 0, false),
        probe(3_000, "v", 0, false),
        probe(4_000, "v", 0, true),
    ];
    let lag =
        |db: &HostName, second: u64| (db.as_str() == "web-02" && second < 3).then_some(second * 10);
    let found = stale_lag(&history, lag);
    assert_eq!(
        found,
        vec![StaleLag {
            db: h("web-02"),
            stale: 3,
            behind: Some((10, 20, 20)),
        }]
    );
    assert_eq!(
        found[0].describe(),
        "3 stale read(s) served by web-02/db while it was 10 to 20 transaction(s) behind (median 20)"
    );
    let unknown = stale_lag(&history, |_, _| None);
    assert!(unknown[0].describe().contains("its lag then unknown"));
    assert!(stale_lag(&[], lag).is_empty());
}

#[test]
fn each_promotion_is_charged_the_writes_acknowledged_since_the_one_before() {
    // Lost writes acknowledged at 15 and 25 (acked() takes 5 ms); one
    // promotion at 20, another at 30.
    let history = vec![acked(10, "traffic-r-0"), acked(20, "traffic-r-1")];
    let check = check(&history, &[holding("web-03", true, &[])]);
    assert_eq!(check.lost_between(0, 20), Some(1));
    assert_eq!(check.lost_between(20, 30), Some(1));
    assert_eq!(check.lost_between(30, Millis::MAX), Some(0));
    let first = compare_prediction(Some(1), &check, 0, 20).expect("a verdict");
    assert!(first.contains("they agree"), "{first}");
    let second = compare_prediction(Some(0), &check, 20, 30).expect("a verdict");
    assert!(second.contains("did not foresee"), "{second}");
}

#[test]
fn a_history_that_ends_before_it_begins_is_refused() {
    let good = to_json_lines(&[acked(1_000, "traffic-r-0")]);
    let bad = good.replace("\"completed\":1005", "\"completed\":10");
    assert_ne!(bad, good);
    let e = from_json_lines(&bad).expect_err("refused");
    assert!(e.contains("finished before it was sent"), "{e}");
    // Huge times do not overflow.
    let huge = good.replace("\"completed\":1005", &format!("\"completed\":{}", u64::MAX));
    assert!(from_json_lines(&huge).is_ok());
}
