//! The desktop app: document, view state and lab state, drawn each frame.
//! Drawing collects [`Intent`]s; they are applied after drawing, so the
//! frame never mutates what it is drawing. Lab work goes through
//! [`LabCommand`]s; `ui()` never waits on Docker or the file system.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use egui::{Color32, Key, KeyboardShortcut, Modifiers};

use crate::generate::{Artifacts, Secrets, Settings};
use crate::lab::launch::{Phase, Progress};
use crate::lab::plan::EntryPoint;
use crate::lab::protocol::{CommandId, LabCommand, LabEvent};
use crate::model::{
    Finding, FixAction, HostTemplate, Problem, Subject, Topology, add_host, delete_component,
    delete_host, review, validate,
};
use crate::preset::{self, PRESETS, Preset};

use super::canvas::CanvasGraph;
use super::document::Document;

/// The app's channel to the lab: commands out, events in. Tests build one
/// from plain channels and play the lab themselves.
pub struct LabLink {
    /// Commands to the lab actor.
    pub commands: tokio::sync::mpsc::UnboundedSender<LabCommand>,
    /// Events from it.
    pub events: mpsc::Receiver<LabEvent>,
}

/// Something the user asked for while a frame was drawn.
#[derive(Clone, Debug)]
pub enum Intent {
    /// Select a host or component (or nothing).
    Select(Option<Subject>),
    /// Replace the topology (one undoable edit, `key` coalesces runs).
    Edit {
        /// Names the edit.
        key: String,
        /// The new topology.
        topology: Box<Topology>,
    },
    /// Add a host from the palette.
    AddHost(HostTemplate),
    /// Delete the selected host or component.
    DeleteSelected,
    /// Undo.
    Undo,
    /// Redo.
    Redo,
    /// Apply a finding's fix.
    Fix(FixAction),
    /// A new, empty design.
    New,
    /// Load a preset.
    Preset(&'static str),
    /// Pick a file to open.
    OpenDialog,
    /// Open this file.
    Open(PathBuf),
    /// Save (as, when there is no path yet).
    Save,
    /// Pick where to save.
    SaveAsDialog,
    /// Save to this path.
    SaveTo(PathBuf),
    /// Pick a folder to export into.
    ExportDialog,
    /// Export the configs into this folder.
    ExportTo(PathBuf),
    /// Launch the design.
    Launch,
    /// Cancel the launch in progress.
    Cancel,
    /// Stop (remove) the running lab.
    Stop,
    /// Attach to a lab found running.
    Attach(String),
    /// Remove a lab found running.
    Remove(String),
    /// Dark or light.
    Theme(bool),
    /// Close the window.
    Quit,
}

/// A step of what the lab reported, for the timeline panel.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    /// Seconds since the app started.
    pub at: f64,
    /// What happened.
    pub text: String,
    /// The commands a person would type for it.
    pub explain: Vec<String>,
    /// A failure.
    pub error: bool,
}

/// A launch in progress.
#[derive(Clone, Debug)]
pub struct Launching {
    /// Its command.
    pub id: CommandId,
    /// The lab.
    pub lab: String,
    /// Phases done.
    pub done: Vec<Phase>,
    /// Phases expected for this topology.
    pub expected: usize,
}

/// The running lab.
#[derive(Clone, Debug)]
pub struct Running {
    /// Its name.
    pub lab: String,
    /// Where clients reach it.
    pub entry_points: Vec<EntryPoint>,
    /// The files as launched, when this app launched it.
    pub artifacts: Option<Box<Artifacts>>,
}

/// What the lab panel shows.
#[derive(Default)]
pub struct LabView {
    /// Whether Docker is reachable (None: not known yet).
    pub engine: Option<Result<(), String>>,
    /// A launch in progress.
    pub launching: Option<Launching>,
    /// The lab that runs.
    pub running: Option<Running>,
    /// A stop in progress.
    pub stopping: Option<CommandId>,
    /// What happened, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Labs found running at start, not yet attached or removed.
    pub found: Vec<(String, Option<Box<Topology>>)>,
    next_id: u64,
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
}

/// A file picked by a dialog (or typed, where there is no dialog).
enum FileEvent {
    Open(Option<PathBuf>, Duration),
    SaveAs(Option<PathBuf>, Duration),
    Export(Option<PathBuf>, Duration),
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
    pub(super) canvas_moved: bool,
    pub(super) canvas_cache: super::canvas::CanvasCache,
    analysed_revision: Option<u64>,
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
}

/// Secrets shown in previews: placeholders, never a lab's real ones.
fn preview_secrets() -> Secrets {
    let hidden = || "<secret: see .env>".to_owned();
    Secrets {
        db_root_password: hidden(),
        app_password: hidden(),
        replication_password: hidden(),
        monitor_password: hidden(),
        stats_password: hidden(),
        admin_token: hidden(),
        tls_cert_pem: "<the lab's certificate, made at launch>\n".to_owned(),
        tls_key_pem: hidden(),
    }
}

const RECENT_MAX: usize = 10;

impl TopolabApp {
    /// The app with `topology` loaded, talking to the lab through `link`;
    /// `runtime` runs file dialogs (None: no dialogs, e.g. in tests).
    pub fn new(topology: Topology, link: LabLink, runtime: Option<tokio::runtime::Handle>) -> Self {
        let (files_tx, files_rx) = mpsc::channel();
        let no_dialog = runtime.is_none();
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
            canvas_moved: false,
            canvas_cache: Default::default(),
            analysed_revision: None,
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
        };
        let id = app.next_id();
        app.send(LabCommand::Discover { id });
        app
    }

    /// Keeps the recent-files list in `file` (and loads it now).
    pub fn keep_recent_in(&mut self, file: PathBuf) {
        self.recent = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        self.recent_file = Some(file);
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

    fn next_id(&mut self) -> CommandId {
        self.lab.next_id += 1;
        CommandId(self.lab.next_id)
    }

    fn send(&mut self, command: LabCommand) {
        if self.link.commands.send(command).is_err() {
            self.message = Some(("the lab runtime has stopped".to_owned(), true));
        }
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

    /// Recomputes problems, findings and the preview when the design changed.
    fn analyse(&mut self) {
        let revision = self.doc.revision();
        if self.analysed_revision == Some(revision) {
            return;
        }
        self.analysed_revision = Some(revision);
        let t = self.doc.topology();
        self.problems = validate(t);
        self.findings = if self.problems.is_empty() {
            review(t)
        } else {
            Vec::new()
        };
        self.preview =
            crate::generate::generate(t, &Settings::for_topology(t), &preview_secrets()).ok();
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
        let title = self.doc.title();
        if self.title.as_ref() != Some(&title) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = Some(title);
        }
        let mut intents = std::mem::take(&mut self.deferred);
        self.shortcuts(&ctx, &mut intents);
        self.dropped_files(&ctx, &mut intents);
        if ctx.input(|i| i.viewport().close_requested()) && self.doc.dirty && !self.quit_confirmed {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.pending = Some(Intent::Quit);
        }

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
        if let Some(times) = &mut self.frame_times {
            ctx.request_repaint();
            if times.record(frame_start, frame_start.elapsed()) {
                times.report();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                self.frame_times = None;
            }
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
            let (purpose, path, took) = match event {
                FileEvent::Open(p, t) => (PathPurpose::Open, p, t),
                FileEvent::SaveAs(p, t) => (PathPurpose::Save, p, t),
                FileEvent::Export(p, t) => (PathPurpose::Export, p, t),
            };
            match path {
                Some(path) => {
                    let intent = match purpose {
                        PathPurpose::Open => Intent::Open(path),
                        PathPurpose::Save => Intent::SaveTo(path),
                        PathPurpose::Export => Intent::ExportTo(path),
                    };
                    self.pending_file_intent(intent);
                }
                // No answer at once means no dialog service: offer a path field.
                None if took < Duration::from_millis(150) => {
                    self.no_dialog = true;
                    self.path_field = Some((purpose, String::new()));
                    self.message = Some((
                        "no file dialog service here: type a path instead".to_owned(),
                        false,
                    ));
                }
                None => {}
            }
        }
    }

    fn pending_file_intent(&mut self, intent: Intent) {
        // File results apply outside a frame's drawing, like other intents.
        self.deferred.push(intent);
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
                self.lab.running = Some(Running {
                    lab,
                    entry_points,
                    artifacts: Some(artifacts),
                });
            }
            LabEvent::Found(found) => {
                let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                if !names.is_empty() {
                    self.note(format!("labs already running: {}", names.join(", ")), false);
                }
                self.lab.found = found;
            }
            LabEvent::Finished { id, result } => {
                let was_launch = self.lab.launching.as_ref().is_some_and(|l| l.id == id);
                if was_launch {
                    self.lab.launching = None;
                }
                if self.lab.stopping == Some(id) {
                    self.lab.stopping = None;
                    if result.is_ok() {
                        self.lab.running = None;
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
            Intent::New | Intent::Preset(_) | Intent::Open(_) | Intent::OpenDialog | Intent::Quit
        );
        if discards && self.doc.dirty && self.pending.is_none() {
            self.pending = Some(intent);
            return;
        }
        match intent {
            Intent::Select(s) => self.selection = s,
            Intent::Edit { key, topology } => self.doc.edit(&key, *topology),
            Intent::AddHost(template) => {
                let mut t = self.doc.topology().clone();
                let name = add_host(&mut t, template);
                self.doc.edit("add host", t);
                self.selection = Some(Subject::Host(name));
            }
            Intent::DeleteSelected => match self.selection.take() {
                Some(Subject::Host(h)) => self.doc.modify("delete", |t| delete_host(t, &h)),
                Some(Subject::Component(c)) => self
                    .doc
                    .modify("delete", |t| delete_component(t, &c.host, c.kind)),
                None => {}
            },
            Intent::Undo => self.doc.undo(),
            Intent::Redo => self.doc.redo(),
            Intent::Fix(action) => {
                let mut t = self.doc.topology().clone();
                if action.apply(&mut t) {
                    self.doc.edit("fix", t);
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
            Intent::OpenDialog => self.file_dialog(PathPurpose::Open),
            Intent::Open(path) => self.open(path),
            Intent::Save => match self.doc.path.clone() {
                Some(path) => self.save_to(path),
                None => self.file_dialog(PathPurpose::Save),
            },
            Intent::SaveAsDialog => self.file_dialog(PathPurpose::Save),
            Intent::SaveTo(path) => self.save_to(path),
            Intent::ExportDialog => self.file_dialog(PathPurpose::Export),
            Intent::ExportTo(dir) => self.export_to(dir),
            Intent::Launch => self.launch(),
            Intent::Cancel => {
                if let Some(l) = &self.lab.launching {
                    let launch = l.id;
                    self.send(LabCommand::Cancel { launch });
                    self.note("cancelling the launch…", false);
                }
            }
            Intent::Stop => {
                if let Some(r) = &self.lab.running {
                    let lab = r.lab.clone();
                    let id = self.next_id();
                    self.lab.stopping = Some(id);
                    self.send(LabCommand::Stop {
                        id,
                        lab: lab.clone(),
                    });
                    self.note(format!("stopping lab {lab}…"), false);
                }
            }
            Intent::Attach(lab) => {
                if let Some(pos) = self.lab.found.iter().position(|(n, _)| *n == lab) {
                    let (lab, topology) = self.lab.found.remove(pos);
                    if let Some(t) = topology {
                        self.doc.replace(*t, None);
                    }
                    self.lab.running = Some(Running {
                        lab: lab.clone(),
                        entry_points: crate::lab::state::LabState::load(&lab)
                            .ok()
                            .flatten()
                            .map(|s| s.entry_points)
                            .unwrap_or_default(),
                        artifacts: None,
                    });
                    self.note(format!("attached to lab {lab}"), false);
                }
            }
            Intent::Remove(lab) => {
                self.lab.found.retain(|(n, _)| *n != lab);
                let id = self.next_id();
                self.send(LabCommand::Stop {
                    id,
                    lab: lab.clone(),
                });
                self.note(format!("removing lab {lab}…"), false);
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
        if !self.problems.is_empty() {
            self.message = Some((
                "fix the problems first: an invalid design cannot run".to_owned(),
                true,
            ));
            self.tab = Tab::Review;
            return;
        }
        let topology = self.doc.topology().clone();
        let lab = topology.name.clone();
        let mut expected = 8;
        if topology.load_balancers().next().is_none() {
            expected -= 1;
        }
        if topology.monitoring.enabled {
            expected += 1;
        }
        let id = self.next_id();
        self.lab.launching = Some(Launching {
            id,
            lab: lab.clone(),
            done: Vec::new(),
            expected,
        });
        self.tab = Tab::Timeline;
        self.note(format!("launching lab {lab}…"), false);
        self.send(LabCommand::Launch {
            id,
            lab,
            topology: Box::new(topology),
        });
    }

    fn file_dialog(&mut self, purpose: PathPurpose) {
        let runtime = match (&self.runtime, self.no_dialog) {
            (Some(rt), false) => rt.clone(),
            _ => {
                self.path_field = Some((purpose, String::new()));
                return;
            }
        };
        let tx = self.files_tx.clone();
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
            let took = started.elapsed();
            let _ = tx.send(match purpose {
                PathPurpose::Open => FileEvent::Open(path, took),
                PathPurpose::Save => FileEvent::SaveAs(path, took),
                PathPurpose::Export => FileEvent::Export(path, took),
            });
        });
    }

    fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_MAX);
        if let (Some(file), Ok(json)) = (
            &self.recent_file,
            serde_json::to_string_pretty(&self.recent),
        ) {
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // A list that cannot be kept is no reason to bother the user.
            let _ = std::fs::write(file, json);
        }
    }

    /// Opens `path`; a file that fails to load leaves the document as it was
    /// and shows every problem with its line and column.
    pub fn open(&mut self, path: PathBuf) {
        match preset::load_path(&path) {
            Ok(t) => {
                self.doc.replace(t, Some(path.clone()));
                self.selection = None;
                self.load_errors = None;
                self.message = Some((format!("opened {}", path.display()), false));
                self.remember(path);
            }
            Err(preset::LoadError::Invalid { origin, problems }) => {
                self.load_errors = Some((origin, problems));
            }
            Err(e) => {
                self.load_errors = Some((
                    path.display().to_string(),
                    vec![Problem::general(e.to_string())],
                ))
            }
        }
    }

    fn save_to(&mut self, path: PathBuf) {
        match preset::save_path(self.doc.topology(), &path) {
            Ok(()) => {
                self.doc.saved(path.clone());
                self.message = Some((format!("saved {}", path.display()), false));
                self.remember(path);
            }
            Err(e) => self.message = Some((format!("cannot save {}: {e}", path.display()), true)),
        }
    }

    fn export_to(&mut self, dir: PathBuf) {
        let t = self.doc.topology().clone();
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
            });
        match result {
            Ok(()) => {
                self.message = Some((
                    format!("exported the configs to {}", target.display()),
                    false,
                ))
            }
            Err(e) => self.message = Some((format!("export failed: {e}"), true)),
        }
    }

    /// The presets, for menus.
    pub(super) fn presets() -> impl Iterator<Item = Preset> {
        PRESETS.into_iter()
    }
}
