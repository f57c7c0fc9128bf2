//! The desktop app (egui / eframe / egui_graphs). Draws only; talks to the
//! lab through [`crate::protocol`] messages.

pub mod app;
pub mod canvas;
pub mod document;
mod events;
pub mod explain;
pub mod files;
mod inspector;
pub mod intent;
mod lab_panels;
pub mod lab_view;
pub mod modal;
mod overlay;
mod panels;
mod run;
mod style;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use app::{LabLink, TopolabApp};
pub use intent::Intent;
pub use panels::highlight;

use crate::model::{HostTemplate, Topology, add_host};

/// Frame-time measurement for `topolab gui --frames N`: the time spent
/// building each frame (`ui`), and the interval between frames, which
/// also covers tessellation and painting (the window repaints
/// continuously while measuring).
pub struct FrameTimes {
    wanted: usize,
    ui: Vec<Duration>,
    intervals: Vec<Duration>,
    last: Option<Instant>,
    started: Instant,
}

impl FrameTimes {
    fn new(wanted: usize) -> Self {
        Self {
            wanted,
            ui: Vec::with_capacity(wanted),
            intervals: Vec::with_capacity(wanted),
            last: None,
            started: Instant::now(),
        }
    }

    /// Records one frame that started at `start` and took `took` to build;
    /// true when enough frames were recorded.
    fn record(&mut self, start: Instant, took: Duration) -> bool {
        if let Some(last) = self.last {
            self.intervals.push(start - last);
        }
        self.last = Some(start);
        self.ui.push(took);
        self.ui.len() >= self.wanted
    }

    /// Prints the frame times, and how long live transitions took to
    /// reach the app (`delays`, milliseconds).
    fn report(&self, delays: &[u64]) {
        let stats = |v: &[Duration]| {
            let mut sorted = v.to_vec();
            sorted.sort();
            let pick = |q: f64| {
                let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
                sorted.get(i).copied().unwrap_or_default().as_secs_f64() * 1000.0
            };
            format!(
                "p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
                pick(0.5),
                pick(0.95),
                pick(1.0)
            )
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        println!(
            "{} frames in {elapsed:.2} s ({:.0} frames/s)",
            self.ui.len(),
            self.ui.len() as f64 / elapsed.max(1e-9)
        );
        println!("  building the frame (ui): {}", stats(&self.ui));
        println!("  frame to frame (all):    {}", stats(&self.intervals));
        if !delays.is_empty() {
            let mut sorted = delays.to_vec();
            sorted.sort_unstable();
            let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
            println!(
                "  live transitions, from happening to applied: {} transitions, p50 {} ms, p95 {} ms, max {} ms",
                sorted.len(),
                pick(0.5),
                pick(0.95),
                pick(1.0)
            );
        }
    }
}

/// A topology with `hosts` hosts (2 load balancers, a primary, then
/// web/app/DB servers), for measuring the canvas at scale.
pub fn generated_topology(hosts: usize) -> Topology {
    let mut t = Topology::new("generated");
    t.description = format!("{hosts} generated hosts");
    add_host(&mut t, HostTemplate::LoadBalancer);
    add_host(&mut t, HostTemplate::LoadBalancer);
    add_host(&mut t, HostTemplate::Database);
    while t.hosts.len() < hosts.max(4) {
        add_host(&mut t, HostTemplate::WebApp);
    }
    // The load balancers were added first; give them every web server.
    let webs: Vec<_> = t
        .hosts
        .iter()
        .filter(|h| h.web_server().is_some())
        .map(|h| h.name.clone())
        .collect();
    for h in &mut t.hosts {
        if let Some(lb) = h.load_balancer_mut() {
            lb.backends = webs
                .iter()
                .cloned()
                .map(crate::model::Backend::new)
                .collect();
        }
    }
    t
}

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
                let _ = events_tx.send(event);
                ctx.request_repaint();
            });
            let commands = crate::lab::actor::spawn(runtime.handle(), sink);
            let mut app = TopolabApp::new(
                topology,
                LabLink { commands, events },
                Some(runtime.handle().clone()),
            );
            app.keep_recent_in(crate::fsutil::data_dir().join("recent.json"));
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
