//! `validate()`: every semantic problem of a topology at once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use super::names::{
    ComponentId, ComponentKind, HostName, Subject, dns_label_problem, host_name_problem,
};
use super::ports::{MAX_PORT, PortUse, collisions, port_uses};
use super::text::{Shown, is_control_or_bidi};
use super::topology::{
    DnsZone, FORMAT_VERSION, Failover, Host, RELEASES, ReadYourWrites, Role, Topology, Vip, Wan,
};

/// More hosts than this is refused: every host needs an address in one /24.
pub const MAX_HOSTS: usize = 200;
/// Longest description accepted.
pub const MAX_DESCRIPTION: usize = 1000;
/// Highest HAProxy server weight.
pub const MAX_WEIGHT: u16 = 256;

/// A line and column in a file, both counting from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TextPos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Something that makes a topology invalid (it cannot be generated or run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The host or component the problem is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Where in the file, for problems found while reading one.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub at: Option<TextPos>,
}

impl Problem {
    /// A problem about the whole topology.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            subject: None,
            message: message.into(),
            at: None,
        }
    }

    /// A problem about `subject`.
    pub fn about(subject: Subject, message: impl Into<String>) -> Self {
        Self {
            subject: Some(subject),
            message: message.into(),
            at: None,
        }
    }
}

/// `line:column: subject: message`, with whatever came from the file
/// (names, excerpts) escaped so that it prints as one plain line: a
/// problem can be shown in a terminal whatever the file holds.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at {
            write!(f, "{}:{}: ", at.line, at.column)?;
        }
        if let Some(subject) = &self.subject {
            write!(f, "{}: ", Shown(&subject.to_string()))?;
        }
        write!(f, "{}", Shown(&self.message))
    }
}

/// Every problem of `topology`, in a stable order; empty when it is valid.
/// Takes time linear in the size of the topology.
pub fn validate(topology: &Topology) -> Vec<Problem> {
    let mut v = Validator {
        topology,
        by_name: topology.hosts.iter().map(|h| (&h.name, h)).collect(),
        problems: Vec::new(),
    };
    v.topology_settings();
    v.hosts();
    v.ports();
    v.load_balancers();
    v.web_and_app();
    v.replication();
    v.dns();
    v.vips();
    v.regions();
    v.problems
}

struct Validator<'a> {
    topology: &'a Topology,
    /// Every host by name (the first of each name), so that references
    /// are looked up in constant time.
    by_name: HashMap<&'a HostName, &'a Host>,
    problems: Vec<Problem>,
}

fn host(h: &HostName) -> Subject {
    Subject::Host(h.clone())
}

fn component(h: &HostName, kind: ComponentKind) -> Subject {
    Subject::Component(ComponentId::new(h, kind))
}

impl<'a> Validator<'a> {
    fn general(&mut self, message: String) {
        self.problems.push(Problem::general(message));
    }

    fn about(&mut self, subject: Subject, message: String) {
        self.problems.push(Problem::about(subject, message));
    }

    fn host(&self, name: &HostName) -> Option<&'a Host> {
        self.by_name.get(name).copied()
    }

    fn topology_settings(&mut self) {
        let t = self.topology;
        if t.version != FORMAT_VERSION {
            self.general(format!(
                "format version {} is not supported: this topolab reads version {FORMAT_VERSION}",
                t.version
            ));
        }
        if let Some(why) = dns_label_problem(&t.name) {
            self.general(format!("topology name {:?} {why}", t.name));
        }
        if let Failover::Automatic {
            agree,
            within_ms,
            quiet_s,
            ..
        } = t.databases.failover
        {
            if !(1..=3).contains(&agree) {
                self.general(format!(
                    "failover: agree is {agree}; it must be 1 to 3 (of the three sources)"
                ));
            }
            if !(100..=60_000).contains(&within_ms) {
                self.general(format!(
                    "failover: within_ms is {within_ms}; it must be 100 to 60000"
                ));
            }
            if quiet_s > 3600 {
                self.general(format!(
                    "failover: quiet_s is {quiet_s}; it must be at most 3600"
                ));
            }
        }
        let length = t.description.chars().count();
        if length > MAX_DESCRIPTION {
            self.general(format!(
                "description is {length} characters long (at most {MAX_DESCRIPTION})"
            ));
        }
        if let Some(c) = t.description.chars().find(|c| is_control_or_bidi(*c)) {
            self.general(format!(
                "description contains the control character {c:?}: it is one line of plain text"
            ));
        }
        if let Some(why) = domain_problem(&t.domain) {
            self.general(format!("domain {:?} {why}", t.domain));
        }
        if t.hosts.is_empty() {
            self.general("the topology has no hosts".to_owned());
        }
        if t.hosts.len() > MAX_HOSTS {
            self.general(format!(
                "the topology has {} hosts (at most {MAX_HOSTS})",
                t.hosts.len()
            ));
        }
        if t.security.tls && t.load_balancers().next().is_none() {
            self.general(
                "security.tls is on, but TLS terminates at a load balancer and there is none"
                    .to_owned(),
            );
        }
        if !t.hosts.is_empty() && t.entry_points().is_empty() {
            self.general(
                "nothing serves clients: add a load balancer or a web server (nginx)".to_owned(),
            );
        }
    }

    /// The DNS zone's settings, and what its records can name.
    fn dns(&mut self) {
        let t = self.topology;
        let zone = t.dns;
        if zone.ttl_s == 0 || zone.ttl_s > DnsZone::MAX_TTL_S {
            self.general(format!(
                "dns: ttl_s is {}; it must be 1 to {} (a TTL of 0 tells clients not to \
                 cache at all, which few do)",
                zone.ttl_s,
                DnsZone::MAX_TTL_S
            ));
        }
        let servers: Vec<&Host> = t.dns_servers().map(|(h, _)| h).collect();
        if zone.health_checked && servers.is_empty() {
            self.general(
                "dns: health_checked is on, but no host runs a DNS server (add a dns component)"
                    .to_owned(),
            );
        }
        if servers.is_empty() {
            return;
        }
        if t.domain.split('.').count() < 2 {
            self.general(format!(
                "domain {:?} has one label: a DNS server needs a zone above the name \
                 (e.g. \"www.{}.com\")",
                t.domain, t.domain
            ));
        }
        // A health check connects to one port on every entry point.
        let entry_ports: BTreeSet<u16> = t
            .entry_points()
            .iter()
            .filter_map(|h| h.entry_listener().map(|(_, port)| port))
            .collect();
        if zone.health_checked && entry_ports.len() > 1 {
            self.general(format!(
                "dns: health_checked records check one port on every entry point, but the \
                 entry points listen on {}: give them the same port",
                entry_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        let (_, label) = super::topology::zone_of(&t.domain);
        for h in servers {
            if h.name.as_str() == label {
                self.about(
                    host(&h.name),
                    format!(
                        "a DNS server's host is named in the zone like the site ({}): rename it",
                        t.domain
                    ),
                );
            }
            if h.components.len() > 1 {
                self.about(
                    component(&h.name, ComponentKind::Dns),
                    "a DNS server runs on a host of its own (its failure should be its own)"
                        .to_owned(),
                );
            }
        }
    }

    /// Virtual IPs: in their range, shared by two or more load balancers
    /// of one region listening on one port (and one HTTPS port with TLS).
    fn vips(&mut self) {
        let t = self.topology;
        for (h, lb) in t.load_balancers() {
            if let Some(n) = lb.vip
                && !(Vip::FIRST..=Vip::LAST).contains(&n)
            {
                self.about(
                    component(&h.name, ComponentKind::Lb),
                    format!(
                        "vip {n} is outside .{} to .{}, the part of the load balancers' \
                         subnet kept for virtual IPs (hosts take .10 upward)",
                        Vip::FIRST,
                        Vip::LAST
                    ),
                );
            }
        }
        for vip in t.vips() {
            let first = &vip.members[0];
            let subject = || component(first, ComponentKind::Lb);
            if vip.members.len() < 2 {
                self.about(
                    subject(),
                    format!(
                        "{} has no other load balancer: give a second one the same vip \
                         (a virtual IP moves between two or more)",
                        vip.label()
                    ),
                );
            }
            let members: Vec<&Host> = vip.members.iter().filter_map(|m| self.host(m)).collect();
            let regions: BTreeSet<Option<&str>> =
                members.iter().map(|h| h.region.as_deref()).collect();
            if regions.len() > 1 {
                self.about(
                    subject(),
                    format!(
                        "{} joins load balancers of different regions ({}): a virtual IP \
                         moves only within one region's network",
                        vip.label(),
                        regions
                            .iter()
                            .map(|r| r.unwrap_or("the default region"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                );
            }
            // Clients reach whichever member holds the address on the same
            // ports: HTTP always, HTTPS when TLS is on.
            let mut listens: Vec<(&str, &str, BTreeSet<u16>)> = vec![(
                "",
                "port",
                members
                    .iter()
                    .filter_map(|h| h.load_balancer().map(|lb| lb.port))
                    .collect(),
            )];
            if t.security.tls {
                listens.push((
                    "for HTTPS ",
                    "tls_port",
                    members
                        .iter()
                        .filter_map(|h| h.load_balancer().map(|lb| lb.tls_port))
                        .collect(),
                ));
            }
            for (what, field, ports) in listens {
                if ports.len() > 1 {
                    self.about(
                        subject(),
                        format!(
                            "{}'s load balancers listen {what}on {}: give them the same {field}",
                            vip.label(),
                            ports
                                .iter()
                                .map(u16::to_string)
                                .collect::<Vec<_>>()
                                .join(" and "),
                        ),
                    );
                }
            }
        }
    }

    /// Regions: a few, each reachable by clients, and a WAN latency in
    /// range.
    fn regions(&mut self) {
        let t = self.topology;
        if t.wan.latency_ms > Wan::MAX_LATENCY_MS {
            self.general(format!(
                "wan: latency_ms is {}; it must be 0 to {}",
                t.wan.latency_ms,
                Wan::MAX_LATENCY_MS
            ));
        }
        if !super::network::spans_regions(t) {
            return;
        }
        let regions = t.regions();
        let name = |r: Option<&str>| r.unwrap_or(super::network::DEFAULT_REGION).to_owned();
        if regions.len() > super::network::MAX_REGIONS {
            self.general(format!(
                "the hosts run in {} regions ({}); a lab spans at most {}",
                regions.len(),
                regions
                    .iter()
                    .map(|r| name(*r))
                    .collect::<Vec<_>>()
                    .join(", "),
                super::network::MAX_REGIONS
            ));
        }
        if regions.contains(&None) && regions.contains(&Some(super::network::DEFAULT_REGION)) {
            self.general(format!(
                "some hosts name no region and some name region {:?}, which is what the \
                 others are called: name their region",
                super::network::DEFAULT_REGION
            ));
        }
        let entries = t.entry_points();
        for region in regions {
            let Some(first) = t.hosts.iter().find(|h| h.region.as_deref() == region) else {
                continue;
            };
            if !entries.iter().any(|e| e.region.as_deref() == region) {
                let what = if t.load_balancers().next().is_some() {
                    "a load balancer"
                } else {
                    "a web server"
                };
                self.about(
                    host(&first.name),
                    format!(
                        "region {} has no entry point, so no client reaches it: give it {what}, \
                         or move its hosts to another region",
                        name(region)
                    ),
                );
            }
        }
    }

    fn hosts(&mut self) {
        let mut seen: HashMap<&HostName, usize> = HashMap::new();
        for h in &self.topology.hosts {
            *seen.entry(&h.name).or_default() += 1;
            if let Some(why) = host_name_problem(h.name.as_str()) {
                self.about(
                    host(&h.name),
                    format!("host name {:?} {why}", h.name.as_str()),
                );
            }
            if let Some(region) = &h.region
                && let Some(why) = dns_label_problem(region)
            {
                self.about(host(&h.name), format!("region {region:?} {why}"));
            }
            if let Some(p) = h.position
                && !(p.x.is_finite() && p.y.is_finite())
            {
                self.about(host(&h.name), "position must be finite numbers".to_owned());
            }
            if let Some(why) = h.size.problem() {
                self.about(host(&h.name), why);
            }
            if h.components.is_empty() {
                self.about(host(&h.name), "runs no component".to_owned());
            }
            let mut kinds = BTreeMap::<ComponentKind, usize>::new();
            for c in &h.components {
                *kinds.entry(c.kind()).or_default() += 1;
            }
            for (kind, n) in kinds {
                if n > 1 {
                    self.about(
                        component(&h.name, kind),
                        format!(
                            "the host runs {n} components of kind {kind}: at most one is allowed"
                        ),
                    );
                }
            }
        }
        // Containers and compose services are named HOST and HOST-KIND:
        // `web-db` would be both a host and web's database.
        for h in &self.topology.hosts {
            for kind in ComponentKind::ALL {
                let other = h
                    .name
                    .as_str()
                    .strip_suffix(kind.as_str())
                    .and_then(|rest| rest.strip_suffix('-'))
                    .filter(|base| !base.is_empty())
                    .map(HostName::new);
                if let Some(other) = other
                    && self.by_name.contains_key(&other)
                {
                    self.about(
                        host(&h.name),
                        format!(
                            "the name collides with the {kind} container of host {other}: rename one of them"
                        ),
                    );
                }
            }
        }
        let mut dups: Vec<_> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
        dups.sort();
        for (name, n) in dups {
            self.about(
                host(name),
                format!("{n} hosts are named \"{name}\": names must be unique"),
            );
        }
    }

    fn ports(&mut self) {
        let (security, monitoring) = (&self.topology.security, &self.topology.monitoring);
        for h in &self.topology.hosts {
            let mut users: BTreeMap<u16, Vec<String>> = BTreeMap::new();
            for c in &h.components {
                for (port, what) in c.ports(security, monitoring) {
                    if port == 0 {
                        self.about(
                            component(&h.name, c.kind()),
                            format!("{what} port 0 is not a usable port"),
                        );
                        continue;
                    }
                    users.entry(port).or_default().push(format!(
                        "{}/{} ({what})",
                        h.name,
                        c.kind()
                    ));
                }
            }
            for (port, who) in users {
                if who.len() > 1 {
                    self.about(
                        host(&h.name),
                        format!("port {port} is wanted by {}", who.join(" and ")),
                    );
                }
            }
        }
        for (h, lb) in self.topology.load_balancers() {
            if lb.published_port == Some(0) {
                self.about(
                    component(&h.name, ComponentKind::Lb),
                    "published port 0 is not a usable port: leave it out to let topolab pick"
                        .to_owned(),
                );
            }
        }
        // What the exported bundle publishes on 127.0.0.1: every port once,
        // and each one a TCP port.
        let uses: Vec<PortUse> = port_uses(self.topology)
            .into_iter()
            .filter(|u| u.port != 0)
            .collect();
        for u in &uses {
            if u.port > MAX_PORT {
                self.general(format!(
                    "{} would be published on port {}, past {MAX_PORT}: pin a lower published_port",
                    u.who, u.port
                ));
            }
        }
        for (port, who) in collisions(&uses) {
            self.general(format!(
                "published port {port} is wanted by {}: pin another published_port",
                who.join(" and ")
            ));
        }
    }

    fn load_balancers(&mut self) {
        let t = self.topology;
        for (h, lb) in t.load_balancers() {
            let me = || component(&h.name, ComponentKind::Lb);
            if lb.backends.is_empty() {
                self.about(me(), "the load balancer has no backends".to_owned());
            } else if lb.backends.iter().all(|b| b.backup) {
                self.about(
                    me(),
                    "every backend is a backup server: at least one must be active".to_owned(),
                );
            }
            let mut seen = HashSet::new();
            for b in &lb.backends {
                if !seen.insert(&b.host) {
                    self.about(me(), format!("backend {} is listed twice", b.host));
                }
                match self.host(&b.host) {
                    None => self.about(me(), format!("backend {} does not exist", b.host)),
                    Some(target) if !target.has(ComponentKind::Nginx) => self.about(
                        me(),
                        format!("backend {} runs no web server (nginx)", b.host),
                    ),
                    Some(_) => {}
                }
                if b.weight == 0 || b.weight > MAX_WEIGHT {
                    self.about(
                        me(),
                        format!(
                            "backend {} has weight {} (1 to {MAX_WEIGHT})",
                            b.host, b.weight
                        ),
                    );
                }
            }
            let hc = lb.health_check;
            if !(10..=3_600_000).contains(&hc.interval_ms) {
                self.about(
                    me(),
                    format!(
                        "health_check.interval_ms is {} (10 to 3600000)",
                        hc.interval_ms
                    ),
                );
            }
            if hc.fall == 0 || hc.rise == 0 {
                self.about(
                    me(),
                    "health_check.fall and health_check.rise must be at least 1".to_owned(),
                );
            }
            if !(1..=600_000).contains(&lb.connect_timeout_ms) {
                self.about(
                    me(),
                    format!(
                        "connect_timeout_ms is {} (1 to 600000)",
                        lb.connect_timeout_ms
                    ),
                );
            }
        }
    }

    fn web_and_app(&mut self) {
        let t = self.topology;
        let mut groups_with_primary = HashSet::new();
        for (_, db) in t.databases() {
            if db.role == Role::Primary {
                groups_with_primary.insert(db.group.as_str());
            }
        }
        for h in &t.hosts {
            if h.has(ComponentKind::Nginx) && !h.has(ComponentKind::App) {
                self.about(
                    component(&h.name, ComponentKind::Nginx),
                    "nginx proxies to the app on its own host, and this host runs no app"
                        .to_owned(),
                );
            }
            if let Some(app) = h.app_server() {
                if let Some(why) = dns_label_problem(&app.group) {
                    self.about(
                        component(&h.name, ComponentKind::App),
                        format!("replication group {:?} {why}", app.group),
                    );
                } else if !groups_with_primary.contains(app.group.as_str()) {
                    self.about(
                        component(&h.name, ComponentKind::App),
                        format!(
                            "the app uses replication group {:?}, which has no primary database",
                            app.group
                        ),
                    );
                }
                let ms = match app.read_your_writes {
                    ReadYourWrites::Off => None,
                    ReadYourWrites::FromPrimary { window_ms } => {
                        Some(("window_ms", window_ms, ReadYourWrites::MAX_WINDOW_MS))
                    }
                    ReadYourWrites::WaitForReplica { timeout_ms } => {
                        Some(("timeout_ms", timeout_ms, ReadYourWrites::MAX_WAIT_MS))
                    }
                };
                if let Some((name, ms, most)) = ms
                    && !(1..=most).contains(&ms)
                {
                    self.about(
                        component(&h.name, ComponentKind::App),
                        format!("read_your_writes: {name} is {ms}; it must be 1 to {most} ms"),
                    );
                }
                if !RELEASES.contains(&app.release.as_str()) {
                    self.about(
                        component(&h.name, ComponentKind::App),
                        format!(
                            "release {:?} is not one topolab ships ({})",
                            app.release,
                            RELEASES.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn replication(&mut self) {
        let t = self.topology;
        let mut primaries: BTreeMap<&str, Vec<&HostName>> = BTreeMap::new();
        for (h, db) in t.databases() {
            let me = || component(&h.name, ComponentKind::Db);
            if let Some(why) = dns_label_problem(&db.group) {
                self.about(me(), format!("replication group {:?} {why}", db.group));
            }
            match &db.role {
                Role::Primary => primaries.entry(&db.group).or_default().push(&h.name),
                Role::Replica { of } => {
                    if of == &h.name {
                        self.about(me(), "is a replica of itself".to_owned());
                        continue;
                    }
                    match self.host(of).map(|target| (target, target.database())) {
                        None => self.about(
                            me(),
                            format!("replica of {of}, which does not exist"),
                        ),
                        Some((_, None)) => self.about(
                            me(),
                            format!("replica of {of}, which runs no database"),
                        ),
                        Some((_, Some(target))) => match &target.role {
                            Role::Replica { .. } => self.about(
                                me(),
                                format!(
                                    "replica of {of}/db, which is not a primary (it is itself a replica)"
                                ),
                            ),
                            Role::Primary if target.group != db.group => self.about(
                                me(),
                                format!(
                                    "in replication group {:?} but replicates {of}/db of group {:?}",
                                    db.group, target.group
                                ),
                            ),
                            Role::Primary => {}
                        },
                    }
                }
            }
        }
        for (group, hosts) in primaries {
            if hosts.len() > 1 {
                let names: Vec<String> = hosts.iter().map(|h| format!("{h}/db")).collect();
                self.general(format!(
                    "replication group {group:?} has {} primaries ({}): a group has exactly one",
                    hosts.len(),
                    names.join(", ")
                ));
            }
        }
        for cycle in replication_cycles(t) {
            let path: Vec<String> = cycle.iter().map(|h| format!("{h}/db")).collect();
            self.general(format!(
                "replication cycle: {} -> {}/db",
                path.join(" -> "),
                cycle[0]
            ));
        }
    }
}

/// Each replication cycle once, as the hosts along it, starting from the
/// smallest name. Every host is walked once: linear in the hosts.
fn replication_cycles(t: &Topology) -> Vec<Vec<HostName>> {
    let source_of: HashMap<&HostName, &HostName> = t
        .databases()
        .filter_map(|(h, db)| match &db.role {
            Role::Replica { of } if of != &h.name => Some((&h.name, of)),
            _ => None,
        })
        .collect();
    // The walk that first reached each host; a walk that meets its own
    // number again has closed a cycle.
    let mut walked_by: HashMap<&HostName, usize> = HashMap::new();
    let mut starts: Vec<&HostName> = source_of.keys().copied().collect();
    starts.sort();
    let mut cycles = BTreeSet::new();
    for (walk, start) in starts.into_iter().enumerate() {
        let mut path: Vec<&HostName> = Vec::new();
        let mut at = start;
        loop {
            match walked_by.get(at) {
                Some(w) if *w == walk => {
                    let i = path.iter().position(|h| *h == at).unwrap_or(0);
                    let mut cycle: Vec<HostName> = path[i..].iter().map(|h| (*h).clone()).collect();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, h)| *h)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    cycles.insert(cycle);
                    break;
                }
                Some(_) => break,
                None => {}
            }
            walked_by.insert(at, walk);
            path.push(at);
            match source_of.get(at) {
                Some(next) => at = next,
                None => break,
            }
        }
    }
    cycles.into_iter().collect()
}

fn domain_problem(domain: &str) -> Option<String> {
    if domain.len() > 253 {
        return Some(format!("is {} characters long (at most 253)", domain.len()));
    }
    domain.split('.').find_map(|label| {
        dns_label_problem(label).map(|why| format!("has a label {label:?} that {why}"))
    })
}
