//! The lab's command-line front: `up`, `down`, `status`. Prints progress as
//! it happens; everything else is in `launch.rs`.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::docker::Engine;
use super::launch::{self, LabError, Progress, UpOptions};
use super::plan::Part;
use super::state::LabState;
use crate::model::Topology;

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
pub async fn up(topology: Topology, options: UpOptions, explain: bool) -> anyhow::Result<()> {
    let engine = Engine::connect().await?;
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
    println!("launching lab {lab} ({} hosts)", topology.hosts.len());
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
    println!("stop it with: topolab down {}", launched.lab);
    Ok(())
}

/// The labs Docker knows of, by label.
async fn running_labs(engine: &Engine) -> Result<Vec<String>, LabError> {
    let mut labs: Vec<String> = engine
        .containers("topolab.lab")
        .await?
        .into_iter()
        .filter_map(|c| c.labels.get("topolab.lab").cloned())
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
    let engine = Engine::connect().await?;
    let labs = match lab {
        Some(l) => {
            launch::check_lab_name(&l)?;
            if engine
                .containers(&format!("topolab.lab={l}"))
                .await?
                .is_empty()
            {
                eprintln!("no lab named {l} is running");
                return Ok(false);
            }
            vec![l]
        }
        None => running_labs(&engine).await?,
    };
    if labs.is_empty() {
        println!("no lab is running");
        return Ok(true);
    }
    for lab in labs {
        print_lab(&engine, &lab).await?;
    }
    Ok(true)
}

async fn print_lab(engine: &Engine, lab: &str) -> anyhow::Result<()> {
    let containers = engine.containers(&format!("topolab.lab={lab}")).await?;
    let state = LabState::load(lab)?;
    println!("lab {lab}");
    if let Some(s) = &state {
        println!(
            "  profile {}, databases run {}",
            s.profile.as_str(),
            s.flavor.as_str()
        );
        for e in &s.entry_points {
            println!("  entry http://127.0.0.1:{} ({})", e.http, e.host);
        }
    } else {
        println!(
            "  (no state file: launched elsewhere or left by a crash; `topolab down {lab}` removes it)"
        );
    }
    let roles = match &state {
        Some(s) => launch::db_roles(engine, s).await,
        None => BTreeMap::new(),
    };
    let mut by_host: BTreeMap<String, Vec<(Part, String)>> = BTreeMap::new();
    for c in containers {
        let host = c.labels.get("topolab.host").cloned().unwrap_or_default();
        let part = c
            .labels
            .get("topolab.component")
            .and_then(|p| Part::from_label(p))
            .unwrap_or(Part::Holder);
        by_host
            .entry(host)
            .or_default()
            .push((part, format!("{} ({})", c.state, c.status)));
    }
    for (host, mut parts) in by_host {
        parts.sort_by_key(|(p, _)| *p);
        for (part, state) in parts {
            let id = match part {
                Part::Holder => host.clone(),
                other => format!("{host}/{}", other.label()),
            };
            let role = match part {
                Part::Component(crate::model::ComponentKind::Db) => roles
                    .get(&crate::model::HostName::new(host.as_str()))
                    .map(|r| format!("  {r}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            println!("  {id:<22} {state}{role}");
        }
    }
    Ok(())
}
