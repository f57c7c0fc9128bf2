//! Consistency in the desktop app, driven headless with egui_kittest: the
//! read-your-writes probe's checkbox and the stale reads it counts, the
//! data check (the command, the lab's answer, the lost writes shown, in
//! the traffic tab and under a promotion), the history saved as JSON
//! Lines, and the app server's read-your-writes setting in the inspector.
//! The lab is a stub channel played by the test (no Docker).

mod support;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::stub::{Stub, app_on_stub, lab, reference, running, step};
use topolab::consistency::Holding;
use topolab::live::{Millis, Observation, OwnRead, RequestTrace};
use topolab::model::{ComponentId, ComponentKind, HostName, ReadYourWrites, Subject};
use topolab::protocol::{Assessment, CommandId, LabCommand, LabEvent, TrafficSettings};
use topolab::ui::{Intent, TopolabApp};

/// Maximizes (`true`) or restores the bottom panel: the traffic tab has
/// much to show, the inspector above it needs room too.
fn maximize(h: &mut Harness<'static, TopolabApp>, on: bool) {
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::MaximizeBottom(on), &ctx);
    step(h);
}

/// A request through lb-01, web-01's app and `db`, answered with `status`
/// at `at`.
fn request(at: Millis, write: bool, db: &str, status: u16) -> RequestTrace {
    RequestTrace {
        status: Some(status),
        latency_ms: 5.0,
        delivered: true,
        lb: Some(HostName::new("lb-01")),
        web: Some(HostName::new("web-01")),
        app: Some(HostName::new("web-01")),
        db: Some(HostName::new(db)),
        ..RequestTrace::new(at, write, HostName::new("lb-01"))
    }
}

/// An acknowledged write of `value` at `at`, to the primary web-01.
fn write(at: Millis, value: &str) -> RequestTrace {
    RequestTrace {
        written: Some(value.to_owned()),
        ..request(at, true, "web-01", 201)
    }
}

/// A read-your-writes probe of `value` at `at`, served by `db`.
fn probe(at: Millis, value: &str, db: &str, found: bool) -> RequestTrace {
    RequestTrace {
        own: Some(OwnRead {
            value: value.to_owned(),
            acknowledged: at.saturating_sub(2),
            found,
        }),
        ..request(at, false, db, 200)
    }
}

/// Feeds the app `traces` as the lab's traffic generator would.
fn feed(h: &mut Harness<'static, TopolabApp>, stub: &Stub, traces: Vec<RequestTrace>) {
    stub.send(LabEvent::Live {
        lab: lab(),
        observations: vec![Observation::Requests(traces)],
    });
    step(h);
}

/// The traffic settings of the Traffic commands sent since the last look.
fn traffic_sent(stub: &mut Stub) -> Vec<TrafficSettings> {
    stub.sent()
        .into_iter()
        .filter_map(|c| match c {
            LabCommand::Traffic {
                settings: Some(s), ..
            } => Some(s),
            _ => None,
        })
        .collect()
}

/// Three acknowledged writes, a plain read (not kept for the check) and
/// two probes, sent a few seconds ago.
fn three_writes(at: Millis) -> Vec<RequestTrace> {
    vec![
        write(at, "traffic-t1-1"),
        write(at + 10, "traffic-t1-2"),
        write(at + 20, "traffic-t1-3"),
        request(at + 30, false, "web-02", 200),
        probe(at + 40, "traffic-t1-1", "web-02", true),
        probe(at + 50, "traffic-t1-3", "web-02", false),
    ]
}

/// Clicks Check data; the CheckData command's id.
fn check_data(h: &mut Harness<'static, TopolabApp>, stub: &mut Stub) -> CommandId {
    h.get_by_label("Check data").click();
    step(h);
    let sent = stub.sent();
    match sent.as_slice() {
        [LabCommand::CheckData { id, lab: l }] => {
            assert_eq!(*l, lab());
            *id
        }
        other => panic!("expected one CheckData, got {other:?}"),
    }
}

/// Answers a CheckData as the lab: the primary web-01 lacks
/// `traffic-t1-3`, the replica has every write, web-03 cannot be read.
fn answer_check(h: &mut Harness<'static, TopolabApp>, stub: &Stub, id: CommandId) {
    let values = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    stub.send(LabEvent::DataRead {
        id,
        lab: lab(),
        at: topolab::live::now(),
        holdings: vec![
            Holding {
                db: HostName::new("web-01"),
                primary: true,
                values: values(&["traffic-t1-1", "traffic-t1-2"]),
            },
            Holding {
                db: HostName::new("web-02"),
                primary: false,
                values: values(&["traffic-t1-1", "traffic-t1-2", "traffic-t1-3"]),
            },
        ],
        unreadable: vec![(
            HostName::new("web-03"),
            "ERROR 2002: cannot connect".to_owned(),
        )],
    });
    stub.send(LabEvent::Finished {
        id,
        result: Ok("lab reference: read the data of 2 database(s), 1 unreadable".to_owned()),
    });
    step(h);
}

#[test]
fn the_read_back_checkbox_sends_the_probe_with_the_traffic_settings() {
    let (mut h, mut stub) = running();
    stub.sent();
    h.get_by_label("▶ Start traffic").click();
    step(&mut h);
    let started = traffic_sent(&mut stub);
    assert!(
        matches!(started.as_slice(), [s] if !s.read_back),
        "{started:?}"
    );
    // Turned on while traffic runs: the settings are sent again, with it.
    h.get_by_label("Read back my writes (read-your-writes probe)")
        .click();
    step(&mut h);
    let changed = traffic_sent(&mut stub);
    assert!(
        matches!(changed.as_slice(), [s] if s.read_back && s.writes_percent == 10),
        "{changed:?}"
    );
    assert!(h.state().lab.live.read_back);
    // And off again.
    h.get_by_label("Read back my writes (read-your-writes probe)")
        .click();
    step(&mut h);
    let off = traffic_sent(&mut stub);
    assert!(matches!(off.as_slice(), [s] if !s.read_back), "{off:?}");
}

#[test]
fn stale_reads_from_fed_traces_show_in_the_traffic_tab() {
    let (mut h, stub) = running();
    // No probe yet: a hint instead of numbers.
    h.get_by_label_contains("stale reads: no probe ran");
    let at = topolab::live::now() - 3000;
    feed(
        &mut h,
        &stub,
        vec![
            probe(at, "traffic-t1-1", "web-02", true),
            probe(at + 10, "traffic-t1-2", "web-02", false),
            probe(at + 20, "traffic-t1-3", "web-01", true),
            probe(at + 30, "traffic-t1-4", "web-02", true),
            // Unanswered: not counted.
            RequestTrace {
                status: None,
                ..probe(at + 40, "traffic-t1-5", "web-02", false)
            },
        ],
    );
    h.get_by_label_contains("stale reads: 1 of 4 probes (25.0%)");
    assert!(h.query_by_label_contains("no probe ran").is_none());
    // The replica that served it counts it in its history, once its
    // second is closed.
    h.state_mut()
        .lab
        .live
        .state
        .tick(topolab::live::now() + 2000);
    let db = ComponentId::new("web-02", ComponentKind::Db);
    let series = h.state().lab.live.state.node_series(&db).expect("a series");
    let stale: u32 = series.buckets().map(|b| b.stale_reads).sum();
    assert_eq!(stale, 1);
}

#[test]
fn check_data_shows_the_acknowledged_write_the_primary_lost() {
    let (mut h, mut stub) = running();
    maximize(&mut h, true);
    let at = topolab::live::now() - 5000;
    feed(&mut h, &stub, three_writes(at));
    // Writes and probes are kept for the check; the plain read is not.
    assert_eq!(h.state().lab.live.history().len(), 5);
    assert!(h.query_by_label_contains("1 lost").is_none());
    let id = check_data(&mut h, &mut stub);
    h.get_by_label("reading every database…");
    answer_check(&mut h, &stub, id);
    h.get_by_label_contains("web-01/db (primary): 2 ok, 1 lost, 0 recovered, 0 unexpected");
    h.get_by_label_contains("web-02/db: 3 ok, 0 lost");
    // The lost write, with when it was acknowledged and its way.
    h.get_by_label("traffic-t1-3");
    h.get_by_label(&topolab::stopwatch::clock(at + 20 + 5));
    h.get_by_label("lb-01 -> web-01 -> web-01/db");
    h.get_by_label_contains("web-03/db could not be read: ERROR 2002");
    h.get_by_label_contains("read-your-writes probes: 2 answered, 1 stale (50.0%)");
    // A write the primary never had that arrives late (sent before the
    // check) is counted once the check is redone.
    feed(&mut h, &stub, vec![write(at + 30, "traffic-t1-4")]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    step(&mut h);
    h.get_by_label_contains("web-01/db (primary): 2 ok, 2 lost");
}

#[test]
fn a_promotion_in_the_stopwatch_shows_the_lost_writes_against_its_prediction() {
    let (mut h, mut stub) = running();
    let at = topolab::live::now() - 5000;
    feed(&mut h, &stub, three_writes(at));
    // Promote web-02 with a predicted loss of one transaction.
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-02",
        ComponentKind::Db,
    )));
    step(&mut h);
    h.get_by_label("⬆ Promote to primary…").click();
    step(&mut h);
    let id = stub.sent_id("assess", |c| matches!(c, LabCommand::Assess { .. }));
    stub.send(LabEvent::Assessment {
        id,
        replica: HostName::new("web-02"),
        result: Ok(Assessment {
            replica: HostName::new("web-02"),
            old_primary: HostName::new("web-01"),
            lag_seconds: Some(0),
            received: "0-1-3".to_owned(),
            applied: "0-1-3".to_owned(),
            primary_position: Some("0-1-4".to_owned()),
            missing: Some(1),
            source: "web-01/db".to_owned(),
        }),
    });
    step(&mut h);
    h.get_by_label("Promote, losing 1 write(s)").click();
    step(&mut h);
    let id = stub.sent_id("promotion", |c| matches!(c, LabCommand::Promote { .. }));
    stub.send(LabEvent::Finished {
        id,
        result: Ok("promoted".to_owned()),
    });
    step(&mut h);
    h.state_mut().tab = topolab::ui::app::Tab::Timeline;
    maximize(&mut h, true);
    assert!(
        h.query_by_label_contains("acknowledged writes lost")
            .is_none(),
        "nothing is said of the data before it is checked"
    );
    // Check data from the stopwatch, where the promotion is.
    let id = check_data(&mut h, &mut stub);
    answer_check(&mut h, &stub, id);
    h.get_by_label_contains("- acknowledged writes lost: 1");
    h.get_by_label_contains("they agree");
    h.get_by_label_contains("1 acknowledged write(s) the primary web-01 lacks");
}

#[test]
fn save_history_writes_every_write_and_probe_as_json_lines() {
    let (mut h, stub) = running();
    maximize(&mut h, true);
    let at = topolab::live::now() - 5000;
    feed(&mut h, &stub, three_writes(at));
    let dir = tempfile::tempdir().expect("dir");
    h.get_by_label("Save history…").click();
    step(&mut h);
    // No file dialog in tests: the path field asks, proposing a .jsonl.
    h.get_by_label_contains("reference-history.jsonl");
    let path = dir.path().join("run");
    h.get_by_label("Path")
        .type_text(&path.display().to_string());
    step(&mut h);
    h.get_by_label("OK").click();
    let saved = dir.path().join("run.jsonl");
    for _ in 0..50 {
        step(&mut h);
        if saved.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&saved).expect("the history was written");
    let history = topolab::consistency::from_json_lines(&text).expect("a history");
    assert_eq!(history.len(), 5);
    assert_eq!(history.iter().filter(|t| t.write).count(), 3);
    assert_eq!(history.iter().filter(|t| t.stale()).count(), 1);
}

#[test]
fn the_inspector_sets_read_your_writes_and_undo_restores_it() {
    let (mut h, _stub) = app_on_stub(reference());
    let app = ComponentId::new("web-01", ComponentKind::App);
    let setting = |h: &Harness<'static, TopolabApp>| {
        h.state()
            .doc
            .topology()
            .host(&HostName::new("web-01"))
            .and_then(|host| host.app_server())
            .expect("an app")
            .read_your_writes
    };
    assert_eq!(setting(&h), ReadYourWrites::Off);
    h.state_mut().selection = Some(Subject::Component(app));
    step(&mut h);
    h.get_by_label("Read your writes").click();
    step(&mut h);
    h.get_by_label("From the primary for 1000 ms").click();
    step(&mut h);
    assert_eq!(setting(&h), ReadYourWrites::FromPrimary { window_ms: 1000 });
    // Its milliseconds show beside it.
    h.get_by_label("Window (ms)");
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::Undo, &ctx);
    step(&mut h);
    assert_eq!(setting(&h), ReadYourWrites::Off);
    assert!(h.query_by_label("Window (ms)").is_none());
    // The other way.
    h.get_by_label("Read your writes").click();
    step(&mut h);
    h.get_by_label("Wait for the replica up to 1000 ms").click();
    step(&mut h);
    assert_eq!(
        setting(&h),
        ReadYourWrites::WaitForReplica { timeout_ms: 1000 }
    );
    h.get_by_label("Longest wait (ms)");
}
