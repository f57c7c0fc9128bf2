//! The application server that runs inside the lab (`topolab app --config
//! FILE`): the "business logic" of each server in the reference design.
//!
//! - `GET /` says which host served the request and which database served
//!   the read.
//! - `POST /api/items` `{"value": "..."}` writes to the current primary (201).
//! - `GET /api/items` reads every item from a healthy replica, else from the
//!   primary; `GET /api/items?id=N` reads item N only (an empty list when
//!   the database that served the read does not have it).
//! - With read-your-writes on, a write's answer sets the cookie
//!   `topolab-ryw` (when it was written and its GTID), and a read that
//!   brings it back goes to the primary for a while, or waits until its
//!   replica has applied that GTID (see [`ReadYourWrites`]).
//! - `GET /health` is 200 whenever the process can serve, whatever the
//!   databases' state: the load balancer's check goes through Nginx to it,
//!   and a dead primary must not take every server out of rotation.
//! - `GET|PUT /admin/databases` (bearer token) shows or repoints the writer
//!   and readers without a restart (promotion uses it). It is served on a
//!   Unix socket inside the app's container only, never on the port Nginx
//!   proxies: the public path has no admin endpoint at all.
//!
//! The database password and the admin token are read from files (the
//! lab's secrets, readable by root only), not from the environment.
//!
//! - The release that runs is the host's `current` one (`/srv/app/current`,
//!   a link into `releases/`), read when the app starts; every answer names
//!   it in `X-Topolab-Version`, and a release whose health check fails
//!   answers `/health` with 503.
//!
//! Every response carries `X-Topolab-App` and, when a database answered,
//! `X-Topolab-Db`, plus per-hop timing in `Server-Timing`. A failed write
//! says `X-Topolab-Write: not-done` when it certainly was not done.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::generate::release::Release;
use crate::generate::{AppConfig, DbEndpoint, HostPort};
use crate::model::{Flavor, ReadYourWrites};

/// How long a reader that failed is skipped before it is tried again.
const READER_BACKOFF: Duration = Duration::from_secs(1);
/// Most items `GET /api/items` returns (the newest).
const MAX_ITEMS: u32 = 10_000;
/// Most connections the app keeps open to each database. Every returned
/// connection stays in the pool (up to this many) for reuse by the next
/// request, as a production pool does: opening a MySQL connection per
/// request costs a TCP handshake, the server's authentication and a
/// socket left in TIME_WAIT, and under load that churn, not the query,
/// becomes the limit.
pub const POOL_SIZE: usize = 16;
/// How long an idle pooled connection is kept before it is closed.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Reads that may wait for a replica at once: half its pool, so that other
/// reads always find a connection.
const MAX_WAITS: usize = POOL_SIZE / 2;
/// Set to `not-done` on a failed write's answer when the write certainly
/// was not done (never sent to the database, or refused by it).
pub const WRITE_HEADER: &str = "x-topolab-write";
/// The cookie a write's answer sets when read-your-writes is on.
pub const RYW_COOKIE: &str = "topolab-ryw";
/// The release that served a request, on every answer.
pub const VERSION_HEADER: &str = "x-topolab-version";

/// Why the app server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppServerError {
    /// The config file is missing or not valid JSON for [`AppConfig`].
    #[error("cannot read the app config {path}: {why}")]
    Config {
        /// The file.
        path: String,
        /// What was wrong.
        why: String,
    },
    /// A secret file the config names cannot be read.
    #[error("cannot read the secret file {path}: {why}")]
    Secret {
        /// The file.
        path: String,
        /// What the system said.
        why: String,
    },
    /// The admin socket could not be bound.
    #[error("cannot serve the admin endpoint on {path}: {source}")]
    Admin {
        /// The socket's path.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The host's current release cannot be read or made current.
    #[error("cannot load the application's release from {path}: {why}")]
    Release {
        /// The release's settings file (or the `current` link).
        path: String,
        /// What was wrong.
        why: String,
    },
    /// The listen address could not be bound or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The writer and readers currently in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Databases {
    /// Takes writes.
    pub writer: DbEndpoint,
    /// Serve reads, in order of preference.
    pub readers: Vec<DbEndpoint>,
    /// How a client's reads see its own writes.
    #[serde(default)]
    pub read_your_writes: ReadYourWrites,
}

struct App {
    host: String,
    /// The release that runs (read once, when the app starts: a deploy
    /// switches the `current` link, then restarts the app).
    release: Release,
    user: String,
    password: String,
    schema: String,
    admin_token: String,
    timeout: Duration,
    flavor: Flavor,
    /// Reads waiting for a replica to apply a client's write, at most
    /// [`MAX_WAITS`] at once (each holds one of the replica's connections).
    waits: tokio::sync::Semaphore,
    databases: RwLock<Databases>,
    pools: Mutex<HashMap<HostPort, mysql_async::Pool>>,
    reader_down_until: Mutex<HashMap<HostPort, Instant>>,
}

/// Reads the config at `path` and serves until the process is stopped.
pub async fn run(path: &str) -> Result<(), AppServerError> {
    let text = std::fs::read_to_string(path).map_err(|e| AppServerError::Config {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let config: AppConfig = serde_json::from_str(&text).map_err(|e| AppServerError::Config {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let secret = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| AppServerError::Secret {
                path: path.to_owned(),
                why: e.to_string(),
            })
    };
    let release = load_release(&config)?;
    let app = Arc::new(App {
        host: config.host.to_string(),
        release,
        user: config.user.clone(),
        password: secret(&config.password_file)?,
        schema: config.database.clone(),
        admin_token: secret(&config.admin_token_file)?,
        timeout: Duration::from_millis(config.db_timeout_ms),
        flavor: config.flavor,
        waits: tokio::sync::Semaphore::new(MAX_WAITS),
        databases: RwLock::new(Databases {
            writer: config.writer.clone(),
            readers: config.readers.clone(),
            read_your_writes: config.read_your_writes,
        }),
        pools: Mutex::new(HashMap::new()),
        reader_down_until: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| AppServerError::Serve {
            addr: config.listen,
            source,
        })?;
    let admin = bind_admin(&config.admin_socket)?;
    tracing::info!(host = %config.host, listen = %config.listen, admin = %config.admin_socket, release = %app.release.version, "app server ready");
    let (public, admin) = tokio::join!(
        axum::serve(listener, router(app.clone())).with_graceful_shutdown(shutdown_signal()),
        axum::serve(admin, admin_router(app)).with_graceful_shutdown(shutdown_signal()),
    );
    admin.map_err(|source| AppServerError::Admin {
        path: config.admin_socket.clone(),
        source,
    })?;
    public.map_err(|source| AppServerError::Serve {
        addr: config.listen,
        source,
    })
}

/// The host's current release: `app_dir/current/release.json`. On the
/// host's first start no release is current yet: the configured one is
/// made current (a link created beside it, then renamed over, as a deploy
/// does).
fn load_release(config: &AppConfig) -> Result<Release, AppServerError> {
    let dir = std::path::Path::new(&config.app_dir);
    let current = dir.join("current");
    let fail = |path: &std::path::Path, why: String| AppServerError::Release {
        path: path.display().to_string(),
        why,
    };
    if std::fs::symlink_metadata(&current).is_err() {
        let target = format!("releases/{}", config.release);
        if !dir.join(&target).is_dir() {
            return Err(fail(
                &dir.join(&target),
                "no such release directory".to_owned(),
            ));
        }
        let next = dir.join(".current.next");
        let _ = std::fs::remove_file(&next);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &next).map_err(|e| fail(&next, e.to_string()))?;
        std::fs::rename(&next, &current).map_err(|e| fail(&current, e.to_string()))?;
    }
    let path = current.join("release.json");
    let text = std::fs::read_to_string(&path).map_err(|e| fail(&path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(&path, e.to_string()))
}

/// Binds the admin socket, owner-only, replacing one a killed app left.
fn bind_admin(path: &str) -> Result<tokio::net::UnixListener, AppServerError> {
    let fail = |source| AppServerError::Admin {
        path: path.to_owned(),
        source,
    };
    let socket = std::path::Path::new(path);
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let listener = tokio::net::UnixListener::bind(socket).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    Ok(listener)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The public endpoints, behind Nginx.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/api/items", get(list_items).post(add_item))
        .with_state(app)
}

/// The admin endpoints, on the Unix socket only.
fn admin_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/databases", get(show_databases).put(set_databases))
        .with_state(app)
}

/// Timing and path of one request, turned into headers.
struct Trace {
    start: Instant,
    db: Option<(String, Duration)>,
    /// How read-your-writes served the read (`X-Topolab-Ryw`).
    ryw: Option<String>,
    /// A read-your-writes token to set (`Set-Cookie`).
    token: Option<Token>,
}

impl Trace {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            db: None,
            ryw: None,
            token: None,
        }
    }

    fn respond(self, app: &App, status: StatusCode, body: impl IntoResponse) -> Response {
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        insert(headers, "x-topolab-app", &format!("{}/app", app.host));
        insert(headers, VERSION_HEADER, &app.release.version);
        let total = self.start.elapsed();
        let mut timing = format!("app;dur={:.2}", total.as_secs_f64() * 1000.0);
        if let Some((db, took)) = &self.db {
            insert(headers, "x-topolab-db", &format!("{db}/db"));
            timing.push_str(&format!(
                ", db;dur={:.2};desc=\"{db}/db\"",
                took.as_secs_f64() * 1000.0
            ));
        }
        insert(headers, "server-timing", &timing);
        if let Some(ryw) = &self.ryw {
            insert(headers, "x-topolab-ryw", ryw);
        }
        if let Some(token) = &self.token {
            insert(headers, "set-cookie", &token.cookie());
        }
        response
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

impl App {
    async fn pool(&self, db: &DbEndpoint) -> mysql_async::Pool {
        let mut pools = self.pools.lock().await;
        pools
            .entry(db.address.clone())
            .or_insert_with(|| {
                let opts = mysql_async::OptsBuilder::default()
                    .ip_or_hostname(db.address.host.clone())
                    .tcp_port(db.address.port)
                    .user(Some(self.user.clone()))
                    .pass(Some(self.password.clone()))
                    .db_name(Some(self.schema.clone()))
                    .prefer_socket(false)
                    .pool_opts(
                        mysql_async::PoolOpts::default()
                            .with_constraints(
                                mysql_async::PoolConstraints::new(0, POOL_SIZE).unwrap_or_default(),
                            )
                            // A zero TTL (the default) would keep only `min`
                            // (0) idle connections: every request would
                            // connect anew.
                            .with_inactive_connection_ttl(POOL_IDLE)
                            // The app keeps no session state, so a returned
                            // connection needs no reset round trip (which
                            // would also drop its prepared statements).
                            .with_reset_connection(false),
                    );
                mysql_async::Pool::new(opts)
            })
            .clone()
    }

    /// Runs `work` on `db` within the timeout.
    async fn on<T>(
        &self,
        db: &DbEndpoint,
        work: impl AsyncFnOnce(&mut mysql_async::Conn) -> Result<T, mysql_async::Error>,
    ) -> Result<T, String> {
        self.on_within(db, self.timeout, work).await
    }

    /// Runs `work` on `db` within `timeout`.
    async fn on_within<T>(
        &self,
        db: &DbEndpoint,
        timeout: Duration,
        work: impl AsyncFnOnce(&mut mysql_async::Conn) -> Result<T, mysql_async::Error>,
    ) -> Result<T, String> {
        let pool = self.pool(db).await;
        let attempt = async {
            let mut conn = pool.get_conn().await?;
            work(&mut conn).await
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if matches!(e, mysql_async::Error::Io(_)) {
                    self.forget_pool(db).await;
                }
                Err(e.to_string())
            }
            Err(_) => {
                self.forget_pool(db).await;
                Err(format!("no answer within {} ms", timeout.as_millis()))
            }
        }
    }

    /// Drops the pooled connections to `db` after its connection broke or
    /// it stopped answering: the server may have restarted or been cut
    /// off, and every idle connection to it is then as dead as this one.
    /// The next request opens fresh ones.
    async fn forget_pool(&self, db: &DbEndpoint) {
        let pool = self.pools.lock().await.remove(&db.address);
        if let Some(pool) = pool {
            // Closing waits for connections in use; nothing waits on it.
            tokio::spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
    }

    /// Runs a read for a client that brought `token` (see
    /// [`ReadYourWrites`]): on the first healthy reader, else on the
    /// writer.
    async fn read(
        &self,
        trace: &mut Trace,
        token: Option<&Token>,
        query: &Query,
    ) -> Result<Rows, String> {
        let dbs = self.databases.read().await.clone();
        // The GTID a reader must have applied first, and the longest wait;
        // the permit that allows the wait.
        let mut wait: Option<(&str, Duration)> = None;
        let mut _permit = None;
        match (dbs.read_your_writes, token) {
            // A write's time from the future (another host's clock, or a
            // forged cookie) counts as now at most.
            (ReadYourWrites::FromPrimary { window_ms }, Some(t))
                if now_millis() < t.at.min(now_millis()).saturating_add(u64::from(window_ms)) =>
            {
                trace.ryw = Some("primary".to_owned());
                return self.read_writer(&dbs, trace, query, String::new()).await;
            }
            (ReadYourWrites::WaitForReplica { timeout_ms }, Some(t)) => {
                // A write whose GTID is unknown, or more waits at once than
                // the app lets hold a replica's connections: the primary
                // has the write.
                let permit = self.waits.try_acquire();
                if t.gtid.is_empty() || permit.is_err() {
                    trace.ryw = Some(
                        if t.gtid.is_empty() {
                            "primary (the write's GTID is unknown)"
                        } else {
                            "primary (too many reads waiting)"
                        }
                        .to_owned(),
                    );
                    return self.read_writer(&dbs, trace, query, String::new()).await;
                }
                _permit = permit.ok();
                wait = Some((&t.gtid, Duration::from_millis(u64::from(timeout_ms))));
            }
            _ => {}
        }
        let now = Instant::now();
        let mut last_error = String::from("no database to read from");
        for reader in &dbs.readers {
            let skip = self
                .reader_down_until
                .lock()
                .await
                .get(&reader.address)
                .is_some_and(|until| *until > now);
            if skip {
                continue;
            }
            let start = Instant::now();
            let result = match wait {
                None => self
                    .on(reader, async |c| query.run(c).await)
                    .await
                    .map(Some),
                Some((gtid, timeout)) => {
                    let statement = match self.flavor {
                        Flavor::Mariadb => "SELECT MASTER_GTID_WAIT(?, ?)",
                        Flavor::Mysql => "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)",
                    };
                    self.on_within(reader, timeout + self.timeout, async |c| {
                        // 0: applied; -1 (MariaDB) or 1 (MySQL): timed out.
                        // A GTID the server refuses (a client's cookie
                        // is not to be trusted) is not the replica's
                        // fault: the read goes to the primary, and the
                        // replica is not skipped for others.
                        let waited: Option<Option<i64>> =
                            match c.exec_first(statement, (gtid, timeout.as_secs_f64())).await {
                                Ok(w) => w,
                                Err(mysql_async::Error::Server(_)) => return Ok(None),
                                Err(e) => return Err(e),
                            };
                        if waited.flatten() != Some(0) {
                            return Ok(None);
                        }
                        query.run(c).await.map(Some)
                    })
                    .await
                }
            };
            match result {
                Ok(Some(v)) => {
                    trace.db = Some((reader.host.to_string(), start.elapsed()));
                    if wait.is_some() {
                        trace.ryw = Some(format!("waited {} ms", start.elapsed().as_millis()));
                    }
                    return Ok(v);
                }
                // Not caught up within the wait: the primary has the write.
                Ok(None) => {
                    trace.ryw = Some("primary after the wait".to_owned());
                    last_error = format!("{} had not applied the write", reader.host);
                    break;
                }
                Err(e) => {
                    tracing::warn!(reader = %reader.host, error = %e, "read failed; falling back");
                    self.reader_down_until
                        .lock()
                        .await
                        .insert(reader.address.clone(), Instant::now() + READER_BACKOFF);
                    last_error = e;
                }
            }
        }
        self.read_writer(&dbs, trace, query, last_error).await
    }

    /// Runs a read on the writer (`readers_error`: why not on a reader).
    async fn read_writer(
        &self,
        dbs: &Databases,
        trace: &mut Trace,
        query: &Query,
        readers_error: String,
    ) -> Result<Rows, String> {
        let start = Instant::now();
        match self.on(&dbs.writer, async |c| query.run(c).await).await {
            Ok(v) => {
                trace.db = Some((dbs.writer.host.to_string(), start.elapsed()));
                Ok(v)
            }
            Err(e) if readers_error.is_empty() => Err(e),
            Err(e) => Err(format!("{e} (and the readers: {readers_error})")),
        }
    }
}

/// A read the public endpoints make.
enum Query {
    /// The newest item's id (`GET /`): one index lookup whatever the
    /// table's size (a COUNT(*) would scan it).
    Newest,
    /// The newest items, or the one with this id.
    Items(Option<u64>),
}

/// What a [`Query`] read.
enum Rows {
    Newest(Option<u64>),
    Items(Vec<Item>),
}

impl Query {
    async fn run(&self, c: &mut mysql_async::Conn) -> Result<Rows, mysql_async::Error> {
        let item = |(id, value, written_by)| Item {
            id,
            value,
            written_by,
        };
        match self {
            Self::Newest => c
                .query_first::<Option<u64>, _>("SELECT MAX(id) FROM items")
                .await
                .map(|n| Rows::Newest(n.flatten())),
            Self::Items(Some(id)) => c
                .exec_map(
                    "SELECT id, value, written_by FROM items WHERE id = ?",
                    (*id,),
                    item,
                )
                .await
                .map(Rows::Items),
            Self::Items(None) => c
                .query_map(
                    format!(
                        "SELECT id, value, written_by FROM (SELECT id, value, written_by \
                         FROM items ORDER BY id DESC LIMIT {MAX_ITEMS}) newest ORDER BY id"
                    ),
                    item,
                )
                .await
                .map(Rows::Items),
        }
    }
}

/// What a client's `topolab-ryw` cookie says about its last write.
#[derive(Debug, PartialEq, Eq)]
struct Token {
    /// When it was written, milliseconds since the epoch.
    at: u64,
    /// Its GTID (empty when unknown).
    gtid: String,
}

impl Token {
    /// The cookie's value: `MILLIS~GTID`. A MySQL GTID set's commas (not
    /// allowed in a cookie) are written as dots; whitespace is dropped.
    fn cookie(&self) -> String {
        let gtid: String = self
            .gtid
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == ',' { '.' } else { c })
            .collect();
        format!(
            "{RYW_COOKIE}={}~{gtid}; Path=/; HttpOnly; SameSite=Lax",
            self.at
        )
    }

    /// The token in a request's `Cookie` headers, if any.
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                if name != RYW_COOKIE {
                    return None;
                }
                let (at, gtid) = value.split_once('~')?;
                let gtid_ok = gtid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.'));
                let at = at.parse().ok()?;
                gtid_ok.then(|| Self {
                    at,
                    gtid: gtid.replace('.', ","),
                })
            })
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn health(State(app): State<Arc<App>>) -> Response {
    if app.release.healthy {
        Trace::new().respond(&app, StatusCode::OK, "ok\n")
    } else {
        Trace::new().respond(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", app.release.unhealthy_because),
        )
    }
}

async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut trace = Trace::new();
    let token = Token::from_headers(&headers);
    let count = match app.read(&mut trace, token.as_ref(), &Query::Newest).await {
        Ok(Rows::Newest(n)) => Ok(n),
        Ok(Rows::Items(_)) => Err("unexpected rows".to_owned()),
        Err(e) => Err(e),
    };
    let body = match (&count, &trace.db) {
        (Ok(Some(newest)), Some((db, _))) => format!(
            "Hello from {}{}! The read was served by {db}/db (newest item #{newest}).\n",
            app.host, app.release.greeting
        ),
        (Ok(None), Some((db, _))) => format!(
            "Hello from {}{}! The read was served by {db}/db (no items yet).\n",
            app.host, app.release.greeting
        ),
        (Err(e), _) => format!(
            "Hello from {}{}! No database answered: {e}\n",
            app.host, app.release.greeting
        ),
        (Ok(_), None) => format!("Hello from {}{}!\n", app.host, app.release.greeting),
    };
    let status = if count.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = trace.respond(&app, status, body);
    if let Ok(Some(newest)) = count {
        insert(
            response.headers_mut(),
            "x-topolab-newest",
            &newest.to_string(),
        );
    }
    response
}

/// An item as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct Item {
    /// Primary key.
    pub id: u64,
    /// What the client wrote.
    pub value: String,
    /// The app host that wrote it.
    pub written_by: String,
}

#[derive(Deserialize)]
struct NewItem {
    value: String,
}

async fn add_item(
    State(app): State<Arc<App>>,
    body: Result<Json<NewItem>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let trace = Trace::new();
    let Ok(Json(item)) = body else {
        return trace.respond(
            &app,
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "expected a JSON body {\"value\": \"...\"}"})),
        );
    };
    if item.value.chars().count() > 255 {
        return trace.respond(
            &app,
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "value is longer than 255 characters"})),
        );
    }
    let (writer, ryw) = {
        let dbs = app.databases.read().await;
        (dbs.writer.clone(), dbs.read_your_writes)
    };
    let host = app.host.clone();
    let value = item.value.clone();
    // The write's GTID, for a replica to wait for: the session's last on
    // MariaDB; on MySQL the executed set, which includes it.
    let gtid_query = match (ryw, app.flavor) {
        (ReadYourWrites::WaitForReplica { .. }, Flavor::Mariadb) => Some("SELECT @@last_gtid"),
        (ReadYourWrites::WaitForReplica { .. }, Flavor::Mysql) => {
            Some("SELECT @@global.gtid_executed")
        }
        _ => None,
    };
    let start = Instant::now();
    // Whether the write certainly was not done: never sent (no connection),
    // or refused by the server (read-only, an error); a timeout or a lost
    // connection after it was sent leaves it unknown.
    let not_done = std::sync::atomic::AtomicBool::new(true);
    let result = app
        .on(&writer, async |c| {
            not_done.store(false, std::sync::atomic::Ordering::Relaxed);
            let inserted = c
                .exec_drop(
                    "INSERT INTO items (value, written_by) VALUES (?, ?)",
                    (value.clone(), host.clone()),
                )
                .await;
            if let Err(e @ mysql_async::Error::Server(_)) = inserted {
                not_done.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
            inserted?;
            let id = c.last_insert_id().unwrap_or(0);
            // Committed: without its GTID the client's next read does not
            // wait, but the write is acknowledged.
            let gtid = match gtid_query {
                Some(q) => c.query_first::<String, _>(q).await.ok().flatten(),
                None => None,
            };
            Ok((id, gtid.unwrap_or_default()))
        })
        .await;
    let mut trace = trace;
    match result {
        Ok((id, gtid)) => {
            trace.db = Some((writer.host.to_string(), start.elapsed()));
            if !ryw.is_off() {
                trace.token = Some(Token {
                    at: now_millis(),
                    gtid,
                });
            }
            trace.respond(
                &app,
                StatusCode::CREATED,
                Json(Item {
                    id,
                    value: item.value,
                    written_by: app.host.clone(),
                }),
            )
        }
        Err(e) => {
            let mut response = trace.respond(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": format!("the write to {}/db failed: {e}", writer.host)})),
            );
            if not_done.load(std::sync::atomic::Ordering::Relaxed) {
                insert(response.headers_mut(), WRITE_HEADER, "not-done");
            }
            response
        }
    }
}

/// `GET /api/items`'s query: one item only.
#[derive(Deserialize)]
struct ItemsQuery {
    id: Option<u64>,
}

async fn list_items(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: axum::extract::Query<ItemsQuery>,
) -> Response {
    let mut trace = Trace::new();
    let token = Token::from_headers(&headers);
    let items = match app
        .read(&mut trace, token.as_ref(), &Query::Items(query.id))
        .await
    {
        Ok(Rows::Items(items)) => Ok(items),
        Ok(Rows::Newest(_)) => Err("unexpected rows".to_owned()),
        Err(e) => Err(e),
    };
    match items {
        Ok(items) => {
            let db = trace.db.as_ref().map(|(h, _)| format!("{h}/db"));
            trace.respond(
                &app,
                StatusCode::OK,
                Json(serde_json::json!({ "db": db, "items": items })),
            )
        }
        Err(e) => trace.respond(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": format!("no database answered: {e}")})),
        ),
    }
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", app.admin_token);
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn show_databases(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return Trace::new().respond(&app, StatusCode::UNAUTHORIZED, "admin token required\n");
    }
    let dbs = app.databases.read().await.clone();
    Trace::new().respond(&app, StatusCode::OK, Json(dbs))
}

async fn set_databases(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<Databases>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !authorized(&app, &headers) {
        return Trace::new().respond(&app, StatusCode::UNAUTHORIZED, "admin token required\n");
    }
    let Ok(Json(dbs)) = body else {
        return Trace::new().respond(
            &app,
            StatusCode::BAD_REQUEST,
            "expected {\"writer\": ..., \"readers\": [...]}\n",
        );
    };
    tracing::info!(writer = %dbs.writer.host, readers = dbs.readers.len(), "databases repointed");
    *app.databases.write().await = dbs.clone();
    app.reader_down_until.lock().await.clear();
    Trace::new().respond(&app, StatusCode::OK, Json(dbs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                axum::http::header::COOKIE,
                HeaderValue::from_str(v).expect("a header value"),
            );
        }
        h
    }

    #[test]
    fn the_token_goes_out_as_a_cookie_and_comes_back() {
        for gtid in [
            "0-1-42",
            "",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3",
        ] {
            let token = Token {
                at: 1_700_000_000_123,
                gtid: gtid.to_owned(),
            };
            let set = token.cookie();
            assert!(set.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{set}");
            // A client sends back the name=value part.
            let pair = set.split(';').next().expect("a pair");
            let back = Token::from_headers(&cookies(&[pair])).expect("a token");
            assert_eq!(back.at, token.at);
            assert_eq!(back.gtid, gtid.replace('\n', ""));
        }
    }

    #[test]
    fn the_token_is_found_among_other_cookies_and_bad_ones_are_ignored() {
        let found = Token::from_headers(&cookies(&["a=1; topolab-ryw=5~0-1-2; b=2"]));
        assert_eq!(
            found,
            Some(Token {
                at: 5,
                gtid: "0-1-2".to_owned()
            })
        );
        assert_eq!(
            Token::from_headers(&cookies(&["x=1", "topolab-ryw=7~0-1-3"])).map(|t| t.at),
            Some(7)
        );
        for bad in [
            "topolab-ryw=notanumber~0-1-2",
            "topolab-ryw=5",
            "topolab-ryw=5~0-1-2'; DROP TABLE items",
            "topolab-ryw=5~0 1 2",
            "other=5~0-1-2",
        ] {
            assert_eq!(Token::from_headers(&cookies(&[bad])), None, "{bad}");
        }
        assert_eq!(Token::from_headers(&HeaderMap::new()), None);
    }
}
