//! The launch plan: every network, volume and container of a lab, with the
//! files each container gets. Pure data computed from the topology, the
//! profile and the generated artifacts; `launch.rs` executes it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::Ipv4Addr;

use super::images::Profile;
pub use crate::generate::Part;
use crate::generate::{self, Artifacts, Readiness, Recipe, Secret, Secrets, Settings, recipe};
use crate::model::{
    AddressPlan, ComponentKind, Flavor, HostName, HostNumbers, HostSize, LabNetwork, NAT_NUMBER,
    REACH_NUMBER, Topology, Vip,
};
pub use crate::protocol::{DnsEndpoint, EntryPoint, VipEndpoint};

/// A file copied into a container before it starts.
#[derive(Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path inside the container.
    pub path: String,
    /// Contents.
    pub content: String,
    /// Unix mode.
    pub mode: u32,
    /// The bundle file it comes from (for `--explain`), or `None` for a
    /// secret that only the lab's state holds.
    pub source: Option<String>,
}

impl fmt::Debug for FileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileSpec({}, {} bytes)", self.path, self.content.len())
    }
}

/// A container to create.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerPlan {
    /// `topolab-LAB-HOST[-KIND]`.
    pub name: String,
    /// The host it belongs to.
    pub host: HostName,
    /// What it is.
    pub part: Part,
    /// Image.
    pub image: String,
    /// Command.
    pub cmd: Vec<String>,
    /// The secrets it reads, uploaded as root-only files before it starts
    /// (only those it uses; never in its environment).
    pub secrets: Vec<Secret>,
    /// The holder whose namespace it joins (components).
    pub join: Option<String>,
    /// Networks with fixed addresses (holders and Prometheus).
    pub networks: Vec<(String, Ipv4Addr)>,
    /// (container port, port on 127.0.0.1), TCP.
    pub ports: Vec<(u16, u16)>,
    /// (container port, port on 127.0.0.1), UDP.
    pub udp_ports: Vec<(u16, u16)>,
    /// Files copied in before start.
    pub files: Vec<FileSpec>,
    /// (volume, mount path).
    pub volume: Option<(String, String)>,
    /// The port a component serves on inside its host.
    pub serves_on: Option<u16>,
    /// When it is ready.
    pub ready: Readiness,
    /// Its rough memory need, in MiB.
    pub memory_mib: u64,
    /// A database that replicates another.
    pub replica: bool,
    /// Capabilities beyond Docker's defaults.
    pub cap_add: Vec<String>,
    /// The size of the host it belongs to (None: not part of a host).
    pub size: Option<HostSize>,
}

/// A lab network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPlan {
    /// Docker's name for it.
    pub name: String,
    /// CIDR.
    pub subnet: String,
    /// Gateway.
    pub gateway: Ipv4Addr,
}

/// Everything `launch` creates.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The lab's name.
    pub lab: String,
    /// Image profile.
    pub profile: Profile,
    /// What the topology asked for.
    pub topology_flavor: Flavor,
    /// What runs.
    pub flavor: Flavor,
    /// Networks.
    pub networks: Vec<NetworkPlan>,
    /// Volumes.
    pub volumes: Vec<String>,
    /// Containers, holders first.
    pub containers: Vec<ContainerPlan>,
    /// Entry points, in topology order.
    pub entry_points: Vec<EntryPoint>,
    /// DNS servers, in topology order.
    pub dns_servers: Vec<DnsEndpoint>,
    /// Virtual IPs and their addresses.
    pub vips: Vec<(Vip, Ipv4Addr)>,
    /// The virtual IPs' published ports (the `nat` forwards them).
    pub vip_ports: Vec<VipEndpoint>,
    /// The round trip the router adds between regions, in milliseconds
    /// (0 without regions).
    pub wan_latency_ms: u32,
    /// The files as launched.
    pub artifacts: Artifacts,
    /// Bridges, or overlays of the engine's swarm.
    pub network_driver: super::docker::NetworkDriver,
}

/// What the plan needs beyond the topology.
#[derive(Clone, Debug)]
pub struct PlanParams {
    /// Lab name (a DNS label).
    pub lab: String,
    /// Image profile.
    pub profile: Profile,
    /// The app image's tag.
    pub app_image: String,
    /// First /24 of the lab's networks.
    pub first_subnet: Ipv4Addr,
    /// Published (HTTP, HTTPS) ports per entry host.
    pub ports: BTreeMap<HostName, (u16, Option<u16>)>,
    /// Published port (UDP and TCP) per DNS server.
    pub dns_ports: BTreeMap<HostName, u16>,
    /// Published (HTTP, HTTPS) ports per virtual IP (by number).
    pub vip_ports: BTreeMap<u8, (u16, Option<u16>)>,
    /// The numbers the hosts of a running lab keep (empty: a new lab).
    pub numbers: HostNumbers,
    /// Where each database is published on 127.0.0.1 through the `reach`
    /// forwarder (a lab on overlays; empty: none).
    pub reach_ports: BTreeMap<HostName, u16>,
}

/// Container name of `host`'s holder.
pub fn holder_name(lab: &str, host: &HostName) -> String {
    super::names::holder(lab, host)
}

/// Container name of a part of `host`.
pub fn container_name(lab: &str, host: &HostName, part: Part) -> String {
    super::names::container(lab, host, part)
}

/// Each virtual IP of `topology` with its address in the lab.
pub fn vip_addresses(topology: &Topology, addresses: &AddressPlan) -> Vec<(Vip, Ipv4Addr)> {
    topology
        .vips()
        .into_iter()
        .filter_map(|v| {
            let a = addresses.vip_address(topology, &v)?;
            Some((v, a))
        })
        .collect()
}

/// The router's name in the lab's labels (its container is `topolab-LAB-wan`).
pub const ROUTER: &str = "wan";

/// The virtual IPs' forwarder's name in the lab's labels (its container is
/// `topolab-LAB-nat`).
pub const NAT: &str = "nat";

/// The databases' forwarder's name in the lab's labels (its container is
/// `topolab-LAB-reach`), in a lab on overlays.
pub const REACH: &str = "reach";

/// The `reach` forwarder: on each network a database serves on, each
/// database's SQL port published where `params` says.
fn reach(
    topology: &Topology,
    addresses: &AddressPlan,
    params: &PlanParams,
    net_name: &dyn Fn(&LabNetwork) -> String,
    mut reach: ContainerPlan,
) -> ContainerPlan {
    let tier = crate::model::serving_network(topology, ComponentKind::Db);
    let mut databases = Vec::new();
    for (host, db) in topology.databases() {
        let (Some(net), Some(ip), Some(published)) = (
            addresses.network_of(&host.name, tier),
            addresses.address(&host.name, tier),
            params.reach_ports.get(&host.name),
        ) else {
            continue;
        };
        // Inside, each database's listener takes its published port: a
        // database added or removed later moves no other.
        reach.ports.push((*published, *published));
        databases.push((host.name.to_string(), ip, db.port, *published));
        if !reach.networks.iter().any(|(n, _)| *n == net_name(net))
            && let Some(at) = addresses.on(net, REACH_NUMBER)
        {
            reach.networks.push((net_name(net), at));
        }
    }
    reach.files.push(FileSpec {
        path: recipe::reach_config(),
        content: generate::nat::reach_cfg(&databases),
        mode: 0o644,
        source: Some("reach/haproxy.cfg".to_owned()),
    });
    reach
}

/// The address Prometheus takes on each network.
const MONITORING_HOST: u8 = 250;

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The topology is invalid.
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    /// An entry point has no port.
    #[error("no published port chosen for {0}")]
    NoPort(HostName),
    /// A virtual IP has no port.
    #[error("no published port chosen for vip .{0}")]
    NoVipPort(u8),
}

/// The plan of `topology` with `params`.
pub fn plan(
    topology: &Topology,
    secrets: &Secrets,
    params: &PlanParams,
) -> Result<Plan, PlanError> {
    let flavor = params.profile.effective_flavor(topology.databases.flavor);
    let images = params.profile.images(flavor, &params.app_image);
    let settings = Settings {
        lab: params.lab.clone(),
        flavor,
        first_subnet: params.first_subnet,
        images: images.clone(),
        numbers: params.numbers.clone(),
    };
    let artifacts = generate::generate(topology, &settings, secrets)?;
    let addresses = AddressPlan::numbered(topology, params.first_subnet, &params.numbers);
    let lab = &params.lab;
    let net_name = |n: &LabNetwork| super::names::network(lab, n);
    let networks = addresses
        .networks()
        .iter()
        .filter_map(|n| {
            Some(NetworkPlan {
                name: net_name(n),
                subnet: addresses.cidr(n)?,
                gateway: addresses.gateway(n)?,
            })
        })
        .collect();
    // A container from its recipe: its generated files, and each secret
    // it reads as a file only root can read.
    let from_recipe = |r: Recipe, host: &HostName, join: Option<String>| {
        let files = r
            .files
            .iter()
            .filter_map(|f| {
                artifacts.get(&f.artifact).map(|content| FileSpec {
                    path: f.path.clone(),
                    content: content.to_owned(),
                    mode: f.mode,
                    source: Some(f.artifact.clone()),
                })
            })
            .chain(r.secrets.iter().map(|s: &Secret| FileSpec {
                path: s.path(),
                content: secrets.get(*s).to_owned(),
                mode: 0o400,
                source: None,
            }))
            .collect();
        ContainerPlan {
            name: container_name(lab, host, r.part),
            host: host.clone(),
            part: r.part,
            image: images.get(r.image).to_owned(),
            cmd: r.command,
            secrets: r.secrets,
            join,
            networks: Vec::new(),
            ports: Vec::new(),
            udp_ports: Vec::new(),
            files,
            volume: r.volume.map(|v| {
                (
                    super::names::volume_of(lab, host, v.kind),
                    v.path.to_owned(),
                )
            }),
            serves_on: r.serves_on,
            ready: r.ready,
            memory_mib: r.memory_mib,
            replica: false,
            cap_add: r.capabilities.iter().map(|c| (*c).to_owned()).collect(),
            size: None,
        }
    };
    let mut containers = Vec::new();
    let mut volumes = Vec::new();
    let mut entry_points = Vec::new();
    let mut dns_servers = Vec::new();
    let entries: Vec<HostName> = topology
        .entry_points()
        .iter()
        .map(|h| h.name.clone())
        .collect();
    for host in &topology.hosts {
        let h = &host.name;
        let mut ports = Vec::new();
        if entries.contains(h) {
            let (http, https) = *params
                .ports
                .get(h)
                .ok_or_else(|| PlanError::NoPort(h.clone()))?;
            let inside = host
                .load_balancer()
                .map(|lb| lb.port)
                .or_else(|| host.web_server().map(|w| w.port))
                .unwrap_or(80);
            ports.push((inside, http));
            let mut tls = None;
            if let (Some(lb), Some(https), true) =
                (host.load_balancer(), https, topology.security.tls)
            {
                ports.push((lb.tls_port, https));
                tls = Some(https);
            }
            entry_points.push(EntryPoint {
                host: h.clone(),
                http,
                https: tls,
            });
        }
        let mut udp_ports = Vec::new();
        if let Some(dns) = host.dns_server() {
            let port = *params
                .dns_ports
                .get(h)
                .ok_or_else(|| PlanError::NoPort(h.clone()))?;
            ports.push((dns.port, port));
            udp_ports.push((dns.port, port));
            dns_servers.push(DnsEndpoint {
                host: h.clone(),
                port,
            });
        }
        let mut holder = from_recipe(recipe::holder(&addresses, h), h, None);
        // A holder owns its host's interfaces, so it alone may shape their
        // traffic (`tc`, for the `slow` fault).
        holder.cap_add = vec!["NET_ADMIN".to_owned()];
        holder.size = Some(host.size);
        holder.networks = addresses
            .host_addresses(h)
            .into_iter()
            .map(|(n, ip)| (net_name(&n), ip))
            .collect();
        holder.ports = ports;
        holder.udp_ports = udp_ports;
        let joins = holder.name.clone();
        containers.push(holder);
        for r in recipe::of_host(topology, &addresses, host) {
            let mut c = from_recipe(r, h, Some(joins.clone()));
            c.size = Some(host.size);
            c.replica = c.part == Part::Component(ComponentKind::Db)
                && host
                    .database()
                    .is_some_and(|d| matches!(d.role, crate::model::Role::Replica { .. }));
            if let Some((volume, _)) = &c.volume
                && !volumes.contains(volume)
            {
                volumes.push(volume.clone());
            }
            containers.push(c);
        }
    }
    if topology.monitoring.enabled {
        let mut monitoring = from_recipe(recipe::monitoring(), &HostName::new("monitoring"), None);
        monitoring.networks = addresses
            .networks()
            .iter()
            .filter_map(|n| Some((net_name(n), addresses.on(n, MONITORING_HOST)?)))
            .collect();
        containers.push(monitoring);
    }
    if addresses.spans_regions() {
        let mut router = from_recipe(recipe::router(topology), &HostName::new(ROUTER), None);
        router.networks = addresses
            .networks()
            .iter()
            .filter_map(|n| Some((net_name(n), addresses.router(n)?)))
            .collect();
        containers.push(router);
    }
    let mut vip_ports = Vec::new();
    let vips = crate::model::vip_published_ports(topology);
    // A lab recorded before the virtual IPs had ports of their own runs no
    // nat: its plan has none either.
    if !vips.is_empty() && !params.vip_ports.is_empty() {
        let mut nat = from_recipe(recipe::nat(), &HostName::new(NAT), None);
        for v in &vips {
            let (http, https) = *params
                .vip_ports
                .get(&v.number)
                .ok_or(PlanError::NoVipPort(v.number))?;
            let (inside_http, inside_https) = generate::nat::listens(v);
            nat.ports.push((inside_http, http));
            if let (Some(inside), Some(outside)) = (inside_https, https) {
                nat.ports.push((inside, outside));
            }
            vip_ports.push(VipEndpoint {
                number: v.number,
                http,
                https: https.filter(|_| inside_https.is_some()),
            });
        }
        // On each network a virtual IP is on, once.
        for (vip, _) in vip_addresses(topology, &addresses) {
            if let Some(net) = addresses.vip_network(topology, &vip)
                && let Some(ip) = addresses.on(net, NAT_NUMBER)
                && !nat.networks.iter().any(|(n, _)| *n == net_name(net))
            {
                nat.networks.push((net_name(net), ip));
            }
        }
        containers.push(nat);
    }
    if !params.reach_ports.is_empty() {
        let forwarder = from_recipe(recipe::reach(), &HostName::new(REACH), None);
        containers.push(reach(topology, &addresses, params, &net_name, forwarder));
    }
    Ok(Plan {
        lab: lab.clone(),
        profile: params.profile,
        topology_flavor: topology.databases.flavor,
        flavor,
        networks,
        volumes,
        containers,
        entry_points,
        dns_servers,
        vips: vip_addresses(topology, &addresses),
        vip_ports,
        wan_latency_ms: if addresses.spans_regions() {
            topology.wan.latency_ms
        } else {
            0
        },
        artifacts,
        network_driver: super::docker::NetworkDriver::Bridge,
    })
}

impl Plan {
    /// The labels of a container of this lab.
    pub fn labels(&self, host: &HostName, part: Part) -> HashMap<String, String> {
        super::names::container_labels(&self.lab, host, part.label())
    }

    /// The labels of a network or volume of this lab.
    pub fn lab_labels(&self) -> HashMap<String, String> {
        super::names::lab_labels(&self.lab)
    }

    /// The memory the lab needs, in MiB (a rough estimate).
    pub fn memory_mib(&self) -> u64 {
        self.containers.iter().map(|c| c.memory_mib).sum()
    }

    /// Every host whose components need more memory than its size gives
    /// it: (host, their rough need in MiB, its size).
    pub fn hosts_too_small(&self) -> Vec<(HostName, u64, HostSize)> {
        let mut need: BTreeMap<&HostName, (u64, HostSize)> = BTreeMap::new();
        for c in &self.containers {
            if let Some(size) = c.size {
                need.entry(&c.host).or_insert((0, size)).0 += c.memory_mib;
            }
        }
        need.into_iter()
            .filter(|(_, (mib, size))| *mib > u64::from(size.memory_mib))
            .map(|(h, (mib, size))| (h.clone(), mib, size))
            .collect()
    }

    /// The note to show when the profile runs another database program
    /// than the topology names.
    pub fn flavor_note(&self) -> Option<String> {
        (self.flavor != self.topology_flavor).then(|| {
            format!(
                "the topology says {}, but the {} profile has no {} server: this lab runs {} in its place, with {}'s configs",
                self.topology_flavor.as_str(),
                self.profile.as_str(),
                self.topology_flavor.as_str(),
                self.flavor.as_str(),
                self.flavor.as_str()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    fn params(profile: Profile, t: &Topology) -> PlanParams {
        PlanParams {
            lab: "demo".to_owned(),
            profile,
            app_image: "topolab-app:test".to_owned(),
            first_subnet: Ipv4Addr::new(10, 213, 4, 0),
            ports: t
                .entry_points()
                .iter()
                .enumerate()
                .map(|(i, h)| (h.name.clone(), (18080 + i as u16, Some(18443 + i as u16))))
                .collect(),
            dns_ports: t
                .dns_servers()
                .enumerate()
                .map(|(i, (h, _))| (h.name.clone(), 15300 + i as u16))
                .collect(),
            vip_ports: t
                .vips()
                .iter()
                .enumerate()
                .map(|(i, v)| (v.number, (19080 + i as u16, Some(19443 + i as u16))))
                .collect(),
            numbers: HostNumbers::new(),
            reach_ports: BTreeMap::new(),
        }
    }

    #[test]
    fn a_dns_server_publishes_its_port_over_udp_and_tcp() {
        let t = Preset::find("dns")
            .expect("preset")
            .topology()
            .expect("valid");
        let p = plan(&t, &secrets(), &params(Profile::Local, &t)).expect("plan");
        let holder = |h: &str| {
            p.containers
                .iter()
                .find(|c| c.part == Part::Holder && c.host.as_str() == h)
                .expect("holder")
        };
        assert_eq!(holder("dns-01").ports, [(53, 15300)]);
        assert_eq!(holder("dns-01").udp_ports, [(53, 15300)]);
        assert_eq!(holder("dns-02").udp_ports, [(53, 15301)]);
        assert!(holder("lb-01").udp_ports.is_empty());
        let hosts: Vec<&str> = p.dns_servers.iter().map(|d| d.host.as_str()).collect();
        assert_eq!(hosts, ["dns-01", "dns-02"]);
        // PowerDNS runs in its own container, ready once it answers.
        let dns = p
            .containers
            .iter()
            .find(|c| c.part == Part::Component(ComponentKind::Dns) && c.host.as_str() == "dns-01")
            .expect("dns container");
        assert_eq!(dns.ready, Readiness::Dns);
        assert!(dns.files.iter().any(|f| f.path.ends_with("/zone")));
    }

    #[test]
    fn keepalived_runs_beside_each_member_of_a_virtual_ip_with_net_admin() {
        let t = Preset::find("vip")
            .expect("preset")
            .topology()
            .expect("valid");
        let p = plan(&t, &secrets(), &params(Profile::Local, &t)).expect("plan");
        for h in ["lb-01", "lb-02"] {
            let c = p
                .containers
                .iter()
                .find(|c| c.part == Part::Vrrp && c.host.as_str() == h)
                .expect("a keepalived container");
            assert_eq!(c.cap_add, ["NET_ADMIN"]);
            assert_eq!(
                c.join.as_deref(),
                Some(holder_name("demo", &h.into()).as_str())
            );
            let paths: Vec<&str> = c.files.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(
                paths,
                ["/etc/topolab/keepalived.conf", "/etc/topolab/vrrp-check.sh"]
            );
        }
        // Other components get no capability beyond Docker's defaults.
        assert!(
            p.containers
                .iter()
                .filter(|c| !matches!(c.part, Part::Holder | Part::Vrrp))
                .all(|c| c.cap_add.is_empty())
        );
        assert_eq!(p.vips.len(), 1);
        assert_eq!(p.vips[0].1, Ipv4Addr::new(10, 213, 4, 220));
    }

    #[test]
    fn each_region_has_its_networks_and_the_router_joins_them() {
        let t = Preset::find("two-regions")
            .expect("preset")
            .topology()
            .expect("valid");
        let p = plan(&t, &secrets(), &params(Profile::Local, &t)).expect("plan");
        let nets: Vec<(&str, &str)> = p
            .networks
            .iter()
            .map(|n| (n.name.as_str(), n.subnet.as_str()))
            .collect();
        assert_eq!(
            nets,
            [
                ("topolab-demo-lab-a", "10.213.4.0/24"),
                ("topolab-demo-lab-b", "10.213.5.0/24")
            ]
        );
        let holder = |h: &str| {
            p.containers
                .iter()
                .find(|c| c.part == Part::Holder && c.host.as_str() == h)
                .expect("holder")
        };
        // A host joins its own region's network only, and routes the other
        // region's subnet through the router's address on it.
        let b1 = holder("web-b1");
        assert_eq!(b1.networks.len(), 1);
        assert_eq!(b1.networks[0].0, "topolab-demo-lab-b");
        assert_eq!(
            b1.cmd.last().map(String::as_str),
            Some("ip route replace 10.213.4.0/24 via 10.213.5.251 && exec sleep infinity")
        );
        let a1 = holder("web-a1");
        assert_eq!(a1.networks[0].0, "topolab-demo-lab-a");
        assert!(
            a1.cmd
                .iter()
                .any(|w| w.contains("10.213.5.0/24 via 10.213.4.251"))
        );
        // The router: on every network at .251, forwarding, allowed to
        // shape its interfaces.
        let router = p
            .containers
            .iter()
            .find(|c| c.part == Part::Router)
            .expect("a router");
        assert_eq!(router.name, "topolab-demo-wan");
        assert_eq!(
            router.networks,
            [
                (
                    "topolab-demo-lab-a".to_owned(),
                    Ipv4Addr::new(10, 213, 4, 251)
                ),
                (
                    "topolab-demo-lab-b".to_owned(),
                    Ipv4Addr::new(10, 213, 5, 251)
                )
            ]
        );
        assert_eq!(router.cap_add, ["NET_ADMIN"]);
        assert_eq!(router.part.sysctls(), [("net.ipv4.ip_forward", "1")]);
        assert!(router.cmd.iter().any(|w| w.contains("netem delay 20ms")));
        assert_eq!(p.wan_latency_ms, 40);
        // Each region's virtual IP is on its own region's network.
        let vips: Vec<(u8, Ipv4Addr)> = p.vips.iter().map(|(v, a)| (v.number, *a)).collect();
        assert_eq!(
            vips,
            [
                (220, Ipv4Addr::new(10, 213, 4, 220)),
                (221, Ipv4Addr::new(10, 213, 5, 221))
            ]
        );
        // Each virtual IP's published port is forwarded by the nat, which
        // sits at .252 on both regions' networks.
        let nat = p
            .containers
            .iter()
            .find(|c| c.part == Part::Nat)
            .expect("a nat");
        assert_eq!(nat.name, "topolab-demo-nat");
        assert_eq!(
            nat.networks,
            [
                (
                    "topolab-demo-lab-a".to_owned(),
                    Ipv4Addr::new(10, 213, 4, 252)
                ),
                (
                    "topolab-demo-lab-b".to_owned(),
                    Ipv4Addr::new(10, 213, 5, 252)
                )
            ]
        );
        assert_eq!(nat.ports, [(10_220, 19080), (10_221, 19081)]);
        let published: Vec<(u8, u16)> = p.vip_ports.iter().map(|v| (v.number, v.http)).collect();
        assert_eq!(published, [(220, 19080), (221, 19081)]);
        let cfg = &nat.files[0].content;
        assert!(
            cfg.contains("bind :10220") && cfg.contains("10.213.4.220:80"),
            "{cfg}"
        );
        assert!(
            cfg.contains("bind :10221") && cfg.contains("10.213.5.221:80"),
            "{cfg}"
        );
        // One region: no router, no routes.
        let one = Preset::find("vip")
            .expect("preset")
            .topology()
            .expect("valid");
        let p = plan(&one, &secrets(), &params(Profile::Local, &one)).expect("plan");
        assert!(p.containers.iter().all(|c| c.part != Part::Router));
        assert!(
            p.containers
                .iter()
                .filter(|c| c.part == Part::Holder)
                .all(|c| c.cmd == ["sleep", "infinity"])
        );
        assert_eq!(p.wan_latency_ms, 0);
    }

    fn secrets() -> Secrets {
        Secrets::generate("www.foobar.com").expect("secrets")
    }

    /// Both profiles give the same plan apart from images and flavor.
    #[test]
    fn profiles_differ_only_in_images_and_flavor() {
        for preset in crate::preset::PRESETS {
            let mut t = preset.topology().expect("valid");
            // Same flavor for both, so the generated files match too.
            t.databases.flavor = Flavor::Mariadb;
            let s = secrets();
            let local = plan(&t, &s, &params(Profile::Local, &t)).expect("plan");
            let official = plan(&t, &s, &params(Profile::Official, &t)).expect("plan");
            assert_eq!(local.networks, official.networks);
            assert_eq!(local.volumes, official.volumes);
            assert_eq!(local.entry_points, official.entry_points);
            assert_eq!(local.containers.len(), official.containers.len());
            for (a, b) in local.containers.iter().zip(&official.containers) {
                let strip = |c: &ContainerPlan| ContainerPlan {
                    image: String::new(),
                    files: vec![],
                    ..c.clone()
                };
                assert_eq!(strip(a), strip(b), "{}", preset.name);
                let paths = |c: &ContainerPlan| {
                    c.files
                        .iter()
                        .map(|f| (f.path.clone(), f.mode))
                        .collect::<Vec<_>>()
                };
                assert_eq!(paths(a), paths(b));
            }
            let files = |p: &Plan| {
                p.artifacts
                    .iter()
                    .filter(|(k, _)| !k.ends_with(".env") && *k != "docker-compose.yml")
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(files(&local), files(&official), "{}", preset.name);
        }
    }

    #[test]
    fn local_profile_runs_mariadb_for_a_mysql_topology_and_says_so() {
        let t = Preset::find("reference")
            .expect("preset")
            .topology()
            .expect("valid");
        let local = plan(&t, &secrets(), &params(Profile::Local, &t)).expect("plan");
        assert_eq!(local.flavor, Flavor::Mariadb);
        assert!(local.flavor_note().is_some_and(|n| n.contains("mariadb")));
        let cnf = local.artifacts.get("web-01/my.cnf").expect("my.cnf");
        assert!(cnf.contains("gtid-strict-mode"), "{cnf}");
        let official = plan(&t, &secrets(), &params(Profile::Official, &t)).expect("plan");
        assert_eq!(official.flavor, Flavor::Mysql);
        assert_eq!(official.flavor_note(), None);
    }

    #[test]
    fn reference_plan_has_holders_components_and_one_published_port() {
        let t = Preset::find("reference")
            .expect("preset")
            .topology()
            .expect("valid");
        let p = plan(&t, &secrets(), &params(Profile::Local, &t)).expect("plan");
        let names: Vec<&str> = p.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "topolab-demo-lb-01",
                "topolab-demo-lb-01-lb",
                "topolab-demo-web-01",
                "topolab-demo-web-01-nginx",
                "topolab-demo-web-01-app",
                "topolab-demo-web-01-db",
                "topolab-demo-web-02",
                "topolab-demo-web-02-nginx",
                "topolab-demo-web-02-app",
                "topolab-demo-web-02-db",
            ]
        );
        let published: Vec<_> = p.containers.iter().flat_map(|c| c.ports.clone()).collect();
        assert_eq!(published, [(80, 18080)]);
        assert!(
            p.containers
                .iter()
                .filter(|c| c.part != Part::Holder)
                .all(|c| c.join.is_some())
        );
        // Per host: its application files (shared by Nginx and the app)
        // and its database's data.
        assert_eq!(
            p.volumes,
            [
                "topolab-demo-web-01-app",
                "topolab-demo-web-01-db",
                "topolab-demo-web-02-app",
                "topolab-demo-web-02-db"
            ]
        );
    }

    #[test]
    fn a_lab_on_overlays_reaches_its_databases_through_its_forwarder() {
        let t = Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("preset");
        let secrets = Secrets::generate(&t.domain).expect("secrets");
        let bridges = plan(&t, &secrets, &params(Profile::Local, &t)).expect("plan");
        assert!(bridges.containers.iter().all(|c| c.part != Part::Reach));

        let mut p = params(Profile::Local, &t);
        p.reach_ports = BTreeMap::from([
            (HostName::new("web-01"), 40001),
            (HostName::new("web-02"), 40002),
        ]);
        let overlays = plan(&t, &secrets, &p).expect("plan");
        let reach = overlays
            .containers
            .iter()
            .find(|c| c.part == Part::Reach)
            .expect("a reach forwarder");
        assert_eq!(reach.name, "topolab-demo-reach");
        assert_eq!(reach.ports, [(40001, 40001), (40002, 40002)]);
        assert_eq!(
            reach.networks,
            [(
                "topolab-demo-lab".to_owned(),
                Ipv4Addr::new(10, 213, 4, 253)
            )]
        );
        let cfg = &reach.files[0].content;
        let addresses = AddressPlan::new(&t, Ipv4Addr::new(10, 213, 4, 0));
        for (i, host) in ["web-01", "web-02"].into_iter().enumerate() {
            let ip = addresses
                .address(&HostName::new(host), crate::model::Network::Lab)
                .expect("address");
            assert!(cfg.contains(&format!("bind :{}", 40001 + i)), "{cfg}");
            assert!(cfg.contains(&format!("{ip}:3306")), "{cfg}");
        }
    }
}
