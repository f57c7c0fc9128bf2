//! The running lab on screen: health colours and request dots on the
//! canvas, numbers on the links, the traffic panel, and the live part of
//! the inspector (state, sparklines, the container's log). Everything is
//! read from [`LiveState`]; nothing here waits on the lab.

use std::collections::{HashMap, VecDeque};

use egui::{Color32, FontId, Pos2, Rect, RichText, Stroke, Vec2};
use egui_plot::{Line, Plot, PlotPoints};

use super::app::TopolabApp;
use super::canvas::LinkKind;
use super::intent::Intent;
use crate::live::{self, Endpoint, Health, LiveState, Observation, RequestTrace, Series};
use crate::model::{ComponentId, ComponentKind, HostName, Role, Subject};
use crate::protocol::faults;
use crate::protocol::{
    ActiveFault, Assessment, CommandId, FaultKind, MAX_RATE, Rate, TrafficSettings, Verification,
};
use crate::stopwatch::{self, Incident};

/// Requests kept for the stopwatch (about two minutes at 1000 req/s).
const STOPWATCH_TRACES: usize = 120_000;

/// A lab command waiting for its answer.
#[derive(Clone, Debug)]
enum Requested {
    Fault(Subject, FaultKind, live::Millis),
    Heal(Option<Subject>),
    Promotion(HostName, bool, live::Millis),
}

/// A scenario the app runs, and what it said so far.
#[derive(Clone, Debug)]
pub struct ScenarioRun {
    /// The Scenario command.
    pub id: CommandId,
    /// Its name.
    pub name: String,
    /// Its lines: steps, expectations, the report.
    pub lines: Vec<String>,
    /// Whether every expectation held, once it finished.
    pub passed: Option<bool>,
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
}

/// How long a request's dot takes to travel its path, seconds.
const DOT_SECONDS: f64 = 0.9;
/// Dots on screen at most (beyond, new requests are sampled).
const MAX_DOTS: usize = 240;
/// Where clients are drawn: this far above an entry point's component
/// (canvas units: just above its host's title bar).
const CLIENT_ABOVE: f32 = 62.0;
/// Half a host box's width (canvas units).
const HALF_WIDTH: f32 = super::canvas::HOST_WIDTH / 2.0;

/// The colour of a health.
pub fn health_color(h: Health) -> Color32 {
    match h {
        Health::Up => Color32::from_rgb(60, 190, 90),
        Health::Degraded => Color32::from_rgb(240, 170, 40),
        Health::Down => Color32::from_rgb(230, 60, 60),
        Health::Paused => Color32::from_rgb(90, 150, 240),
        Health::Maintenance => Color32::from_rgb(180, 130, 230),
        Health::Unknown => Color32::from_gray(140),
    }
}

/// A request travelling on the canvas.
#[derive(Clone, Debug)]
struct Dot {
    path: Vec<ComponentId>,
    entry: HostName,
    ok: bool,
    born: f64,
}

/// What the app keeps of a running lab.
#[derive(Debug)]
pub struct LiveView {
    /// The live state, as the lab reports it.
    pub state: LiveState,
    /// Traffic is being sent.
    pub traffic_on: bool,
    /// The rate the slider sets, requests per second.
    pub rate: f64,
    /// Percent writes.
    pub writes: u8,
    /// The last log lines fetched per component.
    pub logs: HashMap<ComponentId, String>,
    /// Faults in effect, each with whether it was seen to take effect: as
    /// this app requested them, then as the lab's state records them (also
    /// those injected from the command line).
    pub faults: Vec<(Subject, FaultKind, Verification)>,
    /// Faults and promotions, for the stopwatch.
    pub incidents: Vec<Incident>,
    /// The promotion dialog, when open.
    pub promote_dialog: Option<PromoteDialog>,
    /// The last stopwatch: (incidents, live revision, when, measurements).
    measured: Option<(usize, u64, std::time::Instant, Vec<stopwatch::Measured>)>,
    /// The scenario running or last run.
    pub scenario: Option<ScenarioRun>,
    /// For each transition applied: milliseconds from when it happened (or
    /// the monitor saw it) to when this app applied it (the frame benchmark
    /// reports them).
    pub delays: Vec<u64>,
    requested: HashMap<CommandId, Requested>,
    /// Oldest first; trimmed in halves so that it stays one slice.
    traces: Vec<RequestTrace>,
    dots: VecDeque<Dot>,
}

impl Default for LiveView {
    fn default() -> Self {
        Self {
            state: LiveState::new(),
            traffic_on: false,
            rate: 20.0,
            writes: 10,
            logs: HashMap::new(),
            faults: Vec::new(),
            incidents: Vec::new(),
            promote_dialog: None,
            measured: None,
            scenario: None,
            delays: Vec::new(),
            requested: HashMap::new(),
            traces: Vec::new(),
            dots: VecDeque::new(),
        }
    }
}

impl LiveView {
    /// The traffic settings the panel shows.
    pub fn settings(&self) -> TrafficSettings {
        TrafficSettings {
            rate: Rate::PerSecond(self.rate),
            writes_percent: self.writes,
        }
    }

    /// Dots on screen (for tests and the frame benchmark).
    pub fn dots(&self) -> usize {
        self.dots.len()
    }

    /// Keeps the requests of an observation for the stopwatch.
    pub(super) fn record(&mut self, o: &Observation) {
        let seen = match o {
            Observation::Container { at, .. }
            | Observation::Backend { at, .. }
            | Observation::Replication { at, .. } => Some(*at),
            _ => None,
        };
        if let Some(at) = seen
            && self.delays.len() < 100_000
        {
            self.delays.push(live::now().saturating_sub(at));
        }
        if let Observation::Requests(batch) = o {
            self.traces.extend(batch.iter().cloned());
            if self.traces.len() > 2 * STOPWATCH_TRACES {
                let excess = self.traces.len() - STOPWATCH_TRACES;
                self.traces.drain(..excess);
            }
        }
    }

    pub(super) fn requested_fault(&mut self, id: CommandId, target: Subject, kind: FaultKind) {
        self.requested
            .insert(id, Requested::Fault(target, kind, live::now()));
    }

    pub(super) fn requested_heal(&mut self, id: CommandId, target: Option<Subject>) {
        self.requested.insert(id, Requested::Heal(target));
    }

    pub(super) fn requested_promotion(&mut self, id: CommandId, replica: &HostName, planned: bool) {
        self.requested.insert(
            id,
            Requested::Promotion(replica.clone(), planned, live::now()),
        );
    }

    /// The faults the lab's state records, with their checks: they replace
    /// what this app assumed.
    pub fn set_faults(&mut self, faults: &[ActiveFault]) {
        self.faults = faults
            .iter()
            .map(|f| (f.target.clone(), f.kind, f.check.clone()))
            .collect();
    }

    /// A lab command finished: faults in effect and incidents follow.
    pub(super) fn finished(&mut self, id: CommandId, result: &Result<String, String>) {
        let Some(requested) = self.requested.remove(&id) else {
            return;
        };
        if result.is_err() {
            return;
        }
        match requested {
            Requested::Fault(target, kind, at) => {
                // The lab's record (sent before this) says whether it took effect.
                let recorded = self
                    .faults
                    .iter()
                    .rev()
                    .find(|(s, k, _)| *s == target && *k == kind)
                    .map(|(_, _, check)| check.clone());
                self.incidents.push(Incident {
                    label: format!("{target} {kind}"),
                    host: target.host().to_string(),
                    at,
                    promotion: false,
                    check: recorded.as_ref().map(ToString::to_string),
                });
                if kind != FaultKind::Restart && recorded.is_none() {
                    self.faults.push((target, kind, Verification::Applied));
                }
            }
            Requested::Heal(None) => self.faults.clear(),
            Requested::Heal(Some(Subject::Host(h))) => {
                self.faults.retain(|(s, _, _)| s.host() != &h);
            }
            Requested::Heal(Some(target)) => self.faults.retain(|(s, _, _)| *s != target),
            Requested::Promotion(replica, planned, at) => self.incidents.push(Incident {
                label: format!(
                    "promote {replica}{}",
                    if planned { " (planned)" } else { "" }
                ),
                host: replica.to_string(),
                at,
                promotion: true,
                check: None,
            }),
        }
    }

    /// The stopwatch of every incident.
    fn measurements(&self) -> Vec<stopwatch::Measured> {
        let traces = &self.traces;
        let timeline: Vec<live::Transition> = self.state.timeline().cloned().collect();
        let first = self.incidents.first().map_or(live::Millis::MAX, |i| i.at);
        let baseline: Vec<&RequestTrace> = traces.iter().filter(|t| t.at < first).collect();
        let slow = stopwatch::slow_threshold(&baseline);
        self.incidents
            .iter()
            .enumerate()
            .map(|(i, incident)| {
                let until = self
                    .incidents
                    .get(i + 1)
                    .map_or(live::Millis::MAX, |n| n.at);
                stopwatch::measure(incident, until, traces, &timeline, slow)
            })
            .collect()
    }

    /// [`LiveView::measurements`], recomputed at most twice a second (the
    /// timeline tab asks every frame, and requests arrive ten times a
    /// second), and at once when an incident is added.
    pub(super) fn cached_measurements(&mut self) -> &[stopwatch::Measured] {
        let stale = match &self.measured {
            None => true,
            Some((incidents, revision, at, _)) => {
                *incidents != self.incidents.len()
                    || (*revision != self.state.revision()
                        && at.elapsed() > std::time::Duration::from_millis(500))
            }
        };
        if stale {
            let m = self.measurements();
            self.measured = Some((
                self.incidents.len(),
                self.state.revision(),
                std::time::Instant::now(),
                m,
            ));
        }
        self.measured.as_ref().map_or(&[], |(_, _, _, m)| m)
    }
}

/// Formats milliseconds briefly.
fn ms(v: f32) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// Rate, errors and p95 over the last few seconds of a series.
fn summary(series: &Series) -> Option<(f64, u64, u64, Option<f32>)> {
    const SECONDS: usize = 3;
    let (requests, errors) = series.recent(SECONDS);
    if requests == 0 {
        return None;
    }
    let p95 = series
        .buckets()
        .rev()
        .take(SECONDS)
        .filter_map(|b| b.p95_ms)
        .reduce(f32::max);
    Some((requests as f64 / SECONDS as f64, requests, errors, p95))
}

impl TopolabApp {
    /// Whether a lab runs and its live view applies.
    pub(super) fn live_active(&self) -> bool {
        self.lab.running.is_some()
    }

    /// Health colours, link numbers and request dots over the canvas.
    pub(super) fn live_overlay(&mut self, ui: &egui::Ui, rect: Rect) {
        if !self.live_active() {
            return;
        }
        let Some((graph, index)) = &self.graph else {
            return;
        };
        let now = ui.input(|i| i.time);
        let live = &mut self.lab.live;
        live.state.tick(live::now());
        let meta = egui_graphs::MetadataFrame::new(None).load(ui);
        let zoom = meta.zoom;
        // egui_graphs draws relative to the widget's top-left corner.
        let to_screen = |p: Pos2| meta.canvas_to_screen_pos(p) + rect.min.to_vec2();
        let painter = ui.painter_at(rect);
        let position = |id: &ComponentId| {
            index
                .get(&Subject::Component(id.clone()))
                .and_then(|n| graph.node(*n))
                .map(|n| n.location())
        };
        let font = FontId::proportional((11.0 * zoom).clamp(8.0, 14.0));

        // Health: a ring in the health's colour, a dot at the right end.
        for subject in index.keys() {
            let Subject::Component(id) = subject else {
                continue;
            };
            let Some(center) = position(id) else {
                continue;
            };
            let health = live.state.node_health(id).health;
            let color = health_color(health);
            let r = Rect::from_center_size(to_screen(center), Vec2::new(150.0, 36.0) * zoom);
            if health != Health::Up {
                painter.rect_stroke(
                    r.expand(2.0 * zoom),
                    6.0 * zoom.min(1.0),
                    Stroke::new(3.0 * zoom.max(0.5), color),
                    egui::StrokeKind::Outside,
                );
            }
            painter.circle(
                r.right_center() - Vec2::new(12.0 * zoom, 0.0),
                5.0 * zoom.max(0.5),
                color,
                Stroke::new(1.0, Color32::WHITE),
            );
        }

        // Faults in effect, on what they target.
        for (target, kind, check) in &live.faults {
            let at = match target {
                Subject::Component(id) => {
                    position(id).map(|c| to_screen(c) + Vec2::new(0.0, -22.0 * zoom))
                }
                Subject::Host(h) => index
                    .get(&Subject::Host(h.clone()))
                    .and_then(|n| graph.node(*n))
                    .map(|n| to_screen(n.location()) + Vec2::new(40.0 * zoom, 0.0)),
            };
            if let Some(at) = at {
                // Whether it took effect: checked, or seen to change nothing
                // (grey: the lab is not in the state the badge names).
                let (mark, fill) = match check {
                    Verification::Verified(_) => (" ✔", health_color(Health::Degraded)),
                    Verification::NoEffect(_) => (" ✖ no effect", health_color(Health::Unknown)),
                    Verification::Applied => ("", health_color(Health::Degraded)),
                };
                let text = format!("⚡ {kind}{mark}");
                let galley = painter.layout_no_wrap(text, font.clone(), Color32::BLACK);
                let r = Rect::from_center_size(at, galley.size() + Vec2::new(8.0, 4.0));
                painter.rect_filled(r, 3.0, fill);
                painter.galley(r.min + Vec2::new(4.0, 2.0), galley, Color32::BLACK);
            }
        }

        // Numbers on the links.
        let dark = ui.visuals().dark_mode;
        let label_bg = if dark {
            Color32::from_black_alpha(190)
        } else {
            Color32::from_white_alpha(220)
        };
        let boxed = |r: Rect, galley: std::sync::Arc<egui::Galley>, color: Color32| {
            painter.rect_filled(r, 3.0, label_bg);
            painter.galley(r.min + Vec2::new(4.0, 2.0), galley, color);
        };
        let label = |at: Pos2, text: String, color: Color32| {
            let galley = painter.layout_no_wrap(text, font.clone(), color);
            let r = Rect::from_center_size(at, galley.size() + Vec2::new(8.0, 4.0));
            boxed(r, galley, color);
        };
        let label_beside = |at: Pos2, text: String, color: Color32, left: bool| {
            let galley = painter.layout_no_wrap(text, font.clone(), color);
            let size = galley.size() + Vec2::new(8.0, 4.0);
            let x = if left { size.x } else { 0.0 };
            let r = Rect::from_min_size(at - Vec2::new(x, size.y / 2.0), size);
            // Kept inside the canvas.
            let shift = (rect.left() - r.left()).max(0.0) - (r.right() - rect.right()).max(0.0);
            boxed(r.translate(Vec2::new(shift, 0.0)), galley, color);
        };
        let center_x = {
            let xs: Vec<f32> = index
                .values()
                .filter_map(|n| graph.node(*n))
                .map(|n| n.location().x)
                .collect();
            xs.iter().sum::<f32>() / xs.len().max(1) as f32
        };
        let subjects: HashMap<_, &Subject> = index.iter().map(|(s, n)| (*n, s)).collect();
        for (e, edge) in graph.edges_iter() {
            let Some((a, b)) = graph.edge_endpoints(e) else {
                continue;
            };
            let (Some(a), Some(b)) = (subjects.get(&a).copied(), subjects.get(&b).copied()) else {
                continue;
            };
            let (Subject::Component(a), Subject::Component(b)) = (a, b) else {
                continue;
            };
            let (Some(pa), Some(pb)) = (position(a), position(b)) else {
                continue;
            };
            // A third of the way along: links that cross (reads one way,
            // writes the other) keep their labels apart.
            let mid = to_screen(pa + (pb - pa) * 0.35);
            // A link inside one host box is short: its label goes beside the
            // box, on the side away from the rest of the design.
            let beside = (a.host == b.host).then(|| {
                let y = to_screen(pa + (pb - pa) * 0.5).y;
                if pa.x > center_x {
                    (
                        Pos2::new(to_screen(pa).x + (HALF_WIDTH + 6.0) * zoom, y),
                        false,
                    )
                } else {
                    (
                        Pos2::new(to_screen(pa).x - (HALF_WIDTH + 6.0) * zoom, y),
                        true,
                    )
                }
            });
            match *edge.payload() {
                LinkKind::Replication => {
                    let text = match live.state.replication(&b.host) {
                        Some(Ok(r)) if r.running() => format!("lag {}", r.lag_text()),
                        Some(Ok(r)) => format!("stopped (lag {})", r.lag_text()),
                        Some(Err(_)) => "replication unreadable".to_owned(),
                        None => continue,
                    };
                    let health = live.state.node_health(b).health;
                    label(mid + Vec2::new(0.0, -12.0), text, health_color(health));
                }
                LinkKind::Contains => {}
                _ => {
                    let Some(series) = live.state.edge_series(
                        &Endpoint::Component(a.clone()),
                        &Endpoint::Component(b.clone()),
                    ) else {
                        continue;
                    };
                    let Some((rate, requests, errors, p95)) = summary(series) else {
                        continue;
                    };
                    let mut text = format!("{rate:.0}/s");
                    if let Some(p) = p95 {
                        text.push_str(&format!(" · p95 {}", ms(p)));
                    }
                    if errors > 0 {
                        text.push_str(&format!(
                            " · {:.1}% err",
                            100.0 * errors as f64 / requests as f64
                        ));
                    }
                    let color = health_color(live::edge_health(requests, errors));
                    match beside {
                        Some((at, true)) => label_beside(at, text, color, true),
                        Some((at, false)) => label_beside(at, text, color, false),
                        None => label(mid, text, color),
                    }
                }
            }
        }

        // Clients above each entry point, with their request rate.
        let entries: Vec<HostName> = self
            .lab
            .running
            .as_ref()
            .map(|r| r.entry_points.iter().map(|e| e.host.clone()).collect())
            .unwrap_or_default();
        let entry_position = |host: &HostName| {
            position(&ComponentId::new(host, ComponentKind::Lb))
                .or_else(|| position(&ComponentId::new(host, ComponentKind::Nginx)))
        };
        // Screen position of the clients of the entry point at `p`, kept
        // inside the canvas.
        let client_at = |p: Pos2| {
            let at = to_screen(p - Vec2::new(0.0, CLIENT_ABOVE));
            Pos2::new(at.x, at.y.max(rect.top() + 14.0))
        };
        for host in &entries {
            let Some(p) = entry_position(host) else {
                continue;
            };
            let at = client_at(p);
            let series = live
                .state
                .edge_series(
                    &Endpoint::Client,
                    &Endpoint::Component(ComponentId::new(host, ComponentKind::Lb)),
                )
                .and_then(summary);
            let text = match series {
                Some((rate, _, errors, _)) => format!(
                    "👥 clients · {rate:.0} req/s{}",
                    if errors > 0 {
                        format!(" · {errors} failed")
                    } else {
                        String::new()
                    }
                ),
                None => "👥 clients".to_owned(),
            };
            let color = series.map_or(ui.visuals().text_color(), |(_, r, e, _)| {
                health_color(live::edge_health(r, e))
            });
            label(at, text, color);
        }

        // New requests become dots; at high rates a sample of them.
        let fresh: Vec<Dot> = live
            .state
            .take_recent()
            .map(|t| Dot {
                path: t.path(),
                entry: t.entry.clone(),
                ok: t.ok(),
                born: now,
            })
            .collect();
        let room = MAX_DOTS.saturating_sub(live.dots.len()).max(1);
        let step = fresh.len().div_ceil(room).max(1);
        live.dots.extend(fresh.into_iter().step_by(step));
        while live.dots.len() > MAX_DOTS {
            live.dots.pop_front();
        }
        live.dots.retain(|d| now - d.born < DOT_SECONDS);
        for dot in &live.dots {
            let mut points: Vec<Pos2> = Vec::with_capacity(dot.path.len() + 1);
            if let Some(p) = entry_position(&dot.entry) {
                points.push(client_at(p));
            }
            points.extend(dot.path.iter().filter_map(position).map(to_screen));
            if points.len() < 2 {
                continue;
            }
            let segments = (points.len() - 1) as f64;
            let t = ((now - dot.born) / DOT_SECONDS).clamp(0.0, 1.0) * segments;
            let i = (t.floor() as usize).min(points.len() - 2);
            let f = (t - i as f64) as f32;
            let at = points[i] + (points[i + 1] - points[i]) * f;
            let color = if dot.ok {
                Color32::from_rgb(120, 230, 255)
            } else {
                Color32::from_rgb(255, 70, 70)
            };
            painter.circle_filled(at, 4.0 * zoom.clamp(0.6, 1.2), color);
        }
        if !live.dots.is_empty() {
            ui.ctx().request_repaint();
        }
    }

    /// The line the canvas tooltip adds for a running lab.
    pub(super) fn live_tooltip(&self, subject: &Subject) -> Option<String> {
        if !self.live_active() {
            return None;
        }
        let live = &self.lab.live.state;
        Some(match subject {
            Subject::Component(id) => {
                let h = live.node_health(id);
                format!("Live: {} — {}", h.health, h.reason)
            }
            Subject::Host(host) => match live.container(host, None) {
                Some(state) => format!("Live: host (holder) {state}"),
                None => "Live: no report yet".to_owned(),
            },
        })
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
                match id.kind {
                    ComponentKind::Lb => {
                        for (lb, server, status) in live.backends() {
                            if *lb != id.host {
                                continue;
                            }
                            let check = live
                                .backend(lb, server)
                                .map(|(_, c, _)| c.to_owned())
                                .unwrap_or_default();
                            let load = live
                                .backend_load(lb, server)
                                .map(|(rate, total, errors)| {
                                    format!(" · {rate}/s, {total} sessions, {errors} errors")
                                })
                                .unwrap_or_default();
                            ui.label(
                                RichText::new(format!("{server}: {status} ({check}){load}"))
                                    .color(health_color(status.health())),
                            );
                        }
                    }
                    ComponentKind::Db => match live.replication(&id.host) {
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
                                    RichText::new(format!("Last error: {e}"))
                                        .color(health_color(Health::Down)),
                                );
                            }
                        }
                        Some(Err(e)) => {
                            ui.label(format!("Replication unreadable: {e}"));
                        }
                        None => {}
                    },
                    _ => {}
                }
                if let Some(series) = live.node_series(id) {
                    sparklines(ui, id, series);
                }
                self.faults_ui(ui, &Subject::Component(id.clone()), intents);
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Container log").strong());
                    if ui.small_button("⟳ Refresh").clicked() {
                        intents.push(Intent::Logs(id.clone()));
                    }
                });
                match self.lab.live.logs.get(id) {
                    Some(text) => {
                        egui::ScrollArea::vertical()
                            .id_salt(("log", id.to_string()))
                            .max_height(160.0)
                            .stick_to_bottom(true)
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(text).monospace().small())
                                        .selectable(true),
                                );
                            });
                    }
                    None => {
                        ui.label(RichText::new("(Refresh to read its last lines)").weak());
                    }
                }
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
        let before = (live.rate, live.writes);
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
        });
        if !live.faults.is_empty() && ui.button("✚ Heal all faults").clicked() {
            intents.push(Intent::Heal(None));
        }
        if live.traffic_on && before != (live.rate, live.writes) {
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
        ui.label(
            RichText::new(
                "Each dot on the canvas is a real request, drawn along the path its answer's \
                 X-Topolab headers name. Link labels: requests/s, p95 latency, errors.",
            )
            .weak(),
        );
    }

    /// The live transitions and the stopwatch, for the timeline tab.
    pub(super) fn live_timeline_ui(&mut self, ui: &mut egui::Ui) {
        if !self.live_active() {
            return;
        }
        let entries: Vec<_> = self.lab.live.state.timeline().collect();
        if entries.is_empty() {
            self.stopwatch_ui(ui);
            return;
        }
        ui.separator();
        ui.label(RichText::new("Live transitions (as the lab reports them, UTC)").strong());
        for t in entries {
            let color = t.health.map(health_color);
            let text = RichText::new(format!("{}  {}", stopwatch::clock(t.at), t.text)).monospace();
            ui.label(match color {
                Some(c) => text.color(c),
                None => text,
            });
        }
        self.stopwatch_ui(ui);
    }
}

/// Small plots of a component's last minutes.
fn sparklines(ui: &mut egui::Ui, id: &ComponentId, series: &Series) {
    let buckets: Vec<&live::Bucket> = series.buckets().collect();
    if buckets.is_empty() {
        return;
    }
    let first = buckets[0].second as f64;
    let x = |b: &live::Bucket| b.second as f64 - first;
    let mut plots: Vec<(&str, Vec<[f64; 2]>)> = Vec::new();
    if buckets.iter().any(|b| b.requests > 0) {
        plots.push((
            "requests/s",
            buckets
                .iter()
                .map(|b| [x(b), f64::from(b.requests)])
                .collect(),
        ));
        plots.push((
            "errors/s",
            buckets
                .iter()
                .map(|b| [x(b), f64::from(b.errors)])
                .collect(),
        ));
        plots.push((
            "p95 latency (ms)",
            buckets
                .iter()
                .filter_map(|b| b.p95_ms.map(|p| [x(b), f64::from(p)]))
                .collect(),
        ));
    }
    if buckets
        .iter()
        .any(|b| b.lag_seconds.is_some() || b.lag_transactions.is_some())
    {
        plots.push((
            "lag (s)",
            buckets
                .iter()
                .filter_map(|b| b.lag_seconds.map(|l| [x(b), l as f64]))
                .collect(),
        ));
        plots.push((
            "lag (transactions)",
            buckets
                .iter()
                .filter_map(|b| b.lag_transactions.map(|l| [x(b), l as f64]))
                .collect(),
        ));
    }
    if buckets.iter().any(|b| b.cpu_percent.is_some()) {
        plots.push((
            "CPU (%)",
            buckets
                .iter()
                .filter_map(|b| b.cpu_percent.map(|c| [x(b), f64::from(c)]))
                .collect(),
        ));
    }
    for (name, points) in plots {
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

impl TopolabApp {
    /// One-click faults for `subject`, its heal button, and Promote for a
    /// replica.
    pub(super) fn faults_ui(
        &self,
        ui: &mut egui::Ui,
        subject: &Subject,
        intents: &mut Vec<Intent>,
    ) {
        let topology = self.doc.topology();
        ui.label(RichText::new("Faults").strong());
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
        });
        let host = subject.host();
        let replica = topology
            .host(host)
            .and_then(|h| h.database())
            .is_some_and(|d| matches!(d.role, Role::Replica { .. }));
        let names_db = match subject {
            Subject::Host(_) => true,
            Subject::Component(id) => id.kind == ComponentKind::Db,
        };
        if replica
            && names_db
            && ui
                .button("⬆ Promote to primary…")
                .on_hover_text("Reports the lag and the writes it would lose first")
                .clicked()
        {
            intents.push(Intent::Assess(host.clone()));
        }
    }

    /// The promotion dialog: the assessment, then the choice.
    pub(super) fn promote_dialog_ui(&self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let Some(dialog) = &self.lab.live.promote_dialog else {
            return;
        };
        let replica = HostName::new(dialog.replica.as_str());
        egui::Modal::new(egui::Id::new("promote")).show(ctx, |ui| {
            ui.heading(format!("Promote {replica}/db to primary?"));
            match &dialog.assessment {
                None => {
                    ui.label("Asking the replica and the old primary…");
                }
                Some(Err(why)) => {
                    ui.label(RichText::new(why).color(health_color(Health::Down)));
                }
                Some(Ok(a)) => {
                    ui.label(a.summary());
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
                        if ui
                            .button("Planned switchover")
                            .on_hover_text("Both alive: the old primary turns read-only, the replica catches up — no write lost")
                            .clicked()
                        {
                            intents.push(Intent::Promote {
                                replica: replica.clone(),
                                planned: true,
                                accept_loss: false,
                            });
                        }
                    });
                }
            }
            if ui.button("Cancel").clicked() {
                intents.push(Intent::ClosePromote);
            }
        });
    }

    /// The stopwatch of every fault and promotion, in the timeline tab.
    pub(super) fn stopwatch_ui(&mut self, ui: &mut egui::Ui) {
        if self.lab.live.incidents.is_empty() {
            return;
        }
        ui.separator();
        let measured = self.lab.live.cached_measurements().to_vec();
        ui.horizontal(|ui| {
            ui.label(RichText::new("Stopwatch").strong());
            if ui.small_button("Copy as Markdown").clicked() {
                let report: String = measured.iter().map(|m| stopwatch::report(m) + "\n").collect();
                ui.ctx().copy_text(format!("# Lab report\n\n{report}"));
            }
            ui.label(
                RichText::new("red: requests failed · amber: slowed · blue: detected · green: back / first write")
                    .weak()
                    .small(),
            );
        });
        for m in &measured {
            let report = stopwatch::report(m);
            let mut lines = report.lines().filter(|l| !l.is_empty());
            if let Some(title) = lines.next() {
                ui.label(RichText::new(title.trim_start_matches("### ")).strong());
            }
            spans(ui, m);
            for line in lines {
                ui.label(RichText::new(line).monospace());
            }
        }
    }
}

impl TopolabApp {
    /// The scenario tab: each step as it runs, the line that says what to
    /// expect before it, expectations held or failed, then the report.
    pub(super) fn scenario_ui(&self, ui: &mut egui::Ui) {
        let Some(run) = &self.lab.live.scenario else {
            return;
        };
        let state = match run.passed {
            None => RichText::new(format!("Scenario {} — running…", run.name)).strong(),
            Some(true) => RichText::new(format!("Scenario {} — every expectation held", run.name))
                .strong()
                .color(health_color(Health::Up)),
            Some(false) => RichText::new(format!("Scenario {} — an expectation failed", run.name))
                .strong()
                .color(health_color(Health::Down)),
        };
        ui.label(state);
        for line in &run.lines {
            let text = RichText::new(line.as_str());
            let text = if line.starts_with('▶') {
                text.strong()
            } else if line.trim_start().starts_with('✔') {
                text.color(health_color(Health::Up))
            } else if line.trim_start().starts_with('✖') {
                text.color(health_color(Health::Down))
            } else {
                text.monospace()
            };
            ui.label(text);
        }
    }
}

/// An incident's spans on a time axis: failed and slowed windows as bars,
/// detection, recovery and the first write as ticks.
fn spans(ui: &mut egui::Ui, m: &stopwatch::Measured) {
    let t = |at: live::Millis| m.after(at).max(0.0) as f32;
    let mut end: f32 = 2.0;
    for at in [m.failed.last, m.slowed.last, m.recovered, m.first_write]
        .into_iter()
        .flatten()
        .chain(m.detected.iter().map(|d| d.at))
    {
        end = end.max(t(at) + 0.5);
    }
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
    for at in [m.recovered, m.first_write].into_iter().flatten() {
        tick(t(at), health_color(Health::Up));
    }
    painter.text(
        rect.right_top(),
        egui::Align2::RIGHT_TOP,
        format!("{end:.1} s"),
        FontId::proportional(10.0),
        ui.visuals().weak_text_color(),
    );
}
