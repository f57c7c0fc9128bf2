//! The ports an exported bundle publishes on 127.0.0.1 of the machine that
//! runs it: one rule, used by the compose generator and checked by
//! `validate()`, so that a valid topology never publishes one port twice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names::{ComponentKind, HostName};
use super::topology::{Host, Topology};

/// Published HTTP port of entry point number 0 when the topology pins none;
/// entry point `i` gets this plus `i`.
pub const FIRST_DEFAULT_PORT: u16 = 8080;
/// A load balancer's HTTPS is published this far above its HTTP port.
pub const HTTPS_OFFSET: u16 = 100;
/// Published port (UDP and TCP) of DNS server number 0; server `i` gets
/// this plus `i`.
pub const FIRST_DNS_PORT: u16 = 5300;
/// Where Prometheus is published when monitoring is on.
pub const PROMETHEUS_PORT: u16 = 9090;
/// The highest TCP port.
pub const MAX_PORT: u32 = 65_535;

/// What an entry point publishes. Ports are `u32` so that a topology whose
/// derived port passes 65535 can be described (and refused by
/// `validate()`) instead of wrapping around; in a valid topology every
/// port fits in a `u16`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    /// The entry point: a load balancer's host, or a web server's host when
    /// the topology has no load balancer.
    pub host: HostName,
    /// What receives the traffic there: its load balancer, or its web
    /// server when the topology has no load balancer.
    pub kind: ComponentKind,
    /// Where its HTTP port is published.
    pub http: u32,
    /// Whether `http` is pinned by the topology (`published_port`) rather
    /// than derived from the entry point's place.
    pub pinned: bool,
    /// The port the entry point listens on for HTTP, inside the lab.
    pub http_target: u16,
    /// Where its HTTPS port is published (load balancers, when TLS is on).
    pub https: Option<u32>,
    /// The port it listens on for HTTPS, inside the lab.
    pub https_target: Option<u16>,
}

/// What each entry point of `topology` publishes, in entry-point order
/// (see [`Topology::entry_points`]): HTTP on the pinned `published_port`
/// or on [`FIRST_DEFAULT_PORT`] + its place; with TLS, a load balancer's
/// HTTPS [`HTTPS_OFFSET`] above its HTTP port.
pub fn published_ports(topology: &Topology) -> Vec<PublishedPort> {
    topology
        .entry_points()
        .into_iter()
        .enumerate()
        .filter_map(|(i, host)| {
            let derived =
                u32::from(FIRST_DEFAULT_PORT).saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            if let Some(lb) = host.load_balancer() {
                let http = lb.published_port.map_or(derived, u32::from);
                let tls = topology.security.tls;
                Some(PublishedPort {
                    host: host.name.clone(),
                    kind: ComponentKind::Lb,
                    http,
                    pinned: lb.published_port.is_some(),
                    http_target: lb.port,
                    https: tls.then_some(http.saturating_add(u32::from(HTTPS_OFFSET))),
                    https_target: tls.then_some(lb.tls_port),
                })
            } else {
                host.web_server().map(|web| PublishedPort {
                    host: host.name.clone(),
                    kind: ComponentKind::Nginx,
                    http: derived,
                    pinned: false,
                    http_target: web.port,
                    https: None,
                    https_target: None,
                })
            }
        })
        .collect()
}

/// What a virtual IP publishes: its address's ports, forwarded by the
/// `nat` container to whichever load balancer holds the address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipPort {
    /// The virtual IP's number (`.220`).
    pub number: u8,
    /// Where its HTTP port is published.
    pub http: u32,
    /// The port its load balancers listen on for HTTP.
    pub http_target: u16,
    /// Where its HTTPS port is published, when TLS is on.
    pub https: Option<u32>,
    /// The port its load balancers listen on for HTTPS.
    pub https_target: Option<u16>,
}

/// What each virtual IP of `topology` publishes, in number order: HTTP on
/// the first port from [`FIRST_DEFAULT_PORT`] + the number of entry points
/// (after every entry point's own port by its place) that no entry point
/// publishes (a pinned one may) and whose HTTPS port, [`HTTPS_OFFSET`]
/// above, is free too. A virtual IP's port is not pinned: an exported
/// bundle's `.env` can change it.
pub fn vip_published_ports(topology: &Topology) -> Vec<VipPort> {
    let mut taken: std::collections::BTreeSet<u32> = published_ports(topology)
        .iter()
        .flat_map(|p| [Some(p.http), p.https])
        .flatten()
        .chain(prometheus_port(topology).map(u32::from))
        .collect();
    let mut next = u32::from(FIRST_DEFAULT_PORT)
        .saturating_add(u32::try_from(topology.entry_points().len()).unwrap_or(u32::MAX));
    let tls = topology.security.tls;
    topology
        .vips()
        .into_iter()
        .map(|vip| {
            let https_of = |http: u32| http.saturating_add(u32::from(HTTPS_OFFSET));
            while taken.contains(&next) || (tls && taken.contains(&https_of(next))) {
                next = next.saturating_add(1);
            }
            let http = next;
            taken.insert(http);
            if tls {
                taken.insert(https_of(http));
            }
            let tls_port = topology
                .host(&vip.members[0])
                .and_then(Host::load_balancer)
                .map(|lb| lb.tls_port);
            VipPort {
                number: vip.number,
                http,
                http_target: vip.port,
                https: tls.then_some(http.saturating_add(u32::from(HTTPS_OFFSET))),
                https_target: tls_port.filter(|_| tls),
            }
        })
        .collect()
}

/// Where each DNS server of `topology` is published (UDP and TCP), in
/// topology order: [`FIRST_DNS_PORT`] + its place among the DNS servers.
pub fn dns_published_ports(topology: &Topology) -> Vec<(HostName, u32, u16)> {
    topology
        .dns_servers()
        .enumerate()
        .map(|(i, (host, dns))| {
            let port =
                u32::from(FIRST_DNS_PORT).saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            (host.name.clone(), port, dns.port)
        })
        .collect()
}

/// Where Prometheus is published, when monitoring is on.
pub fn prometheus_port(topology: &Topology) -> Option<u16> {
    topology.monitoring.enabled.then_some(PROMETHEUS_PORT)
}

/// Who publishes a port, in words (`lb-01/lb HTTPS`), for problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PortUse {
    pub(super) port: u32,
    pub(super) who: String,
}

/// Every published port with who publishes it, Prometheus included.
pub(super) fn port_uses(topology: &Topology) -> Vec<PortUse> {
    let mut uses = Vec::new();
    for p in published_ports(topology) {
        let kind = p.kind;
        let how = if p.pinned { "pinned" } else { "by its place" };
        uses.push(PortUse {
            port: p.http,
            who: format!("{}/{kind} (HTTP, {how})", p.host),
        });
        if let Some(https) = p.https {
            uses.push(PortUse {
                port: https,
                who: format!("{}/{kind} (HTTPS, its HTTP port + {HTTPS_OFFSET})", p.host),
            });
        }
    }
    for v in vip_published_ports(topology) {
        uses.push(PortUse {
            port: v.http,
            who: format!("vip .{} (HTTP, after the entry points)", v.number),
        });
        if let Some(https) = v.https {
            uses.push(PortUse {
                port: https,
                who: format!("vip .{} (HTTPS, its HTTP port + {HTTPS_OFFSET})", v.number),
            });
        }
    }
    for (host, port, _) in dns_published_ports(topology) {
        uses.push(PortUse {
            port,
            who: format!("{host}/dns (DNS, by its place)"),
        });
    }
    if let Some(port) = prometheus_port(topology) {
        uses.push(PortUse {
            port: u32::from(port),
            who: "Prometheus (monitoring)".to_owned(),
        });
    }
    uses
}

/// Ports wanted by more than one user, each with its users, in port order.
pub(super) fn collisions(uses: &[PortUse]) -> Vec<(u32, Vec<&str>)> {
    let mut by_port: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for u in uses {
        by_port.entry(u.port).or_default().push(&u.who);
    }
    by_port
        .into_iter()
        .filter(|(_, who)| who.len() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Component, Host, LoadBalancer};

    fn lb(name: &str, pinned: Option<u16>) -> Host {
        Host::new(name).with([Component::Lb(LoadBalancer {
            published_port: pinned,
            ..LoadBalancer::default()
        })])
    }

    #[test]
    fn defaults_count_up_from_8080_and_https_sits_100_above() {
        let mut t = Topology::new("t");
        t.hosts = vec![lb("a", None), lb("b", Some(9000)), lb("c", None)];
        t.security.tls = true;
        let ports: Vec<(u32, Option<u32>)> = published_ports(&t)
            .iter()
            .map(|p| (p.http, p.https))
            .collect();
        assert_eq!(
            ports,
            [(8080, Some(8180)), (9000, Some(9100)), (8082, Some(8182))]
        );
        t.monitoring.enabled = true;
        assert_eq!(prometheus_port(&t), Some(9090));
    }

    #[test]
    fn web_servers_are_entry_points_without_a_load_balancer() {
        let mut t = Topology::new("t");
        t.hosts = vec![Host::new("w").with([
            Component::with_defaults(ComponentKind::Nginx),
            Component::with_defaults(ComponentKind::App),
        ])];
        let p = published_ports(&t);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].http, p[0].https, p[0].http_target), (8080, None, 80));
    }

    #[test]
    fn a_virtual_ip_publishes_after_the_entry_points() {
        let mut t = Topology::new("t");
        let member = |name: &str| {
            Host::new(name).with([Component::Lb(LoadBalancer {
                vip: Some(220),
                ..LoadBalancer::default()
            })])
        };
        t.hosts = vec![member("a"), member("b"), lb("c", None)];
        t.security.tls = true;
        let v = vip_published_ports(&t);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].number, v[0].http, v[0].https),
            (220, 8083, Some(8183))
        );
        assert_eq!((v[0].http_target, v[0].https_target), (80, Some(443)));
        // No port is published twice: the members keep 8080 and 8081.
        assert!(collisions(&port_uses(&t)).is_empty());
        // A port pinned where the virtual IP's would be moves it on.
        t.hosts[2] = lb("c", Some(8083));
        let v = vip_published_ports(&t);
        assert_eq!((v[0].http, v[0].https), (8084, Some(8184)));
        assert!(collisions(&port_uses(&t)).is_empty());
    }

    #[test]
    fn a_pinned_port_near_the_top_overflows_only_as_a_number() {
        let mut t = Topology::new("t");
        t.hosts = vec![lb("a", Some(65_500))];
        t.security.tls = true;
        assert_eq!(published_ports(&t)[0].https, Some(65_600));
    }
}
