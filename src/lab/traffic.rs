//! The traffic generator: real HTTP requests through the lab's entry
//! points, at a set rate (open loop: requests leave on schedule whether or
//! not earlier ones have answered) or flat out (closed loop, N at a time).
//! Each answer is traced by its path headers (`X-Topolab-Lb/-Web/-App/-Db`)
//! and per-hop `Server-Timing`, and reported as [`RequestTrace`]s in
//! batches of at most one per 100 ms.
//!
//! With two entry points (two load balancers) requests alternate between
//! them, as clients do with two DNS records, and a request that could not
//! be sent to one (no connection) is sent to the other. A request that was
//! sent is never sent again: a write that timed out may have been done.
//!
//! A lab with DNS servers is reached as real clients reach a site: each
//! request first resolves the site's name through the lab's DNS (a
//! caching stub resolver, [`super::resolver`]), then connects to one of
//! the addresses the answer gave (the lab's own addresses: this machine
//! is on the lab's networks through Docker's bridges), in turn, the next
//! one when it cannot connect. While the answer is cached a changed
//! record does not reach the clients; once it expires, a lookup that
//! fails fails the request.
//!
//! Every write carries a value unique to it. With `read_back` on, each
//! acknowledged write is read back by its client through the same entry
//! point, bringing the cookie the write's answer set: the read-your-writes
//! probe ([`OwnRead`]).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderValue, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::resolver::{Resolver, Server};
use super::state::LabState;
use crate::live::{self, OwnRead, RequestTrace};
use crate::model::{ClientEntry, HostName, serving_network};
pub use crate::protocol::{MAX_RATE, Rate, TrafficSettings};

/// Requests in flight at most (a set rate beyond what the lab answers
/// waits here instead of piling up without bound).
const MAX_IN_FLIGHT: usize = 1024;
/// How long a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often traces are handed over.
const BATCH: Duration = Duration::from_millis(100);

/// An entry point of the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its host (a load balancer, or a web server without one); for a
    /// virtual IP, its first member.
    pub host: HostName,
    /// Where it listens on this machine (`127.0.0.1:PORT`).
    pub addr: SocketAddr,
    /// Its address and port in the lab (a virtual IP's for its members).
    pub lab: Option<SocketAddr>,
    /// A virtual IP (its number): whichever member holds it answers, so a
    /// request counts for the load balancer that says it handled it.
    pub vip: Option<u8>,
}

/// Where the generator sends requests: the entry points, and, when the
/// lab has DNS servers, the resolver clients find them with.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The entry points, as this machine reaches them.
    pub entries: Vec<Target>,
    /// The lab's DNS, when it has some.
    pub dns: Option<DnsRoute>,
}

impl Targets {
    /// The entry point each lab address a DNS record may give belongs to,
    /// by name (`vip .220` for a virtual IP; empty without DNS).
    pub fn entry_names(&self) -> HashMap<Ipv4Addr, String> {
        self.dns
            .iter()
            .flat_map(|d| &d.by_address)
            .filter_map(|(a, i)| Some((*a, self.entries.get(*i)?.name())))
            .collect()
    }
}

/// How clients find the entry points through the lab's DNS.
#[derive(Clone, Debug)]
pub struct DnsRoute {
    /// Resolves the site's name, shared by every request of a run.
    pub resolver: Arc<Resolver>,
    /// Each entry point's address in the lab (what the records name) and
    /// its place in [`Targets::entries`].
    pub by_address: HashMap<Ipv4Addr, usize>,
}

impl Target {
    /// How users know it: its host, or `vip .220`.
    pub fn name(&self) -> String {
        match self.vip {
            Some(n) => format!("vip .{n}"),
            None => self.host.to_string(),
        }
    }
}

impl Targets {
    /// Whether clients connect to the entry points' addresses in the lab,
    /// as they would on a network: when they find them through DNS or one
    /// is a virtual IP, and this machine reaches the lab's addresses.
    async fn connect_in_lab(&self) -> bool {
        (self.dns.is_some() || self.entries.iter().any(|e| e.vip.is_some())) && self.direct().await
    }

    /// Whether this machine reaches the lab's addresses themselves (a
    /// Docker engine on this machine's own kernel: its bridges are local
    /// networks here): some entry point's address answers, a refusal
    /// included (a dead entry point's may not answer at all).
    async fn direct(&self) -> bool {
        let probes = self
            .entries
            .iter()
            .filter_map(|e| e.lab)
            .map(|addr| async move {
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                    Ok(Ok(_)) => true,
                    Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
                    Err(_) => false,
                }
            });
        futures_util::future::join_all(probes)
            .await
            .into_iter()
            .any(|reached| reached)
    }
}

/// The entry points of a launched lab, and its DNS. Load balancers
/// sharing a virtual IP are one entry point: the address.
pub fn targets(state: &LabState) -> Targets {
    let plan = state.addresses();
    let t = &state.topology;
    let entries: Vec<Target> = t
        .client_entries()
        .iter()
        .filter_map(|entry| {
            // Published on the host that stands for the entry.
            let published = state
                .entry_points
                .iter()
                .find(|e| &e.host == entry.host())?;
            let (lab, vip) = match entry {
                ClientEntry::Host { host, kind, port } => (
                    plan.address(&host.name, serving_network(t, *kind))
                        .map(|a| SocketAddr::from((a, *port))),
                    None,
                ),
                ClientEntry::Vip(v) => (
                    plan.vip_address(t, v)
                        .map(|a| SocketAddr::from((a, v.port))),
                    Some(v.number),
                ),
            };
            // A virtual IP's own published port follows the address.
            let port = vip
                .and_then(|n| state.vip_ports.iter().find(|p| p.number == n))
                .map_or(published.http, |p| p.http);
            Some(Target {
                host: published.host.clone(),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                lab,
                vip,
            })
        })
        .collect();
    let dns = (!state.dns_servers.is_empty()).then(|| {
        let mut by_address = HashMap::new();
        for (place, e) in entries.iter().enumerate() {
            if let Some(SocketAddr::V4(lab)) = e.lab {
                by_address.insert(*lab.ip(), place);
            }
        }
        let servers = state
            .dns_servers
            .iter()
            .map(|d| Server {
                host: d.host.clone(),
                addr: SocketAddr::from(([127, 0, 0, 1], d.port)),
            })
            .collect();
        DnsRoute {
            resolver: Arc::new(Resolver::new(t.domain.clone(), servers)),
            by_address,
        }
    });
    Targets { entries, dns }
}

/// What a run did, as the generator counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Requests sent.
    pub sent: u64,
    /// From the first request sent to the last, seconds.
    pub sending_seconds: f64,
}

impl RunStats {
    /// Requests per second actually sent.
    pub fn achieved_rate(&self) -> f64 {
        if self.sending_seconds > 0.0 {
            self.sent as f64 / self.sending_seconds
        } else {
            0.0
        }
    }
}

/// Where traces go.
pub type TraceSink = Arc<dyn Fn(Vec<RequestTrace>) + Send + Sync>;

/// A running generator.
#[derive(Debug)]
pub struct TrafficHandle {
    settings: watch::Sender<TrafficSettings>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TrafficHandle {
    /// Changes the rate or the mix without a restart.
    pub fn set(&self, settings: TrafficSettings) {
        let _ = self.settings.send(settings);
    }

    /// Stops sending; requests in flight still report.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Stops sending and waits until every request in flight has reported
    /// (each has its own timeout).
    pub async fn finish(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TrafficHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts the generator on the current runtime.
pub fn spawn(targets: Targets, settings: TrafficSettings, sink: TraceSink) -> TrafficHandle {
    let (tx, rx) = watch::channel(settings);
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = run(targets, rx, sink, token, None).await {
            tracing::warn!(error = %e, "traffic stopped");
        }
    });
    TrafficHandle {
        settings: tx,
        cancel,
        task: Some(task),
    }
}

/// Why the generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// Nowhere to send requests.
    #[error("the lab has no entry point to send requests to")]
    NoEntryPoint,
}

/// An entry point and its idle keep-alive connections. The generator
/// speaks HTTP/1.1 to the load balancer itself (hyper's connection API)
/// instead of through a general client: no URL to parse, no proxy or
/// redirect layers, one pool lookup, so that flat out it costs the machine
/// about what `wrk` does and leaves the rest to the lab.
struct Entry {
    target: Target,
    host_header: HeaderValue,
    idle: std::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Entry {
    fn new(target: Target) -> Self {
        // An address's text is always a valid header value.
        let host_header = HeaderValue::from_str(&target.addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("127.0.0.1"));
        Self {
            target,
            host_header,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that is still open (`true`: reused), or a new one.
    async fn connection(&self) -> Result<(SendRequest<Full<Bytes>>, bool), String> {
        loop {
            let Some(mut sender) = crate::locked(&self.idle).pop() else {
                break;
            };
            // Ready once the connection has finished the last exchange;
            // an error once the peer has closed it.
            if sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        self.connection_new().await
    }

    /// A new connection (`false`: not reused).
    async fn connection_new(&self) -> Result<(SendRequest<Full<Bytes>>, bool), String> {
        let refused = |_| "connection refused or unreachable".to_owned();
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.target.addr))
            .await
            .map_err(|_| "connection refused or unreachable".to_owned())?
            .map_err(refused)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        // The connection's reads and writes; it ends when the sender is
        // dropped or the peer closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok((sender, false))
    }

    /// Keeps a connection whose last answer was read whole for the next
    /// request.
    fn keep(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = crate::locked(&self.idle);
        if idle.len() < MAX_IN_FLIGHT {
            idle.push(sender);
        }
    }

    /// Sends one request and reads its answer whole: the status, the
    /// headers and the body, or what went wrong. `delivered` says whether
    /// the request was written to a server (also when this is cancelled).
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        delivered: &mut bool,
    ) -> Result<(u16, HeaderMap, Bytes), String> {
        let (mut sender, reused) = self.connection().await?;
        *delivered = true;
        // A kept connection the peer closed just as it was taken fails
        // before the request is written (hyper gives it back): that
        // request goes again on a new connection, once, as a client's
        // pool does. A request that was written is never sent twice.
        let (response, sender) = match sender.try_send_request(request).await {
            Ok(r) => (r, sender),
            Err(mut e) => match e.take_message() {
                Some(request) if reused && e.error().is_canceled() => {
                    *delivered = false;
                    let (mut fresh, _) = self.connection_new().await?;
                    *delivered = true;
                    let r = fresh
                        .send_request(request)
                        .await
                        .map_err(|e| e.to_string())?;
                    (r, fresh)
                }
                Some(_) => {
                    // Given back: it was never written.
                    *delivered = false;
                    return Err(e.into_error().to_string());
                }
                None => return Err(e.into_error().to_string()),
            },
        };
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        self.keep(sender);
        Ok((status, parts.headers, body))
    }
}

/// Sends requests until `cancel` or `duration`; returns what it sent.
/// Traces reach `sink` in batches; the last batch is delivered before it
/// returns.
pub async fn run(
    targets: Targets,
    mut settings: watch::Receiver<TrafficSettings>,
    sink: TraceSink,
    cancel: CancellationToken,
    duration: Option<Duration>,
) -> Result<RunStats, TrafficError> {
    if targets.entries.is_empty() {
        return Err(TrafficError::NoEntryPoint);
    }
    let mut targets = targets;
    // Through DNS or to a virtual IP, clients connect to the address in
    // the lab, as they would on a network; where this machine cannot
    // reach the lab's addresses, to the entry point's published port
    // instead (a virtual IP's is forwarded to the address by the lab's
    // `nat`, so it follows the address too).
    if targets.connect_in_lab().await {
        for e in &mut targets.entries {
            if let Some(lab) = e.lab {
                e.addr = lab;
            }
        }
    }
    let entries = targets.entries.into_iter().map(Entry::new).collect();
    let shared = Arc::new(Shared {
        entries,
        dns: targets.dns,
        pending: std::sync::Mutex::new(Vec::new()),
        run: format!("{:x}{:08x}", live::now(), rand::random::<u32>()),
    });
    let flusher = {
        let shared = shared.clone();
        let sink = sink.clone();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(BATCH);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                let batch = shared.take();
                if !batch.is_empty() {
                    sink(batch);
                }
            }
        });
        (stop, task)
    };
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = duration.map(|d| start + d);
    let mut first_sent: Option<Instant> = None;
    let mut last_sent = start;
    // The schedule restarts from here whenever the rate changes.
    let mut origin = (start, 0u64);
    let mut flat_workers: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut flat_stop = CancellationToken::new();
    let mut current = *settings.borrow_and_update();
    'outer: loop {
        if cancel.is_cancelled() || end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        match current.rate {
            Rate::FlatOut { concurrency } => {
                if flat_workers.is_empty() {
                    first_sent.get_or_insert_with(Instant::now);
                    flat_stop = CancellationToken::new();
                    for _ in 0..concurrency.max(1) {
                        let shared = shared.clone();
                        let counter = counter.clone();
                        let stop = flat_stop.clone();
                        let writes = current.writes_percent;
                        let read_back = current.read_back;
                        flat_workers.push(tokio::spawn(async move {
                            while !stop.is_cancelled() {
                                let n = counter.fetch_add(1, Ordering::Relaxed);
                                shared.request(n, is_write(n, writes), read_back).await;
                            }
                        }));
                    }
                }
                let wait = end.map_or(Duration::from_secs(3600), |e| {
                    e.saturating_duration_since(Instant::now())
                });
                tokio::select! {
                    () = cancel.cancelled() => break 'outer,
                    () = tokio::time::sleep(wait) => break 'outer,
                    changed = settings.changed() => {
                        if changed.is_err() { break 'outer; }
                        current = *settings.borrow_and_update();
                        flat_stop.cancel();
                        for w in flat_workers.drain(..) { let _ = w.await; }
                        origin = (Instant::now(), counter.load(Ordering::Relaxed));
                    }
                }
            }
            Rate::PerSecond(rate) if rate <= 0.0 => {
                tokio::select! {
                    () = cancel.cancelled() => break 'outer,
                    () = sleep_until_opt(end) => break 'outer,
                    changed = settings.changed() => {
                        if changed.is_err() { break 'outer; }
                        current = *settings.borrow_and_update();
                        origin = (Instant::now(), counter.load(Ordering::Relaxed));
                    }
                }
            }
            Rate::PerSecond(rate) => {
                let rate = rate.min(MAX_RATE);
                let now = Instant::now();
                // Request k of this schedule is due k / rate seconds after its origin.
                let due = origin.1 + ((now - origin.0).as_secs_f64() * rate) as u64 + 1;
                while counter.load(Ordering::Relaxed) < due {
                    if end.is_some_and(|e| Instant::now() >= e) || cancel.is_cancelled() {
                        break 'outer;
                    }
                    let permit = tokio::select! {
                        () = cancel.cancelled() => break 'outer,
                        p = in_flight.clone().acquire_owned() => match p {
                            Ok(p) => p,
                            Err(_) => break 'outer,
                        },
                    };
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let write = is_write(n, current.writes_percent);
                    let read_back = current.read_back;
                    let shared = shared.clone();
                    first_sent.get_or_insert_with(Instant::now);
                    last_sent = Instant::now();
                    tokio::spawn(async move {
                        shared.request(n, write, read_back).await;
                        drop(permit);
                    });
                }
                let sent_since = counter.load(Ordering::Relaxed) - origin.1;
                let next = origin.0 + Duration::from_secs_f64(sent_since as f64 / rate);
                tokio::select! {
                    () = cancel.cancelled() => break 'outer,
                    () = tokio::time::sleep_until(next) => {}
                    changed = settings.changed() => {
                        if changed.is_err() { break 'outer; }
                        current = *settings.borrow_and_update();
                        origin = (Instant::now(), counter.load(Ordering::Relaxed));
                    }
                }
            }
        }
    }
    // Closed loop: requests were sent until now.
    let stopped = Instant::now();
    flat_stop.cancel();
    for w in flat_workers {
        let _ = w.await;
    }
    // Wait for the requests in flight (each has its own timeout).
    let _ = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
    flusher.0.cancel();
    let _ = flusher.1.await;
    let rest = shared.take();
    if !rest.is_empty() {
        sink(rest);
    }
    let sent = counter.load(Ordering::Relaxed);
    let sending_seconds = first_sent.map_or(0.0, |f| {
        // Open loop: the window the schedule covered; closed loop: the run.
        let until = match current.rate {
            Rate::FlatOut { .. } => stopped,
            Rate::PerSecond(r) if r > 0.0 => f.max(last_sent) + Duration::from_secs_f64(1.0 / r),
            Rate::PerSecond(_) => last_sent,
        };
        (until - f).as_secs_f64()
    });
    Ok(RunStats {
        sent,
        sending_seconds,
    })
}

async fn sleep_until_opt(end: Option<Instant>) {
    match end {
        Some(e) => tokio::time::sleep_until(e).await,
        None => std::future::pending().await,
    }
}

/// Whether request `n` is a write: `percent` of requests, spread evenly
/// but without a period (a golden-ratio sequence), so that a regular
/// pattern never lines up with round robin (50% writes alternating
/// exactly would all land on the same one of two servers).
fn is_write(n: u64, percent: u8) -> bool {
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    (n as f64 * GOLDEN).fract() < f64::from(percent.min(100)) / 100.0
}

struct Shared {
    entries: Vec<Entry>,
    dns: Option<DnsRoute>,
    pending: std::sync::Mutex<Vec<RequestTrace>>,
    /// Identifies this run's writes: the time it started and a random
    /// number, so two generators never write the same value.
    run: String,
}

impl Shared {
    fn push(&self, trace: RequestTrace) {
        crate::locked(&self.pending).push(trace);
    }

    fn take(&self) -> Vec<RequestTrace> {
        std::mem::take(&mut *crate::locked(&self.pending))
    }

    /// The entry points request `n` tries, in order: the one its turn
    /// gives, then the next. Through DNS, the addresses the (cached or
    /// new) answer gives, from the one its turn gives; an error when the
    /// name cannot be resolved to an entry point.
    async fn route(&self, n: u64) -> Result<Vec<usize>, (HostName, String)> {
        let count = self.entries.len();
        let Some(dns) = &self.dns else {
            let first = (n as usize) % count;
            return Ok(if count > 1 {
                vec![first, (first + 1) % count]
            } else {
                vec![first]
            });
        };
        let at_dns = || {
            dns.resolver
                .first_server()
                .cloned()
                .unwrap_or_else(|| HostName::new("dns"))
        };
        let resolved = dns
            .resolver
            .resolve()
            .await
            .map_err(|e| (at_dns(), e.to_string()))?;
        let addresses = &resolved.answer.addresses;
        let start = (n as usize) % addresses.len();
        let order: Vec<usize> = (0..addresses.len())
            .filter_map(|i| {
                dns.by_address
                    .get(&addresses[(start + i) % addresses.len()])
            })
            .copied()
            .take(2)
            .collect();
        if order.is_empty() {
            let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            return Err((
                at_dns(),
                format!(
                    "DNS: {} resolved to {}, which no entry point of the lab has",
                    dns.resolver.name(),
                    list.join(", ")
                ),
            ));
        }
        Ok(order)
    }

    /// Sends request `n` (and, for an acknowledged write with `read_back`,
    /// its client's read of it) and keeps the traces. With two entry
    /// points, a request that could not be sent to one goes to the other.
    async fn request(&self, n: u64, write: bool, read_back: bool) {
        let at = live::now();
        let started = Instant::now();
        let order = match self.route(n).await {
            Ok(order) => order,
            Err((at_host, why)) => {
                let mut trace = RequestTrace::new(at, write, at_host);
                trace.error = Some(why);
                trace.latency_ms = started.elapsed().as_secs_f32() * 1000.0;
                self.push(trace);
                return;
            }
        };
        let mut entry = &self.entries[order[0]];
        let value = write.then(|| format!("traffic-{}-{n}", self.run));
        let request = |entry: &Entry| match &value {
            // A value of its own, so that lost writes are counted by what
            // was written (a promoted primary hands out the same ids again).
            Some(value) => {
                let body = serde_json::json!({ "value": value }).to_string();
                Request::builder()
                    .header(HOST, entry.host_header.clone())
                    .method(Method::POST)
                    .uri("/api/items")
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
            }
            None => Request::builder()
                .header(HOST, entry.host_header.clone())
                .uri("/")
                .body(Full::new(Bytes::new())),
        };
        let (mut trace, mut answer) = attempt(entry, request(entry), write, at, started).await;
        if !trace.delivered
            && let Some(next) = order.get(1)
        {
            entry = &self.entries[*next];
            (trace, answer) = attempt(entry, request(entry), write, at, started).await;
        }
        trace.written = value;
        let probe = match (&trace.written, read_back && trace.ok()) {
            (Some(value), true) => own_read(&trace, value, answer),
            _ => None,
        };
        self.push(trace);
        if let Some((id, cookie, own)) = probe {
            let read = Request::builder()
                .header(HOST, entry.host_header.clone())
                .uri(format!("/api/items?id={id}"));
            let read = match cookie {
                Some(cookie) => read.header(COOKIE, cookie),
                None => read,
            };
            let (mut trace, (body, _)) = attempt(
                entry,
                read.body(Full::new(Bytes::new())),
                false,
                live::now(),
                Instant::now(),
            )
            .await;
            if trace.ok() {
                let found = serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| {
                    v["items"]
                        .as_array()
                        .is_some_and(|items| items.iter().any(|i| i["value"] == *own.value))
                });
                trace.own = Some(OwnRead { found, ..own });
            } else {
                trace.own = Some(own);
            }
            self.push(trace);
        }
    }
}

/// For an acknowledged write, what its client reads back: the id its
/// answer gave, the cookie it set (as a `Cookie` header), and the probe.
fn own_read(
    trace: &RequestTrace,
    value: &str,
    (body, cookie): Answer,
) -> Option<(u64, Option<HeaderValue>, OwnRead)> {
    let answer: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let id = answer["id"].as_u64()?;
    Some((
        id,
        cookie,
        OwnRead {
            value: value.to_owned(),
            acknowledged: trace.done(),
            found: false,
        },
    ))
}

/// An answer's body and the cookie it set (as a `Cookie` header's value).
type Answer = (Bytes, Option<HeaderValue>);

/// Sends `request` to `entry` and traces it; returns the answer too.
async fn attempt(
    entry: &Entry,
    request: Result<Request<Full<Bytes>>, hyper::http::Error>,
    write: bool,
    at: live::Millis,
    started: Instant,
) -> (RequestTrace, Answer) {
    let mut trace = RequestTrace::new(at, write, entry.target.host.clone());
    let mut delivered = false;
    let answer = match request {
        Ok(request) => {
            tokio::time::timeout(REQUEST_TIMEOUT, entry.exchange(request, &mut delivered))
                .await
                .unwrap_or_else(|_| {
                    Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
                })
        }
        Err(e) => Err(e.to_string()),
    };
    trace.delivered = delivered;
    let mut body = Bytes::new();
    let mut cookie = None;
    match answer {
        Ok((status, headers, answer)) => {
            trace.status = Some(status);
            let host = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| HostName::new(v.split('/').next().unwrap_or(v)))
            };
            trace.lb = host("x-topolab-lb");
            // Through a virtual IP, the entry point is whichever member
            // held the address.
            if entry.target.vip.is_some()
                && let Some(lb) = &trace.lb
            {
                trace.entry = lb.clone();
            }
            trace.web = host("x-topolab-web");
            trace.app = host("x-topolab-app");
            trace.db = host("x-topolab-db");
            if let Some(timing) = headers.get("server-timing").and_then(|v| v.to_str().ok()) {
                trace.app_ms = server_timing(timing, "app");
                trace.db_ms = server_timing(timing, "db");
            }
            trace.not_done = headers
                .get(crate::appserver::WRITE_HEADER)
                .is_some_and(|v| v.as_bytes() == b"not-done");
            trace.version = headers
                .get(crate::appserver::VERSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            trace.newest = headers
                .get("x-topolab-newest")
                .and_then(|v| v.to_str().ok()?.parse().ok());
            cookie = headers
                .get(SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| HeaderValue::from_str(v.split(';').next()?).ok());
            body = answer;
        }
        Err(e) => trace.error = Some(e),
    }
    trace.latency_ms = started.elapsed().as_secs_f32() * 1000.0;
    (trace, (body, cookie))
}

/// The `dur` of metric `name` in a `Server-Timing` header, milliseconds.
pub fn server_timing(header: &str, name: &str) -> Option<f32> {
    header.split(',').find_map(|metric| {
        let mut parts = metric.trim().split(';');
        if parts.next()?.trim() != name {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("dur=")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_spread_evenly_without_lining_up_with_round_robin() {
        let count = |p, range: std::ops::Range<u64>| range.filter(|n| is_write(*n, p)).count();
        assert_eq!(count(0, 0..1000), 0);
        assert_eq!(count(100, 0..1000), 1000);
        for p in [10u8, 33, 50] {
            let n = count(p, 0..1000) as i64;
            assert!((n - i64::from(p) * 10).abs() <= 3, "{p}%: {n} of 1000");
        }
        // Even and odd requests (two servers in round robin) both get writes.
        let even = (0..1000u64).step_by(2).filter(|n| is_write(*n, 50)).count();
        assert!((200..=300).contains(&even), "{even}");
    }

    #[test]
    fn server_timing_header() {
        let h = "app;dur=3.50, db;dur=1.25;desc=\"web-02/db\"";
        assert_eq!(server_timing(h, "app"), Some(3.5));
        assert_eq!(server_timing(h, "db"), Some(1.25));
        assert_eq!(server_timing(h, "web"), None);
        assert_eq!(server_timing("garbage", "app"), None);
    }

    #[test]
    fn achieved_rate() {
        let s = RunStats {
            sent: 100,
            sending_seconds: 5.0,
        };
        assert_eq!(s.achieved_rate(), 20.0);
        assert_eq!(RunStats::default().achieved_rate(), 0.0);
    }
}
