//! The topology canvas: hosts as boxes holding their components, links as
//! arrows, drawn with egui_graphs. Node positions come from the topology
//! (or a tiered default layout) and go back into it when the user drags.

use std::collections::HashMap;

use egui::epaint::{CornerRadius, RectShape, TextShape};
use egui::{Color32, FontId, Pos2, Rect, Shape, Stroke, StrokeKind, Vec2};
use egui_graphs::{DisplayEdge, DisplayNode, DrawContext, EdgeProps, Graph, Layout, LayoutState, Node, NodeProps};
use petgraph::stable_graph::{DefaultIx, NodeIndex, StableGraph};
use petgraph::Directed;

use crate::model::{ComponentId, ComponentKind, Host, HostName, Position, Role, Subject, Topology};

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
        matches!(self, Self::Backend { backup: true } | Self::Replication | Self::Reads)
    }

    /// For the legend.
    pub fn label(self) -> &'static str {
        match self {
            Self::Backend { backup: false } => "LB → web server",
            Self::Backend { backup: true } => "LB → backup server",
            Self::Proxy => "Nginx → app (127.0.0.1)",
            Self::Writes => "app → primary (writes)",
            Self::Reads => "app → replica (reads)",
            Self::Replication => "primary → replica",
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
    Vec2::new(HOST_WIDTH, TITLE + ROW * h.components.len().max(1) as f32 + 6.0)
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
pub fn build(t: &Topology, flags: &HashMap<Subject, Color32>) -> (CanvasGraph, HashMap<Subject, NodeIndex>) {
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
            let center = top_left + Vec2::new(HOST_WIDTH / 2.0, TITLE + ROW * i as f32 + COMPONENT.y / 2.0);
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
    let node = |h: &HostName, k| index.get(&Subject::Component(ComponentId::new(h, k))).copied();
    for h in &t.hosts {
        if let Some(lb) = h.load_balancer() {
            for b in &lb.backends {
                if let (Some(from), Some(to)) = (node(&h.name, ComponentKind::Lb), node(&b.host, ComponentKind::Nginx)) {
                    g.add_edge(from, to, LinkKind::Backend { backup: b.backup });
                }
            }
        }
        if let (Some(from), Some(to)) = (node(&h.name, ComponentKind::Nginx), node(&h.name, ComponentKind::App)) {
            g.add_edge(from, to, LinkKind::Proxy);
        }
        if let (Some(app), Some(from)) = (h.app_server(), node(&h.name, ComponentKind::App)) {
            for (db_host, db) in t.databases().filter(|(_, db)| db.group == app.group) {
                let kind = if db.role == Role::Primary { LinkKind::Writes } else { LinkKind::Reads };
                if let Some(to) = node(&db_host.name, ComponentKind::Db) {
                    g.add_edge(from, to, kind);
                }
            }
        }
        if let Some(db) = h.database()
            && let Role::Replica { of } = &db.role
            && let (Some(from), Some(to)) = (node(of, ComponentKind::Db), node(&h.name, ComponentKind::Db))
        {
            g.add_edge(from, to, LinkKind::Replication);
        }
    }
    let mut graph = CanvasGraph::new(g);
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
        let text_color = if dark { Color32::from_gray(230) } else { Color32::from_gray(20) };
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
            stroke = Stroke::new(3.0, Color32::from_rgb(250, 200, 40));
        } else if self.hovered {
            stroke.width += 1.0;
        }
        match &self.data.look {
            Look::Host { region, .. } => {
                let fill = if dark { Color32::from_gray(38) } else { Color32::from_gray(235) };
                shapes.push(RectShape::new(rect, CornerRadius::same(8), fill, stroke, StrokeKind::Inside).into());
                let mut title = self.data.subject.to_string();
                if let Some(r) = region {
                    title.push_str(&format!("  ({r})"));
                }
                let galley = ctx.ctx.fonts_mut(|f| f.layout_no_wrap(title, FontId::proportional(14.0 * zoom), text_color));
                shapes.push(TextShape::new(rect.min + Vec2::new(8.0, 7.0) * zoom, galley, text_color).into());
            }
            Look::Component(kind) => {
                let fill = kind_color(*kind);
                shapes.push(RectShape::new(rect, CornerRadius::same(6), fill, stroke, StrokeKind::Inside).into());
                let mut label = format!("{} {}", kind_icon(*kind), kind.program());
                if let Some(s) = &self.data.status {
                    label.push_str(&format!(" · {s}"));
                }
                let galley = ctx.ctx.fonts_mut(|f| f.layout_no_wrap(label, FontId::proportional(13.0 * zoom), Color32::WHITE));
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
    fn ends(&self, start: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>, end: &Node<NodeData, LinkKind, Directed, DefaultIx, NodeShape>) -> (Pos2, Pos2) {
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
        let (a, b) = (ctx.meta.canvas_to_screen_pos(a), ctx.meta.canvas_to_screen_pos(b));
        let stroke = Stroke::new(2.0 * ctx.meta.zoom.max(0.5), self.kind.color());
        let mut shapes = if self.kind.dashed() {
            Shape::dashed_line(&[a, b], stroke, 8.0, 5.0)
        } else {
            vec![Shape::line_segment([a, b], stroke)]
        };
        let dir = (b - a).normalized();
        let tip = 10.0 * ctx.meta.zoom.max(0.5);
        let left = b - dir * tip + dir.rot90() * tip * 0.45;
        let right = b - dir * tip - dir.rot90() * tip * 0.45;
        shapes.push(Shape::convex_polygon(vec![b, left, right], self.kind.color(), Stroke::NONE));
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
