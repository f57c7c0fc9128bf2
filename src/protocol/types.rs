//! The plain data the UI and the lab exchange besides commands and events:
//! launch phases, entry points, traffic settings, a promotion's
//! assessment. Pure: no runtime, no UI.

use std::time::Duration;

use crate::model::{HostName, Topology};

/// The phases of a launch, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Images present or built.
    Images,
    /// Networks and volumes created.
    Networks,
    /// Containers created with their configs, holders started.
    Hosts,
    /// Every database answers a query.
    Databases,
    /// Every replica's replication threads run.
    Replication,
    /// Every app server answers /health.
    Apps,
    /// Every Nginx answers /health through to its app.
    Web,
    /// Every load balancer answers / (through web, app and database).
    LoadBalancers,
    /// Prometheus answers.
    Monitoring,
}

impl Phase {
    /// The phases a launch of `topology` goes through, in order.
    pub fn of(topology: &Topology) -> Vec<Self> {
        let mut phases = vec![
            Self::Images,
            Self::Networks,
            Self::Hosts,
            Self::Databases,
            Self::Replication,
            Self::Apps,
            Self::Web,
        ];
        if topology.load_balancers().next().is_some() {
            phases.push(Self::LoadBalancers);
        }
        if topology.monitoring.enabled {
            phases.push(Self::Monitoring);
        }
        phases
    }

    /// The phase in words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Networks => "networks",
            Self::Hosts => "hosts",
            Self::Databases => "databases ready",
            Self::Replication => "replication running",
            Self::Apps => "apps ready",
            Self::Web => "web ready",
            Self::LoadBalancers => "load balancers ready",
            Self::Monitoring => "monitoring ready",
        }
    }
}

/// What a launch reports while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Something the user should know (profile chosen, MariaDB for MySQL).
    Note(String),
    /// A phase began.
    Started(Phase),
    /// A phase finished, `at` after the launch began.
    Finished {
        /// Which.
        phase: Phase,
        /// Time since the launch began.
        at: Duration,
    },
    /// The command a person would type for a step that just ran.
    Explain(String),
}

/// What an apply reports while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyProgress {
    /// Action `index` of the plan began.
    Started {
        /// Its place in the plan, from 0.
        index: usize,
        /// What it does.
        summary: String,
        /// What it does to requests.
        impact: crate::change::Impact,
    },
    /// Action `index` is done and recorded, `took` after it began.
    Finished {
        /// Its place in the plan.
        index: usize,
        /// How long it took.
        took: Duration,
    },
    /// A sub-step done, in words.
    Note(String),
    /// The command a person would type for a step that just ran.
    Explain(String),
}

/// Where clients reach the lab.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryPoint {
    /// The host (a load balancer, or a web server without one).
    pub host: HostName,
    /// Port on 127.0.0.1 for HTTP.
    pub http: u16,
    /// Port on 127.0.0.1 for HTTPS, when TLS is on.
    pub https: Option<u16>,
}

/// A DNS server of a running lab, as this machine reaches it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DnsEndpoint {
    /// Its host.
    pub host: HostName,
    /// Its port on 127.0.0.1, UDP and TCP.
    pub port: u16,
}

/// A virtual IP's published ports on this machine: the lab's `nat`
/// forwards them to the address, so they follow it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VipEndpoint {
    /// The virtual IP's number (`.220`).
    pub number: u8,
    /// Its HTTP port on 127.0.0.1.
    pub http: u16,
    /// Its HTTPS port on 127.0.0.1, when TLS is on.
    pub https: Option<u16>,
}

/// The highest rate the generator is asked to hold.
pub const MAX_RATE: f64 = 20_000.0;
/// How fast to send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Requests per second, on schedule (0 pauses).
    PerSecond(f64),
    /// As fast as the lab answers, with this many requests in flight.
    FlatOut {
        /// Requests in flight.
        concurrency: usize,
    },
}

/// What the generator does; can change while it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrafficSettings {
    /// How fast.
    pub rate: Rate,
    /// Percent of requests that are writes (`POST /api/items`); the rest
    /// are reads (`GET /`).
    pub writes_percent: u8,
    /// Whether each acknowledged write is read back by its client through
    /// the same entry point (the read-your-writes probe). A read that
    /// misses it is a stale read.
    pub read_back: bool,
}

impl Default for TrafficSettings {
    fn default() -> Self {
        Self {
            rate: Rate::PerSecond(20.0),
            writes_percent: 0,
            read_back: false,
        }
    }
}

/// What promoting a replica would cost, and where the numbers come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// The replica to promote.
    pub replica: HostName,
    /// The primary it replicates from.
    pub old_primary: HostName,
    /// `Seconds_Behind_Master`, when the replica reports it.
    pub lag_seconds: Option<u64>,
    /// GTID position the replica received.
    pub received: String,
    /// GTID position the replica applied.
    pub applied: String,
    /// The old primary's last GTID position, when known.
    pub primary_position: Option<String>,
    /// Transactions the old primary has that the replica never received
    /// (`None`: unknown).
    pub missing: Option<u64>,
    /// Where the old primary's position comes from.
    pub source: String,
}

impl Assessment {
    /// One line: lag, loss and source.
    pub fn summary(&self) -> String {
        let lag = self.lag_seconds.map_or_else(
            || "unknown (replication stopped)".to_owned(),
            |s| format!("{s} s"),
        );
        let missing = match self.missing {
            Some(0) => "no transaction would be lost".to_owned(),
            Some(n) => format!(
                "{n} transaction(s) of {} never reached {} and would be lost",
                self.old_primary, self.replica
            ),
            None => "the transactions that would be lost are unknown".to_owned(),
        };
        format!(
            "lag {lag}; {missing} (old primary at {}, replica received {}; source: {})",
            self.primary_position.as_deref().unwrap_or("?"),
            if self.received.is_empty() {
                "nothing"
            } else {
                &self.received
            },
            self.source
        )
    }
}
