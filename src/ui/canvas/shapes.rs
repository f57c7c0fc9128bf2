//! How the canvas draws: a host box with its title, a component in its
//! kind's colour, a link as a (dashed) arrow cut short at the view's edge,
//! and a layout that leaves every node where the topology put it.

use egui::epaint::{CornerRadius, RectShape, TextShape};
use egui::{Color32, FontId, Pos2, Rect, Shape, Stroke, StrokeKind, Vec2};
use egui_graphs::{
    DisplayEdge, DisplayNode, DrawContext, EdgeProps, Graph, Layout, LayoutState, Node, NodeProps,
};
use petgraph::Directed;
use petgraph::stable_graph::DefaultIx;

use super::graph::{COMPONENT, LinkKind, Look, NodeData, TITLE, kind_color, kind_icon};

/// A corner radius of `points` at `zoom`: square corners on small boxes,
/// which also tessellate into far fewer triangles.
fn radius(points: f32, zoom: f32) -> CornerRadius {
    CornerRadius::same((points * zoom.min(1.0)).round().clamp(0.0, 255.0) as u8)
}

/// Below this zoom labels would be too small to read: boxes only (and far
/// less for a software renderer to draw when a large design is zoomed out).
const MIN_TEXT_ZOOM: f32 = 0.4;
/// Below this zoom the canvas draws what can be told apart only: boxes
/// without rounding or outlines, the links that carry traffic between
/// hosts as thin lines without arrowheads or dashes (a 60-host design is
/// thousands of shapes too small to see otherwise).
pub(super) const AGGREGATE_ZOOM: f32 = 0.5;
/// The length of a link's two ends drawn below [`AGGREGATE_ZOOM`], points.
const FAN: f32 = 26.0;

/// Length, in points, of a link whose other end is off-screen.
const STUB: f32 = 48.0;

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
                if zoom < AGGREGATE_ZOOM && !self.selected && self.data.flag.is_none() {
                    // Zoomed far out, its components say where it is.
                    return shapes;
                }
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
                if zoom < AGGREGATE_ZOOM && !self.selected && self.data.flag.is_none() {
                    // A flat box: what a component is, nothing finer.
                    shapes.push(Shape::rect_filled(rect, 0.0, fill));
                    return shapes;
                }
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
        let zoom = ctx.meta.zoom;
        // Zoomed far out, the reads (one per app and replica) and Nginx to
        // its app (inside a box) are too small to tell apart.
        if zoom < AGGREGATE_ZOOM && matches!(self.kind, LinkKind::Reads | LinkKind::Proxy) {
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
        if zoom < AGGREGATE_ZOOM {
            // A fan: where the link leaves and where it arrives, not the
            // lines across the whole view.
            let stroke = Stroke::new(1.0, color);
            let fan = (b - a).normalized() * FAN.min((b - a).length() / 2.0);
            return vec![
                Shape::line_segment([a, a + fan], stroke),
                Shape::line_segment([b - fan, b], stroke),
            ];
        }
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
