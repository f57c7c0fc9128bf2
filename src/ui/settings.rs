//! What the app keeps between sessions: the bottom panel's height, whether
//! the legend is open, the theme. A JSON file next to the recent-files
//! list; a missing or unreadable file means the defaults, and a setting the
//! file lacks takes its default.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The bottom panel's height on a first start, points.
pub const DEFAULT_BOTTOM: f32 = 240.0;
/// The bottom panel is never lower than this: its tab row and about
/// eight lines.
pub const MIN_BOTTOM: f32 = 190.0;

/// The settings kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The bottom panel's height, as the user last dragged it.
    pub bottom_height: f32,
    /// Whether the canvas's legend is open.
    pub legend_open: bool,
    /// Dark theme (else light).
    pub dark: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bottom_height: DEFAULT_BOTTOM,
            legend_open: false,
            dark: true,
        }
    }
}

impl Settings {
    /// The settings kept in `file`, or the defaults.
    pub fn read(file: &Path) -> Self {
        let mut s: Self = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !(s.bottom_height.is_finite() && (MIN_BOTTOM..=4000.0).contains(&s.bottom_height)) {
            s.bottom_height = DEFAULT_BOTTOM;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_back_and_bad_files_give_defaults() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("settings.json");
        assert_eq!(Settings::read(&file), Settings::default());
        let s = Settings {
            bottom_height: 420.0,
            legend_open: true,
            dark: false,
        };
        std::fs::write(&file, serde_json::to_string(&s).expect("json")).expect("write");
        assert_eq!(Settings::read(&file), s);
        // A missing setting takes its default; a silly height is refused.
        std::fs::write(&file, r#"{"legend_open": true, "bottom_height": -5}"#).expect("write");
        let read = Settings::read(&file);
        assert!(read.legend_open && read.dark);
        assert_eq!(read.bottom_height, DEFAULT_BOTTOM);
        std::fs::write(&file, "not json").expect("write");
        assert_eq!(Settings::read(&file), Settings::default());
    }
}
