//! The desktop app: the document, the view state and the lab's state, drawn
//! each frame. A frame first drains what the lab and the file jobs sent
//! (`events.rs`) and moves the live view on; drawing then collects
//! [`Intent`]s, applied once drawing is done (`run.rs`), so the frame never
//! mutates what it is drawing. Lab work goes through [`LabCommand`]s and
//! file work through [`FileJobs`]: `show()` never waits on Docker or the
//! file system.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::generate::Artifacts;
use crate::model::{Finding, Problem, Subject, Topology};
use crate::preset::{PRESETS, Preset};
use crate::protocol::{CommandId, LabCommand, LabEvent, LabName};

use super::canvas::{self, CanvasState, ViewRequest};
use super::document::{Analyser, Analysis, Document};
use super::explain;
use super::files::{FileJobs, PathPurpose};
pub use super::intent::Intent;
use super::lab_view::{LabView, TimelineEntry};
use super::modal::{self, Answer, Modal};
use super::overlay;
use super::settings::{DEFAULT_BOTTOM, MIN_BOTTOM, Settings};

/// The app's channel to the lab: commands out, events in. Tests build one
/// from plain channels and play the lab themselves.
pub struct LabLink {
    /// Commands to the lab actor.
    pub commands: tokio::sync::mpsc::UnboundedSender<LabCommand>,
    /// Events from it.
    pub events: mpsc::Receiver<LabEvent>,
}

/// A message in the status bar.
#[derive(Clone, Debug)]
pub struct StatusMessage {
    /// What it says.
    pub text: String,
    /// Whether it is an error.
    pub error: bool,
    /// A folder it names, which the status bar offers to show (an export's).
    pub folder: Option<PathBuf>,
    /// When it was said.
    pub at: Instant,
}

impl StatusMessage {
    /// How long it shows: an error long enough to read and act on.
    fn keep(&self) -> Duration {
        Duration::from_secs(if self.error { 30 } else { 8 })
    }
}

/// The canvas keeps at least this much height when the bottom panel is
/// maximized.
const MIN_CANVAS: f32 = 140.0;

/// The bottom panel's height as the user wants it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BottomPanel {
    /// The height last dragged to (kept between sessions).
    pub height: f32,
    /// Maximized: as tall as the window allows.
    pub maximized: bool,
    /// The user is dragging its edge now.
    dragging: bool,
    /// Its height on screen in the last frame.
    pub shown: f32,
}

impl Default for BottomPanel {
    fn default() -> Self {
        Self {
            height: DEFAULT_BOTTOM,
            maximized: false,
            dragging: false,
            shown: 0.0,
        }
    }
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
    /// A capacity ramp: rate against latency and errors.
    Capacity,
}

/// What the app still has to do because of an earlier answer or action.
#[derive(Default)]
pub(super) struct Followups {
    /// Intents that arrived between frames (file dialogs, prompt answers).
    pub(super) deferred: Vec<Intent>,
    /// The user agreed to drop unsaved changes for the next action.
    pub(super) discard_confirmed: bool,
    /// What to do once a save succeeds (the unsaved-changes prompt's Save).
    pub(super) after_save: Option<Intent>,
    /// Close once the launch or stop in progress has finished.
    pub(super) quit_when_idle: bool,
    /// The window may close: unsaved changes were asked about.
    pub(super) quit_confirmed: bool,
    /// A lab to attach to once found, and a traffic rate to start there.
    pub(super) auto_attach: Option<(LabName, Option<f64>)>,
    /// Launch the design once the lab shown has stopped (Relaunch).
    pub(super) launch_after_stop: bool,
    /// The report to write once the user has said where.
    pub(super) report: Option<String>,
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
    /// The last message for the status bar, until it is old.
    pub message: Option<StatusMessage>,
    /// The modal dialog shown, if any (never more than one).
    pub modal: Option<Modal>,
    /// File dialogs, reads and writes, and the recent files.
    pub files: FileJobs,
    /// The file shown in the preview.
    pub preview_file: Option<String>,
    /// Dark theme.
    pub dark: bool,
    /// Whether the canvas's legend is open.
    pub legend_open: bool,
    /// The bottom panel's height, as the user wants it.
    pub bottom: BottomPanel,
    /// The help window shown, if one is.
    pub help: Option<super::Help>,
    /// The problems, findings and preview shown.
    pub(super) analysis: Analysis,
    /// Keeps `analysis` current, off the UI thread when the app has a
    /// runtime.
    analyser: Analyser,
    /// The context the analysis worker wakes, known from the first frame.
    repaint: Arc<OnceLock<egui::Context>>,
    /// The canvas between frames.
    pub(super) canvas: CanvasState,
    pub(super) followups: Followups,
    pub(super) link: LabLink,
    frame_times: Option<super::frame_times::FrameTimes>,
    /// The window title last sent.
    title: Option<String>,
    /// Numbers discrete edits, so undo never merges two of them.
    pub(super) serial: u64,
    /// The design's changes to the running lab, planned once per design
    /// revision and running topology.
    pub(super) changes: Option<super::apply::PendingChanges>,
    /// The Deploy window, once opened.
    pub(super) deploy: Option<super::deploy::DeployDialog>,
}

impl TopolabApp {
    /// The app with `topology` loaded, talking to the lab through `link`;
    /// `runtime` runs file dialogs (None: no dialogs, e.g. in tests, and
    /// the design is analysed at once instead of on a worker thread).
    pub fn new(topology: Topology, link: LabLink, runtime: Option<tokio::runtime::Handle>) -> Self {
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
            lab: LabView::new(),
            message: None,
            modal: None,
            files: FileJobs::new(runtime),
            preview_file: None,
            dark: true,
            legend_open: false,
            bottom: BottomPanel::default(),
            help: None,
            analysis: Analysis::default(),
            analyser,
            repaint,
            canvas: CanvasState::default(),
            followups: Followups::default(),
            link,
            frame_times: None,
            title: None,
            serial: 0,
            changes: None,
            deploy: None,
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
        self.files.keep_recent_in(file);
    }

    /// Keeps the settings (panel height, legend, theme) in `file`, and
    /// takes those kept there now.
    pub fn keep_settings_in(&mut self, file: PathBuf) {
        let s = self.files.keep_settings_in(file);
        self.bottom.height = s.bottom_height;
        self.legend_open = s.legend_open;
        self.dark = s.dark;
    }

    /// Keeps the settings for the next session.
    pub(super) fn keep_settings(&self) {
        self.files.keep_settings(&Settings {
            bottom_height: self.bottom.height,
            legend_open: self.legend_open,
            dark: self.dark,
        });
    }

    /// Attaches to lab `lab` as soon as the lab reports it running, and
    /// then sends `traffic` requests per second through it (`gui --lab`).
    pub fn attach_when_found(&mut self, lab: LabName, traffic: Option<f64>) {
        self.followups.auto_attach = Some((lab, traffic));
    }

    /// Records frame times and closes after `frames` frames (the
    /// `--frames` benchmark).
    pub fn measure_frames(&mut self, frames: usize) {
        self.frame_times = Some(super::frame_times::FrameTimes::new(frames));
    }

    /// Problems of the current design.
    pub fn problems(&self) -> &[Problem] {
        &self.analysis.problems
    }

    /// Findings of the current design.
    pub fn findings(&self) -> &[Finding] {
        &self.analysis.findings
    }

    /// The generated files of the current design (placeholder secrets).
    pub fn preview(&self) -> Option<&Artifacts> {
        self.analysis.preview.as_ref()
    }

    /// The canvas on screen after the last frame.
    pub fn canvas_on_screen(&self) -> Option<canvas::OnScreen> {
        self.canvas.on_screen()
    }

    /// Where the centre of `subject` was drawn on screen in the last frame.
    pub fn canvas_at(&self, subject: &Subject) -> Option<egui::Pos2> {
        self.canvas.on_screen_at(subject)
    }

    /// What the tooltip says of the link under `pointer`, if one is.
    pub fn link_tooltip(&self, pointer: egui::Pos2) -> Option<String> {
        let (from, to, kind) = self.canvas.link_at(pointer)?;
        Some(canvas::describe_link(self.doc.topology(), &from, &to, kind))
    }

    /// The name of the lab that runs, if one does.
    pub(super) fn running_lab(&self) -> Option<LabName> {
        self.lab.running.as_ref().map(|r| r.lab.clone())
    }

    pub(super) fn next_id(&mut self) -> CommandId {
        self.lab.next_id()
    }

    /// Sends a command; false (and says so) when the lab has stopped.
    pub(super) fn send(&mut self, command: LabCommand) -> bool {
        let sent = self.link.commands.send(command).is_ok();
        if !sent {
            self.say("the lab runtime has stopped".to_owned(), true);
        }
        sent
    }

    /// Says `text` in the status bar until it is old (the timeline keeps
    /// what matters).
    pub(super) fn say(&mut self, text: impl Into<String>, error: bool) {
        self.message = Some(StatusMessage {
            text: text.into(),
            error,
            folder: None,
            at: Instant::now(),
        });
    }

    /// Says that the configs went to `folder`, and offers to show it.
    pub(super) fn say_exported(&mut self, folder: PathBuf) {
        self.say(
            format!("exported the configs to {}", folder.display()),
            false,
        );
        if let Some(m) = self.message.as_mut() {
            m.folder = Some(folder);
        }
    }

    /// The status bar's message, while it is fresh; asks for the frame
    /// that clears it.
    pub(super) fn fresh_message(&self, ctx: &egui::Context) -> Option<&StatusMessage> {
        let m = self.message.as_ref()?;
        let keep = m.keep();
        let age = m.at.elapsed();
        if age >= keep {
            return None;
        }
        ctx.request_repaint_after(keep - age);
        Some(m)
    }

    /// Says `text` in the status bar and the timeline.
    pub(super) fn note(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        self.lab.timeline.push(TimelineEntry {
            at: crate::live::now(),
            text: text.clone(),
            explain: Vec::new(),
            error,
        });
        self.say(text, error);
    }

    /// Shows `modal` in place of any other (a path field it replaces counts
    /// as cancelled).
    pub(super) fn open_modal(&mut self, modal: Modal) {
        if let Some(Modal::PathField { purpose, .. }) = &self.modal {
            self.path_field_cancelled(*purpose);
        }
        self.modal = Some(modal);
    }

    /// Closes the modal dialog if `which` says it is the one shown.
    pub(super) fn close_modal_if(&mut self, which: impl Fn(&Modal) -> bool) {
        if self.modal.as_ref().is_some_and(which) {
            self.modal = None;
        }
    }

    /// Starts analysing the design when it changed, and shows an analysis
    /// of the current design once one is ready. Never waits for it.
    fn analyse(&mut self) {
        if let Some(a) = self.analyser.update(&self.doc) {
            self.analysis = a;
        }
    }

    /// Draws the whole app into `ui` and applies what the user asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let frame_start = Instant::now();
        let ctx = ui.ctx().clone();
        let theme = if self.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        };
        if ctx.theme() != theme {
            ctx.set_theme(theme);
        }
        self.drain_events();
        self.advance_live(&ctx);
        self.analyse();
        self.refresh_changes();
        if self.repaint.get().is_none() {
            let _ = self.repaint.set(ctx.clone());
        }
        self.files.wake(&ctx);
        let title = self.doc.title();
        if self.title.as_ref() != Some(&title) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = Some(title);
        }
        let mut intents = std::mem::take(&mut self.followups.deferred);
        // Behind a modal dialog, keys and dropped files do nothing.
        if self.modal.is_none() {
            self.shortcuts(&ctx, &mut intents);
            self.dropped_files(&ctx, &mut intents);
        }
        self.close_requested(&ctx, &mut intents);
        self.panels_ui(ui, &mut intents);
        self.modal_ui(&ctx, &mut intents);
        self.found_labs_ui(&ctx, &mut intents);
        self.help_ui(&ctx, &mut intents);
        self.deploy_ui(&ctx, &mut intents);
        for intent in intents {
            self.run(intent, &ctx);
        }
        // An edit of this frame starts its analysis now, not when the next
        // frame happens to come.
        self.analyse();
        self.refresh_changes();
        if self.lab.running.is_some() {
            // Rates and sparklines move with time even when no event comes:
            // every second while traffic runs, every two when the lab idles.
            let every = if self.lab.live.traffic_on { 1 } else { 2 };
            ctx.request_repaint_after(Duration::from_secs(every));
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

    /// The menu, toolbar, status bar, bottom tabs, inspector and canvas.
    fn panels_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| self.menu_ui(ui, intents));
        });
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui, intents));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui, intents));
        self.bottom_panel_ui(ui, intents);
        egui::Panel::right("inspector")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.inspector_ui(ui, intents));
            });
        egui::CentralPanel::default_margins().show(ui, |ui| self.canvas_ui(ui, intents));
    }

    /// The bottom panel at the height the user chose: egui keeps a panel's
    /// size itself, but also keeps one clamped by a window that was small
    /// for a frame (a start, a restore); the app's height wins unless the
    /// user is dragging the edge, and a drag sets it.
    fn bottom_panel_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let id = egui::Id::new("bottom");
        // The capacity tab's two plots and its steps need room.
        let least = if self.tab == Tab::Capacity {
            380.0
        } else {
            MIN_BOTTOM
        };
        let room = ui.available_height();
        let wanted = if self.bottom.maximized {
            room - MIN_CANVAS
        } else {
            self.bottom.height
        }
        .max(least);
        let pressed = ui.input(|i| i.pointer.primary_down());
        if !self.bottom.dragging {
            let outer_rect = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(0.0, wanted));
            ui.ctx().data_mut(|d| {
                d.insert_persisted(id, egui::containers::panel::PanelState { outer_rect })
            });
        }
        let shown = egui::Panel::bottom(id)
            .resizable(true)
            .min_size(least)
            .max_size((room - MIN_CANVAS).max(least))
            .show(ui, |ui| {
                // The frame fills the height set, not just the contents'.
                ui.set_min_height(ui.max_rect().height());
                self.bottom_ui(ui, intents);
            })
            .response
            .rect;
        // A grip in the middle of the edge says it can be dragged.
        let grip = egui::Rect::from_center_size(
            egui::pos2(shown.center().x, shown.top() + 3.0),
            egui::vec2(36.0, 4.0),
        );
        ui.painter().rect_filled(
            grip,
            2.0,
            ui.visuals().widgets.noninteractive.fg_stroke.color,
        );
        let height = shown.height();
        self.bottom.shown = height;
        if pressed && (height - wanted).abs() > 0.5 {
            // The user drags the edge.
            self.bottom.dragging = true;
            self.bottom.maximized = false;
            self.bottom.height = height;
        } else if self.bottom.dragging && !pressed {
            self.bottom.dragging = false;
            self.bottom.height = height;
            self.keep_settings();
        }
    }

    /// Moves the running lab's live view on before anything is drawn: closes
    /// the seconds that ended, and turns new requests into dots (which keep
    /// the window repainting while they travel).
    fn advance_live(&mut self, ctx: &egui::Context) {
        if self.lab.running.is_none() {
            return;
        }
        let live = &mut self.lab.live;
        live.state.tick(crate::live::now());
        live.advance_dots(ctx.input(|i| i.time));
        live.refresh_check();
        if live.dots() > 0 {
            ctx.request_repaint();
        }
    }

    /// The canvas, the running lab over it, its tooltip and its legend.
    fn canvas_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        self.differs_bar_ui(ui, intents);
        self.narration_ui(ui);
        let analysis = &self.analysis;
        let shown = self.canvas.show(
            ui,
            &self.doc,
            self.selection.as_ref(),
            || canvas::flags(&analysis.problems, &analysis.findings),
            self.frame_times.is_some(),
            intents,
        );
        let Some(response) = shown else {
            return;
        };
        if let (Some(on_screen), Some(positions)) =
            (self.canvas.on_screen(), self.canvas.positions())
        {
            canvas::design_ui(
                ui,
                &on_screen,
                canvas::View::load(ui),
                &positions,
                self.doc.topology(),
                self.lab.running.is_some(),
            );
        }
        if let (Some(running), Some(positions)) = (&self.lab.running, self.canvas.positions()) {
            overlay::show(
                ui,
                response.rect,
                &positions,
                &self.lab.live,
                &running.entry_points,
                &self.doc.topology().hosts,
                &self.release_badges(),
            );
        }
        // Tooltips only while no dialog covers the canvas.
        if self.modal.is_none() {
            if let Some(subject) = self.canvas.hovered() {
                response
                    .clone()
                    .on_hover_text_at_pointer(self.canvas_tooltip(subject));
            } else if let Some(text) = response.hover_pos().and_then(|p| self.link_tooltip(p)) {
                response.clone().on_hover_text_at_pointer(text);
            }
        }
        canvas::legend_ui(ui, response.rect, self.legend_open, intents);
        canvas::view_controls_ui(ui, response.rect, self.canvas.zoom(), intents);
    }

    /// While a scenario runs, what it says to watch for now, in a card over
    /// the canvas (the Scenario tab has every line).
    fn narration_ui(&self, ui: &mut egui::Ui) {
        let Some(run) = self.lab.live.scenario.as_ref() else {
            return;
        };
        let said = run.lines.iter().rev().find_map(|l| l.strip_prefix("▶ "));
        // Only while it runs: its result is in the Scenario tab.
        let (None, Some(text)) = (run.passed, said) else {
            return;
        };
        let title = format!("Scenario {} — running", run.name);
        egui::Frame::new()
            .fill(ui.visuals().extreme_bg_color)
            .stroke(egui::Stroke::new(
                1.0,
                egui::Color32::from_rgb(80, 150, 240),
            ))
            .corner_radius(6.0)
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.label(egui::RichText::new(title).strong());
                ui.label(text);
            });
    }

    /// What the canvas says of `subject` under the pointer.
    pub fn canvas_tooltip(&self, subject: &Subject) -> String {
        let mut text = match subject {
            Subject::Host(_) => format!("{subject}: {}", explain::host()),
            Subject::Component(id) => {
                format!("{subject}: {}", explain::component(self.doc.topology(), id))
            }
        };
        if self.lab.running.is_some() {
            let recorded = self
                .running_topology()
                .and_then(|t| t.host(subject.host()))
                .and_then(|h| h.app_server())
                .map(|a| a.release.as_str());
            text.push_str("\n\n");
            text.push_str(&overlay::tooltip(&self.lab.live.state, subject, recorded));
        }
        text
    }

    /// The modal dialog, if one shows, and what its answer asks for.
    fn modal_ui(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let Some(shown) = &mut self.modal else {
            return;
        };
        // The promotion dialog follows the old primary's health.
        if let Modal::Promote(d) = shown
            && let Some(Ok(a)) = &d.assessment
        {
            let db =
                crate::model::ComponentId::new(&a.old_primary, crate::model::ComponentKind::Db);
            d.primary_down =
                self.lab.live.state.node_health(&db).health == crate::live::Health::Down;
        }
        let changes = self.doc.unsaved_changes();
        match modal::show(ctx, shown, &self.doc.topology().name, &changes, intents) {
            None => {}
            Some(Answer::Close) => self.modal = None,
            Some(Answer::SaveThen(intent)) => self.save_then(intent),
            Some(Answer::Discard(intent)) => self.confirm_discard(intent),
            Some(Answer::PathCancelled(purpose)) => {
                self.path_field_cancelled(purpose);
                self.modal = None;
            }
        }
    }

    /// The window's close button: a launch or stop in progress is finished
    /// (a launch cancelled, which removes what it made) before closing, and
    /// unsaved changes are asked about.
    fn close_requested(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let busy = self.lab.launching.is_some()
            || self.lab.stopping.is_some()
            || self.lab.applying.is_some();
        if ctx.input(|i| i.viewport().close_requested()) && !self.followups.quit_confirmed {
            if busy {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                if !self.followups.quit_when_idle {
                    intents.push(Intent::Cancel);
                    self.note("closing once the lab work in progress has stopped…", false);
                }
                self.followups.quit_when_idle = true;
            } else if self.doc.dirty {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.open_modal(Modal::Unsaved(Intent::Quit));
            }
        }
        if self.followups.quit_when_idle && !busy {
            self.followups.quit_when_idle = false;
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
                intents.push(Intent::ExportDialog(super::files::ExportTarget::Compose));
            }
            if take(cmd, Key::L) {
                intents.push(Intent::Launch);
            }
            if !typing && take(Modifiers::NONE, Key::Delete) {
                intents.push(Intent::DeleteSelected);
            }
            if !typing && take(Modifiers::NONE, Key::Home) {
                intents.push(Intent::View(ViewRequest::Fit));
            }
            if take(cmd, Key::Num1) {
                intents.push(Intent::View(ViewRequest::Actual));
            }
            if take(cmd, Key::Num2)
                && let Some(s) = &self.selection
            {
                intents.push(Intent::View(ViewRequest::Show(s.clone())));
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

    /// The unsaved-changes prompt's "Discard changes".
    pub(super) fn confirm_discard(&mut self, intent: Intent) {
        self.modal = None;
        self.followups.discard_confirmed = true;
        self.followups.deferred.push(intent);
    }

    /// The unsaved-changes prompt's "Save": saves, then does `intent`.
    pub(super) fn save_then(&mut self, intent: Intent) {
        self.modal = None;
        self.followups.after_save = Some(intent);
        self.followups.deferred.push(Intent::Save);
    }

    /// The path field's Cancel.
    pub(super) fn path_field_cancelled(&mut self, purpose: PathPurpose) {
        if purpose == PathPurpose::Save {
            self.followups.after_save = None;
        }
    }

    /// Opens `path` (read off the UI thread); a file that fails to load
    /// leaves the document as it was and shows every problem with its line
    /// and column.
    pub fn open(&mut self, path: PathBuf) {
        self.files.open(path);
    }

    /// The presets, for menus.
    pub(super) fn presets() -> impl Iterator<Item = Preset> {
        PRESETS.into_iter()
    }
}
