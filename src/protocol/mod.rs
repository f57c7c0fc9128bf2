//! What the UI and the lab say to each other: typed plain data, no egui, no
//! bollard, no tokio (CI checks it), so the app, the scenarios and the
//! tests can speak it without the lab's runtime. Every command that can
//! fail carries a [`CommandId`] and is answered with
//! [`LabEvent::Finished`], failures included.

pub mod faults;
mod types;

use std::fmt;

pub use faults::{ActiveFault, FaultKind, Misfit, RegionFaultKind, Verification};
pub use types::{
    ApplyProgress, Assessment, DnsEndpoint, EntryPoint, MAX_RATE, Phase, Progress, Rate,
    TrafficSettings, VipEndpoint,
};

use crate::generate::Artifacts;
use crate::live::Observation;
use crate::model::{ComponentId, HostName, Subject, Topology, dns_label_problem};

/// Identifies a command so that its events can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u64);

/// A lab's name: a DNS label (it becomes container and file names).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabName(String);

impl LabName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LabName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match dns_label_problem(&name) {
            Some(why) => Err(format!("lab name {name:?} {why}")),
            None => Ok(Self(name)),
        }
    }
}

impl std::str::FromStr for LabName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<LabName> for String {
    fn from(name: LabName) -> Self {
        name.0
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `lab == "reference"`.
impl PartialEq<str> for LabName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// `lab == "reference"`.
impl PartialEq<&str> for LabName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A request to the lab.
#[derive(Clone, Debug)]
pub enum LabCommand {
    /// Launch `topology` as lab `lab`.
    Launch {
        /// This command.
        id: CommandId,
        /// The lab's name.
        lab: LabName,
        /// What to launch.
        topology: Box<Topology>,
        /// Build the local images first when they are missing.
        build_images: bool,
    },
    /// Cancel the launch started by command `launch` (it cleans up).
    Cancel {
        /// The launch to cancel.
        launch: CommandId,
    },
    /// Remove lab `lab` entirely.
    Stop {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
    },
    /// Look for labs already running (launched elsewhere or left by a crash).
    Discover {
        /// This command.
        id: CommandId,
    },
    /// Watch lab `lab` (a launch starts watching by itself): its live
    /// state arrives as [`LabEvent::Live`] until the lab is stopped.
    Watch {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
    },
    /// Start, change (`Some`) or stop (`None`) traffic through `lab`.
    Traffic {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// What to send.
        settings: Option<TrafficSettings>,
    },
    /// Inject a fault (`topolab fault`).
    Fault {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// A host or one of its components.
        target: Subject,
        /// What to do.
        kind: FaultKind,
    },
    /// A fault on a whole region (`topolab fault LAB region-outage REGION`).
    RegionFault {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The region.
        region: String,
        /// What to do.
        kind: RegionFaultKind,
    },
    /// Heal a region's faults, both kinds.
    HealRegion {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The region.
        region: String,
    },
    /// Heal a target's faults, or all (`None`).
    Heal {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// A host (its components too) or a component; `None` heals
        /// everything.
        target: Option<Subject>,
    },
    /// Report what promoting a replica would cost; answered with
    /// [`LabEvent::Assessment`].
    Assess {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The replica's host.
        replica: HostName,
    },
    /// Promote a replica (`topolab promote`).
    Promote {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The replica's host.
        replica: HostName,
        /// A planned switchover.
        planned: bool,
        /// Go ahead even when writes would be lost.
        accept_loss: bool,
    },
    /// Run a scenario on `lab`; its lines arrive as
    /// [`LabEvent::ScenarioLine`], its outcome with `Finished`.
    Scenario {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The scenario file's text.
        source: String,
    },
    /// Ramp an open-loop rate through `lab` until p95 latency passes
    /// `p95_ms` or more than 1% of requests fail. Each step arrives as
    /// [`LabEvent::CapacityStep`], the knee and the bottleneck with
    /// `Finished`; `Cancel` with this id stops it.
    Capacity {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The p95 latency target, milliseconds.
        p95_ms: f64,
        /// Percent of requests that are writes.
        writes_percent: u8,
    },
    /// The last lines of a component's container log.
    Logs {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The component.
        component: ComponentId,
    },
    /// Apply an edited design to the running lab (`topolab apply`): its
    /// progress arrives as [`LabEvent::Applying`], what the lab records
    /// afterwards as [`LabEvent::Applied`] (also when an action failed).
    Apply {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The edited design.
        topology: Box<Topology>,
        /// Destructive actions are confirmed.
        yes: bool,
    },
    /// Roll a release out to the running lab's app servers (`topolab
    /// deploy`): its progress arrives as [`LabEvent::Applying`], what the
    /// lab records afterwards as [`LabEvent::Applied`]; `Finished` says
    /// whether it completed or was rolled back, and why. `Cancel` with its
    /// id stops it after the current batch and rolls back.
    Deploy {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// The release, batch size, canary and pause.
        request: crate::deploy::Request,
        /// Failed requests (percent) above which the canary stops it.
        max_error_percent: f64,
    },
    /// Read what every database of `lab` holds (`topolab check-data`), for
    /// the app to check its history of requests against: answered with
    /// [`LabEvent::DataRead`], then `Finished`.
    CheckData {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: LabName,
    },
}

impl LabCommand {
    /// The command's id (`Cancel` names another command's).
    pub fn id(&self) -> CommandId {
        match self {
            Self::Launch { id, .. }
            | Self::Stop { id, .. }
            | Self::Discover { id }
            | Self::Watch { id, .. }
            | Self::Traffic { id, .. }
            | Self::Fault { id, .. }
            | Self::RegionFault { id, .. }
            | Self::HealRegion { id, .. }
            | Self::Heal { id, .. }
            | Self::Assess { id, .. }
            | Self::Promote { id, .. }
            | Self::Scenario { id, .. }
            | Self::Capacity { id, .. }
            | Self::Logs { id, .. }
            | Self::Apply { id, .. }
            | Self::Deploy { id, .. }
            | Self::CheckData { id, .. } => *id,
            Self::Cancel { launch } => *launch,
        }
    }
}

/// What the lab reports.
#[derive(Clone, Debug)]
pub enum LabEvent {
    /// Whether the Docker engine is reachable, and if not, why and how to fix it.
    Engine(Result<(), String>),
    /// Progress of a launch or stop.
    Progress {
        /// The command.
        id: CommandId,
        /// What happened.
        progress: Progress,
    },
    /// A launch finished: the lab runs.
    Launched {
        /// The launch command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// Where clients reach it.
        entry_points: Vec<EntryPoint>,
        /// Where its virtual IPs are published.
        vip_ports: Vec<VipEndpoint>,
        /// The files as launched (e.g. MariaDB's for a `mysql` topology).
        artifacts: Box<Artifacts>,
    },
    /// A launch failed because the lab's images are not built: the app
    /// offers to build them (a `Finished` error follows).
    ImagesMissing {
        /// The launch command.
        id: CommandId,
        /// The first image found missing.
        image: String,
    },
    /// Labs found running.
    Found(Vec<FoundLab>),
    /// What the lab's monitor and traffic generator observed.
    Live {
        /// The lab.
        lab: LabName,
        /// The observations, oldest first.
        observations: Vec<Observation>,
    },
    /// What promoting a replica would cost (or why it cannot be promoted).
    Assessment {
        /// The command.
        id: CommandId,
        /// The replica.
        replica: HostName,
        /// The report, or why there is none.
        result: Result<Assessment, String>,
    },
    /// A step of a capacity ramp, as it finished.
    CapacityStep {
        /// The Capacity command.
        id: CommandId,
        /// What the step measured.
        step: Box<crate::capacity::Step>,
        /// Its CPU against each host's size, in words: the hosts' shares
        /// when it was served, what ran out when it missed the targets.
        bottleneck: String,
    },
    /// A line of a running scenario (a step, an expectation, the report).
    ScenarioLine {
        /// The Scenario command.
        id: CommandId,
        /// The line.
        line: String,
    },
    /// The faults the lab's state records after a fault, heal, promotion or
    /// scenario, each with whether it was seen to take effect.
    Faults {
        /// The lab.
        lab: LabName,
        /// The faults in effect.
        faults: Vec<ActiveFault>,
    },
    /// The lab's topology changed roles (a promotion).
    Roles {
        /// The lab.
        lab: LabName,
        /// The topology with its current roles.
        topology: Box<Topology>,
    },
    /// Progress of an apply.
    Applying {
        /// The Apply command.
        id: CommandId,
        /// What happened.
        progress: ApplyProgress,
    },
    /// What the lab records after an apply (its topology, with its
    /// roles, and where clients reach it).
    Applied {
        /// The lab.
        lab: LabName,
        /// What runs now.
        topology: Box<Topology>,
        /// Where clients reach it.
        entry_points: Vec<EntryPoint>,
    },
    /// What every database of a lab held when a [`LabCommand::CheckData`]
    /// read it: the values of the items table, to check a history of
    /// requests against ([`crate::consistency::check_as_of`] with `at`).
    DataRead {
        /// The CheckData command.
        id: CommandId,
        /// The lab.
        lab: LabName,
        /// When the reading began (wall clock): writes sent later are left
        /// out of the check, and writes in flight then are of unknown
        /// outcome.
        at: crate::live::Millis,
        /// What each database that could be read holds.
        holdings: Vec<crate::consistency::Holding>,
        /// The databases that could not be read, each with why.
        unreadable: Vec<(HostName, String)>,
    },
    /// The last lines of a container's log.
    Logs {
        /// The component.
        component: ComponentId,
        /// The lines.
        text: String,
    },
    /// A command is done.
    Finished {
        /// The command.
        id: CommandId,
        /// Its outcome; an error says what failed and why, with its causes.
        result: Result<String, String>,
    },
}

/// A lab found running when the app started.
#[derive(Clone, Debug)]
pub struct FoundLab {
    /// Its name.
    pub lab: LabName,
    /// Its topology, when its state is readable.
    pub topology: Option<Box<Topology>>,
    /// Where clients reach it, from its state.
    pub entry_points: Vec<EntryPoint>,
    /// Where its virtual IPs are published, from its state.
    pub vip_ports: Vec<VipEndpoint>,
    /// Faults in effect, from its state.
    pub faults: Vec<ActiveFault>,
    /// Why its state could not be read, when it could not.
    pub state_error: Option<String>,
}

/// An error and its causes, in one line: how errors cross the protocol.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
