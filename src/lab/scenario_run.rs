//! Runs a [`Scenario`] against a running lab: its own monitor and traffic,
//! each step in turn (the line it says printed first), expectations checked
//! as they come, and the stopwatch report of every fault and promotion at
//! the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::capacity_run::{self, RampError, RampOptions};
use super::docker::Engine;
use super::state::{LabState, Locked};
use super::traffic::{self, Rate, TrafficHandle, TrafficSettings};
use super::{fault, monitor, orchestrator, promote};
use crate::capacity::{self, Targets};
use crate::consistency::{self, Check};
use crate::live::{self, LiveState, Millis, Observation, RequestTrace};
use crate::model::{ComponentId, ComponentKind, HostName, HostSize, Role};
use crate::scenario::{CapacityStep, Expectation, Scenario, Step};
use crate::stopwatch::{self, Incident, Measured};

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Expectations that held.
    pub passed: usize,
    /// Expectations that failed, with what was seen.
    pub failed: Vec<String>,
    /// Expectations that did not hold on a measurement the hypervisor
    /// spoiled (a capacity ramp in doubt, [`capacity::in_doubt`]): not
    /// judged, with what was seen and why.
    pub in_doubt: Vec<String>,
    /// The stopwatch of every fault and promotion.
    pub measured: Vec<Measured>,
    /// The report, as Markdown.
    pub report: String,
    /// The lab's topology afterwards (roles change with promotions).
    pub topology: Option<crate::model::Topology>,
    /// The data checked against the history at the end (when writes or
    /// read-your-writes probes were sent).
    pub check: Option<Check>,
    /// Every request sent, and the incident each fell in (label and start).
    pub history: Vec<RequestTrace>,
}

/// Why a scenario stopped before its end (an expectation that fails does
/// not stop it: it is reported in the outcome).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A step names something the lab does not have (checked before any
    /// step runs).
    #[error(transparent)]
    Target(#[from] fault::Misfit),
    /// A promotion step cannot promote what it names, or failed.
    #[error(transparent)]
    Promote(#[from] promote::PromoteError),
    /// A fault or heal step failed.
    #[error(transparent)]
    Fault(#[from] fault::FaultError),
    /// The lab's state could not be read or saved.
    #[error(transparent)]
    State(#[from] super::state::StateError),
    /// A capacity ramp could not run.
    #[error("the capacity ramp failed: {0}")]
    Capacity(#[from] RampError),
    /// An apply step's design cannot be found or read.
    #[error("apply(file: \"{file}\"): {why}")]
    Design {
        /// The file the step names.
        file: String,
        /// Why it is unusable.
        why: String,
    },
    /// An apply step was refused or failed.
    #[error("the apply step failed: {0}")]
    Apply(#[from] super::error::LabError),
}

/// The design an `apply` step names: one shipped beside the scenarios, a
/// file beside the scenario's file (or as given), or a preset.
pub fn design(
    file: &str,
    folder: Option<&std::path::Path>,
) -> Result<crate::model::Topology, ScenarioError> {
    let unusable = |why: String| ScenarioError::Design {
        file: file.to_owned(),
        why,
    };
    let problems = |p: Vec<crate::model::Problem>| {
        unusable(
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    if let Some((_, text)) = crate::scenario::DESIGNS
        .iter()
        .find(|(name, _)| *name == file)
    {
        return crate::preset::parse(text.as_bytes()).map_err(problems);
    }
    let beside = folder.map(|f| f.join(file));
    let arg = match &beside {
        Some(path) if path.is_file() => path.to_string_lossy().into_owned(),
        _ => file.to_owned(),
    };
    crate::preset::load_file_or_preset(&arg).map_err(|e| unusable(e.to_string()))
}

/// Why the data could not be checked.
#[derive(Debug, thiserror::Error)]
enum CountError {
    /// The primary's data could not be read.
    #[error("the primary's data could not be read: {0}")]
    Sql(#[from] super::replication::SqlError),
    /// No primary in the lab's topology, or none was read.
    #[error("the lab has no primary to read")]
    NoPrimary,
}

/// Where a run also sends the requests it traced (the GUI's canvas).
pub type TraceObserver = Arc<dyn Fn(Vec<RequestTrace>) + Send + Sync>;

/// A capacity step's result.
struct Ramp {
    steps: Vec<capacity::Step>,
    targets: Targets,
    sizes: BTreeMap<HostName, HostSize>,
}

impl Ramp {
    fn knee(&self) -> Option<f64> {
        capacity::knee(&self.steps, self.targets).map(|k| self.steps[k].offered)
    }
}

struct Run {
    engine: Engine,
    state: LabState,
    live: Arc<Mutex<LiveState>>,
    traces: Arc<Mutex<Vec<RequestTrace>>>,
    traffic: Option<TrafficHandle>,
    incidents: Vec<Incident>,
    /// When the lab was last changed (fault, heal, promotion).
    changed: Millis,
    healed: Option<Millis>,
    /// Each capacity step's result, by label, in the order they ran.
    ramps: Vec<(String, Ramp)>,
    /// Where `apply` steps find their designs.
    folder: Option<std::path::PathBuf>,
    /// Each promotion's predicted loss, by its incident's index:
    /// transactions the replica
    /// never received (`None` inside: unknown).
    predicted: BTreeMap<usize, Option<u64>>,
    /// The orchestrator, while the lab's failover is automatic (dropping
    /// the guard stops it), and what it said not yet said by the run.
    orchestrator: Option<tokio_util::sync::DropGuard>,
    notes: Arc<Mutex<Vec<orchestrator::Note>>>,
    /// Automatic failovers so far: (when the fault before it began, the
    /// failover).
    failovers: Vec<(Millis, orchestrator::Failed)>,
    /// How the last deploy ended.
    deployed: Option<super::deploy::Outcome>,
}

impl Run {
    /// Runs `work` on the lab's state under its lock, saves it, and keeps
    /// the state as it is now (another process may have changed it since
    /// the last step).
    async fn change<T>(
        &mut self,
        work: impl AsyncFnOnce(&Engine, &mut Locked) -> T,
    ) -> Result<T, ScenarioError> {
        let mut locked = super::state::lock(&self.state.lab).await?;
        let out = work(&self.engine, &mut locked).await;
        locked.save()?;
        self.state = locked.snapshot();
        Ok(out)
    }

    fn traces(&self) -> Vec<RequestTrace> {
        crate::locked(&self.traces).clone()
    }

    /// Starts the orchestrator when the lab's failover is automatic (and
    /// stops it when it is not).
    fn orchestrate(&mut self) {
        if self.state.topology.databases.failover.is_manual() {
            self.orchestrator = None;
            return;
        }
        if self.orchestrator.is_some() {
            return;
        }
        let cancel = CancellationToken::new();
        self.orchestrator = Some(cancel.clone().drop_guard());
        let notes = self.notes.clone();
        let (engine, lab) = (self.engine.clone(), self.state.lab.clone());
        tokio::spawn(async move {
            let sink = notes.clone();
            let sink: orchestrator::NoteSink = Arc::new(move |n| crate::locked(&sink).push(n));
            if let Err(e) = orchestrator::run(engine, lab, cancel, sink).await {
                crate::locked(&notes).push(orchestrator::Note {
                    at: live::now(),
                    kind: orchestrator::NoteKind::Failed,
                    text: format!("the orchestrator stopped: {e}"),
                    failover: None,
                });
            }
        });
    }

    /// Says what the orchestrator said since the last call, and records
    /// each failover it made as a promotion incident, from the fault that
    /// caused it.
    async fn orchestrator_news(&mut self, say: &(dyn Fn(String) + Sync)) {
        let notes: Vec<orchestrator::Note> = std::mem::take(&mut *crate::locked(&self.notes));
        for note in notes {
            say(format!("  orchestrator: {}", note.text));
            let Some(failed) = note.failover else {
                continue;
            };
            let fault_at = self
                .incidents
                .iter()
                .rev()
                .find(|i| !i.promotion && i.target.is_some())
                .map_or(failed.first_signal, |i| i.at);
            self.predicted.insert(self.incidents.len(), failed.missing);
            self.incidents.push(Incident {
                label: format!("automatic failover to {}", failed.replica),
                host: failed.replica.to_string(),
                at: failed.first_signal.max(fault_at),
                promotion: true,
                check: None,
                target: None,
                healed: None,
            });
            self.changed = failed.promoted;
            self.failovers.push((fault_at, *failed));
            if let Ok(Some(state)) = LabState::load(&self.state.lab) {
                self.state = state;
            }
        }
    }

    /// Waits `seconds`, saying the orchestrator's news as it comes.
    async fn wait(&mut self, seconds: f64, say: &(dyn Fn(String) + Sync)) {
        let end = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
        loop {
            self.orchestrator_news(say).await;
            let now = tokio::time::Instant::now();
            if now >= end {
                break;
            }
            tokio::time::sleep((end - now).min(Duration::from_millis(100))).await;
        }
    }

    /// A rolling deploy, as one incident of the report.
    async fn deploy(
        &mut self,
        request: crate::deploy::Request,
        max_errors: f64,
        say: &(dyn Fn(String) + Sync),
    ) -> Result<(), ScenarioError> {
        let at = live::now();
        let report = |p: crate::protocol::ApplyProgress| match p {
            crate::protocol::ApplyProgress::Started { summary, .. } => say(format!("  {summary}")),
            crate::protocol::ApplyProgress::Note(text) => say(format!("    {text}")),
            _ => {}
        };
        let watch = super::deploy::Watch {
            max_error_percent: max_errors,
            ..super::deploy::Watch::default()
        };
        let done = super::deploy::deploy(
            &self.engine,
            &self.state.lab,
            &request,
            watch,
            &CancellationToken::new(),
            &report,
        )
        .await?;
        if let Some(state) = LabState::load(&self.state.lab)? {
            self.state = state;
        }
        match &done.outcome {
            super::deploy::Outcome::Completed => say(format!(
                "  deployed {} in {:.2} s",
                request.version,
                done.total.as_secs_f64()
            )),
            super::deploy::Outcome::RolledBack { why, hosts } => say(format!(
                "  deploy of {} stopped: {why}; {} host(s) rolled back in {:.2} s",
                request.version,
                hosts.len(),
                done.rollback_took.unwrap_or_default().as_secs_f64()
            )),
        }
        self.incidents.push(Incident {
            label: format!("deploy {}", request.version),
            host: String::new(),
            at,
            promotion: false,
            check: None,
            target: None,
            healed: Some(live::now()),
        });
        self.changed = live::now();
        self.deployed = Some(done.outcome);
        Ok(())
    }

    /// How many databases take writes, and what each said.
    async fn writable(&self) -> (u32, Vec<String>) {
        let mut n = 0;
        let mut said = Vec::new();
        for (h, _) in self.state.topology.databases() {
            match super::replication::query(
                &self.engine,
                &self.state,
                &h.name,
                "SELECT @@read_only",
            )
            .await
            {
                Ok(v) if v.trim() == "0" => {
                    n += 1;
                    said.push(format!("{}/db writable", h.name));
                }
                Ok(_) => said.push(format!("{}/db read-only", h.name)),
                Err(_) => said.push(format!("{}/db does not answer", h.name)),
            }
        }
        (n, said)
    }

    fn timeline(&self) -> Vec<live::Transition> {
        crate::locked(&self.live).timeline().cloned().collect()
    }

    fn slow_ms(&self) -> f32 {
        let traces = self.traces();
        let first = self.incidents.first().map_or(Millis::MAX, |i| i.at);
        let baseline: Vec<&RequestTrace> = traces.iter().filter(|t| t.at < first).collect();
        stopwatch::slow_threshold(&baseline)
    }

    fn measure_last(&self) -> Option<Measured> {
        let last = self.incidents.len().checked_sub(1)?;
        Some(stopwatch::measure(
            &self.incidents[last],
            stopwatch::window_end(&self.incidents, last),
            &self.traces(),
            &self.timeline(),
            self.slow_ms(),
        ))
    }

    /// Checks the history so far against what every database holds now.
    /// Writes still in flight when the data is read count as unknown.
    async fn check_data(&self) -> Result<Check, CountError> {
        let data = super::replication::holdings(&self.engine, &self.state).await;
        let check = consistency::check_as_of(&self.traces(), &data.held, data.at);
        if check.primary().is_none() {
            // The primary could not be read (why), or there is none.
            let primary = self
                .state
                .topology
                .databases()
                .find(|(_, d)| d.role == Role::Primary)
                .map(|(h, _)| &h.name);
            return Err(data
                .unreadable
                .into_iter()
                .find(|(db, _)| Some(db) == primary)
                .map_or(CountError::NoPrimary, |(_, e)| e.into()));
        }
        Ok(check)
    }

    /// Acknowledged writes the current primary lacks.
    async fn lost_writes(&self) -> Result<u64, CountError> {
        self.check_data().await?.lost().ok_or(CountError::NoPrimary)
    }

    /// Runs one step, saying what it does; an expectation's result goes
    /// into `outcome`.
    async fn step(
        &mut self,
        step: &Step,
        say: &(dyn Fn(String) + Sync),
        observer: &Option<TraceObserver>,
        outcome: &mut Outcome,
    ) -> Result<(), ScenarioError> {
        match step {
            Step::Say(text) => say(format!("▶ {text}")),
            Step::Traffic {
                rate,
                writes,
                read_back,
            } => {
                let settings = TrafficSettings {
                    rate: Rate::PerSecond(*rate),
                    writes_percent: *writes,
                    read_back: *read_back,
                };
                match &self.traffic {
                    Some(t) => t.set(settings),
                    None => {
                        let traces = self.traces.clone();
                        let observer = observer.clone();
                        self.traffic = Some(traffic::spawn(
                            traffic::targets(&self.state),
                            settings,
                            Arc::new(move |batch: Vec<RequestTrace>| {
                                if let Some(o) = &observer {
                                    o(batch.clone());
                                }
                                crate::locked(&traces).extend(batch);
                            }),
                        ));
                    }
                }
                say(format!(
                    "  traffic: {rate} req/s, {writes}% writes{}",
                    if *read_back {
                        ", each acknowledged write read back by its client"
                    } else {
                        ""
                    }
                ));
            }
            Step::StopTraffic => {
                if let Some(t) = self.traffic.take() {
                    t.finish().await;
                }
                say("  traffic stopped".to_owned());
            }
            Step::Wait(s) => self.wait(*s, say).await,
            Step::Deploy {
                version,
                batch,
                canary,
                pause,
                max_errors,
            } => {
                let request = crate::deploy::Request {
                    version: version.clone(),
                    batch: *batch,
                    canary: canary.as_deref().map(HostName::new),
                    pause_s: *pause,
                };
                self.deploy(request, *max_errors, say).await?;
            }
            Step::Fault { target, kind } => {
                let kind = *kind;
                let at = live::now();
                let done = self
                    .change(async |e, s| fault::inject(e, s, target, kind).await)
                    .await??;
                self.incidents.push(Incident {
                    label: format!("{target} {kind}"),
                    host: target.host().to_string(),
                    at,
                    promotion: false,
                    check: Some(done.check.to_string()),
                    target: Some(target.clone()),
                    healed: None,
                });
                self.changed = at;
                say(format!("  fault: {done}"));
            }
            Step::Heal { target } => {
                let at = live::now();
                let healed = self
                    .change(async |e, s| fault::heal(e, s, target).await)
                    .await?;
                for line in healed? {
                    say(format!("  {line}"));
                }
                stopwatch::heal(&mut self.incidents, Some(target), at);
                self.healed = Some(at);
                self.changed = at;
            }
            Step::HealAll => {
                let at = live::now();
                let healed = self
                    .change(async |e, s| fault::heal_all(e, s).await)
                    .await?;
                for line in healed? {
                    say(format!("  {line}"));
                }
                stopwatch::heal(&mut self.incidents, None, at);
                self.healed = Some(at);
                self.changed = at;
            }
            Step::RegionFault { region, kind } => {
                let kind = *kind;
                let at = live::now();
                let done = self
                    .change(async |e, s| super::region::inject(e, s, region, kind).await)
                    .await??;
                self.incidents.push(Incident {
                    label: format!("region {region} {kind}"),
                    host: format!("region {region}"),
                    at,
                    promotion: false,
                    check: Some(done.check.to_string()),
                    target: None,
                    healed: None,
                });
                self.changed = at;
                say(format!("  fault: {done}"));
            }
            Step::HealRegion { region } => {
                let at = live::now();
                let healed = self
                    .change(async |e, s| super::region::heal(e, s, region, None).await)
                    .await?;
                for line in healed? {
                    say(format!("  {line}"));
                }
                let label = format!("region {region} ");
                for i in self.incidents.iter_mut().filter(|i| {
                    i.healed.is_none() && i.target.is_none() && i.label.starts_with(&label)
                }) {
                    i.healed = Some(at);
                }
                self.healed = Some(at);
                self.changed = at;
            }
            Step::Promote {
                replica,
                planned,
                accept_loss,
            } => {
                let at = live::now();
                let done = self
                    .change(async |e, s| {
                        promote::promote(e, s, replica, *planned, *accept_loss).await
                    })
                    .await??;
                for (t, line) in &done.steps {
                    say(format!("  {:>6.3} s  {line}", t.as_secs_f64()));
                }
                self.predicted
                    .insert(self.incidents.len(), done.assessment.missing);
                self.incidents.push(Incident {
                    label: format!(
                        "promote {replica}{}",
                        if *planned { " (planned)" } else { "" }
                    ),
                    host: replica.host().to_string(),
                    at,
                    promotion: true,
                    check: None,
                    target: None,
                    healed: None,
                });
                self.changed = at;
            }
            Step::Capacity(c) => self.capacity(c, say).await?,
            Step::Apply { file, yes } => {
                self.apply(file, *yes, say).await?;
                self.orchestrate();
            }
            Step::Expect(e) => {
                self.orchestrator_news(say).await;
                let (ok, seen) = self.check(e).await;
                if ok {
                    outcome.passed += 1;
                    say(format!("  ✔ {e} ({seen})"));
                } else if let Some(why) = self.doubt(e) {
                    say(format!("  ? {e}: not judged, {why} ({seen})"));
                    outcome.in_doubt.push(format!("{e}: {why} ({seen})"));
                } else {
                    say(format!("  ✖ {e}: {seen}"));
                    outcome.failed.push(format!("{e}: {seen}"));
                }
            }
        }
        Ok(())
    }

    /// Applies a design (`topolab apply`), saying each action with its
    /// time and the requests that failed or were slowed during it; the
    /// whole apply is one incident of the report.
    async fn apply(
        &mut self,
        file: &str,
        yes: bool,
        say: &(dyn Fn(String) + Sync),
    ) -> Result<(), ScenarioError> {
        let design = design(file, self.folder.as_deref())?;
        let at = live::now();
        let actions: Mutex<Vec<(Millis, Millis, String)>> = Mutex::default();
        let report = |p: crate::protocol::ApplyProgress| match p {
            crate::protocol::ApplyProgress::Started {
                summary, impact, ..
            } => {
                crate::locked(&actions).push((
                    live::now(),
                    Millis::MAX,
                    format!("[{impact}] {summary}"),
                ));
            }
            crate::protocol::ApplyProgress::Finished { .. } => {
                if let Some(last) = crate::locked(&actions).last_mut() {
                    last.1 = live::now();
                }
            }
            crate::protocol::ApplyProgress::Note(text) => say(format!("    {text}")),
            crate::protocol::ApplyProgress::Explain(_) => {}
        };
        let applied = super::apply::apply(
            &self.engine,
            &self.state.lab,
            &design,
            yes,
            &CancellationToken::new(),
            &report,
        )
        .await?;
        let end = live::now();
        if let Some(state) = super::state::LabState::load(&self.state.lab)? {
            self.state = state;
        }
        if applied.plan.actions.is_empty() {
            say(format!("  apply {file}: no changes"));
        }
        // Requests sent during the last action answer after it ends.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let traces = self.traces();
        let slow = self.slow_ms();
        let timeline = self.timeline();
        for (i, (from, until, label)) in crate::locked(&actions).iter().enumerate() {
            let incident = Incident {
                label: label.clone(),
                host: String::new(),
                at: *from,
                promotion: false,
                check: None,
                target: None,
                healed: Some(*until),
            };
            let m = stopwatch::measure(&incident, *until, &traces, &timeline, slow);
            say(format!(
                "  {}. {label}: {:.2} s, {} failed, {} slowed",
                i + 1,
                until.saturating_sub(*from) as f64 / 1000.0,
                m.failed.count,
                m.slowed.count
            ));
        }
        // A web server that joined: when it served its first request.
        for action in &applied.plan.actions {
            if let crate::change::Step::AddHost { host, .. } = &action.step {
                let first = traces
                    .iter()
                    .filter(|t| t.ok() && t.web.as_ref() == Some(&host.name))
                    .map(|t| t.done())
                    .min();
                if let Some(first) = first {
                    say(format!(
                        "  {} served its first request {:.2} s after the apply began",
                        host.name,
                        first.saturating_sub(at) as f64 / 1000.0
                    ));
                }
            }
        }
        self.incidents.push(Incident {
            label: format!("apply {file}"),
            host: String::new(),
            at,
            promotion: false,
            check: None,
            target: None,
            healed: None,
        });
        self.changed = end;
        Ok(())
    }

    /// Ramps the rate as `topolab bench capacity` does, saying each step,
    /// and keeps the result under the step's label.
    async fn capacity(
        &mut self,
        c: &CapacityStep,
        say: &(dyn Fn(String) + Sync),
    ) -> Result<(), ScenarioError> {
        let options = RampOptions {
            targets: Targets {
                p95_ms: c.p95_ms,
                ..Targets::default()
            },
            writes_percent: c.writes,
            step: Duration::from_secs_f64(c.step_seconds),
            start_rate: c.start_rate,
            ..RampOptions::default()
        };
        say(format!(
            "  capacity \"{}\": ramping from {} req/s, {}% writes, until p95 > {} ms or > 1% errors",
            c.label, c.start_rate, c.writes, c.p95_ms
        ));
        say(format!("  {}", capacity::STEP_HEADER));
        let each = |s: &capacity::Step| say(format!("  {}", s.line(options.targets)));
        let steps = capacity_run::ramp(
            &self.engine,
            &self.state,
            &options,
            &CancellationToken::new(),
            &each,
        )
        .await?;
        let ramp = Ramp {
            steps,
            targets: options.targets,
            sizes: capacity_run::sizes(&self.state),
        };
        say(format!(
            "  {}: {}",
            c.label,
            capacity::summary(&ramp.steps, ramp.targets, &ramp.sizes)
        ));
        self.ramps.push((c.label.clone(), ramp));
        Ok(())
    }

    fn ramp(&self, label: &str) -> Option<&Ramp> {
        self.ramps.iter().find(|(l, _)| l == label).map(|(_, r)| r)
    }

    /// Why a capacity expectation that did not hold cannot be judged, or
    /// `None` when its failure stands. A knee the hypervisor spoiled
    /// ([`capacity::in_doubt`]) can only be too low. So a knee ratio that
    /// failed is not judged when the ramp whose knee is divided (`of`) is
    /// in doubt and no quiet miss bounds that knee below the ratio, or when
    /// the other ramp (`over`) has no knee because of the hypervisor; a
    /// bottleneck, when the step it was read at missed while the hypervisor
    /// took the machine (or, with no knee, when the ramp is in doubt).
    /// `None` for other expectations.
    fn doubt(&self, expectation: &Expectation) -> Option<String> {
        let why =
            |label: &str, step: &capacity::Step| format!("{label} is {}", capacity::doubt(step));
        let spoiled = |label: &str| {
            let ramp = self.ramp(label)?;
            let step = capacity::in_doubt(&ramp.steps, ramp.targets)?;
            Some((ramp, why(label, step)))
        };
        match expectation {
            Expectation::KneeRatioAtLeast { of, over, ratio } => {
                let below = self.ramp(over).and_then(Ramp::knee);
                let Some(below) = below else {
                    return spoiled(over).map(|(_, why)| why);
                };
                let (ramp, why) = spoiled(of)?;
                let could_reach = capacity::quiet_bound(&ramp.steps, ramp.targets)
                    .is_none_or(|bound| bound / below >= *ratio);
                could_reach.then_some(why)
            }
            Expectation::BottleneckOn { label, .. } => {
                let ramp = self.ramp(label)?;
                match capacity::saturated_step(&ramp.steps, ramp.targets) {
                    Some(step) if step.disturbed(ramp.targets) => Some(why(label, step)),
                    Some(_) => None,
                    None => spoiled(label).map(|(_, why)| why),
                }
            }
            _ => None,
        }
    }

    /// Whether `expectation` holds, and what was seen.
    async fn check(&self, expectation: &Expectation) -> (bool, String) {
        let measured = self.measure_last();
        match expectation {
            Expectation::FailedAtMost(n) => {
                let failed = measured.map_or(0, |m| m.failed.count);
                (failed <= *n, format!("{failed} failed"))
            }
            Expectation::FailedPercentAtMost(p) => {
                let (failed, all) = measured.map_or((0, 0), |m| (m.failed.count, m.requests));
                let pct = 100.0 * failed as f64 / all.max(1) as f64;
                (pct <= *p, format!("{failed} of {all} failed ({pct:.2}%)"))
            }
            Expectation::SlowedAtMost(s) => {
                let seen = measured.map_or(0.0, |m| m.slowed.seconds());
                (seen <= *s, format!("slowed for {seen:.3} s"))
            }
            Expectation::DownWithin { host, seconds } => {
                let Some(incident) = self.incidents.last() else {
                    return (false, "no fault happened".to_owned());
                };
                let backend = self
                    .state
                    .topology
                    .load_balancers()
                    .any(|(_, lb)| lb.backends.iter().any(|b| b.host.as_str() == host));
                let found = self.timeline().into_iter().find(|t| {
                    t.at >= incident.at
                        && if backend {
                            t.text.contains(&format!(" marked {host} DOWN"))
                        } else {
                            t.subject
                                .as_ref()
                                .is_some_and(|s| s.host().as_str() == host)
                                && t.health == Some(live::Health::Down)
                        }
                });
                match found {
                    Some(t) => {
                        let after = (t.at - incident.at) as f64 / 1000.0;
                        (after <= *seconds, format!("after {after:.3} s: {}", t.text))
                    }
                    None => (false, format!("{host} was not reported down")),
                }
            }
            Expectation::UpWithin { host, seconds } => {
                let Some(healed) = self.healed else {
                    return (false, "nothing was healed".to_owned());
                };
                let found = self
                    .timeline()
                    .into_iter()
                    .find(|t| t.at >= healed && t.text.contains(&format!(" marked {host} UP")));
                match found {
                    Some(t) => {
                        let after = (t.at - healed) as f64 / 1000.0;
                        (after <= *seconds, format!("after {after:.3} s: {}", t.text))
                    }
                    None => (false, format!("{host} was not reported UP")),
                }
            }
            Expectation::ServedOnlyBy(hosts) => {
                let traces = self.traces();
                let from = self.changed + 1000;
                let served: BTreeSet<String> = traces
                    .iter()
                    .filter(|t| t.at >= from && t.ok())
                    .filter_map(|t| t.web.as_ref().map(ToString::to_string))
                    .collect();
                let wanted: BTreeSet<String> = hosts.iter().cloned().collect();
                let seen: Vec<String> = served.iter().cloned().collect();
                (
                    !served.is_empty() && served == wanted,
                    format!(
                        "served by {}",
                        if seen.is_empty() {
                            "nobody".to_owned()
                        } else {
                            seen.join(", ")
                        }
                    ),
                )
            }
            Expectation::LostWrites(n)
            | Expectation::LostWritesAtLeast(n)
            | Expectation::LostWritesAtMost(n) => match self.lost_writes().await {
                Ok(lost) => {
                    let ok = match expectation {
                        Expectation::LostWrites(_) => lost == *n,
                        Expectation::LostWritesAtLeast(_) => lost >= *n,
                        _ => lost <= *n,
                    };
                    (ok, format!("{lost} lost"))
                }
                Err(e) => (false, e.to_string()),
            },
            Expectation::StaleReadsAtMost(p) | Expectation::StaleReadsAtLeast(p) => {
                let since: Vec<RequestTrace> = self
                    .traces()
                    .into_iter()
                    .filter(|t| t.at >= self.changed)
                    .collect();
                let reads = consistency::check(&since, &[]).reads;
                if reads.probes == 0 {
                    return (
                        false,
                        "no read-your-writes probe was answered since the last change \
                         (traffic(..., read_back: true))"
                            .to_owned(),
                    );
                }
                let percent = reads.stale_percent();
                let ok = if matches!(expectation, Expectation::StaleReadsAtMost(_)) {
                    percent <= *p
                } else {
                    percent >= *p
                };
                (
                    ok,
                    format!("{} of {} stale ({percent:.1}%)", reads.stale, reads.probes),
                )
            }
            Expectation::KneeRatioAtLeast { of, over, ratio } => {
                let knee = |label: &str| self.ramp(label).and_then(Ramp::knee);
                match (knee(of), knee(over)) {
                    (Some(a), Some(b)) => {
                        let seen = a / b;
                        (
                            seen >= *ratio,
                            format!("{a:.0} against {b:.0} req/s: {seen:.2}×"),
                        )
                    }
                    (None, _) => (false, format!("no knee with {of}")),
                    (_, None) => (false, format!("no knee with {over}")),
                }
            }
            Expectation::BottleneckOn { label, hosts } => {
                let Some(ramp) = self.ramp(label) else {
                    return (false, format!("no capacity step labelled {label} ran"));
                };
                let Some(past) = capacity::saturated_step(&ramp.steps, ramp.targets) else {
                    return (false, format!("no knee with {label}"));
                };
                let out = capacity::saturated_hosts(past, &ramp.sizes);
                let all = hosts.iter().all(|h| out.iter().any(|o| o.as_str() == h));
                (
                    all,
                    format!(
                        "at {:.0} req/s: {}",
                        past.offered,
                        capacity::bottleneck(past, &ramp.sizes)
                    ),
                )
            }
            Expectation::DeployCompleted | Expectation::DeployRolledBack => {
                let want = matches!(expectation, Expectation::DeployCompleted);
                match &self.deployed {
                    None => (false, "no deploy ran".to_owned()),
                    Some(super::deploy::Outcome::Completed) => (want, "completed".to_owned()),
                    Some(super::deploy::Outcome::RolledBack { why, .. }) => {
                        (!want, format!("rolled back: {why}"))
                    }
                }
            }
            Expectation::EveryAppRuns(version) => self.every_app_runs(version),
            Expectation::PromotedAutomaticallyWithin(s) => {
                let fault = self
                    .incidents
                    .iter()
                    .rev()
                    .find(|i| !i.promotion && i.target.is_some())
                    .map(|i| i.at);
                let Some(fault) = fault else {
                    return (false, "no fault happened".to_owned());
                };
                match self.failovers.iter().find(|(from, _)| *from == fault) {
                    Some((_, f)) => {
                        let after = f.promoted.saturating_sub(fault) as f64 / 1000.0;
                        (
                            after <= *s,
                            format!(
                                "{}/db promoted {after:.3} s after the fault (detected after {:.3} s)",
                                f.replica,
                                f.decided.saturating_sub(fault) as f64 / 1000.0
                            ),
                        )
                    }
                    None => (
                        false,
                        "no automatic failover after the last fault".to_owned(),
                    ),
                }
            }
            Expectation::WritableDatabases(n) => {
                let (writable, said) = self.writable().await;
                (writable == *n, said.join(", "))
            }
            Expectation::ResolvesTo(hosts) => self.resolves_to(hosts).await,
            Expectation::VipHeldBy(host) => self.vip_held_by(host).await,
            Expectation::ServedFromCacheForAtMost(s) => {
                let Some(fault) = self.incidents.last().map(|i| i.at) else {
                    return (false, "no fault happened".to_owned());
                };
                let traces = self.traces();
                let after: Vec<&RequestTrace> = traces.iter().filter(|t| t.at >= fault).collect();
                let last_ok = after.iter().filter(|t| t.ok()).map(|t| t.at).max();
                let unresolved = after
                    .iter()
                    .filter(|t| {
                        t.error
                            .as_deref()
                            .is_some_and(|e| e.starts_with(live::DNS_ERROR))
                    })
                    .count();
                match last_ok {
                    Some(last) => {
                        let went_on = (last - fault) as f64 / 1000.0;
                        (
                            went_on <= *s && unresolved > 0,
                            format!(
                                "served for {went_on:.3} s after the fault, then {unresolved} request(s) could not resolve"
                            ),
                        )
                    }
                    None => (
                        false,
                        format!(
                            "no request succeeded after the fault ({unresolved} could not resolve)"
                        ),
                    ),
                }
            }
            Expectation::FirstWriteWithin(s) => match measured.filter(|m| m.incident.promotion) {
                Some(m) => match m.first_write {
                    Some(w) => {
                        let after = m.after(w);
                        (after <= *s, format!("first write after {after:.3} s"))
                    }
                    None => (false, "no write succeeded".to_owned()),
                },
                None => (false, "the last incident is not a promotion".to_owned()),
            },
        }
    }
}

impl Run {
    /// Asks each virtual IP `host` shares who holds it now.
    async fn vip_held_by(&self, host: &str) -> (bool, String) {
        let vips: Vec<_> = self
            .state
            .vips()
            .into_iter()
            .filter(|(v, _)| v.members.iter().any(|m| m.as_str() == host))
            .collect();
        if vips.is_empty() {
            return (false, format!("{host} shares no virtual IP"));
        }
        let mut ok = true;
        let mut said = Vec::new();
        for (vip, address) in vips {
            let addr = std::net::SocketAddr::from((address, vip.port));
            match super::vip::holder(addr).await {
                Ok(h) => {
                    ok &= h.as_str() == host;
                    said.push(format!("{} is on {h}", vip.label()));
                }
                Err(why) => {
                    ok = false;
                    said.push(format!("{}: {why}", vip.label()));
                }
            }
        }
        (ok, said.join("; "))
    }

    /// Asks every DNS server of the lab for the site's name now: each that
    /// answers must name exactly `hosts` (by their addresses in the lab).
    async fn resolves_to(&self, hosts: &[String]) -> (bool, String) {
        if self.state.dns_servers.is_empty() {
            return (false, "the lab has no DNS server".to_owned());
        }
        let by_address = traffic::targets(&self.state).entry_names();
        let wanted: BTreeSet<String> = hosts.iter().cloned().collect();
        let mut ok = true;
        let mut answered = 0;
        let mut said = Vec::new();
        for d in &self.state.dns_servers {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], d.port));
            let reply = tokio::time::timeout(
                super::resolver::SERVER_TIMEOUT,
                super::resolver::ask(addr, &self.state.topology.domain),
            )
            .await;
            match reply {
                Ok(Ok(super::resolver::Reply::Addresses(a))) => {
                    answered += 1;
                    let named: BTreeSet<String> = a
                        .addresses
                        .iter()
                        .map(|ip| {
                            by_address
                                .get(ip)
                                .cloned()
                                .unwrap_or_else(|| ip.to_string())
                        })
                        .collect();
                    ok &= named == wanted;
                    let list: Vec<String> = named.into_iter().collect();
                    said.push(format!("{} answers {}", d.host, list.join(", ")));
                }
                Ok(Ok(super::resolver::Reply::Other(what))) => {
                    ok = false;
                    said.push(format!("{} answers {what}", d.host));
                }
                Ok(Err(_)) | Err(_) => said.push(format!("{} does not answer", d.host)),
            }
        }
        (ok && answered > 0, said.join("; "))
    }

    /// Every app server runs `version`: the lab's record, and the last
    /// successful answer of each since the last change.
    fn every_app_runs(&self, version: &str) -> (bool, String) {
        let traces = self.traces();
        let mut ok = true;
        let mut said = Vec::new();
        for h in &self.state.topology.hosts {
            let Some(app) = h.app_server() else { continue };
            let answered = traces
                .iter()
                .filter(|t| t.at >= self.changed && t.ok() && t.app.as_ref() == Some(&h.name))
                .max_by_key(|t| t.at)
                .and_then(|t| t.version.clone());
            let right = app.release == version && answered.as_deref() == Some(version);
            ok &= right;
            said.push(format!(
                "{}: {} (answers {})",
                h.name,
                app.release,
                answered.as_deref().unwrap_or("nothing since the change")
            ));
        }
        (ok, said.join(", "))
    }
}

/// Runs `scenario` on lab `state.lab`, printing each step through `say`.
pub async fn run(
    engine: Engine,
    state: LabState,
    scenario: &Scenario,
    say: &(dyn Fn(String) + Sync),
    observer: Option<TraceObserver>,
) -> Result<Outcome, ScenarioError> {
    // Every target must exist before anything is done.
    for step in &scenario.steps {
        match step {
            Step::Fault { target, .. } | Step::Heal { target } => {
                fault::locate(&state.topology, target)?;
            }
            Step::RegionFault { region, .. } | Step::HealRegion { region } => {
                crate::protocol::faults::locate_region(&state.topology, region)?;
            }
            Step::Promote { replica, .. } => {
                promote::resolve(&state, replica)?;
            }
            Step::Apply { file, .. } => {
                design(file, scenario.folder.as_deref())?;
            }
            _ => {}
        }
    }
    let live = Arc::new(Mutex::new(LiveState::new()));
    let monitor_live = live.clone();
    let _monitor = monitor::spawn(
        engine.clone(),
        state.clone(),
        Arc::new(move |batch: Vec<Observation>| {
            let mut l = crate::locked(&monitor_live);
            for o in batch {
                l.apply(o);
            }
            // Close the seconds gone by, each with the replicas' lag as it
            // was then (the stale reads' report reads it back).
            l.tick(live::now());
        }),
    );
    let mut run = Run {
        engine,
        state,
        live,
        traces: Arc::default(),
        traffic: None,
        incidents: Vec::new(),
        changed: live::now(),
        healed: None,
        ramps: Vec::new(),
        folder: scenario.folder.clone(),
        predicted: BTreeMap::new(),
        orchestrator: None,
        notes: Arc::default(),
        failovers: Vec::new(),
        deployed: None,
    };
    run.orchestrate();
    // The monitor's first snapshot.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut outcome = Outcome::default();
    for step in &scenario.steps {
        run.step(step, say, &observer, &mut outcome).await?;
    }
    run.orchestrator_news(say).await;
    run.orchestrator = None;
    // Every request in flight reports before the data is checked: a write
    // that has no trace yet would look unexpected.
    if let Some(t) = run.traffic.take() {
        t.finish().await;
    }
    // Answers in flight and the monitor's last reports.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let traces = run.traces();
    let timeline = run.timeline();
    let slow = run.slow_ms();
    let wrote = traces.iter().any(|t| t.write || t.own.is_some());
    let check = if wrote {
        Some(run.check_data().await.map_err(|e| e.to_string()))
    } else {
        None
    };
    // Each promotion answers for the writes acknowledged since the one
    // before it: (incident, from, until).
    let mut promotions = Vec::new();
    let mut since = 0;
    for (i, incident) in run.incidents.iter().enumerate() {
        let until = stopwatch::window_end(&run.incidents, i);
        let mut m = stopwatch::measure(incident, until, &traces, &timeline, slow);
        if incident.promotion {
            m.lost_writes = check
                .as_ref()
                .and_then(|c| c.as_ref().ok())
                .and_then(|c| c.lost_between(since, incident.at));
            promotions.push((i, since, incident.at));
            since = incident.at;
        }
        outcome.measured.push(m);
    }
    outcome.report = report(scenario, &run.state.lab, &outcome, &traces, &run.ramps);
    if let Some(check) = &check {
        let lags = {
            let live = crate::locked(&run.live);
            consistency::stale_lag(&traces, |db, second| {
                live.node_series(&ComponentId::new(db, ComponentKind::Db))?
                    .buckets()
                    .find(|b| b.second == second)?
                    .lag_transactions
            })
        };
        outcome
            .report
            .push_str(&data_report(check, &run, &promotions, &lags));
    }
    outcome.check = check.and_then(Result::ok);
    outcome.history = traces;
    outcome.topology = Some(run.state.topology.clone());
    Ok(outcome)
}

/// The report's data section: the checker's counts, and each promotion's
/// predicted loss against the measured one.
fn data_report(
    check: &Result<Check, String>,
    run: &Run,
    promotions: &[(usize, Millis, Millis)],
    lags: &[consistency::StaleLag],
) -> String {
    use std::fmt::Write as _;
    let mut o = String::from("\n## Data\n\n");
    let check = match check {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(o, "The data could not be checked: {e}.");
            return o;
        }
    };
    o.push_str(&check.markdown_with_lag(lags));
    for (i, from, until) in promotions {
        let said = run
            .predicted
            .get(i)
            .and_then(|p| consistency::compare_prediction(*p, check, *from, *until));
        if let Some(said) = said {
            let _ = writeln!(o, "\n{}: {said}", run.incidents[*i].label);
        }
    }
    o
}

/// The lab report: what was run, what each incident did, what held.
fn report(
    scenario: &Scenario,
    lab: &str,
    outcome: &Outcome,
    traces: &[RequestTrace],
    ramps: &[(String, Ramp)],
) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "# Lab report: {}\n", scenario.name);
    if !scenario.description.is_empty() {
        let _ = writeln!(o, "{}\n", scenario.description);
    }
    let ok = traces.iter().filter(|t| t.ok()).count();
    let _ = writeln!(
        o,
        "Lab `{lab}`; {} requests sent, {ok} answered 2xx, {} failed.\n",
        traces.len(),
        traces.len() - ok
    );
    let _ = writeln!(o, "## Stopwatch\n");
    if outcome.measured.is_empty() {
        let _ = writeln!(o, "No fault or promotion in this scenario.\n");
    }
    for m in &outcome.measured {
        let _ = writeln!(o, "{}", stopwatch::report(m));
    }
    if !ramps.is_empty() {
        let _ = writeln!(o, "## Capacity\n");
        for (label, r) in ramps {
            let _ = writeln!(
                o,
                "- **{label}**: {}",
                capacity::summary(&r.steps, r.targets, &r.sizes)
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Expectations\n");
    let _ = writeln!(
        o,
        "{} held, {} failed.",
        outcome.passed,
        outcome.failed.len()
    );
    if !outcome.in_doubt.is_empty() {
        let _ = writeln!(
            o,
            "{} not judged: the hypervisor spoiled the measurement {}.",
            outcome.in_doubt.len(),
            if outcome.in_doubt.len() == 1 {
                "it rests on"
            } else {
                "they rest on"
            }
        );
    }
    for f in &outcome.failed {
        let _ = writeln!(o, "- ✖ {f}");
    }
    for d in &outcome.in_doubt {
        let _ = writeln!(o, "- ? {d}");
    }
    o
}
