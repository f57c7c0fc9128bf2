//! The topology model: hosts, components, settings, validation and design
//! review. Pure data and logic (serde only): no egui, bollard or tokio.

mod edit;
mod fix;
mod names;
mod network;
mod review;
mod topology;
mod validate;

pub use edit::{HostTemplate, add_host, delete_component, delete_host, rename_host};
pub use fix::{FixAction, unused_name};
pub use names::{
    ComponentId, ComponentKind, HostName, MAX_LABEL_LEN, Subject, dns_label_problem, is_dns_label,
};
pub use network::{
    AddressPlan, DEFAULT_FIRST_SUBNET, Network, host_networks, networks, serving_network,
};
pub use review::{Category, Finding, Severity, review};
pub use topology::{
    Algorithm, AppServer, Backend, Component, Database, DatabaseSettings, EXPORTER_PORT,
    FORMAT_VERSION, Flavor, HealthCheck, Host, LoadBalancer, Monitoring, Position, ReplicationMode,
    Role, Security, Topology, WebServer,
};
pub use validate::{MAX_HOSTS, Problem, TextPos, validate};
