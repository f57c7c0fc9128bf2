//! The launch plan: every network, volume and container of a lab, with the
//! files each container gets. Pure data computed from the topology, the
//! profile and the generated artifacts; `launch.rs` executes it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::Ipv4Addr;

use super::images::Profile;
use crate::generate::{self, Artifacts, Secret, Secrets, Settings, paths};
use crate::model::{AddressPlan, ComponentKind, Flavor, HostName, Topology};

/// What a container is in its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Owns the host's network namespace, name and addresses.
    Holder,
    /// A component of the topology.
    Component(ComponentKind),
    /// The MySQL exporter beside a database (monitoring).
    Exporter,
    /// Prometheus (monitoring).
    Monitoring,
}

impl Part {
    /// The `topolab.component` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Holder => "holder",
            Self::Component(k) => k.as_str(),
            Self::Exporter => "exporter",
            Self::Monitoring => "monitoring",
        }
    }

    /// Parses a `topolab.component` label.
    pub fn from_label(s: &str) -> Option<Self> {
        match s {
            "holder" => Some(Self::Holder),
            "exporter" => Some(Self::Exporter),
            "monitoring" => Some(Self::Monitoring),
            other => other.parse().ok().map(Self::Component),
        }
    }

    /// A rough resident memory need, in MiB, for the pre-launch estimate.
    fn memory_mib(self) -> u64 {
        match self {
            Self::Holder => 2,
            Self::Component(ComponentKind::Lb) => 40,
            Self::Component(ComponentKind::Nginx) => 10,
            Self::Component(ComponentKind::App) => 30,
            Self::Component(ComponentKind::Db) => 220,
            Self::Exporter => 20,
            Self::Monitoring => 120,
        }
    }
}

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// (container port, port on 127.0.0.1).
    pub ports: Vec<(u16, u16)>,
    /// Files copied in before start.
    pub files: Vec<FileSpec>,
    /// (volume, mount path).
    pub volume: Option<(String, String)>,
    /// The port a component serves on inside its host (readiness checks).
    pub serves_on: Option<u16>,
    /// A database that replicates another.
    pub replica: bool,
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

/// Where clients reach the lab.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryPoint {
    /// The host (a load balancer, or a web server without one).
    pub host: HostName,
    /// Port on 127.0.0.1 for HTTP.
    pub http: u16,
    /// Port on 127.0.0.1 for HTTPS, when TLS is on.
    pub https: Option<u16>,
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
    /// The files as launched.
    pub artifacts: Artifacts,
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
}

/// Container name of `host`'s holder.
pub fn holder_name(lab: &str, host: &HostName) -> String {
    format!("topolab-{lab}-{host}")
}

/// Container name of a part of `host`.
pub fn container_name(lab: &str, host: &HostName, part: Part) -> String {
    match part {
        Part::Holder => holder_name(lab, host),
        Part::Monitoring => format!("topolab-{lab}-monitoring"),
        other => format!("topolab-{lab}-{host}-{}", other.label()),
    }
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
    };
    let artifacts = generate::generate(topology, &settings, secrets)?;
    let addresses = AddressPlan::new(topology, params.first_subnet);
    let lab = &params.lab;
    let net_name = |n: crate::model::Network| format!("topolab-{lab}-{}", n.as_str());
    let networks = addresses
        .networks()
        .iter()
        .filter_map(|n| {
            Some(NetworkPlan {
                name: net_name(*n),
                subnet: addresses.cidr(*n)?,
                gateway: addresses.gateway(*n)?,
            })
        })
        .collect();
    let file = |host: &HostName, rel: &str, path: &str, mode: u32| -> Option<FileSpec> {
        let key = format!("{host}/{rel}");
        artifacts.get(&key).map(|content| FileSpec {
            path: path.to_owned(),
            content: content.to_owned(),
            mode,
            source: Some(key),
        })
    };
    let mut containers = Vec::new();
    let mut volumes = Vec::new();
    let mut entry_points = Vec::new();
    let entries: Vec<HostName> = topology
        .entry_points()
        .iter()
        .map(|h| h.name.clone())
        .collect();
    for host in &topology.hosts {
        let h = &host.name;
        let holder = holder_name(lab, h);
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
        containers.push(ContainerPlan {
            name: holder.clone(),
            host: h.clone(),
            part: Part::Holder,
            image: images.holder.clone(),
            cmd: vec!["sleep".into(), "infinity".into()],
            secrets: Vec::new(),
            join: None,
            networks: addresses
                .host_addresses(h)
                .into_iter()
                .map(|(n, ip)| (net_name(n), ip))
                .collect(),
            ports,
            files: Vec::new(),
            volume: None,
            serves_on: None,
            replica: false,
        });
        // A component: its command and secrets as generated, its files,
        // and each secret as a file only root can read.
        let component =
            |part: Part, cmd: Vec<String>, secret_list: Vec<Secret>, files: Vec<FileSpec>| {
                let kind = match part {
                    Part::Component(k) => Some(k),
                    _ => None,
                };
                let mut files = files;
                files.extend(secret_list.iter().map(|s| FileSpec {
                    path: s.path(),
                    content: secrets.get(*s).to_owned(),
                    mode: 0o400,
                    source: None,
                }));
                ContainerPlan {
                    name: container_name(lab, h, part),
                    host: h.clone(),
                    part,
                    image: match part {
                        Part::Component(ComponentKind::Lb) => images.lb.clone(),
                        Part::Component(ComponentKind::Nginx) => images.web.clone(),
                        Part::Component(ComponentKind::App) => images.app.clone(),
                        Part::Component(ComponentKind::Db) => images.db.clone(),
                        Part::Holder => images.holder.clone(),
                        Part::Exporter | Part::Monitoring => images.monitoring.clone(),
                    },
                    cmd,
                    secrets: secret_list,
                    join: Some(holder.clone()),
                    networks: Vec::new(),
                    ports: Vec::new(),
                    files,
                    volume: None,
                    serves_on: kind.and_then(|k| host.component(k)).and_then(|c| {
                        c.ports(&topology.security, &topology.monitoring)
                            .first()
                            .map(|(p, _)| *p)
                    }),
                    replica: kind == Some(ComponentKind::Db)
                        && host
                            .database()
                            .is_some_and(|d| matches!(d.role, crate::model::Role::Replica { .. })),
                }
            };
        for kind in host.components.iter().map(|c| c.kind()) {
            let files: Vec<FileSpec> = match kind {
                ComponentKind::Lb => {
                    let mut files: Vec<FileSpec> =
                        file(h, "haproxy.cfg", "/etc/topolab/haproxy.cfg", 0o644)
                            .into_iter()
                            .collect();
                    if topology.security.tls {
                        files.extend(file(h, "tls/lab.pem", paths::TLS_CERT, 0o644));
                    }
                    files
                }
                ComponentKind::Nginx => [
                    file(h, "nginx.conf", "/etc/topolab/nginx.conf", 0o644),
                    file(
                        h,
                        "static/index.html",
                        "/etc/topolab/static/index.html",
                        0o644,
                    ),
                ]
                .into_iter()
                .flatten()
                .collect(),
                ComponentKind::App => file(h, "app.json", "/etc/topolab/app.json", 0o644)
                    .into_iter()
                    .collect(),
                ComponentKind::Db => [
                    file(h, "my.cnf", "/etc/topolab/my.cnf", 0o644),
                    file(h, "bootstrap.sql", "/etc/topolab/bootstrap.sql", 0o644),
                    file(h, "db-start.sh", "/etc/topolab/db-start.sh", 0o755),
                ]
                .into_iter()
                .flatten()
                .collect(),
            };
            let mut c = component(
                Part::Component(kind),
                generate::component_command(topology, host, kind),
                generate::component_secrets(topology, host, kind),
                files,
            );
            if kind == ComponentKind::Db {
                let volume = format!("topolab-{lab}-{h}-db");
                volumes.push(volume.clone());
                c.volume = Some((volume, paths::DB_DATA.to_owned()));
            }
            containers.push(c);
            if kind == ComponentKind::Db && topology.monitoring.enabled {
                let mut exporter = component(
                    Part::Exporter,
                    generate::exporter_command(topology, params.first_subnet, host),
                    generate::EXPORTER_SECRETS.to_vec(),
                    Vec::new(),
                );
                exporter.serves_on = None;
                containers.push(exporter);
            }
        }
    }
    if topology.monitoring.enabled {
        let name = HostName::new("monitoring");
        let networks = addresses
            .networks()
            .iter()
            .filter_map(|n| {
                let [a, b, c, _] = addresses.subnet(*n)?.octets();
                Some((net_name(*n), Ipv4Addr::new(a, b, c, MONITORING_HOST)))
            })
            .collect();
        let files = ["prometheus.yml", "alerts.yml"]
            .into_iter()
            .filter_map(|f| {
                let key = format!("monitoring/{f}");
                artifacts.get(&key).map(|content| FileSpec {
                    path: format!("/etc/topolab/{f}"),
                    content: content.to_owned(),
                    mode: 0o644,
                    source: Some(key),
                })
            })
            .collect();
        containers.push(ContainerPlan {
            name: container_name(lab, &name, Part::Monitoring),
            host: name,
            part: Part::Monitoring,
            image: images.monitoring.clone(),
            cmd: [
                "prometheus",
                "--config.file=/etc/topolab/prometheus.yml",
                "--storage.tsdb.path=/tmp/prometheus",
                "--web.listen-address=:9090",
            ]
            .map(String::from)
            .to_vec(),
            secrets: Vec::new(),
            join: None,
            networks,
            ports: Vec::new(),
            files,
            volume: None,
            serves_on: None,
            replica: false,
        });
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
        artifacts,
    })
}

impl Plan {
    /// The labels of a container of this lab.
    pub fn labels(&self, host: &HostName, part: Part) -> HashMap<String, String> {
        HashMap::from([
            ("topolab.lab".to_owned(), self.lab.clone()),
            ("topolab.host".to_owned(), host.to_string()),
            ("topolab.component".to_owned(), part.label().to_owned()),
        ])
    }

    /// The labels of a network or volume of this lab.
    pub fn lab_labels(&self) -> HashMap<String, String> {
        HashMap::from([("topolab.lab".to_owned(), self.lab.clone())])
    }

    /// The memory the lab needs, in MiB (a rough estimate).
    pub fn memory_mib(&self) -> u64 {
        self.containers.iter().map(|c| c.part.memory_mib()).sum()
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
        }
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
        assert_eq!(
            p.volumes,
            ["topolab-demo-web-01-db", "topolab-demo-web-02-db"]
        );
    }
}
