//! `review()`: design findings (single points of failure, security and
//! monitoring gaps), computed from the graph of the topology.

use std::collections::BTreeSet;

use serde::Serialize;

use super::fix::FixAction;
use super::names::{ComponentId, ComponentKind, HostName, Subject};
use super::network::{host_networks, serving_network};
use super::topology::{Role, Topology};

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

/// What clients can do when the components in `dead` are gone. A request
/// enters at a load balancer (or, without one, at a web server), reaches a
/// host whose Nginx and app are alive, and the app writes to its group's
/// primary and reads from the primary or any replica.
fn service(t: &Topology, dead: &BTreeSet<ComponentId>) -> Service {
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
            if db.group != app.group || !alive(&db_host.name, ComponentKind::Db) {
                continue;
            }
            s.reads = true;
            s.writes |= db.role == Role::Primary;
        }
    }
    s
}

fn lost(before: Service, after: Service) -> Option<&'static str> {
    match (before.reads && !after.reads, before.writes && !after.writes) {
        (true, true) => Some("reads and writes"),
        (true, false) => Some("reads"),
        (false, true) => Some("writes"),
        (false, false) => None,
    }
}

fn spofs(t: &Topology) -> Vec<Finding> {
    let before = service(t, &BTreeSet::new());
    let mut findings = Vec::new();
    let mut explained_hosts = BTreeSet::new();
    for (id, _) in t.components() {
        let after = service(t, &BTreeSet::from([id.clone()]));
        let Some(what) = lost(before, after) else {
            continue;
        };
        explained_hosts.insert(id.host.clone());
        findings.push(component_spof(t, id, what));
    }
    for h in &t.hosts {
        if explained_hosts.contains(&h.name) {
            continue;
        }
        let dead = t
            .components()
            .filter(|(id, _)| id.host == h.name)
            .map(|(id, _)| id)
            .collect();
        if let Some(what) = lost(before, service(t, &dead)) {
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
            fix: "Place servers in a second region and serve the site from both (DNS failover \
                or anycast)."
                .to_owned(),
            action: None,
        });
    }
    findings
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
            fix: "Add a second load balancer with the same backends, reached through a second \
                DNS record or a floating IP."
                .to_owned(),
            action: Some(FixAction::AddLoadBalancer),
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
                fix: if has_replica {
                    "Be ready to promote the replica (topolab promote), and consider semi-sync \
                     replication so promotion loses no acknowledged write."
                        .to_owned()
                } else {
                    "Add a replica that can be promoted when the primary fails.".to_owned()
                },
                action: None,
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
    let mut exposed = BTreeSet::new();
    for (lb_host, _) in t.load_balancers() {
        let lb_nets = host_networks(t, lb_host);
        for (db_host, _) in t.databases() {
            if db_host.name == lb_host.name || lb_nets.contains(&db_net) {
                exposed.insert(Subject::Component(ComponentId::new(
                    &db_host.name,
                    ComponentKind::Db,
                )));
            }
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
