//! topolab: design a distributed web infrastructure (HAProxy, Nginx, an
//! application server, MySQL replication), generate every config file, and
//! run it as a live lab.
//!
//! Arrows point one way: `cli -> generate -> model`, `preset -> model`.
//! `model` and `generate` are pure: no egui, bollard or tokio.

pub mod appserver;
pub mod cli;
pub mod export;
pub mod generate;
pub mod lab;
pub mod live;
pub mod model;
pub mod preset;
pub mod scenario;
pub mod stopwatch;
pub mod ui;

mod fsutil;
