//! The lab actor: one task on the tokio runtime owns the Docker client and
//! serves [`LabCommand`]s; results come back as [`LabEvent`]s through a
//! sink that also wakes the UI. Launches run as their own tasks with a
//! cancellation token, so the UI never waits on Docker.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::docker::Engine;
use super::launch::{self, UpOptions};
use super::monitor::{self, MonitorHandle};
use super::plan::{self, Part};
use super::protocol::{CommandId, FoundLab, LabCommand, LabEvent};
use super::state::LabState;
use super::traffic::{self, TrafficHandle};
use crate::live::Observation;

/// Where events go (the UI's channel plus a repaint request).
pub type Sink = Arc<dyn Fn(LabEvent) + Send + Sync>;

/// Starts the actor on `runtime`; returns the command sender.
pub fn spawn(runtime: &tokio::runtime::Handle, sink: Sink) -> UnboundedSender<LabCommand> {
    let (tx, rx) = unbounded_channel();
    runtime.spawn(serve(rx, sink));
    tx
}

async fn serve(mut commands: UnboundedReceiver<LabCommand>, sink: Sink) {
    let engine = match Engine::connect().await {
        Ok(e) => {
            sink(LabEvent::Engine(Ok(())));
            Some(e)
        }
        Err(e) => {
            sink(LabEvent::Engine(Err(e.to_string())));
            None
        }
    };
    let mut launches: HashMap<CommandId, CancellationToken> = HashMap::new();
    // Monitors and traffic per lab; dropping a handle stops it.
    let watched: Arc<std::sync::Mutex<Watched>> = Arc::default();
    while let Some(command) = commands.recv().await {
        let Some(engine) = engine.clone() else {
            if let LabCommand::Discover { id } = command {
                // No engine, no labs to find: not an error of its own.
                sink(LabEvent::Found(Vec::new()));
                sink(LabEvent::Finished {
                    id,
                    result: Ok(String::new()),
                });
                continue;
            }
            if let Some(id) = command_id(&command) {
                sink(LabEvent::Finished {
                    id,
                    result: Err(
                        "Docker is not reachable: the designer works, the lab does not".to_owned(),
                    ),
                });
            }
            continue;
        };
        match command {
            LabCommand::Launch { id, lab, topology } => {
                let cancel = CancellationToken::new();
                launches.retain(|_, token| !token.is_cancelled());
                launches.insert(id, cancel.clone());
                let task_sink = sink.clone();
                let watched = watched.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let sink = task_sink;
                    let options = UpOptions {
                        name: Some(lab.clone()),
                        ..UpOptions::default()
                    };
                    let report = |progress| sink(LabEvent::Progress { id, progress });
                    let result = launch::up(&engine, &topology, &options, &cancel, &report).await;
                    match result {
                        Ok(launched) => {
                            watch(&engine, &launched.lab, &sink, &watched).await;
                            sink(LabEvent::Launched {
                                id,
                                lab: launched.lab.clone(),
                                entry_points: launched.entry_points.clone(),
                                artifacts: Box::new(launched.plan.artifacts.clone()),
                            });
                            sink(LabEvent::Finished {
                                id,
                                result: Ok(format!("lab {lab} is running")),
                            });
                        }
                        Err(e) => sink(LabEvent::Finished {
                            id,
                            result: Err(e.to_string()),
                        }),
                    }
                });
            }
            LabCommand::Cancel { launch } => {
                if let Some(token) = launches.get(&launch) {
                    token.cancel();
                }
            }
            LabCommand::Stop { id, lab } => {
                // Traffic and monitor first: nothing reports a lab being removed.
                if let Ok(mut w) = watched.lock() {
                    w.traffic.remove(&lab);
                    w.monitors.remove(&lab);
                }
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let sink = task_sink;
                    let report = |progress| sink(LabEvent::Progress { id, progress });
                    let result = launch::down(&engine, &lab, &report).await;
                    sink(LabEvent::Finished {
                        id,
                        result: result
                            .map(|r| format!("lab {lab} removed ({} containers)", r.containers))
                            .map_err(|e| e.to_string()),
                    });
                });
            }
            LabCommand::Watch { lab } => {
                let sink = sink.clone();
                let watched = watched.clone();
                tokio::spawn(async move { watch(&engine, &lab, &sink, &watched).await });
            }
            LabCommand::Traffic { lab, settings } => {
                let sink = sink.clone();
                let watched = watched.clone();
                tokio::spawn(async move { set_traffic(&lab, settings, &sink, &watched).await });
            }
            LabCommand::Fault {
                id,
                lab,
                target,
                kind,
            } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let result = with_state(&lab, &task_sink, async |state| {
                        super::fault::inject(&engine, state, &target, kind)
                            .await
                            .map(|done| done.to_string())
                            .map_err(|e| e.to_string())
                    })
                    .await;
                    task_sink(LabEvent::Finished { id, result });
                });
            }
            LabCommand::Heal { id, lab, target } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let result = with_state(&lab, &task_sink, async |state| {
                        let healed = match &target {
                            Some(t) => super::fault::heal(&engine, state, t).await,
                            None => super::fault::heal_all(&engine, state).await,
                        };
                        healed.map(|h| h.join("; ")).map_err(|e| e.to_string())
                    })
                    .await;
                    task_sink(LabEvent::Finished { id, result });
                });
            }
            LabCommand::Assess { id, lab, replica } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let result = match load_state(&lab).await {
                        Ok(state) => match super::promote::resolve(&state, &replica) {
                            Ok((r, old)) => super::promote::assess(&engine, &state, &r, &old)
                                .await
                                .map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        },
                        Err(e) => Err(e),
                    };
                    let failed = result.as_ref().err().cloned();
                    task_sink(LabEvent::Assessment {
                        id,
                        replica,
                        result,
                    });
                    task_sink(LabEvent::Finished {
                        id,
                        result: failed.map_or(Ok(String::new()), Err),
                    });
                });
            }
            LabCommand::Promote {
                id,
                lab,
                replica,
                planned,
                accept_loss,
            } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let mut roles = None;
                    let result = with_state(&lab, &task_sink, async |state| {
                        let done =
                            super::promote::promote(&engine, state, &replica, planned, accept_loss)
                                .await
                                .map_err(|e| e.to_string())?;
                        roles = Some(Box::new(state.topology.clone()));
                        Ok(done
                            .steps
                            .iter()
                            .map(|(t, s)| format!("{:.3} s {s}", t.as_secs_f64()))
                            .collect::<Vec<_>>()
                            .join("; "))
                    })
                    .await;
                    if let Some(topology) = roles {
                        task_sink(LabEvent::Roles {
                            lab: lab.clone(),
                            topology,
                        });
                    }
                    task_sink(LabEvent::Finished { id, result });
                });
            }
            LabCommand::Scenario { id, lab, source } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let result = run_scenario(engine, id, &lab, &source, &task_sink).await;
                    task_sink(LabEvent::Finished { id, result });
                });
            }
            LabCommand::Logs { lab, component } => {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let name = plan::container_name(
                        &lab,
                        &component.host,
                        Part::Component(component.kind),
                    );
                    let text = engine.log_tail(&name, 40).await;
                    sink(LabEvent::Logs { component, text });
                });
            }
            LabCommand::Discover { id } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let sink = task_sink;
                    let result = engine.containers(super::names::LAB).await;
                    match result {
                        Ok(containers) => {
                            let mut labs: Vec<String> = containers
                                .into_iter()
                                .filter_map(|c| c.labels.get(super::names::LAB).cloned())
                                .collect();
                            labs.sort();
                            labs.dedup();
                            let found = tokio::task::spawn_blocking(move || {
                                labs.into_iter()
                                    .map(|lab| {
                                        let state = LabState::load(&lab).ok().flatten();
                                        FoundLab {
                                            topology: state
                                                .as_ref()
                                                .map(|s| Box::new(s.topology.clone())),
                                            faults: state
                                                .as_ref()
                                                .map(|s| s.faults.clone())
                                                .unwrap_or_default(),
                                            entry_points: state
                                                .map(|s| s.entry_points)
                                                .unwrap_or_default(),
                                            lab,
                                        }
                                    })
                                    .collect()
                            })
                            .await
                            .unwrap_or_default();
                            sink(LabEvent::Found(found));
                            sink(LabEvent::Finished {
                                id,
                                result: Ok(String::new()),
                            });
                        }
                        Err(e) => sink(LabEvent::Finished {
                            id,
                            result: Err(e.to_string()),
                        }),
                    }
                });
            }
        }
    }
}

/// Runs `work` as its own task; if it panics, the command still gets its
/// `Finished`, so the UI never waits forever.
fn spawn_reporting(
    id: CommandId,
    sink: Sink,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(e) = tokio::spawn(work).await {
            sink(LabEvent::Finished {
                id,
                result: Err(format!("the lab task failed: {e}")),
            });
        }
    });
}

fn command_id(command: &LabCommand) -> Option<CommandId> {
    match command {
        LabCommand::Launch { id, .. }
        | LabCommand::Stop { id, .. }
        | LabCommand::Fault { id, .. }
        | LabCommand::Heal { id, .. }
        | LabCommand::Assess { id, .. }
        | LabCommand::Promote { id, .. }
        | LabCommand::Scenario { id, .. }
        | LabCommand::Discover { id } => Some(*id),
        LabCommand::Cancel { .. }
        | LabCommand::Watch { .. }
        | LabCommand::Traffic { .. }
        | LabCommand::Logs { .. } => None,
    }
}

/// What runs per lab besides its containers.
#[derive(Default)]
struct Watched {
    monitors: HashMap<String, MonitorHandle>,
    traffic: HashMap<String, (TrafficHandle, traffic::TrafficSettings)>,
}

/// Reads a lab's state off the runtime's threads.
async fn load_state(lab: &str) -> Result<LabState, String> {
    let name = lab.to_owned();
    match tokio::task::spawn_blocking(move || LabState::load(&name)).await {
        Ok(Ok(Some(state))) => Ok(state),
        Ok(Ok(None)) => Err(format!(
            "lab {lab} has no state file here: it cannot be watched"
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs a scenario for the app: its lines and its requests go to the UI.
async fn run_scenario(
    engine: Engine,
    id: CommandId,
    lab: &str,
    source: &str,
    sink: &Sink,
) -> Result<String, String> {
    let scenario = crate::scenario::parse(source)?;
    let state = load_state(lab).await?;
    let say_sink = sink.clone();
    let say = move |line: String| say_sink(LabEvent::ScenarioLine { id, line });
    let observations = live_sink(lab, sink);
    let observer: super::scenario::TraceObserver =
        Arc::new(move |batch| observations(vec![Observation::Requests(batch)]));
    let outcome = super::scenario::run(engine, state, &scenario, &say, Some(observer)).await?;
    if let Ok(state) = load_state(lab).await {
        sink(LabEvent::Faults {
            lab: lab.to_owned(),
            faults: state.faults,
        });
    }
    if let Some(topology) = outcome.topology.clone() {
        sink(LabEvent::Roles {
            lab: lab.to_owned(),
            topology: Box::new(topology),
        });
    }
    for line in outcome.report.lines() {
        say(line.to_owned());
    }
    if outcome.failed.is_empty() {
        Ok(format!(
            "scenario {}: {} expectation(s) held",
            scenario.name, outcome.passed
        ))
    } else {
        Err(format!(
            "scenario {}: {} expectation(s) failed: {}",
            scenario.name,
            outcome.failed.len(),
            outcome.failed.join("; ")
        ))
    }
}

/// Runs `work` on lab `lab`'s state under the lab's lock and saves the
/// state afterwards (what was done is recorded even when a later step
/// failed).
async fn with_state(
    lab: &str,
    sink: &Sink,
    work: impl AsyncFnOnce(&mut super::state::Locked) -> Result<String, String>,
) -> Result<String, String> {
    let mut state = super::state::lock(lab).await.map_err(|e| e.to_string())?;
    let result = work(&mut state).await;
    sink(LabEvent::Faults {
        lab: lab.to_owned(),
        faults: state.faults.clone(),
    });
    let saved = tokio::task::spawn_blocking(move || state.save())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match (result, saved) {
        (Ok(text), Ok(())) => Ok(text),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(format!("done, but the lab's state could not be saved: {e}")),
    }
}

/// The sink observations of `lab` go to.
fn live_sink(lab: &str, sink: &Sink) -> Arc<dyn Fn(Vec<Observation>) + Send + Sync> {
    let lab = lab.to_owned();
    let sink = sink.clone();
    Arc::new(move |observations| {
        sink(LabEvent::Live {
            lab: lab.clone(),
            observations,
        });
    })
}

/// Starts the monitor of `lab` unless it runs already.
async fn watch(engine: &Engine, lab: &str, sink: &Sink, watched: &std::sync::Mutex<Watched>) {
    if watched.lock().is_ok_and(|w| w.monitors.contains_key(lab)) {
        return;
    }
    let state = match load_state(lab).await {
        Ok(s) => s,
        Err(why) => {
            live_sink(lab, sink)(vec![Observation::Note {
                at: crate::live::now(),
                text: format!("no live view: {why}"),
            }]);
            return;
        }
    };
    let handle = monitor::spawn(engine.clone(), state, live_sink(lab, sink));
    if let Ok(mut w) = watched.lock() {
        w.monitors.entry(lab.to_owned()).or_insert(handle);
    }
}

/// Starts, changes or stops the traffic through `lab`.
async fn set_traffic(
    lab: &str,
    settings: Option<traffic::TrafficSettings>,
    sink: &Sink,
    watched: &std::sync::Mutex<Watched>,
) {
    let note = |text: String| {
        live_sink(lab, sink)(vec![Observation::Note {
            at: crate::live::now(),
            text,
        }]);
    };
    let Some(settings) = settings else {
        let stopped = watched.lock().ok().and_then(|mut w| w.traffic.remove(lab));
        if stopped.is_some() {
            note("traffic stopped".to_owned());
        }
        return;
    };
    let running = watched.lock().ok().and_then(|mut w| {
        let (handle, current) = w.traffic.get_mut(lab)?;
        handle.set(settings);
        Some(std::mem::replace(current, settings))
    });
    if let Some(previous) = running {
        if previous != settings {
            note(format!("traffic now {}", describe(&settings)));
        }
        return;
    }
    let state = match load_state(lab).await {
        Ok(s) => s,
        Err(why) => return note(format!("no traffic: {why}")),
    };
    let observations = live_sink(lab, sink);
    let handle = traffic::spawn(
        traffic::targets(&state),
        settings,
        Arc::new(move |batch| observations(vec![Observation::Requests(batch)])),
    );
    note(format!("traffic started: {}", describe(&settings)));
    if let Ok(mut w) = watched.lock() {
        w.traffic.insert(lab.to_owned(), (handle, settings));
    }
}

fn describe(settings: &traffic::TrafficSettings) -> String {
    let rate = match settings.rate {
        traffic::Rate::PerSecond(r) => format!("{r:.0} req/s"),
        traffic::Rate::FlatOut { concurrency } => format!("flat out ({concurrency} in flight)"),
    };
    format!("{rate}, {}% writes", settings.writes_percent)
}
