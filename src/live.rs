//! The live state of a running lab, as the lab itself reports it: container
//! states from Docker, backend states from HAProxy, replication from each
//! replica, and the requests the traffic generator sent. Pure data: the
//! monitor and the generator produce [`Observation`]s, [`LiveState::apply`]
//! folds them in, and the UI and the CLI read the result. Times are
//! milliseconds since the Unix epoch, so scripted sequences test it exactly.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use crate::model::{ComponentId, ComponentKind, HostName, Subject, Topology};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// The current time as [`Millis`].
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds of history kept per node and per edge.
pub const HISTORY_SECONDS: usize = 300;

/// Transitions kept in the timeline.
const TIMELINE_LEN: usize = 2000;

/// Requests kept for the canvas to animate.
const RECENT_LEN: usize = 512;

/// How long after a container died a backend going DOWN is told as its
/// consequence.
const CAUSE_WINDOW_MS: Millis = 30_000;

/// A replica this far behind (seconds) is degraded.
pub const LAG_DEGRADED_S: u64 = 1;
/// A replica this many transactions behind is degraded (fewer are the
/// writes in flight between reading the two positions).
pub const LAG_DEGRADED_TX: u64 = 10;

/// Error ratio from which an edge is degraded (0.1%).
pub const ERRORS_DEGRADED: f64 = 0.001;
/// Error ratio above which an edge is failing (10%).
pub const ERRORS_FAILING: f64 = 0.10;

/// How a node or an edge is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Working.
    Up,
    /// Working, but something is off (lagging, coming back, some errors).
    Degraded,
    /// Not working.
    Down,
    /// Frozen (`docker pause`).
    Paused,
    /// Taken out on purpose (HAProxy maintenance or drain).
    Maintenance,
    /// Nothing reported yet.
    Unknown,
}

impl Health {
    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Paused => "paused",
            Self::Maintenance => "maintenance",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The health of an edge carrying `requests` of which `errors` failed.
pub fn edge_health(requests: u64, errors: u64) -> Health {
    if requests == 0 {
        return Health::Unknown;
    }
    let ratio = errors as f64 / requests as f64;
    if ratio > ERRORS_FAILING {
        Health::Down
    } else if ratio >= ERRORS_DEGRADED {
        Health::Degraded
    } else {
        Health::Up
    }
}

/// A container's state, as Docker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted.
    Restarting,
    /// Stopped, with its exit code.
    Exited(i64),
    /// Removed.
    Removed,
}

impl RunState {
    /// From the state word in a container listing (`running`, `exited`, ...).
    pub fn from_docker(state: &str, exit_code: i64) -> Self {
        match state {
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "created" => Self::Created,
            "removing" | "removed" => Self::Removed,
            _ => Self::Exited(exit_code),
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Running => f.write_str("running"),
            Self::Paused => f.write_str("paused"),
            Self::Restarting => f.write_str("restarting"),
            Self::Exited(137) => f.write_str("killed (exit 137)"),
            Self::Exited(code) => write!(f, "exited ({code})"),
            Self::Removed => f.write_str("removed"),
        }
    }
}

/// A server's state as a load balancer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendStatus {
    /// In rotation.
    Up,
    /// Out of rotation.
    Down,
    /// Up, but its last checks failed: DOWN after a few more.
    GoingDown,
    /// Down, but its last checks passed: UP after a few more.
    GoingUp,
    /// Taken out by an operator.
    Maintenance,
    /// Takes no new sessions (an operator drains it).
    Drain,
    /// Not checked.
    NoCheck,
    /// Anything else HAProxy says.
    Other(String),
}

impl BackendStatus {
    /// Parses the `status` column of HAProxy's `show stat`: `UP`, `DOWN`,
    /// `UP 1/2` (going down), `DOWN 1/2` (going up), `MAINT`, `DRAIN`, ...
    pub fn parse(status: &str) -> Self {
        let s = status.trim();
        let word = s.split([' ', '(']).next().unwrap_or("");
        let transitional = s.contains('/');
        match word {
            "UP" if transitional => Self::GoingDown,
            "UP" | "OPEN" => Self::Up,
            "DOWN" if transitional => Self::GoingUp,
            "DOWN" => Self::Down,
            "NOLB" => Self::GoingDown,
            "MAINT" => Self::Maintenance,
            "DRAIN" => Self::Drain,
            "no" => Self::NoCheck,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The health it gives the server.
    pub fn health(&self) -> Health {
        match self {
            Self::Up | Self::NoCheck => Health::Up,
            Self::Down => Health::Down,
            Self::GoingDown | Self::GoingUp | Self::Other(_) => Health::Degraded,
            Self::Maintenance | Self::Drain => Health::Maintenance,
        }
    }
}

impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Up => f.write_str("UP"),
            Self::Down => f.write_str("DOWN"),
            Self::GoingDown => f.write_str("UP, going down"),
            Self::GoingUp => f.write_str("DOWN, going up"),
            Self::Maintenance => f.write_str("MAINT"),
            Self::Drain => f.write_str("DRAIN"),
            Self::NoCheck => f.write_str("UP (not checked)"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

/// A replica's replication, as the replica reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The IO thread: `Yes`, `Connecting` or `No`.
    pub io: String,
    /// The SQL thread: `Yes` or `No`.
    pub sql: String,
    /// `Seconds_Behind_Master`; `None` (NULL) once replication stopped.
    pub lag_seconds: Option<u64>,
    /// Transactions the primary has that the replica has not applied.
    pub lag_transactions: Option<u64>,
    /// The primary's GTID position (`@@gtid_binlog_pos`).
    pub primary_gtid: Option<String>,
    /// The replica's applied GTID position.
    pub replica_gtid: Option<String>,
    /// The last IO or SQL error, if any.
    pub last_error: Option<String>,
    /// The host it replicates from.
    pub source: Option<HostName>,
    /// Whether replication is configured at all (`SHOW SLAVE STATUS` has a row).
    pub replicating: bool,
    /// Whether the server takes writes (`@@read_only` is off).
    pub writable: bool,
}

impl ReplicaStatus {
    /// Both threads run.
    pub fn running(&self) -> bool {
        self.io == "Yes" && self.sql == "Yes"
    }

    /// The health it gives the database, with the reason.
    pub fn health(&self) -> (Health, String) {
        if !self.replicating {
            return if self.writable {
                (
                    Health::Up,
                    "primary: writable, replicates from no one".to_owned(),
                )
            } else {
                (
                    Health::Degraded,
                    "read-only and not replicating: out of service".to_owned(),
                )
            };
        }
        if self.sql != "Yes" {
            return (
                Health::Down,
                format!(
                    "replication SQL thread stopped{}",
                    self.last_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            );
        }
        match self.io.as_str() {
            "Yes" => {}
            "Connecting" => {
                return (
                    Health::Degraded,
                    format!(
                        "replication IO thread connecting{}",
                        self.last_error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                );
            }
            _ => {
                return (
                    Health::Degraded,
                    "replication IO thread stopped: new transactions do not arrive".to_owned(),
                );
            }
        }
        let lag = self.lag_seconds.unwrap_or(0);
        let tx = self.lag_transactions.unwrap_or(0);
        if lag >= LAG_DEGRADED_S || tx >= LAG_DEGRADED_TX {
            (Health::Degraded, format!("replica lag {}", self.lag_text()))
        } else {
            (Health::Up, format!("replicating, lag {}", self.lag_text()))
        }
    }

    /// "0 s, 0 transactions" or "unknown (replication stopped)".
    pub fn lag_text(&self) -> String {
        let secs = self
            .lag_seconds
            .map_or_else(|| "? s".to_owned(), |s| format!("{s} s"));
        let tx = self
            .lag_transactions
            .map_or_else(|| "? transactions".to_owned(), |t| format!("{t} tx"));
        format!("{secs}, {tx}")
    }
}

/// What one request did, as the traffic generator saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestTrace {
    /// When it was sent.
    pub at: Millis,
    /// A write (`POST /api/items`) or a read (`GET /`).
    pub write: bool,
    /// The entry point it was sent to.
    pub entry: HostName,
    /// HTTP status, or `None` when no response came.
    pub status: Option<u16>,
    /// Why it failed without a response.
    pub error: Option<String>,
    /// Client-side latency, milliseconds.
    pub latency_ms: f32,
    /// `X-Topolab-Lb`.
    pub lb: Option<HostName>,
    /// `X-Topolab-Web`.
    pub web: Option<HostName>,
    /// `X-Topolab-App` (its host).
    pub app: Option<HostName>,
    /// `X-Topolab-Db` (its host).
    pub db: Option<HostName>,
    /// Time in the app server (`Server-Timing: app`).
    pub app_ms: Option<f32>,
    /// Time in the database (`Server-Timing: db`).
    pub db_ms: Option<f32>,
    /// For a write, the value it wrote: unique to it, so the data can be
    /// checked for it (ids are not: a promoted primary reuses them).
    pub written: Option<String>,
}

impl RequestTrace {
    /// A request sent at `at` to `entry`, before any answer.
    pub fn new(at: Millis, write: bool, entry: HostName) -> Self {
        Self {
            at,
            write,
            entry,
            status: None,
            error: None,
            latency_ms: 0.0,
            lb: None,
            web: None,
            app: None,
            db: None,
            app_ms: None,
            db_ms: None,
            written: None,
        }
    }

    /// A 2xx answer.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The components it went through, in order.
    pub fn path(&self) -> Vec<ComponentId> {
        let mut out = Vec::new();
        if let Some(h) = &self.lb {
            out.push(ComponentId::new(h, ComponentKind::Lb));
        }
        if let Some(h) = &self.web {
            out.push(ComponentId::new(h, ComponentKind::Nginx));
        }
        if let Some(h) = &self.app {
            out.push(ComponentId::new(h, ComponentKind::App));
        }
        if let Some(h) = &self.db {
            out.push(ComponentId::new(h, ComponentKind::Db));
        }
        out
    }

    /// When it finished.
    pub fn done(&self) -> Millis {
        self.at + self.latency_ms.max(0.0) as Millis
    }
}

/// One end of an edge: the traffic generator or a component.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// The clients (the traffic generator).
    Client,
    /// A component.
    Component(ComponentId),
}

/// A link requests travel along.
pub type EdgeKey = (Endpoint, Endpoint);

/// What the monitor and the traffic generator report.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A container's state changed (or was first seen).
    Container {
        /// Its host.
        host: HostName,
        /// The component, or `None` for the host's holder.
        kind: Option<ComponentKind>,
        /// Its state.
        state: RunState,
        /// When (Docker's own timestamp for events).
        at: Millis,
    },
    /// A load balancer's view of a server changed.
    Backend {
        /// The load balancer's host.
        lb: HostName,
        /// The server's host.
        server: HostName,
        /// Its state.
        status: BackendStatus,
        /// The last health check's result, e.g. `L4CON Connection refused`.
        check: String,
        /// When the monitor saw it.
        at: Millis,
    },
    /// A load balancer's counters for a server (sent about once a second).
    BackendLoad {
        /// The load balancer's host.
        lb: HostName,
        /// The server's host.
        server: HostName,
        /// Sessions per second over the last second, as HAProxy counts.
        rate: u64,
        /// Requests so far.
        requests: u64,
        /// Failed requests so far (connection and response errors, 5xx).
        errors: u64,
    },
    /// A load balancer's runtime API could not be read.
    LbUnreadable {
        /// The load balancer's host.
        lb: HostName,
        /// Why.
        why: String,
        /// When.
        at: Millis,
    },
    /// A replica's replication changed.
    Replication {
        /// The replica's host.
        host: HostName,
        /// What it reports; `Err` when it could not be asked.
        status: Result<ReplicaStatus, String>,
        /// When.
        at: Millis,
    },
    /// CPU and memory of a container (from Docker's stats stream).
    Resources {
        /// Its host.
        host: HostName,
        /// The component, or `None` for the holder.
        kind: Option<ComponentKind>,
        /// CPU, percent of one core.
        cpu_percent: f32,
        /// Memory in use, bytes.
        memory_bytes: u64,
    },
    /// Requests the traffic generator finished.
    Requests(Vec<RequestTrace>),
    /// Something to note in the timeline (traffic started, ...).
    Note {
        /// When.
        at: Millis,
        /// What.
        text: String,
    },
}

/// One second of a node's or an edge's history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bucket {
    /// Seconds since the Unix epoch.
    pub second: u64,
    /// Requests finished in that second.
    pub requests: u32,
    /// Of which failed.
    pub errors: u32,
    /// Latency median, milliseconds.
    pub p50_ms: Option<f32>,
    /// Latency 95th percentile, milliseconds.
    pub p95_ms: Option<f32>,
    /// Replication lag at the end of the second (replicas).
    pub lag_seconds: Option<u64>,
    /// Replication lag in transactions.
    pub lag_transactions: Option<u64>,
    /// CPU, percent of one core.
    pub cpu_percent: Option<f32>,
    /// Memory, bytes.
    pub memory_bytes: Option<u64>,
}

/// Per-second history: complete seconds, plus the seconds still open for
/// late requests.
#[derive(Clone, Debug, Default)]
pub struct Series {
    closed: VecDeque<Bucket>,
    open: BTreeMap<u64, (u32, u32, Vec<f32>)>,
}

impl Series {
    fn record(&mut self, done: Millis, ok: bool, latency_ms: Option<f32>) {
        let second = done / 1000;
        if self.closed.back().is_some_and(|b| b.second >= second) {
            // Too late for its second: counted in the totals only.
            return;
        }
        let entry = self.open.entry(second).or_default();
        entry.0 += 1;
        if !ok {
            entry.1 += 1;
        }
        if let Some(l) = latency_ms {
            entry.2.push(l);
        }
    }

    /// Closes every second before `second`, filling quiet seconds with zeros;
    /// `gauges` fills the gauge fields of each closed bucket.
    fn close_before(&mut self, second: u64, gauges: &Bucket) {
        let first = self
            .closed
            .back()
            .map(|b| b.second + 1)
            .or_else(|| self.open.keys().next().copied())
            .unwrap_or(second.saturating_sub(1));
        let first = first.max(second.saturating_sub(HISTORY_SECONDS as u64));
        for s in first..second {
            let (requests, errors, mut latencies) = self.open.remove(&s).unwrap_or_default();
            latencies.sort_by(f32::total_cmp);
            self.closed.push_back(Bucket {
                second: s,
                requests,
                errors,
                p50_ms: percentile(&latencies, 0.50),
                p95_ms: percentile(&latencies, 0.95),
                ..gauges.clone()
            });
        }
        self.open.retain(|s, _| *s >= second);
        while self.closed.len() > HISTORY_SECONDS {
            self.closed.pop_front();
        }
    }

    /// Complete seconds, oldest first.
    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = &Bucket> + ExactSizeIterator {
        self.closed.iter()
    }

    /// The last complete second.
    pub fn last(&self) -> Option<&Bucket> {
        self.closed.back()
    }

    /// Requests and errors over the last `n` complete seconds.
    pub fn recent(&self, n: usize) -> (u64, u64) {
        self.closed.iter().rev().take(n).fold((0, 0), |(r, e), b| {
            (r + u64::from(b.requests), e + u64::from(b.errors))
        })
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
fn percentile(sorted: &[f32], q: f64) -> Option<f32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A latency histogram with about 2% precision and fixed memory.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ms: f32,
}

impl Histogram {
    const GROWTH: f64 = 1.02;
    /// 10 microseconds: the smallest latency told apart.
    const FLOOR_MS: f64 = 0.01;

    fn index(ms: f32) -> usize {
        let ms = f64::from(ms).max(Self::FLOOR_MS);
        ((ms / Self::FLOOR_MS).ln() / Self::GROWTH.ln()) as usize
    }

    /// Adds a latency.
    pub fn add(&mut self, ms: f32) {
        let i = Self::index(ms);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// The `q` quantile, milliseconds (the upper end of its bucket).
    pub fn quantile(&self, q: f64) -> Option<f32> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = Self::FLOOR_MS * Self::GROWTH.powi(i as i32 + 1);
                return Some((upper as f32).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest sample.
    pub fn max(&self) -> f32 {
        self.max_ms
    }
}

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
    /// Latency of every finished request.
    pub latency: Histogram,
    /// Requests per web host that served them.
    pub by_web: BTreeMap<HostName, u64>,
    /// Requests per database host that answered them.
    pub by_db: BTreeMap<HostName, u64>,
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
    resources: HashMap<(HostName, Option<ComponentKind>), (f32, u64)>,
    nodes: HashMap<ComponentId, Series>,
    edges: HashMap<EdgeKey, Series>,
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
            RunState::Exited(_) | RunState::Removed => Health::Down,
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
                        RunState::Exited(_) | RunState::Removed | RunState::Paused
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
                let verb = if *state == RunState::Paused {
                    "froze"
                } else {
                    "died"
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
        if let Some(w) = &t.web {
            *totals.by_web.entry(w.clone()).or_default() += 1;
        }
        if let Some(d) = &t.db {
            *totals.by_db.entry(d.clone()).or_default() += 1;
        }
        totals.span = Some(match totals.span {
            None => (done, done),
            Some((a, b)) => (a.min(done), b.max(done)),
        });
        // Per node and per edge: the request counts as an error on every
        // hop it went through (each of them returned the failure).
        let path = t.path();
        let latency_at = |kind: ComponentKind| match kind {
            ComponentKind::Lb | ComponentKind::Nginx => Some(t.latency_ms),
            ComponentKind::App => t.app_ms,
            ComponentKind::Db => t.db_ms,
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
            // No answer at all: an error on the way to the entry point.
            let to = Endpoint::Component(ComponentId::new(&t.entry, ComponentKind::Lb));
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

    /// A container's state.
    pub fn container(&self, host: &HostName, kind: Option<ComponentKind>) -> Option<&RunState> {
        self.containers.get(&(host.clone(), kind)).map(|(s, _)| s)
    }

    /// A container's CPU (percent of one core) and memory (bytes).
    pub fn resources(&self, host: &HostName, kind: Option<ComponentKind>) -> Option<(f32, u64)> {
        self.resources.get(&(host.clone(), kind)).copied()
    }

    /// A component's history.
    pub fn node_series(&self, id: &ComponentId) -> Option<&Series> {
        self.nodes.get(id)
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

/// Whether `trace`'s path is one the topology allows: its load balancer
/// has its web server as a backend, Nginx proxies to the app on the same
/// host, and the database is in the app's replication group. Returns why not.
pub fn check_path(topology: &Topology, trace: &RequestTrace) -> Result<(), String> {
    let web = trace.web.as_ref().ok_or("no X-Topolab-Web header")?;
    if let Some(lb) = &trace.lb {
        let balancer = topology
            .host(lb)
            .and_then(|h| h.load_balancer())
            .ok_or_else(|| format!("{lb} is not a load balancer"))?;
        if !balancer.backends.iter().any(|b| &b.host == web) {
            return Err(format!("{web} is not a backend of {lb}"));
        }
    } else if !topology.entry_points().iter().any(|h| &h.name == web) {
        return Err(format!("{web} answered without a load balancer in front"));
    }
    let app = trace.app.as_ref().ok_or("no X-Topolab-App header")?;
    if app != web {
        return Err(format!("{web}'s Nginx answered from {app}'s app server"));
    }
    let group = topology
        .host(app)
        .and_then(|h| h.app_server())
        .map(|a| a.group.clone())
        .ok_or_else(|| format!("{app} runs no app server"))?;
    if let Some(db) = &trace.db {
        let database = topology
            .host(db)
            .and_then(|h| h.database())
            .ok_or_else(|| format!("{db} runs no database"))?;
        if database.group != group {
            return Err(format!("{db}/db is not in {app}'s replication group"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HostName {
        HostName::new(s)
    }

    fn trace(at: Millis, web: &str, db: &str, status: u16, latency: f32) -> RequestTrace {
        RequestTrace {
            status: Some(status),
            latency_ms: latency,
            lb: Some(h("lb-01")),
            web: Some(h(web)),
            app: Some(h(web)),
            db: Some(h(db)),
            app_ms: Some(latency / 2.0),
            db_ms: Some(latency / 4.0),
            ..RequestTrace::new(at, false, h("lb-01"))
        }
    }

    fn running(l: &mut LiveState, host: &str, kind: Option<ComponentKind>, at: Millis) {
        l.apply(Observation::Container {
            host: h(host),
            kind,
            state: RunState::Running,
            at,
        });
    }

    #[test]
    fn backend_status_words() {
        assert_eq!(BackendStatus::parse("UP"), BackendStatus::Up);
        assert_eq!(BackendStatus::parse("UP 1/2"), BackendStatus::GoingDown);
        assert_eq!(BackendStatus::parse("DOWN 1/2"), BackendStatus::GoingUp);
        assert_eq!(BackendStatus::parse("DOWN"), BackendStatus::Down);
        assert_eq!(BackendStatus::parse("MAINT"), BackendStatus::Maintenance);
        assert_eq!(
            BackendStatus::parse("MAINT (resolution)"),
            BackendStatus::Maintenance
        );
        assert_eq!(BackendStatus::parse("DRAIN"), BackendStatus::Drain);
        assert_eq!(BackendStatus::parse("no check"), BackendStatus::NoCheck);
        assert_eq!(
            BackendStatus::parse("weird"),
            BackendStatus::Other("weird".into())
        );
    }

    #[test]
    fn killed_nginx_then_backend_down_reads_as_cause_and_effect() {
        let mut l = LiveState::new();
        let nginx = ComponentId::new("web-01", ComponentKind::Nginx);
        running(&mut l, "web-01", None, 1_000);
        running(&mut l, "web-01", Some(ComponentKind::Nginx), 1_000);
        l.apply(Observation::Backend {
            lb: h("lb-01"),
            server: h("web-01"),
            status: BackendStatus::Up,
            check: "L7OK/200".into(),
            at: 1_000,
        });
        assert_eq!(l.node_health(&nginx).health, Health::Up);
        // The initial snapshot is not news.
        assert_eq!(l.timeline().count(), 0);

        l.apply(Observation::Container {
            host: h("web-01"),
            kind: Some(ComponentKind::Nginx),
            state: RunState::Exited(137),
            at: 10_000,
        });
        let after_kill = l.node_health(&nginx);
        assert_eq!(after_kill.health, Health::Down);
        assert!(after_kill.reason.contains("137"), "{}", after_kill.reason);

        l.apply(Observation::Backend {
            lb: h("lb-01"),
            server: h("web-01"),
            status: BackendStatus::Down,
            check: "L4CON Connection refused".into(),
            at: 10_600,
        });
        let texts: Vec<&str> = l.timeline().map(|t| t.text.as_str()).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts[0].contains("web-01/nginx (Nginx) killed"),
            "{texts:?}"
        );
        assert_eq!(
            texts[1],
            "lb-01 marked web-01 DOWN: L4CON Connection refused, 0.6 s after its Nginx died"
        );

        // It comes back: the container first, HAProxy after its checks.
        running(&mut l, "web-01", Some(ComponentKind::Nginx), 20_000);
        let h1 = l.node_health(&nginx);
        assert_eq!(h1.health, Health::Down, "HAProxy still has it DOWN");
        assert!(
            h1.reason.contains("lb-01 sees web-01 DOWN"),
            "{}",
            h1.reason
        );
        l.apply(Observation::Backend {
            lb: h("lb-01"),
            server: h("web-01"),
            status: BackendStatus::GoingUp,
            check: "L7OK/200".into(),
            at: 20_250,
        });
        assert_eq!(l.node_health(&nginx).health, Health::Degraded);
        l.apply(Observation::Backend {
            lb: h("lb-01"),
            server: h("web-01"),
            status: BackendStatus::Up,
            check: "L7OK/200".into(),
            at: 20_500,
        });
        assert_eq!(l.node_health(&nginx).health, Health::Up);
        let last = l.timeline().last().expect("transition");
        assert_eq!(last.text, "lb-01 marked web-01 UP: L7OK/200");
        assert_eq!(last.at, 20_500);
    }

    #[test]
    fn holder_down_takes_its_components_down() {
        let mut l = LiveState::new();
        running(&mut l, "web-02", None, 0);
        running(&mut l, "web-02", Some(ComponentKind::App), 0);
        let app = ComponentId::new("web-02", ComponentKind::App);
        assert_eq!(l.node_health(&app).health, Health::Up);
        l.apply(Observation::Container {
            host: h("web-02"),
            kind: None,
            state: RunState::Exited(137),
            at: 5_000,
        });
        let nh = l.node_health(&app);
        assert_eq!(nh.health, Health::Down);
        assert!(nh.reason.contains("holder"), "{}", nh.reason);
        l.apply(Observation::Container {
            host: h("web-02"),
            kind: None,
            state: RunState::Paused,
            at: 6_000,
        });
        assert_eq!(l.node_health(&app).health, Health::Paused);
        assert_eq!(
            l.node_health(&ComponentId::new("web-09", ComponentKind::App))
                .health,
            Health::Unknown
        );
    }

    #[test]
    fn replication_states_and_lag() {
        let mut l = LiveState::new();
        let db = ComponentId::new("web-02", ComponentKind::Db);
        running(&mut l, "web-02", Some(ComponentKind::Db), 0);
        let ok = ReplicaStatus {
            io: "Yes".into(),
            sql: "Yes".into(),
            lag_seconds: Some(0),
            lag_transactions: Some(0),
            primary_gtid: Some("0-1-10".into()),
            replica_gtid: Some("0-1-10".into()),
            last_error: None,
            source: Some(h("web-01")),
            replicating: true,
            writable: false,
        };
        l.apply(Observation::Replication {
            host: h("web-02"),
            status: Ok(ok.clone()),
            at: 1_000,
        });
        assert_eq!(l.node_health(&db).health, Health::Up);
        assert_eq!(l.timeline().count(), 0);
        // The IO thread stops: Seconds_Behind_Master becomes NULL.
        let stopped = ReplicaStatus {
            io: "No".into(),
            lag_seconds: None,
            lag_transactions: Some(10),
            primary_gtid: Some("0-1-20".into()),
            ..ok.clone()
        };
        l.apply(Observation::Replication {
            host: h("web-02"),
            status: Ok(stopped),
            at: 2_000,
        });
        let nh = l.node_health(&db);
        assert_eq!(nh.health, Health::Degraded);
        assert!(nh.reason.contains("IO thread stopped"), "{}", nh.reason);
        let t = l.timeline().last().expect("transition");
        assert_eq!(t.at, 2_000);
        assert_eq!(t.health, Some(Health::Degraded));
        // Lag shows in the per-second history.
        l.tick(4_500);
        let series = l.node_series(&db).expect("series");
        let last = series.last().expect("bucket");
        assert_eq!(last.second, 2);
        assert_eq!(last.lag_transactions, Some(10));
        assert_eq!(last.lag_seconds, None);
        // The SQL thread fails: down, with the error.
        l.apply(Observation::Replication {
            host: h("web-02"),
            status: Ok(ReplicaStatus {
                sql: "No".into(),
                last_error: Some("Duplicate entry '5'".into()),
                ..ok
            }),
            at: 5_000,
        });
        let nh = l.node_health(&db);
        assert_eq!(nh.health, Health::Down);
        assert!(nh.reason.contains("Duplicate entry"), "{}", nh.reason);
        // Promoted: replicates from no one, writable.
        l.apply(Observation::Replication {
            host: h("web-02"),
            status: Ok(ReplicaStatus {
                replicating: false,
                writable: true,
                ..ReplicaStatus::default()
            }),
            at: 6_000,
        });
        let nh = l.node_health(&db);
        assert_eq!(nh.health, Health::Up);
        assert!(nh.reason.starts_with("primary"), "{}", nh.reason);
    }

    #[test]
    fn requests_give_rates_errors_latency_and_shares() {
        let mut l = LiveState::new();
        // Second 10: 4 requests, round robin, one failed.
        l.apply(Observation::Requests(vec![
            trace(10_000, "web-01", "web-02", 200, 10.0),
            trace(10_100, "web-02", "web-02", 200, 20.0),
            trace(10_200, "web-01", "web-02", 200, 30.0),
            trace(10_300, "web-02", "web-02", 503, 40.0),
        ]));
        // Second 12: one request; second 11 was quiet.
        l.apply(Observation::Requests(vec![trace(
            12_000, "web-01", "web-02", 200, 5.0,
        )]));
        l.tick(14_000);
        let lb_to_web1 = l
            .edge_series(
                &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
                &Endpoint::Component(ComponentId::new("web-01", ComponentKind::Nginx)),
            )
            .expect("edge");
        let buckets: Vec<(u64, u32, u32)> = lb_to_web1
            .buckets()
            .map(|b| (b.second, b.requests, b.errors))
            .collect();
        assert_eq!(buckets, vec![(10, 2, 0), (11, 0, 0), (12, 1, 0)]);
        let client = l
            .edge_series(
                &Endpoint::Client,
                &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
            )
            .expect("edge");
        let first = client.buckets().next().expect("bucket");
        assert_eq!((first.requests, first.errors), (4, 1));
        assert_eq!(first.p50_ms, Some(20.0));
        assert_eq!(first.p95_ms, Some(40.0));
        assert_eq!(edge_health(4, 1), Health::Down);
        assert_eq!(edge_health(1000, 1), Health::Degraded);
        assert_eq!(edge_health(10_000, 9), Health::Up);
        assert_eq!(edge_health(0, 0), Health::Unknown);
        // The app -> db edge carries the database time.
        let app_db = l
            .edge_series(
                &Endpoint::Component(ComponentId::new("web-02", ComponentKind::App)),
                &Endpoint::Component(ComponentId::new("web-02", ComponentKind::Db)),
            )
            .expect("edge");
        assert_eq!(app_db.buckets().next().and_then(|b| b.p95_ms), Some(10.0));

        let totals = l.totals();
        assert_eq!((totals.sent, totals.ok, totals.failed), (5, 4, 1));
        assert_eq!(totals.by_web.get(&h("web-01")), Some(&3));
        assert_eq!(totals.by_web.get(&h("web-02")), Some(&2));
        let p50 = totals.latency.quantile(0.5).expect("p50");
        assert!((19.0..=20.5).contains(&p50), "{p50}");
        assert_eq!(totals.latency.quantile(1.0), Some(40.0));
        // The canvas gets each request once.
        assert_eq!(l.take_recent().count(), 5);
        assert_eq!(l.take_recent().count(), 0);
    }

    #[test]
    fn failed_connection_counts_on_the_entry_edge() {
        let mut l = LiveState::new();
        let mut t = trace(1_000, "web-01", "web-01", 200, 1.0);
        t.status = None;
        t.error = Some("connection refused".into());
        t.lb = None;
        t.web = None;
        t.app = None;
        t.db = None;
        l.apply(Observation::Requests(vec![t]));
        l.tick(5_000);
        let edge = l
            .edge_series(
                &Endpoint::Client,
                &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
            )
            .expect("edge");
        assert_eq!(edge.recent(10), (1, 1));
    }

    #[test]
    fn history_is_bounded() {
        let mut l = LiveState::new();
        for s in 0..(HISTORY_SECONDS as u64 + 50) {
            l.apply(Observation::Requests(vec![trace(
                s * 1000,
                "web-01",
                "web-01",
                200,
                1.0,
            )]));
            l.tick(s * 1000 + 1500);
        }
        let series = l
            .node_series(&ComponentId::new("web-01", ComponentKind::App))
            .expect("series");
        assert_eq!(series.buckets().len(), HISTORY_SECONDS);
    }

    #[test]
    fn paths_are_checked_against_the_topology() {
        let t = crate::preset::Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("preset");
        assert_eq!(
            check_path(&t, &trace(0, "web-01", "web-02", 200, 1.0)),
            Ok(())
        );
        let mut wrong = trace(0, "web-01", "web-02", 200, 1.0);
        wrong.app = Some(h("web-02"));
        assert!(check_path(&t, &wrong).is_err());
        let mut unknown = trace(0, "web-07", "web-02", 200, 1.0);
        unknown.app = Some(h("web-07"));
        assert!(check_path(&t, &unknown).is_err());
    }
}
