//! topolab: design a distributed web infrastructure, generate its configs,
//! and run it as a live lab.

pub mod model;
pub mod preset;

mod fsutil;
