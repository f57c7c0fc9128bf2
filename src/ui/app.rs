//! The desktop app: document, view state and lab state, drawn each frame.
//! Drawing collects [`Intent`]s; they are applied after drawing, so the
//! frame never mutates what it is drawing. Lab work goes through
//! [`LabCommand`]s and file work runs on the runtime's blocking pool:
//! `ui()` never waits on Docker or the file system.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use egui::{Color32, Key, KeyboardShortcut, Modifiers};

use crate::generate::{Artifacts, Secrets, Settings};
use crate::model::{
    Finding, Problem, Subject, Topology, add_host, delete_component, delete_host, validate,
};
use crate::preset::{self, PRESETS, Preset};
use crate::protocol::{
    CommandId, LabCommand, LabEvent, LabName, Phase, Progress, Rate, TrafficSettings,
};

use super::canvas::CanvasGraph;
use super::document::{Analyser, Document};
pub use super::intent::Intent;
use super::lab_view::{LabView, Launching, Running, TimelineEntry};

/// The app's channel to the lab: commands out, events in. Tests build one
/// from plain channels and play the lab themselves.
pub struct LabLink {
    /// Commands to the lab actor.
    pub commands: tokio::sync::mpsc::UnboundedSender<LabCommand>,
    /// Events from it.
    pub events: mpsc::Receiver<LabEvent>,
}

/// Which tab the bottom panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Problems and design review.
    Review,
    /// Generated files.
    Preview,
    /// What the lab reported.
    Timeline,
    /// Requests through the running lab.
    Traffic,
    /// A scenario, step by step.
    Scenario,
}

/// File work that finished off the UI thread.
enum FileEvent {
    /// A dialog's answer, and how long it took.
    Picked(PathPurpose, Option<PathBuf>, Duration),
    /// A file was read.
    Loaded(PathBuf, Result<Topology, preset::LoadError>),
    /// The document (at this revision) was written.
    Saved(PathBuf, u64, Result<(), String>),
    /// The configs were exported: a message, or why not.
    Exported(Result<String, String>),
}

/// What the path field is for, when no dialog service exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPurpose {
    /// Open a topology.
    Open,
    /// Save the topology.
    Save,
    /// Export the configs into a folder.
    Export,
}

/// The whole app.
pub struct TopolabApp {
    /// The design being edited.
    pub doc: Document,
    /// The selected host or component.
    pub selection: Option<Subject>,
    /// Bottom panel tab.
    pub tab: Tab,
    /// The lab as reported.
    pub lab: LabView,
    /// The last message for the status bar: (text, is an error).
    pub message: Option<(String, bool)>,
    /// Errors of a file that failed to load (shown until dismissed).
    pub load_errors: Option<(String, Vec<Problem>)>,
    /// An action waiting for the unsaved-changes answer.
    pub pending: Option<Intent>,
    /// The path field, shown where there is no file dialog.
    pub path_field: Option<(PathPurpose, String)>,
    /// Recently opened or saved files, newest first.
    pub recent: Vec<PathBuf>,
    /// Where the recent list is kept (None: not kept, e.g. in tests).
    recent_file: Option<PathBuf>,
    /// The file shown in the preview.
    pub preview_file: Option<String>,
    /// Dark theme.
    pub dark: bool,
    pub(super) problems: Vec<Problem>,
    pub(super) findings: Vec<Finding>,
    pub(super) preview: Option<Artifacts>,
    pub(super) graph: Option<(
        CanvasGraph,
        HashMap<Subject, petgraph::stable_graph::NodeIndex>,
    )>,
    pub(super) built_revision: Option<(u64, Option<Subject>)>,
    pub(super) hovered: Option<Subject>,
    /// The revision a drag on the canvas produces (no rebuild for it).
    pub(super) canvas_moved: Option<u64>,
    pub(super) canvas_cache: super::canvas::CanvasCache,
    /// Keeps `problems`, `findings` and `preview` current, off the UI
    /// thread when the app has a runtime.
    analyser: Analyser,
    /// The context the analysis worker wakes, known from the first frame.
    repaint: Arc<OnceLock<egui::Context>>,
    link: LabLink,
    runtime: Option<tokio::runtime::Handle>,
    files_tx: mpsc::Sender<FileEvent>,
    files_rx: mpsc::Receiver<FileEvent>,
    no_dialog: bool,
    quit_confirmed: bool,
    started: Instant,
    frame_times: Option<super::FrameTimes>,
    /// Intents that arrived between frames (file dialogs).
    deferred: Vec<Intent>,
    /// The window title last sent.
    title: Option<String>,
    /// The user agreed to drop unsaved changes for the next action.
    discard_confirmed: bool,
    /// What to do once a save succeeds (the unsaved-changes prompt's Save).
    after_save: Option<Intent>,
    /// Close once the launch or stop in progress has finished.
    quit_when_idle: bool,
    /// Numbers discrete edits, so undo never merges two of them.
    pub(super) serial: u64,
    /// Wakes the UI when background work finishes.
    ctx: Option<egui::Context>,
    /// A lab to attach to once found, and a traffic rate to start there.
    auto_attach: Option<(LabName, Option<f64>)>,
}

const RECENT_MAX: usize = 10;

impl TopolabApp {
    /// The app with `topology` loaded, talking to the lab through `link`;
    /// `runtime` runs file dialogs (None: no dialogs, e.g. in tests, and
    /// the design is analysed at once instead of on a worker thread).
    pub fn new(topology: Topology, link: LabLink, runtime: Option<tokio::runtime::Handle>) -> Self {
        let (files_tx, files_rx) = mpsc::channel();
        let no_dialog = runtime.is_none();
        let repaint = Arc::new(OnceLock::new());
        let analyser = if runtime.is_some() {
            Self::background_analyser(&repaint)
        } else {
            Analyser::inline()
        };
        let mut app = Self {
            doc: Document::new(topology),
            selection: None,
            tab: Tab::Review,
            lab: LabView::default(),
            message: None,
            load_errors: None,
            pending: None,
            path_field: None,
            recent: Vec::new(),
            recent_file: None,
            preview_file: None,
            dark: true,
            problems: Vec::new(),
            findings: Vec::new(),
            preview: None,
            graph: None,
            built_revision: None,
            hovered: None,
            canvas_moved: None,
            canvas_cache: Default::default(),
            analyser,
            repaint,
            link,
            runtime,
            files_tx,
            files_rx,
            no_dialog,
            quit_confirmed: false,
            started: Instant::now(),
            frame_times: None,
            deferred: Vec::new(),
            title: None,
            discard_confirmed: false,
            after_save: None,
            quit_when_idle: false,
            serial: 0,
            ctx: None,
            auto_attach: None,
        };
        let id = app.next_id();
        let _ = app.send(LabCommand::Discover { id });
        app
    }

    /// An analyser on a worker thread that asks for a repaint with each
    /// result (once the app has drawn a frame and knows its context); on a
    /// system that cannot start a thread, one that analyses at once.
    fn background_analyser(repaint: &Arc<OnceLock<egui::Context>>) -> Analyser {
        let repaint = Arc::clone(repaint);
        let wake = move || {
            if let Some(ctx) = repaint.get() {
                ctx.request_repaint();
            }
        };
        Analyser::background(wake).unwrap_or_else(|_| Analyser::inline())
    }

    /// Analyses the design on a worker thread, as the app does when it has
    /// a runtime: results arrive in a later frame ([`Self::analysis_pending`]
    /// says whether one is awaited).
    pub fn analyse_in_background(&mut self) {
        self.analyser = Self::background_analyser(&self.repaint);
    }

    /// Whether the problems, findings and preview shown are not yet those
    /// of the current design.
    pub fn analysis_pending(&self) -> bool {
        self.analyser.pending()
    }

    /// How many analyses of the design were started (moving hosts on the
    /// canvas starts none).
    pub fn analyses_started(&self) -> u64 {
        self.analyser.started()
    }

    /// Keeps the recent-files list in `file` (and loads it now).
    pub fn keep_recent_in(&mut self, file: PathBuf) {
        self.recent = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        self.recent_file = Some(file);
    }

    /// Attaches to lab `lab` as soon as the lab reports it running, and
    /// then sends `traffic` requests per second through it (`gui --lab`).
    pub fn attach_when_found(&mut self, lab: LabName, traffic: Option<f64>) {
        self.auto_attach = Some((lab, traffic));
    }

    /// Records frame times and closes after `frames` frames (the
    /// `--frames` benchmark).
    pub fn measure_frames(&mut self, frames: usize) {
        self.frame_times = Some(super::FrameTimes::new(frames));
    }

    /// Whether the frame-time benchmark runs (it keeps every frame live).
    pub(super) fn frame_times_active(&self) -> bool {
        self.frame_times.is_some()
    }

    /// Problems of the current design.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Findings of the current design.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The generated files of the current design (placeholder secrets).
    pub fn preview(&self) -> Option<&Artifacts> {
        self.preview.as_ref()
    }

    /// The name of the lab that runs, if one does.
    fn running_lab(&self) -> Option<LabName> {
        self.lab.running.as_ref().map(|r| r.lab.clone())
    }

    fn next_id(&mut self) -> CommandId {
        self.lab.next_id()
    }

    /// Sends a command; false (and says so) when the lab has stopped.
    fn send(&mut self, command: LabCommand) -> bool {
        let sent = self.link.commands.send(command).is_ok();
        if !sent {
            self.message = Some(("the lab runtime has stopped".to_owned(), true));
        }
        sent
    }

    fn note(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        self.lab.timeline.push(TimelineEntry {
            at: self.started.elapsed().as_secs_f64(),
            text: text.clone(),
            explain: Vec::new(),
            error,
        });
        self.message = Some((text, error));
    }

    /// Starts analysing the design when it changed, and shows an analysis
    /// of the current design once one is ready. Never waits for it.
    fn analyse(&mut self) {
        if let Some(a) = self.analyser.update(&self.doc) {
            self.problems = a.problems;
            self.findings = a.findings;
            self.preview = a.preview;
        }
    }

    /// Colours for the canvas: red for problems, amber for findings.
    pub(super) fn flags(&self) -> HashMap<Subject, Color32> {
        let mut flags = HashMap::new();
        for f in &self.findings {
            for s in &f.subjects {
                flags.insert(s.clone(), Color32::from_rgb(240, 170, 40));
            }
        }
        for p in &self.problems {
            if let Some(s) = &p.subject {
                flags.insert(s.clone(), Color32::from_rgb(230, 60, 60));
                flags.insert(
                    Subject::Host(s.host().clone()),
                    Color32::from_rgb(230, 60, 60),
                );
            }
        }
        flags
    }

    /// Draws the whole app into `ui` and applies what the user asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let frame_start = Instant::now();
        self.drain_events();
        self.analyse();
        let ctx = ui.ctx().clone();
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
            let _ = self.repaint.set(ctx.clone());
        }
        let title = self.doc.title();
        if self.title.as_ref() != Some(&title) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = Some(title);
        }
        let mut intents = std::mem::take(&mut self.deferred);
        // Behind a modal dialog, keys and dropped files do nothing.
        let modal =
            self.pending.is_some() || self.path_field.is_some() || self.load_errors.is_some();
        if !modal {
            self.shortcuts(&ctx, &mut intents);
            self.dropped_files(&ctx, &mut intents);
        }
        self.close_requested(&ctx, &mut intents);

        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| self.menu_ui(ui, &mut intents));
        });
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui, &mut intents));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui, &mut intents));
        egui::Panel::bottom("bottom")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.bottom_ui(ui, &mut intents));
        egui::Panel::right("inspector")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.inspector_ui(ui, &mut intents));
            });
        egui::CentralPanel::default_margins().show(ui, |ui| self.canvas_ui(ui, &mut intents));
        self.dialogs_ui(&ctx, &mut intents);

        for intent in intents {
            self.run(intent, &ctx);
        }
        // An edit of this frame starts its analysis now, not when the next
        // frame happens to come.
        self.analyse();
        if self.lab.running.is_some() {
            // Rates and sparklines move with time even when no event comes.
            ctx.request_repaint_after(Duration::from_secs(1));
        }
        if let Some(times) = &mut self.frame_times {
            ctx.request_repaint();
            if times.record(frame_start, frame_start.elapsed()) {
                times.report(&self.lab.live.delays);
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                self.frame_times = None;
            }
        }
    }

    /// The window's close button: a launch or stop in progress is finished
    /// (a launch cancelled, which removes what it made) before closing, and
    /// unsaved changes are asked about.
    fn close_requested(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let busy = self.lab.launching.is_some() || self.lab.stopping.is_some();
        if ctx.input(|i| i.viewport().close_requested()) && !self.quit_confirmed {
            if busy {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                if !self.quit_when_idle {
                    intents.push(Intent::Cancel);
                    self.note("closing once the lab work in progress has stopped…", false);
                }
                self.quit_when_idle = true;
            } else if self.doc.dirty {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.pending = Some(Intent::Quit);
            }
        }
        if self.quit_when_idle && !busy {
            self.quit_when_idle = false;
            intents.push(Intent::Quit);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let cmd = Modifiers::COMMAND;
        let cmd_shift = Modifiers::COMMAND | Modifiers::SHIFT;
        let typing = ctx.egui_wants_keyboard_input();
        ctx.input_mut(|i| {
            let mut take = |m, k| i.consume_shortcut(&KeyboardShortcut::new(m, k));
            if take(cmd_shift, Key::Z) || take(cmd, Key::Y) {
                intents.push(Intent::Redo);
            }
            if take(cmd, Key::Z) {
                intents.push(Intent::Undo);
            }
            if take(cmd_shift, Key::S) {
                intents.push(Intent::SaveAsDialog);
            }
            if take(cmd, Key::S) {
                intents.push(Intent::Save);
            }
            if take(cmd, Key::O) {
                intents.push(Intent::OpenDialog);
            }
            if take(cmd, Key::N) {
                intents.push(Intent::New);
            }
            if take(cmd, Key::E) {
                intents.push(Intent::ExportDialog);
            }
            if take(cmd, Key::L) {
                intents.push(Intent::Launch);
            }
            if !typing && take(Modifiers::NONE, Key::Delete) {
                intents.push(Intent::DeleteSelected);
            }
        });
    }

    fn dropped_files(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            intents.push(Intent::Open(path));
        }
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.link.events.try_recv() {
            self.apply_event(event);
        }
        while let Ok(event) = self.files_rx.try_recv() {
            self.apply_file_event(event);
        }
    }

    fn apply_file_event(&mut self, event: FileEvent) {
        match event {
            FileEvent::Picked(purpose, Some(path), _) => self.deferred.push(match purpose {
                PathPurpose::Open => Intent::Open(path),
                PathPurpose::Save => Intent::SaveTo(path),
                PathPurpose::Export => Intent::ExportTo(path),
            }),
            // No answer at once means no dialog service: offer a path field.
            FileEvent::Picked(purpose, None, took) if took < Duration::from_millis(150) => {
                self.no_dialog = true;
                self.path_field = Some((purpose, String::new()));
                self.message = Some((
                    "no file dialog service here: type a path instead".to_owned(),
                    false,
                ));
            }
            FileEvent::Picked(purpose, None, _) => {
                if purpose == PathPurpose::Save {
                    // The save the unsaved-changes prompt asked for did not happen.
                    self.after_save = None;
                }
            }
            FileEvent::Loaded(path, Ok(t)) => {
                self.doc.replace(t, Some(path.clone()));
                self.selection = None;
                self.load_errors = None;
                self.message = Some((format!("opened {}", path.display()), false));
                self.remember(path);
            }
            FileEvent::Loaded(_, Err(preset::LoadError::Invalid { origin, problems })) => {
                self.load_errors = Some((origin, problems));
            }
            FileEvent::Loaded(path, Err(e)) => {
                self.load_errors = Some((
                    path.display().to_string(),
                    vec![Problem::general(e.to_string())],
                ));
            }
            FileEvent::Saved(path, revision, Ok(())) => {
                if self.doc.revision() == revision {
                    self.doc.saved(path.clone());
                } else {
                    // Edited while it was being written: still unsaved.
                    self.doc.path = Some(path.clone());
                }
                self.message = Some((format!("saved {}", path.display()), false));
                self.remember(path);
                if let Some(next) = self.after_save.take() {
                    self.deferred.push(next);
                }
            }
            FileEvent::Saved(path, _, Err(e)) => {
                self.message = Some((format!("cannot save {}: {e}", path.display()), true));
                // Ask again: the changes are still unsaved.
                self.pending = self.after_save.take();
            }
            FileEvent::Exported(Ok(text)) => self.message = Some((text, false)),
            FileEvent::Exported(Err(e)) => {
                self.message = Some((format!("export failed: {e}"), true))
            }
        }
    }

    /// Runs file work on the runtime's blocking pool (inline where there is
    /// no runtime, as in tests); its result arrives as a [`FileEvent`].
    fn background(&self, job: impl FnOnce() -> FileEvent + Send + 'static) {
        let tx = self.files_tx.clone();
        match &self.runtime {
            Some(rt) => {
                let ctx = self.ctx.clone();
                rt.spawn_blocking(move || {
                    let _ = tx.send(job());
                    if let Some(ctx) = ctx {
                        ctx.request_repaint();
                    }
                });
            }
            None => {
                let _ = tx.send(job());
            }
        }
    }

    /// The unsaved-changes prompt's "Discard changes".
    pub(super) fn confirm_discard(&mut self, intent: Intent) {
        self.pending = None;
        self.discard_confirmed = true;
        self.deferred.push(intent);
    }

    /// The unsaved-changes prompt's "Save": saves, then does `intent`.
    pub(super) fn save_then(&mut self, intent: Intent) {
        self.pending = None;
        self.after_save = Some(intent);
        self.deferred.push(Intent::Save);
    }

    /// The path field's Cancel.
    pub(super) fn path_field_cancelled(&mut self, purpose: PathPurpose) {
        if purpose == PathPurpose::Save {
            self.after_save = None;
        }
    }
}

impl TopolabApp {
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
                artifacts,
                ..
            } => {
                let urls: Vec<String> = entry_points
                    .iter()
                    .map(|e| format!("http://127.0.0.1:{}", e.http))
                    .collect();
                self.note(format!("lab {lab} is running: {}", urls.join(", ")), false);
                self.lab.live = super::lab_view::LiveView::default();
                // What a learner does next: send requests and watch them.
                self.tab = Tab::Traffic;
                self.lab.running = Some(Running {
                    lab,
                    entry_points,
                    artifacts: Some(artifacts),
                });
            }
            LabEvent::Live { lab, observations } => {
                if self.lab.running.as_ref().is_some_and(|r| r.lab == lab) {
                    for o in observations {
                        self.lab.live.record(&o);
                        self.lab.live.state.apply(o);
                    }
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
                if let Some(dialog) = self.lab.live.promote_dialog.as_mut()
                    && dialog.id == id
                {
                    dialog.replica = replica;
                    dialog.assessment = Some(result);
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
                if self.lab.running.as_ref().is_some_and(|r| r.lab == lab) {
                    self.lab.live.set_faults(&faults);
                }
            }
            LabEvent::Roles { lab, topology } => {
                if self.lab.running.as_ref().is_some_and(|r| r.lab == lab) {
                    // The design follows the lab: the promoted replica is
                    // the primary now (one undoable step).
                    self.doc.edit("promotion", *topology);
                }
            }
            LabEvent::Found(found) => {
                let names: Vec<&str> = found.iter().map(|f| f.lab.as_str()).collect();
                if !names.is_empty() {
                    self.note(format!("labs already running: {}", names.join(", ")), false);
                }
                self.lab.found = found;
                if let Some((lab, traffic)) = self.auto_attach.take() {
                    if self.lab.found.iter().any(|f| f.lab == lab) {
                        self.deferred.push(Intent::Attach(lab));
                        if let Some(rate) = traffic {
                            self.deferred.push(Intent::Traffic(Some(TrafficSettings {
                                rate: Rate::PerSecond(rate),
                                writes_percent: self.lab.live.writes,
                            })));
                        }
                    } else {
                        self.note(format!("no lab named {lab} is running"), true);
                    }
                }
            }
            LabEvent::Finished { id, result } => {
                self.lab.live.finished(id, &result);
                if let Some(run) = self.lab.live.scenario.as_mut()
                    && run.id == id
                {
                    run.passed = Some(result.is_ok());
                }
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
                }
                match result {
                    // A launch's success was already told by `Launched`.
                    Ok(text) if !text.is_empty() && !was_launch => self.note(text, false),
                    Ok(_) => {}
                    Err(why) => {
                        let what = if was_launch {
                            "launch failed"
                        } else {
                            "lab command failed"
                        };
                        self.note(format!("{what}: {why}"), true);
                        self.tab = Tab::Timeline;
                    }
                }
            }
        }
    }

    fn apply_progress(&mut self, id: CommandId, progress: Progress) {
        let at = self.started.elapsed().as_secs_f64();
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
            Progress::Explain(command) => match self.lab.timeline.last_mut() {
                Some(last) => last.explain.push(command),
                None => self.lab.timeline.push(TimelineEntry {
                    at,
                    text: "lab".to_owned(),
                    explain: vec![command],
                    error: false,
                }),
            },
        }
    }

    /// Applies one intent. Actions that would drop unsaved changes ask first.
    pub fn run(&mut self, intent: Intent, ctx: &egui::Context) {
        let discards = matches!(
            intent,
            Intent::New | Intent::Preset(_) | Intent::Open(_) | Intent::Attach(_) | Intent::Quit
        );
        if discards && self.doc.dirty && !std::mem::take(&mut self.discard_confirmed) {
            self.pending = Some(intent);
            return;
        }
        match intent {
            Intent::Select(s) => self.selection = s,
            Intent::Edit { key, topology } => self.doc.edit(&key, *topology),
            Intent::AddHost(template) => {
                let mut t = self.doc.topology().clone();
                let name = add_host(&mut t, template);
                self.doc.edit(&format!("add host {name}"), t);
                self.selection = Some(Subject::Host(name));
            }
            Intent::DeleteSelected => match self.selection.take() {
                Some(Subject::Host(h)) => self
                    .doc
                    .modify(&format!("delete {h}"), |t| delete_host(t, &h)),
                Some(Subject::Component(c)) => {
                    self.doc.modify(&format!("delete {c}"), |t| {
                        delete_component(t, &c.host, c.kind)
                    });
                }
                None => {}
            },
            Intent::Undo => self.doc.undo(),
            Intent::Redo => self.doc.redo(),
            Intent::Fix(action) => {
                let mut t = self.doc.topology().clone();
                if action.apply(&mut t) {
                    self.doc.edit(&format!("fix {action:?}"), t);
                    self.message = Some((format!("applied: {}", action.label()), false));
                }
            }
            Intent::New => {
                self.doc.replace(Topology::new("untitled"), None);
                self.selection = None;
            }
            Intent::Preset(name) => {
                if let Some(t) = Preset::find(name).and_then(|p| p.topology().ok()) {
                    self.doc.replace(t, None);
                    self.selection = None;
                    self.message = Some((format!("loaded preset {name}"), false));
                }
            }
            Intent::OpenDialog => self.file_dialog(PathPurpose::Open, ctx),
            Intent::Open(path) => self.open(path),
            Intent::Save => match self.doc.path.clone() {
                Some(path) => self.save_to(path),
                None => self.file_dialog(PathPurpose::Save, ctx),
            },
            Intent::SaveAsDialog => self.file_dialog(PathPurpose::Save, ctx),
            Intent::SaveTo(path) => self.save_to(path),
            Intent::ExportDialog => self.file_dialog(PathPurpose::Export, ctx),
            Intent::ExportTo(dir) => self.export_to(dir),
            Intent::Launch => self.launch(),
            Intent::Cancel => {
                if let Some(l) = &self.lab.launching {
                    let launch = l.id;
                    if self.send(LabCommand::Cancel { launch }) {
                        self.note("cancelling the launch…", false);
                    }
                }
            }
            Intent::Traffic(settings) => {
                if let Some(lab) = self.running_lab() {
                    if settings.is_some() && !self.lab.live.traffic_on {
                        self.lab.live.state.reset_totals();
                    }
                    if let Some(s) = settings {
                        if let Rate::PerSecond(r) = s.rate {
                            self.lab.live.rate = r;
                        }
                        self.lab.live.writes = s.writes_percent;
                    }
                    let id = self.next_id();
                    if self.send(LabCommand::Traffic { id, lab, settings }) {
                        self.lab.live.traffic_on = settings.is_some();
                    }
                }
            }
            Intent::Fault(target, kind) => {
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    if self.send(LabCommand::Fault {
                        id,
                        lab,
                        target: target.clone(),
                        kind,
                    }) {
                        self.lab.live.requested_fault(id, target, kind);
                    }
                }
            }
            Intent::Heal(target) => {
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    if self.send(LabCommand::Heal {
                        id,
                        lab,
                        target: target.clone(),
                    }) {
                        self.lab.live.requested_heal(id, target);
                    }
                }
            }
            Intent::Assess(replica) => {
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    if self.send(LabCommand::Assess {
                        id,
                        lab,
                        replica: replica.clone(),
                    }) {
                        self.lab.live.promote_dialog = Some(super::lab_view::PromoteDialog {
                            id,
                            replica: replica.clone(),
                            assessment: None,
                        });
                    }
                }
            }
            Intent::Promote {
                replica,
                planned,
                accept_loss,
            } => {
                self.lab.live.promote_dialog = None;
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    if self.send(LabCommand::Promote {
                        id,
                        lab,
                        replica: replica.clone(),
                        planned,
                        accept_loss,
                    }) {
                        self.lab.live.requested_promotion(id, &replica, planned);
                        self.note(format!("promoting {replica}/db…"), false);
                    }
                }
            }
            Intent::ClosePromote => self.lab.live.promote_dialog = None,
            Intent::Scenario(name) => {
                let shipped = crate::scenario::SHIPPED.iter().find(|s| s.name == name);
                if let (Some(lab), Some(shipped)) = (self.running_lab(), shipped) {
                    let id = self.next_id();
                    if self.send(LabCommand::Scenario {
                        id,
                        lab,
                        source: shipped.source.to_owned(),
                    }) {
                        self.lab.live.scenario = Some(super::lab_view::ScenarioRun {
                            id,
                            name: shipped.name.to_owned(),
                            lines: Vec::new(),
                            passed: None,
                        });
                        self.tab = Tab::Scenario;
                    }
                }
            }
            Intent::Logs(component) => {
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    self.send(LabCommand::Logs { id, lab, component });
                }
            }
            Intent::Stop => {
                if let Some(lab) = self.running_lab() {
                    let id = self.next_id();
                    if self.send(LabCommand::Stop {
                        id,
                        lab: lab.clone(),
                    }) {
                        self.lab.stopping = Some(id);
                        self.note(format!("stopping lab {lab}…"), false);
                    }
                }
            }
            Intent::Attach(lab) => {
                if self.lab.launching.is_some() || self.lab.running.is_some() {
                    self.message = Some((
                        "stop the lab shown here before attaching to another".to_owned(),
                        true,
                    ));
                } else if let Some(pos) = self.lab.found.iter().position(|f| f.lab == lab) {
                    let found = self.lab.found.remove(pos);
                    if let Some(t) = found.topology {
                        self.doc.replace(*t, None);
                        self.selection = None;
                    }
                    self.lab.running = Some(Running {
                        lab: found.lab.clone(),
                        entry_points: found.entry_points,
                        artifacts: None,
                    });
                    self.lab.live = super::lab_view::LiveView::default();
                    // Faults injected from the command line show too.
                    self.lab.live.set_faults(&found.faults);
                    self.tab = Tab::Traffic;
                    let id = self.next_id();
                    self.send(LabCommand::Watch {
                        id,
                        lab: found.lab.clone(),
                    });
                    self.note(format!("attached to lab {}", found.lab), false);
                }
            }
            Intent::Remove(lab) => {
                let id = self.next_id();
                if self.send(LabCommand::Stop {
                    id,
                    lab: lab.clone(),
                }) {
                    self.lab.found.retain(|f| f.lab != lab);
                    self.note(format!("removing lab {lab}…"), false);
                }
            }
            Intent::Theme(dark) => {
                self.dark = dark;
                ctx.set_theme(if dark {
                    egui::Theme::Dark
                } else {
                    egui::Theme::Light
                });
            }
            Intent::Quit => {
                self.quit_confirmed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    fn launch(&mut self) {
        if self.lab.launching.is_some() || self.lab.running.is_some() {
            self.message = Some(("a lab is already running: stop it first".to_owned(), true));
            return;
        }
        // The shown problems may be a frame behind the design: check it now
        // (validation is linear and quick; the review is not needed).
        if !validate(self.doc.topology()).is_empty() {
            self.message = Some((
                "fix the problems first: an invalid design cannot run".to_owned(),
                true,
            ));
            self.tab = Tab::Review;
            return;
        }
        let topology = self.doc.topology().clone();
        let lab: LabName = match topology.name.parse() {
            Ok(l) => l,
            Err(why) => {
                self.message = Some((format!("cannot launch: {why}"), true));
                return;
            }
        };
        let expected = Phase::of(&topology).len();
        let id = self.next_id();
        let sent = self.send(LabCommand::Launch {
            id,
            lab: lab.clone(),
            topology: Box::new(topology),
        });
        if sent {
            self.lab.launching = Some(Launching {
                id,
                lab: lab.clone(),
                done: Vec::new(),
                expected,
            });
            self.tab = Tab::Timeline;
            self.note(format!("launching lab {lab}…"), false);
        }
    }

    fn file_dialog(&mut self, purpose: PathPurpose, ctx: &egui::Context) {
        let runtime = match (&self.runtime, self.no_dialog) {
            (Some(rt), false) => rt.clone(),
            _ => {
                self.path_field = Some((purpose, String::new()));
                return;
            }
        };
        let tx = self.files_tx.clone();
        let ctx = ctx.clone();
        let name = format!("{}.ron", self.doc.topology().name);
        runtime.spawn(async move {
            let started = Instant::now();
            let dialog = rfd::AsyncFileDialog::new();
            let picked = match purpose {
                PathPurpose::Open => dialog.add_filter("topology", &["ron"]).pick_file().await,
                PathPurpose::Save => {
                    dialog
                        .add_filter("topology", &["ron"])
                        .set_file_name(name)
                        .save_file()
                        .await
                }
                PathPurpose::Export => dialog.pick_folder().await,
            };
            let path = picked.map(|f| f.path().to_owned());
            let _ = tx.send(FileEvent::Picked(purpose, path, started.elapsed()));
            ctx.request_repaint();
        });
    }

    fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_MAX);
        if let (Some(file), Ok(json)) = (
            self.recent_file.clone(),
            serde_json::to_string_pretty(&self.recent),
        ) {
            let write = move || {
                if let Some(dir) = file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                // A list that cannot be kept is no reason to bother the user.
                let _ = std::fs::write(file, json);
            };
            match &self.runtime {
                Some(rt) => drop(rt.spawn_blocking(write)),
                None => write(),
            }
        }
    }

    /// Opens `path` (read off the UI thread); a file that fails to load
    /// leaves the document as it was and shows every problem with its line
    /// and column.
    pub fn open(&mut self, path: PathBuf) {
        self.background(move || {
            let result = preset::load_path(&path);
            FileEvent::Loaded(path, result)
        });
    }

    fn save_to(&mut self, path: PathBuf) {
        let topology = self.doc.topology().clone();
        let revision = self.doc.revision();
        self.background(move || {
            let result = preset::save_path(&topology, &path).map_err(|e| e.to_string());
            FileEvent::Saved(path, revision, result)
        });
    }

    fn export_to(&mut self, dir: PathBuf) {
        let t = self.doc.topology().clone();
        self.background(move || {
            let target = dir.join(&t.name);
            let result = Secrets::generate(&t.domain)
                .map_err(|e| e.to_string())
                .and_then(|secrets| {
                    crate::generate::generate(&t, &Settings::for_topology(&t), &secrets)
                        .map_err(|e| e.to_string())
                })
                .and_then(|files| {
                    if target.exists() {
                        Err(format!("{} exists already", target.display()))
                    } else {
                        crate::export::write_bundle(&files, &target).map_err(|e| e.to_string())
                    }
                })
                .map(|()| format!("exported the configs to {}", target.display()));
            FileEvent::Exported(result)
        });
    }

    /// The presets, for menus.
    pub(super) fn presets() -> impl Iterator<Item = Preset> {
        PRESETS.into_iter()
    }
}
