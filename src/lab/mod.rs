//! The live lab: runs a topology as Docker containers. The only module that
//! uses bollard (through `docker.rs`) and tokio; no egui here.

pub mod actor;
pub mod bench;
pub mod cli;
pub mod docker;
pub mod fault;
pub mod images;
pub mod launch;
pub mod monitor;
pub mod names;
pub mod plan;
pub mod promote;
pub mod replication;
pub mod scenario;
pub mod state;
pub mod traffic;
