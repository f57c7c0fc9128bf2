//! Rolling deploys from the app: the Deploy window (release, batch size,
//! canary, how long it is watched and the error threshold, with the plan
//! previewed as they change), the command, the deploy's batches as they
//! run (the apply's progress, shared) until it completed or rolled back,
//! the design following the releases deployed, and the share of requests
//! each release answered in the traffic tab.

use std::collections::BTreeMap;

use egui::RichText;
use egui_plot::{FilledArea, Line, PlotPoints};

use super::app::{Tab, TopolabApp};
use super::apply::running_step_ui;
use super::explain;
use super::intent::Intent;
use super::lab_view::{Applying, Operation};
use super::overlay::Badge;
use super::style::{ERROR, OK, WARN, release_color};
use crate::deploy::{self, Plan, PlanError, RELEASES, Request};
use crate::model::{HostName, Topology};
use crate::protocol::{CommandId, LabCommand};

/// The canary is watched this long unless the user says otherwise.
const DEFAULT_PAUSE_S: f64 = 10.0;
/// Failed requests (percent) above which the canary stops the deploy,
/// unless the user says otherwise (the command line's default too).
const DEFAULT_MAX_ERRORS: f64 = 1.0;
/// The lab's notes shown under the batches (the timeline has them all).
const NOTES_SHOWN: usize = 6;

/// The Deploy window: what the user chose, and which deploy it follows
/// once one was sent.
#[derive(Clone, Debug)]
pub struct DeployDialog {
    /// Shown (closing it leaves a deploy in progress running).
    pub shown: bool,
    /// The release to deploy.
    pub version: String,
    /// Hosts switched together.
    pub batch: usize,
    /// A host deployed first, alone, and watched.
    pub canary: Option<HostName>,
    /// Seconds the canary is watched.
    pub pause_s: f64,
    /// Failed requests (percent) above which the canary stops it.
    pub max_error_percent: f64,
    /// The deploy sent from it, which it follows (None: the form shows).
    pub sent: Option<CommandId>,
}

impl DeployDialog {
    /// The form for a lab whose app servers run `releases`: the first
    /// release they do not all run, one host at a time, no canary.
    pub fn new(releases: &BTreeMap<HostName, String>) -> Self {
        let version = RELEASES
            .iter()
            .find(|r| !releases.values().all(|v| v.as_str() == **r))
            .unwrap_or(&RELEASES[0]);
        Self {
            shown: true,
            version: (*version).to_owned(),
            batch: 1,
            canary: None,
            pause_s: DEFAULT_PAUSE_S,
            max_error_percent: DEFAULT_MAX_ERRORS,
            sent: None,
        }
    }

    /// What the form asks for.
    pub fn request(&self) -> Request {
        Request {
            version: self.version.clone(),
            batch: self.batch,
            canary: self.canary.clone(),
            pause_s: self.pause_s,
        }
    }
}

/// Each app host's release, as `running` (the lab's record) says.
pub(super) fn releases(running: &Topology) -> BTreeMap<HostName, String> {
    running
        .hosts
        .iter()
        .filter_map(|h| Some((h.name.clone(), h.app_server()?.release.clone())))
        .collect()
}

/// The plan of `request` on the lab that runs `running`. Planning is one
/// pass over the hosts: the window does it every frame it shows the form,
/// so the preview follows each field and the lab's record at once.
fn plan(running: &Topology, request: &Request) -> Result<Plan, PlanError> {
    deploy::plan(running, &releases(running), request)
}

/// One release's band in the stacked chart of shares.
#[derive(Clone, Debug, PartialEq)]
pub struct ReleaseBand {
    /// The release.
    pub release: String,
    /// Each second shown: how many seconds ago (negative), and the band's
    /// bottom and top, percent of that second's requests.
    pub points: Vec<[f64; 3]>,
}

/// What the Deploy window shows.
enum Shown<'a> {
    /// The form: nothing sent, or a new deploy asked for.
    Form,
    /// A deploy running.
    Running(&'a Applying),
    /// A deploy that ended, and how.
    Ended(&'a Applying, &'a Result<String, String>),
}

impl TopolabApp {
    /// Opens the Deploy window: the deploy in progress if there is one,
    /// else the form as the user left it (new for another lab).
    pub(super) fn open_deploy(&mut self) {
        let Some(running) = self.running_topology() else {
            self.say(
                "launch the design first: a deploy changes a running lab",
                true,
            );
            return;
        };
        // The form as left, unless its canary is not in this lab.
        let fits = self.deploy.as_ref().is_some_and(|d| {
            d.canary
                .as_ref()
                .is_none_or(|c| running.host(c).is_some_and(|h| h.app_server().is_some()))
        });
        let fresh = DeployDialog::new(&releases(running));
        let mut dialog = match self.deploy.take() {
            Some(d) if fits => d,
            _ => fresh,
        };
        dialog.shown = true;
        // How a deploy of another lab ended is not this lab's news.
        let lab = self.running_lab();
        if self
            .lab
            .deployed
            .as_ref()
            .is_some_and(|(d, _)| Some(d.id) == dialog.sent && Some(&d.lab) != lab.as_ref())
        {
            dialog.sent = None;
        }
        if let Some(a) = self
            .lab
            .applying
            .as_ref()
            .filter(|a| matches!(a.operation, Operation::Deploy(_)))
        {
            dialog.sent = Some(a.id);
        }
        self.deploy = Some(dialog);
    }

    /// Sends the running lab a deploy of `request`, and follows it.
    pub(super) fn deploy(&mut self, request: Request, max_error_percent: f64) {
        if let Some(why) = self.apply_blocked() {
            self.say(format!("cannot deploy now: {why}"), true);
            return;
        }
        let Some(running) = self.running_topology() else {
            return;
        };
        // The lab plans again from its record; refused here, it would be
        // refused there too.
        let planned = match plan(running, &request) {
            Ok(p) => p,
            Err(why) => {
                self.say(format!("cannot deploy: {why}"), true);
                return;
            }
        };
        let version = request.version.clone();
        let sent = self.send_to_lab(|lab, id| LabCommand::Deploy {
            id,
            lab,
            request,
            max_error_percent,
        });
        let (Some(id), Some(lab)) = (sent, self.running_lab()) else {
            return;
        };
        let batches = planned.batches.len();
        self.lab.applying = Some(Applying::new(
            id,
            lab.clone(),
            Operation::Deploy(Box::new(planned)),
        ));
        self.lab.deployed = None;
        if let Some(d) = self.deploy.as_mut() {
            d.sent = Some(id);
        }
        // The mixed-version window shows there.
        self.tab = Tab::Traffic;
        self.note(
            format!("deploying {version} to lab {lab} in {batches} batch(es)…"),
            false,
        );
    }

    /// After this app's deploy of `version`, the design's app servers run
    /// the releases `running` records (one undoable edit; nothing when
    /// they already do), so that the design does not offer to undo it.
    pub(super) fn follow_releases(&mut self, running: &Topology, version: &str) {
        let mut followed = self.doc.topology().clone();
        for host in &mut followed.hosts {
            let release = running
                .host(&host.name)
                .and_then(|h| h.app_server())
                .map(|a| a.release.clone());
            if let (Some(app), Some(release)) = (host.app_server_mut(), release) {
                app.release = release;
            }
        }
        self.doc.edit(&format!("deploy {version}"), followed);
    }

    /// The Deploy window, while shown.
    pub(super) fn deploy_ui(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        if !self.deploy.as_ref().is_some_and(|d| d.shown) {
            return;
        }
        let blocked = self.apply_blocked();
        let Self { deploy, lab, .. } = self;
        let Some(dialog) = deploy.as_mut() else {
            return;
        };
        let shown = match (dialog.sent, &lab.applying, &lab.deployed) {
            (Some(id), Some(a), _) if a.id == id => Shown::Running(a),
            (Some(id), _, Some((a, result))) if a.id == id => Shown::Ended(a, result),
            _ => Shown::Form,
        };
        let running = lab.running.as_ref();
        let mut open = true;
        // Over the canvas, clear of the menus and the toolbar.
        let at = ctx.content_rect().center_top() + egui::vec2(0.0, 90.0);
        egui::Window::new("Deploy a release")
            .id(egui::Id::new("deploy"))
            .pivot(egui::Align2::CENTER_TOP)
            .default_pos(at)
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(480.0)
            .show(ctx, |ui| {
                ui.set_max_width(520.0);
                match shown {
                    Shown::Form => {
                        let Some((lab, topology)) =
                            running.and_then(|r| Some((r.lab.to_string(), r.topology.as_deref()?)))
                        else {
                            ui.label("No lab runs here: launch the design, then deploy to it.");
                            return;
                        };
                        form_ui(ui, dialog, &lab, topology, blocked, intents);
                    }
                    Shown::Running(a) => progress_ui(ui, a, None, intents),
                    Shown::Ended(a, result) => {
                        progress_ui(ui, a, Some(result), intents);
                        ui.horizontal(|ui| {
                            if ui
                                .button("New deploy…")
                                .on_hover_text("Back to the form, as you left it")
                                .clicked()
                            {
                                dialog.sent = None;
                            }
                            if ui.button("Close").clicked() {
                                intents.push(Intent::CloseDeploy);
                            }
                        });
                    }
                }
            });
        if !open {
            intents.push(Intent::CloseDeploy);
        }
    }

    /// Each app host's release badge on the canvas while a lab runs: the
    /// release the lab records (the design's when the lab's record is not
    /// known), and the one its app answers with when that differs. An
    /// answer counts while requests that carried a release arrived in the
    /// last seconds: an old one says nothing of now.
    pub fn release_badges(&self) -> BTreeMap<HostName, Badge> {
        /// Seconds within which the last answers count.
        const FRESH_S: usize = 5;
        if self.lab.running.is_none() {
            return BTreeMap::new();
        }
        let state = &self.lab.live.state;
        let fresh = state
            .version_series()
            .values()
            .any(|s| s.recent(FRESH_S).0 > 0);
        let recorded = self.running_topology().unwrap_or(self.doc.topology());
        releases(recorded)
            .into_iter()
            .map(|(host, recorded)| {
                let answers = state
                    .app_version(&host)
                    .filter(|v| fresh && *v != recorded)
                    .map(str::to_owned);
                (host, Badge { recorded, answers })
            })
            .collect()
    }

    /// The share of requests each release answered, per second over the
    /// last minute, as the bands of a stacked chart (the releases in
    /// order, each from the top of the one before): a deploy's
    /// mixed-version window is where two share the height. Seconds
    /// without a request that carried a release are left out.
    pub fn release_bands(&self) -> Vec<ReleaseBand> {
        let state = &self.lab.live.state;
        let now = crate::live::now() / 1000;
        let ago = |second: u64| second as f64 - now as f64;
        let shown = |b: &&crate::live::Bucket| ago(b.second) >= -super::data_panel::WINDOW_S;
        // Requests per second, all releases together.
        let mut per_second: BTreeMap<u64, u32> = BTreeMap::new();
        for series in state.version_series().values() {
            for b in series.buckets().filter(shown) {
                *per_second.entry(b.second).or_default() += b.requests;
            }
        }
        let seconds: Vec<u64> = per_second
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, _)| *s)
            .collect();
        // Each release's band from the shares of those before it to its own.
        let mut below: Vec<f64> = vec![0.0; seconds.len()];
        let mut bands = Vec::new();
        for (version, series) in state.version_series() {
            let of: BTreeMap<u64, u32> = series
                .buckets()
                .filter(shown)
                .map(|b| (b.second, b.requests))
                .collect();
            let share: Vec<f64> = seconds
                .iter()
                .map(|s| {
                    let total = per_second.get(s).copied().unwrap_or(0).max(1);
                    100.0 * f64::from(of.get(s).copied().unwrap_or(0)) / f64::from(total)
                })
                .collect();
            if share.iter().all(|s| *s == 0.0) {
                continue;
            }
            let above: Vec<f64> = below.iter().zip(&share).map(|(b, s)| b + s).collect();
            bands.push(ReleaseBand {
                release: version.clone(),
                points: seconds
                    .iter()
                    .zip(below.iter().zip(&above))
                    .map(|(s, (low, high))| [ago(*s), *low, *high])
                    .collect(),
            });
            below = above;
        }
        bands
    }

    /// The share of requests each release answered, in total and per
    /// second over the last minute (stacked). Nothing until a request
    /// carried a release.
    pub(super) fn releases_ui(&self, ui: &mut egui::Ui) {
        let totals = &self.lab.live.state.totals().by_version;
        let all: u64 = totals.values().sum();
        if all == 0 {
            return;
        }
        let shares: Vec<String> = totals
            .iter()
            .map(|(v, n)| format!("{v} {:.1}% ({n})", 100.0 * *n as f64 / all as f64))
            .collect();
        ui.label(format!("Releases answering: {}", shares.join("   ")))
            .on_hover_text(
                "Each answer names the release that served it (X-Topolab-Version): during a \
                 rolling deploy, old and new answer side by side.",
            );
        let bands = self.release_bands();
        super::data_panel::chart("release-shares")
            .height(110.0)
            .include_y(100.0)
            .y_axis_label("% of requests")
            .show(ui, |p| {
                for band in bands {
                    let color = release_color(&band.release);
                    let column =
                        |i: usize| -> Vec<f64> { band.points.iter().map(|p| p[i]).collect() };
                    p.add(
                        FilledArea::new(band.release.clone(), &column(0), &column(1), &column(2))
                            .fill_color(color.gamma_multiply(0.55)),
                    );
                    let top: Vec<[f64; 2]> = band.points.iter().map(|p| [p[0], p[2]]).collect();
                    p.line(Line::new(band.release, PlotPoints::from(top)).color(color));
                }
            });
    }
}

/// The form: the lab's releases, the fields, the plan or why there is
/// none, and Deploy (unless `blocked` says why not now).
fn form_ui(
    ui: &mut egui::Ui,
    dialog: &mut DeployDialog,
    lab: &str,
    running: &Topology,
    blocked: Option<&str>,
    intents: &mut Vec<Intent>,
) {
    let releases = releases(running);
    let now: Vec<String> = releases.iter().map(|(h, v)| format!("{h} {v}")).collect();
    ui.label(format!(
        "Lab {lab} runs: {}",
        if now.is_empty() {
            "no application server".to_owned()
        } else {
            now.join(", ")
        }
    ));
    ui.label(RichText::new(explain::ROLLING_DEPLOY).weak());
    egui::Grid::new("deploy-form")
        .num_columns(2)
        .show(ui, |ui| {
            let label = ui
                .label("Release")
                .on_hover_text("The application's files to run; topolab ships three releases.");
            egui::ComboBox::from_id_salt("deploy-release")
                .selected_text(dialog.version.as_str())
                .show_ui(ui, |ui| {
                    for r in RELEASES {
                        ui.selectable_value(&mut dialog.version, r.to_owned(), r)
                            .on_hover_text(explain::release(r));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Batch size").on_hover_text(
                "Hosts taken out of rotation and switched together: larger is faster, and leaves \
             fewer servers to answer meanwhile.",
            );
            let most = releases.len().max(1);
            egui::ComboBox::from_id_salt("deploy-batch")
                .selected_text(hosts_text(dialog.batch))
                .show_ui(ui, |ui| {
                    for n in 1..=most {
                        ui.selectable_value(&mut dialog.batch, n, hosts_text(n));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Canary").on_hover_text(
                "A host deployed first, alone, and watched: if its requests fail above the \
             threshold (or its health check fails), the deploy stops and rolls back before \
             the other hosts are touched.",
            );
            egui::ComboBox::from_id_salt("deploy-canary")
                .selected_text(
                    dialog
                        .canary
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), ToString::to_string),
                )
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut dialog.canary, None, "none");
                    for h in releases.keys() {
                        ui.selectable_value(&mut dialog.canary, Some(h.clone()), h.as_str());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui
                .label("Watch the canary (s)")
                .on_hover_text("How long the canary serves alone before the other batches.");
            ui.add_enabled(
                dialog.canary.is_some(),
                egui::DragValue::new(&mut dialog.pause_s)
                    .range(0.0..=3600.0)
                    .speed(0.5)
                    .suffix(" s"),
            )
            .labelled_by(label.id)
            .on_disabled_hover_text("Choose a canary first");
            ui.end_row();
            let label = ui.label("Stop above (% failed)").on_hover_text(
                "The share of the canary's requests that may fail while it is watched; above it, \
             the deploy stops and rolls back.",
            );
            ui.add(
                egui::DragValue::new(&mut dialog.max_error_percent)
                    .range(0.0..=100.0)
                    .speed(0.1)
                    .max_decimals(1)
                    .suffix(" %"),
            )
            .labelled_by(label.id);
            ui.end_row();
        });
    let request = dialog.request();
    let planned = plan(running, &request);
    ui.separator();
    let can = match &planned {
        Ok(p) if p.batches.is_empty() => {
            ui.label(format!(
                "Nothing to deploy: every application server runs {}.",
                p.version
            ));
            false
        }
        Ok(p) => {
            ui.label(RichText::new("Plan").strong());
            ui.label(RichText::new(p.describe()).monospace());
            true
        }
        Err(why) => {
            ui.label(RichText::new(format!("No plan: {why}")).color(ERROR));
            false
        }
    };
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let deploy = ui
            .add_enabled(
                can && blocked.is_none(),
                egui::Button::new(RichText::new(format!("Deploy {}", request.version)).strong()),
            )
            .on_hover_text("Send the deploy to the lab: each batch shows here as it runs")
            .on_disabled_hover_text(match blocked {
                Some(why) => format!("Not now: {why}"),
                None => "No plan to carry out".to_owned(),
            });
        if deploy.clicked() {
            intents.push(Intent::Deploy {
                request,
                max_error_percent: dialog.max_error_percent,
            });
        }
        if ui.button("Cancel").clicked() {
            intents.push(Intent::CloseDeploy);
        }
    });
}

/// `1 host`, `2 hosts`.
fn hosts_text(n: usize) -> String {
    if n == 1 {
        "1 host".to_owned()
    } else {
        format!("{n} hosts")
    }
}

/// A deploy's batches, each done (with its time), running or to come,
/// the rollback if there was one, the lab's last notes; then the step
/// running with Stop, or (`ended`) how it ended.
fn progress_ui(
    ui: &mut egui::Ui,
    a: &Applying,
    ended: Option<&Result<String, String>>,
    intents: &mut Vec<Intent>,
) {
    let Operation::Deploy(plan) = &a.operation else {
        return;
    };
    ui.heading(format!("Deploy of {} to lab {}", plan.version, a.lab));
    let current = a.current.map(|(i, _)| i);
    for i in 0..a.planned().max(a.steps.len()) {
        let reported = a.steps.get(i).filter(|(s, _)| !s.is_empty());
        let what = reported
            .map(|(s, _)| s.clone())
            .or_else(|| a.planned_step(i))
            .unwrap_or_default();
        let place = a.place(i).unwrap_or_else(|| "rollback".to_owned());
        let (mark, line) = match reported.and_then(|(_, took)| *took) {
            Some(took) => (
                RichText::new("✔").color(OK),
                format!("{place}  {what} — {:.2} s", took.as_secs_f64()),
            ),
            None if current == Some(i) => {
                (RichText::new("…").color(WARN), format!("{place}  {what}"))
            }
            None if reported.is_some() => {
                (RichText::new("✖").color(ERROR), format!("{place}  {what}"))
            }
            None => (RichText::new("·").weak(), format!("{place}  {what}")),
        };
        ui.horizontal(|ui| {
            ui.label(mark);
            let text = RichText::new(line).monospace();
            ui.label(if reported.is_some() {
                text
            } else {
                text.weak()
            });
        });
    }
    let skipped = a.notes.len().saturating_sub(NOTES_SHOWN);
    for note in &a.notes[skipped..] {
        ui.label(RichText::new(note).weak());
    }
    ui.add_space(6.0);
    match ended {
        None => {
            ui.horizontal(|ui| running_step_ui(ui, a, intents));
        }
        Some(Ok(text)) => {
            ui.label(
                RichText::new(format!("✔ Completed: {text}"))
                    .strong()
                    .color(OK),
            );
        }
        Some(Err(why)) => {
            let what = if a.rolled_back() {
                "✖ Rolled back"
            } else {
                "✖ Failed"
            };
            ui.label(
                RichText::new(format!("{what}: {why}"))
                    .strong()
                    .color(ERROR),
            );
        }
    }
}
