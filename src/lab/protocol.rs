//! What the UI and the lab say to each other: plain data, no egui, no
//! bollard. Every command carries a [`CommandId`] and is answered with
//! [`LabEvent::Finished`], failures included.

use super::launch::Progress;
use super::plan::EntryPoint;
use super::traffic::TrafficSettings;
use crate::generate::Artifacts;
use crate::live::Observation;
use crate::model::{ComponentId, Topology};

/// Identifies a command so that its events can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u64);

/// A request to the lab.
#[derive(Clone, Debug)]
pub enum LabCommand {
    /// Launch `topology` as lab `lab`.
    Launch {
        /// This command.
        id: CommandId,
        /// The lab's name.
        lab: String,
        /// What to launch.
        topology: Box<Topology>,
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
        lab: String,
    },
    /// Look for labs already running (launched elsewhere or left by a crash).
    Discover {
        /// This command.
        id: CommandId,
    },
    /// Watch lab `lab` (a launch starts watching by itself): its live
    /// state arrives as [`LabEvent::Live`] until the lab is stopped.
    Watch {
        /// The lab.
        lab: String,
    },
    /// Start, change (`Some`) or stop (`None`) traffic through `lab`.
    Traffic {
        /// The lab.
        lab: String,
        /// What to send.
        settings: Option<TrafficSettings>,
    },
    /// Inject a fault (`topolab fault`).
    Fault {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: String,
        /// A host or HOST/KIND.
        target: String,
        /// What to do.
        kind: super::fault::FaultKind,
    },
    /// Heal a target's faults, or all (`None`).
    Heal {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: String,
        /// A host or HOST/KIND; `None` heals everything.
        target: Option<String>,
    },
    /// Report what promoting a replica would cost; answered with
    /// [`LabEvent::Assessment`].
    Assess {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: String,
        /// The replica.
        replica: String,
    },
    /// Promote a replica (`topolab promote`).
    Promote {
        /// This command.
        id: CommandId,
        /// The lab.
        lab: String,
        /// The replica.
        replica: String,
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
        lab: String,
        /// The scenario file's text.
        source: String,
    },
    /// The last lines of a component's container log.
    Logs {
        /// The lab.
        lab: String,
        /// The component.
        component: ComponentId,
    },
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
        lab: String,
        /// Where clients reach it.
        entry_points: Vec<EntryPoint>,
        /// The files as launched (e.g. MariaDB's for a `mysql` topology).
        artifacts: Box<Artifacts>,
    },
    /// Labs found running.
    Found(Vec<FoundLab>),
    /// What the lab's monitor and traffic generator observed.
    Live {
        /// The lab.
        lab: String,
        /// The observations, oldest first.
        observations: Vec<Observation>,
    },
    /// What promoting a replica would cost (or why it cannot be promoted).
    Assessment {
        /// The command.
        id: CommandId,
        /// The replica.
        replica: String,
        /// The report, or why there is none.
        result: Result<super::promote::Assessment, String>,
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
        lab: String,
        /// The faults in effect.
        faults: Vec<super::fault::ActiveFault>,
    },
    /// The lab's topology changed roles (a promotion).
    Roles {
        /// The lab.
        lab: String,
        /// The topology with its current roles.
        topology: Box<Topology>,
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
        /// Its outcome; an error says what failed and why.
        result: Result<String, String>,
    },
}

/// A lab found running when the app started.
#[derive(Clone, Debug)]
pub struct FoundLab {
    /// Its name.
    pub lab: String,
    /// Its topology, when its state is readable.
    pub topology: Option<Box<Topology>>,
    /// Where clients reach it, from its state.
    pub entry_points: Vec<EntryPoint>,
    /// Faults in effect, from its state.
    pub faults: Vec<super::fault::ActiveFault>,
}
