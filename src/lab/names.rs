//! Every name and label topolab gives the engine's resources, in one place:
//! containers, volumes and networks are named `topolab-LAB-...` and carry
//! `topolab.lab`, `topolab.host` and `topolab.component` labels, which are
//! what topolab goes by (it never touches a resource without its label).

use std::collections::HashMap;

use crate::generate::{Part, VolumeKind};
use crate::model::{HostName, LabNetwork};

/// The label naming a resource's lab.
pub const LAB: &str = "topolab.lab";
/// The label naming a container's host.
pub const HOST: &str = "topolab.host";
/// The label naming what a container is in its host ([`Part::label`]).
pub const COMPONENT: &str = "topolab.component";
/// The `topolab.component` of the throw-away container that reads a
/// stopped database's binary log.
pub const BINLOG_READER: &str = "binlog-reader";

/// The filter for every resource of `lab`.
pub fn lab_filter(lab: &str) -> String {
    format!("{LAB}={lab}")
}

/// Container name of `host`'s holder.
pub fn holder(lab: &str, host: &HostName) -> String {
    format!("topolab-{lab}-{host}")
}

/// Container name of a part of `host` (Prometheus is one per lab).
pub fn container(lab: &str, host: &HostName, part: Part) -> String {
    match part {
        Part::Holder => holder(lab, host),
        Part::Monitoring => format!("topolab-{lab}-monitoring"),
        Part::Router => format!("topolab-{lab}-wan"),
        Part::Nat => format!("topolab-{lab}-nat"),
        Part::Reach => format!("topolab-{lab}-reach"),
        other => format!("topolab-{lab}-{host}-{}", other.label()),
    }
}

/// The binlog reader of `host`'s database volume.
pub fn binlog_reader(lab: &str, host: &HostName) -> String {
    format!("topolab-{lab}-{host}-{BINLOG_READER}")
}

/// The data volume of `host`'s database.
pub fn volume(lab: &str, host: &HostName) -> String {
    volume_of(lab, host, VolumeKind::Data)
}

/// The engine's name of one of `host`'s volumes.
pub fn volume_of(lab: &str, host: &HostName, kind: VolumeKind) -> String {
    format!("topolab-{lab}-{host}-{}", kind.suffix())
}

/// The engine's name of one of the lab's networks.
pub fn network(lab: &str, net: &LabNetwork) -> String {
    format!("topolab-{lab}-{}", net.name())
}

/// The labels of a container of `lab`.
pub fn container_labels(lab: &str, host: &HostName, component: &str) -> HashMap<String, String> {
    HashMap::from([
        (LAB.to_owned(), lab.to_owned()),
        (HOST.to_owned(), host.to_string()),
        (COMPONENT.to_owned(), component.to_owned()),
    ])
}

/// The labels of a network or volume of `lab`.
pub fn lab_labels(lab: &str) -> HashMap<String, String> {
    HashMap::from([(LAB.to_owned(), lab.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentKind;

    #[test]
    fn names_follow_one_scheme() {
        let h = HostName::new("web-01");
        assert_eq!(holder("demo", &h), "topolab-demo-web-01");
        assert_eq!(
            container("demo", &h, Part::Component(ComponentKind::Db)),
            "topolab-demo-web-01-db"
        );
        assert_eq!(
            container("demo", &h, Part::Monitoring),
            "topolab-demo-monitoring"
        );
        assert_eq!(
            binlog_reader("demo", &h),
            "topolab-demo-web-01-binlog-reader"
        );
        assert_eq!(volume("demo", &h), "topolab-demo-web-01-db");
        let back = LabNetwork {
            region: None,
            tier: crate::model::Network::Back,
        };
        assert_eq!(network("demo", &back), "topolab-demo-back");
        assert_eq!(lab_filter("demo"), "topolab.lab=demo");
    }
}
