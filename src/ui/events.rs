//! What arrives between frames: the lab's [`LabEvent`]s and the file jobs'
//! [`FileEvent`]s, drained at the start of each frame before anything is
//! drawn, each folded into the app's state by one small method.

use std::path::PathBuf;
use std::time::Duration;

use crate::generate::Artifacts;
use crate::model::Problem;
use crate::preset;
use crate::protocol::{
    CommandId, EntryPoint, FoundLab, LabEvent, LabName, Progress, Rate, TrafficSettings,
    VipEndpoint,
};

use super::app::{Tab, TopolabApp};
use super::files::{FileEvent, PathPurpose};
use super::intent::Intent;
use super::lab_view::{LiveView, Running, TimelineEntry};
use super::modal::{self, Modal};

impl TopolabApp {
    /// Applies everything the lab and the file jobs sent since the last
    /// frame.
    pub(super) fn drain_events(&mut self) {
        while let Ok(event) = self.link.events.try_recv() {
            self.apply_event(event);
        }
        while let Some(event) = self.files.try_recv() {
            self.apply_file_event(event);
        }
    }

    /// Folds one of the lab's events into the app's state.
    fn apply_event(&mut self, event: LabEvent) {
        match event {
            LabEvent::Engine(result) => {
                if let Err(why) = &result {
                    self.note(format!("Docker is not reachable: {why}"), true);
                }
                self.lab.engine = Some(result);
            }
            LabEvent::Progress { id, progress } => self.apply_progress(id, progress),
            LabEvent::Launched {
                lab,
                entry_points,
                vip_ports,
                artifacts,
                ..
            } => self.launched(lab, entry_points, vip_ports, artifacts),
            LabEvent::Live { lab, observations } => {
                if self.shows_lab(&lab) {
                    for o in observations {
                        self.lab.live.record(&o);
                        self.lab.live.state.apply(o);
                    }
                }
            }
            LabEvent::DataRead {
                id,
                lab,
                at,
                holdings,
                unreadable,
            } => {
                if self.shows_lab(&lab) {
                    self.lab.live.data_read(id, at, holdings, unreadable);
                }
            }
            LabEvent::Logs { component, text } => {
                self.lab.live.logs.insert(component, text);
            }
            LabEvent::Assessment {
                id,
                replica,
                result,
            } => {
                if let Some(Modal::Promote(dialog)) = self.modal.as_mut()
                    && dialog.id == id
                {
                    dialog.replica = replica;
                    dialog.assessment = Some(result);
                }
            }
            LabEvent::CapacityStep {
                id,
                step,
                bottleneck,
            } => {
                if let Some(run) = self.lab.live.capacity.as_mut()
                    && run.id == id
                {
                    run.steps.push((*step, bottleneck));
                }
            }
            LabEvent::ScenarioLine { id, line } => {
                if let Some(run) = self.lab.live.scenario.as_mut()
                    && run.id == id
                {
                    run.lines.push(line);
                }
            }
            LabEvent::Faults { lab, faults } => {
                if self.shows_lab(&lab) {
                    self.lab.live.set_faults(&faults);
                }
            }
            LabEvent::Roles { lab, topology } => {
                if self.shows_lab(&lab) {
                    // The design follows the lab's roles (the promoted
                    // replica is the primary now) in one undoable step;
                    // nothing else of the design changes, and nothing at
                    // all when the roles are the same.
                    let mut followed = self.doc.topology().clone();
                    for host in &mut followed.hosts {
                        let role = topology
                            .host(&host.name)
                            .and_then(|h| h.database())
                            .map(|db| db.role.clone());
                        if let (Some(db), Some(role)) = (host.database_mut(), role) {
                            db.role = role;
                        }
                    }
                    self.doc.edit("promotion", followed);
                    if let Some(running) = self.lab.running.as_mut() {
                        running.topology = Some(topology);
                    }
                }
            }
            LabEvent::Applying { id, progress } => self.applying(id, progress),
            LabEvent::Applied {
                lab,
                topology,
                entry_points,
            } => self.applied(lab, topology, entry_points),
            LabEvent::ImagesMissing { id, image } => {
                // Offered only for this app's own launch.
                if self.lab.launching.as_ref().is_some_and(|l| l.id == id) {
                    self.open_modal(Modal::BuildImages { image });
                }
            }
            LabEvent::Found(found) => self.found(found),
            LabEvent::Finished { id, result } => self.finished(id, result),
        }
    }

    /// Whether `lab` is the lab shown here.
    fn shows_lab(&self, lab: &LabName) -> bool {
        self.lab.running.as_ref().is_some_and(|r| r.lab == *lab)
    }

    /// Forgets the live view of the lab shown before (and its promotion
    /// dialog).
    pub(super) fn reset_live(&mut self) {
        self.lab.live = LiveView::default();
        self.close_modal_if(|m| matches!(m, Modal::Promote(_)));
    }

    /// A launch finished: the lab runs.
    fn launched(
        &mut self,
        lab: LabName,
        entry_points: Vec<EntryPoint>,
        vip_ports: Vec<VipEndpoint>,
        artifacts: Box<Artifacts>,
    ) {
        let urls = entry_urls(&entry_points, &vip_ports);
        self.note(format!("lab {lab} is running: {}", urls.join(", ")), false);
        self.reset_live();
        // What a learner does next: send requests and watch them.
        self.tab = Tab::Traffic;
        let topology = self.lab.launching.as_ref().map(|l| l.topology.clone());
        self.lab.running = Some(Running {
            lab,
            entry_points,
            vip_ports,
            artifacts: Some(artifacts),
            topology,
        });
    }

    /// Labs found running; attaches to the one `gui --lab` names.
    fn found(&mut self, found: Vec<FoundLab>) {
        let names: Vec<&str> = found.iter().map(|f| f.lab.as_str()).collect();
        if !names.is_empty() {
            self.note(format!("labs already running: {}", names.join(", ")), false);
        }
        self.lab.found = found;
        let Some((lab, traffic)) = self.followups.auto_attach.take() else {
            return;
        };
        if !self.lab.found.iter().any(|f| f.lab == lab) {
            self.note(format!("no lab named {lab} is running"), true);
            return;
        }
        self.followups.deferred.push(Intent::Attach(lab));
        if let Some(rate) = traffic {
            self.followups
                .deferred
                .push(Intent::Traffic(Some(TrafficSettings {
                    rate: Rate::PerSecond(rate),
                    writes_percent: self.lab.live.writes,
                    read_back: self.lab.live.read_back,
                })));
        }
    }

    /// A command finished: what waited for it follows, and a failure is
    /// told.
    fn finished(&mut self, id: CommandId, result: Result<String, String>) {
        self.lab.live.finished(id, &result);
        if let Some(run) = self.lab.live.scenario.as_mut()
            && run.id == id
        {
            run.passed = Some(result.is_ok());
        }
        if let Some(run) = self.lab.live.capacity.as_mut()
            && run.id == id
        {
            run.outcome = Some(result.clone());
        }
        let change = self.apply_finished(id, &result);
        let rolled_back = self
            .lab
            .deployed
            .as_ref()
            .is_some_and(|(d, _)| d.id == id && d.rolled_back());
        let was_launch = self.lab.launching.as_ref().is_some_and(|l| l.id == id);
        if was_launch {
            self.lab.launching = None;
        }
        if self.lab.stopping == Some(id) {
            self.lab.stopping = None;
            if result.is_ok() {
                self.lab.running = None;
                self.lab.live.traffic_on = false;
            }
            if std::mem::take(&mut self.followups.launch_after_stop) && result.is_ok() {
                self.followups.deferred.push(Intent::Launch);
            }
        }
        match result {
            // A launch's success was already told by `Launched`.
            Ok(text) if !text.is_empty() && !was_launch => self.note(text, false),
            Ok(_) => {}
            Err(why) => {
                let what = match change {
                    _ if was_launch => "launch failed",
                    Some("deploy") if rolled_back => "deploy rolled back",
                    Some("deploy") => "deploy failed",
                    Some(_) => "apply failed",
                    None => "lab command failed",
                };
                self.note(format!("{what}: {why}"), true);
                self.tab = Tab::Timeline;
            }
        }
    }

    /// A launch's progress, in the timeline and the progress bar.
    fn apply_progress(&mut self, id: CommandId, progress: Progress) {
        let at = crate::live::now();
        match progress {
            Progress::Note(text) => self.note(text, false),
            Progress::Started(phase) => self.lab.timeline.push(TimelineEntry {
                at,
                text: format!("{} …", phase.label()),
                explain: Vec::new(),
                error: false,
            }),
            Progress::Finished { phase, at: took } => {
                if let Some(l) = self.lab.launching.as_mut().filter(|l| l.id == id) {
                    l.done.push(phase);
                }
                self.lab.timeline.push(TimelineEntry {
                    at,
                    text: format!("{} ({:.2} s)", phase.label(), took.as_secs_f64()),
                    explain: Vec::new(),
                    error: false,
                });
            }
            Progress::Explain(command) => self.explain_last(command),
        }
    }

    /// The command a person would type for the step the timeline shows
    /// last, under it.
    pub(super) fn explain_last(&mut self, command: String) {
        match self.lab.timeline.last_mut() {
            Some(last) => last.explain.push(command),
            None => self.lab.timeline.push(TimelineEntry {
                at: crate::live::now(),
                text: "lab".to_owned(),
                explain: vec![command],
                error: false,
            }),
        }
    }

    /// Folds one file job's answer into the app's state.
    fn apply_file_event(&mut self, event: FileEvent) {
        match event {
            FileEvent::Picked(purpose, path, took) => self.picked(purpose, path, took),
            FileEvent::Loaded(path, Ok(t)) => {
                self.doc.replace(t, Some(path.clone()));
                self.selection = None;
                self.close_modal_if(|m| matches!(m, Modal::LoadErrors { .. }));
                self.say(format!("opened {}", path.display()), false);
                self.files.remember(path);
            }
            FileEvent::Loaded(_, Err(preset::LoadError::Invalid { origin, problems })) => {
                self.open_modal(Modal::LoadErrors { origin, problems });
            }
            FileEvent::Loaded(path, Err(e)) => self.open_modal(Modal::LoadErrors {
                origin: path.display().to_string(),
                problems: vec![Problem::general(e.to_string())],
            }),
            FileEvent::Saved(path, revision, result) => self.saved(path, revision, result),
            FileEvent::Exported(Ok(folder)) => self.say_exported(folder),
            FileEvent::Exported(Err(e)) => self.say(format!("export failed: {e}"), true),
            FileEvent::Wrote(what, Ok(file)) => {
                self.say(format!("wrote {what} to {}", file.display()), false);
                // A bare file name is in the current folder.
                let dir = file
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                if let Some(m) = self.message.as_mut() {
                    m.folder = Some(dir.to_owned());
                }
            }
            FileEvent::Wrote(what, Err(e)) => {
                self.say(format!("{what} was not written: {e}"), true)
            }
        }
    }

    /// A file dialog answered.
    fn picked(&mut self, purpose: PathPurpose, path: Option<PathBuf>, took: Duration) {
        match path {
            Some(path) => self.followups.deferred.push(match purpose {
                PathPurpose::Open => Intent::Open(path),
                PathPurpose::Save => Intent::SaveTo(path),
                PathPurpose::Export(to) => Intent::ExportTo(path, to),
                PathPurpose::Diagram(format) => Intent::DiagramTo(path, format),
                PathPurpose::Report => Intent::ReportTo(path),
                PathPurpose::History => Intent::HistoryTo(path),
            }),
            // No answer at once means no dialog service: offer a path field.
            None if took < Duration::from_millis(150) => {
                self.files.without_dialog();
                self.open_modal(Modal::PathField {
                    purpose,
                    text: modal::proposed_path(purpose, &self.doc.topology().name),
                });
                self.say(
                    "no file dialog service here: type a path instead".to_owned(),
                    false,
                );
            }
            None => {
                if purpose == PathPurpose::Save {
                    // The save the unsaved-changes prompt asked for did not happen.
                    self.followups.after_save = None;
                }
            }
        }
    }

    /// The document (at `revision`) was written to `path`, or not.
    fn saved(&mut self, path: PathBuf, revision: u64, result: Result<(), String>) {
        if let Err(e) = result {
            self.say(format!("cannot save {}: {e}", path.display()), true);
            // Ask again: the changes are still unsaved.
            if let Some(next) = self.followups.after_save.take() {
                self.open_modal(Modal::Unsaved(next));
            }
            return;
        }
        if self.doc.revision() == revision {
            self.doc.saved(path.clone());
        } else {
            // Edited while it was being written: still unsaved.
            self.doc.saved_earlier(path.clone());
        }
        self.say(format!("saved {}", path.display()), false);
        self.files.remember(path);
        if let Some(next) = self.followups.after_save.take() {
            self.followups.deferred.push(next);
        }
    }
}

/// Where a running lab is reached from this machine: each virtual IP's
/// published port first (it follows the address), then each entry point's.
pub(super) fn entry_urls(entry_points: &[EntryPoint], vip_ports: &[VipEndpoint]) -> Vec<String> {
    vip_ports
        .iter()
        .map(|v| format!("vip .{} http://127.0.0.1:{}", v.number, v.http))
        .chain(
            entry_points
                .iter()
                .map(|e| format!("http://127.0.0.1:{}", e.http)),
        )
        .collect()
}
