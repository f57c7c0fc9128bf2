//! The topology canvas, a widget: hosts as boxes holding their components,
//! links as arrows, drawn with egui_graphs. [`CanvasState::show`] takes the
//! document and the selection and turns clicks and drags into [`Intent`]s;
//! [`Positions`] tells an overlay where everything was drawn. Node
//! positions come from the topology (or a tiered default layout) and go
//! back into it when the user drags. `graph.rs` builds the graph,
//! `shapes.rs` draws its nodes and links, `cache.rs` repaints the last
//! frame when nothing changed.

mod cache;
mod design;
pub mod export;
mod graph;
mod shapes;
mod view;

use std::collections::{BTreeSet, HashMap};

use egui::{Color32, FontId, Pos2, Rect, Shape, Stroke, Vec2};
use egui_graphs::GraphChange;
use petgraph::stable_graph::NodeIndex;

use super::document::Document;
use super::intent::Intent;
use crate::model::{ComponentId, ComponentKind, Finding, HostName, Problem, Subject, Topology};

pub use cache::CanvasCache;
pub use design::show as design_ui;
pub use graph::{
    CanvasGraph, HOST_WIDTH, LinkKind, Look, NodeData, build, describe_link, host_positions,
    host_size, kind_color, kind_icon, position_from_center, subject_of,
};
pub use shapes::{Fixed, FixedState, LinkShape, NodeShape};
pub use view::{BUTTON_STEP, View, ViewRequest};

/// The height of the strip along the canvas's bottom edge where the
/// legend button and the zoom controls sit.
const CONTROLS_STRIP: f32 = 44.0;

/// The graph drawn, with each subject's node.
struct Drawn {
    graph: CanvasGraph,
    index: HashMap<Subject, NodeIndex>,
}

impl Drawn {
    /// Where `subject` is drawn: a host's box, a component's row.
    fn rect_of(&self, subject: &Subject) -> Option<Rect> {
        let node = self.graph.node(*self.index.get(subject)?)?;
        let size = match &node.payload().look {
            Look::Host { size, .. } => *size,
            Look::Component(_) => graph::COMPONENT,
        };
        Some(Rect::from_center_size(node.location(), size))
    }

    /// The box around every host.
    fn bounds(&self) -> Option<Rect> {
        self.index
            .keys()
            .filter(|s| matches!(s, Subject::Host(_)))
            .filter_map(|s| self.rect_of(s))
            .reduce(|a, b| a.union(b))
    }

    /// Moves the other nodes of `node`'s host by `delta` with it (the whole
    /// host moves with whichever of its nodes is dragged); the host.
    fn move_host(&mut self, node: NodeIndex, delta: Vec2) -> Option<HostName> {
        let host = subject_of(&self.index, node).map(|s| s.host().clone())?;
        for (s, n) in &self.index {
            if s.host() == &host
                && *n != node
                && let Some(other) = self.graph.node_mut(*n)
            {
                let at = other.location() + delta;
                other.set_location(at);
            }
        }
        Some(host)
    }

    /// The edit that keeps `hosts` where they were dragged to in `t`.
    fn moved_edit(&self, t: &Topology, hosts: &BTreeSet<HostName>) -> Intent {
        let mut t = t.clone();
        for host in hosts {
            let center = self
                .index
                .get(&Subject::Host(host.clone()))
                .and_then(|n| self.graph.node(*n))
                .map(|n| n.location());
            if let (Some(center), Some(h)) = (center, t.host_mut(host)) {
                h.position = Some(position_from_center(h, center));
            }
        }
        let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        Intent::Edit {
            key: format!("move {}", names.join(" ")),
            topology: Box::new(t),
        }
    }
}

/// How far `p` is from the segment from `a` to `b`.
fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let len = ab.length_sq();
    if len <= f32::EPSILON {
        return p.distance(a);
    }
    let t = ((p - a).dot(ab) / len).clamp(0.0, 1.0);
    p.distance(a + ab * t)
}

/// Where the canvas drew each host and component (canvas units, centres)
/// and the links between them: what an overlay needs to draw over it.
pub struct Positions<'a> {
    drawn: &'a Drawn,
}

impl Positions<'_> {
    /// Where `subject` was drawn.
    pub fn of(&self, subject: &Subject) -> Option<Pos2> {
        let n = self.drawn.index.get(subject)?;
        self.drawn.graph.node(*n).map(|n| n.location())
    }

    /// Where component `id` was drawn.
    pub fn component(&self, id: &ComponentId) -> Option<Pos2> {
        self.of(&Subject::Component(id.clone()))
    }

    /// Every host and component drawn, and where.
    pub fn all(&self) -> impl Iterator<Item = (&Subject, Pos2)> {
        self.drawn.index.iter().filter_map(|(s, n)| {
            let node = self.drawn.graph.node(*n)?;
            Some((s, node.location()))
        })
    }

    /// Every link drawn: from, to, and what it means.
    pub fn links(&self) -> Vec<(&Subject, &Subject, LinkKind)> {
        let g = &self.drawn.graph;
        let subjects: HashMap<NodeIndex, &Subject> =
            self.drawn.index.iter().map(|(s, n)| (*n, s)).collect();
        g.edges_iter()
            .filter_map(|(e, edge)| {
                let (a, b) = g.edge_endpoints(e)?;
                Some((*subjects.get(&a)?, *subjects.get(&b)?, *edge.payload()))
            })
            .collect()
    }
}

/// The canvas as it was drawn on screen.
#[derive(Clone, Debug)]
pub struct OnScreen {
    /// The canvas's rectangle.
    pub rect: Rect,
    /// Its zoom (1.0 is 100%).
    pub zoom: f32,
    /// Each host's box.
    pub hosts: Vec<(HostName, Rect)>,
}

/// The canvas between frames: the graph drawn and what it was built from,
/// the node under the pointer, and what the graph view painted last.
#[derive(Default)]
pub struct CanvasState {
    drawn: Option<Drawn>,
    /// The document revision and selection the graph was built from.
    built: Option<(u64, Option<Subject>)>,
    /// The host or component under the pointer.
    hovered: Option<Subject>,
    /// The revision a drag on the canvas produces (no rebuild for it).
    moved: Option<u64>,
    cache: CanvasCache,
    /// Changes of view asked for, applied at the next frame.
    requests: Vec<ViewRequest>,
    /// The document generation last fitted to the view.
    fitted: Option<u64>,
    /// Frames painted (egui_graphs fits its first frame itself, uncapped;
    /// the canvas fits again after it).
    painted: u64,
    /// Where the canvas was drawn on screen and its view, after the last
    /// frame.
    shown: Option<(Rect, View)>,
}

impl CanvasState {
    /// Draws `doc`'s design with `selection` selected, building the graph
    /// when either changed (`flags` outlines what problems and findings
    /// name); `always_live` runs the graph view even when nothing changed
    /// (the frame benchmark). Clicks and drags become `intents`. Returns
    /// the canvas's response once there is a graph.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        selection: Option<&Subject>,
        flags: impl FnOnce() -> HashMap<Subject, Color32>,
        always_live: bool,
        intents: &mut Vec<Intent>,
    ) -> Option<egui::Response> {
        let rebuilt = self.build_if_changed(doc, selection, flags);
        let rect = ui.available_rect_before_wrap();
        if self.fitted != Some(doc.generation()) {
            self.fitted = Some(doc.generation());
            self.requests.push(ViewRequest::Fit);
        }
        let moved = self.move_view(ui, rect, doc.topology());
        let drawn = self.drawn.as_mut()?;
        let (response, changes) =
            self.cache
                .paint(ui, rect, &mut drawn.graph, rebuilt || moved, always_live);
        self.painted += 1;
        if self.painted == 1 {
            self.requests.push(ViewRequest::Fit);
            ui.ctx().request_repaint();
        }
        self.shown = Some((rect, View::load(ui)));
        let on_node = self.follow(&changes, doc, intents);
        if response.clicked() && !on_node {
            intents.push(Intent::Select(None));
        }
        Some(response)
    }

    /// Asks for a change of view at the next frame.
    pub fn request(&mut self, request: ViewRequest) {
        self.requests.push(request);
    }

    /// The zoom in effect (1.0 is 100%).
    pub fn zoom(&self) -> f32 {
        self.shown.map_or(1.0, |(_, v)| v.zoom)
    }

    /// The canvas on screen in the last frame.
    pub fn on_screen(&self) -> Option<OnScreen> {
        let (rect, view) = self.shown?;
        let drawn = self.drawn.as_ref()?;
        let hosts = drawn
            .index
            .keys()
            .filter_map(|s| match s {
                Subject::Host(h) => {
                    let r = drawn.rect_of(s)?;
                    let at = |p: Pos2| rect.min + view.pan + p.to_vec2() * view.zoom;
                    Some((h.clone(), Rect::from_min_max(at(r.min), at(r.max))))
                }
                Subject::Component(_) => None,
            })
            .collect();
        Some(OnScreen {
            rect,
            zoom: view.zoom,
            hosts,
        })
    }

    /// Applies the wheel's zoom (at the pointer) and the requests to the
    /// view egui_graphs keeps; whether the view moved.
    fn move_view(&mut self, ui: &mut egui::Ui, rect: Rect, t: &Topology) -> bool {
        let (pointer, factor) = ui.input(|i| (i.pointer.hover_pos(), i.zoom_delta()));
        let requests = std::mem::take(&mut self.requests);
        let wheel = pointer.filter(|p| rect.contains(*p) && factor != 1.0);
        if wheel.is_none() && requests.is_empty() {
            return false;
        }
        let before = View::load(ui);
        let mut view = before;
        if let Some(p) = wheel {
            view = view.wheel(factor, p - rect.min.to_vec2());
        }
        if let Some(drawn) = &self.drawn {
            // Fitting keeps the clients above the entry points in view, and
            // Prometheus beside the design (`design.rs`).
            let extra_right = if t.monitoring.enabled { 190.0 } else { 0.0 };
            let bounds = drawn.bounds().map(|b| {
                Rect::from_min_max(
                    b.min - Vec2::new(0.0, 95.0),
                    b.max + Vec2::new(extra_right, 0.0),
                )
            });
            // What is fitted stays clear of the legend's and the zoom
            // controls' strip along the bottom.
            let clear = rect.size() - Vec2::new(0.0, CONTROLS_STRIP);
            for r in &requests {
                view = view.apply(r, bounds, |s| drawn.rect_of(s), clear);
            }
        }
        if view == before {
            return false;
        }
        view.save(ui);
        ui.ctx().request_repaint();
        true
    }

    /// The host or component under the pointer.
    pub fn hovered(&self) -> Option<&Subject> {
        self.hovered.as_ref()
    }

    /// Where the centre of `subject` was drawn on screen in the last frame.
    pub fn on_screen_at(&self, subject: &Subject) -> Option<Pos2> {
        let (rect, view) = self.shown?;
        let p = self.positions()?.of(subject)?;
        Some(rect.min + view.pan + p.to_vec2() * view.zoom)
    }

    /// The link drawn within a few points of `pointer` (on screen), when
    /// no box is under it: its two ends and what it means.
    pub fn link_at(&self, pointer: Pos2) -> Option<(Subject, Subject, LinkKind)> {
        /// How far from a link's line the pointer may be, in points.
        const REACH: f32 = 5.0;
        let (_, view) = self.shown?;
        // Zoomed far out, links are drawn as short fans only: nothing to
        // point at along them.
        if self.hovered.is_some() || view.zoom < shapes::AGGREGATE_ZOOM {
            return None;
        }
        let component = |s: &Subject| {
            Some(Rect::from_center_size(
                self.on_screen_at(s)?,
                graph::COMPONENT * view.zoom,
            ))
        };
        self.positions()?
            .links()
            .into_iter()
            .filter(|(_, _, kind)| *kind != LinkKind::Contains)
            .filter_map(|(a, b, kind)| {
                // From box edge to box edge, as the canvas draws it.
                let (ra, rb) = (component(a)?, component(b)?);
                let (from, to) = (
                    graph::edge_point(ra, rb.center()),
                    graph::edge_point(rb, ra.center()),
                );
                let d = distance_to_segment(pointer, from, to);
                (d <= REACH).then(|| (d, a.clone(), b.clone(), kind))
            })
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, a, b, kind)| (a, b, kind))
    }

    /// Where everything was drawn (None before the first frame).
    pub fn positions(&self) -> Option<Positions<'_>> {
        self.drawn.as_ref().map(|drawn| Positions { drawn })
    }

    /// Builds the graph when the design or the selection changed; whether
    /// it did.
    fn build_if_changed(
        &mut self,
        doc: &Document,
        selection: Option<&Subject>,
        flags: impl FnOnce() -> HashMap<Subject, Color32>,
    ) -> bool {
        let key = (doc.revision(), selection.cloned());
        if let Some(expected) = self.moved.take()
            && expected == doc.revision()
            && self
                .built
                .as_ref()
                .is_some_and(|(_, built)| built.as_ref() == selection)
        {
            // Only the drag changed the design, and its nodes already moved
            // on screen: no rebuild mid-drag.
            self.built = Some(key.clone());
        }
        let rebuilt = self.built.as_ref() != Some(&key) || self.drawn.is_none();
        if rebuilt {
            let (mut graph, index) = build(doc.topology(), &flags());
            if let Some(n) = selection.and_then(|s| index.get(s)) {
                if let Some(node) = graph.node_mut(*n) {
                    node.set_selected(true);
                }
                graph.set_selected_nodes(vec![*n]);
            }
            if self
                .hovered
                .as_ref()
                .is_some_and(|s| !index.contains_key(s))
            {
                self.hovered = None;
            }
            self.drawn = Some(Drawn { graph, index });
            self.built = Some(key);
        }
        rebuilt
    }

    /// Turns what the user did to the graph into intents (a selection, the
    /// edit a drag makes) and follows the hovered node; whether a node was
    /// clicked or dragged.
    fn follow(
        &mut self,
        changes: &[GraphChange],
        doc: &Document,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let Some(drawn) = self.drawn.as_mut() else {
            return false;
        };
        let mut on_node = false;
        let mut moved_hosts = BTreeSet::new();
        for change in changes {
            match change {
                GraphChange::NodeClicked { node } | GraphChange::NodeSelected { node } => {
                    if let Some(s) = subject_of(&drawn.index, *node) {
                        intents.push(Intent::Select(Some(s.clone())));
                        on_node = true;
                    }
                }
                GraphChange::NodeMoved { node, delta, .. } => {
                    if let Some(host) = drawn.move_host(*node, *delta) {
                        moved_hosts.insert(host);
                        on_node = true;
                    }
                }
                GraphChange::NodeHoverEntered { node } => {
                    self.hovered = subject_of(&drawn.index, *node).cloned();
                }
                GraphChange::NodeHoverExited { .. } => self.hovered = None,
                _ => {}
            }
        }
        if !moved_hosts.is_empty() {
            intents.push(drawn.moved_edit(doc.topology(), &moved_hosts));
            // The edit will be the next revision; the canvas already shows it.
            self.moved = Some(doc.revision() + 1);
        }
        on_node
    }
}

/// Outline colours: red for what a problem names (and its host), amber for
/// what a finding names.
pub fn flags(problems: &[Problem], findings: &[Finding]) -> HashMap<Subject, Color32> {
    let mut flags = HashMap::new();
    for f in findings {
        for s in &f.subjects {
            flags.insert(s.clone(), Color32::from_rgb(240, 170, 40));
        }
    }
    for p in problems {
        if let Some(s) = &p.subject {
            flags.insert(s.clone(), Color32::from_rgb(230, 60, 60));
            flags.insert(
                Subject::Host(s.host().clone()),
                Color32::from_rgb(230, 60, 60),
            );
        }
    }
    flags
}

/// The zoom controls in the canvas's bottom-right corner: −, the zoom
/// (click: 100%), +, and Fit.
pub fn view_controls_ui(ui: &mut egui::Ui, canvas: Rect, zoom: f32, intents: &mut Vec<Intent>) {
    let size = Vec2::new(230.0, 28.0);
    let rect = Rect::from_min_size(canvas.right_bottom() - size - Vec2::new(8.0, 8.0), size);
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::right_to_left(egui::Align::Center)),
    );
    let ui = &mut child;
    // Right to left: the last button added is the leftmost.
    egui::Frame::popup(ui.style())
        .inner_margin(2.0)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .small_button("⛶ Fit")
                    .on_hover_text("Fit the whole design in view (Home)")
                    .clicked()
                {
                    intents.push(Intent::View(ViewRequest::Fit));
                }
                if ui.small_button("+").on_hover_text("Zoom in").clicked() {
                    intents.push(Intent::View(ViewRequest::ZoomBy(BUTTON_STEP)));
                }
                if ui
                    .small_button(format!("{:.0}%", zoom * 100.0))
                    .on_hover_text("Zoom to 100% (Ctrl+1)")
                    .clicked()
                {
                    intents.push(Intent::View(ViewRequest::Actual));
                }
                if ui
                    .small_button("−")
                    .on_hover_text("Zoom out (Ctrl+wheel zooms at the pointer)")
                    .clicked()
                {
                    intents.push(Intent::View(ViewRequest::ZoomBy(1.0 / BUTTON_STEP)));
                }
            });
        });
}

/// The legend, docked in the canvas's bottom-left corner: a button that
/// opens it above itself, and closes it again.
pub fn legend_ui(ui: &mut egui::Ui, canvas: Rect, open: bool, intents: &mut Vec<Intent>) {
    let button = Rect::from_min_size(
        canvas.left_bottom() + Vec2::new(8.0, -36.0),
        Vec2::new(110.0, 28.0),
    );
    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(button));
    let label = if open { "Hide legend" } else { "Legend" };
    if child
        .button(label)
        .on_hover_text("What the colours and the arrows mean")
        .clicked()
    {
        intents.push(Intent::Legend(!open));
    }
    if open {
        paint_legend(ui, canvas, button.left_top() + Vec2::new(0.0, -6.0));
    }
}

/// Paints the legend with its bottom-left corner at `bottom_left`.
fn paint_legend(ui: &egui::Ui, canvas: Rect, bottom_left: Pos2) {
    let entries: Vec<(Color32, &str, bool)> = [
        LinkKind::Backend { backup: false },
        LinkKind::Backend { backup: true },
        LinkKind::Proxy,
        LinkKind::Writes,
        LinkKind::Reads,
        LinkKind::Replication,
    ]
    .into_iter()
    .map(|k| (k.color(), k.label(), k.dashed()))
    .collect();
    let size = Vec2::new(
        210.0,
        18.0 * (entries.len() + ComponentKind::ALL.len()) as f32 + 10.0,
    );
    let rect = Rect::from_min_size(bottom_left - Vec2::new(0.0, size.y), size);
    let painter = ui.painter_at(canvas);
    let visuals = ui.visuals();
    painter.rect_filled(rect, 6.0, visuals.extreme_bg_color.gamma_multiply(0.9));
    let text = visuals.text_color();
    let mut y = rect.top() + 12.0;
    for kind in ComponentKind::ALL {
        painter.rect_filled(
            Rect::from_center_size(Pos2::new(rect.left() + 22.0, y), Vec2::new(22.0, 12.0)),
            3.0,
            kind_color(kind),
        );
        painter.text(
            Pos2::new(rect.left() + 42.0, y),
            egui::Align2::LEFT_CENTER,
            format!("{} {}", kind_icon(kind), kind.program()),
            FontId::proportional(12.0),
            text,
        );
        y += 18.0;
    }
    for (color, label, dashed) in entries {
        let a = Pos2::new(rect.left() + 10.0, y);
        let b = Pos2::new(rect.left() + 34.0, y);
        let stroke = Stroke::new(2.0, color);
        if dashed {
            painter.extend(Shape::dashed_line(&[a, b], stroke, 5.0, 3.0));
        } else {
            painter.line_segment([a, b], stroke);
        }
        painter.text(
            Pos2::new(rect.left() + 42.0, y),
            egui::Align2::LEFT_CENTER,
            label,
            FontId::proportional(12.0),
            text,
        );
        y += 18.0;
    }
}
