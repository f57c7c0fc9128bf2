//! Runs a capacity ramp against a running lab: open-loop steps of rising
//! rate through the lab's entry points, each measured by its requests
//! (latency, errors) and by every container's CPU time. `crate::capacity`
//! judges the steps (knee, bottleneck); this module only measures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::docker::{DockerError, Engine, ResourceMode, Usage};
use super::plan::{self, Part};
use super::state::LabState;
use super::traffic::{self, Rate, TrafficError, TrafficSettings};
use crate::capacity::{ContainerCpu, Step, Targets, next_rate};
use crate::live::RequestTrace;
use crate::model::{HostName, HostSize};

/// How many times the gap between the last rate served and the first
/// missed is halved.
const REFINE: usize = 3;
/// The ramp does not go below this rate, requests per second.
pub const LOWEST_RATE: f64 = 1.0;

/// What to ramp and when to stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RampOptions {
    /// What a step must meet.
    pub targets: Targets,
    /// Percent of requests that are writes.
    pub writes_percent: u8,
    /// How long each step sends.
    pub step: Duration,
    /// The first step's rate, requests per second.
    pub start_rate: f64,
    /// The ramp never asks for more than this.
    pub max_rate: f64,
}

impl Default for RampOptions {
    fn default() -> Self {
        Self {
            targets: Targets::default(),
            writes_percent: 10,
            step: Duration::from_secs(4),
            start_rate: 100.0,
            max_rate: traffic::MAX_RATE,
        }
    }
}

/// Why a ramp could not run.
#[derive(Debug, thiserror::Error)]
pub enum RampError {
    /// The engine failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The generator could not run.
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// Stopped by the user.
    #[error("cancelled")]
    Cancelled,
}

/// The sizes of the lab's hosts.
pub fn sizes(state: &LabState) -> BTreeMap<HostName, HostSize> {
    state
        .topology
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.size))
        .collect()
}

/// Every container of the lab's hosts: (host, part label, name); the
/// holders' label is `host` (their counters hold the host's throttling).
fn containers(state: &LabState) -> Vec<(HostName, String, String)> {
    let mut out = Vec::new();
    for host in &state.topology.hosts {
        out.push((
            host.name.clone(),
            HOLDER.to_owned(),
            plan::container_name(&state.lab, &host.name, Part::Holder),
        ));
        for c in &host.components {
            let part = Part::Component(c.kind());
            out.push((
                host.name.clone(),
                part.label().to_owned(),
                plan::container_name(&state.lab, &host.name, part),
            ));
        }
    }
    out
}

/// The part label of a holder in [`containers`].
const HOLDER: &str = "host";

/// Every container's counters (`None` where they could not be read).
/// The engine answers at its next once-a-second sample, so a snapshot may
/// be up to a second older or newer than the call.
async fn snapshot(engine: &Engine, names: &[(HostName, String, String)]) -> Vec<Option<Usage>> {
    join_all(names.iter().map(|(_, _, n)| engine.usage_now(n)))
        .await
        .into_iter()
        .map(Result::ok)
        .collect()
}

/// The machine's CPU jiffies, when the engine is this machine.
fn machine_now() -> Option<Jiffies> {
    if Engine::is_local() {
        machine_jiffies()
    } else {
        None
    }
}

/// A cgroup v1 holder's (CPU time in ns, memory without page cache in
/// bytes), from its files under the cgroupfs root, or `None` where they
/// are not (another cgroup layout, a remote engine).
fn cgroup_usage(holder_id: &str) -> Option<(u64, u64)> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let dir = format!(
        "{}/{holder_id}",
        super::docker::CGROUP_ROOT.trim_start_matches('/')
    );
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).ok();
    let cpu: u64 = read(root.join("cpuacct").join(&dir).join("cpuacct.usage"))?
        .trim()
        .parse()
        .ok()?;
    let memory_dir = root.join("memory").join(&dir);
    let usage: u64 = read(memory_dir.join("memory.usage_in_bytes"))?
        .trim()
        .parse()
        .ok()?;
    let inactive = read(memory_dir.join("memory.stat"))
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("total_inactive_file "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    Some((cpu, usage.saturating_sub(inactive)))
}

/// CPU time of all the machine's CPUs so far, in jiffies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Jiffies {
    /// Not idle: working, or taken by the hypervisor.
    busy: u64,
    /// Taken by the hypervisor for other guests (steal time).
    stolen: u64,
    /// All of it.
    total: u64,
}

impl Jiffies {
    /// From the first line of /proc/stat (`cpu user nice system idle
    /// iowait irq softirq steal ...`).
    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: u64 = v.iter().take(8).sum();
        // idle and iowait are the 4th and 5th fields, steal the 8th.
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        Some(Self {
            busy: total.saturating_sub(idle),
            stolen: v.get(7).copied().unwrap_or(0),
            total,
        })
    }

    /// The (busy, stolen) shares of the machine's CPU time from `self` to
    /// `later`.
    fn shares_until(self, later: Self) -> Option<(f64, f64)> {
        let total = later.total.checked_sub(self.total).filter(|&t| t > 0)? as f64;
        let share = |a: u64, b: u64| b.saturating_sub(a) as f64 / total;
        Some((
            share(self.busy, later.busy),
            share(self.stolen, later.stolen),
        ))
    }
}

fn machine_jiffies() -> Option<Jiffies> {
    Jiffies::parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// How to turn CPU time between two snapshots into cores.
#[derive(Clone, Copy)]
enum Over {
    /// The samples' own span, by the engine's clock (it reads a
    /// container's CPU time and the machine's together): for a steady load.
    Samples,
    /// The seconds the load ran: the samples bracket it (the first taken
    /// before it starts, the second after it ends), so all of its CPU time
    /// is between them, but so may be up to a second of idling each side.
    Load(f64),
}

/// CPU per container, and per host the share of its quota periods that
/// were throttled, between two snapshots.
fn cpu_between(
    names: &[(HostName, String, String)],
    before: &[Option<Usage>],
    after: &[Option<Usage>],
    over: Over,
) -> (Vec<ContainerCpu>, BTreeMap<HostName, f64>) {
    let cores = |b: &Usage, a: &Usage| -> Option<f64> {
        let used = a.cpu_ns.checked_sub(b.cpu_ns)? as f64;
        match over {
            Over::Load(seconds) => Some(used / 1e9 / seconds.max(1e-3)),
            Over::Samples => {
                let system = a.system_ns.checked_sub(b.system_ns).filter(|s| *s > 0)?;
                Some(used / system as f64 * f64::from(a.cpus.max(1)))
            }
        }
    };
    // The share of CFS periods in which a host's quota ran out: its
    // holder's when the host's containers share its cgroup, else the most
    // throttled of its containers.
    let mut throttled: BTreeMap<HostName, f64> = BTreeMap::new();
    for ((host, _, _), (b, a)) in names.iter().zip(before.iter().zip(after)) {
        let (Some(b), Some(a)) = (b, a) else { continue };
        let periods = a.periods.saturating_sub(b.periods);
        if periods > 0 {
            let share =
                a.throttled_periods.saturating_sub(b.throttled_periods) as f64 / periods as f64;
            let e = throttled.entry(host.clone()).or_insert(0.0);
            *e = e.max(share);
        }
    }
    let cpu = names
        .iter()
        .zip(before.iter().zip(after))
        .filter(|((_, part, _), _)| part != HOLDER)
        .filter_map(|((host, part, _), (b, a))| {
            Some(ContainerCpu {
                host: host.clone(),
                part: part.clone(),
                cores: cores(b.as_ref()?, a.as_ref()?)?,
            })
        })
        .collect();
    (cpu, throttled)
}

/// What each host uses now: (cores over `over`, memory in bytes), its
/// components together. A host whose containers cannot be read is left out.
pub async fn host_use(
    engine: &Engine,
    state: &LabState,
    over: Duration,
) -> BTreeMap<HostName, (f64, u64)> {
    // Where a host's containers share its holder's cgroup, the holder's
    // counters are the host's; on this machine they are read from the
    // cgroup's files at once (the engine answers a stats call only at its
    // next once-a-second sample).
    let shared = matches!(engine.resources().await, Ok((ResourceMode::Shared, _, _)));
    if shared && Engine::is_local() {
        let mut holders = Vec::new();
        for host in &state.topology.hosts {
            let name = plan::container_name(&state.lab, &host.name, Part::Holder);
            if let Ok(id) = engine.container_id(&name).await {
                holders.push((host.name.clone(), id));
            }
        }
        let read = || -> Vec<Option<(u64, u64)>> {
            holders.iter().map(|(_, id)| cgroup_usage(id)).collect()
        };
        let (start, before) = (Instant::now(), read());
        tokio::time::sleep(over).await;
        let (wall, after) = (start.elapsed().as_secs_f64(), read());
        let found: BTreeMap<HostName, (f64, u64)> = holders
            .iter()
            .zip(before.iter().zip(&after))
            .filter_map(|((host, _), (b, a))| {
                let ((b_ns, _), (a_ns, memory)) = ((*b)?, (*a)?);
                Some((
                    host.clone(),
                    (a_ns.saturating_sub(b_ns) as f64 / 1e9 / wall, memory),
                ))
            })
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    // Elsewhere: the host's components together, from the engine.
    let names: Vec<_> = containers(state)
        .into_iter()
        .filter(|(_, part, _)| part != HOLDER)
        .collect();
    let before = snapshot(engine, &names).await;
    tokio::time::sleep(over).await;
    let after = snapshot(engine, &names).await;
    let (cpu, _) = cpu_between(&names, &before, &after, Over::Samples);
    let mut out: BTreeMap<HostName, (f64, u64)> = BTreeMap::new();
    for c in cpu {
        out.entry(c.host).or_default().0 += c.cores;
    }
    for ((host, _, _), usage) in names.iter().zip(&after) {
        if let (Some(u), Some(e)) = (usage, out.get_mut(host)) {
            e.1 += u.memory_bytes;
        }
    }
    out
}

/// Sends `rate` requests per second for `options.step` and measures it.
pub async fn step(
    engine: &Engine,
    state: &LabState,
    rate: f64,
    options: &RampOptions,
    cancel: &CancellationToken,
) -> Result<Step, RampError> {
    let names = containers(state);
    let traces: Arc<Mutex<Vec<RequestTrace>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let traces = traces.clone();
        Arc::new(move |batch: Vec<RequestTrace>| crate::locked(&traces).extend(batch))
    };
    let settings = TrafficSettings {
        rate: Rate::PerSecond(rate),
        writes_percent: options.writes_percent,
        read_back: false,
    };
    let (_tx, rx) = watch::channel(settings);
    let before = snapshot(engine, &names).await;
    let (machine_before, started) = (machine_now(), Instant::now());
    let stats = traffic::run(
        traffic::targets(state),
        rx,
        sink,
        cancel.child_token(),
        Some(options.step),
    )
    .await?;
    // The load ran from `started` until now (its last requests answered).
    let (machine_after, load) = (machine_now(), started.elapsed().as_secs_f64());
    let after = snapshot(engine, &names).await;
    if cancel.is_cancelled() {
        return Err(RampError::Cancelled);
    }
    let traces = std::mem::take(&mut *crate::locked(&traces));
    let seconds = stats.sending_seconds.max(options.step.as_secs_f64());
    let mut result = Step::from_traces(rate, seconds, &traces);
    let (cpu, throttled) = cpu_between(&names, &before, &after, Over::Load(load));
    result.cpu = cpu;
    if let Some((busy, stolen)) = machine_before
        .zip(machine_after)
        .and_then(|(before, after)| before.shares_until(after))
    {
        result.machine_busy = Some(busy);
        result.stolen = Some(stolen);
    }
    result.throttled = throttled;
    Ok(result)
}

/// Most steps one ramp sets aside (see [`Measuring::measure`]), so that a machine
/// whose neighbours never let go still gets its ramp finished.
const SET_ASIDE_AT_MOST: u32 = 4;

/// Ramps the rate until a step misses the targets (or the highest rate is
/// reached), then narrows the knee down between the last two rates; `each`
/// hears every step as it finishes. When even the first rate misses, it
/// halves the rate until one is served (down to [`LOWEST_RATE`]), so the
/// start rate is a guess, not a promise. A miss while the hypervisor took
/// the machine is measured again (see [`Measuring::measure`]).
pub async fn ramp(
    engine: &Engine,
    state: &LabState,
    options: &RampOptions,
    cancel: &CancellationToken,
    each: &(dyn Fn(&Step) + Sync),
) -> Result<Vec<Step>, RampError> {
    // Warm the connections and the caches first, unmeasured: on hosts of
    // a twentieth of a core the first seconds under load can be slow (CI
    // saw a first step at p95 2 s with 2.5% errors that the next steps
    // served at 4 ms).
    let warm = RampOptions {
        step: Duration::from_secs(2),
        ..*options
    };
    step(engine, state, options.start_rate, &warm, cancel).await?;
    let mut ramp = Measuring {
        engine,
        state,
        options,
        cancel,
        each,
        steps: Vec::new(),
        set_aside_left: SET_ASIDE_AT_MOST,
    };
    let mut rate = options.start_rate.min(options.max_rate);
    let mut served: Option<f64> = None;
    let mut missed_at: Option<f64> = None;
    loop {
        let s = ramp.measure(rate).await?;
        let missed = s.missed(options.targets).is_some();
        let next = next_rate(s, options.targets).min(options.max_rate);
        if missed {
            missed_at = Some(rate);
            // Up: the knee is below this rate. Down: keep halving.
            let lower = (rate / 2.0).floor();
            if served.is_some() || lower < LOWEST_RATE {
                break;
            }
            rate = lower;
            settle(cancel).await?;
        } else {
            // Found on the way down, the knee is climbed to again until a
            // step misses: a miss on the way down, right after an
            // overloaded step, is weak evidence (CI saw 90 req/s missed at
            // p95 58 ms after 180 on a lab that then served 85).
            if served.is_none() {
                missed_at = None;
            }
            served = Some(rate);
            if next <= rate {
                break;
            }
            rate = next;
        }
    }
    // Between the last rate served and the lowest missed, halve the gap
    // REFINE times: the knee is then known to within an eighth of it.
    if let (Some(mut low), Some(mut high)) = (served, missed_at) {
        for _ in 0..REFINE {
            let mid = ((low + high) / 2.0).round();
            if mid <= low || mid >= high {
                break;
            }
            if ramp.measure(mid).await?.missed(options.targets).is_some() {
                high = mid;
                settle(cancel).await?;
            } else {
                low = mid;
            }
        }
    }
    Ok(ramp.steps)
}

/// A ramp under way: what each step needs, the steps so far (those set
/// aside included), and how many more it may set aside.
struct Measuring<'a> {
    engine: &'a Engine,
    state: &'a LabState,
    options: &'a RampOptions,
    cancel: &'a CancellationToken,
    /// Hears every step as it finishes.
    each: &'a (dyn Fn(&Step) + Sync),
    steps: Vec<Step>,
    set_aside_left: u32,
}

impl Measuring<'_> {
    /// One step at `rate`, kept and heard by `each`. A step that missed the
    /// targets while the hypervisor took [`crate::capacity::STOLEN_LIMIT`]
    /// or more of the machine is kept set aside, and the rate is measured
    /// again after a pause (while `set_aside_left` allows): on a shared
    /// virtual machine a neighbour's burst stalls the whole lab, and one
    /// such step read as the lab's limit can halve a knee. Returns the step
    /// that counts.
    async fn measure(&mut self, rate: f64) -> Result<&Step, RampError> {
        loop {
            let mut s = step(self.engine, self.state, rate, self.options, self.cancel).await?;
            s.set_aside = self.set_aside_left > 0 && s.disturbed(self.options.targets);
            (self.each)(&s);
            let counts = !s.set_aside;
            self.steps.push(s);
            if counts {
                return Ok(&self.steps[self.steps.len() - 1]);
            }
            self.set_aside_left -= 1;
            settle(self.cancel).await?;
        }
    }
}

/// A second without load after a step that missed the targets, so the
/// next step does not start on hosts still working off its backlog.
async fn settle(cancel: &CancellationToken) -> Result<(), RampError> {
    tokio::select! {
        () = cancel.cancelled() => Err(RampError::Cancelled),
        () = tokio::time::sleep(Duration::from_secs(1)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_s_busy_and_stolen_shares_come_from_proc_stat() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let before =
            Jiffies::parse("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n").expect("a cpu line");
        assert_eq!(
            before,
            Jiffies {
                busy: 190,
                stolen: 35,
                total: 1000
            }
        );
        // 200 jiffies later: 60 working, 20 taken by the hypervisor, 120 idle.
        let after = Jiffies::parse("cpu  140 0 65 920 10 0 10 55 0 0").expect("a cpu line");
        let (busy, stolen) = before.shares_until(after).expect("time passed");
        assert!((busy - 0.4).abs() < 1e-9, "{busy}");
        assert!((stolen - 0.1).abs() < 1e-9, "{stolen}");
        // No time between the readings, or a line that is not the total.
        assert_eq!(before.shares_until(before), None);
        assert_eq!(Jiffies::parse("cpu0 1 2 3 4"), None);
    }
}
