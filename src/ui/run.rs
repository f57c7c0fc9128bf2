//! Applying what the user asked for: [`TopolabApp::run`] takes each
//! [`Intent`] a frame collected, asks first when it would drop unsaved
//! changes, then edits the document, starts file work or sends the lab a
//! command ([`TopolabApp::send_to_lab`]: one id, one command, recorded).

use std::path::PathBuf;

use crate::model::{
    ComponentId, FixAction, HostName, HostTemplate, Subject, Topology, add_host, delete_component,
    delete_host, validate,
};
use crate::preset::Preset;
use crate::protocol::{CommandId, FaultKind, LabCommand, LabName, Phase, Rate, TrafficSettings};

use super::app::{Tab, TopolabApp};
use super::canvas::ViewRequest;
use super::files::PathPurpose;
use super::intent::Intent;
use super::lab_view::{CapacityRun, Launching, Running, ScenarioRun};
use super::modal::{Modal, PromoteDialog};

impl TopolabApp {
    /// Applies one intent. Actions that would drop unsaved changes ask first.
    pub fn run(&mut self, intent: Intent, ctx: &egui::Context) {
        let discards = matches!(
            intent,
            Intent::New | Intent::Preset(_) | Intent::Open(_) | Intent::Attach(_) | Intent::Quit
        );
        if discards && self.doc.dirty && !std::mem::take(&mut self.followups.discard_confirmed) {
            self.open_modal(Modal::Unsaved(intent));
            return;
        }
        match intent {
            Intent::Select(s) => self.selection = s,
            Intent::Edit { key, topology } => self.doc.edit(&key, *topology),
            Intent::AddHost(template) => self.add_host(template),
            Intent::DeleteSelected => self.delete_selected(),
            Intent::Undo => {
                if let Some(what) = self.doc.undo() {
                    self.say(format!("undone: {what}"), false);
                }
            }
            Intent::Redo => {
                if let Some(what) = self.doc.redo() {
                    self.say(format!("redone: {what}"), false);
                }
            }
            Intent::Fix(action) => self.fix(action),
            Intent::New => self.replace_design(Topology::new("untitled")),
            Intent::Preset(name) => self.load_preset(name),
            Intent::OpenDialog => self.file_dialog(PathPurpose::Open, ctx),
            Intent::Open(path) => self.open(path),
            Intent::Save => match self.doc.path.clone() {
                Some(path) => self.save_to(path),
                None => self.file_dialog(PathPurpose::Save, ctx),
            },
            Intent::SaveAsDialog => self.file_dialog(PathPurpose::Save, ctx),
            Intent::SaveTo(path) => self.save_to(path),
            Intent::ExportDialog(to) => self.file_dialog(PathPurpose::Export(to), ctx),
            Intent::ExportTo(dir, to) => self.files.export(self.doc.topology().clone(), dir, to),
            Intent::DiagramDialog(format) => self.file_dialog(PathPurpose::Diagram(format), ctx),
            Intent::ReportDialog(text) => {
                self.followups.report = Some(text);
                self.file_dialog(PathPurpose::Report, ctx);
            }
            Intent::ReportTo(path) => {
                if let Some(text) = self.followups.report.take() {
                    self.files.report(text, path);
                }
            }
            Intent::DiagramTo(path, format) => {
                self.files
                    .diagram(self.doc.topology().clone(), path, format)
            }
            Intent::ShowFolder(folder) => {
                // The desktop's own opener; started, not waited for.
                let opened = std::process::Command::new("xdg-open")
                    .arg(&folder)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
                match opened {
                    // Reaped when it ends, off the UI thread.
                    Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
                    Err(e) => {
                        self.say(
                            format!("cannot open {}: xdg-open: {e}", folder.display()),
                            true,
                        );
                    }
                }
            }
            Intent::Launch => self.launch(false),
            Intent::Relaunch => {
                self.followups.launch_after_stop = true;
                self.stop();
            }
            Intent::ApplyDialog => self.open_apply_dialog(),
            Intent::Apply { topology, yes } => self.apply(topology, yes),
            Intent::DeployDialog => self.open_deploy(),
            Intent::Deploy {
                request,
                max_error_percent,
            } => self.deploy(request, max_error_percent),
            Intent::CloseDeploy => {
                if let Some(d) = self.deploy.as_mut() {
                    d.shown = false;
                }
            }
            Intent::BuildImagesAndLaunch => {
                self.close_modal_if(|m| matches!(m, Modal::BuildImages { .. }));
                self.launch(true);
            }
            Intent::Cancel => {
                if self.lab.launching.is_some() {
                    self.cancel_launch();
                } else {
                    self.cancel_apply();
                }
            }
            Intent::Stop => self.stop(),
            Intent::Attach(lab) => self.attach(lab),
            Intent::Remove(lab) => self.remove(lab),
            Intent::Traffic(settings) => self.traffic(settings),
            Intent::CheckData => self.check_data(),
            Intent::HistoryDialog => self.file_dialog(PathPurpose::History, ctx),
            Intent::HistoryTo(path) => {
                let history = self.lab.live.history().to_vec();
                self.files.history(history, path);
            }
            Intent::Logs(component) => self.logs(component),
            Intent::Fault(target, kind) => self.fault(target, kind),
            Intent::Heal(target) => self.heal(target),
            Intent::RegionFault(region, kind) => {
                let sent = self.send_to_lab(|lab, id| LabCommand::RegionFault {
                    id,
                    lab,
                    region: region.clone(),
                    kind,
                });
                if sent.is_some() {
                    self.note(format!("region {region}: {}…", kind.describe()), false);
                }
            }
            Intent::HealRegion(region) => {
                if self
                    .send_to_lab(|lab, id| LabCommand::HealRegion {
                        id,
                        lab,
                        region: region.clone(),
                    })
                    .is_some()
                {
                    self.note(format!("healing region {region}…"), false);
                }
            }
            Intent::Assess(replica) => self.assess(replica),
            Intent::Promote {
                replica,
                planned,
                accept_loss,
            } => self.promote(replica, planned, accept_loss),
            Intent::ClosePromote => self.close_modal_if(|m| matches!(m, Modal::Promote(_))),
            Intent::Scenario(name) => self.scenario(name),
            Intent::Capacity(start) => self.capacity(start),
            Intent::View(request) => self.canvas.request(request),
            Intent::Legend(open) => {
                self.legend_open = open;
                self.keep_settings();
            }
            Intent::Theme(dark) => {
                // `show` applies it.
                self.dark = dark;
                self.keep_settings();
            }
            Intent::MaximizeBottom(on) => self.bottom.maximized = on,
            Intent::Help(topic) => self.help = topic,
            Intent::Quit => {
                self.followups.quit_confirmed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    /// Sends the running lab the command `make` builds with a new id; the
    /// id once sent (None: no lab runs, or the lab's runtime has stopped).
    pub(super) fn send_to_lab(
        &mut self,
        make: impl FnOnce(LabName, CommandId) -> LabCommand,
    ) -> Option<CommandId> {
        let lab = self.running_lab()?;
        let id = self.next_id();
        self.send(make(lab, id)).then_some(id)
    }

    // The design.

    fn add_host(&mut self, template: HostTemplate) {
        let mut t = self.doc.topology().clone();
        let name = add_host(&mut t, template);
        self.doc.edit(&format!("add host {name}"), t);
        // Where the tiers put it may be outside the view.
        self.canvas
            .request(ViewRequest::Reveal(Subject::Host(name.clone())));
        self.selection = Some(Subject::Host(name));
    }

    fn delete_selected(&mut self) {
        match self.selection.take() {
            Some(Subject::Host(h)) => self
                .doc
                .modify(&format!("delete {h}"), |t| delete_host(t, &h)),
            Some(Subject::Component(c)) => {
                self.doc.modify(&format!("delete {c}"), |t| {
                    delete_component(t, &c.host, c.kind)
                });
            }
            None => {}
        }
    }

    fn fix(&mut self, action: FixAction) {
        let mut t = self.doc.topology().clone();
        if action.apply(&mut t) {
            self.doc.edit(&format!("fix: {}", action.label()), t);
            self.say(format!("applied: {}", action.label()), false);
        }
    }

    /// A new document with `t`, nothing selected.
    fn replace_design(&mut self, t: Topology) {
        self.doc.replace(t, None);
        self.selection = None;
    }

    fn load_preset(&mut self, name: &str) {
        if let Some(t) = Preset::find(name).and_then(|p| p.topology().ok()) {
            self.replace_design(t);
            self.say(format!("loaded preset {name}"), false);
        }
    }

    // Files.

    /// Asks where, with the system's dialog or, where there is none, the
    /// path field.
    fn file_dialog(&mut self, purpose: PathPurpose, ctx: &egui::Context) {
        let design = self.doc.topology().name.clone();
        if !self.files.dialog(purpose, ctx, design) {
            self.open_modal(Modal::PathField {
                purpose,
                text: super::modal::proposed_path(purpose, &self.doc.topology().name),
            });
        }
    }

    fn save_to(&mut self, path: PathBuf) {
        let topology = self.doc.topology().clone();
        self.files.save(topology, self.doc.revision(), path);
    }

    // The lab.

    /// Launches the design; `build_images` builds the lab's images first
    /// when they are missing.
    fn launch(&mut self, build_images: bool) {
        if self.lab.launching.is_some() || self.lab.running.is_some() {
            self.say("a lab is already running: stop it first".to_owned(), true);
            return;
        }
        // The shown problems may be a frame behind the design: check it now
        // (validation is linear and quick; the review is not needed).
        if !validate(self.doc.topology()).is_empty() {
            self.say(
                "fix the problems first: an invalid design cannot run".to_owned(),
                true,
            );
            self.tab = Tab::Review;
            return;
        }
        let topology = self.doc.topology().clone();
        let lab: LabName = match topology.name.parse() {
            Ok(l) => l,
            Err(why) => {
                self.say(format!("cannot launch: {why}"), true);
                return;
            }
        };
        let expected = Phase::of(&topology).len();
        let id = self.next_id();
        let topology = Box::new(topology);
        let sent = self.send(LabCommand::Launch {
            id,
            lab: lab.clone(),
            topology: topology.clone(),
            build_images,
        });
        if sent {
            // The timeline counts from this launch.
            self.lab.origin = crate::live::now();
            self.lab.launching = Some(Launching {
                id,
                lab: lab.clone(),
                done: Vec::new(),
                expected,
                building_images: build_images,
                topology,
            });
            self.tab = Tab::Timeline;
            self.note(format!("launching lab {lab}…"), false);
        }
    }

    fn cancel_launch(&mut self) {
        if let Some(l) = &self.lab.launching {
            let launch = l.id;
            if self.send(LabCommand::Cancel { launch }) {
                self.note("cancelling the launch…", false);
            }
        }
    }

    fn stop(&mut self) {
        let Some(lab) = self.running_lab() else {
            return;
        };
        if let Some(id) = self.send_to_lab(|lab, id| LabCommand::Stop { id, lab }) {
            self.lab.stopping = Some(id);
            self.note(format!("stopping lab {lab}…"), false);
        }
    }

    /// Shows a lab found running here: its topology, entry points and
    /// faults, and watches it.
    fn attach(&mut self, lab: LabName) {
        if self.lab.launching.is_some() || self.lab.running.is_some() {
            self.say(
                "stop the lab shown here before attaching to another".to_owned(),
                true,
            );
            return;
        }
        let Some(pos) = self.lab.found.iter().position(|f| f.lab == lab) else {
            return;
        };
        let found = self.lab.found.remove(pos);
        if let Some(t) = &found.topology {
            self.replace_design((**t).clone());
        }
        self.lab.running = Some(Running {
            lab: found.lab.clone(),
            entry_points: found.entry_points,
            vip_ports: found.vip_ports,
            artifacts: None,
            topology: found.topology,
        });
        self.reset_live();
        self.lab.origin = crate::live::now();
        // Faults injected from the command line show too.
        self.lab.live.set_faults(&found.faults);
        self.tab = Tab::Traffic;
        self.send_to_lab(|lab, id| LabCommand::Watch { id, lab });
        self.note(format!("attached to lab {}", found.lab), false);
    }

    /// Removes a lab found running (not the one shown).
    fn remove(&mut self, lab: LabName) {
        let id = self.next_id();
        if self.send(LabCommand::Stop {
            id,
            lab: lab.clone(),
        }) {
            self.lab.found.retain(|f| f.lab != lab);
            self.note(format!("removing lab {lab}…"), false);
        }
    }

    fn traffic(&mut self, settings: Option<TrafficSettings>) {
        if self.lab.running.is_none() {
            return;
        }
        let live = &mut self.lab.live;
        if settings.is_some() && !live.traffic_on {
            live.state.reset_totals();
        }
        if let Some(s) = settings {
            if let Rate::PerSecond(r) = s.rate {
                live.rate = r;
            }
            live.writes = s.writes_percent;
            live.read_back = s.read_back;
        }
        if self
            .send_to_lab(|lab, id| LabCommand::Traffic { id, lab, settings })
            .is_some()
        {
            self.lab.live.traffic_on = settings.is_some();
        }
    }

    /// Asks the lab what every database holds; the check follows when it
    /// answers.
    fn check_data(&mut self) {
        if let Some(id) = self.send_to_lab(|lab, id| LabCommand::CheckData { id, lab }) {
            self.lab.live.requested_check(id);
            self.note("reading every database to check the data…", false);
        }
    }

    fn logs(&mut self, component: ComponentId) {
        self.send_to_lab(|lab, id| LabCommand::Logs { id, lab, component });
    }

    fn fault(&mut self, target: Subject, kind: FaultKind) {
        let sent = self.send_to_lab(|lab, id| LabCommand::Fault {
            id,
            lab,
            target: target.clone(),
            kind,
        });
        if let Some(id) = sent {
            self.lab.live.requested_fault(id, target, kind);
        }
    }

    fn heal(&mut self, target: Option<Subject>) {
        let sent = self.send_to_lab(|lab, id| LabCommand::Heal {
            id,
            lab,
            target: target.clone(),
        });
        if let Some(id) = sent {
            self.lab.live.requested_heal(id, target);
        }
    }

    /// Asks what promoting `replica` would cost, in the promotion dialog.
    fn assess(&mut self, replica: HostName) {
        let sent = self.send_to_lab(|lab, id| LabCommand::Assess {
            id,
            lab,
            replica: replica.clone(),
        });
        if let Some(id) = sent {
            self.open_modal(Modal::Promote(PromoteDialog {
                id,
                replica,
                assessment: None,
                primary_down: false,
            }));
        }
    }

    fn promote(&mut self, replica: HostName, planned: bool, accept_loss: bool) {
        // The loss the dialog predicted, for the check to compare with.
        let predicted = match &self.modal {
            Some(Modal::Promote(d)) => match &d.assessment {
                Some(Ok(a)) if a.replica == replica => Some(a.missing),
                _ => None,
            },
            _ => None,
        };
        self.close_modal_if(|m| matches!(m, Modal::Promote(_)));
        let sent = self.send_to_lab(|lab, id| LabCommand::Promote {
            id,
            lab,
            replica: replica.clone(),
            planned,
            accept_loss,
        });
        if let Some(id) = sent {
            self.lab
                .live
                .requested_promotion(id, &replica, planned, predicted);
            self.note(format!("promoting {replica}/db…"), false);
        }
    }

    /// Starts a capacity ramp on the lab with the tab's target and mix, or
    /// stops the one running.
    fn capacity(&mut self, start: bool) {
        if !start {
            if let Some(run) = &self.lab.live.capacity
                && run.outcome.is_none()
            {
                let id = run.id;
                self.send(LabCommand::Cancel { launch: id });
            }
            return;
        }
        let (p95_ms, writes_percent) = (self.lab.live.capacity_p95_ms, self.lab.live.writes);
        let sent = self.send_to_lab(|lab, id| LabCommand::Capacity {
            id,
            lab,
            p95_ms,
            writes_percent,
        });
        if let Some(id) = sent {
            self.lab.live.capacity = Some(CapacityRun {
                id,
                p95_ms,
                steps: Vec::new(),
                outcome: None,
            });
            self.tab = Tab::Capacity;
        }
    }

    /// Runs the shipped scenario `name` on the lab, in the scenario tab.
    fn scenario(&mut self, name: &str) {
        let Some(shipped) = crate::scenario::SHIPPED.iter().find(|s| s.name == name) else {
            return;
        };
        let sent = self.send_to_lab(|lab, id| LabCommand::Scenario {
            id,
            lab,
            source: shipped.source.to_owned(),
        });
        if let Some(id) = sent {
            self.lab.live.scenario = Some(ScenarioRun {
                id,
                name: shipped.name.to_owned(),
                lines: Vec::new(),
                passed: None,
            });
            self.tab = Tab::Scenario;
        }
    }
}
