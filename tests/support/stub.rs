//! The desktop app on a stub lab channel played by the test (no Docker),
//! for the kittest UI tests.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use topolab::generate::Artifacts;
use topolab::model::Topology;
use topolab::preset::Preset;
use topolab::protocol::{CommandId, LabCommand, LabEvent, LabName};
use topolab::ui::{Intent, LabLink, TopolabApp};

/// The lab's side of the app's channel.
pub struct Stub {
    /// What the app sent.
    pub commands: tokio::sync::mpsc::UnboundedReceiver<LabCommand>,
    /// Where the test answers as the lab.
    pub events: std::sync::mpsc::Sender<LabEvent>,
}

impl Stub {
    /// The commands the app sent since the last call.
    pub fn sent(&mut self) -> Vec<LabCommand> {
        let mut out = Vec::new();
        while let Ok(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }

    /// The id of the first command the app sent since the last call that
    /// `is` accepts (`what` names it when there is none).
    pub fn sent_id(&mut self, what: &str, is: impl Fn(&LabCommand) -> bool) -> CommandId {
        self.sent()
            .into_iter()
            .find_map(|c| is(&c).then(|| c.id()))
            .unwrap_or_else(|| panic!("the app sent no {what}"))
    }

    /// Answers the app as the lab.
    pub fn send(&self, event: LabEvent) {
        self.events.send(event).expect("send");
    }
}

/// The app with `topology` in a 1400×900 window, three frames in, on a
/// stub lab.
pub fn app_on_stub(topology: Topology) -> (Harness<'static, TopolabApp>, Stub) {
    let (commands_tx, commands) = tokio::sync::mpsc::unbounded_channel();
    let (events, events_rx) = std::sync::mpsc::channel();
    let app = TopolabApp::new(
        topology,
        LabLink {
            commands: commands_tx,
            events: events_rx,
        },
        None,
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut TopolabApp| app.show(ui), app);
    harness.run_steps(3);
    (harness, Stub { commands, events })
}

/// Replaces the design with `f` applied to it, as one undoable edit.
pub fn edit(h: &mut Harness<'static, TopolabApp>, key: &str, f: impl FnOnce(&mut Topology)) {
    let mut t = h.state().doc.topology().clone();
    f(&mut t);
    let ctx = h.ctx.clone();
    h.state_mut().run(
        Intent::Edit {
            key: key.to_owned(),
            topology: Box::new(t),
        },
        &ctx,
    );
}

/// The lab's name in [`running`].
pub fn lab() -> LabName {
    "reference".parse().expect("a lab name")
}

/// The reference preset.
pub fn reference() -> Topology {
    Preset::find("reference")
        .and_then(|p| p.topology().ok())
        .expect("reference")
}

/// Three frames.
pub fn step(h: &mut Harness<'static, TopolabApp>) {
    h.run_steps(3);
}

/// The app with the reference design, launched as lab `reference` on the
/// stub.
pub fn running() -> (Harness<'static, TopolabApp>, Stub) {
    let (mut h, mut stub) = app_on_stub(reference());
    stub.send(LabEvent::Engine(Ok(())));
    step(&mut h);
    h.get_by_label("▶ Launch").click();
    step(&mut h);
    let id = stub.sent_id("launch", |c| matches!(c, LabCommand::Launch { .. }));
    stub.send(LabEvent::Launched {
        id,
        lab: lab(),
        entry_points: vec![],
        vip_ports: vec![],
        artifacts: Box::new(Artifacts::default()),
    });
    stub.send(LabEvent::Finished {
        id,
        result: Ok("lab reference is running".to_owned()),
    });
    step(&mut h);
    assert!(h.state().lab.running.is_some());
    (h, stub)
}
