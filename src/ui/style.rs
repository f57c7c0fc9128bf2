//! Colours and number formats the panels, the canvas overlay and the
//! dialogs share.

use egui::Color32;

use crate::change::Impact;
use crate::live::Health;

/// Problems and failures.
pub const ERROR: Color32 = Color32::from_rgb(230, 80, 80);
/// Warnings and findings.
pub const WARN: Color32 = Color32::from_rgb(240, 170, 40);
/// All is well.
pub const OK: Color32 = Color32::from_rgb(90, 190, 110);

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

/// The colour of a release, the same on the canvas and in the charts:
/// `v1` blue, `v2` green, `v2-broken` red, any other grey.
pub fn release_color(release: &str) -> Color32 {
    match release {
        "v1" => Color32::from_rgb(110, 155, 225),
        "v2" => Color32::from_rgb(90, 190, 110),
        "v2-broken" => Color32::from_rgb(230, 80, 80),
        _ => Color32::from_gray(150),
    }
}

/// The colour of an action's class: hitless green, brief amber,
/// destructive red.
pub fn impact_color(i: Impact) -> Color32 {
    match i {
        Impact::Hitless => OK,
        Impact::Brief => WARN,
        Impact::Destructive => ERROR,
    }
}

/// `text` for the proportional font, which has no arrow: `→` becomes
/// `->` (the monospace font has one).
pub fn plain_arrows(text: &str) -> String {
    text.replace('→', "->")
}

/// Formats milliseconds briefly.
pub fn ms(v: f32) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}
