//! Applying the design to a running lab from the desktop app, driven
//! headless with egui_kittest: the bar that counts the changes not
//! applied, the apply dialog with each action's class, the command it
//! sends, and the apply's progress in the timeline and the stopwatch. The
//! lab is a stub channel played by the test (no Docker).

mod support;

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use support::stub::{Stub, lab, running, step};
use topolab::change::{self, ChangePlan, Impact};
use topolab::model::{HostName, Position, Subject, Topology};
use topolab::protocol::{ApplyProgress, CommandId, LabCommand, LabEvent};
use topolab::ui::TopolabApp;

/// Replaces the design with `f` applied to it (one undoable edit).
fn edit(h: &mut Harness<'static, TopolabApp>, key: &str, f: impl FnOnce(&mut Topology)) {
    support::stub::edit(h, key, f);
    step(h);
}

/// The plan the lab would make from what the app says it runs to the
/// design (the stub plays the lab with it).
fn lab_plan(h: &Harness<'static, TopolabApp>) -> ChangePlan {
    let running = h
        .state()
        .lab
        .running
        .as_ref()
        .and_then(|r| r.topology.as_deref())
        .expect("a running topology")
        .clone();
    let design = h.state().doc.topology();
    let flavors = change::Running {
        flavor: running.databases.flavor,
        would_run: design.databases.flavor,
    };
    change::plan(&running, design, flavors).expect("a plan")
}

/// The Apply commands sent since the last look: id, design, confirmed.
fn applies(stub: &mut Stub) -> Vec<(CommandId, Topology, bool)> {
    stub.sent()
        .into_iter()
        .filter_map(|c| match c {
            LabCommand::Apply {
                id,
                lab: l,
                topology,
                yes,
            } => {
                assert_eq!(l, lab());
                Some((id, *topology, yes))
            }
            _ => None,
        })
        .collect()
}

fn disabled(h: &Harness<'static, TopolabApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

/// Whether the timeline has an entry containing `text`.
fn in_timeline(h: &Harness<'static, TopolabApp>, text: &str) -> bool {
    h.state().lab.timeline.iter().any(|e| e.text.contains(text))
}

#[test]
fn an_edit_is_counted_shown_with_its_classes_applied_and_undo_makes_it_pending_again() {
    let (mut h, mut stub) = running();
    assert!(!h.state().design_differs());
    assert!(h.query_by_label_contains("not applied").is_none());

    // A new web server: a new host, and its place in the load balancer.
    h.get_by_label("+ Web/app server").click();
    step(&mut h);
    assert!(h.state().design_differs());
    h.get_by_label("2 changes not applied");
    let plan = lab_plan(&h);
    assert_eq!(plan.len(), 2, "{plan:?}");

    // The dialog lists each action, numbered, with its class.
    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label("Apply to lab reference");
    for a in &plan.actions {
        h.get_by_label(&a.summary);
        h.get_by_label(&a.why);
    }
    h.get_by_label_contains("web-03 joins");
    assert_eq!(h.query_all_by_label("hitless").count(), 2);
    assert!(h.query_by_label("destructive").is_none());
    assert!(
        applies(&mut stub).is_empty(),
        "nothing is sent before Apply"
    );

    h.get_by_label("Apply").click();
    step(&mut h);
    let sent = applies(&mut stub);
    let [(id, topology, yes)] = sent.as_slice() else {
        panic!("one apply: {sent:?}");
    };
    let id = *id;
    assert_eq!(topology, h.state().doc.topology());
    assert!(topology.host(&HostName::new("web-03")).is_some());
    assert!(!yes, "nothing destructive to confirm");
    assert!(h.query_by_label("Apply to lab reference").is_none());
    // One apply at a time; no stop in the middle of one.
    assert!(disabled(&h, "Apply…"));
    assert!(disabled(&h, "■ Stop"));
    h.get_by_label("✖ Cancel apply");

    // The lab reports each action as it runs.
    let (first, second) = (&plan.actions[0], &plan.actions[1]);
    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Started {
            index: 0,
            summary: first.summary.clone(),
            impact: first.impact,
        },
    });
    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Explain("docker run --name reference-web-03 …".to_owned()),
    });
    step(&mut h);
    let started = format!("apply 1/2: [hitless] {}", first.summary);
    assert!(in_timeline(&h, &started), "{:?}", h.state().lab.timeline);
    let last = h.state().lab.timeline.last().expect("an entry");
    assert_eq!(last.explain, ["docker run --name reference-web-03 …"]);
    h.get_by_label(&format!("Applying 1/2: {}…", first.summary));
    for event in [
        ApplyProgress::Finished {
            index: 0,
            took: Duration::from_millis(1200),
        },
        ApplyProgress::Note("web-03/app answers".to_owned()),
        ApplyProgress::Started {
            index: 1,
            summary: second.summary.clone(),
            impact: second.impact,
        },
        ApplyProgress::Finished {
            index: 1,
            took: Duration::from_millis(840),
        },
    ] {
        stub.send(LabEvent::Applying {
            id,
            progress: event,
        });
    }
    stub.send(LabEvent::Applied {
        lab: lab(),
        topology: Box::new(plan.target.clone()),
        entry_points: vec![],
    });
    stub.send(LabEvent::Finished {
        id,
        result: Ok("lab reference: 2 change(s) applied in 2.04 s".to_owned()),
    });
    step(&mut h);
    assert!(in_timeline(&h, "apply 1/2: done in 1.20 s"));
    assert!(in_timeline(&h, "web-03/app answers"));
    assert!(in_timeline(
        &h,
        &format!("apply 2/2: [hitless] {}", second.summary)
    ));
    assert!(in_timeline(&h, "apply 2/2: done in 0.84 s"));
    assert!(in_timeline(&h, "lab reference: 2 change(s) applied"));

    // Each action is a stopwatch incident on its host, closed when it
    // finished.
    let incidents = &h.state().lab.live.incidents;
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(incidents[0].label, format!("apply: {}", first.summary));
    assert_eq!(incidents[0].host, "web-03");
    assert_eq!(incidents[1].host, "lb-01");
    assert!(
        incidents
            .iter()
            .all(|i| i.healed.is_some_and(|h| h >= i.at))
    );
    assert!(incidents.iter().all(|i| !i.promotion));
    h.get_by_label_contains(&format!("apply: {} at", second.summary));

    // The lab runs the design now: nothing is pending, Stop works again.
    assert!(!h.state().design_differs());
    assert!(h.query_by_label_contains("not applied").is_none());
    assert!(!disabled(&h, "■ Stop"));

    // Undo: the design is without web-03 again, the lab still has it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step(&mut h);
    assert!(h.state().design_differs());
    h.get_by_label("2 changes not applied");
    assert!(!disabled(&h, "Apply…"));
    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label_contains("web-03 leaves");
}

#[test]
fn moving_hosts_on_the_canvas_is_no_change_to_the_lab() {
    let (mut h, _stub) = running();
    let revision = h.state().doc.revision();
    let web01 = HostName::new("web-01");
    let at = h
        .state()
        .canvas_at(&Subject::Host(web01.clone()))
        .expect("drawn");
    let before = h
        .state()
        .doc
        .topology()
        .host(&web01)
        .and_then(|w| w.position);
    // Drag web-01 across the canvas.
    h.drag_at(at);
    step(&mut h);
    for i in 1..=10 {
        h.hover_at(at + egui::vec2(12.0 * i as f32, 6.0 * i as f32));
        h.step();
    }
    h.drop_at(at + egui::vec2(120.0, 60.0));
    step(&mut h);
    let after = h
        .state()
        .doc
        .topology()
        .host(&web01)
        .and_then(|w| w.position);
    assert_ne!(after, before, "the drag moved the host");
    assert!(h.state().doc.revision() > revision);
    assert!(!h.state().design_differs());
    assert!(h.query_by_label_contains("not applied").is_none());
    assert!(h.query_by_label("Apply…").is_none());

    // Every host somewhere else: still nothing to apply.
    edit(&mut h, "move all", |t| {
        for (i, host) in t.hosts.iter_mut().enumerate() {
            host.position = Some(Position {
                x: 50.0 * i as f32,
                y: 400.0,
            });
        }
    });
    assert!(!h.state().design_differs());
    assert!(h.query_by_label_contains("not applied").is_none());
}

#[test]
fn a_destructive_apply_names_its_loss_and_sends_the_confirmation() {
    let (mut h, mut stub) = running();
    h.state_mut().selection = Some(Subject::Host(HostName::new("web-02")));
    step(&mut h);
    h.key_press(egui::Key::Delete);
    step(&mut h);
    assert!(
        h.state()
            .doc
            .topology()
            .host(&HostName::new("web-02"))
            .is_none()
    );
    let plan = lab_plan(&h);
    let destructive: Vec<_> = plan.destructive().collect();
    assert_eq!(destructive.len(), 1, "{plan:?}");
    h.get_by_label(&format!("{} not applied", plan_count(&plan)));

    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label("destructive");
    h.get_by_label(&destructive[0].summary);
    let confirm = "Apply and delete web-02 and web-02/db's data";
    h.get_by_label(confirm);
    assert!(h.query_by_label("Apply").is_none(), "no plain Apply");

    // Escape cancels: nothing is sent.
    h.key_press(egui::Key::Escape);
    step(&mut h);
    assert!(h.query_by_label("Apply to lab reference").is_none());
    assert!(applies(&mut stub).is_empty());

    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label(confirm).click();
    step(&mut h);
    let sent = applies(&mut stub);
    let [(_, topology, yes)] = sent.as_slice() else {
        panic!("one apply: {sent:?}");
    };
    assert!(*yes, "the loss is confirmed");
    assert!(topology.host(&HostName::new("web-02")).is_none());
}

fn plan_count(plan: &ChangePlan) -> String {
    match plan.len() {
        1 => "1 change".to_owned(),
        n => format!("{n} changes"),
    }
}

#[test]
fn a_change_a_running_lab_cannot_take_says_why_and_cannot_be_applied() {
    let (mut h, mut stub) = running();
    edit(&mut h, "tls", |t| t.security.tls = !t.security.tls);
    assert!(h.state().design_differs());
    h.get_by_label("The design needs a relaunch");
    h.get_by_label_contains("TLS on or off");
    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label("A running lab cannot take this design: relaunch it.");
    assert!(disabled(&h, "Apply"));
    h.get_by_label("Apply").click();
    step(&mut h);
    assert!(applies(&mut stub).is_empty());
    h.get_by_label("Cancel").click();
    step(&mut h);
    assert!(h.query_by_label("Apply to lab reference").is_none());

    // An invalid design: said so, and no Apply… at all.
    edit(&mut h, "tls", |t| t.security.tls = !t.security.tls);
    assert!(!h.state().design_differs());
    edit(&mut h, "domain", |t| t.domain = "Bad..example".to_owned());
    assert!(h.state().design_differs());
    h.get_by_label("The design differs from the running lab and is not valid");
    assert!(h.query_by_label("Apply…").is_none());
}

#[test]
fn a_failed_apply_is_told_in_red_and_what_remains_is_pending() {
    let (mut h, mut stub) = running();
    edit(&mut h, "algorithm and weight", |t| {
        let lb = t
            .host_mut(&HostName::new("lb-01"))
            .and_then(|h| h.load_balancer_mut())
            .expect("lb-01/lb");
        lb.backends[0].weight = 50;
        lb.algorithm = topolab::model::Algorithm::LeastConn;
    });
    let plan = lab_plan(&h);
    assert_eq!(plan.actions.len(), 1, "{plan:?}");
    assert_eq!(plan.actions[0].impact, Impact::Hitless);
    h.get_by_label("1 change not applied");
    h.get_by_label("Apply…").click();
    step(&mut h);
    h.get_by_label_contains("algorithm roundrobin → leastconn");
    h.get_by_label("Apply").click();
    step(&mut h);
    let sent = applies(&mut stub);
    let [(id, _, _)] = sent.as_slice() else {
        panic!("one apply: {sent:?}");
    };
    let id = *id;
    stub.send(LabEvent::Applying {
        id,
        progress: ApplyProgress::Started {
            index: 0,
            summary: plan.actions[0].summary.clone(),
            impact: Impact::Hitless,
        },
    });
    step(&mut h);
    let running = h
        .state()
        .lab
        .running
        .as_ref()
        .and_then(|r| r.topology.clone());
    // It fails: the lab records what it ran before.
    stub.send(LabEvent::Applied {
        lab: lab(),
        topology: running.expect("a topology"),
        entry_points: vec![],
    });
    stub.send(LabEvent::Finished {
        id,
        result: Err("lb-01/lb: haproxy -c: unknown keyword".to_owned()),
    });
    step(&mut h);
    let last = h.state().lab.timeline.last().expect("an entry");
    assert!(last.error, "{last:?}");
    assert_eq!(
        last.text,
        "apply failed: lb-01/lb: haproxy -c: unknown keyword"
    );
    // The action's window closed with the failure.
    let incidents = &h.state().lab.live.incidents;
    assert_eq!(incidents.len(), 1);
    assert!(incidents[0].healed.is_some());
    assert_eq!(incidents[0].host, "lb-01");
    // The change is still pending, and can be applied again.
    h.get_by_label("1 change not applied");
    assert!(!disabled(&h, "Apply…"));
    assert!(h.query_by_label("✖ Cancel apply").is_none());
}
