//! The topology canvas: hosts as boxes holding their components, links as
//! arrows, drawn with egui_graphs. Node positions come from the topology
//! (or a tiered default layout) and go back into it when the user drags.

use std::collections::HashMap;

use egui::epaint::{CornerRadius, RectShape, TextShape};
use egui::{Color32, FontId, Pos2, Rect, Shape, Stroke, StrokeKind, Vec2};
use egui_graphs::{
    DisplayEdge, DisplayNode, DrawContext, EdgeProps, Graph, Layout, LayoutState, Node, NodeProps,
};
use petgraph::Directed;
use petgraph::stable_graph::{DefaultIx, NodeIndex, StableGraph};

use crate::model::{ComponentId, ComponentKind, Host, HostName, Position, Role, Subject, Topology};

/// A corner radius of `points` at `zoom`: square corners on small boxes,
/// which also tessellate into far fewer triangles.
fn radius(points: f32, zoom: f32) -> CornerRadius {
    CornerRadius::same((points * zoom.min(1.0)).round().clamp(0.0, 255.0) as u8)
}

/// Below this zoom labels would be too small to read: boxes only (and far
/// less for a software renderer to draw when a large design is zoomed out).
const MIN_TEXT_ZOOM: f32 = 0.4;

/// Length, in points, of a link whose other end is off-screen.
const STUB: f32 = 48.0;

/// Width of a host box.
pub const HOST_WIDTH: f32 = 170.0;
const TITLE: f32 = 30.0;
const ROW: f32 = 44.0;
const COMPONENT: Vec2 = Vec2::new(150.0, 36.0);

/// What a node stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeData {
    /// The host or component.
    pub subject: Subject,
    /// How it looks.
    pub look: Look,
    /// Outline colour when a problem or finding names it.
    pub flag: Option<Color32>,
    /// Extra line (health, later).
    pub status: Option<String>,
}

/// The drawing of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Look {
    /// A host box of this size, with its region.
    Host {
        /// Box size.
        size: Vec2,
        /// Region, if any.
        region: Option<String>,
    },
    /// A component.
    Component(ComponentKind),
}

/// What a link means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A load balancer's backend.
    Backend {
        /// A backup server (active-passive).
        backup: bool,
    },
    /// Nginx to its app.
    Proxy,
    /// App to the primary.
    Writes,
    /// App to a replica.
    Reads,
    /// Primary to replica.
    Replication,
    /// Inside a host box (not drawn).
    Contains,
}

impl LinkKind {
    /// Colour of the link.
    pub fn color(self) -> Color32 {
        match self {
            Self::Backend { .. } => Color32::from_rgb(150, 110, 220),
            Self::Proxy => Color32::from_rgb(90, 170, 110),
            Self::Writes => Color32::from_rgb(230, 120, 60),
            Self::Reads => Color32::from_rgb(80, 150, 220),
            Self::Replication => Color32::from_rgb(220, 170, 50),
            Self::Contains => Color32::TRANSPARENT,
        }
    }

    /// Dashed: backup servers and replication.
    pub fn dashed(self) -> bool {
        matches!(
            self,
            Self::Backend { backup: true } | Self::Replication | Self::Reads
        )
    }

    /// For the legend.
    pub fn label(self) -> &'static str {
        match self {
            Self::Backend { backup: false } => "LB -> web server",
            Self::Backend { backup: true } => "LB -> backup server",
            Self::Proxy => "Nginx -> app (127.0.0.1)",
            Self::Writes => "app -> primary (writes)",
            Self::Reads => "app -> replica (reads)",
            Self::Replication => "primary -> replica",
            Self::Contains => "",
        }
    }
}

/// The colour of a component kind.
pub fn kind_color(kind: ComponentKind) -> Color32 {
    match kind {
        ComponentKind::Lb => Color32::from_rgb(120, 80, 190),
        ComponentKind::Nginx => Color32::from_rgb(50, 140, 80),
        ComponentKind::App => Color32::from_rgb(40, 110, 180),
        ComponentKind::Db => Color32::from_rgb(200, 100, 40),
    }
}

/// A glyph for a component kind.
pub fn kind_icon(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Lb => "⚖",
        ComponentKind::Nginx => "🌐",
        ComponentKind::App => "⚙",
        ComponentKind::Db => "🗄",
    }
}

/// The graph type drawn on the canvas.
pub type CanvasGraph = Graph<NodeData, LinkKind, Directed, DefaultIx, NodeShape, LinkShape>;

/// Where every host box goes: its stored position, or a tier (load
/// balancers on top, web/app servers, database-only hosts below).
pub fn host_positions(t: &Topology) -> HashMap<HostName, Pos2> {
    let mut tiers: [Vec<&Host>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for h in &t.hosts {
        let tier = if h.has(ComponentKind::Lb) {
            0
        } else if h.has(ComponentKind::Nginx) || h.has(ComponentKind::App) {
            1
        } else {
            2
        };
        tiers[tier].push(h);
    }
    let mut out = HashMap::new();
    for (tier, hosts) in tiers.iter().enumerate() {
        for (i, h) in hosts.iter().enumerate() {
            let auto = Pos2::new(i as f32 * (HOST_WIDTH + 60.0), tier as f32 * 240.0);
            let p = h.position.map_or(auto, |p| Pos2::new(p.x, p.y));
            out.insert(h.name.clone(), p);
        }
    }
    out
}

/// A host box's size.
pub fn host_size(h: &Host) -> Vec2 {
    Vec2::new(
        HOST_WIDTH,
        TITLE + ROW * h.components.len().max(1) as f32 + 6.0,
    )
}

/// The model position of a host whose box centre is at `center`.
pub fn position_from_center(h: &Host, center: Pos2) -> Position {
    let top_left = center - host_size(h) / 2.0;
    Position {
        x: top_left.x.round(),
        y: top_left.y.round(),
    }
}

/// Builds the canvas graph; returns it with each subject's node.
pub fn build(
    t: &Topology,
    flags: &HashMap<Subject, Color32>,
) -> (CanvasGraph, HashMap<Subject, NodeIndex>) {
    let positions = host_positions(t);
    let mut g: StableGraph<NodeData, LinkKind> = StableGraph::new();
    let mut index = HashMap::new();
    let mut locations = Vec::new();
    for h in &t.hosts {
        let top_left = positions.get(&h.name).copied().unwrap_or_default();
        let size = host_size(h);
        let subject = Subject::Host(h.name.clone());
        let n = g.add_node(NodeData {
            flag: flags.get(&subject).copied(),
            subject: subject.clone(),
            look: Look::Host {
                size,
                region: h.region.clone(),
            },
            status: None,
        });
        locations.push((n, top_left + size / 2.0, h.name.to_string()));
        index.insert(subject, n);
        for (i, c) in h.components.iter().enumerate() {
            let id = ComponentId::new(&h.name, c.kind());
            let subject = Subject::Component(id.clone());
            let center =
                top_left + Vec2::new(HOST_WIDTH / 2.0, TITLE + ROW * i as f32 + COMPONENT.y / 2.0);
            let cn = g.add_node(NodeData {
                flag: flags.get(&subject).copied(),
                subject: subject.clone(),
                look: Look::Component(c.kind()),
                status: None,
            });
            locations.push((cn, center, id.to_string()));
            index.insert(subject, cn);
        }
    }
    let node = |h: &HostName, k| {
        index
            .get(&Subject::Component(ComponentId::new(h, k)))
            .copied()
    };
    for h in &t.hosts {
        if let Some(lb) = h.load_balancer() {
            for b in &lb.backends {
                if let (Some(from), Some(to)) = (
                    node(&h.name, ComponentKind::Lb),
                    node(&b.host, ComponentKind::Nginx),
                ) {
                    g.add_edge(from, to, LinkKind::Backend { backup: b.backup });
                }
            }
        }
        if let (Some(from), Some(to)) = (
            node(&h.name, ComponentKind::Nginx),
            node(&h.name, ComponentKind::App),
        ) {
            g.add_edge(from, to, LinkKind::Proxy);
        }
        if let (Some(app), Some(from)) = (h.app_server(), node(&h.name, ComponentKind::App)) {
            for (db_host, db) in t.databases().filter(|(_, db)| db.group == app.group) {
                let kind = if db.role == Role::Primary {
                    LinkKind::Writes
                } else {
                    LinkKind::Reads
                };
                if let Some(to) = node(&db_host.name, ComponentKind::Db) {
                    g.add_edge(from, to, kind);
                }
            }
        }
        if let Some(db) = h.database()
            && let Role::Replica { of } = &db.role
            && let (Some(from), Some(to)) = (
                node(of, ComponentKind::Db),
                node(&h.name, ComponentKind::Db),
            )
        {
            g.add_edge(from, to, LinkKind::Replication);
        }
    }
    let mut graph = CanvasGraph::from(&g);
    for (n, loc, label) in locations {
        if let Some(node) = graph.node_mut(n) {
            node.set_location(loc);
            node.set_label(label);
        }
    }
    (graph, index)
}

/// A layout that keeps the positions the topology gives.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FixedState;

impl LayoutState for FixedState {}

/// Leaves every node where it is.
#[derive(Debug, Default)]
pub struct Fixed;

impl Layout<FixedState> for Fixed {
    fn next<N, E, Ty, Ix, Dn, De>(&mut self, _: &mut Graph<N, E, Ty, Ix, Dn, De>, _: &egui::Ui)
    where
        N: Clone,
        E: Clone,
        Ty: petgraph::EdgeType,
        Ix: petgraph::stable_graph::IndexType,
        Dn: DisplayNode<N, E, Ty, Ix>,
        De: DisplayEdge<N, E, Ty, Ix, Dn>,
    {
    }

    fn state(&self) -> FixedState {
        FixedState
    }

    fn from_state(_: FixedState) -> impl Layout<FixedState> {
        Self
    }
}

/// How a node is drawn.
#[derive(Clone, Debug)]
pub struct NodeShape {
    pos: Pos2,
    selected: bool,
    hovered: bool,
    data: NodeData,
}

impl From<NodeProps<NodeData>> for NodeShape {
    fn from(p: NodeProps<NodeData>) -> Self {
        Self {
            pos: p.location(),
            selected: p.selected,
            hovered: p.hovered,
            data: p.payload.clone(),
        }
    }
}

impl NodeShape {
    fn size(&self) -> Vec2 {
        match &self.data.look {
            Look::Host { size, .. } => *size,
            Look::Component(_) => COMPONENT,
        }
    }

    fn rect(&self) -> Rect {
        Rect::from_center_size(self.pos, self.size())
    }
}

impl DisplayNode<NodeData, LinkKind, Directed, DefaultIx> for NodeShape {
    fn closest_boundary_point(&self, dir: Vec2) -> Pos2 {
        let half = self.size() / 2.0;
        if dir == Vec2::ZERO {
            return self.pos;
        }
        let scale = (half.x / dir.x.abs().max(1e-3)).min(half.y / dir.y.abs().max(1e-3));
        self.pos + dir * scale
    }

    fn shapes(&mut self, ctx: &DrawContext) -> Vec<Shape> {
        let dark = ctx.ctx.global_style().visuals.dark_mode;
        let text_color = if dark {
            Color32::from_gray(230)
        } else {
            Color32::from_gray(20)
        };
        let rect = Rect::from_min_max(
            ctx.meta.canvas_to_screen_pos(self.rect().min),
            ctx.meta.canvas_to_screen_pos(self.rect().max),
        );
        let zoom = ctx.meta.zoom;
        let mut shapes = Vec::new();
        let mut stroke = match self.data.flag {
            Some(c) => Stroke::new(2.5, c),
            None => Stroke::new(1.0, Color32::from_gray(if dark { 110 } else { 150 })),
        };
        if self.selected {
            stroke = Stroke::new(3.0, Color32::from_rgb(80, 200, 255));
        } else if self.hovered {
            stroke.width += 1.0;
        }
        // Zoomed out, outlines shrink with the boxes.
        stroke.width *= zoom.min(1.0);
        match &self.data.look {
            Look::Host { region, .. } => {
                // Only a tint: the links into the host stay visible.
                let fill = if dark {
                    Color32::from_white_alpha(6)
                } else {
                    Color32::from_black_alpha(8)
                };
                shapes.push(
                    RectShape::new(rect, radius(8.0, zoom), fill, stroke, StrokeKind::Inside)
                        .into(),
                );
                if zoom < MIN_TEXT_ZOOM {
                    return shapes;
                }
                let mut title = self.data.subject.to_string();
                if let Some(r) = region {
                    title.push_str(&format!("  ({r})"));
                }
                let galley = ctx.ctx.fonts_mut(|f| {
                    f.layout_no_wrap(title, FontId::proportional(14.0 * zoom), text_color)
                });
                shapes.push(
                    TextShape::new(rect.min + Vec2::new(8.0, 7.0) * zoom, galley, text_color)
                        .into(),
                );
            }
            Look::Component(kind) => {
                let fill = kind_color(*kind);
                shapes.push(
                    RectShape::new(rect, radius(6.0, zoom), fill, stroke, StrokeKind::Inside)
                        .into(),
                );
                if zoom < MIN_TEXT_ZOOM {
                    return shapes;
                }
                let mut label = format!("{} {}", kind_icon(*kind), kind.program());
                if let Some(s) = &self.data.status {
                    label.push_str(&format!(" · {s}"));
                }
                let galley = ctx.ctx.fonts_mut(|f| {
                    f.layout_no_wrap(label, FontId::proportional(13.0 * zoom), Color32::WHITE)
                });
                let at = rect.left_center() + Vec2::new(8.0 * zoom, -galley.size().y / 2.0);
                shapes.push(TextShape::new(at, galley, Color32::WHITE).into());
            }
        }
        shapes
    }

    fn update(&mut self, p: &NodeProps<NodeData>) {
        self.pos = p.location();
        self.selected = p.selected;
        self.hovered = p.hovered;
        self.data = p.payload.clone();
    }

    fn is_inside(&self, pos: Pos2) -> bool {
        match &self.data.look {
            // A host is grabbed by its title bar; the rest belongs to its components.
            Look::Host { size, .. } => {
                let top = self.pos - *size / 2.0;
                Rect::from_min_size(top, Vec2::new(size.x, TITLE)).contains(pos)
            }
            Look::Component(_) => self.rect().contains(pos),
        }
    }
}

/// How a link is drawn: a straight arrow between node edges, coloured and
/// dashed by kind.
#[derive(Clone, Debug)]
pub struct LinkShape {
    kind: LinkKind,
    order: usize,
}

impl From<EdgeProps<LinkKind>> for LinkShape {
    fn from(p: EdgeProps<LinkKind>) -> Self {
        Self {
            kind: p.payload,
            order: p.order,
        }
    }
}

impl LinkShape {
    fn ends(
        &self,
        start: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
        end: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
    ) -> (Pos2, Pos2) {
        let (a, b) = (start.location(), end.location());
        // Parallel links (reads and writes to one host) are offset a little.
        let normal = (b - a).normalized().rot90() * (self.order as f32 * 8.0);
        let from = start.display().closest_boundary_point(b - a) + normal;
        let to = end.display().closest_boundary_point(a - b) + normal;
        (from, to)
    }
}

impl DisplayEdge<NodeData, LinkKind, Directed, DefaultIx, NodeShape> for LinkShape {
    fn shapes(
        &mut self,
        start: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
        end: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
        ctx: &DrawContext,
    ) -> Vec<Shape> {
        if self.kind == LinkKind::Contains {
            return Vec::new();
        }
        let (a, b) = self.ends(start, end);
        let (a, b) = (
            ctx.meta.canvas_to_screen_pos(a),
            ctx.meta.canvas_to_screen_pos(b),
        );
        let view = ctx.painter.clip_rect();
        let (a, b, off_screen) = match (view.contains(a), view.contains(b)) {
            (true, true) => (a, b, false),
            // Both ends off-screen: nothing of it needs to be seen.
            (false, false) => return Vec::new(),
            // One end off-screen: a short stub towards it says where the
            // link goes and costs little to draw (long lines across the
            // view are what makes large designs slow to paint).
            (true, false) => (a, a + (b - a).normalized() * STUB, true),
            (false, true) => (b - (b - a).normalized() * STUB, b, true),
        };
        let color = if off_screen {
            self.kind.color().gamma_multiply(0.6)
        } else {
            self.kind.color()
        };
        let stroke = Stroke::new(2.0 * ctx.meta.zoom.max(0.5), color);
        let mut shapes = if self.kind.dashed() {
            Shape::dashed_line(&[a, b], stroke, 8.0, 5.0)
        } else {
            vec![Shape::line_segment([a, b], stroke)]
        };
        let dir = (b - a).normalized();
        let tip = 10.0 * ctx.meta.zoom.max(0.5);
        let left = b - dir * tip + dir.rot90() * tip * 0.45;
        let right = b - dir * tip - dir.rot90() * tip * 0.45;
        if off_screen && view.contains(a) {
            // Leaving the view: no arrowhead at the stub's open end.
            return shapes;
        }
        shapes.push(Shape::convex_polygon(
            vec![b, left, right],
            color,
            Stroke::NONE,
        ));
        shapes
    }

    fn update(&mut self, p: &EdgeProps<LinkKind>) {
        self.kind = p.payload;
        self.order = p.order;
    }

    fn is_inside(
        &self,
        start: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
        end: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>,
        pos: Pos2,
    ) -> bool {
        let (a, b) = self.ends(start, end);
        let ab = b - a;
        let t = ((pos - a).dot(ab) / ab.length_sq().max(1e-3)).clamp(0.0, 1.0);
        (a + ab * t).distance(pos) < 5.0
    }
}

/// The node under a subject's id in `index`, reversed.
pub fn subject_of(index: &HashMap<Subject, NodeIndex>, n: NodeIndex) -> Option<&Subject> {
    index.iter().find(|(_, i)| **i == n).map(|(s, _)| s)
}

use egui::epaint::ClippedShape;
use egui_graphs::{GraphChange, GraphView, SettingsInteraction, SettingsNavigation};

/// What the canvas painted last, and what decides whether the real graph
/// view must run this frame.
#[derive(Default)]
pub struct CanvasCache {
    shapes: Vec<ClippedShape>,
    rect: Option<Rect>,
    pixels_per_point: f32,
    atlas: ([usize; 2], f32),
    /// Frames to keep running live after the shapes last changed (the view
    /// lags a frame; zoom and scroll are smoothed over frames).
    settle: u8,
    pointer_was_over: bool,
    drag_started_here: bool,
    /// The theme the shapes were painted in.
    dark: bool,
}

impl CanvasCache {
    /// Whether to run the real graph view this frame.
    fn needs_live(&mut self, ui: &egui::Ui, rect: Rect, rebuilt: bool) -> bool {
        let ctx = ui.ctx();
        let ppp = ctx.pixels_per_point();
        let atlas = ctx.fonts(|f| (f.font_image_size(), f.font_atlas_fill_ratio()));
        // A rebuilt font atlas invalidates cached text.
        let atlas_changed = atlas.0 != self.atlas.0 || atlas.1 < self.atlas.1;
        let (over, events, pressed_here, down, smoothing) = ui.input(|i| {
            let over = i.pointer.hover_pos().is_some_and(|p| rect.contains(p));
            let events = i.events.iter().any(|e| {
                matches!(
                    e,
                    egui::Event::PointerMoved(_)
                        | egui::Event::PointerButton { .. }
                        | egui::Event::MouseWheel { .. }
                        | egui::Event::Zoom(_)
                        | egui::Event::Touch { .. }
                )
            });
            let pressed_here = i.pointer.any_pressed() && over;
            let smoothing = i.smooth_scroll_delta != Vec2::ZERO || i.zoom_delta() != 1.0;
            (over, events, pressed_here, i.pointer.any_down(), smoothing)
        });
        if pressed_here {
            self.drag_started_here = true;
        }
        if !down {
            self.drag_started_here = false;
        }
        let left = self.pointer_was_over && !over;
        self.pointer_was_over = over;
        rebuilt
            || ui.visuals().dark_mode != self.dark
            || self.rect != Some(rect)
            || ppp != self.pixels_per_point
            || atlas_changed
            || self.settle > 0
            || (over && (events || smoothing))
            || self.drag_started_here
            || left
    }

    /// Keeps what the live view painted; keeps running live while it changes.
    fn store(&mut self, ui: &egui::Ui, rect: Rect, shapes: Vec<ClippedShape>) {
        if shapes != self.shapes {
            self.settle = 2;
        } else {
            self.settle = self.settle.saturating_sub(1);
        }
        self.shapes = shapes;
        self.rect = Some(rect);
        self.dark = ui.visuals().dark_mode;
        self.pixels_per_point = ui.ctx().pixels_per_point();
        self.atlas = ui
            .ctx()
            .fonts(|f| (f.font_image_size(), f.font_atlas_fill_ratio()));
    }
}

/// The canvas between frames: the graph drawn and what it was built from,
/// the node under the pointer, and what the graph view painted last.
#[derive(Default)]
pub struct CanvasState {
    /// The graph, with each subject's node.
    pub(super) graph: Option<(CanvasGraph, HashMap<Subject, NodeIndex>)>,
    /// The document revision and selection the graph was built from.
    pub(super) built: Option<(u64, Option<Subject>)>,
    /// The host or component under the pointer.
    pub(super) hovered: Option<Subject>,
    /// The revision a drag on the canvas produces (no rebuild for it).
    pub(super) moved: Option<u64>,
    pub(super) cache: CanvasCache,
}

use super::app::TopolabApp;
use super::intent::Intent;

impl TopolabApp {
    /// The canvas: builds the graph when the design or selection changed,
    /// shows it, and turns clicks and drags into intents.
    pub(super) fn canvas_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let key = (self.doc.revision(), self.selection.clone());
        if let Some(expected) = self.canvas.moved.take()
            && expected == self.doc.revision()
            && self
                .canvas
                .built
                .as_ref()
                .is_some_and(|(_, selection)| *selection == self.selection)
        {
            // Only the drag changed the design, and its nodes already moved
            // on screen: no rebuild mid-drag.
            self.canvas.built = Some(key.clone());
        }
        let rebuilt = self.canvas.built.as_ref() != Some(&key) || self.canvas.graph.is_none();
        if rebuilt {
            let (mut graph, index) = build(self.doc.topology(), &self.flags());
            if let Some(n) = self.selection.as_ref().and_then(|s| index.get(s)) {
                if let Some(node) = graph.node_mut(*n) {
                    node.set_selected(true);
                }
                graph.set_selected_nodes(vec![*n]);
            }
            if self
                .canvas
                .hovered
                .as_ref()
                .is_some_and(|s| !index.contains_key(s))
            {
                self.canvas.hovered = None;
            }
            self.canvas.graph = Some((graph, index));
            self.canvas.built = Some(key);
        }
        let benchmark = self.frame_times_active();
        let Some((graph, index)) = &mut self.canvas.graph else {
            return;
        };
        let rect = ui.available_rect_before_wrap();
        let layer = ui.layer_id();
        let live = self.canvas.cache.needs_live(ui, rect, rebuilt) || benchmark;
        tracing::trace!(
            live,
            rebuilt,
            settle = self.canvas.cache.settle,
            "canvas frame"
        );
        let (response, changes) = if live {
            let interactions = SettingsInteraction::new()
                .with_dragging_enabled(true)
                .with_hover_enabled(true)
                .with_node_clicking_enabled(true)
                .with_node_selection_enabled(true);
            let navigation = SettingsNavigation::new()
                .with_zoom_and_pan_enabled(true)
                .with_fit_to_screen_enabled(false);
            let first = ui
                .ctx()
                .graphics(|g| g.get(layer).map_or(0, |l| l.all_entries().len()));
            let shown = GraphView::<FixedState, Fixed>::new()
                .with_interactions(&interactions)
                .with_navigations(&navigation)
                .show(ui, graph);
            let painted: Vec<ClippedShape> = ui.ctx().graphics(|g| {
                g.get(layer)
                    .map(|l| l.all_entries().skip(first).cloned().collect())
                    .unwrap_or_default()
            });
            self.canvas.cache.store(ui, rect, painted);
            (shown.response, shown.changes)
        } else {
            // Nothing happened: paint what the graph view painted last time
            // and register the same widget, so that egui_graphs' repaint
            // request (it asks for one on every call) does not keep an idle
            // window busy.
            let (response, _) = ui.allocate_painter(rect.size(), egui::Sense::click_and_drag());
            ui.ctx().graphics_mut(|g| {
                let list = g.entry(layer);
                for shape in &self.canvas.cache.shapes {
                    list.add(shape.clip_rect, shape.shape.clone());
                }
            });
            (response, Vec::new())
        };
        let mut on_node = false;
        let mut moved_hosts = std::collections::BTreeSet::new();
        for change in &changes {
            match change {
                GraphChange::NodeClicked { node } | GraphChange::NodeSelected { node } => {
                    if let Some(s) = subject_of(index, *node) {
                        intents.push(Intent::Select(Some(s.clone())));
                        on_node = true;
                    }
                }
                GraphChange::NodeMoved { node, delta, .. } => {
                    let Some(host) = subject_of(index, *node).map(|s| s.host().clone()) else {
                        continue;
                    };
                    // The whole host moves with whichever of its nodes is dragged.
                    for (s, n) in index.iter() {
                        if s.host() == &host
                            && n != node
                            && let Some(other) = graph.node_mut(*n)
                        {
                            let at = other.location() + *delta;
                            other.set_location(at);
                        }
                    }
                    moved_hosts.insert(host);
                    on_node = true;
                }
                GraphChange::NodeHoverEntered { node } => {
                    self.canvas.hovered = subject_of(index, *node).cloned()
                }
                GraphChange::NodeHoverExited { .. } => self.canvas.hovered = None,
                _ => {}
            }
        }
        if !moved_hosts.is_empty() {
            let mut t = self.doc.topology().clone();
            for host in &moved_hosts {
                let center = index
                    .get(&Subject::Host(host.clone()))
                    .and_then(|n| graph.node(*n))
                    .map(|n| n.location());
                if let (Some(center), Some(h)) = (center, t.host_mut(host)) {
                    let top_left = center - host_size(h) / 2.0;
                    h.position = Some(Position {
                        x: top_left.x.round(),
                        y: top_left.y.round(),
                    });
                }
            }
            let names: Vec<String> = moved_hosts.iter().map(ToString::to_string).collect();
            intents.push(Intent::Edit {
                key: format!("move {}", names.join(" ")),
                topology: Box::new(t),
            });
            // The edit will be the next revision; the canvas already shows it.
            self.canvas.moved = Some(self.doc.revision() + 1);
        }
        if response.clicked() && !on_node {
            intents.push(Intent::Select(None));
        }
        self.live_overlay(ui, response.rect);
        if let Some(s) = &self.canvas.hovered {
            let mut text = match s {
                Subject::Host(_) => format!("{s}: {}", super::explain::host()),
                Subject::Component(id) => format!(
                    "{s}: {}",
                    super::explain::component(self.doc.topology(), id)
                ),
            };
            if let Some(live) = self.live_tooltip(s) {
                text.push_str("\n\n");
                text.push_str(&live);
            }
            response.clone().on_hover_text_at_pointer(text);
        }
        legend_ui(ui, response.rect);
    }
}

/// The legend, in the canvas's top-left corner.
fn legend_ui(ui: &mut egui::Ui, canvas: Rect) {
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
    let size = Vec2::new(210.0, 18.0 * (entries.len() + 4) as f32 + 10.0);
    let rect = Rect::from_min_size(canvas.left_top() + Vec2::new(8.0, 8.0), size);
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
