//! The app server's config (JSON): where it listens, which database takes
//! its writes and which serve its reads.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{Ctx, Secret, paths};
use crate::model::{AppServer, ComponentKind, Flavor, Host, HostName, ReadYourWrites};

/// Read by `topolab app --config FILE` inside the lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The host the app runs on (its `X-Topolab-App` header).
    pub host: HostName,
    /// Where it listens: the host's loopback, reached by Nginx.
    pub listen: SocketAddr,
    /// The database that takes writes: the group's primary.
    pub writer: DbEndpoint,
    /// The databases reads go to, in order of preference (a replica on the
    /// same host first); the writer serves reads when none is healthy.
    pub readers: Vec<DbEndpoint>,
    /// Schema.
    pub database: String,
    /// Database user.
    pub user: String,
    /// File holding the user's password.
    pub password_file: String,
    /// File holding the admin endpoint's token.
    pub admin_token_file: String,
    /// The Unix socket the admin endpoint listens on (never a TCP port:
    /// Nginx proxies the app's port to the world).
    pub admin_socket: String,
    /// Connect and query timeout, in milliseconds.
    pub db_timeout_ms: u64,
    /// How a client's reads see its own writes.
    #[serde(default)]
    pub read_your_writes: ReadYourWrites,
    /// The database program that runs (its GTID functions differ).
    #[serde(default)]
    pub flavor: Flavor,
    /// The host's application files: `releases/<version>/` and the
    /// `current` link to the release that runs.
    #[serde(default = "default_app_dir")]
    pub app_dir: String,
    /// The release to make current when none is (the host's first start).
    #[serde(default = "default_release")]
    pub release: String,
}

fn default_app_dir() -> String {
    paths::APP_DIR.to_owned()
}

fn default_release() -> String {
    crate::model::RELEASES[0].to_owned()
}

/// A database the app talks to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbEndpoint {
    /// The database's host (its `X-Topolab-Db` header is `HOST/db`).
    pub host: HostName,
    /// Where it listens: an address in a lab of fixed addresses, a name
    /// where the platform gives none (Kubernetes).
    pub address: HostPort,
}

/// A host (an IPv4 address or a DNS name) and a port, written
/// `HOST:PORT` in the config.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPort {
    /// The address or name.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl HostPort {
    /// `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl From<SocketAddr> for HostPort {
    fn from(addr: SocketAddr) -> Self {
        Self::new(addr.ip().to_string(), addr.port())
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl TryFrom<String> for HostPort {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("\"{s}\" is not HOST:PORT"))?;
        let port = port
            .parse()
            .map_err(|_| format!("\"{s}\": the port is not a number from 0 to 65535"))?;
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_ok {
            return Err(format!(
                "\"{s}\": the host is not an IPv4 address or a DNS name"
            ));
        }
        Ok(Self::new(host, port))
    }
}

impl From<HostPort> for String {
    fn from(hp: HostPort) -> Self {
        hp.to_string()
    }
}

pub(super) fn config(ctx: &Ctx, host: &Host, app: &AppServer) -> String {
    let t = ctx.topology;
    let endpoint = |h: &Host| -> Option<DbEndpoint> {
        let port = h.database()?.port;
        let at = ctx.endpoint(&h.name, ComponentKind::Db)?;
        Some(DbEndpoint {
            host: h.name.clone(),
            address: HostPort::new(at, port),
        })
    };
    let writer = t.primary_of_group(&app.group).and_then(endpoint);
    let mut replicas: Vec<&Host> = t.replicas_of_group(&app.group).collect();
    replicas.sort_by_key(|h| h.name != host.name);
    let config = writer.map(|writer| AppConfig {
        host: host.name.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], app.port)),
        writer,
        readers: replicas.into_iter().filter_map(endpoint).collect(),
        database: paths::APP_SCHEMA.to_owned(),
        user: "app".to_owned(),
        password_file: Secret::AppPassword.path(),
        admin_token_file: Secret::AdminToken.path(),
        admin_socket: paths::APP_ADMIN_SOCKET.to_owned(),
        db_timeout_ms: 1000,
        read_your_writes: app.read_your_writes,
        flavor: ctx.settings.flavor,
        app_dir: paths::APP_DIR.to_owned(),
        release: app.release.clone(),
    });
    // A valid topology always has the group's primary; serialization of
    // these plain fields cannot fail.
    let mut text = serde_json::to_string_pretty(&config).unwrap_or_default();
    text.push('\n');
    text
}
