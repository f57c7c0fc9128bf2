//! The running lab over the canvas: health rings, fault badges, numbers on
//! the links, clients above the entry points and a dot for each request
//! travelling its path; and the live line of the canvas tooltip. Read from
//! [`LiveView`]; nothing here waits on the lab.

use std::collections::HashMap;

use egui::{Color32, FontId, Pos2, Rect, Stroke, Vec2};

use super::app::TopolabApp;
use super::canvas::LinkKind;
use super::lab_view;
use super::style::{health_color, ms};
use crate::live::{self, Endpoint, Health, Series};
use crate::model::{ComponentId, ComponentKind, HostName, Subject};
use crate::protocol::Verification;

/// Where clients are drawn: this far above an entry point's component
/// (canvas units: just above its host's title bar).
const CLIENT_ABOVE: f32 = 62.0;
/// Half a host box's width (canvas units).
const HALF_WIDTH: f32 = super::canvas::HOST_WIDTH / 2.0;

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
    /// Health colours, link numbers and request dots over the canvas.
    pub(super) fn live_overlay(&mut self, ui: &egui::Ui, rect: Rect) {
        if !self.live_active() {
            return;
        }
        let Some((graph, index)) = &self.canvas.graph else {
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

        live.advance_dots(now);
        for dot in live.dots_on_canvas() {
            let mut points: Vec<Pos2> = Vec::with_capacity(dot.path.len() + 1);
            if let Some(p) = entry_position(&dot.entry) {
                points.push(client_at(p));
            }
            points.extend(dot.path.iter().filter_map(position).map(to_screen));
            if points.len() < 2 {
                continue;
            }
            let segments = (points.len() - 1) as f64;
            let t = ((now - dot.born) / lab_view::DOT_SECONDS).clamp(0.0, 1.0) * segments;
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
        if live.dots() > 0 {
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
}
