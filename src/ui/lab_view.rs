//! What the app knows of the lab, as state: the engine, a launch or an
//! apply in progress, the running lab, the timeline ([`LabView`]), and what it keeps
//! of a running lab between frames ([`LiveView`]: the live state, the
//! traffic settings, faults and incidents, the requests on the canvas,
//! the history of writes and probes and its check against the data).
//! Changed by the lab's events and the app's commands; drawn elsewhere.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::change::Action;
use crate::consistency::{self, Check, Holding};
use crate::deploy;
use crate::generate::Artifacts;
use crate::live::{self, LiveState, Observation, RequestTrace};
use crate::model::{ComponentId, HostName, Subject, Topology};
use crate::protocol::{
    ActiveFault, CommandId, EntryPoint, FaultKind, FoundLab, LabName, Phase, Rate, TrafficSettings,
    Verification, VipEndpoint,
};
use crate::stopwatch::{self, Incident};

/// A step of what the lab reported, for the timeline panel.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    /// When (wall clock, milliseconds).
    pub at: live::Millis,
    /// What happened.
    pub text: String,
    /// The commands a person would type for it.
    pub explain: Vec<String>,
    /// A failure.
    pub error: bool,
}

/// A launch in progress.
#[derive(Clone, Debug)]
pub struct Launching {
    /// Its command.
    pub id: CommandId,
    /// The lab.
    pub lab: LabName,
    /// Phases done.
    pub done: Vec<Phase>,
    /// Phases expected for this topology.
    pub expected: usize,
    /// What it launches.
    pub topology: Box<Topology>,
    /// Whether it builds the lab's images first where they are missing.
    pub building_images: bool,
}

/// What a change of the running lab in progress does.
#[derive(Clone, Debug)]
pub enum Operation {
    /// Applies the design's changes: the actions as planned when it was
    /// sent (the lab plans again from what it records, which is normally
    /// the same).
    Apply(Vec<Action>),
    /// Deploys a release, batch by batch: the plan as previewed when it
    /// was sent (the lab plans again from what it records).
    Deploy(Box<deploy::Plan>),
}

/// A change of the running lab in progress, step by step: an apply of the
/// design's changes (a step per action) or a rolling deploy (a step per
/// batch, then the rollback if there is one). Both report the same
/// events; the app shows them the same way.
#[derive(Clone, Debug)]
pub struct Applying {
    /// Its command (also what `Cancel` names).
    pub id: CommandId,
    /// The lab.
    pub lab: LabName,
    /// What it does.
    pub operation: Operation,
    /// Each step the lab started, by index: what it said the step does,
    /// and how long it took once finished.
    pub steps: Vec<(String, Option<Duration>)>,
    /// What the lab noted along the way, oldest first.
    pub notes: Vec<String>,
    /// Steps done.
    pub done: usize,
    /// The step running: its index and its incident's in
    /// [`LiveView::incidents`].
    pub current: Option<(usize, usize)>,
    /// `Cancel` was sent: it stops after the step running.
    pub cancelling: bool,
}

impl Applying {
    /// A change of `lab` sent as `id`, nothing reported yet.
    pub fn new(id: CommandId, lab: LabName, operation: Operation) -> Self {
        Self {
            id,
            lab,
            operation,
            steps: Vec::new(),
            notes: Vec::new(),
            done: 0,
            current: None,
            cancelling: false,
        }
    }

    /// What it is, in a word: `apply` or `deploy`.
    pub fn verb(&self) -> &'static str {
        match self.operation {
            Operation::Apply(_) => "apply",
            Operation::Deploy(_) => "deploy",
        }
    }

    /// The steps planned (a deploy's rollback, when there is one, comes
    /// after them).
    pub fn planned(&self) -> usize {
        match &self.operation {
            Operation::Apply(actions) => actions.len(),
            Operation::Deploy(plan) => plan.batches.len(),
        }
    }

    /// What planned step `index` does, as planned.
    pub fn planned_step(&self, index: usize) -> Option<String> {
        match &self.operation {
            Operation::Apply(actions) => actions.get(index).map(|a| a.summary.clone()),
            Operation::Deploy(plan) => plan.batches.get(index).map(|b| {
                let hosts: Vec<String> = b.hosts.iter().map(ToString::to_string).collect();
                format!(
                    "{} → {}{}",
                    hosts.join(", "),
                    plan.version,
                    if b.canary { " (canary)" } else { "" }
                )
            }),
        }
    }

    /// Where step `index` stands among the planned ones: `2/3`, or
    /// nothing for a deploy's step beyond them (its rollback).
    pub fn place(&self, index: usize) -> Option<String> {
        let planned = self.planned();
        match self.operation {
            // The lab may plan an action more than the app did.
            Operation::Apply(_) => Some(format!("{}/{}", index + 1, planned.max(index + 1))),
            Operation::Deploy(_) => (index < planned).then(|| format!("{}/{planned}", index + 1)),
        }
    }

    /// The host step `index` (reported as `summary`) concerns, when it
    /// concerns one: an action's host, a batch's first host.
    pub fn step_host(
        &self,
        index: usize,
        summary: &str,
        action_host: impl Fn(&Action) -> Option<&HostName>,
    ) -> Option<HostName> {
        match &self.operation {
            Operation::Apply(actions) => actions
                .get(index)
                .filter(|a| a.summary == summary)
                .and_then(action_host)
                .cloned(),
            Operation::Deploy(plan) => plan.batches.get(index)?.hosts.first().cloned(),
        }
    }

    /// Whether it is a deploy that was rolled back (it reported the step
    /// after its batches).
    pub fn rolled_back(&self) -> bool {
        matches!(self.operation, Operation::Deploy(_)) && self.steps.len() > self.planned()
    }
}

/// The running lab.
#[derive(Clone, Debug)]
pub struct Running {
    /// Its name.
    pub lab: LabName,
    /// Where clients reach it.
    pub entry_points: Vec<EntryPoint>,
    /// Where its virtual IPs are published.
    pub vip_ports: Vec<VipEndpoint>,
    /// The files as launched, when this app launched it.
    pub artifacts: Option<Box<Artifacts>>,
    /// What runs (roles follow promotions), when known.
    pub topology: Option<Box<Topology>>,
}

/// What the lab panel shows.
#[derive(Default)]
pub struct LabView {
    /// Whether Docker is reachable (None: not known yet).
    pub engine: Option<Result<(), String>>,
    /// A launch in progress.
    pub launching: Option<Launching>,
    /// The lab that runs.
    pub running: Option<Running>,
    /// A stop in progress.
    pub stopping: Option<CommandId>,
    /// An apply or a deploy in progress.
    pub applying: Option<Applying>,
    /// The last deploy once it ended, with how (`Err`: stopped, with
    /// why): its window says so.
    pub deployed: Option<(Applying, Result<String, String>)>,
    /// What happened, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Labs found running at start, not yet attached, removed or ignored.
    pub found: Vec<FoundLab>,
    /// The running lab's live state and the traffic panel.
    pub live: LiveView,
    /// Where the timeline counts time from: when the lab shown was
    /// launched or attached (before that, when the app started).
    pub origin: live::Millis,
    next_id: u64,
}

impl LabView {
    /// Nothing launched yet: the timeline counts from now.
    pub fn new() -> Self {
        Self {
            origin: live::now(),
            ..Self::default()
        }
    }

    /// `at` on the timeline's one time base: `+12.34 s` since the origin.
    pub fn since_origin(&self, at: live::Millis) -> String {
        let secs = (at as f64 - self.origin as f64) / 1000.0;
        format!("{secs:+.2} s")
    }

    /// A new command id.
    pub(super) fn next_id(&mut self) -> CommandId {
        self.next_id += 1;
        CommandId(self.next_id)
    }
}

/// Requests kept for the stopwatch (about two minutes at 1000 req/s).
const STOPWATCH_TRACES: usize = 120_000;

/// Writes and read-your-writes probes kept for the data check (more than
/// three minutes of writes at 1000 req/s). The checker needs every one: a
/// write dropped from the history looks "unexpected" once found in the
/// data. The check runs on the UI thread: this many take about 0.2 s.
const HISTORY_MAX: usize = 200_000;
/// How often, at most, a data check is redone while late answers to
/// requests sent before it arrive.
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// A lab command waiting for its answer.
#[derive(Clone, Debug)]
enum Requested {
    Fault(Subject, FaultKind, live::Millis),
    Heal(Option<Subject>, live::Millis),
    /// A promotion of a replica, planned or not, with the loss its
    /// assessment predicted (`None`: none was shown; `Some(None)`: the
    /// loss was unknown).
    Promotion(HostName, bool, live::Millis, Option<Option<u64>>),
}

/// The data check: what the databases held, checked against the history
/// of writes and probes this app kept.
#[derive(Clone, Debug)]
pub struct DataCheck {
    /// The CheckData command.
    pub id: CommandId,
    /// When it was asked for.
    pub asked: live::Millis,
    /// Where it is.
    pub state: DataState,
}

/// Where a data check is.
#[derive(Clone, Debug)]
pub enum DataState {
    /// The lab is reading the databases.
    Reading,
    /// Read and checked.
    Checked(Box<CheckedData>),
    /// The lab could not read the data: why.
    Failed(String),
}

/// What the databases held, and the checker's verdict on it.
#[derive(Clone, Debug)]
pub struct CheckedData {
    /// When the lab began reading (the check is as of then).
    pub at: live::Millis,
    /// What each database that could be read holds.
    pub holdings: Vec<Holding>,
    /// The databases that could not be read, with why.
    pub unreadable: Vec<(HostName, String)>,
    /// The checker's verdict.
    pub check: Check,
    /// Requests sent before the reading that arrived after the last check:
    /// the check is redone.
    dirty: bool,
    /// When the check was last done.
    checked: std::time::Instant,
}

/// A scenario the app runs, and what it said so far.
#[derive(Clone, Debug)]
pub struct ScenarioRun {
    /// The Scenario command.
    pub id: CommandId,
    /// Its name.
    pub name: String,
    /// Its lines: steps, expectations, the report.
    pub lines: Vec<String>,
    /// Whether every expectation held, once it finished.
    pub passed: Option<bool>,
}

impl ScenarioRun {
    /// The lab report at the end of its lines (from `# Lab report` on),
    /// once the run has written it.
    pub fn report(&self) -> Option<String> {
        let start = self.report_start()?;
        Some(self.lines[start..].join("\n") + "\n")
    }

    /// How many expectations were not judged (`?` lines: a capacity
    /// measurement the hypervisor spoiled).
    pub fn not_judged(&self) -> usize {
        let steps = self.report_start().unwrap_or(self.lines.len());
        self.lines[..steps]
            .iter()
            .filter(|l| l.trim_start().starts_with("? "))
            .count()
    }

    /// Where the report begins in its lines.
    pub fn report_start(&self) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| l.starts_with("# Lab report"))
    }
}

/// A capacity ramp the app runs, and its steps so far.
#[derive(Clone, Debug)]
pub struct CapacityRun {
    /// The Capacity command (also what `Cancel` names).
    pub id: CommandId,
    /// The p95 target it ramps to, milliseconds.
    pub p95_ms: f64,
    /// Each step with its CPU against the hosts' sizes, in words.
    pub steps: Vec<(crate::capacity::Step, String)>,
    /// The knee and bottleneck, or why the ramp failed, once it finished.
    pub outcome: Option<Result<String, String>>,
}

/// How long a request's dot takes to travel its path, seconds.
pub const DOT_SECONDS: f64 = 0.9;
/// Dots on screen at most (beyond, new requests are sampled).
const MAX_DOTS: usize = 240;

/// A request travelling on the canvas.
#[derive(Clone, Debug)]
pub struct Dot {
    /// The components it went through.
    pub path: Vec<ComponentId>,
    /// The entry point it was sent to.
    pub entry: HostName,
    /// Answered 2xx.
    pub ok: bool,
    /// When its dot appeared (egui time, seconds).
    pub born: f64,
}

/// What the app keeps of a running lab.
#[derive(Debug)]
pub struct LiveView {
    /// The live state, as the lab reports it.
    pub state: LiveState,
    /// Traffic is being sent.
    pub traffic_on: bool,
    /// The rate the slider sets, requests per second.
    pub rate: f64,
    /// Percent writes.
    pub writes: u8,
    /// Each acknowledged write read back by its client (read-your-writes
    /// probe).
    pub read_back: bool,
    /// The last log lines fetched per component.
    pub logs: HashMap<ComponentId, String>,
    /// Faults in effect, each with whether it was seen to take effect: as
    /// this app requested them, then as the lab's state records them (also
    /// those injected from the command line).
    pub faults: Vec<(Subject, FaultKind, Verification)>,
    /// Faults and promotions, for the stopwatch.
    pub incidents: Vec<Incident>,
    /// The last stopwatch: (incidents, live revision, when, measurements).
    measured: Option<(usize, u64, std::time::Instant, Vec<stopwatch::Measured>)>,
    /// The scenario running or last run.
    pub scenario: Option<ScenarioRun>,
    /// The capacity ramp running or last run.
    pub capacity: Option<CapacityRun>,
    /// The capacity tab's p95 target, milliseconds.
    pub capacity_p95_ms: f64,
    /// For each transition applied: milliseconds from when it happened (or
    /// the monitor saw it) to when this app applied it (the frame benchmark
    /// reports them).
    pub delays: Vec<u64>,
    requested: HashMap<CommandId, Requested>,
    /// Oldest first; trimmed in halves so that it stays one slice.
    traces: Vec<RequestTrace>,
    /// Every write and read-your-writes probe, oldest first, for the data
    /// check and "Save history" (plain reads are left out).
    history: Vec<RequestTrace>,
    /// Writes and probes dropped from the history (the oldest, past
    /// [`HISTORY_MAX`]), and when the newest of them was sent.
    history_dropped: (u64, live::Millis),
    /// The data check asked for last.
    pub data: Option<DataCheck>,
    /// The loss each promotion's assessment predicted, by the index of its
    /// incident.
    predicted: HashMap<usize, Option<u64>>,
    dots: VecDeque<Dot>,
}

impl Default for LiveView {
    fn default() -> Self {
        Self {
            state: LiveState::new(),
            traffic_on: false,
            rate: 20.0,
            writes: 10,
            read_back: false,
            logs: HashMap::new(),
            faults: Vec::new(),
            incidents: Vec::new(),
            measured: None,
            scenario: None,
            capacity: None,
            capacity_p95_ms: 50.0,
            delays: Vec::new(),
            requested: HashMap::new(),
            traces: Vec::new(),
            history: Vec::new(),
            history_dropped: (0, 0),
            data: None,
            predicted: HashMap::new(),
            dots: VecDeque::new(),
        }
    }
}

impl LiveView {
    /// The traffic settings the panel shows.
    pub fn settings(&self) -> TrafficSettings {
        TrafficSettings {
            rate: Rate::PerSecond(self.rate),
            writes_percent: self.writes,
            read_back: self.read_back,
        }
    }

    /// Dots on screen (for tests and the frame benchmark).
    pub fn dots(&self) -> usize {
        self.dots.len()
    }

    /// The requests travelling on the canvas.
    pub fn dots_on_canvas(&self) -> impl Iterator<Item = &Dot> {
        self.dots.iter()
    }

    /// Turns the requests that finished since the last call into dots (a
    /// sample of them at high rates) and drops the dots that arrived, at
    /// `now` (egui time, seconds).
    pub(super) fn advance_dots(&mut self, now: f64) {
        let fresh: Vec<Dot> = self
            .state
            .take_recent()
            .map(|t| Dot {
                path: t.path(),
                entry: t.entry.clone(),
                ok: t.ok(),
                born: now,
            })
            .collect();
        let room = MAX_DOTS.saturating_sub(self.dots.len()).max(1);
        let step = fresh.len().div_ceil(room).max(1);
        self.dots.extend(fresh.into_iter().step_by(step));
        while self.dots.len() > MAX_DOTS {
            self.dots.pop_front();
        }
        self.dots.retain(|d| now - d.born < DOT_SECONDS);
    }

    /// Keeps the requests of an observation for the stopwatch.
    pub(super) fn record(&mut self, o: &Observation) {
        let seen = match o {
            Observation::Container { at, .. }
            | Observation::Backend { at, .. }
            | Observation::Replication { at, .. } => Some(*at),
            _ => None,
        };
        if let Some(at) = seen
            && self.delays.len() < 100_000
        {
            self.delays.push(live::now().saturating_sub(at));
        }
        if let Observation::Requests(batch) = o {
            self.traces.extend(batch.iter().cloned());
            if self.traces.len() > 2 * STOPWATCH_TRACES {
                let excess = self.traces.len() - STOPWATCH_TRACES;
                self.traces.drain(..excess);
            }
            self.keep_history(batch);
        }
    }

    /// Keeps the writes and probes of `batch` for the data check; an answer
    /// to a request sent before the data was read has the check redone.
    fn keep_history(&mut self, batch: &[RequestTrace]) {
        let checked_at = match &self.data {
            Some(DataCheck {
                state: DataState::Checked(c),
                ..
            }) => Some(c.at),
            _ => None,
        };
        let mut late = false;
        for t in batch.iter().filter(|t| t.write || t.own.is_some()) {
            late |= checked_at.is_some_and(|at| t.at <= at);
            self.history.push(t.clone());
        }
        if late
            && let Some(DataCheck {
                state: DataState::Checked(c),
                ..
            }) = &mut self.data
        {
            c.dirty = true;
        }
        if self.history.len() > HISTORY_MAX {
            // A tenth at a time, so that trimming is rare.
            let excess = self.history.len() - HISTORY_MAX + HISTORY_MAX / 10;
            let newest = self.history[..excess]
                .iter()
                .map(|t| t.at)
                .max()
                .unwrap_or(0);
            self.history.drain(..excess);
            self.history_dropped.0 += excess as u64;
            self.history_dropped.1 = self.history_dropped.1.max(newest);
        }
    }

    /// Every write and read-your-writes probe kept, oldest first.
    pub fn history(&self) -> &[RequestTrace] {
        &self.history
    }

    /// Writes and probes dropped from the history because it was full,
    /// and when the newest of them was sent (`None`: none was dropped).
    pub fn history_dropped(&self) -> Option<(u64, live::Millis)> {
        (self.history_dropped.0 > 0).then_some(self.history_dropped)
    }

    /// A data check was asked for with command `id`.
    pub(super) fn requested_check(&mut self, id: CommandId) {
        self.data = Some(DataCheck {
            id,
            asked: live::now(),
            state: DataState::Reading,
        });
    }

    /// The lab read the data for command `id` (reading began at `at`):
    /// checks the history against it.
    pub(super) fn data_read(
        &mut self,
        id: CommandId,
        at: live::Millis,
        holdings: Vec<Holding>,
        unreadable: Vec<(HostName, String)>,
    ) {
        let Some(data) = self.data.as_mut().filter(|d| d.id == id) else {
            return;
        };
        let check = consistency::check_as_of(&self.history, &holdings, at);
        data.state = DataState::Checked(Box::new(CheckedData {
            at,
            holdings,
            unreadable,
            check,
            dirty: false,
            checked: std::time::Instant::now(),
        }));
        // The promotions' measurements carry the check's counts.
        self.measured = None;
    }

    /// Redoes the data check when answers to requests sent before the
    /// data was read arrived since (at most twice a second).
    pub(super) fn refresh_check(&mut self) {
        let Some(DataCheck {
            state: DataState::Checked(c),
            ..
        }) = &mut self.data
        else {
            return;
        };
        if !c.dirty || c.checked.elapsed() < RECHECK_EVERY {
            return;
        }
        c.check = consistency::check_as_of(&self.history, &c.holdings, c.at);
        c.dirty = false;
        c.checked = std::time::Instant::now();
        self.measured = None;
    }

    /// The last data check's verdict, once it has one.
    pub fn checked(&self) -> Option<&CheckedData> {
        match &self.data {
            Some(DataCheck {
                state: DataState::Checked(c),
                ..
            }) => Some(c),
            _ => None,
        }
    }

    /// The loss the assessment of incident `i` (a promotion) predicted:
    /// `None` when no assessment was shown, `Some(None)` when it could
    /// not say.
    pub fn predicted(&self, i: usize) -> Option<Option<u64>> {
        self.predicted.get(&i).copied()
    }

    pub(super) fn requested_fault(&mut self, id: CommandId, target: Subject, kind: FaultKind) {
        self.requested
            .insert(id, Requested::Fault(target, kind, live::now()));
    }

    pub(super) fn requested_heal(&mut self, id: CommandId, target: Option<Subject>) {
        self.requested
            .insert(id, Requested::Heal(target, live::now()));
    }

    /// A promotion of `replica` was sent as `id`; `predicted` is the loss
    /// its assessment showed, if one was shown (`Some(None)`: unknown).
    pub(super) fn requested_promotion(
        &mut self,
        id: CommandId,
        replica: &HostName,
        planned: bool,
        predicted: Option<Option<u64>>,
    ) {
        self.requested.insert(
            id,
            Requested::Promotion(replica.clone(), planned, live::now(), predicted),
        );
    }

    /// A step of an apply or a deploy (`verb`) began at `at`: an
    /// incident for the stopwatch (labelled `VERB: SUMMARY`, on `host`)
    /// until it finishes. Its index in [`Self::incidents`].
    pub(super) fn action_started(
        &mut self,
        verb: &str,
        summary: &str,
        host: String,
        at: live::Millis,
    ) -> usize {
        self.incidents.push(Incident {
            label: format!("{verb}: {summary}"),
            host,
            at,
            promotion: false,
            check: None,
            target: None,
            healed: None,
        });
        self.incidents.len() - 1
    }

    /// The action whose incident is `incident` ended at `at` (done or
    /// failed): its window closes there.
    pub(super) fn action_ended(&mut self, incident: usize, at: live::Millis) {
        if let Some(i) = self.incidents.get_mut(incident) {
            i.healed = Some(at);
            // The cache counts incidents only: this one's window changed.
            self.measured = None;
        }
    }

    /// The faults the lab's state records, with their checks: they replace
    /// what this app assumed.
    pub fn set_faults(&mut self, faults: &[ActiveFault]) {
        self.faults = faults
            .iter()
            .map(|f| (f.target.clone(), f.kind, f.check.clone()))
            .collect();
    }

    /// A lab command finished: faults in effect and incidents follow.
    pub(super) fn finished(&mut self, id: CommandId, result: &Result<String, String>) {
        if let (Err(why), Some(data)) = (result, self.data.as_mut())
            && data.id == id
            && matches!(data.state, DataState::Reading)
        {
            data.state = DataState::Failed(why.clone());
        }
        let Some(requested) = self.requested.remove(&id) else {
            return;
        };
        if result.is_err() {
            return;
        }
        match requested {
            Requested::Fault(target, kind, at) => {
                // The lab's record (sent before this) says whether it took effect.
                let recorded = self
                    .faults
                    .iter()
                    .rev()
                    .find(|(s, k, _)| *s == target && *k == kind)
                    .map(|(_, _, check)| check.clone());
                self.incidents.push(Incident {
                    label: format!("{target} {kind}"),
                    host: target.host().to_string(),
                    at,
                    promotion: false,
                    check: recorded.as_ref().map(ToString::to_string),
                    target: Some(target.clone()),
                    healed: None,
                });
                if kind != FaultKind::Restart && recorded.is_none() {
                    self.faults.push((target, kind, Verification::Applied));
                }
            }
            Requested::Heal(target, at) => {
                stopwatch::heal(&mut self.incidents, target.as_ref(), at);
                match target {
                    None => self.faults.clear(),
                    Some(Subject::Host(h)) => self.faults.retain(|(s, _, _)| s.host() != &h),
                    Some(target) => self.faults.retain(|(s, _, _)| *s != target),
                }
            }
            Requested::Promotion(replica, planned, at, predicted) => {
                if let Some(p) = predicted {
                    self.predicted.insert(self.incidents.len(), p);
                }
                self.incidents.push(Incident {
                    label: format!(
                        "promote {replica}{}",
                        if planned { " (planned)" } else { "" }
                    ),
                    host: replica.to_string(),
                    at,
                    promotion: true,
                    check: None,
                    target: None,
                    healed: None,
                });
            }
        }
    }

    /// The stopwatch of every incident; a promotion before the last data
    /// check carries the acknowledged writes the check found lost.
    fn measurements(&self) -> Vec<stopwatch::Measured> {
        let traces = &self.traces;
        let timeline: Vec<live::Transition> = self.state.timeline().cloned().collect();
        let first = self.incidents.first().map_or(live::Millis::MAX, |i| i.at);
        let baseline: Vec<&RequestTrace> = traces.iter().filter(|t| t.at < first).collect();
        let slow = stopwatch::slow_threshold(&baseline);
        self.incidents
            .iter()
            .enumerate()
            .map(|(i, incident)| {
                let until = stopwatch::window_end(&self.incidents, i);
                let mut m = stopwatch::measure(incident, until, traces, &timeline, slow);
                if let Some(c) = self.checked()
                    && incident.promotion
                    && incident.at <= c.at
                {
                    let (from, until) = self.promotion_window(i);
                    m.lost_writes = c.check.lost_between(from, until);
                }
                m
            })
            .collect()
    }

    /// The writes promotion `i` answers for: those acknowledged from the
    /// promotion before it (or the start) until it.
    pub fn promotion_window(&self, i: usize) -> (live::Millis, live::Millis) {
        let until = self.incidents.get(i).map_or(live::Millis::MAX, |p| p.at);
        let from = self.incidents[..i.min(self.incidents.len())]
            .iter()
            .rev()
            .find(|p| p.promotion)
            .map_or(0, |p| p.at);
        (from, until)
    }

    /// [`LiveView::measurements`], recomputed at most twice a second (the
    /// timeline tab asks every frame, and requests arrive ten times a
    /// second), and at once when an incident is added.
    pub(super) fn cached_measurements(&mut self) -> &[stopwatch::Measured] {
        let stale = match &self.measured {
            None => true,
            Some((incidents, revision, at, _)) => {
                *incidents != self.incidents.len()
                    || (*revision != self.state.revision()
                        && at.elapsed() > std::time::Duration::from_millis(500))
            }
        };
        if stale {
            let m = self.measurements();
            self.measured = Some((
                self.incidents.len(),
                self.state.revision(),
                std::time::Instant::now(),
                m,
            ));
        }
        self.measured.as_ref().map_or(&[], |(_, _, _, m)| m)
    }
}
