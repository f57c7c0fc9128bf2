//! The app analyses the design (validation, design review, generated
//! preview) on a worker thread: a frame never waits for it, a stale result
//! never shows, and dragging hosts on the canvas starts no analysis.

mod support;

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use support::stub::edit;
use topolab::model::{HostName, Position, Topology};
use topolab::ui::{LabLink, TopolabApp};

fn app(topology: Topology) -> Harness<'static, TopolabApp> {
    let (commands, _commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (_events_tx, events) = std::sync::mpsc::channel();
    let mut app = TopolabApp::new(topology, LabLink { commands, events }, None);
    app.analyse_in_background();
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut TopolabApp| app.show(ui), app)
}

/// Runs frames until the analysis of the current design is shown. Bounded,
/// so that a worker that never answers fails the test instead of hanging.
fn settle(h: &mut Harness<'static, TopolabApp>) {
    for _ in 0..2000 {
        h.step();
        if !h.state().analysis_pending() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the analysis never arrived");
}

fn move_host(h: &mut Harness<'static, TopolabApp>, host: &str, x: f32) {
    let name = HostName::new(host);
    edit(h, &format!("move {host}"), |t| {
        if let Some(hst) = t.host_mut(&name) {
            hst.position = Some(Position { x, y: 200.0 });
        }
    });
}

fn reference() -> Topology {
    topolab::preset::Preset::find("reference")
        .and_then(|p| p.topology().ok())
        .expect("reference")
}

#[test]
fn edits_are_analysed_off_the_ui_thread_and_shown_when_ready() {
    let mut h = app(reference());
    settle(&mut h);
    assert_eq!(h.state().problems(), &[]);
    assert!(!h.state().findings().is_empty());
    let started = h.state().analyses_started();

    // Break the design: the problem shows once the worker has answered.
    edit(&mut h, "domain", |t| t.domain = "Bad..example".to_owned());
    h.step();
    settle(&mut h);
    assert_eq!(h.state().analyses_started(), started + 1);
    assert!(
        h.state()
            .problems()
            .iter()
            .any(|p| p.message.contains("domain")),
        "{:?}",
        h.state().problems()
    );
    assert!(h.state().preview().is_none());

    // Two edits in a row: what shows is the newest design's analysis.
    edit(&mut h, "domain", |t| t.domain = "Worse..example".to_owned());
    h.step();
    edit(&mut h, "domain", |t| t.domain = "example.org".to_owned());
    settle(&mut h);
    assert_eq!(h.state().problems(), &[]);
    let nginx = h
        .state()
        .preview()
        .and_then(|a| a.get("web-01/nginx.conf"))
        .unwrap_or_default()
        .to_owned();
    assert!(nginx.contains("example.org"), "{nginx}");
}

#[test]
fn dragging_a_host_starts_no_analysis() {
    let mut h = app(topolab::ui::generated_topology(60));
    settle(&mut h);
    let started = h.state().analyses_started();
    let findings = h.state().findings().to_vec();
    let mut frames = Vec::new();
    for step in 0..120 {
        move_host(&mut h, "web-07", 100.0 + step as f32);
        let t0 = Instant::now();
        h.step();
        frames.push(t0.elapsed());
        assert!(!h.state().analysis_pending());
    }
    assert_eq!(h.state().analyses_started(), started);
    assert_eq!(h.state().findings(), findings.as_slice());
    let position = h
        .state()
        .doc
        .topology()
        .host(&HostName::new("web-07"))
        .and_then(|w| w.position);
    assert_eq!(position, Some(Position { x: 219.0, y: 200.0 }));
    // For the record (not asserted: tests never judge wall-clock time).
    frames.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "dragging a host of 60, headless frame (ui + layout): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(frames[frames.len() / 2]),
        ms(frames[frames.len() * 95 / 100]),
        ms(frames[frames.len() - 1])
    );
}
