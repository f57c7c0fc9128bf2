//! A host's size, as a VM's: CPUs (fractional) and memory. The lab enforces
//! it for the host as a whole: its components share the budget, as the
//! processes of one VM do.

use serde::{Deserialize, Serialize};

use super::names::Subject;
use super::topology::Topology;
use super::validate::Problem;

/// Smallest CPU budget a host can have (a twentieth of a core).
pub const MIN_CPUS: f64 = 0.05;
/// Smallest memory a host can have, in MiB.
pub const MIN_MEMORY_MIB: u32 = 64;

/// How much CPU and memory a host has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSize {
    /// CPUs, fractional: 0.5 is half a core's time.
    pub cpus: f64,
    /// Memory, in MiB.
    pub memory_mib: u32,
}

impl Default for HostSize {
    /// One CPU and 1 GiB: enough for Nginx, the app server and a
    /// database under a teaching load.
    fn default() -> Self {
        Self {
            cpus: 1.0,
            memory_mib: 1024,
        }
    }
}

impl HostSize {
    /// Whether this is the default size (not written to saved files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// What is wrong with the size on its own, if anything.
    pub fn problem(&self) -> Option<String> {
        if !self.cpus.is_finite() || self.cpus < MIN_CPUS {
            return Some(format!(
                "size: cpus must be at least {MIN_CPUS} (a twentieth of a core), not {}",
                self.cpus
            ));
        }
        if self.cpus > 1024.0 {
            return Some(format!(
                "size: {} cpus is more than any machine has",
                self.cpus
            ));
        }
        if self.memory_mib < MIN_MEMORY_MIB {
            return Some(format!(
                "size: memory_mib must be at least {MIN_MEMORY_MIB}, not {}",
                self.memory_mib
            ));
        }
        None
    }

    /// The CPU budget in nanoseconds of CPU time per second (Docker's
    /// `NanoCpus`).
    pub fn nano_cpus(&self) -> i64 {
        (self.cpus * 1e9).round() as i64
    }

    /// The memory in bytes.
    pub fn memory_bytes(&self) -> i64 {
        i64::from(self.memory_mib) * 1024 * 1024
    }
}

impl std::fmt::Display for HostSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} CPU, {} MiB", cpus_text(self.cpus), self.memory_mib)
    }
}

/// A CPU count without trailing zeros: 1, 0.5, 0.25.
pub fn cpus_text(cpus: f64) -> String {
    let text = format!("{cpus:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The machine a lab runs on, as its engine reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    /// CPUs the engine can use.
    pub cpus: f64,
    /// Its memory, in MiB.
    pub memory_mib: u64,
}

/// Every host whose size is larger than the whole machine: a VM cannot be
/// bigger than the server it runs on. The sum of the sizes may exceed the
/// machine (hosts are overcommitted, as VMs are), and each host's size is
/// a cap, not a reservation.
pub fn sizes_beyond(topology: &Topology, machine: Machine) -> Vec<Problem> {
    let mut problems = Vec::new();
    for h in &topology.hosts {
        if h.size.cpus > machine.cpus + 1e-9 {
            problems.push(Problem::about(
                Subject::Host(h.name.clone()),
                format!(
                    "size: {} cpus, but the machine has {}",
                    cpus_text(h.size.cpus),
                    cpus_text(machine.cpus)
                ),
            ));
        }
        if u64::from(h.size.memory_mib) > machine.memory_mib {
            problems.push(Problem::about(
                Subject::Host(h.name.clone()),
                format!(
                    "size: {} MiB of memory, but the machine has {} MiB",
                    h.size.memory_mib, machine.memory_mib
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Host, Topology};

    fn sized(cpus: f64, memory_mib: u32) -> HostSize {
        HostSize { cpus, memory_mib }
    }

    #[test]
    fn sizes_must_be_positive_and_finite() {
        assert_eq!(HostSize::default().problem(), None);
        assert_eq!(sized(0.25, 256).problem(), None);
        for bad in [
            sized(0.0, 256),
            sized(-1.0, 256),
            sized(f64::NAN, 256),
            sized(0.01, 256),
        ] {
            let why = bad.problem().expect("refused");
            assert!(why.contains("cpus"), "{why}");
        }
        let why = sized(1.0, 10).problem().expect("refused");
        assert!(
            why.contains("memory_mib must be at least 64, not 10"),
            "{why}"
        );
    }

    #[test]
    fn a_host_cannot_be_bigger_than_the_machine() {
        let mut t = Topology::new("t");
        let mut small = Host::new("small");
        small.size = sized(0.5, 512);
        let mut big = Host::new("big");
        big.size = sized(4.0, 8192);
        t.hosts = vec![small, big];
        let machine = Machine {
            cpus: 2.0,
            memory_mib: 4096,
        };
        let problems = sizes_beyond(&t, machine);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 2, "{text:?}");
        assert!(text[0].contains("big") && text[0].contains("4 cpus, but the machine has 2"));
        assert!(text[1].contains("8192 MiB of memory, but the machine has 4096 MiB"));
        // Together the hosts may exceed the machine: sizes are caps.
        t.hosts.truncate(1);
        t.hosts.push(t.hosts[0].clone());
        t.hosts[1].name = "small2".into();
        t.hosts[0].size = sized(2.0, 4096);
        t.hosts[1].size = sized(2.0, 4096);
        assert!(sizes_beyond(&t, machine).is_empty());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(sized(0.5, 512).to_string(), "0.5 CPU, 512 MiB");
        assert_eq!(sized(1.0, 1024).to_string(), "1 CPU, 1024 MiB");
        assert_eq!(sized(0.25, 256).nano_cpus(), 250_000_000);
    }
}
