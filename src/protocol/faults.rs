//! Fault kinds and the faults in effect, and the checks that need only the
//! topology: whether a target exists and whether a kind fits it. The lab
//! applies them (`lab::fault`); the app offers only the kinds that fit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{ComponentKind, Role, Subject, Topology, parse_one_of};

/// What to do to a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL.
    Kill,
    /// A clean stop.
    Stop,
    /// Freeze (healed by unpause).
    Pause,
    /// Restart (nothing to heal).
    Restart,
    /// Cut the host off its networks (healed by reconnecting, same addresses).
    Disconnect,
    /// Limit the host's bandwidth (tc tbf).
    Slow,
    /// Drop packets (tc netem, where the kernel has it).
    Lossy,
    /// Add latency (tc netem, where the kernel has it).
    Latency,
    /// Stop a replica's IO thread: new transactions do not reach it.
    StopReplication,
    /// A database refuses writes.
    ReadOnly,
    /// The load balancers send no new sessions to the server.
    Drain,
    /// The load balancers take the server out of rotation.
    Maintenance,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [Self; 12] = [
        Self::Kill,
        Self::Stop,
        Self::Pause,
        Self::Restart,
        Self::Disconnect,
        Self::Slow,
        Self::Lossy,
        Self::Latency,
        Self::StopReplication,
        Self::ReadOnly,
        Self::Drain,
        Self::Maintenance,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Stop => "stop",
            Self::Pause => "pause",
            Self::Restart => "restart",
            Self::Disconnect => "disconnect",
            Self::Slow => "slow",
            Self::Lossy => "lossy",
            Self::Latency => "latency",
            Self::StopReplication => "stop-replication",
            Self::ReadOnly => "read-only",
            Self::Drain => "drain",
            Self::Maintenance => "maintenance",
        }
    }

    /// What it does, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Kill => "SIGKILL the container(s)",
            Self::Stop => "stop the container(s) cleanly",
            Self::Pause => "freeze the container(s)",
            Self::Restart => "restart the container(s)",
            Self::Disconnect => "cut the host off its networks",
            Self::Slow => "limit the host's bandwidth to 1 Mbit/s",
            Self::Lossy => "drop 10% of the host's packets",
            Self::Latency => "add 200 ms to the host's packets",
            Self::StopReplication => "stop the replica's IO thread",
            Self::ReadOnly => "make the database refuse writes",
            Self::Drain => "send no new sessions to the server",
            Self::Maintenance => "take the server out of rotation",
        }
    }

    /// Whether healing undoes something (a restart is over once done).
    pub fn lasting(self) -> bool {
        self != Self::Restart
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_one_of(s, &Self::ALL, Self::as_str, "fault")
    }
}

/// A fault on a whole region of a design of regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionFaultKind {
    /// Every host of the region down at once (SIGKILL), as when a region
    /// loses power: recorded as a `kill` of each host.
    RegionOutage,
    /// The region cut off the other regions: the router drops what
    /// crosses between them, silently, while the region's hosts run on
    /// and clients still reach its entry points.
    Partition,
}

impl RegionFaultKind {
    /// Every kind.
    pub const ALL: [Self; 2] = [Self::RegionOutage, Self::Partition];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegionOutage => "region-outage",
            Self::Partition => "partition",
        }
    }

    /// What it does, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::RegionOutage => "every host of the region down at once",
            Self::Partition => "the region cut off the other regions, its hosts running",
        }
    }
}

impl fmt::Display for RegionFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegionFaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_one_of(s, &Self::ALL, Self::as_str, "region fault")
    }
}

/// Checks that `region` is a region of `topology`'s lab, one of several.
pub fn locate_region(topology: &Topology, region: &str) -> Result<(), Misfit> {
    let names: Vec<String> = topology
        .hosts
        .iter()
        .filter_map(|h| crate::model::lab_region(topology, h))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if names.is_empty() {
        return Err(Misfit::Target(
            "this lab runs in one region: a region fault needs a design of several (the \
             two-regions preset, or the review's \"Add a second region\")"
                .to_owned(),
        ));
    }
    if names.iter().any(|n| n == region) {
        Ok(())
    } else {
        Err(Misfit::Target(format!(
            "no region {region} in this lab (its regions: {})",
            names.join(", ")
        )))
    }
}

/// Whether a fault was seen to take effect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "seen", rename_all = "kebab-case")]
pub enum Verification {
    /// Applied; not checked (yet).
    #[default]
    Applied,
    /// Checked: it took effect. What was seen.
    Verified(String),
    /// Checked: it changed nothing. Why.
    NoEffect(String),
}

impl Verification {
    /// One word: `applied`, `verified` or `no effect`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Verified(_) => "verified",
            Self::NoEffect(_) => "no effect",
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Applied => f.write_str("applied (not checked)"),
            Self::Verified(seen) => write!(f, "verified: {seen}"),
            Self::NoEffect(why) => write!(f, "NO EFFECT: {why}"),
        }
    }
}

/// A fault in effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFault {
    /// A host, or one of its components.
    pub target: Subject,
    /// What was done.
    pub kind: FaultKind,
    /// When, milliseconds since the Unix epoch.
    pub at: u64,
    /// Whether it was seen to take effect.
    #[serde(default)]
    pub check: Verification,
}

/// Why a fault does not fit: the target is unknown, or the kind does not
/// apply to it. Nothing was touched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Misfit {
    /// The target does not parse or does not exist.
    #[error("{0}")]
    Target(String),
    /// The kind does not fit the target.
    #[error("{kind} does not apply to {target}: {why}")]
    Unfit {
        /// The kind.
        kind: FaultKind,
        /// The target.
        target: Subject,
        /// Why not.
        why: String,
    },
}

/// Parses `TARGET` against the lab's topology: a host, or `HOST/KIND` of a
/// component it has.
pub fn resolve(topology: &Topology, target: &str) -> Result<Subject, Misfit> {
    let subject: Subject = target.parse().map_err(Misfit::Target)?;
    locate(topology, &subject)?;
    Ok(subject)
}

/// Checks that `subject` is in the topology: its host, and the component
/// it names on that host.
pub fn locate(topology: &Topology, subject: &Subject) -> Result<(), Misfit> {
    let host = topology.host(subject.host()).ok_or_else(|| {
        let names: Vec<&str> = topology.hosts.iter().map(|h| h.name.as_str()).collect();
        Misfit::Target(format!(
            "no host {} in this lab (its hosts: {})",
            subject.host(),
            names.join(", ")
        ))
    })?;
    if let Subject::Component(id) = &subject
        && !host.has(id.kind)
    {
        let kinds: Vec<&str> = host.components.iter().map(|c| c.kind().as_str()).collect();
        return Err(Misfit::Target(format!(
            "{} runs no {} (it runs: {})",
            id.host,
            id.kind,
            kinds.join(", ")
        )));
    }
    Ok(())
}

/// The kinds that fit `subject` (for menus).
pub fn applicable(topology: &Topology, subject: &Subject) -> Vec<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| check(topology, subject, *k).is_ok())
        .collect()
}

/// Whether `kind` fits `subject` (which must be in the topology), or why
/// not.
pub fn check(topology: &Topology, subject: &Subject, kind: FaultKind) -> Result<(), Misfit> {
    locate(topology, subject)?;
    let unfit = |why: &str| Misfit::Unfit {
        kind,
        target: subject.clone(),
        why: why.to_owned(),
    };
    let host = topology
        .host(subject.host())
        .ok_or_else(|| Misfit::Target(format!("no host {}", subject.host())))?;
    let kind_of = |k: ComponentKind| match subject {
        Subject::Host(_) => host.has(k),
        Subject::Component(id) => id.kind == k,
    };
    match kind {
        FaultKind::Kill | FaultKind::Stop | FaultKind::Pause | FaultKind::Restart => Ok(()),
        FaultKind::Disconnect | FaultKind::Slow | FaultKind::Lossy | FaultKind::Latency => {
            match subject {
                Subject::Host(_) => Ok(()),
                Subject::Component(_) => Err(unfit(
                    "it acts on a host's network, which all its components share: name the host",
                )),
            }
        }
        FaultKind::StopReplication => match host.database() {
            Some(db) if kind_of(ComponentKind::Db) && matches!(db.role, Role::Replica { .. }) => {
                Ok(())
            }
            _ => Err(unfit("only a replica's database replicates")),
        },
        FaultKind::ReadOnly => {
            if kind_of(ComponentKind::Db) {
                Ok(())
            } else {
                Err(unfit("only a database can be made read-only"))
            }
        }
        FaultKind::Drain | FaultKind::Maintenance => {
            let backend = topology
                .load_balancers()
                .any(|(_, lb)| lb.backends.iter().any(|b| b.host == host.name));
            if backend && kind_of(ComponentKind::Nginx) {
                Ok(())
            } else {
                Err(unfit(
                    "only a load balancer's backend (a web server) can be drained",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Topology {
        crate::preset::Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("preset")
    }

    #[test]
    fn targets_are_checked_against_the_topology() {
        let t = reference();
        assert!(resolve(&t, "web-01").is_ok());
        assert!(resolve(&t, "web-01/nginx").is_ok());
        let e = resolve(&t, "web-09").expect_err("no such host").to_string();
        assert!(
            e.contains("no host web-09") && e.contains("lb-01, web-01, web-02"),
            "{e}"
        );
        let e = resolve(&t, "lb-01/db")
            .expect_err("no db there")
            .to_string();
        assert!(e.contains("lb-01 runs no db"), "{e}");
        assert!(resolve(&t, "Web 01").is_err());
    }

    #[test]
    fn kinds_must_fit_their_target() {
        let t = reference();
        let fits = |target: &str, kind: FaultKind| {
            let s = resolve(&t, target).expect("target");
            check(&t, &s, kind).map_err(|e| e.to_string())
        };
        assert!(fits("web-02/db", FaultKind::StopReplication).is_ok());
        assert!(fits("web-02", FaultKind::StopReplication).is_ok());
        let e = fits("web-01/db", FaultKind::StopReplication).expect_err("the primary");
        assert!(e.contains("only a replica"), "{e}");
        assert!(fits("web-01/nginx", FaultKind::Disconnect).is_err());
        assert!(fits("web-01", FaultKind::Disconnect).is_ok());
        assert!(fits("web-01", FaultKind::Drain).is_ok());
        assert!(fits("lb-01", FaultKind::Drain).is_err());
        assert!(fits("web-01/app", FaultKind::ReadOnly).is_err());
        assert!(fits("lb-01/lb", FaultKind::Kill).is_ok());
    }

    #[test]
    fn all_lists_every_kind() {
        use strum::IntoEnumIterator;
        assert_eq!(
            FaultKind::iter().collect::<Vec<_>>(),
            FaultKind::ALL.to_vec()
        );
    }

    #[test]
    fn kinds_parse_by_their_cli_names() {
        for k in FaultKind::ALL {
            assert_eq!(k.as_str().parse::<FaultKind>(), Ok(k));
        }
        let e = "explode".parse::<FaultKind>().expect_err("unknown");
        assert!(e.contains("stop-replication"), "{e}");
    }
}
