//! The Capacity tab: runs `bench capacity`'s ramp on the running lab and
//! draws what it measures: rate against p95 latency and against errors,
//! each step's verdict, then the knee and the bottleneck in words.

use egui::{Color32, RichText};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, Points};

use super::app::TopolabApp;
use super::intent::Intent;
use crate::capacity::{Step, Targets};

impl TopolabApp {
    /// The tab: target and mix, start or stop, the two plots and the steps.
    pub(super) fn capacity_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        if !self.live_active() {
            ui.label(
                "Launch the design to measure its capacity: the ramp raises the rate until \
                 p95 latency passes the target or more than 1% of requests fail.",
            );
            return;
        }
        let live = &mut self.lab.live;
        let running = live.capacity.as_ref().is_some_and(|r| r.outcome.is_none());
        ui.horizontal(|ui| {
            if running {
                if ui.button("⏹ Stop the ramp").clicked() {
                    intents.push(Intent::Capacity(false));
                }
            } else {
                let start = ui.add_enabled(!live.traffic_on, egui::Button::new("▶ Ramp"));
                let start = start.on_disabled_hover_text(
                    "Stop the traffic first: the ramp sends and measures its own requests.",
                );
                if start.clicked() {
                    intents.push(Intent::Capacity(true));
                }
            }
            ui.add_enabled(
                !running,
                egui::DragValue::new(&mut live.capacity_p95_ms)
                    .range(1.0..=5000.0)
                    .speed(1.0)
                    .prefix("p95 target ")
                    .suffix(" ms"),
            );
            ui.add_enabled(
                !running,
                egui::Slider::new(&mut live.writes, 0..=100)
                    .suffix("% writes")
                    .text("mix"),
            );
        });
        let Some(run) = &live.capacity else {
            ui.label(
                "Each step sends an open-loop rate for 4 s and reads every container's CPU; \
                 a host at its size shows which part of the design runs out first.",
            );
            return;
        };
        let targets = Targets {
            p95_ms: run.p95_ms,
            max_errors: 0.01,
        };
        match &run.outcome {
            None => ui.label(format!("ramping… {} step(s) so far", run.steps.len())),
            Some(Ok(summary)) => ui.label(RichText::new(summary).strong()),
            Some(Err(why)) => ui.colored_label(Color32::from_rgb(0xd0, 0x40, 0x40), why),
        };
        ui.columns(2, |cols| {
            plot(
                &mut cols[0],
                "capacity-p95",
                "p95 latency, ms",
                &run.steps,
                |s| s.p95_ms,
                Some(run.p95_ms),
            );
            plot(
                &mut cols[1],
                "capacity-errors",
                "errors, %",
                &run.steps,
                |s| s.error_ratio() * 100.0,
                Some(1.0),
            );
        });
        egui::Grid::new("capacity-steps")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for head in [
                    "rate",
                    "answered",
                    "p95",
                    "errors",
                    "verdict",
                    "CPU against the hosts' sizes",
                ] {
                    ui.label(RichText::new(head).strong());
                }
                ui.end_row();
                for (step, cpu) in &run.steps {
                    ui.label(format!("{:.0} req/s", step.offered));
                    ui.label(format!("{:.0}", step.answered));
                    ui.label(format!("{:.1} ms", step.p95_ms));
                    ui.label(format!("{:.2}%", step.error_ratio() * 100.0));
                    match step.missed(targets) {
                        // Measured again: the hypervisor took the machine.
                        Some(_) if step.set_aside => ui.weak(step.verdict(targets)),
                        None => ui.colored_label(Color32::from_rgb(0x30, 0xa0, 0x50), "served"),
                        Some(why) => ui.colored_label(Color32::from_rgb(0xd0, 0x80, 0x20), why),
                    };
                    ui.label(cpu);
                    ui.end_row();
                }
            });
    }
}

/// One measure of the steps against their rate, with the target as a line.
fn plot(
    ui: &mut egui::Ui,
    id: &str,
    name: &str,
    steps: &[(Step, String)],
    value: impl Fn(&Step) -> f64,
    target: Option<f64>,
) {
    // A step set aside was measured again: it is the machine's curve, not
    // the lab's.
    let mut points: Vec<[f64; 2]> = steps
        .iter()
        .filter(|(s, _)| !s.set_aside)
        .map(|(s, _)| [s.offered, value(s)])
        .collect();
    // The ramp narrows the knee down after passing it: draw by rate.
    points.sort_by(|a, b| a[0].total_cmp(&b[0]));
    Plot::new(id)
        .height(160.0)
        .legend(Legend::default())
        .x_axis_label("rate, req/s")
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new(name, PlotPoints::from(points.clone())));
            p.points(Points::new(name, PlotPoints::from(points)).radius(3.0));
            if let Some(t) = target {
                p.hline(HLine::new("target", t).color(Color32::from_rgb(0xd0, 0x40, 0x40)));
            }
        });
}
