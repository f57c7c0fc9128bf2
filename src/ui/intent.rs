//! What the user asked for while a frame was drawn: the [`Intent`]s the
//! panels, the canvas and the dialogs collect, applied by the app once
//! drawing is done (`run.rs`). Plain data: no drawing, no state.

use std::path::PathBuf;

use super::files::DiagramFormat;
use crate::model::{ComponentId, FixAction, HostName, HostTemplate, Subject, Topology};
use crate::protocol::{FaultKind, LabName, RegionFaultKind, TrafficSettings};

/// Something the user asked for while a frame was drawn.
#[derive(Clone, Debug)]
pub enum Intent {
    /// Select a host or component (or nothing).
    Select(Option<Subject>),
    /// Replace the topology (one undoable edit, `key` coalesces runs).
    Edit {
        /// Names the edit.
        key: String,
        /// The new topology.
        topology: Box<Topology>,
    },
    /// Add a host from the palette.
    AddHost(HostTemplate),
    /// Delete the selected host or component.
    DeleteSelected,
    /// Undo.
    Undo,
    /// Redo.
    Redo,
    /// Apply a finding's fix.
    Fix(FixAction),
    /// A new, empty design.
    New,
    /// Load a preset.
    Preset(&'static str),
    /// Pick a file to open.
    OpenDialog,
    /// Open this file.
    Open(PathBuf),
    /// Save (as, when there is no path yet).
    Save,
    /// Pick where to save.
    SaveAsDialog,
    /// Save to this path.
    SaveTo(PathBuf),
    /// Pick a folder to export into.
    ExportDialog(super::files::ExportTarget),
    /// Export the configs into this folder.
    ExportTo(PathBuf, super::files::ExportTarget),
    /// Ask where to write the design's diagram in this format.
    DiagramDialog(DiagramFormat),
    /// Write the design's diagram to this file in this format.
    DiagramTo(PathBuf, DiagramFormat),
    /// Ask where to save this lab report (Markdown).
    ReportDialog(String),
    /// Save the report asked about to this file.
    ReportTo(PathBuf),
    /// Open this folder in the desktop's file manager.
    ShowFolder(PathBuf),
    /// Launch the design.
    Launch,
    /// Build the lab's missing images, then launch the design.
    BuildImagesAndLaunch,
    /// Cancel the launch or the apply in progress (an apply stops between
    /// two actions).
    Cancel,
    /// Stop (remove) the running lab.
    Stop,
    /// Stop the running lab, then launch the design.
    Relaunch,
    /// Show what applying the design to the running lab would do (the
    /// apply dialog).
    ApplyDialog,
    /// Apply this design to the running lab.
    Apply {
        /// The design, as the dialog planned it.
        topology: Box<Topology>,
        /// Its destructive actions are confirmed.
        yes: bool,
    },
    /// Open the Deploy window (the deploy in progress, if one runs).
    DeployDialog,
    /// Deploy a release to the running lab's app servers.
    Deploy {
        /// The release, batch size, canary and how long it is watched.
        request: crate::deploy::Request,
        /// Failed requests (percent) above which the canary stops it.
        max_error_percent: f64,
    },
    /// Close the Deploy window (a deploy in progress goes on).
    CloseDeploy,
    /// Attach to a lab found running.
    Attach(LabName),
    /// Start or change (`Some`) or stop (`None`) traffic through the lab.
    Traffic(Option<TrafficSettings>),
    /// Read what every database holds and check the history of writes
    /// and probes against it.
    CheckData,
    /// Ask where to save the history of writes and probes (JSON Lines).
    HistoryDialog,
    /// Save the history of writes and probes to this file.
    HistoryTo(PathBuf),
    /// Fetch the last lines of a component's container log.
    Logs(ComponentId),
    /// Inject a fault on a host or component.
    Fault(Subject, FaultKind),
    /// Heal a target's faults, or every fault (`None`).
    Heal(Option<Subject>),
    /// A fault on a whole region of a lab of regions.
    RegionFault(String, RegionFaultKind),
    /// Heal a region's faults.
    HealRegion(String),
    /// Ask what promoting this replica would cost (opens the dialog).
    Assess(HostName),
    /// Promote a replica.
    Promote {
        /// The replica's host.
        replica: HostName,
        /// A planned switchover.
        planned: bool,
        /// Accept losing writes.
        accept_loss: bool,
    },
    /// Close the promotion dialog.
    ClosePromote,
    /// Run a shipped scenario on the lab.
    Scenario(&'static str),
    /// Start a capacity ramp (`true`) or stop the one running (`false`).
    Capacity(bool),
    /// Remove a lab found running.
    Remove(LabName),
    /// Dark or light.
    Theme(bool),
    /// Change the canvas's view (zoom, fit, selection).
    View(crate::ui::canvas::ViewRequest),
    /// Open (`true`) or close the canvas's legend.
    Legend(bool),
    /// Maximize (`true`) or restore the bottom panel.
    MaximizeBottom(bool),
    /// Open a help window (or close it: `None`).
    Help(Option<crate::ui::Help>),
    /// Close the window.
    Quit,
}
