//! The desktop app, driven headless with egui_kittest: clicks by label,
//! assertions on the app's state. The lab is a stub channel played by the
//! test (no Docker).

mod support;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use support::stub::{Stub, app_on_stub};
use topolab::generate::Artifacts;
use topolab::lab::launch::{Phase, Progress};
use topolab::model::{ComponentId, ComponentKind, HostName, Subject};
use topolab::preset::Preset;
use topolab::protocol::{CommandId, LabCommand, LabEvent, LabName};
use topolab::ui::TopolabApp;

/// A lab's name.
fn lab(name: &str) -> LabName {
    name.parse().expect("a lab name")
}

fn app(preset: &str) -> (Harness<'static, TopolabApp>, Stub) {
    let topology = Preset::find(preset)
        .expect("preset")
        .topology()
        .expect("valid");
    app_on_stub(topology)
}

fn step(h: &mut Harness<'static, TopolabApp>) {
    h.run_steps(3);
}

/// Types `path` into the path field the app asks with, presses OK, and
/// runs frames until `done` (the file work runs in the background), or
/// for about two seconds.
fn answer_path_field(
    h: &mut Harness<'static, TopolabApp>,
    path: &std::path::Path,
    done: impl Fn(&Harness<'static, TopolabApp>) -> bool,
) {
    h.get_by_label("Path")
        .type_text(&path.display().to_string());
    step(h);
    h.get_by_label("OK").click();
    for _ in 0..100 {
        step(h);
        if done(h) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// With Docker reachable, clicks Launch; the launch's id and whether it
/// asked for the images to be built.
fn start_launch(h: &mut Harness<'static, TopolabApp>, stub: &mut Stub) -> (CommandId, bool) {
    stub.events.send(LabEvent::Engine(Ok(()))).expect("send");
    step(h);
    h.get_by_label("▶ Launch").click();
    step(h);
    last_launch(stub).expect("a launch")
}

/// The last Launch the app sent since the last look: its id and whether it
/// builds the images.
fn last_launch(stub: &mut Stub) -> Option<(CommandId, bool)> {
    stub.sent().into_iter().rev().find_map(|c| match c {
        LabCommand::Launch {
            id, build_images, ..
        } => Some((id, build_images)),
        _ => None,
    })
}

fn haproxy(h: &Harness<'static, TopolabApp>) -> String {
    h.state()
        .preview()
        .and_then(|a| a.get("lb-01/haproxy.cfg"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn each_preset_loads_from_the_menu() {
    let (mut h, _stub) = app("reference");
    for p in topolab::preset::PRESETS {
        h.get_by_label("Presets").click();
        step(&mut h);
        h.get_by_label(p.name).click();
        step(&mut h);
        assert_eq!(h.state().doc.topology().name, p.name);
        assert!(!h.state().doc.dirty);
    }
}

#[test]
fn a_new_web_server_becomes_a_backend() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("+ Web/app server").click();
    step(&mut h);
    let t = h.state().doc.topology();
    assert_eq!(t.hosts.len(), 4);
    let lb = t.hosts[0].load_balancer().expect("lb");
    assert!(
        lb.backends.iter().any(|b| b.host.as_str() == "web-03"),
        "{lb:?}"
    );
    assert!(haproxy(&h).contains("server web-03 "), "{}", haproxy(&h));
    assert_eq!(
        h.state().selection,
        Some(Subject::Host(HostName::new("web-03")))
    );
}

#[test]
fn renaming_a_host_changes_the_generated_haproxy_cfg() {
    let (mut h, _stub) = app("reference");
    h.state_mut().selection = Some(Subject::Host(HostName::new("web-01")));
    step(&mut h);
    let name = h.get_by_label("Host name");
    name.focus();
    name.type_text("x");
    step(&mut h);
    h.key_press(egui::Key::Enter);
    step(&mut h);
    assert!(
        h.state()
            .doc
            .topology()
            .host(&HostName::new("web-01x"))
            .is_some()
    );
    assert!(haproxy(&h).contains("server web-01x "), "{}", haproxy(&h));
    assert!(!haproxy(&h).contains("server web-01 "));
}

#[test]
fn deleting_the_primary_lists_the_problem_and_undo_restores_it() {
    let (mut h, _stub) = app("reference");
    // The review names the primary; clicking it selects it.
    h.get_by_label("Every write depends on the single primary web-01/db")
        .click();
    step(&mut h);
    assert_eq!(
        h.state().selection,
        Some(Subject::Component(ComponentId::new(
            "web-01",
            ComponentKind::Db
        )))
    );
    h.get_by_label("Delete this component").click();
    step(&mut h);
    assert!(!h.state().problems().is_empty());
    h.get_by_label_contains("replica of web-01, which runs no database");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step(&mut h);
    assert_eq!(h.state().problems(), &[]);
    assert!(
        h.state()
            .doc
            .topology()
            .host(&HostName::new("web-01"))
            .and_then(|w| w.database())
            .is_some()
    );
    assert!(
        h.query_by_label_contains("which runs no database")
            .is_none()
    );
}

#[test]
fn applying_a_fix_removes_its_finding() {
    let (mut h, _stub) = app("reference");
    assert!(
        h.state()
            .findings()
            .iter()
            .any(|f| f.id == "security-no-tls")
    );
    h.get_by_label("Fix: Enable TLS").click();
    step(&mut h);
    assert!(h.state().doc.topology().security.tls);
    assert!(
        !h.state()
            .findings()
            .iter()
            .any(|f| f.id == "security-no-tls")
    );
    assert!(h.query_by_label("Fix: Enable TLS").is_none());
    assert!(h.query_by_label("No HTTPS").is_none());
    h.get_by_label("Fix: Share a virtual IP between two load balancers")
        .click();
    step(&mut h);
    assert!(
        !h.state()
            .findings()
            .iter()
            .any(|f| f.id == "spof-load-balancer")
    );
}

#[test]
fn a_malformed_file_shows_its_errors_and_keeps_the_document() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.ron");
    std::fs::write(
        &bad,
        "(version: 1, name: \"x\", hosts: [(name: \"a\", compnents: [])])",
    )
    .expect("write");
    // No dialog service in the test: File > Open offers a path field.
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label("Open…  (Ctrl+O)").click();
    step(&mut h);
    h.get_by_label_contains("No file dialog is available here");
    let field = h.get_by_label("Path");
    field.focus();
    field.type_text(&bad.display().to_string());
    step(&mut h);
    h.get_by_label("OK").click();
    step(&mut h);
    h.get_by_label("Cannot open the file");
    h.get_by_label_contains("1:45: Unexpected field named `compnents`");
    assert_eq!(h.state().doc.topology().name, "reference");
    assert_eq!(h.state().doc.topology().hosts.len(), 3);
}

#[test]
fn launch_sends_the_command_and_progress_moves_the_bar() {
    let (mut h, mut stub) = app("reference");
    assert!(matches!(
        stub.sent().as_slice(),
        [LabCommand::Discover { .. }]
    ));
    stub.events.send(LabEvent::Engine(Ok(()))).expect("send");
    step(&mut h);
    h.get_by_label("▶ Launch").click();
    step(&mut h);
    let id = match stub.sent().as_slice() {
        [
            LabCommand::Launch {
                id,
                lab,
                topology,
                build_images,
            },
        ] => {
            assert_eq!(lab, "reference");
            assert_eq!(topology.hosts.len(), 3);
            assert!(!build_images, "a first launch does not build images");
            *id
        }
        other => panic!("expected one Launch, got {other:?}"),
    };
    for phase in [
        Phase::Images,
        Phase::Networks,
        Phase::Hosts,
        Phase::Databases,
    ] {
        stub.events
            .send(LabEvent::Progress {
                id,
                progress: Progress::Finished {
                    phase,
                    at: std::time::Duration::from_millis(500),
                },
            })
            .expect("send");
    }
    stub.events
        .send(LabEvent::Progress {
            id,
            progress: Progress::Explain("docker start topolab-reference-web-01-db".to_owned()),
        })
        .expect("send");
    step(&mut h);
    let launching = h.state().lab.launching.clone().expect("launching");
    assert_eq!(launching.done.len(), 4);
    h.get_by_label_contains("reference: databases ready");
    // Cancel goes to the lab with the launch's id.
    h.get_by_label("✖ Cancel launch").click();
    step(&mut h);
    assert!(matches!(stub.sent().as_slice(), [LabCommand::Cancel { launch }] if *launch == id));
    stub.events
        .send(LabEvent::Launched {
            id,
            lab: lab("reference"),
            entry_points: vec![],
            vip_ports: vec![],
            artifacts: Box::new(Artifacts::default()),
        })
        .expect("send");
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Ok("lab reference is running".to_owned()),
        })
        .expect("send");
    step(&mut h);
    assert!(h.state().lab.launching.is_none());
    h.get_by_label_contains("Lab: reference running");
}

#[test]
fn a_launch_without_images_offers_to_build_them_then_launches() {
    let (mut h, mut stub) = app("reference");
    let (id, build) = start_launch(&mut h, &mut stub);
    assert!(!build);
    // The lab finds the base image missing.
    stub.events
        .send(LabEvent::ImagesMissing {
            id,
            image: "topolab-base:bookworm".to_owned(),
        })
        .expect("send");
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Err("image topolab-base:bookworm is missing: run ...".to_owned()),
        })
        .expect("send");
    step(&mut h);
    assert!(h.state().lab.launching.is_none());
    h.get_by_label("Build the lab's images?");
    h.get_by_label_contains("topolab-base:bookworm, which is not built");
    h.get_by_label("Build images and launch").click();
    step(&mut h);
    // The dialog is gone and the launch asks for the build.
    assert!(h.query_by_label("Build the lab's images?").is_none());
    let (_, build) = last_launch(&mut stub).expect("a second launch");
    assert!(build, "the second launch builds the images");
    let launching = h.state().lab.launching.clone().expect("launching");
    assert!(launching.building_images);
    h.get_by_label_contains("building images (about a minute)");
    // Cancel, the other answer, sends nothing.
    let (mut h, mut stub) = app("reference");
    let (id, _) = start_launch(&mut h, &mut stub);
    stub.events
        .send(LabEvent::ImagesMissing {
            id,
            image: "topolab-base:bookworm".to_owned(),
        })
        .expect("send");
    step(&mut h);
    h.get_by_label("Cancel").click();
    step(&mut h);
    assert!(h.query_by_label("Build the lab's images?").is_none());
    assert!(last_launch(&mut stub).is_none());
}

#[test]
fn a_lab_failure_is_shown_with_its_reason() {
    let (mut h, mut stub) = app("reference");
    let (id, _) = start_launch(&mut h, &mut stub);
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Err(
                "readiness failed: topolab-reference-web-02-db not replicating after 90 s"
                    .to_owned(),
            ),
        })
        .expect("send");
    step(&mut h);
    assert!(h.state().lab.launching.is_none());
    // In the status bar and in the timeline.
    let shown = h
        .query_all_by_label_contains(
            "launch failed: readiness failed: topolab-reference-web-02-db not replicating",
        )
        .count();
    assert!(shown >= 1);
    assert!(
        h.state()
            .lab
            .timeline
            .iter()
            .any(|e| e.error && e.text.contains("not replicating"))
    );
}

#[test]
fn without_docker_the_designer_works_and_says_what_is_missing() {
    let (mut h, _stub) = app("reference");
    _stub
        .events
        .send(LabEvent::Engine(Err(
            "cannot reach the Docker engine (Socket not found)".to_owned(),
        )))
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("Lab: Docker unavailable");
    h.get_by_label_contains("Lab unavailable: cannot reach the Docker engine");
    h.get_by_label("+ DB server").click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().hosts.len(), 4);
}

#[test]
fn unsaved_changes_are_asked_about_and_kept_on_cancel() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("+ DB server").click();
    step(&mut h);
    assert!(h.state().doc.dirty);
    h.get_by_label("Presets").click();
    step(&mut h);
    h.get_by_label("scaled").click();
    step(&mut h);
    h.get_by_label("Unsaved changes");
    h.get_by_label_contains("Since the last save: add");
    // Keys do nothing behind the prompt.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    step(&mut h);
    h.get_by_label("Cancel").click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().name, "reference");
    assert_eq!(h.state().doc.topology().hosts.len(), 4, "the edit is kept");
    assert!(h.state().doc.dirty, "still unsaved");
    h.get_by_label("Presets").click();
    step(&mut h);
    h.get_by_label("scaled").click();
    step(&mut h);
    h.get_by_label("Discard changes").click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().name, "scaled");
}

#[test]
fn save_from_the_prompt_saves_then_goes_on() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("mine.ron");
    h.get_by_label("+ Web/app server").click();
    step(&mut h);
    h.get_by_label("Presets").click();
    step(&mut h);
    h.get_by_label("one-server").click();
    step(&mut h);
    h.get_by_label("Save").click();
    step(&mut h);
    // No dialog service in the test: the path field asks where.
    let field = h.get_by_label("Path");
    field.focus();
    field.type_text(&file.display().to_string());
    step(&mut h);
    h.get_by_label("OK").click();
    step(&mut h);
    let saved = topolab::preset::load_path(&file).expect("the saved file loads");
    assert_eq!(saved.hosts.len(), 4, "the edited design was saved");
    assert_eq!(
        h.state().doc.topology().name,
        "one-server",
        "then the preset was loaded"
    );
    assert!(!h.state().doc.dirty);
}

#[test]
fn separate_actions_undo_separately() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("+ DB server").click();
    step(&mut h);
    h.get_by_label("+ DB server").click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().hosts.len(), 5);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step(&mut h);
    assert_eq!(h.state().doc.topology().hosts.len(), 4);
}

/// Starts a lab in the app through the stub: Launch, then Launched.
fn launched(h: &mut Harness<'static, TopolabApp>, stub: &mut Stub) {
    let (id, _) = start_launch(h, stub);
    stub.events
        .send(LabEvent::Launched {
            id,
            lab: lab("reference"),
            entry_points: vec![topolab::lab::plan::EntryPoint {
                host: HostName::new("lb-01"),
                http: 8080,
                https: None,
            }],
            vip_ports: vec![],
            artifacts: Box::new(Artifacts::default()),
        })
        .expect("send");
    step(h);
}

/// A lab with a virtual IP: the status bar gives the address's published
/// port (which follows it) before the members' own.
#[test]
fn the_status_bar_gives_a_virtual_ips_published_port_first() {
    let (mut h, mut stub) = app("vip");
    let (id, _) = start_launch(&mut h, &mut stub);
    let entry = |host: &str, http| topolab::lab::plan::EntryPoint {
        host: HostName::new(host),
        http,
        https: None,
    };
    stub.events
        .send(LabEvent::Launched {
            id,
            lab: lab("vip"),
            entry_points: vec![entry("lb-01", 8080), entry("lb-02", 8081)],
            vip_ports: vec![topolab::protocol::VipEndpoint {
                number: 220,
                http: 8082,
                https: None,
            }],
            artifacts: Box::new(Artifacts::default()),
        })
        .expect("send");
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Ok("lab vip is running".to_owned()),
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("lab vip is running: vip .220 http://127.0.0.1:8082, ");
    h.get_by_label_contains(
        "Lab: vip running  vip .220 http://127.0.0.1:8082  http://127.0.0.1:8080  http://127.0.0.1:8081",
    );
}

#[test]
fn live_events_show_a_nodes_state_in_the_inspector_and_the_timeline() {
    use topolab::live::{BackendStatus, Observation, RunState};
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    let at = topolab::live::now();
    let observations = vec![
        Observation::Container {
            host: HostName::new("web-01"),
            kind: None,
            state: RunState::Running,
            at,
        },
        Observation::Container {
            host: HostName::new("web-01"),
            kind: Some(ComponentKind::Nginx),
            state: RunState::Exited(137),
            at,
        },
        Observation::Backend {
            lb: HostName::new("lb-01"),
            server: HostName::new("web-01"),
            status: BackendStatus::Down,
            check: "L4CON Connection refused".to_owned(),
            at: at + 600,
        },
    ];
    stub.events
        .send(LabEvent::Live {
            lab: lab("reference"),
            observations,
        })
        .expect("send");
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-01",
        ComponentKind::Nginx,
    )));
    step(&mut h);
    // The inspector says what Docker and HAProxy report.
    h.get_by_label("down");
    h.get_by_label_contains("container killed (exit 137)");
    // The timeline tells the transition with its cause.
    h.get_by_label_contains("Timeline").click();
    step(&mut h);
    h.get_by_label_contains(
        "lb-01 marked web-01 DOWN: L4CON Connection refused, 0.6 s after its Nginx died",
    );
    // Nginx comes back; HAProxy still has it DOWN: the inspector says so.
    stub.events
        .send(LabEvent::Live {
            lab: lab("reference"),
            observations: vec![Observation::Container {
                host: HostName::new("web-01"),
                kind: Some(ComponentKind::Nginx),
                state: RunState::Running,
                at: at + 5000,
            }],
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("lb-01 sees web-01 DOWN: L4CON Connection refused");
    // Events for another lab are not applied to this one.
    stub.events
        .send(LabEvent::Live {
            lab: lab("other"),
            observations: vec![Observation::Backend {
                lb: HostName::new("lb-01"),
                server: HostName::new("web-01"),
                status: BackendStatus::Up,
                check: "L7OK/200".to_owned(),
                at: at + 6000,
            }],
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("lb-01 sees web-01 DOWN");
}

#[test]
fn the_traffic_panel_starts_changes_and_stops_traffic_and_shows_totals() {
    use topolab::lab::traffic::Rate;
    use topolab::live::{Observation, RequestTrace};
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    // A launch opens the traffic tab.
    h.get_by_label("▶ Start traffic").click();
    step(&mut h);
    let sent = stub.sent();
    match sent.as_slice() {
        [
            LabCommand::Traffic {
                lab,
                settings: Some(s),
                ..
            },
        ] => {
            assert_eq!(lab, "reference");
            assert_eq!(s.rate, Rate::PerSecond(20.0));
        }
        other => panic!("expected one Traffic command, got {other:?}"),
    }
    let trace = |web: &str, status: u16| RequestTrace {
        status: Some(status),
        latency_ms: 4.0,
        lb: Some(HostName::new("lb-01")),
        web: Some(HostName::new(web)),
        app: Some(HostName::new(web)),
        db: Some(HostName::new("web-02")),
        app_ms: Some(2.0),
        db_ms: Some(1.0),
        ..RequestTrace::new(topolab::live::now(), false, HostName::new("lb-01"))
    };
    stub.events
        .send(LabEvent::Live {
            lab: lab("reference"),
            observations: vec![Observation::Requests(vec![
                trace("web-01", 200),
                trace("web-02", 200),
                trace("web-02", 503),
            ])],
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("sent 3   ok 2   failed 1");
    h.get_by_label_contains("web-01 33.3%");
    // The requests are on the canvas as dots.
    assert!(h.state().lab.live.dots() > 0);
    h.get_by_label("⏹ Stop traffic").click();
    step(&mut h);
    assert!(matches!(
        stub.sent().as_slice(),
        [LabCommand::Traffic { settings: None, .. }]
    ));
}

#[test]
fn a_host_of_a_lab_of_regions_offers_its_regions_faults() {
    use topolab::protocol::RegionFaultKind;
    let (mut h, mut stub) = app("two-regions");
    launched(&mut h, &mut stub);
    stub.sent();
    h.state_mut().selection = Some(Subject::Host(HostName::new("lb-b1")));
    step(&mut h);
    h.get_by_label("Region b:");
    h.get_by_label("partition").click();
    step(&mut h);
    match stub.sent().as_slice() {
        [LabCommand::RegionFault { region, kind, .. }] => {
            assert_eq!(region, "b");
            assert_eq!(*kind, RegionFaultKind::Partition);
        }
        other => panic!("expected one RegionFault, got {other:?}"),
    }
    h.get_by_label("region-outage").click();
    step(&mut h);
    assert!(matches!(
        stub.sent().as_slice(),
        [LabCommand::RegionFault {
            kind: RegionFaultKind::RegionOutage,
            ..
        }]
    ));
    h.get_by_label("✚ Heal region").click();
    step(&mut h);
    match stub.sent().as_slice() {
        [LabCommand::HealRegion { region, .. }] => assert_eq!(region, "b"),
        other => panic!("expected one HealRegion, got {other:?}"),
    }
    // A lab of one region has no region faults.
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    h.state_mut().selection = Some(Subject::Host(HostName::new("web-01")));
    step(&mut h);
    h.get_by_label("kill");
    assert!(h.query_by_label("partition").is_none());
    assert!(h.query_by_label("✚ Heal region").is_none());
}

#[test]
fn faults_and_promotion_go_to_the_lab_with_the_report_first() {
    use topolab::lab::fault::FaultKind;
    use topolab::lab::promote::Assessment;
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    stub.sent();
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-01",
        ComponentKind::Nginx,
    )));
    step(&mut h);
    h.get_by_label("kill").click();
    step(&mut h);
    let id = match stub.sent().as_slice() {
        [
            LabCommand::Fault {
                id, target, kind, ..
            },
        ] => {
            assert_eq!(target, "web-01/nginx");
            assert_eq!(*kind, FaultKind::Kill);
            *id
        }
        other => panic!("expected one Fault, got {other:?}"),
    };
    // A fault that fits only databases is not offered on Nginx.
    assert!(h.query_by_label("stop-replication").is_none());
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Ok("web-01/nginx: SIGKILL".to_owned()),
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("In effect: web-01/nginx kill");
    assert_eq!(h.state().lab.live.incidents.len(), 1);

    // Promotion: the assessment comes first, in a dialog.
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-02",
        ComponentKind::Db,
    )));
    step(&mut h);
    h.get_by_label("⬆ Promote to primary…").click();
    step(&mut h);
    let id = match stub.sent().as_slice() {
        [LabCommand::Assess { id, replica, .. }] => {
            assert_eq!(replica, "web-02");
            *id
        }
        other => panic!("expected one Assess, got {other:?}"),
    };
    h.get_by_label_contains("Asking the replica");
    stub.events
        .send(LabEvent::Assessment {
            id,
            replica: HostName::new("web-02"),
            result: Ok(Assessment {
                replica: HostName::new("web-02"),
                old_primary: HostName::new("web-01"),
                lag_seconds: None,
                received: "0-1-4".to_owned(),
                applied: "0-1-4".to_owned(),
                primary_position: Some("0-1-7".to_owned()),
                missing: Some(3),
                source: "web-01/db's binary log on its volume (the server is down)".to_owned(),
            }),
        })
        .expect("send");
    step(&mut h);
    // The assessment as a table: the loss, and where it is counted from.
    h.get_by_label("3: lost if promoted now");
    h.get_by_label_contains("binary log on its volume");
    assert!(
        !h.get_by_label("Planned switchover")
            .accesskit_node()
            .is_disabled()
    );
    // With the old primary down, a planned switchover cannot happen.
    stub.events
        .send(LabEvent::Live {
            lab: lab("reference"),
            observations: vec![topolab::live::Observation::Container {
                host: HostName::new("web-01"),
                kind: Some(ComponentKind::Db),
                state: topolab::live::RunState::Exited(137),
                at: 5,
            }],
        })
        .expect("send");
    step(&mut h);
    assert!(
        h.get_by_label("Planned switchover")
            .accesskit_node()
            .is_disabled()
    );
    h.get_by_label("Promote, losing 3 write(s)").click();
    step(&mut h);
    assert!(matches!(
        stub.sent().as_slice(),
        [LabCommand::Promote { replica, planned: false, accept_loss: true, .. }] if replica == "web-02"
    ));
    assert!(!matches!(
        h.state().modal,
        Some(topolab::ui::modal::Modal::Promote(_))
    ));
}

#[test]
fn fault_badges_say_what_the_lab_saw_of_each_fault() {
    use topolab::lab::fault::{ActiveFault, FaultKind, Verification};
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    // The lab's record, as sent after a fault from anywhere (the command
    // line included): one verified, one that changed nothing.
    stub.events
        .send(LabEvent::Faults {
            lab: lab("reference"),
            faults: vec![
                ActiveFault {
                    target: "web-01/nginx".parse().expect("target"),
                    kind: FaultKind::Kill,
                    at: 1,
                    check: Verification::Verified(
                        "topolab-reference-web-01-nginx exited (137)".into(),
                    ),
                },
                ActiveFault {
                    target: "web-02/db".parse().expect("target"),
                    kind: FaultKind::ReadOnly,
                    at: 2,
                    check: Verification::NoEffect("web-02/db was read-only already".into()),
                },
            ],
        })
        .expect("send");
    step(&mut h);
    assert_eq!(h.state().lab.live.faults.len(), 2);
    h.state_mut().selection = Some(Subject::Host(HostName::new("web-02")));
    step(&mut h);
    h.get_by_label_contains("web-02/db read-only — NO EFFECT: web-02/db was read-only already");
    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "web-01",
        ComponentKind::Nginx,
    )));
    step(&mut h);
    h.get_by_label_contains("web-01/nginx kill — verified: topolab-reference-web-01-nginx exited");
    // A later record replaces it: healed elsewhere, the badges go.
    stub.events
        .send(LabEvent::Faults {
            lab: lab("reference"),
            faults: Vec::new(),
        })
        .expect("send");
    step(&mut h);
    assert!(h.state().lab.live.faults.is_empty());
    assert!(h.query_by_label_contains("In effect:").is_none());
}

/// The lab's side of scenario `id`: each of `lines`, as the scenario
/// prints them.
fn scenario_lines(stub: &Stub, id: CommandId, lines: &[&str]) {
    for line in lines {
        stub.send(LabEvent::ScenarioLine {
            id,
            line: (*line).to_owned(),
        });
    }
}

/// On a launched lab: Lab → Run scenario → `name`, with what was sent
/// before cleared (the Scenario command is then the only one sent).
fn run_shipped_scenario(h: &mut Harness<'static, TopolabApp>, stub: &mut Stub, name: &str) {
    stub.sent();
    h.get_by_label("Lab").click();
    step(h);
    h.get_by_label("Run scenario").click();
    step(h);
    h.get_by_label(name).click();
    step(h);
}

#[test]
fn a_scenario_with_a_check_not_judged_says_so_instead_of_every_expectation_held() {
    let (mut h, mut stub) = app("small-web");
    launched(&mut h, &mut stub);
    run_shipped_scenario(&mut h, &mut stub, "add-a-server");
    let id = match stub.sent().as_slice() {
        [LabCommand::Scenario { id, .. }] => *id,
        other => panic!("expected one Scenario, got {other:?}"),
    };
    scenario_lines(
        &stub,
        id,
        &[
            "  ✔ with one web server, web-01 ran out of CPU (at 46 req/s: web-01/app at 96%)",
            "  ? the knee with three web servers is at least 2× the knee with one web server: \
             not judged, three web servers is in doubt: the hypervisor took 25% of the \
             machine's CPU during the step at 120 req/s that the ramp's result rests on \
             (measure again when the machine is quieter) (100 against 60 req/s: 1.67×)",
        ],
    );
    stub.send(LabEvent::Finished {
        id,
        result: Ok("scenario add-a-server: 1 expectation(s) held, 1 not judged".to_owned()),
    });
    step(&mut h);
    h.get_by_label(
        "Scenario add-a-server — nothing failed, 1 not judged: the hypervisor spoiled a measurement",
    );
    assert!(
        h.query_by_label_contains("every expectation held")
            .is_none()
    );
    h.get_by_label_contains("? the knee with three web servers");
}

#[test]
fn a_shipped_scenario_runs_from_the_lab_menu_and_shows_its_steps() {
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    run_shipped_scenario(&mut h, &mut stub, "web-server-failure");
    let id = match stub.sent().as_slice() {
        [LabCommand::Scenario { id, lab, source }] => {
            assert_eq!(lab, "reference");
            assert!(source.contains("web-server-failure"));
            *id
        }
        other => panic!("expected one Scenario, got {other:?}"),
    };
    scenario_lines(
        &stub,
        id,
        &[
            "▶ Killing web-01's Nginx.",
            "  ✔ web-01 reported down within 1 s (after 0.108 s)",
        ],
    );
    step(&mut h);
    h.get_by_label_contains("running…");
    // In the Scenario tab, and in the card over the canvas while it runs.
    assert_eq!(
        h.query_all_by_label_contains("Killing web-01's Nginx.")
            .count(),
        2
    );
    h.get_by_label("Scenario web-server-failure — running");
    h.get_by_label_contains("✔ web-01 reported down within 1 s");
    stub.events
        .send(LabEvent::Finished {
            id,
            result: Ok("scenario web-server-failure: 6 expectation(s) held".to_owned()),
        })
        .expect("send");
    step(&mut h);
    h.get_by_label_contains("every expectation held");
    // The card is gone once it finished.
    assert!(
        h.query_by_label("Scenario web-server-failure — running")
            .is_none()
    );
    // The report comes last: drawn (headings without their marks, bold
    // without stars), and saved as the Markdown it is.
    scenario_lines(
        &stub,
        id,
        &[
            "# Lab report: web-server-failure",
            "",
            "## Stopwatch",
            "- failed requests: **0** of 120",
        ],
    );
    step(&mut h);
    h.get_by_label("Lab report: web-server-failure");
    h.get_by_label("Stopwatch");
    h.get_by_label("0");
    assert!(h.query_by_label_contains("**").is_none());
    let dir = tempfile::tempdir().expect("dir");
    h.get_by_label("Save report…").click();
    step(&mut h);
    h.get_by_label_contains("topolab/reference-report.md");
    let file = dir.path().join("reports/failure.md");
    answer_path_field(&mut h, &dir.path().join("reports/failure"), |_| {
        file.exists()
    });
    let saved = std::fs::read_to_string(&file).expect("report saved with .md");
    assert_eq!(
        saved,
        "# Lab report: web-server-failure\n\n## Stopwatch\n- failed requests: **0** of 120\n"
    );
    step(&mut h);
    h.get_by_label_contains("wrote the report to");
}

#[test]
fn a_lab_found_with_a_damaged_state_file_says_why_it_cannot_be_attached() {
    use topolab::protocol::FoundLab;
    let (mut h, stub) = app("reference");
    let why =
        "lab state /data/labs/broken/state.json is damaged: expected value at line 1 column 1";
    stub.events
        .send(LabEvent::Found(vec![FoundLab {
            lab: lab("broken"),
            topology: None,
            entry_points: Vec::new(),
            vip_ports: Vec::new(),
            faults: Vec::new(),
            state_error: Some(why.to_owned()),
        }]))
        .expect("send");
    step(&mut h);
    assert_eq!(
        h.state().lab.found[0].state_error.as_deref(),
        Some(why),
        "the app keeps the reason"
    );
    h.get_by_label("Labs already running");
    h.get_by_label(&format!("Cannot attach: {why}"));
    // Without its state, it can be removed but not attached.
    assert!(h.get_by_label("Attach").accesskit_node().is_disabled());
    h.get_by_label("Remove");
}

/// Every host's box lies inside the canvas.
fn all_hosts_in_view(h: &Harness<'static, TopolabApp>) -> bool {
    let shown = h.state().canvas_on_screen().expect("a canvas");
    !shown.hosts.is_empty()
        && shown
            .hosts
            .iter()
            .all(|(_, r)| shown.rect.contains_rect(*r))
}

#[test]
fn a_loaded_design_fits_the_view_and_fit_brings_it_back() {
    let (mut h, _stub) = app("reference");
    assert!(all_hosts_in_view(&h), "the first design fits");
    h.get_by_label("Presets").click();
    step(&mut h);
    h.get_by_label("scaled").click();
    step(&mut h);
    let shown = h.state().canvas_on_screen().expect("a canvas");
    assert_eq!(shown.hosts.len(), 8);
    assert!(all_hosts_in_view(&h), "scaled fits when loaded");
    // Zoomed in far, the design leaves the view; Fit brings it back.
    for _ in 0..6 {
        h.get_by_label("+").click();
        step(&mut h);
    }
    assert!(!all_hosts_in_view(&h));
    h.get_by_label("⛶ Fit").click();
    step(&mut h);
    assert!(all_hosts_in_view(&h));
}

#[test]
fn zoom_moves_in_steps_and_the_percentage_resets_it() {
    let (mut h, _stub) = app("reference");
    let zoom =
        |h: &Harness<'static, TopolabApp>| h.state().canvas_on_screen().expect("canvas").zoom;
    let before = zoom(&h);
    h.get_by_label("+").click();
    step(&mut h);
    let ratio = zoom(&h) / before;
    assert!((1.1..=1.25).contains(&ratio), "a step of {ratio}");
    h.get_by_label("−").click();
    step(&mut h);
    assert!((zoom(&h) - before).abs() < 1e-3);
    // The indicator shows the zoom and resets it to 100%.
    let label = format!("{:.0}%", before * 100.0);
    h.get_by_label(&label).click();
    step(&mut h);
    assert!((zoom(&h) - 1.0).abs() < 1e-3);
    h.get_by_label("100%");
}

#[test]
fn the_bottom_panel_keeps_its_height_across_tabs_and_maximizes() {
    let (mut h, _stub) = app("reference");
    let shown = |h: &Harness<'static, TopolabApp>| h.state().bottom.shown;
    let chosen = h.state().bottom.height;
    assert!(
        (shown(&h) - chosen).abs() < 1.0,
        "{} vs {chosen}",
        shown(&h)
    );
    // The capacity tab needs more room for its plots ...
    h.get_by_label("Capacity").click();
    step(&mut h);
    assert!(shown(&h) >= 380.0, "{}", shown(&h));
    // ... and the panel goes back to the chosen height after it.
    h.get_by_label_contains("Timeline (").click();
    step(&mut h);
    assert!(
        (shown(&h) - chosen).abs() < 1.0,
        "{} vs {chosen}",
        shown(&h)
    );
    h.get_by_label("Maximize").click();
    step(&mut h);
    assert!(shown(&h) > chosen + 200.0, "{}", shown(&h));
    h.get_by_label("Restore").click();
    step(&mut h);
    assert!(
        (shown(&h) - chosen).abs() < 1.0,
        "{} vs {chosen}",
        shown(&h)
    );
}

#[test]
fn an_edit_while_a_lab_runs_offers_a_relaunch() {
    let (mut h, mut stub) = app("reference");
    let (id, _) = start_launch(&mut h, &mut stub);
    for event in [
        LabEvent::Launched {
            id,
            lab: lab("reference"),
            entry_points: vec![],
            vip_ports: vec![],
            artifacts: Box::new(Artifacts::default()),
        },
        LabEvent::Finished {
            id,
            result: Ok("lab reference is running".to_owned()),
        },
    ] {
        stub.events.send(event).expect("send");
    }
    step(&mut h);
    assert!(!h.state().design_differs());
    assert!(
        h.query_by_label_contains("differs from the running lab")
            .is_none()
    );
    // A new web server is in the design, not in the lab.
    h.get_by_label("+ Web/app server").click();
    step(&mut h);
    assert!(h.state().design_differs());
    // The web server and its place in the load balancer: two changes.
    h.get_by_label("2 changes not applied");
    h.get_by_label_contains("Not in the running lab");
    // Relaunch stops the lab, then launches the design.
    h.get_by_label("⟳ Relaunch").click();
    step(&mut h);
    let stop = stub
        .sent()
        .into_iter()
        .find_map(|c| match c {
            LabCommand::Stop { id, .. } => Some(id),
            _ => None,
        })
        .expect("a stop");
    stub.events
        .send(LabEvent::Finished {
            id: stop,
            result: Ok("lab reference removed".to_owned()),
        })
        .expect("send");
    step(&mut h);
    assert!(
        last_launch(&mut stub).is_some(),
        "the design is launched again"
    );
}

#[test]
fn undo_and_redo_name_the_action() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("+ Web/app server").click();
    step(&mut h);
    assert_eq!(h.state().doc.undo_label(), Some("add host web-03"));
    h.get_by_label("Edit").click();
    step(&mut h);
    h.get_by_label("Undo add host web-03  (Ctrl+Z)").click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().hosts.len(), 3);
    h.get_by_label_contains("undone: add host web-03");
    assert_eq!(h.state().doc.redo_label(), Some("add host web-03"));
    h.get_by_label("Edit").click();
    step(&mut h);
    h.get_by_label("Redo add host web-03  (Ctrl+Shift+Z)")
        .click();
    step(&mut h);
    assert_eq!(h.state().doc.topology().hosts.len(), 4);
}

#[test]
fn the_path_field_proposes_adds_the_extension_makes_the_folder_and_escapes() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label_contains("Save as").click();
    step(&mut h);
    // It proposes a place, selected whole, so typing replaces it.
    h.get_by_label_contains("saves to ");
    h.get_by_label_contains("topolab/reference.ron");
    let typed = dir.path().join("new-folder/mine");
    h.get_by_label("Path")
        .type_text(&typed.display().to_string());
    step(&mut h);
    h.get_by_label_contains("does not exist: OK creates it");
    h.get_by_label("OK").click();
    for _ in 0..20 {
        step(&mut h);
        if dir.path().join("new-folder/mine.ron").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let saved = topolab::preset::load_path(&dir.path().join("new-folder/mine.ron"))
        .expect("saved with .ron in the new folder");
    assert_eq!(saved.name, "reference");
    // Esc cancels the field.
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label_contains("Save as").click();
    step(&mut h);
    h.get_by_label("Path");
    h.key_press(egui::Key::Escape);
    step(&mut h);
    assert!(h.query_by_label("Path").is_none());
}

/// The app as a picture: the reference design in both themes, as designed
/// and with a (stub) lab running with one web server's Nginx down. The
/// images live in tests/snapshots/ (`UPDATE_SNAPSHOTS=1` writes them anew
/// after a change that is meant to look different).
#[test]
fn snapshots_of_the_reference_design_dark() {
    snapshots_of_the_reference_design(true);
}

#[test]
fn snapshots_of_the_reference_design_light() {
    snapshots_of_the_reference_design(false);
}

/// Whether this machine can draw the app into an image (a wgpu adapter: a
/// GPU, or Mesa's software Vulkan); in CI it must.
fn can_render(h: &mut Harness<'static, TopolabApp>) -> bool {
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.render().is_ok()))
        .unwrap_or(false);
    if !rendered {
        assert!(
            std::env::var_os("TOPOLAB_REQUIRE_TOOLS").is_none(),
            "no renderer for the snapshots: install a GPU driver or mesa-vulkan-drivers"
        );
        eprintln!("SKIP snapshots: no GPU or software renderer (Debian: mesa-vulkan-drivers)");
    }
    rendered
}

fn snapshots_of_the_reference_design(dark: bool) {
    use topolab::live::{BackendStatus, Observation, RunState};
    {
        let theme = if dark { "dark" } else { "light" };
        let (mut h, mut stub) = app("reference");
        h.state_mut().dark = dark;
        h.run_steps(4);
        if !can_render(&mut h) {
            return;
        }
        h.snapshot(format!("reference-design-{theme}"));
        launched(&mut h, &mut stub);
        let mut observations = Vec::new();
        for host in ["lb-01", "web-01", "web-02"] {
            for kind in [
                ComponentKind::Lb,
                ComponentKind::Nginx,
                ComponentKind::App,
                ComponentKind::Db,
            ] {
                observations.push(Observation::Container {
                    host: HostName::new(host),
                    kind: Some(kind),
                    state: if host == "web-01" && kind == ComponentKind::Nginx {
                        RunState::Exited(137)
                    } else {
                        RunState::Running
                    },
                    at: 1,
                });
            }
        }
        for (server, status) in [
            ("web-01", BackendStatus::Down),
            ("web-02", BackendStatus::Up),
        ] {
            observations.push(Observation::Backend {
                lb: HostName::new("lb-01"),
                server: HostName::new(server),
                status,
                check: "L4CON".to_owned(),
                at: 2,
            });
        }
        stub.events
            .send(LabEvent::Live {
                lab: lab("reference"),
                observations,
            })
            .expect("send");
        h.run_steps(4);
        h.snapshot(format!("reference-live-{theme}"));
    }
}

#[test]
fn an_export_offers_to_show_its_folder() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label_contains("Export configs").click();
    step(&mut h);
    answer_path_field(&mut h, &dir.path().join("bundles"), |h| {
        h.query_by_label("Show in folder").is_some()
    });
    h.get_by_label_contains("exported the configs to");
    h.get_by_label("Show in folder");
    assert!(
        dir.path()
            .join("bundles/reference/docker-compose.yml")
            .is_file()
    );
}

#[test]
fn a_kubernetes_export_writes_manifests_or_says_why_it_cannot() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label_contains("Export for Kubernetes").click();
    step(&mut h);
    answer_path_field(&mut h, &dir.path().join("bundles"), |h| {
        h.query_by_label("Show in folder").is_some()
    });
    let manifests = dir.path().join("bundles/reference-kubernetes");
    assert!(manifests.join("kustomization.yaml").is_file());
    assert!(manifests.join("lb-01.yaml").is_file());

    // A design with a virtual IP cannot run on a cluster: the status bar
    // says why and nothing is written.
    let (mut h, _stub) = app("vip");
    h.get_by_label("File").click();
    step(&mut h);
    h.get_by_label_contains("Export for Kubernetes").click();
    step(&mut h);
    answer_path_field(&mut h, &dir.path().join("bundles"), |h| {
        h.query_by_label_contains("export failed").is_some()
    });
    h.get_by_label_contains("virtual IP");
    assert!(!dir.path().join("bundles/vip-kubernetes").exists());
}

#[test]
fn the_diagram_is_exported_as_svg_and_png() {
    let (mut h, _stub) = app("reference");
    let dir = tempfile::tempdir().expect("dir");
    for (item, typed, written) in [
        (
            "Export diagram as SVG",
            "slides/reference",
            "slides/reference.svg",
        ),
        (
            "Export diagram as PNG",
            "slides/reference",
            "slides/reference.png",
        ),
    ] {
        h.get_by_label("File").click();
        step(&mut h);
        h.get_by_label_contains(item).click();
        step(&mut h);
        // It proposes a file named after the design, in the format asked.
        let ext = &written[written.len() - 3..];
        h.get_by_label_contains(&format!("topolab/reference.{ext}"));
        // Typed without an extension: the format's is added.
        let file = dir.path().join(written);
        answer_path_field(&mut h, &dir.path().join(typed), |_| file.exists());
        h.get_by_label_contains("wrote the diagram to");
        h.get_by_label("Show in folder");
        let bytes = std::fs::read(dir.path().join(written)).expect("written");
        match ext {
            "svg" => assert!(String::from_utf8_lossy(&bytes).contains(">web-02<")),
            _ => assert_eq!(&bytes[1..4], b"PNG"),
        }
    }
}

#[test]
fn a_link_under_the_pointer_says_what_it_is() {
    let (mut h, _stub) = app("reference");
    step(&mut h);
    let at = |h: &Harness<'static, TopolabApp>, host: &str, kind: ComponentKind| {
        let id = ComponentId::new(HostName::new(host), kind);
        h.state().canvas_at(&Subject::Component(id)).expect("drawn")
    };
    // Halfway along lb-01 -> web-02 and along web-01's db -> web-02's db.
    let backend =
        at(&h, "lb-01", ComponentKind::Lb).lerp(at(&h, "web-02", ComponentKind::Nginx), 0.5);
    let replication =
        at(&h, "web-01", ComponentKind::Db).lerp(at(&h, "web-02", ComponentKind::Db), 0.5);
    let app = h.state();
    let text = app.link_tooltip(backend).expect("a link there");
    assert!(text.starts_with("lb-01/lb -> web-02/nginx:"), "{text}");
    assert!(text.contains("weight 100"), "{text}");
    let text = app.link_tooltip(replication).expect("replication there");
    assert!(text.contains("asynchronous replication"), "{text}");
    // Far from every line: nothing.
    assert!(
        app.link_tooltip(backend + egui::vec2(0.0, -400.0))
            .is_none()
    );
}

#[test]
fn the_unsaved_prompt_names_a_promotions_change_to_the_design() {
    let (mut h, mut stub) = app("reference");
    launched(&mut h, &mut stub);
    assert!(!h.state().doc.dirty);
    // After a scenario the lab says its roles; unchanged, and with a
    // description of its own, they change nothing in the design.
    let mut same = h.state().doc.topology().clone();
    same.description = "the lab's copy".to_owned();
    stub.events
        .send(LabEvent::Roles {
            lab: lab("reference"),
            topology: Box::new(same),
        })
        .expect("send");
    step(&mut h);
    assert!(!h.state().doc.dirty);
    assert_ne!(h.state().doc.topology().description, "the lab's copy");
    // The lab promoted web-02: the design follows it.
    let mut promoted = h.state().doc.topology().clone();
    for host in &mut promoted.hosts {
        let new_primary = host.name.as_str() == "web-02";
        if let Some(db) = host.database_mut() {
            db.role = if new_primary {
                topolab::model::Role::Primary
            } else {
                topolab::model::Role::Replica {
                    of: HostName::new("web-02"),
                }
            };
        }
    }
    stub.events
        .send(LabEvent::Roles {
            lab: lab("reference"),
            topology: Box::new(promoted),
        })
        .expect("send");
    step(&mut h);
    assert!(h.state().doc.dirty);
    h.get_by_label("Presets").click();
    step(&mut h);
    h.get_by_label("scaled").click();
    step(&mut h);
    h.get_by_label("Since the last save: promotion.");
    h.get_by_label_contains("saving keeps the promoted replica as the primary");
    h.get_by_label("Cancel").click();
    step(&mut h);
}

/// The palette adds a DNS server; its inspector sets the records' TTL and
/// whether they are health-checked, which the generated zone follows; the
/// review's DNS fix adds the second server.
#[test]
fn a_dns_server_from_the_palette_and_its_records_in_the_inspector() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("Fix: Add a DNS server").click();
    step(&mut h);
    let t = h.state().doc.topology();
    let dns = t.host(&HostName::new("dns-01")).expect("added by the fix");
    assert!(dns.has(ComponentKind::Dns));
    assert!(
        h.state()
            .findings()
            .iter()
            .any(|f| f.id == "spof-dns" && f.title.contains("dns-01/dns"))
    );
    h.get_by_label("+ DNS server").click();
    step(&mut h);
    assert!(
        h.state()
            .doc
            .topology()
            .host(&HostName::new("dns-02"))
            .is_some()
    );
    assert!(!h.state().findings().iter().any(|f| f.id == "spof-dns"));

    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "dns-02",
        ComponentKind::Dns,
    )));
    step(&mut h);
    h.get_by_label("Health-checked records").click();
    step(&mut h);
    let t = h.state().doc.topology();
    assert!(t.dns.health_checked);
    let zone = topolab::generate::generate(
        t,
        &topolab::generate::Settings::for_topology(t),
        &support::fixed_secrets(),
    )
    .expect("valid")
    .get("dns-01/zone")
    .expect("zone")
    .to_owned();
    assert!(zone.contains("IN LUA A \"ifportup(80"), "{zone}");
    // Undo takes the checkbox back.
    h.state_mut().doc.undo();
    step(&mut h);
    assert!(!h.state().doc.topology().dns.health_checked);
}

/// The review's fix for the single load balancer adds a second one sharing
/// a virtual IP with it; the inspector's "share" box takes one out of the
/// address (and the design is invalid until the other leaves it too), and
/// undo puts it back.
#[test]
fn the_load_balancer_fix_shares_a_virtual_ip_and_the_inspector_edits_it() {
    let (mut h, _stub) = app("reference");
    h.get_by_label("Fix: Share a virtual IP between two load balancers")
        .click();
    step(&mut h);
    let vips = h.state().doc.topology().vips();
    assert_eq!(vips.len(), 1);
    let members: Vec<&str> = vips[0].members.iter().map(|m| m.as_str()).collect();
    assert_eq!(members, ["lb-01", "lb-02"]);
    assert!(
        !h.state()
            .findings()
            .iter()
            .any(|f| f.id == "spof-load-balancer" || f.id == "entry-without-failover")
    );

    h.state_mut().selection = Some(Subject::Component(ComponentId::new(
        "lb-02",
        ComponentKind::Lb,
    )));
    step(&mut h);
    h.get_by_label("share").click();
    step(&mut h);
    let t = h.state().doc.topology();
    assert_eq!(
        t.host(&HostName::new("lb-02"))
            .and_then(|h| h.load_balancer())
            .and_then(|lb| lb.vip),
        None
    );
    assert!(
        topolab::model::validate(t).iter().any(|p| p
            .to_string()
            .contains("vip .220 has no other load balancer")),
        "lb-01 alone keeps the address"
    );
    h.state_mut().doc.undo();
    step(&mut h);
    assert_eq!(h.state().doc.topology().vips()[0].members.len(), 2);
}

/// A ramp's step set aside (the hypervisor took the machine, so its rate
/// was measured again) is listed with why, and the step that replaced it
/// decides the verdict.
#[test]
fn the_capacity_tab_lists_a_step_set_aside_with_its_reason() {
    let (mut h, mut stub) = support::stub::running();
    h.get_by_label("Capacity").click();
    step(&mut h);
    h.get_by_label("▶ Ramp").click();
    step(&mut h);
    let id = stub.sent_id("capacity", |c| matches!(c, LabCommand::Capacity { .. }));
    let measured = |p95_ms: f64, stolen: f64, set_aside: bool| {
        let mut s = topolab::capacity::Step::from_traces(200.0, 5.0, &[]);
        s.answered = 200.0;
        s.requests = 1000;
        s.p95_ms = p95_ms;
        s.stolen = Some(stolen);
        s.set_aside = set_aside;
        LabEvent::CapacityStep {
            id,
            step: Box::new(s),
            bottleneck: "web-01/app at 99% of its host's 0.5 CPU".to_owned(),
        }
    };
    stub.send(measured(140.0, 0.12, true));
    stub.send(measured(20.0, 0.01, false));
    step(&mut h);
    h.get_by_label(
        "p95 140.0 ms (target 50 ms); set aside, measured again: the hypervisor took 12% of the machine's CPU",
    );
    assert_eq!(h.query_all_by_label("served").count(), 1);
}
