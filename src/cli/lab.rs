//! The lab's commands on the command line: `up`, `down`, `status`,
//! `traffic`, `fault`, `heal`, `promote`, `scenario`. Parses targets at the
//! edge, takes the lab's lock for changes, and prints what the lab did; the
//! work itself is in `crate::lab`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::lab::docker::Engine;
use crate::lab::launch::{self, LabError, Progress, UpOptions};
use crate::lab::monitor;
use crate::lab::plan::Part;
use crate::lab::state::LabState;
use crate::lab::traffic::{self, TrafficSettings};
use crate::live::LiveState;
use crate::model::{Subject, Topology};
use std::sync::{Arc, Mutex};

fn printer(explain: bool) -> impl Fn(Progress) + Sync {
    move |p| match p {
        Progress::Note(note) => println!("note: {note}"),
        Progress::Started(_) => {}
        Progress::Finished { phase, at } => {
            println!("  {:<22} {:>6.2} s", phase.label(), at.as_secs_f64());
        }
        Progress::Explain(cmd) => {
            if explain {
                println!("    $ {cmd}");
            }
        }
    }
}

/// `topolab up`: launches and returns once everything is ready; Ctrl-C
/// cancels and cleans up.
pub async fn up(topology: Topology, mut options: UpOptions, explain: bool) -> anyhow::Result<()> {
    let engine = if options.engines.is_empty() {
        Engine::connect().await?
    } else {
        let lab = options.name.as_deref().unwrap_or(&topology.name);
        let (engine, placement) = span(lab, &topology, &options.engines).await?;
        options.placement = placement;
        engine
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ncancelling: removing what the launch created (Ctrl-C again to quit at once)..."
            );
            on_ctrl_c.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("quitting before the cleanup finished: `topolab down` removes what is left");
            std::process::exit(130);
        }
    });
    let lab = options
        .name
        .clone()
        .unwrap_or_else(|| topology.name.clone());
    println!(
        "launching lab {lab} ({} hosts{})",
        topology.hosts.len(),
        match options.networks {
            crate::lab::docker::NetworkDriver::Bridge => "",
            crate::lab::docker::NetworkDriver::Overlay if options.engines.len() > 1 =>
                ", on overlays of the engines' swarm",
            crate::lab::docker::NetworkDriver::Overlay => ", on overlays of this engine's swarm",
        }
    );
    if !options.engines.is_empty() {
        for line in placement_lines(&topology, &options.engines, &options.placement) {
            println!("  {line}");
        }
    }
    let report = printer(explain);
    let result = launch::up(&engine, &topology, &options, &cancel, &report).await;
    watcher.abort();
    let launched = result?;
    let total = launched
        .phases
        .last()
        .map_or(0.0, |(_, at)| at.as_secs_f64());
    println!("lab {} is ready in {total:.2} s", launched.lab);
    for e in &launched.entry_points {
        println!("  http://127.0.0.1:{}  ({})", e.http, e.host);
        if let Some(https) = e.https {
            println!(
                "  https://127.0.0.1:{https}  ({}, the lab's own certificate)",
                e.host
            );
        }
    }
    for (vip, address) in &launched.plan.vips {
        println!("  {}", vip_line(vip, *address, &launched.plan.vip_ports));
    }
    for d in &launched.plan.dns_servers {
        println!("  dns 127.0.0.1:{} UDP and TCP  ({})", d.port, d.host);
    }
    println!("stop it with: topolab down {}", launched.lab);
    Ok(())
}

/// The engines of a lab over several, checked: each answers, they are
/// nodes of one swarm, the first manages it; the design's hosts placed on
/// them. Images an engine lacks are not a problem here: the launch copies
/// them from the home engine.
async fn span(
    lab: &str,
    topology: &Topology,
    engines: &[crate::lab::engines::EngineRef],
) -> anyhow::Result<(Engine, crate::placement::Placement)> {
    use crate::lab::engines;
    let surveys = engines::survey(engines, &[]).await;
    let mut problems = engines::problems(&surveys);
    if let Some(Ok(home)) = surveys.first().map(|s| &s.found)
        && home.swarm.state == "active"
        && !home.swarm.manager
    {
        problems.push(format!(
            "{} is a worker: the first engine is the lab's home and must manage the swarm \
             (it creates the lab's networks); give a manager first",
            engines[0].name
        ));
    }
    let home = &engines[0];
    let local = ["unix://", "tcp://127.0.0.1:", "tcp://localhost:"];
    if !local.iter().any(|l| home.url.starts_with(l)) {
        problems.push(format!(
            "{} is not this machine's engine: the first engine is the lab's home, which \
             publishes the lab's ports on 127.0.0.1 here; give this machine's engine first",
            home.name
        ));
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "these engines cannot carry one lab:\n  - {}",
            problems.join("\n  - ")
        );
    }
    let specs = engines::specs(&surveys);
    let placement =
        crate::placement::place(topology, &specs, &crate::placement::publishing(topology))
            .map_err(|e| {
                anyhow::anyhow!("{} cannot be placed on these engines: {e}", topology.name)
            })?;
    let engine = engines::connect_span(lab, engines, &placement).await?;
    Ok((engine, placement))
}

/// Where each host runs, one line per engine.
fn placement_lines(
    topology: &Topology,
    engines: &[crate::lab::engines::EngineRef],
    placement: &crate::placement::Placement,
) -> Vec<String> {
    engines
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let hosts: Vec<&str> = placement
                .iter()
                .filter(|(_, on)| **on == e.name)
                .map(|(h, _)| h.as_str())
                .collect();
            let memory: u32 = hosts
                .iter()
                .filter_map(|h| topology.host(&crate::model::HostName::from(*h)))
                .map(|h| h.size.memory_mib)
                .sum();
            format!(
                "engine {}{}: {} ({memory} MiB)",
                e.name,
                if i == 0 { " (home)" } else { "" },
                if hosts.is_empty() {
                    "no host".to_owned()
                } else {
                    hosts.join(", ")
                }
            )
        })
        .collect()
}

/// A virtual IP: where it is published here, its address and its load
/// balancers.
fn vip_line(
    vip: &crate::model::Vip,
    address: std::net::Ipv4Addr,
    published: &[crate::protocol::VipEndpoint],
) -> String {
    let members: Vec<String> = vip.members.iter().map(ToString::to_string).collect();
    let here = published
        .iter()
        .find(|p| p.number == vip.number)
        .map(|p| {
            let https = p
                .https
                .map(|s| format!(" and https://127.0.0.1:{s}"))
                .unwrap_or_default();
            format!("http://127.0.0.1:{}{https}, ", p.http)
        })
        .unwrap_or_default();
    format!(
        "{} {here}http://{address}:{} in the lab  (keepalived moves it between {})",
        vip.label(),
        vip.port,
        members.join(" and ")
    )
}

/// The labs Docker knows of, by label.
async fn running_labs(engine: &Engine) -> Result<Vec<String>, LabError> {
    let mut labs: Vec<String> = engine
        .containers(crate::lab::names::LAB)
        .await?
        .into_iter()
        .filter_map(|c| c.labels.get(crate::lab::names::LAB).cloned())
        .collect();
    labs.sort();
    labs.dedup();
    Ok(labs)
}

/// `topolab down`.
pub async fn down(lab: Option<String>) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let lab = match lab {
        Some(l) => l,
        None => {
            let mut labs = running_labs(&engine).await?;
            labs.extend(LabState::list());
            labs.sort();
            labs.dedup();
            match labs.as_slice() {
                [one] => one.clone(),
                [] => anyhow::bail!("no lab is running"),
                many => anyhow::bail!("several labs exist ({}): name one", many.join(", ")),
            }
        }
    };
    let started = Instant::now();
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let removed = launch::down(&engine, &lab, &|_| {}).await?;
    if removed.containers + removed.networks + removed.volumes == 0
        && LabState::load(&lab)?.is_none()
    {
        println!("lab {lab}: nothing to remove");
    } else {
        println!(
            "lab {lab} removed in {:.2} s: {} containers, {} networks, {} volumes",
            started.elapsed().as_secs_f64(),
            removed.containers,
            removed.networks,
            removed.volumes
        );
    }
    Ok(())
}

/// `topolab status`: `Ok(false)` when the lab asked for does not exist.
pub async fn status(lab: Option<String>) -> anyhow::Result<bool> {
    if let Some(l) = lab {
        launch::check_lab_name(&l)?;
        let engine = crate::lab::engines::for_lab(&l).await?;
        if engine
            .containers(&crate::lab::names::lab_filter(&l))
            .await?
            .is_empty()
        {
            eprintln!("no lab named {l} is running");
            return Ok(false);
        }
        print_lab(&engine, &l).await?;
        return Ok(true);
    }
    let engine = Engine::connect().await?;
    let labs = running_labs(&engine).await?;
    if labs.is_empty() {
        println!("no lab is running");
        return Ok(true);
    }
    for lab in labs {
        print_lab(&crate::lab::engines::for_lab(&lab).await?, &lab).await?;
    }
    Ok(true)
}

async fn print_lab(engine: &Engine, lab: &str) -> anyhow::Result<()> {
    let containers = engine
        .containers(&crate::lab::names::lab_filter(lab))
        .await?;
    let state = LabState::load(lab)?;
    println!("lab {lab}");
    if let Some(s) = &state {
        println!(
            "  profile {}, databases run {}, networks: {}",
            s.profile.as_str(),
            s.flavor.as_str(),
            match s.network_driver {
                crate::lab::docker::NetworkDriver::Bridge => "bridges of this engine",
                crate::lab::docker::NetworkDriver::Overlay if s.engines.len() > 1 =>
                    "overlays of the engines' swarm",
                crate::lab::docker::NetworkDriver::Overlay => "overlays of this engine's swarm",
            }
        );
        let lost = engine.unreachable();
        for line in placement_lines(&s.topology, &s.engines, &s.placement) {
            println!("  {line}");
        }
        for e in s.engines.iter().filter(|e| lost.contains(&e.name)) {
            println!("  engine {} ({}) does not answer", e.name, e.url);
        }
        for e in &s.entry_points {
            println!("  entry http://127.0.0.1:{} ({})", e.http, e.host);
        }
        for (vip, address) in s.vips() {
            // Asked at the address, else (a machine that does not reach
            // the lab's network) through its published port.
            let mut asked = crate::lab::vip::holder(SocketAddr::from((address, vip.port))).await;
            if asked.is_err()
                && let Some(p) = s.vip_ports.iter().find(|p| p.number == vip.number)
            {
                asked = crate::lab::vip::holder(SocketAddr::from(([127, 0, 0, 1], p.http))).await;
            }
            let held = match asked {
                Ok(h) => format!("held by {h}"),
                Err(why) => format!("not answering here: {why}"),
            };
            println!("  {}, {held}", vip_line(&vip, address, &s.vip_ports));
        }
        if !s.dns_servers.is_empty() {
            let zone = s.topology.dns;
            println!(
                "  {} resolves through {} ({} records, TTL {} s)",
                s.topology.domain,
                s.dns_servers
                    .iter()
                    .map(|d| format!("{} at 127.0.0.1:{}", d.host, d.port))
                    .collect::<Vec<_>>()
                    .join(", "),
                if zone.health_checked {
                    "health-checked"
                } else {
                    "plain"
                },
                zone.ttl_s
            );
        }
    } else {
        println!(
            "  (no state file: launched elsewhere or left by a crash; `topolab down {lab}` removes it)"
        );
    }
    let roles = match &state {
        Some(s) => crate::lab::replication::db_roles(engine, s).await,
        None => BTreeMap::new(),
    };
    // Each host's use against its size over a fifth of a second, measured
    // after reading the roles (whose SQL clients run in the databases'
    // containers and would count as the hosts' work).
    let usage = match &state {
        Some(s) => {
            crate::lab::capacity_run::host_use(engine, s, std::time::Duration::from_millis(200))
                .await
        }
        None => BTreeMap::new(),
    };
    let sizes = state
        .as_ref()
        .map(crate::lab::capacity_run::sizes)
        .unwrap_or_default();
    let mut by_host: BTreeMap<String, Vec<(Part, String)>> = BTreeMap::new();
    for c in containers {
        let host = c
            .labels
            .get(crate::lab::names::HOST)
            .cloned()
            .unwrap_or_default();
        let part = c
            .labels
            .get(crate::lab::names::COMPONENT)
            .and_then(|p| Part::from_label(p))
            .unwrap_or(Part::Holder);
        by_host
            .entry(host)
            .or_default()
            .push((part, format!("{} ({})", c.state, c.status)));
    }
    // Hosts on an engine that does not answer are not listed by it.
    if let Some(s) = &state {
        let lost = engine.unreachable();
        for (host, on) in &s.placement {
            if lost.contains(on) && !by_host.contains_key(host.as_str()) {
                by_host.insert(
                    host.to_string(),
                    vec![(
                        Part::Holder,
                        format!("{} (engine {on})", crate::live::RunState::Unreachable),
                    )],
                );
            }
        }
    }
    for (host, mut parts) in by_host {
        parts.sort_by_key(|(p, _)| *p);
        let name = crate::model::HostName::new(host.as_str());
        for (part, state) in parts {
            let id = match part {
                Part::Holder => host.clone(),
                // topolab's own: no host of the design.
                Part::Router => "wan (router)".to_owned(),
                Part::Nat => "nat (vip ports)".to_owned(),
                Part::Reach => "reach (database ports)".to_owned(),
                Part::Monitoring => "monitoring".to_owned(),
                other => format!("{host}/{}", other.label()),
            };
            let role = match part {
                Part::Component(crate::model::ComponentKind::Db) => roles
                    .get(&name)
                    .map(|r| format!("  {r}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let size = match (part, sizes.get(&name), usage.get(&name)) {
                (Part::Holder, Some(size), Some((cores, memory))) => format!(
                    "  CPU {cores:.2} of {} CPU, memory {} of {} MiB",
                    crate::model::cpus_text(size.cpus),
                    memory / (1024 * 1024),
                    size.memory_mib
                ),
                (Part::Holder, Some(size), None) => format!("  size {size}"),
                _ => String::new(),
            };
            println!("  {id:<22} {state}{role}{size}");
        }
    }
    if let Some(s) = &state {
        for line in live_view(engine, s).await {
            println!("  {line}");
        }
    }
    Ok(())
}

/// The lab as its parts see it: each load balancer's view of its servers,
/// and each replica's replication.
async fn live_view(engine: &Engine, state: &LabState) -> Vec<String> {
    let mut lines = Vec::new();
    for (host, _) in state.topology.load_balancers() {
        let container = crate::lab::plan::container_name(
            &state.lab,
            &host.name,
            Part::Component(crate::model::ComponentKind::Lb),
        );
        match crate::lab::haproxy::servers(engine, &container).await {
            Ok(servers) => {
                for s in servers {
                    lines.push(format!(
                        "{} sees {:<12} {} ({})",
                        host.name, s.server, s.status, s.check
                    ));
                }
            }
            Err(e) => lines.push(format!(
                "{}: cannot read its backend states: {e}",
                host.name
            )),
        }
    }
    for (host, db) in state.topology.databases() {
        if !matches!(db.role, crate::model::Role::Replica { .. }) {
            continue;
        }
        match monitor::replica_status(state, &host.name).await {
            Ok(r) => lines.push(format!(
                "{}/db replication: IO {}, SQL {}, lag {}{}",
                host.name,
                r.io,
                r.sql,
                r.lag_text(),
                r.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            )),
            Err(e) => lines.push(format!("{}/db replication unreadable: {e}", host.name)),
        }
    }
    lines
}

/// The lab's state file, or an error naming what is missing.
pub(super) fn require_state(lab: &str) -> anyhow::Result<LabState> {
    launch::check_lab_name(lab)?;
    LabState::load(lab)?.ok_or_else(|| {
        anyhow::anyhow!("no lab named {lab} is known here (launch it with `topolab up`)")
    })
}

/// `topolab status LAB --watch`: the live state as a table, refreshed
/// every second until Ctrl-C.
pub async fn watch(lab: String) -> anyhow::Result<()> {
    let state = require_state(&lab)?;
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let live = Arc::new(Mutex::new(LiveState::new()));
    let sink_live = live.clone();
    let _monitor = monitor::spawn(
        engine,
        state.clone(),
        Arc::new(move |batch| {
            let mut l = crate::locked(&sink_live);
            for o in batch {
                l.apply(o);
            }
        }),
    );
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = ticker.tick() => {}
        }
        let table = {
            let mut l = crate::locked(&live);
            l.tick(crate::live::now());
            render_table(&state, &l)
        };
        if tty {
            print!("\x1b[2J\x1b[H");
        }
        println!("{table}");
    }
    Ok(())
}

/// The live state as a table: one row per component.
pub fn render_table(state: &LabState, live: &LiveState) -> String {
    use crate::model::{ComponentId, ComponentKind};
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lab {}  {}",
        state.lab,
        crate::stopwatch::clock(crate::live::now())
    );
    let _ = writeln!(
        out,
        "{:<14} {:<10} {:<12} {:>7} {:>7} {:>16}  AS THE LAB SEES IT",
        "HOST", "COMPONENT", "STATE", "REQ/S", "ERRORS", "LAG"
    );
    for host in &state.topology.hosts {
        for c in &host.components {
            let kind = c.kind();
            let id = ComponentId::new(&host.name, kind);
            let health = live.node_health(&id);
            let (rate, errors) = match kind {
                ComponentKind::Nginx => {
                    let loads: Vec<(u64, u64, u64)> = state
                        .topology
                        .load_balancers()
                        .filter_map(|(lb, _)| live.backend_load(&lb.name, &host.name))
                        .collect();
                    if loads.is_empty() {
                        ("-".to_owned(), "-".to_owned())
                    } else {
                        (
                            loads.iter().map(|l| l.0).sum::<u64>().to_string(),
                            loads.iter().map(|l| l.2).sum::<u64>().to_string(),
                        )
                    }
                }
                _ => {
                    let (r, e) = live.node_series(&id).map_or((0, 0), |s| s.recent(1));
                    if r == 0 && e == 0 {
                        ("-".to_owned(), "-".to_owned())
                    } else {
                        (r.to_string(), e.to_string())
                    }
                }
            };
            let lag = match (kind, live.replication(&host.name)) {
                (ComponentKind::Db, Some(Ok(r))) if r.replicating => r.lag_text(),
                (ComponentKind::Db, Some(Err(_))) => "?".to_owned(),
                _ => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "{:<14} {:<10} {:<12} {:>7} {:>7} {:>16}  {}",
                host.name.as_str(),
                kind.as_str(),
                health.health.label(),
                rate,
                errors,
                lag,
                health.reason
            );
        }
    }
    let recent: Vec<_> = live.timeline().rev().take(6).collect();
    if !recent.is_empty() {
        let _ = writeln!(out, "\nrecent transitions:");
        for t in recent.into_iter().rev() {
            let _ = writeln!(out, "  {}  {}", crate::stopwatch::clock(t.at), t.text);
        }
    }
    out
}

/// `topolab traffic LAB`: sends requests, then prints what happened.
pub async fn traffic(
    lab: String,
    settings: TrafficSettings,
    duration: std::time::Duration,
    history: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let state = require_state(&lab)?;
    let targets = traffic::targets(&state);
    let live = Arc::new(Mutex::new(LiveState::new()));
    let kept: Arc<Mutex<Vec<crate::live::RequestTrace>>> = Arc::default();
    let sink_live = live.clone();
    let sink_kept = history.is_some().then(|| kept.clone());
    let sink: traffic::TraceSink = Arc::new(move |batch| {
        if let Some(kept) = &sink_kept {
            crate::locked(kept).extend(batch.iter().cloned());
        }
        crate::locked(&sink_live).apply(crate::live::Observation::Requests(batch));
    });
    let (_tx, rx) = tokio::sync::watch::channel(settings);
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let stats = traffic::run(targets, rx, sink, cancel, Some(duration))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    ctrl_c.abort();
    let live = crate::locked(&live);
    print!("{}", traffic_summary(&stats, live.totals()));
    if let Some(path) = history {
        save_history(&path, &crate::locked(&kept), &[])?;
    }
    Ok(())
}

/// Writes `history` as JSON Lines to `path` (whole or not at all).
pub fn save_history(
    path: &std::path::Path,
    history: &[crate::live::RequestTrace],
    incidents: &[(crate::live::Millis, String)],
) -> anyhow::Result<()> {
    let text = crate::consistency::to_json_lines_marked(history, incidents);
    crate::fsutil::write_atomic(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the history {}: {e}", path.display()))?;
    println!(
        "history of {} requests written to {}",
        history.len(),
        path.display()
    );
    Ok(())
}

/// `topolab check-data LAB [--history FILE]`.
pub async fn check_data(
    lab: String,
    history: Option<std::path::PathBuf>,
) -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    // The history first: an unreadable one is the caller's mistake (2).
    let history = match &history {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("topolab: cannot read the history {}: {e}", path.display());
                    return Ok(ExitCode::from(2));
                }
            };
            match crate::consistency::from_json_lines(&text) {
                Ok(h) => Some(h),
                Err(e) => {
                    eprintln!("topolab: {} is not a history: {e}", path.display());
                    return Ok(ExitCode::from(2));
                }
            }
        }
        None => None,
    };
    let state = require_state(&lab)?;
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let data = crate::lab::replication::holdings(&engine, &state).await;
    for (db, e) in &data.unreadable {
        println!("- {db}/db cannot be read: {e}");
    }
    let held = &data.held;
    let bad = match &history {
        Some(history) => {
            let check = crate::consistency::check_as_of(history, held, data.at);
            print!("{}", check.markdown());
            check.lost() != Some(0)
        }
        None => {
            print!("{}", crate::consistency::compare_holdings(held));
            !held.iter().any(|h| h.primary)
        }
    };
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary `topolab traffic` prints.
pub fn traffic_summary(stats: &traffic::RunStats, totals: &crate::live::Totals) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ms = |v: Option<f32>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
    let _ = writeln!(
        out,
        "sent {} requests{} in {:.1} s ({:.1} req/s): {} ok, {} failed",
        stats.sent,
        if totals.probes > 0 {
            // Each acknowledged write's read-back is one more request.
            format!(
                " (and {} read-backs)",
                totals.sent.saturating_sub(stats.sent)
            )
        } else {
            String::new()
        },
        stats.sending_seconds,
        stats.achieved_rate(),
        totals.ok,
        totals.failed
    );
    let _ = writeln!(
        out,
        "latency p50 {}, p95 {}, max {:.1} ms",
        ms(totals.latency.quantile(0.50)),
        ms(totals.latency.quantile(0.95)),
        totals.latency.max()
    );
    if totals.probes > 0 {
        let _ = writeln!(
            out,
            "read-your-writes probes: {} answered, {} stale ({:.1}%)",
            totals.probes,
            totals.stale,
            100.0 * totals.stale as f64 / totals.probes as f64
        );
    }
    if totals.dns_failed > 0 {
        let _ = writeln!(
            out,
            "{} of the failed requests were never sent: their client could not resolve the site's name",
            totals.dns_failed
        );
    }
    if totals.by_entry.len() > 1 {
        let answered: u64 = totals.by_entry.values().sum();
        let shares: Vec<String> = totals
            .by_entry
            .iter()
            .map(|(e, n)| format!("{e} {:.1}%", 100.0 * *n as f64 / answered.max(1) as f64))
            .collect();
        let _ = writeln!(out, "entry points: {}", shares.join(", "));
    }
    let served: u64 = totals.by_web.values().sum();
    for (web, n) in &totals.by_web {
        let _ = writeln!(
            out,
            "{web} {:.1}% of requests ({n})",
            100.0 * *n as f64 / served.max(1) as f64
        );
    }
    // Releases: more than one means a deploy ran meanwhile.
    if totals.by_version.len() > 1 {
        let answered: u64 = totals.by_version.values().sum();
        let shares: Vec<String> = totals
            .by_version
            .iter()
            .map(|(v, n)| {
                format!(
                    "{v} {:.1}% ({n})",
                    100.0 * *n as f64 / answered.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(out, "answered by release: {}", shares.join(", "));
    }
    out
}

/// Takes lab `lab`'s lock and reads its state, for a change.
async fn lock_state(lab: &str) -> anyhow::Result<crate::lab::state::Locked> {
    launch::check_lab_name(lab)?;
    Ok(crate::lab::state::lock(lab).await?)
}

/// `topolab fault LAB TARGET KIND`, or `topolab fault LAB region-outage|partition REGION`.
pub async fn fault(lab: String, first: String, second: String) -> anyhow::Result<()> {
    let words = super::fault_words(&first, &second).map_err(anyhow::Error::msg)?;
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let (target, kind) = match words {
        super::FaultWords::On(target, kind) => {
            let target: Subject = target.parse().map_err(anyhow::Error::msg)?;
            (target, kind)
        }
        super::FaultWords::Region(kind, region) => {
            let mut state = lock_state(&lab).await?;
            let result = crate::lab::region::inject(&engine, &mut state, &region, kind).await;
            state.save()?;
            println!("{}", result?);
            return Ok(());
        }
    };
    let mut state = lock_state(&lab).await?;
    let result = crate::lab::fault::inject(&engine, &mut state, &target, kind).await;
    // What was done is recorded even when a later step failed.
    state.save()?;
    println!("{}", result?);
    Ok(())
}

/// `topolab heal LAB TARGET`, `topolab heal LAB region-outage|partition
/// REGION` or `topolab heal LAB --all`.
pub async fn heal(
    lab: String,
    target: Option<String>,
    region: Option<String>,
) -> anyhow::Result<()> {
    let region_kind = target
        .as_deref()
        .and_then(|t| t.parse::<crate::protocol::RegionFaultKind>().ok());
    if let Some(kind) = region_kind {
        let Some(region) = region else {
            anyhow::bail!("heal {kind} needs the region: `topolab heal {lab} {kind} REGION`");
        };
        let engine = crate::lab::engines::for_lab(&lab).await?;
        let mut state = lock_state(&lab).await?;
        let result = crate::lab::region::heal(&engine, &mut state, &region, Some(kind)).await;
        state.save()?;
        let healed = result?;
        if healed.is_empty() {
            println!("region {region}: no {kind} recorded to heal");
        }
        for h in healed {
            println!("{h}");
        }
        return Ok(());
    }
    if let (Some(t), Some(extra)) = (&target, &region) {
        anyhow::bail!(
            "heal takes one target: {t} {extra}? (`heal LAB TARGET`, or `heal LAB partition REGION`)"
        );
    }
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let subject: Option<Subject> = target
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut state = lock_state(&lab).await?;
    let result = match &subject {
        Some(t) => crate::lab::fault::heal(&engine, &mut state, t).await,
        None => crate::lab::fault::heal_all(&engine, &mut state).await,
    };
    state.save()?;
    let healed = result?;
    if healed.is_empty() {
        match target {
            Some(t) => println!("{t}: no fault recorded to heal"),
            None => println!("no fault recorded; the lab is in its launched shape"),
        }
    } else {
        for h in healed {
            println!("{h}");
        }
    }
    Ok(())
}

/// `topolab promote LAB REPLICA [--planned] [--accept-loss]`: never asks;
/// a promotion that would lose writes fails with the report unless accepted.
pub async fn promote(
    lab: String,
    replica: String,
    planned: bool,
    accept_loss: bool,
) -> anyhow::Result<()> {
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let replica: Subject = replica.parse().map_err(anyhow::Error::msg)?;
    let mut state = lock_state(&lab).await?;
    let result =
        crate::lab::promote::promote(&engine, &mut state, &replica, planned, accept_loss).await;
    // Whatever was done is recorded, also when a later step failed.
    state.save()?;
    let done = result?;
    for (at, step) in &done.steps {
        println!("{:>7.3} s  {step}", at.as_secs_f64());
    }
    Ok(())
}

/// `topolab scenario LAB FILE [--report FILE.md]`: `Ok(false)` when an
/// expectation failed.
pub async fn scenario(
    lab: String,
    file: std::path::PathBuf,
    report: Option<std::path::PathBuf>,
    history: Option<std::path::PathBuf>,
) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut scenario = crate::scenario::parse(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a valid scenario: {e}", file.display()))?;
    scenario.folder = file.parent().map(std::path::Path::to_owned);
    let state = require_state(&lab)?;
    let engine = crate::lab::engines::for_lab(&lab).await?;
    println!("scenario {}: {}", scenario.name, scenario.description);
    let outcome =
        crate::lab::scenario_run::run(engine, state, &scenario, &|line| println!("{line}"), None)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
    println!();
    print!("{}", outcome.report);
    if let Some(path) = report {
        crate::fsutil::write_atomic(&path, outcome.report.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("\nreport written to {}", path.display());
    }
    if let Some(path) = history {
        let incidents: Vec<(crate::live::Millis, String)> = outcome
            .measured
            .iter()
            .map(|m| (m.incident.at, m.incident.label.clone()))
            .collect();
        save_history(&path, &outcome.history, &incidents)?;
    }
    Ok(outcome.failed.is_empty())
}

/// `topolab engines [DESIGN] --engine NAME=URL...`: what each engine is,
/// what keeps them from carrying a lab together, and, with a design, where
/// its hosts would run. With `copy`, first copies the lab's images to the
/// engines that lack them. Exit 0 when nothing is missing.
pub async fn engines(
    topology: Option<Topology>,
    engines: Vec<crate::lab::engines::EngineRef>,
    copy: bool,
) -> anyhow::Result<std::process::ExitCode> {
    use crate::lab::engines;
    use crate::lab::images::{Profile, app_image_tag};
    let tag = app_image_tag(Profile::Local)?;
    let set = Profile::Local.images(crate::model::Flavor::Mariadb, &tag);
    let mut images: Vec<String> = crate::generate::recipe::ImageRole::ALL
        .iter()
        .map(|r| set.get(*r).to_owned())
        .collect();
    images.sort();
    images.dedup();
    let mut surveys = engines::survey(&engines, &images).await;
    if copy {
        let copied = engines::copy_images(&surveys, &|line| println!("{line}")).await?;
        if copied > 0 {
            surveys = engines::survey(&engines, &images).await;
        }
    }
    for s in &surveys {
        match &s.found {
            Ok(f) => println!(
                "engine {} ({}{}): Docker {}, swarm {}{}, {} MiB, {}",
                s.engine.name,
                s.engine.url,
                s.engine
                    .region
                    .as_deref()
                    .map(|r| format!(", region {r}"))
                    .unwrap_or_default(),
                f.version,
                if f.swarm.state != "active" {
                    f.swarm.state.clone()
                } else if f.swarm.manager {
                    "manager".to_owned()
                } else {
                    "worker".to_owned()
                },
                if f.swarm.node_id.is_empty() {
                    String::new()
                } else {
                    format!(" (node {})", f.swarm.node_id)
                },
                f.memory_mib,
                if f.missing.is_empty() {
                    "has the lab's images".to_owned()
                } else {
                    format!("lacks {}", f.missing.join(", "))
                }
            ),
            Err(why) => println!("engine {} ({}): {why}", s.engine.name, s.engine.url),
        }
    }
    let mut problems = engines::problems(&surveys);
    let mut placed_lines = Vec::new();
    if let Some(t) = &topology {
        let specs = engines::specs(&surveys);
        match crate::placement::place(t, &specs, &crate::placement::publishing(t)) {
            Ok(placed) => placed_lines = crate::placement::describe(t, &specs, &placed),
            Err(e) => problems.push(format!("{} cannot be placed: {e}", t.name)),
        }
    }
    if !problems.is_empty() {
        println!("missing:");
        for p in &problems {
            println!("  - {p}");
        }
    }
    if let Some(t) = &topology
        && !placed_lines.is_empty()
    {
        println!("placement of {}:", t.name);
        for line in placed_lines {
            println!("  {line}");
        }
    }
    Ok(if problems.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
