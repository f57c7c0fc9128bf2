//! Measuring the app: frame times for `topolab gui --frames N`, and a
//! generated topology of any size to measure the canvas at scale.

use std::time::{Duration, Instant};

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
    pub(super) fn new(wanted: usize) -> Self {
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
    pub(super) fn record(&mut self, start: Instant, took: Duration) -> bool {
        if let Some(last) = self.last {
            self.intervals.push(start - last);
        }
        self.last = Some(start);
        self.ui.push(took);
        self.ui.len() >= self.wanted
    }

    /// Prints the frame times, and how long live transitions took to
    /// reach the app (`delays`, milliseconds).
    pub(super) fn report(&self, delays: &[u64]) {
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
