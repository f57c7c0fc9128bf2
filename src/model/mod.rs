//! The topology model: hosts, components, settings, validation and design
//! review. Pure data and logic (serde only): no egui, bollard or tokio.

mod edit;
mod fix;
mod names;
mod network;
mod ports;
mod review;
mod size;
mod text;
mod topology;
mod validate;

pub use edit::{HostTemplate, add_host, delete_component, delete_host, rename_host};
pub use fix::{FixAction, unused_name};
pub use names::{
    ComponentId, ComponentKind, HELPER_SUFFIXES, HostName, MAX_LABEL_LEN, RESERVED_HOST_NAMES,
    Subject, dns_label_problem, host_name_problem, is_dns_label, parse_one_of, yaml_reading,
};
pub use network::{
    AddressPlan, DEFAULT_FIRST_SUBNET, DEFAULT_REGION, HostNumbers, LabNetwork, MAX_REGIONS,
    NAT_NUMBER, Network, REACH_NUMBER, ROUTER_NUMBER, host_networks, host_numbers, lab_region,
    networks, serving_network, spans_regions, tiers,
};
pub use ports::{
    FIRST_DEFAULT_PORT, FIRST_DNS_PORT, HTTPS_OFFSET, PROMETHEUS_PORT, PublishedPort, VipPort,
    dns_published_ports, prometheus_port, published_ports, vip_published_ports,
};
pub use review::{Category, Finding, Severity, review};
pub use size::{HostSize, MIN_CPUS, MIN_MEMORY_MIB, Machine, cpus_text, sizes_beyond};
pub use text::{Shown, escape_json, escape_unsafe, is_control_or_bidi, is_unsafe_char};
pub use topology::{
    Algorithm, AppServer, Backend, ClientEntry, Component, Database, DatabaseSettings, DnsServer,
    DnsZone, EXPORTER_PORT, FORMAT_VERSION, Failover, Flavor, HealthCheck, Host, LoadBalancer,
    Monitoring, Position, RELEASES, ReadYourWrites, ReplicationMode, Role, Security, Topology, Vip,
    Wan, WebServer, zone_of,
};
pub use validate::{MAX_HOSTS, Problem, TextPos, validate};
