//! Topology -> artifacts: every config file of a lab, as text keyed by its
//! relative path. Pure and deterministic: the same topology, settings and
//! secrets give byte-identical files. No egui, bollard or tokio here.

mod app;
mod compose;
pub mod dns;
mod haproxy;
pub mod kube;
mod monitoring;
mod mysql;
pub mod nat;
mod nginx;
pub mod recipe;
pub mod release;
mod secrets;
pub mod vrrp;
mod yaml;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use app::{AppConfig, DbEndpoint, HostPort};
pub use mysql::SEMI_SYNC_TIMEOUT_MS;
pub use recipe::{FileMount, ImageRole, Part, Readiness, Recipe, Volume, VolumeKind};
pub use secrets::{Secret, Secrets, SecretsError};

use crate::model::{
    AddressPlan, Component, ComponentKind, DEFAULT_FIRST_SUBNET, Flavor, Host, HostName,
    HostNumbers, Network, Problem, Topology, serving_network, validate,
};

/// Generated files: relative path -> text, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifacts {
    files: BTreeMap<String, String>,
}

impl Artifacts {
    fn add(&mut self, path: impl Into<String>, text: String) {
        self.files.insert(path.into(), text);
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// The file at `path`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// The files of one host (`web-01/...`).
    pub fn of_host<'a>(&'a self, host: &'a HostName) -> impl Iterator<Item = (&'a str, &'a str)> {
        let prefix = format!("{host}/");
        self.iter().filter(move |(p, _)| p.starts_with(&prefix))
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The container images a bundle runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// Holders of the hosts' network namespaces.
    pub holder: String,
    /// HAProxy.
    pub lb: String,
    /// Nginx.
    pub web: String,
    /// The app server (the topolab binary).
    pub app: String,
    /// The database server.
    pub db: String,
    /// Prometheus and the MySQL exporter.
    pub monitoring: String,
    /// The DNS server (PowerDNS).
    pub dns: String,
}

impl Images {
    /// The `local` profile: one base image built on this machine with
    /// every program, and the app image on top of it.
    pub fn local() -> Self {
        let base = "topolab-base:bookworm".to_owned();
        Self {
            holder: base.clone(),
            lb: base.clone(),
            web: base.clone(),
            app: format!("topolab-app:{}", env!("CARGO_PKG_VERSION")),
            db: base.clone(),
            dns: base.clone(),
            monitoring: base,
        }
    }
}

/// How to generate, beyond the topology itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The lab's name (a DNS label), used for the compose project.
    pub lab: String,
    /// The database program actually run; differs from the topology's when
    /// a profile has no MySQL and runs MariaDB in its place.
    pub flavor: Flavor,
    /// The first /24 of the lab's networks.
    pub first_subnet: Ipv4Addr,
    /// Images for docker-compose.yml.
    pub images: Images,
    /// The numbers a running lab's hosts keep (their addresses); empty:
    /// numbered in file order.
    pub numbers: HostNumbers,
}

impl Settings {
    /// Settings for exporting `topology` as it is.
    pub fn for_topology(topology: &Topology) -> Self {
        Self {
            lab: topology.name.clone(),
            flavor: topology.databases.flavor,
            first_subnet: DEFAULT_FIRST_SUBNET,
            images: Images::local(),
            numbers: HostNumbers::new(),
        }
    }
}

/// Why artifacts could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The topology is not valid.
    #[error("the topology is not valid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// Where generated files put things inside the containers.
pub mod paths {
    /// Directory of every generated config inside a container.
    pub const CONFIG_DIR: &str = "/etc/topolab";
    /// HAProxy's runtime API socket.
    pub const HAPROXY_SOCKET: &str = "/run/haproxy-admin.sock";
    /// The TLS certificate; HAProxy loads the key from `lab.pem.key` beside it.
    pub const TLS_CERT: &str = "/etc/topolab/tls/lab.pem";
    /// The database's data directory.
    pub const DB_DATA: &str = "/var/lib/mysql";
    /// A ready (MariaDB) data directory an image may carry; copied on a
    /// database's first start instead of initializing one.
    pub const DB_TEMPLATE: &str = "/usr/share/topolab/db-template";
    /// The database's socket.
    pub const DB_SOCKET: &str = "/run/mysqld/mysqld.sock";
    /// The application's schema.
    pub const APP_SCHEMA: &str = "app";
    /// Where a container finds its secrets, one file each, readable by
    /// root only (the same path as Compose's `secrets:`).
    pub const SECRETS_DIR: &str = "/run/secrets";
    /// The app server's admin endpoint: a Unix socket inside its own
    /// container, out of every network path.
    pub const APP_ADMIN_SOCKET: &str = "/run/topolab/admin.sock";
    /// The application's files on a host (its releases and the `current`
    /// link), a volume shared by the host's Nginx and app.
    pub const APP_DIR: &str = "/srv/app";
}

/// MariaDB's account for topolab's own statements (promotion, faults,
/// status): it alone may change `read_only`, so root's writes are refused
/// on a read-only server as everyone else's are. Its password is the
/// databases' root password.
pub const DB_ADMIN_MARIADB: &str = "topolab";

/// The secrets a component's container reads, and no others.
pub fn component_secrets(topology: &Topology, host: &Host, kind: ComponentKind) -> Vec<Secret> {
    match kind {
        ComponentKind::Lb => {
            // Also while its stats page is off: turning it on in a running
            // lab is a reload, and HAProxy reads the password from the
            // environment it started with.
            let mut out = Vec::new();
            if host.load_balancer().is_some() {
                out.push(Secret::StatsPassword);
            }
            if topology.security.tls {
                out.push(Secret::TlsKey);
            }
            out
        }
        ComponentKind::Nginx | ComponentKind::Dns => Vec::new(),
        ComponentKind::App => vec![Secret::AppPassword, Secret::AdminToken],
        ComponentKind::Db => vec![
            Secret::DbRootPassword,
            Secret::AppPassword,
            Secret::ReplicationPassword,
            Secret::MonitorPassword,
        ],
    }
}

/// Every secret some container of `topology` reads.
pub fn used_secrets(topology: &Topology) -> std::collections::BTreeSet<Secret> {
    let mut used = std::collections::BTreeSet::new();
    for host in &topology.hosts {
        for c in &host.components {
            used.extend(component_secrets(topology, host, c.kind()));
        }
        if host.database().is_some() && topology.monitoring.enabled {
            used.extend(EXPORTER_SECRETS);
        }
    }
    used
}

/// The secrets the MySQL exporter beside a database reads.
pub const EXPORTER_SECRETS: [Secret; 1] = [Secret::MonitorPassword];

/// Everything derived from the topology that several generators need.
struct Ctx<'a> {
    topology: &'a Topology,
    settings: &'a Settings,
    plan: AddressPlan,
    /// Where hosts have no fixed addresses (Kubernetes), the domain their
    /// names are in: peers are reached as `HOST.DOMAIN`, resolved when
    /// they connect. `None`: by the address plan's fixed addresses.
    names: Option<String>,
}

impl Ctx<'_> {
    /// `host`'s address on the network where `kind` serves its peers.
    fn address(&self, host: &HostName, kind: ComponentKind) -> Option<Ipv4Addr> {
        self.plan
            .address(host, serving_network(self.topology, kind))
    }

    /// How a peer reaches `host`'s `kind`: its fixed address, or its name
    /// where hosts have none.
    fn endpoint(&self, host: &HostName, kind: ComponentKind) -> Option<String> {
        match &self.names {
            Some(domain) => self.topology.host(host).map(|_| format!("{host}.{domain}")),
            None => self.address(host, kind).map(|a| a.to_string()),
        }
    }

    fn header(&self, comment: &str, what: &str) -> String {
        format!(
            "{comment} Generated by topolab {} for {what} of topology \"{}\".\n\
             {comment} Edit the topology, not this file: it is regenerated.\n",
            env!("CARGO_PKG_VERSION"),
            self.topology.name
        )
    }
}

/// Every file of a lab running `topology`: per host its programs' configs,
/// plus docker-compose.yml, .env (images and ports), `secrets/` (the only
/// files with secret values, one per secret), the monitoring configs when
/// enabled, and a README.md.
pub fn generate(
    topology: &Topology,
    settings: &Settings,
    secrets: &Secrets,
) -> Result<Artifacts, GenerateError> {
    let problems = validate(topology);
    if !problems.is_empty() {
        return Err(GenerateError::Invalid(problems));
    }
    let ctx = Ctx {
        topology,
        settings,
        plan: AddressPlan::numbered(topology, settings.first_subnet, &settings.numbers),
        names: None,
    };
    let mut out = config_files(&ctx, secrets);
    if !topology.vips().is_empty() {
        out.add("nat/haproxy.cfg", nat::haproxy_cfg(&ctx));
    }
    out.add("docker-compose.yml", compose::compose(&ctx));
    out.add(".env", compose::env_file(&ctx));
    for secret in used_secrets(topology) {
        out.add(
            format!("secrets/{}", secret.name()),
            secrets.get(secret).to_owned(),
        );
    }
    out.add("README.md", compose::readme(&ctx));
    Ok(out)
}

/// The configs every bundle carries: each host's programs' files, the
/// application's releases, and Prometheus's files when monitoring is on.
/// The lab and the compose bundle (by address) and the Kubernetes bundle
/// (by name, `ctx.names`) all take them from here.
fn config_files(ctx: &Ctx, secrets: &Secrets) -> Artifacts {
    let mut out = Artifacts::default();
    for host in &ctx.topology.hosts {
        let h = &host.name;
        // Every kind is matched: a new one has no files until it has some.
        for component in &host.components {
            match component {
                Component::Lb(lb) => {
                    out.add(format!("{h}/haproxy.cfg"), haproxy::config(ctx, host, lb));
                    if let Some(vip) = ctx.topology.vip_of(h) {
                        out.add(
                            format!("{h}/keepalived.conf"),
                            vrrp::keepalived_conf(ctx, host, &vip),
                        );
                        out.add(
                            format!("{h}/vrrp-check.sh"),
                            vrrp::check_script(ctx, host, lb),
                        );
                    }
                    if ctx.topology.security.tls {
                        out.add(format!("{h}/tls/lab.pem"), secrets.tls_cert_pem.clone());
                    }
                }
                Component::Nginx(web) => {
                    out.add(format!("{h}/nginx.conf"), nginx::config(ctx, host, web));
                }
                Component::App(app) => {
                    out.add(format!("{h}/app.json"), app::config(ctx, host, app));
                }
                Component::Db(db) => {
                    out.add(format!("{h}/my.cnf"), mysql::my_cnf(ctx, host, db));
                    out.add(
                        format!("{h}/bootstrap.sql"),
                        mysql::bootstrap_sql(ctx, host, db),
                    );
                    out.add(format!("{h}/db-start.sh"), mysql::start_script(ctx, host));
                }
                Component::Dns(dns) => {
                    out.add(format!("{h}/pdns.conf"), dns::pdns_conf(ctx, host, dns));
                    out.add(format!("{h}/named.conf"), dns::named_conf(ctx, host));
                    out.add(format!("{h}/zone"), dns::zone_file(ctx, host));
                }
            }
        }
    }
    if ctx.topology.hosts.iter().any(|h| h.has(ComponentKind::App)) {
        for (path, text) in release::files(ctx) {
            out.add(path, text);
        }
    }
    if ctx.topology.monitoring.enabled {
        out.add("monitoring/prometheus.yml", monitoring::prometheus(ctx));
        out.add("monitoring/alerts.yml", monitoring::alerts(ctx));
    }
    out
}

/// Appends one formatted line to a `String`.
macro_rules! emit {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}
use emit;

/// The network an address on `net` is for, in words (for comments).
fn network_note(net: Network) -> &'static str {
    match net {
        Network::Lab => "the lab network",
        Network::Front => "the front (web) network",
        Network::Back => "the back (data) network",
    }
}
