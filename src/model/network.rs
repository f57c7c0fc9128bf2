//! Tier networks and the address plan: which networks a host joins and its
//! fixed address on each.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::names::{ComponentKind, HostName};
use super::topology::{Host, Topology, Vip};

/// A network of the lab. Without segmentation every host is on `Lab`; with
/// it, load balancers and web servers are on `Front`, apps and databases on
/// `Back`, so a load balancer cannot reach a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The one network of an unsegmented topology.
    Lab,
    /// Clients' side: load balancers, web servers and DNS servers.
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

/// One network of a lab: a tier, in a region when the design spans
/// several. Each region has its own tier networks; a router host (the
/// "WAN") joins them, and traffic between regions crosses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LabNetwork {
    /// The region, when the design spans several (hosts that name none
    /// are in [`DEFAULT_REGION`]); `None` when it has one.
    pub region: Option<String>,
    /// The tier.
    pub tier: Network,
}

impl LabNetwork {
    /// Its short name: `front`, or `front-eu` in a design of regions.
    pub fn name(&self) -> String {
        match &self.region {
            None => self.tier.as_str().to_owned(),
            Some(r) => format!("{}-{r}", self.tier.as_str()),
        }
    }
}

/// The region of hosts that name none, in a design of several regions.
pub const DEFAULT_REGION: &str = "default";

/// The most regions a design may span.
pub const MAX_REGIONS: usize = 4;

/// The last byte of the router's address on every network of a design of
/// regions (hosts take `.10` to `.209`, virtual IPs `.220` to `.249`,
/// Prometheus `.250`).
pub const ROUTER_NUMBER: u8 = 251;

/// The last byte of the address of the forwarder that publishes the
/// virtual IPs' ports (`nat`), on each network a virtual IP is on.
pub const NAT_NUMBER: u8 = 252;

/// The last byte of the address of the forwarder that lets topolab reach
/// the databases of a lab on overlays (`reach`), on each network a
/// database serves on. This machine has no leg on an overlay.
pub const REACH_NUMBER: u8 = 253;

/// The tiers of `topology`, in a fixed order.
pub fn tiers(topology: &Topology) -> Vec<Network> {
    if topology.security.segmentation {
        vec![Network::Front, Network::Back]
    } else {
        vec![Network::Lab]
    }
}

/// Whether `topology`'s hosts run in more than one region: then each
/// region has its own networks.
pub fn spans_regions(topology: &Topology) -> bool {
    topology.regions().len() > 1
}

/// The region `host`'s networks belong to: `None` when the design has
/// one region.
pub fn lab_region(topology: &Topology, host: &Host) -> Option<String> {
    spans_regions(topology).then(|| host.region.as_deref().unwrap_or(DEFAULT_REGION).to_owned())
}

/// The networks of `topology`, in a fixed order: each region's tiers.
pub fn networks(topology: &Topology) -> Vec<LabNetwork> {
    let regions: Vec<Option<String>> = if spans_regions(topology) {
        let mut names: Vec<String> = topology
            .regions()
            .into_iter()
            .map(|r| r.unwrap_or(DEFAULT_REGION).to_owned())
            .collect();
        names.sort();
        names.dedup();
        names.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    regions
        .into_iter()
        .flat_map(|region| {
            tiers(topology).into_iter().map(move |tier| LabNetwork {
                region: region.clone(),
                tier,
            })
        })
        .collect()
}

/// The tiers `host` joins.
pub fn host_networks(topology: &Topology, host: &Host) -> Vec<Network> {
    if !topology.security.segmentation {
        return vec![Network::Lab];
    }
    let mut nets = Vec::new();
    if host.has(ComponentKind::Lb) || host.has(ComponentKind::Nginx) || host.has(ComponentKind::Dns)
    {
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
        (true, ComponentKind::Lb | ComponentKind::Nginx | ComponentKind::Dns) => Network::Front,
        (true, ComponentKind::App | ComponentKind::Db) => Network::Back,
    }
}

/// Each host's number in the lab's subnets: number `n` has the address
/// `.10 + n` on every network the host joins. A new lab numbers its hosts
/// in file order; a running lab keeps each host's number for as long as
/// the host exists, so adding or removing a host moves no other.
pub type HostNumbers = BTreeMap<HostName, u8>;

/// The numbers of `topology`'s hosts: those `kept` names keep theirs, the
/// others take the lowest numbers nobody holds, in file order. With no
/// numbers kept, a host's number is its place in the file.
pub fn host_numbers(topology: &Topology, kept: &HostNumbers) -> HostNumbers {
    let mut numbers: HostNumbers = topology
        .hosts
        .iter()
        .filter_map(|h| kept.get(&h.name).map(|n| (h.name.clone(), *n)))
        .collect();
    let mut taken: std::collections::BTreeSet<u8> = numbers.values().copied().collect();
    let mut next = 0u8;
    for host in &topology.hosts {
        if numbers.contains_key(&host.name) {
            continue;
        }
        while taken.contains(&next) {
            next = next.saturating_add(1);
        }
        numbers.insert(host.name.clone(), next);
        taken.insert(next);
    }
    numbers
}

/// Fixed addresses: one /24 per network, counted up from `first`'s third
/// octet; the host numbered `n` (see [`HostNumbers`]) gets `.10 + n` on each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPlan {
    first: Ipv4Addr,
    networks: Vec<LabNetwork>,
    hosts: Vec<(HostName, u8, Vec<LabNetwork>)>,
}

/// Where an exported docker-compose bundle puts its networks (labs that
/// topolab runs itself take 10.213.0.0/16, so the two never collide).
pub const DEFAULT_FIRST_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 214, 0, 0);

/// First host number in each subnet (.1 is the gateway).
const FIRST_HOST: u8 = 10;

impl AddressPlan {
    /// The plan of a new lab of `topology` with its first /24 at `first`:
    /// hosts numbered in file order.
    pub fn new(topology: &Topology, first: Ipv4Addr) -> Self {
        Self::numbered(topology, first, &HostNumbers::new())
    }

    /// The plan of `topology` where the hosts `kept` names keep their
    /// numbers (a running lab's), see [`host_numbers`].
    pub fn numbered(topology: &Topology, first: Ipv4Addr, kept: &HostNumbers) -> Self {
        let numbers = host_numbers(topology, kept);
        Self {
            first,
            networks: networks(topology),
            hosts: topology
                .hosts
                .iter()
                .map(|h| {
                    let n = numbers.get(&h.name).copied().unwrap_or(0);
                    let region = lab_region(topology, h);
                    let nets = host_networks(topology, h)
                        .into_iter()
                        .map(|tier| LabNetwork {
                            region: region.clone(),
                            tier,
                        })
                        .collect();
                    (h.name.clone(), n, nets)
                })
                .collect(),
        }
    }

    /// `host`'s number (its address is `.10 + number`).
    pub fn number(&self, host: &HostName) -> Option<u8> {
        self.hosts
            .iter()
            .find(|(h, _, _)| h == host)
            .map(|(_, n, _)| *n)
    }

    /// The networks, in order.
    pub fn networks(&self) -> &[LabNetwork] {
        &self.networks
    }

    /// Whether the networks are per region (joined by a router).
    pub fn spans_regions(&self) -> bool {
        self.networks.iter().any(|n| n.region.is_some())
    }

    /// The network address of `net`'s /24.
    pub fn subnet(&self, net: &LabNetwork) -> Option<Ipv4Addr> {
        let k = self.networks.iter().position(|n| n == net)?;
        let [a, b, c, _] = self.first.octets();
        Some(Ipv4Addr::new(
            a,
            b,
            c.checked_add(u8::try_from(k).ok()?)?,
            0,
        ))
    }

    /// `net`'s subnet in CIDR notation.
    pub fn cidr(&self, net: &LabNetwork) -> Option<String> {
        self.subnet(net).map(|s| format!("{s}/24"))
    }

    /// `net`'s gateway address.
    pub fn gateway(&self, net: &LabNetwork) -> Option<Ipv4Addr> {
        self.on(net, 1)
    }

    /// The network of tier `tier` that `host` joins, if any.
    pub fn network_of(&self, host: &HostName, tier: Network) -> Option<&LabNetwork> {
        let (_, _, nets) = self.hosts.iter().find(|(h, _, _)| h == host)?;
        nets.iter().find(|n| n.tier == tier)
    }

    /// `host`'s address on its network of tier `tier`, if it joins one.
    pub fn address(&self, host: &HostName, tier: Network) -> Option<Ipv4Addr> {
        let net = self.network_of(host, tier)?;
        let number = self.number(host)?;
        self.on(net, FIRST_HOST.checked_add(number)?)
    }

    /// The address `.number` on `net` (a virtual IP's, Prometheus's).
    pub fn on(&self, net: &LabNetwork, number: u8) -> Option<Ipv4Addr> {
        let [a, b, c, _] = self.subnet(net)?.octets();
        Some(Ipv4Addr::new(a, b, c, number))
    }

    /// `vip`'s address: on its load balancers' serving network.
    pub fn vip_address(&self, topology: &Topology, vip: &Vip) -> Option<Ipv4Addr> {
        self.on(self.vip_network(topology, vip)?, vip.number)
    }

    /// The network `vip`'s address is on: its load balancers' serving
    /// network (in their region).
    pub fn vip_network(&self, topology: &Topology, vip: &Vip) -> Option<&LabNetwork> {
        let first = vip.members.first()?;
        self.network_of(first, serving_network(topology, ComponentKind::Lb))
    }

    /// `host`'s networks with its address on each.
    pub fn host_addresses(&self, host: &HostName) -> Vec<(LabNetwork, Ipv4Addr)> {
        let Some((_, _, nets)) = self.hosts.iter().find(|(h, _, _)| h == host) else {
            return Vec::new();
        };
        self.networks
            .iter()
            .filter(|n| nets.contains(n))
            .filter_map(|n| self.address(host, n.tier).map(|a| (n.clone(), a)))
            .collect()
    }

    /// The router's address on `net`, in a design of regions.
    pub fn router(&self, net: &LabNetwork) -> Option<Ipv4Addr> {
        net.region.as_ref()?;
        self.on(net, ROUTER_NUMBER)
    }

    /// Where `host` sends traffic for the other regions: each subnet of
    /// another region in a tier `host` joins, via the router's address on
    /// `host`'s own network of that tier. Tiers stay apart across regions
    /// as within one: a load balancer gets no route to a database.
    pub fn routes(&self, host: &HostName) -> Vec<(String, Ipv4Addr)> {
        let Some((_, _, nets)) = self.hosts.iter().find(|(h, _, _)| h == host) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for own in nets {
            let Some(via) = self.router(own) else {
                continue;
            };
            for other in &self.networks {
                if other.tier == own.tier
                    && other.region != own.region
                    && let Some(cidr) = self.cidr(other)
                {
                    out.push((cidr, via));
                }
            }
        }
        out
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
        let back = LabNetwork {
            region: None,
            tier: Network::Back,
        };
        assert_eq!(plan.cidr(&back).as_deref(), Some("10.9.5.0/24"));
    }

    #[test]
    fn a_running_lab_keeps_its_hosts_numbers_when_hosts_come_and_go() {
        let host = |n: &str| Host::new(n).with([Component::with_defaults(ComponentKind::Nginx)]);
        let mut t = Topology::new("t");
        t.hosts = vec![host("a"), host("b"), host("c")];
        let launched = host_numbers(&t, &HostNumbers::new());
        assert_eq!(launched.values().copied().collect::<Vec<_>>(), [0, 1, 2]);
        // b goes, d comes: c keeps 2, d takes the number b left.
        t.hosts.remove(1);
        t.hosts.push(host("d"));
        let after = host_numbers(&t, &launched);
        assert_eq!(after.get(&HostName::new("c")), Some(&2));
        assert_eq!(after.get(&HostName::new("d")), Some(&1));
        assert!(!after.contains_key(&HostName::new("b")));
        let plan = AddressPlan::numbered(&t, Ipv4Addr::new(10, 9, 4, 0), &launched);
        assert_eq!(
            plan.address(&HostName::new("c"), Network::Lab),
            Some(Ipv4Addr::new(10, 9, 4, 12))
        );
    }
}
