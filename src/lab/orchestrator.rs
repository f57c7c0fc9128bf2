//! The orchestrator: automatic failover of a lab's primary, while a topolab
//! process watches the lab (the app, `topolab orchestrator`, a scenario).
//!
//! Every [`TICK`] it gathers what three independent sources say about each
//! primary, and [`crate::failover::decide`] judges:
//!
//! - Docker's event stream: the primary's database container died;
//! - its own connection: a fresh TCP connection and `SELECT 1` as the
//!   monitor user (refused at once when the server is gone; a timeout
//!   counts only the second time in a row, so one lost packet or one slow
//!   answer says nothing);
//! - the replicas: every replica of the primary that answers says its IO
//!   thread lost the primary (`Slave_IO_Running` not `Yes`; replicas
//!   notice a silent link within `slave-net-timeout`, 2 s).
//!
//! When enough of them agree, the existing promotion runs: it fences the
//! old primary first when its container still runs (read-only through
//! `docker exec`, which needs no network, or killed when it cannot be
//! reached that way), assesses what the replica lacks, refuses a loss the
//! policy does not accept, promotes, and repoints every app and replica.
//! No second failover within the policy's quiet window; a refusal is
//! reported once, with its reason, and not retried until the window ends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::docker::Engine;
use super::error::LabError;
use super::monitor::{self, ReplicaConns};
use super::names;
use super::plan::{self, Part};
use super::promote::{self, PromoteError};
use super::state::LabState;
use crate::failover::{self, Candidate, Decision, Policy, Signal, Source};
use crate::live::{self, Millis};
use crate::model::{ComponentId, ComponentKind, Failover, HostName, Role, Subject};

/// How often the sources are read and the decision made.
pub const TICK: Duration = Duration::from_millis(200);
/// How long the orchestrator's own connection may take to answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(600);

/// What the orchestrator says, for the timeline and the CLI.
#[derive(Clone, Debug)]
pub struct Note {
    /// When.
    pub at: Millis,
    /// What kind of news.
    pub kind: NoteKind,
    /// In words.
    pub text: String,
    /// The failover done, on the note that says it is.
    pub failover: Option<Box<Failed>>,
}

/// The kinds of news.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// It watches (or stopped watching) under a policy.
    Watching,
    /// A source says the primary is gone.
    Signal,
    /// Not enough agreement yet.
    Waiting,
    /// A failover was refused.
    Refused,
    /// A replica was promoted.
    Promoted,
    /// A promotion failed.
    Failed,
}

/// Where notes go.
pub type NoteSink = Arc<dyn Fn(Note) + Send + Sync>;

/// A failover done, with its phases.
#[derive(Clone, Debug)]
pub struct Failed {
    /// The old primary.
    pub old: HostName,
    /// The replica promoted.
    pub replica: HostName,
    /// The first signal (when the trouble was first seen).
    pub first_signal: Millis,
    /// When the decision was made.
    pub decided: Millis,
    /// When the promotion finished.
    pub promoted: Millis,
    /// The promotion's steps, after the decision.
    pub steps: Vec<(Duration, String)>,
    /// Transactions of the old primary the replica never received, as the
    /// promotion assessed them (`None`: unknown).
    pub missing: Option<u64>,
}

/// Per primary: what the sources said.
#[derive(Default)]
struct Watch {
    signals: Vec<Signal>,
    /// The orchestrator's own connection timed out last time.
    timed_out: bool,
    /// The last decision said (not repeated).
    said: Option<String>,
    /// A source was said to report trouble since the primary last
    /// answered.
    alarmed: bool,
    /// A refusal: not retried before this time.
    refused_until: Option<Millis>,
}

/// Watches lab `lab` until `cancel`, failing over as its policy says.
/// Returns at once with an error when the lab's failover is manual.
pub async fn run(
    engine: Engine,
    lab: String,
    cancel: CancellationToken,
    sink: NoteSink,
) -> Result<Vec<Failed>, LabError> {
    let mut state = load(&lab)?;
    let Failover::Automatic { .. } = state.topology.databases.failover else {
        return Err(LabError::Refused(format!(
            "lab {lab}'s failover is manual: apply a design whose databases have \
             `failover: automatic(...)` to let topolab promote by itself"
        )));
    };
    let say = |kind: NoteKind, text: String| {
        sink(Note {
            at: live::now(),
            kind,
            text,
            failover: None,
        });
    };
    // Container deaths, from Docker's events.
    let died: Arc<Mutex<BTreeMap<HostName, Millis>>> = Arc::default();
    let events = {
        let (engine, died, cancel) = (engine.clone(), died.clone(), cancel.clone());
        let label = names::lab_filter(&lab);
        tokio::spawn(async move {
            let mut stream = Box::pin(engine.container_events(&label));
            loop {
                let next = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = stream.next() => next,
                };
                let Some(Ok(event)) = next else { return };
                if let Some((host, Some(ComponentKind::Db))) = monitor::identify(&event.labels)
                    && matches!(event.action.as_str(), "die" | "kill" | "stop")
                {
                    died.lock().await.insert(host, event.at_ms);
                }
            }
        })
    };
    let mut watches: BTreeMap<HostName, Watch> = BTreeMap::new();
    let mut replica_conns: BTreeMap<HostName, ReplicaConns> = BTreeMap::new();
    let mut last_failover: Option<Millis> = None;
    let mut failovers = Vec::new();
    let mut reread = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let policy_of = |state: &LabState| match state.topology.databases.failover {
        Failover::Automatic {
            agree,
            within_ms,
            quiet_s,
            accept_loss,
        } => Some(Policy {
            agree: usize::from(agree),
            within_ms: Millis::from(within_ms),
            quiet_ms: Millis::from(quiet_s) * 1000,
            accept_loss,
        }),
        Failover::Manual => None,
    };
    say(
        NoteKind::Watching,
        format!(
            "orchestrator watching lab {lab}: {}",
            describe(&state.topology.databases.failover)
        ),
    );
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // The record changes with promotions and applies.
        if reread.elapsed() > Duration::from_secs(1) {
            reread = Instant::now();
            if let Ok(s) = load(&lab) {
                if s.topology.databases.failover != state.topology.databases.failover {
                    say(
                        NoteKind::Watching,
                        format!(
                            "failover policy now: {}",
                            describe(&s.topology.databases.failover)
                        ),
                    );
                }
                state = s;
            }
        }
        let Some(policy) = policy_of(&state) else {
            continue;
        };
        let addresses = monitor::database_addresses(&state);
        let primaries: Vec<HostName> = state
            .topology
            .databases()
            .filter(|(_, d)| d.role == Role::Primary)
            .map(|(h, _)| h.name.clone())
            .collect();
        watches.retain(|h, _| primaries.contains(h));
        for primary in &primaries {
            let now = live::now();
            let watch = watches.entry(primary.clone()).or_default();
            // Docker: its container died.
            if let Some(at) = died.lock().await.get(primary).copied()
                && !watch
                    .signals
                    .iter()
                    .any(|s| s.source == Source::ContainerDied)
            {
                watch.signals.push(Signal {
                    source: Source::ContainerDied,
                    at,
                });
                say(
                    NoteKind::Signal,
                    format!("{primary}/db: its container died (Docker event)"),
                );
                watch.alarmed = true;
            }
            // Its own connection.
            let probe = match addresses.get(primary) {
                Some(addr) => probe(&state, *addr).await,
                None => Err((false, "no address".to_owned())),
            };
            // Whether its container runs, read once per tick.
            let running = engine
                .state(&db_container(&lab, primary))
                .await
                .is_ok_and(|(s, _)| s.is_running());
            match probe {
                Ok(()) => {
                    watch.timed_out = false;
                    if running {
                        // It answers: it is not gone, whatever a replica
                        // that reconnects says, and old reports no longer
                        // count.
                        if watch.alarmed {
                            say(
                                NoteKind::Waiting,
                                format!("{primary}/db answers again: nothing to do"),
                            );
                        }
                        watch.signals.clear();
                        watch.alarmed = false;
                        watch.said = None;
                        died.lock().await.remove(primary);
                        continue;
                    }
                }
                Err((timeout, why)) => {
                    let counts = !timeout || watch.timed_out;
                    watch.timed_out = timeout;
                    if counts {
                        let first = !watch
                            .signals
                            .iter()
                            .any(|s| s.source == Source::MonitorLost);
                        watch.signals.retain(|s| s.source != Source::MonitorLost);
                        watch.signals.push(Signal {
                            source: Source::MonitorLost,
                            at: now,
                        });
                        if first {
                            say(
                                NoteKind::Signal,
                                format!(
                                    "{primary}/db: the orchestrator's connection failed ({why})"
                                ),
                            );
                            watch.alarmed = true;
                        }
                    }
                }
            }
            // The replicas' IO threads.
            let replicas: Vec<HostName> = state
                .topology
                .databases()
                .filter(|(_, d)| matches!(&d.role, Role::Replica { of } if of == primary))
                .map(|(h, _)| h.name.clone())
                .collect();
            let mut candidates = Vec::new();
            let mut lost = Vec::new();
            let mut answering = 0;
            for r in &replicas {
                let conns = replica_conns.entry(r.clone()).or_default();
                match monitor::read_replica(&state, &addresses, r, conns).await {
                    Ok(status) => {
                        answering += 1;
                        if status.io != "Yes" {
                            lost.push(r.clone());
                        }
                        let received = status
                            .replica_gtid
                            .as_deref()
                            .and_then(crate::gtid::Gtid::parse)
                            .map_or(0, |g| g.count());
                        candidates.push(Candidate {
                            replica: r.clone(),
                            reachable: true,
                            received,
                            missing: None,
                        });
                    }
                    Err(_) => candidates.push(Candidate {
                        replica: r.clone(),
                        reachable: false,
                        received: 0,
                        missing: None,
                    }),
                }
            }
            if answering > 0 && lost.len() == answering {
                let first = !watch
                    .signals
                    .iter()
                    .any(|s| matches!(s.source, Source::ReplicaLost(_)));
                watch
                    .signals
                    .retain(|s| !matches!(s.source, Source::ReplicaLost(_)));
                watch.signals.push(Signal {
                    source: Source::ReplicaLost(lost[0].clone()),
                    at: now,
                });
                if first {
                    let names: Vec<String> = lost.iter().map(ToString::to_string).collect();
                    say(
                        NoteKind::Signal,
                        format!(
                            "{primary}/db: lost by its replicas' IO threads ({})",
                            names.join(", ")
                        ),
                    );
                    watch.alarmed = true;
                }
            }
            if watch.refused_until.is_some_and(|until| now < until) {
                continue;
            }
            let decision = failover::decide(
                &policy,
                &watch.signals,
                running,
                last_failover,
                now,
                &candidates,
            );
            match decision {
                Decision::Healthy => {}
                Decision::Wait(why) => {
                    if watch.said.as_deref() != Some(why.as_str()) {
                        say(NoteKind::Waiting, format!("{primary}/db: {why}"));
                        watch.said = Some(why);
                    }
                }
                Decision::Refuse(why) => {
                    say(
                        NoteKind::Refused,
                        format!("automatic failover of {primary}/db refused: {why}"),
                    );
                    watch.refused_until = Some(now + policy.quiet_ms.max(10_000));
                }
                Decision::Promote {
                    replica,
                    fence,
                    because,
                } => {
                    let said: Vec<String> = because.iter().map(ToString::to_string).collect();
                    let first_signal = watch.signals.iter().map(|s| s.at).min().unwrap_or(now);
                    say(
                        NoteKind::Waiting,
                        format!(
                            "{primary}/db is gone ({}): {}promoting {replica}/db",
                            said.join("; "),
                            match fence {
                                failover::Fence::AlreadyDown => "",
                                failover::Fence::ReadOnlyOrStop => {
                                    "its container still runs, so it is fenced first; "
                                }
                            }
                        ),
                    );
                    let decided = live::now();
                    match failover_to(&engine, &lab, &replica, policy.accept_loss).await {
                        Ok(done) => {
                            let promoted = live::now();
                            let steps = done.steps;
                            for (after, step) in &steps {
                                say(
                                    NoteKind::Promoted,
                                    format!("  +{} ms: {step}", after.as_millis()),
                                );
                            }
                            let failed = Failed {
                                old: primary.clone(),
                                replica: replica.clone(),
                                first_signal,
                                decided,
                                promoted,
                                steps,
                                missing: done.assessment.missing,
                            };
                            sink(Note {
                                at: promoted,
                                kind: NoteKind::Promoted,
                                text: format!(
                                    "automatic failover: {replica}/db is the primary, {} ms after the first signal \
                                     (detection {} ms, promotion {} ms)",
                                    promoted.saturating_sub(first_signal),
                                    decided.saturating_sub(first_signal),
                                    promoted.saturating_sub(decided)
                                ),
                                failover: Some(Box::new(failed.clone())),
                            });
                            failovers.push(failed);
                            last_failover = Some(promoted);
                            died.lock().await.remove(primary);
                            watches.remove(primary);
                            if let Ok(s) = load(&lab) {
                                state = s;
                            }
                            break;
                        }
                        Err(PromoteError::WouldLose(a)) => {
                            say(
                                NoteKind::Refused,
                                format!(
                                    "automatic failover of {primary}/db refused: {} (the policy does not accept \
                                     losing acknowledged writes; semi-synchronous replication can promise none)",
                                    a.summary()
                                ),
                            );
                            watch.refused_until = Some(now + policy.quiet_ms.max(10_000));
                        }
                        Err(e) => {
                            say(
                                NoteKind::Failed,
                                format!("automatic failover of {primary}/db failed: {e}"),
                            );
                            watch.refused_until = Some(now + 10_000);
                        }
                    }
                }
            }
        }
    }
    events.abort();
    Ok(failovers)
}

/// The policy in words.
pub fn describe(failover: &Failover) -> String {
    match failover {
        Failover::Manual => "manual (a person promotes)".to_owned(),
        Failover::Automatic {
            agree,
            within_ms,
            quiet_s,
            accept_loss,
        } => format!(
            "automatic: {agree} of 3 sources within {within_ms} ms, none within {quiet_s} s of the last, {}",
            if *accept_loss {
                "accepting a loss of acknowledged writes"
            } else {
                "never losing acknowledged writes"
            }
        ),
    }
}

fn load(lab: &str) -> Result<LabState, LabError> {
    LabState::load(lab)?.ok_or_else(|| LabError::NoSuchLab(lab.to_owned()))
}

fn db_container(lab: &str, host: &HostName) -> String {
    plan::container_name(lab, host, Part::Component(ComponentKind::Db))
}

/// A fresh connection and `SELECT 1`: `Err((timed_out, why))`.
async fn probe(state: &LabState, address: SocketAddr) -> Result<(), (bool, String)> {
    let attempt = async {
        let mut conn = monitor::connect(state, address).await?;
        let answer = monitor::query_text(&mut conn, "SELECT 1").await;
        let _ = conn.disconnect().await;
        answer.map(|_| ())
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err((why.contains("did not answer"), why)),
        Err(_) => Err((
            true,
            format!("no answer within {} ms", PROBE_TIMEOUT.as_millis()),
        )),
    }
}

/// Promotes `replica` under the lab's lock, as `topolab promote` does.
async fn failover_to(
    engine: &Engine,
    lab: &str,
    replica: &HostName,
    accept_loss: bool,
) -> Result<promote::Promoted, PromoteError> {
    let mut locked = super::state::lock(lab)
        .await
        .map_err(|e| PromoteError::Failed(e.to_string()))?;
    let target = Subject::Component(ComponentId::new(replica, ComponentKind::Db));
    promote::promote(engine, &mut locked, &target, false, accept_loss).await
}
