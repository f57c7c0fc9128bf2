//! What the data says, in the traffic and timeline tabs: the stale reads
//! the read-your-writes probe counted (a total, and per second beside the
//! replicas' lag), the data check (what every database holds against the
//! history of writes and probes, by [`crate::consistency`]), and what the
//! check says of a promotion in the stopwatch.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::app::TopolabApp;
use super::intent::Intent;
use super::lab_panels::{markdown_ui, report_buttons};
use super::lab_view::{CheckedData, DataState};
use super::style::{ERROR, OK, WARN, health_color};
use crate::consistency::{self, DatabaseCheck, Write};
use crate::live::{self, Health};
use crate::model::{ComponentId, ComponentKind};
use crate::stopwatch;

/// Seconds of history the stale-reads, lag and release charts show.
pub(super) const WINDOW_S: f64 = 60.0;

/// A chart of the last [`WINDOW_S`] seconds, counted back from now.
pub(super) fn chart(id: &str) -> Plot<'_> {
    Plot::new(id)
        .height(120.0)
        .legend(Legend::default())
        .x_axis_label("seconds ago")
        .include_y(0.0)
        .include_x(-WINDOW_S)
        .include_x(0.0)
        .allow_scroll(false)
}

/// How the four kinds of write are told apart, on hover.
const KINDS: &str = "ok: acknowledged and present. lost: acknowledged, yet absent. \
    recovered: failed or of unknown outcome, yet present. unexpected: present, but never \
    sent by this history's clients. On a replica, \"lost\" can also mean \"not applied yet\".";

impl TopolabApp {
    /// The stale reads the probe counted: the total, and stale reads per
    /// second beside each replica's lag. Greyed with a hint while no probe
    /// ran.
    pub(super) fn stale_reads_ui(&self, ui: &mut egui::Ui) {
        let state = &self.lab.live.state;
        let totals = state.totals();
        if totals.probes == 0 {
            ui.label(
                RichText::new(
                    "stale reads: no probe ran — turn on \"Read back my writes\" to have each \
                     client read back its own write and count the reads that miss it.",
                )
                .weak(),
            );
            return;
        }
        let percent = 100.0 * totals.stale as f64 / totals.probes as f64;
        let color = if totals.stale > 0 {
            health_color(Health::Degraded)
        } else {
            health_color(Health::Up)
        };
        ui.label(
            RichText::new(format!(
                "stale reads: {} of {} probes ({percent:.1}%)",
                totals.stale, totals.probes
            ))
            .monospace()
            .color(color),
        )
        .on_hover_text(
            "A probe reads back, through the same entry point, the write its client just had \
             acknowledged; a stale read is an answer without it (a replica behind its primary).",
        );
        // Both plots count seconds back from the last complete one.
        let now = live::now() / 1000;
        let ago = |second: u64| second as f64 - now as f64;
        // The same window on both, so that a rise in one lines up with
        // the other.
        let shown = |b: &&crate::live::Bucket| ago(b.second) >= -WINDOW_S;
        let stale: Vec<[f64; 2]> = state
            .probe_series()
            .buckets()
            .filter(shown)
            .map(|b| [ago(b.second), f64::from(b.stale_reads)])
            .collect();
        let topology = self.running_topology().unwrap_or(self.doc.topology());
        let lags: Vec<(String, Vec<[f64; 2]>)> = topology
            .databases()
            .filter_map(|(h, _)| {
                let series = state.node_series(&ComponentId::new(&h.name, ComponentKind::Db))?;
                // In transactions: known also when the replica stopped
                // receiving (its lag in seconds is not), and what a stale
                // read misses.
                let points: Vec<[f64; 2]> = series
                    .buckets()
                    .filter(shown)
                    .filter_map(|b| b.lag_transactions.map(|l| [ago(b.second), l as f64]))
                    .collect();
                (!points.is_empty()).then(|| (format!("{}/db behind (tx)", h.name), points))
            })
            .collect();
        ui.columns(2, |cols| {
            chart("stale-reads").show(&mut cols[0], |p| {
                p.line(
                    Line::new("stale reads/s", PlotPoints::from(stale))
                        .color(health_color(Health::Degraded)),
                );
            });
            chart("stale-lag").show(&mut cols[1], |p| {
                for (name, points) in lags {
                    p.line(Line::new(name, PlotPoints::from(points)));
                }
            });
        });
    }

    /// The data check: its buttons, then what it found.
    pub(super) fn data_check_ui(&self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let live = &self.lab.live;
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Data").strong());
            data_buttons(ui, live.data.as_ref().map(|d| &d.state), intents);
            ui.label(
                RichText::new(format!(
                    "history: {} writes and probes kept",
                    live.history().len()
                ))
                .weak(),
            );
        });
        if let Some((n, newest)) = live.history_dropped() {
            ui.label(
                RichText::new(format!(
                    "The history was full: its {n} oldest writes and probes (sent until {} \
                     UTC) were dropped; values they wrote count as unexpected.",
                    stopwatch::clock(newest)
                ))
                .color(WARN),
            );
        }
        let Some(data) = &live.data else {
            ui.label(
                RichText::new(
                    "Check data reads every database and looks for each write sent since the \
                     lab was shown here: acknowledged writes missing are lost.",
                )
                .weak(),
            );
            return;
        };
        match &data.state {
            DataState::Reading => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("reading every database…");
                });
            }
            DataState::Failed(why) => {
                ui.label(RichText::new(format!("The data could not be read: {why}")).color(ERROR));
            }
            DataState::Checked(c) => self.checked_ui(ui, c, intents),
        }
    }

    /// A data check's verdict: the writes, each database's counts, the
    /// lost writes, the databases that could not be read, the probes.
    fn checked_ui(&self, ui: &mut egui::Ui, c: &CheckedData, intents: &mut Vec<Intent>) {
        let check = &c.check;
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Checked as of {} ({} UTC)",
                self.lab.since_origin(c.at),
                stopwatch::clock(c.at)
            ));
            report_buttons(ui, "data", || data_report(c), intents);
        });
        let w = &check.writes;
        ui.label(format!(
            "writes sent: {} ({} acknowledged, {} failed, {} of unknown outcome)",
            w.sent, w.acknowledged, w.failed, w.unknown
        ));
        for d in &check.databases {
            database_ui(ui, d);
        }
        for (db, why) in &c.unreadable {
            ui.label(RichText::new(format!("{db}/db could not be read: {why}")).color(ERROR));
        }
        if check.primary().is_none() {
            ui.label(
                RichText::new("No primary was read: no write can be called lost for sure.")
                    .color(WARN),
            );
        }
        let r = &check.reads;
        if r.probes > 0 {
            let by_db: Vec<String> = r
                .stale_by_db
                .iter()
                .map(|(db, n)| format!("{n} by {db}/db"))
                .collect();
            ui.label(format!(
                "read-your-writes probes: {} answered, {} stale ({:.1}%){}",
                r.probes,
                r.stale,
                r.stale_percent(),
                if by_db.is_empty() {
                    String::new()
                } else {
                    format!(": {}", by_db.join(", "))
                }
            ));
        }
        if r.before_sent > 0 {
            ui.label(
                RichText::new(format!(
                    "{} read(s) saw a write before it was sent: impossible, a bug",
                    r.before_sent
                ))
                .color(ERROR),
            );
        }
    }

    /// Under a promotion in the stopwatch (incident `i`): its predicted
    /// loss against the check's, and the lost writes, once the data has
    /// been checked after it.
    pub(super) fn incident_data_ui(&self, ui: &mut egui::Ui, i: usize, m: &stopwatch::Measured) {
        if !m.incident.promotion {
            return;
        }
        let Some(c) = self.lab.live.checked().filter(|c| m.incident.at <= c.at) else {
            return;
        };
        // This promotion's writes: acknowledged since the one before it.
        let (from, until) = self.lab.live.promotion_window(i);
        if let Some(predicted) = self.lab.live.predicted(i)
            && let Some(words) = consistency::compare_prediction(predicted, &c.check, from, until)
        {
            markdown_ui(ui, &words);
        }
        if let Some(primary) = c.check.primary() {
            let lost: Vec<Write> = primary
                .lost
                .iter()
                .filter(|w| (from..until).contains(&w.completed))
                .cloned()
                .collect();
            if !lost.is_empty() {
                egui::CollapsingHeader::new(format!(
                    "{} acknowledged write(s) the primary {} lacks",
                    lost.len(),
                    primary.db
                ))
                .id_salt(("incident-lost", i))
                .show(ui, |ui| {
                    lost_ui(ui, egui::Id::new(("incident-lost", i)), &lost)
                });
            }
        }
    }
}

/// "Check data" and "Save history…", the first disabled while a check
/// reads.
pub(super) fn data_buttons(
    ui: &mut egui::Ui,
    state: Option<&DataState>,
    intents: &mut Vec<Intent>,
) {
    let reading = matches!(state, Some(DataState::Reading));
    if ui
        .add_enabled(!reading, egui::Button::new("Check data"))
        .on_hover_text(
            "Reads every database's rows and checks each write sent since the lab was shown \
             here: acknowledged and present, lost, recovered or unexpected",
        )
        .clicked()
    {
        intents.push(Intent::CheckData);
    }
    if ui
        .button("Save history…")
        .on_hover_text(
            "Writes every write and probe as JSON Lines, for `topolab check-data --history`",
        )
        .clicked()
    {
        intents.push(Intent::HistoryDialog);
    }
}

/// One database's counts, and its lost writes (open for the primary).
fn database_ui(ui: &mut egui::Ui, d: &DatabaseCheck) {
    let line = d.summary();
    let color = match (d.lost.is_empty(), d.primary) {
        (true, _) if d.unexpected == 0 => OK,
        (false, true) => ERROR,
        _ => WARN,
    };
    ui.label(RichText::new(line).monospace().color(color))
        .on_hover_text(KINDS);
    if !d.lost.is_empty() {
        egui::CollapsingHeader::new(format!("lost on {}/db ({})", d.db, d.lost.len()))
            .id_salt(("lost", d.db.as_str()))
            .default_open(d.primary)
            .show(ui, |ui| {
                lost_ui(ui, egui::Id::new(("check-lost", d.db.as_str())), &d.lost)
            });
    }
    if !d.unexpected_examples.is_empty() {
        ui.label(
            RichText::new(format!(
                "unexpected: {}{}",
                d.unexpected_examples.join(", "),
                if d.unexpected > d.unexpected_examples.len() as u64 {
                    " …"
                } else {
                    ""
                }
            ))
            .small(),
        );
    }
}

/// Lost writes: value, when acknowledged, and the way it went; scrolls.
fn lost_ui(ui: &mut egui::Ui, id: egui::Id, lost: &[Write]) {
    egui::ScrollArea::vertical()
        .id_salt(id.with("scroll"))
        .max_height(140.0)
        .show(ui, |ui| {
            egui::Grid::new(id.with("grid"))
                .striped(true)
                .num_columns(3)
                .show(ui, |ui| {
                    for head in ["value", "acknowledged (UTC)", "by"] {
                        ui.label(RichText::new(head).strong());
                    }
                    ui.end_row();
                    for w in lost {
                        ui.add(
                            egui::Label::new(RichText::new(&w.value).monospace()).selectable(true),
                        );
                        ui.label(RichText::new(stopwatch::clock(w.completed)).monospace());
                        // The default fonts have no arrow.
                        ui.label(w.path.replace('→', "->"));
                        ui.end_row();
                    }
                });
        });
}

/// A data check as Markdown: the checker's own words, and the databases
/// that could not be read.
fn data_report(c: &CheckedData) -> String {
    let mut o = format!(
        "# Data check\n\nAs of {} UTC.\n\n{}",
        stopwatch::clock(c.at),
        c.check.markdown()
    );
    for (db, why) in &c.unreadable {
        o.push_str(&format!("- {db}/db could not be read: {why}\n"));
    }
    o
}
