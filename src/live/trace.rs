//! One request as the traffic generator saw it ([`RequestTrace`]), the
//! components it went through, and whether the topology allows that path.

use crate::model::{ComponentId, ComponentKind, HostName, Topology};

use super::Millis;

/// What one request did, as the traffic generator saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestTrace {
    /// When it was sent.
    pub at: Millis,
    /// A write (`POST /api/items`) or a read (`GET /`).
    pub write: bool,
    /// The entry point it was sent to.
    pub entry: HostName,
    /// HTTP status, or `None` when no response came.
    pub status: Option<u16>,
    /// Why it failed without a response.
    pub error: Option<String>,
    /// Client-side latency, milliseconds.
    pub latency_ms: f32,
    /// `X-Topolab-Lb`.
    pub lb: Option<HostName>,
    /// `X-Topolab-Web`.
    pub web: Option<HostName>,
    /// `X-Topolab-App` (its host).
    pub app: Option<HostName>,
    /// `X-Topolab-Db` (its host).
    pub db: Option<HostName>,
    /// Time in the app server (`Server-Timing: app`).
    pub app_ms: Option<f32>,
    /// Time in the database (`Server-Timing: db`).
    pub db_ms: Option<f32>,
    /// For a write, the value it wrote: unique to it, so the data can be
    /// checked for it (ids are not: a promoted primary reuses them).
    pub written: Option<String>,
    /// Whether the request was sent whole to a server: a failure after
    /// that leaves its effect unknown (a write may have been committed).
    pub delivered: bool,
    /// For a read of `/`, the newest item's id it saw.
    pub newest: Option<u64>,
    /// For a read-your-writes probe, the write it looked for.
    pub own: Option<OwnRead>,
    /// The app said the write was not done (`X-Topolab-Write: not-done`:
    /// never sent to the database, or refused by it).
    pub not_done: bool,
    /// The release that answered (`X-Topolab-Version`).
    pub version: Option<String>,
}

/// A read-your-writes probe: a client reads back the write it just had
/// acknowledged, through the same entry point.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnRead {
    /// The value written.
    pub value: String,
    /// When the write was acknowledged.
    pub acknowledged: Millis,
    /// Whether the read found it (`false` on an answered read: stale).
    pub found: bool,
}

/// What became of a request, as a client can know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Certainly not done: never sent, or refused before it reached the
    /// app (a load balancer with no server), or refused by the app as
    /// invalid.
    Failed,
    /// It may or may not have taken effect: no answer after it was sent
    /// (a timeout, a connection cut), or an error from the app or a proxy
    /// after the app may have run it.
    Unknown,
}

impl Outcome {
    /// Its name in histories and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

impl RequestTrace {
    /// A request sent at `at` to `entry`, before any answer.
    pub fn new(at: Millis, write: bool, entry: HostName) -> Self {
        Self {
            at,
            write,
            entry,
            status: None,
            error: None,
            latency_ms: 0.0,
            lb: None,
            web: None,
            app: None,
            db: None,
            app_ms: None,
            db_ms: None,
            written: None,
            delivered: false,
            newest: None,
            own: None,
            not_done: false,
            version: None,
        }
    }

    /// What became of it. An answer from the app (`X-Topolab-App`) that is
    /// not a success leaves a write unknown unless it was a 4xx (refused
    /// as invalid) or the app said it was not done; without the app's
    /// header, a 503 is the load balancer's or Nginx's own refusal (no
    /// server to send it to), while a 502 or 504 may come after the app
    /// received it.
    pub fn outcome(&self) -> Outcome {
        match self.status {
            Some(s) if (200..300).contains(&s) => Outcome::Ok,
            Some(s) if (400..500).contains(&s) => Outcome::Failed,
            Some(_) if self.not_done => Outcome::Failed,
            Some(503) if self.app.is_none() => Outcome::Failed,
            Some(_) => Outcome::Unknown,
            None if self.delivered => Outcome::Unknown,
            None => Outcome::Failed,
        }
    }

    /// A read-your-writes probe that was answered but did not find the
    /// client's own write.
    pub fn stale(&self) -> bool {
        self.ok() && self.own.as_ref().is_some_and(|o| !o.found)
    }

    /// A 2xx answer.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The components it went through, in order.
    pub fn path(&self) -> Vec<ComponentId> {
        let mut out = Vec::new();
        if let Some(h) = &self.lb {
            out.push(ComponentId::new(h, ComponentKind::Lb));
        }
        if let Some(h) = &self.web {
            out.push(ComponentId::new(h, ComponentKind::Nginx));
        }
        if let Some(h) = &self.app {
            out.push(ComponentId::new(h, ComponentKind::App));
        }
        if let Some(h) = &self.db {
            out.push(ComponentId::new(h, ComponentKind::Db));
        }
        out
    }

    /// When it finished.
    pub fn done(&self) -> Millis {
        self.at.saturating_add(self.latency_ms.max(0.0) as Millis)
    }
}

/// One end of an edge: the traffic generator or a component.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// The clients (the traffic generator).
    Client,
    /// A component.
    Component(ComponentId),
}

/// A link requests travel along.
pub type EdgeKey = (Endpoint, Endpoint);

/// Whether `trace`'s path is one the topology allows: its load balancer
/// has its web server as a backend, Nginx proxies to the app on the same
/// host, and the database is in the app's replication group. Returns why not.
pub fn check_path(topology: &Topology, trace: &RequestTrace) -> Result<(), String> {
    let web = trace.web.as_ref().ok_or("no X-Topolab-Web header")?;
    if let Some(lb) = &trace.lb {
        let balancer = topology
            .host(lb)
            .and_then(|h| h.load_balancer())
            .ok_or_else(|| format!("{lb} is not a load balancer"))?;
        if !balancer.backends.iter().any(|b| &b.host == web) {
            return Err(format!("{web} is not a backend of {lb}"));
        }
    } else if !topology.entry_points().iter().any(|h| &h.name == web) {
        return Err(format!("{web} answered without a load balancer in front"));
    }
    let app = trace.app.as_ref().ok_or("no X-Topolab-App header")?;
    if app != web {
        return Err(format!("{web}'s Nginx answered from {app}'s app server"));
    }
    let group = topology
        .host(app)
        .and_then(|h| h.app_server())
        .map(|a| a.group.clone())
        .ok_or_else(|| format!("{app} runs no app server"))?;
    if let Some(db) = &trace.db {
        let database = topology
            .host(db)
            .and_then(|h| h.database())
            .ok_or_else(|| format!("{db} runs no database"))?;
        if database.group != group {
            return Err(format!("{db}/db is not in {app}'s replication group"));
        }
    }
    Ok(())
}
