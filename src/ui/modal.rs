//! The modal dialogs: unsaved changes, a file that failed to load, the path
//! field (where there is no file dialog), the promotion dialog and the
//! plan of an apply. They
//! exclude each other: the app holds at most one [`Modal`], and keys and
//! dropped files do nothing while it shows. Each is drawn from its own
//! state only; what the user chose comes back as [`Intent`]s and an
//! [`Answer`] the app applies.

use std::path::PathBuf;

use egui::RichText;

use super::files::{DiagramFormat, ExportTarget, PathPurpose};
use super::intent::Intent;
use super::style::{ERROR, health_color, impact_color};
use crate::change::{Action, ChangePlan, Step};
use crate::live::Health;
use crate::model::{Host, HostName, Problem, Topology};
use crate::protocol::{Assessment, CommandId, LabName};

/// The one modal dialog shown.
#[derive(Clone, Debug)]
pub enum Modal {
    /// Unsaved changes: the action (a quit included) waiting for the answer.
    Unsaved(Intent),
    /// A file that failed to load (shown until dismissed).
    LoadErrors {
        /// The file.
        origin: String,
        /// Every problem, with its line and column.
        problems: Vec<Problem>,
    },
    /// The path field, shown where there is no file dialog.
    PathField {
        /// What the path is for.
        purpose: PathPurpose,
        /// What was typed so far.
        text: String,
    },
    /// Promoting a replica: the assessment first, then the choice.
    Promote(PromoteDialog),
    /// A launch found the lab's images missing: build them?
    BuildImages {
        /// The first image found missing.
        image: String,
    },
    /// Applying the design to the running lab: the plan, before anything
    /// is sent.
    Apply(ApplyDialog),
}

/// The apply dialog: what applying the design would do to the lab.
#[derive(Clone, Debug)]
pub struct ApplyDialog {
    /// The lab.
    pub lab: LabName,
    /// The design as planned: what Apply sends.
    pub topology: Box<Topology>,
    /// What applying it does.
    pub plan: ChangePlan,
    /// What its destructive actions lose, in words (`delete web-02/db's
    /// data`): the confirming button names them.
    pub losses: Vec<String>,
}

impl ApplyDialog {
    /// The dialog for applying `topology` to lab `lab`, which runs
    /// `running`, with `plan`.
    pub fn new(
        lab: LabName,
        topology: Box<Topology>,
        plan: ChangePlan,
        running: &Topology,
    ) -> Self {
        let losses = plan
            .destructive()
            .map(|a| match &a.step {
                Step::RemoveHost(h) if running.host(h).and_then(Host::database).is_some() => {
                    format!("delete {h} and {h}/db's data")
                }
                Step::RemoveHost(h) => format!("remove {h}"),
                Step::RemoveComponent { host, kind } => format!("delete {host}/{kind}'s data"),
                _ => a.summary.clone(),
            })
            .collect();
        Self {
            lab,
            topology,
            plan,
            losses,
        }
    }

    /// What the confirming button says: `Apply`, or `Apply and ` what is
    /// lost.
    pub fn confirm_label(&self) -> String {
        match self.losses.as_slice() {
            [] => "Apply".to_owned(),
            [one] => format!("Apply and {one}"),
            [most @ .., last] => format!("Apply and {} and {last}", most.join(", ")),
        }
    }
}

/// The promotion dialog: the replica, and the assessment once it came.
#[derive(Clone, Debug)]
pub struct PromoteDialog {
    /// The Assess command.
    pub id: CommandId,
    /// The replica's host.
    pub replica: HostName,
    /// The report, or why there is none.
    pub assessment: Option<Result<Assessment, String>>,
    /// The old primary is down (no planned switchover then).
    pub primary_down: bool,
}

/// What the user answered, beyond the intents a dialog pushes.
#[derive(Clone, Debug)]
pub enum Answer {
    /// Close the dialog.
    Close,
    /// The unsaved-changes prompt's Save: save, then do this.
    SaveThen(Intent),
    /// The unsaved-changes prompt's Discard: do this, dropping the changes.
    Discard(Intent),
    /// The path field was cancelled.
    PathCancelled(PathPurpose),
}

/// Draws `modal` (`design`: the name of the design being edited;
/// `changes`: what changed in it since the last save).
pub fn show(
    ctx: &egui::Context,
    modal: &mut Modal,
    design: &str,
    changes: &[String],
    intents: &mut Vec<Intent>,
) -> Option<Answer> {
    match modal {
        Modal::Unsaved(pending) => unsaved_ui(ctx, pending, design, changes),
        Modal::LoadErrors { origin, problems } => load_errors_ui(ctx, origin, problems),
        Modal::PathField { purpose, text } => path_field_ui(ctx, *purpose, text, intents),
        Modal::Promote(dialog) => {
            promote_ui(ctx, dialog, intents);
            None
        }
        Modal::BuildImages { image } => build_images_ui(ctx, image, intents),
        Modal::Apply(dialog) => apply_ui(ctx, dialog, intents),
    }
}

fn unsaved_ui(
    ctx: &egui::Context,
    pending: &Intent,
    design: &str,
    changes: &[String],
) -> Option<Answer> {
    /// Changes named in the prompt; the rest are counted.
    const NAMED: usize = 6;
    let mut answer = None;
    egui::Modal::new(egui::Id::new("unsaved")).show(ctx, |ui| {
        ui.heading("Unsaved changes");
        ui.label(format!("{design} has changes that are not saved."));
        if !changes.is_empty() {
            // A run of the same edit once, counted: "move ×5".
            let mut runs: Vec<(&str, usize)> = Vec::new();
            for c in changes {
                match runs.last_mut() {
                    Some((last, n)) if *last == c.as_str() => *n += 1,
                    _ => runs.push((c.as_str(), 1)),
                }
            }
            let mut named = runs
                .iter()
                .take(NAMED)
                .map(|(c, n)| if *n > 1 { format!("{c} ×{n}") } else { (*c).to_owned() })
                .collect::<Vec<_>>()
                .join(", ");
            if runs.len() > NAMED {
                named.push_str(&format!(" and {} more", runs.len() - NAMED));
            }
            ui.label(format!("Since the last save: {named}."));
        }
        if changes.iter().any(|c| c == "promotion") {
            ui.label(
                RichText::new(
                    "The promotion changed the design's roles: saving keeps the promoted replica as the primary.",
                )
                .weak(),
            );
        }
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                answer = Some(Answer::SaveThen(pending.clone()));
            }
            if ui.button("Discard changes").clicked() {
                answer = Some(Answer::Discard(pending.clone()));
            }
            if ui.button("Cancel").clicked() {
                answer = Some(Answer::Close);
            }
        });
    });
    answer
}

fn load_errors_ui(ctx: &egui::Context, origin: &str, problems: &[Problem]) -> Option<Answer> {
    let mut answer = None;
    egui::Modal::new(egui::Id::new("load-errors")).show(ctx, |ui| {
        ui.heading("Cannot open the file");
        // A file that cannot be read is not an invalid topology.
        let unreadable = problems.len() == 1
            && problems[0].at.is_none()
            && problems[0].message.starts_with("cannot read");
        ui.label(if unreadable {
            format!("{origin} could not be read. The current design is unchanged.")
        } else {
            format!("{origin} is not a valid topology. The current design is unchanged.")
        });
        egui::ScrollArea::vertical()
            .max_height(240.0)
            .show(ui, |ui| {
                for p in problems {
                    ui.label(RichText::new(p.to_string()).color(ERROR).monospace());
                }
            });
        if ui.button("OK").clicked() {
            answer = Some(Answer::Close);
        }
    });
    answer
}

fn path_field_ui(
    ctx: &egui::Context,
    purpose: PathPurpose,
    text: &mut String,
    intents: &mut Vec<Intent>,
) -> Option<Answer> {
    let mut answer = None;
    egui::Modal::new(egui::Id::new("path-field")).show(ctx, |ui| {
        ui.set_min_width(460.0);
        let what = match purpose {
            PathPurpose::Open => "Open a topology file",
            PathPurpose::Save => "Save the topology as",
            PathPurpose::Export(ExportTarget::Compose) => "Export the configs into the folder",
            PathPurpose::Export(ExportTarget::Kubernetes) => {
                "Export Kubernetes manifests into the folder"
            }
            PathPurpose::Report => "Save the lab report as",
            PathPurpose::History => "Save the history of writes and probes as",
            PathPurpose::Diagram(format) => match format {
                DiagramFormat::Svg => "Export the diagram as SVG",
                DiagramFormat::Png => "Export the diagram as PNG",
            },
        };
        ui.heading(what);
        ui.label("No file dialog is available here: type the path (~ is your home folder).");
        let label = ui.label("Path");
        let output = egui::TextEdit::singleline(text)
            .desired_width(f32::INFINITY)
            .show(ui);
        let edit = output.response.response.clone().labelled_by(label.id);
        // Typing goes to the field at once, and replaces the proposed path
        // (selected whole) unless the user moves into it first.
        if !edit.has_focus() && ui.memory(|m| m.focused().is_none()) {
            edit.request_focus();
            let mut state = output.state;
            let all = egui::text::CCursorRange::two(
                egui::text::CCursor::new(0),
                egui::text::CCursor::new(text.chars().count()),
            );
            state.cursor.set_char_range(Some(all));
            state.store(ui.ctx(), edit.id);
        }
        let path = chosen_path(purpose, text);
        if let Some(p) = &path {
            match purpose {
                PathPurpose::Open if !p.is_file() => {
                    ui.label(RichText::new(format!("{} is not a file", p.display())).color(ERROR));
                }
                PathPurpose::Save
                | PathPurpose::Export(_)
                | PathPurpose::Diagram(_)
                | PathPurpose::Report
                | PathPurpose::History => {
                    let folder = match purpose {
                        PathPurpose::Export(_) => Some(p.clone()),
                        _ => p.parent().map(PathBuf::from),
                    };
                    if let Some(f) = folder.filter(|f| !f.as_os_str().is_empty() && !f.exists()) {
                        ui.label(format!("{} does not exist: OK creates it", f.display()));
                    }
                    if !matches!(purpose, PathPurpose::Export(_)) {
                        ui.weak(format!("saves to {}", p.display()));
                    }
                }
                PathPurpose::Open => {}
            }
        }
        let (enter, escape) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::Enter),
                i.key_pressed(egui::Key::Escape),
            )
        });
        ui.horizontal(|ui| {
            if let Some(p) = path.filter(|_| ui.button("OK").clicked() || enter) {
                intents.push(match purpose {
                    PathPurpose::Open => Intent::Open(p),
                    PathPurpose::Save => Intent::SaveTo(p),
                    PathPurpose::Export(to) => Intent::ExportTo(p, to),
                    PathPurpose::Diagram(format) => Intent::DiagramTo(p, format),
                    PathPurpose::Report => Intent::ReportTo(p),
                    PathPurpose::History => Intent::HistoryTo(p),
                });
                answer = Some(Answer::Close);
            }
            if ui.button("Cancel").clicked() || escape {
                answer = Some(Answer::PathCancelled(purpose));
            }
        });
    });
    answer
}

/// The path the field's text names: `~` expanded, and a file saved with
/// the `.ron` extension (a diagram with its format's) when it has none.
pub fn chosen_path(purpose: PathPurpose, text: &str) -> Option<PathBuf> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut path = match text.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from(text), |h| PathBuf::from(h).join(rest)),
        None if text == "~" => {
            std::env::var_os("HOME").map_or_else(|| PathBuf::from(text), PathBuf::from)
        }
        None => PathBuf::from(text),
    };
    if let (None, Some((_, ext))) = (path.extension(), purpose.file_kind()) {
        path.set_extension(ext);
    }
    Some(path)
}

/// What the path field proposes: `~/topolab/NAME.ron` for a save, the
/// `~/topolab` folder for an export, the folder for an open.
pub fn proposed_path(purpose: PathPurpose, design: &str) -> String {
    match (purpose, purpose.file_name(design)) {
        (_, Some(name)) => format!("~/topolab/{name}"),
        (PathPurpose::Export(_), None) => "~/topolab".to_owned(),
        (_, None) => "~/topolab/".to_owned(),
    }
}

fn promote_ui(ctx: &egui::Context, dialog: &PromoteDialog, intents: &mut Vec<Intent>) {
    let replica = &dialog.replica;
    egui::Modal::new(egui::Id::new("promote")).show(ctx, |ui| {
        ui.heading(format!("Promote {replica}/db to primary?"));
        match &dialog.assessment {
            None => {
                ui.label("Asking the replica and the old primary…");
            }
            Some(Err(why)) => {
                ui.label(RichText::new(why).color(health_color(Health::Down)));
            }
            Some(Ok(a)) => assessment_ui(ui, replica, a, dialog.primary_down, intents),
        }
        if ui.button("Cancel").clicked() {
            intents.push(Intent::ClosePromote);
        }
    });
}

/// The assessment of promoting `replica` as a small table, and the two
/// ways to do it (a planned switchover only while the primary is up).
fn assessment_ui(
    ui: &mut egui::Ui,
    replica: &HostName,
    a: &Assessment,
    primary_down: bool,
    intents: &mut Vec<Intent>,
) {
    let loss = match a.missing {
        Some(0) => RichText::new("0: no write would be lost").color(health_color(Health::Up)),
        Some(n) => {
            RichText::new(format!("{n}: lost if promoted now")).color(health_color(Health::Down))
        }
        None => RichText::new("unknown (the old primary cannot be asked)")
            .color(health_color(Health::Degraded)),
    };
    egui::Grid::new("assessment")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label("Replica lag");
            ui.label(a.lag_seconds.map_or_else(
                || "unknown (replication stopped)".to_owned(),
                |s| format!("{s} s"),
            ));
            ui.end_row();
            ui.label("Transactions it never received");
            ui.label(loss);
            ui.end_row();
            ui.label(format!("Old primary ({})", a.old_primary));
            ui.label(if primary_down { "down" } else { "up" });
            ui.end_row();
            ui.label("Where that count comes from");
            ui.label(&a.source);
            ui.end_row();
        });
    egui::CollapsingHeader::new("GTID positions")
        .default_open(false)
        .show(ui, |ui| {
            let mono = |s: &str| RichText::new(s.to_owned()).monospace();
            ui.label(mono(&format!("received: {}", a.received)));
            ui.label(mono(&format!("applied:  {}", a.applied)));
            if let Some(p) = &a.primary_position {
                ui.label(mono(&format!("primary:  {p}")));
            }
        });
    ui.label(
        RichText::new(
            "Then: the replica applies what it received, becomes writable, every app server and replica is repointed to it; the old primary comes back read-only as its replica when healed.",
        )
        .weak(),
    );
    ui.horizontal(|ui| {
        let loses = a.missing != Some(0);
        let label = match a.missing {
            Some(0) => "Promote".to_owned(),
            Some(n) => format!("Promote, losing {n} write(s)"),
            None => "Promote, accepting unknown loss".to_owned(),
        };
        if ui.button(label).clicked() {
            intents.push(Intent::Promote {
                replica: replica.clone(),
                planned: false,
                accept_loss: loses,
            });
        }
        let planned = ui
            .add_enabled(!primary_down, egui::Button::new("Planned switchover"))
            .on_hover_text(
                "Both alive: the old primary turns read-only, the replica catches up — no write lost",
            )
            .on_disabled_hover_text(
                "The old primary is down: a planned switchover needs it alive (promote instead)",
            );
        if planned.clicked() {
            intents.push(Intent::Promote {
                replica: replica.clone(),
                planned: true,
                accept_loss: false,
            });
        }
    });
}

/// The first launch on a machine: the images are not built yet.
fn build_images_ui(ctx: &egui::Context, image: &str, intents: &mut Vec<Intent>) -> Option<Answer> {
    let mut answer = None;
    egui::Modal::new(egui::Id::new("build-images")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading("Build the lab's images?");
        ui.label(format!(
            "Launching needs the container image {image}, which is not built on this machine yet."
        ));
        ui.label(
            "topolab builds its images here, from this machine's Debian packages \
             (debootstrap; no registry needed). It takes about a minute, once, and needs root. \
             The build's steps appear in the Timeline; the launch follows.",
        );
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui
                .button(RichText::new("Build images and launch").strong())
                .clicked()
            {
                intents.push(Intent::BuildImagesAndLaunch);
            }
            if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                answer = Some(Answer::Close);
            }
        });
    });
    answer
}

/// The plan of an apply: each action numbered, with its class, what it
/// does and why; the notes; what needs a relaunch instead. Apply sends it
/// (confirming its losses when it has destructive actions).
fn apply_ui(
    ctx: &egui::Context,
    dialog: &ApplyDialog,
    intents: &mut Vec<Intent>,
) -> Option<Answer> {
    let mut answer = None;
    let plan = &dialog.plan;
    egui::Modal::new(egui::Id::new("apply")).show(ctx, |ui| {
        ui.set_max_width(620.0);
        ui.heading(format!("Apply to lab {}", dialog.lab));
        if !plan.relaunch.is_empty() {
            ui.label(
                RichText::new("A running lab cannot take this design: relaunch it.")
                    .strong()
                    .color(ERROR),
            );
            for why in &plan.relaunch {
                ui.label(format!("• {why}"));
            }
            ui.label(
                RichText::new(
                    "⟳ Relaunch stops the lab (every container and its data go), then launches the design.",
                )
                .weak(),
            );
        }
        if !plan.actions.is_empty() {
            ui.label(format!(
                "{} action(s), in this order; the lab records each as it finishes:",
                plan.actions.len()
            ));
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for (i, action) in plan.actions.iter().enumerate() {
                        action_ui(ui, i, action);
                    }
                });
        }
        for note in &plan.notes {
            ui.label(RichText::new(format!("Note: {note}")).weak());
        }
        if !dialog.losses.is_empty() {
            ui.label(
                RichText::new(format!(
                    "Destructive: {}. Nothing is applied until you confirm it below.",
                    dialog.losses.join("; ")
                ))
                .color(ERROR),
            );
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let can = plan.relaunch.is_empty() && !plan.actions.is_empty();
            let label = RichText::new(dialog.confirm_label()).strong();
            let label = if dialog.losses.is_empty() {
                label
            } else {
                label.color(ERROR)
            };
            let apply = ui
                .add_enabled(can, egui::Button::new(label))
                .on_hover_text("Send the changes to the lab: the Timeline shows each action as it runs")
                .on_disabled_hover_text(if plan.relaunch.is_empty() {
                    "Nothing to apply: the lab runs this design"
                } else {
                    "A running lab cannot take this design: relaunch it"
                });
            if apply.clicked() {
                intents.push(Intent::Apply {
                    topology: dialog.topology.clone(),
                    yes: !dialog.losses.is_empty(),
                });
                answer = Some(Answer::Close);
            }
            if !plan.relaunch.is_empty() && ui.button("⟳ Relaunch").clicked() {
                intents.push(Intent::Relaunch);
                answer = Some(Answer::Close);
            }
            if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                answer = Some(Answer::Close);
            }
        });
    });
    answer
}

/// One action of a plan: its number, its class as a coloured badge, what
/// it does, and (smaller) why it has that class.
fn action_ui(ui: &mut egui::Ui, index: usize, action: &Action) {
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("{}.", index + 1));
        egui::Frame::new()
            .fill(impact_color(action.impact))
            .corner_radius(3.0)
            .inner_margin(egui::Margin::symmetric(4, 0))
            .show(ui, |ui| {
                ui.label(
                    RichText::new(action.impact.as_str())
                        .small()
                        .strong()
                        .color(egui::Color32::from_gray(20)),
                );
            });
        ui.label(&action.summary);
    });
    ui.indent(("why", index), |ui| {
        ui.label(RichText::new(&action.why).weak());
    });
}
