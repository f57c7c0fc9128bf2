//! Operations in the desktop app, driven headless with egui_kittest: the
//! Deploy window (its plan previewed as the fields change, the command it
//! sends, each batch as the lab reports it, Stop, and how the deploy
//! ended), the design following the releases deployed, each host's
//! release on the canvas, the share of requests per release in the
//! traffic tab, and the databases' failover policy in the inspector and
//! the design review. The lab is a stub channel played by the test (no
//! Docker).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use support::stub::{Stub, app_on_stub, lab, reference, running, step};
use topolab::change::Impact;
use topolab::deploy::Request;
use topolab::live::{Millis, Observation, RequestTrace};
use topolab::model::{ComponentId, ComponentKind, Failover, HostName, Subject, Topology};
use topolab::protocol::{ApplyProgress, CommandId, LabCommand, LabEvent};
use topolab::ui::{Intent, TopolabApp};

/// The Deploy commands sent since the last look: id, request, threshold.
fn deploys(stub: &mut Stub) -> Vec<(CommandId, Request, f64)> {
    stub.sent()
        .into_iter()
        .filter_map(|c| match c {
            LabCommand::Deploy {
                id,
                lab: l,
                request,
                max_error_percent,
            } => {
                assert_eq!(l, lab());
                Some((id, request, max_error_percent))
            }
            _ => None,
        })
        .collect()
}

/// What `deploy::plan` says of `request` on the reference design as
/// launched (every app on v1): the text the window must show.
fn plan_text(request: &Request) -> String {
    let running: BTreeMap<HostName, String> = BTreeMap::new();
    topolab::deploy::plan(&reference(), &running, request)
        .expect("a plan")
        .describe()
}

fn request(version: &str, batch: usize, canary: Option<&str>, pause_s: f64) -> Request {
    Request {
        version: version.to_owned(),
        batch,
        canary: canary.map(HostName::new),
        pause_s,
    }
}

/// Opens the combo labelled `combo` and picks `choice` in it.
fn choose(h: &mut Harness<'static, TopolabApp>, combo: &str, choice: &str) {
    h.get_by_label(combo).click();
    step(h);
    h.get_by_label(choice).click();
    step(h);
}

fn disabled(h: &Harness<'static, TopolabApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

/// Whether the timeline has an entry containing `text` (and, when
/// `error`, it is an error).
fn in_timeline(h: &Harness<'static, TopolabApp>, text: &str, error: bool) -> bool {
    h.state()
        .lab
        .timeline
        .iter()
        .any(|e| e.text.contains(text) && (e.error || !error))
}

/// The releases of the design's app servers.
fn design_releases(h: &Harness<'static, TopolabApp>) -> Vec<(String, String)> {
    h.state()
        .doc
        .topology()
        .hosts
        .iter()
        .filter_map(|host| Some((host.name.to_string(), host.app_server()?.release.clone())))
        .collect()
}

/// The reference design with every app server on `release`.
fn reference_on(release: &str) -> Topology {
    let mut t = reference();
    for host in &mut t.hosts {
        if let Some(app) = host.app_server_mut() {
            app.release = release.to_owned();
        }
    }
    t
}

/// Reports step `index` of command `id` started (as `summary`) and,
/// when `took`, finished.
fn report_step(stub: &Stub, id: CommandId, index: usize, summary: &str, took: Option<u64>) {
    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Started {
            index,
            summary: summary.to_owned(),
            impact: Impact::Hitless,
        },
    });
    if let Some(ms) = took {
        stub.send(LabEvent::Applying {
            id,
            progress: ApplyProgress::Finished {
                index,
                took: Duration::from_millis(ms),
            },
        });
    }
}

/// Opens the Deploy window on the running lab, picks `version`, a canary
/// web-02, and sends the deploy; its id.
fn deploy_with_canary(
    h: &mut Harness<'static, TopolabApp>,
    stub: &mut Stub,
    version: &str,
) -> CommandId {
    h.get_by_label("Deploy…").click();
    step(h);
    choose(h, "Release", version);
    choose(h, "Canary", "web-02");
    h.get_by_label(&format!("Deploy {version}")).click();
    step(h);
    let sent = deploys(stub);
    let [(id, sent, _)] = sent.as_slice() else {
        panic!("one deploy: {sent:?}");
    };
    assert_eq!(*sent, request(version, 1, Some("web-02"), 10.0));
    *id
}

#[test]
fn the_deploy_window_previews_the_plan_as_the_fields_change_and_sends_the_deploy() {
    // No lab: the button says why it does nothing.
    let (h, _stub) = app_on_stub(reference());
    assert!(disabled(&h, "Deploy…"));
    drop(h);

    let (mut h, mut stub) = running();
    assert!(!disabled(&h, "Deploy…"));
    h.get_by_label("Deploy…").click();
    step(&mut h);
    h.get_by_label("Deploy a release");
    h.get_by_label("Lab reference runs: web-01 v1, web-02 v1");
    // Every app runs v1: v2 is proposed, one host at a time, no canary.
    let first = request("v2", 1, None, 10.0);
    h.get_by_label(&plan_text(&first));
    assert!(!disabled(&h, "Deploy v2"));
    // The canary's watch means nothing without a canary.
    assert!(disabled(&h, "Watch the canary (s)"));

    // A batch of both servers would leave none answering: no plan, and
    // no way to send it.
    choose(&mut h, "Batch size", "2 hosts");
    h.get_by_label_contains(
        "No plan: a batch of 2 takes all 2 application server(s) out of rotation at once",
    );
    assert!(disabled(&h, "Deploy v2"));
    assert!(h.query_by_label(&plan_text(&first)).is_none());

    // One at a time again, web-02 first as the canary, watched 30 s.
    choose(&mut h, "Batch size", "1 host");
    choose(&mut h, "Canary", "web-02");
    let field = h.get_by_label("Watch the canary (s)");
    field.focus();
    step(&mut h);
    h.get_by_label("Watch the canary (s)").type_text("30");
    h.key_press(egui::Key::Enter);
    step(&mut h);
    let canary = request("v2", 1, Some("web-02"), 30.0);
    let text = plan_text(&canary);
    assert!(
        text.starts_with("1. web-02 (v1 → v2) — canary, watched 30 s"),
        "{text}"
    );
    h.get_by_label(&text);

    // The release that fails its health check.
    choose(&mut h, "Release", "v2-broken");
    let broken = request("v2-broken", 1, Some("web-02"), 30.0);
    h.get_by_label(&plan_text(&broken));
    assert!(
        deploys(&mut stub).is_empty(),
        "nothing is sent before Deploy"
    );

    h.get_by_label("Deploy v2-broken").click();
    step(&mut h);
    let sent = deploys(&mut stub);
    let [(_, sent, max_errors)] = sent.as_slice() else {
        panic!("one deploy: {sent:?}");
    };
    assert_eq!(*sent, broken);
    assert_eq!(*max_errors, 1.0);
    // The window follows the deploy now; one deploy at a time.
    h.get_by_label("Deploy of v2-broken to lab reference");
    h.get_by_label("■ Stop deploy");
    assert!(in_timeline(
        &h,
        "deploying v2-broken to lab reference in 2 batch(es)",
        false
    ));
    let ctx = h.ctx.clone();
    h.state_mut().run(
        Intent::Deploy {
            request: request("v2", 1, None, 0.0),
            max_error_percent: 1.0,
        },
        &ctx,
    );
    step(&mut h);
    assert!(deploys(&mut stub).is_empty(), "a second deploy is refused");
}

#[test]
fn a_deploys_batches_show_as_they_run_and_stop_rolls_back_with_the_reason() {
    let (mut h, mut stub) = running();
    let id = deploy_with_canary(&mut h, &mut stub, "v2-broken");
    // Not sent before the lab says anything: both batches to come.
    h.get_by_label("Deploying…");
    h.get_by_label_contains("1/2  web-02 → v2-broken (canary)");
    h.get_by_label_contains("2/2  web-01 → v2-broken");

    report_step(&stub, id, 0, "web-02 → v2-broken (canary)", None);
    for note in [
        "web-02 switched to v2-broken, its app restarted",
        "watching web-02 for 10 s",
    ] {
        stub.send(LabEvent::Applying {
            id,
            progress: ApplyProgress::Note(note.to_owned()),
        });
    }
    step(&mut h);
    h.get_by_label("Deploying 1/2: web-02 -> v2-broken (canary)…");
    // The lab's notes under the batches (the last one is also in the
    // status bar).
    h.get_by_label("web-02 switched to v2-broken, its app restarted");
    assert!(in_timeline(&h, "watching web-02 for 10 s", false));
    assert!(in_timeline(
        &h,
        "deploy 1/2: [hitless] web-02 → v2-broken (canary)",
        false
    ));
    assert_eq!(
        h.state().lab.live.incidents[0].label,
        "deploy: web-02 → v2-broken (canary)"
    );
    assert_eq!(h.state().lab.live.incidents[0].host, "web-02");
    h.get_by_label("Lab: deploying v2-broken (0/2 done)");
    // No stop, apply or second deploy in the middle of one.
    assert!(disabled(&h, "■ Stop"));

    // Stop: the lab is asked to stop after this batch.
    h.get_by_label("■ Stop deploy").click();
    step(&mut h);
    let sent = stub.sent();
    assert!(
        matches!(sent.as_slice(), [LabCommand::Cancel { launch }] if *launch == id),
        "{sent:?}"
    );
    h.get_by_label("stopping after this step…");
    assert!(h.query_by_label("■ Stop deploy").is_none());

    // The canary's batch fails; the lab rolls it back and says why.
    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Note(
            "stopping the deploy: its health check fails; rolling back 1 host(s)".to_owned(),
        ),
    });
    report_step(&stub, id, 2, "roll back 1 host(s)", Some(1500));
    stub.send(LabEvent::Applied {
        lab: lab(),
        topology: Box::new(reference()),
        entry_points: vec![],
    });
    let why = "deploy of v2-broken stopped: its health check fails; 1 host(s) rolled back";
    stub.send(LabEvent::Finished {
        id,
        result: Err(why.to_owned()),
    });
    step(&mut h);
    h.get_by_label(&format!("✖ Rolled back: {why}"));
    h.get_by_label_contains("rollback  roll back 1 host(s) — 1.50 s");
    h.get_by_label_contains("web-01 → v2-broken");
    assert!(in_timeline(&h, &format!("deploy rolled back: {why}"), true));
    assert!(h.state().lab.applying.is_none());
    assert!(!disabled(&h, "■ Stop"));
    // Every step is a stopwatch incident, closed.
    let incidents = &h.state().lab.live.incidents;
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert!(incidents.iter().all(|i| i.healed.is_some()));
    // The lab runs what it ran: the design did not change.
    assert_eq!(
        design_releases(&h),
        [
            ("web-01".into(), "v1".into()),
            ("web-02".into(), "v1".into())
        ]
    );
    assert!(!h.state().design_differs());

    // Back to the form, as it was left.
    h.get_by_label("New deploy…").click();
    step(&mut h);
    h.get_by_label(&plan_text(&request("v2-broken", 1, Some("web-02"), 10.0)));
    h.get_by_label("Cancel").click();
    step(&mut h);
    assert!(h.query_by_label("Deploy a release").is_none());
}

#[test]
fn a_completed_deploy_says_so_and_the_design_follows_the_releases() {
    let (mut h, mut stub) = running();
    let id = deploy_with_canary(&mut h, &mut stub, "v2");
    report_step(&stub, id, 0, "web-02 → v2 (canary)", Some(3100));
    report_step(&stub, id, 1, "web-01 → v2", None);
    step(&mut h);
    h.get_by_label_contains("1/2  web-02 → v2 (canary) — 3.10 s");
    h.get_by_label("Deploying 2/2: web-01 -> v2…");
    h.get_by_label("Lab: deploying v2 (1/2 done)");

    // Closing the window leaves the deploy running; Deploy… shows it again.
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::CloseDeploy, &ctx);
    step(&mut h);
    assert!(h.query_by_label("Deploying 2/2: web-01 -> v2…").is_none());
    assert!(h.state().lab.applying.is_some());
    h.get_by_label("Deploy…").click();
    step(&mut h);
    h.get_by_label("Deploying 2/2: web-01 -> v2…");

    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Finished {
            index: 1,
            took: Duration::from_millis(2900),
        },
    });
    stub.send(LabEvent::Applied {
        lab: lab(),
        topology: Box::new(reference_on("v2")),
        entry_points: vec![],
    });
    stub.send(LabEvent::Finished {
        id,
        result: Ok("lab reference: v2 deployed in 6.00 s".to_owned()),
    });
    step(&mut h);
    h.get_by_label("✔ Completed: lab reference: v2 deployed in 6.00 s");
    assert!(in_timeline(
        &h,
        "lab reference: v2 deployed in 6.00 s",
        false
    ));
    // The design runs what the lab runs, as one undoable step: nothing to
    // apply (which would undo the deploy).
    assert_eq!(
        design_releases(&h),
        [
            ("web-01".into(), "v2".into()),
            ("web-02".into(), "v2".into())
        ]
    );
    assert_eq!(h.state().doc.undo_label(), Some("deploy v2"));
    assert!(!h.state().design_differs());
    let badges = h.state().release_badges();
    assert_eq!(badges.len(), 2, "{badges:?}");
    assert!(
        badges
            .values()
            .all(|b| b.recorded == "v2" && b.answers.is_none())
    );
    // Undo: the design says v1 again, which applying would bring back.
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::Undo, &ctx);
    step(&mut h);
    assert!(h.state().design_differs());
    h.get_by_label("2 changes not applied");
}

/// A request served by `app`'s release `version` (None: an answer that
/// named none), finished at `at`.
fn served(at: Millis, app: &str, version: Option<&str>) -> RequestTrace {
    RequestTrace {
        status: Some(200),
        latency_ms: 4.0,
        delivered: true,
        lb: Some(HostName::new("lb-01")),
        web: Some(HostName::new(app)),
        app: Some(HostName::new(app)),
        db: Some(HostName::new("web-02")),
        version: version.map(str::to_owned),
        ..RequestTrace::new(at, false, HostName::new("lb-01"))
    }
}

fn feed(h: &mut Harness<'static, TopolabApp>, stub: &Stub, traces: Vec<RequestTrace>) {
    stub.send(LabEvent::Live {
        lab: lab(),
        observations: vec![Observation::Requests(traces)],
    });
    step(h);
}

#[test]
fn the_traffic_tab_shows_the_share_of_each_release_and_the_canvas_each_hosts() {
    let (mut h, stub) = running();
    assert!(h.query_by_label_contains("Releases answering").is_none());
    // Answers without a release: nothing about releases.
    let now = topolab::live::now();
    feed(
        &mut h,
        &stub,
        (0..5)
            .map(|i| served(now - 30_000 + i, "web-01", None))
            .collect(),
    );
    assert!(h.query_by_label_contains("Releases answering").is_none());
    let badges = h.state().release_badges();
    assert_eq!(badges.len(), 2);
    assert!(
        badges
            .values()
            .all(|b| b.recorded == "v1" && b.answers.is_none()),
        "{badges:?}"
    );

    // A deploy's mixed-version window: web-02 answers with v2 while the
    // lab's record (until the deploy ends) still says v1. 20 s ago v1
    // alone, 10 s ago both, 2 s ago v2 alone.
    let second = |ago: u64| (now / 1000 - ago) * 1000;
    let mut traces = Vec::new();
    for i in 0..20 {
        traces.push(served(second(20) + 10 * i, "web-01", Some("v1")));
    }
    for i in 0..10 {
        traces.push(served(second(10) + 10 * i, "web-01", Some("v1")));
        traces.push(served(second(10) + 10 * i + 5, "web-02", Some("v2")));
    }
    for i in 0..10 {
        traces.push(served(second(2) + 10 * i, "web-02", Some("v2")));
    }
    feed(&mut h, &stub, traces);
    h.get_by_label("Releases answering: v1 60.0% (30)   v2 40.0% (20)");
    // The per-second history closes a second once the clock has left it.
    let left = topolab::live::now() / 1000;
    while topolab::live::now() / 1000 == left {
        std::thread::sleep(Duration::from_millis(20));
    }
    step(&mut h);
    // The chart's bands: each second's requests shared out, stacked (when
    // "now" is, to the second, is the clock's: the seconds are compared
    // with the last one's).
    let bands = h.state().release_bands();
    let [v1, v2] = bands.as_slice() else {
        panic!("two bands: {bands:?}");
    };
    let relative = |points: &[[f64; 3]]| -> Vec<[f64; 3]> {
        let last = points.last().map_or(0.0, |p| p[0]);
        points.iter().map(|p| [p[0] - last, p[1], p[2]]).collect()
    };
    assert_eq!(v1.release, "v1");
    assert_eq!(
        relative(&v1.points),
        [[-18.0, 0.0, 100.0], [-8.0, 0.0, 50.0], [0.0, 0.0, 0.0]]
    );
    assert_eq!(v2.release, "v2");
    assert_eq!(
        relative(&v2.points),
        [
            [-18.0, 100.0, 100.0],
            [-8.0, 50.0, 100.0],
            [0.0, 0.0, 100.0]
        ]
    );
    assert!(v2.points[2][0] <= -2.0, "{v2:?}");
    let badges = h.state().release_badges();
    let web02 = &badges[&HostName::new("web-02")];
    assert_eq!(web02.recorded, "v1");
    assert_eq!(web02.answers.as_deref(), Some("v2"));
    assert_eq!(badges[&HostName::new("web-01")].answers, None);
    // The canvas's tooltip says the same.
    let tip = h
        .state()
        .canvas_tooltip(&Subject::Component(ComponentId::new(
            "web-02",
            ComponentKind::App,
        )));
    assert!(
        tip.contains("Release: v1 (as the lab records it); its last answer came from v2"),
        "{tip}"
    );
}

#[test]
fn the_inspector_sets_the_failover_policy_and_undo_restores_it() {
    let (mut h, _stub) = app_on_stub(reference());
    let failover = |h: &Harness<'static, TopolabApp>| h.state().doc.topology().databases.failover;
    assert_eq!(failover(&h), Failover::Manual);
    assert!(h.query_by_label("Sources that agree").is_none());
    choose(&mut h, "Failover", "Automatic (topolab's orchestrator)");
    assert_eq!(failover(&h), Failover::automatic());
    h.get_by_label("Sources that agree");
    h.get_by_label("Within (ms)");
    h.get_by_label("Quiet after (s)");
    h.get_by_label("If writes are lost");
    h.get_by_label("promote anyway").click();
    step(&mut h);
    assert_eq!(
        failover(&h),
        Failover::Automatic {
            agree: 2,
            within_ms: 2_000,
            quiet_s: 60,
            accept_loss: true
        }
    );
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::Undo, &ctx);
    step(&mut h);
    assert_eq!(failover(&h), Failover::Manual);
    assert!(h.query_by_label("Sources that agree").is_none());
    h.state_mut().run(Intent::Redo, &ctx);
    step(&mut h);
    assert!(matches!(
        failover(&h),
        Failover::Automatic {
            accept_loss: true,
            ..
        }
    ));
    // And back to manual from the combo.
    choose(&mut h, "Failover", "Manual (a person promotes)");
    assert_eq!(failover(&h), Failover::Manual);
}

#[test]
fn the_reviews_fix_turns_automatic_failover_on() {
    let (mut h, _stub) = app_on_stub(reference());
    let fix = "Fix: Enable automatic failover";
    h.get_by_label(fix).click();
    step(&mut h);
    assert_eq!(
        h.state().doc.topology().databases.failover,
        Failover::automatic()
    );
    // The finding stays (what remains is said), without the fix.
    assert!(h.query_by_label(fix).is_none());
    let ctx = h.ctx.clone();
    h.state_mut().run(Intent::Undo, &ctx);
    step(&mut h);
    assert!(h.state().doc.topology().databases.failover.is_manual());
    h.get_by_label(fix);
}

#[test]
fn an_apps_release_is_set_in_the_inspector_and_is_a_change_to_apply() {
    let (mut h, _stub) = running();
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-01",
        ComponentKind::App,
    )));
    step(&mut h);
    choose(&mut h, "Release", "v2");
    assert_eq!(
        design_releases(&h),
        [
            ("web-01".into(), "v2".into()),
            ("web-02".into(), "v1".into())
        ]
    );
    assert!(h.state().design_differs());
    h.get_by_label("1 change not applied");
}
