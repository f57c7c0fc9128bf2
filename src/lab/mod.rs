//! The live lab: runs a topology as Docker containers, watches it, breaks
//! and heals it, promotes its replicas. The only module that uses bollard
//! (every call goes through `docker.rs`); no egui here, and it never prints
//! (the CLI and the app show what it reports). The UI talks to it only
//! through `crate::protocol` and the actor.

pub mod actor;
pub mod apply;
pub mod capacity_run;
pub mod deploy;
pub mod docker;
pub mod engines;
pub mod error;
pub mod fault;
pub mod haproxy;
pub mod images;
pub mod launch;
pub mod monitor;
pub mod names;
pub mod orchestrator;
pub mod plan;
pub mod promote;
pub mod region;
pub mod replication;
pub mod resolver;
pub mod scenario_run;
pub mod state;
pub mod traffic;
pub mod vip;
