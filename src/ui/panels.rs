//! Menus, toolbar, status bar, the bottom tabs (review, config preview,
//! timeline, traffic, scenario) and the window of labs found running.

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, TextFormat};

use super::app::{Tab, TopolabApp};
use super::canvas::ViewRequest;
use super::explain;
use super::files::{DiagramFormat, ExportTarget};
use super::intent::Intent;
use super::lab_view::Operation;
use super::style::{ERROR, OK, WARN};
use crate::model::{Category, HostTemplate};
use crate::stopwatch;

impl TopolabApp {
    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        ui.menu_button("File", |ui| {
            if ui.button("New  (Ctrl+N)").clicked() {
                intents.push(Intent::New);
            }
            if ui.button("Open…  (Ctrl+O)").clicked() {
                intents.push(Intent::OpenDialog);
            }
            ui.menu_button("Open recent", |ui| {
                if self.files.recent.is_empty() {
                    ui.label("nothing yet");
                }
                for path in &self.files.recent {
                    if ui.button(path.display().to_string()).clicked() {
                        intents.push(Intent::Open(path.clone()));
                    }
                }
            });
            ui.menu_button("Presets", |ui| self.presets_ui(ui, intents));
            ui.separator();
            if ui.button("Save  (Ctrl+S)").clicked() {
                intents.push(Intent::Save);
            }
            if ui.button("Save as…  (Ctrl+Shift+S)").clicked() {
                intents.push(Intent::SaveAsDialog);
            }
            if ui.button("Export configs…  (Ctrl+E)").clicked() {
                intents.push(Intent::ExportDialog(ExportTarget::Compose));
            }
            if ui
                .button("Export for Kubernetes…")
                .on_hover_text(
                    "Manifests for a cluster: a pod per host, configs by name, a Service per entry point",
                )
                .clicked()
            {
                intents.push(Intent::ExportDialog(ExportTarget::Kubernetes));
            }
            if ui
                .button("Export diagram as SVG…")
                .on_hover_text("The design as a vector drawing, for slides and notes")
                .clicked()
            {
                intents.push(Intent::DiagramDialog(DiagramFormat::Svg));
            }
            if ui
                .button("Export diagram as PNG…")
                .on_hover_text("The design as an image, at twice the canvas's size")
                .clicked()
            {
                intents.push(Intent::DiagramDialog(DiagramFormat::Png));
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                intents.push(Intent::Quit);
            }
        });
        ui.menu_button("Edit", |ui| {
            let undo = match self.doc.undo_label() {
                Some(what) => format!("Undo {what}  (Ctrl+Z)"),
                None => "Undo  (Ctrl+Z)".to_owned(),
            };
            if ui
                .add_enabled(self.doc.can_undo(), egui::Button::new(undo))
                .clicked()
            {
                intents.push(Intent::Undo);
            }
            let redo = match self.doc.redo_label() {
                Some(what) => format!("Redo {what}  (Ctrl+Shift+Z)"),
                None => "Redo  (Ctrl+Shift+Z)".to_owned(),
            };
            if ui
                .add_enabled(self.doc.can_redo(), egui::Button::new(redo))
                .clicked()
            {
                intents.push(Intent::Redo);
            }
            if ui
                .add_enabled(
                    self.selection.is_some(),
                    egui::Button::new("Delete selected  (Del)"),
                )
                .clicked()
            {
                intents.push(Intent::DeleteSelected);
            }
        });
        ui.menu_button("View", |ui| {
            if ui.button("Fit to view\tHome").clicked() {
                intents.push(Intent::View(ViewRequest::Fit));
            }
            if ui.button("Zoom to 100%\tCtrl+1").clicked() {
                intents.push(Intent::View(ViewRequest::Actual));
            }
            if ui
                .add_enabled(
                    self.selection.is_some(),
                    egui::Button::new("Zoom to selection\tCtrl+2"),
                )
                .clicked()
                && let Some(s) = &self.selection
            {
                intents.push(Intent::View(ViewRequest::Show(s.clone())));
            }
            if ui
                .checkbox(&mut self.legend_open.clone(), "Legend")
                .clicked()
            {
                intents.push(Intent::Legend(!self.legend_open));
            }
            ui.separator();
            if ui.radio(self.dark, "Dark theme").clicked() {
                intents.push(Intent::Theme(true));
            }
            if ui.radio(!self.dark, "Light theme").clicked() {
                intents.push(Intent::Theme(false));
            }
        });
        ui.menu_button("Lab", |ui| self.lab_buttons(ui, intents));
        ui.menu_button("Help", |ui| {
            if ui.button("Keyboard shortcuts").clicked() {
                intents.push(Intent::Help(Some(Help::Shortcuts)));
            }
            if ui.button("What each fault does").clicked() {
                intents.push(Intent::Help(Some(Help::Faults)));
            }
        });
    }

    /// The help window, while open.
    pub(super) fn help_ui(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let Some(topic) = self.help else {
            return;
        };
        let mut open = true;
        let title = match topic {
            Help::Shortcuts => "Keyboard shortcuts",
            Help::Faults => "What each fault does",
        };
        egui::Window::new(title)
            .open(&mut open)
            .collapsible(false)
            .default_width(520.0)
            .show(ctx, |ui| match topic {
                Help::Shortcuts => {
                    egui::Grid::new("shortcuts").num_columns(2).striped(true).show(ui, |ui| {
                        for (keys, what) in SHORTCUTS {
                            ui.label(RichText::new(*keys).monospace());
                            ui.label(*what);
                            ui.end_row();
                        }
                    });
                }
                Help::Faults => {
                    ui.label("Select a host or a component on the canvas while a lab runs: its faults are in the inspector (only those that fit it). Heal undoes them.");
                    egui::Grid::new("faults").num_columns(2).striped(true).show(ui, |ui| {
                        for kind in crate::protocol::FaultKind::ALL {
                            ui.label(RichText::new(kind.as_str()).monospace().strong());
                            ui.label(kind.describe());
                            ui.end_row();
                        }
                    });
                }
            });
        if !open {
            intents.push(Intent::Help(None));
        }
    }

    fn presets_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        for p in Self::presets() {
            if ui.button(p.name).on_hover_text(p.description()).clicked() {
                intents.push(Intent::Preset(p.name));
            }
        }
    }

    fn lab_buttons(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let docker = matches!(self.lab.engine, Some(Ok(())));
        let idle = self.lab.launching.is_none() && self.lab.running.is_none();
        if ui
            .add_enabled(docker && idle, egui::Button::new("▶ Launch"))
            .on_hover_text("Run this design as real containers (Ctrl+L)")
            .clicked()
        {
            intents.push(Intent::Launch);
        }
        if self.lab.launching.is_some() && ui.button("✖ Cancel launch").clicked() {
            intents.push(Intent::Cancel);
        }
        if ui
            .add_enabled(
                self.lab.running.is_some()
                    && self.lab.stopping.is_none()
                    && self.lab.applying.is_none(),
                egui::Button::new("■ Stop"),
            )
            .on_hover_text("Remove every container, network and volume of the lab")
            .on_disabled_hover_text(match self.lab.applying.as_ref().map(|a| a.verb()) {
                Some("deploy") => "A deploy is in progress: wait for it, or stop it",
                Some(_) => "An apply is in progress: wait for it, or cancel it",
                None => "No lab runs here",
            })
            .clicked()
        {
            intents.push(Intent::Stop);
        }
        if ui
            .add_enabled(self.lab.running.is_some(), egui::Button::new("Deploy…"))
            .on_hover_text(
                "Roll a release of the application out to the running lab's servers, batch by \
                 batch, with a canary and an automatic rollback",
            )
            .on_disabled_hover_text("Launch the design first: a deploy changes a running lab")
            .clicked()
        {
            intents.push(Intent::DeployDialog);
        }
        ui.separator();
        let design = self.doc.topology().name.clone();
        let busy = self
            .lab
            .live
            .scenario
            .as_ref()
            .is_some_and(|s| s.passed.is_none());
        ui.menu_button("Run scenario", |ui| {
            for s in crate::scenario::SHIPPED {
                let fits = self.lab.running.is_some() && s.design == design && !busy;
                let hint = if self.lab.running.is_none() {
                    format!("Launch the {} design first", s.design)
                } else if s.design != design {
                    format!(
                        "Written for the {} design (this lab runs {design})",
                        s.design
                    )
                } else {
                    "Runs its steps on this lab, then shows the stopwatch".to_owned()
                };
                if ui
                    .add_enabled(fits, egui::Button::new(s.name))
                    .on_hover_text(&hint)
                    .on_disabled_hover_text(hint)
                    .clicked()
                {
                    intents.push(Intent::Scenario(s.name));
                }
            }
        });
    }

    pub(super) fn toolbar_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Add:").strong());
            for template in HostTemplate::ALL {
                if ui
                    .button(format!("+ {}", template.label()))
                    .on_hover_text(explain::template(template))
                    .clicked()
                {
                    intents.push(Intent::AddHost(template));
                }
            }
            ui.separator();
            ui.menu_button("Presets", |ui| self.presets_ui(ui, intents));
            ui.separator();
            self.lab_buttons(ui, intents);
            if let Some(l) = &self.lab.launching {
                let fraction = l.done.len() as f32 / l.expected.max(1) as f32;
                let current = match l.done.last() {
                    Some(p) => p.label(),
                    // The images phase takes a minute when it builds them.
                    None if l.building_images => "building images (about a minute)",
                    None => "starting",
                };
                let bar = egui::ProgressBar::new(fraction)
                    .desired_width(260.0)
                    .text(format!("{}: {current}", l.lab));
                // Nothing to count while the images build: show it moving.
                let bar = if l.building_images && l.done.is_empty() {
                    bar.animate(true)
                } else {
                    bar
                };
                ui.add(bar);
            }
        });
    }

    pub(super) fn status_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        ui.horizontal(|ui| {
            let lab = match (&self.lab.engine, &self.lab.launching, &self.lab.running) {
                (Some(Err(_)), _, _) => {
                    RichText::new("Lab: Docker unavailable (the designer works)").color(WARN)
                }
                (None, _, _) => RichText::new("Lab: looking for Docker…"),
                (_, Some(l), _) => RichText::new(format!("Lab: launching {}", l.lab)).color(WARN),
                (_, _, Some(_)) if self.lab.applying.is_some() => {
                    let text = self.lab.applying.as_ref().map_or_else(String::new, |a| {
                        let what = match &a.operation {
                            Operation::Apply(_) => "applying changes".to_owned(),
                            Operation::Deploy(plan) => format!("deploying {}", plan.version),
                        };
                        format!(
                            "Lab: {what} ({}/{} done)",
                            a.done.min(a.planned()),
                            a.planned()
                        )
                    });
                    RichText::new(text).color(WARN)
                }
                (_, _, Some(r)) => {
                    let urls = super::events::entry_urls(&r.entry_points, &r.vip_ports);
                    RichText::new(format!("Lab: {} running  {}", r.lab, urls.join("  "))).color(OK)
                }
                _ => RichText::new("Lab: not running"),
            };
            ui.label(lab);
            ui.separator();
            let (p, f) = (self.analysis.problems.len(), self.analysis.findings.len());
            if self.analysis_pending() {
                // The counts below are the previous design's until then.
                ui.label(RichText::new("checking…").italics());
            }
            if p > 0 {
                ui.label(RichText::new(format!("{p} problem(s)")).color(ERROR));
            } else {
                ui.label(RichText::new(format!("valid · {f} finding(s)")).color(OK));
            }
            if let Some(m) = self.fresh_message(ui.ctx()) {
                ui.separator();
                ui.label(RichText::new(&m.text).color(if m.error {
                    ERROR
                } else {
                    ui.visuals().text_color()
                }));
                // Right after an export: where it went, one click away.
                if let Some(folder) = &m.folder
                    && ui.small_button("Show in folder").clicked()
                {
                    intents.push(Intent::ShowFolder(folder.clone()));
                }
            }
        });
    }

    pub(super) fn bottom_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        ui.horizontal(|ui| {
            let review = format!(
                "Problems & review ({})",
                self.analysis.problems.len() + self.analysis.findings.len()
            );
            ui.selectable_value(&mut self.tab, Tab::Review, review);
            ui.selectable_value(&mut self.tab, Tab::Preview, "Config preview");
            ui.selectable_value(
                &mut self.tab,
                Tab::Timeline,
                format!("Timeline ({})", self.lab.timeline.len()),
            );
            ui.selectable_value(&mut self.tab, Tab::Traffic, "Traffic");
            ui.selectable_value(&mut self.tab, Tab::Capacity, "Capacity");
            if self.lab.live.scenario.is_some() {
                ui.selectable_value(&mut self.tab, Tab::Scenario, "Scenario");
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let (label, hint) = if self.bottom.maximized {
                    ("Restore", "Back to the height you dragged it to")
                } else {
                    (
                        "Maximize",
                        "As tall as the window allows (drag the edge above to resize)",
                    )
                };
                if ui.small_button(label).on_hover_text(hint).clicked() {
                    intents.push(Intent::MaximizeBottom(!self.bottom.maximized));
                }
            });
        });
        ui.separator();
        match self.tab {
            Tab::Review => {
                egui::ScrollArea::vertical()
                    .id_salt("review")
                    .show(ui, |ui| self.review_ui(ui, intents));
            }
            Tab::Preview => self.preview_ui(ui),
            Tab::Timeline => self.timeline_ui(ui, intents),
            Tab::Scenario => {
                egui::ScrollArea::vertical()
                    .id_salt("scenario")
                    .stick_to_bottom(true)
                    .show(ui, |ui| self.scenario_ui(ui, intents));
            }
            Tab::Capacity => {
                egui::ScrollArea::vertical()
                    .id_salt("capacity")
                    .show(ui, |ui| self.capacity_ui(ui, intents));
            }
            Tab::Traffic => {
                egui::ScrollArea::vertical()
                    .id_salt("traffic")
                    .show(ui, |ui| self.traffic_ui(ui, intents));
            }
        }
    }

    fn review_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        if let Some(Err(why)) = &self.lab.engine {
            ui.label(RichText::new(format!("Lab unavailable: {why}")).color(WARN));
        }
        for p in &self.analysis.problems {
            ui.horizontal(|ui| {
                ui.label(RichText::new("✖ problem").color(ERROR));
                let text = p.to_string();
                if ui
                    .link(text)
                    .on_hover_text("Select what it names")
                    .clicked()
                {
                    intents.push(Intent::Select(p.subject.clone()));
                }
            });
        }
        if self.analysis.problems.is_empty() && self.analysis.findings.is_empty() {
            ui.label(RichText::new("✔ valid, and the design review has no findings").color(OK));
        }
        for category in [Category::Spof, Category::Security, Category::Monitoring] {
            for f in self
                .analysis
                .findings
                .iter()
                .filter(|f| f.category == category)
            {
                ui.horizontal_wrapped(|ui| {
                    let tag = match f.category {
                        Category::Spof => "⚠ single point of failure",
                        Category::Security => "🔒 security",
                        Category::Monitoring => "📈 monitoring",
                    };
                    ui.label(RichText::new(tag).color(WARN));
                    let title = ui
                        .link(&f.title)
                        .on_hover_text(format!("{}\n\nFix: {}", f.explanation, f.fix));
                    if title.clicked() {
                        intents.push(Intent::Select(f.subjects.first().cloned()));
                    }
                    if let Some(action) = f.action
                        && ui
                            .small_button(format!("Fix: {}", action.label()))
                            .clicked()
                    {
                        intents.push(Intent::Fix(action));
                    }
                });
            }
        }
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui) {
        let launched = self
            .lab
            .running
            .as_ref()
            .and_then(|r| r.artifacts.as_deref());
        let artifacts = match (launched, &self.analysis.preview) {
            (Some(a), _) => a,
            (None, Some(a)) => a,
            (None, None) => {
                ui.label("Fix the problems to see the generated files.");
                return;
            }
        };
        if launched.is_some() {
            ui.label(
                RichText::new(
                    "Files as launched (e.g. MariaDB's where the local profile runs it for mysql)",
                )
                .italics(),
            );
        }
        let host = self.selection.as_ref().map(|s| s.host().to_string());
        let files: Vec<&str> = artifacts
            .iter()
            .map(|(p, _)| p)
            .filter(|p| match &host {
                Some(h) => p.starts_with(&format!("{h}/")) && !p.ends_with(".html"),
                None => !p.contains('/') || p.starts_with("monitoring/"),
            })
            .filter(|p| *p != ".env")
            .collect();
        if files.is_empty() {
            ui.label("No files for this selection.");
            return;
        }
        let chosen = match &self.preview_file {
            Some(f) if files.contains(&f.as_str()) => f.clone(),
            _ => files[0].to_owned(),
        };
        ui.horizontal_wrapped(|ui| {
            for f in &files {
                if ui.selectable_label(*f == chosen, *f).clicked() {
                    self.preview_file = Some((*f).to_owned());
                }
            }
        });
        let text = artifacts.get(&chosen).unwrap_or_default();
        let job = highlight(&chosen, text, ui.visuals().dark_mode);
        egui::ScrollArea::both().id_salt("preview").show(ui, |ui| {
            ui.add(egui::Label::new(job).selectable(true));
        });
    }

    fn timeline_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        egui::ScrollArea::vertical().id_salt("timeline").stick_to_bottom(true).show(ui, |ui| {
            if self.lab.timeline.is_empty() {
                ui.label("Nothing yet: launch the design to see each step here, with the command a person would type for it.");
            }
            for (i, e) in self.lab.timeline.iter().enumerate() {
                let when = self.lab.since_origin(e.at);
                let clock = format!("{} UTC", stopwatch::clock(e.at));
                let text = RichText::new(format!("{when:>10}  {}", e.text)).monospace();
                let text = if e.error { text.color(ERROR) } else { text };
                if e.explain.is_empty() {
                    ui.label(text).on_hover_text(clock);
                } else {
                    egui::CollapsingHeader::new(text).id_salt(("step", i)).show(ui, |ui| {
                        for cmd in &e.explain {
                            ui.add(egui::Label::new(RichText::new(format!("$ {cmd}")).monospace()).selectable(true));
                        }
                    }).header_response.on_hover_text(clock);
                }
            }
            self.live_timeline_ui(ui, intents);
        });
    }

    /// The labs found running at start, until attached, removed or
    /// ignored (not modal: the app works meanwhile).
    pub(super) fn found_labs_ui(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        if !self.lab.found.is_empty() {
            egui::Window::new("Labs already running")
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label("These labs were launched by the CLI or left by a crash:");
                    let mut ignore = None;
                    for found in &self.lab.found {
                        let lab = &found.lab;
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(lab.as_str()).strong());
                            if ui
                                .add_enabled(found.topology.is_some(), egui::Button::new("Attach"))
                                .on_hover_text("Show it here (loads its topology)")
                                .clicked()
                            {
                                intents.push(Intent::Attach(lab.clone()));
                            }
                            if ui
                                .button("Remove")
                                .on_hover_text("Remove its containers, networks and volumes")
                                .clicked()
                            {
                                intents.push(Intent::Remove(lab.clone()));
                            }
                            if ui
                                .button("Ignore")
                                .on_hover_text("Leave it running; `topolab status` shows it")
                                .clicked()
                            {
                                ignore = Some(lab.clone());
                            }
                        });
                        // A damaged state file: why it cannot be attached.
                        if let Some(why) = &found.state_error {
                            ui.label(RichText::new(format!("Cannot attach: {why}")).color(ERROR));
                        }
                    }
                    if let Some(lab) = ignore {
                        self.lab.found.retain(|f| f.lab != lab);
                    }
                });
        }
    }
}

/// Syntax colouring for the preview: comments, section headers, the first
/// word of a directive, and quoted strings.
pub fn highlight(path: &str, text: &str, dark: bool) -> LayoutJob {
    let font = FontId::monospace(12.5);
    let plain = if dark {
        Color32::from_gray(215)
    } else {
        Color32::from_gray(30)
    };
    let comment = Color32::from_gray(130);
    let keyword = if dark {
        Color32::from_rgb(120, 170, 250)
    } else {
        Color32::from_rgb(20, 80, 180)
    };
    let section = if dark {
        Color32::from_rgb(230, 170, 80)
    } else {
        Color32::from_rgb(170, 90, 0)
    };
    let string = if dark {
        Color32::from_rgb(140, 200, 120)
    } else {
        Color32::from_rgb(30, 120, 30)
    };
    let comment_prefix = if path.ends_with(".sql") { "--" } else { "#" };
    let mut job = LayoutJob::default();
    let add = |job: &mut LayoutJob, s: &str, color: Color32| {
        job.append(s, 0.0, TextFormat::simple(font.clone(), color));
    };
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with(comment_prefix) || trimmed.starts_with("//") {
            add(&mut job, line, comment);
            continue;
        }
        if trimmed.starts_with('[')
            || (!line.starts_with(' ')
                && !trimmed.is_empty()
                && !path.ends_with(".sql")
                && !path.ends_with(".json"))
        {
            add(&mut job, line, section);
            continue;
        }
        let indent = line.len() - trimmed.len();
        add(&mut job, &line[..indent], plain);
        let (word, rest) = trimmed.split_at(
            trimmed
                .find(|c: char| c.is_whitespace() || c == '=' || c == ':')
                .unwrap_or(trimmed.len()),
        );
        add(&mut job, word, keyword);
        let mut in_string = false;
        let mut start = 0;
        for (i, c) in rest.char_indices() {
            if c == '"' || c == '\'' {
                if in_string {
                    add(&mut job, &rest[start..=i], string);
                    start = i + 1;
                } else {
                    add(&mut job, &rest[start..i], plain);
                    start = i;
                }
                in_string = !in_string;
            }
        }
        add(
            &mut job,
            &rest[start..],
            if in_string { string } else { plain },
        );
    }
    job
}

/// A help window's topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Help {
    /// The keyboard shortcuts.
    Shortcuts,
    /// What each fault does.
    Faults,
}

/// Every keyboard shortcut, as the Help menu lists it.
const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+N", "New design"),
    ("Ctrl+O", "Open a design"),
    ("Ctrl+S / Ctrl+Shift+S", "Save / Save as"),
    ("Ctrl+E", "Export the configs"),
    (
        "Ctrl+Z / Ctrl+Shift+Z",
        "Undo / Redo (the Edit menu names the action)",
    ),
    ("Delete", "Delete the selected host or component"),
    ("Ctrl+L", "Launch the design as a lab"),
    ("Home", "Fit the whole design in view"),
    ("Ctrl+1", "Zoom to 100%"),
    ("Ctrl+2", "Zoom to the selection"),
    ("Ctrl+wheel", "Zoom at the pointer"),
    ("Drag the background", "Pan"),
    ("Esc", "Cancel a dialog"),
];
