//! What the design says beyond hosts and links, drawn over the canvas in
//! design and live mode alike: the tier networks as zones with the
//! firewall between them, the regions and the WAN router joining them,
//! the clients (and the DNS that spreads them over
//! two load balancers) above the entry points, and Prometheus with its
//! scrape links when monitoring is on. TLS shows in the load balancers'
//! labels (`graph.rs`).

use egui::{Color32, FontId, Pos2, Rect, Shape, Stroke, Vec2};

use super::graph::{self, COMPONENT};
use super::view::View;
use super::{OnScreen, Positions};
use crate::model::{ComponentId, ComponentKind, Topology};

/// Draws the design's extras over the canvas drawn at `shown`; `live`:
/// a lab runs (its overlay draws the clients with their rates).
pub fn show(
    ui: &egui::Ui,
    shown: &OnScreen,
    view: View,
    positions: &Positions<'_>,
    t: &Topology,
    live: bool,
) {
    let painter = ui.painter_at(shown.rect);
    let to_screen = |p: Pos2| shown.rect.min + view.pan + p.to_vec2() * view.zoom;
    let component = |host: &crate::model::HostName, kind: ComponentKind| {
        positions
            .component(&ComponentId::new(host, kind))
            .map(|c| Rect::from_center_size(to_screen(c), COMPONENT * view.zoom))
    };
    let text = ui.visuals().text_color();
    let font = FontId::proportional((12.0 * view.zoom).clamp(9.0, 14.0));
    if t.security.segmentation {
        zones(&painter, t, &component, view.zoom, &font);
    }
    if crate::model::spans_regions(t) {
        regions(&painter, t, &shown.hosts, view.zoom, &font);
    }
    if !live {
        clients(&painter, t, &component, view.zoom, &font, text);
    }
    if t.monitoring.enabled {
        let hosts: Vec<Rect> = shown.hosts.iter().map(|(_, r)| *r).collect();
        prometheus(&painter, t, &component, &hosts, view.zoom, &font);
    }
}

/// A box with a label: the design's extra nodes.
fn node(painter: &egui::Painter, center: Pos2, label: &str, font: &FontId, fill: Color32) -> Rect {
    let galley = painter.layout_no_wrap(label.to_owned(), font.clone(), Color32::WHITE);
    let r = Rect::from_center_size(center, galley.size() + Vec2::new(14.0, 8.0));
    painter.rect_filled(r, 5.0, fill);
    painter.galley(r.min + Vec2::new(7.0, 4.0), galley, Color32::WHITE);
    r
}

/// An arrow from `a` to `b`.
fn arrow(painter: &egui::Painter, a: Pos2, b: Pos2, stroke: Stroke, dashed: bool) {
    if dashed {
        painter.extend(Shape::dashed_line(&[a, b], stroke, 6.0, 4.0));
    } else {
        painter.line_segment([a, b], stroke);
    }
    let dir = (b - a).normalized();
    let side = dir.rot90() * 4.0;
    painter.add(Shape::convex_polygon(
        vec![b, b - dir * 9.0 + side, b - dir * 9.0 - side],
        stroke.color,
        Stroke::NONE,
    ));
}

/// The front and back networks as zones around what joins them, and the
/// firewall between them.
fn zones(
    painter: &egui::Painter,
    t: &Topology,
    component: &dyn Fn(&crate::model::HostName, ComponentKind) -> Option<Rect>,
    zoom: f32,
    font: &FontId,
) {
    let around = |kinds: &[ComponentKind]| {
        t.hosts
            .iter()
            .flat_map(|h| kinds.iter().filter_map(|k| component(&h.name, *k)))
            .reduce(|a, b| a.union(b))
            .map(|r| r.expand(3.0 * zoom))
    };
    let front = around(&[ComponentKind::Lb, ComponentKind::Nginx]);
    let back = around(&[ComponentKind::App, ComponentKind::Db]);
    // Labels outside the zones: the front's above it, the back's below.
    let zone = |r: Rect, label: &str, color: Color32, above: bool| {
        painter.rect_filled(r, 8.0, color.gamma_multiply(0.05));
        painter.rect_stroke(
            r,
            8.0,
            Stroke::new(1.0, color.gamma_multiply(0.6)),
            egui::StrokeKind::Outside,
        );
        let (at, align) = if above {
            (
                r.left_top() + Vec2::new(4.0, -2.0),
                egui::Align2::LEFT_BOTTOM,
            )
        } else {
            (
                r.left_bottom() + Vec2::new(4.0, 2.0),
                egui::Align2::LEFT_TOP,
            )
        };
        painter.text(at, align, label, font.clone(), color);
    };
    let blue = Color32::from_rgb(90, 160, 240);
    let amber = Color32::from_rgb(230, 150, 60);
    if let Some(f) = front {
        zone(f, "front network: load balancers, Nginx", blue, true);
    }
    if let Some(b) = back {
        zone(b, "back network: apps, databases", amber, false);
    }
    if let (Some(f), Some(b)) = (front, back) {
        // The firewall: nothing on the front reaches the back but through
        // the hosts on both (Nginx to its app on 127.0.0.1).
        let y = (f.bottom() + b.top()) / 2.0;
        let (x0, x1) = (f.left().min(b.left()), f.right().max(b.right()));
        let red = Color32::from_rgb(220, 70, 60);
        painter.extend(Shape::dashed_line(
            &[Pos2::new(x0, y), Pos2::new(x1, y)],
            Stroke::new(2.0, red),
            8.0,
            5.0,
        ));
        painter.text(
            Pos2::new(x1 + 6.0, y),
            egui::Align2::LEFT_CENTER,
            "firewall: the load balancers\ncannot reach the databases",
            font.clone(),
            red,
        );
    }
}

/// Each region as a frame around its hosts, labelled below, and the WAN
/// that joins them with the round trip it adds.
fn regions(
    painter: &egui::Painter,
    t: &Topology,
    hosts: &[(crate::model::HostName, Rect)],
    zoom: f32,
    font: &FontId,
) {
    let teal = Color32::from_rgb(80, 170, 160);
    let mut frames: Vec<(String, Rect)> = Vec::new();
    for (name, r) in hosts {
        let Some(region) = t.host(name).and_then(|h| crate::model::lab_region(t, h)) else {
            continue;
        };
        match frames.iter_mut().find(|(n, _)| *n == region) {
            Some((_, frame)) => *frame = frame.union(*r),
            None => frames.push((region, *r)),
        }
    }
    if frames.len() < 2 {
        return;
    }
    let margin = 12.0 * zoom;
    for (region, frame) in &mut frames {
        *frame = frame.expand(margin);
        painter.rect_stroke(
            *frame,
            10.0,
            Stroke::new(1.5, teal.gamma_multiply(0.7)),
            egui::StrokeKind::Outside,
        );
        painter.text(
            frame.left_bottom() + Vec2::new(6.0, 3.0),
            egui::Align2::LEFT_TOP,
            format!("region {region}"),
            font.clone(),
            teal,
        );
    }
    // The WAN below the regions, joined to each.
    let bottom = frames
        .iter()
        .map(|(_, f)| f.bottom())
        .fold(f32::MIN, f32::max);
    let x = frames.iter().map(|(_, f)| f.center().x).sum::<f32>() / frames.len() as f32;
    let label = if t.wan.latency_ms > 0 {
        format!("🌐 WAN router · {} ms round trip", t.wan.latency_ms)
    } else {
        "🌐 WAN router".to_owned()
    };
    let wan = node(
        painter,
        Pos2::new(x, bottom + 42.0 * zoom),
        &label,
        font,
        teal.gamma_multiply(0.9),
    );
    for (_, f) in &frames {
        painter.line_segment(
            [wan.center_top(), f.center_bottom()],
            Stroke::new(1.5, teal.gamma_multiply(0.7)),
        );
    }
}

/// The clients above each entry point, and the DNS name that spreads them
/// over two or more load balancers.
fn clients(
    painter: &egui::Painter,
    t: &Topology,
    component: &dyn Fn(&crate::model::HostName, ComponentKind) -> Option<Rect>,
    zoom: f32,
    font: &FontId,
    text: Color32,
) {
    let entries: Vec<Rect> = graph::client_entries(t)
        .iter()
        .filter_map(|id| component(&id.host, id.kind))
        .collect();
    if entries.is_empty() {
        return;
    }
    // With DNS servers in the design, the clients ask them first: the
    // clients sit above them too.
    let servers: Vec<(String, Rect)> = t
        .dns_servers()
        .filter_map(|(h, _)| Some((h.name.to_string(), component(&h.name, ComponentKind::Dns)?)))
        .collect();
    let top = entries
        .iter()
        .chain(servers.iter().map(|(_, r)| r))
        .map(|r| r.top())
        .fold(f32::INFINITY, f32::min);
    let x = entries.iter().map(|r| r.center().x).sum::<f32>() / entries.len() as f32;
    let grey = Color32::from_gray(110);
    let at = Pos2::new(x, top - 62.0 * zoom);
    let label = if t.security.tls {
        format!("👥 clients · https://{}", t.domain)
    } else {
        format!("👥 clients · http://{}", t.domain)
    };
    let box_ = node(painter, at, &label, font, grey);
    let banner = box_.center_top() - Vec2::new(0.0, 16.0 * zoom.max(0.6));
    if let Some(said) = graph::dns_banner(t) {
        node(
            painter,
            banner,
            &said,
            font,
            graph::kind_color(ComponentKind::Dns),
        );
        for (_, r) in &servers {
            arrow(
                painter,
                box_.center_bottom(),
                r.center_top(),
                Stroke::new(1.5, text.gamma_multiply(0.6)),
                true,
            );
        }
    } else if let Some(text) = super::graph::entry_banner(t) {
        // Two load balancers and two DNS records, or one virtual IP.
        node(
            painter,
            banner,
            &text,
            font,
            Color32::from_rgb(70, 110, 160),
        );
    }
    for e in &entries {
        arrow(
            painter,
            box_.center_bottom(),
            e.center_top(),
            Stroke::new(1.5, text.gamma_multiply(0.6)),
            false,
        );
    }
}

/// Prometheus beside the design, scraping each load balancer's stats and
/// each database's exporter.
fn prometheus(
    painter: &egui::Painter,
    t: &Topology,
    component: &dyn Fn(&crate::model::HostName, ComponentKind) -> Option<Rect>,
    hosts: &[Rect],
    zoom: f32,
    font: &FontId,
) {
    let Some(bounds) = hosts.iter().copied().reduce(|a, b| a.union(b)) else {
        return;
    };
    let at = Pos2::new(bounds.right() + 90.0 * zoom, bounds.center().y);
    let box_ = node(
        painter,
        at,
        "📈 Prometheus",
        font,
        Color32::from_rgb(200, 80, 40),
    );
    let stroke = Stroke::new(1.2, Color32::from_rgb(200, 80, 40).gamma_multiply(0.8));
    let targets = graph::scrape_targets(t);
    for r in targets.iter().filter_map(|id| component(&id.host, id.kind)) {
        arrow(painter, box_.left_center(), r.right_center(), stroke, true);
    }
}
