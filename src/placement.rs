//! Which Docker engine runs each host of a lab that spans several engines
//! (the nodes of one swarm). Pure: no Docker here.
//!
//! Region first: in a design of regions, a host runs on an engine of its
//! region, or, when no engine names that region, on an engine that names
//! none. Then balance: hosts, the largest first, each go to the eligible
//! engine that would be the least loaded (its hosts' memory against its
//! own) with the host on it. A host's components always run on its engine,
//! joined to its holder, so a host is never split.
//!
//! The first engine is the lab's home: hosts that publish a port on its
//! machine's 127.0.0.1 (the entry points and DNS servers that topolab, the
//! user's browser and `dig` reach there) always run on it, whatever their
//! region.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{HostName, Topology, lab_region, spans_regions};

/// An engine a lab may use.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSpec {
    /// Its name (`--engine NAME=URL`).
    pub name: String,
    /// The region it stands for, if any.
    pub region: Option<String>,
    /// Its memory, in MiB.
    pub memory_mib: u64,
}

/// Each host's engine, by engine name.
pub type Placement = BTreeMap<HostName, String>;

/// Why hosts could not be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// No engine was given.
    #[error("no engine to place the lab's hosts on")]
    NoEngines,
    /// Hosts of a region have no engine to run on.
    #[error(
        "no engine for region {region} ({}): give an engine of that region, or one that names no region",
        hosts.join(", ")
    )]
    NoEngineForRegion {
        /// The region.
        region: String,
        /// Its hosts.
        hosts: Vec<String>,
    },
    /// A host is larger than what any eligible engine has left.
    #[error(
        "{host} needs {need_mib} MiB and the engines it may run on have at most {free_mib} MiB free"
    )]
    DoesNotFit {
        /// The host.
        host: String,
        /// Its memory.
        need_mib: u64,
        /// The most any eligible engine has left.
        free_mib: u64,
    },
}

/// The hosts that publish a port on the home engine's machine: entry
/// points and DNS servers.
pub fn publishing(topology: &Topology) -> BTreeSet<HostName> {
    topology
        .entry_points()
        .into_iter()
        .map(|h| h.name.clone())
        .chain(topology.dns_servers().map(|(h, _)| h.name.clone()))
        .collect()
}

/// Places every host of `topology` on one of `engines` (see the module
/// documentation); the hosts in `home` on the first. Deterministic: the
/// same design and engines give the same placement.
pub fn place(
    topology: &Topology,
    engines: &[EngineSpec],
    home: &BTreeSet<HostName>,
) -> Result<Placement, PlacementError> {
    if engines.is_empty() {
        return Err(PlacementError::NoEngines);
    }
    let regions = spans_regions(topology);
    // The engines each host may run on.
    let mut eligible: BTreeMap<&HostName, Vec<usize>> = BTreeMap::new();
    let mut homeless: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for host in &topology.hosts {
        let all: Vec<usize> = (0..engines.len()).collect();
        let list = if home.contains(&host.name) {
            vec![0]
        } else if regions {
            let region = lab_region(topology, host).unwrap_or_default();
            let named: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| engines[i].region.as_deref() == Some(region.as_str()))
                .collect();
            if named.is_empty() {
                all.into_iter()
                    .filter(|&i| engines[i].region.is_none())
                    .collect()
            } else {
                named
            }
        } else {
            all
        };
        if list.is_empty() {
            homeless
                .entry(lab_region(topology, host).unwrap_or_default())
                .or_default()
                .push(host.name.to_string());
        }
        eligible.insert(&host.name, list);
    }
    if let Some((region, hosts)) = homeless.into_iter().next() {
        return Err(PlacementError::NoEngineForRegion { region, hosts });
    }
    // The largest hosts first; by name among equals.
    let mut order: Vec<_> = topology.hosts.iter().collect();
    order.sort_by(|a, b| {
        b.size
            .memory_mib
            .cmp(&a.size.memory_mib)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut used = vec![0u64; engines.len()];
    let mut placement = Placement::new();
    for host in order {
        let need = u64::from(host.size.memory_mib);
        let load = |i: usize| (used[i] + need) as f64 / engines[i].memory_mib.max(1) as f64;
        let fits: Vec<usize> = eligible[&host.name]
            .iter()
            .copied()
            .filter(|&i| used[i] + need <= engines[i].memory_mib)
            .collect();
        let Some(best) = fits
            .iter()
            .copied()
            .min_by(|&a, &b| load(a).total_cmp(&load(b)).then(a.cmp(&b)))
        else {
            let free_mib = eligible[&host.name]
                .iter()
                .map(|&i| engines[i].memory_mib.saturating_sub(used[i]))
                .max()
                .unwrap_or(0);
            return Err(PlacementError::DoesNotFit {
                host: host.name.to_string(),
                need_mib: need,
                free_mib,
            });
        };
        used[best] += need;
        placement.insert(host.name.clone(), engines[best].name.clone());
    }
    Ok(placement)
}

/// The placement in words, one line per engine: `a: lb-01, web-01 (1536 of 8192 MiB)`.
pub fn describe(topology: &Topology, engines: &[EngineSpec], placement: &Placement) -> Vec<String> {
    engines
        .iter()
        .map(|e| {
            let hosts: Vec<&HostName> = placement
                .iter()
                .filter(|(_, engine)| **engine == e.name)
                .map(|(h, _)| h)
                .collect();
            let memory: u64 = hosts
                .iter()
                .filter_map(|h| topology.host(h))
                .map(|h| u64::from(h.size.memory_mib))
                .sum();
            let names: Vec<&str> = hosts.iter().map(|h| h.as_str()).collect();
            format!(
                "{}: {} ({memory} of {} MiB)",
                e.name,
                if names.is_empty() {
                    "no host".to_owned()
                } else {
                    names.join(", ")
                },
                e.memory_mib
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
