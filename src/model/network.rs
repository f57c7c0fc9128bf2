//! Tier networks and the address plan: which networks a host joins and its
//! fixed address on each.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::names::{ComponentKind, HostName};
use super::topology::{Host, Topology};

/// A network of the lab. Without segmentation every host is on `Lab`; with
/// it, load balancers and web servers are on `Front`, apps and databases on
/// `Back`, so a load balancer cannot reach a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The one network of an unsegmented topology.
    Lab,
    /// Clients' side: load balancers and web servers.
    Front,
    /// Data side: app servers and databases.
    Back,
}

impl Network {
    /// The network's short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lab => "lab",
            Self::Front => "front",
            Self::Back => "back",
        }
    }
}

/// The networks of `topology`, in a fixed order.
pub fn networks(topology: &Topology) -> Vec<Network> {
    if topology.security.segmentation {
        vec![Network::Front, Network::Back]
    } else {
        vec![Network::Lab]
    }
}

/// The networks `host` joins.
pub fn host_networks(topology: &Topology, host: &Host) -> Vec<Network> {
    if !topology.security.segmentation {
        return vec![Network::Lab];
    }
    let mut nets = Vec::new();
    if host.has(ComponentKind::Lb) || host.has(ComponentKind::Nginx) {
        nets.push(Network::Front);
    }
    if host.has(ComponentKind::App) || host.has(ComponentKind::Db) {
        nets.push(Network::Back);
    }
    nets
}

/// The network a component listens on for its peers: a load balancer's
/// backends and Nginx on the front, databases on the back.
pub fn serving_network(topology: &Topology, kind: ComponentKind) -> Network {
    match (topology.security.segmentation, kind) {
        (false, _) => Network::Lab,
        (true, ComponentKind::Lb | ComponentKind::Nginx) => Network::Front,
        (true, ComponentKind::App | ComponentKind::Db) => Network::Back,
    }
}

/// Fixed addresses: one /24 per network, counted up from `first`'s third
/// octet; host number `i` (its place in the file) gets `.10 + i` on each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPlan {
    first: Ipv4Addr,
    networks: Vec<Network>,
    hosts: Vec<(HostName, Vec<Network>)>,
}

/// Where an exported docker-compose bundle puts its networks (labs that
/// topolab runs itself take 10.213.0.0/16, so the two never collide).
pub const DEFAULT_FIRST_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 214, 0, 0);

/// First host number in each subnet (.1 is the gateway).
const FIRST_HOST: u8 = 10;

impl AddressPlan {
    /// The plan of `topology` with its first /24 at `first`.
    pub fn new(topology: &Topology, first: Ipv4Addr) -> Self {
        Self {
            first,
            networks: networks(topology),
            hosts: topology
                .hosts
                .iter()
                .map(|h| (h.name.clone(), host_networks(topology, h)))
                .collect(),
        }
    }

    /// The networks, in order.
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// The network address of `net`'s /24.
    pub fn subnet(&self, net: Network) -> Option<Ipv4Addr> {
        let k = self.networks.iter().position(|n| *n == net)?;
        let [a, b, c, _] = self.first.octets();
        Some(Ipv4Addr::new(
            a,
            b,
            c.wrapping_add(u8::try_from(k).ok()?),
            0,
        ))
    }

    /// `net`'s subnet in CIDR notation.
    pub fn cidr(&self, net: Network) -> Option<String> {
        self.subnet(net).map(|s| format!("{s}/24"))
    }

    /// `net`'s gateway address.
    pub fn gateway(&self, net: Network) -> Option<Ipv4Addr> {
        let [a, b, c, _] = self.subnet(net)?.octets();
        Some(Ipv4Addr::new(a, b, c, 1))
    }

    /// `host`'s address on `net`, if it joins that network.
    pub fn address(&self, host: &HostName, net: Network) -> Option<Ipv4Addr> {
        let i = self.hosts.iter().position(|(h, _)| h == host)?;
        if !self.hosts[i].1.contains(&net) {
            return None;
        }
        let [a, b, c, _] = self.subnet(net)?.octets();
        let d = FIRST_HOST.checked_add(u8::try_from(i).ok()?)?;
        Some(Ipv4Addr::new(a, b, c, d))
    }

    /// `host`'s networks with its address on each.
    pub fn host_addresses(&self, host: &HostName) -> Vec<(Network, Ipv4Addr)> {
        self.networks
            .iter()
            .filter_map(|n| self.address(host, *n).map(|a| (*n, a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topology::{Component, Host};

    #[test]
    fn segmented_plan_keeps_lb_off_the_back_network() {
        let mut t = Topology::new("t");
        t.security.segmentation = true;
        t.hosts = vec![
            Host::new("lb-01").with([Component::with_defaults(ComponentKind::Lb)]),
            Host::new("web-01").with([
                Component::with_defaults(ComponentKind::Nginx),
                Component::with_defaults(ComponentKind::App),
                Component::with_defaults(ComponentKind::Db),
            ]),
        ];
        let plan = AddressPlan::new(&t, Ipv4Addr::new(10, 9, 4, 0));
        let lb = HostName::new("lb-01");
        let web = HostName::new("web-01");
        assert_eq!(plan.address(&lb, Network::Back), None);
        assert_eq!(
            plan.address(&lb, Network::Front),
            Some(Ipv4Addr::new(10, 9, 4, 10))
        );
        assert_eq!(
            plan.address(&web, Network::Back),
            Some(Ipv4Addr::new(10, 9, 5, 11))
        );
        assert_eq!(plan.cidr(Network::Back).as_deref(), Some("10.9.5.0/24"));
    }
}
