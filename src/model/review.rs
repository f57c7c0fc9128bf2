//! `review()`: design findings (single points of failure, security and
//! monitoring gaps), computed from the graph of the topology.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::fix::FixAction;
use super::names::{ComponentId, ComponentKind, HostName, Subject};
use super::network::{host_networks, serving_network};
use super::topology::{Failover, Host, ReplicationMode, Role, Topology};

/// What kind of weakness a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// A single point of failure.
    Spof,
    /// A security gap.
    Security,
    /// Missing monitoring.
    Monitoring,
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Worth fixing.
    Medium,
    /// Takes the site down or exposes it.
    High,
}

/// A weakness of a valid design. Findings are not errors: the design runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `spof-load-balancer`.
    pub id: &'static str,
    /// Its category.
    pub category: Category,
    /// How much it matters.
    pub severity: Severity,
    /// The hosts and components it names.
    pub subjects: Vec<Subject>,
    /// One line.
    pub title: String,
    /// Why it matters, in the words of the reference design.
    pub explanation: String,
    /// What to do about it.
    pub fix: String,
    /// The edit that applies the fix, where the model can make it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<FixAction>,
}

/// The findings of a valid `topology`, in a stable order.
pub fn review(topology: &Topology) -> Vec<Finding> {
    let mut findings = spofs(topology);
    findings.extend(security(topology));
    findings.extend(monitoring(topology));
    findings
}

/// What clients can still do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Service {
    reads: bool,
    writes: bool,
}

fn lost(before: Service, after: Service) -> Option<&'static str> {
    match (before.reads && !after.reads, before.writes && !after.writes) {
        (true, true) => Some("reads and writes"),
        (true, false) => Some("reads"),
        (false, true) => Some("writes"),
        (false, false) => None,
    }
}

/// Which parts of one host fail together.
#[derive(Clone, Copy, Debug, Default)]
struct Failure {
    lb: bool,
    serving: bool,
    db: bool,
}

/// How requests reach the databases, counted once, so that what losing any
/// one component or host costs is found without searching the topology
/// again. A request enters at a load balancer (or, without one, at a web
/// server), reaches a host whose Nginx and app are alive, and the app
/// writes to its group's primary and reads from the primary or any replica.
struct Reach {
    /// Whether clients enter through load balancers.
    has_lbs: bool,
    /// Per host: its app's replication group, when it serves (runs Nginx
    /// and an app).
    serving_group: Vec<Option<usize>>,
    /// Per host: how many load balancers send it requests.
    senders: Vec<u32>,
    /// Per host: the hosts its load balancer sends requests to, each once.
    backends: Vec<Vec<usize>>,
    /// Per host: its database's group and whether it is a primary.
    database: Vec<Option<(usize, bool)>>,
    /// Per group: databases, primaries, and reached serving hosts.
    dbs: Vec<u32>,
    primaries: Vec<u32>,
    reached: Vec<u32>,
    /// Reached serving hosts whose group has a database (a primary).
    readers: u32,
    writers: u32,
}

impl Reach {
    fn new(t: &Topology) -> Self {
        let n = t.hosts.len();
        // The first host of each name answers for it, as `Topology::host` does.
        let mut index: HashMap<&HostName, usize> = HashMap::with_capacity(n);
        for (i, h) in t.hosts.iter().enumerate() {
            index.entry(&h.name).or_insert(i);
        }
        let mut groups: HashMap<&str, usize> = HashMap::new();
        let first = |i: usize, h: &Host| index.get(&h.name) == Some(&i);
        let mut serving_group = vec![None; n];
        let mut database = vec![None; n];
        for (i, h) in t.hosts.iter().enumerate().filter(|(i, h)| first(*i, h)) {
            if h.has(ComponentKind::Nginx)
                && let Some(app) = h.app_server()
            {
                serving_group[i] = Some(group_id(&mut groups, &app.group));
            }
            if let Some(db) = h.database() {
                database[i] = Some((group_id(&mut groups, &db.group), db.role == Role::Primary));
            }
        }
        let groups = groups.len();
        let mut backends = vec![Vec::new(); n];
        let mut senders = vec![0u32; n];
        let mut has_lbs = false;
        let mut listed_by = vec![usize::MAX; n];
        for (i, h) in t.hosts.iter().enumerate() {
            let Some(lb) = h.load_balancer() else {
                continue;
            };
            has_lbs = true;
            if !first(i, h) {
                continue;
            }
            for b in &lb.backends {
                if let Some(&a) = index.get(&b.host)
                    && listed_by[a] != i
                {
                    listed_by[a] = i;
                    backends[i].push(a);
                    senders[a] += 1;
                }
            }
        }
        let mut r = Self {
            has_lbs,
            serving_group,
            senders,
            backends,
            database,
            dbs: vec![0; groups],
            primaries: vec![0; groups],
            reached: vec![0; groups],
            readers: 0,
            writers: 0,
        };
        for (g, primary) in r.database.iter().flatten() {
            r.dbs[*g] += 1;
            r.primaries[*g] += u32::from(*primary);
        }
        for a in 0..n {
            if let Some(g) = r.reached_group(a) {
                r.reached[g] += 1;
                r.readers += u32::from(r.dbs[g] > 0);
                r.writers += u32::from(r.primaries[g] > 0);
            }
        }
        r
    }

    /// The group of host `a` when requests reach it with nothing failed.
    fn reached_group(&self, a: usize) -> Option<usize> {
        let g = self.serving_group[a]?;
        (!self.has_lbs || self.senders[a] > 0).then_some(g)
    }

    fn service(&self) -> Service {
        Service {
            reads: self.readers > 0,
            writes: self.writers > 0,
        }
    }

    /// What clients can do when `failed` parts of host `h` are gone: the
    /// serving hosts no longer reached, and the group that loses a
    /// database, adjust the counts. Costs the number of backends of `h`'s
    /// load balancer.
    fn service_without(&self, h: usize, failed: Failure) -> Service {
        let mut cut: Vec<usize> = Vec::new();
        let serving_cut = failed.serving && self.reached_group(h).is_some();
        if serving_cut {
            cut.push(h);
        }
        if failed.lb {
            // A backend that only this load balancer sends requests to is
            // no longer reached (a host listed by its own balancer once).
            for &a in &self.backends[h] {
                if (a != h || !serving_cut)
                    && self.senders[a] == 1
                    && self.reached_group(a).is_some()
                {
                    cut.push(a);
                }
            }
        }
        let (mut readers, mut writers) = (self.readers, self.writers);
        let lost_db = failed.db.then_some(self.database[h]).flatten();
        let mut cut_in_lost_group = 0;
        for &a in &cut {
            let Some(g) = self.serving_group[a] else {
                continue;
            };
            readers -= u32::from(self.dbs[g] > 0);
            writers -= u32::from(self.primaries[g] > 0);
            if lost_db.is_some_and(|(lg, _)| lg == g) {
                cut_in_lost_group += 1;
            }
        }
        if let Some((g, primary)) = lost_db {
            let still_reached = self.reached[g] - cut_in_lost_group;
            if self.dbs[g] == 1 {
                readers -= still_reached;
            }
            if primary && self.primaries[g] == 1 {
                writers -= still_reached;
            }
        }
        Service {
            reads: readers > 0,
            writes: writers > 0,
        }
    }
}

/// The number of replication group `g`, numbering new groups as they come.
fn group_id<'a>(groups: &mut HashMap<&'a str, usize>, g: &'a str) -> usize {
    let next = groups.len();
    *groups.entry(g).or_insert(next)
}

/// The single points of failure: every component, and then every host
/// whose failure costs something none of its components alone does.
/// Linear in the size of the topology.
fn spofs(t: &Topology) -> Vec<Finding> {
    let reach = Reach::new(t);
    let before = reach.service();
    let mut findings = Vec::new();
    let mut explained_hosts = HashSet::new();
    for (i, h) in t.hosts.iter().enumerate() {
        for c in &h.components {
            let kind = c.kind();
            let failed = Failure {
                lb: kind == ComponentKind::Lb,
                serving: matches!(kind, ComponentKind::Nginx | ComponentKind::App),
                db: kind == ComponentKind::Db,
            };
            let Some(what) = lost(before, reach.service_without(i, failed)) else {
                continue;
            };
            explained_hosts.insert(i);
            findings.push(component_spof(t, ComponentId::new(&h.name, kind), what));
        }
    }
    for (i, h) in t.hosts.iter().enumerate() {
        if explained_hosts.contains(&i) {
            continue;
        }
        let failed = Failure {
            lb: h.has(ComponentKind::Lb),
            serving: h.has(ComponentKind::Nginx) || h.has(ComponentKind::App),
            db: h.has(ComponentKind::Db),
        };
        if let Some(what) = lost(before, reach.service_without(i, failed)) {
            findings.push(Finding {
                id: "spof-host",
                category: Category::Spof,
                severity: Severity::High,
                subjects: vec![Subject::Host(h.name.clone())],
                title: format!("Host {} is a single point of failure", h.name),
                explanation: format!("If host {} fails, clients lose {what}.", h.name),
                fix: "Spread its components over more hosts.".to_owned(),
                action: None,
            });
        }
    }
    findings.extend(dns(t));
    findings.extend(unreachable_entries(t));
    let regions = t.regions();
    if let [region] = regions.as_slice()
        && !t.hosts.is_empty()
    {
        let name = region.unwrap_or("the default region");
        findings.push(Finding {
            id: "spof-single-region",
            category: Category::Spof,
            severity: Severity::Medium,
            subjects: Vec::new(),
            title: format!("Every host runs in one region ({name})"),
            explanation: "A single region, behind a single DNS record: if the region or the DNS \
                path fails, the whole site is down, however many servers it has."
                .to_owned(),
            fix: "Place servers in a second region and serve the site from both: a load \
                balancer and a web server with a replica there, and health-checked DNS records \
                naming both regions' entry points."
                .to_owned(),
            action: Some(FixAction::AddSecondRegion),
        });
    }
    findings
}

/// How clients find the site: no DNS server in the design, a single one,
/// and records that name dead entry points.
fn dns(t: &Topology) -> Vec<Finding> {
    let mut findings = Vec::new();
    if t.hosts.is_empty() {
        return findings;
    }
    let domain = &t.domain;
    let servers: Vec<&Host> = t.dns_servers().map(|(h, _)| h).collect();
    match servers.as_slice() {
        [] => findings.push(Finding {
            id: "spof-dns",
            category: Category::Spof,
            severity: Severity::Medium,
            subjects: Vec::new(),
            title: format!("No DNS server in the design answers for {domain}"),
            explanation: format!(
                "Clients find {domain} through DNS. Left outside the design, its record is a \
                 single one managed by hand: when an entry point dies or moves, clients are \
                 still sent to it, and a DNS outage cannot be shown."
            ),
            fix: format!(
                "Add a DNS server that answers for {domain}, then health-check its records."
            ),
            action: Some(FixAction::AddDnsServer),
        }),
        [only] => findings.push(single_dns(
            t,
            ComponentId::new(&only.name, ComponentKind::Dns),
        )),
        _ => {}
    }
    if !servers.is_empty() && !t.dns.health_checked && t.entry_points().len() > 1 {
        findings.push(Finding {
            id: "spof-dns-records",
            category: Category::Spof,
            severity: Severity::Medium,
            subjects: servers
                .iter()
                .map(|h| Subject::Component(ComponentId::new(&h.name, ComponentKind::Dns)))
                .collect(),
            title: "The DNS records name every entry point, up or down".to_owned(),
            explanation: "A plain record stays when its load balancer dies: clients that \
                resolve to it wait, then fail or try the next address, until someone edits \
                the zone."
                .to_owned(),
            fix: "Health-check the records: the DNS server answers only with the entry points \
                  that accept connections."
                .to_owned(),
            action: Some(FixAction::HealthCheckDns),
        });
    }
    findings
}

/// Two or more load balancers that clients have no way to choose between:
/// no DNS record names them and they share no virtual IP, so a client
/// knows one address and fails with it.
fn unreachable_entries(t: &Topology) -> Vec<Finding> {
    let lbs: Vec<&Host> = t.load_balancers().map(|(h, _)| h).collect();
    let alone: Vec<&Host> = lbs
        .iter()
        .copied()
        .filter(|h| h.load_balancer().is_some_and(|lb| lb.vip.is_none()))
        .collect();
    if lbs.len() < 2 || alone.is_empty() || t.dns_servers().next().is_some() {
        return Vec::new();
    }
    let names: Vec<String> = alone.iter().map(|h| h.name.to_string()).collect();
    vec![Finding {
        id: "entry-without-failover",
        category: Category::Spof,
        severity: Severity::Medium,
        subjects: alone
            .iter()
            .map(|h| Subject::Component(ComponentId::new(&h.name, ComponentKind::Lb)))
            .collect(),
        title: format!(
            "Clients cannot move between the load balancers {}",
            names.join(", ")
        ),
        explanation: "Each load balancer has its own address, and neither a DNS record             naming them all nor a shared virtual IP tells clients about the others: a client             that knows a dead one's address fails, however many others serve."
            .to_owned(),
        fix: "Give them a virtual IP: keepalived keeps the address on one that serves."
            .to_owned(),
        action: Some(FixAction::ShareVirtualIp),
    }]
}

/// The finding about `id`, the design's only DNS server.
fn single_dns(t: &Topology, id: ComponentId) -> Finding {
    Finding {
        id: "spof-dns",
        category: Category::Spof,
        severity: Severity::Medium,
        subjects: vec![Subject::Component(id.clone())],
        title: format!("The DNS server {id} is a single point of failure"),
        explanation: format!(
            "While {id} is down, clients go on with the answers they cached, for the \
             records' TTL ({} s); after that no new client finds {}, however many servers \
             answer behind it.",
            t.dns.ttl_s, t.domain
        ),
        fix: "Add a second DNS server: a client asks the next one when the first does not \
              answer."
            .to_owned(),
        action: Some(FixAction::AddDnsServer),
    }
}

fn component_spof(t: &Topology, id: ComponentId, what: &str) -> Finding {
    let subjects = vec![Subject::Component(id.clone())];
    match id.kind {
        ComponentKind::Lb => Finding {
            id: "spof-load-balancer",
            category: Category::Spof,
            severity: Severity::High,
            subjects,
            title: format!("The load balancer {id} is a single point of failure"),
            explanation: format!(
                "Only one HAProxy instance: if {id} dies, clients lose {what} even though \
                 every backend is healthy."
            ),
            fix: if t.dns_servers().next().is_some() {
                "Add a second load balancer with the same backends: the DNS records name both."
                    .to_owned()
            } else {
                "Add a second load balancer with the same backends, sharing a virtual IP with \
                 the first: keepalived moves the address to whichever serves."
                    .to_owned()
            },
            action: Some(if t.dns_servers().next().is_some() {
                FixAction::AddLoadBalancer
            } else {
                FixAction::ShareVirtualIp
            }),
        },
        ComponentKind::Db => {
            let has_replica = t
                .host(&id.host)
                .and_then(|h| h.database())
                .is_some_and(|db| t.replicas_of_group(&db.group).next().is_some());
            Finding {
                id: "spof-primary-database",
                category: Category::Spof,
                severity: Severity::High,
                subjects,
                title: format!("Every write depends on the single primary {id}"),
                explanation: format!(
                    "Writes (INSERT/UPDATE/DELETE) go to one primary: if {id} fails, clients \
                     lose {what} until a replica is promoted and the app servers' writers are \
                     repointed."
                ),
                fix: match (has_replica, t.databases.failover) {
                    (false, _) => {
                        "Add a replica that can be promoted when the primary fails.".to_owned()
                    }
                    (true, Failover::Manual) => {
                        "Enable automatic failover: when independent sources agree the primary \
                         is gone, topolab fences it and promotes the most advanced replica, \
                         without waiting for a person (or promote by hand: topolab promote). \
                         Semi-sync replication lets the promotion lose no acknowledged write."
                            .to_owned()
                    }
                    (
                        true,
                        Failover::Automatic {
                            agree,
                            quiet_s,
                            accept_loss,
                            ..
                        },
                    ) => format!(
                        "Automatic failover is on. What remains: writes fail for the outage \
                         window (detection, about a second once {} of 3 sources agree, plus \
                         the promotion); {}; and it acts only while a topolab process watches \
                         the lab, at most once in {} s.",
                        agree,
                        if accept_loss {
                            "it promotes even when acknowledged writes would be lost"
                        } else if t.databases.replication == ReplicationMode::SemiSync {
                            "it refuses to lose acknowledged writes, and semi-sync keeps the \
                             replica holding them unless it fell back to async"
                        } else {
                            "with async replication it refuses a promotion that would lose \
                             acknowledged writes, so the outage can last until a person decides"
                        },
                        quiet_s
                    ),
                },
                action: (has_replica && t.databases.failover.is_manual())
                    .then_some(FixAction::EnableAutomaticFailover),
            }
        }
        ComponentKind::Nginx | ComponentKind::App => Finding {
            id: "spof-web-server",
            category: Category::Spof,
            severity: Severity::High,
            subjects,
            title: format!(
                "The {} {id} is a single point of failure",
                id.kind.program()
            ),
            explanation: format!(
                "Only one server handles requests: if {id} fails, clients lose {what}."
            ),
            fix: "Run a second web/app server behind a load balancer.".to_owned(),
            action: None,
        },
        // Losing it costs no request until cached answers expire: judged
        // by `dns()`, not by the requests' reach.
        ComponentKind::Dns => single_dns(t, id),
    }
}

fn security(t: &Topology) -> Vec<Finding> {
    let mut findings = Vec::new();
    let lbs: Vec<Subject> = t
        .load_balancers()
        .map(|(h, _)| Subject::Component(ComponentId::new(&h.name, ComponentKind::Lb)))
        .collect();
    let exposed = dbs_reachable_from_lbs(t);
    if !t.security.segmentation || !exposed.is_empty() {
        let subjects: Vec<Subject> = if exposed.is_empty() {
            t.databases()
                .map(|(h, _)| Subject::Component(ComponentId::new(&h.name, ComponentKind::Db)))
                .collect()
        } else {
            exposed
        };
        findings.push(Finding {
            id: "security-no-segmentation",
            category: Category::Security,
            severity: Severity::Medium,
            subjects,
            title: "No firewall between tiers".to_owned(),
            explanation: "Every host shares one network, so the load balancer (and anything \
                that compromises it) can reach the database ports directly."
                .to_owned(),
            fix: "Put each tier on its own network so that only app servers reach the databases."
                .to_owned(),
            action: Some(FixAction::SegmentTiers),
        });
    }
    if !t.security.tls {
        let has_lb = !lbs.is_empty();
        findings.push(Finding {
            id: "security-no-tls",
            category: Category::Security,
            severity: Severity::High,
            subjects: lbs,
            title: "No HTTPS".to_owned(),
            explanation: "Clients talk plain HTTP: anyone on the path can read and change \
                requests, passwords and cookies."
                .to_owned(),
            fix: if has_lb {
                "Terminate TLS at the load balancer with a certificate for the site.".to_owned()
            } else {
                "Add a load balancer and terminate TLS there.".to_owned()
            },
            action: has_lb.then_some(FixAction::EnableTls),
        });
    }
    findings
}

/// The databases a load balancer can open a connection to: on a shared
/// network where the database listens, or on the load balancer's own host.
fn dbs_reachable_from_lbs(t: &Topology) -> Vec<Subject> {
    let db_net = serving_network(t, ComponentKind::Db);
    let db_subject = |h: &Host| Subject::Component(ComponentId::new(&h.name, ComponentKind::Db));
    let mut exposed = BTreeSet::new();
    for (lb_host, _) in t.load_balancers() {
        if host_networks(t, lb_host).contains(&db_net) {
            // One shared network exposes every database: no need to look
            // further.
            exposed.extend(t.databases().map(|(h, _)| db_subject(h)));
            break;
        }
        if lb_host.has(ComponentKind::Db) {
            exposed.insert(db_subject(lb_host));
        }
    }
    exposed.into_iter().collect()
}

fn monitoring(t: &Topology) -> Vec<Finding> {
    if t.monitoring.enabled {
        return Vec::new();
    }
    vec![Finding {
        id: "monitoring-none",
        category: Category::Monitoring,
        severity: Severity::Medium,
        subjects: Vec::new(),
        title: "No monitoring".to_owned(),
        explanation: "Nothing collects health, metrics or alerts: a dead backend, a full disk \
            or a lagging replica goes unnoticed until users complain."
            .to_owned(),
        fix: "Enable monitoring: Prometheus scraping HAProxy's metrics and a MySQL exporter on \
            each database, with alerts on backends DOWN and replication lag."
            .to_owned(),
        action: Some(FixAction::EnableMonitoring),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppServer, Backend, Component, Database, LoadBalancer};

    /// What clients can do when the components in `dead` are gone, found
    /// the slow and obvious way: the definition the counting in [`Reach`]
    /// must agree with.
    fn service_by_search(t: &Topology, dead: &BTreeSet<ComponentId>) -> Service {
        let alive = |h: &HostName, k| {
            t.host(h).is_some_and(|host| host.has(k)) && !dead.contains(&ComponentId::new(h, k))
        };
        let serving = |h: &HostName| alive(h, ComponentKind::Nginx) && alive(h, ComponentKind::App);
        let mut apps: BTreeSet<&HostName> = BTreeSet::new();
        let lbs: Vec<_> = t.load_balancers().collect();
        if lbs.is_empty() {
            apps.extend(t.hosts.iter().map(|h| &h.name).filter(|h| serving(h)));
        } else {
            for (lb_host, lb) in lbs {
                if alive(&lb_host.name, ComponentKind::Lb) {
                    apps.extend(lb.backends.iter().map(|b| &b.host).filter(|h| serving(h)));
                }
            }
        }
        let mut s = Service {
            reads: false,
            writes: false,
        };
        for app_host in apps {
            let Some(app) = t.host(app_host).and_then(|h| h.app_server()) else {
                continue;
            };
            for (db_host, db) in t.databases() {
                if db.group == app.group && alive(&db_host.name, ComponentKind::Db) {
                    s.reads = true;
                    s.writes |= db.role == Role::Primary;
                }
            }
        }
        s
    }

    /// A small deterministic random number generator (xorshift).
    struct Dice(u64);

    impl Dice {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A random topology of up to 7 hosts, each name unique, with any mix
    /// of components, backends, groups and roles (valid or not).
    fn random_topology(dice: &mut Dice) -> Topology {
        let mut t = Topology::new("random");
        let n = 1 + dice.below(7);
        let names: Vec<HostName> = (0..n).map(|i| HostName::new(format!("h{i}"))).collect();
        let groups = ["main", "other"];
        for name in &names {
            let mut host = Host::new(name.clone());
            if dice.below(4) == 0 {
                let backends = names
                    .iter()
                    .filter(|_| dice.below(2) == 0)
                    .map(|b| Backend::new(b.clone()))
                    .collect();
                host.components.push(Component::Lb(LoadBalancer {
                    backends,
                    ..LoadBalancer::default()
                }));
            }
            if dice.below(3) != 0 {
                host.components
                    .push(Component::with_defaults(ComponentKind::Nginx));
            }
            if dice.below(3) != 0 {
                host.components.push(Component::App(AppServer {
                    group: groups[dice.below(2)].to_owned(),
                    ..AppServer::default()
                }));
            }
            if dice.below(2) == 0 {
                let role = if dice.below(2) == 0 {
                    Role::Primary
                } else {
                    Role::Replica {
                        of: names[dice.below(n)].clone(),
                    }
                };
                host.components.push(Component::Db(Database {
                    role,
                    group: groups[dice.below(2)].to_owned(),
                    ..Database::default()
                }));
            }
            t.hosts.push(host);
        }
        t
    }

    #[test]
    fn counting_agrees_with_searching_for_every_failure() {
        let mut dice = Dice(0x5eed_1234_abcd_ef01);
        let mut topologies: Vec<Topology> = crate::preset::PRESETS
            .iter()
            .filter_map(|p| p.topology().ok())
            .collect();
        topologies.extend((0..3000).map(|_| random_topology(&mut dice)));
        for t in &topologies {
            let reach = Reach::new(t);
            let nothing = BTreeSet::new();
            assert_eq!(reach.service(), service_by_search(t, &nothing), "{t:#?}");
            for (i, h) in t.hosts.iter().enumerate() {
                let ids: Vec<ComponentId> = h
                    .components
                    .iter()
                    .map(|c| ComponentId::new(&h.name, c.kind()))
                    .collect();
                for id in &ids {
                    let failed = Failure {
                        lb: id.kind == ComponentKind::Lb,
                        serving: matches!(id.kind, ComponentKind::Nginx | ComponentKind::App),
                        db: id.kind == ComponentKind::Db,
                    };
                    assert_eq!(
                        reach.service_without(i, failed),
                        service_by_search(t, &BTreeSet::from([id.clone()])),
                        "{id} failing in {t:#?}"
                    );
                }
                let whole = Failure {
                    lb: h.has(ComponentKind::Lb),
                    serving: h.has(ComponentKind::Nginx) || h.has(ComponentKind::App),
                    db: h.has(ComponentKind::Db),
                };
                assert_eq!(
                    reach.service_without(i, whole),
                    service_by_search(t, &ids.into_iter().collect()),
                    "host {} failing in {t:#?}",
                    h.name
                );
            }
        }
    }

    #[test]
    fn a_200_host_design_is_reviewed_with_its_single_points_of_failure() {
        let mut t = Topology::new("big");
        let webs: Vec<HostName> = (1..=197)
            .map(|i| HostName::new(format!("web-{i:03}")))
            .collect();
        for lb in ["lb-01", "lb-02"] {
            t.hosts
                .push(Host::new(lb).with([Component::Lb(LoadBalancer {
                    backends: webs.iter().cloned().map(Backend::new).collect(),
                    ..LoadBalancer::default()
                })]));
        }
        t.hosts
            .push(Host::new("db-01").with([Component::with_defaults(ComponentKind::Db)]));
        for w in &webs {
            t.hosts.push(Host::new(w.clone()).with([
                Component::with_defaults(ComponentKind::Nginx),
                Component::with_defaults(ComponentKind::App),
                Component::Db(Database {
                    role: Role::Replica {
                        of: HostName::new("db-01"),
                    },
                    ..Database::default()
                }),
            ]));
        }
        assert_eq!(crate::model::validate(&t), vec![]);
        let ids: Vec<&str> = review(&t).iter().map(|f| f.id).collect();
        // Only the primary takes writes; two balancers and 197 servers
        // leave no other single point of failure, but clients have no way
        // to move between the balancers.
        assert_eq!(
            ids,
            [
                "spof-primary-database",
                "spof-dns",
                "entry-without-failover",
                "spof-single-region",
                "security-no-segmentation",
                "security-no-tls",
                "monitoring-none"
            ]
        );
    }
}
