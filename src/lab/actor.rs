//! The lab actor: one task on the tokio runtime owns the Docker client, the
//! running launches and capacity ramps, the monitors and traffic of the labs it watches,
//! and serves [`LabCommand`]s; results come back as [`LabEvent`]s through
//! a sink that also wakes the UI. Each command is one `async fn`; the slow
//! ones run as tasks of their own (through [`Actor::spawn`], which always
//! answers with `Finished`, even when the task panics), so the UI never
//! waits on Docker.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::capacity_run;
use super::docker::Engine;
use super::error::LabError;
use super::images::ImageError;
use super::launch::{self, UpOptions};
use super::monitor::{self, MonitorHandle};
use super::names;
use super::plan::{self, Part};
use super::state::{LabState, Locked, StateError};
use super::traffic::{self, TrafficHandle};
use crate::live::Observation;
use crate::model::{ComponentId, HostName, Subject, Topology};
use crate::protocol::{
    CommandId, FaultKind, FoundLab, LabCommand, LabEvent, LabName, RegionFaultKind,
    TrafficSettings, error_chain,
};

/// Where events go (the UI's channel plus a repaint request).
pub type Sink = Arc<dyn Fn(LabEvent) + Send + Sync>;

/// Starts the actor on `runtime`; returns the command sender.
pub fn spawn(runtime: &tokio::runtime::Handle, sink: Sink) -> UnboundedSender<LabCommand> {
    let (tx, rx) = unbounded_channel();
    runtime.spawn(serve(rx, sink));
    tx
}

/// What a task tells the actor back.
enum Back {
    /// A launch finished: watch the lab.
    Launched(LabName),
    /// An apply changed the lab: watch what it runs now.
    Applied(LabName),
}

/// The actor's own state.
struct Actor {
    engine: Engine,
    sink: Sink,
    back: UnboundedSender<Back>,
    /// Launches and capacity ramps in progress, which `Cancel` stops.
    cancellable: HashMap<CommandId, CancellationToken>,
    /// Monitors per lab; dropping one stops it.
    monitors: HashMap<LabName, MonitorHandle>,
    /// The orchestrator of each watched lab (it fails over by itself when
    /// the lab's policy is automatic); dropping the guard stops it.
    orchestrators: HashMap<LabName, tokio_util::sync::DropGuard>,
    /// Traffic per lab, with its settings; dropping it stops it.
    traffic: HashMap<LabName, (TrafficHandle, TrafficSettings)>,
    /// The engines of each watched lab that spans several (the others use
    /// `engine`).
    spans: HashMap<LabName, Engine>,
}

async fn serve(mut commands: UnboundedReceiver<LabCommand>, sink: Sink) {
    let engine = match Engine::connect().await {
        Ok(e) => {
            sink(LabEvent::Engine(Ok(())));
            e
        }
        Err(e) => {
            sink(LabEvent::Engine(Err(e.to_string())));
            return without_engine(commands, &sink).await;
        }
    };
    let (back, mut from_tasks) = unbounded_channel();
    let mut actor = Actor {
        engine,
        sink,
        back,
        cancellable: HashMap::new(),
        monitors: HashMap::new(),
        orchestrators: HashMap::new(),
        traffic: HashMap::new(),
        spans: HashMap::new(),
    };
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(c) => actor.handle(c).await,
                None => break,
            },
            Some(message) = from_tasks.recv() => match message {
                Back::Launched(lab) => {
                    if let Err(e) = actor.start_monitor(&lab).await {
                        actor.note(&lab, format!("no live view: {e}"));
                    }
                }
                Back::Applied(lab) => {
                    // A new monitor watches the hosts the lab has now.
                    actor.orchestrators.remove(&lab);
                    if actor.monitors.remove(&lab).is_some()
                        && let Err(e) = actor.start_monitor(&lab).await
                    {
                        actor.note(&lab, format!("no live view: {e}"));
                    }
                }
            },
        }
    }
}

/// Without an engine every command fails, saying why, except looking for
/// labs (there are none to find).
async fn without_engine(mut commands: UnboundedReceiver<LabCommand>, sink: &Sink) {
    while let Some(command) = commands.recv().await {
        let result = match &command {
            LabCommand::Discover { .. } => {
                sink(LabEvent::Found(Vec::new()));
                Ok(String::new())
            }
            _ => Err("Docker is not reachable: the designer works, the lab does not".to_owned()),
        };
        if !matches!(command, LabCommand::Cancel { .. }) {
            sink(LabEvent::Finished {
                id: command.id(),
                result,
            });
        }
    }
}

impl Actor {
    async fn handle(&mut self, command: LabCommand) {
        match command {
            LabCommand::Launch {
                id,
                lab,
                topology,
                build_images,
            } => self.launch(id, lab, topology, build_images),
            LabCommand::Cancel { launch } => {
                if let Some(token) = self.cancellable.get(&launch) {
                    token.cancel();
                }
            }
            LabCommand::Stop { id, lab } => self.stop(id, lab),
            LabCommand::Discover { id } => self.discover(id),
            LabCommand::Watch { id, lab } => {
                let result = self.start_monitor(&lab).await.map(|()| String::new());
                self.finished(id, result);
            }
            LabCommand::Traffic { id, lab, settings } => {
                let result = self.set_traffic(&lab, settings).await;
                self.finished(id, result);
            }
            LabCommand::Fault {
                id,
                lab,
                target,
                kind,
            } => self.fault(id, lab, target, kind),
            LabCommand::Heal { id, lab, target } => self.heal(id, lab, target),
            LabCommand::RegionFault {
                id,
                lab,
                region,
                kind,
            } => self.region_fault(id, lab, region, kind),
            LabCommand::HealRegion { id, lab, region } => self.heal_region(id, lab, region),
            LabCommand::Assess { id, lab, replica } => self.assess(id, lab, replica),
            LabCommand::Promote {
                id,
                lab,
                replica,
                planned,
                accept_loss,
            } => self.promote(id, lab, replica, planned, accept_loss),
            LabCommand::Scenario { id, lab, source } => self.scenario(id, lab, source),
            LabCommand::Capacity {
                id,
                lab,
                p95_ms,
                writes_percent,
            } => self.capacity(id, lab, p95_ms, writes_percent),
            LabCommand::Logs { id, lab, component } => self.logs(id, lab, component),
            LabCommand::Apply {
                id,
                lab,
                topology,
                yes,
            } => self.apply(id, lab, topology, yes),
            LabCommand::Deploy {
                id,
                lab,
                request,
                max_error_percent,
            } => self.deploy(id, lab, request, max_error_percent),
            LabCommand::CheckData { id, lab } => self.check_data(id, lab),
        }
    }

    fn finished(&self, id: CommandId, result: Result<String, String>) {
        (self.sink)(LabEvent::Finished { id, result });
    }

    /// Runs `work` as a task of its own and answers `id` with its outcome;
    /// if it panics, the command still gets its `Finished`, so the UI
    /// never waits forever.
    fn spawn(
        &self,
        id: CommandId,
        work: impl Future<Output = Result<String, String>> + Send + 'static,
    ) {
        let sink = self.sink.clone();
        tokio::spawn(async move {
            let result = tokio::spawn(work)
                .await
                .unwrap_or_else(|e| Err(format!("the lab task failed: {e}")));
            sink(LabEvent::Finished { id, result });
        });
    }

    /// A note in `lab`'s timeline.
    fn note(&self, lab: &LabName, text: String) {
        live_sink(lab, &self.sink)(vec![Observation::Note {
            at: crate::live::now(),
            text,
        }]);
    }

    fn launch(&mut self, id: CommandId, lab: LabName, topology: Box<Topology>, build_images: bool) {
        let cancel = CancellationToken::new();
        self.cancellable.retain(|_, token| !token.is_cancelled());
        self.cancellable.insert(id, cancel.clone());
        let (engine, sink, back) = (self.engine.clone(), self.sink.clone(), self.back.clone());
        self.spawn(id, async move {
            let options = UpOptions {
                name: Some(lab.to_string()),
                build_images,
                ..UpOptions::default()
            };
            let report = |progress| sink(LabEvent::Progress { id, progress });
            let launched = match launch::up(&engine, &topology, &options, &cancel, &report).await {
                Ok(l) => l,
                Err(e) => {
                    // The app offers to build them.
                    if let LabError::Images(ImageError::Missing { image, .. }) = &e {
                        sink(LabEvent::ImagesMissing {
                            id,
                            image: image.clone(),
                        });
                    }
                    return Err(error_chain(&e));
                }
            };
            // The actor starts watching it (a closed channel means the
            // actor is gone, and the app with it).
            let _ = back.send(Back::Launched(lab.clone()));
            sink(LabEvent::Launched {
                id,
                lab: lab.clone(),
                entry_points: launched.entry_points.clone(),
                vip_ports: launched.plan.vip_ports.clone(),
                artifacts: Box::new(launched.plan.artifacts.clone()),
            });
            Ok(format!("lab {lab} is running"))
        });
    }

    fn stop(&mut self, id: CommandId, lab: LabName) {
        // Traffic and monitor first: nothing reports a lab being removed.
        self.traffic.remove(&lab);
        self.orchestrators.remove(&lab);
        self.monitors.remove(&lab);
        // A lab over several engines that was never watched here: its
        // engines are found in its record, so that none is left out.
        let engine = self.spans.remove(&lab);
        let sink = self.sink.clone();
        self.spawn(id, async move {
            let engine = match engine {
                Some(e) => e,
                None => super::engines::for_lab(lab.as_str())
                    .await
                    .map_err(|e| error_chain(&e))?,
            };
            let report = |progress| sink(LabEvent::Progress { id, progress });
            let removed = launch::down(&engine, lab.as_str(), &report)
                .await
                .map_err(|e| error_chain(&e))?;
            Ok(format!(
                "lab {lab} removed ({} containers)",
                removed.containers
            ))
        });
    }

    fn discover(&self, id: CommandId) {
        let (engine, sink) = (self.engine.clone(), self.sink.clone());
        self.spawn(id, async move {
            let containers = engine
                .containers(names::LAB)
                .await
                .map_err(|e| error_chain(&e))?;
            let mut labs: Vec<LabName> = containers
                .into_iter()
                .filter_map(|c| c.labels.get(names::LAB)?.parse().ok())
                .collect();
            labs.sort();
            labs.dedup();
            let mut found = Vec::new();
            for lab in labs {
                let state = load_state(&lab).await;
                found.push(FoundLab {
                    topology: state.as_ref().ok().map(|s| Box::new(s.topology.clone())),
                    faults: state.as_ref().map(|s| s.faults.clone()).unwrap_or_default(),
                    entry_points: state
                        .as_ref()
                        .map(|s| s.entry_points.clone())
                        .unwrap_or_default(),
                    vip_ports: state
                        .as_ref()
                        .map(|s| s.vip_ports.clone())
                        .unwrap_or_default(),
                    // A damaged state file is said, not hidden.
                    state_error: state.err().map(|e| error_chain(&e)),
                    lab,
                });
            }
            sink(LabEvent::Found(found));
            Ok(String::new())
        });
    }

    /// Starts the monitor of `lab` unless it runs already.
    /// The engine of `lab`: its own span when it spans several engines
    /// and is watched, else the one engine.
    fn engine_for(&self, lab: &LabName) -> Engine {
        self.spans
            .get(lab)
            .cloned()
            .unwrap_or_else(|| self.engine.clone())
    }

    async fn start_monitor(&mut self, lab: &LabName) -> Result<(), String> {
        if self.monitors.contains_key(lab) {
            return Ok(());
        }
        let state = load_state(lab).await.map_err(|e| error_chain(&e))?;
        if !state.engines.is_empty() && !self.spans.contains_key(lab) {
            let engine = super::engines::connect_lab(&state)
                .await
                .map_err(|e| error_chain(&e))?;
            self.spans.insert(lab.clone(), engine);
        }
        let automatic = !state.topology.databases.failover.is_manual();
        let handle = monitor::spawn(self.engine_for(lab), state, live_sink(lab, &self.sink));
        self.monitors.insert(lab.clone(), handle);
        if automatic {
            self.start_orchestrator(lab);
        }
        Ok(())
    }

    /// Runs the orchestrator of `lab` while it is watched: what it sees
    /// and does goes to the timeline, and a promotion it makes updates the
    /// roles the app shows.
    fn start_orchestrator(&mut self, lab: &LabName) {
        let cancel = CancellationToken::new();
        self.orchestrators
            .insert(lab.clone(), cancel.clone().drop_guard());
        let (engine, sink) = (self.engine_for(lab), self.sink.clone());
        let live = live_sink(lab, &self.sink);
        let lab = lab.clone();
        tokio::spawn(async move {
            let notes_lab = lab.clone();
            let notes = std::sync::Arc::new(move |note: super::orchestrator::Note| {
                live(vec![Observation::Note {
                    at: note.at,
                    text: note.text.clone(),
                }]);
                // Once per failover (its last note), not per step said.
                if note.failover.is_some()
                    && let Ok(Some(state)) = super::state::LabState::load(notes_lab.as_str())
                {
                    sink(LabEvent::Roles {
                        lab: notes_lab.clone(),
                        topology: Box::new(state.topology),
                    });
                }
            });
            if let Err(e) =
                super::orchestrator::run(engine, lab.as_str().to_owned(), cancel, notes).await
            {
                tracing::warn!(lab = %lab, error = %e, "the orchestrator stopped");
            }
        });
    }

    /// Starts, changes or stops the traffic through `lab`.
    async fn set_traffic(
        &mut self,
        lab: &LabName,
        settings: Option<TrafficSettings>,
    ) -> Result<String, String> {
        let Some(settings) = settings else {
            if self.traffic.remove(lab).is_some() {
                self.note(lab, "traffic stopped".to_owned());
            }
            return Ok(String::new());
        };
        if let Some((handle, current)) = self.traffic.get_mut(lab) {
            handle.set(settings);
            let previous = std::mem::replace(current, settings);
            if previous != settings {
                self.note(lab, format!("traffic now {}", describe(&settings)));
            }
            return Ok(String::new());
        }
        let state = load_state(lab)
            .await
            .map_err(|e| format!("no traffic: {}", error_chain(&e)))?;
        let observations = live_sink(lab, &self.sink);
        let handle = traffic::spawn(
            traffic::targets(&state),
            settings,
            Arc::new(move |batch| observations(vec![Observation::Requests(batch)])),
        );
        self.note(lab, format!("traffic started: {}", describe(&settings)));
        self.traffic.insert(lab.clone(), (handle, settings));
        Ok(String::new())
    }

    fn fault(&self, id: CommandId, lab: LabName, target: Subject, kind: FaultKind) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            with_state(&lab, &sink, async |state| {
                super::fault::inject(&engine, state, &target, kind)
                    .await
                    .map(|done| done.to_string())
                    .map_err(|e| error_chain(&e))
            })
            .await
        });
    }

    fn heal(&self, id: CommandId, lab: LabName, target: Option<Subject>) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            with_state(&lab, &sink, async |state| {
                let healed = match &target {
                    Some(t) => super::fault::heal(&engine, state, t).await,
                    None => super::fault::heal_all(&engine, state).await,
                };
                healed.map(|h| h.join("; ")).map_err(|e| error_chain(&e))
            })
            .await
        });
    }

    fn region_fault(&self, id: CommandId, lab: LabName, region: String, kind: RegionFaultKind) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            with_state(&lab, &sink, async |state| {
                super::region::inject(&engine, state, &region, kind)
                    .await
                    .map(|done| done.to_string())
                    .map_err(|e| error_chain(&e))
            })
            .await
        });
    }

    fn heal_region(&self, id: CommandId, lab: LabName, region: String) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            with_state(&lab, &sink, async |state| {
                super::region::heal(&engine, state, &region, None)
                    .await
                    .map(|h| h.join("; "))
                    .map_err(|e| error_chain(&e))
            })
            .await
        });
    }

    fn assess(&self, id: CommandId, lab: LabName, replica: HostName) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let result = async {
                let state = load_state(&lab).await.map_err(|e| error_chain(&e))?;
                let (r, old) = super::promote::resolve(&state, &Subject::Host(replica.clone()))
                    .map_err(|e| error_chain(&e))?;
                super::promote::assess(&engine, &state, &r, &old)
                    .await
                    .map_err(|e| error_chain(&e))
            }
            .await;
            let failed = result.as_ref().err().cloned();
            sink(LabEvent::Assessment {
                id,
                replica,
                result,
            });
            failed.map_or(Ok(String::new()), Err)
        });
    }

    fn promote(
        &self,
        id: CommandId,
        lab: LabName,
        replica: HostName,
        planned: bool,
        accept_loss: bool,
    ) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let mut roles = None;
            let target = Subject::Host(replica);
            let result = with_state(&lab, &sink, async |state| {
                let done =
                    super::promote::promote(&engine, state, &target, planned, accept_loss).await;
                // Roles may have changed even when a later step failed.
                roles = Some(Box::new(state.topology.clone()));
                let done = done.map_err(|e| error_chain(&e))?;
                Ok(done
                    .steps
                    .iter()
                    .map(|(t, s)| format!("{:.3} s {s}", t.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join("; "))
            })
            .await;
            if let Some(topology) = roles {
                sink(LabEvent::Roles {
                    lab: lab.clone(),
                    topology,
                });
            }
            result
        });
    }

    fn scenario(&self, id: CommandId, lab: LabName, source: String) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            run_scenario(engine, id, &lab, &source, &sink).await
        });
    }

    /// A capacity ramp: refused while the app's own traffic runs (the ramp
    /// measures its own requests); `Cancel` with its id stops it.
    fn capacity(&mut self, id: CommandId, lab: LabName, p95_ms: f64, writes_percent: u8) {
        if self.traffic.contains_key(&lab) {
            self.finished(
                id,
                Err(
                    "stop the traffic first: the ramp sends and measures its own requests"
                        .to_owned(),
                ),
            );
            return;
        }
        let cancel = CancellationToken::new();
        self.cancellable.retain(|_, token| !token.is_cancelled());
        self.cancellable.insert(id, cancel.clone());
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let state = load_state(&lab).await.map_err(|e| error_chain(&e))?;
            let sizes = capacity_run::sizes(&state);
            let options = capacity_run::RampOptions {
                targets: crate::capacity::Targets {
                    p95_ms,
                    max_errors: 0.01,
                },
                writes_percent,
                ..capacity_run::RampOptions::default()
            };
            let each = |step: &crate::capacity::Step| {
                // A served step lists the hosts' CPU; a missed one names
                // what ran out.
                let cpu = if step.missed(options.targets).is_some() {
                    crate::capacity::bottleneck(step, &sizes)
                } else {
                    crate::capacity::cpu_summary(step, &sizes)
                };
                sink(LabEvent::CapacityStep {
                    id,
                    step: Box::new(step.clone()),
                    bottleneck: cpu,
                });
            };
            let steps = capacity_run::ramp(&engine, &state, &options, &cancel, &each)
                .await
                .map_err(|e| error_chain(&e))?;
            Ok(crate::capacity::summary(&steps, options.targets, &sizes))
        });
    }

    /// Applies a design to a running lab; afterwards (whatever the
    /// outcome) the app learns what the lab records and the monitor
    /// follows the lab's new hosts.
    fn apply(&mut self, id: CommandId, lab: LabName, topology: Box<Topology>, yes: bool) {
        let cancel = CancellationToken::new();
        self.cancellable.retain(|_, token| !token.is_cancelled());
        self.cancellable.insert(id, cancel.clone());
        let (engine, sink, back) = (self.engine_for(&lab), self.sink.clone(), self.back.clone());
        self.spawn(id, async move {
            let report = |progress| sink(LabEvent::Applying { id, progress });
            let result =
                super::apply::apply(&engine, lab.as_str(), &topology, yes, &cancel, &report).await;
            if let Ok(state) = load_state(&lab).await {
                sink(LabEvent::Applied {
                    lab: lab.clone(),
                    topology: Box::new(state.topology),
                    entry_points: state.entry_points,
                });
            }
            let _ = back.send(Back::Applied(lab.clone()));
            let applied = result.map_err(|e| error_chain(&e))?;
            let total: f64 = applied
                .took
                .iter()
                .map(std::time::Duration::as_secs_f64)
                .sum();
            Ok(if applied.plan.actions.is_empty() {
                format!("lab {lab}: no changes")
            } else {
                format!(
                    "lab {lab}: {} change(s) applied in {total:.2} s",
                    applied.plan.actions.len()
                )
            })
        });
    }

    /// A rolling deploy; `Cancel` with its id stops it after the current
    /// batch (and rolls back).
    fn deploy(
        &mut self,
        id: CommandId,
        lab: LabName,
        request: crate::deploy::Request,
        max_error_percent: f64,
    ) {
        let cancel = CancellationToken::new();
        self.cancellable.retain(|_, token| !token.is_cancelled());
        self.cancellable.insert(id, cancel.clone());
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let report = |progress| sink(LabEvent::Applying { id, progress });
            let watch = super::deploy::Watch {
                max_error_percent,
                ..super::deploy::Watch::default()
            };
            let result =
                super::deploy::deploy(&engine, lab.as_str(), &request, watch, &cancel, &report)
                    .await;
            if let Ok(state) = load_state(&lab).await {
                sink(LabEvent::Applied {
                    lab: lab.clone(),
                    topology: Box::new(state.topology),
                    entry_points: state.entry_points,
                });
            }
            let deployed = result.map_err(|e| error_chain(&e))?;
            match deployed.outcome {
                super::deploy::Outcome::Completed => Ok(format!(
                    "lab {lab}: {} deployed in {:.2} s",
                    deployed.plan.version,
                    deployed.total.as_secs_f64()
                )),
                super::deploy::Outcome::RolledBack { why, hosts } => Err(format!(
                    "deploy of {} stopped: {why}; {} host(s) rolled back",
                    deployed.plan.version,
                    hosts.len()
                )),
            }
        });
    }

    /// Reads what every database of `lab` holds, for the app to check its
    /// history against: one database that cannot be read is named with
    /// why, and the others are still read.
    fn check_data(&self, id: CommandId, lab: LabName) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let state = load_state(&lab).await.map_err(|e| error_chain(&e))?;
            let data = super::replication::holdings(&engine, &state).await;
            let (at, holdings) = (data.at, data.held);
            let read = holdings.len();
            let unreadable: Vec<(HostName, String)> = data
                .unreadable
                .into_iter()
                .map(|(db, e)| (db, error_chain(&e)))
                .collect();
            let failed = unreadable.len();
            sink(LabEvent::DataRead {
                id,
                lab: lab.clone(),
                at,
                holdings,
                unreadable,
            });
            if read == 0 && failed > 0 {
                return Err(format!("lab {lab}: no database could be read"));
            }
            Ok(format!(
                "lab {lab}: read the data of {read} database(s){}",
                if failed > 0 {
                    format!(", {failed} unreadable")
                } else {
                    String::new()
                }
            ))
        });
    }

    fn logs(&self, id: CommandId, lab: LabName, component: ComponentId) {
        let (engine, sink) = (self.engine_for(&lab), self.sink.clone());
        self.spawn(id, async move {
            let name = plan::container_name(
                lab.as_str(),
                &component.host,
                Part::Component(component.kind),
            );
            let text = engine.log_tail(&name, 40).await;
            sink(LabEvent::Logs { component, text });
            Ok(String::new())
        });
    }
}

/// Reads a lab's state off the runtime's threads; no state file is an error.
async fn load_state(lab: &LabName) -> Result<LabState, StateError> {
    let name = lab.to_string();
    let missing = StateError::Missing { lab: name.clone() };
    match tokio::task::spawn_blocking(move || LabState::load(&name)).await {
        Ok(Ok(Some(state))) => Ok(state),
        Ok(Ok(None)) => Err(missing),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(StateError::Io {
            path: super::state::state_path(lab.as_str()),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// Runs a scenario for the app: its lines and its requests go to the UI.
async fn run_scenario(
    engine: Engine,
    id: CommandId,
    lab: &LabName,
    source: &str,
    sink: &Sink,
) -> Result<String, String> {
    let scenario = crate::scenario::parse(source)?;
    let state = load_state(lab).await.map_err(|e| error_chain(&e))?;
    let say_sink = sink.clone();
    let say = move |line: String| say_sink(LabEvent::ScenarioLine { id, line });
    let observations = live_sink(lab, sink);
    let observer: super::scenario_run::TraceObserver =
        Arc::new(move |batch| observations(vec![Observation::Requests(batch)]));
    let outcome = super::scenario_run::run(engine, state, &scenario, &say, Some(observer)).await;
    // The faults the run left (or healed), whatever its outcome.
    if let Ok(state) = load_state(lab).await {
        sink(LabEvent::Faults {
            lab: lab.clone(),
            faults: state.faults,
        });
    }
    let outcome = outcome.map_err(|e| error_chain(&e))?;
    if let Some(topology) = outcome.topology.clone() {
        sink(LabEvent::Roles {
            lab: lab.clone(),
            topology: Box::new(topology),
        });
    }
    for line in outcome.report.lines() {
        say(line.to_owned());
    }
    if outcome.failed.is_empty() && outcome.in_doubt.is_empty() {
        Ok(format!(
            "scenario {}: {} expectation(s) held",
            scenario.name, outcome.passed
        ))
    } else if outcome.failed.is_empty() {
        Ok(format!(
            "scenario {}: {} expectation(s) held, {} not judged (the machine spoiled the \
             measurement): {}",
            scenario.name,
            outcome.passed,
            outcome.in_doubt.len(),
            outcome.in_doubt.join("; ")
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

/// Runs `work` on lab `lab`'s state under the lab's lock, saves the state
/// afterwards (what was done is recorded even when a later step failed),
/// and tells the app which faults are now in effect.
async fn with_state(
    lab: &LabName,
    sink: &Sink,
    work: impl AsyncFnOnce(&mut Locked) -> Result<String, String>,
) -> Result<String, String> {
    let mut state = super::state::lock(lab.as_str())
        .await
        .map_err(|e| error_chain(&e))?;
    let result = work(&mut state).await;
    sink(LabEvent::Faults {
        lab: lab.clone(),
        faults: state.faults.clone(),
    });
    let saved = tokio::task::spawn_blocking(move || state.save())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| error_chain(&e)));
    match (result, saved) {
        (Ok(text), Ok(())) => Ok(text),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(format!("done, but the lab's state could not be saved: {e}")),
    }
}

/// The sink observations of `lab` go to.
fn live_sink(lab: &LabName, sink: &Sink) -> Arc<dyn Fn(Vec<Observation>) + Send + Sync> {
    let lab = lab.clone();
    let sink = sink.clone();
    Arc::new(move |observations| {
        sink(LabEvent::Live {
            lab: lab.clone(),
            observations,
        });
    })
}

fn describe(settings: &TrafficSettings) -> String {
    let rate = match settings.rate {
        traffic::Rate::PerSecond(r) => format!("{r:.0} req/s"),
        traffic::Rate::FlatOut { concurrency } => format!("flat out ({concurrency} in flight)"),
    };
    format!(
        "{rate}, {}% writes{}",
        settings.writes_percent,
        if settings.read_back {
            ", each write read back (read-your-writes probe)"
        } else {
            ""
        }
    )
}
