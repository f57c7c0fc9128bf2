//! `topolab bench launch`: launches and tears down a topology N times and
//! prints the median time of each phase. `topolab bench capacity`: ramps
//! the rate through a running lab and prints the knee and the bottleneck.
//! Measurements, not tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::capacity::{self, Step};
use crate::lab::capacity_run::{self, RampOptions};
use crate::lab::docker::Engine;
use crate::lab::launch::{self, Phase, UpOptions};
use crate::model::Topology;
use crate::model::cpus_text;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs the benchmark and prints the table.
pub async fn launch(topology: Topology, runs: usize) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
    let cancel = CancellationToken::new();
    let mut phases: BTreeMap<Phase, Vec<Duration>> = BTreeMap::new();
    let mut teardowns = Vec::new();
    // One untimed launch first, so that building the app image for this
    // binary is not measured.
    let warmup = UpOptions {
        name: Some(format!("bench-{}-warmup", topology.name)),
        ..UpOptions::default()
    };
    launch::up(&engine, &topology, &warmup, &cancel, &|_| {}).await?;
    launch::down(&engine, warmup.name.as_deref().unwrap_or_default(), &|_| {}).await?;
    for i in 1..=runs {
        let name = format!("bench-{}-{i}", topology.name);
        let options = UpOptions {
            name: Some(name.clone()),
            ..UpOptions::default()
        };
        let launched = launch::up(&engine, &topology, &options, &cancel, &|_| {}).await?;
        let started = Instant::now();
        launch::down(&engine, &name, &|_| {}).await?;
        let teardown = started.elapsed();
        let total = launched
            .phases
            .last()
            .map(|(_, at)| *at)
            .unwrap_or_default();
        println!(
            "run {i}: ready in {:.2} s, torn down in {:.2} s",
            total.as_secs_f64(),
            teardown.as_secs_f64()
        );
        for (phase, at) in launched.phases {
            phases.entry(phase).or_default().push(at);
        }
        teardowns.push(teardown);
    }
    println!();
    println!(
        "{} — median of {runs} runs (time from the start of `up`)",
        topology.name
    );
    println!("{:<24} {:>9}", "phase", "done at");
    let mut total = Duration::ZERO;
    for (phase, times) in phases {
        let m = median(times);
        total = total.max(m);
        println!("{:<24} {:>7.2} s", phase.label(), m.as_secs_f64());
    }
    println!("{:<24} {:>7.2} s", "total (all ready)", total.as_secs_f64());
    println!(
        "{:<24} {:>7.2} s",
        "teardown",
        median(teardowns).as_secs_f64()
    );
    Ok(())
}

/// `topolab bench capacity`: the ramp, a line per step as it finishes, then
/// the knee, the CPU table at the knee and the bottleneck in words.
pub async fn capacity(
    lab: String,
    options: RampOptions,
    report: Option<PathBuf>,
) -> anyhow::Result<()> {
    let state = super::lab::require_state(&lab)?;
    let engine = Engine::connect().await?;
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
