//! The live state of a running lab, as the lab itself reports it: container
//! states from Docker, backend states from HAProxy, replication from each
//! replica, and the requests the traffic generator sent. Pure data: the
//! monitor and the generator produce [`Observation`]s, [`LiveState::apply`]
//! folds them in, and the UI and the CLI read the result. Times are
//! milliseconds since the Unix epoch, so scripted sequences test it exactly.
//!
//! `observation.rs` holds what the lab reports (and the health words for
//! it), `trace.rs` one request and the paths it may take, `series.rs` the
//! per-second history and the latency histogram; this file the reducer.

mod observation;
mod series;
mod trace;

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::model::{ComponentId, ComponentKind, HostName, Subject};

pub use observation::{
    BackendStatus, ERRORS_DEGRADED, ERRORS_FAILING, Health, LAG_DEGRADED_S, LAG_DEGRADED_TX,
    Observation, P95_FAILING_MS, P95_SLOW_MS, ReplicaStatus, RunState, edge_health, latency_health,
};
pub use series::{Bucket, HISTORY_SECONDS, Histogram, Series};
pub use trace::{EdgeKey, Endpoint, Outcome, OwnRead, RequestTrace, check_path};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// The current time as [`Millis`].
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Transitions kept in the timeline.
const TIMELINE_LEN: usize = 2000;

/// Requests kept for the canvas to animate.
const RECENT_LEN: usize = 512;

/// How long after a container died a backend going DOWN is told as its
/// consequence.
const CAUSE_WINDOW_MS: Millis = 30_000;

/// How a request's error starts when its client could not resolve the
/// site's name (the lab's DNS): it was never sent.
pub const DNS_ERROR: &str = "DNS:";

/// What the traffic generator has done so far.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Requests finished.
    pub sent: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Failed (no answer, or not 2xx).
    pub failed: u64,
    /// Writes acknowledged.
    pub writes_ok: u64,
    /// Read-your-writes probes answered.
    pub probes: u64,
    /// Of them, stale (the client's own write missing).
    pub stale: u64,
    /// Latency of every finished request.
    pub latency: Histogram,
    /// Requests per web host that served them.
    pub by_web: BTreeMap<HostName, u64>,
    /// Requests per database host that answered them.
    pub by_db: BTreeMap<HostName, u64>,
    /// Requests per release that answered them (`X-Topolab-Version`).
    pub by_version: BTreeMap<String, u64>,
    /// Answered requests per entry point they went to.
    pub by_entry: BTreeMap<HostName, u64>,
    /// Failed requests whose client could not resolve the site's name
    /// (never sent).
    pub dns_failed: u64,
    /// The first and last request's finish time.
    pub span: Option<(Millis, Millis)>,
}

/// A transition in the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// When it happened.
    pub at: Millis,
    /// What it concerns, if one node.
    pub subject: Option<Subject>,
    /// Its health after the transition.
    pub health: Option<Health>,
    /// What happened, in words.
    pub text: String,
}

/// A component's live health, with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeHealth {
    /// Its health.
    pub health: Health,
    /// Why, in words ("lb-01 sees web-01 DOWN: L4CON Connection refused").
    pub reason: String,
}

#[derive(Clone, Debug)]
struct BackendView {
    status: BackendStatus,
    check: String,
    since: Millis,
    rate: u64,
    requests: u64,
    errors: u64,
}

/// The live state of one lab.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    containers: HashMap<(HostName, Option<ComponentKind>), (RunState, Millis)>,
    /// (lb, server) -> view.
    backends: BTreeMap<(HostName, HostName), BackendView>,
    unreadable_lbs: BTreeMap<HostName, String>,
    replication: BTreeMap<HostName, (Result<ReplicaStatus, String>, Millis)>,
    /// What each DNS server answers for the site's name.
    dns_answers: BTreeMap<HostName, Result<Vec<String>, String>>,
    /// The member holding each virtual IP, or why none answers there.
    vip_holders: BTreeMap<u8, Result<HostName, String>>,
    resources: HashMap<(HostName, Option<ComponentKind>), (f32, u64)>,
    nodes: HashMap<ComponentId, Series>,
    edges: HashMap<EdgeKey, Series>,
    /// Answered read-your-writes probes per second (as requests) and the
    /// stale ones among them.
    probes: Series,
    /// Requests per second per release that answered them.
    versions: BTreeMap<String, Series>,
    /// The release each app host answered with last.
    app_versions: BTreeMap<HostName, String>,
    timeline: VecDeque<Transition>,
    recent: VecDeque<RequestTrace>,
    /// Requests since the last [`LiveState::take_recent`].
    fresh: usize,
    totals: Totals,
    /// Revision: bumps when something the canvas shows changes.
    revision: u64,
    /// The second the last [`LiveState::tick`] closed up to.
    ticked: Option<u64>,
}

impl LiveState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bumps on every change a view would show.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Folds in one observation.
    pub fn apply(&mut self, observation: Observation) {
        self.revision += 1;
        match observation {
            Observation::Container {
                host,
                kind,
                state,
                at,
            } => self.on_container(host, kind, state, at),
            Observation::Backend {
                lb,
                server,
                status,
                check,
                at,
            } => self.on_backend(lb, server, status, check, at),
            Observation::BackendLoad {
                lb,
                server,
                rate,
                requests,
                errors,
            } => {
                if let Some(v) = self.backends.get_mut(&(lb, server)) {
                    v.rate = rate;
                    v.requests = requests;
                    v.errors = errors;
                }
            }
            Observation::LbUnreadable { lb, why, at } => {
                if self.unreadable_lbs.get(&lb) != Some(&why) {
                    self.push(Transition {
                        at,
                        subject: Some(Subject::Component(ComponentId::new(&lb, ComponentKind::Lb))),
                        health: None,
                        text: format!("cannot read {lb}'s backend states: {why}"),
                    });
                    self.unreadable_lbs.insert(lb, why);
                }
            }
            Observation::Replication { host, status, at } => self.on_replica(host, status, at),
            Observation::VipHolder { vip, holder, at } => {
                let was = self.vip_holders.insert(vip, holder.clone());
                if let Some(was) = was
                    && was != holder
                {
                    let (subject, text) = match &holder {
                        Ok(h) => (
                            Some(Subject::Component(ComponentId::new(h, ComponentKind::Lb))),
                            format!("vip .{vip} moved to {h}"),
                        ),
                        Err(why) => (None, format!("vip .{vip} does not answer: {why}")),
                    };
                    self.push(Transition {
                        at,
                        subject,
                        health: None,
                        text,
                    });
                }
            }
            Observation::DnsAnswer { host, answer, at } => {
                let was = self.dns_answers.insert(host.clone(), answer.clone());
                // The first answer is the lab's start, not news.
                if let Some(was) = was
                    && was != answer
                {
                    let text = match &answer {
                        Ok(entries) => format!("{host}/dns answers {}", entries.join(", ")),
                        Err(why) => format!("{host}/dns gives no answer: {why}"),
                    };
                    self.push(Transition {
                        at,
                        subject: Some(Subject::Component(ComponentId::new(
                            &host,
                            ComponentKind::Dns,
                        ))),
                        health: None,
                        text,
                    });
                }
            }
            Observation::Resources {
                host,
                kind,
                cpu_percent,
                memory_bytes,
            } => {
                self.resources
                    .insert((host, kind), (cpu_percent, memory_bytes));
            }
            Observation::Requests(traces) => {
                for t in traces {
                    self.request(t);
                }
            }
            Observation::Note { at, text } => self.push(Transition {
                at,
                subject: None,
                health: None,
                text,
            }),
        }
    }

    fn push(&mut self, t: Transition) {
        // Keep the timeline in time order: events from different sources
        // can arrive slightly out of order.
        let at = self.timeline.partition_point(|x| x.at <= t.at);
        self.timeline.insert(at, t);
        while self.timeline.len() > TIMELINE_LEN {
            self.timeline.pop_front();
        }
    }

    fn on_container(
        &mut self,
        host: HostName,
        kind: Option<ComponentKind>,
        state: RunState,
        at: Millis,
    ) {
        let key = (host.clone(), kind);
        if self.containers.get(&key).is_some_and(|(s, _)| *s == state) {
            return;
        }
        let first = !self.containers.contains_key(&key);
        self.containers.insert(key, (state.clone(), at));
        if first && state == RunState::Running {
            // The initial snapshot of a running lab is not news.
            return;
        }
        let (subject, what) = match kind {
            Some(k) => (
                Subject::Component(ComponentId::new(&host, k)),
                format!("{host}/{k} ({})", k.program()),
            ),
            None => (Subject::Host(host.clone()), format!("{host}'s holder")),
        };
        let health = match state {
            RunState::Running => Health::Up,
            RunState::Paused => Health::Paused,
            RunState::Restarting | RunState::Created => Health::Degraded,
            RunState::Exited(_) | RunState::Removed | RunState::Unreachable => Health::Down,
        };
        self.push(Transition {
            at,
            subject: Some(subject),
            health: Some(health),
            text: format!("{what} {state}"),
        });
    }

    /// The most recent container death on `host` within the window before `at`.
    fn cause(&self, host: &HostName, at: Millis) -> Option<(String, Millis)> {
        self.containers
            .iter()
            .filter(|((h, _), (state, when))| {
                h == host
                    && matches!(
                        state,
                        RunState::Exited(_)
                            | RunState::Removed
                            | RunState::Paused
                            | RunState::Unreachable
                    )
                    && *when <= at
                    && at - *when <= CAUSE_WINDOW_MS
            })
            .max_by_key(|(_, (_, when))| *when)
            .map(|((_, kind), (state, when))| {
                let what = match kind {
                    Some(k) => format!("its {}", k.program()),
                    None => "its host".to_owned(),
                };
                let verb = match state {
                    RunState::Paused => "froze",
                    RunState::Unreachable => "became unreachable",
                    _ => "died",
                };
                (format!("{what} {verb}"), *when)
            })
    }

    fn on_backend(
        &mut self,
        lb: HostName,
        server: HostName,
        status: BackendStatus,
        check: String,
        at: Millis,
    ) {
        self.unreadable_lbs.remove(&lb);
        let key = (lb.clone(), server.clone());
        let previous = self.backends.get(&key).map(|v| v.status.clone());
        if previous.as_ref() == Some(&status) {
            if let Some(v) = self.backends.get_mut(&key) {
                v.check = check;
            }
            return;
        }
        let (rate, requests, errors) = self
            .backends
            .get(&key)
            .map_or((0, 0, 0), |v| (v.rate, v.requests, v.errors));
        self.backends.insert(
            key,
            BackendView {
                status: status.clone(),
                check: check.clone(),
                since: at,
                rate,
                requests,
                errors,
            },
        );
        if previous.is_none() && status == BackendStatus::Up {
            return;
        }
        let mut text = match status {
            BackendStatus::Down => format!("{lb} marked {server} DOWN"),
            BackendStatus::Up => format!("{lb} marked {server} UP"),
            BackendStatus::GoingDown => format!("{lb}'s checks of {server} fail (going down)"),
            BackendStatus::GoingUp => format!("{lb}'s checks of {server} pass (going up)"),
            BackendStatus::Maintenance => format!("{lb} put {server} in maintenance"),
            BackendStatus::Drain => format!("{lb} drains {server}"),
            ref other => format!("{lb} sees {server} {other}"),
        };
        if !check.is_empty() && status != BackendStatus::Maintenance {
            text.push_str(&format!(": {check}"));
        }
        if matches!(status, BackendStatus::Down | BackendStatus::GoingDown)
            && let Some((cause, when)) = self.cause(&server, at)
        {
            text.push_str(&format!(
                ", {:.1} s after {cause}",
                (at - when) as f64 / 1000.0
            ));
        }
        self.push(Transition {
            at,
            subject: Some(Subject::Component(ComponentId::new(
                &server,
                ComponentKind::Nginx,
            ))),
            health: Some(status.health()),
            text,
        });
    }

    fn on_replica(&mut self, host: HostName, status: Result<ReplicaStatus, String>, at: Millis) {
        let previous = self.replication.get(&host).map(|(s, _)| s.clone());
        let health_of = |s: &Result<ReplicaStatus, String>| match s {
            Ok(r) => r.health(),
            Err(e) => (Health::Unknown, format!("replication unreadable: {e}")),
        };
        let (health, reason) = health_of(&status);
        let changed = match &previous {
            None => health != Health::Up,
            Some(p) => {
                let (ph, _) = health_of(p);
                let threads = |s: &Result<ReplicaStatus, String>| {
                    s.as_ref()
                        .map(|r| (r.io.clone(), r.sql.clone(), r.last_error.clone()))
                        .ok()
                };
                ph != health || threads(p) != threads(&status)
            }
        };
        self.replication.insert(host.clone(), (status, at));
        if changed {
            self.push(Transition {
                at,
                subject: Some(Subject::Component(ComponentId::new(
                    &host,
                    ComponentKind::Db,
                ))),
                health: Some(health),
                text: format!("{host}/db: {reason}"),
            });
        }
    }

    fn request(&mut self, t: RequestTrace) {
        let ok = t.ok();
        let done = t.done();
        let totals = &mut self.totals;
        totals.sent += 1;
        if ok {
            totals.ok += 1;
            if t.write {
                totals.writes_ok += 1;
            }
        } else {
            totals.failed += 1;
        }
        totals.latency.add(t.latency_ms);
        if t.status.is_some() {
            *totals.by_entry.entry(t.entry.clone()).or_default() += 1;
        }
        if t.error.as_deref().is_some_and(|e| e.starts_with(DNS_ERROR)) {
            totals.dns_failed += 1;
        }
        if let Some(w) = &t.web {
            *totals.by_web.entry(w.clone()).or_default() += 1;
        }
        if let Some(d) = &t.db {
            *totals.by_db.entry(d.clone()).or_default() += 1;
        }
        if let Some(v) = &t.version {
            *totals.by_version.entry(v.clone()).or_default() += 1;
            if !self.versions.contains_key(v) {
                self.versions.insert(v.clone(), Series::default());
            }
            if let Some(series) = self.versions.get_mut(v) {
                series.record(done, ok, None);
            }
            if let Some(app) = &t.app
                && self.app_versions.get(app) != Some(v)
            {
                self.app_versions.insert(app.clone(), v.clone());
            }
        }
        totals.span = Some(match totals.span {
            None => (done, done),
            Some((a, b)) => (a.min(done), b.max(done)),
        });
        if t.own.is_some() && ok {
            let stale = t.stale();
            totals.probes += 1;
            self.probes.record(done, true, None);
            if stale {
                totals.stale += 1;
                self.probes.record_stale(done);
                if let Some(db) = &t.db {
                    self.nodes
                        .entry(ComponentId::new(db, ComponentKind::Db))
                        .or_default()
                        .record_stale(done);
                }
            }
        }
        // Per node and per edge: the request counts as an error on every
        // hop it went through (each of them returned the failure).
        let path = t.path();
        let latency_at = |kind: ComponentKind| match kind {
            ComponentKind::Lb | ComponentKind::Nginx => Some(t.latency_ms),
            ComponentKind::App => t.app_ms,
            ComponentKind::Db => t.db_ms,
            // Clients ask it before a request; no request passes through it.
            ComponentKind::Dns => None,
        };
        for id in &path {
            self.nodes
                .entry(id.clone())
                .or_default()
                .record(done, ok, latency_at(id.kind));
        }
        let mut from = Endpoint::Client;
        for id in &path {
            let to = Endpoint::Component(id.clone());
            self.edges
                .entry((from, to.clone()))
                .or_default()
                .record(done, ok, latency_at(id.kind));
            from = to;
        }
        if path.is_empty() {
            // No answer at all: an error on the way to the entry point, or
            // to the DNS server that could not tell where it is.
            let kind = if t.error.as_deref().is_some_and(|e| e.starts_with(DNS_ERROR)) {
                ComponentKind::Dns
            } else {
                ComponentKind::Lb
            };
            let to = Endpoint::Component(ComponentId::new(&t.entry, kind));
            self.edges
                .entry((Endpoint::Client, to))
                .or_default()
                .record(done, false, Some(t.latency_ms));
        }
        self.recent.push_back(t);
        self.fresh += 1;
        while self.recent.len() > RECENT_LEN {
            self.recent.pop_front();
        }
    }

    /// Closes every second before `now`'s previous one (the last second
    /// stays open for late answers); call it about once a second.
    pub fn tick(&mut self, now: Millis) {
        let second = (now / 1000).saturating_sub(1);
        // Called every frame: only a new second has anything to close.
        if self.ticked == Some(second) {
            return;
        }
        self.ticked = Some(second);
        let empty = Bucket::default();
        let mut gauges: HashMap<ComponentId, Bucket> = HashMap::new();
        for ((host, kind), (cpu, mem)) in &self.resources {
            if let Some(k) = kind {
                let g = gauges.entry(ComponentId::new(host, *k)).or_default();
                g.cpu_percent = Some(*cpu);
                g.memory_bytes = Some(*mem);
            }
        }
        for (host, (status, _)) in &self.replication {
            if let Ok(r) = status {
                let g = gauges
                    .entry(ComponentId::new(host, ComponentKind::Db))
                    .or_default();
                g.lag_seconds = r.lag_seconds;
                g.lag_transactions = r.lag_transactions;
            }
        }
        // Components with gauges get a history even without traffic.
        for id in gauges.keys() {
            self.nodes.entry(id.clone()).or_default();
        }
        for (id, series) in &mut self.nodes {
            series.close_before(second, gauges.get(id).unwrap_or(&empty));
        }
        for series in self.edges.values_mut() {
            series.close_before(second, &empty);
        }
        if self.totals.probes > 0 {
            self.probes.close_before(second, &empty);
        }
        for series in self.versions.values_mut() {
            series.close_before(second, &empty);
        }
    }

    /// The health of a component, with the reason: its container as Docker
    /// reports it, then the load balancers' view of it (web servers) or its
    /// replication (replicas).
    pub fn node_health(&self, id: &ComponentId) -> NodeHealth {
        let holder = self.containers.get(&(id.host.clone(), None));
        let own = self.containers.get(&(id.host.clone(), Some(id.kind)));
        let Some((state, _)) = own else {
            return NodeHealth {
                health: Health::Unknown,
                reason: "no report from the lab yet".to_owned(),
            };
        };
        if let Some((hs, _)) = holder
            && *hs != RunState::Running
            && *hs != RunState::Paused
        {
            return NodeHealth {
                health: Health::Down,
                reason: format!("its host is down: the holder is {hs}"),
            };
        }
        match state {
            RunState::Running => {}
            RunState::Paused => {
                return NodeHealth {
                    health: Health::Paused,
                    reason: "container paused (frozen)".to_owned(),
                };
            }
            other => {
                return NodeHealth {
                    health: if *other == RunState::Restarting {
                        Health::Degraded
                    } else {
                        Health::Down
                    },
                    reason: format!("container {other}"),
                };
            }
        }
        if let Some((RunState::Paused, _)) = holder {
            return NodeHealth {
                health: Health::Paused,
                reason: "its host is paused".to_owned(),
            };
        }
        match id.kind {
            ComponentKind::Nginx => {
                // The worst view any load balancer has of it.
                let worst = self
                    .backends
                    .iter()
                    .filter(|((_, server), _)| *server == id.host)
                    .max_by_key(|(_, v)| (v.status.health() != Health::Up, v.status.health()));
                if let Some(((lb, _), v)) = worst {
                    let health = v.status.health();
                    let mut reason = format!("{lb} sees {} {}", id.host, v.status);
                    if health != Health::Up && !v.check.is_empty() {
                        reason.push_str(&format!(": {}", v.check));
                    }
                    return NodeHealth { health, reason };
                }
            }
            ComponentKind::Db => {
                if let Some((status, _)) = self.replication.get(&id.host) {
                    let (health, reason) = match status {
                        Ok(r) => r.health(),
                        Err(e) => (Health::Unknown, format!("replication unreadable: {e}")),
                    };
                    return NodeHealth { health, reason };
                }
            }
            ComponentKind::Lb => {
                if let Some(why) = self.unreadable_lbs.get(&id.host) {
                    return NodeHealth {
                        health: Health::Degraded,
                        reason: format!("running; its runtime API does not answer: {why}"),
                    };
                }
            }
            ComponentKind::Dns => match self.dns_answers.get(&id.host) {
                Some(Ok(entries)) => {
                    return NodeHealth {
                        health: Health::Up,
                        reason: format!("answers {}", entries.join(", ")),
                    };
                }
                Some(Err(why)) => {
                    return NodeHealth {
                        health: Health::Degraded,
                        reason: format!("running; gives no answer: {why}"),
                    };
                }
                None => {}
            },
            ComponentKind::App => {}
        }
        NodeHealth {
            health: Health::Up,
            reason: "running".to_owned(),
        }
    }

    /// The state a load balancer reports for a server, with its last check
    /// and since when.
    pub fn backend(
        &self,
        lb: &HostName,
        server: &HostName,
    ) -> Option<(&BackendStatus, &str, Millis)> {
        self.backends
            .get(&(lb.clone(), server.clone()))
            .map(|v| (&v.status, v.check.as_str(), v.since))
    }

    /// HAProxy's own counters for a server: (sessions/s, requests, errors).
    pub fn backend_load(&self, lb: &HostName, server: &HostName) -> Option<(u64, u64, u64)> {
        self.backends
            .get(&(lb.clone(), server.clone()))
            .map(|v| (v.rate, v.requests, v.errors))
    }

    /// Every (load balancer, server) pair seen.
    pub fn backends(&self) -> impl Iterator<Item = (&HostName, &HostName, &BackendStatus)> {
        self.backends
            .iter()
            .map(|((lb, server), v)| (lb, server, &v.status))
    }

    /// A replica's last report.
    pub fn replication(&self, host: &HostName) -> Option<&Result<ReplicaStatus, String>> {
        self.replication.get(host).map(|(s, _)| s)
    }

    /// What DNS server `host` answers for the site's name: the entry
    /// points it names, or why it gave none.
    pub fn dns_answer(&self, host: &HostName) -> Option<&Result<Vec<String>, String>> {
        self.dns_answers.get(host)
    }

    /// The load balancer holding virtual IP `.vip`, or why none answers
    /// there (`None`: not asked yet).
    pub fn vip_holder(&self, vip: u8) -> Option<&Result<HostName, String>> {
        self.vip_holders.get(&vip)
    }

    /// A container's state.
    pub fn container(&self, host: &HostName, kind: Option<ComponentKind>) -> Option<&RunState> {
        self.containers.get(&(host.clone(), kind)).map(|(s, _)| s)
    }

    /// A container's CPU (percent of one core) and memory (bytes).
    pub fn resources(&self, host: &HostName, kind: Option<ComponentKind>) -> Option<(f32, u64)> {
        self.resources.get(&(host.clone(), kind)).copied()
    }

    /// Each host's components together: (CPU in percent of one core,
    /// memory in bytes), for the hosts with a reading.
    pub fn host_resources(&self) -> HashMap<&HostName, (f32, u64)> {
        let mut totals: HashMap<&HostName, (f32, u64)> = HashMap::new();
        for ((host, kind), (cpu, mem)) in &self.resources {
            if kind.is_some() {
                let t = totals.entry(host).or_default();
                t.0 += cpu;
                t.1 += mem;
            }
        }
        totals
    }

    /// A component's history.
    pub fn node_series(&self, id: &ComponentId) -> Option<&Series> {
        self.nodes.get(id)
    }

    /// Read-your-writes probes per second: `requests` answered, of which
    /// `stale_reads` missed the client's own write.
    pub fn probe_series(&self) -> &Series {
        &self.probes
    }

    /// Requests per second per release that answered them, by release:
    /// their shares show the mixed-version window of a rolling deploy.
    pub fn version_series(&self) -> &BTreeMap<String, Series> {
        &self.versions
    }

    /// The release `app_host` answered with last (from the requests seen).
    pub fn app_version(&self, app_host: &HostName) -> Option<&str> {
        self.app_versions.get(app_host).map(String::as_str)
    }

    /// An edge's history.
    pub fn edge_series(&self, from: &Endpoint, to: &Endpoint) -> Option<&Series> {
        self.edges.get(&(from.clone(), to.clone()))
    }

    /// Every edge requests went along.
    pub fn edges(&self) -> impl Iterator<Item = (&EdgeKey, &Series)> {
        self.edges.iter()
    }

    /// The timeline of transitions, oldest first.
    pub fn timeline(&self) -> impl DoubleEndedIterator<Item = &Transition> {
        self.timeline.iter()
    }

    /// The traffic generator's totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Requests finished since the last call (at most the last 512), for
    /// the canvas to animate.
    pub fn take_recent(&mut self) -> impl Iterator<Item = &RequestTrace> {
        let fresh = std::mem::take(&mut self.fresh).min(self.recent.len());
        let skip = self.recent.len() - fresh;
        self.recent.iter().skip(skip)
    }

    /// Forgets the traffic totals (a new traffic run starts).
    pub fn reset_totals(&mut self) {
        self.totals = Totals::default();
        self.revision += 1;
    }
}

#[cfg(test)]
mod tests;
