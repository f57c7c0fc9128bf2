//! Faults on a whole region of a design of regions. An outage kills every
//! host of the region at once; a partition has the router (the "WAN")
//! drop, silently, whatever crosses between the region and the others,
//! while the region's hosts run on and clients still reach its entry
//! points. The router drops with policy routing (`ip rule ... blackhole`),
//! so a connection across the cut times out as over a real broken link
//! instead of being refused.

use super::docker::{DockerError, Engine};
use super::fault::{FaultError, Injected};
use super::names;
use super::plan::{self, ROUTER};
use super::state::{LabState, Locked};
use crate::generate::recipe::Part;
use crate::model::{HostName, LabNetwork, Subject, lab_region};
use crate::protocol::{ActiveFault, FaultKind, RegionFaultKind, Verification, faults};

/// The priority of the router's blackhole rules (before the main table).
const RULE_PRIORITY: &str = "100";

/// The router's container in `lab`.
fn router(lab: &str) -> String {
    names::container(lab, &HostName::new(ROUTER), Part::Router)
}

/// The hosts of `region`, in file order.
fn hosts_of(state: &LabState, region: &str) -> Vec<HostName> {
    let t = &state.topology;
    t.hosts
        .iter()
        .filter(|h| lab_region(t, h).as_deref() == Some(region))
        .map(|h| h.name.clone())
        .collect()
}

/// The subnets of `region`'s networks.
fn subnets_of(state: &LabState, region: &str) -> Vec<String> {
    let plan = state.addresses();
    plan.networks()
        .iter()
        .filter(|n: &&LabNetwork| n.region.as_deref() == Some(region))
        .filter_map(|n| plan.cidr(n))
        .collect()
}

/// The router's rules cutting `cidr` off: what comes from it and what
/// goes to it.
fn rules(cidr: &str) -> [[String; 2]; 2] {
    [
        ["from".to_owned(), cidr.to_owned()],
        ["to".to_owned(), cidr.to_owned()],
    ]
}

/// Runs `ip rule VERB DIRECTION CIDR blackhole priority 100` in the router.
async fn rule(
    engine: &Engine,
    lab: &str,
    verb: &str,
    rule: &[String; 2],
) -> Result<(), FaultError> {
    let router = router(lab);
    let (code, out) = engine
        .exec(
            &router,
            &[
                "ip",
                "rule",
                verb,
                &rule[0],
                &rule[1],
                "blackhole",
                "priority",
                RULE_PRIORITY,
            ],
        )
        .await?;
    if code != 0 {
        return Err(FaultError::Failed(format!(
            "ip rule {verb} {} {} in {router} failed: {}",
            rule[0],
            rule[1],
            out.trim()
        )));
    }
    Ok(())
}

/// The router's blackhole rules, as `ip rule show` prints them.
async fn shown_rules(engine: &Engine, lab: &str) -> Result<String, FaultError> {
    let (_, out) = engine.exec(&router(lab), &["ip", "rule", "show"]).await?;
    Ok(out)
}

/// Injects `kind` on `region`. An outage is recorded as a `kill` of each of
/// the region's hosts (healed with them); a partition is recorded by
/// region. Both are recorded (and saved) before anything is touched.
pub async fn inject(
    engine: &Engine,
    state: &mut Locked,
    region: &str,
    kind: RegionFaultKind,
) -> Result<Injected, FaultError> {
    faults::locate_region(&state.topology, region)?;
    match kind {
        RegionFaultKind::RegionOutage => outage(engine, state, region).await,
        RegionFaultKind::Partition => partition(engine, state, region).await,
    }
}

/// Every host of `region` killed at once.
async fn outage(engine: &Engine, state: &mut Locked, region: &str) -> Result<Injected, FaultError> {
    let hosts = hosts_of(state, region);
    let lab = state.lab.clone();
    // The programs (components and sidecars, in their holder's network
    // namespace), then the holders, which own the network endpoints.
    let (mut programs, mut holders) = (Vec::new(), Vec::new());
    for h in &hosts {
        let Some(host) = state.topology.host(h) else {
            continue;
        };
        for c in &host.components {
            programs.push(plan::container_name(&lab, h, Part::Component(c.kind())));
        }
        for p in crate::generate::recipe::sidecars(&state.topology, host) {
            programs.push(plan::container_name(&lab, h, p));
        }
        holders.push(plan::holder_name(&lab, h));
    }
    let containers: Vec<&String> = programs.iter().chain(&holders).collect();
    // Every one running, or nothing is touched.
    for c in &containers {
        let (run, _) = engine.state(c).await?;
        if !run.is_running() {
            return Err(FaultError::Failed(format!(
                "container {c} is {run}: heal the region first (`topolab heal {lab} \
                 region-outage {region}`)"
            )));
        }
    }
    let at = crate::live::now();
    for h in &hosts {
        state.faults.push(ActiveFault {
            target: Subject::Host(h.clone()),
            kind: FaultKind::Kill,
            at,
            check: Verification::Applied,
        });
    }
    state.save()?;
    // The programs at once: one request per container, all in flight
    // together. Then the holders, whose network endpoints go with them, one
    // after the other: Docker 20.10's libnetwork can deadlock when two
    // containers leave one network at the same moment (moby/moby#42545;
    // see `launch::down`). A SIGKILL through the API waits until the
    // container has stopped, and the engine releases a container's
    // networks while it holds the container's lock, which the inspect
    // after the kill waits for; so the next holder leaves its networks
    // alone. Measured on five hosts (debug build): every program dead
    // within 0.3 s, the last holder at 1.1 s.
    let mut results: Vec<(&String, Result<(), DockerError>)> = programs
        .iter()
        .zip(
            futures_util::future::join_all(programs.iter().map(|c| engine.kill(c, "SIGKILL")))
                .await,
        )
        .collect();
    for c in &holders {
        let r = engine.kill(c, "SIGKILL").await;
        let _ = engine.state(c).await;
        results.push((c, r));
    }
    let mut failed = Vec::new();
    for (c, r) in results {
        if let Err(e) = r {
            failed.push(format!("{c}: {e}"));
        }
    }
    if !failed.is_empty() {
        return Err(FaultError::Failed(format!(
            "{} (recorded: `topolab heal {lab} region-outage {region}` starts them again)",
            failed.join("; ")
        )));
    }
    let mut running = Vec::new();
    for c in &containers {
        let (run, _) = engine.state(c).await?;
        if run.is_running() {
            running.push((*c).clone());
        }
    }
    let check = if running.is_empty() {
        Verification::Verified(format!(
            "{} containers of {} hosts exited",
            containers.len(),
            hosts.len()
        ))
    } else {
        Verification::NoEffect(format!("still running: {}", running.join(", ")))
    };
    for f in state.faults.iter_mut().filter(|f| f.at == at) {
        f.check = check.clone();
    }
    let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    Ok(Injected {
        said: format!(
            "region {region}: {} ({})",
            RegionFaultKind::RegionOutage.describe(),
            names.join(", ")
        ),
        check,
    })
}

/// `region` cut off the others by the router.
async fn partition(
    engine: &Engine,
    state: &mut Locked,
    region: &str,
) -> Result<Injected, FaultError> {
    let lab = state.lab.clone();
    if state.partitions.iter().any(|p| p == region) {
        return Ok(Injected {
            said: format!("region {region}: partitioned already"),
            check: Verification::NoEffect(format!("region {region} was cut off already")),
        });
    }
    let (run, _) = engine.state(&router(&lab)).await?;
    if !run.is_running() {
        return Err(FaultError::Failed(format!(
            "the router {} is {run}: `topolab heal {lab} --all` starts it",
            router(&lab)
        )));
    }
    state.partitions.push(region.to_owned());
    state.save()?;
    let subnets = subnets_of(state, region);
    for cidr in &subnets {
        for r in &rules(cidr) {
            rule(engine, &lab, "add", r).await?;
        }
    }
    let shown = shown_rules(engine, &lab).await?;
    let missing: Vec<&String> = subnets
        .iter()
        .filter(|c| {
            !shown.contains(&format!("from {c} blackhole"))
                || !shown.contains(&format!("to {c} blackhole"))
        })
        .collect();
    let check = if missing.is_empty() {
        Verification::Verified(format!(
            "the router drops what comes from or goes to {}",
            subnets.join(" and ")
        ))
    } else {
        Verification::NoEffect(format!(
            "the router has no blackhole rule for {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    Ok(Injected {
        said: format!("region {region}: {}", RegionFaultKind::Partition.describe()),
        check,
    })
}

/// Heals `kind` on `region` (both kinds when `None`) and removes it from
/// the state (the caller saves). Returns what was healed.
pub async fn heal(
    engine: &Engine,
    state: &mut LabState,
    region: &str,
    kind: Option<RegionFaultKind>,
) -> Result<Vec<String>, FaultError> {
    faults::locate_region(&state.topology, region)?;
    let mut healed = Vec::new();
    if kind != Some(RegionFaultKind::Partition) {
        for h in hosts_of(state, region) {
            let killed = state
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::Kill && f.target.host() == &h);
            if killed {
                healed.extend(super::fault::heal(engine, state, &Subject::Host(h)).await?);
            }
        }
    }
    if kind != Some(RegionFaultKind::RegionOutage) && state.partitions.iter().any(|p| p == region) {
        unpartition(engine, state, region).await?;
        state.partitions.retain(|p| p != region);
        healed.push(format!("healed region {region} (partition)"));
    }
    Ok(healed)
}

/// Removes the router's rules cutting `region` off.
async fn unpartition(engine: &Engine, state: &LabState, region: &str) -> Result<(), FaultError> {
    let shown = shown_rules(engine, &state.lab).await?;
    for cidr in subnets_of(state, region) {
        for r in &rules(&cidr) {
            // Each rule once, and only if it is there (a router started
            // again has none).
            if shown.contains(&format!("{} {} blackhole", r[0], r[1])) {
                rule(engine, &state.lab, "del", r).await?;
            }
        }
    }
    Ok(())
}

/// Heals every partition (for `heal --all`), and starts the router if it
/// was stopped.
pub async fn heal_all(engine: &Engine, state: &mut LabState) -> Result<Vec<String>, FaultError> {
    if !state.addresses().spans_regions() {
        return Ok(Vec::new());
    }
    let router = router(&state.lab);
    let (run, _) = engine.state(&router).await?;
    if !run.is_running() {
        engine.start(&router).await?;
    }
    let mut healed = Vec::new();
    for region in state.partitions.clone() {
        unpartition(engine, state, &region).await?;
        state.partitions.retain(|p| *p != region);
        healed.push(format!("healed region {region} (partition)"));
    }
    Ok(healed)
}

/// Routes `host` to the other regions again through the router (a holder
/// that left its networks and rejoined them lost its routes).
pub async fn restore_routes(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
) -> Result<(), FaultError> {
    let holder = plan::holder_name(&state.lab, host);
    for (cidr, via) in state.addresses().routes(host) {
        let (code, out) = engine
            .exec(
                &holder,
                &["ip", "route", "replace", &cidr, "via", &via.to_string()],
            )
            .await?;
        if code != 0 {
            return Err(FaultError::Failed(format!(
                "ip route replace {cidr} via {via} in {holder} failed: {}",
                out.trim()
            )));
        }
    }
    Ok(())
}
