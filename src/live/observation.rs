//! What the lab reports of a running lab ([`Observation`]), and the words
//! for it: a container's [`RunState`], a load balancer's [`BackendStatus`],
//! a replica's [`ReplicaStatus`], and the [`Health`] each of them means.

use std::fmt;

use crate::model::{ComponentKind, HostName};

use super::{Millis, RequestTrace};

/// A replica this far behind (seconds) is degraded.
pub const LAG_DEGRADED_S: u64 = 1;
/// A replica this many transactions behind is degraded (fewer are the
/// writes in flight between reading the two positions).
pub const LAG_DEGRADED_TX: u64 = 10;

/// Error ratio from which an edge is degraded (0.1%).
pub const ERRORS_DEGRADED: f64 = 0.001;
/// Error ratio above which an edge is failing (10%).
pub const ERRORS_FAILING: f64 = 0.10;

/// p95 latency from which an edge is slow (amber), milliseconds.
pub const P95_SLOW_MS: f32 = 200.0;
/// p95 latency from which an edge is failing its users (red), milliseconds.
pub const P95_FAILING_MS: f32 = 1000.0;

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

/// The health of an edge whose requests' p95 latency is `p95_ms`.
pub fn latency_health(p95_ms: Option<f32>) -> Health {
    match p95_ms {
        None => Health::Unknown,
        Some(p) if p >= P95_FAILING_MS => Health::Down,
        Some(p) if p >= P95_SLOW_MS => Health::Degraded,
        Some(_) => Health::Up,
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
    /// Its engine (a machine of the lab's swarm) does not answer.
    Unreachable,
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
            Self::Unreachable => f.write_str("down: engine unreachable"),
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
    /// What a DNS server answers for the site's name changed.
    DnsAnswer {
        /// The DNS server's host.
        host: HostName,
        /// The entry points its answer names (an address no entry point
        /// has, as the address), or why it gave none.
        answer: Result<Vec<String>, String>,
        /// When.
        at: Millis,
    },
    /// The load balancer holding a virtual IP changed.
    VipHolder {
        /// The virtual IP's number (its address's last byte).
        vip: u8,
        /// The member that answers at the address, or why none does.
        holder: Result<HostName, String>,
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

impl Observation {
    /// A periodic sample (CPU and memory, a load balancer's counters): it
    /// moves numbers and sparklines, never a state, so showing it within a
    /// second is soon enough.
    pub fn is_sample(&self) -> bool {
        matches!(self, Self::Resources { .. } | Self::BackendLoad { .. })
    }
}
