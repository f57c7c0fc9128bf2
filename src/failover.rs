//! The decision of an orchestrated (automatic) failover of a primary
//! (pure): act only when independent sources agree the primary is gone,
//! never twice within the anti-flapping window, never onto a replica that
//! would lose acknowledged writes unless the policy accepts it, and fence
//! the old primary first when it may still be running.
//!
//! The lab's orchestrator (`lab::orchestrator`) gathers the signals from
//! Docker's events, its own connection and the replicas' IO threads, asks
//! [`decide`], and runs the existing promotion.

use std::fmt;

use crate::live::Millis;
use crate::model::HostName;

/// Something that says the primary is gone. The three kinds are
/// independent: a slow query or one lost packet touches one of them only.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Docker reported the primary's container died.
    ContainerDied,
    /// The monitor's own connection to the primary failed.
    MonitorLost,
    /// A replica's IO thread lost its connection to the primary.
    ReplicaLost(HostName),
}

impl Source {
    /// Its kind: replicas that lost the primary agree as one source.
    fn kind(&self) -> u8 {
        match self {
            Self::ContainerDied => 0,
            Self::MonitorLost => 1,
            Self::ReplicaLost(_) => 2,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContainerDied => f.write_str("its container died"),
            Self::MonitorLost => f.write_str("the monitor lost its connection"),
            Self::ReplicaLost(r) => write!(f, "{r}'s IO thread lost it"),
        }
    }
}

/// One report of a source, at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// What said it.
    pub source: Source,
    /// When.
    pub at: Millis,
}

/// An automatic failover policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How many independent sources (of three) must agree.
    pub agree: usize,
    /// Within how long of each other, milliseconds.
    pub within_ms: Millis,
    /// No second failover within this long of the last, milliseconds.
    pub quiet_ms: Millis,
    /// Promote even when acknowledged writes would be lost.
    pub accept_loss: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            agree: 2,
            within_ms: 2_000,
            quiet_ms: 60_000,
            accept_loss: false,
        }
    }
}

/// A replica that could be promoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its host.
    pub replica: HostName,
    /// Whether it answers.
    pub reachable: bool,
    /// Transactions it received from the primary (the most advanced has
    /// the most).
    pub received: u64,
    /// Transactions of the primary it never received (`None`: unknown
    /// yet; the promotion assesses it before acting, and refuses a loss
    /// the policy does not accept).
    pub missing: Option<u64>,
}

/// What to do to the old primary before the replica takes writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    /// Its container is dead: it takes no writes.
    AlreadyDown,
    /// It may still run (a partition): make it read-only through Docker,
    /// or stop it when it does not answer.
    ReadOnlyOrStop,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No source says the primary is gone.
    Healthy,
    /// Some sources say so, not enough: wait for more.
    Wait(String),
    /// It is gone, but failing over is refused: why (for the timeline).
    Refuse(String),
    /// Fence the old primary, then promote `replica`.
    Promote {
        /// The replica to promote.
        replica: HostName,
        /// The fence first.
        fence: Fence,
        /// The sources that agreed.
        because: Vec<Source>,
    },
}

/// Decides at `now` from `signals` (about the current primary), whether
/// its container still runs, the last failover's time and the replicas.
pub fn decide(
    policy: &Policy,
    signals: &[Signal],
    primary_running: bool,
    last_failover: Option<Millis>,
    now: Millis,
    candidates: &[Candidate],
) -> Decision {
    // The latest report of each kind (none from the future): a primary
    // that died stays dead, so old reports count, as long as they agree
    // with each other in time.
    let mut latest: Vec<&Signal> = Vec::new();
    for s in signals.iter().filter(|s| s.at <= now) {
        match latest
            .iter_mut()
            .find(|l| l.source.kind() == s.source.kind())
        {
            Some(l) if l.at < s.at => *l = s,
            Some(_) => {}
            None => latest.push(s),
        }
    }
    if latest.is_empty() {
        return Decision::Healthy;
    }
    latest.sort_by_key(|s| s.at);
    // The most kinds whose reports fall within `within_ms` of each other.
    let mut recent: Vec<&Signal> = Vec::new();
    for (i, first) in latest.iter().enumerate() {
        let together: Vec<&Signal> = latest[i..]
            .iter()
            .take_while(|s| s.at - first.at <= policy.within_ms)
            .copied()
            .collect();
        if together.len() > recent.len() {
            recent = together;
        }
    }
    recent.sort_by_key(|s| s.source.kind());
    let because: Vec<Source> = recent.iter().map(|s| s.source.clone()).collect();
    let said: Vec<String> = because.iter().map(ToString::to_string).collect();
    if recent.len() < policy.agree {
        return Decision::Wait(format!(
            "{} of the {} sources needed say the primary is gone ({})",
            recent.len(),
            policy.agree,
            said.join("; ")
        ));
    }
    if let Some(last) = last_failover
        && now.saturating_sub(last) < policy.quiet_ms
    {
        return Decision::Refuse(format!(
            "the last failover was {:.1} s ago: none within {:.0} s of another (anti-flapping); \
             promote by hand if it must be",
            now.saturating_sub(last) as f64 / 1000.0,
            policy.quiet_ms as f64 / 1000.0
        ));
    }
    let Some(best) = candidates
        .iter()
        .filter(|c| c.reachable)
        .max_by(|a, b| a.received.cmp(&b.received).then(b.replica.cmp(&a.replica)))
    else {
        return Decision::Refuse("no replica answers: nothing to promote".to_owned());
    };
    if !policy.accept_loss {
        match best.missing {
            Some(0) => {}
            Some(n) => {
                return Decision::Refuse(format!(
                    "{n} transaction(s) of the primary never reached {}, the most advanced replica: \
                     the policy does not accept losing them (semi-synchronous replication can \
                     promise none)",
                    best.replica
                ));
            }
            // Unknown until the promotion assesses it (from the old
            // primary, or its binary log when it is down): the promotion
            // refuses then, before it changes anything.
            None => {}
        }
    }
    let fence = if primary_running {
        Fence::ReadOnlyOrStop
    } else {
        Fence::AlreadyDown
    };
    Decision::Promote {
        replica: best.replica.clone(),
        fence,
        because,
    }
}

#[cfg(test)]
mod tests;
