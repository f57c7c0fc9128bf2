//! Faults on a running lab, and healing them. A target is a host (all its
//! components and its holder) or one component; each kind checks that it
//! fits its target before anything is touched, so a wrong request changes
//! nothing. Injected faults are recorded in the lab's state — before they
//! are applied, under the lab's lock — so that any later `heal` (another
//! process, the GUI) knows what to undo, even after a crash half-way.
//!
//! A fault that silently does nothing teaches the wrong lesson, so every
//! fault is checked after it is applied — the container's state, the
//! host's networks, the qdisc on each interface, the replica's threads,
//! the database's `read_only`, each load balancer's view — and reported as
//! verified (with what was seen) or as having no effect (and why).
//!
//! A host goes down holder last and comes back holder first: the holder
//! owns the namespace its components join.

use std::fmt;

use super::docker::{ContainerState, Engine};
use super::error::LabError;
use super::haproxy;
use super::plan::{self, Part};
use super::replication;
use super::state::{LabState, Locked};
use crate::generate::recipe;
use crate::model::{ComponentKind, Host, HostName, Role, Subject, Topology};
pub use crate::protocol::faults::{
    ActiveFault, FaultKind, Misfit, Verification, applicable, check, locate, resolve,
};

/// What injecting a fault did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    /// The target and the fault, in words.
    pub said: String,
    /// Whether it took effect.
    pub check: Verification,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} — {}", self.said, self.check)
    }
}

/// Why a fault was not applied, or not all of it.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// It does not fit (nothing was touched).
    #[error(transparent)]
    Misfit(#[from] Misfit),
    /// This machine cannot do it.
    #[error("{kind} is unavailable here: {why}")]
    Unavailable {
        /// The kind.
        kind: FaultKind,
        /// Why.
        why: String,
    },
    /// A command in the lab failed.
    #[error("{0}")]
    Failed(String),
    /// A statement failed.
    #[error(transparent)]
    Sql(#[from] replication::SqlError),
    /// A load balancer did not do what it was asked.
    #[error(transparent)]
    Haproxy(#[from] super::haproxy::HaproxyError),
    /// The lab failed to do it.
    #[error(transparent)]
    Lab(#[from] LabError),
}

impl From<super::state::StateError> for FaultError {
    fn from(e: super::state::StateError) -> Self {
        Self::Lab(e.into())
    }
}

impl From<super::docker::DockerError> for FaultError {
    fn from(e: super::docker::DockerError) -> Self {
        Self::Lab(e.into())
    }
}

/// The containers of `subject`: components in the host's order, then its
/// sidecars and the holder (for a host).
fn containers(topology: &Topology, lab: &str, host: &Host, subject: &Subject) -> Vec<String> {
    match subject {
        Subject::Component(id) => vec![plan::container_name(
            lab,
            &id.host,
            Part::Component(id.kind),
        )],
        Subject::Host(h) => {
            let mut out: Vec<String> = host
                .components
                .iter()
                .map(|c| plan::container_name(lab, h, Part::Component(c.kind())))
                .chain(
                    recipe::sidecars(topology, host)
                        .into_iter()
                        .map(|p| plan::container_name(lab, h, p)),
                )
                .collect();
            out.push(plan::holder_name(lab, h));
            out
        }
    }
}

/// The host's networks and its addresses on them, as launched.
fn host_networks(state: &LabState, host: &HostName) -> Vec<(String, String)> {
    let addresses = state.addresses();
    addresses
        .host_addresses(host)
        .into_iter()
        .map(|(net, ip)| (super::names::network(&state.lab, &net), ip.to_string()))
        .collect()
}

/// Runs `statement` as root in `host`'s database container.
async fn sql(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, FaultError> {
    Ok(replication::query(engine, state, host, statement).await?)
}

/// Like [`sql`], waiting up to 20 s for a server that is still starting.
async fn sql_when_up(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, FaultError> {
    replication::query_when_up(
        engine,
        state,
        host,
        statement,
        std::time::Duration::from_secs(20),
    )
    .await
    .map_err(FaultError::from)
}

/// The network interfaces of a host (from its holder), loopback aside.
async fn interfaces(engine: &Engine, holder: &str) -> Result<Vec<String>, FaultError> {
    let (_, out) = engine.exec(holder, &["ls", "/sys/class/net"]).await?;
    Ok(out
        .split_whitespace()
        .filter(|i| *i != "lo")
        .map(str::to_owned)
        .collect())
}

/// Applies a traffic-shaping rule to every interface of the host.
async fn shape(engine: &Engine, holder: &str, kind: FaultKind) -> Result<(), FaultError> {
    let rule: &[&str] = match kind {
        FaultKind::Slow => &[
            "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms",
        ],
        FaultKind::Lossy => &["netem", "loss", "10%"],
        _ => &["netem", "delay", "200ms"],
    };
    for dev in interfaces(engine, holder).await? {
        let mut cmd = vec!["tc", "qdisc", "replace", "dev", dev.as_str(), "root"];
        cmd.extend_from_slice(rule);
        let (code, out) = engine.exec(holder, &cmd).await?;
        if code != 0 {
            if rule[0] == "netem"
                && (out.contains("Unknown qdisc")
                    || out.contains("unknown")
                    || out.contains("No such file"))
            {
                return Err(FaultError::Unavailable {
                    kind,
                    why: "this machine's kernel has no netem (sch_netem); `slow` (tbf) works"
                        .to_owned(),
                });
            }
            return Err(FaultError::Failed(format!(
                "`{}` failed: {}",
                cmd.join(" "),
                out.trim()
            )));
        }
    }
    Ok(())
}

/// Removes every traffic-shaping rule of the host.
async fn unshape(engine: &Engine, holder: &str) -> Result<(), FaultError> {
    for dev in interfaces(engine, holder).await? {
        // "No such file" when there is no rule: nothing to undo.
        let _ = engine
            .exec(holder, &["tc", "qdisc", "del", "dev", &dev, "root"])
            .await?;
    }
    Ok(())
}

/// Injects `kind` on `target` in lab `state.lab`, then checks that it took
/// effect. A lasting fault is recorded (and saved) before anything is
/// touched; when applying it fails half-way the record stays, so a heal
/// undoes whatever was done.
pub async fn inject(
    engine: &Engine,
    state: &mut Locked,
    subject: &Subject,
    kind: FaultKind,
) -> Result<Injected, FaultError> {
    check(&state.topology, subject, kind)?;
    let host = state
        .topology
        .host(subject.host())
        .cloned()
        .ok_or_else(|| Misfit::Target(format!("no host {}", subject.host())))?;
    let lab = state.lab.clone();
    let names = containers(&state.topology, &lab, &host, subject);
    let holder = plan::holder_name(&lab, &host.name);
    // Every kind but a restart acts on running containers: say so before
    // touching anything.
    let needed: Vec<String> = match kind {
        FaultKind::Restart => Vec::new(),
        FaultKind::Kill | FaultKind::Stop | FaultKind::Pause => names.clone(),
        FaultKind::Disconnect | FaultKind::Slow | FaultKind::Lossy | FaultKind::Latency => {
            vec![holder.clone()]
        }
        FaultKind::StopReplication | FaultKind::ReadOnly => vec![plan::container_name(
            &lab,
            &host.name,
            Part::Component(ComponentKind::Db),
        )],
        FaultKind::Drain | FaultKind::Maintenance => state
            .topology
            .load_balancers()
            .filter(|(_, lb)| lb.backends.iter().any(|b| b.host == host.name))
            .map(|(h, _)| plan::container_name(&lab, &h.name, Part::Component(ComponentKind::Lb)))
            .collect(),
    };
    for n in &needed {
        let (run, _) = engine.state(n).await?;
        if !run.is_running() {
            return Err(Misfit::Unfit {
                kind,
                target: subject.clone(),
                why: format!(
                    "container {n} is {run}: heal it first (`topolab heal {lab} {}`)",
                    subject.host()
                ),
            }
            .into());
        }
    }
    // What a fault that changes a setting would change: when it is so
    // already, the fault can have no effect.
    let already = match kind {
        FaultKind::ReadOnly => sql(engine, state, &host.name, "SELECT @@read_only")
            .await
            .ok()
            .filter(|v| v.trim() == "1")
            .map(|_| format!("{}/db was read-only already", host.name)),
        FaultKind::StopReplication => io_thread(engine, state, &host.name)
            .await
            .filter(|io| io == "No")
            .map(|_| format!("{}/db's IO thread was stopped already", host.name)),
        _ => None,
    };
    if kind.lasting() {
        state.faults.push(ActiveFault {
            target: subject.clone(),
            kind,
            at: crate::live::now(),
            check: Verification::Applied,
        });
        state.save()?;
    }
    if let Err(e) = apply(engine, state, subject, &host, kind, &names, &holder).await {
        return Err(if kind.lasting() {
            FaultError::Failed(format!(
                "{e} (recorded: `topolab heal {lab} {subject}` undoes what was applied)"
            ))
        } else {
            e
        });
    }
    let check = match already {
        Some(why) => Verification::NoEffect(why),
        None => verify(engine, state, &host, kind, &names, &holder).await,
    };
    if kind.lasting()
        && let Some(f) = state
            .faults
            .iter_mut()
            .rev()
            .find(|f| f.target == *subject && f.kind == kind)
    {
        f.check = check.clone();
    }
    Ok(Injected {
        said: format!("{subject}: {} ({kind})", kind.describe()),
        check,
    })
}

/// Does what `kind` says to the target's containers.
async fn apply(
    engine: &Engine,
    state: &LabState,
    subject: &Subject,
    host: &Host,
    kind: FaultKind,
    names: &[String],
    holder: &str,
) -> Result<(), FaultError> {
    match kind {
        FaultKind::Kill => {
            for n in names {
                engine.kill(n, "SIGKILL").await?;
            }
        }
        FaultKind::Stop => {
            for n in names {
                engine.stop(n, 2).await?;
            }
        }
        FaultKind::Pause => {
            for n in names {
                engine.pause(n).await?;
            }
        }
        FaultKind::Restart => match subject {
            // The holder first: its components join its namespace.
            Subject::Host(_) => {
                engine.restart(holder, 2).await?;
                for n in names.iter().filter(|n| n.as_str() != holder) {
                    engine.restart(n, 2).await?;
                }
            }
            Subject::Component(_) => {
                for n in names {
                    engine.restart(n, 2).await?;
                }
            }
        },
        FaultKind::Disconnect => {
            for (net, _) in host_networks(state, &host.name) {
                engine.disconnect_network(holder, &net).await?;
            }
        }
        FaultKind::Slow | FaultKind::Lossy | FaultKind::Latency => {
            shape(engine, holder, kind).await?;
        }
        FaultKind::StopReplication => {
            let stop = replication::words(state.flavor).stop_io;
            sql(engine, state, &host.name, stop).await?;
        }
        FaultKind::ReadOnly => {
            let read_only = replication::words(state.flavor).read_only;
            sql(engine, state, &host.name, read_only).await?;
        }
        FaultKind::Drain | FaultKind::Maintenance => {
            let word = if kind == FaultKind::Drain {
                "drain"
            } else {
                "maint"
            };
            haproxy::set_server_state(engine, state, &host.name, word).await?;
        }
    }
    Ok(())
}

/// A replica's IO thread state (`Yes`, `No`, `Connecting`), if readable.
async fn io_thread(engine: &Engine, state: &LabState, host: &HostName) -> Option<String> {
    let status =
        replication::query_vertical(engine, state, host, replication::words(state.flavor).status)
            .await
            .ok()?;
    replication::field(&status, &["Slave_IO_Running", "Replica_IO_Running"])
}

/// Looks at the lab to see whether `kind` took effect.
async fn verify(
    engine: &Engine,
    state: &LabState,
    host: &Host,
    kind: FaultKind,
    names: &[String],
    holder: &str,
) -> Verification {
    let mut seen = Vec::new();
    let mut missed = Vec::new();
    match kind {
        FaultKind::Kill | FaultKind::Stop | FaultKind::Pause | FaultKind::Restart => {
            let wanted = |s: &ContainerState| match kind {
                FaultKind::Pause => *s == ContainerState::Paused,
                FaultKind::Restart => s.is_running(),
                _ => s.is_stopped(),
            };
            for n in names {
                match engine.state(n).await {
                    Ok((run, code)) if wanted(&run) => {
                        seen.push(if run == ContainerState::Exited {
                            format!("{n} exited ({code})")
                        } else {
                            format!("{n} {run}")
                        })
                    }
                    Ok((run, _)) => missed.push(format!("{n} is {run}")),
                    Err(e) => missed.push(format!("{n}: {e}")),
                }
            }
        }
        FaultKind::Disconnect => match engine.container_networks(holder).await {
            Ok(on) => {
                for (net, _) in host_networks(state, &host.name) {
                    if on.contains(&net) {
                        missed.push(format!("{} is still on {net}", host.name));
                    } else {
                        seen.push(format!("{} is off {net}", host.name));
                    }
                }
            }
            Err(e) => missed.push(e.to_string()),
        },
        FaultKind::Slow | FaultKind::Lossy | FaultKind::Latency => {
            let qdisc = if kind == FaultKind::Slow {
                "tbf"
            } else {
                "netem"
            };
            match interfaces(engine, holder).await {
                Ok(devs) => {
                    for dev in devs {
                        let shown = engine
                            .exec(holder, &["tc", "-s", "qdisc", "show", "dev", &dev])
                            .await
                            .map(|(_, out)| out)
                            .unwrap_or_default();
                        let rule = shown
                            .lines()
                            .find(|l| l.starts_with(&format!("qdisc {qdisc}")))
                            .map(str::trim);
                        match rule {
                            Some(rule) => seen.push(format!("{dev}: {rule}")),
                            None => missed.push(format!("{dev} has no {qdisc} rule")),
                        }
                    }
                }
                Err(e) => missed.push(e.to_string()),
            }
        }
        FaultKind::StopReplication => match io_thread(engine, state, &host.name).await {
            Some(io) if io == "No" => seen.push(format!("{}/db's IO thread stopped", host.name)),
            Some(io) => missed.push(format!("{}/db's IO thread is {io}", host.name)),
            None => missed.push(format!("{}/db's replication is unreadable", host.name)),
        },
        FaultKind::ReadOnly => match sql(engine, state, &host.name, "SELECT @@read_only").await {
            Ok(v) if v.trim() == "1" => seen.push(format!("{}/db has read_only = 1", host.name)),
            Ok(v) => missed.push(format!("{}/db has read_only = {}", host.name, v.trim())),
            Err(e) => missed.push(e.to_string()),
        },
        FaultKind::Drain | FaultKind::Maintenance => {
            let want = if kind == FaultKind::Drain {
                crate::live::BackendStatus::Drain
            } else {
                crate::live::BackendStatus::Maintenance
            };
            for (lb, balancer) in state.topology.load_balancers() {
                if !balancer.backends.iter().any(|b| b.host == host.name) {
                    continue;
                }
                let name =
                    plan::container_name(&state.lab, &lb.name, Part::Component(ComponentKind::Lb));
                match haproxy::servers(engine, &name).await {
                    Ok(servers) => match servers.iter().find(|s| s.server == host.name.as_str()) {
                        Some(s) if s.status == want => {
                            seen.push(format!("{} sees {} {}", lb.name, host.name, s.status));
                        }
                        Some(s) => {
                            missed.push(format!("{} sees {} {}", lb.name, host.name, s.status));
                        }
                        None => missed.push(format!("{} has no server {}", lb.name, host.name)),
                    },
                    Err(e) => missed.push(format!("{}: {e}", lb.name)),
                }
            }
        }
    }
    if missed.is_empty() && !seen.is_empty() {
        Verification::Verified(seen.join("; "))
    } else if missed.is_empty() {
        Verification::Applied
    } else {
        Verification::NoEffect(missed.join("; "))
    }
}

/// Undoes one recorded fault; returns what else it did (a former primary
/// brought back as a replica).
async fn undo(
    engine: &Engine,
    state: &LabState,
    fault: &ActiveFault,
) -> Result<Option<String>, FaultError> {
    undo_fault(engine, state, fault).await?;
    let subject = &fault.target;
    let db_involved = match subject {
        Subject::Host(h) => state
            .topology
            .host(h)
            .is_some_and(|h| h.has(ComponentKind::Db)),
        Subject::Component(id) => id.kind == ComponentKind::Db,
    };
    let restarted = matches!(
        fault.kind,
        FaultKind::Kill | FaultKind::Stop | FaultKind::Restart | FaultKind::Pause
    );
    if db_involved && restarted {
        let said = super::promote::rejoin(engine, state, subject.host())
            .await
            .map_err(|e| FaultError::Failed(e.to_string()))?;
        return Ok((!said.is_empty()).then_some(said));
    }
    Ok(None)
}

async fn undo_fault(
    engine: &Engine,
    state: &LabState,
    fault: &ActiveFault,
) -> Result<(), FaultError> {
    let subject = &fault.target;
    let Some(host) = state.topology.host(subject.host()).cloned() else {
        return Ok(());
    };
    let lab = &state.lab;
    let holder = plan::holder_name(lab, &host.name);
    let mut names = containers(&state.topology, lab, &host, subject);
    // Coming back: the holder first, then its components.
    names.sort_by_key(|n| *n != holder);
    match fault.kind {
        FaultKind::Kill | FaultKind::Stop | FaultKind::Restart => {
            for n in &names {
                start_if_stopped(engine, n).await?;
            }
        }
        // Unpaused, or started again when it was stopped meanwhile (a
        // promotion kills a paused old primary to fence it).
        FaultKind::Pause => {
            for n in &names {
                start_if_stopped(engine, n).await?;
            }
        }
        FaultKind::Disconnect => {
            let on = engine.container_networks(&holder).await?;
            for (net, ip) in host_networks(state, &host.name) {
                if !on.contains(&net) {
                    engine.connect_network(&holder, &net, &ip).await?;
                }
            }
            super::region::restore_routes(engine, state, &host.name).await?;
        }
        FaultKind::Slow | FaultKind::Lossy | FaultKind::Latency => unshape(engine, &holder).await?,
        FaultKind::StopReplication => {
            let start = replication::words(state.flavor).start;
            sql(engine, state, &host.name, start).await?;
        }
        FaultKind::ReadOnly => {
            // Only the primary becomes writable again.
            let primary = host.database().is_some_and(|d| d.role == Role::Primary);
            if primary {
                let writable = replication::words(state.flavor).writable;
                sql(engine, state, &host.name, writable).await?;
            }
        }
        FaultKind::Drain | FaultKind::Maintenance => {
            haproxy::set_server_state(engine, state, &host.name, "ready").await?;
        }
    }
    Ok(())
}

async fn start_if_stopped(engine: &Engine, name: &str) -> Result<(), FaultError> {
    match engine.state(name).await?.0 {
        ContainerState::Running => {}
        ContainerState::Paused => engine.unpause(name).await?,
        _ => engine.start(name).await?,
    }
    Ok(())
}

/// Heals the faults on `target` (a host heals its components' faults
/// too) and removes them from the state (the caller saves). Returns what
/// was healed.
pub async fn heal(
    engine: &Engine,
    state: &mut LabState,
    subject: &Subject,
) -> Result<Vec<String>, FaultError> {
    locate(&state.topology, subject)?;
    let matches = |f: &ActiveFault| match subject {
        Subject::Host(h) => f.target.host() == h,
        Subject::Component(_) => f.target == *subject,
    };
    let (these, others): (Vec<ActiveFault>, Vec<ActiveFault>) =
        state.faults.drain(..).partition(|f| matches(f));
    state.faults = others;
    undo_all(engine, state, these).await
}

/// Undoes `faults` (taken out of `state`), newest first: a later fault may
/// sit on an earlier one. On a failure the faults not yet undone go back
/// into `state`.
async fn undo_all(
    engine: &Engine,
    state: &mut LabState,
    mut faults: Vec<ActiveFault>,
) -> Result<Vec<String>, FaultError> {
    let mut healed = Vec::new();
    while let Some(f) = faults.last() {
        match undo(engine, state, f).await {
            Ok(said) => {
                healed.push(format!("healed {} ({})", f.target, f.kind));
                healed.extend(said);
                faults.pop();
            }
            Err(e) => {
                state.faults.extend(faults);
                return Err(e);
            }
        }
    }
    Ok(healed)
}

/// Heals every recorded fault, then puts the lab back in the shape its
/// state records (as launched, or as last applied) with its current roles,
/// whatever else was done to it (a `docker stop` from outside, say): every
/// container running (holders first), every network joined with its
/// address, no traffic-shaping rule, every backend ready in every load
/// balancer, replicas replicating and read-only, the primary writable.
pub async fn heal_all(engine: &Engine, state: &mut LabState) -> Result<Vec<String>, FaultError> {
    let faults = std::mem::take(&mut state.faults);
    let mut healed = undo_all(engine, state, faults).await?;
    let topology = state.topology.clone();
    for host in &topology.hosts {
        let holder = plan::holder_name(&state.lab, &host.name);
        start_if_stopped(engine, &holder).await?;
        let parts = host
            .components
            .iter()
            .map(|c| Part::Component(c.kind()))
            .chain(recipe::sidecars(&topology, host));
        for part in parts {
            start_if_stopped(engine, &plan::container_name(&state.lab, &host.name, part)).await?;
        }
        let on = engine.container_networks(&holder).await?;
        let mut rejoined = false;
        for (net, ip) in host_networks(state, &host.name) {
            if !on.contains(&net) {
                engine.connect_network(&holder, &net, &ip).await?;
                healed.push(format!("{} rejoined {net}", host.name));
                rejoined = true;
            }
        }
        if rejoined {
            super::region::restore_routes(engine, state, &host.name).await?;
        }
        unshape(engine, &holder).await?;
    }
    healed.extend(super::region::heal_all(engine, state).await?);
    // The lab's own containers beside the hosts.
    if !state.vip_ports.is_empty() {
        let nat = plan::container_name(&state.lab, &HostName::new(plan::NAT), Part::Nat);
        start_if_stopped(engine, &nat).await?;
    }
    for (_, lb) in topology.load_balancers() {
        for b in &lb.backends {
            // A load balancer just started may not have its socket yet.
            let start = std::time::Instant::now();
            while let Err(e) = haproxy::set_server_state(engine, state, &b.host, "ready").await {
                if start.elapsed() > std::time::Duration::from_secs(10) {
                    return Err(e.into());
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    let w = replication::words(state.flavor);
    for (host, db) in topology.databases() {
        match &db.role {
            Role::Primary => {
                sql_when_up(engine, state, &host.name, w.writable).await?;
            }
            Role::Replica { .. } => {
                // A server kept out of service (errant transactions) has no
                // replication configured: it stays read-only and out.
                let configured = !sql_when_up(engine, state, &host.name, w.status)
                    .await?
                    .is_empty();
                sql_when_up(engine, state, &host.name, "SET GLOBAL read_only = ON").await?;
                if configured {
                    sql_when_up(engine, state, &host.name, w.start).await?;
                }
            }
        }
    }
    Ok(healed)
}
