//! The canvas's view: its zoom and pan. egui_graphs keeps them in its
//! `MetadataFrame` (pan in the widget's own coordinates); this module
//! changes them in steps a user can predict — a wheel notch is about a
//! fifth, at the pointer — and on request: fit everything, 100%, the
//! selection, a host just added.

use egui::{Pos2, Rect, Vec2};
use egui_graphs::MetadataFrame;

use crate::model::Subject;

/// The smallest zoom (a 60-host design fits a laptop screen).
pub const MIN_ZOOM: f32 = 0.1;
/// The largest zoom.
pub const MAX_ZOOM: f32 = 4.0;
/// Fitting never zooms in beyond this (a one-host design stays readable
/// instead of filling the screen).
const FIT_MAX_ZOOM: f32 = 1.25;
/// Space kept around what is fitted, as a share of its size.
const FIT_PADDING: f32 = 0.08;
/// The zoom buttons' step.
pub const BUTTON_STEP: f32 = 1.2;
/// egui (0.36, X11) turns one notch of Ctrl+wheel into a zoom of about
/// 1.49, spread over a few frames; this exponent makes it about 1.22.
const WHEEL_EXPONENT: f32 = 0.5;

/// A change of view the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewRequest {
    /// Everything in view.
    Fit,
    /// Zoom to 100%, keeping the centre.
    Actual,
    /// Zoom by this factor about the centre (the + and − buttons).
    ZoomBy(f32),
    /// This host or component in view, centred, zoomed in to 100% (or
    /// the zoom in effect, if higher): zoom to selection.
    Show(Subject),
    /// This host or component in view, moving the view only if it is not
    /// (a host just added).
    Reveal(Subject),
}

/// The zoom and pan in effect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Screen points per canvas unit.
    pub zoom: f32,
    /// Where the canvas origin is drawn, relative to the widget's top-left.
    pub pan: Vec2,
}

impl View {
    /// The view egui_graphs holds.
    pub fn load(ui: &egui::Ui) -> Self {
        let meta = MetadataFrame::new(None).load(ui);
        Self {
            zoom: meta.zoom,
            pan: meta.pan,
        }
    }

    /// Hands the view to egui_graphs.
    pub fn save(self, ui: &mut egui::Ui) {
        let mut meta = MetadataFrame::new(None).load(ui);
        meta.zoom = self.zoom;
        meta.pan = self.pan;
        meta.save(ui);
    }

    /// Zooms by `factor` keeping the canvas point under `at` (widget
    /// coordinates) where it is.
    pub fn zoom_at(self, factor: f32, at: Pos2) -> Self {
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let canvas = (at.to_vec2() - self.pan) / self.zoom;
        Self {
            zoom,
            pan: at.to_vec2() - canvas * zoom,
        }
    }

    /// The view that shows `bounds` (canvas units) centred in a widget of
    /// `size`, zoomed to fit but no further in than `max_zoom`.
    pub fn fitting(bounds: Rect, size: Vec2, max_zoom: f32) -> Self {
        let wanted = bounds.size() * (1.0 + FIT_PADDING);
        let zoom = (size.x / wanted.x.max(1.0))
            .min(size.y / wanted.y.max(1.0))
            .clamp(MIN_ZOOM, max_zoom);
        Self {
            zoom,
            pan: (size / 2.0) - bounds.center().to_vec2() * zoom,
        }
    }

    /// The canvas rectangle a widget of `size` shows.
    pub fn visible(self, size: Vec2) -> Rect {
        Rect::from_min_max(
            ((-self.pan) / self.zoom).to_pos2(),
            ((size - self.pan) / self.zoom).to_pos2(),
        )
    }

    /// The view after `request`, for a widget of `size` showing `bounds`
    /// (everything), where `rect_of` says where a subject is drawn.
    pub fn apply(
        self,
        request: &ViewRequest,
        bounds: Option<Rect>,
        rect_of: impl Fn(&Subject) -> Option<Rect>,
        size: Vec2,
    ) -> Self {
        let center = (size / 2.0).to_pos2();
        match request {
            ViewRequest::Fit => match bounds {
                Some(b) => Self::fitting(b, size, FIT_MAX_ZOOM),
                None => self,
            },
            ViewRequest::Actual => self.zoom_at(1.0 / self.zoom, center),
            ViewRequest::ZoomBy(f) => self.zoom_at(*f, center),
            ViewRequest::Show(s) => match rect_of(s) {
                Some(r) => Self::fitting(r, size, self.zoom.max(1.0)),
                None => self,
            },
            ViewRequest::Reveal(s) => match rect_of(s) {
                Some(r) if !self.visible(size).contains_rect(r) => {
                    // Centred at the zoom in effect (or smaller, if it is
                    // bigger than the view).
                    Self::fitting(r, size, self.zoom)
                }
                _ => self,
            },
        }
    }

    /// The view after a Ctrl+wheel or pinch of `factor` at `at` (egui's
    /// zoom delta for this frame).
    pub fn wheel(self, factor: f32, at: Pos2) -> Self {
        self.zoom_at(factor.powf(WHEEL_EXPONENT), at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn zooming_keeps_the_point_under_the_pointer() {
        let v = View {
            zoom: 1.0,
            pan: Vec2::new(10.0, 20.0),
        };
        let at = Pos2::new(200.0, 100.0);
        let canvas = (at.to_vec2() - v.pan) / v.zoom;
        let z = v.zoom_at(1.2, at);
        assert!(close(z.zoom, 1.2));
        let after = (at.to_vec2() - z.pan) / z.zoom;
        assert!(close(canvas.x, after.x) && close(canvas.y, after.y));
        // Clamped at both ends.
        assert_eq!(v.zoom_at(100.0, at).zoom, MAX_ZOOM);
        assert_eq!(v.zoom_at(0.0001, at).zoom, MIN_ZOOM);
    }

    #[test]
    fn a_wheel_notch_is_a_step_of_about_a_fifth() {
        let v = View {
            zoom: 1.0,
            pan: Vec2::ZERO,
        };
        // egui's zoom deltas for one notch under X11, frame by frame
        // (measured: 1.136, 1.212, 1.058, 1.016, ... = 1.49 in all).
        let notch = 1.49f32;
        let mut z = v;
        for part in [0.32, 0.48, 0.14, 0.04, 0.02] {
            z = z.wheel(notch.powf(part), Pos2::ZERO);
        }
        assert!((1.1..=1.25).contains(&z.zoom), "{}", z.zoom);
    }

    #[test]
    fn fit_shows_everything_and_actual_is_one() {
        let bounds = Rect::from_min_max(Pos2::new(-100.0, 0.0), Pos2::new(1900.0, 900.0));
        let size = Vec2::new(1000.0, 600.0);
        let v = View {
            zoom: 3.0,
            pan: Vec2::ZERO,
        }
        .apply(&ViewRequest::Fit, Some(bounds), |_| None, size);
        assert!(v.visible(size).contains_rect(bounds));
        assert!(v.zoom < 0.5);
        let a = v.apply(&ViewRequest::Actual, Some(bounds), |_| None, size);
        assert!(close(a.zoom, 1.0));
        // The centre stays.
        let c = (size / 2.0).to_pos2();
        assert!(close(
            ((c.to_vec2() - v.pan) / v.zoom).x,
            ((c.to_vec2() - a.pan) / a.zoom).x
        ));
        // A small design is not blown up.
        let small = Rect::from_min_size(Pos2::ZERO, Vec2::new(170.0, 100.0));
        let s = v.apply(&ViewRequest::Fit, Some(small), |_| None, size);
        assert!(close(s.zoom, FIT_MAX_ZOOM));
    }

    #[test]
    fn reveal_moves_only_when_needed() {
        let size = Vec2::new(1000.0, 600.0);
        let v = View {
            zoom: 1.0,
            pan: Vec2::ZERO,
        };
        let inside = Rect::from_min_size(Pos2::new(10.0, 10.0), Vec2::new(100.0, 100.0));
        let outside = Rect::from_min_size(Pos2::new(2000.0, 10.0), Vec2::new(170.0, 100.0));
        let rect_of = |s: &Subject| match s.host().as_str() {
            "web-01" => Some(inside),
            "web-03" => Some(outside),
            _ => None,
        };
        let host = |n: &str| Subject::Host(crate::model::HostName::new(n));
        assert_eq!(
            v.apply(&ViewRequest::Reveal(host("web-01")), None, rect_of, size),
            v
        );
        let r = v.apply(&ViewRequest::Reveal(host("web-03")), None, rect_of, size);
        assert!(r.visible(size).contains_rect(outside));
        assert!(close(r.zoom, 1.0));
        // Zoom to selection: centred, at 100% at least.
        let far = View {
            zoom: 0.3,
            pan: Vec2::ZERO,
        };
        let shown = far.apply(&ViewRequest::Show(host("web-03")), None, rect_of, size);
        assert!(close(shown.zoom, 1.0));
        assert!(shown.visible(size).contains_rect(outside));
        assert!(close(shown.visible(size).center().x, outside.center().x));
    }
}
