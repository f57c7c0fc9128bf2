//! The monitor: one task per running lab that watches it the way its parts
//! see themselves, and reports every change as [`Observation`]s.
//!
//! - Containers: Docker's event stream (no polling, no HEALTHCHECK), with
//!   the engine's own timestamps.
//! - Backends: HAProxy's runtime API, read every 100 ms over one attached
//!   `socat` session in prompt mode (no process started per poll).
//! - Replication: each replica's `SHOW SLAVE STATUS` and GTID positions,
//!   every 250 ms, read-only on both ends (a heartbeat that writes would add
//!   transactions to the primary).
//! - CPU and memory: Docker's stats stream.
//!
//! Observations are coalesced: the sink gets at most one batch per 100 ms.
//! A send that fails means the monitor is being stopped (its receiver is
//! gone): the watchers ignore it on purpose and end at their next tick.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::docker::{Engine, Usage};
use super::haproxy::{PROMPT, parse_show_stat};
use super::plan::{self, Part};
use super::replication;
use super::state::LabState;
use crate::generate::paths;
use crate::live::{self, BackendStatus, Observation, ReplicaStatus, RunState};
use crate::model::{ComponentKind, HostName, serving_network};

/// How often HAProxy's backend states are read.
pub const HAPROXY_POLL: Duration = Duration::from_millis(100);
/// How often replication is read.
pub const REPLICATION_POLL: Duration = Duration::from_millis(250);
/// The longest the sink waits for a batch.
const COALESCE: Duration = Duration::from_millis(100);
/// How long one question to a database may take.
const SQL_TIMEOUT: Duration = Duration::from_secs(1);
/// How often each DNS server is asked for the site's name.
const DNS_POLL: Duration = Duration::from_millis(500);
/// How often the holder of each virtual IP is asked.
const VIP_POLL: Duration = Duration::from_millis(250);

/// Where batches of observations go.
pub type ObservationSink = Arc<dyn Fn(Vec<Observation>) + Send + Sync>;

/// A running monitor; stops when [`MonitorHandle::stop`] is called or the
/// handle is dropped.
#[derive(Debug)]
pub struct MonitorHandle {
    cancel: CancellationToken,
}

impl MonitorHandle {
    /// Stops every task of the monitor.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts watching lab `state.lab` on the current tokio runtime.
pub fn spawn(engine: Engine, state: LabState, sink: ObservationSink) -> MonitorHandle {
    let cancel = CancellationToken::new();
    let (tx, rx) = unbounded_channel();
    let state = Arc::new(state);
    tokio::spawn(watch_containers(
        engine.clone(),
        state.clone(),
        tx.clone(),
        cancel.clone(),
    ));
    for (host, _) in state.topology.load_balancers() {
        let container =
            plan::container_name(&state.lab, &host.name, Part::Component(ComponentKind::Lb));
        tokio::spawn(watch_haproxy(
            engine.clone(),
            host.name.clone(),
            container,
            tx.clone(),
            cancel.clone(),
        ));
    }
    // Every database: roles change with promotions.
    for (host, _) in state.topology.databases() {
        tokio::spawn(watch_replica(
            state.clone(),
            host.name.clone(),
            tx.clone(),
            cancel.clone(),
        ));
    }
    for (vip, address) in state.vips() {
        tokio::spawn(watch_vip(
            vip.number,
            SocketAddr::from((address, vip.port)),
            tx.clone(),
            cancel.clone(),
        ));
    }
    if !state.dns_servers.is_empty() {
        // The entry point each address belongs to, for the canvas.
        let names = Arc::new(super::traffic::targets(&state).entry_names());
        for d in &state.dns_servers {
            tokio::spawn(watch_dns(
                d.host.clone(),
                SocketAddr::from(([127, 0, 0, 1], d.port)),
                state.topology.domain.clone(),
                names.clone(),
                tx.clone(),
                cancel.clone(),
            ));
        }
    }
    for host in &state.topology.hosts {
        for c in &host.components {
            let name = plan::container_name(&state.lab, &host.name, Part::Component(c.kind()));
            tokio::spawn(watch_usage(
                engine.clone(),
                host.name.clone(),
                c.kind(),
                name,
                tx.clone(),
                cancel.clone(),
            ));
        }
    }
    drop(tx);
    tokio::spawn(coalesce(rx, sink, cancel.clone()));
    MonitorHandle { cancel }
}

/// Sends what arrives in batches, at most one per [`COALESCE`].
async fn coalesce(
    mut rx: UnboundedReceiver<Observation>,
    sink: ObservationSink,
    cancel: CancellationToken,
) {
    let mut batch = Vec::new();
    let mut last = tokio::time::Instant::now() - COALESCE;
    loop {
        let deadline = last + COALESCE;
        let flush_due = !batch.is_empty();
        tokio::select! {
            () = cancel.cancelled() => break,
            received = rx.recv() => match received {
                Some(o) => batch.push(o),
                None => break,
            },
            () = tokio::time::sleep_until(deadline), if flush_due => {}
        }
        if !batch.is_empty() && tokio::time::Instant::now() >= last + COALESCE {
            sink(std::mem::take(&mut batch));
            last = tokio::time::Instant::now();
        }
    }
}

/// The host and component a container of this lab stands for.
pub(super) fn identify(
    labels: &HashMap<String, String>,
) -> Option<(HostName, Option<ComponentKind>)> {
    let host = HostName::new(labels.get(super::names::HOST)?.as_str());
    match Part::from_label(labels.get(super::names::COMPONENT)?)? {
        Part::Holder => Some((host, None)),
        Part::Component(k) => Some((host, Some(k))),
        Part::Exporter | Part::Vrrp | Part::Monitoring | Part::Router | Part::Nat | Part::Reach => {
            None
        }
    }
}

/// Container states: a snapshot, then Docker's events as they come.
async fn watch_containers(
    engine: Engine,
    state: Arc<LabState>,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    let label = super::names::lab_filter(&state.lab);
    // The containers seen so far, to say which are cut off when their
    // engine stops answering.
    let mut seen: HashMap<String, (HostName, Option<ComponentKind>)> = HashMap::new();
    loop {
        // Subscribe first, then list: nothing falls between the two.
        let mut events = Box::pin(engine.container_events(&label));
        match engine.containers(&label).await {
            Ok(list) => {
                let at = live::now();
                for c in list {
                    if let Some((host, kind)) = identify(&c.labels) {
                        seen.insert(c.name.clone(), (host.clone(), kind));
                        let _ = tx.send(Observation::Container {
                            host,
                            kind,
                            state: RunState::from_docker(
                                &c.state.to_string(),
                                exit_code(&c.status),
                            ),
                            at,
                        });
                    }
                }
                let unreachable = engine.unreachable();
                for (host, kind) in cut_off(&engine, &state, &seen, &unreachable) {
                    let _ = tx.send(Observation::Container {
                        host,
                        kind,
                        state: RunState::Unreachable,
                        at,
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the lab's containers"),
        }
        // Over several engines, list again every few seconds: an engine
        // whose machine is cut off may never end its event stream.
        let spans = engine.spans();
        let relist = async move {
            if spans {
                tokio::time::sleep(SPAN_RELIST).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(relist);
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return,
                () = &mut relist => break,
                next = events.next() => next,
            };
            let Some(Ok(event)) = next else { break };
            let Some((host, kind)) = identify(&event.labels) else {
                continue;
            };
            let state = match event.action.as_str() {
                "start" | "unpause" | "restart" => RunState::Running,
                "pause" => RunState::Paused,
                "die" => RunState::Exited(event.exit_code.unwrap_or(0)),
                "destroy" => RunState::Removed,
                "create" => RunState::Created,
                _ => continue,
            };
            let _ = tx.send(Observation::Container {
                host,
                kind,
                state,
                at: event.at_ms,
            });
        }
        // The stream ended (engine restarted?): start over after a pause.
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// How often the monitor lists the containers of a lab over several
/// engines.
const SPAN_RELIST: Duration = Duration::from_secs(5);

/// The containers (and each host's holder) on engines that do not answer.
fn cut_off(
    engine: &Engine,
    state: &LabState,
    seen: &HashMap<String, (HostName, Option<ComponentKind>)>,
    unreachable: &std::collections::BTreeSet<String>,
) -> Vec<(HostName, Option<ComponentKind>)> {
    if unreachable.is_empty() {
        return Vec::new();
    }
    let on_lost = |name: &str| {
        engine
            .engine_of(name)
            .is_some_and(|e| unreachable.contains(e))
    };
    let mut out: Vec<(HostName, Option<ComponentKind>)> = seen
        .iter()
        .filter(|(name, _)| on_lost(name))
        .map(|(_, who)| who.clone())
        .collect();
    for host in &state.topology.hosts {
        if on_lost(&super::names::holder(&state.lab, &host.name)) {
            out.push((host.name.clone(), None));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The exit code in Docker's status text, e.g. `Exited (137) 3 seconds ago`.
fn exit_code(status: &str) -> i64 {
    status
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(code, _)| code.parse().ok())
        .unwrap_or(0)
}

/// Backend states from one load balancer's runtime API.
async fn watch_haproxy(
    engine: Engine,
    lb: HostName,
    container: String,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    let mut known: BTreeMap<String, (BackendStatus, String)> = BTreeMap::new();
    let mut last_load = tokio::time::Instant::now();
    loop {
        let why = match haproxy_session(
            &engine,
            &container,
            &lb,
            &tx,
            &cancel,
            &mut known,
            &mut last_load,
        )
        .await
        {
            Ok(()) => return,
            Err(why) => why,
        };
        known.clear();
        let _ = tx.send(Observation::LbUnreadable {
            lb: lb.clone(),
            why,
            at: live::now(),
        });
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// One prompt-mode session: `show stat` every [`HAPROXY_POLL`] until the
/// session breaks (`Err` says why) or the monitor stops (`Ok`).
async fn haproxy_session(
    engine: &Engine,
    container: &str,
    lb: &HostName,
    tx: &UnboundedSender<Observation>,
    cancel: &CancellationToken,
    known: &mut BTreeMap<String, (BackendStatus, String)>,
    last_load: &mut tokio::time::Instant,
) -> Result<(), String> {
    let socket = format!("UNIX-CONNECT:{}", paths::HAPROXY_SOCKET);
    let mut session = engine
        .exec_session(container, &["socat", "-", &socket])
        .await
        .map_err(|e| e.to_string())?;
    let mut buffer = String::new();
    session
        .input
        .write_all(b"prompt\n")
        .await
        .map_err(|e| format!("the runtime API: {e}"))?;
    let mut ticker = tokio::time::interval(HAPROXY_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        session
            .input
            .write_all(b"show stat\n")
            .await
            .map_err(|e| format!("the runtime API: {e}"))?;
        session.input.flush().await.map_err(|e| e.to_string())?;
        // Read until the prompt that ends this answer.
        let answer = loop {
            if let Some(end) = buffer.rfind(PROMPT)
                && buffer[..end].contains("# pxname")
            {
                let answer = buffer[..end].to_owned();
                buffer.clear();
                break answer;
            }
            let chunk = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                chunk = tokio::time::timeout(Duration::from_secs(2), session.output.next()) => chunk,
            };
            match chunk {
                Ok(Some(Ok(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => return Err("the runtime API session ended".to_owned()),
                Err(_) => return Err("the runtime API did not answer within 2 s".to_owned()),
            }
        };
        let at = live::now();
        let start = answer.find("# pxname").unwrap_or(0);
        let servers = parse_show_stat(&answer[start..]);
        let send_load = last_load.elapsed() >= Duration::from_secs(1);
        if send_load {
            *last_load = tokio::time::Instant::now();
        }
        for s in servers {
            let current = (s.status.clone(), s.check.clone());
            let changed = known
                .get(&s.server)
                .is_none_or(|(status, _)| *status != s.status);
            if changed {
                let _ = tx.send(Observation::Backend {
                    lb: lb.clone(),
                    server: HostName::new(s.server.as_str()),
                    status: s.status.clone(),
                    check: s.check.clone(),
                    at,
                });
            }
            known.insert(s.server.clone(), current);
            if send_load {
                let _ = tx.send(Observation::BackendLoad {
                    lb: lb.clone(),
                    server: HostName::new(s.server.as_str()),
                    rate: s.rate,
                    requests: s.requests,
                    errors: s.errors,
                });
            }
        }
    }
}

/// Where each database of the lab is on the lab's network (see
/// [`connect`] for how this machine reaches it).
pub(super) fn database_addresses(state: &LabState) -> BTreeMap<HostName, SocketAddr> {
    let addresses = state.addresses();
    let net = serving_network(&state.topology, ComponentKind::Db);
    state
        .topology
        .databases()
        .filter_map(|(h, db)| {
            let ip = addresses.address(&h.name, net)?;
            Some((h.name.clone(), SocketAddr::new(IpAddr::V4(ip), db.port)))
        })
        .collect()
}

/// Where this machine connects to reach the database at `address` on the
/// lab's network: the address itself, or, in a lab on overlays (which this
/// machine has no leg on), the `reach` forwarder's port for it.
pub(super) fn reachable(state: &LabState, address: SocketAddr) -> SocketAddr {
    if state.reach_ports.is_empty() {
        return address;
    }
    database_addresses(state)
        .into_iter()
        .find(|(_, a)| *a == address)
        .and_then(|(host, _)| state.reach_ports.get(&host))
        .map_or(address, |port| SocketAddr::from(([127, 0, 0, 1], *port)))
}

/// A read-only connection as the `monitor` user to the database at
/// `address` on the lab's network.
pub(super) async fn connect(
    state: &LabState,
    address: SocketAddr,
) -> Result<mysql_async::Conn, String> {
    let address = reachable(state, address);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(address.ip().to_string())
        .tcp_port(address.port())
        .user(Some("monitor"))
        .pass(Some(state.secrets.monitor_password.clone()))
        .prefer_socket(false);
    match tokio::time::timeout(SQL_TIMEOUT, mysql_async::Conn::new(opts)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "{address} did not answer within {} s",
            SQL_TIMEOUT.as_secs()
        )),
    }
}

fn text(value: &mysql_async::Value) -> Option<String> {
    match value {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::Int(i) => Some(i.to_string()),
        mysql_async::Value::UInt(u) => Some(u.to_string()),
        other => Some(other.as_sql(true)),
    }
}

/// The first of `names` present in `row`, as text (`None` for NULL).
fn column(row: &mysql_async::Row, names: &[&str]) -> Option<String> {
    let columns = row.columns_ref();
    names.iter().find_map(|name| {
        let i = columns.iter().position(|c| c.name_str() == *name)?;
        row.as_ref(i).and_then(text)
    })
}

async fn query_row(
    conn: &mut mysql_async::Conn,
    q: &str,
) -> Result<Option<mysql_async::Row>, String> {
    use mysql_async::prelude::Queryable;
    match tokio::time::timeout(SQL_TIMEOUT, conn.query_first::<mysql_async::Row, _>(q)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", SQL_TIMEOUT.as_secs())),
    }
}

pub(super) async fn query_text(
    conn: &mut mysql_async::Conn,
    q: &str,
) -> Result<Option<String>, String> {
    Ok(query_row(conn, q)
        .await?
        .and_then(|r| r.as_ref(0).and_then(text)))
}

/// Connections a replica watcher keeps.
#[derive(Default)]
pub(super) struct ReplicaConns {
    replica: Option<mysql_async::Conn>,
    primary: Option<(SocketAddr, mysql_async::Conn)>,
    /// The last GTID position read on the primary (kept when it dies).
    last_primary_gtid: Option<String>,
}

/// Reads a replica's status once, reusing and refreshing `conns`.
pub(super) async fn read_replica(
    state: &LabState,
    addresses: &BTreeMap<HostName, SocketAddr>,
    host: &HostName,
    conns: &mut ReplicaConns,
) -> Result<ReplicaStatus, String> {
    let w = replication::words(state.flavor);
    let (status_query, replica_gtid_query, primary_gtid_query) =
        (w.status, w.applied_position, w.own_position);
    let address = *addresses
        .get(host)
        .ok_or_else(|| format!("{host} has no database address"))?;
    if conns.replica.is_none() {
        conns.replica = Some(connect(state, address).await?);
    }
    let Some(conn) = conns.replica.as_mut() else {
        return Err("no connection".to_owned());
    };
    let row = match query_row(conn, status_query).await {
        Ok(r) => r,
        Err(e) => {
            conns.replica = None;
            return Err(e);
        }
    };
    let Some(row) = row else {
        // Not a replica (any more): a primary, or a server kept out.
        let read_only = query_text(conn, "SELECT @@read_only").await;
        return match read_only {
            Ok(v) => Ok(ReplicaStatus {
                writable: v.as_deref() == Some("0"),
                ..ReplicaStatus::default()
            }),
            Err(e) => {
                conns.replica = None;
                Err(e)
            }
        };
    };
    let source_ip = column(&row, &["Master_Host", "Source_Host"]);
    let source_port = column(&row, &["Master_Port", "Source_Port"])
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(3306);
    let source = source_ip.as_deref().and_then(|ip| {
        addresses
            .iter()
            .find(|(_, a)| a.ip().to_string() == ip)
            .map(|(h, _)| h.clone())
    });
    let io_error = column(&row, &["Last_IO_Error"]).filter(|e| !e.is_empty());
    let sql_error = column(&row, &["Last_SQL_Error"]).filter(|e| !e.is_empty());
    let mut status = ReplicaStatus {
        io: column(&row, &["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or_default(),
        sql: column(&row, &["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or_default(),
        lag_seconds: column(&row, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .and_then(|s| s.parse().ok()),
        lag_transactions: None,
        primary_gtid: None,
        replica_gtid: None,
        last_error: sql_error.or(io_error),
        source,
        replicating: true,
        writable: false,
    };
    // The primary's position, read on the primary (read-only).
    if let Some(ip) = source_ip.and_then(|ip| ip.parse::<Ipv4Addr>().ok()) {
        let primary = SocketAddr::new(IpAddr::V4(ip), source_port);
        if conns.primary.as_ref().is_none_or(|(a, _)| *a != primary) {
            conns.primary = connect(state, primary).await.ok().map(|c| (primary, c));
        }
        if let Some((_, c)) = conns.primary.as_mut() {
            match query_text(c, primary_gtid_query).await {
                Ok(g) => conns.last_primary_gtid = g,
                Err(_) => conns.primary = None,
            }
        }
    }
    status.primary_gtid = conns.last_primary_gtid.clone();
    // The replica's position, read after the primary's: writes in flight
    // between the two reads do not count as lag.
    if let Some(conn) = conns.replica.as_mut() {
        match query_text(conn, replica_gtid_query).await {
            Ok(applied) => status.replica_gtid = applied,
            Err(e) => {
                conns.replica = None;
                return Err(e);
            }
        }
    }
    if let (Some(p), Some(r)) = (&status.primary_gtid, &status.replica_gtid) {
        status.lag_transactions = crate::gtid::gap(p, r);
    }
    Ok(status)
}

/// Reads one replica's status once (for `topolab status`).
pub async fn replica_status(state: &LabState, host: &HostName) -> Result<ReplicaStatus, String> {
    let addresses = database_addresses(state);
    read_replica(state, &addresses, host, &mut ReplicaConns::default()).await
}

/// A replica's replication, polled; changes only.
async fn watch_replica(
    state: Arc<LabState>,
    host: HostName,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    let addresses = database_addresses(&state);
    let mut conns = ReplicaConns::default();
    let mut last: Option<Result<ReplicaStatus, String>> = None;
    let mut ticker = tokio::time::interval(REPLICATION_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let status = tokio::select! {
            () = cancel.cancelled() => break,
            s = read_replica(&state, &addresses, &host, &mut conns) => s,
        };
        if last.as_ref() != Some(&status) {
            last = Some(status.clone());
            let _ = tx.send(Observation::Replication {
                host: host.clone(),
                status,
                at: live::now(),
            });
        }
    }
    if let Some(c) = conns.replica.take() {
        let _ = tokio::time::timeout(SQL_TIMEOUT, c.disconnect()).await;
    }
    if let Some((_, c)) = conns.primary.take() {
        let _ = tokio::time::timeout(SQL_TIMEOUT, c.disconnect()).await;
    }
}

/// Which load balancer holds virtual IP `vip` (at `addr`); changes only.
async fn watch_vip(
    vip: u8,
    addr: SocketAddr,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    let mut last = None;
    let mut ticker = tokio::time::interval(VIP_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let holder = super::vip::holder(addr).await;
        if last.as_ref() != Some(&holder) {
            last = Some(holder.clone());
            let _ = tx.send(Observation::VipHolder {
                vip,
                holder,
                at: live::now(),
            });
        }
    }
}

/// What a DNS server answers for the site's name, asked as a client asks;
/// changes only.
async fn watch_dns(
    host: HostName,
    server: SocketAddr,
    name: String,
    entries: Arc<HashMap<Ipv4Addr, String>>,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    use super::resolver::{Reply, SERVER_TIMEOUT, ask};
    let mut last: Option<Result<Vec<String>, String>> = None;
    let mut ticker = tokio::time::interval(DNS_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let answer = match tokio::time::timeout(SERVER_TIMEOUT, ask(server, &name)).await {
            Ok(Ok(Reply::Addresses(a))) => {
                let mut named: Vec<String> = a
                    .addresses
                    .iter()
                    .map(|ip| entries.get(ip).cloned().unwrap_or_else(|| ip.to_string()))
                    .collect();
                named.sort();
                Ok(named)
            }
            Ok(Ok(Reply::Other(what))) => Err(what),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer".to_owned()),
        };
        if last.as_ref() != Some(&answer) {
            last = Some(answer.clone());
            let _ = tx.send(Observation::DnsAnswer {
                host: host.clone(),
                answer,
                at: live::now(),
            });
        }
    }
}

/// A container's CPU and memory from the stats stream (restarted when the
/// container is).
async fn watch_usage(
    engine: Engine,
    host: HostName,
    kind: ComponentKind,
    container: String,
    tx: UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    loop {
        let mut stream = Box::pin(engine.usage(&container));
        let mut previous: Option<Usage> = None;
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return,
                next = stream.next() => next,
            };
            let Some(Ok(usage)) = next else { break };
            if let Some(p) = &previous
                && let Some(cpu) = usage.cpu_percent_since(p)
            {
                let _ = tx.send(Observation::Resources {
                    host: host.clone(),
                    kind: Some(kind),
                    cpu_percent: cpu,
                    memory_bytes: usage.memory_bytes,
                });
            }
            previous = Some(usage);
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_status() {
        assert_eq!(exit_code("Exited (137) 3 seconds ago"), 137);
        assert_eq!(exit_code("Up 2 minutes"), 0);
    }
}
