//! Tooltips and inspector texts, in the words of the reference design.

use crate::model::{Algorithm, ComponentId, ComponentKind, HostTemplate, Role, Topology};

/// Active-active versus active-passive.
pub const ACTIVE_ACTIVE: &str = "Active-active: every server handles requests at the same time, which adds throughput and resilience. Active-passive: backup servers sit idle and take over only when no active server is up (lower resource use, slower failover).";
/// A backup server.
pub const BACKUP: &str =
    "A backup server gets traffic only when every active server is DOWN (active-passive).";
/// Asynchronous replication.
pub const ASYNC: &str = "The primary acknowledges a write without waiting for the replica: the replica can lag slightly, and a write acknowledged just before the primary dies can be lost.";
/// Semi-synchronous replication.
pub const SEMI_SYNC: &str = "The primary acknowledges a write only once a replica has received it: promotion loses no acknowledged write, at the cost of a round trip per commit.";

/// Read your writes, in general.
pub const READ_YOUR_WRITES: &str = "Whether a client that just wrote sees its write when it reads next. Reads go to a replica, which can lag its primary: without help, a client can miss its own write (a stale read).";
/// Read your writes: off.
pub const RYW_OFF: &str = "Reads go to a replica whatever the client wrote: fastest, and a read right after a write can miss it while the replica lags.";
/// Read your writes: from the primary for a window.
pub const RYW_FROM_PRIMARY: &str = "For a while after a client's write, its reads go to the primary, which has the write: no stale read unless the replica lags longer than the window, at the cost of load on the primary.";
/// Read your writes: wait for the replica.
pub const RYW_WAIT_FOR_REPLICA: &str = "A read first waits until its replica has applied the client's last write (its GTID), at most this long, then goes to the primary: reads stay on the replica and cost a wait while it lags.";

/// A rolling deploy, in the Deploy window.
pub const ROLLING_DEPLOY: &str = "Batch by batch, each host is drained in every load balancer, switched to the release, its app restarted gracefully and health-checked, then put back in rotation: the others keep answering meanwhile. A failed health check, or a canary failing requests above the threshold, rolls back every host switched.";

/// What a release of the application is.
pub fn release(name: &str) -> &'static str {
    match name {
        "v1" => "The first release of the application.",
        "v2" => "A visible change: its page and the answer of GET / name it.",
        "v2-broken" => {
            "It starts, but its health check fails: a deploy of it stops and rolls back."
        }
        _ => "A release of the application's files.",
    }
}

/// Failover, in general.
pub const FAILOVER: &str = "Who promotes a replica when the primary fails: a person, or topolab's orchestrator while a topolab process (this app, `topolab orchestrator`, a scenario) watches the lab.";
/// Manual failover.
pub const FAILOVER_MANUAL: &str = "A person decides: writes fail until someone promotes a replica (the inspector's Promote, or `topolab promote`).";
/// Automatic failover.
pub const FAILOVER_AUTOMATIC: &str = "When independent sources agree the primary is gone, the orchestrator fences it and promotes the most advanced replica: the outage lasts the detection and the promotion, not until a person notices.";
/// How many sources must agree.
pub const FAILOVER_AGREE: &str = "How many of the three independent sources (the primary's container died, the orchestrator's own connection failed, the replicas' IO threads lost it) must say the primary is gone before it acts: 1 acts fastest and on the least evidence.";
/// Within how long they must agree.
pub const FAILOVER_WITHIN: &str =
    "Within how many milliseconds of each other the sources must say so (100-60000).";
/// The quiet time after a failover.
pub const FAILOVER_QUIET: &str = "No second automatic failover within this many seconds of the last (0-3600): a flapping primary is not promoted away and back.";
/// Accepting a loss.
pub const FAILOVER_ACCEPT_LOSS: &str = "Promote even when acknowledged writes would be lost (the replica lacks them). Off, it waits for a person rather than lose them.";

/// What a host is.
pub fn host() -> &'static str {
    "A server: one machine with its own name and addresses. Its components share its network, so Nginx reaches the app on 127.0.0.1."
}

/// What a component kind does.
pub fn kind(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Lb => {
            "HAProxy load balancer: spreads traffic across the servers, protects users from a single server failing, and enables horizontal scaling. A server whose health check fails is taken out of rotation until it recovers."
        }
        ComponentKind::Nginx => {
            "Nginx web server: terminates HTTP and reverse-proxies to the application server on the same host; serves static files itself."
        }
        ComponentKind::App => {
            "Application server: runs the business logic. Writes go to the primary database; reads go to a replica while one is healthy, else to the primary."
        }
        ComponentKind::Db => {
            "MySQL: in a Primary -> Replica topology, the primary takes every write and the replica replays its binary log."
        }
        ComponentKind::Dns => {
            "PowerDNS, authoritative for the site's zone: clients ask it for the site's name and get the entry points' addresses, which they keep for the records' TTL. With health-checked records it answers only with the entry points that accept connections."
        }
    }
}

/// What a specific component does in this topology.
pub fn component(t: &Topology, id: &ComponentId) -> String {
    match (id.kind, t.host(&id.host).and_then(|h| h.database()).map(|d| &d.role)) {
        (ComponentKind::Db, Some(Role::Primary)) => "MySQL primary: used for every write (INSERT/UPDATE/DELETE) and writes the binary log its replicas replay. If it fails, writes stop until a replica is promoted.".to_owned(),
        (ComponentKind::Db, Some(Role::Replica { of })) => format!("MySQL replica of {of}: replays its binary log. Read-only — only replication writes to it — so it serves reads that tolerate slight staleness. If the primary fails, promote it and repoint the writers."),
        (kind, _) => self::kind(kind).to_owned(),
    }
}

/// What a palette entry adds.
pub fn template(t: HostTemplate) -> &'static str {
    match t {
        HostTemplate::LoadBalancer => {
            "A host running HAProxy, with every web server as a backend. A second one removes the load balancer's single point of failure."
        }
        HostTemplate::WebAppDb => {
            "A server like the reference design's: Nginx, the app and MySQL. It joins every load balancer's backends; its database replicates the primary."
        }
        HostTemplate::WebApp => {
            "A server with Nginx and the app; it joins every load balancer's backends."
        }
        HostTemplate::Dns => {
            "A DNS server answering for the site's name with every entry point's address. A second one keeps new clients finding the site while one is down."
        }
        HostTemplate::Database => {
            "A database server: a replica of the primary (or the primary, if there is none)."
        }
    }
}

/// What an algorithm does.
pub fn algorithm(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RoundRobin => {
            "Round robin: HAProxy cycles through the servers in order (in proportion to their weights)."
        }
        Algorithm::LeastConn => {
            "Least connections: each request goes to the server with the fewest active connections."
        }
        Algorithm::Source => {
            "Source: a hash of the client's address picks the server, so a client sticks to one server."
        }
    }
}
