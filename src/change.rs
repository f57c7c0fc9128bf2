//! Changing a running lab: from the topology a lab runs (as launched and as
//! changed since, with its current database roles) and an edited one, the
//! ordered actions that take the lab from one to the other, each with its
//! impact on requests. Pure: `lab::apply` carries the actions out, the CLI
//! prints them, the app shows them before it applies.
//!
//! Each action also says how the lab's recorded topology changes once it
//! is done ([`Step::record`]), so a lab whose apply was interrupted records
//! what runs, and planning again from there finishes the job.
//!
//! Where the canvas draws a host, the description and the name are no
//! change. Roles are the lab's: a promotion made `web-02` the primary, so
//! an edited file that still says `web-01` changes no role (promotion
//! does that).

use std::fmt;

use crate::model::{
    AppServer, Component, ComponentKind, DnsZone, Failover, Flavor, Host, HostName, HostSize,
    LabNetwork, LoadBalancer, Problem, ReplicationMode, Role, Topology, Wan, WebServer, lab_region,
    networks, spans_regions, validate,
};

/// What an action does to requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    /// No request should fail.
    Hitless,
    /// One component restarts; the load balancers route around it.
    Brief,
    /// Data or a whole host goes away: applied only when confirmed.
    Destructive,
}

impl Impact {
    /// The class in one word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hitless => "hitless",
            Self::Brief => "brief",
            Self::Destructive => "destructive",
        }
    }
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change to the running lab.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// New CPU and memory limits for a host's containers.
    Resize {
        /// The host.
        host: HostName,
        /// Its new size.
        size: HostSize,
    },
    /// Something only the lab's record holds: nothing runs differently.
    Record(Record),
    /// Asynchronous or semi-synchronous replication, switched live.
    Replication(ReplicationMode),
    /// Prometheus and the exporters start or stop.
    Monitoring(bool),
    /// A new host with its components, placed after `after` in the file.
    AddHost {
        /// The host as the edited topology has it.
        host: Box<Host>,
        /// The host it follows in the edited file (`None`: first).
        after: Option<HostName>,
    },
    /// A new component on a host that runs.
    AddComponent {
        /// The host.
        host: HostName,
        /// The component.
        component: Component,
    },
    /// An app server's new settings.
    App {
        /// The host.
        host: HostName,
        /// Its settings.
        app: AppServer,
    },
    /// Nginx's new settings.
    Web {
        /// The host.
        host: HostName,
        /// Its settings.
        web: WebServer,
    },
    /// A load balancer's new settings (algorithm, servers, checks, ...).
    LoadBalancer {
        /// The host.
        host: HostName,
        /// Its settings.
        lb: Box<LoadBalancer>,
    },
    /// The DNS zone's settings (TTL, health-checked records): every DNS
    /// server re-reads its zone.
    Dns(DnsZone),
    /// A component goes, its host stays.
    RemoveComponent {
        /// The host.
        host: HostName,
        /// The component's kind.
        kind: ComponentKind,
    },
    /// A host goes with everything on it.
    RemoveHost(HostName),
}

/// A difference only the record holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A host's region, in a design of one region (where the region's
    /// name changes nothing in the lab).
    Region {
        /// The host.
        host: HostName,
        /// Its region.
        region: Option<String>,
    },
    /// The database flavor named, when the lab's profile runs the same
    /// program either way.
    Flavor(Flavor),
    /// The failover policy: the orchestrator reads it from the record.
    Failover(Failover),
    /// The WAN's settings, in a design of one region (no router runs).
    Wan(Wan),
}

impl Step {
    /// The lab's recorded topology once this step is done.
    pub fn record(&self, t: &mut Topology) {
        let component = |t: &mut Topology, host: &HostName, c: Component| {
            if let Some(h) = t.host_mut(host) {
                match h.components.iter_mut().find(|x| x.kind() == c.kind()) {
                    Some(slot) => *slot = c,
                    None => h.components.push(c),
                }
            }
        };
        match self {
            Self::Resize { host, size } => {
                if let Some(h) = t.host_mut(host) {
                    h.size = *size;
                }
            }
            Self::Record(Record::Region { host, region }) => {
                if let Some(h) = t.host_mut(host) {
                    h.region.clone_from(region);
                }
            }
            Self::Record(Record::Flavor(f)) => t.databases.flavor = *f,
            Self::Record(Record::Failover(f)) => t.databases.failover = *f,
            Self::Record(Record::Wan(w)) => t.wan = *w,
            Self::Replication(mode) => t.databases.replication = *mode,
            Self::Monitoring(on) => t.monitoring.enabled = *on,
            Self::Dns(zone) => t.dns = *zone,
            Self::AddHost { host, after } => {
                // After the host it follows in the edited file; at the end
                // when that one is not there yet.
                let at = after.as_ref().map_or(0, |a| {
                    t.hosts
                        .iter()
                        .position(|h| &h.name == a)
                        .map_or(t.hosts.len(), |i| i + 1)
                });
                t.hosts.insert(at, host.as_ref().clone());
            }
            Self::AddComponent { host, component: c } => component(t, host, c.clone()),
            Self::App { host, app } => component(t, host, Component::App(app.clone())),
            Self::Web { host, web } => component(t, host, Component::Nginx(web.clone())),
            Self::LoadBalancer { host, lb } => {
                component(t, host, Component::Lb(lb.as_ref().clone()));
            }
            Self::RemoveComponent { host, kind } => {
                if let Some(h) = t.host_mut(host) {
                    h.components.retain(|c| c.kind() != *kind);
                }
            }
            Self::RemoveHost(host) => t.hosts.retain(|h| &h.name != host),
        }
    }
}

/// An action of a plan: a step, its impact, and what it does in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// What the lab does.
    pub step: Step,
    /// What it does to requests.
    pub impact: Impact,
    /// What it does, in one line.
    pub summary: String,
    /// Why it has its impact (and what is lost, when destructive).
    pub why: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} ({})", self.impact, self.summary, self.why)
    }
}

/// The way from a running lab to an edited design.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangePlan {
    /// The actions, in the order they run.
    pub actions: Vec<Action>,
    /// Differences a running lab cannot take, each with why: the edited
    /// design needs a relaunch (`topolab down`, then `up`).
    pub relaunch: Vec<String>,
    /// What the plan keeps from the lab instead of the design, in words.
    pub notes: Vec<String>,
    /// What the lab records once every action is done.
    pub target: Topology,
}

impl ChangePlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.relaunch.is_empty()
    }

    /// The destructive actions (applied only when confirmed).
    pub fn destructive(&self) -> impl Iterator<Item = &Action> {
        self.actions
            .iter()
            .filter(|a| a.impact == Impact::Destructive)
    }

    /// How many changes the plan makes, counting each difference needing a
    /// relaunch as one.
    pub fn len(&self) -> usize {
        self.actions.len() + self.relaunch.len()
    }
}

impl ChangePlan {
    /// The plan as Markdown, for `--report` and the app's Copy: each
    /// action with its class, why, and how long it took when it ran.
    pub fn markdown(&self, lab: &str, took: &[std::time::Duration]) -> String {
        let mut o = format!("# Changes applied to lab {lab}\n\n");
        if self.is_empty() {
            o.push_str("No changes: the lab runs this design already.\n");
        }
        if !self.actions.is_empty() {
            o.push_str("| # | Action | Impact | Why | Took |\n|---|---|---|---|---|\n");
            for (i, a) in self.actions.iter().enumerate() {
                let t = took
                    .get(i)
                    .map_or("—".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
                o.push_str(&format!(
                    "| {} | {} | {} | {} | {t} |\n",
                    i + 1,
                    a.summary.replace('|', "\\|"),
                    a.impact,
                    a.why.replace('|', "\\|")
                ));
            }
        }
        if !self.relaunch.is_empty() {
            o.push_str("\nNeeds a relaunch (a running lab cannot take it):\n\n");
            for r in &self.relaunch {
                o.push_str(&format!("- {r}\n"));
            }
        }
        if !self.notes.is_empty() {
            o.push('\n');
            for n in &self.notes {
                o.push_str(&format!("- Note: {n}\n"));
            }
        }
        o
    }
}

/// Why there is no plan.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The edited topology is not valid: nothing is applied.
    #[error("the edited topology is not valid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// What the lab runs beyond its topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    /// The database program that runs.
    pub flavor: Flavor,
    /// The program the lab's image profile would run for the edited
    /// design's flavor.
    pub would_run: Flavor,
}

/// The plan taking a lab running `lab` (with `running`) to `edited`.
pub fn plan(
    lab: &Topology,
    edited: &Topology,
    running: Running,
) -> Result<ChangePlan, ChangeError> {
    let mut notes = Vec::new();
    let target = target(lab, edited, &mut notes);
    let problems = validate(&target);
    if !problems.is_empty() {
        return Err(ChangeError::Invalid(problems));
    }
    let relaunch = needs_relaunch(lab, &target, running);
    let mut actions = Vec::new();
    if relaunch.is_empty() {
        actions = steps(lab, &target, running);
    }
    Ok(ChangePlan {
        actions,
        relaunch,
        notes,
        target,
    })
}

/// The edited design as the lab will record it: the lab's name,
/// description and database roles, everything else from the design.
fn target(lab: &Topology, edited: &Topology, notes: &mut Vec<String>) -> Topology {
    let mut t = edited.clone();
    t.name.clone_from(&lab.name);
    t.description.clone_from(&lab.description);
    for host in &mut t.hosts {
        let name = host.name.clone();
        let Some(db) = host.database_mut() else {
            continue;
        };
        let Some(running) = lab.host(&name).and_then(Host::database) else {
            continue;
        };
        if running.group == db.group && running.role != db.role {
            notes.push(format!(
                "{name}/db keeps its role in the lab ({}): apply changes no roles, promote does",
                role_text(&running.role)
            ));
            db.role = running.role.clone();
        }
    }
    // A new replica of a database that is no longer its group's primary
    // replicates from the group's primary.
    let primaries: Vec<(String, HostName)> = t
        .databases()
        .filter(|(_, d)| d.role == Role::Primary)
        .map(|(h, d)| (d.group.clone(), h.name.clone()))
        .collect();
    for host in &mut t.hosts {
        let name = host.name.clone();
        let new = lab.host(&name).and_then(Host::database).is_none();
        let Some(db) = host.database_mut() else {
            continue;
        };
        if let (true, Role::Replica { of }) = (new, &db.role) {
            let primary = primaries.iter().find(|(g, _)| *g == db.group);
            if let Some((_, p)) = primary.filter(|(_, p)| p != of) {
                notes.push(format!(
                    "{name}/db replicates from {p}/db, its group's primary in the lab (the design says {of})"
                ));
                db.role = Role::Replica { of: p.clone() };
            }
        }
    }
    t
}

fn role_text(role: &Role) -> String {
    match role {
        Role::Primary => "primary".to_owned(),
        Role::Replica { of } => format!("replica of {of}"),
    }
}

/// The differences no running lab can take, each with why.
fn needs_relaunch(lab: &Topology, t: &Topology, running: Running) -> Vec<String> {
    let mut out = Vec::new();
    if lab.domain != t.domain {
        out.push(format!(
            "the domain {} → {}: the lab's certificate and checks are made for its domain at launch",
            lab.domain, t.domain
        ));
    }
    if lab.security.tls != t.security.tls {
        out.push(
            "TLS on or off: the HTTPS port is published when a host's container is created, \
             and Docker cannot publish a port on a running container"
                .to_owned(),
        );
    }
    if lab.security.segmentation != t.security.segmentation {
        out.push(
            "segmentation on or off: every host moves to other networks, with other addresses"
                .to_owned(),
        );
    }
    if lab.databases.flavor != t.databases.flavor && running.would_run != running.flavor {
        out.push(format!(
            "the database flavor {} → {}: another program cannot read the data, every database starts empty (destructive)",
            running.flavor.as_str(),
            running.would_run.as_str()
        ));
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        match (before.dns_server(), host.dns_server()) {
            (Some(a), Some(b)) if a.port != b.port => out.push(format!(
                "{}/dns's port: its published port leads to the port it had at launch",
                host.name
            )),
            (None, Some(_)) | (Some(_), None) => out.push(format!(
                "a DNS server on {} (an existing host): its port is published when the host \
                 is created; add a new host instead",
                host.name
            )),
            _ => {}
        }
    }
    if spans_regions(lab) || spans_regions(t) {
        let names = |x: &Topology| {
            let nets: Vec<String> = networks(x).iter().map(LabNetwork::name).collect();
            nets.join(", ")
        };
        if networks(lab) != networks(t) {
            out.push(format!(
                "the regions' networks ({} → {}): each region has its own networks and the \
                 router joins them, made at launch",
                names(lab),
                names(t)
            ));
        } else {
            for host in &t.hosts {
                if let Some(before) = lab.host(&host.name)
                    && lab_region(lab, before) != lab_region(t, host)
                {
                    out.push(format!(
                        "{} moves to region {}: its addresses are on another region's networks",
                        host.name,
                        lab_region(t, host).unwrap_or_default()
                    ));
                }
            }
        }
        if lab.wan != t.wan {
            out.push(format!(
                "the WAN's latency {} → {} ms: the router sets it when it starts",
                lab.wan.latency_ms, t.wan.latency_ms
            ));
        }
    }
    if lab.vips() != t.vips() {
        let said = |x: &Topology| {
            let vips: Vec<String> = x
                .vips()
                .iter()
                .map(|v| {
                    let members: Vec<String> = v.members.iter().map(ToString::to_string).collect();
                    format!("{} on {}", v.label(), members.join(", "))
                })
                .collect();
            if vips.is_empty() {
                "none".to_owned()
            } else {
                vips.join("; ")
            }
        };
        out.push(format!(
            "the virtual IPs ({} → {}): keepalived and its check are set up beside each \
             member at launch",
            said(lab),
            said(t)
        ));
    }
    let lbs = |x: &Topology| x.load_balancers().next().is_some();
    if lbs(lab) != lbs(t) {
        out.push(
            "clients would enter through other hosts (load balancers come or go): \
             entry ports are published at launch"
                .to_owned(),
        );
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        if let (Some(a), Some(b)) = (before.load_balancer(), host.load_balancer()) {
            if a.port != b.port || a.tls_port != b.tls_port {
                out.push(format!(
                    "{}/lb's ports: its published ports lead to the ports it had at launch",
                    host.name
                ));
            }
            if a.published_port != b.published_port {
                out.push(format!(
                    "{}/lb's published port: Docker publishes a port only when a container is created",
                    host.name
                ));
            }
        }
        if let (Some(a), Some(b)) = (before.database(), host.database()) {
            if a.port != b.port {
                out.push(format!(
                    "{}/db's port: every app and replica connects to it where it listens",
                    host.name
                ));
            }
            if a.group != b.group {
                out.push(format!(
                    "{}/db's replication group: its data belongs to its group",
                    host.name
                ));
            }
        }
        if (before.load_balancer().is_none() && host.load_balancer().is_some())
            || (before.load_balancer().is_some() && host.load_balancer().is_none())
        {
            out.push(format!(
                "a load balancer on {} (an existing host): its entry port is published at launch; add a new host instead",
                host.name
            ));
        }
    }
    // Without load balancers, the web servers are the entry points.
    if !lbs(t) {
        for host in &t.hosts {
            if let Some(before) = lab.host(&host.name)
                && before.web_server().is_some() != host.web_server().is_some()
            {
                out.push(format!(
                    "Nginx on {} (an entry point without a load balancer): its port is published at launch",
                    host.name
                ));
            }
        }
    }
    out
}

fn kinds_text(host: &Host) -> String {
    host.components
        .iter()
        .map(|c| match c {
            Component::Db(db) => match &db.role {
                Role::Primary => "db (primary)".to_owned(),
                Role::Replica { of } => format!("db (replica of {of})"),
            },
            other => other.kind().as_str().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actions, in a safe order: sizes and records, replication mode, new
/// hosts and components (ready before anything sends them requests),
/// settings, the load balancers (which drain what leaves them), then what
/// goes.
fn steps(lab: &Topology, t: &Topology, running: Running) -> Vec<Action> {
    let mut out = Vec::new();
    // In a design of regions, regions are networks: changes to them need a
    // relaunch (see `needs_relaunch`).
    let regional = spans_regions(lab) || spans_regions(t);
    let mut push = |step: Step, impact: Impact, summary: String, why: &str| {
        out.push(Action {
            step,
            impact,
            summary,
            why: why.to_owned(),
        });
    };
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        if before.size != host.size {
            push(
                Step::Resize {
                    host: host.name.clone(),
                    size: host.size,
                },
                Impact::Hitless,
                format!("resize {}: {} → {}", host.name, before.size, host.size),
                "the running containers' limits change in place (docker update)",
            );
        }
        if before.region != host.region && !regional {
            push(
                Step::Record(Record::Region {
                    host: host.name.clone(),
                    region: host.region.clone(),
                }),
                Impact::Hitless,
                format!(
                    "{} moves to region {}",
                    host.name,
                    host.region.as_deref().unwrap_or("(default)")
                ),
                "recorded only: the design runs in one region, whose name changes nothing in the lab",
            );
        }
    }
    if lab.wan != t.wan && !regional {
        push(
            Step::Record(Record::Wan(t.wan)),
            Impact::Hitless,
            format!(
                "the WAN's latency {} → {} ms",
                lab.wan.latency_ms, t.wan.latency_ms
            ),
            "recorded only: the design runs in one region, so no router delays anything",
        );
    }
    if lab.databases.flavor != t.databases.flavor && running.would_run == running.flavor {
        push(
            Step::Record(Record::Flavor(t.databases.flavor)),
            Impact::Hitless,
            format!("the design names {} databases", t.databases.flavor.as_str()),
            &format!(
                "recorded only: this lab's images run {} either way",
                running.flavor.as_str()
            ),
        );
    }
    if lab.databases.failover != t.databases.failover {
        push(
            Step::Record(Record::Failover(t.databases.failover)),
            Impact::Hitless,
            match t.databases.failover {
                Failover::Manual => "failover becomes manual".to_owned(),
                Failover::Automatic { agree, quiet_s, .. } => format!(
                    "failover becomes automatic ({agree} of 3 sources agree, none within {quiet_s} s of another)"
                ),
            },
            "recorded: the orchestrator of each topolab process watching the lab reads it",
        );
    }
    let semi_sync_on = t.databases.replication == ReplicationMode::SemiSync;
    if lab.databases.replication != t.databases.replication && semi_sync_on {
        push(
            Step::Replication(t.databases.replication),
            Impact::Hitless,
            "replication becomes semi-synchronous".to_owned(),
            "SET GLOBAL on every database, replicas first: no restart, no lost connection",
        );
    }
    if !lab.monitoring.enabled && t.monitoring.enabled {
        push(
            Step::Monitoring(true),
            Impact::Hitless,
            "monitoring starts: Prometheus and one exporter per database".to_owned(),
            "new containers beside the lab; the load balancers reload to serve metrics",
        );
    }
    // New hosts: those without a load balancer first, so a new load
    // balancer's servers answer before it starts.
    let mut new_hosts: Vec<(usize, &Host)> = t
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| lab.host(&h.name).is_none())
        .collect();
    new_hosts.sort_by_key(|(i, h)| (h.load_balancer().is_some(), *i));
    for (i, host) in new_hosts {
        let after = i.checked_sub(1).map(|p| t.hosts[p].name.clone());
        let mut host = host.clone();
        host.position = None;
        let summary = format!("add host {} ({})", host.name, kinds_text(&host));
        let why = if host.load_balancer().is_some() {
            "a new load balancer with its own published port: clients that use it find it ready"
        } else if host.database().is_some() {
            "takes no traffic until a load balancer sends it some; a new replica is seeded \
             from its primary by GTID and read by the apps once it has caught up"
        } else {
            "takes no traffic until a load balancer sends it some"
        };
        push(
            Step::AddHost {
                host: Box::new(host),
                after,
            },
            Impact::Hitless,
            summary,
            why,
        );
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        for c in &host.components {
            if before.has(c.kind()) || c.kind() == ComponentKind::Lb {
                continue;
            }
            let what = match c {
                Component::Db(db) => format!("db ({})", role_text(&db.role)),
                other => other.kind().as_str().to_owned(),
            };
            push(
                Step::AddComponent {
                    host: host.name.clone(),
                    component: c.clone(),
                },
                Impact::Hitless,
                format!("add {what} on {}", host.name),
                "a new container in the host; nothing sends it requests before it is ready",
            );
        }
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        if let (Some(a), Some(b)) = (before.app_server(), host.app_server())
            && a != b
        {
            let (impact, why) = if a.release != b.release && a.port == b.port {
                (
                    Impact::Hitless,
                    "drained, its `current` release switched and the app restarted, then back in rotation",
                )
            } else if a.port == b.port {
                (
                    Impact::Hitless,
                    "repointed through its admin endpoint, without a restart",
                )
            } else {
                (
                    Impact::Brief,
                    "the app restarts on its new port; the load balancers route around its host meanwhile",
                )
            };
            let mut said = Vec::new();
            if a.port != b.port {
                said.push(format!("port {} → {}", a.port, b.port));
            }
            if a.group != b.group {
                said.push(format!("group {} → {}", a.group, b.group));
            }
            if a.read_your_writes != b.read_your_writes {
                said.push(format!(
                    "read-your-writes {} → {}",
                    a.read_your_writes.describe(),
                    b.read_your_writes.describe()
                ));
            }
            if a.release != b.release {
                said.push(format!("release {} → {}", a.release, b.release));
            }
            push(
                Step::App {
                    host: host.name.clone(),
                    app: b.clone(),
                },
                impact,
                format!("{}/app: {}", host.name, said.join(", ")),
                why,
            );
        }
        if let (Some(a), Some(b)) = (before.web_server(), host.web_server())
            && a != b
        {
            push(
                Step::Web {
                    host: host.name.clone(),
                    web: b.clone(),
                },
                Impact::Brief,
                format!("{}/nginx: port {} → {}", host.name, a.port, b.port),
                "Nginx reloads onto its new port; the load balancers route around its host until they follow",
            );
        }
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        if let (Some(a), Some(b)) = (before.load_balancer(), host.load_balancer())
            && a != b
        {
            let said = lb_changes(a, b);
            let why = if weights_only(a, b) {
                "the runtime API sets the weights; the file is kept for restarts"
            } else if b
                .backends
                .iter()
                .all(|x| a.backends.iter().any(|y| y.host == x.host))
                && a.backends.len() > b.backends.len()
            {
                "servers that leave are drained first; HAProxy reloads without dropping a connection, keeping its servers' states"
            } else {
                "HAProxy reloads without dropping a connection, keeping its servers' states"
            };
            push(
                Step::LoadBalancer {
                    host: host.name.clone(),
                    lb: Box::new(b.clone()),
                },
                Impact::Hitless,
                format!("{}/lb: {}", host.name, said.join("; ")),
                why,
            );
        }
    }
    if lab.dns != t.dns {
        let mut said = Vec::new();
        if lab.dns.ttl_s != t.dns.ttl_s {
            said.push(format!("TTL {} s → {} s", lab.dns.ttl_s, t.dns.ttl_s));
        }
        if lab.dns.health_checked != t.dns.health_checked {
            said.push(if t.dns.health_checked {
                "records health-checked".to_owned()
            } else {
                "plain records (not health-checked)".to_owned()
            });
        }
        let why = if t.dns_servers().next().is_some() {
            format!(
                "each DNS server re-reads its zone at once; clients see the change once their \
                 cached answer expires (up to {} s)",
                lab.dns.ttl_s
            )
        } else {
            "recorded: no DNS server runs".to_owned()
        };
        push(
            Step::Dns(t.dns),
            Impact::Hitless,
            format!("the DNS records: {}", said.join(", ")),
            &why,
        );
    }
    if lab.databases.replication != t.databases.replication && !semi_sync_on {
        push(
            Step::Replication(t.databases.replication),
            Impact::Hitless,
            "replication becomes asynchronous".to_owned(),
            "SET GLOBAL on every database, primaries first: no restart, no lost connection",
        );
    }
    for host in &t.hosts {
        let Some(before) = lab.host(&host.name) else {
            continue;
        };
        for c in &before.components {
            if host.has(c.kind()) || c.kind() == ComponentKind::Lb {
                continue;
            }
            let (impact, why) = if c.kind() == ComponentKind::Db {
                (
                    Impact::Destructive,
                    format!("{}/db's data is deleted with its volume", host.name),
                )
            } else {
                (
                    Impact::Hitless,
                    "nothing sends it requests any more".to_owned(),
                )
            };
            push(
                Step::RemoveComponent {
                    host: host.name.clone(),
                    kind: c.kind(),
                },
                impact,
                format!("remove {} from {}", c.kind(), host.name),
                &why,
            );
        }
    }
    for host in &lab.hosts {
        if t.host(&host.name).is_some() {
            continue;
        }
        let mut lost = Vec::new();
        if host.database().is_some() {
            lost.push(format!(
                "{}/db's data is deleted with its volume",
                host.name
            ));
        }
        for kind in [ComponentKind::Lb, ComponentKind::Nginx] {
            if host.has(kind) && !t.hosts.iter().any(|h| h.has(kind)) {
                lost.push(format!("it runs the last {kind}"));
            }
        }
        let (impact, why) = if lost.is_empty() {
            (
                Impact::Hitless,
                "it takes no requests any more; its containers and networks' endpoints go"
                    .to_owned(),
            )
        } else {
            (Impact::Destructive, lost.join("; "))
        };
        push(
            Step::RemoveHost(host.name.clone()),
            impact,
            format!("remove host {} ({})", host.name, kinds_text(host)),
            &why,
        );
    }
    if lab.monitoring.enabled && !t.monitoring.enabled {
        push(
            Step::Monitoring(false),
            Impact::Hitless,
            "monitoring stops: Prometheus and the exporters go".to_owned(),
            "nothing serves requests through them",
        );
    }
    out
}

/// Whether only servers' weights differ (the runtime API sets them, no
/// reload needed).
pub fn weights_only(a: &LoadBalancer, b: &LoadBalancer) -> bool {
    let strip = |lb: &LoadBalancer| {
        let mut lb = lb.clone();
        for s in &mut lb.backends {
            s.weight = 0;
        }
        lb
    };
    strip(a) == strip(b)
}

/// A load balancer's changes in words.
fn lb_changes(a: &LoadBalancer, b: &LoadBalancer) -> Vec<String> {
    let mut out = Vec::new();
    if a.algorithm != b.algorithm {
        out.push(format!(
            "algorithm {} → {}",
            a.algorithm.keyword(),
            b.algorithm.keyword()
        ));
    }
    for s in &b.backends {
        match a.backends.iter().find(|x| x.host == s.host) {
            None => out.push(format!(
                "{} joins{} (weight {})",
                s.host,
                if s.backup { " as a backup" } else { "" },
                s.weight
            )),
            Some(x) => {
                if x.weight != s.weight {
                    out.push(format!("{} weight {} → {}", s.host, x.weight, s.weight));
                }
                if x.backup != s.backup {
                    out.push(format!(
                        "{} becomes {}",
                        s.host,
                        if s.backup { "a backup" } else { "active" }
                    ));
                }
            }
        }
    }
    for s in &a.backends {
        if !b.backends.iter().any(|x| x.host == s.host) {
            out.push(format!("{} leaves (drained first)", s.host));
        }
    }
    let (x, y) = (a.health_check, b.health_check);
    if x != y {
        out.push(format!(
            "checks every {} ms, fall {}, rise {} → every {} ms, fall {}, rise {}",
            x.interval_ms, x.fall, x.rise, y.interval_ms, y.fall, y.rise
        ));
    }
    if a.retries != b.retries {
        out.push(format!("retries {} → {}", a.retries, b.retries));
    }
    if a.redispatch != b.redispatch {
        out.push(format!(
            "redispatch {}",
            if b.redispatch { "on" } else { "off" }
        ));
    }
    if a.connect_timeout_ms != b.connect_timeout_ms {
        out.push(format!(
            "connect timeout {} → {} ms",
            a.connect_timeout_ms, b.connect_timeout_ms
        ));
    }
    if a.stats != b.stats {
        out.push(format!("stats page {}", if b.stats { "on" } else { "off" }));
    }
    if a.stats_port != b.stats_port {
        out.push(format!("stats port {} → {}", a.stats_port, b.stats_port));
    }
    if out.is_empty() {
        out.push("servers reordered".to_owned());
    }
    out
}

#[cfg(test)]
mod tests;
