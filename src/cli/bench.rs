//! `topolab bench launch`: launches and tears down a topology N times and
//! prints the median time of each phase. `topolab bench capacity`: ramps
//! the rate through a running lab and prints the knee and the bottleneck.
//! `topolab bench scale`: launch time and memory against the number of web
//! servers. Measurements, not tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::capacity::{self, Step};
use crate::lab::capacity_run::{self, RampOptions};
use crate::lab::docker::{Engine, NetworkDriver};
use crate::lab::launch::{self, Phase, UpOptions};
use crate::model::Topology;
use crate::model::cpus_text;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One launch and teardown of `topolab`'s lab `name` on `networks`: when
/// each phase finished, and how long the teardown took.
async fn launch_once(
    engine: &Engine,
    topology: &Topology,
    name: &str,
    networks: NetworkDriver,
) -> anyhow::Result<(Vec<(Phase, Duration)>, Duration)> {
    let cancel = CancellationToken::new();
    let options = UpOptions {
        name: Some(name.to_owned()),
        networks,
        ..UpOptions::default()
    };
    let launched = launch::up(engine, topology, &options, &cancel, &|_| {}).await?;
    let started = Instant::now();
    launch::down(engine, name, &|_| {}).await?;
    Ok((launched.phases, started.elapsed()))
}

/// When the last phase finished.
fn ready_at(phases: &[(Phase, Duration)]) -> Duration {
    phases.last().map(|(_, at)| *at).unwrap_or_default()
}

/// Runs the benchmark and prints the table. With `overlay`, each run
/// launches the topology on bridges and then on overlays of the engine's
/// swarm, and the table compares them.
pub async fn launch(topology: Topology, runs: usize, overlay: bool) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let drivers: &[NetworkDriver] = if overlay {
        &[NetworkDriver::Bridge, NetworkDriver::Overlay]
    } else {
        &[NetworkDriver::Bridge]
    };
    // One untimed launch first on each, so that building the app image for
    // this binary (and the swarm's first overlay) is not measured.
    for (i, driver) in drivers.iter().enumerate() {
        let warmup = format!("bench-{}-warmup{i}", topology.name);
        launch_once(&engine, &topology, &warmup, *driver).await?;
    }
    let mut phases: BTreeMap<(Phase, usize), Vec<Duration>> = BTreeMap::new();
    let mut teardowns: Vec<Vec<Duration>> = vec![Vec::new(); drivers.len()];
    for i in 1..=runs {
        for (d, driver) in drivers.iter().enumerate() {
            let name = format!("bench-{}-{i}{}", topology.name, &driver.as_str()[..1]);
            let (launched, teardown) = launch_once(&engine, &topology, &name, *driver).await?;
            println!(
                "run {i} on {}s: ready in {:.2} s, torn down in {:.2} s",
                driver.as_str(),
                ready_at(&launched).as_secs_f64(),
                teardown.as_secs_f64()
            );
            for (phase, at) in launched {
                phases.entry((phase, d)).or_default().push(at);
            }
            teardowns[d].push(teardown);
        }
    }
    println!();
    println!(
        "{} — median of {runs} runs (time from the start of `up`)",
        topology.name
    );
    let mut head = format!("{:<24}", "phase");
    for driver in drivers {
        head.push_str(&format!(" {:>10}", format!("{}s", driver.as_str())));
    }
    if overlay {
        head.push_str(&format!(" {:>8}", "ratio"));
    }
    println!("{head}");
    let mut totals = vec![Duration::ZERO; drivers.len()];
    let mut rows: BTreeMap<Phase, Vec<Duration>> = BTreeMap::new();
    for ((phase, d), times) in phases {
        let m = median(times);
        totals[d] = totals[d].max(m);
        rows.entry(phase)
            .or_insert_with(|| vec![Duration::ZERO; drivers.len()])[d] = m;
    }
    let teardown: Vec<Duration> = teardowns.into_iter().map(median).collect();
    let print_row = |label: &str, values: &[Duration]| {
        let mut line = format!("{label:<24}");
        for v in values {
            line.push_str(&format!(" {:>8.2} s", v.as_secs_f64()));
        }
        if let [bridge, over] = values
            && bridge.as_secs_f64() > 0.0
        {
            line.push_str(&format!(
                " {:>8.2}",
                over.as_secs_f64() / bridge.as_secs_f64()
            ));
        }
        println!("{line}");
    };
    for (phase, values) in &rows {
        print_row(phase.label(), values);
    }
    print_row("total (all ready)", &totals);
    print_row("teardown", &teardown);
    Ok(())
}

/// A design of `web_servers` small web servers (Nginx + app, 0.25 CPU and
/// 256 MiB each) behind one load balancer, writing to one database host.
pub fn scale_design(web_servers: usize) -> Topology {
    use crate::model::{HostSize, HostTemplate, add_host};
    let mut t = Topology::new(format!("scale-{web_servers}"));
    add_host(&mut t, HostTemplate::Database);
    for _ in 0..web_servers {
        add_host(&mut t, HostTemplate::WebApp);
    }
    add_host(&mut t, HostTemplate::LoadBalancer);
    for h in &mut t.hosts {
        if h.database().is_none() {
            h.size = HostSize {
                cpus: 0.25,
                memory_mib: 256,
            };
        }
    }
    t
}

/// `topolab bench scale`: launch time, teardown and memory against the
/// number of web servers, one lab at a time.
pub async fn scale(sizes: &[usize], overlay: bool) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let driver = if overlay {
        NetworkDriver::Overlay
    } else {
        NetworkDriver::Bridge
    };
    // The app image of this binary, built before anything is timed.
    let warmup = scale_design(1);
    launch_once(&engine, &warmup, "bench-scale-warmup", driver).await?;
    println!(
        "{:>12} {:>6} {:>11} {:>13} {:>10} {:>14} {:>13} {:>22}",
        "web servers",
        "hosts",
        "containers",
        "ready after",
        "per host",
        "torn down in",
        "MiB per host",
        "monitor CPU per host"
    );
    for &n in sizes {
        let t = scale_design(n);
        let name = format!("bench-scale-{n}");
        let cancel = CancellationToken::new();
        let options = UpOptions {
            name: Some(name.clone()),
            networks: driver,
            timeout: Some(Duration::from_secs(300)),
            ..UpOptions::default()
        };
        let launched = launch::up(&engine, &t, &options, &cancel, &|_| {}).await?;
        let ready = ready_at(&launched.phases);
        let containers = engine
            .containers(&crate::lab::names::lab_filter(&name))
            .await?;
        let usages =
            futures_util::future::join_all(containers.iter().map(|c| engine.usage_now(&c.name)))
                .await;
        let memory: u64 = usages
            .into_iter()
            .filter_map(Result::ok)
            .map(|u| u.memory_bytes)
            .sum();
        let monitor = monitor_cost(&engine, &name).await?;
        let started = Instant::now();
        launch::down(&engine, &name, &|_| {}).await?;
        let teardown = started.elapsed();
        let hosts = t.hosts.len();
        let per_host = |share: Option<f64>| {
            share.map_or_else(
                || "?".to_owned(),
                |s| format!("{:.2}%", 100.0 * s / hosts as f64),
            )
        };
        println!(
            "{:>12} {:>6} {:>11} {:>11.2} s {:>8.2} s {:>12.2} s {:>13.0} {:>22}",
            n,
            hosts,
            containers.len(),
            ready.as_secs_f64(),
            ready.as_secs_f64() / hosts as f64,
            teardown.as_secs_f64(),
            memory as f64 / (1024.0 * 1024.0) / hosts as f64,
            format!("{} + {} engine", per_host(monitor.0), per_host(monitor.1))
        );
    }
    Ok(())
}

/// What watching lab `lab` costs: the share of one core this process (the
/// monitor: container events, HAProxy's runtime API, replication, stats)
/// and the local Docker engine use over [`MONITOR_WINDOW`], after the
/// monitor has settled. `None` where a process's CPU time cannot be read.
async fn monitor_cost(engine: &Engine, lab: &str) -> anyhow::Result<(Option<f64>, Option<f64>)> {
    let state = crate::lab::state::LabState::load(lab)?
        .ok_or_else(|| anyhow::anyhow!("lab {lab} has no state"))?;
    let monitor = crate::lab::monitor::spawn(engine.clone(), state, std::sync::Arc::new(|_| {}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dockerd = std::fs::read_to_string("/var/run/docker.pid")
        .ok()
        .map(|p| p.trim().to_owned());
    let before = (
        cpu_seconds("self"),
        dockerd.as_deref().and_then(cpu_seconds),
    );
    tokio::time::sleep(MONITOR_WINDOW).await;
    let after = (
        cpu_seconds("self"),
        dockerd.as_deref().and_then(cpu_seconds),
    );
    monitor.stop();
    let share = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / MONITOR_WINDOW.as_secs_f64());
    Ok((share(before.0, after.0), share(before.1, after.1)))
}

/// How long [`monitor_cost`] measures.
const MONITOR_WINDOW: Duration = Duration::from_secs(10);

/// The CPU time (user and system) process `pid` (or `self`) has used, in
/// seconds, from /proc.
fn cpu_seconds(pid: &str) -> Option<f64> {
    // Linux reports these in USER_HZ, fixed at 100 by its ABI.
    const TICKS_PER_SECOND: f64 = 100.0;
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name, in parentheses, the fields from the
    // third (state) on: utime is the 14th, stime the 15th.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// `topolab bench capacity`: the ramp, a line per step as it finishes, then
/// the knee, the CPU table at the knee and the bottleneck in words.
pub async fn capacity(
    lab: String,
    options: RampOptions,
    report: Option<PathBuf>,
) -> anyhow::Result<()> {
    let state = super::lab::require_state(&lab)?;
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let sizes = capacity_run::sizes(&state);
    println!(
        "ramping lab {lab}: {}% writes, {:.0} s per step, target p95 {} ms and at most {:.0}% errors",
        options.writes_percent,
        options.step.as_secs_f64(),
        options.targets.p95_ms,
        options.targets.max_errors * 100.0
    );
    println!("{}", capacity::STEP_HEADER);
    let each = |s: &Step| println!("{}", s.line(options.targets));
    let steps = capacity_run::ramp(&engine, &state, &options, &cancel, &each).await;
    ctrl_c.abort();
    let steps = steps?;
    println!();
    match capacity::knee(&steps, options.targets) {
        Some(k) => {
            let s = &steps[k];
            println!(
                "knee: {:.0} req/s (p95 {:.1} ms, {:.2}% errors)",
                s.offered,
                s.p95_ms,
                s.error_ratio() * 100.0
            );
            println!("CPU at the knee, against each host's size:");
            for h in capacity::host_cpu(&s.cpu, &sizes) {
                let parts: Vec<String> =
                    h.parts.iter().map(|(p, c)| format!("{p} {c:.2}")).collect();
                println!(
                    "  {:<12} {:>5.2} of {:>4} CPU  {:>4.0}%  ({})",
                    h.host.as_str(),
                    h.used,
                    cpus_text(h.budget),
                    h.share() * 100.0,
                    parts.join(", ")
                );
            }
            if let Some(past) = capacity::saturated_step(&steps, options.targets) {
                println!(
                    "bottleneck (at {:.0} req/s): {}",
                    past.offered,
                    capacity::bottleneck(past, &sizes)
                );
            }
        }
        None => println!(
            "no knee: no rate down to {} req/s met the targets",
            capacity_run::LOWEST_RATE
        ),
    }
    if let Some(step) = capacity::in_doubt(&steps, options.targets) {
        println!("{}", capacity::doubt(step));
    }
    if let Some(path) = report {
        let text = capacity::report(
            &lab,
            &steps,
            options.targets,
            &sizes,
            options.writes_percent,
        );
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write the report {}: {e}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// `topolab bench checker`: times the data checker on a synthetic history
/// of `writes` acknowledged writes, one in a thousand missing.
pub fn checker(writes: u64) {
    use crate::consistency::{Holding, check};
    use crate::live::RequestTrace;
    use crate::model::HostName;
    let entry = HostName::new("lb-01");
    let history: Vec<RequestTrace> = (0..writes)
        .map(|i| {
            let mut t = RequestTrace::new(i, true, entry.clone());
            t.status = Some(201);
            t.delivered = true;
            t.written = Some(format!("traffic-bench-{i}"));
            t
        })
        .collect();
    let holding = Holding {
        db: HostName::new("web-01"),
        primary: true,
        values: (0..writes)
            .filter(|i| i % 1000 != 0)
            .map(|i| format!("traffic-bench-{i}"))
            .collect(),
    };
    let mut times = Vec::new();
    let mut lost = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let c = check(&history, std::slice::from_ref(&holding));
        times.push(started.elapsed());
        lost = c.lost().unwrap_or(0);
    }
    println!(
        "checked {writes} writes ({lost} lost) in {:.3} s (median of 5; fastest {:.3} s)",
        median(times.clone()).as_secs_f64(),
        times
            .iter()
            .min()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
    );
}

/// `topolab bench history LAB`: flat-out traffic through the lab in
/// alternating rounds, keeping every request and saving it as JSON Lines
/// (the history), or only counting it; prints each round's throughput and
/// the cost of the history.
pub async fn history(
    lab: String,
    seconds: f64,
    rounds: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    use std::sync::{Arc, Mutex};

    use crate::lab::traffic::{self, Rate, TrafficSettings};
    use crate::live::RequestTrace;
    let state = super::lab::require_state(&lab)?;
    let settings = TrafficSettings {
        rate: Rate::FlatOut { concurrency },
        writes_percent: 10,
        read_back: false,
    };
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds * 2 {
        // Off first, then on, alternating: drift hits both alike.
        let keep = round % 2 == 1;
        let kept: Arc<Mutex<Vec<RequestTrace>>> = Arc::default();
        let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sink: traffic::TraceSink = {
            let kept = kept.clone();
            let counted = counted.clone();
            Arc::new(move |batch: Vec<RequestTrace>| {
                counted.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if keep {
                    crate::locked(&kept).extend(batch);
                }
            })
        };
        let (_tx, rx) = tokio::sync::watch::channel(settings);
        let stats = traffic::run(
            traffic::targets(&state),
            rx,
            sink,
            CancellationToken::new(),
            Some(Duration::from_secs_f64(seconds)),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
        // Writing the history counts against its round: the rate is the
        // requests over the time spent sending and saving them.
        let mut bytes = 0;
        let mut saving = Duration::ZERO;
        if keep {
            let started = Instant::now();
            let history = std::mem::take(&mut *crate::locked(&kept));
            let text = crate::consistency::to_json_lines(&history);
            bytes = text.len();
            let path = std::env::temp_dir().join(format!("topolab-bench-history-{lab}.jsonl"));
            crate::fsutil::write_atomic(&path, text.as_bytes())?;
            let _ = std::fs::remove_file(&path);
            saving = started.elapsed();
        }
        let rate = if stats.sending_seconds > 0.0 {
            stats.sent as f64 / (stats.sending_seconds + saving.as_secs_f64())
        } else {
            0.0
        };
        println!(
            "round {}: history {}: {} requests, {rate:.0} req/s{}",
            round / 2 + 1,
            if keep { "on " } else { "off" },
            stats.sent,
            if keep {
                format!(
                    " (saving {:.1} MB of JSON Lines took {:.0} ms)",
                    bytes as f64 / 1e6,
                    saving.as_secs_f64() * 1000.0
                )
            } else {
                String::new()
            }
        );
        rates[usize::from(keep)].push(rate);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (off, on) = (mean(&rates[0]), mean(&rates[1]));
    println!(
        "mean: {off:.0} req/s without the history, {on:.0} req/s with it: {:+.1}%",
        if off > 0.0 {
            100.0 * (on - off) / off
        } else {
            0.0
        }
    );
    Ok(())
}

/// `topolab bench vip LAB`: the move of a virtual IP under load. Each run
/// sends `rate` requests per second to the address, breaks the holding
/// load balancer with `fault` (its HAProxy, or with `host` the whole
/// host), waits until another member answers at the address, reports the
/// outage clients saw and the requests that failed, then heals and waits
/// until the first member holds the address again. With `published` the
/// requests go to the address's published port on 127.0.0.1 (through the
/// lab's `nat`), as from a machine that cannot reach the lab's network.
pub async fn vip(
    lab: String,
    rate: f64,
    runs: usize,
    host: bool,
    fault: crate::lab::fault::FaultKind,
    published: bool,
) -> anyhow::Result<()> {
    use std::net::SocketAddr;

    use crate::lab::traffic;
    use crate::live::RequestTrace;
    use crate::model::{ComponentId, ComponentKind, Subject};

    let engine = crate::lab::engines::for_lab(&lab).await?;
    let state = super::lab::require_state(&lab)?;
    let vips = state.vips();
    let Some((vip, address)) = vips.first() else {
        anyhow::bail!("lab {lab} has no virtual IP (give two load balancers the same `vip`)");
    };
    let addr = SocketAddr::from((*address, vip.port));
    // Where the requests go, and where who holds the address is asked:
    // the address itself, or with `published` its port on this machine.
    let (probe, through) = match state.vip_ports.iter().find(|p| p.number == vip.number) {
        Some(p) if published => (
            SocketAddr::from(([127, 0, 0, 1], p.http)),
            format!("127.0.0.1:{}, the published port", p.http),
        ),
        None if published => anyhow::bail!("lab {lab} has no published port for {}", vip.label()),
        _ => (addr, addr.to_string()),
    };
    let first = vip.members[0].clone();
    // Until `wanted` (None: a member other than the first) answers at the
    // address; who, or None past `limit`.
    let wait_for = |wanted: Option<crate::model::HostName>, limit: Duration| {
        let first = first.clone();
        async move {
            let started = Instant::now();
            loop {
                let now = crate::lab::vip::holder(probe).await.ok();
                let done = match &wanted {
                    Some(w) => now.as_ref() == Some(w),
                    None => now.as_ref().is_some_and(|h| *h != first),
                };
                if done || started.elapsed() > limit {
                    return now.filter(|_| done);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    println!(
        "{} shared by {}; {rate} req/s to {through}; {fault} on {} of the holder each run",
        vip.label(),
        vip.members
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
        if host { "the whole host" } else { "HAProxy" }
    );
    for run in 1..=runs {
        if wait_for(Some(first.clone()), Duration::from_secs(15))
            .await
            .is_none()
        {
            anyhow::bail!("{first} does not hold {} before run {run}", vip.label());
        }
        let mut targets = traffic::targets(&state);
        if published {
            // Without a lab address the generator sends to the port.
            for e in &mut targets.entries {
                e.lab = None;
            }
        }
        let (sender, kept) = recorded_traffic(targets, rate);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let target = if host {
            Subject::Host(first.clone())
        } else {
            Subject::Component(ComponentId::new(&first, ComponentKind::Lb))
        };
        let killed_at = crate::live::now();
        {
            let mut locked = crate::lab::state::lock(&lab).await?;
            let result = crate::lab::fault::inject(&engine, &mut locked, &target, fault).await;
            locked.save()?;
            result?;
        }
        let moved = wait_for(None, Duration::from_secs(15)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        sender.finish().await;
        {
            let mut locked = crate::lab::state::lock(&lab).await?;
            let result = crate::lab::fault::heal(&engine, &mut locked, &target).await;
            locked.save()?;
            result?;
        }
        let traces = std::mem::take(&mut *crate::locked(&kept));
        let after: Vec<&RequestTrace> = traces.iter().filter(|t| t.at >= killed_at).collect();
        let failed: Vec<&&RequestTrace> = after.iter().filter(|t| !t.ok()).collect();
        // The outage as clients saw it: from the first request that failed
        // to the first one sent after it that the new holder answered.
        let outage = failed.first().and_then(|f| {
            after
                .iter()
                .find(|t| t.at >= f.at && t.ok() && t.lb.as_ref().is_some_and(|lb| *lb != first))
                .map(|t| t.at - f.at)
        });
        match moved {
            Some(to) => println!(
                "run {run}: moved to {to}; outage {} ms (first failed request to the first \
                 answered by {to}); {} of {} requests sent in the {:.1} s since the fault failed \
                 ({:.2}%)",
                outage.map_or_else(|| "0".to_owned(), |ms| ms.to_string()),
                failed.len(),
                after.len(),
                after
                    .iter()
                    .map(|t| t.at)
                    .max()
                    .unwrap_or(killed_at)
                    .saturating_sub(killed_at) as f64
                    / 1000.0,
                100.0 * failed.len() as f64 / after.len().max(1) as f64,
            ),
            None => println!("run {run}: the address did not move within 15 s"),
        }
    }
    Ok(())
}

/// `topolab bench region LAB`: a region goes dark under load and the site
/// moves to another. Sends `rate` requests per second (a tenth of them
/// writes) through the lab's DNS, kills every host of `region` (by default
/// the primary's), and measures the three parts of the outage: detection
/// (until no DNS server left names the region's entry points), the clients'
/// cached answers (until the last request sent to the region), and the
/// promotion of a replica in another region, started as soon as DNS has
/// moved (until the first write succeeds). Then heals the region, whose
/// old primary comes back as a replica.
pub async fn region(lab: String, rate: f64, region: Option<String>) -> anyhow::Result<()> {
    use std::collections::BTreeSet;
    use std::net::SocketAddr;

    use crate::lab::resolver::{Reply, ask};
    use crate::lab::traffic;
    use crate::live::RequestTrace;
    use crate::model::{HostName, Role, Subject, lab_region};
    use crate::protocol::RegionFaultKind;

    let engine = crate::lab::engines::for_lab(&lab).await?;
    let state = super::lab::require_state(&lab)?;
    let t = state.topology.clone();
    if !state.addresses().spans_regions() {
        anyhow::bail!("lab {lab} runs in one region (launch the two-regions preset)");
    }
    let region_of = |h: &HostName| t.host(h).and_then(|h| lab_region(&t, h));
    let primary = t
        .databases()
        .find(|(_, db)| db.role == Role::Primary)
        .map(|(h, _)| h.name.clone())
        .ok_or_else(|| anyhow::anyhow!("lab {lab} has no primary database"))?;
    let region = match region {
        Some(r) => r,
        None => region_of(&primary).unwrap_or_default(),
    };
    crate::protocol::faults::locate_region(&t, &region).map_err(anyhow::Error::msg)?;
    let survivor = t
        .replicas_of_group(
            &t.host(&primary)
                .and_then(|h| h.database())
                .map_or_else(|| "main".to_owned(), |d| d.group.clone()),
        )
        .find(|h| region_of(&h.name).as_deref() != Some(region.as_str()))
        .map(|h| h.name.clone());
    let dns_left: Vec<SocketAddr> = state
        .dns_servers
        .iter()
        .filter(|d| region_of(&d.host).as_deref() != Some(region.as_str()))
        .map(|d| SocketAddr::from(([127, 0, 0, 1], d.port)))
        .collect();
    if dns_left.is_empty() {
        anyhow::bail!("no DNS server of lab {lab} runs outside region {region}");
    }
    let targets = traffic::targets(&state);
    let names = targets.entry_names();
    let in_region: BTreeSet<String> = targets
        .entries
        .iter()
        .filter(|e| region_of(&e.host).as_deref() == Some(region.as_str()))
        .map(|e| e.name())
        .collect();
    let named_by_dns = async || -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for addr in &dns_left {
            let reply =
                tokio::time::timeout(Duration::from_millis(500), ask(*addr, &t.domain)).await;
            if let Ok(Ok(Reply::Addresses(a))) = reply {
                out.extend(
                    a.addresses
                        .iter()
                        .map(|ip| names.get(ip).cloned().unwrap_or_else(|| ip.to_string())),
                );
            }
        }
        out
    };
    println!(
        "region {region} goes dark under {rate} req/s (10% writes) through DNS (TTL {} s{}); \
         its entry points: {}; promoting {} once DNS has moved",
        t.dns.ttl_s,
        if t.dns.health_checked {
            ", health-checked"
        } else {
            ", plain records"
        },
        in_region.iter().cloned().collect::<Vec<_>>().join(", "),
        survivor.as_ref().map_or_else(
            || "nobody (no replica outside the region)".to_owned(),
            ToString::to_string
        ),
    );
    let (sender, kept) = recorded_traffic(targets.clone(), rate);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let dark_at = crate::live::now();
    {
        let mut locked = crate::lab::state::lock(&lab).await?;
        let result = crate::lab::region::inject(
            &engine,
            &mut locked,
            &region,
            RegionFaultKind::RegionOutage,
        )
        .await;
        locked.save()?;
        println!("{}", result?);
    }
    // Detection: until no DNS server left names the region.
    let started = Instant::now();
    let mut detected = None;
    while started.elapsed() < Duration::from_secs(30) {
        let named = named_by_dns().await;
        if !named.is_empty() && named.is_disjoint(&in_region) {
            detected = Some(crate::live::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(detected) = detected else {
        sender.finish().await;
        anyhow::bail!("the DNS servers left still name region {region} after 30 s");
    };
    // The promotion, at once.
    let mut promoted_at = None;
    if let Some(replica) = &survivor {
        promoted_at = Some(crate::live::now());
        let mut locked = crate::lab::state::lock(&lab).await?;
        let result = crate::lab::promote::promote(
            &engine,
            &mut locked,
            &Subject::Host(replica.clone()),
            false,
            true,
        )
        .await;
        locked.save()?;
        result?;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    sender.finish().await;
    let traces = std::mem::take(&mut *crate::locked(&kept));
    let after: Vec<&RequestTrace> = traces.iter().filter(|r| r.at >= dark_at).collect();
    let to_region = |r: &RequestTrace| region_of(&r.entry).as_deref() == Some(region.as_str());
    let last_to_region = after.iter().filter(|r| to_region(r)).map(|r| r.at).max();
    let first_write = promoted_at.and_then(|p| {
        after
            .iter()
            .filter(|r| r.write && r.ok() && r.at >= p)
            .map(|r| r.at)
            .min()
    });
    let failed = after.iter().filter(|r| !r.ok()).count();
    let reads_failed = after.iter().filter(|r| !r.write && !r.ok()).count();
    let secs = |ms: u64| ms as f64 / 1000.0;
    println!(
        "detection: {:.3} s (until no DNS server left named region {region})",
        secs(detected - dark_at)
    );
    match last_to_region {
        Some(last) => println!(
            "cached answers: clients sent to region {region} until {:.3} s after the outage \
             ({:.3} s after detection; the TTL is {} s)",
            secs(last - dark_at),
            secs(last.saturating_sub(detected)),
            t.dns.ttl_s
        ),
        None => println!("cached answers: no client sent to region {region} after the outage"),
    }
    match (promoted_at, first_write) {
        (Some(p), Some(w)) => println!(
            "promotion: first write {:.3} s after it began ({:.3} s after the outage)",
            secs(w - p),
            secs(w - dark_at)
        ),
        (Some(_), None) => println!("promotion: no write succeeded within 4 s"),
        (None, _) => println!("promotion: none (no replica outside region {region})"),
    }
    println!(
        "reads served from the other regions only after {:.3} s; {} of {} requests since the \
         outage failed ({} reads, {} writes)",
        secs(last_to_region.unwrap_or(dark_at).saturating_sub(dark_at)),
        failed,
        after.len(),
        reads_failed,
        failed - reads_failed
    );
    {
        let mut locked = crate::lab::state::lock(&lab).await?;
        let result = crate::lab::region::heal(&engine, &mut locked, &region, None).await;
        locked.save()?;
        for line in result? {
            println!("{line}");
        }
    }
    Ok(())
}

/// Traffic to `targets` at `rate` requests per second, a tenth of them
/// writes, every request kept for the caller to read once it finishes.
fn recorded_traffic(
    targets: crate::lab::traffic::Targets,
    rate: f64,
) -> (
    crate::lab::traffic::TrafficHandle,
    std::sync::Arc<std::sync::Mutex<Vec<crate::live::RequestTrace>>>,
) {
    use crate::lab::traffic::{self, Rate, TrafficSettings};
    let kept: std::sync::Arc<std::sync::Mutex<Vec<crate::live::RequestTrace>>> =
        std::sync::Arc::default();
    let sink: traffic::TraceSink = {
        let kept = kept.clone();
        std::sync::Arc::new(move |batch: Vec<crate::live::RequestTrace>| {
            crate::locked(&kept).extend(batch);
        })
    };
    let settings = TrafficSettings {
        rate: Rate::PerSecond(rate),
        writes_percent: 10,
        read_back: false,
    };
    (traffic::spawn(targets, settings, sink), kept)
}
