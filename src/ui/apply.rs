//! Applying the design to the running lab: the changes it would make
//! (planned by [`crate::change::plan`] once per design revision and running
//! topology, never on every frame), the bar over the canvas that counts
//! them, the apply dialog and the command, and the apply's progress as it
//! arrives: a timeline entry and a stopwatch incident per action.

use egui::RichText;

use crate::change::{self, ChangeError, ChangePlan, Record, Step};
use crate::model::{HostName, Topology};
use crate::protocol::{ApplyProgress, CommandId, EntryPoint, LabCommand, LabName};

use super::app::{Tab, TopolabApp};
use super::intent::Intent;
use super::lab_view::{Applying, Operation, TimelineEntry};
use super::modal::{ApplyDialog, Modal};
use super::style;

/// The changes the design makes to the running lab, with what they were
/// planned from.
pub(super) struct PendingChanges {
    /// The document's revision planned.
    revision: u64,
    /// The running lab's topology planned against.
    running: Topology,
    /// The plan, or why there is none (an invalid design).
    plan: Result<ChangePlan, ChangeError>,
}

impl PendingChanges {
    /// Whether this plan is of the design at `revision` against `running`.
    fn is_for(&self, revision: u64, running: &Topology) -> bool {
        self.revision == revision && self.running == *running
    }
}

/// The plan taking a lab that runs `running` to `design`. The app knows
/// the flavor the lab records, not the program its images run: it takes
/// them as the same (the lab, planning again, knows better).
fn plan(running: &Topology, design: &Topology) -> Result<ChangePlan, ChangeError> {
    let lab = change::Running {
        flavor: running.databases.flavor,
        would_run: design.databases.flavor,
    };
    change::plan(running, design, lab)
}

/// Whether the lab would change: an invalid design is not what it runs.
fn differs(plan: &Result<ChangePlan, ChangeError>) -> bool {
    plan.as_ref().map_or(true, |p| !p.is_empty())
}

/// `1 change`, `3 changes`.
fn changes_text(n: usize) -> String {
    if n == 1 {
        "1 change".to_owned()
    } else {
        format!("{n} changes")
    }
}

/// The host an action concerns, when it concerns one.
fn step_host(step: &Step) -> Option<&HostName> {
    match step {
        Step::Resize { host, .. }
        | Step::Record(Record::Region { host, .. })
        | Step::AddComponent { host, .. }
        | Step::App { host, .. }
        | Step::Web { host, .. }
        | Step::LoadBalancer { host, .. }
        | Step::RemoveComponent { host, .. }
        | Step::RemoveHost(host) => Some(host),
        Step::AddHost { host, .. } => Some(&host.name),
        Step::Record(Record::Flavor(_) | Record::Failover(_) | Record::Wan(_))
        | Step::Replication(_)
        | Step::Dns(_)
        | Step::Monitoring(_) => None,
    }
}

impl TopolabApp {
    /// What the running lab runs, when known.
    pub(super) fn running_topology(&self) -> Option<&Topology> {
        self.lab
            .running
            .as_ref()
            .and_then(|r| r.topology.as_deref())
    }

    /// Whether a lab runs here and the design being edited is not what it
    /// runs: applying it would change the lab (or it is not valid). Where
    /// hosts are drawn, the description and the name are no change.
    pub fn design_differs(&self) -> bool {
        let Some(running) = self.running_topology() else {
            return false;
        };
        match &self.changes {
            Some(c) if c.is_for(self.doc.revision(), running) => differs(&c.plan),
            _ => differs(&plan(running, self.doc.topology())),
        }
    }

    /// Plans the design's changes to the running lab again when the design
    /// or what the lab runs changed since the last plan.
    pub(super) fn refresh_changes(&mut self) {
        let Some(running) = self
            .lab
            .running
            .as_ref()
            .and_then(|r| r.topology.as_deref())
        else {
            self.changes = None;
            return;
        };
        let revision = self.doc.revision();
        if self
            .changes
            .as_ref()
            .is_some_and(|c| c.is_for(revision, running))
        {
            return;
        }
        self.changes = Some(PendingChanges {
            revision,
            running: running.clone(),
            plan: plan(running, self.doc.topology()),
        });
    }

    /// Why the lab cannot take an apply or a deploy now, if it cannot.
    pub(super) fn apply_blocked(&self) -> Option<&'static str> {
        if self.lab.running.is_none() {
            Some("no lab runs here")
        } else if self.lab.launching.is_some() {
            Some("a launch is in progress")
        } else if self.lab.stopping.is_some() {
            Some("the lab is stopping")
        } else {
            match self.lab.applying.as_ref().map(|a| &a.operation) {
                Some(Operation::Apply(_)) => Some("an apply is in progress"),
                Some(Operation::Deploy(_)) => Some("a deploy is in progress"),
                None => None,
            }
        }
    }

    /// The bar over the canvas while the design is not what the lab runs:
    /// how many changes are not applied (or why they cannot be), the
    /// apply's progress, and Apply…, Relaunch and Revert.
    pub(super) fn differs_bar_ui(&self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let Some(changes) = self.changes.as_ref().filter(|c| differs(&c.plan)) else {
            return;
        };
        let Some(running) = self.lab.running.as_ref() else {
            return;
        };
        egui::Frame::new()
            .fill(style::WARN.gamma_multiply(0.25))
            .corner_radius(4.0)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    match &changes.plan {
                        Err(ChangeError::Invalid(problems)) => {
                            ui.label(
                                RichText::new(
                                    "The design differs from the running lab and is not valid",
                                )
                                .strong(),
                            );
                            ui.label(format!(
                                "{} problem(s): fix them to apply it (Problems & review).",
                                problems.len()
                            ));
                        }
                        Ok(plan) if !plan.relaunch.is_empty() => {
                            ui.label(RichText::new("The design needs a relaunch").strong());
                            let more = match plan.relaunch.len() {
                                1 => String::new(),
                                n => format!(" (and {} more)", n - 1),
                            };
                            ui.label(format!(
                                "{} not applied; a running lab cannot take {}{more}.",
                                changes_text(plan.len()),
                                plan.relaunch[0]
                            ));
                        }
                        Ok(plan) => {
                            let listed: Vec<String> = plan
                                .actions
                                .iter()
                                .map(|a| format!("[{}] {}", a.impact, a.summary))
                                .collect();
                            ui.label(
                                RichText::new(format!("{} not applied", changes_text(plan.len())))
                                    .strong(),
                            )
                            .on_hover_text(listed.join("\n"));
                            ui.label(format!("to lab {}.", running.lab));
                        }
                    }
                    self.applying_ui(ui, intents);
                    if changes.plan.is_ok() {
                        let blocked = self.apply_blocked();
                        if ui
                            .add_enabled(blocked.is_none(), egui::Button::new("Apply…"))
                            .on_hover_text(
                                "See each change with what it does to requests, then apply them to the running lab",
                            )
                            .on_disabled_hover_text(format!(
                                "Not now: {}",
                                blocked.unwrap_or_default()
                            ))
                            .clicked()
                        {
                            intents.push(Intent::ApplyDialog);
                        }
                    }
                    let busy = self.lab.stopping.is_some() || self.lab.applying.is_some();
                    if ui
                        .add_enabled(!busy, egui::Button::new("⟳ Relaunch"))
                        .on_hover_text(
                            "Stop the lab (every container goes), then launch this design",
                        )
                        .clicked()
                    {
                        intents.push(Intent::Relaunch);
                    }
                    self.revert_ui(ui, intents);
                });
            });
    }

    /// While an apply runs: which action, and a way to stop it.
    fn applying_ui(&self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let Some(a) = self
            .lab
            .applying
            .as_ref()
            .filter(|a| matches!(a.operation, Operation::Apply(_)))
        else {
            return;
        };
        running_step_ui(ui, a, intents);
    }

    /// Revert the design: make it what the lab runs, keeping the layout.
    fn revert_ui(&self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let Some(t) = self.running_topology() else {
            return;
        };
        if ui
            .button("Revert the design")
            .on_hover_text("Make the design what the lab runs (undoable)")
            .clicked()
        {
            let mut t = t.clone();
            // Keep the layout the user drew.
            for h in &mut t.hosts {
                if let Some(mine) = self.doc.topology().host(&h.name) {
                    h.position = mine.position;
                }
            }
            intents.push(Intent::Edit {
                key: "revert to the running lab".to_owned(),
                topology: Box::new(t),
            });
        }
    }

    /// Opens the apply dialog with the plan of the design as it is now.
    pub(super) fn open_apply_dialog(&mut self) {
        self.refresh_changes();
        let (Some(running), Some(changes)) = (self.lab.running.as_ref(), self.changes.as_ref())
        else {
            return;
        };
        let dialog = changes.plan.as_ref().map(|plan| {
            ApplyDialog::new(
                running.lab.clone(),
                Box::new(self.doc.topology().clone()),
                plan.clone(),
                &changes.running,
            )
        });
        match dialog {
            Ok(dialog) => self.open_modal(Modal::Apply(dialog)),
            Err(why) => {
                let text = format!("cannot apply: {why}");
                self.say(text, true);
                self.tab = Tab::Review;
            }
        }
    }

    /// Sends the lab `topology` to apply (`yes`: its destructive actions
    /// are confirmed), and follows its progress.
    pub(super) fn apply(&mut self, topology: Box<Topology>, yes: bool) {
        self.close_modal_if(|m| matches!(m, Modal::Apply(_)));
        if let Some(why) = self.apply_blocked() {
            self.say(format!("cannot apply now: {why}"), true);
            return;
        }
        // The actions as planned here, for the hosts of their incidents.
        let actions = self
            .running_topology()
            .and_then(|r| plan(r, &topology).ok())
            .map(|p| p.actions)
            .unwrap_or_default();
        let sent = self.send_to_lab(|lab, id| LabCommand::Apply {
            id,
            lab,
            topology,
            yes,
        });
        let (Some(id), Some(lab)) = (sent, self.running_lab()) else {
            return;
        };
        let n = actions.len();
        self.lab.applying = Some(Applying::new(id, lab.clone(), Operation::Apply(actions)));
        self.tab = Tab::Timeline;
        self.note(format!("applying {} to lab {lab}…", changes_text(n)), false);
    }

    /// Asks the lab to stop the apply or deploy in progress after its
    /// current step (a deploy then rolls back).
    pub(super) fn cancel_apply(&mut self) {
        let Some(a) = &self.lab.applying else {
            return;
        };
        let (launch, verb) = (a.id, a.verb());
        if self.send(LabCommand::Cancel { launch }) {
            if let Some(a) = self.lab.applying.as_mut() {
                a.cancelling = true;
            }
            let then = if verb == "deploy" {
                "its current batch, then rolling back"
            } else {
                "its current action"
            };
            self.note(format!("cancelling the {verb} after {then}…"), false);
        }
    }

    /// An apply's or a deploy's progress, in the timeline and (for this
    /// app's) the stopwatch: each step is an incident from when it started
    /// to when it finished.
    pub(super) fn applying(&mut self, id: CommandId, progress: ApplyProgress) {
        let at = crate::live::now();
        let ours = self.lab.applying.as_ref().filter(|a| a.id == id);
        // `apply 2/3` for this app's; the lab's count alone for another's.
        let verb = ours.map_or("apply", Applying::verb);
        let place = |index: usize| match ours {
            Some(a) => a.place(index).map_or(String::new(), |p| format!(" {p}")),
            None => format!(" {}", index + 1),
        };
        match progress {
            ApplyProgress::Started {
                index,
                summary,
                impact,
            } => {
                self.lab.timeline.push(TimelineEntry {
                    at,
                    text: format!("{verb}{}: [{impact}] {summary}", place(index)),
                    explain: Vec::new(),
                    error: false,
                });
                if let Some(a) = ours {
                    let host = a
                        .step_host(index, &summary, |x| step_host(&x.step))
                        .map_or_else(|| a.lab.to_string(), |h| h.to_string());
                    // A step that failed without finishing (a deploy's
                    // batch, before its rollback) ends where the next began.
                    if let Some((_, incident)) = a.current {
                        self.lab.live.action_ended(incident, at);
                    }
                    let incident = self.lab.live.action_started(verb, &summary, host, at);
                    if let Some(a) = self.lab.applying.as_mut() {
                        a.current = Some((index, incident));
                        if a.steps.len() <= index {
                            a.steps.resize(index + 1, (String::new(), None));
                        }
                        a.steps[index] = (summary, None);
                    }
                }
            }
            ApplyProgress::Finished { index, took } => {
                let text = format!(
                    "{verb}{}: done in {:.2} s",
                    place(index),
                    took.as_secs_f64()
                );
                if let Some(a) = self.lab.applying.as_mut().filter(|a| a.id == id) {
                    a.done = index + 1;
                    if let Some(step) = a.steps.get_mut(index) {
                        step.1 = Some(took);
                    }
                    if let Some((_, incident)) = a.current.take() {
                        self.lab.live.action_ended(incident, at);
                    }
                }
                self.lab.timeline.push(TimelineEntry {
                    at,
                    text,
                    explain: Vec::new(),
                    error: false,
                });
            }
            ApplyProgress::Note(text) => {
                if let Some(a) = self.lab.applying.as_mut().filter(|a| a.id == id) {
                    a.notes.push(text.clone());
                }
                self.note(text, false);
            }
            ApplyProgress::Explain(command) => self.explain_last(command),
        }
    }

    /// Command `id` finished with `result`: when it is the apply or deploy
    /// in progress, it is over (a step still running ends now; a deploy is
    /// kept with its result for its window). What it was, if it was.
    pub(super) fn apply_finished(
        &mut self,
        id: CommandId,
        result: &Result<String, String>,
    ) -> Option<&'static str> {
        let mut a = self.lab.applying.take_if(|a| a.id == id)?;
        if let Some((_, incident)) = a.current.take() {
            self.lab.live.action_ended(incident, crate::live::now());
        }
        let verb = a.verb();
        if matches!(a.operation, Operation::Deploy(_)) {
            self.lab.deployed = Some((a, result.clone()));
        }
        Some(verb)
    }

    /// What lab `lab` records after an apply or a deploy: what runs there
    /// now (the changes still pending follow from it; after this app's
    /// deploy, the design follows the releases).
    pub(super) fn applied(
        &mut self,
        lab: LabName,
        topology: Box<Topology>,
        entry_points: Vec<EntryPoint>,
    ) {
        let deploy = self.lab.applying.as_ref().and_then(|a| match &a.operation {
            Operation::Deploy(plan) if a.lab == lab => Some(plan.version.clone()),
            _ => None,
        });
        if let Some(version) = deploy {
            self.follow_releases(&topology, &version);
        }
        let Some(running) = self.lab.running.as_mut().filter(|r| r.lab == lab) else {
            return;
        };
        if running.topology.as_deref() != Some(&*topology) {
            // The files as launched are no longer what runs.
            running.artifacts = None;
        }
        running.topology = Some(topology);
        running.entry_points = entry_points;
    }
}

/// A change in progress: its step running (or that it is starting), and
/// a way to stop it after that step.
pub(super) fn running_step_ui(ui: &mut egui::Ui, a: &Applying, intents: &mut Vec<Intent>) {
    let verb = match a.operation {
        Operation::Apply(_) => "Applying",
        Operation::Deploy(_) => "Deploying",
    };
    let now = match a.current {
        Some((i, _)) => {
            let what = a
                .steps
                .get(i)
                .map(|(s, _)| s.clone())
                .filter(|s| !s.is_empty())
                .or_else(|| a.planned_step(i))
                .unwrap_or_default();
            match a.place(i) {
                Some(p) => format!("{verb} {p}: {what}…"),
                None => format!("{verb}: {what}…"),
            }
        }
        None => format!("{verb}…"),
    };
    ui.add(egui::Spinner::new());
    ui.label(style::plain_arrows(&now));
    let (label, hint) = match a.operation {
        Operation::Apply(_) => (
            "✖ Cancel apply",
            "Stop after the action running now (each action is recorded as it finishes)",
        ),
        Operation::Deploy(_) => (
            "■ Stop deploy",
            "Stop after the batch running now, then roll back every host switched so far",
        ),
    };
    if a.cancelling {
        ui.label(RichText::new("stopping after this step…").color(style::WARN));
    } else if ui.button(label).on_hover_text(hint).clicked() {
        intents.push(Intent::Cancel);
    }
}
