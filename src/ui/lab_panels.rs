//! The panels of a running lab: the live part of the inspector (state,
//! sparklines, faults, the container's log), the traffic tab, the live
//! transitions and the stopwatch in the timeline tab, and the scenario tab
//! (the promotion dialog is in `modal.rs`; stale reads and the data check
//! in `data_panel.rs`).

use egui::{Color32, FontId, Pos2, Rect, RichText, Stroke, Vec2};
use egui_plot::{Line, Plot, PlotPoints};

use super::app::TopolabApp;
use super::intent::Intent;
use super::style::{health_color, ms};
use crate::live::{self, Health, LiveState, Series};
use crate::model::{ComponentId, ComponentKind, HostName, Role, Subject};
use crate::protocol::MAX_RATE;
use crate::protocol::faults;
use crate::stopwatch;

impl TopolabApp {
    /// Whether a lab runs and its live view applies.
    pub(super) fn live_active(&self) -> bool {
        self.lab.running.is_some()
    }

    /// The live part of the inspector for `id`.
    pub(super) fn live_inspector_ui(
        &mut self,
        ui: &mut egui::Ui,
        id: &ComponentId,
        intents: &mut Vec<Intent>,
    ) {
        if !self.live_active() {
            return;
        }
        let live = &self.lab.live.state;
        egui::CollapsingHeader::new(RichText::new("Live").strong())
            .default_open(true)
            .show(ui, |ui| {
                node_state_ui(ui, live, id);
                // The actions first, where they stay put.
                self.faults_ui(ui, &Subject::Component(id.clone()), intents);
                match id.kind {
                    ComponentKind::Lb => backends_ui(ui, live, &id.host),
                    ComponentKind::Db => replication_ui(ui, live, &id.host),
                    _ => {}
                }
                if let Some(series) = live.node_series(id) {
                    sparklines(ui, id, series);
                }
                log_ui(ui, id, self.lab.live.logs.get(id), intents);
            });
        ui.separator();
    }

    /// The traffic tab: start and stop, rate, mix and what came back.
    pub(super) fn traffic_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        if !self.live_active() {
            ui.label("Launch the design to send real requests through it and watch them flow.");
            return;
        }
        let live = &mut self.lab.live;
        let before = (live.rate, live.writes, live.read_back);
        ui.horizontal(|ui| {
            if live.traffic_on {
                if ui.button("⏹ Stop traffic").clicked() {
                    intents.push(Intent::Traffic(None));
                }
            } else if ui.button("▶ Start traffic").clicked() {
                intents.push(Intent::Traffic(Some(live.settings())));
            }
            ui.add(
                egui::Slider::new(&mut live.rate, 1.0..=MAX_RATE)
                    .logarithmic(true)
                    .integer()
                    .suffix(" req/s")
                    .text("rate"),
            );
            ui.add(
                egui::Slider::new(&mut live.writes, 0..=100)
                    .suffix("% writes")
                    .text("mix"),
            );
            ui.checkbox(
                &mut live.read_back,
                "Read back my writes (read-your-writes probe)",
            )
            .on_hover_text(
                "Each client reads back, through the same entry point, every write it just had \
                 acknowledged; an answer without it is a stale read (a replica behind).",
            );
        });
        if !live.faults.is_empty() && ui.button("✚ Heal all faults").clicked() {
            intents.push(Intent::Heal(None));
        }
        if live.traffic_on && before != (live.rate, live.writes, live.read_back) {
            intents.push(Intent::Traffic(Some(live.settings())));
        }
        let t = live.state.totals();
        let q = |v: Option<f32>| v.map_or_else(|| "-".to_owned(), ms);
        ui.label(
            RichText::new(format!(
                "sent {}   ok {}   failed {}   latency p50 {}   p95 {}",
                t.sent,
                t.ok,
                t.failed,
                q(t.latency.quantile(0.50)),
                q(t.latency.quantile(0.95))
            ))
            .monospace(),
        );
        let served: u64 = t.by_web.values().sum();
        if served > 0 {
            let shares: Vec<String> = t
                .by_web
                .iter()
                .map(|(w, n)| format!("{w} {:.1}%", 100.0 * *n as f64 / served as f64))
                .collect();
            ui.label(format!("Web servers: {}", shares.join("   ")));
            let dbs: u64 = t.by_db.values().sum();
            let db_shares: Vec<String> = t
                .by_db
                .iter()
                .map(|(d, n)| format!("{d}/db {:.1}%", 100.0 * *n as f64 / dbs.max(1) as f64))
                .collect();
            ui.label(format!("Databases answering: {}", db_shares.join("   ")));
        }
        self.releases_ui(ui);
        self.stale_reads_ui(ui);
        ui.separator();
        self.data_check_ui(ui, intents);
        ui.separator();
        ui.label(
            RichText::new(
                "Each dot on the canvas is a real request, drawn along the path its answer's \
                 X-Topolab headers name. Link labels: requests/s, p95 latency, errors.",
            )
            .weak(),
        );
    }

    /// The live transitions and the stopwatch, for the timeline tab.
    pub(super) fn live_timeline_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        if !self.live_active() {
            return;
        }
        let entries: Vec<_> = self.lab.live.state.timeline().collect();
        if entries.is_empty() {
            self.stopwatch_ui(ui, intents);
            return;
        }
        ui.separator();
        ui.label(RichText::new("Live transitions (as the lab reports them)").strong());
        for t in entries {
            let color = t.health.map(health_color);
            let when = self.lab.since_origin(t.at);
            let text = RichText::new(format!("{when:>10}  {}", t.text)).monospace();
            ui.label(match color {
                Some(c) => text.color(c),
                None => text,
            })
            .on_hover_text(format!("{} UTC", stopwatch::clock(t.at)));
        }
        self.stopwatch_ui(ui, intents);
    }
}

/// Small plots of a component's last minutes.
fn sparklines(ui: &mut egui::Ui, id: &ComponentId, series: &Series) {
    for (name, points) in sparkline_points(series) {
        if points.is_empty() {
            continue;
        }
        let last = points.last().map_or(0.0, |p| p[1]);
        ui.label(RichText::new(format!("{name}: {last:.1}")).small());
        Plot::new(("spark", id.to_string(), name))
            .height(42.0)
            .show_axes([false, true])
            .show_grid(false)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .show_x(false)
            .include_y(0.0)
            .show(ui, |plot| {
                plot.line(Line::new(name, PlotPoints::from(points)));
            });
    }
}

/// The plots a series has data for: requests, errors and latency when
/// requests went through, lag for a replica, CPU when measured; each as
/// (seconds since the first, value) points.
fn sparkline_points(series: &Series) -> Vec<(&'static str, Vec<[f64; 2]>)> {
    let buckets: Vec<&live::Bucket> = series.buckets().collect();
    let Some(first) = buckets.first().map(|b| b.second as f64) else {
        return Vec::new();
    };
    let points = |value: &dyn Fn(&live::Bucket) -> Option<f64>| -> Vec<[f64; 2]> {
        buckets
            .iter()
            .filter_map(|b| value(b).map(|v| [b.second as f64 - first, v]))
            .collect()
    };
    let mut plots = Vec::new();
    if buckets.iter().any(|b| b.requests > 0) {
        plots.push(("requests/s", points(&|b| Some(f64::from(b.requests)))));
        plots.push(("errors/s", points(&|b| Some(f64::from(b.errors)))));
        plots.push(("p95 latency (ms)", points(&|b| b.p95_ms.map(f64::from))));
    }
    if buckets
        .iter()
        .any(|b| b.lag_seconds.is_some() || b.lag_transactions.is_some())
    {
        plots.push(("lag (s)", points(&|b| b.lag_seconds.map(|l| l as f64))));
        plots.push((
            "lag (transactions)",
            points(&|b| b.lag_transactions.map(|l| l as f64)),
        ));
    }
    if buckets.iter().any(|b| b.cpu_percent.is_some()) {
        plots.push(("CPU (%)", points(&|b| b.cpu_percent.map(f64::from))));
    }
    plots
}

impl TopolabApp {
    /// One-click faults for `subject`, its heal button, and Promote for a
    /// replica.
    pub(super) fn faults_ui(
        &self,
        ui: &mut egui::Ui,
        subject: &Subject,
        intents: &mut Vec<Intent>,
    ) {
        // Faults go to what the lab runs, which may differ from the design.
        let topology = self.running_topology().unwrap_or(self.doc.topology());
        ui.label(RichText::new("Faults").strong());
        let in_lab = match subject {
            Subject::Host(h) => topology.host(h).is_some(),
            Subject::Component(id) => topology
                .host(&id.host)
                .is_some_and(|h| h.component(id.kind).is_some()),
        };
        if !in_lab {
            ui.label(
                RichText::new("Not in the running lab: apply the design (or relaunch) to run it, then break it.").weak(),
            );
            return;
        }
        ui.horizontal_wrapped(|ui| {
            for kind in faults::applicable(topology, subject) {
                if ui
                    .small_button(kind.as_str())
                    .on_hover_text(kind.describe())
                    .clicked()
                {
                    intents.push(Intent::Fault(subject.clone(), kind));
                }
            }
        });
        // A host of a lab of regions offers its region's faults.
        if let Subject::Host(h) = subject
            && let Some(region) = topology
                .host(h)
                .and_then(|host| crate::model::lab_region(topology, host))
        {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!("Region {region}:"));
                for kind in crate::protocol::RegionFaultKind::ALL {
                    if ui
                        .small_button(kind.as_str())
                        .on_hover_text(kind.describe())
                        .clicked()
                    {
                        intents.push(Intent::RegionFault(region.clone(), kind));
                    }
                }
                if ui
                    .small_button("✚ Heal region")
                    .on_hover_text("Start the region's hosts again and join it to the others")
                    .clicked()
                {
                    intents.push(Intent::HealRegion(region.clone()));
                }
            });
        }
        // Heal and Promote on one row under the faults: they do not move
        // when a fault's line appears.
        let host = subject.host();
        let replica = topology
            .host(host)
            .and_then(|h| h.database())
            .is_some_and(|d| matches!(d.role, Role::Replica { .. }));
        let names_db = match subject {
            Subject::Host(_) => true,
            Subject::Component(id) => id.kind == ComponentKind::Db,
        };
        ui.horizontal_wrapped(|ui| {
            if ui
                .small_button("✚ Heal")
                .on_hover_text(
                    "Undo the faults on it; a former primary comes back as a read-only replica",
                )
                .clicked()
            {
                intents.push(Intent::Heal(Some(subject.clone())));
            }
            if replica
                && names_db
                && ui
                    .button("⬆ Promote to primary…")
                    .on_hover_text("Reports the lag and the writes it would lose first")
                    .clicked()
            {
                intents.push(Intent::Assess(host.clone()));
            }
        });
        let active: Vec<String> = self
            .lab
            .live
            .faults
            .iter()
            .filter(|(s, _, _)| match subject {
                Subject::Host(h) => s.host() == h,
                Subject::Component(_) => s == subject,
            })
            .map(|(s, k, check)| format!("In effect: {s} {k} — {check}"))
            .collect();
        for line in &active {
            ui.label(RichText::new(line).color(health_color(Health::Degraded)));
        }
    }

    /// The stopwatch of every fault and promotion, in the timeline tab.
    pub(super) fn stopwatch_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        if self.lab.live.incidents.is_empty() {
            return;
        }
        ui.separator();
        let measured = self.lab.live.cached_measurements().to_vec();
        ui.horizontal(|ui| {
            ui.label(RichText::new("Stopwatch").strong());
            let report = || {
                let report: String = measured.iter().map(|m| stopwatch::report(m) + "\n").collect();
                format!("# Lab report\n\n{report}")
            };
            report_buttons(ui, "stopwatch", report, intents);
            super::data_panel::data_buttons(
                ui,
                self.lab.live.data.as_ref().map(|d| &d.state),
                intents,
            );
            ui.label(
                RichText::new("red: requests failed · amber: slowed · blue: detected · green: back / first write")
                    .weak()
                    .small(),
            );
        });
        // One scale for all: a longer bar is a longer outage.
        let end = measured.iter().map(span_end).fold(2.0, f32::max);
        for (i, m) in measured.iter().enumerate() {
            let report = stopwatch::report(m);
            let mut lines = report.lines().filter(|l| !l.is_empty());
            // The title on the timeline's time base (the report, for
            // copying, says the wall clock).
            if lines.next().is_some() {
                ui.label(
                    RichText::new(format!(
                        "{} at {}",
                        super::style::plain_arrows(&m.incident.label),
                        self.lab.since_origin(m.incident.at)
                    ))
                    .strong(),
                )
                .on_hover_text(format!("{} UTC", stopwatch::clock(m.incident.at)));
            }
            spans(ui, m, end);
            for line in lines {
                ui.label(RichText::new(line).monospace());
            }
            self.incident_data_ui(ui, i, m);
        }
    }
}

impl TopolabApp {
    /// The scenario tab: each step as it runs, the line that says what to
    /// expect before it, expectations held or failed, then the report.
    pub(super) fn scenario_ui(&self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let Some(run) = &self.lab.live.scenario else {
            return;
        };
        let not_judged = run.not_judged();
        let state = match run.passed {
            None => RichText::new(format!("Scenario {} — running…", run.name)).strong(),
            Some(true) if not_judged > 0 => RichText::new(format!(
                "Scenario {} — nothing failed, {not_judged} not judged: the hypervisor spoiled a \
                 measurement",
                run.name
            ))
            .strong()
            .color(health_color(Health::Degraded)),
            Some(true) => RichText::new(format!("Scenario {} — every expectation held", run.name))
                .strong()
                .color(health_color(Health::Up)),
            Some(false) => RichText::new(format!("Scenario {} — an expectation failed", run.name))
                .strong()
                .color(health_color(Health::Down)),
        };
        let report = run.report();
        ui.horizontal(|ui| {
            ui.label(state);
            if let Some(report) = &report {
                report_buttons(ui, "scenario", || report.clone(), intents);
            }
        });
        let steps = run.report_start().unwrap_or(run.lines.len());
        for line in &run.lines[..steps] {
            let text = RichText::new(line.as_str());
            let text = if line.starts_with('▶') {
                text.strong()
            } else if line.trim_start().starts_with('✔') {
                text.color(health_color(Health::Up))
            } else if line.trim_start().starts_with('✖') {
                text.color(health_color(Health::Down))
            } else if line.trim_start().starts_with("? ") {
                text.color(health_color(Health::Degraded))
            } else {
                text.monospace()
            };
            ui.label(text);
        }
        if let Some(report) = &report {
            ui.separator();
            markdown_ui(ui, report);
        }
    }
}

/// "Copy as Markdown" and "Save report…" for the report `text` makes;
/// "Copied" shows for two seconds after a copy.
pub(super) fn report_buttons(
    ui: &mut egui::Ui,
    salt: &str,
    text: impl Fn() -> String,
    intents: &mut Vec<Intent>,
) {
    let copied_id = egui::Id::new(("report-copied", salt));
    let now = ui.input(|i| i.time);
    let copied_at: Option<f64> = ui.data(|d| d.get_temp(copied_id));
    if ui.small_button("Copy as Markdown").clicked() {
        ui.ctx().copy_text(text());
        ui.data_mut(|d| d.insert_temp(copied_id, now));
    }
    if ui
        .small_button("Save report…")
        .on_hover_text("Writes the report as a Markdown file")
        .clicked()
    {
        intents.push(Intent::ReportDialog(text()));
    }
    if let Some(at) = copied_at.filter(|at| now - at < 2.0) {
        ui.label(RichText::new("✔ Copied").color(health_color(Health::Up)));
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(2.0 - (now - at)));
    }
}

/// A lab report's Markdown, drawn: headings, bullets and plain lines.
pub(super) fn markdown_ui(ui: &mut egui::Ui, text: &str) {
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            ui.label(RichText::new(h).heading());
        } else if let Some(h) = line.strip_prefix("## ") {
            ui.add_space(4.0);
            ui.label(RichText::new(h).strong().size(15.0));
        } else if let Some(h) = line.strip_prefix("### ") {
            ui.label(RichText::new(h).strong());
        } else if let Some(item) = line.strip_prefix("- ") {
            ui.horizontal_wrapped(|ui| {
                ui.label("•");
                bold_ui(ui, item);
            });
        } else if !line.trim().is_empty() {
            ui.horizontal_wrapped(|ui| bold_ui(ui, line));
        }
    }
}

/// A line with `**bold**` and `` `code` `` spans drawn as such.
fn bold_ui(ui: &mut egui::Ui, line: &str) {
    ui.spacing_mut().item_spacing.x = 0.0;
    let mut bold = false;
    for (i, part) in line.split("**").enumerate() {
        if i > 0 {
            bold = !bold;
        }
        for (j, piece) in part.split('`').enumerate() {
            if piece.is_empty() {
                continue;
            }
            let text = RichText::new(piece);
            let text = if j % 2 == 1 { text.code() } else { text };
            ui.label(if bold { text.strong() } else { text });
        }
    }
}

/// Seconds after its injection that an incident's last mark falls (at
/// least 2 s): every incident's axis spans the longest, so their bars
/// compare.
fn span_end(m: &stopwatch::Measured) -> f32 {
    let t = |at: live::Millis| m.after(at).max(0.0) as f32;
    [m.failed.last, m.slowed.last, m.recovery.at(), m.first_write]
        .into_iter()
        .flatten()
        .chain(m.detected.iter().map(|d| d.at))
        .map(|at| t(at) + 0.5)
        .fold(2.0, f32::max)
}

/// An incident's spans on a time axis from its injection to `end`
/// seconds after it, shared by every incident: failed and slowed windows
/// as bars, detection, recovery and the first write as ticks.
fn spans(ui: &mut egui::Ui, m: &stopwatch::Measured, end: f32) {
    let t = |at: live::Millis| m.after(at).max(0.0) as f32;
    let (rect, _) = ui.allocate_exact_size(
        Vec2::new(ui.available_width().min(640.0), 26.0),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let axis = rect.shrink2(Vec2::new(4.0, 8.0));
    let x = |s: f32| axis.left() + axis.width() * (s / end).clamp(0.0, 1.0);
    painter.line_segment(
        [axis.left_center(), axis.right_center()],
        Stroke::new(1.0, ui.visuals().weak_text_color()),
    );
    let bar = |from: Option<live::Millis>, to: Option<live::Millis>, color: Color32| {
        if let (Some(a), Some(b)) = (from, to) {
            let r = Rect::from_x_y_ranges(x(t(a))..=x(t(b)).max(x(t(a)) + 2.0), axis.y_range());
            painter.rect_filled(r, 2.0, color.gamma_multiply(0.8));
        }
    };
    bar(
        m.slowed.first,
        m.slowed.last,
        health_color(Health::Degraded),
    );
    bar(m.failed.first, m.failed.last, health_color(Health::Down));
    let tick = |s: f32, color: Color32| {
        painter.line_segment(
            [
                Pos2::new(x(s), rect.top() + 2.0),
                Pos2::new(x(s), rect.bottom() - 2.0),
            ],
            Stroke::new(2.0, color),
        );
    };
    tick(0.0, ui.visuals().strong_text_color());
    for d in &m.detected {
        tick(t(d.at), Color32::from_rgb(80, 150, 240));
    }
    for at in [m.recovery.at(), m.first_write].into_iter().flatten() {
        tick(t(at), health_color(Health::Up));
    }
    // Round steps along the axis (at most about ten), labelled at its ends.
    let weak = ui.visuals().weak_text_color();
    let every = [
        1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|step| end / step <= 10.0)
    .unwrap_or(end / 10.0);
    let mut s = every;
    while s < end {
        let x = x(s);
        painter.line_segment(
            [
                Pos2::new(x, axis.center().y - 3.0),
                Pos2::new(x, axis.center().y + 3.0),
            ],
            Stroke::new(1.0, weak),
        );
        s += every;
    }
    painter.text(
        rect.left_top(),
        egui::Align2::LEFT_TOP,
        "0",
        FontId::proportional(10.0),
        weak,
    );
    painter.text(
        rect.right_top(),
        egui::Align2::RIGHT_TOP,
        format!("+{end:.1} s"),
        FontId::proportional(10.0),
        weak,
    );
}

/// A component's health with the reason, its container's state, CPU and
/// memory.
fn node_state_ui(ui: &mut egui::Ui, live: &LiveState, id: &ComponentId) {
    let h = live.node_health(id);
    ui.horizontal_wrapped(|ui| {
        let (dot, _) = ui.allocate_exact_size(Vec2::splat(12.0), egui::Sense::hover());
        ui.painter()
            .circle_filled(dot.center(), 5.0, health_color(h.health));
        ui.label(
            RichText::new(h.health.label())
                .color(health_color(h.health))
                .strong(),
        );
        ui.label(&h.reason);
    });
    if let Some(state) = live.container(&id.host, Some(id.kind)) {
        let mut line = format!("Container: {state}");
        if let Some((cpu, mem)) = live.resources(&id.host, Some(id.kind)) {
            line.push_str(&format!(
                " · CPU {cpu:.1}% · memory {:.0} MiB",
                mem as f64 / 1048576.0
            ));
        }
        ui.label(line);
    }
}

/// How the load balancer on `host` sees each of its servers.
fn backends_ui(ui: &mut egui::Ui, live: &LiveState, host: &HostName) {
    for (lb, server, status) in live.backends() {
        if lb != host {
            continue;
        }
        let check = live
            .backend(lb, server)
            .map(|(_, c, _)| c.to_owned())
            .unwrap_or_default();
        let load = live
            .backend_load(lb, server)
            .map(|(rate, total, errors)| format!(" · {rate}/s, {total} sessions, {errors} errors"))
            .unwrap_or_default();
        ui.label(
            RichText::new(format!("{server}: {status} ({check}){load}"))
                .color(health_color(status.health())),
        );
    }
}

/// The replication of the replica on `host`, as it reports it.
fn replication_ui(ui: &mut egui::Ui, live: &LiveState, host: &HostName) {
    match live.replication(host) {
        Some(Ok(r)) if !r.replicating => {}
        Some(Ok(r)) => {
            ui.label(format!(
                "Replication from {}: IO thread {}, SQL thread {}",
                r.source
                    .as_ref()
                    .map_or_else(|| "?".to_owned(), ToString::to_string),
                r.io,
                r.sql
            ));
            ui.label(format!("Lag: {}", r.lag_text()));
            ui.label(format!(
                "GTID: primary {} · replica {}",
                r.primary_gtid.as_deref().unwrap_or("?"),
                r.replica_gtid.as_deref().unwrap_or("?")
            ));
            if let Some(e) = &r.last_error {
                ui.label(
                    RichText::new(format!("Last error: {e}")).color(health_color(Health::Down)),
                );
            }
        }
        Some(Err(e)) => {
            ui.label(format!("Replication unreadable: {e}"));
        }
        None => {}
    }
}

/// The last lines of a component's container log, and Refresh.
fn log_ui(ui: &mut egui::Ui, id: &ComponentId, log: Option<&String>, intents: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Container log").strong());
        if ui.small_button("⟳ Refresh").clicked() {
            intents.push(Intent::Logs(id.clone()));
        }
    });
    match log {
        Some(text) => {
            egui::ScrollArea::vertical()
                .id_salt(("log", id.to_string()))
                .max_height(160.0)
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    ui.add(
                        egui::Label::new(RichText::new(text).monospace().small()).selectable(true),
                    );
                });
        }
        None => {
            ui.label(RichText::new("(Refresh to read its last lines)").weak());
        }
    }
}
