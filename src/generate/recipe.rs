//! One recipe per container: how each component kind (and each helper
//! beside the components) runs — image, command, files with their paths
//! and modes, secrets, data volume, port, readiness check, memory. The lab's
//! launch plan and the exported docker-compose.yml are both made from these
//! recipes, so a new component kind does not compile until it has one, and
//! the lab and the bundle cannot drift apart.

use super::{Secret, paths};
use crate::model::{
    AddressPlan, Component, ComponentKind, EXPORTER_PORT, Host, HostName, Topology, serving_network,
};

/// What a container is in its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Owns the host's network namespace, name and addresses.
    Holder,
    /// A component of the topology.
    Component(ComponentKind),
    /// The MySQL exporter beside a database (monitoring).
    Exporter,
    /// keepalived beside a load balancer that shares a virtual IP.
    Vrrp,
    /// Prometheus (monitoring).
    Monitoring,
    /// The router joining the regions' networks (the "WAN").
    Router,
    /// The forwarder of the virtual IPs' published ports.
    Nat,
    /// The forwarder that lets topolab reach the databases of a lab on
    /// overlays (the lab's own, not the design's).
    Reach,
}

impl Part {
    /// The `topolab.component` label, and the suffix of the container's
    /// and the compose service's name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Holder => "holder",
            Self::Component(k) => k.as_str(),
            Self::Exporter => "exporter",
            Self::Vrrp => "vrrp",
            Self::Monitoring => "monitoring",
            Self::Router => "wan",
            Self::Nat => "nat",
            Self::Reach => "reach",
        }
    }

    /// Kernel settings of its network namespace: the router forwards.
    pub fn sysctls(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Router => &[("net.ipv4.ip_forward", "1")],
            _ => &[],
        }
    }

    /// Parses a `topolab.component` label.
    pub fn from_label(s: &str) -> Option<Self> {
        match s {
            "holder" => Some(Self::Holder),
            "exporter" => Some(Self::Exporter),
            "vrrp" => Some(Self::Vrrp),
            "monitoring" => Some(Self::Monitoring),
            "wan" => Some(Self::Router),
            "nat" => Some(Self::Nat),
            "reach" => Some(Self::Reach),
            other => other.parse().ok().map(Self::Component),
        }
    }
}

/// Which of the bundle's images a container runs (see [`super::Images`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageRole {
    /// The holders.
    Holder,
    /// HAProxy.
    Lb,
    /// Nginx.
    Web,
    /// The app server.
    App,
    /// The database server.
    Db,
    /// Prometheus and the exporter.
    Monitoring,
    /// The DNS server.
    Dns,
}

impl ImageRole {
    /// Every image role.
    pub const ALL: [Self; 7] = [
        Self::Holder,
        Self::Lb,
        Self::Web,
        Self::App,
        Self::Db,
        Self::Monitoring,
        Self::Dns,
    ];

    /// The `.env` variable naming this image in the bundle.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Holder => "TOPOLAB_HOLDER_IMAGE",
            Self::Lb => "TOPOLAB_LB_IMAGE",
            Self::Web => "TOPOLAB_WEB_IMAGE",
            Self::App => "TOPOLAB_APP_IMAGE",
            Self::Db => "TOPOLAB_DB_IMAGE",
            Self::Monitoring => "TOPOLAB_MONITORING_IMAGE",
            Self::Dns => "TOPOLAB_DNS_IMAGE",
        }
    }
}

impl super::Images {
    /// The image that plays `role`.
    pub fn get(&self, role: ImageRole) -> &str {
        match role {
            ImageRole::Holder => &self.holder,
            ImageRole::Lb => &self.lb,
            ImageRole::Web => &self.web,
            ImageRole::App => &self.app,
            ImageRole::Db => &self.db,
            ImageRole::Monitoring => &self.monitoring,
            ImageRole::Dns => &self.dns,
        }
    }
}

/// A generated file a container reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMount {
    /// The artifact (its path in the bundle, e.g. `web-01/nginx.conf`).
    pub artifact: String,
    /// Where the container finds it.
    pub path: String,
    /// Its Unix mode.
    pub mode: u32,
}

/// How to tell that a container is ready, checked from inside its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// The database answers a query.
    Sql,
    /// `http://127.0.0.1:PORT` + this path answers 2xx.
    Http {
        /// The port.
        port: u16,
        /// The path.
        path: &'static str,
    },
    /// PowerDNS answers on its control socket (`pdns_control rping`),
    /// which it opens once it listens for queries.
    Dns,
    /// Nothing to wait for.
    Started,
}

/// A host's volume, and where a container mounts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Which of the host's volumes.
    pub kind: VolumeKind,
    /// Where it is mounted.
    pub path: &'static str,
}

/// The volumes a host can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VolumeKind {
    /// The database's data.
    Data,
    /// The application's files (releases and the `current` link), shared
    /// by the host's Nginx and app.
    AppFiles,
}

impl VolumeKind {
    /// The suffix of its name (`topolab-<lab>-<host>-<suffix>`, and
    /// `<host>-<suffix>` in docker-compose.yml).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Data => "db",
            Self::AppFiles => "app",
        }
    }
}

const APP_FILES: Volume = Volume {
    kind: VolumeKind::AppFiles,
    path: paths::APP_DIR,
};

/// How one container runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipe {
    /// What it is.
    pub part: Part,
    /// Its image.
    pub image: ImageRole,
    /// Its command.
    pub command: Vec<String>,
    /// The generated files it reads.
    pub files: Vec<FileMount>,
    /// The secrets it reads, as root-only files.
    pub secrets: Vec<Secret>,
    /// The host's volume it mounts, if any.
    pub volume: Option<Volume>,
    /// The port it serves on inside its host.
    pub serves_on: Option<u16>,
    /// When it is ready.
    pub ready: Readiness,
    /// A rough resident memory need, in MiB (the launch's memory check).
    pub memory_mib: u64,
    /// Capabilities beyond Docker's defaults.
    pub capabilities: &'static [&'static str],
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

fn config(path: &str) -> String {
    format!("{}/{path}", paths::CONFIG_DIR)
}

/// The holder of a host's network namespace. In a design of regions it
/// first routes the other regions' subnets through the router (it may: a
/// holder has `NET_ADMIN`).
pub fn holder(plan: &AddressPlan, host: &HostName) -> Recipe {
    let routes = plan.routes(host);
    let command = if routes.is_empty() {
        words(&["sleep", "infinity"])
    } else {
        let mut script: Vec<String> = routes
            .iter()
            .map(|(cidr, via)| format!("ip route replace {cidr} via {via}"))
            .collect();
        script.push("exec sleep infinity".to_owned());
        vec!["sh".to_owned(), "-c".to_owned(), script.join(" && ")]
    };
    Recipe {
        part: Part::Holder,
        image: ImageRole::Holder,
        command,
        files: Vec::new(),
        secrets: Vec::new(),
        volume: None,
        serves_on: None,
        ready: Readiness::Started,
        memory_mib: 2,
        capabilities: if routes.is_empty() {
            &[]
        } else {
            &["NET_ADMIN"]
        },
    }
}

/// The recipe of `component` on `host`: every kind is matched here, so a
/// new kind has no container until it has a recipe.
pub fn component(topology: &Topology, host: &Host, component: &Component) -> Recipe {
    let h = &host.name;
    let file = |rel: &str, path: String, mode: u32| FileMount {
        artifact: format!("{h}/{rel}"),
        path,
        mode,
    };
    let kind = component.kind();
    let secrets = super::component_secrets(topology, host, kind);
    match component {
        Component::Lb(lb) => {
            let haproxy = format!("haproxy -W -db -f {}", config("haproxy.cfg"));
            let command = if secrets.contains(&Secret::StatsPassword) {
                // HAProxy reads the stats password from its environment:
                // the shell puts it there from the secret file at start, so
                // the container's configuration never holds it.
                let script = format!(
                    "export TOPOLAB_STATS_PASSWORD=\"$(cat {})\"; exec {haproxy}",
                    Secret::StatsPassword.path()
                );
                vec!["sh".to_owned(), "-c".to_owned(), script]
            } else {
                haproxy.split(' ').map(str::to_owned).collect()
            };
            let mut files = vec![file("haproxy.cfg", config("haproxy.cfg"), 0o644)];
            if topology.security.tls {
                files.push(file("tls/lab.pem", paths::TLS_CERT.to_owned(), 0o644));
            }
            Recipe {
                part: Part::Component(kind),
                image: ImageRole::Lb,
                command,
                files,
                secrets,
                volume: None,
                serves_on: Some(lb.port),
                ready: Readiness::Http {
                    port: lb.port,
                    path: "/",
                },
                memory_mib: 40,
                capabilities: &[],
            }
        }
        Component::Nginx(web) => Recipe {
            part: Part::Component(kind),
            image: ImageRole::Web,
            command: vec!["nginx".to_owned(), "-c".to_owned(), config("nginx.conf")],
            files: vec![file("nginx.conf", config("nginx.conf"), 0o644)],
            secrets,
            volume: Some(APP_FILES),
            serves_on: Some(web.port),
            ready: Readiness::Http {
                port: web.port,
                path: "/health",
            },
            memory_mib: 10,
            capabilities: &[],
        },
        Component::App(app) => Recipe {
            part: Part::Component(kind),
            image: ImageRole::App,
            command: vec![
                "topolab".to_owned(),
                "app".to_owned(),
                "--config".to_owned(),
                config("app.json"),
            ],
            files: std::iter::once(file("app.json", config("app.json"), 0o644))
                .chain(
                    super::release::mounts()
                        .into_iter()
                        .map(|(artifact, path)| FileMount {
                            artifact,
                            path,
                            mode: 0o644,
                        }),
                )
                .collect(),
            secrets,
            volume: Some(APP_FILES),
            serves_on: Some(app.port),
            ready: Readiness::Http {
                port: app.port,
                path: "/health",
            },
            memory_mib: 30,
            capabilities: &[],
        },
        Component::Db(db) => Recipe {
            part: Part::Component(kind),
            image: ImageRole::Db,
            command: vec!["sh".to_owned(), config("db-start.sh")],
            files: vec![
                file("my.cnf", config("my.cnf"), 0o644),
                file("bootstrap.sql", config("bootstrap.sql"), 0o644),
                file("db-start.sh", config("db-start.sh"), 0o755),
            ],
            secrets,
            volume: Some(Volume {
                kind: VolumeKind::Data,
                path: paths::DB_DATA,
            }),
            serves_on: Some(db.port),
            ready: Readiness::Sql,
            memory_mib: 220,
            capabilities: &[],
        },
        Component::Dns(dns) => Recipe {
            part: Part::Component(kind),
            image: ImageRole::Dns,
            command: vec![
                "pdns_server".to_owned(),
                format!("--config-dir={}", paths::CONFIG_DIR),
            ],
            files: ["pdns.conf", "named.conf", "zone"]
                .into_iter()
                .map(|name| file(name, config(name), 0o644))
                .collect(),
            secrets,
            volume: None,
            serves_on: Some(dns.port),
            ready: Readiness::Dns,
            memory_mib: 30,
            capabilities: &[],
        },
    }
}

/// The MySQL exporter beside `host`'s database: it reaches the database
/// where the database listens (only the back network when tiers are
/// segmented).
pub fn exporter(topology: &Topology, plan: &AddressPlan, host: &Host) -> Recipe {
    let addr = plan
        .address(&host.name, serving_network(topology, ComponentKind::Db))
        .map_or_else(|| "127.0.0.1".to_owned(), |a| a.to_string());
    exporter_at(host, &addr)
}

/// The MySQL exporter beside `host`'s database, reaching it at `addr`.
pub fn exporter_at(host: &Host, addr: &str) -> Recipe {
    let port = host.database().map_or(3306, |d| d.port);
    let script = format!(
        "export DATA_SOURCE_NAME=\"monitor:$(cat {})@({addr}:{port})/\"; \
         exec prometheus-mysqld-exporter --web.listen-address=:{EXPORTER_PORT}",
        Secret::MonitorPassword.path(),
    );
    Recipe {
        part: Part::Exporter,
        image: ImageRole::Monitoring,
        command: vec!["sh".to_owned(), "-c".to_owned(), script],
        files: Vec::new(),
        secrets: super::EXPORTER_SECRETS.to_vec(),
        volume: None,
        serves_on: None,
        ready: Readiness::Started,
        memory_mib: 20,
        capabilities: &[],
    }
}

/// Prometheus, on every network of the lab.
pub fn monitoring() -> Recipe {
    let file = |name: &str| FileMount {
        artifact: format!("monitoring/{name}"),
        path: config(name),
        mode: 0o644,
    };
    Recipe {
        part: Part::Monitoring,
        image: ImageRole::Monitoring,
        command: vec![
            "prometheus".to_owned(),
            format!("--config.file={}", config("prometheus.yml")),
            "--storage.tsdb.path=/tmp/prometheus".to_owned(),
            "--web.listen-address=:9090".to_owned(),
        ],
        files: vec![file("prometheus.yml"), file("alerts.yml")],
        secrets: Vec::new(),
        volume: None,
        serves_on: Some(9090),
        ready: Readiness::Http {
            port: 9090,
            path: "/-/ready",
        },
        memory_mib: 120,
        capabilities: &[],
    }
}

/// The router of a design of regions: it joins every region's networks,
/// forwards between them, and delays what it sends on by half the WAN's
/// round trip (Linux's netem), so a round trip between regions takes
/// `wan.latency_ms` more. Where the kernel has no netem it forwards
/// without delay and says so in its log.
pub fn router(topology: &Topology) -> Recipe {
    let half_ms = topology.wan.latency_ms / 2;
    let odd_us = (topology.wan.latency_ms % 2) * 500;
    let delay = if odd_us == 0 {
        format!("{half_ms}ms")
    } else {
        format!("{}us", half_ms * 1000 + odd_us)
    };
    let mut script = Vec::new();
    if topology.wan.latency_ms > 0 {
        script.push(format!(
            "for dev in $(ls /sys/class/net); do [ \"$dev\" = lo ] || \
             tc qdisc replace dev \"$dev\" root netem delay {delay} \
             || echo \"{NO_NETEM}: $dev forwards without the WAN's latency\"; done"
        ));
    }
    script.push(format!("touch {ROUTER_READY}"));
    script.push("exec sleep infinity".to_owned());
    Recipe {
        part: Part::Router,
        image: ImageRole::Holder,
        command: vec!["sh".to_owned(), "-c".to_owned(), script.join("; ")],
        files: Vec::new(),
        secrets: Vec::new(),
        volume: None,
        serves_on: None,
        ready: Readiness::Started,
        memory_mib: 2,
        capabilities: &["NET_ADMIN"],
    }
}

/// The forwarder of the virtual IPs' published ports (see
/// [`super::nat`]): HAProxy in TCP mode, on each virtual IP's network.
pub fn nat() -> Recipe {
    let mut r = tcp_forwarder(Part::Nat, config("haproxy.cfg"));
    r.files.push(FileMount {
        artifact: "nat/haproxy.cfg".to_owned(),
        path: config("haproxy.cfg"),
        mode: 0o644,
    });
    r
}

/// The forwarder that lets topolab reach a lab's databases on overlays
/// (see [`super::nat::reach_cfg`]): HAProxy in TCP mode, its config
/// written by the lab.
pub fn reach() -> Recipe {
    tcp_forwarder(Part::Reach, reach_config())
}

/// HAProxy in TCP mode (the load balancers' image) reading `config`: the
/// lab's own forwarders.
fn tcp_forwarder(part: Part, config: String) -> Recipe {
    Recipe {
        part,
        image: ImageRole::Lb,
        command: vec![
            "haproxy".to_owned(),
            "-W".to_owned(),
            "-db".to_owned(),
            "-f".to_owned(),
            config,
        ],
        files: Vec::new(),
        secrets: Vec::new(),
        volume: None,
        serves_on: None,
        ready: Readiness::Started,
        memory_mib: 20,
        capabilities: &[],
    }
}

/// Where the `reach` forwarder reads its config.
pub fn reach_config() -> String {
    config("reach.cfg")
}

/// What the router logs when the kernel cannot delay its packets.
pub const NO_NETEM: &str = "no netem";
/// The file the router writes once its interfaces are set up.
pub const ROUTER_READY: &str = "/run/topolab-wan-ready";

/// The containers beside `host`'s components, in [`of_host`]'s order:
/// keepalived beside a load balancer sharing a virtual IP, the exporter
/// beside a database when monitoring is on. A fault on the host acts on
/// them too.
pub fn sidecars(topology: &Topology, host: &Host) -> Vec<Part> {
    let mut out = Vec::new();
    if host.load_balancer().is_some_and(|lb| lb.vip.is_some()) {
        out.push(Part::Vrrp);
    }
    if host.database().is_some() && topology.monitoring.enabled {
        out.push(Part::Exporter);
    }
    out
}

/// keepalived beside `host`'s load balancer, a member of a virtual IP:
/// it may change the host's addresses (NET_ADMIN) and sends VRRP.
pub fn vrrp(host: &Host) -> Recipe {
    let file = |name: &str, mode: u32| FileMount {
        artifact: format!("{}/{name}", host.name),
        path: config(name),
        mode,
    };
    Recipe {
        part: Part::Vrrp,
        image: ImageRole::Lb,
        command: super::vrrp::command(),
        files: vec![file("keepalived.conf", 0o644), file("vrrp-check.sh", 0o755)],
        secrets: Vec::new(),
        volume: None,
        serves_on: None,
        ready: Readiness::Started,
        memory_mib: 10,
        capabilities: &["NET_ADMIN"],
    }
}

/// Every container of `host` but its holder, in order: its components,
/// keepalived beside a load balancer sharing a virtual IP, then the
/// exporter beside its database when monitoring is on.
pub fn of_host(topology: &Topology, plan: &AddressPlan, host: &Host) -> Vec<Recipe> {
    let mut out: Vec<Recipe> = host
        .components
        .iter()
        .map(|c| component(topology, host, c))
        .collect();
    for part in sidecars(topology, host) {
        match part {
            Part::Vrrp => out.push(vrrp(host)),
            Part::Exporter => out.push(exporter(topology, plan, host)),
            Part::Holder
            | Part::Component(_)
            | Part::Monitoring
            | Part::Router
            | Part::Nat
            | Part::Reach => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    #[test]
    fn every_component_kind_has_a_recipe_that_runs_it() {
        let mut seen = std::collections::BTreeSet::new();
        for t in ["secured-monitored", "dns"].map(|name| {
            Preset::find(name)
                .and_then(|p| p.topology().ok())
                .expect("preset")
        }) {
            for host in &t.hosts {
                for c in &host.components {
                    let r = component(&t, host, c);
                    seen.insert(c.kind());
                    assert_eq!(r.part, Part::Component(c.kind()));
                    assert!(!r.command.is_empty(), "{}", c.kind());
                    assert!(r.serves_on.is_some(), "{}", c.kind());
                    assert!(r.memory_mib > 0);
                    // Every file it reads is generated.
                    let files = crate::generate::generate(
                        &t,
                        &crate::generate::Settings::for_topology(&t),
                        &crate::generate::Secrets::generate(&t.domain).expect("secrets"),
                    )
                    .expect("valid");
                    for f in &r.files {
                        assert!(files.get(&f.artifact).is_some(), "{}", f.artifact);
                        assert!(f.path.starts_with('/'));
                    }
                }
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ComponentKind::ALL.to_vec()
        );
    }

    #[test]
    fn parts_round_trip_through_their_labels() {
        let parts = ComponentKind::ALL.map(Part::Component).into_iter().chain([
            Part::Holder,
            Part::Exporter,
            Part::Monitoring,
            Part::Router,
            Part::Nat,
            Part::Reach,
        ]);
        for p in parts {
            assert_eq!(Part::from_label(p.label()), Some(p));
        }
    }
}
