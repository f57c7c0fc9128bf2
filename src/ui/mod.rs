//! The desktop app (egui / eframe / egui_graphs): opens the window, starts
//! the async runtime and the lab's actor, and hands frames to
//! [`TopolabApp`]. The UI reaches the lab only through
//! [`crate::protocol`] messages and the actor's handle.
//!
//! The modules, which import each other without a cycle:
//! - state, no drawing: `intent` (what the user asked for), `document`
//!   (the design, undo, analysis), `lab_view` (the lab as reported),
//!   `files` (file jobs off the UI thread);
//! - widgets that never name the app: `canvas`, `overlay` (the running lab
//!   over the canvas), `modal` (the one modal dialog), with `style` and
//!   `explain` for colours and words;
//! - the app: `app` (its state and the frame), `events` (what arrived
//!   between frames), `run` (applying intents), `apply` (the design's
//!   changes to the running lab, applied live), `deploy` (rolling deploys
//!   of a release, and the share of requests per release), and the panels
//!   drawn from its state: `panels` (menus, toolbar, status bar, bottom tabs),
//!   `inspector`, `lab_panels` (the running lab's panels), `data_panel`
//!   (stale reads and the data check);
//! - `frame_times`: the `--frames` benchmark.

pub mod app;
mod apply;
pub mod canvas;
mod capacity_tab;
mod data_panel;
mod deploy;
pub mod document;
mod events;
pub mod explain;
pub mod files;
mod frame_times;
mod inspector;
pub mod intent;
mod lab_panels;
pub mod lab_view;
pub mod modal;
mod overlay;
mod panels;
pub use panels::Help;
mod run;
pub mod settings;
mod style;

use std::sync::Arc;
use std::time::Duration;

pub use app::{LabLink, TopolabApp};
pub use deploy::ReleaseBand;
pub use frame_times::generated_topology;
pub use intent::Intent;
pub use overlay::Badge;
pub use panels::highlight;

use crate::live::Observation;
use crate::model::Topology;
use crate::protocol::LabEvent;

/// Periodic samples from a running lab are drawn within this time (an
/// idle lab then costs the machine a frame every two seconds).
const SAMPLES_SHOWN_EVERY: Duration = Duration::from_secs(2);

/// Keeps the tokio runtime alive as long as the window.
struct Shell {
    app: TopolabApp,
    _runtime: tokio::runtime::Runtime,
}

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
    }
}

/// How the window opens.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Run the frame-time benchmark for this many frames, then close.
    pub frames: Option<usize>,
    /// Attach to this running lab.
    pub lab: Option<crate::protocol::LabName>,
    /// Send this many requests per second through it.
    pub traffic: Option<f64>,
}

/// Opens the window with `topology`.
pub fn run(topology: Topology, launch: Launch) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    if ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
        .iter()
        .all(|v| std::env::var_os(v).is_none())
    {
        return Err(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is \
                    set); the command line works without one: `topolab --help`"
                .to_owned(),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1360.0, 860.0])
            .with_min_inner_size([800.0, 500.0])
            .with_title("topolab")
            .with_app_id("topolab")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "topolab",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let (events_tx, events) = std::sync::mpsc::channel();
            let sink: crate::lab::actor::Sink = Arc::new(move |event| {
                // Samples arrive several times a second while a lab runs:
                // a frame every two seconds shows them; anything else (a
                // state that changed, requests to draw) is shown at once.
                let samples = matches!(&event, LabEvent::Live { observations, .. }
                    if observations.iter().all(Observation::is_sample));
                let _ = events_tx.send(event);
                if samples {
                    ctx.request_repaint_after(SAMPLES_SHOWN_EVERY);
                } else {
                    ctx.request_repaint();
                }
            });
            let commands = crate::lab::actor::spawn(runtime.handle(), sink);
            let mut app = TopolabApp::new(
                topology,
                LabLink { commands, events },
                Some(runtime.handle().clone()),
            );
            app.keep_recent_in(crate::fsutil::data_dir().join("recent.json"));
            app.keep_settings_in(crate::fsutil::data_dir().join("settings.json"));
            if let Some(n) = launch.frames {
                app.measure_frames(n);
            }
            if let Some(lab) = launch.lab {
                app.attach_when_found(lab, launch.traffic);
            }
            Ok(Box::new(Shell {
                app,
                _runtime: runtime,
            }))
        }),
    )
    .map_err(|e| format!("cannot open the window: {e}"))
}
