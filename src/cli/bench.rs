//! `topolab bench launch`: launches and tears down a topology N times and
//! prints the median time of each phase. A measurement, not a test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::lab::docker::Engine;
use crate::lab::launch::{self, Phase, UpOptions};
use crate::model::Topology;

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
