//! One-click fixes for design findings: plain edits of the topology.

use serde::Serialize;

use super::names::{ComponentKind, HostName};
use super::topology::{Component, Failover, Host, Topology};

/// An edit that resolves a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixAction {
    /// Add a load balancer host with the same settings and backends as the
    /// first one.
    AddLoadBalancer,
    /// Terminate TLS at the load balancers.
    EnableTls,
    /// One network per tier.
    SegmentTiers,
    /// Turn monitoring on.
    EnableMonitoring,
    /// Let topolab's orchestrator promote a replica by itself.
    EnableAutomaticFailover,
}

impl FixAction {
    /// The button text.
    pub fn label(self) -> &'static str {
        match self {
            Self::AddLoadBalancer => "Add a second load balancer",
            Self::EnableTls => "Enable TLS",
            Self::SegmentTiers => "Segment the tiers",
            Self::EnableMonitoring => "Enable monitoring",
            Self::EnableAutomaticFailover => "Enable automatic failover",
        }
    }

    /// Applies the edit. Returns `false` when there was nothing to do.
    pub fn apply(self, t: &mut Topology) -> bool {
        match self {
            Self::AddLoadBalancer => {
                let Some(first) = t.hosts.iter().find(|h| h.has(ComponentKind::Lb)) else {
                    return false;
                };
                let Some(Component::Lb(mut lb)) = first.component(ComponentKind::Lb).cloned()
                else {
                    return false;
                };
                lb.published_port = None;
                let mut host = Host::new(unused_name(t, "lb"));
                host.region = first.region.clone();
                host.position = first.position.map(|mut p| {
                    p.x += 220.0;
                    p
                });
                host.components.push(Component::Lb(lb));
                t.hosts.push(host);
                true
            }
            Self::EnableTls => !std::mem::replace(&mut t.security.tls, true),
            Self::SegmentTiers => !std::mem::replace(&mut t.security.segmentation, true),
            Self::EnableMonitoring => !std::mem::replace(&mut t.monitoring.enabled, true),
            Self::EnableAutomaticFailover => {
                let was = std::mem::replace(&mut t.databases.failover, Failover::automatic());
                was.is_manual()
            }
        }
    }
}

/// The first of `PREFIX-01`, `PREFIX-02`, ... that no host has.
pub fn unused_name(t: &Topology, prefix: &str) -> HostName {
    (1..)
        .map(|i| HostName::new(format!("{prefix}-{i:02}")))
        .find(|n| t.host(n).is_none())
        .unwrap_or_else(|| HostName::new(prefix))
}
