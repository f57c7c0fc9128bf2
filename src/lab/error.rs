//! The lab's errors at its edge: what a launch, a teardown or a change to
//! a running lab can fail with, each naming what failed. The protocol turns
//! them into text once, with their causes.

use super::docker::DockerError;
use super::images::ImageError;
use super::plan;
use super::state::StateError;
use crate::generate::SecretsError;

/// Why a launch or teardown failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// Images missing or not buildable.
    #[error(transparent)]
    Images(#[from] ImageError),
    /// State could not be saved or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// Secrets could not be made.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The topology cannot be planned.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// Bad request: a name in use, a port taken, too little memory.
    #[error("{0}")]
    Refused(String),
    /// A step failed; everything created was removed.
    #[error("{phase} failed: {why}")]
    Step {
        /// The phase.
        phase: &'static str,
        /// Why, with the container's last log lines where there are some.
        why: String,
    },
    /// The launch was cancelled; everything created was removed.
    #[error("cancelled; everything the launch created was removed")]
    Cancelled,
    /// No lab of that name.
    #[error("no lab named {0} (`topolab status` lists the labs)")]
    NoSuchLab(String),
}
