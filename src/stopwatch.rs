//! The failover stopwatch: what a fault or a promotion did, measured from
//! the requests the traffic generator sent and the transitions the monitor
//! saw. Pure: every input is data with its own timestamps (milliseconds),
//! so a measurement is exact and testable.

use std::fmt::Write as _;

use crate::live::{Health, Millis, RequestTrace, Transition};
use crate::model::Subject;

/// A request slower than this many times the baseline p95 counts as
/// slowed (and never below [`SLOW_FLOOR_MS`]).
const SLOW_FACTOR: f32 = 5.0;
/// The lowest threshold for "slowed", milliseconds.
pub const SLOW_FLOOR_MS: f32 = 50.0;

/// Something done to the lab whose effect is measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// What, e.g. `web-01/nginx kill` or `promote web-02`.
    pub label: String,
    /// The host it concerns.
    pub host: String,
    /// When it was done.
    pub at: Millis,
    /// A promotion (its outage ends with the first successful write).
    pub promotion: bool,
    /// For a fault: whether it was seen to take effect, in words
    /// (`verified: ...`, `NO EFFECT: ...`), when known.
    pub check: Option<String>,
    /// For a fault: what it was done to (a heal of it, or of its host,
    /// ends its window).
    pub target: Option<Subject>,
    /// When its target was healed.
    pub healed: Option<Millis>,
}

/// Closes the windows of the faults that healing `target` (everything:
/// `None`) at `at` ends: a host's heal heals its components' faults too.
pub fn heal(incidents: &mut [Incident], target: Option<&Subject>, at: Millis) {
    for i in incidents.iter_mut().filter(|i| i.healed.is_none()) {
        let Some(t) = &i.target else {
            continue;
        };
        let hit = match target {
            None => true,
            Some(Subject::Host(h)) => t.host() == h,
            Some(s) => t == s,
        };
        if hit {
            i.healed = Some(at);
        }
    }
}

/// Where incident `i`'s window ends: at the next incident, at its heal, or
/// never.
pub fn window_end(incidents: &[Incident], i: usize) -> Millis {
    let next = incidents.get(i + 1).map_or(Millis::MAX, |n| n.at);
    let healed = incidents
        .get(i)
        .and_then(|n| n.healed)
        .unwrap_or(Millis::MAX);
    next.min(healed)
}

/// Requests in a window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// How many.
    pub count: u64,
    /// The first one's start.
    pub first: Option<Millis>,
    /// The last one's end.
    pub last: Option<Millis>,
    /// The slowest, milliseconds.
    pub worst_ms: f32,
}

impl Window {
    fn add(&mut self, t: &RequestTrace) {
        self.count += 1;
        self.first = Some(self.first.map_or(t.at, |f| f.min(t.at)));
        self.last = Some(self.last.map_or(t.done(), |l| l.max(t.done())));
        self.worst_ms = self.worst_ms.max(t.latency_ms);
    }

    /// From the first request's start to the last one's end, seconds.
    pub fn seconds(&self) -> f64 {
        match (self.first, self.last) {
            (Some(f), Some(l)) => l.saturating_sub(f) as f64 / 1000.0,
            _ => 0.0,
        }
    }
}

/// What one incident did.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The incident.
    pub incident: Incident,
    /// The first transitions of its host the lab reported after it (the
    /// monitor's and the load balancer's, each source's first).
    pub detected: Vec<Transition>,
    /// Requests that failed.
    pub failed: Window,
    /// Requests that succeeded but slower than the threshold.
    pub slowed: Window,
    /// The threshold for slowed, milliseconds.
    pub slow_ms: f32,
    /// Requests in all.
    pub requests: u64,
    /// Whether and when service was back.
    pub recovery: Recovery,
    /// For a promotion: when the first write after it succeeded.
    pub first_write: Option<Millis>,
    /// Acknowledged writes missing afterwards, when checked.
    pub lost_writes: Option<u64>,
}

/// Whether service came back after an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// No request failed or was slowed.
    Unaffected,
    /// Back at the end of the last failed or slowed request: after it,
    /// requests of every kind that had failed (reads, writes) succeeded.
    Back(Millis),
    /// Not seen back: since the last failed or slowed request, no request
    /// of a kind that had failed has succeeded (yet).
    NotYet,
}

impl Recovery {
    /// When service was back, if it was.
    pub fn at(self) -> Option<Millis> {
        match self {
            Self::Back(at) => Some(at),
            Self::Unaffected | Self::NotYet => None,
        }
    }
}

impl Measured {
    /// Seconds from the incident to `at`.
    pub fn after(&self, at: Millis) -> f64 {
        at as f64 / 1000.0 - self.incident.at as f64 / 1000.0
    }
}

/// The latency above which a request counts as slowed, from the requests
/// before any incident.
pub fn slow_threshold(baseline: &[&RequestTrace]) -> f32 {
    let mut ok: Vec<f32> = baseline
        .iter()
        .filter(|t| t.ok())
        .map(|t| t.latency_ms)
        .collect();
    ok.sort_by(f32::total_cmp);
    let p95 = ok
        .get(((ok.len() as f64 * 0.95).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    (p95 * SLOW_FACTOR).max(SLOW_FLOOR_MS)
}

/// Measures `incident` from the requests sent from it until `until` (the
/// next incident, its heal, or the end) and the lab's transitions.
pub fn measure(
    incident: &Incident,
    until: Millis,
    traces: &[RequestTrace],
    timeline: &[Transition],
    slow_ms: f32,
) -> Measured {
    let mut failed = Window::default();
    let mut slowed = Window::default();
    let mut requests = 0;
    let mut first_write = None;
    // Whether reads (0) and writes (1) failed or were slowed.
    let mut went_bad = [false; 2];
    let window: Vec<&RequestTrace> = traces
        .iter()
        .filter(|t| t.at >= incident.at && t.at < until)
        .collect();
    for t in &window {
        requests += 1;
        if !t.ok() {
            failed.add(t);
        } else if t.latency_ms > slow_ms {
            slowed.add(t);
        }
        went_bad[usize::from(t.write)] |= !t.ok() || t.latency_ms > slow_ms;
        if incident.promotion && t.write && t.ok() {
            first_write = Some(first_write.map_or(t.done(), |f: Millis| f.min(t.done())));
        }
    }
    // The first report of each source: the load balancer's ("marked"),
    // the replication's ("/db:"), the containers' (the rest).
    let source = |t: &Transition| {
        if t.text.contains(" marked ") || t.text.contains("'s checks of ") {
            0
        } else if t.text.contains("/db: ") {
            1
        } else {
            2
        }
    };
    let mut detected: Vec<Transition> = Vec::new();
    for tr in timeline.iter().filter(|tr| {
        tr.at >= incident.at
            && tr.at < until
            && tr
                .subject
                .as_ref()
                .is_some_and(|s| s.host().as_str() == incident.host)
            && matches!(
                tr.health,
                Some(Health::Down | Health::Degraded | Health::Paused | Health::Maintenance)
            )
    }) {
        if !detected.iter().any(|d| source(d) == source(tr)) {
            detected.push(tr.clone());
        }
    }
    let recovery = match failed.last.max(slowed.last) {
        None => Recovery::Unaffected,
        Some(last_bad) => recovery(&window, last_bad, went_bad, slow_ms),
    };
    Measured {
        incident: incident.clone(),
        detected,
        failed,
        slowed,
        slow_ms,
        requests,
        recovery,
        first_write,
        lost_writes: None,
    }
}

/// Whether service came back after the last failed or slowed request of
/// the window ended (`last_bad`): did a request of every kind that went bad
/// (`went_bad`: reads, writes) succeed in time after it? Reads answering
/// while writes still fail is not "back".
fn recovery(
    window: &[&RequestTrace],
    last_bad: Millis,
    went_bad: [bool; 2],
    slow_ms: f32,
) -> Recovery {
    let mut good_after = [false; 2];
    for t in window {
        if t.at >= last_bad && t.ok() && t.latency_ms <= slow_ms {
            good_after[usize::from(t.write)] = true;
        }
    }
    if (0..2).all(|k| !went_bad[k] || good_after[k]) {
        Recovery::Back(last_bad)
    } else {
        Recovery::NotYet
    }
}

/// `HH:MM:SS.mmm` (UTC).
pub fn clock(at: Millis) -> String {
    let s = at / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        at % 1000
    )
}

/// The report of one incident, as Markdown (also readable as text).
pub fn report(m: &Measured) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### {} (at {} UTC)\n",
        m.incident.label,
        clock(m.incident.at)
    );
    // A fault (it has a target and a check) is injected; a promotion or an
    // apply's action starts.
    let began = if m.incident.target.is_some() || m.incident.check.is_some() {
        "injected"
    } else {
        "started"
    };
    match &m.incident.check {
        Some(check) => {
            let _ = writeln!(o, "- {began}: +0.000 s ({check})");
        }
        None => {
            let _ = writeln!(o, "- {began}: +0.000 s");
        }
    }
    if m.detected.is_empty() {
        let _ = writeln!(o, "- detected: not reported");
    }
    for d in &m.detected {
        let _ = writeln!(o, "- detected: +{:.3} s — {}", m.after(d.at), d.text);
    }
    let _ = writeln!(
        o,
        "- failed requests: {} of {}{}",
        m.failed.count,
        m.requests,
        if m.failed.count > 0 {
            format!(
                ", from +{:.3} s for {:.3} s",
                m.after(m.failed.first.unwrap_or(m.incident.at)),
                m.failed.seconds()
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        o,
        "- slowed requests (over {:.0} ms): {}{}",
        m.slow_ms,
        m.slowed.count,
        if m.slowed.count > 0 {
            format!(
                ", from +{:.3} s for {:.3} s, worst {:.0} ms",
                m.after(m.slowed.first.unwrap_or(m.incident.at)),
                m.slowed.seconds(),
                m.slowed.worst_ms
            )
        } else {
            String::new()
        }
    );
    match m.recovery {
        Recovery::Back(r) => {
            let _ = writeln!(o, "- service back: +{:.3} s", m.after(r));
        }
        Recovery::NotYet => {
            let _ = writeln!(
                o,
                "- service back: not yet (no request of a kind that failed has succeeded since)"
            );
        }
        Recovery::Unaffected => {
            let _ = writeln!(o, "- service back: no request was affected");
        }
    }
    if m.incident.promotion {
        match m.first_write {
            Some(w) => {
                let _ = writeln!(o, "- first successful write: +{:.3} s", m.after(w));
            }
            None => {
                let _ = writeln!(o, "- first successful write: none yet");
            }
        }
    }
    if let Some(lost) = m.lost_writes {
        let _ = writeln!(o, "- acknowledged writes lost: {lost}");
    }
    o
}

/// How many of the acknowledged writes (each named by the unique value it
/// wrote) are missing from the values the data holds. Counting by value,
/// not by id: a promoted primary hands out the lost writes' ids again.
pub fn lost_writes(acknowledged: &[String], present: &std::collections::BTreeSet<String>) -> u64 {
    let acknowledged: std::collections::BTreeSet<&String> = acknowledged.iter().collect();
    acknowledged
        .iter()
        .filter(|v| !present.contains(**v))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ComponentId, ComponentKind, HostName, Subject};

    fn trace(at: Millis, status: Option<u16>, latency: f32, write: bool) -> RequestTrace {
        RequestTrace {
            status,
            latency_ms: latency,
            ..RequestTrace::new(at, write, HostName::new("lb-01"))
        }
    }

    #[test]
    fn a_kill_measured_from_requests_and_transitions() {
        let mut traces = Vec::new();
        // Baseline: 3 ms.
        for i in 0..20 {
            traces.push(trace(i * 50, Some(200), 3.0, false));
        }
        // The kill at 1000: one request slowed by a retry, one failed.
        traces.push(trace(1000, Some(200), 303.0, false));
        traces.push(trace(1050, Some(503), 2.0, false));
        traces.push(trace(1100, Some(200), 3.0, false));
        // Answered after the slowed one ended: service is back.
        traces.push(trace(1400, Some(200), 3.0, false));
        let baseline: Vec<&RequestTrace> = traces.iter().filter(|t| t.at < 1000).collect();
        let slow = slow_threshold(&baseline);
        assert_eq!(slow, SLOW_FLOOR_MS);
        let timeline = vec![
            Transition {
                at: 900,
                subject: Some(Subject::Host(HostName::new("web-01"))),
                health: Some(Health::Down),
                text: "before".into(),
            },
            Transition {
                at: 1600,
                subject: Some(Subject::Component(ComponentId::new(
                    "web-01",
                    ComponentKind::Nginx,
                ))),
                health: Some(Health::Down),
                text: "lb-01 marked web-01 DOWN".into(),
            },
        ];
        let incident = Incident {
            label: "web-01/nginx kill".into(),
            host: "web-01".into(),
            at: 1000,
            promotion: false,
            check: Some("verified: topolab-demo-web-01-nginx exited (137)".into()),
            target: None,
            healed: None,
        };
        let m = measure(&incident, 5000, &traces, &timeline, slow);
        assert_eq!(m.requests, 4);
        assert_eq!(m.failed.count, 1);
        assert_eq!(m.slowed.count, 1);
        assert_eq!(m.slowed.worst_ms, 303.0);
        assert_eq!(m.detected.len(), 1);
        assert!((m.after(m.detected[0].at) - 0.6).abs() < 1e-9);
        assert_eq!(m.recovery, Recovery::Back(1303));
        let text = report(&m);
        assert!(
            text.contains("detected: +0.600 s — lb-01 marked web-01 DOWN"),
            "{text}"
        );
        assert!(text.contains("failed requests: 1 of 4"), "{text}");
        assert!(text.contains("worst 303 ms"), "{text}");
        assert!(
            text.contains("injected: +0.000 s (verified: topolab-demo-web-01-nginx exited"),
            "{text}"
        );
    }

    #[test]
    fn lost_writes_are_counted_by_value_not_by_id() {
        // Writes a..e were acknowledged by the old primary (ids 1-5); c, d
        // and e never reached the replica, whose promotion then gave ids
        // 3-5 to new writes x, y, z: by id nothing looks lost.
        let acked: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let present: std::collections::BTreeSet<String> =
            ["a", "b", "x", "y", "z"].map(String::from).into();
        assert_eq!(lost_writes(&acked, &present), 3);
        assert_eq!(lost_writes(&[], &present), 0);
        // A value seen twice (a retried request) is one write.
        let twice = vec!["c".to_owned(), "c".to_owned()];
        assert_eq!(lost_writes(&twice, &present), 1);
    }

    #[test]
    fn a_promotion_ends_with_the_first_write() {
        let traces = vec![
            trace(2000, Some(503), 5.0, true),
            trace(2400, Some(201), 4.0, true),
            trace(2500, Some(201), 4.0, true),
        ];
        let incident = Incident {
            label: "promote web-02".into(),
            host: "web-02".into(),
            at: 2000,
            promotion: true,
            check: None,
            target: None,
            healed: None,
        };
        let m = measure(&incident, 9000, &traces, &[], 50.0);
        assert_eq!(m.first_write, Some(2404));
        assert!(report(&m).contains("first successful write: +0.404 s"));
    }

    #[test]
    fn reads_answering_while_writes_fail_is_not_back() {
        let traces = vec![
            trace(1000, Some(200), 3.0, false),
            trace(1100, Some(500), 3.0, true),
            trace(1200, Some(200), 3.0, false),
            trace(1300, Some(500), 3.0, true),
            trace(1400, Some(200), 3.0, false),
        ];
        let incident = Incident {
            label: "web-01/db kill".into(),
            host: "web-01".into(),
            at: 1000,
            promotion: false,
            check: None,
            target: Some(Subject::Component(ComponentId::new(
                "web-01",
                ComponentKind::Db,
            ))),
            healed: None,
        };
        let m = measure(&incident, 9000, &traces, &[], 50.0);
        assert_eq!(m.recovery, Recovery::NotYet);
        assert!(
            report(&m).contains("service back: not yet"),
            "{}",
            report(&m)
        );
        // A write that succeeds afterwards brings it back.
        let mut later = traces.clone();
        later.push(trace(1500, Some(201), 3.0, true));
        let m = measure(&incident, 9000, &later, &[], 50.0);
        assert_eq!(m.recovery, Recovery::Back(1303));
        // The window closes at the heal of its host: what happens after it
        // is not this incident's (the write at 1500 is outside it).
        let mut incidents = vec![incident.clone()];
        heal(
            &mut incidents,
            Some(&Subject::Host(HostName::new("web-02"))),
            1440,
        );
        assert_eq!(
            window_end(&incidents, 0),
            Millis::MAX,
            "another host's heal"
        );
        heal(
            &mut incidents,
            Some(&Subject::Host(HostName::new("web-01"))),
            1450,
        );
        assert_eq!(window_end(&incidents, 0), 1450);
        let m = measure(&incidents[0], window_end(&incidents, 0), &later, &[], 50.0);
        assert_eq!(m.recovery, Recovery::NotYet);
        assert_eq!(m.requests, 5);
        // Nothing went wrong: unaffected.
        let fine = vec![trace(1000, Some(200), 3.0, true)];
        assert_eq!(
            measure(&incident, 9000, &fine, &[], 50.0).recovery,
            Recovery::Unaffected
        );
    }
}
