//! One-click fixes for design findings: plain edits of the topology.

use serde::Serialize;

use super::names::{ComponentKind, HostName};
use super::topology::{
    Backend, Component, Database, Failover, Host, Position, Role, Topology, Vip,
};

/// An edit that resolves a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixAction {
    /// Add a load balancer host with the same settings and backends as the
    /// first one.
    AddLoadBalancer,
    /// Terminate TLS at the load balancers.
    EnableTls,
    /// One network per tier.
    SegmentTiers,
    /// Turn monitoring on.
    EnableMonitoring,
    /// Let topolab's orchestrator promote a replica by itself.
    EnableAutomaticFailover,
    /// Add a DNS server host (the first, or one more).
    AddDnsServer,
    /// Answer with the entry points that pass a health check only.
    HealthCheckDns,
    /// Give the first region's load balancers one virtual IP, adding a
    /// second load balancer when there is only one.
    ShareVirtualIp,
    /// Serve the site from a second region too: a load balancer and a web
    /// server (with a replica of the primary) there, and health-checked
    /// DNS records naming both regions' entry points.
    AddSecondRegion,
}

impl FixAction {
    /// The button text.
    pub fn label(self) -> &'static str {
        match self {
            Self::AddLoadBalancer => "Add a second load balancer",
            Self::EnableTls => "Enable TLS",
            Self::SegmentTiers => "Segment the tiers",
            Self::EnableMonitoring => "Enable monitoring",
            Self::EnableAutomaticFailover => "Enable automatic failover",
            Self::AddDnsServer => "Add a DNS server",
            Self::HealthCheckDns => "Health-check the DNS records",
            Self::ShareVirtualIp => "Share a virtual IP between two load balancers",
            Self::AddSecondRegion => "Add a second region",
        }
    }

    /// Applies the edit. Returns `false` when there was nothing to do.
    pub fn apply(self, t: &mut Topology) -> bool {
        match self {
            Self::AddLoadBalancer => {
                let Some(first) = t.hosts.iter().find(|h| h.has(ComponentKind::Lb)) else {
                    return false;
                };
                let Some(Component::Lb(mut lb)) = first.component(ComponentKind::Lb).cloned()
                else {
                    return false;
                };
                lb.published_port = None;
                let mut host = Host::new(unused_name(t, "lb"));
                host.region = first.region.clone();
                host.position = first.position.map(|mut p| {
                    p.x += 220.0;
                    p
                });
                host.components.push(Component::Lb(lb));
                t.hosts.push(host);
                true
            }
            Self::EnableTls => !std::mem::replace(&mut t.security.tls, true),
            Self::SegmentTiers => !std::mem::replace(&mut t.security.segmentation, true),
            Self::EnableMonitoring => !std::mem::replace(&mut t.monitoring.enabled, true),
            Self::EnableAutomaticFailover => {
                let was = std::mem::replace(&mut t.databases.failover, Failover::automatic());
                was.is_manual()
            }
            Self::AddDnsServer => {
                let mut host = Host::new(unused_name(t, "dns"));
                // Beside the last DNS server, else above the first entry point.
                let beside = t
                    .hosts
                    .iter()
                    .rev()
                    .find(|h| h.has(ComponentKind::Dns))
                    .map(|h| (h, 200.0, 0.0))
                    .or_else(|| t.entry_points().first().map(|h| (*h, -220.0, -120.0)));
                if let Some((near, dx, dy)) = beside {
                    host.region = near.region.clone();
                    host.position = near.position.map(|mut p| {
                        p.x += dx;
                        p.y += dy;
                        p
                    });
                }
                host.components
                    .push(Component::with_defaults(ComponentKind::Dns));
                t.hosts.push(host);
                true
            }
            Self::HealthCheckDns => !std::mem::replace(&mut t.dns.health_checked, true),
            Self::ShareVirtualIp => share_virtual_ip(t),
            Self::AddSecondRegion => add_second_region(t),
        }
    }
}

/// The first load balancer's region's load balancers without a virtual
/// IP (a second one added when it is alone) join the region's virtual IP,
/// or take the lowest free number when it has none.
fn share_virtual_ip(t: &mut Topology) -> bool {
    let Some(first) = t.hosts.iter().find(|h| h.has(ComponentKind::Lb)) else {
        return false;
    };
    let region = first.region.clone();
    let same_region = |h: &Host| h.region == region && h.has(ComponentKind::Lb);
    if t.hosts.iter().filter(|h| same_region(h)).count() < 2 {
        FixAction::AddLoadBalancer.apply(t);
    }
    let existing = t
        .hosts
        .iter()
        .filter(|h| same_region(h))
        .find_map(|h| h.load_balancer()?.vip);
    let taken: Vec<u8> = t.vips().iter().map(|v| v.number).collect();
    let Some(number) = existing.or_else(|| (Vip::FIRST..=Vip::LAST).find(|n| !taken.contains(n)))
    else {
        return false;
    };
    let mut changed = false;
    for h in t.hosts.iter_mut().filter(|h| same_region(h)) {
        if let Some(lb) = h.load_balancer_mut()
            && lb.vip.is_none()
        {
            lb.vip = Some(number);
            changed = true;
        }
    }
    changed
}

/// A second region beside the design's one: hosts that name no region
/// are placed in `a`; region `b` (or the first free letter) gets a web
/// server that runs what the first web server runs (its database a
/// replica of the first primary), and a load balancer in front of it
/// with the first one's settings. The site's name is then answered by
/// health-checked DNS records naming both regions' entry points: a DNS
/// server is added when the design has none.
fn add_second_region(t: &mut Topology) -> bool {
    let regions = t.regions();
    let [here] = regions.as_slice() else {
        return false;
    };
    let here = here.map(str::to_owned);
    let Some(web) = t
        .hosts
        .iter()
        .find(|h| h.has(ComponentKind::Nginx))
        .cloned()
    else {
        return false;
    };
    let lb = t.hosts.iter().find_map(|h| h.load_balancer().cloned());
    let primary = t
        .databases()
        .find(|(_, db)| db.role == Role::Primary)
        .map(|(h, db)| (h.name.clone(), db.group.clone()));
    if here.is_none() {
        for h in &mut t.hosts {
            h.region = Some("a".to_owned());
        }
    }
    let here = here.unwrap_or_else(|| "a".to_owned());
    let Some(there) = ('b'..='z').map(String::from).find(|r| *r != here) else {
        return false;
    };
    // Right of everything drawn.
    let right = t
        .hosts
        .iter()
        .filter_map(|h| h.position.map(|p| p.x))
        .fold(f32::MIN, f32::max);
    let x = if right == f32::MIN {
        0.0
    } else {
        right + 300.0
    };
    let y_of = |h: &Host| h.position.map_or(0.0, |p| p.y);

    let mut new_web = Host::new(unused_name(t, "web"));
    new_web.region = Some(there.clone());
    new_web.size = web.size;
    new_web.position = Some(Position { x, y: y_of(&web) });
    for c in &web.components {
        match c {
            Component::Db(_) => {
                if let Some((source, group)) = &primary {
                    new_web.components.push(Component::Db(Database {
                        role: Role::Replica { of: source.clone() },
                        group: group.clone(),
                        ..Database::default()
                    }));
                }
            }
            other => new_web.components.push(other.clone()),
        }
    }
    let web_name = new_web.name.clone();
    t.hosts.push(new_web);
    if let Some(mut settings) = lb {
        settings.backends = vec![Backend::new(web_name)];
        settings.published_port = None;
        settings.vip = None;
        let mut host = Host::new(unused_name(t, "lb"));
        host.region = Some(there.clone());
        host.position = Some(Position {
            x,
            y: y_of(&web) - 200.0,
        });
        if let Some(first) = t.hosts.iter().find(|h| h.has(ComponentKind::Lb)) {
            host.size = first.size;
        }
        host.components.push(Component::Lb(settings));
        t.hosts.push(host);
    }
    if t.dns_servers().next().is_none() {
        FixAction::AddDnsServer.apply(t);
    }
    t.dns.health_checked = true;
    true
}

/// The first of `PREFIX-01`, `PREFIX-02`, ... that no host has.
pub fn unused_name(t: &Topology, prefix: &str) -> HostName {
    (1..)
        .map(|i| HostName::new(format!("{prefix}-{i:02}")))
        .find(|n| t.host(n).is_none())
        .unwrap_or_else(|| HostName::new(prefix))
}
