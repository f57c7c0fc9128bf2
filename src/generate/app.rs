//! The app server's config (JSON): where it listens, which database takes
//! its writes and which serve its reads.

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
    /// Address and port.
    pub address: SocketAddr,
}

pub(super) fn config(ctx: &Ctx, host: &Host, app: &AppServer) -> String {
    let t = ctx.topology;
    let endpoint = |h: &Host| -> Option<DbEndpoint> {
        let port = h.database()?.port;
        let ip = ctx.address(&h.name, ComponentKind::Db)?;
        Some(DbEndpoint {
            host: h.name.clone(),
            address: SocketAddr::from((ip, port)),
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
