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
use super::protocol::{CommandId, FoundLab, LabCommand, LabEvent};
use super::state::LabState;

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
            LabCommand::Discover { id } => {
                let task_sink = sink.clone();
                spawn_reporting(id, sink.clone(), async move {
                    let sink = task_sink;
                    let result = engine.containers("topolab.lab").await;
                    match result {
                        Ok(containers) => {
                            let mut labs: Vec<String> = containers
                                .into_iter()
                                .filter_map(|c| c.labels.get("topolab.lab").cloned())
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
        | LabCommand::Discover { id } => Some(*id),
        LabCommand::Cancel { .. } => None,
    }
}
