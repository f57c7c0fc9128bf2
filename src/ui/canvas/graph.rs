//! The canvas graph built from a topology: a node per host box and per
//! component, a link per relation (backends, proxying, reads and writes,
//! replication), placed where the topology says or in tiers.

use std::collections::HashMap;

use egui::{Color32, Pos2, Rect, Vec2};
use egui_graphs::Graph;
use petgraph::Directed;
use petgraph::stable_graph::{DefaultIx, NodeIndex, StableGraph};

use super::shapes::{LinkShape, NodeShape};
use crate::model::{
    ClientEntry, ComponentId, ComponentKind, Host, HostName, Position, ReplicationMode, Role,
    Subject, Topology,
};

/// Width of a host box.
pub const HOST_WIDTH: f32 = 170.0;
pub(super) const TITLE: f32 = 30.0;
pub(super) const ROW: f32 = 44.0;
pub(super) const COMPONENT: Vec2 = Vec2::new(150.0, 36.0);

/// What a node stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeData {
    /// The host or component.
    pub subject: Subject,
    /// How it looks.
    pub look: Look,
    /// Outline colour when a problem or finding names it.
    pub flag: Option<Color32>,
    /// Extra line (health, later).
    pub status: Option<String>,
}

/// The drawing of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Look {
    /// A host box of this size, with its region.
    Host {
        /// Box size.
        size: Vec2,
        /// Region, if any.
        region: Option<String>,
    },
    /// A component.
    Component(ComponentKind),
}

/// What a link means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A load balancer's backend.
    Backend {
        /// A backup server (active-passive).
        backup: bool,
    },
    /// Nginx to its app.
    Proxy,
    /// App to the primary.
    Writes,
    /// App to a replica.
    Reads,
    /// Primary to replica.
    Replication,
    /// A DNS server's record naming an entry point.
    Names,
    /// Inside a host box (not drawn).
    Contains,
}

impl LinkKind {
    /// Colour of the link.
    pub fn color(self) -> Color32 {
        match self {
            Self::Backend { .. } => Color32::from_rgb(150, 110, 220),
            Self::Proxy => Color32::from_rgb(90, 170, 110),
            Self::Writes => Color32::from_rgb(230, 120, 60),
            Self::Reads => Color32::from_rgb(80, 150, 220),
            Self::Replication => Color32::from_rgb(220, 170, 50),
            Self::Names => Color32::from_rgb(60, 170, 180),
            Self::Contains => Color32::TRANSPARENT,
        }
    }

    /// Dashed: backup servers and replication.
    pub fn dashed(self) -> bool {
        matches!(
            self,
            Self::Backend { backup: true } | Self::Replication | Self::Reads | Self::Names
        )
    }

    /// For the legend.
    pub fn label(self) -> &'static str {
        match self {
            Self::Backend { backup: false } => "LB -> web server",
            Self::Backend { backup: true } => "LB -> backup server",
            Self::Proxy => "Nginx -> app (127.0.0.1)",
            Self::Writes => "app -> primary (writes)",
            Self::Reads => "app -> replica (reads)",
            Self::Replication => "primary -> replica",
            Self::Names => "DNS record -> entry point",
            Self::Contains => "",
        }
    }
}

/// The colour of a component kind.
pub fn kind_color(kind: ComponentKind) -> Color32 {
    match kind {
        ComponentKind::Lb => Color32::from_rgb(120, 80, 190),
        ComponentKind::Nginx => Color32::from_rgb(50, 140, 80),
        ComponentKind::App => Color32::from_rgb(40, 110, 180),
        ComponentKind::Db => Color32::from_rgb(200, 100, 40),
        ComponentKind::Dns => Color32::from_rgb(30, 150, 160),
    }
}

/// A glyph for a component kind.
pub fn kind_icon(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Lb => "⚖",
        ComponentKind::Nginx => "🌐",
        ComponentKind::App => "⚙",
        ComponentKind::Db => "🗄",
        ComponentKind::Dns => "📖",
    }
}

/// What the design's DNS servers answer, in a line for the canvas and the
/// diagram; `None` without DNS servers.
pub fn dns_banner(t: &Topology) -> Option<String> {
    let servers: Vec<String> = t.dns_servers().map(|(h, _)| h.name.to_string()).collect();
    if servers.is_empty() {
        return None;
    }
    let entries = entry_names(t);
    Some(format!(
        "DNS: {} answer{} {} with {} ({}, TTL {} s)",
        servers.join(", "),
        if servers.len() == 1 { "s" } else { "" },
        t.domain,
        entries.join(", "),
        if t.dns.health_checked {
            "health-checked"
        } else {
            "plain records"
        },
        t.dns.ttl_s
    ))
}

/// What clients connect to, as users know it: each entry point, load
/// balancers sharing a virtual IP once as `vip .220 (lb-01, lb-02)`.
pub fn entry_names(t: &Topology) -> Vec<String> {
    t.client_entries().iter().map(ClientEntry::label).collect()
}

/// The banner above the clients when the design has no DNS server but
/// more than one entry point, or a virtual IP: where the site's name
/// points.
pub fn entry_banner(t: &Topology) -> Option<String> {
    let entries = entry_names(t);
    let has_vip = !t.vips().is_empty();
    match entries.as_slice() {
        [one] if has_vip => Some(format!("{} has the address of {one}", t.domain)),
        [_, _, ..] => Some(format!(
            "DNS: {} has the addresses of {}",
            t.domain,
            entries.join(", ")
        )),
        _ => None,
    }
}

/// The graph type drawn on the canvas.
pub type CanvasGraph = Graph<NodeData, LinkKind, Directed, DefaultIx, NodeShape, LinkShape>;

/// Where every host box goes: its stored position, or a tier (load
/// balancers on top, web/app servers, database-only hosts below).
pub fn host_positions(t: &Topology) -> HashMap<HostName, Pos2> {
    // DNS servers above the load balancers, in a row of their own only
    // when there are some.
    let mut tiers: [Vec<&Host>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for h in &t.hosts {
        let tier = if h.has(ComponentKind::Dns) {
            0
        } else if h.has(ComponentKind::Lb) {
            1
        } else if h.has(ComponentKind::Nginx) || h.has(ComponentKind::App) {
            2
        } else {
            3
        };
        tiers[tier].push(h);
    }
    // A tier wider than a screen wraps into rows; every tier takes at
    // least one row, so the tiers of small designs line up as before.
    const PER_ROW: usize = 8;
    let mut out = HashMap::new();
    let mut row0 = 0usize;
    if tiers[0].is_empty() {
        tiers.rotate_left(1);
    }
    for hosts in &tiers {
        for (i, h) in hosts.iter().enumerate() {
            let auto = Pos2::new(
                (i % PER_ROW) as f32 * (HOST_WIDTH + 60.0),
                (row0 + i / PER_ROW) as f32 * 240.0,
            );
            let p = h.position.map_or(auto, |p| Pos2::new(p.x, p.y));
            out.insert(h.name.clone(), p);
        }
        row0 += hosts.len().div_ceil(PER_ROW).max(1);
    }
    out
}

/// A host box's size.
pub fn host_size(h: &Host) -> Vec2 {
    Vec2::new(
        HOST_WIDTH,
        TITLE + ROW * h.components.len().max(1) as f32 + 6.0,
    )
}

/// The model position of a host whose box centre is at `center`.
pub fn position_from_center(h: &Host, center: Pos2) -> Position {
    let top_left = center - host_size(h) / 2.0;
    Position {
        x: top_left.x.round(),
        y: top_left.y.round(),
    }
}

/// Builds the canvas graph; returns it with each subject's node.
pub fn build(
    t: &Topology,
    flags: &HashMap<Subject, Color32>,
) -> (CanvasGraph, HashMap<Subject, NodeIndex>) {
    let positions = host_positions(t);
    let mut g: StableGraph<NodeData, LinkKind> = StableGraph::new();
    let mut index = HashMap::new();
    let mut locations = Vec::new();
    for h in &t.hosts {
        let top_left = positions.get(&h.name).copied().unwrap_or_default();
        let size = host_size(h);
        let subject = Subject::Host(h.name.clone());
        let n = g.add_node(NodeData {
            flag: flags.get(&subject).copied(),
            subject: subject.clone(),
            look: Look::Host {
                size,
                region: h.region.clone(),
            },
            status: None,
        });
        locations.push((n, top_left + size / 2.0, h.name.to_string()));
        index.insert(subject, n);
        for (i, c) in h.components.iter().enumerate() {
            let id = ComponentId::new(&h.name, c.kind());
            let subject = Subject::Component(id.clone());
            let center =
                top_left + Vec2::new(HOST_WIDTH / 2.0, TITLE + ROW * i as f32 + COMPONENT.y / 2.0);
            // HTTPS ends at the load balancers.
            let tls = c.kind() == ComponentKind::Lb && t.security.tls;
            let cn = g.add_node(NodeData {
                flag: flags.get(&subject).copied(),
                subject: subject.clone(),
                look: Look::Component(c.kind()),
                status: tls.then(|| "🔒 :443".to_owned()),
            });
            locations.push((cn, center, id.to_string()));
            index.insert(subject, cn);
        }
    }
    add_links(&mut g, t, &index);
    let mut graph = CanvasGraph::from(&g);
    for (n, loc, label) in locations {
        if let Some(node) = graph.node_mut(n) {
            node.set_location(loc);
            node.set_label(label);
        }
    }
    (graph, index)
}

/// A link for each relation of `t` between the nodes in `index`: backends,
/// Nginx to its app, apps to the databases of their group, replication.
fn add_links(
    g: &mut StableGraph<NodeData, LinkKind>,
    t: &Topology,
    index: &HashMap<Subject, NodeIndex>,
) {
    let node = |h: &HostName, k| {
        index
            .get(&Subject::Component(ComponentId::new(h, k)))
            .copied()
    };
    for h in &t.hosts {
        if let Some(lb) = h.load_balancer() {
            for b in &lb.backends {
                if let (Some(from), Some(to)) = (
                    node(&h.name, ComponentKind::Lb),
                    node(&b.host, ComponentKind::Nginx),
                ) {
                    g.add_edge(from, to, LinkKind::Backend { backup: b.backup });
                }
            }
        }
        if let (Some(from), Some(to)) = (
            node(&h.name, ComponentKind::Nginx),
            node(&h.name, ComponentKind::App),
        ) {
            g.add_edge(from, to, LinkKind::Proxy);
        }
        if let (Some(app), Some(from)) = (h.app_server(), node(&h.name, ComponentKind::App)) {
            for (db_host, db) in t.databases().filter(|(_, db)| db.group == app.group) {
                let kind = if db.role == Role::Primary {
                    LinkKind::Writes
                } else {
                    LinkKind::Reads
                };
                if let Some(to) = node(&db_host.name, ComponentKind::Db) {
                    g.add_edge(from, to, kind);
                }
            }
        }
        if let Some(from) = node(&h.name, ComponentKind::Dns) {
            for entry in t.entry_points() {
                let to = node(&entry.name, ComponentKind::Lb)
                    .or_else(|| node(&entry.name, ComponentKind::Nginx));
                if let Some(to) = to {
                    g.add_edge(from, to, LinkKind::Names);
                }
            }
        }
        if let Some(db) = h.database()
            && let Role::Replica { of } = &db.role
            && let (Some(from), Some(to)) = (
                node(of, ComponentKind::Db),
                node(&h.name, ComponentKind::Db),
            )
        {
            g.add_edge(from, to, LinkKind::Replication);
        }
    }
}

/// The node under a subject's id in `index`, reversed.
pub fn subject_of(index: &HashMap<Subject, NodeIndex>, n: NodeIndex) -> Option<&Subject> {
    index.iter().find(|(_, i)| **i == n).map(|(s, _)| s)
}

/// What a link's label says: a backend's weight and whether it is a
/// backup, and replication's mode.
pub fn link_note(t: &Topology, from: &Subject, to: &Subject, kind: LinkKind) -> Option<String> {
    match kind {
        LinkKind::Backend { backup } => {
            let lb = t.host(from.host())?.load_balancer()?;
            let b = lb.backends.iter().find(|b| &b.host == to.host())?;
            let mut note = format!("weight {}", b.weight);
            if backup {
                note.push_str(", backup");
            }
            Some(note)
        }
        LinkKind::Replication => {
            let replica = t.host(to.host())?.database()?;
            matches!(replica.role, Role::Replica { .. })
                .then(|| mode(t.databases.replication).to_owned())
        }
        _ => None,
    }
}

pub fn mode(m: ReplicationMode) -> &'static str {
    match m {
        ReplicationMode::Async => "async",
        ReplicationMode::SemiSync => "semi-sync",
    }
}

/// What the link from `from` to `to` is, in a sentence: the tooltip of a
/// link under the pointer.
pub fn describe_link(t: &Topology, from: &Subject, to: &Subject, kind: LinkKind) -> String {
    let what = match kind {
        LinkKind::Backend { backup } => {
            let weight = link_note(t, from, to, kind).unwrap_or_default();
            if backup {
                format!(
                    "HAProxy's backup server ({weight}): it gets requests only while no active server is up"
                )
            } else {
                format!("HAProxy sends it a share of the requests by weight ({weight})")
            }
        }
        LinkKind::Proxy => "Nginx passes each request to its app over 127.0.0.1".to_owned(),
        LinkKind::Writes => "the app writes to the primary (every write goes there)".to_owned(),
        LinkKind::Reads => "the app reads from this replica".to_owned(),
        LinkKind::Replication => match t.databases.replication {
            ReplicationMode::Async => "asynchronous replication: the primary does not wait, so the replica can lag and a failover can lose the last writes".to_owned(),
            ReplicationMode::SemiSync => "semi-synchronous replication: the primary waits until a replica has received each commit".to_owned(),
        },
        LinkKind::Names => {
            let ttl = t.dns.ttl_s;
            if t.dns.health_checked {
                format!(
                    "a health-checked record: the DNS server answers with this entry point's address while it accepts connections; clients keep an answer {ttl} s"
                )
            } else {
                format!(
                    "a plain record: the DNS server answers with this entry point's address, up or down; clients keep an answer {ttl} s"
                )
            }
        }
        LinkKind::Contains => String::new(),
    };
    format!("{from} -> {to}: {what}")
}

/// Where the clients enter the design: the load balancers, or each Nginx
/// where there is none.
pub fn client_entries(t: &Topology) -> Vec<ComponentId> {
    let lbs: Vec<ComponentId> = t
        .load_balancers()
        .map(|(h, _)| ComponentId::new(&h.name, ComponentKind::Lb))
        .collect();
    if !lbs.is_empty() {
        return lbs;
    }
    t.hosts
        .iter()
        .filter(|h| h.has(ComponentKind::Nginx))
        .map(|h| ComponentId::new(&h.name, ComponentKind::Nginx))
        .collect()
}

/// What Prometheus scrapes when monitoring is on: each load balancer's
/// stats and each database's exporter.
pub fn scrape_targets(t: &Topology) -> Vec<ComponentId> {
    t.load_balancers()
        .map(|(h, _)| ComponentId::new(&h.name, ComponentKind::Lb))
        .chain(
            t.databases()
                .map(|(h, _)| ComponentId::new(&h.name, ComponentKind::Db)),
        )
        .collect()
}

/// Where the line from `r`'s centre towards `to` leaves `r`.
pub fn edge_point(r: Rect, to: Pos2) -> Pos2 {
    let c = r.center();
    let d = to - c;
    if d.length_sq() < f32::EPSILON {
        return c;
    }
    let half = r.size() / 2.0;
    let tx = if d.x.abs() > f32::EPSILON {
        half.x / d.x.abs()
    } else {
        f32::INFINITY
    };
    let ty = if d.y.abs() > f32::EPSILON {
        half.y / d.y.abs()
    } else {
        f32::INFINITY
    };
    c + d * tx.min(ty).min(1.0)
}
