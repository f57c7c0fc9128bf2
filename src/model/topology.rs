//! The topology document: hosts, their components and every setting.

use serde::{Deserialize, Serialize};

use super::names::{ComponentId, ComponentKind, HostName};
use super::size::HostSize;

/// Port of the MySQL exporter beside each database when monitoring is on.
pub const EXPORTER_PORT: u16 = 9104;

/// The file format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole design: what the user edits, saves as RON and launches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// File format version; see [`FORMAT_VERSION`].
    pub version: u32,
    /// A short name (a DNS label), also the default lab name.
    pub name: String,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// The site's public name, e.g. `www.foobar.com`.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// Settings shared by every database.
    #[serde(default)]
    pub databases: DatabaseSettings,
    /// TLS and tier segmentation.
    #[serde(default)]
    pub security: Security,
    /// Metrics collection (Prometheus and exporters).
    #[serde(default)]
    pub monitoring: Monitoring,
    /// The records the topology's DNS servers answer with.
    #[serde(default, skip_serializing_if = "DnsZone::is_default")]
    pub dns: DnsZone,
    /// The network between regions (used when hosts run in several).
    #[serde(default, skip_serializing_if = "Wan::is_default")]
    pub wan: Wan,
    /// The machines of the design (the reference design's "servers").
    pub hosts: Vec<Host>,
}

fn default_domain() -> String {
    "www.foobar.com".to_owned()
}

/// A machine: a network namespace with a name, holding components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The host's name, a DNS label.
    pub name: HostName,
    /// Where it runs; hosts without one share the default region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the canvas draws it; `None` lets the layout decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// What runs on the host; at most one of each kind.
    pub components: Vec<Component>,
    /// Its CPUs and memory, shared by its components.
    #[serde(default, skip_serializing_if = "HostSize::is_default")]
    pub size: HostSize,
}

/// A point on the canvas, in canvas units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Horizontal, growing right.
    pub x: f32,
    /// Vertical, growing down.
    pub y: f32,
}

/// A program running on a host. Each kind carries its own settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// HAProxy.
    Lb(LoadBalancer),
    /// Nginx.
    Nginx(WebServer),
    /// The application server.
    App(AppServer),
    /// MySQL or MariaDB.
    Db(Database),
    /// PowerDNS, authoritative for the site's zone.
    Dns(DnsServer),
}

impl Component {
    /// The component's kind.
    pub fn kind(&self) -> ComponentKind {
        match self {
            Self::Lb(_) => ComponentKind::Lb,
            Self::Nginx(_) => ComponentKind::Nginx,
            Self::App(_) => ComponentKind::App,
            Self::Db(_) => ComponentKind::Db,
            Self::Dns(_) => ComponentKind::Dns,
        }
    }

    /// A component of `kind` with default settings.
    pub fn with_defaults(kind: ComponentKind) -> Self {
        match kind {
            ComponentKind::Lb => Self::Lb(LoadBalancer::default()),
            ComponentKind::Nginx => Self::Nginx(WebServer::default()),
            ComponentKind::App => Self::App(AppServer::default()),
            ComponentKind::Db => Self::Db(Database::default()),
            ComponentKind::Dns => Self::Dns(DnsServer::default()),
        }
    }

    /// The TCP ports the component (and what monitoring adds beside it)
    /// listens on, each with what it is for: exactly what the generated
    /// configs bind.
    pub fn ports(&self, security: &Security, monitoring: &Monitoring) -> Vec<(u16, &'static str)> {
        match self {
            Self::Lb(lb) => {
                let mut ports = vec![(lb.port, "HTTP")];
                if security.tls {
                    ports.push((lb.tls_port, "HTTPS"));
                }
                if lb.stats || monitoring.enabled {
                    ports.push((lb.stats_port, "stats and metrics"));
                }
                ports
            }
            Self::Nginx(web) => vec![(web.port, "HTTP")],
            Self::App(app) => vec![(app.port, "HTTP")],
            Self::Db(db) => {
                let mut ports = vec![(db.port, "MySQL")];
                if monitoring.enabled {
                    ports.push((EXPORTER_PORT, "MySQL exporter"));
                }
                ports
            }
            Self::Dns(dns) => vec![(dns.port, "DNS (UDP and TCP)")],
        }
    }
}

/// HAProxy's balancing algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Each server in turn, in proportion to its weight.
    #[default]
    RoundRobin,
    /// The server with the fewest active connections.
    LeastConn,
    /// A hash of the client's address: a client sticks to one server.
    Source,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Self; 3] = [Self::RoundRobin, Self::LeastConn, Self::Source];

    /// HAProxy's keyword for it.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::RoundRobin => "roundrobin",
            Self::LeastConn => "leastconn",
            Self::Source => "source",
        }
    }
}

/// A load balancer (HAProxy) and its backends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancer {
    /// How requests are spread.
    pub algorithm: Algorithm,
    /// The hosts whose Nginx receives traffic.
    pub backends: Vec<Backend>,
    /// How the load balancer checks its backends.
    pub health_check: HealthCheck,
    /// How often a failed connection is retried.
    pub retries: u8,
    /// Whether a retry may go to another server.
    pub redispatch: bool,
    /// Connect timeout to a backend, in milliseconds.
    pub connect_timeout_ms: u32,
    /// Serve HAProxy's stats page and Prometheus metrics.
    pub stats: bool,
    /// Port of the stats page.
    pub stats_port: u16,
    /// Port for plain HTTP.
    pub port: u16,
    /// Port for HTTPS when TLS is on.
    pub tls_port: u16,
    /// Port on 127.0.0.1 of the machine running the lab; `None`: topolab picks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_port: Option<u16>,
    /// The virtual IP this load balancer shares with the others giving the
    /// same number: the last byte of an address on the load balancers'
    /// network, [`Vip::FIRST`] to [`Vip::LAST`]. keepalived (VRRP) keeps
    /// it on one of them at a time and moves it when that one fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<u8>,
}

/// A virtual IP shared by load balancers (see [`LoadBalancer::vip`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// The last byte of its address.
    pub number: u8,
    /// The load balancers sharing it, in file order: the first is
    /// preferred (VRRP priority highest) and takes it back when it returns.
    pub members: Vec<HostName>,
    /// The port clients connect to (the members' `port`).
    pub port: u16,
}

impl Vip {
    /// The first number a virtual IP may have: hosts take `.10` to `.209`.
    pub const FIRST: u8 = 220;
    /// The last number a virtual IP may have.
    pub const LAST: u8 = 249;

    /// How it is named to users: `vip .220`.
    pub fn label(&self) -> String {
        format!("vip .{}", self.number)
    }
}

/// One thing clients connect to (see [`Topology::client_entries`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEntry<'a> {
    /// A host's own address: a load balancer, or a web server when the
    /// design has no load balancer.
    Host {
        /// The host.
        host: &'a Host,
        /// What listens: [`ComponentKind::Lb`] or [`ComponentKind::Nginx`].
        kind: ComponentKind,
        /// Its port.
        port: u16,
    },
    /// A virtual IP shared by load balancers.
    Vip(Vip),
}

impl ClientEntry<'_> {
    /// How users know it: `lb-01`, or `vip .220 (lb-01, lb-02)`.
    pub fn label(&self) -> String {
        match self {
            Self::Host { host, .. } => host.name.to_string(),
            Self::Vip(vip) => {
                let members: Vec<String> = vip.members.iter().map(ToString::to_string).collect();
                format!("{} ({})", vip.label(), members.join(", "))
            }
        }
    }

    /// The host that stands for it: the host, or the virtual IP's first
    /// member.
    pub fn host(&self) -> &HostName {
        match self {
            Self::Host { host, .. } => &host.name,
            Self::Vip(vip) => &vip.members[0],
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        match self {
            Self::Host { port, .. } => *port,
            Self::Vip(vip) => vip.port,
        }
    }
}

impl Default for LoadBalancer {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::RoundRobin,
            backends: Vec::new(),
            health_check: HealthCheck::default(),
            retries: 2,
            redispatch: true,
            connect_timeout_ms: 300,
            stats: false,
            stats_port: 8404,
            port: 80,
            tls_port: 443,
            published_port: None,
            vip: None,
        }
    }
}

impl LoadBalancer {
    /// Active-passive when any backend is a backup server.
    pub fn is_active_passive(&self) -> bool {
        self.backends.iter().any(|b| b.backup)
    }
}

/// A server in a load balancer's backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// The host whose Nginx serves.
    pub host: HostName,
    /// Share of traffic relative to the other servers (1–256).
    #[serde(default = "default_weight")]
    pub weight: u16,
    /// A backup server only serves when no active server is up.
    #[serde(default)]
    pub backup: bool,
}

fn default_weight() -> u16 {
    100
}

impl Backend {
    /// An active backend of default weight.
    pub fn new(host: impl Into<HostName>) -> Self {
        Self {
            host: host.into(),
            weight: default_weight(),
            backup: false,
        }
    }
}

/// HAProxy's health check of each backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// Time between checks, in milliseconds.
    pub interval_ms: u32,
    /// Failed checks in a row that mark a server DOWN.
    pub fall: u8,
    /// Passed checks in a row that mark a server UP again.
    pub rise: u8,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            interval_ms: 250,
            fall: 2,
            rise: 2,
        }
    }
}

/// Nginx: terminates HTTP and proxies to the app on the same host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebServer {
    /// Port Nginx listens on.
    pub port: u16,
}

impl Default for WebServer {
    fn default() -> Self {
        Self { port: 80 }
    }
}

/// The application server: business logic, writes to the primary of its
/// replication group and reads from a replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppServer {
    /// Port the app listens on (on 127.0.0.1 of its host).
    pub port: u16,
    /// The replication group the app reads and writes.
    pub group: String,
    /// Whether a client reads its own writes (off: a read can go to a
    /// replica that has not applied them yet).
    #[serde(skip_serializing_if = "ReadYourWrites::is_off")]
    pub read_your_writes: ReadYourWrites,
    /// The release of the application's files the host runs (one of
    /// [`RELEASES`]); a rolling deploy changes it host by host.
    #[serde(skip_serializing_if = "is_first_release")]
    pub release: String,
}

impl Default for AppServer {
    fn default() -> Self {
        Self {
            port: 8000,
            group: default_group(),
            read_your_writes: ReadYourWrites::Off,
            release: RELEASES[0].to_owned(),
        }
    }
}

/// The releases of the application topolab ships to teach with: `v1`,
/// `v2` (a visible change: its page and the answer of `GET /` name it),
/// and `v2-broken` (it starts, but its health check fails).
pub const RELEASES: [&str; 3] = ["v1", "v2", "v2-broken"];

/// Whether `release` is the first one (the default, not written to files).
fn is_first_release(release: &String) -> bool {
    release == RELEASES[0]
}

/// How an app keeps a client's reads from missing the client's own writes.
/// A write's answer carries a token (a cookie: when it was written and its
/// GTID); a read that brings it back is served as set here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadYourWrites {
    /// Reads go to a replica whatever the client wrote.
    #[default]
    Off,
    /// For `window_ms` after a write, the client's reads go to the primary.
    FromPrimary {
        /// How long after a write, milliseconds.
        window_ms: u32,
    },
    /// A read first waits until its replica has applied the client's last
    /// write (`MASTER_GTID_WAIT` on MariaDB, `WAIT_FOR_EXECUTED_GTID_SET`
    /// on MySQL), at most `timeout_ms`; past that it goes to the primary.
    WaitForReplica {
        /// The longest wait, milliseconds.
        timeout_ms: u32,
    },
}

impl ReadYourWrites {
    /// The longest `window_ms` accepted.
    pub const MAX_WINDOW_MS: u32 = 60_000;
    /// The longest `timeout_ms` accepted: a wait holds one of the app's
    /// connections to the replica, and a client gives up after a few
    /// seconds (MySQL Router's `wait_for_my_writes_timeout` defaults to 2 s).
    pub const MAX_WAIT_MS: u32 = 2_000;

    /// Whether it is off (the default, not written to files).
    pub fn is_off(&self) -> bool {
        *self == Self::Off
    }

    /// In words, for plans and the inspector.
    pub fn describe(&self) -> String {
        match self {
            Self::Off => "off".to_owned(),
            Self::FromPrimary { window_ms } => {
                format!("reads from the primary for {window_ms} ms after a write")
            }
            Self::WaitForReplica { timeout_ms } => {
                format!("waits up to {timeout_ms} ms for the replica to apply the write")
            }
        }
    }
}

fn default_group() -> String {
    "main".to_owned()
}

/// A database server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// Primary (takes writes) or replica of a primary.
    pub role: Role,
    /// The replication group: one primary and its replicas.
    pub group: String,
    /// Port the server listens on.
    pub port: u16,
}

impl Default for Database {
    fn default() -> Self {
        Self {
            role: Role::Primary,
            group: default_group(),
            port: 3306,
        }
    }
}

/// A DNS server (PowerDNS): authoritative for the zone of the site's
/// name, it answers with the entry points' addresses (see [`DnsZone`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsServer {
    /// Port it answers on, UDP and TCP.
    pub port: u16,
}

impl Default for DnsServer {
    fn default() -> Self {
        Self { port: 53 }
    }
}

/// What the topology's DNS servers answer for the site's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsZone {
    /// How long a client may keep an answer, in seconds: a changed record
    /// reaches a client only once its cached answer expires.
    pub ttl_s: u32,
    /// Answer with the entry points that pass a health check only
    /// (PowerDNS's LUA records and `ifportup`): a dead load balancer
    /// leaves the answers within about a second.
    pub health_checked: bool,
}

impl DnsZone {
    /// The longest TTL accepted: a day.
    pub const MAX_TTL_S: u32 = 86_400;

    /// Whether it has the default settings (not written to files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for DnsZone {
    fn default() -> Self {
        Self {
            ttl_s: 5,
            health_checked: false,
        }
    }
}

/// The network between regions: in the lab, a router host joins the
/// regions' networks and delays what crosses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wan {
    /// The round trip between two regions, in milliseconds, added by the
    /// router (Linux's netem, half each way) where the kernel has it.
    pub latency_ms: u32,
}

impl Wan {
    /// The longest round trip accepted: two seconds.
    pub const MAX_LATENCY_MS: u32 = 2_000;

    /// Whether it has the default settings (not written to files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for Wan {
    fn default() -> Self {
        // About the round trip between two regions of one continent.
        Self { latency_ms: 40 }
    }
}

/// The zone the site's name is in, and the name's label in it: for
/// `www.foobar.com`, `("foobar.com", "www")`; a two-label name is the
/// zone's apex, `("foobar.com", "@")`.
pub fn zone_of(domain: &str) -> (String, String) {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() <= 2 {
        (domain.to_owned(), "@".to_owned())
    } else {
        (labels[1..].join("."), labels[0].to_owned())
    }
}

/// A database's part in replication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes every write and writes the binary log.
    Primary,
    /// Replays the primary's binary log; read-only.
    Replica {
        /// The host whose database this one replicates.
        of: HostName,
    },
}

/// Which database server program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// MySQL 8.4.
    #[default]
    Mysql,
    /// MariaDB (10.11 LTS or newer).
    Mariadb,
}

impl Flavor {
    /// Both flavors.
    pub const ALL: [Self; 2] = [Self::Mysql, Self::Mariadb];

    /// The flavor's name as in files and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
        }
    }
}

/// How a primary waits for its replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    /// The primary acknowledges a commit without waiting: a replica can lag.
    #[default]
    Async,
    /// The primary waits until a replica has received each commit.
    SemiSync,
}

/// Settings every database of the topology shares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// MySQL or MariaDB.
    pub flavor: Flavor,
    /// Asynchronous or semi-synchronous replication.
    pub replication: ReplicationMode,
    /// Who promotes a replica when the primary fails.
    #[serde(skip_serializing_if = "Failover::is_manual")]
    pub failover: Failover,
}

/// Who promotes a replica when the primary fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failover {
    /// A person (`topolab promote`, or the app's Promote button).
    #[default]
    Manual,
    /// topolab's orchestrator, while a topolab process watches the lab
    /// (the app, `topolab orchestrator`, a scenario): when independent
    /// sources agree the primary is gone, it fences the old primary and
    /// promotes the most advanced replica.
    Automatic {
        /// How many independent sources (of three: the primary's
        /// container died, the orchestrator's own connection failed, the
        /// replicas' IO threads lost it) must agree before it acts.
        #[serde(default = "default_agree")]
        agree: u8,
        /// Within how many milliseconds of each other they must say so.
        #[serde(default = "default_within_ms")]
        within_ms: u32,
        /// No second automatic failover within this many seconds of the
        /// last (anti-flapping).
        #[serde(default = "default_quiet_s")]
        quiet_s: u32,
        /// Promote even when acknowledged writes would be lost.
        #[serde(default)]
        accept_loss: bool,
    },
}

fn default_agree() -> u8 {
    2
}

fn default_within_ms() -> u32 {
    2_000
}

fn default_quiet_s() -> u32 {
    60
}

impl Failover {
    /// Automatic failover with the default settings: 2 of 3 sources within
    /// 2 s, none within 60 s of another, no loss accepted.
    pub fn automatic() -> Self {
        Self::Automatic {
            agree: default_agree(),
            within_ms: default_within_ms(),
            quiet_s: default_quiet_s(),
            accept_loss: false,
        }
    }

    /// Whether it is manual (the default, not written to files).
    pub fn is_manual(&self) -> bool {
        *self == Self::Manual
    }
}

/// Security options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// Terminate HTTPS at the load balancers with the lab's certificate.
    pub tls: bool,
    /// One network per tier: the load balancers cannot reach the databases.
    pub segmentation: bool,
}

/// Monitoring options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    /// Run Prometheus scraping HAProxy and a MySQL exporter per database.
    pub enabled: bool,
}

impl Topology {
    /// Whether `other` runs as the same lab: the same hosts, components
    /// and settings. Where the canvas draws the hosts, the description and
    /// the name (a lab keeps its own) do not matter.
    /// Compares in place; the destructuring makes a new field a compile
    /// error here until it is said whether it changes the lab.
    pub fn runs_like(&self, other: &Topology) -> bool {
        let Topology {
            version,
            name: _,
            description: _,
            domain,
            databases,
            security,
            monitoring,
            dns,
            wan,
            hosts,
        } = self;
        let host = |a: &Host, b: &Host| {
            let Host {
                name,
                region,
                position: _,
                components,
                size,
            } = a;
            *name == b.name && *region == b.region && *components == b.components && *size == b.size
        };
        *version == other.version
            && *domain == other.domain
            && *databases == other.databases
            && *security == other.security
            && *monitoring == other.monitoring
            && *dns == other.dns
            && *wan == other.wan
            && hosts.len() == other.hosts.len()
            && hosts.iter().zip(&other.hosts).all(|(a, b)| host(a, b))
    }

    /// An empty topology of the current format version.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            version: FORMAT_VERSION,
            name: name.into(),
            description: String::new(),
            domain: default_domain(),
            databases: DatabaseSettings::default(),
            security: Security::default(),
            monitoring: Monitoring::default(),
            dns: DnsZone::default(),
            wan: Wan::default(),
            hosts: Vec::new(),
        }
    }

    /// The host named `name`.
    pub fn host(&self, name: &HostName) -> Option<&Host> {
        self.hosts.iter().find(|h| &h.name == name)
    }

    /// The host named `name`, for editing.
    pub fn host_mut(&mut self, name: &HostName) -> Option<&mut Host> {
        self.hosts.iter_mut().find(|h| &h.name == name)
    }

    /// Every component with its id, hosts and components in file order.
    pub fn components(&self) -> impl Iterator<Item = (ComponentId, &Component)> {
        self.hosts.iter().flat_map(|h| {
            h.components
                .iter()
                .map(move |c| (ComponentId::new(&h.name, c.kind()), c))
        })
    }

    /// Every load balancer with its host.
    pub fn load_balancers(&self) -> impl Iterator<Item = (&Host, &LoadBalancer)> {
        self.hosts
            .iter()
            .filter_map(|h| h.load_balancer().map(|lb| (h, lb)))
    }

    /// Every database with its host.
    pub fn databases(&self) -> impl Iterator<Item = (&Host, &Database)> {
        self.hosts
            .iter()
            .filter_map(|h| h.database().map(|db| (h, db)))
    }

    /// The primary database of replication group `group`, if exactly one
    /// exists.
    pub fn primary_of_group(&self, group: &str) -> Option<&Host> {
        let mut primaries = self
            .databases()
            .filter(|(_, db)| db.group == group && db.role == Role::Primary);
        match (primaries.next(), primaries.next()) {
            (Some((host, _)), None) => Some(host),
            _ => None,
        }
    }

    /// The host whose database `host`'s database replicates, when it is a
    /// replica.
    pub fn source_of(&self, host: &HostName) -> Option<&HostName> {
        match &self.host(host)?.database()?.role {
            Role::Replica { of } => Some(of),
            Role::Primary => None,
        }
    }

    /// The replicas of replication group `group`.
    pub fn replicas_of_group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Host> {
        self.databases()
            .filter(move |(_, db)| db.group == group && matches!(db.role, Role::Replica { .. }))
            .map(|(h, _)| h)
    }

    /// Every region named by a host; hosts without one count as `None`.
    pub fn regions(&self) -> Vec<Option<&str>> {
        let mut regions: Vec<Option<&str>> =
            self.hosts.iter().map(|h| h.region.as_deref()).collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// Every DNS server with its host.
    pub fn dns_servers(&self) -> impl Iterator<Item = (&Host, &DnsServer)> {
        self.hosts
            .iter()
            .filter_map(|h| h.dns_server().map(|d| (h, d)))
    }

    /// The virtual IPs, by number, each with its load balancers.
    pub fn vips(&self) -> Vec<Vip> {
        let mut vips: Vec<Vip> = Vec::new();
        for (h, lb) in self.load_balancers() {
            let Some(number) = lb.vip else { continue };
            match vips.iter_mut().find(|v| v.number == number) {
                Some(v) => v.members.push(h.name.clone()),
                None => vips.push(Vip {
                    number,
                    members: vec![h.name.clone()],
                    port: lb.port,
                }),
            }
        }
        vips.sort_by_key(|v| v.number);
        vips
    }

    /// The virtual IP `host`'s load balancer shares, if any.
    pub fn vip_of(&self, host: &HostName) -> Option<Vip> {
        let number = self.host(host)?.load_balancer()?.vip?;
        self.vips().into_iter().find(|v| v.number == number)
    }

    /// What clients connect to, in topology order: each entry point
    /// (see [`Self::entry_points`]), except that load balancers sharing a
    /// virtual IP are one entry, the address, at its first member's place.
    pub fn client_entries(&self) -> Vec<ClientEntry<'_>> {
        let vips = self.vips();
        let mut out = Vec::new();
        for host in self.entry_points() {
            let Some((kind, port)) = host.entry_listener() else {
                continue;
            };
            let vip = host
                .load_balancer()
                .and_then(|lb| lb.vip)
                .and_then(|n| vips.iter().find(|v| v.number == n));
            match vip {
                Some(vip) if vip.members.first() == Some(&host.name) => {
                    out.push(ClientEntry::Vip(vip.clone()));
                }
                // Reached through the address, named by its first member.
                Some(_) => {}
                None => out.push(ClientEntry::Host { host, kind, port }),
            }
        }
        out
    }

    /// The hosts clients connect to: every load balancer, or every web
    /// server when there is no load balancer.
    pub fn entry_points(&self) -> Vec<&Host> {
        let lbs: Vec<&Host> = self.load_balancers().map(|(h, _)| h).collect();
        if lbs.is_empty() {
            self.hosts
                .iter()
                .filter(|h| h.web_server().is_some())
                .collect()
        } else {
            lbs
        }
    }
}

impl Host {
    /// A host with no components.
    pub fn new(name: impl Into<HostName>) -> Self {
        Self {
            name: name.into(),
            region: None,
            position: None,
            components: Vec::new(),
            size: HostSize::default(),
        }
    }

    /// A host with these components.
    pub fn with(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.components.extend(components);
        self
    }

    /// The component of `kind`, if the host runs one.
    pub fn component(&self, kind: ComponentKind) -> Option<&Component> {
        self.components.iter().find(|c| c.kind() == kind)
    }

    /// Whether the host runs a component of `kind`.
    pub fn has(&self, kind: ComponentKind) -> bool {
        self.component(kind).is_some()
    }

    /// The host's load balancer.
    pub fn load_balancer(&self) -> Option<&LoadBalancer> {
        self.components.iter().find_map(|c| match c {
            Component::Lb(lb) => Some(lb),
            _ => None,
        })
    }

    /// The host's load balancer, for editing.
    pub fn load_balancer_mut(&mut self) -> Option<&mut LoadBalancer> {
        self.components.iter_mut().find_map(|c| match c {
            Component::Lb(lb) => Some(lb),
            _ => None,
        })
    }

    /// The host's web server.
    pub fn web_server(&self) -> Option<&WebServer> {
        self.components.iter().find_map(|c| match c {
            Component::Nginx(web) => Some(web),
            _ => None,
        })
    }

    /// The host's app server.
    pub fn app_server(&self) -> Option<&AppServer> {
        self.components.iter().find_map(|c| match c {
            Component::App(app) => Some(app),
            _ => None,
        })
    }

    /// The host's app server, for editing.
    pub fn app_server_mut(&mut self) -> Option<&mut AppServer> {
        self.components.iter_mut().find_map(|c| match c {
            Component::App(app) => Some(app),
            _ => None,
        })
    }

    /// The host's database.
    pub fn database(&self) -> Option<&Database> {
        self.components.iter().find_map(|c| match c {
            Component::Db(db) => Some(db),
            _ => None,
        })
    }

    /// On an entry host, what clients connect to and its port: its load
    /// balancer, else its web server.
    pub fn entry_listener(&self) -> Option<(ComponentKind, u16)> {
        match (self.load_balancer(), self.web_server()) {
            (Some(lb), _) => Some((ComponentKind::Lb, lb.port)),
            (None, Some(web)) => Some((ComponentKind::Nginx, web.port)),
            (None, None) => None,
        }
    }

    /// The host's DNS server.
    pub fn dns_server(&self) -> Option<&DnsServer> {
        self.components.iter().find_map(|c| match c {
            Component::Dns(dns) => Some(dns),
            _ => None,
        })
    }

    /// The host's database, for editing.
    pub fn database_mut(&mut self) -> Option<&mut Database> {
        self.components.iter_mut().find_map(|c| match c {
            Component::Db(db) => Some(db),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_is_the_name_without_its_first_label() {
        let z = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(zone_of("www.foobar.com"), z("foobar.com", "www"));
        assert_eq!(zone_of("foobar.com"), z("foobar.com", "@"));
        assert_eq!(zone_of("a.b.example.org"), z("b.example.org", "a"));
    }

    #[test]
    fn moving_hosts_does_not_change_the_lab_but_a_setting_does() {
        let t = crate::preset::Preset::find("reference")
            .expect("preset")
            .topology()
            .expect("valid");
        let mut moved = t.clone();
        moved.hosts[0].position = Some(Position { x: 999.0, y: 5.0 });
        moved.description = "mine".to_owned();
        assert!(t.runs_like(&moved));
        let mut bigger = t.clone();
        bigger.hosts[1].size.cpus = 2.0;
        assert!(!t.runs_like(&bigger));
        let mut fewer = t.clone();
        fewer.hosts.pop();
        assert!(!t.runs_like(&fewer));
    }
}
