//! The running lab over the canvas, a widget: health rings, fault badges,
//! each host's release, numbers on the links, clients above the entry
//! points and a dot for each request travelling its path ([`show`]); and
//! the live lines of the canvas tooltip ([`tooltip`]). Reads the
//! [`LiveView`] and where the canvas drew everything ([`Positions`]);
//! changes nothing, waits on nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use egui::{Color32, FontId, Galley, Pos2, Rect, Stroke, Vec2};
use egui_graphs::MetadataFrame;

use super::canvas::{HOST_WIDTH, LinkKind, Positions, host_size};
use super::lab_view::{DOT_SECONDS, Dot, LiveView};
use super::style::{WARN, health_color, ms, release_color};
use crate::live::{self, BackendStatus, Endpoint, Health, LiveState, Series};
use crate::model::{ComponentId, ComponentKind, Host, HostName, Subject};
use crate::protocol::{EntryPoint, FaultKind, Verification};

/// Where clients are drawn: this far above an entry point's component
/// (canvas units: just above its host's title bar).
const CLIENT_ABOVE: f32 = 62.0;
/// Half a host box's width (canvas units).
const HALF_WIDTH: f32 = HOST_WIDTH / 2.0;

/// Below this zoom the release badges would be too small to read.
const MIN_BADGE_ZOOM: f32 = 0.4;

/// A host's release, for its badge on the canvas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Badge {
    /// The release the lab records for its app.
    pub recorded: String,
    /// Another release its app answers with now (a deploy is switching
    /// it), if it does.
    pub answers: Option<String>,
}

/// Draws the running lab over the canvas at `rect`: `live` as the lab
/// reports it, its clients at `entry_points`, each app host's release
/// badge (`badges`).
pub fn show(
    ui: &egui::Ui,
    rect: Rect,
    positions: &Positions<'_>,
    live: &LiveView,
    entry_points: &[EntryPoint],
    hosts: &[Host],
    badges: &BTreeMap<HostName, Badge>,
) {
    let overlay = Overlay::new(ui, rect, positions);
    overlay.out_of_rotation(&live.state);
    overlay.health(&live.state);
    overlay.releases(hosts, badges);
    overlay.at_size(&live.state, hosts);
    overlay.faults(&live.faults);
    overlay.link_numbers(&live.state);
    overlay.vips(&live.state, hosts);
    overlay.clients(&live.state, entry_points, ui.visuals().text_color());
    let now = ui.input(|i| i.time);
    overlay.dots(live.dots_on_canvas(), now);
}

/// The lines the canvas tooltip adds for `subject` while a lab runs: its
/// state, and an app's release as recorded (`recorded`) and as answered.
pub fn tooltip(live: &LiveState, subject: &Subject, recorded: Option<&str>) -> String {
    let mut text = match subject {
        Subject::Component(id) => {
            let h = live.node_health(id);
            format!("Live: {} — {}", h.health, h.reason)
        }
        Subject::Host(host) => match live.container(host, None) {
            Some(state) => format!("Live: host (holder) {state}"),
            None => "Live: no report yet".to_owned(),
        },
    };
    let app = match subject {
        Subject::Host(_) => true,
        Subject::Component(id) => id.kind == ComponentKind::App,
    };
    if let (true, Some(recorded)) = (app, recorded) {
        text.push_str(&format!("\nRelease: {recorded} (as the lab records it)"));
        if let Some(answered) = live.app_version(subject.host()) {
            text.push_str(&format!("; its last answer came from {answered}"));
        }
    }
    text
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

/// One frame's drawing over the canvas: where things are on screen, and
/// the painter, font and label background to draw them with.
struct Overlay<'a> {
    positions: &'a Positions<'a>,
    meta: MetadataFrame,
    rect: Rect,
    zoom: f32,
    painter: egui::Painter,
    font: FontId,
    label_bg: Color32,
    /// The dark theme is in use.
    dark: bool,
}

impl<'a> Overlay<'a> {
    fn new(ui: &egui::Ui, rect: Rect, positions: &'a Positions<'a>) -> Self {
        let meta = MetadataFrame::new(None).load(ui);
        let zoom = meta.zoom;
        let label_bg = if ui.visuals().dark_mode {
            Color32::from_black_alpha(190)
        } else {
            Color32::from_white_alpha(220)
        };
        Self {
            positions,
            meta,
            rect,
            zoom,
            painter: ui.painter_at(rect),
            font: FontId::proportional((11.0 * zoom).clamp(8.0, 14.0)),
            label_bg,
            dark: ui.visuals().dark_mode,
        }
    }

    /// Screen position of the canvas position `p` (egui_graphs draws
    /// relative to the widget's top-left corner).
    fn to_screen(&self, p: Pos2) -> Pos2 {
        self.meta.canvas_to_screen_pos(p) + self.rect.min.to_vec2()
    }

    /// The links between components, with where their ends were drawn
    /// (canvas units).
    fn component_links(&self) -> Vec<(&ComponentId, &ComponentId, LinkKind, Pos2, Pos2)> {
        self.positions
            .links()
            .into_iter()
            .filter_map(|(a, b, kind)| {
                let (Subject::Component(a), Subject::Component(b)) = (a, b) else {
                    return None;
                };
                let pa = self.positions.component(a)?;
                let pb = self.positions.component(b)?;
                Some((a, b, kind, pa, pb))
            })
            .collect()
    }

    /// Links the lab does not use now: a load balancer's backend out of
    /// rotation (down, drained, in maintenance: each its own mark) is
    /// faded; the writes to a primary that is down are red.
    fn out_of_rotation(&self, state: &LiveState) {
        let fade = if self.dark {
            Color32::from_black_alpha(170)
        } else {
            Color32::from_white_alpha(190)
        };
        for (a, b, kind, pa, pb) in self.component_links() {
            let (sa, sb) = (self.to_screen(pa), self.to_screen(pb));
            let mark = match kind {
                LinkKind::Backend { .. } => match state.backend(&a.host, &b.host) {
                    Some((BackendStatus::Down, ..)) => Some(("✖ DOWN", Health::Down, true)),
                    Some((BackendStatus::Drain, ..)) => Some(("drained", Health::Degraded, true)),
                    Some((BackendStatus::Maintenance, ..)) => {
                        Some(("maintenance", Health::Maintenance, true))
                    }
                    _ => None,
                },
                LinkKind::Writes if state.node_health(b).health == Health::Down => {
                    Some(("✖ writes fail", Health::Down, false))
                }
                _ => None,
            };
            let Some((text, health, faded)) = mark else {
                continue;
            };
            let color = health_color(health);
            if faded {
                self.painter
                    .line_segment([sa, sb], Stroke::new(6.0 * self.zoom.max(0.5), fade));
            } else {
                self.painter
                    .line_segment([sa, sb], Stroke::new(3.0 * self.zoom.max(0.5), color));
            }
            self.label(sa + (sb - sa) * 0.6, text.to_owned(), color);
        }
    }

    /// Health: a ring in the health's colour, a dot at the right end.
    fn health(&self, state: &LiveState) {
        let zoom = self.zoom;
        for (subject, center) in self.positions.all() {
            let Subject::Component(id) = subject else {
                continue;
            };
            let health = state.node_health(id).health;
            let color = health_color(health);
            let r = Rect::from_center_size(self.to_screen(center), Vec2::new(150.0, 36.0) * zoom);
            if health != Health::Up {
                self.painter.rect_stroke(
                    r.expand(2.0 * zoom),
                    6.0 * zoom.min(1.0),
                    Stroke::new(3.0 * zoom.max(0.5), color),
                    egui::StrokeKind::Outside,
                );
            }
            self.painter.circle(
                r.right_center() - Vec2::new(12.0 * zoom, 0.0),
                5.0 * zoom.max(0.5),
                color,
                Stroke::new(1.0, Color32::WHITE),
            );
        }
    }

    /// A host whose components use its whole CPU size: a badge with the
    /// share, on its title (where a capacity ramp's bottleneck shows).
    fn at_size(&self, state: &LiveState, hosts: &[Host]) {
        let used = state.host_resources();
        for host in hosts {
            let Some((cpu, _)) = used.get(&host.name) else {
                continue;
            };
            let share = f64::from(*cpu) / 100.0 / host.size.cpus.max(f64::EPSILON);
            if share < crate::capacity::SATURATED {
                continue;
            }
            let Some(center) = self.positions.of(&Subject::Host(host.name.clone())) else {
                continue;
            };
            let at = self.to_screen(center) + Vec2::new(-40.0 * self.zoom, 0.0);
            let text = format!(
                "CPU {:.0}% of {}",
                share * 100.0,
                crate::model::cpus_text(host.size.cpus)
            );
            let galley = self
                .painter
                .layout_no_wrap(text, self.font.clone(), Color32::WHITE);
            let r = Rect::from_center_size(at, galley.size() + Vec2::new(8.0, 4.0));
            self.painter.rect_filled(r, 3.0, health_color(Health::Down));
            self.painter
                .galley(r.min + Vec2::new(4.0, 2.0), galley, Color32::WHITE);
        }
    }

    /// Each app host's release, as a badge at the right of its title bar:
    /// `⚙ v2` in the release's colour, or `⚙ v1 → v2` in amber while its
    /// app answers with another release than the lab records.
    fn releases(&self, hosts: &[Host], badges: &BTreeMap<HostName, Badge>) {
        if self.zoom < MIN_BADGE_ZOOM {
            return;
        }
        for host in hosts {
            let Some(badge) = badges.get(&host.name) else {
                continue;
            };
            let Some(center) = self.positions.of(&Subject::Host(host.name.clone())) else {
                continue;
            };
            let size = host_size(host);
            // The title bar's right end, inside the box.
            let anchor = center + Vec2::new(size.x / 2.0 - 6.0, -size.y / 2.0 + 15.0);
            let ink = Color32::from_gray(20);
            let (text, fill) = match &badge.answers {
                Some(answers) => (format!("⚙ {} → {answers}", badge.recorded), WARN),
                None => (
                    format!("⚙ {}", badge.recorded),
                    release_color(&badge.recorded),
                ),
            };
            // Monospace: it has the arrow, and a release reads as a name.
            let font = FontId::monospace(self.font.size);
            let galley = self.painter.layout_no_wrap(text, font, ink);
            let boxed = galley.size() + Vec2::new(8.0, 4.0);
            let at = self.to_screen(anchor);
            let r = Rect::from_min_size(at - Vec2::new(boxed.x, boxed.y / 2.0), boxed);
            self.painter.rect_filled(r, 3.0, fill);
            self.painter
                .galley(r.min + Vec2::new(4.0, 2.0), galley, ink);
        }
    }

    /// Faults in effect, on what they target.
    fn faults(&self, faults: &[(Subject, FaultKind, Verification)]) {
        for (target, kind, check) in faults {
            // On the box's top-right corner, clear of its name and its
            // health dot.
            let at = match target {
                Subject::Component(id) => self
                    .positions
                    .component(id)
                    .map(|c| self.to_screen(c) + Vec2::new(60.0 * self.zoom, -18.0 * self.zoom)),
                Subject::Host(_) => self
                    .positions
                    .of(target)
                    .map(|c| self.to_screen(c) + Vec2::new(40.0 * self.zoom, 0.0)),
            };
            let Some(at) = at else {
                continue;
            };
            // Whether it took effect: checked, or seen to change nothing
            // (grey: the lab is not in the state the badge names).
            let (mark, fill) = match check {
                Verification::Verified(_) => (" ✔", health_color(Health::Degraded)),
                Verification::NoEffect(_) => (" ✖ no effect", health_color(Health::Unknown)),
                Verification::Applied => ("", health_color(Health::Degraded)),
            };
            let text = format!("⚡ {kind}{mark}");
            let galley = self
                .painter
                .layout_no_wrap(text, self.font.clone(), Color32::BLACK);
            let r = Rect::from_center_size(at, galley.size() + Vec2::new(8.0, 4.0));
            self.painter.rect_filled(r, 3.0, fill);
            self.painter
                .galley(r.min + Vec2::new(4.0, 2.0), galley, Color32::BLACK);
        }
    }

    /// Numbers on the links: rate, p95 and errors of the requests along
    /// each, and a replica's lag (and stale reads) on its replication link;
    /// a database without one that served stale reads says so beside it.
    fn link_numbers(&self, state: &LiveState) {
        let center_x = {
            let xs: Vec<f32> = self.positions.all().map(|(_, p)| p.x).collect();
            xs.iter().sum::<f32>() / xs.len().max(1) as f32
        };
        let mut labelled: Vec<&ComponentId> = Vec::new();
        for (a, b, kind, pa, pb) in self.component_links() {
            // A third of the way along: links that cross (reads one way,
            // writes the other) keep their labels apart.
            let mid = self.to_screen(pa + (pb - pa) * 0.35);
            match kind {
                LinkKind::Replication => {
                    if self.replication_label(state, b, mid) {
                        labelled.push(b);
                    }
                }
                LinkKind::Contains => {}
                _ => {
                    let Some((text, color)) = requests_label(state, a, b) else {
                        continue;
                    };
                    if a.host == b.host {
                        // A link inside one host box is short: its label
                        // goes beside the box, on the side away from the
                        // rest of the design.
                        let y = self.to_screen(pa + (pb - pa) * 0.5).y;
                        let x = self.to_screen(pa).x;
                        let off = (HALF_WIDTH + 6.0) * self.zoom;
                        if pa.x > center_x {
                            self.label_beside(Pos2::new(x + off, y), text, color, false);
                        } else {
                            self.label_beside(Pos2::new(x - off, y), text, color, true);
                        }
                    } else {
                        self.label(mid, text, color);
                    }
                }
            }
        }
        // A database with no lag label (a primary serving reads, a
        // replica whose status is not known yet) still shows its stale reads.
        for (subject, center) in self.positions.all() {
            let Subject::Component(id) = subject else {
                continue;
            };
            if id.kind == ComponentKind::Dns {
                // What clients asking it are told now.
                let (text, health) = match state.dns_answer(&id.host) {
                    Some(Ok(entries)) => (format!("answers {}", entries.join(", ")), Health::Up),
                    Some(Err(why)) => (format!("no answer: {why}"), Health::Down),
                    None => continue,
                };
                let at = self.to_screen(center) + Vec2::new(0.0, 30.0 * self.zoom);
                self.label(at, text, health_color(health));
                continue;
            }
            if id.kind != ComponentKind::Db || labelled.contains(&id) {
                continue;
            }
            if let Some(stale) = stale_text(state, id) {
                let at = self.to_screen(center) + Vec2::new(0.0, 30.0 * self.zoom);
                self.label(at, stale, health_color(Health::Degraded));
            }
        }
    }

    /// Under each load balancer sharing a virtual IP: whether it holds the
    /// address now, as the address itself answers.
    fn vips(&self, state: &LiveState, hosts: &[Host]) {
        for host in hosts {
            let Some(vip) = host.load_balancer().and_then(|lb| lb.vip) else {
                continue;
            };
            let id = ComponentId::new(&host.name, ComponentKind::Lb);
            let Some(center) = self.positions.component(&id) else {
                continue;
            };
            let (text, health) = match state.vip_holder(vip) {
                Some(Ok(h)) if *h == host.name => (format!("holds vip .{vip}"), Health::Up),
                Some(Ok(h)) => (format!("standby: vip .{vip} is on {h}"), Health::Unknown),
                Some(Err(why)) => (format!("vip .{vip}: {why}"), Health::Down),
                None => continue,
            };
            let at = self.to_screen(center) + Vec2::new(0.0, 30.0 * self.zoom);
            self.label(at, text, health_color(health));
        }
    }

    /// A replica's lag, on its replication link at `mid`, with the stale
    /// reads it served in the last complete second; whether it was drawn.
    fn replication_label(&self, state: &LiveState, replica: &ComponentId, mid: Pos2) -> bool {
        let mut text = match state.replication(&replica.host) {
            Some(Ok(r)) if r.running() => format!("lag {}", r.lag_text()),
            Some(Ok(r)) => format!("stopped (lag {})", r.lag_text()),
            Some(Err(_)) => "replication unreadable".to_owned(),
            None => return false,
        };
        let mut health = state.node_health(replica).health;
        if let Some(stale) = stale_text(state, replica) {
            text.push_str(" · ");
            text.push_str(&stale);
            if health == Health::Up {
                health = Health::Degraded;
            }
        }
        self.label(mid + Vec2::new(0.0, -12.0), text, health_color(health));
        true
    }

    /// Where the entry point on `host` was drawn.
    fn entry_position(&self, host: &HostName) -> Option<Pos2> {
        self.positions
            .component(&ComponentId::new(host, ComponentKind::Lb))
            .or_else(|| {
                self.positions
                    .component(&ComponentId::new(host, ComponentKind::Nginx))
            })
    }

    /// Screen position of the clients of the entry point at `p`, kept
    /// inside the canvas.
    fn client_at(&self, p: Pos2) -> Pos2 {
        let at = self.to_screen(p - Vec2::new(0.0, CLIENT_ABOVE));
        Pos2::new(at.x, at.y.max(self.rect.top() + 14.0))
    }

    /// Clients above each entry point, with their request rate (`plain`:
    /// the colour while no request went there).
    fn clients(&self, state: &LiveState, entry_points: &[EntryPoint], plain: Color32) {
        for entry in entry_points {
            let host = &entry.host;
            let Some(p) = self.entry_position(host) else {
                continue;
            };
            let series = state
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
            let color = series.map_or(plain, |(_, r, e, _)| health_color(live::edge_health(r, e)));
            self.label(self.client_at(p), text, color);
        }
    }

    /// Each request as a dot travelling its path, from its clients, at
    /// `now` (egui time, seconds).
    fn dots<'d>(&self, dots: impl Iterator<Item = &'d Dot>, now: f64) {
        for dot in dots {
            let mut points: Vec<Pos2> = Vec::with_capacity(dot.path.len() + 1);
            if let Some(p) = self.entry_position(&dot.entry) {
                points.push(self.client_at(p));
            }
            points.extend(
                dot.path
                    .iter()
                    .filter_map(|id| self.positions.component(id))
                    .map(|p| self.to_screen(p)),
            );
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
            self.painter
                .circle_filled(at, 4.0 * self.zoom.clamp(0.6, 1.2), color);
        }
    }

    /// `galley` in a box at `r`.
    fn boxed(&self, r: Rect, galley: Arc<Galley>, color: Color32) {
        self.painter.rect_filled(r, 3.0, self.label_bg);
        self.painter
            .galley(r.min + Vec2::new(4.0, 2.0), galley, color);
    }

    /// A label centred at `at`.
    fn label(&self, at: Pos2, text: String, color: Color32) {
        let galley = self.painter.layout_no_wrap(text, self.font.clone(), color);
        let r = Rect::from_center_size(at, galley.size() + Vec2::new(8.0, 4.0));
        self.boxed(r, galley, color);
    }

    /// A label beside `at`, to its left or right, kept inside the canvas.
    fn label_beside(&self, at: Pos2, text: String, color: Color32, left: bool) {
        let galley = self.painter.layout_no_wrap(text, self.font.clone(), color);
        let size = galley.size() + Vec2::new(8.0, 4.0);
        let x = if left { size.x } else { 0.0 };
        let r = Rect::from_min_size(at - Vec2::new(x, size.y / 2.0), size);
        let rect = self.rect;
        let shift = (rect.left() - r.left()).max(0.0) - (r.right() - rect.right()).max(0.0);
        self.boxed(r.translate(Vec2::new(shift, 0.0)), galley, color);
    }
}

/// `stale N/s` when the database `db` served stale reads in the last
/// complete second.
fn stale_text(state: &LiveState, db: &ComponentId) -> Option<String> {
    let stale = state.node_series(db)?.last()?.stale_reads;
    (stale > 0).then(|| format!("stale {stale}/s"))
}

/// The label of the requests from `a` to `b` over the last seconds, and
/// its colour (None: no request went along it).
fn requests_label(
    state: &LiveState,
    a: &ComponentId,
    b: &ComponentId,
) -> Option<(String, Color32)> {
    let series = state.edge_series(
        &Endpoint::Component(a.clone()),
        &Endpoint::Component(b.clone()),
    )?;
    let (rate, requests, errors, p95) = summary(series)?;
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
    // Errors or latency, whichever is worse (a p95 of a second is not
    // green just because nothing failed); Up < Degraded < Down.
    let health = [
        live::edge_health(requests, errors),
        live::latency_health(p95),
    ]
    .into_iter()
    .filter(|h| *h != Health::Unknown)
    .max()
    .unwrap_or(Health::Unknown);
    Some((text, health_color(health)))
}
