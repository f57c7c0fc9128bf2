//! What the canvas painted last: when nothing moved, the pointer is
//! elsewhere and the design did not change, the frame repaints those
//! shapes instead of running the graph view again.

use egui::epaint::ClippedShape;
use egui::{Rect, Vec2};
use egui_graphs::{GraphChange, GraphView, SettingsInteraction, SettingsNavigation};

use super::graph::CanvasGraph;
use super::shapes::{Fixed, FixedState};

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

    /// Paints `graph` into `rect`: with the real graph view when something
    /// may have changed (`rebuilt`, or `always` as the frame benchmark
    /// wants), else with the shapes it painted last. Returns the canvas's
    /// response and what the user did to the graph.
    pub(super) fn paint(
        &mut self,
        ui: &mut egui::Ui,
        rect: Rect,
        graph: &mut CanvasGraph,
        rebuilt: bool,
        always: bool,
    ) -> (egui::Response, Vec<GraphChange>) {
        let live = self.needs_live(ui, rect, rebuilt) || always;
        tracing::trace!(live, rebuilt, settle = self.settle, "canvas frame");
        if live {
            self.paint_live(ui, rect, graph)
        } else {
            (self.repaint(ui, rect), Vec::new())
        }
    }

    /// Runs the graph view, and keeps what it painted.
    fn paint_live(
        &mut self,
        ui: &mut egui::Ui,
        rect: Rect,
        graph: &mut CanvasGraph,
    ) -> (egui::Response, Vec<GraphChange>) {
        let layer = ui.layer_id();
        let interactions = SettingsInteraction::new()
            .with_dragging_enabled(true)
            .with_hover_enabled(true)
            .with_node_clicking_enabled(true)
            .with_node_selection_enabled(true);
        // Panning is egui_graphs'; zooming is `view.rs`'s (egui_graphs
        // would zoom a fixed step on every frame of a smoothed wheel notch).
        let navigation = SettingsNavigation::new()
            .with_zoom_and_pan_enabled(true)
            .with_zoom_speed(0.0)
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
        self.store(ui, rect, painted);
        (shown.response, shown.changes)
    }

    /// Nothing happened: paints what the graph view painted last time and
    /// registers the same widget, so that egui_graphs' repaint request (it
    /// asks for one on every call) does not keep an idle window busy.
    fn repaint(&self, ui: &mut egui::Ui, rect: Rect) -> egui::Response {
        let layer = ui.layer_id();
        let (response, _) = ui.allocate_painter(rect.size(), egui::Sense::click_and_drag());
        ui.ctx().graphics_mut(|g| {
            let list = g.entry(layer);
            for shape in &self.shapes {
                list.add(shape.clip_rect, shape.shape.clone());
            }
        });
        response
    }
}
